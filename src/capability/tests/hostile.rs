//! Issue 15: hostile arguments and careless files against real local HTTP servers. Each test
//! failed before the fix it is named after.

use std::sync::Mutex;

use super::*;

/// Every request one server saw: path, query, headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    headers: BTreeMap<String, String>,
    body: String,
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

/// A server that records every request; `/cross` redirects to `other`'s origin, `/same`
/// within its own origin, everything else answers `{}`.
async fn recording_server(other: Option<String>) -> (String, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let r = Arc::clone(&rec);
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let r = Arc::clone(&r);
        let other = other.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let seen = Seen {
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or("").to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            r.seen.lock().unwrap().push(seen.clone());
            let redirect = |to: String| {
                Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header("location", to)
                    .body(Body::empty())
                    .unwrap()
            };
            match (seen.path.as_str(), &other) {
                ("/cross", Some(o)) => redirect(format!("{o}/landing?token=LEAKED_IN_LOCATION")),
                ("/same", _) => redirect("/landed".to_string()),
                _ => Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"path": seen.path, "headers": seen.headers}).to_string(),
                    ))
                    .unwrap(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), rec)
}

const SECRETS: &[&str] = &["K3Y-SECRET", "STATIC-SECRET", "QUERY-SECRET", "BODY-SECRET"];

#[tokio::test]
async fn redirects_to_another_origin_carry_nothing_and_no_referer_is_sent() {
    let (other, other_rec) = recording_server(None).await;
    let (base, rec) = recording_server(Some(other.clone())).await;
    let header_auth = echo_cap(
        "cross_header",
        "POST",
        "      path: /cross\n      headers:\n        X-Static: STATIC-SECRET\n      body:\n        note: BODY-SECRET\n",
        "",
        "auth:\n  type: api_key\n  header: X-Api-Key\n  key: env:API_KEY\n",
    );
    let query_auth = echo_cap(
        "cross_query",
        "GET",
        "      path: /cross\n",
        "",
        "auth:\n  type: api_key\n  param: api_key\n  key: QUERY_KEY\n",
    );
    let same = echo_cap(
        "same_origin",
        "GET",
        "      path: /same\n",
        "",
        "auth:\n  type: api_key\n  param: api_key\n  key: QUERY_KEY\n",
    );
    let (set, _d) = load_set(
        &[
            ("h.yaml", &header_auth),
            ("q.yaml", &query_auth),
            ("s.yaml", &same),
        ],
        &[
            ("BASE", &base),
            ("API_KEY", "K3Y-SECRET"),
            ("QUERY_KEY", "QUERY-SECRET"),
        ],
    );
    for tool in ["cross_header", "cross_query"] {
        let text = error_text(&set.call(tool, json!({})).await);
        assert!(text.contains("another origin"), "{tool}: {text}");
        for secret in SECRETS.iter().chain(&["LEAKED_IN_LOCATION"]) {
            assert!(!text.contains(secret), "{tool} shows {secret}: {text}");
        }
    }
    assert!(
        other_rec.seen.lock().unwrap().is_empty(),
        "the other origin was contacted: {:?}",
        other_rec.seen.lock().unwrap()
    );
    let seen = rec.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|s| s.path == "/cross" && s.body.contains("BODY-SECRET"))
    );
    assert!(
        seen.iter()
            .any(|s| s.path == "/cross" && s.query.contains("QUERY-SECRET"))
    );
    // Within the origin the redirect is followed, without a Referer.
    let e = echo(&set.call("same_origin", json!({})).await).clone();
    assert_eq!(e["path"], "/landed");
    let seen = rec.seen.lock().unwrap().clone();
    let landed = seen.iter().find(|s| s.path == "/landed").unwrap();
    assert!(
        !landed.headers.contains_key("referer"),
        "Referer sent: {:?}",
        landed.headers
    );
    assert!(seen.iter().all(|s| !s.headers.contains_key("referer")));
}

#[tokio::test]
async fn dot_segments_in_arguments_are_refused_before_any_request() {
    let (base, rec) = recording_server(None).await;
    let cap = echo_cap(
        "issues",
        "GET",
        "      path: /repos/{owner}/{repo}/issues\n",
        "      owner: {type: string}\n      repo: {type: string}\n",
        "auth:\n  type: bearer\n  key: TOKEN\n",
    );
    let glued = echo_cap(
        "glued",
        "GET",
        "      path: /x/{a}{b}/y\n",
        "      a: {type: string}\n      b: {type: string}\n",
        "",
    );
    let (set, _d) = load_set(
        &[("i.yaml", &cap), ("g.yaml", &glued)],
        &[("BASE", &base), ("TOKEN", "bearer-secret")],
    );
    for owner in ["..", ".", "%2e%2e", "%2E.", ".%2e", "%252e%252e"] {
        let text = error_text(
            &set.call("issues", json!({"owner": owner, "repo": "admin"}))
                .await,
        );
        assert!(
            text.contains("`owner`") && text.contains(".."),
            "{owner}: {text}"
        );
    }
    let text = error_text(&set.call("glued", json!({"a": ".", "b": "."})).await);
    assert!(text.contains("`..`"), "{text}");
    assert!(
        rec.seen.lock().unwrap().is_empty(),
        "requests were sent: {:?}",
        rec.seen.lock().unwrap()
    );
    // Dots inside a segment are fine.
    let e = echo(
        &set.call("issues", json!({"owner": "a..b", "repo": ".hidden"}))
            .await,
    )
    .clone();
    assert_eq!(e["path"], "/repos/a..b/.hidden/issues");
}

