//! `mcp-gateway setup` end to end against a temporary HOME holding one config file per client,
//! written from each client's documented format (comments, unknown keys, odd whitespace, stdio and
//! remote entries) plus a broken one: import → rewrite → undo restores every byte; a second run
//! changes nothing; --dry-run writes nothing; the interactive wizard driven through a real
//! pseudo-terminal (tmux).

use std::collections::BTreeMap;
use std::io::{BufRead, Cursor};
use std::path::{Path, PathBuf};

use mcp_gateway::cli::setup::{ExportArgs, SetupAction, SetupArgs, SetupEnv, UndoArgs, run_with};
use mcp_gateway::clients::{self, HostEnv, HostOs};
use mcp_gateway::docedit as doc;
use mcp_gateway::output::Style;
use mcp_gateway::state::Paths;

const FIXTURES: &[(&str, &str)] = &[
    ("claude-code", "claude_code.claude.json"),
    ("claude-desktop", "claude_desktop.json"),
    ("cursor", "cursor.mcp.json"),
    ("vscode", "vscode.mcp.json"),
    ("windsurf", "windsurf.mcp_config.json"),
    ("zed", "zed.settings.json"),
    ("codex", "codex.config.toml"),
    ("continue", "continue.config.yaml"),
    ("cline", "cline.settings.json"),
    ("gemini", "gemini.settings.json"),
    ("goose", "goose.config.yaml"),
    ("opencode", "opencode.json"),
    ("lmstudio", "lmstudio.mcp.json"),
    ("kiro", "kiro.mcp.json"),
];

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/clients")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
    env: SetupEnv,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let env = Self::env_for(&root);
        Home {
            _dir: dir,
            root,
            env,
        }
    }

    fn env_for(root: &Path) -> SetupEnv {
        let home = root.to_path_buf();
        let host = HostEnv::from_vars(HostOs::Linux, |k| {
            (k == "HOME").then(|| home.clone().into_os_string())
        })
        .unwrap();
        let paths = Paths {
            config_dir: root.join(".config/mcp-gateway"),
            cache_dir: root.join(".cache/mcp-gateway"),
            state_dir: root.join(".local/state/mcp-gateway"),
            data_dir: root.join(".local/share/mcp-gateway"),
        };
        SetupEnv {
            host,
            paths,
            config_override: None,
            program: "mcp-gateway".into(),
            style: Style::plain(),
        }
    }

    fn path_of(&self, client: &str) -> PathBuf {
        let c = clients::by_id(client).unwrap();
        c.locations(&self.env.host, None)[0].path.clone()
    }

    fn install(&self, client: &str, fixture_name: &str) -> PathBuf {
        let p = self.path_of(client);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, fixture(fixture_name)).unwrap();
        p
    }

    fn gateway_yaml(&self) -> PathBuf {
        self.env.paths.user_config_file()
    }

    /// Every regular file under HOME except the backups, with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.starts_with(skip) {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, skip, out);
                } else {
                    out.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root, &self.env.paths.state_dir, &mut out);
        out
    }

    fn run(&self, args: SetupArgs) -> String {
        self.run_input(args, false, "")
    }

    fn run_input(&self, args: SetupArgs, interactive: bool, input: &str) -> String {
        let mut input = Cursor::new(input.as_bytes().to_vec());
        self.run_reader(args, interactive, &mut input)
    }

    /// Runs setup, expecting it to fail: (what it printed, the error).
    fn run_err(&self, args: SetupArgs) -> (String, String) {
        let mut out = Vec::new();
        let mut input = Cursor::new(Vec::new());
        let err = match run_with(&self.env, args, false, &mut input, &mut out) {
            Ok(code) => panic!(
                "setup succeeded ({code:?}): {}",
                String::from_utf8_lossy(&out)
            ),
            Err(e) => e.to_string(),
        };
        (String::from_utf8(out).unwrap(), err)
    }

    fn run_reader(&self, args: SetupArgs, interactive: bool, input: &mut dyn BufRead) -> String {
        let mut out = Vec::new();
        let code = run_with(&self.env, args, interactive, input, &mut out)
            .unwrap_or_else(|e| panic!("setup failed: {e:#}"));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            format!("{code:?}"),
            format!("{:?}", std::process::ExitCode::SUCCESS),
            "{text}"
        );
        text
    }
}

fn args() -> SetupArgs {
    SetupArgs {
        action: None,
        yes: false,
        dry_run: false,
        clients: vec![],
        project: None,
        json: false,
        fetch_model: false,
        model_from: None,
    }
}

fn yes() -> SetupArgs {
    SetupArgs {
        yes: true,
        ..args()
    }
}

fn undo() -> SetupArgs {
    SetupArgs {
        action: Some(SetupAction::Undo(UndoArgs {
            list: false,
            force: false,
            json: false,
        })),
        ..args()
    }
}

