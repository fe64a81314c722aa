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

/// Writes `bytes` to `path` (a file of the gateway's own state or cache) atomically with mode
/// 0600 (or the existing file's mode); missing directories are created private (0700).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = real_path(path).parent() {
        create_private_dir_all(dir)?;
    }
    write_atomic_mode(path, bytes, None)
}

/// Creates `dir` and its missing parents with mode 0700 (on Unix; the umask can only narrow it).
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Reads `path` as UTF-8 text, refusing more than `max` bytes (so a device or a huge file
/// cannot exhaust memory).
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "larger than {} KiB; is it the right file?",
            max / 1024
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Resolves symlinks so edits land in the real file. A missing file resolves to itself; a
/// dangling symlink resolves to the file it names (so writing creates the target and keeps the
/// link, as dotfile managers expect).
pub fn real_path(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let mut current = path.to_path_buf();
    // Follow a bounded chain of links by hand: `canonicalize` fails on a missing final target.
    for _ in 0..40 {
        match std::fs::read_link(&current) {
            Ok(target) => {
                let base = current.parent().unwrap_or_else(|| Path::new("/"));
                current = base.join(target);
            }
            Err(_) => break,
        }
    }
    match (current.parent(), current.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or(current),
        _ => current,
    }
}

/// An exclusive advisory lock (`flock`) on a lock file, held until dropped. Only cooperating
/// `mcp-gateway` processes take it; it never locks the user's file itself.
#[derive(Debug)]
pub struct FileLock {
    _file: std::fs::File,
}

impl FileLock {
    /// Opens (creating with mode 0600) `path` and blocks until the lock is held.
    pub fn exclusive(path: &Path) -> std::io::Result<FileLock> {
        loop {
            match Self::take(path, true) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // A blocking flock never reports "would block".
                taken => return taken?.ok_or_else(|| std::io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    /// Takes the lock without waiting; `Ok(None)` while another holder has it (locks belong to
    /// the open file description, so a second open in the same process conflicts too).
    pub fn try_exclusive(path: &Path) -> std::io::Result<Option<FileLock>> {
        Self::take(path, false)
    }

    fn take(path: &Path, wait: bool) -> std::io::Result<Option<FileLock>> {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path)?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let how = if wait {
                libc::LOCK_EX
            } else {
                libc::LOCK_EX | libc::LOCK_NB
            };
            // SAFETY: flock(2) on a descriptor owned by `file`; released when it closes.
            if unsafe { libc::flock(file.as_raw_fd(), how) } != 0 {
                let err = std::io::Error::last_os_error();
                return match err.raw_os_error() {
                    Some(libc::EWOULDBLOCK) => Ok(None),
                    _ => Err(err),
                };
            }
        }
        #[cfg(not(unix))]
        let _ = wait;
        Ok(Some(FileLock { _file: file }))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_held_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let held = FileLock::try_exclusive(&p).unwrap();
        assert!(held.is_some());
        // flock locks belong to the open file description: a second open conflicts.
        assert!(FileLock::try_exclusive(&p).unwrap().is_none());
        drop(held);
        assert!(FileLock::exclusive(&p).is_ok());
    }

    #[test]
    fn state_files_get_private_directories_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cache/catalog/x.json");
        write_atomic(&file, b"{}").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&file), 0o600);
            assert_eq!(mode(&dir.path().join("cache/catalog")), 0o700);
            assert_eq!(mode(&dir.path().join("cache")), 0o700);
        }
    }

    #[test]
    fn capped_reads_refuse_devices_and_huge_files() {
        let e = read_capped(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(e.to_string().contains("larger than 1 KiB"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ok.yaml");
        std::fs::write(&f, "a: 1\n").unwrap();
        assert_eq!(read_capped(&f, 1024).unwrap(), "a: 1\n");
    }
}
