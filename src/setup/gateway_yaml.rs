//! Writing servers into `gateway.yaml`: client entries → `backends.NAME` entries, name
//! sanitising (`[A-Za-z0-9_-]{1,32}`), and reading existing backends back for de-duplication.
//!
//! Edits go through `crate::clients::doc` (targeted YAML line edits, verified by re-parsing), so a
//! hand-written gateway.yaml keeps its comments. Values arrive already in the gateway's `${…}`
//! grammar (see `crate::clients::EnvSyntax`) and are written as they are, secrets included.
//! Never validates env vars or starts anything.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::clients::doc::{self, DocError};
use crate::clients::{FileFormat, RemoteTransport, ServerSpec, Shape};

/// Header of a gateway.yaml created by setup / add.
pub const NEW_FILE_HEADER: &str = "# mcp-gateway configuration. Reference: docs/configuration.md\n# Backends are started lazily; secrets may be written as ${ENV_VAR}.\n";

fn section() -> Vec<String> {
    vec!["backends".to_string()]
}

/// A valid backend name for `raw`: other characters become `-`, at most 32 characters.
pub fn sanitize_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out: String = out.trim_matches('-').chars().take(32).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "server".to_string()
    } else {
        out
    }
}

/// The `backends.NAME` value for a server.
pub fn backend_value(spec: &ServerSpec, enabled: bool, description: Option<&str>) -> Value {
    let mut m = Map::new();
    match spec {
        ServerSpec::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            m.insert("command".into(), command.clone().into());
            if !args.is_empty() {
                m.insert("args".into(), args.clone().into());
            }
            if !env.is_empty() {
                m.insert("env".into(), crate::clients::string_map(env));
            }
            if let Some(cwd) = cwd {
                m.insert("cwd".into(), cwd.clone().into());
            }
        }
        ServerSpec::Remote {
            url,
            headers,
            transport,
        } => {
            m.insert("http_url".into(), url.clone().into());
            if !headers.is_empty() {
                m.insert("headers".into(), crate::clients::string_map(headers));
            }
            if *transport == RemoteTransport::Sse {
                m.insert("transport".into(), "sse".into());
            }
        }
    }
    if let Some(d) = description {
        m.insert("description".into(), d.into());
    }
    if !enabled {
        m.insert("enabled".into(), false.into());
    }
    Value::Object(m)
}

/// Reads a backend entry back (for comparisons and `get`). `None` when it is not a server.
pub fn backend_spec(value: &Value) -> Option<ServerSpec> {
    let obj = value.as_object()?;
    let strmap = |key: &str| -> BTreeMap<String, String> {
        obj.get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(command) = obj.get("command").and_then(Value::as_str) {
        let mut args: Vec<String> = obj
            .get("args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut program = command.to_string();
        if args.is_empty() && command.contains(char::is_whitespace) {
            let mut words = shell_words::split(command).ok()?;
            if words.is_empty() {
                return None;
            }
            program = words.remove(0);
            args = words;
        }
        return Some(ServerSpec::Stdio {
            command: program,
            args,
            env: strmap("env"),
            cwd: obj.get("cwd").and_then(Value::as_str).map(str::to_string),
        });
    }
    let url = obj
        .get("http_url")
        .or_else(|| obj.get("url"))
        .and_then(Value::as_str)?;
    let transport = match obj.get("transport").and_then(Value::as_str) {
        Some("sse") => RemoteTransport::Sse,
        Some("http" | "streamable_http" | "streamable-http") => RemoteTransport::Http,
        _ => RemoteTransport::Auto,
    };
    Some(ServerSpec::Remote {
        url: url.to_string(),
        headers: strmap("headers"),
        transport,
    })
}

/// Whether two specs run the same thing (an explicit transport and `Auto` count as the same
/// remote server).
pub fn same_server(a: &ServerSpec, b: &ServerSpec) -> bool {
    match (a, b) {
        (
            ServerSpec::Remote {
                url: ua,
                headers: ha,
                ..
            },
            ServerSpec::Remote {
                url: ub,
                headers: hb,
                ..
            },
        ) => ua == ub && ha == hb,
        _ => a == b,
    }
}

/// Backends already in a gateway.yaml text, in file order.
pub fn read_backends(text: &str) -> Result<Vec<(String, Value)>, DocError> {
    doc::read_entries(text, FileFormat::Yaml, &section(), Shape::Map)
}

/// `text` (empty for a new file) with `remove` deleted and `add` appended under `backends:`.
pub fn edit_backends(
    text: &str,
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    let base = if text.trim().is_empty() {
        NEW_FILE_HEADER
    } else {
        text
    };
    doc::edit_entries(base, FileFormat::Yaml, &section(), Shape::Map, remove, add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize_name("SQLite MCP"), "SQLite-MCP");
        assert_eq!(sanitize_name("@scope/pkg.name"), "scope-pkg-name");
        assert_eq!(sanitize_name("***"), "server");
        assert_eq!(sanitize_name(&"a".repeat(40)).len(), 32);
    }

    #[test]
    fn round_trip_and_edit() {
        let spec = ServerSpec::Stdio {
            command: "npx".into(),
            args: vec!["-y".into(), "srv".into()],
            env: [("TOKEN".to_string(), "${GH:-} p$$w".to_string())].into(),
            cwd: None,
        };
        let v = backend_value(&spec, true, Some("imported from Cursor"));
        assert_eq!(v["env"]["TOKEN"], "${GH:-} p$$w");
        let text = edit_backends("", &[], &[("gh".into(), v)]).unwrap();
        assert!(text.starts_with(NEW_FILE_HEADER), "{text}");
        let back = read_backends(&text).unwrap();
        assert_eq!(back[0].0, "gh");
        let ServerSpec::Stdio { env, .. } = backend_spec(&back[0].1).unwrap() else {
            panic!()
        };
        assert_eq!(env["TOKEN"], "${GH:-} p$$w");
        let one_string =
            serde_json::json!({"command": "npx -y @modelcontextprotocol/server-filesystem /tmp"});
        let ServerSpec::Stdio { command, args, .. } = backend_spec(&one_string).unwrap() else {
            panic!()
        };
        assert_eq!((command.as_str(), args.len()), ("npx", 3));
        let remote = ServerSpec::Remote {
            url: "https://x/sse".into(),
            headers: BTreeMap::new(),
            transport: RemoteTransport::Sse,
        };
        let rv = backend_value(&remote, false, None);
        assert_eq!(
            rv,
            serde_json::json!({"http_url": "https://x/sse", "transport": "sse", "enabled": false})
        );
        assert_eq!(backend_spec(&rv), Some(remote));
    }
}
