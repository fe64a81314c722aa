//! The web dashboard (`/ui` of `mcp-gateway serve`) in a real browser: Debian's headless
//! Chromium driven through chromium-driver by PyPI selenium (`tests/fixtures/ui_driver.py`),
//! against real MCP servers (`mcp-server-time` from PyPI, `server-everything` from npm), with
//! auth on and an admin key typed into the page's sign-in dialog.
//!
//! With `MCP_GATEWAY_SCREENSHOTS=DIR` the driver also saves a 1366x768 PNG of each section into
//! DIR: `scripts/screenshots.sh` makes the ones in docs/img/ that way.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::serve::Served;

const ADMIN_KEY: &str = "ui-admin-key-0123456789abcdef";
const READER_KEY: &str = "ui-reader-key-0123456789abcdef";
/// A literal secret in a backend's `env`: the config view must never show it.
const SECRET: &str = "ui-secret-value-9f27c4e1";

/// The selenium venv of `scripts/install-test-deps.sh`.
fn ui_python() -> PathBuf {
    let p = deps().join("py-ui/bin/python");
    assert!(
        p.exists(),
        "no {}: run scripts/install-test-deps.sh",
        p.display()
    );
    p
}

fn indent(block: &str) -> String {
    block.lines().map(|l| format!("    {l}\n")).collect()
}

/// `serve` with auth on (an admin key and a reader key limited to `time/*`), three backends
/// and one whose command does not exist (its breaker opens at the first failure: its failed
/// discovery).
fn served(env: &TestEnv) -> Served {
    let time = stdio_backend(&py_bin("mcp-server-time"), &["--local-timezone", "UTC"], "");
    let everything = stdio_backend(&npm_bin("mcp-server-everything"), &["stdio"], "");
    let memory = stdio_backend(&npm_bin("mcp-server-memory"), &[], "");
    let yaml = format!(
        "auth:\n\
         \x20 enabled: true\n\
         \x20 api_keys:\n\
         \x20   - name: ops\n\
         \x20     key: \"${{MGW_UI_ADMIN}}\"\n\
         \x20     admin: true\n\
         \x20   - name: reader\n\
         \x20     key: \"${{MGW_UI_READER}}\"\n\
         \x20     allowed_tools: [\"time/*\"]\n\
         backends:\n\
         \x20 time:\n{}\
         \x20   description: Current time and time zone conversion\n\
         \x20   tags: [utility]\n\
         \x20   env:\n\
         \x20     UI_SECRET: \"{SECRET}\"\n\
         \x20 everything:\n{}\
         \x20   description: The MCP reference server (echo, sums, resources, prompts)\n\
         \x20   tags: [demo]\n\
         \x20 memory:\n{}\
         \x20   description: A knowledge graph kept between sessions\n\
         \x20 broken:\n\
         \x20   command: /nonexistent/mcp-server-broken\n\
         \x20   description: A server whose command is missing\n\
         \x20   failsafe: {{ circuit_breaker: {{ failure_threshold: 1, reset_timeout: 10m }} }}\n",
        indent(&time),
        indent(&everything),
        indent(&memory),
    );
    let config = env.write("gateway.yaml", &yaml);
    Served::start_with(
        env,
        &config,
        &[("MGW_UI_ADMIN", ADMIN_KEY), ("MGW_UI_READER", READER_KEY)],
    )
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// Runs the browser driver on `spec` and returns what it saw.
fn drive(env: &TestEnv, spec: &Value) -> Value {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
        );
    }
    let mut cmd = Command::new(ui_python());
    cmd.arg(fixture("ui_driver.py"));
    env.apply(&mut cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn the browser driver");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("write the driver spec");
    let out = wait_output(child, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser driver failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        tail(&stdout, 6000),
        tail(&String::from_utf8_lossy(&out.stderr), 6000)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("driver output is not JSON ({e}): {stdout}"))
}

