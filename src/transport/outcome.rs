//! The rules that decide whether a message may have gone, and whether the
//! client may try again.
//!
//! Hero has no idempotency key, so these few pure functions are the heart of
//! the library: the send loop in `client.rs` gathers the facts (the HTTP
//! status, or what broke below HTTP and whether the kernel had accepted a
//! request byte by then) and asks here what they mean.
//!
//! The rules, in short:
//! - nothing of the request reached the kernel: *not sent*; a failed resolve
//!   or connect may be retried;
//! - a request byte was accepted by the kernel and no answer came back:
//!   *may have been sent*, never retried;
//! - 2xx: accepted (an unreadable reply is *accepted, id unknown*, never a
//!   plain failure);
//! - 3xx and 4xx (429 included): *refused*; only 429 may be retried;
//! - anything else (5xx): *may have been sent*, never retried;
//! - a retry starts only while attempts remain and, after its wait, at least
//!   [`retry_budget`] of the deadline is left — otherwise the failure is
//!   returned at once (a 429 as *refused*, with its `Retry-After`).
//!
//! Finding a patient ([`LOOKUP`]) sends no message and is safe to repeat:
//! no failure is *may have been sent*, and a lost reply, a timeout and a 5xx
//! are retried like a failed connect, under the same budget rule.

use std::time::Duration;

use super::retry;
use crate::error::ErrorKind;
pub use crate::error::Outcome;

/// One Hero operation's rules: what its HTTP statuses and its failures
/// below HTTP mean, and which of them may be retried. Each operation has
/// its own `const` set here, beside [`SEND`]; the client's attempt loop
/// asks the set it is given and holds no rule of its own.
pub(crate) struct Rules {
    /// What an HTTP status means (see [`send_status`]).
    pub(crate) status: fn(u16, Option<Duration>, Duration, u32) -> Verdict,
    /// What a failure without an HTTP answer means (see [`send_transport`]).
    pub(crate) transport: fn(Broke, bool, u32) -> Verdict,
    /// What a cancel through a handle means (see [`send_cancelled`]).
    pub(crate) cancelled: fn(bool) -> Verdict,
}

impl Rules {
    /// What an HTTP status means. `retry_after` is the server's parsed
    /// `Retry-After`; `max_wait` the longest wait the caller allows.
    pub(crate) fn for_status(
        &self,
        status: u16,
        retry_after: Option<Duration>,
        max_wait: Duration,
        attempt: u32,
    ) -> Verdict {
        (self.status)(status, retry_after, max_wait, attempt)
    }

    /// What a failure without an HTTP answer means; `written` is true once
    /// the kernel accepted a byte of the request.
    pub(crate) fn for_transport(&self, broke: Broke, written: bool, attempt: u32) -> Verdict {
        (self.transport)(broke, written, attempt)
    }

    /// What a cancel means; `written` as for [`for_transport`](Self::for_transport).
    pub(crate) fn for_cancel(&self, written: bool) -> Verdict {
        (self.cancelled)(written)
    }
}

/// `POST /v1/messages/send`: no idempotency key, so nothing that may have
/// reached Hero is ever retried; only a 429 and a failure before any
/// request byte left may be.
pub(crate) const SEND: Rules = Rules {
    status: send_status,
    transport: send_transport,
    cancelled: send_cancelled,
};

/// `POST /v1/patients/register_pds`: it sends no message, and Hero answers
/// a repeat with the same patient, so it is safe to repeat. No failure is
/// *may have been sent*; a lost reply, a timeout and a 5xx are retried like
/// a failed connect, a 429 as for a send.
pub(crate) const LOOKUP: Rules = Rules {
    status: lookup_status,
    transport: lookup_transport,
    cancelled: lookup_cancelled,
};

/// A send cancelled through its handle: *not sent* while no request byte
/// was accepted by the kernel (every wait, the resolve, connect, TLS and
/// proxy tunnel), *may have been sent* after; never retried either way.
fn send_cancelled(written: bool) -> Verdict {
    Verdict {
        outcome: if written {
            Outcome::MayHaveBeenSent
        } else {
            Outcome::NotSent
        },
        kind: ErrorKind::Cancelled,
        retry_in: None,
    }
}

/// A lookup cancelled through its handle: *not sent* whenever it stops,
/// as a lookup sends no message; never retried.
fn lookup_cancelled(_written: bool) -> Verdict {
    Verdict {
        outcome: Outcome::NotSent,
        kind: ErrorKind::Cancelled,
        retry_in: None,
    }
}

