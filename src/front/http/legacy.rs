//! One legacy-era (2024-11-05 … 2025-11-25) Streamable HTTP session: a gateway session behind an
//! `Mcp-Session-Id`, and the routing of what it sends back to the right HTTP stream.
//!
//! Owns: the answer to a POSTed request goes to that POST (as JSON, or as an SSE stream when
//! progress comes first); progress goes to the POST whose `progressToken` it carries; a
//! backend→client request (sampling, elicitation, roots) and every other notification go to the
//! session's GET stream, or, while none is open, to a POST still waiting, or else into a bounded
//! backlog the next GET stream receives first. It never interprets methods.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::front::link::Link;
use crate::gateway::Gateway;
use crate::jsonrpc::{Id, Message};
use crate::session::Surface;

/// Messages a stream may hold unread before the client counts as too slow.
pub const STREAM_BUFFER: usize = 256;
/// Messages kept for a GET stream that is not open.
const BACKLOG: usize = 256;

#[derive(Default)]
struct Routes {
    /// Client request id → the POST waiting for its answer.
    pending: HashMap<Id, mpsc::Sender<Message>>,
    /// Progress token (as JSON text) → the request that brought it.
    progress: HashMap<String, Id>,
    /// The GET stream, if open.
    stream: Option<mpsc::Sender<Message>>,
    backlog: VecDeque<Message>,
}

/// A legacy session.
pub struct LegacySession {
    link: Link,
    /// The caller that opened it: only that caller may use it.
    caller: std::sync::Arc<str>,
    /// The version `initialize` negotiated.
    pub version: String,
    /// What it shows: a session opened on `/mcp/{backend}` is served there only.
    pub surface: Surface,
    routes: Arc<Mutex<Routes>>,
}

impl LegacySession {
    /// Starts a session for `caller` showing `surface`; its first message should be the
    /// client's `initialize`.
    pub fn open(
        gateway: Arc<Gateway>,
        version: String,
        caller: Caller,
        surface: Surface,
    ) -> Arc<LegacySession> {
        let name = Arc::clone(&caller.name);
        let (link, mut rx) = Link::open(gateway, caller, "http", surface.clone());
        let routes = Arc::new(Mutex::new(Routes::default()));
        let r = Arc::clone(&routes);
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                route(&r, msg);
            }
        });
        Arc::new(LegacySession {
            link,
            caller: name,
            version,
            surface,
            routes,
        })
    }

    /// Whether `caller` opened this session (a session id is never a credential: another
    /// caller presenting it is told the session does not exist).
    pub fn belongs_to(&self, caller: &Caller) -> bool {
        self.caller == caller.name
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a client request; its answer (and progress) arrive on the returned receiver.
    /// `None` when a request with this id is still in flight: its route is kept and nothing is
    /// sent (the session's rule, applied before the route could be replaced).
    pub fn request(&self, id: Id, params: &Value, line: String) -> Option<mpsc::Receiver<Message>> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        {
            let mut r = self.routes();
            if r.pending.contains_key(&id) {
                return None;
            }
            if let Some(token) = params.pointer("/_meta/progressToken") {
                r.progress.insert(token.to_string(), id.clone());
            }
            r.pending.insert(id, tx);
        }
        self.link.send_raw(line);
        Some(rx)
    }

    /// Sends a client notification or response. A `notifications/cancelled` also frees the
    /// cancelled request's route: the session sends no answer for it, so its id may be reused.
    pub fn send(&self, line: String) {
        if let Ok(Message::Notification { method, params }) = Message::parse(&line)
            && method == "notifications/cancelled"
            && let Some(id) = crate::session::cancelled_id(params.as_deref())
        {
            let mut r = self.routes();
            r.pending.remove(&id);
            r.progress.retain(|_, v| *v != id);
        }
        self.link.send_raw(line);
    }

    /// Opens (or replaces) the GET stream; it starts with what was kept while none was open.
    pub fn open_stream(&self) -> mpsc::Receiver<Message> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut r = self.routes();
        while let Some(m) = r.backlog.pop_front() {
            if tx.try_send(m).is_err() {
                break;
            }
        }
        r.stream = Some(tx);
        rx
    }

    /// Closes the GET stream (shutdown): the client sees its end.
    pub fn close_stream(&self) {
        self.routes().stream = None;
    }
}

fn route(routes: &Mutex<Routes>, msg: Message) {
    let mut r = routes.lock().unwrap_or_else(|e| e.into_inner());
    match msg {
        Message::Response { ref id, .. } => {
            let id = id.clone();
            r.progress.retain(|_, v| *v != id);
            if let Some(tx) = r.pending.remove(&id) {
                // The answer is never dropped, even behind a full stream.
                if let Err(mpsc::error::TrySendError::Full(m)) = tx.try_send(msg) {
                    tokio::spawn(async move {
                        let _ = tx.send(m).await;
                    });
                }
            }
        }
        Message::Notification {
            ref method,
            ref params,
        } if method == "notifications/progress" => {
            let token = params
                .as_ref()
                .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                .and_then(|v| v.get("progressToken").map(Value::to_string));
            let target = token
                .and_then(|t| r.progress.get(&t).cloned())
                .and_then(|id| r.pending.get(&id).cloned());
            match target {
                Some(tx) => {
                    let _ = tx.try_send(msg);
                }
                None => general(&mut r, msg, false),
            }
        }
        Message::Request { .. } => general(&mut r, msg, true),
        Message::Notification { .. } => general(&mut r, msg, false),
    }
}

/// Delivers a message that belongs to no particular request.
fn general(r: &mut Routes, msg: Message, may_use_post: bool) {
    let msg = match r.stream.take() {
        Some(tx) => match tx.try_send(msg) {
            Ok(()) => {
                r.stream = Some(tx);
                return;
            }
            Err(mpsc::error::TrySendError::Full(m)) => {
                tracing::warn!("a client reads its event stream too slowly; closing it");
                m
            }
            Err(mpsc::error::TrySendError::Closed(m)) => m,
        },
        None => msg,
    };
    let msg = if may_use_post {
        // A backend is waiting on this request: any POST still streaming can carry it.
        let tx = r.pending.values().find(|tx| tx.capacity() > 0).cloned();
        match tx {
            Some(tx) => match tx.try_send(msg) {
                Ok(()) => return,
                Err(e) => e.into_inner(),
            },
            None => msg,
        }
    } else {
        msg
    };
    if r.backlog.len() >= BACKLOG {
        r.backlog.pop_front();
    }
    r.backlog.push_back(msg);
}
