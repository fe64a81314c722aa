//! The shell commands as a user drives them: the real binary in a scratch HOME with its own XDG
//! dirs, one command after another, checking what each prints and what it leaves on disk. Covers
//! `init`, `add`, `list`, `get`, `search`, `config export`, `remove`, `setup` (`--json`, `undo
//! --list`), `doctor` (`--json`, `--no-probe`), `completions`, `cap list`/`pin`/`approve` and the
//! `stdio` subcommand.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{CliOutput, RpcClient, TestEnv, first_text, fixture, gateway_bin};

fn names(rows: &Value) -> Vec<String> {
    rows.as_array()
        .unwrap_or_else(|| panic!("not an array: {rows}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("{name} not listed: {rows:#}"))
}

fn fake_script() -> String {
    fixture("fake_backend.py").to_string_lossy().into_owned()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `init` → `add` (stdio and URL) → `list` → `get` → `search` → `list` again → `config export` →
/// `remove`, all on the user file, as the README's first steps do.
#[test]
fn init_add_list_get_search_export_remove() {
    let env = TestEnv::new();
    let user = env.user_config();

    let out = env.cli(&["init"]).expect_code(0);
    assert!(out.stdout.contains(&user.display().to_string()), "{out:?}");
    assert_eq!(mode_of(&user), 0o600, "a new config is private");
    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    assert_eq!(listed, json!([]), "init writes no backends");
    let again = env.cli(&["init"]);
    assert_ne!(
        again.code,
        Some(0),
        "init replaced an existing file: {again:?}"
    );
    assert!(again.stderr.contains("already exists"), "{again:?}");

    env.cli(&["add", "fake", "--", "python3", &fake_script()])
        .expect_code(0);
    env.cli(&[
        "add",
        "web",
        "--url",
        "http://127.0.0.1:9/mcp",
        "-H",
        "Authorization: Bearer s3cret-value",
    ])
    .expect_code(0);
    let dup = env.cli(&["add", "fake", "--", "python3", &fake_script()]);
    assert_ne!(
        dup.code,
        Some(0),
        "add replaced an existing backend: {dup:?}"
    );
    assert!(dup.stderr.contains("--force"), "{dup:?}");

    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    assert_eq!(names(&listed), ["fake", "web"], "{listed:#}");
    assert_eq!(row(&listed, "fake")["transport"], "stdio");
    assert_eq!(row(&listed, "fake")["state"], "not yet seen");
    assert_eq!(row(&listed, "web")["state"], "not yet seen");
    let table = env.cli(&["list"]).expect_code(0).stdout;
    assert_eq!(
        table.lines().next(),
        Some(format!("config: {}", user.display()).as_str()),
        "list does not say which file it read: {table}"
    );
    let header = table.lines().nth(1).unwrap_or_default();
    for col in ["NAME", "TRANSPORT", "STATE", "TOOLS"] {
        assert!(header.contains(col), "{table}");
    }
    assert!(table.lines().any(|l| l.starts_with("fake ")), "{table}");

    // `get` redacts header values unless asked.
    let got = env.cli(&["get", "web", "--json"]).expect_code(0).json();
    assert_eq!(got["name"], "web");
    assert!(
        !got.to_string().contains("s3cret-value"),
        "secret shown: {got}"
    );
    assert!(
        got["config"].to_string().contains("127.0.0.1:9/mcp"),
        "{got}"
    );
    let shown = env
        .cli(&["get", "web", "--json", "--show-secrets"])
        .expect_code(0)
        .json();
    assert!(shown.to_string().contains("s3cret-value"), "{shown}");
    let text = env.cli(&["get", "fake"]).expect_code(0).stdout;
    assert!(text.contains("python3"), "{text}");

    // `search` starts a never-seen backend once, ranks like the meta-tool, and catalogs it.
    let found = env
        .cli(&["search", "add two numbers", "--server", "fake", "--json"])
        .expect_code(0)
        .json();
    let first = &found["matches"][0];
    assert_eq!(
        (&first["server"], &first["tool"]),
        (&json!("fake"), &json!("add")),
        "{found:#}"
    );
    for field in ["description", "inputSchema", "score"] {
        assert!(!first[field].is_null(), "match without {field}: {first}");
    }
    assert!(found["total"].as_u64().is_some_and(|t| t >= 1), "{found}");
    let limited = env
        .cli(&["search", "tool", "--limit", "2", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(
        limited["matches"].as_array().map(Vec::len),
        Some(2),
        "{limited}"
    );
    let human = env.cli(&["search", "echo text back"]).expect_code(0).stdout;
    assert!(human.contains("echo"), "{human}");
    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    assert_eq!(row(&listed, "fake")["state"], "cataloged", "{listed:#}");
    assert!(
        row(&listed, "fake")["tools"]
            .as_u64()
            .is_some_and(|n| n >= 10),
        "{listed:#}"
    );

    // `config export` redacts, in YAML and JSON.
    let yaml = env.cli(&["config", "export"]).expect_code(0).stdout;
    assert!(
        yaml.contains("<redacted>") && !yaml.contains("s3cret"),
        "{yaml}"
    );
    assert!(yaml.contains("fake") && yaml.contains("web"), "{yaml}");
    let exported = env
        .cli(&["config", "export", "--format", "json"])
        .expect_code(0)
        .json();
    assert_eq!(
        exported["backends"]["web"]["headers"]["Authorization"], "<redacted>",
        "{exported:#}"
    );

    env.cli(&["remove", "web"]).expect_code(0);
    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    assert_eq!(names(&listed), ["fake"], "{listed:#}");
    let missing = env.cli(&["remove", "web"]);
    assert_ne!(missing.code, Some(0), "{missing:?}");
    assert!(
        missing.stderr.contains("fake"),
        "does not list what exists: {missing:?}"
    );
    // Every change was backed up: the runs are listed for `setup undo`.
    let runs = env.cli(&["setup", "undo", "--list"]).expect_code(0).stdout;
    assert!(
        runs.lines().count() >= 3,
        "init, two adds and a remove were backed up: {runs}"
    );
}

#[test]
fn init_with_examples_writes_the_servers_whose_launcher_exists() {
    let env = TestEnv::new();
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let npx = bin.join("npx");
    std::fs::write(&npx, "#!/bin/sh\nexit 1\n").expect("write npx");
    std::fs::set_permissions(&npx, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut cmd = std::process::Command::new(gateway_bin());
    cmd.args(["init", "--with-examples"]);
    env.apply(&mut cmd);
    cmd.env("PATH", &bin);
    let out = cmd.output().expect("run init");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("uvx"),
        "the skipped `time` is not explained: {stdout}"
    );
    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    let mut listed = names(&listed);
    listed.sort_unstable();
    assert_eq!(listed, ["everything", "filesystem", "memory"]);
}

#[test]
fn completions_cover_every_command() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.cli(&["completions", shell]).expect_code(0);
        let (config, examples) = match shell {
            "fish" => ("-l config", "-l with-examples"),
            _ => ("--config", "--with-examples"),
        };
        for word in ["setup", "doctor", "search", "remove", config, examples] {
            assert!(out.stdout.contains(word), "{shell}: no {word}");
        }
        assert!(
            !out.stdout.contains("__reaper"),
            "{shell} completes the internal __reaper command"
        );
    }
    let bad = env.cli(&["completions", "tcsh"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
}

#[test]
fn stdio_subcommand_serves_mcp_like_the_bare_command() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("fake", crate::harness::fake_backend(&[], ""))]);
    let mut cmd = std::process::Command::new(gateway_bin());
    cmd.arg("stdio").arg("--config").arg(&config);
    env.apply(&mut cmd);
    let mut client = RpcClient::spawn(cmd);
    client.initialize();
    let echo = client.invoke("fake", "echo", json!({"text": "via stdio"}));
    assert_eq!(first_text(&echo), "via stdio");
    assert_eq!(client.shutdown().code(), Some(0));
    let lines = client.stdout_lines_through_exit(Duration::from_secs(10));
    for line in lines {
        let msg: Value = serde_json::from_str(&line).expect("stdout is JSON-RPC only");
        assert_eq!(msg["jsonrpc"], "2.0", "{line}");
    }
}

/// The `doctor --json` checks whose name starts with `prefix`.
pub fn doctor_check<'a>(checks: &'a Value, prefix: &str) -> Vec<&'a Value> {
    checks
        .as_array()
        .unwrap_or_else(|| panic!("doctor --json is not an array: {checks}"))
        .iter()
        .filter(|c| c["check"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .collect()
}

#[test]
fn doctor_reports_config_backends_and_withheld_tools() {
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[
            ("fake", crate::harness::fake_backend(&["--poisoned"], "")),
            (
                "ghost",
                "command: /nonexistent/bin/mcp-server-ghost\n".to_string(),
            ),
        ],
    );
    let cfg = config.to_str().expect("utf-8");

    let quick = env.cli(&["doctor", "--config", cfg, "--no-probe", "--json"]);
    let checks = quick.json();
    let config_check = doctor_check(&checks, "config");
    assert_eq!(config_check.len(), 1, "{checks:#}");
    assert_eq!(config_check[0]["status"], "ok", "{checks:#}");
    assert!(
        config_check[0]["detail"]
            .as_str()
            .unwrap_or("")
            .contains(cfg),
        "{checks:#}"
    );
    let all = checks.to_string();
    assert!(
        !all.contains("ghost"),
        "--no-probe probed the backends: {checks:#}"
    );
    assert_eq!(quick.code, Some(0), "{quick:?}");

    let full = env.cli(&["doctor", "--config", cfg, "--json"]);
    assert_eq!(
        full.code,
        Some(1),
        "a backend that cannot start is a failure: {full:?}"
    );
    let checks = full.json();
    let all = checks.to_string();
    let fails: Vec<&Value> = checks
        .as_array()
        .expect("array")
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(
        fails.iter().any(|c| c.to_string().contains("ghost")),
        "the broken backend is not a failure: {checks:#}"
    );
    assert!(
        all.contains("exfil") && all.contains("hidden-instruction-tag"),
        "the withheld tool is not reported: {checks:#}"
    );
    let text = env.cli(&["doctor", "--config", cfg, "--no-probe"]).stdout;
    assert!(text.lines().any(|l| l.starts_with("ok")), "{text}");

    let broken = env.write("broken.yaml", "backends:\n  x:\n    comand: y\n");
    let bad = env.cli(&[
        "doctor",
        "--config",
        broken.to_str().expect("utf-8"),
        "--json",
    ]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.json().to_string().contains("comand"), "{bad:?}");
}

/// `setup --yes --json` on a HOME with a Cursor config: JSON report, servers moved into the user
/// gateway.yaml, `setup undo --list --json` shows the run, `setup undo` restores the file.
#[test]
fn setup_json_and_undo_list_through_the_binary() {
    let env = TestEnv::new();
    let cursor = env.path().join("home/.cursor/mcp.json");
    std::fs::create_dir_all(cursor.parent().expect("dir")).expect("mkdir");
    let original = format!(
        "{{\n  // my servers\n  \"mcpServers\": {{\n    \"fake\": {{\"command\": \"python3\", \"args\": [{:?}]}}\n  }}\n}}\n",
        fake_script()
    );
    std::fs::write(&cursor, &original).expect("write cursor config");

    let dry = env
        .cli(&["setup", "--dry-run", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(dry["dry_run"], true, "{dry:#}");
    assert_eq!(std::fs::read_to_string(&cursor).expect("read"), original);

    let out: CliOutput = env.cli(&["setup", "--yes", "--json"]).expect_code(0);
    let report = out.json();
    let report_text = report.to_string();
    assert!(report_text.contains(".cursor/mcp.json"), "{report:#}");
    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    assert_eq!(names(&listed), ["fake"], "{listed:#}");
    let rewritten: Value = {
        let text = std::fs::read_to_string(&cursor).expect("read");
        let stripped: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        serde_json::from_str(&stripped).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    assert_eq!(
        rewritten["mcpServers"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["gateway".to_string()]),
        "{rewritten:#}"
    );

    // What the rewritten client now runs — plain `mcp-gateway`, no --config — reaches the server.
    let entry = &rewritten["mcpServers"]["gateway"];
    assert_eq!(
        entry["command"]
            .as_str()
            .map(|c| c.ends_with("mcp-gateway")),
        Some(true),
        "{entry}"
    );
    assert!(entry.get("args").is_none_or(|a| a == &json!([])), "{entry}");
    let mut cmd = std::process::Command::new(gateway_bin());
    env.apply(&mut cmd);
    cmd.current_dir(env.path().join("home"));
    let mut client = RpcClient::spawn(cmd);
    client.initialize();
    let echo = client.invoke("fake", "echo", json!({"text": "moved by setup"}));
    assert_eq!(first_text(&echo), "moved by setup");
    assert!(client.shutdown().success());

    let runs = env
        .cli(&["setup", "undo", "--list", "--json"])
        .expect_code(0)
        .json();
    assert!(
        runs.to_string().contains(".cursor/mcp.json"),
        "the setup run is not listed: {runs:#}"
    );
    env.cli(&["setup", "undo"]).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(&cursor).expect("read"),
        original,
        "undo did not restore the client file byte for byte"
    );
}

/// `cap list` prints each capability with its file, and the totals.
#[test]
fn cap_list_shows_capabilities_and_problems() {
    let env = TestEnv::new();
    let dir = env.path().join("caps");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("weather.yaml"),
        "name: weather_now\ndescription: Current weather for a city\nschema:\n  input:\n    type: object\n    properties:\n      city: {type: string}\n    required: [city]\nproviders:\n  primary:\n    config:\n      base_url: https://weather.example.com\n      path: /now/{city}\n",
    )
    .expect("write capability");
    std::fs::write(dir.join("broken.yaml"), "name: [").expect("write broken");
    let d = dir.to_str().expect("utf-8");
    let out = env.cli(&["cap", "list", "--dir", d]).expect_code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("weather_now"))
        .unwrap_or_else(|| panic!("weather_now not listed: {out:?}"));
    assert!(
        line.contains("Current weather for a city") && line.contains("weather.yaml"),
        "{line}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("SKIPPED") && l.contains("broken.yaml")),
        "{out:?}"
    );
    assert!(out.stdout.contains("1 capability, 1 problem"), "{out:?}");
    // docs/security.md: pinned, then changed → quarantined and listed so; approved → back.
    let file = dir.join("weather.yaml");
    env.cli(&["cap", "pin", file.to_str().expect("utf-8")])
        .expect_code(0);
    let pinned = env.cli(&["cap", "list", "--dir", d]).expect_code(0).stdout;
    assert!(pinned.contains("weather_now [pinned]"), "{pinned}");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("/now/", "/evil/")).expect("tamper");
    let tampered = env.cli(&["cap", "list", "--dir", d]).expect_code(0).stdout;
    assert!(
        !tampered.lines().any(|l| l.starts_with("weather_now")),
        "a changed pinned file still loads: {tampered}"
    );
    assert!(
        tampered.lines().any(|l| l.starts_with("QUARANTINED")
            && l.contains("weather.yaml")
            && l.contains("changed since approval")),
        "{tampered}"
    );
    env.cli(&["cap", "approve", "weather_now"]).expect_code(0);
    let approved = env.cli(&["cap", "list", "--dir", d]).expect_code(0).stdout;
    assert!(approved.contains("weather_now [pinned]"), "{approved}");
}

/// `keys add` prints the key once and only the key on stdout; the store holds its SHA-256 with
/// mode 0600; `list` never shows it; `revoke` removes it and an unknown name is an error.
#[test]
fn keys_add_list_revoke() {
    use sha2::Digest;
    let env = TestEnv::new();
    let out = env
        .cli(&[
            "keys",
            "add",
            "reader",
            "--scope",
            "time/*",
            "--deny",
            "*/delete_*",
            "--rate-limit",
            "60",
            "--expires",
            "30d",
        ])
        .expect_code(0);
    let key = out.stdout.trim().to_string();
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert!(key.starts_with("mgw_") && key.len() == 47, "{out:?}");
    assert!(out.stderr.contains("only time it is shown"), "{out:?}");
    let store = env.path().join("state/mcp-gateway/keys.json");
    assert_eq!(mode_of(&store), 0o600);
    let text = std::fs::read_to_string(&store).unwrap();
    assert!(!text.contains(&key[4..]), "the key itself was stored");
    assert!(text.contains(&hex::encode(sha2::Sha256::digest(key.as_bytes()))));

    let table = env.cli(&["keys", "list"]).expect_code(0);
    assert!(
        table.stdout.contains("reader") && table.stdout.contains("60/min"),
        "{table:?}"
    );
    assert!(table.stdout.contains("except */delete_*"), "{table:?}");
    let listed = env.cli(&["keys", "list", "--json"]).expect_code(0).json();
    assert_eq!(listed["keys"][0]["name"], "reader");
    assert_eq!(listed["keys"][0]["allowed_tools"], json!(["time/*"]));
    for o in [&table.stdout, &listed.to_string()] {
        assert!(!o.contains(&key[4..]) && !o.contains("sha256"), "{o}");
    }

    let dup = env.cli(&["keys", "add", "reader"]);
    assert_eq!(dup.code, Some(1), "{dup:?}");
    assert!(dup.stderr.contains("already exists"), "{dup:?}");
    let bad = env.cli(&["keys", "add", "x", "--scope", "time/"]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("`time/`"), "{bad:?}");

    env.cli(&["keys", "revoke", "reader"]).expect_code(0);
    let gone = env.cli(&["keys", "revoke", "reader"]);
    assert_eq!(gone.code, Some(1), "{gone:?}");
    assert!(gone.stderr.contains("no key named `reader`"), "{gone:?}");
    let listed = env.cli(&["keys", "list", "--json"]).expect_code(0).json();
    assert_eq!(listed["keys"], json!([]));
}

/// `cap validate` accepts a good file and names the file and key of a bad one (exit 2).
#[test]
fn cap_validate_names_what_is_wrong() {
    let env = TestEnv::new();
    let good = env.write(
        "good.yaml",
        "name: lookup\ndescription: Looks something up\nproviders:\n  primary:\n    config:\n      base_url: https://example.com\n      path: /x\n",
    );
    env.cli(&["cap", "validate", good.to_str().expect("utf-8")])
        .expect_code(0);
    let bad = env.write(
        "bad.yaml",
        "name: lookup\ndescription: Looks something up\nproviders:\n  primary:\n    config:\n      base_url: https://example.com\n      pathh: /x\n",
    );
    let out = env.cli(&["cap", "validate", bad.to_str().expect("utf-8")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("bad.yaml") && all.contains("pathh"), "{out:?}");
}

/// `setup export --target CLIENT` adds only the gateway entry, creating the client file.
#[test]
fn setup_export_writes_one_gateway_entry() {
    let env = TestEnv::new();
    let cursor = env.path().join("home/.cursor/mcp.json");
    let out = env
        .cli(&["setup", "export", "--target", "cursor", "--json"])
        .expect_code(0);
    assert!(out.stdout.contains(".cursor/mcp.json"), "{out:?}");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&cursor).expect("created")).expect("JSON");
    let servers = written["mcpServers"].as_object().expect("mcpServers");
    assert_eq!(
        servers.keys().collect::<Vec<_>>(),
        ["gateway"],
        "{written:#}"
    );
    let again = env
        .cli(&["setup", "export", "--target", "cursor"])
        .expect_code(0);
    let rewritten: Value =
        serde_json::from_str(&std::fs::read_to_string(&cursor).expect("read")).expect("JSON");
    assert_eq!(
        rewritten, written,
        "a second export changed the file: {again:?}"
    );
}

