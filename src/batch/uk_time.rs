//! UK dates and local times as practices write them: dates of birth as
//! `dd/mm/yyyy`, and `send_at` as a Europe/London wall-clock time.
//!
//! The UK rule is implemented directly (summer time from the last Sunday of
//! March to the last Sunday of October, both changes at 01:00 UTC): it has
//! held since 1996 and is tested against the system's zoneinfo for every
//! change from 2000 to 2037, which keeps a time-zone database out of the
//! dependencies.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::message::checks::{days_from_civil, days_in_month, format_rfc3339_utc};

/// How far in the past a `send_at` may be: a clock a little behind, or a
/// row sent a minute after it was written, is not a stale export.
pub(crate) const PAST_GRACE_SECS: i64 = 5 * 60;

/// A date of birth as Hero wants it (`YYYY-MM-DD`), from `YYYY-MM-DD` or
/// the UK `dd/mm/yyyy`. Never `mm/dd/yyyy`: a month above 12 is invalid,
/// not swapped. Text without a `/` is returned as given, for the lookup's
/// own check to judge.
pub(crate) fn dob(value: &str) -> Result<String, Error> {
    let value = value.trim();
    if !value.contains('/') {
        return Ok(value.to_owned());
    }
    match uk_date(value) {
        Some((y, m, d)) if (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m) => {
            Ok(format!("{y:04}-{m:02}-{d:02}"))
        }
        _ => Err(Error::invalid(
            "dob",
            "must be a real date written dd/mm/yyyy (day first) or YYYY-MM-DD",
        )),
    }
}

/// `dd/mm/yyyy` (one-digit day and month allowed, as spreadsheets write
/// them), not checked against the calendar.
fn uk_date(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !digits(d, 1..=2) || !digits(m, 1..=2) || !digits(y, 4..=4) {
        return None;
    }
    Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}

/// The UTC offset (seconds) in force in the UK at `unix` seconds.
pub(crate) fn uk_offset_at(unix: i64) -> i64 {
    let year = year_of(unix);
    let starts = change_of(year, 3);
    let ends = change_of(year, 10);
    if (starts..ends).contains(&unix) {
        3600
    } else {
        0
    }
}

/// 01:00 UTC on the last Sunday of `month` (March or October) of `year`.
pub(crate) fn change_of(year: u32, month: u32) -> i64 {
    let last = days_from_civil(year, month, days_in_month(year, month));
    // 1970-01-01 was a Thursday: weekday 0 = Sunday is (days + 4) % 7.
    let sunday = last - (last + 4).rem_euclid(7);
    sunday * 86_400 + 3600
}

fn year_of(unix: i64) -> u32 {
    // Close enough to pick the year, then corrected at its edges.
    let mut year = (1970 + unix.div_euclid(31_556_952)) as u32;
    while days_from_civil(year, 1, 1) * 86_400 > unix {
        year -= 1;
    }
    while days_from_civil(year + 1, 1, 1) * 86_400 <= unix {
        year += 1;
    }
    year
}

/// A `send_at` cell as Hero wants it: RFC 3339 with an offset. An RFC 3339
/// value passes as given; a local time without an offset
/// (`2027-03-29 09:00`, `29/03/2027 09:00`, seconds optional, `T` allowed)
/// is UK time, given the offset in force then. A local time that does not
/// exist (the spring-forward hour) or occurs twice (the autumn hour) is
/// invalid, and so is any time more than a few minutes before `now`.
pub(crate) fn send_at(value: &str, now: i64) -> Result<String, Error> {
    let value = value.trim();
    if let Some(unix) = rfc3339_unix(value) {
        not_past(unix, now)?;
        return Ok(value.to_owned());
    }
    local_send_at(value, now)?.ok_or_else(|| {
        Error::invalid(
            "send_at",
            "must be RFC 3339 with an offset, or a UK local time written YYYY-MM-DD HH:MM or dd/mm/yyyy HH:MM",
        )
    })
}

