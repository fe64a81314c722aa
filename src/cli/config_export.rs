//! `mcp-gateway config export [--format yaml|json] [--show-secrets]`: prints the config file in
//! effect with every env value and header value redacted (a value that is only a `${VAR}`
//! reference is not a secret and is kept). For sharing configs and bug reports.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use crate::clients::{FileFormat, doc};
use crate::setup;
use crate::state::Paths;

/// Print the effective config with secrets redacted
#[derive(Debug, clap::Args)]
pub struct ConfigExportArgs {
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: ExportFormat,
    #[arg(short = 's', long, value_enum)]
    pub scope: Option<setup::ConfigScope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Yaml,
    Json,
}

pub const REDACTED: &str = "<redacted>";

fn is_reference(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("${")
        && t.ends_with('}')
        && t[2..t.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '-')
}

/// Replaces the values of `env` and `headers` (except pure `${VAR}` references).
pub fn redact_backend(backend: &mut Value) {
    for key in ["env", "headers"] {
        if let Some(Value::Object(m)) = backend.get_mut(key) {
            for v in m.values_mut() {
                if !v.as_str().is_some_and(is_reference) {
                    *v = Value::String(REDACTED.into());
                }
            }
        }
    }
}

/// The whole document with every backend and every API key (`key`, `key_sha256`,
/// `bearer_token`; a digest is an offline-guessing target) redacted.
pub fn redact(doc: &mut Value) {
    if let Some(Value::Object(backends)) = doc.get_mut("backends") {
        for b in backends.values_mut() {
            redact_backend(b);
        }
    }
    let hide = |v: &mut Value| {
        if !v.as_str().is_some_and(is_reference) {
            *v = Value::String(REDACTED.into());
        }
    };
    if let Some(Value::Object(auth)) = doc.get_mut("auth") {
        if let Some(v) = auth.get_mut("bearer_token") {
            hide(v);
        }
        if let Some(Value::Array(keys)) = auth.get_mut("api_keys") {
            for k in keys {
                for field in ["key", "key_sha256"] {
                    if let Some(v) = k.get_mut(field) {
                        hide(v);
                    }
                }
            }
        }
    }
}

pub fn run(config: Option<&Path>, args: ConfigExportArgs) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env().context("cannot determine the XDG directories (is HOME set?)")?;
    let cwd = std::env::current_dir()?;
    let path = setup::config_file(&paths, config, args.scope, &cwd);
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
            serde_saphyr::to_string(&value)?
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
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
