//! Request/response correlation with one JSON-RPC peer: the only place that mints outgoing request
//! ids and progress tokens (invariant 3).
//!
//! A [`Peer`] is one JSON-RPC connection, whatever its transport: a backend, or a client the
//! gateway sends requests to (sampling, elicitation, roots relayed from a backend). It owns the
//! maps from minted ids back to waiting callers and from minted progress tokens back to the
//! client's own token and session, sends `notifications/cancelled` when a caller gives up, and
//! fails every pending call with a clear error when the connection is lost. It routes nothing by
//! name and never interprets results.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::error::CallError;
use crate::jsonrpc::{Id, Message, to_raw};

pub mod local;
mod relay;

pub use relay::{ClientLink, Relay};

/// Where client-bound messages go (one serialized JSON-RPC message per string): the sink of the
/// session that caused the request.
pub type ClientSink = mpsc::UnboundedSender<String>;

/// What the caller of a forwarded request brings along.
#[derive(Clone, Default)]
pub struct CallContext {
    /// The client's own progress token and the session to deliver progress to.
    pub progress: Option<(Value, ClientSink)>,
    /// Cancelled when the client cancels or the session ends.
    pub cancel: CancellationToken,
    /// The client that caused this request; backend requests made meanwhile are relayed to it.
    pub client: Option<std::sync::Arc<ClientLink>>,
}

type Reply = Result<Box<RawValue>, CallError>;

struct Pending {
    reply: oneshot::Sender<Reply>,
    progress_token: Option<String>,
}

struct ProgressRoute {
    client_token: Value,
    sink: ClientSink,
}

/// Mutable maps, behind one lock so a response and its progress route are dropped together.
#[derive(Default)]
struct Tables {
    pending: HashMap<i64, Pending>,
    progress: HashMap<String, ProgressRoute>,
    /// Set once the connection is gone: new requests fail at once with this detail.
    closed: Option<String>,
}

/// One JSON-RPC connection to a backend.
pub struct Peer {
    backend: String,
    outbound: mpsc::UnboundedSender<String>,
    next_id: AtomicI64,
    tables: Mutex<Tables>,
}

/// A message from the peer that [`Peer::dispatch`] did not consume itself.
#[derive(Debug)]
pub enum Unrouted {
    Notification {
        method: String,
        params: Option<Box<RawValue>>,
    },
    Request {
        id: Id,
        method: String,
        params: Option<Box<RawValue>>,
    },
}