/// `bench retrieval` scores a data set in the documented shape, and `--show-misses` lists the
/// queries whose tool is not in the top 5.
#[test]
fn bench_retrieval_scores_a_small_data_set() {
    let env = TestEnv::new();
    let tools: Vec<String> = [
        (
            "weather#1",
            "get_weather",
            "Current weather and forecast for a city",
        ),
        (
            "files#1",
            "read_file",
            "Read the contents of a text file from disk",
        ),
        (
            "mail#1",
            "send_email",
            "Send an email message to a recipient",
        ),
    ]
    .iter()
    .map(|(id, name, d)| {
        json!({"id": id, "name": name, "description": d, "input_schema": {"type": "object"}})
            .to_string()
    })
    .collect();
    let tools = env.write("tools.jsonl", &tools.join("\n"));
    let queries: Vec<String> = [
        ("q1", "what is the weather in Oslo", "weather#1"),
        ("q2", "read my notes file", "files#1"),
        ("q3", "email the report to Ann", "mail#1"),
        ("q4", "xyzzy plugh", "mail#1"),
    ]
    .iter()
    .map(|(q, text, rel)| json!({"qid": q, "query": text, "relevant": [rel]}).to_string())
    .collect();
    let queries = env.write("queries.jsonl", &queries.join("\n"));
    let out = env
        .cli(&[
            "bench",
            "retrieval",
            "--tools",
            tools.to_str().expect("utf-8"),
            "--queries",
            queries.to_str().expect("utf-8"),
            "--split",
            "all",
            "--show-misses",
            "5",
        ])
        .expect_code(0);
    let header = "| ranking | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |";
    assert!(out.stdout.contains(header), "{out:?}");
    // Three queries find their tool first; the fourth matches nothing.
    assert!(
        out.stdout
            .contains("| default ranking | 0.750 | 0.750 | 0.750 | 0.750 |"),
        "{out:?}"
    );
    let misses = out
        .stdout
        .split("misses (relevant tool not in the top 5):")
        .nth(1)
        .unwrap_or_else(|| panic!("no misses section: {out:?}"));
    assert!(misses.contains("xyzzy plugh"), "{out:?}");
    assert!(!misses.contains("weather in Oslo"), "{out:?}");
}

