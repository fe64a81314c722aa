//! The capabilities backend as an in-process MCP server behind the router's [`Peer`].
//!
//! Owns serving the loaded [`CapabilitySet`] over JSON-RPC to the gateway's backend machinery
//! (`initialize`, `ping`, `tools/list`, `tools/call`), reloading it when the watcher fires and
//! announcing `notifications/tools/list_changed` so the catalog, the index and clients follow.
//! Tools with a high-severity scanner finding are withheld from `tools/list` (logged with the
//! reason); medium findings are logged. It never spawns processes and never writes files.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{CapabilitySet, LoadProblem, PinStore};
use crate::jsonrpc::{ErrorObject, Message, code, to_raw};
use crate::router::{Peer, Unrouted};
use crate::scanner;

/// Quiet time after the last file change before reloading.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(100);

/// Where the capabilities come from.
#[derive(Debug, Clone, PartialEq)]
pub struct CapabilitiesSpec {
    pub directories: Vec<PathBuf>,
    /// The pin lock file (`None`: nothing is pinned).
    pub pins: Option<PathBuf>,
    /// What the last load could not serve, for `gateway_list_servers` and `gateway_invoke`.
    pub board: Board,
    /// Scanner findings the operator accepted (`scanner.allow`).
    pub allow: scanner::AllowList,
}

/// The problems of the last load, shared with whoever reports status.
#[derive(Debug, Clone, Default)]
pub struct Board(Arc<RwLock<(Vec<LoadProblem>, Vec<super::Quarantined>)>>);

/// A board is status, not configuration: two specs differing only in it are the same config.
impl PartialEq for Board {
    fn eq(&self, _: &Board) -> bool {
        true
    }
}

impl Board {
    fn set(&self, problems: Vec<LoadProblem>, quarantined: Vec<super::Quarantined>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = (problems, quarantined);
    }

    /// Files not loaded at the last (re)load, as `file:line: key: message` lines.
    pub fn problems(&self) -> Vec<String> {
        let guard = self.0.read().unwrap_or_else(|e| e.into_inner());
        guard.0.iter().map(ToString::to_string).collect()
    }

    /// Why `tool` is not served, when it belongs to a file quarantined as changed since approval.
    pub fn quarantine_reason(&self, tool: &str) -> Option<String> {
        let guard = self.0.read().unwrap_or_else(|e| e.into_inner());
        guard.1.iter().find(|q| q.names.iter().any(|n| n == tool)).map(|q| {
            format!(
                "`{tool}` is quarantined: {} changed since approval; review it, then run `mcp-gateway cap approve {tool}`",
                q.file.display()
            )
        })
    }
}

struct State {
    set: Arc<CapabilitySet>,
    /// Tools served (scanned, high findings withheld).
    tools: Vec<Value>,
    problems: Vec<LoadProblem>,
}

/// A running in-process capabilities server.
pub struct CapabilityConnection {
    pub peer: Arc<Peer>,
    state: Arc<RwLock<State>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    _watcher: Option<super::Watcher>,
}

fn load(spec: &CapabilitiesSpec, backend: &str) -> State {
    let pins = match &spec.pins {
        Some(path) => PinStore::open_at(path.clone()).unwrap_or_else(|e| {
            tracing::error!(backend, "{e}; treating every file as unpinned");
            PinStore::in_memory()
        }),
        None => PinStore::in_memory(),
    };
    let (set, problems) = CapabilitySet::load(&spec.directories, &pins);
    let tools = scanner::screen(backend, set.tools(), &spec.allow);
    tracing::info!(
        backend,
        tools = tools.len(),
        problems = problems.len(),
        "capabilities loaded"
    );
    spec.board.set(problems.clone(), set.quarantined().to_vec());
    State {
        set: Arc::new(set),
        tools,
        problems,
    }
}

impl CapabilityConnection {
    /// Loads the capabilities, starts watching their directories and serving requests.
    pub fn start(
        backend: &str,
        spec: &CapabilitiesSpec,
    ) -> Result<(Arc<CapabilityConnection>, mpsc::UnboundedReceiver<Unrouted>), String> {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let peer = Arc::new(Peer::new(backend, out_tx));
        let (unrouted_tx, unrouted_rx) = mpsc::unbounded_channel();
        let state = Arc::new(RwLock::new(load(spec, backend)));
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
                        let fresh = load(&spec, &name);
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
                state,
                tasks: Mutex::new(tasks),
                _watcher: watcher,
            }),
            unrouted_rx,
        ))
    }

    /// Files that were not loaded (invalid, or changed since approval), as of the last load.
    pub fn problems(&self) -> Vec<LoadProblem> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .problems
            .clone()
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
            let (set, served) = {
                let s = state.read().unwrap_or_else(|e| e.into_inner());
                let served = s.tools.iter().any(|t| t["name"] == name);
                (Arc::clone(&s.set), served)
            };
            if !served && set.get(name).is_some() {
                return Ok(json!({
                    "content": [{"type": "text", "text": format!("`{name}` is withheld: its description failed the security scan (see the gateway log)")}],
                    "isError": true,
                }));
            }
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
            board: Board::default(),
            allow: config.scanner_allow.clone(),
        }),
        timeout: crate::config::DEFAULT_TIMEOUT,
        // In process and watching its files: never stopped for idleness.
        idle_timeout: Duration::from_secs(10 * 365 * 24 * 3600),
    })
}
