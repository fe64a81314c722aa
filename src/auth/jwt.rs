//! JWT bearer tokens: signature, algorithm, issuer, audience and time checks, keys from a JWKS.
//!
//! Owns the verification rules and the JWKS cache. Only public-key algorithms from the config's
//! allow-list are accepted (never `none`, never HMAC), a key is used only with the algorithm
//! family and curve it is for (and only with its own `alg` when the JWK names one), and `exp`,
//! `iss` and `aud` are required. Keys come from a local file or an HTTPS URL: fetched with a
//! timeout and a body cap, no cross-origin redirects, cached for `jwks_cache`, and fetched again
//! when a token names an unknown `kid` (at most [`REFRESHES_PER_MINUTE`] times a minute, so
//! forged `kid`s cannot make the gateway hammer the identity provider). It never decides what a
//! scope grants (that is `auth`'s job) and never logs a token.
//!
//! Verified tokens are cached ([`TOKEN_CACHE_ENTRIES`] at most) under the SHA-256 of the whole
//! token — the token itself is never stored. An entry answers only while `nbf ≤ now < exp` and
//! for at most [`TOKEN_CACHE_MAX_AGE`] after its verification; a cached token past `exp` plus the
//! leeway is refused without another signature check. Every JWKS (re)load empties the cache, so a
//! rotated-out key stops a token at once.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{JwksSource, JwtAlgorithm, JwtConfig};
use crate::ratelimit::RateLimiter;

/// Largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Fetches of the JWKS caused by unknown `kid`s, per minute.
pub const REFRESHES_PER_MINUTE: u32 = 6;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Verified tokens kept; the oldest is dropped when a new one would exceed this.
pub const TOKEN_CACHE_ENTRIES: usize = 10_000;
/// How long a verified token is answered from the cache before it is verified again (so config
/// or JWKS changes take effect even for a token within its `exp`).
pub const TOKEN_CACHE_MAX_AGE: Duration = Duration::from_secs(60);

/// Why a token was refused. The text never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm `{0}` is not accepted")]
    Algorithm(String),
    #[error("no key in the JWKS matches the token (kid {0})")]
    UnknownKey(String),
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's issuer is not accepted")]
    Issuer,
    #[error("the token's audience is not accepted")]
    Audience,
    #[error("the token lacks the required claim `{0}`")]
    MissingClaim(String),
    #[error("the token's claim `{0}` has the wrong type")]
    ClaimFormat(String),
    #[error("the signing keys are unavailable: {0}")]
    Keys(String),
}

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The subject claim (the caller's name in the request log).
    pub subject: String,
    /// The scope values the token carries.
    pub scopes: Vec<String>,
}

/// A verified token with its `exp` and `nbf` claims.
type Checked = (Verified, Option<u64>, Option<u64>);

struct Key {
    kid: Option<String>,
    /// The JWK's own `alg`, if it names one.
    alg: Option<Algorithm>,
    /// Algorithms this key can verify (family and curve).
    fits: fn(Algorithm) -> bool,
    key: DecodingKey,
}

#[derive(Default)]
struct Cache {
    keys: Vec<Key>,
    fetched: Option<Instant>,
}

/// A verified token's result and the times that bound its reuse (Unix seconds).
struct Entry {
    verified: Verified,
    exp: u64,
    nbf: Option<u64>,
    stored: u64,
}

/// Verified tokens by the SHA-256 of the token.
#[derive(Default)]
struct Tokens {
    entries: HashMap<[u8; 32], Entry>,
    /// Insertion order, oldest first; a digest stored again appears twice (only the entry's own
    /// `stored` time removes it).
    order: VecDeque<([u8; 32], u64)>,
    /// Bumped at every JWKS load: a verification that began with older keys is not stored.
    generation: u64,
}

/// What the cache says about a token.
enum Cached {
    Valid(Verified),
    Expired,
    Miss,
}

impl Tokens {
    fn lookup(&self, digest: &[u8; 32], now: u64, leeway: u64) -> Cached {
        let Some(e) = self.entries.get(digest) else {
            return Cached::Miss;
        };
        if now > e.exp.saturating_add(leeway) {
            return Cached::Expired;
        }
        let fresh = now >= e.stored && now - e.stored < TOKEN_CACHE_MAX_AGE.as_secs();
        if now < e.exp && e.nbf.is_none_or(|nbf| now >= nbf) && fresh {
            Cached::Valid(e.verified.clone())
        } else {
            // Within the leeway, before `nbf`, or too old: the full check decides.
            Cached::Miss
        }
    }

