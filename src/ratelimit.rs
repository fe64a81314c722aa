//! Per-caller rate limits: requests per minute, exact under concurrency.
//!
//! Algorithm: a **sliding-window log**. Each caller keeps the instants of the requests it was
//! admitted in the last window; a request is admitted while fewer than `limit` are inside the
//! window. Why not a token bucket or a fixed window: the contract is "at most N requests per
//! minute", and only the log keeps it for *every* 60-second window (a fixed window admits 2N
//! across a boundary; a token bucket refills during a burst, so a burst that takes longer than
//! one refill interval admits N+1). The price is memory of O(limit) instants per active caller,
//! which is why limits are capped ([`MAX_LIMIT`]) and idle callers are dropped. Every decision is
//! taken under one mutex, so 64 concurrent clients never get more than N admissions.
//!
//! Owns the counting and the header values (`X-RateLimit-*`, `Retry-After`); it never knows
//! who a caller is or how a response is sent.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window every limit is counted over.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The largest limit a config may set (requests per minute), bounding memory per caller.
pub const MAX_LIMIT: u32 = 100_000;
/// Every this many checks, callers with nothing left in their window are forgotten.
const SWEEP_EVERY: u64 = 1024;

/// The outcome of one check, with what the response headers should say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The limit (requests per window).
    pub limit: u32,
    /// Requests still admitted in the current window after this one.
    pub remaining: u32,
    /// Until the oldest counted request leaves the window (one more slot frees).
    pub reset: Duration,
}

