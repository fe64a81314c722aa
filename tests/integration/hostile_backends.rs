//! What a misbehaving or careless backend must not do to the gateway (issue 15, backend side):
//! wedge it through stderr (invalid UTF-8, a line without end), make a caller wait out its
//! timeout with a reply too large to read, look `running` after it died, leak a secret from its
//! URL into errors, logs or `doctor`, or leave a `setsid` grandchild behind.

use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::failure_text;
use crate::harness::{RpcClient, TestEnv, fake_backend, first_text, wait_until};

/// The gateway on `config` with logs at `level` on its stderr, initialized.
fn start_logging(env: &TestEnv, config: &std::path::Path, level: &str) -> RpcClient {
    let mut client = RpcClient::spawn(env.gateway_command(config, &["--log-level", level]));
    client.initialize();
    client
}

/// Peak resident memory of `pid` in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A backend that writes invalid UTF-8 to stderr at start and before every answer keeps
/// answering: the drain decodes lossily and goes on, and what follows is still logged.
#[test]
fn invalid_utf8_on_stderr_does_not_stop_the_backend() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("noisy", fake_backend(&["--stderr-noise"], ""))]);
    let mut client = start_logging(&env, &config, "info");
    for i in 0..5 {
        let text = format!("call {i}");
        let r = client.invoke("noisy", "echo", json!({"text": text}));
        assert_eq!(first_text(&r), text, "{r}");
    }
    // The backend's stderr reaches the log on its own path, not with the answer: wait for it.
    assert!(
        wait_until(Duration::from_secs(5), || client
            .stderr()
            .contains("noise \u{fffd}\u{fffd}\u{fffd} before answering")),
        "the backend's stderr is not logged lossily:\n{}",
        client.stderr()
    );
    assert_eq!(
        client.call_tool("gateway_list_servers", json!({}))["structuredContent"]["servers"][0]["state"],
        "running"
    );
    assert!(client.shutdown().success());
}

/// A stderr line of 256 MiB without a newline is skipped, not buffered: the backend answers and
/// the gateway's peak memory stays far below the line's size.
#[test]
fn a_huge_stderr_line_is_not_buffered() {
    const FLOOD: u64 = 256 * 1024 * 1024;
    let env = TestEnv::new();
    let config = env.write_config(true, &[("flood", fake_backend(&[], "timeout: 5m\n"))]);
    let mut client = start_logging(&env, &config, "info");
    let r = client.invoke("flood", "stderr_flood", json!({"bytes": FLOOD}));
    assert_eq!(first_text(&r), format!("flooded {FLOOD}"), "{r}");
    let r = client.invoke("flood", "echo", json!({"text": "after the flood"}));
    assert_eq!(first_text(&r), "after the flood", "{r}");
    let peak = peak_rss_kib(client.pid());
    assert!(
        peak < 160 * 1024,
        "the gateway's peak RSS is {peak} KiB after a {FLOOD}-byte stderr line"
    );
    assert!(client.shutdown().success());
}

/// A reply over the 64 MiB line cap fails its caller at once with "too large" (the backend's
/// timeout is 10 minutes, the client waits at most 60 s), whether the reply's `id` comes first
/// or last; the backend stays usable.
#[test]
fn a_reply_over_the_cap_fails_its_caller_at_once() {
    const OVER: u64 = 65 * 1024 * 1024;
    let env = TestEnv::new();
    let config = env.write_config(true, &[("huge", fake_backend(&[], "timeout: 10m\n"))]);
    let mut client = env.start(&config);
    for tool in ["big", "big_id_last"] {
        let resp = client.request(
            "tools/call",
            json!({"name": "gateway_invoke",
                   "arguments": {"server": "huge", "tool": tool, "arguments": {"bytes": OVER}}}),
        );
        let text = failure_text(&resp);
        assert!(
            text.contains("too large") && text.contains("64 MiB"),
            "{tool}: {text}"
        );
        let r = client.invoke("huge", "echo", json!({"text": "still here"}));
        assert_eq!(first_text(&r), "still here", "{r}");
    }
    assert!(client.shutdown().success());
}

