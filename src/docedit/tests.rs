use super::*;
use serde_json::json;

fn sec(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

#[test]
fn jsonc_edit_keeps_comments_and_order() {
    let text = "{\n  // my settings\n  \"theme\": \"dark\", /* keep */\n  \"context_servers\": {\n    \"a\": {\"command\": \"x\"},\n    \"b\": {\"command\": \"y\"}, // trailing\n  },\n  \"z\": 1,\n}\n";
    let out = edit_entries(
        text,
        FileFormat::Json,
        &sec(&["context_servers"]),
        Shape::Map,
        &["a".into()],
        &[(
            "gateway".into(),
            json!({"command": "mcp-gateway", "args": []}),
        )],
    )
    .unwrap();
    assert!(
        out.contains("// my settings") && out.contains("/* keep */") && out.contains("// trailing"),
        "{out}"
    );
    assert!(!out.contains("\"a\""));
    let v = parse(&out, FileFormat::Json).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["theme", "context_servers", "z"]);
    assert_eq!(v["context_servers"]["gateway"]["command"], "mcp-gateway");
    // Idempotent: same request again changes nothing.
    let again = edit_entries(
        &out,
        FileFormat::Json,
        &sec(&["context_servers"]),
        Shape::Map,
        &["a".into()],
        &[(
            "gateway".into(),
            json!({"command": "mcp-gateway", "args": []}),
        )],
    )
    .unwrap();
    assert_eq!(again, out);
}

#[test]
fn removing_an_entry_takes_its_comment_lines() {
    let text = "{\n  \"s\": {\n    \"keep\": 1, // about keep\n    // about gone\n    /* more */\n    \"gone\": 2,\n\n    // about last\n    \"last\": 3\n  }\n}\n";
    let out = edit_entries(
        text,
        FileFormat::Json,
        &sec(&["s"]),
        Shape::Map,
        &["gone".into()],
        &[],
    )
    .unwrap();
    assert!(
        !out.contains("about gone") && !out.contains("more"),
        "{out}"
    );
    assert!(
        out.contains("\"keep\": 1, // about keep\n")
            && out.contains("    // about last\n    \"last\": 3"),
        "{out}"
    );
    let yaml = "m:\n  a:\n    x: 1\n  # about b\n  b:\n    x: 2\n\n  # about c\n  c:\n    x: 3\n";
    let out = edit_entries(
        yaml,
        FileFormat::Yaml,
        &sec(&["m"]),
        Shape::Map,
        &["b".into()],
        &[],
    )
    .unwrap();
    assert_eq!(out, "m:\n  a:\n    x: 1\n\n  # about c\n  c:\n    x: 3\n");
}

#[test]
fn json_creates_nested_sections_and_empty_files() {
    let out = edit_entries(
        "",
        FileFormat::Json,
        &sec(&["mcpServers"]),
        Shape::Map,
        &[],
        &[("g".into(), json!({"command": "c"}))],
    )
    .unwrap();
    assert_eq!(
        parse(&out, FileFormat::Json).unwrap(),
        json!({"mcpServers": {"g": {"command": "c"}}})
    );
    let text = "{\"projects\": {\"/p\": {\"allowedTools\": []}}}";
    let out = edit_entries(
        text,
        FileFormat::Json,
        &sec(&["projects", "/p", "mcpServers"]),
        Shape::Map,
        &[],
        &[("g".into(), json!({"command": "c"}))],
    )
    .unwrap();
    assert_eq!(
        parse(&out, FileFormat::Json).unwrap()["projects"]["/p"]["mcpServers"]["g"]["command"],
        "c"
    );
    let bad = edit_entries(
        "{\"mcpServers\": 3}",
        FileFormat::Json,
        &sec(&["mcpServers"]),
        Shape::Map,
        &[],
        &[("g".into(), json!({}))],
    );
    assert!(matches!(bad, Err(DocError::NotContainer { .. })), "{bad:?}");
    let broken = read_entries(
        "{\"mcpServers\": {",
        FileFormat::Json,
        &sec(&["mcpServers"]),
        Shape::Map,
    );
    assert!(
        matches!(broken, Err(DocError::Parse { line: 1, .. })),
        "{broken:?}"
    );
}

