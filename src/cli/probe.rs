//! `mcp-gateway probe URL|COMMAND [ARGS…]`: connects to one MCP server through the same backend
//! code the gateway uses (lazy start, `initialize`, every page of `tools/list`), optionally calls
//! one tool, and prints what it found as an aligned table or JSON. Exit 0 when everything
//! worked, 1 when the server failed (or the tool returned `isError`), 2 for bad arguments.
//!
//! It needs no config file and writes no state; it never starts more than that one server.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use super::CliError;
use crate::backend::process::Reaper;
use crate::backend::{Backend, BackendEnv};
use crate::config::{BackendConfig, HttpKind, HttpSpec, StdioSpec, Transport};
use crate::peer::CallContext;

#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// An http(s):// URL, or a program to run as a stdio server (its arguments follow)
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "URL|COMMAND")]
    pub target: Vec<String>,
    /// Call this tool after listing
    #[arg(long, value_name = "TOOL")]
    pub call: Option<String>,
    /// Arguments for --call, as a JSON object
    #[arg(long, value_name = "JSON", requires = "call")]
    pub args: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// HTTP transport: detect, or force one
    #[arg(long, value_enum, default_value_t = ProbeTransport::Auto)]
    pub transport: ProbeTransport,
    /// Extra HTTP header, `Name: value` (repeatable)
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Timeout for each request, e.g. 30s or 2m
    #[arg(long, default_value = "30s", value_parser = crate::config::parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeTransport {
    Auto,
    StreamableHttp,
    Sse,
}

/// The backend config `probe` builds for its target.
pub fn backend_config(args: &ProbeArgs) -> Result<BackendConfig, String> {
    let (first, rest) = args
        .target
        .split_first()
        .ok_or_else(|| "give a URL or a command".to_string())?;
    let transport = if first.starts_with("http://") || first.starts_with("https://") {
        if !rest.is_empty() {
            return Err(format!(
                "unexpected arguments after the URL: {} (options go before the URL)",
                rest.join(" ")
            ));
        }
        let mut headers = BTreeMap::new();
        for h in &args.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("--header `{h}` is not `Name: value`"))?;
            headers.insert(name.trim().to_string(), value.trim().to_string());
        }
        Transport::Http(HttpSpec {
            url: first.clone(),
            headers,
            kind: match args.transport {
                ProbeTransport::Auto => HttpKind::Auto,
                ProbeTransport::StreamableHttp => HttpKind::StreamableHttp,
                ProbeTransport::Sse => HttpKind::Sse,
            },
        })
    } else {
        if !args.headers.is_empty() {
            return Err("--header only applies to URLs".into());
        }
        Transport::Stdio(StdioSpec {
            program: first.clone(),
            args: rest.to_vec(),
            env: BTreeMap::new(),
            cwd: None,
        })
    };
    Ok(BackendConfig {
        name: "probe".into(),
        tags: Vec::new(),
        description: None,
        enabled: true,
        transport,
        timeout: args.timeout,
        idle_timeout: Duration::from_secs(3600),
        tools: Default::default(),
        isolate: false,
        // A probe reports the first failure as it is: no retry, no breaker.
        failsafe: crate::config::Failsafe {
            breaker_enabled: false,
            retry_enabled: false,
            ..Default::default()
        },
        failsafe_patch: Default::default(),
        pin_tools: false,
    })
}

/// What one probe found.
struct Report {
    target: String,
    transport: &'static str,
    protocol_version: Option<String>,
    tools: Vec<Value>,
    listed_ms: u128,
    call: Option<(String, Result<Value, String>)>,
}

