//! The client: one connection pool, and the send call with its attempt
//! loop (its settings are in `builder.rs`, what a failure below HTTP was in
//! `failure.rs`).

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::http::Uri;
use ureq::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};

use crate::error::{Error, ErrorKind};
use crate::log::{LogLevel, Logger};
use crate::message::request::SendMessage;
use crate::message::response::MessageResponse;
use crate::message::validate;
use crate::text::Shown;
use crate::transport::gate::Gate;
use crate::transport::outcome::{self, Outcome};
use crate::transport::proxy::ProxyName;
use crate::transport::retry;
use crate::transport::timing;
use crate::transport::wire;

use super::failure::{Failed, transport_failure};
/// Path of the send, appended to the base URL.
pub(super) const SEND_PATH: &str = "/v1/messages/send";
/// Path of the patient lookup, appended to the base URL.
pub(super) const LOOKUP_PATH: &str = "/v1/patients/register_pds";
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const X_PRACTICE_GROUP_ID: HeaderName = HeaderName::from_static("x-practice-group-id");
/// A 2xx body larger than this is not a Send a Message reply.
pub const RESPONSE_BODY_CAP: usize = 1 << 20;
/// How long a kept-alive connection may sit idle and still be reused,
/// unless set with [`ClientBuilder::max_idle_age`](crate::ClientBuilder::max_idle_age): below the 5 s after
/// which Node.js and Apache close idle connections.
pub const DEFAULT_MAX_IDLE_AGE: Duration = Duration::from_secs(4);
/// How much of an error body is kept for [`Error::response_body`].
pub const ERROR_BODY_CAP: usize = 64 << 10;

/// Sends messages to Hero. Cheap to clone and to share between threads:
/// clones share one keep-alive connection pool.
///
/// ```no_run
/// use herohealth::{Client, MessageType, Outcome, SendMessage, Target};
///
/// let client = Client::builder(Target::Custom("http://127.0.0.1:8080".into()), "key", "group")
///     .build()?;
/// let msg = SendMessage::new("4242", MessageType::Sms, "Your results are ready.");
/// match client.send(&msg) {
///     Ok(reply) => println!("sent as {}", reply.message_id()),
///     Err(e) if e.outcome().safe_to_resend() => eprintln!("{e}"),
///     Err(e) => eprintln!("{e}: reconcile in Hero before sending again"),
/// }
/// # Ok::<(), herohealth::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) agent: Agent,
    pub(super) url: String,
    pub(super) uri: Uri,
    pub(super) lookup_url: String,
    pub(super) lookup_uri: Uri,
    pub(super) group_header: HeaderValue,
    /// The `x-api-key` value, on the key's own storage: each request holds
    /// a reference, not a copy, and the bytes are wiped when the last
    /// reference goes (see `secret::header_value`).
    pub(super) api_key: HeaderValue,
    pub(super) practice_group_id: String,
    pub(super) user_agent: String,
    pub(super) connect_timeout: Duration,
    pub(super) deadline: Duration,
    pub(super) max_attempts: u32,
    pub(super) max_retry_wait: Duration,
    /// Deadline time that must be left after a retry's wait.
    pub(super) retry_budget: Duration,
    pub(super) strict_checks: bool,
    pub(super) log: Logger,
    pub(super) opened: Arc<AtomicU64>,
    /// Shared by every thread: holds requests after a 429, and paces.
    pub(super) gate: Gate,
    /// The proxy every connection goes through, if any.
    pub(super) proxy: Option<ProxyName>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("url", &i.url)
            .field("api_key", &"<redacted>")
            .field("practice_group_id", &i.practice_group_id)
            .field("user_agent", &i.user_agent)
            .field("deadline", &i.deadline)
            .field("max_attempts", &i.max_attempts)
            .field("strict_checks", &i.strict_checks)
            .finish()
    }
}

