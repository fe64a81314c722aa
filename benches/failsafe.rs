//! Breaker-open fail-fast latency (`cargo bench --bench failsafe`): how long a call to a backend
//! whose circuit breaker is open takes to be refused.
//!
//! 1. In process: `Backend::request` (`tools/call`) on a backend whose command cannot start,
//!    `failure_threshold: 1`, retries off: the first call fails to spawn and opens the breaker;
//!    every call measured after it is refused by the breaker (checked) — rate limit, a
//!    concurrency slot, the breaker's admission and the error, no process, no I/O.
//! 2. Through the real gateway binary over stdio: `gateway_invoke` of `echo` on a cataloged
//!    backend whose breaker opened (`tests/fixtures/fake_backend.py`, `failure_threshold: 1`,
//!    after one `crash`): the tool-level `isError` answer a client gets; next to `gateway_invoke`
//!    of `echo` on a healthy instance of the same server, for scale.
//!
//! Prints p50/p99/mean in µs. A measurement, not a test: without `--bench` (as
//! `cargo test --all-targets` runs it) it only does a short smoke run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcp_gateway::backend::{Backend, BackendEnv};
use mcp_gateway::config::{BackendConfig, Failsafe, StdioSpec, Transport};
use mcp_gateway::error::CallError;
use mcp_gateway::peer::CallContext;
use serde_json::{Value, json};

fn stats(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |p: f64| us(samples[((samples.len() as f64 - 1.0) * p).round() as usize]);
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len() as f64;
    println!(
        "{label:<58} n={:>6}  p50 {:>8.2} µs  p99 {:>8.2} µs  mean {:>8.2} µs",
        samples.len(),
        at(0.5),
        at(0.99),
        mean
    );
}

fn broken_backend() -> Backend {
    let config = BackendConfig {
        name: "broken".into(),
        tags: Vec::new(),
        description: None,
        enabled: true,
        transport: Transport::Stdio(StdioSpec {
            program: "/nonexistent/mcp-server".into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
        }),
        timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(600),
        tools: Default::default(),
        isolate: false,
        failsafe: Failsafe {
            failure_threshold: 1,
            reset_timeout: Duration::from_secs(3600),
            retry_enabled: false,
            ..Failsafe::default()
        },
        failsafe_patch: Default::default(),
        pin_tools: false,
    };
    Backend::new(config, BackendEnv::standalone(None).0)
}

fn in_process(rounds: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let b = broken_backend();
        let params = json!({"name": "echo", "arguments": {"text": "x"}});
        let first = b
            .request("tools/call", Some(params.clone()), &CallContext::default())
            .await;
        assert!(
            matches!(first, Err(CallError::Unavailable { .. })),
            "{first:?}"
        );
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let ctx = CallContext::default();
            let started = Instant::now();
            let r = b.request("tools/call", Some(params.clone()), &ctx).await;
            samples.push(started.elapsed());
            assert!(matches!(r, Err(CallError::CircuitOpen { .. })), "{r:?}");
        }
        stats("in process: Backend::request, breaker open", samples);
    });
}

/// A gateway binary on stdio with a broken and a healthy backend.
struct Gateway {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    next: u64,
    home: std::path::PathBuf,
}

impl Gateway {
    fn start() -> Gateway {
        let home = std::env::temp_dir().join(format!("mcpgw-failsafe-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        let fake =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_backend.py");
        let config = home.join("gateway.yaml");
        std::fs::write(
            &config,
            format!(
                "backends:\n  broken:\n    command: python3\n    args: [{fake:?}]\n    failsafe:\n      circuit_breaker: {{ failure_threshold: 1, reset_timeout: 1h }}\n  fake:\n    command: python3\n    args: [{fake:?}]\n",
                fake = fake.to_str().unwrap()
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .arg("--config")
            .arg(&config)
            .current_dir(&home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env_remove("MCP_GATEWAY_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the gateway binary");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut g = Gateway {
            child,
            stdin,
            lines,
            next: 1,
            home,
        };
        g.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "failsafe-bench", "version": "0"}}),
        );
        writeln!(
            g.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .unwrap();
        g
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
        loop {
            let line = self.lines.next().expect("gateway answers").unwrap();
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    fn invoke(&mut self, server: &str, tool: &str, args: Value) -> Value {
        self.request(
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": {"server": server, "tool": tool, "arguments": args}}),
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn over_stdio(rounds: usize) {
    let mut g = Gateway::start();
    // Warm the healthy backend; open the other one's breaker (`crash` exits mid-call, and
    // one failure opens it).
    let echo = g.invoke("fake", "echo", json!({"text": "warm"}));
    assert_eq!(echo["result"]["content"][0]["text"], "warm", "{echo}");
    let first = g.invoke("broken", "crash", json!({}));
    assert_eq!(first["result"]["isError"], json!(true), "{first}");
    let mut open = Vec::with_capacity(rounds);
    let mut healthy = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let r = g.invoke("broken", "echo", json!({}));
        open.push(started.elapsed());
        let text = r["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text.contains("circuit breaker open"), "{r}");
        let started = Instant::now();
        let r = g.invoke("fake", "echo", json!({"text": "x"}));
        healthy.push(started.elapsed());
        assert_eq!(r["result"]["content"][0]["text"], "x", "{r}");
    }
    stats("stdio gateway_invoke, breaker open (refused)", open);
    stats(
        "stdio gateway_invoke, healthy fake echo (for scale)",
        healthy,
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    in_process(if full { 200_000 } else { 100 });
    over_stdio(if full { 2_000 } else { 20 });
}
