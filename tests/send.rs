//! `Client::send` end to end: against the real `hero-mock` binary (its
//! record file shows what reached the server) and raw TCP servers (exact
//! bytes), covering the wire format, validation, every outcome, retries,
//! configuration from variables, secrecy of logs and texts, and threads.

pub mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{GROUP, KEY, Mock, one_shot_server, refused_port, unique_hex};
use herohealth::{
    AssigneeType, Client, ClientBuilder, Encrypted, Error, ErrorKind, FallbackType, LogLevel,
    MessageResponse, MessageType, Outcome, SendMessage, Target,
};
use serde_json::{Value, json};

const SEND_PATH: &str = "/v1/messages/send";

// `Client` must be shareable between threads and cheap to hand out.
const _: fn() = || {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    fn sendable<T: Send + Sync + 'static>() {}
    shareable::<Client>();
    sendable::<Error>();
};

/// A valid message to a patient id (reserved ids pick a mock scenario).
fn hello(patient_id: &str) -> SendMessage {
    SendMessage::new(patient_id, MessageType::Hero, "Hello")
}

/// The error of a send that must fail.
fn failure(result: Result<MessageResponse, Error>) -> Error {
    match result {
        Ok(reply) => panic!("expected an error, got {reply:?}"),
        Err(e) => e,
    }
}

fn body_of(request: &Value) -> &str {
    request["body"].as_str().expect("recorded body")
}

fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"][name].as_str()
}

/// The JSON of [`every_field`], with `{ENC}` standing for `encrypted`.
const EVERY_FIELD_JSON: &str = concat!(
    r#"{"patient_id":"4242","message_type":"nhs_app","message_string":"Your results are ready.","#,
    r#""recipient_contact_detail":"nhs-app-user","fallback_contact_detail":"+44 7700 900123","#,
    r#""fallback_message_type":"sms","write_to_record":true,"encrypted":{ENC},"#,
    r#""snomed_code":"185317003","snomed_term":"Telephone encounter","auto_write_to_record":false,"#,
    r#""task_id":"task-77","attachment_uuid":"0b6f3f5e-8c1a-4a55-9d3e-2f1f1c2b7a10","#,
    r#""short_link_id":"sl-9","assignee_id":9007199254740991,"assignee_type":"AdminTeam","#,
    r#""send_at":"2026-12-01T09:00:00Z"}"#
);

/// A message with all 17 fields set.
fn every_field(encrypted: Encrypted) -> SendMessage {
    SendMessage::new("4242", MessageType::NhsApp, "Your results are ready.")
        .recipient_contact_detail("nhs-app-user")
        .fallback_contact_detail("+44 7700 900123")
        .fallback_message_type(FallbackType::Sms)
        .write_to_record(true)
        .encrypted(encrypted)
        .snomed_code("185317003")
        .snomed_term("Telephone encounter")
        .auto_write_to_record(false)
        .task_id("task-77")
        .attachment_uuid("0b6f3f5e-8c1a-4a55-9d3e-2f1f1c2b7a10")
        .short_link_id("sl-9")
        .assignee_id(9_007_199_254_740_991)
        .assignee_type(AssigneeType::AdminTeam)
        .send_at("2026-12-01T09:00:00Z")
}

// ---------------------------------------------------------------- wire format

#[test]
fn minimal_request_is_exact_json() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let msg = SendMessage::new("12345", MessageType::Sms, "Hello");
    client.send(&msg).expect("sent");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["path"], SEND_PATH);
    assert_eq!(
        body_of(&requests[0]),
        r#"{"patient_id":"12345","message_type":"sms","message_string":"Hello"}"#
    );
}

#[test]
fn every_field_request_is_exact_json_with_encrypted_bool() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let msg = every_field(Encrypted::Flag(true));
    client.send(&msg).expect("sent");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let body = body_of(&requests[0]);
    assert_eq!(body, EVERY_FIELD_JSON.replace("{ENC}", "true"));
    let parsed: Value = serde_json::from_str(body).unwrap();
    assert_eq!(parsed.as_object().unwrap().len(), 17);
    assert!(
        parsed["assignee_id"].is_u64(),
        "assignee_id must be a JSON number"
    );
    assert!(parsed["encrypted"].is_boolean());
}

#[test]
fn every_field_request_is_exact_bytes_with_encrypted_string() {
    let (port, server) = one_shot_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\
          Connection: close\r\n\r\n{\"message_id\":\"m-1\"}",
    );
    let client = raw_client(port);
    let reply = client
        .send(&every_field(Encrypted::Text("yes".into())))
        .expect("sent");
    assert_eq!(reply.message_id(), "m-1");
    assert_eq!(reply.content(), None);

    let raw = server.join().unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let body = &raw[split + 4..];
    let expected = EVERY_FIELD_JSON.replace("{ENC}", r#""yes""#);
    assert_eq!(String::from_utf8_lossy(body), expected);
    assert!(
        head.starts_with("POST /v1/messages/send HTTP/1.1\r\n"),
        "{head}"
    );
    let lines: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let values = |name: &str| -> Vec<&str> {
        lines
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("content-type"), ["application/json"]);
    assert_eq!(values("content-length"), [expected.len().to_string()]);
    assert_eq!(values("x-api-key"), [KEY]);
    assert_eq!(values("x-practice-group-id"), [GROUP]);
}

#[test]
fn strings_are_sent_exactly_as_given() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let text = "  Hello 👋 \"quoted\" \\ back\nsecond line\t ";
    let msg = SendMessage::new("4242", MessageType::Hero, text)
        .recipient_contact_detail(" as-is ")
        .task_id(" t 1 ");
    let reply = client.send(&msg).expect("sent");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let body = body_of(&requests[0]);
    assert_eq!(
        body,
        concat!(
            r#"{"patient_id":"4242","message_type":"hero","#,
            r#""message_string":"  Hello 👋 \"quoted\" \\ back\nsecond line\t ","#,
            r#""recipient_contact_detail":" as-is ","task_id":" t 1 "}"#
        )
    );
    let parsed: Value = serde_json::from_str(body).unwrap();
    assert_eq!(parsed["message_string"], text);
    assert_eq!(reply.content(), Some(text));
}

