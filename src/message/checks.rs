//! Pure input-validation predicates and small date helpers.
//!
//! Everything here is std-only and, apart from [`format_rfc3339_utc`],
//! allocation-free: we reject bad input locally before it reaches Hero's
//! "Send a Message" API, so errors are clear and no request is wasted.

/// Verhoeff multiplication table (the dihedral group D5).
const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Verhoeff position permutations: row `i` is row 1 applied `i` times.
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

const SECS_PER_DAY: u64 = 86_400;

/// A SNOMED CT identifier (concept, description or relationship id):
/// 6 to 18 ASCII digits, first digit not '0', last digit a valid Verhoeff
/// check digit over the whole string. Catches typos in coded entries before
/// they are sent as structured data.
pub(crate) fn is_snomed_ct_id(s: &str) -> bool {
    (6..=18).contains(&s.len()) && !s.starts_with('0') && verhoeff_valid(s)
}

/// Verhoeff check over a string of ASCII digits (false for empty or
/// non-digit input). The Verhoeff scheme detects all single-digit errors and
/// all adjacent transpositions, which is why SNOMED CT uses it.
pub(crate) fn verhoeff_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let check = digits.bytes().rev().enumerate().fold(0u8, |c, (i, b)| {
        let permuted = VERHOEFF_P[i % 8][usize::from(b - b'0')];
        VERHOEFF_D[usize::from(c)][usize::from(permuted)]
    });
    check == 0
}

/// RFC 3339 `date-time` (section 5.6): full-date "T"/"t" full-time with a
/// required time-offset ("Z"/"z" or +hh:mm / -hh:mm). The date must be a real
/// Gregorian calendar date; hour 00-23, minute 00-59, second 00-60 (60 only
/// as a leap second, i.e. with minute 59); optional fraction "." plus 1+
/// digits; offset hours 00-23, minutes 00-59. Exactly 4-digit year and
/// 2-digit fields, no spaces, nothing trailing. A strict check means the API
/// never has to guess a time zone or repair a date.
pub(crate) fn is_rfc3339_date_time(s: &str) -> bool {
    parse_rfc3339(s).is_some()
}

/// Looks like a phone number Hero's SMS provider can use, so we fail fast
/// instead of sending a message that can never be delivered.
///
/// Optional leading '+', then digits with optional single spaces or hyphens
/// between them, and at most one parenthesised digit group such as "(0)"
/// between digits; no letters or other characters, no leading/trailing
/// space. With '+': 8 to 15 digits in all (E.164), first digit not 0. Without
/// '+': a number starting "00" is an international prefix that must be
/// followed by 8 to 15 digits (first not 0, as with '+'); any other number
/// must start with '0' (UK national format) and have 10 or 11 digits.
/// Digits inside the parentheses are counted.
pub(crate) fn is_phone_number(s: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Prev {
        Start,
        Digit,
        Sep,
        Open,
        ParenDigit,
        Close,
    }

    let (plus, body) = match s.as_bytes().split_first() {
        Some((b'+', rest)) => (true, rest),
        _ => (false, s.as_bytes()),
    };

    let mut prev = Prev::Start;
    let mut paren_seen = false;
    let mut count = 0usize;
    for &c in body {
        prev = match (prev, c) {
            (Prev::Start | Prev::Digit | Prev::Sep | Prev::Close, b'0'..=b'9') => {
                count += 1;
                Prev::Digit
            }
            (Prev::Open | Prev::ParenDigit, b'0'..=b'9') => {
                count += 1;
                Prev::ParenDigit
            }
            (Prev::Digit | Prev::Close, b' ' | b'-') => Prev::Sep,
            (Prev::Digit | Prev::Sep, b'(') if !paren_seen => {
                paren_seen = true;
                Prev::Open
            }
            (Prev::ParenDigit, b')') => Prev::Close,
            _ => return false,
        };
    }
    if prev != Prev::Digit {
        return false;
    }

    let mut digits = body.iter().copied().filter(u8::is_ascii_digit);
    let first = digits.next();
    if plus {
        return (8..=15).contains(&count) && first != Some(b'0');
    }
    if first != Some(b'0') {
        return false;
    }
    if digits.next() == Some(b'0') {
        // "00" international prefix: the rest is an E.164 number.
        (8..=15).contains(&(count - 2)) && digits.next() != Some(b'0')
    } else {
        (10..=11).contains(&count)
    }
}

