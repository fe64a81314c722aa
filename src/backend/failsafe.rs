//! The failsafes of one backend: circuit breaker, retry policy, concurrency limit with a
//! bounded queue, rate limit, and the read-only snapshot of all of it ([`FailsafeState`]).
//!
//! The [`Breaker`] is the one policy for a failing backend: after `failure_threshold`
//! consecutive failures (crash, timeout, transport error, failed spawn/connect/handshake — never
//! an `isError` result or a JSON-RPC error the backend answered) it opens, every call fails fast
//! until `reset_timeout` has passed, then one trial call runs (half-open): success closes it,
//! failure opens it again. Retries ([`Replay`], [`backoff`]) happen only where they cannot repeat
//! a side effect: failures before the request reached the backend, and requests the caller marks
//! replay-safe (read-only or idempotent tools, reads). The concurrency limit ([`Slots`]) admits
//! `max_in_flight` calls, queues `max_queued` more, and refuses the rest at once. The rate limit
//! is `crate::ratelimit`'s sliding window, keyed by the backend.
//!
//! Owns the state machines and their counters; it never talks to a backend (the handle in
//! `super` drives it) and never decides how an error reaches a client (`crate::error` does).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::Failsafe;
use crate::error::CallError;
use crate::ratelimit::RateLimiter;

/// The longest backoff between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Whether a request may be sent again after it reached the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Only failures before the request reached the backend are retried (spawn, connect,
    /// handshake): a tool that may have side effects.
    BeforeSend,
    /// Any transport failure may be retried: read-only or idempotent.
    Safe,
}

impl Replay {
    /// The rule for a tool definition: `annotations.readOnlyHint` or `idempotentHint` true
    /// make it safe to send again (MCP tool annotations); anything else may have side effects.
    pub fn of_tool(tool: &Value) -> Replay {
        let hint = |name: &str| {
            tool.pointer(&format!("/annotations/{name}"))
                .and_then(Value::as_bool)
                == Some(true)
        };
        if hint("readOnlyHint") || hint("idempotentHint") {
            Replay::Safe
        } else {
            Replay::BeforeSend
        }
    }

    /// The rule for a forwarded method: `tools/call` depends on the tool (see
    /// [`Replay::of_tool`]), so it is [`Replay::BeforeSend`] unless told otherwise; reads,
    /// gets and completions change nothing.
    pub fn of_method(method: &str) -> Replay {
        if method == "tools/call" {
            Replay::BeforeSend
        } else {
            Replay::Safe
        }
    }
}

/// Whether a failed attempt counts against the backend (breaker) and may be retried.
pub fn is_backend_failure(e: &CallError) -> bool {
    matches!(
        e,
        CallError::Timeout { .. } | CallError::Disconnected { .. } | CallError::Unavailable { .. }
    )
}

/// The wait before attempt `attempt + 1` (`attempt` ≥ 1 failed): `initial · 2^(attempt-1)`,
/// capped at [`MAX_BACKOFF`], then "equal jitter": uniformly in `[half, full]`, so retries of
/// many callers spread out but never come sooner than half the nominal wait.
pub fn backoff(initial: Duration, attempt: u32, random: u64) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(20);
    let full = initial.saturating_mul(factor).min(MAX_BACKOFF);
    let half = full / 2;
    let span = (full - half).as_nanos() as u64;
    let jitter = if span == 0 { 0 } else { random % (span + 1) };
    half + Duration::from_nanos(jitter)
}

/// A random number for jitter (0 if the OS has none to give).
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// What the breaker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls fail fast until the reset timeout passes.
    Open,
    /// The reset timeout passed: one trial call decides.
    HalfOpen,
}

impl BreakerState {
    pub fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

/// Why the breaker refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// When it opened (wall clock, for people) and how long ago (for the message).
    pub since: SystemTime,
    pub open_for: Duration,
    /// Until the next trial call; zero while a trial call is under way.
    pub retry_in: Duration,
    pub failures: u32,
    pub last_failure: Option<String>,
}

impl Refusal {
    /// The sentence a caller reads (the backend is named by the error around it).
    pub fn describe(&self) -> String {
        let when = if self.retry_in.is_zero() {
            "a trial call is under way".to_string()
        } else {
            format!(
                "it tries again in {}",
                crate::error::humantime(round_up(self.retry_in))
            )
        };
        let last = self
            .last_failure
            .as_deref()
            .map(|l| format!(" (last: {l})"))
            .unwrap_or_default();
        format!(
            "circuit breaker open since {} ago after {} consecutive failures{last}; calls fail fast, {when}",
            crate::error::humantime(round_up(self.open_for)),
            self.failures
        )
    }
}

