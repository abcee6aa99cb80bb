//! Where messages go: Hero production, Hero staging, or a URL of yours.

use std::net::IpAddr;

use crate::error::Error;

/// The Hero server to send to. Always chosen explicitly: there is no
/// default, so a test system cannot reach real patients by accident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `https://api.herohealth.net`: real patients.
    Production,
    /// `https://api.staging.htech.app`: Hero's staging service.
    Staging,
    /// Any other base URL, e.g. the local mock `http://127.0.0.1:8080`.
    /// Must be `https://`, except for loopback hosts.
    Custom(String),
}

impl Target {
    /// `production` or `staging` (as in `HERO_ENVIRONMENT`).
    pub fn from_environment_name(name: &str) -> Option<Self> {
        match name {
            "production" => Some(Target::Production),
            "staging" => Some(Target::Staging),
            _ => None,
        }
    }

    /// True for a custom URL whose host is loopback (the mock, tests).
    pub(crate) fn is_loopback(&self) -> bool {
        match self {
            Target::Custom(url) => url
                .parse::<ureq::http::Uri>()
                .ok()
                .and_then(|u| u.host().map(is_loopback))
                .unwrap_or(false),
            _ => false,
        }
    }

    /// The checked base URL, without a trailing slash.
    pub(crate) fn base_url(&self) -> Result<String, Error> {
        match self {
            Target::Production => Ok("https://api.herohealth.net".to_owned()),
            Target::Staging => Ok("https://api.staging.htech.app".to_owned()),
            Target::Custom(url) => check_custom(url),
        }
    }
}

fn check_custom(url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::config(format!("base URL {why}"));
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| bad("needs http:// or https://"))?;
    let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
    if authority.as_str().contains('@') {
        // Credentials in a URL end up in logs; Hero takes them as headers.
        return Err(bad("must not contain user:password@"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(bad("must not have a query or fragment"));
    }
    let host = authority.host();
    match scheme {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(bad(
                "must use https:// (plain http:// is only allowed for loopback hosts such as 127.0.0.1)",
            ));
        }
        _ => return Err(bad("needs http:// or https://")),
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            Target::Production.base_url().unwrap(),
            "https://api.herohealth.net"
        );
        assert_eq!(
            Target::Staging.base_url().unwrap(),
            "https://api.staging.htech.app"
        );
        let ok = |u: &str| Target::Custom(u.into()).base_url();
        assert_eq!(
            ok("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(ok("http://localhost:1").unwrap(), "http://localhost:1");
        assert_eq!(ok("http://[::1]:9").unwrap(), "http://[::1]:9");
        assert_eq!(
            ok("https://gw.example.nhs.uk/hero").unwrap(),
            "https://gw.example.nhs.uk/hero"
        );
        for bad in [
            "http://api.herohealth.net",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
            "https://user:pw@api.herohealth.net",
            "https://h/?a=1",
            "https://h/#x",
            "",
            "http://127.0.0.1.evil.example",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }
}