/// The same over HTTP: a JSON answer over 64 MiB fails only its request, at once; the
/// connection stays up (the backend is still `running`).
#[test]
fn an_http_reply_over_the_cap_fails_only_its_request() {
    let port = crate::security::recording_server(Default::default(), None);
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[(
            "huge",
            format!(
                "http_url: http://127.0.0.1:{port}/huge
transport: streamable-http
timeout: 10m
"
            ),
        )],
    );
    let mut client = env.start(&config);
    for _ in 0..2 {
        let resp = client.request(
            "tools/call",
            json!({"name": "gateway_invoke",
                   "arguments": {"server": "huge", "tool": "whoami", "arguments": {}}}),
        );
        let text = failure_text(&resp);
        assert!(
            text.contains("too large") && text.contains("64 MiB"),
            "{text}"
        );
        let row =
            &client.call_tool("gateway_list_servers", json!({}))["structuredContent"]["servers"][0];
        assert_eq!(row["state"], "running", "{row:#}");
    }
    assert!(client.shutdown().success());
}

/// A backend that exits is shown as not running as soon as it is gone, with how it ended, and
/// starts again on next use.
#[test]
fn list_servers_shows_a_backend_that_exited() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("quitter", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    let r = client.invoke("quitter", "quit", json!({}));
    assert_eq!(first_text(&r), "bye", "{r}");
    let mut row = Value::Null;
    let flipped = wait_until(Duration::from_secs(30), || {
        row = client.call_tool("gateway_list_servers", json!({}))["structuredContent"]["servers"]
            [0]
        .clone();
        row["state"] != "running"
    });
    assert!(flipped, "still `running` after the process exited: {row:#}");
    assert_eq!(row["state"], "failed", "{row:#}");
    assert!(
        row["reason"]
            .as_str()
            .is_some_and(|r| r.contains("exited with status 7")),
        "{row:#}"
    );
    let r = client.invoke("quitter", "echo", json!({"text": "again"}));
    assert_eq!(first_text(&r), "again", "{r}");
    let row =
        &client.call_tool("gateway_list_servers", json!({}))["structuredContent"]["servers"][0];
    assert_eq!(row["state"], "running", "{row:#}");
    assert!(client.shutdown().success());
}

/// Secrets in an HTTP backend's URL (`user:pass@`, `?api_key=`) and in a redirect target never
/// show: not in `gateway_invoke` errors, `gateway_list_servers`, the log at trace level,
/// `doctor`, `list` or `probe`. A real HTTP MCP server (the recording server of `security`)
/// serves one of them, so the secret URL works where it should.
#[test]
fn secrets_in_http_backend_urls_never_show() {
    const SECRETS: [&str; 3] = ["PASS-SECRET", "KEY-SECRET", "REDIRECT-SECRET"];
    let elsewhere = crate::security::recording_server(Default::default(), None);
    let port = crate::security::recording_server(Default::default(), Some(elsewhere));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let url = |port: u16, path: &str| {
        format!("http://user:PASS-SECRET@127.0.0.1:{port}/{path}?api_key=KEY-SECRET&page=2")
    };
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[
            (
                "good",
                format!(
                    "http_url: \"{}\"\ntransport: streamable-http\n",
                    url(port, "good")
                ),
            ),
            (
                "moved",
                format!(
                    "http_url: \"{}\"\ntransport: streamable-http\n",
                    url(port, "moved")
                ),
            ),
            (
                "refused",
                format!(
                    "http_url: \"{}\"\ntransport: streamable-http\ntimeout: 5s\n",
                    url(closed_port, "mcp")
                ),
            ),
            (
                "detect",
                format!("http_url: \"{}\"\ntimeout: 5s\n", url(closed_port, "mcp")),
            ),
        ],
    );
    let mut client = start_logging(&env, &config, "trace");
    let good = client.invoke("good", "whoami", json!({}));
    assert_eq!(first_text(&good), "reached /good", "{good}");
    let mut shown = vec![good.to_string()];
    for server in ["moved", "refused", "detect"] {
        let resp = client.request(
            "tools/call",
            json!({"name": "gateway_invoke",
                   "arguments": {"server": server, "tool": "whoami", "arguments": {}}}),
        );
        let text = failure_text(&resp);
        assert!(
            text.contains("127.0.0.1"),
            "{server}: the error should name the host: {text}"
        );
        shown.push(resp.to_string());
    }
    let servers = client.call_tool("gateway_list_servers", json!({}));
    assert!(
        servers.to_string().contains("failed"),
        "the broken backends are listed as failed: {servers}"
    );
    shown.push(servers.to_string());
    assert!(client.shutdown().success());
    let log = client.stderr();
    assert!(
        log.contains("api_key=***"),
        "the log names the redacted URL:\n{}",
        crate::harness::tail(&log, 3000)
    );
    shown.push(log);

    let cfg = config.to_str().expect("utf-8");
    let doctor = env.cli(&["doctor", "--config", cfg, "--log-level", "debug"]);
    assert_eq!(
        doctor.code,
        Some(1),
        "unreachable backends fail: {doctor:?}"
    );
    assert!(doctor.stdout.contains("refused"), "{doctor:?}");
    shown.push(format!("{doctor:?}"));
    shown.push(format!(
        "{:?}",
        env.cli(&["doctor", "--config", cfg, "--json"])
    ));
    shown.push(format!(
        "{:?}",
        env.cli(&["list", "--config", cfg, "--json"])
    ));
    shown.push(format!("{:?}", env.cli(&["list", "--config", cfg])));
    for target in [
        url(port, "good"),
        url(closed_port, "mcp"),
        url(port, "moved"),
    ] {
        let probe = env.cli(&["probe", "--json", "--timeout", "5s", &target]);
        shown.push(format!("{probe:?}"));
    }
    let probe = env.cli(&["probe", &url(port, "good")]);
    assert_eq!(probe.code, Some(0), "{probe:?}");
    assert!(probe.stdout.contains("api_key=***"), "{probe:?}");
    shown.push(format!("{probe:?}"));

    for text in &shown {
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{secret} shown:\n{}",
                crate::harness::tail(text, 6000)
            );
        }
    }
}