/// Looks like an email address: exactly one '@'; local part 1-64 chars of the
/// RFC 5322 dot-atom set (letters, digits, the specials !#$%&'*+/=?^_{|}~-
/// and backtick, and dots, with no leading/trailing/double dot); domain 1-253
/// chars, two or more dot-separated labels of 1-63 letters/digits/hyphens not
/// starting or ending with a hyphen, last label at least 2 chars and not all
/// digits; at most 254 chars in all; ASCII only, no whitespace. Deliberately
/// stricter than RFC 5322 (no quoted strings, comments or IP literals), which
/// are rarely deliverable in practice and almost always a typo here.
pub(crate) fn is_email_address(s: &str) -> bool {
    if s.len() > 254 || !s.is_ascii() {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    is_dot_atom_local_part(local) && is_domain_name(domain)
}

/// Parse an HTTP-date (RFC 9110 section 5.6.7), as seen in `Date` and
/// `Retry-After` headers: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the
/// obsolete RFC 850 form "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit year:
/// 00-69 is 20xx, 70-99 is 19xx) and the asctime form
/// "Sun Nov  6 08:49:37 1994". Names are case-sensitive as in the RFC; the
/// weekday is only checked to be a valid name, not the right day. Returns
/// seconds since the Unix epoch (UTC); None for anything invalid, including
/// an impossible date or one before 1970. A leap second (:60, minute 59)
/// is accepted and counts as the first second of the next minute.
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    let (year, month, day, secs_of_day) = parse_imf_fixdate(s)
        .or_else(|| parse_rfc850_date(s))
        .or_else(|| parse_asctime_date(s))?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(days * SECS_PER_DAY + u64::from(secs_of_day))
}

