//! Fronts: how clients reach the gateway's sessions.
//!
//! A front owns a transport's framing and hosts one [`crate::session::Session`] per client
//! connection through the session's interface (open, receive, close). `stdio` is the line front
//! a client starts; `http` is the Streamable HTTP listener of `mcp-gateway serve` (both protocol
//! eras on one endpoint); `modern` serves the stateless 2026-07-28 era; `link` runs a session
//! behind messages for fronts that are not one long-lived line stream; `share` is the stdio bridge
//! to a shared `serve` process. A front frames, checks and routes messages; it never decides what
//! a method means (that is the session's) and never talks to a backend except through a session.

pub mod http;
pub mod link;
pub mod modern;
pub mod outbox;
pub mod share;
pub mod stdio;
