//! MCP protocol facts the gateway needs: versions and their negotiation, and what the gateway
//! says about itself. It never talks to a peer; session and backend code use it.

/// Versions the front accepts, oldest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest version; offered to backends and answered to clients asking for an unknown one.
pub const LATEST_VERSION: &str = "2025-11-25";

/// The version to answer a client that asked for `requested`.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SUPPORTED_VERSIONS.iter().find(|v| **v == r).copied())
        .unwrap_or(LATEST_VERSION)
}

/// `serverInfo` / `clientInfo` of the gateway.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_known_versions_and_falls_back_to_latest() {
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2026-07-28")), LATEST_VERSION);
        assert_eq!(negotiate(None), LATEST_VERSION);
    }
}
