//! Redaction of secrets in what the gateway shows: URLs in errors, `gateway_list_servers`, logs
//! and `doctor`, and whole backend entries and config documents in `config export`, `get` and the REST API's
//! `GET /api/v1/config` ([`effective_config`]).
//!
//! Owns the one URL rule: a URL keeps its scheme, host, port and path; its userinfo becomes `***`
//! and every query value becomes `***` (names stay, so `?api_key=***&page=***` still says what was
//! sent); a fragment is dropped. [`text`] applies the rule to every URL inside a longer message
//! (such as an HTTP library's error text, or a redirect target). [`backend_entry`] redacts a
//! backend as written in `gateway.yaml`. It never decides whether a URL may be *used*; it only
//! changes what is displayed.

use serde_json::Value;

/// What replaces a secret.
pub const MASK: &str = "***";

/// `url` for display: userinfo and query values masked, fragment dropped.
pub fn url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() {
        let _ = shown.set_username(MASK);
    }
    if shown.password().is_some() {
        let _ = shown.set_password(None);
    }
    if shown.query().is_some() {
        let names: Vec<String> = shown.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let query = names
            .iter()
            .map(|k| {
                let name: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
                format!("{name}={MASK}")
            })
            .collect::<Vec<_>>()
            .join("&");
        shown.set_query((!query.is_empty()).then_some(query.as_str()));
    }
    shown.set_fragment(None);
    shown.to_string()
}

/// A URL given as text, for display. Text that does not parse as a URL is treated as a URL
/// anyway: everything after `?` or `#` is masked, and so is everything before an `@` in the
/// authority.
pub fn url_text(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(u) if u.has_host() || u.scheme() == "file" => url(&u),
        _ => fallback(text),
    }
}

fn fallback(text: &str) -> String {
    let (head, cut) = match text.find(['?', '#']) {
        Some(i) => (&text[..i], true),
        None => (text, false),
    };
    let mut out = match head.find("://") {
        Some(s) => {
            let authority_end = head[s + 3..].find('/').map_or(head.len(), |i| s + 3 + i);
            match head[s + 3..authority_end].rfind('@') {
                Some(at) => format!("{}{MASK}{}", &head[..s + 3], &head[s + 3 + at..]),
                None => head.to_string(),
            }
        }
        None => head.to_string(),
    };
    if cut {
        out.push('?');
        out.push_str(MASK);
    }
    out
}

