//! Backend handles: one per configured backend, owning its connection and lifecycle.
//!
//! A [`Backend`] starts its server on first need (never at gateway start), performs the
//! `initialize` handshake offering the newest protocol version, restarts it on the next call
//! after a crash (the calls that were in flight fail with a clear error; a crash loop is stopped
//! by the circuit breaker of [`failsafe`], the one policy for a failing backend, which also
//! retries, limits concurrency and rate, and health-checks HTTP backends), stops it after `idle_timeout`,
//! and shuts its process group down in order. It reports what it sees (started, tool list changed,
//! log messages) as [`BackendEvent`]s and its problems as a [`Report`]; requests the server sends
//! for the client are handed to the [`Relay`]. It never touches the catalog, the index or a
//! client.

pub mod connection;
pub mod failsafe;
pub mod http;
mod listing;
mod oversize;
pub mod process;
pub mod stdio;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{BackendConfig, Transport};
use crate::error::CallError;
use crate::jsonrpc::{Message, empty_object};
use crate::mcp;
use crate::peer::{CallContext, Relay, Unrouted};
use connection::Connection;
pub use failsafe::{FailsafeState, Replay};
use http::HttpConnection;
use process::Reaper;
use stdio::StdioConnection;

/// How long a stopping backend gets after stdin closes, and again after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// A backend starting before the client initialized waits this long to learn what the client
/// supports (it is told only those capabilities).
const CLIENT_INIT_WAIT: Duration = Duration::from_secs(10);

/// What a backend reports to the gateway.
#[derive(Debug)]
pub enum BackendEvent {
    /// A new connection completed its handshake (the catalog should refresh).
    Started { backend: String },
    /// The backend said one of its lists (tools, resources, prompts) changed.
    ListChanged { backend: String },
    /// Any other notification, for relaying to clients.
    Notification {
        backend: String,
        method: String,
        params: Option<Value>,
    },
}

/// What `gateway_list_servers` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    NotStarted,
    Starting,
    Running,
    /// Stopped after being idle (or at shutdown); starts again on next use.
    Stopped,
    Failed(String),
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::NotStarted => "not started",
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Failed(_) => "failed",
        }
    }
}

/// What a backend reports besides its [`Status`]: problems that do not stop it, and tools it
/// holds back. Every transport may fill it; the in-process capabilities backend reports the files
/// it could not load and the tools it quarantined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Readable lines, e.g. `file:line: key: message` of a capability file not loaded.
    pub problems: Vec<String>,
    /// What the last listing got wrong without losing the backend its tools (a failed optional
    /// list, a tool without `inputSchema`, …): shown as notes, never as a failure.
    pub notes: Vec<String>,
    /// Tools not served, with why (e.g. changed since approval).
    pub held: std::collections::BTreeMap<String, String>,
}

/// A live, initialized connection.
struct Live {
    conn: Connection,
    protocol_version: String,
    /// The backend's `capabilities` from `initialize`.
    capabilities: Value,
}

#[derive(Default)]
struct Lifecycle {
    live: Option<Arc<Live>>,
}

/// The handle of one backend.
pub struct Backend {
    pub config: BackendConfig,
    lifecycle: tokio::sync::Mutex<Lifecycle>,
    /// Shared with the task that watches the live connection end (see [`watch_exit`]).
    status: Arc<Mutex<Status>>,
    /// Bumped on every start and every deliberate stop: an exit watcher of an older connection
    /// (or of one being stopped on purpose) never changes the status.
    generation: Arc<AtomicU64>,
    /// The backend may be stopped once this passes with nothing in flight.
    idle_deadline: Mutex<Instant>,
    reaper: Option<Arc<Reaper>>,
    events: mpsc::UnboundedSender<BackendEvent>,
    /// The client's capabilities once it initialized.
    client_caps: watch::Receiver<Option<Value>>,
    relay: Arc<Relay>,
    /// Cancelled at gateway shutdown: a start in progress gives up at once.
    stopping: CancellationToken,
    /// What the transport last reported; kept across restarts until it reports again.
    report: Arc<Mutex<Report>>,
    /// Successful starts (see [`Backend::starts`]).
    starts: AtomicU64,
    /// Breaker, retries, concurrency and rate limits, health checks.
    failsafes: failsafe::Failsafes,
}

