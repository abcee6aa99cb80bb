//! Phone numbers as practices export them. `07700900123`, `07700 900 123`,
//! `+447700900123`, `+44 (0)7700 900123` and `(07700) 900123` are one UK
//! mobile. A row that names its patient by lookup sends every UK mobile in
//! E.164 (`+447700900123`), so two spellings of one number are one message
//! (the duplicate check sees them alike). A row with `patient_id` sends a
//! number the message checks accept as written, so its body, and the key
//! derived from it, stay what they were before this rule (a rerun against
//! an older journal finds its keys); only a UK mobile the checks would
//! refuse (`(07700) 900123`) is sent in E.164. Anything else is passed on as
//! given, for the message checks to refuse exactly as for a single send.

/// The E.164 form of a UK mobile number (07 and nine more digits, with
/// spaces, hyphens and one pair of parentheses allowed between), or `None`
/// when `value` is not one.
pub(crate) fn uk_mobile(value: &str) -> Option<String> {
    let value = value.trim();
    if !value
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'(' | b')' | b'+'))
        || value.matches('(').count() > 1
        || value.matches('(').count() != value.matches(')').count()
        || value.rfind('+').is_some_and(|i| i != 0)
    {
        return None;
    }
    let mut digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if value.starts_with('+') {
        // +44 7700..., or +44 (0)7700... with the national 0 in brackets.
        digits = digits.strip_prefix("44")?.to_owned();
        if value.contains("(0)") {
            digits = digits.strip_prefix('0')?.to_owned();
        }
    } else if let Some(rest) = digits.strip_prefix("0044") {
        digits = rest.to_owned();
    } else {
        digits = digits.strip_prefix('0')?.to_owned();
    }
    (digits.len() == 10 && digits.starts_with('7')).then(|| format!("+44{digits}"))
}

/// A contact cell as sent: a UK mobile in E.164 when `normal_form` (rows
/// found by lookup) or when the message checks would refuse it as
/// written; anything else as written.
pub(crate) fn as_sent(value: &str, normal_form: bool) -> String {
    if !normal_form && crate::message::checks::is_phone_number(value) {
        return value.to_owned();
    }
    uk_mobile(value).unwrap_or_else(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mobile_however_written() {
        for s in [
            "07700900123",
            "07700 900 123",
            "+447700900123",
            "(07700) 900123",
            "+44 (0)7700 900123",
            "0044 7700 900123",
            "07700-900-123",
            " 07700 900123 ",
        ] {
            assert_eq!(uk_mobile(s).as_deref(), Some("+447700900123"), "{s}");
        }
        assert_eq!(
            as_sent("07700 900 123", false),
            "07700 900 123",
            "accepted as written"
        );
        assert_eq!(as_sent("07700 900 123", true), "+447700900123");
        assert_eq!(as_sent("(07700) 900123", false), "+447700900123");
        assert_eq!(as_sent(" 07700 900123", false), "+447700900123");
        // Landlines, short numbers, other countries and junk pass unchanged,
        // for the message checks to judge.
        for s in [
            "020 7946 0958",
            "(020) 7946 0958",
            "0770090012",
            "077009001234",
            "+1 202-555-0173",
            "7700900123",
            "07700 9001 23 ext",
            "ann@example.org",
            "0+7700900123",
        ] {
            assert_eq!(uk_mobile(s), None, "{s}");
            assert_eq!(as_sent(s, true), s);
        }
    }
}
