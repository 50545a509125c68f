//! Server-Sent Events, the reading side: bytes in as they arrive (split anywhere, even
//! inside a line, a character or a `\r\n`), whole events out, read as the HTML
//! standard's event stream interpretation reads them. Pure: no I/O.
//!
//! Lines end with `\n`, `\r\n` or `\r`; a blank line dispatches the event; a line
//! starting with `:` is a comment (a heartbeat); `field: value` loses one space after
//! the colon; `data` lines are joined with `\n`; an event without `data` is not
//! dispatched; an unknown field (and `retry`) is ignored. An event cut off by the end of
//! the stream is never dispatched: the caller sees only whole events.

/// The largest event (its pending line plus its data so far) the parser holds: a
/// stream that sends more without a blank line is refused rather than buffered.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The last event id as of this event: set by an `id:` line of this event or of one
    /// before it (as a browser's `lastEventId`); `None` until the stream sent one.
    pub id: Option<String>,
    /// The `event:` field; `None` for the default type (`message`).
    pub event: Option<String>,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the event stream sent an event of more than {limit} bytes")]
pub struct TooLarge {
    pub limit: usize,
}

#[derive(Debug)]
pub struct Parser {
    limit: usize,
    /// The bytes of the current line so far (decoded once whole: a character split
    /// between two chunks is still one character).
    line: Vec<u8>,
    /// The last byte was a `\r`: a `\n` right after it ends the same line.
    after_cr: bool,
    /// No line has ended yet: a byte order mark before the first is dropped.
    first_line: bool,
    last_id: Option<String>,
    event: Option<String>,
    /// `data` values, each followed by `\n`.
    data: String,
}

impl Default for Parser {
    fn default() -> Self {
        Self::with_limit(MAX_EVENT_BYTES)
    }
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_limit(limit: usize) -> Self {
        Self {
            limit,
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            last_id: None,
            event: None,
            data: String::new(),
        }
    }