/// A UK local `send_at` (as in [`send_at`]) in RFC 3339; `None` when
/// `value` is not written as a local time (RFC 3339, or text for the
/// message checks to refuse), as `hero_send --send-at` takes it.
pub(crate) fn local_send_at(value: &str, now: i64) -> Result<Option<String>, Error> {
    let value = value.trim();
    if rfc3339_unix(value).is_some() {
        return Ok(None);
    }
    let Some(local) = local_unix(value) else {
        return Ok(None);
    };
    let fits: Vec<i64> = [0, 3600]
        .into_iter()
        .filter(|off| uk_offset_at(local - off) == *off)
        .collect();
    let offset = match fits[..] {
        [one] => one,
        [] => {
            return Err(Error::invalid(
                "send_at",
                "is a UK local time that does not exist (the clocks go forward past it): choose another time",
            ));
        }
        _ => {
            return Err(Error::invalid(
                "send_at",
                "is a UK local time that happens twice (the clocks go back over it): choose another time",
            ));
        }
    };
    let unix = local - offset;
    not_past(unix, now)?;
    let utc = format_rfc3339_utc(u64::try_from(unix).unwrap_or(0));
    Ok(Some(if offset == 0 {
        utc
    } else {
        // Hero gets the wall-clock time the practice wrote, with its offset.
        let wall = format_rfc3339_utc(u64::try_from(local).unwrap_or(0));
        format!("{}+01:00", wall.trim_end_matches('Z'))
    }))
}

fn not_past(unix: i64, now: i64) -> Result<(), Error> {
    if unix < now - PAST_GRACE_SECS {
        return Err(Error::invalid(
            "send_at",
            "is in the past (more than a few minutes ago): a stale export, not a schedule",
        ));
    }
    Ok(())
}

/// Seconds since the epoch, now.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A wall-clock time read as if it were UTC: `YYYY-MM-DD HH:MM[:SS]` or
/// `dd/mm/yyyy HH:MM[:SS]`, space or `T` between.
fn local_unix(s: &str) -> Option<i64> {
    let split = s.find([' ', 'T'])?;
    let (date, time) = (&s[..split], s[split + 1..].trim_start());
    let (y, m, d) = uk_date(date).or_else(|| iso_date(date))?;
    if y < 1970 || m == 0 || m > 12 || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let secs = time_of_day(time)?;
    Some(days_from_civil(y, m, d) * 86_400 + secs)
}

fn iso_date(s: &str) -> Option<(u32, u32, u32)> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    Some((
        s[..4].parse().ok()?,
        s[5..7].parse().ok()?,
        s[8..].parse().ok()?,
    ))
}

/// `HH:MM` or `HH:MM:SS`, 24-hour.
fn time_of_day(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<i64>().ok());
    let (h, m, sec) = (n(0)?, n(1)?, n(2)?);
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

