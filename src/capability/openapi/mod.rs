//! OpenAPI 3.0 / 3.1 → capability files (`mcp-gateway cap import`).
//!
//! Owns turning each operation of a spec into one capability document: local `$ref`s resolved
//! (cycles cut), path/query/header parameters and JSON, form or text bodies mapped to
//! arguments, security schemes mapped to environment-variable auth, and a reason for every
//! operation skipped. It never fetches remote `$ref`s, and it writes only into the output
//! directory it is given, each file validated by the same loader the gateway uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::definition::{MAX_NAME_LEN, valid_tool_name};

mod operation;
mod resolve;

use operation::{base_url, convert_operation};
use resolve::{Resolver, Unusable};

/// Longest description written into a capability.
const MAX_DESCRIPTION: usize = 2000;
/// Nested `$ref` expansions deeper than this are cut to a plain schema.
const MAX_REF_DEPTH: usize = 12;
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {source_name}: {message}")]
    Read {
        source_name: String,
        message: String,
    },
    #[error("{source_name} is neither JSON nor YAML: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("{source_name} is not an OpenAPI 3.x document: {message}")]
    NotOpenApi {
        source_name: String,
        message: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid --include pattern `{pattern}`: {message}")]
    Include { pattern: String, message: String },
}

/// Options of one import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Prefix for tool names (`P_name`) and environment variables (`P_TOKEN`).
    pub prefix: Option<String>,
    /// Only operations whose tool name, operationId or path matches one of these globs.
    pub include: Vec<String>,
    /// Base URL when the spec's `servers` is missing or relative.
    pub base_url: Option<String>,
}

/// One generated capability.
#[derive(Debug, Clone)]
pub struct Generated {
    pub name: String,
    /// `GET /pets/{id}`.
    pub operation: String,
    pub document: Value,
}

/// The outcome of converting a spec.
#[derive(Debug, Default)]
pub struct Conversion {
    pub generated: Vec<Generated>,
    /// (`METHOD /path`, reason).
    pub skipped: Vec<(String, String)>,
    /// Operations left out by `--include`.
    pub excluded: usize,
    /// Environment variables the generated capabilities read.
    pub env_vars: BTreeSet<String>,
}

/// Reads a spec from a file path or an http(s) URL.
pub async fn read_spec(source: &str) -> Result<(Value, Option<url::Url>), ImportError> {
    let read_err = |message: String| ImportError::Read {
        source_name: source.to_string(),
        message,
    };
    let (text, url) = if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(source).map_err(|e| read_err(e.to_string()))?;
        let response = reqwest::Client::new()
            .get(url.clone())
            .send()
            .await
            .map_err(|e| read_err(e.to_string()))?;
        if !response.status().is_success() {
            return Err(read_err(format!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| read_err(e.to_string()))?;
        (text, Some(url))
    } else {
        let text = std::fs::read_to_string(source).map_err(|e| read_err(e.to_string()))?;
        (text, None)
    };
    Ok((parse_spec(&text, source)?, url))
}

/// Parses spec text (JSON first, then YAML) and checks it is OpenAPI 3.x.
pub fn parse_spec(text: &str, source_name: &str) -> Result<Value, ImportError> {
    let spec: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json_err) => serde_saphyr::from_str(text).map_err(|yaml_err| ImportError::Parse {
            source_name: source_name.to_string(),
            message: format!(
                "as JSON: {json_err}; as YAML: {}",
                yaml_err.to_string().lines().next().unwrap_or("")
            ),
        })?,
    };
    match spec.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => Ok(spec),
        Some(v) => Err(ImportError::NotOpenApi {
            source_name: source_name.to_string(),
            message: format!("version {v} (only 3.0 and 3.1 are supported)"),
        }),
        None if spec.get("swagger").is_some() => Err(ImportError::NotOpenApi {
            source_name: source_name.to_string(),
            message: "Swagger 2.0 (convert it to OpenAPI 3 first)".to_string(),
        }),
        None => Err(ImportError::NotOpenApi {
            source_name: source_name.to_string(),
            message: "no `openapi` version field".to_string(),
        }),
    }
}

fn upper_snake(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    let out: String = out.chars().take(30).collect();
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("API_{out}")
    } else {
        out
    }
}

/// `text` as a tool-name fragment: `[A-Za-z0-9_-]`, others become `_`.
fn name_fragment(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_string()
}

/// An argument name usable in `{…}` templates.
fn arg_name(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "arg".to_string()
    } else {
        out
    }
}

/// Limits a name to the tool-name length, keeping it unique with a short hash suffix.
fn fit_name(name: String) -> String {
    if name.len() <= MAX_NAME_LEN {
        return name;
    }
    let hash = &super::pins::sha256_hex(name.as_bytes())[..8];
    let keep: String = name.chars().take(MAX_NAME_LEN - 9).collect();
    format!("{keep}_{hash}")
}

