//! Legacy HTTP+SSE (MCP 2024-11-05): a GET opens an event stream whose first `endpoint` event
//! names where to POST messages; every answer arrives on the stream.
//!
//! Owns opening the stream, checking that the endpoint is on the same origin as the configured
//! URL (a server must not redirect our messages and headers elsewhere), posting, and reading the
//! stream until it ends, which loses the connection (this transport cannot resume a session).

use std::sync::Arc;

use reqwest::{Method, Url};

use super::sse_parser::SseParser;
use super::{
    MAX_MESSAGE_BYTES, Outgoing, Shared, StreamEnd, content_type, describe_status, error_chain,
    same_origin,
};

/// GETs the stream and waits for its `endpoint` event; the stream is then read by a task of its
/// own. Returns the URL to POST messages to.
pub(super) async fn open(shared: &Arc<Shared>) -> Result<Url, String> {
    let url = &shared.url;
    let shown = crate::redact::url(url);
    let mut resp = shared
        .client
        .get(url.clone())
        .headers(shared.headers.clone())
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| format!("GET {shown} failed: {}", error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(describe_status("GET", url, &resp));
    }
    let ctype = content_type(&resp);
    if ctype != "text/event-stream" {
        return Err(format!(
            "GET {shown} answered with content type `{ctype}`, not an event stream"
        ));
    }
    let mut parser = SseParser::new(MAX_MESSAGE_BYTES);
    let mut endpoint: Option<String> = None;
    let end = shared
        .read_sse(&mut resp, &mut parser, |ev| {
            if endpoint.is_some() || ev.event != "endpoint" {
                if ev.event == "message" {
                    shared.deliver(&ev.data);
                }
                return false;
            }
            endpoint = Some(ev.data.trim().to_string());
            true
        })
        .await;
    let endpoint = match (end, endpoint) {
        (StreamEnd::Done, Some(e)) => e,
        (StreamEnd::Failed(e), _) => return Err(format!("the SSE stream {shown} failed: {e}")),
        (StreamEnd::Stopped, _) => return Err("the connection was stopped".into()),
        _ => {
            return Err(format!(
                "the SSE stream {shown} ended without an `endpoint` event"
            ));
        }
    };
    let target = url.join(&endpoint).map_err(|e| {
        format!(
            "the `endpoint` event `{}` is not a URL: {e}",
            crate::redact::url_text(&endpoint)
        )
    })?;
    if !same_origin(url, &target) {
        return Err(format!(
            "the `endpoint` event points to {}, another origin than {shown}; refused",
            crate::redact::url(&target)
        ));
    }
    tracing::debug!(backend = %shared.backend, endpoint = %crate::redact::url(&target), "legacy SSE endpoint");
    let reader = Arc::clone(shared);
    tokio::spawn(async move {
        let end = reader
            .read_sse(&mut resp, &mut parser, |ev| {
                if ev.event == "message" {
                    reader.deliver(&ev.data);
                }
                false
            })
            .await;
        match end {
            StreamEnd::Stopped => {}
            StreamEnd::Closed | StreamEnd::Done => reader.lost("the server closed the SSE stream"),
            StreamEnd::Failed(e) => reader.lost(format!("the SSE stream failed: {e}")),
        }
    });
    Ok(target)
}

/// POSTs one message to the endpoint; its answer comes on the stream.
pub(super) async fn post(shared: &Shared, endpoint: &Url, line: &str, kind: &Outgoing) {
    let sent = shared
        .request(Method::POST, endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .timeout(shared.timeout)
        .body(line.to_string())
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            shared.lost(format!(
                "POST {} failed: {}",
                crate::redact::url(endpoint),
                error_chain(&e)
            ));
            return;
        }
    };
    if resp.status().is_success() {
        return;
    }
    let what = describe_status("POST", endpoint, &resp);
    let body = shared.read_body(resp).await.unwrap_or_default();
    match kind {
        Outgoing::Request(id) if !shared.deliver_matching(&body, id) => {
            let body = body.trim();
            let detail = if body.is_empty() {
                what
            } else {
                format!("{what}: {}", super::super::stdio::preview(body))
            };
            shared.answer_error(id.clone(), detail);
        }
        Outgoing::Request(_) => {}
        Outgoing::OneWay => tracing::warn!(backend = %shared.backend, "{what}"),
    }
}