/// Two tools share a name (as BFCL's near-copies do): the same-name table counts the sibling as
/// found, the plain R@5 does not; and with a sweep the oracle row takes each query's best variant.
#[test]
fn bench_retrieval_counts_same_name_siblings_apart_and_prints_the_oracle() {
    let env = TestEnv::new();
    let tools: Vec<String> = [
        ("ping#1", "ping", "Check that a host answers"),
        ("ping#2", "ping", "Measure latency to a server"),
        ("mail#1", "send_email", "Send an email message"),
    ]
    .iter()
    .map(|(id, name, d)| json!({"id": id, "name": name, "description": d}).to_string())
    .collect();
    let tools = env.write("tools.jsonl", &tools.join("\n"));
    let queries: Vec<String> = [
        ("q1", "measure the latency to my server", "ping#1"),
        ("q2", "send an email", "mail#1"),
    ]
    .iter()
    .map(|(q, text, rel)| json!({"qid": q, "query": text, "relevant": [rel]}).to_string())
    .collect();
    let queries = env.write("queries.jsonl", &queries.join("\n"));
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["bench", "retrieval", "--split", "all", "--dense", "none"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        for (flag, path) in [("--tools", &tools), ("--queries", &queries)] {
            a.push(flag.to_string());
            a.push(path.to_str().expect("utf-8").to_string());
        }
        a.extend(extra.iter().map(|s| (*s).to_string()));
        a
    };
    let plain = args(&[]);
    let out = env
        .cli(&plain.iter().map(String::as_str).collect::<Vec<_>>())
        .expect_code(0);
    // q1's labelled ping shares no word with it; its namesake does.
    assert!(
        out.stdout
            .contains("| default ranking | 0.500 | 0.500 | 0.500 | 0.500 |")
            && out.stdout.contains("| default ranking | 0.500 | 1.000 |"),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("oracle"),
        "one variant, no oracle: {out:?}"
    );
    // Without coverage re-weighting nothing changes here, so the oracle equals the default.
    let swept = args(&["--sweep", "coverage=0,3"]);
    let out = env
        .cli(&swept.iter().map(String::as_str).collect::<Vec<_>>())
        .expect_code(0);
    assert!(
        out.stdout
            .contains("| oracle: the best of the rows above for each query (an upper bound, not a ranking) | 0.500 | 0.500 | 0.500 |"),
        "{out:?}"
    );
}

