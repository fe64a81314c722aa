//! The static embedding model the gateway searches with: one vector per vocabulary token,
//! distilled from the BERT encoder the model2vec way (each token's mean-pooled output embedding
//! as a one-token sentence), stored as int8 rows with a per-row scale. A text's embedding is the
//! weighted mean of its tokens' vectors, L2-normalized: no matrix multiply at search time.
//!
//! A model that ships its own token table (a static model trained as one, such as WordLlama) is
//! quantized into the same format by [`StaticModel::from_table`], so both kinds load and encode
//! alike.
//!
//! Owns distilling, converting, saving, loading and encoding. It never downloads anything.

use std::io::Write as _;
use std::path::Path;

use super::Tokenizer;
use super::bert::{Bert, normalize};
use super::wordpiece::WordPiece;

/// File signature and format version of `static.bin`.
const MAGIC: &[u8; 16] = b"mcpgw-static-v1\n";
/// How [`StaticModel::encode`] turns token rows into a text's vector; part of the key of cached
/// vectors, so changing the encoding never reuses vectors of the old one.
pub const ENCODING: &str = "zipf-mean-centered-v1";
/// Tokens encoded per batch while distilling.
const DISTILL_BATCH: usize = 512;
/// Longest text encoded, in word pieces (a tool description past this adds little).
pub const MAX_TOKENS: usize = 256;

/// How much each token counts in a text's mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// Every token counts the same.
    Uniform,
    /// Rarer tokens count more: `ln(1 + rank)` by vocabulary order (BERT vocabularies list
    /// word pieces roughly by frequency), the Zipf weighting model2vec applies.
    Zipf,
}

/// Why a static model cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StaticModelError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}

/// A static model (distilled or shipped as one) with its tokenizer.
pub struct StaticModel {
    tokenizer: Tokenizer,
    dims: usize,
    /// `vocab × dims` quantized components.
    rows: Vec<i8>,
    /// Per row: the scale that turns an int8 component back into f32, times the token's weight.
    scales: Vec<f32>,
    weighting: Weighting,
    /// The mean vector of the ordinary word pieces, subtracted from every text's mean: what all
    /// texts share says nothing about which tool fits, and left in it makes long descriptions
    /// look alike (one tool close to every query).
    center: Vec<f32>,
    centering: bool,
}

impl StaticModel {
    /// Distills `bert` over every id of `tokenizer`'s vocabulary.
    pub fn distill(bert: &Bert, tokenizer: WordPiece) -> StaticModel {
        let vocab = tokenizer.vocab_size().min(bert.vocab_size());
        let dims = bert.dims();
        let mut rows = Vec::with_capacity(vocab * dims);
        let mut scales = Vec::with_capacity(vocab);
        let ids: Vec<u32> = (0..vocab as u32).collect();
        for chunk in ids.chunks(DISTILL_BATCH) {
            let batch: Vec<Vec<u32>> = chunk
                .iter()
                .map(|id| vec![tokenizer.cls, *id, tokenizer.sep])
                .collect();
            for v in bert.encode_batch(&batch) {
                let (q, scale) = quantize(&v);
                rows.extend(q);
                scales.push(scale);
            }
        }
        StaticModel::new(Tokenizer::WordPiece(tokenizer), dims, rows, scales)
    }

    /// Quantizes a shipped `vocab × dims` token table (row-major f32) for `tokenizer`.
    pub fn from_table(
        table: &[f32],
        dims: usize,
        tokenizer: Tokenizer,
    ) -> Result<StaticModel, String> {
        let vocab = tokenizer.vocab_size();
        if dims == 0 || table.len() != vocab * dims {
            return Err(format!(
                "the table holds {} values; the tokenizer's {vocab} tokens × {dims} dimensions need {}",
                table.len(),
                vocab * dims
            ));
        }
        let mut rows = Vec::with_capacity(table.len());
        let mut scales = Vec::with_capacity(vocab);
        for row in table.chunks_exact(dims) {
            let (q, scale) = quantize(row);
            rows.extend(q);
            scales.push(scale);
        }
        Ok(StaticModel::new(tokenizer, dims, rows, scales))
    }

    fn new(tokenizer: Tokenizer, dims: usize, rows: Vec<i8>, scales: Vec<f32>) -> StaticModel {
        let mut model = StaticModel {
            tokenizer,
            dims,
            rows,
            scales,
            weighting: Weighting::Zipf,
            center: Vec::new(),
            centering: true,
        };
        model.center = model.vocabulary_mean();
        model
    }

