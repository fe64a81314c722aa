//! Live config reload with real servers: a client stays connected while `gateway.yaml` is saved
//! the way editors save (a temporary file renamed over it), edited into an invalid state and
//! fixed; `serve` reloads on SIGHUP and on `POST /api/v1/reload`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::serve::Served;

const NOTICE_WAIT: Duration = Duration::from_secs(30);

fn time_yaml() -> String {
    stdio_backend(&py_bin("mcp-server-time"), &["--local-timezone", "UTC"], "")
}

fn memory_yaml(env: &TestEnv) -> String {
    let file = env.path().join("memory.jsonl");
    stdio_backend(
        &npm_bin("mcp-server-memory"),
        &[],
        &format!(
            "env:\n  MEMORY_FILE_PATH: {}\n",
            yaml_str(&file.to_string_lossy())
        ),
    )
}

/// `gateway.yaml` text with `backends` (name → body) and extra top-level YAML.
fn config_text(backends: &[(&str, String)], extra: &str) -> String {
    let mut yaml = format!("{extra}meta_mcp:\n  enabled: true\nbackends:\n");
    for (name, body) in backends {
        yaml.push_str(&format!("  {name}:\n"));
        for line in body.lines() {
            yaml.push_str(&format!("    {line}\n"));
        }
    }
    yaml
}

/// Saves `text` to `path` as editors do: written to a temporary file next to it, then renamed
/// over it.
fn save_atomically(path: &Path, text: &str) {
    let tmp: PathBuf = path.with_file_name(".gateway.yaml.tmp~");
    std::fs::write(&tmp, text).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename over the config");
}

/// The pids of this test's processes whose command line mentions `needle`.
fn pids_of(env: &TestEnv, needle: &str) -> Vec<u32> {
    find_marked(env.marker())
        .into_iter()
        .filter(|p| cmdline(*p).contains(needle))
        .collect()
}

fn list_servers(client: &mut RpcClient) -> Value {
    let r = client.call_tool("gateway_list_servers", json!({}));
    assert_ne!(r["isError"], json!(true), "{r}");
    r["structuredContent"].clone()
}

