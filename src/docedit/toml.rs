//! TOML edits through `toml_edit`, which keeps the comments and layout of untouched tables
//! (and the comment block above a removed table, when it belongs to what follows).

use serde_json::Value;

use super::DocError;

pub(super) fn toml_table_to_json(t: &toml_edit::Table) -> Value {
    Value::Object(
        t.iter()
            .map(|(k, item)| (k.to_string(), toml_item_to_json(item)))
            .collect(),
    )
}

fn toml_item_to_json(item: &toml_edit::Item) -> Value {
    use toml_edit::Item;
    match item {
        Item::None => Value::Null,
        Item::Value(v) => toml_value_to_json(v),
        Item::Table(t) => toml_table_to_json(t),
        Item::ArrayOfTables(a) => Value::Array(a.iter().map(toml_table_to_json).collect()),
    }
}

fn toml_value_to_json(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match v {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(a) => Value::Array(a.iter().map(toml_value_to_json).collect()),
        T::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), toml_value_to_json(v)))
                .collect(),
        ),
    }
}

fn json_to_toml_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::Null => toml_edit::Value::from(""),
        Value::Bool(b) => toml_edit::Value::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml_edit::Value::from(i),
            None => toml_edit::Value::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => toml_edit::Value::from(s.as_str()),
        Value::Array(a) => toml_edit::Value::Array(a.iter().map(json_to_toml_value).collect()),
        Value::Object(o) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in o {
                t.insert(k, json_to_toml_value(v));
            }
            toml_edit::Value::InlineTable(t)
        }
    }
}

pub(super) fn toml_edit_entries(
    text: &str,
    section: &[String],
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| DocError::Parse {
                line: 0,
                column: 0,
                message: e.message().to_string(),
            })?;
    let mut table = doc.as_table_mut();
    for (i, key) in section.iter().enumerate() {
        if !table.contains_key(key) {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            table.insert(key, toml_edit::Item::Table(t));
        }
        table = table
            .get_mut(key)
            .and_then(toml_edit::Item::as_table_mut)
            .ok_or_else(|| DocError::NotContainer {
                key: section[..=i].join("."),
                expected: "a table",
            })?;
    }
    let mut detached = Vec::new();
    for name in remove {
        if let Some(removed) = table.remove(name) {
            detached.extend(toml_detached_comments(&removed));
        }
    }
    for (name, value) in add {
        let obj = value.as_object().ok_or_else(|| DocError::NotContainer {
            key: format!("{}.{name}", section.join(".")),
            expected: "a table",
        })?;
        let mut t = toml_edit::Table::new();
        for (k, v) in obj {
            t.insert(k, toml_edit::Item::Value(json_to_toml_value(v)));
        }
        table.insert(name, toml_edit::Item::Table(t));
    }
    for (position, text) in detached {
        toml_keep_comments(&mut doc, position, &text);
    }
    let mut out = doc.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The comment block above a removed table that a blank line separates from it: it is about
/// what comes before or after, not about this table, so it stays. Returns `(the table's
/// position, the block)`; the comment lines directly above the table go with it.
fn toml_detached_comments(removed: &toml_edit::Item) -> Option<(isize, String)> {
    let table = removed.as_table()?;
    let prefix = table.decor().prefix()?.as_str()?;
    let cut = prefix
        .rfind("\n\n")
        .or_else(|| prefix.rfind("\r\n\r\n").map(|i| i + 2))?;
    let head = &prefix[..cut + 1];
    head.lines()
        .any(|l| l.trim_start().starts_with('#'))
        .then(|| (table.position().unwrap_or(isize::MAX), head.to_string()))
}

/// Puts a detached comment block before the first table after `position` (in document order),
/// or at the end of the document.
fn toml_keep_comments(doc: &mut toml_edit::DocumentMut, position: isize, text: &str) {
    fn next_after<'t>(
        table: &'t mut toml_edit::Table,
        position: isize,
        best: &mut Option<(isize, &'t mut toml_edit::Table)>,
    ) {
        for (_, item) in table.iter_mut() {
            if let Some(t) = item.as_table_mut() {
                let p = t.position().filter(|p| *p > position && !t.is_implicit());
                let better = p.is_some_and(|p| best.as_ref().is_none_or(|(b, _)| p < *b));
                // Children come after their parent: look inside only when the parent is not
                // itself the answer.
                if better {
                    *best = Some((p.unwrap_or_default(), t));
                } else {
                    next_after(t, position, best);
                }
            }
        }
    }
    let mut best = None;
    next_after(doc.as_table_mut(), position, &mut best);
    match best {
        Some((_, t)) => {
            let old = t
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or_default()
                .to_string();
            let blank = if old.starts_with(['\n', '\r']) {
                ""
            } else {
                "\n"
            };
            t.decor_mut().set_prefix(format!("{text}{blank}{old}"));
        }
        None => {
            let trailing = doc.trailing().as_str().unwrap_or_default().to_string();
            doc.set_trailing(format!("{text}{trailing}"));
        }
    }
}
