//! Just enough HTTP/1.1 for one JSON endpoint: request heads, `Content-Length`
//! and chunked bodies, keep-alive, size caps, and whole-buffer responses.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// Cap on the request line plus header fields (and, separately, on chunked trailers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Cap on a decoded request body.
pub const MAX_BODY: usize = 1024 * 1024;
/// How long a client may stall once it has started sending a request.
const MID_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Cap on one chunk-size line; real clients send a few hex digits.
const MAX_CHUNK_LINE: usize = 4096;

pub struct Request {
    pub method: String,
    /// The request-target exactly as sent (path plus any query).
    pub target: String,
    /// Names lowercased; values trimmed but otherwise raw bytes, so the key
    /// check can be an exact byte match.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The value of a header sent exactly once; a repeated header counts as
    /// absent so that ambiguous credentials or content types are refused.
    pub fn single_header(&self, name: &str) -> Option<&[u8]> {
        let mut values = self.header_values(name);
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

pub enum ReadError {
    /// Peer closed, went idle, or the socket failed: nothing to answer.
    Gone,
    /// Malformed or oversized request: answer with this status, then close.
    Reject(u16, &'static str),
}

use ReadError::{Gone, Reject};

/// Reads one request. `idle` bounds the wait for its first byte, which is how
/// idle keep-alive connections get closed.
pub fn read_request(conn: &mut BufReader<TcpStream>, idle: Duration) -> Result<Request, ReadError> {
    conn.get_ref()
        .set_read_timeout(Some(idle))
        .map_err(|_| Gone)?;
    if conn.fill_buf().map_err(|_| Gone)?.is_empty() {
        return Err(Gone);
    }
    conn.get_ref()
        .set_read_timeout(Some(MID_REQUEST_TIMEOUT))
        .map_err(|_| Gone)?;

    let mut budget = MAX_HEAD;
    let mut line = read_line(conn, &mut budget, 431)?;
    // RFC 9112 section 2.2: ignore blank lines ahead of a request line.
    while line.is_empty() {
        line = read_line(conn, &mut budget, 431)?;
    }
    let (method, target, http10) = parse_request_line(&line)?;
    let headers = read_fields(conn, &mut budget)?;
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
        keep_alive: false,
    };

    if !http10 && req.header_values("host").count() != 1 {
        return Err(Reject(400, "HTTP/1.1 requires exactly one Host header"));
    }
    let tokens = comma_tokens(&req, "connection");
    req.keep_alive = if http10 {
        tokens.iter().any(|t| t == "keep-alive")
    } else {
        !tokens.iter().any(|t| t == "close")
    };

    let framing = framing(&req)?;
    if matches!(framing, Framing::Length(0)) {
        return Ok(req);
    }
    // curl and others wait for this before sending a larger body.
    if !http10 && comma_tokens(&req, "expect") == ["100-continue"] {
        let mut out = conn.get_ref();
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| Gone)?;
    }
    req.body = match framing {
        Framing::Chunked => read_chunked(conn)?,
        Framing::Length(len) => {
            let mut body = vec![0; len];
            conn.read_exact(&mut body).map_err(|_| Gone)?;
            body
        }
    };
    Ok(req)
}

enum Framing {
    Length(usize),
    Chunked,
}

fn framing(req: &Request) -> Result<Framing, ReadError> {
    let lengths: Vec<&[u8]> = req.header_values("content-length").collect();
    if req.header_values("transfer-encoding").next().is_some() {
        // Both at once is the classic request-smuggling shape; refuse it.
        if !lengths.is_empty() {
            return Err(Reject(
                400,
                "both Transfer-Encoding and Content-Length sent",
            ));
        }
        return match comma_tokens(req, "transfer-encoding").as_slice() {
            [only] if only == "chunked" => Ok(Framing::Chunked),
            _ => Err(Reject(501, "only Transfer-Encoding: chunked is supported")),
        };
    }
    let Some(first) = lengths.first() else {
        return Ok(Framing::Length(0));
    };
    if lengths.iter().any(|v| v != first)
        || first.is_empty()
        || !first.iter().all(u8::is_ascii_digit)
    {
        return Err(Reject(400, "invalid Content-Length"));
    }
    // Anything too long to parse is certainly over the cap.
    match std::str::from_utf8(first)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        Some(len) if len <= MAX_BODY => Ok(Framing::Length(len)),
        _ => Err(Reject(413, "request body is larger than 1 MiB")),
    }
}

