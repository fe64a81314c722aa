//! OpenAPI import: focused conversions, the Swagger Petstore (3.0 JSON and YAML, 3.1) and
//! GitHub's REST description from npm `@octokit/openapi` (installed by
//! `scripts/install-test-deps.sh` into `.test-deps/npm/node_modules`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{echo, env, server};
use crate::capability::openapi::{self, ImportOptions};
use crate::capability::{CapabilitySet, PinStore};

fn node_modules() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deps = std::env::var_os("MCP_GATEWAY_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".test-deps"));
    let nm = deps.join("npm/node_modules");
    assert!(
        nm.join("@octokit/openapi").is_dir() && nm.join("@readme/oas-examples").is_dir(),
        "OpenAPI test specs missing in {}: run scripts/install-test-deps.sh",
        nm.display()
    );
    nm
}

struct Imported {
    total: usize,
    written: usize,
    loaded: CapabilitySet,
    load_problems: usize,
    skipped: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

fn import_file(spec_path: &Path, opts: &ImportOptions) -> Imported {
    let text = std::fs::read_to_string(spec_path).unwrap();
    let spec = openapi::parse_spec(&text, &spec_path.display().to_string()).unwrap();
    let conversion = openapi::convert(&spec, opts, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = openapi::write(&conversion, dir.path()).unwrap();
    let (loaded, problems) =
        CapabilitySet::load(&[dir.path().to_path_buf()], &PinStore::in_memory());
    for p in problems.iter().take(5) {
        eprintln!("load problem: {p}");
    }
    let mut skipped = conversion.skipped.clone();
    skipped.extend(report.rejected.iter().cloned());
    Imported {
        total: conversion.generated.len() + conversion.skipped.len(),
        written: report.written.len(),
        loaded,
        load_problems: problems.len(),
        skipped,
        _dir: dir,
    }
}

#[tokio::test]
async fn petstore_imports_loads_and_calls() {
    let nm = node_modules();
    let examples = nm.join("@readme/oas-examples");
    let opts = ImportOptions {
        prefix: Some("pet".into()),
        ..Default::default()
    };
    for spec in [
        "3.0/json/petstore.json",
        "3.0/yaml/petstore.yaml",
        "3.1/json/petstore.json",
    ] {
        let imported = import_file(&examples.join(spec), &opts);
        eprintln!(
            "{spec}: {} operations, {} written, {} loaded, skipped: {:?}",
            imported.total,
            imported.written,
            imported.loaded.len(),
            imported.skipped
        );
        assert_eq!(imported.total, 20, "{spec}");
        assert_eq!(imported.load_problems, 0, "{spec}");
        assert_eq!(imported.loaded.len(), imported.written, "{spec}");
        // docs/capabilities.md: all 20 imported and loaded (the optional multipart body of
        // `uploadFile` is dropped, the operation kept).
        assert_eq!(imported.written, 20, "{spec}: {:?}", imported.skipped);
    }

    let imported = import_file(&examples.join("3.0/json/petstore.json"), &opts);
    let tool = |name: &str| {
        imported
            .loaded
            .tools()
            .into_iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let get = tool("pet_getPetById");
    assert_eq!(get["inputSchema"]["required"], json!(["petId"]));
    assert_eq!(get["annotations"]["readOnlyHint"], true);
    assert_eq!(
        tool("pet_deletePet")["annotations"]["destructiveHint"],
        true
    );

    let srv = server().await;
    let set = imported.loaded.clone().with_env(env(&[
        ("PET_BASE_URL", &srv.base),
        ("PET_API_KEY", "k1"),
        ("PET_TOKEN", "t1"),
    ]));
    let e = echo(&set.call("pet_getPetById", json!({"petId": 42})).await).clone();
    assert_eq!(e["path"], "/pet/42");
    assert_eq!(e["headers"]["api_key"], "k1");
    let e = echo(
        &set.call(
            "pet_findPetsByStatus",
            json!({"status": ["available", "sold"]}),
        )
        .await,
    )
    .clone();
    assert_eq!(e["query"], "status=available&status=sold");
    assert_eq!(e["headers"]["authorization"], "Bearer t1");
    let e = echo(
        &set.call(
            "pet_addPet",
            json!({"name": "Rex", "photoUrls": ["u"], "status": "available"}),
        )
        .await,
    )
    .clone();
    assert_eq!(e["method"], "POST");
    let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"name": "Rex", "photoUrls": ["u"], "status": "available"})
    );
    // Schema from the spec is enforced: `status` is an enum.
    let r = set
        .call(
            "pet_addPet",
            json!({"name": "Rex", "photoUrls": [], "status": "lost"}),
        )
        .await;
    assert_eq!(r["isError"], true);
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("argument `status`")
    );
    let e = echo(
        &set.call("pet_updatePetWithForm", json!({"petId": 1, "name": "a b"}))
            .await,
    )
    .clone();
    assert_eq!(e["body"], "name=a+b");
}

