//! The client-wide rate-limit gate against a real loopback HTTP server: one
//! 429 holds every thread of the client, and a send whose deadline comes
//! before the gate opens fails as not sent, without a request.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use herohealth::{Client, ErrorKind, MessageType, Outcome, SendMessage, Target};

pub mod common;
use common::{Mock, read_request, serve};

/// Statuses the server answered, per patient id, in order.
type Seen = Arc<Mutex<HashMap<String, Vec<u16>>>>;

/// A server that answers 429 with `Retry-After: retry_after` for its first
/// `limited_for`, then 200 with a message id. One request per connection.
fn rate_limited_server(limited_for: Duration, retry_after: u64) -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let started = Instant::now();
    let record = seen.clone();
    let port = serve(move |stream, _| answer(stream, started, limited_for, retry_after, &record));
    (port, seen)
}

fn answer(
    mut stream: TcpStream,
    started: Instant,
    limited_for: Duration,
    retry_after: u64,
    seen: &Seen,
) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let body = request.body();
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    let patient = body["patient_id"].as_str().unwrap().to_owned();
    let limited = started.elapsed() < limited_for;
    let status = if limited { 429 } else { 200 };
    seen.lock()
        .unwrap()
        .entry(patient)
        .or_default()
        .push(status);
    let reply = if limited {
        format!(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    } else {
        let json = r#"{"message_id":"m-1"}"#;
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )
    };
    let _ = stream.write_all(reply.as_bytes());
}

fn client(port: u16, deadline: Duration) -> Client {
    Client::builder(
        Target::Custom(format!("http://127.0.0.1:{port}")),
        "gate-key",
        "gate-group",
    )
    .deadline(deadline)
    .build()
    .unwrap()
}

fn message(patient: &str) -> SendMessage {
    SendMessage::new(patient, MessageType::Hero, "x")
}

#[test]
fn one_429_holds_every_thread_until_retry_after() {
    let (port, seen) = rate_limited_server(Duration::from_secs(2), 2);
    let client = client(port, Duration::from_secs(30));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                // Staggered starts: threads that start after the first 429
                // must wait at the gate instead of drawing their own.
                thread::sleep(Duration::from_millis(200) * t);
                client.send(&message(&format!("70{t}")))
            })
        })
        .collect();
    for h in handles {
        let reply = h.join().unwrap();
        assert!(reply.is_ok(), "{:?}", reply.err());
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 8);
    let all_429: usize = seen
        .values()
        .map(|s| s.iter().filter(|s| **s == 429).count())
        .sum();
    // Only threads already in flight when the first 429 came back see one
    // (the first alone, unless the box is very slow); without the gate all 8 would.
    assert!(all_429 <= 3, "{seen:?}");
    for (patient, statuses) in seen.iter() {
        let limited = statuses.iter().filter(|s| **s == 429).count();
        assert!(limited <= 1, "{patient}: {statuses:?}");
        assert_eq!(statuses.last(), Some(&200), "{patient}: {statuses:?}");
        assert_eq!(statuses.len(), limited + 1, "{patient}: {statuses:?}");
    }
}

#[test]
fn sends_whose_deadline_falls_before_the_gate_opens_are_not_sent_without_a_request() {
    let (port, seen) = rate_limited_server(Duration::from_secs(3600), 30);
    let client = client(port, Duration::from_secs(3));
    let first = client.send(&message("800")).unwrap_err();
    assert_eq!(first.status(), Some(429));
    assert_eq!(first.attempts(), 1);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                let started = Instant::now();
                let e = client.send(&message(&format!("81{t}"))).unwrap_err();
                (e, started.elapsed())
            })
        })
        .collect();
    for h in handles {
        let (e, took) = h.join().unwrap();
        // Hero never saw it: not sent (not "refused"), no status of its own.
        assert_eq!(
            (e.outcome(), e.kind(), e.status()),
            (Outcome::NotSent, ErrorKind::RateLimited, None)
        );
        assert_eq!(e.attempts(), 0, "no request: {e}");
        assert!(e.retry_after().unwrap() > Duration::from_secs(3));
        // At once: well inside the 3 s deadline it would otherwise wait out.
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["800"],
        "only the first send reached the server"
    );
}

#[test]
fn pacing_spaces_sends_across_threads() {
    let mock = Mock::start();
    let client = mock
        .client()
        .max_sends_per_second(Some(4.0))
        .build()
        .unwrap();
    let started = Instant::now();
    let handles: Vec<_> = (0..3)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                for i in 0..3 {
                    client.send(&message(&format!("9{t}{i}"))).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Nine starts at 4 per second span at least 2 s.
    assert!(started.elapsed() >= Duration::from_millis(1990));
    assert_eq!(mock.requests().len(), 9);
    let bad = mock.client().max_sends_per_second(Some(0.0)).build();
    assert_eq!(bad.unwrap_err().kind(), ErrorKind::Config);
}