/// `text` with every URL in it (`scheme://…` up to whitespace or a closing quote or bracket)
/// redacted by [`url_text`].
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(i, |(j, _)| j);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')'))
            .map_or(rest.len(), |j| i + j);
        out.push_str(&rest[..start]);
        if start == i {
            // `://` without a scheme: not a URL.
            out.push_str(&rest[i..i + 3]);
            rest = &rest[i + 3..];
            continue;
        }
        out.push_str(&url_text(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// What replaces a whole secret value in an exported config.
pub const REDACTED: &str = "<redacted>";

/// Is `s` exactly one `${NAME}` reference (no default, nothing around it)? Such a value names
/// where a secret lives and is not one.
fn is_bare_reference(s: &str) -> bool {
    s.trim()
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(crate::config::expand::is_var_name)
}

/// `text` with the default of every `${NAME:-default}` replaced by [`REDACTED`] (a default is a
/// literal value written in the file, often a secret) and every URL redacted.
pub fn config_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        match crate::config::expand::dollar(&rest[i..], text) {
            Ok((crate::config::expand::Dollar::Var { name, default }, len)) => {
                match default {
                    Some(_) => out.push_str(&format!("${{{name}:-{REDACTED}}}")),
                    None => out.push_str(&format!("${{{name}}}")),
                }
                rest = &rest[i + len..];
            }
            // Malformed: the config would not load; show nothing of it.
            _ => {
                out.push_str(REDACTED);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    self::text(&out)
}

/// Option names whose value is a secret: `--api-key`, `--token=…`, `-p`… as written in `args`.
fn secret_flag(arg: &str) -> bool {
    let name = arg.trim_start_matches('-').to_ascii_lowercase();
    arg.starts_with('-')
        && [
            "key",
            "token",
            "secret",
            "password",
            "passwd",
            "auth",
            "credential",
            "bearer",
        ]
        .iter()
        .any(|w| name.contains(w))
}

/// Does `arg` look like a credential by its shape (well-known token prefixes)?
fn secret_shaped(arg: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "sk-",
        "sk_",
        "pk_live_",
        "rk_live_",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "xoxs-",
        "AKIA",
        "ASIA",
        "AIza",
        "ya29.",
        "eyJ",
        "npm_",
        "pypi-",
        "hf_",
        "Bearer ",
        "Basic ",
    ];
    PREFIXES.iter().any(|p| arg.starts_with(p))
}

/// `args` of a backend: URLs redacted, `${…:-default}` defaults redacted, and values that look
/// like secrets or follow a secret-named option (`--token X`, `--api-key=X`) replaced.
fn redact_args(args: &mut [Value]) {
    let mut after_flag = false;
    for v in args.iter_mut() {
        let Some(s) = v.as_str() else {
            after_flag = false;
            continue;
        };
        let shown = if after_flag && !s.starts_with('-') && !is_bare_reference(s) {
            REDACTED.to_string()
        } else if let Some((flag, value)) = s.split_once('=')
            && secret_flag(flag)
            && !is_bare_reference(value)
        {
            format!("{flag}={REDACTED}")
        } else if secret_shaped(s) {
            REDACTED.to_string()
        } else {
            config_string(s)
        };
        after_flag = secret_flag(s) && !s.contains('=');
        *v = Value::String(shown);
    }
}

/// A backend entry as written in `gateway.yaml`, for showing: `env` and `headers` values
/// replaced unless they are a bare `${NAME}`, secret-looking `args` replaced, and in every other
/// string `${NAME:-default}` defaults and URL userinfo and query values redacted.
pub fn backend_entry(backend: &mut Value) {
    let Some(map) = backend.as_object_mut() else {
        return;
    };
    for (key, v) in map.iter_mut() {
        match (key.as_str(), v) {
            ("env" | "headers", Value::Object(m)) => {
                for val in m.values_mut() {
                    if !val.as_str().is_some_and(is_bare_reference) {
                        *val = Value::String(REDACTED.into());
                    }
                }
            }
            ("args", Value::Array(a)) => redact_args(a),
            (_, other) => redact_strings(other),
        }
    }
}

fn redact_strings(v: &mut Value) {
    match v {
        Value::String(s) => *s = config_string(s),
        Value::Array(a) => a.iter_mut().for_each(redact_strings),
        Value::Object(m) => m.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// A whole `gateway.yaml` document, for showing: every backend through [`backend_entry`], every
/// other string through [`config_string`].
pub fn config_document(doc: &mut Value) {
    let Some(map) = doc.as_object_mut() else {
        return;
    };
    for (key, v) in map.iter_mut() {
        match (key.as_str(), v) {
            ("backends", Value::Object(backends)) => backends.values_mut().for_each(backend_entry),
            ("auth", Value::Object(auth)) => auth_section(auth),
            (_, other) => redact_strings(other),
        }
    }
}

/// The effective config of `paths` (lowest precedence first) as it may be shown, by
/// `config export` and `GET /api/v1/config` alike: the files layered as written
/// ([`crate::config::layered_document`]: no variable is expanded) and redacted by
/// [`config_document`].
pub fn effective_config(paths: &[std::path::PathBuf]) -> Result<Value, crate::config::ConfigError> {
    let mut doc = crate::config::layered_document(paths)?;
    config_document(&mut doc);
    Ok(doc)
}

/// `auth`: `bearer_token` and every API key's `key` and `key_sha256` (a digest is an
/// offline-guessing target) replaced unless a bare `${NAME}`.
fn auth_section(auth: &mut serde_json::Map<String, Value>) {
    let hide = |v: &mut Value| {
        if !v.as_str().is_some_and(is_bare_reference) {
            *v = Value::String(REDACTED.into());
        }
    };
    for (key, v) in auth.iter_mut() {
        match (key.as_str(), v) {
            ("bearer_token", v) => hide(v),
            ("api_keys", Value::Array(keys)) => {
                for k in keys.iter_mut() {
                    if let Some(m) = k.as_object_mut() {
                        for (field, v) in m.iter_mut() {
                            match field.as_str() {
                                "key" | "key_sha256" => hide(v),
                                _ => redact_strings(v),
                            }
                        }
                    }
                }
            }
            (_, other) => redact_strings(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_userinfo_and_query_values_keeps_the_rest() {
        assert_eq!(
            url_text("https://user:pa55@api.test:8443/v1/mcp?api_key=s3cr3t&page=2#frag"),
            "https://***@api.test:8443/v1/mcp?api_key=***&page=***"
        );
        assert_eq!(url_text("http://127.0.0.1:9/mcp"), "http://127.0.0.1:9/mcp");
        assert_eq!(url_text("https://h/x?flag"), "https://h/x?flag=***");
        assert_eq!(url_text("https://:only-pass@h/"), "https://h/");
    }

    #[test]
    fn unparsable_urls_are_masked_too() {
        assert_eq!(url_text("not a url?token=abc"), "not a url?***");
        assert_eq!(url_text("http://u:p@[bad/x?k=v"), "http://***@[bad/x?***");
    }

    #[test]
    fn urls_inside_messages_are_masked() {
        let msg = "error sending request for url (https://h.test/mcp?api_key=SECRET): \
                   redirect to \"http://a:b@evil.test/x?t=SECRET2\" refused";
        let shown = text(msg);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("a:b"), "{shown}");
        assert!(shown.contains("https://h.test/mcp?api_key=***"), "{shown}");
        assert!(shown.contains("http://***@evil.test/x?t=***"), "{shown}");
        assert_eq!(text("no urls here: a://"), "no urls here: a://");
        assert_eq!(text("odd ://x"), "odd ://x");
    }

    #[test]
    fn exported_backends_keep_no_literal_secret() {
        let mut doc = serde_json::json!({
            "backends": {
                "a": {
                    "command": "${TOOL:-/usr/bin/tool}",
                    "args": ["--api-key=sk-live-1", "--token", "tok-2", "ghp_abc", "--verbose",
                             "--password", "${PASS}", "https://u:p@h.test/x?key=q-3", "plain"],
                    "env": {"T": "${UNSET:-sk-secret}", "R": "${REF}", "L": "literal"},
                },
                "b": {"http_url": "https://user:pw@h.test/mcp?api_key=s-4&x=1",
                      "headers": {"Authorization": "Bearer abc", "X": "${X}"}},
            },
            "server": {"host": "127.0.0.1"},
        });
        config_document(&mut doc);
        let shown = doc.to_string();
        for secret in [
            "sk-live-1",
            "tok-2",
            "ghp_abc",
            "u:p",
            "q-3",
            "sk-secret",
            "user:pw",
            "s-4",
            "Bearer abc",
            "literal",
            "/usr/bin/tool",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let a = &doc["backends"]["a"];
        assert_eq!(a["env"]["R"], "${REF}");
        assert_eq!(a["env"]["T"], REDACTED);
        assert_eq!(a["command"], "${TOOL:-<redacted>}");
        assert_eq!(a["args"][0], "--api-key=<redacted>");
        assert_eq!(a["args"][1], "--token");
        assert_eq!(a["args"][4], "--verbose");
        assert_eq!(a["args"][6], "${PASS}");
        assert_eq!(a["args"][7], "https://***@h.test/x?key=***");
        assert_eq!(a["args"][8], "plain");
        assert_eq!(
            doc["backends"]["b"]["http_url"],
            "https://***@h.test/mcp?api_key=***&x=***"
        );
        assert_eq!(doc["backends"]["b"]["headers"]["X"], "${X}");
        assert_eq!(doc["server"]["host"], "127.0.0.1");
    }

    #[test]
    fn redacts_values_not_references() {
        let mut v = json!({"backends": {"a": {"command": "x", "env": {"TOKEN": "ghp_secret", "REF": "${GH_TOKEN}"}}, "b": {"http_url": "https://x", "headers": {"Authorization": "Bearer abc"}}}});
        config_document(&mut v);
        assert_eq!(v["backends"]["a"]["env"]["TOKEN"], REDACTED);
        assert_eq!(v["backends"]["a"]["env"]["REF"], "${GH_TOKEN}");
        assert_eq!(v["backends"]["b"]["headers"]["Authorization"], REDACTED);
        assert_eq!(v["backends"]["a"]["command"], "x");
        assert!(!serde_saphyr::to_string(&v).unwrap().contains("secret"));
    }

    #[test]
    fn redacts_api_keys() {
        let mut v = json!({"auth": {"bearer_token": "tok-literal", "api_keys": [
            {"name": "a", "key": "key-literal", "allowed_tools": ["x"]},
            {"name": "b", "key_sha256": "ab12"},
            {"name": "c", "key": "${C_KEY}"}]}});
        config_document(&mut v);
        let text = serde_json::to_string(&v).unwrap();
        for secret in ["tok-literal", "key-literal", "ab12"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(v["auth"]["api_keys"][2]["key"], "${C_KEY}");
        assert_eq!(v["auth"]["api_keys"][0]["name"], "a");
    }
}
