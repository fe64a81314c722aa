//! The validated `auth:` and `request_log:` sections: API keys, JWT, default limits, the log.
//!
//! Owns only the shapes (parsing lives in `schema/auth.rs`). A key's secret is hashed while the
//! file is read; no type here ever holds a plaintext key, and `Debug` prints no digest either.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::scope::Grant;

/// `auth:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthConfig {
    /// `false` (the default): every HTTP caller is anonymous and unrestricted, which the listener
    /// allows only on a loopback address.
    pub enabled: bool,
    /// Keys from the config file (the keys store in the state dir adds more).
    pub api_keys: Vec<ApiKey>,
    pub jwt: Option<JwtConfig>,
    /// Default limit for callers that set none, in requests per minute; 0: unlimited.
    pub rate_limit: u32,
}

/// One API key from the config (`auth.api_keys[]`).
#[derive(Clone, PartialEq)]
pub struct ApiKey {
    pub name: String,
    /// SHA-256 of the key.
    pub sha256: [u8; 32],
    pub grant: Grant,
    /// Requests per minute; `None`: `auth.rate_limit`; `Some(0)`: unlimited.
    pub rate_limit: Option<u32>,
    /// May read the request log and use admin endpoints.
    pub admin: bool,
    /// Refused at and after this time.
    pub expires_at: Option<SystemTime>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("sha256", &"<redacted>")
            .field("grant", &self.grant)
            .field("rate_limit", &self.rate_limit)
            .field("admin", &self.admin)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `auth.jwt`.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Accepted `aud` values (at least one; a token must name one of them).
    pub audiences: Vec<String>,
    pub jwks: JwksSource,
    /// Accepted `alg` values: asymmetric only (no `none`, no HMAC).
    pub algorithms: Vec<JwtAlgorithm>,
    /// Claim naming the caller in the request log (default `sub`).
    pub subject_claim: String,
    /// Claim holding the token's scopes: a space-separated string or a list (default `scope`;
    /// `scp` is read too when this is `scope`).
    pub scope_claim: String,
    /// What each scope value grants. A token whose scopes map to nothing can call nothing.
    pub scopes: BTreeMap<String, ScopeGrant>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long a fetched JWKS is used before it is fetched again.
    pub jwks_cache: Duration,
}

/// What one JWT scope value grants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScopeGrant {
    pub grant: Grant,
    pub admin: bool,
    /// Requests per minute; `None`: `auth.rate_limit`.
    pub rate_limit: Option<u32>,
}

/// Where the verification keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum JwksSource {
    /// `jwks_uri`: fetched over HTTP(S), cached, refetched on an unknown `kid`.
    Url(String),
    /// `jwks_file`: read at start and on an unknown `kid`.
    File(PathBuf),
}

/// A JWT signature algorithm the gateway accepts. Only public-key algorithms exist here, so a
/// token can never be verified with a public key used as an HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JwtAlgorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl JwtAlgorithm {
    pub const ALL: &[JwtAlgorithm] = &[
        JwtAlgorithm::RS256,
        JwtAlgorithm::RS384,
        JwtAlgorithm::RS512,
        JwtAlgorithm::PS256,
        JwtAlgorithm::PS384,
        JwtAlgorithm::PS512,
        JwtAlgorithm::ES256,
        JwtAlgorithm::ES384,
        JwtAlgorithm::EdDSA,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::RS384 => "RS384",
            JwtAlgorithm::RS512 => "RS512",
            JwtAlgorithm::PS256 => "PS256",
            JwtAlgorithm::PS384 => "PS384",
            JwtAlgorithm::PS512 => "PS512",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::ES384 => "ES384",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named exactly `name` (JOSE spelling).
    pub fn parse(name: &str) -> Option<JwtAlgorithm> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }
}

/// `request_log:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLogConfig {
    pub enabled: bool,
    /// Entries kept in memory for `GET /api/v1/requests`.
    pub memory_entries: usize,
    /// Also append to `requests.jsonl` in the state dir.
    pub file: bool,
    /// Rotate the file when it would grow past this many bytes.
    pub max_file_size: u64,
    /// Rotated files kept.
    pub max_files: u32,
    pub log_arguments: bool,
    pub log_results: bool,
}

impl Default for RequestLogConfig {
    fn default() -> Self {
        RequestLogConfig {
            enabled: true,
            memory_entries: 1000,
            file: true,
            max_file_size: 10 * 1024 * 1024,
            max_files: 5,
            log_arguments: false,
            log_results: false,
        }
    }
}
