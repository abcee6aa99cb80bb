//! The request body, written straight to bytes.
//!
//! A send's JSON is a flat object of known keys: writing it directly, with
//! a fast path for strings that need no escaping (nearly all), costs a
//! fraction of a general serialiser. Output matches serde_json's compact
//! form byte for byte (the tests compare them).

use crate::message::request::{Encrypted, SendMessage};

// Kept beside the writer so the request type does not depend on it.
impl SendMessage {
    /// The exact JSON body that would be sent.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        write_message(self, &mut out);
        // Built only from `&str` pieces and ASCII, so it is UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Appends `msg` as compact JSON; unset optional fields are left out.
pub(crate) fn write_message(msg: &SendMessage, out: &mut Vec<u8>) {
    out.push(b'{');
    key(out, "patient_id", true);
    string(out, &msg.patient_id);
    key(out, "message_type", false);
    string(out, msg.message_type.as_str());
    key(out, "message_string", false);
    string(out, &msg.message_string);
    opt_string(
        out,
        "recipient_contact_detail",
        &msg.recipient_contact_detail,
    );
    opt_string(out, "fallback_contact_detail", &msg.fallback_contact_detail);
    if let Some(t) = msg.fallback_message_type {
        key(out, "fallback_message_type", false);
        string(out, t.as_str());
    }
    opt_bool(out, "write_to_record", msg.write_to_record);
    match &msg.encrypted {
        Some(Encrypted::Flag(b)) => opt_bool(out, "encrypted", Some(*b)),
        Some(Encrypted::Text(t)) => {
            key(out, "encrypted", false);
            string(out, t);
        }
        None => {}
    }
    opt_string(out, "snomed_code", &msg.snomed_code);
    opt_string(out, "snomed_term", &msg.snomed_term);
    opt_bool(out, "auto_write_to_record", msg.auto_write_to_record);
    opt_string(out, "task_id", &msg.task_id);
    opt_string(out, "attachment_uuid", &msg.attachment_uuid);
    opt_string(out, "short_link_id", &msg.short_link_id);
    if let Some(id) = msg.assignee_id {
        key(out, "assignee_id", false);
        out.extend_from_slice(id.to_string().as_bytes());
    }
    if let Some(t) = msg.assignee_type {
        key(out, "assignee_type", false);
        string(out, t.as_str());
    }
    opt_string(out, "send_at", &msg.send_at);
    out.push(b'}');
}

/// `"name":` (keys are plain ASCII constants: no escaping needed).
fn key(out: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn opt_string(out: &mut Vec<u8>, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        key(out, name, false);
        string(out, v);
    }
}

fn opt_bool(out: &mut Vec<u8>, name: &str, value: Option<bool>) {
    if let Some(b) = value {
        key(out, name, false);
        out.extend_from_slice(if b { b"true" } else { b"false" });
    }
}

/// Bytes `s` takes as a JSON string literal, quotes excluded: what
/// [`string`] writes for it, counted without writing.
pub(crate) fn escaped_len(s: &str) -> usize {
    let extra = |bytes: &[u8]| -> usize {
        bytes
            .iter()
            .map(|&b| match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
                _ if b < 0x20 => 5,
                _ => 0,
            })
            .sum()
    };
    // As in `string`: clean 16-byte chunks (nearly all) are skipped whole.
    let mut chunks = s.as_bytes().chunks_exact(16);
    let mut len = s.len();
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |any, &b| any | needs_escape(b)) {
            len += extra(chunk);
        }
    }
    len + extra(chunks.remainder())
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// A JSON string literal: `"`, `\` and control characters escaped as
/// serde_json does; everything else, UTF-8 included, copied as is.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // 16 bytes at a time with no early exit, which the compiler vectorises.
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |any, &b| any | needs_escape(b)) {
            escape_into(out, chunk);
        } else {
            out.extend_from_slice(chunk);
        }
    }
    escape_into(out, chunks.remainder());
    out.push(b'"');
}

fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AssigneeType, FallbackType, MessageType};

    fn json(msg: &SendMessage) -> String {
        let mut out = Vec::new();
        write_message(msg, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// Every string serde_json would escape, escaped the same way.
    #[test]
    fn strings_match_serde_json() {
        let mut all_bytes: String = (0u8..0x80).map(char::from).collect();
        all_bytes
            .push_str("é😀 \"quoted\" back\\slash, and a long run of plain text to cross chunks");
        for s in [
            "",
            "plain",
            "a\"b",
            "line\nbreak\ttab\r",
            "\u{0}\u{1f}\u{7f}",
            &all_bytes,
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(escaped_len(s) + 2, out.len(), "{s:?}");
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn every_field_in_reference_order() {
        let msg = SendMessage::new("42", MessageType::NhsApp, "Hi \"there\"\n")
            .recipient_contact_detail("a")
            .fallback_contact_detail("b")
            .fallback_message_type(FallbackType::Email)
            .write_to_record(true)
            .encrypted(Encrypted::Flag(false))
            .snomed_code("c")
            .snomed_term("d")
            .auto_write_to_record(false)
            .task_id("e")
            .attachment_uuid("f")
            .short_link_id("g")
            .assignee_id(9_007_199_254_740_991)
            .assignee_type(AssigneeType::AdminTeam)
            .send_at("h");
        assert_eq!(
            json(&msg),
            concat!(
                r#"{"patient_id":"42","message_type":"nhs_app","message_string":"Hi \"there\"\n","#,
                r#""recipient_contact_detail":"a","fallback_contact_detail":"b","fallback_message_type":"email","#,
                r#""write_to_record":true,"encrypted":false,"snomed_code":"c","snomed_term":"d","#,
                r#""auto_write_to_record":false,"task_id":"e","attachment_uuid":"f","short_link_id":"g","#,
                r#""assignee_id":9007199254740991,"assignee_type":"AdminTeam","send_at":"h"}"#
            )
        );
        let text =
            SendMessage::new("1", MessageType::Hero, "x").encrypted(Encrypted::Text("yes".into()));
        assert_eq!(
            json(&text),
            r#"{"patient_id":"1","message_type":"hero","message_string":"x","encrypted":"yes"}"#
        );
        let negative = SendMessage::new("1", MessageType::Sms, "x").assignee_id(-3);
        assert!(json(&negative).ends_with(r#""assignee_id":-3}"#));
    }
}
