//! Builds the C and C++ programs in `examples-c/` with their Makefile and
//! runs them against the real `hero-mock`: real exit codes, real output,
//! the request bodies the mock recorded, the FFI misuse program, and (when
//! `valgrind` is on PATH) leak checks.
//!
//! `make -C examples-c` runs `cargo build --release --lib --bin hero-mock`
//! into the usual `target/` (cargo releases its lock on `target/` once the
//! test binaries are built, so this does not deadlock) and links the
//! programs against `target/release/libherohealth.a`.
//!
//! With `HERO_C_PROGRAMS=windows` the same tests run the Windows builds
//! instead: `make -C examples-c windows` (MinGW, against herohealth.dll),
//! each `.exe` run under Wine against the Linux mock. The Wine prefix is the
//! caller's `WINEPREFIX`, prepared by `tests/windows/wine-prefix.sh`.
//!
//! This file drives the host's make, C compiler and valgrind, so it is built
//! for Unix hosts only; Windows programs are tested from there, as above.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod common;
use common::Mock;

/// Credentials the mock expects; unique so a leak into stderr is unmistakable.
const KEY: &str = "cprog-key-5b7e0c9a41";
const GROUP: &str = "cprog-group-77";
/// Message text that must never appear on stderr.
const SECRET_TEXT: &str = "Private text 3c1f9e: your results are ready";

/// The 9 fields of Hero's reply.
const RESPONSE_FIELDS: [&str; 9] = [
    "auth_token",
    "confirm_write_to_record_url",
    "content",
    "created_at",
    "message_id",
    "send_at",
    "snomed_code",
    "submitted_by",
    "write_to_record",
];

/// Environment variables the programs read; cleared so the caller's own
/// settings never leak into a test.
const HERO_VARS: [&str; 5] = [
    "HERO_API_KEY",
    "HERO_PRACTICE_GROUP_ID",
    "HERO_BASE_URL",
    "HERO_ENVIRONMENT",
    "HERO_CA_FILE",
];

fn windows() -> bool {
    common::windows_programs()
}

fn programs() -> &'static Path {
    common::c_programs()
}

/// The shared test mock, started with this file's credentials.
fn start_mock(extra: &[&str]) -> Mock {
    let mut args = vec!["--api-key", KEY, "--practice-group-id", GROUP];
    args.extend_from_slice(extra);
    Mock::start_with(&args)
}

/// What these tests need of the mock beyond the shared helper.
trait ForPrograms {
    /// The JSON bodies of every request the mock has read so far.
    fn bodies(&self) -> Vec<Value>;
    /// A command for `program` with the environment aimed at this mock.
    fn command(&self, program: &str) -> Command;
}

impl ForPrograms for Mock {
    fn bodies(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .map(|request| {
                let body = request["body"].as_str().expect("body is a string");
                serde_json::from_str(body).expect("request body is JSON")
            })
            .collect()
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = bare(program);
        cmd.env("HERO_BASE_URL", self.base_url())
            .env("HERO_API_KEY", KEY)
            .env("HERO_PRACTICE_GROUP_ID", GROUP);
        cmd
    }
}

/// A command for a built program with no HERO_* settings at all.
fn bare(program: &str) -> Command {
    let mut cmd = if windows() {
        let mut wine = Command::new("wine");
        // Wine's own diagnostics would land in the program's stderr.
        wine.arg(programs().join(format!("{program}.exe")))
            .env("WINEDEBUG", "-all");
        wine
    } else {
        Command::new(programs().join(program))
    };
    for var in HERO_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs a command, returning its output and how long it took.
fn run(cmd: &mut Command) -> (Output, Duration) {
    let started = Instant::now();
    let out = cmd.output().expect("run program");
    (out, started.elapsed())
}

fn text(bytes: &[u8]) -> String {
    let text = String::from_utf8(bytes.to_vec()).expect("output is UTF-8");
    if windows() {
        // The Windows C runtime writes "\n" as "\r\n" (text mode).
        return text.replace("\r\n", "\n");
    }
    text
}

/// hero_send's contract for a failure: the exit code, nothing on stdout,
/// exactly one line on stderr, never the key or the message text.
/// Returns the stderr line.
fn assert_fails(out: &Output, code: i32) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code; stderr: {stderr:?}"
    );
    assert!(out.stdout.is_empty(), "stdout: {:?}", text(&out.stdout));
    assert!(
        stderr.ends_with('\n') && stderr.lines().count() == 1,
        "stderr must be one line: {stderr:?}"
    );
    assert!(stderr.starts_with("hero_send: "), "stderr: {stderr:?}");
    assert!(!stderr.contains(KEY), "the API key leaked: {stderr:?}");
    assert!(
        !stderr.contains("wrong-key-e41d"),
        "a key leaked: {stderr:?}"
    );
    assert!(
        !stderr.contains(SECRET_TEXT) && !stderr.contains("3c1f9e"),
        "the message text leaked: {stderr:?}"
    );
    stderr
}

