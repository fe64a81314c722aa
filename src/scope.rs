//! Tool scopes: which tools (and servers) a caller may see and call.
//!
//! Owns the one pattern grammar for scopes and the one policy type every front uses wherever a
//! tool shows (search, lists, surfaced tools, invoke, `/mcp/{backend}`, resources, prompts, REST).
//! It never looks at credentials, the catalog or the network: callers ask it about names.
//!
//! Grammar of one pattern (`allowed_tools`, `denied_tools`, `backends`, `keys add --scope`):
//! - `TOOL_GLOB`: a bare glob matches the tool name on any server (`search_*`).
//! - `SERVER_GLOB/TOOL_GLOB` or `SERVER_GLOB:TOOL_GLOB`: a tool on matching servers (`time/*`).
//!   Server names never contain `/`, `:` or `@`, so the first separator is the boundary.
//! - `@TAG` or `@TAG/TOOL_GLOB`: servers carrying that `tags:` entry (`@web`, `@web/fetch*`).
//!
//! Globs are `globset` globs (`*`, `?`, `[...]`, `{a,b}`), case-sensitive.
//!
//! A [`Grant`] is one key's (or one JWT scope's) rule: a tool is permitted when its server is in
//! `backends` (if given), it matches `allowed` (if given) and no `denied` pattern. Deny wins. A
//! [`Policy`] is what a caller holds: unrestricted (no auth, stdio) or the union of its grants.

use std::fmt;
use std::sync::Arc;

use globset::{Glob, GlobMatcher};

/// A pattern that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{pattern}` is not a tool pattern: {message}")]
pub struct PatternError {
    pub pattern: String,
    pub message: String,
}

/// Which servers a pattern is about.
#[derive(Clone)]
enum Servers {
    Any,
    Glob(GlobMatcher),
    Tag(String),
}

/// One compiled pattern; compares and prints as the text it was written as.
#[derive(Clone)]
pub struct Pattern {
    text: String,
    servers: Servers,
    /// `None`: every tool (the pattern names only servers or is `*`).
    tool: Option<GlobMatcher>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Pattern {
    /// Parses one pattern (see the module docs for the grammar).
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let err = |message: &str| PatternError {
            pattern: text.to_string(),
            message: message.to_string(),
        };
        if text.trim().is_empty() {
            return Err(err("it is empty"));
        }
        if text.trim() != text {
            return Err(err("it has leading or trailing spaces"));
        }
        let (server_part, tool_part) = match text.find(['/', ':']) {
            Some(i) => (Some(&text[..i]), &text[i + 1..]),
            None if text.starts_with('@') => (Some(text), "*"),
            None => (None, text),
        };
        let servers = match server_part {
            None => Servers::Any,
            Some("") => return Err(err("the server part before the separator is empty")),
            Some(tag) if tag.starts_with('@') => {
                let tag = &tag[1..];
                if !valid_tag(tag) {
                    return Err(err(
                        "a tag after `@` uses 1–32 characters from A–Z, a–z, 0–9, `_` and `-`",
                    ));
                }
                Servers::Tag(tag.to_string())
            }
            Some("*") => Servers::Any,
            Some(glob) => {
                if glob.contains('@') {
                    return Err(err("`@` may only start a pattern (`@tag`)"));
                }
                Servers::Glob(compile(glob).map_err(|m| err(&m))?)
            }
        };
        if tool_part.is_empty() {
            return Err(err(
                "the tool part after the separator is empty (use `*` for every tool)",
            ));
        }
        let tool = match tool_part {
            "*" | "**" => None,
            glob => Some(compile(glob).map_err(|m| err(&m))?),
        };
        Ok(Pattern {
            text: text.to_string(),
            servers,
            tool,
        })
    }

