//! Test harness: runs the real `mcp-gateway` binary over stdio and inspects what it leaves behind.
//!
//! Owns: locating the binary, the installed test dependencies and the fixtures; a per-test
//! isolated environment (HOME and every XDG dir inside one temp dir); a raw newline-delimited
//! JSON-RPC client that records every stdout line; process-table helpers that find processes by
//! a unique marker in their environment. It must never talk to anything but child processes and
//! 127.0.0.1, and never write outside its temp dirs.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Name of the environment variable that tags every process a test starts.
pub const MARKER_VAR: &str = "MCP_GATEWAY_TEST_MARKER";
/// Default time to wait for one response.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// The gateway binary cargo built for this test run.
pub fn gateway_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mcp-gateway"))
}

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Where `scripts/install-test-deps.sh` put the real servers and clients.
pub fn deps() -> PathBuf {
    let dir = std::env::var_os("MCP_GATEWAY_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".test-deps"));
    let probe = dir.join("npm/node_modules/.bin/mcp-server-everything");
    assert!(
        probe.exists()
            && dir.join("py/bin/python").exists()
            && dir.join("py-mcp1/bin/python").exists(),
        "test dependencies missing in {} (no {}): run scripts/install-test-deps.sh \
         (or set MCP_GATEWAY_TEST_DEPS)",
        dir.display(),
        probe.display()
    );
    dir
}

/// An executable from the npm test dependencies (`node_modules/.bin/NAME`).
pub fn npm_bin(name: &str) -> PathBuf {
    deps().join("npm/node_modules/.bin").join(name)
}

/// An executable from the mcp 2.x venv (`py/bin/NAME`).
pub fn py_bin(name: &str) -> PathBuf {
    deps().join("py/bin").join(name)
}

/// The Python interpreter of the venv with `mcp<2`.
pub fn py1_python() -> PathBuf {
    deps().join("py-mcp1/bin/python")
}

/// YAML single-quoted scalar.
pub fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One test's private world: a temp dir holding HOME, the XDG dirs and config files, and a marker
/// string that tags every process started on its behalf.
pub struct TestEnv {
    dir: tempfile::TempDir,
    marker: String,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("mcp-gw-test-")
            .tempdir()
            .expect("create temp dir");
        for sub in ["home", "config", "cache", "state", "data", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create XDG dir");
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let marker = format!(
            "mgwt-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        TestEnv { dir, marker }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A scratch directory for the test's own files (used as the gateway's cwd).
    pub fn work_dir(&self) -> PathBuf {
        self.path().join("work")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.path().join("cache")
    }

    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// HOME and the XDG variables, all inside the temp dir, plus the process marker.
    pub fn vars(&self) -> Vec<(String, String)> {
        let p = |s: &str| self.path().join(s).to_string_lossy().into_owned();
        vec![
            ("HOME".into(), p("home")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("XDG_CACHE_HOME".into(), p("cache")),
            ("XDG_STATE_HOME".into(), p("state")),
            ("XDG_DATA_HOME".into(), p("data")),
            (MARKER_VAR.into(), self.marker.clone()),
        ]
    }

    /// Writes `text` to `NAME` in the temp dir and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    /// Writes a `gateway.yaml` with the given `backends:` entries (name → YAML body lines) and
    /// `meta_mcp.enabled`.
    pub fn write_config(&self, meta_mcp: bool, backends: &[(&str, String)]) -> PathBuf {
        let mut yaml = format!("meta_mcp:\n  enabled: {meta_mcp}\nbackends:\n");
        if backends.is_empty() {
            yaml = format!("meta_mcp:\n  enabled: {meta_mcp}\nbackends: {{}}\n");
        }
        for (name, body) in backends {
            yaml.push_str(&format!("  {name}:\n"));
            for line in body.lines() {
                yaml.push_str(&format!("    {line}\n"));
            }
        }
        self.write("gateway.yaml", &yaml)
    }

    /// A `Command` for the gateway with this env and `--config PATH`.
    pub fn gateway_command(&self, config: &Path, extra_args: &[&str]) -> Command {
        let mut cmd = Command::new(gateway_bin());
        cmd.arg("--config").arg(config).args(extra_args);
        self.apply(&mut cmd);
        cmd
    }

    /// Applies the isolated environment and cwd to any command.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env_remove("MCP_GATEWAY_CONFIG")
            .env_remove("MCP_GATEWAY_LOG_LEVEL")
            .envs(self.vars())
            .current_dir(self.work_dir());
    }

    /// Runs `mcp-gateway ARGS…` as a user would in this env (scratch HOME and XDG dirs, cwd
    /// `work/`, stdin closed) and returns its output; panics if it runs past 120 s.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        self.cli_in(&self.work_dir(), args)
    }

    /// `cli` with another working directory.
    pub fn cli_in(&self, cwd: &Path, args: &[&str]) -> CliOutput {
        let mut cmd = Command::new(gateway_bin());
        cmd.args(args);
        self.apply(&mut cmd);
        cmd.current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn mcp-gateway {args:?}: {e}"));
        let out = wait_output(child, Duration::from_secs(120));
        CliOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The user config file (`$XDG_CONFIG_HOME/mcp-gateway/gateway.yaml`) of this env.
    pub fn user_config(&self) -> PathBuf {
        self.path().join("config/mcp-gateway/gateway.yaml")
    }

    /// Starts the gateway on `config` and completes the `initialize` handshake.
    pub fn start(&self, config: &Path) -> RpcClient {
        let mut client = RpcClient::spawn(self.gateway_command(config, &[]));
        client.initialize();
        client
    }

    /// Asserts that no process tagged with this env's marker is alive, waiting up to `within`.
    pub fn assert_no_survivors(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let alive = find_marked(&self.marker);
            if alive.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                let desc: Vec<String> = alive
                    .iter()
                    .map(|p| format!("{p}: {}", cmdline(*p)))
                    .collect();
                kill_all(&alive);
                panic!("processes survived the gateway: {desc:#?}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What one CLI run printed, and its exit code.
#[derive(Debug)]
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Panics (showing both streams) unless the exit code is `code`; returns `self`.
    pub fn expect_code(self, code: i32) -> CliOutput {
        assert_eq!(
            self.code,
            Some(code),
            "exit code {:?}, expected {code}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Never leak processes into the next test, whatever happened in this one.
        kill_all(&find_marked(&self.marker));
    }
}

/// A YAML backend body for a stdio command given as program + args.
pub fn stdio_backend(program: &Path, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| yaml_str(a)).collect();
    format!(
        "command: {}\nargs: [{}]\n{extra}",
        yaml_str(&program.to_string_lossy()),
        args.join(", ")
    )
}

/// A YAML backend body running `tests/fixtures/fake_backend.py` with the given arguments.
pub fn fake_backend(args: &[&str], extra: &str) -> String {
    let script = fixture("fake_backend.py");
    let mut all = vec![script.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    stdio_backend(Path::new("python3"), &all, extra)
}

/// Everything the client has seen from one peer, shared with its reader thread.
#[derive(Default)]
struct Inbox {
    /// Every stdout line, verbatim.
    lines: Vec<String>,
}

/// A raw JSON-RPC 2.0 client over a child's stdin/stdout (newline-delimited).
pub struct RpcClient {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Value>,
    inbox: Arc<Mutex<Inbox>>,
    stderr: Arc<Mutex<String>>,
    /// Responses that arrived while waiting for another id.
    responses: HashMap<String, Value>,
    /// Notifications and server→client requests, in arrival order.
    pending_other: VecDeque<Value>,
    next_id: u64,
    /// The stdout reader; it ends when the peer closes stdout.
    stdout_reader: Option<thread::JoinHandle<()>>,
}

impl RpcClient {
    /// Spawns `cmd` with piped stdio and starts reader threads for stdout and stderr.
    pub fn spawn(mut cmd: Command) -> RpcClient {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = channel();
        let stdout_reader = {
            let inbox = inbox.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    let parsed = serde_json::from_str::<Value>(&line);
                    inbox.lock().expect("inbox lock").lines.push(line);
                    if let Ok(v) = parsed {
                        // The receiver may be gone while the peer still writes: keep recording.
                        let _ = tx.send(v);
                    }
                }
            })
        };
        {
            let stderr = stderr.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stderr_pipe);
                let mut buf = Vec::new();
                while let Ok(n) = reader.read_until(b'\n', &mut buf) {
                    if n == 0 {
                        break;
                    }
                    stderr
                        .lock()
                        .expect("stderr lock")
                        .push_str(&String::from_utf8_lossy(&buf));
                    buf.clear();
                }
            });
        }
        RpcClient {
            child,
            stdin,
            rx,
            inbox,
            stderr,
            responses: HashMap::new(),
            pending_other: VecDeque::new(),
            next_id: 1,
            stdout_reader: Some(stdout_reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one raw line (a newline is appended).
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(line.as_bytes())
            .expect("write to gateway stdin");
        stdin.write_all(b"\n").expect("write to gateway stdin");
        stdin.flush().expect("flush gateway stdin");
    }

    /// Sends a request and returns its id without waiting.
    pub fn send_request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&msg.to_string());
        id
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.send_line(&msg.to_string());
    }

    /// Waits for the response with `id` (the whole message: `result` or `error`).
    pub fn wait_response(&mut self, id: &Value, timeout: Duration) -> Value {
        self.try_wait_response(id, timeout).unwrap_or_else(|| {
            panic!(
                "no response to id {id} within {timeout:?}; stderr:\n{}",
                tail(&self.stderr(), 4000)
            )
        })
    }

    /// Like `wait_response`, but `None` on timeout.
    pub fn try_wait_response(&mut self, id: &Value, timeout: Duration) -> Option<Value> {
        let key = id.to_string();
        if let Some(v) = self.responses.remove(&key) {
            return Some(v);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(msg) => {
                    let is_response = msg.get("method").is_none() && msg.get("id").is_some();
                    if is_response {
                        let got = msg["id"].to_string();
                        if got == key {
                            return Some(msg);
                        }
                        self.responses.insert(got, msg);
                    } else {
                        self.pending_other.push_back(msg);
                    }
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "gateway stdout closed while waiting for id {id}; stderr:\n{}",
                        tail(&self.stderr(), 4000)
                    )
                }
            }
        }
    }

    /// Sends a request and waits for its full response message.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.wait_response(&id, RESPONSE_TIMEOUT)
    }

    /// Sends a request and returns its `result`, panicking on a JSON-RPC error.
    pub fn result(&mut self, method: &str, params: Value) -> Value {
        let resp = self.request(method, params);
        match resp.get("result") {
            Some(r) => r.clone(),
            None => panic!("{method} failed: {resp}"),
        }
    }

    /// The `initialize` handshake with protocol 2025-11-25, then `notifications/initialized`.
    pub fn initialize(&mut self) -> Value {
        self.initialize_with("2025-11-25", json!({}))
    }

    pub fn initialize_with(&mut self, version: &str, capabilities: Value) -> Value {
        let result = self.result(
            "initialize",
            json!({
                "protocolVersion": version,
                "capabilities": capabilities,
                "clientInfo": {"name": "mcp-gateway-tests", "version": "0"}
            }),
        );
        self.notify("notifications/initialized", json!({}));
        result
    }

    /// `tools/call` and its `result`.
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        self.result("tools/call", json!({"name": name, "arguments": arguments}))
    }

    /// `gateway_invoke` and its `result`.
    pub fn invoke(&mut self, server: &str, tool: &str, arguments: Value) -> Value {
        self.call_tool(
            "gateway_invoke",
            json!({"server": server, "tool": tool, "arguments": arguments}),
        )
    }

    /// `gateway_search_tools` and its `structuredContent`.
    pub fn search(&mut self, query: &str, limit: usize) -> Value {
        let r = self.call_tool(
            "gateway_search_tools",
            json!({"query": query, "limit": limit}),
        );
        assert_ne!(r["isError"], json!(true), "search failed: {r}");
        r["structuredContent"].clone()
    }

    /// All tools from `tools/list`, following cursors.
    pub fn list_tools(&mut self) -> Vec<Value> {
        let mut tools = Vec::new();
        let mut cursor: Option<Value> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let r = self.result("tools/list", params);
            tools.extend(r["tools"].as_array().cloned().unwrap_or_default());
            match r.get("nextCursor") {
                Some(c) if !c.is_null() => cursor = Some(c.clone()),
                _ => return tools,
            }
        }
    }

    /// Notifications and server→client requests received so far (drains the channel first).
    pub fn take_notifications(&mut self) -> Vec<Value> {
        while let Ok(msg) = self.rx.try_recv() {
            if msg.get("method").is_none() && msg.get("id").is_some() {
                self.responses.insert(msg["id"].to_string(), msg);
            } else {
                self.pending_other.push_back(msg);
            }
        }
        self.pending_other.drain(..).collect()
    }

    /// Waits for a notification (or server→client request) `method` whose params satisfy
    /// `pred`; every other one that arrives meanwhile is appended to `seen`. `None` on timeout.
    pub fn wait_notification(
        &mut self,
        method: &str,
        timeout: Duration,
        seen: &mut Vec<Value>,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let matches = |m: &Value| m["method"] == method && pred(&m["params"]);
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(m) = self.pending_other.pop_front() {
                if matches(&m) {
                    return Some(m);
                }
                seen.push(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(msg) if msg.get("method").is_none() && msg.get("id").is_some() => {
                    self.responses.insert(msg["id"].to_string(), msg);
                }
                Ok(msg) => self.pending_other.push_back(msg),
                Err(_) => return None,
            }
        }
    }

    /// Every line the peer wrote to stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.inbox.lock().expect("inbox lock").lines.clone()
    }

    /// Every line the peer wrote to stdout, up to and including its exit: waits (up to `timeout`)
    /// until the peer's stdout is closed, so nothing written during shutdown is missed.
    pub fn stdout_lines_through_exit(&mut self, timeout: Duration) -> Vec<String> {
        let reader = self
            .stdout_reader
            .take()
            .expect("stdout read to the end once");
        let deadline = Instant::now() + timeout;
        while !reader.is_finished() {
            assert!(
                Instant::now() < deadline,
                "stdout of {} still open {timeout:?} later",
                self.pid()
            );
            thread::sleep(Duration::from_millis(10));
        }
        reader.join().expect("stdout reader");
        self.stdout_lines()
    }

    /// The stdout line carrying the response to `id`, verbatim.
    pub fn raw_response(&self, id: &Value) -> String {
        self.stdout_lines()
            .into_iter()
            .find(|l| {
                serde_json::from_str::<Value>(l)
                    .is_ok_and(|m| m.get("method").is_none() && m.get("id") == Some(id))
            })
            .unwrap_or_else(|| panic!("no response line for id {id}"))
    }

    /// Everything the peer wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Closes stdin (the gateway's signal to exit).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the child to exit, panicking after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "process {} did not exit within {timeout:?}; stderr:\n{}",
                    self.pid(),
                    tail(&self.stderr(), 4000)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal to the child (the gateway itself, not its group).
    pub fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits i32");
        // SAFETY: kill(2) has no memory-safety preconditions.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// Closes stdin and waits for a clean exit.
    pub fn shutdown(&mut self) -> ExitStatus {
        self.close_stdin();
        self.wait_exit(Duration::from_secs(20))
    }
}

