//! Which directories hold skills: `skills.directories` from config, then the places AI agents
//! document for project and personal skills, plus the gateway's own import directory.
//!
//! Owns the list of documented locations and their order (the first directory that defines a
//! skill name wins). It never reads a skill and never creates a directory: a location that does
//! not exist is simply empty (the watcher still notices when it appears).
//!
//! Documented locations (checked November 2026; cited in docs/skills.md):
//! - Claude Code, code.claude.com/docs/en/skills: `~/.claude/skills`, a project's `.claude/skills`.
//! - Codex, developers.openai.com/codex/skills: `.agents/skills` from the working directory up to
//!   the repository root, `~/.agents/skills`; Cursor also reads `~/.codex/skills`/`.codex/skills`.
//! - GitHub Copilot, docs.github.com (…/customize-cloud-agent/add-skills): `.github/skills`,
//!   `.claude/skills`, `.agents/skills` in a repository; `~/.copilot/skills`, `~/.agents/skills`.
//! - Cursor, cursor.com/docs/skills: `.agents/skills`, `.cursor/skills`, `~/.agents/skills`,
//!   `~/.cursor/skills`, and the Claude and Codex directories.
//! - Gemini CLI, geminicli.com/docs/cli/using-agent-skills: `~/.gemini/skills` (or
//!   `~/.agents/skills`), `.gemini/skills` (or `.agents/skills`).
//! - OpenCode, opencode.ai/docs/skills: `.opencode/skills`, `~/.config/opencode/skills`, and the
//!   Claude and agents directories, walking up to the git worktree root.

use std::path::{Path, PathBuf};

use crate::config::SkillsConfig;

pub use crate::config::{SkillDir, SkillScope as Scope};

/// Project-relative skill directories, in the order they are searched at each level.
pub const PROJECT_DIRS: &[&str] = &[
    ".claude/skills",
    ".agents/skills",
    ".github/skills",
    ".cursor/skills",
    ".gemini/skills",
    ".opencode/skills",
    ".codex/skills",
];

/// The directory `skills import` copies into: `$XDG_DATA_HOME/mcp-gateway/skills`.
pub fn import_dir(paths: &crate::state::Paths) -> PathBuf {
    paths.data_dir.join("skills")
}

/// The user's directories the personal skill folders hang off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homes {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, default `~/.config`.
    pub xdg_config: PathBuf,
    /// `$CODEX_HOME`, default `~/.codex`.
    pub codex_home: PathBuf,
}

impl Homes {
    /// From `HOME`, `XDG_CONFIG_HOME` and `CODEX_HOME` as `var` gives them (relative values are
    /// ignored); `None` without a home directory.
    pub fn from_vars(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<Homes> {
        let home = PathBuf::from(var("HOME").filter(|h| !h.is_empty())?);
        let abs = |k: &str| var(k).map(PathBuf::from).filter(|p| p.is_absolute());
        Some(Homes {
            xdg_config: abs("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")),
            codex_home: abs("CODEX_HOME").unwrap_or_else(|| home.join(".codex")),
            home,
        })
    }
}

/// Personal skill directories under the home directory, in search order.
fn user_dirs(host: &Homes) -> Vec<PathBuf> {
    let home = &host.home;
    vec![
        home.join(".claude/skills"),
        home.join(".agents/skills"),
        host.codex_home.join("skills"),
        home.join(".copilot/skills"),
        home.join(".cursor/skills"),
        home.join(".gemini/skills"),
        host.xdg_config.join("opencode/skills"),
    ]
}

