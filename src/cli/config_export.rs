//! `mcp-gateway config export [--format yaml|json] [--show-secrets]`: prints the config file in
//! effect redacted by `crate::redact::config_document` (env and header values unless a bare
//! `${VAR}`, `${VAR:-default}` defaults, URL userinfo and query values, secret-looking
//! arguments). For sharing configs and bug reports.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::CliError;
use serde_json::Value;

use crate::configedit;
use crate::docedit::{self as doc, FileFormat};

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

/// The whole document redacted (see `crate::redact::config_document`: backends, API keys and
/// bearer tokens, `${VAR:-default}` defaults, URLs).
pub fn redact(doc: &mut Value) {
    crate::redact::config_document(doc);
}

pub fn run(config: Option<&Path>, args: ConfigExportArgs) -> Result<ExitCode, CliError> {
    let paths = super::paths()?;
    let cwd = std::env::current_dir()?;
    let path = configedit::target_file(&paths, config, args.scope.map(|s| s.at(&cwd)), &cwd);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut value = doc::parse(&text, FileFormat::Yaml)
        .with_context(|| format!("{} does not parse", path.display()))?;
    redact(&mut value);
    match args.format {
        ExportFormat::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        ExportFormat::Yaml => print!(
            "# exported from {} (secrets redacted)\n{}",
            path.display(),
            serde_saphyr::to_string(&value).map_err(anyhow::Error::from)?
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::REDACTED;
    use serde_json::json;

    #[test]
    fn redacts_values_not_references() {
        let mut v = json!({"backends": {"a": {"command": "x", "env": {"TOKEN": "ghp_secret", "REF": "${GH_TOKEN}"}}, "b": {"http_url": "https://x", "headers": {"Authorization": "Bearer abc"}}}});
        redact(&mut v);
        assert_eq!(v["backends"]["a"]["env"]["TOKEN"], REDACTED);
        assert_eq!(v["backends"]["a"]["env"]["REF"], "${GH_TOKEN}");
        assert_eq!(v["backends"]["b"]["headers"]["Authorization"], REDACTED);
        assert_eq!(v["backends"]["a"]["command"], "x");
        assert!(!serde_saphyr::to_string(&v).unwrap().contains("secret"));
    }

    #[test]
    fn redacts_api_keys() {
        let mut v = json!({"auth": {"bearer_token": "tok-literal", "api_keys": [
            {"name": "a", "key": "key-literal", "allowed_tools": ["x"]},
            {"name": "b", "key_sha256": "ab12"},
            {"name": "c", "key": "${C_KEY}"}]}});
        redact(&mut v);
        let text = serde_json::to_string(&v).unwrap();
        for secret in ["tok-literal", "key-literal", "ab12"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(v["auth"]["api_keys"][2]["key"], "${C_KEY}");
        assert_eq!(v["auth"]["api_keys"][0]["name"], "a");
    }
}
