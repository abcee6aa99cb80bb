//! Drives the real `hero-mock` binary over raw HTTP/1.1, so these tests see
//! exactly the bytes a client would.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub mod common;
use common::{GROUP, KEY, Mock};

const MINIMAL: &str = r#"{"patient_id":"12345","message_type":"sms","message_string":"Hello"}"#;

/// Raw HTTP access to the shared test mock.
trait Raw {
    fn connect(&self) -> Client;
    /// One request on a fresh connection.
    fn post(&self, body: &str) -> Reply;
}

impl Raw for Mock {
    fn connect(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    fn post(&self, body: &str) -> Reply {
        self.connect().post(body)
    }
}

struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn send(&mut self, bytes: &[u8]) {
        self.reader
            .get_mut()
            .write_all(bytes)
            .expect("send request");
    }

    fn post(&mut self, body: &str) -> Reply {
        self.send(request(body, "").as_bytes());
        self.reply().expect("a reply")
    }

    /// The next reply, or `None` if the connection ends before a status line.
    fn reply(&mut self) -> Option<Reply> {
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).ok()? == 0 {
            return None;
        }
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header has a colon");
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: String::new(),
        };
        let len: usize = reply
            .header("content-length")
            .expect("content-length")
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).expect("body");
        reply.body = String::from_utf8(body).expect("UTF-8 body");
        Some(reply)
    }

    /// Waits for the server to close; returns how long that took.
    fn wait_for_close(&mut self) -> Duration {
        let start = Instant::now();
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => start.elapsed(),
            other => panic!("expected a close, got {other:?}"),
        }
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// A well-formed POST with correct credentials; `extra` is raw header lines.
fn request(body: &str, extra: &str) -> String {
    format!(
        "POST /v1/messages/send HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\n\
         x-practice-group-id: {GROUP}\r\nContent-Type: application/json\r\n{extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn with_patient(id: &str) -> String {
    format!(r#"{{"patient_id":"{id}","message_type":"sms","message_string":"Hello"}}"#)
}

#[test]
fn minimal_request_gets_all_nine_fields() {
    let mock = Mock::start();
    let reply = mock.post(MINIMAL);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let json = reply.json();
    let id = json["message_id"].as_str().unwrap();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(json["content"], "Hello");
    assert_eq!(json["created_at"].as_str().unwrap().len(), 24);
    assert!(json["snomed_code"].is_null());
    assert_eq!(json["write_to_record"], false);
    assert!(json["auth_token"].is_string());
    assert!(json["confirm_write_to_record_url"].is_null());
    assert_eq!(json["submitted_by"], "hero-mock");
    assert!(json["send_at"].is_null());
    assert_eq!(json.as_object().unwrap().len(), 9);
    assert_ne!(mock.post(MINIMAL).json()["message_id"], id);
}

#[test]
fn full_request_echoes_and_defaults() {
    let mock = Mock::start();
    let body = r#"{"patient_id":"1","message_type":"nhs_app","message_string":"Hi",
        "recipient_contact_detail":"07788 123456","fallback_contact_detail":"a@b.example",
        "fallback_message_type":"email","write_to_record":true,"encrypted":"yes",
        "snomed_term":"term","auto_write_to_record":false,"task_id":"t1","attachment_uuid":"u",
        "short_link_id":"s","assignee_id":7,"assignee_type":"AdminTeam",
        "send_at":"2024-02-29T23:59:60.5+01:00"}"#;
    let json = mock.post(body).json();
    assert_eq!(json["snomed_code"], "185317003");
    assert_eq!(json["write_to_record"], true);
    assert_eq!(json["send_at"], "2024-02-29T23:59:60.5+01:00");
    let url = format!(
        "https://mock.herohealth.invalid/confirm/{}",
        json["message_id"].as_str().unwrap()
    );
    assert_eq!(json["confirm_write_to_record_url"], url.as_str());

    let auto = r#"{"patient_id":"1","message_type":"hero","message_string":"Hi",
        "write_to_record":true,"auto_write_to_record":true,"snomed_code":"123456789"}"#;
    let json = mock.post(auto).json();
    assert_eq!(json["snomed_code"], "123456789");
    assert!(json["confirm_write_to_record_url"].is_null());
}

