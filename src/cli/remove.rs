//! `mcp-gateway remove NAME [--scope user|project]`: deletes one backend from gateway.yaml,
//! keeping the rest of the file as written (backed up first; `setup undo` restores it).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::setup::{self, ConfigScope, gateway_yaml};
use crate::state::Paths;

/// Remove a backend from the config
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    pub name: String,
    /// Which config file (default: the one in effect here)
    #[arg(short = 's', long, value_enum)]
    pub scope: Option<ConfigScope>,
}

pub fn run(config: Option<&Path>, args: RemoveArgs) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env().context("cannot determine the XDG directories (is HOME set?)")?;
    let cwd = std::env::current_dir()?;
    let path = setup::config_file(&paths, config, args.scope, &cwd);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let existing = gateway_yaml::read_backends(&text)
        .with_context(|| format!("{} does not parse", path.display()))?;
    if !existing.iter().any(|(n, _)| *n == args.name) {
        let names: Vec<&str> = existing.iter().map(|(n, _)| n.as_str()).collect();
        bail!(
            "{} has no backend `{}` (it has: {})",
            path.display(),
            args.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    let new_text = gateway_yaml::edit_backends(&text, std::slice::from_ref(&args.name), &[])
        .with_context(|| format!("cannot edit {}", path.display()))?;
    setup::write_config(&paths, &path, &new_text, &format!("remove {}", args.name))?;
    println!("Removed backend `{}` from {}", args.name, path.display());
    Ok(ExitCode::SUCCESS)
}
