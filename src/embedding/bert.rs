//! A BERT sentence encoder (the all-MiniLM-L6-v2 shape: post-LayerNorm encoder, GELU, mean
//! pooling, L2-normalized output) run on the CPU from `safetensors` weights and a `config.json`.
//!
//! Owns reading the weights and the forward pass. It is used to distill the static model at
//! install time and by the benchmark to compare the full transformer; the gateway's searches
//! never run it. It never downloads anything.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// The parts of a BERT `config.json` the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
}

fn default_eps() -> f32 {
    1e-12
}

/// Why weights cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}

/// Parsed `safetensors` tensors (f32 only), by name.
struct Tensors {
    path: String,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

impl Tensors {
    fn read(path: &Path) -> Result<Tensors, WeightsError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Read {
            path: shown.clone(),
            source,
        })?;
        Tensors::parse(&shown, &bytes)
    }

    /// The safetensors layout: an 8-byte little-endian header length, a JSON header mapping names
    /// to dtype/shape/offsets, then the data.
    fn parse(shown: &str, bytes: &[u8]) -> Result<Tensors, WeightsError> {
        let bad = |message: String| WeightsError::Format {
            path: shown.to_string(),
            message,
        };
        let len_bytes: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("shorter than a safetensors header".into()))?;
        let header_len = usize::try_from(u64::from_le_bytes(len_bytes))
            .map_err(|_| bad("header length overflows".into()))?;
        let header = bytes
            .get(8..8usize.saturating_add(header_len))
            .ok_or_else(|| bad("header runs past the end of the file".into()))?;
        let data = &bytes[8 + header_len..];
        let infos: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
        let mut tensors = HashMap::new();
        for (name, value) in infos {
            if name == "__metadata__" {
                continue;
            }
            let info: TensorInfo =
                serde_json::from_value(value).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
            let width = match info.dtype.as_str() {
                "F32" => 4,
                "F16" => 2,
                _ => continue,
            };
            let [start, end] = info.data_offsets;
            let raw = data
                .get(start..end)
                .ok_or_else(|| bad(format!("tensor `{name}` runs past the end of the file")))?;
            let count: usize = info.shape.iter().product();
            if raw.len() != count * width {
                return Err(bad(format!(
                    "tensor `{name}`: {} bytes for shape {:?}",
                    raw.len(),
                    info.shape
                )));
            }
            let values = if width == 4 {
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                raw.chunks_exact(2)
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect()
            };
            tensors.insert(name, (info.shape, values));
        }
        Ok(Tensors {
            path: shown.to_string(),
            tensors,
        })
    }

    /// Takes tensor `name` (any `bert.` prefix accepted), checking its shape.
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let found = self
            .tensors
            .remove(name)
            .or_else(|| self.tensors.remove(&format!("bert.{name}")));
        match found {
            Some((s, v)) if s == shape => Ok(v),
            Some((s, _)) => Err(WeightsError::Format {
                path: self.path.clone(),
                message: format!("tensor `{name}` has shape {s:?}, expected {shape:?}"),
            }),
            None => Err(WeightsError::Format {
                path: self.path.clone(),
                message: format!("no f32 tensor `{name}`"),
            }),
        }
    }
}

/// The one 2-D tensor of a safetensors file that holds a static model's token table (F32 or
/// F16): `(rows, columns, row-major values)`.
pub fn read_table(path: &Path) -> Result<(usize, usize, Vec<f32>), WeightsError> {
    let tensors = Tensors::read(path)?;
    let mut tables = tensors
        .tensors
        .into_iter()
        .filter(|(_, (shape, _))| shape.len() == 2);
    match (tables.next(), tables.next()) {
        (Some((_, (shape, values))), None) => Ok((shape[0], shape[1], values)),
        _ => Err(WeightsError::Format {
            path: tensors.path,
            message: "expected exactly one 2-D F32 or F16 tensor (the token table)".into(),
        }),
    }
}

