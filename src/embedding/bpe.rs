//! A SentencePiece-style BPE tokenizer (the Llama 2 kind: spaces become `▁`, a `▁` is put in
//! front, merges applied by rank, characters outside the vocabulary fall back to `<0xNN>` byte
//! tokens), read from a Hugging Face `tokenizer.json` whose model type is `BPE`.
//!
//! Owns text → token ids for the static models that ship such a tokenizer (WordLlama). It never
//! touches weights.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::wordpiece::TokenizerError;

/// The SentencePiece word-boundary mark.
const SPACE: char = '\u{2581}';

/// A loaded BPE vocabulary with its merges.
#[derive(Debug, Clone)]
pub struct Bpe {
    vocab: HashMap<String, u32>,
    /// (left id, right id) → (rank, merged id).
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// Id of `<0xNN>` for each byte, when the vocabulary has byte-fallback tokens.
    bytes: Option<Vec<u32>>,
    pub unk: u32,
    size: usize,
}

#[derive(Deserialize)]
struct TokenizerJson {
    model: BpeModel,
}

#[derive(Deserialize)]
struct BpeModel {
    #[serde(rename = "type")]
    kind: String,
    vocab: HashMap<String, u32>,
    #[serde(default)]
    merges: Vec<Merge>,
    #[serde(default)]
    unk_token: Option<String>,
}

/// A merge is `"a b"` in older files and `["a", "b"]` in newer ones.
#[derive(Deserialize)]
#[serde(untagged)]
enum Merge {
    Joined(String),
    Pair(String, String),
}

