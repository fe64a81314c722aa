//! Counters that live only as long as the process: requests by front/method/outcome, open
//! sessions, rate-limit refusals and search latency. Recording is an atomic add (the label sets
//! are fixed strings, so a family lookup allocates nothing).
//!
//! Every label value is from a fixed list: fronts are the gateway's own names, methods are the
//! MCP methods and REST routes the gateway serves ([`method_label`]; anything else is `other`),
//! outcomes a fixed set. So a client sending made-up method names cannot add series.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::prometheus::LiveHistogram;

type Labels3 = [(&'static str, &'static str); 3];
type Labels1 = [(&'static str, &'static str); 1];

/// The JSON-RPC methods and REST routes that get a `method` label of their own.
pub const METHODS: [&str; 27] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "subscriptions/listen",
    "GET /api/v1/health",
    "GET /api/v1/openapi.json",
    "GET /api/v1/servers",
    "GET /api/v1/servers/{id}",
    "GET /api/v1/tools",
    "POST /api/v1/tools/call",
    "GET /api/v1/requests",
    "GET /api/v1/metrics",
    "POST /mcp",
    "GET /mcp",
    "DELETE /mcp",
    "POST /mcp/{backend}",
];

/// `method` if it is one of [`METHODS`], else `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// The process's live counters (one per gateway; cheap to clone: families share their data).
#[derive(Debug, Default, Clone)]
pub struct Live {
    requests: Family<Labels3, Counter>,
    sessions: Family<Labels1, Gauge>,
    rate_limited: Family<Labels1, Counter>,
    search: LiveHistogram,
}

impl Live {
    /// Counts one request served (or refused) over `front`.
    pub fn request(&self, front: &'static str, method: &str, outcome: &'static str) {
        self.requests
            .get_or_create(&[
                ("front", front),
                ("method", method_label(method)),
                ("outcome", outcome),
            ])
            .inc();
    }

    /// Counts one request refused by a caller's rate limit.
    pub fn rate_limited(&self, front: &'static str) {
        self.rate_limited.get_or_create(&[("front", front)]).inc();
    }

    /// Counts a session open over `front` until the returned guard is dropped.
    pub fn session(&self, front: &'static str) -> SessionGauge {
        let gauge = self.sessions.get_or_create(&[("front", front)]).clone();
        gauge.inc();
        SessionGauge(gauge)
    }

    /// Records how long one search took.
    pub fn search(&self, took: Duration) {
        self.search
            .0
            .record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    /// Sessions open now, per front.
    pub fn sessions_open(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for front in ["stdio", "http", "share"] {
            if let Some(g) = self.sessions.get(&[("front", front)]) {
                out.push((front.to_string(), g.get()));
            }
        }
        out
    }

    /// Requests counted so far, as `(front, method, outcome, count)`.
    pub fn requests_counted(
        &self,
        fronts: &[&'static str],
    ) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for &front in fronts {
            for &method in METHODS.iter().chain(["other"].iter()) {
                for outcome in OUTCOMES {
                    if let Some(c) = self.requests.get(&[
                        ("front", front),
                        ("method", method),
                        ("outcome", outcome),
                    ]) {
                        out.push((front, method, outcome, c.get()));
                    }
                }
            }
        }
        out
    }

    /// Search latency as recorded.
    pub fn search_latency(&self) -> super::Latency {
        self.search.0.snapshot()
    }

    /// Registers the live families in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "requests",
            "Requests served or refused, by front (stdio, http, rest, share), method (MCP method or REST route; `other` for the rest) and outcome",
            self.requests.clone(),
        );
        registry.register(
            "sessions",
            "Client sessions open now, by front (a stateless 2026-07-28 request holds one while it runs)",
            self.sessions.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a caller's rate limit (429), by front",
            self.rate_limited.clone(),
        );
        registry.register(
            "search_duration_seconds",
            "Time to rank tools for one search (meta-tool, REST, CLI)",
            self.search.clone(),
        );
    }
}

/// The request outcomes.
pub const OUTCOMES: [&str; 6] = [
    "ok",
    "error",
    "cancelled",
    "unauthenticated",
    "forbidden",
    "rate_limited",
];

/// One open session; the gauge goes down when it is dropped.
#[derive(Debug)]
pub struct SessionGauge(Gauge);

impl Drop for SessionGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_list_share_one_label() {
        let live = Live::default();
        for i in 0..1000 {
            live.request("stdio", &format!("made/up/{i}"), "error");
        }
        live.request("stdio", "tools/call", "ok");
        let counted = live.requests_counted(&["stdio"]);
        assert_eq!(counted.len(), 2, "{counted:?}");
        assert!(counted.contains(&("stdio", "other", "error", 1000)));
        let g = live.session("http");
        assert_eq!(live.sessions_open(), vec![("http".to_string(), 1)]);
        drop(g);
        assert_eq!(live.sessions_open(), vec![("http".to_string(), 0)]);
    }
}