/// Whole seconds above one second, whole milliseconds below (messages, not measurements).
fn round_up(d: Duration) -> Duration {
    if d >= Duration::from_secs(1) {
        Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
    } else {
        Duration::from_millis(d.as_millis() as u64 + u64::from(d.subsec_nanos() % 1_000_000 > 0))
    }
}

/// The breaker state machine, driven by explicit instants so it is tested without waiting.
#[derive(Debug)]
pub struct Breaker {
    enabled: bool,
    threshold: u32,
    reset: Duration,
    failures: u32,
    /// Set while open or half-open.
    opened: Option<(Instant, SystemTime)>,
    open_until: Option<Instant>,
    /// A half-open trial call is running.
    trial: bool,
    last_failure: Option<String>,
}

/// What [`Breaker::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; `trial`: this is the half-open trial call.
    Go {
        trial: bool,
    },
    Refused(Refusal),
}

impl Breaker {
    pub fn new(settings: &Failsafe) -> Breaker {
        Breaker {
            enabled: settings.breaker_enabled,
            threshold: settings.failure_threshold.max(1),
            reset: settings.reset_timeout,
            failures: 0,
            opened: None,
            open_until: None,
            trial: false,
            last_failure: None,
        }
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(_) if self.trial => BreakerState::HalfOpen,
            Some(until) if now >= until => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    /// May a call go to the backend now?
    pub fn admit(&mut self, now: Instant) -> Admission {
        let Some(until) = self.open_until else {
            return Admission::Go { trial: false };
        };
        if now >= until && !self.trial {
            self.trial = true;
            return Admission::Go { trial: true };
        }
        let (opened_at, since) = self.opened.unwrap_or((now, SystemTime::now()));
        Admission::Refused(Refusal {
            since,
            open_for: now.saturating_duration_since(opened_at),
            retry_in: if self.trial {
                Duration::ZERO
            } else {
                until.saturating_duration_since(now)
            },
            failures: self.failures,
            last_failure: self.last_failure.clone(),
        })
    }

    /// The call (or trial call) reached a working backend: the breaker closes.
    pub fn success(&mut self) {
        self.failures = 0;
        self.opened = None;
        self.open_until = None;
        self.trial = false;
    }

    /// The call failed against the backend. Returns true when this opened the breaker.
    pub fn failure(&mut self, now: Instant, reason: &str) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(reason.to_string());
        if !self.enabled {
            return false;
        }
        let was_trial = std::mem::take(&mut self.trial);
        let reopen = was_trial || (self.open_until.is_none() && self.failures >= self.threshold);
        if reopen {
            if !was_trial || self.opened.is_none() {
                self.opened = Some((now, SystemTime::now()));
            }
            self.open_until = Some(now + self.reset);
        }
        reopen
    }

    /// A trial call ended without telling anything (cancelled): the next call is the trial.
    pub fn abandon_trial(&mut self) {
        self.trial = false;
    }

    /// Consecutive failures so far (reset by a success).
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The admitted-call side of the concurrency limit: `max_in_flight` slots, a queue of
/// `max_queued` waiting for one, refusal beyond.
#[derive(Debug)]
pub struct Slots {
    semaphore: std::sync::Arc<Semaphore>,
    max_in_flight: u32,
    max_queued: u32,
    queued: AtomicU32,
}

/// Why a call got no slot.
#[derive(Debug, PartialEq, Eq)]
pub enum NoSlot {
    QueueFull { in_flight: u32, queued: u32 },
    TimedOut(Duration),
    Cancelled,
}

impl Slots {
    pub fn new(max_in_flight: u32, max_queued: u32) -> Slots {
        let max_in_flight = max_in_flight.max(1);
        Slots {
            semaphore: std::sync::Arc::new(Semaphore::new(max_in_flight as usize)),
            max_in_flight,
            max_queued,
            queued: AtomicU32::new(0),
        }
    }