#[test]
fn credentials_must_match_exactly() {
    let mock = Mock::start();
    let cases = [
        request(MINIMAL, "").replace(KEY, "wrong-key"),
        request(MINIMAL, "").replace(GROUP, "test-group2"),
        request(MINIMAL, "").replace(&format!("x-api-key: {KEY}\r\n"), ""),
        request(MINIMAL, &format!("x-api-key: {KEY}\r\n")),
    ];
    for raw in cases {
        let mut client = mock.connect();
        client.send(raw.as_bytes());
        let reply = client.reply().unwrap();
        assert_eq!(reply.status, 403, "{raw}");
        assert_eq!(reply.body, r#"{"error":"Unauthorised"}"#);
    }
}

#[test]
fn each_broken_rule_is_a_422_naming_the_field() {
    let mock = Mock::start();
    let base = r#""message_type":"sms","message_string":"Hi""#;
    let cases = [
        (
            format!(r#"{{"patient_id":"1",{base},"task_id":null}}"#),
            "task_id",
            "must be omitted, not null",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"colour":"red"}}"#),
            "colour",
            "unknown field",
        ),
        (
            format!(r#"{{"patient_id":"12a",{base}}}"#),
            "patient_id",
            "digits",
        ),
        (
            format!(r#"{{"patient_id":12,{base}}}"#),
            "patient_id",
            "digits",
        ),
        (
            format!(r#"{{"patient_id":"1","patient_id":"2",{base}}}"#),
            "patient_id",
            "duplicate",
        ),
        (
            r#"{"patient_id":"1","message_type":"sms","message_string":""}"#.to_owned(),
            "message_string",
            "non-empty",
        ),
        (
            r#"{"patient_id":"1","message_string":"Hi"}"#.to_owned(),
            "message_type",
            "required",
        ),
        (
            r#"{"patient_id":"1","message_type":"fax","message_string":"Hi"}"#.to_owned(),
            "message_type",
            "one of",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"assignee_id":3}}"#),
            "assignee_type",
            "assignee_id",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"assignee_id":1.5,"assignee_type":"Admin"}}"#),
            "assignee_id",
            "whole",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"assignee_id":-1,"assignee_type":"Admin"}}"#),
            "assignee_id",
            "non-negative",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"send_at":"2023-02-29T10:00:00Z"}}"#),
            "send_at",
            "RFC 3339",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"send_at":"2024-01-01T10:00:00"}}"#),
            "send_at",
            "RFC 3339",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"send_at":"2024-01-01 10:00:00Z"}}"#),
            "send_at",
            "RFC 3339",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"write_to_record":"true"}}"#),
            "write_to_record",
            "boolean",
        ),
        (
            format!(r#"{{"patient_id":"1",{base},"attachment_uuid":""}}"#),
            "attachment_uuid",
            "non-empty",
        ),
    ];
    // All on one keep-alive connection, which also shows 422s keep it open.
    let mut client = mock.connect();
    for (body, field, rule) in cases {
        let reply = client.post(&body);
        assert_eq!(reply.status, 422, "{body}");
        let json = reply.json();
        assert_eq!(json["field"], field, "{body}");
        let error = json["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("{field}: ")) && error.contains(rule),
            "{error}"
        );
    }
}

#[test]
fn protocol_level_errors() {
    let mock = Mock::start();
    let cases = [
        (
            request(MINIMAL, "").replace("application/json", "text/plain"),
            415,
        ),
        (
            request(MINIMAL, "").replace("application/json", "application/json; charset=utf-8"),
            200,
        ),
        (request("[1,2]", ""), 400),
        (request("{} trailing", ""), 400),
        (
            request(MINIMAL, "").replace("/v1/messages/send", "/v1/messages/other"),
            404,
        ),
        (request(MINIMAL, "").replace("POST", "PUT"), 405),
        (request(MINIMAL, "").replace("Host: 127.0.0.1\r\n", ""), 400),
        (request(MINIMAL, "Transfer-Encoding: chunked\r\n"), 400),
    ];
    for (raw, status) in cases {
        let mut client = mock.connect();
        client.send(raw.as_bytes());
        let reply = client.reply().unwrap();
        assert_eq!(reply.status, status, "{raw}");
        if status == 400 && raw.contains("[1,2]") {
            assert_eq!(reply.body, r#"{"error":"body is not a JSON object"}"#);
        }
        if status == 405 {
            assert_eq!(reply.header("allow"), Some("POST"));
        }
    }
}

#[test]
fn oversized_requests_are_refused() {
    let mock = Mock::start();
    let mut client = mock.connect();
    let head = request("", "").replace("Content-Length: 0", "Content-Length: 1048577");
    client.send(head.as_bytes());
    assert_eq!(client.reply().unwrap().status, 413);

    let mut client = mock.connect();
    let big = format!("X-Filler: {}\r\n", "a".repeat(70 * 1024));
    client.send(request(MINIMAL, &big).as_bytes());
    let reply = client.reply().unwrap();
    assert_eq!(reply.status, 431);
    assert_eq!(reply.header("connection"), Some("close"));
}

#[test]
fn keep_alive_and_connection_close() {
    let mock = Mock::start();
    let mut client = mock.connect();
    // Two requests in one write also covers pipelining.
    client.send(format!("{}{}", request(MINIMAL, ""), request(MINIMAL, "")).as_bytes());
    let first = client.reply().unwrap();
    let second = client.reply().unwrap();
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.header("connection"), Some("keep-alive"));

    client.send(request(MINIMAL, "Connection: close\r\n").as_bytes());
    let last = client.reply().unwrap();
    assert_eq!(last.status, 200);
    assert_eq!(last.header("connection"), Some("close"));
    client.wait_for_close();
}