/// An RFC 3339 date-time with `Z` or a `±HH:MM` offset, as seconds since
/// the epoch (fractions dropped).
fn rfc3339_unix(s: &str) -> Option<i64> {
    if !crate::message::checks::is_rfc3339_date_time(s) {
        return None;
    }
    let (y, m, d) = iso_date(&s[..10])?;
    let base = days_from_civil(y, m, d) * 86_400 + time_of_day(&s[11..19])?;
    let tail = s[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match tail.as_bytes().first() {
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hm = time_of_day(&tail[1..])?;
            if *sign == b'+' { hm } else { -hm }
        }
        _ => return None,
    };
    Some(base - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_birth_day_first() {
        assert_eq!(dob("07/03/1961").unwrap(), "1961-03-07");
        assert_eq!(dob("7/3/1961").unwrap(), "1961-03-07");
        assert_eq!(dob("1961-03-07").unwrap(), "1961-03-07");
        // Month 25: never swapped into 25 December.
        for bad in ["12/25/1990", "31/02/1990", "1/1/90", "07/03/1961/2"] {
            let e = dob(bad).unwrap_err();
            assert_eq!(e.field(), Some("dob"));
            assert!(e.to_string().contains("day first"), "{e}");
        }
        assert_eq!(dob("next week").unwrap(), "next week");
    }

    #[test]
    fn local_times_take_the_offset_in_force() {
        let now = local_unix("2027-01-01 00:00").unwrap();
        assert_eq!(
            send_at("2027-03-29 09:00", now).unwrap(),
            "2027-03-29T09:00:00+01:00"
        );
        assert_eq!(
            send_at("29/03/2027 09:00", now).unwrap(),
            "2027-03-29T09:00:00+01:00"
        );
        assert_eq!(
            send_at("2027-01-18T09:30:15", now).unwrap(),
            "2027-01-18T09:30:15Z"
        );
        // 2027's changes: 28 March and 31 October.
        for (s, rule) in [
            ("2027-03-28 01:30", "does not exist"),
            ("2027-10-31 01:30", "happens twice"),
            ("2026-12-31 23:00", "in the past"),
            ("31/02/2027 09:00", "UK local time written"),
            ("2027-03-29 9:00", "UK local time written"),
        ] {
            let e = send_at(s, now).unwrap_err();
            assert_eq!(e.field(), Some("send_at"));
            assert!(e.to_string().contains(rule), "{s}: {e}");
        }
        assert_eq!(
            send_at("2027-03-28 02:00", now).unwrap(),
            "2027-03-28T02:00:00+01:00"
        );
        assert_eq!(
            send_at("2027-10-31 02:00", now).unwrap(),
            "2027-10-31T02:00:00Z"
        );
        // RFC 3339 passes as given, but a stale one is refused too.
        assert_eq!(
            send_at("2027-06-01T08:00:00+01:00", now).unwrap(),
            "2027-06-01T08:00:00+01:00"
        );
        assert!(send_at("2026-06-01T08:00:00Z", now).is_err());
        assert!(
            send_at("2026-12-31T23:56:00Z", now).is_ok(),
            "within the grace"
        );
    }

    /// The system's zoneinfo for Europe/London (TZif, version 2 or later):
    /// every transition time with the UTC offset from then on.
    fn zoneinfo_transitions() -> Vec<(i64, i64)> {
        let data = std::fs::read("/usr/share/zoneinfo/Europe/London")
            .expect("the system's zoneinfo for Europe/London (tzdata) must be installed");
        let u32_at = |d: &[u8], i: usize| u32::from_be_bytes(d[i..i + 4].try_into().unwrap());
        let counts = |d: &[u8]| -> [usize; 6] {
            assert_eq!(&d[..4], b"TZif");
            std::array::from_fn(|k| u32_at(d, 20 + 4 * k) as usize)
        };
        // Skip the 32-bit block to the 64-bit one.
        let [isut, isstd, leap, time, kinds, chars] = counts(&data);
        assert!(data[4] >= b'2', "a TZif version 2 file");
        let v1 = 44 + time * 5 + kinds * 6 + chars + leap * 8 + isstd + isut;
        let d = &data[v1..];
        let [_, _, _, time, kinds, _] = counts(d);
        let times = &d[44..44 + time * 8];
        let index = &d[44 + time * 8..44 + time * 9];
        let types = &d[44 + time * 9..44 + time * 9 + kinds * 6];
        (0..time)
            .map(|k| {
                let at = i64::from_be_bytes(times[k * 8..k * 8 + 8].try_into().unwrap());
                let t = usize::from(index[k]) * 6;
                let off = i32::from_be_bytes(types[t..t + 4].try_into().unwrap());
                (at, i64::from(off))
            })
            .collect()
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Windows has no zoneinfo; the rule is the same code on every platform and is checked on the build host"
    )]
    fn every_change_2000_to_2037_matches_the_system_zoneinfo() {
        let from = days_from_civil(2000, 1, 1) * 86_400;
        let to = days_from_civil(2038, 1, 1) * 86_400;
        let system: Vec<(i64, i64)> = zoneinfo_transitions()
            .into_iter()
            .filter(|(at, _)| (from..to).contains(at))
            .collect();
        let ours: Vec<(i64, i64)> = (2000..2038)
            .flat_map(|y| [(change_of(y, 3), 3600), (change_of(y, 10), 0)])
            .collect();
        assert_eq!(system.len(), 76, "two changes a year in the zoneinfo");
        assert_eq!(ours, system);
        for (at, off) in system {
            assert_eq!(uk_offset_at(at), off, "at {at}");
            assert_eq!(uk_offset_at(at - 1), 3600 - off, "just before {at}");
            // The local hour around each change: missing in spring, twice in autumn.
            // Both hours are 01:00-02:00 local, so half past one.
            let local_hour = at + 1800;
            let wall = format_rfc3339_utc(local_hour as u64);
            let text = format!("{} {}", &wall[..10], &wall[11..16]);
            let e = send_at(&text, from).unwrap_err();
            let rule = if off == 3600 {
                "does not exist"
            } else {
                "happens twice"
            };
            assert!(e.to_string().contains(rule), "{text}: {e}");
        }
    }
}
