//! Per-request cost of authentication, the scope check and the rate limit (`cargo bench --bench
//! auth`), the work the HTTP listener adds in front of a call when `auth.enabled` is on.
//!
//! Measures, per request: an API key from `Authorization: Bearer …` checked against 100
//! configured keys (SHA-256 plus constant-time comparison with each) and a keys store; a
//! `Policy::permits` over a scoped grant; a `RateLimiter::check` with a 100,000/min limit; and the
//! same with a JWT (ES256, cached JWKS). Prints p50/p99 in µs. A measurement, not a test: without
//! `--bench` (as `cargo test --all-targets` runs it) it only does a short smoke run.

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
    println!("({rounds} requests each: authenticate + scope check + rate limit, one thread)");
}
