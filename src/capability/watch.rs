//! Watches capability (and skill) directories, and single files (the gateway's config files),
//! and signals "reload now" after a quiet period.
//!
//! Owns the project's one file-watch policy: the `notify` watcher and the debounce. Editors' temp
//! and swap files are ignored; atomic-rename saves, deletions and whole-directory removal or
//! creation all count, because the parent of each directory is watched too and the recursive
//! watch is re-established after every burst. A single file is watched through its directory and
//! matched by name, so a save that writes a temporary file and renames it over the original (as
//! editors do) is seen, and so is a file created after the watch began. It never reads or parses
//! the files it watches: the receiver reloads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot start the file watcher: {0}")]
    Start(#[source] notify::Error),
}

/// Keeps the watch alive; dropping it stops watching.
pub struct Watcher {
    _inner: Arc<Mutex<notify::RecommendedWatcher>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What is watched: directories (recursively, any file in them but temp files) and single files
/// (exactly these paths).
#[derive(Debug, Clone)]
struct Targets {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

fn relevant(event: &notify::Event, targets: &Targets) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|p| {
        (targets.dirs.iter().any(|d| p.starts_with(d)) && !super::is_temp_file(p))
            || targets.files.iter().any(|f| same_file(p, f))
    })
}

/// Whether an event path names `file` (the watched directory may be reached by another spelling,
/// so the directory is compared canonically and the name exactly).
fn same_file(path: &Path, file: &Path) -> bool {
    if path == file {
        return true;
    }
    path.file_name() == file.file_name()
        && path
            .parent()
            .zip(file.parent())
            .is_some_and(|(a, b)| absolute(a) == absolute(b))
}

/// Makes sure each existing dir is watched recursively and each dir's existing parent
/// non-recursively (so a directory created or removed as a whole is seen); each file's directory
/// is watched non-recursively.
fn establish(
    watcher: &mut notify::RecommendedWatcher,
    targets: &Targets,
    strict: bool,
) -> Result<(), WatchError> {
    for file in &targets.files {
        if let Some(dir) = file.parent().filter(|p| p.is_dir())
            && let Err(source) = watcher.watch(dir, RecursiveMode::NonRecursive)
            && strict
        {
            return Err(WatchError::Watch {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    for dir in &targets.dirs {
        if dir.is_dir()
            && let Err(source) = watcher.watch(dir, RecursiveMode::Recursive)
            && strict
        {
            return Err(WatchError::Watch {
                path: dir.clone(),
                source,
            });
        }
        if let Some(parent) = dir.parent().filter(|p| p.is_dir()) {
            let _ = watcher.watch(parent, RecursiveMode::NonRecursive);
        }
    }
    Ok(())
}

fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| {
        if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|c| c.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf())
        }
    })
}

/// Watches `dirs`; the receiver gets `()` once per burst of changes, `debounce` after the last
/// change of the burst. Must be called inside a tokio runtime.
pub fn watch(
    dirs: &[PathBuf],
    debounce: Duration,
) -> Result<(Watcher, mpsc::Receiver<()>), WatchError> {
    watch_targets(
        Targets {
            dirs: dirs.iter().map(|d| absolute(d)).collect(),
            files: Vec::new(),
        },
        debounce,
    )
}

/// Watches single `files` (each through its directory, matched by name: atomic-rename saves,
/// deletion and re-creation all count); the receiver gets `()` once per burst of changes,
/// `debounce` after the last change of the burst. Must be called inside a tokio runtime.
pub fn watch_files(
    files: &[PathBuf],
    debounce: Duration,
) -> Result<(Watcher, mpsc::Receiver<()>), WatchError> {
    let mut watched = Vec::new();
    for f in files {
        let named = match (f.parent(), f.file_name()) {
            (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => absolute(dir).join(name),
            _ => absolute(f),
        };
        // A symlinked file (dotfiles) is edited where it points to: watch that too.
        if let Ok(real) = std::fs::canonicalize(f)
            && real != named
        {
            watched.push(real);
        }
        watched.push(named);
    }
    let files = watched;
    watch_targets(
        Targets {
            dirs: Vec::new(),
            files,
        },
        debounce,
    )
}

fn watch_targets(
    targets: Targets,
    debounce: Duration,
) -> Result<(Watcher, mpsc::Receiver<()>), WatchError> {
    let watched = targets.clone();
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<()>();
    let filter = targets;
    let inner = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(event) if relevant(&event, &filter) => {
            let _ = raw_tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "file watcher error"),
    })
    .map_err(WatchError::Start)?;
    let inner = Arc::new(Mutex::new(inner));
    {
        let mut w = inner.lock().unwrap_or_else(|p| p.into_inner());
        establish(&mut w, &watched, true)?;
    }
    let (tx, rx) = mpsc::channel(1);
    let task_watcher = Arc::clone(&inner);
    let task = tokio::spawn(async move {
        while raw_rx.recv().await.is_some() {
            loop {
                match tokio::time::timeout(debounce, raw_rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            {
                let mut w = task_watcher.lock().unwrap_or_else(|p| p.into_inner());
                let _ = establish(&mut w, &watched, false);
            }
            match tx.try_send(()) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(())) => {}
                Err(mpsc::error::TrySendError::Closed(())) => return,
            }
        }
    });
    Ok((
        Watcher {
            _inner: inner,
            task,
        },
        rx,
    ))
}

/// The reload signal of an in-process server watching `dirs` (debounced by
/// [`super::server::RELOAD_DEBOUNCE`]), with the watch to keep alive; `(None, None)` with a
/// warning naming `backend` and what its directories hold when they cannot be watched.
pub fn reloads(
    dirs: &[PathBuf],
    backend: &str,
    what: &str,
) -> (Option<Box<dyn Send + Sync>>, Option<mpsc::Receiver<()>>) {
    match watch(dirs, super::server::RELOAD_DEBOUNCE) {
        Ok((w, rx)) => (Some(Box::new(w)), Some(rx)),
        Err(e) => {
            tracing::warn!(
                backend,
                "{what} directories are not watched (no live reload): {e}"
            );
            (None, None)
        }
    }
}