/// hero_send's contract for success: exit 0, stdout one JSON object with
/// exactly the 9 reply fields, nothing on stderr.
fn assert_sent(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {:?}",
        text(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "stderr: {:?}", text(&out.stderr));
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "stdout must be one line: {stdout:?}"
    );
    let reply: Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    let keys: BTreeSet<&str> = reply
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, RESPONSE_FIELDS.into_iter().collect::<BTreeSet<_>>());
    assert!(
        reply["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    reply
}

/// The three required flags, with the secret text.
fn required(patient_id: &str) -> Vec<String> {
    [
        "--patient-id",
        patient_id,
        "--type",
        "sms",
        "--message",
        SECRET_TEXT,
    ]
    .map(String::from)
    .to_vec()
}

fn hero_send(mock: &Mock, args: &[String]) -> (Output, Duration) {
    run(mock.command("hero_send").args(args))
}

fn with(mut args: Vec<String>, more: &[&str]) -> Vec<String> {
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

fn keys(body: &Value) -> BTreeSet<String> {
    body.as_object()
        .expect("body is an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn hero_send_every_flag_sends_all_17_fields() {
    let mock = start_mock(&[]);
    let args = [
        "--patient-id",
        "4242",
        "--type",
        "email",
        "--message",
        SECRET_TEXT,
        "--recipient",
        "patient@example.com",
        "--fallback-type",
        "sms",
        "--fallback-contact",
        "07700 900123",
        "--write-to-record",
        "--auto-write-to-record",
        "--encrypted",
        "--snomed-code",
        "185317003",
        "--snomed-term",
        "Influenza vaccination",
        "--task-id",
        "task-77",
        "--attachment-uuid",
        "6f1c2b9e-4d0a-4c7e-9b1a-2f5d8e3c7a10",
        "--short-link-id",
        "link-9",
        "--assignee-id",
        "12",
        "--assignee-type",
        "AdminTeam",
        "--send-at",
        "2026-12-01T09:00:00Z",
        "--timeout",
        "10",
    ]
    .map(String::from);
    let (out, _) = hero_send(&mock, &args);
    let reply = assert_sent(&out);
    assert_eq!(reply["content"], SECRET_TEXT);

    let bodies = mock.bodies();
    assert_eq!(bodies.len(), 1, "one request");
    let expected = serde_json::json!({
        "patient_id": "4242",
        "message_type": "email",
        "message_string": SECRET_TEXT,
        "recipient_contact_detail": "patient@example.com",
        "fallback_message_type": "sms",
        "fallback_contact_detail": "07700 900123",
        "write_to_record": true,
        "auto_write_to_record": true,
        "encrypted": true,
        "snomed_code": "185317003",
        "snomed_term": "Influenza vaccination",
        "task_id": "task-77",
        "attachment_uuid": "6f1c2b9e-4d0a-4c7e-9b1a-2f5d8e3c7a10",
        "short_link_id": "link-9",
        "assignee_id": 12,
        "assignee_type": "AdminTeam",
        "send_at": "2026-12-01T09:00:00Z",
    });
    assert_eq!(keys(&bodies[0]).len(), 17);
    assert_eq!(bodies[0], expected);
    assert!(bodies[0]["assignee_id"].is_u64(), "assignee_id is a number");
    assert!(
        bodies[0]["encrypted"].is_boolean(),
        "encrypted is a boolean"
    );
}

#[test]
fn hero_send_required_flags_only_sends_three_fields() {
    let mock = start_mock(&[]);
    let (out, _) = hero_send(&mock, &required("4242"));
    assert_sent(&out);
    let bodies = mock.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        bodies[0],
        serde_json::json!({
            "patient_id": "4242",
            "message_type": "sms",
            "message_string": SECRET_TEXT,
        })
    );

    // Each optional flag adds exactly its own field.
    let (out, _) = hero_send(&mock, &with(required("4242"), &["--task-id", "t-1"]));
    assert_sent(&out);
    let bodies = mock.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        keys(&bodies[1]),
        ["message_string", "message_type", "patient_id", "task_id"]
            .map(String::from)
            .into()
    );
}

/// Text beyond ASCII (and beyond Windows' ANSI code pages) reaches Hero
/// byte for byte: on Windows hero_send takes its arguments as UTF-16.
#[test]
fn hero_send_non_ascii_text_arrives_byte_exact() {
    const TEXT: &str = "£5 prescription charge, Ŵyn 🙂 — diolch";
    let mock = start_mock(&[]);
    let (out, _) = hero_send(
        &mock,
        &["--patient-id", "4242", "--type", "hero", "--message", TEXT].map(String::from),
    );
    let reply = assert_sent(&out);
    assert_eq!(reply["content"], TEXT);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let raw = requests[0]["body"].as_str().expect("body is a string");
    // The UTF-8 bytes themselves, not \u escapes or a code-page guess.
    assert!(raw.contains(TEXT), "request body: {raw:?}");
    assert_eq!(mock.bodies()[0]["message_string"], TEXT);
}

#[test]
fn hero_send_help() {
    let (out, _) = run(bare("hero_send").arg("--help"));
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("Usage: hero_send"));
    assert!(out.stderr.is_empty());
}

