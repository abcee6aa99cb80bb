//! `hero_send --batch` against the real `hero-mock`: the batch contract
//! (one JSON line per row, one summary line, exit codes 0/6/9/2), `--check`,
//! `--pending`, `--resolve`, a batch killed mid-send and rerun, and Ctrl-C.
//!
//! Unix only, like the other C program tests: the programs are built with
//! the examples' Makefile for the host (signals and script(1) are unix too).
#![cfg(unix)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod common;
use common::{GROUP, KEY, Mock, c_programs, hero_send, unique_hex};

/// Message text that must never appear in any output or the journal.
const SECRET: &str = "Private 5e0c2b";
/// The keys of a row line, in order.
const ROW_KEYS: [&str; 6] = [
    "row",
    "key",
    "outcome",
    "message_id",
    "http_status",
    "error",
];

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hero-batch-cli-{}", unique_hex()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A finished batch: exit code, row lines by row number, the summary line.
struct Batch {
    code: Option<i32>,
    rows: HashMap<u64, Value>,
    stderr: String,
}

impl Batch {
    fn outcome(&self, row: u64) -> &str {
        self.rows[&row]["outcome"].as_str().unwrap()
    }
}

/// Checks the output contract and parses it.
fn batch(out: Output) -> Batch {
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    for text in [&stdout, &stderr] {
        assert!(!text.contains(SECRET) && !text.contains(KEY), "{text}");
        assert!(
            !text.contains("07700 9000"),
            "a contact detail leaked: {text}"
        );
    }
    // --check first says how each header was read, one line per column.
    let summary: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("column \""))
        .collect();
    assert_eq!(summary.len(), 1, "one summary line: {stderr:?}");
    assert!(summary[0].starts_with("hero_send: "), "{stderr}");
    let mut rows = HashMap::new();
    for line in stdout.lines() {
        // The keys, in the documented order.
        let mut at = 0;
        for key in ROW_KEYS {
            let found = line[at..].find(&format!("\"{key}\":")).map(|i| i + at);
            assert!(found.is_some(), "{key} missing or out of order: {line}");
            at = found.unwrap();
        }
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v.as_object().unwrap().len(), ROW_KEYS.len(), "{line}");
        let row = v["row"].as_u64().unwrap();
        assert!(rows.insert(row, v).is_none(), "row {row} twice");
    }
    Batch {
        code: out.status.code(),
        rows,
        stderr,
    }
}

fn run(mock: &Mock, args: &[&str]) -> Batch {
    batch(hero_send(mock, args).output().unwrap())
}

