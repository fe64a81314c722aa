//! `mcp-gateway setup`: move the MCP servers configured in AI clients behind the gateway.
//!
//! Owns the flow scan → pick → plan → back up → write, `undo`, `export`, and the writing of
//! servers into gateway.yaml. Nothing is written without a backup run first; a file that does
//! not parse is reported and left alone; a second run with nothing new is a no-op.
//!
//! Never starts servers, never talks to the network, never writes outside the files it lists in
//! its plan and the backup directory under `$XDG_STATE_HOME/mcp-gateway/backups`.

use std::path::{Path, PathBuf};

use crate::clients::{Server, ServerSpec};

pub mod backup;
pub mod fsio;
pub mod gateway_yaml;
pub mod output;
pub mod plan;
pub mod wizard;

/// Name of the one entry setup leaves in each client.
pub const GATEWAY_ENTRY_NAME: &str = "gateway";

/// Where backups go: `<state dir>/backups`.
pub fn backups_root(paths: &crate::state::Paths) -> PathBuf {
    paths.state_dir.join("backups")
}

/// The program clients should run: plain `mcp-gateway` when that resolves on `PATH`, else the
/// absolute path of this executable.
pub fn gateway_program() -> String {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| is_executable(&dir.join(exe_name()))))
        .unwrap_or(false);
    if on_path {
        return "mcp-gateway".to_string();
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mcp-gateway".to_string())
}

fn exe_name() -> &'static str {
    if cfg!(windows) {
        "mcp-gateway.exe"
    } else {
        "mcp-gateway"
    }
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// The gateway entry written into clients. A project gateway points at its config explicitly,
/// since clients do not all start servers in the project directory.
pub fn gateway_entry(program: &str, project_config: Option<&Path>) -> Server {
    let args = match project_config {
        Some(p) => vec!["--config".to_string(), p.to_string_lossy().into_owned()],
        None => Vec::new(),
    };
    Server {
        name: GATEWAY_ENTRY_NAME.to_string(),
        spec: ServerSpec::Stdio {
            command: program.to_string(),
            args,
            env: Default::default(),
            cwd: None,
        },
        enabled: true,
    }
}

/// The gateway.yaml setup writes: the project's `.mcp-gateway.yaml` or the user file.
pub fn gateway_config_path(paths: &crate::state::Paths, project: Option<&Path>) -> PathBuf {
    match project {
        Some(dir) => dir.join(".mcp-gateway.yaml"),
        None => paths.user_config_file(),
    }
}

/// Which gateway.yaml a config-editing command (`add`, `remove`, `get`, `config export`) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigScope {
    /// `$XDG_CONFIG_HOME/mcp-gateway/gateway.yaml`
    User,
    /// `./.mcp-gateway.yaml`
    Project,
}

/// The file for `scope`; without a scope: `--config` / `$MCP_GATEWAY_CONFIG`, else the file
/// discovery would pick from `cwd`, else the user file.
pub fn config_file(
    paths: &crate::state::Paths,
    explicit: Option<&Path>,
    scope: Option<ConfigScope>,
    cwd: &Path,
) -> PathBuf {
    match (scope, explicit) {
        (Some(ConfigScope::Project), _) => cwd.join(".mcp-gateway.yaml"),
        (Some(ConfigScope::User), _) => paths.user_config_file(),
        (None, Some(p)) => p.to_path_buf(),
        (None, None) => {
            crate::config::discover(None, cwd).unwrap_or_else(|| paths.user_config_file())
        }
    }
}

/// Writes a gateway config: atomically, new files with mode 0600, backed up first when it
/// already exists (a one-file run that `setup undo` can restore).
pub fn write_config(
    paths: &crate::state::Paths,
    path: &Path,
    text: &str,
    command: &str,
) -> anyhow::Result<()> {
    let change = plan::FileChange {
        path: fsio::real_path(path),
        before: fsio::read_optional(path)?.map(|b| String::from_utf8_lossy(&b).into_owned()),
        after: text.to_string(),
        new_mode: Some(0o600),
    };
    let p = plan::Plan {
        changes: vec![change],
        ..Default::default()
    };
    plan::apply(&p, &backups_root(paths), command)?;
    Ok(())
}
