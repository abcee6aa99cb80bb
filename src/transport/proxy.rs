//! Which proxy a send goes through, and whose fault a failed connection is.
//!
//! The environment is read the way curl reads it, as that is what a
//! practice's IT department configures and tests against. For an https
//! target: `https_proxy`, then `HTTPS_PROXY`, then `all_proxy`, then
//! `ALL_PROXY` (for an http target `http_proxy`, lowercase only, takes the
//! first place); the first that is set and not empty wins, and `no_proxy`,
//! then `NO_PROXY`, can exempt the target. A variable that is set but
//! unusable is a configuration error rather than being skipped: skipping it
//! would send patient messages around a proxy the practice requires. Error
//! texts name the variable, never its value, which may hold a password.

use std::cell::Cell;
use std::fmt;
use std::net::IpAddr;

use ureq::http::Uri;
use ureq::unversioned::transport::{ConnectionDetails, Connector, Transport};
use ureq::{Proxy, ProxyProtocol};

use crate::error::Error;
use crate::transport::outcome::Broke;

/// Reads one environment variable: `Some(Err(()))` when it is not UTF-8.
pub(crate) type Getter<'a> = &'a dyn Fn(&str) -> Option<Result<String, ()>>;

/// The process environment, as a [`Getter`].
pub(crate) fn process_env(name: &str) -> Option<Result<String, ()>> {
    std::env::var_os(name).map(|v| v.into_string().map_err(|_| ()))
}

/// A proxy as named in error texts and logs: host and port, and where the
/// setting came from; never its credentials.
#[derive(Debug, Clone)]
pub(crate) struct ProxyName {
    addr: String,
    /// The environment variable it was read from, if any.
    var: Option<&'static str>,
    /// Whether the setting carries a user name or password (never kept).
    credentials: bool,
}

impl ProxyName {
    pub(crate) fn of(proxy: &Proxy, var: Option<&'static str>) -> Self {
        ProxyName {
            addr: format!("{}:{}", proxy.host(), proxy.port()),
            var,
            credentials: proxy.username().is_some() || proxy.password().is_some(),
        }
    }
}

impl fmt::Display for ProxyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proxy {}", self.addr)?;
        match self.var {
            Some(var) => write!(f, " (from {var})"),
            None => Ok(()),
        }
    }
}

/// The proxy the environment asks for to reach `base_url`, with the
/// variable it came from; `None` when no variable applies or `NO_PROXY`
/// exempts the target.
pub(crate) fn from_env(
    get: Getter<'_>,
    base_url: &str,
) -> Result<Option<(Proxy, &'static str)>, Error> {
    let uri: Uri = base_url
        .parse()
        .map_err(|_| Error::config("base URL is not a valid URL"))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    if let Some((_, list)) = first_set(get, &["no_proxy", "NO_PROXY"])?
        && no_proxy_matches(&list, host, port)
    {
        return Ok(None);
    }
    // curl never reads an uppercase HTTP_PROXY: in a CGI environment a
    // request's `Proxy:` header arrives under that name.
    let names: &[&'static str] = if https {
        &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        &["http_proxy", "all_proxy", "ALL_PROXY"]
    };
    let Some((var, value)) = first_set(get, names)? else {
        return Ok(None);
    };
    let proxy = parse(&value)
        .map_err(|rule| Error::config(format!("{var} is set but is not a usable proxy: {rule}")))?;
    Ok(Some((proxy, var)))
}

