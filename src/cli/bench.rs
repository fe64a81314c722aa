//! `mcp-gateway bench retrieval`: scores the search ranking on a tool-retrieval data set.
//!
//! Owns loading the JSONL data sets (`tools.jsonl`: `{id, name, description, input_schema,
//! group}`; `queries.jsonl`: `{qid, query, relevant: [id]}`), the deterministic tuning/reporting
//! split, the metrics (Recall@1/5/10, MRR@10, nDCG@10, latency, build time, memory) and the
//! ablation and sweep tables. Every query goes through `SearchIndex::search` and `render_match`,
//! the path `gateway_search_tools` takes. It never changes ranking code or writes files.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::search::{RankConfig, SearchIndex, ToolDoc, render_match};

/// `mcp-gateway bench …`
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Retrieval quality and speed of the search ranking on a JSONL data set.
    Retrieval(RetrievalArgs),
}

/// Which half of the queries to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// Queries whose qid hashes even: the only ones ranking changes may be tuned on.
    Tune,
    /// Queries whose qid hashes odd: the half figures are reported on.
    Report,
    All,
}

#[derive(Debug, clap::Args)]
pub struct RetrievalArgs {
    /// Tool pool, one JSON object per line.
    #[arg(long)]
    pub tools: PathBuf,
    /// Queries with their relevant tool ids, one JSON object per line.
    #[arg(long)]
    pub queries: PathBuf,
    #[arg(long, value_enum, default_value_t = Split::Report)]
    pub split: Split,
    /// Queries no tool fits (`relevant: []`): prints how often `no_good_match` fires on them
    /// versus on answerable queries, per threshold.
    #[arg(long)]
    pub irrelevant: Option<PathBuf>,
    /// Override a ranking knob, e.g. `--set name=3 --set stemming=false` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Also score each ranking idea switched off, one at a time.
    #[arg(long)]
    pub ablation: bool,
    /// Also score one knob at several values, e.g. `--sweep name=1,2,3` (repeatable).
    #[arg(long, value_name = "KEY=V1,V2,…")]
    pub sweep: Vec<String>,
    /// Score an evenly spaced sample of N queries of the split (quick checks).
    #[arg(long)]
    pub max_queries: Option<usize>,
    /// Print the first N queries of the split whose relevant tool is not in the top 5, with what
    /// ranked instead (for tuning: use it on the tune split only).
    #[arg(long, default_value_t = 0)]
    pub show_misses: usize,
}

/// Runs a `bench` subcommand.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Retrieval(a) => retrieval(a),
    }
}

#[derive(Deserialize)]
struct ToolLine {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    input_schema: Value,
    #[serde(default)]
    group: Option<String>,
}

#[derive(Clone, Deserialize)]
struct QueryLine {
    qid: String,
    query: String,
    relevant: Vec<String>,
}

/// A loaded tool pool: the documents grouped by server and a way back from a hit to its id.
struct Pool {
    by_server: Vec<(String, Vec<ToolDoc>)>,
    ids: HashMap<(String, String, String), String>,
    len: usize,
}

impl Pool {
    fn id_of(&self, doc: &ToolDoc) -> Option<&str> {
        self.ids
            .get(&(
                doc.server.clone(),
                doc.name.clone(),
                doc.description.clone(),
            ))
            .map(String::as_str)
    }
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a valid record", path.display(), i + 1))
        })
        .collect()
}

