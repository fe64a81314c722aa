//! `mcp-gateway get NAME [--json]`: shows one backend as configured (secrets redacted unless
//! `--show-secrets`). Reads the file only; starts nothing.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{CliError, usage};
use serde_json::Value;

use super::ScopeArg;
use crate::configedit::{self, backends as gateway_yaml};

use super::config_export::redact_backend;

/// Show one backend's configuration
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    pub name: String,
    #[arg(short = 's', long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Print env and header values as written
    #[arg(long)]
    pub show_secrets: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: Option<&Path>, args: GetArgs) -> Result<ExitCode, CliError> {
    let paths = super::paths()?;
    let cwd = std::env::current_dir()?;
    let mut path = configedit::target_file(&paths, config, args.scope.map(|s| s.at(&cwd)), &cwd);
    let mut text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if !gateway_yaml::read(&text, &path)?.has(&args.name) {
        // Without --scope, a backend the file in effect inherits (`inherit: true`) is shown
        // from the file that defines it, as `list` shows it.
        let Some(from) = args
            .scope
            .is_none()
            .then(|| inherited_from(config, &cwd, &path, &args.name))
            .flatten()
        else {
            usage!("{} has no backend `{}`", path.display(), args.name);
        };
        text = std::fs::read_to_string(&from)
            .with_context(|| format!("cannot read {}", from.display()))?;
        path = from;
    }
    // Shown as written (keys, order, `${…}`), now that the schema has accepted it.
    let backends = gateway_yaml::entries(&text)
        .with_context(|| format!("{} does not parse", path.display()))?;
    let Some((_, value)) = backends.iter().find(|(n, _)| *n == args.name) else {
        usage!("{} has no backend `{}`", path.display(), args.name);
    };
    let mut value = value.clone();
    if !args.show_secrets {
        redact_backend(&mut value);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"name": args.name, "file": path, "config": value})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}  ({})", args.name, path.display());
    if let Value::Object(m) = &value {
        let width = m.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in m {
            let shown = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("  {k:<width$}  {shown}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The lower file `file` inherits from (through `inherit: true`) that defines backend `name`.
pub(super) fn inherited_from(
    config: Option<&Path>,
    cwd: &Path,
    file: &Path,
    name: &str,
) -> Option<std::path::PathBuf> {
    let sources = crate::config::load(config, cwd).ok()?.sources;
    sources.into_iter().rev().filter(|p| p != file).find(|p| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|text| gateway_yaml::read(&text, p).ok())
            .is_some_and(|b| b.has(name))
    })
}
