//! `auth:` and `request_log:` nodes → [`AuthConfig`] and [`RequestLogConfig`].
//!
//! A child of `schema` so it reads keys with the same rules and error wording. Owns the keys of
//! these two sections and their checks (key strength, digest format, pattern grammar via
//! `crate::scope`, algorithm allow-list). It hashes a plaintext `key` as soon as it is read and
//! never puts a key or a digest into an error message.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::super::auth::{
    ApiKey, AuthConfig, JwksSource, JwtAlgorithm, JwtConfig, RequestLogConfig, ScopeGrant,
};
use super::super::yaml::{Node, TypedKind, Value};
use super::{ConfigError, Cx, Section};
use crate::scope::{Grant, Pattern};

const AUTH: &[&str] = &["enabled", "api_keys", "jwt", "rate_limit", "bearer_token"];
const AUTH_IGNORED: &[&str] = &[
    "public_paths",
    "client_circuit_breaker",
    "single_user",
    "dashboard_session",
];
const API_KEY: &[&str] = &[
    "name",
    "key",
    "key_sha256",
    "backends",
    "allowed_tools",
    "denied_tools",
    "rate_limit",
    "admin",
    "expires_at",
];
const JWT: &[&str] = &[
    "issuer",
    "audiences",
    "audience",
    "jwks_uri",
    "jwks_file",
    "algorithms",
    "subject_claim",
    "scope_claim",
    "scopes",
    "leeway",
    "jwks_cache",
];
const SCOPE: &[&str] = &[
    "backends",
    "allowed_tools",
    "denied_tools",
    "admin",
    "rate_limit",
];
const REQUEST_LOG: &[&str] = &[
    "enabled",
    "memory_entries",
    "file",
    "max_file_size",
    "max_files",
    "log_arguments",
    "log_results",
];

/// Shortest plaintext key accepted: a shorter one is guessable.
pub(in crate::config) const MIN_KEY_LEN: usize = 16;