/// Converts every operation of `spec` (no I/O).
pub fn convert(
    spec: &Value,
    opts: &ImportOptions,
    spec_url: Option<&url::Url>,
) -> Result<Conversion, ImportError> {
    let include: Vec<globset::GlobMatcher> = opts
        .include
        .iter()
        .map(|p| {
            globset::Glob::new(p)
                .map(|g| g.compile_matcher())
                .map_err(|e| ImportError::Include {
                    pattern: p.clone(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let env_prefix = match &opts.prefix {
        Some(p) => upper_snake(p),
        None => upper_snake(
            spec.pointer("/info/title")
                .and_then(Value::as_str)
                .unwrap_or("API"),
        ),
    };
    let name_prefix = opts
        .prefix
        .as_deref()
        .map(name_fragment)
        .filter(|p| !p.is_empty());
    let base = base_url(spec, opts, spec_url, &env_prefix);
    let resolver = Resolver { spec };
    let mut out = Conversion::default();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let paths: BTreeMap<&String, &Value> = spec
        .get("paths")
        .and_then(Value::as_object)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    for (path, item) in paths {
        // A path item may itself be a `$ref`; its operations are resolved one by one below.
        let item = match item.get("$ref").and_then(Value::as_str) {
            Some(r) => match resolver.lookup(r) {
                Ok(i) => i.clone(),
                Err(Unusable(reason)) => {
                    out.skipped.push((format!("* {path}"), reason));
                    continue;
                }
            },
            None => (*item).clone(),
        };
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let operation = format!("{} {path}", method.to_ascii_uppercase());
            let op_id = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string);
            let raw = op_id
                .as_deref()
                .map(name_fragment)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| name_fragment(&format!("{method}_{path}")));
            let raw = match &name_prefix {
                Some(p) => format!("{p}_{raw}"),
                None => raw,
            };
            let mut name = fit_name(raw);
            let mut n = 2;
            while taken.contains(&name) {
                name = fit_name(format!("{name}_{n}"));
                n += 1;
            }
            if !include.is_empty()
                && !include.iter().any(|g| {
                    g.is_match(&name)
                        || g.is_match(path)
                        || op_id.as_deref().is_some_and(|id| g.is_match(id))
                })
            {
                out.excluded += 1;
                continue;
            }
            if !valid_tool_name(&name) {
                out.skipped.push((
                    operation,
                    format!("cannot derive a valid tool name (`{name}`)"),
                ));
                continue;
            }
            match convert_operation(
                spec,
                &resolver,
                path,
                &item,
                method,
                op,
                &name,
                &base,
                &env_prefix,
                &mut out.env_vars,
            ) {
                Ok(document) => {
                    taken.insert(name.clone());
                    out.generated.push(Generated {
                        name,
                        operation,
                        document,
                    });
                }
                Err(Unusable(reason)) => out.skipped.push((operation, reason)),
            }
        }
    }
    if base.starts_with("${") && !base.contains(":-") {
        out.env_vars.insert(format!("{env_prefix}_BASE_URL"));
    }
    Ok(out)
}

/// Result of writing a conversion.
#[derive(Debug, Default)]
pub struct WriteReport {
    pub written: Vec<PathBuf>,
    /// (operation, reason) for documents that failed validation or the scanner.
    pub rejected: Vec<(String, String)>,
}

/// Writes each generated capability to `dir/<name>.yaml`, after checking it loads cleanly and
/// has no high-severity scanner finding.
pub fn write(conversion: &Conversion, dir: &Path) -> Result<WriteReport, ImportError> {
    std::fs::create_dir_all(dir).map_err(|source| ImportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut report = WriteReport::default();
    for g in &conversion.generated {
        let path = dir.join(format!("{}.yaml", g.name));
        let yaml = match serde_saphyr::to_string(&g.document) {
            Ok(y) => format!("# Imported from OpenAPI: {}\n{y}", g.operation),
            Err(e) => {
                report
                    .rejected
                    .push((g.operation.clone(), format!("cannot write YAML: {e}")));
                continue;
            }
        };
        match super::parse_text(&yaml, &path) {
            Ok(cap) => {
                let findings = crate::scanner::scan_tool(&cap.tool());
                if let Some(high) = findings
                    .iter()
                    .find(|f| f.severity == crate::scanner::Severity::High)
                {
                    report.rejected.push((
                        g.operation.clone(),
                        format!("withheld by the scanner: {high}"),
                    ));
                    continue;
                }
            }
            Err(p) => {
                report
                    .rejected
                    .push((g.operation.clone(), format!("does not load: {p}")));
                continue;
            }
        }
        std::fs::write(&path, yaml).map_err(|source| ImportError::Write {
            path: path.clone(),
            source,
        })?;
        report.written.push(path);
    }
    Ok(report)
}