#[test]
fn headers_on_the_wire() {
    let mock = Mock::start();
    let plain = mock.client().build().unwrap();
    plain.send(&hello("1")).expect("sent");
    let suffixed = mock
        .client()
        .user_agent_suffix("GPSoft/4.2 (EMIS)")
        .build()
        .unwrap();
    suffixed.send(&hello("2")).expect("sent");

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let version = env!("CARGO_PKG_VERSION");
    for r in &requests {
        assert_eq!(header(r, "x-api-key"), Some(KEY));
        assert_eq!(header(r, "x-practice-group-id"), Some(GROUP));
        // The mock joins repeated headers with ", ": exactly one value here.
        assert_eq!(header(r, "content-type"), Some("application/json"));
        assert!(header(r, "user-agent").unwrap().starts_with("herohealth/"));
    }
    let ua = format!("herohealth/{version}");
    assert_eq!(header(&requests[0], "user-agent"), Some(ua.as_str()));
    assert_eq!(plain.user_agent(), ua);
    let ua = format!("herohealth/{version} GPSoft/4.2 (EMIS)");
    assert_eq!(header(&requests[1], "user-agent"), Some(ua.as_str()));
    assert_eq!(suffixed.user_agent(), ua);

    let e = mock
        .client()
        .user_agent_suffix("x\r\nx-evil: 1")
        .build()
        .unwrap_err();
    assert_eq!(e.field(), Some("user_agent_suffix"));
    assert_eq!(e.outcome(), Outcome::NotSent);
}

// ----------------------------------------------------------------- validation

/// The rules every client applies, strict or not.
fn basic_rule_cases() -> Vec<(&'static str, SendMessage, &'static str)> {
    let m = || SendMessage::new("4242", MessageType::Hero, "Hello");
    let sms = |pid: &str| SendMessage::new(pid, MessageType::Sms, "Hello");
    vec![
        ("empty patient id", sms(""), "patient_id"),
        ("letter in patient id", sms("12a"), "patient_id"),
        ("space in patient id", sms(" 12"), "patient_id"),
        ("Arabic-Indic digits", sms("١٢"), "patient_id"),
        (
            "empty message",
            SendMessage::new("4242", MessageType::Sms, ""),
            "message_string",
        ),
        (
            "empty attachment",
            m().attachment_uuid(""),
            "attachment_uuid",
        ),
        ("empty short link", m().short_link_id(""), "short_link_id"),
        ("assignee id alone", m().assignee_id(7), "assignee_type"),
        (
            "assignee type alone",
            m().assignee_type(AssigneeType::Admin),
            "assignee_id",
        ),
        (
            "negative assignee",
            m().assignee_id(-1).assignee_type(AssigneeType::Admin),
            "assignee_id",
        ),
        (
            "assignee above 2^53-1",
            m().assignee_id(1 << 53).assignee_type(AssigneeType::Admin),
            "assignee_id",
        ),
        (
            "send_at with space",
            m().send_at("2026-12-01 09:00:00Z"),
            "send_at",
        ),
        (
            "send_at no offset",
            m().send_at("2026-12-01T09:00:00"),
            "send_at",
        ),
        (
            "send_at 30 Feb",
            m().send_at("2026-02-30T09:00:00Z"),
            "send_at",
        ),
    ]
}

/// The clinical and contact rules that `strict_checks(false)` turns off.
fn strict_rule_cases() -> Vec<(&'static str, SendMessage, &'static str)> {
    let m = |t| SendMessage::new("4242", t, "Hello");
    vec![
        (
            "bad SNOMED check digit",
            m(MessageType::Hero).snomed_code("123456789"),
            "snomed_code",
        ),
        (
            "sms to not a phone",
            m(MessageType::Sms).recipient_contact_detail("not a phone"),
            "recipient_contact_detail",
        ),
        (
            "email to not an email",
            m(MessageType::Email).recipient_contact_detail("not-an-email"),
            "recipient_contact_detail",
        ),
        (
            "fallback contact without type",
            m(MessageType::NhsApp).fallback_contact_detail("07700 900123"),
            "fallback_contact_detail",
        ),
        (
            "fallback email that is a phone",
            m(MessageType::NhsApp)
                .fallback_message_type(FallbackType::Email)
                .fallback_contact_detail("07700 900123"),
            "fallback_contact_detail",
        ),
        (
            "snomed term without code",
            m(MessageType::Hero)
                .write_to_record(true)
                .snomed_term("Telephone encounter"),
            "snomed_term",
        ),
        (
            "auto write without write",
            m(MessageType::Hero).auto_write_to_record(true),
            "auto_write_to_record",
        ),
        (
            "auto write with write false",
            m(MessageType::Hero)
                .write_to_record(false)
                .auto_write_to_record(true),
            "auto_write_to_record",
        ),
    ]
}

