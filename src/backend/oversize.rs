//! Replies too large to read: which request an overlong stdout line answered.
//!
//! A stdio backend's stdout line over the cap is skipped without being buffered (see
//! `jsonrpc::LineReader`), so its caller would wait out its whole timeout. [`Edges`] sits under
//! the line reader and keeps only the first and last [`EDGE`] bytes of each line it passes on;
//! [`reply_id`] finds the top-level `id` in them (the first member walk from the head, or the
//! last member before the closing `}` in the tail), so the stdio transport can answer that
//! request at once with "too large". It never buffers more than `2 * EDGE` bytes per line and
//! never guesses: no id found means no answer.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, BufReader, ReadBuf};

use crate::jsonrpc::Id;

/// Bytes kept from each end of a line.
pub const EDGE: usize = 4096;

/// The ends of one line.
#[derive(Debug, Default, Clone)]
pub struct LineEdges {
    pub head: Vec<u8>,
    /// The last bytes (up to [`EDGE`] once [`LineEdges::tail`] is read).
    tail: Vec<u8>,
}

impl LineEdges {
    fn push(&mut self, bytes: &[u8]) {
        let room = EDGE.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * EDGE {
            self.tail.drain(..self.tail.len() - EDGE);
        }
    }

    fn is_empty(&self) -> bool {
        self.head.is_empty()
    }

    /// The last at most [`EDGE`] bytes.
    pub fn tail(&self) -> &[u8] {
        &self.tail[self.tail.len().saturating_sub(EDGE)..]
    }
}

/// A buffered reader that remembers the edges of the last line consumed through it.
pub struct Edges<R> {
    inner: BufReader<R>,
    current: LineEdges,
    last: Arc<Mutex<LineEdges>>,
}

impl<R: AsyncRead + Unpin> Edges<R> {
    /// The reader, and where the edges of the last finished line can be read.
    pub fn new(inner: R) -> (Edges<R>, Arc<Mutex<LineEdges>>) {
        let last = Arc::new(Mutex::new(LineEdges::default()));
        let reader = Edges {
            inner: BufReader::new(inner),
            current: LineEdges::default(),
            last: Arc::clone(&last),
        };
        (reader, last)
    }

