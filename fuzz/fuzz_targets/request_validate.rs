//! `SendMessage` with all 17 fields set from arbitrary bytes, then
//! `validate(true)`, `validate(false)`, `to_json()` and `Debug`.
//!
//! Input layout:
//! - byte 0: bits 0-1 message_type (hero, sms, email, nhs_app);
//!   bits 2-3 fallback_message_type (none, sms, email, none);
//!   bits 4-5 write_to_record (none, true, false, none);
//!   bits 6-7 auto_write_to_record (same);
//! - byte 1: bits 0-1 encrypted (none, true, false, text);
//!   bits 2-3 assignee_type (none, Admin, AdminTeam, none);
//!   bit 4 assignee_id present;
//! - byte 2: presence of the 8 optional string fields, in the order below;
//! - then fields separated by 0x00 (0x01 escapes the next byte, so a field
//!   may hold NUL): patient_id, message_string, recipient_contact_detail,
//!   fallback_contact_detail, snomed_code, snomed_term, task_id,
//!   attachment_uuid, short_link_id, send_at, encrypted text, assignee_id
//!   (decimal, else up to 8 little-endian bytes). Invalid UTF-8 is replaced
//!   (U+FFFD) since `SendMessage` takes Rust strings.
//!
//! Invariants:
//! - `to_json()` is valid JSON: an object holding exactly the set fields,
//!   never `null`, every string equal to its input byte for byte;
//! - `validate` is deterministic; if `validate(false)` fails then
//!   `validate(true)` fails too; errors are InvalidInput / NotSent with a field;
//! - an error's Display never contains `message_string` (or `patient_id`)
//!   when it is at least 8 bytes long and not part of the fixed text (the
//!   same error computed with that value replaced by a same-length stand-in);
//! - `Debug` never shows the redacted fields (same stand-in test).
#![no_main]

