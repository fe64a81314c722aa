//! `mcp-gateway keys add|list|revoke`: API keys in the keys store (state dir).
//!
//! `add` prints the new key once on stdout (and nothing else there, so scripts can capture it);
//! `list` never shows a key or its digest. A running gateway picks changes up within a second.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, bail};

use crate::auth::keys::{KeyStore, NewKey, StoredKey, format_time};
use crate::state::Paths;

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once
    Add(AddArgs),
    /// List keys: name, scope, rate limit, expiry, last use (never the key)
    List(ListArgs),
    /// Delete a key; callers using it are refused from then on
    Revoke(RevokeArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Name shown in the request log (`[A-Za-z0-9_.@-]`, up to 64)
    pub name: String,
    /// Tools this key may see and call: `server/tool` globs, a bare tool glob, `server/*`,
    /// `@tag` (repeatable; default: every tool)
    #[arg(long = "scope", value_name = "PATTERN")]
    pub scopes: Vec<String>,
    /// Tools this key may never call, same patterns (repeatable; wins over --scope)
    #[arg(long = "deny", value_name = "PATTERN")]
    pub deny: Vec<String>,
    /// Requests per minute (0: unlimited; default: `auth.rate_limit`)
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// May read the request log and use admin endpoints
    #[arg(long)]
    pub admin: bool,
    /// Expiry: a duration from now (`30d`, `12h`) or an RFC 3339 time
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    pub name: String,
}

pub fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env().context("cannot determine the XDG directories (is HOME set?)")?;
    let store = KeyStore::in_dir(&paths.state_dir);
    match args.command {
        KeysCommand::Add(a) => add(&store, a),
        KeysCommand::List(a) => list(&store, &a),
        KeysCommand::Revoke(a) => {
            if store.revoke(&a.name)? {
                eprintln!("Revoked key `{}`", a.name);
                Ok(ExitCode::SUCCESS)
            } else {
                let names: Vec<String> = store.load()?.into_iter().map(|k| k.name).collect();
                bail!(
                    "no key named `{}` in {} (it has: {})",
                    a.name,
                    store.path().display(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            }
        }
    }
}

fn add(store: &KeyStore, a: AddArgs) -> anyhow::Result<ExitCode> {
    if a.rate_limit
        .is_some_and(|r| r > crate::ratelimit::MAX_LIMIT)
    {
        bail!(
            "--rate-limit {} is above the maximum of {} requests per minute",
            a.rate_limit.unwrap_or_default(),
            crate::ratelimit::MAX_LIMIT
        );
    }
    let expires_at = match &a.expires {
        None => None,
        Some(text) => Some(parse_expiry(text)?),
    };
    let (stored, secret) = store.add(NewKey {
        name: a.name,
        allowed_tools: a.scopes,
        denied_tools: a.deny,
        rate_limit: a.rate_limit,
        admin: a.admin,
        expires_at,
    })?;
    println!("{secret}");
    eprintln!(
        "Created key `{}` ({}). This is the only time it is shown: store it now.\nSend it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
        stored.name,
        describe_scope(&stored)
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_expiry(text: &str) -> anyhow::Result<SystemTime> {
    if let Some(t) = crate::auth::keys::parse_time(text) {
        return Ok(t);
    }
    let d = crate::config::parse_duration(text)
        .map_err(|m| anyhow::anyhow!("--expires: {m}, or an RFC 3339 time"))?;
    if d.is_zero() {
        bail!("--expires must be in the future");
    }
    Ok(SystemTime::now() + d)
}

fn describe_scope(k: &StoredKey) -> String {
    let mut parts = Vec::new();
    parts.push(if k.allowed_tools.is_empty() {
        "every tool".to_string()
    } else {
        k.allowed_tools.join(" ")
    });
    if !k.denied_tools.is_empty() {
        parts.push(format!("except {}", k.denied_tools.join(" ")));
    }
    if k.admin {
        parts.push("admin".to_string());
    }
    parts.join(", ")
}

fn list(store: &KeyStore, a: &ListArgs) -> anyhow::Result<ExitCode> {
    let keys = store.load()?;
    if a.json {
        let items: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "name": k.name,
                    "allowed_tools": k.allowed_tools,
                    "denied_tools": k.denied_tools,
                    "rate_limit": k.rate_limit,
                    "admin": k.admin,
                    "created_at": k.created_at,
                    "expires_at": k.expires_at,
                    "last_used_at": k.last_used_at,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"keys": items}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if keys.is_empty() {
        println!(
            "No keys in {} (create one with `mcp-gateway keys add NAME`)",
            store.path().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = SystemTime::now();
    let rows: Vec<[String; 5]> = keys
        .iter()
        .map(|k| {
            let expires = match (&k.expires_at, k.expires()) {
                (Some(_), Some(t)) if t <= now => format!("{} (expired)", format_time(t)),
                (Some(text), _) => text.clone(),
                (None, _) => "never".to_string(),
            };
            [
                k.name.clone(),
                describe_scope(k),
                k.rate_limit
                    .map(|r| {
                        if r == 0 {
                            "unlimited".into()
                        } else {
                            format!("{r}/min")
                        }
                    })
                    .unwrap_or_else(|| "default".into()),
                expires,
                k.last_used_at.clone().unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    let header = ["NAME", "SCOPE", "RATE", "EXPIRES", "LAST USED"];
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out
    };
    println!("{}", line(header));
    for r in &rows {
        println!("{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    Ok(ExitCode::SUCCESS)
}
