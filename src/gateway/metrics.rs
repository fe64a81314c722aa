//! The gateway's numbers: the usage profiles saved to the state dir, and the Prometheus
//! exposition (`/metrics`) over the live counters, every backend's state and failsafes and the
//! profiles. It never decides who may read them (the caller passes its scope) and never gives a
//! tool series of its own unless it is cataloged for a configured backend.

use std::collections::BTreeSet;

use super::Gateway;

impl Gateway {
    /// The Prometheus text exposition of this gateway (`/metrics`): the live counters, every
    /// backend's state and failsafes, and the tool families from the usage profiles. Only
    /// servers `sees` and tools `permits` count (a caller's scope; profiles may name servers no
    /// longer configured, which the caller decides about too); a tool gets series of
    /// its own only while it is in the catalog of a configured backend (see
    /// [`crate::metrics::prometheus::bounded`]).
    pub fn prometheus_text(
        &self,
        sees: impl Fn(&str) -> bool,
        permits: impl Fn(&str, &str) -> bool,
    ) -> String {
        use crate::metrics::prometheus::{
            self as prom, BackendFamilies, BackendSample, ToolFamilies,
        };
        let mut registry = prometheus_client::registry::Registry::with_prefix(prom::PREFIX);
        self.metrics.register(&mut registry);
        let backends = self
            .backends()
            .iter()
            .filter(|b| sees(b.name()))
            .map(|b| {
                let f = b.failsafe_state();
                BackendSample {
                    name: b.name().to_string(),
                    state: match b.status() {
                        crate::backend::Status::NotStarted => "not_started",
                        crate::backend::Status::Starting => "starting",
                        crate::backend::Status::Running => "running",
                        crate::backend::Status::Stopped => "stopped",
                        crate::backend::Status::Failed(_) => "failed",
                    },
                    starts: b.starts(),
                    breaker: match f.breaker {
                        crate::backend::failsafe::BreakerState::Closed => "closed",
                        crate::backend::failsafe::BreakerState::Open => "open",
                        crate::backend::failsafe::BreakerState::HalfOpen => "half_open",
                    },
                    in_flight: f.in_flight,
                    queued: f.queued,
                    rejected: [
                        ("breaker_open", f.rejected_open),
                        ("queue_full", f.rejected_queue_full),
                        ("rate_limited", f.rejected_rate_limited),
                    ],
                    retries: f.retries,
                    breaker_opened: f.times_opened,
                }
            })
            .collect();
        registry.register_collector(Box::new(BackendFamilies(backends)));
        let stats: Vec<_> = self
            .profiles
            .snapshot()
            .into_iter()
            .filter(|s| {
                sees(&s.server)
                    && (s.tool == crate::metrics::profiles::OTHER_TOOL
                        || permits(&s.server, &s.tool))
            })
            .collect();
        let configured: BTreeSet<String> = self
            .backends()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        let listed = |server: &str, tool: &str| {
            configured.contains(server)
                && self
                    .catalog
                    .get(server)
                    .is_some_and(|e| e.tool(tool).is_some())
        };
        registry.register_collector(Box::new(ToolFamilies(prom::bounded(stats, listed))));
        prom::render(&registry)
    }

    /// Adds the calls recorded since the last save to the usage profiles in the state dir.
    pub(super) fn save_profiles(&self) {
        let Some(paths) = &self.paths else { return };
        if let Err(e) = self.profiles.save(&paths.state_dir) {
            tracing::warn!("cannot save usage profiles: {e}");
        }
    }
}