    /// The events `chunk` completes, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Frame>, TooLarge> {
        let mut frames = Vec::new();
        let mut rest = chunk;
        if rest.is_empty() {
            return Ok(frames);
        }
        if std::mem::take(&mut self.after_cr) && rest[0] == b'\n' {
            rest = &rest[1..];
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            self.line.extend_from_slice(&rest[..end]);
            self.check()?;
            self.end_line(&mut frames);
            let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
            if rest[end] == b'\r' && end + 1 == rest.len() {
                self.after_cr = true;
            }
            rest = &rest[end + if crlf { 2 } else { 1 }..];
        }
        self.line.extend_from_slice(rest);
        self.check()?;
        Ok(frames)
    }

    fn check(&self) -> Result<(), TooLarge> {
        if self.line.len() + self.data.len() > self.limit {
            return Err(TooLarge { limit: self.limit });
        }
        Ok(())
    }

    fn end_line(&mut self, frames: &mut Vec<Frame>) {
        let bytes = std::mem::take(&mut self.line);
        let mut line = String::from_utf8_lossy(&bytes);
        if std::mem::take(&mut self.first_line) {
            if let Some(stripped) = line.strip_prefix('\u{feff}') {
                line = stripped.to_owned().into();
            }
        }
        if line.is_empty() {
            self.dispatch(frames);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, frames: &mut Vec<Frame>) {
        let event = self.event.take().filter(|e| !e.is_empty());
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        frames.push(Frame {
            id: self.last_id.clone(),
            event,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: Option<&str>, event: Option<&str>, data: &str) -> Frame {
        Frame {
            id: id.map(str::to_owned),
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    /// Every way to cut `stream` into two chunks, and into single bytes, gives the
    /// same frames as the whole.
    fn parse_split_everywhere(stream: &[u8]) -> Vec<Frame> {
        let whole = Parser::new().feed(stream).unwrap();
        for cut in 0..=stream.len() {
            let mut parser = Parser::new();
            let mut frames = parser.feed(&stream[..cut]).unwrap();
            frames.extend(parser.feed(&stream[cut..]).unwrap());
            assert_eq!(frames, whole, "cut at byte {cut} of {stream:?}");
        }
        let mut parser = Parser::new();
        let bytes: Vec<Frame> = stream
            .iter()
            .flat_map(|b| parser.feed(&[*b]).unwrap())
            .collect();
        assert_eq!(bytes, whole, "byte by byte: {stream:?}");
        whole
    }

    #[test]
    fn streams_parse_to_frames_however_the_bytes_are_split() {
        let run_event = r#"{"seq":1,"type":"run.started"}"#;
        let cases: Vec<(&str, String, Vec<Frame>)> = vec![
            (
                "one event as hookgate sends it",
                format!("id: 1\nevent: run.started\ndata: {run_event}\n\n"),
                vec![frame(Some("1"), Some("run.started"), run_event)],
            ),
            (
                "two events, comments (heartbeats) before, between and inside",
                ":\n\nid: 1\ndata: a\n\n: keep-alive\nid: 2\n:x\ndata: b\n\n".into(),
                vec![frame(Some("1"), None, "a"), frame(Some("2"), None, "b")],
            ),
            (
                "CRLF line endings",
                "id: 7\r\nevent: e\r\ndata: x\r\n\r\n".into(),
                vec![frame(Some("7"), Some("e"), "x")],
            ),
            (
                "CR line endings",
                "id: 7\revent: e\rdata: x\r\rdata: y\r\r".into(),
                vec![
                    frame(Some("7"), Some("e"), "x"),
                    frame(Some("7"), None, "y"),
                ],
            ),
            (
                "mixed line endings",
                "data: a\r\ndata: b\rdata: c\n\r\n".into(),
                vec![frame(None, None, "a\nb\nc")],
            ),
            (
                "several data lines joined with line breaks, an empty one kept",
                "data: {\ndata:\ndata:  \"a\": 1\ndata: }\n\n".into(),
                vec![frame(None, None, "{\n\n \"a\": 1\n}")],
            ),
            (
                "one space after the colon is dropped, not more; no colon means no value",
                "event:no-space\ndata:  two\ndata\n\n".into(),
                vec![frame(None, Some("no-space"), " two\n")],
            ),
            (
                "an event without data is not dispatched, but its id is kept",
                "id: 3\nevent: ping\n\ndata: after\n\n".into(),
                vec![frame(Some("3"), None, "after")],
            ),
            (
                "an empty id resets it; an id holding NUL is ignored",
                "id: 1\ndata: a\n\nid\ndata: b\n\nid: 2\0x\ndata: c\n\n".into(),
                vec![
                    frame(Some("1"), None, "a"),
                    frame(Some(""), None, "b"),
                    frame(Some(""), None, "c"),
                ],
            ),
            (
                "unknown fields and retry are ignored; an empty event type is the default",
                "retry: 1000\nfoo: bar\nevent:\ndata: x\n\n".into(),
                vec![frame(None, None, "x")],
            ),
            (
                "a byte order mark before the first line is dropped",
                "\u{feff}data: x\n\n".into(),
                vec![frame(None, None, "x")],
            ),
            (
                "multi-byte characters survive any split",
                "data: zoë → ✓ 🎉\n\n".into(),
                vec![frame(None, None, "zoë → ✓ 🎉")],
            ),
            (
                "an event cut off by the end of the stream is not dispatched",
                "data: whole\n\ndata: cut off\n".into(),
                vec![frame(None, None, "whole")],
            ),
            ("nothing", String::new(), vec![]),
        ];
        for (name, stream, expected) in cases {
            assert_eq!(
                parse_split_everywhere(stream.as_bytes()),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn a_cr_at_the_end_of_a_chunk_and_a_lf_at_the_start_of_the_next_end_one_line() {
        let mut parser = Parser::new();
        assert_eq!(parser.feed(b"data: x\r").unwrap(), []);
        assert_eq!(parser.feed(b"").unwrap(), []);
        assert_eq!(parser.feed(b"\n").unwrap(), []);
        // The blank line ends at its CR; the LF after it is the same line ending.
        assert_eq!(parser.feed(b"\r").unwrap(), [frame(None, None, "x")]);
        assert_eq!(parser.feed(b"\n").unwrap(), []);
        assert_eq!(
            parser.feed(b"data: z\n\n").unwrap(),
            [frame(None, None, "z")]
        );
        // A CR then a CR is two line endings: the blank line dispatches.
        assert_eq!(parser.feed(b"data: y\r").unwrap(), []);
        assert_eq!(parser.feed(b"\r").unwrap(), [frame(None, None, "y")]);
    }

    #[test]
    fn an_event_larger_than_the_limit_is_refused() {
        let mut parser = Parser::with_limit(16);
        assert_eq!(parser.feed(b"data: 0123456789\n").unwrap(), []);
        assert_eq!(parser.feed(b"data: 01234"), Err(TooLarge { limit: 16 }));
        let mut parser = Parser::with_limit(16);
        assert_eq!(
            parser.feed(b"data: 0123456789abcdef"),
            Err(TooLarge { limit: 16 }),
            "a line without end counts too"
        );
        // Comments and whole events do not accumulate.
        let mut parser = Parser::with_limit(16);
        for _ in 0..10 {
            assert_eq!(
                parser.feed(b": heartbeat\ndata: 0123\n\n").unwrap(),
                [frame(None, None, "0123")]
            );
        }
    }
}
