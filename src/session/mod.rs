//! One connected client: its protocol state and the requests it makes.
//!
//! A session answers `initialize`, `ping`, `logging/setLevel` and the list methods itself (they
//! terminate per hop), serves the meta-tools, and forwards calls of directly listed tools to their
//! backend. Every request runs in its own task, so a slow tool call never delays a `ping` or a
//! call to another backend; `notifications/cancelled` cancels the task's backend request and no
//! response is sent for it. Framing is the caller's: [`serve`] works on any line stream.

mod forward;
mod meta_tools;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::catalog::names::{self, NameMap};
use crate::error::CallError;
use crate::gateway::{ClientNotice, Gateway};
use crate::jsonrpc::{ErrorObject, Id, LineReader, Message, ReadLine, code, empty_object, to_raw};
use crate::mcp;
use crate::router::{CallContext, ClientLink, ClientSink};

/// Longest line accepted from a client.
const MAX_CLIENT_LINE: usize = 64 * 1024 * 1024;
/// Page size of the list methods.
const PAGE_SIZE: usize = 200;
/// How long a list or search waits for first discoveries before answering without them.
pub const DISCOVERY_WAIT: Duration = Duration::from_secs(5);

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
    /// Set by `initialize`: how backends reach this client.
    link: Option<Arc<ClientLink>>,
}

/// One client's session.
pub struct Session {
    gateway: Arc<Gateway>,
    out: ClientSink,
    state: Mutex<ClientState>,
    in_flight: Mutex<HashMap<Id, CancellationToken>>,
}

