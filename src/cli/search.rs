//! `mcp-gateway search "QUERY" [--server S] [--limit N] [--json]`: the meta-tool's ranking from
//! the shell.
//!
//! Owns running one search through a gateway started on the config (backends the catalog has
//! never seen are discovered first) and printing the outcome as an aligned table or the
//! meta-tool's JSON. The ranking, the index and the usage prior are the gateway's
//! (`Gateway::search`); it never builds an index of its own and never writes state.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::{CliError, GlobalArgs};

use crate::gateway::Kind;
use crate::search::render::trim_description;
use crate::search::{SearchOutcome, render_match};

/// Arguments of `mcp-gateway search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// What the tool should do, or its name (`create_issue`, `github/create_issue`).
    pub query: String,
    /// Only tools of this server.
    #[arg(long, short = 's')]
    pub server: Option<String>,
    /// How many matches to show.
    #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub limit: u16,
    /// Only tools (`tool`) or only skills (`skill`).
    #[arg(long, value_parser = parse_kind)]
    pub kind: Option<Kind>,
    /// Print the `gateway_search_tools` result JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| format!("`{text}` is neither `tool` nor `skill`"))
}

/// A search's outcome and the name of the skills backend (to tell skills from tools).
pub struct Found {
    pub outcome: SearchOutcome,
    pub skills: Option<String>,
}

impl Found {
    fn kind(&self, server: &str) -> Kind {
        if self.skills.as_deref() == Some(server) {
            Kind::Skill
        } else {
            Kind::Tool
        }
    }
}

/// Runs the search and prints it.
pub fn run(global: &GlobalArgs, args: &SearchArgs) -> Result<ExitCode, CliError> {
    let config = super::load_config(global)?;
    let runtime = super::runtime()?;
    let found = runtime.block_on(search(config, args));
    runtime.shutdown_timeout(Duration::from_secs(1));
    print(args, &found?)?;
    Ok(ExitCode::SUCCESS)
}

/// One search through a gateway started on `config`: backends the catalog has never seen are
/// discovered first (started once, then stopped), then the gateway's own index answers.
async fn search(config: crate::config::Config, args: &SearchArgs) -> Result<Found, CliError> {
    let paths = crate::state::Paths::from_env();
    let gateway =
        crate::gateway::Gateway::start(config, paths.as_ref()).map_err(anyhow::Error::from)?;
    gateway.set_client_capabilities(serde_json::json!({}));
    if let Some(s) = &args.server
        && gateway.backend(s).is_none()
    {
        let known: Vec<String> = gateway
            .backends()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        gateway.shutdown().await;
        super::usage!("no server named `{s}` (configured: {known})");
    }
    let pending = gateway.wait_for_discovery(Duration::from_millis(100)).await;
    if !pending.is_empty() {
        eprintln!("discovering the tools of {} …", pending.join(", "));
        let still = gateway.wait_for_discovery(Duration::from_secs(120)).await;
        if !still.is_empty() {
            eprintln!("not ready, left out: {}", still.join(", "));
        }
    }
    gateway.wait_for_index().await;
    gateway.wait_for_embeddings(Duration::from_secs(30)).await;
    let outcome = gateway.search(
        &args.query,
        usize::from(args.limit),
        args.server.as_deref(),
        args.kind,
    );
    let skills = gateway.skills_backend();
    gateway.shutdown().await;
    Ok(Found {
        outcome: outcome.map_err(anyhow::Error::from)?,
        skills,
    })
}

