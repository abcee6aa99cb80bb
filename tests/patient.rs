//! Finding the patient (`POST /v1/patients/register_pds`) against the real
//! mock and against raw loopback servers: both request forms, both 200
//! answers, every status, the lookup's retries, and that no identifier
//! reaches an error, log or `Debug` text.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use herohealth::{
    Client, ClientBuilder, ErrorKind, LogLevel, MessageType, Outcome, PatientAnswer, PatientQuery,
    SendMessage, Target,
};
use serde_json::Value;

pub mod common;
use common::Mock;

const NHS: &str = "943 476 5919";
const NHS_DIGITS: &str = "9434765919";
const DOB: &str = "1992-01-01";

fn by_number(n: &str) -> PatientQuery {
    PatientQuery::by_nhs_number(n, DOB)
}

fn found(answer: PatientAnswer) -> String {
    match answer {
        PatientAnswer::Found { patient_id } => patient_id,
        other => panic!("expected a patient id, got {other:?}"),
    }
}

/// The lookups the mock read, as JSON bodies.
fn lookups(mock: &Mock) -> Vec<Value> {
    mock.requests()
        .into_iter()
        .filter(|r| r["path"] == "/v1/patients/register_pds")
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------
// Against the mock
// ---------------------------------------------------------------------------

#[test]
fn nhs_number_form_finds_the_same_patient_every_time_and_across_restarts() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    assert!(client.lookup_url().ends_with("/v1/patients/register_pds"));
    let first = found(client.find_patient(&by_number(NHS)).unwrap());
    assert_eq!(first.len(), 10, "{first}");
    assert!(first.bytes().all(|b| b.is_ascii_digit()), "{first}");
    let again = found(client.find_patient(&by_number(NHS_DIGITS)).unwrap());
    assert_eq!(first, again);
    // Sent as 10 digits, with nothing else.
    assert_eq!(
        lookups(&mock)[0],
        serde_json::json!({"nhs_number": NHS_DIGITS, "dob": DOB})
    );
    drop(mock);
    let restarted = Mock::start();
    let client = restarted.client().build().unwrap();
    assert_eq!(found(client.find_patient(&by_number(NHS)).unwrap()), first);
    // Another patient, another id.
    let other = found(client.find_patient(&by_number("4010232137")).unwrap());
    assert_ne!(other, first);
}

#[test]
fn demographic_form_with_ehr_partner() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let query = PatientQuery::by_demographics("Ann", "Smith", DOB, "ls1 4ap")
        .ehr_partner("emis")
        .ehr_partner_id("E-77");
    let id = found(client.find_patient(&query).unwrap());
    let same = PatientQuery::by_demographics("ANN", "smith", DOB, "LS14AP");
    assert_eq!(found(client.find_patient(&same).unwrap()), id);
    assert_eq!(
        lookups(&mock)[0],
        serde_json::json!({
            "forename": "Ann", "surname": "Smith", "dob": DOB, "postcode": "LS1 4AP",
            "ehr_partner": "emis", "ehr_partner_id": "E-77"
        })
    );
}

#[test]
fn identity_verification_is_an_answer_not_an_error() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let answer = client.find_patient(&by_number("999 000 0026")).unwrap();
    assert_eq!(answer.patient_id(), None);
    let url = answer.login_url().unwrap();
    assert!(url.starts_with("https://"), "{url}");
    assert_eq!(
        answer.message(),
        Some("Patient must verify their identity before proceeding")
    );
    assert!(!format!("{answer:?}").contains(url));
}

#[test]
fn not_found_and_wrong_credentials_are_refusals_with_heros_reason() {
    let mock = Mock::start();
    let e = mock
        .client()
        .build()
        .unwrap()
        .find_patient(&by_number("9990000018"))
        .unwrap_err();
    assert_eq!(
        (e.outcome(), e.kind()),
        (Outcome::Refused, ErrorKind::HttpStatus)
    );
    assert_eq!((e.status(), e.attempts()), (Some(404), 1));
    assert_eq!(e.server_message(), Some("No patient found"));
    assert!(e.to_string().contains("no patient found"), "{e}");

    let wrong = Client::builder(Target::Custom(mock.base_url()), "other-key", common::GROUP)
        .build()
        .unwrap();
    let e = wrong.find_patient(&by_number(NHS)).unwrap_err();
    assert_eq!(
        (e.outcome(), e.status(), e.attempts()),
        (Outcome::Refused, Some(401), 1)
    );
    assert!(e.to_string().contains("Unauthorised"), "{e}");
}

