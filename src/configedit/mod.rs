//! Editing the config files users own: which `gateway.yaml` a command edits, reading its
//! backends through the config schema, writing backends into it, and applying a set of file
//! changes (gateway.yaml or client configs) with a backup run first and atomic writes.
//!
//! This is the layer behind `add`, `remove`, `get`, `init`, `config export`, `doctor --fix` and
//! the setup wizard. It reads gateway.yaml only through `crate::config`'s schema (one reader),
//! edits text only through `crate::docedit` (one editor), and never loses a byte: every write is
//! backed up (`setup undo` restores it) and atomic. It never starts servers or prompts anyone.

use std::path::{Path, PathBuf};

pub mod backends;
pub mod backup;
pub mod fsio;
pub mod lock;

use backup::BackupError;

use crate::config::PROJECT_FILE_NAMES;
use crate::state::Paths;

/// Which gateway.yaml a command means when the user names a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// `$XDG_CONFIG_HOME/mcp-gateway/gateway.yaml`
    User,
    /// The project file of this directory.
    Project(&'a Path),
}

/// The file of `scope`. A project's file is the one discovery finds in that directory (same
/// names, same order: [`PROJECT_FILE_NAMES`]), else a new `.mcp-gateway.yaml`.
pub fn scope_file(paths: &Paths, scope: Scope<'_>) -> PathBuf {
    match scope {
        Scope::User => paths.user_config_file(),
        Scope::Project(dir) => PROJECT_FILE_NAMES
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
            .unwrap_or_else(|| dir.join(PROJECT_FILE_NAMES[0])),
    }
}

/// The one answer to "which file do I edit": the file of `scope` when one is named; else
/// `--config` / `$MCP_GATEWAY_CONFIG`; else the file discovery picks from `cwd`; else the user
/// file.
pub fn target_file(
    paths: &Paths,
    explicit: Option<&Path>,
    scope: Option<Scope<'_>>,
    cwd: &Path,
) -> PathBuf {
    match (scope, explicit) {
        (Some(scope), _) => scope_file(paths, scope),
        (None, Some(p)) => p.to_path_buf(),
        (None, None) => {
            crate::config::discover(None, cwd).unwrap_or_else(|| paths.user_config_file())
        }
    }
}

/// Where backup runs go: `<state dir>/backups`.
pub fn backups_root(paths: &Paths) -> PathBuf {
    paths.state_dir.join("backups")
}

/// One file a command changes.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
    /// Current text; `None`: the file will be created.
    pub before: Option<String>,
    pub after: String,
    /// Mode to write the file with (`None`: keep the file's own, 0600 for a new file). Set for
    /// created files, and to make a file private that is about to hold secrets.
    pub new_mode: Option<u32>,
}

impl FileChange {
    /// Unified diff of this change (`/dev/null` for a created file).
    pub fn diff(&self) -> String {
        let before = self.before.as_deref().unwrap_or("");
        let old = if self.before.is_some() {
            self.path.display().to_string()
        } else {
            "/dev/null".to_string()
        };
        similar::TextDiff::from_lines(before, &self.after)
            .unified_diff()
            .context_radius(3)
            .header(&old, &self.path.display().to_string())
            .to_string()
    }
}

/// Where the edit locks live: `<state dir>/locks`.
fn locks_dir(paths: &Paths) -> PathBuf {
    paths.state_dir.join("locks")
}

/// Locks every file of `changes` (see [`lock`]) for one read-modify-write.
pub fn lock(paths: &Paths, files: &[PathBuf]) -> Result<lock::Locks, BackupError> {
    let dir = locks_dir(paths);
    lock::lock_all(&dir, files).map_err(|source| BackupError::Io { path: dir, source })
}

/// Applies `changes` as one transaction: every file is locked and must still hold exactly the
/// text the change was planned from (else [`BackupError::ChangedDuringRun`], nothing written);
/// then one backup run covers them all and each is written atomically. A failed write names what
/// was already written. Nothing to change: no run.
pub fn apply(
    changes: &[FileChange],
    paths: &Paths,
    command: &str,
) -> Result<Option<backup::Run>, BackupError> {
    let files: Vec<PathBuf> = changes.iter().map(|c| c.path.clone()).collect();
    let _locks = lock(paths, &files)?;
    apply_locked(changes, paths, command)
}