    /// Parses a pattern that names servers only (`backends:` entries): `SERVER_GLOB` or `@TAG`.
    pub fn parse_server(text: &str) -> Result<Pattern, PatternError> {
        if text.contains(['/', ':']) {
            return Err(PatternError {
                pattern: text.to_string(),
                message: "names a tool; `backends` lists servers (a name, a glob or `@tag`)"
                    .to_string(),
            });
        }
        let as_tool = if text.starts_with('@') {
            text.to_string()
        } else {
            format!("{text}/*")
        };
        let mut p = Pattern::parse(&as_tool).map_err(|e| PatternError {
            pattern: text.to_string(),
            message: e.message,
        })?;
        p.text = text.to_string();
        Ok(p)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn matches_server(&self, server: &str, tags: &[String]) -> bool {
        match &self.servers {
            Servers::Any => true,
            Servers::Glob(g) => g.is_match(server),
            Servers::Tag(t) => tags.iter().any(|x| x == t),
        }
    }

    /// Whether the tool `server`/`tool` (on a server carrying `tags`) matches.
    pub fn matches(&self, server: &str, tool: &str, tags: &[String]) -> bool {
        self.matches_server(server, tags) && self.tool.as_ref().is_none_or(|g| g.is_match(tool))
    }

    /// Whether this pattern covers every tool of `server` (`server/*`, `@tag`, `*`).
    fn covers_server(&self, server: &str, tags: &[String]) -> bool {
        self.tool.is_none() && self.matches_server(server, tags)
    }
}

fn compile(glob: &str) -> Result<GlobMatcher, String> {
    Glob::new(glob)
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid glob: {}", e.kind()))
}

fn valid_tag(tag: &str) -> bool {
    (1..=32).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses every pattern of a list, naming the first bad one.
pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Pattern>, PatternError> {
    texts.iter().map(|t| Pattern::parse(t.as_ref())).collect()
}

/// One key's (or one JWT scope's) rule. `None` lists do not restrict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// Servers this grant reaches (anchor's `backends:`); `None`: every server.
    pub backends: Option<Vec<Pattern>>,
    /// Tools this grant allows; `None`: every tool (of `backends`).
    pub allowed: Option<Vec<Pattern>>,
    /// Tools this grant never allows; wins over `allowed`.
    pub denied: Vec<Pattern>,
}

impl Grant {
    /// A grant that permits everything.
    pub fn all() -> Grant {
        Grant::default()
    }

    /// Whether this grant permits the tool.
    pub fn permits(&self, server: &str, tool: &str, tags: &[String]) -> bool {
        self.reaches(server, tags)
            && self
                .allowed
                .as_ref()
                .is_none_or(|a| a.iter().any(|p| p.matches(server, tool, tags)))
            && !self.denied.iter().any(|p| p.matches(server, tool, tags))
    }

    fn reaches(&self, server: &str, tags: &[String]) -> bool {
        self.backends
            .as_ref()
            .is_none_or(|b| b.iter().any(|p| p.matches_server(server, tags)))
    }

    /// Whether this grant may permit some tool of `server`: the server is reached, some allow
    /// pattern could match one of its tools, and no deny pattern covers the whole server.
    pub fn sees_server(&self, server: &str, tags: &[String]) -> bool {
        self.reaches(server, tags)
            && self
                .allowed
                .as_ref()
                .is_none_or(|a| a.iter().any(|p| p.matches_server(server, tags)))
            && !self.denied.iter().any(|p| p.covers_server(server, tags))
    }

    /// Whether this grant restricts anything at all.
    fn is_unrestricted(&self) -> bool {
        self.backends.is_none() && self.allowed.is_none() && self.denied.is_empty()
    }
}

/// What one caller may see and call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Everything (stdio, `auth: none` on loopback, an unrestricted key).
    Unrestricted,
    /// The union of these grants; empty: nothing at all.
    Grants(Arc<[Grant]>),
}

impl Policy {
    /// The union of `grants`; collapses to [`Policy::Unrestricted`] when one of them is.
    pub fn of(grants: Vec<Grant>) -> Policy {
        if grants.iter().any(Grant::is_unrestricted) {
            Policy::Unrestricted
        } else {
            Policy::Grants(grants.into())
        }
    }

    /// Whether the caller may see and call `server`/`tool` (a server carrying `tags`).
    pub fn permits(&self, server: &str, tool: &str, tags: &[String]) -> bool {
        match self {
            Policy::Unrestricted => true,
            Policy::Grants(g) => g.iter().any(|g| g.permits(server, tool, tags)),
        }
    }

    /// Whether the caller may learn that `server` exists (list it, read its resources and
    /// prompts, reach `/mcp/{server}`): some grant may permit one of its tools.
    pub fn sees_server(&self, server: &str, tags: &[String]) -> bool {
        match self {
            Policy::Unrestricted => true,
            Policy::Grants(g) => g.iter().any(|g| g.sees_server(server, tags)),
        }
    }

