//! The `backends:` section of a gateway.yaml: client entries → `backends.NAME` values, name
//! sanitising (`[A-Za-z0-9_-]{1,32}`), and reading existing backends back.
//!
//! Reading goes through the config schema (`crate::config::parse_as_written`): the same rules as
//! a load (command splitting, transport names, every key), with `${…}` left as written. Edits go
//! through `crate::docedit` (targeted YAML line edits, verified by re-parsing), so a hand-written
//! gateway.yaml keeps its comments. Values arrive already in the gateway's `${…}` grammar (see
//! `crate::clients::EnvSyntax`) and are written as they are, secrets included. Never validates env
//! vars or starts anything.

use serde_json::{Map, Value};

use std::path::Path;

use crate::clients::{RemoteTransport, ServerSpec};
use crate::config::{BackendConfig, ConfigError, HttpKind, ToolFilter, Transport, WrittenFile};
use crate::docedit::{self as doc, DocError, FileFormat, Shape};
use std::time::Duration;

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
pub fn backend_value(
    spec: &ServerSpec,
    enabled: bool,
    description: Option<&str>,
    tools: &ToolFilter,
    timeout: Option<Duration>,
) -> Value {
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
    if let Some(t) = timeout {
        m.insert("timeout".into(), duration_text(t).into());
    }
    if !tools.is_empty() {
        let mut t = Map::new();
        if let Some(allow) = &tools.allow {
            t.insert("allow".into(), allow.clone().into());
        }
        if !tools.deny.is_empty() {
            t.insert("deny".into(), tools.deny.clone().into());
        }
        m.insert("tools".into(), Value::Object(t));
    }
    Value::Object(m)
}

/// A duration as the config grammar writes it (`90s`, `1500ms`), rounded up to whole
/// milliseconds so a timeout never gets shorter.
fn duration_text(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000);
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The backends of gateway.yaml `text` (read from `path`), checked by the config schema.
pub fn read(text: &str, path: &Path) -> Result<WrittenFile, ConfigError> {
    crate::config::parse_as_written(text, path)
}

/// What a backend runs, in the client-side terms setup compares with. `None` for the in-process
/// capabilities backend, which no client lists.
pub fn spec_of(backend: &BackendConfig) -> Option<ServerSpec> {
    match &backend.transport {
        Transport::Stdio(s) => Some(ServerSpec::Stdio {
            command: s.program.clone(),
            args: s.args.clone(),
            env: s.env.clone(),
            cwd: s.cwd.as_ref().map(|p| p.to_string_lossy().into_owned()),
        }),
        Transport::Http(h) => Some(ServerSpec::Remote {
            url: h.url.clone(),
            headers: h.headers.clone(),
            transport: match h.kind {
                HttpKind::Auto => RemoteTransport::Auto,
                HttpKind::StreamableHttp => RemoteTransport::Http,
                HttpKind::Sse => RemoteTransport::Sse,
            },
        }),
        Transport::Capabilities(_) | Transport::Skills(_) => None,
    }
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

/// The `backends:` entries of a gateway.yaml text as the document holds them (keys and values as
/// written, file order): what `get` shows. Meaning comes from [`read`].
pub fn entries(text: &str) -> Result<Vec<(String, Value)>, DocError> {
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
    use std::collections::BTreeMap;

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
        let v = backend_value(
            &spec,
            true,
            Some("imported from Cursor"),
            &ToolFilter::default(),
            None,
        );
        assert_eq!(v["env"]["TOKEN"], "${GH:-} p$$w");
        let text = edit_backends("", &[], &[("gh".into(), v)]).unwrap();
        assert!(text.starts_with(NEW_FILE_HEADER), "{text}");
        let back = entries(&text).unwrap();
        assert_eq!(back[0].0, "gh");
        let file = read(&text, Path::new("gateway.yaml")).unwrap();
        let ServerSpec::Stdio { env, .. } = spec_of(&file.backends["gh"]).unwrap() else {
            panic!()
        };
        assert_eq!(env["TOKEN"], "${GH:-} p$$w");
        let one_string =
            "backends:\n  fs:\n    command: npx -y @modelcontextprotocol/server-filesystem /tmp\n";
        let file = read(one_string, Path::new("gateway.yaml")).unwrap();
        let ServerSpec::Stdio { command, args, .. } = spec_of(&file.backends["fs"]).unwrap() else {
            panic!()
        };
        assert_eq!((command.as_str(), args.len()), ("npx", 3));
        let remote = ServerSpec::Remote {
            url: "https://x/sse".into(),
            headers: BTreeMap::new(),
            transport: RemoteTransport::Sse,
        };
        let rv = backend_value(&remote, false, None, &ToolFilter::default(), None);
        assert_eq!(
            rv,
            serde_json::json!({"http_url": "https://x/sse", "transport": "sse", "enabled": false})
        );
        let text = edit_backends("", &[], &[("r".into(), rv)]).unwrap();
        let file = read(&text, Path::new("gateway.yaml")).unwrap();
        assert_eq!(spec_of(&file.backends["r"]), Some(remote));
    }

    #[test]
    fn one_reader_accepts_what_the_loader_accepts() {
        // `streamablehttp` is a transport name the loader accepts; so does every editing command.
        let text = "backends:\n  r:\n    http_url: https://x/mcp\n    transport: streamablehttp\n";
        let file = read(text, Path::new("gateway.yaml")).unwrap();
        assert!(matches!(
            spec_of(&file.backends["r"]),
            Some(ServerSpec::Remote {
                transport: RemoteTransport::Http,
                ..
            })
        ));
        let bad = "backends:\n  r:\n    http_url: https://x/mcp\n    transport: websocket\n";
        let err = read(bad, Path::new("gateway.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gateway.yaml:4") && err.contains("transport"),
            "{err}"
        );
        // Secrets stay references: nothing from the environment is read into what is compared.
        let refs = "backends:\n  a:\n    command: ~/bin/srv ${MGW_NEVER_SET_VAR}\n    env:\n      T: ${MGW_NEVER_SET_VAR}\n";
        let file = read(refs, Path::new("gateway.yaml")).unwrap();
        assert_eq!(
            spec_of(&file.backends["a"]),
            Some(ServerSpec::Stdio {
                command: "~/bin/srv".into(),
                args: vec!["${MGW_NEVER_SET_VAR}".into()],
                env: [("T".to_string(), "${MGW_NEVER_SET_VAR}".to_string())].into(),
                cwd: None,
            })
        );
    }
}