impl Drop for RpcClient {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `max` bytes of `s` (on a char boundary).
pub fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The text of the first `text` content block of a `CallToolResult`.
pub fn first_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .and_then(|c| c.iter().find(|b| b["type"] == "text"))
        .and_then(|b| b["text"].as_str())
        .unwrap_or_else(|| panic!("no text content in {result}"))
        .to_string()
}

/// Live (non-zombie) processes whose environment contains `MARKER_VAR=marker`.
pub fn find_marked(marker: &str) -> Vec<u32> {
    let needle = format!("{MARKER_VAR}={marker}");
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if is_zombie(pid) {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// Descendants of `pid` (children, grandchildren, …) by walking parent links in /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(pp) = stat_field(p, 1).and_then(|s| s.parse().ok()) {
                parents.push((p, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(cur) = frontier.pop() {
        for (child, parent) in &parents {
            if *parent == cur && !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

/// Field `n` (0 = state) after the `(comm)` part of /proc/PID/stat.
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(n).map(str::to_string)
}

fn is_zombie(pid: u32) -> bool {
    stat_field(pid, 0).is_none_or(|s| s == "Z" || s == "X")
}

/// The command line of `pid`, spaces for NULs.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Whether `pid` is alive (and not a zombie).
pub fn is_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

fn kill_all(pids: &[u32]) {
    for pid in pids {
        if let Ok(p) = i32::try_from(*pid) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(p, libc::SIGKILL);
            }
        }
    }
}

/// Polls `cond` every 25 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(25));
    }
}

/// Runs a Python SDK driver script (`tests/fixtures/sdk_client.py`) with `python` on `spec`
/// (JSON on stdin) and returns its JSON output.
pub fn run_sdk_driver(python: &Path, spec: &Value, env: &TestEnv) -> Value {
    let mut cmd = Command::new(python);
    cmd.arg(fixture("sdk_client.py"));
    env.apply(&mut cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {python:?}: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("write driver spec");
    let out = wait_output(child, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sdk driver failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr), 6000)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("driver output is not JSON ({e}): {stdout}"))
}

