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

mod analyzer;
pub mod render;
mod synonyms;
pub mod usage;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

pub use analyzer::AnalyzerOptions;
pub use render::render_match;
pub use usage::{UsageCounts, UsageError};

use analyzer::{TOOL_ANALYZER, analyze, build_analyzer, joined_identifier};
use synonyms::Synonyms;

/// One searchable tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDoc {
    pub server: String,
    pub server_description: Option<String>,
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: Value,
}

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
}

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

/// Every ranking knob. The defaults are the measured best on the tuning halves of the benchmark
/// sets; the benchmark's ablation switches them one at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct RankConfig {
    /// Index-time analysis (changing it needs a new index).
    pub analyzer: AnalyzerOptions,
    /// Field boosts for BM25.
    pub w_name: f32,
    pub w_title: f32,
    pub w_description: f32,
    pub w_params: f32,
    pub w_param_desc: f32,
    pub w_server: f32,
    /// Weight of a synonym relative to the term the user typed (0 disables expansion).
    pub synonyms: f32,
    /// Weight of a typo-corrected name term (0 disables correction).
    pub fuzzy: f32,
    /// Strength of the query-coverage re-weighting (0 disables it).
    pub coverage: f32,
    /// Keep query terms made only of digits ("5 units", "2023"): they rarely name what a tool does.
    pub numbers: bool,
    /// Exact and near-exact (one or two typos) tool names rank first.
    pub exact_names: bool,
    /// Largest relative boost the usage prior can give (0 disables it).
    pub usage_boost: f32,
    /// How many BM25 candidates are re-ranked.
    pub candidates: usize,
    /// Longest query, in distinct terms: a longer one keeps its rarest terms (long pasted text
    /// costs time and mostly adds noise).
    pub max_terms: usize,
    /// Below this coverage of the query by the best hit, the outcome says `no_good_match`.
    pub no_match_below: f32,
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig {
            analyzer: AnalyzerOptions {
                stemming: true,
                stop_words: true,
            },
            w_name: 1.0,
            w_title: 1.0,
            w_description: 1.0,
            w_params: 0.5,
            w_param_desc: 1.0,
            w_server: 0.3,
            synonyms: 0.5,
            fuzzy: 0.6,
            coverage: 3.0,
            numbers: false,
            exact_names: true,
            usage_boost: 0.1,
            candidates: 50,
            max_terms: 32,
            no_match_below: 0.15,
        }
    }
}

