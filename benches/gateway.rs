//! End-to-end benchmark of the `mcp-gateway` binary over stdio (`cargo bench --bench gateway`).
//!
//! Measures what issue 2 asks for and prints a Markdown report (the `## Gateway` section of
//! docs/BENCHMARKS.md is made from it): spawn → `initialize` answered with 50 lazy backends and a
//! warm catalog; `tools/call` latency through the gateway vs the same stdio server called
//! directly; `ping` latency while a 2 s call is in flight; idle RSS with 20 configured backends;
//! the binary's size; the `tools/list` result in bytes and o200k tokens. It is a measurement, not
//! a test: it asserts only that the gateway answers. It reuses the integration-test harness.

#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{RpcClient, TestEnv, fake_backend, first_text};
use serde_json::json;

/// How much work each measurement does.
struct Scale {
    backends: usize,
    startups: usize,
    calls: usize,
    ping_rounds: usize,
}

/// `cargo bench` passes `--bench`: measure. Without it (`cargo test --all-targets` runs benches
/// too) only a quick smoke run checks that every measurement still works.
const FULL: Scale = Scale {
    backends: 50,
    startups: 40,
    calls: 2000,
    ping_rounds: 5,
};
const SMOKE: Scale = Scale {
    backends: 3,
    startups: 2,
    calls: 20,
    ping_rounds: 1,
};

