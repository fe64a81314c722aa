//! `mcp-gateway [stdio]`: serve one client on stdin/stdout until stdin closes or SIGTERM/SIGINT
//! comes; then stop every backend in order and exit. The config files are watched and reloaded
//! live; SIGHUP reloads them too (it used to stop the gateway).

use std::process::ExitCode;

use super::{CliError, GlobalArgs, LogFormatArg};
use crate::config::{self, LogFormat};
use crate::gateway::Gateway;
use crate::state::Paths;

pub fn run(global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let config = super::load_config(global)?;
    init_logging(global, &config)?;
    if config.share {
        return bridge(global, &config);
    }
    let runtime = runtime()?;
    let code = runtime.block_on(serve(config, source(global)));
    // Backends are already stopped; don't wait for blocked stdin reads.
    runtime.shutdown_background();
    Ok(code)
}

/// `share: true`: relay stdin/stdout to the shared process for this config file.
fn bridge(global: &GlobalArgs, config: &config::Config) -> Result<ExitCode, CliError> {
    use crate::front::share::{self, SharePaths};
    let (Some(file), Some(paths)) = (config.sources.last().cloned(), Paths::from_env()) else {
        return Err(CliError::usage(anyhow::anyhow!(
            "`share: true` needs a config file and a state directory"
        )));
    };
    let exe = std::env::current_exe().map_err(|e| {
        CliError::Failed(
            anyhow::Error::new(e)
                .context("cannot find my own executable to start the shared gateway"),
        )
    })?;
    let runtime = runtime()?;
    let share_paths = SharePaths::new(&paths.state_dir, &file);
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let result = runtime.block_on(share::bridge(
        share_paths,
        exe,
        global.config.clone(),
        stdin,
        tokio::io::stdout(),
    ));
    runtime.shutdown_background();
    result.map_err(|e| CliError::Failed(anyhow::anyhow!("{e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// Logging as the command line and the config say; warnings of the config logged once it is up.
pub(super) fn init_logging(global: &GlobalArgs, config: &config::Config) -> Result<(), CliError> {
    let level = global
        .log_level
        .clone()
        .or_else(|| config.log.level.clone())
        .unwrap_or_else(|| "info".to_string());
    let format = match global.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => config.log.format,
    };
    crate::logging::init(&level, format, config.log.file.as_deref()).map_err(CliError::usage)?;
    config.log_warnings();
    Ok(())
}

/// The runtime of a long-running command, with the malloc arena limit applied first.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    limit_malloc_arenas();
    super::runtime()
}

/// Where the config was read from, for live reload.
pub(super) fn source(global: &GlobalArgs) -> crate::gateway::ConfigSource {
    crate::gateway::ConfigSource {
        explicit: global.config.clone(),
        cwd: std::env::current_dir().unwrap_or_default(),
    }
}

/// Turns live reload on for `gateway`: the watch on its config files, and SIGHUP.
pub(super) fn reload_live(gateway: &std::sync::Arc<Gateway>, source: crate::gateway::ConfigSource) {
    gateway.watch_config(source);
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot handle SIGHUP; the config is still reloaded when its files change");
        return;
    };
    let gw = std::sync::Arc::downgrade(gateway);
    let stop = gateway.background().token().clone();
    gateway.background().spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                r = hup.recv() => if r.is_none() { return },
            }
            let Some(gw) = gw.upgrade() else { return };
            tracing::info!("received SIGHUP; reloading the config");
            gw.reload_from_disk().await;
        }
    });
}

async fn serve(config: config::Config, source: crate::gateway::ConfigSource) -> ExitCode {
    if config.sources.is_empty() {
        tracing::warn!("no config file found; running with no backends (see `mcp-gateway --help`)");
    } else {
        tracing::info!(config = ?config.sources, backends = config.backends.len(), "starting");
    }
    let paths = Paths::from_env();
    let gateway = match Gateway::start(config, paths.as_ref()) {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    reload_live(&gateway, source);
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let session = crate::front::stdio::serve(gateway.clone(), stdin, tokio::io::stdout());
    let code = tokio::select! {
        r = session => match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("stdin: {e}");
                ExitCode::FAILURE
            }
        },
        s = termination() => {
            tracing::info!("received {s}; shutting down");
            ExitCode::SUCCESS
        }
    };
    gateway.shutdown().await;
    code
}

/// Resolves on SIGTERM or SIGINT (SIGHUP reloads the config, see [`reload_live`]).
pub(super) async fn termination() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// glibc gives every thread that allocates its own 64 MiB arena; the gateway's few threads
/// share two, which keeps the idle RSS small.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
