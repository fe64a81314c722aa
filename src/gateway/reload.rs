//! Live config reload: applying a newly loaded config to the running gateway, and the watch on
//! the files it was read from.
//!
//! Owns the one place the backend set and the running config are swapped (`Gateway::apply`, reached
//! by [`Gateway::reload_from_disk`]): added backends appear, removed ones are shut down (their
//! process stops, their tools leave the catalog and the search index at once), changed ones (any
//! difference in their spec) are replaced by a new handle with the new spec; an untouched backend
//! keeps its `Arc<Backend>` (its process and state). Every session whose view changed hears
//! `list_changed`. Settings that cannot apply live are reported, never silently ignored. An edit
//! that does not load keeps the running config; its error (`file:line: key: …`) is kept for
//! `gateway_list_servers`, `/readyz` and the reload report until a load succeeds. The redacted
//! document of the running config ([`Gateway::running_document`]) is taken when it is read, so what
//! `GET /api/v1/config` shows is what runs, not a file on disk that did not load. It never parses
//! config files itself (`crate::config` does) and never speaks to a client.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::{ClientNotice, Gateway, ServerChange, enabled_backends};
use crate::backend::Backend;
use crate::config::{self, Config, ConfigError};

/// Quiet time after the last change of a burst of file events before the config is reloaded
/// (editors write a file in several steps).
pub const WATCH_DEBOUNCE: Duration = Duration::from_millis(100);

/// Set (to anything) to turn the file watch off, e.g. where file events do not arrive (network
/// file systems); SIGHUP and `POST /api/v1/reload` still reload.
pub const NO_WATCH_VAR: &str = "MCP_GATEWAY_NO_WATCH";

/// Where the running config was loaded from, so a reload reads it the same way: the explicit
/// file (`--config`, `$MCP_GATEWAY_CONFIG`) or discovery from the working directory (a project
/// file and the user file it inherits).
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub explicit: Option<PathBuf>,
    pub cwd: PathBuf,
}

impl ConfigSource {
    fn load(&self) -> Result<Config, ConfigError> {
        config::load(self.explicit.as_deref(), &self.cwd)
    }
}

/// What a reload did (the JSON of `POST /api/v1/reload`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReloadReport {
    /// Whether the new config was loaded and applied.
    pub applied: bool,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Settings that changed but apply only after a restart (`server.port`, `auth`, …).
    pub restart_needed: Vec<String>,
    /// Why the config was not applied (`file:line: key: message`); the previous one keeps serving.
    pub error: Option<String>,
}

/// The reload side of the gateway's state.
pub(super) struct State {
    source: OnceLock<ConfigSource>,
    /// The error of the last reload, while the file stays invalid.
    error: RwLock<Option<String>>,
    /// One reload at a time.
    one: tokio::sync::Mutex<()>,
    /// The files the running config was read from (the watch follows them).
    sources: watch::Sender<Vec<PathBuf>>,
    /// The effective document of the running config, secrets redacted, as read when it was
    /// loaded (`None` until [`Gateway::watch_config`]).
    document: RwLock<Option<serde_json::Value>>,
}

impl Default for State {
    fn default() -> State {
        State {
            source: OnceLock::new(),
            error: RwLock::new(None),
            one: tokio::sync::Mutex::new(()),
            sources: watch::channel(Vec::new()).0,
            document: RwLock::new(None),
        }
    }
}