fn entry_names(home: &Home, client: &str) -> Vec<String> {
    let c = clients::by_id(client).unwrap();
    let loc = &c.locations(&home.env.host, None)[0];
    let text = std::fs::read_to_string(&loc.path).unwrap();
    doc::read_entries(&text, c.format(), &loc.section, c.shape())
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn import_rewrite_rerun_undo_for_every_client() {
    let home = Home::new();
    for (client, file) in FIXTURES {
        home.install(client, file);
    }
    let before = home.snapshot();
    assert_eq!(before.len(), FIXTURES.len());

    let out = home.run(yes());
    assert!(out.contains("Client configs found:"), "{out}");

    // gateway.yaml: every distinct server once, secrets carried over, mode 0600.
    let gw = std::fs::read_to_string(home.gateway_yaml()).unwrap();
    let backends = mcp_gateway::configedit::backends::entries(&gw).unwrap();
    let names: Vec<&str> = backends.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(backends.len(), 25, "{names:?}");
    for expected in [
        "filesystem",
        "github",
        "sentry",
        "memory",
        "time",
        "docs",
        "everything",
        "remote-sse",
        "fetch",
        "linear",
        "git",
        "legacy",
        "context7",
        "sqlite",
        "SQLite-MCP",
        "Remote-Docs",
        "brave",
        "stripe",
        "gh-remote",
        "tavily",
        "remote-tools",
        "playwright",
        "company-docs",
        "hf-mcp-server",
        "aws-docs",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        gw.contains("ghp_literalSecret123")
            && gw.contains("tvly-secret")
            && gw.contains("BSA-secret"),
        "{gw}"
    );
    assert!(
        gw.contains("\"${LOG_LEVEL:-}\""),
        "VS Code ${{env:…}} translated: {gw}"
    );
    assert!(gw.contains("\"Bearer ${CONTEXT7_TOKEN:-}\""), "{gw}");
    assert!(
        gw.contains("\"STRIPE_SECRET_KEY\": \"${STRIPE_KEY:-}\""),
        "Gemini $VAR: {gw}"
    );
    let filesystem = &backends.iter().find(|(n, _)| n == "filesystem").unwrap().1;
    assert_eq!(
        filesystem["description"],
        "imported from Claude Code, Claude Desktop"
    );
    let remote_tools = &backends
        .iter()
        .find(|(n, _)| n == "remote-tools")
        .unwrap()
        .1;
    assert_eq!(remote_tools["enabled"], false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.gateway_yaml())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Each client is left with one `gateway` entry (Goose keeps its built-in extension).
    for (client, _) in FIXTURES {
        let names = entry_names(&home, client);
        let expected: Vec<&str> = if *client == "goose" {
            vec!["developer", "gateway"]
        } else {
            vec!["gateway"]
        };
        assert_eq!(names, expected, "{client}");
    }
    // Everything else in the files survived, comments included.
    let read = |c: &str| std::fs::read_to_string(home.path_of(c)).unwrap();
    assert!(
        read("zed").starts_with("// Zed settings\n//\n")
            && read("zed").contains("\"vim_mode\": false")
    );
    assert!(
        read("vscode").contains("// Inputs are prompted")
            && read("vscode").contains("\"perplexity-key\"")
    );
    assert!(read("codex").starts_with("# Codex CLI configuration\nmodel = \"o4-mini\"\napproval_policy = \"on-request\"   # keep asking\n"), "{}", read("codex"));
    assert!(
        read("codex").contains("[profiles.fast]")
            && read("codex").contains("[mcp_servers.gateway]")
    );
    assert!(
        read("continue").contains("# MCP servers used in agent mode\nmcpServers:\n")
            && read("continue").contains("apiKey: ${{ secrets.ANTHROPIC_API_KEY }}")
    );
    assert!(
        read("goose").contains("GOOSE_MODE: smart_approve")
            && read("goose").contains("display_name: Developer")
    );
    let claude = read("claude-code");
    assert!(claude.contains("\"numStartups\": 42") && claude.contains("\"userID\": \"0123abcd\""));
    let cc: serde_json::Value = serde_json::from_str(&claude).unwrap();
    assert_eq!(
        cc["mcpServers"]["gateway"],
        serde_json::json!({"type": "stdio", "command": "mcp-gateway", "args": []})
    );
    let keys: Vec<&String> = cc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "numStartups",
            "installMethod",
            "autoUpdates",
            "tipsHistory",
            "mcpServers",
            "projects",
            "userID"
        ]
    );
    let oc: serde_json::Value = serde_json::from_str(&read("opencode")).unwrap();
    assert_eq!(
        oc["mcp"]["gateway"],
        serde_json::json!({"type": "local", "command": ["mcp-gateway"], "enabled": true})
    );

    // A second run changes nothing.
    let after_first = home.snapshot();
    let out = home.run(yes());
    assert!(out.contains("Nothing to import"), "{out}");
    assert_eq!(home.snapshot(), after_first);

    // Undo restores every file byte for byte and removes the created gateway.yaml.
    let out = home.run(undo());
    assert!(out.contains("Undid setup run"), "{out}");
    assert_eq!(home.snapshot(), before);
}

#[test]
fn dry_run_writes_nothing_and_prints_diffs() {
    let home = Home::new();
    home.install("cursor", "cursor.mcp.json");
    home.install("codex", "codex.config.toml");
    let before = home.snapshot();
    let out = home.run(SetupArgs {
        dry_run: true,
        ..args()
    });
    assert_eq!(home.snapshot(), before);
    assert!(
        !home.env.paths.state_dir.exists(),
        "no backup dir for a dry run"
    );
    assert!(
        out.contains(&format!("--- {}", home.path_of("cursor").display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "--- /dev/null\n+++ {}",
            home.gateway_yaml().display()
        )),
        "{out}"
    );
    assert!(
        out.contains("-[mcp_servers.memory]") && out.contains("+[mcp_servers.gateway]"),
        "{out}"
    );
    assert!(out.contains("Dry run: 3 file(s) would change"), "{out}");
}

#[test]
fn broken_file_is_reported_and_left_untouched() {
    let home = Home::new();
    let broken = home.install("cursor", "broken.cursor.mcp.json");
    // Alone, a broken file is named with its error and setup fails (it used to say "Nothing to
    // import" and exit 0).
    let (out, err) = home.run_err(yes());
    assert!(out.contains("not parsed, left untouched"), "{out}");
    assert!(
        err.contains(&broken.display().to_string()) && err.contains("line"),
        "{err}"
    );
    home.install("kiro", "kiro.mcp.json");
    let (out, err) = home.run_err(yes());
    assert!(out.contains("not parsed, left untouched"), "{out}");
    assert!(err.contains(&broken.display().to_string()), "{err}");
    assert_eq!(
        std::fs::read(&broken).unwrap(),
        fixture("broken.cursor.mcp.json")
    );
    assert_eq!(entry_names(&home, "kiro"), ["gateway"]);
    let gw = std::fs::read_to_string(home.gateway_yaml()).unwrap();
    assert!(gw.contains("aws-docs:"), "{gw}");
}

#[test]
fn an_existing_gateway_entry_under_another_name_is_not_duplicated() {
    let home = Home::new();
    let p = home.path_of("cursor");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, r#"{"mcpServers": {"my-gw": {"command": "/opt/bin/mcp-gateway"}, "time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#).unwrap();
    home.run(yes());
    assert_eq!(entry_names(&home, "cursor"), ["my-gw"]);
    let gw = std::fs::read_to_string(home.gateway_yaml()).unwrap();
    assert!(gw.contains("time:") && !gw.contains("my-gw"), "{gw}");
}

#[test]
fn client_filter_limits_the_run() {
    let home = Home::new();
    home.install("cursor", "cursor.mcp.json");
    let kiro = home.install("kiro", "kiro.mcp.json");
    home.run(SetupArgs {
        clients: vec!["cursor".into()],
        ..yes()
    });
    assert_eq!(entry_names(&home, "cursor"), ["gateway"]);
    assert_eq!(std::fs::read(&kiro).unwrap(), fixture("kiro.mcp.json"));
}