fn load_pool(path: &Path) -> anyhow::Result<Pool> {
    let lines: Vec<ToolLine> = read_jsonl(path)?;
    let default_server = path
        .parent()
        .and_then(Path::file_name)
        .map_or_else(|| "pool".to_string(), |n| n.to_string_lossy().into_owned());
    let mut groups: Vec<(String, Vec<ToolDoc>)> = Vec::new();
    let mut ids = HashMap::new();
    let len = lines.len();
    for (i, t) in lines.into_iter().enumerate() {
        let server = t.group.unwrap_or_else(|| default_server.clone());
        let key = (server.clone(), t.name.clone(), t.description.clone());
        if ids.insert(key, t.id.clone()).is_some() {
            bail!(
                "{}:{}: tool {} repeats the server, name and description of another tool",
                path.display(),
                i + 1,
                t.id
            );
        }
        let doc = ToolDoc {
            server: server.clone(),
            server_description: None,
            name: t.name,
            title: None,
            description: t.description,
            input_schema: t.input_schema,
        };
        match groups.iter_mut().find(|(s, _)| *s == server) {
            Some((_, docs)) => docs.push(doc),
            None => groups.push((server, vec![doc])),
        }
    }
    Ok(Pool {
        by_server: groups,
        ids,
        len,
    })
}

/// FNV-1a: a stable hash, so the split never changes between runs, machines or versions.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn in_split(qid: &str, split: Split) -> bool {
    let even = fnv1a(qid) % 2 == 0;
    match split {
        Split::Tune => even,
        Split::Report => !even,
        Split::All => true,
    }
}

/// Scores of one ranking configuration.
struct Scores {
    r1: f64,
    r5: f64,
    r10: f64,
    mrr10: f64,
    ndcg10: f64,
    p50: Duration,
    p95: Duration,
    /// CPU time of the same calls: what a query costs when the machine is not shared.
    cpu_p50: Duration,
    cpu_p95: Duration,
    build: Duration,
    build_cpu: Duration,
    memory: usize,
    /// Best-hit confidence for each query whose relevant tool was in the top 5.
    answered_confidence: Vec<f32>,
}

/// CPU time consumed so far by this process (all threads: tantivy indexes on its own thread).
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the platform
    // defines; clock_gettime writes only into `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (wall, cpu) = (Instant::now(), process_cpu_time());
    let out = f();
    (out, wall.elapsed(), process_cpu_time().saturating_sub(cpu))
}

fn build(pool: &Pool, config: RankConfig) -> anyhow::Result<(SearchIndex, Duration, Duration)> {
    let (index, wall, cpu) = timed(|| -> anyhow::Result<SearchIndex> {
        let mut index = SearchIndex::with_config(config)?;
        index.replace_servers(pool.by_server.clone())?;
        Ok(index)
    });
    Ok((index?, wall, cpu))
}

