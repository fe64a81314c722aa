//! The compact match object `gateway_search_tools` returns for each hit.
//!
//! Owns trimming: the description is cut to its first paragraph and a few sentences (what helps a
//! model choose), descriptions nested in the input schema are cut shorter, and everything else in
//! the schema (types, properties, required, enums, nesting) is kept as the backend sent it, so the
//! model can call the tool straight from the match. It never invents schema content.

use serde_json::{Map, Value, json};

use super::Hit;

/// Longest tool description kept, in characters.
pub const DESCRIPTION_CHARS: usize = 300;
/// Longest description kept for a property inside the input schema, in characters.
pub const SCHEMA_DESCRIPTION_CHARS: usize = 120;

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

/// Copies the schema, trimming long `description` strings at any depth and dropping the
/// `$schema` dialect marker (it tells the model nothing). Property maps are walked as maps, so a
/// property that happens to be *named* `description` is kept intact.
pub fn trim_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$schema", _) => {}
                    ("description", Value::String(s)) => {
                        out.insert(
                            k.clone(),
                            Value::String(trim_description(s, SCHEMA_DESCRIPTION_CHARS)),
                        );
                    }
                    (
                        "properties" | "patternProperties" | "$defs" | "definitions",
                        Value::Object(props),
                    ) => {
                        let props = props
                            .iter()
                            .map(|(name, sub)| (name.clone(), trim_schema(sub)))
                            .collect();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), trim_schema(v));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(trim_schema).collect()),
        other => other.clone(),
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
