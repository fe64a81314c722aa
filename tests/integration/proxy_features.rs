//! Proxy features end to end: the real `@modelcontextprotocol/server-everything` (stdio) behind
//! the gateway, driven by the raw harness client and by the official Python SDK client
//! (`tests/fixtures/proxy_client.py`, which answers sampling, elicitation and roots requests).
//!
//! Covers resources (list, read, templates, subscribe → `notifications/resources/updated`),
//! prompts, completions, backend→client requests, progress with the client's own token,
//! cancellation reaching the backend, and two backends exposing the same tool, prompt and
//! resource names, all reachable under public names that stay the same across restarts. Every
//! message the gateway emits here is checked against the official MCP 2025-11-25 JSON schema by
//! `tests/fixtures/validate_messages.py`. These tests assert what the spec and DESIGN.md require;
//! they never work around a gateway bug.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    RESPONSE_TIMEOUT, RpcClient, TestEnv, first_text, fixture, gateway_bin, npm_bin, py_bin,
    stdio_backend, tail, wait_output,
};

/// The backend name used by the single-backend tests.
const SERVER: &str = "everything";
/// A static document every server-everything instance lists.
const DOC: &str = "demo://resource/static/document/features.md";
/// The text template of server-everything.
const TEXT_TEMPLATE: &str = "demo://resource/dynamic/text/{resourceId}";
/// What `proxy_client.py`'s sampling callback answers with (must match the script).
const SAMPLING_REPLY: &str = "proxy-client sampled reply";

/// `server-everything stdio` as a backend body, with extra YAML lines.
fn everything(extra: &str) -> String {
    stdio_backend(&npm_bin("mcp-server-everything"), &["stdio"], extra)
}

/// A gateway-public resource URI (`server+original`).
fn public_uri(server: &str, uri: &str) -> String {
    format!("{server}+{uri}")
}

