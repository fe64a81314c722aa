//! mcp-gateway: one MCP server in front of many.
//!
//! An AI client starts `mcp-gateway` as its only MCP server. Behind it sit any number of backends
//! (stdio MCP servers started lazily, later also HTTP servers and REST capabilities). Instead of
//! listing every backend tool, the gateway offers a few stable meta-tools: search the catalog, then
//! invoke the tool found.
//!
//! Bird's-eye data flow (see `ARCHITECTURE.md` for the code map and the invariants):
//!
//! ```text
//! client ⇄ front (stdio) ⇄ session ⇄ router ⇄ backend handles ⇄ MCP servers
//!                              │
//!                              └─ catalog (persisted) → search index (tantivy)
//! ```

pub mod backend;
pub mod capability;
pub mod catalog;
pub mod cli;
pub mod clients;
pub mod config;
pub mod embedding;
pub mod error;
pub mod gateway;
pub mod jsonrpc;
pub mod logging;
pub mod mcp;
pub mod registry;
pub mod router;
pub mod scanner;
pub mod search;
pub mod session;
pub mod setup;
pub mod state;
pub mod suggest;
