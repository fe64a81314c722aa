//! Fronts: how clients reach the gateway's sessions.
//!
//! `http` is the Streamable HTTP listener of `mcp-gateway serve` (both protocol eras on one
//! endpoint); `modern` serves the stateless 2026-07-28 era on any front; `link` runs a session
//! behind messages for fronts that are not one long-lived line stream. A front frames, checks
//! and routes messages; it never decides what a method means (that is the session's) and never
//! talks to a backend except through a session.

pub mod http;
pub mod link;
pub mod modern;
pub mod share;
