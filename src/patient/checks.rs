//! The lookup's checks before any request: NHS number (Modulus 11), date of
//! birth, names and postcode. Each error names the field and the rule, never
//! the value: these are patient identifiers.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::message::checks::{days_from_civil, days_in_month};

/// Hero's form of an NHS number: the 10 digits with any spaces removed
/// (`943 476 5919` is written as `9434765919`), when the number is valid.
pub(crate) fn nhs_number(value: &str) -> Result<String, Error> {
    let digits: String = value.chars().filter(|c| *c != ' ').collect();
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "nhs_number",
            "must be 10 digits (spaces between them are allowed)",
        ));
    }
    if !modulus_11_valid(&digits) {
        return Err(Error::invalid(
            "nhs_number",
            "the check digit is wrong (NHS Modulus 11): a digit may be mistyped",
        ));
    }
    Ok(digits)
}

/// The NHS Modulus 11 rule over 10 ASCII digits: weights 10 down to 2 over
/// the first nine, check digit 11 minus the remainder (11 reads as 0; 10
/// means no valid number has these nine digits).
pub(crate) fn modulus_11_valid(digits: &str) -> bool {
    let d = digits.as_bytes();
    if d.len() != 10 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    u32::from(d[9] - b'0') == check
}

/// A date of birth: a real calendar date written `YYYY-MM-DD`, not after
/// today (UTC).
pub(crate) fn dob(value: &str) -> Result<(), Error> {
    let days = calendar_days(value)
        .ok_or_else(|| Error::invalid("dob", "must be a real calendar date written YYYY-MM-DD"))?;
    if days > today_days() {
        return Err(Error::invalid("dob", "must not be in the future"));
    }
    Ok(())
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date that exists.
fn calendar_days(s: &str) -> Option<i64> {
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
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    // Year 0 and earlier centuries than any living patient are typing slips.
    (year >= 1800 && day >= 1 && day <= days_in_month(year, month))
        .then(|| days_from_civil(year, month, day))
}

fn today_days() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 86_400).unwrap_or(i64::MAX)
}

/// A name or partner field: not blank, no control characters.
pub(crate) fn text(field: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A UK postcode's shape (outward code A9, A99, AA9, AA99, A9A or AA9A, then
/// the inward code 9AA; any case, the space optional), written as Hero's
/// examples write it: upper case, one space before the inward code.
pub(crate) fn postcode(value: &str) -> Result<String, Error> {
    text("postcode", value)?;
    let compact: String = value
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !is_uk_postcode(&compact) {
        return Err(Error::invalid(
            "postcode",
            "must have the shape of a UK postcode (such as AA9A 9AA)",
        ));
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    Ok(format!("{outward} {inward}"))
}

fn is_uk_postcode(s: &str) -> bool {
    let b = s.as_bytes();
    if !(5..=7).contains(&b.len()) || !b.is_ascii() {
        return false;
    }
    let (outward, inward) = b.split_at(b.len() - 3);
    let alpha = |c: &u8| c.is_ascii_uppercase();
    let digit = |c: &u8| c.is_ascii_digit();
    let inward_ok = digit(&inward[0]) && alpha(&inward[1]) && alpha(&inward[2]);
    // A letter, or two, then a digit, then optionally a digit or a letter.
    let letters = outward.iter().take_while(|c| alpha(c)).count();
    let rest = &outward[letters..];
    let outward_ok = (1..=2).contains(&letters)
        && match rest {
            [d] => digit(d),
            [d, e] => digit(d) && (digit(e) || alpha(e)),
            _ => false,
        };
    inward_ok && outward_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_11_table() {
        let table = [
            // Hero's own illustrative number: remainder 1, check digit 10.
            ("123 456 7891", false),
            ("943 476 5919", true),
            ("9434765919", true),
            ("9434765918", false),
            ("4010232137", true),
            ("9990000018", true),
            // Two adjacent digits swapped.
            ("9434765991", false),
            // Remainder 0: a check digit of 11 reads as 0.
            ("0000000000", true),
        ];
        for (number, valid) in table {
            let digits: String = number.chars().filter(|c| *c != ' ').collect();
            assert_eq!(modulus_11_valid(&digits), valid, "{number}");
            assert_eq!(nhs_number(number).is_ok(), valid, "{number}");
        }
        assert!(!modulus_11_valid("943476591"));
        assert!(!modulus_11_valid("94347659x9"));
    }

    #[test]
    fn nhs_number_rules_name_the_field_never_the_value() {
        assert_eq!(nhs_number("943 476 5919").unwrap(), "9434765919");
        assert_eq!(nhs_number(" 9434765919 ").unwrap(), "9434765919");
        for bad in [
            "",
            "94347659",
            "94347659190",
            "943-476-5919",
            "943\t476\t5919",
            "１２３",
        ] {
            let e = nhs_number(bad).unwrap_err();
            assert_eq!(e.field(), Some("nhs_number"), "{bad:?}");
            assert!(e.to_string().contains("10 digits"), "{e}");
        }
        let e = nhs_number("123 456 7891").unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("Modulus 11"), "{shown}");
        assert!(!shown.contains("123") && !shown.contains("7891"), "{shown}");
    }

    #[test]
    fn dates_of_birth() {
        for good in ["1992-01-01", "2000-02-29", "1989-04-11", "1900-12-31"] {
            assert!(dob(good).is_ok(), "{good}");
        }
        for bad in [
            "1992-1-1",
            "1992-02-30",
            "1900-02-29",
            "1992-13-01",
            "1992-00-10",
            "1992-01-00",
            "01/01/1992",
            "1992-01-01T00:00:00Z",
            "0000-01-01",
            "+992-01-01",
            "",
        ] {
            let e = dob(bad).unwrap_err();
            assert_eq!(e.field(), Some("dob"), "{bad}");
            assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
        }
        let e = dob("9999-12-31").unwrap_err();
        assert!(e.to_string().contains("future"), "{e}");
        assert!(!format!("{e}{e:?}").contains("9999"));
    }

    #[test]
    fn postcodes() {
        for (given, sent) in [
            ("LS1 4AP", "LS1 4AP"),
            ("ls14ap", "LS1 4AP"),
            ("M1 1AE", "M1 1AE"),
            ("B33 8TH", "B33 8TH"),
            ("CR2 6XH", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("W1A 0AX", "W1A 0AX"),
            ("EC1A 1BB", "EC1A 1BB"),
        ] {
            assert_eq!(postcode(given).unwrap(), sent, "{given}");
        }
        for bad in [
            "",
            "   ",
            "LS1",
            "1S1 4AP",
            "LS1 AAP",
            "ABC1 4AP",
            "LS1 4A",
            "LS123 4AP",
        ] {
            let e = postcode(bad).unwrap_err();
            assert_eq!(e.field(), Some("postcode"), "{bad:?}");
            assert!(!format!("{e}{e:?}").contains("LS1"), "{e}");
        }
    }

    #[test]
    fn names() {
        assert!(text("forename", "Ann-Marie").is_ok());
        assert_eq!(text("surname", " ").unwrap_err().field(), Some("surname"));
        assert!(text("forename", "A\nB").is_err());
    }
}
