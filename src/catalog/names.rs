//! Namespaced tool names (`server__tool`) for clients that see backend tools directly.
//!
//! Names are at most 64 characters of `[A-Za-z0-9_-]`, deterministic (the same server and tool
//! always give the same name) and collision-free: when a name had to be sanitized or shortened,
//! a short hash of the original pair is appended.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

pub const SEPARATOR: &str = "__";
pub const MAX_LEN: usize = 64;

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The public name of `tool` on `server`.
pub fn namespaced(server: &str, tool: &str) -> String {
    let plain = format!("{}{SEPARATOR}{}", sanitize(server), sanitize(tool));
    let exact = plain == format!("{server}{SEPARATOR}{tool}");
    if exact && plain.len() <= MAX_LEN {
        return plain;
    }
    let digest = Sha256::digest(format!("{server}\0{tool}").as_bytes());
    let suffix = hex::encode(&digest[..3]);
    let keep = MAX_LEN - suffix.len() - 1;
    let mut head: String = plain.chars().take(keep).collect();
    head.push('_');
    head.push_str(&suffix);
    head
}

/// The public URI of a backend resource: `scheme+original`, where `scheme` is the server name
/// made a valid URI scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`): `_`
/// becomes `.`, and a name starting with a digit gets an `x.` prefix. Reversible, because server
/// names never contain `.` or `+`; stable across restarts, because it depends on nothing else.
pub fn namespace_uri(server: &str, uri: &str) -> String {
    let mut scheme = String::with_capacity(server.len() + 2);
    if server.starts_with(|c: char| !c.is_ascii_alphabetic()) {
        scheme.push_str("x.");
    }
    scheme.extend(server.chars().map(|c| if c == '_' { '.' } else { c }));
    format!("{scheme}+{uri}")
}

/// Splits a public URI back into `(server, original)`.
pub fn split_uri(public: &str) -> Option<(String, &str)> {
    let (scheme, uri) = public
        .split_once('+')
        .filter(|(s, u)| !s.is_empty() && !u.is_empty())?;
    let name = scheme.strip_prefix("x.").unwrap_or(scheme);
    Some((name.replace('.', "_"), uri))
}

/// Reverse map from public names to `(server, tool)`.
#[derive(Debug, Default, Clone)]
pub struct NameMap {
    by_public: HashMap<String, (String, String)>,
}

impl NameMap {
    /// Builds the map; a (theoretical) collision keeps the first pair and logs the second.
    pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> NameMap {
        let mut by_public = HashMap::new();
        for (server, tool) in pairs {
            let name = namespaced(server, tool);
            if let Some((s, t)) = by_public.get(&name) {
                tracing::warn!("tool name collision on {name}: {s}/{t} and {server}/{tool}");
                continue;
            }
            by_public.insert(name, (server.to_string(), tool.to_string()));
        }
        NameMap { by_public }
    }

    pub fn resolve(&self, public: &str) -> Option<(&str, &str)> {
        self.by_public
            .get(public)
            .map(|(s, t)| (s.as_str(), t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        let p = namespace_uri("everything", "git+ssh://host/x");
        assert_eq!(p, "everything+git+ssh://host/x");
        assert_eq!(
            split_uri(&p),
            Some(("everything".into(), "git+ssh://host/x"))
        );
        assert_eq!(split_uri("file:///no-server"), None);
        for server in ["my_docs", "9lives", "a-b_c"] {
            let p = namespace_uri(server, "demo://r/1");
            let scheme = p.split('+').next().unwrap();
            assert!(scheme.starts_with(|c: char| c.is_ascii_alphabetic()), "{p}");
            assert!(
                scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            );
            assert_eq!(split_uri(&p), Some((server.to_string(), "demo://r/1")));
        }
    }

    #[test]
    fn plain_names_stay_readable() {
        assert_eq!(namespaced("github", "create_issue"), "github__create_issue");
    }

    #[test]
    fn odd_and_long_names_are_sanitized_deterministically_and_distinct() {
        let a = namespaced("srv", "get.file");
        let b = namespaced("srv", "get/file");
        assert_ne!(a, b);
        assert!(a.starts_with("srv__get_file_"));
        assert_eq!(a, namespaced("srv", "get.file"));
        let long = namespaced("server", &"x".repeat(100));
        assert_eq!(long.len(), MAX_LEN);
        for n in [a, b, long] {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            );
        }
        let map = NameMap::build([("srv", "get.file"), ("srv", "get/file")]);
        assert_eq!(
            map.resolve(&namespaced("srv", "get/file")),
            Some(("srv", "get/file"))
        );
    }
}