fn assert_invalid(label: &str, e: &Error, field: &str) {
    assert_eq!(e.outcome(), Outcome::NotSent, "{label}: {e}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{label}: {e}");
    assert_eq!(e.field(), Some(field), "{label}: {e}");
    assert_eq!(e.attempts(), 0, "{label}: {e}");
    assert!(e.outcome().safe_to_resend(), "{label}");
}

#[test]
fn every_validation_rule_stops_the_send() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    assert!(client.strict_checks());
    for (label, msg, field) in basic_rule_cases().into_iter().chain(strict_rule_cases()) {
        let e = failure(client.send(&msg));
        assert_invalid(label, &e, field);
        let offline = msg.validate(true).expect_err(label);
        assert_eq!(offline.field(), Some(field), "{label}");
    }
    assert_eq!(mock.requests(), Vec::<Value>::new(), "nothing may be sent");

    // The boundaries just inside the rules are sent.
    let good = [
        hello("4242").snomed_code("185317003").write_to_record(true),
        hello("0").assignee_id(0).assignee_type(AssigneeType::Admin),
        hello("4242")
            .assignee_id((1 << 53) - 1)
            .assignee_type(AssigneeType::AdminTeam),
        hello("4242").send_at("2024-02-29T23:59:59+01:00"),
        SendMessage::new("4242", MessageType::Sms, "Hi").recipient_contact_detail("07700 900123"),
        SendMessage::new("4242", MessageType::Email, "Hi")
            .recipient_contact_detail("patient@email.com"),
    ];
    for (i, msg) in good.iter().enumerate() {
        client
            .send(msg)
            .unwrap_or_else(|e| panic!("good case {i}: {e}"));
        assert_eq!(mock.requests().len(), i + 1);
    }
}

/// A body over `REQUEST_BODY_CAP` is refused before any I/O, naming the
/// largest field; one of exactly the cap is sent.
#[test]
fn oversized_request_is_not_sent_and_names_the_largest_field() {
    let mock = Mock::start();
    let client = mock.client().strict_checks(false).build().unwrap();
    let huge = SendMessage::new("4242", MessageType::Hero, "x".repeat(100 << 20));
    let e = failure(client.send(&huge));
    assert_invalid("100 MiB message_string", &e, "message_string");
    assert!(e.to_string().contains("1 MiB"), "{e}");
    // Short text that JSON escaping sextuples past the cap, in another field.
    let escaped = hello("4242").snomed_term("\u{1}".repeat(200_000));
    assert!(escaped.to_json().len() > herohealth::REQUEST_BODY_CAP);
    let e = failure(client.send(&escaped));
    assert_invalid("escaped snomed_term", &e, "snomed_term");
    assert_eq!(
        escaped.validate(false).expect_err("offline too").field(),
        Some("snomed_term")
    );
    // The field named is the one that takes the most room once escaped,
    // not the longest before: 180 000 control characters (over 1 MiB
    // escaped) beside 200 000 plain letters (a fifth of the cap).
    let mixed = SendMessage::new("4242", MessageType::Hero, "\u{1}".repeat(180_000))
        .snomed_term("a".repeat(200_000));
    assert_invalid(
        "escaped message_string beside a longer plain snomed_term",
        &failure(client.send(&mixed)),
        "message_string",
    );
    // And the other way round: plain text that alone overflows.
    let mixed = SendMessage::new("4242", MessageType::Hero, "\u{1}".repeat(100_000))
        .snomed_term("a".repeat(1_000_000));
    assert_invalid(
        "plain snomed_term beside an escape-heavy message_string",
        &failure(client.send(&mixed)),
        "snomed_term",
    );
    assert_eq!(mock.requests(), Vec::<Value>::new(), "nothing may be sent");

    // Exactly at the cap: sent.
    let frame = hello("4242").to_json().len() - "Hello".len();
    let at_cap = SendMessage::new(
        "4242",
        MessageType::Hero,
        "y".repeat(herohealth::REQUEST_BODY_CAP - frame),
    );
    assert_eq!(at_cap.to_json().len(), herohealth::REQUEST_BODY_CAP);
    // The mock echoes the text, so its reply is over the reply cap: what
    // matters here is that the request went.
    let _ = client.send(&at_cap);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "a body of exactly the cap is sent");
    assert_eq!(body_of(&requests[0]).len(), herohealth::REQUEST_BODY_CAP);
    let one_over = SendMessage::new(
        "4242",
        MessageType::Hero,
        "y".repeat(herohealth::REQUEST_BODY_CAP - frame + 1),
    );
    assert_invalid(
        "one byte over",
        &failure(client.send(&one_over)),
        "message_string",
    );
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn strict_checks_off_sends_the_clinical_and_contact_cases() {
    let mock = Mock::start();
    let client = mock.client().strict_checks(false).build().unwrap();
    assert!(!client.strict_checks());
    // Written out, not serialized again: each case's body exactly as sent.
    const H: &str = r#"{"patient_id":"4242","message_type":"#;
    let expected = [
        r#""hero","message_string":"Hello","snomed_code":"123456789"}"#,
        r#""sms","message_string":"Hello","recipient_contact_detail":"not a phone"}"#,
        r#""email","message_string":"Hello","recipient_contact_detail":"not-an-email"}"#,
        r#""nhs_app","message_string":"Hello","fallback_contact_detail":"07700 900123"}"#,
        r#""nhs_app","message_string":"Hello","fallback_contact_detail":"07700 900123","fallback_message_type":"email"}"#,
        r#""hero","message_string":"Hello","write_to_record":true,"snomed_term":"Telephone encounter"}"#,
        r#""hero","message_string":"Hello","auto_write_to_record":true}"#,
        r#""hero","message_string":"Hello","write_to_record":false,"auto_write_to_record":true}"#,
    ];
    let cases = strict_rule_cases();
    assert_eq!(cases.len(), expected.len());
    for (n, ((label, msg, _), body)) in cases.into_iter().zip(expected).enumerate() {
        assert!(msg.validate(false).is_ok(), "{label}");
        // The mock may accept or refuse: what matters is that it was sent.
        let _ = client.send(&msg);
        let requests = mock.requests();
        assert_eq!(requests.len(), n + 1, "{label} must be sent");
        assert_eq!(body_of(&requests[n]), format!("{H}{body}"), "{label}");
    }
    let before = mock.requests().len();
    for (label, msg, field) in basic_rule_cases() {
        let e = failure(client.send(&msg));
        assert_invalid(label, &e, field);
    }
    assert_eq!(mock.requests().len(), before, "basic rules still apply");
}