/// Told about each HTTP attempt of a send, so a caller (the send journal)
/// can record it durably around the moment request bytes may leave.
pub(crate) trait AttemptHook<R = MessageResponse> {
    /// Called right before an attempt starts, after every wait. An error
    /// ends the send with that error: nothing was sent.
    fn before_attempt(&self, attempt: u32) -> Result<(), Error>;
    /// Called with how the attempt ended.
    fn after_attempt(&self, result: Result<&R, &Error>);
}

/// Where an operation posts.
#[derive(Clone, Copy)]
pub(crate) enum Endpoint {
    Send,
    Lookup,
}

/// One Hero operation over the shared transport and attempt loop: where it
/// posts, its rules (in `outcome`), and how its answers read.
pub(crate) trait Operation {
    /// What a 2xx answer gives.
    type Reply;
    const ENDPOINT: Endpoint;
    const RULES: outcome::Rules;
    /// Why a 2xx body is not a reply, for the error text.
    const UNREADABLE: &'static str;
    /// Reads a 2xx body; gives it back when it is not a reply.
    fn read(body: Vec<u8>) -> Result<Self::Reply, Vec<u8>>;
    /// The server's reason in an error body.
    fn reason(body: &[u8]) -> crate::message::reason::Reason;
    /// The error text for a status, where it differs from the send's.
    fn status_detail(status: u16) -> Option<String>;
    /// The log line after a success: never a patient identifier.
    fn log_success(log: &Logger, attempt: u32, reply: &Self::Reply, ms: u128);
    /// Puts where the call's time went on its reply.
    fn set_timings(reply: &mut Self::Reply, t: timing::Timings);
}

/// Sending a message.
pub(crate) struct SendOp;

impl Operation for SendOp {
    type Reply = MessageResponse;
    const ENDPOINT: Endpoint = Endpoint::Send;
    const RULES: outcome::Rules = outcome::SEND;
    const UNREADABLE: &'static str = "the reply is not JSON with a message_id";
    fn read(body: Vec<u8>) -> Result<MessageResponse, Vec<u8>> {
        MessageResponse::from_body(body)
    }
    fn reason(body: &[u8]) -> crate::message::reason::Reason {
        crate::message::reason::read(body)
    }
    fn status_detail(_: u16) -> Option<String> {
        None
    }
    fn set_timings(reply: &mut MessageResponse, t: timing::Timings) {
        reply.set_timings(t);
    }
    fn log_success(log: &Logger, attempt: u32, reply: &MessageResponse, ms: u128) {
        log.log(
            LogLevel::Info,
            format_args!(
                "attempt {attempt}: accepted as {} in {ms} ms",
                Shown(reply.message_id())
            ),
        );
    }
}

/// How far the agent's own timeout may overrun the caller's deadline before
/// a request gets a per-request timeout instead.
const DEADLINE_SLACK: Duration = Duration::from_millis(1);

impl Client {
    /// The full URL messages are posted to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The full URL patients are looked up at
    /// ([`find_patient`](Self::find_patient)).
    pub fn lookup_url(&self) -> &str {
        &self.inner.lookup_url
    }

    /// The `User-Agent` sent with every request.
    pub fn user_agent(&self) -> &str {
        &self.inner.user_agent
    }

    /// Whether the clinical and contact checks are on.
    pub fn strict_checks(&self) -> bool {
        self.inner.strict_checks
    }

    /// The client-wide rate-limit gate.
    #[cfg(test)]
    pub(crate) fn gate(&self) -> &Gate {
        &self.inner.gate
    }

    /// How many connections (TCP, and TLS where used) this client has opened;
    /// with keep-alive this stays far below the number of sends.
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Checks `message`, then sends it, retrying only while it certainly
    /// has not gone (failed connect, 429) and within the deadline, which
    /// starts when `send` is called. A body over [`REQUEST_BODY_CAP`](crate::REQUEST_BODY_CAP)
    /// is refused before any I/O.
    ///
    /// On error, [`Error::outcome`] says whether the message may have reached
    /// the patient. Never resend after [`Outcome::MayHaveBeenSent`] or
    /// [`Outcome::AcceptedIdUnknown`] without checking in Hero first.
    pub fn send(&self, message: &SendMessage) -> Result<MessageResponse, Error> {
        // The deadline covers checking and serialising too.
        let deadline = Instant::now() + self.inner.deadline;
        let body = self.body(message)?;
        // Started inside a cancellable send (from its log hook, say): not
        // cancelled by that send's handle.
        let _scope = crate::cancel::enter(None);
        self.send_body(&body, deadline, None)
    }

