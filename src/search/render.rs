//! The compact match object `gateway_search_tools` returns for each hit.
//!
//! Owns trimming: the description is cut to its first paragraph and a few sentences (what helps a
//! model choose), descriptions nested in the input schema are cut shorter, and everything else in
//! the schema (types, properties, required, enums, nesting) is kept as the backend sent it, so the
//! model can call the tool straight from the match. It never invents schema content.

use serde_json::{Map, Value, json};

use super::Hit;

/// Longest tool description kept, in characters.
pub const DESCRIPTION_CHARS: usize = 200;
/// Longest description kept for a top-level property of the input schema, in characters.
pub const SCHEMA_DESCRIPTION_CHARS: usize = 80;
/// Longest description kept for properties of properties, in characters. Deeper descriptions
/// are dropped: by then the structure (types, required, enums) says what a caller needs.
pub const NESTED_DESCRIPTION_CHARS: usize = 50;

/// `{"server", "tool", "description", "inputSchema", "score"}` for one hit.
pub fn render_match(hit: &Hit) -> Value {
    let doc = &hit.doc;
    json!({
        "server": doc.server,
        "tool": doc.name,
        "description": trim_description(&doc.description, DESCRIPTION_CHARS),
        "inputSchema": trim_schema(&doc.input_schema),
        "score": (f64::from(hit.score) * 1000.0).round() / 1000.0,
    })
}

/// First paragraph, whole sentences up to `max` characters; a single over-long sentence is cut at
/// a word boundary and marked with `…`.
pub fn trim_description(text: &str, max: usize) -> String {
    let text = text.trim();
    let para = text.split("\n\n").next().unwrap_or(text);
    let para: String = para.split_whitespace().collect::<Vec<_>>().join(" ");
    if para.chars().count() <= max {
        return para;
    }
    let cut = byte_index_of_char(&para, max);
    let head = &para[..cut];
    // The last sentence end inside the budget, if it keeps at least a third of it.
    let sentence_end = head
        .match_indices(". ")
        .map(|(i, _)| i + 1)
        .chain(head.match_indices("。").map(|(i, s)| i + s.len()))
        .filter(|&i| i >= cut / 3)
        .max();
    if let Some(end) = sentence_end {
        return head[..end].trim_end().to_string();
    }
    let word_end = head.rfind(' ').filter(|&i| i >= cut / 3).unwrap_or(cut);
    format!("{}…", head[..word_end].trim_end())
}

fn byte_index_of_char(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// Copies the schema, trimming long `description` strings at any depth, dropping what cannot
/// change its meaning (the `$schema` dialect marker, `additionalProperties: true`, which is the
/// default, and `$defs`/`definitions` entries nothing refers to). Property maps are walked as
/// maps, so a property that happens to be *named* `description` is kept intact.
pub fn trim_schema(schema: &Value) -> Value {
    let mut trimmed = trim_value(schema, 0);
    prune_unreferenced_definitions(&mut trimmed);
    trimmed
}

/// `depth` counts the `properties` maps above `schema`: 1 for a tool's own parameters.
fn trim_value(schema: &Value, depth: usize) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$schema", _) | ("additionalProperties", Value::Bool(true)) => {}
                    ("description", Value::String(s)) => {
                        let budget = match depth {
                            0 | 1 => SCHEMA_DESCRIPTION_CHARS,
                            2 => NESTED_DESCRIPTION_CHARS,
                            _ => continue,
                        };
                        out.insert(k.clone(), Value::String(trim_description(s, budget)));
                    }
                    (
                        "properties" | "patternProperties" | "$defs" | "definitions",
                        Value::Object(props),
                    ) => {
                        let props = props
                            .iter()
                            .map(|(name, sub)| (name.clone(), trim_value(sub, depth + 1)))
                            .collect();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), trim_value(v, depth));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| trim_value(v, depth)).collect()),
        other => other.clone(),
    }
}

/// Removes entries of the top-level `$defs` / `definitions` that no `$ref` reaches, following
/// references between definitions. Servers often ship one shared block of definitions in every
/// tool's schema; only the ones a tool uses matter to a caller.
fn prune_unreferenced_definitions(schema: &mut Value) {
    let Some(root) = schema.as_object_mut() else {
        return;
    };
    for key in ["$defs", "definitions"] {
        let Some(Value::Object(defs)) = root.remove(key) else {
            continue;
        };
        let prefix = format!("#/{key}/");
        let mut wanted: Vec<String> = Vec::new();
        collect_refs(&Value::Object(root.clone()), &prefix, &mut wanted);
        let mut i = 0;
        while i < wanted.len() {
            if let Some(def) = defs.get(&wanted[i]) {
                collect_refs(def, &prefix, &mut wanted);
            }
            i += 1;
        }
        let kept: Map<String, Value> = defs
            .into_iter()
            .filter(|(name, _)| wanted.contains(name))
            .collect();
        if !kept.is_empty() {
            root.insert(key.to_string(), Value::Object(kept));
        }
    }
}

/// Adds to `out` the definition names of every `$ref` below `value` that starts with `prefix`.
fn collect_refs(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if let ("$ref", Value::String(r)) = (k.as_str(), v)
                    && let Some(name) = r.strip_prefix(prefix)
                {
                    if !out.iter().any(|n| n == name) {
                        out.push(name.to_string());
                    }
                } else {
                    collect_refs(v, prefix, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, prefix, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_keeps_whole_sentences_within_budget() {
        let long = format!("Creates an issue. {}", "Very long detail. ".repeat(40));
        let t = trim_description(&long, 60);
        assert!(t.ends_with('.') && t.chars().count() <= 60, "{t}");
        assert_eq!(
            trim_description("Short.\n\nSecond paragraph.", 300),
            "Short."
        );
        let word = trim_description(&"word ".repeat(100), 50);
        assert!(word.ends_with('…') && word.chars().count() <= 51, "{word}");
    }

    #[test]
    fn only_referenced_definitions_are_kept() {
        let schema = json!({
            "$defs": {
                "used": {"type": "object", "properties": {"x": {"$ref": "#/$defs/nested"}}},
                "nested": {"type": "string"},
                "unused": {"type": "number"}
            },
            "type": "object",
            "additionalProperties": true,
            "properties": {"a": {"$ref": "#/$defs/used"}}
        });
        let t = trim_schema(&schema);
        let defs = t["$defs"].as_object().unwrap();
        assert!(defs.contains_key("used") && defs.contains_key("nested"));
        assert!(!defs.contains_key("unused"));
        assert!(t.get("additionalProperties").is_none());
        let none = trim_schema(&json!({"$defs": {"u": {}}, "type": "object"}));
        assert_eq!(none, json!({"type": "object"}));
    }

    #[test]
    fn schema_structure_survives_trimming() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "description": {"type": "string", "description": "x ".repeat(200)},
                "labels": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
            },
            "required": ["description"]
        });
        let t = trim_schema(&schema);
        assert!(t.get("$schema").is_none());
        assert_eq!(t["required"], json!(["description"]));
        assert_eq!(t["properties"]["labels"], schema["properties"]["labels"]);
        let d = t["properties"]["description"]["description"]
            .as_str()
            .unwrap();
        assert!(d.chars().count() <= SCHEMA_DESCRIPTION_CHARS + 1, "{d}");
        assert_eq!(t["properties"]["description"]["type"], "string");
    }
}
