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
///
/// It holds the clock readings themselves; the subtractions wait for a
/// reader, so a send nobody asks about pays for the readings only.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    start: Option<Instant>,
    /// Resolve, connect, TLS and first byte, in that order.
    marks: [Option<Instant>; 4],
    end: Option<Instant>,
    attempts: u32,
    reused: bool,
}

impl Timings {
    fn since(&self, t: Option<Instant>) -> Duration {
        match (self.start, t) {
            (Some(start), Some(t)) => t.saturating_duration_since(start),
            _ => Duration::ZERO,
        }
    }
    /// When the host name was resolved (an IP literal or a cached answer: at once).
    pub fn resolve(&self) -> Duration {
        self.since(self.marks[0])
    }
    /// When the TCP connection was open (to the proxy, through one).
    pub fn connect(&self) -> Duration {
        self.since(self.marks[1])
    }
    /// When the TLS handshake was done.
    pub fn tls(&self) -> Duration {
        self.since(self.marks[2])
    }
    /// When the first byte of the answer arrived.
    pub fn first_byte(&self) -> Duration {
        self.since(self.marks[3])
    }
    /// When the call returned.
    pub fn total(&self) -> Duration {
        self.since(self.end)
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

impl std::fmt::Debug for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timings")
            .field("resolve", &self.resolve())
            .field("connect", &self.connect())
            .field("tls", &self.tls())
            .field("first_byte", &self.first_byte())
            .field("total", &self.total())
            .field("attempts", &self.attempts)
            .field("reused", &self.reused)
            .finish()
    }
}

thread_local! {
    // Phase ends of the attempt in progress on this thread, one cell each
    // so a mark stores one value.
    static RESOLVE: Cell<Option<Instant>> = const { Cell::new(None) };
    static CONNECT: Cell<Option<Instant>> = const { Cell::new(None) };
    static TLS: Cell<Option<Instant>> = const { Cell::new(None) };
    static FIRST_BYTE: Cell<Option<Instant>> = const { Cell::new(None) };
    static OPENED: Cell<bool> = const { Cell::new(false) };
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
    RESOLVE.set(None);
    CONNECT.set(None);
    TLS.set(None);
    FIRST_BYTE.set(None);
    OPENED.set(false);
}

/// Marks the end of `phase` now (the first byte only once).
pub(crate) fn mark(phase: Phase) {
    let now = Some(Instant::now());
    match phase {
        Phase::Resolve => RESOLVE.set(now),
        Phase::Connect => CONNECT.set(now),
        Phase::Tls => TLS.set(now),
        Phase::FirstByte => {
            if FIRST_BYTE.get().is_none() {
                FIRST_BYTE.set(now);
            }
        }
    }
}

/// Notes that this attempt opened a new connection (not a reused one).
pub(crate) fn opened() {
    OPENED.set(true);
}

/// The timings of a call that began at `start`, ending now, with its last
/// attempt's marks; `sent` says whether that attempt handed request bytes
/// to a connection.
pub(crate) fn finish(start: Instant, attempts: u32, sent: bool) -> Timings {
    // No attempt on this thread yet: the marks are an earlier call's.
    let get = |c: &'static std::thread::LocalKey<Cell<Option<Instant>>>| {
        if attempts == 0 { None } else { c.get() }
    };
    Timings {
        start: Some(start),
        marks: [get(&RESOLVE), get(&CONNECT), get(&TLS), get(&FIRST_BYTE)],
        end: Some(Instant::now()),
        attempts,
        reused: sent && !OPENED.get() && attempts > 0,
    }
}
