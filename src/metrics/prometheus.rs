//! The Prometheus text exposition (format 0.0.4, through the `prometheus-client` crate) of the
//! usage profiles: tool calls by server/tool/outcome, their latency histograms and last use.
//!
//! Label sets are bounded: at most [`TOOL_SERIES_MAX`] (server, tool) pairs get series of their
//! own (the most called first, and only those the caller says are listed, e.g. tools in the
//! catalog of a configured backend); every other call is summed under
//! `server="(other)", tool="(other)"`. Outcomes are a fixed list. So a client calling made-up
//! tool names (which are refused before any profile records them) or a backend listing
//! thousands of tools cannot grow the exposition without bound.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::histogram::Latency;
use super::profiles::{ToolData, ToolStats};

/// (server, tool) pairs with series of their own, at most.
pub const TOOL_SERIES_MAX: usize = 200;
/// The label value of everything beyond the bound.
pub const OTHER: &str = "(other)";
/// The prefix of every family.
pub const PREFIX: &str = "mcp_gateway";
/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Folds `stats` into the bounded label set: the [`TOOL_SERIES_MAX`] most called pairs for
/// which `listed(server, tool)` holds keep their names, the rest become one `(other)` entry.
pub fn bounded(mut stats: Vec<ToolStats>, listed: impl Fn(&str, &str) -> bool) -> Vec<ToolStats> {
    stats.sort_by(|a, b| {
        b.data
            .calls()
            .cmp(&a.data.calls())
            .then_with(|| (&a.server, &a.tool).cmp(&(&b.server, &b.tool)))
    });
    let mut kept = Vec::new();
    let mut other = ToolData::default();
    let mut folded = false;
    for s in stats {
        if kept.len() < TOOL_SERIES_MAX
            && s.tool != super::profiles::OTHER_TOOL
            && listed(&s.server, &s.tool)
        {
            kept.push(s);
        } else {
            other.ok += s.data.ok;
            other.tool_errors += s.data.tool_errors;
            other.errors += s.data.errors;
            other.cancelled += s.data.cancelled;
            other.last_used_ms = other.last_used_ms.max(s.data.last_used_ms);
            other.latency.merge(&s.data.latency);
            folded = true;
        }
    }
    kept.sort_by(|a, b| (&a.server, &a.tool).cmp(&(&b.server, &b.tool)));
    if folded {
        kept.push(ToolStats {
            server: OTHER.into(),
            tool: OTHER.into(),
            data: other,
        });
    }
    kept
}

/// The tool families of `stats` (already [`bounded`]).
#[derive(Debug)]
pub struct ToolFamilies(pub Vec<ToolStats>);

impl Collector for ToolFamilies {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut family = encoder.encode_descriptor(
                "tool_calls",
                "Tool calls forwarded to backends, by how they ended (ok; tool_error: the tool \
                 answered isError; error: timeout, transport or backend failure; cancelled). \
                 Persisted in the state dir, so it continues across restarts.",
                None,
                MetricType::Counter,
            )?;
            for s in &self.0 {
                for (outcome, n) in s.data.by_outcome() {
                    let labels = [
                        ("server", s.server.as_str()),
                        ("tool", s.tool.as_str()),
                        ("outcome", outcome.name()),
                    ];
                    family
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "tool_call_duration_seconds",
                "Time from forwarding a tool call to its answer, every outcome.",
                None,
                MetricType::Histogram,
            )?;
            for s in &self.0 {
                let labels = [("server", s.server.as_str()), ("tool", s.tool.as_str())];
                encode_latency(&mut family.encode_family(&labels)?, &s.data.latency)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "tool_last_used_timestamp_seconds",
            "When the tool was last called (Unix time).",
            None,
            MetricType::Gauge,
        )?;
        for s in self.0.iter().filter(|s| s.data.last_used_ms > 0) {
            let labels = [("server", s.server.as_str()), ("tool", s.tool.as_str())];
            family
                .encode_family(&labels)?
                .encode_gauge(&(s.data.last_used_ms as f64 / 1000.0))?;
        }
        Ok(())
    }
}

fn encode_latency(
    encoder: &mut prometheus_client::encoding::MetricEncoder<'_>,
    latency: &Latency,
) -> Result<(), std::fmt::Error> {
    let buckets = latency.exported_buckets();
    encoder.encode_histogram::<NoLabelSet>(
        latency.sum_us as f64 / 1e6,
        latency.count(),
        &buckets,
        None,
    )
}

/// A histogram recorded in process (e.g. search latency), exposed with the same bounds as tool
/// latency.
#[derive(Debug, Default, Clone)]
pub struct LiveHistogram(pub std::sync::Arc<super::histogram::Histogram>);

impl EncodeMetric for LiveHistogram {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        encode_latency(&mut encoder, &self.0.snapshot())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The text of `registry`.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; an encoder error would be a bug in a collector.
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, registry) {
        tracing::error!("cannot encode metrics: {e}");
    }
    out
}