/// Runs `validate_messages.py` on what the gateway emitted; fails the test on any invalid message
/// the gateway made (payloads a backend in `upstream` sent invalid and the gateway forwarded
/// unchanged are reported by the script but are not the gateway's failure).
fn validate(emitted: &Path, sent: &Path, upstream: &[&Path]) {
    let mut cmd = Command::new(py_bin("python"));
    cmd.arg(fixture("validate_messages.py"))
        .arg(emitted)
        .arg("--sent")
        .arg(sent);
    for u in upstream {
        cmd.arg("--upstream").arg(u);
    }
    let out = cmd.output().expect("run validate_messages.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Shown with --nocapture: which payloads a backend sent invalid, and the per-kind counts.
    eprintln!("{}", tail(&stdout, 6000));
    assert!(
        out.status.success(),
        "messages the gateway emitted ({}) do not match the MCP 2025-11-25 schema:\n{}{}",
        emitted.display(),
        tail(&stdout, 12000),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains("validated 0 message"),
        "nothing to validate in {}: {stdout}",
        emitted.display()
    );
}

/// A raw client that remembers the method of every request it sent, so each response the gateway
/// emits can be validated against its method's result type.
struct Wire {
    client: RpcClient,
    sent: Vec<(Value, String)>,
}

impl Wire {
    /// Starts the gateway on `config` and completes `initialize` with `capabilities`.
    fn start(env: &TestEnv, config: &Path, capabilities: Value) -> Wire {
        let mut wire = Wire {
            client: RpcClient::spawn(env.gateway_command(config, &[])),
            sent: Vec::new(),
        };
        let init = wire.result(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": capabilities,
                "clientInfo": {"name": "proxy-features-tests", "version": "0"}
            }),
        );
        assert_eq!(init["protocolVersion"], "2025-11-25", "initialize: {init}");
        wire.client.notify("notifications/initialized", json!({}));
        wire
    }

    fn send(&mut self, method: &str, params: Value) -> Value {
        let id = self.client.send_request(method, params);
        self.sent.push((id.clone(), method.to_string()));
        id
    }

    /// The whole response message.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        self.client.wait_response(&id, RESPONSE_TIMEOUT)
    }

    /// The `result`, panicking on a JSON-RPC error.
    fn result(&mut self, method: &str, params: Value) -> Value {
        let resp = self.request(method, params);
        match resp.get("result") {
            Some(r) => r.clone(),
            None => panic!("{method} failed: {resp}"),
        }
    }

    /// `tools/call` of `name`; the result must not be an error.
    fn call(&mut self, name: &str, arguments: Value) -> Value {
        let r = self.result("tools/call", json!({"name": name, "arguments": arguments}));
        assert_ne!(r["isError"], json!(true), "{name} {arguments} failed: {r}");
        r
    }

    /// `gateway_invoke` of a backend tool; the result must not be an error.
    fn invoke(&mut self, server: &str, tool: &str, arguments: Value) -> Value {
        self.call(
            "gateway_invoke",
            json!({"server": server, "tool": tool, "arguments": arguments}),
        )
    }

    /// Every item of a paginated list method, following `nextCursor`.
    fn list_all(&mut self, method: &str, key: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..100 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let r = self.result(method, params);
            items.extend(r[key].as_array().cloned().unwrap_or_default());
            match r.get("nextCursor") {
                Some(c) if !c.is_null() => cursor = Some(c.clone()),
                _ => return items,
            }
        }
        panic!("{method} kept returning nextCursor after 100 pages");
    }

    /// The `field` of every item of a list method, in the order the gateway listed them.
    fn names(&mut self, method: &str, key: &str, field: &str) -> Vec<String> {
        self.list_all(method, key)
            .iter()
            .map(|item| {
                item[field]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} item without `{field}`: {item}"))
                    .to_string()
            })
            .collect()
    }

    /// Closes the gateway's stdin, expects a clean exit, and validates everything it emitted.
    fn finish(mut self, env: &TestEnv, label: &str) {
        self.client.close_stdin();
        let status = self.client.wait_exit(Duration::from_secs(20));
        assert!(
            status.success(),
            "gateway exited with {status}; stderr:\n{}",
            tail(&self.client.stderr(), 4000)
        );
        let lines = self
            .client
            .stdout_lines_through_exit(Duration::from_secs(10));
        let emitted = env.write(&format!("{label}-emitted.jsonl"), &lines.join("\n"));
        let sent: Vec<String> = self
            .sent
            .iter()
            .map(|(id, m)| json!({"jsonrpc": "2.0", "id": id, "method": m}).to_string())
            .collect();
        let sent = env.write(&format!("{label}-sent.jsonl"), &sent.join("\n"));
        validate(&emitted, &sent, &[]);
    }
}

