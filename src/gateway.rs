//! The gateway's shared state: backends, catalog, search index, and the tasks that keep them
//! in step (discovery at startup, catalog refresh on first start and on `list_changed`, the idle
//! sweeper). Sessions hold an `Arc<Gateway>`; it never speaks to a client directly, it only
//! broadcasts [`ClientNotice`]s that each session turns into messages for its client. Every task
//! it starts is owned by its [`Background`] and stopped by [`Gateway::shutdown`] in the order
//! documented in [`crate::shutdown`].
//!
//! The config and the set of backends are swappable ([`Gateway::reload_from_disk`], in
//! `reload.rs`, with the file watch and the error kept while an edit is invalid): a backend
//! untouched by a reload keeps its handle (the same `Arc<Backend>`, so its process and sessions)
//! across it.
//!
//! This file owns the state itself (the [`Gateway`] struct, [`Gateway::start`], the backend
//! accessors); the work on it lives in one child per responsibility, each an `impl Gateway`
//! block: `refresh.rs` (discovery, refresh and the screening of every backend's tools),
//! `search.rs` (the index, the embedder, the one search path), `surface.rs` (the one rule for
//! which tools are listed directly), `metrics.rs` (usage profiles saved, `/metrics`),
//! `tasks.rs` (the event loop, the idle sweeper, shutdown) and `reload.rs`.

mod metrics;
mod refresh;
mod reload;
mod search;
mod surface;
mod tasks;

pub use reload::{ConfigSource, ReloadReport};
pub use search::Kind;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};

use crate::backend::process::Reaper;
use crate::backend::{Backend, BackendEnv};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::request_log::{self, RequestLog};
use crate::search::{Embedder, SearchError, SearchIndex};
use crate::shutdown::Background;
use crate::state::Paths;
use search::embed_in_background;
use tasks::relay_instance_events;

/// Catalog entries older than this are refreshed in the background at startup.
const CATALOG_TTL: Duration = Duration::from_secs(24 * 3600);

/// Something every connected client should hear about.
#[derive(Debug, Clone)]
pub enum ClientNotice {
    /// What `tools/list` returns has changed.
    ToolsListChanged,
    /// One backend's own tools changed (what its `/mcp/{backend}` surface lists).
    BackendToolsChanged {
        backend: String,
    },
    ResourcesListChanged,
    PromptsListChanged,
    /// A reload added, removed or changed these backends: what `tools/list`, the catalog and
    /// each `/mcp/{backend}` surface show may have changed for a session that sees one of them.
    ServersChanged {
        servers: Vec<ServerChange>,
    },
    /// A backend's `notifications/message`, with the backend as logger prefix.
    Log {
        backend: String,
        params: Value,
    },
    /// Any other backend notification for clients, already namespaced.
    Forward {
        method: String,
        params: Value,
    },
}

/// A backend a reload touched, with its tags (before and after) for scope checks.
#[derive(Debug, Clone)]
pub struct ServerChange {
    pub name: String,
    pub tags: Vec<String>,
}

/// How long a list or search waits for first discoveries before answering without them.
pub const DISCOVERY_WAIT: Duration = Duration::from_secs(5);

pub struct Gateway {
    /// What a per-session instance of an `isolate: true` backend is made with.
    instance_env: BackendEnv,
    /// The running config (swapped whole by a reload).
    config: RwLock<Arc<Config>>,
    /// The handles of the enabled backends (the config's, the capabilities', the skills').
    /// Lock order: `backends` before `index`, never the other way round.
    backends: RwLock<BTreeMap<String, Arc<Backend>>>,
    /// What new shared backends are made with (a reload adds some).
    env: Mutex<BackendEnv>,
    /// Live reload: where the config is read from, the error of the last invalid edit, one
    /// reload at a time (see `reload.rs`).
    reloading: reload::State,
    pub catalog: Catalog,
    index: RwLock<SearchIndex>,
    /// False until the persisted catalog is indexed (done off the startup path, so `initialize`
    /// is answered at once; searches wait for it).
    index_ready: watch::Sender<bool>,
    /// The embedding model once loading was tried (`None` inside: none installed or unusable).
    embedder: std::sync::OnceLock<Option<Arc<Embedder>>>,
    /// Asks the background embedder to give new tools their vectors.
    embed_wanted: Arc<tokio::sync::Notify>,
    /// Bumped after each background embedding run.
    embed_runs: watch::Sender<u64>,
    /// Backends whose first discovery is still running.
    discovering: watch::Sender<BTreeSet<String>>,
    /// Backends being refreshed → whether another refresh was asked for meanwhile.
    refreshing: Mutex<HashMap<String, bool>>,
    notices: broadcast::Sender<ClientNotice>,
    /// The client's `initialize` capabilities; backends wait for them before starting.
    client_caps: watch::Sender<Option<Value>>,
    paths: Option<Paths>,
    /// Per-tool usage profiles (calls, outcomes, latency, last use; the search usage prior
    /// reads them), persisted in the state dir.
    pub profiles: Arc<crate::metrics::Profiles>,
    /// Counters of this process: requests, sessions, rate-limit refusals, search latency.
    pub metrics: crate::metrics::live::Live,
    /// Every task the gateway starts, and the token that stops them.
    background: Background,
    /// Who called what, over every front (`request_log:`).
    pub request_log: RequestLog,
    /// When the pin file was last seen modified (see `reapply_pins_if_changed`).
    pins_seen: Mutex<Option<std::time::SystemTime>>,
}

