//! Did-you-mean: which known names are close enough to an unknown one to be a likely typo.
//!
//! Owns the one closeness policy used wherever the gateway answers "unknown X" (config keys,
//! capability keys and arguments, servers and tools in meta-tools, registry entries, client ids).
//! Names are compared case-insensitively with `-` and `_` treated alike. A candidate is close when
//! a few edits turn one into the other (one edit for names under five characters, two otherwise;
//! a swap of neighbours counts as one) or when the two share a strong prefix (Jaro-Winkler ≥ 0.9,
//! so `directory` finds `directories`). It only compares strings: it never decides what is
//! known, and the search index's typo correction (a ranking concern) does not use it.

/// Jaro-Winkler similarity at or above which two names count as close whatever their distance.
const STRONG_SIMILARITY: f64 = 0.9;

/// Names longer than this get no suggestion: no real name is that long, and comparing costs
/// time and memory in proportion to the product of the lengths (a 1 MB "name" from a client).
const MAX_WANTED_CHARS: usize = 256;

/// How many edits a name of `chars` characters may be away from a candidate.
fn max_edits(chars: usize) -> usize {
    if chars >= 5 { 2 } else { 1 }
}

fn normalize(s: &str) -> String {
    s.to_ascii_lowercase().replace('-', "_")
}

/// Every candidate close to `wanted`, best first (most similar, then fewest edits, then by
/// name), without duplicates. Empty when nothing is close or `wanted` is empty or longer than
/// 256 characters.
pub fn ranked<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    if wanted.is_empty() || wanted.chars().nth(MAX_WANTED_CHARS).is_some() {
        return Vec::new();
    }
    let w = normalize(wanted);
    let limit = max_edits(w.chars().count());
    let mut scored: Vec<(f64, usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let n = normalize(c);
            let edits = strsim::damerau_levenshtein(&w, &n);
            let similarity = strsim::jaro_winkler(&w, &n);
            (edits <= limit || similarity >= STRONG_SIMILARITY).then_some((similarity, edits, c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(b.2)));
    scored.dedup_by(|a, b| a.2 == b.2);
    scored.into_iter().map(|(_, _, c)| c).collect()
}

/// The closest candidate to `wanted`, if any is close enough to be a likely typo.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    ranked(wanted, candidates).into_iter().next()
}

/// ` (did you mean `x`?)` for the closest candidate, or nothing: the tail of an error message.
pub fn hint<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    phrase(closest(wanted, candidates))
}

/// ` (did you mean `x`?)` for a suggestion already chosen, or nothing.
pub fn phrase(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_within_the_edit_budget_are_close() {
        assert_eq!(closest("comand", ["command", "args"]), Some("command"));
        assert_eq!(closest("dys", ["days", "city"]), Some("days"));
        assert_eq!(closest("cursr", ["cursor", "claude"]), Some("cursor"));
        assert_eq!(closest("githb", ["github", "gitlab"]), Some("github"));
        assert_eq!(closest("file-fake", ["files-fake"]), Some("files-fake"));
        assert_eq!(closest("ecko", ["echo", "add"]), Some("echo"));
        assert_eq!(closest("pth", ["path", "method"]), Some("path"));
    }

    #[test]
    fn case_and_dash_do_not_count_and_prefixes_are_close() {
        assert_eq!(closest("Cursor", ["cursor"]), Some("cursor"));
        assert_eq!(closest("base-url", ["base_url"]), Some("base_url"));
        assert_eq!(
            closest("directory", ["directories", "enabled"]),
            Some("directories")
        );
    }

    #[test]
    fn far_names_are_not_suggested() {
        assert_eq!(closest("zzz", ["memory"]), None);
        assert_eq!(closest("abc", ["xyz"]), None);
        assert_eq!(closest("", ["a"]), None);
        assert_eq!(closest("log", ["server", "backends"]), None);
        // Short names get one edit only.
        assert_eq!(closest("ab", ["xy", "abcd"]), None);
    }

    #[test]
    fn ranked_orders_best_first_and_dedups() {
        assert_eq!(
            ranked("filesytem", ["memory", "filesystem", "time", "filesystem"]),
            vec!["filesystem"]
        );
        let r = ranked("gitub", ["github", "gitlab", "gist"]);
        assert_eq!(r.first(), Some(&"github"));
        assert!(!r.contains(&"gist"), "{r:?}");
    }

    #[test]
    fn hint_formats_or_stays_empty() {
        assert_eq!(hint("nestd", ["nested"]), " (did you mean `nested`?)");
        assert_eq!(hint("zzz", ["nested"]), "");
    }
}