#[test]
fn resources_prompts_and_completions_through_the_gateway() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[(SERVER, everything(""))]);
    let mut gw = Wire::start(&env, &config, json!({}));

    // resources/list: the backend's documents under `server+uri`.
    let uris = gw.names("resources/list", "resources", "uri");
    let doc = public_uri(SERVER, DOC);
    assert!(uris.contains(&doc), "{doc} not in resources/list: {uris:?}");
    assert!(
        uris.iter().all(|u| u.starts_with("everything+demo://")),
        "resource URIs not namespaced: {uris:?}"
    );

    // resources/read by the public URI returns the backend's content, with the public URI.
    let read = gw.result("resources/read", json!({"uri": doc}));
    let contents = read["contents"].as_array().expect("contents array");
    assert_eq!(contents.len(), 1, "{read}");
    assert_eq!(contents[0]["uri"], json!(doc), "{read}");
    assert_eq!(contents[0]["mimeType"], "text/markdown", "{read}");
    let text = contents[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("# Everything Server - Features"), "{read}");

    // Templates, and reading a resource expanded from one (text and base64 blob).
    let templates = gw.names(
        "resources/templates/list",
        "resourceTemplates",
        "uriTemplate",
    );
    let text_template = public_uri(SERVER, TEXT_TEMPLATE);
    assert!(
        templates.contains(&text_template),
        "{text_template} not in resources/templates/list: {templates:?}"
    );
    let dynamic = public_uri(SERVER, "demo://resource/dynamic/text/3");
    let read = gw.result("resources/read", json!({"uri": dynamic}));
    assert_eq!(read["contents"][0]["uri"], json!(dynamic), "{read}");
    let text = read["contents"][0]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Resource 3: "), "{read}");
    let blob = public_uri(SERVER, "demo://resource/dynamic/blob/4");
    let read = gw.result("resources/read", json!({"uri": blob}));
    assert_eq!(read["contents"][0]["uri"], json!(blob), "{read}");
    assert!(read["contents"][0]["blob"].is_string(), "{read}");

    // Prompts: listed as `server__name`, fetched with arguments.
    let prompts = gw.names("prompts/list", "prompts", "name");
    for p in ["everything__args-prompt", "everything__completable-prompt"] {
        assert!(
            prompts.iter().any(|n| n == p),
            "{p} not in prompts/list: {prompts:?}"
        );
    }
    let got = gw.result(
        "prompts/get",
        json!({"name": "everything__args-prompt", "arguments": {"city": "Oslo"}}),
    );
    assert_eq!(
        got["messages"][0]["content"]["text"], "What's weather in Oslo?",
        "{got}"
    );

    // Completions of a prompt argument (with context) and of a template variable.
    let done = gw.result(
        "completion/complete",
        json!({
            "ref": {"type": "ref/prompt", "name": "everything__completable-prompt"},
            "argument": {"name": "name", "value": "A"},
            "context": {"arguments": {"department": "Engineering"}}
        }),
    );
    assert_eq!(done["completion"]["values"], json!(["Alice"]), "{done}");
    let done = gw.result(
        "completion/complete",
        json!({
            "ref": {"type": "ref/resource", "uri": text_template},
            "argument": {"name": "resourceId", "value": "1"}
        }),
    );
    let values = done["completion"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(values.contains(&json!("1")), "{done}");

    gw.finish(&env, "resources");
}

#[test]
fn resource_subscription_delivers_updates_under_the_public_uri() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[(SERVER, everything(""))]);
    let mut gw = Wire::start(&env, &config, json!({}));
    let doc = public_uri(SERVER, DOC);

    let sub = gw.result("resources/subscribe", json!({"uri": doc}));
    assert_eq!(sub, json!({}), "resources/subscribe");
    // server-everything sends one update for each subscribed URI at once, then every 5 s.
    let started = gw.invoke(SERVER, "toggle-subscriber-updates", json!({}));
    assert!(first_text(&started).starts_with("Started"), "{started}");

    let mut seen = Vec::new();
    let update = gw.client.wait_notification(
        "notifications/resources/updated",
        Duration::from_secs(12),
        &mut seen,
        |p| p["uri"] == json!(doc),
    );
    assert!(
        update.is_some(),
        "no notifications/resources/updated for {doc} within 12 s; notifications seen: {seen:#?}"
    );
    let unsub = gw.result("resources/unsubscribe", json!({"uri": doc}));
    assert_eq!(unsub, json!({}), "resources/unsubscribe");
    let stopped = gw.invoke(SERVER, "toggle-subscriber-updates", json!({}));
    assert!(first_text(&stopped).starts_with("Stopped"), "{stopped}");

    gw.finish(&env, "subscribe");
}

#[test]
fn a_string_progress_token_comes_back_unchanged() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[(SERVER, everything(""))]);
    let mut gw = Wire::start(&env, &config, json!({}));
    let token = json!("client-token-\u{e9}-1");
    let done = gw.result(
        "tools/call",
        json!({
            "name": "gateway_invoke",
            "arguments": {
                "server": SERVER,
                "tool": "trigger-long-running-operation",
                "arguments": {"duration": 1, "steps": 2}
            },
            "_meta": {"progressToken": token}
        }),
    );
    assert!(
        first_text(&done).starts_with("Long running operation completed"),
        "{done}"
    );
    // Progress notifications precede the response on the wire: they have all been read.
    let seen = gw.client.take_notifications();
    let progress: Vec<&Value> = seen
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 2, "{seen:#?}");
    for (step, n) in progress.iter().enumerate() {
        assert_eq!(n["params"]["progressToken"], token, "{n}");
        assert_eq!(n["params"]["progress"], json!(step + 1), "{n}");
        assert_eq!(n["params"]["total"], json!(2), "{n}");
    }
    gw.finish(&env, "string-token");
}

