//! Per-request cost of authentication, the scope check and the rate limit (`cargo bench --bench
//! auth`), the work the HTTP listener adds in front of a call when `auth.enabled` is on.
//!
//! Measures, per request: an API key from `Authorization: Bearer …` checked against 100
//! configured keys (SHA-256 plus constant-time comparison with each) and a keys store; a
//! `Policy::permits` over a scoped grant; a `RateLimiter::check` with a 100,000/min limit; and the
//! same with a JWT (ES256, cached JWKS). Prints p50/p99 in µs.
//!
//! Then over HTTP, through the real listener (`front::http::router` on a loopback port, a
//! keep-alive HTTP/1.1 client): `GET /api/v1/servers` with auth off vs on (the whole added cost
//! of authentication, scope filtering and the rate limit, as a client sees it), and a tool call
//! (`fake/echo`, `tests/fixtures/fake_backend.py`) through REST `POST /api/v1/tools/call` vs
//! `/mcp` (`gateway_invoke`, 2026-07-28 era). A measurement, not a test: without `--bench` (as
//! `cargo test --all-targets` runs it) it only does a short smoke run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use mcp_gateway::auth::Authenticator;
use mcp_gateway::config::{ApiKey, AuthConfig, JwksSource, JwtAlgorithm, JwtConfig, ScopeGrant};
use mcp_gateway::ratelimit::RateLimiter;
use mcp_gateway::scope::{Grant, parse_all};
use serde_json::json;
use sha2::{Digest, Sha256};

fn grant() -> Grant {
    Grant {
        backends: None,
        allowed: Some(parse_all(&["time/*", "search_*", "github/get_*", "@readonly"]).unwrap()),
        denied: parse_all(&["*/delete_*"]).unwrap(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 200_000 } else { 200 };
    let dir = tempfile::tempdir().unwrap();

    // 100 config keys; the caller holds the last one (worst case for a linear scan).
    let keys: Vec<ApiKey> = (0..100)
        .map(|i| ApiKey {
            name: format!("key{i}"),
            sha256: Sha256::digest(format!("secret-key-number-{i:04}").as_bytes()).into(),
            grant: grant(),
            rate_limit: Some(100_000),
            admin: false,
            expires_at: None,
        })
        .collect();

    // ES256 signer and a JWKS file.
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "alg": "ES256",
                         "x": b64.encode(&point[1..33]), "y": b64.encode(&point[33..])}]})
        .to_string(),
    )
    .unwrap();
    let mut scopes = BTreeMap::new();
    scopes.insert(
        "mcp:read".to_string(),
        ScopeGrant {
            grant: grant(),
            admin: false,
            rate_limit: Some(100_000),
        },
    );
    let config = AuthConfig {
        enabled: true,
        api_keys: keys,
        jwt: Some(JwtConfig {
            issuer: "https://idp".into(),
            audiences: vec!["gw".into()],
            jwks: JwksSource::File(jwks),
            algorithms: vec![JwtAlgorithm::ES256],
            subject_claim: "sub".into(),
            scope_claim: "scope".into(),
            scopes,
            leeway: Duration::from_secs(30),
            jwks_cache: Duration::from_secs(3600),
        }),
        rate_limit: 0,
    };
    let auth = Authenticator::new(&config, Some(dir.path().to_path_buf())).unwrap();
    let limiter = RateLimiter::new();
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k".into());
    let token = jsonwebtoken::encode(
        &header,
        &json!({"iss": "https://idp", "aud": "gw", "sub": "alice", "exp": exp, "scope": "mcp:read"}),
        &jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
    )
    .unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tags = vec!["readonly".to_string()];
    let mut report = String::new();
    for (label, credential) in [
        (
            "API key (100 keys configured)",
            "Bearer secret-key-number-0099".to_string(),
        ),
        ("JWT ES256 (cached JWKS)", format!("Bearer {token}")),
    ] {
        let mut samples = Vec::with_capacity(rounds);
        runtime.block_on(async {
            for i in 0..rounds {
                let tool = if i % 2 == 0 { "get_time" } else { "delete_x" };
                let t = Instant::now();
                let caller = auth
                    .authenticate(Some(credential.as_bytes()), None)
                    .await
                    .unwrap();
                let permitted = caller.policy.permits("time", tool, &tags);
                let decision = limiter.check(&caller.name, caller.rate_limit);
                samples.push(t.elapsed());
                std::hint::black_box((permitted, decision));
            }
        });
        samples.sort();
        report.push_str(&format!(
            "| {label} | {:.1} | {:.1} |\n",
            percentile(&samples, 0.5),
            percentile(&samples, 0.99)
        ));
    }
    println!("| credential | p50 µs | p99 µs |\n|---|---|---|\n{report}");
    println!("({rounds} requests each: authenticate + scope check + rate limit, one thread)\n");
    println!("{}", http_section(if full { 2000 } else { 20 }));
}

