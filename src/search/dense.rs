//! The dense side of hybrid search: one vector per tool from the embedding model, the query's
//! vector, and cosine similarity over every tool (brute force: a few thousand dot products cost
//! less than the query embedding).
//!
//! Vectors are computed outside the index (in the background, through [`embed_texts`] and the
//! on-disk cache) and handed in with [`SearchIndex::set_vectors`]. Until every tool has one, the
//! dense side is off and search is lexical. It never computes vectors under the index lock.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use crate::embedding::cache::{VectorCache, text_hash};
use crate::embedding::{Encoder, LoadError};

use super::SearchIndex;

/// The encoder and the vectors it produced.
#[derive(Default)]
pub(super) struct Dense {
    pub(super) encoder: Option<Arc<dyn Encoder>>,
    /// Key → unit vector.
    pub(super) vectors: HashMap<u64, Vec<f32>>,
}

/// Whether the dense side is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseState {
    /// No embedding model: search is BM25 only.
    NoModel,
    /// A model is loaded; tool vectors are still being computed (search is BM25 meanwhile).
    Embedding { done: usize, total: usize },
    /// Every tool has a vector: search is hybrid.
    Ready { total: usize },
}

impl SearchIndex {
    /// Sets (or removes) the embedding model; vectors of a previous model are dropped.
    pub fn set_encoder(&mut self, encoder: Option<Arc<dyn Encoder>>) {
        self.dense = Dense {
            encoder,
            vectors: HashMap::new(),
        };
    }

    /// The embedding model, if any.
    pub fn encoder(&self) -> Option<Arc<dyn Encoder>> {
        self.dense.encoder.clone()
    }

    /// Tools without a vector yet, with the text to embed for each.
    pub fn pending_embeddings(&self) -> Vec<(u64, String)> {
        if self.dense.encoder.is_none() {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|(k, _)| !self.dense.vectors.contains_key(k))
            .map(|(k, e)| (*k, e.doc.embedding_text()))
            .collect()
    }

    /// Stores vectors computed for [`SearchIndex::pending_embeddings`]; keys of tools removed
    /// meanwhile are ignored.
    pub fn set_vectors(&mut self, vectors: Vec<(u64, Vec<f32>)>) {
        let dims = self.dense.encoder.as_ref().map(|e| e.dims());
        for (key, v) in vectors {
            if self.entries.contains_key(&key) && Some(v.len()) == dims {
                self.dense.vectors.insert(key, v);
            }
        }
    }

    /// Whether search is hybrid yet.
    pub fn dense_state(&self) -> DenseState {
        if self.dense.encoder.is_none() {
            return DenseState::NoModel;
        }
        let total = self.entries.len();
        let done = self.dense.vectors.len();
        if done >= total {
            DenseState::Ready { total }
        } else {
            DenseState::Embedding { done, total }
        }
    }

    /// The encoder when every tool has a vector.
    pub(super) fn dense_encoder(&self) -> Option<&Arc<dyn Encoder>> {
        match self.dense_state() {
            DenseState::Ready { .. } => self.dense.encoder.as_ref(),
            _ => None,
        }
    }

    /// Cosine similarity of `query` to every tool (of `server`, if given), best first.
    pub(super) fn dense_scores(&self, query: &[f32], server: Option<&str>) -> Vec<(u64, f32)> {
        let mut scores: Vec<(u64, f32)> = self
            .dense
            .vectors
            .iter()
            .filter(|(k, _)| {
                server.is_none_or(|s| self.entries.get(k).is_some_and(|e| e.doc.server == s))
            })
            .map(|(k, v)| (*k, dot(query, v)))
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scores
    }

    /// Cosine similarity of two indexed tools (0 when either has no vector).
    pub(super) fn tool_similarity(&self, a: u64, b: u64) -> f32 {
        match (self.dense.vectors.get(&a), self.dense.vectors.get(&b)) {
            (Some(x), Some(y)) => dot(x, y),
            _ => 0.0,
        }
    }
}

