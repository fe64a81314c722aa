//! One connected client: its protocol state and the requests it makes.
//!
//! A session answers `initialize`, `ping`, `logging/setLevel` and the list methods itself (they
//! terminate per hop), serves the meta-tools, and forwards calls of directly listed tools to their
//! backend. Every request runs in its own task, so a slow tool call never delays a `ping` or a
//! call to another backend; `notifications/cancelled` cancels the task's backend request and no
//! response is sent for it.
//!
//! # The client side is an interface, not a transport
//!
//! A session does not know its front (stdio, HTTP, …). A front hosts one session per client
//! connection through three calls:
//!
//! - [`Session::open`] with a [`ClientSink`]: every message for the client leaves through it,
//!   one serialized JSON-RPC message per string, in the order produced: responses, the gateway's
//!   notifications (`list_changed`, log messages, progress) and requests relayed from backends
//!   (`sampling/createMessage`, `elicitation/create`, `roots/list`, with ids minted by the
//!   client's own [`crate::peer::Peer`]).
//! - [`Session::receive`] with each message the client sent (framing already removed): requests,
//!   notifications, and the client's responses to relayed requests.
//! - [`Session::close`] when the connection ends: requests in flight are cancelled and nothing
//!   more is sent.
//!
//! Framing errors (a line too long, not UTF-8) are the front's to answer; it may write them to
//! the same sink. The stdio front is [`crate::front::stdio`].
//!
//! # Lifecycle and ids (what a session refuses)
//!
//! - Text that is not JSON gets -32700; JSON that is no valid message (a batch, an id that is an
//!   object, array, boolean or fraction) gets -32600 with `id: null` (JSON-RPC 2.0 §5.1).
//! - Before `initialize`, only `ping` (and the `server/discover` probe, answered -32601) are
//!   served; any other request gets -32600 and starts nothing, notifications other than
//!   `notifications/cancelled` are ignored. `initialize` is answered in the order received, so
//!   a request sent right after it is served.
//! - A second `initialize` gets -32600; the negotiated version and capabilities stay.
//! - A request whose id is still in flight gets -32600 (the first one still completes); an id
//!   is free again once its response was sent (or its request cancelled).

pub mod access;
mod direct;
mod forward;
mod meta_tools;

pub use meta_tools::INSTRUCTIONS;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::auth::Caller;
use crate::catalog::names::{self, NameMap};
use crate::error::CallError;
use crate::gateway::{ClientNotice, Gateway};
use crate::jsonrpc::{ErrorObject, Id, Message, code, empty_object, to_raw};
use crate::mcp;
pub use crate::peer::ClientSink;
use crate::peer::{CallContext, ClientLink};
/// Page size of the list methods.
const PAGE_SIZE: usize = 200;
pub use crate::gateway::DISCOVERY_WAIT;

/// How a request ended, when it did not produce a result.
enum Failure {
    Rpc(ErrorObject),
    /// Cancelled by the client: nothing is sent back.
    Cancelled,
}

impl From<ErrorObject> for Failure {
    fn from(e: ErrorObject) -> Self {
        Failure::Rpc(e)
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Cancelled => Failure::Cancelled,
            other => Failure::Rpc(other.to_error_object()),
        }
    }
}

type Outcome = Result<Box<RawValue>, Failure>;

struct ClientState {
    log_level: usize,
    /// Set by `initialize`: the negotiated protocol version (it never changes afterwards).
    version: Option<&'static str>,
    /// Set by `initialize`: how backends reach this client.
    link: Option<Arc<ClientLink>>,
}

/// Requests a client may send before `initialize` (MCP lifecycle: only pings; `server/discover`
/// is the probe of newer clients and is answered "method not found" so they fall back).
const BEFORE_INITIALIZE: [&str; 2] = ["ping", "server/discover"];

/// What a session shows its client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Surface {
    /// The gateway's own surface: meta-tools, surfaced tools, every backend's resources and
    /// prompts under namespaced names.
    #[default]
    Gateway,
    /// One backend directly (`/mcp/{backend}`): its tools, resources and prompts under their own
    /// names, every request routed to it.
    Backend(String),
}

