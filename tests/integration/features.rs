//! Configured behaviour a user relies on, through the binary: `meta_mcp.surface`, `log.file`, a
//! backend's `cwd`, the `inherit` merge of a project file at run time, `limit` clamping and the
//! argument aliases of the meta-tools, refusal of task-only tools, a backend's `list_changed`
//! refreshing the catalog, and `notifications/message` relayed with the backend's name.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    RpcClient, TestEnv, fake_backend, first_text, list_server_tools, list_tools_until,
    search_until_found, yaml_str,
};

/// A `backends:` block with the given entries, indented under the key.
fn backends_yaml(backends: &[(&str, String)]) -> String {
    let mut yaml = String::from("backends:\n");
    for (name, body) in backends {
        yaml.push_str(&format!("  {name}:\n"));
        for line in body.lines() {
            yaml.push_str(&format!("    {line}\n"));
        }
    }
    yaml
}

#[test]
fn surfaced_tools_are_listed_next_to_the_meta_tools_and_callable() {
    let env = TestEnv::new();
    let yaml = format!(
        "meta_mcp:\n  surface: [\"fake/add\"]\n  surfaced_tools:\n    - {{server: fake, tool: echo}}\n{}",
        backends_yaml(&[("fake", fake_backend(&[], ""))])
    );
    let config = env.write("gateway.yaml", &yaml);
    let mut client = env.start(&config);
    let tools = list_tools_until(
        &mut client,
        &["fake__add", "fake__echo", "gateway_invoke"],
        Duration::from_secs(30),
    );
    let mut names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "fake__add",
            "fake__echo",
            "gateway_invoke",
            "gateway_list_servers",
            "gateway_list_tools",
            "gateway_search_tools"
        ]
    );
    let add = tools
        .iter()
        .find(|t| t["name"] == "fake__add")
        .expect("add");
    assert_eq!(add["description"], "Add two numbers and return their sum");
    let sum = client.call_tool("fake__add", json!({"a": 20, "b": 22}));
    assert_eq!(sum["structuredContent"], json!({"sum": 42}));
    assert_eq!(
        first_text(&client.call_tool("fake__echo", json!({"text": "surfaced"}))),
        "surfaced"
    );
    // A tool that is not surfaced is not callable by its namespaced name in meta mode.
    let pid = client.request("tools/call", json!({"name": "fake__pid", "arguments": {}}));
    assert!(pid.get("error").is_some(), "{pid}");
}

#[test]
fn log_file_takes_the_logs_and_stderr_stays_quiet() {
    let env = TestEnv::new();
    let log_file = env.path().join("logs/gateway.log");
    let yaml = format!(
        "log:\n  level: debug\n  file: {}\n{}",
        yaml_str(&log_file.to_string_lossy()),
        backends_yaml(&[("fake", fake_backend(&[], ""))])
    );
    let config = env.write("gateway.yaml", &yaml);
    let mut client = env.start(&config);
    let echo = client.invoke("fake", "echo", json!({"text": "to the file"}));
    assert_eq!(first_text(&echo), "to the file");
    assert!(client.shutdown().success());
    let logged = std::fs::read_to_string(&log_file)
        .unwrap_or_else(|e| panic!("{}: {e}", log_file.display()));
    assert!(
        logged.contains("fake") && logged.contains("DEBUG"),
        "debug logs of the session missing from {}:\n{logged}",
        log_file.display()
    );
    assert!(
        !client.stderr().contains("DEBUG"),
        "debug logs went to stderr too:\n{}",
        client.stderr()
    );
}

#[test]
fn backend_runs_in_its_configured_cwd() {
    let env = TestEnv::new();
    let dir = env.path().join("backend-home");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let config = env.write_config(
        true,
        &[(
            "fake",
            fake_backend(&[], &format!("cwd: {}\n", yaml_str(&dir.to_string_lossy()))),
        )],
    );
    let mut client = env.start(&config);
    let cwd = first_text(&client.invoke("fake", "cwd", json!({})));
    assert_eq!(
        std::fs::canonicalize(&cwd).expect("cwd exists"),
        std::fs::canonicalize(&dir).expect("dir exists")
    );
}