#[test]
fn a_500_then_200_succeeds_with_two_attempts() {
    let mock = Mock::start();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let client = mock
        .client()
        .log_hook(move |_, line| seen.lock().unwrap().push(line.to_owned()))
        .build()
        .unwrap();
    found(client.find_patient(&by_number("9990000034")).unwrap());
    assert_eq!(lookups(&mock).len(), 2);
    let lines = lines.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("attempt 2: patient found")),
        "{lines:?}"
    );
}

#[test]
fn a_500_without_attempts_left_is_not_sent() {
    let mock = Mock::start();
    let client = mock.client().max_attempts(1).build().unwrap();
    let e = client.find_patient(&by_number("9990000034")).unwrap_err();
    assert_eq!(
        (e.outcome(), e.kind()),
        (Outcome::NotSent, ErrorKind::HttpStatus)
    );
    assert_eq!((e.status(), e.attempts()), (Some(500), 1));
    assert!(e.outcome().safe_to_resend());
}

#[test]
fn a_slow_lookup_past_the_deadline_is_a_timeout_never_may_have_been_sent() {
    let mock = Mock::start_with(&["--slow-seconds", "30"]);
    let client = mock
        .client()
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let e = client.find_patient(&by_number("9990000042")).unwrap_err();
    assert_eq!(
        (e.outcome(), e.kind()),
        (Outcome::NotSent, ErrorKind::Timeout)
    );
    assert_eq!(e.attempts(), 1, "no time was left for a retry");
}

#[test]
fn invalid_input_sends_nothing_and_names_the_field() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let cases = [
        (by_number("123 456 7891"), "nhs_number"),
        (by_number("94347659"), "nhs_number"),
        (PatientQuery::by_nhs_number(NHS, "1992-02-30"), "dob"),
        (PatientQuery::by_nhs_number(NHS, "2999-01-01"), "dob"),
        (
            PatientQuery::by_demographics("", "Smith", DOB, "LS1 4AP"),
            "forename",
        ),
        (
            PatientQuery::by_demographics("Ann", "Smith", DOB, "not a postcode"),
            "postcode",
        ),
        (by_number(NHS).ehr_partner(""), "ehr_partner"),
    ];
    for (query, field) in cases {
        let e = client.find_patient(&query).unwrap_err();
        assert_eq!(
            (e.outcome(), e.kind()),
            (Outcome::NotSent, ErrorKind::InvalidInput)
        );
        assert_eq!((e.field(), e.attempts()), (Some(field), 0), "{e}");
    }
    assert!(mock.requests().is_empty());
}

/// The mock answers invalid input as Hero does, whatever the client checks.
#[test]
fn mock_answers_heros_400_shape() {
    let mock = Mock::start();
    let body = r#"{"nhs_number":"1234567891","dob":"1992-01-01"}"#;
    let mut s = TcpStream::connect(("127.0.0.1", mock.port)).unwrap();
    write!(
        s,
        "POST /v1/patients/register_pds HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {}\r\n\
         x-practice-group-id: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        common::KEY,
        common::GROUP,
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    let json: Value = serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["error"], true);
    assert_eq!(json["statusCode"], 400);
    assert_eq!(
        json["message"][0]["path"],
        serde_json::json!(["nhs_number"])
    );
    assert!(json["message"][0]["code"].is_string());
    assert!(json["message"][0]["expected"].is_string());
}