/// IEEE 754 half precision to single (subnormals, infinities and NaN included).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = frac × 2^-24.
            let v = frac as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// A dense layer: `weight` is `[out, in]` row-major, as PyTorch stores it.
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Linear {
    fn load(
        t: &mut Tensors,
        name: &str,
        inputs: usize,
        outputs: usize,
    ) -> Result<Self, WeightsError> {
        Ok(Linear {
            weight: t.take(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: t.take(&format!("{name}.bias"), &[outputs])?,
            inputs,
            outputs,
        })
    }

    /// `x` is `[rows, inputs]`; returns `[rows, outputs]`.
    fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows * self.outputs);
        for _ in 0..rows {
            out.extend_from_slice(&self.bias);
        }
        debug_assert_eq!(x.len(), rows * self.inputs);
        // SAFETY: `x` holds rows×inputs values (row stride inputs), `weight` holds outputs×inputs
        // values read as its transpose (row stride 1, column stride inputs), and `out` holds
        // rows×outputs values (row stride outputs); all three outlive the call and `out` does not
        // alias the inputs.
        unsafe {
            matrixmultiply::sgemm(
                rows,
                self.inputs,
                self.outputs,
                1.0,
                x.as_ptr(),
                self.inputs as isize,
                1,
                self.weight.as_ptr(),
                1,
                self.inputs as isize,
                1.0,
                out.as_mut_ptr(),
                self.outputs as isize,
                1,
            );
        }
        out
    }
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(t: &mut Tensors, name: &str, size: usize, eps: f32) -> Result<Self, WeightsError> {
        Ok(LayerNorm {
            weight: t.take(&format!("{name}.weight"), &[size])?,
            bias: t.take(&format!("{name}.bias"), &[size])?,
            eps,
        })
    }

    fn apply(&self, x: &mut [f32]) {
        let n = self.weight.len();
        for row in x.chunks_exact_mut(n) {
            let mean = row.iter().sum::<f32>() / n as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded BERT encoder.
pub struct Bert {
    config: BertConfig,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Bert {
    /// Loads `model.safetensors` and `config.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Bert, WeightsError> {
        let config_path = dir.join("config.json");
        let shown = config_path.display().to_string();
        let text = std::fs::read_to_string(&config_path).map_err(|source| WeightsError::Read {
            path: shown.clone(),
            source,
        })?;
        let config: BertConfig = serde_json::from_str(&text).map_err(|e| WeightsError::Format {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            return Err(WeightsError::Format {
                path: shown,
                message: "hidden_size is not a multiple of num_attention_heads".into(),
            });
        }
        let mut t = Tensors::read(&dir.join("model.safetensors"))?;
        Bert::from_tensors(config, &mut t)
    }

    fn from_tensors(config: BertConfig, t: &mut Tensors) -> Result<Bert, WeightsError> {
        let (h, eps) = (config.hidden_size, config.layer_norm_eps);
        let word = t.take("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let position = t.take(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let token_type = t
            .tensors
            .remove("embeddings.token_type_embeddings.weight")
            .or_else(|| {
                t.tensors
                    .remove("bert.embeddings.token_type_embeddings.weight")
            })
            .map(|(_, v)| v.into_iter().take(h).collect::<Vec<f32>>())
            .filter(|v| v.len() == h)
            .unwrap_or_else(|| vec![0.0; h]);
        let embedding_norm = LayerNorm::load(t, "embeddings.LayerNorm", h, eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let inter = config.intermediate_size;
            layers.push(Layer {
                query: Linear::load(t, &format!("{p}.attention.self.query"), h, h)?,
                key: Linear::load(t, &format!("{p}.attention.self.key"), h, h)?,
                value: Linear::load(t, &format!("{p}.attention.self.value"), h, h)?,
                attention_out: Linear::load(t, &format!("{p}.attention.output.dense"), h, h)?,
                attention_norm: LayerNorm::load(
                    t,
                    &format!("{p}.attention.output.LayerNorm"),
                    h,
                    eps,
                )?,
                intermediate: Linear::load(t, &format!("{p}.intermediate.dense"), h, inter)?,
                output: Linear::load(t, &format!("{p}.output.dense"), inter, h)?,
                output_norm: LayerNorm::load(t, &format!("{p}.output.LayerNorm"), h, eps)?,
            });
        }
        Ok(Bert {
            config,
            word,
            position,
            token_type,
            embedding_norm,
            layers,
        })
    }

    /// Bytes held by the weights.
    pub fn memory_bytes(&self) -> usize {
        let linear = |l: &Linear| (l.weight.len() + l.bias.len()) * 4;
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                linear(&l.query)
                    + linear(&l.key)
                    + linear(&l.value)
                    + linear(&l.attention_out)
                    + linear(&l.intermediate)
                    + linear(&l.output)
            })
            .sum();
        layers + (self.word.len() + self.position.len()) * 4
    }

    /// Output dimensions.
    pub fn dims(&self) -> usize {
        self.config.hidden_size
    }

    /// Longest input in tokens, `[CLS]` and `[SEP]` included.
    pub fn max_tokens(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Number of token ids the embedding table holds.
    pub fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    /// Mean-pooled, L2-normalized embeddings of `batch` sequences that all have the same length
    /// (token ids including `[CLS]`/`[SEP]`; ids past the vocabulary count as id 0).
    pub fn encode_batch(&self, batch: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let Some(seq) = batch.first().map(Vec::len) else {
            return Vec::new();
        };
        let h = self.config.hidden_size;
        let seq = seq.min(self.config.max_position_embeddings);
        let rows = batch.len() * seq;
        let mut x = Vec::with_capacity(rows * h);
        for ids in batch {
            for pos in 0..seq {
                let id = ids.get(pos).map_or(0, |i| *i as usize);
                let id = if id < self.config.vocab_size { id } else { 0 };
                let w = &self.word[id * h..(id + 1) * h];
                let p = &self.position[pos * h..(pos + 1) * h];
                x.extend(
                    w.iter()
                        .zip(p)
                        .zip(&self.token_type)
                        .map(|((a, b), c)| a + b + c),
                );
            }
        }
        self.embedding_norm.apply(&mut x);
        for layer in &self.layers {
            x = self.layer(layer, &x, batch.len(), seq);
        }
        x.chunks_exact(seq * h)
            .map(|tokens| {
                let mut pooled = vec![0.0_f32; h];
                for t in tokens.chunks_exact(h) {
                    for (p, v) in pooled.iter_mut().zip(t) {
                        *p += v;
                    }
                }
                normalize(&mut pooled);
                pooled
            })
            .collect()
    }

    /// The embedding of one sequence of token ids (with `[CLS]`/`[SEP]`).
    pub fn encode(&self, ids: &[u32]) -> Vec<f32> {
        self.encode_batch(&[ids.to_vec()])
            .pop()
            .unwrap_or_else(|| vec![0.0; self.config.hidden_size])
    }

    fn layer(&self, layer: &Layer, x: &[f32], sequences: usize, seq: usize) -> Vec<f32> {
        let h = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let d = h / heads;
        let rows = sequences * seq;
        let q = layer.query.forward(x, rows);
        let k = layer.key.forward(x, rows);
        let v = layer.value.forward(x, rows);
        let scale = 1.0 / (d as f32).sqrt();
        let mut context = vec![0.0_f32; rows * h];
        let mut scores = vec![0.0_f32; seq];
        for s in 0..sequences {
            let base = s * seq;
            for head in 0..heads {
                let off = head * d;
                for i in 0..seq {
                    let qi = &q[(base + i) * h + off..(base + i) * h + off + d];
                    let mut max = f32::NEG_INFINITY;
                    for (j, score) in scores.iter_mut().enumerate() {
                        let kj = &k[(base + j) * h + off..(base + j) * h + off + d];
                        *score = qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() * scale;
                        max = max.max(*score);
                    }
                    let mut sum = 0.0;
                    for score in scores.iter_mut() {
                        *score = (*score - max).exp();
                        sum += *score;
                    }
                    let out = &mut context[(base + i) * h + off..(base + i) * h + off + d];
                    for (j, score) in scores.iter().enumerate() {
                        let w = score / sum;
                        let vj = &v[(base + j) * h + off..(base + j) * h + off + d];
                        for (o, val) in out.iter_mut().zip(vj) {
                            *o += w * val;
                        }
                    }
                }
            }
        }
        let mut attended = layer.attention_out.forward(&context, rows);
        for (a, b) in attended.iter_mut().zip(x) {
            *a += b;
        }
        layer.attention_norm.apply(&mut attended);
        let mut inner = layer.intermediate.forward(&attended, rows);
        for v in &mut inner {
            *v = gelu(*v);
        }
        let mut out = layer.output.forward(&inner, rows);
        for (a, b) in out.iter_mut().zip(&attended) {
            *a += b;
        }
        layer.output_norm.apply(&mut out);
        out
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

/// GELU with the exact error function, as BERT's `gelu`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2))
}

/// The error function (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7).
fn erf(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = f64::from(x.abs());
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp()) as f32
}

/// Writes a safetensors file of f32 tensors (for the tiny test model).
#[cfg(test)]
pub(crate) fn write_safetensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            (*name).to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::to_vec(&header).expect("serializable header");
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).expect("writable temp dir");
}
