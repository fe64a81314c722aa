//! Query expansion: a small, hand-written table of words that tool descriptions and user queries
//! use interchangeably (get/fetch/retrieve/read, create/add/new/make, picture/image/photo …).
//!
//! Owns the table and its stemmed lookup. Expansion only ever adds lower-weighted alternatives to
//! a query; it never removes or replaces what the user typed. The table is generic vocabulary of
//! tool APIs and everyday requests, not derived from any benchmark's queries.

use std::collections::HashMap;

use tantivy::tokenizer::TextAnalyzer;

use super::analyzer::analyze;

/// Each line is one group of interchangeable words.
const GROUPS: &[&str] = &[
    // verbs of tool APIs
    "get fetch retrieve read obtain lookup",
    "create add new make insert",
    "delete remove erase destroy discard drop",
    "update modify edit change alter patch",
    "list enumerate browse",
    "search find query locate seek discover",
    "send post submit deliver dispatch",
    "run execute invoke launch trigger",
    "stop terminate kill halt cancel abort",
    "write save store persist",
    "copy duplicate clone",
    "move rename relocate",
    "download pull",
    "upload push",
    "calculate compute estimate determine",
    "convert transform",
    "compare diff contrast",
    "reserve booking schedule appointment",
    "buy purchase order shop shopping",
    "check verify validate",
    "analyze analyse examine inspect assess",
    "summarize summary digest overview",
    "recommend suggest suggestion recommendation advice",
    "predict forecast projection",
    "track monitor watch",
    "explain describe",
    "screenshot capture snapshot",
    "click press tap",
    "navigate visit browse",
    // nouns of tool APIs
    "file document",
    "folder directory dir",
    "picture image photo photograph",
    "repository repo",
    "issue ticket bug",
    "error exception failure",
    "user account member profile",
    "email mail inbox",
    "message chat conversation",
    "website site webpage page url link",
    "table database db",
    "number count amount quantity total",
    "location place address position coordinates",
    "map route direction navigation",
    "time date clock timezone",
    "language translate translation",
    "key token credential secret",
    "log logs trace",
    "settings configuration config preferences",
    // everyday requests
    "movie film cinema",
    "song music track tune",
    "car vehicle automobile",
    "house home property apartment estate",
    "job career employment vacancy hiring",
    "price cost fee pricing",
    "cheap discount deal bargain coupon sale",
    "weather temperature climate",
    "stock share equity ticker",
    "money currency cash",
    "news headline headlines",
    "recipe cooking cook meal dish",
    "food restaurant dining cuisine",
    "doctor physician medical health",
    "hotel accommodation lodging",
    "flight airline airfare plane",
    "trip travel journey vacation holiday tour",
    "company business organization firm corporation",
    "paper article research study publication academic",
    "learn course education tutorial lesson teach",
    "exercise workout fitness gym",
    "gift present",
    "crypto cryptocurrency bitcoin blockchain",
    "law legal lawyer attorney",
];

/// Stemmed term → the stemmed terms of every group it belongs to (itself excluded).
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    map: HashMap<String, Vec<String>>,
}

impl Synonyms {
    /// Builds the lookup with `analyzer`, the same analyzer the index uses, so expansions are
    /// already in index form. Words the analyzer drops (stop words) are skipped.
    pub fn build(analyzer: &mut TextAnalyzer) -> Synonyms {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for group in GROUPS {
            let mut terms: Vec<String> = group
                .split_whitespace()
                .flat_map(|w| analyze(analyzer, w))
                .collect();
            terms.sort();
            terms.dedup();
            for t in &terms {
                let entry = map.entry(t.clone()).or_default();
                for other in &terms {
                    if other != t && !entry.contains(other) {
                        entry.push(other.clone());
                    }
                }
            }
        }
        Synonyms { map }
    }

    /// The alternatives of one (analyzed) query term.
    pub fn of(&self, term: &str) -> &[String] {
        self.map.get(term).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::analyzer::{AnalyzerOptions, build_analyzer};

    #[test]
    fn groups_are_stemmed_and_symmetric() {
        let mut a = build_analyzer(AnalyzerOptions {
            stemming: true,
            stop_words: true,
        });
        let s = Synonyms::build(&mut a);
        assert!(s.of("retriev").contains(&"fetch".to_string()));
        assert!(s.of("fetch").contains(&"retriev".to_string()));
        assert!(s.of("photo").contains(&"imag".to_string()));
        assert!(s.of("zebra").is_empty());
    }
}