#[test]
fn chunked_request_body() {
    let mock = Mock::start();
    let (a, b) = MINIMAL.split_at(20);
    let raw = format!(
        "POST /v1/messages/send HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\nx-practice-group-id: {GROUP}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{a}\r\n{:X};ext=1\r\n{b}\r\n0\r\nX-Trailer: t\r\n\r\n",
        a.len(),
        b.len()
    );
    let mut client = mock.connect();
    client.send(raw.as_bytes());
    let reply = client.reply().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["content"], "Hello");
    // The connection is still usable afterwards.
    assert_eq!(client.post(MINIMAL).status, 200);
}

#[test]
fn record_writes_each_request() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hero-mock-record-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mock = Mock::start_with(&["--record", path.to_str().unwrap()]);
    let body = "{ \"patient_id\": \"7\", \"message_type\": \"email\", \"message_string\": \"Caf\u{e9} \\\"x\\\"\" }";
    assert_eq!(mock.post(body).status, 200);
    mock.post("not json");

    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["path"], "/v1/messages/send");
    assert_eq!(lines[0]["body"], body);
    assert_eq!(lines[0]["headers"]["x-api-key"], KEY);
    assert_eq!(lines[0]["headers"]["content-type"], "application/json");
    assert_eq!(lines[1]["body"], "not json");
}

#[test]
fn idle_connection_is_closed() {
    let mock = Mock::start_with(&["--idle-close-ms", "200"]);
    let mut client = mock.connect();
    assert_eq!(client.post(MINIMAL).status, 200);
    let waited = client.wait_for_close();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn reserved_patient_ids() {
    let mock = Mock::start();
    let post_for = |id: &str| mock.post(&with_patient(id));

    assert_eq!(post_for("999403").body, r#"{"error":"Unauthorised"}"#);
    assert_eq!(post_for("999404").status, 404);
    let reply = post_for("999422");
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.body,
        r#"{"error":"patient_id: patient not found","field":"patient_id"}"#
    );
    for _ in 0..2 {
        let reply = post_for("999429");
        assert_eq!(
            (reply.status, reply.header("retry-after")),
            (429, Some("1"))
        );
    }
    let flips: Vec<u16> = (0..4).map(|_| post_for("999428").status).collect();
    assert_eq!(flips, [429, 200, 429, 200]);
    let reply = post_for("999500");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (500, r#"{"error":"Unknown error"}"#)
    );
    let reply = post_for("999503");
    assert_eq!(
        (reply.status, reply.header("retry-after")),
        (503, Some("2"))
    );
    let reply = post_for("999200");
    assert_eq!((reply.status, reply.body.as_str()), (200, "not json"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let reply = post_for("999201");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, r#"{"content":"Hello"}"#)
    );
    let reply = post_for("999307");
    let location = format!("http://127.0.0.1:{}/v1/messages/elsewhere", mock.port);
    assert_eq!(
        (reply.status, reply.header("location")),
        (307, Some(location.as_str()))
    );

    // Reserved ids only apply to valid, authorised requests.
    let unauthorised = request(&with_patient("999500"), "").replace(KEY, "nope");
    let mut client = mock.connect();
    client.send(unauthorised.as_bytes());
    assert_eq!(client.reply().unwrap().status, 403);
}

#[test]
fn slow_reply_does_not_block_others() {
    let mock = Mock::start_with(&["--slow-seconds", "1"]);
    let start = Instant::now();
    let mut slow = mock.connect();
    slow.send(request(&with_patient("999504"), "").as_bytes());
    // Meanwhile another connection is served at once.
    assert_eq!(mock.post(MINIMAL).status, 200);
    assert!(start.elapsed() < Duration::from_millis(900));
    assert_eq!(slow.reply().unwrap().status, 200);
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[test]
fn hangup_without_status_line() {
    let mock = Mock::start();
    let mut client = mock.connect();
    client.send(request(&with_patient("999000"), "").as_bytes());
    assert!(client.reply().is_none());
}
