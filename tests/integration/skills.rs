//! Skills (SKILL.md folders) from a scratch HOME: `mcp-gateway skills list|show|import|remove`
//! on the test skills of `tests/fixtures/skills/`, HTTPS-only import from a real local TLS server
//! (Python's `http.server` behind `ssl`, with a certificate made by `openssl` and trusted through
//! `SSL_CERT_FILE`), and the served skills through the gateway.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    RpcClient, TestEnv, first_text, fixture, list_server_tools, npm_bin, py_bin, run_sdk_driver,
    stdio_backend, tail, wait_output, warm_catalog,
};

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

/// A test skill folder (`good/pdf-forms`, `bad/broken-yaml`, …).
pub fn skill_fixture(rel: &str) -> PathBuf {
    fixture("skills").join(rel)
}

/// A scratch HOME with personal skills in `~/.claude/skills` (all the good ones, one broken one)
/// and a project skill in the working directory's `.agents/skills`.
pub fn scratch_home(env: &TestEnv) -> PathBuf {
    let claude = env.path().join("home/.claude/skills");
    for name in ["commit-message", "pdf-forms", "release-notes"] {
        copy_dir(&skill_fixture(&format!("good/{name}")), &claude.join(name));
    }
    copy_dir(
        &skill_fixture("bad/broken-yaml"),
        &claude.join("broken-yaml"),
    );
    copy_dir(
        &skill_fixture("good/team/warehouse-sql"),
        &env.work_dir().join(".agents/skills/warehouse-sql"),
    );
    env.write("gateway.yaml", "backends: {}\n")
}

