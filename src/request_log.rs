//! The request log: who called what, when, how long it took and how it ended.
//!
//! Owns the record shape, a bounded in-memory ring (read by `GET /api/v1/requests`), its live
//! followers (`GET /api/v1/requests/stream`: backlog plus every new entry, [`RequestLog::follow`]) and the JSONL
//! file in the state dir with size-based rotation (`requests.jsonl`, `requests.jsonl.1`, …). It
//! records a caller by name (an API key's name or a JWT subject), never a credential; arguments
//! and results only when the config says so, and even then values under secret-looking keys
//! (`password`, `token`, `api_key`, …) are replaced. It never decides who may read it (the front
//! checks the admin scope) and never blocks a call on a failed write (it warns once).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// File name of the current log in the state dir.
pub const FILE_NAME: &str = "requests.jsonl";

/// Settings (from the `request_log:` config section).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Entries kept in memory (0: none).
    pub memory_entries: usize,
    /// Where the JSONL file goes (`None`: no file).
    pub file: Option<PathBuf>,
    /// Rotate when the current file would grow past this many bytes.
    pub max_file_size: u64,
    /// Rotated files kept besides the current one.
    pub max_files: u32,
    /// Record call arguments (secret-looking keys redacted).
    pub log_arguments: bool,
    /// Record call results (secret-looking keys redacted).
    pub log_results: bool,
}

impl Settings {
    /// From the `request_log:` section; the file goes to `state_dir` (none without one). A
    /// disabled log keeps nothing.
    pub fn from_config(
        config: &crate::config::RequestLogConfig,
        state_dir: Option<&Path>,
    ) -> Settings {
        let on = config.enabled;
        Settings {
            memory_entries: if on { config.memory_entries } else { 0 },
            file: state_dir
                .filter(|_| on && config.file)
                .map(|d| d.join(FILE_NAME)),
            max_file_size: config.max_file_size,
            max_files: config.max_files,
            log_arguments: config.log_arguments,
            log_results: config.log_results,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The backend answered with a result that is not `isError`.
    Ok,
    /// The backend answered with an `isError: true` result.
    ToolError,
    /// A protocol or gateway error (unknown tool, timeout, backend down, bad arguments).
    Error,
    /// No or bad credentials.
    Unauthenticated,
    /// Authenticated, but the tool is outside the caller's scope.
    Forbidden,
    /// Refused by the rate limit.
    RateLimited,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::ToolError,
        Outcome::Error,
        Outcome::Unauthenticated,
        Outcome::Forbidden,
        Outcome::RateLimited,
    ];

    /// The snake_case name used in the log.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Error => "error",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Forbidden => "forbidden",
            Outcome::RateLimited => "rate_limited",
        }
    }
}

/// One call. `server`/`tool` are empty for calls that never named one (e.g. a refused request).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// API key name, JWT subject, or `local` (stdio / no auth).
    pub caller: String,
    /// `stdio`, `http` (MCP over HTTP) or `rest`.
    pub front: &'static str,
    /// The JSON-RPC method or REST route (`tools/call`, `POST /api/v1/tools/call`).
    pub method: String,
    pub server: String,
    pub tool: String,
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub request_bytes: u64,
    pub response_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// What a front reports about one call; the log stamps the time and applies the switches.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub caller: &'a str,
    pub front: &'static str,
    pub method: &'a str,
    pub server: &'a str,
    pub tool: &'a str,
    pub duration: Duration,
    pub outcome: Outcome,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub arguments: Option<&'a Value>,
    pub result: Option<&'a Value>,
}

/// The log: a ring in memory and, if configured, a rotated JSONL file.
#[derive(Debug)]
pub struct RequestLog {
    settings: Settings,
    ring: Mutex<VecDeque<Arc<Entry>>>,
    file: Option<Mutex<Sink>>,
    warned: AtomicBool,
    /// Calls recorded since start, per [`Outcome`] (in [`Outcome::ALL`] order).
    counts: [AtomicU64; 6],
    /// Every new entry, for live readers ([`RequestLog::follow`]); sent under the ring's lock.
    live: tokio::sync::broadcast::Sender<Arc<Entry>>,
}