/// `wait_with_output` with a deadline (the child is killed when it passes).
pub fn wait_output(child: Child, timeout: Duration) -> std::process::Output {
    let pid = child.id();
    let done = Arc::new(Mutex::new(false));
    let watchdog = {
        let done = done.clone();
        thread::spawn(move || {
            let deadline = Instant::now() + timeout;
            while Instant::now() < deadline {
                if *done.lock().expect("done lock") {
                    return false;
                }
                thread::sleep(Duration::from_millis(50));
            }
            if let Ok(p) = i32::try_from(pid) {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe {
                    libc::kill(p, libc::SIGKILL);
                }
            }
            true
        })
    };
    let out = child.wait_with_output().expect("wait for child");
    *done.lock().expect("done lock") = true;
    let timed_out = watchdog.join().unwrap_or(false);
    assert!(!timed_out, "child {pid} killed after {timeout:?}");
    out
}

/// A stdio MCP server the tests can run directly or configure behind the gateway.
pub struct ServerSpec {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl ServerSpec {
    /// The backend's body in `gateway.yaml`.
    pub fn yaml(&self) -> String {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut extra = String::new();
        if !self.env.is_empty() {
            extra.push_str("env:\n");
            for (k, v) in &self.env {
                extra.push_str(&format!("  {k}: {}\n", yaml_str(v)));
            }
        }
        stdio_backend(&self.program, &args, &extra)
    }

