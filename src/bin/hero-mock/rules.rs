//! Request checks for `POST /v1/messages/send`, following Hero's reference and
//! deliberately stricter where a lenient server would hide a client bug.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Every request field the reference documents, in its order; the first
/// broken rule is reported in this order.
const FIELDS: [&str; 17] = [
    "patient_id",
    "message_type",
    "message_string",
    "recipient_contact_detail",
    "fallback_contact_detail",
    "fallback_message_type",
    "write_to_record",
    "encrypted",
    "snomed_code",
    "snomed_term",
    "auto_write_to_record",
    "task_id",
    "attachment_uuid",
    "short_link_id",
    "assignee_id",
    "assignee_type",
    "send_at",
];

const REQUIRED: [&str; 3] = ["patient_id", "message_type", "message_string"];

/// What the reply needs from a request that passed every rule.
pub struct Message {
    pub patient_id: String,
    pub message_string: String,
    pub write_to_record: bool,
    pub auto_write_to_record: bool,
    pub snomed_code: Option<String>,
    pub send_at: Option<String>,
}

/// The first broken rule, reported as `"<field>: <rule>"`.
pub struct Violation {
    pub field: String,
    pub rule: &'static str,
}

fn violation(field: &str, rule: &'static str) -> Violation {
    Violation {
        field: field.to_owned(),
        rule,
    }
}

/// `application/json`, with parameters allowed; a charset other than UTF-8
/// is refused because JSON on the wire must be UTF-8 (RFC 8259).
pub fn is_json_content_type(value: Option<&[u8]>) -> bool {
    let Some(Ok(value)) = value.map(std::str::from_utf8) else {
        return false;
    };
    let mut parts = value.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/json")
        && parts.all(|param| match param.split_once('=') {
            Some((name, v)) if name.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// A JSON object that also remembers the first key it saw twice, since
/// serde_json would otherwise keep the last value silently.
pub struct Body {
    fields: Map<String, Value>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Body, D::Error> {
        deserializer.deserialize_map(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Body, A::Error> {
        let mut body = Body {
            fields: Map::new(),
            duplicate: None,
        };
        while let Some((key, value)) = entries.next_entry::<String, Value>()? {
            if body.duplicate.is_none() && body.fields.contains_key(&key) {
                body.duplicate = Some(key.clone());
            }
            body.fields.insert(key, value);
        }
        Ok(body)
    }
}

/// `None` unless the bytes are exactly one JSON object.
pub fn parse_object(bytes: &[u8]) -> Option<Body> {
    serde_json::from_slice(bytes).ok()
}

pub fn validate(body: &Body) -> Result<Message, Violation> {
    let fields = &body.fields;
    if let Some(key) = &body.duplicate {
        return Err(violation(key, "duplicate field"));
    }
    if let Some(key) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(violation(key, "unknown field"));
    }
    for name in FIELDS {
        match fields.get(name) {
            None if REQUIRED.contains(&name) => return Err(violation(name, "is required")),
            None => {}
            Some(Value::Null) => return Err(violation(name, "must be omitted, not null")),
            Some(value) => check_field(name, value).map_err(|rule| violation(name, rule))?,
        }
    }
    match (
        fields.contains_key("assignee_id"),
        fields.contains_key("assignee_type"),
    ) {
        (true, false) => {
            return Err(violation(
                "assignee_type",
                "is required when assignee_id is given",
            ));
        }
        (false, true) => {
            return Err(violation(
                "assignee_id",
                "is required when assignee_type is given",
            ));
        }
        _ => {}
    }

    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let flag = |name: &str| fields.get(name).and_then(Value::as_bool).unwrap_or(false);
    Ok(Message {
        patient_id: text("patient_id").unwrap_or_default(),
        message_string: text("message_string").unwrap_or_default(),
        write_to_record: flag("write_to_record"),
        auto_write_to_record: flag("auto_write_to_record"),
        snomed_code: text("snomed_code"),
        send_at: text("send_at"),
    })
}

fn check_field(name: &str, value: &Value) -> Result<(), &'static str> {
    let text = value.as_str();
    let (ok, rule) = match name {
        // `^\d+$` in the reference's (ECMA) dialect: ASCII digits only.
        "patient_id" => (
            text.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())),
            "must be a string of digits, e.g. \"12345\"",
        ),
        "message_type" => (
            one_of(text, &["hero", "sms", "email", "nhs_app"]),
            "must be one of hero, sms, email, nhs_app",
        ),
        "fallback_message_type" => (one_of(text, &["sms", "email"]), "must be one of sms, email"),
        "assignee_type" => (
            one_of(text, &["Admin", "AdminTeam"]),
            "must be one of Admin, AdminTeam",
        ),
        "message_string" | "attachment_uuid" | "short_link_id" => (
            text.is_some_and(|s| !s.is_empty()),
            "must be a non-empty string",
        ),
        "write_to_record" | "auto_write_to_record" => (value.is_boolean(), "must be a boolean"),
        "encrypted" => (
            value.is_boolean() || value.is_string(),
            "must be a boolean or a string",
        ),
        "assignee_id" => (
            value
                .as_f64()
                .is_some_and(|n| n.is_finite() && n.fract() == 0.0 && n >= 0.0),
            "must be a whole, non-negative number",
        ),
        "send_at" => (
            text.is_some_and(is_rfc3339),
            "must be an RFC 3339 date-time with offset, e.g. 2019-08-24T14:15:22Z",
        ),
        _ => (value.is_string(), "must be a string"),
    };
    if ok { Ok(()) } else { Err(rule) }
}

fn one_of(text: Option<&str>, allowed: &[&str]) -> bool {
    text.is_some_and(|s| allowed.contains(&s))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` with real calendar ranges.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let parts = (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    );
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = parts else {
        return false;
    };
    let separators = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    // RFC 3339 allows second 60 for leap seconds.
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !separators || !in_range {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit()).then(|| (a - b'0') * 10 + (b - b'0'))
            };
            matches!((two(*h1, *h2), two(*m1, *m2)), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
