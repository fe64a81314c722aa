//! An incremental parser for `text/event-stream` bodies (the WHATWG server-sent events format).
//!
//! Owns turning byte chunks into events: `event`, `data` (multi-line), `id` and `retry` fields,
//! comments, LF / CRLF / CR line ends split anywhere across chunks, a leading BOM, and a size cap.
//! It never interprets event payloads and never does I/O.

use std::time::Duration;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, `message` when absent.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
}

/// The stream exceeded the size cap for one line or one event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server-sent event larger than {limit} bytes")]
pub struct TooLarge {
    pub limit: usize,
}

/// Parser state for one stream.
#[derive(Debug)]
pub struct SseParser {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The previous chunk ended with CR: a leading LF in the next chunk belongs to it.
    after_cr: bool,
    at_start: bool,
    data: String,
    has_data: bool,
    event: String,
    /// The last event id seen (`id:` field), kept across events as the spec says.
    last_event_id: Option<String>,
    retry: Option<Duration>,
    limit: usize,
}

impl SseParser {
    /// `limit`: the largest line or event accepted, in bytes.
    pub fn new(limit: usize) -> SseParser {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            has_data: false,
            event: String::new(),
            last_event_id: None,
            retry: None,
            limit,
        }
    }

    /// The id to send as `Last-Event-ID` when resuming this stream.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The reconnection delay the server asked for with `retry:`.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// A parser for the next connection of the same stream: keeps the last event id and the
    /// retry delay, drops any half-received line or event.
    pub fn resumed(&self) -> SseParser {
        SseParser {
            last_event_id: self.last_event_id.clone(),
            retry: self.retry,
            ..SseParser::new(self.limit)
        }
    }

    /// Feeds one chunk; returns the events it completed, in order.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<Vec<SseEvent>, TooLarge> {
        let mut events = Vec::new();
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&chunk[..pos]);
            self.check_size()?;
            let cr = chunk[pos] == b'\r';
            chunk = &chunk[pos + 1..];
            if cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(ev) = self.process_line(&line) {
                events.push(ev);
            }
        }
        self.line.extend_from_slice(chunk);
        self.check_size()?;
        Ok(events)
    }

    fn check_size(&self) -> Result<(), TooLarge> {
        if self.line.len() + self.data.len() > self.limit {
            Err(TooLarge { limit: self.limit })
        } else {
            Ok(())
        }
    }

    fn process_line(&mut self, raw: &[u8]) -> Option<SseEvent> {
        let mut line = String::from_utf8_lossy(raw);
        if std::mem::take(&mut self.at_start)
            && let Some(rest) = line.strip_prefix('\u{feff}')
        {
            line = rest.to_string().into();
        }
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => {
                self.last_event_id = (!value.is_empty()).then(|| value.to_string());
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent {
            event: if event.is_empty() {
                "message".to_string()
            } else {
                event
            },
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> (Vec<SseEvent>, SseParser) {
        let mut p = SseParser::new(1024);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.feed(c).unwrap());
        }
        (out, p)
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn fields_comments_and_multiline_data() {
        let (events, p) = parse_all(&[
            b": keep-alive\n\nevent: endpoint\ndata: /messages?s=1\n\n",
            b"id: 7\ndata: {\"a\":\ndata:1}\n\ndata\n\n",
        ]);
        assert_eq!(
            events,
            vec![
                ev("endpoint", "/messages?s=1"),
                ev("message", "{\"a\":\n1}"),
                ev("message", "")
            ]
        );
        assert_eq!(p.last_event_id(), Some("7"));
    }

    #[test]
    fn line_ends_split_across_chunks() {
        let text = b"event: message\r\ndata: one\r\rdata: two\n\ndata: three\r\n\r\n";
        let whole = parse_all(&[text]).0;
        assert_eq!(
            whole,
            vec![
                ev("message", "one"),
                ev("message", "two"),
                ev("message", "three")
            ]
        );
        // Every split point, including between CR and LF, gives the same events.
        for i in 0..text.len() {
            let (a, b) = text.split_at(i);
            assert_eq!(parse_all(&[a, b]).0, whole, "split at {i}");
        }
    }

    #[test]
    fn priming_event_sets_id_and_retry_without_dispatching() {
        let (events, p) = parse_all(&[b"id: event-1\nretry: 500\ndata: \n\n"]);
        // `data: ` with an empty value is an event with empty data; callers skip it.
        assert_eq!(events, vec![ev("message", "")]);
        assert_eq!(p.last_event_id(), Some("event-1"));
        assert_eq!(p.retry(), Some(Duration::from_millis(500)));
        let (events, p) = parse_all(&[b"id: 3\nretry: soon\n\n"]);
        assert!(events.is_empty());
        assert_eq!(p.last_event_id(), Some("3"));
        assert_eq!(p.retry(), None);
    }

    #[test]
    fn one_space_after_colon_is_stripped_and_bom_ignored() {
        let (events, _) = parse_all(&[b"\xEF\xBB\xBFdata:  two spaces\nevent:x\n\n"]);
        assert_eq!(events, vec![ev("x", " two spaces")]);
    }

    #[test]
    fn unfinished_event_is_not_dispatched_and_size_is_capped() {
        let (events, _) = parse_all(&[b"data: partial\n"]);
        assert!(events.is_empty());
        let mut p = SseParser::new(16);
        assert!(p.feed(b"data: 0123456789abcdef").is_err());
        let mut p = SseParser::new(16);
        assert!(p.feed(b"data: 01234\ndata: 56789ab\n").is_err());
    }
}
