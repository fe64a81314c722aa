//! Property tests (proptest, bounded case counts so they run in `cargo test`): JSON-RPC framing
//! and id handling. Failing cases are kept in `proptest-regressions/` next to this file.

use proptest::prelude::*;

use super::framing::{LineReader, ReadLine};
use super::*;

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        any::<i64>().prop_map(Id::Number),
        "\\PC{0,20}".prop_map(Id::String),
    ]
}

/// Small arbitrary JSON values (as text), including odd numbers and escapes.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        prop_oneof![Just("1.50"), Just("-0.0"), Just("1e400"), Just("2E-3")].prop_map(String::from),
        "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(("[a-z_]{1,6}", inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v
                    .into_iter()
                    .map(|(k, val)| format!("\"{k}\": {val}"))
                    .collect();
                format!("{{ {} }}", fields.join(" , "))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(crate::fuzz::cases(256))]

    /// Requests keep their id and their params byte for byte.
    #[test]
    fn requests_round_trip_with_raw_params(id in id(), method in "[a-z/_]{1,20}", params in json_text()) {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":{},"params":{params}}}"#,
            serde_json::to_string(&id).unwrap(),
            serde_json::to_string(&method).unwrap()
        );
        match Message::parse(&line) {
            Ok(Message::Request { id: got, method: m, params: Some(p) }) => {
                prop_assert_eq!(&got, &id);
                prop_assert_eq!(&m, &method);
                prop_assert_eq!(p.get(), params.as_str());
                let again = Message::Request { id: got, method: m, params: Some(p) }.to_json();
                prop_assert!(Message::parse(&again).is_ok());
            }
            other => prop_assert!(false, "{line} → {other:?}"),
        }
    }

    /// Results survive parse → serialize unchanged, whatever their JSON.
    #[test]
    fn responses_round_trip_byte_for_byte(id in id(), result in json_text()) {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{result}}}"#,
            serde_json::to_string(&id).unwrap()
        );
        let m = Message::parse(&line);
        prop_assert!(m.is_ok(), "{line}: {m:?}");
        let out = m.unwrap().to_json();
        prop_assert_eq!(out.replace(' ', ""), line.replace(' ', ""));
    }

    /// Any text: no panic; valid JSON is never reported as a parse error (-32700).
    #[test]
    fn any_text_is_classified_without_panicking(text in prop_oneof!["\\PC{0,60}", json_text()]) {
        match Message::parse(&text) {
            Err(ParseError::Json(_)) => {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_err(), "{text}");
            }
            Err(ParseError::Invalid { .. }) | Ok(_) => {}
        }
    }

    /// Ids of every JSON type: strings and integers are requests, null is refused, every other
    /// type is an invalid request without an id (never a parse error).
    #[test]
    fn ids_of_every_type(id in json_text()) {
        let line = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        let value: serde_json::Value = match serde_json::from_str(&id) {
            Ok(v) => v,
            // `1e400`: valid JSON text, but no JSON number type holds it.
            Err(_) => return Ok(()),
        };
        match (Message::parse(&line), &value) {
            (Ok(Message::Request { .. }), v) => prop_assert!(v.is_string() || v.is_i64(), "{line}"),
            (Err(ParseError::Invalid { id: None, .. }), v) => {
                prop_assert!(!(v.is_string() || v.is_i64()), "{line}");
            }
            (other, _) => prop_assert!(false, "{line} → {other:?}"),
        }
    }

    /// Framing: lines come out as written (CR LF or LF, blank lines skipped), a line over the cap
    /// is skipped and reported with its length, invalid UTF-8 is reported, and reading in any
    /// chunk size gives the same answer.
    #[test]
    fn framing_matches_a_reference_split(
        lines in proptest::collection::vec(prop_oneof![
            "[ -~]{0,40}",
            "\\PC{0,10}",
            proptest::collection::vec(any::<u8>().prop_filter("no line breaks", |b| *b != b'\n' && *b != b'\r'), 0..12)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ], 0..12),
        crlf in any::<bool>(),
        chunk in 1usize..17,
        cap in 8usize..48,
    ) {
        let sep = if crlf { "\r\n" } else { "\n" };
        let input: String = lines.iter().map(|l| format!("{l}{sep}")).collect();
        let mut expected = Vec::new();
        for l in &lines {
            let len = l.len() + usize::from(crlf);
            if len > cap {
                expected.push(ReadLine::TooLong(len));
            } else if !l.bytes().all(|b| b.is_ascii_whitespace()) {
                expected.push(ReadLine::Line(l.clone()));
            }
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(async {
            let reader = tokio::io::BufReader::with_capacity(chunk, input.as_bytes());
            let mut r = LineReader::new(reader, cap);
            let mut out = Vec::new();
            loop {
                match r.next_line().await.unwrap() {
                    ReadLine::Eof => break,
                    other => out.push(other),
                }
            }
            out
        });
        prop_assert_eq!(got, expected);
    }
}
