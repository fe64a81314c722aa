//! The latency histogram of one tool: fixed log-spaced buckets, recorded with atomics.
//!
//! Why fixed buckets and not a quantile sketch (t-digest, DDSketch): a fixed set is lock-free
//! to record (one binary search over 71 bounds and two atomic adds), costs 72 counters per tool
//! whatever the traffic, merges across processes and restarts by adding counts (the state file
//! of several sidecars adds up), and its bounds include the Prometheus exposition's coarse
//! bounds, so `/metrics` histograms come from the same counts as `stats` percentiles.
//!
//! Bounds: ten per decade (×1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8) from 100 µs to 1000 s, plus an
//! overflow bucket. A percentile is interpolated inside its bucket and clamped to the exact
//! minimum and maximum seen, so it is never off by more than that bucket's width (at most a
//! third of its value) and is exact when all calls fall into one bucket's min..max.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Multipliers of each decade.
const STEPS: [u64; 10] = [100, 125, 150, 200, 250, 300, 400, 500, 600, 800];
/// Decades covered, starting at 100 µs.
const DECADES: u32 = 7;
/// Number of finite upper bounds.
pub const BOUNDS: usize = STEPS.len() * DECADES as usize + 1;
/// Number of buckets (one more than the bounds: the overflow).
pub const BUCKETS: usize = BOUNDS + 1;

/// The finite upper bounds in microseconds, ascending (100 µs … 1000 s).
pub static UPPER_US: LazyLock<[u64; BOUNDS]> = LazyLock::new(|| {
    let mut out = [0u64; BOUNDS];
    for d in 0..DECADES {
        for (i, s) in STEPS.iter().enumerate() {
            out[d as usize * STEPS.len() + i] = s * 10u64.pow(d);
        }
    }
    out[BOUNDS - 1] = 100 * 10u64.pow(DECADES);
    out
});

/// The bounds of the Prometheus exposition (seconds); each is one of [`UPPER_US`].
pub const EXPORTED_SECONDS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The bucket a duration of `us` microseconds falls into (upper bounds are inclusive).
pub fn bucket_of(us: u64) -> usize {
    UPPER_US.partition_point(|&b| b < us)
}

/// A histogram being recorded.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
    min_us: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn record(&self, us: u64) {
        self.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.min_us.fetch_min(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Adds `other`'s counts (a loaded profile, or another process's calls).
    pub fn add(&self, other: &Latency) {
        for (b, n) in self.buckets.iter().zip(other.buckets.iter()) {
            if *n > 0 {
                b.fetch_add(*n, Ordering::Relaxed);
            }
        }
        self.sum_us.fetch_add(other.sum_us, Ordering::Relaxed);
        if other.count() > 0 {
            self.min_us.fetch_min(other.min_us, Ordering::Relaxed);
            self.max_us.fetch_max(other.max_us, Ordering::Relaxed);
        }
    }

    /// A copy of the counts as they are now.
    pub fn snapshot(&self) -> Latency {
        let buckets: [u64; BUCKETS] =
            std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed));
        let count: u64 = buckets.iter().sum();
        Latency {
            buckets,
            sum_us: self.sum_us.load(Ordering::Relaxed),
            min_us: if count == 0 {
                0
            } else {
                self.min_us.load(Ordering::Relaxed)
            },
            max_us: self.max_us.load(Ordering::Relaxed),
        }
    }
}

/// Histogram counts at one moment (plain data: what is saved, merged and shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latency {
    pub buckets: [u64; BUCKETS],
    pub sum_us: u64,
    /// Exact minimum and maximum seen (0 when empty).
    pub min_us: u64,
    pub max_us: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            buckets: [0; BUCKETS],
            sum_us: 0,
            min_us: 0,
            max_us: 0,
        }
    }
}

impl Latency {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// `self - earlier` for counts (what was recorded since `earlier`); min/max stay `self`'s.
    pub fn minus(&self, earlier: &Latency) -> Latency {
        Latency {
            buckets: std::array::from_fn(|i| self.buckets[i].saturating_sub(earlier.buckets[i])),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
            min_us: self.min_us,
            max_us: self.max_us,
        }
    }

    /// Adds `other` into `self` (counts add, min/max widen).
    pub fn merge(&mut self, other: &Latency) {
        let had = self.count() > 0;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.sum_us += other.sum_us;
        if other.count() > 0 {
            self.min_us = if had {
                self.min_us.min(other.min_us)
            } else {
                other.min_us
            };
            self.max_us = self.max_us.max(other.max_us);
        }
    }