/// One client's session.
pub struct Session {
    gateway: Arc<Gateway>,
    /// Who the client is: what it may see and call, and its name in the request log.
    caller: Caller,
    /// The front's name in the request log (`stdio`, `http`, …).
    front: &'static str,
    /// What the client is shown.
    surface: Surface,
    out: ClientSink,
    state: Mutex<ClientState>,
    in_flight: Mutex<HashMap<Id, CancellationToken>>,
    /// Cancelled by [`Session::close`]: stops relaying gateway notices.
    closed: CancellationToken,
    /// This session's own instances of `isolate: true` backends, started on first use and
    /// shut down when the session closes.
    instances: Mutex<HashMap<String, Arc<crate::backend::Backend>>>,
    /// Counts this session in the open-sessions gauge while it lives.
    _open: crate::metrics::live::SessionGauge,
}

/// Whether a reload that touched `servers` changes what a session on `surface` with `policy`
/// sees: one of them is within its scope (the gateway's surface), or it is its own backend.
pub(crate) fn reload_concerns(
    surface: &Surface,
    policy: &crate::scope::Policy,
    servers: &[crate::gateway::ServerChange],
) -> bool {
    servers.iter().any(|s| match surface {
        Surface::Gateway => policy.sees_server(&s.name, &s.tags),
        Surface::Backend(own) => *own == s.name,
    })
}

impl Session {
    /// Stops this session's instances of backends a reload removed or changed (a changed one is
    /// started again with the new spec on next use).
    fn retire_stale_instances(&self) {
        let mut instances = self.instances.lock().unwrap_or_else(|e| e.into_inner());
        let stale: Vec<String> = instances
            .iter()
            .filter(|(name, own)| {
                self.gateway
                    .backend(name)
                    .is_none_or(|shared| shared.config != own.config)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(old) = instances.remove(&name) {
                self.gateway
                    .background()
                    .spawn(async move { old.shutdown().await });
            }
        }
    }

    /// Opens a session for one unauthenticated local client connection (stdio): it sees and
    /// may call everything; everything for the client goes to `out`.
    pub fn open(gateway: Arc<Gateway>, out: ClientSink) -> Arc<Session> {
        Session::open_as(gateway, out, Caller::local(), "stdio")
    }

    /// Opens a session for `caller`, reached over `front`: lists, search, calls, resources and
    /// prompts show and reach only what the caller's scope permits, and nothing it denies is
    /// ever named to it.
    pub fn open_as(
        gateway: Arc<Gateway>,
        out: ClientSink,
        caller: Caller,
        front: &'static str,
    ) -> Arc<Session> {
        Session::open_on(gateway, out, caller, front, Surface::Gateway)
    }

    /// Opens a session for `caller` over `front` that shows `surface` (the gateway's, or one
    /// backend's own; the front checks that the backend exists and the caller sees it).
    pub fn open_on(
        gateway: Arc<Gateway>,
        out: ClientSink,
        caller: Caller,
        front: &'static str,
        surface: Surface,
    ) -> Arc<Session> {
        let session = Arc::new(Session {
            gateway: Arc::clone(&gateway),
            caller,
            front,
            surface,
            out,
            state: Mutex::new(ClientState {
                log_level: mcp::log_level_rank("info"),
                version: None,
                link: None,
            }),
            in_flight: Mutex::new(HashMap::new()),
            closed: CancellationToken::new(),
            instances: Mutex::new(HashMap::new()),
            _open: gateway.metrics.session(front),
        });
        gateway
            .background()
            .spawn(Arc::clone(&session).relay_notices());
        session
    }

    /// Handles one message from the client (one JSON-RPC message, framing removed).
    pub fn receive(self: &Arc<Self>, message: &str) {
        self.on_line(message);
    }

    /// Ends the session: cancels what is in flight and stops relaying notices. The sink is
    /// dropped with the session; messages already queued stay queued.
    pub fn close(&self) {
        for token in self.in_flight_tokens() {
            token.cancel();
        }
        self.closed.cancel();
        let instances: Vec<_> = self
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, b)| b)
            .collect();
        for instance in instances {
            // Stopped in the documented order, like any backend (stdin closed, SIGTERM, SIGKILL).
            self.gateway.background().spawn(async move {
                instance.shutdown().await;
            });
        }
    }

    /// The handle requests for backend `name` go to: this session's own instance of an
    /// `isolate: true` backend (started on first use, and again after a reload changed its
    /// spec), else the shared one.
    pub(crate) fn backend(&self, name: &str) -> Option<Arc<crate::backend::Backend>> {
        let shared = self.gateway.backend(name)?;
        if !shared.config.isolate {
            return Some(shared);
        }
        if self.closed.is_cancelled() {
            return None;
        }
        let mut instances = self.instances.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(own) = instances.get(name) {
            if own.config == shared.config {
                return Some(Arc::clone(own));
            }
            if let Some(old) = instances.remove(name) {
                self.gateway
                    .background()
                    .spawn(async move { old.shutdown().await });
            }
        }
        let own = self.gateway.isolated_instance(name)?;
        instances.insert(name.to_string(), Arc::clone(&own));
        Some(own)
    }
}

