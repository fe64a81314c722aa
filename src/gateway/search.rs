//! The search side of the gateway: indexing the catalog, the embedding model (loaded off the
//! startup path, vectors given in the background) and the one search path behind the meta-tool,
//! the CLI and REST ([`Gateway::search`], with the [`Kind`] filter: tools or skills).
//! It never changes the catalog (refresh does) and never takes the `backends` lock after the
//! index lock (lock order).

use std::sync::Arc;
use std::time::Duration;

use super::Gateway;
use crate::search::{DenseState, Embedder, SearchError, SearchOutcome};

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

impl Gateway {
    /// Indexes every catalog entry in one commit. The catalog is read under the index lock, so a
    /// refresh that landed first is not overwritten with older tools.
    pub(super) fn index_catalog(&self) {
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
}

/// The background embedder: each time it is woken, gives new tools their vectors off the async
/// workers. Ends when the gateway is gone or shuts down.
pub(super) async fn embed_in_background(
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
pub(super) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
