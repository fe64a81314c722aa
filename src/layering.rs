//! The layering of the core modules, checked against the source: a module may import only
//! modules of a lower layer, so there is no cycle and nothing below `session` reaches up.
//! (The command-line and setup modules sit above all of these and are not listed.)

use std::collections::BTreeMap;
use std::path::Path;

/// Core modules by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    // Test-only: the case counts of the property tests, usable from every module's tests.
    &["fuzz"],
    &[
        "jsonrpc",
        "mcp",
        "state",
        "shutdown",
        "suggest",
        "scope",
        "ratelimit",
        "outbound",
    ],
    &["error", "config", "embedding"],
    &["redact", "auth", "request_log", "metrics"],
    &["peer", "scanner", "search", "logging"],
    &["catalog", "capability"],
    &["skills"],
    &["backend"],
    &["gateway"],
    &["session"],
    &["front"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The `crate::X` modules named in the code of `module`'s files.
fn imports(src: &Path, module: &str) -> BTreeMap<String, String> {
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let re = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut found = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Code only: documentation may point anywhere.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for c in re.captures_iter(&code) {
            let dep = c[1].to_string();
            if dep != module {
                found.entry(dep).or_insert_with(|| f.display().to_string());
            }
        }
    }
    found
}

#[test]
fn core_modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (rank, layer) in LAYERS.iter().enumerate() {
        for module in *layer {
            for (dep, file) in imports(&src, module) {
                match layer_of(&dep) {
                    Some(r) if r < rank => {}
                    _ => wrong.push(format!("{module} imports {dep} ({file})")),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "upward or sideways imports:\n{}",
        wrong.join("\n")
    );
}
