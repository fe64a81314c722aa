//! Installing a model: every pinned file is downloaded (or copied from a local directory) into a
//! staging directory while its SHA-256 is computed, checked against the pin, the static model is
//! distilled from the verified weights (or quantized from a shipped token table), and only then
//! is the staging directory renamed into place. A failure at any step (a checksum mismatch, a cut connection, a kill) leaves no
//! installed directory behind: the staging directory is removed on error and swept on the next
//! install.
//!
//! It never installs a file whose checksum differs from the pin, and never writes outside the
//! models directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::bert::Bert;
use super::static_model::StaticModel;
use super::{
    ModelFile, ModelKind, ModelSpec, STATIC_FILE, TOKENIZER_FILE, Tokenizer, WEIGHTS_FILE,
};

/// Where the files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `{spec.base_url}/{file source}` over HTTPS.
    Download,
    /// A directory holding the files under their source names, in it or below it (`model
    /// fetch --from PATH`).
    Dir(PathBuf),
}

/// Why an install failed. Nothing is installed after any of these.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "{file}: SHA-256 is {actual}, expected {expected} (from {from}); refusing to install it"
    )]
    Checksum {
        file: String,
        from: String,
        expected: String,
        actual: String,
    },
    #[error("{file}: {bytes} bytes, expected {expected} (from {from}); refusing to install it")]
    Size {
        file: String,
        from: String,
        bytes: u64,
        expected: u64,
    },
    #[error("{file}: cannot read {from}: {source}")]
    Read {
        file: String,
        from: String,
        source: std::io::Error,
    },
    #[error("{file}: download from {url} failed: {message}")]
    Download {
        file: String,
        url: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("distilling the static model: {0}")]
    Distill(String),
    #[error("{model} has no download; install it from a local copy with --from ({local_copy})")]
    NoDownload { model: String, local_copy: String },
}