#[test]
fn bad_credentials_fail_at_build() {
    let target = || Target::Custom("http://127.0.0.1:9".into());
    let cases = [
        ("", GROUP, "api_key"),
        ("key\r\n", GROUP, "api_key"),
        ("ab\r\nx-evil: 1", GROUP, "api_key"),
        (" key", GROUP, "api_key"),
        ("ké", GROUP, "api_key"),
        (KEY, "", "practice_group_id"),
        (KEY, "gr\0up", "practice_group_id"),
        (KEY, "group\n", "practice_group_id"),
    ];
    for (key, group, field) in cases {
        let e = Client::builder(target(), key, group)
            .build()
            .expect_err(field);
        assert_eq!(e.outcome(), Outcome::NotSent, "{key:?}/{group:?}");
        assert_eq!(e.field(), Some(field), "{key:?}/{group:?}: {e}");
    }
}

// ------------------------------------------------------------------- statuses

#[test]
fn ok_reply_has_all_nine_fields() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let text = "Your blood test results are normal.";
    let msg = SendMessage::new("4242", MessageType::Hero, text)
        .write_to_record(true)
        .send_at("2026-12-01T09:00:00Z");
    let reply = client.send(&msg).expect("sent");
    let id = reply.message_id();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(reply.content(), Some(text));
    let created = reply.created_at().expect("created_at");
    assert!(
        created.len() >= 20 && created.as_bytes()[10] == b'T' && created.ends_with('Z'),
        "{created}"
    );
    assert_eq!(
        reply.snomed_code(),
        Some("185317003"),
        "Hero's default code"
    );
    assert_eq!(reply.write_to_record(), Some(true));
    assert!(!reply.auth_token().expect("auth_token").is_empty());
    let confirm = reply.confirm_write_to_record_url().expect("confirm url");
    assert!(confirm.ends_with(id), "{confirm}");
    assert_eq!(reply.submitted_by(), Some("hero-mock"));
    assert_eq!(reply.send_at(), Some("2026-12-01T09:00:00Z"));
    let all: Value = serde_json::from_str(&reply.to_json()).unwrap();
    assert_eq!(all.as_object().unwrap().len(), 9);
    assert_eq!(all["message_id"], id);

    // Approval is skipped with auto_write_to_record: no confirm URL.
    let auto = client
        .send(
            &hello("4242")
                .write_to_record(true)
                .auto_write_to_record(true)
                .snomed_code("22298006"),
        )
        .expect("sent");
    assert_eq!(auto.confirm_write_to_record_url(), None);
    assert_eq!(auto.snomed_code(), Some("22298006"));
    assert_ne!(auto.message_id(), id);

    // No record write: no code, no URL, nothing scheduled.
    let plain = client.send(&hello("4242")).expect("sent");
    assert_eq!(plain.write_to_record(), Some(false));
    assert_eq!(plain.snomed_code(), None);
    assert_eq!(plain.confirm_write_to_record_url(), None);
    assert_eq!(plain.send_at(), None);
    assert_eq!(mock.requests().len(), 3);
}

#[test]
fn wrong_key_and_999403_are_refused_403() {
    let mock = Mock::start();
    let wrong = Client::builder(Target::Custom(mock.base_url()), "wrong-key", GROUP)
        .build()
        .unwrap();
    let right = mock.client().build().unwrap();
    for (who, client, pid) in [("wrong key", &wrong, "4242"), ("999403", &right, "999403")] {
        let e = failure(client.send(&hello(pid)));
        assert_eq!(e.outcome(), Outcome::Refused, "{who}: {e}");
        assert_eq!(e.kind(), ErrorKind::HttpStatus, "{who}");
        assert_eq!(e.status(), Some(403), "{who}");
        assert_eq!(e.attempts(), 1, "{who}");
        assert!(e.outcome().safe_to_resend());
        let body: Value = serde_json::from_slice(e.response_body().unwrap()).unwrap();
        assert_eq!(body, json!({"error": "Unauthorised"}), "{who}");
    }
    assert_eq!(mock.requests().len(), 2, "403 is never retried");
}