/// A project file with `inherit: true` layers over the user file at run time: the user's
/// backends are served next to the project's, one is switched off, and a backend of the same
/// name is replaced by the project's.
#[test]
fn inherit_merges_the_project_file_over_the_user_file() {
    let env = TestEnv::new();
    let user = env.user_config();
    std::fs::create_dir_all(user.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &user,
        backends_yaml(&[
            ("from_user", fake_backend(&[], "env: {WHO: user}\n")),
            ("switched_off", fake_backend(&[], "")),
            ("shared", fake_backend(&[], "env: {WHO: user}\n")),
        ]),
    )
    .expect("write user config");
    let project = env.work_dir().join(".mcp-gateway.yaml");
    std::fs::write(
        &project,
        format!(
            "inherit: true\n{}  switched_off: {{enabled: false}}\n",
            backends_yaml(&[
                ("from_project", fake_backend(&[], "env: {WHO: project}\n")),
                ("shared", fake_backend(&[], "env: {WHO: project}\n")),
            ])
        ),
    )
    .expect("write project config");
    // No --config: the project file in the working directory is discovered.
    let mut cmd = std::process::Command::new(crate::harness::gateway_bin());
    env.apply(&mut cmd);
    let mut client = RpcClient::spawn(cmd);
    client.initialize();
    let servers = client.call_tool("gateway_list_servers", json!({}));
    let listed: Vec<(String, String)> = servers["structuredContent"]["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in ["from_user", "from_project", "shared"] {
        assert!(names.contains(&wanted), "{wanted} missing: {servers}");
    }
    let who = |client: &mut RpcClient, server: &str| {
        first_text(&client.invoke(server, "env", json!({"name": "WHO"})))
    };
    assert_eq!(who(&mut client, "from_user"), "user");
    assert_eq!(who(&mut client, "from_project"), "project");
    assert_eq!(
        who(&mut client, "shared"),
        "project",
        "the project's entry wins"
    );
    let off = client.invoke("switched_off", "echo", json!({"text": "x"}));
    assert_eq!(
        off["isError"],
        json!(true),
        "a disabled backend answered: {off}"
    );
}