/// A staging directory removed on drop unless it was renamed into place.
struct Staging {
    path: PathBuf,
    done: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Installs `spec` from `source` into `models_dir`; returns the installed directory.
pub async fn install(
    spec: &ModelSpec,
    source: &Source,
    models_dir: &Path,
) -> Result<PathBuf, InstallError> {
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| InstallError::Write {
            path: path.clone(),
            source,
        }
    };
    let base_url = match (source, &spec.base_url) {
        (Source::Download, None) => {
            return Err(InstallError::NoDownload {
                model: spec.id.clone(),
                local_copy: spec.local_copy.clone(),
            });
        }
        (_, url) => url.clone().unwrap_or_default(),
    };
    std::fs::create_dir_all(models_dir).map_err(write_err(models_dir))?;
    sweep_staging(models_dir, &spec.id);
    let staging_path = models_dir.join(format!(".staging-{}-{}", spec.id, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging_path);
    std::fs::create_dir(&staging_path).map_err(write_err(&staging_path))?;
    let mut staging = Staging {
        path: staging_path,
        done: false,
    };
    let client = match source {
        Source::Download => {
            Some(
                reqwest::Client::builder()
                    .build()
                    .map_err(|e| InstallError::Download {
                        file: String::new(),
                        url: base_url.clone(),
                        message: e.to_string(),
                    })?,
            )
        }
        Source::Dir(_) => None,
    };
    for file in &spec.files {
        let target = staging.path.join(&file.name);
        match (source, &client) {
            (Source::Dir(dir), _) => copy_verified(file, &find_source(dir, &file.source), &target)?,
            (Source::Download, Some(client)) => {
                download_verified(client, file, &base_url, &target).await?;
            }
            (Source::Download, None) => unreachable!("a download always has a client"),
        }
    }
    let dir = staging.path.clone();
    let kind = spec.kind.clone();
    tokio::task::spawn_blocking(move || match kind {
        ModelKind::Distilled => distill(&dir),
        ModelKind::Static => convert(&dir),
    })
    .await
    .map_err(|e| InstallError::Distill(e.to_string()))??;
    let final_dir = spec.dir(models_dir);
    let old = models_dir.join(format!(".old-{}-{}", spec.id, std::process::id()));
    let had_old = final_dir.exists();
    if had_old {
        std::fs::rename(&final_dir, &old).map_err(write_err(&final_dir))?;
    }
    if let Err(e) = std::fs::rename(&staging.path, &final_dir) {
        if had_old {
            let _ = std::fs::rename(&old, &final_dir);
        }
        return Err(write_err(&final_dir)(e));
    }
    staging.done = true;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    if let Ok(d) = std::fs::File::open(models_dir) {
        let _ = d.sync_all();
    }
    Ok(final_dir)
}

/// Removes staging and old directories of `id` left by an interrupted install (of a process
/// that is gone).
fn sweep_staging(models_dir: &Path, id: &str) {
    let Ok(entries) = std::fs::read_dir(models_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let pid = name
            .strip_prefix(&format!(".staging-{id}-"))
            .or_else(|| name.strip_prefix(&format!(".old-{id}-")))
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(pid) = pid
            && !process_alive(pid)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` still runs (an install in another process keeps its staging dir).
fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission check; no signal is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Distills `dir/model.safetensors` into `dir/static.bin`.
fn distill(dir: &Path) -> Result<(), InstallError> {
    let bert = Bert::load(dir).map_err(|e| InstallError::Distill(e.to_string()))?;
    let Tokenizer::WordPiece(tokenizer) = Tokenizer::load(&dir.join(TOKENIZER_FILE))
        .map_err(|e| InstallError::Distill(e.to_string()))?
    else {
        return Err(InstallError::Distill(format!(
            "{TOKENIZER_FILE}: a BERT model needs a WordPiece tokenizer"
        )));
    };
    let model = StaticModel::distill(&bert, tokenizer);
    drop(bert);
    model
        .save(&dir.join(STATIC_FILE))
        .map_err(|e| InstallError::Distill(e.to_string()))
}

/// Quantizes `dir/embeddings.safetensors` (a shipped token table) into `dir/static.bin`.
fn convert(dir: &Path) -> Result<(), InstallError> {
    let fail = |e: String| InstallError::Distill(e);
    let tokenizer = Tokenizer::load(&dir.join(TOKENIZER_FILE)).map_err(|e| fail(e.to_string()))?;
    let (_, dims, table) =
        super::bert::read_table(&dir.join(WEIGHTS_FILE)).map_err(|e| fail(e.to_string()))?;
    let model = StaticModel::from_table(&table, dims, tokenizer)
        .map_err(|e| fail(format!("{WEIGHTS_FILE}: {e}")))?;
    drop(table);
    model
        .save(&dir.join(STATIC_FILE))
        .map_err(|e| fail(e.to_string()))
}

/// `dir/name`, or else the first file called `name` below `dir` (an unpacked package keeps its
/// files in subdirectories); `dir/name` when there is none, so the error names it.
fn find_source(dir: &Path, name: &str) -> PathBuf {
    fn below(dir: &Path, name: &str, depth: usize) -> Option<PathBuf> {
        let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in &entries {
            let path = e.path();
            if e.file_name() == name && path.is_file() {
                return Some(path);
            }
        }
        if depth == 0 {
            return None;
        }
        entries
            .iter()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .find_map(|e| below(&e.path(), name, depth - 1))
    }
    let direct = dir.join(name);
    if direct.is_file() {
        return direct;
    }
    below(dir, name, 4).unwrap_or(direct)
}

/// Streams into `target` while hashing; checks size and checksum at the end.
struct Verifier<'a> {
    file: &'a ModelFile,
    from: String,
    target: &'a Path,
    out: std::io::BufWriter<std::fs::File>,
    hasher: sha2::Sha256,
    bytes: u64,
}

impl<'a> Verifier<'a> {
    fn new(file: &'a ModelFile, from: String, target: &'a Path) -> Result<Self, InstallError> {
        let out = std::fs::File::create(target).map_err(|source| InstallError::Write {
            path: target.display().to_string(),
            source,
        })?;
        Ok(Verifier {
            file,
            from,
            target,
            out: std::io::BufWriter::new(out),
            hasher: sha2::Sha256::new(),
            bytes: 0,
        })
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), InstallError> {
        self.bytes += chunk.len() as u64;
        if self.bytes > self.file.bytes {
            return Err(self.size_error());
        }
        self.hasher.update(chunk);
        self.out
            .write_all(chunk)
            .map_err(|source| InstallError::Write {
                path: self.target.display().to_string(),
                source,
            })
    }

    fn size_error(&self) -> InstallError {
        InstallError::Size {
            file: self.file.name.clone(),
            from: self.from.clone(),
            bytes: self.bytes,
            expected: self.file.bytes,
        }
    }

    fn finish(self) -> Result<(), InstallError> {
        if self.bytes != self.file.bytes {
            return Err(self.size_error());
        }
        let actual = hex::encode(self.hasher.clone().finalize());
        if actual != self.file.sha256 {
            return Err(InstallError::Checksum {
                file: self.file.name.clone(),
                from: self.from.clone(),
                expected: self.file.sha256.clone(),
                actual,
            });
        }
        let write_err = |source| InstallError::Write {
            path: self.target.display().to_string(),
            source,
        };
        self.out
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?
            .sync_all()
            .map_err(write_err)
    }
}

fn copy_verified(file: &ModelFile, from: &Path, target: &Path) -> Result<(), InstallError> {
    use std::io::Read as _;
    let shown = from.display().to_string();
    let read_err = |source| InstallError::Read {
        file: file.name.clone(),
        from: shown.clone(),
        source,
    };
    let mut input = std::fs::File::open(from).map_err(read_err)?;
    let mut v = Verifier::new(file, shown.clone(), target)?;
    let mut buf = vec![0_u8; 1 << 16];
    loop {
        let n = input.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        v.write(&buf[..n])?;
    }
    v.finish()
}

async fn download_verified(
    client: &reqwest::Client,
    file: &ModelFile,
    base_url: &str,
    target: &Path,
) -> Result<(), InstallError> {
    let url = format!("{}/{}", base_url.trim_end_matches('/'), file.source);
    let fail = |message: String| InstallError::Download {
        file: file.name.clone(),
        url: url.clone(),
        message,
    };
    let mut response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let mut v = Verifier::new(file, url.clone(), target)?;
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
        v.write(&chunk)?;
    }
    v.finish()
}