/// Patient ids the mock has received, with how often.
fn received(mock: &Mock) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in mock.requests() {
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        *seen
            .entry(body["patient_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    seen
}

fn wait_for_requests(mock: &Mock, n: usize) {
    let started = Instant::now();
    while mock.requests().len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the mock never saw {n} requests"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const MESSAGE: &str = "Dear ((first_name)), your flu jab is due. Private 5e0c2b";

#[test]
fn rows_are_reported_once_each_and_a_rerun_sends_nothing_new() {
    let mock = Mock::start();
    let d = dir();
    let file = write(
        &d,
        "recall.csv",
        "patient_id,first_name,recipient_contact_detail,ward\n\
         1001,Ada,07700 900001,x\n\
         1002,,07700 900002,x\n\
         1001,Ada,07700 900001,y\n\
         1003,Cy,not a phone,x\n\
         1004,Di,07700 900004,x\n",
    );
    let journal = d.join("recall.journal");
    let args = [
        "--batch",
        s(&file),
        "--journal",
        s(&journal),
        "--type",
        "sms",
        "--message",
        MESSAGE,
    ];
    let first = run(&mock, &args);
    assert_eq!(first.code, Some(9), "{}", first.stderr);
    assert_eq!(first.rows.len(), 5);
    assert_eq!(
        (1..=5).map(|r| first.outcome(r)).collect::<Vec<_>>(),
        ["sent", "invalid", "duplicate_in_file", "invalid", "sent"]
    );
    assert!(first.rows[&1]["message_id"].is_string());
    assert_eq!(first.rows[&1]["http_status"], 200);
    assert!(first.rows[&1]["error"].is_null());
    assert!(
        first.rows[&2]["error"]
            .as_str()
            .unwrap()
            .contains("((first_name))")
    );
    assert!(first.stderr.contains("2 sent"), "{}", first.stderr);
    assert_eq!(received(&mock).len(), 2);
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(!journal_text.contains(SECRET) && !journal_text.contains("Ada"));

    let again = run(&mock, &args);
    assert_eq!(again.code, Some(9));
    assert_eq!(again.outcome(1), "already_sent");
    assert_eq!(again.outcome(5), "already_sent");
    assert_eq!(again.rows[&1]["message_id"], first.rows[&1]["message_id"]);
    assert_eq!(mock.requests().len(), 2, "the rerun sent nothing");

    // Only good rows: exit 0, then 0 again with everything already sent.
    let good = write(
        &d,
        "good.jsonl",
        "{\"patient_id\":\"2001\",\"first_name\":\"Ed\"}\n{\"patient_id\":2002,\"first_name\":\"Flo\"}\n",
    );
    let args = [
        "--batch",
        s(&good),
        "--journal",
        s(&journal),
        "--type",
        "hero",
        "--message",
        MESSAGE,
        "--concurrency",
        "1",
        "--rate",
        "20",
    ];
    let sent = run(&mock, &args);
    assert_eq!(sent.code, Some(0), "{}", sent.stderr);
    assert_eq!((sent.outcome(1), sent.outcome(2)), ("sent", "sent"));
    let rerun = run(&mock, &args);
    assert_eq!(rerun.code, Some(0));
    assert_eq!(rerun.outcome(2), "already_sent");
    assert_eq!(mock.requests().len(), 4);
}

#[test]
fn check_validates_every_row_and_sends_nothing() {
    let mock = Mock::start();
    let d = dir();
    let file = write(
        &d,
        "c.csv",
        "patient_id,first_name\n1001,Ada\n1002,\n\"1003\",\"Cy, \"\"Jr\"\"\nthe second\"\n",
    );
    let out = run(
        &mock,
        &[
            "--batch",
            s(&file),
            "--check",
            "--type",
            "hero",
            "--message",
            MESSAGE,
        ],
    );
    assert_eq!(out.code, Some(9), "{}", out.stderr);
    assert_eq!(
        (1..=3).map(|r| out.outcome(r)).collect::<Vec<_>>(),
        ["valid", "invalid", "valid"]
    );
    let ok = run(
        &mock,
        &[
            "--batch",
            s(&file),
            "--check",
            "--type",
            "hero",
            "--message",
            "Hello",
        ],
    );
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    // Two flags for one field contradict each other: nothing starts.
    let clash = hero_send(
        &mock,
        &[
            "--batch",
            s(&file),
            "--check",
            "--write-to-record",
            "--no-write-to-record",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(clash.status.code(), Some(2));
    assert!(mock.requests().is_empty());
}

#[test]
fn a_row_that_may_have_gone_exits_6_until_resolved() {
    let mock = Mock::start();
    let d = dir();
    let file = write(&d, "f.csv", "key,patient_id\nflu-1,999500\nflu-2,3001\n");
    let journal = d.join("j");
    let args = [
        "--batch",
        s(&file),
        "--journal",
        s(&journal),
        "--type",
        "hero",
        "--message",
        "Hello",
    ];
    let first = run(&mock, &args);
    assert_eq!(first.code, Some(6), "{}", first.stderr);
    assert_eq!(first.outcome(1), "may_have_been_sent");
    assert_eq!(first.rows[&1]["http_status"], 500);
    let second = run(&mock, &args);
    assert_eq!(second.code, Some(6));
    assert_eq!(second.outcome(1), "needs_reconciliation");
    assert_eq!(second.outcome(2), "already_sent");
    assert_eq!(received(&mock)["999500"], 1, "held back, not resent");

    let pending = hero_send(&mock, &["--journal", s(&journal), "--pending"])
        .output()
        .unwrap();
    assert_eq!(pending.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8(pending.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["key"], "flu-1");
    assert_eq!(lines[0]["reason"], "may_have_been_sent");

    let bad = hero_send(
        &mock,
        &[
            "--journal",
            s(&journal),
            "--resolve",
            "flu-1",
            "--as",
            "maybe",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let unknown = hero_send(
        &mock,
        &[
            "--journal",
            s(&journal),
            "--resolve",
            "flu-9",
            "--as",
            "sent",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    let resolved = hero_send(
        &mock,
        &[
            "--journal",
            s(&journal),
            "--resolve",
            "flu-1",
            "--as",
            "sent",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(resolved.status.code(), Some(0));
    let third = run(&mock, &args);
    assert_eq!(third.code, Some(0), "{}", third.stderr);
    assert_eq!(third.outcome(1), "already_sent");
    assert_eq!(received(&mock)["999500"], 1);
}

#[test]
fn batches_that_cannot_start_exit_2() {
    let mock = Mock::start();
    let d = dir();
    let no_header = write(&d, "n.csv", "1001,hero,Hello\n");
    let good = write(&d, "g.csv", "patient_id\n1001\n");
    let journal = d.join("j");
    let held = herohealth::Journal::open(&journal).unwrap();
    for (args, words) in [
        (
            vec!["--batch", s(&no_header), "--journal", s(&d.join("j2"))],
            "no header row",
        ),
        (
            vec![
                "--batch",
                s(&d.join("missing.csv")),
                "--journal",
                s(&d.join("j3")),
            ],
            "cannot read",
        ),
        (
            vec![
                "--batch",
                s(&good),
                "--journal",
                s(&journal),
                "--type",
                "hero",
                "--message",
                "Hi",
            ],
            "in use",
        ),
        (vec!["--batch", s(&good), "--type", "hero"], "--journal"),
        // Who receives a message is never a default: a row without its own
        // contact must not go to the number given on the command line.
        (
            vec![
                "--batch",
                s(&good),
                "--journal",
                s(&d.join("j4")),
                "--type",
                "sms",
                "--message",
                "Hi",
                "--recipient",
                "07700 900123",
            ],
            "--recipient cannot be a batch default",
        ),
        (
            vec![
                "--batch",
                s(&good),
                "--journal",
                s(&d.join("j5")),
                "--type",
                "hero",
                "--message",
                "Hi",
                "--patient-id",
                "1001",
            ],
            "--patient-id cannot be a batch default",
        ),
    ] {
        let out = hero_send(&mock, &args).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(words), "{words}: {stderr}");
    }
    drop(held);
    assert!(mock.requests().is_empty());
}

/// Rows 1-2 quick, row 3 the mock's slow id, rows 4-6 quick.
fn slow_batch(d: &Path) -> PathBuf {
    write(
        d,
        "slow.csv",
        "patient_id\n4001\n4002\n999504\n4004\n4005\n4006\n",
    )
}

fn spawn(mock: &Mock, file: &Path, journal: &Path) -> Child {
    hero_send(
        mock,
        &[
            "--batch",
            s(file),
            "--journal",
            s(journal),
            "--type",
            "hero",
            "--message",
            "Hello",
            "--concurrency",
            "1",
            "--timeout",
            "120",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

#[test]
fn a_batch_killed_mid_send_is_rerun_without_sending_anything_twice() {
    let mock = Mock::start_with(&["--slow-seconds", "60"]);
    let d = dir();
    let file = slow_batch(&d);
    let journal = d.join("j");
    let mut child = spawn(&mock, &file, &journal);
    // Row 3 is in flight once the mock has read its request.
    wait_for_requests(&mock, 3);
    child.kill().unwrap(); // SIGKILL: no chance to write anything more
    child.wait().unwrap();

    let out = spawn(&mock, &file, &journal).wait_with_output().unwrap();
    let rerun = batch(out);
    assert_eq!(rerun.code, Some(6), "{}", rerun.stderr);
    assert_eq!(
        (1..=6).map(|r| rerun.outcome(r)).collect::<Vec<_>>(),
        [
            "already_sent",
            "already_sent",
            "needs_reconciliation",
            "sent",
            "sent",
            "sent"
        ]
    );
    let seen = received(&mock);
    assert_eq!(seen.len(), 6);
    assert!(
        seen.values().all(|n| *n == 1),
        "a row reached the mock twice: {seen:?}"
    );

    let pending = hero_send(&mock, &["--journal", s(&journal), "--pending"])
        .output()
        .unwrap();
    let text = String::from_utf8(pending.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["patient_id"], "999504");
    assert_eq!(line["reason"], "no_outcome");
}

#[cfg(unix)]
#[test]
fn ctrl_c_finishes_the_row_in_flight_and_starts_no_new_one() {
    // The signal must land while row 3 is in flight: 10 s, not the few a
    // busy machine can take to schedule this thread.
    let mock = Mock::start_with(&["--slow-seconds", "10"]);
    let d = dir();
    let file = slow_batch(&d);
    let journal = d.join("j");
    let child = spawn(&mock, &file, &journal);
    wait_for_requests(&mock, 3);
    // SAFETY: signalling our own child by its id.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let stopped = batch(child.wait_with_output().unwrap());
    assert_eq!(stopped.code, Some(9), "{}", stopped.stderr);
    assert_eq!(stopped.rows.len(), 6, "every row is reported");
    assert_eq!(stopped.outcome(3), "sent", "the row in flight finished");
    for row in 4..=6 {
        assert_eq!(stopped.outcome(row), "not_sent");
    }
    assert_eq!(mock.requests().len(), 3, "nothing started after Ctrl-C");

    let rerun = batch(spawn(&mock, &file, &journal).wait_with_output().unwrap());
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert_eq!(rerun.outcome(3), "already_sent");
    assert_eq!(rerun.outcome(6), "sent");
    assert!(received(&mock).values().all(|n| *n == 1));
}

/// On a terminal, stderr also carries a live progress line (rewritten in
/// place with `\r`); the other tests show that a pipe gets the summary only.
#[cfg(unix)]
#[test]
fn a_terminal_gets_a_progress_line() {
    let mock = Mock::start();
    let d = dir();
    let file = write(&d, "p.csv", "patient_id\n6001\n6002\n6003\n");
    let journal = d.join("j");
    // script(1) runs the command on a pseudo-terminal (util-linux, in every Debian).
    let command = format!(
        "{} --batch {} --journal {} --type hero --message Hello",
        c_programs().join("hero_send").display(),
        file.display(),
        journal.display()
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("HERO_BASE_URL", mock.base_url())
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .stdin(Stdio::null())
        .output()
        .expect("run script(1) (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("\r3/3 rows: 3 sent;"), "{text:?}");
    assert!(text.contains("rows/s"), "{text:?}");
    assert!(
        text.contains("hero_send: batch done: 3 of 3 rows"),
        "{text:?}"
    );
}

/// The C++ layer (herohealth.hpp) over the batch and journal functions:
/// check, send, keyed sends, pending, resolve and a stopped batch.
#[test]
fn the_cpp_layer_runs_batches_and_keyed_sends() {
    let mock = Mock::start();
    let d = dir();
    let file = write(
        &d,
        "cpp.csv",
        "patient_id,name\n7001,Ada\n7002,\n7001,Ada\n",
    );
    let journal = d.join("j");
    let out = Command::new(c_programs().join("batch_cpp"))
        .arg(&file)
        .arg(&journal)
        .env("HERO_BASE_URL", mock.base_url())
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .env_remove("HERO_ENVIRONMENT")
        .env_remove("HERO_CA_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let outcomes = |prefix: &str| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|j| serde_json::from_str::<Value>(j).unwrap())
            .map(|v| format!("{}:{}", v["row"], v["outcome"].as_str().unwrap()))
            .collect()
    };
    let mut rows = outcomes("row ");
    rows.sort();
    assert_eq!(
        rows,
        [
            "1:sent",
            "1:valid",
            "2:invalid",
            "2:invalid",
            "3:duplicate_in_file",
            "3:duplicate_in_file"
        ]
    );
    assert!(lines.contains(&"checked incomplete 1 valid"), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("summary incomplete batch done: 3 of 3 rows")),
        "{text}"
    );
    assert_eq!(outcomes("keyed "), ["0:may_have_been_sent"]);
    assert!(lines.contains(&"derived 2 id"), "{text}"); // HERO_ROW_SENT
    let pending = lines.iter().find(|l| l.starts_with("pending ")).unwrap();
    let pending: Value = serde_json::from_str(pending.strip_prefix("pending ").unwrap()).unwrap();
    assert_eq!(pending["key"], "cpp-key-1");
    assert!(lines.contains(&"resolved 0"), "{text}");
    assert!(lines.contains(&"missing 1"), "{text}"); // HERO_NOT_SENT
    // Rows 2 (invalid) and 3 (a duplicate) keep their outcomes.
    assert!(lines.contains(&"stopped 1 not_sent"), "{text}");
    assert_eq!(received(&mock).len(), 3, "7001, 999500 and 5151 once each");
}

/// Ctrl-C while a row waits to retry after a 429 (and the next row waits
/// at the client's gate): no request starts after the stop. A row that has
/// no request on the wire is not in flight; it ends not sent, and the
/// journal lets a rerun send it.
#[test]
fn ctrl_c_during_a_429_wait_starts_no_new_request() {
    // The signal must land during the retry's wait: 10 s (the batch sits
    // out the rest of it), not 1 s, which a busy machine can overrun.
    let mock = Mock::start_with(&["--retry-after-seconds", "10"]);
    let d = dir();
    let file = write(&d, "w.csv", "patient_id\n999429\n8101\n8102\n");
    let journal = d.join("j");
    let child = spawn(&mock, &file, &journal);
    // The first 429 is answered; the retry waits (Retry-After: 10).
    wait_for_requests(&mock, 1);
    // SAFETY: signalling our own child by its id.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let stopped = batch(child.wait_with_output().unwrap());
    assert_eq!(stopped.code, Some(9), "{}", stopped.stderr);
    assert_eq!(stopped.rows.len(), 3, "every row is reported");
    assert_eq!(mock.requests().len(), 1, "a request started after Ctrl-C");
    assert!(
        ["not_sent", "rate_limited"].contains(&stopped.outcome(1)),
        "{:?}",
        stopped.rows[&1]
    );
    for row in 2..=3 {
        assert_eq!(stopped.outcome(row), "not_sent");
    }
    let pending = hero_send(&mock, &["--journal", s(&journal), "--pending"])
        .output()
        .unwrap();
    assert!(pending.stdout.is_empty(), "nothing is flagged");
}

/// A batch killed while a row waits out a 429 (before its retry): the 429
/// was answered, so nothing of that row can have gone; the rerun must not
/// flag it, and sends every row once.
#[test]
fn a_batch_killed_during_a_429_wait_flags_nothing() {
    // The kill must land during the retry's wait: 60 s, far more than a
    // busy machine needs to schedule this thread.
    let mock = Mock::start_with(&["--retry-after-seconds", "60"]);
    let d = dir();
    let file = write(&d, "k.csv", "patient_id\n999429\n8201\n8202\n");
    let journal = d.join("j");
    let mut child = spawn(&mock, &file, &journal);
    // The 429 is answered; the retry waits (Retry-After: 60). The mock
    // records a request before it answers, and the batch records the 429
    // only once it has read it: a kill at once could land in between (the
    // request then rightly pending). 10 s in, the batch is deep in its
    // 60 s wait, however busy the machine.
    wait_for_requests(&mock, 1);
    std::thread::sleep(Duration::from_secs(10));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let pending = hero_send(&mock, &["--journal", s(&journal), "--pending"])
        .output()
        .unwrap();
    assert!(
        pending.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&pending.stdout)
    );
    assert_eq!(mock.requests().len(), 1, "killed before any retry");
    // The rerun meets a server whose 429 asks for a second only.
    let again = Mock::start();
    let rerun = batch(spawn(&again, &file, &journal).wait_with_output().unwrap());
    assert_eq!(rerun.code, Some(9), "{}", rerun.stderr);
    assert_eq!(rerun.outcome(1), "rate_limited");
    assert_eq!((rerun.outcome(2), rerun.outcome(3)), ("sent", "sent"));
    let seen = received(&again);
    assert_eq!((seen["8201"], seen["8202"]), (1, 1));
}

/// `--pending` and `--resolve` read an existing journal: a mistyped path
/// must not look like "nothing is flagged" (nor leave an empty journal).
#[test]
fn pending_and_resolve_need_an_existing_journal() {
    let mock = Mock::start();
    let d = dir();
    let missing = d.join("recal.journal");
    for args in [
        vec!["--journal", s(&missing), "--pending"],
        vec!["--journal", s(&missing), "--resolve", "k", "--as", "sent"],
    ] {
        let out = hero_send(&mock, &args).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
        assert!(stderr.contains("no journal"), "{stderr}");
        assert!(!missing.exists(), "{args:?} created a journal");
    }
}