/// Every directory to search, highest precedence first, without duplicates. `host` is `None`
/// when there is no home directory (then only config, project and import directories count).
pub fn directories(
    config: &SkillsConfig,
    import: Option<&Path>,
    host: Option<&Homes>,
    cwd: &Path,
) -> Vec<SkillDir> {
    let mut out: Vec<SkillDir> = Vec::new();
    let mut push = |path: PathBuf, scope: Scope| {
        if !out.iter().any(|d| same_dir(&d.path, &path)) {
            out.push(SkillDir { path, scope });
        }
    };
    if !config.enabled {
        return Vec::new();
    }
    for d in &config.directories {
        push(d.clone(), Scope::Config);
    }
    if config.default_directories {
        let stop = crate::config::project_root(cwd);
        for dir in cwd.ancestors() {
            // The home directory's agent folders are personal, not a project's.
            if host.is_some_and(|h| h.home == dir) {
                break;
            }
            for rel in PROJECT_DIRS {
                push(dir.join(rel), Scope::Project);
            }
            if dir == stop {
                break;
            }
        }
    }
    if let Some(i) = import {
        push(i.to_path_buf(), Scope::Imported);
    }
    if config.default_directories
        && let Some(h) = host
    {
        for d in user_dirs(h) {
            push(d, Scope::User);
        }
    }
    out
}

/// [`directories`] for this process: the home directory and `XDG_CONFIG_HOME`/`CODEX_HOME`
/// from the environment, the working directory, and the import dir of `paths`.
pub fn from_env(config: &SkillsConfig, paths: Option<&crate::state::Paths>) -> Vec<SkillDir> {
    let host = Homes::from_vars(|k| std::env::var_os(k));
    let cwd = std::env::current_dir().unwrap_or_default();
    let import = paths.map(import_dir);
    directories(config, import.as_deref(), host.as_ref(), &cwd)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(x), Ok(y)) if x == y
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(home: &Path) -> Homes {
        let home = home.to_path_buf();
        Homes::from_vars(move |k| (k == "HOME").then(|| home.clone().into_os_string())).unwrap()
    }

    fn cfg(dirs: &[&str], defaults: bool) -> SkillsConfig {
        SkillsConfig {
            enabled: true,
            directories: dirs.iter().map(PathBuf::from).collect(),
            default_directories: defaults,
        }
    }

    #[test]
    fn order_is_config_project_import_user() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let repo = home.join("code/repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("pkg")).unwrap();
        let h = host(&home);
        let dirs = directories(
            &cfg(&["/team/skills"], true),
            Some(Path::new("/data/skills")),
            Some(&h),
            &repo.join("pkg"),
        );
        let shown: Vec<(String, Scope)> = dirs
            .iter()
            .map(|d| (d.path.display().to_string(), d.scope))
            .collect();
        assert_eq!(shown[0], ("/team/skills".into(), Scope::Config));
        assert_eq!(
            shown[1],
            (
                repo.join("pkg/.claude/skills").display().to_string(),
                Scope::Project
            )
        );
        // The walk stops at the repository root.
        assert!(
            shown
                .iter()
                .any(|(p, _)| *p == repo.join(".agents/skills").display().to_string())
        );
        assert!(!shown.iter().any(|(p, s)| *s == Scope::Project
            && p.starts_with(&home.join("code/.claude").display().to_string())));
        let import = shown
            .iter()
            .position(|(_, s)| *s == Scope::Imported)
            .unwrap();
        let user = shown.iter().position(|(_, s)| *s == Scope::User).unwrap();
        assert!(import < user);
        assert_eq!(
            shown[user].0,
            home.join(".claude/skills").display().to_string()
        );
        assert!(
            shown
                .iter()
                .any(|(p, _)| *p == home.join(".config/opencode/skills").display().to_string())
        );
    }

    #[test]
    fn home_is_never_a_project_and_defaults_can_be_off() {
        let tmp = tempfile::tempdir().unwrap();
        let h = host(tmp.path());
        let dirs = directories(&cfg(&[], true), None, Some(&h), tmp.path());
        assert!(dirs.iter().all(|d| d.scope == Scope::User), "{dirs:?}");
        let dirs = directories(&cfg(&["/x"], false), None, Some(&h), tmp.path());
        assert_eq!(dirs.len(), 1);
        let off = SkillsConfig {
            enabled: false,
            ..cfg(&["/x"], true)
        };
        assert!(directories(&off, None, Some(&h), tmp.path()).is_empty());
    }
}