#[tokio::test]
async fn an_argument_can_never_choose_the_host() {
    let (base, rec) = recording_server(None).await;
    let port = base.rsplit(':').next().unwrap().to_string();
    // Refused at load: the argument sits in the authority.
    for (file, endpoint) in [
        ("a.yaml", "http://127.0.0.1{p}/x".to_string()),
        ("b.yaml", "http://{host}/x".to_string()),
        ("c.yaml", "${BASE}{p}".to_string()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "name: t\ndescription: d\nschema:\n  input:\n    type: object\n    properties:\n      p: {{type: string}}\n      host: {{type: string}}\nproviders:\n  primary:\n    service: rest\n    config:\n      endpoint: \"{endpoint}\"\n      method: GET\n"
        );
        std::fs::write(dir.path().join(file), text).unwrap();
        let (set, problems) =
            CapabilitySet::load(&[dir.path().to_path_buf()], &PinStore::in_memory());
        assert!(set.tools().is_empty(), "{endpoint} loaded");
        assert!(
            problems[0].message.contains("part of the host"),
            "{endpoint}: {problems:?}"
        );
    }
    // A variable that leaves the authority open is caught per call.
    let sneaky = "name: sneaky\ndescription: d\nschema:\n  input:\n    type: object\n    properties:\n      host: {type: string}\nproviders:\n  primary:\n    service: rest\n    config:\n      endpoint: \"${SCHEME}//{host}/x\"\n      method: GET\n";
    let (set, _d) = load_set(&[("s.yaml", sneaky)], &[("SCHEME", "http:")]);
    let text = error_text(
        &set.call("sneaky", json!({"host": format!("127.0.0.1:{port}")}))
            .await,
    );
    assert!(text.contains("change the host"), "{text}");
    assert!(rec.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn scalars_in_request_values_are_sent_as_written() {
    let srv = server().await;
    let cap = echo_cap(
        "yaml11",
        "GET",
        "      path: /q\n      static_params: {n: n, size: y, country: NO, flag: on, version: 1.10, mode: 0755, count: 3, ratio: 1.5}\n      headers:\n        X-Version: 1.10\n",
        "",
        "",
    );
    let (set, _d) = load_set(&[("y.yaml", &cap)], &[("BASE", &srv.base)]);
    let e = echo(&set.call("yaml11", json!({})).await).clone();
    let query = e["query"].as_str().unwrap();
    let mut pairs: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            "count=3",
            "country=NO",
            "flag=on",
            "mode=0755",
            "n=n",
            "ratio=1.5",
            "size=y",
            "version=1.10"
        ]
    );
    assert_eq!(e["headers"]["x-version"], "1.10");
}

#[tokio::test]
async fn auth_values_come_only_from_the_environment_in_one_syntax() {
    let srv = server().await;
    let basic = echo_cap(
        "basic_env",
        "GET",
        "      path: /a\n",
        "",
        "auth:\n  type: basic\n  username: env:U\n  password: P\n",
    );
    let (set, _d) = load_set(
        &[("b.yaml", &basic)],
        &[("BASE", &srv.base), ("U", "alice"), ("P", "s3cret")],
    );
    let e = echo(&set.call("basic_env", json!({})).await).clone();
    // base64("alice:s3cret")
    assert_eq!(e["headers"]["authorization"], "Basic YWxpY2U6czNjcmV0");
    for (field, auth) in [
        (
            "password",
            "auth:\n  type: basic\n  username: U\n  password: \"hunter 2\"\n",
        ),
        (
            "password",
            "auth:\n  type: basic\n  username: U\n  password: \"${P:-literal}\"\n",
        ),
        (
            "username",
            "auth:\n  type: basic\n  username: \"bob:pw\"\n  password: P\n",
        ),
        ("key", "auth:\n  type: bearer\n  key: \"Bearer ${T}\"\n"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.yaml"),
            echo_cap("x", "GET", "      path: /a\n", "", auth),
        )
        .unwrap();
        let (set, problems) =
            CapabilitySet::load(&[dir.path().to_path_buf()], &PinStore::in_memory());
        assert!(set.tools().is_empty(), "{auth} loaded");
        assert_eq!(
            problems[0].key.as_deref(),
            Some(format!("auth.{field}").as_str())
        );
        assert!(
            problems[0].message.contains("environment variable"),
            "{problems:?}"
        );
    }
}