    /// Whether results depend on who asks (list results are then `cacheScope: private`).
    pub fn is_restricted(&self) -> bool {
        !matches!(self, Policy::Unrestricted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    fn grant(allowed: Option<&[&str]>, denied: &[&str]) -> Grant {
        Grant {
            backends: None,
            allowed: allowed.map(|a| parse_all(a).unwrap()),
            denied: parse_all(denied).unwrap(),
        }
    }

    const NO_TAGS: &[String] = &[];

    #[test]
    fn pattern_forms() {
        assert!(p("search_*").matches("any", "search_repos", NO_TAGS));
        assert!(!p("search_*").matches("any", "get_repo", NO_TAGS));
        assert!(p("time/*").matches("time", "now", NO_TAGS));
        assert!(!p("time/*").matches("timer", "now", NO_TAGS));
        assert!(p("time:now").matches("time", "now", NO_TAGS));
        assert!(p("git*/log").matches("github", "log", NO_TAGS));
        assert!(!p("git*/log").matches("github", "logs", NO_TAGS));
        let web = vec!["web".to_string()];
        assert!(p("@web").matches("browser", "click", &web));
        assert!(!p("@web").matches("browser", "click", NO_TAGS));
        assert!(p("@web/fetch*").matches("fetcher", "fetch_url", &web));
        assert!(!p("@web/fetch*").matches("fetcher", "click", &web));
        assert!(p("*").matches("a", "b", NO_TAGS));
        assert!(p("*/*").matches("a", "b", NO_TAGS));
    }

    #[test]
    fn bad_patterns_say_why() {
        for (text, needle) in [
            ("", "empty"),
            (" time/*", "spaces"),
            ("/now", "server part"),
            ("time/", "tool part"),
            ("@", "tag"),
            ("@we b", "tag"),
            ("ti@me/x", "`@`"),
            ("time/[", "invalid glob"),
        ] {
            let e = Pattern::parse(text).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn deny_wins_and_missing_allow_means_all() {
        let g = grant(None, &["*/delete_*"]);
        assert!(g.permits("files", "read", NO_TAGS));
        assert!(!g.permits("files", "delete_file", NO_TAGS));
        let g = grant(Some(&["files/*"]), &["files/write*"]);
        assert!(g.permits("files", "read", NO_TAGS));
        assert!(!g.permits("files", "write_file", NO_TAGS));
        assert!(!g.permits("git", "log", NO_TAGS));
    }

    #[test]
    fn server_visibility_follows_the_tools() {
        let g = grant(Some(&["time/*", "search_*"]), &["secret/*"]);
        assert!(g.sees_server("time", NO_TAGS));
        // A bare tool glob could match a tool on any server.
        assert!(g.sees_server("github", NO_TAGS));
        assert!(!g.sees_server("secret", NO_TAGS));
        let g = grant(Some(&["time/*"]), &[]);
        assert!(!g.sees_server("github", NO_TAGS));
        // Denying one tool does not hide the server.
        let g = grant(None, &["files/delete"]);
        assert!(g.sees_server("files", NO_TAGS));
    }

    #[test]
    fn backends_restrict_servers() {
        let g = Grant {
            backends: Some(vec![
                Pattern::parse_server("time").unwrap(),
                Pattern::parse_server("@web").unwrap(),
            ]),
            allowed: None,
            denied: Vec::new(),
        };
        assert!(g.permits("time", "now", NO_TAGS));
        assert!(!g.permits("timer", "now", NO_TAGS));
        assert!(g.sees_server("time", NO_TAGS));
        assert!(!g.sees_server("git", NO_TAGS));
        assert!(Pattern::parse_server("time/now").is_err());
        let web = vec!["web".to_string()];
        assert!(g.permits("browser", "click", &web));
        assert!(!g.permits("git", "log", NO_TAGS));
    }

    #[test]
    fn policy_is_the_union_of_grants() {
        let pol = Policy::of(vec![
            grant(Some(&["time/*"]), &[]),
            grant(Some(&["git/log"]), &[]),
        ]);
        assert!(pol.is_restricted());
        assert!(pol.permits("time", "now", NO_TAGS));
        assert!(pol.permits("git", "log", NO_TAGS));
        assert!(!pol.permits("git", "push", NO_TAGS));
        assert!(!Policy::of(Vec::new()).permits("a", "b", NO_TAGS));
        assert!(!Policy::of(Vec::new()).sees_server("a", NO_TAGS));
        assert_eq!(
            Policy::of(vec![grant(None, &[]), grant(Some(&["x"]), &[])]),
            Policy::Unrestricted
        );
    }

    /// Property: over random names, `permits` implies `sees_server`, a denied tool is never
    /// permitted, and an unrestricted policy permits everything.
    #[test]
    fn permits_implies_sees_server_over_random_names() {
        let servers = ["time", "git", "github", "files", "web_fetch", "x-1"];
        let tools = [
            "now",
            "log",
            "push",
            "read",
            "delete_file",
            "search_x",
            "fetch",
        ];
        let allows: [&[&str]; 5] = [
            &["time/*"],
            &["search_*", "git*/log"],
            &["@web"],
            &["*/read", "files:delete_*"],
            &["*"],
        ];
        let denies: [&[&str]; 4] = [&[], &["*/delete_*"], &["git/*"], &["@web/fetch"]];
        let mut seed = 0x9e37_79b9_u32;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as usize % n
        };
        for _ in 0..2000 {
            let g = grant(Some(allows[next(allows.len())]), denies[next(denies.len())]);
            let server = servers[next(servers.len())];
            let tool = tools[next(tools.len())];
            let tags: Vec<String> = if next(2) == 0 {
                vec!["web".into()]
            } else {
                Vec::new()
            };
            if g.permits(server, tool, &tags) {
                assert!(g.sees_server(server, &tags), "{g:?} {server}/{tool}");
            }
            if g.denied.iter().any(|d| d.matches(server, tool, &tags)) {
                assert!(!g.permits(server, tool, &tags));
            }
            assert!(Policy::Unrestricted.permits(server, tool, &tags));
        }
    }
}