#[test]
fn not_found_and_unprocessable_are_refused_with_the_body() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let e = failure(client.send(&hello("999404")));
    assert_eq!(
        (e.outcome(), e.kind(), e.status()),
        (Outcome::Refused, ErrorKind::HttpStatus, Some(404))
    );
    let body: Value = serde_json::from_slice(e.response_body().unwrap()).unwrap();
    assert_eq!(body, json!({"error": "Not found"}));

    let e = failure(client.send(&hello("999422")));
    assert_eq!(
        (e.outcome(), e.kind(), e.status()),
        (Outcome::Refused, ErrorKind::HttpStatus, Some(422))
    );
    let body: Value = serde_json::from_slice(e.response_body().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"error": "patient_id: patient not found", "field": "patient_id"})
    );
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn rate_limited_every_time_gives_up_after_max_attempts() {
    let mock = Mock::start();
    let client = mock.client().max_attempts(2).build().unwrap();
    let started = Instant::now();
    let e = failure(client.send(&hello("999429")));
    assert_eq!(e.outcome(), Outcome::Refused, "{e}");
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(e.attempts(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited Retry-After"
    );
    assert_eq!(mock.requests().len(), 2);

    // A Retry-After beyond max_retry_wait goes back to the caller at once.
    let impatient = mock
        .client()
        .max_retry_wait(Duration::from_millis(500))
        .build()
        .unwrap();
    let e = failure(impatient.send(&hello("999429")));
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::RateLimited, 1));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(mock.requests().len(), 3);
}

#[test]
fn rate_limited_once_then_accepted_after_one_retry() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let msg = hello("999428");
    let reply = client.send(&msg).expect("accepted on the retry");
    assert!(!reply.message_id().is_empty());
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "exactly one retry");
    assert_eq!(body_of(&requests[0]), body_of(&requests[1]));
    assert_eq!(
        body_of(&requests[1]),
        r#"{"patient_id":"999428","message_type":"hero","message_string":"Hello"}"#
    );
}

#[test]
fn server_errors_may_have_been_sent_and_are_never_retried() {
    for (pid, status) in [("999500", 500), ("999503", 503)] {
        let mock = Mock::start();
        let client = mock.client().max_attempts(5).build().unwrap();
        let e = failure(client.send(&hello(pid)));
        assert_eq!(e.outcome(), Outcome::MayHaveBeenSent, "{pid}: {e}");
        assert!(!e.outcome().safe_to_resend());
        assert_eq!(e.kind(), ErrorKind::HttpStatus, "{pid}");
        assert_eq!(e.status(), Some(status), "{pid}");
        assert_eq!(e.attempts(), 1, "{pid}");
        assert_eq!(mock.requests().len(), 1, "{pid} must not be retried");
    }
}

#[test]
fn dropped_connection_may_have_been_sent() {
    let mock = Mock::start();
    let client = mock.client().max_attempts(5).build().unwrap();
    let e = failure(client.send(&hello("999000")));
    assert_eq!(e.outcome(), Outcome::MayHaveBeenSent, "{e}");
    assert!(!e.outcome().safe_to_resend());
    assert_eq!(e.status(), None);
    assert_eq!(e.attempts(), 1);
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn slow_reply_past_the_deadline_may_have_been_sent() {
    let mock = Mock::start_with(&["--slow-seconds", "30"]);
    let client = mock
        .client()
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = failure(client.send(&hello("999504")));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(took >= Duration::from_millis(900), "took {took:?}");
    assert_eq!(e.outcome(), Outcome::MayHaveBeenSent, "{e}");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.attempts(), 1);
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn unreadable_ok_is_accepted_id_unknown() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let text = "Please book your review";
    for pid in ["999200", "999201"] {
        let e = failure(client.send(&SendMessage::new(pid, MessageType::Hero, text)));
        assert_eq!(e.outcome(), Outcome::AcceptedIdUnknown, "{pid}: {e}");
        assert!(!e.outcome().safe_to_resend());
        assert_eq!(e.kind(), ErrorKind::UnreadableResponse, "{pid}");
        assert_eq!(e.status(), Some(200), "{pid}");
        assert_eq!(e.attempts(), 1, "{pid}");
    }
    assert_eq!(mock.requests().len(), 2, "never retried");
    let e = failure(client.send(&SendMessage::new("999201", MessageType::Hero, text)));
    let body = String::from_utf8(e.response_body().unwrap().to_vec()).unwrap();
    assert!(body.contains(text), "the body accessor keeps the reply");
}

#[test]
fn redirect_is_refused_and_not_followed() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let e = failure(client.send(&hello("999307")));
    assert_eq!(e.outcome(), Outcome::Refused, "{e}");
    assert_eq!(e.kind(), ErrorKind::Redirect);
    assert_eq!(e.status(), Some(307));
    assert_eq!(e.attempts(), 1);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "nothing sent to the Location");
    assert_eq!(requests[0]["path"], SEND_PATH);
}

#[test]
fn refused_connection_is_not_sent_and_retried() {
    let refused = refused_port();
    let url = format!("http://127.0.0.1:{}", refused.port);
    let client = Client::builder(Target::Custom(url.clone()), KEY, GROUP)
        .build()
        .unwrap();
    let e = failure(client.send(&hello("4242")));
    assert_eq!(e.outcome(), Outcome::NotSent, "{e}");
    assert!(e.outcome().safe_to_resend());
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert_eq!(e.attempts(), 3, "default: three attempts");
    assert_eq!(e.status(), None);

    let once = Client::builder(Target::Custom(url), KEY, GROUP)
        .max_attempts(1)
        .build()
        .unwrap();
    let e = failure(once.send(&hello("4242")));
    assert_eq!(
        (e.outcome(), e.kind(), e.attempts()),
        (Outcome::NotSent, ErrorKind::Connect, 1)
    );
}