    /// The `q` quantile (0 < q ≤ 1) in microseconds, `None` without calls.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut below = 0u64;
        for (i, &c) in self.buckets.iter().enumerate() {
            if c == 0 {
                continue;
            }
            if below + c >= rank {
                let lo = if i == 0 { 0 } else { UPPER_US[i - 1] };
                let hi = if i < BOUNDS {
                    UPPER_US[i]
                } else {
                    self.max_us.max(lo)
                };
                let into = (rank - below) as f64 / c as f64;
                let estimate = lo as f64 + (hi - lo) as f64 * into;
                return Some((estimate.round() as u64).clamp(self.min_us, self.max_us));
            }
            below += c;
        }
        Some(self.max_us)
    }

    /// Cumulative counts at each of [`EXPORTED_SECONDS`] (the `+Inf` bucket is the count).
    pub fn exported_buckets(&self) -> Vec<(f64, u64)> {
        let mut out = Vec::with_capacity(EXPORTED_SECONDS.len() + 1);
        let mut cumulative = 0u64;
        let mut next = 0usize;
        for &le in &EXPORTED_SECONDS {
            let le_us = (le * 1e6).round() as u64;
            while next < BOUNDS && UPPER_US[next] <= le_us {
                cumulative += self.buckets[next];
                next += 1;
            }
            out.push((le, cumulative));
        }
        out.push((f64::INFINITY, self.count()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_ascend_and_hold_every_exported_bound() {
        assert!(UPPER_US.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(UPPER_US[0], 100);
        assert_eq!(UPPER_US[BOUNDS - 1], 1_000_000_000);
        for le in EXPORTED_SECONDS {
            let us = (le * 1e6).round() as u64;
            assert!(UPPER_US.contains(&us), "{le} s is not a bound");
        }
        // No bucket is wider than a third of its upper bound.
        assert!(UPPER_US.windows(2).all(|w| (w[1] - w[0]) * 3 <= w[1] + 1));
    }

    #[test]
    fn buckets_take_their_upper_bound_inclusively() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(100), 0);
        assert_eq!(bucket_of(101), 1);
        assert_eq!(bucket_of(1_000_000_000), BOUNDS - 1);
        assert_eq!(bucket_of(1_000_000_001), BOUNDS);
        assert_eq!(bucket_of(u64::MAX), BOUNDS);
    }

    #[test]
    fn percentiles_stay_within_a_bucket_of_the_truth() {
        let h = Histogram::default();
        // 1..=1000 ms, uniformly.
        for ms in 1..=1000u64 {
            h.record(ms * 1000);
        }
        let l = h.snapshot();
        assert_eq!(l.count(), 1000);
        let p50 = l.quantile_us(0.5).unwrap() as f64;
        let p95 = l.quantile_us(0.95).unwrap() as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.34, "{p50}");
        assert!((p95 - 950_000.0).abs() / 950_000.0 < 0.34, "{p95}");
        assert_eq!(l.quantile_us(1.0), Some(1_000_000));
        assert_eq!(l.min_us, 1000);
        // All in one bucket: clamped to the exact min and max.
        let one = Histogram::default();
        for _ in 0..10 {
            one.record(4200);
        }
        assert_eq!(one.snapshot().quantile_us(0.5), Some(4200));
        assert_eq!(Latency::default().quantile_us(0.5), None);
    }

    #[test]
    fn exported_buckets_are_cumulative_and_end_with_the_count() {
        let h = Histogram::default();
        for us in [500, 900, 1000, 1001, 40_000, 2_000_000_000] {
            h.record(us);
        }
        let b = h.snapshot().exported_buckets();
        assert_eq!(b[0], (0.001, 3));
        assert_eq!(b[1], (0.0025, 4));
        assert_eq!(b[5], (0.05, 5));
        assert_eq!(b.last().unwrap().1, 6);
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[test]
    fn merging_and_subtracting_are_inverse_for_counts() {
        let a = Histogram::default();
        a.record(300);
        a.record(70_000);
        let before = a.snapshot();
        a.record(9_000);
        let delta = a.snapshot().minus(&before);
        assert_eq!(delta.count(), 1);
        let mut back = before.clone();
        back.merge(&delta);
        assert_eq!(back.buckets, a.snapshot().buckets);
        assert_eq!(back.sum_us, a.snapshot().sum_us);
    }
}
