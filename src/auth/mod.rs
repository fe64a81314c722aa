//! Who is calling: API keys (config and keys store) and JWT bearer tokens → a [`Caller`].
//!
//! Owns credential parsing (`Authorization: Bearer …`, `X-API-Key`), constant-time key
//! comparison, key expiry, last-use tracking, JWT scope mapping and the resulting caller's
//! policy, admin flag and rate limit. Transport-agnostic: it takes header bytes and returns a
//! caller or an [`AuthError`] that says which `WWW-Authenticate` error applies. It never logs or
//! returns a credential, and it never decides what a tool is (see `scope`).

pub mod challenge;
pub mod jwt;
pub mod keys;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::AuthConfig;
use crate::scope::{Grant, Policy};

/// The caller name used for requests without authentication (stdio, `auth` off on loopback).
pub const LOCAL_CALLER: &str = "local";
/// Longest credential looked at; anything longer is malformed, not hashed.
pub const MAX_CREDENTIAL_LEN: usize = 8192;
/// How often the keys store is checked for changes (`keys add`/`revoke` apply within this).
const STORE_CHECK: Duration = Duration::from_secs(1);

/// How a caller was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// No authentication (stdio; HTTP with auth off, loopback only).
    Local,
    ApiKey,
    Jwt,
}

/// An authenticated (or local) caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// Key name or JWT subject; [`LOCAL_CALLER`] when unauthenticated.
    pub name: Arc<str>,
    pub kind: CallerKind,
    pub policy: Policy,
    pub admin: bool,
    /// Requests per minute; 0: unlimited.
    pub rate_limit: u32,
}

impl Caller {
    /// The caller of stdio and of an HTTP listener without auth: sees everything, unlimited.
    pub fn local() -> Caller {
        Caller {
            name: Arc::from(LOCAL_CALLER),
            kind: CallerKind::Local,
            policy: Policy::Unrestricted,
            admin: true,
            rate_limit: 0,
        }
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send `Authorization: Bearer <key or token>`")]
    Missing,
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    #[error("invalid API key")]
    InvalidKey,
    #[error("the API key has expired")]
    ExpiredKey,
    #[error("invalid token: {0}")]
    InvalidToken(jwt::JwtError),
}

impl AuthError {
    /// The RFC 6750 `error` for `WWW-Authenticate` (`None`: no credentials were sent).
    pub fn bearer_error(&self) -> Option<&'static str> {
        match self {
            AuthError::Missing => None,
            AuthError::Malformed(_) => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }
}

/// One usable API key.
#[derive(Debug, Clone)]
struct Credential {
    name: Arc<str>,
    sha256: [u8; 32],
    policy: Policy,
    admin: bool,
    rate_limit: Option<u32>,
    expires_at: Option<SystemTime>,
    from_store: bool,
}

struct StoreState {
    keys: Arc<[Credential]>,
    modified: Option<SystemTime>,
    checked: Instant,
}

/// Turns request credentials into callers.
pub struct Authenticator {
    enabled: bool,
    default_rate_limit: u32,
    config_keys: Vec<Credential>,
    store: Option<keys::KeyStore>,
    store_state: RwLock<StoreState>,
    jwt: Option<jwt::JwtVerifier>,
    jwt_scopes: HashMap<String, crate::config::ScopeGrant>,
    last_used: Mutex<HashMap<Arc<str>, SystemTime>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("enabled", &self.enabled)
            .field("config_keys", &self.config_keys.len())
            .field("jwt", &self.jwt.is_some())
            .finish_non_exhaustive()
    }
}

