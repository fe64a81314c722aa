//! `backends.<name>` nodes → [`BackendConfig`]: the transport (stdio command or HTTP URL), its
//! environment, headers, timeouts and the per-backend keys.
//!
//! A child of `schema` so it reads keys with the same rules and error wording. Owns the keys of
//! one backend entry and their checks; never starts or contacts a backend.

use std::collections::BTreeMap;

use super::super::yaml::{Key, Node, Pos, Value};
use super::super::{BackendConfig, HttpKind, HttpSpec, StdioSpec, Transport};
use super::*;

impl Cx<'_> {
    pub(super) fn backend(
        &self,
        name_key: &Key,
        node: &Node,
    ) -> Result<BackendConfig, ConfigError> {
        let name = &name_key.name;
        let key = format!("backends.{name}");
        if !valid_backend_name(name) {
            return Err(self.invalid(
                name_key.pos,
                &key,
                format!("`{name}` is not a valid backend name: use 1–32 characters from A–Z, a–z, 0–9, `_` and `-`, without `__` (it separates server and tool in namespaced names) and not ending in `_`"),
            ));
        }
        let s = self.section(node, &key, BACKEND, BACKEND_IGNORED)?;
        let k = |field: &str| s.child(field);

        for unsupported in ["ws_url", "a2a_url"] {
            if let Some((uk, _)) = s.entry(unsupported) {
                return Err(self.invalid(
                    uk.pos,
                    &k(unsupported),
                    "WebSocket and A2A backends are not supported; use `command` (stdio) or `http_url` (Streamable HTTP / SSE)",
                ));
            }
        }

        let description = match s.get("description") {
            Some(n) => Some(self.string(n, &k("description"))?).filter(|d| !d.trim().is_empty()),
            None => None,
        };
        let enabled = match s.get("enabled") {
            Some(n) => self.bool(n, &k("enabled"))?,
            None => true,
        };
        let isolate = match s.get("isolate") {
            Some(n) => self.bool(n, &k("isolate"))?,
            None => false,
        };
        let timeout = match s.get("timeout") {
            Some(n) => self.duration(n, &k("timeout"))?,
            None => super::super::DEFAULT_TIMEOUT,
        };
        let idle_timeout = match (s.entry("idle_timeout"), s.entry("stop_when_idle_for")) {
            (Some(_), Some((alias, _))) => {
                return Err(self.invalid(
                    alias.pos,
                    &k("stop_when_idle_for"),
                    "is another name for `idle_timeout`; set only one of them",
                ));
            }
            (Some((kk, n)), None) | (None, Some((kk, n))) => self.duration(n, &k(&kk.name))?,
            (None, None) => super::super::DEFAULT_IDLE_TIMEOUT,
        };

        let url = match (s.entry("http_url"), s.entry("url")) {
            (Some(_), Some((alias, _))) => {
                return Err(self.invalid(
                    alias.pos,
                    &k("url"),
                    "is another name for `http_url`; set only one of them",
                ));
            }
            (Some((kk, n)), None) | (None, Some((kk, n))) => Some((kk, n)),
            (None, None) => None,
        };
        let command = s.entry("command");

        let transport_kind = match s.get("transport") {
            Some(n) => {
                let text = self.expanded(n, &k("transport"))?;
                Some(match text.trim().to_ascii_lowercase().as_str() {
                    "stdio" => (None, n.pos),
                    "http" => (Some(HttpKind::Auto), n.pos),
                    "streamable-http" | "streamable_http" | "streamablehttp" => {
                        (Some(HttpKind::StreamableHttp), n.pos)
                    }
                    "sse" => (Some(HttpKind::Sse), n.pos),
                    _ => {
                        return Err(self.invalid(
                            n.pos,
                            &k("transport"),
                            format!("`{text}` is not a transport: use `stdio`, `http`, `streamable-http` or `sse`"),
                        ));
                    }
                })
            }
            None => None,
        };

        let transport = match (command, url) {
            (Some((ck, _)), Some((uk, _))) => {
                return Err(self.invalid(
                    ck.pos.max(uk.pos),
                    &key,
                    format!("has both `command` (a local stdio server) and `{}` (a remote server); a backend is one or the other", uk.name),
                ));
            }
            (None, None) => {
                return Err(self.invalid(
                    name_key.pos,
                    &key,
                    "needs `command` (a local stdio server) or `http_url` (a remote server)",
                ));
            }
            (Some((_, cmd)), None) => {
                if let Some((Some(_), pos)) = transport_kind {
                    return Err(self.invalid(
                        pos,
                        &k("transport"),
                        "an HTTP transport needs `http_url`, but this backend has a `command`",
                    ));
                }
                for field in ["headers", "streamable_http"] {
                    if let Some((fk, fv)) = s.entry(field) {
                        if !is_empty_value(fv) {
                            return Err(self.invalid(
                                fk.pos,
                                &k(field),
                                "only applies to HTTP backends (`http_url`), not to a `command`",
                            ));
                        }
                    }
                }
                Transport::Stdio(self.stdio(&s, cmd)?)
            }
            (None, Some((uk, un))) => {
                if let Some((None, pos)) = transport_kind {
                    return Err(self.invalid(
                        pos,
                        &k("transport"),
                        "`stdio` needs a `command`, but this backend has a URL",
                    ));
                }
                for field in ["args", "env", "cwd"] {
                    if let Some((fk, fv)) = s.entry(field) {
                        if !is_empty_value(fv) {
                            return Err(self.invalid(
                                fk.pos,
                                &k(field),
                                "only applies to stdio backends (`command`), not to a URL",
                            ));
                        }
                    }
                }
                let url_key = k(&uk.name);
                let url = self.nonempty_string(un, &url_key)?.trim().to_string();
                if !(self.as_written && url.contains('$')) {
                    check_url(&url).map_err(|m| self.invalid(un.pos, &url_key, m))?;
                }
                let streamable = match s.get("streamable_http") {
                    Some(n) => Some((self.bool(n, &k("streamable_http"))?, n.pos)),
                    None => None,
                };
                let kind = match (transport_kind.and_then(|(kind, _)| kind), streamable) {
                    (Some(kind), Some((flag, pos))) => {
                        let agrees = match kind {
                            HttpKind::StreamableHttp => flag,
                            HttpKind::Sse => !flag,
                            HttpKind::Auto => true,
                        };
                        if !agrees {
                            return Err(self.invalid(
                                pos,
                                &k("streamable_http"),
                                "contradicts `transport`; drop one of them",
                            ));
                        }
                        if kind == HttpKind::Auto {
                            if flag {
                                HttpKind::StreamableHttp
                            } else {
                                HttpKind::Sse
                            }
                        } else {
                            kind
                        }
                    }
                    (Some(kind), None) => kind,
                    (None, Some((true, _))) => HttpKind::StreamableHttp,
                    (None, Some((false, _))) => HttpKind::Sse,
                    (None, None) if url_path_is_sse(&url) => HttpKind::Sse,
                    (None, None) => HttpKind::Auto,
                };
                let headers = self.headers(&s)?;
                Transport::Http(HttpSpec { url, headers, kind })
            }
        };

        let tags = match s.get("tags") {
            Some(n) => {
                let tkey = k("tags");
                let mut tags: Vec<String> = Vec::new();
                for item in self.seq(n, &tkey)? {
                    let tag = self.nonempty_string(item, &tkey)?;
                    if !valid_backend_name(&tag) {
                        return Err(self.invalid(
                            item.pos,
                            &tkey,
                            format!("`{tag}` is not a valid tag: use 1–32 characters from A–Z, a–z, 0–9, `_` and `-`"),
                        ));
                    }
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                tags
            }
            None => Vec::new(),
        };

        let tools = match s.get("tools") {
            Some(n) => self.tool_filter(n, &k("tools"))?,
            None => crate::config::ToolFilter::default(),
        };

        let failsafe_patch = match s.get("failsafe") {
            Some(n) => self.failsafe(n, &k("failsafe"))?,
            None => crate::config::FailsafePatch::default(),
        };
        let pin_tools = match s.get("pin_tools") {
            Some(n) => self.bool(n, &k("pin_tools"))?,
            None => false,
        };

        Ok(BackendConfig {
            name: name.clone(),
            tags,
            description,
            enabled,
            transport,
            timeout,
            idle_timeout,
            tools,
            isolate,
            // Over the defaults here; over the gateway-wide `failsafe:` once files are combined.
            failsafe: crate::config::Failsafe::default().patched(&failsafe_patch),
            failsafe_patch,
            pin_tools,
        })
    }

    /// `tools: {allow: [...], deny: [...]}`: tool names or globs over the backend's own names.
    fn tool_filter(
        &self,
        node: &Node,
        key: &str,
    ) -> Result<crate::config::ToolFilter, ConfigError> {
        let s = self.section(node, key, BACKEND_TOOLS, &[])?;
        let list = |field: &str| -> Result<Option<Vec<String>>, ConfigError> {
            let Some(n) = s.get(field) else {
                return Ok(None);
            };
            let lkey = s.child(field);
            let mut out = Vec::new();
            for item in self.seq(n, &lkey)? {
                let pattern = self.nonempty_string(item, &lkey)?;
                if let Err(e) = globset::Glob::new(&pattern) {
                    return Err(self.invalid(
                        item.pos,
                        &lkey,
                        format!("`{pattern}` is not a tool name or glob: {e}"),
                    ));
                }
                out.push(pattern);
            }
            Ok(Some(out))
        };
        Ok(crate::config::ToolFilter {
            allow: list("allow")?,
            deny: list("deny")?.unwrap_or_default(),
        })
    }

    fn stdio(&self, s: &Section<'_>, cmd: &Node) -> Result<StdioSpec, ConfigError> {
        let ckey = s.child("command");
        let mut words: Vec<String> = match &cmd.value {
            Value::Str(text) if text.chars().any(char::is_whitespace) => shell_words::split(text)
                .map_err(|e| {
                    self.invalid(
                        cmd.pos,
                        &ckey,
                        format!("cannot split into words: {e} (check the quotes)"),
                    )
                })?
                .iter()
                .map(|w| self.word(w, cmd.pos, &ckey))
                .collect::<Result<_, _>>()?,
            Value::Str(text) => vec![self.word(text, cmd.pos, &ckey)?],
            Value::Typed { raw, .. } => vec![raw.clone()],
            Value::Seq(items) => items
                .iter()
                .map(|item| match &item.value {
                    Value::Str(text) => self.word(text, item.pos, &ckey),
                    _ => self.string(item, &ckey),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(self.expected(cmd, &ckey, "a command line or a list of words")),
        };
        if let Some(args) = s.get("args") {
            let akey = s.child("args");
            for item in self.seq(args, &akey)? {
                words.push(match &item.value {
                    Value::Str(text) => self.word(text, item.pos, &akey)?,
                    _ => self.string(item, &akey)?,
                });
            }
        }
        if words.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(self.invalid(cmd.pos, &ckey, "names no program to run"));
        }
        let program = words.remove(0);

        let mut env = BTreeMap::new();
        if let Some(n) = s.get("env") {
            let ekey = s.child("env");
            for (name, value, _) in self.string_map(n, &ekey)? {
                if name.name.is_empty() || name.name.contains(['=', '\0']) {
                    return Err(self.invalid(
                        name.pos,
                        &format!("{ekey}.{}", name.name),
                        "is not a valid environment variable name",
                    ));
                }
                if value.contains('\0') {
                    return Err(self.invalid(
                        name.pos,
                        &format!("{ekey}.{}", name.name),
                        "value contains a NUL byte",
                    ));
                }
                env.insert(name.name, value);
            }
        }
        let cwd = match s.get("cwd") {
            Some(n) => Some(self.path_value(n, &s.child("cwd"))?),
            None => None,
        };
        Ok(StdioSpec {
            program,
            args: words,
            env,
            cwd,
        })
    }

    /// One word of a command line: `${…}` expanded, then a leading `~` expanded.
    fn word(&self, text: &str, pos: Pos, key: &str) -> Result<String, ConfigError> {
        if self.as_written {
            self.check_syntax(text, pos, key)?;
            return Ok(text.to_string());
        }
        let expanded = expand::expand(text, self.vars).map_err(|e| self.expand_err(pos, key, e))?;
        expand::tilde(&expanded, self.home.as_deref()).map_err(|m| self.invalid(pos, key, m))
    }

    fn headers(&self, s: &Section<'_>) -> Result<BTreeMap<String, String>, ConfigError> {
        let Some(n) = s.get("headers") else {
            return Ok(BTreeMap::new());
        };
        let hkey = s.child("headers");
        let mut headers = BTreeMap::new();
        for (name, value, pos) in self.string_map(n, &hkey)? {
            let key = format!("{hkey}.{}", name.name);
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.name.is_empty() || !name.name.chars().all(token) {
                return Err(self.invalid(name.pos, &key, "is not a valid HTTP header name"));
            }
            if value.contains(['\r', '\n', '\0']) {
                return Err(self.invalid(pos, &key, "header value contains a line break or NUL"));
            }
            if name.name.eq_ignore_ascii_case("mcp-session-id") {
                return Err(self.invalid(
                    name.pos,
                    &key,
                    "the gateway manages the MCP session id of a connection; remove this header",
                ));
            }
            headers.insert(name.name, value);
        }
        Ok(headers)
    }
}

fn is_empty_value(node: &Node) -> bool {
    match &node.value {
        Value::Null => true,
        Value::Seq(items) => items.is_empty(),
        Value::Map(entries) => entries.is_empty(),
        _ => false,
    }
}

pub(super) fn check_url(url: &str) -> Result<(), String> {
    // The message never quotes the URL: after `${VAR}` expansion it may hold a token in its
    // query or userinfo, and config errors reach logs, `doctor` and bug reports. The file, line
    // and key already say where it is.
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme)
            .filter(|scheme| {
                scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            });
        return Err(match scheme {
            Some(scheme) => format!("must be an http:// or https:// URL, not `{scheme}://`"),
            None => "must be an http:// or https:// URL".to_string(),
        });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("is not a valid URL: it has no host".to_string());
    }
    if url.chars().any(char::is_whitespace) {
        return Err("is not a valid URL: it contains whitespace".to_string());
    }
    Ok(())
}

/// The published format treats an `http_url` ending in `/sse` as a legacy SSE endpoint.
fn url_path_is_sse(url: &str) -> bool {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    without_query.trim_end_matches('/').ends_with("/sse")
}