#[test]
fn truncated_ok_body_is_accepted_id_unknown() {
    let (port, server) = one_shot_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\
          Connection: close\r\n\r\n{\"message_id\":",
    );
    let client = raw_client(port);
    let e = failure(client.send(&hello("4242")));
    assert_eq!(e.outcome(), Outcome::AcceptedIdUnknown, "{e}");
    assert_eq!(e.status(), Some(200));
    assert_eq!(e.attempts(), 1);
    assert!(!server.join().unwrap().is_empty());
}

#[test]
fn answer_that_is_not_http_may_have_been_sent() {
    let (port, server) = one_shot_server(b"220 smtp.example ready\r\n\r\n");
    let client = raw_client(port);
    let e = failure(client.send(&hello("4242")));
    assert_eq!(e.outcome(), Outcome::MayHaveBeenSent, "{e}");
    assert_eq!(e.attempts(), 1);
    assert!(!server.join().unwrap().is_empty());
}

#[test]
fn pooled_connection_closed_while_idle_is_replaced() {
    let mock = Mock::start_with(&["--idle-close-ms", "100"]);
    let client = mock.client().build().unwrap();
    client.send(&hello("1")).expect("first");
    thread::sleep(Duration::from_millis(400));
    client
        .send(&hello("2"))
        .expect("second, after the server closed the idle connection");
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(client.connections_opened(), 2);
}

// ----------------------------------------------------------------- from_vars

fn from_pairs(pairs: &[(&str, &str)]) -> Result<ClientBuilder, Error> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ClientBuilder::from_vars(move |name| map.get(name).cloned().map(Ok))
}

fn config_error(pairs: &[(&str, &str)], mentions: &[&str]) {
    let e = from_pairs(pairs)
        .and_then(ClientBuilder::build)
        .expect_err("must be rejected");
    assert_eq!(e.kind(), ErrorKind::Config, "{pairs:?}: {e}");
    assert_eq!(e.outcome(), Outcome::NotSent, "{pairs:?}");
    for m in mentions {
        assert!(e.to_string().contains(m), "{pairs:?}: {e} should name {m}");
    }
}

#[test]
fn from_vars_needs_every_setting() {
    let key = ("HERO_API_KEY", "k");
    let group = ("HERO_PRACTICE_GROUP_ID", "g");
    let env = ("HERO_ENVIRONMENT", "staging");
    config_error(&[group, env], &["HERO_API_KEY"]);
    config_error(&[("HERO_API_KEY", ""), group, env], &["HERO_API_KEY"]);
    config_error(&[key, env], &["HERO_PRACTICE_GROUP_ID"]);
    config_error(&[key, group], &["HERO_BASE_URL", "HERO_ENVIRONMENT"]);
    config_error(
        &[
            key,
            group,
            env,
            ("HERO_BASE_URL", "https://api.staging.htech.app"),
        ],
        &["HERO_BASE_URL", "HERO_ENVIRONMENT"],
    );
    for wrong in ["Production", "STAGING", " staging", "prod", "dev"] {
        config_error(
            &[key, group, ("HERO_ENVIRONMENT", wrong)],
            &["HERO_ENVIRONMENT"],
        );
    }
    for url in [
        "http://example.com",
        "http://10.1.2.3:8080",
        "ftp://127.0.0.1",
    ] {
        config_error(&[key, group, ("HERO_BASE_URL", url)], &["base URL"]);
    }
    let e = ClientBuilder::from_vars(|name| (name == "HERO_API_KEY").then_some(Err(())))
        .expect_err("not UTF-8");
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("HERO_API_KEY"), "{e}");
}

#[test]
fn from_vars_targets() {
    let url = |pairs: &[(&str, &str)]| {
        from_pairs(pairs)
            .and_then(ClientBuilder::build)
            .expect("valid settings")
            .url()
            .to_owned()
    };
    let key = ("HERO_API_KEY", "k");
    let group = ("HERO_PRACTICE_GROUP_ID", "g");
    assert_eq!(
        url(&[key, group, ("HERO_ENVIRONMENT", "staging")]),
        "https://api.staging.htech.app/v1/messages/send"
    );
    assert_eq!(
        url(&[key, group, ("HERO_ENVIRONMENT", "production")]),
        "https://api.herohealth.net/v1/messages/send"
    );
    assert_eq!(
        url(&[
            key,
            group,
            ("HERO_BASE_URL", "https://gw.example.nhs.uk/hero/")
        ]),
        "https://gw.example.nhs.uk/hero/v1/messages/send"
    );

    // End to end: variables pointing at the mock send a message.
    let mock = Mock::start();
    let base = mock.base_url();
    let client = from_pairs(&[
        ("HERO_API_KEY", KEY),
        ("HERO_PRACTICE_GROUP_ID", GROUP),
        ("HERO_BASE_URL", &base),
    ])
    .and_then(ClientBuilder::build)
    .unwrap();
    assert_eq!(client.url(), format!("{base}{SEND_PATH}"));
    client.send(&hello("4242")).expect("sent");
    assert_eq!(header(&mock.requests()[0], "x-api-key"), Some(KEY));
}

// -------------------------------------------------------------------- secrets

