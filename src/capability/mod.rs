//! REST APIs as MCP tools, described by YAML capability files.
//!
//! Owns the capability backend: finding and parsing capability files ([`CapabilitySet::load`]),
//! serving them as MCP `Tool`s, calling them ([`CapabilitySet::call`], via `http`), pinning files
//! against silent changes ([`PinStore`]), watching directories for live reload ([`watch`]) and
//! importing OpenAPI specs (`openapi`). A file with an error is reported as a [`LoadProblem`]
//! (file, line, key) and skipped without affecting the others.
//!
//! It never panics on a file or an argument, never writes into capability directories (except
//! `cap import` writing its `--output`), and never talks to the gateway's clients directly: the
//! gateway decides when to reload and how to announce `list_changed`. Tool descriptions are not
//! scanned here; the gateway scans every tool it serves (see `crate::scanner`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::config::{ConfigError, yaml};

pub mod definition;
pub mod http;
pub mod openapi;
pub mod pins;
pub mod schema;
pub mod server;
pub mod template;
pub mod watch;

pub use definition::Capability;
pub use pins::{PinError, PinRecord, PinStatus, PinStore};
pub use template::{EnvSource, MapEnv, ProcessEnv};
pub use watch::{WatchError, Watcher, watch};

/// Default backend name of the capabilities in the catalog.
pub const DEFAULT_BACKEND_NAME: &str = "capabilities";

/// What kind of problem a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Cannot be read, is not valid YAML, or is not a valid capability.
    Invalid,
    /// Pinned, and its content changed since it was approved: quarantined until approved again.
    ChangedSinceApproval,
}

/// One file that was not loaded, and why.
pub type LoadProblem = crate::config::FileProblem<ProblemKind>;

/// A capability file that is pinned and changed: not loaded until approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub file: PathBuf,
    /// Tool names recorded when the file was approved.
    pub names: Vec<String>,
    pub approved_sha256: String,
    pub actual_sha256: String,
}

impl Quarantined {
    /// Why `tool` (one of [`Quarantined::names`]) is not served.
    pub fn reason(&self, tool: &str) -> String {
        format!(
            "`{tool}` is quarantined: {} changed since approval; run `mcp-gateway cap approve {tool}` after reviewing it",
            self.file.display()
        )
    }
}

/// A loaded capability and the file it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub capability: Arc<Capability>,
    pub file: PathBuf,
}

/// The capabilities found in a set of directories, ready to list and call.
#[derive(Debug, Clone)]
pub struct CapabilitySet {
    by_name: BTreeMap<String, Loaded>,
    quarantined: Vec<Quarantined>,
    env: Arc<dyn EnvSource>,
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

impl Default for CapabilitySet {
    fn default() -> Self {
        CapabilitySet {
            by_name: BTreeMap::new(),
            quarantined: Vec::new(),
            env: Arc::new(ProcessEnv),
            client: Arc::new(OnceLock::new()),
        }
    }
}

/// Is `path` an editor's temp or backup file rather than a capability?
pub fn is_temp_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.ends_with(".bak")
        || name == "4913"
}

/// Is `path` a capability file by name (`*.yaml`/`*.yml`, not a temp file)?
pub fn is_capability_file(path: &Path) -> bool {
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    yaml && !is_temp_file(path)
}