/// The JSON lines of a transcript file.
fn transcript(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read transcript {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", path.display()))
        })
        .collect()
}

/// The `tools/call` request in `messages` whose params satisfy `pred` (exactly one).
fn find_call<'a>(messages: &'a [Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "tools/call" && m.get("id").is_some() && pred(&m["params"]))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one tools/call {what}, found {found:#?}"
    );
    found[0]
}

/// What one `proxy_client.py run` produced: its report and the four wire transcripts.
struct SdkRun {
    results: Value,
    /// Client → gateway and gateway → client.
    client_sent: Vec<Value>,
    client_emitted: Vec<Value>,
    /// Gateway → backend and backend → gateway.
    backend_sent: Vec<Value>,
    backend_emitted: Vec<Value>,
}

/// Runs the SDK client through the gateway (one backend, server-everything behind
/// `proxy_client.py tee`), validates what the gateway emitted, and returns everything recorded.
fn run_sdk_scenarios(env: &TestEnv, roots: &[&str], scenarios: &[&str]) -> SdkRun {
    let backend_sent = env.path().join("backend-sent.jsonl");
    let backend_emitted = env.path().join("backend-emitted.jsonl");
    let script = fixture("proxy_client.py");
    let everything_bin = npm_bin("mcp-server-everything");
    let body = stdio_backend(
        &py_bin("python"),
        &[
            path_str(&script),
            "tee",
            "--sent",
            path_str(&backend_sent),
            "--emitted",
            path_str(&backend_emitted),
            "--",
            path_str(&everything_bin),
            "stdio",
        ],
        "",
    );
    let config = env.write_config(true, &[(SERVER, body)]);
    let dir = env.path().join("sdk");

    let mut cmd = Command::new(py_bin("python"));
    cmd.arg(&script)
        .arg("run")
        .arg("--dir")
        .arg(&dir)
        .arg("--server")
        .arg(SERVER);
    for r in roots {
        cmd.arg("--root").arg(r);
    }
    cmd.args(scenarios)
        .arg("--")
        .arg(gateway_bin())
        .arg("--config")
        .arg(&config);
    env.apply(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn proxy_client.py");
    let out = wait_output(child, Duration::from_secs(90));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "proxy_client.py failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr), 8000)
    );
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("proxy_client output is not JSON ({e}): {stdout}"));
    validate(
        &dir.join("emitted.jsonl"),
        &dir.join("sent.jsonl"),
        &[&backend_emitted],
    );
    SdkRun {
        results: report["results"].clone(),
        client_sent: transcript(&dir.join("sent.jsonl")),
        client_emitted: transcript(&dir.join("emitted.jsonl")),
        backend_sent: transcript(&backend_sent),
        backend_emitted: transcript(&backend_emitted),
    }
}

/// Backend → client requests reach the client with their params unchanged, and the client's
/// answer reaches the backend unchanged.
fn assert_relayed_unchanged(run: &SdkRun, method: &str, answer: impl Fn(&Value) -> bool) {
    let asked: Vec<&Value> = run
        .backend_emitted
        .iter()
        .filter(|m| m["method"] == method && m.get("id").is_some())
        .collect();
    let relayed: Vec<&Value> = run
        .client_emitted
        .iter()
        .filter(|m| m["method"] == method && m.get("id").is_some())
        .collect();
    assert!(!asked.is_empty(), "the backend never sent {method}");
    for a in &asked {
        assert!(
            relayed.iter().any(|r| r["params"] == a["params"]),
            "{method} from the backend did not reach the client unchanged: {a}\nrelayed: {relayed:#?}"
        );
    }
    assert!(
        run.backend_sent.iter().any(|m| m.get("method").is_none()
            && asked.iter().any(|a| a["id"] == m["id"])
            && answer(&m["result"])),
        "the client's answer to {method} did not reach the backend; the gateway sent it: {:#?}",
        run.backend_sent
            .iter()
            .filter(|m| m.get("method").is_none())
            .collect::<Vec<_>>()
    );
}

