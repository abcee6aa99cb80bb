//! Knows whether any byte of the request has been handed to the network.
//!
//! That single fact separates "not sent" from "may have been sent" when a
//! send fails: every transport error before the first request byte is safe
//! to retry, every one after it is not. The marker wraps the outermost
//! transport (after TLS and any proxy CONNECT) and *arms* the mark when it
//! hands HTTP request bytes down; the TCP transport underneath sets it only
//! once the kernel has accepted bytes of a `send` while armed. Handshake and
//! CONNECT bytes all leave before arming, so only request bytes (or TLS
//! records carrying them) count, and a send the kernel refused outright
//! (a reset that arrived first) leaves the request *not sent*.
//!
//! The marker also keeps the request out of memory once it has gone (it
//! wipes the TLS transport's plaintext buffer after each write, and the
//! outermost buffers when the connection is dropped), and stops reusing a
//! connection once it has been idle for as long as the server said it keeps
//! one (`Keep-Alive: timeout=N`, less a margin).

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::header::HeaderName;
use ureq::http::{HeaderMap, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

use crate::log::{LogLevel, Logger};
use crate::transport::secret::wipe;
use crate::transport::timing::{self, Phase};

thread_local! {
    // The client is blocking: a send runs start to end on the caller's thread.
    static WROTE: Cell<bool> = const { Cell::new(false) };
    // Request bytes have been handed to the transport in this attempt.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    // The last answer's Keep-Alive idle limit, until its connection is pooled.
    static KEEP_ALIVE: Cell<Option<Duration>> = const { Cell::new(None) };
    // The final (not 1xx) status line of this attempt's answer, once read.
    static STATUS: Cell<Option<u16>> = const { Cell::new(None) };
}

/// Starts a new attempt on this thread.
pub(crate) fn reset() {
    WROTE.set(false);
    ARMED.set(false);
    KEEP_ALIVE.set(None);
    STATUS.set(None);
    timing::reset();
}

/// The status of this attempt's answer, once its status line (after any
/// 1xx answers) arrived, even if the rest of its head then broke: a 2xx
/// is Hero's word that it took the request.
pub(crate) fn answer_status() -> Option<u16> {
    STATUS.get()
}

/// The final status in `input`, the unread answer bytes, once its status
/// line's code is there: `HTTP/<version> <3 digits>`, after whole 1xx heads.
fn final_status(mut input: &[u8]) -> Option<u16> {
    loop {
        let code = status_code(input)?;
        if !(100..200).contains(&code) {
            return Some(code);
        }
        // An interim answer: the final one starts after its empty line.
        input = &input[after_head(input)?..];
    }
}

/// The code of the status line `input` starts with, once it is there.
fn status_code(input: &[u8]) -> Option<u16> {
    let rest = input.strip_prefix(b"HTTP/")?;
    // The version is a few characters; anything longer is not HTTP.
    let rest = &rest[rest.iter().take(8).position(|&b| b == b' ')? + 1..];
    match *rest {
        [a, b, c, end, ..]
            if [a, b, c].iter().all(u8::is_ascii_digit) && b" \r\n".contains(&end) =>
        {
            Some(
                [a, b, c]
                    .iter()
                    .fold(0, |n, d| n * 10 + u16::from(d - b'0')),
            )
        }
        _ => None,
    }
}

/// Where the head `input` starts with ends: after its first empty line.
fn after_head(input: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += input[at..].iter().position(|&b| b == b'\n')? + 1;
        match input.get(at..)? {
            [b'\n', ..] => return Some(at + 1),
            [b'\r', b'\n', ..] => return Some(at + 2),
            _ => {}
        }
    }
}

/// True once this thread's current attempt has handed request bytes to a
/// connection (whether or not the kernel took them).
pub(crate) fn request_handed() -> bool {
    ARMED.get()
}

/// Called by the TCP transport after a `send` of which the kernel accepted
/// `n` bytes: once armed, those bytes carry (or follow) the request.
pub(crate) fn accepted(n: usize) {
    if n > 0 && ARMED.get() {
        WROTE.set(true);
    }
}

