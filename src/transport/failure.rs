//! What broke below HTTP, in words: a failed TLS handshake, a proxy to
//! blame, or a connection cut; what each means is decided by `outcome`.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind};
use crate::text::{ShownUpTo, TLS_TEXT_CHARS};
use crate::transport::outcome::{self, Broke};
use crate::transport::proxy::ProxyName;
use std::time::Duration;

/// How one attempt ended, when it did not succeed.
pub(super) struct Failed {
    pub(super) error: Error,
    /// Set when the message certainly did not go and trying again may help.
    pub(super) retry_in: Option<Duration>,
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
/// decided by the operation's `rules`.
pub(super) fn transport_failure(
    rules: &outcome::Rules,
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
        let verdict = rules.for_transport(broke, written, attempt);
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
    let verdict = rules.for_transport(broke, written, attempt);
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