impl RankConfig {
    /// Every key [`RankConfig::set`] accepts.
    pub const KEYS: &'static [&'static str] = &[
        "stemming",
        "stop_words",
        "name",
        "title",
        "description",
        "params",
        "param_desc",
        "server",
        "synonyms",
        "fuzzy",
        "coverage",
        "numbers",
        "exact_names",
        "usage_boost",
        "candidates",
        "max_terms",
        "no_match_below",
    ];

    /// Sets one knob from text (`name=3`, `stemming=false`), for the benchmark's `--set`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let float = || {
            value
                .parse::<f32>()
                .map_err(|e| format!("{key}={value}: not a number ({e})"))
        };
        let boolean = || {
            value
                .parse::<bool>()
                .map_err(|e| format!("{key}={value}: not true/false ({e})"))
        };
        match key {
            "stemming" => self.analyzer.stemming = boolean()?,
            "stop_words" => self.analyzer.stop_words = boolean()?,
            "name" => self.w_name = float()?,
            "title" => self.w_title = float()?,
            "description" => self.w_description = float()?,
            "params" => self.w_params = float()?,
            "param_desc" => self.w_param_desc = float()?,
            "server" => self.w_server = float()?,
            "synonyms" => self.synonyms = float()?,
            "fuzzy" => self.fuzzy = float()?,
            "coverage" => self.coverage = float()?,
            "numbers" => self.numbers = boolean()?,
            "exact_names" => self.exact_names = boolean()?,
            "usage_boost" => self.usage_boost = float()?,
            "candidates" => {
                self.candidates = value
                    .parse()
                    .map_err(|e| format!("{key}={value}: not a count ({e})"))?
            }
            "max_terms" => {
                self.max_terms = value
                    .parse()
                    .map_err(|e| format!("{key}={value}: not a count ({e})"))?
            }
            "no_match_below" => self.no_match_below = float()?,
            _ => {
                return Err(format!(
                    "unknown ranking key `{key}` (known: {})",
                    Self::KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    server_id: Field,
    name: Field,
    title: Field,
    description: Field,
    params: Field,
    param_desc: Field,
    server: Field,
}

impl Fields {
    /// The text fields with their boosts.
    fn weighted(&self, c: &RankConfig) -> [(Field, f32); 6] {
        [
            (self.name, c.w_name),
            (self.title, c.w_title),
            (self.description, c.w_description),
            (self.params, c.w_params),
            (self.param_desc, c.w_param_desc),
            (self.server, c.w_server),
        ]
    }
}

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
    index: Index,
    reader: IndexReader,
    fields: Fields,
    config: RankConfig,
    analyzer: TextAnalyzer,
    synonyms: Synonyms,
    usage: UsageCounts,
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

const WRITER_BUDGET: usize = 15_000_000;
/// Segments tolerated before additions are merged (each costs a little per search).
const MAX_SEGMENTS: usize = 4;

/// One weighted term of a planned query.
struct QueryTerm {
    text: String,
    weight: f32,
    /// Typo corrections rank candidates but earn no coverage: a guessed word is no evidence
    /// that the tool fits.
    corrected: bool,
    /// Index into `QueryPlan::originals` of the typed term this one stands for.
    origin: usize,
}

struct QueryPlan {
    /// Distinct analyzed terms of the query, with their IDF.
    originals: Vec<(String, f32)>,
    terms: Vec<QueryTerm>,
    /// Tools named exactly by the query, best first.
    exact: Vec<u64>,
    /// Tools whose name is within a typo or two of the query, closest first.
    near: Vec<u64>,
}

impl SearchIndex {
    /// An empty index with the default (measured) ranking.
    pub fn new() -> Result<Self, SearchError> {
        Self::with_config(RankConfig::default())
    }

    /// An empty index ranking with `config`.
    pub fn with_config(config: RankConfig) -> Result<Self, SearchError> {
        let mut sb = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOOL_ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            key: sb.add_u64_field("key", FAST),
            server_id: sb.add_text_field("server_id", STRING),
            name: sb.add_text_field("name", text.clone()),
            title: sb.add_text_field("title", text.clone()),
            description: sb.add_text_field("description", text.clone()),
            params: sb.add_text_field("params", text.clone()),
            param_desc: sb.add_text_field("param_desc", text.clone()),
            server: sb.add_text_field("server", text),
        };
        let index = Index::create_in_ram(sb.build());
        let mut analyzer = build_analyzer(config.analyzer);
        index.tokenizers().register(TOOL_ANALYZER, analyzer.clone());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let synonyms = Synonyms::build(&mut analyzer);
        Ok(SearchIndex {
            index,
            reader,
            fields,
            config,
            analyzer,
            synonyms,
            usage: UsageCounts::default(),
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

    /// Replaces every document of `server` with `docs` (an incremental update, not a rebuild).
    pub fn replace_server(&mut self, server: &str, docs: Vec<ToolDoc>) -> Result<(), SearchError> {
        self.replace_servers(vec![(server.to_string(), docs)])
    }

    /// Removes every document of `server`.
    pub fn remove_server(&mut self, server: &str) -> Result<(), SearchError> {
        self.replace_servers(vec![(server.to_string(), Vec::new())])
    }

    /// Replaces the documents of several servers in one commit (the startup path: one commit for
    /// the whole warm catalog instead of one per server).
    pub fn replace_servers(
        &mut self,
        updates: Vec<(String, Vec<ToolDoc>)>,
    ) -> Result<(), SearchError> {
        let mut writer: tantivy::IndexWriter<TantivyDocument> =
            self.index.writer_with_num_threads(1, WRITER_BUDGET)?;
        for (server, docs) in updates {
            writer.delete_term(Term::from_field_text(self.fields.server_id, &server));
            for key in self.by_server.remove(&server).unwrap_or_default() {
                self.forget(key);
            }
            let mut keys = Vec::with_capacity(docs.len());
            for d in docs {
                let key = self.next_key;
                self.next_key += 1;
                let texts = FieldTexts::of(&d);
                let mut tdoc = TantivyDocument::default();
                tdoc.add_u64(self.fields.key, key);
                tdoc.add_text(self.fields.server_id, &server);
                let f = self.fields;
                for (field, text) in [
                    (f.name, &texts.name),
                    (f.title, &texts.title),
                    (f.description, &texts.description),
                    (f.params, &texts.params),
                    (f.param_desc, &texts.param_desc),
                    (f.server, &texts.server),
                ] {
                    tdoc.add_text(field, text);
                }
                writer.add_document(tdoc)?;
                self.remember(key, d, &texts);
                keys.push(key);
            }
            if !keys.is_empty() {
                self.by_server.insert(server, keys);
            }
        }
        writer.commit()?;
        // Deleted documents still count in BM25 statistics until their segment is merged, so any
        // delete triggers a merge into one segment: an updated index then ranks like a fresh one.
        // Pure additions (startup, one server at a time) merge only once segments pile up.
        let segments = self.index.searchable_segment_ids()?;
        let deletes = self
            .index
            .searchable_segment_metas()?
            .iter()
            .any(tantivy::index::SegmentMeta::has_deletes);
        if deletes || segments.len() > MAX_SEGMENTS {
            writer.merge(&segments).wait()?;
        }
        writer.wait_merging_threads()?;
        self.reader.reload()?;
        Ok(())
    }

    fn remember(&mut self, key: u64, doc: ToolDoc, texts: &FieldTexts) {
        let mut name_terms = analyze(&mut self.analyzer, &texts.name);
        name_terms.sort();
        name_terms.dedup();
        let mut terms = name_terms.clone();
        for text in [
            &texts.title,
            &texts.description,
            &texts.params,
            &texts.param_desc,
            &texts.server,
        ] {
            terms.extend(analyze(&mut self.analyzer, text));
        }
        terms.sort();
        terms.dedup();
        for t in &terms {
            *self.doc_freq.entry(t.clone()).or_default() += 1;
        }
        for t in &name_terms {
            *self.name_vocab.entry(t.clone()).or_default() += 1;
        }
        self.by_name
            .entry(doc.name.to_lowercase())
            .or_default()
            .push(key);
        self.entries.insert(
            key,
            Entry {
                doc: Arc::new(doc),
                terms,
                name_terms,
            },
        );
    }

    fn forget(&mut self, key: u64) {
        let Some(entry) = self.entries.remove(&key) else {
            return;
        };
        for (map, terms) in [
            (&mut self.doc_freq, &entry.terms),
            (&mut self.name_vocab, &entry.name_terms),
        ] {
            for t in terms {
                if let Some(n) = map.get_mut(t) {
                    *n -= 1;
                    if *n == 0 {
                        map.remove(t);
                    }
                }
            }
        }
        let name = entry.doc.name.to_lowercase();
        if let Some(keys) = self.by_name.get_mut(&name) {
            keys.retain(|k| *k != key);
            if keys.is_empty() {
                self.by_name.remove(&name);
            }
        }
    }

    /// Number of indexed tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Counts one invocation of `server`/`tool` for the usage prior.
    pub fn record_use(&mut self, server: &str, tool: &str) {
        self.usage.record(server, tool);
    }

    /// The usage counts (to persist them).
    pub fn usage(&self) -> &UsageCounts {
        &self.usage
    }

    /// Replaces the usage counts (after loading them).
    pub fn set_usage(&mut self, usage: UsageCounts) {
        self.usage = usage;
    }

    /// Loads the usage counts from the state dir (`search-usage.json`; absent means none).
    pub fn load_usage(&mut self, paths: &crate::state::Paths) -> Result<(), UsageError> {
        self.usage = UsageCounts::load(&UsageCounts::path(paths))?;
        Ok(())
    }

    /// Saves the usage counts to the state dir.
    pub fn save_usage(&self, paths: &crate::state::Paths) -> Result<(), UsageError> {
        self.usage.save(&UsageCounts::path(paths))
    }

    /// Approximate memory held by the index: tantivy's segments plus the side tables (terms per
    /// tool, document frequencies, name lookup). Tool documents themselves are not counted; the
    /// catalog owns them too.
    pub fn memory_bytes(&self) -> Result<usize, SearchError> {
        let segments = self
            .reader
            .searcher()
            .space_usage()
            .map_err(|e| SearchError(tantivy::TantivyError::from(e)))?
            .total()
            .get_bytes() as usize;
        const PER_STRING: usize = std::mem::size_of::<String>();
        let strings = |v: &[String]| v.iter().map(|s| s.len() + PER_STRING).sum::<usize>();
        let entries: usize = self
            .entries
            .values()
            .map(|e| strings(&e.terms) + strings(&e.name_terms) + 64)
            .sum();
        let maps: usize = self
            .doc_freq
            .keys()
            .chain(self.name_vocab.keys())
            .chain(self.by_name.keys())
            .map(|k| k.len() + PER_STRING + 16)
            .sum();
        Ok(segments + entries + maps)
    }

    /// Best matches for `query`, optionally restricted to one server.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        server: Option<&str>,
    ) -> Result<SearchOutcome, SearchError> {
        let plan = self.plan(query);
        let in_server = |key: &u64| {
            server.is_none_or(|s| self.entries.get(key).is_some_and(|e| e.doc.server == s))
        };
        let exact: Vec<u64> = plan.exact.iter().copied().filter(in_server).collect();
        let near: Vec<u64> = plan.near.iter().copied().filter(in_server).collect();

        let searcher = self.reader.searcher();
        let mut scored: HashMap<u64, f32> = HashMap::new();
        let mut total = 0;
        if let Some(text_query) = self.text_query(&plan, server) {
            let wanted = limit.max(self.config.candidates).max(1);
            let (top, count) = searcher.search(
                &text_query,
                &(TopDocs::with_limit(wanted).order_by_score(), Count),
            )?;
            total = count;
            let mut columns: HashMap<u32, tantivy::columnar::Column<u64>> = HashMap::new();
            for (bm25, addr) in top {
                let Some(key) = self.key_of(&searcher, &mut columns, addr)? else {
                    continue;
                };
                scored.insert(key, bm25);
            }
        }

        let mut ranked: Vec<(u8, f32, u64, f32)> = Vec::with_capacity(scored.len() + 2);
        let tier_of = |key: u64| {
            if exact.contains(&key) {
                0
            } else if near.contains(&key) {
                1
            } else {
                2
            }
        };
        let mut extra = 0;
        for &key in exact.iter().chain(near.iter()) {
            if let std::collections::hash_map::Entry::Vacant(v) = scored.entry(key) {
                v.insert(0.0);
                extra += 1;
            }
        }
        for (&key, &bm25) in &scored {
            let Some(entry) = self.entries.get(&key) else {
                continue;
            };
            let coverage = coverage(&plan, &entry.terms);
            let usage =
                self.usage
                    .factor(&entry.doc.server, &entry.doc.name, self.config.usage_boost);
            let score = bm25 * (1.0 + self.config.coverage * coverage) * usage;
            ranked.push((tier_of(key), score, key, coverage));
        }
        ranked.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.total_cmp(&a.1))
                .then_with(|| {
                    // Exact and near tiers keep the order the plan found them in.
                    let pos = |k: u64| {
                        exact
                            .iter()
                            .chain(near.iter())
                            .position(|x| *x == k)
                            .unwrap_or(usize::MAX)
                    };
                    pos(a.2).cmp(&pos(b.2))
                })
                .then(a.2.cmp(&b.2))
        });
        // Scores must not increase down the list, even where a tier outranks a higher raw score.
        for i in (0..ranked.len().saturating_sub(1)).rev() {
            let below = ranked[i + 1].1;
            if ranked[i].1 <= below {
                ranked[i].1 = below + 0.001_f32.max(below * 0.01);
            }
        }
        let confidence = match ranked.first() {
            None => 0.0,
            Some(&(tier, _, _, coverage)) => {
                if tier < 2 {
                    1.0
                } else {
                    coverage
                }
            }
        };
        let no_good_match = ranked.is_empty() || confidence < self.config.no_match_below;
        let hits = ranked
            .into_iter()
            .take(limit)
            .filter_map(|(_, score, key, _)| {
                self.entries.get(&key).map(|e| Hit {
                    doc: Arc::clone(&e.doc),
                    score,
                })
            })
            .collect();
        Ok(SearchOutcome {
            hits,
            total: total + extra,
            no_good_match,
            confidence,
        })
    }

    fn key_of(
        &self,
        searcher: &tantivy::Searcher,
        columns: &mut HashMap<u32, tantivy::columnar::Column<u64>>,
        addr: DocAddress,
    ) -> Result<Option<u64>, SearchError> {
        let column = match columns.entry(addr.segment_ord) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(
                searcher
                    .segment_reader(addr.segment_ord)
                    .fast_fields()
                    .u64("key")?,
            ),
        };
        Ok(column.first(addr.doc_id))
    }

    /// The tantivy query: every planned term in every boosted field, summed; `None` when the query
    /// has no searchable term.
    fn text_query(&self, plan: &QueryPlan, server: Option<&str>) -> Option<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &plan.terms {
            for (field, weight) in self.fields.weighted(&self.config) {
                if weight <= 0.0 || term.weight <= 0.0 {
                    continue;
                }
                let q = TermQuery::new(
                    Term::from_field_text(field, &term.text),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), weight * term.weight)),
                ));
            }
        }
        if clauses.is_empty() {
            return None;
        }
        let text: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
        Some(match server {
            None => text,
            Some(s) => {
                let filter = TermQuery::new(
                    Term::from_field_text(self.fields.server_id, s),
                    IndexRecordOption::Basic,
                );
                Box::new(BooleanQuery::new(vec![
                    (Occur::Must, text),
                    (
                        Occur::Must,
                        Box::new(BoostQuery::new(Box::new(filter), 0.0)),
                    ),
                ]))
            }
        })
    }

    fn idf(&self, term: &str) -> f32 {
        let n = self.entries.len() as f32;
        let df = self.doc_freq.get(term).copied().unwrap_or(0) as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn plan(&self, query: &str) -> QueryPlan {
        let raw = query.trim();
        let mut analyzer = self.analyzer.clone();
        let mut exact = Vec::new();
        let mut near = Vec::new();
        if self.config.exact_names && !raw.is_empty() {
            exact = self.exact_names(raw);
            for word in raw.split_whitespace() {
                let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
                if looks_like_identifier(word) {
                    for key in self.exact_names(word) {
                        if !exact.contains(&key) {
                            exact.push(key);
                        }
                    }
                }
            }
            if exact.is_empty() && !raw.contains(char::is_whitespace) {
                near = self.near_names(raw);
            }
        }

        let mut originals: Vec<String> = Vec::new();
        let add_original = |t: String, originals: &mut Vec<String>| {
            if !originals.contains(&t) {
                originals.push(t);
            }
        };
        for t in analyze(&mut analyzer, raw) {
            if self.config.numbers || !t.chars().all(|c| c.is_ascii_digit()) {
                add_original(t, &mut originals);
            }
        }
        for word in raw.split_whitespace() {
            if word.chars().any(|c| !c.is_alphanumeric()) {
                for t in analyze(&mut analyzer, &joined_identifier(word)) {
                    add_original(t, &mut originals);
                }
            }
        }
        if originals.len() > self.config.max_terms {
            let mut by_idf: Vec<(f32, usize)> = originals
                .iter()
                .enumerate()
                .map(|(i, t)| (self.idf(t), i))
                .collect();
            by_idf.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut keep: Vec<usize> = by_idf
                .into_iter()
                .take(self.config.max_terms)
                .map(|(_, i)| i)
                .collect();
            keep.sort_unstable();
            originals = keep.into_iter().map(|i| originals[i].clone()).collect();
        }
        let mut terms: Vec<QueryTerm> = originals
            .iter()
            .enumerate()
            .map(|(i, t)| QueryTerm {
                text: t.clone(),
                weight: 1.0,
                corrected: false,
                origin: i,
            })
            .collect();
        let add_expansion =
            |terms: &mut Vec<QueryTerm>, text: &str, weight: f32, corrected, origin| {
                if originals.iter().any(|o| o == text) {
                    return;
                }
                match terms.iter_mut().find(|t| t.text == text) {
                    Some(t) if t.weight < weight => {
                        t.weight = weight;
                        t.corrected = corrected;
                        t.origin = origin;
                    }
                    Some(_) => {}
                    None => terms.push(QueryTerm {
                        text: text.to_string(),
                        weight,
                        corrected,
                        origin,
                    }),
                }
            };
        for (i, t) in originals.iter().enumerate() {
            if self.config.synonyms > 0.0 {
                for s in self.synonyms.of(t) {
                    if self.doc_freq.contains_key(s) {
                        add_expansion(&mut terms, s, self.config.synonyms, false, i);
                    }
                }
            }
            if self.config.fuzzy > 0.0
                && originals.len() <= FUZZY_MAX_TERMS
                && !self.doc_freq.contains_key(t)
            {
                for s in self.corrections(t) {
                    add_expansion(&mut terms, &s, self.config.fuzzy, true, i);
                }
            }
        }
        let originals = originals
            .into_iter()
            .map(|t| {
                let idf = self.idf(&t);
                (t, idf)
            })
            .collect();
        QueryPlan {
            originals,
            terms,
            exact,
            near,
        }
    }

    /// Tools named exactly `text` (case-insensitive), or `server` + `/`, `__`, `:` or `.` + tool.
    fn exact_names(&self, text: &str) -> Vec<u64> {
        let lower = text.to_lowercase();
        if let Some(keys) = self.by_name.get(&lower) {
            return keys.clone();
        }
        for sep in ["__", "/", ":", "."] {
            let Some((server, tool)) = lower.split_once(sep) else {
                continue;
            };
            if let Some(keys) = self.by_name.get(tool) {
                let found: Vec<u64> = keys
                    .iter()
                    .copied()
                    .filter(|k| {
                        self.entries
                            .get(k)
                            .is_some_and(|e| e.doc.server.to_lowercase() == server)
                    })
                    .collect();
                if !found.is_empty() {
                    return found;
                }
            }
        }
        Vec::new()
    }

    /// Tools whose name (alone or server-qualified) is within one typo (names up to 7 characters)
    /// or two typos (longer names) of `word`, closest first.
    fn near_names(&self, word: &str) -> Vec<u64> {
        let lower = word.to_lowercase();
        let len = lower.chars().count();
        if len < 4 {
            return Vec::new();
        }
        let max = if len < 8 { 1 } else { 2 };
        let mut found: Vec<(usize, u64)> = Vec::new();
        for (name, keys) in &self.by_name {
            let name_len = name.chars().count();
            if name_len.abs_diff(len) > max {
                continue;
            }
            let d = strsim::osa_distance(&lower, name);
            if d <= max {
                found.extend(keys.iter().map(|k| (d, *k)));
            }
        }
        found.sort();
        found.into_iter().map(|(_, k)| k).collect()
    }

    /// Up to three name terms within one typo (terms of 3–7 characters) or two (longer) of an
    /// analyzed query term that no tool contains; most frequent first among the closest.
    fn corrections(&self, term: &str) -> Vec<String> {
        let len = term.chars().count();
        if len < 3 || term.chars().any(|c| c.is_ascii_digit()) {
            return Vec::new();
        }
        let max = if len < 8 { 1 } else { 2 };
        let mut found: Vec<(usize, std::cmp::Reverse<u32>, &String)> = self
            .name_vocab
            .iter()
            .filter(|(t, _)| t.chars().count().abs_diff(len) <= max)
            .filter_map(|(t, df)| {
                let d = strsim::osa_distance(term, t);
                (d <= max).then_some((d, std::cmp::Reverse(*df), t))
            })
            .collect();
        found.sort();
        found
            .into_iter()
            .take(3)
            .map(|(_, _, t)| t.clone())
            .collect()
    }
}

