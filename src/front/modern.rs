//! The stateless protocol era (2026-07-28) on any front: requests that carry their protocol
//! version and client capabilities in `params._meta` instead of an `initialize` handshake.
//!
//! Owns `server/discover`, the per-request `_meta` checks (-32022 for an unsupported version,
//! -32602 for missing fields), `subscriptions/listen`, the per-hop result fields (`resultType`,
//! `ttlMs`/`cacheScope`) and multi round-trip requests: a backend's `sampling/createMessage`,
//! `elicitation/create` or `roots/list` made while serving a call becomes an `input_required`
//! result; the backend's call stays parked (its session alive) under an unguessable
//! `requestState` handle until the client retries with `inputResponses`. Every other request is
//! served by a one-request session over a [`Link`], so the meta-tools, routing and payload
//! rules are exactly the legacy era's. It never frames bytes (that is the transport's) and
//! never reaches a backend except through a session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::link::{Link, LinkRx};
use crate::auth::Caller;
use crate::gateway::{ClientNotice, Gateway};
use crate::jsonrpc::{ErrorObject, Id, Message, code, to_raw};
use crate::mcp::{self, meta};
use crate::session::Surface;

/// How long a parked call waits for the client's retry with `inputResponses`.
const PARK_TTL: Duration = Duration::from_secs(300);
/// At most this many parked calls; the oldest is dropped (and its backend call cancelled).
const MAX_PARKED: usize = 1024;
/// Freshness hint on list results. Short: backends come and go, and `subscriptions/listen`
/// tells a client when a list changed anyway.
const LIST_TTL_MS: u64 = 30_000;
/// Freshness hint on `server/discover`: the gateway's surface does not change while it runs.
const DISCOVER_TTL_MS: u64 = 3_600_000;

/// After a backend's first request for the client during a call, how long further requests
/// are gathered into the same `input_required` result.
const ASK_WINDOW: Duration = Duration::from_millis(20);

const INIT_ID: &str = "gateway-init";
const CALL_ID: &str = "gateway-call";

/// Methods of the legacy era that the stateless era removed.
const REMOVED: [&str; 5] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Where a request's own notifications (progress, log messages) go while it runs.
pub type Notes = mpsc::Sender<Message>;

/// What the front knows about the caller of one request.
#[derive(Clone)]
pub struct RequestScope {
    /// What the request is served from: the gateway's surface, or one backend's own
    /// (`/mcp/{backend}`).
    pub surface: Surface,
    /// Who is calling: what its session may see and call; parked calls are bound to its name.
    pub caller: Caller,
    /// The front's name in the request log.
    pub front: &'static str,
}

impl Default for RequestScope {
    fn default() -> RequestScope {
        RequestScope {
            surface: Surface::Gateway,
            caller: Caller::local(),
            front: "http",
        }
    }
}

/// A result or a JSON-RPC error.
pub type Outcome = Result<Box<RawValue>, ErrorObject>;

struct Parked {
    link: Link,
    rx: LinkRx,
    /// `inputRequests` key → the session's request (id, method and params).
    asked: Vec<(String, Id, Value)>,
    method: String,
    name: Option<String>,
    caller: Arc<str>,
    log_level: Option<usize>,
    since: Instant,
}

/// The stateless era of one gateway, shared by every front.
pub struct Modern {
    gateway: Arc<Gateway>,
    parked: Mutex<HashMap<String, Parked>>,
}

/// The checked `_meta` of a stateless-era request.
struct RequestMeta {
    capabilities: Value,
    client_info: Value,
    log_level: Option<usize>,
}

impl Modern {
    pub fn new(gateway: Arc<Gateway>) -> Arc<Modern> {
        Arc::new(Modern {
            gateway,
            parked: Mutex::new(HashMap::new()),
        })
    }

