//! `mcp-gateway serve [--listen HOST:PORT]`: the shared gateway over Streamable HTTP. One
//! process, one gateway, one backend pool for every client. Prints `listening on http://…` to
//! stderr when ready; SIGTERM/SIGINT stop accepting, let calls in flight finish (bounded),
//! then stop every backend in order. The config files are watched and reloaded live; SIGHUP
//! reloads them too.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{CliError, EXIT_USAGE, GlobalArgs};
use crate::config;
use crate::front::http::auth::Gatekeeper;
use crate::front::http::{self, App, Options, guard};
use crate::gateway::Gateway;
use crate::state::Paths;

/// How long calls in flight may run on after a termination signal.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default: `server.host`:`server.port` of the config, 127.0.0.1:39400).
    /// Addresses other machines can reach are accepted only with `auth.enabled`.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Run as the shared process of `share: true` (started by stdio bridges): serve the config
    /// file's socket in the state dir instead of HTTP, and exit when idle.
    #[arg(long, hide = true, conflicts_with = "listen")]
    pub shared: bool,
}

pub fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<ExitCode, CliError> {
    let config = super::load_config(global)?;
    super::stdio::init_logging(global, &config)?;
    if args.shared {
        let runtime = super::stdio::runtime()?;
        let code = runtime.block_on(serve_shared(config, super::stdio::source(global)));
        runtime.shutdown_timeout(Duration::from_secs(1));
        return Ok(code);
    }
    let text = args
        .listen
        .clone()
        .unwrap_or_else(|| join_host_port(&config.server.host, config.server.port));
    let addr = resolve(&text).map_err(|e| CliError::usage(anyhow::anyhow!(e)))?;
    guard::check_bind(&addr, config.auth.enabled)
        .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;
    let paths = Paths::from_env();
    let authenticator =
        crate::auth::Authenticator::new(&config.auth, paths.as_ref().map(|p| p.state_dir.clone()))
            .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;
    let keeper = Gatekeeper::new(
        authenticator,
        config.server.public_url.clone(),
        config.auth.jwt.clone(),
    );
    let runtime = super::stdio::runtime()?;
    let code = runtime.block_on(serve(config, keeper, addr, super::stdio::source(global)));
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(code)
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `HOST:PORT` → one socket address (a name such as `localhost` is resolved).
fn resolve(text: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("--listen `{text}` is not HOST:PORT ({e})"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--listen `{text}` resolves to no address"))
}

async fn serve(
    config: config::Config,
    keeper: Gatekeeper,
    addr: SocketAddr,
    source: crate::gateway::ConfigSource,
) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {addr}: {e}");
            eprintln!("mcp-gateway: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    let options = Options::from_config(&config.server);
    tracing::info!(config = ?config.sources, backends = config.backends.len(), "starting");
    let paths = Paths::from_env();
    let gateway = match Gateway::start(config, paths.as_ref()) {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    super::stdio::reload_live(&gateway, source);
    let app = App::new(gateway.clone(), keeper, options);
    let router = http::router(app.clone());
    let stop = CancellationToken::new();
    let mut server = tokio::spawn(http::run(app.clone(), listener, router, stop.clone()));
    eprintln!("listening on http://{local}");
    let code = tokio::select! {
        s = super::stdio::termination() => {
            tracing::info!("received {s}; draining requests in flight");
            ExitCode::SUCCESS
        }
        r = &mut server => {
            tracing::error!("the listener stopped: {r:?}");
            gateway.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    stop.cancel();
    match tokio::time::timeout(DRAIN, &mut server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!("listener: {e}"),
        Ok(Err(e)) => tracing::error!("listener task: {e}"),
        Err(_) => tracing::warn!("calls still running after {DRAIN:?}; cancelling them"),
    }
    app.record_key_use();
    gateway.shutdown().await;
    code
}

/// The shared process of `share: true`: one session per socket connection, exit when idle.
async fn serve_shared(config: config::Config, source: crate::gateway::ConfigSource) -> ExitCode {
    use crate::front::share::{self, SharePaths};
    let (Some(file), Some(paths)) = (config.sources.last().cloned(), Paths::from_env()) else {
        eprintln!("mcp-gateway: sharing needs a config file and a state directory");
        return ExitCode::from(EXIT_USAGE);
    };
    let share_paths = SharePaths::new(&paths.state_dir, &file);
    if let Err(e) = share_paths.ensure_dir() {
        eprintln!("mcp-gateway: {}: {e}", share_paths.dir.display());
        return ExitCode::FAILURE;
    }
    let _lock = match share::take_host_lock(&share_paths, share::HOST_LOCK_WAIT).await {
        Ok(share::HostLock::Held(lock)) => lock,
        Ok(share::HostLock::AlreadyServed) => {
            tracing::info!("a shared gateway for this config is already running");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mcp-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    // We hold the lock: a socket file left here belongs to a process that is gone.
    let _ = std::fs::remove_file(&share_paths.socket);
    let listener = match tokio::net::UnixListener::bind(&share_paths.socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "mcp-gateway: cannot listen on {}: {e}",
                share_paths.socket.display()
            );
            return ExitCode::FAILURE;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        let _ =
            std::fs::set_permissions(&share_paths.socket, std::fs::Permissions::from_mode(0o600));
    }
    tracing::info!(config = %file.display(), socket = %share_paths.socket.display(), pid = std::process::id(), "shared gateway started");
    let gateway = match Gateway::start(config, Some(&paths)) {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("{e}");
            let _ = std::fs::remove_file(&share_paths.socket);
            return ExitCode::FAILURE;
        }
    };
    super::stdio::reload_live(&gateway, source);
    let stop = CancellationToken::new();
    tokio::select! {
        () = share::host(gateway.clone(), listener, share::DEFAULT_IDLE_EXIT, stop.clone()) => {}
        s = super::stdio::termination() => tracing::info!("received {s}; shutting down"),
    }
    let _ = std::fs::remove_file(&share_paths.socket);
    gateway.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_resolve() {
        assert_eq!(
            resolve("127.0.0.1:39400").unwrap(),
            "127.0.0.1:39400".parse().unwrap()
        );
        assert!(resolve("localhost:0").unwrap().ip().is_loopback());
        assert!(resolve("nonsense").is_err());
        assert_eq!(join_host_port("::1", 5), "[::1]:5");
    }
}