#[test]
fn hero_send_exit_2_invalid_input_or_configuration() {
    let mock = start_mock(&[]);
    let usage_cases: Vec<(&str, Vec<String>)> = vec![
        ("missing --message", required("4242")[..4].to_vec()),
        ("missing --patient-id", required("4242")[2..].to_vec()),
        ("no arguments", vec![]),
        (
            "bad --type",
            [
                "--patient-id",
                "4242",
                "--type",
                "SMS",
                "--message",
                SECRET_TEXT,
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "bad --fallback-type",
            with(required("4242"), &["--fallback-type", "hero"]),
        ),
        (
            "bad --assignee-type",
            with(required("4242"), &["--assignee-type", "admin"]),
        ),
        (
            "--assignee-id not a number",
            with(required("4242"), &["--assignee-id", "12x"]),
        ),
        (
            "--assignee-id empty",
            with(required("4242"), &["--assignee-id", ""]),
        ),
        (
            "--assignee-id out of range",
            with(
                required("4242"),
                &[
                    "--assignee-id",
                    "99999999999999999999",
                    "--assignee-type",
                    "Admin",
                ],
            ),
        ),
        (
            "--assignee-id negative",
            with(
                required("4242"),
                &["--assignee-id", "-3", "--assignee-type", "Admin"],
            ),
        ),
        (
            "bad --timeout",
            with(required("4242"), &["--timeout", "soon"]),
        ),
        (
            "zero --timeout (refused by the library)",
            with(required("4242"), &["--timeout", "0"]),
        ),
        ("unknown flag", with(required("4242"), &["--bogus"])),
        ("flag without value", with(required("4242"), &["--task-id"])),
        ("stray argument", with(required("4242"), &["3c1f9e stray"])),
        (
            "bad SNOMED code",
            with(required("4242"), &["--snomed-code", "123456789"]),
        ),
        (
            "bad patient id",
            [
                "--patient-id",
                "42a",
                "--type",
                "hero",
                "--message",
                SECRET_TEXT,
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "bad send_at",
            with(required("4242"), &["--send-at", "tomorrow"]),
        ),
    ];
    for (label, args) in &usage_cases {
        let (out, _) = hero_send(&mock, args);
        let line = assert_fails(&out, 2);
        eprintln!("{label}: {}", line.trim_end());
    }
    assert!(mock.bodies().is_empty(), "nothing may have been sent");

    // The same SNOMED code goes out once the checks are off.
    let (out, _) = hero_send(
        &mock,
        &with(
            required("4242"),
            &["--snomed-code", "123456789", "--lenient"],
        ),
    );
    assert_sent(&out);
    let bodies = mock.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["snomed_code"], "123456789");

    // No target configured at all, and an unknown environment.
    let (out, _) = run(bare("hero_send")
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .args(required("4242")));
    let line = assert_fails(&out, 2);
    assert!(line.contains("HERO_BASE_URL"), "{line:?}");
    let (out, _) = run(bare("hero_send")
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .env("HERO_ENVIRONMENT", "prod")
        .args(required("4242")));
    assert_fails(&out, 2);
    // A plain-http URL off loopback is refused when the client is made.
    let (out, _) = run(mock
        .command("hero_send")
        .env("HERO_BASE_URL", "http://example.com")
        .args(required("4242")));
    assert_fails(&out, 2);
    assert_eq!(mock.bodies().len(), 1, "nothing more was sent");
}

#[test]
fn hero_send_exit_3_refused() {
    let mock = start_mock(&[]);
    let (out, _) = run(mock
        .command("hero_send")
        .env("HERO_API_KEY", "wrong-key-e41d")
        .args(required("4242")));
    let line = assert_fails(&out, 3);
    assert!(line.contains("403"), "{line:?}");
    for patient in ["999404", "999422", "999307"] {
        let (out, _) = hero_send(&mock, &required(patient));
        assert_fails(&out, 3);
    }
}

/// Hero's reason for a refusal ends the one stderr line.
#[test]
fn hero_send_shows_the_servers_reason() {
    let mock = start_mock(&[]);
    let (out, _) = hero_send(&mock, &required("999422"));
    let line = assert_fails(&out, 3);
    assert!(
        line.ends_with(
            "refused: HTTP 422: Hero did not accept the request; server says: patient_id: patient not found\n"
        ),
        "{line:?}"
    );
    let (out, _) = hero_send(&mock, &required("999403"));
    let line = assert_fails(&out, 3);
    assert!(line.ends_with("; server says: Unauthorised\n"), "{line:?}");
    // No answer, no reason.
    let (out, _) = hero_send(&mock, &required("999000"));
    let line = assert_fails(&out, 6);
    assert!(!line.contains("server says"), "{line:?}");
}

/// A bad name lists the valid ones (for a field set by name, in the
/// library's own words, the same as a batch cell's); an unknown option
/// points to --help.
#[test]
fn hero_send_usage_errors_say_what_is_valid() {
    let mock = start_mock(&[]);
    let mut type_sms = required("4242");
    type_sms[3] = "SMS".into();
    let cases = [
        (
            type_sms,
            "--type must be one of: hero, sms, email, nhs_app (try --help)\n",
        ),
        (
            with(required("4242"), &["--fallback-type", "hero"]),
            "--fallback-type: not sent: invalid fallback_message_type: must be sms or email (try --help)\n",
        ),
        (
            with(
                required("4242"),
                &["--assignee-id", "3", "--assignee-type", "admin"],
            ),
            "--assignee-type: not sent: invalid assignee_type: must be Admin or AdminTeam (try --help)\n",
        ),
        (
            with(required("4242"), &["--bogus"]),
            "unknown option --bogus (try --help)\n",
        ),
        (
            with(required("4242"), &["--encrypted", "--no-encrypted"]),
            "(try --help)\n",
        ),
        (
            with(
                required("4242"),
                &["--no-encrypted", "--encrypted-text", "yes"],
            ),
            "(try --help)\n",
        ),
        (
            with(
                required("4242"),
                &["--write-to-record", "--no-write-to-record"],
            ),
            "(try --help)\n",
        ),
    ];
    for (args, ending) in &cases {
        let (out, _) = hero_send(&mock, args);
        let line = assert_fails(&out, 2);
        assert!(
            line.ends_with(ending),
            "{line:?} should end with {ending:?}"
        );
    }
    assert!(mock.bodies().is_empty(), "nothing may have been sent");
}

/// Explicit `false` for the three flags, and `encrypted` as a string.
#[test]
fn hero_send_sends_explicit_false_and_encrypted_text() {
    let mock = start_mock(&[]);
    let (out, _) = hero_send(
        &mock,
        &with(
            required("4242"),
            &[
                "--no-write-to-record",
                "--no-auto-write-to-record",
                "--no-encrypted",
            ],
        ),
    );
    assert_sent(&out);
    let (out, _) = hero_send(
        &mock,
        &with(
            required("4242"),
            &["--write-to-record", "--encrypted-text", "true"],
        ),
    );
    assert_sent(&out);
    let bodies = mock.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["write_to_record"], Value::Bool(false));
    assert_eq!(bodies[0]["auto_write_to_record"], Value::Bool(false));
    assert_eq!(bodies[0]["encrypted"], Value::Bool(false));
    assert_eq!(keys(&bodies[0]).len(), 6);
    assert_eq!(bodies[1]["write_to_record"], Value::Bool(true));
    assert_eq!(bodies[1]["encrypted"], Value::String("true".into()));
    assert!(bodies[1].get("auto_write_to_record").is_none());
}

