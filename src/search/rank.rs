//! Re-ranking: lexical (BM25) and dense candidates plus the name tiers become the outcome. Tiers
//! first (exact names, then near names); then BM25 re-weighted by query coverage, fused with the
//! dense side's cosine similarity when every tool has a vector (weighted score fusion or
//! weighted reciprocal-rank fusion), times the usage prior; optionally diversified (MMR) for long
//! queries; scores made monotonic; the best hit's coverage and similarity decide the
//! no-good-match flag.
//!
//! It never touches tantivy's writer or plans a query.

use std::collections::HashMap;
use std::sync::Arc;

use super::config::Fusion;
use super::query::QueryPlan;
use super::{Hit, SearchError, SearchIndex, SearchOutcome};

/// One candidate on its way to the outcome.
struct Ranked {
    tier: u8,
    score: f32,
    key: u64,
    coverage: f32,
    similarity: Option<f32>,
    /// The usage prior's factor, applied after fusion.
    usage: f32,
}

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

        // The dense side: cosine of the query to every tool, its best candidates joining BM25's.
        let dense: Option<HashMap<u64, (usize, f32)>> = self
            .dense_encoder()
            .filter(|_| self.config.dense_weight > 0.0)
            .map(|encoder| {
                let q = encoder.encode(query);
                let scores = self.dense_scores(&q, server);
                scores
                    .into_iter()
                    .enumerate()
                    .map(|(rank, (key, cos))| (key, (rank, cos)))
                    .collect()
            });
        let mut extra = 0;
        if let Some(dense) = &dense {
            for (&key, &(rank, _)) in dense {
                if rank < wanted.max(self.config.dense_candidates)
                    && let std::collections::hash_map::Entry::Vacant(v) = scored.entry(key)
                {
                    v.insert(0.0);
                    extra += 1;
                }
            }
        }

        let tier_of = |key: u64| {
            if exact.contains(&key) {
                0
            } else if near.contains(&key) {
                1
            } else {
                2
            }
        };
        for &key in exact.iter().chain(near.iter()) {
            if let std::collections::hash_map::Entry::Vacant(v) = scored.entry(key) {
                v.insert(0.0);
                extra += 1;
            }
        }
        let mut ranked: Vec<Ranked> = Vec::with_capacity(scored.len());
        for (&key, &bm25) in &scored {
            let Some(entry) = self.entries.get(&key) else {
                continue;
            };
            let coverage = coverage(&plan, &entry.terms);
            let usage = super::usage::factor(
                self.usage.reached(&entry.doc.server, &entry.doc.name),
                self.config.usage_boost,
            );
            let lexical = bm25 * (1.0 + self.config.coverage * coverage);
            ranked.push(Ranked {
                tier: tier_of(key),
                score: lexical,
                key,
                coverage,
                usage,
                similarity: dense
                    .as_ref()
                    .and_then(|d| d.get(&key))
                    .map(|(_, cos)| *cos),
            });
        }
        if let Some(dense) = &dense {
            self.fuse(&mut ranked, dense);
        }
        for r in &mut ranked {
            r.score *= r.usage;
        }
        ranked.sort_by(|a, b| {
            a.tier
                .cmp(&b.tier)
                .then(b.score.total_cmp(&a.score))
                .then_with(|| {
                    // Exact and near tiers keep the order the plan found them in.
                    let pos = |k: u64| {
                        exact
                            .iter()
                            .chain(near.iter())
                            .position(|x| *x == k)
                            .unwrap_or(usize::MAX)
                    };
                    pos(a.key).cmp(&pos(b.key))
                })
                .then(a.key.cmp(&b.key))
        });
        if dense.is_some()
            && self.config.mmr > 0.0
            && plan.originals.len() >= self.config.mmr_min_terms
        {
            self.diversify(&mut ranked, limit);
        }
        // Scores must not increase down the list, even where a tier outranks a higher raw score.
        for i in (0..ranked.len().saturating_sub(1)).rev() {
            let below = ranked[i + 1].score;
            if ranked[i].score <= below {
                ranked[i].score = below + 0.001_f32.max(below * 0.01);
            }
        }
        let (confidence, similarity) = match ranked.first() {
            None => (0.0, None),
            Some(best) => (
                if best.tier < 2 { 1.0 } else { best.coverage },
                best.similarity,
            ),
        };
        let dense_vouches = similarity.is_some_and(|s| s >= self.config.dense_match_at);
        let no_good_match =
            ranked.is_empty() || (confidence < self.config.no_match_below && !dense_vouches);
        let hits = ranked
            .into_iter()
            .take(limit)
            .filter_map(|r| {
                self.entries.get(&r.key).map(|e| Hit {
                    doc: Arc::clone(&e.doc),
                    score: r.score,
                })
            })
            .collect();
        Ok(SearchOutcome {
            hits,
            total: total + extra,
            no_good_match,
            confidence,
            similarity,
        })
    }

    /// Replaces each candidate's lexical score by its fusion with the dense side.
    fn fuse(&self, ranked: &mut [Ranked], dense: &HashMap<u64, (usize, f32)>) {
        let w = self.config.dense_weight.clamp(0.0, 1.0);
        match self.config.fusion {
            Fusion::Score => {
                let max_lexical = ranked.iter().map(|r| r.score).fold(0.0_f32, f32::max);
                let sims: Vec<f32> = ranked.iter().filter_map(|r| r.similarity).collect();
                let max_sim = sims.iter().copied().fold(f32::MIN, f32::max);
                let min_sim = sims.iter().copied().fold(f32::MAX, f32::min);
                let span = (max_sim - min_sim).max(1e-6);
                for r in ranked.iter_mut() {
                    let lexical = if max_lexical > 0.0 {
                        r.score / max_lexical
                    } else {
                        0.0
                    };
                    let semantic = r.similarity.map_or(0.0, |s| (s - min_sim) / span);
                    r.score = (1.0 - w) * lexical + w * semantic;
                }
            }
            Fusion::Rrf => {
                let k = self.config.rrf_k;
                let mut by_lexical: Vec<(f32, u64)> = ranked
                    .iter()
                    .filter(|r| r.score > 0.0)
                    .map(|r| (r.score, r.key))
                    .collect();
                by_lexical.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let lexical_rank: HashMap<u64, usize> = by_lexical
                    .into_iter()
                    .enumerate()
                    .map(|(i, (_, key))| (key, i))
                    .collect();
                for r in ranked.iter_mut() {
                    let lexical = lexical_rank
                        .get(&r.key)
                        .map_or(0.0, |i| 1.0 / (k + *i as f32 + 1.0));
                    let semantic = dense
                        .get(&r.key)
                        .map_or(0.0, |(i, _)| 1.0 / (k + *i as f32 + 1.0));
                    r.score = (1.0 - w) * lexical + w * semantic;
                }
            }
        }
    }

    /// Maximal marginal relevance over the top of the ordinary tier: each next pick trades its
    /// relevance against its similarity to the picks so far, so a long multi-step request gets
    /// tools for its different steps instead of near-copies of one.
    fn diversify(&self, ranked: &mut Vec<Ranked>, limit: usize) {
        let start = ranked
            .iter()
            .position(|r| r.tier == 2)
            .unwrap_or(ranked.len());
        let pool_end = (start + (limit * 3).max(10)).min(ranked.len());
        if pool_end <= start + 1 {
            return;
        }
        let mut pool: Vec<Ranked> = ranked.drain(start..pool_end).collect();
        let max = pool
            .iter()
            .map(|r| r.score)
            .fold(0.0_f32, f32::max)
            .max(1e-6);
        let lambda = self.config.mmr.clamp(0.0, 1.0);
        let mut picked: Vec<Ranked> = Vec::with_capacity(pool.len());
        while !pool.is_empty() {
            let mut best = (f32::MIN, 0);
            for (i, r) in pool.iter().enumerate() {
                let redundancy = picked
                    .iter()
                    .map(|p| self.tool_similarity(p.key, r.key))
                    .fold(0.0_f32, f32::max);
                let value = (1.0 - lambda) * (r.score / max) - lambda * redundancy;
                if value > best.0 {
                    best = (value, i);
                }
            }
            picked.push(pool.remove(best.1));
        }
        for (offset, r) in picked.into_iter().enumerate() {
            ranked.insert(start + offset, r);
        }
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
