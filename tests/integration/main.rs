//! The single integration-test binary. Each area lives in its own module.

mod http_backends;