#[test]
fn hero_send_exit_4_rate_limited() {
    let mock = start_mock(&[]);
    let (out, took) = hero_send(&mock, &required("999429"));
    let line = assert_fails(&out, 4);
    assert!(line.contains("429"), "{line:?}");
    // The automatic retries happened (Retry-After: 1, 3 attempts).
    assert_eq!(mock.bodies().len(), 3);
    assert!(took >= Duration::from_secs(2), "{took:?}");
}

#[test]
fn hero_send_exit_5_could_not_connect() {
    // Refused for as long as the guard lives: no other test's server can
    // be given this port meanwhile.
    let refused = common::refused_port();
    let port = refused.port;
    let (out, _) = run(bare("hero_send")
        .env("HERO_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .args(required("4242")));
    assert_fails(&out, 5);
}

#[test]
fn hero_send_exit_6_may_have_been_sent() {
    let mock = start_mock(&["--slow-seconds", "30"]);
    for patient in ["999500", "999000"] {
        let (out, _) = hero_send(&mock, &required(patient));
        let line = assert_fails(&out, 6);
        assert!(line.contains("may have"), "{line:?}");
    }
    let (out, took) = hero_send(&mock, &with(required("999504"), &["--timeout", "1"]));
    assert_fails(&out, 6);
    assert!(
        took < Duration::from_secs(10),
        "--timeout 1 bounds the send: {took:?}"
    );
    // Never retried: one request each.
    assert_eq!(mock.bodies().len(), 3);
}

#[test]
fn hero_send_exit_7_accepted_id_unknown() {
    let mock = start_mock(&[]);
    for patient in ["999200", "999201"] {
        let (out, _) = hero_send(&mock, &required(patient));
        let line = assert_fails(&out, 7);
        assert!(line.contains("do not resend"), "{line:?}");
    }
}

#[test]
fn send_message_runs() {
    let mock = start_mock(&[]);
    let (out, _) = run(&mut mock.command("send_message"));
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("sent: Hero message id "));
    let bodies = mock.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["recipient_contact_detail"], "07700 900123");

    // Without settings it explains and fails.
    let (out, _) = run(&mut bare("send_message"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("HERO_API_KEY"));
}

#[test]
fn send_message_cpp_runs() {
    let mock = start_mock(&[]);
    let (out, _) = run(&mut mock.command("send_message_cpp"));
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("sent: Hero message id "));
    assert_eq!(mock.bodies().len(), 1);

    let (out, _) = run(mock
        .command("send_message_cpp")
        .env("HERO_API_KEY", "wrong-key-e41d"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("403"));
}

/// What `outcomes_cpp` prints against the mock: herohealth.hpp carries
/// every outcome, with every accessor of the reply and of the error.
const CPP_OUTCOMES: &str = "\
ok status=0 message_id=yes content=C++ outcome check created_at=yes snomed_code=185317003 auth_token=yes confirm_url=yes submitted_by=yes send_at=no write_to_record=1 json=object
check-invalid status=1 error=1 kind=1 http=0 attempts=0 retry_after=-1 field=snomed_code body=0 server_message=- message=yes
invalid status=1 error=1 kind=1 http=0 attempts=0 retry_after=-1 field=snomed_code body=0 server_message=- message=yes
embedded-nul status=12 error=0 kind=0 http=0 attempts=0 retry_after=-1 field=- body=0 server_message=- message=yes
embedded-nul-new status=12 error=0 kind=0 http=0 attempts=0 retry_after=-1 field=- body=0 server_message=- message=yes
connect status=1 error=1 kind=4 http=0 attempts=1 retry_after=-1 field=- body=0 server_message=- message=yes
config-builder status=12 error=0 kind=0 http=0 attempts=0 retry_after=-1 field=- body=0 server_message=- message=yes
forbidden status=2 error=1 kind=11 http=403 attempts=1 retry_after=-1 field=- body=24 server_message=Unauthorised message=yes
refused status=2 error=1 kind=11 http=422 attempts=1 retry_after=-1 field=patient_id body=62 server_message=patient_id: patient not found message=yes
rate-limited status=2 error=1 kind=9 http=429 attempts=1 retry_after=1000 field=- body=29 server_message=Too many requests message=yes
redirect status=2 error=1 kind=10 http=307 attempts=1 retry_after=-1 field=- body=30 server_message=Temporary redirect message=yes
server-error status=3 error=1 kind=11 http=500 attempts=1 retry_after=-1 field=- body=25 server_message=Unknown error message=yes
dropped status=3 error=1 kind=8 http=0 attempts=1 retry_after=-1 field=- body=0 server_message=- message=yes
not-json status=4 error=1 kind=13 http=200 attempts=1 retry_after=-1 field=- body=8 server_message=- message=yes
no-id status=4 error=1 kind=13 http=200 attempts=1 retry_after=-1 field=- body=31 server_message=- message=yes
names sms=2 nhs_app=4 bogus=12 nul=12
";

/// `outcomes_cpp` with its argument: a loopback address that refuses
/// connections while the returned guard lives.
fn outcomes_cpp(mock: &Mock) -> (Command, common::RefusedPort) {
    let refused = common::refused_port();
    let mut cmd = mock.command("outcomes_cpp");
    cmd.arg(format!("http://127.0.0.1:{}", refused.port));
    (cmd, refused)
}

#[test]
fn cpp_header_carries_every_outcome() {
    let mock = start_mock(&[]);
    let (mut cmd, _refused) = outcomes_cpp(&mock);
    let (out, _) = run(&mut cmd);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    let expected = format!("version {}\n{CPP_OUTCOMES}", env!("CARGO_PKG_VERSION"));
    assert_eq!(stdout, expected);
    // One request per case that reached the mock (no retries: max_attempts 1);
    // the invalid message and the builder failures sent nothing.
    let patients: Vec<String> = mock
        .bodies()
        .iter()
        .map(|b| b["patient_id"].as_str().expect("patient_id").to_string())
        .collect();
    assert_eq!(
        patients,
        [
            "4242", "999403", "999422", "999429", "999307", "999500", "999000", "999200", "999201"
        ]
    );
    let first = &mock.bodies()[0];
    assert_eq!(first["recipient_contact_detail"], "07700 900123");
    assert!(
        mock.bodies().iter().all(|b| b.get("task_id").is_none()),
        "a message whose builder failed was sent"
    );
}

#[test]
fn threads_share_one_client() {
    let mock = start_mock(&[]);
    let (out, took) = run(&mut mock.command("threads"));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("sends: 100 (100 accepted, 0 failed)"),
        "{stdout}"
    );
    let opened: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("connections_opened: "))
        .and_then(|n| n.parse().ok())
        .expect("connections_opened line");
    assert!(
        (1..=16).contains(&opened),
        "keep-alive: {opened} connections"
    );
    assert_eq!(mock.bodies().len(), 100);
    eprintln!("threads: 100 sends in {took:?} over {opened} connections");

    // A failure anywhere makes the exit code non-zero.
    let (out, _) = run(mock
        .command("threads")
        .arg("2")
        .env("HERO_API_KEY", "wrong-key-e41d"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("sends: 8 (0 accepted, 8 failed)"));
}

