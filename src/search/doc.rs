//! What a tool is to search: the [`ToolDoc`] the catalog hands over, and which of its texts are
//! indexed (name with its joined identifier, title, description, parameter names, parameter
//! descriptions, server name and description).
//!
//! It never analyzes text or scores anything.

use serde_json::Value;

use super::analyzer::joined_identifier;

/// One searchable tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDoc {
    pub server: String,
    pub server_description: Option<String>,
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: Value,
}
impl ToolDoc {
    /// The text the embedding model encodes for this tool: its name with identifier parts
    /// split, its title, its description and its parameter names (split the same way).
    ///
    /// Parameter names, not their descriptions: on BFCL's tune half they lifted hybrid R@5 by
    /// 0.020 with the default model, descriptions as well only by 0.012 (docs/BENCHMARKS.md).
    pub fn embedding_text(&self) -> String {
        let mut names = String::new();
        collect_schema_text(&self.input_schema, &mut names, &mut String::new(), 0);
        let params: Vec<String> = names.split_whitespace().map(split_identifier).collect();
        let params = params.join(", ");
        let mut text = split_identifier(&self.name);
        for part in [
            self.title.as_deref().unwrap_or("").trim(),
            self.description.trim(),
            &params,
        ] {
            if !part.is_empty() {
                text.push_str(if text.ends_with('.') { " " } else { ". " });
                text.push_str(part);
            }
        }
        text
    }
}

/// `create_issue`, `getUserInfo` → `create issue`, `get user info`.
fn split_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || c == '.' || c == '/' || c == ':' {
            out.push(' ');
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_lowercase());
    }
    out
}

/// The text of each indexed field of one tool.
pub(super) struct FieldTexts {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) params: String,
    pub(super) param_desc: String,
    pub(super) server: String,
}

impl FieldTexts {
    pub(super) fn of(d: &ToolDoc) -> FieldTexts {
        let joined = joined_identifier(&d.name);
        let name = if d.name.chars().all(char::is_alphanumeric) {
            d.name.clone()
        } else {
            format!("{} {joined}", d.name)
        };
        let mut params = String::new();
        let mut param_desc = String::new();
        collect_schema_text(&d.input_schema, &mut params, &mut param_desc, 0);
        FieldTexts {
            name,
            title: d.title.clone().unwrap_or_default(),
            description: d.description.clone(),
            params,
            param_desc,
            server: format!(
                "{} {}",
                d.server,
                d.server_description.as_deref().unwrap_or("")
            ),
        }
    }
}

/// Deepest schema nesting walked for parameter text.
const SCHEMA_DEPTH: usize = 4;

/// Property names (into `names`) and property descriptions, titles and string enum values (into
/// `descriptions`) of a JSON schema, walking nested objects and array items.
fn collect_schema_text(
    schema: &Value,
    names: &mut String,
    descriptions: &mut String,
    depth: usize,
) {
    if depth > SCHEMA_DEPTH {
        return;
    }
    let Some(obj) = schema.as_object() else {
        return;
    };
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, sub) in props {
            names.push_str(name);
            names.push(' ');
            if let Some(sub) = sub.as_object() {
                for key in ["description", "title"] {
                    if let Some(Value::String(s)) = sub.get(key) {
                        descriptions.push_str(s);
                        descriptions.push(' ');
                    }
                }
                if let Some(Value::Array(values)) = sub.get("enum") {
                    for v in values.iter().filter_map(Value::as_str) {
                        descriptions.push_str(v);
                        descriptions.push(' ');
                    }
                }
            }
            collect_schema_text(sub, names, descriptions, depth + 1);
        }
    }
    if let Some(items) = obj.get("items") {
        collect_schema_text(items, names, descriptions, depth + 1);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(variants)) = obj.get(key) {
            for v in variants {
                collect_schema_text(v, names, descriptions, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedding_text_has_the_split_name_the_description_and_the_parameter_names() {
        let doc = ToolDoc {
            server: "geo".into(),
            server_description: None,
            name: "calculate_triangleArea".into(),
            title: None,
            description: "Area of a triangle.".into(),
            input_schema: serde_json::json!({
                "type": "object",
                "properties": {
                    "base_length": {"type": "number", "description": "The base."},
                    "options": {"type": "object", "properties": {"unitName": {"type": "string"}}}
                }
            }),
        };
        assert_eq!(
            doc.embedding_text(),
            "calculate triangle area. Area of a triangle. base length, options, unit name"
        );
        let bare = ToolDoc {
            input_schema: serde_json::Value::Null,
            ..doc
        };
        assert_eq!(
            bare.embedding_text(),
            "calculate triangle area. Area of a triangle."
        );
        let untitled_undescribed = ToolDoc {
            description: String::new(),
            input_schema: serde_json::json!({"properties": {"q": {}}}),
            ..bare
        };
        assert_eq!(
            untitled_undescribed.embedding_text(),
            "calculate triangle area. q"
        );
    }
}