/// Prints `found` (the gateway's own ranking) as an aligned table or the meta-tool's JSON.
pub fn print(args: &SearchArgs, found: &Found) -> anyhow::Result<()> {
    let outcome = &found.outcome;
    let text = if args.json {
        let matches: Vec<_> = outcome
            .hits
            .iter()
            .map(|h| {
                let mut m = render_match(h);
                m["kind"] = json!(found.kind(&h.doc.server).label());
                m
            })
            .collect();
        let value = json!({
            "matches": matches,
            "total": outcome.total,
            "no_good_match": outcome.no_good_match,
        });
        format!("{}\n", serde_json::to_string_pretty(&value)?)
    } else {
        table(found)
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")
}

/// Width the description column is cut to.
const DESCRIPTION_WIDTH: usize = 72;

fn table(found: &Found) -> String {
    let outcome = &found.outcome;
    if outcome.hits.is_empty() {
        return match found.skills {
            Some(_) => "no matching tools or skills\n".to_string(),
            None => "no matching tools\n".to_string(),
        };
    }
    let rows: Vec<Vec<String>> = outcome
        .hits
        .iter()
        .map(|h| {
            vec![
                format!("{:.2}", h.score),
                match found.kind(&h.doc.server) {
                    Kind::Tool => format!("{}/{}", h.doc.server, h.doc.name),
                    Kind::Skill => format!("{}/{} (skill)", h.doc.server, h.doc.name),
                },
                trim_description(&h.doc.description, DESCRIPTION_WIDTH),
            ]
        })
        .collect();
    let shown = rows.len();
    let skills = outcome
        .hits
        .iter()
        .filter(|h| found.kind(&h.doc.server) == Kind::Skill)
        .count();
    // Say what was found: `skills search` finds only skills, a mixed list holds both.
    let (column, noun) = match skills {
        0 => ("TOOL", "matching tools"),
        n if n == shown => ("SKILL", "matching skills"),
        _ => ("TOOL", "matches"),
    };
    let mut out = crate::output::Table::new(&["SCORE", column, "DESCRIPTION"])
        .right(0)
        .rows(rows)
        .render();
    out.push_str(&format!("{shown} of {} {noun} shown", outcome.total));
    if outcome.no_good_match {
        out.push_str("; no good match: these are weak guesses");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::ToolDoc;
    use std::sync::Arc;

    #[test]
    fn table_aligns_columns_and_flags_weak_results() {
        let doc = |name: &str| {
            Arc::new(ToolDoc {
                server: "github".into(),
                server_description: None,
                name: name.into(),
                title: None,
                description: "Create a new issue in a repository.".into(),
                input_schema: json!({}),
            })
        };
        let outcome = SearchOutcome {
            hits: vec![
                crate::search::Hit {
                    doc: doc("create_issue"),
                    score: 12.5,
                },
                crate::search::Hit {
                    doc: doc("x"),
                    score: 3.25,
                },
            ],
            total: 7,
            no_good_match: true,
            confidence: 0.1,
            similarity: None,
        };
        let t = table(&Found {
            outcome,
            skills: None,
        });
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "SCORE  TOOL                 DESCRIPTION");
        assert_eq!(
            lines[1],
            "12.50  github/create_issue  Create a new issue in a repository."
        );
        assert_eq!(
            lines[2],
            " 3.25  github/x             Create a new issue in a repository."
        );
        assert!(lines[3].starts_with("2 of 7") && lines[3].contains("no good match"));
    }

    #[test]
    fn the_table_says_skills_when_it_lists_skills() {
        let hit = |server: &str, name: &str| crate::search::Hit {
            doc: Arc::new(ToolDoc {
                server: server.into(),
                server_description: None,
                name: name.into(),
                title: None,
                description: "d".into(),
                input_schema: json!({}),
            }),
            score: 1.0,
        };
        let found = |hits| Found {
            outcome: SearchOutcome {
                hits,
                total: 2,
                no_good_match: false,
                confidence: 1.0,
                similarity: None,
            },
            skills: Some("skills".into()),
        };
        let only = table(&found(vec![hit("skills", "release-notes")]));
        assert!(only.starts_with("SCORE  SKILL "), "{only}");
        assert!(only.contains("1 of 2 matching skills shown"), "{only}");
        let mixed = table(&found(vec![hit("skills", "a"), hit("github", "b")]));
        assert!(mixed.starts_with("SCORE  TOOL "), "{mixed}");
        assert!(mixed.contains("2 of 2 matches shown"), "{mixed}");
    }
}
