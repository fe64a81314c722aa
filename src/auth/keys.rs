//! The keys store: API keys made with `mcp-gateway keys add`, in `keys.json` in the state dir.
//!
//! Owns the file format, key generation and the add / list / revoke / last-use operations. The
//! file holds SHA-256 digests only, is written atomically with mode 0600 (through `state`), and
//! every read-modify-write holds an advisory lock so a running gateway recording last use and a
//! `keys add` never lose each other's changes. A new key is returned to the caller exactly once
//! and never stored or logged.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File name in the state dir.
pub const FILE_NAME: &str = "keys.json";
/// Prefix of generated keys (lets secret scanners recognise a leaked one).
pub const KEY_PREFIX: &str = "mgw_";

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid keys file: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a key named `{0}` already exists (revoke it first)")]
    Exists(String),
    #[error(
        "`{0}` is not a valid key name: use 1–64 characters from A–Z, a–z, 0–9, `_`, `-`, `.` and `@`"
    )]
    BadName(String),
    #[error("{0}")]
    BadScope(#[from] crate::scope::PatternError),
    #[error("cannot generate a random key: {0}")]
    Random(String),
}

/// One stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub name: String,
    /// Hex SHA-256 of the key.
    pub sha256: String,
    /// Allow patterns (`--scope`); empty: every tool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_tools: Vec<String>,
    /// Deny patterns (`--deny`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_tools: Vec<String>,
    /// Requests per minute; absent: `auth.rate_limit`; 0: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    #[serde(default)]
    pub admin: bool,
    /// RFC 3339.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

impl StoredKey {
    /// The digest as bytes (`None` if the file was edited into something else).
    pub fn digest(&self) -> Option<[u8; 32]> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(&self.sha256, &mut out).ok()?;
        Some(out)
    }

    /// Expiry as a time (`None`: never, or unreadable, which [`KeyStore::load`] rejects).
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires_at.as_deref().and_then(parse_time)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileShape {
    version: u32,
    keys: Vec<StoredKey>,
}

/// What `keys add` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub allowed_tools: Vec<String>,
    pub denied_tools: Vec<String>,
    pub rate_limit: Option<u32>,
    pub admin: bool,
    pub expires_at: Option<SystemTime>,
}

/// The store at one path.
#[derive(Debug, Clone)]
pub struct KeyStore {
    path: PathBuf,
}