/// What a backend shares with the gateway around it.
#[derive(Clone)]
pub struct BackendEnv {
    pub reaper: Option<Arc<Reaper>>,
    pub events: mpsc::UnboundedSender<BackendEvent>,
    /// The client's capabilities; `None` until it initializes (a starting backend waits for
    /// them, bounded). Commands without a client set `Some(json!({}))` up front.
    pub client_caps: watch::Receiver<Option<Value>>,
}

impl BackendEnv {
    /// For a backend with no gateway or client around it (`probe`, tests, benches): no client
    /// capabilities to wait for; its events go to the receiver returned (dropping it ignores them).
    pub fn standalone(
        reaper: Option<Arc<Reaper>>,
    ) -> (BackendEnv, mpsc::UnboundedReceiver<BackendEvent>) {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (_, client_caps) = watch::channel(Some(serde_json::json!({})));
        (
            BackendEnv {
                reaper,
                events,
                client_caps,
            },
            events_rx,
        )
    }
}

impl Backend {
    pub fn new(config: BackendConfig, env: BackendEnv) -> Backend {
        Backend {
            failsafes: failsafe::Failsafes::new(config.failsafe),
            config,
            lifecycle: tokio::sync::Mutex::new(Lifecycle::default()),
            status: Arc::new(Mutex::new(Status::NotStarted)),
            generation: Arc::default(),
            idle_deadline: Mutex::new(Instant::now()),
            reaper: env.reaper,
            events: env.events,
            client_caps: env.client_caps,
            relay: Arc::new(Relay::default()),
            stopping: CancellationToken::new(),
            report: Arc::default(),
            starts: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Problems and held-back tools the backend reported last.
    pub fn report(&self) -> Report {
        self.report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why `tool` is not served, when the backend holds it back.
    pub fn held_reason(&self, tool: &str) -> Option<String> {
        let report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.held.get(tool).cloned()
    }

    /// The backend's failsafes as plain data: breaker state, consecutive failures, open since
    /// and until, calls in flight and queued, refusals and retries (for `gateway_list_servers`,
    /// `/readyz`, `doctor` and metrics).
    pub fn failsafe_state(&self) -> failsafe::FailsafeState {
        self.failsafes.state()
    }

    /// Times the backend was started (its first start, and every restart after a crash or an
    /// idle stop): the metrics' `backend_starts_total`.
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    /// Records the tools the gateway's screening holds back (e.g. changed since their pin was
    /// approved), with why; `held_reason` and `report` show them.
    pub fn set_held(&self, held: std::collections::BTreeMap<String, String>) {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).held = held;
    }

    fn set_status(&self, s: Status) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }

    /// Keeps the backend alive for at least `linger` from now.
    fn extend_idle(&self, linger: Duration) {
        let mut d = self.idle_deadline.lock().unwrap_or_else(|e| e.into_inner());
        *d = (*d).max(Instant::now() + linger);
    }

    fn unavailable(&self, reason: impl Into<String>) -> CallError {
        CallError::Unavailable {
            backend: self.config.name.clone(),
            reason: reason.into(),
        }
    }

    /// The live connection, starting (or restarting) the backend if needed.
    async fn ensure_live(&self) -> Result<Arc<Live>, CallError> {
        let mut lc = self.lifecycle.lock().await;
        if self.stopping.is_cancelled() {
            return Err(self.unavailable("the gateway is shutting down"));
        }
        if let Some(live) = &lc.live {
            match live.conn.exit_detail() {
                None => return Ok(Arc::clone(live)),
                Some(detail) => {
                    // Restarted now; a crash loop is the circuit breaker's to stop.
                    tracing::warn!(backend = %self.name(), "{detail}; restarting");
                    lc.live = None;
                }
            }
        }
        self.set_status(Status::Starting);
        match self.start().await {
            Ok(live) => {
                let live = Arc::new(live);
                lc.live = Some(Arc::clone(&live));
                let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                self.starts.fetch_add(1, Ordering::Relaxed);
                self.set_status(Status::Running);
                if let Some(exit) = live.conn.exit_watch() {
                    tokio::spawn(watch_exit(
                        exit,
                        Arc::clone(&self.status),
                        Arc::clone(&self.generation),
                        generation,
                    ));
                }
                let _ = self.events.send(BackendEvent::Started {
                    backend: self.name().to_string(),
                });
                Ok(live)
            }
            Err(reason) => {
                tracing::error!(backend = %self.name(), "start failed: {reason}");
                self.set_status(Status::Failed(reason.clone()));
                Err(self.unavailable(reason))
            }
        }
    }

    /// Where an in-process server reports, after every load, what it could not serve.
    fn load_report(&self) -> crate::capability::server::ReportFn {
        let report = Arc::clone(&self.report);
        Arc::new(move |problems, held| {
            let mut report = report.lock().unwrap_or_else(|e| e.into_inner());
            report.problems = problems;
            report.held = held.into_iter().collect();
        })
    }

    async fn start(&self) -> Result<Live, String> {
        let capabilities = self.declared_capabilities().await;
        let (conn, unrouted) = match &self.config.transport {
            Transport::Stdio(spec) => {
                tracing::info!(backend = %self.name(), program = %spec.program, "starting");
                let (c, rx) = StdioConnection::spawn(self.name(), spec, self.reaper.clone())?;
                (Connection::Stdio(c), rx)
            }
            Transport::Http(spec) => {
                tracing::info!(backend = %self.name(), url = %crate::redact::url_text(&spec.url), "connecting");
                let (c, rx) =
                    HttpConnection::connect(self.name(), spec, self.config.timeout).await?;
                (Connection::Http(c), rx)
            }
            Transport::Capabilities(spec) => {
                let (c, rx) =
                    crate::capability::server::start(self.name(), spec, self.load_report())?;
                (Connection::Local(c), rx)
            }
            Transport::Skills(spec) => {
                let (c, rx) = crate::skills::serve::start(self.name(), spec, self.load_report());
                (Connection::Local(c), rx)
            }
        };
        tokio::spawn(serve_unrouted(
            self.name().to_string(),
            conn.clone(),
            unrouted,
            self.events.clone(),
            Arc::clone(&self.relay),
        ));
        let init = json!({
            "protocolVersion": mcp::LATEST_VERSION,
            "capabilities": capabilities,
            "clientInfo": mcp::implementation_info(),
        });
        let ctx = CallContext {
            cancel: self.stopping.child_token(),
            ..CallContext::default()
        };
        let answer = conn
            .peer()
            .request("initialize", Some(init), &ctx, self.config.timeout)
            .await;
        let raw = match answer {
            Ok(raw) => raw,
            Err(e) => {
                conn.shutdown(Duration::from_millis(200)).await;
                return Err(match e {
                    CallError::Timeout { after, .. } => format!(
                        "did not answer `initialize` within {}",
                        crate::error::humantime(after)
                    ),
                    CallError::Disconnected { detail, .. } => {
                        format!("{detail} during `initialize`")
                    }
                    CallError::Cancelled => "start abandoned: the gateway is shutting down".into(),
                    other => format!("`initialize` failed: {other}"),
                });
            }
        };
        let result: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        let protocol_version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or(mcp::LATEST_VERSION)
            .to_string();
        conn.set_protocol_version(&protocol_version);
        conn.peer().notify("notifications/initialized", None);
        let server = result
            .pointer("/serverInfo/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        tracing::info!(backend = %self.name(), version = %protocol_version, %server, "initialized");
        Ok(Live {
            conn,
            protocol_version,
            capabilities: result.get("capabilities").cloned().unwrap_or(json!({})),
        })
    }

    /// The client capabilities the backend may use through us: only those the client declared.
    async fn declared_capabilities(&self) -> Value {
        let mut rx = self.client_caps.clone();
        tokio::select! {
            _ = tokio::time::timeout(CLIENT_INIT_WAIT, rx.wait_for(Option::is_some)) => {}
            _ = self.stopping.cancelled() => {}
        }
        let client = rx.borrow().clone().unwrap_or(Value::Null);
        let mut declared = serde_json::Map::new();
        for cap in ["roots", "sampling", "elicitation"] {
            if let Some(v) = client.get(cap).filter(|v| !v.is_null()) {
                declared.insert(cap.to_string(), v.clone());
            }
        }
        Value::Object(declared)
    }

    /// Forwards one request, starting the backend if needed, under its failsafes; what may be
    /// retried is decided by the method ([`Replay::of_method`]: a `tools/call` only before it
    /// was sent). A `tools/call` whose tool is known to be safe to repeat uses
    /// [`Backend::request_with`].
    pub async fn request(
        &self,
        method: &str,
        params: Option<Value>,
        ctx: &CallContext,
    ) -> Result<Box<serde_json::value::RawValue>, CallError> {
        self.request_with(method, params, ctx, Replay::of_method(method))
            .await
    }

    /// Forwards one request under the backend's failsafes: the rate limit (once per call), a
    /// slot of the concurrency limit (queued, bounded by the call timeout and cancellation), then
    /// attempts, each admitted by the circuit breaker. A failure before the request reached the
    /// backend (start, connect, handshake) is retried with backoff and jitter; one after it was
    /// sent only when `replay` is [`Replay::Safe`].
    pub async fn request_with(
        &self,
        method: &str,
        params: Option<Value>,
        ctx: &CallContext,
        replay: Replay,
    ) -> Result<Box<serde_json::value::RawValue>, CallError> {
        let fs = &self.failsafes;
        fs.check_rate(self.name())?;
        let _slot = fs
            .slot(self.name(), self.config.timeout, &ctx.cancel)
            .await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ticket = match fs.admit(self.name()) {
                Ok(t) => t,
                Err(open) => return Err(open),
            };
            // Extended before the connection is taken too: the idle sweeper must not stop it
            // between `ensure_live` and the send (it would fail a call it never saw in flight).
            self.extend_idle(self.config.idle_timeout);
            let sent;
            let result = match self.ensure_live().await {
                Err(e) => {
                    sent = false;
                    Err(e)
                }
                Ok(live) => {
                    sent = true;
                    if let Some(client) = &ctx.client {
                        self.relay.record_caller(client);
                    }
                    // Again after a start, which may have taken longer than the idle timeout.
                    self.extend_idle(self.config.idle_timeout);
                    let r = live
                        .conn
                        .peer()
                        .request(method, params.clone(), ctx, self.config.timeout)
                        .await;
                    self.extend_idle(self.config.idle_timeout);
                    r
                }
            };
            let error = match result {
                Ok(raw) => {
                    ticket.finish(Ok(()));
                    return Ok(raw);
                }
                Err(e) => e,
            };
            ticket.finish(Err(&error));
            if sent && replay == Replay::BeforeSend {
                return Err(error);
            }
            self.pause_before_retry(method, &error, attempt, &ctx.cancel)
                .await?;
        }
    }

    /// After failed attempt `attempt`: `Err(error)` when no retry is allowed (not a backend
    /// failure, attempts used up, breaker open, shutting down), else waits the backoff (with
    /// jitter; `Cancelled` if `cancel` fires first) and counts the retry.
    async fn pause_before_retry(
        &self,
        what: &str,
        error: &CallError,
        attempt: u32,
        cancel: &CancellationToken,
    ) -> Result<(), CallError> {
        let fs = &self.failsafes;
        let may_retry = failsafe::is_backend_failure(error)
            && attempt < fs.settings.attempts()
            && !self.stopping.is_cancelled()
            && !fs.is_open();
        if !may_retry {
            return Err(error.clone());
        }
        let wait = failsafe::backoff(fs.settings.initial_backoff, attempt, failsafe::random_u64());
        tracing::info!(backend = %self.name(), %what, attempt, "{error}; retrying in {}", crate::error::humantime(wait));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => return Err(CallError::Cancelled),
            _ = self.stopping.cancelled() => return Err(error.clone()),
        }
        fs.count_retry();
        Ok(())
    }

