//! mcp-gateway: one MCP server in front of many.
//!
//! An AI client starts `mcp-gateway` as its only MCP server. Behind it sit any number of backends
//! (stdio MCP servers started lazily, remote MCP servers over Streamable HTTP or SSE, and REST APIs
//! described by capability files, served in process). Instead of listing every backend tool, the
//! gateway offers a few stable meta-tools: search the catalog, then invoke the tool found.
//!
//! Bird's-eye data flow (see `ARCHITECTURE.md` for the code map and the invariants):
//!
//! ```text
//! client ⇄ front (stdio) ⇄ session ⇄ peer ⇄ backend handles ⇄ MCP servers / REST APIs
//!                              │
//!                              └─ catalog (persisted, screened) → search index (tantivy)
//! ```

pub mod auth;
pub mod backend;
pub mod capability;
pub mod catalog;
pub mod cli;
pub mod clients;
pub mod config;
pub mod configedit;
pub mod docedit;
pub mod embedding;
pub mod error;
pub mod front;
#[cfg(test)]
mod fuzz;
pub mod gateway;
pub mod jsonrpc;
#[cfg(test)]
mod layering;
pub mod logging;
pub mod mcp;
pub mod metrics;
pub mod outbound;
pub mod output;
pub mod peer;
pub mod ratelimit;
pub mod redact;
pub mod registry;
pub mod request_log;
pub mod scanner;
pub mod scope;
pub mod search;
pub mod session;
pub mod setup;
pub mod shutdown;
pub mod skills;
pub mod state;
pub mod suggest;