#[test]
fn gateway_yaml_written_by_setup_loads() {
    let home = Home::new();
    home.install("claude-desktop", "claude_desktop.json");
    home.install("lmstudio", "lmstudio.mcp.json");
    // A literal secret with `$` in a client without expansion must arrive unchanged.
    // Cline does not expand variables (Kiro does, since its format was verified).
    let cline = home.path_of("cline");
    std::fs::create_dir_all(cline.parent().unwrap()).unwrap();
    std::fs::write(
        &cline,
        r#"{"mcpServers": {"db": {"command": "db-mcp", "env": {"PASS": "pa$$w0rd${NOT_SET}"}}}}"#,
    )
    .unwrap();
    home.run(yes());
    let cfg =
        mcp_gateway::config::load_file(&home.gateway_yaml()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&String> = cfg.backends.keys().collect();
    assert_eq!(names, ["db", "filesystem", "hf-mcp-server", "memory"]);
    match &cfg.backends["db"].transport {
        mcp_gateway::config::Transport::Stdio(spec) => {
            assert_eq!(spec.env["PASS"], "pa$$w0rd${NOT_SET}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cfg.backends["memory"].transport.kind(), "stdio");
    assert_eq!(cfg.backends["hf-mcp-server"].transport.kind(), "http");
}

#[test]
fn project_scope_uses_project_files_and_points_at_project_config() {
    let home = Home::new();
    let project = home.root.join("work/app");
    std::fs::create_dir_all(project.join(".cursor")).unwrap();
    std::fs::write(project.join(".mcp.json"), "{\n  \"mcpServers\": {\"db\": {\"command\": \"uvx\", \"args\": [\"mcp-server-sqlite\"]}}\n}\n").unwrap();
    std::fs::write(project.join(".cursor/mcp.json"), fixture("cursor.mcp.json")).unwrap();
    let user_claude = home.root.join(".claude.json");
    let key = project.to_string_lossy().into_owned();
    std::fs::write(&user_claude, serde_json::to_string_pretty(&serde_json::json!({"projects": {key.clone(): {"mcpServers": {"local-only": {"type": "stdio", "command": "local-srv", "args": []}}}}, "mcpServers": {"user-level": {"command": "u"}}})).unwrap()).unwrap();
    home.run(SetupArgs {
        project: Some(project.clone()),
        ..yes()
    });
    let gw = std::fs::read_to_string(project.join(".mcp-gateway.yaml")).unwrap();
    for b in ["db:", "time:", "docs:", "local-only:"] {
        assert!(gw.contains(b), "{b} in {gw}");
    }
    assert!(!home.gateway_yaml().exists());
    let mcp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join(".mcp.json")).unwrap()).unwrap();
    let cfg = project
        .join(".mcp-gateway.yaml")
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        mcp["mcpServers"]["gateway"]["args"],
        serde_json::json!(["--config", cfg])
    );
    let cc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&user_claude).unwrap()).unwrap();
    assert_eq!(
        cc["mcpServers"]["user-level"]["command"], "u",
        "user scope untouched"
    );
    assert!(cc["projects"][&key]["mcpServers"]["local-only"].is_null());
    assert_eq!(
        cc["projects"][&key]["mcpServers"]["gateway"]["command"],
        "mcp-gateway"
    );
}

#[test]
fn export_adds_only_the_gateway_entry() {
    let home = Home::new();
    let cursor = home.install("cursor", "cursor.mcp.json");
    std::fs::create_dir_all(home.root.join(".codex")).unwrap();
    let export = |target: &str| SetupArgs {
        action: Some(SetupAction::Export(ExportArgs {
            target: target.into(),
            project: None,
            dry_run: false,
            json: false,
        })),
        ..args()
    };
    home.run(export("all"));
    assert_eq!(entry_names(&home, "cursor"), ["time", "docs", "gateway"]);
    assert_eq!(
        entry_names(&home, "codex"),
        ["gateway"],
        "created where the client's directory exists"
    );
    assert!(
        !home.path_of("zed").exists(),
        "no file for a client that is not installed"
    );
    let snap = home.snapshot();
    let out = home.run(export("all"));
    assert!(out.contains("already has a gateway entry"), "{out}");
    assert_eq!(home.snapshot(), snap);
    home.run(undo());
    assert_eq!(std::fs::read(&cursor).unwrap(), fixture("cursor.mcp.json"));
    assert!(!home.path_of("codex").exists());
}

#[test]
fn interactive_prompts_from_a_reader() {
    let home = Home::new();
    home.install("cursor", "cursor.mcp.json");
    let before = home.snapshot();
    let out = home.run_input(args(), true, "2\nn\n");
    assert!(
        out.contains("Import which servers?") && out.contains("Nothing written."),
        "{out}"
    );
    assert_eq!(home.snapshot(), before);
}

/// Child half of the pseudo-terminal test: runs the real wizard on the terminal tmux gives it.
#[test]
#[ignore = "run by wizard_in_a_pseudo_terminal inside tmux"]
fn wizard_child() {
    let root = PathBuf::from(
        std::env::var("MCP_GATEWAY_TEST_WIZARD_HOME").expect("set by the parent test"),
    );
    let env = Home::env_for(&root);
    use std::io::IsTerminal;
    assert!(std::io::stdin().is_terminal(), "stdin must be the pty");
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let code = run_with(&env, args(), true, &mut input, &mut std::io::stdout()).unwrap();
    println!("WIZARD-EXIT {code:?}");
}

#[test]
fn wizard_in_a_pseudo_terminal() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        // A missing tool may skip the test on a developer's machine, never in CI.
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is not installed (CI is set, so this test may not skip)"
        );
        eprintln!("tmux is not installed; skipping the pseudo-terminal wizard test");
        return;
    }
    let home = Home::new();
    let cursor = home.install("cursor", "cursor.mcp.json");
    home.install("kiro", "kiro.mcp.json");
    let socket = format!("mcpgw-test-{}", std::process::id());
    let exe = std::env::current_exe().unwrap();
    let tmux = |args: &[&str]| {
        let out = std::process::Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let cmd = format!(
        "{} --exact setup::wizard_child --ignored --nocapture --test-threads=1; sleep 60",
        exe.display()
    );
    let var = format!("MCP_GATEWAY_TEST_WIZARD_HOME={}", home.root.display());
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "w",
        "-x",
        "220",
        "-y",
        "60",
        "-e",
        &var,
        &cmd,
    ]);
    let wait_for = |needle: &str| -> String {
        for _ in 0..600 {
            let screen = tmux(&["capture-pane", "-p", "-t", "w", "-S", "-200"]);
            if screen.contains(needle) {
                return screen;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let screen = tmux(&["capture-pane", "-p", "-t", "w", "-S", "-200"]);
        tmux(&["kill-server"]);
        panic!("`{needle}` never appeared:\n{screen}");
    };
    let screen = wait_for("Import which servers?");
    // Three servers: time, docs (Cursor), aws-docs (Kiro); pick the first and the third.
    assert!(
        screen.contains("1  time") && screen.contains("2  docs") && screen.contains("3  aws-docs"),
        "{screen}"
    );
    tmux(&["send-keys", "-t", "w", "1,3", "Enter"]);
    wait_for("Write these changes");
    tmux(&["send-keys", "-t", "w", "y", "Enter"]);
    // Then it offers the search model; Enter is no: nothing is downloaded.
    wait_for("Install the search model all-MiniLM-L6-v2");
    tmux(&["send-keys", "-t", "w", "Enter"]);
    let screen = wait_for("WIZARD-EXIT");
    assert!(screen.contains("Search model not installed"), "{screen}");
    assert!(!home.root.join(".local/share/mcp-gateway/models").exists());
    tmux(&["kill-server"]);
    assert!(
        screen.contains("Undo with: mcp-gateway setup undo"),
        "{screen}"
    );
    let gw = std::fs::read_to_string(home.gateway_yaml()).unwrap();
    let names: Vec<String> = mcp_gateway::configedit::backends::entries(&gw)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["time", "aws-docs"]);
    assert_eq!(
        entry_names(&home, "cursor"),
        ["docs", "gateway"],
        "the unpicked server stays in the client"
    );
    assert_eq!(entry_names(&home, "kiro"), ["gateway"]);
    assert_ne!(std::fs::read(&cursor).unwrap(), fixture("cursor.mcp.json"));
}