/// Marks the current attempt as handing request bytes down, as the
/// outermost transport does; for tests of the transports below it.
#[cfg(test)]
pub(crate) fn arm() {
    ARMED.set(true);
}

/// True once this thread's current attempt has written request bytes.
pub(crate) fn request_written() -> bool {
    WROTE.get()
}

/// Connector that wraps each new connection in [`Marked`] and counts them.
#[derive(Debug)]
pub(crate) struct MarkWrites {
    pub(crate) opened: Arc<AtomicU64>,
    pub(crate) log: Logger,
    /// Whether the client may use a proxy: ureq then runs this same chain a
    /// second time, without the proxy setting, for the leg to the proxy.
    pub(crate) has_proxy: bool,
}

impl<In: Transport> Connector<In> for MarkWrites {
    type Out = Marked;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Marked>, ureq::Error> {
        // The leg to the proxy carries the CONNECT line, not the request: its
        // bytes must not count, and the tunnel is counted once, outside.
        let proxy_leg = self.has_proxy && details.config.proxy().is_none();
        if proxy_leg {
            return Ok(chained.map(|t| Marked::new(Box::new(t), false)));
        }
        Ok(chained.map(|t| {
            self.opened.fetch_add(1, Ordering::Relaxed);
            timing::opened();
            if t.is_tls() {
                // ureq's TLS connector finishes the handshake before this.
                timing::mark(Phase::Tls);
            }
            self.log.log(
                LogLevel::Debug,
                format_args!(
                    "new connection to {}:{} ({})",
                    details.uri.host().unwrap_or(""),
                    details.uri.port_u16().unwrap_or(0),
                    if t.is_tls() { "tls" } else { "plain" }
                ),
            );
            Marked::new(Box::new(t), true)
        }))
    }
}

/// A transport that records, per thread, that request bytes went out.
#[derive(Debug)]
pub(crate) struct Marked {
    inner: Box<dyn Transport>,
    mark: bool,
    /// The inner transport is TLS: its buffers, not the TCP transport's,
    /// hold the plaintext.
    tls: bool,
    /// A request went since the last liveness check: the next check is the
    /// pool taking the connection back after the answer.
    answered: bool,
    /// How long the server keeps this connection when idle, less a margin,
    /// and since when it has been idle (see [`keep_alive_limit`]).
    idle_limit: Option<(Duration, Instant)>,
}

impl Marked {
    fn new(inner: Box<dyn Transport>, mark: bool) -> Self {
        Marked {
            tls: inner.is_tls(),
            inner,
            mark,
            answered: false,
            idle_limit: None,
        }
    }
}

