//! The single integration-test binary: drives the real `mcp-gateway` binary over stdio with real
//! MCP servers and clients (installed by `scripts/install-test-deps.sh`) and a fault-injecting
//! fake backend (`tests/fixtures/fake_backend.py`). Each area lives in its own module.

mod harness;
mod proxy_features;
mod setup;