/// The issue's "done when": Claude Code, Cursor and Codex configs holding real servers;
/// `setup --yes` leaves each with one gateway entry, every server is reachable through the
/// gateway by the official Python SDK, and `setup undo` puts every file back exactly.
#[test]
fn python_sdk_reaches_servers_imported_by_setup() {
    // Like every test driving real servers, this one fails (never skips) without them.
    let deps = crate::harness::deps();
    let home = Home::new();
    let bin = |p: &str| deps.join(p).to_string_lossy().into_owned();
    let memory_file = home.root.join("memory.jsonl");
    let write = |client: &str, text: String| {
        let p = home.path_of(client);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    };
    write("claude-code", serde_json::to_string_pretty(&serde_json::json!({"numStartups": 3, "mcpServers": {"memory": {"type": "stdio", "command": bin("npm/node_modules/.bin/mcp-server-memory"), "args": [], "env": {"MEMORY_FILE_PATH": memory_file}}}})).unwrap());
    write("cursor", serde_json::to_string_pretty(&serde_json::json!({"mcpServers": {"everything": {"command": bin("npm/node_modules/.bin/mcp-server-everything")}}})).unwrap());
    write(
        "codex",
        format!(
            "# my codex config\nmodel = \"o3\"\n\n[mcp_servers.time]\ncommand = {:?}\nargs = [\"--local-timezone=UTC\"]\n",
            bin("py/bin/mcp-server-time")
        ),
    );
    let before = home.snapshot();
    home.run(yes());
    for client in ["claude-code", "cursor", "codex"] {
        assert_eq!(entry_names(&home, client), ["gateway"], "{client}");
    }

    let gateway = env!("CARGO_BIN_EXE_mcp-gateway");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/integration/py/invoke_through_gateway.py");
    let call = |server: &str, tool: &str, args: &str| -> serde_json::Value {
        let out = std::process::Command::new(deps.join("py/bin/python"))
            .arg(&script)
            .args([server, tool, args, "--", gateway, "--config"])
            .arg(home.gateway_yaml())
            .env("HOME", &home.root)
            .env("XDG_CACHE_HOME", home.root.join(".cache"))
            .env("XDG_STATE_HOME", home.root.join(".local/state"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "python client failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {stdout}"))
    };
    let r = call(
        "memory",
        "create_entities",
        r#"{"entities": [{"name": "gateway", "entityType": "tool", "observations": ["imported by setup"]}]}"#,
    );
    assert_eq!(r["isError"], false, "{r}");
    assert!(
        r["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "gateway_search_tools"),
        "{r}"
    );
    let r = call("memory", "read_graph", "{}");
    assert!(
        r["text"].as_str().unwrap().contains("imported by setup"),
        "{r}"
    );
    let r = call(
        "everything",
        "echo",
        r#"{"message": "through the gateway"}"#,
    );
    assert!(
        r["text"].as_str().unwrap().contains("through the gateway"),
        "{r}"
    );
    let r = call("time", "get_current_time", r#"{"timezone": "UTC"}"#);
    assert_eq!(r["isError"], false, "{r}");
    assert!(r["text"].as_str().unwrap().contains("UTC"), "{r}");

    // Undo restores the three client files exactly (ignoring what the servers and the gateway
    // wrote while running: the memory file and the catalog cache).
    home.run(undo());
    let mut after = home.snapshot();
    after.remove(&memory_file);
    after.retain(|p, _| !p.starts_with(home.root.join(".cache")));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert_eq!(after, before);
}

fn write_client(home: &Home, client: &str, text: &str) -> PathBuf {
    let p = home.path_of(client);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn loaded(home: &Home) -> mcp_gateway::config::Config {
    mcp_gateway::config::load_file(&home.gateway_yaml())
        .unwrap_or_else(|e| panic!("the gateway refuses what setup wrote: {e}"))
}

fn stdio_env(cfg: &mcp_gateway::config::Config, backend: &str) -> BTreeMap<String, String> {
    match &cfg.backends[backend].transport {
        mcp_gateway::config::Transport::Stdio(spec) => spec.env.clone(),
        other => panic!("{backend}: {other:?}"),
    }
}

/// Fault 1: client placeholders are translated (`$X`, `${KR}` → `${X:-}`, `${workspaceFolder}`
/// with --project → the directory) or the server stays in its client with the reason; the
/// written gateway.yaml loads with the real loader even with every variable unset.
#[test]
fn client_placeholders_are_translated_or_kept_and_the_result_loads() {
    let home = Home::new();
    let vscode = write_client(
        &home,
        "vscode",
        r#"{"inputs": [{"id": "tok", "type": "promptString"}], "servers": {
            "prompted": {"type": "stdio", "command": "gh-mcp", "env": {"TOKEN": "${input:tok}"}},
            "folder": {"type": "stdio", "command": "fs-mcp", "args": ["${workspaceFolder}"]},
            "plain": {"type": "stdio", "command": "plain-mcp", "env": {"LOG": "${env:MGW_UNSET_LOG}"}}}}"#,
    );
    write_client(
        &home,
        "gemini",
        r#"{"mcpServers": {"gm": {"httpUrl": "https://gm.example/mcp", "headers": {"Authorization": "Bearer $MGW_UNSET_GM_TOKEN"}}}}"#,
    );
    write_client(
        &home,
        "kiro",
        r#"{"mcpServers": {"kr": {"command": "kr-mcp", "env": {"K": "${MGW_UNSET_KR}"}}}}"#,
    );
    let out = home.run(yes());
    assert!(
        out.contains("input prompt") && out.contains("kept in VS Code"),
        "the reason is shown: {out}"
    );
    assert!(out.contains("--project"), "{out}");
    let cfg = loaded(&home);
    let names: Vec<&String> = cfg.backends.keys().collect();
    assert_eq!(names, ["gm", "kr", "plain"]);
    assert_eq!(stdio_env(&cfg, "kr")["K"], "");
    assert_eq!(stdio_env(&cfg, "plain")["LOG"], "");
    // What cannot be carried stays in VS Code next to the gateway entry.
    let mut left = entry_names(&home, "vscode");
    left.sort();
    assert_eq!(left, ["folder", "gateway", "prompted"]);
    let text = std::fs::read_to_string(&vscode).unwrap();
    assert!(text.contains("\"${input:tok}\"") && text.contains("\"inputs\""));

    // With --project, `${workspaceFolder}` is that directory.
    let project = home.root.join("work/app$1");
    std::fs::create_dir_all(project.join(".vscode")).unwrap();
    std::fs::write(
        project.join(".vscode/mcp.json"),
        r#"{"servers": {"folder": {"type": "stdio", "command": "fs-mcp", "args": ["${workspaceFolder}/data", "${userHome}"]}}}"#,
    )
    .unwrap();
    home.run(SetupArgs {
        project: Some(project.clone()),
        clients: vec!["vscode".into()],
        ..yes()
    });
    let cfg = mcp_gateway::config::load_file(&project.join(".mcp-gateway.yaml")).unwrap();
    match &cfg.backends["folder"].transport {
        mcp_gateway::config::Transport::Stdio(spec) => assert_eq!(
            spec.args,
            [
                format!("{}/data", project.display()),
                home.root.display().to_string()
            ]
        ),
        other => panic!("{other:?}"),
    }
}

/// Fault 2: `$$` in clients that expand variables is two dollars, and arrives as two.
#[test]
fn double_dollars_arrive_byte_for_byte_from_every_expanding_client() {
    let home = Home::new();
    for (client, key) in [
        ("claude-code", "mcpServers"),
        ("cursor", "mcpServers"),
        ("vscode", "servers"),
        ("windsurf", "mcpServers"),
        ("kiro", "mcpServers"),
    ] {
        let entry = serde_json::json!({"command": format!("{client}-db"), "env": {"PW": "p@$$w0rd", "PRICE": "5$"}});
        let text = serde_json::json!({ key: { "db": entry } }).to_string();
        write_client(&home, client, &text);
    }
    home.run(yes());
    let cfg = loaded(&home);
    assert_eq!(cfg.backends.len(), 5, "{:?}", cfg.backends.keys());
    for name in cfg.backends.keys() {
        let env = stdio_env(&cfg, name);
        assert_eq!(env["PW"], "p@$$w0rd", "{name}");
        assert_eq!(env["PRICE"], "5$", "{name}");
    }
}

/// Fault 5: a server whose program merely looks like ours is moved like any other, and the
/// gateway entry takes a name no remaining server has.
#[test]
fn only_our_own_entry_is_recognised_and_the_entry_name_is_free() {
    let home = Home::new();
    let cursor = write_client(
        &home,
        "cursor",
        r#"{"mcpServers": {
            "lasso": {"command": "/opt/lasso/bin/mcp-gateway.py", "args": ["--port", "1"]},
            "lasso-stdio": {"command": "/opt/lasso/bin/mcp-gateway.py"},
            "time": {"command": "uvx", "args": ["mcp-server-time"]},
            "gateway": {"command": "my-gateway-tool", "args": ["${workspaceFolder}"]}}}"#,
    );
    home.run(yes());
    let cfg = loaded(&home);
    let names: Vec<&String> = cfg.backends.keys().collect();
    assert_eq!(names, ["lasso", "lasso-stdio", "time"]);
    // The user's own `gateway` stays (its placeholder cannot be carried); ours is `mcp-gateway`.
    let mut left = entry_names(&home, "cursor");
    left.sort();
    assert_eq!(left, ["gateway", "mcp-gateway"]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cursor).unwrap()).unwrap();
    assert_eq!(v["mcpServers"]["gateway"]["command"], "my-gateway-tool");
    assert_eq!(v["mcpServers"]["mcp-gateway"]["command"], "mcp-gateway");
    // A second run recognises our entry under its new name and changes nothing.
    let before = home.snapshot();
    home.run(yes());
    assert_eq!(home.snapshot(), before);
}