/// SHA-256 hex of a key (for `key_sha256` in the benchmark's configs).
fn sha_hex(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A config with the fake backend and, when `auth`, 100 keys (the caller holds the last one,
/// with a scope and a 100,000/min limit, so every check runs).
fn http_config(dir: &std::path::Path, auth: bool) -> mcp_gateway::config::Config {
    let fake =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_backend.py");
    let mut yaml = String::new();
    if auth {
        yaml.push_str("auth:\n  enabled: true\n  api_keys:\n");
        for i in 0..100 {
            yaml.push_str(&format!(
                "    - name: key{i}\n      key_sha256: {}\n      allowed_tools: [\"fake/*\", \"time/*\"]\n      denied_tools: [\"*/delete_*\"]\n      rate_limit: 100000\n",
                sha_hex(&format!("secret-key-number-{i:04}"))
            ));
        }
    }
    yaml.push_str(&format!(
        "backends:\n  fake:\n    command: python3\n    args: [\"{}\"]\n",
        fake.display()
    ));
    let file = dir.join(if auth { "on.yaml" } else { "off.yaml" });
    std::fs::write(&file, yaml).unwrap();
    mcp_gateway::config::load_file(&file).unwrap()
}

/// Starts a listener for `config` on a loopback port; returns its address.
async fn listen(config: mcp_gateway::config::Config) -> std::net::SocketAddr {
    use mcp_gateway::front::http::{self, App, Options, auth::Gatekeeper};
    let options = Options::from_config(&config.server);
    let keeper = Gatekeeper::new(Authenticator::new(&config.auth, None).unwrap(), None, None);
    let gateway = mcp_gateway::gateway::Gateway::start(config, None).unwrap();
    let app = App::new(gateway, keeper, options);
    let router = http::router(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(http::run(
        app,
        listener,
        router,
        tokio_util::sync::CancellationToken::new(),
    ));
    addr
}

/// A keep-alive HTTP/1.1 client that reads `Content-Length` bodies.
struct Client {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Client {
    fn connect(addr: std::net::SocketAddr) -> Client {
        let s = std::net::TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            reader: std::io::BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// Sends one request; returns the status and body.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        use std::io::{BufRead, Read, Write};
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        self.writer.write_all(req.as_bytes()).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut len = None;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = Some(v.trim().parse::<usize>().unwrap());
            }
        }
        let mut buf = vec![0; len.expect("a Content-Length answer")];
        self.reader.read_exact(&mut buf).unwrap();
        (status, String::from_utf8(buf).unwrap())
    }
}

fn measure(rounds: usize, mut one: impl FnMut()) -> (f64, f64) {
    for _ in 0..rounds.min(50) {
        one();
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        one();
        samples.push(t.elapsed());
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn http_section(rounds: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let off = runtime.block_on(listen(http_config(dir.path(), false)));
    let on = runtime.block_on(listen(http_config(dir.path(), true)));
    let key = "Bearer secret-key-number-0099";
    let mut report =
        String::from("| request (HTTP, keep-alive) | p50 µs | p99 µs |\n|---|---|---|\n");
    let mut row = |label: &str, (p50, p99): (f64, f64)| {
        report.push_str(&format!("| {label} | {p50:.1} | {p99:.1} |\n"));
        p50
    };
    let mut c = Client::connect(off);
    let base = row(
        "GET /api/v1/servers, auth off",
        measure(rounds, || {
            assert_eq!(c.send("GET", "/api/v1/servers", &[], "").0, 200);
        }),
    );
    let mut c = Client::connect(on);
    let authed = row(
        "GET /api/v1/servers, auth on (API key, 100 keys, scope, rate limit)",
        measure(rounds, || {
            assert_eq!(
                c.send("GET", "/api/v1/servers", &[("Authorization", key)], "")
                    .0,
                200
            );
        }),
    );
    let rest_body = r#"{"tool": "echo", "server": "fake", "arguments": {"text": "hi"}}"#;
    let mcp_body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "gateway_invoke", "arguments": {"server": "fake", "tool": "echo", "arguments": {"text": "hi"}},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let mcp_headers = [
        ("Authorization", key),
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "gateway_invoke"),
    ];
    let rest = row(
        "POST /api/v1/tools/call fake/echo, auth on",
        measure(rounds, || {
            let (status, body) = c.send(
                "POST",
                "/api/v1/tools/call",
                &[("Authorization", key), ("Content-Type", "application/json")],
                rest_body,
            );
            assert_eq!(status, 200, "{body}");
        }),
    );
    let mcp = row(
        "POST /mcp tools/call gateway_invoke fake/echo (2026-07-28), auth on",
        measure(rounds, || {
            let (status, body) = c.send("POST", "/mcp", &mcp_headers, &mcp_body);
            assert!(status == 200 && body.contains("\"hi\""), "{status} {body}");
        }),
    );
    report.push_str(&format!(
        "\nauth added per request (p50): {:.1} µs; REST tools/call minus /mcp tools/call (p50): {:.1} µs ({rounds} requests each, one client)\n",
        authed - base,
        rest - mcp
    ));
    runtime.shutdown_timeout(Duration::from_secs(1));
    report
}