/// The dashboard in Chromium: it asks for a key, shows every backend with its state and tool
/// count, `/` focuses the search, the search finds a tool by meaning and shows its schema, a
/// call made while the request view is open appears there live, the config view shows the
/// config without its secret (and, after a save that does not load, the running config under
/// the error), and nothing is logged to the browser console.
#[test]
fn dashboard_in_a_real_browser() {
    let env = TestEnv::new();
    let served = served(&env);

    // The page's files come with a strict policy; the data behind it needs an admin key.
    let page = served.http("GET", "/ui", &[], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    let csp = page
        .header("content-security-policy")
        .expect("a Content-Security-Policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let reader = bearer(READER_KEY);
    let admin = bearer(ADMIN_KEY);
    for path in ["/api/v1/config", "/api/v1/requests/stream"] {
        let r = served.http("GET", path, &[("Authorization", &reader)], b"");
        assert_eq!(r.status, 403, "{path} for a non-admin key: {}", r.body);
        let r = served.http("GET", path, &[], b"");
        assert_eq!(r.status, 401, "{path} without a key: {}", r.body);
    }
    // Another site's page may not use the dashboard's API from a browser.
    let r = served.http(
        "GET",
        "/api/v1/config",
        &[
            ("Authorization", &admin),
            ("Origin", "https://evil.example"),
        ],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = served.http("GET", "/api/v1/config", &[("Authorization", &admin)], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains(SECRET), "{}", r.body);

    let screenshots = std::env::var("MCP_GATEWAY_SCREENSHOTS").ok().map(|d| {
        let dir = PathBuf::from(d);
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        dir.canonicalize().expect("screenshot dir")
    });
    let spec = json!({
        "base": format!("http://{}", served.addr),
        "key": ADMIN_KEY,
        "backends": 4,
        "discovered": ["time", "everything", "memory"],
        "states": {"broken": "failed"},
        "breakers": {"time": "closed", "everything": "closed", "memory": "closed", "broken": "open"},
        "query": "what time is it in another city",
        "expect_tool": "get_current_time",
        "calls": [
            {"server": "time", "tool": "get_current_time", "arguments": {"timezone": "UTC"}},
            {"server": "time", "tool": "convert_time", "arguments":
                {"source_timezone": "Europe/Berlin", "time": "14:30", "target_timezone": "Asia/Tokyo"}},
            {"server": "everything", "tool": "echo", "arguments": {"message": "hello"}},
        ],
        "screenshots": screenshots,
        // Saved after the config view was read: `served` wrote the config there.
        "broken_edit": {
            "path": env.path().join("gateway.yaml"),
            "text": "backends:\n  time:\n    command: [unclosed\n",
        },
    });
    let seen = drive(&env, &spec);

    assert_eq!(seen["login_shown"], true, "no sign-in dialog: {seen}");
    let console = seen["console"].as_array().expect("console");
    assert!(
        console.is_empty(),
        "the browser console is not clean: {console:?}"
    );

    let backends = seen["backends_text"].as_str().expect("backends text");
    for name in ["time", "everything", "memory", "broken"] {
        assert!(backends.contains(name), "{name} missing: {backends}");
    }
    assert!(
        backends.contains("failed") && backends.contains("/nonexistent/mcp-server-broken"),
        "the broken backend's state and reason: {backends}"
    );

    // The Breaker column shows each backend's failsafe state as REST reports it: a badge, what
    // is not idle, and every field in the tooltip.
    let breakers = &seen["breakers"];
    for name in ["time", "everything", "memory"] {
        let cell = &breakers[name];
        assert_eq!(cell["badge"], "closed", "{name}: {cell}");
        let title = cell["title"].as_str().unwrap_or_default();
        assert!(
            title.contains("max in flight 16") && title.contains("max queued 64"),
            "{name}: {cell}"
        );
    }
    let broken = &breakers["broken"];
    let text = broken["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("open") && text.contains("1 failure") && text.contains("retry at"),
        "the open breaker of `broken`: {broken}"
    );
    // "open until" must be a clock time a person reads, not epoch milliseconds; local time
    // can itself start with a 1 ("11:13:42 AM"), so look for the colon, not the digit.
    let read_time = |t: &str| {
        t.split_once("open until ")
            .map(|(_, rest)| rest.split(',').next().unwrap_or_default().contains(':'))
            .unwrap_or(false)
    };
    assert!(
        broken["title"]
            .as_str()
            .is_some_and(|t| t.contains("consecutive failures 1")
                && t.contains("nonexistent/mcp-server-broken")
                && read_time(t)),
        "the tooltip has the last failure and times people read: {broken}"
    );
    let admin_get = |path: &str| served.http("GET", path, &[("Authorization", &admin)], b"");
    let rest = admin_get("/api/v1/servers/broken");
    let rest: Value = serde_json::from_str(&rest.body).expect("server JSON");
    assert_eq!(rest["failsafe"]["breaker"], "open", "{rest}");

    assert_eq!(seen["focused_after_slash"], "search", "{seen}");
    assert_eq!(seen["tab_after_slash"], "catalog", "{seen}");

    // The ranking is the meta-tool's: the same query through the REST search gives the same order.
    let results: Vec<String> = seen["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        results.iter().any(|t| t == "get_current_time"),
        "{results:?}"
    );
    let rest = admin_get("/api/v1/tools?q=what%20time%20is%20it%20in%20another%20city&limit=50");
    let ranked: Vec<String> =
        serde_json::from_str::<Value>(&rest.body).expect("tools JSON")["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["tool"].as_str().unwrap_or_default().to_string())
            .collect();
    // (Calls made since may move the usage prior a little; the matches and the best are the same.)
    assert_eq!(results.first(), ranked.first(), "{results:?} vs {ranked:?}");
    let mut a = results.clone();
    let mut b = ranked.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the page's matches are not the search's");
    let detail = seen["detail_text"].as_str().expect("detail");
    assert!(
        detail.contains("timezone") && detail.contains("required") && detail.contains("IANA"),
        "the schema is not shown: {detail}"
    );
    let schema: Value =
        serde_json::from_str(seen["schema_json"].as_str().expect("schema")).expect("schema JSON");
    assert_eq!(schema["required"], json!(["timezone"]), "{schema}");

    assert_eq!(seen["call_statuses"], json!([200, 200, 200]), "{seen}");
    let rows: Vec<&str> = seen["request_rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        rows.iter().any(|r| r.contains("get_current_time")
            && r.contains("ops")
            && r.contains("rest")
            && r.contains("ok")),
        "the call is not in the request view: {rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("echo") && r.contains("everything")),
        "{rows:?}"
    );

    let config = seen["config_text"].as_str().expect("config text");
    assert!(
        config.contains("UI_SECRET") && config.contains("mcp-server-time"),
        "{config}"
    );
    let source = seen["page_source"].as_str().expect("page source");
    for secret in [SECRET, ADMIN_KEY, READER_KEY] {
        assert!(!config.contains(secret), "the config view shows `{secret}`");
        assert!(!source.contains(secret), "the page holds `{secret}`");
    }

    // The reload button reports what the gateway answered.
    let notice = seen["reload_notice"].as_str().expect("reload notice");
    assert!(!notice.is_empty(), "{seen}");
    let reload = served.http("POST", "/api/v1/reload", &[("Authorization", &admin)], b"");
    if reload.status == 404 {
        assert!(notice.contains("no reload endpoint"), "{notice}");
    } else {
        assert!(
            !notice.contains("no reload endpoint") && seen["console_after_reload"] == json!([]),
            "{notice} {}",
            seen["console_after_reload"]
        );
    }
    // A broken save: the tab keeps showing the running config and names the file and line.
    assert_eq!(seen["config_error_before"], false, "{seen}");
    let error = seen["config_error"].as_str().expect("config error");
    assert!(
        error.contains("did not load") && error.contains("gateway.yaml:"),
        "{error}"
    );
    let running = seen["config_text_after_broken_edit"]
        .as_str()
        .expect("config text");
    assert!(
        running.contains("mcp-server-time") && running.contains("broken"),
        "{running}"
    );
    if let Some(dir) = screenshots {
        for name in [
            "backends",
            "catalog",
            "requests",
            "config",
            "config-error",
            "catalog-dark",
        ] {
            let p = dir.join(format!("dashboard-{name}.png"));
            assert!(p.exists(), "{} was not written", p.display());
        }
    }
}
