//! Keeping the index up to date: the tantivy schema and writer ([`Lexical`]), the per-tool side
//! tables the ranking reads (analyzed terms, document frequencies, name lookup), and fetching
//! BM25 candidates for a planned query.
//!
//! It never ranks beyond BM25: tiers, coverage and the usage prior live in `rank.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use super::analyzer::{TOOL_ANALYZER, analyze};
use super::doc::FieldTexts;
use super::query::QueryPlan;
use super::{Entry, RankConfig, SearchError, SearchIndex, ToolDoc};

const WRITER_BUDGET: usize = 15_000_000;
/// Segments tolerated before additions are merged (each costs a little per search).
const MAX_SEGMENTS: usize = 4;

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

/// The tantivy side: schema, in-RAM index and reader. Documents carry the index's key of their
/// tool; everything else about a tool lives in the side tables.
pub(super) struct Lexical {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

/// One server's new documents: its name and each tool's key with its field texts.
type ServerBatch = (String, Vec<(u64, FieldTexts)>);

impl Lexical {
    /// An empty in-RAM index whose text fields are analyzed by `analyzer`.
    pub(super) fn new(analyzer: &TextAnalyzer) -> Result<Self, SearchError> {
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
        index.tokenizers().register(TOOL_ANALYZER, analyzer.clone());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Lexical {
            index,
            reader,
            fields,
        })
    }

    /// Replaces every document of each server in `batches` with the batch's documents, in one
    /// commit.
    fn write(&mut self, batches: Vec<ServerBatch>) -> Result<(), SearchError> {
        let mut writer: tantivy::IndexWriter<TantivyDocument> =
            self.index.writer_with_num_threads(1, WRITER_BUDGET)?;
        let f = self.fields;
        for (server, docs) in batches {
            writer.delete_term(Term::from_field_text(f.server_id, &server));
            for (key, texts) in docs {
                let mut tdoc = TantivyDocument::default();
                tdoc.add_u64(f.key, key);
                tdoc.add_text(f.server_id, &server);
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

    /// The best `wanted` tools by BM25 for `plan` (keys with scores) and how many matched at all.
    pub(super) fn candidates(
        &self,
        plan: &QueryPlan,
        config: &RankConfig,
        server: Option<&str>,
        wanted: usize,
    ) -> Result<(Vec<(u64, f32)>, usize), SearchError> {
        let Some(query) = self.text_query(plan, config, server) else {
            return Ok((Vec::new(), 0));
        };
        let searcher = self.reader.searcher();
        let (top, count) = searcher.search(
            &query,
            &(TopDocs::with_limit(wanted).order_by_score(), Count),
        )?;
        let mut columns: HashMap<u32, tantivy::columnar::Column<u64>> = HashMap::new();
        let mut found = Vec::with_capacity(top.len());
        for (bm25, addr) in top {
            if let Some(key) = key_of(&searcher, &mut columns, addr)? {
                found.push((key, bm25));
            }
        }
        Ok((found, count))
    }

    /// The tantivy query: every planned term in every boosted field, summed; `None` when the query
    /// has no searchable term.
    fn text_query(
        &self,
        plan: &QueryPlan,
        config: &RankConfig,
        server: Option<&str>,
    ) -> Option<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &plan.terms {
            for (field, weight) in self.fields.weighted(config) {
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

    /// Bytes held by tantivy's segments.
    fn memory_bytes(&self) -> Result<usize, SearchError> {
        Ok(self
            .reader
            .searcher()
            .space_usage()
            .map_err(|e| SearchError(tantivy::TantivyError::from(e)))?
            .total()
            .get_bytes() as usize)
    }
}

/// The index key stored with a tantivy document.
fn key_of(
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

impl SearchIndex {
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
        let mut batches = Vec::with_capacity(updates.len());
        for (server, docs) in updates {
            for key in self.by_server.remove(&server).unwrap_or_default() {
                self.forget(key);
            }
            let mut keys = Vec::with_capacity(docs.len());
            let mut batch = Vec::with_capacity(docs.len());
            for d in docs {
                let key = self.next_key;
                self.next_key += 1;
                let texts = FieldTexts::of(&d);
                self.remember(key, d, &texts);
                batch.push((key, texts));
                keys.push(key);
            }
            if !keys.is_empty() {
                self.by_server.insert(server.clone(), keys);
            }
            batches.push((server, batch));
        }
        self.lexical.write(batches)
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
        self.dense.vectors.remove(&key);
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

    /// Approximate memory held by the index: tantivy's segments plus the side tables (terms per
    /// tool, document frequencies, name lookup). Tool documents themselves are not counted; the
    /// catalog owns them too.
    pub fn memory_bytes(&self) -> Result<usize, SearchError> {
        let segments = self.lexical.memory_bytes()?;
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
}