    /// A slot, waiting in the queue if all are taken (bounded by `wait` and `cancel`).
    pub async fn acquire(
        &self,
        wait: Duration,
        cancel: &CancellationToken,
    ) -> Result<OwnedSemaphorePermit, NoSlot> {
        if let Ok(p) = std::sync::Arc::clone(&self.semaphore).try_acquire_owned() {
            return Ok(p);
        }
        // Join the queue only while it has room (decided atomically).
        let joined = self
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q < self.max_queued).then_some(q + 1)
            });
        if let Err(queued) = joined {
            return Err(NoSlot::QueueFull {
                in_flight: self.in_flight(),
                queued,
            });
        }
        struct Leave<'a>(&'a AtomicU32);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(&self.queued);
        tokio::select! {
            p = std::sync::Arc::clone(&self.semaphore).acquire_owned() => {
                p.map_err(|_| NoSlot::Cancelled)
            }
            _ = tokio::time::sleep(wait) => Err(NoSlot::TimedOut(wait)),
            _ = cancel.cancelled() => Err(NoSlot::Cancelled),
        }
    }

    pub fn in_flight(&self) -> u32 {
        self.max_in_flight
            .saturating_sub(self.semaphore.available_permits() as u32)
    }

    pub fn queued(&self) -> u32 {
        self.queued.load(Ordering::SeqCst)
    }
}

/// One backend's failsafes, shared by every call to it.
#[derive(Debug)]
pub struct Failsafes {
    pub settings: Failsafe,
    breaker: Mutex<Breaker>,
    slots: Slots,
    rate: RateLimiter,
    counters: Counters,
    health: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Counters {
    rejected_open: AtomicU64,
    rejected_queue_full: AtomicU64,
    rejected_rate_limited: AtomicU64,
    retries: AtomicU64,
    opened: AtomicU64,
}

#[derive(Debug, Default)]
struct Health {
    last: Option<(SystemTime, Result<(), String>)>,
    next: Option<Instant>,
}

/// Everything a caller may want to show about a backend's failsafes, as plain data: what
/// `gateway_list_servers`, `/readyz`, `doctor` and the metrics read (see
/// [`super::Backend::failsafe_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailsafeState {
    pub breaker: BreakerState,
    /// Consecutive failures (reset by a success).
    pub consecutive_failures: u32,
    /// When the breaker opened, while it is open or half-open.
    pub opened_at: Option<SystemTime>,
    /// When an open breaker lets its trial call through.
    pub open_until: Option<SystemTime>,
    pub last_failure: Option<String>,
    /// Calls running at the backend now, and waiting for a slot.
    pub in_flight: u32,
    pub queued: u32,
    pub max_in_flight: u32,
    pub max_queued: u32,
    /// Calls refused since start: breaker open, queue full, rate limit.
    pub rejected_open: u64,
    pub rejected_queue_full: u64,
    pub rejected_rate_limited: u64,
    /// Attempts made again after a failure.
    pub retries: u64,
    /// Times the breaker opened.
    pub times_opened: u64,
    /// The last health check (HTTP backends with `health_check.interval`): when, and its error.
    pub last_health_check: Option<(SystemTime, Result<(), String>)>,
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| (d.as_millis() as f64) / 1000.0)
        .unwrap_or(0.0)
}

impl FailsafeState {
    /// The JSON shape `gateway_list_servers` and `/readyz` show (times as Unix seconds).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "breaker": self.breaker.label(),
            "consecutive_failures": self.consecutive_failures,
            "in_flight": self.in_flight,
            "queued": self.queued,
            "max_in_flight": self.max_in_flight,
            "max_queued": self.max_queued,
            "rejected": {
                "breaker_open": self.rejected_open,
                "queue_full": self.rejected_queue_full,
                "rate_limited": self.rejected_rate_limited,
            },
            "retries": self.retries,
        });
        if let Some(t) = self.opened_at {
            v["opened_at"] = json!(unix_secs(t));
        }
        if let Some(t) = self.open_until {
            v["open_until"] = json!(unix_secs(t));
        }
        if let Some(l) = &self.last_failure {
            v["last_failure"] = json!(l);
        }
        if let Some((at, result)) = &self.last_health_check {
            v["health_check"] = json!({
                "at": unix_secs(*at),
                "ok": result.is_ok(),
                "error": result.as_ref().err(),
            });
        }
        v
    }

    /// One line for people: `breaker open (5 failures, retry in 12s) · 2 in flight, 1 queued`.
    pub fn summary(&self) -> String {
        let breaker = match self.breaker {
            BreakerState::Closed if self.consecutive_failures == 0 => "breaker closed".to_string(),
            BreakerState::Closed => format!(
                "breaker closed ({} consecutive failures)",
                self.consecutive_failures
            ),
            BreakerState::Open => {
                let left = self
                    .open_until
                    .and_then(|t| t.duration_since(SystemTime::now()).ok())
                    .unwrap_or_default();
                format!(
                    "breaker OPEN ({} failures; next try in {})",
                    self.consecutive_failures,
                    crate::error::humantime(round_up(left))
                )
            }
            BreakerState::HalfOpen => "breaker half-open (trial call next)".to_string(),
        };
        format!(
            "{breaker} · {}/{} in flight, {}/{} queued · refused: {} open, {} queue full, {} rate",
            self.in_flight,
            self.max_in_flight,
            self.queued,
            self.max_queued,
            self.rejected_open,
            self.rejected_queue_full,
            self.rejected_rate_limited
        )
    }
}

