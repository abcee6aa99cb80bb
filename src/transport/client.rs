//! The client: settings, one connection pool, and the send call.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, RustlsConnector};
use ureq::{Agent, ProxyProtocol};

use crate::error::{Error, ErrorKind};
use crate::log::{Hook, LogLevel, Logger};
use crate::message::request::SendMessage;
use crate::message::response::MessageResponse;
use crate::message::validate;
use crate::text::{Shown, ShownUpTo, TLS_TEXT_CHARS};
use crate::transport::gate::Gate;
use crate::transport::outcome::{self, Broke, Outcome};
use crate::transport::proxy::{NoteLeg, Point, ProxyName};
use crate::transport::retry;
use crate::transport::secret::Secret;
use crate::transport::target::Target;
use crate::transport::wire;

/// Path of the one operation, appended to the base URL.
const SEND_PATH: &str = "/v1/messages/send";
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const X_PRACTICE_GROUP_ID: HeaderName = HeaderName::from_static("x-practice-group-id");
/// A 2xx body larger than this is not a Send a Message reply.
pub const RESPONSE_BODY_CAP: usize = 1 << 20;
/// How long a kept-alive connection may sit idle and still be reused,
/// unless set with [`ClientBuilder::max_idle_age`]: below the 5 s after
/// which Node.js and Apache close idle connections.
pub const DEFAULT_MAX_IDLE_AGE: Duration = Duration::from_secs(4);
/// How much of an error body is kept for [`Error::response_body`].
pub const ERROR_BODY_CAP: usize = 64 << 10;

/// Settings for a [`Client`]. Start from [`Client::builder`] or
/// [`ClientBuilder::from_env`].
///
/// ```
/// use std::time::Duration;
/// use herohealth::{Client, Target};
///
/// let client = Client::builder(Target::Staging, "my-api-key", "my-practice-group")
///     .deadline(Duration::from_secs(20))
///     .max_attempts(2)
///     .build()
///     .unwrap();
/// assert_eq!(client.url(), "https://api.staging.htech.app/v1/messages/send");
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    target: Target,
    api_key: Secret,
    practice_group_id: String,
    connect_timeout: Duration,
    deadline: Duration,
    max_attempts: u32,
    max_retry_wait: Duration,
    max_idle_age: Duration,
    strict_checks: bool,
    user_agent_suffix: Option<String>,
    log_hook: Option<Hook>,
    ca_file: Option<PathBuf>,
    proxy: Option<String>,
    max_sends_per_second: Option<f64>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("target", &self.target)
            .field("api_key", &self.api_key)
            .field("practice_group_id", &self.practice_group_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("deadline", &self.deadline)
            .field("max_attempts", &self.max_attempts)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("max_idle_age", &self.max_idle_age)
            .field("strict_checks", &self.strict_checks)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("log_hook", &self.log_hook.is_some())
            .field("ca_file", &self.ca_file)
            .field("proxy", &self.proxy.is_some())
            .field("max_sends_per_second", &self.max_sends_per_second)
            .finish()
    }
}

impl ClientBuilder {
    fn new(target: Target, api_key: &str, practice_group_id: &str) -> Self {
        ClientBuilder {
            target,
            api_key: Secret::new(api_key),
            practice_group_id: practice_group_id.to_owned(),
            connect_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_attempts: 3,
            max_retry_wait: Duration::from_secs(30),
            max_idle_age: DEFAULT_MAX_IDLE_AGE,
            strict_checks: true,
            user_agent_suffix: None,
            log_hook: None,
            ca_file: None,
            proxy: None,
            max_sends_per_second: None,
        }
    }

