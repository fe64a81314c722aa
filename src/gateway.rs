//! The gateway's shared state: backends, catalog, search index, and the tasks that keep them
//! in step (discovery at startup, catalog refresh on first start and on `list_changed`, the idle
//! sweeper). Sessions hold an `Arc<Gateway>`; it never speaks to a client directly, it only
//! broadcasts [`ClientNotice`]s that each session turns into messages for its client.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};

use crate::backend::process::Reaper;
use crate::backend::{Backend, BackendEvent};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::search::{SearchError, SearchIndex, SearchOutcome};
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
    /// A backend's `notifications/message`, with the backend as logger prefix.
    Log { backend: String, params: Value },
}

pub struct Gateway {
    pub config: Arc<Config>,
    backends: BTreeMap<String, Arc<Backend>>,
    pub catalog: Catalog,
    index: RwLock<SearchIndex>,
    /// Backends whose first discovery is still running.
    discovering: watch::Sender<BTreeSet<String>>,
    refreshing: Mutex<HashSet<String>>,
    notices: broadcast::Sender<ClientNotice>,
}

impl Gateway {
    /// Builds the gateway and starts its background tasks. Backends are not started, except
    /// those never seen before (or stale), which are discovered in the background.
    pub fn start(config: Config, paths: Option<&Paths>) -> Result<Arc<Gateway>, SearchError> {
        let config = Arc::new(config);
        let enabled: BTreeMap<_, _> = config.backends.iter().filter(|(_, b)| b.enabled).collect();
        let wanted = enabled
            .iter()
            .map(|(n, b)| ((*n).clone(), b.launch_fingerprint()))
            .collect();
        let catalog = Catalog::load(paths.map(Paths::catalog_dir), &wanted);
        let needs_spawn = enabled
            .values()
            .any(|b| matches!(b.transport, crate::config::Transport::Stdio(_)));
        let reaper = needs_spawn.then(Reaper::start).flatten().map(Arc::new);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let backends: BTreeMap<String, Arc<Backend>> = enabled
            .iter()
            .map(|(n, b)| {
                (
                    (*n).clone(),
                    Arc::new(Backend::new(
                        (*b).clone(),
                        reaper.clone(),
                        events_tx.clone(),
                    )),
                )
            })
            .collect();

        let mut index = SearchIndex::new()?;
        for entry in catalog.snapshot() {
            let desc = config
                .backends
                .get(&entry.backend)
                .and_then(|b| b.description.as_deref());
            index.replace_server(&entry.backend, entry.tool_docs(desc))?;
        }

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
        let gw = Arc::new(Gateway {
            config,
            backends,
            catalog,
            index: RwLock::new(index),
            discovering,
            refreshing: Mutex::new(HashSet::new()),
            notices,
        });
        tokio::spawn(Arc::clone(&gw).handle_events(events_rx));
        tokio::spawn(Arc::clone(&gw).sweep_idle());
        for name in unseen.into_iter().chain(stale) {
            let gw = Arc::clone(&gw);
            tokio::spawn(async move { gw.refresh(&name).await });
        }
        Ok(gw)
    }

    pub fn backend(&self, name: &str) -> Option<&Arc<Backend>> {
        self.backends.get(name)
    }

    /// Enabled backends ordered by name.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.backends.values()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClientNotice> {
        self.notices.subscribe()
    }

    /// Waits (at most `max`) for first discoveries to finish; returns those still running.
    pub async fn wait_for_discovery(&self, max: Duration) -> Vec<String> {
        let mut rx = self.discovering.subscribe();
        let _ = tokio::time::timeout(max, rx.wait_for(BTreeSet::is_empty)).await;
        rx.borrow().iter().cloned().collect()
    }

    /// Ranks tools for `query` (the one code path behind the meta-tool and the CLI).
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        server: Option<&str>,
    ) -> Result<SearchOutcome, SearchError> {
        self.index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .search(query, limit, server)
    }

    /// Fetches a backend's tools and updates catalog and index. One at a time per backend.
    pub async fn refresh(self: &Arc<Self>, name: &str) {
        let Some(backend) = self.backends.get(name) else {
            return;
        };
        if !self
            .refreshing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string())
        {
            return;
        }
        match backend.list_tools(DISCOVERY_LINGER).await {
            Ok(tools) => {
                let count = tools.len();
                if let Some(entry) =
                    self.catalog
                        .update(name, &backend.config.launch_fingerprint(), tools)
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
                    tracing::info!(backend = %name, tools = count, "catalog updated");
                    if self.tools_visible_directly(name) {
                        let _ = self.notices.send(ClientNotice::ToolsListChanged);
                    }
                }
            }
            Err(e) => tracing::warn!(backend = %name, "cannot list tools: {e}"),
        }
        self.refreshing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        self.discovering.send_if_modified(|set| set.remove(name));
    }

    /// Whether a change of `backend`'s tools changes the client's `tools/list`.
    fn tools_visible_directly(&self, backend: &str) -> bool {
        !self.config.meta_mcp.enabled
            || self
                .config
                .meta_mcp
                .surface
                .iter()
                .any(|t| t.server == backend)
    }

    async fn handle_events(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<BackendEvent>) {
        while let Some(event) = rx.recv().await {
            match event {
                BackendEvent::Started { backend } => {
                    let gw = Arc::clone(&self);
                    tokio::spawn(async move { gw.refresh(&backend).await });
                }
                BackendEvent::ToolsChanged { backend } => {
                    let gw = Arc::clone(&self);
                    tokio::spawn(async move {
                        tokio::time::sleep(LIST_CHANGED_DEBOUNCE).await;
                        gw.refresh(&backend).await
                    });
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
                    backend, method, ..
                } => {
                    tracing::debug!(%backend, %method, "notification not relayed");
                }
            }
        }
    }

    async fn sweep_idle(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            for b in self.backends.values() {
                b.stop_if_idle().await;
            }
        }
    }

    /// Stops every backend (in parallel), each in order: stdin closed, SIGTERM, SIGKILL.
    pub async fn shutdown(&self) {
        let mut stops = tokio::task::JoinSet::new();
        for b in self.backends.values() {
            let b = Arc::clone(b);
            stops.spawn(async move { b.shutdown().await });
        }
        while stops.join_next().await.is_some() {}
    }
}
