//! Backups of every file setup touches, grouped per run under
//! `$XDG_STATE_HOME/mcp-gateway/backups/<run id>/` with a `run.json` manifest, and `undo`, which
//! puts the files of the newest applied run back byte for byte (or deletes files the run created).
//!
//! The manifest is written before any file is changed and records each file once it is written,
//! so an interrupted run can still be undone. Undo touches only the files the run wrote, refuses
//! to overwrite one that changed after the run (unless forced), and never reverts a file the run
//! did not write. Never deletes a backup.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fsio;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: unreadable backup manifest: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("no setup run to undo (backups are in {})", dir.display())]
    NothingToUndo { dir: PathBuf },
    #[error("{} changed after setup wrote it; undo would lose those changes (re-run with --force to restore anyway)", path.display())]
    ChangedSince { path: PathBuf },
    #[error("{} changed while this command ran (another program edited it); nothing was written, run the command again", path.display())]
    ChangedDuringRun { path: PathBuf },
    #[error("{}: {source}; {}", path.display(), wrote_note(written))]
    Partial {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        /// Files written before the failure (`setup undo` restores them).
        written: Vec<PathBuf>,
    },
}

fn wrote_note(written: &[PathBuf]) -> String {
    if written.is_empty() {
        "nothing was written".to_string()
    } else {
        let list: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        format!(
            "already written (undo with `mcp-gateway setup undo`): {}",
            list.join(", ")
        )
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One file of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    /// The file as changed (symlinks resolved).
    pub path: PathBuf,
    /// Backup copy inside the run dir; `None`: the file did not exist before the run.
    pub backup: Option<PathBuf>,
    /// Permission bits before the run.
    pub mode: Option<u32>,
    /// sha256 of what the run wrote (hex); filled in once written.
    pub written_sha256: Option<String>,
}

/// A run's manifest (`run.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub id: String,
    /// What ran, e.g. `setup` or `setup export --target cursor`.
    pub command: String,
    pub files: Vec<FileRecord>,
    pub undone: bool,
    #[serde(skip)]
    pub dir: PathBuf,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `YYYYMMDDTHHMMSSZ` for `secs` since the Unix epoch (UTC).
pub fn timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl Run {
    /// Starts a run: creates its directory and copies every file in `paths` that exists.
    pub fn begin(root: &Path, command: &str, paths: &[PathBuf]) -> Result<Run, BackupError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let base = timestamp(now);
        let mut id = base.clone();
        let mut n = 1;
        while root.join(&id).exists() {
            n += 1;
            id = format!("{base}-{n:03}");
        }
        let dir = root.join(&id);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700));
        }
        let mut files = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let path = fsio::real_path(path);
            let before = fsio::read_optional(&path).map_err(io(&path))?;
            let backup = match &before {
                Some(bytes) => {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into());
                    let b = dir.join(format!("{i:02}-{name}"));
                    fsio::write_atomic_mode(&b, bytes, Some(0o600)).map_err(io(&b))?;
                    Some(b)
                }
                None => None,
            };
            files.push(FileRecord {
                mode: fsio::mode_of(&path),
                path,
                backup,
                written_sha256: None,
            });
        }
        let run = Run {
            id,
            command: command.to_string(),
            files,
            undone: false,
            dir,
        };
        run.save()?;
        Ok(run)
    }

    pub fn save(&self) -> Result<(), BackupError> {
        let path = self.dir.join("run.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| BackupError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        fsio::write_atomic_mode(&path, text.as_bytes(), Some(0o600)).map_err(io(&path))
    }

    /// Records what was written to `path`.
    pub fn record_written(&mut self, path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
        let real = fsio::real_path(path);
        if let Some(f) = self.files.iter_mut().find(|f| f.path == real) {
            f.written_sha256 = Some(sha256_hex(bytes));
        }
        self.save()
    }

    /// The files this run wrote (a failed run may have written some or none of its files).
    pub fn written(&self) -> impl Iterator<Item = &FileRecord> {
        self.files.iter().filter(|f| f.written_sha256.is_some())
    }

    /// Restores every file this run wrote; files it did not write are never touched. Returns the
    /// paths restored (or removed).
    pub fn undo(&mut self, force: bool) -> Result<Vec<PathBuf>, BackupError> {
        if !force {
            for f in self.written() {
                let now = fsio::read_optional(&f.path).map_err(io(&f.path))?;
                let changed = match (&now, &f.written_sha256) {
                    (Some(bytes), Some(sha)) => &sha256_hex(bytes) != sha,
                    _ => true,
                };
                if changed {
                    return Err(BackupError::ChangedSince {
                        path: f.path.clone(),
                    });
                }
            }
        }
        let mut done = Vec::new();
        for f in self.written() {
            match &f.backup {
                Some(b) => {
                    let bytes = std::fs::read(b).map_err(io(b))?;
                    fsio::write_atomic_mode(&f.path, &bytes, f.mode).map_err(io(&f.path))?;
                }
                None => match std::fs::remove_file(&f.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&f.path)(e)),
                },
            }
            done.push(f.path.clone());
        }
        self.undone = true;
        self.save()?;
        Ok(done)
    }
}

