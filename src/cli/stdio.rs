//! `mcp-gateway [stdio]`: serve one client on stdin/stdout until stdin closes or a signal comes;
//! then stop every backend in order and exit.

use std::process::ExitCode;

use super::{EXIT_USAGE, GlobalArgs, LogFormatArg};
use crate::config::{self, LogFormat};
use crate::gateway::Gateway;
use crate::state::Paths;

pub fn run(global: &GlobalArgs) -> ExitCode {
    let config = match super::load_config(global) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = init_logging(global, &config) {
        return code;
    }
    if config.share {
        return bridge(global, &config);
    }
    let runtime = match runtime(Some(2)) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = runtime.block_on(serve(config));
    // Backends are already stopped; don't wait for blocked stdin reads.
    runtime.shutdown_background();
    code
}

/// `share: true`: relay stdin/stdout to the shared process for this config file.
fn bridge(global: &GlobalArgs, config: &config::Config) -> ExitCode {
    use crate::front::share::{self, SharePaths};
    let (Some(file), Some(paths)) = (config.sources.last().cloned(), Paths::from_env()) else {
        eprintln!("mcp-gateway: `share: true` needs a config file and a state directory");
        return ExitCode::from(EXIT_USAGE);
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "mcp-gateway: cannot find my own executable to start the shared gateway: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let runtime = match runtime(Some(1)) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
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
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logging as the command line and the config say; warnings of the config logged once it is up.
pub(super) fn init_logging(global: &GlobalArgs, config: &config::Config) -> Result<(), ExitCode> {
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
    if let Err(e) = crate::logging::init(&level, format, config.log.file.as_deref()) {
        eprintln!("mcp-gateway: {e}");
        return Err(ExitCode::from(EXIT_USAGE));
    }
    config.log_warnings();
    Ok(())
}

/// The async runtime of a long-running command (`workers`: `None` is one per core).
pub(super) fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, ExitCode> {
    limit_malloc_arenas();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder.enable_all().build().map_err(|e| {
        eprintln!("mcp-gateway: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

async fn serve(config: config::Config) -> ExitCode {
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
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let session = crate::session::serve(gateway.clone(), stdin, tokio::io::stdout());
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

/// Resolves on SIGTERM, SIGINT or SIGHUP.
pub(super) async fn termination() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        _ = hup.recv() => "SIGHUP",
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