fn server_names(listing: &Value) -> Vec<String> {
    listing["servers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_tools_list_changed(client: &mut RpcClient) {
    let mut seen = Vec::new();
    let got = client.wait_notification(
        "notifications/tools/list_changed",
        NOTICE_WAIT,
        &mut seen,
        |_| true,
    );
    assert!(
        got.is_some(),
        "no tools/list_changed after the save; other messages: {seen:?}\nstderr:\n{}",
        tail(&client.stderr(), 4000)
    );
}

/// Added on save: the client hears `list_changed`, finds the new server's tool and calls it.
/// Removed on save: its process stops and its tools leave search; the untouched server keeps
/// its process (same pid) through both reloads.
#[test]
fn saved_edits_add_and_remove_servers_while_the_client_stays_connected() {
    let env = TestEnv::new();
    let config = env.write("gateway.yaml", &config_text(&[("time", time_yaml())], ""));
    let mut client = env.start(&config);
    let r = client.invoke("time", "get_current_time", json!({"timezone": "UTC"}));
    assert_ne!(r["isError"], json!(true), "{r}");
    let time_pids = pids_of(&env, "mcp-server-time");
    assert_eq!(time_pids.len(), 1, "one time server: {time_pids:?}");
    client.take_notifications();

    // Add `memory`.
    save_atomically(
        &config,
        &config_text(&[("time", time_yaml()), ("memory", memory_yaml(&env))], ""),
    );
    wait_tools_list_changed(&mut client);
    assert_eq!(server_names(&list_servers(&mut client)), ["memory", "time"]);
    search_until_found(
        &mut client,
        "create entities in the knowledge graph",
        "memory",
        "create_entities",
        Duration::from_secs(60),
    );
    let r = client.invoke(
        "memory",
        "create_entities",
        json!({"entities": [{"name": "reload", "entityType": "test", "observations": ["added live"]}]}),
    );
    assert_ne!(r["isError"], json!(true), "{r}");
    let r = client.invoke("memory", "read_graph", json!({}));
    assert!(r.to_string().contains("added live"), "{r}");
    let memory_pids = pids_of(&env, "mcp-server-memory");
    assert!(!memory_pids.is_empty(), "the memory server runs");

    // Remove it again.
    client.take_notifications();
    save_atomically(&config, &config_text(&[("time", time_yaml())], ""));
    wait_tools_list_changed(&mut client);
    assert!(
        wait_until(Duration::from_secs(20), || memory_pids
            .iter()
            .all(|p| !is_alive(*p))),
        "the removed server's process still runs: {memory_pids:?}"
    );
    let found = client.search("create entities in the knowledge graph", 10);
    assert!(
        found["matches"]
            .as_array()
            .is_none_or(|m| m.iter().all(|h| h["server"] != "memory")),
        "a removed server's tools are still found: {found}"
    );
    assert_eq!(server_names(&list_servers(&mut client)), ["time"]);
    let r = client.invoke("memory", "read_graph", json!({}));
    assert_eq!(r["isError"], json!(true), "{r}");

    // The untouched server kept its process.
    let r = client.invoke("time", "get_current_time", json!({"timezone": "UTC"}));
    assert_ne!(r["isError"], json!(true), "{r}");
    assert_eq!(pids_of(&env, "mcp-server-time"), time_pids);
    assert!(client.shutdown().success());
    env.assert_no_survivors(Duration::from_secs(10));
}

/// A broken edit keeps the running config serving and names file:line (and the key) in
/// `gateway_list_servers`; fixing the file applies it and clears the note.
#[test]
fn a_broken_edit_keeps_serving_and_names_file_line_and_key_until_fixed() {
    let env = TestEnv::new();
    let config = env.write("gateway.yaml", &config_text(&[("time", time_yaml())], ""));
    let mut client = env.start(&config);
    let r = client.invoke("time", "get_current_time", json!({"timezone": "UTC"}));
    assert_ne!(r["isError"], json!(true), "{r}");

    // A key error: `comand` for `command` on line 5.
    let broken = config_text(&[("time", time_yaml().replace("command:", "comand:"))], "");
    save_atomically(&config, &broken);
    let mut note = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            note = list_servers(&mut client)["notes"].to_string();
            note != "null"
        }),
        "no note about the broken config; stderr:\n{}",
        tail(&client.stderr(), 3000)
    );
    let file = config.to_string_lossy();
    assert!(note.contains(&format!("{file}:5")), "{note}");
    assert!(note.contains("comand"), "{note}");
    assert!(note.contains("previous config keeps serving"), "{note}");
    assert!(
        wait_until(Duration::from_secs(5), || client
            .stderr()
            .contains("config reload failed")),
        "{}",
        tail(&client.stderr(), 3000)
    );
    let r = client.invoke("time", "get_current_time", json!({"timezone": "UTC"}));
    assert_ne!(
        r["isError"],
        json!(true),
        "the old config stopped serving: {r}"
    );

    // A YAML syntax error names its line too.
    save_atomically(
        &config,
        "meta_mcp:\n  enabled: true\nbackends:\n  time: [unclosed\n",
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            note = list_servers(&mut client)["notes"].to_string();
            note.contains(&format!("{file}:")) && !note.contains("comand")
        }),
        "{note}"
    );

    // Fixed (with a server added): applied, the note is gone.
    client.take_notifications();
    save_atomically(
        &config,
        &config_text(&[("time", time_yaml()), ("memory", memory_yaml(&env))], ""),
    );
    wait_tools_list_changed(&mut client);
    let listing = list_servers(&mut client);
    assert!(listing.get("notes").is_none(), "{listing}");
    assert_eq!(server_names(&listing), ["memory", "time"]);
    assert!(client.shutdown().success());
}