/// [`apply`] for a caller that already holds the locks of every changed file.
pub fn apply_locked(
    changes: &[FileChange],
    paths: &Paths,
    command: &str,
) -> Result<Option<backup::Run>, BackupError> {
    if changes.is_empty() {
        return Ok(None);
    }
    for change in changes {
        let now = fsio::read_optional(&change.path).map_err(|source| BackupError::Io {
            path: change.path.clone(),
            source,
        })?;
        if now.as_deref() != change.before.as_ref().map(String::as_bytes) {
            return Err(BackupError::ChangedDuringRun {
                path: change.path.clone(),
            });
        }
    }
    let files: Vec<PathBuf> = changes.iter().map(|c| c.path.clone()).collect();
    let mut run = backup::Run::begin(&backups_root(paths), command, &files)?;
    let mut written = Vec::new();
    for change in changes {
        if let Err(source) =
            fsio::write_atomic_mode(&change.path, change.after.as_bytes(), change.new_mode)
        {
            return Err(BackupError::Partial {
                path: change.path.clone(),
                source,
                written,
            });
        }
        run.record_written(&change.path, change.after.as_bytes())?;
        written.push(change.path.clone());
    }
    Ok(Some(run))
}

/// `setup undo`: restores the newest run that wrote something (see [`backup::undo_last`])
/// while holding the locks of the files it restores, so no other `mcp-gateway` edit of them
/// interleaves.
pub fn undo_last(paths: &Paths, force: bool) -> Result<(backup::Run, Vec<PathBuf>), BackupError> {
    let root = backups_root(paths);
    let files: Vec<PathBuf> = backup::list_runs(&root)?
        .into_iter()
        .find(|r| !r.undone && r.written().next().is_some())
        .map(|r| r.written().map(|f| f.path.clone()).collect())
        .unwrap_or_default();
    let _locks = lock(paths, &files)?;
    backup::undo_last(&root, force)
}

/// The text of `path` for editing: `None` when it does not exist; an error when it cannot be
/// read or is not UTF-8 text (never treated as empty, so it is never replaced).
pub fn read_for_edit(path: &Path) -> anyhow::Result<Option<String>> {
    use anyhow::Context;
    match fsio::read_optional(path).with_context(|| format!("cannot read {}", path.display()))? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
            anyhow::anyhow!(
                "{} is not UTF-8 text (byte {} is not); fix the file, nothing was changed",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        }),
    }
}

/// One locked read-modify-write of a gateway config: `edit` gets the current text (`None`: no
/// file yet) and returns the new text; the result is backed up and written atomically (new files
/// with mode 0600) while the lock is held, so parallel edits never lose one another.
pub fn edit_config<T, E: From<BackupError> + From<anyhow::Error>>(
    paths: &Paths,
    path: &Path,
    command: &str,
    edit: impl FnOnce(Option<&str>) -> Result<(String, T), E>,
) -> Result<T, E> {
    let real = fsio::real_path(path);
    let _locks = lock(paths, std::slice::from_ref(&real))?;
    let before = read_for_edit(&real)?;
    let (after, out) = edit(before.as_deref())?;
    if before.as_deref() != Some(after.as_str()) {
        let change = FileChange {
            path: real,
            new_mode: before.is_none().then_some(0o600),
            before,
            after,
        };
        apply_locked(&[change], paths, command)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_scope_uses_discoverys_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("config"),
            cache_dir: dir.path().join("cache"),
            state_dir: dir.path().join("state"),
            data_dir: dir.path().join("data"),
        };
        let project = dir.path().join("p");
        std::fs::create_dir_all(&project).unwrap();
        let scope = Scope::Project(&project);
        assert_eq!(scope_file(&paths, scope), project.join(".mcp-gateway.yaml"));
        std::fs::write(project.join("gateway.yaml"), "backends: {}\n").unwrap();
        assert_eq!(scope_file(&paths, scope), project.join("gateway.yaml"));
        assert_eq!(
            target_file(&paths, Some(Path::new("/x.yaml")), None, &project),
            Path::new("/x.yaml")
        );
        assert_eq!(
            target_file(
                &paths,
                Some(Path::new("/x.yaml")),
                Some(Scope::User),
                &project
            ),
            paths.user_config_file()
        );
    }
}
