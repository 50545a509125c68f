//! A minimal HTTP/1.1 client for the load driver: one request at a time on one socket,
//! written as prepared bytes, the answer read into a reused buffer. It shares the two
//! cores with what it measures, so it does what `wrk` does and no more: no header map,
//! no body stream, no connection task beside the request's own. Answers must carry a
//! `Content-Length` (hookgate's and the bare server's all do).

use std::net::SocketAddr;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest answer head accepted; hookgate's are a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;

/// An HTTP/1.1 request serialised for the wire: `POST <path>`, `headers`, the body.
pub fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let head_len: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(path.len() + head_len + body.len() + 64);
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// One answer: its status, and where its body lies in the connection's buffer.
pub struct Answer {
    pub status: u16,
    body: std::ops::Range<usize>,
    /// The server said `Connection: close`.
    pub closes: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed before the answer was complete")]
    Closed,
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends `request` and reads its whole answer.
    pub async fn exchange(&mut self, request: &[u8]) -> Result<Answer, WireError> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let (head_end, status, length, closes) = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(WireError::Malformed("head too long"));
            }
            self.fill().await?;
        };
        let end = head_end + length;
        while self.buf.len() < end {
            self.fill().await?;
        }
        if self.buf.len() > end {
            // One request at a time: nothing may follow the answer.
            return Err(WireError::Malformed("bytes after the answer"));
        }
        Ok(Answer {
            status,
            body: head_end..end,
            closes,
        })
    }

    pub fn body(&self, answer: &Answer) -> &[u8] {
        &self.buf[answer.body.clone()]
    }

    async fn fill(&mut self) -> Result<(), WireError> {
        self.buf.reserve(4096);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(WireError::Closed);
        }
        Ok(())
    }
}

/// `(head length, status, content length, connection closes)` once the head is in.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, u16, usize, bool)>, WireError> {
    let Some(blank) = memmem::find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..blank]).map_err(|_| WireError::Malformed("head"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or(WireError::Malformed("status line"))?;
    let mut length = None;
    let mut closes = false;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(WireError::Malformed("header line"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| WireError::Malformed("length"))?);
        } else if name.eq_ignore_ascii_case("connection") {
            closes = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(WireError::Malformed("chunked answers are not read"));
        }
    }
    let length = length.ok_or(WireError::Malformed("no content-length"))?;
    Ok(Some((blank + 4, status, length, closes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_length_and_close_from_a_complete_head() {
        let answer = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n\
                       Content-Length: 2\r\nConnection: close\r\n\r\n{}";
        let (end, status, length, closes) = parse_head(answer).unwrap().unwrap();
        assert_eq!((status, length, closes), (202, 2, true));
        assert_eq!(&answer[end..end + length], b"{}");
    }

    #[test]
    fn waits_for_the_rest_of_a_partial_head_and_refuses_chunked_answers() {
        assert!(parse_head(b"HTTP/1.1 202 Accepted\r\ncontent-len")
            .unwrap()
            .is_none());
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }

    #[test]
    fn serialises_a_post_with_its_length() {
        let request = post("/p", &[("host", "h")], b"abc");
        assert_eq!(
            request,
            b"POST /p HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\nabc".to_vec()
        );
    }
}
