//! Who may talk to the listener at all, before any MCP is read: the `Host` and `Origin`
//! allow-lists (DNS-rebinding protection, MCP transport security) and the bind-address rule.
//!
//! Owns the decision "is this `Host`/`Origin` acceptable" and "may we bind this address".
//! It never authenticates anyone: a session id or an allowed origin is not a credential.

use std::net::{IpAddr, SocketAddr};

/// Why a request was refused before it reached a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Host header `{0}` is not allowed (add it to server.allowed_hosts to accept it)")]
    Host(String),
    #[error("the request has no Host header")]
    NoHost,
    #[error("Origin `{0}` is not allowed (add it to server.allowed_origins to accept it)")]
    Origin(String),
}

/// The allow-lists of one listener.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Extra `Host` values: `name` (any port) or `name:port`, compared case-insensitively.
    hosts: Vec<String>,
    /// Extra exact origins, `scheme://host[:port]`, compared case-insensitively.
    origins: Vec<String>,
}

impl Guard {
    pub fn new(allowed_hosts: &[String], allowed_origins: &[String]) -> Guard {
        let norm = |v: &[String]| {
            v.iter()
                .map(|s| s.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect()
        };
        Guard {
            hosts: norm(allowed_hosts),
            origins: norm(allowed_origins),
        }
    }

    /// Checks the `Host` (or HTTP/2 authority) and the `Origin` of one request. Loopback names
    /// are always accepted as hosts; a loopback origin is accepted too (a page served from this
    /// machine), anything else must be listed. No `Origin` at all is a non-browser client.
    pub fn check(&self, host: Option<&str>, origin: Option<&str>) -> Result<(), Refusal> {
        let host = host.map(str::trim).filter(|h| !h.is_empty());
        let Some(host) = host else {
            return Err(Refusal::NoHost);
        };
        let lower = host.to_ascii_lowercase();
        let (name, _) = split_host_port(&lower);
        if !is_loopback_name(name) && !self.hosts.iter().any(|h| h == &lower || h == name) {
            return Err(Refusal::Host(host.to_string()));
        }
        if let Some(origin) = origin {
            let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let loopback = o
                .split_once("://")
                .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
                .is_some_and(|(_, rest)| is_loopback_name(split_host_port(rest).0));
            if !loopback && !self.origins.contains(&o) {
                return Err(Refusal::Origin(origin.to_string()));
            }
        }
        Ok(())
    }
}

impl Guard {
    /// Whether `origin` is listed in `server.allowed_origins` (loopback origins pass the guard
    /// without being listed, but only listed ones get CORS headers).
    pub fn is_configured_origin(&self, origin: &str) -> bool {
        let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        self.origins.contains(&o)
    }
}

/// `name[:port]` or `[v6][:port]` → (`name`, port text).
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((v6, tail)) => (v6, tail.strip_prefix(':')),
            None => (s, None),
        };
    }
    match s.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (s, None),
    }
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a bind address that other machines can reach unless callers must authenticate
/// (`auth.enabled`): without it, every backend's credentials (tokens, files, databases) would be
/// open to the network.
pub fn check_bind(addr: &SocketAddr, auth_enabled: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || auth_enabled {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr}: it is reachable from other machines and authentication is off, so anyone who can reach it could use every backend (and the credentials they hold); listen on 127.0.0.1 or ::1, or turn on auth (auth.enabled with api_keys or jwt, see docs/security.md)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_pass_and_others_need_listing() {
        let g = Guard::new(&["gw.example.com".into(), "other.test:8080".into()], &[]);
        for ok in [
            "127.0.0.1:39400",
            "localhost",
            "LOCALHOST:1",
            "[::1]:39400",
            "gw.example.com",
            "gw.example.com:443",
            "other.test:8080",
        ] {
            assert_eq!(g.check(Some(ok), None), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "other.test:9090",
            "127.0.0.1.nip.io:39400",
        ] {
            assert_eq!(
                g.check(Some(bad), None),
                Err(Refusal::Host(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(g.check(None, None), Err(Refusal::NoHost));
    }

    #[test]
    fn origins_must_be_loopback_or_listed() {
        let g = Guard::new(&[], &["https://app.example.com".into()]);
        let host = Some("127.0.0.1:39400");
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:39400",
            "https://app.example.com",
            "https://APP.example.com/",
        ] {
            assert_eq!(g.check(host, Some(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "https://evil.example.com",
            "null",
            "file://localhost",
            "https://app.example.com:8443",
        ] {
            assert_eq!(
                g.check(host, Some(bad)),
                Err(Refusal::Origin(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_loopback_binds_without_auth() {
        assert!(check_bind(&"127.0.0.1:0".parse().unwrap(), false).is_ok());
        assert!(check_bind(&"[::1]:0".parse().unwrap(), false).is_ok());
        let e = check_bind(&"0.0.0.0:39400".parse().unwrap(), false).unwrap_err();
        assert!(e.contains("authentication is off"), "{e}");
        assert!(check_bind(&"0.0.0.0:39400".parse().unwrap(), true).is_ok());
    }
}
