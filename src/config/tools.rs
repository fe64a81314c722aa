//! `backends.<name>.tools`: which of a backend's tools the gateway serves, as plain data.
//!
//! `allow` (absent: every tool) and `deny` (wins over `allow`) hold tool names or glob patterns
//! over the backend's own tool names. The gateway applies the filter where tools enter the
//! catalog, so a tool it rules out is never listed, searched or invoked. Never looks at a
//! catalog or a caller (per-caller scopes are `crate::scope`).

/// A backend's tool filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFilter {
    /// Only these tools; `None`: every tool.
    pub allow: Option<Vec<String>>,
    /// Never these tools.
    pub deny: Vec<String>,
}

impl ToolFilter {
    /// Whether the backend's tool `tool` is served.
    pub fn permits(&self, tool: &str) -> bool {
        let hit = |p: &String| super::allow::glob_match(p, tool);
        !self.deny.iter().any(hit) && self.allow.as_ref().is_none_or(|a| a.iter().any(hit))
    }

    /// No restriction at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_wins_and_allow_restricts() {
        let f = ToolFilter {
            allow: Some(vec!["get_*".into(), "delete_repository".into()]),
            deny: vec!["delete_repository".into()],
        };
        assert!(f.permits("get_issue"));
        assert!(!f.permits("delete_repository"));
        assert!(!f.permits("create_issue"));
        assert!(ToolFilter::default().permits("anything"));
        assert!(ToolFilter::default().is_empty());
    }
}