impl Session {
    fn send(&self, msg: Message) {
        let _ = self.out.send(msg.to_json());
    }

    /// The client capabilities backends asked this session's client for without it having
    /// declared them (their requests were refused).
    pub fn refused_capabilities(&self) -> Vec<&'static str> {
        self.link().map(|l| l.refused()).unwrap_or_default()
    }

    fn link(&self) -> Option<Arc<ClientLink>> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .link
            .clone()
    }

    fn in_flight_tokens(&self) -> Vec<CancellationToken> {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn on_line(self: &Arc<Self>, line: &str) {
        let msg = match Message::parse(line) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!("unreadable message from the client: {e}");
                return self.send(e.to_response());
            }
        };
        match msg {
            Message::Request { id, method, params } => self.on_request(id, method, params),
            Message::Notification { method, params } => self.on_notification(&method, params),
            msg @ Message::Response { .. } => match self.link() {
                Some(link) => {
                    link.peer.dispatch(msg);
                }
                None => tracing::debug!("response from a client that never initialized; ignored"),
            },
        }
    }

    fn version(&self) -> Option<&'static str> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).version
    }

    /// Checks a request against the lifecycle and the ids in flight, then runs it in a task of
    /// its own. `initialize` runs here, in order, so that what follows it sees its effect.
    fn on_request(self: &Arc<Self>, id: Id, method: String, params: Option<Box<RawValue>>) {
        if method == "initialize" {
            let answer = match self.version() {
                Some(version) => Err(ErrorObject::invalid_request(format!(
                    "the session is already initialized (protocol version {version}); a second \
                     `initialize` is refused and changes nothing"
                ))),
                None => params_value(params).map(|p| to_raw(&self.initialize(&p))),
            };
            let outcome = if answer.is_ok() { "ok" } else { "error" };
            self.gateway
                .metrics
                .request(self.front, "initialize", outcome);
            return self.send(Message::Response { id, result: answer });
        }
        if self.version().is_none() && !BEFORE_INITIALIZE.contains(&method.as_str()) {
            tracing::debug!(%id, %method, "request before initialize refused");
            return self.send(Message::error(
                id,
                ErrorObject::invalid_request(format!(
                    "`{}` before `initialize`: send `initialize` first (only `ping` may come \
                     before it)",
                    clip(&method)
                )),
            ));
        }
        let token = CancellationToken::new();
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if in_flight.contains_key(&id) {
                drop(in_flight);
                tracing::debug!(%id, %method, "request id already in flight; refused");
                let refusal = id_in_flight(&id);
                return self.send(Message::error(id, refusal));
            }
            in_flight.insert(id.clone(), token.clone());
        }
        let session = Arc::clone(self);
        tokio::spawn(async move {
            let outcome = session.handle(&method, params, &token).await;
            session
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            let label = match &outcome {
                Ok(_) => "ok",
                Err(Failure::Rpc(_)) => "error",
                Err(Failure::Cancelled) => "cancelled",
            };
            session
                .gateway
                .metrics
                .request(session.front, &method, label);
            match outcome {
                Ok(result) => session.send(Message::Response {
                    id,
                    result: Ok(result),
                }),
                Err(Failure::Rpc(e)) => session.send(Message::error(id, e)),
                Err(Failure::Cancelled) => {
                    tracing::debug!(%id, %method, "cancelled; no response sent")
                }
            }
        });
    }

    fn on_notification(self: &Arc<Self>, method: &str, params: Option<Box<RawValue>>) {
        if self.version().is_none() && method != "notifications/cancelled" {
            tracing::debug!(method = %clip(method), "notification before initialize ignored");
            return;
        }
        match method {
            "notifications/cancelled" => {
                if let Some(id) = cancelled_id(params.as_deref()) {
                    let token = self
                        .in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&id)
                        .cloned();
                    if let Some(token) = token {
                        tracing::debug!(%id, "client cancelled request");
                        token.cancel();
                    }
                }
            }
            "notifications/roots/list_changed" => {
                let gw = Arc::clone(&self.gateway);
                tokio::spawn(async move {
                    gw.notify_running_backends("notifications/roots/list_changed")
                        .await
                });
            }
            "notifications/initialized" => {}
            other => tracing::debug!(method = %other, "notification ignored"),
        }
    }

    async fn handle(
        self: &Arc<Self>,
        method: &str,
        params: Option<Box<RawValue>>,
        cancel: &CancellationToken,
    ) -> Outcome {
        let params = params_value(params)?;
        if let Surface::Backend(server) = &self.surface
            && direct::serves(method)
        {
            return direct::handle(self, server, method, params, cancel).await;
        }
        match method {
            "server/discover" => Err(ErrorObject::new(
                code::METHOD_NOT_FOUND,
                "server/discover is not supported; use initialize",
            )
            .into()),
            "ping" => Ok(empty_object()),
            "logging/setLevel" => {
                let level = params
                    .get("level")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ErrorObject::new(code::INVALID_PARAMS, "`level` is required"))?;
                if !mcp::LOG_LEVELS.contains(&level) {
                    return Err(ErrorObject::new(
                        code::INVALID_PARAMS,
                        format!("unknown log level `{}`", clip(level)),
                    )
                    .into());
                }
                self.state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .log_level = mcp::log_level_rank(level);
                Ok(empty_object())
            }
            "tools/list" => self.tools_list(&params).await,
            "tools/call" => {
                let started = std::time::Instant::now();
                let (server, tool) = self.call_label(&params);
                let request_bytes = params.to_string().len();
                let arguments = params.get("arguments").cloned();
                let outcome = self.tools_call(params, cancel).await;
                self.record(
                    method,
                    (&server, &tool),
                    started,
                    request_bytes,
                    arguments.as_ref(),
                    &outcome,
                );
                outcome
            }
            "resources/list" | "resources/templates/list" | "prompts/list" => {
                self.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
                let items = forward::aggregate(&self.gateway, method, &|s| self.sees_server(s));
                paginate(items, &params, forward::list_key(method))
            }
            "resources/read"
            | "resources/subscribe"
            | "resources/unsubscribe"
            | "prompts/get"
            | "completion/complete" => {
                let started = std::time::Instant::now();
                let request_bytes = params.to_string().len();
                let label = forward::label(&params);
                let ctx = self.call_context(&params, cancel);
                let outcome = forward::routed(self, method, params, &ctx).await;
                if matches!(method, "resources/read" | "prompts/get") {
                    self.record(method, ("", &label), started, request_bytes, None, &outcome);
                }
                outcome
            }
            _ => Err(ErrorObject::new(
                code::METHOD_NOT_FOUND,
                format!("method not found: {}", clip(method)),
            )
            .into()),
        }
    }

    fn initialize(&self, params: &Value) -> Value {
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let version = mcp::negotiate(requested);
        let client = params
            .pointer("/clientInfo/name")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        tracing::info!(client = %clip(client), requested = clip(requested.unwrap_or("-")).as_ref(), %version, "client initialized");
        let caps = params.get("capabilities").cloned().unwrap_or(json!({}));
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.version = Some(version);
            state.link = Some(Arc::new(ClientLink::new(self.out.clone(), caps.clone())));
        }
        self.gateway.set_client_capabilities(caps);
        json!({
            "protocolVersion": version,
            "capabilities": mcp::server_capabilities(),
            "serverInfo": mcp::implementation_info(),
            "instructions": match &self.surface {
                Surface::Gateway => meta_tools::INSTRUCTIONS.to_string(),
                Surface::Backend(server) => direct::instructions(server),
            },
        })
    }

    /// The meta-tools (plus surfaced tools), or every backend tool when meta mode is off.
    async fn tools_list(&self, params: &Value) -> Outcome {
        let config = self.gateway.config();
        let cfg = &config.meta_mcp;
        let mut tools: Vec<Value> = Vec::new();
        if cfg.enabled {
            tools.extend(meta_tools::definitions());
        }
        if !cfg.enabled || !cfg.surface.is_empty() {
            self.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
        }
        for (server, t) in self.gateway.direct_tools() {
            if let Some(name) = t.get("name").and_then(Value::as_str)
                && self.permits(&server, name)
            {
                let public = names::namespaced(&server, name);
                tools.push(renamed(t, public));
            }
        }
        paginate(tools, params, "tools")
    }

    async fn tools_call(self: &Arc<Self>, params: Value, cancel: &CancellationToken) -> Outcome {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ErrorObject::new(code::INVALID_PARAMS, "`name` is required"))?
            .to_string();
        let ctx = self.call_context(&params, cancel);
        if let Some(result) = meta_tools::call(self, &name, &params, &ctx).await {
            return result;
        }
        let target = self
            .resolve_direct(&name)
            .await
            .filter(|(server, tool)| self.permits(server, tool));
        let Some((server, tool)) = target else {
            return Err(ErrorObject::new(
                code::INVALID_PARAMS,
                format!(
                    "unknown tool `{}`; use gateway_search_tools to find tools",
                    clip(&name)
                ),
            )
            .into());
        };
        let mut forwarded = params;
        if let Value::Object(obj) = &mut forwarded {
            obj.insert("name".into(), Value::String(tool.clone()));
            // Tasks are not advertised by the gateway; never let a backend start one.
            obj.remove("task");
        }
        let backend = self.backend(&server).ok_or_else(|| {
            ErrorObject::new(code::INVALID_PARAMS, format!("unknown server `{server}`"))
        })?;
        match access::forward_call(&self.gateway, &backend, &server, &tool, forwarded, &ctx).await {
            Ok(result) => Ok(result),
            Err(e) => match e.as_tool_result() {
                Some(result) => Ok(result),
                None => Err(e.into()),
            },
        }
    }

    /// Maps a directly listed `server__tool` name back to its backend, waiting for first
    /// discoveries if the name is not known yet (a cold start must cost only time).
    async fn resolve_direct(&self, public: &str) -> Option<(String, String)> {
        let lookup = || {
            let tools = self.gateway.direct_tools();
            let pairs = tools.iter().filter_map(|(server, t)| {
                Some((server.as_str(), t.get("name").and_then(Value::as_str)?))
            });
            NameMap::build(pairs)
                .resolve(public)
                .map(|(s, t)| (s.to_string(), t.to_string()))
        };
        if let Some(found) = lookup() {
            return Some(found);
        }
        self.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
        lookup()
    }

    /// This session's caller's view of the gateway.
    pub(crate) fn access(&self) -> access::Access<'_> {
        access::Access::of_session(self)
    }

    /// Whether this session's caller may see and call `server`/`tool`.
    pub(crate) fn permits(&self, server: &str, tool: &str) -> bool {
        self.access().permits(server, tool)
    }

    /// Whether this session's caller may see `server` at all (its name, resources, prompts).
    pub(crate) fn sees_server(&self, server: &str) -> bool {
        self.access().sees_server(server)
    }

    /// `(server, tool)` a `tools/call` is about, for the request log: a meta-tool's target, or
    /// the backend tool behind a directly listed name.
    fn call_label(&self, params: &Value) -> (String, String) {
        let name = params.get("name").and_then(Value::as_str).unwrap_or("");
        meta_tools::target(name, params).unwrap_or_else(|| {
            let tools = self.gateway.direct_tools();
            let pairs = tools.iter().filter_map(|(server, t)| {
                Some((server.as_str(), t.get("name").and_then(Value::as_str)?))
            });
            NameMap::build(pairs)
                .resolve(name)
                .map(|(s, t)| (s.to_string(), t.to_string()))
                .unwrap_or_else(|| (String::new(), name.to_string()))
        })
    }

    /// Writes one request-log entry for a call this session served.
    fn record(
        &self,
        method: &str,
        (server, tool): (&str, &str),
        started: std::time::Instant,
        request_bytes: usize,
        arguments: Option<&Value>,
        outcome: &Outcome,
    ) {
        let log = &self.gateway.request_log;
        let (log_outcome, response_bytes, result) = match outcome {
            Ok(raw) => {
                let o = if crate::mcp::is_error_result(raw.get()) {
                    crate::request_log::Outcome::ToolError
                } else {
                    crate::request_log::Outcome::Ok
                };
                let result = log
                    .settings()
                    .log_results
                    .then(|| serde_json::from_str::<Value>(raw.get()).ok())
                    .flatten();
                (o, raw.get().len(), result)
            }
            Err(_) => (crate::request_log::Outcome::Error, 0, None),
        };
        log.record(crate::request_log::Call {
            caller: &self.caller.name,
            front: self.front,
            method,
            // Client-chosen names (an unknown tool may be 1 MB) are kept short, as in answers.
            server: &clip(server),
            tool: &clip(tool),
            duration: started.elapsed(),
            outcome: log_outcome,
            request_bytes: request_bytes as u64,
            response_bytes: response_bytes as u64,
            arguments,
            result: result.as_ref(),
        });
    }

    fn call_context(&self, params: &Value, cancel: &CancellationToken) -> CallContext {
        let progress = params
            .pointer("/_meta/progressToken")
            .filter(|t| !t.is_null())
            .map(|t| (t.clone(), self.out.clone()));
        CallContext {
            progress,
            cancel: cancel.clone(),
            client: self.link(),
        }
    }

    async fn relay_notices(self: Arc<Self>) {
        let mut rx = self.gateway.subscribe();
        let (closed, stop) = (
            self.closed.clone(),
            self.gateway.background().token().clone(),
        );
        loop {
            let received = tokio::select! {
                _ = closed.cancelled() => return,
                _ = stop.cancelled() => return,
                r = rx.recv() => r,
            };
            let notice = match received {
                Ok(n) => n,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("dropped {n} notifications for a slow client");
                    continue;
                }
                Err(_) => return,
            };
            let notice = match (&self.surface, notice) {
                (_, ClientNotice::ServersChanged { servers }) => {
                    self.retire_stale_instances();
                    if !reload_concerns(&self.surface, &self.caller.policy, &servers) {
                        continue;
                    }
                    ClientNotice::ToolsListChanged
                }
                (Surface::Gateway, n) => n,
                // One backend's surface hears only about that backend.
                (Surface::Backend(_), ClientNotice::ToolsListChanged) => continue,
                (Surface::Backend(own), ClientNotice::BackendToolsChanged { backend })
                    if *own == backend =>
                {
                    ClientNotice::ToolsListChanged
                }
                (Surface::Backend(own), ClientNotice::Log { backend, params }) => {
                    if *own != backend {
                        continue;
                    }
                    ClientNotice::Log { backend, params }
                }
                (Surface::Backend(own), ClientNotice::Forward { method, mut params }) => {
                    if let Some(uri) = params.get("uri").and_then(Value::as_str) {
                        match names::split_uri(uri) {
                            Some((server, original)) if server == *own => {
                                params["uri"] = Value::String(original.to_string());
                            }
                            _ => continue,
                        }
                    }
                    ClientNotice::Forward { method, params }
                }
                (Surface::Backend(_), n) => n,
            };
            match notice {
                ClientNotice::ToolsListChanged => self.send(Message::notification(
                    "notifications/tools/list_changed",
                    None,
                )),
                ClientNotice::BackendToolsChanged { .. } | ClientNotice::ServersChanged { .. } => {}
                ClientNotice::ResourcesListChanged => self.send(Message::notification(
                    "notifications/resources/list_changed",
                    None,
                )),
                ClientNotice::PromptsListChanged => self.send(Message::notification(
                    "notifications/prompts/list_changed",
                    None,
                )),
                ClientNotice::Forward { method, params } => {
                    self.send(Message::notification(&method, Some(to_raw(&params))))
                }
                ClientNotice::Log {
                    backend,
                    mut params,
                } => {
                    let level = params
                        .get("level")
                        .and_then(Value::as_str)
                        .unwrap_or("info");
                    let min = self
                        .state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .log_level;
                    if mcp::log_level_rank(level) < min {
                        continue;
                    }
                    if let Value::Object(obj) = &mut params {
                        let logger = match obj.get("logger").and_then(Value::as_str) {
                            Some(l) => format!("{backend}/{l}"),
                            None => backend,
                        };
                        obj.insert("logger".into(), Value::String(logger));
                    }
                    self.send(Message::notification(
                        "notifications/message",
                        Some(to_raw(&params)),
                    ));
                }
            }
        }
    }
}

