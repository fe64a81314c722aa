//! What changed between two loaded configs: the one rule of live reload for which backends are
//! added, removed or changed, and which settings cannot apply without a restart.
//!
//! Owns only the comparison of plain data; it never applies anything (the gateway does, see
//! `crate::gateway`'s reload).

use std::collections::BTreeMap;

use super::{BackendConfig, Config};

/// How a set of backends (by name) differs from another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendChanges {
    /// In the new set only.
    pub added: Vec<String>,
    /// In the old set only.
    pub removed: Vec<String>,
    /// In both, with any difference in their spec.
    pub changed: Vec<String>,
}

impl BackendChanges {
    /// Whether the sets are the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Every name that was added, removed or changed, sorted.
    pub fn touched(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .added
            .iter()
            .chain(&self.removed)
            .chain(&self.changed)
            .cloned()
            .collect();
        all.sort();
        all
    }
}

/// Compares two sets of backends by name; a backend whose spec differs in any way is changed.
pub fn backends(
    old: &BTreeMap<String, BackendConfig>,
    new: &BTreeMap<String, BackendConfig>,
) -> BackendChanges {
    let mut out = BackendChanges::default();
    for (name, spec) in new {
        match old.get(name) {
            None => out.added.push(name.clone()),
            Some(before) if before != spec => out.changed.push(name.clone()),
            Some(_) => {}
        }
    }
    out.removed = old
        .keys()
        .filter(|n| !new.contains_key(*n))
        .cloned()
        .collect();
    out
}

/// The settings whose change needs a restart of the gateway, by the key a user writes
/// (`server.port`, `auth`, …). Settings that apply live (backends, `meta_mcp`, `capabilities`,
/// `skills`, `scanner`, `failsafe`) are never named; a difference in any setting not known here is reported
/// as `other settings` rather than ignored.
pub fn restart_needed(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = new.clone();
    // Applied live (or not settings at all).
    rest.sources = old.sources.clone();
    rest.warnings = old.warnings.clone();
    rest.backends = old.backends.clone();
    rest.meta_mcp = old.meta_mcp.clone();
    rest.capabilities = old.capabilities.clone();
    rest.skills = old.skills.clone();
    rest.scanner_allow = old.scanner_allow.clone();
    // Applies through each backend's effective `failsafe` (a changed backend restarts).
    rest.failsafe = old.failsafe;
    let (o, n) = (&old.server, &new.server);
    let named = [
        ("server.host", o.host != n.host),
        ("server.port", o.port != n.port),
        (
            "server.allowed_origins",
            o.allowed_origins != n.allowed_origins,
        ),
        ("server.allowed_hosts", o.allowed_hosts != n.allowed_hosts),
        ("server.max_body_size", o.max_body_size != n.max_body_size),
        ("server.public_url", o.public_url != n.public_url),
        ("share", old.share != new.share),
        ("auth", old.auth != new.auth),
        ("request_log", old.request_log != new.request_log),
        ("log", old.log != new.log),
    ];
    for (key, differs) in named {
        if differs {
            out.push(key.to_string());
        }
    }
    rest.server = old.server.clone();
    rest.share = old.share;
    rest.auth = old.auth.clone();
    rest.request_log = old.request_log.clone();
    rest.log = old.log.clone();
    if rest != *old {
        out.push("other settings".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        super::super::parse_str(text, Path::new("/t/gateway.yaml")).expect("valid config")
    }

    #[test]
    fn backends_added_removed_and_changed() {
        let old =
            config("backends:\n  a:\n    command: a\n  b:\n    command: b\n  c:\n    command: c\n");
        let new = config(
            "backends:\n  a:\n    command: a\n  b:\n    command: b\n    args: [x]\n  d:\n    url: http://127.0.0.1:9/mcp\n",
        );
        let d = backends(&old.backends, &new.backends);
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.removed, ["c"]);
        assert_eq!(d.changed, ["b"]);
        assert_eq!(d.touched(), ["b", "c", "d"]);
        assert!(backends(&old.backends, &old.backends).is_empty());
    }

    #[test]
    fn any_spec_difference_is_a_change() {
        let base = "backends:\n  a:\n    command: a\n";
        let old = config(base);
        for edit in [
            "    env: {K: v}\n",
            "    timeout: 5s\n",
            "    description: new words\n",
            "    tools: {deny: [x]}\n",
            "    isolate: true\n",
        ] {
            let new = config(&format!("{base}{edit}"));
            assert_eq!(
                backends(&old.backends, &new.backends).changed,
                ["a"],
                "{edit}"
            );
        }
    }

    #[test]
    fn listener_auth_and_share_need_a_restart_live_settings_do_not() {
        let old = config("backends:\n  a:\n    command: a\n");
        let live = config(
            "meta_mcp:\n  enabled: false\nbackends:\n  a:\n    command: a\n  b:\n    command: b\n",
        );
        assert!(restart_needed(&old, &live).is_empty());
        let listener =
            config("server:\n  port: 4000\n  host: 127.0.0.2\nbackends:\n  a:\n    command: a\n");
        assert_eq!(
            restart_needed(&old, &listener),
            ["server.host", "server.port"]
        );
        let shared = config("share: true\nbackends:\n  a:\n    command: a\n");
        assert_eq!(restart_needed(&old, &shared), ["share"]);
        let auth = config("auth:\n  rate_limit: 120\nbackends:\n  a:\n    command: a\n");
        assert_eq!(restart_needed(&old, &auth), ["auth"]);
    }
}
