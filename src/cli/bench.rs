//! `mcp-gateway bench retrieval`: scores the search ranking on a tool-retrieval data set.
//!
//! Owns loading the JSONL data sets (`tools.jsonl`: `{id, name, description, input_schema,
//! group}`; `queries.jsonl`: `{qid, query, relevant: [id]}`), the deterministic tuning/reporting
//! split, the metrics (Recall@1/5/10, MRR@10, nDCG@10, latency, build time, memory) and the
//! ablation and sweep tables. Every query goes through `SearchIndex::search` and `render_match`,
//! the path `gateway_search_tools` takes. It never changes ranking code or writes files.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;

use std::sync::Arc;

use crate::embedding::cache::VectorCache;
use crate::embedding::{Encoder, ModelSpec, Weighting};
use crate::search::{Knob, RankConfig, SearchIndex, ToolDoc, embed_texts, render_match};

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
    pub overrides: Vec<Knob>,
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
    /// Dense side of hybrid search: `auto` (what the gateway does: `static` when a model is
    /// installed, else `none`), `none` (BM25 only), `static` (the installed model's distilled
    /// static embeddings) or `transformer` (the full all-MiniLM-L6-v2 forward pass per text, for
    /// comparison).
    #[arg(long, value_enum, default_value_t = Dense::Auto)]
    pub dense: Dense,
    /// Directory of an installed model (default: the one `mcp-gateway model fetch` installed).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Also the static model installed in DIR: an ensemble of both (vectors concatenated, each
    /// side's cosine counting half), for comparison.
    #[arg(long, value_name = "DIR")]
    pub also_model_dir: Option<PathBuf>,
    /// Token weighting of the static model.
    #[arg(long, value_enum, default_value_t = WeightingArg::Zipf)]
    pub weighting: WeightingArg,
    /// Keep the vocabulary mean in static-model vectors (the gateway subtracts it).
    #[arg(long)]
    pub no_centering: bool,
    /// Longest text the transformer encodes, in word pieces.
    #[arg(long, default_value_t = 128)]
    pub transformer_tokens: usize,
}

/// Which dense side the benchmark scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dense {
    Auto,
    None,
    Static,
    Transformer,
    /// Tool texts through the transformer, queries through its distilled static model.
    Mixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightingArg {
    Uniform,
    Zipf,
}

/// The loaded dense side and the vectors it computed so far (shared by every variant scored).
struct DenseSide {
    label: String,
    encoder: Arc<dyn Encoder>,
    cache: VectorCache,
    /// Bytes the loaded model holds.
    memory: usize,
    load: Duration,
}

impl DenseSide {
    fn load(args: &RetrievalArgs) -> anyhow::Result<Option<DenseSide>> {
        if args.dense == Dense::None {
            return Ok(None);
        }
        let dir = match &args.model_dir {
            Some(d) => d.clone(),
            None => match crate::state::Paths::from_env() {
                Some(paths) => {
                    let models = crate::embedding::models_dir(&paths);
                    crate::embedding::installed(&models)
                        .unwrap_or_else(ModelSpec::default_model)
                        .dir(&models)
                }
                None if args.dense == Dense::Auto => return Ok(None),
                None => bail!("no XDG data dir to find the model in; pass --model-dir"),
            },
        };
        let dense = match args.dense {
            Dense::Auto if dir.join(crate::embedding::STATIC_FILE).is_file() => Dense::Static,
            Dense::Auto => return Ok(None),
            other => other,
        };
        let start = Instant::now();
        let (mut encoder, mut label, mut memory) = match dense {
            Dense::Static => static_side(&dir, args)?,
            Dense::Transformer => transformer_side(&dir, args)?,
            Dense::Mixed => {
                let (query, q_label, q_memory) = static_side(&dir, args)?;
                let (document, d_label, d_memory) = transformer_side(&dir, args)?;
                (
                    Arc::new(crate::embedding::SplitEncoder { query, document })
                        as Arc<dyn Encoder>,
                    format!("queries: {q_label}, tools: {d_label}"),
                    q_memory + d_memory,
                )
            }
            Dense::None | Dense::Auto => unreachable!("handled above"),
        };
        if let Some(other) = &args.also_model_dir {
            let (second, s_label, s_memory) = static_side(other, args)?;
            encoder = Arc::new(crate::embedding::ConcatEncoder(vec![encoder, second]));
            label = format!("{label} + {s_label}");
            memory += s_memory;
        }
        let dims = encoder.dims();
        Ok(Some(DenseSide {
            label,
            encoder,
            cache: VectorCache::in_memory(dims),
            memory,
            load: start.elapsed(),
        }))
    }
}