/// A keys-store entry that could not be used (reported, then skipped).
#[derive(Debug, thiserror::Error)]
#[error("keys store: {0}")]
pub struct StoreError(#[from] pub keys::KeyStoreError);

impl Authenticator {
    /// From the config and the keys store in `state_dir` (if any).
    pub fn new(
        config: &AuthConfig,
        state_dir: Option<PathBuf>,
    ) -> Result<Authenticator, StoreError> {
        let config_keys = config
            .api_keys
            .iter()
            .map(|k| Credential {
                name: Arc::from(k.name.as_str()),
                sha256: k.sha256,
                policy: Policy::of(vec![k.grant.clone()]),
                admin: k.admin,
                rate_limit: k.rate_limit,
                expires_at: k.expires_at,
                from_store: false,
            })
            .collect();
        let store = state_dir.map(|d| keys::KeyStore::in_dir(&d));
        let auth = Authenticator {
            enabled: config.enabled,
            default_rate_limit: config.rate_limit,
            config_keys,
            store,
            store_state: RwLock::new(StoreState {
                keys: Arc::from(Vec::new()),
                modified: None,
                checked: Instant::now(),
            }),
            jwt: config.jwt.clone().map(jwt::JwtVerifier::new),
            jwt_scopes: config
                .jwt
                .as_ref()
                .map(|j| j.scopes.clone().into_iter().collect())
                .unwrap_or_default(),
            last_used: Mutex::new(HashMap::new()),
        };
        auth.reload_store()?;
        Ok(auth)
    }

    /// Whether requests must authenticate.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Authenticates one request from its `Authorization` and `X-API-Key` header values. With
    /// auth off, everyone is [`Caller::local`].
    pub async fn authenticate(
        &self,
        authorization: Option<&[u8]>,
        x_api_key: Option<&[u8]>,
    ) -> Result<Caller, AuthError> {
        if !self.enabled {
            return Ok(Caller::local());
        }
        let token = credential(authorization, x_api_key)?;
        if looks_like_jwt(token) {
            if let Some(verifier) = &self.jwt {
                let v = verifier
                    .verify(token)
                    .await
                    .map_err(AuthError::InvalidToken)?;
                return Ok(self.jwt_caller(v));
            }
        }
        self.key_caller(token)
    }

    fn key_caller(&self, token: &str) -> Result<Caller, AuthError> {
        self.maybe_reload_store();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let store = Arc::clone(
            &self
                .store_state
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .keys,
        );
        // Compare against every key without stopping early, so timing says nothing about
        // which key (or how much of one) matched.
        let mut found: Option<&Credential> = None;
        for c in self.config_keys.iter().chain(store.iter()) {
            if bool::from(c.sha256.ct_eq(&digest)) && found.is_none() {
                found = Some(c);
            }
        }
        let c = found.ok_or(AuthError::InvalidKey)?;
        let now = SystemTime::now();
        if c.expires_at.is_some_and(|at| now >= at) {
            return Err(AuthError::ExpiredKey);
        }
        if c.from_store {
            self.last_used
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(Arc::clone(&c.name), now);
        }
        Ok(Caller {
            name: Arc::clone(&c.name),
            kind: CallerKind::ApiKey,
            policy: c.policy.clone(),
            admin: c.admin,
            rate_limit: c.rate_limit.unwrap_or(self.default_rate_limit),
        })
    }

    fn jwt_caller(&self, v: jwt::Verified) -> Caller {
        let mut grants = Vec::new();
        let mut admin = false;
        let mut rate: Option<u32> = None;
        for s in &v.scopes {
            if let Some(g) = self.jwt_scopes.get(s) {
                grants.push(g.grant.clone());
                admin |= g.admin;
                let r = g.rate_limit.unwrap_or(self.default_rate_limit);
                // The most generous scope wins (0 is unlimited).
                rate = Some(match rate {
                    None => r,
                    Some(0) => 0,
                    Some(_) if r == 0 => 0,
                    Some(x) => x.max(r),
                });
            }
        }
        Caller {
            name: Arc::from(v.subject.as_str()),
            kind: CallerKind::Jwt,
            policy: Policy::of(grants),
            admin,
            rate_limit: rate.unwrap_or(self.default_rate_limit),
        }
    }

    fn maybe_reload_store(&self) {
        let due = self
            .store_state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .checked
            .elapsed()
            >= STORE_CHECK;
        if due {
            if let Err(e) = self.reload_store() {
                tracing::warn!("{e}; keeping the keys loaded before");
            }
        }
    }

    /// Reads the keys store again if its file changed.
    pub fn reload_store(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let modified = std::fs::metadata(store.path())
            .and_then(|m| m.modified())
            .ok();
        {
            let mut st = self.store_state.write().unwrap_or_else(|e| e.into_inner());
            st.checked = Instant::now();
            if st.modified == modified && modified.is_some() {
                return Ok(());
            }
        }
        let loaded = store.load()?;
        let mut keys = Vec::with_capacity(loaded.len());
        for k in loaded {
            let (Some(sha256), Ok(allowed), Ok(denied)) = (
                k.digest(),
                crate::scope::parse_all(&k.allowed_tools),
                crate::scope::parse_all(&k.denied_tools),
            ) else {
                continue;
            };
            if self.config_keys.iter().any(|c| *c.name == *k.name) {
                tracing::warn!(
                    "keys store: `{}` is also an API key in the config; the config's key wins",
                    k.name
                );
                continue;
            }
            keys.push(Credential {
                name: Arc::from(k.name.as_str()),
                sha256,
                policy: Policy::of(vec![Grant {
                    backends: None,
                    allowed: (!allowed.is_empty()).then_some(allowed),
                    denied,
                }]),
                admin: k.admin,
                rate_limit: k.rate_limit,
                expires_at: k.expires(),
                from_store: true,
            });
        }
        let mut st = self.store_state.write().unwrap_or_else(|e| e.into_inner());
        st.keys = keys.into();
        st.modified = modified;
        Ok(())
    }

    /// Writes the last-use times gathered since the previous call into the keys store (call it
    /// now and then, e.g. once a minute, and at shutdown).
    pub fn flush_last_used(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let uses: Vec<(String, SystemTime)> = self
            .last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(k, t)| (k.to_string(), t))
            .collect();
        store.record_use(&uses)?;
        Ok(())
    }
}

