//! What the gateway measures about itself: per-tool usage profiles (persisted) and the
//! latency histogram they use.
//!
//! Owns the counting and the numbers; it never serves them (the fronts do: `/metrics`,
//! `/api/v1/metrics`, `mcp-gateway stats`) and never decides who may read them.

pub mod histogram;
pub mod live;
pub mod profiles;
pub mod prometheus;

pub use histogram::Latency;
pub use profiles::{CallOutcome, Profiles, ToolData, ToolStats};