    /// Runs the server directly (no gateway) in `env` and completes `initialize`.
    pub fn start_direct(&self, env: &TestEnv) -> RpcClient {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        env.apply(&mut cmd);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let mut client = RpcClient::spawn(cmd);
        client.initialize();
        client
    }
}

/// The real servers from npm and PyPI, with their data in `env`'s temp dir. `tag` keeps stateful
/// servers (memory) of a direct run and a gateway run apart.
pub fn real_servers(env: &TestEnv, tag: &str) -> Vec<ServerSpec> {
    let files = env.path().join("files");
    if !files.exists() {
        std::fs::create_dir_all(files.join("sub")).expect("create files dir");
        std::fs::write(
            files.join("hello.txt"),
            "hello from the gateway tests\nsecond line\n",
        )
        .expect("write hello.txt");
        std::fs::write(files.join("sub/nested.md"), "# Nested\n").expect("write nested.md");
    }
    let repo = env.path().join("repo");
    if !repo.exists() {
        init_git_repo(&repo);
    }
    let memory = env.path().join(format!("memory-{tag}.jsonl"));
    vec![
        ServerSpec {
            name: "everything",
            program: npm_bin("mcp-server-everything"),
            args: vec![],
            env: vec![],
        },
        ServerSpec {
            name: "filesystem",
            program: npm_bin("mcp-server-filesystem"),
            args: vec![files.to_string_lossy().into_owned()],
            env: vec![],
        },
        ServerSpec {
            name: "memory",
            program: npm_bin("mcp-server-memory"),
            args: vec![],
            env: vec![(
                "MEMORY_FILE_PATH".into(),
                memory.to_string_lossy().into_owned(),
            )],
        },
        ServerSpec {
            name: "time",
            program: py_bin("mcp-server-time"),
            args: vec!["--local-timezone".into(), "UTC".into()],
            env: vec![],
        },
        ServerSpec {
            name: "git",
            program: py_bin("mcp-server-git"),
            args: vec!["--repository".into(), repo.to_string_lossy().into_owned()],
            env: vec![],
        },
    ]
}

/// A git repository with one commit whose hash never changes (fixed author, committer, dates).
fn init_git_repo(repo: &Path) {
    std::fs::create_dir_all(repo).expect("create repo dir");
    std::fs::write(repo.join("README.md"), "# test repo\n").expect("write README");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "README.md"]);
    git(&["commit", "-q", "-m", "initial commit"]);
    std::fs::write(repo.join("untracked.txt"), "not yet added\n").expect("write untracked");
}

