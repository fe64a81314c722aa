//! `mcp-gateway init [--with-examples] [--scope user|project] [--force]`: writes a starter
//! gateway.yaml (mode 0600). With `--with-examples` it holds real servers that need no API key
//! (`everything`, `memory`, `filesystem` via npx; `time` via uvx), each only when its launcher is
//! on PATH, so the config works on the machine it was written on. Refuses to overwrite unless
//! `--force` (the old file is backed up; `setup undo` restores it).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{CliError, usage};
use serde_json::{Value, json};

use super::ScopeArg;
use crate::configedit::{self, backends as gateway_yaml};

/// Write a starter gateway.yaml
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Include keyless example servers (everything, memory, filesystem, time)
    #[arg(long)]
    pub with_examples: bool,
    #[arg(short = 's', long, value_enum, default_value = "user")]
    pub scope: ScopeArg,
    /// Overwrite an existing file (it is backed up first)
    #[arg(long)]
    pub force: bool,
}

const BASE: &str = "# mcp-gateway configuration, written by `mcp-gateway init`. Reference: docs/configuration.md\n\
# Clients run `mcp-gateway` as their only MCP server; backends below start lazily on first use.\n\
\n\
# Clients see a few meta-tools (search, invoke, list) instead of every backend tool.\n\
meta_mcp:\n  enabled: true\n\
\n\
# Add servers with `mcp-gateway add NAME -- COMMAND ARGS…`, or import your clients' servers\n\
# with `mcp-gateway setup`.\n\
backends: {}\n";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// The example backends whose launcher exists here, and notes about the ones left out.
pub fn examples(
    files_dir: &Path,
    has: impl Fn(&str) -> bool,
) -> (Vec<(String, Value)>, Vec<String>) {
    let candidates = [
        (
            "everything",
            "npx",
            json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"], "description": "MCP reference server: echo, add, long-running operations, sample resources"}),
        ),
        (
            "memory",
            "npx",
            json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "description": "Persistent knowledge-graph memory"}),
        ),
        (
            "filesystem",
            "npx",
            json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", files_dir.to_string_lossy()], "description": format!("Files under {}", files_dir.display())}),
        ),
        (
            "time",
            "uvx",
            json!({"command": "uvx", "args": ["mcp-server-time"], "description": "Current time and timezone conversion"}),
        ),
    ];
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (name, launcher, value) in candidates {
        if has(launcher) {
            out.push((name.to_string(), value));
        } else {
            notes.push(format!(
                "skipped `{name}`: `{launcher}` is not on PATH (install {})",
                if launcher == "npx" { "Node.js" } else { "uv" }
            ));
        }
    }
    (out, notes)
}

pub fn run(config: Option<&Path>, args: InitArgs) -> Result<ExitCode, CliError> {
    let paths = super::paths()?;
    let cwd = std::env::current_dir()?;
    let scope = if config.is_some() && args.scope == ScopeArg::User {
        None
    } else {
        Some(args.scope.at(&cwd))
    };
    let path = configedit::target_file(&paths, config, scope, &cwd);
    let mut text = BASE.to_string();
    let mut notes = Vec::new();
    if args.with_examples {
        let files_dir = paths.data_dir.join("files");
        std::fs::create_dir_all(&files_dir)
            .with_context(|| format!("cannot create {}", files_dir.display()))?;
        let (backends, skipped) = examples(&files_dir, on_path);
        notes = skipped;
        text = gateway_yaml::edit_backends(&text, &[], &backends)
            .context("cannot add the examples")?;
    }
    configedit::edit_config(&paths, &path, "init", |before| {
        if before.is_some() && !args.force {
            usage!(
                "{} already exists (use --force to replace it; the old file is backed up)",
                path.display()
            );
        }
        Ok::<_, CliError>((text, ()))
    })?;
    println!("Wrote {}", path.display());
    for n in notes {
        println!("  note: {n}");
    }
    println!("Next: `mcp-gateway setup` to move your clients' servers behind the gateway, or add");
    println!(
        "      {{\"mcpServers\": {{\"gateway\": {{\"command\": \"mcp-gateway\"}}}}}} to your client (see client-configs/)."
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docedit::{self as doc, FileFormat};

    #[test]
    fn base_and_examples_parse() {
        let v = doc::parse(BASE, FileFormat::Yaml).unwrap();
        assert_eq!(v["meta_mcp"]["enabled"], true);
        let (all, notes) = examples(Path::new("/data/files"), |_| true);
        assert_eq!(all.len(), 4);
        assert!(notes.is_empty());
        let text = gateway_yaml::edit_backends(BASE, &[], &all).unwrap();
        assert!(text.contains("meta_mcp:\n  enabled: true"), "{text}");
        let back = gateway_yaml::entries(&text).unwrap();
        assert_eq!(
            back.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["everything", "memory", "filesystem", "time"]
        );
        let (no_uv, notes) = examples(Path::new("/d"), |l| l == "npx");
        assert_eq!(no_uv.len(), 3);
        assert!(notes[0].contains("uv"));
    }
}
