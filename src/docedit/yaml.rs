//! YAML edits as targeted line operations inside the block of one top-level key (no maintained
//! comment-preserving YAML editor exists); layouts the line model cannot follow are refused.

use serde_json::Value;

use super::{DocError, FileFormat, Shape, entries_at, parse};

/// Renders a YAML scalar or flow collection. JSON is valid YAML 1.2 flow syntax, so values are
/// written as JSON: strings always double-quoted, so nothing is reinterpreted (`yes`, `1.0`, `~`).
fn yaml_flow(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(yaml_flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", yaml_flow(&Value::String(k.clone())), yaml_flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        scalar => serde_json::to_string(scalar).unwrap_or_else(|_| "null".into()),
    }
}

fn yaml_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.starts_with('-')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        k.to_string()
    } else {
        yaml_flow(&Value::String(k.to_string()))
    }
}

/// Lines of one map/list entry in block style at `indent`.
fn yaml_render_entry(name: &str, value: &Value, shape: Shape, indent: usize, nl: &str) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match (shape, value) {
        (Shape::Map, Value::Object(fields)) => {
            out.push_str(&format!("{pad}{}:{nl}", yaml_key(name)));
            for (k, v) in fields {
                out.push_str(&format!("{pad}  {}: {}{nl}", yaml_key(k), yaml_flow(v)));
            }
        }
        (Shape::NamedList, Value::Object(fields)) => {
            let mut first = true;
            for (k, v) in fields {
                let lead = if first {
                    format!("{pad}- ")
                } else {
                    format!("{pad}  ")
                };
                out.push_str(&format!("{lead}{}: {}{nl}", yaml_key(k), yaml_flow(v)));
                first = false;
            }
        }
        (Shape::Map, v) => out.push_str(&format!("{pad}{}: {}{nl}", yaml_key(name), yaml_flow(v))),
        (Shape::NamedList, v) => out.push_str(&format!("{pad}- {}{nl}", yaml_flow(v))),
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

pub(super) fn yaml_edit(
    text: &str,
    section: &[String],
    shape: Shape,
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    let key = match section {
        [k] => k.as_str(),
        _ => {
            return Err(DocError::Unsupported {
                key: section.join("."),
                reason: "only top-level YAML keys are edited".into(),
            });
        }
    };
    let unsupported = |reason: &str| DocError::Unsupported {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    if text.contains('\t') && text.lines().any(|l| l.starts_with('\t')) {
        return Err(unsupported("the file indents with tabs"));
    }
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push_str(nl);
    }
    let header_re = |l: &str| -> Option<String> {
        let rest = l.strip_prefix(key)?;
        let rest = rest.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with([' ', '\r', '\n', '\t'])) {
            return None;
        }
        Some(rest.to_string())
    };
    let header = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| header_re(l).map(|rest| (i, rest)));
    let Some((h, rest)) = header else {
        if add.is_empty() {
            return Ok(text.to_string());
        }
        let mut out: String = lines.concat();
        out.push_str(&format!("{}:{nl}", yaml_key(key)));
        for (name, value) in add {
            out.push_str(&yaml_render_entry(name, value, shape, 2, nl));
        }
        return Ok(out);
    };
    // What follows `key:` on its own line: nothing, a comment, or an empty flow collection.
    let (value_part, comment) = match rest.find(" #") {
        Some(p) => (rest[..p].trim().to_string(), rest[p..].trim().to_string()),
        None => (rest.trim().to_string(), String::new()),
    };
    let empty_flow = matches!(value_part.as_str(), "{}" | "[]" | "~" | "null");
    if !value_part.is_empty() && !empty_flow {
        return Err(unsupported("it is written in flow style on one line"));
    }
    if value_part.starts_with('&') || value_part.starts_with('*') {
        return Err(unsupported("it uses an anchor or alias"));
    }
    // The block: following lines until the next top-level content line.
    let mut end = h + 1;
    let mut last_content = h;
    while end < lines.len() {
        let l = &lines[end];
        if is_content(l) {
            let top = indent_of(l) == 0;
            let list_item = l.starts_with("- ") || l.trim_end() == "-";
            if top && !(shape == Shape::NamedList && list_item) {
                break;
            }
            if l.starts_with("---") || l.starts_with("...") {
                break;
            }
            last_content = end;
        }
        end += 1;
    }
    let body_end = last_content + 1; // exclusive; trailing comments/blank lines stay put
    let child_indent = lines[h + 1..body_end]
        .iter()
        .find(|l| is_content(l))
        .map(|l| indent_of(l));
    let mut starts = Vec::new();
    if let Some(ci) = child_indent {
        for (i, l) in lines.iter().enumerate().take(body_end).skip(h + 1) {
            if !is_content(l) {
                continue;
            }
            let ind = indent_of(l);
            if ind < ci {
                return Err(unsupported("its entries are not indented consistently"));
            }
            if ind == ci {
                let item = l[ci..].starts_with("- ") || l[ci..].trim_end() == "-";
                match shape {
                    Shape::Map if item => return Err(unsupported("expected a map, found a list")),
                    Shape::NamedList if !item => {
                        return Err(unsupported("expected a list, found a map"));
                    }
                    _ => starts.push(i),
                }
            }
        }
    }
    if !empty_flow && child_indent.is_none() && !value_part.is_empty() {
        return Err(unsupported("unexpected layout"));
    }
    let parsed = entries_at(&parse(text, FileFormat::Yaml)?, section, shape)?;
    if parsed.len() != starts.len() {
        return Err(unsupported(
            "its entries could not be matched line by line (anchors, merge keys or multi-line keys?)",
        ));
    }
    // Entry spans: start ..= last content line before the next start.
    let mut spans = Vec::new();
    for (n, &s) in starts.iter().enumerate() {
        let next = starts.get(n + 1).copied().unwrap_or(body_end);
        let mut e = s;
        for (i, l) in lines.iter().enumerate().take(next).skip(s) {
            if is_content(l) {
                e = i;
            }
        }
        spans.push((s, e));
    }
    // Comment lines directly above an entry (no blank line between) describe it: they go with it.
    let spans: Vec<(usize, usize)> = spans
        .into_iter()
        .zip(&parsed)
        .map(|((start, end), (name, _))| {
            let mut s = start;
            if remove.contains(name) {
                while s > h + 1 && lines[s - 1].trim_start().starts_with('#') {
                    s -= 1;
                }
            }
            (s, end)
        })
        .collect();
    let indent = child_indent.unwrap_or(2);
    let insert_at = spans.last().map(|&(_, e)| e + 1).unwrap_or(h + 1);
    let mut rendered = String::new();
    for (name, value) in add {
        rendered.push_str(&yaml_render_entry(name, value, shape, indent, nl));
    }
    let mut out = String::with_capacity(text.len() + rendered.len());
    for (i, line) in lines.iter().enumerate() {
        if i == h && empty_flow {
            let comment = if comment.is_empty() {
                String::new()
            } else {
                format!(" {comment}")
            };
            out.push_str(&format!("{}:{comment}{nl}", &line[..key.len()]));
        } else if !spans
            .iter()
            .zip(&parsed)
            .any(|(&(s, e), (name, _))| i >= s && i <= e && remove.contains(name))
        {
            out.push_str(line);
        }
        if i + 1 == insert_at {
            out.push_str(&rendered);
        }
    }
    Ok(out)
}