    fn finish_line(&mut self) {
        let done = std::mem::take(&mut self.current);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = done;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Edges<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = match self.as_mut().poll_fill_buf(cx) {
            Poll::Ready(Ok(data)) => {
                let n = data.len().min(buf.remaining());
                buf.put_slice(&data[..n]);
                n
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for Edges<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        let at_eof = match Pin::new(&mut this.inner).poll_fill_buf(cx) {
            Poll::Ready(Ok(data)) => data.is_empty(),
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        if at_eof && !this.current.is_empty() {
            // An unterminated last line ends here.
            this.finish_line();
        }
        Poll::Ready(Ok(this.inner.buffer()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let mut data = &this.inner.buffer()[..amt];
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            this.current.push(&data[..i]);
            let done = std::mem::take(&mut this.current);
            *this.last.lock().unwrap_or_else(|e| e.into_inner()) = done;
            data = &data[i + 1..];
        }
        this.current.push(data);
        Pin::new(&mut this.inner).consume(amt);
    }
}

/// The top-level `id` of a JSON object of which only `edges` are known.
pub fn reply_id(edges: &LineEdges) -> Option<Id> {
    id_from_head(&edges.head).or_else(|| id_from_tail(edges.tail()))
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The index just past the string starting at `s[i] == b'"'`.
fn skip_string(s: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match s.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The index just past the JSON value starting at `i`, if it ends within `s`.
fn skip_value(s: &[u8], i: usize) -> Option<usize> {
    match s.get(i)? {
        b'"' => skip_string(s, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match s.get(j)? {
                    b'"' => {
                        j = skip_string(s, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let end = s[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())?;
            Some(i + end)
        }
    }
}

/// Walks the members of the object at the start of `head` until `id`.
fn id_from_head(head: &[u8]) -> Option<Id> {
    let mut i = skip_ws(head, 0);
    if head.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(head, i);
        if head.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(head, i)?;
        let key = &head[i..key_end];
        i = skip_ws(head, key_end);
        if head.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(head, i + 1);
        let value_end = skip_value(head, i)?;
        if key == b"\"id\"" {
            return serde_json::from_slice(&head[i..value_end]).ok();
        }
        i = skip_ws(head, value_end);
        match head.get(i)? {
            b',' => i += 1,
            _ => return None,
        }
    }
}

/// The last member of the object that ends `tail`, if it is `"id": <number or string>`: the
/// last `}` of the line closes the top-level object, so the member right before it is top-level.
fn id_from_tail(tail: &[u8]) -> Option<Id> {
    let trimmed = tail.trim_ascii_end();
    let body = trimmed.strip_suffix(b"}")?.trim_ascii_end();
    let value_start = match body.last()? {
        b'"' => {
            // The opening quote: the previous `"` not escaped by an odd run of backslashes.
            let mut j = body.len() - 1;
            loop {
                j = body[..j].iter().rposition(|&b| b == b'"')?;
                let slashes = body[..j].iter().rev().take_while(|&&b| b == b'\\').count();
                if slashes % 2 == 0 {
                    break j;
                }
            }
        }
        b'0'..=b'9' => body
            .iter()
            .rposition(|b| !(b.is_ascii_digit() || *b == b'-'))
            .map_or(0, |p| p + 1),
        _ => return None,
    };
    let before = body[..value_start].trim_ascii_end().strip_suffix(b":")?;
    let before = before.trim_ascii_end().strip_suffix(b"\"id\"")?;
    if !matches!(before.trim_ascii_end().last(), Some(b',' | b'{')) {
        return None;
    }
    serde_json::from_slice(&body[value_start..]).ok()
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncBufReadExt;

    use super::*;

    fn edges_of(line: &str) -> LineEdges {
        let mut e = LineEdges::default();
        e.push(line.as_bytes());
        e
    }

    #[test]
    fn finds_the_top_level_id_at_either_end() {
        let big = "x".repeat(3 * EDGE);
        let cases = [
            (
                format!(r#"{{"jsonrpc":"2.0","id":7,"result":"{big}"}}"#),
                Some(Id::Number(7)),
            ),
            (
                format!(r#"{{ "id" : "a\"b" , "result":"{big}"}}"#),
                Some(Id::String("a\"b".into())),
            ),
            (
                format!(r#"{{"jsonrpc":"2.0","result":{{"t":"{big}","id":1}},"id":42}}"#),
                Some(Id::Number(42)),
            ),
            (
                format!(r#"{{"result":{{"t":"{big}"}},"id":"s\\"}}  "#),
                Some(Id::String("s\\".into())),
            ),
            (format!(r#"{{"result":{{"t":"{big}","id":3}}}}"#), None),
            (format!(r#"{{"result":{{"t":"{big}"}},"xid":3}}"#), None),
            (format!(r#"{{"result":{{"t":"{big}"}}"#), None),
            (format!(r#"["id",{big}]"#), None),
        ];
        for (line, want) in cases {
            assert_eq!(
                reply_id(&edges_of(&line)),
                want,
                "{}",
                &line[..60.min(line.len())]
            );
        }
    }

    #[test]
    fn edges_keep_at_most_both_ends() {
        let mut e = LineEdges::default();
        for _ in 0..10_000 {
            e.push(b"0123456789");
        }
        assert_eq!(e.head.len(), EDGE);
        assert_eq!(e.tail().len(), EDGE);
        assert!(e.tail.len() <= 2 * EDGE);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn id() -> impl Strategy<Value = Id> {
            prop_oneof![
                any::<i64>().prop_map(Id::Number),
                any::<String>().prop_map(Id::String)
            ]
        }

        proptest! {
            #![proptest_config(crate::fuzz::cases(256))]

            /// Any bytes: an answer or none, never a panic.
            #[test]
            fn any_bytes_are_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let mut e = LineEdges::default();
                e.push(&bytes);
                let _ = reply_id(&e);
            }

            /// A reply whose `id` is at the head or at the tail is found, whatever surrounds it
            /// and however long the middle is.
            #[test]
            fn the_id_of_a_reply_is_found_at_either_end(
                id in id(),
                text in any::<String>(),
                pad in 0usize..(3 * EDGE),
                id_last in any::<bool>(),
            ) {
                let result = serde_json::json!({"content": [{"type": "text", "text": format!("{text}{}", "x".repeat(pad))}], "id": 1});
                let id_json = serde_json::to_string(&id).unwrap();
                let line = if id_last {
                    format!(r#"{{"jsonrpc":"2.0","result":{result},"id":{id_json}}}"#)
                } else {
                    format!(r#"{{"jsonrpc":"2.0","id":{id_json},"result":{result}}}"#)
                };
                let mut e = LineEdges::default();
                for chunk in line.as_bytes().chunks(977) {
                    e.push(chunk);
                }
                prop_assert_eq!(reply_id(&e), Some(id));
            }
        }
    }

    #[tokio::test]
    async fn the_reader_remembers_the_last_line_it_passed_on() {
        let data = format!(
            "first\n{{\"id\":5,\"r\":\"{}\"}}\nlast",
            "y".repeat(10 * EDGE)
        );
        let (mut reader, last) = Edges::new(data.as_bytes());
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(last.lock().unwrap().head, b"first");
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(reply_id(&last.lock().unwrap()), Some(Id::Number(5)));
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "last");
        assert_eq!(last.lock().unwrap().head, b"last", "EOF ends the last line");
    }
}
