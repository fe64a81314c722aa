use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, JwksSource, JwtAlgorithm, JwtConfig, ScopeGrant};
use crate::scope::parse_all;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn key(name: &str, secret: &str, allowed: Option<&[&str]>) -> ApiKey {
    ApiKey {
        name: name.into(),
        sha256: Sha256::digest(secret.as_bytes()).into(),
        grant: Grant {
            backends: None,
            allowed: allowed.map(|a| parse_all(a).unwrap()),
            denied: Vec::new(),
        },
        rate_limit: None,
        admin: false,
        expires_at: None,
    }
}

fn config(keys: Vec<ApiKey>) -> AuthConfig {
    AuthConfig {
        enabled: true,
        api_keys: keys,
        jwt: None,
        rate_limit: 100,
    }
}

const READER: &str = "reader-secret-0123456789";

#[tokio::test]
async fn api_keys_by_bearer_or_header() {
    let auth = Authenticator::new(
        &config(vec![key("reader", READER, Some(&["time/*"]))]),
        None,
    )
    .unwrap();
    let bearer = format!("Bearer {READER}");
    let c = auth
        .authenticate(Some(bearer.as_bytes()), None)
        .await
        .unwrap();
    assert_eq!(&*c.name, "reader");
    assert_eq!(c.kind, CallerKind::ApiKey);
    assert_eq!(c.rate_limit, 100);
    assert!(c.policy.permits("time", "now", &[]));
    assert!(!c.policy.permits("git", "log", &[]));
    let c = auth
        .authenticate(None, Some(READER.as_bytes()))
        .await
        .unwrap();
    assert_eq!(&*c.name, "reader");
    let lower = format!("bearer {READER}");
    assert!(
        auth.authenticate(Some(lower.as_bytes()), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn bad_credentials_are_told_apart() {
    let auth = Authenticator::new(&config(vec![key("reader", READER, None)]), None).unwrap();
    type Case = (Option<Vec<u8>>, Option<Vec<u8>>, AuthError);
    let cases: Vec<Case> = vec![
        (None, None, AuthError::Missing),
        (
            Some(b"Basic abc".to_vec()),
            None,
            AuthError::Malformed("only the `Bearer` scheme is accepted in `Authorization`"),
        ),
        (
            Some(b"Bearer".to_vec()),
            None,
            AuthError::Malformed("expected `Authorization: Bearer <credential>`"),
        ),
        (
            Some(format!("Bearer {READER} ").into_bytes()),
            None,
            AuthError::Malformed("the credential contains spaces or control characters"),
        ),
        (
            Some(format!("Bearer {}", "x".repeat(MAX_CREDENTIAL_LEN)).into_bytes()),
            None,
            AuthError::Malformed("the credential is too long"),
        ),
        (
            Some(b"Bearer \xff\xfe".to_vec()),
            None,
            AuthError::Malformed("the header is not valid text"),
        ),
        (
            Some(b"Bearer wrong-key-0123456789".to_vec()),
            None,
            AuthError::InvalidKey,
        ),
        (
            Some(format!("Bearer {READER}").into_bytes()),
            Some(b"other".to_vec()),
            AuthError::Malformed("`Authorization` and `X-API-Key` carry different credentials"),
        ),
    ];
    for (a, x, want) in cases {
        let got = auth
            .authenticate(a.as_deref(), x.as_deref())
            .await
            .unwrap_err();
        assert_eq!(got, want);
        // No message ever repeats the credential.
        assert!(!got.to_string().contains(READER));
    }
    assert_eq!(AuthError::Missing.bearer_error(), None);
    assert_eq!(AuthError::InvalidKey.bearer_error(), Some("invalid_token"));
}

#[tokio::test]
async fn expired_keys_are_refused_and_auth_off_is_local() {
    let mut k = key("old", READER, None);
    k.expires_at = Some(SystemTime::now() - Duration::from_secs(1));
    let auth = Authenticator::new(&config(vec![k]), None).unwrap();
    let h = format!("Bearer {READER}");
    assert_eq!(
        auth.authenticate(Some(h.as_bytes()), None).await,
        Err(AuthError::ExpiredKey)
    );
    let off = Authenticator::new(&AuthConfig::default(), None).unwrap();
    assert_eq!(off.authenticate(None, None).await.unwrap(), Caller::local());
}

#[tokio::test]
async fn keys_store_entries_apply_and_revocation_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let store = keys::KeyStore::in_dir(dir.path());
    let (_, secret) = store
        .add(keys::NewKey {
            name: "agent".into(),
            allowed_tools: vec!["files/*".into()],
            rate_limit: Some(5),
            ..keys::NewKey::default()
        })
        .unwrap();
    let auth = Authenticator::new(&config(Vec::new()), Some(dir.path().to_path_buf())).unwrap();
    let h = format!("Bearer {secret}");
    let c = auth.authenticate(Some(h.as_bytes()), None).await.unwrap();
    assert_eq!((&*c.name, c.rate_limit), ("agent", 5));
    assert!(c.policy.permits("files", "read", &[]));
    assert!(!c.policy.permits("time", "now", &[]));
    auth.flush_last_used().unwrap();
    assert!(store.load().unwrap()[0].last_used_at.is_some());
    store.revoke("agent").unwrap();
    auth.reload_store().unwrap();
    assert_eq!(
        auth.authenticate(Some(h.as_bytes()), None).await,
        Err(AuthError::InvalidKey)
    );
}

// ---- JWT ------------------------------------------------------------------------------------

struct Signer {
    kid: String,
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn ec_signer(kid: &str) -> Signer {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    assert_eq!(point.len(), 65);
    Signer {
        kid: kid.into(),
        pkcs8: doc.as_ref().to_vec(),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                    "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])}),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(over: Value) -> Value {
    let mut c = json!({"iss": "https://idp.test", "aud": "mcp-gateway", "sub": "alice",
                       "exp": now() + 300, "scope": "tools:time other"});
    for (k, v) in over.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn mint(s: &Signer, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(s.kid.clone());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&s.pkcs8)).unwrap()
}

fn write_jwks(path: &std::path::Path, signers: &[&Signer]) {
    let keys: Vec<Value> = signers.iter().map(|s| s.jwk.clone()).collect();
    std::fs::write(path, json!({"keys": keys}).to_string()).unwrap();
}

fn jwt_auth(jwks: &std::path::Path) -> Authenticator {
    let mut scopes = BTreeMap::new();
    scopes.insert(
        "tools:time".to_string(),
        ScopeGrant {
            grant: Grant {
                backends: None,
                allowed: Some(parse_all(&["time/*"]).unwrap()),
                denied: Vec::new(),
            },
            admin: false,
            rate_limit: Some(7),
        },
    );
    let cfg = AuthConfig {
        enabled: true,
        api_keys: Vec::new(),
        jwt: Some(JwtConfig {
            issuer: "https://idp.test".into(),
            audiences: vec!["mcp-gateway".into()],
            jwks: JwksSource::File(jwks.to_path_buf()),
            algorithms: vec![JwtAlgorithm::ES256, JwtAlgorithm::RS256],
            subject_claim: "sub".into(),
            scope_claim: "scope".into(),
            scopes,
            leeway: Duration::ZERO,
            jwks_cache: Duration::from_secs(600),
        }),
        rate_limit: 0,
    };
    Authenticator::new(&cfg, None).unwrap()
}

async fn check(auth: &Authenticator, token: &str) -> Result<Caller, AuthError> {
    let h = format!("Bearer {token}");
    auth.authenticate(Some(h.as_bytes()), None).await
}

fn refused(r: Result<Caller, AuthError>) -> jwt::JwtError {
    match r {
        Err(AuthError::InvalidToken(e)) => e,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[tokio::test]
async fn jwt_valid_token_maps_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let s = ec_signer("k1");
    write_jwks(&jwks, &[&s]);
    let auth = jwt_auth(&jwks);
    let c = check(&auth, &mint(&s, &claims(json!({})))).await.unwrap();
    assert_eq!(
        (&*c.name, c.kind, c.rate_limit),
        ("alice", CallerKind::Jwt, 7)
    );
    assert!(c.policy.permits("time", "now", &[]));
    assert!(!c.policy.permits("git", "log", &[]));
    // A token whose scopes map to nothing is authenticated but may call nothing.
    let c = check(&auth, &mint(&s, &claims(json!({"scope": "unknown"}))))
        .await
        .unwrap();
    assert!(!c.policy.permits("time", "now", &[]));
}

#[tokio::test]
async fn jwt_claim_checks() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let s = ec_signer("k1");
    write_jwks(&jwks, &[&s]);
    let auth = jwt_auth(&jwks);
    use jwt::JwtError as E;
    for (over, want) in [
        (json!({"exp": now() - 10}), E::Expired),
        (json!({"nbf": now() + 120}), E::NotYetValid),
        (json!({"iss": "https://evil.test"}), E::Issuer),
        (json!({"aud": "someone-else"}), E::Audience),
        (json!({"exp": null}), E::MissingClaim("exp".into())),
        (json!({"sub": null}), E::MissingClaim("sub".into())),
    ] {
        let got = refused(check(&auth, &mint(&s, &claims(over.clone()))).await);
        assert_eq!(got, want, "{over}");
    }
}

#[tokio::test]
async fn jwt_forgeries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let s = ec_signer("k1");
    write_jwks(&jwks, &[&s]);
    let auth = jwt_auth(&jwks);
    let good = mint(&s, &claims(json!({})));
    let parts: Vec<&str> = good.split('.').collect();

    // Tampered payload, original signature.
    let evil = B64.encode(claims(json!({"sub": "mallory"})).to_string());
    let tampered = format!("{}.{evil}.{}", parts[0], parts[2]);
    assert_eq!(
        refused(check(&auth, &tampered).await),
        jwt::JwtError::Signature
    );

    // alg: none, no signature.
    let none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    assert!(matches!(
        refused(check(&auth, &none).await),
        jwt::JwtError::Algorithm(_) | jwt::JwtError::Malformed
    ));

    // HS256 "signed" with the public key as the HMAC secret.
    let public = serde_json::to_vec(&s.jwk).unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let hs =
        jsonwebtoken::encode(&h, &claims(json!({})), &EncodingKey::from_secret(&public)).unwrap();
    assert!(matches!(
        refused(check(&auth, &hs).await),
        jwt::JwtError::Algorithm(_)
    ));

    // Signed by a key the JWKS does not hold, under the trusted kid.
    let mut other = ec_signer("k1");
    other.kid = "k1".into();
    assert_eq!(
        refused(check(&auth, &mint(&other, &claims(json!({})))).await),
        jwt::JwtError::Signature
    );
}

#[tokio::test]
async fn jwt_unknown_kid_then_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let old = ec_signer("old");
    write_jwks(&jwks, &[&old]);
    let auth = jwt_auth(&jwks);
    assert!(check(&auth, &mint(&old, &claims(json!({})))).await.is_ok());
    let new = ec_signer("new");
    // Unknown kid: refused (the JWKS is re-read and still lacks it).
    assert!(matches!(
        refused(check(&auth, &mint(&new, &claims(json!({})))).await),
        jwt::JwtError::UnknownKey(_)
    ));
    // The provider rotates: the next token with the new kid triggers a re-read and passes.
    write_jwks(&jwks, &[&new]);
    assert!(check(&auth, &mint(&new, &claims(json!({})))).await.is_ok());
    // The old key is gone after rotation.
    assert!(matches!(
        refused(check(&auth, &mint(&old, &claims(json!({})))).await),
        jwt::JwtError::UnknownKey(_)
    ));
}

fn verifier(auth: &Authenticator) -> &jwt::JwtVerifier {
    auth.jwt.as_ref().unwrap()
}

#[tokio::test]
async fn jwt_cache_answers_a_verified_token_until_exp_or_max_age() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let s = ec_signer("k1");
    write_jwks(&jwks, &[&s]);
    let mut auth = jwt_auth(&jwks);
    let token = mint(&s, &claims(json!({"exp": now() + 300})));
    let first = check(&auth, &token).await.unwrap();
    assert_eq!(verifier(&auth).checks(), 1);
    // The same token again: answered from the cache, the same caller, no signature check.
    for _ in 0..3 {
        let again = check(&auth, &token).await.unwrap();
        assert_eq!((again.name, again.rate_limit), (first.name.clone(), 7));
    }
    assert_eq!(verifier(&auth).checks(), 1);

    // 61 s later (within exp): older than the cache's max age, so verified again.
    auth.jwt.as_mut().unwrap().set_clock(|| now() + 61);
    assert!(check(&auth, &token).await.is_ok());
    assert_eq!(verifier(&auth).checks(), 2);

    // 400 s later the cached token is past its exp: refused from the cache, with no check
    // (the real clock would still accept it, so only the cache can have refused it).
    auth.jwt.as_mut().unwrap().set_clock(|| now() + 400);
    assert_eq!(refused(check(&auth, &token).await), jwt::JwtError::Expired);
    assert_eq!(verifier(&auth).checks(), 2);
}

