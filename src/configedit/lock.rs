//! Advisory locks around every read-modify-write of a file the gateway edits (gateway.yaml and
//! client configs), so two `mcp-gateway` processes never interleave their edits of one file.
//!
//! The lock is an exclusive `flock` on a lock file in the state dir named after the target's
//! real path (never next to the user's file: the atomic writer replaces the target's inode, so it
//! cannot carry the lock itself). Other programs (the clients) do not take these locks; writes
//! therefore also re-check the file's content under the lock (`super::apply`). Never blocks on
//! anything but another gateway process editing the same file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::state::FileLock;

/// Held locks; dropping releases them.
#[derive(Debug)]
pub struct Locks {
    _held: Vec<FileLock>,
}

/// The lock file of `target` under `dir`.
fn lock_file(dir: &Path, target: &Path) -> PathBuf {
    let digest = Sha256::digest(target.as_os_str().as_encoded_bytes());
    dir.join(format!("{}.lock", hex::encode(&digest[..12])))
}

/// Takes the lock of every file in `targets` (symlinks resolved), in one global order so two
/// processes locking overlapping sets cannot deadlock. Blocks until all are held.
pub fn lock_all(dir: &Path, targets: &[PathBuf]) -> std::io::Result<Locks> {
    crate::state::create_private_dir_all(dir)?;
    let mut real: Vec<PathBuf> = targets.iter().map(|p| super::fsio::real_path(p)).collect();
    real.sort();
    real.dedup();
    let held = real
        .iter()
        .map(|target| FileLock::exclusive(&lock_file(dir, target)))
        .collect::<std::io::Result<_>>()?;
    Ok(Locks { _held: held })
}
