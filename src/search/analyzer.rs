//! Text analysis for tool text: the tokenizer and the filter chain used at index and query time.
//!
//! Owns how names, descriptions and queries become terms: identifier splitting (`_ - . /` and
//! camelCase, keeping the whole camelCase word too), CJK bigrams, case folding, stop words and
//! English stemming. Index and query go through the same chain, so a term matches itself. It never
//! decides scores.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// Name under which the analyzer is registered in the tantivy index.
pub const TOOL_ANALYZER: &str = "tool_text";

/// Words removed at index and query time. Small on purpose: articles, pronouns, auxiliaries and
/// the politeness words of chat queries ("can you please …"), never content words. A query made
/// only of these words matches nothing rather than everything.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "for",
    "from",
    "had",
    "has",
    "have",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "let",
    "me",
    "my",
    "of",
    "on",
    "or",
    "our",
    "please",
    "should",
    "so",
    "some",
    "such",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "us",
    "was",
    "we",
    "were",
    "what",
    "which",
    "who",
    "will",
    "with",
    "would",
    "you",
    "your",
    // conversational filler of chat requests
    "about",
    "also",
    "am",
    "any",
    "anything",
    "give",
    "hello",
    "help",
    "hi",
    "how",
    "im",
    "just",
    "know",
    "like",
    "need",
    "ok",
    "okay",
    "something",
    "sure",
    "tell",
    "thank",
    "thanks",
    "want",
    "when",
    "why",
];

/// Which filters the analyzer applies (the benchmark's ablation switches them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzerOptions {
    pub stemming: bool,
    pub stop_words: bool,
}

/// Builds the analyzer: tool tokenizer → drop over-long tokens → lowercase → stop words → stem.
pub fn build_analyzer(options: AnalyzerOptions) -> TextAnalyzer {
    let mut builder = TextAnalyzer::builder(ToolTokenizer)
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .dynamic();
    if options.stop_words {
        builder = builder.filter_dynamic(StopWordFilter::remove(
            STOP_WORDS.iter().map(|w| (*w).to_string()),
        ));
    }
    if options.stemming {
        builder = builder.filter_dynamic(Stemmer::new(Language::English));
    }
    builder.build()
}

/// Runs `analyzer` over `text` and returns the terms in order (duplicates kept).
pub fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Lowercase letters and digits only: `github__create-Issue` → `githubcreateissue`. Indexed in the
/// name field as the "whole name" term and derived from query words the same way.
pub fn joined_identifier(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// True for Han, Hiragana, Katakana and Hangul characters, which carry no spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // Extensions B–F, compatibility supplement
}

/// Splits text into words on anything that is not a letter or digit, then splits each word on
/// camelCase boundaries (`getHTTPResponse` → `get`, `HTTP`, `Response`, plus the whole word) and
/// turns runs of CJK characters into overlapping bigrams (a lone character stays a unigram).
#[derive(Clone, Default)]
pub struct ToolTokenizer;

/// The tokens of one text, produced eagerly (tool texts are short).
pub struct ToolTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for ToolTokenizer {
    type TokenStream<'a> = ToolTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ToolTokenStream {
        ToolTokenStream {
            tokens: tokenize(text),
            next: 0,
        }
    }
}

impl TokenStream for ToolTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Cjk,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(o, _)| *o);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let kind = class(chars[i].1);
        let start = i;
        while i < chars.len() && class(chars[i].1) == kind {
            i += 1;
        }
        match kind {
            Class::Other => {}
            Class::Word => push_word(text, &chars[start..i], end_of(i), &mut tokens),
            Class::Cjk => {
                let run = &chars[start..i];
                if run.len() == 1 {
                    push(&mut tokens, text, run[0].0, end_of(i));
                } else {
                    for (j, (offset, _)) in run.iter().enumerate().take(run.len() - 1) {
                        push(&mut tokens, text, *offset, end_of(start + j + 2));
                    }
                }
            }
        }
    }
    tokens
}

/// Emits the camelCase parts of one word, and the whole word when it had more than one part.
fn push_word(text: &str, word: &[(usize, char)], word_end: usize, tokens: &mut Vec<Token>) {
    let mut part_start = 0;
    let mut parts = 0;
    for k in 1..word.len() {
        let (prev, cur) = (word[k - 1].1, word[k].1);
        let next_is_lower = word.get(k + 1).is_some_and(|(_, c)| c.is_lowercase());
        let boundary = (prev.is_lowercase() && cur.is_uppercase())
            || (prev.is_uppercase() && cur.is_uppercase() && next_is_lower);
        if boundary {
            push(tokens, text, word[part_start].0, word[k].0);
            parts += 1;
            part_start = k;
        }
    }
    push(tokens, text, word[part_start].0, word_end);
    if parts > 0 {
        push(tokens, text, word[0].0, word_end);
    }
}

fn push(tokens: &mut Vec<Token>, text: &str, from: usize, to: usize) {
    let position = tokens.len();
    tokens.push(Token {
        offset_from: from,
        offset_to: to,
        position,
        text: text[from..to].to_string(),
        position_length: 1,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut a = build_analyzer(AnalyzerOptions {
            stemming: true,
            stop_words: true,
        });
        analyze(&mut a, text)
    }

    #[test]
    fn splits_identifiers_and_keeps_camel_case_whole() {
        assert_eq!(terms("create_issue"), ["creat", "issu"]);
        assert_eq!(
            terms("getHTTPResponse"),
            ["get", "http", "respons", "gethttprespons"]
        );
        assert_eq!(
            terms("github/list-pull_requests.v2"),
            ["github", "list", "pull", "request", "v2"]
        );
    }

    #[test]
    fn stop_words_vanish_and_case_folds() {
        assert_eq!(terms("The Files of a User"), ["file", "user"]);
        assert!(terms("the a an").is_empty());
        assert_eq!(terms("Can you help me, I want a photo"), ["photo"]);
    }

    #[test]
    fn cjk_runs_become_bigrams() {
        assert_eq!(terms("查询天气"), ["查询", "询天", "天气"]);
        assert_eq!(terms("天 weather"), ["天", "weather"]);
        assert_eq!(terms("ファイル"), ["ファ", "ァイ", "イル"]);
    }

    #[test]
    fn joined_identifier_drops_separators() {
        assert_eq!(
            joined_identifier("github__create-Issue"),
            "githubcreateissue"
        );
    }
}
