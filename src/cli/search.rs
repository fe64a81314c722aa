//! `mcp-gateway search "QUERY" [--server S] [--limit N] [--json]`: the meta-tool's ranking from
//! the shell.
//!
//! Owns printing the gateway's search outcome as an aligned table or the meta-tool's JSON. The
//! ranking, the index and the usage prior are the gateway's (`Gateway::search`); it never builds
//! an index of its own and never writes state.

use std::io::Write;

use anyhow::Context;
use serde_json::json;

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
    /// Print the `gateway_search_tools` result JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Prints `outcome` (the gateway's own ranking) as an aligned table or the meta-tool's JSON.
pub fn print(args: &SearchArgs, outcome: &SearchOutcome) -> anyhow::Result<()> {
    let text = if args.json {
        let matches: Vec<_> = outcome.hits.iter().map(render_match).collect();
        let value = json!({
            "matches": matches,
            "total": outcome.total,
            "no_good_match": outcome.no_good_match,
        });
        format!("{}\n", serde_json::to_string_pretty(&value)?)
    } else {
        table(outcome)
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")
}

/// Width the description column is cut to.
const DESCRIPTION_WIDTH: usize = 72;

fn table(outcome: &SearchOutcome) -> String {
    if outcome.hits.is_empty() {
        return "no matching tools\n".to_string();
    }
    let rows: Vec<[String; 3]> = outcome
        .hits
        .iter()
        .map(|h| {
            [
                format!("{:.2}", h.score),
                format!("{}/{}", h.doc.server, h.doc.name),
                trim_description(&h.doc.description, DESCRIPTION_WIDTH),
            ]
        })
        .collect();
    let width = |col: usize, header: &str| {
        rows.iter()
            .map(|r| r[col].chars().count())
            .chain([header.chars().count()])
            .max()
            .unwrap_or(0)
    };
    let (ws, wt) = (width(0, "SCORE"), width(1, "TOOL"));
    let mut out = format!("{:>ws$}  {:<wt$}  DESCRIPTION\n", "SCORE", "TOOL");
    for [score, tool, description] in &rows {
        out.push_str(&format!("{score:>ws$}  {tool:<wt$}  {description}\n"));
    }
    out.push_str(&format!(
        "{} of {} matching tools shown",
        rows.len(),
        outcome.total
    ));
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
        let t = table(&outcome);
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
}
