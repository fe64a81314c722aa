//! One server entry of a client config: the one lenient reader of every client's spelling
//! ([`decode_entry`]: command or URL forms, environment, headers, tool restrictions, timeouts,
//! values translated by the client's [`super::EnvSyntax`]) and the common encoding clients
//! write (`encode_standard`). It never decides where an entry lives or reads a file (that is
//! [`super::Location`] and its callers), and it refuses an entry it cannot carry faithfully,
//! saying why, instead of guessing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Client, Placeholders, RemoteTransport, Server, ServerSpec, TimeUnit, ToolFilter};

/// The common `{command, args, env}` / `{url, headers}` entry. `typed`: also write `type`.
pub(crate) fn encode_standard(server: &Server, typed: bool) -> Value {
    let mut m = Map::new();
    match &server.spec {
        ServerSpec::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            if typed {
                m.insert("type".into(), "stdio".into());
            }
            m.insert("command".into(), command.clone().into());
            m.insert("args".into(), args.clone().into());
            if !env.is_empty() {
                m.insert("env".into(), string_map(env));
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
            if typed || *transport == RemoteTransport::Sse {
                let t = if *transport == RemoteTransport::Sse {
                    "sse"
                } else {
                    "http"
                };
                m.insert("type".into(), t.into());
            }
            m.insert("url".into(), url.clone().into());
            if !headers.is_empty() {
                m.insert("headers".into(), string_map(headers));
            }
        }
    }
    Value::Object(m)
}

pub(crate) fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Reads any client's entry. The clients differ in spelling, not meaning, so one lenient reader
/// covers them all: `command` as a string (most), an array with the arguments (opencode) or an
/// object `{path, args, env}` (older Zed); `cmd` (Goose); env under `env`, `envs` (Goose) or
/// `environment` (opencode); the URL under `url`, `serverUrl` (Windsurf), `httpUrl` (Gemini CLI)
/// or `uri` (Goose); headers under `headers` or `http_headers` (Codex), plus Codex's
/// `bearer_token_env_var`.
pub fn decode_entry(
    name: &str,
    value: &Value,
    client: &dyn Client,
    places: &Placeholders<'_>,
) -> Result<Server, String> {
    let conv = |s: &str| client.env_syntax().to_gateway(s, places);
    let obj = value.as_object().ok_or("the entry is not an object")?;
    let enabled = !obj
        .get("disabled")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && obj.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let ty = obj
        .get("type")
        .or_else(|| obj.get("transport"))
        .and_then(Value::as_str)
        .map(|t| t.to_ascii_lowercase().replace(['-', '_'], ""));
    // Goose keeps these variables' values in its keyring, which the gateway cannot read: the
    // server would start without them.
    if let Some(Value::Array(keys)) = obj.get("env_keys")
        && !keys.is_empty()
    {
        let names: Vec<String> = keys.iter().filter_map(scalar_string).collect();
        return Err(format!(
            "its variables {} come from Goose's keyring (`env_keys`), which the gateway cannot read",
            names.join(", ")
        ));
    }
    let command = obj.get("command").or_else(|| obj.get("cmd"));
    let spec = if let Some(command) = command {
        let (mut program, mut args, mut env) = match command {
            Value::String(s) => (s.clone(), Vec::new(), BTreeMap::new()),
            Value::Array(items) => {
                let mut words = strings(items, "command")?;
                if words.is_empty() {
                    return Err("`command` is an empty array".into());
                }
                let program = words.remove(0);
                (program, words, BTreeMap::new())
            }
            Value::Object(o) => {
                let path = o
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or("`command.path` is missing")?;
                let args = match o.get("args") {
                    Some(Value::Array(a)) => strings(a, "command.args")?,
                    _ => Vec::new(),
                };
                (
                    path.to_string(),
                    args,
                    env_map(o.get("env"), "command.env")?,
                )
            }
            _ => return Err("`command` is neither a string, an array nor an object".into()),
        };
        if program.trim().is_empty() {
            return Err("`command` is empty".into());
        }
        if let Some(a) = obj.get("args") {
            match a {
                Value::Array(items) => args.extend(strings(items, "args")?),
                Value::Null => {}
                _ => return Err("`args` is not an array".into()),
            }
        }
        for key in ["env", "envs", "environment"] {
            env.extend(env_map(obj.get(key), key)?);
        }
        let cwd = obj
            .get("cwd")
            .and_then(Value::as_str)
            .map(conv)
            .transpose()?;
        program = conv(program.trim())?;
        ServerSpec::Stdio {
            command: program,
            args: args.iter().map(|a| conv(a)).collect::<Result<_, _>>()?,
            env: env
                .into_iter()
                .map(|(k, v)| Ok((k, conv(&v)?)))
                .collect::<Result<_, String>>()?,
            cwd,
        }
    } else {
        let (url, from_http_url) = ["url", "serverUrl", "uri", "httpUrl"]
            .iter()
            .find_map(|k| {
                obj.get(*k)
                    .and_then(Value::as_str)
                    .map(|u| (u, *k == "httpUrl"))
            })
            .ok_or("the entry has neither `command` nor `url`")?;
        let mut headers = BTreeMap::new();
        for key in ["headers", "http_headers"] {
            for (k, v) in env_map(obj.get(key), key)? {
                headers.insert(k, conv(&v)?);
            }
        }
        if let Some(var) = obj.get("bearer_token_env_var").and_then(Value::as_str) {
            // `:-`: an unset variable fails this server's requests, not the whole gateway config.
            headers.insert("Authorization".into(), format!("Bearer ${{{var}:-}}"));
        }
        let transport = match ty.as_deref() {
            Some("sse") => RemoteTransport::Sse,
            Some("http" | "streamablehttp") => RemoteTransport::Http,
            _ if from_http_url => RemoteTransport::Http,
            _ => RemoteTransport::Auto,
        };
        ServerSpec::Remote {
            url: conv(url)?,
            headers,
            transport,
        }
    };
    Ok(Server {
        name: name.to_string(),
        spec,
        enabled,
        tools: tool_filter(obj)?,
        timeout: timeout(obj, client.timeout_key())?,
    })
}