#[test]
fn toml_edit_keeps_comments() {
    let text = "# codex\nmodel = \"o3\"\n\n[mcp_servers.fs]\n# the files\ncommand = \"npx\"\nargs = [\"-y\", \"fs\"]\n\n[mcp_servers.docs]\nurl = \"https://x/mcp\"\n\n[profiles.a]\nmodel = \"b\"\n";
    let before = read_entries(text, FileFormat::Toml, &sec(&["mcp_servers"]), Shape::Map).unwrap();
    assert_eq!(before.len(), 2);
    let out = edit_entries(
        text,
        FileFormat::Toml,
        &sec(&["mcp_servers"]),
        Shape::Map,
        &["fs".into()],
        &[(
            "gateway".into(),
            json!({"command": "mcp-gateway", "args": ["--config", "/p"]}),
        )],
    )
    .unwrap();
    assert!(out.starts_with("# codex\nmodel = \"o3\"\n"), "{out}");
    assert!(
        out.contains("[profiles.a]")
            && !out.contains("[mcp_servers.fs]")
            && out.contains("[mcp_servers.gateway]"),
        "{out}"
    );
    let after = read_entries(&out, FileFormat::Toml, &sec(&["mcp_servers"]), Shape::Map).unwrap();
    assert_eq!(
        after[1].1,
        json!({"command": "mcp-gateway", "args": ["--config", "/p"]})
    );
    let created = edit_entries(
        "",
        FileFormat::Toml,
        &sec(&["mcp_servers"]),
        Shape::Map,
        &[],
        &[("g".into(), json!({"command": "c", "args": []}))],
    )
    .unwrap();
    assert!(created.contains("[mcp_servers.g]"), "{created}");
}

#[test]
fn yaml_map_edit() {
    let text = "# goose\nGOOSE_PROVIDER: openai\nextensions:\n  # builtin one\n  developer:\n    enabled: true\n    type: builtin\n    name: developer\n  github:\n    cmd: npx\n    args: [-y, \"@modelcontextprotocol/server-github\"]\n    envs: { GITHUB_TOKEN: \"ghp_x\" }\n    type: stdio\n\n# later\nGOOSE_MODEL: gpt\n";
    let out = edit_entries(text, FileFormat::Yaml, &sec(&["extensions"]), Shape::Map, &["github".into()], &[("gateway".into(), json!({"name": "gateway", "type": "stdio", "cmd": "mcp-gateway", "args": [], "enabled": true}))]).unwrap();
    assert!(
        out.contains("# builtin one") && out.contains("# later\nGOOSE_MODEL: gpt\n"),
        "{out}"
    );
    assert!(!out.contains("ghp_x"));
    assert!(out.contains("  gateway:\n    name: \"gateway\"\n"), "{out}");
    let v = parse(&out, FileFormat::Yaml).unwrap();
    assert_eq!(v["extensions"]["gateway"]["cmd"], "mcp-gateway");
    assert_eq!(v["GOOSE_MODEL"], "gpt");
}

#[test]
fn yaml_list_edit_and_layouts() {
    let text = "name: cfg\nmcpServers:\n- name: SQLite\n  command: npx\n  args:\n    - \"-y\"\n    - mcp-sqlite\n- name: Docs # remote\n  type: sse\n  url: https://x/sse\nmodels: []\n";
    let out = edit_entries(
        text,
        FileFormat::Yaml,
        &sec(&["mcpServers"]),
        Shape::NamedList,
        &["SQLite".into()],
        &[(
            "gateway".into(),
            json!({"name": "gateway", "command": "mcp-gateway", "args": []}),
        )],
    )
    .unwrap();
    assert_eq!(
        out,
        "name: cfg\nmcpServers:\n- name: Docs # remote\n  type: sse\n  url: https://x/sse\n- name: \"gateway\"\n  command: \"mcp-gateway\"\n  args: []\nmodels: []\n"
    );
    let empty = edit_entries(
        "mcpServers: [] # none yet\n",
        FileFormat::Yaml,
        &sec(&["mcpServers"]),
        Shape::NamedList,
        &[],
        &[("g".into(), json!({"name": "g", "command": "c"}))],
    )
    .unwrap();
    assert_eq!(
        empty,
        "mcpServers: # none yet\n  - name: \"g\"\n    command: \"c\"\n"
    );
    let absent = edit_entries(
        "models: []",
        FileFormat::Yaml,
        &sec(&["mcpServers"]),
        Shape::NamedList,
        &[],
        &[("g".into(), json!({"name": "g", "command": "c"}))],
    )
    .unwrap();
    assert_eq!(
        absent,
        "models: []\nmcpServers:\n  - name: \"g\"\n    command: \"c\"\n"
    );
    let flow = edit_entries(
        "mcpServers: [{name: a, command: b}]\n",
        FileFormat::Yaml,
        &sec(&["mcpServers"]),
        Shape::NamedList,
        &["a".into()],
        &[],
    );
    assert!(
        matches!(flow, Err(DocError::Unsupported { .. })),
        "{flow:?}"
    );
    let crlf = edit_entries(
        "backends:\r\n  a:\r\n    command: x\r\n",
        FileFormat::Yaml,
        &sec(&["backends"]),
        Shape::Map,
        &[],
        &[("b".into(), json!({"command": "y"}))],
    )
    .unwrap();
    assert_eq!(
        crlf,
        "backends:\r\n  a:\r\n    command: x\r\n  b:\r\n    command: \"y\"\r\n"
    );
}

