//! XDG paths and on-disk state.
//!
//! Owns where the gateway may write: the cache dir (catalog), the state dir (usage, pins,
//! backups) and the config dir. It never writes next to the binary or in the working directory.
//! Tests isolate themselves by setting `XDG_CONFIG_HOME`, `XDG_CACHE_HOME`, `XDG_STATE_HOME` and
//! `XDG_DATA_HOME`.

use std::path::{Path, PathBuf};

/// The gateway's directories.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub state_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves the XDG directories (or the platform's equivalents).
    pub fn from_env() -> Option<Paths> {
        let dirs = directories::ProjectDirs::from("", "", "mcp-gateway")?;
        let state_dir = dirs
            .state_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dirs.data_local_dir().join("state"));
        Some(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            cache_dir: dirs.cache_dir().to_path_buf(),
            state_dir,
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    /// The user-level config file: `$XDG_CONFIG_HOME/mcp-gateway/gateway.yaml`.
    pub fn user_config_file(&self) -> PathBuf {
        self.config_dir.join("gateway.yaml")
    }

    /// Directory of persisted catalog entries.
    pub fn catalog_dir(&self) -> PathBuf {
        self.cache_dir.join("catalog")
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