use herohealth::{
    AssigneeType, Encrypted, ErrorKind, FallbackType, MessageType, Outcome, SendMessage,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Optional string fields, in input order (presence bits 0..8 of byte 2).
const OPTIONAL: [&str; 8] = [
    "recipient_contact_detail",
    "fallback_contact_detail",
    "snomed_code",
    "snomed_term",
    "task_id",
    "attachment_uuid",
    "short_link_id",
    "send_at",
];

#[derive(Clone)]
struct Fields {
    patient_id: String,
    message_type: MessageType,
    message_string: String,
    optional: [Option<String>; 8],
    fallback: Option<FallbackType>,
    write_to_record: Option<bool>,
    auto_write_to_record: Option<bool>,
    encrypted: Option<Encrypted>,
    assignee_id: Option<i64>,
    assignee_type: Option<AssigneeType>,
}

fn split_fields(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut bytes = data.iter();
    while let Some(&b) = bytes.next() {
        match b {
            0x00 => out.push(Vec::new()),
            0x01 => {
                if let Some(&e) = bytes.next() {
                    out.last_mut().unwrap().push(e);
                }
            }
            _ => out.last_mut().unwrap().push(b),
        }
    }
    out
}

fn tri_bool(bits: u8) -> Option<bool> {
    match bits & 3 {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}

fn parse(data: &[u8]) -> Fields {
    let hdr = |i: usize| data.get(i).copied().unwrap_or(0);
    let (b0, b1, b2) = (hdr(0), hdr(1), hdr(2));
    let chunks = split_fields(data.get(3..).unwrap_or_default());
    let raw = |i: usize| chunks.get(i).map(Vec::as_slice).unwrap_or_default();
    let text = |i: usize| String::from_utf8_lossy(raw(i)).into_owned();

    let message_type = [
        MessageType::Hero,
        MessageType::Sms,
        MessageType::Email,
        MessageType::NhsApp,
    ][usize::from(b0 & 3)];
    let fallback = match (b0 >> 2) & 3 {
        1 => Some(FallbackType::Sms),
        2 => Some(FallbackType::Email),
        _ => None,
    };
    let optional = std::array::from_fn(|i| (b2 >> i & 1 == 1).then(|| text(2 + i)));
    let encrypted = match b1 & 3 {
        1 => Some(Encrypted::Flag(true)),
        2 => Some(Encrypted::Flag(false)),
        3 => Some(Encrypted::Text(text(10))),
        _ => None,
    };
    let assignee_type = match (b1 >> 2) & 3 {
        1 => Some(AssigneeType::Admin),
        2 => Some(AssigneeType::AdminTeam),
        _ => None,
    };
    let assignee_id = (b1 & 0x10 != 0).then(|| {
        let r = raw(11);
        std::str::from_utf8(r)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or_else(|| {
                let mut le = [0u8; 8];
                let n = r.len().min(8);
                le[..n].copy_from_slice(&r[..n]);
                i64::from_le_bytes(le)
            })
    });
    Fields {
        patient_id: text(0),
        message_type,
        message_string: text(1),
        optional,
        fallback,
        write_to_record: tri_bool(b0 >> 4),
        auto_write_to_record: tri_bool(b0 >> 6),
        encrypted,
        assignee_id,
        assignee_type,
    }
}

fn build(f: &Fields) -> SendMessage {
    let mut m = SendMessage::new(
        f.patient_id.as_str(),
        f.message_type,
        f.message_string.as_str(),
    );
    let o = &f.optional;
    if let Some(v) = &o[0] {
        m = m.recipient_contact_detail(v.as_str());
    }
    if let Some(v) = &o[1] {
        m = m.fallback_contact_detail(v.as_str());
    }
    if let Some(v) = &o[2] {
        m = m.snomed_code(v.as_str());
    }
    if let Some(v) = &o[3] {
        m = m.snomed_term(v.as_str());
    }
    if let Some(v) = &o[4] {
        m = m.task_id(v.as_str());
    }
    if let Some(v) = &o[5] {
        m = m.attachment_uuid(v.as_str());
    }
    if let Some(v) = &o[6] {
        m = m.short_link_id(v.as_str());
    }
    if let Some(v) = &o[7] {
        m = m.send_at(v.as_str());
    }
    if let Some(v) = f.fallback {
        m = m.fallback_message_type(v);
    }
    if let Some(v) = f.write_to_record {
        m = m.write_to_record(v);
    }
    if let Some(v) = f.auto_write_to_record {
        m = m.auto_write_to_record(v);
    }
    if let Some(v) = &f.encrypted {
        m = m.encrypted(v.clone());
    }
    if let Some(v) = f.assignee_id {
        m = m.assignee_id(v);
    }
    if let Some(v) = f.assignee_type {
        m = m.assignee_type(v);
    }
    m
}

fn check_json(f: &Fields, json: &str) {
    let v: Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("to_json is not valid JSON ({e}): {json:?}"));
    let obj = v.as_object().expect("to_json is not a JSON object");
    let mut expected = 3;
    let s = |k: &str| {
        obj.get(k)
            .unwrap_or_else(|| panic!("to_json lacks {k}"))
            .as_str()
            .unwrap_or_else(|| panic!("to_json {k} is not a string"))
            .to_owned()
    };
    assert_eq!(s("patient_id"), f.patient_id, "patient_id differs");
    assert_eq!(
        s("message_type"),
        f.message_type.as_str(),
        "message_type differs"
    );
    assert_eq!(
        s("message_string"),
        f.message_string,
        "message_string differs"
    );
    for (key, val) in OPTIONAL.iter().zip(&f.optional) {
        match val {
            Some(val) => {
                expected += 1;
                assert_eq!(&s(key), val, "{key} differs");
            }
            None => assert!(!obj.contains_key(*key), "unset {key} is in to_json"),
        }
    }
    let mut opt = |key: &str, want: Option<Value>| match want {
        Some(w) => {
            expected += 1;
            assert_eq!(obj.get(key), Some(&w), "{key} differs");
        }
        None => assert!(!obj.contains_key(key), "unset {key} is in to_json"),
    };
    opt(
        "fallback_message_type",
        f.fallback.map(|t| t.as_str().into()),
    );
    opt("write_to_record", f.write_to_record.map(Value::Bool));
    opt(
        "auto_write_to_record",
        f.auto_write_to_record.map(Value::Bool),
    );
    opt(
        "encrypted",
        f.encrypted.as_ref().map(|e| match e {
            Encrypted::Flag(b) => Value::Bool(*b),
            Encrypted::Text(t) => Value::String(t.clone()),
        }),
    );
    opt("assignee_id", f.assignee_id.map(Value::from));
    opt("assignee_type", f.assignee_type.map(|t| t.as_str().into()));
    assert_eq!(obj.len(), expected, "to_json has unexpected keys: {json}");
}

/// A same-length stand-in that keeps `s` valid or invalid as a patient id.
fn stand_in(s: &str, digits: bool) -> String {
    let c = if digits && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        "1"
    } else {
        "x"
    };
    c.repeat(s.len())
}

