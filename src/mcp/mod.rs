//! MCP protocol facts the gateway needs: versions and their negotiation, and what the gateway
//! says about itself. It never talks to a peer; session and backend code use it.

/// Versions the front accepts, oldest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest version; offered to backends and answered to clients asking for an unknown one.
pub const LATEST_VERSION: &str = "2025-11-25";

/// Versions of the stateless era (no `initialize`; version and capabilities in each request's
/// `_meta`), newest first.
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];

/// `_meta` keys of the stateless era.
pub mod meta {
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
    /// The prefix of the keys above: per-hop fields, never forwarded to a backend.
    pub const PREFIX: &str = "io.modelcontextprotocol/";
}

/// Every version the front speaks, newest first (for `supportedVersions` and -32022 errors).
pub fn all_versions() -> Vec<&'static str> {
    MODERN_VERSIONS
        .iter()
        .chain(SUPPORTED_VERSIONS.iter().rev())
        .copied()
        .collect()
}

/// The protocol version a stateless-era request declares in `params._meta`, if any.
pub fn modern_version(params: &serde_json::Value) -> Option<&str> {
    params
        .pointer("/_meta")
        .and_then(|m| m.get(meta::PROTOCOL_VERSION))
        .and_then(serde_json::Value::as_str)
}

/// The version to answer a client that asked for `requested`.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SUPPORTED_VERSIONS.iter().find(|v| **v == r).copied())
        .unwrap_or(LATEST_VERSION)
}

/// `serverInfo` / `clientInfo` of the gateway.
/// What the gateway itself serves, the same in both eras: `initialize` (2025-11-25 and earlier)
/// and `server/discover` (2026-07-28) answer with this one object.
pub fn server_capabilities() -> serde_json::Value {
    serde_json::json!({
        "tools": { "listChanged": true },
        "resources": { "subscribe": true, "listChanged": true },
        "prompts": { "listChanged": true },
        "completions": {},
        "logging": {},
    })
}

pub fn implementation_info() -> serde_json::Value {
    serde_json::json!({
        "name": "mcp-gateway",
        "title": "MCP Gateway",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Log levels of `logging/setLevel`, least severe first.
pub const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// Severity rank of an MCP log level (unknown levels rank as `info`).
pub fn log_level_rank(level: &str) -> usize {
    LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(1)
}

/// Whether a `tools/call` result (raw JSON) says `"isError": true` at its top level. Cheap on
/// large results: a byte search first, a parse only if the key occurs at all.
pub fn is_error_result(raw: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Flag {
        #[serde(rename = "isError")]
        is_error: Option<bool>,
    }
    raw.contains("\"isError\"")
        && serde_json::from_str::<Flag>(raw).is_ok_and(|f| f.is_error == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_error_is_read_at_the_top_level_only() {
        assert!(is_error_result(r#"{"content":[],"isError":true}"#));
        assert!(!is_error_result(r#"{"content":[],"isError":false}"#));
        assert!(!is_error_result(
            r#"{"content":[{"type":"text","text":"\"isError\": true"}]}"#
        ));
        assert!(!is_error_result(
            r#"{"structuredContent":{"isError":true}}"#
        ));
        assert!(!is_error_result("not json \"isError\""));
    }

    #[test]
    fn negotiates_known_versions_and_falls_back_to_latest() {
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2026-07-28")), LATEST_VERSION);
        assert_eq!(negotiate(None), LATEST_VERSION);
    }

    #[test]
    fn modern_version_comes_from_meta() {
        let p = serde_json::json!({"_meta": {meta::PROTOCOL_VERSION: "2026-07-28"}});
        assert_eq!(modern_version(&p), Some("2026-07-28"));
        assert_eq!(modern_version(&serde_json::json!({"name": "x"})), None);
        assert_eq!(all_versions()[0], "2026-07-28");
        assert!(all_versions().contains(&"2024-11-05"));
    }
}