#[test]
fn misuse_of_the_c_abi_is_refused_as_documented() {
    let (out, _) = run(&mut bare("misuse"));
    assert!(
        out.status.success(),
        "misuse failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("checks passed"));
}

/// `valgrind` on PATH, or None (the leak checks are then skipped).
fn valgrind() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("valgrind"))
        .find(|p| p.is_file())
}

/// Runs `cmd` (a built program with its arguments and environment) under
/// valgrind, expecting `code`, no memory errors and no definite or indirect
/// leaks. Rust's std may keep "still reachable" memory: allowed.
fn assert_clean_under_valgrind(valgrind: &Path, label: &str, cmd: &Command, code: i32) {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let log = std::env::temp_dir().join(format!(
        "hero-c-valgrind-{}-{}.log",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut vg = Command::new(valgrind);
    vg.args([
        "--leak-check=full",
        "--error-exitcode=99",
        "--errors-for-leak-kinds=definite,indirect",
    ])
    .arg(format!("--log-file={}", log.display()))
    .arg(cmd.get_program())
    .args(cmd.get_args())
    .stdin(Stdio::null());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => vg.env(name, value),
            None => vg.env_remove(name),
        };
    }
    let (out, took) = run(&mut vg);
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    eprintln!("valgrind {label}: {took:?}");
    assert_ne!(
        out.status.code(),
        Some(99),
        "{label}: valgrind found errors:\n{report}"
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "{label}: exit code\nstdout: {}\nstderr: {}\n{report}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        report.contains("definitely lost: 0 bytes") || report.contains("no leaks are possible"),
        "{label}: leak summary:\n{report}"
    );
    assert!(
        report.contains("ERROR SUMMARY: 0 errors"),
        "{label}: valgrind errors:\n{report}"
    );
}

