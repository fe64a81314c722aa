//! `mcp-gateway setup`: the wizard that moves the MCP servers configured in AI clients behind
//! the gateway.
//!
//! Owns the flow scan → pick → plan (`plan`), the prompts (`wizard`) and the one entry setup
//! leaves in each client. Files are written only through `crate::configedit` (backup first,
//! atomic); a client file that does not parse is reported and left alone; a second run with
//! nothing new is a no-op.
//!
//! Never starts servers (it asks `git check-ignore` whether a project file may be committed), never
//! talks to the network, never writes outside the files it lists in
//! its plan and the backup directory under `$XDG_STATE_HOME/mcp-gateway/backups`. (The embedding
//! model the command offers at its end is installed by `crate::embedding::install`, only on the
//! user's yes or `--fetch-model`.)

use std::path::Path;

use crate::clients::{Server, ServerSpec};

pub mod plan;
pub mod wizard;

/// Name of the one entry setup leaves in each client.
pub const GATEWAY_ENTRY_NAME: &str = "gateway";

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

/// Whether git may commit `path`: it is tracked, or in a git work tree and not ignored. Asks
/// `git check-ignore` (exit 0: ignored, 1: not ignored, tracked files included); without git,
/// a `.git` in an ancestor directory counts as a work tree.
pub fn may_be_committed(path: &Path) -> bool {
    let Some(dir) = path.parent() else {
        return false;
    };
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "-q", "--"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status.ok().and_then(|s| s.code()) {
        Some(0) => false,
        Some(1) => true,
        Some(_) => false,
        None => dir.ancestors().any(|d| d.join(".git").exists()),
    }
}

/// The gateway entry written into clients. A project gateway points at its config explicitly,
/// since clients do not all start servers in the project directory.
pub fn gateway_entry(program: &str, project_config: Option<&Path>) -> Server {
    let args = match project_config {
        Some(p) => vec!["--config".to_string(), p.to_string_lossy().into_owned()],
        None => Vec::new(),
    };
    Server::new(
        GATEWAY_ENTRY_NAME,
        ServerSpec::Stdio {
            command: program.to_string(),
            args,
            env: Default::default(),
            cwd: None,
        },
        true,
    )
}

/// The entry for clients of the gateway that reads `config`: `--config` is spelled out unless it
/// is the user file, which a plain `mcp-gateway` finds by itself.
pub fn entry_for(program: &str, paths: &crate::state::Paths, config: &Path) -> Server {
    let explicit = (config != paths.user_config_file()).then_some(config);
    gateway_entry(program, explicit)
}
