//! `mcp-gateway remove NAME [--scope user|project]`: deletes one backend from gateway.yaml,
//! keeping the rest of the file as written (backed up first; `setup undo` restores it).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{CliError, usage};

use super::ScopeArg;
use crate::configedit::{self, backends as gateway_yaml};

/// Remove a backend from the config
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    pub name: String,
    /// Which config file (default: the one in effect here)
    #[arg(short = 's', long, value_enum)]
    pub scope: Option<ScopeArg>,
}

pub fn run(config: Option<&Path>, args: RemoveArgs) -> Result<ExitCode, CliError> {
    let paths = super::paths()?;
    let cwd = std::env::current_dir()?;
    let path = configedit::target_file(&paths, config, args.scope.map(|s| s.at(&cwd)), &cwd);
    let command = format!("remove {}", args.name);
    configedit::edit_config(&paths, &path, &command, |text| {
        let Some(text) = text else {
            usage!("{} does not exist", path.display());
        };
        let existing = gateway_yaml::read(text, &path)?;
        if !existing.has(&args.name) {
            if let Some(from) = args
                .scope
                .is_none()
                .then(|| super::get::inherited_from(config, &cwd, &path, &args.name))
                .flatten()
            {
                usage!(
                    "`{}` is inherited from {} ({} says `inherit: true`): remove it there with --scope user, or switch it off here with `{}: {{enabled: false}}`",
                    args.name,
                    from.display(),
                    path.display(),
                    args.name
                );
            }
            let names: Vec<&str> = existing
                .backends
                .keys()
                .chain(existing.switches.keys())
                .map(String::as_str)
                .collect();
            usage!(
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
        let new_text = gateway_yaml::edit_backends(text, std::slice::from_ref(&args.name), &[])
            .with_context(|| format!("cannot edit {}", path.display()))?;
        Ok::<_, CliError>((new_text, ()))
    })?;
    println!("Removed backend `{}` from {}", args.name, path.display());
    Ok(ExitCode::SUCCESS)
}