impl KeyStore {
    /// The store in `state_dir`.
    pub fn in_dir(state_dir: &Path) -> KeyStore {
        KeyStore {
            path: state_dir.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stored key, in the order added. A missing file is an empty store.
    pub fn load(&self) -> Result<Vec<StoredKey>, KeyStoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(KeyStoreError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let corrupt = |message: String| KeyStoreError::Corrupt {
            path: self.path.clone(),
            message,
        };
        let file: FileShape = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        for k in &file.keys {
            if k.digest().is_none() {
                return Err(corrupt(format!("key `{}` has no valid sha256", k.name)));
            }
            if k.expires_at.is_some() && k.expires().is_none() {
                return Err(corrupt(format!(
                    "key `{}` has an unreadable expires_at",
                    k.name
                )));
            }
            crate::scope::parse_all(&k.allowed_tools)
                .and_then(|_| crate::scope::parse_all(&k.denied_tools))
                .map_err(|e| corrupt(format!("key `{}`: {e}", k.name)))?;
        }
        Ok(file.keys)
    }

    /// Adds a key and returns it with the new secret (shown once, never stored).
    pub fn add(&self, new: NewKey) -> Result<(StoredKey, String), KeyStoreError> {
        if !valid_name(&new.name) {
            return Err(KeyStoreError::BadName(new.name));
        }
        crate::scope::parse_all(&new.allowed_tools)?;
        crate::scope::parse_all(&new.denied_tools)?;
        let secret = generate_key()?;
        let stored = StoredKey {
            name: new.name.clone(),
            sha256: hex::encode(Sha256::digest(secret.as_bytes())),
            allowed_tools: new.allowed_tools,
            denied_tools: new.denied_tools,
            rate_limit: new.rate_limit,
            admin: new.admin,
            created_at: format_time(SystemTime::now()),
            expires_at: new.expires_at.map(format_time),
            last_used_at: None,
        };
        self.update(|keys| {
            if keys.iter().any(|k| k.name == new.name) {
                return Err(KeyStoreError::Exists(new.name.clone()));
            }
            keys.push(stored.clone());
            Ok(())
        })?;
        Ok((stored, secret))
    }

    /// Removes the key named `name`; `false` if there was none.
    pub fn revoke(&self, name: &str) -> Result<bool, KeyStoreError> {
        let mut found = false;
        self.update(|keys| {
            let before = keys.len();
            keys.retain(|k| k.name != name);
            found = keys.len() != before;
            Ok(())
        })?;
        Ok(found)
    }

    /// Records when keys were last used (names not in the store are ignored).
    pub fn record_use(&self, uses: &[(String, SystemTime)]) -> Result<(), KeyStoreError> {
        if uses.is_empty() || !self.path.exists() {
            return Ok(());
        }
        self.update(|keys| {
            for (name, at) in uses {
                if let Some(k) = keys.iter_mut().find(|k| &k.name == name) {
                    k.last_used_at = Some(format_time(*at));
                }
            }
            Ok(())
        })
    }

    /// Read, change, write back atomically, all under the store's lock.
    fn update(
        &self,
        change: impl FnOnce(&mut Vec<StoredKey>) -> Result<(), KeyStoreError>,
    ) -> Result<(), KeyStoreError> {
        let write_err = |source| KeyStoreError::Write {
            path: self.path.clone(),
            source,
        };
        let _lock = Lock::acquire(&self.path).map_err(write_err)?;
        let mut keys = self.load()?;
        change(&mut keys)?;
        let file = FileShape { version: 1, keys };
        let mut text = serde_json::to_vec_pretty(&file).unwrap_or_default();
        text.push(b'\n');
        crate::state::write_atomic_mode(&self.path, &text, Some(0o600)).map_err(write_err)
    }
}

/// An advisory lock on `<store>.lock`, released on drop.
struct Lock {
    /// Held open for the lock's lifetime; closing it releases the lock.
    _file: crate::state::FileLock,
}

impl Lock {
    fn acquire(store: &Path) -> std::io::Result<Lock> {
        if let Some(dir) = store.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut lock_path = store.as_os_str().to_owned();
        lock_path.push(".lock");
        Ok(Lock {
            _file: crate::state::FileLock::exclusive(&PathBuf::from(lock_path))?,
        })
    }
}

/// `[A-Za-z0-9_.@-]{1,64}`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b))
}

/// A new random key: `mgw_` and 43 base64url characters (256 bits from the OS).
pub fn generate_key() -> Result<String, KeyStoreError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyStoreError::Random(e.to_string()))?;
    Ok(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// RFC 3339, UTC, whole seconds.
pub fn format_time(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses RFC 3339.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_list_revoke_round_trip_without_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::in_dir(dir.path());
        assert!(store.load().unwrap().is_empty());
        let (stored, secret) = store
            .add(NewKey {
                name: "reader".into(),
                allowed_tools: vec!["time/*".into()],
                rate_limit: Some(60),
                ..NewKey::default()
            })
            .unwrap();
        assert!(secret.starts_with(KEY_PREFIX) && secret.len() == 4 + 43);
        assert_eq!(
            stored.digest().unwrap(),
            <[u8; 32]>::from(Sha256::digest(secret.as_bytes()))
        );
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(&secret[4..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(
            store.add(NewKey {
                name: "reader".into(),
                ..NewKey::default()
            }),
            Err(KeyStoreError::Exists(_))
        ));
        let keys = store.load().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].allowed_tools, ["time/*"]);
        let now = SystemTime::now();
        store.record_use(&[("reader".into(), now)]).unwrap();
        assert_eq!(
            store.load().unwrap()[0].last_used_at.as_deref(),
            Some(format_time(now).as_str())
        );
        assert!(store.revoke("reader").unwrap());
        assert!(!store.revoke("reader").unwrap());
        assert!(store.load().unwrap().is_empty());
    }

    #[test]
    fn bad_names_scopes_and_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::in_dir(dir.path());
        for name in ["", "has space", &"x".repeat(65)] {
            assert!(matches!(
                store.add(NewKey {
                    name: name.into(),
                    ..NewKey::default()
                }),
                Err(KeyStoreError::BadName(_))
            ));
        }
        let e = store
            .add(NewKey {
                name: "ok".into(),
                allowed_tools: vec!["time/".into()],
                ..NewKey::default()
            })
            .unwrap_err();
        assert!(e.to_string().contains("time/"), "{e}");
        std::fs::write(
            store.path(),
            "{\"version\":1,\"keys\":[{\"name\":\"a\",\"sha256\":\"zz\",\"created_at\":\"x\"}]}",
        )
        .unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(e.contains("key `a` has no valid sha256"), "{e}");
    }

    #[test]
    fn keys_are_unique() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn concurrent_adds_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::in_dir(dir.path());
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store
                        .add(NewKey {
                            name: format!("k{i}"),
                            ..NewKey::default()
                        })
                        .unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(store.load().unwrap().len(), 8);
    }
}
