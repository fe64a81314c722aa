//! Every ranking knob ([`RankConfig`], defaults measured on the tuning halves) and typed changes
//! to one knob ([`Knob`]) for the benchmark's `--set`, `--sweep` and ablation.
//!
//! It never ranks anything itself.

use std::str::FromStr;

use super::AnalyzerOptions;

/// Every ranking knob. The defaults are the measured best on the tuning halves of the benchmark
/// sets; the benchmark's ablation switches them one at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct RankConfig {
    /// Index-time analysis (changing it needs a new index).
    pub analyzer: AnalyzerOptions,
    /// Field boosts for BM25.
    pub w_name: f32,
    pub w_title: f32,
    pub w_description: f32,
    pub w_params: f32,
    pub w_param_desc: f32,
    pub w_server: f32,
    /// Weight of a synonym relative to the term the user typed (0 disables expansion).
    pub synonyms: f32,
    /// Weight of a typo-corrected name term (0 disables correction).
    pub fuzzy: f32,
    /// Strength of the query-coverage re-weighting (0 disables it).
    pub coverage: f32,
    /// Keep query terms made only of digits ("5 units", "2023"): they rarely name what a tool does.
    pub numbers: bool,
    /// Exact and near-exact (one or two typos) tool names rank first.
    pub exact_names: bool,
    /// Largest relative boost the usage prior can give (0 disables it).
    pub usage_boost: f32,
    /// How many BM25 candidates are re-ranked.
    pub candidates: usize,
    /// Longest query, in distinct terms: a longer one keeps its rarest terms (long pasted text
    /// costs time and mostly adds noise).
    pub max_terms: usize,
    /// Below this coverage of the query by the best hit, the outcome says `no_good_match`
    /// (unless the dense side vouches for it, see `dense_match_at`).
    pub no_match_below: f32,
    /// Share of the fused score that comes from the dense side (0 = BM25 only, 1 = dense only).
    pub dense_weight: f32,
    /// How the two sides are fused.
    pub fusion: Fusion,
    /// The `k` of reciprocal-rank fusion.
    pub rrf_k: f32,
    /// How many of the dense side's best tools join BM25's candidates.
    pub dense_candidates: usize,
    /// A best hit at least this similar (cosine) to the query is a good match even when it
    /// shares few words with it.
    pub dense_match_at: f32,
    /// Diversity of maximal marginal relevance for long queries (0 disables it).
    pub mmr: f32,
    /// Shortest query, in distinct terms, that MMR applies to.
    pub mmr_min_terms: usize,
}

/// How BM25 and the dense side are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fusion {
    /// Weighted sum of BM25 scaled by the best candidate's and cosine min-max scaled over the
    /// candidates.
    Score,
    /// Weighted reciprocal-rank fusion.
    Rrf,
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig {
            analyzer: AnalyzerOptions {
                stemming: true,
                stop_words: true,
            },
            w_name: 1.0,
            w_title: 1.0,
            w_description: 1.0,
            w_params: 0.5,
            w_param_desc: 1.0,
            w_server: 0.3,
            synonyms: 0.5,
            fuzzy: 0.6,
            coverage: 3.0,
            numbers: false,
            exact_names: true,
            usage_boost: 0.1,
            candidates: 50,
            max_terms: 32,
            no_match_below: 0.15,
            dense_weight: 0.5,
            fusion: Fusion::Score,
            rrf_k: 60.0,
            dense_candidates: 50,
            dense_match_at: 0.5,
            mmr: 0.0,
            mmr_min_terms: 8,
        }
    }
}

/// One knob set to one value: how the benchmark changes a ranking (its `--set KEY=VALUE`,
/// `--sweep KEY=V1,V2` and ablation rows), applied with [`RankConfig::apply`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Knob {
    Stemming(bool),
    StopWords(bool),
    Name(f32),
    Title(f32),
    Description(f32),
    Params(f32),
    ParamDesc(f32),
    Server(f32),
    Synonyms(f32),
    Fuzzy(f32),
    Coverage(f32),
    Numbers(bool),
    ExactNames(bool),
    UsageBoost(f32),
    Candidates(usize),
    MaxTerms(usize),
    NoMatchBelow(f32),
    DenseWeight(f32),
    Fusion(Fusion),
    RrfK(f32),
    DenseCandidates(usize),
    DenseMatchAt(f32),
    Mmr(f32),
    MmrMinTerms(usize),
}

/// A `KEY=VALUE` that names no knob or gives it a value of the wrong kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KnobError {
    #[error("`{0}`: expected KEY=VALUE")]
    Syntax(String),
    #[error("unknown ranking key `{key}` (known: {known})", known = Knob::KEYS.join(", "))]
    UnknownKey { key: String },
    #[error("{key}={value}: not {expected}")]
    BadValue {
        key: String,
        value: String,
        expected: &'static str,
    },
}