/// Fault 7: enabled in any client → enabled behind the gateway; a disabled backend never
/// absorbs a server a client uses.
#[test]
fn the_enabled_merge_never_takes_a_working_server_away() {
    let home = Home::new();
    write_client(
        &home,
        "cursor",
        r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"], "disabled": true}}}"#,
    );
    write_client(
        &home,
        "claude-desktop",
        r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#,
    );
    let gw = home.gateway_yaml();
    std::fs::create_dir_all(gw.parent().unwrap()).unwrap();
    std::fs::write(
        &gw,
        "backends:\n  fetch:\n    command: uvx mcp-server-fetch\n    enabled: false\n",
    )
    .unwrap();
    write_client(
        &home,
        "kiro",
        r#"{"mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}}"#,
    );
    home.run(yes());
    let cfg = loaded(&home);
    assert!(cfg.backends["time"].enabled, "enabled in Claude Desktop");
    assert!(
        !cfg.backends["fetch"].enabled,
        "the user's own switch stays"
    );
    assert!(
        cfg.backends["fetch-2"].enabled,
        "Kiro's fetch is served: {:?}",
        cfg.backends.keys()
    );
}

/// Input for the wizard that runs `edit` when the second answer is read (the plan is on
/// screen by then): a writer racing setup.
struct EditsOnRead<'a> {
    inner: Cursor<Vec<u8>>,
    edit: Option<Box<dyn FnOnce() + 'a>>,
}
impl std::io::Read for EditsOnRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}
impl BufRead for EditsOnRead<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        // The confirmation prompt is the second read: the plan is on screen by then.
        if self.inner.position() > 0
            && let Some(edit) = self.edit.take()
        {
            edit();
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}

