//! Knows whether any byte of the request has been handed to the network.
//!
//! That single fact separates "not sent" from "may have been sent" when a
//! send fails: every transport error before the first request byte is safe
//! to retry, every one after it is not. The marker wraps the outermost
//! transport (after TLS and any proxy CONNECT), so handshake and proxy bytes
//! do not count, only HTTP request bytes do.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

use crate::log::{LogLevel, Logger};

thread_local! {
    // The client is blocking: a send runs start to end on the caller's thread.
    static WROTE: Cell<bool> = const { Cell::new(false) };
}

/// Starts a new attempt on this thread.
pub(crate) fn reset() {
    WROTE.set(false);
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
            return Ok(chained.map(|t| Marked {
                inner: Box::new(t),
                mark: false,
            }));
        }
        Ok(chained.map(|t| {
            self.opened.fetch_add(1, Ordering::Relaxed);
            self.log.log(
                LogLevel::Debug,
                format_args!(
                    "new connection to {}:{} ({})",
                    details.uri.host().unwrap_or(""),
                    details.uri.port_u16().unwrap_or(0),
                    if t.is_tls() { "tls" } else { "plain" }
                ),
            );
            Marked {
                inner: Box::new(t),
                mark: true,
            }
        }))
    }
}

/// A transport that records, per thread, that request bytes went out.
#[derive(Debug)]
pub(crate) struct Marked {
    inner: Box<dyn Transport>,
    mark: bool,
}

impl Transport for Marked {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.mark && amount > 0 {
            // Set before writing: a write that fails halfway may still have delivered bytes.
            WROTE.set(true);
        }
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
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
            return Ok(addrs);
        }
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            let hit = cache
                .iter()
                .find(|(h, p, _, at)| h == host && *p == port && now.duration_since(*at) < DNS_TTL);
            if let Some((_, _, addrs, _)) = hit {
                return Ok(addrs.clone());
            }
        }
        let addrs = self
            .system
            .resolve(uri, config, timeout)
            .map_err(|e| match e {
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
        Ok(addrs)
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