fn main() {
    let scale = if std::env::args().any(|a| a == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let mut report = String::new();
    let env = TestEnv::new();
    writeln!(
        report,
        "Measured on {} ({} CPUs visible, load average {} at start), gateway binary {}.\n",
        host(),
        cpus(),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
        harness::gateway_bin().display()
    )
    .ok();
    writeln!(report, "| What | Result | Goal |\n|---|---|---|").ok();

    let config_many = env.write("gateway-many.yaml", &many_backends(scale.backends));
    let names: Vec<String> = (0..scale.backends).map(|i| format!("fake{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    harness::warm_catalog(&env, &config_many, &names);
    let startup = startup_times(&env, &config_many, scale.startups);
    row(
        &mut report,
        &format!(
            "spawn → `initialize` answered ({} lazy backends, warm catalog), {} runs",
            scale.backends, scale.startups
        ),
        &summary_ms(&startup),
        "≤ 10 ms",
    );

    let (direct, via_invoke, via_namespaced) = call_latencies(&env, scale.calls);
    let (d50, d99) = (pct(&direct, 50.0), pct(&direct, 99.0));
    let (g50, g99) = (pct(&via_namespaced, 50.0), pct(&via_namespaced, 99.0));
    let (i50, i99) = (pct(&via_invoke, 50.0), pct(&via_invoke, 99.0));
    row(
        &mut report,
        &format!(
            "`tools/call` directly to the stdio server, p50 / p99 ({} calls)",
            scale.calls
        ),
        &format!("{} / {}", ms(d50), ms(d99)),
        "",
    );
    row(
        &mut report,
        "`tools/call` through the gateway (`server__tool`), p50 / p99; added",
        &format!(
            "{} / {}; added {} / {}",
            ms(g50),
            ms(g99),
            ms(g50 - d50),
            ms(g99 - d99)
        ),
        "added p50 ≤ 0.3 ms",
    );
    row(
        &mut report,
        "`gateway_invoke` through the gateway, p50 / p99; added",
        &format!(
            "{} / {}; added {} / {}",
            ms(i50),
            ms(i99),
            ms(i50 - d50),
            ms(i99 - d99)
        ),
        "added p50 ≤ 0.3 ms",
    );

    let pings = ping_during_slow_call(&env, scale.ping_rounds);
    row(
        &mut report,
        &format!(
            "`ping` while a 2 s tool call is in flight ({} pings)",
            pings.len()
        ),
        &summary_ms(&pings),
        "≤ 5 ms",
    );

    let (rss_gateway, rss_reaper) = idle_rss(&env, 20.min(scale.backends));
    row(
        &mut report,
        &format!(
            "idle RSS, {} configured backends (gateway process)",
            20.min(scale.backends)
        ),
        &format!("{:.1} MB", rss_gateway as f64 / 1024.0),
        "≤ 20 MB",
    );
    if let Some(r) = rss_reaper {
        row(
            &mut report,
            "idle RSS of the reaper helper process",
            &format!("{:.1} MB", r as f64 / 1024.0),
            "",
        );
    }

    let reloads = capability_reload_latency(&env, scale.ping_rounds * 4);
    row(
        &mut report,
        &format!(
            "new capability file → `notifications/tools/list_changed` at the client ({} files; includes the 250 ms debounce)",
            reloads.len()
        ),
        &summary_ms(&reloads),
        "≤ 500 ms",
    );

    let size = std::fs::metadata(harness::gateway_bin())
        .map(|m| m.len())
        .unwrap_or(0);
    row(
        &mut report,
        if cfg!(debug_assertions) {
            "binary size (debug build, not stripped)"
        } else {
            "binary size (release profile: stripped, thin LTO)"
        },
        &format!("{:.2} MB ({size} bytes)", size as f64 / 1_048_576.0),
        "",
    );

    let (bytes, tokens) = tools_list_size(&env);
    row(
        &mut report,
        "default `tools/list` result (meta-tools)",
        &format!("{bytes} bytes, {tokens} o200k tokens"),
        "≤ 2048 bytes",
    );

    writeln!(
        report,
        "\nReproduce: `cargo bench --bench gateway` (the backend is `tests/fixtures/fake_backend.py`, run by python3)."
    )
    .ok();
    println!("{report}");
}

/// A capability YAML file describing one GET tool named `name`.
fn capability_file(name: &str) -> String {
    format!(
        "name: {name}\ndescription: Looks up a {name} record by id\nschema:\n  input:\n    type: object\n    properties:\n      id: {{type: string}}\nproviders:\n  primary:\n    config:\n      base_url: http://127.0.0.1:9\n      path: /{name}/{{id}}\n"
    )
}

/// Time from writing a new capability file into a watched directory until the client receives
/// `notifications/tools/list_changed` (meta mode off, so capability tools are listed directly).
fn capability_reload_latency(env: &TestEnv, rounds: usize) -> Vec<Duration> {
    let dir = env.path().join("bench-capabilities");
    std::fs::create_dir_all(&dir).expect("capability dir");
    std::fs::write(dir.join("c00.yaml"), capability_file("c00")).expect("write capability");
    let config = env.write(
        "gateway-capabilities.yaml",
        &format!(
            "meta_mcp:\n  enabled: false\ncapabilities:\n  enabled: true\n  directories: [{}]\nbackends: {{}}\n",
            harness::yaml_str(&dir.to_string_lossy())
        ),
    );
    let mut client = env.start(&config);
    harness::list_tools_until(&mut client, &["capabilities__c00"], Duration::from_secs(30));
    let mut out = Vec::new();
    for i in 1..=rounds {
        client.take_notifications();
        let name = format!("c{i:02}");
        let started = Instant::now();
        std::fs::write(dir.join(format!("{name}.yaml")), capability_file(&name))
            .expect("write capability");
        let mut seen = Vec::new();
        let got = client.wait_notification(
            "notifications/tools/list_changed",
            Duration::from_secs(10),
            &mut seen,
            |_| true,
        );
        assert!(got.is_some(), "no list_changed for {name}");
        out.push(started.elapsed());
        harness::list_tools_until(
            &mut client,
            &[&format!("capabilities__{name}")],
            Duration::from_secs(10),
        );
    }
    assert!(client.shutdown().success());
    out
}

fn row(report: &mut String, what: &str, result: &str, goal: &str) {
    writeln!(report, "| {what} | {result} | {goal} |").ok();
    eprintln!("{what}: {result}");
}

/// A config with `n` lazy fake backends, each a distinct command line.
fn many_backends(n: usize) -> String {
    let mut yaml = String::from("meta_mcp:\n  enabled: true\nbackends:\n");
    for i in 0..n {
        yaml.push_str(&format!("  fake{i:02}:\n"));
        for line in fake_backend(&["--extra-tools", &(i % 7).to_string()], "").lines() {
            yaml.push_str(&format!("    {line}\n"));
        }
    }
    yaml
}

fn startup_times(env: &TestEnv, config: &Path, runs: usize) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            let mut client = RpcClient::spawn(env.gateway_command(config, &[]));
            client.initialize();
            let took = started.elapsed();
            client.shutdown();
            took
        })
        .collect()
}