#[test]
fn sampling_elicitation_and_roots_reach_the_client_and_back() {
    let env = TestEnv::new();
    let roots = ["file:///tmp/proxy-root-a", "file:///tmp/proxy-root-b"];
    let run = run_sdk_scenarios(&env, &roots, &["sampling", "elicitation", "roots"]);
    let results = &run.results;

    // The backend is told exactly the client capabilities the client declared.
    let declared = |messages: &[Value]| {
        messages
            .iter()
            .find(|m| m["method"] == "initialize")
            .map(|m| m["params"]["capabilities"].clone())
            .expect("an initialize request")
    };
    let (client_caps, backend_caps) = (declared(&run.client_sent), declared(&run.backend_sent));
    assert_eq!(
        backend_caps, client_caps,
        "capabilities the gateway declared to the backend"
    );

    // Sampling: the backend's request reached our callback and its answer reached the backend.
    let sampling = &results["sampling"];
    let reply = first_text(&sampling["result"]);
    assert!(
        reply.contains(SAMPLING_REPLY) && reply.contains("say hi"),
        "sampling result does not carry the client's answer: {sampling:#}"
    );
    assert_eq!(
        sampling["sampling_requests"].as_array().map(Vec::len),
        Some(1),
        "{sampling:#}"
    );
    assert_relayed_unchanged(&run, "sampling/createMessage", |r| {
        r["model"] == "proxy-client-model"
            && r["content"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(SAMPLING_REPLY))
    });

    // Elicitation: the form request reached the client; the accepted content reached the backend.
    let elicitation = &results["elicitation"];
    let text = all_text(&elicitation["result"]);
    assert!(
        text.contains("User provided the requested information") && text.contains("Proxy Client"),
        "elicitation result does not carry the client's answer: {elicitation:#}"
    );
    assert!(
        elicitation["elicitation_requests"][0]["requestedSchema"]["properties"]["name"].is_object(),
        "{elicitation:#}"
    );
    assert_relayed_unchanged(&run, "elicitation/create", |r| {
        *r == json!({"action": "accept", "content": {"name": "Proxy Client", "check": true, "integer": 7}})
    });

    // Roots: the backend saw the client's roots.
    let listed = &results["roots"];
    let text = first_text(&listed["result"]);
    for r in roots {
        assert!(
            text.contains(r),
            "root {r} missing from get-roots-list: {listed:#}"
        );
    }
    assert!(
        listed["roots_requests"].as_u64().unwrap_or(0) >= 1,
        "{listed:#}"
    );
    assert_relayed_unchanged(&run, "roots/list", |r| {
        r["roots"][0]["uri"] == roots[0] && r["roots"][1]["uri"] == roots[1]
    });
}

