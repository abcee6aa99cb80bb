//! The server's reason for a failure, read from a JSON error body.
//!
//! There is no published error schema, so the usual shapes are read:
//! `{"message": ...}`, `{"detail": ...}`, `{"errors": ...}` and
//! `{"error": "..."}`, each a string or arrays/objects of strings (the first
//! usable one wins, in that order), plus an optional `"field"`. The reason may quote
//! patient data, so it is kept apart from the error's `Display` text.

use serde_json::{Map, Value};

use crate::message::request::FIELD_NAMES;
use crate::text;

/// The keys a reason is looked for under, in order. `error` comes last:
/// beside a `message`, as in the common framework shapes (NestJS, Fastify,
/// Spring: `{"error": "Bad Request", "message": "..."}`), it holds only the
/// status phrase or a code, while `message` says what to fix.
const KEYS: [&str; 4] = ["message", "detail", "errors", "error"];

/// How deep nested arrays/objects are searched.
const DEPTH: u8 = 4;

/// What an error body says, when it says anything usable.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reason {
    /// Short, stripped of control and bidi characters, capped.
    pub(crate) message: Option<String>,
    /// A request field the body names (only one of the 17 known names).
    pub(crate) field: Option<&'static str>,
}

/// Reads `body`; an empty [`Reason`] when it is not a JSON object.
pub(crate) fn read(body: &[u8]) -> Reason {
    // Cheap refusal of the common non-JSON bodies (HTML, plain text).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Reason::default();
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Reason::default();
    };
    let message = from_object(&map, DEPTH).and_then(|m| text::reason(&m));
    let field = map
        .get("field")
        .and_then(Value::as_str)
        .and_then(known_field)
        .or_else(|| message.as_deref().and_then(field_prefix));
    Reason { message, field }
}

/// The static name of a request field, when `name` is one.
fn known_field(name: &str) -> Option<&'static str> {
    FIELD_NAMES.iter().copied().find(|f| *f == name.trim())
}

/// `patient_id` in `"patient_id: patient not found"`.
fn field_prefix(message: &str) -> Option<&'static str> {
    message
        .split_once(':')
        .and_then(|(head, _)| known_field(head))
}

/// The first usable text under the usual keys; failing those, under any
/// key, prefixed with it (`{"patient_id": ["not found"]}`).
fn from_object(map: &Map<String, Value>, depth: u8) -> Option<String> {
    let usual = KEYS
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| first_text(v, depth)));
    if let Some(text) = usual {
        // `{"field": "patient_id", "message": "not found"}` reads as one.
        return Some(match map.get("field").and_then(Value::as_str) {
            Some(f) if known_field(f).is_some() && field_prefix(&text).is_none() => {
                format!("{}: {text}", f.trim())
            }
            _ => text,
        });
    }
    map.iter()
        .filter(|(k, _)| k.as_str() != "field")
        .find_map(|(k, v)| first_text(v, depth).map(|t| format!("{k}: {t}")))
}

fn first_text(value: &Value, depth: u8) -> Option<String> {
    match value {
        Value::String(s) if text::reason(s).is_some() => Some(s.clone()),
        Value::Array(items) if depth > 0 => items.iter().find_map(|v| first_text(v, depth - 1)),
        Value::Object(map) if depth > 0 => from_object(map, depth - 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(body: &str) -> (Option<String>, Option<&'static str>) {
        let reason = read(body.as_bytes());
        (reason.message, reason.field)
    }

    #[test]
    fn usual_shapes() {
        let some = |m: &str, f: Option<&'static str>| (Some(m.to_owned()), f);
        assert_eq!(
            r(r#"{"error":"patient_id: patient not found","field":"patient_id"}"#),
            some("patient_id: patient not found", Some("patient_id"))
        );
        assert_eq!(r(r#"{"error":"Unauthorised"}"#), some("Unauthorised", None));
        assert_eq!(
            r(r#"{"message":"send_at: must be in the future"}"#),
            some("send_at: must be in the future", Some("send_at"))
        );
        assert_eq!(r(r#"{"detail":["", "too many"]}"#), some("too many", None));
        assert_eq!(
            r(r#"{"errors":{"snomed_code":["unknown concept"]}}"#),
            some("snomed_code: unknown concept", Some("snomed_code"))
        );
        assert_eq!(
            r(r#"{"errors":[{"field":"task_id","message":"no such task"}]}"#),
            some("task_id: no such task", Some("task_id"))
        );
        // The first usable key wins, in the documented order.
        assert_eq!(
            r(r#"{"detail":"third","message":"second","error":7}"#),
            some("second", None)
        );
        // Framework shapes where `error` is only the status phrase.
        assert_eq!(
            r(
                r#"{"statusCode":422,"message":["patient_id must be a string"],"error":"Unprocessable Entity"}"#
            ),
            some("patient_id must be a string", None)
        );
        assert_eq!(
            r(
                r#"{"status":400,"error":"Bad Request","message":"","detail":"send_at: not a date"}"#
            ),
            some("send_at: not a date", Some("send_at"))
        );
        // With an empty message, the phrase is still better than nothing.
        assert_eq!(
            r(r#"{"error":"Bad Request","message":""}"#),
            some("Bad Request", None)
        );
    }

    #[test]
    fn unknown_fields_are_not_named() {
        assert_eq!(
            r(r#"{"error":"nhs_number: wrong","field":"nhs_number"}"#),
            (Some("nhs_number: wrong".to_owned()), None)
        );
        assert_eq!(
            r(r#"{"error":"Hint: try again"}"#),
            (Some("Hint: try again".to_owned()), None)
        );
    }

    #[test]
    fn unusable_bodies() {
        for body in [
            "",
            "<html>502</html>",
            "[\"x\"]",
            "{\"error\":null}",
            "{\"error\":\" \u{202e} \"}",
            "{bad",
        ] {
            assert_eq!(read(body.as_bytes()), Reason::default(), "{body:?}");
        }
    }

    #[test]
    fn stripped_and_capped() {
        let (m, _) = r(&format!(
            r#"{{"error":"line\u2028two\u202e\n{}"}}"#,
            "x".repeat(5000)
        ));
        let m = m.unwrap();
        assert!(m.starts_with("line two "), "{m}");
        assert!(!m.chars().any(text::is_unsafe));
        assert_eq!(m.chars().count(), text::REASON_CHARS + 1);
    }
}
