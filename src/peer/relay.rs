//! Relaying requests a backend sends for the client (`sampling/createMessage`,
//! `elicitation/create`, `roots/list`) to the client that caused them, and the answers back.
//!
//! One [`Relay`] per backend: it remembers the client whose request reached the backend last
//! (weakly: a closed session is not kept alive), forwards a backend request there if that client
//! declared the capability (otherwise answers "method not found"), and cancels a relayed request
//! when the backend says so. It owns no transport: it answers through the backend's [`Peer`] and
//! asks through the client's [`ClientLink`], so backend lifecycle code never touches a client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use super::{CallContext, ClientSink, Peer};
use crate::error::CallError;
use crate::jsonrpc::{ErrorObject, Id, Message, code};

/// Sampling and elicitation wait for a human: relayed requests get this long.
const RELAY_TIMEOUT: Duration = Duration::from_secs(600);

/// A connected client as backends see it: where to relay their requests and which of those the
/// client declared it can serve.
pub struct ClientLink {
    /// Requests to the client; its ids are minted here like any other.
    pub peer: Peer,
    /// The `capabilities` object of the client's `initialize`.
    pub capabilities: Value,
    /// Capabilities a backend asked for that the client had not declared (each refused), so a
    /// front can tell the client which ones its request needed.
    refused: Mutex<Vec<&'static str>>,
}

/// The client capability a backend request needs.
fn capability_of(method: &str) -> Option<&'static str> {
    match method {
        "sampling/createMessage" => Some("sampling"),
        "elicitation/create" => Some("elicitation"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}

impl ClientLink {
    pub fn new(sink: ClientSink, capabilities: Value) -> ClientLink {
        ClientLink {
            peer: Peer::new("client", sink),
            capabilities,
            refused: Mutex::new(Vec::new()),
        }
    }

    /// Whether the client declared the capability a backend request needs.
    pub fn supports(&self, method: &str) -> bool {
        capability_of(method)
            .is_some_and(|cap| self.capabilities.get(cap).is_some_and(|v| !v.is_null()))
    }

    /// The capabilities backends asked this client for without it having declared them.
    pub fn refused(&self) -> Vec<&'static str> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn note_refused(&self, method: &str) {
        if let Some(cap) = capability_of(method) {
            let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
            if !refused.contains(&cap) {
                refused.push(cap);
            }
        }
    }
}

/// The relay state of one backend.
#[derive(Default)]
pub struct Relay {
    /// The client whose request reached this backend last; its requests are relayed there.
    last_caller: Mutex<Option<Weak<ClientLink>>>,
    /// Backend request ids (as JSON) of relayed requests, to cancel them on the backend's say.
    relayed: Mutex<HashMap<String, CancellationToken>>,
}

impl Relay {
    /// Remembers `client` as the one the backend's next requests go to.
    pub fn record_caller(&self, client: &Arc<ClientLink>) {
        *self.last_caller.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(client));
    }

    /// Relays request `id` that `backend` sent on `from`; the answer (or a clear error) goes
    /// back on `from`.
    pub fn request(
        self: &Arc<Self>,
        backend: &str,
        from: Arc<Peer>,
        id: Id,
        method: String,
        params: Option<Box<RawValue>>,
    ) {
        let client = self
            .last_caller
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(Weak::upgrade);
        let Some(client) = client.filter(|c| {
            let supported = c.supports(&method);
            if !supported {
                c.note_refused(&method);
            }
            supported
        }) else {
            tracing::debug!(%backend, %method, "backend request the client cannot serve");
            from.respond(Message::error(
                id,
                ErrorObject::new(
                    code::METHOD_NOT_FOUND,
                    format!("the client did not declare support for `{method}`"),
                ),
            ));
            return;
        };
        let cancel = CancellationToken::new();
        let key = serde_json::to_string(&id).unwrap_or_default();
        self.relayed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), cancel.clone());
        let relay = Arc::clone(self);
        tokio::spawn(async move {
            let params = params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
            let ctx = CallContext {
                cancel,
                ..CallContext::default()
            };
            let answer = client
                .peer
                .request(&method, params, &ctx, RELAY_TIMEOUT)
                .await;
            relay
                .relayed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            let result = match answer {
                Ok(r) => Ok(r),
                Err(CallError::Cancelled) => return,
                Err(CallError::Backend { error, .. }) => Err(error),
                Err(other) => Err(ErrorObject::new(code::INTERNAL_ERROR, other.to_string())),
            };
            from.respond(Message::Response { id, result });
        });
    }

    /// The backend cancelled a request it sent (`notifications/cancelled` params).
    pub fn cancelled(&self, params: Option<Box<RawValue>>) {
        let id = params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .and_then(|v| v.get("requestId").cloned());
        if let Some(id) = id {
            let key = id.to_string();
            if let Some(token) = self
                .relayed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key)
            {
                token.cancel();
            }
        }
    }
}