/// The static model installed in `dir`, weighted and centred as `args` say.
fn static_side(
    dir: &Path,
    args: &RetrievalArgs,
) -> anyhow::Result<(Arc<dyn Encoder>, String, usize)> {
    let tokenizer = crate::embedding::Tokenizer::load(&dir.join(crate::embedding::TOKENIZER_FILE))
        .with_context(|| format!("no model in {} (run `mcp-gateway model fetch` or pass --model-dir, or --dense none)", dir.display()))?;
    let path = dir.join(crate::embedding::STATIC_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut model =
        crate::embedding::StaticModel::from_bytes(&path.display().to_string(), &bytes, tokenizer)?;
    model.set_weighting(match args.weighting {
        WeightingArg::Uniform => Weighting::Uniform,
        WeightingArg::Zipf => Weighting::Zipf,
    });
    model.set_centering(!args.no_centering);
    let memory = model.memory_bytes();
    let label = format!(
        "{} static ({:?}{})",
        model_name(dir),
        args.weighting,
        if args.no_centering {
            ", not centered"
        } else {
            ""
        }
    );
    Ok((Arc::new(model), label.to_lowercase(), memory))
}

/// The full transformer of the BERT model installed in `dir`.
fn transformer_side(
    dir: &Path,
    args: &RetrievalArgs,
) -> anyhow::Result<(Arc<dyn Encoder>, String, usize)> {
    let tokenizer = crate::embedding::Tokenizer::load(&dir.join(crate::embedding::TOKENIZER_FILE))
        .with_context(|| format!("no model in {}", dir.display()))?;
    let crate::embedding::Tokenizer::WordPiece(tokenizer) = tokenizer else {
        bail!(
            "{}: the transformer needs a BERT model (WordPiece tokenizer)",
            dir.display()
        );
    };
    let bert = crate::embedding::bert::Bert::load(dir)?;
    let memory = bert.memory_bytes();
    let encoder =
        crate::embedding::TransformerEncoder::new(bert, tokenizer, args.transformer_tokens);
    Ok((
        Arc::new(encoder),
        format!(
            "{} transformer ({} tokens)",
            model_name(dir),
            args.transformer_tokens
        ),
        memory,
    ))
}

fn model_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
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
    /// Tool id → tool name (BFCL's pool holds many tools of one name).
    names: HashMap<String, String>,
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
    let mut names = HashMap::new();
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
        names.insert(t.id.clone(), t.name.clone());
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
        names,
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
    /// CPU time to embed the tools that had no vector yet.
    embed_cpu: Duration,
    memory: usize,
    /// Best-hit confidence and similarity for each query whose relevant tool was in the top 5.
    answered_confidence: Vec<(f32, Option<f32>)>,
    /// Per query (in order), the rank of its first relevant tool in the top 10.
    first_ranks: Vec<Option<usize>>,
    /// Recall@5 when a tool with the same name as a relevant one counts as found.
    r5_same_name: f64,
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

/// Builds the index (timed) and gives every tool its vector (timed apart: the gateway does it in
/// the background; vectors are computed once and reused by later variants).
fn build(
    pool: &Pool,
    config: RankConfig,
    dense: &mut Option<DenseSide>,
) -> anyhow::Result<(SearchIndex, Duration, Duration, Duration)> {
    let (index, wall, cpu) = timed(|| -> anyhow::Result<SearchIndex> {
        let mut index = SearchIndex::with_config(config)?;
        index.replace_servers(pool.by_server.clone())?;
        Ok(index)
    });
    let mut index = index?;
    let mut embed_cpu = Duration::ZERO;
    if let Some(d) = dense {
        index.set_encoder(Some(Arc::clone(&d.encoder)));
        let pending = index.pending_embeddings();
        let ((vectors, _), _, cpu) =
            timed(|| embed_texts(d.encoder.as_ref(), &mut d.cache, pending));
        embed_cpu = cpu;
        index.set_vectors(vectors);
    }
    Ok((index, wall, cpu, embed_cpu))
}

fn score(
    pool: &Pool,
    queries: &[QueryLine],
    config: RankConfig,
    dense: &mut Option<DenseSide>,
) -> anyhow::Result<Scores> {
    let (index, build_time, build_cpu, embed_cpu) = build(pool, config, dense)?;
    let mut latencies = Vec::with_capacity(queries.len());
    let mut cpu_times = Vec::with_capacity(queries.len());
    let (mut r1, mut r5, mut r10, mut mrr, mut ndcg) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut answered_confidence = Vec::new();
    let mut first_ranks = Vec::with_capacity(queries.len());
    let mut same_name = 0.0;
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
        first_ranks.push(first);
        let relevant_names: Vec<&String> = q
            .relevant
            .iter()
            .filter_map(|r| pool.names.get(r))
            .collect();
        let named_in_top5 = outcome.hits.iter().take(5).any(|h| {
            pool.id_of(&h.doc)
                .and_then(|id| pool.names.get(id))
                .is_some_and(|n| relevant_names.contains(&n))
        });
        same_name += f64::from(u8::from(named_in_top5));
        if let Some(rank) = first {
            r1 += f64::from(u8::from(rank < 1));
            r5 += f64::from(u8::from(rank < 5));
            r10 += 1.0;
            mrr += 1.0 / (rank as f64 + 1.0);
            if rank < 5 {
                answered_confidence.push((outcome.confidence, outcome.similarity));
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
        embed_cpu,
        memory: index.memory_bytes()?,
        answered_confidence,
        first_ranks,
        r5_same_name: same_name / n,
    })
}

/// The hybrid's own ideas, each switched off (only with a dense side).
const HYBRID_ABLATIONS: &[(&str, &[Knob])] = &[
    ("BM25 only (no dense side)", &[Knob::DenseWeight(0.0)]),
    ("dense only", &[Knob::DenseWeight(1.0)]),
    (
        "weighted RRF instead of score fusion",
        &[Knob::Fusion(crate::search::Fusion::Rrf)],
    ),
    (
        "equal-weight RRF",
        &[
            Knob::Fusion(crate::search::Fusion::Rrf),
            Knob::DenseWeight(0.5),
        ],
    ),
    ("+ MMR (0.3) on queries of 8+ terms", &[Knob::Mmr(0.3)]),
];

/// One idea switched off at a time, in the order the ideas were added.
const ABLATIONS: &[(&str, &[Knob])] = &[
    (
        "plain BM25: name + description, no stemming, no stop words",
        &[
            Knob::Stemming(false),
            Knob::StopWords(false),
            Knob::Name(1.0),
            Knob::Title(1.0),
            Knob::Description(1.0),
            Knob::Params(0.0),
            Knob::ParamDesc(0.0),
            Knob::Server(0.0),
            Knob::Synonyms(0.0),
            Knob::Fuzzy(0.0),
            Knob::Coverage(0.0),
            Knob::ExactNames(false),
        ],
    ),
    ("− stemming", &[Knob::Stemming(false)]),
    ("− stop words", &[Knob::StopWords(false)]),
    (
        "− field boosts (all fields 1)",
        &[
            Knob::Name(1.0),
            Knob::Title(1.0),
            Knob::Description(1.0),
            Knob::Params(1.0),
            Knob::ParamDesc(1.0),
            Knob::Server(1.0),
        ],
    ),
    (
        "− parameter fields",
        &[Knob::Params(0.0), Knob::ParamDesc(0.0)],
    ),
    ("− synonym expansion", &[Knob::Synonyms(0.0)]),
    ("− typo correction", &[Knob::Fuzzy(0.0)]),
    ("− coverage re-weighting", &[Knob::Coverage(0.0)]),
    ("− exact/near-name tiers", &[Knob::ExactNames(false)]),
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
    for knob in &args.overrides {
        base.apply(*knob);
    }
    let mut variants: Vec<(String, RankConfig)> =
        vec![("default ranking".to_string(), base.clone())];
    let mut dense = DenseSide::load(&args)?;
    if args.ablation {
        let hybrid: &[(&str, &[Knob])] = if dense.is_some() {
            HYBRID_ABLATIONS
        } else {
            &[]
        };
        for (label, changes) in hybrid.iter().chain(ABLATIONS) {
            let mut c = base.clone();
            for knob in *changes {
                c.apply(*knob);
            }
            variants.push(((*label).to_string(), c));
        }
    }
    for spec in &args.sweep {
        let (k, values) = spec
            .split_once('=')
            .with_context(|| format!("`{spec}`: expected KEY=V1,V2,…"))?;
        for v in values.split(',') {
            let mut c = base.clone();
            c.apply(Knob::parse(k, v)?);
            variants.push((format!("{k}={v}"), c));
        }
    }

    println!(
        "pool {} ({} tools), queries {} ({:?} split: {} queries), dense side: {}\n",
        args.tools.display(),
        pool.len,
        args.queries.display(),
        args.split,
        queries.len(),
        dense
            .as_ref()
            .map_or("none (BM25 only)", |d| d.label.as_str())
    );
    println!(
        "| ranking | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | p50 ms | p95 ms | p50 CPU ms | p95 CPU ms | build ms | build CPU ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut first: Option<Scores> = None;
    let mut per_variant: Vec<(String, f64, f64)> = Vec::new();
    let mut best_ranks: Vec<Option<usize>> = vec![None; queries.len()];
    let variant_count = variants.len();
    for (label, config) in variants {
        let s = score(&pool, &queries, config, &mut dense)?;
        per_variant.push((label.clone(), s.r5, s.r5_same_name));
        for (best, rank) in best_ranks.iter_mut().zip(&s.first_ranks) {
            *best = match (*best, *rank) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
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
    if variant_count > 1 {
        print!("{}", oracle_row(&best_ranks));
    }
    if pool.names.len() > pool.names.values().collect::<HashSet<_>>().len() {
        println!(
            "\nThe pool has several tools of one name; counting any tool named like a relevant one as found:\n\n\
             | ranking | R@5 | R@5, same name counts |\n|---|---|---|"
        );
        for (label, r5, same) in &per_variant {
            println!("| {label} | {r5:.3} | {same:.3} |");
        }
    }
    if let Some(s) = &first {
        println!(
            "\nindex memory (default ranking): {:.1} MiB",
            s.memory as f64 / (1024.0 * 1024.0)
        );
        if let Some(d) = &dense {
            println!(
                "dense side {}: model memory {:.1} MiB, loaded in {:.0} ms, embedding {} tools took {:.0} ms CPU",
                d.label,
                d.memory as f64 / (1024.0 * 1024.0),
                ms(d.load),
                pool.len,
                ms(s.embed_cpu)
            );
        }
    }
    if args.show_misses > 0 {
        print!(
            "{}",
            misses(&pool, &queries, &base, args.show_misses, &mut dense)?
        );
    }
    if let (Some(path), Some(s)) = (&args.irrelevant, &first) {
        print!("{}", calibration(&pool, path, &base, s, &mut dense)?);
    }
    Ok(())
}

/// Up to `max` queries whose relevant tool misses the top 5, each with the top 3 it got.
fn misses(
    pool: &Pool,
    queries: &[QueryLine],
    config: &RankConfig,
    max: usize,
    dense: &mut Option<DenseSide>,
) -> anyhow::Result<String> {
    let (index, _, _, _) = build(pool, config.clone(), dense)?;
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

/// The table row of an oracle that picks, for every query, the variant ranking its relevant tool
/// best: an upper bound for choosing among the scored variants per query (say, a fusion weight
/// per query), not a ranking anyone can run.
fn oracle_row(best_ranks: &[Option<usize>]) -> String {
    let n = best_ranks.len().max(1) as f64;
    let share = |k: usize| {
        best_ranks
            .iter()
            .filter(|r| r.is_some_and(|r| r < k))
            .count() as f64
            / n
    };
    let mrr: f64 = best_ranks
        .iter()
        .flatten()
        .map(|r| 1.0 / (*r as f64 + 1.0))
        .sum::<f64>()
        / n;
    format!(
        "| oracle: the best of the rows above for each query (an upper bound, not a ranking) | {:.3} | {:.3} | {:.3} | {mrr:.3} | – | – | – | – | – | – | – |\n",
        share(1),
        share(5),
        share(10)
    )
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
    dense: &mut Option<DenseSide>,
) -> anyhow::Result<String> {
    let irrelevant: Vec<QueryLine> = read_jsonl(path)?;
    let (index, _, _, _) = build(pool, config.clone(), dense)?;
    let mut confidence = Vec::with_capacity(irrelevant.len());
    for q in &irrelevant {
        let outcome = index.search(&q.query, 5, None)?;
        confidence.push((outcome.confidence, outcome.similarity));
    }
    // Flagged at lexical threshold `t` (and, with a dense side, dense threshold `d`).
    let flagged = |c: &(f32, Option<f32>), t: f32, d: f32| c.0 < t && c.1.is_none_or(|s| s < d);
    let share = |v: &[(f32, Option<f32>)], t: f32| {
        v.iter()
            .filter(|c| flagged(c, t, config.dense_match_at))
            .count() as f64
            / v.len().max(1) as f64
    };
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
    if dense.is_some() {
        let share_dense = |v: &[(f32, Option<f32>)], d: f32| {
            v.iter()
                .filter(|c| flagged(c, config.no_match_below, d))
                .count() as f64
                / v.len().max(1) as f64
        };
        let _ = writeln!(
            out,
            "\nwith the lexical threshold at {:.2}, by dense threshold (a best hit this similar is a good match)\n\n\
             | dense threshold | irrelevant flagged | answered flagged |\n|---|---|---|",
            config.no_match_below
        );
        for step in 4..=16 {
            let d = step as f32 * 0.05;
            let mark = if (d - config.dense_match_at).abs() < 1e-4 {
                " (default)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {d:.2}{mark} | {:.3} | {:.3} |",
                share_dense(&confidence, d),
                share_dense(&answered.answered_confidence, d)
            );
        }
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

    #[test]
    fn the_oracle_counts_each_query_at_its_best_rank() {
        let row = oracle_row(&[Some(0), Some(6), None, Some(3)]);
        // R@1 1/4, R@5 2/4, R@10 3/4, MRR (1 + 1/7 + 1/4) / 4.
        assert!(row.contains("| 0.250 | 0.500 | 0.750 | 0.348 |"), "{row}");
    }
}