fn strings(items: &[Value], key: &str) -> Result<Vec<String>, String> {
    items
        .iter()
        .map(|v| scalar_string(v).ok_or_else(|| format!("`{key}` holds a non-string item")))
        .collect()
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The client's tool restrictions: Gemini CLI `includeTools`/`excludeTools`, Codex
/// `enabled_tools`/`disabled_tools`, Kiro `disabledTools`.
fn tool_filter(obj: &Map<String, Value>) -> Result<ToolFilter, String> {
    let list = |key: &str| -> Result<Option<Vec<String>>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => strings(items, key).map(Some),
            Some(_) => Err(format!("`{key}` is not a list of tool names")),
        }
    };
    let mut allow: Option<Vec<String>> = None;
    for key in ["includeTools", "enabled_tools"] {
        if let Some(names) = list(key)? {
            allow.get_or_insert_with(Vec::new).extend(names);
        }
    }
    let mut deny = Vec::new();
    for key in ["excludeTools", "disabled_tools", "disabledTools"] {
        deny.extend(list(key)?.unwrap_or_default());
    }
    Ok(ToolFilter { allow, deny })
}

/// The client's per-request timeout, read from the key `key` names (in its unit).
fn timeout(
    obj: &Map<String, Value>,
    key: Option<(&'static str, TimeUnit)>,
) -> Result<Option<Duration>, String> {
    let Some((key, unit)) = key else {
        return Ok(None);
    };
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let n = n
                .as_f64()
                .filter(|n| n.is_finite() && *n > 0.0)
                .ok_or_else(|| format!("`{key}` is not a positive number"))?;
            let secs = match unit {
                TimeUnit::Seconds => n,
                TimeUnit::Millis => n / 1000.0,
            };
            Duration::try_from_secs_f64(secs)
                .map(Some)
                .map_err(|_| format!("`{key}` is out of range"))
        }
        Some(_) => Err(format!("`{key}` is not a number")),
    }
}