/// Entry from the command line (logging is already set up): runs [`run`] on the CLI's runtime.
pub fn main(args: ProbeArgs) -> Result<ExitCode, CliError> {
    let runtime = super::runtime()?;
    let code = runtime.block_on(run(args));
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Probes the target; the exit code says how it went.
pub async fn run(args: ProbeArgs) -> Result<ExitCode, CliError> {
    let config = backend_config(&args).map_err(|e| CliError::Usage(anyhow::anyhow!(e)))?;
    let call_args: Option<Value> = match &args.args {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Some(v),
            Ok(_) => super::usage!("--args must be a JSON object"),
            Err(e) => super::usage!("--args is not JSON: {e}"),
        },
        None => None,
    };
    let spawns = matches!(config.transport, Transport::Stdio(_));
    if spawns {
        crate::backend::process::become_subreaper();
    }
    let reaper = spawns.then(Reaper::start).flatten().map(Arc::new);
    let (env, _events) = BackendEnv::standalone(reaper);
    let transport = config.transport.kind();
    let backend = Backend::new(config, env);
    let started = Instant::now();
    let listed = backend.fetch_listing(Duration::from_secs(3600)).await;
    let mut report = Report {
        // Shown, so redacted: a URL's userinfo and query values never print.
        target: crate::redact::text(&args.target.join(" ")),
        transport,
        protocol_version: backend.protocol_version().await,
        tools: Vec::new(),
        listed_ms: started.elapsed().as_millis(),
        call: None,
    };
    let mut ok = true;
    match listed {
        Ok(listing) => report.tools = listing.tools,
        Err(e) => {
            backend.shutdown().await;
            return Err(anyhow::Error::from(e).into());
        }
    }
    if let Some(tool) = &args.call {
        let params = json!({ "name": tool, "arguments": call_args.unwrap_or_else(|| json!({})) });
        let result = backend
            .request("tools/call", Some(params), &CallContext::default())
            .await
            .map_err(|e| e.to_string())
            .and_then(|raw| {
                serde_json::from_str::<Value>(raw.get())
                    .map_err(|e| format!("the result is not JSON: {e}"))
            });
        ok = matches!(&result, Ok(v) if v.get("isError") != Some(&Value::Bool(true)));
        report.call = Some((tool.clone(), result));
    }
    backend.shutdown().await;
    if args.json {
        print_json(&report).context("writing to stdout")?;
    } else {
        print_table(&report);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_json(r: &Report) -> std::io::Result<()> {
    let mut out = json!({
        "target": r.target,
        "transport": r.transport,
        "protocolVersion": r.protocol_version,
        "tools": r.tools,
        "elapsedMs": r.listed_ms,
    });
    if let Some((tool, result)) = &r.call {
        out["call"] = match result {
            Ok(v) => json!({ "tool": tool, "result": v }),
            Err(e) => json!({ "tool": tool, "error": e }),
        };
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &out)?;
    writeln!(stdout)
}

fn print_table(r: &Report) {
    println!(
        "{} ({}, protocol {}): {} in {} ms",
        r.target,
        r.transport,
        r.protocol_version.as_deref().unwrap_or("?"),
        crate::output::counted(r.tools.len(), "tool", "tools"),
        r.listed_ms
    );
    let rows = r.tools.iter().map(|t| {
        let name = t.get("name").and_then(Value::as_str).unwrap_or("?");
        let desc = t
            .get("description")
            .and_then(Value::as_str)
            .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("")
            .trim();
        vec![name.to_string(), one_line(desc, 100)]
    });
    print!(
        "{}",
        crate::output::Table::headless()
            .indent(2)
            .rows(rows)
            .render()
    );
    if let Some((tool, result)) = &r.call {
        match result {
            Ok(v) => {
                let label = if v.get("isError") == Some(&Value::Bool(true)) {
                    "returned an error"
                } else {
                    "returned"
                };
                println!("\n{tool} {label}:");
                print_content(v);
            }
            Err(e) => println!("\n{tool} failed: {e}"),
        }
    }
}

/// Text blocks as text; anything else as JSON.
fn print_content(result: &Value) {
    let blocks = result.get("content").and_then(Value::as_array);
    match blocks {
        Some(blocks) if !blocks.is_empty() => {
            for b in blocks {
                match (b.get("type").and_then(Value::as_str), b.get("text")) {
                    (Some("text"), Some(Value::String(t))) => println!("{t}"),
                    _ => println!("{b}"),
                }
            }
        }
        _ => println!("{result}"),
    }
}

fn one_line(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        probe: ProbeArgs,
    }

    fn parse(args: &[&str]) -> ProbeArgs {
        Cli::try_parse_from(std::iter::once("probe").chain(args.iter().copied()))
            .unwrap()
            .probe
    }

    #[test]
    fn urls_and_commands_become_backend_configs() {
        let a = parse(&[
            "--call",
            "add",
            "--args",
            "{\"a\":1}",
            "-H",
            "X-Key: v",
            "http://127.0.0.1:9/mcp",
        ]);
        let c = backend_config(&a).unwrap();
        match c.transport {
            Transport::Http(h) => {
                assert_eq!(h.url, "http://127.0.0.1:9/mcp");
                assert_eq!(h.headers["X-Key"], "v");
                assert_eq!(h.kind, HttpKind::Auto);
            }
            other => panic!("{other:?}"),
        }
        let a = parse(&["--json", "npx", "-y", "server", "--flag"]);
        match backend_config(&a).unwrap().transport {
            Transport::Stdio(s) => {
                assert_eq!(s.program, "npx");
                assert_eq!(s.args, ["-y", "server", "--flag"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(backend_config(&parse(&["http://h/x", "extra"])).is_err());
        assert!(backend_config(&parse(&["-H", "nocolon", "http://h/x"])).is_err());
        assert!(backend_config(&parse(&["-H", "A: b", "prog"])).is_err());
    }

    #[test]
    fn timeouts_and_one_lines() {
        assert_eq!(
            parse(&["--timeout", "500ms", "x"]).timeout,
            Duration::from_millis(500)
        );
        assert_eq!(parse(&["x"]).timeout, Duration::from_secs(30));
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
