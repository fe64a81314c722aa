//! Usage profiles, `mcp-gateway stats` and the Prometheus exposition, against real servers:
//! calls through a real gateway move the counters, profiles survive a restart, the text passes
//! `promtool check metrics` (Debian `prometheus`) and parses with PyPI `prometheus-client`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

/// The `tools` entry of `server`/`tool` in `stats --json` output.
fn tool_entry<'a>(stats: &'a Value, server: &str, tool: &str) -> Option<&'a Value> {
    stats["tools"]
        .as_array()?
        .iter()
        .find(|t| t["server"] == server && t["tool"] == tool)
}

/// `promtool check metrics` on `text`: panics with its findings unless it passes.
pub fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed by .ci/run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = wait_output(child, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The samples of `text` as parsed by the Python `prometheus-client` library:
/// `[{"name", "labels", "value"}]`.
pub fn parse_with_python_client(env: &TestEnv, text: &str) -> Vec<Value> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;
    let mut cmd = Command::new(py1_python());
    cmd.args(["-c", script]);
    env.apply(&mut cmd);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python with prometheus-client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = wait_output(child, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "prometheus-client could not parse the text: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("parser output is JSON")
}

/// The value of the sample `name` whose labels include every pair of `labels`.
pub fn sample(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .and_then(|s| s["value"].as_f64())
}

#[test]
fn stats_show_calls_through_a_stdio_gateway_and_survive_a_restart() {
    let env = TestEnv::new();
    let time = real_servers(&env, "stats")
        .into_iter()
        .find(|s| s.name == "time")
        .expect("time server");
    let config = config_for(&env, true, std::slice::from_ref(&time));
    let mut gw = env.start(&config);
    for _ in 0..2 {
        let r = gw.invoke("time", "get_current_time", json!({"timezone": "UTC"}));
        assert_ne!(r["isError"], true, "{r}");
    }
    // The tool answers a bad timezone with an error of its own.
    let bad = gw.invoke(
        "time",
        "get_current_time",
        json!({"timezone": "Mars/Olympus_Mons"}),
    );
    assert_eq!(bad["isError"], true, "{bad}");
    // Unknown tools are refused before anything is recorded: no profile, no series.
    for i in 0..30 {
        let r = gw.invoke("time", &format!("made_up_{i}"), json!({}));
        assert_eq!(r["isError"], true);
    }
    assert!(gw.shutdown().success());

    let stats = env.cli(&["stats", "--json"]).expect_code(0).json();
    let entry = tool_entry(&stats, "time", "get_current_time").expect("profiled");
    assert_eq!(entry["calls"], 3, "{stats}");
    assert_eq!(entry["ok"], 2, "{stats}");
    let errors = entry["tool_errors"].as_u64().unwrap() + entry["errors"].as_u64().unwrap();
    assert_eq!(errors, 1, "{stats}");
    let p50 = entry["latency_ms"]["p50"].as_f64().expect("p50");
    let p95 = entry["latency_ms"]["p95"].as_f64().expect("p95");
    assert!(p50 > 0.0 && p50 <= p95, "{entry}");
    assert!(entry["last_used"].as_str().is_some(), "{entry}");
    assert_eq!(stats["tools"].as_array().unwrap().len(), 1, "{stats}");

    // A second run (tools listed directly this time: the surfaced-tool path) adds to the file.
    let direct = config_for(&env, false, std::slice::from_ref(&time));
    let mut gw = env.start(&direct);
    list_tools_until(
        &mut gw,
        &["time__get_current_time"],
        Duration::from_secs(60),
    );
    let r = gw.call_tool("time__get_current_time", json!({"timezone": "UTC"}));
    assert_ne!(r["isError"], true, "{r}");
    assert!(gw.shutdown().success());
    let stats = env.cli(&["stats", "--json"]).expect_code(0).json();
    let entry = tool_entry(&stats, "time", "get_current_time").expect("profiled");
    assert_eq!(entry["calls"], 4, "{stats}");

    // The table, as a user reads it.
    let table = env.cli(&["stats"]).expect_code(0).stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("TOOL ") && lines[0].contains("P95"),
        "{table}"
    );
    assert!(lines[1].starts_with("time/get_current_time "), "{table}");
    assert!(lines[1].contains("just now"), "{table}");
    let none = env.cli(&["stats", "--server", "tme"]).expect_code(0).stdout;
    assert!(none.contains("did you mean `time`"), "{none}");

    // The exposition of the same profiles passes promtool and parses.
    let text = env.cli(&["stats", "--prometheus"]).expect_code(0).stdout;
    promtool_check(&text);
    let samples = parse_with_python_client(&env, &text);
    let labels = [("server", "time"), ("tool", "get_current_time")];
    let ok = sample(
        &samples,
        "mcp_gateway_tool_calls_total",
        &[labels[0], labels[1], ("outcome", "ok")],
    );
    assert_eq!(ok, Some(3.0), "{text}");
    assert_eq!(
        sample(
            &samples,
            "mcp_gateway_tool_call_duration_seconds_count",
            &labels
        ),
        Some(4.0),
        "{text}"
    );
}

