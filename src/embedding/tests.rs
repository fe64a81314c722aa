//! Unit tests of the embedding model: a tiny BERT built here (random weights from a fixed seed,
//! a 40-word vocabulary) is installed, loaded and run; installs that must fail leave nothing.

use std::collections::HashMap;
use std::path::Path;

use super::bert::{Bert, write_safetensors};
use super::*;

const HIDDEN: usize = 8;
const HEADS: usize = 2;
const INTERMEDIATE: usize = 16;
const POSITIONS: usize = 32;
const WORDS: &[&str] = &[
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "the",
    "a",
    "weather",
    "forecast",
    "rain",
    "city",
    "football",
    "score",
    "match",
    "team",
    "file",
    "read",
    "write",
    "disk",
    "issue",
    "bug",
    "create",
    "open",
    "report",
    "time",
    "clock",
    "zone",
    "now",
    "get",
    "list",
    "search",
    "##s",
    "##ing",
    "query",
    "database",
    "table",
    "sql",
    "page",
    "screenshot",
    "browser",
    "click",
];

/// Deterministic pseudo-random weights in [-0.5, 0.5).
fn weights(seed: &mut u64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// Writes the tiny model's three files into `dir` and returns its spec (checksums of what was
/// written, served from `base_url`).
pub(crate) fn tiny_model(dir: &Path, base_url: &str) -> ModelSpec {
    std::fs::create_dir_all(dir).expect("model dir");
    let config = serde_json::json!({
        "hidden_size": HIDDEN, "num_hidden_layers": 1, "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE, "max_position_embeddings": POSITIONS,
        "vocab_size": WORDS.len(), "layer_norm_eps": 1e-12
    });
    std::fs::write(dir.join("config.json"), config.to_string()).expect("config");
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| ((*w).to_string(), serde_json::json!(i)))
        .collect();
    let tokenizer = serde_json::json!({"model": {"type": "WordPiece", "vocab": vocab}});
    std::fs::write(dir.join(TOKENIZER_FILE), tokenizer.to_string()).expect("tokenizer");
    let mut seed = 7;
    let mut t: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut add = |name: String, shape: Vec<usize>, seed: &mut u64| {
        let n = shape.iter().product();
        t.push((name, shape, weights(seed, n)));
    };
    add(
        "embeddings.word_embeddings.weight".into(),
        vec![WORDS.len(), HIDDEN],
        &mut seed,
    );
    add(
        "embeddings.position_embeddings.weight".into(),
        vec![POSITIONS, HIDDEN],
        &mut seed,
    );
    add(
        "embeddings.token_type_embeddings.weight".into(),
        vec![2, HIDDEN],
        &mut seed,
    );
    add(
        "embeddings.LayerNorm.weight".into(),
        vec![HIDDEN],
        &mut seed,
    );
    add("embeddings.LayerNorm.bias".into(), vec![HIDDEN], &mut seed);
    let p = "encoder.layer.0";
    for (name, out, inp) in [
        ("attention.self.query", HIDDEN, HIDDEN),
        ("attention.self.key", HIDDEN, HIDDEN),
        ("attention.self.value", HIDDEN, HIDDEN),
        ("attention.output.dense", HIDDEN, HIDDEN),
        ("intermediate.dense", INTERMEDIATE, HIDDEN),
        ("output.dense", HIDDEN, INTERMEDIATE),
    ] {
        add(format!("{p}.{name}.weight"), vec![out, inp], &mut seed);
        add(format!("{p}.{name}.bias"), vec![out], &mut seed);
    }
    for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
        add(format!("{p}.{name}.weight"), vec![HIDDEN], &mut seed);
        add(format!("{p}.{name}.bias"), vec![HIDDEN], &mut seed);
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = t
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.clone(), v.clone()))
        .collect();
    write_safetensors(&dir.join("model.safetensors"), &refs);
    let files = ["config.json", TOKENIZER_FILE, "model.safetensors"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(name)).expect("written");
            ModelFile {
                name: (*name).to_string(),
                source: (*name).to_string(),
                sha256: sha256_hex(&bytes),
                bytes: bytes.len() as u64,
            }
        })
        .collect();
    ModelSpec {
        id: "tiny-bert".to_string(),
        kind: ModelKind::Distilled,
        base_url: Some(base_url.to_string()),
        local_copy: "the tests".to_string(),
        license: "test".to_string(),
        provenance: "built by the tests".to_string(),
        files,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Names in `dir` (installed models, staging or old directories).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn installs_from_a_directory_loads_and_encodes() {
    let tmp = tempfile::tempdir().expect("temp");
    let source = tmp.path().join("source");
    let spec = tiny_model(&source, "http://127.0.0.1:9/unused");
    let models = tmp.path().join("models");
    assert!(matches!(status(&spec, &models), Status::Missing { .. }));
    let dir = runtime()
        .block_on(install(&spec, &Source::Dir(source.clone()), &models))
        .expect("installed");
    assert_eq!(dir, models.join("tiny-bert"));
    assert!(matches!(status(&spec, &models), Status::Installed { .. }));
    assert_eq!(entries(&models), vec!["tiny-bert"], "no staging left");

    let loaded = load(&spec, &models).expect("loads");
    assert_eq!(loaded.model.dims(), HIDDEN);
    let a = loaded.model.encode("weather forecast");
    let b = loaded.model.encode("Weather   FORECAST!");
    let c = loaded.model.encode("read a file from disk");
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm(&a) - 1.0).abs() < 1e-4, "unit length");
    assert_eq!(a, b, "case and punctuation do not change the vector");
    assert_ne!(a, c);
    assert!(
        loaded.model.encode("zzz qqq").iter().all(|x| *x == 0.0),
        "unknown words give the zero vector"
    );
    // The hash that keys the vector cache is the static file's and the encoding's.
    let mut bytes = std::fs::read(dir.join(STATIC_FILE)).expect("static");
    bytes.extend_from_slice(crate::embedding::static_model::ENCODING.as_bytes());
    assert_eq!(loaded.hash, sha256_hex(&bytes));
}

