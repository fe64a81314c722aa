//! `mcp-gateway config export [--format yaml|json] [--scope user|project]`: prints the effective
//! config (the file in effect, laid over the user file when it says `inherit: true`) as
//! `crate::redact::effective_config` shows it, the same view as `GET /api/v1/config` (env and
//! header values unless a bare
//! `${VAR}`, `${VAR:-default}` defaults, URL userinfo and query values, secret-looking
//! arguments). For sharing configs and bug reports.

use std::path::Path;
use std::process::ExitCode;

use super::CliError;
use serde_json::Value;

use crate::configedit;

/// Print the effective config with secrets redacted
#[derive(Debug, clap::Args)]
pub struct ConfigExportArgs {
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: ExportFormat,
    #[arg(short = 's', long, value_enum)]
    pub scope: Option<super::ScopeArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Yaml,
    Json,
}

/// Redacts one backend entry (see `crate::redact::backend_entry`).
pub fn redact_backend(backend: &mut Value) {
    crate::redact::backend_entry(backend);
}

pub fn run(config: Option<&Path>, args: ConfigExportArgs) -> Result<ExitCode, CliError> {
    let paths = super::paths()?;
    let cwd = std::env::current_dir()?;
    // The files in effect, lowest precedence first: the loader's own answer (a project file
    // with `inherit: true` over the user file), or the one file of `--scope`.
    let files: Vec<std::path::PathBuf> = match args.scope {
        Some(scope) => vec![configedit::scope_file(&paths, scope.at(&cwd))],
        None => {
            let sources = crate::config::load(config, &cwd)?.sources;
            if sources.is_empty() {
                vec![configedit::target_file(&paths, config, None, &cwd)]
            } else {
                sources
            }
        }
    };
    let value = crate::redact::effective_config(&files)?;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    match args.format {
        ExportFormat::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        ExportFormat::Yaml => print!(
            "# exported from {} (secrets redacted)\n{}",
            names.join(" + "),
            serde_saphyr::to_string(&value).map_err(anyhow::Error::from)?
        ),
    }
    Ok(ExitCode::SUCCESS)
}
