//! Property tests (proptest, bounded case counts so they run in `cargo test`): URL templating and
//! argument encoding, capability parsing, the `${…}` grammar and OpenAPI import. Failing cases
//! are kept in `proptest-regressions/`.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::capability::http;
use crate::capability::openapi::{self, ImportOptions};
use crate::capability::template::{Encoding, MapEnv, Template};
use crate::config::expand;

/// Hostile argument text: dots, slashes, `@`, `:`, `%`, `?`, `#`, `\`, unicode.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just("%2e%2e".to_string()),
        Just("%252E.".to_string()),
        Just("@evil.test".to_string()),
        Just(":1@evil.test:80".to_string()),
        Just("../../admin".to_string()),
        Just("a\\..\\b".to_string()),
        "[./@:%?#\\\\a-z0-9 -]{0,12}",
        "\\PC{0,12}",
    ]
}

fn cap_with_url(url: &str, props: &[&str]) -> crate::capability::Capability {
    let properties: Map<String, Value> = props
        .iter()
        .map(|p| (p.to_string(), json!({"type": "string"})))
        .collect();
    let doc = json!({
        "name": "t",
        "description": "d",
        "schema": {"input": {"type": "object", "properties": properties}},
        "providers": {"primary": {"service": "rest", "config": {"endpoint": url, "method": "GET"}}},
    });
    crate::capability::definition::parse(&doc).expect("test capability loads")
}