/// `GET /metrics` of `served` (sent with `headers`), checked by promtool and parsed by the
/// Python client.
fn scrape(
    env: &TestEnv,
    served: &crate::serve::Served,
    headers: &[(&str, &str)],
) -> (String, Vec<Value>) {
    let reply = served.http("GET", "/metrics", headers, b"");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        reply.headers
    );
    promtool_check(&reply.body);
    let samples = parse_with_python_client(env, &reply.body);
    (reply.body, samples)
}

#[test]
fn serve_metrics_pass_promtool_and_count_calls_as_they_happen() {
    let env = TestEnv::new();
    let time = real_servers(&env, "prom")
        .into_iter()
        .find(|s| s.name == "time")
        .expect("time server");
    let config = config_for(&env, true, std::slice::from_ref(&time));
    let served = crate::serve::Served::start(&env, &config);
    let call = |timezone: &str| {
        let body = json!({"server": "time", "tool": "get_current_time",
                          "arguments": {"timezone": timezone}});
        served.http(
            "POST",
            "/api/v1/tools/call",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    assert_eq!(call("UTC").status, 200);
    let search = served.http("GET", "/api/v1/tools?q=current%20time", &[], b"");
    assert_eq!(search.status, 200, "{}", search.body);

    let tool = [("server", "time"), ("tool", "get_current_time")];
    let ok = |samples: &[Value]| {
        sample(
            samples,
            "mcp_gateway_tool_calls_total",
            &[tool[0], tool[1], ("outcome", "ok")],
        )
        .unwrap_or(0.0)
    };
    let (text, before) = scrape(&env, &served, &[]);
    assert_eq!(ok(&before), 1.0, "{text}");
    assert_eq!(
        sample(&before, "mcp_gateway_backend_up", &[("backend", "time")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &before,
            "mcp_gateway_backend_breaker_state",
            &[("backend", "time"), ("state", "closed")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&before, "mcp_gateway_search_duration_seconds_count", &[]).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    let series = |samples: &[Value]| {
        samples
            .iter()
            .filter(|s| s["name"] == "mcp_gateway_tool_calls_total")
            .count()
    };
    let series_before = series(&before);

    // Two more calls, one the tool refuses, and many made-up tool names (refused, not counted).
    assert_eq!(call("UTC").status, 200);
    assert_eq!(call("Europe/Paris").status, 200);
    let bad = call("Mars/Olympus_Mons");
    assert_eq!(bad.status, 200, "{}", bad.body);
    for i in 0..40 {
        let body = json!({"server": "time", "tool": format!("made_up_{i}"), "arguments": {}});
        let r = served.http(
            "POST",
            "/api/v1/tools/call",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let (text, after) = scrape(&env, &served, &[]);
    assert_eq!(ok(&after) - ok(&before), 2.0, "{text}");
    let errors = |samples: &[Value]| {
        ["tool_error", "error"]
            .iter()
            .map(|o| {
                sample(
                    samples,
                    "mcp_gateway_tool_calls_total",
                    &[tool[0], tool[1], ("outcome", o)],
                )
                .unwrap_or(0.0)
            })
            .sum::<f64>()
    };
    assert_eq!(errors(&after) - errors(&before), 1.0, "{text}");
    assert_eq!(
        sample(
            &after,
            "mcp_gateway_tool_call_duration_seconds_count",
            &tool
        ),
        Some(4.0),
        "{text}"
    );
    // The made-up names added no series.
    assert_eq!(series(&after), series_before, "{text}");
    assert!(!text.contains("made_up_"), "{text}");
    let rest_ok = sample(
        &after,
        "mcp_gateway_requests_total",
        &[
            ("front", "rest"),
            ("method", "POST /api/v1/tools/call"),
            ("outcome", "ok"),
        ],
    );
    assert_eq!(rest_ok, Some(4.0), "{text}");
    assert_eq!(
        sample(
            &after,
            "mcp_gateway_requests_total",
            &[
                ("front", "rest"),
                ("method", "POST /api/v1/tools/call"),
                ("outcome", "error")
            ],
        ),
        Some(40.0),
        "{text}"
    );

    // The JSON metrics carry the same profile.
    let json_metrics = served.http("GET", "/api/v1/metrics", &[], b"");
    assert_eq!(json_metrics.status, 200);
    let m: Value = serde_json::from_str(&json_metrics.body).expect("JSON");
    let entry = m["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tool"] == "get_current_time"))
        .unwrap_or_else(|| panic!("{m}"));
    assert_eq!(entry["calls"], 4, "{m}");
    assert!(entry["latency_ms"]["p95"].as_f64().is_some(), "{m}");
    assert_eq!(m["backends"]["items"][0]["name"], "time", "{m}");
    assert!(m["search"]["count"].as_u64().unwrap() >= 1, "{m}");
}

#[test]
fn serve_metrics_with_auth_need_a_key_and_show_only_what_its_scope_sees() {
    const SCRAPE_KEY: &str = "scrape-key-0123456789abcdef0123";
    const TIME_KEY: &str = "time-key-0123456789abcdef01234";
    let env = TestEnv::new();
    let servers: Vec<ServerSpec> = real_servers(&env, "prom-auth")
        .into_iter()
        .filter(|s| s.name == "time" || s.name == "memory")
        .collect();
    let backends = std::fs::read_to_string(config_for(&env, true, &servers)).expect("config");
    let config = env.write(
        "gateway.yaml",
        &format!(
            "auth:\n  enabled: true\n  api_keys:\n\
             \x20   - name: scraper\n      key: \"${{MGW_SCRAPE_KEY}}\"\n\
             \x20   - name: timekeeper\n      key: \"${{MGW_TIME_KEY}}\"\n      allowed_tools: [\"time/*\"]\n\
             {backends}"
        ),
    );
    let served = crate::serve::Served::start_with(
        &env,
        &config,
        &[("MGW_SCRAPE_KEY", SCRAPE_KEY), ("MGW_TIME_KEY", TIME_KEY)],
    );
    let scraper = format!("Bearer {SCRAPE_KEY}");
    let scraper = [("Authorization", scraper.as_str())];

    // No key, or a wrong one: refused, and nothing of the exposition in the answer.
    for headers in [
        vec![],
        vec![("Authorization", "Bearer not-a-key-0123456789abcdef")],
        vec![("X-API-Key", "not-a-key-0123456789abcdef")],
    ] {
        let r = served.http("GET", "/metrics", &headers, b"");
        assert_eq!(r.status, 401, "{headers:?}: {}", r.body);
        assert!(!r.body.contains("mcp_gateway_"), "{}", r.body);
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "{:?}",
            r.headers
        );
    }

    // One call on each backend, so both have tool series.
    let call = |server: &str, tool: &str, arguments: Value| {
        let body = json!({"server": server, "tool": tool, "arguments": arguments});
        let r = served.http(
            "POST",
            "/api/v1/tools/call",
            &[("Content-Type", "application/json"), scraper[0]],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    call("time", "get_current_time", json!({"timezone": "UTC"}));
    call("memory", "read_graph", json!({}));

    // An unrestricted key sees every backend and tool.
    let calls = |samples: &[Value], server: &str| {
        samples
            .iter()
            .filter(|s| {
                s["name"] == "mcp_gateway_tool_calls_total" && s["labels"]["server"] == server
            })
            .filter_map(|s| s["value"].as_f64())
            .sum::<f64>()
    };
    let (text, all) = scrape(&env, &served, &scraper);
    assert_eq!(calls(&all, "time"), 1.0, "{text}");
    assert_eq!(calls(&all, "memory"), 1.0, "{text}");
    for backend in ["time", "memory"] {
        assert_eq!(
            sample(&all, "mcp_gateway_backend_up", &[("backend", backend)]),
            Some(1.0),
            "{text}"
        );
    }

    // A key scoped to `time/*` (sent as X-API-Key) sees `time` only: no series, label or name
    // of `memory`; the process-wide families carry no server names and are there.
    let (text, scoped) = scrape(&env, &served, &[("X-API-Key", TIME_KEY)]);
    assert_eq!(calls(&scoped, "time"), 1.0, "{text}");
    assert!(
        sample(&scoped, "mcp_gateway_backend_up", &[("backend", "time")]).is_some(),
        "{text}"
    );
    assert!(!text.contains("memory"), "{text}");
    assert!(
        scoped
            .iter()
            .any(|s| s["name"] == "mcp_gateway_requests_total"),
        "{text}"
    );
}
