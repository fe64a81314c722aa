//! The gateway's shared state: backends, catalog, search index, and the tasks that keep them
//! in step (discovery at startup, catalog refresh on first start and on `list_changed`, the idle
//! sweeper). Sessions hold an `Arc<Gateway>`; it never speaks to a client directly, it only
//! broadcasts [`ClientNotice`]s that each session turns into messages for its client. Every task
//! it starts is owned by its [`Background`] and stopped by [`Gateway::shutdown`] in the order
//! documented in [`crate::shutdown`].
//!
//! The config and the set of backends are swappable ([`Gateway::reload`], in `reload.rs`, with
//! the file watch and the error kept while an edit is invalid): a backend untouched by a reload
//! keeps its handle (the same `Arc<Backend>`, so its process and sessions) across it.

mod reload;

pub use reload::{ConfigSource, ReloadReport};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};

use crate::backend::process::Reaper;
use crate::backend::{Backend, BackendEnv, BackendEvent};
use crate::catalog::{Catalog, names};
use crate::config::Config;
use crate::request_log::{self, RequestLog};
use crate::search::{DenseState, Embedder, SearchError, SearchIndex, SearchOutcome};
use crate::shutdown::Background;
use crate::state::Paths;

/// How long a backend started only to discover its tools stays up.
const DISCOVERY_LINGER: Duration = Duration::from_secs(30);
/// Catalog entries older than this are refreshed in the background at startup.
const CATALOG_TTL: Duration = Duration::from_secs(24 * 3600);
/// A burst of `list_changed` from one backend is collapsed into one refresh.
const LIST_CHANGED_DEBOUNCE: Duration = Duration::from_millis(150);

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

/// What a catalog entry is: a backend's tool, or a skill (served by the skills backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tool,
    Skill,
}

impl Kind {
    /// `tool` or `skill`, as the meta-tools and the CLI say it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Skill => "skill",
        }
    }

    /// Reads `tool` or `skill`.
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "tool" => Some(Kind::Tool),
            "skill" => Some(Kind::Skill),
            _ => None,
        }
    }
}

/// Usage profiles are saved every this many idle-sweep ticks (500 ms each: every 10 s) when
/// calls were recorded, so `mcp-gateway stats` sees a running gateway's calls soon.
const PROFILE_SAVE_TICKS: u64 = 20;

/// How long shutdown waits for background tasks once backends are stopped.
const TASKS_GRACE: Duration = Duration::from_secs(5);

