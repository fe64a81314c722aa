//! Local `$ref` resolution for the OpenAPI import (JSON pointers into the spec, depth-bounded,
//! cycles cut, remote references refused) and the schema clean-ups applied on the way.

use serde_json::{Map, Value, json};

use super::MAX_REF_DEPTH;
/// Resolves local `$ref`s inside `value` (JSON pointers into `spec`).
pub(super) struct Resolver<'a> {
    pub(super) spec: &'a Value,
}

#[derive(Debug)]
pub(super) struct Unusable(pub(super) String);

impl<'a> Resolver<'a> {
    pub(super) fn lookup(&self, reference: &str) -> Result<&'a Value, Unusable> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(Unusable(format!(
                "remote $ref `{reference}` is not fetched"
            )));
        };
        self.spec
            .pointer(pointer)
            .ok_or_else(|| Unusable(format!("$ref `{reference}` points nowhere")))
    }

    /// `value` with every `$ref` replaced by its target (recursively), cycles cut to `{}`.
    pub(super) fn resolve(
        &self,
        value: &Value,
        stack: &mut Vec<String>,
    ) -> Result<Value, Unusable> {
        match value {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    if stack.contains(r) || stack.len() >= MAX_REF_DEPTH {
                        return Ok(json!({"description": "(recursive structure, not expanded)"}));
                    }
                    let target = self.lookup(r)?;
                    stack.push(r.clone());
                    let resolved = self.resolve(target, stack);
                    stack.pop();
                    let mut resolved = resolved?;
                    // 3.1 allows siblings next to $ref (description, …): they win.
                    if let Value::Object(out) = &mut resolved {
                        for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "$ref") {
                            out.insert(k.clone(), self.resolve(v, stack)?);
                        }
                    }
                    return Ok(resolved);
                }
                let mut out = Map::new();
                for (k, v) in m {
                    if matches!(
                        k.as_str(),
                        "xml" | "externalDocs" | "discriminator" | "example" | "examples"
                    ) {
                        continue;
                    }
                    out.insert(k.clone(), self.resolve(v, stack)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(a) => a
                .iter()
                .map(|v| self.resolve(v, stack))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
}

/// Drops `readOnly` properties from a request-body schema (the server sets them).
pub(super) fn drop_read_only(schema: &mut Value) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        let read_only: Vec<String> = props
            .iter()
            .filter(|(_, v)| v.get("readOnly").and_then(Value::as_bool) == Some(true))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &read_only {
            props.remove(k);
        }
        if let Some(req) = schema.get_mut("required").and_then(Value::as_array_mut) {
            req.retain(|r| r.as_str().is_none_or(|r| !read_only.iter().any(|k| k == r)));
        }
    }
}

pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}
