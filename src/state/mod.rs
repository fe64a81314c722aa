//! XDG paths and on-disk state.
//!
//! Owns where the gateway may write: the cache dir (catalog), the state dir (usage, pins,
//! backups) and the config dir. It never writes next to the binary or in the working directory.
//! Tests isolate themselves by setting `XDG_CONFIG_HOME`, `XDG_CACHE_HOME`, `XDG_STATE_HOME` and
//! `XDG_DATA_HOME`.

use std::io::Write;
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

/// Writes `bytes` to `path` atomically with mode 0600 (or the existing file's mode).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, None)
}

/// Resolves symlinks so edits land in the real file. A missing file resolves to itself.
pub fn real_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Unix permission bits of an existing file.
pub fn mode_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename). The
/// result has `mode` if given, else the existing file's mode, else 0600.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let path = real_path(path);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mode = mode.or_else(|| mode_of(&path)).unwrap_or(0o600);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = dir.join(format!(".{name}.mcp-gateway.{}.tmp", std::process::id()));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The umask may have narrowed the creation mode; set exactly what was asked.
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