/// Entries a live reader may fall behind by before it is told how many it missed.
const LIVE_BUFFER: usize = 256;

#[derive(Debug)]
struct Sink {
    path: PathBuf,
    file: Option<File>,
    size: u64,
}

impl RequestLog {
    pub fn new(settings: Settings) -> RequestLog {
        let file = settings.file.clone().map(|path| {
            Mutex::new(Sink {
                path,
                file: None,
                size: 0,
            })
        });
        RequestLog {
            ring: Mutex::new(VecDeque::with_capacity(settings.memory_entries.min(4096))),
            settings,
            file,
            warned: AtomicBool::new(false),
            counts: Default::default(),
            live: tokio::sync::broadcast::channel(LIVE_BUFFER).0,
        }
    }

    /// Records one call.
    pub fn record(&self, call: Call<'_>) {
        self.counts[call.outcome as usize].fetch_add(1, Ordering::Relaxed);
        if !self.is_on() {
            return;
        }
        let entry = Arc::new(Entry {
            time: now_rfc3339(),
            caller: call.caller.to_string(),
            front: call.front,
            method: call.method.to_string(),
            server: call.server.to_string(),
            tool: call.tool.to_string(),
            duration_ms: (call.duration.as_secs_f64() * 1e6).round() / 1e3,
            outcome: call.outcome,
            request_bytes: call.request_bytes,
            response_bytes: call.response_bytes,
            arguments: call
                .arguments
                .filter(|_| self.settings.log_arguments)
                .map(redact),
            result: call
                .result
                .filter(|_| self.settings.log_results)
                .map(redact),
        });
        if let Some(sink) = &self.file {
            let mut line = serde_json::to_vec(&*entry).unwrap_or_default();
            line.push(b'\n');
            let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = sink.append(&line, &self.settings) {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!("cannot write the request log {}: {e}", sink.path.display());
                }
            }
        }
        // Ring and live readers under one lock, so `follow`'s backlog and its stream neither
        // overlap nor leave a gap.
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(Arc::clone(&entry));
        }
        if self.settings.memory_entries > 0 {
            if ring.len() == self.settings.memory_entries {
                ring.pop_front();
            }
            ring.push_back(entry);
        }
    }

    /// The newest `backlog` entries (oldest first) and a receiver of every entry recorded after
    /// them: a live view of the log. A reader that falls more than a few hundred entries behind
    /// gets `RecvError::Lagged` with the number it missed.
    pub fn follow(
        &self,
        backlog: usize,
    ) -> (
        Vec<Arc<Entry>>,
        tokio::sync::broadcast::Receiver<Arc<Entry>>,
    ) {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.live.subscribe();
        let skip = ring.len().saturating_sub(backlog);
        (ring.iter().skip(skip).cloned().collect(), rx)
    }

    /// Calls recorded since start, per outcome (also when the log itself is off).
    pub fn counts(&self) -> Vec<(Outcome, u64)> {
        Outcome::ALL
            .iter()
            .map(|o| (*o, self.counts[*o as usize].load(Ordering::Relaxed)))
            .collect()
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether records go anywhere (memory or file).
    pub fn is_on(&self) -> bool {
        self.settings.memory_entries > 0 || self.file.is_some()
    }

    /// The newest `limit` entries, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Arc<Entry>> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().rev().take(limit).cloned().collect()
    }

    /// The JSONL file, if any.
    pub fn file_path(&self) -> Option<&Path> {
        self.settings.file.as_deref()
    }
}

impl Sink {
    fn append(&mut self, line: &[u8], settings: &Settings) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(open_append(&self.path)?);
            self.size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        }
        let len = line.len() as u64;
        if self.size > 0 && self.size + len > settings.max_file_size {
            self.file = None;
            rotate(&self.path, settings.max_files)?;
            self.file = Some(open_append(&self.path)?);
            self.size = 0;
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(line)?;
            self.size += len;
        }
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// `log` → `log.1` → `log.2` … keeping `keep` rotated files (0: the old log is dropped).
fn rotate(path: &Path, keep: u32) -> std::io::Result<()> {
    let numbered = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(numbered(keep));
    for n in (1..keep).rev() {
        let from = numbered(n);
        if from.exists() {
            std::fs::rename(&from, numbered(n + 1))?;
        }
    }
    std::fs::rename(path, numbered(1))
}

