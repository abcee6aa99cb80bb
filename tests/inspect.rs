//! The mock's inspection API (`/_mock/messages`), driven the way an
//! integrator's test suite would: send through the library, then ask the
//! mock what arrived.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use herohealth::{
    AssigneeType, Client, Encrypted, FallbackType, MessageType, Outcome, SendMessage,
};
use serde_json::Value;

pub mod common;
use common::{KEY, Mock};

/// A plain HTTP agent that hands back 4xx replies instead of failing.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

/// Status and JSON body of `GET base + path`.
fn get(mock: &Mock, path: &str) -> (u16, Value) {
    let mut resp = agent()
        .get(format!("{}{path}", mock.base_url()))
        .call()
        .expect("GET");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).expect("JSON body"))
}

fn list(mock: &Mock, query: &str) -> Value {
    let (status, body) = get(mock, &format!("/_mock/messages{query}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn client(mock: &Mock) -> Client {
    mock.client()
        .max_attempts(1)
        .build()
        .expect("client for the mock")
}

fn sms(patient: &str, text: &str) -> SendMessage {
    SendMessage::new(patient, MessageType::Sms, text).recipient_contact_detail("07700 900123")
}

/// A message that sets all 17 request fields.
fn every_field() -> SendMessage {
    SendMessage::new("4242", MessageType::Email, "Your results are ready.")
        .recipient_contact_detail("patient@example.com")
        .fallback_message_type(FallbackType::Sms)
        .fallback_contact_detail("07700 900123")
        .write_to_record(true)
        .encrypted(Encrypted::Flag(false))
        .snomed_code("185317003")
        .snomed_term("Encounter by computer link")
        .auto_write_to_record(true)
        .task_id("task-7")
        .attachment_uuid("0b7e5d7c-6f53-4a5e-9b3e-2d2f7e1c9a10")
        .short_link_id("link-3")
        .assignee_id(17)
        .assignee_type(AssigneeType::AdminTeam)
        .send_at("2026-12-01T09:00:00Z")
}

#[test]
fn lists_requests_newest_first_as_received_with_reply_and_time() {
    let mock = Mock::start();
    let client = client(&mock);
    let first = every_field();
    let second = sms("5151", "Second message");
    let before = list(&mock, "")["latest_seq"].as_u64().unwrap();
    let reply_first = client.send(&first).expect("first accepted");
    let reply_second = client.send(&second).expect("second accepted");

    let body = list(&mock, "");
    assert_eq!(body["matched"], 2);
    assert_eq!(body["stored"], 2);
    assert_eq!(body["keep"], 10_000);
    assert_eq!(body["latest_seq"].as_u64().unwrap(), before + 2);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    // Newest first.
    assert_eq!(messages[0]["message_id"], reply_second.message_id());
    assert_eq!(messages[1]["message_id"], reply_first.message_id());
    assert!(messages[0]["seq"].as_u64() > messages[1]["seq"].as_u64());

    let entry = &messages[1];
    let sent: Value = serde_json::from_str(&first.to_json()).unwrap();
    let fields = entry["request"]["fields"].as_object().unwrap();
    assert_eq!(fields.len(), 17, "{fields:?}");
    assert_eq!(entry["request"]["fields"], sent);
    // The raw body is the exact bytes the library wrote.
    assert_eq!(entry["request"]["body"], first.to_json());
    assert_eq!(entry["request"]["method"], "POST");
    assert_eq!(entry["request"]["target"], "/v1/messages/send");
    let headers = &entry["request"]["headers"];
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-api-key"], "(hidden: matches --api-key)");
    assert!(
        headers["user-agent"]
            .as_str()
            .unwrap()
            .contains("herohealth/")
    );

    assert_eq!(entry["reply"]["status"], 200);
    assert_eq!(
        entry["reply"]["body"]["message_id"],
        reply_first.message_id()
    );
    assert_eq!(entry["reply"]["body"]["send_at"], "2026-12-01T09:00:00Z");
    assert!(entry["refused"].is_null());
    let received = entry["received_at"].as_str().unwrap();
    assert_eq!(received.len(), 24, "{received}");
    assert!(received.ends_with('Z'));
    assert!(received <= messages[0]["received_at"].as_str().unwrap());
    // Email with an SMS fallback: the SMS the fallback would send is counted.
    assert_eq!(entry["sms_segments"]["segments"], 1);
    assert!(messages[0]["sms_segments"].is_object());

    // The API key never reaches the inspection API.
    let (_, whole) = get(&mock, "/_mock/messages");
    assert!(!whole.to_string().contains(KEY));
}

#[test]
fn filters_by_patient_type_time_and_limit() {
    let mock = Mock::start();
    let client = client(&mock);
    client.send(&sms("1001", "a")).unwrap();
    client
        .send(&SendMessage::new("1002", MessageType::Hero, "b"))
        .unwrap();
    client.send(&sms("1001", "c")).unwrap();
    client
        .send(&SendMessage::new("1001", MessageType::NhsApp, "d"))
        .unwrap();

    let texts = |body: &Value| -> Vec<String> {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["request"]["fields"]["message_string"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let by_patient = list(&mock, "?patient_id=1001");
    assert_eq!(texts(&by_patient), ["d", "c", "a"]);
    assert_eq!(by_patient["matched"], 3);
    assert_eq!(texts(&list(&mock, "?message_type=sms")), ["c", "a"]);
    assert_eq!(
        texts(&list(&mock, "?patient_id=1001&message_type=nhs_app")),
        ["d"]
    );
    assert_eq!(
        texts(&list(&mock, "?patient_id=1003")),
        Vec::<String>::new()
    );
    let limited = list(&mock, "?patient_id=1001&limit=2");
    assert_eq!(texts(&limited), ["d", "c"]);
    assert_eq!(limited["matched"], 3, "matched counts before the limit");
    assert_eq!(texts(&list(&mock, "?limit=0")), Vec::<String>::new());

    // `since` keeps what arrived at or after an instant; compare with the
    // stored times rather than assume sends land in different milliseconds.
    let all = list(&mock, "")["messages"].as_array().unwrap().clone();
    let cut = all[1]["received_at"].as_str().unwrap().to_owned();
    let expected: Vec<&str> = all
        .iter()
        .filter(|m| m["received_at"].as_str().unwrap() >= cut.as_str())
        .map(|m| m["request"]["fields"]["message_string"].as_str().unwrap())
        .collect();
    assert!(expected.len() >= 2, "the newest two at least");
    assert_eq!(texts(&list(&mock, &format!("?since={cut}"))), expected);
    // The same instant written with an offset (+ percent-encoded).
    let shifted = shift_one_hour(&cut);
    assert_eq!(texts(&list(&mock, &format!("?since={shifted}"))), expected);
    assert_eq!(list(&mock, "?since=2999-01-01T00:00:00Z")["matched"], 0);
    assert_eq!(list(&mock, "?since=2000-01-01T00:00:00Z")["matched"], 4);
}

/// `2026-11-27T01:15:37.745Z` as `2026-11-27T02:15:37.745%2B01:00`, for
/// times between 01:00 and 22:59 (the test's clock is what it is; other
/// hours fall back to the UTC form with `%2B00:00`).
fn shift_one_hour(utc: &str) -> String {
    let hour: u32 = utc[11..13].parse().unwrap();
    let stem = utc.trim_end_matches('Z');
    if hour < 23 {
        format!("{}{:02}{}%2B01:00", &stem[..11], hour + 1, &stem[13..])
    } else {
        format!("{stem}%2B00:00")
    }
}

#[test]
fn bad_queries_name_the_parameter() {
    let mock = Mock::start();
    for (query, field) in [
        ("?since=yesterday", "since"),
        ("?since=2026-01-01T00:00:00+01:00", "since"),
        ("?limit=-1", "limit"),
        ("?limit=ten", "limit"),
        ("?patient=1", "patient"),
    ] {
        let (status, body) = get(&mock, &format!("/_mock/messages{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}");
        assert!(body["error"].as_str().unwrap().starts_with(field));
    }
    let (status, _) = get(&mock, "/_mock/nothing-here");
    assert_eq!(status, 404);
}

#[test]
fn one_message_by_id_or_seq() {
    let mock = Mock::start();
    let client = client(&mock);
    let reply = client.send(&sms("2002", "find me")).unwrap();
    client.send(&sms("2002", "not me")).unwrap();

    let (status, entry) = get(&mock, &format!("/_mock/messages/{}", reply.message_id()));
    assert_eq!(status, 200);
    assert_eq!(entry["request"]["fields"]["message_string"], "find me");
    let seq = entry["seq"].as_u64().unwrap();
    let (status, same) = get(&mock, &format!("/_mock/messages/{seq}"));
    assert_eq!(status, 200);
    assert_eq!(same, entry);

    let (status, body) = get(&mock, "/_mock/messages/0123456789abcdef0123456789abcdef");
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
}

#[test]
fn refused_requests_keep_status_and_reason() {
    let mock = Mock::start();
    let client = client(&mock);
    let err = client.send(&sms("999422", "no such patient")).unwrap_err();
    assert_eq!(err.outcome(), Outcome::Refused);
    let err = client.send(&sms("999000", "hung up")).unwrap_err();
    assert_eq!(err.outcome(), Outcome::MayHaveBeenSent);

    let body = list(&mock, "");
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    let hangup = &messages[0];
    assert_eq!(hangup["refused"]["status"], Value::Null);
    assert_eq!(
        hangup["refused"]["reason"],
        "connection closed without a reply"
    );
    assert!(hangup["reply"].is_null());
    let refused = &messages[1];
    assert_eq!(refused["refused"]["status"], 422);
    assert_eq!(
        refused["refused"]["reason"],
        "patient_id: patient not found"
    );
    assert_eq!(refused["reply"]["status"], 422);
    assert!(refused["message_id"].is_null());
    assert_eq!(refused["request"]["fields"]["patient_id"], "999422");

    // A body the library would never send, written by hand: kept raw.
    let raw = b"POST /v1/messages/send HTTP/1.1\r\nHost: 127.0.0.1\r\n\
        Content-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{\"bad\":1";
    let reply = exchange(&mock, raw);
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    let newest = &list(&mock, "?limit=1")["messages"][0];
    assert_eq!(newest["request"]["body"], "{\"bad\":1");
    assert!(newest["request"]["fields"].is_null());
    assert_eq!(newest["refused"]["status"], 403);
    assert_eq!(newest["refused"]["reason"], "Unauthorised");
}

#[test]
fn delete_resets_between_tests() {
    let mock = Mock::start();
    let client = client(&mock);
    client.send(&sms("3003", "one")).unwrap();
    client.send(&sms("3003", "two")).unwrap();
    let mut resp = agent()
        .delete(format!("{}/_mock/messages", mock.base_url()))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["deleted"], 2);
    let after = list(&mock, "");
    assert_eq!(after["matched"], 0);
    assert_eq!(after["stored"], 0);
    client.send(&sms("3003", "three")).unwrap();
    let after = list(&mock, "");
    assert_eq!(after["matched"], 1);
    assert_eq!(
        after["messages"][0]["request"]["fields"]["message_string"],
        "three"
    );
}

#[test]
fn keeps_only_the_last_n() {
    let mock = Mock::start_with(&["--keep", "3"]);
    let client = client(&mock);
    let mut ids = Vec::new();
    for n in 0..5 {
        let reply = client.send(&sms("4004", &format!("number {n}"))).unwrap();
        ids.push(reply.message_id().to_owned());
    }
    let body = list(&mock, "");
    assert_eq!(body["stored"], 3);
    assert_eq!(body["keep"], 3);
    assert_eq!(body["dropped"], 2);
    let kept: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [&ids[4], &ids[3], &ids[2]]);
    let (status, _) = get(&mock, &format!("/_mock/messages/{}", ids[0]));
    assert_eq!(status, 404, "the oldest was dropped");
}

#[test]
fn keeps_only_about_the_last_mib() {
    let mock = Mock::start_with(&["--keep-mib", "1"]);
    let client = client(&mock);
    // Each big entry holds about 600 KB (the request raw and parsed, and the
    // reply echoing the text), so two do not fit in 1 MiB.
    let big = "b".repeat(200_000);
    for _ in 0..3 {
        client
            .send(&SendMessage::new("6006", MessageType::Hero, big.as_str()))
            .unwrap();
    }
    for n in 0..5 {
        client.send(&sms("6007", &format!("small {n}"))).unwrap();
    }
    let body = list(&mock, "");
    assert_eq!(body["dropped"], 2, "the two older big entries went");
    assert_eq!(body["stored"], 6);
    assert_eq!(list(&mock, "?patient_id=6006")["matched"], 1);
    assert_eq!(list(&mock, "?patient_id=6007")["matched"], 5);
}

#[test]
fn sms_segments_for_gsm7_and_ucs2() {
    let mock = Mock::start();
    let client = client(&mock);
    let cases = [
        // (text, encoding, characters, units, segments)
        ("a".repeat(160), "GSM-7", 160, 160, 1),
        ("a".repeat(161), "GSM-7", 161, 161, 2),
        // Each € is an escape pair: 2 septets.
        (format!("{}€", "a".repeat(159)), "GSM-7", 160, 161, 2),
        ("ж".repeat(70), "UCS-2", 70, 70, 1),
        // One character outside GSM-7 turns the whole text into UCS-2.
        (format!("{}’", "a".repeat(70)), "UCS-2", 71, 71, 2),
        // An emoji is two UTF-16 units.
        (format!("{}😀", "a".repeat(68)), "UCS-2", 69, 70, 1),
        ("x".repeat(135 * 3), "GSM-7", 405, 405, 3),
    ];
    for (text, ..) in &cases {
        client.send(&sms("5005", text)).unwrap();
    }
    let body = list(&mock, "?patient_id=5005");
    let messages: Vec<&Value> = body["messages"].as_array().unwrap().iter().rev().collect();
    for ((text, encoding, characters, units, segments), entry) in cases.iter().zip(messages) {
        let seg = &entry["sms_segments"];
        assert_eq!(seg["encoding"], *encoding, "{text}");
        assert_eq!(seg["characters"], *characters, "{text}");
        assert_eq!(seg["units"], *units, "{text}");
        assert_eq!(seg["segments"], *segments, "{text}");
    }
    // Not an SMS and no SMS fallback: nothing to count.
    client
        .send(&SendMessage::new("5006", MessageType::Hero, "record only"))
        .unwrap();
    assert!(list(&mock, "?patient_id=5006")["messages"][0]["sms_segments"].is_null());
}

#[test]
fn slow_reply_is_visible_while_pending() {
    let mock = Mock::start_with(&["--slow-seconds", "4"]);
    let base = mock.base_url();
    let sender = thread::spawn(move || {
        let client = Client::builder(herohealth::Target::Custom(base), KEY, common::GROUP)
            .max_attempts(1)
            .build()
            .unwrap();
        client
            .send(&sms("999504", "slow"))
            .map(|r| r.message_id().to_owned())
    });
    let started = Instant::now();
    let mut saw_pending = false;
    while started.elapsed() < Duration::from_secs(30) {
        let body = list(&mock, "?patient_id=999504");
        if let Some(entry) = body["messages"].get(0) {
            if entry["reply"].is_null() {
                assert!(entry["refused"].is_null());
                saw_pending = true;
            } else {
                break;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    assert!(saw_pending, "the request showed up only after its reply");
    let id = sender.join().unwrap().expect("accepted after the delay");
    let entry = &list(&mock, "?patient_id=999504")["messages"][0];
    assert_eq!(entry["reply"]["status"], 200);
    assert_eq!(entry["message_id"], id.as_str());
}

#[test]
fn inspection_answers_only_local_host_names() {
    let mock = Mock::start();
    let request = |host: &str| {
        format!("GET /_mock/messages HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    let reply = exchange(&mock, request("attacker.example:8080").as_bytes());
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    for host in [
        "127.0.0.1",
        "LOCALHOST:1234",
        &format!("127.0.0.1:{}", mock.port),
    ] {
        let reply = exchange(&mock, request(host).as_bytes());
        assert!(reply.starts_with("HTTP/1.1 200"), "{host}: {reply}");
    }
}

#[test]
fn inbox_page_is_html_with_a_fresh_script_nonce() {
    let mock = Mock::start();
    let page = || {
        let mut resp = agent()
            .get(format!("{}/_mock/", mock.base_url()))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (ctype, csp) = (header("content-type"), header("content-security-policy"));
        (ctype, csp, resp.body_mut().read_to_string().unwrap())
    };
    let (ctype, csp, html) = page();
    assert_eq!(ctype, "text/html; charset=utf-8");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce in the CSP");
    assert!(
        csp.starts_with("default-src 'none'; script-src 'nonce-"),
        "{csp}"
    );
    assert!(html.contains(&format!("<script nonce=\"{nonce}\">")));
    assert!(!html.contains("__NONCE__"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    let (_, csp_again, _) = page();
    assert_ne!(csp, csp_again, "a new nonce per load");
}

/// Writes raw bytes on a fresh connection and reads until the mock closes.
fn exchange(mock: &Mock, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", mock.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}
