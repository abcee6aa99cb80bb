//! `MessageResponse::from_json` on arbitrary bytes (Hero's 200 reply body).
//!
//! Invariants when it accepts the body:
//! - `message_id` is non-empty;
//! - `to_json()` is a JSON object with exactly the 9 documented keys, each a
//!   string, a boolean (`write_to_record`) or null, equal to the accessors;
//! - `to_json()` parses back through `from_json` to an equal value, and is a
//!   fixed point (serialising the re-parsed value gives the same text).
#![no_main]

use herohealth::MessageResponse;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const STRING_FIELDS: [&str; 8] = [
    "message_id",
    "content",
    "created_at",
    "snomed_code",
    "auth_token",
    "confirm_write_to_record_url",
    "submitted_by",
    "send_at",
];

fn accessor<'a>(r: &'a MessageResponse, key: &str) -> Option<&'a str> {
    match key {
        "message_id" => Some(r.message_id()),
        "content" => r.content(),
        "created_at" => r.created_at(),
        "snomed_code" => r.snomed_code(),
        "auth_token" => r.auth_token(),
        "confirm_write_to_record_url" => r.confirm_write_to_record_url(),
        "submitted_by" => r.submitted_by(),
        "send_at" => r.send_at(),
        _ => unreachable!(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(r) = MessageResponse::from_json(data) else {
        return;
    };
    assert!(
        !r.message_id().is_empty(),
        "accepted reply with empty message_id"
    );

    let json = r.to_json();
    let v: Value = serde_json::from_str(&json).expect("to_json is not valid JSON");
    let obj = v.as_object().expect("to_json is not a JSON object");
    assert_eq!(
        obj.len(),
        9,
        "to_json does not hold exactly 9 fields: {json}"
    );
    for key in STRING_FIELDS {
        let got = obj
            .get(key)
            .unwrap_or_else(|| panic!("to_json lacks {key}"));
        match accessor(&r, key) {
            Some(s) => assert_eq!(got.as_str(), Some(s), "to_json {key} differs"),
            None => assert!(got.is_null(), "absent {key} is not null in to_json"),
        }
    }
    let wtr = obj
        .get("write_to_record")
        .expect("to_json lacks write_to_record");
    match r.write_to_record() {
        Some(b) => assert_eq!(wtr.as_bool(), Some(b), "to_json write_to_record differs"),
        None => assert!(wtr.is_null(), "absent write_to_record is not null"),
    }

    let back = MessageResponse::from_json(json.as_bytes())
        .unwrap_or_else(|| panic!("to_json output rejected by from_json: {json}"));
    assert!(back == r, "round trip changed the value: {r:?} -> {back:?}");
    assert_eq!(back.to_json(), json, "to_json is not a fixed point");
});