/// `serve`: SIGHUP reloads (it used to stop the gateway); `POST /api/v1/reload` answers the
/// report; `/readyz` carries a broken edit's error with file:line and stays 200.
#[test]
fn serve_reloads_on_sighup_and_post_and_readyz_shows_a_broken_edit() {
    let env = TestEnv::new();
    let config = env.write("gateway.yaml", &config_text(&[("time", time_yaml())], ""));
    // Without the file watch, so each reload below is the one the test triggers.
    let mut served = Served::start_with(&env, &config, &[("MCP_GATEWAY_NO_WATCH", "1")]);
    let readyz = |served: &Served| {
        let r = served.http("GET", "/readyz", &[], b"");
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Value>(&r.body).expect("readyz JSON")
    };
    let names = |v: &Value| -> Vec<String> {
        v["backends"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|b| b["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&readyz(&served)), ["time"]);
    assert_eq!(readyz(&served)["config_error"], Value::Null);

    // SIGHUP applies an edit.
    save_atomically(
        &config,
        &config_text(&[("time", time_yaml()), ("memory", memory_yaml(&env))], ""),
    );
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(served_pid(&served), libc::SIGHUP);
    }
    assert!(
        wait_until(Duration::from_secs(20), || names(&readyz(&served))
            == ["memory", "time"]),
        "SIGHUP did not reload: {}\n{}",
        readyz(&served),
        served.stderr()
    );
    // The log is read by a thread of the harness: wait for it rather than race it.
    assert!(
        wait_until(Duration::from_secs(5), || served
            .stderr()
            .contains("received SIGHUP; reloading the config")),
        "{}",
        served.stderr()
    );
    let shown = running_config(&served);
    assert!(shown["config"]["backends"]["memory"].is_object(), "{shown}");
    assert_eq!(shown["reload_error"], Value::Null);

    // POST: a removed server and a listener change that needs a restart.
    let post = |served: &Served| {
        let r = served.http("POST", "/api/v1/reload", &[], b"");
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Value>(&r.body).expect("report JSON")
    };
    save_atomically(
        &config,
        &config_text(&[("time", time_yaml())], "server:\n  port: 1\n"),
    );
    let report = post(&served);
    assert_eq!(
        report,
        json!({"applied": true, "added": [], "removed": ["memory"], "changed": [],
               "restart_needed": ["server.port"], "error": null}),
    );
    assert_eq!(names(&readyz(&served)), ["time"]);
    assert!(
        wait_until(Duration::from_secs(5), || served
            .stderr()
            .contains("restart_needed")),
        "{}",
        served.stderr()
    );

    // A changed server restarts with its new spec.
    let changed = config_text(
        &[("time", time_yaml() + "description: the clock\n")],
        "server:\n  port: 1\n",
    );
    save_atomically(&config, &changed);
    let report = post(&served);
    assert_eq!(report["changed"], json!(["time"]), "{report}");

    // Broken: the report and /readyz name file:line; the running config keeps serving.
    save_atomically(&config, "backends:\n  time:\n    command: [unclosed\n");
    let report = post(&served);
    assert_eq!(report["applied"], json!(false), "{report}");
    let file = config.to_string_lossy().into_owned();
    let error = report["error"].as_str().unwrap_or_default().to_string();
    assert!(error.starts_with(&format!("{file}:")), "{error}");
    let ready = readyz(&served);
    assert_eq!(ready["config_error"], json!(error), "{ready}");
    assert_eq!(names(&ready), ["time"]);
    // The config shown is the one running, not the broken file, and the error says why.
    let shown = running_config(&served);
    assert_eq!(shown["reload_error"], json!(error), "{shown}");
    assert_eq!(
        shown["config"]["backends"]["time"]["description"], "the clock",
        "{shown}"
    );
    assert!(
        shown["yaml"]
            .as_str()
            .is_some_and(|y| y.contains("the clock")),
        "{shown}"
    );

    // Fixed.
    save_atomically(&config, &changed);
    let report = post(&served);
    assert_eq!(report["applied"], json!(true), "{report}");
    assert_eq!(readyz(&served)["config_error"], Value::Null);
    assert_eq!(running_config(&served)["reload_error"], Value::Null);
    assert!(served.stop(libc::SIGTERM).success());
}

/// `GET /api/v1/config` (auth is off here, so no key).
fn running_config(served: &Served) -> Value {
    let r = served.http("GET", "/api/v1/config", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).expect("config JSON")
}

fn served_pid(served: &Served) -> i32 {
    served.pid() as i32
}
