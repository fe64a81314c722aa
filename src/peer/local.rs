//! An in-process MCP server behind a [`Peer`]: the one mechanism that hosts the gateway's own
//! backends (the REST capabilities and the skills) like any other backend.
//!
//! Owns the plumbing between a [`LocalServer`] and the gateway's backend machinery: requests the
//! gateway sends through the peer are answered by the server (each on its own task), and on
//! every reload signal the server loads again and the `list_changed` notifications it names are
//! announced, so the catalog, the index and clients follow. It never reads files itself and never
//! decides when to reload: what is served is the server's, when to reload is its watcher's.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::{Peer, Unrouted};
use crate::jsonrpc::{ErrorObject, Message, to_raw};

/// The answer to one request: a result or a JSON-RPC error.
pub type Reply = Pin<Box<dyn Future<Output = Result<Value, ErrorObject>> + Send>>;

/// What an in-process backend serves.
pub trait LocalServer: Send + Sync + 'static {
    /// Answers one request of the gateway (`initialize`, `tools/list`, `tools/call`, …).
    fn handle(self: Arc<Self>, method: String, params: Value) -> Reply;
    /// Loads again from its files; returns the `notifications/…/list_changed` methods to announce.
    fn reload(&self) -> Vec<&'static str>;
}

/// A running in-process server.
pub struct LocalConnection {
    pub peer: Arc<Peer>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Whatever keeps the reload signal alive (a file watcher).
    _keep: Option<Box<dyn Send + Sync>>,
}

impl LocalConnection {
    /// Serves `server` as backend `backend`; each `()` from `reloads` reloads it and announces
    /// what changed. `keep` lives as long as the connection (the watcher behind `reloads`).
    /// Must be called inside a tokio runtime.
    pub fn start(
        backend: &str,
        server: Arc<dyn LocalServer>,
        reloads: Option<mpsc::Receiver<()>>,
        keep: Option<Box<dyn Send + Sync>>,
    ) -> (Arc<LocalConnection>, mpsc::UnboundedReceiver<Unrouted>) {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let peer = Arc::new(Peer::new(backend, out_tx));
        let (unrouted_tx, unrouted_rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();

        // Requests from the gateway.
        let (serve_peer, serve_server, name) =
            (Arc::clone(&peer), Arc::clone(&server), backend.to_string());
        tasks.push(tokio::spawn(async move {
            while let Some(line) = out_rx.recv().await {
                let msg = match Message::parse(&line) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(backend = %name, "unparseable message to an in-process backend: {e}");
                        continue;
                    }
                };
                if let Message::Request { id, method, params } = msg {
                    let params: Value = params
                        .and_then(|p| serde_json::from_str(p.get()).ok())
                        .unwrap_or(Value::Null);
                    let reply = Arc::clone(&serve_server).handle(method, params);
                    let peer = Arc::clone(&serve_peer);
                    tokio::spawn(async move {
                        let _ = peer.dispatch(match reply.await {
                            Ok(v) => Message::Response {
                                id,
                                result: Ok(to_raw(&v)),
                            },
                            Err(e) => Message::error(id, e),
                        });
                    });
                }
            }
        }));

        // Reload on signal, then announce it.
        if let Some(mut rx) = reloads {
            let peer = Arc::clone(&peer);
            tasks.push(tokio::spawn(async move {
                while rx.recv().await.is_some() {
                    for method in server.reload() {
                        let note = Message::notification(method, None);
                        if let Some(u) = peer.dispatch(note)
                            && unrouted_tx.send(u).is_err()
                        {
                            return;
                        }
                    }
                }
            }));
        }
        (
            Arc::new(LocalConnection {
                peer,
                tasks: Mutex::new(tasks),
                _keep: keep,
            }),
            unrouted_rx,
        )
    }

    /// Always usable while it exists.
    pub fn exit_detail(&self) -> Option<String> {
        None
    }

    /// Stops serving and reloading.
    pub async fn shutdown(&self, _grace: Duration) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
        self.peer.close("stopped");
    }
}
