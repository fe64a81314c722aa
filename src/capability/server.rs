//! The capabilities backend as an in-process MCP server (a [`LocalServer`] hosted by
//! [`LocalConnection`], like the skills).
//!
//! Owns serving the loaded [`CapabilitySet`] over JSON-RPC to the gateway's backend machinery
//! (`initialize`, `ping`, `tools/list`, `tools/call`), reloading it when the watcher fires and
//! announcing `notifications/tools/list_changed` so the catalog, the index and clients follow.
//! After every load it reports what it could not serve (files not loaded, quarantined tools)
//! through the callback its backend handle gave it, like any backend reports its status. It
//! lists every loaded tool: screening them is the gateway's job, the same for every backend. It
//! never spawns processes and never writes files.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{CapabilitySet, PinStore};
use crate::config::CapabilitiesSpec;
use crate::jsonrpc::{ErrorObject, code};
use crate::peer::Unrouted;
use crate::peer::local::{LocalConnection, LocalServer, Reply};

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

/// The capabilities as a [`LocalServer`]: what it serves, reloaded from its files.
struct CapabilityServer {
    backend: String,
    spec: CapabilitiesSpec,
    report: ReportFn,
    state: RwLock<State>,
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

/// Loads the capabilities, starts watching their directories and serving requests.
pub fn start(
    backend: &str,
    spec: &CapabilitiesSpec,
    report: ReportFn,
) -> Result<(Arc<LocalConnection>, mpsc::UnboundedReceiver<Unrouted>), String> {
    let state = RwLock::new(load(spec, backend, &report));
    let server = Arc::new(CapabilityServer {
        backend: backend.to_string(),
        spec: spec.clone(),
        report,
        state,
    });
    let (watcher, reloads) = super::watch::reloads(&spec.directories, backend, "capability");
    Ok(LocalConnection::start(backend, server, reloads, watcher))
}

impl LocalServer for CapabilityServer {
    fn handle(self: Arc<Self>, method: String, params: Value) -> Reply {
        Box::pin(async move { handle(&self.state, &method, &params).await })
    }

    fn reload(&self) -> Vec<&'static str> {
        let fresh = load(&self.spec, &self.backend, &self.report);
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        vec!["notifications/tools/list_changed"]
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
    Some(crate::config::BackendConfig::in_process(
        name,
        "REST APIs described by capability files",
        crate::config::Transport::Capabilities(CapabilitiesSpec {
            directories: caps.directories.clone(),
            pins: paths.map(|p| p.state_dir.join(super::pins::LOCK_FILE)),
        }),
    ))
}
