//! JSON-RPC 2.0 messages with payloads kept as raw JSON, and newline framing.
//!
//! Owns parsing and serializing messages. Params, results and error data stay `RawValue` so that a
//! forwarded payload is never reshaped (invariant 2). It never decides what a message means.

mod framing;

pub use framing::{LineReader, ReadLine};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Standard and MCP error codes, in one place.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Request timed out (the MCP SDKs' `RequestTimeout`).
    pub const REQUEST_TIMEOUT: i64 = -32001;
    /// The backend that should serve the request is unavailable (not startable, crashed).
    pub const BACKEND_UNAVAILABLE: i64 = -32002;
    /// The caller's rate limit refused the request (`data.retryAfterSeconds` says when to retry).
    pub const RATE_LIMITED: i64 = -32003;
    /// 2026-07-28: HTTP headers disagree with the body, or a required one is missing.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// 2026-07-28: the request needs a client capability its `_meta` did not declare.
    pub const MISSING_CLIENT_CAPABILITY: i64 = -32021;
    /// 2026-07-28: the requested protocol version is not supported (`data.supported` lists ours).
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
}

/// A request or response id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    Number(i64),
    String(String),
    /// Only in error responses to messages whose id could not be read.
    Null,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
            Id::Null => write!(f, "null"),
        }
    }
}

/// The error object of a response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
}

impl ErrorObject {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32700 for text that is not JSON; the message starts with JSON-RPC 2.0's wording
    /// ("Parse error") and goes on with `detail`.
    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        ErrorObject::new(code::PARSE_ERROR, format!("Parse error: {detail}"))
    }

    /// -32600 for JSON that is not a valid request (a batch, an id of the wrong type, a request
    /// the session's state does not allow); the message starts with JSON-RPC 2.0's wording
    /// ("Invalid Request") and goes on with `detail`.
    pub fn invalid_request(detail: impl std::fmt::Display) -> Self {
        ErrorObject::new(code::INVALID_REQUEST, format!("Invalid Request: {detail}"))
    }
}

/// One JSON-RPC message.
#[derive(Debug)]
pub enum Message {
    Request {
        id: Id,
        method: String,
        params: Option<Box<RawValue>>,
    },
    Notification {
        method: String,
        params: Option<Box<RawValue>>,
    },
    Response {
        id: Id,
        result: Result<Box<RawValue>, ErrorObject>,
    },
}

/// Why a line is not a JSON-RPC message.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON but not a JSON-RPC 2.0 message; carries the id when one could be read.
    #[error("invalid JSON-RPC message: {reason}")]
    Invalid {
        id: Option<Id>,
        reason: &'static str,
    },
}

impl ParseError {
    /// The answer to a message that could not be read (JSON-RPC 2.0 §5.1): -32700 only for text
    /// that is not JSON, -32600 for JSON that is no valid message; the id is the message's own
    /// when one could be read, else `null`.
    pub fn to_response(&self) -> Message {
        match self {
            ParseError::Json(e) => {
                Message::error(Id::Null, ErrorObject::parse_error(format!("not JSON: {e}")))
            }
            ParseError::Invalid { id, reason } => Message::error(
                id.clone().unwrap_or(Id::Null),
                ErrorObject::invalid_request(reason),
            ),
        }
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    jsonrpc: Option<&'a str>,
    #[serde(default, deserialize_with = "deserialize_some")]
    id: Option<Option<Id>>,
    method: Option<String>,
    /// `"params": null` and `"result": null` are kept as written, not read as absent (a
    /// `null` result is a valid success response; found by `jsonrpc::props`).
    #[serde(default, deserialize_with = "deserialize_some")]
    params: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "deserialize_some")]
    result: Option<Box<RawValue>>,
    error: Option<ErrorObject>,
}

