//! A focused JSON Schema validator for tool arguments.
//!
//! Owns checking call arguments against a capability's input schema before any request is made.
//! Supports the subset capability and OpenAPI schemas use: `type` (one or a list), `nullable`,
//! `required`, `enum`, `const`, `properties`, `additionalProperties`, `items`, `minimum`,
//! `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `minItems`,
//! `maxItems`, `pattern`, `anyOf`, `oneOf`, `allOf`. Unknown keywords (`format`, `description`, …)
//! are ignored. It never changes the arguments.

use serde_json::Value;

/// The first violation found, naming the argument (dotted path) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argument `{path}`: {reason}")]
pub struct Violation {
    /// `city`, `filter.tags[2]`; `(arguments)` for the whole object.
    pub path: String,
    pub reason: String,
}

/// Validates `value` against `schema`.
pub fn validate(schema: &Value, value: &Value) -> Result<(), Violation> {
    check(schema, value, "")
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(arguments)".to_string()
    } else {
        path.to_string()
    }
}

fn fail(path: &str, reason: impl Into<String>) -> Result<(), Violation> {
    Err(Violation {
        path: display_path(path),
        reason: reason.into(),
    })
}

/// The JSON type of `value`, as JSON Schema names it (also used by the meta-tools' checks).
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(expected: &str, value: &Value) -> bool {
    match expected {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), Violation> {
    let Some(s) = schema.as_object() else {
        // `true` / `{}` / anything non-object accepts everything; `false` rejects.
        if schema == &Value::Bool(false) {
            return fail(path, "no value is allowed here");
        }
        return Ok(());
    };
    let nullable = s.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    if value.is_null() && nullable {
        return Ok(());
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| matches_type(t, value)) {
            return fail(
                path,
                format!("expected {}, got {}", types.join(" or "), type_name(value)),
            );
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| a == value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        return fail(
            path,
            format!(
                "{value} is not one of the allowed values: {}",
                list.join(", ")
            ),
        );
    }
    if let Some(c) = s.get("const")
        && c != value
    {
        return fail(path, format!("must be {c}"));
    }
    match value {
        Value::Number(n) => check_number(s, n.as_f64().unwrap_or(0.0), path)?,
        Value::String(text) => check_string(s, text, path)?,
        Value::Array(items) => check_array(s, items, path)?,
        Value::Object(map) => check_object(s, map, path)?,
        _ => {}
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(sub, value, path)?;
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        let mut first = None;
        if !any.iter().any(|sub| match check(sub, value, path) {
            Ok(()) => true,
            Err(e) => {
                first.get_or_insert(e);
                false
            }
        }) {
            return Err(first.unwrap_or_else(|| Violation {
                path: display_path(path),
                reason: "matches none of the allowed shapes".to_string(),
            }));
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let passing = one
            .iter()
            .filter(|sub| check(sub, value, path).is_ok())
            .count();
        if passing != 1 {
            return fail(
                path,
                format!("must match exactly one allowed shape, matches {passing}"),
            );
        }
    }
    Ok(())
}

fn bound(s: &serde_json::Map<String, Value>, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

fn check_number(s: &serde_json::Map<String, Value>, n: f64, path: &str) -> Result<(), Violation> {
    if let Some(min) = bound(s, "minimum")
        && n < min
    {
        return fail(path, format!("{n} is less than the minimum {min}"));
    }
    if let Some(max) = bound(s, "maximum")
        && n > max
    {
        return fail(path, format!("{n} is greater than the maximum {max}"));
    }
    if let Some(min) = bound(s, "exclusiveMinimum")
        && n <= min
    {
        return fail(path, format!("{n} must be greater than {min}"));
    }
    if let Some(max) = bound(s, "exclusiveMaximum")
        && n >= max
    {
        return fail(path, format!("{n} must be less than {max}"));
    }
    Ok(())
}

fn check_string(
    s: &serde_json::Map<String, Value>,
    text: &str,
    path: &str,
) -> Result<(), Violation> {
    let len = text.chars().count() as u64;
    if let Some(min) = s.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        return fail(path, format!("is {len} characters, at least {min} needed"));
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        return fail(path, format!("is {len} characters, at most {max} allowed"));
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str)
        && let Ok(re) = regex::Regex::new(pattern)
        && !re.is_match(text)
    {
        return fail(
            path,
            format!("{text:?} does not match the pattern {pattern}"),
        );
    }
    Ok(())
}

fn check_array(
    s: &serde_json::Map<String, Value>,
    items: &[Value],
    path: &str,
) -> Result<(), Violation> {
    let len = items.len() as u64;
    if let Some(min) = s.get("minItems").and_then(Value::as_u64)
        && len < min
    {
        return fail(path, format!("has {len} items, at least {min} needed"));
    }
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
        && len > max
    {
        return fail(path, format!("has {len} items, at most {max} allowed"));
    }
    if let Some(item_schema) = s.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{}[{i}]", path))?;
        }
    }
    Ok(())
}

