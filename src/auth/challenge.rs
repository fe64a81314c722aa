//! What an HTTP front answers when a request is refused: the `WWW-Authenticate` challenge
//! (RFC 6750, pointing to the RFC 9728 metadata), the protected-resource metadata document, and
//! the JSON-RPC `data` of a rate-limited call.
//!
//! Owns only these texts and shapes, built from the configured public URL (never from a request's
//! `Host`). It never sends anything and never includes a credential.

use serde_json::{Value, json};

use super::AuthError;
use crate::config::JwtConfig;
use crate::ratelimit::Decision;

/// Path of the protected-resource metadata (RFC 9728 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The metadata URL for a public base URL such as `https://gw.example.com`.
pub fn metadata_url(public_url: &str) -> String {
    format!("{}{METADATA_PATH}", public_url.trim_end_matches('/'))
}

/// RFC 6750 quoted-string content: no `"` or `\`, printable ASCII only.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

/// `WWW-Authenticate` for a 401: `Bearer realm="mcp-gateway"`, the metadata URL when a public
/// URL is configured, and `error`/`error_description` when credentials were sent but refused.
pub fn unauthorized(public_url: Option<&str>, err: &AuthError) -> String {
    let mut v = String::from("Bearer realm=\"mcp-gateway\"");
    if let Some(url) = public_url {
        v.push_str(&format!(
            ", resource_metadata=\"{}\"",
            quoted(&metadata_url(url))
        ));
    }
    if let Some(code) = err.bearer_error() {
        v.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            quoted(&err.to_string())
        ));
    }
    v
}

/// `WWW-Authenticate` for a 403: authenticated, but the tool is outside the caller's scope.
pub fn insufficient_scope(public_url: Option<&str>) -> String {
    let mut v = String::from("Bearer realm=\"mcp-gateway\", error=\"insufficient_scope\"");
    if let Some(url) = public_url {
        v.push_str(&format!(
            ", resource_metadata=\"{}\"",
            quoted(&metadata_url(url))
        ));
    }
    v
}

/// The RFC 9728 document served at [`METADATA_PATH`].
pub fn resource_metadata(public_url: &str, jwt: Option<&JwtConfig>) -> Value {
    let mut doc = json!({
        "resource": public_url.trim_end_matches('/'),
        "resource_name": "mcp-gateway",
        "bearer_methods_supported": ["header"],
    });
    if let Some(j) = jwt {
        doc["authorization_servers"] = json!([j.issuer]);
        doc["scopes_supported"] = json!(j.scopes.keys().collect::<Vec<_>>());
        doc["resource_signing_alg_values_supported"] =
            json!(j.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>());
    }
    doc
}

/// `data` of the JSON-RPC error for a rate-limited MCP request (over HTTP the same numbers are
/// in `Retry-After` and `X-RateLimit-*`).
pub fn rate_limited_data(d: &Decision) -> Value {
    json!({
        "retryAfterSeconds": d.retry_after_secs(),
        "limit": d.limit,
        "remaining": d.remaining,
        "resetSeconds": d.reset.as_secs() + u64::from(d.reset.subsec_nanos() > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{JwksSource, JwtAlgorithm};
    use std::time::Duration;

    #[test]
    fn challenges_point_to_the_metadata_and_never_echo_credentials() {
        let url = Some("https://gw.example.com/");
        assert_eq!(
            unauthorized(url, &AuthError::Missing),
            "Bearer realm=\"mcp-gateway\", resource_metadata=\"https://gw.example.com/.well-known/oauth-protected-resource\""
        );
        let v = unauthorized(
            None,
            &AuthError::Malformed("the credential contains \"spaces\""),
        );
        assert_eq!(
            v,
            "Bearer realm=\"mcp-gateway\", error=\"invalid_request\", error_description=\"malformed credentials: the credential contains spaces\""
        );
        assert!(unauthorized(url, &AuthError::InvalidKey).contains("error=\"invalid_token\""));
        assert_eq!(
            insufficient_scope(url),
            "Bearer realm=\"mcp-gateway\", error=\"insufficient_scope\", resource_metadata=\"https://gw.example.com/.well-known/oauth-protected-resource\""
        );
    }

    #[test]
    fn metadata_names_the_resource_and_the_issuer() {
        let doc = resource_metadata("https://gw.example.com/", None);
        assert_eq!(doc["resource"], "https://gw.example.com");
        assert!(doc.get("authorization_servers").is_none());
        let mut scopes = std::collections::BTreeMap::new();
        scopes.insert("mcp:read".to_string(), Default::default());
        let jwt = JwtConfig {
            issuer: "https://idp".into(),
            audiences: vec!["gw".into()],
            jwks: JwksSource::File("/k".into()),
            algorithms: vec![JwtAlgorithm::ES256],
            subject_claim: "sub".into(),
            scope_claim: "scope".into(),
            scopes,
            leeway: Duration::ZERO,
            jwks_cache: Duration::from_secs(1),
        };
        let doc = resource_metadata("https://gw.example.com", Some(&jwt));
        assert_eq!(doc["authorization_servers"], json!(["https://idp"]));
        assert_eq!(doc["scopes_supported"], json!(["mcp:read"]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }

    #[test]
    fn rate_limit_data_carries_the_retry_time() {
        let d = Decision {
            allowed: false,
            limit: 5,
            remaining: 0,
            reset: Duration::from_millis(12_300),
        };
        assert_eq!(
            rate_limited_data(&d),
            json!({"retryAfterSeconds": 13, "limit": 5, "remaining": 0, "resetSeconds": 13})
        );
    }
}