impl Peer {
    /// `outbound` receives serialized lines for the transport to write.
    pub fn new(backend: &str, outbound: mpsc::UnboundedSender<String>) -> Peer {
        Peer {
            backend: backend.to_string(),
            outbound,
            next_id: AtomicI64::new(1),
            tables: Mutex::new(Tables::default()),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A poisoned lock only means another thread panicked mid-update of plain maps.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a request and waits for its answer, the timeout, or cancellation. `params` is the
    /// caller's object; only `_meta.progressToken` is replaced with a minted token.
    pub async fn request(
        &self,
        method: &str,
        params: Option<Value>,
        ctx: &CallContext,
        timeout: Duration,
    ) -> Reply {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut params = params;
        let progress_token = match (&ctx.progress, params.as_mut()) {
            (Some((client_token, sink)), Some(Value::Object(obj))) => {
                let token = format!("gw-{}-{id}", self.backend);
                if let Some(Value::Object(meta)) = obj.get_mut("_meta") {
                    meta.insert("progressToken".into(), Value::String(token.clone()));
                }
                Some((token, client_token.clone(), sink.clone()))
            }
            _ => None,
        };
        {
            let mut t = self.tables();
            if let Some(detail) = &t.closed {
                return Err(CallError::Disconnected {
                    backend: self.backend.clone(),
                    detail: detail.clone(),
                });
            }
            let key = progress_token.map(|(token, client_token, sink)| {
                t.progress
                    .insert(token.clone(), ProgressRoute { client_token, sink });
                token
            });
            t.pending.insert(
                id,
                Pending {
                    reply: tx,
                    progress_token: key,
                },
            );
        }
        let msg = Message::Request {
            id: Id::Number(id),
            method: method.to_string(),
            params: params.map(|p| to_raw(&p)),
        };
        if self.outbound.send(msg.to_json()).is_err() {
            self.forget(id);
            return Err(CallError::Disconnected {
                backend: self.backend.clone(),
                detail: "closed its connection".into(),
            });
        }
        tokio::select! {
            reply = rx => reply.unwrap_or_else(|_| Err(CallError::Disconnected {
                backend: self.backend.clone(),
                detail: "closed its connection".into(),
            })),
            _ = tokio::time::sleep(timeout) => {
                self.cancel(id, "timeout");
                Err(CallError::Timeout { backend: self.backend.clone(), after: timeout })
            }
            _ = ctx.cancel.cancelled() => {
                self.cancel(id, "cancelled by the client");
                Err(CallError::Cancelled)
            }
        }
    }

    /// Sends a notification (fire and forget).
    pub fn notify(&self, method: &str, params: Option<Value>) {
        let msg = Message::Notification {
            method: method.to_string(),
            params: params.map(|p| to_raw(&p)),
        };
        let _ = self.outbound.send(msg.to_json());
    }

    /// Answers a request the backend sent.
    pub fn respond(&self, msg: Message) {
        let _ = self.outbound.send(msg.to_json());
    }

    fn forget(&self, id: i64) {
        let mut t = self.tables();
        if let Some(p) = t.pending.remove(&id)
            && let Some(token) = p.progress_token
        {
            t.progress.remove(&token);
        }
    }

    fn cancel(&self, id: i64, reason: &str) {
        self.forget(id);
        self.notify(
            "notifications/cancelled",
            Some(json!({ "requestId": id, "reason": reason })),
        );
    }

    /// Routes one message from the backend: answers go to their callers, progress to the client
    /// that asked (with its own token); anything else is returned to the caller.
    pub fn dispatch(&self, msg: Message) -> Option<Unrouted> {
        match msg {
            Message::Response { id, result } => {
                // Some servers answer a numeric id as a string ("7" for 7): same request.
                let number = match &id {
                    Id::Number(n) => Some(*n),
                    Id::String(text) => text.parse::<i64>().ok(),
                    _ => None,
                };
                let Some(n) = number else {
                    tracing::warn!(backend = %self.backend, %id, "response with an id the gateway never sent");
                    return None;
                };
                let pending = {
                    let mut t = self.tables();
                    let p = t.pending.remove(&n);
                    if let Some(token) = p.as_ref().and_then(|p| p.progress_token.as_ref()) {
                        t.progress.remove(token);
                    }
                    p
                };
                match pending {
                    Some(p) => {
                        let _ = p.reply.send(result.map_err(|error| CallError::Backend {
                            backend: self.backend.clone(),
                            error,
                        }));
                    }
                    None => {
                        tracing::debug!(backend = %self.backend, id = n, "late response (cancelled or timed out)")
                    }
                }
                None
            }
            Message::Notification { method, params } if method == "notifications/progress" => {
                self.route_progress(params);
                None
            }
            Message::Notification { method, params } => {
                Some(Unrouted::Notification { method, params })
            }
            Message::Request { id, method, params } => {
                Some(Unrouted::Request { id, method, params })
            }
        }
    }

    fn route_progress(&self, params: Option<Box<RawValue>>) {
        let Some(mut value) = params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
        else {
            return;
        };
        let token = match value.get("progressToken") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return,
        };
        let route = {
            let t = self.tables();
            t.progress
                .get(&token)
                .map(|r| (r.client_token.clone(), r.sink.clone()))
        };
        let Some((client_token, sink)) = route else {
            tracing::debug!(backend = %self.backend, %token, "progress for an unknown token dropped");
            return;
        };
        if let Value::Object(obj) = &mut value {
            obj.insert("progressToken".into(), client_token);
        }
        let _ = sink
            .send(Message::notification("notifications/progress", Some(to_raw(&value))).to_json());
    }

    /// Marks the connection lost and fails every pending call with `detail`.
    pub fn close(&self, detail: &str) {
        let pending: Vec<Pending> = {
            let mut t = self.tables();
            t.closed = Some(detail.to_string());
            t.progress.clear();
            t.pending.drain().map(|(_, p)| p).collect()
        };
        for p in pending {
            let _ = p.reply.send(Err(CallError::Disconnected {
                backend: self.backend.clone(),
                detail: detail.to_string(),
            }));
        }
    }

    /// Number of requests waiting for an answer.
    pub fn in_flight(&self) -> usize {
        self.tables().pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> (std::sync::Arc<Peer>, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (std::sync::Arc::new(Peer::new("b", tx)), rx)
    }

    #[tokio::test]
    async fn maps_ids_and_progress_tokens_both_ways() {
        let (peer, mut out) = peer();
        let (sink, mut client) = mpsc::unbounded_channel();
        let ctx = CallContext {
            progress: Some((json!(42), sink)),
            ..CallContext::default()
        };
        let p2 = peer.clone();
        let call = tokio::spawn(async move {
            p2.request(
                "tools/call",
                Some(json!({"name": "t", "_meta": {"progressToken": 42}})),
                &ctx,
                Duration::from_secs(5),
            )
            .await
        });
        let sent: Value = serde_json::from_str(&out.recv().await.unwrap()).unwrap();
        let token = sent["params"]["_meta"]["progressToken"].clone();
        assert_ne!(token, json!(42), "token must be minted by the peer");
        let id = sent["id"].as_i64().unwrap();
        let progress = format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":1}}}}"#
        );
        assert!(peer.dispatch(Message::parse(&progress).unwrap()).is_none());
        let note: Value = serde_json::from_str(&client.recv().await.unwrap()).unwrap();
        let params = &note["params"];
        assert_eq!(params["progressToken"], json!(42));
        let resp = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"x":1.50}}}}"#);
        peer.dispatch(Message::parse(&resp).unwrap());
        assert_eq!(call.await.unwrap().unwrap().get(), r#"{"x":1.50}"#);
        assert_eq!(peer.in_flight(), 0);
    }

    #[tokio::test]
    async fn timeout_sends_cancel_and_close_fails_pending() {
        let (peer, mut out) = peer();
        let r = peer
            .request(
                "x",
                None,
                &CallContext::default(),
                Duration::from_millis(20),
            )
            .await;
        assert!(matches!(r, Err(CallError::Timeout { .. })));
        let _req = out.recv().await.unwrap();
        let cancel: Value = serde_json::from_str(&out.recv().await.unwrap()).unwrap();
        assert_eq!(cancel["method"], "notifications/cancelled");
        assert_eq!(cancel["params"]["requestId"], 1);

        let p2 = peer.clone();
        let call = tokio::spawn(async move {
            p2.request("y", None, &CallContext::default(), Duration::from_secs(5))
                .await
        });
        let _ = out.recv().await;
        peer.close("exited with status 1");
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "backend 'b' exited with status 1 while the request was in flight"
        );
    }
}
