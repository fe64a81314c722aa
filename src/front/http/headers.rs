//! The 2026-07-28 request headers that mirror the body (`MCP-Protocol-Version`, `Mcp-Method`,
//! `Mcp-Name`) and their check against it: a missing or disagreeing header is a
//! `HeaderMismatch` (-32020, HTTP 400), so a proxy routing on headers and the gateway acting on
//! the body can never see two different requests.
//!
//! Owns the header names, the Base64 sentinel decoding (`=?base64?…?=`) and the comparison.
//! It never reads anything but the headers and the already parsed body.

use base64::Engine;
use serde_json::Value;

use crate::jsonrpc::{ErrorObject, code};

pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub const SESSION_ID: &str = "mcp-session-id";
pub const METHOD: &str = "mcp-method";
pub const NAME: &str = "mcp-name";

/// Methods whose `params.name` / `params.uri` must be mirrored in `Mcp-Name`.
fn named_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Decodes a header value that may use the Base64 sentinel; `None` when the value is not
/// valid (bad Base64, not UTF-8).
pub fn decode(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_string()),
    }
}

fn mismatch(message: String) -> ErrorObject {
    ErrorObject::new(code::HEADER_MISMATCH, format!("Header mismatch: {message}"))
}

/// Checks a stateless-era request's headers against its body. `header` looks a header up by
/// its lowercase name (`None`: absent; `Some(Err)`: not visible ASCII).
pub fn check(
    header: impl Fn(&str) -> Option<Result<String, ()>>,
    body_version: &str,
    method: &str,
    params: &Value,
) -> Result<(), ErrorObject> {
    let get = |name: &str, display: &str| -> Result<String, ErrorObject> {
        match header(name) {
            None => Err(mismatch(format!("the {display} header is required"))),
            Some(Err(())) => Err(mismatch(format!(
                "the {display} header holds characters that are not allowed"
            ))),
            Some(Ok(v)) => Ok(v),
        }
    };
    let version = get(PROTOCOL_VERSION, "MCP-Protocol-Version")?;
    if version != body_version {
        return Err(mismatch(format!(
            "MCP-Protocol-Version header value '{version}' does not match body value '{body_version}'"
        )));
    }
    let m = get(METHOD, "Mcp-Method")?;
    if m != method {
        return Err(mismatch(format!(
            "Mcp-Method header value '{m}' does not match body value '{method}'"
        )));
    }
    if let Some(field) = named_field(method) {
        let raw = get(NAME, "Mcp-Name")?;
        let Some(name) = decode(&raw) else {
            return Err(mismatch(format!(
                "Mcp-Name header value '{raw}' is not valid Base64-encoded UTF-8"
            )));
        };
        let body = params.get(field).and_then(Value::as_str).unwrap_or("");
        if name != body {
            return Err(mismatch(format!(
                "Mcp-Name header value '{name}' does not match body value '{body}' (params.{field})"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<Result<String, ()>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned().map(Ok)
    }

    #[test]
    fn matching_headers_pass_and_sentinel_is_decoded() {
        let h = headers(&[
            (PROTOCOL_VERSION, "2026-07-28"),
            (METHOD, "tools/call"),
            (NAME, "=?base64?SGVsbG8sIOS4lueVjA==?="),
        ]);
        assert!(
            check(
                h,
                "2026-07-28",
                "tools/call",
                &json!({"name": "Hello, 世界"})
            )
            .is_ok()
        );
        let h = headers(&[(PROTOCOL_VERSION, "2026-07-28"), (METHOD, "tools/list")]);
        assert!(check(h, "2026-07-28", "tools/list", &json!({})).is_ok());
    }

    #[test]
    fn every_disagreement_is_a_header_mismatch_naming_both_values() {
        type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, Value, &'a str);
        let cases: Vec<Case> = vec![
            (
                vec![(METHOD, "tools/list")],
                "tools/list",
                json!({}),
                "MCP-Protocol-Version header is required",
            ),
            (
                vec![(PROTOCOL_VERSION, "2025-11-25"), (METHOD, "tools/list")],
                "tools/list",
                json!({}),
                "'2025-11-25' does not match body value '2026-07-28'",
            ),
            (
                vec![(PROTOCOL_VERSION, "2026-07-28")],
                "tools/list",
                json!({}),
                "Mcp-Method header is required",
            ),
            (
                vec![(PROTOCOL_VERSION, "2026-07-28"), (METHOD, "tools/list")],
                "tools/call",
                json!({"name": "a"}),
                "'tools/list' does not match body value 'tools/call'",
            ),
            (
                vec![(PROTOCOL_VERSION, "2026-07-28"), (METHOD, "tools/call")],
                "tools/call",
                json!({"name": "a"}),
                "Mcp-Name header is required",
            ),
            (
                vec![
                    (PROTOCOL_VERSION, "2026-07-28"),
                    (METHOD, "resources/read"),
                    (NAME, "file:///b"),
                ],
                "resources/read",
                json!({"uri": "file:///a"}),
                "'file:///b' does not match body value 'file:///a'",
            ),
            (
                vec![
                    (PROTOCOL_VERSION, "2026-07-28"),
                    (METHOD, "prompts/get"),
                    (NAME, "=?base64?!!?="),
                ],
                "prompts/get",
                json!({"name": "a"}),
                "not valid Base64",
            ),
        ];
        for (pairs, method, params, want) in cases {
            let e = check(headers(&pairs), "2026-07-28", method, &params).unwrap_err();
            assert_eq!(e.code, code::HEADER_MISMATCH);
            assert!(e.message.contains(want), "{} lacks {want}", e.message);
        }
    }
}