#[tokio::test]
async fn jwt_cache_never_answers_a_tampered_token() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let s = ec_signer("k1");
    write_jwks(&jwks, &[&s]);
    let auth = jwt_auth(&jwks);
    let good = mint(&s, &claims(json!({})));
    assert!(check(&auth, &good).await.is_ok());
    assert!(check(&auth, &good).await.is_ok());
    assert_eq!(verifier(&auth).checks(), 1);
    // Same header and signature, another payload: another hash, so verified, and refused.
    let parts: Vec<&str> = good.split('.').collect();
    let evil = B64.encode(claims(json!({"sub": "mallory"})).to_string());
    let tampered = format!("{}.{evil}.{}", parts[0], parts[2]);
    for _ in 0..2 {
        assert_eq!(
            refused(check(&auth, &tampered).await),
            jwt::JwtError::Signature
        );
    }
    assert_eq!(verifier(&auth).checks(), 3);
}

#[tokio::test]
async fn jwt_cache_is_emptied_when_the_jwks_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let old = ec_signer("old");
    write_jwks(&jwks, &[&old]);
    let auth = jwt_auth(&jwks);
    let old_token = mint(&old, &claims(json!({})));
    assert!(check(&auth, &old_token).await.is_ok());
    assert!(check(&auth, &old_token).await.is_ok());
    assert_eq!(verifier(&auth).checks(), 1);
    // The provider drops the old key; a token with the new kid makes the gateway re-read it.
    let new = ec_signer("new");
    write_jwks(&jwks, &[&new]);
    assert!(check(&auth, &mint(&new, &claims(json!({})))).await.is_ok());
    // The old token, cached a moment ago, is refused: the re-read emptied the cache.
    assert!(matches!(
        refused(check(&auth, &old_token).await),
        jwt::JwtError::UnknownKey(_)
    ));
}