/// What a failed attempt means, and what it allows next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) outcome: Outcome,
    pub(crate) kind: ErrorKind,
    /// How long to wait before trying again, when trying again is allowed
    /// at all; [`retry_wait`] still checks attempts and the deadline.
    pub(crate) retry_in: Option<Duration>,
}

/// Backoff base after a failed resolve or connect.
const CONNECT_BACKOFF: Duration = Duration::from_millis(200);
/// Backoff base after a 429 without a usable `Retry-After`.
const RATE_LIMIT_BACKOFF: Duration = Duration::from_millis(500);

/// What an HTTP status means for a send. `retry_after` is the server's
/// parsed `Retry-After`; it is honoured only for a 429 and only up to `max_wait`.
fn send_status(
    status: u16,
    retry_after: Option<Duration>,
    max_wait: Duration,
    attempt: u32,
) -> Verdict {
    let (outcome, kind) = match status {
        200..=299 => (Outcome::AcceptedIdUnknown, ErrorKind::UnreadableResponse),
        429 => (Outcome::Refused, ErrorKind::RateLimited),
        // See Other answers a POST that was carried out: the message may
        // have gone, and the result is elsewhere. Other redirects say the
        // request was not taken here.
        303 => (Outcome::MayHaveBeenSent, ErrorKind::Redirect),
        300..=399 => (Outcome::Refused, ErrorKind::Redirect),
        400..=499 => (Outcome::Refused, ErrorKind::HttpStatus),
        // A 5xx (or a stray final 1xx) came after the request was read.
        _ => (Outcome::MayHaveBeenSent, ErrorKind::HttpStatus),
    };
    let retry_in = match (status, retry_after) {
        (429, None) => Some(retry::backoff(attempt, RATE_LIMIT_BACKOFF)),
        (429, Some(wait)) if wait <= max_wait => Some(wait),
        _ => None,
    };
    Verdict {
        outcome,
        kind,
        retry_in,
    }
}

/// What broke below HTTP, as far as the rules need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broke {
    /// The host name did not resolve (or resolving timed out).
    Resolve,
    /// The TCP connect failed.
    Connect,
    /// The connect timed out.
    ConnectTimeout,
    /// An I/O error; `invalid_data` is how rustls reports a failed handshake.
    Io { invalid_data: bool },
    /// TLS failed, as reported by the TLS layer itself.
    Tls,
    /// The proxy refused the tunnel (or failed in a way a retry will not mend).
    Proxy,
    /// The proxy's name did not resolve, it could not be reached, or it hung
    /// up before answering the tunnel request: perhaps passing, like a failed connect.
    ProxyDown,
    /// The request or the client's settings were unusable.
    Config,
    /// The deadline passed (other than during the connect).
    Timeout,
    /// The answer was not HTTP.
    Protocol,
    /// Anything else.
    Other,
}

/// What a failure without an HTTP answer means for a send. `written` is true once the
/// kernel has accepted at least one byte of the HTTP request: from then on
/// the server may have the message, so nothing is retried.
fn send_transport(broke: Broke, written: bool, attempt: u32) -> Verdict {
    let kind = match broke {
        Broke::Resolve => ErrorKind::Dns,
        Broke::Connect => ErrorKind::Connect,
        Broke::ConnectTimeout | Broke::Timeout => ErrorKind::Timeout,
        Broke::Io { invalid_data: true } if !written => ErrorKind::Tls,
        Broke::Io { .. } if !written => ErrorKind::Connect,
        Broke::Io { .. } | Broke::Other => ErrorKind::ConnectionLost,
        Broke::Tls => ErrorKind::Tls,
        Broke::Proxy | Broke::ProxyDown => ErrorKind::Proxy,
        Broke::Config => ErrorKind::Config,
        Broke::Protocol => ErrorKind::Protocol,
    };
    let retryable = !written
        && matches!(
            broke,
            Broke::Resolve
                | Broke::Connect
                | Broke::ConnectTimeout
                | Broke::ProxyDown
                | Broke::Io {
                    invalid_data: false
                }
        );
    Verdict {
        outcome: if written {
            Outcome::MayHaveBeenSent
        } else {
            Outcome::NotSent
        },
        kind,
        // Only ever retry what certainly did not go.
        retry_in: retryable.then(|| retry::backoff(attempt, CONNECT_BACKOFF)),
    }
}

