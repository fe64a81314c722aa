//! Errors callers branch on, and their mapping to JSON-RPC error codes (the only place that
//! decides which code a failure gets).

use std::time::Duration;

use crate::jsonrpc::{ErrorObject, code};

/// Why a request forwarded to a backend did not produce the backend's answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("backend '{backend}' did not answer within {}", humantime(*after))]
    Timeout { backend: String, after: Duration },
    #[error("request was cancelled")]
    Cancelled,
    #[error("backend '{backend}' is unavailable: {reason}")]
    Unavailable { backend: String, reason: String },
    #[error("backend '{backend}' {detail} while the request was in flight")]
    Disconnected { backend: String, detail: String },
    /// The backend's circuit breaker is open: the call failed fast without reaching it.
    #[error("backend '{backend}' is failing: {detail}")]
    CircuitOpen { backend: String, detail: String },
    /// The backend's concurrency limit and queue are full: refused at once.
    #[error("backend '{backend}' is busy: {detail}; try again shortly")]
    Overloaded { backend: String, detail: String },
    /// The backend's `failsafe.rate_limit` is used up.
    #[error(
        "backend '{backend}' is rate-limited to {limit} calls per minute by the gateway config; try again in {}",
        humantime(*retry_after)
    )]
    RateLimited {
        backend: String,
        limit: u32,
        retry_after: Duration,
    },
    /// The backend answered with a JSON-RPC error; passed through as is.
    #[error("backend '{backend}' returned error {}: {}", error.code, error.message)]
    Backend { backend: String, error: ErrorObject },
}

impl CallError {
    /// The JSON-RPC error a client receives for this failure.
    pub fn to_error_object(&self) -> ErrorObject {
        match self {
            CallError::Backend { error, .. } => error.clone(),
            CallError::Timeout { .. } => ErrorObject::new(code::REQUEST_TIMEOUT, self.to_string()),
            CallError::Cancelled => ErrorObject::new(code::REQUEST_TIMEOUT, self.to_string()),
            CallError::Unavailable { .. }
            | CallError::Disconnected { .. }
            | CallError::CircuitOpen { .. }
            | CallError::Overloaded { .. } => {
                ErrorObject::new(code::BACKEND_UNAVAILABLE, self.to_string())
            }
            CallError::RateLimited { .. } => ErrorObject::new(code::RATE_LIMITED, self.to_string()),
        }
    }

    /// The answer to a `tools/call` that failed this way, when it is a tool-level
    /// `isError: true` result (see [`CallError::is_tool_level`]); `None`: a JSON-RPC error
    /// ([`CallError::to_error_object`]).
    pub fn as_tool_result(&self) -> Option<Box<serde_json::value::RawValue>> {
        if !self.is_tool_level() {
            return None;
        }
        let result = serde_json::json!({
            "content": [{"type": "text", "text": self.to_string()}],
            "isError": true,
        });
        serde_json::value::to_raw_value(&result).ok()
    }

    /// Whether a `tools/call` that failed this way answers with a tool-level `isError: true`
    /// result (text: this error) rather than a JSON-RPC error: the gateway's failsafes refused
    /// the call, which the model should read and act on (wait, use another tool), not a protocol
    /// failure. Other methods get [`CallError::to_error_object`].
    pub fn is_tool_level(&self) -> bool {
        matches!(
            self,
            CallError::CircuitOpen { .. }
                | CallError::Overloaded { .. }
                | CallError::RateLimited { .. }
        )
    }
}

/// `1.5s`, `2m`, `250ms`: durations as users write them in config.
pub fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_codes_in_one_place() {
        let t = CallError::Timeout {
            backend: "b".into(),
            after: Duration::from_secs(5),
        };
        assert_eq!(t.to_error_object().code, code::REQUEST_TIMEOUT);
        assert_eq!(t.to_string(), "backend 'b' did not answer within 5s");
        let u = CallError::Unavailable {
            backend: "b".into(),
            reason: "x".into(),
        };
        assert_eq!(u.to_error_object().code, code::BACKEND_UNAVAILABLE);
        let open = CallError::CircuitOpen {
            backend: "b".into(),
            detail: "circuit breaker open".into(),
        };
        assert!(open.is_tool_level() && !u.is_tool_level());
        assert_eq!(open.to_error_object().code, code::BACKEND_UNAVAILABLE);
        let rate = CallError::RateLimited {
            backend: "b".into(),
            limit: 2,
            retry_after: Duration::from_secs(30),
        };
        assert_eq!(rate.to_error_object().code, code::RATE_LIMITED);
        assert!(rate.to_string().contains("2 calls per minute"));
        assert_eq!(humantime(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humantime(Duration::from_secs(600)), "10m");
    }
}