fn env_map(v: Option<&Value>, key: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| {
                scalar_string(v)
                    .map(|s| (k.clone(), s))
                    .ok_or_else(|| format!("`{key}.{k}` is not a string"))
            })
            .collect(),
        Some(_) => Err(format!("`{key}` is not an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::tests::places;
    use crate::clients::{claude_code, codex, gemini, goose, kiro};
    use serde_json::json;

    fn decode(name: &str, v: &Value) -> Result<Server, String> {
        decode_entry(name, v, &claude_code::ClaudeCode, &places())
    }

    #[test]
    fn tool_restrictions_and_timeouts_are_read() {
        let g = decode_entry(
            "g",
            &json!({"command": "x", "excludeTools": ["delete_repository"], "includeTools": ["a", "delete_repository"], "timeout": 1500}),
            &gemini::GeminiCli,
            &places(),
        )
        .unwrap();
        assert_eq!(g.tools.deny, ["delete_repository"]);
        assert_eq!(
            g.tools.allow.as_deref(),
            Some(&["a".to_string(), "delete_repository".to_string()][..])
        );
        assert_eq!(g.timeout, Some(Duration::from_millis(1500)));
        let c = decode_entry(
            "c",
            &json!({"command": "x", "disabled_tools": ["rm"], "tool_timeout_sec": 90}),
            &codex::Codex,
            &places(),
        )
        .unwrap();
        assert_eq!(
            (c.tools.deny.as_slice(), c.timeout),
            (&["rm".to_string()][..], Some(Duration::from_secs(90)))
        );
        let k = decode_entry(
            "k",
            &json!({"command": "x", "disabledTools": ["rm"]}),
            &kiro::Kiro,
            &places(),
        )
        .unwrap();
        assert_eq!(k.tools.deny, ["rm"]);
        // Claude Code has no timeout key: a `timeout` there means nothing to it.
        assert_eq!(
            decode("x", &json!({"command": "x", "timeout": 5}))
                .unwrap()
                .timeout,
            None
        );
        let goose = decode_entry(
            "k",
            &json!({"cmd": "x", "env_keys": ["GITHUB_TOKEN"]}),
            &goose::Goose,
            &places(),
        );
        assert!(goose.unwrap_err().contains("GITHUB_TOKEN"));
        assert!(
            decode_entry(
                "g",
                &json!({"command": "x", "timeout": "soon"}),
                &gemini::GeminiCli,
                &places()
            )
            .is_err()
        );
    }

    #[test]
    fn decodes_every_spelling() {
        let s = decode(
            "a",
            &json!({"command": "npx", "args": ["-y", "x"], "env": {"K": "v"}}),
        )
        .unwrap();
        assert_eq!(
            s.spec,
            ServerSpec::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "x".into()],
                env: [("K".to_string(), "v".to_string())].into(),
                cwd: None
            }
        );
        let oc = decode("b", &json!({"type": "local", "command": ["bun", "x", "y"], "environment": {"A": "1"}, "enabled": false})).unwrap();
        assert!(!oc.enabled);
        assert!(
            matches!(&oc.spec, ServerSpec::Stdio { command, args, env, .. } if command == "bun" && args == &["x", "y"] && env["A"] == "1")
        );
        let zed = decode(
            "c",
            &json!({"command": {"path": "/bin/srv", "args": ["run"], "env": {"Z": "1"}}}),
        )
        .unwrap();
        assert!(
            matches!(&zed.spec, ServerSpec::Stdio { command, args, env, .. } if command == "/bin/srv" && args == &["run"] && env["Z"] == "1")
        );
        let goose = decode(
            "d",
            &json!({"type": "stdio", "cmd": "uvx", "args": ["t"], "envs": {"E": "2"}}),
        )
        .unwrap();
        assert!(matches!(&goose.spec, ServerSpec::Stdio { command, .. } if command == "uvx"));
        let ws = decode(
            "e",
            &json!({"serverUrl": "https://x/sse", "headers": {"H": "v"}}),
        )
        .unwrap();
        assert!(
            matches!(&ws.spec, ServerSpec::Remote { url, transport: RemoteTransport::Auto, .. } if url == "https://x/sse")
        );
        let gem = decode("f", &json!({"httpUrl": "https://x/mcp"})).unwrap();
        assert!(matches!(
            &gem.spec,
            ServerSpec::Remote {
                transport: RemoteTransport::Http,
                ..
            }
        ));
        let codex = decode(
            "g",
            &json!({"url": "https://x", "bearer_token_env_var": "TOK"}),
        )
        .unwrap();
        assert!(
            matches!(&codex.spec, ServerSpec::Remote { headers, .. } if headers["Authorization"] == "Bearer ${TOK:-}")
        );
        let sse = decode("h", &json!({"type": "sse", "url": "https://x/sse"})).unwrap();
        assert!(matches!(
            &sse.spec,
            ServerSpec::Remote {
                transport: RemoteTransport::Sse,
                ..
            }
        ));
        assert!(
            decode("i", &json!({"foo": 1}))
                .unwrap_err()
                .contains("neither")
        );
        assert!(
            decode("j", &json!({"command": "x", "args": "nope"}))
                .unwrap_err()
                .contains("args")
        );
        assert!(
            !decode("k", &json!({"command": "x", "disabled": true}))
                .unwrap()
                .enabled
        );
    }
}
