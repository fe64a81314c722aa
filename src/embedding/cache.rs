//! Tool vectors cached on disk, keyed by model hash (one file per model) and text hash (one
//! entry per embedded text), so a restart re-embeds nothing that did not change.
//!
//! It is derived state in the cache dir: a missing or damaged file only costs re-embedding. It
//! never decides what is embedded.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::Digest;

const MAGIC: &[u8; 16] = b"mcpgw-vectors-v1";

/// SHA-256 of an embedded text.
pub type TextHash = [u8; 32];

/// The hash a text's cached vector is found by.
pub fn text_hash(text: &str) -> TextHash {
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// The vectors of one model.
#[derive(Debug, Default)]
pub struct VectorCache {
    path: PathBuf,
    dims: usize,
    vectors: HashMap<TextHash, Vec<f32>>,
    changed: bool,
}

impl VectorCache {
    /// The cache file for the model with hash `model_hash` under `cache_dir`.
    pub fn path(cache_dir: &Path, model_hash: &str) -> PathBuf {
        cache_dir.join("vectors").join(format!("{model_hash}.bin"))
    }

    /// Reads the cache at `path`; a missing, damaged or differently sized one reads as empty.
    pub fn load(path: &Path, dims: usize) -> VectorCache {
        let mut cache = VectorCache {
            path: path.to_path_buf(),
            dims,
            vectors: HashMap::new(),
            changed: false,
        };
        let Ok(bytes) = std::fs::read(path) else {
            return cache;
        };
        match parse(&bytes, dims) {
            Some(vectors) => cache.vectors = vectors,
            None => tracing::warn!(path = %path.display(), "ignoring a damaged vector cache"),
        }
        cache
    }

    /// A cache that is never written (the benchmark's).
    pub fn in_memory(dims: usize) -> VectorCache {
        VectorCache {
            path: PathBuf::new(),
            dims,
            vectors: HashMap::new(),
            changed: false,
        }
    }

    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    pub fn get(&self, hash: &TextHash) -> Option<&[f32]> {
        self.vectors.get(hash).map(Vec::as_slice)
    }

    pub fn insert(&mut self, hash: TextHash, vector: Vec<f32>) {
        if vector.len() == self.dims {
            self.vectors.insert(hash, vector);
            self.changed = true;
        }
    }

    /// Drops every vector whose text is not in `used` (tools that left the catalog).
    pub fn retain(&mut self, used: &HashSet<TextHash>) {
        let before = self.vectors.len();
        self.vectors.retain(|h, _| used.contains(h));
        self.changed |= self.vectors.len() != before;
    }

    /// Writes the cache atomically if anything changed since it was loaded or saved.
    pub fn save(&mut self) -> std::io::Result<()> {
        if !self.changed || self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(24 + self.vectors.len() * (32 + self.dims * 4));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.dims as u32).to_le_bytes());
        bytes.extend_from_slice(&(self.vectors.len() as u32).to_le_bytes());
        let mut entries: Vec<_> = self.vectors.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (hash, vector) in entries {
            bytes.extend_from_slice(hash);
            for v in vector {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        crate::state::write_atomic(&self.path, &bytes)?;
        self.changed = false;
        Ok(())
    }
}

fn parse(bytes: &[u8], dims: usize) -> Option<HashMap<TextHash, Vec<f32>>> {
    if bytes.get(..16)? != MAGIC {
        return None;
    }
    let word = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    if word(16)? != dims {
        return None;
    }
    let count = word(20)?;
    let entry = 32 + dims * 4;
    let body = bytes.get(24..)?;
    if body.len() != count.checked_mul(entry)? {
        return None;
    }
    let mut vectors = HashMap::with_capacity(count);
    for chunk in body.chunks_exact(entry) {
        let hash: TextHash = chunk[..32].try_into().ok()?;
        let vector = chunk[32..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        vectors.insert(hash, vector);
    }
    Some(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = VectorCache::path(dir.path(), "abc");
        let mut cache = VectorCache::load(&path, 3);
        assert!(cache.is_empty());
        cache.insert(text_hash("read a file"), vec![0.5, -1.0, 2.0]);
        cache.insert(text_hash("wrong size"), vec![1.0]);
        cache.save().expect("saved");
        let again = VectorCache::load(&path, 3);
        assert_eq!(again.len(), 1);
        assert_eq!(
            again.get(&text_hash("read a file")),
            Some(&[0.5, -1.0, 2.0][..])
        );
        assert!(
            VectorCache::load(&path, 4).is_empty(),
            "other dims read as empty"
        );
        let bytes = std::fs::read(&path).expect("written");
        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("truncate");
        assert!(
            VectorCache::load(&path, 3).is_empty(),
            "a truncated file reads as empty"
        );
    }
}
