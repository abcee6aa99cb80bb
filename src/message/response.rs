//! Hero's 200 answer to `POST /v1/messages/send`: all 9 fields.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::text::Shown;

/// What Hero said about an accepted message.
///
/// Only `message_id` is essential; every other field is optional here, because
/// an earlier revision of Hero's reference documented only `message_id`. A
/// field of an unexpected JSON type reads as absent rather than failing the
/// whole reply (the message was accepted either way). Unknown fields are
/// ignored.
///
/// Only `message_id` is read when the reply arrives; the other fields are
/// parsed from the kept body the first time one of them is asked for.
#[derive(Clone)]
pub struct MessageResponse {
    message_id: String,
    body: String,
    fields: OnceLock<Fields>,
}

/// All 9 fields, read loosely.
#[derive(Clone, PartialEq, Default, Deserialize, Serialize)]
struct Fields {
    #[serde(default, deserialize_with = "loose_string")]
    message_id: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    content: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    created_at: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    snomed_code: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    write_to_record: Option<bool>,
    #[serde(default, deserialize_with = "loose_string")]
    auth_token: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    confirm_write_to_record_url: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    submitted_by: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    send_at: Option<String>,
}

/// The one field read up front; the rest of the object is checked for
/// well-formed JSON and skipped.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default, deserialize_with = "loose_string")]
    message_id: Option<String>,
}

impl PartialEq for MessageResponse {
    fn eq(&self, other: &Self) -> bool {
        self.message_id == other.message_id && self.fields() == other.fields()
    }
}

impl MessageResponse {
    /// Parses a reply body as Hero sends it (or as stored from
    /// [`to_json`](Self::to_json)). `None` when it is not a JSON object with a
    /// non-empty string `message_id` free of control characters.
    pub fn from_json(body: &[u8]) -> Option<Self> {
        Self::from_body(body.to_vec()).ok()
    }

    /// Like [`from_json`](Self::from_json), keeping `body`; gives it back
    /// when it is not a reply.
    pub(crate) fn from_body(body: Vec<u8>) -> Result<Self, Vec<u8>> {
        // Skipped strings are not checked for UTF-8 below: check the whole
        // reply here, cheaply, so a garbled one is reported, not half read.
        let body = match String::from_utf8(body) {
            Ok(text) => text,
            Err(e) => return Err(e.into_bytes()),
        };
        // From a checked `str`, serde_json skips its own per-string UTF-8 checks.
        let id = match serde_json::from_str::<IdOnly>(&body) {
            // An id is quoted in logs and handed to C as a C string: control
            // characters (NUL, CR, LF) would truncate it or forge log lines.
            Ok(IdOnly {
                message_id: Some(id),
            }) if !id.is_empty() && !id.chars().any(char::is_control) => id,
            _ => return Err(body.into_bytes()),
        };
        Ok(MessageResponse {
            message_id: id,
            body,
            fields: OnceLock::new(),
        })
    }

    fn fields(&self) -> &Fields {
        self.fields.get_or_init(|| {
            let mut f = serde_json::from_str::<Fields>(&self.body)
                // A repeated key fails the typed read; read each field from a
                // plain map instead (the last occurrence wins), so one odd
                // entry cannot blank the others.
                .or_else(|_| {
                    let map: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(&self.body)?;
                    serde_json::from_value::<Fields>(serde_json::Value::Object(map))
                })
                // Only a lone UTF-16 surrogate escape gets here: nothing but
                // the id can be trusted then.
                .unwrap_or_default();
            f.message_id = Some(self.message_id.clone());
            f
        })
    }

    /// Hero's id for the message: quote it when reconciling.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }
    /// The message content as Hero stored it (patient data).
    pub fn content(&self) -> Option<&str> {
        self.fields().content.as_deref()
    }
    /// When Hero created the message.
    pub fn created_at(&self) -> Option<&str> {
        self.fields().created_at.as_deref()
    }
    /// The SNOMED code attached to the record entry (Hero's default if none was sent).
    pub fn snomed_code(&self) -> Option<&str> {
        self.fields().snomed_code.as_deref()
    }
    /// Whether the message will be written to the GP record.
    pub fn write_to_record(&self) -> Option<bool> {
        self.fields().write_to_record
    }
    /// Token for the patient's access to the message (a secret).
    pub fn auth_token(&self) -> Option<&str> {
        self.fields().auth_token.as_deref()
    }
    /// Where an admin confirms the record write, when approval is needed.
    pub fn confirm_write_to_record_url(&self) -> Option<&str> {
        self.fields().confirm_write_to_record_url.as_deref()
    }
    /// Who Hero records as the sender.
    pub fn submitted_by(&self) -> Option<&str> {
        self.fields().submitted_by.as_deref()
    }
    /// The scheduled send time, echoed.
    pub fn send_at(&self) -> Option<&str> {
        self.fields().send_at.as_deref()
    }

    /// All 9 fields as one JSON object, `null` where absent.
    pub fn to_json(&self) -> String {
        // Fields serialise in declaration order, absent ones as null.
        serde_json::to_string(self.fields()).unwrap_or_default()
    }
}

/// `<set>` or `<unset>`: whether a field is there, not what it says.
fn shown(v: &Option<String>) -> &'static str {
    if v.is_some() { "<set>" } else { "<unset>" }
}