/// Vectors for `pending` texts: from `cache` where present, else encoded (and cached). Also
/// returns how many had to be encoded.
pub fn embed_texts(
    encoder: &dyn Encoder,
    cache: &mut VectorCache,
    pending: Vec<(u64, String)>,
) -> (Vec<(u64, Vec<f32>)>, usize) {
    let mut out = Vec::with_capacity(pending.len());
    let mut encoded = 0;
    for (key, text) in pending {
        let hash = text_hash(&text);
        let vector = match cache.get(&hash) {
            Some(v) => v.to_vec(),
            None => {
                encoded += 1;
                let v = encoder.encode_document(&text);
                cache.insert(hash, v.clone());
                v
            }
        };
        out.push((key, vector));
    }
    (out, encoded)
}

/// Drops cached vectors of texts no longer in the index.
pub fn prune_cache(index: &SearchIndex, cache: &mut VectorCache) {
    let used: HashSet<_> = index
        .entries
        .values()
        .map(|e| text_hash(&e.doc.embedding_text()))
        .collect();
    cache.retain(&used);
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The installed model and its vector cache: what a gateway runs in the background to make its
/// index hybrid. Loaded once per process.
pub struct Embedder {
    encoder: Arc<dyn Encoder>,
    cache: Mutex<VectorCache>,
    /// The model's name, for status lines.
    pub model_id: String,
}

impl Embedder {
    /// Loads the installed model (the first known one installed, the default first) from the
    /// data dir with its cache from the cache dir; `None` when no model is installed.
    pub fn load(paths: &crate::state::Paths) -> Result<Option<Embedder>, LoadError> {
        let models_dir = crate::embedding::models_dir(paths);
        let Some(spec) = crate::embedding::installed(&models_dir) else {
            return Ok(None);
        };
        match crate::embedding::load(&spec, &models_dir) {
            Ok(loaded) => {
                let dims = loaded.model.dims();
                let cache_path = VectorCache::path(&paths.cache_dir, &loaded.hash);
                Ok(Some(Embedder {
                    encoder: Arc::new(loaded.model),
                    cache: Mutex::new(VectorCache::load(&cache_path, dims)),
                    model_id: loaded.id,
                }))
            }
            Err(LoadError::Missing(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An embedder over `encoder` caching in `cache` (tests and the benchmark).
    pub fn new(encoder: Arc<dyn Encoder>, cache: VectorCache, model_id: &str) -> Embedder {
        Embedder {
            encoder,
            cache: Mutex::new(cache),
            model_id: model_id.to_string(),
        }
    }

    pub fn encoder(&self) -> Arc<dyn Encoder> {
        Arc::clone(&self.encoder)
    }

    /// Gives `index` vectors for every tool that lacks one: texts are read under a read lock,
    /// encoded (or found in the cache) with no lock held, and stored under a brief write lock;
    /// then the cache is pruned to the indexed tools and saved. Runs serialize on the cache.
    pub fn run(&self, index: &RwLock<SearchIndex>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let (mut embedded, mut encoded) = (0, 0);
        // Tools added while a round encodes are picked up by the next one; a bounded number of
        // rounds, since a catalog that never stops changing is picked up by the next run.
        for _ in 0..8 {
            let pending = index
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .pending_embeddings();
            if pending.is_empty() {
                break;
            }
            let (vectors, fresh) = embed_texts(self.encoder.as_ref(), &mut cache, pending);
            embedded += vectors.len();
            encoded += fresh;
            index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .set_vectors(vectors);
        }
        if embedded > 0 {
            tracing::info!(
                model = %self.model_id,
                tools = embedded,
                encoded,
                cached = embedded - encoded,
                "tool vectors ready"
            );
        }
        prune_cache(&index.read().unwrap_or_else(|e| e.into_inner()), &mut cache);
        if let Err(e) = cache.save() {
            tracing::warn!("cannot save the vector cache: {e}");
        }
    }
}
