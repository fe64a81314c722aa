//! Behaviour tests of the search index over the real `tools/list` results of 17 public MCP
//! servers (tests/fixtures/real-servers/, 234 tools).

use std::path::Path;
use std::sync::OnceLock;

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
    index.record_use("s", other);
    assert_eq!(first(&index, "send a message to a channel"), other);
    for _ in 0..100_000 {
        index.record_use("s", "gamma");
    }
    assert_eq!(first(&index, "send a message to a channel"), other);
    assert_eq!(index.usage().count("s", "gamma"), 100_000);
}

#[test]
fn usage_counts_persist_in_the_state_dir() {
    let root = std::env::temp_dir().join(format!("mcpgw-search-state-{}", std::process::id()));
    let paths = crate::state::Paths {
        config_dir: root.join("config"),
        cache_dir: root.join("cache"),
        state_dir: root.join("state"),
        data_dir: root.join("data"),
    };
    let mut index = SearchIndex::new().unwrap();
    index.record_use("github", "create_issue");
    index.save_usage(&paths).unwrap();
    assert!(paths.state_dir.join(usage::USAGE_FILE).is_file());
    let mut again = SearchIndex::new().unwrap();
    again.load_usage(&paths).unwrap();
    assert_eq!(again.usage().count("github", "create_issue"), 1);
    std::fs::remove_dir_all(&root).unwrap();
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