fn read_chunked(conn: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut line_budget = MAX_CHUNK_LINE;
        let line = read_line(conn, &mut line_budget, 400)?;
        let size = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = trim(size);
        if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(Reject(400, "invalid chunk size"));
        }
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or(Reject(400, "invalid chunk size"))?;
        if size == 0 {
            break;
        }
        let start = body.len();
        let end = usize::try_from(size)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&end| end <= MAX_BODY)
            .ok_or(Reject(413, "request body is larger than 1 MiB"))?;
        body.resize(end, 0);
        conn.read_exact(&mut body[start..]).map_err(|_| Gone)?;
        if !read_line(conn, &mut 2, 400)?.is_empty() {
            return Err(Reject(400, "chunk data not followed by CRLF"));
        }
    }
    // Trailer fields are allowed but meaningless here.
    let mut trailer_budget = MAX_HEAD;
    read_fields(conn, &mut trailer_budget)?;
    Ok(body)
}

/// Reads one line of at most `budget` bytes (terminator included), returning
/// it without CRLF or LF. Exceeding the budget rejects with `over`.
fn read_line(conn: &mut impl BufRead, budget: &mut usize, over: u16) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    let limit = *budget as u64;
    let n = conn
        .by_ref()
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(|_| Gone)?;
    if line.last() != Some(&b'\n') {
        return Err(if n as u64 == limit {
            Reject(over, "request head or line too large")
        } else {
            Gone
        });
    }
    *budget -= n;
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, bool), ReadError> {
    let bad = Reject(400, "malformed request line");
    let text = std::str::from_utf8(line).map_err(|_| Reject(400, "malformed request line"))?;
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(bad);
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad);
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(Reject(505, "only HTTP/1.1 is supported")),
        _ => return Err(bad),
    };
    Ok((method.to_owned(), target.to_owned(), http10))
}

fn read_fields(
    conn: &mut impl BufRead,
    budget: &mut usize,
) -> Result<Vec<(String, Vec<u8>)>, ReadError> {
    let bad = || Reject(400, "malformed header field");
    let mut fields = Vec::new();
    loop {
        let line = read_line(conn, budget, 431)?;
        if line.is_empty() {
            return Ok(fields);
        }
        // Leading whitespace would be obsolete line folding, which RFC 9112 lets us refuse.
        let colon = line.iter().position(|&b| b == b':').ok_or_else(bad)?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || !name.iter().copied().all(is_tchar) {
            return Err(bad());
        }
        if value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
            return Err(bad());
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        fields.push((name, value.to_vec()));
    }
}

/// Lowercased comma-separated tokens across every instance of a header.
fn comma_tokens(req: &Request, name: &str) -> Vec<String> {
    req.header_values(name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| String::from_utf8_lossy(trim(t)).to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Replies are JSON (even the deliberately broken ones) except the inbox
/// page, so mostly only the status, extra headers and body vary.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::raw(status, value.to_string().into_bytes())
    }

    pub fn raw(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body,
        }
    }

    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, &serde_json::json!({ "error": message }))
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

pub fn write_response(
    mut out: &TcpStream,
    resp: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    for (name, value) in &resp.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&resp.body);
    }
    // One write, so the reply never trickles out in pieces.
    out.write_all(&bytes)?;
    out.flush()
}

/// Closes after a reply without losing it: closing with unread input makes
/// the kernel send RST, which can discard the reply before the client reads it.
pub fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut drained = 0;
    while drained < 4 * MAX_BODY {
        match (&mut &*stream).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
