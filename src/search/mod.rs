//! The search index over every tool in the catalog (tantivy, in RAM).
//!
//! Owns analysis and ranking for `gateway_search_tools`, the `search` CLI command and the
//! retrieval benchmark, so all three rank identically. It is derived state: it is rebuilt from the
//! catalog at any time and is never the source of truth. It never talks to backends.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TEXT, Value as _};
use tantivy::{Index, IndexReader, TantivyDocument, Term, doc};

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
}

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

struct Fields {
    key: Field,
    server: Field,
    name: Field,
    description: Field,
}

/// The in-RAM index plus the documents it points at.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    docs: HashMap<u64, Arc<ToolDoc>>,
    next_key: u64,
}

const WRITER_BUDGET: usize = 15_000_000;

impl SearchIndex {
    pub fn new() -> Result<Self, SearchError> {
        let mut sb = Schema::builder();
        let fields = Fields {
            key: sb.add_u64_field("key", STORED),
            server: sb.add_text_field("server", STRING),
            name: sb.add_text_field("name", TEXT),
            description: sb.add_text_field("description", TEXT),
        };
        let index = Index::create_in_ram(sb.build());
        let reader = index.reader()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            docs: HashMap::new(),
            next_key: 0,
        })
    }

    /// Replaces every document of `server` with `docs` (an incremental update, not a rebuild).
    pub fn replace_server(&mut self, server: &str, docs: Vec<ToolDoc>) -> Result<(), SearchError> {
        let mut writer = self.index.writer_with_num_threads(1, WRITER_BUDGET)?;
        writer.delete_term(Term::from_field_text(self.fields.server, server));
        self.docs.retain(|_, d| d.server != server);
        for d in docs {
            let key = self.next_key;
            self.next_key += 1;
            writer.add_document(doc!(
                self.fields.key => key,
                self.fields.server => d.server.clone(),
                self.fields.name => format!("{} {}", d.name, split_identifier(&d.name)),
                self.fields.description => d.description.clone(),
            ))?;
            self.docs.insert(key, Arc::new(d));
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Number of indexed tools.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Best matches for `query`, optionally restricted to one server.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        server: Option<&str>,
    ) -> Result<SearchOutcome, SearchError> {
        let mut parser =
            QueryParser::for_index(&self.index, vec![self.fields.name, self.fields.description]);
        parser.set_field_boost(self.fields.name, 2.0);
        let cleaned: String = query
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect();
        let (text_query, _) = parser.parse_query_lenient(&split_identifier(&cleaned));
        let query: Box<dyn Query> = match server {
            Some(s) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, text_query),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.server, s),
                        IndexRecordOption::Basic,
                    )),
                ),
            ])),
            None => text_query,
        };
        let searcher = self.reader.searcher();
        let (top, total) = searcher.search(
            &query,
            &(
                TopDocs::with_limit(limit.max(1)).order_by_score(),
                tantivy::collector::Count,
            ),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let stored: TantivyDocument = searcher.doc(addr)?;
            let Some(key) = stored.get_first(self.fields.key).and_then(|v| v.as_u64()) else {
                continue;
            };
            if let Some(doc) = self.docs.get(&key) {
                hits.push(Hit {
                    doc: Arc::clone(doc),
                    score,
                });
            }
        }
        hits.truncate(limit);
        Ok(SearchOutcome { hits, total })
    }
}

/// `createIssue`, `create_issue`, `github/create-issue` → `create issue` words.
pub fn split_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || c == '.' || c == '/' {
            out.push(' ');
            prev_lower = false;
        } else {
            if c.is_uppercase() && prev_lower {
                out.push(' ');
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            out.push(c);
        }
    }
    out
}