/// Capability files under `dir` (recursively, sorted). Hidden directories are skipped.
pub fn find_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            let is_dir = ft.is_dir() || (ft.is_symlink() && path.is_dir());
            if is_dir {
                if !path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                {
                    stack.push(path);
                }
            } else if is_capability_file(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Parses capability text as read from `file`. Errors carry line and key.
pub fn parse_text(text: &str, file: &Path) -> Result<Capability, LoadProblem> {
    let problem = |line: Option<usize>, key: Option<String>, message: String| LoadProblem {
        file: file.to_path_buf(),
        line,
        key,
        message,
        kind: ProblemKind::Invalid,
    };
    let tree = yaml::parse(text, file).map_err(|e| match e {
        ConfigError::Syntax { line, message, .. } => problem(
            (line > 0).then_some(line),
            None,
            format!("not valid YAML: {message}"),
        ),
        other => problem(None, None, format!("not valid YAML: {other}")),
    })?;
    definition::parse(&document(&tree)).map_err(|e| {
        let line = tree.locate(&e.key).map(|p| p.line);
        let key = (!e.key.is_empty()).then_some(e.key);
        problem(line, key, e.message)
    })
}

/// Keys of `providers.*.config` whose values are sent as written (query, headers, body).
const WIRE_KEYS: &[&str] = &["static_params", "params", "headers", "body"];

/// The capability document as JSON. Values sent on the wire keep their spelling (`1.10`, `0755`
/// stay text); everything else (the JSON Schema, timeouts, sizes) reads numbers as numbers.
fn document(tree: &yaml::Node) -> Value {
    let mut doc = tree.to_json();
    let Some(yaml::Value::Map(providers)) = tree.get("providers").map(|n| &n.value) else {
        return doc;
    };
    for (name, provider) in providers {
        let Some(config) = provider.get("config") else {
            continue;
        };
        for key in WIRE_KEYS {
            if let (Some(node), Some(slot)) = (
                config.get(key),
                doc.pointer_mut(&format!(
                    "/providers/{}/config/{key}",
                    pointer_escape(&name.name)
                )),
            ) {
                *slot = node.to_json_as_written();
            }
        }
    }
    doc
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The line of the dotted `key` in capability text (of its nearest ancestor when absent).
fn line_of(text: &str, file: &Path, key: &str) -> Option<usize> {
    let tree = yaml::parse(text, file).ok()?;
    tree.locate(key).map(|p| p.line)
}

/// Reads and parses one file (ignoring pins).
pub fn load_file(file: &Path) -> Result<Capability, LoadProblem> {
    let text = std::fs::read_to_string(file).map_err(|e| LoadProblem {
        file: file.to_path_buf(),
        line: None,
        key: None,
        message: format!("cannot read: {e}"),
        kind: ProblemKind::Invalid,
    })?;
    parse_text(&text, file)
}

impl CapabilitySet {
    /// Loads every capability file under `dirs`, honouring `pins`. Files with problems are
    /// skipped and reported; pinned files that changed are quarantined (reported with
    /// [`ProblemKind::ChangedSinceApproval`] and listed by [`CapabilitySet::quarantined`]).
    pub fn load(dirs: &[PathBuf], pins: &PinStore) -> (CapabilitySet, Vec<LoadProblem>) {
        let mut set = CapabilitySet::default();
        let mut problems = Vec::new();
        for dir in dirs {
            let files = match find_files(dir) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(LoadProblem {
                        file: dir.clone(),
                        line: None,
                        key: None,
                        message: format!("cannot read capability directory: {e}"),
                        kind: ProblemKind::Invalid,
                    });
                    continue;
                }
            };
            for file in files {
                set.load_one(&file, pins, &mut problems);
            }
        }
        for p in &problems {
            tracing::warn!(problem = %p, "capability file skipped");
        }
        (set, problems)
    }

    fn load_one(&mut self, file: &Path, pins: &PinStore, problems: &mut Vec<LoadProblem>) {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            // Deleted between listing and reading (an editor's save in progress): not a problem.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                problems.push(LoadProblem {
                    file: file.to_path_buf(),
                    line: None,
                    key: None,
                    message: format!("cannot read: {e}"),
                    kind: ProblemKind::Invalid,
                });
                return;
            }
        };
        if let PinStatus::Changed { approved, actual } = pins.check(file, &bytes) {
            let names = pins
                .entries()
                .find(|(p, _)| *p == pins::pin_key(file))
                .map(|(_, r)| r.names.clone())
                .unwrap_or_default();
            let approve_hint = names
                .first()
                .cloned()
                .unwrap_or_else(|| file.display().to_string());
            problems.push(LoadProblem {
                file: file.to_path_buf(),
                line: None,
                key: None,
                message: format!(
                    "changed since approval (approved sha256 {}…, now {}…); not loaded until \
                     `mcp-gateway cap approve {approve_hint}`",
                    &approved[..12.min(approved.len())],
                    &actual[..12.min(actual.len())]
                ),
                kind: ProblemKind::ChangedSinceApproval,
            });
            self.quarantined.push(Quarantined {
                file: file.to_path_buf(),
                names,
                approved_sha256: approved,
                actual_sha256: actual,
            });
            return;
        }
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                problems.push(LoadProblem {
                    file: file.to_path_buf(),
                    line: None,
                    key: None,
                    message: "not UTF-8 text".to_string(),
                    kind: ProblemKind::Invalid,
                });
                return;
            }
        };
        match parse_text(&text, file) {
            Ok(cap) => {
                if let Some(existing) = self.by_name.get(&cap.name) {
                    problems.push(LoadProblem {
                        file: file.to_path_buf(),
                        line: line_of(&text, file, "name"),
                        key: Some("name".into()),
                        message: format!(
                            "`{}` is already defined by {}",
                            cap.name,
                            existing.file.display()
                        ),
                        kind: ProblemKind::Invalid,
                    });
                    return;
                }
                self.by_name.insert(
                    cap.name.clone(),
                    Loaded {
                        capability: Arc::new(cap),
                        file: file.to_path_buf(),
                    },
                );
            }
            Err(p) => problems.push(p),
        }
    }

    /// Reads secrets and `${VAR}` values from `env` instead of the process environment.
    pub fn with_env(mut self, env: Arc<dyn EnvSource>) -> CapabilitySet {
        self.env = env;
        self
    }

    /// The MCP `Tool` objects, sorted by name.
    pub fn tools(&self) -> Vec<Value> {
        self.by_name.values().map(|l| l.capability.tool()).collect()
    }

    /// Loaded capabilities by name.
    pub fn get(&self, name: &str) -> Option<&Loaded> {
        self.by_name.get(name)
    }

    /// Number of loaded capabilities.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Files held back because they changed since approval.
    pub fn quarantined(&self) -> &[Quarantined] {
        &self.quarantined
    }

    /// Calls `tool` with `arguments`; the result is an MCP `CallToolResult`. Unknown tools,
    /// quarantined tools and every request failure are `isError: true` results.
    pub async fn call(&self, tool: &str, arguments: Value) -> Value {
        let Some(loaded) = self.by_name.get(tool) else {
            let message = if let Some(q) = self
                .quarantined
                .iter()
                .find(|q| q.names.iter().any(|n| n == tool))
            {
                q.reason(tool)
            } else {
                let hint = crate::suggest::hint(tool, self.by_name.keys().map(String::as_str));
                format!("no capability named `{tool}`{hint}")
            };
            return serde_json::json!({
                "content": [{"type": "text", "text": message}],
                "isError": true,
            });
        };
        let client = self.client.get_or_init(|| {
            crate::outbound::client_builder()
                .user_agent(concat!("mcp-gateway/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        });
        match client {
            Ok(c) => http::call(&loaded.capability, c, self.env.as_ref(), &arguments).await,
            Err(e) => serde_json::json!({
                "content": [{"type": "text", "text": format!("cannot start the HTTP client: {e}")}],
                "isError": true,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
