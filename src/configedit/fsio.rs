//! File I/O for setup: read a config file through symlinks, write it back atomically with its
//! permissions kept (or an explicit mode for new files).
//!
//! The atomic writer itself lives in `crate::state` (one implementation for state files and the
//! user's files): the temp file gets the final mode *before* it is renamed into place, so a
//! secret-bearing file is never readable by others even for an instant, and a symlinked config
//! (dotfile managers) is written at its target instead of being replaced by a regular file.

use std::path::Path;

/// The file's bytes, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub use crate::state::{mode_of, real_path, write_atomic_mode};

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn keeps_mode_and_follows_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "{}").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic_mode(&link, b"{\"a\":1}", None).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "{\"a\":1}");
        assert_eq!(mode_of(&real), Some(0o640));
        let fresh = dir.path().join("sub/new.yaml");
        write_atomic_mode(&fresh, b"x", None).unwrap();
        assert_eq!(mode_of(&fresh), Some(0o600));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temp file left behind"
        );
    }
}