impl Gateway {
    /// Builds the gateway and starts its background tasks. Backends are not started, except
    /// those never seen before (or stale), which are discovered in the background.
    pub fn start(config: Config, paths: Option<&Paths>) -> Result<Arc<Gateway>, SearchError> {
        let config = Arc::new(config);
        let enabled = enabled_backends(&config, paths);
        let in_process: Vec<String> = enabled
            .values()
            .filter(|b| b.transport.is_in_process())
            .map(|b| b.name.clone())
            .collect();
        let wanted = enabled
            .iter()
            .map(|(n, b)| ((*n).clone(), b.launch_fingerprint()))
            .collect();
        let catalog = Catalog::load(paths.map(Paths::catalog_dir), &wanted);
        let needs_spawn = enabled
            .values()
            .any(|b| matches!(b.transport, crate::config::Transport::Stdio(_)));
        if needs_spawn {
            crate::backend::process::become_subreaper();
        }
        let reaper = needs_spawn.then(Reaper::start).flatten().map(Arc::new);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (client_caps, client_caps_rx) = watch::channel(None);
        // Instances of `isolate: true` backends relay their notifications, but their starts and
        // list changes never refresh the catalog (that would start the shared instance).
        let (instance_tx, instance_rx) = mpsc::unbounded_channel();
        let instance_env = BackendEnv {
            reaper: reaper.clone(),
            events: instance_tx,
            client_caps: client_caps_rx.clone(),
        };
        let to_gateway = events_tx.clone();
        let env = BackendEnv {
            reaper,
            events: events_tx,
            client_caps: client_caps_rx,
        };
        let env_for_new = env.clone();
        let backends: BTreeMap<String, Arc<Backend>> = enabled
            .iter()
            .map(|(n, b)| {
                (
                    (*n).clone(),
                    Arc::new(Backend::new((*b).clone(), env.clone())),
                )
            })
            .collect();

        let profiles = Arc::new(match paths {
            Some(p) => crate::metrics::Profiles::load(&p.state_dir).unwrap_or_else(|e| {
                tracing::warn!("ignoring usage profiles: {e}");
                crate::metrics::Profiles::default()
            }),
            None => crate::metrics::Profiles::default(),
        });
        let mut index = SearchIndex::new()?;
        index.set_profiles(Arc::clone(&profiles));

        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (unseen, stale): (BTreeSet<String>, BTreeSet<String>) = {
            let mut unseen = BTreeSet::new();
            let mut stale = BTreeSet::new();
            for name in backends.keys() {
                match catalog.get(name) {
                    None => {
                        unseen.insert(name.clone());
                    }
                    Some(e) if now.saturating_sub(e.fetched_at) > CATALOG_TTL.as_secs() => {
                        stale.insert(name.clone());
                    }
                    Some(_) => {}
                }
            }
            (unseen, stale)
        };
        let (discovering, _) = watch::channel(unseen.clone());
        let (notices, _) = broadcast::channel(256);
        let request_log = RequestLog::new(request_log::Settings::from_config(
            &config.request_log,
            paths.map(|p| p.state_dir.as_path()),
        ));
        let gw = Arc::new(Gateway {
            config: RwLock::new(config),
            backends: RwLock::new(backends),
            env: Mutex::new(env_for_new),
            reloading: reload::State::default(),
            catalog,
            index: RwLock::new(index),
            index_ready: watch::channel(false).0,
            embedder: std::sync::OnceLock::new(),
            embed_wanted: Arc::new(tokio::sync::Notify::new()),
            embed_runs: watch::channel(0).0,
            discovering,
            refreshing: Mutex::new(HashMap::new()),
            notices,
            client_caps,
            paths: paths.cloned(),
            profiles,
            metrics: crate::metrics::live::Live::default(),
            background: Background::new(),
            request_log,
            instance_env,
            pins_seen: Mutex::new(None),
        });
        gw.background.spawn(relay_instance_events(
            instance_rx,
            to_gateway,
            gw.background.token().clone(),
        ));
        let indexer = Arc::clone(&gw);
        gw.background
            .spawn_blocking(move || indexer.index_catalog());
        gw.background.spawn(embed_in_background(
            Arc::downgrade(&gw),
            Arc::clone(&gw.embed_wanted),
            gw.background.token().clone(),
        ));
        gw.background
            .spawn(Arc::clone(&gw).handle_events(events_rx));
        gw.background.spawn(Arc::clone(&gw).sweep_idle());
        // The in-process servers are always started, to watch their files.
        let always: Vec<String> = in_process
            .into_iter()
            .filter(|n| !unseen.contains(n) && !stale.contains(n))
            .collect();
        for name in unseen.into_iter().chain(stale).chain(always) {
            gw.spawn_refresh(name, Duration::ZERO);
        }
        Ok(gw)
    }