/// The first of `names` that is set and not empty (curl treats an empty
/// variable as unset), with its value.
fn first_set(
    get: Getter<'_>,
    names: &[&'static str],
) -> Result<Option<(&'static str, String)>, Error> {
    for &name in names {
        match get(name) {
            None => {}
            Some(Ok(v)) if v.is_empty() => {}
            Some(Ok(v)) => return Ok(Some((name, v))),
            Some(Err(())) => {
                return Err(Error::config(format!(
                    "{name} is set but is not valid UTF-8"
                )));
            }
        }
    }
    Ok(None)
}

/// Checks a proxy URL strictly, where ureq would skip what it cannot parse.
/// The error is a rule, never a piece of the value.
pub(crate) fn parse(value: &str) -> Result<Proxy, &'static str> {
    if value.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(
            "it contains a space, a control character (such as the \\r of a Windows line ending) or a non-ASCII character (percent-encode these in a user name or password)",
        );
    }
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("http".to_owned(), value),
    };
    // Without a port, curl uses 1080 for http:// proxies and 443 for https://.
    let default_port = match scheme.as_str() {
        "http" => 1080,
        "https" => 443,
        s if s.starts_with("socks") => {
            return Err("SOCKS proxies are not supported: use an http:// (CONNECT) proxy");
        }
        _ => return Err("it must start with http:// or https://"),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if tail.contains('@') {
        return Err(
            "its user name or password holds a character that must be percent-encoded (/ ? #)",
        );
    }
    if tail.contains(['?', '#']) {
        return Err("it must be scheme://host:port, without a query or fragment");
    }
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let bytes = userinfo.as_bytes();
        let bad_escape = bytes.iter().enumerate().any(|(i, &b)| {
            b == b'%'
                && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        });
        if bad_escape {
            return Err("a % in its user name or password is not followed by two hex digits");
        }
    }
    let (host, port) = split_host_port(host_port)?;
    let valid_host = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    };
    if !valid_host {
        return Err("its host is missing or not a valid host name or IP address");
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err("its port is not a number from 1 to 65535"),
        },
    };
    let mut url = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        url.push_str(userinfo);
        url.push('@');
    }
    url.push_str(&format!("{host}:{port}"));
    let proxy = Proxy::new(&url).map_err(|_| {
        "it is not a valid proxy URL (percent-encode special characters in a user name or password)"
    })?;
    debug_assert!(matches!(
        proxy.protocol(),
        ProxyProtocol::Http | ProxyProtocol::Https
    ));
    Ok(proxy)
}

/// Splits `host[:port]` or `[v6][:port]`.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(close) => {
                let (host, rest) = s.split_at(close + 1);
                match rest {
                    "" => (host, None),
                    _ => match rest.strip_prefix(':') {
                        Some(port) => (host, Some(port)),
                        None => return Err("its host is not a valid IPv6 address in brackets"),
                    },
                }
            }
            None => return Err("its host is not a valid IPv6 address in brackets"),
        }
    } else {
        match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err("its port is not a number from 1 to 65535");
    }
    Ok((host, port))
}

/// Whether a `NO_PROXY` list exempts `host` (as written in the base URL) on
/// `port`. Entries are comma separated and trimmed; `*` matches every host;
/// `example.com`, `.example.com` and `*.example.com` all match that domain
/// and its subdomains (curl's reading); `host:port` matches that port only;
/// IP addresses match exactly, and `10.0.0.0/8` style ranges by prefix (a
/// target given as an address is matched by these only). The target's name
/// is not looked up. An entry that fits none of these
/// matches nothing, which errs on the side of the proxy.
pub(crate) fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| entry == "*" || entry_matches(entry, &host, host_ip, port))
}

fn entry_matches(entry: &str, host: &str, host_ip: Option<IpAddr>, port: u16) -> bool {
    if let Some((addr, bits)) = entry.split_once('/') {
        return match (addr.parse::<IpAddr>(), bits.parse::<u8>(), host_ip) {
            (Ok(net), Ok(bits), Some(ip)) => in_range(ip, net, bits),
            _ => false,
        };
    }
    // A bare IPv6 address has colons but no port.
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return host_ip == Some(ip);
    }
    let (name, entry_port) = match split_host_port(entry) {
        Ok((name, Some(p))) => match p.parse::<u16>() {
            Ok(p) => (name, Some(p)),
            Err(_) => return false,
        },
        Ok((name, None)) => (name, None),
        Err(_) => return false,
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = name.parse::<IpAddr>() {
        return host_ip == Some(ip);
    }
    // An IP address is matched only by addresses and ranges (curl): read as
    // a domain suffix, "0.1" would exempt 10.0.0.1 from the proxy.
    if host_ip.is_some() {
        return false;
    }
    let name = name
        .strip_prefix("*.")
        .or_else(|| name.strip_prefix('.'))
        .unwrap_or(name)
        .trim_end_matches('.');
    if name.is_empty() {
        return false;
    }
    let (h, n) = (host.as_bytes(), name.as_bytes());
    h.eq_ignore_ascii_case(n)
        || (h.len() > n.len()
            && h[h.len() - n.len()..].eq_ignore_ascii_case(n)
            && h[h.len() - n.len() - 1] == b'.')
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Whose fault: how far a proxied connection got
// ---------------------------------------------------------------------------

/// How far the current attempt's new proxied connection got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    /// No new connection was opened in this attempt (or no proxy is used).
    Idle,
    /// Looking up and connecting to the proxy.
    ToProxy,
    /// Connected to the proxy; asking it for a tunnel.
    AtProxy,
    /// The proxy opened the tunnel; TLS with the target runs through it.
    Tunnel,
    /// The connection is ready.
    Through,
}