#[test]
fn a_detached_toml_comment_block_stays_when_the_table_after_it_goes() {
    let t = "model = \"o3\"\n\n# ---- notes about everything below ----\n# keep this\n\n# the fetch server\n[mcp_servers.fetch]\ncommand = \"uvx\"\n\n[mcp_servers.time]\ncommand = \"uvx\"\n";
    let out = edit_entries(
        t,
        FileFormat::Toml,
        &sec(&["mcp_servers"]),
        Shape::Map,
        &["fetch".into()],
        &[],
    )
    .unwrap();
    assert_eq!(
        out,
        "model = \"o3\"\n\n# ---- notes about everything below ----\n# keep this\n\n[mcp_servers.time]\ncommand = \"uvx\"\n"
    );
    let last = "a = 1\n\n# trailing notes\n\n[mcp_servers.fetch]\ncommand = \"uvx\"\n";
    let out = edit_entries(
        last,
        FileFormat::Toml,
        &sec(&["mcp_servers"]),
        Shape::Map,
        &["fetch".into()],
        &[],
    )
    .unwrap();
    assert_eq!(out, "a = 1\n\n# trailing notes\n");
}

#[test]
fn bom_crlf_and_lone_surrogates_are_kept() {
    let add = [("g".to_string(), json!({"command": "mcp-gateway"}))];
    let crlf = "# codex\r\n[mcp_servers.a]\r\ncommand = \"x\"\r\n";
    let out = edit_entries(
        crlf,
        FileFormat::Toml,
        &sec(&["mcp_servers"]),
        Shape::Map,
        &["a".into()],
        &add,
    )
    .unwrap();
    assert!(out.contains("[mcp_servers.g]\r\n"), "{out:?}");
    assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
    let bom = "\u{feff}{\"mcpServers\": {\"a\": {\"command\": \"x\"}}}";
    assert_eq!(
        read_entries(bom, FileFormat::Json, &sec(&["mcpServers"]), Shape::Map)
            .unwrap()
            .len(),
        1
    );
    let out = edit_entries(
        bom,
        FileFormat::Json,
        &sec(&["mcpServers"]),
        Shape::Map,
        &["a".into()],
        &add,
    )
    .unwrap();
    assert!(
        out.starts_with('\u{feff}') && out.contains("mcp-gateway"),
        "{out}"
    );
    // Half an emoji in a history entry, and a valid pair next to it.
    let lone = r#"{"history": ["cut \ud83d here", "\uD83D", "ok \ud83d\ude00"], "mcpServers": {"a": {"command": "x", "args": ["\udc00"]}}}"#;
    let read = read_entries(lone, FileFormat::Json, &sec(&["mcpServers"]), Shape::Map).unwrap();
    assert_eq!(read[0].1["args"][0], "\u{fffd}");
    let out = edit_entries(
        lone,
        FileFormat::Json,
        &sec(&["mcpServers"]),
        Shape::Map,
        &["a".into()],
        &add,
    )
    .unwrap();
    assert!(
        out.contains(r#"["cut \ud83d here", "\uD83D", "ok \ud83d\ude00"]"#),
        "{out}"
    );
    assert!(
        !out.contains(r#"\udc00"#) && out.contains("mcp-gateway"),
        "{out}"
    );
}
