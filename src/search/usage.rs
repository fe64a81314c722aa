//! The usage prior: how often this user invoked each tool, persisted in the XDG state dir.
//!
//! Owns the counts, their file format and the bounded boost derived from them. The boost is
//! capped (see [`UsageCounts::factor`]) so it only breaks near-ties and can never lift a tool past
//! a clearly better textual match. It never stores queries or arguments, only counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::state::{Paths, write_atomic};

/// File name of the counts inside the state dir.
pub const USAGE_FILE: &str = "search-usage.json";

/// Why the usage file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("reading usage counts {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("usage counts {path} are not valid JSON at line {line}: {source}")]
    Parse {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("encoding usage counts for {path}: {source}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("writing usage counts {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Invocation counts per server and tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageCounts {
    version: u32,
    servers: BTreeMap<String, BTreeMap<String, u64>>,
}

impl UsageCounts {
    /// Where the counts live: `$XDG_STATE_HOME/mcp-gateway/search-usage.json`.
    pub fn path(paths: &Paths) -> PathBuf {
        paths.state_dir.join(USAGE_FILE)
    }

    /// Reads the counts; a missing file is an empty set of counts.
    pub fn load(path: &Path) -> Result<UsageCounts, UsageError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(UsageError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|source| UsageError::Parse {
            path: path.to_path_buf(),
            line: source.line(),
            source,
        })
    }

    /// Writes the counts atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), UsageError> {
        let mut copy = self.clone();
        copy.version = 1;
        let bytes = serde_json::to_vec_pretty(&copy).map_err(|source| UsageError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
        write_atomic(path, &bytes).map_err(|source| UsageError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Counts one invocation.
    pub fn record(&mut self, server: &str, tool: &str) {
        *self
            .servers
            .entry(server.to_string())
            .or_default()
            .entry(tool.to_string())
            .or_default() += 1;
    }

    /// How often `server`/`tool` was invoked.
    pub fn count(&self, server: &str, tool: &str) -> u64 {
        self.servers
            .get(server)
            .and_then(|t| t.get(tool))
            .copied()
            .unwrap_or(0)
    }

    /// Multiplier for a tool's text score: 1 for unused tools, rising with the log of the count
    /// and approaching `1 + max_boost` (never reaching it).
    pub fn factor(&self, server: &str, tool: &str, max_boost: f32) -> f32 {
        let c = self.count(server, tool) as f32;
        if c == 0.0 {
            return 1.0;
        }
        1.0 + max_boost * (1.0 - 1.0 / (1.0 + c.ln_1p()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_is_bounded_and_monotone() {
        let mut u = UsageCounts::default();
        assert_eq!(u.factor("s", "t", 0.1), 1.0);
        u.record("s", "t");
        let one = u.factor("s", "t", 0.1);
        for _ in 0..10_000 {
            u.record("s", "t");
        }
        let many = u.factor("s", "t", 0.1);
        assert!(1.0 < one && one < many && many < 1.1, "{one} {many}");
    }

    #[test]
    fn round_trips_through_a_file_and_tolerates_absence() {
        let dir = std::env::temp_dir().join(format!("mcpgw-usage-{}", std::process::id()));
        let path = dir.join(USAGE_FILE);
        assert_eq!(UsageCounts::load(&path).unwrap(), UsageCounts::default());
        let mut u = UsageCounts::default();
        u.record("github", "create_issue");
        u.record("github", "create_issue");
        u.save(&path).unwrap();
        let back = UsageCounts::load(&path).unwrap();
        assert_eq!(back.count("github", "create_issue"), 2);
        std::fs::write(&path, "{\n  oops").unwrap();
        let err = UsageCounts::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