fn score(pool: &Pool, queries: &[QueryLine], config: RankConfig) -> anyhow::Result<Scores> {
    let (index, build_time, build_cpu) = build(pool, config)?;
    let mut latencies = Vec::with_capacity(queries.len());
    let mut cpu_times = Vec::with_capacity(queries.len());
    let (mut r1, mut r5, mut r10, mut mrr, mut ndcg) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut answered_confidence = Vec::new();
    for q in queries {
        let (result, wall, cpu) = timed(|| {
            index.search(&q.query, 10, None).map(|outcome| {
                let rendered: Vec<Value> = outcome.hits.iter().map(render_match).collect();
                (outcome, rendered)
            })
        });
        let (outcome, rendered) = result?;
        latencies.push(wall);
        cpu_times.push(cpu);
        debug_assert_eq!(rendered.len(), outcome.hits.len());
        let relevant_at: Vec<bool> = outcome
            .hits
            .iter()
            .map(|h| {
                pool.id_of(&h.doc)
                    .is_some_and(|id| q.relevant.iter().any(|r| r == id))
            })
            .collect();
        let first = relevant_at.iter().position(|&r| r);
        if let Some(rank) = first {
            r1 += f64::from(u8::from(rank < 1));
            r5 += f64::from(u8::from(rank < 5));
            r10 += 1.0;
            mrr += 1.0 / (rank as f64 + 1.0);
            if rank < 5 {
                answered_confidence.push(outcome.confidence);
            }
        }
        let gain = |i: usize| 1.0 / ((i as f64) + 2.0).log2();
        let dcg: f64 = relevant_at
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| gain(i))
            .sum();
        let ideal: f64 = (0..q.relevant.len().min(10)).map(gain).sum();
        if ideal > 0.0 {
            ndcg += dcg / ideal;
        }
    }
    latencies.sort();
    cpu_times.sort();
    let n = queries.len().max(1) as f64;
    let pct = |v: &[Duration], p: f64| {
        v.get(((v.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(Scores {
        r1: r1 / n,
        r5: r5 / n,
        r10: r10 / n,
        mrr10: mrr / n,
        ndcg10: ndcg / n,
        p50: pct(&latencies, 0.50),
        p95: pct(&latencies, 0.95),
        cpu_p50: pct(&cpu_times, 0.50),
        cpu_p95: pct(&cpu_times, 0.95),
        build: build_time,
        build_cpu,
        memory: index.memory_bytes()?,
        answered_confidence,
    })
}

fn parse_override(text: &str) -> anyhow::Result<(&str, &str)> {
    text.split_once('=')
        .with_context(|| format!("`{text}`: expected KEY=VALUE"))
}

/// One idea switched off at a time, in the order the ideas were added.
const ABLATIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "plain BM25: name + description, no stemming, no stop words",
        &[
            ("stemming", "false"),
            ("stop_words", "false"),
            ("name", "1"),
            ("title", "1"),
            ("description", "1"),
            ("params", "0"),
            ("param_desc", "0"),
            ("server", "0"),
            ("synonyms", "0"),
            ("fuzzy", "0"),
            ("coverage", "0"),
            ("exact_names", "false"),
        ],
    ),
    ("− stemming", &[("stemming", "false")]),
    ("− stop words", &[("stop_words", "false")]),
    (
        "− field boosts (all fields 1)",
        &[
            ("name", "1"),
            ("title", "1"),
            ("description", "1"),
            ("params", "1"),
            ("param_desc", "1"),
            ("server", "1"),
        ],
    ),
    (
        "− parameter fields",
        &[("params", "0"), ("param_desc", "0")],
    ),
    ("− synonym expansion", &[("synonyms", "0")]),
    ("− typo correction", &[("fuzzy", "0")]),
    ("− coverage re-weighting", &[("coverage", "0")]),
    ("− exact/near-name tiers", &[("exact_names", "false")]),
];

fn retrieval(args: RetrievalArgs) -> anyhow::Result<()> {
    let pool = load_pool(&args.tools)?;
    let mut queries: Vec<QueryLine> = read_jsonl(&args.queries)?;
    queries.retain(|q| in_split(&q.qid, args.split));
    if let Some(max) = args.max_queries.filter(|m| *m > 0 && *m < queries.len()) {
        let step = queries.len() as f64 / max as f64;
        queries = (0..max)
            .filter_map(|i| queries.get((i as f64 * step) as usize).cloned())
            .collect();
    }
    if queries.is_empty() {
        bail!(
            "{}: no queries in the {:?} split",
            args.queries.display(),
            args.split
        );
    }
    let mut base = RankConfig::default();
    for o in &args.overrides {
        let (k, v) = parse_override(o)?;
        base.set(k, v).map_err(anyhow::Error::msg)?;
    }
    let mut variants: Vec<(String, RankConfig)> =
        vec![("default ranking".to_string(), base.clone())];
    if args.ablation {
        for (label, changes) in ABLATIONS {
            let mut c = base.clone();
            for (k, v) in *changes {
                c.set(k, v).map_err(anyhow::Error::msg)?;
            }
            variants.push(((*label).to_string(), c));
        }
    }
    for spec in &args.sweep {
        let (k, values) = parse_override(spec)?;
        for v in values.split(',') {
            let mut c = base.clone();
            c.set(k, v).map_err(anyhow::Error::msg)?;
            variants.push((format!("{k}={v}"), c));
        }
    }

    println!(
        "pool {} ({} tools), queries {} ({:?} split: {} queries)\n",
        args.tools.display(),
        pool.len,
        args.queries.display(),
        args.split,
        queries.len()
    );
    println!(
        "| ranking | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | p50 ms | p95 ms | p50 CPU ms | p95 CPU ms | build ms | build CPU ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut first: Option<Scores> = None;
    for (label, config) in variants {
        let s = score(&pool, &queries, config)?;
        println!(
            "| {label} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} |",
            s.r1,
            s.r5,
            s.r10,
            s.mrr10,
            s.ndcg10,
            ms(s.p50),
            ms(s.p95),
            ms(s.cpu_p50),
            ms(s.cpu_p95),
            ms(s.build),
            ms(s.build_cpu)
        );
        first.get_or_insert(s);
    }
    if let Some(s) = &first {
        println!(
            "\nindex memory (default ranking): {:.1} MiB",
            s.memory as f64 / (1024.0 * 1024.0)
        );
    }
    if args.show_misses > 0 {
        print!("{}", misses(&pool, &queries, &base, args.show_misses)?);
    }
    if let (Some(path), Some(s)) = (&args.irrelevant, &first) {
        print!("{}", calibration(&pool, path, &base, s)?);
    }
    Ok(())
}

/// Up to `max` queries whose relevant tool misses the top 5, each with the top 3 it got.
fn misses(
    pool: &Pool,
    queries: &[QueryLine],
    config: &RankConfig,
    max: usize,
) -> anyhow::Result<String> {
    let (index, _, _) = build(pool, config.clone())?;
    let mut out = String::from("\nmisses (relevant tool not in the top 5):\n");
    let mut shown = 0;
    for q in queries {
        let outcome = index.search(&q.query, 5, None)?;
        let got: Vec<&str> = outcome
            .hits
            .iter()
            .filter_map(|h| pool.id_of(&h.doc))
            .collect();
        if got.iter().any(|id| q.relevant.iter().any(|r| r == id)) {
            continue;
        }
        let _ = writeln!(
            out,
            "- {} {:?}\n  want {:?}\n  got  {:?}",
            q.qid,
            q.query,
            q.relevant,
            &got[..got.len().min(3)]
        );
        shown += 1;
        if shown == max {
            break;
        }
    }
    Ok(out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// For each threshold: the share of irrelevant queries flagged `no_good_match` and the share of
/// answered queries (relevant tool in the top 5) flagged by mistake.
fn calibration(
    pool: &Pool,
    path: &Path,
    config: &RankConfig,
    answered: &Scores,
) -> anyhow::Result<String> {
    let irrelevant: Vec<QueryLine> = read_jsonl(path)?;
    let (index, _, _) = build(pool, config.clone())?;
    let mut confidence = Vec::with_capacity(irrelevant.len());
    for q in &irrelevant {
        confidence.push(index.search(&q.query, 5, None)?.confidence);
    }
    let share =
        |v: &[f32], t: f32| v.iter().filter(|c| **c < t).count() as f64 / v.len().max(1) as f64;
    let mut out = format!(
        "\nno-good-match calibration on {} ({} queries, all of them) vs the {} answered queries above\n\n\
         | threshold | irrelevant flagged | answered flagged |\n|---|---|---|\n",
        path.display(),
        irrelevant.len(),
        answered.answered_confidence.len()
    );
    for step in 1..=12 {
        let t = step as f32 * 0.05;
        let mark = if (t - config.no_match_below).abs() < 1e-4 {
            " (default)"
        } else {
            ""
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "| {t:.2}{mark} | {:.3} | {:.3} |",
            share(&confidence, t),
            share(&answered.answered_confidence, t)
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stable_and_roughly_half() {
        let tune = (0..1000)
            .filter(|i| in_split(&format!("q-{i}"), Split::Tune))
            .count();
        assert!((400..600).contains(&tune), "{tune}");
        // The published FNV-1a 64 test vectors: the split depends on exactly this function.
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
        assert!(in_split("x", Split::All));
        assert_ne!(in_split("x", Split::Tune), in_split("x", Split::Report));
    }
}