#[test]
fn secrets_never_appear_in_texts_or_logs() {
    let hex = unique_hex();
    let key = format!("key-{hex}");
    let other_key = format!("key-{}", unique_hex());
    let text = format!("Confidential result {hex} for you");
    let phone = format!(
        "07700 9{:05}",
        u64::from_str_radix(&hex[..8], 16).unwrap() % 100_000
    );
    let email = format!("p{hex}@example.nhs.uk");
    let patient = format!(
        "7{:09}",
        u64::from_str_radix(&hex[8..], 16).unwrap() % 1_000_000_000
    );

    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let hook = {
        let lines = lines.clone();
        move |level: LogLevel, line: &str| lines.lock().unwrap().push(format!("{level:?} {line}"))
    };
    let mut texts: Vec<String> = Vec::new();
    let mut note = |what: &str, display: String, debug: String| {
        texts.push(format!("{what} display: {display}"));
        texts.push(format!("{what} debug: {debug}"));
    };

    let mock = Mock::start_with(&["--api-key", &key, "--slow-seconds", "30"]);
    let builder = Client::builder(Target::Custom(mock.base_url()), &key, GROUP)
        .log_hook(hook.clone())
        .max_attempts(2);
    note("builder", String::new(), format!("{builder:?}"));
    let client = builder.build().unwrap();
    note("client", String::new(), format!("{client:?}"));
    let msg = |pid: &str| {
        SendMessage::new(pid, MessageType::Sms, text.as_str())
            .recipient_contact_detail(phone.as_str())
            .fallback_message_type(FallbackType::Email)
            .fallback_contact_detail(email.as_str())
    };

    // Accepted, and accepted after a 429 retry.
    for pid in [patient.as_str(), "999428"] {
        let m = msg(pid);
        note("message", String::new(), format!("{m:?}"));
        let reply = client.send(&m).expect("accepted");
        note("reply", String::new(), format!("{reply:?}"));
    }
    let mut errors: Vec<Error> = Vec::new();

    // Validation failures holding the secrets in the offending field.
    let invalid = [
        SendMessage::new(patient.as_str(), MessageType::Email, text.as_str())
            .recipient_contact_detail(phone.as_str()),
        SendMessage::new(patient.as_str(), MessageType::Sms, text.as_str())
            .recipient_contact_detail(email.as_str()),
        msg(patient.as_str()).fallback_message_type(FallbackType::Sms),
        SendMessage::new(format!("{patient}x"), MessageType::Sms, text.as_str()),
    ];
    for m in &invalid {
        note("message", String::new(), format!("{m:?}"));
        let e = failure(client.send(m));
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        errors.push(e);
    }
    // send_at and snomed_code are shown by SendMessage's Debug (not patient
    // data), so only the errors are checked for these two.
    for m in [
        msg(patient.as_str()).send_at(text.as_str()),
        msg(patient.as_str()).snomed_code(phone.as_str()),
    ] {
        let e = failure(client.send(&m));
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        errors.push(e);
    }
    let validated = mock.requests().len();

    // Every answer the mock can give, and a lost connection.
    let scenarios = [
        "999403", "999404", "999422", "999429", "999500", "999503", "999000", "999200", "999201",
        "999307",
    ];
    for pid in scenarios {
        errors.push(failure(client.send(&msg(pid))));
    }
    let slow = Client::builder(Target::Custom(mock.base_url()), &key, GROUP)
        .log_hook(hook.clone())
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    errors.push(failure(slow.send(&msg("999504"))));
    let wrong = Client::builder(Target::Custom(mock.base_url()), &other_key, GROUP)
        .log_hook(hook.clone())
        .build()
        .unwrap();
    note("client", String::new(), format!("{wrong:?}"));
    errors.push(failure(wrong.send(&msg(patient.as_str()))));
    let dead = refused_port();
    let refused = Client::builder(
        Target::Custom(format!("http://127.0.0.1:{}", dead.port)),
        &key,
        GROUP,
    )
    .log_hook(hook.clone())
    .build()
    .unwrap();
    errors.push(failure(refused.send(&msg(patient.as_str()))));
    assert_eq!(
        mock.requests().len(),
        validated + scenarios.len() + 2 + 1,
        "every scenario reached the mock once (999429 twice, slow once, wrong key once)"
    );

    // Configuration failures around the key.
    let bad = Client::builder(Target::Custom(mock.base_url()), &format!("{key}\n"), GROUP);
    note("builder", String::new(), format!("{bad:?}"));
    errors.push(bad.build().unwrap_err());
    errors.push(
        Client::builder(Target::Custom(format!("http://{key}.example")), &key, GROUP)
            .build()
            .unwrap_err(),
    );
    errors
        .push(from_pairs(&[("HERO_API_KEY", &key), ("HERO_ENVIRONMENT", "staging")]).unwrap_err());
    let from_vars = from_pairs(&[
        ("HERO_API_KEY", &key),
        ("HERO_PRACTICE_GROUP_ID", GROUP),
        ("HERO_ENVIRONMENT", "staging"),
    ])
    .unwrap();
    note("builder", String::new(), format!("{from_vars:?}"));

    let kinds: HashSet<String> = errors.iter().map(|e| format!("{:?}", e.kind())).collect();
    for k in [
        "InvalidInput",
        "HttpStatus",
        "RateLimited",
        "Timeout",
        "UnreadableResponse",
        "Redirect",
        "Connect",
        "Config",
    ] {
        assert!(kinds.contains(k), "walk must reach {k}: {kinds:?}");
    }
    for e in &errors {
        note("error", e.to_string(), format!("{e:?}"));
        if let Some(source) = std::error::Error::source(e) {
            note("error source", source.to_string(), format!("{source:?}"));
        }
    }
    let logged = lines.lock().unwrap().clone();
    assert!(logged.iter().any(|l| l.contains("retrying")), "{logged:#?}");
    assert!(logged.len() >= errors.len(), "{logged:#?}");

    let secrets = [
        ("API key", key.as_str()),
        ("second API key", other_key.as_str()),
        ("message text", text.as_str()),
        ("message text marker", hex.as_str()),
        ("phone", phone.as_str()),
        ("email", email.as_str()),
        ("patient id", patient.as_str()),
    ];
    for t in texts.iter().chain(&logged) {
        for (what, secret) in secrets {
            assert!(!t.contains(secret), "{what} leaked in: {t}");
        }
    }
    for line in &logged {
        for pid in scenarios {
            assert!(!line.contains(pid), "patient id leaked in log line: {line}");
        }
    }
}