#[test]
fn the_static_model_is_the_transformer_on_one_token() {
    let tmp = tempfile::tempdir().expect("temp");
    let spec = tiny_model(tmp.path(), "unused");
    let _ = spec;
    let bert = Bert::load(tmp.path()).expect("weights");
    let tokenizer = WordPiece::load(&tmp.path().join(TOKENIZER_FILE)).expect("tokenizer");
    let transformer = TransformerEncoder::new(
        Bert::load(tmp.path()).expect("weights"),
        tokenizer.clone(),
        16,
    );
    let mut model = StaticModel::distill(&bert, tokenizer);
    model.set_weighting(Weighting::Uniform);
    model.set_centering(false);
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for word in ["weather", "football", "database"] {
        let full = transformer.encode(word);
        let fast = model.encode(word);
        assert!(
            cosine(&full, &fast) > 0.999,
            "{word}: cosine {}",
            cosine(&full, &fast)
        );
    }
    // Centered (the default), what all words share is gone: two words are less alike than
    // their raw rows are.
    let raw = cosine(&model.encode("weather"), &model.encode("database"));
    model.set_centering(true);
    let centered = cosine(&model.encode("weather"), &model.encode("database"));
    assert!(centered < raw, "centered {centered} vs raw {raw}");
    // A longer text through the transformer differs from the mean of its tokens, but is a unit
    // vector too.
    let long = transformer.encode("open the page and click the browser");
    let norm: f32 = long.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn a_checksum_mismatch_is_refused_and_installs_nothing() {
    let tmp = tempfile::tempdir().expect("temp");
    let source = tmp.path().join("source");
    let spec = tiny_model(&source, "unused");
    // Same size, different bytes.
    let path = source.join("config.json");
    let mut bytes = std::fs::read(&path).expect("config");
    let last = bytes.len() - 1;
    bytes[last - 1] = b' ';
    std::fs::write(&path, &bytes).expect("tampered");
    let models = tmp.path().join("models");
    let err = runtime()
        .block_on(install(&spec, &Source::Dir(source), &models))
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, InstallError::Checksum { .. }), "{text}");
    assert!(text.starts_with("config.json: SHA-256 is "), "{text}");
    assert!(
        text.contains(&spec.files[0].sha256),
        "names the pinned checksum: {text}"
    );
    assert!(entries(&models).is_empty(), "{:?}", entries(&models));
    assert!(matches!(status(&spec, &models), Status::Missing { .. }));
}

