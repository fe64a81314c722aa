//! The name tiers: tools a query names exactly (alone or server-qualified) and tools whose name
//! is within a typo or two of a one-word query. `rank.rs` puts them above every BM25 candidate.
//!
//! It never looks at descriptions or scores.

use super::SearchIndex;

impl SearchIndex {
    /// Tools named exactly `text` (case-insensitive), or `server` + `/`, `__`, `:` or `.` + tool.
    pub(super) fn exact_names(&self, text: &str) -> Vec<u64> {
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
    pub(super) fn near_names(&self, word: &str) -> Vec<u64> {
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
}