#[test]
fn valgrind_finds_no_leaks_or_errors() {
    if windows() {
        eprintln!("note: valgrind cannot follow programs run under Wine; no leak checks");
        return;
    }
    let Some(valgrind) = valgrind() else {
        // CI installs valgrind (.ci/run): there a missing one is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but valgrind is not on PATH"
        );
        eprintln!("note: valgrind is not on PATH; skipping the C leak checks");
        return;
    };
    let mock = start_mock(&[]);
    let mut cmd = mock.command("hero_send");
    cmd.args(with(
        required("4242"),
        &["--write-to-record", "--snomed-code", "185317003"],
    ));
    assert_clean_under_valgrind(&valgrind, "hero_send (sent)", &cmd, 0);
    let mut cmd = mock.command("hero_send");
    cmd.args(required("999500"));
    assert_clean_under_valgrind(&valgrind, "hero_send (5xx)", &cmd, 6);
    let mut cmd = mock.command("hero_send");
    cmd.args(with(required("4242"), &["--snomed-code", "123456789"]));
    assert_clean_under_valgrind(&valgrind, "hero_send (invalid)", &cmd, 2);
    assert_clean_under_valgrind(&valgrind, "send_message", &mock.command("send_message"), 0);
    assert_clean_under_valgrind(
        &valgrind,
        "send_message_cpp",
        &mock.command("send_message_cpp"),
        0,
    );
    let (cmd, _refused) = outcomes_cpp(&mock);
    assert_clean_under_valgrind(&valgrind, "outcomes_cpp", &cmd, 0);
    assert_clean_under_valgrind(&valgrind, "misuse", &bare("misuse"), 0);
    let mut cmd = mock.command("threads");
    cmd.arg("3");
    assert_clean_under_valgrind(&valgrind, "threads", &cmd, 0);
}