    /// Settings from the process environment: `HERO_API_KEY`,
    /// `HERO_PRACTICE_GROUP_ID`, and exactly one of `HERO_BASE_URL` or
    /// `HERO_ENVIRONMENT` (`production` or `staging`). There is no default
    /// target: a test box must not message real patients by accident.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(|name| std::env::var_os(name).map(|v| v.into_string().map_err(|_| ())))
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get`
    /// (`Some(Err(()))` for a value that is not UTF-8).
    pub fn from_vars(get: impl Fn(&str) -> Option<Result<String, ()>>) -> Result<Self, Error> {
        let var = |name: &str| match get(name) {
            None => Ok(None),
            Some(Ok(v)) if v.is_empty() => Ok(None),
            Some(Ok(v)) => Ok(Some(v)),
            Some(Err(())) => Err(Error::config(format!("{name} is not valid UTF-8"))),
        };
        let required =
            |name: &str| var(name)?.ok_or_else(|| Error::config(format!("{name} is not set")));
        let key = required("HERO_API_KEY")?;
        let group = required("HERO_PRACTICE_GROUP_ID")?;
        let target = match (var("HERO_BASE_URL")?, var("HERO_ENVIRONMENT")?) {
            (Some(url), None) => Target::Custom(url),
            (None, Some(env)) => Target::from_environment_name(&env).ok_or_else(|| {
                Error::config("HERO_ENVIRONMENT must be \"production\" or \"staging\"")
            })?,
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "set only one of HERO_BASE_URL and HERO_ENVIRONMENT",
                ));
            }
            (None, None) => {
                return Err(Error::config(
                    "set HERO_BASE_URL or HERO_ENVIRONMENT (production|staging): there is no default",
                ));
            }
        };
        let mut builder = ClientBuilder::new(target, &key, &group);
        builder.ca_file = var("HERO_CA_FILE")?.map(PathBuf::from);
        Ok(builder)
    }

    /// Time allowed to open a connection, TLS included (default 10 s).
    pub fn connect_timeout(mut self, value: Duration) -> Self {
        self.connect_timeout = value;
        self
    }

    /// Time allowed for the whole send, retries and waits included (default 30 s).
    pub fn deadline(mut self, value: Duration) -> Self {
        self.deadline = value;
        self
    }

    /// Most HTTP attempts per send (default 3; 1 disables retries). Retries
    /// happen only when the message certainly did not go (a failed resolve
    /// or connect, or a 429), and only when, after the wait, the connect
    /// timeout or a third of the deadline (whichever is smaller) is still
    /// left: otherwise the failure is returned at once, a 429 as
    /// [`Outcome::Refused`] with its [`Error::retry_after`].
    pub fn max_attempts(mut self, value: u32) -> Self {
        self.max_attempts = value.max(1);
        self
    }

    /// Longest `Retry-After` the client will wait out by itself (default 30 s);
    /// a longer one is returned to the caller as a 429 error. A wait that
    /// would leave too little of the deadline is returned too (see
    /// [`max_attempts`](Self::max_attempts)).
    pub fn max_retry_wait(mut self, value: Duration) -> Self {
        self.max_retry_wait = value;
        self
    }

    /// Longest time a kept-alive connection may sit idle and still be
    /// reused (default [`DEFAULT_MAX_IDLE_AGE`], 4 s). Servers close idle
    /// connections after their own timeout (5 s for Node.js and Apache); a
    /// request sent on a connection at the moment the server closes it can
    /// only be reported as "may have been sent", so keep this below the
    /// server's timeout. A server's `Keep-Alive: timeout=N` is honoured too:
    /// a connection idle for N − 1 s or more is never reused. Zero turns
    /// reuse off.
    pub fn max_idle_age(mut self, value: Duration) -> Self {
        self.max_idle_age = value;
        self
    }

    /// Clinical and contact checks before sending (default on): SNOMED CT
    /// ids with their Verhoeff check digit, phone numbers for sms, email
    /// addresses for email, and consistent record-writing flags.
    pub fn strict_checks(mut self, value: bool) -> Self {
        self.strict_checks = value;
        self
    }

    /// Text appended to the `User-Agent` (e.g. your product and version).
    pub fn user_agent_suffix(mut self, value: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(value.into());
        self
    }

    /// Receives log lines: attempts, retries, statuses, timings. Lines never
    /// contain the key, the message, the patient id or contact details.
    pub fn log_hook(mut self, hook: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> Self {
        self.log_hook = Some(Arc::new(hook));
        self
    }

    /// Removes the log hook.
    pub(crate) fn without_log_hook(mut self) -> Self {
        self.log_hook = None;
        self
    }

    /// Trust the CA certificates in this PEM file instead of the operating
    /// system's trust store (also `HERO_CA_FILE`). Without it, servers are
    /// verified against the OS store, so a practice's private CA installed
    /// there is trusted. There is deliberately no way to skip verification.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Send through this HTTP proxy (`http://host:port`), overriding the
    /// environment. Without it the environment is read as curl reads it
    /// (for an https target `https_proxy`, `HTTPS_PROXY`, `all_proxy`,
    /// `ALL_PROXY`, the first set; `no_proxy` or `NO_PROXY` exempting hosts),
    /// except for loopback targets. A variable that is set but unusable makes
    /// [`build`](Self::build) fail with a configuration error naming it; so
    /// does an unusable `url`, which is read by the same rules (without a
    /// port, 1080 for http:// and 443 for https://, as curl).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Paces request starts on this client, all threads together, to at
    /// most `per_second` (off by default; `None` turns it off). A send whose
    /// turn would come after its deadline is not sent, at once.
    pub fn max_sends_per_second(mut self, per_second: Option<f64>) -> Self {
        self.max_sends_per_second = per_second;
        self
    }