impl Transport for Marked {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.mark && amount > 0 {
            // The TCP transport sets the mark once the kernel takes a byte.
            ARMED.set(true);
            self.answered = true;
        }
        let result = self.inner.transmit_output(amount, timeout);
        if self.tls {
            // Encrypted by now: this plaintext copy of the request, key
            // included, must not outlive the write. (Over plain TCP the TCP
            // transport wipes its own buffer.)
            wipe(&mut self.inner.buffers().output()[..amount]);
        }
        result
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let got = self.inner.await_input(timeout);
        if self.mark && ARMED.get() && matches!(got, Ok(true)) {
            timing::mark(Phase::FirstByte);
            // ureq consumes only whole heads, and the final one ends this:
            // until then the unread input starts at an answer.
            if STATUS.get().is_none() {
                STATUS.set(final_status(self.inner.buffers().input()));
            }
        }
        got
    }

    fn is_open(&mut self) -> bool {
        if self.answered {
            // Returned to the pool after an answer, on the sending thread:
            // the answer's Keep-Alive timeout (if any) starts counting now.
            self.answered = false;
            self.idle_limit = KEEP_ALIVE.take().map(|limit| (limit, Instant::now()));
        }
        if let Some((limit, since)) = self.idle_limit
            && since.elapsed() >= limit
        {
            return false;
        }
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl Drop for Marked {
    fn drop(&mut self) {
        // The outermost buffers hold plaintext: request heads (the key) in
        // the output, request body chunks in the input's free space (ureq
        // reads the body through it). After a complete exchange nothing is
        // left unconsumed, so the free space is the whole input buffer.
        let buffers = self.inner.buffers();
        wipe(buffers.output());
        wipe(buffers.input_append_buf());
    }
}

const KEEP_ALIVE_HEADER: HeaderName = HeaderName::from_static("keep-alive");

/// Notes the server's `Keep-Alive: timeout=N` from an answer's headers, for
/// the connection the answer came on: the pool takes it back on this thread
/// once the body has been read. (An answer without a body is pooled before
/// its headers reach the client; the default idle age then applies.)
/// Reading ureq's parsed headers costs about a hundred instructions a send,
/// a fifth of scanning the raw head in the transport.
pub(crate) fn note_answer(headers: &HeaderMap) {
    let limit = headers
        .get(KEEP_ALIVE_HEADER)
        .and_then(|v| timeout_param(v.as_bytes()))
        .map(keep_alive_limit);
    KEEP_ALIVE.set(limit);
}

/// How long a connection may stay idle when the server advertised
/// `Keep-Alive: timeout=N`: one second less than N, so a request never
/// crosses the server's close on the wire (N = 1 means no reuse).
pub(crate) fn keep_alive_limit(n: u64) -> Duration {
    Duration::from_secs(n.saturating_sub(1))
}

/// `timeout=N` among a `Keep-Alive` header's comma-separated parameters.
fn timeout_param(value: &[u8]) -> Option<u64> {
    value.split(|&b| b == b',').find_map(|param| {
        let param = param.trim_ascii();
        let (name, n) = param.split_at_checked(8)?;
        if !name.eq_ignore_ascii_case(b"timeout=") {
            return None;
        }
        let n = n.trim_ascii();
        if n.is_empty() || n.len() > 9 || !n.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(n).ok()?.parse().ok()
    })
}

/// How long a looked-up address is reused. ureq resolves the host before
/// it looks for a kept-alive connection, so without this every send would
/// pay for a lookup (on a fresh thread, as a timeout is set).
const DNS_TTL: Duration = Duration::from_secs(30);

/// The system resolver, with IP literals answered directly, answers cached
/// for [`DNS_TTL`], and lookup failures reported as such: the standard
/// library returns them as uncategorised I/O errors, which would read as a
/// failed connect.
#[derive(Debug, Default)]
pub(crate) struct Resolve {
    system: DefaultResolver,
    // A client talks to one host (and maybe a proxy): a short list suffices.
    cache: Mutex<Vec<(String, u16, ResolvedSocketAddrs, Instant)>>,
}

impl Resolver for Resolve {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // The resolve's end is marked at each answer, not around the call:
        // a wrapper would move the address list once more per send.
        let host = uri.host().unwrap_or_default();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            let mut addrs = self.system.empty();
            addrs.push(SocketAddr::new(ip, port));
            timing::mark(Phase::Resolve);
            return Ok(addrs);
        }
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            let hit = cache
                .iter()
                .find(|(h, p, _, at)| h == host && *p == port && now.duration_since(*at) < DNS_TTL);
            if let Some((_, _, addrs, _)) = hit {
                timing::mark(Phase::Resolve);
                return Ok(addrs.clone());
            }
        }
        let addrs = if crate::cancel::active() {
            cancellable_resolve(uri, config, timeout)
        } else {
            self.system.resolve(uri, config, timeout)
        };
        let addrs = addrs.map_err(|e| match e {
            ureq::Error::Io(_) => ureq::Error::HostNotFound,
            other => other,
        })?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(h, p, _, at)| {
                !(h == host && *p == port) && now.duration_since(*at) < DNS_TTL
            });
            if cache.len() >= 8 {
                cache.remove(0);
            }
            cache.push((host.to_owned(), port, addrs.clone(), now));
        }
        timing::mark(Phase::Resolve);
        Ok(addrs)
    }
}