/// Fault 3: a writer changes the client file after the plan was printed (during the prompt):
/// setup reads it again and plans over what is there now, so the edit survives.
#[test]
fn an_edit_made_while_setup_asks_is_kept() {
    let home = Home::new();
    let claude = write_client(
        &home,
        "claude-code",
        r#"{"numStartups": 3, "mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#,
    );
    let writer = claude.clone();
    let mut input = EditsOnRead {
        inner: Cursor::new(b"all\ny\n".to_vec()),
        edit: Some(Box::new(move || {
            // What Claude Code does all the time: rewrite the file with a new counter, and
            // here the user also added a server during the prompt.
            std::fs::write(
                &writer,
                r#"{"numStartups": 4, "mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}, "added": {"command": "new-mcp"}}}"#,
            )
            .unwrap();
        })),
    };
    let out = home.run_reader(args(), true, &mut input);
    assert!(out.contains("changed while setup ran"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    assert_eq!(v["numStartups"], 4, "{v}");
    let mut names: Vec<&String> = v["mcpServers"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["added", "gateway"], "{v}");
    let cfg = loaded(&home);
    assert!(cfg.backends.contains_key("time"));
}

/// Fault 4: a run that fails part way says what it wrote, and undo restores only that.
#[test]
fn undo_after_a_partial_run_restores_only_what_it_wrote() {
    let home = Home::new();
    let cursor = write_client(
        &home,
        "cursor",
        r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#,
    );
    let codex = write_client(
        &home,
        "codex",
        "[mcp_servers.fetch]\ncommand = \"uvx\"\nargs = [\"mcp-server-fetch\"]\n",
    );
    let codex_before = std::fs::read(&codex).unwrap();
    // The atomic writer's temp name is taken (by a directory): writing Codex's file fails after
    // gateway.yaml and Cursor's file were written. (Tests run as root, so a read-only directory
    // would not stop the write.)
    let blocker = codex.parent().unwrap().join(format!(
        ".config.toml.mcp-gateway.{}.tmp",
        std::process::id()
    ));
    std::fs::create_dir(&blocker).unwrap();
    let (_, err) = home.run_err(yes());
    assert!(
        err.contains("already written") && err.contains(&cursor.display().to_string()),
        "{err}"
    );
    assert!(!err.contains(&format!("{}, ", codex.display())), "{err}");
    assert_eq!(std::fs::read(&codex).unwrap(), codex_before);
    let list = home.run(SetupArgs {
        action: Some(SetupAction::Undo(UndoArgs {
            list: true,
            force: false,
            json: true,
        })),
        ..args()
    });
    let runs: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(runs[0]["state"], "partial", "{runs}");
    let written: Vec<&serde_json::Value> = runs[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["written"] == true)
        .map(|f| &f["path"])
        .collect();
    assert_eq!(written.len(), 2, "gateway.yaml and Cursor's file: {runs}");
    std::fs::remove_dir(&blocker).unwrap();
    // The user edits Codex's file by hand; undo restores Cursor and gateway.yaml only.
    std::fs::write(&codex, "# hand edit\n").unwrap();
    home.run(undo());
    assert_eq!(
        std::fs::read_to_string(&cursor).unwrap(),
        r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#
    );
    assert!(!home.gateway_yaml().exists());
    assert_eq!(std::fs::read_to_string(&codex).unwrap(), "# hand edit\n");
}

/// Fault 8: `add` refuses a gateway.yaml it cannot read instead of replacing it.
#[test]
fn add_refuses_a_gateway_yaml_it_cannot_read() {
    let env = crate::harness::TestEnv::new();
    let user = env.user_config();
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    let bytes = b"# caf\xe9 (Latin-1)\nbackends:\n  gh:\n    command: gh-mcp\n    env:\n      TOKEN: ghp_secret\n".to_vec();
    std::fs::write(&user, &bytes).unwrap();
    let out = env.cli(&["add", "time", "--", "uvx", "mcp-server-time"]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains(&user.display().to_string()) && out.stderr.contains("UTF-8"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read(&user).unwrap(),
        bytes,
        "the file is untouched"
    );
}

/// Fault 9: eight `add` processes at once all land (every read-modify-write is locked).
#[test]
fn parallel_adds_all_land() {
    let env = crate::harness::TestEnv::new();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut cmd = std::process::Command::new(crate::harness::gateway_bin());
            cmd.args([
                "add",
                &format!("srv{i}"),
                "--",
                "uvx",
                &format!("server-{i}"),
            ]);
            env.apply(&mut cmd);
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cfg = mcp_gateway::config::load_file(&env.user_config()).unwrap();
    let names: Vec<&String> = cfg.backends.keys().collect();
    assert_eq!(
        names,
        [
            "srv0", "srv1", "srv2", "srv3", "srv4", "srv5", "srv6", "srv7"
        ]
    );
}

/// Fault 10, file formats: a Codex file with CRLF line ends and a comment block about the file
/// keeps both; a Cursor file with a UTF-8 byte order mark and a `~/.claude.json` holding half an
/// emoji (`\ud83d`, which the clients accept) are read and rewritten keeping them.
#[test]
fn crlf_bom_lone_surrogates_and_detached_comments_survive() {
    let home = Home::new();
    let codex = write_client(
        &home,
        "codex",
        "model = \"o3\"\r\n\r\n# ---- my notes about the servers below ----\r\n\r\n# fetch pages\r\n[mcp_servers.fetch]\r\ncommand = \"uvx\"\r\nargs = [\"mcp-server-fetch\"]\r\n",
    );
    let cursor = write_client(
        &home,
        "cursor",
        "\u{feff}{\n  \"mcpServers\": {\"time\": {\"command\": \"uvx\", \"args\": [\"mcp-server-time\"]}}\n}\n",
    );
    let claude = write_client(
        &home,
        "claude-code",
        r#"{"history": [{"display": "cut \ud83d here"}], "mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}}}"#,
    );
    home.run(yes());
    let cfg = loaded(&home);
    let names: Vec<&String> = cfg.backends.keys().collect();
    assert_eq!(names, ["fetch", "memory", "time"]);
    let text = std::fs::read_to_string(&codex).unwrap();
    assert!(
        text.contains("# ---- my notes about the servers below ----\r\n")
            && text.contains("[mcp_servers.gateway]\r\n")
            && !text.contains("fetch pages"),
        "{text:?}"
    );
    assert!(!text.replace("\r\n", "").contains('\n'), "{text:?}");
    let text = std::fs::read_to_string(&cursor).unwrap();
    assert!(text.starts_with('\u{feff}'), "{text:?}");
    assert_eq!(entry_names(&home, "cursor"), ["gateway"]);
    let text = std::fs::read_to_string(&claude).unwrap();
    assert!(text.contains(r#""cut \ud83d here""#), "{text}");
    assert_eq!(entry_names(&home, "claude-code"), ["gateway"]);
}

/// Fault 10: `setup export` writes through a dangling symlink (a dotfile manager's link to a
/// file not created yet) instead of replacing it, and undo leaves the link.
#[test]
fn export_writes_through_a_dangling_symlink() {
    let home = Home::new();
    let cursor = home.path_of("cursor");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    let target = home.root.join("dotfiles/cursor-mcp.json");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &cursor).unwrap();
    home.run(SetupArgs {
        action: Some(SetupAction::Export(ExportArgs {
            target: "cursor".into(),
            project: None,
            dry_run: false,
            json: false,
        })),
        ..args()
    });
    assert!(
        std::fs::symlink_metadata(&cursor)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(entry_names(&home, "cursor"), ["gateway"]);
    assert!(target.is_file());
    home.run(undo());
    assert!(
        std::fs::symlink_metadata(&cursor)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!target.exists());
}

/// Fault 10: `--dry-run` and `--json` never print a token; a 0644 gateway.yaml that receives
/// tokens from a 0600 client file becomes 0600.
#[test]
fn tokens_are_masked_and_land_only_in_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let claude = write_client(
        &home,
        "claude-code",
        r#"{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github", "--api-key", "sk-argSecret99"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_Sup3rSecretValue", "SHORT_TOKEN": "k$9"}},
            "remote": {"type": "http", "url": "https://api.example.com/mcp", "headers": {"Authorization": "Bearer tok-\"quoted\"-secret"}}}}"#,
    );
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o600)).unwrap();
    let gw = home.gateway_yaml();
    std::fs::create_dir_all(gw.parent().unwrap()).unwrap();
    std::fs::write(&gw, "# mine\nbackends: {}\n").unwrap();
    std::fs::set_permissions(&gw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let secrets = [
        "ghp_Sup3rSecretValue",
        "Sup3rSecret",
        "tok-",
        "quoted",
        "k$9",
        "k$$9",
    ];
    for args in [
        SetupArgs {
            dry_run: true,
            ..args()
        },
        SetupArgs {
            dry_run: true,
            json: true,
            ..args()
        },
    ] {
        let out = home.run(args);
        assert!(out.contains("GITHUB_PERSONAL_ACCESS_TOKEN"), "{out}");
        for s in secrets {
            assert!(!out.contains(s), "{s} shown: {out}");
        }
    }
    let out = home.run(SetupArgs {
        json: true,
        ..yes()
    });
    for s in secrets {
        assert!(!out.contains(s), "{s} shown: {out}");
    }
    let text = std::fs::read_to_string(&gw).unwrap();
    assert!(
        text.contains("ghp_Sup3rSecretValue") && text.starts_with("# mine"),
        "{text}"
    );
    let mode = std::fs::metadata(&gw).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "made private");
    assert_eq!(
        stdio_env(&loaded(&home), "github")["SHORT_TOKEN"],
        "k$9",
        "written exactly"
    );
}