/// A client config in the project that lists a server but no gateway entry: `doctor` flags it,
/// `doctor --fix` adds the gateway entry to that file (backed up first), and a second `doctor`
/// is satisfied.
#[test]
fn doctor_fix_adds_the_gateway_entry_it_asks_for() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.work_dir().join(".git")).expect("a repository");
    let cursor = env.work_dir().join(".cursor/mcp.json");
    std::fs::create_dir_all(cursor.parent().expect("dir")).expect("mkdir");
    let before = "{\n  \"mcpServers\": {\n    \"time\": {\"command\": \"uvx\", \"args\": [\"mcp-server-time\"]}\n  }\n}\n";
    std::fs::write(&cursor, before).expect("write cursor config");
    let flagged = env.cli(&["doctor", "--no-probe", "--json"]).json();
    let client_checks: Vec<String> = flagged
        .as_array()
        .expect("array")
        .iter()
        .filter(|c| c.to_string().contains(".cursor/mcp.json"))
        .map(|c| c.to_string())
        .collect();
    assert!(
        client_checks.iter().any(|c| c.contains("\"warn\"")),
        "the project's cursor config is not flagged: {flagged:#}"
    );
    let fixed = env.cli(&["doctor", "--no-probe", "--fix", "--json"]);
    let text = std::fs::read_to_string(&cursor).expect("cursor config");
    let parsed: Value = serde_json::from_str(&text).expect("still JSON");
    assert!(
        parsed["mcpServers"]["gateway"].is_object(),
        "not fixed: {text}\n{fixed:?}"
    );
    assert!(
        parsed["mcpServers"]["time"].is_object(),
        "--fix removed a server: {text}"
    );
    let after = env.cli(&["doctor", "--no-probe", "--json"]).json();
    assert!(
        !after
            .as_array()
            .expect("array")
            .iter()
            .any(|c| c.to_string().contains(".cursor/mcp.json") && c["status"] != "ok"),
        "still flagged after --fix: {after:#}"
    );
}

