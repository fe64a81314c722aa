//! The one policy for the gateway's outbound HTTP clients (HTTP backends and capabilities).
//!
//! Owns what every `reqwest` client the gateway builds must do: follow redirects only within the
//! origin the request started on (scheme, host and port), at most [`MAX_REDIRECTS`] of them, and
//! never send a `Referer` (it would carry the previous URL, query and all). A redirect to another
//! origin is not followed: the 3xx answer comes back to the caller, which reports it. It never
//! chooses URLs or headers; callers do.

use url::Url;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Follows redirects only within the origin the request started on.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let allowed = attempt
            .previous()
            .first()
            .is_some_and(|first| same_origin(first, attempt.url()));
        if allowed {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// A client builder with the policy applied; callers add timeouts, TLS and the user agent.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(redirect_policy())
        .referer(false)
}
