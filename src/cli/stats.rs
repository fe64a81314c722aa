//! `mcp-gateway stats`: the usage profiles of the state dir, per tool: calls, errors, p50 and
//! p95 latency, last use; most called first. `--json` prints the same records as the `tools` of
//! `GET /api/v1/metrics`; `--prometheus` the tool families of the `/metrics` exposition.
//!
//! It reads the profiles file only: it starts nothing and needs no config. A running gateway
//! adds its calls to the file every 10 s and when it stops.

use std::process::ExitCode;

use serde_json::json;

use super::CliError;
use crate::metrics::profiles::{self, now_ms};
use crate::metrics::{ToolStats, prometheus};
use crate::output::{Style, Table, ago, latency};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Only this server's tools
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,
    /// Print JSON instead of a table
    #[arg(long, conflicts_with = "prometheus")]
    pub json: bool,
    /// Print the Prometheus text exposition of the tool families (as `serve` does at /metrics)
    #[arg(long)]
    pub prometheus: bool,
}

pub fn run(args: &StatsArgs) -> Result<ExitCode, CliError> {
    let paths = super::paths()?;
    let mut stats =
        profiles::read_file(&paths.state_dir).map_err(|e| CliError::Failed(e.into()))?;
    let servers: Vec<String> = {
        let mut s: Vec<String> = stats.iter().map(|s| s.server.clone()).collect();
        s.dedup();
        s
    };
    if let Some(server) = &args.server {
        stats.retain(|s| &s.server == server);
    }
    if args.prometheus {
        print!("{}", prometheus::tools_text(stats));
        return Ok(ExitCode::SUCCESS);
    }
    stats.sort_by(|a, b| {
        b.data
            .calls()
            .cmp(&a.data.calls())
            .then_with(|| (&a.server, &a.tool).cmp(&(&b.server, &b.tool)))
    });
    if args.json {
        let total: u64 = stats.iter().map(|s| s.data.calls()).sum();
        let tools: Vec<_> = stats.iter().map(ToolStats::to_json).collect();
        let out = json!({ "tools": tools, "total_calls": total });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let file = profiles::Profiles::path(&paths.state_dir);
    if stats.is_empty() {
        match &args.server {
            Some(server) => {
                let near = crate::suggest::ranked(server, servers.iter().map(String::as_str));
                let hint = match near.first() {
                    Some(n) => format!(" (did you mean `{n}`?)"),
                    None => String::new(),
                };
                println!("no calls recorded for server `{server}`{hint}");
            }
            None => println!(
                "no tool calls recorded yet ({} is written by a running gateway every 10 s and when it stops)",
                file.display()
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", table(&stats, now_ms(), Style::detect()));
    Ok(ExitCode::SUCCESS)
}

/// The table, most called first (`stats` already sorted so), with a summary line.
fn table(stats: &[ToolStats], now: u64, style: Style) -> String {
    let rows = stats.iter().map(|s| {
        let d = &s.data;
        let count = |n: u64, paint: fn(&Style, &str) -> String| {
            if n == 0 {
                "0".to_string()
            } else {
                paint(&style, &n.to_string())
            }
        };
        let q = |q: f64| d.latency.quantile_us(q).map_or("-".to_string(), latency);
        vec![
            format!("{}/{}", s.server, s.tool),
            d.calls().to_string(),
            count(d.tool_errors, Style::yellow),
            count(d.errors, Style::red),
            q(0.5),
            q(0.95),
            if d.last_used_ms == 0 {
                "-".to_string()
            } else {
                ago(d.last_used_ms, now)
            },
        ]
    });
    let mut out = Table::new(&[
        "TOOL",
        "CALLS",
        "ERRORS",
        "FAILED",
        "P50",
        "P95",
        "LAST USED",
    ])
    .right(1)
    .right(2)
    .right(3)
    .right(4)
    .right(5)
    .rows(rows)
    .render();
    let calls: u64 = stats.iter().map(|s| s.data.calls()).sum();
    let tools = stats.len();
    out.push_str(&format!(
        "{calls} call{} to {tools} tool{}. ERRORS: the tool answered isError; FAILED: timeout, \
         transport or backend failure.\n",
        if calls == 1 { "" } else { "s" },
        if tools == 1 { "" } else { "s" },
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{CallOutcome, Profiles};
    use std::time::Duration;

    #[test]
    fn the_table_aligns_numbers_and_says_what_errors_are() {
        let p = Profiles::default();
        for ms in [2, 3, 4] {
            p.record(
                "time",
                "get_current_time",
                CallOutcome::Ok,
                Duration::from_millis(ms),
            );
        }
        p.record(
            "git",
            "git_log",
            CallOutcome::ToolError,
            Duration::from_millis(1200),
        );
        let mut stats = p.snapshot();
        stats.sort_by_key(|s| std::cmp::Reverse(s.data.calls()));
        let now = stats[0].data.last_used_ms + 180_000;
        let t = table(&stats, now, Style::plain());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "TOOL                   CALLS  ERRORS  FAILED    P50    P95  LAST USED"
        );
        assert_eq!(
            lines[1],
            "time/get_current_time      3       0       0  3.0ms  4.0ms  3 min ago"
        );
        assert!(
            lines[2].starts_with("git/git_log                1       1       0  1.20s  1.20s"),
            "{t}"
        );
        assert!(lines[3].starts_with("4 calls to 2 tools."), "{t}");
    }
}
