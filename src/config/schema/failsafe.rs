//! `failsafe:` nodes (top level and under a backend) → [`FailsafePatch`].
//!
//! A child of `schema` so it reads keys with the same rules and error wording. Owns the keys of
//! the section and their ranges; the same reader serves the gateway-wide section and every
//! backend's override. Never applies a default (that is `config::failsafe`).

use super::super::failsafe::FailsafePatch;
use super::super::yaml::Node;
use super::{ConfigError, Cx};

const FAILSAFE: &[&str] = &[
    "circuit_breaker",
    "retry",
    "concurrency",
    "rate_limit",
    "health_check",
];
const BREAKER: &[&str] = &["enabled", "failure_threshold", "reset_timeout"];
const RETRY: &[&str] = &["enabled", "max_attempts", "initial_backoff"];
const CONCURRENCY: &[&str] = &["max_in_flight", "max_queued"];
const RATE_LIMIT: &[&str] = &["requests_per_minute"];
/// The published format's gateway-wide rate limit, accepted with a warning.
const RATE_LIMIT_IGNORED: &[&str] = &["enabled", "requests_per_second", "burst_size"];
const HEALTH: &[&str] = &["interval"];

/// Upper bounds that keep a typo from meaning "forever" or "unbounded".
const MAX_THRESHOLD: u64 = 1000;
const MAX_ATTEMPTS: u64 = 10;
const MAX_IN_FLIGHT: u64 = 10_000;
const MAX_QUEUED: u64 = 100_000;

impl Cx<'_> {
    /// `failsafe:` at `key` (`failsafe` or `backends.NAME.failsafe`).
    pub(super) fn failsafe(&self, node: &Node, key: &str) -> Result<FailsafePatch, ConfigError> {
        let s = self.section(node, key, FAILSAFE, &[])?;
        let mut out = FailsafePatch::default();
        if let Some(n) = s.get("circuit_breaker") {
            let key = s.child("circuit_breaker");
            let b = self.section(n, &key, BREAKER, &[])?;
            if let Some(v) = b.get("enabled") {
                out.breaker_enabled = Some(self.bool(v, &b.child("enabled"))?);
            }
            if let Some(v) = b.get("failure_threshold") {
                out.failure_threshold =
                    Some(self.at_least_one(v, &b.child("failure_threshold"), MAX_THRESHOLD)?);
            }
            if let Some(v) = b.get("reset_timeout") {
                out.reset_timeout = Some(self.duration(v, &b.child("reset_timeout"))?);
            }
        }
        if let Some(n) = s.get("retry") {
            let key = s.child("retry");
            let r = self.section(n, &key, RETRY, &[])?;
            if let Some(v) = r.get("enabled") {
                out.retry_enabled = Some(self.bool(v, &r.child("enabled"))?);
            }
            if let Some(v) = r.get("max_attempts") {
                out.max_attempts =
                    Some(self.at_least_one(v, &r.child("max_attempts"), MAX_ATTEMPTS)?);
            }
            if let Some(v) = r.get("initial_backoff") {
                out.initial_backoff = Some(self.duration(v, &r.child("initial_backoff"))?);
            }
        }
        if let Some(n) = s.get("concurrency") {
            let key = s.child("concurrency");
            let c = self.section(n, &key, CONCURRENCY, &[])?;
            if let Some(v) = c.get("max_in_flight") {
                out.max_in_flight =
                    Some(self.at_least_one(v, &c.child("max_in_flight"), MAX_IN_FLIGHT)?);
            }
            if let Some(v) = c.get("max_queued") {
                out.max_queued = Some(self.uint(v, &c.child("max_queued"), MAX_QUEUED)? as u32);
            }
        }
        if let Some(n) = s.get("rate_limit") {
            let key = s.child("rate_limit");
            let r = self.section(n, &key, RATE_LIMIT, RATE_LIMIT_IGNORED)?;
            if let Some(v) = r.get("requests_per_minute") {
                out.requests_per_minute = Some(self.rate(v, &r.child("requests_per_minute"))?);
            }
        }
        if let Some(n) = s.get("health_check") {
            let key = s.child("health_check");
            let h = self.section(n, &key, HEALTH, &[])?;
            if let Some(v) = h.get("interval") {
                out.health_interval = Some(self.duration_or_zero(v, &h.child("interval"))?);
            }
        }
        Ok(out)
    }

    /// A whole number from 1 to `max`.
    fn at_least_one(&self, node: &Node, key: &str, max: u64) -> Result<u32, ConfigError> {
        let n = self.uint(node, key, max)?;
        if n == 0 {
            return Err(self.invalid(node.pos, key, format!("must be from 1 to {max}")));
        }
        Ok(n as u32)
    }
}
