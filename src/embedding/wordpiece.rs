//! BERT's uncased WordPiece tokenizer, read from a Hugging Face `tokenizer.json`.
//!
//! Owns text → token ids the way `BertTokenizer` (lower case, accents stripped, CJK characters
//! and punctuation split off, greedy longest-match word pieces with a `##` prefix) does it. It
//! never touches weights.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest word tokenized piece by piece; a longer one is `[UNK]`.
const MAX_WORD_CHARS: usize = 100;

/// A loaded vocabulary with its special tokens.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    pub unk: u32,
    pub cls: u32,
    pub sep: u32,
    size: usize,
}

#[derive(Deserialize)]
struct TokenizerJson {
    model: TokenizerModel,
}

#[derive(Deserialize)]
struct TokenizerModel {
    #[serde(rename = "type")]
    kind: String,
    vocab: HashMap<String, u32>,
}

/// Why a `tokenizer.json` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a tokenizer.json: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: model type is `{kind}`, expected {expected}")]
    WrongKind {
        path: String,
        kind: String,
        expected: &'static str,
    },
    #[error("{path}: the vocabulary has no `{token}` token")]
    MissingToken { path: String, token: &'static str },
}

impl WordPiece {
    /// Reads the WordPiece vocabulary of `tokenizer.json` at `path`.
    pub fn load(path: &Path) -> Result<WordPiece, TokenizerError> {
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
        if parsed.model.kind != "WordPiece" {
            return Err(TokenizerError::WrongKind {
                expected: "WordPiece",
                path: shown,
                kind: parsed.model.kind,
            });
        }
        WordPiece::from_vocab(parsed.model.vocab)
            .map_err(|token| TokenizerError::MissingToken { path: shown, token })
    }

    /// A tokenizer over `vocab`; the error names a missing special token.
    pub fn from_vocab(vocab: HashMap<String, u32>) -> Result<WordPiece, &'static str> {
        let id = |t: &'static str| vocab.get(t).copied().ok_or(t);
        let (unk, cls, sep) = (id("[UNK]")?, id("[CLS]")?, id("[SEP]")?);
        let size = vocab.values().map(|v| *v as usize + 1).max().unwrap_or(0);
        Ok(WordPiece {
            vocab,
            unk,
            cls,
            sep,
            size,
        })
    }

    /// One more than the largest token id.
    pub fn vocab_size(&self) -> usize {
        self.size
    }

    /// Token ids of `text`, without `[CLS]`/`[SEP]`, at most `max` of them.
    pub fn encode(&self, text: &str, max: usize) -> Vec<u32> {
        let mut ids = Vec::new();
        for word in basic_tokens(text) {
            if ids.len() >= max {
                break;
            }
            self.word_pieces(&word, &mut ids);
        }
        ids.truncate(max);
        ids
    }

    fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            out.push(self.unk);
            return;
        }
        let start_len = out.len();
        let mut start = 0;
        let mut piece = String::new();
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.extend(&chars[start..end]);
                if let Some(id) = self.vocab.get(&piece) {
                    found = Some(*id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => out.push(id),
                None => {
                    out.truncate(start_len);
                    out.push(self.unk);
                    return;
                }
            }
            start = end;
        }
    }
}

/// BERT's basic tokenization: clean, split CJK characters, lower-case and strip accents, split
/// on whitespace and punctuation.
fn basic_tokens(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(std::mem::take(current));
        }
    };
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()) {
            continue;
        }
        if c.is_whitespace() {
            flush(&mut current, &mut words);
        } else if is_cjk(c) || is_punctuation(c) {
            flush(&mut current, &mut words);
            words.push(c.to_lowercase().collect());
        } else {
            for lower in c.to_lowercase() {
                for d in std::iter::once(lower).nfd() {
                    if !is_combining_mark(d) {
                        current.push(d);
                    }
                }
            }
        }
    }
    flush(&mut current, &mut words);
    words
}

/// ASCII punctuation as BERT defines it (every non-alphanumeric printable), or any other
/// character that is neither alphanumeric, whitespace nor a combining mark.
fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_graphic() && !c.is_ascii_alphanumeric();
    }
    !c.is_alphanumeric() && !c.is_whitespace() && !is_combining_mark(c)
}

/// The CJK Unified Ideograph blocks BERT splits character by character.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> WordPiece {
        let words = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "weather", "forecast", "get", "##s", "un",
            "##aff", "##able", "cafe", ",", "!", "中", "文",
        ];
        let vocab = words
            .iter()
            .enumerate()
            .map(|(i, w)| ((*w).to_string(), i as u32))
            .collect();
        WordPiece::from_vocab(vocab).expect("special tokens present")
    }

    #[test]
    fn splits_words_into_longest_pieces() {
        let wp = tiny();
        assert_eq!(wp.encode("gets unaffable", 32), vec![7, 8, 9, 10, 11]);
    }

    #[test]
    fn lower_cases_strips_accents_and_splits_punctuation() {
        let wp = tiny();
        assert_eq!(wp.encode("The CAFÉ, forecast!", 32), vec![4, 12, 13, 6, 14]);
    }

    #[test]
    fn unknown_words_and_cjk_characters() {
        let wp = tiny();
        // `getz` has no piece for `z`, so the whole word is [UNK]; CJK characters split apart.
        assert_eq!(wp.encode("getz 中文", 32), vec![1, 15, 16]);
    }

    #[test]
    fn truncates_to_the_limit() {
        let wp = tiny();
        assert_eq!(wp.encode("the the the the", 2), vec![4, 4]);
    }

    #[test]
    fn a_vocabulary_without_special_tokens_is_refused() {
        let vocab = [("the".to_string(), 0)].into_iter().collect();
        assert_eq!(WordPiece::from_vocab(vocab).err(), Some("[UNK]"));
    }
}