/// Fault 10: `--project` never writes secrets from `~/.claude.json` (Claude Code's local scope)
/// into a project file git may commit without asking: with `--yes` the server stays in Claude
/// Code; on a terminal the offer of `${VAR}` references is taken.
#[test]
fn project_secrets_stay_out_of_a_committable_file_unless_asked() {
    let home = Home::new();
    let project = home.root.join("work/app");
    std::fs::create_dir_all(&project).unwrap();
    let git = std::process::Command::new("git")
        .arg("init")
        .arg("-q")
        .arg(&project)
        .status()
        .unwrap();
    assert!(git.success());
    std::fs::write(
        project.join(".mcp.json"),
        r#"{"mcpServers": {"db": {"command": "uvx", "args": ["mcp-server-sqlite"]}}}"#,
    )
    .unwrap();
    let key = project.to_string_lossy().into_owned();
    let claude = home.root.join(".claude.json");
    std::fs::write(
        &claude,
        serde_json::json!({"projects": {key.clone(): {"mcpServers": {"gh": {"command": "gh-mcp", "env": {"GH_TOKEN": "ghp_localScopeSecret"}}}}}}).to_string(),
    )
    .unwrap();
    let project_args = || SetupArgs {
        project: Some(project.clone()),
        ..args()
    };
    let out = home.run(SetupArgs {
        yes: true,
        ..project_args()
    });
    assert!(out.contains("Kept in their clients"), "{out}");
    let gw_path = project.join(".mcp-gateway.yaml");
    let gw = std::fs::read_to_string(&gw_path).unwrap();
    assert!(gw.contains("db:") && !gw.contains("gh:"), "{gw}");
    assert!(!gw.contains("ghp_localScopeSecret"));
    let cc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    assert_eq!(
        cc["projects"][&key]["mcpServers"]["gh"]["env"]["GH_TOKEN"],
        "ghp_localScopeSecret"
    );
    // On a terminal: select all, take the `${VAR}` offer, confirm.
    let out = home.run_input(project_args(), true, "all\ny\ny\n");
    assert!(out.contains("GH_TOKEN"), "{out}");
    let gw = std::fs::read_to_string(&gw_path).unwrap();
    assert!(
        gw.contains("\"GH_TOKEN\": \"${GH_TOKEN:-}\"") && !gw.contains("ghp_localScopeSecret"),
        "{out}\n{gw}"
    );
}

