//! The effective config as a document: the files in effect read as written (no `${VAR}`
//! expansion) and laid over each other as the loader layers them. Used by `config export` and
//! by the REST API's `GET /api/v1/config`, both of which redact it (`crate::redact`) before
//! showing it.
//!
//! Owns the layering of *documents* (the loader layers typed values in `discover.rs`; the rules
//! are the same). It never expands variables, so a secret held in the environment never enters
//! the document, and it never redacts (that is `crate::redact`'s job).

use std::path::PathBuf;

use serde_json::Value;

use super::ConfigError;

/// The files `paths` (lowest precedence first) read with the config's YAML reader and layered;
/// `inherit` is dropped when more than one file is layered.
pub fn layered_document(paths: &[PathBuf]) -> Result<Value, ConfigError> {
    let mut value = Value::Object(serde_json::Map::new());
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        let upper = super::yaml::parse(&text, path)?.to_json();
        value = overlay(value, upper);
    }
    if let (true, Value::Object(m)) = (paths.len() > 1, &mut value) {
        m.remove("inherit");
    }
    Ok(value)
}

/// `upper` laid over `lower` as the loader layers files: a backend replaces the one of the same
/// name, one that sets only `enabled` switches the inherited one; in the other sections each key
/// replaces the inherited key (`auth` and `request_log` as a whole).
fn overlay(lower: Value, upper: Value) -> Value {
    let (mut lower, upper) = match (lower, upper) {
        (Value::Object(lower), Value::Object(upper)) => (lower, upper),
        (_, upper) => return upper,
    };
    for (section, value) in upper {
        let merged = match (section.as_str(), lower.remove(&section), value) {
            ("backends", Some(Value::Object(mut low)), Value::Object(up)) => {
                for (name, backend) in up {
                    let switch_only = backend
                        .as_object()
                        .is_some_and(|b| b.len() == 1 && b.contains_key("enabled"));
                    match low.get_mut(&name).and_then(Value::as_object_mut) {
                        Some(inherited) if switch_only => {
                            inherited.insert("enabled".to_string(), backend["enabled"].clone());
                        }
                        _ => {
                            low.insert(name, backend);
                        }
                    }
                }
                Value::Object(low)
            }
            ("auth" | "request_log", _, up) => up,
            (_, Some(Value::Object(mut low)), Value::Object(up)) => {
                low.extend(up);
                Value::Object(low)
            }
            (_, _, up) => up,
        };
        lower.insert(section, merged);
    }
    Value::Object(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overlay_layers_as_the_loader_does() {
        let lower = json!({"server": {"host": "127.0.0.1", "port": 1}, "backends": {
            "a": {"command": "x", "enabled": true}, "b": {"command": "y"}}});
        let upper = json!({"inherit": true, "server": {"port": 2}, "backends": {
            "a": {"enabled": false}, "b": {"command": "z"}, "c": {"command": "w"}}});
        let v = overlay(overlay(Value::Null, lower), upper);
        assert_eq!(v["server"], json!({"host": "127.0.0.1", "port": 2}));
        assert_eq!(
            v["backends"]["a"],
            json!({"command": "x", "enabled": false})
        );
        assert_eq!(v["backends"]["b"], json!({"command": "z"}));
        assert_eq!(v["backends"]["c"], json!({"command": "w"}));
    }

    #[test]
    fn layers_files_as_written_without_expanding_and_names_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.yaml");
        let project = dir.path().join("gateway.yaml");
        std::fs::write(
            &user,
            "backends:\n  a:\n    command: x\n    env: {T: \"${HOME}\"}\n",
        )
        .unwrap();
        std::fs::write(
            &project,
            "inherit: true\nbackends:\n  a: {enabled: false}\n",
        )
        .unwrap();
        let v = layered_document(&[user.clone(), project.clone()]).unwrap();
        assert_eq!(v["backends"]["a"]["env"]["T"], "${HOME}");
        assert_eq!(v["backends"]["a"]["enabled"], false);
        assert!(v.get("inherit").is_none(), "{v}");
        std::fs::write(&project, "backends: [\n").unwrap();
        let e = layered_document(std::slice::from_ref(&project))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gateway.yaml"), "{e}");
        let missing = dir.path().join("missing.yaml");
        let e = layered_document(&[missing]).unwrap_err().to_string();
        assert!(e.contains("missing.yaml"), "{e}");
    }
}