/// The configured failsafes in one line (`list`, `doctor`): `breaker 5×/30s · retry ×3 from
/// 100ms · 16 in flight + 64 queued · no rate limit · health every 30s`.
pub fn settings_summary(s: &Failsafe, http: bool) -> String {
    use crate::error::humantime;
    let breaker = if s.breaker_enabled {
        format!(
            "breaker {} failures/{}",
            s.failure_threshold,
            humantime(s.reset_timeout)
        )
    } else {
        "no breaker".to_string()
    };
    let retry = if s.attempts() > 1 {
        format!(
            "retry ×{} from {}",
            s.attempts(),
            humantime(s.initial_backoff)
        )
    } else {
        "no retry".to_string()
    };
    let rate = match s.requests_per_minute {
        0 => "no rate limit".to_string(),
        n => format!("{n}/min"),
    };
    let mut line = format!(
        "{breaker} · {retry} · {} in flight + {} queued · {rate}",
        s.max_in_flight, s.max_queued
    );
    if http && !s.health_interval.is_zero() {
        line.push_str(&format!(" · health every {}", humantime(s.health_interval)));
    }
    line
}

/// Held by an admitted call: reports its outcome to the breaker; dropped without one (the call
/// was cancelled), a trial call gives the trial to the next caller.
pub struct Ticket<'a> {
    owner: &'a Failsafes,
    trial: bool,
    done: bool,
}

impl Ticket<'_> {
    /// Records how the attempt ended: backend failures count, anything else closes.
    pub fn finish(mut self, result: Result<(), &CallError>) {
        self.done = true;
        self.owner.record(result);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done && self.trial {
            self.owner.lock_breaker().abandon_trial();
        }
    }
}

impl Failsafes {
    pub fn new(settings: Failsafe) -> Failsafes {
        Failsafes {
            breaker: Mutex::new(Breaker::new(&settings)),
            slots: Slots::new(settings.max_in_flight, settings.max_queued),
            rate: RateLimiter::new(),
            counters: Counters::default(),
            health: Mutex::default(),
            settings,
        }
    }

    fn lock_breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rate limit: one admission per call (not per attempt).
    pub fn check_rate(&self, backend: &str) -> Result<(), CallError> {
        let limit = self.settings.requests_per_minute;
        if limit == 0 {
            return Ok(());
        }
        let d = self.rate.check(backend, limit);
        if d.allowed {
            return Ok(());
        }
        self.counters
            .rejected_rate_limited
            .fetch_add(1, Ordering::Relaxed);
        Err(CallError::RateLimited {
            backend: backend.to_string(),
            limit,
            retry_after: Duration::from_secs(d.retry_after_secs()),
        })
    }

    /// A slot of the concurrency limit (see [`Slots::acquire`]), as the call's error.
    pub async fn slot(
        &self,
        backend: &str,
        wait: Duration,
        cancel: &CancellationToken,
    ) -> Result<OwnedSemaphorePermit, CallError> {
        self.slots
            .acquire(wait, cancel)
            .await
            .map_err(|why| match why {
                NoSlot::QueueFull { in_flight, queued } => {
                    self.counters
                        .rejected_queue_full
                        .fetch_add(1, Ordering::Relaxed);
                    CallError::Overloaded {
                        backend: backend.to_string(),
                        detail: format!(
                            "{in_flight} calls in flight (max_in_flight {}) and {queued} queued (max_queued {})",
                            self.slots.max_in_flight, self.slots.max_queued
                        ),
                    }
                }
                NoSlot::TimedOut(after) => CallError::Timeout {
                    backend: backend.to_string(),
                    after,
                },
                NoSlot::Cancelled => CallError::Cancelled,
            })
    }