impl Decision {
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (seconds from now, rounded up), the same
    /// three as the IETF draft's `RateLimit-Limit`, `-Remaining`, `-Reset`, and, when refused,
    /// `Retry-After` (seconds, rounded up, at least 1).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let reset = ceil_secs(self.reset);
        let (limit, remaining) = (self.limit.to_string(), self.remaining.to_string());
        let mut h = vec![
            ("X-RateLimit-Limit", limit.clone()),
            ("X-RateLimit-Remaining", remaining.clone()),
            ("X-RateLimit-Reset", reset.to_string()),
            ("RateLimit-Limit", limit),
            ("RateLimit-Remaining", remaining),
            ("RateLimit-Reset", reset.to_string()),
        ];
        if !self.allowed {
            h.push(("Retry-After", reset.max(1).to_string()));
        }
        h
    }

    /// Seconds to wait before retrying (for JSON-RPC error `data`); 0 when allowed.
    pub fn retry_after_secs(&self) -> u64 {
        if self.allowed {
            0
        } else {
            ceil_secs(self.reset).max(1)
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Sliding-window counters for any number of callers.
#[derive(Debug, Default)]
pub struct RateLimiter {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    callers: HashMap<String, VecDeque<Instant>>,
    checks: u64,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Counts one request of `caller` against `limit` per minute; `limit == 0` is unlimited
    /// (always admitted, nothing counted).
    pub fn check(&self, caller: &str, limit: u32) -> Decision {
        self.check_at(caller, limit, Instant::now())
    }

    /// [`RateLimiter::check`] at a given instant (tests drive time explicitly).
    pub fn check_at(&self, caller: &str, limit: u32, now: Instant) -> Decision {
        if limit == 0 {
            return Decision {
                allowed: true,
                limit: 0,
                remaining: 0,
                reset: Duration::ZERO,
            };
        }
        let limit = limit.min(MAX_LIMIT);
        // A poisoned lock only means another check panicked; the counters are still valid.
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state.checks += 1;
        if state.checks % SWEEP_EVERY == 0 {
            state
                .callers
                .retain(|_, log| log.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let log = match state.callers.get_mut(caller) {
            Some(log) => log,
            None => state.callers.entry(caller.to_string()).or_default(),
        };
        while log
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            log.pop_front();
        }
        let count = u32::try_from(log.len()).unwrap_or(u32::MAX);
        let allowed = count < limit;
        if allowed {
            log.push_back(now);
        }
        let used = count + u32::from(allowed);
        let reset = log
            .front()
            .map(|t| (*t + WINDOW).saturating_duration_since(now))
            .unwrap_or(Duration::ZERO);
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(used),
            reset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn admits_exactly_the_limit_per_window() {
        let rl = RateLimiter::new();
        let t0 = Instant::now();
        for i in 0..3 {
            let d = rl.check_at("a", 3, t0 + Duration::from_secs(i));
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i as u32);
        }
        let d = rl.check_at("a", 3, t0 + Duration::from_secs(10));
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset, Duration::from_secs(50));
        assert_eq!(d.retry_after_secs(), 50);
        // Another caller has its own window.
        assert!(rl.check_at("b", 3, t0 + Duration::from_secs(10)).allowed);
        // The first request leaves the window at t0+60: exactly one slot frees.
        assert!(rl.check_at("a", 3, t0 + Duration::from_secs(60)).allowed);
        assert!(!rl.check_at("a", 3, t0 + Duration::from_secs(60)).allowed);
        assert!(rl.check_at("a", 3, t0 + Duration::from_secs(61)).allowed);
    }

    #[test]
    fn headers_carry_the_decision() {
        let rl = RateLimiter::new();
        let t0 = Instant::now();
        rl.check_at("a", 1, t0);
        let d = rl.check_at("a", 1, t0 + Duration::from_millis(500));
        let h = d.headers();
        let get = |name: &str| h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(get("X-RateLimit-Limit").as_deref(), Some("1"));
        assert_eq!(get("X-RateLimit-Remaining").as_deref(), Some("0"));
        // 59.5 s rounded up.
        assert_eq!(get("X-RateLimit-Reset").as_deref(), Some("60"));
        assert_eq!(get("RateLimit-Limit").as_deref(), Some("1"));
        assert_eq!(get("RateLimit-Reset").as_deref(), Some("60"));
        assert_eq!(get("Retry-After").as_deref(), Some("60"));
        let ok = rl.check_at("b", 5, t0).headers();
        assert!(!ok.iter().any(|(n, _)| *n == "Retry-After"));
    }

    #[test]
    fn zero_is_unlimited() {
        let rl = RateLimiter::new();
        for _ in 0..1000 {
            assert!(rl.check("a", 0).allowed);
        }
    }

    #[test]
    fn exact_under_64_threads() {
        let rl = Arc::new(RateLimiter::new());
        let limit = 100;
        let admitted: u32 = (0..64)
            .map(|_| {
                let rl = Arc::clone(&rl);
                std::thread::spawn(move || {
                    (0..10)
                        .filter(|_| rl.check("shared", limit).allowed)
                        .count() as u32
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(admitted, limit);
    }

    /// Property: over a random request schedule, no 60-second window ever holds more admitted
    /// requests than the limit.
    #[test]
    fn no_window_exceeds_the_limit() {
        let rl = RateLimiter::new();
        let t0 = Instant::now();
        let limit = 7;
        let mut seed = 12345_u64;
        let mut at = Duration::ZERO;
        let mut admitted = Vec::new();
        for _ in 0..5000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            at += Duration::from_millis((seed >> 33) % 20_000);
            if rl.check_at("a", limit, t0 + at).allowed {
                admitted.push(at);
            }
        }
        for (i, start) in admitted.iter().enumerate() {
            let inside = admitted[i..]
                .iter()
                .take_while(|t| **t - *start < WINDOW)
                .count();
            assert!(inside <= limit as usize);
        }
        assert!(admitted.len() > 100);
    }

    #[test]
    fn idle_callers_are_forgotten() {
        let rl = RateLimiter::new();
        let t0 = Instant::now();
        for i in 0..SWEEP_EVERY {
            rl.check_at(&format!("c{i}"), 5, t0);
        }
        let later = t0 + WINDOW + Duration::from_secs(1);
        for _ in 0..SWEEP_EVERY {
            rl.check_at("live", 5, later);
        }
        let n = rl.inner.lock().unwrap().callers.len();
        assert_eq!(n, 1);
    }
}
