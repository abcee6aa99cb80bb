//! What a failure (or a success) tells the operator: server-provided text in
//! log lines and error texts, Hero's reason for a refusal, and hints for
//! common set-up mistakes. Against raw loopback servers and the real mock.

pub mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Mock, one_shot_server};
use herohealth::{Client, Error, ErrorKind, LogLevel, MessageResponse, MessageType, Outcome};
use herohealth::{SendMessage, Target};

/// Characters that must never reach a log line or an error text raw.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
}

fn failure(result: Result<MessageResponse, Error>) -> Error {
    match result {
        Ok(reply) => panic!("expected an error, got {reply:?}"),
        Err(e) => e,
    }
}

fn hello() -> SendMessage {
    SendMessage::new("4242", MessageType::Hero, "Hello")
}

/// A one-connection loopback server giving this status, headers and body.
fn server(status: &str, headers: &[&str], body: &str) -> u16 {
    let mut reply = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for h in headers {
        reply.push_str(h);
        reply.push_str("\r\n");
    }
    reply.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    // The helper wants a 'static answer; a few per test are fine to leak.
    let (port, _) = one_shot_server(Box::leak(reply.into_bytes().into_boxed_slice()));
    port
}

type Lines = Arc<Mutex<Vec<(LogLevel, String)>>>;

fn logging_client(port: u16) -> (Client, Lines) {
    let lines = Lines::default();
    let sink = lines.clone();
    let client = Client::builder(
        Target::Custom(format!("http://127.0.0.1:{port}")),
        "test-key",
        "test-group",
    )
    .deadline(Duration::from_secs(5))
    .max_attempts(1)
    .log_hook(move |level, line| sink.lock().unwrap().push((level, line.to_owned())))
    .build()
    .unwrap();
    (client, lines)
}

#[test]
fn server_message_ids_reach_log_lines_escaped_and_capped() {
    let ids = [
        "m-1\u{2028}ERROR attempt 2 failed: forged line".to_owned(),
        "m-2\u{202e}txt.exe".to_owned(),
        "m-3\u{2066}\u{200f}\u{2029}".to_owned(),
        format!("m-4{}", "x".repeat(1_000_000)),
    ];
    for id in ids {
        let body = serde_json::json!({ "message_id": id }).to_string();
        let port = server("200 OK", &["Content-Type: application/json"], &body);
        let (client, lines) = logging_client(port);
        let reply = client.send(&hello()).expect("accepted");
        // The accessor keeps the whole value.
        assert_eq!(reply.message_id(), id);
        let lines = lines.lock().unwrap();
        let accepted = lines
            .iter()
            .map(|(_, l)| l)
            .find(|l| l.contains("accepted as"))
            .expect("an accepted line");
        assert!(
            !accepted.chars().any(is_unsafe),
            "raw server text in {accepted:?}"
        );
        assert!(accepted.len() < 300, "{} bytes logged", accepted.len());
        assert!(accepted.contains(&id[..3]), "{accepted}");
    }
}

/// A reply's Debug text (what `{reply:?}` writes into a log) shows the
/// server's strings escaped and capped, while the accessors keep them whole.
#[test]
fn reply_debug_shows_server_strings_escaped_and_capped() {
    let id = format!("m-5\u{202e}\", forged: \"{}", "x".repeat(400_000));
    let created = format!("2026\u{2028}INFO forged{}", "y".repeat(400_000));
    let body = serde_json::json!({
        "message_id": id,
        "created_at": created,
        "submitted_by": "Dr\u{2066} Who\u{85}",
    })
    .to_string();
    let port = server("200 OK", &["Content-Type: application/json"], &body);
    let (client, _) = logging_client(port);
    let reply = client.send(&hello()).expect("accepted");
    assert_eq!(reply.message_id(), id);
    assert_eq!(reply.created_at(), Some(created.as_str()));
    let debug = format!("{reply:?}");
    assert!(debug.len() < 1000, "{} bytes of Debug text", debug.len());
    assert!(
        !debug.chars().any(is_unsafe),
        "raw server text in {debug:?}"
    );
    assert!(!debug.contains("\"m-5\u{202e}\", forged"), "{debug}");
    assert!(debug.contains("m-5\\u{202e}\\\", forged"), "{debug}");
    assert!(debug.contains("Dr\\u{2066} Who\\u{85}"), "{debug}");
}