/// `add NAME -e K=V -- CMD ARGS`: options before `--` are the gateway's, everything after it is
/// the command's, as docs/cli/add.md says.
#[test]
fn add_takes_env_before_the_command_and_passes_the_rest_verbatim() {
    let env = TestEnv::new();
    env.cli(&[
        "add", "e", "-e", "A=1", "--", "python3", "srv.py", "-e", "B=2",
    ])
    .expect_code(0);
    let got = env
        .cli(&["get", "e", "--json", "--show-secrets"])
        .expect_code(0)
        .json();
    assert_eq!(got["config"]["env"], json!({"A": "1"}), "{got:#}");
    assert_eq!(got["config"]["command"], "python3", "{got:#}");
    assert_eq!(
        got["config"]["args"],
        json!(["srv.py", "-e", "B=2"]),
        "{got:#}"
    );
}

/// `add`, `get`, `remove`, `list` and `config export` agree on the file in effect; `add --scope
/// project` creates a project file that inherits the user file, and `list` names both files.
#[test]
fn add_get_remove_list_and_export_use_the_file_in_effect() {
    let env = TestEnv::new();
    let user = env.user_config();
    let project = env.work_dir().join(".mcp-gateway.yaml");
    env.cli(&[
        "add",
        "u",
        "-e",
        "TOKEN=user-secret",
        "--",
        "python3",
        &fake_script(),
    ])
    .expect_code(0);
    assert!(
        user.is_file(),
        "no project file yet: the user file is in effect"
    );

    let out = env
        .cli(&[
            "add",
            "p",
            "--scope",
            "project",
            "--",
            "python3",
            &fake_script(),
        ])
        .expect_code(0);
    assert!(out.stdout.contains(".mcp-gateway.yaml"), "{out:?}");
    let text = std::fs::read_to_string(&project).expect("project file");
    assert!(
        text.lines().any(|l| l.trim() == "inherit: true"),
        "a new project file hides the user backends: {text}"
    );
    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    let mut listed = names(&listed);
    listed.sort_unstable();
    assert_eq!(
        listed,
        ["p", "u"],
        "user backend hidden by the project file"
    );
    let table = env.cli(&["list"]).expect_code(0).stdout;
    let first = table.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("config: ")
            && first.contains(&user.display().to_string())
            && first.contains(&project.display().to_string()),
        "{table}"
    );

    // No --scope: the file in effect, which is now the project file, for every command.
    let out = env
        .cli(&["add", "q", "--", "python3", &fake_script()])
        .expect_code(0);
    assert!(
        out.stdout.contains(&project.display().to_string()),
        "{out:?}"
    );
    let got = env.cli(&["get", "q", "--json"]).expect_code(0).json();
    assert_eq!(got["file"], json!(project), "{got:#}");
    // An inherited backend is shown from the file that defines it.
    let got = env.cli(&["get", "u", "--json"]).expect_code(0).json();
    assert_eq!(got["file"], json!(user), "{got:#}");
    // … and not silently removed from the user file.
    let refused = env.cli(&["remove", "u"]);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("inherit") && refused.stderr.contains(&user.display().to_string()),
        "{refused:?}"
    );
    assert!(
        std::fs::read_to_string(&user)
            .expect("user file")
            .contains("u:")
    );

    // `config export` is the effective config: both files, merged, still redacted.
    let exported = env
        .cli(&["config", "export", "--format", "json"])
        .expect_code(0)
        .json();
    let mut backends: Vec<&String> = exported["backends"]
        .as_object()
        .expect("backends")
        .keys()
        .collect();
    backends.sort_unstable();
    assert_eq!(backends, ["p", "q", "u"], "{exported:#}");
    assert!(exported.get("inherit").is_none(), "{exported:#}");
    assert_eq!(exported["backends"]["u"]["env"]["TOKEN"], "<redacted>");
    let yaml = env.cli(&["config", "export"]).expect_code(0).stdout;
    assert!(!yaml.contains("user-secret"), "{yaml}");
    assert!(
        yaml.lines()
            .next()
            .is_some_and(|l| l.contains(&user.display().to_string())
                && l.contains(&project.display().to_string())),
        "{yaml}"
    );

    env.cli(&["remove", "q"]).expect_code(0);
    let listed = env.cli(&["list", "--json"]).expect_code(0).json();
    let mut listed = names(&listed);
    listed.sort_unstable();
    assert_eq!(listed, ["p", "u"]);
}

