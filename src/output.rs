//! Human output for every command: aligned tables, colour that appears only on a terminal and
//! never with `NO_COLOR`, and the one-line progress indicator on stderr.
//!
//! Formatting only: it never decides what to print or which exit code a command gets (that is
//! `crate::cli`), and machine-readable output (`--json`) never passes through it.

use std::io::IsTerminal;

/// Whether to colour, decided once per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour only when stdout is a terminal and `NO_COLOR` is unset.
    pub fn detect() -> Style {
        Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
    pub fn plain() -> Style {
        Style { color: false }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
}

/// A count with its noun in the right number: `1 tool`, `0 tools`, `3 capabilities`.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A latency for people: `850µs`, `3.2ms`, `48ms`, `1.25s`, `2.5min`.
pub fn latency(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if us < 1000 {
        format!("{us}µs")
    } else if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 60_000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else {
        format!("{:.1}min", ms / 60_000.0)
    }
}

/// How long ago `then` was, for people: `just now`, `42 s ago`, `3 min ago`, `5 h ago`,
/// `2 days ago`; older than a month, the date (both in milliseconds since the epoch).
pub fn ago(then_ms: u64, now_ms: u64) -> String {
    let s = now_ms.saturating_sub(then_ms) / 1000;
    match s {
        0..10 => "just now".to_string(),
        10..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        86_400..172_800 => "1 day ago".to_string(),
        172_800..2_592_000 => format!("{} days ago", s / 86_400),
        _ => time::OffsetDateTime::from_unix_timestamp(i64::try_from(then_ms / 1000).unwrap_or(0))
            .map(|t| t.date().to_string())
            .unwrap_or_default(),
    }
}

/// Columns separated by two spaces, each as wide as its widest cell; the last column is not
/// padded and no line has trailing spaces. Colour codes in a cell do not count towards its width.
#[derive(Debug, Default)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
    right_aligned: Vec<usize>,
    indent: usize,
}

impl Table {
    /// A table whose first line is `header`.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: Some(header.iter().map(|h| h.to_string()).collect()),
            ..Table::default()
        }
    }
    /// A table without a header line.
    pub fn headless() -> Table {
        Table::default()
    }
    /// Right-aligns column `col` (numbers).
    pub fn right(mut self, col: usize) -> Table {
        self.right_aligned.push(col);
        self
    }
    /// Starts every line with `n` spaces.
    pub fn indent(mut self, n: usize) -> Table {
        self.indent = n;
        self
    }
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    pub fn rows(mut self, rows: impl IntoIterator<Item = Vec<String>>) -> Table {
        self.rows.extend(rows);
        self
    }

    /// The table as text, one `\n`-terminated line per row.
    pub fn render(&self) -> String {
        let lines: Vec<&Vec<String>> = self.header.iter().chain(&self.rows).collect();
        let columns = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for line in &lines {
            for (w, cell) in widths.iter_mut().zip(line.iter()) {
                *w = (*w).max(visible_width(cell));
            }
        }
        let mut out = String::new();
        for line in lines {
            let mut l = " ".repeat(self.indent);
            for (i, cell) in line.iter().enumerate() {
                let pad = " ".repeat(widths[i].saturating_sub(visible_width(cell)));
                if self.right_aligned.contains(&i) {
                    l.push_str(&pad);
                    l.push_str(cell);
                } else {
                    l.push_str(cell);
                    if i + 1 < line.len() {
                        l.push_str(&pad);
                    }
                }
                if i + 1 < line.len() {
                    l.push_str("  ");
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A left-aligned table with a header line (see [`Table`]).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    Table::new(header).rows(rows.iter().cloned()).render()
}

/// Characters a terminal shows for `s`: ANSI colour sequences (`ESC [ … m`) take no room.
pub fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            width += 1;
        }
    }
    width
}

/// A progress line on stderr (`\r`-rewritten), only when stderr is a terminal.
pub fn progress(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r{text}");
        let _ = err.flush();
    }
}

/// Clears the progress line.
pub fn progress_done() {
    progress("\x1b[2K");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_noun_in_their_number() {
        assert_eq!(counted(1, "tool", "tools"), "1 tool");
        assert_eq!(counted(0, "tool", "tools"), "0 tools");
        assert_eq!(counted(2, "capability", "capabilities"), "2 capabilities");
    }

    #[test]
    fn latencies_and_ages_read_like_people_say_them() {
        assert_eq!(latency(850), "850µs");
        assert_eq!(latency(3_240), "3.2ms");
        assert_eq!(latency(48_400), "48ms");
        assert_eq!(latency(1_250_000), "1.25s");
        assert_eq!(latency(150_000_000), "2.5min");
        let now = 1_800_000_000_000;
        assert_eq!(ago(now - 2_000, now), "just now");
        assert_eq!(ago(now - 42_000, now), "42 s ago");
        assert_eq!(ago(now - 180_000, now), "3 min ago");
        assert_eq!(ago(now - 5 * 3_600_000, now), "5 h ago");
        assert_eq!(ago(now - 86_400_000, now), "1 day ago");
        assert_eq!(ago(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(ago(1_700_000_000_000, now), "2023-11-14");
    }

    #[test]
    fn aligned() {
        let t = table(
            &["A", "BB"],
            &[vec!["xyz".into(), "1".into()], vec!["q".into(), "".into()]],
        );
        assert_eq!(t, "A    BB\nxyz  1\nq\n");
        assert_eq!(Style::plain().red("x"), "x");
        assert_eq!(Style { color: true }.red("x"), "\x1b[31mx\x1b[0m");
    }

    #[test]
    fn colour_codes_take_no_width_and_numbers_align_right() {
        let red = Style { color: true }.red("FAIL");
        let t = Table::headless()
            .rows([
                vec![red.clone(), "a".into(), "x".into()],
                vec!["ok".into(), "bbb".into(), "y".into()],
            ])
            .render();
        assert_eq!(t, format!("{red}  a    x\nok    bbb  y\n"));
        let t = Table::new(&["SCORE", "TOOL"])
            .right(0)
            .rows([vec!["3.25".into(), "t".into()]])
            .indent(1)
            .render();
        assert_eq!(t, " SCORE  TOOL\n  3.25  t\n");
    }
}