/// The credential from `Authorization: Bearer …` or `X-API-Key: …` (not both, unless equal).
fn credential<'a>(
    authorization: Option<&'a [u8]>,
    x_api_key: Option<&'a [u8]>,
) -> Result<&'a str, AuthError> {
    let bearer = match authorization {
        None => None,
        Some(raw) => {
            let text = header_text(raw)?;
            let (scheme, rest) = text.split_once(' ').ok_or(AuthError::Malformed(
                "expected `Authorization: Bearer <credential>`",
            ))?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(AuthError::Malformed(
                    "only the `Bearer` scheme is accepted in `Authorization`",
                ));
            }
            Some(token_text(rest)?)
        }
    };
    let api_key = match x_api_key {
        None => None,
        Some(raw) => Some(token_text(header_text(raw)?)?),
    };
    match (bearer, api_key) {
        (Some(a), Some(b)) if a != b => Err(AuthError::Malformed(
            "`Authorization` and `X-API-Key` carry different credentials",
        )),
        (Some(t), _) | (None, Some(t)) => Ok(t),
        (None, None) => Err(AuthError::Missing),
    }
}

fn header_text(raw: &[u8]) -> Result<&str, AuthError> {
    if raw.len() > MAX_CREDENTIAL_LEN {
        return Err(AuthError::Malformed("the credential is too long"));
    }
    std::str::from_utf8(raw).map_err(|_| AuthError::Malformed("the header is not valid text"))
}

/// A credential: non-empty, no whitespace or control characters anywhere (a key pasted with a
/// trailing space is refused rather than silently trimmed into a different secret).
fn token_text(text: &str) -> Result<&str, AuthError> {
    if text.is_empty() {
        return Err(AuthError::Malformed("the credential is empty"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AuthError::Malformed(
            "the credential contains spaces or control characters",
        ));
    }
    Ok(text)
}

/// Three base64url segments starting with a JSON object header.
fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2
}

/// `url` without userinfo, query or fragment (for messages and logs).
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}

#[cfg(test)]
mod tests;
