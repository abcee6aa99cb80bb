//! The client's settings, and building one: TLS roots, proxy, timeouts,
//! the connector chain.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use ureq::config::Config;
use ureq::http::header::HeaderValue;
use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, RustlsConnector};
use ureq::{Agent, ProxyProtocol};

use crate::error::Error;
use crate::log::{Hook, LogLevel, Logger};
use crate::message::validate;
use crate::transport::gate::Gate;
use crate::transport::outcome;
use crate::transport::proxy::{NoteLeg, Point, ProxyName};
use crate::transport::secret::Secret;
use crate::transport::target::Target;
use crate::transport::wire;

use super::client::{Client, DEFAULT_MAX_IDLE_AGE, Inner, LOOKUP_PATH, SEND_PATH};

impl Client {
    /// Settings for a client that sends to `target` with these credentials.
    pub fn builder(target: Target, api_key: &str, practice_group_id: &str) -> ClientBuilder {
        ClientBuilder::new(target, api_key, practice_group_id)
    }
}

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
    pub(super) fn new(target: Target, api_key: &str, practice_group_id: &str) -> Self {
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
    /// [`Outcome::Refused`](crate::Outcome::Refused) with its [`Error::retry_after`].
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
        let lookup_url = format!("{base}{LOOKUP_PATH}");
        let agent = Agent::with_parts(config, connector, wire::Resolve::default());
        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                uri: url
                    .parse()
                    .map_err(|_| Error::config("base URL is not a valid URL"))?,
                lookup_uri: lookup_url
                    .parse()
                    .map_err(|_| Error::config("base URL is not a valid URL"))?,
                lookup_url,
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