/// Resolves on a helper thread (the system resolver cannot be
/// interrupted), so a cancelled send returns at once and leaves the lookup
/// to finish alone. The answer is awaited in 5 ms slices.
fn cancellable_resolve(
    uri: &Uri,
    config: &Config,
    timeout: NextTimeout,
) -> Result<ResolvedSocketAddrs, ureq::Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (uri, config) = (uri.clone(), config.clone());
    std::thread::Builder::new()
        .name("hero-resolve".into())
        .spawn(move || {
            let _ = tx.send(DefaultResolver::default().resolve(&uri, &config, timeout));
        })
        .map_err(ureq::Error::Io)?;
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(result) => return result,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ureq::Error::HostNotFound);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if crate::cancel::triggered() {
                    return Err(ureq::Error::Io(crate::cancel::ABORTED.into()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &Resolve, url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        r.resolve(&uri, &Config::default(), NextTimeout::default())
            .map(|a| a.iter().copied().collect())
    }

    #[test]
    fn final_status_lines() {
        let f = |v: &[u8]| final_status(v);
        assert_eq!(f(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(f(b"HTTP/1.1 200\r\nContent-Length: x"), Some(200));
        assert_eq!(f(b"HTTP/1.0 429 Slow\n"), Some(429));
        assert_eq!(f(b"HTTP/1.1 200 OK"), Some(200), "the code is there");
        assert_eq!(f(b"HTTP/2 200 OK"), Some(200), "the code is there");
        assert_eq!(f(b"HTTP/1.1234567890 200 OK\r\n"), None, "no such version");
        assert_eq!(f(b"HTTP/2 200 OK\r\n"), Some(200));
        assert_eq!(f(b"HTTP/1.1 20"), None);
        assert_eq!(f(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(f(b"HTTP/1.1 2x0 OK\r\n"), None);
        assert_eq!(f(b"SMTP 200 OK\r\n"), None);
        assert_eq!(f(b"\x16\x03\x01"), None, "not HTTP");
        assert_eq!(
            f(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"),
            Some(201)
        );
        assert_eq!(
            f(b"HTTP/1.1 103 Early\r\nLink: x\r\n\r\nHTTP/1.1 500 E\r\n"),
            Some(500)
        );
        assert_eq!(f(b"HTTP/1.1 100 Continue\r\n\r\n"), None);
        assert_eq!(f(b"HTTP/1.1 100 Continue\r\nX: y\r\n"), None);
    }

    #[test]
    fn keep_alive_timeout_parameter() {
        let t = |v: &str| timeout_param(v.as_bytes());
        assert_eq!(t("timeout=5, max=100"), Some(5));
        assert_eq!(t("max=9, Timeout=12"), Some(12));
        assert_eq!(t(" TIMEOUT=7 "), Some(7));
        assert_eq!(t("timeout = 7"), None, "not the header's syntax");
        assert_eq!(t("timeout=x"), None);
        assert_eq!(t("timeout="), None);
        assert_eq!(t("timeout=99999999999"), None);
        assert_eq!(t("max=5"), None);
        assert_eq!(keep_alive_limit(5), Duration::from_secs(4));
        assert_eq!(keep_alive_limit(1), Duration::ZERO);
        assert_eq!(keep_alive_limit(0), Duration::ZERO);
    }

    #[test]
    fn ip_literals_need_no_lookup_and_names_are_cached() {
        let r = Resolve::default();
        assert_eq!(
            resolve(&r, "http://127.0.0.1:8080/x").unwrap(),
            ["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve(&r, "https://[::1]/").unwrap(),
            ["[::1]:443".parse().unwrap()]
        );
        assert!(
            r.cache.lock().unwrap().is_empty(),
            "literals are not cached"
        );
        let first = resolve(&r, "http://localhost:9/").unwrap();
        assert!(first.iter().all(|a| a.ip().is_loopback() && a.port() == 9));
        assert_eq!(r.cache.lock().unwrap().len(), 1);
        assert_eq!(resolve(&r, "http://localhost:9/").unwrap(), first);
        assert_eq!(r.cache.lock().unwrap().len(), 1);
        // Another port is another entry; a failure is not cached.
        resolve(&r, "http://localhost:10/").unwrap();
        assert!(matches!(
            resolve(&r, "http://hero.invalid/"),
            Err(ureq::Error::HostNotFound)
        ));
        assert_eq!(r.cache.lock().unwrap().len(), 2);
    }
}
