//! The search index over every tool in the catalog (tantivy, in RAM).
//!
//! Owns analysis and ranking for `gateway_search_tools`, the `search` CLI command and the
//! retrieval benchmark, so all three rank identically. It is derived state: it is rebuilt from the
//! catalog at any time and is never the source of truth. It never talks to backends.
//!
//! Ranking, in order of application (each step measured in docs/BENCHMARKS.md `## Search`):
//! 1. Exact names first: a query that *is* a tool name (`create_issue`, `github/create_issue`,
//!    `github__create_issue`) or contains one as an identifier ranks that tool first.
//! 2. A query that is one identifier within one or two typos of a tool name (`creat_isue`) ranks
//!    that tool next.
//! 3. Everything else by BM25 summed over boosted fields (name parts + whole name, title,
//!    description, parameter names, parameter descriptions, server name + description), with
//!    query terms expanded by a small synonym table and unknown terms corrected against name
//!    terms, then re-weighted by how much of the query's IDF mass a tool covers and by a small,
//!    capped usage prior.
//! 4. With an embedding model installed and every tool embedded, that lexical score is fused with
//!    the cosine similarity of the query's and the tool's vectors (`dense.rs`, `rank.rs`); until
//!    then search is lexical.
//!
//! Files by job, so a ranking change touches one of them:
//! - `doc.rs`: what a tool is to search ([`ToolDoc`]) and which of its texts are indexed;
//! - `config.rs`: every ranking knob ([`RankConfig`]) and typed changes to one ([`Knob`]);
//! - `index.rs`: the tantivy schema and writer, the per-tool side tables, BM25 candidates;
//! - `query.rs`: query planning (analysis, synonym expansion, typo correction, long queries);
//! - `names.rs`: the exact- and near-name tiers;
//! - `dense.rs`: tool vectors from the embedding model and cosine similarity to the query;
//! - `rank.rs`: re-ranking candidates into the outcome (tiers, coverage, fusion with the dense
//!   side, usage prior, MMR for long queries, no-match);
//! - `analyzer.rs`, `synonyms.rs`, `usage.rs`, `render.rs`: tokenizing, the synonym table, the
//!   usage prior's boost (over the counts of [`crate::metrics::Profiles`]), and the compact
//!   match rendering.

mod analyzer;
mod config;
mod dense;
mod doc;
mod index;
mod names;
mod query;
mod rank;
pub mod render;
mod synonyms;
pub mod usage;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::tokenizer::TextAnalyzer;

pub use analyzer::AnalyzerOptions;
pub use config::{Fusion, Knob, KnobError, RankConfig};
pub use dense::{DenseState, Embedder, embed_texts, prune_cache};
pub use doc::ToolDoc;
pub use render::render_match;

use index::Lexical;
use synonyms::Synonyms;

/// A ranked match.
#[derive(Debug, Clone)]
pub struct Hit {
    pub doc: Arc<ToolDoc>,
    pub score: f32,
}

/// The outcome of one query.
#[derive(Debug, Clone, Default)]
pub struct SearchOutcome {
    /// Best first, at most `limit`.
    pub hits: Vec<Hit>,
    /// How many tools matched at all.
    pub total: usize,
    /// True when even the best hit covers too little of the query to be trusted (calibrated on
    /// BFCL's irrelevant queries), or nothing matched.
    pub no_good_match: bool,
    /// How much of the query the best hit covers, 0–1 (1 for an exact or near-exact name): the
    /// figure `no_good_match` thresholds.
    pub confidence: f32,
    /// Cosine similarity of the best hit to the query when search is hybrid (a best hit at least
    /// `RankConfig::dense_match_at` similar is a good match whatever its coverage).
    pub similarity: Option<f32>,
}

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

/// What the index keeps per tool besides tantivy's postings.
struct Entry {
    doc: Arc<ToolDoc>,
    /// Sorted, distinct analyzed terms of all fields (for coverage and document frequency).
    terms: Vec<String>,
    /// Distinct analyzed terms of the name field (the typo-correction vocabulary).
    name_terms: Vec<String>,
}

/// The in-RAM index plus the documents it points at.
pub struct SearchIndex {
    lexical: Lexical,
    dense: dense::Dense,
    config: RankConfig,
    analyzer: TextAnalyzer,
    synonyms: Synonyms,
    /// The usage profiles the usage prior reads (shared with the gateway, which records).
    usage: Arc<crate::metrics::Profiles>,
    entries: HashMap<u64, Entry>,
    by_server: HashMap<String, Vec<u64>>,
    /// Lowercased tool name → keys (names may repeat across servers).
    by_name: HashMap<String, Vec<u64>>,
    /// Documents containing each term in any field.
    doc_freq: HashMap<String, u32>,
    /// Documents containing each term in their name.
    name_vocab: HashMap<String, u32>,
    next_key: u64,
}

impl SearchIndex {
    /// An empty index with the default (measured) ranking.
    pub fn new() -> Result<Self, SearchError> {
        Self::with_config(RankConfig::default())
    }

    /// An empty index ranking with `config`.
    pub fn with_config(config: RankConfig) -> Result<Self, SearchError> {
        let mut analyzer = analyzer::build_analyzer(config.analyzer);
        let lexical = Lexical::new(&analyzer)?;
        let synonyms = Synonyms::build(&mut analyzer);
        Ok(SearchIndex {
            lexical,
            dense: dense::Dense::default(),
            config,
            analyzer,
            synonyms,
            usage: Arc::default(),
            entries: HashMap::new(),
            by_server: HashMap::new(),
            by_name: HashMap::new(),
            doc_freq: HashMap::new(),
            name_vocab: HashMap::new(),
            next_key: 0,
        })
    }

    /// The ranking this index applies.
    pub fn config(&self) -> &RankConfig {
        &self.config
    }

    /// Number of indexed tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads the usage prior from `profiles` (the gateway's, which it records into).
    pub fn set_profiles(&mut self, profiles: Arc<crate::metrics::Profiles>) {
        self.usage = profiles;
    }

    /// The usage profiles the usage prior reads.
    pub fn profiles(&self) -> &Arc<crate::metrics::Profiles> {
        &self.usage
    }
}