#[test]
fn meta_tools_refuse_a_limit_out_of_range_and_accept_their_aliases() {
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[("fake", fake_backend(&["--extra-tools", "60"], ""))],
    );
    let mut client = env.start(&config);
    search_until_found(
        &mut client,
        "filler tool",
        "fake",
        "filler_000",
        Duration::from_secs(30),
    );
    let count = |r: &Value| {
        r["structuredContent"]["matches"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let search = |client: &mut RpcClient, args: Value| {
        let r = client.call_tool("gateway_search_tools", args);
        assert_ne!(r["isError"], json!(true), "{r}");
        r
    };
    // `limit` outside 1..=the schema's `maximum` is refused, saying so; the maximum itself works.
    let schema_max = client
        .list_tools()
        .into_iter()
        .find(|t| t["name"] == "gateway_search_tools")
        .and_then(|t| t["inputSchema"]["properties"]["limit"]["maximum"].as_u64())
        .expect("limit maximum in the schema");
    for bad in [json!(0), json!(100000)] {
        let r = client.call_tool(
            "gateway_search_tools",
            json!({"query": "filler tool", "limit": bad}),
        );
        assert_eq!(r["isError"], json!(true), "limit {bad}: {r}");
        assert!(first_text(&r).contains("`limit`"), "{r}");
    }
    let most = search(
        &mut client,
        json!({"query": "filler tool", "limit": schema_max}),
    );
    assert_eq!(count(&most) as u64, schema_max, "{most}");
    let default = search(&mut client, json!({"query": "filler tool"}));
    assert!(
        count(&default) >= 1 && (count(&default) as u64) < schema_max,
        "{default}"
    );
    // `backend` for `server` (search, list_tools, invoke), `name` for `tool`, `args` for `arguments`.
    let filtered = search(
        &mut client,
        json!({"query": "echo text", "backend": "fake"}),
    );
    assert!(count(&filtered) >= 1, "{filtered}");
    let wrong = client.call_tool(
        "gateway_search_tools",
        json!({"query": "echo", "backend": "nope"}),
    );
    assert_eq!(
        wrong["isError"],
        json!(true),
        "the `backend` alias was ignored: {wrong}"
    );
    let listed = client.call_tool("gateway_list_tools", json!({"backend": "fake"}));
    assert!(first_text(&listed).contains("filler_059"), "{listed}");
    let sum = client.call_tool(
        "gateway_invoke",
        json!({"backend": "fake", "name": "add", "args": {"a": 1, "b": 2}}),
    );
    assert_eq!(sum["structuredContent"], json!({"sum": 3}), "{sum}");
}

#[test]
fn task_only_tools_are_marked_and_refused() {
    let env = TestEnv::new();
    let log = env.path().join("fake.log");
    let config = env.write_config(
        true,
        &[(
            "fake",
            fake_backend(&["--task-only", "--log", log.to_str().expect("utf-8")], ""),
        )],
    );
    let mut client = env.start(&config);
    let found = search_until_found(
        &mut client,
        "long batch job",
        "fake",
        "batch",
        Duration::from_secs(30),
    );
    let hit = found["matches"]
        .as_array()
        .and_then(|m| m.iter().find(|h| h["tool"] == "batch"))
        .expect("batch found");
    assert_eq!(hit["requiresTask"], json!(true), "{hit}");
    let refused = client.invoke("fake", "batch", json!({}));
    assert_eq!(refused["isError"], json!(true), "{refused}");
    assert!(first_text(&refused).contains("task"), "{refused}");
    assert!(client.shutdown().success());
    let calls = crate::faults::events(&log)
        .into_iter()
        .filter(|e| e["event"] == "call" && e["tool"] == "batch")
        .count();
    assert_eq!(calls, 0, "the task-only tool was called without a task");
}

#[test]
fn a_backend_list_changed_refreshes_the_catalog_and_the_client_list() {
    let env = TestEnv::new();
    // Meta mode: the new tool becomes searchable and invocable.
    let config = env.write_config(true, &[("fake", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    list_server_tools(&mut client, "fake", Duration::from_secs(30));
    let added = client.invoke("fake", "add_tool", json!({"name": "fresh_tool"}));
    assert_eq!(first_text(&added), "added");
    search_until_found(
        &mut client,
        "fresh_tool",
        "fake",
        "fresh_tool",
        Duration::from_secs(30),
    );
    assert!(client.shutdown().success());

    // Direct mode: the client is told, and tools/list shows it.
    let config = env.write_config(false, &[("live", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    list_tools_until(&mut client, &["live__add_tool"], Duration::from_secs(30));
    client.take_notifications();
    let added = client.call_tool("live__add_tool", json!({"name": "fresh_tool"}));
    assert_eq!(first_text(&added), "added");
    // A list_changed from the first discovery may still be on its way; the one for the new
    // tool follows it. Re-list on each notification, as a client does, until the tool shows.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut tools = Vec::new();
    while std::time::Instant::now() < deadline {
        let changed = client.wait_notification(
            "notifications/tools/list_changed",
            deadline.saturating_duration_since(std::time::Instant::now()),
            &mut seen,
            |_| true,
        );
        assert!(changed.is_some(), "no tools/list_changed; saw {seen:#?}");
        tools = client.list_tools();
        if tools.iter().any(|t| t["name"] == "live__fresh_tool") {
            return;
        }
    }
    panic!("live__fresh_tool never listed after tools/list_changed: {tools:?}");
}

#[test]
fn backend_log_messages_reach_the_client_with_the_backend_named() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("chatty", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    assert_eq!(
        client.result("logging/setLevel", json!({"level": "debug"})),
        json!({})
    );
    let r = client.invoke("chatty", "log_message", json!({"text": "disk almost full"}));
    assert_eq!(first_text(&r), "logged");
    let mut seen = Vec::new();
    let msg = client
        .wait_notification(
            "notifications/message",
            Duration::from_secs(10),
            &mut seen,
            |p| p["data"] == "disk almost full",
        )
        .unwrap_or_else(|| panic!("the backend's log message was not relayed; saw {seen:#?}"));
    assert_eq!(msg["params"]["level"], "warning", "{msg}");
    let logger = msg["params"]["logger"].as_str().unwrap_or("");
    assert!(
        logger.contains("chatty"),
        "logger does not name the backend: {msg}"
    );
}