/// The issue's end goal: a scratch HOME with five clients' configs holding the odd values the
/// issue lists (`$$`, `$VAR`, `${VAR}` unset, `${env:…}`, `${userHome}`, a VS Code prompt, a
/// literal `$` in Codex, CRLF, a byte order mark, half an emoji, tool restrictions, timeouts);
/// `setup --yes` through the real binary; then the gateway loads that config, and the real
/// `everything` server behind each imported entry reports (tool `get-env`) exactly the
/// environment it had in its client, while the tools a client had switched off are not listed,
/// not found and not invokable.
#[test]
fn after_setup_the_gateway_loads_and_every_server_gets_its_exact_environment() {
    use serde_json::json;
    let deps = crate::harness::deps();
    let everything = deps
        .join("npm/node_modules/.bin/mcp-server-everything")
        .to_string_lossy()
        .into_owned();
    let env = crate::harness::TestEnv::new();
    let home = env.path().join("home");
    let write = |rel: &str, bytes: &[u8]| {
        let p = home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    write(
        ".claude.json",
        format!(
            r#"{{"numStartups": 7, "history": [{{"display": "half \ud83d"}}], "mcpServers": {{"ev-claude": {{"command": {everything:?}, "env": {{"PW": "p@$$w0rd", "REF": "${{MGW_E2E_SET}}", "DEF": "${{MGW_E2E_UNSET:-fallback}}"}}}}}}}}"#
        )
        .as_bytes(),
    );
    write(
        ".gemini/settings.json",
        format!(
            r#"{{"mcpServers": {{"ev-gemini": {{"command": {everything:?}, "env": {{"AUTH": "Bearer $MGW_E2E_SET", "LIT": "5$"}}, "excludeTools": ["echo"], "timeout": 120000}}}}}}"#
        )
        .as_bytes(),
    );
    write(
        ".codex/config.toml",
        format!("# codex\r\n[mcp_servers.ev-codex]\r\ncommand = {everything:?}\r\ndisabled_tools = [\"get-sum\"]\r\ntool_timeout_sec = 90\r\n\r\n[mcp_servers.ev-codex.env]\r\nRAW = \"a$b${{NOT}}\"\r\n").as_bytes(),
    );
    let vscode = format!(
        "\u{feff}{{\"inputs\": [], \"servers\": {{\"ev-vscode\": {{\"type\": \"stdio\", \"command\": {everything:?}, \"env\": {{\"DIR\": \"${{userHome}}/x\", \"LOG\": \"${{env:MGW_E2E_SET}}\"}}}}, \"prompted\": {{\"type\": \"stdio\", \"command\": {everything:?}, \"env\": {{\"T\": \"${{input:tok}}\"}}}}}}}}"
    );
    // VS Code's user folder is under $XDG_CONFIG_HOME, which the test env sets apart from HOME.
    let code = env.path().join("config/Code/User/mcp.json");
    std::fs::create_dir_all(code.parent().unwrap()).unwrap();
    std::fs::write(&code, vscode.as_bytes()).unwrap();
    write(
        ".kiro/settings/mcp.json",
        format!(
            r#"{{"mcpServers": {{"ev-kiro": {{"command": {everything:?}, "env": {{"K": "${{MGW_E2E_UNSET}}", "PW": "x$$y"}}, "disabledTools": ["get-tiny-image"]}}}}}}"#
        )
        .as_bytes(),
    );
    let out = env.cli(&["setup", "--yes"]).expect_code(0);
    assert!(out.stdout.contains("input prompt"), "{out:?}");
    let config = env.user_config();

    let mut cmd = env.gateway_command(&config, &[]);
    cmd.env("MGW_E2E_SET", "from the environment $$ too")
        .env_remove("MGW_E2E_UNSET");
    let mut client = crate::harness::RpcClient::spawn(cmd);
    client.initialize();
    let get_env = |client: &mut crate::harness::RpcClient, server: &str| -> serde_json::Value {
        let r = client.invoke(server, "get-env", json!({}));
        assert_ne!(r["isError"], json!(true), "{server}: {r}");
        serde_json::from_str(&crate::harness::first_text(&r)).unwrap()
    };
    let set = "from the environment $$ too";
    let e = get_env(&mut client, "ev-claude");
    assert_eq!(
        (&e["PW"], &e["REF"], &e["DEF"]),
        (&json!("p@$$w0rd"), &json!(set), &json!("fallback"))
    );
    let e = get_env(&mut client, "ev-gemini");
    assert_eq!(
        (&e["AUTH"], &e["LIT"]),
        (&json!(format!("Bearer {set}")), &json!("5$"))
    );
    let e = get_env(&mut client, "ev-codex");
    assert_eq!(e["RAW"], "a$b${NOT}");
    let e = get_env(&mut client, "ev-vscode");
    assert_eq!(
        (&e["DIR"], &e["LOG"]),
        (&json!(format!("{}/x", home.display())), &json!(set))
    );
    let e = get_env(&mut client, "ev-kiro");
    assert_eq!((&e["K"], &e["PW"]), (&json!(""), &json!("x$$y")));

    // Restrictions: not listed, not found, not invokable.
    for (server, tool) in [
        ("ev-gemini", "echo"),
        ("ev-codex", "get-sum"),
        ("ev-kiro", "get-tiny-image"),
    ] {
        let listed = client.call_tool("gateway_list_tools", json!({"server": server}));
        let text = crate::harness::first_text(&listed);
        assert!(text.contains("get-env"), "{text}");
        assert!(!text.contains(tool), "{server}/{tool} listed: {text}");
        let found = client.search(tool, 25);
        assert!(
            !found["matches"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["server"] == server && m["tool"] == tool),
            "{server}/{tool} found: {found}"
        );
        let r = client.invoke(server, tool, json!({"message": "x", "a": 1, "b": 2}));
        assert_eq!(r["isError"], json!(true), "{server}/{tool} ran: {r}");
    }
    // The same tools of the unrestricted copy are there.
    let r = client.invoke("ev-claude", "echo", json!({"message": "still here"}));
    assert!(crate::harness::first_text(&r).contains("still here"), "{r}");

    let cfg = mcp_gateway::config::load_file(&config).unwrap();
    assert_eq!(
        cfg.backends["ev-gemini"].timeout,
        std::time::Duration::from_secs(120)
    );
    assert_eq!(
        cfg.backends["ev-codex"].timeout,
        std::time::Duration::from_secs(90)
    );
    assert!(!cfg.backends.contains_key("prompted"));
    client.shutdown();
}

/// Fault 3 with a twist: during the prompt, Claude Code gains a different server under the name
/// the user picked in Cursor. The re-plan keeps the user's choice (the server, not the name).
#[test]
fn a_replan_moves_the_servers_chosen_not_their_names() {
    let home = Home::new();
    let claude = write_client(
        &home,
        "claude-code",
        r#"{"numStartups": 3, "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}}"#,
    );
    let cursor = write_client(
        &home,
        "cursor",
        r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#,
    );
    let (claude_writer, cursor_writer) = (claude.clone(), cursor.clone());
    let mut input = EditsOnRead {
        inner: Cursor::new(b"2\ny\n".to_vec()),
        edit: Some(Box::new(move || {
            std::fs::write(
                &claude_writer,
                r#"{"numStartups": 4, "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}, "time": {"command": "other-time"}}}"#,
            )
            .unwrap();
            std::fs::write(
                &cursor_writer,
                r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}, "notes": {"command": "notes-mcp"}}}"#,
            )
            .unwrap();
        })),
    };
    let out = home.run_reader(args(), true, &mut input);
    assert!(out.contains("changed while setup ran"), "{out}");
    let cfg = loaded(&home);
    let moved: Vec<String> = cfg
        .backends
        .values()
        .map(|b| match &b.transport {
            mcp_gateway::config::Transport::Stdio(s) => s.args.join(" "),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(moved, ["mcp-server-time"]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    assert_eq!(v["numStartups"], 4);
    assert_eq!(v["mcpServers"]["time"]["command"], "other-time");
    assert!(v["mcpServers"]["gateway"].is_null(), "{v}");
    assert_eq!(entry_names(&home, "cursor"), ["notes", "gateway"]);
}

/// Fault 1, the other half: when only client entries move (the servers are already in
/// gateway.yaml), the gateway.yaml they will run must load too; one that would not (a `${VAR}`
/// unset here) stops setup before any client file is touched.
#[test]
fn clients_are_never_pointed_at_a_config_that_does_not_load() {
    let home = Home::new();
    let gw = home.gateway_yaml();
    std::fs::create_dir_all(gw.parent().unwrap()).unwrap();
    std::fs::write(
        &gw,
        "backends:\n  time:\n    command: uvx mcp-server-time\n  other:\n    command: other-mcp\n    env:\n      TZ: ${MGW_NEVER_SET_IN_TESTS}\n",
    )
    .unwrap();
    let cursor = write_client(
        &home,
        "cursor",
        r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#,
    );
    let before = home.snapshot();
    let (_, err) = home.run_err(yes());
    assert!(
        err.contains("would not load") && err.contains("MGW_NEVER_SET_IN_TESTS"),
        "{err}"
    );
    assert_eq!(home.snapshot(), before, "nothing written");
    assert!(
        std::fs::read_to_string(&cursor)
            .unwrap()
            .contains("\"time\"")
    );
}

/// A copy of the test model's files with one byte of the weights changed: installing from it
/// runs the real install, which refuses it (nothing is downloaded, nothing installed).
fn tampered_model(dir: &Path) -> PathBuf {
    let deps = std::env::var_os("MCP_GATEWAY_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-deps"));
    let source = deps.join("models/all-MiniLM-L6-v2");
    let copy = dir.join("model-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in mcp_gateway::embedding::ModelSpec::default_model().files {
        let from = source.join(&f.source);
        let mut bytes = std::fs::read(&from).unwrap_or_else(|e| {
            panic!("{}: {e} (run scripts/install-test-deps.sh)", from.display())
        });
        if f.name == "config.json" {
            bytes[0] ^= 1;
        }
        std::fs::write(copy.join(&f.source), bytes).unwrap();
    }
    copy
}

#[test]
fn setup_offers_the_search_model_and_installs_it_only_on_yes() {
    let models = |home: &Home| home.root.join(".local/share/mcp-gateway/models");

    // On a terminal: asked after the import; no (the default) installs nothing.
    let home = Home::new();
    home.install("cursor", "cursor.mcp.json");
    let copy = tampered_model(&home.root);
    let with_copy = || SetupArgs {
        model_from: Some(copy.clone()),
        ..args()
    };
    let out = home.run_input(with_copy(), true, "1\ny\n\n");
    assert!(
        out.contains("Undo with: mcp-gateway setup undo")
            && out.contains("Install the search model all-MiniLM-L6-v2 (91 MB, Apache-2.0) from")
            && out.contains("Search model not installed"),
        "{out}"
    );
    assert!(!models(&home).exists());

    // A yes runs the real install from the local copy; its checksum check refuses the copy,
    // the error says so, and nothing is installed.
    let home = Home::new();
    home.install("cursor", "cursor.mcp.json");
    let copy = tampered_model(&home.root);
    let err = run_with(
        &home.env,
        SetupArgs {
            model_from: Some(copy.clone()),
            ..args()
        },
        true,
        &mut std::io::Cursor::new(b"1\ny\ny\n".to_vec()),
        &mut Vec::new(),
    )
    .expect_err("tampered copy");
    assert!(
        err.to_string()
            .contains("the search model was not installed")
            && err.to_string().contains("config.json: SHA-256 is"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(models(&home)).unwrap().count(),
        0,
        "nothing installed"
    );

    // Without a terminal: --yes imports but never installs the model on its own;
    // --fetch-model does (and is refused the same way here).
    let home = Home::new();
    home.install("cursor", "cursor.mcp.json");
    let copy = tampered_model(&home.root);
    let out = home.run(SetupArgs {
        model_from: Some(copy.clone()),
        ..yes()
    });
    assert!(out.contains("Search model not installed"), "{out}");
    assert!(!models(&home).exists());
    let (_, err) = home.run_err(SetupArgs {
        fetch_model: true,
        model_from: Some(copy),
        ..yes()
    });
    assert!(err.contains("config.json: SHA-256 is"), "{err}");
}
