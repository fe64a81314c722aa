//! The capabilities backend as an in-process MCP server behind a [`Peer`].
//!
//! Owns serving the loaded [`CapabilitySet`] over JSON-RPC to the gateway's backend machinery
//! (`initialize`, `ping`, `tools/list`, `tools/call`), reloading it when the watcher fires and
//! announcing `notifications/tools/list_changed` so the catalog, the index and clients follow.
//! After every load it reports what it could not serve (files not loaded, quarantined tools)
//! through the callback its backend handle gave it, like any backend reports its status. It
//! lists every loaded tool: screening them is the gateway's job, the same for every backend. It
//! never spawns processes and never writes files.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{CapabilitySet, PinStore};
use crate::config::CapabilitiesSpec;
use crate::jsonrpc::{ErrorObject, Message, code, to_raw};
use crate::peer::{Peer, Unrouted};

/// Quiet time after the last file change before reloading.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(100);

/// Receives, after every load, the problems (`file:line: key: message` lines) and the tools held
/// back with why.
pub type ReportFn = Arc<dyn Fn(Vec<String>, Vec<(String, String)>) + Send + Sync>;

struct State {
    set: Arc<CapabilitySet>,
    /// Tools served.
    tools: Vec<Value>,
}

/// A running in-process capabilities server.
pub struct CapabilityConnection {
    pub peer: Arc<Peer>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    _watcher: Option<super::Watcher>,
}

fn load(spec: &CapabilitiesSpec, backend: &str, report: &ReportFn) -> State {
    let pins = match &spec.pins {
        Some(path) => PinStore::open_at(path.clone()).unwrap_or_else(|e| {
            tracing::error!(backend, "{e}; treating every file as unpinned");
            PinStore::in_memory()
        }),
        None => PinStore::in_memory(),
    };
    let (set, problems) = CapabilitySet::load(&spec.directories, &pins);
    let tools = set.tools();
    tracing::info!(
        backend,
        tools = tools.len(),
        problems = problems.len(),
        "capabilities loaded"
    );
    let held = set
        .quarantined()
        .iter()
        .flat_map(|q| q.names.iter().map(|n| (n.clone(), q.reason(n))))
        .collect();
    report(problems.iter().map(ToString::to_string).collect(), held);
    State {
        set: Arc::new(set),
        tools,
    }
}

impl CapabilityConnection {
    /// Loads the capabilities, starts watching their directories and serving requests.
    pub fn start(
        backend: &str,
        spec: &CapabilitiesSpec,
        report: ReportFn,
    ) -> Result<(Arc<CapabilityConnection>, mpsc::UnboundedReceiver<Unrouted>), String> {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let peer = Arc::new(Peer::new(backend, out_tx));
        let (unrouted_tx, unrouted_rx) = mpsc::unbounded_channel();
        let state = Arc::new(RwLock::new(load(spec, backend, &report)));
        let mut tasks = Vec::new();

        // Requests from the gateway.
        let (serve_peer, serve_state, name) =
            (Arc::clone(&peer), Arc::clone(&state), backend.to_string());
        tasks.push(tokio::spawn(async move {
            while let Some(line) = out_rx.recv().await {
                let msg = match Message::parse(&line) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(backend = %name, "unparseable message to capabilities: {e}");
                        continue;
                    }
                };
                if let Message::Request { id, method, params } = msg {
                    let params: Value = params
                        .and_then(|p| serde_json::from_str(p.get()).ok())
                        .unwrap_or(Value::Null);
                    let (peer, state) = (Arc::clone(&serve_peer), Arc::clone(&serve_state));
                    tokio::spawn(async move {
                        let reply = handle(&state, &method, &params).await;
                        let _ = peer.dispatch(match reply {
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

        // Reload on change, then announce it.
        let watcher = match super::watch(&spec.directories, RELOAD_DEBOUNCE) {
            Ok((w, mut rx)) => {
                let (peer, state, spec, name) = (
                    Arc::clone(&peer),
                    Arc::clone(&state),
                    spec.clone(),
                    backend.to_string(),
                );
                tasks.push(tokio::spawn(async move {
                    while rx.recv().await.is_some() {
                        let fresh = load(&spec, &name, &report);
                        *state.write().unwrap_or_else(|e| e.into_inner()) = fresh;
                        let note = Message::notification("notifications/tools/list_changed", None);
                        if let Some(u) = peer.dispatch(note)
                            && unrouted_tx.send(u).is_err()
                        {
                            break;
                        }
                    }
                }));
                Some(w)
            }
            Err(e) => {
                tracing::warn!(
                    backend,
                    "capability directories are not watched (no live reload): {e}"
                );
                None
            }
        };
        Ok((
            Arc::new(CapabilityConnection {
                peer,
                tasks: Mutex::new(tasks),
                _watcher: watcher,
            }),
            unrouted_rx,
        ))
    }

    /// Always usable while it exists.
    pub fn exit_detail(&self) -> Option<String> {
        None
    }

    /// Stops serving and watching.
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

async fn handle(state: &RwLock<State>, method: &str, params: &Value) -> Result<Value, ErrorObject> {
    match method {
        "initialize" => {
            let version = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or(crate::mcp::LATEST_VERSION);
            Ok(json!({
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": true}},
                "serverInfo": {"name": "mcp-gateway-capabilities", "version": env!("CARGO_PKG_VERSION")},
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => {
            let tools = state
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .tools
                .clone();
            Ok(json!({ "tools": tools }))
        }
        "tools/call" => {
            let Some(name) = params.get("name").and_then(Value::as_str) else {
                return Err(ErrorObject::new(code::INVALID_PARAMS, "`name` is required"));
            };
            let set = Arc::clone(&state.read().unwrap_or_else(|e| e.into_inner()).set);
            let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
            Ok(set.call(name, arguments).await)
        }
        other => Err(ErrorObject::new(
            code::METHOD_NOT_FOUND,
            format!("the capabilities backend does not implement `{other}`"),
        )),
    }
}

/// The backend the gateway adds for `capabilities:` (named [`super::DEFAULT_BACKEND_NAME`]),
/// or `None` when capabilities are off, no directory is configured, or a configured backend
/// already uses the name.
pub fn backend_config(
    config: &crate::config::Config,
    paths: Option<&crate::state::Paths>,
) -> Option<crate::config::BackendConfig> {
    let caps = &config.capabilities;
    if !caps.enabled || caps.directories.is_empty() {
        return None;
    }
    let name = super::DEFAULT_BACKEND_NAME;
    if config.backends.contains_key(name) {
        tracing::warn!("a backend is named `{name}`: the REST capabilities are not served");
        return None;
    }
    Some(crate::config::BackendConfig {
        name: name.to_string(),
        tags: Vec::new(),
        description: Some("REST APIs described by capability files".to_string()),
        enabled: true,
        transport: crate::config::Transport::Capabilities(CapabilitiesSpec {
            directories: caps.directories.clone(),
            pins: paths.map(|p| p.state_dir.join(super::pins::LOCK_FILE)),
        }),
        timeout: crate::config::DEFAULT_TIMEOUT,
        // In process and watching its files: never stopped for idleness.
        idle_timeout: Duration::from_secs(10 * 365 * 24 * 3600),
        tools: crate::config::ToolFilter::default(),
    })
}