#[test]
fn a_missing_source_file_is_named() {
    let tmp = tempfile::tempdir().expect("temp");
    let source = tmp.path().join("source");
    let spec = tiny_model(&source, "unused");
    std::fs::remove_file(source.join("model.safetensors")).expect("removed");
    let models = tmp.path().join("models");
    let err = runtime()
        .block_on(install(&spec, &Source::Dir(source), &models))
        .expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("model.safetensors: cannot read "),
        "{err}"
    );
    assert!(entries(&models).is_empty());
}

/// Serves the tiny model's files over HTTP/1.1 on 127.0.0.1 (one thread, one request per
/// connection); the weights' body is cut short after `cut` bytes by closing the connection.
fn serve(files: HashMap<String, Vec<u8>>, cut: Option<usize>) -> String {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                    break;
                }
            }
            let name = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let Some(body) = files.get(&name) else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                continue;
            };
            let sent = match cut {
                Some(at) if name == "model.safetensors" => &body[..at],
                _ => &body[..],
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(sent);
            let _ = stream.flush();
        }
    });
    format!("http://{addr}")
}

fn file_map(dir: &Path) -> HashMap<String, Vec<u8>> {
    ["config.json", TOKENIZER_FILE, "model.safetensors"]
        .iter()
        .map(|n| ((*n).to_string(), std::fs::read(dir.join(n)).expect("file")))
        .collect()
}

#[test]
fn downloads_verify_and_an_interrupted_download_leaves_nothing() {
    let tmp = tempfile::tempdir().expect("temp");
    let source = tmp.path().join("source");
    let models = tmp.path().join("models");

    let spec = tiny_model(&source, "");
    let url = serve(file_map(&source), Some(100));
    let spec = ModelSpec {
        base_url: Some(url),
        ..spec
    };
    let err = runtime()
        .block_on(install(&spec, &Source::Download, &models))
        .expect_err("cut short");
    assert!(
        err.to_string()
            .starts_with("model.safetensors: download from http://127.0.0.1:"),
        "{err}"
    );
    assert!(entries(&models).is_empty(), "{:?}", entries(&models));

    let url = serve(file_map(&source), None);
    let spec = ModelSpec {
        base_url: Some(url),
        ..spec
    };
    runtime()
        .block_on(install(&spec, &Source::Download, &models))
        .expect("downloaded");
    assert_eq!(entries(&models), vec!["tiny-bert"]);
    assert!(load(&spec, &models).is_ok());
}

#[test]
fn a_reinstall_replaces_the_old_model_whole() {
    let tmp = tempfile::tempdir().expect("temp");
    let source = tmp.path().join("source");
    let spec = tiny_model(&source, "unused");
    let models = tmp.path().join("models");
    let rt = runtime();
    rt.block_on(install(&spec, &Source::Dir(source.clone()), &models))
        .expect("first");
    let before = std::fs::read(models.join("tiny-bert").join(STATIC_FILE)).expect("static");
    rt.block_on(install(&spec, &Source::Dir(source), &models))
        .expect("second");
    let after = std::fs::read(models.join("tiny-bert").join(STATIC_FILE)).expect("static");
    assert_eq!(before, after, "distilling is deterministic");
    assert_eq!(entries(&models), vec!["tiny-bert"]);
}

