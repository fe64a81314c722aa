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
            let f = open_log_file(path)?;
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

/// Opens `log.file` for appending: missing directories created private (0700), a new file 0600.
/// Errors name the file and, when it is the directory that fails, the directory.
fn open_log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::state::create_private_dir_all(dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the directory {} of log.file {}: {e}",
                dir.display(),
                path.display()
            )
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_is_private_and_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/sub/gateway.log");
        open_log_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("new/sub")), 0o700);
            assert_eq!(mode(&dir.path().join("new")), 0o700);
        }
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "x").unwrap();
        let e = open_log_file(&blocked.join("sub/gateway.log"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&blocked.join("sub").display().to_string()),
            "{e}"
        );
        assert!(e.contains("log.file"), "{e}");
    }
}