/// The C log callback gets attempts, retries and statuses, and none of the
/// key, the message text, the patient id or the contact detail.
#[test]
fn log_callback_lines_keep_patient_data_out() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let digits = format!("{:08}", seed % 100_000_000);
    let key = format!("key-{digits}-secret");
    let message = format!("Private note {digits} for the patient");
    let recipient = format!("07700 9{}", &digits[..5]);
    let patient = format!("8{digits}");
    let mock = start_mock(&["--api-key", &key]);
    let (out, _) = run(mock.command("logging").env("HERO_API_KEY", &key).args([
        &message, &recipient, &patient, "999429", "999500", "999000", "999200", "999307",
    ]));
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let statuses: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("STATUS "))
        .collect();
    // OK, refused (429), may have been sent (500, dropped), accepted id unknown, refused (redirect).
    assert_eq!(
        statuses,
        [
            "STATUS 1 0",
            "STATUS 2 2",
            "STATUS 3 3",
            "STATUS 4 3",
            "STATUS 5 4",
            "STATUS 6 2"
        ]
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("LOG ")).collect();
    for secret in [&key, &message, &recipient, &patient, &digits] {
        assert!(
            !lines.iter().any(|l| l.contains(secret.as_str())),
            "{secret:?} leaked into a log line:\n{}",
            lines.join("\n")
        );
    }
    let all = lines.join("\n");
    for expected in [
        "LOG 3 attempt 1: POST",
        "attempt 2",
        "HTTP 429",
        "HTTP 500",
        "HTTP 307",
        "LOG 1 ",
    ] {
        assert!(all.contains(expected), "no {expected:?} in:\n{all}");
    }
}

/// A proxy variable that is set but unusable stops `hero_send` with exit 2
/// and a line naming the variable, not its value, and nothing goes out
/// directly; a proxy on a dead port is named in the exit-5 line. The target
/// is an IPv4-mapped loopback address, which the library treats as remote,
/// so the environment's proxy applies to it.
#[test]
fn hero_send_names_proxy_variables_and_proxies() {
    let target = TcpListener::bind("127.0.0.1:0").expect("bind");
    target.set_nonblocking(true).unwrap();
    let url = format!(
        "https://[::ffff:127.0.0.1]:{}",
        target.local_addr().unwrap().port()
    );
    let dead_port = common::refused_port();
    let dead = dead_port.port;
    let send = |proxy: &str| {
        run(bare("hero_send")
            .env("HERO_BASE_URL", &url)
            .env("HERO_API_KEY", KEY)
            .env("HERO_PRACTICE_GROUP_ID", GROUP)
            .env_remove("https_proxy")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .env("HTTPS_PROXY", proxy)
            .args(required("4242")))
        .0
    };
    // The name the library reports: Windows has one variable for
    // https_proxy and HTTPS_PROXY (names are case-insensitive there), and
    // the library asks for it lowercase first, as curl does.
    let var = if windows() {
        "https_proxy"
    } else {
        "HTTPS_PROXY"
    };
    for value in [
        format!("http://127.0.0.1:{dead}\r"),
        format!("http://jsmith:hunter2 x@127.0.0.1:{dead}"),
    ] {
        let line = assert_fails(&send(&value), 2);
        assert!(line.contains(var), "{line:?}");
        for piece in ["127.0.0.1", "jsmith", "hunter2"] {
            assert!(!line.contains(piece), "{line:?}");
        }
    }
    let line = assert_fails(&send(&format!("http://jsmith:hunter2@127.0.0.1:{dead}")), 5);
    assert!(
        line.contains(&format!(
            "could not connect to proxy 127.0.0.1:{dead} (from {var}): connection refused"
        )),
        "{line:?}"
    );
    assert!(
        !line.contains("hunter2") && !line.contains("jsmith"),
        "{line:?}"
    );
    assert!(
        target.accept().is_err(),
        "a send went directly to the target"
    );
}