    /// Checks every setting and creates the client (and its connection pool).
    pub fn build(self) -> Result<Client, Error> {
        validate::credential("api_key", self.api_key.expose())?;
        if self.deadline.is_zero() || self.connect_timeout.is_zero() {
            // Every send would fail at once: surely a unit mix-up in the caller.
            return Err(Error::config(
                "deadline and connect timeout must be greater than zero",
            ));
        }
        let day = Duration::from_secs(24 * 60 * 60);
        if self.deadline > day || self.connect_timeout > day {
            // Also keeps deadline arithmetic far from overflow.
            return Err(Error::config(
                "deadline and connect timeout must be at most 24 hours",
            ));
        }
        validate::credential("practice_group_id", &self.practice_group_id)?;
        if let Some(rate) = self.max_sends_per_second
            && !(rate.is_finite() && (0.001..=1_000_000.0).contains(&rate))
        {
            return Err(Error::config(
                "max sends per second must be between 0.001 and 1000000",
            ));
        }
        let base = self.target.base_url()?;
        let mut user_agent = format!("herohealth/{}", env!("CARGO_PKG_VERSION"));
        if let Some(suffix) = &self.user_agent_suffix {
            validate::credential("user_agent_suffix", suffix)?;
            user_agent.push(' ');
            user_agent.push_str(suffix);
        }
        let log = Logger::new(self.log_hook.clone());
        let opened = Arc::new(AtomicU64::new(0));
        let roots = match &self.ca_file {
            None => RootCerts::PlatformVerifier,
            Some(path) => read_ca_file(path)?,
        };
        let (proxy, proxy_var) = match &self.proxy {
            // Read as strictly as a variable: ureq alone would take "h:99999" as h:80.
            Some(url) => (
                Some(crate::transport::proxy::parse(url).map_err(|rule| {
                    Error::config(format!("the proxy URL is not a usable proxy: {rule}"))
                })?),
                None,
            ),
            // A local mock or test server is never reached through a proxy from the environment.
            None if self.target.is_loopback() => (None, None),
            None => match crate::transport::proxy::from_env(
                &crate::transport::proxy::process_env,
                &base,
            )? {
                Some((p, var)) => (Some(p), Some(var)),
                None => (None, None),
            },
        };
        if let Some(p) = &proxy
            && !matches!(p.protocol(), ProxyProtocol::Http | ProxyProtocol::Https)
        {
            // No SOCKS support is built in: ureq would silently connect direct.
            return Err(Error::config(
                "only http:// and https:// (CONNECT) proxies are supported, not SOCKS",
            ));
        }
        let has_proxy = proxy.is_some();
        let proxy_name = proxy.as_ref().map(|p| ProxyName::of(p, proxy_var));
        if let Some(p) = &proxy_name {
            log.log(LogLevel::Info, format_args!("sending through {p}"));
        }
        let config = Config::builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(user_agent.as_str())
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .proxy(proxy)
            // ureq keeps 3 idle connections per host by default: too few for a
            // client shared by many threads, which would reconnect (and redo TLS).
            .max_idle_connections(64)
            .max_idle_connections_per_host(64)
            .max_idle_age(self.max_idle_age)
            .timeout_connect(Some(self.connect_timeout))
            .timeout_global(Some(self.deadline))
            .build();
        let mark = wire::MarkWrites {
            opened: opened.clone(),
            log: log.clone(),
            has_proxy,
        };
        // ureq's default chain, with our TCP transport: it decides when
        // request bytes were really written, and makes fewer system calls.
        // NoteLeg records how far a proxied connection got, to blame the right party.
        let connector =
            ().chain(NoteLeg(Point::Start))
                .chain(ConnectProxyConnector::default())
                .chain(NoteLeg(Point::AfterConnect))
                .chain(crate::transport::tcp::FastTcpConnector)
                .chain(RustlsConnector::default())
                .chain(NoteLeg(Point::End))
                .chain(mark);
        let url = format!("{base}{SEND_PATH}");
        let agent = Agent::with_parts(config, connector, wire::Resolve::default());
        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                uri: url
                    .parse()
                    .map_err(|_| Error::config("base URL is not a valid URL"))?,
                group_header: HeaderValue::from_str(&self.practice_group_id)
                    .map_err(|_| Error::invalid("practice_group_id", "must be printable ASCII"))?,
                url,
                api_key: crate::transport::secret::header_value(self.api_key)
                    .map_err(|_| Error::invalid("api_key", "must be printable ASCII"))?,
                practice_group_id: self.practice_group_id,
                user_agent,
                connect_timeout: self.connect_timeout,
                deadline: self.deadline,
                max_attempts: self.max_attempts,
                max_retry_wait: self.max_retry_wait,
                retry_budget: outcome::retry_budget(self.connect_timeout, self.deadline),
                strict_checks: self.strict_checks,
                log,
                opened,
                gate: Gate::new(self.max_sends_per_second),
                proxy: proxy_name,
            }),
        })
    }
}

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
    inner: Arc<Inner>,
}