    /// As [`send`](Self::send), ending promptly once `cancel` is triggered
    /// (from any thread or a signal handler): then the error has kind
    /// [`ErrorKind::Cancelled`], and outcome [`Outcome::NotSent`] if no
    /// request byte had been accepted by the kernel (during the resolve,
    /// connect, TLS, a proxy tunnel, or a wait after a 429, a backoff or the
    /// rate gate), else [`Outcome::MayHaveBeenSent`]. Never retried; a
    /// handle already triggered sends nothing.
    pub fn send_cancellable(
        &self,
        message: &SendMessage,
        cancel: &crate::CancelHandle,
    ) -> Result<MessageResponse, Error> {
        let deadline = Instant::now() + self.inner.deadline;
        let body = self.body(message)?;
        let _scope = crate::cancel::enter(Some(cancel));
        self.send_body(&body, deadline, None)
    }

    /// Checks `message` and returns the exact request body it would send.
    pub(crate) fn body(&self, message: &SendMessage) -> Result<Vec<u8>, Error> {
        validate::message(message, self.inner.strict_checks)?;
        let mut body = Vec::with_capacity(128 + message.message_string.len());
        crate::message::json::write_message(message, &mut body);
        Ok(body)
    }

    /// When a send starting now must be done by.
    pub(crate) fn deadline_from_now(&self) -> Instant {
        Instant::now() + self.inner.deadline
    }

    /// Sends a checked body by `deadline`, telling `hook` about each HTTP
    /// attempt.
    pub(crate) fn send_body(
        &self,
        body: &[u8],
        deadline: Instant,
        hook: Option<&dyn AttemptHook>,
    ) -> Result<MessageResponse, Error> {
        self.run::<SendOp>(body, deadline, hook)
    }

    /// The attempt loop every operation shares: posts a checked body by
    /// `deadline`, retrying as `O`'s rules allow; the reply and the error
    /// carry where the time went.
    pub(crate) fn run<O: Operation>(
        &self,
        body: &[u8],
        deadline: Instant,
        hook: Option<&dyn AttemptHook<O::Reply>>,
    ) -> Result<O::Reply, Error> {
        // The call's start, without another clock read.
        let start = deadline
            .checked_sub(self.inner.deadline)
            .unwrap_or(deadline);
        let mut attempts = 0;
        let result = self.attempts::<O>(body, deadline, hook, &mut attempts);
        let t = timing::finish(start, attempts, wire::request_handed());
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        if self.inner.log.is_set() {
            self.inner.log.log(
            LogLevel::Debug,
            format_args!(
                "timings: resolve={:.1} connect={:.1} tls={:.1} first_byte={:.1} total={:.1} ms, attempts={}, reused={}",
                ms(t.resolve()),
                ms(t.connect()),
                ms(t.tls()),
                ms(t.first_byte()),
                ms(t.total()),
                t.attempts(),
                t.connection_reused()
            ),
            );
        }
        match result {
            Ok(mut reply) => {
                O::set_timings(&mut reply, t);
                Ok(reply)
            }
            Err(e) => Err(e.with_timings(t)),
        }
    }