fn run(env: &TestEnv, config: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = env.gateway_command(config, args);
    cmd.envs(extra_env.iter().copied());
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    wait_output(cmd.spawn().expect("spawn gateway"), Duration::from_secs(60))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cli_lists_shows_imports_and_removes_skills_from_a_scratch_home() {
    let env = TestEnv::new();
    let config = scratch_home(&env);

    let out = run(&env, &config, &["skills", "list", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("list --json is JSON");
    let skills: Vec<(String, String)> = listed["skills"]
        .as_array()
        .expect("skills")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["scope"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        skills,
        [
            ("commit-message".to_string(), "user".to_string()),
            ("pdf-forms".into(), "user".into()),
            ("release-notes".into(), "user".into()),
            ("warehouse-sql".into(), "project".into()),
        ]
    );
    let broken = env
        .path()
        .join("home/.claude/skills/broken-yaml/SKILL.md")
        .display()
        .to_string();
    let problems = listed["problems"].to_string();
    assert!(
        problems.contains(&format!("{broken}:3")) && problems.contains("not valid YAML"),
        "{problems}"
    );

    // The table and the problem on stderr.
    let out = run(&env, &config, &["skills", "list"], &[]);
    let table = text(&out.stdout);
    assert!(table.starts_with("NAME "), "{table}");
    assert!(table.contains("warehouse-sql   project"), "{table}");
    assert!(text(&out.stderr).contains(&format!("skipped: {broken}:3")));

    // `list` shows the skills server beside the configured backends.
    let out = run(&env, &config, &["list", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let backends: Value = serde_json::from_slice(&out.stdout).expect("list --json is JSON");
    assert!(
        backends
            .as_array()
            .expect("rows")
            .iter()
            .any(|b| b["name"] == "skills" && b["transport"] == "skills"),
        "{backends}"
    );

    // A part exactly as on disk.
    let out = run(
        &env,
        &config,
        &[
            "skills",
            "show",
            "pdf-forms",
            "--part",
            "references/fields.md",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        out.stdout,
        std::fs::read(skill_fixture("good/pdf-forms/references/fields.md")).expect("fixture")
    );
    let out = run(&env, &config, &["skills", "show", "pdf-form"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean `pdf-forms`"));

    // Import from a path into the data dir; the next list sees it.
    let src = skill_fixture("good/team/warehouse-sql");
    let out = run(
        &env,
        &config,
        &["skills", "import", src.to_str().expect("utf-8")],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let imported = env
        .path()
        .join("data/mcp-gateway/skills/warehouse-sql/SKILL.md");
    assert_eq!(
        std::fs::read(&imported).expect("imported"),
        std::fs::read(src.join("SKILL.md")).expect("fixture")
    );
    // A broken or poisoned skill is refused with its file and line, and writes nothing.
    for (rel, needle) in [
        ("bad/no-description", "SKILL.md:3"),
        ("poisoned/tidy-files", "withheld by the scanner"),
    ] {
        let p = skill_fixture(rel);
        let out = run(
            &env,
            &config,
            &["skills", "import", p.to_str().expect("utf-8")],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{rel}");
        assert!(text(&out.stderr).contains(needle), "{}", text(&out.stderr));
    }
    let out = run(
        &env,
        &config,
        &["skills", "import", "http://127.0.0.1:9/SKILL.md"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("only https://"));

    let out = run(&env, &config, &["skills", "remove", "warehouse-sql"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!imported.exists());
    let out = run(&env, &config, &["skills", "remove", "pdf-forms"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a personal skill is not ours to remove"
    );
}

/// A local HTTPS server (Python `http.server` + `ssl`) serving `root`, with an extra route that
/// redirects to another origin. Returns the child, its port and the CA file to trust.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    cert: PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TLS_SERVER: &str = r#"
import http.server, ssl, sys, functools
root, cert, key = sys.argv[1:4]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/elsewhere/"):
            self.send_response(302)
            self.send_header("Location", "https://localhost:1/SKILL.md")
            self.end_headers()
            return
        if self.path == "/big/SKILL.md":
            body = b"---\nname: big\ndescription: d\n---\n" + b"x" * (2 * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        return super().do_GET()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(H, directory=root))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

fn tls_server(env: &TestEnv, root: &Path) -> TlsServer {
    let p = |name: &str| env.path().join(name);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(env.path())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
    };
    // A throwaway CA and a certificate for localhost signed by it.
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    std::fs::write(p("leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").expect("ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    let (cert, key) = (p("cert.pem"), p("key.pem"));
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(TLS_SERVER)
        .arg(root)
        .arg(&cert)
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the TLS server");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("read port");
    let port = line.trim().parse().expect("port");
    TlsServer {
        child,
        port,
        cert: p("ca.pem"),
    }
}

#[test]
fn import_over_https_fetches_linked_parts_and_refuses_what_it_must() {
    let env = TestEnv::new();
    let config = env.write("gateway.yaml", "backends: {}\n");
    let site = env.path().join("site");
    copy_dir(&skill_fixture("good"), &site.join("skills"));
    let server = tls_server(&env, &site);
    let trust = server.cert.to_str().expect("utf-8").to_string();
    let ssl = [("SSL_CERT_FILE", trust.as_str())];
    let base = format!("https://localhost:{}", server.port);

    let url = format!("{base}/skills/pdf-forms/SKILL.md");
    let out = run(&env, &config, &["skills", "import", &url], &ssl);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dest = env.path().join("data/mcp-gateway/skills/pdf-forms");
    for rel in ["SKILL.md", "references/fields.md", "references/filling.md"] {
        assert_eq!(
            std::fs::read(dest.join(rel)).expect("imported file"),
            std::fs::read(skill_fixture("good/pdf-forms").join(rel)).expect("fixture"),
            "{rel}"
        );
    }
    assert!(
        !dest.join("scripts").exists(),
        "only linked Markdown is fetched"
    );

    // Refused: a redirect to another origin, an oversized file, an untrusted certificate.
    for (path, needle, extra) in [
        ("/elsewhere/SKILL.md", "another origin", &ssl[..]),
        ("/big/SKILL.md", "larger than", &ssl[..]),
        ("/skills/commit-message/SKILL.md", "certificate", &[][..]),
    ] {
        let out = run(
            &env,
            &config,
            &["skills", "import", &format!("{base}{path}")],
            extra,
        );
        assert!(!out.status.success(), "{path} was imported");
        assert!(
            text(&out.stderr).to_lowercase().contains(needle),
            "{path}: {}",
            text(&out.stderr)
        );
    }
    let left: Vec<String> = std::fs::read_dir(env.path().join("data/mcp-gateway/skills"))
        .expect("import dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["pdf-forms"]);
}

/// The scratch HOME of [`scratch_home`] plus a poisoned skill, served next to a real tool server
/// (`mcp-server-everything`) with the meta-tools on.
fn gateway_with_skills(env: &TestEnv) -> PathBuf {
    scratch_home(env);
    copy_dir(
        &skill_fixture("poisoned/tidy-files"),
        &env.path().join("home/.claude/skills/tidy-files"),
    );
    let everything = stdio_backend(&npm_bin("mcp-server-everything"), &["stdio"], "");
    env.write_config(true, &[("everything", everything)])
}

/// `(kind, server, tool)` of each match of a `gateway_search_tools` result.
fn hits(result: &Value) -> Vec<(String, String, String)> {
    result["structuredContent"]["matches"]
        .as_array()
        .unwrap_or_else(|| panic!("no matches in {result}"))
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("server"), s("tool"))
        })
        .collect()
}

#[test]
fn a_real_sdk_client_finds_skills_by_search_loads_one_in_one_call_and_reads_its_parts() {
    let env = TestEnv::new();
    let config = gateway_with_skills(&env);
    warm_catalog(&env, &config, &["everything", "skills"]);
    let search =
        |args: Value| json!({"op": "call_tool", "name": "gateway_search_tools", "arguments": args});
    let spec = json!({
        "command": crate::harness::gateway_bin(),
        "args": ["--config", config],
        "ops": [
            {"op": "list_tools"},
            search(json!({"query": "write a commit message for my staged changes"})),
            search(json!({"query": "fill in a PDF form", "kind": "skill", "limit": 10})),
            search(json!({"query": "echo a message back", "kind": "tool", "limit": 10})),
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {"server": "skills", "tool": "pdf-forms"}},
            {"op": "read_resource", "uri": "skills+skill://pdf-forms/references/fields.md"},
            search(json!({"query": "tidy up a project folder remove build artifacts", "kind": "skill", "limit": 25})),
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {"server": "skills", "tool": "tidy-files"}},
            {"op": "read_resource", "uri": "skills+skill://tidy-files/SKILL.md"},
            search(json!({"query": "commit", "kind": "prompt"})),
            search(json!({"query": "query the warehouse with sql", "kind": "skill"})),
        ]
    });
    let out = run_sdk_driver(&py_bin("python"), &spec, &env);
    let r = out["results"].as_array().expect("results");

    // The meta-tool's schema offers the filter.
    let search_tool = r[0]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "gateway_search_tools")
        .expect("gateway_search_tools listed");
    assert_eq!(
        search_tool["inputSchema"]["properties"]["kind"]["enum"],
        json!(["tool", "skill"])
    );

    // A skill is ranked first for its own task, among real tools, and says it is a skill (in the
    // structured result and in the text block).
    let found = hits(&r[1]);
    assert_eq!(
        found[0],
        ("skill".into(), "skills".into(), "commit-message".into()),
        "{found:?}"
    );
    assert!(
        first_text(&r[1]).contains(r#""kind":"skill""#),
        "{}",
        first_text(&r[1])
    );

    // `kind` narrows the search both ways.
    let found = hits(&r[2]);
    assert_eq!(found[0].2, "pdf-forms", "{found:?}");
    assert!(
        found.iter().all(|h| h.0 == "skill" && h.1 == "skills"),
        "{found:?}"
    );
    let found = hits(&r[3]);
    assert!(!found.is_empty());
    assert_eq!(
        found[0],
        ("tool".into(), "everything".into(), "echo".into()),
        "{found:?}"
    );
    assert!(
        found.iter().all(|h| h.0 == "tool" && h.1 == "everything"),
        "{found:?}"
    );

    // One call loads the skill: its body, then its parts with how to read each.
    let loaded = &r[4];
    assert_ne!(loaded["isError"], json!(true), "{loaded}");
    let body = loaded["content"][0]["text"].as_str().expect("body");
    assert!(body.starts_with("\n# PDF forms\n"), "{body}");
    let parts = loaded["content"][1]["text"].as_str().expect("parts");
    assert!(
        parts.contains(
            "references/fields.md — Listing fields: skills+skill://pdf-forms/references/fields.md"
        ),
        "{parts}"
    );
    assert!(
        !parts.contains("fill_form.py"),
        "scripts are never served: {parts}"
    );

    // resources/read returns the part byte for byte.
    let file = std::fs::read_to_string(
        env.path()
            .join("home/.claude/skills/pdf-forms/references/fields.md"),
    )
    .expect("part on disk");
    assert_eq!(r[5]["contents"][0]["text"], json!(file), "{}", r[5]);
    assert_eq!(
        r[5]["contents"][0]["uri"],
        "skills+skill://pdf-forms/references/fields.md"
    );

    // The poisoned skill is never found, and refused by name with the scanner's reason.
    let found = hits(&r[6]);
    assert!(found.iter().all(|h| h.2 != "tidy-files"), "{found:?}");
    assert_eq!(r[7]["isError"], json!(true), "{}", r[7]);
    let why = first_text(&r[7]);
    assert!(why.contains("withheld by the scanner"), "{why}");
    assert!(r[8].get("error").is_some(), "{}", r[8]);

    // A bad `kind` is refused with what is allowed; the project skill is served too.
    assert_eq!(r[9]["isError"], json!(true), "{}", r[9]);
    assert!(first_text(&r[9]).contains(r#"`kind` must be "tool" or "skill""#));
    assert_eq!(hits(&r[10])[0].2, "warehouse-sql", "{}", r[10]);
}

#[test]
fn a_skill_added_changed_or_removed_while_the_gateway_runs_reaches_the_client() {
    let env = TestEnv::new();
    let skills = env.path().join("home/.claude/skills");
    copy_dir(
        &skill_fixture("good/commit-message"),
        &skills.join("commit-message"),
    );
    let config = env.write_config(true, &[]);
    let mut client = env.start(&config);
    list_server_tools(&mut client, "skills", Duration::from_secs(60));
    // Each change is announced with list_changed; once it is, the catalog shows the change.
    let mut seen = Vec::new();
    let mut after_list_changed = |client: &mut RpcClient, done: &dyn Fn(&mut RpcClient) -> bool| loop {
        let note = client.wait_notification(
            "notifications/resources/list_changed",
            Duration::from_secs(30),
            &mut seen,
            |_| true,
        );
        assert!(
            note.is_some(),
            "no resources/list_changed; saw {seen:?}; gateway log:\n{}",
            tail(&client.stderr(), 6000)
        );
        if done(client) {
            return;
        }
    };
    let release_first = |client: &mut RpcClient| {
        let found = client.call_tool(
            "gateway_search_tools",
            json!({"query": "cut a release and write the changelog", "kind": "skill"}),
        );
        hits(&found).first().map(|h| h.2.clone()) == Some("release-notes".to_string())
    };

    // Added: found by search.
    copy_dir(
        &skill_fixture("good/release-notes"),
        &skills.join("release-notes"),
    );
    after_list_changed(&mut client, &release_first);

    // Changed: the new text is served.
    let file = skills.join("commit-message/SKILL.md");
    let text = std::fs::read_to_string(&file).expect("read SKILL.md");
    let edited = text
        .replace(
            "Write a git commit message",
            "Write a short git commit message",
        )
        .replace("at most 72 characters", "at most 50 characters");
    std::fs::write(&file, &edited).expect("edit SKILL.md");
    after_list_changed(&mut client, &|client: &mut RpcClient| {
        first_text(&client.invoke("skills", "commit-message", json!({})))
            .contains("at most 50 characters")
    });

    // Removed: gone from search and refused.
    std::fs::remove_dir_all(skills.join("release-notes")).expect("remove skill");
    after_list_changed(&mut client, &|client: &mut RpcClient| {
        !release_first(client)
    });
    let gone = client.invoke("skills", "release-notes", json!({}));
    assert_eq!(gone["isError"], json!(true), "{gone}");
    assert!(client.shutdown().success());
}

#[test]
fn skills_search_ranks_skills_with_the_gateway_index() {
    let env = TestEnv::new();
    let config = scratch_home(&env);
    let out = run(
        &env,
        &config,
        &["skills", "search", "fill in a PDF form", "--json"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("--json is JSON");
    let matches = v["matches"].as_array().expect("matches");
    assert_eq!(matches[0]["tool"], "pdf-forms", "{v}");
    assert!(matches.iter().all(|m| m["kind"] == "skill"), "{v}");
    let out = run(&env, &config, &["skills", "search", "commit message"], &[]);
    let table = text(&out.stdout);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("skills/commit-message (skill)")),
        "{table}"
    );
}

#[test]
fn with_meta_tools_off_skills_are_listed_directly_and_a_new_one_is_announced() {
    let env = TestEnv::new();
    let skills = env.path().join("home/.claude/skills");
    copy_dir(
        &skill_fixture("good/commit-message"),
        &skills.join("commit-message"),
    );
    let config = env.write_config(false, &[]);
    let mut client = env.start(&config);
    let tools = crate::harness::list_tools_until(
        &mut client,
        &["skills__commit-message"],
        Duration::from_secs(60),
    );
    let tool = tools
        .iter()
        .find(|t| t["name"] == "skills__commit-message")
        .expect("listed");
    assert_eq!(tool["annotations"]["readOnlyHint"], json!(true), "{tool}");

    copy_dir(
        &skill_fixture("good/release-notes"),
        &skills.join("release-notes"),
    );
    let mut seen = Vec::new();
    loop {
        let note = client.wait_notification(
            "notifications/tools/list_changed",
            Duration::from_secs(30),
            &mut seen,
            |_| true,
        );
        assert!(note.is_some(), "no tools/list_changed; saw {seen:?}");
        if client
            .list_tools()
            .iter()
            .any(|t| t["name"] == "skills__release-notes")
        {
            break;
        }
    }
    let loaded = client.call_tool("skills__release-notes", json!({}));
    assert!(
        first_text(&loaded).contains("# Cutting a release"),
        "{loaded}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn the_rest_api_says_and_filters_the_kind_too() {
    let env = TestEnv::new();
    let config = scratch_home(&env);
    // REST callers send no `initialize`: start on a warm catalog, as the REST tests do.
    warm_catalog(&env, &config, &["skills"]);
    let served = crate::serve::Served::start(&env, &config);
    let get = |path: &str| served.http("GET", path, &[], b"");

    let r = get("/api/v1/tools?kind=skill&q=fill%20in%20a%20PDF%20form");
    assert_eq!(r.status, 200, "{}", r.body);
    let tools = r.json()["tools"].as_array().expect("tools").clone();
    assert_eq!(tools[0]["tool"], "pdf-forms", "{}", r.body);
    assert!(tools.iter().all(|t| t["kind"] == "skill"), "{}", r.body);

    let r = get("/api/v1/tools?kind=skill");
    let mut names: Vec<String> = r.json()["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["tool"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "commit-message",
            "pdf-forms",
            "release-notes",
            "warehouse-sql"
        ],
        "{}",
        r.body
    );
    let r = get("/api/v1/tools?kind=tool");
    assert_eq!(r.json()["total"], 0, "{}", r.body);

    let r = get("/api/v1/tools?kind=prompt");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("`kind` must be `tool` or `skill`"),
        "{}",
        r.body
    );
}