impl Bpe {
    /// Reads the BPE vocabulary and merges of `tokenizer.json` at `path`.
    pub fn load(path: &Path) -> Result<Bpe, TokenizerError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenizerError::Read {
            path: shown.clone(),
            source,
        })?;
        let parsed: TokenizerJson =
            serde_json::from_str(&text).map_err(|source| TokenizerError::Parse {
                path: shown.clone(),
                source,
            })?;
        Bpe::from_model(&shown, parsed.model)
    }

    fn from_model(shown: &str, model: BpeModel) -> Result<Bpe, TokenizerError> {
        if model.kind != "BPE" {
            return Err(TokenizerError::WrongKind {
                path: shown.to_string(),
                kind: model.kind,
                expected: "BPE",
            });
        }
        let unk_name = model.unk_token.as_deref().unwrap_or("<unk>");
        let unk = *model
            .vocab
            .get(unk_name)
            .ok_or_else(|| TokenizerError::MissingToken {
                path: shown.to_string(),
                token: "<unk>",
            })?;
        let mut merges = HashMap::with_capacity(model.merges.len());
        for (rank, merge) in model.merges.into_iter().enumerate() {
            let (a, b) = match merge {
                Merge::Joined(s) => match s.split_once(' ') {
                    Some((a, b)) => (a.to_string(), b.to_string()),
                    None => continue,
                },
                Merge::Pair(a, b) => (a, b),
            };
            let merged = format!("{a}{b}");
            if let (Some(&l), Some(&r), Some(&m)) = (
                model.vocab.get(&a),
                model.vocab.get(&b),
                model.vocab.get(&merged),
            ) {
                merges.entry((l, r)).or_insert((rank as u32, m));
            }
        }
        let mut bytes = vec![0_u32; 256];
        let mut all = true;
        for (b, slot) in bytes.iter_mut().enumerate() {
            match model.vocab.get(&format!("<0x{b:02X}>")) {
                Some(id) => *slot = *id,
                None => all = false,
            }
        }
        let size = model
            .vocab
            .values()
            .map(|v| *v as usize + 1)
            .max()
            .unwrap_or(0);
        Ok(Bpe {
            vocab: model.vocab,
            merges,
            bytes: all.then_some(bytes),
            unk,
            size,
        })
    }

    /// One more than the largest token id.
    pub fn vocab_size(&self) -> usize {
        self.size
    }

    /// The first id after the special and byte tokens: ordinary pieces start here, roughly in
    /// order of frequency.
    pub fn first_word(&self) -> usize {
        self.bytes
            .as_ref()
            .map_or(0, |b| b.iter().copied().max().unwrap_or(0) as usize + 1)
    }

    /// Token ids of `text` (no `<s>`), at most `max` of them.
    pub fn encode(&self, text: &str, max: usize) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut word = String::new();
        for c in std::iter::once(SPACE).chain(text.chars()) {
            let c = if c == ' ' { SPACE } else { c };
            if c == SPACE && !word.is_empty() {
                self.word(&word, &mut ids);
                word.clear();
                if ids.len() >= max {
                    break;
                }
            }
            word.push(c);
        }
        if !word.is_empty() && ids.len() < max {
            self.word(&word, &mut ids);
        }
        ids.truncate(max);
        ids
    }

    /// BPE over one `▁`-led word: its characters (bytes for unknown ones), then the best-ranked
    /// adjacent merge until none applies.
    fn word(&self, word: &str, out: &mut Vec<u32>) {
        if let Some(id) = self.vocab.get(word) {
            out.push(*id);
            return;
        }
        let mut parts: Vec<u32> = Vec::with_capacity(word.len());
        let mut buf = [0_u8; 4];
        for c in word.chars() {
            match self.vocab.get(c.encode_utf8(&mut buf) as &str) {
                Some(id) => parts.push(*id),
                None => match &self.bytes {
                    Some(bytes) => parts.extend(
                        c.encode_utf8(&mut buf)
                            .bytes()
                            .map(|b| bytes[usize::from(b)]),
                    ),
                    None => parts.push(self.unk),
                },
            }
        }
        loop {
            let best = parts
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| self.merges.get(&(w[0], w[1])).map(|m| (m.0, i, m.1)))
                .min();
            match best {
                Some((_, i, merged)) => {
                    parts[i] = merged;
                    parts.remove(i + 1);
                }
                None => break,
            }
        }
        out.extend(parts);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny Llama-style vocabulary: specials, the 256 byte tokens, letters and a few merges.
    pub(crate) fn tiny_json() -> String {
        let mut vocab: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
        vocab.extend((0..256).map(|b| format!("<0x{b:02X}>")));
        for t in [
            "▁",
            "a",
            "b",
            "c",
            "d",
            "e",
            "h",
            "l",
            "o",
            "r",
            "s",
            "t",
            "▁t",
            "he",
            "▁the",
            "ea",
            "▁s",
            "▁sea",
            "rc",
            "rch",
            "▁search",
        ] {
            vocab.push(t.to_string());
        }
        let vocab: serde_json::Map<String, serde_json::Value> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, serde_json::json!(i)))
            .collect();
        serde_json::json!({
            "model": {
                "type": "BPE",
                "unk_token": "<unk>",
                "vocab": vocab,
                "merges": ["▁ t", "h e", "▁t he", "e a", "▁ s", "▁s ea", ["r", "c"], "rc h", "▁sea rch"],
            }
        })
        .to_string()
    }

    pub(crate) fn tiny() -> Bpe {
        let model: TokenizerJson = serde_json::from_str(&tiny_json()).unwrap();
        Bpe::from_model("tiny", model.model).unwrap()
    }

    fn pieces(bpe: &Bpe, text: &str) -> Vec<String> {
        let names: HashMap<u32, &str> = bpe.vocab.iter().map(|(k, v)| (*v, k.as_str())).collect();
        bpe.encode(text, 64)
            .into_iter()
            .map(|id| names[&id].to_string())
            .collect()
    }

    #[test]
    fn merges_apply_by_rank_and_unknown_characters_fall_back_to_bytes() {
        let bpe = tiny();
        assert_eq!(pieces(&bpe, "the search"), ["▁the", "▁search"]);
        // "e a" (rank 3) merges before "▁ s" (rank 4), then "▁s ea"; nothing joins the last "s".
        assert_eq!(pieces(&bpe, "seas"), ["▁sea", "s"]);
        assert_eq!(pieces(&bpe, "tea"), ["▁t", "ea"]);
        // "h e" has the best rank of all: it takes the h that "rc h" would have needed.
        assert_eq!(pieces(&bpe, "searches"), ["▁sea", "rc", "he", "s"]);
        // é is not in the vocabulary: its two UTF-8 bytes.
        assert_eq!(pieces(&bpe, "sé"), ["▁s", "<0xC3>", "<0xA9>"]);
        assert_eq!(pieces(&bpe, "  the"), ["▁", "▁", "▁the"]);
        assert_eq!(bpe.encode("the search the", 2).len(), 2);
        assert_eq!(bpe.first_word(), 259);
    }

    #[test]
    fn a_wordpiece_file_is_refused_by_name() {
        let json = serde_json::json!({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}});
        let model: TokenizerJson = serde_json::from_str(&json.to_string()).unwrap();
        let err = Bpe::from_model("x/tokenizer.json", model.model).unwrap_err();
        assert!(
            err.to_string().contains("x/tokenizer.json") && err.to_string().contains("WordPiece"),
            "{err}"
        );
    }
}