    /// Whether a live connection exists that has not ended.
    async fn is_connected(&self) -> bool {
        let lc = self.lifecycle.lock().await;
        lc.live
            .as_ref()
            .is_some_and(|l| l.conn.exit_detail().is_none())
    }

    /// Whether a health check of this backend is due: HTTP backends with
    /// `failsafe.health_check.interval`, while connected or while the breaker waits to close.
    pub fn health_check_due(&self) -> bool {
        matches!(self.config.transport, Transport::Http(_)) && self.failsafes.health_due()
    }

    /// Pings the backend and feeds the answer to its breaker and status. A backend that is not
    /// connected is left alone (backends start lazily), unless its breaker is open: then the
    /// check is the half-open trial once the reset timeout passed, so it closes without a call.
    pub async fn health_check(&self) {
        if self.stopping.is_cancelled() {
            return;
        }
        let connected = self.is_connected().await;
        let state = self.failsafes.state().breaker;
        if !connected && state == failsafe::BreakerState::Closed {
            return;
        }
        let Ok(ticket) = self.failsafes.admit(self.name()) else {
            return; // open and not yet due: nothing to learn
        };
        let result = match self.ensure_live().await {
            Ok(live) => live
                .conn
                .peer()
                .request("ping", None, &CallContext::default(), self.config.timeout)
                .await
                .map(drop),
            Err(e) => Err(e),
        };
        match &result {
            Ok(()) => {
                if self.status() != Status::Running {
                    self.set_status(Status::Running);
                }
            }
            Err(e) => {
                tracing::warn!(backend = %self.name(), "health check failed: {e}");
                self.set_status(Status::Failed(format!("health check failed: {e}")));
            }
        }
        self.failsafes.health_result(result.as_ref().map(|_| ()));
        ticket.finish(result.as_ref().map(|_| ()));
    }

