//! `mcp-gateway list`: the configured backends with their transport, state, tool count and
//! failsafe settings, read from the config and the persisted catalog (nothing is started), and
//! the config files they came from. Live failsafe state (breaker, queue) belongs to a running
//! gateway: `gateway_list_servers`, `/readyz`.

use std::process::ExitCode;

use serde_json::json;

use super::{CliError, GlobalArgs};
use crate::catalog::Catalog;
use crate::config;
use crate::state::Paths;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: &ListArgs) -> Result<ExitCode, CliError> {
    let mut config = super::load_config(global)?;
    let paths = Paths::from_env();
    // The backends the gateway adds (REST capabilities, skills) are listed like any other.
    for added in crate::gateway::in_process_backends(&config, paths.as_ref()) {
        config.backends.insert(added.name.clone(), added);
    }
    let wanted = config
        .backends
        .iter()
        .map(|(n, b)| (n.clone(), b.launch_fingerprint()))
        .collect();
    let pins = paths
        .as_ref()
        .and_then(|p| crate::capability::PinStore::open(p).ok());
    let catalog = Catalog::load(paths.map(|p| p.catalog_dir()), &wanted);
    let rows: Vec<serde_json::Value> = config
        .backends
        .values()
        .map(|b| {
            let entry = catalog.get(&b.name);
            let state = match (&entry, b.enabled) {
                (_, false) => "disabled",
                (Some(_), true) => "cataloged",
                (None, true) => "not yet seen",
            };
            json!({
                "name": b.name,
                "transport": b.transport.kind(),
                "state": state,
                "tools": entry.as_ref().map(|e| e.tools.len()),
                "fetched_at": entry.as_ref().map(|e| e.fetched_at),
                "description": b.description,
                "held": pins
                    .as_ref()
                    .filter(|_| b.pin_tools)
                    .and_then(|p| p.backend(&b.name))
                    .map(|p| p.held.iter().map(|(t, h)| (t.clone(), h.reason.clone())).collect::<std::collections::BTreeMap<_, _>>()),
                "failsafe": crate::backend::failsafe::settings_summary(
                    &b.failsafe,
                    matches!(b.transport, config::Transport::Http(_)),
                ),
            })
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "no backends configured (config: {})",
            describe_sources(&config)
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("config: {}", describe_sources(&config));
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r["name"].as_str().unwrap_or_default().to_string(),
                r["transport"].as_str().unwrap_or_default().to_string(),
                r["state"].as_str().unwrap_or_default().to_string(),
                r["tools"]
                    .as_u64()
                    .map(|n| n.to_string())
                    .unwrap_or("-".into()),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::output::table(&["NAME", "TRANSPORT", "STATE", "TOOLS"], &table)
    );
    for r in &rows {
        if let Some(held) = r["held"].as_object() {
            for reason in held.values() {
                println!("held back: {}", reason.as_str().unwrap_or_default());
            }
        }
    }
    println!("failsafes:");
    for r in &rows {
        println!(
            "  {}: {}",
            r["name"].as_str().unwrap_or_default(),
            r["failsafe"].as_str().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn describe_sources(config: &config::Config) -> String {
    if config.sources.is_empty() {
        "none found".to_string()
    } else {
        config
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
