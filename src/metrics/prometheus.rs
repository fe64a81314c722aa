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
#[derive(Debug, Default)]
pub struct LiveHistogram(pub super::histogram::Histogram);

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