    /// Sends a notification if the backend is running (it is not started for this).
    pub async fn notify_if_running(&self, method: &str) {
        let lc = self.lifecycle.lock().await;
        if let Some(live) = &lc.live {
            live.conn.peer().notify(method, None);
        }
    }

    /// The protocol version the running backend negotiated, if it runs.
    pub async fn protocol_version(&self) -> Option<String> {
        let lc = self.lifecycle.lock().await;
        lc.live.as_ref().map(|l| l.protocol_version.clone())
    }

    /// Stops the backend if it has been idle past its deadline with nothing in flight (never an
    /// in-process one: stopping it would stop the watch that announces its changes).
    pub async fn stop_if_idle(&self) {
        if self.config.transport.is_in_process() {
            return;
        }
        let Ok(mut lc) = self.lifecycle.try_lock() else {
            return; // starting or busy
        };
        let Some(live) = &lc.live else { return };
        let idle = Instant::now() >= *self.idle_deadline.lock().unwrap_or_else(|e| e.into_inner());
        if !idle || live.conn.peer().in_flight() > 0 || live.conn.exit_detail().is_some() {
            return;
        }
        tracing::info!(backend = %self.name(), "stopping after idle timeout");
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(live) = lc.live.take() {
            live.conn.shutdown(SHUTDOWN_GRACE).await;
        }
        self.set_status(Status::Stopped);
    }