    /// Mean of the rows of the ordinary word pieces (all rows when the vocabulary has none).
    fn vocabulary_mean(&self) -> Vec<f32> {
        let mut mean = vec![0.0_f32; self.dims];
        let first = self.tokenizer.first_word();
        let first = if self.scales.len() > first { first } else { 0 };
        let mut n = 0_usize;
        for id in first..self.scales.len() {
            let scale = self.scales[id];
            let row = &self.rows[id * self.dims..(id + 1) * self.dims];
            for (m, q) in mean.iter_mut().zip(row) {
                *m += f32::from(*q) * scale;
            }
            n += 1;
        }
        if n > 0 {
            for m in &mut mean {
                *m /= n as f32;
            }
        }
        mean
    }

    /// Writes the model to `path` (the caller makes the write atomic).
    pub fn save(&self, path: &Path) -> Result<(), StaticModelError> {
        let io = |source| StaticModelError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&(self.scales.len() as u32).to_le_bytes())
            .map_err(io)?;
        out.write_all(&(self.dims as u32).to_le_bytes())
            .map_err(io)?;
        for s in &self.scales {
            out.write_all(&s.to_le_bytes()).map_err(io)?;
        }
        let bytes: Vec<u8> = self.rows.iter().map(|v| v.to_le_bytes()[0]).collect();
        out.write_all(&bytes).map_err(io)?;
        out.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)
    }

    /// Reads the bytes of a model saved by [`StaticModel::save`] (`shown` names it in errors),
    /// tokenizing with `tokenizer`.
    pub fn from_bytes(
        shown: &str,
        bytes: &[u8],
        tokenizer: Tokenizer,
    ) -> Result<StaticModel, StaticModelError> {
        let bad = |message: &str| StaticModelError::Format {
            path: shown.to_string(),
            message: message.to_string(),
        };
        if bytes.get(..16) != Some(&MAGIC[..]) {
            return Err(bad("not a static model of this version"));
        }
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let (vocab, dims) = match (word(16), word(20)) {
            (Some(v), Some(d)) => (v as usize, d as usize),
            _ => return Err(bad("truncated header")),
        };
        if dims == 0 || vocab != tokenizer.vocab_size() {
            return Err(bad("its vocabulary does not match tokenizer.json"));
        }
        let scales_at = 24;
        let rows_at = scales_at + vocab * 4;
        if bytes.len() != rows_at + vocab * dims {
            return Err(bad("size does not match its header"));
        }
        let scales = bytes[scales_at..rows_at]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let rows = bytes[rows_at..]
            .iter()
            .map(|b| i8::from_le_bytes([*b]))
            .collect();
        Ok(StaticModel::new(tokenizer, dims, rows, scales))
    }

    /// Vector length.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Sets how tokens are weighted (the benchmark compares both).
    pub fn set_weighting(&mut self, weighting: Weighting) {
        self.weighting = weighting;
    }

    /// Whether the vocabulary mean is subtracted (on by default; the benchmark and the
    /// distillation test turn it off).
    pub fn set_centering(&mut self, on: bool) {
        self.centering = on;
    }

    /// Approximate bytes held (vectors, scales; the tokenizer's vocabulary is not counted).
    pub fn memory_bytes(&self) -> usize {
        self.rows.len() + (self.scales.len() + self.center.len()) * 4
    }

    /// The L2-normalized embedding of `text` (all zeros when it has no known token).
    pub fn encode(&self, text: &str) -> Vec<f32> {
        let mut sum = vec![0.0_f32; self.dims];
        let mut total = 0.0_f32;
        let (unk, first) = (self.tokenizer.unk() as usize, self.tokenizer.first_word());
        for id in self.tokenizer.encode(text, MAX_TOKENS) {
            let id = id as usize;
            if id == unk || id >= self.scales.len() {
                continue;
            }
            let weight = match self.weighting {
                Weighting::Uniform => 1.0,
                Weighting::Zipf => zipf_weight(id, first),
            };
            let scale = self.scales[id] * weight;
            let row = &self.rows[id * self.dims..(id + 1) * self.dims];
            for (s, q) in sum.iter_mut().zip(row) {
                *s += f32::from(*q) * scale;
            }
            total += weight;
        }
        if total > 0.0 && self.centering {
            for (s, c) in sum.iter_mut().zip(&self.center) {
                *s = *s / total - c;
            }
        }
        normalize(&mut sum);
        sum
    }
}

/// `ln(1 + rank)`, rank counted from the first ordinary piece of the vocabulary (`first`; ids
/// below it are padding, unused slots, bytes and single characters, weighted as rank 1).
fn zipf_weight(id: usize, first: usize) -> f32 {
    let rank = id.saturating_sub(first).max(1);
    (1.0 + rank as f32).ln()
}

/// Int8 components and the scale that restores them.
fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0.0_f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    let q = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scale)
}