/// All runs under `root`, newest first.
pub fn list_runs(root: &Path) -> Result<Vec<Run>, BackupError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(root)(e)),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(root))?;
        let manifest = entry.path().join("run.json");
        let Some(bytes) = fsio::read_optional(&manifest).map_err(io(&manifest))? else {
            continue;
        };
        let mut run: Run = serde_json::from_slice(&bytes).map_err(|e| BackupError::Manifest {
            path: manifest.clone(),
            message: e.to_string(),
        })?;
        run.dir = entry.path();
        runs.push(run);
    }
    runs.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(runs)
}

/// Undoes the newest run not undone yet that wrote something.
pub fn undo_last(root: &Path, force: bool) -> Result<(Run, Vec<PathBuf>), BackupError> {
    let mut run = list_runs(root)?
        .into_iter()
        .find(|r| !r.undone && r.written().next().is_some())
        .ok_or_else(|| BackupError::NothingToUndo {
            dir: root.to_path_buf(),
        })?;
    let files = run.undo(force)?;
    Ok((run, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101T000000Z");
        assert_eq!(timestamp(1_795_263_544), "20261121T121904Z");
        assert_eq!(timestamp(951_782_400), "20000229T000000Z");
    }

    #[test]
    fn begin_and_undo_restore_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("backups");
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(&a, b"{ \"x\" :1 }\n").unwrap();
        let mut run = Run::begin(&root, "setup", &[a.clone(), b.clone()]).unwrap();
        fsio::write_atomic_mode(&a, b"changed", None).unwrap();
        run.record_written(&a, b"changed").unwrap();
        fsio::write_atomic_mode(&b, b"new", None).unwrap();
        run.record_written(&b, b"new").unwrap();
        assert_eq!(list_runs(&root).unwrap().len(), 1);
        let (_, files) = undo_last(&root, false).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(std::fs::read(&a).unwrap(), b"{ \"x\" :1 }\n");
        assert!(!b.exists());
        assert!(matches!(
            undo_last(&root, false),
            Err(BackupError::NothingToUndo { .. })
        ));
    }

    #[test]
    fn undo_refuses_when_changed_since() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("backups");
        let a = dir.path().join("a.json");
        std::fs::write(&a, b"1").unwrap();
        let mut run = Run::begin(&root, "setup", std::slice::from_ref(&a)).unwrap();
        std::fs::write(&a, b"2").unwrap();
        run.record_written(&a, b"2").unwrap();
        std::fs::write(&a, b"3 edited by the user").unwrap();
        assert!(matches!(
            undo_last(&root, false),
            Err(BackupError::ChangedSince { .. })
        ));
        undo_last(&root, true).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"1");
    }

    #[test]
    fn undo_never_reverts_a_file_the_run_did_not_write() {
        // A run that failed after writing `a` (say `b`'s directory was read-only): undo restores
        // `a` and leaves the later hand edit of `b` alone.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("backups");
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(&a, b"a0").unwrap();
        std::fs::write(&b, b"b0").unwrap();
        let mut run = Run::begin(&root, "setup", &[a.clone(), b.clone()]).unwrap();
        fsio::write_atomic_mode(&a, b"a1", None).unwrap();
        run.record_written(&a, b"a1").unwrap();
        std::fs::write(&b, b"b0 plus a hand edit").unwrap();
        let (_, files) = undo_last(&root, false).unwrap();
        assert_eq!(files, std::slice::from_ref(&a));
        assert_eq!(std::fs::read(&a).unwrap(), b"a0");
        assert_eq!(std::fs::read(&b).unwrap(), b"b0 plus a hand edit");
        // A run that wrote nothing is not something to undo.
        Run::begin(&root, "setup", std::slice::from_ref(&b)).unwrap();
        assert!(matches!(
            undo_last(&root, false),
            Err(BackupError::NothingToUndo { .. })
        ));
        assert_eq!(std::fs::read(&b).unwrap(), b"b0 plus a hand edit");
    }
}