/// The backend the gateway adds for REST capabilities is listed.
#[test]
fn list_includes_the_capabilities_backend() {
    let env = TestEnv::new();
    let caps = env.path().join("caps");
    std::fs::create_dir_all(&caps).expect("mkdir caps");
    let config = env.write(
        "gateway.yaml",
        &format!(
            "capabilities:\n  directories: [{}]\nbackends: {{}}\n",
            caps.display()
        ),
    );
    let listed = env
        .cli(&[
            "list",
            "--json",
            "--config",
            config.to_str().expect("utf-8"),
        ])
        .expect_code(0)
        .json();
    assert_eq!(row(&listed, "capabilities")["transport"], "capabilities");
}

/// `setup export --target all` writes only to clients that look installed: never a file kept in
/// the home directory itself (`~/.claude.json`) that its client has not created.
#[test]
fn setup_export_all_skips_clients_that_are_not_installed() {
    let env = TestEnv::new();
    let home = env.path().join("home");
    std::fs::create_dir_all(home.join(".cursor")).expect("mkdir .cursor");
    env.cli(&["setup", "export", "--target", "all", "--json"])
        .expect_code(0);
    assert!(
        home.join(".cursor/mcp.json").is_file(),
        "the installed client was not written"
    );
    assert!(
        !home.join(".claude.json").exists(),
        "~/.claude.json created without Claude Code"
    );
    let mut created: Vec<String> = walk(&home);
    created.sort_unstable();
    assert_eq!(created, [".cursor/mcp.json"], "files created in HOME");
}

