//! Re-ranking: BM25 candidates plus the name tiers become the outcome. Tiers first (exact names,
//! then near names), then BM25 re-weighted by query coverage and the usage prior; scores made
//! monotonic; the best hit's coverage becomes the confidence the no-good-match flag thresholds.
//!
//! It never touches tantivy's writer or plans a query.

use std::collections::HashMap;
use std::sync::Arc;

use super::query::QueryPlan;
use super::{Hit, SearchError, SearchIndex, SearchOutcome};

impl SearchIndex {
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

        let wanted = limit.max(self.config.candidates).max(1);
        let (candidates, total) = self
            .lexical
            .candidates(&plan, &self.config, server, wanted)?;
        let mut scored: HashMap<u64, f32> = candidates.into_iter().collect();

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
}

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