#[test]
fn progress_keeps_the_client_token_and_cancel_reaches_the_backend() {
    let env = TestEnv::new();
    let run = run_sdk_scenarios(&env, &[], &["progress", "cancel"]);

    // Progress: every step arrives, each notification carrying the token the client chose.
    let progress = &run.results["progress"];
    assert!(
        first_text(&progress["result"]).starts_with("Long running operation completed"),
        "{progress:#}"
    );
    let steps: Vec<f64> = progress["progress"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u[0].as_f64()).collect())
        .unwrap_or_default();
    assert_eq!(steps, vec![1.0, 2.0, 3.0, 4.0], "{progress:#}");
    let call = find_call(&run.client_sent, "of the 2 s operation", |p| {
        p["arguments"]["arguments"]["duration"] == 2
    });
    let token = &call["params"]["_meta"]["progressToken"];
    assert!(!token.is_null(), "the SDK sent no progress token: {call}");
    let relayed = run
        .client_emitted
        .iter()
        .filter(|m| {
            m["method"] == "notifications/progress" && m["params"]["progressToken"] == *token
        })
        .count();
    assert_eq!(
        relayed, 4,
        "progress notifications with the client's token {token}"
    );
    let client_tokens: Vec<&Value> = run
        .client_sent
        .iter()
        .filter_map(|m| m["params"]["_meta"].get("progressToken"))
        .collect();
    for m in run
        .client_emitted
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
    {
        assert!(
            client_tokens.contains(&&m["params"]["progressToken"]),
            "progress notification with a token the client never sent: {m}"
        );
    }

    // Cancel: the client abandoned the call after its first progress step; the gateway sent no
    // response for it and cancelled the backend's request, by the backend-side id.
    let cancel = &run.results["cancel"];
    assert_eq!(
        cancel["completed"],
        json!({}),
        "the cancelled call completed: {cancel:#}"
    );
    assert!(
        !cancel["progress_before_cancel"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{cancel:#}"
    );
    let call = find_call(&run.client_sent, "of the 30 s operation", |p| {
        p["arguments"]["arguments"]["duration"] == 30
    });
    let client_id = &call["id"];
    assert!(
        run.client_sent
            .iter()
            .any(|m| m["method"] == "notifications/cancelled"
                && m["params"]["requestId"] == *client_id),
        "the SDK did not send notifications/cancelled for {client_id}"
    );
    let answered: Vec<&Value> = run
        .client_emitted
        .iter()
        .filter(|m| m.get("method").is_none() && m["id"] == *client_id)
        .collect();
    assert!(
        answered.is_empty(),
        "the gateway answered the cancelled request {client_id}: {answered:#?}"
    );
    let backend_call = find_call(
        &run.backend_sent,
        "of the 30 s operation at the backend",
        |p| p["name"] == "trigger-long-running-operation" && p["arguments"]["duration"] == 30,
    );
    let backend_id = &backend_call["id"];
    assert!(
        run.backend_sent
            .iter()
            .any(|m| m["method"] == "notifications/cancelled"
                && m["params"]["requestId"] == *backend_id),
        "the gateway did not cancel request {backend_id} at the backend; it sent: {:#?}",
        run.backend_sent
            .iter()
            .filter(|m| m.get("method").is_some())
            .map(|m| m["method"].clone())
            .collect::<Vec<_>>()
    );
}

/// Every text block of a `CallToolResult`, one per line.
fn all_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// What a client sees of the gateway's names: tools, prompts, resources, templates, in order.
#[derive(Debug, PartialEq)]
struct PublicNames {
    tools: Vec<String>,
    prompts: Vec<String>,
    resources: Vec<String>,
    templates: Vec<String>,
}

/// One gateway run over the two-backend config: every same-named item reaches its own backend.
fn two_backend_run(env: &TestEnv, config: &Path, label: &str) -> PublicNames {
    let mut gw = Wire::start(env, config, json!({}));
    let names = PublicNames {
        tools: gw.names("tools/list", "tools", "name"),
        prompts: gw.names("prompts/list", "prompts", "name"),
        resources: gw.names("resources/list", "resources", "uri"),
        templates: gw.names(
            "resources/templates/list",
            "resourceTemplates",
            "uriTemplate",
        ),
    };
    for server in ["alpha", "beta"] {
        let other = if server == "alpha" { "beta" } else { "alpha" };
        for (kind, list, name) in [
            ("tool", &names.tools, format!("{server}__echo")),
            ("prompt", &names.prompts, format!("{server}__args-prompt")),
            ("resource", &names.resources, public_uri(server, DOC)),
            (
                "template",
                &names.templates,
                public_uri(server, TEXT_TEMPLATE),
            ),
        ] {
            assert!(
                list.contains(&name),
                "{label}: {kind} {name} not listed: {list:?}"
            );
        }
        // Each backend has WHO=<its name> in its environment: the call went to the right one.
        let env_dump = first_text(&gw.call(&format!("{server}__get-env"), json!({})));
        assert!(
            env_dump.contains(&format!("\"WHO\": \"{server}\"")),
            "{label}: {server}__get-env did not reach {server}: {}",
            tail(&env_dump, 2000)
        );
        assert!(!env_dump.contains(&format!("\"WHO\": \"{other}\"")));
        let via_invoke = first_text(&gw.invoke(server, "get-env", json!({})));
        assert!(
            via_invoke.contains(&format!("\"WHO\": \"{server}\"")),
            "{label}: gateway_invoke {server}/get-env did not reach {server}"
        );
        let echo = first_text(&gw.call(&format!("{server}__echo"), json!({"message": server})));
        assert_eq!(echo, format!("Echo: {server}"), "{label}");
        let got = gw.result(
            "prompts/get",
            json!({"name": format!("{server}__args-prompt"), "arguments": {"city": server}}),
        );
        assert_eq!(
            got["messages"][0]["content"]["text"],
            json!(format!("What's weather in {server}?")),
            "{label}: {got}"
        );
        let uri = public_uri(server, DOC);
        let read = gw.result("resources/read", json!({"uri": uri}));
        assert_eq!(read["contents"][0]["uri"], json!(uri), "{label}: {read}");
    }
    gw.finish(env, label);
    names
}

#[test]
fn same_names_on_two_backends_are_all_reachable_and_stable_across_restarts() {
    let env = TestEnv::new();
    let config = env.write_config(
        false,
        &[
            ("alpha", everything("env: {WHO: alpha}")),
            ("beta", everything("env: {WHO: beta}")),
        ],
    );
    let first = two_backend_run(&env, &config, "run-1");
    for restart in ["run-2", "run-3"] {
        let again = two_backend_run(&env, &config, restart);
        assert_eq!(again, first, "public names changed on {restart}");
    }
}

#[test]
fn prompts_route_right_after_initialize_without_a_warm_catalog() {
    // Invariant 6: deleting the cache loses nothing but time. A client that knows a prompt's
    // stable public name (from an earlier session) may use it before listing anything.
    let env = TestEnv::new();
    let config = env.write_config(true, &[(SERVER, everything(""))]);
    let mut gw = Wire::start(&env, &config, json!({}));
    let got = gw.request(
        "prompts/get",
        json!({"name": "everything__args-prompt", "arguments": {"city": "Oslo"}}),
    );
    assert_eq!(
        got["result"]["messages"][0]["content"]["text"], "What's weather in Oslo?",
        "prompts/get right after initialize: {got}"
    );
    let done = gw.request(
        "completion/complete",
        json!({
            "ref": {"type": "ref/prompt", "name": "everything__completable-prompt"},
            "argument": {"name": "department", "value": "Eng"}
        }),
    );
    assert_eq!(
        done["result"]["completion"]["values"],
        json!(["Engineering"]),
        "completion/complete right after initialize: {done}"
    );
    gw.finish(&env, "cold-prompts");
}

#[test]
fn resource_uris_are_valid_uris_whatever_the_backend_name() {
    // Backend names may hold `_` and start with a digit; a URI scheme may do neither
    // (RFC 3986 §3.1), and the schema types every resource `uri` as `format: uri`.
    let env = TestEnv::new();
    let names = ["my_docs", "9lives"];
    let config = env.write_config(true, &names.map(|n| (n, everything(""))));
    let mut gw = Wire::start(&env, &config, json!({}));
    let uris = gw.names("resources/list", "resources", "uri");
    // One public URI per backend for the same document, each readable under that URI.
    let docs: Vec<&String> = uris.iter().filter(|u| u.ends_with(DOC)).collect();
    assert_eq!(docs.len(), names.len(), "one {DOC} per backend: {uris:?}");
    assert_ne!(docs[0], docs[1], "distinct public URIs: {docs:?}");
    for uri in docs {
        let read = gw.result("resources/read", json!({"uri": uri}));
        assert_eq!(read["contents"][0]["uri"], json!(uri), "{read}");
    }
    // The schema check (validate_messages.py) fails on any listed or read URI that is not a URI.
    gw.finish(&env, "backend-names");
}