fn check_object(
    s: &serde_json::Map<String, Value>,
    map: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<(), Violation> {
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(key) {
                return Err(Violation {
                    path: child(path, key),
                    reason: "is required but missing".to_string(),
                });
            }
        }
    }
    let props = s.get("properties").and_then(Value::as_object);
    for (key, v) in map {
        let p = child(path, key);
        match props.and_then(|p| p.get(key)) {
            Some(prop_schema) => check(prop_schema, v, &p)?,
            None => match s.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> = props
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let hint = crate::suggest::hint(key, known.iter().copied());
                    return Err(Violation {
                        path: p,
                        reason: format!("is not an accepted argument{hint}"),
                    });
                }
                Some(extra @ Value::Object(_)) => check(extra, v, &p)?,
                _ => {}
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["city"],
            "properties": {
                "city": {"type": "string", "minLength": 2},
                "days": {"type": "integer", "minimum": 1, "maximum": 16},
                "units": {"enum": ["metric", "imperial"]},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "maybe": {"type": "string", "nullable": true}
            }
        })
    }

    fn err(v: Value) -> String {
        validate(&schema(), &v).unwrap_err().to_string()
    }

    #[test]
    fn accepts_valid_arguments() {
        validate(
            &schema(),
            &json!({"city": "Oslo", "days": 3, "units": "metric", "tags": ["a"], "code": "NO", "maybe": null}),
        )
        .unwrap();
        // 3.0 is an integer in JSON Schema.
        validate(&schema(), &json!({"city": "Oslo", "days": 3.0})).unwrap();
    }

    #[test]
    fn each_violation_names_the_argument_and_reason() {
        assert_eq!(err(json!({})), "argument `city`: is required but missing");
        assert_eq!(
            err(json!({"city": 5})),
            "argument `city`: expected string, got integer"
        );
        assert!(
            err(json!({"city": "Oslo", "days": 0}))
                .contains("`days`: 0 is less than the minimum 1")
        );
        assert!(err(json!({"city": "Oslo", "days": 2.5})).contains("expected integer, got number"));
        assert!(
            err(json!({"city": "Oslo", "units": "kelvin"}))
                .contains("`units`: \"kelvin\" is not one of")
        );
        assert!(
            err(json!({"city": "Oslo", "tags": ["a", 1]})).contains("`tags[1]`: expected string")
        );
        assert!(err(json!({"city": "Oslo", "tags": ["a", "b", "c"]})).contains("at most 2"));
        assert!(err(json!({"city": "O"})).contains("at least 2"));
        assert!(err(json!({"city": "Oslo", "code": "no"})).contains("does not match the pattern"));
        assert_eq!(
            err(json!({"city": "Oslo", "dayz": 1})),
            "argument `dayz`: is not an accepted argument (did you mean `days`?)"
        );
    }

    #[test]
    fn combinators() {
        let s = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        validate(&s, &json!(1)).unwrap();
        assert!(validate(&s, &json!(true)).is_err());
        let s = json!({"oneOf": [{"type": "number"}, {"type": "integer"}]});
        assert!(validate(&s, &json!(1)).is_err());
        validate(&s, &json!(1.5)).unwrap();
        let s = json!({"allOf": [{"minimum": 1}, {"maximum": 3}]});
        assert!(validate(&s, &json!(4)).is_err());
    }
}