impl Knob {
    /// Every key `KEY=VALUE` may name.
    pub const KEYS: &'static [&'static str] = &[
        "stemming",
        "stop_words",
        "name",
        "title",
        "description",
        "params",
        "param_desc",
        "server",
        "synonyms",
        "fuzzy",
        "coverage",
        "numbers",
        "exact_names",
        "usage_boost",
        "candidates",
        "max_terms",
        "no_match_below",
        "dense_weight",
        "fusion",
        "rrf_k",
        "dense_candidates",
        "dense_match_at",
        "mmr",
        "mmr_min_terms",
    ];

    /// The knob `key` set to `value` (`name`, `3`; `stemming`, `false`).
    pub fn parse(key: &str, value: &str) -> Result<Knob, KnobError> {
        fn typed<T: FromStr>(
            key: &str,
            value: &str,
            expected: &'static str,
        ) -> Result<T, KnobError> {
            value.parse().map_err(|_| KnobError::BadValue {
                key: key.to_string(),
                value: value.to_string(),
                expected,
            })
        }
        let float = || typed::<f32>(key, value, "a number");
        let boolean = || typed::<bool>(key, value, "true/false");
        let count = || typed::<usize>(key, value, "a count");
        Ok(match key {
            "stemming" => Knob::Stemming(boolean()?),
            "stop_words" => Knob::StopWords(boolean()?),
            "name" => Knob::Name(float()?),
            "title" => Knob::Title(float()?),
            "description" => Knob::Description(float()?),
            "params" => Knob::Params(float()?),
            "param_desc" => Knob::ParamDesc(float()?),
            "server" => Knob::Server(float()?),
            "synonyms" => Knob::Synonyms(float()?),
            "fuzzy" => Knob::Fuzzy(float()?),
            "coverage" => Knob::Coverage(float()?),
            "numbers" => Knob::Numbers(boolean()?),
            "exact_names" => Knob::ExactNames(boolean()?),
            "usage_boost" => Knob::UsageBoost(float()?),
            "candidates" => Knob::Candidates(count()?),
            "max_terms" => Knob::MaxTerms(count()?),
            "no_match_below" => Knob::NoMatchBelow(float()?),
            "dense_weight" => Knob::DenseWeight(float()?),
            "fusion" => Knob::Fusion(match value {
                "score" => Fusion::Score,
                "rrf" => Fusion::Rrf,
                _ => {
                    return Err(KnobError::BadValue {
                        key: key.to_string(),
                        value: value.to_string(),
                        expected: "score or rrf",
                    });
                }
            }),
            "rrf_k" => Knob::RrfK(float()?),
            "dense_candidates" => Knob::DenseCandidates(count()?),
            "dense_match_at" => Knob::DenseMatchAt(float()?),
            "mmr" => Knob::Mmr(float()?),
            "mmr_min_terms" => Knob::MmrMinTerms(count()?),
            _ => {
                return Err(KnobError::UnknownKey {
                    key: key.to_string(),
                });
            }
        })
    }
}

impl FromStr for Knob {
    type Err = KnobError;

    /// `KEY=VALUE`, e.g. `name=3` or `stemming=false`.
    fn from_str(text: &str) -> Result<Knob, KnobError> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| KnobError::Syntax(text.to_string()))?;
        Knob::parse(key, value)
    }
}

impl RankConfig {
    /// Sets one knob.
    pub fn apply(&mut self, knob: Knob) {
        match knob {
            Knob::Stemming(v) => self.analyzer.stemming = v,
            Knob::StopWords(v) => self.analyzer.stop_words = v,
            Knob::Name(v) => self.w_name = v,
            Knob::Title(v) => self.w_title = v,
            Knob::Description(v) => self.w_description = v,
            Knob::Params(v) => self.w_params = v,
            Knob::ParamDesc(v) => self.w_param_desc = v,
            Knob::Server(v) => self.w_server = v,
            Knob::Synonyms(v) => self.synonyms = v,
            Knob::Fuzzy(v) => self.fuzzy = v,
            Knob::Coverage(v) => self.coverage = v,
            Knob::Numbers(v) => self.numbers = v,
            Knob::ExactNames(v) => self.exact_names = v,
            Knob::UsageBoost(v) => self.usage_boost = v,
            Knob::Candidates(v) => self.candidates = v,
            Knob::MaxTerms(v) => self.max_terms = v,
            Knob::NoMatchBelow(v) => self.no_match_below = v,
            Knob::DenseWeight(v) => self.dense_weight = v,
            Knob::Fusion(v) => self.fusion = v,
            Knob::RrfK(v) => self.rrf_k = v,
            Knob::DenseCandidates(v) => self.dense_candidates = v,
            Knob::DenseMatchAt(v) => self.dense_match_at = v,
            Knob::Mmr(v) => self.mmr = v,
            Knob::MmrMinTerms(v) => self.mmr_min_terms = v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_parse_from_key_value_and_apply() {
        let mut c = RankConfig::default();
        for text in ["name=3", "stemming=false", "candidates=80"] {
            c.apply(text.parse::<Knob>().expect(text));
        }
        assert_eq!(c.w_name, 3.0);
        assert!(!c.analyzer.stemming);
        assert_eq!(c.candidates, 80);
        // Every listed key parses with a value of its kind.
        for key in Knob::KEYS {
            let ok = ["1", "true", "rrf"]
                .iter()
                .any(|v| Knob::parse(key, v).is_ok());
            assert!(ok, "{key}");
        }
    }

    #[test]
    fn bad_knobs_name_what_is_wrong() {
        let unknown = "nmae=3".parse::<Knob>().unwrap_err().to_string();
        assert!(unknown.contains("unknown ranking key `nmae`"), "{unknown}");
        assert!(unknown.contains("name"), "lists the known keys: {unknown}");
        let kind = "stemming=3".parse::<Knob>().unwrap_err().to_string();
        assert_eq!(kind, "stemming=3: not true/false");
        let syntax = "name".parse::<Knob>().unwrap_err().to_string();
        assert!(syntax.contains("expected KEY=VALUE"), "{syntax}");
    }
}