    /// The breaker's admission for one attempt.
    pub fn admit(&self, backend: &str) -> Result<Ticket<'_>, CallError> {
        match self.lock_breaker().admit(Instant::now()) {
            Admission::Go { trial } => Ok(Ticket {
                owner: self,
                trial,
                done: false,
            }),
            Admission::Refused(r) => {
                self.counters.rejected_open.fetch_add(1, Ordering::Relaxed);
                Err(CallError::CircuitOpen {
                    backend: backend.to_string(),
                    detail: r.describe(),
                })
            }
        }
    }

    fn record(&self, result: Result<(), &CallError>) {
        let mut b = self.lock_breaker();
        match result {
            Err(e) if is_backend_failure(e) => {
                if b.failure(Instant::now(), &e.to_string()) {
                    self.counters.opened.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(CallError::Cancelled) => b.abandon_trial(),
            _ => b.success(),
        }
    }

    /// Counts one more attempt after a failure.
    pub fn count_retry(&self) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the breaker is open (an attempt now would be refused).
    pub fn is_open(&self) -> bool {
        self.lock_breaker().state(Instant::now()) == BreakerState::Open
    }

    /// Whether a health check is due now (and books the next one).
    pub fn health_due(&self) -> bool {
        let interval = self.settings.health_interval;
        if interval.is_zero() {
            return false;
        }
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match h.next {
            Some(next) if now < next => false,
            _ => {
                h.next = Some(now + interval);
                true
            }
        }
    }

    /// Records a health check's outcome (it also feeds the breaker).
    pub fn health_result(&self, result: Result<(), &CallError>) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.last = Some((
            SystemTime::now(),
            result.map_err(std::string::ToString::to_string),
        ));
    }

    pub fn state(&self) -> FailsafeState {
        let now = Instant::now();
        let wall = SystemTime::now();
        let b = self.lock_breaker();
        let c = &self.counters;
        FailsafeState {
            breaker: b.state(now),
            consecutive_failures: b.failures(),
            opened_at: b.opened.map(|(_, since)| since),
            open_until: b
                .open_until
                .map(|until| wall + until.saturating_duration_since(now)),
            last_failure: b.last_failure.clone(),
            in_flight: self.slots.in_flight(),
            queued: self.slots.queued(),
            max_in_flight: self.slots.max_in_flight,
            max_queued: self.slots.max_queued,
            rejected_open: c.rejected_open.load(Ordering::Relaxed),
            rejected_queue_full: c.rejected_queue_full.load(Ordering::Relaxed),
            rejected_rate_limited: c.rejected_rate_limited.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            times_opened: c.opened.load(Ordering::Relaxed),
            last_health_check: self
                .health
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(threshold: u32, reset_ms: u64) -> Failsafe {
        Failsafe {
            failure_threshold: threshold,
            reset_timeout: Duration::from_millis(reset_ms),
            ..Failsafe::default()
        }
    }

    #[test]
    fn breaker_opens_after_threshold_fails_fast_half_opens_and_closes() {
        let mut b = Breaker::new(&settings(3, 1000));
        let t0 = Instant::now();
        for i in 0..2 {
            assert_eq!(b.admit(t0), Admission::Go { trial: false });
            assert!(!b.failure(t0, "crash"), "failure {i} must not open");
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        assert!(b.failure(t0, "crash"), "the third failure opens");
        assert_eq!(b.state(t0), BreakerState::Open);
        let t1 = t0 + Duration::from_millis(400);
        match b.admit(t1) {
            Admission::Refused(r) => {
                assert_eq!(r.retry_in, Duration::from_millis(600));
                assert_eq!(r.open_for, Duration::from_millis(400));
                assert_eq!(r.failures, 3);
                assert!(
                    r.describe().contains("tries again in 600ms"),
                    "{}",
                    r.describe()
                );
            }
            other => panic!("open breaker admitted {other:?}"),
        }
        let t2 = t0 + Duration::from_millis(1000);
        assert_eq!(b.state(t2), BreakerState::HalfOpen);
        assert_eq!(b.admit(t2), Admission::Go { trial: true });
        // Only one trial at a time.
        assert!(matches!(b.admit(t2), Admission::Refused(r) if r.retry_in.is_zero()));
        b.success();
        assert_eq!(b.state(t2), BreakerState::Closed);
        assert_eq!(b.failures(), 0);
        assert_eq!(b.admit(t2), Admission::Go { trial: false });
    }

    #[test]
    fn a_failed_trial_reopens_for_another_reset_timeout() {
        let mut b = Breaker::new(&settings(1, 100));
        let t0 = Instant::now();
        assert!(b.failure(t0, "x"));
        let t1 = t0 + Duration::from_millis(150);
        assert_eq!(b.admit(t1), Admission::Go { trial: true });
        assert!(b.failure(t1, "again"), "a failed trial opens again");
        assert_eq!(b.state(t1), BreakerState::Open);
        assert!(
            matches!(b.admit(t1 + Duration::from_millis(50)), Admission::Refused(r) if r.retry_in == Duration::from_millis(50))
        );
        assert_eq!(
            b.admit(t1 + Duration::from_millis(100)),
            Admission::Go { trial: true }
        );
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_call_try() {
        let mut b = Breaker::new(&settings(1, 10));
        let t0 = Instant::now();
        b.failure(t0, "x");
        let t1 = t0 + Duration::from_millis(10);
        assert_eq!(b.admit(t1), Admission::Go { trial: true });
        b.abandon_trial();
        assert_eq!(b.admit(t1), Admission::Go { trial: true });
    }

    #[test]
    fn a_disabled_breaker_counts_but_never_opens() {
        let mut b = Breaker::new(&Failsafe {
            breaker_enabled: false,
            failure_threshold: 1,
            ..Failsafe::default()
        });
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(!b.failure(t0, "x"));
            assert_eq!(b.admit(t0), Admission::Go { trial: false });
        }
        assert_eq!(b.failures(), 10);
    }

    #[test]
    fn backoff_doubles_with_jitter_inside_half_to_full_and_caps() {
        let initial = Duration::from_millis(100);
        for attempt in 1..=12u32 {
            let full = (initial * (1 << (attempt - 1))).min(MAX_BACKOFF);
            for random in [0, 1, u64::MAX / 3, u64::MAX - 1, u64::MAX, random_u64()] {
                let d = backoff(initial, attempt, random);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
            }
        }
        assert_eq!(backoff(initial, 1, 0), Duration::from_millis(50));
        assert_eq!(backoff(initial, 40, u64::MAX).max(MAX_BACKOFF), MAX_BACKOFF);
        // Spread: many draws do not all land on one value.
        let draws: std::collections::BTreeSet<_> =
            (0..32).map(|_| backoff(initial, 3, random_u64())).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn replay_follows_the_tool_annotations() {
        assert_eq!(
            Replay::of_tool(&json!({"name": "a", "annotations": {"readOnlyHint": true}})),
            Replay::Safe
        );
        assert_eq!(
            Replay::of_tool(&json!({"name": "a", "annotations": {"idempotentHint": true}})),
            Replay::Safe
        );
        assert_eq!(
            Replay::of_tool(
                &json!({"name": "a", "annotations": {"readOnlyHint": false, "destructiveHint": true}})
            ),
            Replay::BeforeSend
        );
        assert_eq!(Replay::of_tool(&json!({"name": "a"})), Replay::BeforeSend);
        assert_eq!(Replay::of_method("tools/call"), Replay::BeforeSend);
        assert_eq!(Replay::of_method("resources/read"), Replay::Safe);
    }

    #[tokio::test]
    async fn slots_queue_up_to_the_bound_and_refuse_beyond_at_once() {
        let slots = std::sync::Arc::new(Slots::new(2, 1));
        let cancel = CancellationToken::new();
        let long = Duration::from_secs(60);
        let a = slots.acquire(long, &cancel).await.unwrap();
        let _b = slots.acquire(long, &cancel).await.unwrap();
        let waiter = {
            let slots = std::sync::Arc::clone(&slots);
            let cancel = cancel.clone();
            tokio::spawn(async move { slots.acquire(long, &cancel).await.map(drop) })
        };
        while slots.queued() < 1 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            slots.acquire(long, &cancel).await,
            Err(NoSlot::QueueFull {
                in_flight: 2,
                queued: 1
            })
        ));
        drop(a);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(slots.queued(), 0);
    }

    #[tokio::test]
    async fn a_queued_call_honours_cancellation_and_its_timeout() {
        let slots = Slots::new(1, 4);
        let cancel = CancellationToken::new();
        let _held = slots
            .acquire(Duration::from_secs(1), &cancel)
            .await
            .unwrap();
        let short = slots.acquire(Duration::from_millis(20), &cancel).await;
        assert!(matches!(short, Err(NoSlot::TimedOut(_))));
        let c2 = CancellationToken::new();
        c2.cancel();
        assert!(matches!(
            slots.acquire(Duration::from_secs(60), &c2).await,
            Err(NoSlot::Cancelled)
        ));
        assert_eq!(slots.queued(), 0, "leaving the queue frees its place");
    }
}