/// After `hero_client_free`, no copy of the API key is left anywhere in the
/// process's writable memory (heap, freed or not; stacks; static data):
/// `key_wipe` sends twice over plain HTTP, frees everything and scans
/// `/proc/self/maps`, so this runs on Linux only.
#[cfg(target_os = "linux")]
#[test]
fn api_key_is_gone_after_hero_client_free() {
    if windows() {
        eprintln!("note: key_wipe reads /proc/self/maps: not built for Windows");
        return;
    }
    let key = format!("wipe-key-{}", common::unique_hex());
    let mock = Mock::start_with(&["--api-key", &key, "--practice-group-id", GROUP]);
    // Passed reversed: the program's own argument must not be a copy.
    let reversed: String = key.chars().rev().collect();
    let (out, _) = run(bare("key_wipe").args([&mock.base_url(), GROUP, &reversed]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(mock.requests().len(), 2, "both sends reached the mock");
}

// ---------------------------------------------------------------------------
// Finding the patient (register_pds) from C and C++
// ---------------------------------------------------------------------------

/// The lookups and sends the mock read, by path.
fn paths(mock: &Mock) -> Vec<String> {
    mock.requests()
        .iter()
        .map(|r| r["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const LOOKUP: &str = "/v1/patients/register_pds";
const SEND: &str = "/v1/messages/send";

#[test]
fn find_patient_from_c() {
    let mock = start_mock(&[]);
    let (out, _) =
        run(mock
            .command("find_patient")
            .args(["943 476 5919", "1992-01-01", SECRET_TEXT]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let id = first["patient_id"].as_str().unwrap().to_owned();
    assert!(stdout.contains("sent: "), "{stdout}");
    assert_eq!(paths(&mock), [LOOKUP, SEND]);
    // The message went to the id found.
    assert_eq!(mock.bodies()[1]["patient_id"], id.as_str());
    assert_eq!(mock.bodies()[0]["ehr_partner"], "example-ehr");

    let (out, _) =
        run(mock
            .command("find_patient")
            .args(["Ann", "Smith", "1992-01-01", "LS1 4AP"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let (out, _) = run(mock
        .command("find_patient")
        .args(["9990000026", "1992-01-01"]));
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert!(
        answer["login_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(answer["message"].is_string());

    let (out, _) = run(mock
        .command("find_patient")
        .args(["9990000018", "1992-01-01"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("HTTP 404"),
        "{}",
        text(&out.stderr)
    );

    let before = mock.requests().len();
    let (out, _) = run(mock
        .command("find_patient")
        .args(["123 456 7891", "1992-01-01"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("field: nhs_number"), "{stderr}");
    assert!(
        !stderr.contains("123") && !stderr.contains("7891"),
        "{stderr}"
    );
    assert_eq!(
        mock.requests().len(),
        before,
        "nothing is sent for invalid input"
    );
}

#[test]
fn find_patient_from_cpp_in_one_deadline() {
    let mock = start_mock(&[]);
    let (out, _) =
        run(mock
            .command("find_patient_cpp")
            .args(["9434765919", "1992-01-01", SECRET_TEXT]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("{\"patient_id\":"), "{stdout}");
    assert!(stdout.contains("sent to "), "{stdout}");
    assert_eq!(paths(&mock), [LOOKUP, LOOKUP, SEND]);

    let (out, _) =
        run(mock
            .command("find_patient_cpp")
            .args(["9990000026", "1992-01-01", SECRET_TEXT]));
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    // Verification: no message went.
    assert_eq!(paths(&mock).iter().filter(|p| *p == SEND).count(), 1);
    assert!(!text(&out.stderr).contains(SECRET_TEXT));
}

#[test]
fn find_patient_programs_are_clean_under_valgrind() {
    if windows() {
        eprintln!("note: valgrind cannot follow programs run under Wine; no leak checks");
        return;
    }
    let Some(valgrind) = valgrind() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but valgrind is not on PATH"
        );
        eprintln!("note: valgrind is not on PATH; skipping the C leak checks");
        return;
    };
    let mock = start_mock(&[]);
    let cases: [(&str, &[&str], i32); 6] = [
        ("find_patient", &["943 476 5919", "1992-01-01", "Hello"], 0),
        ("find_patient", &["9990000026", "1992-01-01"], 8),
        ("find_patient", &["9990000018", "1992-01-01"], 1),
        ("find_patient", &["123 456 7891", "1992-01-01"], 1),
        (
            "find_patient_cpp",
            &["9434765919", "1992-01-01", "Hello"],
            0,
        ),
        (
            "find_patient_cpp",
            &["9990000026", "1992-01-01", "Hello"],
            8,
        ),
    ];
    for (program, args, code) in cases {
        let mut cmd = mock.command(program);
        cmd.args(args);
        assert_clean_under_valgrind(&valgrind, &format!("{program} {args:?}"), &cmd, code);
    }
}
