//! Query planning: a query's analyzed terms with their IDF, synonym expansions and typo
//! corrections (weighted, each tied to the typed term it stands for), the rarest terms of an
//! over-long query, and the tools it names (via `names.rs`).
//!
//! It never runs a search or scores a tool.

use super::SearchIndex;
use super::analyzer::{analyze, joined_identifier};

/// One weighted term of a planned query.
pub(super) struct QueryTerm {
    pub(super) text: String,
    pub(super) weight: f32,
    /// Typo corrections rank candidates but earn no coverage: a guessed word is no evidence
    /// that the tool fits.
    pub(super) corrected: bool,
    /// Index into `QueryPlan::originals` of the typed term this one stands for.
    pub(super) origin: usize,
}

/// What a query asks for, worked out once before any candidate is fetched.
pub(super) struct QueryPlan {
    /// Distinct analyzed terms of the query, with their IDF.
    pub(super) originals: Vec<(String, f32)>,
    pub(super) terms: Vec<QueryTerm>,
    /// Tools named exactly by the query, best first.
    pub(super) exact: Vec<u64>,
    /// Tools whose name is within a typo or two of the query, closest first.
    pub(super) near: Vec<u64>,
}

impl SearchIndex {
    fn idf(&self, term: &str) -> f32 {
        let n = self.entries.len() as f32;
        let df = self.doc_freq.get(term).copied().unwrap_or(0) as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// Analyzes `query` into weighted terms (typed, synonyms, typo corrections) and finds the
    /// tools it names.
    pub(super) fn plan(&self, query: &str) -> QueryPlan {
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