/// What an HTTP status means for a lookup: as for a send, except that
/// nothing is ever sent to a patient.
fn lookup_status(
    status: u16,
    retry_after: Option<Duration>,
    max_wait: Duration,
    attempt: u32,
) -> Verdict {
    let mut v = send_status(status, retry_after, max_wait, attempt);
    match status {
        // An unreadable 200 is not retried: the same server would say the same.
        200..=299 => v.outcome = Outcome::NotSent,
        // A 303 too: a lookup is never *may have been sent*.
        300..=499 => v.outcome = Outcome::Refused,
        _ => {
            v.outcome = Outcome::NotSent;
            v.retry_in = Some(retry::backoff(attempt, CONNECT_BACKOFF));
        }
    }
    v
}

/// What a failure without an answer means for a lookup: whatever was
/// written, nothing was sent to a patient.
fn lookup_transport(broke: Broke, written: bool, attempt: u32) -> Verdict {
    let v = send_transport(broke, written, attempt);
    // A broken TLS set-up, a refusing proxy, bad settings or a non-HTTP
    // server will answer a retry the same way.
    let passing = match broke {
        Broke::Tls | Broke::Proxy | Broke::Config | Broke::Protocol => false,
        Broke::Io { invalid_data } => written || !invalid_data,
        _ => true,
    };
    Verdict {
        outcome: Outcome::NotSent,
        kind: v.kind,
        retry_in: passing.then(|| retry::backoff(attempt, CONNECT_BACKOFF)),
    }
}

/// The part of the deadline that must still be left after a retry's wait:
/// the connect timeout or a third of the deadline, whichever is smaller
/// (10 s with the defaults). A retry with less could be cut off after its
/// request left, turning a safe *not sent* or *refused* into *may have
/// been sent*.
pub(crate) fn retry_budget(connect_timeout: Duration, deadline: Duration) -> Duration {
    connect_timeout.min(deadline / 3)
}

