//! Fronts: how a client reaches the gateway. A front owns a transport's framing and hosts one
//! [`crate::session::Session`] per client connection through the session's interface (open,
//! receive, close). It never interprets MCP methods; that is the session's job.

pub mod stdio;