// -------------------------------------------------------------------- threads

/// 8 threads × 10 sends through clones of one client; the message ids.
fn eight_threads_ten_sends(client: &Client) -> HashSet<String> {
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        let text = format!("thread {t} message {i}");
                        let msg = SendMessage::new(
                            format!("{}", 100 + t * 10 + i),
                            MessageType::Hero,
                            &text,
                        );
                        let reply = client
                            .send(&msg)
                            .unwrap_or_else(|e| panic!("thread {t} send {i}: {e}"));
                        assert_eq!(reply.content(), Some(text.as_str()));
                        reply.message_id().to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect()
}

#[test]
fn one_client_shared_by_eight_threads() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let ids = eight_threads_ten_sends(&client);
    assert_eq!(ids.len(), 80, "80 distinct message ids");
    assert_eq!(mock.requests().len(), 80);
    assert!(client.connections_opened() >= 1);
}

#[test]
fn eight_threads_reuse_at_most_eight_connections() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    assert_eq!(eight_threads_ten_sends(&client).len(), 80);
    let opened = client.connections_opened();
    assert!(
        (1..=8).contains(&opened),
        "keep-alive pool: {opened} connections for 80 sends from 8 threads"
    );
}

/// A client for a raw test server on loopback, with the test credentials.
fn raw_client(port: u16) -> Client {
    Client::builder(
        Target::Custom(format!("http://127.0.0.1:{port}")),
        KEY,
        GROUP,
    )
    .build()
    .unwrap()
}

/// Through the C ABI: an empty error body reads as NULL with length 0, and
/// a body as its bytes.
#[test]
fn c_error_body_is_null_when_empty() {
    use herohealth::ffi::*;
    use std::ffi::CString;
    use std::ptr;
    for (raw, want) in [
        (
            &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"[..],
            None,
        ),
        (
            &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"[..],
            Some(&b"nope"[..]),
        ),
    ] {
        let raw: &'static [u8] = Box::leak(raw.to_vec().into_boxed_slice());
        let (port, _server) = one_shot_server(raw);
        let url = CString::new(format!("http://127.0.0.1:{port}")).unwrap();
        let (key, group) = (CString::new(KEY).unwrap(), CString::new(GROUP).unwrap());
        let (pid, text) = (
            CString::new("4242").unwrap(),
            CString::new("Hello").unwrap(),
        );
        let (mut config, mut client, mut msg) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        let (mut resp, mut err) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(
            hero_config_new(
                HERO_TARGET_CUSTOM,
                url.as_ptr(),
                key.as_ptr(),
                group.as_ptr(),
                &mut config
            ),
            hero_status::HERO_OK
        );
        assert_eq!(
            hero_client_new(config, &mut client, ptr::null_mut()),
            hero_status::HERO_OK
        );
        assert_eq!(
            hero_message_new(
                pid.as_ptr(),
                HERO_MESSAGE_TYPE_HERO,
                text.as_ptr(),
                &mut msg
            ),
            hero_status::HERO_OK
        );
        assert_eq!(
            hero_client_send(client, msg, &mut resp, &mut err),
            hero_status::HERO_REFUSED
        );
        assert_eq!(hero_error_http_status(err), 400);
        let mut len = 99usize;
        let body = hero_error_body(err, &mut len);
        match want {
            None => assert!(body.is_null() && len == 0, "{body:?} {len}"),
            // SAFETY: the library returned `len` readable bytes at `body`.
            Some(w) => assert_eq!(unsafe { std::slice::from_raw_parts(body, len) }, w),
        }
        hero_error_free(err);
        hero_response_free(resp);
        hero_message_free(msg);
        hero_client_free(client);
        hero_config_free(config);
    }
}

/// Zero or absurd timeouts are caller mistakes, refused before any send.
#[test]
fn unusable_timeouts_fail_at_build() {
    for (deadline, connect) in [
        (Duration::ZERO, Duration::from_secs(1)),
        (Duration::from_secs(1), Duration::ZERO),
        (Duration::MAX, Duration::from_secs(1)),
        (Duration::from_secs(1), Duration::from_secs(25 * 3600)),
    ] {
        let e = Client::builder(Target::Staging, KEY, GROUP)
            .deadline(deadline)
            .connect_timeout(connect)
            .build()
            .unwrap_err();
        assert_eq!(
            (e.outcome(), e.kind()),
            (Outcome::NotSent, ErrorKind::Config),
            "{e}"
        );
    }
}