fn walk(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                files.push(rel.display().to_string());
            }
        }
    }
    files
}

/// `doctor` checks user-scope client configs (not only the project's) and shows the
/// compatibility keys it ignores.
#[test]
fn doctor_checks_user_client_configs_and_shows_compatibility_warnings() {
    let env = TestEnv::new();
    let cursor = env.path().join("home/.cursor/mcp.json");
    std::fs::create_dir_all(cursor.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &cursor,
        "{\"mcpServers\": {\"time\": {\"command\": \"uvx\", \"args\": [\"mcp-server-time\"]}}}\n",
    )
    .expect("write cursor config");
    let config = env.write("gateway.yaml", "cache:\n  enabled: true\nbackends: {}\n");
    let checks = env
        .cli(&[
            "doctor",
            "--no-probe",
            "--json",
            "--config",
            config.to_str().expect("utf-8"),
        ])
        .expect_code(0)
        .json();
    let client = doctor_check(&checks, "client cursor");
    assert!(
        client.iter().any(|c| c["status"] == "warn"
            && c["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&cursor.display().to_string()))),
        "the user-scope cursor config is not checked: {checks:#}"
    );
    let config_checks = doctor_check(&checks, "config");
    assert!(
        config_checks
            .iter()
            .any(|c| c["status"] == "warn" && c["detail"].to_string().contains("cache")),
        "the ignored compatibility key is not shown: {checks:#}"
    );
}

/// docs/capabilities.md: `metadata` takes any note (`tags`, `category`, …), `annotations` only the
/// four booleans and `title`; another key there is refused with file, line and key.
#[test]
fn cap_validate_takes_notes_under_metadata_not_annotations() {
    let env = TestEnv::new();
    let body = "providers:\n  primary:\n    config:\n      base_url: https://example.com\n      path: /x\n";
    let noted = env.write(
        "noted.yaml",
        &format!("name: lookup\ndescription: Looks something up\nmetadata:\n  tags: [a, b]\n  category: search\n  read_only: true\n{body}"),
    );
    env.cli(&["cap", "validate", noted.to_str().expect("utf-8")])
        .expect_code(0);
    let wrong = env.write(
        "wrong.yaml",
        &format!("name: lookup\ndescription: Looks something up\nannotations:\n  title: Lookup\n  category: search\n{body}"),
    );
    let out = env.cli(&["cap", "validate", wrong.to_str().expect("utf-8")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("wrong.yaml:5") && all.contains("annotations.category"),
        "{out:?}"
    );
}