/// (direct, via `gateway_invoke`, via `fake__echo`) latencies of the same echo call. The three
/// connections are open at once and called in turn, so load changes during the run hit all three
/// alike.
fn call_latencies(env: &TestEnv, calls: usize) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let echo = json!({"text": "latency"});
    let mut cmd = Command::new("python3");
    cmd.arg(harness::fixture("fake_backend.py"));
    env.apply(&mut cmd);
    let mut direct = RpcClient::spawn(cmd);
    direct.initialize();
    // Each gateway gets its own file: a gateway reloads the file it was started with when it
    // changes, so rewriting one file for the second would change the first one's surface.
    let written = env.write_config(false, &[("fake", fake_backend(&[], ""))]);
    let own = written.with_file_name("namespaced.yaml");
    std::fs::rename(&written, &own).expect("rename config");
    let mut namespaced = env.start(&own);
    harness::list_tools_until(&mut namespaced, &["fake__echo"], Duration::from_secs(60));
    let config = env.write_config(true, &[("fake", fake_backend(&[], ""))]);
    let mut meta = env.start(&config);
    let invoke_args = json!({"server": "fake", "tool": "echo", "arguments": echo});

    let mut runs: [(&mut RpcClient, &str, serde_json::Value, Vec<Duration>); 3] = [
        (&mut direct, "echo", echo.clone(), Vec::new()),
        (&mut meta, "gateway_invoke", invoke_args, Vec::new()),
        (&mut namespaced, "fake__echo", echo, Vec::new()),
    ];
    for round in 0..calls + 100 {
        for (client, name, args, samples) in runs.iter_mut() {
            let started = Instant::now();
            let result = client.call_tool(name, args.clone());
            let took = started.elapsed();
            assert_eq!(first_text(&result), "latency");
            if round >= 100 {
                samples.push(took);
            }
        }
    }
    let [(_, _, _, d), (_, _, _, i), (_, _, _, n)] = runs;
    direct.shutdown();
    meta.shutdown();
    namespaced.shutdown();
    (d, i, n)
}

fn ping_during_slow_call(env: &TestEnv, rounds: usize) -> Vec<Duration> {
    let config = env.write_config(true, &[("slow", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    client.invoke("slow", "echo", json!({"text": "warm"}));
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let id = client.send_request(
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": {"server": "slow", "tool": "slow", "arguments": {"seconds": 2, "steps": 1}}}),
        );
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..10 {
            let started = Instant::now();
            client.result("ping", json!({}));
            samples.push(started.elapsed());
            std::thread::sleep(Duration::from_millis(150));
        }
        let resp = client.wait_response(&id, Duration::from_secs(30));
        assert_eq!(first_text(&resp["result"]), "slept 2.0s");
    }
    client.shutdown();
    samples
}

/// VmRSS in KiB of the gateway and (if present) its reaper child, after start-up and a
/// `tools/list`, with `n` lazy backends whose catalog is warm.
fn idle_rss(env: &TestEnv, n: usize) -> (u64, Option<u64>) {
    let config = env.write("gateway-idle.yaml", &many_backends(n));
    let mut client = env.start(&config);
    client.list_tools();
    client.search("echo", 5);
    std::thread::sleep(Duration::from_secs(2));
    let rss = vm_rss(client.pid()).unwrap_or(0);
    let reaper = harness::descendants(client.pid())
        .into_iter()
        .find(|p| harness::cmdline(*p).contains("__reaper"))
        .and_then(vm_rss);
    client.shutdown();
    (rss, reaper)
}

fn vm_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn tools_list_size(env: &TestEnv) -> (usize, usize) {
    let config = env.write_config(true, &[("fake", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    let result = client.result("tools/list", json!({}));
    client.shutdown();
    let text = serde_json::to_string(&result).unwrap_or_default();
    let tokens = tiktoken_rs::o200k_base()
        .map(|bpe| bpe.encode_with_special_tokens(&text).len())
        .unwrap_or(0);
    (text.len(), tokens)
}

fn pct(samples: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (ms.len() - 1) as f64).round() as usize;
    ms[idx.min(ms.len() - 1)]
}

fn ms(v: f64) -> String {
    format!("{v:.3} ms")
}

fn summary_ms(samples: &[Duration]) -> String {
    format!(
        "p50 {} · p90 {} · max {}",
        ms(pct(samples, 50.0)),
        ms(pct(samples, 90.0)),
        ms(pct(samples, 100.0))
    )
}

fn host() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}
