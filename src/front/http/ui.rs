//! The web dashboard at `/ui`: one hand-written page (HTML, CSS, JavaScript in `ui/`) compiled
//! into the binary, so it works offline with no build step and nothing fetched from elsewhere.
//!
//! Owns serving those files with a strict Content-Security-Policy (scripts, styles and the icon
//! only from this origin, no inline script or style, connections only to this origin, no
//! framing). The page holds no data: everything it shows comes from the REST API under
//! `/api/v1`, which it calls with the admin key the user types (kept in the tab's
//! `sessionStorage`, sent as `Authorization: Bearer`, never in a URL), so the API's
//! authentication and admin checks are the dashboard's. It never serves anything but these
//! embedded files.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::App;

const INDEX_HTML: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const APP_CSS: &str = include_str!("ui/app.css");
const ICON_SVG: &str = include_str!("ui/icon.svg");

/// What the page may load and where it may connect: only its own origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The `/ui` routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/ui",
            get(|| async { file(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/ui/",
            get(|| async { file(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/ui/app.js",
            get(|| async { file(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            get(|| async { file(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/ui/icon.svg",
            get(|| async { file(ICON_SVG, "image/svg+xml") }),
        )
}

fn file(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page loads only its own files: no inline script or style (the policy forbids them),
    /// nothing from another origin.
    #[test]
    fn page_has_no_inline_code_and_no_foreign_urls() {
        let lower = INDEX_HTML.to_ascii_lowercase();
        assert!(!lower.contains("<script>"), "inline script");
        assert!(!lower.contains("<style"), "inline style");
        assert!(!lower.contains(" style="), "inline style attribute");
        let handler = regex::Regex::new(r"\son[a-z]+\s*=").unwrap();
        assert!(!handler.is_match(&lower), "inline event handler");
        for text in [INDEX_HTML, APP_JS, APP_CSS] {
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "a foreign URL"
            );
        }
        assert!(!APP_JS.contains("innerHTML"), "markup built from strings");
    }
}