/// Distinguishes an absent `id` from `"id": null`.
fn deserialize_some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl Message {
    /// Parses one framed message. Text that is not JSON is a [`ParseError::Json`] (-32700);
    /// JSON that is not one JSON-RPC message (a batch, an id that is neither a string nor an
    /// integer, a `method` that is not a string, …) is [`ParseError::Invalid`] (-32600).
    pub fn parse(text: &str) -> Result<Message, ParseError> {
        let w: Wire = match serde_json::from_str(text) {
            Ok(w) => w,
            Err(e) => return Err(not_a_message(text, e)),
        };
        let id = w.id.clone().flatten();
        if w.jsonrpc != Some("2.0") {
            return Err(ParseError::Invalid {
                id,
                reason: "`jsonrpc` must be \"2.0\"",
            });
        }
        match (w.method, w.id, w.result, w.error) {
            (Some(method), None, None, None) => Ok(Message::Notification {
                method,
                params: w.params,
            }),
            (Some(method), Some(Some(id)), None, None) => Ok(Message::Request {
                id,
                method,
                params: w.params,
            }),
            (None, Some(Some(id)), Some(result), None) => Ok(Message::Response {
                id,
                result: Ok(result),
            }),
            (None, Some(Some(id)), None, Some(error)) => Ok(Message::Response {
                id,
                result: Err(error),
            }),
            (Some(_), Some(None), _, _) => Err(ParseError::Invalid {
                id: None,
                reason: "request id must not be null",
            }),
            _ => Err(ParseError::Invalid {
                id,
                reason: "neither a request, a notification nor a response",
            }),
        }
    }

    /// Serializes to one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            jsonrpc: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            id: Option<&'a Id>,
            #[serde(skip_serializing_if = "Option::is_none")]
            method: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            params: Option<&'a RawValue>,
            #[serde(skip_serializing_if = "Option::is_none")]
            result: Option<&'a RawValue>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<&'a ErrorObject>,
        }
        let out = match self {
            Message::Request { id, method, params } => Out {
                jsonrpc: "2.0",
                id: Some(id),
                method: Some(method),
                params: params.as_deref(),
                result: None,
                error: None,
            },
            Message::Notification { method, params } => Out {
                jsonrpc: "2.0",
                id: None,
                method: Some(method),
                params: params.as_deref(),
                result: None,
                error: None,
            },
            Message::Response { id, result } => Out {
                jsonrpc: "2.0",
                id: Some(id),
                method: None,
                params: None,
                result: result.as_ref().ok().map(|r| &**r),
                error: result.as_ref().err(),
            },
        };
        // Serializing these types cannot fail: every field is already valid JSON or a plain value.
        serde_json::to_string(&out).unwrap_or_default()
    }

    /// An error response.
    pub fn error(id: Id, error: ErrorObject) -> Message {
        Message::Response {
            id,
            result: Err(error),
        }
    }

    /// A success response from any serializable value.
    pub fn result(id: Id, value: &impl Serialize) -> Message {
        Message::Response {
            id,
            result: Ok(to_raw(value)),
        }
    }

    pub fn notification(method: &str, params: Option<Box<RawValue>>) -> Message {
        Message::Notification {
            method: method.to_string(),
            params,
        }
    }
}

/// Why `text`, which did not deserialize as a message, failed: not JSON at all, or JSON of the
/// wrong shape (only this error path pays for a second parse).
fn not_a_message(text: &str, e: serde_json::Error) -> ParseError {
    let reason = match serde_json::from_str::<serde_json::Value>(text) {
        Err(_) => return ParseError::Json(e),
        Ok(serde_json::Value::Array(_)) => "batches are not supported: send one message per line",
        Ok(serde_json::Value::Object(m)) => match m.get("id") {
            Some(id) if !(id.is_string() || id.is_i64() || id.is_null()) => {
                "`id` must be a string or an integer"
            }
            _ if m.get("method").is_some_and(|v| !v.is_string()) => "`method` must be a string",
            _ => "neither a request, a notification nor a response",
        },
        Ok(_) => "a message must be a JSON object",
    };
    ParseError::Invalid { id: None, reason }
}

/// Serializes a value the gateway built itself into raw JSON.
pub fn to_raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value)
        .unwrap_or_else(|_| RawValue::from_string("null".to_string()).unwrap_or_default())
}

/// `{}` as raw JSON.
pub fn empty_object() -> Box<RawValue> {
    to_raw(&serde_json::Map::new())
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_results_and_params_are_kept() {
        for line in [
            r#"{"jsonrpc":"2.0","id":3,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"x","params":null}"#,
        ] {
            let m = Message::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(m.to_json(), line);
        }
    }

    #[test]
    fn valid_json_that_is_no_message_is_invalid_not_a_parse_error() {
        for text in [
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            "42",
        ] {
            assert!(
                matches!(
                    Message::parse(text),
                    Err(ParseError::Invalid { id: None, .. })
                ),
                "{text}: {:?}",
                Message::parse(text)
            );
        }
        assert!(matches!(Message::parse("{oops"), Err(ParseError::Json(_))));
    }

    #[test]
    fn round_trips_payload_byte_for_byte() {
        let line =
            r#"{"jsonrpc":"2.0","id":7,"result":{"z":1,"a":[1.50,{"_meta":{}}],"isError":false}}"#;
        let m = Message::parse(line).unwrap();
        assert_eq!(m.to_json(), line);
    }

    #[test]
    fn classifies_messages() {
        assert!(matches!(
            Message::parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap(),
            Message::Notification { .. }
        ));
        assert!(matches!(
            Message::parse(r#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#).unwrap(),
            Message::Request {
                id: Id::String(_),
                ..
            }
        ));
        assert!(matches!(
            Message::parse(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#)
                .unwrap(),
            Message::Response { result: Err(_), .. }
        ));
        assert!(Message::parse(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#).is_err());
        assert!(Message::parse("not json").is_err());
        assert!(Message::parse(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#).is_err());
    }
}