thread_local! {
    // The client is blocking: an attempt runs start to end on the caller's thread.
    static LEG: Cell<Leg> = const { Cell::new(Leg::Idle) };
}

/// Starts a new attempt on this thread.
pub(crate) fn reset_leg() {
    LEG.set(Leg::Idle);
}

/// Where in the connector chain a [`NoteLeg`] sits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Point {
    /// First, before the CONNECT connector.
    Start,
    /// Right after the CONNECT connector.
    AfterConnect,
    /// Last, after TLS.
    End,
}

/// A pass-through connector recording how far a proxied connection got.
/// ureq runs the chain twice for one: once without the proxy setting for
/// the leg to the proxy, and around it once with it for the tunnel.
#[derive(Debug)]
pub(crate) struct NoteLeg(pub(crate) Point);

impl<In: Transport> Connector<In> for NoteLeg {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        let proxied = details.config.proxy().is_some();
        let leg = match (self.0, proxied, chained.is_some()) {
            (Point::Start, true, _) => Some(Leg::ToProxy),
            (Point::AfterConnect, true, true) => Some(Leg::Tunnel),
            // Only reached without the proxy setting on the leg to the proxy,
            // as the client uses a proxy for all its connections or none.
            (Point::End, false, true) => Some(Leg::AtProxy),
            (Point::End, true, true) => Some(Leg::Through),
            _ => None,
        };
        if let Some(leg) = leg {
            LEG.set(leg);
        }
        Ok(chained)
    }
}

/// Blames `proxy` for a failure before any request byte was written, when
/// it is its fault (or happened inside its tunnel): what broke, for the
/// outcome rules, and the text. `None` leaves the failure to the general rules.
pub(crate) fn blame(e: &ureq::Error, proxy: &ProxyName, host: &str) -> Option<(Broke, String)> {
    use std::io::ErrorKind::InvalidData;
    use ureq::Error as U;
    use ureq::Timeout as T;
    if let U::ConnectProxyFailed(reason) = e {
        let (detail, status) = refused_tunnel(reason, proxy, host);
        // A status is the proxy's decision; hanging up may be passing.
        let broke = if status.is_some() {
            Broke::Proxy
        } else {
            Broke::ProxyDown
        };
        return Some((broke, detail));
    }
    let (broke, detail) = match (LEG.get(), e) {
        // A target's name is resolved by the proxy, never here: a failed
        // lookup is always the proxy's own name.
        (_, U::HostNotFound | U::Timeout(T::Resolve)) => (
            Broke::ProxyDown,
            format!("could not resolve the host name of {proxy}"),
        ),
        (Leg::ToProxy, U::Timeout(T::Connect)) => {
            (Broke::ProxyDown, format!("timed out connecting to {proxy}"))
        }
        (Leg::ToProxy, U::ConnectionFailed) => {
            (Broke::ProxyDown, format!("could not connect to {proxy}"))
        }
        (Leg::ToProxy, U::Rustls(_) | U::Tls(_)) => {
            (Broke::Proxy, format!("TLS with {proxy} failed"))
        }
        (Leg::ToProxy, U::Io(io)) if io.kind() == InvalidData => {
            (Broke::Proxy, format!("TLS with {proxy} failed"))
        }
        (Leg::ToProxy, U::Io(io)) => (
            Broke::ProxyDown,
            format!("could not connect to {proxy}: {}", io.kind()),
        ),
        (Leg::AtProxy, U::Timeout(T::Connect)) => (
            Broke::ProxyDown,
            format!("timed out waiting for {proxy} to open a tunnel to {host}"),
        ),
        (Leg::AtProxy, U::Io(io)) => (
            Broke::ProxyDown,
            format!(
                "{proxy} broke off before opening a tunnel to {host}: {}",
                io.kind()
            ),
        ),
        (Leg::AtProxy, U::Protocol(_)) => (
            Broke::Proxy,
            format!("{proxy} answered the tunnel request with something that is not HTTP"),
        ),
        // Through the tunnel, TLS failures are the target's (the general rules).
        (Leg::Tunnel, U::Timeout(T::Connect)) => (
            Broke::ConnectTimeout,
            format!("timed out connecting to {host} through {proxy}"),
        ),
        (Leg::Tunnel, U::Io(io)) if io.kind() != InvalidData => (
            Broke::Io {
                invalid_data: false,
            },
            format!("connection to {host} through {proxy} failed: {}", io.kind()),
        ),
        _ => return None,
    };
    Some((broke, detail))
}