/// Current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whether an object key names a secret (its value is never logged).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "authorization",
        "cookie",
        "credential",
        "private_key",
        "privatekey",
        "session",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// `value` with the values of secret-looking keys replaced by `"[redacted]"`, at any depth.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) {
                        Value::String("[redacted]".into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(dir: &Path) -> Settings {
        Settings {
            memory_entries: 3,
            file: Some(dir.join(FILE_NAME)),
            max_file_size: 600,
            max_files: 2,
            log_arguments: false,
            log_results: false,
        }
    }

    fn call<'a>(tool: &'a str, args: &'a Value) -> Call<'a> {
        Call {
            caller: "reader",
            front: "rest",
            method: "tools/call",
            server: "time",
            tool,
            duration: Duration::from_micros(1500),
            outcome: Outcome::Ok,
            request_bytes: 10,
            response_bytes: 20,
            arguments: Some(args),
            result: None,
        }
    }

    #[test]
    fn ring_is_bounded_and_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = RequestLog::new(settings(dir.path()));
        let args = json!({});
        for t in ["a", "b", "c", "d"] {
            log.record(call(t, &args));
        }
        let tools: Vec<_> = log.recent(10).iter().map(|e| e.tool.clone()).collect();
        assert_eq!(tools, ["d", "c", "b"]);
        assert_eq!(log.recent(1)[0].duration_ms, 1.5);
    }

    #[test]
    fn follow_gives_the_backlog_then_every_new_entry_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = RequestLog::new(settings(dir.path()));
        let args = json!({});
        for t in ["a", "b", "c"] {
            log.record(call(t, &args));
        }
        let (backlog, mut rx) = log.follow(2);
        let names: Vec<_> = backlog.iter().map(|e| e.tool.clone()).collect();
        assert_eq!(names, ["b", "c"]);
        log.record(call("d", &args));
        assert_eq!(rx.try_recv().unwrap().tool, "d");
        assert!(rx.try_recv().is_err());
        // A reader that falls behind is told how many it missed.
        for i in 0..LIVE_BUFFER + 5 {
            log.record(call(&format!("t{i}"), &args));
        }
        assert!(matches!(
            rx.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(5))
        ));
    }

    #[test]
    fn file_rotates_by_size_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = RequestLog::new(settings(dir.path()));
        let args = json!({});
        for i in 0..40 {
            log.record(call(&format!("tool{i}"), &args));
        }
        let cur = dir.path().join(FILE_NAME);
        assert!(std::fs::metadata(&cur).unwrap().len() <= 600);
        assert!(dir.path().join("requests.jsonl.1").exists());
        assert!(dir.path().join("requests.jsonl.2").exists());
        assert!(!dir.path().join("requests.jsonl.3").exists());
        // Every line is a complete JSON record; the newest is last in the current file.
        let text = std::fs::read_to_string(&cur).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["tool"], "tool39");
        assert_eq!(last["outcome"], "ok");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&cur).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn arguments_only_with_the_switch_and_never_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let args = json!({"path": "/tmp", "nested": {"api_key": "sk-live-123", "Password": "x"},
                          "list": [{"token": "t0k"}]});
        let off = RequestLog::new(settings(dir.path()));
        off.record(call("a", &args));
        assert!(off.recent(1)[0].arguments.is_none());
        let on = RequestLog::new(Settings {
            log_arguments: true,
            file: None,
            ..settings(dir.path())
        });
        on.record(call("a", &args));
        let logged = serde_json::to_string(&on.recent(1)[0].arguments).unwrap();
        assert!(logged.contains("/tmp"));
        for secret in ["sk-live-123", "t0k", "\"x\""] {
            assert!(!logged.contains(secret), "{logged}");
        }
    }

    #[test]
    fn time_is_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.contains('T'), "{t}");
    }
}