/// Writes a gateway config holding `servers` and returns its path.
pub fn config_for(env: &TestEnv, meta_mcp: bool, servers: &[ServerSpec]) -> PathBuf {
    let backends: Vec<(&str, String)> = servers.iter().map(|s| (s.name, s.yaml())).collect();
    env.write_config(meta_mcp, &backends)
}

/// Searches until a match for `server`/`tool` shows up among the top `limit` (backends never
/// seen are discovered in the background), panicking after `within`.
pub fn search_until_found(
    client: &mut RpcClient,
    query: &str,
    server: &str,
    tool: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let found = client.search(query, 10);
        let hit = found["matches"]
            .as_array()
            .is_some_and(|m| m.iter().any(|h| h["server"] == server && h["tool"] == tool));
        if hit {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "search {query:?} never found {server}/{tool}; last result: {found:#}"
        );
        thread::sleep(Duration::from_millis(250));
    }
}

/// `gateway_list_tools {server}` once the backend's tools are known (backends never seen are
/// discovered in the background after start-up); returns the result text.
pub fn list_server_tools(client: &mut RpcClient, server: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let result = client.call_tool("gateway_list_tools", json!({"server": server}));
        if result["isError"] != json!(true) {
            return first_text(&result);
        }
        assert!(
            Instant::now() < deadline,
            "tools of {server} never became known: {result}"
        );
        thread::sleep(Duration::from_millis(250));
    }
}

/// `tools/list` (all pages) once it contains every name in `wanted`.
pub fn list_tools_until(client: &mut RpcClient, wanted: &[&str], within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let tools = client.list_tools();
        let missing: Vec<&&str> = wanted
            .iter()
            .filter(|w| !tools.iter().any(|t| t["name"] == **w))
            .collect();
        if missing.is_empty() {
            return tools;
        }
        assert!(
            Instant::now() < deadline,
            "tools/list never listed {missing:?}"
        );
        thread::sleep(Duration::from_millis(250));
    }
}

/// Runs the gateway on `config` until every backend in `servers` has its tools in the persisted
/// catalog, then stops it: later gateway starts on the same env begin warm.
pub fn warm_catalog(env: &TestEnv, config: &Path, servers: &[&str]) {
    let mut client = env.start(config);
    for server in servers {
        list_server_tools(&mut client, server, Duration::from_secs(60));
    }
    assert!(client.shutdown().success());
}