/// Format Unix seconds as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" (the inverse of
/// the calendar maths used by [`parse_http_date`]), for journal listings and tests.
/// Years past 9999 are printed with more digits rather than wrapped.
pub(crate) fn format_rfc3339_utc(unix_secs: u64) -> String {
    let (year, month, day) = civil_from_days(unix_secs / SECS_PER_DAY);
    let secs = unix_secs % SECS_PER_DAY;
    let (hour, minute, second) = (secs / 3600, secs % 3600 / 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

// ---------------------------------------------------------------------------
// Calendar helpers
// ---------------------------------------------------------------------------

/// Gregorian leap year: every 4th year, except centuries not divisible by 400.
fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1-12) of `year`; 0 for an invalid month.
pub(crate) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (negative before
/// the epoch). Counts in 400-year eras whose years start on 1 March, so the
/// leap day falls at the end of the counted year.
pub(crate) fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400); // 0..=399
    let month_from_march = i64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1; // 0..=365
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 = days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`] for dates on or after the epoch:
/// (year, month 1-12, day 1-31) for a count of days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097; // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------

/// Minimal byte cursor for fixed-format parsers; every step is all-or-nothing.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self { rest: s.as_bytes() }
    }

    /// Consume `lit` exactly.
    fn lit(&mut self, lit: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(lit.as_bytes())?;
        Some(())
    }

    /// Consume one byte if it is one of `choices`, returning it.
    fn one_of(&mut self, choices: &[u8]) -> Option<u8> {
        let (&b, tail) = self.rest.split_first()?;
        if !choices.contains(&b) {
            return None;
        }
        self.rest = tail;
        Some(b)
    }

    /// Consume exactly `n` (at most 9) ASCII digits and return their value.
    fn num(&mut self, n: usize) -> Option<u32> {
        debug_assert!(n <= 9, "u32 overflow");
        let (head, tail) = self.rest.split_at_checked(n)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.rest = tail;
        Some(head.iter().fold(0, |v, &d| v * 10 + u32::from(d - b'0')))
    }

    /// Consume one or more ASCII digits, discarding them.
    fn skip_digits(&mut self) -> Option<()> {
        let n = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        self.rest = &self.rest[n..];
        Some(())
    }

    /// Consume the first of `names` that matches; return its index.
    fn name(&mut self, names: &[&str]) -> Option<usize> {
        let i = names
            .iter()
            .position(|n| self.rest.starts_with(n.as_bytes()))?;
        self.rest = &self.rest[names[i].len()..];
        Some(i)
    }

    /// Succeed only if all input has been consumed.
    fn end(&self) -> Option<()> {
        self.rest.is_empty().then_some(())
    }

    /// "HH:MM:SS" with hour 0-23, minute 0-59, second 0-60 (60 only with
    /// minute 59); returns seconds since midnight, the leap second rolling
    /// into the next minute.
    fn time_of_day(&mut self) -> Option<u32> {
        let hour = self.num(2)?;
        self.lit(":")?;
        let minute = self.num(2)?;
        self.lit(":")?;
        let second = self.num(2)?;
        let ok = hour <= 23 && minute <= 59 && (second <= 59 || (second == 60 && minute == 59));
        ok.then_some(hour * 3600 + minute * 60 + second)
    }
}

const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Month name to 1-12.
fn month(c: &mut Cursor<'_>) -> Option<u32> {
    let i = c.name(&MONTHS)?;
    u32::try_from(i + 1).ok()
}

/// (year, month, day, seconds of day) as parsed; the day is not yet checked.
type HttpDateParts = (u32, u32, u32, u32);

/// "Sun, 06 Nov 1994 08:49:37 GMT"
fn parse_imf_fixdate(s: &str) -> Option<HttpDateParts> {
    let mut c = Cursor::new(s);
    c.name(&SHORT_DAYS)?;
    c.lit(", ")?;
    let day = c.num(2)?;
    c.lit(" ")?;
    let month = month(&mut c)?;
    c.lit(" ")?;
    let year = c.num(4)?;
    c.lit(" ")?;
    let time = c.time_of_day()?;
    c.lit(" GMT")?;
    c.end()?;
    Some((year, month, day, time))
}

/// "Sunday, 06-Nov-94 08:49:37 GMT"
fn parse_rfc850_date(s: &str) -> Option<HttpDateParts> {
    let mut c = Cursor::new(s);
    c.name(&LONG_DAYS)?;
    c.lit(", ")?;
    let day = c.num(2)?;
    c.lit("-")?;
    let month = month(&mut c)?;
    c.lit("-")?;
    let yy = c.num(2)?;
    c.lit(" ")?;
    let time = c.time_of_day()?;
    c.lit(" GMT")?;
    c.end()?;
    let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
    Some((year, month, day, time))
}

/// "Sun Nov  6 08:49:37 1994" (day is two digits or a space and one digit)
fn parse_asctime_date(s: &str) -> Option<HttpDateParts> {
    let mut c = Cursor::new(s);
    c.name(&SHORT_DAYS)?;
    c.lit(" ")?;
    let month = month(&mut c)?;
    c.lit(" ")?;
    let day = if c.lit(" ").is_some() {
        c.num(1)?
    } else {
        c.num(2)?
    };
    c.lit(" ")?;
    let time = c.time_of_day()?;
    c.lit(" ")?;
    let year = c.num(4)?;
    c.end()?;
    Some((year, month, day, time))
}

/// Structural and range check behind [`is_rfc3339_date_time`].
fn parse_rfc3339(s: &str) -> Option<()> {
    let mut c = Cursor::new(s);
    let year = c.num(4)?;
    c.lit("-")?;
    let month = c.num(2)?;
    c.lit("-")?;
    let day = c.num(2)?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    c.one_of(b"Tt")?;
    c.time_of_day()?;
    if c.lit(".").is_some() {
        c.skip_digits()?;
    }
    if c.one_of(b"+-").is_some() {
        let hours = c.num(2)?;
        c.lit(":")?;
        let minutes = c.num(2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
    } else {
        c.one_of(b"Zz")?;
    }
    c.end()
}

/// RFC 5322 `atext` (the characters of a dot-atom other than '.').
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b)
}

/// 1-64 chars, dot-separated non-empty runs of `atext`.
fn is_dot_atom_local_part(local: &str) -> bool {
    (1..=64).contains(&local.len())
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

/// 1-253 chars, 2+ LDH labels of 1-63 chars, TLD-like last label.
fn is_domain_name(domain: &str) -> bool {
    if !(1..=253).contains(&domain.len()) {
        return false;
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in domain.split('.') {
        let ok = (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && !last.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verhoeff_tables_are_consistent() {
        let is_permutation = |row: &[u8; 10]| {
            let mut seen = [false; 10];
            for &v in row {
                seen[usize::from(v)] = true;
            }
            seen.iter().all(|&s| s)
        };
        assert!(VERHOEFF_D.iter().all(is_permutation));
        assert!(VERHOEFF_P.iter().all(is_permutation));
        for pair in VERHOEFF_P.windows(2) {
            for (j, &v) in pair[1].iter().enumerate() {
                assert_eq!(v, pair[0][usize::from(VERHOEFF_P[1][j])]);
            }
        }
    }

    #[test]
    fn verhoeff_known_examples() {
        assert!(verhoeff_valid("2363"));
        assert!(!verhoeff_valid("2364"));
        let check: Vec<char> = ('0'..='9')
            .filter(|d| verhoeff_valid(&format!("236{d}")))
            .collect();
        assert_eq!(check, ['3']);
        for bad in ["", "23a3", " 2363", "2363 ", "+2363"] {
            assert!(!verhoeff_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn verhoeff_catches_single_digit_errors_and_transpositions() {
        let id = "185317003";
        for (i, orig) in id.bytes().enumerate() {
            for d in b'0'..=b'9' {
                if d != orig {
                    let mut bytes = id.as_bytes().to_vec();
                    bytes[i] = d;
                    let typo = String::from_utf8(bytes).unwrap();
                    assert!(!verhoeff_valid(&typo), "{typo}");
                }
            }
        }
        for i in 0..id.len() - 1 {
            let mut bytes = id.as_bytes().to_vec();
            if bytes[i] != bytes[i + 1] {
                bytes.swap(i, i + 1);
                let swapped = String::from_utf8(bytes).unwrap();
                assert!(!verhoeff_valid(&swapped), "{swapped}");
            }
        }
    }

    #[test]
    fn snomed_ct_ids() {
        let valid = [
            "185317003",
            "22298006",
            "38341003",
            "73211009",
            "195967001",
            "44054006",
            "271737000",
            "404684003",
            "138875005",
            "900000000000207008",
            "999000011000000103",
        ];
        for id in valid {
            assert!(is_snomed_ct_id(id), "should accept {id:?}");
        }
        let invalid = [
            "123456789",
            "185317004",
            "12345",
            "1234567890123456789",
            "0185317003",
            "18531700a",
            "",
            " 185317003",
            "185317003 ",
        ];
        for id in invalid {
            assert!(!is_snomed_ct_id(id), "should reject {id:?}");
        }
    }

    #[test]
    fn rfc3339_date_times() {
        let valid = [
            "2019-08-24T14:15:22Z",
            "2026-11-25T09:30:00+00:00",
            "2024-02-29T23:59:60Z",
            "1985-04-12T23:20:50.52Z",
            "1996-12-19T16:39:57-08:00",
            "2026-03-29t01:30:00z",
            "2000-02-29T00:00:00Z",
            "2026-12-31T23:59:59.123456789+23:59",
            "1937-01-01T12:00:27.87+00:20",
        ];
        for s in valid {
            assert!(is_rfc3339_date_time(s), "should accept {s:?}");
        }
        let invalid = [
            "2019-08-24T14:15:22",
            "2019-08-24 14:15:22Z",
            "2023-02-29T10:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-04-00T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T10:60:00Z",
            "2026-11-25T10:00:60Z",
            "2026-11-25T10:00:00+24:00",
            "2026-11-25T10:00:00+05:60",
            "2026-11-25T10:00:00+0500",
            "2026-11-25T10:00:00.Z",
            "2026-11-25",
            "2026-11-25T10:00Z",
            " 2026-11-25T10:00:00Z",
            "2026-11-25T10:00:00Z ",
            "1900-02-29T00:00:00Z",
            "26-11-25T10:00:00Z",
            "2026-1-25T10:00:00Z",
            "2026-11-25T10:00:00ZZ",
            "",
        ];
        for s in invalid {
            assert!(!is_rfc3339_date_time(s), "should reject {s:?}");
        }
    }

    #[test]
    fn http_dates() {
        let valid = [
            ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
            ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
            ("Sun Nov  6 08:49:37 1994", 784_111_777),
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
            ("Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000),
            ("Thursday, 29-Feb-24 12:00:00 GMT", 1_709_208_000),
            ("Thu Feb 29 12:00:00 2024", 1_709_208_000),
            ("Sat, 01 Jan 2000 00:00:00 GMT", 946_684_800),
        ];
        for (s, want) in valid {
            assert_eq!(parse_http_date(s), Some(want), "{s:?}");
        }
        let invalid = [
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "garbage",
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06-Nov-94 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "Mon, 29 Feb 1900 00:00:00 GMT",
        ];
        for s in invalid {
            assert_eq!(parse_http_date(s), None, "should reject {s:?}");
        }
    }

    #[test]
    fn rfc850_two_digit_years() {
        assert_eq!(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT"),
            Some(946_684_800)
        );
        assert_eq!(
            parse_http_date("Friday, 31-Dec-69 23:59:59 GMT").map(format_rfc3339_utc),
            Some("2069-12-31T23:59:59Z".to_owned())
        );
    }

    #[test]
    fn format_rfc3339() {
        assert_eq!(format_rfc3339_utc(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(format_rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        let leap = parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT").unwrap();
        let formatted = format_rfc3339_utc(leap);
        assert_eq!(formatted, "2024-02-29T23:59:59Z");
        assert!(is_rfc3339_date_time(&formatted));
        assert_eq!(format_rfc3339_utc(leap + 1), "2024-03-01T00:00:00Z");
    }

    #[test]
    fn calendar_round_trip() {
        // Every day from 1970 to past 2400 (covers 2000 and 2100/2200/2300).
        let mut expected = (1970, 1, 1);
        for days in 0..160_000u64 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!((y, m, d), expected);
            let [y32, m32, d32] = [y, m, d].map(|v| u32::try_from(v).unwrap());
            assert_eq!(days_from_civil(y32, m32, d32), i64::try_from(days).unwrap());
            expected = if d32 < days_in_month(y32, m32) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(1600, 3, 1), -135_080);
    }

    #[test]
    fn phone_numbers() {
        let valid = [
            "07700 900123",
            "07700900123",
            "+44 7700 900123",
            "+447700900123",
            "+44 (0)7700 900123",
            "+44(0)7700 900123",
            "+44 79000000000",
            "07788 123456",
            "020 7946 0958",
            "0044 7700 900123",
            "020-7946-0958",
            "+1 202-555-0173",
        ];
        for s in valid {
            assert!(is_phone_number(s), "should accept {s:?}");
        }
        let invalid = [
            "",
            "7700 900123",
            "+44",
            "0770",
            "07700 900123 ext 4",
            "07700  900123",
            "+44 7700 9001234567890",
            "07700-900-12a",
            " 07700 900123",
            "07700 900123 ",
            "+",
            "++447700900123",
            "+04 7700 900123",
            "+ 44 7700 900123",
            "07700 -900123",
            "07700 900123-",
            "(020) 7946 0958",
            "+44 ()7700 900123",
            "+44 (0 )7700 900123",
            "+44 (0)(0)7700 900123",
            "+44 (0)",
            "077009001234",
            "0044 77",
            "00044 7700 900123",
            "07700.900123",
            "０7700 900123",
        ];
        for s in invalid {
            assert!(!is_phone_number(s), "should reject {s:?}");
        }
    }

    #[test]
    fn email_addresses() {
        let valid = [
            "patient@email.com",
            "a.b+tag@nhs.net",
            "x@sub.example.co.uk",
            "o'brien@example.org",
            "!#$%&'*+/=?^_`{|}~-@x-y.example",
        ];
        for s in valid {
            assert!(is_email_address(s), "should accept {s:?}");
        }
        let long_local = format!("{}@nhs.net", "a".repeat(65));
        let long_label = format!("a@{}.net", "b".repeat(64));
        // 64 + 1 + 191 = 256 chars, although both parts are within their limits.
        let long_total = format!(
            "{}@{}.uk",
            "a".repeat(64),
            vec!["c".repeat(62); 3].join(".")
        );
        let invalid = [
            "patient",
            "@nhs.net",
            "a@b",
            "a@@b.com",
            "a@b@nhs.net",
            "a b@nhs.net",
            "a..b@nhs.net",
            ".a@nhs.net",
            "a.@nhs.net",
            "a@-nhs.net",
            "a@nhs-.net",
            "a@nhs..net",
            "a@nhs.net.",
            "a@nhs.123",
            "a@nhs.n",
            "a@nhs.net ",
            "pätient@nhs.net",
            "a@",
            "",
            long_local.as_str(),
            long_label.as_str(),
            long_total.as_str(),
        ];
        for s in invalid {
            assert!(!is_email_address(s), "should reject {s:?}");
        }
        assert!(is_email_address(&format!("{}@nhs.net", "a".repeat(64))));
    }
}
