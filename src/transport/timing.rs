//! Where a send's time went: the end of each phase of its last attempt,
//! counted from the call's start as curl counts them, marked by the
//! resolver, the connectors and the outermost transport on the sending
//! thread (the client is blocking), one clock read per phase.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The phase ends of a finished send (or lookup), success or failure:
/// each a time from the call's start, [`Duration::ZERO`] for a phase that
/// did not happen (no TLS over `http://`, no connect on a reused
/// connection, no first byte when no answer came).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    resolve: Duration,
    connect: Duration,
    tls: Duration,
    first_byte: Duration,
    total: Duration,
    attempts: u32,
    reused: bool,
}

impl Timings {
    /// When the host name was resolved (an IP literal or a cached answer: at once).
    pub fn resolve(&self) -> Duration {
        self.resolve
    }
    /// When the TCP connection was open (to the proxy, through one).
    pub fn connect(&self) -> Duration {
        self.connect
    }
    /// When the TLS handshake was done.
    pub fn tls(&self) -> Duration {
        self.tls
    }
    /// When the first byte of the answer arrived.
    pub fn first_byte(&self) -> Duration {
        self.first_byte
    }
    /// When the call returned.
    pub fn total(&self) -> Duration {
        self.total
    }
    /// How many HTTP attempts were made.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// Whether the last attempt's request went on a kept-alive connection.
    pub fn connection_reused(&self) -> bool {
        self.reused
    }
}

/// Phase marks of the attempt in progress on this thread.
#[derive(Clone, Copy)]
struct Marks {
    resolve: Option<Instant>,
    connect: Option<Instant>,
    tls: Option<Instant>,
    first_byte: Option<Instant>,
    opened: bool,
}

const NONE: Marks = Marks {
    resolve: None,
    connect: None,
    tls: None,
    first_byte: None,
    opened: false,
};

thread_local! {
    static MARKS: Cell<Marks> = const { Cell::new(NONE) };
}

/// A phase whose end is marked.
#[derive(Clone, Copy)]
pub(crate) enum Phase {
    Resolve,
    Connect,
    Tls,
    FirstByte,
}

/// Starts a new attempt's marks.
pub(crate) fn reset() {
    MARKS.set(NONE);
}

/// Marks the end of `phase` now (the first byte only once).
pub(crate) fn mark(phase: Phase) {
    let mut m = MARKS.get();
    let now = Some(Instant::now());
    match phase {
        Phase::Resolve => m.resolve = now,
        Phase::Connect => m.connect = now,
        Phase::Tls => m.tls = now,
        Phase::FirstByte if m.first_byte.is_none() => m.first_byte = now,
        Phase::FirstByte => return,
    }
    MARKS.set(m);
}

/// Notes that this attempt opened a new connection (not a reused one).
pub(crate) fn opened() {
    let mut m = MARKS.get();
    m.opened = true;
    MARKS.set(m);
}

/// The timings of a call that began at `start`, ending now, with its last
/// attempt's marks; `sent` says whether that attempt handed request bytes
/// to a connection.
pub(crate) fn finish(start: Instant, attempts: u32, sent: bool) -> Timings {
    // No attempt on this thread yet: the marks are an earlier call's.
    let m = if attempts == 0 { NONE } else { MARKS.get() };
    let since =
        |t: Option<Instant>| t.map_or(Duration::ZERO, |t| t.saturating_duration_since(start));
    Timings {
        resolve: since(m.resolve),
        connect: since(m.connect),
        tls: since(m.tls),
        first_byte: since(m.first_byte),
        total: start.elapsed(),
        attempts,
        reused: sent && !m.opened && attempts > 0,
    }
}
