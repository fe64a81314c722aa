//! Token economy of search-first meta-tools on the real-server corpus (o200k tokens).
//!
//! Compares listing all 234 tools of 17 real MCP servers directly with what the gateway puts in
//! front of the model instead: its meta-tools' `tools/list` (taken from the real binary over
//! stdio) plus one `gateway_search_tools` round trip (request and result, shaped as the
//! meta-tool returns it: structured content plus the same JSON as one text block), averaged over
//! tests/fixtures/search-queries.txt. Run with `cargo bench --bench search_tokens`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use mcp_gateway::search::{SearchIndex, ToolDoc, render_match};
use serde_json::{Value, json};
use tiktoken_rs::CoreBPE;

fn manifest_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `(server, raw tools array)` for every corpus file, by file name.
fn corpus() -> anyhow::Result<Vec<(String, Vec<Value>)>> {
    let dir = manifest_path("tests/fixtures/real-servers");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let server = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .context("corpus file without a name")?;
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let tools: Vec<Value> = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a JSON array of tools", path.display()))?;
            Ok((server, tools))
        })
        .collect()
}

fn tool_doc(server: &str, t: &Value) -> ToolDoc {
    ToolDoc {
        server: server.to_string(),
        server_description: None,
        name: t["name"].as_str().unwrap_or_default().to_string(),
        title: t["title"]
            .as_str()
            .or_else(|| t["annotations"]["title"].as_str())
            .map(str::to_string),
        description: t["description"].as_str().unwrap_or_default().to_string(),
        input_schema: t["inputSchema"].clone(),
    }
}

/// The meta-tools' `tools/list` result, asked of the real gateway binary with no backends.
fn gateway_tools_list() -> anyhow::Result<Value> {
    let home = std::env::temp_dir().join(format!("mcpgw-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .current_dir(&home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("MCP_GATEWAY_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the gateway binary")?;
    let mut stdin = child.stdin.take().context("gateway stdin")?;
    let stdout = child.stdout.take().context("gateway stdout")?;
    for msg in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "search-tokens-bench", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ] {
        writeln!(stdin, "{msg}")?;
    }
    stdin.flush()?;
    let mut result = None;
    for line in BufReader::new(stdout).lines() {
        let msg: Value = serde_json::from_str(&line?)?;
        if msg["id"] == 2 {
            result = Some(msg["result"].clone());
            break;
        }
    }
    drop(stdin);
    child.wait()?;
    let _ = std::fs::remove_dir_all(&home);
    match result {
        Some(r) if r["tools"].is_array() => Ok(r),
        other => bail!("gateway answered tools/list with {other:?}"),
    }
}

fn main() -> anyhow::Result<()> {
    let bpe: CoreBPE = tiktoken_rs::o200k_base()?;
    let tokens = |v: &str| bpe.encode_with_special_tokens(v).len();
    let corpus = corpus()?;
    let tool_count: usize = corpus.iter().map(|(_, t)| t.len()).sum();

    // Listing every tool directly: each server's `tools/list` result, as JSON on the wire.
    let direct: usize = corpus
        .iter()
        .map(|(_, tools)| tokens(&json!({ "tools": tools }).to_string()))
        .sum();
    let direct_pretty: usize = corpus
        .iter()
        .map(|(_, tools)| {
            tokens(&serde_json::to_string_pretty(&json!({ "tools": tools })).unwrap_or_default())
        })
        .sum();

    let meta = gateway_tools_list()?;
    let meta_text = meta.to_string();
    let meta_tokens = tokens(&meta_text);

    let mut index = SearchIndex::new()?;
    index.replace_servers(
        corpus
            .iter()
            .map(|(s, tools)| (s.clone(), tools.iter().map(|t| tool_doc(s, t)).collect()))
            .collect(),
    )?;
    let queries_text = std::fs::read_to_string(manifest_path("tests/fixtures/search-queries.txt"))?;
    let queries: Vec<&str> = queries_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let (mut trip_tokens, mut match_bytes) = (0, 0);
    for q in &queries {
        let request =
            json!({"name": "gateway_search_tools", "arguments": {"query": q, "limit": 5}});
        let outcome = index.search(q, 5, None)?;
        let matches: Vec<Value> = outcome.hits.iter().map(render_match).collect();
        let structured = json!({"matches": matches, "total": outcome.total});
        let structured_text = structured.to_string();
        match_bytes += structured_text.len();
        let result = json!({
            "content": [{"type": "text", "text": structured_text}],
            "structuredContent": structured,
        });
        trip_tokens += tokens(&request.to_string()) + tokens(&result.to_string());
    }
    let n = queries.len().max(1);
    let trip = trip_tokens / n;
    let with_gateway = meta_tokens + trip;

    println!(
        "real-server corpus: {} servers, {tool_count} tools",
        corpus.len()
    );
    println!();
    println!("| what the model sees | o200k tokens |");
    println!("|---|---|");
    println!("| every tool listed directly (compact JSON) | {direct} |");
    println!("| every tool listed directly (pretty JSON) | {direct_pretty} |");
    println!(
        "| meta-tools `tools/list` ({} tools, {} bytes) | {meta_tokens} |",
        meta["tools"].as_array().map_or(0, Vec::len),
        meta_text.len()
    );
    println!(
        "| one `gateway_search_tools` round trip, limit 5 (mean of {n} queries; matches JSON {} bytes) | {trip} |",
        match_bytes / n
    );
    println!("| meta-tools + one search | {with_gateway} |");
    println!();
    println!(
        "saving vs compact direct listing: {:.1}% ({:.1}x fewer tokens)",
        100.0 * (1.0 - with_gateway as f64 / direct as f64),
        direct as f64 / with_gateway as f64
    );
    Ok(())
}