impl Gateway {
    /// Builds the gateway and starts its background tasks. Backends are not started, except
    /// those never seen before (or stale), which are discovered in the background.
    pub fn start(config: Config, paths: Option<&Paths>) -> Result<Arc<Gateway>, SearchError> {
        let config = Arc::new(config);
        let enabled = enabled_backends(&config, paths);
        let in_process: Vec<String> = enabled
            .values()
            .filter(|b| {
                matches!(
                    b.transport,
                    crate::config::Transport::Capabilities(_) | crate::config::Transport::Skills(_)
                )
            })
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

    /// Refreshes `backend` in the background after `delay` (skipped if shutdown begins first).
    fn spawn_refresh(self: &Arc<Self>, backend: String, delay: Duration) {
        let gw = Arc::clone(self);
        let stop = self.background.token().clone();
        self.background.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(delay) => gw.refresh(&backend).await,
            }
        });
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

    /// Whether a list made now may lack a backend: one whose first discovery still runs and
    /// whose tools are not in the catalog yet.
    pub fn lists_incomplete(&self) -> bool {
        let discovering = self.discovering.borrow().clone();
        discovering
            .iter()
            .any(|name| self.catalog.get(name).is_none())
    }

    /// Waits (at most `max`) for first discoveries to finish; returns those still running.
    pub async fn wait_for_discovery(&self, max: Duration) -> Vec<String> {
        let mut rx = self.discovering.subscribe();
        let _ = tokio::time::timeout(max, rx.wait_for(BTreeSet::is_empty)).await;
        rx.borrow().iter().cloned().collect()
    }

    /// Waits (bounded) until `name` is no longer being discovered.
    pub async fn wait_for_discovery_of(&self, name: &str, max: Duration) {
        let mut rx = self.discovering.subscribe();
        let _ = tokio::time::timeout(max, rx.wait_for(|set| !set.contains(name))).await;
    }

    /// The catalog entry of `name`, for a caller that needs that backend's lists now: a first
    /// discovery in progress is waited for (bounded by the backend's own timeout, since starting
    /// it is part of that discovery), else the backend is listed once. `None` when it still has
    /// no lists; its status says why.
    pub async fn listing_of(
        self: &Arc<Self>,
        name: &str,
    ) -> Option<Arc<crate::catalog::CatalogEntry>> {
        if let Some(entry) = self.catalog.get(name) {
            return Some(entry);
        }
        let backend = self.backend(name)?;
        self.wait_for_discovery_of(name, 2 * backend.config.timeout + DISCOVERY_WAIT)
            .await;
        if self.catalog.get(name).is_none() {
            self.refresh(name).await;
        }
        self.catalog.get(name)
    }

    /// Indexes every catalog entry in one commit. The catalog is read under the index lock, so a
    /// refresh that landed first is not overwritten with older tools.
    fn index_catalog(&self) {
        let backends = self.read_backends();
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let docs: Vec<_> = self
            .catalog
            .snapshot()
            .iter()
            .filter_map(|entry| {
                let backend = backends.get(&entry.backend)?;
                Some((
                    entry.backend.clone(),
                    entry.tool_docs(backend.config.description.as_deref()),
                ))
            })
            .collect();
        if let Err(e) = index.replace_servers(docs) {
            tracing::error!("cannot index the catalog: {e}");
        }
        drop(index);
        drop(backends);
        release_freed_memory();
        self.index_ready.send_replace(true);
        self.embed_wanted.notify_one();
    }

    /// Loads the embedding model on first use (never on the `initialize` path) and gives every
    /// tool without a vector one; search stays lexical until all have one.
    fn embed_pending(&self) {
        let embedder = self.embedder.get_or_init(|| {
            let paths = self.paths.as_ref()?;
            match Embedder::load(paths) {
                Ok(Some(e)) => {
                    tracing::info!(model = %e.model_id, "embedding model loaded; search turns hybrid once tools are embedded");
                    self.index
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .set_encoder(Some(e.encoder()));
                    Some(Arc::new(e))
                }
                Ok(None) => {
                    tracing::info!("no embedding model installed; search is BM25 only (`mcp-gateway model fetch`)");
                    None
                }
                Err(e) => {
                    tracing::warn!("embedding model unusable, search is BM25 only: {e}");
                    None
                }
            }
        });
        if let Some(e) = embedder {
            e.run(&self.index);
        }
        self.embed_runs.send_modify(|n| *n += 1);
    }

    /// Waits (at most `max`) until search is as good as it gets: the model was tried and, if
    /// there is one, every tool has its vector. The CLI's one-shot search waits; sessions never do.
    pub async fn wait_for_embeddings(&self, max: Duration) {
        let mut rx = self.embed_runs.subscribe();
        let ready = |_: &u64| {
            self.embedder.get().is_some()
                && !matches!(
                    self.index
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .dense_state(),
                    DenseState::Embedding { .. }
                )
        };
        let _ = tokio::time::timeout(max, rx.wait_for(ready)).await;
    }

    /// What search ranks with, for `gateway_list_servers` and `doctor`.
    pub fn search_mode(&self) -> String {
        let state = self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .dense_state();
        let model = self
            .embedder
            .get()
            .and_then(|e| e.as_ref())
            .map_or("", |e| e.model_id.as_str());
        let installed = || {
            self.paths.as_ref().is_some_and(|p| {
                crate::embedding::installed(&crate::embedding::models_dir(p)).is_some()
            })
        };
        match (self.embedder.get(), state) {
            (None, _) if installed() => "BM25 (the embedding model is loading)".to_string(),
            (Some(None), _) if installed() => {
                "BM25 only: the embedding model did not load (see the log; `mcp-gateway doctor`)"
                    .to_string()
            }
            (None, _) | (Some(None), _) | (_, DenseState::NoModel) => {
                "BM25 only: no embedding model installed (run `mcp-gateway model fetch`)"
                    .to_string()
            }
            (_, DenseState::Embedding { done, total }) => {
                format!("BM25 while {model} embeds tools ({done}/{total})")
            }
            (_, DenseState::Ready { total }) => {
                format!("hybrid: BM25 + {model} ({total} tools embedded)")
            }
        }
    }

    /// Waits (bounded) until the persisted catalog is indexed.
    pub async fn wait_for_index(&self) {
        let mut rx = self.index_ready.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|ready| *ready)).await;
    }

    /// Ranks tools and skills for `query` (the one code path behind the meta-tool and the CLI),
    /// optionally only one server's or one [`Kind`].
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        server: Option<&str>,
        kind: Option<Kind>,
    ) -> Result<SearchOutcome, SearchError> {
        let started = std::time::Instant::now();
        let outcome = self.search_unmeasured(query, limit, server, kind);
        self.metrics.search(started.elapsed());
        outcome
    }

    fn search_unmeasured(
        &self,
        query: &str,
        limit: usize,
        server: Option<&str>,
        kind: Option<Kind>,
    ) -> Result<SearchOutcome, SearchError> {
        // The skills backend is looked up before the index is locked (lock order).
        let skills = self.skills_backend();
        let skills = skills.as_deref();
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let nothing = || SearchOutcome {
            no_good_match: true,
            ..SearchOutcome::default()
        };
        match (kind, skills) {
            (None, _) | (Some(Kind::Tool), None) => index.search(query, limit, server),
            (Some(Kind::Skill), None) => Ok(nothing()),
            (Some(Kind::Skill), Some(s)) => match server {
                Some(other) if other != s => Ok(nothing()),
                _ => index.search(query, limit, Some(s)),
            },
            (Some(Kind::Tool), Some(s)) => match server {
                Some(other) if other == s => Ok(nothing()),
                Some(other) => index.search(query, limit, Some(other)),
                None => {
                    // Rank enough to fill `limit` with tools whatever the skills score.
                    let skill_count = self.catalog.get(s).map_or(0, |e| e.tools.len());
                    let mut outcome = index.search(query, limit + skill_count, None)?;
                    let before = outcome.hits.len();
                    outcome.hits.retain(|h| h.doc.server != s);
                    outcome.total = outcome.total.saturating_sub(before - outcome.hits.len());
                    outcome.hits.truncate(limit);
                    outcome.no_good_match |= outcome.hits.is_empty();
                    Ok(outcome)
                }
            },
        }
    }

    /// The in-process skills backend's name, when skills are served.
    pub fn skills_backend(&self) -> Option<String> {
        self.read_backends()
            .values()
            .find(|b| matches!(b.config.transport, crate::config::Transport::Skills(_)))
            .map(|b| b.name().to_string())
    }

    /// Whether the catalog entries of `server` are tools or skills.
    pub fn kind_of(&self, server: &str) -> Kind {
        if self.skills_backend().as_deref() == Some(server) {
            Kind::Skill
        } else {
            Kind::Tool
        }
    }

    /// Whether a call of `server`'s `tool` may be sent again after a transport failure: its
    /// cataloged annotations say read-only or idempotent (unknown tools: only before sending).
    pub fn replay_of(&self, server: &str, tool: &str) -> crate::backend::Replay {
        self.catalog
            .get(server)
            .and_then(|e| e.tool(tool).map(crate::backend::Replay::of_tool))
            .unwrap_or(crate::backend::Replay::BeforeSend)
    }

    /// The Prometheus text exposition of this gateway (`/metrics`): the live counters, every
    /// backend's state and failsafes, and the tool families from the usage profiles. Only
    /// servers `sees` and tools `permits` count (a caller's scope; profiles may name servers no
    /// longer configured, which the caller decides about too); a tool gets series of
    /// its own only while it is in the catalog of a configured backend (see
    /// [`crate::metrics::prometheus::bounded`]).
    pub fn prometheus_text(
        &self,
        sees: impl Fn(&str) -> bool,
        permits: impl Fn(&str, &str) -> bool,
    ) -> String {
        use crate::metrics::prometheus::{
            self as prom, BackendFamilies, BackendSample, ToolFamilies,
        };
        let mut registry = prometheus_client::registry::Registry::with_prefix(prom::PREFIX);
        self.metrics.register(&mut registry);
        let backends = self
            .backends()
            .iter()
            .filter(|b| sees(b.name()))
            .map(|b| {
                let f = b.failsafe_state();
                BackendSample {
                    name: b.name().to_string(),
                    state: match b.status() {
                        crate::backend::Status::NotStarted => "not_started",
                        crate::backend::Status::Starting => "starting",
                        crate::backend::Status::Running => "running",
                        crate::backend::Status::Stopped => "stopped",
                        crate::backend::Status::Failed(_) => "failed",
                    },
                    starts: b.starts(),
                    breaker: match f.breaker {
                        crate::backend::failsafe::BreakerState::Closed => "closed",
                        crate::backend::failsafe::BreakerState::Open => "open",
                        crate::backend::failsafe::BreakerState::HalfOpen => "half_open",
                    },
                    in_flight: f.in_flight,
                    queued: f.queued,
                    rejected: [
                        ("breaker_open", f.rejected_open),
                        ("queue_full", f.rejected_queue_full),
                        ("rate_limited", f.rejected_rate_limited),
                    ],
                    retries: f.retries,
                    breaker_opened: f.times_opened,
                }
            })
            .collect();
        registry.register_collector(Box::new(BackendFamilies(backends)));
        let stats: Vec<_> = self
            .profiles
            .snapshot()
            .into_iter()
            .filter(|s| {
                sees(&s.server)
                    && (s.tool == crate::metrics::profiles::OTHER_TOOL
                        || permits(&s.server, &s.tool))
            })
            .collect();
        let configured: BTreeSet<String> = self
            .backends()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        let listed = |server: &str, tool: &str| {
            configured.contains(server)
                && self
                    .catalog
                    .get(server)
                    .is_some_and(|e| e.tool(tool).is_some())
        };
        registry.register_collector(Box::new(ToolFamilies(prom::bounded(stats, listed))));
        prom::render(&registry)
    }

    /// Adds the calls recorded since the last save to the usage profiles in the state dir.
    fn save_profiles(&self) {
        let Some(paths) = &self.paths else { return };
        if let Err(e) = self.profiles.save(&paths.state_dir) {
            tracing::warn!("cannot save usage profiles: {e}");
        }
    }

    /// Fetches what a backend lists and updates catalog and index. One refresh runs at a time
    /// per backend; a request arriving meanwhile (e.g. a `list_changed` sent right after
    /// `initialize`) makes it run once more when done, so the last change is never lost.
    pub async fn refresh(self: &Arc<Self>, name: &str) {
        if self.backend(name).is_none() {
            self.discovering.send_if_modified(|set| set.remove(name));
            return;
        }
        {
            let mut running = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(again) = running.get_mut(name) {
                *again = true;
                return;
            }
            running.insert(name.to_string(), false);
        }
        loop {
            // Looked up each round: a reload may have replaced or removed the backend.
            let Some(backend) = self.backend(name) else {
                self.refreshing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(name);
                break;
            };
            match backend.fetch_listing(DISCOVERY_LINGER).await {
                Ok(listing) => self.apply_listing(&backend, listing),
                Err(e) if backend.is_stopping() => {
                    tracing::debug!(backend = %name, "refresh abandoned: {e}")
                }
                Err(e) => tracing::warn!(backend = %name, "cannot list tools: {e}"),
            }
            let mut running = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
            match running.get_mut(name) {
                Some(again) if *again => *again = false,
                _ => {
                    running.remove(name);
                    break;
                }
            }
        }
        self.discovering.send_if_modified(|set| set.remove(name));
    }

    fn apply_listing(&self, backend: &Arc<Backend>, mut listing: crate::catalog::Listing) {
        let name = backend.name();
        // Held until the catalog and the index are updated: a reload that replaced or removed
        // this backend meanwhile wins, and one that comes later waits for this to land first.
        let backends = self.read_backends();
        if !backends.get(name).is_some_and(|b| Arc::ptr_eq(b, backend)) {
            tracing::debug!(backend = %name, "listing of a replaced backend dropped");
            return;
        }
        let config = self.config();
        // The backend's `tools` filter: a tool it rules out never enters the catalog, so it is
        // never listed, searched or invoked.
        let filter = &backend.config.tools;
        listing.tools.retain(|t| {
            let tool = t.get("name").and_then(Value::as_str).unwrap_or("");
            filter.permits(tool)
        });
        // Tool-description poisoning: high findings are withheld, medium ones logged.
        listing.tools = crate::scanner::screen(
            name,
            std::mem::take(&mut listing.tools),
            &config.scanner_allow,
        );
        // `pin_tools: true`: a tool changed or new since approval is held back (not cataloged,
        // so never listed, searched or called) and reported until `mcp-gateway approve`.
        // What is held is reported once catalog and index no longer serve it.
        let held = backend.config.pin_tools.then(|| {
            let (served, held) = self.screen_pins(name, std::mem::take(&mut listing.tools));
            listing.tools = served;
            held
        });
        let count = listing.tools.len();
        let changes = self
            .catalog
            .update(name, &backend.config.launch_fingerprint(), listing);
        if changes.tools
            && let Some(entry) = self.catalog.get(name)
        {
            let docs = entry.tool_docs(backend.config.description.as_deref());
            let updated = self
                .index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .replace_server(name, docs);
            if let Err(e) = updated {
                tracing::error!(backend = %name, "cannot index tools: {e}");
            }
            self.embed_wanted.notify_one();
            release_freed_memory();
            drop(backends);
            tracing::info!(backend = %name, tools = count, "catalog updated");
            let _ = self.notices.send(ClientNotice::BackendToolsChanged {
                backend: name.to_string(),
            });
            if self.listed_directly(name, None) {
                let _ = self.notices.send(ClientNotice::ToolsListChanged);
            }
        }
        if let Some(held) = held {
            backend.set_held(held);
        }
        if changes.resources {
            let _ = self.notices.send(ClientNotice::ResourcesListChanged);
        }
        if changes.prompts {
            let _ = self.notices.send(ClientNotice::PromptsListChanged);
        }
    }

    /// The pin part of the screening (see [`Gateway::apply_listing`]): the tools to serve and
    /// those held back, with why. Without a state dir nothing can be pinned (a warning says
    /// so); an unreadable pin file holds every tool back (fail closed).
    fn screen_pins(&self, name: &str, tools: Vec<Value>) -> (Vec<Value>, BTreeMap<String, String>) {
        let Some(path) = self.pin_file() else {
            tracing::warn!(backend = %name, "`pin_tools: true` needs a state directory; tools are not pinned");
            return (tools, BTreeMap::new());
        };
        match crate::capability::pins::screen_backend(&path, name, tools.clone()) {
            Ok((served, held)) => {
                for reason in held.values() {
                    tracing::warn!(backend = %name, "{reason}");
                }
                (served, held)
            }
            Err(e) => {
                tracing::error!(backend = %name, "cannot check tool pins, holding every tool back: {e}");
                let held = tools
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .map(|t| {
                        (
                            t.to_string(),
                            format!("{name}/{t} is held back: the tool pins cannot be read ({e})"),
                        )
                    })
                    .collect();
                (Vec::new(), held)
            }
        }
    }

    /// The one pin lock file (capability and backend pins), when there is a state dir.
    fn pin_file(&self) -> Option<std::path::PathBuf> {
        self.paths
            .as_ref()
            .map(|p| p.state_dir.join(crate::capability::pins::LOCK_FILE))
    }

    /// After `mcp-gateway approve` changed the pin file: refreshes every pinned backend that
    /// holds tools back, so approved ones are served at once.
    fn reapply_pins_if_changed(self: &Arc<Self>) {
        let Some(path) = self.pin_file() else { return };
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let changed = {
            let mut seen = self.pins_seen.lock().unwrap_or_else(|e| e.into_inner());
            let changed = *seen != modified;
            *seen = modified;
            changed
        };
        if !changed {
            return;
        }
        for b in self.backends() {
            if b.config.pin_tools && !b.report().held.is_empty() {
                self.spawn_refresh(b.name().to_string(), Duration::ZERO);
            }
        }
    }

    /// The one rule for which backend tools the client sees next to (or instead of) the
    /// meta-tools: with meta-tools on, the `surface` ones; with them off, all of them. `tool`
    /// `None` asks whether any tool of `backend` may be.
    fn listed_directly(&self, backend: &str, tool: Option<&str>) -> bool {
        let config = self.config();
        let meta = &config.meta_mcp;
        !meta.enabled
            || meta
                .surface
                .iter()
                .any(|r| r.server == backend && tool.is_none_or(|t| r.tool == t))
    }

    /// The cataloged tools `tools/list` shows and `tools/call` accepts by namespaced name, as
    /// `(server, definition)` with the backend's own name: the surfaced tools in config order,
    /// or (meta-tools off) every tool by server. Withheld tools are not cataloged, so never here.
    pub fn direct_tools(&self) -> Vec<(String, Value)> {
        let config = self.config();
        let meta = &config.meta_mcp;
        let names: BTreeSet<String> = self.read_backends().keys().cloned().collect();
        let mut tools = Vec::new();
        if meta.enabled {
            for r in &meta.surface {
                let found = names
                    .contains(&r.server)
                    .then(|| self.catalog.get(&r.server))
                    .flatten();
                if let Some(t) = found.as_ref().and_then(|e| e.tool(&r.tool)) {
                    tools.push((r.server.clone(), t.clone()));
                }
            }
            return tools;
        }
        for entry in self.catalog.snapshot() {
            if !names.contains(&entry.backend) {
                continue;
            }
            for t in &entry.tools {
                let name = t.get("name").and_then(Value::as_str).unwrap_or("");
                if self.listed_directly(&entry.backend, Some(name)) {
                    tools.push((entry.backend.clone(), t.clone()));
                }
            }
        }
        tools
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

    async fn handle_events(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<BackendEvent>) {
        let stop = self.background.token().clone();
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                event = rx.recv() => match event {
                    Some(e) => e,
                    None => return,
                },
            };
            match event {
                BackendEvent::Started { backend } => self.spawn_refresh(backend, Duration::ZERO),
                BackendEvent::ListChanged { backend } => {
                    self.spawn_refresh(backend, LIST_CHANGED_DEBOUNCE)
                }
                BackendEvent::Notification {
                    backend,
                    method,
                    params,
                } if method == "notifications/message" => {
                    let _ = self.notices.send(ClientNotice::Log {
                        backend,
                        params: params.unwrap_or(Value::Null),
                    });
                }
                BackendEvent::Notification {
                    backend,
                    method,
                    params,
                } => {
                    let mut params = params.unwrap_or_else(|| Value::Object(Default::default()));
                    if method == "notifications/resources/updated"
                        && let Some(uri) = params.get("uri").and_then(Value::as_str)
                    {
                        params["uri"] = Value::String(names::namespace_uri(&backend, uri));
                    }
                    let _ = self.notices.send(ClientNotice::Forward { method, params });
                }
            }
        }
    }

    async fn sweep_idle(self: Arc<Self>) {
        let stop = self.background.token().clone();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        for n in 0u64.. {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            for b in self.backends() {
                b.stop_if_idle().await;
                if b.health_check_due() {
                    let b = Arc::clone(&b);
                    self.background.spawn(async move { b.health_check().await });
                }
            }
            if n % PROFILE_SAVE_TICKS == PROFILE_SAVE_TICKS - 1 {
                self.save_profiles();
            }
            self.reapply_pins_if_changed();
        }
    }

    /// Stops everything the gateway runs, in the order documented in [`crate::shutdown`]:
    /// signal the background tasks, save usage profiles, stop every backend (in parallel, each in
    /// order: stdin closed, SIGTERM, SIGKILL), then wait (bounded) for the tasks to end.
    pub async fn shutdown(&self) {
        self.background.cancel();
        self.save_profiles();
        let mut stops = tokio::task::JoinSet::new();
        for b in self.backends() {
            stops.spawn(async move { b.shutdown().await });
        }
        while stops.join_next().await.is_some() {}
        // Whatever left a backend's process group and re-parented here.
        crate::backend::process::kill_orphans(None, Duration::from_secs(1)).await;
        let left = self.background.wait(TASKS_GRACE).await;
        if left > 0 {
            tracing::warn!(tasks = left, "background tasks still running at shutdown");
        }
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

/// The background embedder: each time it is woken, gives new tools their vectors off the async
/// workers. Ends when the gateway is gone or shuts down.
async fn embed_in_background(
    gateway: std::sync::Weak<Gateway>,
    wanted: Arc<tokio::sync::Notify>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = wanted.notified() => {}
        }
        let Some(gw) = gateway.upgrade() else { break };
        if tokio::task::spawn_blocking(move || gw.embed_pending())
            .await
            .is_err()
        {
            break;
        }
    }
}

/// Hands memory freed by index writers back to the OS, so the idle gateway stays small.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Passes a per-session instance's notifications on to the gateway's event loop (starts and
/// list changes stay behind: the catalog is the shared instance's to learn).
async fn relay_instance_events(
    mut rx: mpsc::UnboundedReceiver<BackendEvent>,
    to: mpsc::UnboundedSender<BackendEvent>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            e = rx.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        if matches!(event, BackendEvent::Notification { .. }) && to.send(event).is_err() {
            return;
        }
    }
}
