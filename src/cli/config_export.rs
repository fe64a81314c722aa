//! `mcp-gateway config export [--format yaml|json] [--scope user|project]`: prints the effective
//! config (the file in effect, laid over the user file when it says `inherit: true`) redacted by `crate::redact::config_document` (env and header values unless a bare
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
    let mut value = Value::Null;
    for path in &files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let upper = doc::parse(&text, FileFormat::Yaml)
            .with_context(|| format!("{} does not parse", path.display()))?;
        value = overlay(value, upper);
    }
    if let (true, Value::Object(m)) = (files.len() > 1, &mut value) {
        m.remove("inherit");
    }
    redact(&mut value);
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

/// `upper` laid over `lower` as the loader layers files: a backend replaces the one of the same
/// name, one that sets only `enabled` switches the inherited one; in the other sections each key
/// replaces the inherited key (`auth` and `request_log` as a whole).
fn overlay(lower: Value, upper: Value) -> Value {
    let (mut lower, upper) = match (lower, upper) {
        (Value::Object(lower), Value::Object(upper)) => (lower, upper),
        (_, upper) => return upper,
    };
    for (section, value) in upper {
        let merged = match (section.as_str(), lower.remove(&section), value) {
            ("backends", Some(Value::Object(mut low)), Value::Object(up)) => {
                for (name, backend) in up {
                    let switch_only = backend
                        .as_object()
                        .is_some_and(|b| b.len() == 1 && b.contains_key("enabled"));
                    match low.get_mut(&name).and_then(Value::as_object_mut) {
                        Some(inherited) if switch_only => {
                            inherited.insert("enabled".to_string(), backend["enabled"].clone());
                        }
                        _ => {
                            low.insert(name, backend);
                        }
                    }
                }
                Value::Object(low)
            }
            ("auth" | "request_log", _, up) => up,
            (_, Some(Value::Object(mut low)), Value::Object(up)) => {
                low.extend(up);
                Value::Object(low)
            }
            (_, _, up) => up,
        };
        lower.insert(section, merged);
    }
    Value::Object(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::REDACTED;
    use serde_json::json;

    #[test]
    fn overlay_layers_as_the_loader_does() {
        let lower = json!({"server": {"host": "127.0.0.1", "port": 1}, "backends": {
            "a": {"command": "x", "enabled": true}, "b": {"command": "y"}}});
        let upper = json!({"inherit": true, "server": {"port": 2}, "backends": {
            "a": {"enabled": false}, "b": {"command": "z"}, "c": {"command": "w"}}});
        let v = overlay(overlay(Value::Null, lower), upper);
        assert_eq!(v["server"], json!({"host": "127.0.0.1", "port": 2}));
        assert_eq!(
            v["backends"]["a"],
            json!({"command": "x", "enabled": false})
        );
        assert_eq!(v["backends"]["b"], json!({"command": "z"}));
        assert_eq!(v["backends"]["c"], json!({"command": "w"}));
    }

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
