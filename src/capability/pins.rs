//! SHA-256 pins of capability files, kept in a lock file in the XDG state dir.
//!
//! Owns `capability-pins.json` (under `Paths::state_dir`): which files are pinned, their approved
//! hash and the tool names they held. A pinned file whose content changed is "changed since
//! approval" until approved again. It never edits capability files themselves and never loads
//! them; the loader asks [`PinStore::check`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File name of the lock file inside the state dir.
pub const LOCK_FILE: &str = "capability-pins.json";

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the pin lock file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the pin lock file {} is corrupt: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("nothing pinned matches `{0}` (give a capability name or a pinned file path)")]
    NotPinned(String),
}

/// One pinned file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    /// Hex SHA-256 of the approved content.
    pub sha256: String,
    /// Tool names the file defined when approved (for `cap approve NAME`).
    #[serde(default)]
    pub names: Vec<String>,
    /// Seconds since the Unix epoch when approved.
    #[serde(default)]
    pub approved_at: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LockFile {
    version: u32,
    files: BTreeMap<PathBuf, PinRecord>,
}

/// What the pins say about a file's current content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinStatus {
    Unpinned,
    Approved,
    /// Pinned, and the content differs from what was approved.
    Changed {
        approved: String,
        actual: String,
    },
}

/// The pin lock file (or an in-memory store when `path` is `None`).
#[derive(Debug, Default, Clone)]
pub struct PinStore {
    path: Option<PathBuf>,
    files: BTreeMap<PathBuf, PinRecord>,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The key a file is pinned under: its absolute, canonical path when it exists.
pub fn pin_key(file: &Path) -> PathBuf {
    std::fs::canonicalize(file).unwrap_or_else(|_| {
        if file.is_absolute() {
            file.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(file))
                .unwrap_or_else(|_| file.to_path_buf())
        }
    })
}

impl PinStore {
    /// A store that lives only in memory (nothing pinned, nothing saved).
    pub fn in_memory() -> PinStore {
        PinStore::default()
    }

    /// Opens the lock file in the state dir (missing: nothing pinned yet).
    pub fn open(paths: &crate::state::Paths) -> Result<PinStore, PinError> {
        PinStore::open_at(paths.state_dir.join(LOCK_FILE))
    }

    /// Opens the lock file at `path`.
    pub fn open_at(path: PathBuf) -> Result<PinStore, PinError> {
        let files = match std::fs::read(&path) {
            Ok(bytes) => {
                let lock: LockFile =
                    serde_json::from_slice(&bytes).map_err(|e| PinError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                lock.files
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(PinError::Read { path, source }),
        };
        Ok(PinStore {
            path: Some(path),
            files,
        })
    }

    /// Where the lock file lives (`None`: in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every pinned file with its record.
    pub fn entries(&self) -> impl Iterator<Item = (&Path, &PinRecord)> {
        self.files.iter().map(|(p, r)| (p.as_path(), r))
    }

    /// Compares `content` of `file` with its pin.
    pub fn check(&self, file: &Path, content: &[u8]) -> PinStatus {
        match self.files.get(&pin_key(file)) {
            None => PinStatus::Unpinned,
            Some(rec) => {
                let actual = sha256_hex(content);
                if actual == rec.sha256 {
                    PinStatus::Approved
                } else {
                    PinStatus::Changed {
                        approved: rec.sha256.clone(),
                        actual,
                    }
                }
            }
        }
    }

    /// Pins `file` at its current content (defining `names`) and saves the lock file.
    pub fn pin(&mut self, file: &Path, names: Vec<String>) -> Result<PinRecord, PinError> {
        let content = std::fs::read(file).map_err(|source| PinError::Read {
            path: file.to_path_buf(),
            source,
        })?;
        let record = PinRecord {
            sha256: sha256_hex(&content),
            names,
            approved_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        self.files.insert(pin_key(file), record.clone());
        self.save()?;
        Ok(record)
    }

    /// Pinned files matching `name_or_path`: a tool name recorded at pin time, or a file path.
    pub fn find(&self, name_or_path: &str) -> Vec<PathBuf> {
        let as_path = pin_key(Path::new(name_or_path));
        self.files
            .iter()
            .filter(|(p, r)| **p == as_path || r.names.iter().any(|n| n == name_or_path))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Approves the current content of the pinned file(s) matching `name_or_path`. `names` gives
    /// the tool names each file now defines. Returns the files approved.
    pub fn approve(
        &mut self,
        name_or_path: &str,
        names_of: impl Fn(&Path) -> Vec<String>,
    ) -> Result<Vec<PathBuf>, PinError> {
        let files = self.find(name_or_path);
        if files.is_empty() {
            return Err(PinError::NotPinned(name_or_path.to_string()));
        }
        for f in &files {
            let names = names_of(f);
            self.pin(f, names)?;
        }
        Ok(files)
    }

    fn save(&self) -> Result<(), PinError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let lock = LockFile {
            version: 1,
            files: self.files.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&lock).map_err(|e| PinError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        crate::state::write_atomic(path, &bytes).map_err(|source| PinError::Write {
            path: path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_check_change_approve_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("state").join(LOCK_FILE);
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "name: a\n").unwrap();
        let mut store = PinStore::open_at(lock.clone()).unwrap();
        assert_eq!(store.check(&file, b"name: a\n"), PinStatus::Unpinned);
        store.pin(&file, vec!["a".into()]).unwrap();
        // Persisted: a fresh store sees the pin.
        let mut store = PinStore::open_at(lock.clone()).unwrap();
        assert_eq!(store.check(&file, b"name: a\n"), PinStatus::Approved);
        std::fs::write(&file, "name: a\n# evil\n").unwrap();
        let changed = store.check(&file, b"name: a\n# evil\n");
        assert!(matches!(changed, PinStatus::Changed { .. }), "{changed:?}");
        assert!(matches!(
            store.approve("nope", |_| vec![]),
            Err(PinError::NotPinned(_))
        ));
        let approved = store.approve("a", |_| vec!["a".into()]).unwrap();
        assert_eq!(approved, vec![pin_key(&file)]);
        let store = PinStore::open_at(lock).unwrap();
        assert_eq!(
            store.check(&file, b"name: a\n# evil\n"),
            PinStatus::Approved
        );
    }

    #[test]
    fn corrupt_lock_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK_FILE);
        std::fs::write(&lock, "{not json").unwrap();
        let e = PinStore::open_at(lock.clone()).unwrap_err();
        assert!(e.to_string().contains(&lock.display().to_string()));
    }
}
