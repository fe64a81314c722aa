//! Usage profiles: per tool, how often it was called, how calls ended, how long they took and
//! when it was last used; persisted in the state dir (`usage-profiles.json`).
//!
//! This is the one place that counts tool calls: `mcp-gateway stats`, the JSON metrics, the
//! Prometheus tool families and the search ranking's usage prior all read it. Recording is a
//! read-locked map lookup plus atomic adds (a write lock only the first time a tool is seen).
//! Saving merges: under an advisory lock it reads the file, adds what this process recorded
//! since its last save and writes the sum atomically, so several gateways sharing one state dir
//! (one per AI client) add up instead of overwriting each other.
//!
//! It keeps no arguments, results or callers; only names, counts and durations. The number of
//! profiled tools is capped ([`MAX_TOOLS`]): a tool first seen beyond the cap is counted under
//! its server's [`OTHER_TOOL`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::histogram::{BOUNDS, Histogram, Latency, UPPER_US};
use crate::state::{FileLock, write_atomic};

/// File name of the profiles inside the state dir.
pub const FILE: &str = "usage-profiles.json";
/// The file of the search usage counts that profiles replaced; read once if no profiles exist.
pub const LEGACY_USAGE_FILE: &str = "search-usage.json";
/// The lock file taken while the profiles file is read, merged and written.
const LOCK_FILE: &str = "usage-profiles.lock";
/// Distinct tools profiled at most (a state file stays well under a few MB).
pub const MAX_TOOLS: usize = 4096;
/// Where calls of tools first seen beyond [`MAX_TOOLS`] are counted (no tool can be named so:
/// MCP tool names do not contain parentheses).
pub const OTHER_TOOL: &str = "(other)";

