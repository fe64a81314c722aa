//! The capabilities backend inside a real gateway session (in process, over a duplex stream):
//! capability tools are listed, searchable and callable against a real local HTTP server; a
//! file created while the gateway runs reaches the client as `list_changed` and works; a pinned file that is tampered with disappears and comes back once approved.

use std::path::Path;
use std::time::{Duration, Instant};

use mcp_gateway::capability::PinStore;
use mcp_gateway::config::Config;
use mcp_gateway::gateway::Gateway;
use mcp_gateway::state::Paths;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A local HTTP server answering every request with what it received.
async fn echo_server() -> String {
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move {
        let echo = json!({"method": req.method().as_str(), "path": req.uri().path(), "query": req.uri().query()});
        axum::Json(echo)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn capability(name: &str, base: &str, path: &str) -> String {
    format!(
        "name: {name}\ndescription: Looks up a {name} record by id\nschema:\n  input:\n    type: object\n    properties:\n      id: {{type: string}}\n    required: [id]\nproviders:\n  primary:\n    config:\n      base_url: {base}\n      path: {path}/{{id}}\n"
    )
}

struct Client {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
    next_id: i64,
    /// Notifications seen while waiting for responses.
    notices: Vec<String>,
}

impl Client {
    async fn send(&mut self, msg: Value) {
        let mut line = msg.to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await.unwrap();
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
                .await
                .expect("no answer within 20 s")
                .unwrap()
                .expect("gateway closed");
            let msg: Value = serde_json::from_str(&line).unwrap();
            if msg.get("id") == Some(&json!(id)) {
                return msg["result"].clone();
            }
            if let Some(m) = msg.get("method").and_then(Value::as_str) {
                self.notices.push(m.to_string());
            }
        }
    }

    /// Waits for `method` as a notification; returns how long it took.
    async fn notification(&mut self, method: &str, within: Duration) -> Duration {
        let start = Instant::now();
        if let Some(i) = self.notices.iter().position(|m| m == method) {
            self.notices.remove(i);
            return start.elapsed();
        }
        loop {
            let left = within.checked_sub(start.elapsed()).unwrap_or_default();
            let line = tokio::time::timeout(left, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {method} within {within:?}"))
                .unwrap()
                .expect("gateway closed");
            let msg: Value = serde_json::from_str(&line).unwrap();
            if msg.get("method").and_then(Value::as_str) == Some(method) {
                return start.elapsed();
            }
        }
    }

    async fn tool_names(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({})).await;
        r["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn start(dir: &Path, state: &Path, meta: bool) -> Client {
    let mut config = Config::default();
    config.meta_mcp.enabled = meta;
    config.capabilities.enabled = true;
    config.capabilities.directories = vec![dir.to_path_buf()];
    let paths = Paths {
        config_dir: state.join("config"),
        cache_dir: state.join("cache"),
        state_dir: state.join("state"),
        data_dir: state.join("data"),
    };
    let gw: std::sync::Arc<Gateway> = Gateway::start(config, Some(&paths)).unwrap();
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(server_io);
    tokio::spawn(mcp_gateway::session::serve(gw, BufReader::new(sr), sw));
    let (cr, cw) = tokio::io::split(client_io);
    let mut client = Client {
        write: cw,
        lines: BufReader::new(cr).lines(),
        next_id: 0,
        notices: Vec::new(),
    };
    let init = client
        .request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        )
        .await;
    assert_eq!(init["protocolVersion"], "2025-06-18");
    client
        .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    client
}

#[tokio::test]
async fn capability_tools_are_served_reloaded_live_and_quarantined() {
    let base = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.yaml"),
        capability("user", &base, "/users"),
    )
    .unwrap();
    let mut c = start(dir.path(), state.path(), false).await;

    // Listed directly (meta mode off) and callable.
    let mut names = c.tool_names().await;
    if !names.contains(&"capabilities__user".to_string()) {
        // Not loaded yet: the client is told when it is.
        c.notification("notifications/tools/list_changed", Duration::from_secs(20))
            .await;
        names = c.tool_names().await;
    }
    assert!(
        names.contains(&"capabilities__user".to_string()),
        "{names:?}"
    );
    let r = c
        .request(
            "tools/call",
            json!({"name": "capabilities__user", "arguments": {"id": "a b"}}),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["path"], "/users/a%20b");
    let r = c
        .request(
            "tools/call",
            json!({"name": "capabilities__user", "arguments": {}}),
        )
        .await;
    assert_eq!(r["isError"], true);
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("argument `id`")
    );

    // A new file reaches the client as list_changed, and works. (How fast: the `gateway` bench,
    // docs/BENCHMARKS.md.)
    c.notices.clear();
    std::fs::write(
        dir.path().join("orders.yaml"),
        capability("order", &base, "/orders"),
    )
    .unwrap();
    c.notification("notifications/tools/list_changed", Duration::from_secs(10))
        .await;
    assert!(
        c.tool_names()
            .await
            .contains(&"capabilities__order".to_string())
    );
    let r = c
        .request(
            "tools/call",
            json!({"name": "capabilities__order", "arguments": {"id": "7"}}),
        )
        .await;
    assert_eq!(r["structuredContent"]["path"], "/orders/7");

    // Pin, then tamper: the tool disappears (quarantined); approve: it is back.
    let lock = state
        .path()
        .join("state")
        .join(mcp_gateway::capability::pins::LOCK_FILE);
    let file = dir.path().join("orders.yaml");
    PinStore::open_at(lock.clone())
        .unwrap()
        .pin(&file, vec!["order".into()])
        .unwrap();
    std::fs::write(&file, capability("order", &base, "/evil")).unwrap();
    c.notification("notifications/tools/list_changed", Duration::from_secs(5))
        .await;
    assert!(
        !c.tool_names()
            .await
            .contains(&"capabilities__order".to_string())
    );
    let r = c
        .request(
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": {"server": "capabilities", "tool": "order", "arguments": {"id": "1"}}}),
        )
        .await;
    assert_eq!(r["isError"], true, "{r}");
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("quarantined") && text.contains("cap approve order"),
        "{text}"
    );
    let r = c
        .request(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
        )
        .await;
    let caps = r["structuredContent"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "capabilities")
        .cloned()
        .unwrap();
    let problems = caps["problems"].to_string();
    assert!(
        problems.contains("orders.yaml") && problems.contains("changed since approval"),
        "{caps}"
    );
    PinStore::open_at(lock)
        .unwrap()
        .approve("order", |_| vec!["order".into()])
        .unwrap();
    // Approval changes no capability file; touching the directory makes the gateway reload.
    std::fs::write(&file, capability("order", &base, "/evil")).unwrap();
    c.notification("notifications/tools/list_changed", Duration::from_secs(5))
        .await;
    assert!(
        c.tool_names()
            .await
            .contains(&"capabilities__order".to_string())
    );
}

#[tokio::test]
async fn capability_tools_are_found_by_search_and_invoked_in_meta_mode() {
    let base = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.yaml"),
        capability("user", &base, "/users"),
    )
    .unwrap();
    let mut c = start(dir.path(), state.path(), true).await;
    // A search waits (bounded) for discovery and indexing: no retry loop needed.
    let r = c
        .request(
            "tools/call",
            json!({"name": "gateway_search_tools", "arguments": {"query": "look up user record"}}),
        )
        .await;
    let found = r["structuredContent"]["matches"].clone();
    assert_eq!(found[0]["server"], "capabilities", "{found}");
    assert_eq!(found[0]["tool"], "user");
    let r = c
        .request(
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": {"server": "capabilities", "tool": "user", "arguments": {"id": "42"}}}),
        )
        .await;
    assert_eq!(r["structuredContent"]["path"], "/users/42", "{r}");
    let r = c
        .request(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
        )
        .await;
    let servers = r["structuredContent"]["servers"].as_array().unwrap();
    let caps = servers
        .iter()
        .find(|s| s["name"] == "capabilities")
        .unwrap();
    assert_eq!(caps["transport"], "capabilities");
    assert_eq!(caps["tools"], 1);
}