    fn insert(&mut self, digest: [u8; 32], entry: Entry) {
        let stored = entry.stored;
        self.entries.insert(digest, entry);
        self.order.push_back((digest, stored));
        while self.entries.len() > TOKEN_CACHE_ENTRIES || self.order.len() > 2 * TOKEN_CACHE_ENTRIES
        {
            let Some((d, at)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&d).is_some_and(|e| e.stored == at) {
                self.entries.remove(&d);
            }
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.generation += 1;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Verifies tokens for one `auth.jwt` config.
pub struct JwtVerifier {
    config: JwtConfig,
    algorithms: Vec<Algorithm>,
    cache: RwLock<Cache>,
    tokens: Mutex<Tokens>,
    /// Unix seconds, for the token cache's time checks (a fixed offset in tests).
    clock: fn() -> u64,
    refresh: tokio::sync::Mutex<()>,
    refreshes: RateLimiter,
    client: reqwest::Client,
    /// Signature checks made (tests count them to see cache hits).
    #[cfg(test)]
    checks: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

fn algorithm(a: JwtAlgorithm) -> Algorithm {
    match a {
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::RS384 => Algorithm::RS384,
        JwtAlgorithm::RS512 => Algorithm::RS512,
        JwtAlgorithm::PS256 => Algorithm::PS256,
        JwtAlgorithm::PS384 => Algorithm::PS384,
        JwtAlgorithm::PS512 => Algorithm::PS512,
        JwtAlgorithm::ES256 => Algorithm::ES256,
        JwtAlgorithm::ES384 => Algorithm::ES384,
        JwtAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

impl JwtVerifier {
    pub fn new(config: JwtConfig) -> JwtVerifier {
        let algorithms = config.algorithms.iter().copied().map(algorithm).collect();
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            // No redirects: a JWKS that moves is a config change, and a redirect to another
            // origin must never choose our keys.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        JwtVerifier {
            config,
            algorithms,
            cache: RwLock::new(Cache::default()),
            tokens: Mutex::new(Tokens::default()),
            clock: unix_now,
            refresh: tokio::sync::Mutex::new(()),
            refreshes: RateLimiter::new(),
            client,
            #[cfg(test)]
            checks: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Signature checks made so far.
    #[cfg(test)]
    pub(crate) fn checks(&self) -> usize {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Replaces the clock of the token cache.
    #[cfg(test)]
    pub(crate) fn set_clock(&mut self, clock: fn() -> u64) {
        self.clock = clock;
    }

    /// Verifies `token` and returns its subject and scopes.
    pub async fn verify(&self, token: &str) -> Result<Verified, JwtError> {
        let stale = {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            cache
                .fetched
                .is_none_or(|t| t.elapsed() >= self.config.jwks_cache)
        };
        if stale {
            // Empties the token cache too.
            self.refresh(false).await?;
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let generation = {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            match tokens.lookup(&digest, (self.clock)(), self.config.leeway.as_secs()) {
                Cached::Valid(v) => return Ok(v),
                Cached::Expired => return Err(JwtError::Expired),
                Cached::Miss => tokens.generation,
            }
        };
        let (verified, exp, nbf) = self.check(token).await?;
        if let Some(exp) = exp {
            let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            if tokens.generation == generation {
                let entry = Entry {
                    verified: verified.clone(),
                    exp,
                    nbf,
                    stored: (self.clock)(),
                };
                tokens.insert(digest, entry);
            }
        }
        Ok(verified)
    }

    /// The full check of a token, with its `exp` and `nbf` (when they are whole seconds).
    async fn check(&self, token: &str) -> Result<Checked, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidAlgorithmName => refused_algorithm(token),
                _ => JwtError::Malformed,
            }
        })?;
        if !self.algorithms.contains(&header.alg) {
            return Err(JwtError::Algorithm(format!("{:?}", header.alg)));
        }
        match self.try_keys(token, &header) {
            Err(JwtError::UnknownKey(_)) => {
                // An unknown kid may mean the provider rotated its keys: fetch once more.
                if self.refresh(true).await? {
                    self.try_keys(token, &header)
                } else {
                    Err(JwtError::UnknownKey(kid_text(&header)))
                }
            }
            other => other,
        }
    }

    fn try_keys(&self, token: &str, header: &jsonwebtoken::Header) -> Result<Checked, JwtError> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let candidates: Vec<&Key> = cache
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .filter(|k| (k.fits)(header.alg) && k.alg.is_none_or(|a| a == header.alg))
            .collect();
        if candidates.is_empty() {
            return Err(JwtError::UnknownKey(kid_text(header)));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let mut last = JwtError::Signature;
        for key in candidates {
            #[cfg(test)]
            self.checks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => {
                    let exp = data.claims.get("exp").and_then(Value::as_u64);
                    let nbf = data.claims.get("nbf").and_then(Value::as_u64);
                    return Ok((self.claims(data.claims)?, exp, nbf));
                }
                Err(e) => {
                    last = map_error(&e);
                    if last != JwtError::Signature {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    fn claims(&self, claims: Map<String, Value>) -> Result<Verified, JwtError> {
        let subject = match claims.get(&self.config.subject_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(JwtError::ClaimFormat(self.config.subject_claim.clone())),
            None => return Err(JwtError::MissingClaim(self.config.subject_claim.clone())),
        };
        let mut scopes = Vec::new();
        let mut names = vec![self.config.scope_claim.as_str()];
        if self.config.scope_claim == "scope" {
            names.push("scp");
        }
        for name in names {
            match claims.get(name) {
                Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_string)),
                Some(Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::String(s) => scopes.push(s.clone()),
                            _ => return Err(JwtError::ClaimFormat(name.to_string())),
                        }
                    }
                }
                Some(_) => return Err(JwtError::ClaimFormat(name.to_string())),
                None => {}
            }
        }
        scopes.sort();
        scopes.dedup();
        Ok(Verified { subject, scopes })
    }

    /// Loads the keys again. `on_unknown_kid`: rate-limited. Returns whether keys were loaded.
    async fn refresh(&self, on_unknown_kid: bool) -> Result<bool, JwtError> {
        let started = Instant::now();
        let _guard = self.refresh.lock().await;
        // Someone else refreshed while we waited: use theirs.
        if self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .fetched
            .is_some_and(|t| t >= started)
        {
            return Ok(true);
        }
        if on_unknown_kid && !self.refreshes.check("jwks", REFRESHES_PER_MINUTE).allowed {
            return Ok(false);
        }
        let doc = match &self.config.jwks {
            JwksSource::File(path) => read_file(path).await?,
            JwksSource::Url(url) => self.fetch(url).await?,
        };
        let keys = parse_jwks(&doc)?;
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.keys = keys;
        cache.fetched = Some(Instant::now());
        // Tokens verified with the old keys are checked again with the new ones.
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(true)
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, JwtError> {
        let shown = crate::auth::display_url(url);
        let mut resp = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| JwtError::Keys(format!("GET {shown}: {}", e.without_url())))?;
        if !resp.status().is_success() {
            return Err(JwtError::Keys(format!(
                "GET {shown} answered {}",
                resp.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| JwtError::Keys(format!("GET {shown}: {}", e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(JwtError::Keys(format!(
                    "GET {shown}: the JWKS is larger than {MAX_JWKS_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn refused_algorithm(token: &str) -> JwtError {
    // The header named an algorithm the library does not know (`none`, `HS1`, …): report its
    // name (header text is not secret) so the refusal is clear.
    use base64::Engine;
    let name = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("alg").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "?".to_string());
    JwtError::Algorithm(name.chars().take(16).collect())
}

fn kid_text(header: &jsonwebtoken::Header) -> String {
    match &header.kid {
        Some(k) => format!("`{}`", k.chars().take(64).collect::<String>()),
        None => "not given".to_string(),
    }
}

async fn read_file(path: &PathBuf) -> Result<Vec<u8>, JwtError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| JwtError::Keys(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(JwtError::Keys(format!(
            "{} is larger than {MAX_JWKS_BYTES} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// The signing keys of a JWKS document; keys that are not for signatures, symmetric (`oct`) or
/// of an unknown type are skipped.
fn parse_jwks(doc: &[u8]) -> Result<Vec<Key>, JwtError> {
    let v: Value = serde_json::from_slice(doc)
        .map_err(|e| JwtError::Keys(format!("the JWKS is not JSON: {e}")))?;
    let Some(items) = v.get("keys").and_then(Value::as_array) else {
        return Err(JwtError::Keys("the JWKS has no `keys` list".to_string()));
    };
    let mut keys = Vec::new();
    for item in items {
        if item
            .get("use")
            .and_then(Value::as_str)
            .is_some_and(|u| u != "sig")
        {
            continue;
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(item.clone()) else {
            continue;
        };
        if let Some(key) = key_of(&jwk) {
            keys.push(key);
        }
    }
    Ok(keys)
}

fn key_of(jwk: &Jwk) -> Option<Key> {
    let fits: fn(Algorithm) -> bool = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => |a| {
            matches!(
                a,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            )
        },
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => |a| a == Algorithm::ES256,
            EllipticCurve::P384 => |a| a == Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => |a| a == Algorithm::EdDSA,
            _ => return None,
        },
        // Symmetric keys are never used: a JWKS is public.
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(ka) => Some(match ka {
            KeyAlgorithm::RS256 => Algorithm::RS256,
            KeyAlgorithm::RS384 => Algorithm::RS384,
            KeyAlgorithm::RS512 => Algorithm::RS512,
            KeyAlgorithm::PS256 => Algorithm::PS256,
            KeyAlgorithm::PS384 => Algorithm::PS384,
            KeyAlgorithm::PS512 => Algorithm::PS512,
            KeyAlgorithm::ES256 => Algorithm::ES256,
            KeyAlgorithm::ES384 => Algorithm::ES384,
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            _ => return None,
        }),
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        fits,
        key,
    })
}

fn map_error(e: &jsonwebtoken::errors::Error) -> JwtError {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidSignature => JwtError::Signature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::Issuer,
        ErrorKind::InvalidAudience => JwtError::Audience,
        ErrorKind::MissingRequiredClaim(c) => JwtError::MissingClaim(c.clone()),
        ErrorKind::InvalidClaimFormat(c) => JwtError::ClaimFormat(c.clone()),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            JwtError::Algorithm("mismatch".to_string())
        }
        _ => JwtError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64, stored: u64) -> Entry {
        Entry {
            verified: Verified {
                subject: format!("s{n}"),
                scopes: Vec::new(),
            },
            exp: 1_000_000,
            nbf: Some(100),
            stored,
        }
    }

    #[test]
    fn the_token_cache_is_bounded_and_drops_the_oldest() {
        let mut t = Tokens::default();
        let digest = |n: usize| -> [u8; 32] { Sha256::digest(n.to_le_bytes()).into() };
        for n in 0..TOKEN_CACHE_ENTRIES + 5 {
            t.insert(digest(n), entry(n as u64, 1000));
        }
        assert_eq!(t.entries.len(), TOKEN_CACHE_ENTRIES);
        assert!(matches!(t.lookup(&digest(4), 1000, 0), Cached::Miss));
        assert!(matches!(t.lookup(&digest(5), 1000, 0), Cached::Valid(_)));
        // A digest stored again is not dropped by its older place in the order.
        t.insert(digest(5), entry(5, 1001));
        t.insert(digest(TOKEN_CACHE_ENTRIES + 5), entry(0, 1001));
        assert!(matches!(t.lookup(&digest(5), 1001, 0), Cached::Valid(_)));
        assert!(matches!(t.lookup(&digest(6), 1001, 0), Cached::Miss));
        assert_eq!(t.entries.len(), TOKEN_CACHE_ENTRIES);
    }

    #[test]
    fn the_token_cache_checks_nbf_exp_and_age() {
        let mut t = Tokens::default();
        let d = [7u8; 32];
        t.insert(d, entry(1, 1000));
        assert!(matches!(t.lookup(&d, 99, 0), Cached::Miss)); // before nbf (clock moved back)
        assert!(matches!(t.lookup(&d, 1059, 0), Cached::Valid(_)));
        assert!(matches!(t.lookup(&d, 1060, 0), Cached::Miss)); // max age
        assert!(matches!(t.lookup(&d, 1_000_000, 30), Cached::Miss)); // at exp, within leeway
        assert!(matches!(t.lookup(&d, 1_000_031, 30), Cached::Expired));
        t.clear();
        assert!(matches!(t.lookup(&d, 1001, 0), Cached::Miss));
        assert_eq!(t.generation, 1);
    }
}