struct Inner {
    agent: Agent,
    url: String,
    uri: Uri,
    group_header: HeaderValue,
    /// The `x-api-key` value, on the key's own storage: each request holds
    /// a reference, not a copy, and the bytes are wiped when the last
    /// reference goes (see `secret::header_value`).
    api_key: HeaderValue,
    practice_group_id: String,
    user_agent: String,
    connect_timeout: Duration,
    deadline: Duration,
    max_attempts: u32,
    max_retry_wait: Duration,
    /// Deadline time that must be left after a retry's wait.
    retry_budget: Duration,
    strict_checks: bool,
    log: Logger,
    opened: Arc<AtomicU64>,
    /// Shared by every thread: holds requests after a 429, and paces.
    gate: Gate,
    /// The proxy every connection goes through, if any.
    proxy: Option<ProxyName>,
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
pub(crate) trait AttemptHook {
    /// Called right before an attempt starts, after every wait. An error
    /// ends the send with that error: nothing was sent.
    fn before_attempt(&self, attempt: u32) -> Result<(), Error>;
    /// Called with how the attempt ended.
    fn after_attempt(&self, result: Result<&MessageResponse, &Error>);
}

/// How far the agent's own timeout may overrun the caller's deadline before
/// a request gets a per-request timeout instead.
const DEADLINE_SLACK: Duration = Duration::from_millis(1);

/// How one attempt ended, when it did not succeed.
struct Failed {
    error: Error,
    /// Set when the message certainly did not go and trying again may help.
    retry_in: Option<Duration>,
}

impl Client {
    /// Settings for a client that sends to `target` with these credentials.
    pub fn builder(target: Target, api_key: &str, practice_group_id: &str) -> ClientBuilder {
        ClientBuilder::new(target, api_key, practice_group_id)
    }