    /// The gateway's background work: fronts and future listeners spawn their own long-running
    /// tasks here so that [`Gateway::shutdown`] stops and waits for them too.
    pub fn background(&self) -> &Background {
        &self.background
    }

    /// The running config (a reload may swap it; hold the `Arc` for one consistent view).
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn backend(&self, name: &str) -> Option<Arc<Backend>> {
        self.read_backends().get(name).cloned()
    }

    /// Enabled backends ordered by name (a snapshot: a reload may change the set).
    pub fn backends(&self) -> Vec<Arc<Backend>> {
        self.read_backends().values().cloned().collect()
    }

    fn read_backends(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Backend>>> {
        self.backends.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Records what the client supports (from its `initialize`); backends declare only that.
    pub fn set_client_capabilities(&self, capabilities: Value) {
        self.client_caps.send_replace(Some(capabilities));
    }

    /// A caller that declares nothing (a REST request) is here before any MCP client
    /// initialized: backends starting now stop waiting for a client's capabilities and declare
    /// none, instead of holding the call for up to 10 s. Capabilities a client already
    /// declared are kept.
    pub fn assume_client_without_capabilities(&self) {
        self.client_caps.send_if_modified(|caps| {
            if caps.is_some() {
                return false;
            }
            *caps = Some(Value::Object(serde_json::Map::new()));
            true
        });
    }

    /// Sends a notification to every running backend (e.g. `notifications/roots/list_changed`).
    pub async fn notify_running_backends(&self, method: &str) {
        for b in self.backends() {
            b.notify_if_running(method).await;
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClientNotice> {
        self.notices.subscribe()
    }

    /// Whether a call of `server`'s `tool` may be sent again after a transport failure: its
    /// cataloged annotations say read-only or idempotent (unknown tools: only before sending).
    pub fn replay_of(&self, server: &str, tool: &str) -> crate::backend::Replay {
        self.catalog
            .get(server)
            .and_then(|e| e.tool(tool).map(crate::backend::Replay::of_tool))
            .unwrap_or(crate::backend::Replay::BeforeSend)
    }

    /// A new instance of backend `name` for one client session when its config says
    /// `isolate: true` (`None` for a shared backend). The session owns it and shuts it down when
    /// it ends; the reaper and the parent-death signal cover it like any backend.
    pub fn isolated_instance(&self, name: &str) -> Option<Arc<Backend>> {
        let shared = self.backend(name)?;
        shared.config.isolate.then(|| {
            Arc::new(Backend::new(
                shared.config.clone(),
                self.instance_env.clone(),
            ))
        })
    }
}

/// The backends a config enables: its own, plus [`in_process_backends`].
fn enabled_backends(
    config: &Config,
    paths: Option<&Paths>,
) -> BTreeMap<String, crate::config::BackendConfig> {
    let mut enabled: BTreeMap<String, crate::config::BackendConfig> = config
        .backends
        .iter()
        .filter(|(_, b)| b.enabled)
        .map(|(n, b)| (n.clone(), b.clone()))
        .collect();
    for c in in_process_backends(config, paths) {
        enabled.insert(c.name.clone(), c);
    }
    enabled
}

/// The backends the gateway adds in process: the capabilities server and the skills server,
/// each when its files exist. `mcp-gateway list` shows them beside the configured ones.
pub fn in_process_backends(
    config: &Config,
    paths: Option<&Paths>,
) -> impl Iterator<Item = crate::config::BackendConfig> + use<> {
    let capabilities = crate::capability::server::backend_config(config, paths);
    let skills = crate::skills::serve::backend_config(config, paths);
    capabilities.into_iter().chain(skills)
}