/// Typo correction applies to queries of at most this many terms: in longer queries an unknown
/// word is a name or a number far more often than a typo, and correcting it adds noise.
const FUZZY_MAX_TERMS: usize = 3;

/// Share of the query's IDF mass a tool's terms cover: a typed term counts fully, a term matched
/// only through a synonym counts at the synonym's weight, a typo correction not at all.
fn coverage(plan: &QueryPlan, doc_terms: &[String]) -> f32 {
    let has = |t: &str| doc_terms.binary_search_by(|d| d.as_str().cmp(t)).is_ok();
    let mut credit = vec![0.0_f32; plan.originals.len()];
    for term in plan.terms.iter().filter(|t| !t.corrected) {
        if credit[term.origin] < term.weight.min(1.0) && has(&term.text) {
            credit[term.origin] = term.weight.min(1.0);
        }
    }
    let total: f32 = plan.originals.iter().map(|(_, idf)| idf).sum();
    if total <= 0.0 {
        return 0.0;
    }
    plan.originals
        .iter()
        .zip(credit)
        .map(|((_, idf), c)| idf * c)
        .sum::<f32>()
        / total
}

/// `create_issue`, `github/create-issue`, `createIssue`: a word that can only be an identifier.
fn looks_like_identifier(word: &str) -> bool {
    let has_separator = word
        .trim_matches(|c: char| !c.is_alphanumeric())
        .contains(['_', '-', '.', '/', ':']);
    let camel = word
        .chars()
        .zip(word.chars().skip(1))
        .any(|(a, b)| a.is_lowercase() && b.is_uppercase());
    has_separator || camel
}

