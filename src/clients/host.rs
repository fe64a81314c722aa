//! The directories client paths derive from ([`HostEnv`]: the OS conventions, `HOME`, `APPDATA`,
//! `XDG_CONFIG_HOME`, `CODEX_HOME`, `CLAUDE_CONFIG_DIR`). It never reads a file and never
//! yields a directory that does not derive from those variables, so tests redirect every client
//! path with a temporary `HOME`.

use std::path::{Path, PathBuf};

use super::{ClientError, Scope};

/// Operating system whose path conventions apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOs {
    Linux,
    MacOs,
    Windows,
}

/// The directories client paths derive from.
#[derive(Debug, Clone)]
pub struct HostEnv {
    pub os: HostOs,
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, default `~/.config`.
    pub xdg_config: PathBuf,
    /// `%APPDATA%` (Windows), default `~/AppData/Roaming`.
    pub appdata: PathBuf,
    /// `$CODEX_HOME`, default `~/.codex`.
    pub codex_home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR` (where Claude Code keeps `.claude.json`), default `~`.
    pub claude_config_dir: PathBuf,
}

impl HostEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<HostEnv, ClientError> {
        let os = if cfg!(target_os = "macos") {
            HostOs::MacOs
        } else if cfg!(windows) {
            HostOs::Windows
        } else {
            HostOs::Linux
        };
        Self::from_vars(os, |k| std::env::var_os(k).filter(|v| !v.is_empty()))
    }

    /// Builds from a variable lookup (tests pass their own).
    pub fn from_vars(
        os: HostOs,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<HostEnv, ClientError> {
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(PathBuf::from)
            .ok_or(ClientError::NoHome)?;
        let abs = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
        Ok(HostEnv {
            os,
            xdg_config: abs(var("XDG_CONFIG_HOME")).unwrap_or_else(|| home.join(".config")),
            appdata: abs(var("APPDATA")).unwrap_or_else(|| home.join("AppData").join("Roaming")),
            codex_home: abs(var("CODEX_HOME")).unwrap_or_else(|| home.join(".codex")),
            claude_config_dir: abs(var("CLAUDE_CONFIG_DIR")).unwrap_or_else(|| home.clone()),
            home,
        })
    }

    /// The per-user application config dir: `~/Library/Application Support` on macOS,
    /// `%APPDATA%` on Windows, `$XDG_CONFIG_HOME` elsewhere.
    pub fn app_config_dir(&self) -> PathBuf {
        match self.os {
            HostOs::MacOs => self.home.join("Library").join("Application Support"),
            HostOs::Windows => self.appdata.clone(),
            HostOs::Linux => self.xdg_config.clone(),
        }
    }
}

/// Where a client that keeps the same file under `~` and in a project looks: the home directory
/// (user scope) or the project directory.
pub(crate) fn home_or_project(env: &HostEnv, project: Option<&Path>) -> (Scope, PathBuf) {
    match project {
        None => (Scope::User, env.home.clone()),
        Some(dir) => (Scope::Project, dir.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_paths_follow_variables() {
        let vars = |k: &str| match k {
            "HOME" => Some("/h".into()),
            "XDG_CONFIG_HOME" => Some("/xdg".into()),
            "APPDATA" => Some("/appdata".into()),
            _ => None,
        };
        let linux = HostEnv::from_vars(HostOs::Linux, vars).unwrap();
        assert_eq!(linux.app_config_dir(), PathBuf::from("/xdg"));
        assert_eq!(linux.codex_home, PathBuf::from("/h/.codex"));
        let mac = HostEnv::from_vars(HostOs::MacOs, vars).unwrap();
        assert_eq!(
            mac.app_config_dir(),
            PathBuf::from("/h/Library/Application Support")
        );
        let win = HostEnv::from_vars(HostOs::Windows, vars).unwrap();
        assert_eq!(win.app_config_dir(), PathBuf::from("/appdata"));
        assert!(matches!(
            HostEnv::from_vars(HostOs::Linux, |_| None),
            Err(ClientError::NoHome)
        ));
    }
}