/// The exposition of the tool families alone (`mcp-gateway stats --prometheus`).
pub fn tools_text(stats: Vec<ToolStats>) -> String {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(ToolFamilies(bounded(stats, |_, _| true))));
    render(&registry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{CallOutcome, Profiles};
    use std::time::Duration;

    #[test]
    fn the_tool_families_hold_counts_and_cumulative_buckets() {
        let p = Profiles::default();
        p.record("time", "now", CallOutcome::Ok, Duration::from_millis(3));
        p.record(
            "time",
            "now",
            CallOutcome::ToolError,
            Duration::from_millis(30),
        );
        let text = tools_text(p.snapshot());
        assert!(
            text.contains("# TYPE mcp_gateway_tool_calls_total counter"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mcp_gateway_tool_calls_total{server="time",tool="now",outcome="ok"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mcp_gateway_tool_calls_total{server="time",tool="now",outcome="tool_error"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"mcp_gateway_tool_call_duration_seconds_bucket{server="time",tool="now",le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"mcp_gateway_tool_call_duration_seconds_bucket{server="time",tool="now",le="+Inf"} 2"#), "{text}");
        assert!(
            text.contains(
                r#"mcp_gateway_tool_call_duration_seconds_count{server="time",tool="now"} 2"#
            ),
            "{text}"
        );
    }

    #[test]
    fn series_are_bounded_and_the_rest_is_other() {
        let p = Profiles::default();
        for i in 0..TOOL_SERIES_MAX + 100 {
            for _ in 0..=(i % 3) {
                p.record("s", &format!("t{i}"), CallOutcome::Ok, Duration::ZERO);
            }
        }
        p.record("gone", "x", CallOutcome::Ok, Duration::ZERO);
        let total: u64 = p.snapshot().iter().map(|s| s.data.calls()).sum();
        let b = bounded(p.snapshot(), |server, _| server != "gone");
        assert_eq!(b.len(), TOOL_SERIES_MAX + 1);
        assert_eq!(b.last().unwrap().tool, OTHER);
        assert_eq!(b.iter().map(|s| s.data.calls()).sum::<u64>(), total);
        // The most called keep their names.
        assert!(
            b.iter()
                .filter(|s| s.tool != OTHER)
                .all(|s| s.data.calls() >= 2)
        );
        assert!(!b.iter().any(|s| s.server == "gone"));
    }
}

/// One backend's numbers at scrape time (plain data: the gateway fills it from its handles).
#[derive(Debug, Clone)]
pub struct BackendSample {
    pub name: String,
    /// `not_started`, `starting`, `running`, `stopped` or `failed`.
    pub state: &'static str,
    pub starts: u64,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    pub in_flight: u32,
    pub queued: u32,
    /// Calls refused by the failsafes, by reason (`breaker_open`, `queue_full`, `rate_limited`).
    pub rejected: [(&'static str, u64); 3],
    pub retries: u64,
    pub breaker_opened: u64,
}

/// The states a backend may be in (one-hot in `backend_state`).
pub const BACKEND_STATES: [&str; 5] = ["not_started", "starting", "running", "stopped", "failed"];
/// The states a breaker may be in (one-hot in `backend_breaker_state`).
pub const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

/// The backend families (labels: the configured backend names, bounded by the config).
#[derive(Debug)]
pub struct BackendFamilies(pub Vec<BackendSample>);

impl BackendFamilies {
    fn gauge(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        samples: &[BackendSample],
        value: impl Fn(&BackendSample) -> i64,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for b in samples {
            family
                .encode_family(&[("backend", b.name.as_str())])?
                .encode_gauge(&value(b))?;
        }
        Ok(())
    }

    fn counter(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        samples: &[BackendSample],
        value: impl Fn(&BackendSample) -> u64,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for b in samples {
            family
                .encode_family(&[("backend", b.name.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(&value(b), None)?;
        }
        Ok(())
    }

    fn one_hot(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        samples: &[BackendSample],
        states: &[&str],
        state: impl Fn(&BackendSample) -> &'static str,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for b in samples {
            for s in states {
                family
                    .encode_family(&[("backend", b.name.as_str()), ("state", s)])?
                    .encode_gauge(&i64::from(state(b) == *s))?;
            }
        }
        Ok(())
    }
}

impl Collector for BackendFamilies {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let b = &self.0;
        Self::gauge(
            &mut encoder,
            "backend_up",
            "1 while the backend runs",
            b,
            |s| i64::from(s.state == "running"),
        )?;
        Self::one_hot(
            &mut encoder,
            "backend_state",
            "The backend's state (1 for the current one)",
            b,
            &BACKEND_STATES,
            |s| s.state,
        )?;
        Self::counter(
            &mut encoder,
            "backend_starts",
            "Times the backend was started: the first start and every restart (after a crash or an idle stop)",
            b,
            |s| s.starts,
        )?;
        Self::one_hot(
            &mut encoder,
            "backend_breaker_state",
            "The backend's circuit breaker (1 for the current state)",
            b,
            &BREAKER_STATES,
            |s| s.breaker,
        )?;
        Self::counter(
            &mut encoder,
            "backend_breaker_opened",
            "Times the backend's circuit breaker opened",
            b,
            |s| s.breaker_opened,
        )?;
        Self::gauge(
            &mut encoder,
            "backend_in_flight",
            "Calls running at the backend now",
            b,
            |s| i64::from(s.in_flight),
        )?;
        Self::gauge(
            &mut encoder,
            "backend_queued",
            "Calls waiting for one of the backend's concurrency slots",
            b,
            |s| i64::from(s.queued),
        )?;
        Self::counter(
            &mut encoder,
            "backend_retries",
            "Attempts sent again after a failure (only where safe)",
            b,
            |s| s.retries,
        )?;
        let mut family = encoder.encode_descriptor(
            "backend_rejected",
            "Calls the backend's failsafes refused, by reason",
            None,
            MetricType::Counter,
        )?;
        for s in b {
            for (reason, n) in s.rejected {
                family
                    .encode_family(&[("backend", s.name.as_str()), ("reason", reason)])?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        Ok(())
    }
}
