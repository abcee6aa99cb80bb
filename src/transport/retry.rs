//! When to try again: `Retry-After` and jittered backoff.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::message::checks;

/// A server may ask for anything; past a day it is not a wait, it is an outage.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After` as delay-seconds or an HTTP-date, capped at a day.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Overlong digit strings saturate instead of failing: they still mean "long".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = checks::parse_http_date(value)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        Duration::from_secs(at.saturating_sub(now))
    };
    Some(wait.min(RETRY_AFTER_CAP))
}

/// Full-jitter exponential backoff: uniform in [0, base·2^(attempt-1)], at
/// least 50 ms, at most 5 s. Jitter keeps many practices from retrying in step.
pub(crate) fn backoff(attempt: u32, base: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(Duration::from_secs(5));
    let random = RandomState::new().build_hasher().finish();
    let millis = ceiling.as_millis() as u64;
    Duration::from_millis((random % (millis + 1)).max(50))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(RETRY_AFTER_CAP)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let soon = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 120;
        let date = httpdate(soon);
        let wait = parse_retry_after(&date).unwrap();
        assert!((118..=120).contains(&wait.as_secs()), "{date} -> {wait:?}");
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-3"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    fn httpdate(unix: u64) -> String {
        // Build an IMF-fixdate from the RFC 3339 form the checks module prints.
        let s = checks::format_rfc3339_utc(unix);
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let m: usize = s[5..7].parse().unwrap();
        let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        let wd = days[((unix / 86400) % 7) as usize];
        format!(
            "{wd}, {} {} {} {} GMT",
            &s[8..10],
            months[m - 1],
            &s[0..4],
            &s[11..19]
        )
    }

    #[test]
    fn backoff_bounds() {
        for attempt in 1..10 {
            let d = backoff(attempt, Duration::from_millis(200));
            assert!(
                d >= Duration::from_millis(50) && d <= Duration::from_secs(5),
                "{d:?}"
            );
        }
        assert!(backoff(1, Duration::from_millis(200)) <= Duration::from_millis(200));
    }
}
