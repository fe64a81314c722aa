//! What an HTTP request to a backend may carry and follow, and how its failures read: the
//! headers from config (never those the gateway manages per hop), redirects only within the
//! origin, and one-line descriptions of statuses and error chains.

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::HttpSpec;

/// Headers the gateway manages itself per hop; config may not set them.
const MANAGED_HEADERS: [&str; 4] = [
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "content-type",
];

/// The config headers as a map; names the gateway manages per hop are refused.
pub(super) fn header_map(spec: &HttpSpec) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in &spec.headers {
        let lower = name.to_ascii_lowercase();
        if MANAGED_HEADERS.contains(&lower.as_str()) {
            return Err(format!(
                "header `{name}` in `headers` is managed by the gateway per connection; remove it"
            ));
        }
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` in `headers` is not a valid HTTP header name"))?;
        let mut v = HeaderValue::from_str(value).map_err(|_| {
            format!("the value of header `{name}` contains characters HTTP does not allow")
        })?;
        v.set_sensitive(
            lower == "authorization" || lower.contains("token") || lower.contains("key"),
        );
        map.insert(n, v);
    }
    Ok(map)
}

/// Describes a non-success HTTP answer, including where a refused redirect pointed (both URLs
/// redacted: userinfo and query values never show).
pub(super) fn describe_status(method: &str, url: &Url, resp: &reqwest::Response) -> String {
    let status = resp.status();
    let url = crate::redact::url(url);
    if status.is_redirection() {
        let to = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "?".to_string(), crate::redact::url_text);
        return format!(
            "{method} {url} answered {status}, redirecting to {to}: redirects to another origin are not followed"
        );
    }
    format!("{method} {url} answered {status}")
}

/// An error and its causes on one line ("error sending request: connection refused"), with
/// every URL in it redacted (reqwest's errors name the URL they were sending to).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    crate::redact::text(&out)
}

pub(super) fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}