/// A static model laid out as an unpacked package: a BPE tokenizer and an f16 token table in
/// subdirectories, under their source names.
fn tiny_static_model(package: &Path) -> (ModelSpec, Vec<f32>, usize) {
    let tokenizer = crate::embedding::bpe::tests::tiny_json();
    let vocab = crate::embedding::bpe::tests::tiny().vocab_size();
    let dims = 8;
    let mut seed = 7_u64;
    let table = weights(&mut seed, vocab * dims);
    // f16 bits of each value (normal range; values here are in ±0.5).
    let half = |x: f32| -> u16 {
        let bits = x.to_bits();
        let sign = ((bits >> 16) & 0x8000) as u16;
        let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
        if exp <= 0 {
            return sign;
        }
        sign | ((exp as u16) << 10) | ((bits >> 13) & 0x3ff) as u16
    };
    let data: Vec<u8> = table.iter().flat_map(|x| half(*x).to_le_bytes()).collect();
    let header = serde_json::json!({"embedding.weight": {
        "dtype": "F16", "shape": [vocab, dims], "data_offsets": [0, data.len()]}})
    .to_string();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(&data);
    std::fs::create_dir_all(package.join("pkg/weights")).expect("dirs");
    std::fs::create_dir_all(package.join("pkg/tokenizers")).expect("dirs");
    std::fs::write(package.join("pkg/weights/table.safetensors"), &bytes).expect("weights");
    std::fs::write(package.join("pkg/tokenizers/tok.json"), &tokenizer).expect("tokenizer");
    let file = |name: &str, source: &str, content: &[u8]| ModelFile {
        name: name.to_string(),
        source: source.to_string(),
        sha256: sha256_hex(content),
        bytes: content.len() as u64,
    };
    let spec = ModelSpec {
        id: "tiny-static".to_string(),
        kind: ModelKind::Static,
        base_url: None,
        local_copy: "tiny_static_model in the tests".to_string(),
        license: "test".to_string(),
        provenance: "built by the tests".to_string(),
        files: vec![
            file(TOKENIZER_FILE, "tok.json", tokenizer.as_bytes()),
            file(WEIGHTS_FILE, "table.safetensors", &bytes),
        ],
    };
    (spec, table, dims)
}

#[test]
fn a_shipped_static_model_installs_from_an_unpacked_package_and_encodes_with_its_bpe() {
    let tmp = tempfile::tempdir().expect("temp");
    let (spec, table, dims) = tiny_static_model(&tmp.path().join("package"));
    let models = tmp.path().join("models");

    // No download exists for it: the error says how to install it instead, and nothing is made.
    let err = runtime()
        .block_on(install(&spec, &Source::Download, &models))
        .expect_err("no download");
    assert!(
        err.to_string().contains("tiny-static has no download")
            && err.to_string().contains("--from"),
        "{err}"
    );
    assert!(entries(&models).is_empty());

    // Its files are found below the directory given, by their source names.
    let dir = runtime()
        .block_on(install(
            &spec,
            &Source::Dir(tmp.path().join("package")),
            &models,
        ))
        .expect("installed");
    assert!(dir.join(STATIC_FILE).is_file() && dir.join(WEIGHTS_FILE).is_file());
    let mut loaded = load(&spec, &models).expect("loads");
    assert_eq!(loaded.model.dims(), dims);
    assert_eq!(installed(&models), None, "not a known model");

    // One word, uniform weights, not centred: the vector is that token's row (f16 and int8
    // rounding aside).
    loaded.model.set_weighting(Weighting::Uniform);
    loaded.model.set_centering(false);
    let bpe = crate::embedding::bpe::tests::tiny();
    let ids = bpe.encode("the", 4);
    assert_eq!(ids.len(), 1);
    let mut row = table[ids[0] as usize * dims..(ids[0] as usize + 1) * dims].to_vec();
    crate::embedding::bert::normalize(&mut row);
    let got = loaded.model.encode("the");
    let cosine: f32 = got.iter().zip(&row).map(|(a, b)| a * b).sum();
    assert!(cosine > 0.999, "cosine {cosine}");
    // Two pieces: the mean of both rows.
    assert_eq!(bpe.encode("tea", 4).len(), 2);
    assert!(
        (loaded
            .model
            .encode("tea")
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            - 1.0)
            .abs()
            < 1e-4
    );
}

#[test]
fn the_known_models_pin_every_file_and_the_default_comes_first() {
    let known = ModelSpec::known();
    assert_eq!(known[0], ModelSpec::default_model());
    assert!(known.len() >= 2);
    for spec in &known {
        assert!(!spec.license.is_empty() && !spec.provenance.is_empty());
        for f in &spec.files {
            assert_eq!(f.sha256.len(), 64, "{} {}", spec.id, f.name);
            assert!(f.bytes > 0);
        }
        assert_eq!(ModelSpec::by_id(&spec.id).as_ref(), Some(spec));
    }
    assert_eq!(ModelSpec::by_id("nope"), None);
}