/// Where the fake backend's `setsid` grandchild is: it left the backend's process group and
/// session, so only the subreaper and the backend tag catch it.
fn setsid_grandchild(env: &TestEnv) -> (RpcClient, u32) {
    let config = env.write_config(true, &[("daemon", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    let pid: u32 = first_text(&client.invoke("daemon", "spawn_setsid_grandchild", json!({})))
        .parse()
        .expect("pid");
    assert!(crate::harness::is_alive(pid), "grandchild did not start");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[2],
        pid.to_string(),
        "the grandchild leads its own group: {stat}"
    );
    (client, pid)
}

#[test]
fn a_setsid_grandchild_is_gone_after_a_normal_exit() {
    let env = TestEnv::new();
    let (mut client, pid) = setsid_grandchild(&env);
    assert!(client.shutdown().success());
    assert!(
        wait_until(Duration::from_secs(10), || !crate::harness::is_alive(pid)),
        "setsid grandchild {pid} survived the gateway"
    );
    env.assert_no_survivors(Duration::from_secs(10));
}

#[test]
fn a_setsid_grandchild_is_gone_after_sigkill() {
    let env = TestEnv::new();
    let (mut client, pid) = setsid_grandchild(&env);
    client.signal(libc::SIGKILL);
    client.wait_exit(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(10), || !crate::harness::is_alive(pid)),
        "setsid grandchild {pid} survived the killed gateway"
    );
    env.assert_no_survivors(Duration::from_secs(10));
}

/// While the gateway runs: a backend that crashes takes its `setsid` grandchild with it (it
/// re-parented to the gateway, the subreaper, which kills what carries that backend's tag).
#[test]
fn a_setsid_grandchild_dies_with_its_backend() {
    let env = TestEnv::new();
    let (mut client, pid) = setsid_grandchild(&env);
    let resp = client.request(
        "tools/call",
        json!({"name": "gateway_invoke",
               "arguments": {"server": "daemon", "tool": "crash", "arguments": {}}}),
    );
    assert!(failure_text(&resp).contains("exited"), "{resp}");
    assert!(
        wait_until(Duration::from_secs(10), || !crate::harness::is_alive(pid)),
        "setsid grandchild {pid} outlived its backend"
    );
    let r = client.invoke("daemon", "echo", json!({"text": "restarted"}));
    assert_eq!(first_text(&r), "restarted", "{r}");
    assert!(client.shutdown().success());
}