    /// The full URL messages are posted to.
    pub fn url(&self) -> &str {
        &self.inner.url
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
        let i = &*self.inner;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // After a 429 on any thread, and with pacing: wait our turn, or
            // give up at once when it comes after the deadline.
            i.gate
                .pass(deadline, i.retry_budget)
                .map_err(|e| e.with_attempts(attempt - 1))?;
            let began = Instant::now();
            let remaining = deadline.saturating_duration_since(began);
            i.log.log(
                LogLevel::Info,
                format_args!("attempt {attempt}: POST {}", i.url),
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
            let result = self.attempt(body, deadline, attempt);
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
                    i.log.log(
                        LogLevel::Info,
                        format_args!(
                            "attempt {attempt}: accepted as {} in {} ms",
                            Shown(reply.message_id()),
                            began.elapsed().as_millis()
                        ),
                    );
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
                    std::thread::sleep(wait);
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

    fn attempt(
        &self,
        body: &[u8],
        deadline: Instant,
        attempt: u32,
    ) -> Result<MessageResponse, Failed> {
        let i = &*self.inner;
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
            .post(i.uri.clone())
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
        match result {
            Ok(response) => {
                wire::note_answer(response.headers());
                self.answer(response, attempt)
            }
            Err(e) => Err(transport_failure(
                e,
                written,
                i.uri.host().unwrap_or_default(),
                i.proxy.as_ref(),
                attempt,
            )),
        }
    }

    /// Turns an HTTP answer into a reply or an error with its outcome.
    fn answer(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
        attempt: u32,
    ) -> Result<MessageResponse, Failed> {
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
                Ok(_) => match MessageResponse::from_body(buf) {
                    Ok(reply) => return Ok(reply),
                    Err(body) => {
                        buf = body;
                        "the reply is not JSON with a message_id"
                    }
                },
            };
            buf.truncate(ERROR_BODY_CAP);
            let verdict = outcome::SEND.for_status(status, None, i.max_retry_wait, attempt);
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
        let verdict = outcome::SEND.for_status(status, retry_after, i.max_retry_wait, attempt);
        let detail = match status {
            429 => "HTTP 429 Too Many Requests: rate limited by Hero".to_owned(),
            300..=399 => format!("HTTP {status} redirect, not followed: check the base URL"),
            403 => "HTTP 403 Unauthorised: check the API key, practice group id and the key's permissions".to_owned(),
            400..=499 => format!("HTTP {status}: Hero did not accept the request"),
            _ => format!("HTTP {status} from the server"),
        };
        let error = Error::new(verdict.outcome, verdict.kind, detail)
            .with_status(status)
            .with_reason(crate::message::reason::read(&buf))
            .with_body(buf)
            .with_retry_after(retry_after);
        Err(Failed {
            error,
            retry_in: verdict.retry_in,
        })
    }
}

/// Reads a PEM bundle; a missing, unreadable or certificate-less file is a
/// configuration error now rather than a TLS failure at the first send.
fn read_ca_file(path: &Path) -> Result<RootCerts, Error> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::config(format!(
            "CA file {} could not be read: {}",
            path.display(),
            e.kind()
        ))
    })?;
    let mut certs = Vec::new();
    for item in parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(_) => {
                return Err(Error::config(format!(
                    "CA file {} is not valid PEM",
                    path.display()
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::config(format!(
            "CA file {} holds no certificate",
            path.display()
        )));
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

/// The detail of a failed TLS handshake: a raw Windows certificate error
/// becomes a sentence of ours; any other text is the server's to influence,
/// so it is shown escaped and capped.
fn tls_failed(host: &str, error: &str, hint: &str) -> String {
    match crate::transport::cert_errors::readable(error) {
        Cow::Owned(sentence) => format!("TLS with {host} failed: {sentence}{hint}"),
        Cow::Borrowed(raw) => format!(
            "TLS with {host} failed: {}{hint}",
            ShownUpTo(raw, TLS_TEXT_CHARS)
        ),
    }
}

/// Classifies a failure that produced no HTTP answer; what it means is
/// decided by [`outcome::SEND`].
fn transport_failure(
    e: ureq::Error,
    written: bool,
    host: &str,
    proxy: Option<&ProxyName>,
    attempt: u32,
) -> Failed {
    use ureq::Error as U;
    use ureq::Timeout as T;
    // A failure on the way to, or at, the proxy names the proxy, not Hero.
    if !written
        && let Some((broke, detail)) =
            proxy.and_then(|p| crate::transport::proxy::blame(&e, p, host))
    {
        let verdict = outcome::SEND.for_transport(broke, written, attempt);
        return Failed {
            error: Error::new(verdict.outcome, verdict.kind, detail),
            retry_in: verdict.retry_in,
        };
    }
    let broke = match &e {
        U::HostNotFound | U::Timeout(T::Resolve) => Broke::Resolve,
        U::Timeout(T::Connect) => Broke::ConnectTimeout,
        U::ConnectionFailed => Broke::Connect,
        U::ConnectProxyFailed(_) => Broke::Proxy,
        U::Rustls(_) | U::Tls(_) => Broke::Tls,
        U::Pem(_) | U::BadUri(_) | U::Http(_) | U::InvalidProxyUrl => Broke::Config,
        U::Timeout(_) => Broke::Timeout,
        U::Io(io) => Broke::Io {
            invalid_data: io.kind() == std::io::ErrorKind::InvalidData,
        },
        U::Protocol(_) => Broke::Protocol,
        _ => Broke::Other,
    };
    let verdict = outcome::SEND.for_transport(broke, written, attempt);
    let detail = match (&e, verdict.kind) {
        (U::HostNotFound, _) => format!("could not resolve host {host}"),
        (U::Timeout(T::Resolve), _) => format!("timed out resolving host {host}"),
        (U::Timeout(T::Connect), _) if !written => format!("timed out connecting to {host}"),
        (U::ConnectionFailed, _) => format!("could not connect to {host}"),
        (U::ConnectProxyFailed(_), _) => "the proxy refused the connection".to_owned(),
        // TLS errors can quote the server's certificate: shown escaped and capped.
        (U::Rustls(r), _) => tls_failed(host, &r.to_string(), tls_hint(r)),
        (U::Tls(r), _) => tls_failed(host, r, ""),
        (U::Pem(_), _) => "CA certificates could not be read".to_owned(),
        (U::BadUri(_) | U::Http(_) | U::InvalidProxyUrl, _) => {
            "the request could not be built".to_owned()
        }
        (U::Timeout(_), _) => "deadline passed".to_owned(),
        // rustls reports a failed handshake (untrusted certificate, wrong host
        // name) as InvalidData; a plain TCP connect never does.
        (U::Io(io), ErrorKind::Tls) => tls_failed(
            host,
            &io.get_ref()
                .map_or_else(|| io.kind().to_string(), ToString::to_string),
            io.get_ref()
                .and_then(|e| e.downcast_ref::<rustls::Error>())
                .map_or("", tls_hint),
        ),
        (U::Io(io), ErrorKind::Connect) => format!("could not connect to {host}: {}", io.kind()),
        (U::Io(io), _) => format!("connection to {host} lost: {}", io.kind()),
        (U::Protocol(_), _) => "the server's answer was not valid HTTP".to_owned(),
        _ => "the request failed".to_owned(),
    };
    Failed {
        error: Error::new(verdict.outcome, verdict.kind, detail),
        retry_in: verdict.retry_in,
    }
}

/// What a TLS failure means, when its cause is a common set-up slip.
fn tls_hint(e: &rustls::Error) -> &'static str {
    match e {
        // The first bytes back were not a TLS record: most often "HTTP/1.1 400".
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            " (the server answered in plain HTTP; the local mock is http://)"
        }
        _ => "",
    }
}