impl Gateway {
    /// Why the last reload failed, while the config file stays invalid (the running config is
    /// the previous one).
    pub fn config_error(&self) -> Option<String> {
        self.reloading
            .error
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The running config's effective document, secrets redacted (the view of `mcp-gateway
    /// config export`). Taken when the config was read; a gateway not started from files it
    /// watches reads them now.
    pub fn running_document(&self) -> Result<serde_json::Value, ConfigError> {
        let taken = self
            .reloading
            .document
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match taken {
            Some(doc) => Ok(doc),
            None => crate::redact::effective_config(&self.config().sources),
        }
    }

    fn set_running_document(&self, doc: Option<serde_json::Value>) {
        *self
            .reloading
            .document
            .write()
            .unwrap_or_else(|e| e.into_inner()) = doc;
    }

    fn set_config_error(&self, error: Option<String>) {
        *self
            .reloading
            .error
            .write()
            .unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Turns live reload on: remembers where the config comes from (for [`Gateway::reload_from_disk`])
    /// and watches every file it was read from; a change (debounced, atomic-rename saves
    /// included) reloads. Call once, inside the runtime; the watch ends at shutdown.
    pub fn watch_config(self: &Arc<Self>, source: ConfigSource) {
        if self.reloading.source.set(source).is_err() {
            return;
        }
        let sources = self.config().sources.clone();
        // The files were read a moment ago, at start: what they hold now is what runs.
        self.set_running_document(crate::redact::effective_config(&sources).ok());
        self.reloading.sources.send_replace(sources);
        if std::env::var_os(NO_WATCH_VAR).is_some() {
            tracing::info!(
                "{NO_WATCH_VAR} is set: config files are not watched (SIGHUP and POST /api/v1/reload still reload)"
            );
            return;
        }
        let gw = Arc::downgrade(self);
        let mut files = self.reloading.sources.subscribe();
        let stop = self.background().token().clone();
        self.background().spawn(async move {
            loop {
                let watched = files.borrow_and_update().clone();
                let watch = if watched.is_empty() {
                    None
                } else {
                    match crate::capability::watch::watch_files(&watched, WATCH_DEBOUNCE) {
                        Ok(w) => Some(w),
                        Err(e) => {
                            tracing::warn!("config files are not watched (no live reload on save; SIGHUP still reloads): {e}");
                            None
                        }
                    }
                };
                let (_keep, mut changed) = match watch {
                    Some((w, rx)) => (Some(w), Some(rx)),
                    None => (None, None),
                };
                loop {
                    let saved = async {
                        match changed.as_mut() {
                            Some(rx) => rx.recv().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        r = files.changed() => {
                            if r.is_err() {
                                return;
                            }
                            break;
                        }
                        s = saved => {
                            if s.is_none() {
                                return;
                            }
                            let Some(gw) = gw.upgrade() else { return };
                            tracing::info!("a config file changed; reloading");
                            gw.reload_from_disk().await;
                        }
                    }
                }
            }
        });
    }

    /// Reads the config again the way it was first read and applies it (`apply`);
    /// an error keeps the running config and is reported (log, report, `config_error`).
    pub async fn reload_from_disk(self: &Arc<Self>) -> ReloadReport {
        let _one = self.reloading.one.lock().await;
        let Some(source) = self.reloading.source.get().cloned() else {
            return ReloadReport {
                error: Some("this gateway was not started from a config it can reload".into()),
                ..ReloadReport::default()
            };
        };
        let loaded = tokio::task::spawn_blocking(move || {
            source.load().map(|config| {
                let doc = crate::redact::effective_config(&config.sources).ok();
                (config, doc)
            })
        })
        .await;
        match loaded {
            Ok(Ok((config, doc))) => {
                config.log_warnings();
                let report = self.apply(config);
                self.set_running_document(doc);
                report
            }
            Ok(Err(e)) => {
                let error = e.to_string();
                tracing::error!("config reload failed; still serving the previous config: {error}");
                self.set_config_error(Some(error.clone()));
                ReloadReport {
                    error: Some(error),
                    ..ReloadReport::default()
                }
            }
            Err(e) => ReloadReport {
                error: Some(format!("config reload failed: {e}")),
                ..ReloadReport::default()
            },
        }
    }

    /// Applies `new` to the running gateway (see the module doc); the caller holds
    /// `reloading.one`, so one reload runs at a time.
    fn apply(self: &Arc<Self>, new: Config) -> ReloadReport {
        let old = self.config();
        let wanted = enabled_backends(&new, self.paths.as_ref());
        let current: BTreeMap<String, crate::config::BackendConfig> = self
            .read_backends()
            .iter()
            .map(|(n, b)| (n.clone(), b.config.clone()))
            .collect();
        let changes = config::diff::backends(&current, &wanted);
        let restart_needed = config::diff::restart_needed(&old, &new);
        let meta_changed = old.meta_mcp != new.meta_mcp;
        let allow_changed = old.scanner_allow != new.scanner_allow;
        let gone: Vec<&String> = changes.removed.iter().chain(&changes.changed).collect();
        let fresh: Vec<&String> = changes.added.iter().chain(&changes.changed).collect();
        // What sessions need to hear: the servers touched (with the tags scopes match on, old
        // and new), and whether resources or prompts of a retired backend leave the lists.
        let mut touched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for name in changes.touched() {
            let tags = touched.entry(name.clone()).or_default();
            tags.extend(current.get(&name).into_iter().flat_map(|b| b.tags.clone()));
            tags.extend(wanted.get(&name).into_iter().flat_map(|b| b.tags.clone()));
        }
        let (mut resources, mut prompts) = (false, false);
        for name in &gone {
            if let Some(entry) = self.catalog.get(name) {
                resources |= !entry.resources.is_empty() || !entry.resource_templates.is_empty();
                prompts |= !entry.prompts.is_empty();
            }
        }
        let new_sources = new.sources.clone();
        let env = self.env_for(fresh.iter().filter_map(|n| wanted.get(*n)));
        let mut retired: Vec<Arc<Backend>> = Vec::new();
        {
            let mut backends = self.backends.write().unwrap_or_else(|e| e.into_inner());
            for name in &gone {
                retired.extend(backends.remove(*name));
            }
            for name in &fresh {
                if let Some(spec) = wanted.get(*name) {
                    backends.insert(
                        (*name).clone(),
                        Arc::new(Backend::new(spec.clone(), env.clone())),
                    );
                }
            }
            *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
        }
        for name in &gone {
            self.catalog.remove(name);
        }
        if !gone.is_empty() {
            let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
            for name in &gone {
                if let Err(e) = index.remove_server(name) {
                    tracing::error!(backend = %name, "cannot remove tools from the index: {e}");
                }
            }
        }
        if !fresh.is_empty() {
            self.discovering
                .send_modify(|set| set.extend(fresh.iter().map(|n| (*n).clone())));
            for name in &fresh {
                self.spawn_refresh((*name).clone(), Duration::ZERO);
            }
        }
        if allow_changed {
            // Tools are screened when listed: list the untouched ones again.
            let untouched: Vec<String> = self
                .read_backends()
                .keys()
                .filter(|n| !fresh.contains(n))
                .cloned()
                .collect();
            for name in untouched {
                self.spawn_refresh(name, Duration::ZERO);
            }
        }
        for backend in retired {
            tracing::info!(backend = %backend.name(), "stopping a backend the config no longer has as it was");
            self.background()
                .spawn(async move { backend.shutdown().await });
        }
        if !touched.is_empty() {
            let servers = touched
                .into_iter()
                .map(|(name, tags)| ServerChange {
                    name,
                    tags: tags.into_iter().collect(),
                })
                .collect();
            let _ = self.notices.send(ClientNotice::ServersChanged { servers });
        }
        if meta_changed {
            let _ = self.notices.send(ClientNotice::ToolsListChanged);
        }
        if resources {
            let _ = self.notices.send(ClientNotice::ResourcesListChanged);
        }
        if prompts {
            let _ = self.notices.send(ClientNotice::PromptsListChanged);
        }
        self.set_config_error(None);
        self.reloading.sources.send_if_modified(|files| {
            let differ = *files != new_sources;
            if differ {
                *files = new_sources;
            }
            differ
        });
        let report = ReloadReport {
            applied: true,
            added: changes.added,
            removed: changes.removed,
            changed: changes.changed,
            restart_needed,
            error: None,
        };
        if report.restart_needed.is_empty() {
            tracing::info!(added = ?report.added, removed = ?report.removed, changed = ?report.changed, "config reloaded");
        } else {
            tracing::warn!(added = ?report.added, removed = ?report.removed, changed = ?report.changed, restart_needed = ?report.restart_needed, "config reloaded; some settings apply only after a restart");
        }
        report
    }

    /// The environment new shared backends are made with; a stdio backend added to a gateway
    /// that ran none so far gets the reaper (and the subreaper role) started now.
    fn env_for<'a>(
        &self,
        specs: impl Iterator<Item = &'a crate::config::BackendConfig>,
    ) -> crate::backend::BackendEnv {
        let mut env = self.env.lock().unwrap_or_else(|e| e.into_inner());
        let spawns = specs
            .into_iter()
            .any(|b| matches!(b.transport, crate::config::Transport::Stdio(_)));
        if spawns && env.reaper.is_none() {
            crate::backend::process::become_subreaper();
            env.reaper = crate::backend::process::Reaper::start().map(Arc::new);
        }
        env.clone()
    }
}