/// Patient content, the auth token, the clinical code and the confirmation
/// link are redacted; the server's other strings are shown escaped and capped.
impl fmt::Debug for MessageResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = self.fields();
        f.debug_struct("MessageResponse")
            .field("message_id", &Shown(&self.message_id))
            .field(
                "content",
                &fields
                    .content
                    .as_ref()
                    .map(|c| format!("<{} bytes>", c.len())),
            )
            .field("created_at", &fields.created_at.as_deref().map(Shown))
            .field("snomed_code", &shown(&fields.snomed_code))
            .field("write_to_record", &fields.write_to_record)
            .field(
                "auth_token",
                &fields.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "confirm_write_to_record_url",
                &shown(&fields.confirm_write_to_record_url),
            )
            .field("submitted_by", &fields.submitted_by.as_deref().map(Shown))
            .field("send_at", &shown(&fields.send_at))
            .finish()
    }
}

/// Reads a string; any other JSON value (null, number, object…) reads as None.
pub(crate) fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(Loose(|v| match v {
        Scalar::Str(s) => Some(s),
        _ => None,
    }))
}

/// Reads a boolean; any other JSON value reads as None.
fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(Loose(|v| match v {
        Scalar::Bool(b) => Some(b),
        _ => None,
    }))
}

enum Scalar {
    Str(String),
    Bool(bool),
    Other,
}

struct Loose<F>(F);

impl<'de, T, F: FnOnce(Scalar) -> Option<T>> Visitor<'de> for Loose<F> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Str(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Str(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok((self.0)(Scalar::Other))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_nine_fields_read() {
        let body = br#"{"message_id":"m1","content":"c","created_at":"2019-08-24T14:15:22Z",
            "snomed_code":"185317003","write_to_record":true,"auth_token":"t",
            "confirm_write_to_record_url":"https://x/c","submitted_by":"s",
            "send_at":"2026-12-01T09:00:00Z","extra":{"a":[1,2]}}"#;
        let r = MessageResponse::from_json(body).unwrap();
        assert_eq!(r.message_id(), "m1");
        assert_eq!(r.content(), Some("c"));
        assert_eq!(r.created_at(), Some("2019-08-24T14:15:22Z"));
        assert_eq!(r.snomed_code(), Some("185317003"));
        assert_eq!(r.write_to_record(), Some(true));
        assert_eq!(r.auth_token(), Some("t"));
        assert_eq!(r.confirm_write_to_record_url(), Some("https://x/c"));
        assert_eq!(r.submitted_by(), Some("s"));
        assert_eq!(r.send_at(), Some("2026-12-01T09:00:00Z"));
    }

    #[test]
    fn only_message_id_is_essential() {
        let r = MessageResponse::from_json(
            br#"{"message_id":"m2","snomed_code":null,"write_to_record":"yes","content":7}"#,
        )
        .unwrap();
        assert_eq!(r.message_id(), "m2");
        assert_eq!(r.snomed_code(), None);
        assert_eq!(r.write_to_record(), None);
        assert_eq!(r.content(), None);
        for bad in [
            &b"not json"[..],
            br#"{"message_id":"\u0000abc"}"#,
            br#"{"message_id":"a\nattempt 2: forged"}"#,
            b"{}",
            br#"{"message_id":""}"#,
            br#"{"message_id":5}"#,
            b"[1]",
            b"\xff\xfe",
        ] {
            assert!(MessageResponse::from_json(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn to_json_has_all_nine_fields_in_order_with_nulls() {
        let r = MessageResponse::from_json(br#"{"write_to_record":false,"message_id":"m3","x":1}"#)
            .unwrap();
        assert_eq!(
            r.to_json(),
            r#"{"message_id":"m3","content":null,"created_at":null,"snomed_code":null,"write_to_record":false,"auth_token":null,"confirm_write_to_record_url":null,"submitted_by":null,"send_at":null}"#
        );
        assert_eq!(MessageResponse::from_json(r.to_json().as_bytes()), Some(r));
    }

    #[test]
    fn fields_are_read_lazily_and_odd_replies_keep_their_other_fields() {
        let r = MessageResponse::from_body(
            br#"{"message_id":"m4","content":"Hello","auth_token":"t"}"#.to_vec(),
        )
        .unwrap();
        assert!(
            r.fields.get().is_none(),
            "only message_id is parsed up front"
        );
        assert_eq!(r.content(), Some("Hello"));
        assert!(r.fields.get().is_some());
        // Not UTF-8 anywhere: the reply is unreadable, even with a good id.
        assert!(
            MessageResponse::from_json(b"{\"message_id\":\"m5\",\"content\":\"\xff\"}").is_none()
        );
        // A repeated key: the other fields still read.
        let dup = MessageResponse::from_json(
            br#"{"message_id":"m6","content":"a","content":"b","write_to_record":true,"auth_token":"t"}"#,
        )
        .unwrap();
        assert_eq!(dup.content(), Some("b"));
        assert_eq!(dup.write_to_record(), Some(true));
        assert_eq!(dup.auth_token(), Some("t"));
    }

    #[test]
    fn debug_hides_content_token_code_and_links() {
        let r = MessageResponse::from_json(
            br#"{"message_id":"m7","content":"Results ready 7c1e","auth_token":"tok-55a","snomed_code":"271737000","confirm_write_to_record_url":"https://h/c/99f","send_at":"2026-12-01T09:00:00Z"}"#,
        )
        .unwrap();
        let text = format!("{r:?}");
        for hidden in [
            "Results ready 7c1e",
            "tok-55a",
            "271737000",
            "https://h/c/99f",
            "2026-12-01",
        ] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert!(text.contains("m7"), "{text}");
    }
}