/// The refusal of a request whose id is still used by a request in flight (-32600); every
/// front that keeps its own routes by id answers with it too.
pub fn id_in_flight(id: &Id) -> ErrorObject {
    ErrorObject::invalid_request(format!(
        "request id {} is already used by a request in flight; an id may be used again once \
         its response was sent",
        clip(&id.to_string())
    ))
}

/// The `requestId` of a `notifications/cancelled`, if it is a valid id.
pub fn cancelled_id(params: Option<&RawValue>) -> Option<Id> {
    let v: Value = serde_json::from_str(params?.get()).ok()?;
    serde_json::from_value(v.get("requestId")?.clone()).ok()
}

/// The params of a request as a JSON value (`Null` when absent).
fn params_value(params: Option<Box<RawValue>>) -> Result<Value, ErrorObject> {
    match params {
        Some(raw) => serde_json::from_str(raw.get()).map_err(|e| {
            ErrorObject::new(code::INVALID_PARAMS, format!("params are not JSON: {e}"))
        }),
        None => Ok(Value::Null),
    }
}

/// Longest part of a client-chosen name (tool, server, method, id) echoed in an answer or log.
pub(crate) const ECHO_CHARS: usize = 128;

/// `text` as echoed back: at most [`ECHO_CHARS`] characters, then `…` when cut.
pub(crate) fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(ECHO_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..cut])),
    }
}

/// One page of `items` under `key`, with the gateway's own cursor (an offset).
fn paginate(items: Vec<Value>, params: &Value, key: &str) -> Outcome {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => c
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                ErrorObject::new(
                    code::INVALID_PARAMS,
                    format!("invalid cursor `{}`", clip(c)),
                )
            })?,
        Some(_) => {
            return Err(ErrorObject::new(code::INVALID_PARAMS, "cursor must be a string").into());
        }
    };
    let end = (start + PAGE_SIZE).min(items.len());
    let mut result = serde_json::Map::new();
    result.insert(key.to_string(), Value::Array(items[start..end].to_vec()));
    if end < items.len() {
        result.insert("nextCursor".into(), Value::String(end.to_string()));
    }
    Ok(to_raw(&result))
}

fn renamed(mut tool: Value, name: String) -> Value {
    if let Value::Object(obj) = &mut tool {
        obj.insert("name".into(), Value::String(name));
    }
    tool
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_names_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        let exact = "é".repeat(ECHO_CHARS);
        assert_eq!(clip(&exact), exact);
        let long = "é".repeat(ECHO_CHARS + 1);
        let cut = clip(&long);
        assert_eq!(cut.chars().count(), ECHO_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
