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
            CallError::Unavailable { .. } | CallError::Disconnected { .. } => {
                ErrorObject::new(code::BACKEND_UNAVAILABLE, self.to_string())
            }
        }
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
        assert_eq!(humantime(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humantime(Duration::from_secs(600)), "10m");
    }
}