#[test]
fn github_rest_description_imports_and_loads() {
    let nm = node_modules();
    let spec = nm.join("@octokit/openapi/generated/api.github.com.json");
    let imported = import_file(
        &spec,
        &ImportOptions {
            prefix: Some("gh".into()),
            ..Default::default()
        },
    );
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, r) in &imported.skipped {
        let key: String = r.split(['`', '(']).next().unwrap_or(r).trim().to_string();
        *reasons.entry(key).or_default() += 1;
    }
    eprintln!(
        "GitHub REST: {} operations, {} written, {} loaded cleanly, {} load problems; skipped by reason: {reasons:?}",
        imported.total,
        imported.written,
        imported.loaded.len(),
        imported.load_problems
    );
    // docs/capabilities.md: 1223 operations in the pinned @octokit/openapi, every one imported
    // and loaded cleanly.
    assert_eq!(imported.total, 1223);
    assert_eq!(imported.load_problems, 0);
    assert_eq!(imported.loaded.len(), imported.written);
    assert_eq!(imported.written, imported.total, "skipped: {reasons:?}");
    let t = imported
        .loaded
        .tools()
        .into_iter()
        .find(|t| t["name"] == "gh_repos_get")
        .unwrap();
    assert_eq!(t["inputSchema"]["required"], json!(["owner", "repo"]));
}

#[test]
fn focused_conversion_rules() {
    let spec = json!({
        "openapi": "3.1.0",
        "info": {"title": "Demo API", "version": "1"},
        "servers": [{"url": "https://{region}.demo.test/v{ver}", "variables": {"region": {"default": "eu"}, "ver": {"default": "2"}}}],
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}, "q": {"type": "apiKey", "in": "query", "name": "key"}, "c": {"type": "apiKey", "in": "cookie", "name": "sid"}},
            "schemas": {
                "Node": {"type": "object", "properties": {"id": {"type": "integer", "readOnly": true}, "name": {"type": "string"}, "child": {"$ref": "#/components/schemas/Node"}}, "required": ["id", "name"]}
            },
            "parameters": {"Id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}}
        },
        "paths": {
            "/nodes/{id}": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "put": {"operationId": "nodes/update", "security": [{"basic": []}],
                        "parameters": [{"name": "id", "in": "query", "schema": {"type": "string"}}, {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}},
                "get": {"summary": "Get a node", "security": [{"q": []}, {}]}
            },
            "/remote": {"get": {"operationId": "remote", "parameters": [{"$ref": "https://elsewhere.test/p.json#/x"}]}},
            "/upload": {"post": {"operationId": "upload", "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object"}}}}}},
            "/cookie": {"get": {"operationId": "cookie", "security": [{"c": []}]}},
            "/list": {"post": {"operationId": "list", "requestBody": {"content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}}}}
        }
    });
    let conv = openapi::convert(&spec, &ImportOptions::default(), None).unwrap();
    let by_name = |n: &str| {
        conv.generated
            .iter()
            .find(|g| g.name == n)
            .map(|g| g.document.clone())
    };
    let update = by_name("nodes_update").expect("nodes_update");
    let cfg = &update["providers"]["primary"]["config"];
    assert_eq!(
        cfg["base_url"],
        "${DEMO_API_BASE_URL:-https://eu.demo.test/v2}"
    );
    assert_eq!(cfg["path"], "/nodes/{id}");
    assert_eq!(
        cfg["param_map"],
        json!({"query_id": "id"}),
        "query `id` renamed on the clash"
    );
    assert_eq!(cfg["headers"], json!({"X-Trace": "{X_Trace}"}));
    assert_eq!(
        cfg["body"],
        json!({"name": "{name}", "child": "{child}"}),
        "readOnly `id` dropped"
    );
    assert_eq!(
        update["auth"],
        json!({"type": "basic", "username": "${DEMO_API_USERNAME}", "password": "${DEMO_API_PASSWORD}", "required": true})
    );
    let input = &update["schema"]["input"];
    assert_eq!(input["required"], json!(["id", "name"]));
    assert!(
        input["properties"]["child"]["description"]
            .as_str()
            .unwrap()
            .contains("recursive")
    );

    let get = by_name("get_nodes_id").expect("unnamed op gets method+path name");
    assert_eq!(get["description"], "Get a node");
    assert_eq!(
        get["auth"],
        json!({"type": "api_key", "param": "key", "key": "${DEMO_API_API_KEY}", "required": false})
    );

    let list = by_name("list").unwrap();
    assert_eq!(list["providers"]["primary"]["config"]["body"], "{body}");

    let skipped: Vec<&str> = conv.skipped.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        skipped,
        vec!["GET /cookie", "GET /remote", "POST /upload"],
        "{:?}",
        conv.skipped
    );
    assert!(conv.skipped.iter().any(|(_, r)| r.contains("remote $ref")));

    // Every generated document loads.
    let dir = tempfile::tempdir().unwrap();
    let report = openapi::write(&conv, dir.path()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let (set, problems) = CapabilitySet::load(&[dir.path().to_path_buf()], &PinStore::in_memory());
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(set.len(), 3);

    // --include filters by name, operationId or path.
    let only = openapi::convert(
        &spec,
        &ImportOptions {
            include: vec!["/nodes/*".into()],
            prefix: Some("d".into()),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let names: Vec<&str> = only.generated.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["d_get_nodes_id", "d_nodes_update"]);
    assert_eq!(only.excluded, 4);

    assert!(
        openapi::parse_spec("{\"swagger\": \"2.0\"}", "s")
            .unwrap_err()
            .to_string()
            .contains("Swagger 2.0")
    );
    assert!(openapi::parse_spec("openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n", "y").is_ok());
}