/// Serves one client over a line stream until it closes; then cancels what is in flight.
pub async fn serve<R, W>(gateway: Arc<Gateway>, reader: R, writer: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer_task = tokio::spawn(async move {
        let mut writer = writer;
        while let Some(mut line) = out_rx.recv().await {
            line.push('\n');
            if writer.write_all(line.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
    });
    let session = Arc::new(Session {
        gateway: Arc::clone(&gateway),
        out: out.clone(),
        state: Mutex::new(ClientState {
            log_level: mcp::log_level_rank("info"),
            link: None,
        }),
        in_flight: Mutex::new(HashMap::new()),
    });
    let notices = tokio::spawn(Arc::clone(&session).relay_notices());

    let mut lines = LineReader::new(reader, MAX_CLIENT_LINE);
    loop {
        match lines.next_line().await? {
            ReadLine::Line(line) => session.on_line(&line),
            ReadLine::TooLong(n) => {
                tracing::warn!("client sent a line of {n} bytes; skipped");
                session.send(Message::error(
                    Id::Null,
                    ErrorObject::new(code::INVALID_REQUEST, "message too long"),
                ));
            }
            ReadLine::NotUtf8 => session.send(parse_error("message is not UTF-8")),
            ReadLine::Eof => break,
        }
    }
    tracing::info!("client closed the connection");
    for token in session.in_flight_tokens() {
        token.cancel();
    }
    notices.abort();
    drop(session);
    drop(out);
    // Let responses already queued reach the client.
    let _ = tokio::time::timeout(Duration::from_secs(1), writer_task).await;
    Ok(())
}

fn parse_error(detail: &str) -> Message {
    Message::error(
        Id::Null,
        ErrorObject::new(code::PARSE_ERROR, format!("parse error: {detail}")),
    )
}

impl Session {
    fn send(&self, msg: Message) {
        let _ = self.out.send(msg.to_json());
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
        match Message::parse(line) {
            Ok(Message::Request { id, method, params }) => {
                let token = CancellationToken::new();
                self.in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone(), token.clone());
                let session = Arc::clone(self);
                tokio::spawn(async move {
                    let outcome = session.handle(&method, params, &token).await;
                    session
                        .in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&id);
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
            Ok(Message::Notification { method, params }) => self.on_notification(&method, params),
            Ok(msg @ Message::Response { .. }) => match self.link() {
                Some(link) => {
                    link.peer.dispatch(msg);
                }
                None => tracing::debug!("response from a client that never initialized; ignored"),
            },
            Err(crate::jsonrpc::ParseError::Invalid {
                id: Some(id),
                reason,
            }) => self.send(Message::error(
                id,
                ErrorObject::new(code::INVALID_REQUEST, reason),
            )),
            Err(e) => self.send(parse_error(&e.to_string())),
        }
    }

    fn on_notification(self: &Arc<Self>, method: &str, params: Option<Box<RawValue>>) {
        match method {
            "notifications/cancelled" => {
                let id = params
                    .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                    .and_then(|v| serde_json::from_value::<Id>(v.get("requestId")?.clone()).ok());
                if let Some(id) = id {
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
        let params: Value = match params {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|e| {
                ErrorObject::new(code::INVALID_PARAMS, format!("params are not JSON: {e}"))
            })?,
            None => Value::Null,
        };
        match method {
            "initialize" => Ok(to_raw(&self.initialize(&params))),
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
                        format!("unknown log level `{level}`"),
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
            "tools/call" => self.tools_call(params, cancel).await,
            "resources/list" | "resources/templates/list" | "prompts/list" => {
                self.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
                let items = forward::aggregate(&self.gateway, method);
                paginate(items, &params, forward::list_key(method))
            }
            "resources/read"
            | "resources/subscribe"
            | "resources/unsubscribe"
            | "prompts/get"
            | "completion/complete" => {
                let ctx = self.call_context(&params, cancel);
                forward::routed(&self.gateway, method, params, &ctx).await
            }
            _ => Err(ErrorObject::new(
                code::METHOD_NOT_FOUND,
                format!("method not found: {method}"),
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
        tracing::info!(%client, requested = requested.unwrap_or("-"), %version, "client initialized");
        let caps = params.get("capabilities").cloned().unwrap_or(json!({}));
        self.state.lock().unwrap_or_else(|e| e.into_inner()).link =
            Some(Arc::new(ClientLink::new(self.out.clone(), caps.clone())));
        self.gateway.set_client_capabilities(caps);
        json!({
            "protocolVersion": version,
            "capabilities": {
                "tools": { "listChanged": true },
                "resources": { "subscribe": true, "listChanged": true },
                "prompts": { "listChanged": true },
                "completions": {},
                "logging": {},
            },
            "serverInfo": mcp::implementation_info(),
            "instructions": meta_tools::INSTRUCTIONS,
        })
    }

    /// The meta-tools (plus surfaced tools), or every backend tool when meta mode is off.
    async fn tools_list(&self, params: &Value) -> Outcome {
        let cfg = &self.gateway.config.meta_mcp;
        let mut tools: Vec<Value> = Vec::new();
        if cfg.enabled {
            tools.extend(meta_tools::definitions());
            if !cfg.surface.is_empty() {
                self.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
            }
            for r in &cfg.surface {
                if let Some(t) = self
                    .gateway
                    .catalog
                    .get(&r.server)
                    .and_then(|e| e.tool(&r.tool).cloned())
                {
                    tools.push(renamed(t, names::namespaced(&r.server, &r.tool)));
                }
            }
        } else {
            self.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
            for entry in self.gateway.catalog.snapshot() {
                if self.gateway.backend(&entry.backend).is_none() {
                    continue;
                }
                for t in &entry.tools {
                    if let Some(name) = t.get("name").and_then(Value::as_str) {
                        tools.push(renamed(t.clone(), names::namespaced(&entry.backend, name)));
                    }
                }
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
        let mut target = self.resolve_direct(&name);
        if target.is_none() {
            // Its backend may still be in its first discovery (tools are screened there).
            self.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
            target = self.resolve_direct(&name);
        }
        let Some((server, tool)) = target else {
            return Err(ErrorObject::new(
                code::INVALID_PARAMS,
                format!("unknown tool `{name}`; use gateway_search_tools to find tools"),
            )
            .into());
        };
        let mut forwarded = params;
        if let Value::Object(obj) = &mut forwarded {
            obj.insert("name".into(), Value::String(tool));
            // Tasks are not advertised by the gateway; never let a backend start one.
            obj.remove("task");
        }
        let backend = self.gateway.backend(&server).ok_or_else(|| {
            ErrorObject::new(code::INVALID_PARAMS, format!("unknown server `{server}`"))
        })?;
        Ok(backend.request("tools/call", Some(forwarded), &ctx).await?)
    }

    /// Maps a directly listed `server__tool` name back to its backend.
    fn resolve_direct(&self, public: &str) -> Option<(String, String)> {
        let cfg = &self.gateway.config.meta_mcp;
        let snapshot = self.gateway.catalog.snapshot();
        let pairs: Vec<(&str, &str)> = if cfg.enabled {
            // Only surfaced tools the catalog holds: a tool the scanner withheld is not there.
            cfg.surface
                .iter()
                .filter(|r| {
                    snapshot
                        .iter()
                        .any(|e| e.backend == r.server && e.tool_names().any(|t| t == r.tool))
                })
                .map(|r| (r.server.as_str(), r.tool.as_str()))
                .collect()
        } else {
            snapshot
                .iter()
                .flat_map(|e| e.tool_names().map(move |t| (e.backend.as_str(), t)))
                .collect()
        };
        NameMap::build(pairs)
            .resolve(public)
            .map(|(s, t)| (s.to_string(), t.to_string()))
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
        loop {
            let notice = match rx.recv().await {
                Ok(n) => n,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("dropped {n} notifications for a slow client");
                    continue;
                }
                Err(_) => return,
            };
            match notice {
                ClientNotice::ToolsListChanged => self.send(Message::notification(
                    "notifications/tools/list_changed",
                    None,
                )),
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

/// One page of `items` under `key`, with the gateway's own cursor (an offset).
fn paginate(items: Vec<Value>, params: &Value, key: &str) -> Outcome {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => c
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                ErrorObject::new(code::INVALID_PARAMS, format!("invalid cursor `{c}`"))
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
