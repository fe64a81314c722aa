//! Logging setup: `tracing` to stderr or to a file, text or JSON. Never to stdout, which in stdio
//! mode carries only protocol messages (invariant 1).

use std::path::Path;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `level` is an `EnvFilter` directive (`info`, `debug`,
/// `mcp_gateway=trace`); `file` redirects logs from stderr to that file (appended).
pub fn init(level: &str, format: LogFormat, file: Option<&Path>) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(level)
        .map_err(|e| anyhow::anyhow!("invalid log level `{level}`: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match (file, format) {
        (Some(path), format) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))?;
            let writer = std::sync::Mutex::new(f);
            match format {
                LogFormat::Json => builder.json().with_writer(writer).try_init(),
                LogFormat::Text => builder.with_ansi(false).with_writer(writer).try_init(),
            }
        }
        (None, LogFormat::Json) => builder.json().with_writer(std::io::stderr).try_init(),
        (None, LogFormat::Text) => {
            use std::io::IsTerminal;
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder
                .with_ansi(ansi)
                .with_writer(std::io::stderr)
                .try_init()
        }
    };
    result.map_err(|e| anyhow::anyhow!("cannot install logger: {e}"))
}