#[test]
fn sandbox_lists_lookups_beside_messages_without_the_full_nhs_number() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let id = found(client.find_patient(&by_number(NHS)).unwrap());
    client
        .send(&SendMessage::new(
            &id,
            MessageType::Hero,
            "Your results are ready.",
        ))
        .unwrap();
    let list: Value = serde_json::from_str(
        &ureq::get(format!(
            "{}/_mock/messages?patient_id={id}",
            mock.base_url()
        ))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap(),
    )
    .unwrap();
    let text = list.to_string();
    assert!(!text.contains(NHS_DIGITS) && !text.contains(NHS), "{text}");
    let entries = list["messages"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{text}");
    // Newest first: the message, then the lookup it came from.
    let (message, lookup) = (&entries[0], &entries[1]);
    assert_eq!(lookup["kind"], "lookup");
    assert_eq!(lookup["request"]["fields"]["nhs_number"], "*** *** 5919");
    assert_eq!(message["kind"], "message");
    assert_eq!(message["lookup_seq"], lookup["seq"]);
}

#[test]
fn no_identifier_in_any_error_log_or_debug_text() {
    let mock = Mock::start_with(&["--slow-seconds", "30"]);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let client = mock
        .client()
        .deadline(Duration::from_secs(2))
        .log_hook(move |_: LogLevel, line: &str| seen.lock().unwrap().push(line.to_owned()))
        .build()
        .unwrap();
    let mut shown = Vec::new();
    let queries = [
        by_number(NHS),
        by_number("9990000018"),
        by_number("9990000026"),
        by_number("9990000034"),
        by_number("9990000042"),
        by_number("1234567891"),
        PatientQuery::by_nhs_number(NHS, "1992-02-30"),
        PatientQuery::by_demographics("Zebedee", "Quixote", "1971-03-04", "ZE1 9QX"),
        PatientQuery::by_demographics("Zebedee", "Quixote", "1971-03-04", "Q"),
    ];
    for q in &queries {
        shown.push(format!("{q:?}"));
        match client.find_patient(q) {
            Ok(answer) => {
                if let Some(id) = answer.patient_id() {
                    // The id found is an identifier too.
                    let lines = lines.lock().unwrap();
                    assert!(lines.iter().all(|l| !l.contains(id)), "{lines:?}");
                }
                shown.push(format!("{answer:?}"));
            }
            Err(e) => shown.push(format!("{e} {e:?}")),
        }
    }
    shown.extend(lines.lock().unwrap().iter().cloned());
    let all = shown.join("\n");
    for secret in [
        NHS_DIGITS,
        NHS,
        "5919",
        "99900000",
        "1234567891",
        "1992-01-01",
        "1992-02-30",
        "Zebedee",
        "Quixote",
        "1971",
        "ZE1",
        "verify/",
    ] {
        assert!(!all.contains(secret), "{secret} in:\n{all}");
    }
}

// ---------------------------------------------------------------------------
// Against raw loopback servers
// ---------------------------------------------------------------------------

/// What a scripted server does with one connection.
#[derive(Clone, Copy)]
enum Act {
    /// Reads the request, then writes this answer and closes.
    Answer(&'static str),
    /// Reads the request, then closes without answering (a lost reply).
    Drop,
    /// Resets the connection before reading anything.
    #[cfg(unix)]
    Reset,
}

/// A loopback server taking one action per connection, in order (the last
/// one repeats); counts the connections.
fn scripted(acts: &'static [Act]) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let act = acts[n.min(acts.len() - 1)];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            match act {
                #[cfg(unix)]
                Act::Reset => reset(stream),
                Act::Drop => {
                    read_whole_request(&mut stream);
                }
                Act::Answer(reply) => {
                    read_whole_request(&mut stream);
                    let _ = stream.write_all(reply.as_bytes());
                }
            }
        }
    });
    (url, count)
}

fn read_whole_request(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return;
            }
        }
    }
}

#[cfg(unix)]
fn reset(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket, and an option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
}

fn client(url: String) -> ClientBuilder {
    Client::builder(Target::Custom(url), "test-key", "test-group")
}

