//! The one HTTP request reader of the raw test servers.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// One HTTP request as a test server read it.
pub struct Request {
    /// Every byte read, head first.
    pub raw: Vec<u8>,
    /// Where the head (with its blank line) ends in `raw`.
    pub head_len: usize,
}

impl Request {
    /// The request line and headers, blank line included.
    pub fn head(&self) -> String {
        String::from_utf8_lossy(&self.raw[..self.head_len]).into_owned()
    }

    /// The `Content-Length` bytes after the head.
    pub fn body(&self) -> &[u8] {
        let end = (self.head_len + content_length(&self.raw[..self.head_len])).min(self.raw.len());
        &self.raw[self.head_len..end]
    }
}

/// How [`read_request_with`] reads.
#[derive(Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// Stop at the blank line, reading one byte at a time so that nothing
    /// past the head (a tunnel's first bytes) is taken; no body is read.
    pub head_only: bool,
    /// Every byte read is added here, complete requests or not.
    pub count_bytes: Option<&'a AtomicUsize>,
}

/// Reads one request: the head, then `Content-Length` bytes of body. `None`
/// when the peer closed, timed out or broke off first.
pub fn read_request(stream: &mut impl Read) -> Option<Request> {
    read_request_with(stream, ReadOptions::default()).ok()
}

/// [`read_request`] with options; a request that never completes gives back
/// the bytes read before the peer closed, timed out or broke off. The client
/// never pipelines, so a chunked read takes nothing past the request.
pub fn read_request_with(
    stream: &mut impl Read,
    options: ReadOptions<'_>,
) -> Result<Request, Vec<u8>> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let step = if options.head_only { 1 } else { chunk.len() };
    let mut wanted: Option<usize> = None;
    loop {
        if let Some(total) = wanted
            && raw.len() >= total
        {
            let head_len = head_end(&raw).expect("head seen");
            return Ok(Request { raw, head_len });
        }
        let n = match stream.read(&mut chunk[..step]) {
            Ok(0) | Err(_) => return Err(raw),
            Ok(n) => n,
        };
        if let Some(count) = options.count_bytes {
            count.fetch_add(n, SeqCst);
        }
        raw.extend_from_slice(&chunk[..n]);
        if wanted.is_none()
            && let Some(end) = head_end(&raw)
        {
            let body = if options.head_only {
                0
            } else {
                content_length(&raw[..end])
            };
            wanted = Some(end + body);
        }
    }
}

/// The end of the head, blank line included, once it has all arrived.
fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The `Content-Length` of a request head (0 when absent).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}
