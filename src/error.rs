//! Every failure, with what it means for the patient: was the message sent?
//!
//! Hero has no idempotency key, so the first question a caller must answer
//! after a failure is "can I send this again?". [`Outcome`] answers it.

use crate::transport::timing::Timings;
use std::fmt;
use std::time::Duration;

use crate::message::reason::Reason;

/// Whether the message may have reached the patient.
///
/// | outcome | meaning | what to do |
/// |---|---|---|
/// | `NotSent` | nothing reached Hero (bad input, configuration, DNS, connect or TLS failure before a request byte was written) | fix the cause; sending again is safe |
/// | `Refused` | Hero (or something in front of it) answered 3xx (but 303 See Other) or 4xx, including 429: the message was not processed | fix the cause, or wait for `retry_after`; sending again is safe |
/// | `MayHaveBeenSent` | the request went out and the answer was lost or was a 5xx or 303 See Other | do **not** resend blindly: check in Hero first |
/// | `AcceptedIdUnknown` | Hero answered 2xx, so the message was accepted, but the reply could not be read | do **not** resend |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The message certainly did not leave this process.
    NotSent,
    /// Hero answered and did not process the message.
    Refused,
    /// The request was written; the message may have been sent.
    MayHaveBeenSent,
    /// Hero accepted the message (2xx), but its id could not be read.
    AcceptedIdUnknown,
}

impl Outcome {
    /// True when sending the same message again cannot duplicate it.
    pub fn safe_to_resend(self) -> bool {
        matches!(self, Outcome::NotSent | Outcome::Refused)
    }

    /// Short phrase used as the start of every error text.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NotSent => "not sent",
            Outcome::Refused => "refused",
            Outcome::MayHaveBeenSent => "may have been sent",
            Outcome::AcceptedIdUnknown => "accepted, message id unknown",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong, in finer grain than [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A request field breaks a rule; [`Error::field`] names it.
    InvalidInput,
    /// Client settings are unusable (base URL, credentials, CA file, proxy).
    Config,
    /// The host name could not be resolved.
    Dns,
    /// The TCP connection could not be opened.
    Connect,
    /// TLS failed (certificate not trusted, wrong host name, handshake).
    Tls,
    /// The proxy's name did not resolve, it could not be reached, or it
    /// refused the tunnel; the text names the proxy and gives its status.
    Proxy,
    /// A deadline passed.
    Timeout,
    /// The connection broke.
    ConnectionLost,
    /// The server answered 429 Too Many Requests, or (*not sent*) an
    /// earlier 429 holds the client's requests past this one's deadline.
    RateLimited,
    /// The server answered a redirect; redirects are never followed.
    Redirect,
    /// The server answered another non-2xx status.
    HttpStatus,
    /// The server's answer was not valid HTTP.
    Protocol,
    /// A 2xx answer whose body was unreadable or lacked `message_id`.
    UnreadableResponse,
    /// A bug in this library, caught at the C boundary.
    Internal,
    /// The send journal could not be opened, read or written (or another
    /// process holds it).
    Journal,
    /// The send journal shows an earlier send of this key that may have
    /// reached the patient: check in Hero, then resolve the key.
    NeedsReconciliation,
    /// The send was cancelled through its [`CancelHandle`](crate::CancelHandle):
    /// [`Error::outcome`] says whether its request had already left.
    Cancelled,
}

/// A failed send (or a send whose result could not be read).
///
/// The `Display` and `Debug` text never contains the API key, the message
/// text, contact details or the response body; the body is reachable only
/// through [`Error::response_body`].
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    outcome: Outcome,
    kind: ErrorKind,
    detail: String,
    field: Option<&'static str>,
    status: Option<u16>,
    retry_after: Option<Duration>,
    body: Option<Vec<u8>>,
    server_message: Option<String>,
    attempts: u32,
    timings: Timings,
}

impl Error {
    pub(crate) fn new(outcome: Outcome, kind: ErrorKind, detail: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                outcome,
                kind,
                detail: detail.into(),
                field: None,
                status: None,
                retry_after: None,
                body: None,
                server_message: None,
                attempts: 0,
                timings: Timings::default(),
            }),
        }
    }

    /// A request field broke a rule: names the field and the rule, never the value.
    pub(crate) fn invalid(field: &'static str, rule: &str) -> Self {
        let mut e = Error::new(
            Outcome::NotSent,
            ErrorKind::InvalidInput,
            format!("invalid {field}: {rule}"),
        );
        e.inner.field = Some(field);
        e
    }

    pub(crate) fn config(detail: impl Into<String>) -> Self {
        Error::new(Outcome::NotSent, ErrorKind::Config, detail)
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    pub(crate) fn with_body(mut self, body: Vec<u8>) -> Self {
        self.inner.body = Some(body);
        self
    }

    /// The server's reason from an error body, and the field it names.
    /// The field is kept for a refusal only: after a 5xx the message may
    /// have gone, and a field to "fix" would invite a resend.
    pub(crate) fn with_reason(mut self, reason: Reason) -> Self {
        self.inner.server_message = reason.message;
        if reason.field.is_some() && self.inner.outcome == Outcome::Refused {
            self.inner.field = reason.field;
        }
        self
    }

    pub(crate) fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.inner.retry_after = wait;
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// Whether the message may have gone: the first thing to check.
    pub fn outcome(&self) -> Outcome {
        self.inner.outcome
    }

    /// The finer-grained cause.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// For [`ErrorKind::InvalidInput`]: the JSON name of the offending field
    /// (or `api_key` / `practice_group_id` for credentials). For a server's
    /// refusal: the request field its error body names (only one of the 17
    /// request field names is ever reported).
    pub fn field(&self) -> Option<&'static str> {
        self.inner.field
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// For a 429: how long the server asked us to wait (capped), when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The raw response body (capped), when the server answered with one.
    ///
    /// It may contain patient data: log it only where patient data may go.
    pub fn response_body(&self) -> Option<&[u8]> {
        self.inner.body.as_deref()
    }

    /// The server's own short reason, read from a JSON error body (the
    /// first usable string under `message`, `detail`, `errors` or `error`),
    /// with control, line-separator and bidi characters removed and capped
    /// at 200 characters (then `…` is added). `None` when the body gave none.
    ///
    /// It may quote patient data, so it is never part of the `Display` or
    /// `Debug` text: show it where the operator, not a shared log, reads it.
    pub fn server_message(&self) -> Option<&str> {
        self.inner.server_message.as_deref()
    }

    /// Where the send's time went (all zero for a failure before any I/O,
    /// such as invalid input).
    pub fn timings(&self) -> &Timings {
        &self.inner.timings
    }

    pub(crate) fn with_timings(mut self, timings: Timings) -> Self {
        self.inner.timings = timings;
        self
    }

    /// How many HTTP attempts were made (0 when nothing was attempted).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.outcome, self.inner.detail)?;
        match self.inner.outcome {
            Outcome::MayHaveBeenSent => f.write_str(
                " (the message may have reached the patient: check in Hero before resending)",
            ),
            Outcome::AcceptedIdUnknown => {
                f.write_str(" (Hero accepted the message: do not resend)")
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Error")
            .field("outcome", &i.outcome)
            .field("kind", &i.kind)
            .field("detail", &i.detail)
            .field("field", &i.field)
            .field("status", &i.status)
            .field("retry_after", &i.retry_after)
            .field("body_len", &i.body.as_ref().map(Vec::len))
            .field(
                "server_message_len",
                &i.server_message.as_ref().map(String::len),
            )
            .field("attempts", &i.attempts)
            .finish()
    }
}

impl std::error::Error for Error {}
