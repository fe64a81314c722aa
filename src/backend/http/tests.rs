//! Unit tests of the HTTP transport's header and redirect policy.

use super::*;
use std::collections::BTreeMap;

fn spec(headers: &[(&str, &str)]) -> HttpSpec {
    HttpSpec {
        url: "http://127.0.0.1:1/mcp".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        kind: HttpKind::Auto,
    }
}

#[test]
fn origins_compare_scheme_host_and_port() {
    let u = |s: &str| Url::parse(s).unwrap();
    assert!(same_origin(
        &u("http://a.example/mcp"),
        &u("http://a.example:80/x")
    ));
    assert!(!same_origin(
        &u("http://a.example/mcp"),
        &u("https://a.example/mcp")
    ));
    assert!(!same_origin(
        &u("http://a.example/"),
        &u("http://b.example/")
    ));
    assert!(!same_origin(
        &u("http://127.0.0.1:1/"),
        &u("http://127.0.0.1:2/")
    ));
}

#[test]
fn config_headers_are_checked() {
    let m = header_map(&spec(&[("Authorization", "Bearer x"), ("X-Team", "a")])).unwrap();
    assert_eq!(m.len(), 2);
    assert!(m["authorization"].is_sensitive());
    let e = header_map(&spec(&[("Mcp-Session-Id", "abc")])).unwrap_err();
    assert!(e.contains("managed by the gateway"), "{e}");
    let e = header_map(&spec(&[("X-Bad", "a\nb")])).unwrap_err();
    assert!(e.contains("X-Bad"), "{e}");
    let e = header_map(&spec(&[("bad name", "a")])).unwrap_err();
    assert!(e.contains("bad name"), "{e}");
}

#[tokio::test]
async fn unreachable_server_fails_initialize_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener); // nothing listens there now
    let mut s = spec(&[]);
    s.url = format!("http://127.0.0.1:{port}/mcp");
    let (conn, _rx) = HttpConnection::connect("b", &s, Duration::from_secs(5))
        .await
        .unwrap();
    let err = conn
        .peer
        .request(
            "initialize",
            Some(serde_json::json!({})),
            &crate::peer::CallContext::default(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.to_lowercase().contains("connect"), "{err}");
}

/// A tiny HTTP/1.1 server on 127.0.0.1: answers each request with `respond(method, path)`
/// (a full raw response). Returns its base URL.
async fn raw_server(respond: fn(&str, &str) -> String) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sock = BufReader::new(sock);
                loop {
                    let mut head = String::new();
                    let mut line = String::new();
                    let mut len = 0usize;
                    loop {
                        line.clear();
                        if sock.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let mut body = vec![0; len];
                    let _ = sock.read_exact(&mut body).await;
                    let mut words = head.split_whitespace();
                    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                    let reply = respond(method, path);
                    if sock.get_mut().write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

async fn initialize(url: String, kind: HttpKind) -> Result<String, String> {
    let mut s = spec(&[]);
    s.url = url;
    s.kind = kind;
    let (conn, _rx) = HttpConnection::connect("b", &s, Duration::from_secs(5)).await?;
    conn.peer
        .request(
            "initialize",
            Some(serde_json::json!({})),
            &crate::peer::CallContext::default(),
            Duration::from_secs(5),
        )
        .await
        .map(|raw| raw.get().to_string())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn redirects_are_followed_only_within_the_origin() {
    let base = raw_server(|_, path| match path {
        "/mcp" => "HTTP/1.1 307 Temporary Redirect\r\nLocation: /real\r\nContent-Length: 0\r\n\r\n".into(),
        "/real" => {
            let body = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}}"#;
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        }
        _ => "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.2:9/mcp\r\nContent-Length: 0\r\n\r\n".into(),
    })
    .await;
    let ok = initialize(format!("{base}/mcp"), HttpKind::StreamableHttp)
        .await
        .unwrap();
    assert!(ok.contains("2025-11-25"), "{ok}");
    let err = initialize(format!("{base}/elsewhere"), HttpKind::StreamableHttp)
        .await
        .unwrap_err();
    assert!(err.contains("127.0.0.2:9"), "{err}");
    assert!(err.contains("not followed"), "{err}");
}

#[tokio::test]
async fn legacy_endpoint_must_be_same_origin() {
    let base = raw_server(|_, path| {
        let target = if path == "/evil" { "http://127.0.0.2:9/messages" } else { "/messages?s=1" };
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: endpoint\ndata: {target}\n\n")
    })
    .await;
    let mut s = spec(&[]);
    s.kind = HttpKind::Sse;
    s.url = format!("{base}/evil");
    let err = HttpConnection::connect("b", &s, Duration::from_secs(5))
        .await
        .err()
        .unwrap();
    assert!(err.contains("another origin"), "{err}");
    s.url = format!("{base}/sse");
    assert!(
        HttpConnection::connect("b", &s, Duration::from_secs(5))
            .await
            .is_ok()
    );
}

#[test]
fn explicit_sse_rejects_bad_urls() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut s = spec(&[]);
    s.url = "ftp://127.0.0.1/x".into();
    let e = rt
        .block_on(HttpConnection::connect("b", &s, Duration::from_secs(1)))
        .err()
        .unwrap();
    assert!(e.contains("http://"), "{e}");
    s.url = "not a url".into();
    let e = rt
        .block_on(HttpConnection::connect("b", &s, Duration::from_secs(1)))
        .err()
        .unwrap();
    assert!(e.contains("invalid URL"), "{e}");
}