impl Cx<'_> {
    pub(super) fn auth(&self, node: &Node) -> Result<AuthConfig, ConfigError> {
        // `auth: none` / `auth: false`: explicitly off.
        if let Value::Str(s) = &node.value {
            if s.trim().eq_ignore_ascii_case("none") {
                return Ok(AuthConfig::default());
            }
        }
        if let Value::Typed {
            kind: TypedKind::Bool(b),
            ..
        } = node.value
        {
            return Ok(AuthConfig {
                enabled: b,
                ..AuthConfig::default()
            });
        }
        let s = self.section(node, "auth", AUTH, AUTH_IGNORED)?;
        let mut out = AuthConfig::default();
        if let Some(n) = s.get("enabled") {
            out.enabled = self.bool(n, "auth.enabled")?;
        }
        if let Some(n) = s.get("rate_limit") {
            out.rate_limit = self.rate(n, "auth.rate_limit")?;
        }
        let mut names = BTreeSet::new();
        let mut digests = BTreeSet::new();
        if let Some(list) = s.get("api_keys") {
            for (i, item) in self.seq(list, "auth.api_keys")?.iter().enumerate() {
                let key = format!("auth.api_keys[{i}]");
                let k = self.api_key(item, &key)?;
                if !names.insert(k.name.clone()) {
                    return Err(self.invalid(
                        item.pos,
                        &format!("{key}.name"),
                        format!("`{}` names another key too; names must be unique", k.name),
                    ));
                }
                if !digests.insert(k.sha256) {
                    return Err(self.invalid(
                        item.pos,
                        &key,
                        "has the same secret as an earlier key; give each caller its own key",
                    ));
                }
                out.api_keys.push(k);
            }
        }
        if let Some(n) = s.get("bearer_token") {
            let key = "auth.bearer_token";
            let secret = self.secret(n, key)?;
            self.check_plain_key(n, key, &secret)?;
            let sha256: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
            if !names.insert("bearer".to_string()) || !digests.insert(sha256) {
                return Err(self.invalid(
                    n.pos,
                    key,
                    "clashes with an API key named `bearer` or holding the same secret",
                ));
            }
            out.api_keys.push(ApiKey {
                name: "bearer".to_string(),
                sha256,
                grant: Grant::all(),
                rate_limit: None,
                admin: false,
                expires_at: None,
            });
        }
        if let Some(n) = s.get("jwt") {
            out.jwt = Some(self.jwt(n)?);
        }
        Ok(out)
    }

    fn api_key(&self, node: &Node, key: &str) -> Result<ApiKey, ConfigError> {
        let s = self.section(node, key, API_KEY, &[])?;
        let name = match s.get("name") {
            Some(n) => {
                let name = self.nonempty_string(n, &s.child("name"))?;
                if name.trim() != name || name.chars().any(char::is_control) {
                    return Err(self.invalid(
                        n.pos,
                        &s.child("name"),
                        "has leading or trailing spaces or control characters",
                    ));
                }
                name
            }
            None => return Err(self.invalid(node.pos, key, "needs a `name`")),
        };
        let sha256 = match (s.entry("key"), s.entry("key_sha256")) {
            (Some((kk, _)), Some(_)) => {
                return Err(self.invalid(
                    kk.pos,
                    &s.child("key"),
                    "set either `key` or `key_sha256`, not both",
                ));
            }
            (Some((_, n)), None) => {
                let k = s.child("key");
                let secret = self.secret(n, &k)?;
                self.check_plain_key(n, &k, &secret)?;
                Sha256::digest(secret.as_bytes()).into()
            }
            (None, Some((_, n))) => {
                let k = s.child("key_sha256");
                let text = self.secret(n, &k)?;
                parse_digest(text.trim()).ok_or_else(|| {
                    self.invalid(
                        n.pos,
                        &k,
                        "must be 64 hexadecimal characters (optionally prefixed `sha256:`): the SHA-256 of the key, e.g. from `printf %s \"$KEY\" | sha256sum`",
                    )
                })?
            }
            (None, None) => {
                return Err(self.invalid(
                    node.pos,
                    key,
                    "needs `key` (e.g. `${READER_KEY}`) or `key_sha256`",
                ));
            }
        };
        let (grant, admin, rate_limit) = self.grant(&s)?;
        let expires_at = match s.get("expires_at") {
            Some(n) => Some(self.timestamp(n, &s.child("expires_at"))?),
            None => None,
        };
        Ok(ApiKey {
            name,
            sha256,
            grant,
            rate_limit,
            admin,
            expires_at,
        })
    }

    /// A secret value: `${VAR}` expanded, or the published format's `env:VAR`.
    fn secret(&self, node: &Node, key: &str) -> Result<String, ConfigError> {
        let text = self.string(node, key)?;
        match text.strip_prefix("env:") {
            Some(var) => self.vars.var(var).ok_or_else(|| ConfigError::MissingEnv {
                path: self.path.to_path_buf(),
                line: node.pos.line,
                column: node.pos.column,
                key: key.to_string(),
                var: var.to_string(),
            }),
            None => Ok(text),
        }
    }

    fn check_plain_key(&self, node: &Node, key: &str, secret: &str) -> Result<(), ConfigError> {
        if secret.trim() != secret {
            return Err(self.invalid(
                node.pos,
                key,
                "the key has leading or trailing whitespace (a copy-paste slip?)",
            ));
        }
        if secret.chars().count() < MIN_KEY_LEN {
            return Err(self.invalid(
                node.pos,
                key,
                format!("the key is shorter than {MIN_KEY_LEN} characters; use `mcp-gateway keys add` for a random one"),
            ));
        }
        if secret.chars().any(|c| c.is_control() || c == ' ') {
            return Err(self.invalid(
                node.pos,
                key,
                "the key contains spaces or control characters, which cannot be sent in a header",
            ));
        }
        Ok(())
    }

    /// `backends`, `allowed_tools`, `denied_tools`, `admin`, `rate_limit` of a key or scope.
    fn grant(&self, s: &Section<'_>) -> Result<(Grant, bool, Option<u32>), ConfigError> {
        let backends = match s.get("backends") {
            Some(n) => Some(self.patterns(n, &s.child("backends"), true)?),
            None => None,
        };
        let allowed = match s.get("allowed_tools") {
            Some(n) => Some(self.patterns(n, &s.child("allowed_tools"), false)?),
            None => None,
        };
        let denied = match s.get("denied_tools") {
            Some(n) => self.patterns(n, &s.child("denied_tools"), false)?,
            None => Vec::new(),
        };
        let admin = match s.get("admin") {
            Some(n) => self.bool(n, &s.child("admin"))?,
            None => false,
        };
        let rate_limit = match s.get("rate_limit") {
            Some(n) => Some(self.rate(n, &s.child("rate_limit"))?),
            None => None,
        };
        Ok((
            Grant {
                backends,
                allowed,
                denied,
            },
            admin,
            rate_limit,
        ))
    }

    fn patterns(
        &self,
        node: &Node,
        key: &str,
        servers_only: bool,
    ) -> Result<Vec<Pattern>, ConfigError> {
        self.seq(node, key)?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let k = format!("{key}[{i}]");
                let text = self.string(item, &k)?;
                let parsed = if servers_only {
                    Pattern::parse_server(&text)
                } else {
                    Pattern::parse(&text)
                };
                parsed.map_err(|e| self.invalid(item.pos, &k, e.to_string()))
            })
            .collect()
    }

    fn jwt(&self, node: &Node) -> Result<JwtConfig, ConfigError> {
        let s = self.section(node, "auth.jwt", JWT, &[])?;
        let issuer = match s.get("issuer") {
            Some(n) => self.nonempty_string(n, "auth.jwt.issuer")?,
            None => {
                return Err(self.invalid(
                    node.pos,
                    "auth.jwt",
                    "needs `issuer` (the `iss` every token must carry)",
                ));
            }
        };
        let mut audiences = Vec::new();
        for name in ["audiences", "audience"] {
            let Some(n) = s.get(name) else { continue };
            let k = s.child(name);
            match &n.value {
                Value::Seq(items) => {
                    for item in items {
                        audiences.push(self.nonempty_string(item, &k)?);
                    }
                }
                _ => audiences.push(self.nonempty_string(n, &k)?),
            }
        }
        if audiences.is_empty() {
            return Err(self.invalid(
                node.pos,
                "auth.jwt",
                "needs `audiences`: without an audience check, a token your identity provider issued for another service would be accepted here",
            ));
        }
        let jwks = match (s.entry("jwks_uri"), s.entry("jwks_file")) {
            (Some((k, _)), Some(_)) => {
                return Err(self.invalid(
                    k.pos,
                    "auth.jwt.jwks_uri",
                    "set either `jwks_uri` or `jwks_file`, not both",
                ));
            }
            (Some((_, n)), None) => {
                let url = self.nonempty_string(n, "auth.jwt.jwks_uri")?;
                super::backend::check_url(url.trim())
                    .map_err(|m| self.invalid(n.pos, "auth.jwt.jwks_uri", m))?;
                let loopback = url::Url::parse(url.trim())
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .is_some_and(|h| {
                        h == "localhost"
                            || h.trim_matches(['[', ']'])
                                .parse::<std::net::IpAddr>()
                                .is_ok_and(|ip| ip.is_loopback())
                    });
                if url.trim().starts_with("http://") && !loopback {
                    return Err(self.invalid(
                        n.pos,
                        "auth.jwt.jwks_uri",
                        "must be https:// (plain http is accepted only on loopback): keys fetched in the clear can be replaced",
                    ));
                }
                JwksSource::Url(url.trim().to_string())
            }
            (None, Some((_, n))) => JwksSource::File(self.path_value(n, "auth.jwt.jwks_file")?),
            (None, None) => {
                return Err(self.invalid(
                    node.pos,
                    "auth.jwt",
                    "needs `jwks_uri` or `jwks_file` (the keys tokens are signed with)",
                ));
            }
        };
        let algorithms = match s.get("algorithms") {
            Some(n) => {
                let mut algs = Vec::new();
                for (i, item) in self.seq(n, "auth.jwt.algorithms")?.iter().enumerate() {
                    let k = format!("auth.jwt.algorithms[{i}]");
                    let text = self.nonempty_string(item, &k)?;
                    let alg = JwtAlgorithm::parse(text.trim()).ok_or_else(|| {
                        let why = if text.trim().eq_ignore_ascii_case("none") {
                            "unsigned tokens are never accepted".to_string()
                        } else if text.trim().to_ascii_uppercase().starts_with("HS") {
                            "HMAC algorithms are not accepted: with keys from a JWKS they would let a public key serve as a shared secret".to_string()
                        } else {
                            format!("unknown algorithm `{text}`")
                        };
                        let names: Vec<_> = JwtAlgorithm::ALL.iter().map(|a| a.name()).collect();
                        self.invalid(item.pos, &k, format!("{why}; use one of {}", names.join(", ")))
                    })?;
                    if !algs.contains(&alg) {
                        algs.push(alg);
                    }
                }
                if algs.is_empty() {
                    return Err(self.invalid(
                        n.pos,
                        "auth.jwt.algorithms",
                        "must list at least one algorithm",
                    ));
                }
                algs
            }
            None => vec![JwtAlgorithm::RS256, JwtAlgorithm::ES256],
        };
        let claim = |name: &str, default: &str| -> Result<String, ConfigError> {
            match s.get(name) {
                Some(n) => self.nonempty_string(n, &s.child(name)),
                None => Ok(default.to_string()),
            }
        };
        let subject_claim = claim("subject_claim", "sub")?;
        let scope_claim = claim("scope_claim", "scope")?;
        let mut scopes = BTreeMap::new();
        if let Some(n) = s.get("scopes") {
            let entries = match &n.value {
                Value::Map(entries) => entries.as_slice(),
                Value::Null => &[],
                _ => {
                    return Err(self.expected(
                        n,
                        "auth.jwt.scopes",
                        "a mapping of scope values to grants",
                    ));
                }
            };
            for (k, v) in entries {
                let key = format!("auth.jwt.scopes.{}", k.name);
                let sec = self.section(v, &key, SCOPE, &[])?;
                let (grant, admin, rate_limit) = self.grant(&sec)?;
                scopes.insert(
                    k.name.clone(),
                    ScopeGrant {
                        grant,
                        admin,
                        rate_limit,
                    },
                );
            }
        }
        let leeway = match s.get("leeway") {
            Some(n) => self.duration_or_zero(n, "auth.jwt.leeway")?,
            None => std::time::Duration::from_secs(30),
        };
        let jwks_cache = match s.get("jwks_cache") {
            Some(n) => self.duration(n, "auth.jwt.jwks_cache")?,
            None => std::time::Duration::from_secs(600),
        };
        Ok(JwtConfig {
            issuer,
            audiences,
            jwks,
            algorithms,
            subject_claim,
            scope_claim,
            scopes,
            leeway,
            jwks_cache,
        })
    }

    pub(super) fn request_log(&self, node: &Node) -> Result<RequestLogConfig, ConfigError> {
        let s = self.section(node, "request_log", REQUEST_LOG, &[])?;
        let mut out = RequestLogConfig::default();
        let flag = |name: &str, into: &mut bool| -> Result<(), ConfigError> {
            if let Some(n) = s.get(name) {
                *into = self.bool(n, &s.child(name))?;
            }
            Ok(())
        };
        flag("enabled", &mut out.enabled)?;
        flag("file", &mut out.file)?;
        flag("log_arguments", &mut out.log_arguments)?;
        flag("log_results", &mut out.log_results)?;
        if let Some(n) = s.get("memory_entries") {
            out.memory_entries = self.uint(n, "request_log.memory_entries", 1_000_000)? as usize;
        }
        if let Some(n) = s.get("max_files") {
            out.max_files = self.uint(n, "request_log.max_files", 100)? as u32;
        }
        if let Some(n) = s.get("max_file_size") {
            let text = self.string(n, "request_log.max_file_size")?;
            out.max_file_size = parse_size(&text)
                .filter(|b| *b >= 4096)
                .ok_or_else(|| {
                    self.invalid(
                        n.pos,
                        "request_log.max_file_size",
                        format!("`{text}` is not a size of at least 4 KiB (e.g. `10MB`, `512KiB`, `1048576`)"),
                    )
                })?;
        }
        Ok(out)
    }

    pub(super) fn uint(&self, node: &Node, key: &str, max: u64) -> Result<u64, ConfigError> {
        let text = match &node.value {
            Value::Typed {
                kind: TypedKind::Int(i),
                ..
            } => i.to_string(),
            Value::Str(_) => self.string(node, key)?,
            _ => return Err(self.expected(node, key, "a whole number")),
        };
        text.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                self.invalid(
                    node.pos,
                    key,
                    format!("`{text}` is not a whole number from 0 to {max}"),
                )
            })
    }

    /// Requests per minute, 0 = unlimited.
    pub(super) fn rate(&self, node: &Node, key: &str) -> Result<u32, ConfigError> {
        Ok(self.uint(node, key, u64::from(crate::ratelimit::MAX_LIMIT))? as u32)
    }

    pub(super) fn duration_or_zero(
        &self,
        node: &Node,
        key: &str,
    ) -> Result<std::time::Duration, ConfigError> {
        if let Value::Typed {
            kind: TypedKind::Int(0),
            ..
        } = node.value
        {
            return Ok(std::time::Duration::ZERO);
        }
        self.duration(node, key)
    }

    fn timestamp(&self, node: &Node, key: &str) -> Result<SystemTime, ConfigError> {
        let text = self.nonempty_string(node, key)?;
        parse_timestamp(text.trim()).ok_or_else(|| {
            self.invalid(
                node.pos,
                key,
                format!("`{text}` is not an RFC 3339 time such as `2027-01-31T00:00:00Z`"),
            )
        })
    }
}

/// `sha256:<hex>` or `<hex>`, 64 hex digits, any case.
pub(in crate::config) fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let hex_part = text.strip_prefix("sha256:").unwrap_or(text);
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

/// An RFC 3339 time.
pub(in crate::config) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::from(t))
}

/// `1048576`, `512KiB`, `10MB`, `1GiB` → bytes (KB/MB/GB are powers of 1000, KiB… of 1024).
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1024,
        "mb" | "m" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "gb" | "g" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}