/// The text for a CONNECT that did not get a 200, and the proxy's status.
fn refused_tunnel(reason: &str, proxy: &ProxyName, host: &str) -> (String, Option<u16>) {
    // ureq's text is "proxy server responded <code>/<code>", or says it did not respond.
    let status = reason
        .split_once("responded ")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|code| code.parse::<u16>().ok());
    let detail = match status {
        Some(407) if proxy.credentials => format!(
            "{proxy} did not accept the user name and password in its URL (HTTP 407 Proxy Authentication Required): check them, percent-encoded"
        ),
        Some(407) => format!(
            "{proxy} needs credentials (HTTP 407 Proxy Authentication Required): give them in the proxy URL, http://user:password@host:port, percent-encoded"
        ),
        Some(403) => format!(
            "{proxy} refused the tunnel to {host} (HTTP 403 Forbidden): its policy does not allow this host; ask the network administrator to allow it"
        ),
        Some(code) => format!("{proxy} refused the tunnel to {host} (HTTP {code})"),
        None => format!("{proxy} closed the connection without answering the tunnel request"),
    };
    (detail, status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<Result<String, ()>> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| Ok((*v).to_owned()))
        }
    }

    fn chosen(vars: &[(&str, &str)], base: &str) -> Option<(String, &'static str)> {
        from_env(&env(vars), base)
            .unwrap()
            .map(|(p, var)| (format!("{}:{}", p.host(), p.port()), var))
    }

    const HERO: &str = "https://api.herohealth.net";

    #[test]
    fn variables_are_read_in_curls_order() {
        let all = [
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("all_proxy", "http://all-lower:3"),
            ("ALL_PROXY", "http://all-upper:4"),
            ("http_proxy", "http://plain:5"),
            ("HTTP_PROXY", "http://plain-upper:6"),
        ];
        assert_eq!(chosen(&all, HERO), Some(("lower:1".into(), "https_proxy")));
        assert_eq!(
            chosen(&all[1..], HERO),
            Some(("upper:2".into(), "HTTPS_PROXY"))
        );
        assert_eq!(
            chosen(&all[2..], HERO),
            Some(("all-lower:3".into(), "all_proxy"))
        );
        assert_eq!(
            chosen(&all[3..], HERO),
            Some(("all-upper:4".into(), "ALL_PROXY"))
        );
        // http_proxy is for http targets only; HTTP_PROXY is never read.
        assert_eq!(chosen(&all[4..], HERO), None);
        assert_eq!(
            chosen(&all[4..], "http://gw.example"),
            Some(("plain:5".into(), "http_proxy"))
        );
        assert_eq!(chosen(&all[5..], "http://gw.example"), None);
        // An empty variable counts as unset.
        assert_eq!(
            chosen(&[("https_proxy", ""), ("ALL_PROXY", "http://a:4")], HERO),
            Some(("a:4".into(), "ALL_PROXY"))
        );
        assert_eq!(chosen(&[], HERO), None);
    }

    #[test]
    fn default_ports_follow_curl() {
        assert_eq!(
            chosen(&[("HTTPS_PROXY", "proxy.trust.nhs.uk")], HERO),
            Some(("proxy.trust.nhs.uk:1080".into(), "HTTPS_PROXY"))
        );
        assert_eq!(
            chosen(&[("HTTPS_PROXY", "https://proxy.trust.nhs.uk/")], HERO),
            Some(("proxy.trust.nhs.uk:443".into(), "HTTPS_PROXY"))
        );
    }

    #[test]
    fn usable_proxy_urls() {
        for (value, host, port, user, pass) in [
            ("http://proxy:3128", "proxy", 3128, None, None),
            (
                "HTTP://Proxy.Example:8080/",
                "Proxy.Example",
                8080,
                None,
                None,
            ),
            ("proxy:3128", "proxy", 3128, None, None),
            ("http://10.1.2.3:8080", "10.1.2.3", 8080, None, None),
            ("http://[fd00::1]:8080", "[fd00::1]", 8080, None, None),
            (
                "http://jo%20bloggs:p%40ss%20word@proxy:3128",
                "proxy",
                3128,
                Some("jo bloggs"),
                Some("p@ss word"),
            ),
            (
                "http://user:p@ss@proxy:3128",
                "proxy",
                3128,
                Some("user"),
                Some("p@ss"),
            ),
            ("https://proxy:443", "proxy", 443, None, None),
        ] {
            let p = parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(
                (p.host(), p.port(), p.username(), p.password()),
                (host, port, user, pass),
                "{value}"
            );
        }
    }

    #[test]
    fn unusable_proxy_urls_are_errors_that_never_echo_the_value() {
        for value in [
            "http://gateway7:3128\r",
            "http://gateway7:3128\n",
            " http://gateway7:3128",
            "http://jsmith:hunter2 x@gateway7:3128",
            "http://jsmith:hünter2@gateway7:3128",
            "http://gate\u{0}way7:3128",
            "socks5://gateway7:3128",
            "socks://gateway7:3128",
            "socks5h://gateway7:3128",
            "ftp://gateway7:3128",
            "://gateway7:3128",
            "http://",
            "http://:3128",
            "http://gateway7:",
            "http://gateway7:0",
            "http://gateway7:65536",
            "http://gateway7:31x8",
            "http://gateway7:3128?x=1",
            "http://gateway7:3128/#frag",
            "http://jsmith:hun/ter2@gateway7:3128",
            "http://jsmith:hunter2%@gateway7:3128",
            "http://jsmith:%zzhunter2@gateway7:3128",
            "http://[fd00::1:3128",
            "http://[gateway7]:3128",
            "gateway7!",
            "http://gateway7:3128:99",
        ] {
            let rule = match parse(value) {
                Ok(p) => panic!("{value:?} was accepted as {p:?}"),
                Err(rule) => rule,
            };
            for piece in ["gateway7", "hunter2", "jsmith", "3128", "zz"] {
                assert!(!rule.contains(piece), "{value:?}: {rule}");
            }
            let e = from_env(&env(&[("HTTPS_PROXY", value)]), HERO).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.to_string().starts_with("not sent: HTTPS_PROXY "), "{e}");
        }
        let socks = parse("socks5://gateway7:1080").unwrap_err();
        assert!(socks.contains("SOCKS"), "{socks}");
        let cr = parse("http://proxy:3128\r").unwrap_err();
        assert!(cr.contains("Windows line ending"), "{cr}");
    }

    #[test]
    fn only_the_variable_in_use_is_judged() {
        // A broken uppercase twin is never read when the lowercase one is set (curl).
        assert_eq!(
            chosen(
                &[("https_proxy", "http://good:1"), ("HTTPS_PROXY", "bad\r")],
                HERO
            ),
            Some(("good:1".into(), "https_proxy"))
        );
        // A broken variable is an error, not a fall-through to the next one.
        let e = from_env(
            &env(&[("HTTPS_PROXY", "http://p:1 "), ("ALL_PROXY", "http://q:2")]),
            HERO,
        )
        .unwrap_err();
        assert!(e.to_string().contains("HTTPS_PROXY"), "{e}");
        // A target exempted by NO_PROXY needs no proxy, broken or not.
        assert_eq!(
            chosen(
                &[("HTTPS_PROXY", "bad\r"), ("NO_PROXY", "herohealth.net")],
                HERO
            ),
            None
        );
        let not_utf8 = |name: &str| (name == "ALL_PROXY").then_some(Err(()));
        let e = from_env(&not_utf8, HERO).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("ALL_PROXY"), "{e}");
    }

    #[test]
    fn no_proxy_lowercase_is_read_first() {
        let p = [("HTTPS_PROXY", "http://p:1")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = p.to_vec();
            vars.extend_from_slice(extra);
            chosen(&vars, HERO).is_none()
        };
        assert!(with(&[("no_proxy", "herohealth.net")]));
        assert!(with(&[("NO_PROXY", "herohealth.net")]));
        assert!(!with(&[
            ("no_proxy", "other.net"),
            ("NO_PROXY", "herohealth.net")
        ]));
        assert!(with(&[("no_proxy", ""), ("NO_PROXY", "herohealth.net")]));
    }

    #[test]
    fn no_proxy_matching() {
        let m = no_proxy_matches;
        // Domains cover themselves and their subdomains, with or without a dot or *.
        for list in [
            "herohealth.net",
            ".herohealth.net",
            "*.herohealth.net",
            " herohealth.net ",
            "HeroHealth.NET.",
            "other.org , herohealth.net",
            "*",
            "other.org,*",
        ] {
            assert!(m(list, "api.herohealth.net", 443), "{list}");
            assert!(m(list, "herohealth.net", 443), "{list}");
            assert!(m(list, "a.b.herohealth.net", 443), "{list}");
            assert!(m(list, "API.HEROHEALTH.NET.", 443), "{list}");
        }
        for list in [
            "",
            " , ",
            "notherohealth.net",
            "health.net.evil",
            "api.herohealth.net.evil",
            "herohealth",
            "*.",
            ".",
            "**",
        ] {
            assert!(!m(list, "api.herohealth.net", 443), "{list}");
        }
        assert!(!m("api.herohealth.net", "herohealth.net", 443));
        assert!(!m("herohealth.net", "nherohealth.net", 443));
        // Ports.
        assert!(m("herohealth.net:443", "api.herohealth.net", 443));
        assert!(!m("herohealth.net:8443", "api.herohealth.net", 443));
        assert!(!m("herohealth.net:x", "api.herohealth.net", 443));
        // IP addresses and ranges; names are not looked up.
        assert!(m("10.1.2.3", "10.1.2.3", 443));
        assert!(!m("10.1.2.3", "10.1.2.4", 443));
        assert!(m("10.1.2.3:8443", "10.1.2.3", 8443));
        assert!(!m("10.1.2.3:8443", "10.1.2.3", 443));
        assert!(m("10.0.0.0/8", "10.200.0.1", 443));
        assert!(!m("10.0.0.0/8", "11.0.0.1", 443));
        assert!(m("192.168.4.0/22", "192.168.7.255", 443));
        assert!(!m("192.168.4.0/22", "192.168.8.0", 443));
        assert!(m("0.0.0.0/0", "8.8.8.8", 443));
        assert!(!m("10.0.0.0/33", "10.0.0.1", 443));
        assert!(!m("10.0.0.0/8", "ten.example", 443));
        assert!(m("fd00::/8", "[fd12::1]", 443));
        assert!(!m("fd00::/8", "[fe80::1]", 443));
        assert!(m("::1", "[::1]", 443));
        assert!(m("[fd00::1]", "[fd00::1]", 443));
        assert!(m("[fd00::1]:443", "[fd00::1]", 443));
        assert!(!m("[fd00::1]:80", "[fd00::1]", 443));
        assert!(!m("10.0.0.0/8", "[::ffff:10.0.0.1]", 443));
        // Name entries never match an IP address by suffix.
        for list in ["0.1", "0.0.1", "1", ".1", "*.0.0.1", "0.1:443"] {
            assert!(!m(list, "10.0.0.1", 443), "{list}");
        }
        assert!(!m("1", "[fd00::1]", 443));
    }

    #[test]
    fn proxy_names_carry_no_credentials() {
        let p = parse("http://jo:secret@proxy.example:3128").unwrap();
        let name = ProxyName::of(&p, Some("HTTPS_PROXY"));
        assert_eq!(
            name.to_string(),
            "proxy proxy.example:3128 (from HTTPS_PROXY)"
        );
        assert_eq!(
            ProxyName::of(&p, None).to_string(),
            "proxy proxy.example:3128"
        );
    }

    #[test]
    fn blame_follows_how_far_the_connection_got() {
        use std::io::{Error as IoError, ErrorKind as Io};
        let p = ProxyName::of(&parse("http://gw:3128").unwrap(), Some("ALL_PROXY"));
        let io = |kind| ureq::Error::Io(IoError::from(kind));
        let at = |leg, e: ureq::Error| {
            LEG.set(leg);
            blame(&e, &p, "hero.test")
        };
        let refused = at(Leg::ToProxy, io(Io::ConnectionRefused)).unwrap();
        assert_eq!(refused.0, Broke::ProxyDown);
        assert_eq!(
            refused.1,
            "could not connect to proxy gw:3128 (from ALL_PROXY): connection refused"
        );
        assert_eq!(
            at(Leg::Idle, ureq::Error::HostNotFound).unwrap().0,
            Broke::ProxyDown
        );
        let cut = at(Leg::AtProxy, io(Io::ConnectionReset)).unwrap();
        assert_eq!(cut.0, Broke::ProxyDown);
        assert!(
            cut.1.contains("before opening a tunnel to hero.test"),
            "{}",
            cut.1
        );
        let through = at(Leg::Tunnel, io(Io::ConnectionReset)).unwrap();
        assert_eq!(
            through.0,
            Broke::Io {
                invalid_data: false
            }
        );
        assert!(
            through.1.contains("hero.test through proxy gw:3128"),
            "{}",
            through.1
        );
        // TLS with the target, and anything on a reused or finished connection,
        // are left to the general rules.
        assert!(at(Leg::Tunnel, io(Io::InvalidData)).is_none());
        assert!(at(Leg::Idle, io(Io::ConnectionReset)).is_none());
        assert!(at(Leg::Through, io(Io::ConnectionReset)).is_none());
        let status = ureq::Error::ConnectProxyFailed("proxy server responded 403/403".into());
        assert_eq!(at(Leg::AtProxy, status).unwrap().0, Broke::Proxy);
        reset_leg();
        assert_eq!(LEG.get(), Leg::Idle);
    }

    #[test]
    fn refused_tunnels_name_the_status() {
        let mut p = ProxyName {
            addr: "gw:3128".into(),
            var: None,
            credentials: true,
        };
        let with_credentials = refused_tunnel("proxy server responded 407/407", &p, "h").0;
        assert!(
            with_credentials.contains("did not accept the user name and password"),
            "{with_credentials}"
        );
        p.credentials = false;
        let t = |r: &str| refused_tunnel(r, &p, "hero.test").0;
        assert!(
            t("proxy server responded 407/407")
                .contains("needs credentials (HTTP 407 Proxy Authentication Required)")
        );
        assert!(t("proxy server responded 403/403").contains("403 Forbidden"));
        assert!(t("proxy server responded 403/403").contains("hero.test"));
        assert_eq!(
            t("proxy server responded 502/502"),
            "proxy gw:3128 refused the tunnel to hero.test (HTTP 502)"
        );
        assert!(t("proxy server did not respond").contains("without answering"));
    }
}