    /// The attempt loop; `attempts` counts the HTTP attempts started.
    fn attempts<O: Operation>(
        &self,
        body: &[u8],
        deadline: Instant,
        hook: Option<&dyn AttemptHook<O::Reply>>,
        attempts: &mut u32,
    ) -> Result<O::Reply, Error> {
        let i = &*self.inner;
        let (url, _) = self.endpoint(O::ENDPOINT);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // After a 429 on any thread, and with pacing: wait our turn, or
            // give up at once when it comes after the deadline.
            i.gate
                .pass(deadline, i.retry_budget)
                .map_err(|e| e.with_attempts(attempt - 1))?;
            // Triggered before or during the waits: nothing has gone.
            if crate::cancel::triggered() {
                return Err(crate::cancel::before_sending().with_attempts(attempt - 1));
            }
            let began = Instant::now();
            let remaining = deadline.saturating_duration_since(began);
            i.log.log(
                LogLevel::Info,
                format_args!("attempt {attempt}: POST {url}"),
            );
            // Every wait is over: the request is about to start, so the hook
            // learns of it now (never during a wait, when nothing can have gone).
            if let Some(hook) = hook
                && !remaining.is_zero()
            {
                hook.before_attempt(attempt)
                    .map_err(|e| e.with_attempts(attempt - 1))?;
            }
            // The time left is taken again inside: the log line and the hook
            // above may have taken some of it.
            *attempts = attempt;
            let result = self.attempt::<O>(body, deadline, attempt);
            if let Some(hook) = hook
                && !remaining.is_zero()
            {
                match &result {
                    Ok(reply) => hook.after_attempt(Ok(reply)),
                    Err(f) => hook.after_attempt(Err(&f.error)),
                }
            }
            let failed = match result {
                Ok(reply) => {
                    // No clock read for a log line nobody takes.
                    if i.log.is_set() {
                        O::log_success(&i.log, attempt, &reply, began.elapsed().as_millis());
                    }
                    return Ok(reply);
                }
                Err(f) => f,
            };
            let error = failed.error.with_attempts(attempt);
            if error.status() == Some(429) {
                // Every send on this client holds off, not only this one.
                let wait = error.retry_after().or(failed.retry_in);
                i.gate.close_for(wait.unwrap_or_default());
            }
            let elapsed = began.elapsed().as_millis();
            let retry = outcome::retry_wait(
                failed.retry_in,
                attempt,
                i.max_attempts,
                deadline.saturating_duration_since(Instant::now()),
                i.retry_budget,
            );
            match retry {
                Some(wait) => {
                    i.log.log(
                        LogLevel::Warn,
                        format_args!(
                            "attempt {attempt} failed after {elapsed} ms ({error}); retrying in {} ms",
                            wait.as_millis()
                        ),
                    );
                    if crate::cancel::sleep(wait) {
                        return Err(crate::cancel::before_sending().with_attempts(attempt));
                    }
                }
                None => {
                    i.log.log(
                        LogLevel::Error,
                        format_args!("attempt {attempt} failed after {elapsed} ms: {error}"),
                    );
                    return Err(error);
                }
            }
        }
    }

    fn endpoint(&self, e: Endpoint) -> (&str, &Uri) {
        let i = &*self.inner;
        match e {
            Endpoint::Send => (&i.url, &i.uri),
            Endpoint::Lookup => (&i.lookup_url, &i.lookup_uri),
        }
    }

    fn attempt<O: Operation>(
        &self,
        body: &[u8],
        deadline: Instant,
        attempt: u32,
    ) -> Result<O::Reply, Failed> {
        let i = &*self.inner;
        let (_, uri) = self.endpoint(O::ENDPOINT);
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Failed {
                error: Error::new(
                    Outcome::NotSent,
                    ErrorKind::Timeout,
                    "deadline passed before the request was sent",
                ),
                retry_in: None,
            });
        }
        wire::reset();
        crate::transport::proxy::reset_leg();
        let request = i
            .agent
            .post(uri.clone())
            // A reference to the key's storage, not a copy.
            .header(X_API_KEY, i.api_key.clone())
            .header(X_PRACTICE_GROUP_ID, i.group_header.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The agent's own timeout is the full deadline, counted from when
        // ureq starts; while that is within a millisecond of the time left
        // (a first attempt with nothing before it), skip per-request config.
        let result = if i.deadline.saturating_sub(remaining) < DEADLINE_SLACK {
            request.send(body)
        } else {
            request
                .config()
                .timeout_global(Some(remaining))
                .timeout_connect(Some(i.connect_timeout.min(remaining)))
                .build()
                .send(body)
        };
        let written = wire::request_written();
        let status = wire::answer_status();
        let outcome = match result {
            // Hero's status line arrived, then the answer broke (a cancel
            // included): the status decides, as for a whole answer. A 2xx
            // is accepted, a 4xx refused.
            Err(_) if let Some(status) = status => Err(self.broken_head::<O>(status, attempt)),
            // Otherwise a cancelled attempt is reported as such.
            Err(_) if crate::cancel::triggered() => Err(Failed {
                error: crate::cancel::error(&O::RULES, written),
                retry_in: None,
            }),
            Ok(response) => {
                wire::note_answer(response.headers());
                self.answer::<O>(response, attempt)
            }
            Err(e) => Err(transport_failure(
                &O::RULES,
                e,
                written,
                uri.host().unwrap_or_default(),
                i.proxy.as_ref(),
                attempt,
            )),
        };
        // Any answer body is read and the connection is pooled (or gone):
        // a trigger during a later wait must not touch its socket, which
        // another send may be using by then.
        crate::cancel::unregister();
        outcome
    }

    /// An answer whose status line arrived but whose head was malformed or
    /// cut off: what the status means (no `Retry-After` can be trusted).
    fn broken_head<O: Operation>(&self, status: u16, attempt: u32) -> Failed {
        let verdict = O::RULES.for_status(status, None, self.inner.max_retry_wait, attempt);
        let error = Error::new(
            verdict.outcome,
            verdict.kind,
            format!("HTTP {status}, but the rest of the answer's head was malformed or cut off"),
        );
        Failed {
            error: error.with_status(status),
            retry_in: verdict.retry_in,
        }
    }

    /// Turns an HTTP answer into a reply or an error with its outcome.
    fn answer<O: Operation>(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
        attempt: u32,
    ) -> Result<O::Reply, Failed> {
        let i = &*self.inner;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let mut buf = Vec::with_capacity(512);
            let read = response
                .body_mut()
                .as_reader()
                .take(RESPONSE_BODY_CAP as u64 + 1)
                .read_to_end(&mut buf);
            let detail = match read {
                Err(_) => "the reply broke off before its end",
                Ok(_) if buf.len() > RESPONSE_BODY_CAP => "the reply is larger than 1 MiB",
                Ok(_) => match O::read(buf) {
                    Ok(reply) => return Ok(reply),
                    Err(body) => {
                        buf = body;
                        O::UNREADABLE
                    }
                },
            };
            buf.truncate(ERROR_BODY_CAP);
            let verdict = O::RULES.for_status(status, None, i.max_retry_wait, attempt);
            let error = Error::new(
                verdict.outcome,
                verdict.kind,
                format!("HTTP {status}, but {detail}"),
            );
            return Err(Failed {
                error: error.with_status(status).with_body(buf),
                retry_in: verdict.retry_in,
            });
        }
        // Only a refusal or a server error can ask us to wait.
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry::parse_retry_after);
        let mut buf = Vec::new();
        // A broken error body changes nothing about the outcome: keep what arrived.
        let _ = response
            .body_mut()
            .as_reader()
            .take(ERROR_BODY_CAP as u64)
            .read_to_end(&mut buf);
        let verdict = O::RULES.for_status(status, retry_after, i.max_retry_wait, attempt);
        let detail = O::status_detail(status).unwrap_or_else(|| match status {
            429 => "HTTP 429 Too Many Requests: rate limited by Hero".to_owned(),
            303 => "HTTP 303 See Other, not followed: the request may have been carried out".to_owned(),
            300..=399 => format!("HTTP {status} redirect, not followed: check the base URL"),
            403 => "HTTP 403 Unauthorised: check the API key, practice group id and the key's permissions".to_owned(),
            400..=499 => format!("HTTP {status}: Hero did not accept the request"),
            _ => format!("HTTP {status} from the server"),
        });
        let error = Error::new(verdict.outcome, verdict.kind, detail)
            .with_status(status)
            .with_reason(O::reason(&buf))
            .with_body(buf)
            .with_retry_after(retry_after);
        Err(Failed {
            error,
            retry_in: verdict.retry_in,
        })
    }
}
