//! `share: true`: stdio clients share one gateway process per config file.
//!
//! Owns both ends of sharing. The **bridge** is what `mcp-gateway` becomes for a stdio client
//! when the config says `share: true`: it connects to the shared process for this config file
//! (found by a socket in the state dir, named by a hash of the config file's path), or starts
//! one in the background, then relays newline-delimited JSON-RPC between stdin/stdout and the
//! socket. stdout carries only what the shared process sent, plus JSON-RPC errors for requests
//! lost when it dies; everything else goes to stderr. If the shared process goes away the
//! bridge says so, answers the requests that were in flight with an error, waits until that
//! process has exited (so it cannot reconnect to it while it dies), starts (or finds) a new one,
//! replays the client's `initialize`, and goes on. The **host** side runs in the shared
//! process (`mcp-gateway serve --shared`): it holds the lock for the socket, serves one session
//! per connection, and exits after an idle period with no connection.
//!
//! The socket lives in a 0700 directory and is itself 0600: only the same user can connect,
//! which is the sharing's whole authentication. It never passes anything but JSON-RPC lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;

use crate::jsonrpc::{ErrorObject, Id, LineReader, Message, ReadLine, code};
use crate::state::FileLock;

/// The shared process exits after this long without a connected client.
pub const DEFAULT_IDLE_EXIT: Duration = Duration::from_secs(300);
/// How long a bridge waits for a shared process it started to accept connections.
const START_WAIT: Duration = Duration::from_secs(20);
/// How long a starting shared process waits for an exiting one to let go of the lock (less
/// than [`START_WAIT`], so the bridge hears the reason rather than its own timeout).
pub const HOST_LOCK_WAIT: Duration = Duration::from_secs(15);
/// Longest line relayed either way.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// Where the shared process for one config file is found.
#[derive(Debug, Clone)]
pub struct SharePaths {
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// Held (flock) by the shared process for as long as it serves the socket.
    pub lock: PathBuf,
    /// Held by a bridge while it starts a shared process, so two bridges start one.
    pub start_lock: PathBuf,
    /// stderr of the shared process.
    pub log: PathBuf,
}

impl SharePaths {
    /// Paths for the config file `config` (its absolute, symlink-free path names the instance,
    /// so a per-project file gets its own shared process).
    pub fn new(state_dir: &Path, config: &Path) -> SharePaths {
        let real = config
            .canonicalize()
            .unwrap_or_else(|_| config.to_path_buf());
        let digest = Sha256::digest(real.to_string_lossy().as_bytes());
        let key = hex::encode(&digest[..8]);
        let dir = state_dir.join("shared");
        SharePaths {
            socket: dir.join(format!("{key}.sock")),
            lock: dir.join(format!("{key}.lock")),
            start_lock: dir.join(format!("{key}.start")),
            log: dir.join(format!("{key}.log")),
            dir,
        }
    }

    pub fn ensure_dir(&self) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
    }
}

