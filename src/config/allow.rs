//! `scanner.allow`: scanner findings the operator accepted, as plain configuration data.
//!
//! The scanner (which owns the rules) asks [`AllowList::allows`]; this module only holds the
//! entries and matches their glob patterns.

use serde::{Deserialize, Serialize};

/// One allow-list entry: findings of `rules` (all rules when empty) on tools matching
/// `backend`/`tool` (glob patterns, `*` for any) are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    #[serde(default = "any")]
    pub backend: String,
    #[serde(default = "any")]
    pub tool: String,
    #[serde(default)]
    pub rules: Vec<String>,
}

fn any() -> String {
    "*".to_string()
}

/// Operator-approved exceptions to the scanner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AllowList {
    pub entries: Vec<AllowEntry>,
}

pub(super) fn glob_match(pattern: &str, text: &str) -> bool {
    globset::Glob::new(pattern)
        .map(|g| g.compile_matcher().is_match(text))
        .unwrap_or(pattern == text)
}

impl AllowList {
    /// Is `rule` allowed for `backend`/`tool`?
    pub fn allows(&self, backend: &str, tool: &str, rule: &str) -> bool {
        self.entries.iter().any(|e| {
            glob_match(&e.backend, backend)
                && glob_match(&e.tool, tool)
                && (e.rules.is_empty() || e.rules.iter().any(|r| r == rule))
        })
    }
}
