//! Tests of the whole loader: schema rules, error messages and positions, discovery, layering.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::discover::{SearchPaths, load_in, parse_text};
use super::*;

fn vars(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/tester".into()),
        "GITHUB_TOKEN" => Some("ghp_123".into()),
        "DOCS_TOKEN" => Some("doc tok".into()),
        "PORT" => Some("4000".into()),
        "SPACEY" => Some("a b".into()),
        "EVIL" => Some("x\nbackends: {pwn: {command: rm}}".into()),
        "READER_KEY" => Some("reader-key-0123456789abcdef".into()),
        "SHORT_KEY" => Some("short".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    discover::standalone(parse_text(text, Path::new("/proj/gateway.yaml"), &vars)?)
}

fn ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> ConfigError {
    match parse(text) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

fn stdio(c: &Config, name: &str) -> StdioSpec {
    match &c.backends[name].transport {
        Transport::Stdio(s) => s.clone(),
        other => panic!("{name} is not stdio: {other:?}"),
    }
}

fn http(c: &Config, name: &str) -> HttpSpec {
    match &c.backends[name].transport {
        Transport::Http(h) => h.clone(),
        other => panic!("{name} is not http: {other:?}"),
    }
}

fn sv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

// ---- format -------------------------------------------------------------------------------

#[test]
fn empty_file_gives_defaults() {
    let c = ok("");
    assert_eq!(
        c,
        Config {
            sources: vec![PathBuf::from("/proj/gateway.yaml")],
            ..Config::default()
        }
    );
}

#[test]
fn design_sample_loads() {
    let c = ok(r#"
server:    { host: 127.0.0.1, port: 39400 }
meta_mcp:  { enabled: true, surface: ["files/read_file"] }
backends:
  files:
    command: "npx -y @modelcontextprotocol/server-filesystem /tmp"
    args: []
    env: { TOKEN: "${GITHUB_TOKEN}" }
    cwd: /some/dir
    description: "Local files"
    enabled: true
    timeout: 30s
    idle_timeout: 10m
  docs:
    http_url: "https://example.com/mcp"
    headers: { Authorization: "Bearer ${DOCS_TOKEN}" }
capabilities: { enabled: true, directories: [./capabilities] }
log: { level: debug, format: json, file: logs/gw.log }
"#);
    assert_eq!(c.server.host, "127.0.0.1");
    assert_eq!(c.server.port, 39400);
    assert_eq!(
        c.meta_mcp.surface,
        [ToolRef {
            server: "files".into(),
            tool: "read_file".into()
        }]
    );
    let files = &c.backends["files"];
    assert_eq!(files.name, "files");
    assert_eq!(files.description.as_deref(), Some("Local files"));
    assert_eq!(files.timeout, Duration::from_secs(30));
    assert_eq!(files.idle_timeout, Duration::from_secs(600));
    let s = stdio(&c, "files");
    assert_eq!(s.program, "npx");
    assert_eq!(
        s.args,
        sv(&["-y", "@modelcontextprotocol/server-filesystem", "/tmp"])
    );
    assert_eq!(s.env["TOKEN"], "ghp_123");
    assert_eq!(s.cwd, Some(PathBuf::from("/some/dir")));
    let d = http(&c, "docs");
    assert_eq!(d.url, "https://example.com/mcp");
    assert_eq!(d.kind, HttpKind::Auto);
    assert_eq!(d.headers["Authorization"], "Bearer doc tok");
    assert_eq!(c.backends["docs"].timeout, DEFAULT_TIMEOUT);
    assert_eq!(c.backends["docs"].idle_timeout, DEFAULT_IDLE_TIMEOUT);
    assert!(c.capabilities.enabled);
    assert_eq!(
        c.capabilities.directories,
        [PathBuf::from("/proj/./capabilities")]
    );
    assert_eq!(c.log.level.as_deref(), Some("debug"));
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.log.file, Some(PathBuf::from("/proj/logs/gw.log")));
}

/// The shape of MikkoParkkola/mcp-gateway's published examples (gateway-full.yaml /
/// servers.yaml), with the keys we do not implement.
#[test]
fn mikkoparkkola_format_sample_loads() {
    let c = ok(r#"
env_files:
  - ~/.mcp-gateway/.env
server:
  host: "127.0.0.1"
  port: 39400
  request_timeout: 30s
  shutdown_timeout: 30s
  max_body_size: 10485760
auth:
  enabled: false
  public_paths: [/health]
meta_mcp:
  enabled: true
  cache_tools: true
  cache_ttl: 5m
  warm_start: []
  surfaced_tools:
    - server: tavily
      tool: search
streaming: { enabled: true, buffer_size: 100, keep_alive_interval: 15s }
failsafe:
  circuit_breaker: { enabled: true, failure_threshold: 5, reset_timeout: 30s }
  retry: { enabled: true, max_attempts: 3, initial_backoff: 100ms }
  rate_limit: { enabled: true, requests_per_second: 100, burst_size: 50 }
cache: { enabled: true, default_ttl: 60s, max_entries: 10000 }
capabilities:
  enabled: true
  name: fulcrum
  directories:
    - ./capabilities
backends:
  tavily:
    command: "npx -y @anthropic/mcp-server-tavily"
    description: "Web search via Tavily"
    enabled: true
    timeout: 30s
    idle_timeout: 300
    env:
      TAVILY_API_KEY: "${TAVILY_API_KEY:-unset}"
    cwd: /tmp
  context7:
    http_url: "http://localhost:8080/mcp"
    description: "Documentation lookup"
    streamable_http: true
    protocol_version: "2025-03-26"
    headers:
      Authorization: "Bearer ${API_TOKEN:-none}"
  pieces:
    http_url: "http://localhost:39300/sse"
    description: "Pieces LTM"
  experimental:
    command: "python -m experimental_server"
    enabled: false
    stop_when_idle_for: 2m
"#);
    assert_eq!(c.backends.len(), 4);
    assert_eq!(c.backends["tavily"].idle_timeout, Duration::from_secs(300));
    assert_eq!(stdio(&c, "tavily").env["TAVILY_API_KEY"], "unset");
    assert_eq!(http(&c, "context7").kind, HttpKind::StreamableHttp);
    assert_eq!(http(&c, "pieces").kind, HttpKind::Sse);
    assert_eq!(c.backends["pieces"].transport.kind(), "sse");
    assert!(!c.backends["experimental"].enabled);
    assert_eq!(
        c.backends["experimental"].idle_timeout,
        Duration::from_secs(120)
    );
    assert_eq!(
        c.meta_mcp.surface,
        [ToolRef {
            server: "tavily".into(),
            tool: "search".into()
        }]
    );
    assert!(c.capabilities.enabled);
}

#[test]
fn transports() {
    let c = ok(r#"
backends:
  a: { url: "http://127.0.0.1:1/mcp", transport: sse }
  b: { http_url: "https://h/mcp", transport: streamable-http }
  c: { http_url: "https://h/mcp", transport: http }
  d: { command: x, transport: stdio }
  e: { http_url: "https://h/sse", streamable_http: false }
  f: { http_url: "https://h/mcp", transport: http, streamable_http: false }
"#);
    assert_eq!(http(&c, "a").kind, HttpKind::Sse);
    assert_eq!(http(&c, "a").url, "http://127.0.0.1:1/mcp");
    assert_eq!(http(&c, "b").kind, HttpKind::StreamableHttp);
    assert_eq!(http(&c, "c").kind, HttpKind::Auto);
    assert_eq!(stdio(&c, "d").program, "x");
    assert_eq!(http(&c, "e").kind, HttpKind::Sse);
    assert_eq!(http(&c, "f").kind, HttpKind::Sse);
}

// ---- command ------------------------------------------------------------------------------

#[test]
fn command_one_string_or_program_plus_args() {
    let c = ok(r#"
backends:
  one: { command: "npx -y '@scope/pkg name' --flag=\"q v\"" }
  prog: { command: uvx, args: [mcp-server-time, --local-timezone, Europe/Helsinki] }
  both: { command: "npx -y", args: ["@modelcontextprotocol/server-memory"] }
  list: { command: [node, server.js, --port, 8080] }
  typed: { command: node, args: [0755, 1.10, on, true, 8080] }
  spaced: { command: "'/opt/My Tools/server'" }
"#);
    let one = stdio(&c, "one");
    assert_eq!(one.program, "npx");
    assert_eq!(one.args, sv(&["-y", "@scope/pkg name", "--flag=q v"]));
    let prog = stdio(&c, "prog");
    assert_eq!(prog.program, "uvx");
    assert_eq!(
        prog.args,
        sv(&["mcp-server-time", "--local-timezone", "Europe/Helsinki"])
    );
    let both = stdio(&c, "both");
    assert_eq!(both.program, "npx");
    assert_eq!(
        both.args,
        sv(&["-y", "@modelcontextprotocol/server-memory"])
    );
    let list = stdio(&c, "list");
    assert_eq!(list.program, "node");
    assert_eq!(list.args, sv(&["server.js", "--port", "8080"]));
    assert_eq!(
        stdio(&c, "typed").args,
        sv(&["0755", "1.10", "on", "true", "8080"])
    );
    assert_eq!(stdio(&c, "spaced").program, "/opt/My Tools/server");
    assert!(stdio(&c, "spaced").args.is_empty());
}

#[test]
fn command_words_expand_after_splitting() {
    let c = ok(r#"
backends:
  a: { command: "run ${SPACEY} ~/bin '${NOPE:-x y}' $${LITERAL}", args: ["${HOME}/data", "~"] }
"#);
    let a = stdio(&c, "a");
    assert_eq!(a.program, "run");
    assert_eq!(
        a.args,
        sv(&[
            "a b",
            "/home/tester/bin",
            "x y",
            "${LITERAL}",
            "/home/tester/data",
            "/home/tester"
        ])
    );
}

#[test]
fn bad_commands() {
    let e = err("backends:\n  a:\n    command: \"npx 'unclosed\"\n");
    assert!(
        matches!(&e, ConfigError::Invalid { line: 3, key, .. } if key == "backends.a.command"),
        "{e}"
    );
    let e = err("backends:\n  a:\n    command: \"  \"\n");
    assert!(matches!(&e, ConfigError::Invalid { line: 3, .. }), "{e}");
    let e = err("backends:\n  a:\n    command: {x: 1}\n");
    assert!(e.to_string().contains("found a mapping"), "{e}");
}

// ---- env expansion ------------------------------------------------------------------------

#[test]
fn env_expansion_everywhere() {
    let c = ok(r#"
server: { host: "${NOPE:-0.0.0.0}", port: "${PORT}" }
backends:
  h:
    url: "https://${NOPE:-example.com}/mcp"
    headers: { X-Token: "${GITHUB_TOKEN}", X-Price: "$$5" }
    description: "for ${GITHUB_TOKEN:-nobody}"
  s:
    command: srv
    cwd: "${HOME}/work"
    env: { A: "${EVIL}", B: "$${GITHUB_TOKEN}", C: 42 }
"#);
    assert_eq!(c.server.host, "0.0.0.0");
    assert_eq!(c.server.port, 4000);
    let h = http(&c, "h");
    assert_eq!(h.url, "https://example.com/mcp");
    assert_eq!(h.headers["X-Token"], "ghp_123");
    assert_eq!(h.headers["X-Price"], "$5");
    assert_eq!(c.backends["h"].description.as_deref(), Some("for ghp_123"));
    let s = stdio(&c, "s");
    assert_eq!(s.cwd, Some(PathBuf::from("/home/tester/work")));
    // A value that looks like YAML stays a value: no `pwn` backend appears.
    assert_eq!(s.env["A"], "x\nbackends: {pwn: {command: rm}}");
    assert_eq!(s.env["B"], "${GITHUB_TOKEN}");
    assert_eq!(s.env["C"], "42");
    assert_eq!(c.backends.len(), 2);
}

#[test]
fn missing_env_names_file_line_key_and_variable() {
    let e = err(
        "backends:\n  docs:\n    http_url: https://x/mcp\n    headers:\n      Authorization: \"Bearer ${DOCS_TOKEN_MISSING}\"\n",
    );
    match &e {
        ConfigError::MissingEnv {
            path,
            line,
            column,
            key,
            var,
        } => {
            assert_eq!(*column, 22);
            assert_eq!(path, Path::new("/proj/gateway.yaml"));
            assert_eq!(*line, 5);
            assert_eq!(key, "backends.docs.headers.Authorization");
            assert_eq!(var, "DOCS_TOKEN_MISSING");
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("/proj/gateway.yaml:5:22: `backends.docs.headers.Authorization`: environment variable `DOCS_TOKEN_MISSING` is not set"),
        "{msg}"
    );
    assert!(msg.contains("DOCS_TOKEN_MISSING"), "{msg}");

    let e = err("backends:\n  a:\n    command: srv\n    args:\n      - ok\n      - \"${NOPE}\"\n");
    assert!(
        matches!(&e, ConfigError::MissingEnv { line: 6, key, var, .. } if key == "backends.a.args" && var == "NOPE"),
        "{e}"
    );
    let e = err("backends:\n  a:\n    command: \"srv ${NOPE}\"\n");
    assert!(
        matches!(&e, ConfigError::MissingEnv { line: 3, key, .. } if key == "backends.a.command"),
        "{e}"
    );
    let e = err("backends:\n  a:\n    command: srv\n    env:\n      X: \"${BROKEN\"\n");
    assert!(
        matches!(&e, ConfigError::Invalid { line: 5, key, .. } if key == "backends.a.env.X"),
        "{e}"
    );
}

// ---- unknown keys -------------------------------------------------------------------------

fn unknown(text: &str) -> (usize, String, Option<String>) {
    match err(text) {
        ConfigError::UnknownKey {
            line,
            key,
            suggestion,
            ..
        } => (line, key, suggestion),
        other => panic!("expected UnknownKey, got {other}"),
    }
}

#[test]
fn unknown_keys_at_every_level_with_suggestions() {
    let (line, key, sugg) = unknown("backends:\n  files:\n    comand: npx x\n");
    assert_eq!((line, key.as_str()), (3, "backends.files.comand"));
    assert_eq!(sugg.as_deref(), Some("command"));
    assert_eq!(
        err("backends:\n  files:\n    comand: npx x\n").to_string(),
        "/proj/gateway.yaml:3:5: unknown key `backends.files.comand` (did you mean `command`?)"
    );

    let (line, key, sugg) = unknown("# hi\n\nbackend:\n  a: {command: x}\n");
    assert_eq!(
        (line, key.as_str(), sugg.as_deref()),
        (3, "backend", Some("backends"))
    );

    let (_, key, sugg) = unknown("server:\n  prot: 1\n");
    assert_eq!(
        (key.as_str(), sugg.as_deref()),
        ("server.prot", Some("port"))
    );

    let (_, key, sugg) = unknown("meta_mcp:\n  enabeld: true\n");
    assert_eq!(
        (key.as_str(), sugg.as_deref()),
        ("meta_mcp.enabeld", Some("enabled"))
    );

    let (_, key, sugg) = unknown("capabilities:\n  directory: [a]\n");
    assert_eq!(
        (key.as_str(), sugg.as_deref()),
        ("capabilities.directory", Some("directories"))
    );

    let (_, key, sugg) = unknown("log:\n  levle: info\n");
    assert_eq!(
        (key.as_str(), sugg.as_deref()),
        ("log.levle", Some("level"))
    );

    let (_, key, sugg) = unknown("backends:\n  a:\n    command: x\n    idle-timeout: 5m\n");
    assert_eq!(
        (key.as_str(), sugg.as_deref()),
        ("backends.a.idle-timeout", Some("idle_timeout"))
    );

    let (_, key, sugg) = unknown("meta_mcp:\n  surfaced_tools:\n    - {server: a, tol: b}\n");
    assert_eq!(
        (key.as_str(), sugg.as_deref()),
        ("meta_mcp.surfaced_tools.tol", Some("tool"))
    );

    let (_, key, sugg) = unknown("totally_unrelated: 1\n");
    assert_eq!((key.as_str(), sugg), ("totally_unrelated", None));
}

#[test]
fn flat_keys_of_older_formats_point_to_their_new_place() {
    assert_eq!(unknown("port: 1\n").2.as_deref(), Some("server.port"));
    assert_eq!(unknown("log_level: info\n").2.as_deref(), Some("log.level"));
    let msg = err("enable_meta_mcp: true\n").to_string();
    assert_eq!(
        msg,
        "/proj/gateway.yaml:1:1: unknown key `enable_meta_mcp` (did you mean `meta_mcp.enabled`?)"
    );
}

// ---- invalid values -----------------------------------------------------------------------

fn invalid(text: &str) -> (usize, String, String) {
    match err(text) {
        ConfigError::Invalid {
            line, key, message, ..
        } => (line, key, message),
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn invalid_values_name_line_and_key() {
    let (line, key, msg) = invalid("backends:\n  files:\n    command: x\n    timeout: 30x\n");
    assert_eq!((line, key.as_str()), (4, "backends.files.timeout"));
    assert!(msg.contains("30x"), "{msg}");
    assert!(
        err("backends:\n  files:\n    command: x\n    timeout: 30x\n")
            .to_string()
            .starts_with(
                "/proj/gateway.yaml:4:14: `backends.files.timeout`: `30x` is not a duration"
            ),
    );

    let (line, key, _) = invalid("server:\n  port: 70000\n");
    assert_eq!((line, key.as_str()), (2, "server.port"));
    let (_, key, _) = invalid("server:\n  port: -1\n");
    assert_eq!(key, "server.port");
    let (_, key, _) = invalid("server:\n  port: eighty\n");
    assert_eq!(key, "server.port");

    let (line, key, msg) = invalid("backends:\n  bad.name:\n    command: x\n");
    assert_eq!((line, key.as_str()), (2, "backends.bad.name"));
    assert!(msg.contains("A–Z"), "{msg}");
    let long = "x".repeat(33);
    let (_, _, msg) = invalid(&format!("backends:\n  {long}:\n    command: x\n"));
    assert!(msg.contains("1–32"), "{msg}");
    assert!(
        parse(&format!(
            "backends:\n  {}:\n    command: x\n",
            "x".repeat(32)
        ))
        .is_ok()
    );

    let (line, key, msg) = invalid("backends:\n  a:\n    description: nothing to run\n");
    assert_eq!((line, key.as_str()), (2, "backends.a"));
    assert!(msg.contains("command") && msg.contains("http_url"), "{msg}");

    let (line, key, msg) =
        invalid("backends:\n  a:\n    command: x\n    http_url: https://h/mcp\n");
    assert_eq!((line, key.as_str()), (4, "backends.a"));
    assert!(msg.contains("both"), "{msg}");

    let (_, key, msg) =
        invalid("backends:\n  a:\n    http_url: https://h/mcp\n    transport: websocket\n");
    assert_eq!(key, "backends.a.transport");
    assert!(msg.contains("websocket"), "{msg}");

    let (_, key, _) = invalid("backends:\n  a:\n    command: x\n    transport: sse\n");
    assert_eq!(key, "backends.a.transport");
    let (_, key, _) = invalid("backends:\n  a:\n    url: https://h/mcp\n    transport: stdio\n");
    assert_eq!(key, "backends.a.transport");
    let (_, key, _) =
        invalid("backends:\n  a:\n    url: https://h/mcp\n    http_url: https://h/mcp\n");
    assert_eq!(key, "backends.a.url");
    let (_, key, _) = invalid("backends:\n  a:\n    url: ftp://h/mcp\n");
    assert_eq!(key, "backends.a.url");
    let (_, key, _) = invalid("backends:\n  a:\n    url: https://h/mcp\n    args: [x]\n");
    assert_eq!(key, "backends.a.args");
    let (_, key, _) = invalid("backends:\n  a:\n    command: x\n    headers: {A: b}\n");
    assert_eq!(key, "backends.a.headers");
    let (_, key, _) =
        invalid("backends:\n  a:\n    url: https://h/mcp\n    headers: {\"bad header\": b}\n");
    assert_eq!(key, "backends.a.headers.bad header");
    let (_, key, _) = invalid("backends:\n  a:\n    command: x\n    timeout: 0s\n");
    assert_eq!(key, "backends.a.timeout");
    let (_, key, _) = invalid("backends:\n  a:\n    command: x\n    idle_timeout: -5\n");
    assert_eq!(key, "backends.a.idle_timeout");
    let (_, key, _) = invalid("backends:\n  a:\n    command: x\n    enabled: maybe\n");
    assert_eq!(key, "backends.a.enabled");
    let (_, key, _) = invalid("backends:\n  a:\n    ws_url: wss://h\n");
    assert_eq!(key, "backends.a.ws_url");
    let (_, key, _) = invalid(
        "backends:\n  a:\n    command: x\n    idle_timeout: 1m\n    stop_when_idle_for: 1m\n",
    );
    assert_eq!(key, "backends.a.stop_when_idle_for");
    let (_, key, _) = invalid("log:\n  format: xml\n");
    assert_eq!(key, "log.format");
    let (_, key, _) = invalid("log:\n  level: \"info,[[\"\n");
    assert_eq!(key, "log.level");
    let (_, key, _) = invalid("meta_mcp:\n  surface: [no-slash]\n");
    assert_eq!(key, "meta_mcp.surface");
    let (_, key, _) = invalid("backends: [a, b]\n");
    assert_eq!(key, "backends");
    let (_, key, msg) = invalid("server: 5\n");
    assert_eq!(key, "server");
    assert!(
        msg.contains("expected a mapping, found an integer"),
        "{msg}"
    );
}

#[test]
fn empty_values_count_as_unset() {
    let c = ok(
        "server:\n  host:\n  port: ~\nbackends:\n  a:\n    command: x\n    description:\n    args:\n    env:\n    timeout:\n    url: ~\n",
    );
    assert_eq!(c.server, Config::default().server);
    let a = &c.backends["a"];
    assert_eq!(a.description, None);
    assert_eq!(a.timeout, DEFAULT_TIMEOUT);
    assert_eq!(stdio(&c, "a").program, "x");
    let (line, key, msg) = invalid("backends:\n  a:\n    command:\n");
    assert_eq!((line, key.as_str()), (2, "backends.a"));
    assert!(msg.contains("needs `command`"), "{msg}");
}

#[test]
fn anchors_and_merge_keys_work() {
    let c = ok(r#"
x-stdio-defaults: &slow { timeout: 5m, idle_timeout: 1h }
backends:
  a: { <<: *slow, command: x }
"#);
    assert_eq!(c.backends["a"].timeout, Duration::from_secs(300));
    assert_eq!(c.backends["a"].idle_timeout, Duration::from_secs(3600));
    let c = ok(r#"
backends:
  a: &base { command: x, timeout: 5m, idle_timeout: 1h }
  b:
    <<: *base
    command: y
    timeout: 1s
"#);
    assert_eq!(c.backends["a"].timeout, Duration::from_secs(300));
    assert_eq!(c.backends["b"].timeout, Duration::from_secs(1));
    assert_eq!(c.backends["b"].idle_timeout, Duration::from_secs(3600));
    assert_eq!(stdio(&c, "b").program, "y");
}

#[test]
fn port_accepts_any_integer_spelling_in_range() {
    assert_eq!(ok("server: {port: 0x50}\n").server.port, 80);
    assert_eq!(ok("server: {port: \"8080\"}\n").server.port, 8080);
    assert_eq!(ok("server: {port: 0}\n").server.port, 0);
}

#[test]
fn durations_in_backends() {
    let c = ok(r#"
backends:
  a: { command: x, timeout: 500ms, idle_timeout: 1h }
  b: { command: x, timeout: 45, idle_timeout: "${NOPE:-90s}" }
"#);
    assert_eq!(c.backends["a"].timeout, Duration::from_millis(500));
    assert_eq!(c.backends["a"].idle_timeout, Duration::from_secs(3600));
    assert_eq!(c.backends["b"].timeout, Duration::from_secs(45));
    assert_eq!(c.backends["b"].idle_timeout, Duration::from_secs(90));
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let e = err("server:\n  host: a\n   port: 1\n");
    match &e {
        ConfigError::Syntax { path, line, .. } => {
            assert_eq!(path, Path::new("/proj/gateway.yaml"));
            assert_eq!(*line, 3, "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn capabilities_and_meta_defaults() {
    let c = ok("capabilities:\n  directories: [\"~/caps\", /abs]\nmeta_mcp: {enabled: false}\n");
    assert!(c.capabilities.enabled);
    assert_eq!(
        c.capabilities.directories,
        [PathBuf::from("/home/tester/caps"), PathBuf::from("/abs")]
    );
    assert!(!c.meta_mcp.enabled);
    let c = ok("capabilities:\n  enabled: false\n  directories: [x]\n");
    assert!(!c.capabilities.enabled);
    let c = ok("backends:\nlog:\n");
    assert!(c.backends.is_empty());
    assert!(!c.capabilities.enabled);
}

// ---- discovery and layering ---------------------------------------------------------------

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    paths: SearchPaths,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let paths = SearchPaths {
            user_file: Some(root.join("xdg/mcp-gateway/gateway.yaml")),
            system_file: root.join("etc/mcp-gateway/gateway.yaml"),
        };
        World {
            _tmp: tmp,
            root,
            paths,
        }
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    fn dir(&self, rel: &str) -> PathBuf {
        let p = self.root.join(rel);
        fs::create_dir_all(&p).unwrap();
        p
    }

    fn found(&self, explicit: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
        discover_in(explicit, cwd, &self.paths).map(|f| f.path)
    }

    fn load(&self, explicit: Option<&Path>, cwd: &Path) -> Result<Config, ConfigError> {
        load_in(explicit, cwd, &self.paths, &vars)
    }
}

#[test]
fn discovery_order() {
    let w = World::new();
    let cwd = w.dir("home/repo/sub/deeper");
    w.dir("home/repo/.git");
    assert_eq!(w.found(None, &cwd), None);
    assert_eq!(w.load(None, &cwd).unwrap(), Config::default());

    let system = w.write("etc/mcp-gateway/gateway.yaml", "server: {port: 1}\n");
    assert_eq!(w.found(None, &cwd), Some(system.clone()));

    let user = w.write("xdg/mcp-gateway/gateway.yaml", "server: {port: 2}\n");
    assert_eq!(w.found(None, &cwd), Some(user.clone()));

    let at_root = w.write("home/repo/gateway.yaml", "server: {port: 3}\n");
    assert_eq!(w.found(None, &cwd), Some(at_root.clone()));

    let hidden_at_root = w.write("home/repo/.mcp-gateway.yaml", "server: {port: 4}\n");
    assert_eq!(w.found(None, &cwd), Some(hidden_at_root));

    let nearer = w.write("home/repo/sub/gateway.yaml", "server: {port: 5}\n");
    assert_eq!(w.found(None, &cwd), Some(nearer.clone()));
    let c = w.load(None, &cwd).unwrap();
    assert_eq!(c.server.port, 5);
    assert_eq!(c.sources, [nearer]);

    let explicit = w.write("elsewhere/x.yaml", "server: {port: 6}\n");
    assert_eq!(w.found(Some(&explicit), &cwd), Some(explicit.clone()));
    assert_eq!(w.load(Some(&explicit), &cwd).unwrap().server.port, 6);

    let missing = w.root.join("nope.yaml");
    assert!(matches!(
        w.load(Some(&missing), &cwd),
        Err(ConfigError::Io { path, .. }) if path == missing
    ));
}

#[test]
fn discovery_stops_at_the_repository_root() {
    let w = World::new();
    w.write("home/gateway.yaml", "server: {port: 9}\n");
    let repo = w.dir("home/repo");
    fs::write(repo.join(".git"), "gitdir: /elsewhere\n").unwrap(); // a worktree's .git file
    let cwd = w.dir("home/repo/src");
    assert_eq!(
        w.found(None, &cwd),
        None,
        "must not look above the repo root"
    );
    let user = w.write("xdg/mcp-gateway/gateway.yaml", "");
    assert_eq!(w.found(None, &cwd), Some(user));
}

#[test]
fn outside_a_repository_only_the_working_directory_counts() {
    let w = World::new();
    w.write("plain/gateway.yaml", "server: {port: 9}\n");
    let cwd = w.dir("plain/child");
    assert_eq!(w.found(None, &cwd), None);
    let own = w.write("plain/child/.mcp-gateway.yaml", "");
    assert_eq!(w.found(None, &cwd), Some(own));
}

#[test]
fn inherit_layers_the_project_over_the_user_file() {
    let w = World::new();
    let user = w.write(
        "xdg/mcp-gateway/gateway.yaml",
        r#"
server: { host: 0.0.0.0, port: 1000 }
meta_mcp: { surface: ["shared/tool"] }
backends:
  shared: { command: "shared-server --user" }
  both: { command: user-version }
log: { level: info, format: json }
capabilities: { directories: [caps] }
"#,
    );
    w.dir("proj/.git");
    let project = w.write(
        "proj/.mcp-gateway.yaml",
        r#"
inherit: true
server: { port: 2000 }
backends:
  both: { url: "https://project/mcp" }
  local: { command: ./run.sh, cwd: tools }
  shared: { enabled: false }
log: { level: debug }
"#,
    );
    let c = w.load(None, &w.root.join("proj")).unwrap();
    assert_eq!(c.sources, [user.clone(), project.clone()]);
    assert_eq!(
        c.server.host, "0.0.0.0",
        "user value kept where project is silent"
    );
    assert_eq!(c.server.port, 2000, "project wins where set");
    assert_eq!(c.meta_mcp.surface.len(), 1);
    assert_eq!(
        c.backends.keys().collect::<Vec<_>>(),
        ["both", "local", "shared"]
    );
    assert_eq!(http(&c, "both").url, "https://project/mcp");
    assert_eq!(stdio(&c, "shared").args, sv(&["--user"]));
    assert!(!c.backends["shared"].enabled, "switched off by the project");
    assert!(c.backends["both"].enabled);
    // Relative paths resolve against the file that wrote them.
    assert_eq!(stdio(&c, "local").cwd, Some(w.root.join("proj/tools")));
    assert_eq!(
        c.capabilities.directories,
        [w.root.join("xdg/mcp-gateway/caps")]
    );
    assert_eq!(c.log.level.as_deref(), Some("debug"));
    assert_eq!(c.log.format, LogFormat::Json);

    // Without `inherit`, the project file stands alone.
    fs::write(&project, "server: { port: 2000 }\n").unwrap();
    let c = w.load(None, &w.root.join("proj")).unwrap();
    assert_eq!(c.sources, std::slice::from_ref(&project));
    assert_eq!(c.server.host, "127.0.0.1");
    assert!(c.backends.is_empty());

    // An explicit file may inherit too.
    let explicit = w.write("x/explicit.yaml", "inherit: true\nserver: {port: 7}\n");
    let c = w.load(Some(&explicit), &w.root).unwrap();
    assert_eq!(c.sources, [user, explicit]);
    assert_eq!(c.server.port, 7);
    assert_eq!(c.server.host, "0.0.0.0");
}

#[test]
fn inherit_falls_back_to_the_system_file_and_is_rejected_in_the_user_file() {
    let w = World::new();
    let system = w.write(
        "etc/mcp-gateway/gateway.yaml",
        "backends:\n  sys: {command: s}\n",
    );
    let cwd = w.dir("p");
    let project = w.write("p/gateway.yaml", "inherit: true\n");
    let c = w.load(None, &cwd).unwrap();
    assert_eq!(c.sources, [system, project]);
    assert!(c.backends.contains_key("sys"));

    let user = w.write("xdg/mcp-gateway/gateway.yaml", "\ninherit: true\n");
    let e = w.load(None, &w.dir("elsewhere")).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Invalid { path, line: 2, key, .. } if *path == user && key == "inherit"),
        "{e}"
    );
}

#[test]
fn switching_a_backend_needs_something_to_switch() {
    let w = World::new();
    w.write(
        "xdg/mcp-gateway/gateway.yaml",
        "backends:\n  a: {command: x}\n",
    );
    let cwd = w.dir("p");
    let project = w.write(
        "p/gateway.yaml",
        "inherit: true\nbackends:\n  b: {enabled: false}\n",
    );
    let e = w.load(None, &cwd).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Invalid { path, line: 3, key, .. } if *path == project && key == "backends.b"),
        "{e}"
    );
    // Without `inherit`, an entry with only `enabled` is just an incomplete backend.
    fs::write(&project, "backends:\n  a: {enabled: false}\n").unwrap();
    let e = w.load(None, &cwd).unwrap_err();
    assert!(e.to_string().contains("needs `command`"), "{e}");
}

#[test]
fn errors_in_the_inherited_file_name_that_file() {
    let w = World::new();
    let user = w.write(
        "xdg/mcp-gateway/gateway.yaml",
        "backends:\n  a:\n    comand: x\n",
    );
    let cwd = w.dir("p");
    w.write("p/gateway.yaml", "inherit: true\n");
    let e = w.load(None, &cwd).unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownKey { path, line: 3, .. } if *path == user),
        "{e}"
    );
}

#[test]
fn example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gateway.yaml");
    let c = discover::read_file(&path, &vars)
        .and_then(discover::standalone)
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = c.backends.keys().map(String::as_str).collect();
    for expected in ["everything", "memory", "filesystem", "time"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let empty: BTreeMap<String, BackendConfig> = BTreeMap::new();
    assert_ne!(c.backends, empty);
}

#[test]
fn scanner_allow_list_names_server_tool_and_rules() {
    let c = ok(
        "scanner:\n  allow:\n    - server: circleci\n      tool: \"*\"\n      rules: [secret-path]\n    - tool: odd_tool\n",
    );
    let allow = &c.scanner_allow;
    assert!(allow.allows("circleci", "any_tool", "secret-path"));
    assert!(!allow.allows("circleci", "any_tool", "hidden-instruction-tag"));
    assert!(allow.allows("other", "odd_tool", "anything"));
    assert!(!allow.allows("other", "another", "anything"));
    assert!(Config::default().scanner_allow.entries.is_empty());
    let e = err("scanner:\n  allow:\n    - sever: x\n");
    assert!(e.to_string().contains("did you mean `server`"), "{e}");
}

#[test]
fn listener_keys_and_share_are_read() {
    let c = ok(
        "server:\n  allowed_hosts: [gw.internal]\n  allowed_origins: [\"http://localhost:3000\"]\n  max_body_size: 64KiB\nshare: true\n",
    );
    assert_eq!(c.server.allowed_hosts, vec!["gw.internal".to_string()]);
    assert_eq!(
        c.server.allowed_origins,
        vec!["http://localhost:3000".to_string()]
    );
    assert_eq!(c.server.max_body_size, 64 * 1024);
    assert!(c.share);
    let d = ok("backends: {}\n");
    assert_eq!(d.server.max_body_size, DEFAULT_MAX_BODY_SIZE);
    assert!(!d.share, "sharing is opt-in");
    let (line, key, message) = invalid("server:\n  max_body_size: lots\n");
    assert_eq!((line, key.as_str()), (2, "server.max_body_size"));
    assert!(message.contains("not a size"), "{message}");
    let (_, key, _) = invalid("share: maybe\n");
    assert_eq!(key, "share");
}

#[test]
fn isolate_is_read_per_backend_and_off_by_default() {
    let c = ok(
        "backends:\n  browser: { command: chromium-mcp, isolate: true }\n  time: { command: t }\n",
    );
    assert!(c.backends["browser"].isolate);
    assert!(
        !c.backends["time"].isolate,
        "backends are shared unless they say otherwise"
    );
    let (line, key, _) = invalid("backends:\n  b:\n    command: x\n    isolate: per-session\n");
    assert_eq!((line, key.as_str()), (4, "backends.b.isolate"));
}

#[test]
fn failsafe_is_global_with_per_backend_overrides_leaf_by_leaf() {
    let c = ok(r#"
failsafe:
  circuit_breaker: { failure_threshold: 3, reset_timeout: 10s }
  retry: { max_attempts: 2 }
  concurrency: { max_in_flight: 4, max_queued: 0 }
  health_check: { interval: 0 }
backends:
  plain: { command: a }
  tuned:
    command: b
    failsafe:
      circuit_breaker: { enabled: false }
      rate_limit: { requests_per_minute: 30 }
      concurrency: { max_queued: 8 }
"#);
    let d = Failsafe::default();
    assert_eq!(c.failsafe.failure_threshold, 3);
    assert_eq!(c.failsafe.initial_backoff, d.initial_backoff);
    let plain = &c.backends["plain"];
    assert_eq!(plain.failsafe, c.failsafe);
    let tuned = &c.backends["tuned"].failsafe;
    assert!(!tuned.breaker_enabled);
    assert_eq!(
        tuned.failure_threshold, 3,
        "inherited from the global section"
    );
    assert_eq!(tuned.reset_timeout, Duration::from_secs(10));
    assert_eq!((tuned.max_in_flight, tuned.max_queued), (4, 8));
    assert_eq!(tuned.requests_per_minute, 30);
    assert_eq!(tuned.attempts(), 2);
    assert!(tuned.health_interval.is_zero());
    // Defaults without any `failsafe:`.
    assert_eq!(
        ok("backends:\n  a: { command: a }\n").backends["a"].failsafe,
        d
    );
}

#[test]
fn failsafe_keys_and_values_are_checked_with_line_and_key() {
    let (line, key, suggestion) =
        unknown("failsafe:\n  circuit_breaker:\n    failure_treshold: 3\n");
    assert_eq!(line, 3);
    assert_eq!(key, "failsafe.circuit_breaker.failure_treshold");
    assert_eq!(suggestion.as_deref(), Some("failure_threshold"));
    let (line, key, _) =
        unknown("backends:\n  a:\n    command: x\n    failsafe:\n      retries: {}\n");
    assert_eq!((line, key.as_str()), (5, "backends.a.failsafe.retries"));
    let (line, key, msg) = invalid("failsafe:\n  concurrency: { max_in_flight: 0 }\n");
    assert_eq!(
        (line, key.as_str()),
        (2, "failsafe.concurrency.max_in_flight")
    );
    assert!(msg.contains("from 1"), "{msg}");
    let (_, key, _) = invalid("failsafe:\n  retry: { initial_backoff: soon }\n");
    assert_eq!(key, "failsafe.retry.initial_backoff");
    // The published format's rate limit keys are accepted with a warning.
    let c = ok("failsafe:\n  rate_limit: { enabled: true, requests_per_second: 100 }\n");
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("failsafe.rate_limit.requests_per_second")),
        "{:?}",
        c.warnings
    );
}

// ---- auth and request_log -------------------------------------------------------------------

#[test]
fn auth_section_loads_keys_jwt_and_scopes() {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(b"writer-key-0123456789abcdef"));
    let c = ok(&format!(
        r#"
backends:
  time: {{ command: "uvx mcp-server-time", tags: [util, local] }}
auth:
  enabled: true
  rate_limit: 120
  api_keys:
    - name: reader
      key: "${{READER_KEY}}"
      allowed_tools: ["time/*", "search_*"]
      denied_tools: ["*/delete_*"]
      rate_limit: 60
    - name: writer
      key_sha256: "sha256:{digest}"
      backends: [time, "@util"]
      admin: true
      expires_at: "2099-01-01T00:00:00Z"
  jwt:
    issuer: https://idp.example
    audiences: [mcp-gateway]
    jwks_uri: https://idp.example/jwks.json
    algorithms: [RS256, ES256]
    scopes:
      "mcp:read": {{ allowed_tools: ["time/*"], rate_limit: 30 }}
      "mcp:admin": {{ admin: true }}
request_log:
  memory_entries: 50
  max_file_size: 1MiB
  max_files: 3
  log_arguments: true
"#
    ));
    assert_eq!(c.backends["time"].tags, ["util", "local"]);
    let a = &c.auth;
    assert!(a.enabled);
    assert_eq!(a.rate_limit, 120);
    assert_eq!(a.api_keys.len(), 2);
    let r = &a.api_keys[0];
    assert_eq!(r.name, "reader");
    assert_eq!(
        r.sha256,
        <[u8; 32]>::from(Sha256::digest(b"reader-key-0123456789abcdef"))
    );
    assert_eq!(r.rate_limit, Some(60));
    assert!(r.grant.permits("time", "now", &[]));
    assert!(!r.grant.permits("time", "delete_all", &[]));
    assert!(!r.grant.permits("git", "log", &[]));
    let w = &a.api_keys[1];
    assert_eq!(hex::encode(w.sha256), digest);
    assert!(w.admin && w.expires_at.is_some());
    assert!(w.grant.permits("time", "anything", &[]));
    assert!(w.grant.permits("other", "x", &["util".to_string()]));
    assert!(!w.grant.permits("other", "x", &[]));
    // Debug output never shows a digest.
    assert!(!format!("{a:?}").contains(&digest));
    let j = a.jwt.as_ref().unwrap();
    assert_eq!(
        j.jwks,
        JwksSource::Url("https://idp.example/jwks.json".into())
    );
    assert_eq!(j.algorithms, [JwtAlgorithm::RS256, JwtAlgorithm::ES256]);
    assert_eq!(
        (j.subject_claim.as_str(), j.scope_claim.as_str()),
        ("sub", "scope")
    );
    assert_eq!(j.scopes["mcp:read"].rate_limit, Some(30));
    assert!(j.scopes["mcp:admin"].admin);
    let l = &c.request_log;
    assert_eq!(
        (l.memory_entries, l.max_file_size, l.max_files),
        (50, 1024 * 1024, 3)
    );
    assert!(l.enabled && l.file && l.log_arguments && !l.log_results);
    // Defaults: off, nothing configured; the log is on with a file.
    let d = ok("");
    assert!(!d.auth.enabled && d.auth.api_keys.is_empty() && d.auth.jwt.is_none());
    assert_eq!(d.request_log, RequestLogConfig::default());
    assert!(!ok("auth: none\n").auth.enabled);
}

#[test]
fn auth_mistakes_name_the_key() {
    let keyed = |body: &str| format!("auth:\n  api_keys:\n    - name: a\n{body}");
    for (text, needle) in [
        ("auth:\n  enabeld: true\n".to_string(), "did you mean `enabled`"),
        (keyed("      kee: x\n"), "did you mean `key`"),
        (keyed("      key: \"${SHORT_KEY}\"\n"), "shorter than 16"),
        (keyed("      key: \"abcdefghijklmnopq \"\n"), "trailing whitespace"),
        (keyed("      key_sha256: nothex\n"), "64 hexadecimal"),
        (keyed("      key: \"${NOPE}\"\n"), "`NOPE` is not set"),
        (keyed(""), "needs `key`"),
        (keyed("      key: \"${READER_KEY}\"\n      allowed_tools: [\"time/\"]\n"), "api_keys[0].allowed_tools[0]"),
        (keyed("      key: \"${READER_KEY}\"\n      rate_limit: -1\n"), "rate_limit"),
        (keyed("      key: \"${READER_KEY}\"\n      expires_at: tomorrow\n"), "RFC 3339"),
        (keyed("      key: \"${READER_KEY}\"\n    - name: a\n      key: \"${READER_KEY}\"\n"), "names another key"),
        (keyed("      key: \"${READER_KEY}\"\n    - name: b\n      key: \"${READER_KEY}\"\n"), "same secret"),
        ("auth:\n  jwt:\n    issuer: x\n    jwks_file: /k.json\n".to_string(), "needs `audiences`"),
        ("auth:\n  jwt:\n    issuer: x\n    audiences: [a]\n".to_string(), "needs `jwks_uri` or `jwks_file`"),
        ("auth:\n  jwt:\n    issuer: x\n    audiences: [a]\n    jwks_uri: http://idp.example/k\n".to_string(), "must be https://"),
        ("auth:\n  jwt:\n    issuer: x\n    audiences: [a]\n    jwks_file: /k\n    algorithms: [none]\n".to_string(), "unsigned tokens"),
        ("auth:\n  jwt:\n    issuer: x\n    audiences: [a]\n    jwks_file: /k\n    algorithms: [HS256]\n".to_string(), "HMAC"),
        ("backends:\n  t:\n    command: x\n    tags: [\"a b\"]\n".to_string(), "not a valid tag"),
        ("request_log:\n  max_file_size: 10\n".to_string(), "at least 4 KiB"),
        ("server:\n  public_url: gw.example.com\n".to_string(), "server.public_url"),
        ("server:\n  public_url: ftp://gw.example.com\n".to_string(), "scheme"),
        ("server:\n  public_url: https://u:p@gw.example.com\n".to_string(), "credentials"),
        ("server:\n  public_url: https://gw.example.com/?a=1\n".to_string(), "query"),
    ] {
        let e = err(&text).to_string();
        assert!(e.contains(needle), "{text}\n→ {e}");
        assert!(e.contains("/proj/gateway.yaml:"), "{e}");
        assert!(!e.contains("reader-key-0123456789abcdef"), "{e}");
    }
    let c = ok("server:\n  public_url: https://gw.example.com/\n");
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("https://gw.example.com")
    );
    // Plain http is fine on loopback (a local identity provider or a test).
    let c = ok(
        "auth:\n  jwt:\n    issuer: x\n    audiences: [a]\n    jwks_uri: http://127.0.0.1:9/k\n",
    );
    assert!(c.auth.jwt.is_some());
}

#[test]
fn backend_names_that_would_blur_the_namespace_separator_are_refused() {
    // `a` + tool `b__c` and `a__b` + tool `c` were both `a__b__c` (issue 15 item 6).
    for name in ["a__b", "a_", "x___y"] {
        let e = err(&format!("backends:\n  {name}:\n    command: x\n"));
        assert!(e.to_string().contains("`__`"), "{name}: {e}");
    }
    ok("backends:\n  a_b:\n    command: x\n  _a-b:\n    command: y\n");
}

#[test]
fn mcp_session_id_in_headers_is_a_config_error() {
    let e = err(
        "backends:\n  r:\n    http_url: http://127.0.0.1:9/mcp\n    headers:\n      MCP-Session-Id: abc\n",
    );
    let msg = e.to_string();
    assert!(msg.contains("backends.r.headers.MCP-Session-Id"), "{msg}");
    assert!(msg.contains("session id"), "{msg}");
}

#[test]
fn an_endless_config_file_is_refused_with_its_path() {
    let e = crate::config::load_file(Path::new("/dev/zero")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("/dev/zero") && msg.contains("larger than"),
        "{msg}"
    );
}

/// Property tests (proptest, bounded case counts): config parsing never panics, and every error
/// names the file.
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz::cases(256))]

        #[test]
        fn any_config_text_loads_or_names_the_file(text in prop_oneof![
            "\\PC{0,80}",
            "(server|backends|log|meta_mcp|capabilities|scanner|[a-z_]{1,8}):( \\{\\}| \\[\\]| [a-z0-9.$\\{\\}:-]{0,10}|\\n  [a-z_-]{1,8}:( [a-z0-9 $\\{\\}:_-]{0,12}|\\n    (command|http_url|args|env|headers|timeout|cwd): [a-z0-9 /:.$\\{\\}\\[\\],_-]{0,16})){1,3}\\n",
        ]) {
            if let Err(e) = parse(&text) {
                prop_assert!(e.to_string().contains("/proj/gateway.yaml"), "{e}");
            }
        }
    }
}

#[test]
fn backend_tools_filter_is_read_and_checked() {
    let c = parse(
        "backends:\n  gh:\n    command: x\n    tools:\n      allow: [\"get_*\", delete_repository]\n      deny: [delete_repository]\n  t:\n    command: y\n",
    )
    .unwrap();
    let f = &c.backends["gh"].tools;
    assert!(f.permits("get_issue") && !f.permits("delete_repository") && !f.permits("push"));
    assert!(c.backends["t"].tools.is_empty());
    assert_ne!(
        c.backends["gh"].launch_fingerprint(),
        parse("backends:\n  gh:\n    command: x\n")
            .unwrap()
            .backends["gh"]
            .launch_fingerprint(),
        "a filtered backend lists its tools again"
    );
    let (line, key, msg) =
        invalid("backends:\n  a:\n    command: x\n    tools:\n      deny: [\"[\"]\n");
    assert_eq!((line, key.as_str()), (5, "backends.a.tools.deny"), "{msg}");
    let (_, key, _) = invalid("backends:\n  a:\n    command: x\n    tools: [x]\n");
    assert_eq!(key, "backends.a.tools");
    match parse("backends:\n  a:\n    command: x\n    tools:\n      alow: [x]\n") {
        Err(ConfigError::UnknownKey {
            key, suggestion, ..
        }) => assert_eq!(
            (key.as_str(), suggestion.as_deref()),
            ("backends.a.tools.alow", Some("allow"))
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_invalid_backend_url_is_refused_without_quoting_its_secrets() {
    // Issue 15 #3: the URL is checked after `${VAR}` expansion, so quoting it would show the
    // token in the error that logs, `doctor` and bug reports carry.
    for (text, says) in [
        (
            "backends:\n  r:\n    http_url: \"ftp://u:${GITHUB_TOKEN}@h/mcp\"\n",
            "not `ftp://`",
        ),
        (
            "backends:\n  r:\n    http_url: \"https://?api_key=${GITHUB_TOKEN}\"\n",
            "no host",
        ),
        (
            "backends:\n  r:\n    http_url: \"https://h/mcp?k=${SPACEY}${GITHUB_TOKEN}\"\n",
            "whitespace",
        ),
        (
            "backends:\n  r:\n    http_url: \"${GITHUB_TOKEN}\"\n",
            "http:// or https://",
        ),
    ] {
        let msg = err(text).to_string();
        assert!(
            msg.contains("backends.r.http_url") && msg.contains(says),
            "{msg}"
        );
        assert!(!msg.contains("ghp_123"), "the token shows: {msg}");
    }
}