/// How one forwarded call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The backend answered with a result that is not `isError`.
    Ok,
    /// The backend answered with an `isError: true` result.
    ToolError,
    /// The gateway or the way to the backend failed it (timeout, transport, backend down,
    /// JSON-RPC error from the backend).
    Error,
    /// The client cancelled it.
    Cancelled,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 4] = [
        CallOutcome::Ok,
        CallOutcome::ToolError,
        CallOutcome::Error,
        CallOutcome::Cancelled,
    ];

    /// The label used in metrics: `ok`, `tool_error`, `error`, `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::ToolError => "tool_error",
            CallOutcome::Error => "error",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// Why the profiles could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("reading usage profiles {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("usage profiles {path} are not valid JSON at line {line}: {source}")]
    Parse {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("writing usage profiles {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One tool's profile at one moment (what is saved, merged and shown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolData {
    pub ok: u64,
    pub tool_errors: u64,
    pub errors: u64,
    pub cancelled: u64,
    /// Milliseconds since the Unix epoch (0: never).
    pub last_used_ms: u64,
    pub latency: Latency,
}

impl ToolData {
    /// Every call, however it ended.
    pub fn calls(&self) -> u64 {
        self.ok + self.tool_errors + self.errors + self.cancelled
    }

    /// Calls that reached the tool (what the search ranking's usage prior counts).
    pub fn reached(&self) -> u64 {
        self.ok + self.tool_errors
    }

    /// Count per outcome, in [`CallOutcome::ALL`] order.
    pub fn by_outcome(&self) -> [(CallOutcome, u64); 4] {
        [
            (CallOutcome::Ok, self.ok),
            (CallOutcome::ToolError, self.tool_errors),
            (CallOutcome::Error, self.errors),
            (CallOutcome::Cancelled, self.cancelled),
        ]
    }

    fn minus(&self, earlier: &ToolData) -> ToolData {
        ToolData {
            ok: self.ok.saturating_sub(earlier.ok),
            tool_errors: self.tool_errors.saturating_sub(earlier.tool_errors),
            errors: self.errors.saturating_sub(earlier.errors),
            cancelled: self.cancelled.saturating_sub(earlier.cancelled),
            last_used_ms: self.last_used_ms,
            latency: self.latency.minus(&earlier.latency),
        }
    }

    fn merge(&mut self, other: &ToolData) {
        self.ok += other.ok;
        self.tool_errors += other.tool_errors;
        self.errors += other.errors;
        self.cancelled += other.cancelled;
        self.last_used_ms = self.last_used_ms.max(other.last_used_ms);
        self.latency.merge(&other.latency);
    }
}

/// One tool's profile being recorded.
#[derive(Debug, Default)]
struct ToolProfile {
    counts: [AtomicU64; 4],
    last_used_ms: AtomicU64,
    latency: Histogram,
}

impl ToolProfile {
    fn record(&self, outcome: CallOutcome, duration: Duration, now_ms: u64) {
        self.counts[outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.latency
            .record(u64::try_from(duration.as_micros()).unwrap_or(u64::MAX));
        self.last_used_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    fn add(&self, data: &ToolData) {
        for (outcome, n) in data.by_outcome() {
            self.counts[outcome as usize].fetch_add(n, Ordering::Relaxed);
        }
        self.last_used_ms
            .fetch_max(data.last_used_ms, Ordering::Relaxed);
        self.latency.add(&data.latency);
    }

    fn snapshot(&self) -> ToolData {
        let c = |o: CallOutcome| self.counts[o as usize].load(Ordering::Relaxed);
        ToolData {
            ok: c(CallOutcome::Ok),
            tool_errors: c(CallOutcome::ToolError),
            errors: c(CallOutcome::Error),
            cancelled: c(CallOutcome::Cancelled),
            last_used_ms: self.last_used_ms.load(Ordering::Relaxed),
            latency: self.latency.snapshot(),
        }
    }
}

type Table = HashMap<String, HashMap<String, Arc<ToolProfile>>>;

/// One tool's profile, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolStats {
    pub server: String,
    pub tool: String,
    pub data: ToolData,
}

impl ToolStats {
    /// The JSON shape of one tool's profile (`mcp-gateway stats --json` and the `tools` of
    /// `GET /api/v1/metrics`): counts per outcome, latency in milliseconds (`null` without
    /// calls), last use as RFC 3339 UTC (`null`: never).
    pub fn to_json(&self) -> serde_json::Value {
        let d = &self.data;
        let ms = |us: u64| us as f64 / 1000.0;
        let latency = (d.latency.count() > 0).then(|| {
            serde_json::json!({
                "p50": d.latency.quantile_us(0.5).map(ms),
                "p95": d.latency.quantile_us(0.95).map(ms),
                "min": ms(d.latency.min_us),
                "max": ms(d.latency.max_us),
                "mean": ms(d.latency.sum_us / d.latency.count()),
            })
        });
        serde_json::json!({
            "server": self.server,
            "tool": self.tool,
            "calls": d.calls(),
            "ok": d.ok,
            "tool_errors": d.tool_errors,
            "errors": d.errors,
            "cancelled": d.cancelled,
            "latency_ms": latency,
            "last_used": rfc3339(d.last_used_ms),
        })
    }
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds (`None` for 0: never).
pub fn rfc3339(ms: u64) -> Option<String> {
    if ms == 0 {
        return None;
    }
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Every tool's profile (see the module doc).
#[derive(Debug, Default)]
pub struct Profiles {
    tools: RwLock<Table>,
    count: AtomicU64,
    dirty: AtomicBool,
    /// What the file holds of this process's counts: everything up to the last save.
    saved: Mutex<HashMap<(String, String), ToolData>>,
}

impl Profiles {
    /// Where the profiles live: `$XDG_STATE_HOME/mcp-gateway/usage-profiles.json`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE)
    }

    /// Reads the profiles of `state_dir`; a missing file is empty profiles (or, once, the search
    /// usage counts they replaced, as calls without latency).
    pub fn load(state_dir: &Path) -> Result<Profiles, ProfileError> {
        let data = read_file(state_dir)?;
        let profiles = Profiles::default();
        let mut saved = HashMap::new();
        for s in data {
            profiles.profile(&s.server, &s.tool).add(&s.data);
            saved.insert((s.server, s.tool), s.data);
        }
        *profiles.saved.lock().unwrap_or_else(|e| e.into_inner()) = saved;
        Ok(profiles)
    }

    /// Records one forwarded call of `server`/`tool`.
    pub fn record(&self, server: &str, tool: &str, outcome: CallOutcome, duration: Duration) {
        let now = now_ms();
        let known = {
            let tools = self.tools.read().unwrap_or_else(|e| e.into_inner());
            tools.get(server).and_then(|t| t.get(tool)).cloned()
        };
        let profile = known.unwrap_or_else(|| self.profile(server, tool));
        profile.record(outcome, duration, now);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The profile of `server`/`tool`, created if new (under its server's [`OTHER_TOOL`] beyond
    /// the cap).
    fn profile(&self, server: &str, tool: &str) -> Arc<ToolProfile> {
        let mut tools = self.tools.write().unwrap_or_else(|e| e.into_inner());
        let full = self.count.load(Ordering::Relaxed) as usize >= MAX_TOOLS;
        let of_server = tools.entry(server.to_string()).or_default();
        if let Some(p) = of_server.get(tool) {
            return Arc::clone(p);
        }
        let name = if full { OTHER_TOOL } else { tool };
        Arc::clone(of_server.entry(name.to_string()).or_insert_with(|| {
            self.count.fetch_add(1, Ordering::Relaxed);
            Arc::default()
        }))
    }

    /// Calls of `server`/`tool` that reached it (ok or `isError`): the usage prior's count.
    pub fn reached(&self, server: &str, tool: &str) -> u64 {
        let tools = self.tools.read().unwrap_or_else(|e| e.into_inner());
        tools.get(server).and_then(|t| t.get(tool)).map_or(0, |p| {
            p.counts[CallOutcome::Ok as usize].load(Ordering::Relaxed)
                + p.counts[CallOutcome::ToolError as usize].load(Ordering::Relaxed)
        })
    }

    /// Every profile, by server then tool.
    pub fn snapshot(&self) -> Vec<ToolStats> {
        let tools = self.tools.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<ToolStats> = tools
            .iter()
            .flat_map(|(server, t)| {
                t.iter().map(|(tool, p)| ToolStats {
                    server: server.clone(),
                    tool: tool.clone(),
                    data: p.snapshot(),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.server, &a.tool).cmp(&(&b.server, &b.tool)));
        out
    }

    /// Adds what was recorded since the last save to the file in `state_dir` (see the module
    /// doc); does nothing when nothing was recorded.
    pub fn save(&self, state_dir: &Path) -> Result<(), ProfileError> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let path = Self::path(state_dir);
        let write_err = |source| ProfileError::Write {
            path: path.clone(),
            source,
        };
        crate::state::create_private_dir_all(state_dir).map_err(write_err)?;
        let result = (|| {
            let _lock = FileLock::exclusive(&state_dir.join(LOCK_FILE)).map_err(write_err)?;
            let now = self.snapshot();
            let mut on_disk: BTreeMap<(String, String), ToolData> = read_file(state_dir)?
                .into_iter()
                .map(|s| ((s.server, s.tool), s.data))
                .collect();
            let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
            for s in &now {
                let key = (s.server.clone(), s.tool.clone());
                let delta = match saved.get(&key) {
                    Some(before) => s.data.minus(before),
                    None => s.data.clone(),
                };
                if delta.calls() > 0 {
                    on_disk.entry(key.clone()).or_default().merge(&delta);
                }
                saved.insert(key, s.data.clone());
            }
            write_atomic(&path, &encode(&on_disk)).map_err(write_err)
        })();
        if result.is_err() {
            self.dirty.store(true, Ordering::Relaxed);
        }
        result
    }
}

/// Reads the profiles file of `state_dir` (for `mcp-gateway stats`), by server then tool.
pub fn read_file(state_dir: &Path) -> Result<Vec<ToolStats>, ProfileError> {
    let path = Profiles::path(state_dir);
    let Some(text) = read_optional(&path)? else {
        return read_legacy(state_dir);
    };
    let file: FileFormat = serde_json::from_str(&text).map_err(|source| ProfileError::Parse {
        path: path.clone(),
        line: source.line(),
        source,
    })?;
    let mut out = Vec::new();
    for (server, tools) in file.servers {
        for (tool, t) in tools {
            out.push(ToolStats {
                server: server.clone(),
                tool,
                data: t.into_data(),
            });
        }
    }
    Ok(out)
}

fn read_optional(path: &Path) -> Result<Option<String>, ProfileError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProfileError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The search usage counts of earlier versions (`{"servers": {server: {tool: count}}}`), as ok
/// calls without latency.
fn read_legacy(state_dir: &Path) -> Result<Vec<ToolStats>, ProfileError> {
    #[derive(Deserialize)]
    struct Legacy {
        #[serde(default)]
        servers: BTreeMap<String, BTreeMap<String, u64>>,
    }
    let path = state_dir.join(LEGACY_USAGE_FILE);
    let Some(text) = read_optional(&path)? else {
        return Ok(Vec::new());
    };
    let legacy: Legacy = serde_json::from_str(&text).map_err(|source| ProfileError::Parse {
        path: path.clone(),
        line: source.line(),
        source,
    })?;
    Ok(legacy
        .servers
        .into_iter()
        .flat_map(|(server, tools)| {
            tools.into_iter().map(move |(tool, n)| ToolStats {
                server: server.clone(),
                tool,
                data: ToolData {
                    ok: n,
                    ..ToolData::default()
                },
            })
        })
        .collect())
}

/// The file: `{"version": 1, "servers": {server: {tool: {...}}}}`; latency buckets are keyed
/// by their upper bound in microseconds (`"+Inf"` for the overflow), only non-empty ones.
#[derive(Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    servers: BTreeMap<String, BTreeMap<String, FileTool>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct FileTool {
    ok: u64,
    tool_errors: u64,
    errors: u64,
    cancelled: u64,
    last_used_ms: u64,
    latency_sum_us: u64,
    latency_min_us: u64,
    latency_max_us: u64,
    latency_buckets: BTreeMap<String, u64>,
}

impl FileTool {
    fn from_data(d: &ToolData) -> FileTool {
        let latency_buckets = d
            .latency
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                let key = UPPER_US.get(i).map_or("+Inf".to_string(), u64::to_string);
                (key, *n)
            })
            .collect();
        FileTool {
            ok: d.ok,
            tool_errors: d.tool_errors,
            errors: d.errors,
            cancelled: d.cancelled,
            last_used_ms: d.last_used_ms,
            latency_sum_us: d.latency.sum_us,
            latency_min_us: d.latency.min_us,
            latency_max_us: d.latency.max_us,
            latency_buckets,
        }
    }

    fn into_data(self) -> ToolData {
        let mut latency = Latency {
            sum_us: self.latency_sum_us,
            min_us: self.latency_min_us,
            max_us: self.latency_max_us,
            ..Latency::default()
        };
        for (key, n) in self.latency_buckets {
            // A bound this build does not have goes to the first bucket that holds it.
            let i = key
                .parse::<u64>()
                .map_or(BOUNDS, super::histogram::bucket_of);
            latency.buckets[i] += n;
        }
        ToolData {
            ok: self.ok,
            tool_errors: self.tool_errors,
            errors: self.errors,
            cancelled: self.cancelled,
            last_used_ms: self.last_used_ms,
            latency,
        }
    }
}

fn encode(data: &BTreeMap<(String, String), ToolData>) -> Vec<u8> {
    let mut file = FileFormat {
        version: 1,
        servers: BTreeMap::new(),
    };
    for ((server, tool), d) in data {
        file.servers
            .entry(server.clone())
            .or_default()
            .insert(tool.clone(), FileTool::from_data(d));
    }
    serde_json::to_vec_pretty(&file).unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mcpgw-profiles-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_outcomes_and_latency_per_tool() {
        let p = Profiles::default();
        p.record("time", "now", CallOutcome::Ok, Duration::from_millis(3));
        p.record(
            "time",
            "now",
            CallOutcome::ToolError,
            Duration::from_millis(5),
        );
        p.record("time", "now", CallOutcome::Error, Duration::from_millis(7));
        p.record(
            "git",
            "log",
            CallOutcome::Cancelled,
            Duration::from_millis(1),
        );
        let s = p.snapshot();
        assert_eq!(s.len(), 2);
        let now = &s[1];
        assert_eq!((now.server.as_str(), now.tool.as_str()), ("time", "now"));
        assert_eq!(
            (now.data.ok, now.data.tool_errors, now.data.errors),
            (1, 1, 1)
        );
        assert_eq!(now.data.calls(), 3);
        assert_eq!(now.data.latency.count(), 3);
        assert_eq!(now.data.latency.min_us, 3000);
        assert_eq!(now.data.latency.max_us, 7000);
        assert!(now.data.last_used_ms > 0);
        assert_eq!(p.reached("time", "now"), 2);
        assert_eq!(p.reached("time", "later"), 0);
    }

    #[test]
    fn saves_merge_with_other_processes_and_survive_a_reload() {
        let d = dir("merge");
        let a = Profiles::load(&d).unwrap();
        let b = Profiles::load(&d).unwrap();
        a.record("s", "t", CallOutcome::Ok, Duration::from_millis(2));
        a.save(&d).unwrap();
        b.record("s", "t", CallOutcome::Ok, Duration::from_millis(4));
        b.record("s", "u", CallOutcome::Error, Duration::from_millis(4));
        b.save(&d).unwrap();
        a.record("s", "t", CallOutcome::ToolError, Duration::from_millis(8));
        a.save(&d).unwrap();
        // Saving again without new calls changes nothing.
        a.save(&d).unwrap();
        b.save(&d).unwrap();
        let back = read_file(&d).unwrap();
        let t = back.iter().find(|s| s.tool == "t").unwrap();
        assert_eq!((t.data.ok, t.data.tool_errors), (2, 1));
        assert_eq!(t.data.latency.count(), 3);
        assert_eq!(t.data.latency.min_us, 2000);
        assert_eq!(t.data.latency.max_us, 8000);
        let u = back.iter().find(|s| s.tool == "u").unwrap();
        assert_eq!(u.data.errors, 1);
        let reloaded = Profiles::load(&d).unwrap();
        assert_eq!(reloaded.reached("s", "t"), 3);
        assert_eq!(reloaded.snapshot()[0].data.latency, t.data.latency);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn old_search_usage_counts_are_read_once_and_bad_json_names_the_line() {
        let d = dir("legacy");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join(LEGACY_USAGE_FILE),
            r#"{"version":1,"servers":{"github":{"create_issue":7}}}"#,
        )
        .unwrap();
        let p = Profiles::load(&d).unwrap();
        assert_eq!(p.reached("github", "create_issue"), 7);
        std::fs::write(Profiles::path(&d), "{\n  oops").unwrap();
        let err = Profiles::load(&d).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains(FILE), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn tools_beyond_the_cap_share_their_servers_other_profile() {
        let p = Profiles::default();
        for i in 0..MAX_TOOLS + 50 {
            p.record("s", &format!("t{i}"), CallOutcome::Ok, Duration::ZERO);
        }
        p.record("s", "t0", CallOutcome::Ok, Duration::ZERO);
        let s = p.snapshot();
        assert_eq!(s.len(), MAX_TOOLS + 1);
        let other = s.iter().find(|s| s.tool == OTHER_TOOL).unwrap();
        assert_eq!(other.data.ok, 50);
        assert_eq!(p.reached("s", "t0"), 2);
    }
}
