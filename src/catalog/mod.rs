//! The catalog: every backend's tools as last seen, with a content hash and a timestamp.
//!
//! Persisted under the XDG cache dir (one file per backend, keyed by the backend's launch
//! fingerprint) so search covers every backend at startup without spawning any. It is derived
//! state (invariant 6): losing the cache dir costs only a rediscovery. It never starts backends;
//! the gateway feeds it.

pub mod names;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::search::ToolDoc;

/// One backend's tool list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogEntry {
    pub backend: String,
    /// [`crate::config::BackendConfig::launch_fingerprint`] of the config that produced it.
    pub fingerprint: String,
    /// SHA-256 of the tool list's JSON.
    pub hash: String,
    /// Unix seconds.
    pub fetched_at: u64,
    /// `Tool` objects exactly as the backend sent them.
    pub tools: Vec<Value>,
    /// `Resource` objects (original URIs).
    #[serde(default)]
    pub resources: Vec<Value>,
    /// `ResourceTemplate` objects (original URI templates).
    #[serde(default)]
    pub resource_templates: Vec<Value>,
    /// `Prompt` objects (original names).
    #[serde(default)]
    pub prompts: Vec<Value>,
}

/// Everything a backend lists, fetched in one go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub tools: Vec<Value>,
    pub resources: Vec<Value>,
    pub resource_templates: Vec<Value>,
    pub prompts: Vec<Value>,
}

/// Which lists an update changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub tools: bool,
    pub resources: bool,
    pub prompts: bool,
}

impl Changes {
    pub fn any(&self) -> bool {
        self.tools || self.resources || self.prompts
    }
}

impl CatalogEntry {
    pub fn tool(&self, name: &str) -> Option<&Value> {
        self.tools
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
    }

    pub fn prompt(&self, name: &str) -> Option<&Value> {
        self.prompts
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
    }

    pub fn tool_names(&self) -> impl Iterator<Item = &str> {
        self.tools
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
    }

    /// Search documents for this entry.
    pub fn tool_docs(&self, server_description: Option<&str>) -> Vec<ToolDoc> {
        self.tools
            .iter()
            .filter_map(|t| {
                Some(ToolDoc {
                    server: self.backend.clone(),
                    server_description: server_description.map(str::to_string),
                    name: t.get("name")?.as_str()?.to_string(),
                    title: t
                        .get("title")
                        .or_else(|| t.pointer("/annotations/title"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    description: t
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    input_schema: t
                        .get("inputSchema")
                        .cloned()
                        .unwrap_or_else(|| serde_json::json!({"type": "object"})),
                })
            })
            .collect()
    }
}

/// Every backend's entry, in memory and on disk.
pub struct Catalog {
    dir: Option<PathBuf>,
    entries: RwLock<BTreeMap<String, Arc<CatalogEntry>>>,
}

impl Catalog {
    /// Loads the persisted entries whose fingerprint matches `wanted` (backend → fingerprint).
    /// `dir: None` keeps the catalog in memory only.
    pub fn load(dir: Option<PathBuf>, wanted: &BTreeMap<String, String>) -> Catalog {
        let mut entries = BTreeMap::new();
        if let Some(dir) = &dir {
            for (name, fp) in wanted {
                let path = entry_path(dir, name, fp);
                match std::fs::read(&path) {
                    Ok(bytes) => match serde_json::from_slice::<CatalogEntry>(&bytes) {
                        Ok(e) if e.backend == *name && e.fingerprint == *fp => {
                            entries.insert(name.clone(), Arc::new(e));
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(
                            "ignoring unreadable catalog entry {}: {e}",
                            path.display()
                        ),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!("cannot read {}: {e}", path.display()),
                }
            }
        }
        Catalog {
            dir,
            entries: RwLock::new(entries),
        }
    }

    pub fn get(&self, backend: &str) -> Option<Arc<CatalogEntry>> {
        self.read().get(backend).cloned()
    }

    /// All entries, ordered by backend name.
    pub fn snapshot(&self) -> Vec<Arc<CatalogEntry>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<CatalogEntry>>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a backend's entry in memory (a reload removed or changed it); its file stays, so
    /// the same backend added back is served from it.
    pub fn remove(&self, backend: &str) -> Option<Arc<CatalogEntry>> {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(backend)
    }

    /// Records what a backend lists now; says which lists changed.
    pub fn update(&self, backend: &str, fingerprint: &str, listing: Listing) -> Changes {
        let fetched_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let entry = Arc::new(CatalogEntry {
            backend: backend.to_string(),
            fingerprint: fingerprint.to_string(),
            hash: content_hash(&listing.tools),
            fetched_at,
            tools: listing.tools,
            resources: listing.resources,
            resource_templates: listing.resource_templates,
            prompts: listing.prompts,
        });
        let changes = {
            let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
            let changes = match map.get(backend) {
                None => Changes {
                    tools: true,
                    resources: !entry.resources.is_empty() || !entry.resource_templates.is_empty(),
                    prompts: !entry.prompts.is_empty(),
                },
                Some(old) => Changes {
                    tools: old.hash != entry.hash,
                    resources: old.resources != entry.resources
                        || old.resource_templates != entry.resource_templates,
                    prompts: old.prompts != entry.prompts,
                },
            };
            map.insert(backend.to_string(), Arc::clone(&entry));
            changes
        };
        self.persist(&entry);
        changes
    }

    fn persist(&self, entry: &CatalogEntry) {
        let Some(dir) = &self.dir else { return };
        let path = entry_path(dir, &entry.backend, &entry.fingerprint);
        let result = serde_json::to_vec(entry)
            .map_err(std::io::Error::other)
            .and_then(|bytes| crate::state::write_atomic(&path, &bytes));
        if let Err(e) = result {
            tracing::warn!("cannot persist catalog entry {}: {e}", path.display());
        }
    }
}

fn entry_path(dir: &Path, backend: &str, fingerprint: &str) -> PathBuf {
    dir.join(format!("{backend}-{fingerprint}.json"))
}

/// SHA-256 of a tool list as JSON, hex.
pub fn content_hash(tools: &[Value]) -> String {
    let bytes = serde_json::to_vec(tools).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn persists_and_reloads_by_fingerprint() {
        let dir = std::env::temp_dir().join(format!("mcpgw-catalog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let wanted = BTreeMap::from([("a".to_string(), "fp1".to_string())]);
        let c = Catalog::load(Some(dir.clone()), &wanted);
        assert!(c.get("a").is_none());
        let tools =
            vec![json!({"name": "t", "description": "d", "inputSchema": {"type": "object"}})];
        let listing = Listing {
            tools: tools.clone(),
            ..Listing::default()
        };
        assert!(c.update("a", "fp1", listing.clone()).tools);
        assert!(
            !c.update("a", "fp1", listing).any(),
            "same lists: no change"
        );
        let again = Catalog::load(Some(dir.clone()), &wanted);
        assert_eq!(again.get("a").unwrap().tools, tools);
        let other = BTreeMap::from([("a".to_string(), "fp2".to_string())]);
        assert!(Catalog::load(Some(dir.clone()), &other).get("a").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