#[test]
fn mock_refusal_gives_heros_reason_and_field() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let e = failure(client.send(&SendMessage::new("999422", MessageType::Hero, "Hello")));
    assert_eq!(e.outcome(), Outcome::Refused);
    assert_eq!(e.kind(), ErrorKind::HttpStatus);
    assert_eq!(e.status(), Some(422));
    assert_eq!(e.server_message(), Some("patient_id: patient not found"));
    assert_eq!(e.field(), Some("patient_id"));
    // The reason may hold patient data: never in the text or Debug output.
    assert!(!e.to_string().contains("not found"), "{e}");
    assert!(!format!("{e:?}").contains("not found"), "{e:?}");

    // 403's body has a reason but names no field.
    let e = failure(client.send(&SendMessage::new("999403", MessageType::Hero, "Hello")));
    assert_eq!(e.server_message(), Some("Unauthorised"));
    assert_eq!(e.field(), None);
}

#[test]
fn server_reason_is_stripped_capped_and_names_only_known_fields() {
    let body = serde_json::json!({
        "errors": [{ "message": format!("bad\u{2028}value\u{202e} for you {}", "z".repeat(5000)) }],
        "field": "nhs_number",
    })
    .to_string();
    let port = server(
        "400 Bad Request",
        &["Content-Type: application/json"],
        &body,
    );
    let (client, lines) = logging_client(port);
    let e = failure(client.send(&hello()));
    assert_eq!(e.outcome(), Outcome::Refused);
    let reason = e.server_message().expect("a reason");
    assert!(reason.starts_with("bad value for you zzz"), "{reason}");
    assert!(!reason.chars().any(is_unsafe), "{reason:?}");
    assert!(
        reason.chars().count() <= 201,
        "{} chars",
        reason.chars().count()
    );
    assert_eq!(e.field(), None, "not a request field");
    for (_, line) in lines.lock().unwrap().iter() {
        assert!(!line.contains("bad"), "reason logged: {line}");
    }

    let port = server(
        "422 Unprocessable Content",
        &[],
        r#"{"message":"snomed_code: unknown concept"}"#,
    );
    let (client, _) = logging_client(port);
    let e = failure(client.send(&hello()));
    assert_eq!(e.field(), Some("snomed_code"));
    assert_eq!(e.server_message(), Some("snomed_code: unknown concept"));
}

/// The error shapes of common server frameworks put the status phrase under
/// `error` and what to fix under `message`: the reason is the latter.
#[test]
fn framework_error_shapes_give_the_message_not_the_status_phrase() {
    for (status, body, reason, field) in [
        (
            "400 Bad Request",
            r#"{"statusCode":400,"message":["patient_id must be a string"],"error":"Bad Request"}"#,
            "patient_id must be a string",
            None,
        ),
        (
            "422 Unprocessable Entity",
            r#"{"statusCode":422,"code":"FST_ERR_VALIDATION","error":"Unprocessable Entity","message":"send_at: must be a date-time"}"#,
            "send_at: must be a date-time",
            Some("send_at"),
        ),
    ] {
        let port = server(status, &["Content-Type: application/json"], body);
        let (client, _) = logging_client(port);
        let e = failure(client.send(&hello()));
        assert_eq!(e.outcome(), Outcome::Refused);
        assert_eq!(e.server_message(), Some(reason), "{body}");
        assert_eq!(e.field(), field, "{body}");
    }
}

/// A reason of many short words is capped too (the spaces between them
/// count towards the cap).
#[test]
fn server_reason_of_short_words_is_capped() {
    let body = serde_json::json!({ "message": "a ".repeat(30_000) }).to_string();
    let port = server("400 Bad Request", &[], &body);
    let (client, _) = logging_client(port);
    let e = failure(client.send(&hello()));
    let reason = e.server_message().expect("a reason");
    assert!(
        reason.chars().count() <= 201,
        "{} chars",
        reason.chars().count()
    );
    assert!(reason.ends_with('…'), "{reason}");
}

/// After a 5xx the message may have gone: a field named by the body is not
/// reported (it would invite fixing and resending), the reason still is.
#[test]
fn server_error_body_names_no_field() {
    let port = server(
        "500 Internal Server Error",
        &["Content-Type: application/json"],
        r#"{"error":"patient_id: lookup timed out","field":"patient_id"}"#,
    );
    let (client, _) = logging_client(port);
    let e = failure(client.send(&hello()));
    assert_eq!(e.outcome(), Outcome::MayHaveBeenSent);
    assert_eq!(e.server_message(), Some("patient_id: lookup timed out"));
    assert_eq!(e.field(), None);
}

/// A common set-up slip: `https://` to the local mock, which speaks plain HTTP.
#[test]
fn https_to_a_plain_http_server_says_what_it_means() {
    let mock = Mock::start();
    let client = Client::builder(
        Target::Custom(format!("https://127.0.0.1:{}", mock.port)),
        common::KEY,
        common::GROUP,
    )
    .build()
    .unwrap();
    let e = failure(client.send(&hello()));
    assert_eq!(e.outcome(), Outcome::NotSent, "{e}");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("the server answered in plain HTTP; the local mock is http://"),
        "{text}"
    );
    assert_eq!(mock.requests().len(), 0);
}