/// Whether to try again after attempt number `attempt` failed, and after
/// which wait: only when the failure allows it (`retry_in`, from its
/// [`Verdict`]), attempts remain, and `remaining` (deadline time left now)
/// still holds `budget` after the wait.
pub(crate) fn retry_wait(
    retry_in: Option<Duration>,
    attempt: u32,
    max_attempts: u32,
    remaining: Duration,
    budget: Duration,
) -> Option<Duration> {
    let wait = retry_in?;
    let left_after = remaining.checked_sub(wait)?;
    (attempt < max_attempts && !left_after.is_zero() && left_after >= budget).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn statuses() {
        let table = [
            (
                200,
                Outcome::AcceptedIdUnknown,
                ErrorKind::UnreadableResponse,
            ),
            (
                201,
                Outcome::AcceptedIdUnknown,
                ErrorKind::UnreadableResponse,
            ),
            (301, Outcome::Refused, ErrorKind::Redirect),
            (303, Outcome::MayHaveBeenSent, ErrorKind::Redirect),
            (307, Outcome::Refused, ErrorKind::Redirect),
            (400, Outcome::Refused, ErrorKind::HttpStatus),
            (403, Outcome::Refused, ErrorKind::HttpStatus),
            (422, Outcome::Refused, ErrorKind::HttpStatus),
            (429, Outcome::Refused, ErrorKind::RateLimited),
            (500, Outcome::MayHaveBeenSent, ErrorKind::HttpStatus),
            (503, Outcome::MayHaveBeenSent, ErrorKind::HttpStatus),
            (199, Outcome::MayHaveBeenSent, ErrorKind::HttpStatus),
        ];
        for (status, outcome, kind) in table {
            let v = SEND.for_status(status, Some(S(1)), S(30), 1);
            assert_eq!((v.outcome, v.kind), (outcome, kind), "HTTP {status}");
            // Only a 429 may be retried, whatever Retry-After says elsewhere.
            assert_eq!(v.retry_in.is_some(), status == 429, "HTTP {status}");
        }
    }

    #[test]
    fn rate_limit_waits() {
        assert_eq!(
            SEND.for_status(429, Some(S(7)), S(30), 1).retry_in,
            Some(S(7))
        );
        assert_eq!(SEND.for_status(429, Some(S(31)), S(30), 1).retry_in, None);
        let backoff = SEND.for_status(429, None, S(30), 1).retry_in.unwrap();
        assert!(backoff <= Duration::from_millis(500), "{backoff:?}");
    }

    #[test]
    fn transport_failures() {
        use Broke::*;
        use ErrorKind as K;
        let table = [
            // (what broke, written, kind, retried)
            (Resolve, false, K::Dns, true),
            (Connect, false, K::Connect, true),
            (ConnectTimeout, false, K::Timeout, true),
            (ConnectTimeout, true, K::Timeout, false),
            (Io { invalid_data: true }, false, K::Tls, false),
            (Io { invalid_data: true }, true, K::ConnectionLost, false),
            (
                Io {
                    invalid_data: false,
                },
                false,
                K::Connect,
                true,
            ),
            (
                Io {
                    invalid_data: false,
                },
                true,
                K::ConnectionLost,
                false,
            ),
            (Tls, false, K::Tls, false),
            (Proxy, false, K::Proxy, false),
            (ProxyDown, false, K::Proxy, true),
            (ProxyDown, true, K::Proxy, false),
            (Config, false, K::Config, false),
            (Timeout, false, K::Timeout, false),
            (Timeout, true, K::Timeout, false),
            (Protocol, true, K::Protocol, false),
            (Other, true, K::ConnectionLost, false),
        ];
        for (broke, written, kind, retried) in table {
            let v = SEND.for_transport(broke, written, 1);
            let outcome = if written {
                Outcome::MayHaveBeenSent
            } else {
                Outcome::NotSent
            };
            assert_eq!((v.outcome, v.kind), (outcome, kind), "{broke:?} {written}");
            assert_eq!(v.retry_in.is_some(), retried, "{broke:?} {written}");
        }
    }

    #[test]
    fn lookup_statuses() {
        use ErrorKind as K;
        let table = [
            // (status, outcome, kind, retried)
            (200, Outcome::NotSent, K::UnreadableResponse, false),
            (302, Outcome::Refused, K::Redirect, false),
            (303, Outcome::Refused, K::Redirect, false),
            (400, Outcome::Refused, K::HttpStatus, false),
            (401, Outcome::Refused, K::HttpStatus, false),
            (403, Outcome::Refused, K::HttpStatus, false),
            (404, Outcome::Refused, K::HttpStatus, false),
            (429, Outcome::Refused, K::RateLimited, true),
            (500, Outcome::NotSent, K::HttpStatus, true),
            (503, Outcome::NotSent, K::HttpStatus, true),
        ];
        for (status, outcome, kind, retried) in table {
            let v = LOOKUP.for_status(status, None, S(30), 1);
            assert_eq!((v.outcome, v.kind), (outcome, kind), "HTTP {status}");
            assert_eq!(v.retry_in.is_some(), retried, "HTTP {status}");
        }
    }

    #[test]
    fn lookup_transport_failures_never_may_have_been_sent() {
        use Broke::*;
        let all = [
            Resolve,
            Connect,
            ConnectTimeout,
            Io { invalid_data: true },
            Io {
                invalid_data: false,
            },
            Tls,
            Proxy,
            ProxyDown,
            Config,
            Timeout,
            Protocol,
            Other,
        ];
        for broke in all {
            for written in [false, true] {
                let v = LOOKUP.for_transport(broke, written, 1);
                let send = SEND.for_transport(broke, written, 1);
                assert_eq!(v.outcome, Outcome::NotSent, "{broke:?} {written}");
                assert_eq!(v.kind, send.kind, "{broke:?} {written}");
                let retried = match broke {
                    Tls | Proxy | Config | Protocol => false,
                    Io { invalid_data: true } => written,
                    _ => true,
                };
                assert_eq!(v.retry_in.is_some(), retried, "{broke:?} {written}");
            }
        }
    }

    #[test]
    fn budget_is_connect_timeout_or_a_third_of_the_deadline() {
        assert_eq!(retry_budget(S(10), S(30)), S(10));
        assert_eq!(retry_budget(S(10), S(6)), S(2));
        assert_eq!(retry_budget(S(1), S(30)), S(1));
    }

    #[test]
    fn retries_need_attempts_and_budget() {
        let v = |wait| SEND.for_status(429, Some(wait), S(60), 1).retry_in;
        let budget = retry_budget(S(10), S(30));
        // A 429 asking for 29 s with 30 s left would leave 1 s: refused at once.
        assert_eq!(retry_wait(v(S(29)), 1, 3, S(30), budget), None);
        assert_eq!(retry_wait(v(S(20)), 1, 3, S(30), budget), Some(S(20)));
        assert_eq!(retry_wait(v(S(21)), 1, 3, S(30), budget), None);
        assert_eq!(retry_wait(v(S(1)), 3, 3, S(30), budget), None);
        assert_eq!(retry_wait(v(S(40)), 1, 3, S(30), budget), None);
        assert_eq!(retry_wait(None, 1, 3, S(30), budget), None);
        // With no budget asked, a wait must still end before the deadline.
        assert_eq!(retry_wait(v(S(30)), 1, 3, S(30), Duration::ZERO), None);
        assert_eq!(
            retry_wait(v(S(29)), 1, 3, S(30), Duration::ZERO),
            Some(S(29))
        );
    }
}
