//! The single integration-test binary: drives the real `mcp-gateway` binary with real MCP servers
//! and clients (installed by `scripts/install-test-deps.sh`) and a fault-injecting fake backend
//! (`tests/fixtures/fake_backend.py`). One module per area; `harness` is shared.

mod auth;
mod capabilities;
mod catalog;
mod cli;
mod client_rules;
mod concurrency;
mod config_errors;
mod conformance;
mod failsafe;
mod faults;
mod features;
mod harness;
mod hostile_backends;
mod http_backends;
mod hybrid;
mod inspector;
mod messy;
mod metrics;
mod old_protocol;
mod processes;
mod protocol;
mod proxy_features;
mod real_backends;
mod reload;
mod security;
mod serve;
mod setup;
mod skills;
mod ui;