proptest! {
    #![proptest_config(crate::fuzz::cases(256))]

    /// Whatever the arguments, a prepared request goes to the file's host and port, and its path
    /// has no `.`/`..` segment; arguments are refused rather than resolved.
    #[test]
    fn arguments_never_change_the_host_or_climb_the_path(a in hostile(), b in hostile()) {
        let cap = cap_with_url("http://api.test:8080/v1/{a}/x/{b}{a}/end?q={b}", &["a", "b"]);
        let env = MapEnv::default();
        if let Ok(p) = http::prepare(&cap, &json!({"a": a, "b": b}), &env) {
            prop_assert_eq!(p.url.host_str(), Some("api.test"));
            prop_assert_eq!(p.url.port(), Some(8080));
            prop_assert!(p.url.path().starts_with("/v1/"), "{}", p.url);
            prop_assert!(p.url.path().ends_with("/end"), "{}", p.url);
            prop_assert!(p.url.path().split('/').all(|s| s != "." && s != ".."), "{}", p.url);
            prop_assert_eq!(p.url.path().matches('/').count(), 5, "{}", p.url);
        } else {
            let dotty = |v: &str| {
                let d = percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
                let dd = percent_encoding::percent_decode_str(&d).decode_utf8_lossy().into_owned();
                [v, d.as_str(), dd.as_str()].iter().any(|x| *x == "." || *x == "..")
                    || format!("{b}{a}") == "." || format!("{b}{a}") == ".."
            };
            prop_assert!(dotty(&a) || dotty(&b), "refused without a dot segment: {a:?} {b:?}");
        }
    }

    /// One path segment per argument: `/`, `?`, `#` and `%` in a value never become syntax.
    #[test]
    fn path_segment_encoding_keeps_one_segment(v in "\\PC{0,24}") {
        let t = Template::parse("/x/{v}/y").unwrap();
        let args: Map<String, Value> = [("v".to_string(), json!(v))].into_iter().collect();
        let out = t.render(&args, &MapEnv::default(), Encoding::PathSegment).unwrap();
        let segment = out.strip_prefix("/x/").and_then(|r| r.strip_suffix("/y")).unwrap_or("");
        prop_assert!(!segment.contains(['/', '?', '#', ' ']), "{out}");
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().unwrap();
        prop_assert_eq!(decoded, v);
    }

    /// Template and `${…}` parsing never panic, and agree: a template without `{arg}` or
    /// `{env.X}` renders exactly what `config::expand` gives.
    #[test]
    fn templates_and_the_grammar_agree(text in "[a-z${}:\\-_ A-Z0-9]{0,30}") {
        let env = MapEnv([("A".to_string(), "va".to_string()), ("E".to_string(), String::new())].into());
        let expanded = expand::expand(&text, &env);
        let template = Template::parse(&text);
        if !text.contains('{') || text.replace("${", "").find('{').is_none() {
            match (&expanded, &template) {
                (Ok(e), Ok(t)) => {
                    let r = t.render(&Map::new(), &env, Encoding::Raw);
                    if let Ok(r) = r {
                        prop_assert_eq!(&r, e, "{}", text);
                    }
                }
                (Err(expand::ExpandError::Syntax(_)), Err(_)) => {}
                (Err(expand::ExpandError::Missing(_)), Ok(_)) => {}
                // `expand` stops at the first unset variable, `Template::parse` checks the whole
                // text first: both refuse it, and with every variable set the grammar names the
                // same syntax error the template found.
                (Err(expand::ExpandError::Missing(_)), Err(_)) => {
                    let every = |_: &str| Some(String::new());
                    prop_assert!(
                        matches!(expand::expand(&text, &every), Err(expand::ExpandError::Syntax(_))),
                        "{text:?}: template refused it, the grammar did not"
                    );
                }
                (e, t) => prop_assert!(false, "{text:?}: expand {e:?}, template {t:?}"),
            }
        }
    }

    /// `$$`-escaping any text gives it back unchanged.
    #[test]
    fn escaped_text_expands_to_itself(text in "\\PC{0,30}") {
        let escaped = text.replace('$', "$$");
        let none = |_: &str| None::<String>;
        prop_assert_eq!(expand::expand(&escaped, &none).unwrap(), text);
    }

    /// Capability parsing never panics, and every error names a line or a key.
    #[test]
    fn capability_text_never_panics(text in prop_oneof![
        "\\PC{0,80}",
        "(name|description|schema|providers|auth|[a-z]{1,6}): (\\[|\\{|[a-z0-9 .]{0,8}|\"[^\"]{0,6}\"|\\n  [a-z]{1,5}: [a-z0-9]{0,4}){1,3}\\n",
    ]) {
        if let Err(p) = crate::capability::parse_text(&text, std::path::Path::new("p.yaml")) {
            prop_assert!(!p.message.is_empty());
        }
    }

    /// OpenAPI import: every generated capability loads (or is reported as rejected by `write`),
    /// its name is a valid tool name, and nothing panics, for odd paths, names and parameters.
    #[test]
    fn openapi_import_generates_loadable_capabilities(
        ops in proptest::collection::vec((
            prop_oneof![Just("get"), Just("post"), Just("delete"), Just("put")],
            proptest::collection::vec(prop_oneof!["[a-z]{1,6}", "\\{[a-zA-Z_.\\-\\[\\]]{1,8}\\}"], 1..4),
            proptest::option::of("[A-Za-z0-9_.\\- /]{1,80}"),
            proptest::collection::vec(("[a-zA-Z0-9_.\\-\\[\\]$ ]{1,10}", prop_oneof![Just("query"), Just("header"), Just("path")]), 0..4),
        ), 1..5),
    ) {
        let mut paths = Map::new();
        for (method, segments, op_id, params) in &ops {
            let path = format!("/{}", segments.join("/"));
            let mut parameters: Vec<Value> = params
                .iter()
                .map(|(name, place)| json!({"name": name, "in": place, "required": *place == "path", "schema": {"type": "string"}}))
                .collect();
            for s in segments {
                if let Some(p) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                    parameters.push(json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}));
                }
            }
            let mut op = json!({"summary": "An operation", "parameters": parameters, "responses": {"200": {"description": "ok"}}});
            if let Some(id) = op_id {
                op["operationId"] = json!(id);
            }
            paths.entry(path).or_insert_with(|| json!({}))[*method] = op;
        }
        let spec = json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "servers": [{"url": "https://api.test/v1"}], "paths": paths});
        let conversion = openapi::convert(&spec, &ImportOptions::default(), None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let report = openapi::write(&conversion, dir.path()).unwrap();
        prop_assert_eq!(report.written.len() + report.rejected.len(), conversion.generated.len());
        for g in &conversion.generated {
            prop_assert!(crate::capability::definition::valid_tool_name(&g.name), "{}", g.name);
        }
        prop_assert!(
            report.rejected.is_empty(),
            "generated but does not load: {:?}",
            report.rejected
        );
    }
}
