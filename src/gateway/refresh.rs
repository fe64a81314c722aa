//! Discovery and refresh: learning what each backend lists and putting it in the catalog and the
//! search index. Owns the first discoveries at startup (and the waits for them), one refresh at a
//! time per backend (a request meanwhile makes it run once more), and the one screening of every
//! backend's tools before they are cataloged: its `tools` filter, then the scanner, then
//! `pin_tools` pins (a change of the pin file re-screens backends holding tools back).
//! It never lets a tool the screening rules out into the catalog or the index, never lets the
//! listing of a backend a reload replaced land, and never speaks to a client (it broadcasts
//! [`ClientNotice`]s).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::search::release_freed_memory;
use super::{ClientNotice, DISCOVERY_WAIT, Gateway};
use crate::backend::Backend;

/// How long a backend started only to discover its tools stays up.
const DISCOVERY_LINGER: Duration = Duration::from_secs(30);

impl Gateway {
    /// Refreshes `backend` in the background after `delay` (skipped if shutdown begins first).
    pub(super) fn spawn_refresh(self: &Arc<Self>, backend: String, delay: Duration) {
        let gw = Arc::clone(self);
        let stop = self.background.token().clone();
        self.background.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(delay) => gw.refresh(&backend).await,
            }
        });
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
    pub(super) fn reapply_pins_if_changed(self: &Arc<Self>) {
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
}
