//! JSON / JSONC edits through `jsonc-parser`'s concrete syntax tree: comments, trailing commas,
//! whitespace, unknown keys and key order survive; only the touched properties change.

use serde_json::Value;

use super::DocError;

pub(super) fn json_edit(
    text: &str,
    section: &[String],
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    use jsonc_parser::cst::CstRootNode;
    let source = if text.trim().is_empty() { "{}\n" } else { text };
    let root = CstRootNode::parse(source, &jsonc_parser::ParseOptions::default()).map_err(|e| {
        DocError::Parse {
            line: e.line_display(),
            column: e.column_display(),
            message: e.kind().to_string(),
        }
    })?;
    let mut obj = root.object_value_or_set();
    for (i, key) in section.iter().enumerate() {
        if let Some(prop) = obj.get(key)
            && prop.object_value().is_none()
            && !matches!(
                prop.value(),
                Some(jsonc_parser::cst::CstNode::Leaf(
                    jsonc_parser::cst::CstLeafNode::NullKeyword(_)
                ))
            )
        {
            return Err(DocError::NotContainer {
                key: section[..=i].join("."),
                expected: "an object",
            });
        }
        obj = obj.object_value_or_set(key);
    }
    for name in remove {
        if let Some(prop) = obj.get(name) {
            let comments = leading_comment_nodes(&prop);
            prop.remove();
            for node in comments {
                node.remove();
            }
        }
    }
    for (name, value) in add {
        obj.append(name, to_cst(value));
    }
    let mut out = root.to_string();
    if text.trim().is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The comment lines directly above `prop` (each on its own line, no blank line in between),
/// with their line breaks: they describe the entry and go with it. Trailing comments of the
/// previous line stay.
fn leading_comment_nodes(
    prop: &jsonc_parser::cst::CstObjectProp,
) -> Vec<jsonc_parser::cst::CstNode> {
    let sibs: Vec<jsonc_parser::cst::CstNode> = prop.previous_siblings().collect();
    let skip_ws = |mut i: usize| {
        while i < sibs.len() && sibs[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let mut doomed = Vec::new();
    let mut i = skip_ws(0);
    while i < sibs.len() && sibs[i].is_newline() {
        let comment = skip_ws(i + 1);
        if comment >= sibs.len() || !sibs[comment].is_comment() {
            break;
        }
        let before = skip_ws(comment + 1);
        if before >= sibs.len() || !sibs[before].is_newline() {
            break;
        }
        doomed.extend(sibs[i..before].iter().cloned());
        i = before;
    }
    doomed
}

fn to_cst(v: &Value) -> jsonc_parser::cst::CstInputValue {
    use jsonc_parser::cst::CstInputValue as I;
    match v {
        Value::Null => I::Null,
        Value::Bool(b) => I::Bool(*b),
        Value::Number(n) => I::Number(n.to_string()),
        Value::String(s) => I::String(s.clone()),
        Value::Array(a) => I::Array(a.iter().map(to_cst).collect()),
        Value::Object(o) => I::Object(o.iter().map(|(k, v)| (k.clone(), to_cst(v))).collect()),
    }
}