/// Connects to the shared process, starting one when none answers.
/// `config`: the `--config` the bridge was given, passed on; without one the shared process
/// discovers the same files the bridge did (it inherits the working directory and environment).
async fn connect_or_start(
    paths: &SharePaths,
    exe: &Path,
    config: Option<&Path>,
) -> Result<UnixStream, String> {
    if let Ok(s) = UnixStream::connect(&paths.socket).await {
        return Ok(s);
    }
    paths
        .ensure_dir()
        .map_err(|e| format!("cannot create {}: {e}", paths.dir.display()))?;
    let start_lock = {
        let p = paths.start_lock.clone();
        tokio::task::spawn_blocking(move || FileLock::exclusive(&p))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot lock {}: {e}", paths.start_lock.display()))?
    };
    // Another bridge may have started it while we waited for the lock.
    if let Ok(s) = UnixStream::connect(&paths.socket).await {
        return Ok(s);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log)
        .map_err(|e| format!("cannot open {}: {e}", paths.log.display()))?;
    let mut cmd = std::process::Command::new(exe);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.arg("serve")
        .arg("--shared")
        // Meant to outlive this bridge: not a descendant an outer gateway should stop with it.
        .env_remove(crate::backend::process::ORIGIN_VAR)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    {
        use std::os::unix::process::CommandExt;
        // Its own session: the shared process must outlive the client that started it.
        // SAFETY: setsid(2) is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the shared gateway ({}): {e}", exe.display()))?;
    tracing::info!(pid = child.id(), "started a shared gateway process");
    // Reap it in the background if it exits while we live; it is not ours to wait for.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    let deadline = tokio::time::Instant::now() + START_WAIT;
    let mut delay = Duration::from_millis(5);
    loop {
        if let Ok(s) = UnixStream::connect(&paths.socket).await {
            drop(start_lock);
            return Ok(s);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "the shared gateway did not start within {START_WAIT:?}; its log is {}",
                paths.log.display()
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// What the shared process found when it asked for the lock of its socket.
pub enum HostLock {
    /// Ours: this process serves the socket for as long as it holds it.
    Held(FileLock),
    /// Another process answers on the socket: this one is not needed.
    AlreadyServed,
}

/// Takes the lock that makes this process the one serving `paths.socket`.
///
/// A lock held by a process whose socket does not answer belongs to one that is exiting (it
/// closes the socket first, then stops its backends while it still holds the lock). The bridge
/// that started this process is waiting for the socket, so wait for that lock rather than exit
/// as "already running" and leave the bridge to time out. Gives up after `within`.
pub async fn take_host_lock(paths: &SharePaths, within: Duration) -> Result<HostLock, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match FileLock::try_exclusive(&paths.lock) {
            Ok(Some(lock)) => return Ok(HostLock::Held(lock)),
            Ok(None) => {}
            Err(e) => return Err(format!("{}: {e}", paths.lock.display())),
        }
        if UnixStream::connect(&paths.socket).await.is_ok() {
            return Ok(HostLock::AlreadyServed);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{} is still held after {within:?} by a process that does not answer on {}",
                paths.lock.display(),
                paths.socket.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the bridge remembers about its client to survive a restart of the shared process.
#[derive(Default)]
struct ClientMemory {
    /// The client's `initialize` request line, replayed to a new shared process.
    initialize: Option<String>,
    initialized: bool,
    /// Requests sent and not answered yet.
    in_flight: HashMap<Id, ()>,
    /// Replayed `initialize` ids whose answers must not reach the client again.
    swallow: Option<Id>,
}

/// Relays stdin/stdout to the shared process for `config` until stdin closes.
pub async fn bridge<R, W>(
    paths: SharePaths,
    exe: PathBuf,
    config: Option<PathBuf>,
    stdin: R,
    stdout: W,
) -> Result<(), String>
where
    R: AsyncBufRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let memory = Arc::new(Mutex::new(ClientMemory::default()));
    // What goes to the client waits in a bounded outbox, as in the stdio front: a client that
    // stops reading costs bounded memory here too (responses are never dropped).
    let (outbox, mut drain) = super::outbox::channel();
    let out_tx = Arc::new(outbox);
    let writer = tokio::spawn(async move {
        let mut w = stdout;
        while let Some(mut line) = drain.next().await {
            line.push('\n');
            if w.write_all(line.as_bytes()).await.is_err() || w.flush().await.is_err() {
                break;
            }
        }
    });
    let (in_tx, mut in_rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut lines = LineReader::new(stdin, MAX_LINE);
        while let Ok(ReadLine::Line(line)) = lines.next_line().await {
            if in_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut pending: Option<String> = None;
    'connect: loop {
        let stream = connect_or_start(&paths, &exe, config.as_deref()).await?;
        // The process this connection reaches: when the connection ends, it is exiting.
        let peer = stream.peer_cred().ok().and_then(|c| c.pid());
        let (read, mut write) = stream.into_split();
        // Replay the handshake to a new process.
        let replay = {
            let mut m = memory.lock().unwrap_or_else(|e| e.into_inner());
            match (&m.initialize, m.in_flight.is_empty()) {
                (Some(init), _) if m.swallow.is_none() && m.initialized => {
                    let line = init.clone();
                    m.swallow = Message::parse(&line).ok().and_then(|msg| match msg {
                        Message::Request { id, .. } => Some(id),
                        _ => None,
                    });
                    Some(line)
                }
                _ => None,
            }
        };
        if let Some(init) = replay {
            let ok = send_line(&mut write, &init).await.is_ok()
                && send_line(
                    &mut write,
                    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                )
                .await
                .is_ok();
            if !ok {
                continue 'connect;
            }
        }
        if let Some(line) = pending.take()
            && send_line(&mut write, &line).await.is_err()
        {
            pending = Some(line);
            continue 'connect;
        }
        let reader = {
            let memory = Arc::clone(&memory);
            let out = Arc::clone(&out_tx);
            tokio::spawn(async move {
                let mut lines = LineReader::new(BufReader::new(read), MAX_LINE);
                while let Ok(ReadLine::Line(line)) = lines.next_line().await {
                    if let Ok(Message::Response { id, .. }) = Message::parse(&line) {
                        let mut m = memory.lock().unwrap_or_else(|e| e.into_inner());
                        if m.swallow.as_ref() == Some(&id) {
                            m.swallow = None;
                            continue;
                        }
                        m.in_flight.remove(&id);
                    }
                    if !out.push(line) {
                        break;
                    }
                }
            })
        };
        let mut reader = reader;
        loop {
            tokio::select! {
                line = in_rx.recv() => {
                    let Some(line) = line else {
                        // stdin closed: the client is done.
                        let _ = write.shutdown().await;
                        let _ = tokio::time::timeout(Duration::from_secs(2), &mut reader).await;
                        drop(out_tx);
                        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
                        return Ok(());
                    };
                    remember(&memory, &line);
                    if send_line(&mut write, &line).await.is_err() {
                        pending = Some(line);
                        break;
                    }
                }
                _ = &mut reader => break,
            }
        }
        reader.abort();
        eprintln!(
            "mcp-gateway: the shared gateway process went away; starting a new one (log: {})",
            paths.log.display()
        );
        tracing::warn!("the shared gateway process went away; reconnecting");
        let lost: Vec<Id> = {
            let mut m = memory.lock().unwrap_or_else(|e| e.into_inner());
            m.swallow = None;
            m.in_flight.drain().map(|(id, ())| id).collect()
        };
        for id in lost {
            let _ = out_tx.push(
                Message::error(
                    id,
                    ErrorObject::new(
                        code::INTERNAL_ERROR,
                        "the shared gateway process exited while this request was in flight; it has been restarted, send the request again",
                    ),
                )
                .to_json(),
            );
        }
        if let Some(line) = &pending {
            // A line that could not be sent is retried on the new connection, but a request
            // counts as lost only once it was answered as such.
            remember(&memory, line);
        }
        // The connection ends as soon as the kernel closes it, but a dying process's listening
        // socket can still take connections for a moment (and it holds the lock until it is
        // gone, so a process started now would find it "already running"): connecting at once
        // could reach the process that is exiting and lose the next request with it.
        if let Some(pid) = peer {
            wait_exited(pid, START_WAIT).await;
        }
    }
}

/// Returns once process `pid` has exited (or after `within`).
async fn wait_exited(pid: i32, within: Duration) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::{FromRawFd, OwnedFd};
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
                return;
            }
        } else {
            // SAFETY: `fd` was just returned by pidfd_open and nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            // SAFETY: `fd` is an OwnedFd, whose as_raw_fd is the descriptor it owns.
            let registered = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
            };
            if let Ok(fd) = registered {
                // A pidfd turns readable once the process has exited (its files closed).
                let _ = tokio::time::timeout(within, fd.readable()).await;
                return;
            }
        }
    }
    // Without a pidfd: ask until it is gone.
    let deadline = tokio::time::Instant::now() + within;
    let mut delay = Duration::from_millis(5);
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

fn remember(memory: &Mutex<ClientMemory>, line: &str) {
    let Ok(msg) = Message::parse(line) else {
        return;
    };
    let mut m = memory.lock().unwrap_or_else(|e| e.into_inner());
    match msg {
        Message::Request { id, method, .. } => {
            if method == "initialize" {
                m.initialize = Some(line.to_string());
            }
            m.in_flight.insert(id, ());
        }
        Message::Notification { method, .. } if method == "notifications/initialized" => {
            m.initialized = true;
        }
        _ => {}
    }
}

async fn send_line(w: &mut OwnedWriteHalf, line: &str) -> std::io::Result<()> {
    w.write_all(line.as_bytes()).await?;
    w.write_all(b"\n").await
}

/// Serves the shared socket: one session per connection, until `stop` or until no client has
/// been connected for `idle`.
pub async fn host(
    gateway: Arc<crate::gateway::Gateway>,
    listener: tokio::net::UnixListener,
    idle: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let count_tx = Arc::new(count_tx);
    loop {
        let connected = *count_rx.borrow_and_update();
        let idle_timer = async {
            if connected == 0 {
                tokio::time::sleep(idle).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, _)) => {
                    count_tx.send_modify(|n| *n += 1);
                    let gateway = Arc::clone(&gateway);
                    let count = Arc::clone(&count_tx);
                    tokio::spawn(async move {
                        let (read, write) = stream.into_split();
                        if let Err(e) = crate::front::stdio::serve(gateway, BufReader::new(read), write).await {
                            tracing::debug!("shared connection: {e}");
                        }
                        count.send_modify(|n| *n -= 1);
                    });
                }
                Err(e) => tracing::warn!("shared socket: {e}"),
            },
            _ = count_rx.changed() => {}
            _ = idle_timer => {
                tracing::info!("no client for {idle:?}; the shared gateway exits");
                return;
            }
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_socket_per_config_file() {
        let a = SharePaths::new(Path::new("/s"), Path::new("/p/one/gateway.yaml"));
        let b = SharePaths::new(Path::new("/s"), Path::new("/p/two/gateway.yaml"));
        assert_ne!(a.socket, b.socket);
        assert_eq!(
            a.socket,
            SharePaths::new(Path::new("/s"), Path::new("/p/one/gateway.yaml")).socket
        );
        assert!(a.socket.starts_with("/s/shared"));
    }

    fn scratch_paths() -> (tempfile::TempDir, SharePaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = SharePaths::new(dir.path(), &dir.path().join("gateway.yaml"));
        paths.ensure_dir().unwrap();
        (dir, paths)
    }

    #[tokio::test]
    async fn a_starting_host_waits_for_an_exiting_one_to_let_go_of_the_lock() {
        let (_dir, paths) = scratch_paths();
        // The exiting process: holds the lock, its socket is already gone.
        let exiting = FileLock::try_exclusive(&paths.lock).unwrap().unwrap();
        let released = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(exiting);
        });
        let took = take_host_lock(&paths, Duration::from_secs(10)).await;
        assert!(
            matches!(took, Ok(HostLock::Held(_))),
            "the lock once it was let go"
        );
        released.join().unwrap();
    }

    #[tokio::test]
    async fn a_starting_host_leaves_when_another_one_answers_on_the_socket() {
        let (_dir, paths) = scratch_paths();
        let _running = FileLock::try_exclusive(&paths.lock).unwrap().unwrap();
        let _listener = tokio::net::UnixListener::bind(&paths.socket).unwrap();
        let took = take_host_lock(&paths, Duration::from_secs(10)).await;
        assert!(matches!(took, Ok(HostLock::AlreadyServed)));
    }

    #[tokio::test]
    async fn a_lock_never_let_go_is_an_error_naming_the_lock_and_the_socket() {
        let (_dir, paths) = scratch_paths();
        let _stuck = FileLock::try_exclusive(&paths.lock).unwrap().unwrap();
        let Err(e) = take_host_lock(&paths, Duration::from_millis(200)).await else {
            panic!("a lock held by a silent process must not be taken");
        };
        assert!(e.contains(&paths.lock.display().to_string()), "{e}");
        assert!(e.contains("does not answer"), "{e}");
    }
}