    /// Serves one stateless-era request. Progress and log notifications for it go to `notes`;
    /// `cancel` ends it early (the transport's cancellation: a closed stream or
    /// `notifications/cancelled`), in which case `None` is returned and nothing is answered.
    pub async fn handle(
        self: &Arc<Self>,
        request_id: &Id,
        method: &str,
        params: Value,
        scope: &RequestScope,
        notes: &Notes,
        cancel: &CancellationToken,
    ) -> Option<Outcome> {
        let checked = match parse_meta(&params) {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        match method {
            "server/discover" => Some(Ok(to_raw(&discover_result()))),
            "subscriptions/listen" => {
                self.listen(request_id, &params, scope, notes, cancel).await;
                Some(Ok(to_raw(&json!({
                    "resultType": "complete",
                    "_meta": { meta::SUBSCRIPTION_ID: request_id },
                }))))
            }
            m if REMOVED.contains(&m) => Some(Err(ErrorObject::new(
                code::METHOD_NOT_FOUND,
                format!("method not found: {m} (removed in protocol version 2026-07-28)"),
            ))),
            _ => {
                // Looked at before the request is served: a list made while a backend's first
                // discovery still runs may lack it, so it must not be cached (its tools come
                // with `list_changed` on `subscriptions/listen`).
                let list_ttl = if self.gateway.lists_incomplete() {
                    0
                } else {
                    LIST_TTL_MS
                };
                let outcome = if let Some(state) = params.get("requestState") {
                    self.resume(state, method, &params, scope, notes, cancel)
                        .await
                } else {
                    self.call(method, params, checked, scope, notes, cancel)
                        .await
                };
                let private = scope.caller.policy.is_restricted();
                outcome.map(|o| o.map(|raw| decorate(method, raw, private, list_ttl)))
            }
        }
    }

    /// Opens a session behind this request for `scope` and sends its `initialize` (answered
    /// under `INIT_ID`): the stateless era's requests reach the gateway through such a session.
    fn open_session(
        &self,
        scope: &RequestScope,
        capabilities: &Value,
        client_info: &Value,
    ) -> (Link, LinkRx) {
        let (link, rx) = Link::open(
            Arc::clone(&self.gateway),
            scope.caller.clone(),
            scope.front,
            scope.surface.clone(),
        );
        link.send(&Message::Request {
            id: Id::String(INIT_ID.into()),
            method: "initialize".into(),
            params: Some(to_raw(&json!({
                "protocolVersion": mcp::LATEST_VERSION,
                "capabilities": capabilities,
                "clientInfo": client_info,
            }))),
        });
        (link, rx)
    }

    async fn call(
        self: &Arc<Self>,
        method: &str,
        params: Value,
        m: RequestMeta,
        scope: &RequestScope,
        notes: &Notes,
        cancel: &CancellationToken,
    ) -> Option<Outcome> {
        let (link, mut rx) = self.open_session(scope, &m.capabilities, &m.client_info);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Message::Response { id, .. }) if id == Id::String(INIT_ID.into()) => break,
                    Some(_) => continue,
                    None => return Some(Err(session_ended())),
                },
                _ = cancel.cancelled() => return None,
            }
        }
        link.send(&Message::notification("notifications/initialized", None));
        let name = call_name(&params);
        link.send(&Message::Request {
            id: Id::String(CALL_ID.into()),
            method: method.to_string(),
            params: Some(to_raw(&forwarded_params(params))),
        });
        let parked = Parked {
            link,
            rx,
            asked: Vec::new(),
            method: method.to_string(),
            name,
            caller: Arc::clone(&scope.caller.name),
            log_level: m.log_level,
            since: Instant::now(),
        };
        self.pump(parked, notes, cancel).await
    }

    /// Continues a parked call with the client's `inputResponses`.
    async fn resume(
        self: &Arc<Self>,
        state: &Value,
        method: &str,
        params: &Value,
        scope: &RequestScope,
        notes: &Notes,
        cancel: &CancellationToken,
    ) -> Option<Outcome> {
        let stale = || {
            Some(Err(ErrorObject::new(
                code::INVALID_PARAMS,
                "requestState is unknown or expired (or belongs to another request); send the request again without requestState and inputResponses",
            )))
        };
        let Some(handle) = state.as_str() else {
            return stale();
        };
        let taken = self.lock().remove(handle);
        let Some(mut parked) = taken else {
            return stale();
        };
        if parked.method != method
            || parked.name != call_name(params)
            || parked.caller != scope.caller.name
            || parked.since.elapsed() > PARK_TTL
        {
            return stale();
        }
        let responses = params.get("inputResponses").and_then(Value::as_object);
        let mut unanswered = Vec::new();
        for (key, id, request) in std::mem::take(&mut parked.asked) {
            match responses.and_then(|r| r.get(&key)) {
                Some(answer) => parked.link.send(&Message::Response {
                    id,
                    result: Ok(to_raw(answer)),
                }),
                None => unanswered.push((key, id, request)),
            }
        }
        if !unanswered.is_empty() {
            parked.asked = unanswered;
            return Some(Ok(self.park(parked)));
        }
        self.pump(parked, notes, cancel).await
    }

    /// Relays what the call's session sends until it answers, asks the client something, or the
    /// call is cancelled. Requests the session sends within [`ASK_WINDOW`] of its first one ride
    /// along in the same `input_required` result (a backend asking several things at once).
    async fn pump(
        self: &Arc<Self>,
        mut parked: Parked,
        notes: &Notes,
        cancel: &CancellationToken,
    ) -> Option<Outcome> {
        let mut asking_until: Option<tokio::time::Instant> = None;
        loop {
            let window = asking_until.unwrap_or_else(tokio::time::Instant::now);
            let msg = tokio::select! {
                msg = parked.rx.recv() => msg,
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep_until(window), if asking_until.is_some() => {
                    return Some(Ok(self.park(parked)));
                }
            };
            match msg {
                None => return Some(Err(session_ended())),
                Some(Message::Response { id, result }) if id == Id::String(CALL_ID.into()) => {
                    // A backend that asked for a capability the request did not declare, was
                    // refused, and then failed, failed for want of it: -32021 says which.
                    let refused = parked.link.refused_capabilities();
                    if !refused.is_empty() && failed(&result) {
                        return Some(Err(missing_capabilities(&refused)));
                    }
                    return Some(result);
                }
                Some(Message::Response { .. }) => {}
                Some(Message::Request { id, method, params }) => {
                    let key = format!("gateway-input-{}", parked.asked.len() + 1);
                    parked.asked.push((key, id, input_request(method, params)));
                    asking_until.get_or_insert_with(|| tokio::time::Instant::now() + ASK_WINDOW);
                }
                Some(Message::Notification { method, params }) => {
                    let forward = match method.as_str() {
                        "notifications/progress" => true,
                        "notifications/message" => {
                            let level = params
                                .as_ref()
                                .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                                .and_then(|v| {
                                    v.get("level")
                                        .and_then(Value::as_str)
                                        .map(mcp::log_level_rank)
                                });
                            matches!((parked.log_level, level), (Some(min), Some(l)) if l >= min)
                        }
                        // Change notifications belong to `subscriptions/listen`.
                        _ => false,
                    };
                    if forward {
                        let _ = notes.try_send(Message::Notification { method, params });
                    }
                }
            }
        }
    }

    /// Stores a call waiting for the client and returns its `input_required` result.
    fn park(&self, parked: Parked) -> Box<RawValue> {
        let mut requests = Map::new();
        for (key, _, request) in &parked.asked {
            requests.insert(key.clone(), request.clone());
        }
        let handle = super::http::sessions::new_id();
        let mut map = self.lock();
        map.retain(|_, p| p.since.elapsed() <= PARK_TTL);
        if map.len() >= MAX_PARKED {
            let oldest = map
                .iter()
                .min_by_key(|(_, p)| p.since)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                tracing::warn!("too many calls waiting for client input; dropping the oldest");
                map.remove(&k);
            }
        }
        map.insert(
            handle.clone(),
            Parked {
                since: Instant::now(),
                ..parked
            },
        );
        to_raw(&json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": handle,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Parked>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of calls waiting for a client's `inputResponses`.
    pub fn parked(&self) -> usize {
        self.lock().len()
    }

    /// `subscriptions/listen`: acknowledges, then relays the change notifications the client
    /// opted in to, each tagged with the subscription id, until `cancel`.
    async fn listen(
        self: &Arc<Self>,
        request_id: &Id,
        params: &Value,
        scope: &RequestScope,
        notes: &Notes,
        cancel: &CancellationToken,
    ) {
        let filter = params.get("notifications").cloned().unwrap_or(json!({}));
        let wants = |k: &str| filter.get(k).and_then(Value::as_bool).unwrap_or(false);
        let tools = wants("toolsListChanged");
        let prompts = wants("promptsListChanged");
        let resources = wants("resourcesListChanged");
        let uris: Vec<String> = filter
            .get("resourceSubscriptions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(String::from))
                    // A resource of a server outside the caller's scope is never watched.
                    .filter(|u| {
                        if let Surface::Backend(_) = &scope.surface {
                            // One backend's own URIs: the front checked the caller sees it.
                            return true;
                        }
                        crate::catalog::names::split_uri(u).is_some_and(|(server, _)| {
                            let tags = self
                                .gateway
                                .backend(&server)
                                .map(|b| b.config.tags.clone())
                                .unwrap_or_default();
                            scope.caller.policy.sees_server(&server, &tags)
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut rx = self.gateway.subscribe();
        // Resource updates need the owning backend told; a session of its own does that.
        let subscriber = if uris.is_empty() {
            None
        } else {
            let (link, _rx) = self.open_session(scope, &json!({}), &mcp::implementation_info());
            link.send(&Message::notification("notifications/initialized", None));
            for (i, uri) in uris.iter().enumerate() {
                link.send(&Message::Request {
                    id: Id::Number(i as i64),
                    method: "resources/subscribe".into(),
                    params: Some(to_raw(&json!({ "uri": uri }))),
                });
            }
            Some((link, _rx))
        };
        let mut honored = Map::new();
        for (k, on) in [
            ("toolsListChanged", tools),
            ("promptsListChanged", prompts),
            ("resourcesListChanged", resources),
        ] {
            if on {
                honored.insert(k.into(), Value::Bool(true));
            }
        }
        if !uris.is_empty() {
            honored.insert("resourceSubscriptions".into(), json!(uris));
        }
        let tag = |mut params: Map<String, Value>| {
            params.insert("_meta".into(), json!({ meta::SUBSCRIPTION_ID: request_id }));
            Some(to_raw(&params))
        };
        let mut ack = Map::new();
        ack.insert("notifications".into(), Value::Object(honored));
        if notes
            .send(Message::notification(
                "notifications/subscriptions/acknowledged",
                tag(ack),
            ))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let notice = tokio::select! {
                n = rx.recv() => n,
                _ = cancel.cancelled() => break,
            };
            let out = match notice {
                Ok(ClientNotice::ToolsListChanged)
                    if tools && scope.surface == Surface::Gateway =>
                {
                    Some(("notifications/tools/list_changed", Map::new()))
                }
                Ok(ClientNotice::BackendToolsChanged { backend })
                    if tools
                        && matches!(&scope.surface, Surface::Backend(own) if *own == backend) =>
                {
                    Some(("notifications/tools/list_changed", Map::new()))
                }
                Ok(ClientNotice::ServersChanged { servers })
                    if tools
                        && crate::session::reload_concerns(
                            &scope.surface,
                            &scope.caller.policy,
                            &servers,
                        ) =>
                {
                    Some(("notifications/tools/list_changed", Map::new()))
                }
                Ok(ClientNotice::PromptsListChanged) if prompts => {
                    Some(("notifications/prompts/list_changed", Map::new()))
                }
                Ok(ClientNotice::ResourcesListChanged) if resources => {
                    Some(("notifications/resources/list_changed", Map::new()))
                }
                Ok(ClientNotice::Forward { method, params })
                    if method == "notifications/resources/updated" =>
                {
                    // Notices carry namespaced URIs; a one-backend client wrote its own.
                    let public = params.get("uri").and_then(Value::as_str).unwrap_or("");
                    let written = match &scope.surface {
                        Surface::Gateway => Some(public.to_string()),
                        Surface::Backend(own) => crate::catalog::names::split_uri(public)
                            .filter(|(server, _)| server == own)
                            .map(|(_, uri)| uri.to_string()),
                    };
                    match (params, written) {
                        (Value::Object(mut p), Some(uri)) if uris.contains(&uri) => {
                            p.insert("uri".into(), Value::String(uri));
                            Some(("notifications/resources/updated", p))
                        }
                        _ => None,
                    }
                }
                Ok(_) => None,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("subscription fell {n} notifications behind");
                    None
                }
                Err(_) => break,
            };
            if let Some((method, params)) = out
                && notes
                    .send(Message::notification(method, tag(params)))
                    .await
                    .is_err()
            {
                break;
            }
        }
        drop(subscriber);
    }
}

/// The stateless era on a message stream (stdio, the `share: true` socket), next to the
/// stream's legacy session: a request whose `params._meta` carries the protocol version is
/// served by [`Modern`], answered (with its progress and log notifications first) on the same
/// stream; `notifications/cancelled` for one of those requests cancels it. Everything else is
/// the session's.
pub struct StreamEra {
    modern: Arc<Modern>,
    scope: RequestScope,
    out: mpsc::UnboundedSender<String>,
    in_flight: Arc<Mutex<HashMap<Id, CancellationToken>>>,
}

impl StreamEra {
    /// Serves stateless-era requests of one stream for `scope`, writing to `out` (one
    /// serialized message per string, as a session's sink).
    pub fn new(
        gateway: Arc<Gateway>,
        scope: RequestScope,
        out: mpsc::UnboundedSender<String>,
    ) -> StreamEra {
        StreamEra {
            modern: Modern::new(gateway),
            scope,
            out,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<Id, CancellationToken>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `line` when it is the stateless era's (a request carrying
    /// `io.modelcontextprotocol/protocolVersion`, or the cancellation of such a request in
    /// flight); `false` leaves it to the stream's session.
    pub fn take(&self, line: &str) -> bool {
        let cancels = line.contains("notifications/cancelled");
        if !cancels && !line.contains(meta::PROTOCOL_VERSION) {
            return false;
        }
        let Ok(msg) = Message::parse(line) else {
            return false;
        };
        match msg {
            Message::Notification { method, params } if method == "notifications/cancelled" => {
                let id = crate::session::cancelled_id(params.as_deref());
                match id.and_then(|id| self.in_flight().get(&id).cloned()) {
                    Some(token) => {
                        token.cancel();
                        true
                    }
                    None => false,
                }
            }
            Message::Request { id, method, params } => {
                let params = params
                    .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                    .unwrap_or(Value::Null);
                if mcp::modern_version(&params).is_none() {
                    return false;
                }
                self.serve(id, method, params);
                true
            }
            _ => false,
        }
    }

    fn serve(&self, id: Id, method: String, params: Value) {
        let cancel = CancellationToken::new();
        {
            let mut in_flight = self.in_flight();
            if in_flight.contains_key(&id) {
                drop(in_flight);
                let refusal = crate::session::id_in_flight(&id);
                let _ = self.out.send(Message::error(id, refusal).to_json());
                return;
            }
            in_flight.insert(id.clone(), cancel.clone());
        }
        // Notifications and then the answer leave through one channel, in order.
        let (tx, mut rx) = mpsc::channel::<Message>(STREAM_NOTES);
        let out = self.out.clone();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if out.send(m.to_json()).is_err() {
                    break;
                }
            }
        });
        let (modern, scope, in_flight) = (
            Arc::clone(&self.modern),
            self.scope.clone(),
            Arc::clone(&self.in_flight),
        );
        tokio::spawn(async move {
            let outcome = modern
                .handle(&id, &method, params, &scope, &tx, &cancel)
                .await;
            in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            if let Some(result) = outcome {
                let _ = tx.send(Message::Response { id, result }).await;
            }
        });
    }

    /// The stream ended: cancels every request still in flight (subscriptions included).
    pub fn close(&self) {
        for token in self.in_flight().values() {
            token.cancel();
        }
    }
}

/// Notifications one stateless-era request may have queued for a stream.
const STREAM_NOTES: usize = 256;

/// Checks a stateless-era request's `_meta` (version, capabilities, log level).
pub fn check_meta(params: &Value) -> Result<(), ErrorObject> {
    parse_meta(params).map(|_| ())
}

fn parse_meta(params: &Value) -> Result<RequestMeta, ErrorObject> {
    let Some(version) = mcp::modern_version(params) else {
        return Err(ErrorObject::new(
            code::INVALID_PARAMS,
            format!(
                "params._meta[\"{}\"] is required in protocol version 2026-07-28",
                meta::PROTOCOL_VERSION
            ),
        ));
    };
    if !mcp::MODERN_VERSIONS.contains(&version) {
        return Err(unsupported_version(version));
    }
    let m = params.get("_meta").cloned().unwrap_or(Value::Null);
    let capabilities = match m.get(meta::CLIENT_CAPABILITIES) {
        Some(c @ Value::Object(_)) => c.clone(),
        _ => {
            return Err(ErrorObject::new(
                code::INVALID_PARAMS,
                format!(
                    "params._meta[\"{}\"] must be an object (the client's capabilities for this request)",
                    meta::CLIENT_CAPABILITIES
                ),
            ));
        }
    };
    let log_level = match m.get(meta::LOG_LEVEL) {
        None | Some(Value::Null) => None,
        Some(Value::String(l)) if mcp::LOG_LEVELS.contains(&l.as_str()) => {
            Some(mcp::log_level_rank(l))
        }
        Some(other) => {
            return Err(ErrorObject::new(
                code::INVALID_PARAMS,
                format!(
                    "params._meta[\"{}\"] = {other} is not a log level ({})",
                    meta::LOG_LEVEL,
                    mcp::LOG_LEVELS.join(", ")
                ),
            ));
        }
    };
    Ok(RequestMeta {
        capabilities,
        client_info: m.get(meta::CLIENT_INFO).cloned().unwrap_or(json!({})),
        log_level,
    })
}

/// -32022 naming every version the gateway speaks.
pub fn unsupported_version(requested: &str) -> ErrorObject {
    let mut e = ErrorObject::new(
        code::UNSUPPORTED_PROTOCOL_VERSION,
        format!(
            "unsupported protocol version `{requested}`; supported: {}",
            mcp::all_versions().join(", ")
        ),
    );
    e.data = Some(to_raw(&json!({
        "supported": mcp::all_versions(),
        "requested": requested,
    })));
    e
}

fn session_ended() -> ErrorObject {
    ErrorObject::new(
        code::INTERNAL_ERROR,
        "the gateway session serving this request ended before answering",
    )
}

/// The gateway's `server/discover` result.
pub fn discover_result() -> Value {
    json!({
        "resultType": "complete",
        "supportedVersions": mcp::all_versions(),
        "capabilities": mcp::server_capabilities(),
        "instructions": crate::session::INSTRUCTIONS,
        "ttlMs": DISCOVER_TTL_MS,
        "cacheScope": "public",
        "_meta": { meta::SERVER_INFO: mcp::implementation_info() },
    })
}

/// One entry of `inputRequests`: the backend's request as it sent it; `params` only when it had
/// some (the schema wants an object there, never `null`).
fn input_request(method: String, params: Option<Box<RawValue>>) -> Value {
    let params = params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
    match params {
        Some(p) if !p.is_null() => json!({"method": method, "params": p}),
        _ => json!({"method": method}),
    }
}

/// Whether an outcome is a failure: a JSON-RPC error, or a tool result with `isError: true`.
fn failed(outcome: &Outcome) -> bool {
    #[derive(serde::Deserialize)]
    struct Flag {
        #[serde(rename = "isError")]
        is_error: Option<bool>,
    }
    match outcome {
        Err(_) => true,
        Ok(raw) => serde_json::from_str::<Flag>(raw.get()).is_ok_and(|f| f.is_error == Some(true)),
    }
}

/// -32021: serving the request needed client capabilities its `_meta` did not declare (a
/// backend asked for them and was refused); `data.requiredCapabilities` names each one.
fn missing_capabilities(caps: &[&str]) -> ErrorObject {
    let required: Map<String, Value> = caps.iter().map(|c| (c.to_string(), json!({}))).collect();
    ErrorObject {
        code: code::MISSING_CLIENT_CAPABILITY,
        message: format!(
            "this request needs the client capabilities {} (the backend asked for them), which              params._meta[\"{}\"] does not declare",
            caps.join(", "),
            meta::CLIENT_CAPABILITIES
        ),
        data: Some(to_raw(&json!({ "requiredCapabilities": required }))),
    }
}

/// `params.name` or `params.uri`: what a parked call is bound to besides its method.
fn call_name(params: &Value) -> Option<String> {
    params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(String::from)
}

/// The request as the session sees it: per-hop `_meta` keys and MRTR fields removed.
fn forwarded_params(mut params: Value) -> Value {
    if let Value::Object(obj) = &mut params {
        obj.remove("inputResponses");
        obj.remove("requestState");
        let empty = match obj.get_mut("_meta") {
            Some(Value::Object(m)) => {
                m.retain(|k, _| !k.starts_with(meta::PREFIX));
                m.is_empty()
            }
            _ => false,
        };
        if empty {
            obj.remove("_meta");
        }
    }
    params
}

/// Adds the stateless era's per-hop result fields the result lacks: `resultType` everywhere,
/// `ttlMs` (`list_ttl` on lists) and `cacheScope` on cacheable results (`private` when the
/// caller's scope shaped the result, so no shared cache hands it to another caller). Nothing
/// else in the payload changes.
fn decorate(method: &str, raw: Box<RawValue>, private: bool, list_ttl: u64) -> Box<RawValue> {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(raw.get()) else {
        return raw;
    };
    if obj.contains_key("resultType") && obj.get("resultType") != Some(&json!("complete")) {
        return raw;
    }
    obj.entry("resultType")
        .or_insert_with(|| Value::String("complete".into()));
    let ttl = match method {
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            Some(list_ttl)
        }
        "resources/read" => Some(0),
        _ => None,
    };
    if let Some(ttl) = ttl {
        obj.entry("ttlMs").or_insert(json!(ttl));
        obj.entry("cacheScope")
            .or_insert(json!(if private { "private" } else { "public" }));
    }
    to_raw(&obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(version: &str) -> Value {
        json!({"_meta": {
            meta::PROTOCOL_VERSION: version,
            meta::CLIENT_CAPABILITIES: {},
        }})
    }

    #[test]
    fn meta_checks_name_the_problem() {
        assert!(parse_meta(&meta("2026-07-28")).is_ok());
        let e = parse_meta(&meta("1900-01-01")).err().unwrap();
        assert_eq!(e.code, code::UNSUPPORTED_PROTOCOL_VERSION);
        let data: Value = serde_json::from_str(e.data.unwrap().get()).unwrap();
        assert_eq!(data["requested"], "1900-01-01");
        assert_eq!(data["supported"][0], "2026-07-28");
        let e = parse_meta(&json!({"_meta": {meta::PROTOCOL_VERSION: "2026-07-28"}}))
            .err()
            .unwrap();
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert!(e.message.contains("clientCapabilities"), "{}", e.message);
    }

    #[test]
    fn per_hop_meta_is_not_forwarded_and_other_meta_is() {
        let p = json!({
            "name": "t",
            "requestState": "x",
            "inputResponses": {},
            "_meta": {meta::PROTOCOL_VERSION: "2026-07-28", "progressToken": 7, "com.example/k": 1},
        });
        assert_eq!(
            forwarded_params(p),
            json!({"name": "t", "_meta": {"progressToken": 7, "com.example/k": 1}})
        );
        let p = json!({"_meta": {meta::PROTOCOL_VERSION: "2026-07-28"}});
        assert_eq!(forwarded_params(p), json!({}));
    }

    #[test]
    fn results_get_result_type_and_cache_hints_only() {
        let raw = RawValue::from_string(r#"{"tools":[],"x":{"y":1.0}}"#.into()).unwrap();
        let out: Value =
            serde_json::from_str(decorate("tools/list", raw, false, LIST_TTL_MS).get()).unwrap();
        assert_eq!(out["resultType"], "complete");
        assert_eq!(out["ttlMs"], LIST_TTL_MS);
        assert_eq!(out["cacheScope"], "public");
        let raw = RawValue::from_string(r#"{"content":[],"isError":true}"#.into()).unwrap();
        let out = decorate("tools/call", raw, false, LIST_TTL_MS);
        assert_eq!(
            out.get(),
            r#"{"content":[],"isError":true,"resultType":"complete"}"#
        );
        let raw = RawValue::from_string(r#"{"tools":[]}"#.into()).unwrap();
        let out: Value =
            serde_json::from_str(decorate("tools/list", raw, true, LIST_TTL_MS).get()).unwrap();
        assert_eq!(
            out["cacheScope"], "private",
            "a scoped caller's list is its own"
        );
        let raw = RawValue::from_string(r#"{"prompts":[]}"#.into()).unwrap();
        let out: Value =
            serde_json::from_str(decorate("prompts/list", raw, false, 0).get()).unwrap();
        assert_eq!(
            out["ttlMs"], 0,
            "a list made during discovery is not to be cached"
        );
    }
}