    /// Whether the gateway is shutting this backend down.
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Stops the backend now (gateway shutdown); a start in progress is abandoned.
    pub async fn shutdown(&self) {
        self.stopping.cancel();
        let mut lc = self.lifecycle.lock().await;
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(live) = lc.live.take() {
            live.conn.shutdown(SHUTDOWN_GRACE).await;
            self.set_status(Status::Stopped);
        }
    }
}

/// Waits for a live connection to end; if it ended on its own (no start or deliberate stop since,
/// which bump `generation`), the status says so at once instead of `running` until next use.
/// Holds only the exit watch: a connection dropped without ending ends the watcher too.
async fn watch_exit(
    mut exit: watch::Receiver<Option<String>>,
    status: Arc<Mutex<Status>>,
    generation: Arc<AtomicU64>,
    watched: u64,
) {
    let Ok(detail) = exit.wait_for(Option::is_some).await.map(|d| d.clone()) else {
        return;
    };
    let detail = detail.unwrap_or_default();
    let mut status = status.lock().unwrap_or_else(|e| e.into_inner());
    if generation.load(Ordering::SeqCst) == watched && *status == Status::Running {
        *status = Status::Failed(format!("{detail}; it restarts on next use"));
    }
}

/// Handles what the Peer did not consume: `ping` is answered, requests for the client and their
/// cancellations go to the [`Relay`], list changes and other notifications become
/// [`BackendEvent`]s. The backend itself never talks to a client.
async fn serve_unrouted(
    backend: String,
    conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Unrouted>,
    events: mpsc::UnboundedSender<BackendEvent>,
    relay: Arc<Relay>,
) {
    while let Some(u) = rx.recv().await {
        match u {
            Unrouted::Request { id, method, .. } if method == "ping" => {
                conn.peer().respond(Message::Response {
                    id,
                    result: Ok(empty_object()),
                });
            }
            Unrouted::Request { id, method, params } => {
                relay.request(&backend, Arc::clone(conn.peer()), id, method, params)
            }
            Unrouted::Notification { method, params } if method == "notifications/cancelled" => {
                relay.cancelled(params)
            }
            Unrouted::Notification { method, .. }
                if matches!(
                    method.as_str(),
                    "notifications/tools/list_changed"
                        | "notifications/resources/list_changed"
                        | "notifications/prompts/list_changed"
                ) =>
            {
                let _ = events.send(BackendEvent::ListChanged {
                    backend: backend.clone(),
                });
            }
            Unrouted::Notification { method, params } => {
                let params = params.and_then(|p| serde_json::from_str(p.get()).ok());
                let _ = events.send(BackendEvent::Notification {
                    backend: backend.clone(),
                    method,
                    params,
                });
            }
        }
    }
}
