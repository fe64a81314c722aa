//! Newline-delimited framing with a cap on line length.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What one read produced.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadLine {
    Line(String),
    /// A line longer than the cap was skipped; carries its length in bytes.
    TooLong(usize),
    /// A line that is not UTF-8 was skipped.
    NotUtf8,
    Eof,
}

/// Reads newline-terminated lines, skipping (not buffering) lines over `max_len` bytes.
pub struct LineReader<R> {
    inner: R,
    max_len: usize,
    buf: Vec<u8>,
    /// Decode invalid UTF-8 with replacement characters instead of reporting `NotUtf8`.
    lossy: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max_len: usize) -> Self {
        LineReader {
            inner,
            max_len,
            buf: Vec::new(),
            lossy: false,
        }
    }

    /// A reader for text that is only shown (a backend's stderr): invalid UTF-8 becomes `�`
    /// instead of ending or skipping the line, so reading always goes on.
    pub fn lossy(inner: R, max_len: usize) -> Self {
        LineReader {
            lossy: true,
            ..LineReader::new(inner, max_len)
        }
    }

    /// Next line without its terminator; blank lines are skipped.
    pub async fn next_line(&mut self) -> std::io::Result<ReadLine> {
        loop {
            self.buf.clear();
            let mut overflow = 0usize;
            loop {
                let available = self.inner.fill_buf().await?;
                if available.is_empty() {
                    if self.buf.is_empty() && overflow == 0 {
                        return Ok(ReadLine::Eof);
                    }
                    break;
                }
                let (chunk, found) = match memchr(available) {
                    Some(i) => (&available[..i], Some(i)),
                    None => (available, None),
                };
                if overflow > 0 || self.buf.len() + chunk.len() > self.max_len {
                    overflow += self.buf.len() + chunk.len();
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
                let consumed = found.map_or(available.len(), |i| i + 1);
                self.inner.consume(consumed);
                if found.is_some() {
                    break;
                }
            }
            if overflow > 0 {
                return Ok(ReadLine::TooLong(overflow));
            }
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(match String::from_utf8(std::mem::take(&mut self.buf)) {
                Ok(s) => ReadLine::Line(s),
                Err(e) if self.lossy => {
                    ReadLine::Line(String::from_utf8_lossy(e.as_bytes()).into_owned())
                }
                Err(_) => ReadLine::NotUtf8,
            });
        }
    }
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn skips_long_and_blank_lines() {
        let data = b"short\n\n0123456789abcdef\r\nok\r\ntail".to_vec();
        let mut r = LineReader::new(tokio::io::BufReader::with_capacity(4, &data[..]), 10);
        assert_eq!(r.next_line().await.unwrap(), ReadLine::Line("short".into()));
        assert_eq!(r.next_line().await.unwrap(), ReadLine::TooLong(17));
        assert_eq!(r.next_line().await.unwrap(), ReadLine::Line("ok".into()));
        assert_eq!(r.next_line().await.unwrap(), ReadLine::Line("tail".into()));
        assert_eq!(r.next_line().await.unwrap(), ReadLine::Eof);
    }

    #[tokio::test]
    async fn lossy_reading_goes_on_past_invalid_utf8() {
        let data = b"ok\n\xff\xfe bad \xc3\n".to_vec();
        let mut strict = LineReader::new(&data[..], 100);
        assert_eq!(
            strict.next_line().await.unwrap(),
            ReadLine::Line("ok".into())
        );
        assert_eq!(strict.next_line().await.unwrap(), ReadLine::NotUtf8);
        let mut lossy = LineReader::lossy(&data[..], 100);
        assert_eq!(
            lossy.next_line().await.unwrap(),
            ReadLine::Line("ok".into())
        );
        assert_eq!(
            lossy.next_line().await.unwrap(),
            ReadLine::Line("\u{fffd}\u{fffd} bad \u{fffd}".into())
        );
        assert_eq!(lossy.next_line().await.unwrap(), ReadLine::Eof);
    }
}