/// The text of each indexed field of one tool.
struct FieldTexts {
    name: String,
    title: String,
    description: String,
    params: String,
    param_desc: String,
    server: String,
}

impl FieldTexts {
    fn of(d: &ToolDoc) -> FieldTexts {
        let joined = joined_identifier(&d.name);
        let name = if d.name.chars().all(char::is_alphanumeric) {
            d.name.clone()
        } else {
            format!("{} {joined}", d.name)
        };
        let mut params = String::new();
        let mut param_desc = String::new();
        collect_schema_text(&d.input_schema, &mut params, &mut param_desc, 0);
        FieldTexts {
            name,
            title: d.title.clone().unwrap_or_default(),
            description: d.description.clone(),
            params,
            param_desc,
            server: format!(
                "{} {}",
                d.server,
                d.server_description.as_deref().unwrap_or("")
            ),
        }
    }
}

/// Deepest schema nesting walked for parameter text.
const SCHEMA_DEPTH: usize = 4;

/// Property names (into `names`) and property descriptions, titles and string enum values (into
/// `descriptions`) of a JSON schema, walking nested objects and array items.
fn collect_schema_text(
    schema: &Value,
    names: &mut String,
    descriptions: &mut String,
    depth: usize,
) {
    if depth > SCHEMA_DEPTH {
        return;
    }
    let Some(obj) = schema.as_object() else {
        return;
    };
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, sub) in props {
            names.push_str(name);
            names.push(' ');
            if let Some(sub) = sub.as_object() {
                for key in ["description", "title"] {
                    if let Some(Value::String(s)) = sub.get(key) {
                        descriptions.push_str(s);
                        descriptions.push(' ');
                    }
                }
                if let Some(Value::Array(values)) = sub.get("enum") {
                    for v in values.iter().filter_map(Value::as_str) {
                        descriptions.push_str(v);
                        descriptions.push(' ');
                    }
                }
            }
            collect_schema_text(sub, names, descriptions, depth + 1);
        }
    }
    if let Some(items) = obj.get("items") {
        collect_schema_text(items, names, descriptions, depth + 1);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(variants)) = obj.get(key) {
            for v in variants {
                collect_schema_text(v, names, descriptions, depth + 1);
            }
        }
    }
}
