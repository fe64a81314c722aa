//! `failsafe:` settings as plain data: the gateway-wide values ([`Failsafe`], defaults applied)
//! and what one file or one backend's `failsafe:` writes ([`FailsafePatch`], every leaf
//! optional). A backend's effective settings are the global ones patched with its own, leaf by
//! leaf ([`Failsafe::patched`]); upper config layers patch lower ones the same way. The one place
//! that knows the defaults; it never runs anything (see `crate::backend::failsafe`).

use std::time::Duration;

/// Effective failsafe settings of one backend (or the gateway-wide defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failsafe {
    pub breaker_enabled: bool,
    /// Consecutive failures that open the breaker (≥ 1).
    pub failure_threshold: u32,
    /// How long an open breaker fails fast before one trial call (half-open).
    pub reset_timeout: Duration,
    pub retry_enabled: bool,
    /// Attempts in all, the first included (≥ 1; 1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled each time, with jitter.
    pub initial_backoff: Duration,
    /// Calls running at the backend at once (≥ 1).
    pub max_in_flight: u32,
    /// Calls waiting for a slot beyond that; one more is refused at once (0 = no queue).
    pub max_queued: u32,
    /// Calls per minute admitted to the backend (0 = unlimited).
    pub requests_per_minute: u32,
    /// Health-check period of an HTTP backend (zero = off).
    pub health_interval: Duration,
}

impl Default for Failsafe {
    fn default() -> Failsafe {
        Failsafe {
            breaker_enabled: true,
            failure_threshold: 5,
            reset_timeout: Duration::from_secs(30),
            retry_enabled: true,
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_in_flight: 16,
            max_queued: 64,
            requests_per_minute: 0,
            health_interval: Duration::from_secs(30),
        }
    }
}

/// What one `failsafe:` mapping writes (`None`: not set there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailsafePatch {
    pub breaker_enabled: Option<bool>,
    pub failure_threshold: Option<u32>,
    pub reset_timeout: Option<Duration>,
    pub retry_enabled: Option<bool>,
    pub max_attempts: Option<u32>,
    pub initial_backoff: Option<Duration>,
    pub max_in_flight: Option<u32>,
    pub max_queued: Option<u32>,
    pub requests_per_minute: Option<u32>,
    pub health_interval: Option<Duration>,
}

impl FailsafePatch {
    /// `self` with `upper` on top: `upper` wins wherever it sets a leaf.
    pub fn overlay(self, upper: FailsafePatch) -> FailsafePatch {
        FailsafePatch {
            breaker_enabled: upper.breaker_enabled.or(self.breaker_enabled),
            failure_threshold: upper.failure_threshold.or(self.failure_threshold),
            reset_timeout: upper.reset_timeout.or(self.reset_timeout),
            retry_enabled: upper.retry_enabled.or(self.retry_enabled),
            max_attempts: upper.max_attempts.or(self.max_attempts),
            initial_backoff: upper.initial_backoff.or(self.initial_backoff),
            max_in_flight: upper.max_in_flight.or(self.max_in_flight),
            max_queued: upper.max_queued.or(self.max_queued),
            requests_per_minute: upper.requests_per_minute.or(self.requests_per_minute),
            health_interval: upper.health_interval.or(self.health_interval),
        }
    }
}

impl Failsafe {
    /// These settings with every leaf `patch` sets replaced.
    pub fn patched(&self, patch: &FailsafePatch) -> Failsafe {
        Failsafe {
            breaker_enabled: patch.breaker_enabled.unwrap_or(self.breaker_enabled),
            failure_threshold: patch.failure_threshold.unwrap_or(self.failure_threshold),
            reset_timeout: patch.reset_timeout.unwrap_or(self.reset_timeout),
            retry_enabled: patch.retry_enabled.unwrap_or(self.retry_enabled),
            max_attempts: patch.max_attempts.unwrap_or(self.max_attempts),
            initial_backoff: patch.initial_backoff.unwrap_or(self.initial_backoff),
            max_in_flight: patch.max_in_flight.unwrap_or(self.max_in_flight),
            max_queued: patch.max_queued.unwrap_or(self.max_queued),
            requests_per_minute: patch
                .requests_per_minute
                .unwrap_or(self.requests_per_minute),
            health_interval: patch.health_interval.unwrap_or(self.health_interval),
        }
    }

    /// Attempts a call may make: 1 when retries are off.
    pub fn attempts(&self) -> u32 {
        if self.retry_enabled {
            self.max_attempts.max(1)
        } else {
            1
        }
    }
}