fn display(r: &Result<(), herohealth::Error>) -> Option<String> {
    r.as_ref().err().map(ToString::to_string)
}

/// Fails if `text` shows `secret` although `fixed` (the same output with the
/// secret replaced) does not: then the secret came from the value.
fn no_leak(what: &str, secret: &str, text: &str, fixed: &str) {
    if secret.len() >= 8 && text.contains(secret) && !fixed.contains(secret) {
        panic!("{what} leaks its value: {text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let f = parse(data);
    let msg = build(&f);

    check_json(&f, &msg.to_json());
    assert_eq!(
        msg.to_json(),
        msg.clone().to_json(),
        "to_json not deterministic"
    );

    let lax = msg.validate(false);
    let strict = msg.validate(true);
    assert_eq!(
        display(&lax),
        display(&msg.validate(false)),
        "validate(false) not deterministic"
    );
    assert_eq!(
        display(&strict),
        display(&msg.validate(true)),
        "validate(true) not deterministic"
    );
    if lax.is_err() {
        assert!(
            strict.is_err(),
            "validate(false) failed but validate(true) passed"
        );
    }
    for e in [&lax, &strict].into_iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidInput,
            "validation error kind: {e:?}"
        );
        assert_eq!(
            e.outcome(),
            Outcome::NotSent,
            "validation error outcome: {e:?}"
        );
        let field = e
            .field()
            .unwrap_or_else(|| panic!("validation error without a field: {e:?}"));
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("not sent: invalid {field}: ")),
            "unexpected error text: {text:?}"
        );
        assert!(e.response_body().is_none() && e.status().is_none() && e.attempts() == 0);
    }

    // Leak checks: message_string and patient_id against validation errors.
    for (what, digits) in [("message_string", false), ("patient_id", true)] {
        let secret = if digits {
            &f.patient_id
        } else {
            &f.message_string
        };
        if secret.len() < 8 {
            continue;
        }
        let mut g = f.clone();
        let canary = stand_in(secret, digits);
        if digits {
            g.patient_id = canary;
        } else {
            g.message_string = canary;
        }
        let other = build(&g);
        for (strict_mode, r) in [(false, &lax), (true, &strict)] {
            if let Some(text) = display(r) {
                let fixed = display(&other.validate(strict_mode)).unwrap_or_default();
                no_leak(what, secret, &text, &fixed);
            }
        }
    }

    // Debug redacts patient data.
    let debug = format!("{msg:?}");
    let redacted: [(&str, Option<&String>); 9] = [
        ("patient_id", Some(&f.patient_id)),
        ("message_string", Some(&f.message_string)),
        ("recipient_contact_detail", f.optional[0].as_ref()),
        ("fallback_contact_detail", f.optional[1].as_ref()),
        ("snomed_term", f.optional[3].as_ref()),
        ("task_id", f.optional[4].as_ref()),
        ("attachment_uuid", f.optional[5].as_ref()),
        ("short_link_id", f.optional[6].as_ref()),
        (
            "encrypted",
            match &f.encrypted {
                Some(Encrypted::Text(t)) => Some(t),
                _ => None,
            },
        ),
    ];
    for (i, (what, value)) in redacted.into_iter().enumerate() {
        let Some(value) = value.filter(|v| v.len() >= 8 && debug.contains(v.as_str())) else {
            continue;
        };
        let mut g = f.clone();
        let canary = "x".repeat(value.len());
        match i {
            0 => g.patient_id = canary,
            1 => g.message_string = canary,
            8 => g.encrypted = Some(Encrypted::Text(canary)),
            n => g.optional[[0, 1, 3, 4, 5, 6][n - 2]] = Some(canary),
        }
        no_leak(
            &format!("Debug of {what}"),
            value,
            &debug,
            &format!("{:?}", build(&g)),
        );
    }
});
