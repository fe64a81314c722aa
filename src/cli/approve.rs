//! `mcp-gateway approve BACKEND`: approves the tool definitions a backend with `pin_tools: true`
//! has held back (changed or new since the last approval), as the gateway last listed them. A
//! running gateway notices the pin file change and serves them at once.

use std::process::ExitCode;

use anyhow::Context;

use super::{CliError, GlobalArgs};
use crate::capability::pins;

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The backend whose held-back tools to approve
    pub backend: String,
}

pub fn run(global: &GlobalArgs, args: &ApproveArgs) -> Result<ExitCode, CliError> {
    let config = super::load_config(global)?;
    let name = &args.backend;
    let Some(backend) = config.backends.get(name) else {
        let near = crate::suggest::closest(name, config.backends.keys().map(String::as_str))
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        return Err(CliError::usage(anyhow::anyhow!(
            "no backend `{name}` in the config{near}"
        )));
    };
    if !backend.pin_tools {
        return Err(CliError::usage(anyhow::anyhow!(
            "backend `{name}` does not pin its tools: set `pin_tools: true` under `backends.{name}`"
        )));
    }
    let paths = crate::state::Paths::from_env()
        .context("cannot determine the XDG directories (is HOME set?)")?;
    let file = paths.state_dir.join(pins::LOCK_FILE);
    let approval = pins::approve_backend(&file, name).map_err(CliError::usage)?;
    if approval.approved.is_empty() {
        println!(
            "{name}: nothing held back ({} approved)",
            crate::output::counted(approval.unchanged, "tool", "tools")
        );
    } else {
        for tool in &approval.approved {
            println!("approved {name}/{tool}");
        }
        println!(
            "{name}: {} approved, {} unchanged; a running gateway serves them now",
            crate::output::counted(approval.approved.len(), "tool", "tools"),
            approval.unchanged
        );
    }
    Ok(ExitCode::SUCCESS)
}
