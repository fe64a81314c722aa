//! Maps dotted key paths of a block-style YAML document to their 1-based line numbers, so load
//! errors can say `file:line`. It only reads the text it is given; it never parses values.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Builds the index of `text`. Flow-style maps (`{a: 1}`) are indexed by their parent key.
    pub fn new(text: &str) -> LineIndex {
        let mut lines = HashMap::new();
        let mut stack: Vec<(usize, String)> = Vec::new();
        // Inside a block scalar (`|`, `>`): skip lines indented deeper than this.
        let mut block_indent: Option<usize> = None;
        for (i, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut indent = raw.len() - trimmed.len();
            if let Some(b) = block_indent {
                if indent > b {
                    continue;
                }
                block_indent = None;
            }
            let mut rest = trimmed;
            while let Some(after) = rest.strip_prefix("- ") {
                indent += 2;
                rest = after.trim_start();
            }
            let Some((key, value)) = split_key(rest) else {
                continue;
            };
            while stack.last().is_some_and(|(ind, _)| *ind >= indent) {
                stack.pop();
            }
            stack.push((indent, key));
            let path = stack
                .iter()
                .map(|(_, k)| k.as_str())
                .collect::<Vec<_>>()
                .join(".");
            lines.entry(path).or_insert(i + 1);
            let v = value.trim();
            if v.starts_with('|') || v.starts_with('>') {
                block_indent = Some(indent);
            }
        }
        LineIndex { lines }
    }

    /// The line of `path`, or of its nearest indexed ancestor.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(*l);
            }
            p = &p[..p.rfind('.')?];
        }
    }
}

/// `key: value` → (key, value), with quoted keys unquoted.
fn split_key(line: &str) -> Option<(String, &str)> {
    if let Some(q) = line.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = line[1..].find(q)? + 1;
        let after = line[end + 1..].strip_prefix(':')?;
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        return Some((line[1..end].to_string(), after));
    }
    let mut search = 0;
    while let Some(pos) = line[search..].find(':') {
        let at = search + pos;
        let after = &line[at + 1..];
        if after.is_empty() || after.starts_with(' ') {
            let key = &line[..at];
            if key.is_empty() || key.contains(" #") || key.starts_with(['{', '[']) {
                return None;
            }
            return Some((key.trim_end().to_string(), after));
        }
        search = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_nested_keys_lists_and_skips_block_scalars() {
        let text = "name: x\ndescription: |\n  not: a key\nproviders:\n  primary:\n    config:\n      method: GET\n      headers:\n        \"X-Key\": v\nlist:\n  - a: 1\n    b: 2\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line("name"), Some(1));
        assert_eq!(idx.line("description.not"), Some(2));
        assert_eq!(idx.line("providers.primary.config.method"), Some(7));
        assert_eq!(idx.line("providers.primary.config.headers.X-Key"), Some(9));
        assert_eq!(idx.line("providers.primary.config.nope"), Some(6));
        assert_eq!(idx.line("list.b"), Some(12));
        assert_eq!(idx.line("missing"), None);
    }
}