/// An HTTP answer (`status` is the status line's tail) with `extra` header
/// lines and a JSON `body`, kept for the test's whole run.
fn http(status: &str, extra: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

fn found_reply() -> Act {
    Act::Answer(http("200 OK", "", r#"{"patient_id":"98765"}"#))
}

fn scripted_vec(acts: Vec<Act>) -> (String, Arc<AtomicUsize>) {
    scripted(Box::leak(acts.into_boxed_slice()))
}

#[test]
fn both_200_answers_from_a_raw_server() {
    let (url, _) = scripted_vec(vec![found_reply()]);
    let answer = client(url)
        .build()
        .unwrap()
        .find_patient(&by_number(NHS))
        .unwrap();
    assert_eq!(answer.patient_id(), Some("98765"));
    let (url, _) = scripted_vec(vec![Act::Answer(http(
        "200 OK",
        "",
        r#"{"message":"Patient must verify their identity before proceeding","login_url":"https://patient.herohealth.net/verify/abc123"}"#,
    ))]);
    let answer = client(url)
        .build()
        .unwrap()
        .find_patient(&by_number(NHS))
        .unwrap();
    assert_eq!(
        answer.login_url(),
        Some("https://patient.herohealth.net/verify/abc123")
    );
}

#[test]
fn every_status() {
    struct Case {
        reply: &'static str,
        outcome: Outcome,
        kind: ErrorKind,
        status: u16,
        attempts: u32,
        field: Option<&'static str>,
        reason: Option<&'static str>,
    }
    let cases = [
        Case {
            reply: http(
                "400 Bad Request",
                "",
                r#"{"error":true,"statusCode":400,"message":[{"code":"invalid_string","expected":"nhs number","path":["nhs_number"]}]}"#,
            ),
            outcome: Outcome::Refused,
            kind: ErrorKind::HttpStatus,
            status: 400,
            attempts: 1,
            field: Some("nhs_number"),
            reason: Some("nhs_number: invalid_string (expected nhs number)"),
        },
        Case {
            reply: http("401 Unauthorized", "", r#"{"error":"Unauthorised"}"#),
            outcome: Outcome::Refused,
            kind: ErrorKind::HttpStatus,
            status: 401,
            attempts: 1,
            field: None,
            reason: Some("Unauthorised"),
        },
        Case {
            reply: http("403 Forbidden", "", ""),
            outcome: Outcome::Refused,
            kind: ErrorKind::HttpStatus,
            status: 403,
            attempts: 1,
            field: None,
            reason: None,
        },
        Case {
            reply: http("404 Not Found", "", r#"{"error":"No patient found"}"#),
            outcome: Outcome::Refused,
            kind: ErrorKind::HttpStatus,
            status: 404,
            attempts: 1,
            field: None,
            reason: Some("No patient found"),
        },
        Case {
            reply: http("302 Found", "Location: /elsewhere\r\n", ""),
            outcome: Outcome::Refused,
            kind: ErrorKind::Redirect,
            status: 302,
            attempts: 1,
            field: None,
            reason: None,
        },
        Case {
            reply: http("429 Too Many Requests", "Retry-After: 0\r\n", ""),
            outcome: Outcome::Refused,
            kind: ErrorKind::RateLimited,
            status: 429,
            attempts: 2,
            field: None,
            reason: None,
        },
        Case {
            reply: http("503 Service Unavailable", "", ""),
            outcome: Outcome::NotSent,
            kind: ErrorKind::HttpStatus,
            status: 503,
            attempts: 2,
            field: None,
            reason: None,
        },
        Case {
            reply: http("200 OK", "", r#"{"other":"xy"}"#),
            outcome: Outcome::NotSent,
            kind: ErrorKind::UnreadableResponse,
            status: 200,
            attempts: 1,
            field: None,
            reason: None,
        },
    ];
    for case in cases {
        let (url, count) = scripted_vec(vec![Act::Answer(case.reply)]);
        let e = client(url)
            .max_attempts(2)
            .build()
            .unwrap()
            .find_patient(&by_number(NHS))
            .unwrap_err();
        let what = case.status;
        assert_eq!(
            (e.outcome(), e.kind()),
            (case.outcome, case.kind),
            "{what}: {e}"
        );
        assert_eq!(e.status(), Some(case.status), "{what}");
        assert_eq!(e.attempts(), case.attempts, "{what}");
        assert_eq!(
            count.load(Ordering::SeqCst),
            case.attempts as usize,
            "{what}"
        );
        assert_eq!(e.field(), case.field, "{what}");
        assert_eq!(e.server_message(), case.reason, "{what}");
        assert_ne!(e.outcome(), Outcome::MayHaveBeenSent, "{what}");
    }
}

#[test]
fn a_500_then_200_from_a_raw_server_takes_two_attempts() {
    let (url, count) = scripted_vec(vec![
        Act::Answer(http(
            "500 Internal Server Error",
            "",
            r#"{"error":"Unknown error"}"#,
        )),
        found_reply(),
    ]);
    let answer = client(url)
        .build()
        .unwrap()
        .find_patient(&by_number(NHS))
        .unwrap();
    assert_eq!(answer.patient_id(), Some("98765"));
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

/// For a send this is "may have been sent"; a lookup is simply repeated.
#[test]
fn a_lost_reply_is_retried() {
    let (url, count) = scripted_vec(vec![Act::Drop, found_reply()]);
    let answer = client(url)
        .build()
        .unwrap()
        .find_patient(&by_number(NHS))
        .unwrap();
    assert_eq!(answer.patient_id(), Some("98765"));
    assert_eq!(count.load(Ordering::SeqCst), 2);

    let (url, count) = scripted_vec(vec![Act::Drop]);
    let e = client(url)
        .max_attempts(2)
        .build()
        .unwrap()
        .find_patient(&by_number(NHS))
        .unwrap_err();
    assert_eq!(e.outcome(), Outcome::NotSent, "{e}");
    assert_eq!(e.attempts(), 2);
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert!(!e.to_string().contains("may have"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_reset_before_the_request_is_retried() {
    let (url, count) = scripted_vec(vec![Act::Reset, found_reply()]);
    let answer = client(url)
        .build()
        .unwrap()
        .find_patient(&by_number(NHS))
        .unwrap();
    assert_eq!(answer.patient_id(), Some("98765"));
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[test]
fn a_failed_connect_is_retried_within_max_attempts() {
    let refused = common::refused_port();
    let e = client(format!("http://127.0.0.1:{}", refused.port))
        .max_attempts(2)
        .build()
        .unwrap()
        .find_patient(&by_number(NHS))
        .unwrap_err();
    assert_eq!(
        (e.outcome(), e.kind()),
        (Outcome::NotSent, ErrorKind::Connect)
    );
    assert_eq!(e.attempts(), 2);
}

#[test]
fn find_and_send_sends_to_the_id_found_or_to_no_one() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let msg = SendMessage::new("", MessageType::Hero, "Your results are ready.");
    let (answer, reply) = client.find_and_send(&by_number(NHS), &msg).unwrap();
    let id = answer.patient_id().unwrap().to_owned();
    assert!(reply.is_some());
    let sends: Vec<Value> = mock
        .requests()
        .into_iter()
        .filter(|r| r["path"] == "/v1/messages/send")
        .collect();
    assert_eq!(sends.len(), 1);
    let body: Value = serde_json::from_str(sends[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["patient_id"], id.as_str());

    // Verification: an answer, and nothing sent.
    let (answer, reply) = client
        .find_and_send(&by_number("9990000026"), &msg)
        .unwrap();
    assert!(answer.login_url().is_some() && reply.is_none());
    // Not found: the lookup's refusal, nothing sent.
    let e = client
        .find_and_send(&by_number("9990000018"), &msg)
        .unwrap_err();
    assert_eq!((e.outcome(), e.status()), (Outcome::Refused, Some(404)));
    // An invalid message: nothing at all is requested, not even the lookup.
    let before = mock.requests().len();
    let bad = SendMessage::new("", MessageType::Hero, "");
    let e = client.find_and_send(&by_number(NHS), &bad).unwrap_err();
    assert_eq!(e.field(), Some("message_string"));
    assert_eq!(mock.requests().len(), before);
    let sends = mock
        .requests()
        .iter()
        .filter(|r| r["path"] == "/v1/messages/send")
        .count();
    assert_eq!(sends, 1);
}
