//! What a failure (or a success) tells the operator: server-provided text in
//! log lines and error texts, Hero's reason for a refusal, and hints for
//! common set-up mistakes. Against raw loopback servers and the real mock.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::one_shot_server;
use herohealth::{Client, LogLevel, MessageType};
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
