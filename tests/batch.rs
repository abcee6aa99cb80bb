//! The batch runner and the send journal against the real `hero-mock`:
//! what reaches the mock, what a rerun does, what the journal holds.

use std::collections::HashMap;
use std::path::PathBuf;

use herohealth::{
    BatchClass, BatchRunner, ErrorKind, Journal, Keyed, MessageType, Resolution, RowOutcome,
    RowReport, SendMessage, StopToken,
};
use serde_json::Value;

pub mod common;
use common::{Mock, unique_hex};

/// Message text that must never reach the journal file.
const SECRET: &str = "Private 7d3e9a";

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hero-batch-{}", unique_hex()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The request bodies the mock has read, parsed.
fn bodies(mock: &Mock) -> Vec<Value> {
    mock.requests()
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

fn run(
    mock: &Mock,
    journal: &Journal,
    file: &std::path::Path,
    runner: BatchRunner,
) -> (Vec<RowReport>, herohealth::BatchSummary) {
    let client = mock.client().build().unwrap();
    let mut rows = Vec::new();
    let summary = runner
        .run(&client, Some(journal), file, |r, _| rows.push(r.clone()))
        .unwrap();
    rows.sort_by_key(|r| r.row);
    (rows, summary)
}

fn outcomes(rows: &[RowReport]) -> Vec<&'static str> {
    rows.iter().map(|r| r.outcome.as_str()).collect()
}

#[test]
fn valid_and_invalid_rows_then_a_rerun_sends_nothing_new() {
    let mock = Mock::start();
    let d = dir();
    let file = write(
        &d,
        "recall.csv",
        "patient_id,message_type,first_name,recipient_contact_detail\n\
         1001,sms,Ada,07700 900001\n\
         1002,,Bob,07700 900002\n\
         1003,sms,,07700 900003\n\
         1004,fax,Cy,07700 900004\n\
         1001,sms,Ada,07700 900001\n\
         1005,sms,Di,not a phone\n",
    );
    let journal_path = d.join("recall.journal");
    let runner = || {
        BatchRunner::new()
            .default_value("message_type", "sms")
            .unwrap()
            .default_value("message_string", format!("Dear ((first_name)), {SECRET}"))
            .unwrap()
    };
    let journal = Journal::open(&journal_path).unwrap();
    let (rows, summary) = run(&mock, &journal, &file, runner());
    assert_eq!(
        outcomes(&rows),
        [
            "sent",
            "sent",
            "invalid",
            "invalid",
            "duplicate_in_file",
            "invalid"
        ]
    );
    assert_eq!(summary.class(), BatchClass::Incomplete);
    assert!(rows[0].message_id.is_some() && rows[0].http_status == Some(200));
    assert_eq!(rows[4].key, rows[0].key, "a duplicate shares its key");
    for bad in [2, 3, 5] {
        let e = rows[bad].error.as_deref().unwrap();
        assert!(e.starts_with("not sent: invalid "), "{e}");
        assert!(
            !e.contains(SECRET) && !e.contains("90000") && !e.contains("not a phone"),
            "{e}"
        );
    }
    assert!(rows[2].error.as_deref().unwrap().contains("((first_name))"));
    let mut sent = bodies(&mock);
    sent.sort_by_key(|b| b["patient_id"].as_str().unwrap().to_owned());
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["message_string"], format!("Dear Ada, {SECRET}"));
    assert_eq!(
        sent[1]["message_type"], "sms",
        "the default filled the empty cell"
    );

    // The journal holds keys, ids and hashes; never the text or contacts.
    // (Closed first: outcome records may still be queued while it is open.)
    drop(journal);
    let text = std::fs::read_to_string(&journal_path).unwrap();
    // Whole contacts, as entered and as sent: hashes and times are digits
    // and hex, so a short fragment could turn up in them by chance.
    assert!(!text.contains(SECRET) && !text.contains("Ada"));
    for n in 1..=4 {
        assert!(!text.contains(&format!("07700 90000{n}")));
        assert!(!text.contains(&format!("7700900{n:03}")));
    }
    assert!(text.contains("1001") && text.contains(rows[0].message_id.as_deref().unwrap()));

    let journal = Journal::open(&journal_path).unwrap();
    let (again, summary) = run(&mock, &journal, &file, runner());
    assert_eq!(
        outcomes(&again),
        [
            "already_sent",
            "already_sent",
            "invalid",
            "invalid",
            "duplicate_in_file",
            "invalid"
        ]
    );
    assert_eq!(again[0].message_id, rows[0].message_id);
    assert_eq!(summary.count(RowOutcome::AlreadySent), 2);
    assert_eq!(bodies(&mock).len(), 2, "the rerun sent nothing");
}

#[test]
fn csv_quoting_and_json_lines_read_the_same_rows() {
    let mock = Mock::start();
    let d = dir();
    let csv = write(
        &d,
        "q.csv",
        "key,patient_id,message_string,clinic\n\
         k1,2001,\"Hello, ((clinic))\",\"Riverside, \"\"North\"\"\nFloor 2\"\n",
    );
    let jsonl = write(
        &d,
        "q.jsonl",
        "{\"key\":\"k2\",\"patient_id\":2002,\"message_string\":\"Hello, ((clinic))\",\"clinic\":\"Riverside, \\\"North\\\"\\nFloor 2\"}\n\
         not json\n",
    );
    let journal = Journal::open(d.join("j")).unwrap();
    let runner = || {
        BatchRunner::new()
            .default_value("message_type", "hero")
            .unwrap()
            .concurrency(1)
    };
    let (rows, _) = run(&mock, &journal, &csv, runner());
    assert_eq!(outcomes(&rows), ["sent"]);
    assert_eq!(rows[0].key.as_deref(), Some("k1"));
    let (rows, _) = run(&mock, &journal, &jsonl, runner());
    assert_eq!(outcomes(&rows), ["sent", "invalid"]);
    let sent = bodies(&mock);
    let expected = "Hello, Riverside, \"North\"\nFloor 2";
    assert_eq!(sent[0]["message_string"], expected);
    assert_eq!(sent[1]["message_string"], expected);
    assert_eq!(
        sent[1]["patient_id"], "2002",
        "a JSON number becomes the id's text"
    );
}

#[test]
fn files_that_cannot_start_a_batch() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let journal = Journal::open(d.join("j")).unwrap();
    let no_header = write(&d, "n.csv", "1001,sms,hello\n1002,sms,hi\n");
    let unknown = write(&d, "n.txt", "patient_id\n1\n");
    for (file, words) in [
        (no_header, "no header row"),
        (unknown, "unknown file type"),
        (d.join("missing.csv"), "cannot read"),
    ] {
        let e = BatchRunner::new()
            .run(&client, Some(&journal), &file, |_, _| {})
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains(words), "{e}");
    }
    assert!(mock.requests().is_empty());
}

#[test]
fn a_second_opener_is_refused_while_the_first_holds_the_journal() {
    let d = dir();
    let first = Journal::open(d.join("j")).unwrap();
    let e = Journal::open(d.join("j")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Journal);
    assert!(e.to_string().contains("in use"), "{e}");
    drop(first);
    // Released on close. A child process that another test is spawning at
    // this instant holds a copy of the descriptor until its exec, so allow
    // a moment before the lock is seen free.
    let started = std::time::Instant::now();
    while let Err(e) = Journal::open(d.join("j")) {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{e}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn an_ambiguous_send_is_held_until_resolved() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let journal = Journal::open(d.join("j")).unwrap();
    let msg = SendMessage::new("999500", MessageType::Hero, "x");
    let e = journal.send(&client, "flu-1", &msg).unwrap_err();
    assert_eq!(e.status(), Some(500));
    let again = journal.send(&client, "flu-1", &msg).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NeedsReconciliation);
    assert_eq!(mock.requests().len(), 1, "held back, not resent");
    let pending = journal.pending();
    assert_eq!(pending.len(), 1);
    let line: Value = serde_json::from_str(&pending[0].to_json()).unwrap();
    assert_eq!(line["key"], "flu-1");
    assert_eq!(line["reason"], "may_have_been_sent");
    assert_eq!(line["http_status"], 500);

    // A different body under the flagged key is not sent either, and the
    // report still says the key needs checking (not "a different message",
    // which would hide that the first may have reached the patient).
    let other = SendMessage::new("999500", MessageType::Hero, "y");
    let e = journal.send(&client, "flu-1", &other).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NeedsReconciliation);
    assert_eq!(mock.requests().len(), 1);

    journal.resolve("flu-1", Resolution::Sent).unwrap();
    assert!(journal.pending().is_empty());
    // Once settled, a different body under the key is a different message.
    let e = journal.send(&client, "flu-1", &other).unwrap_err();
    assert_eq!(e.field(), Some("key"));
    drop(journal);
    let journal = Journal::open(d.join("j")).unwrap();
    assert!(matches!(
        journal.send(&client, "flu-1", &msg).unwrap(),
        Keyed::AlreadySent { message_id: None }
    ));
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn a_429_is_journaled_as_refused_so_the_key_may_go_again() {
    let mock = Mock::start();
    let client = mock.client().max_attempts(1).build().unwrap();
    let d = dir();
    let journal = Journal::open(d.join("j")).unwrap();
    // 999428 alternates: 429 first, then 200.
    let msg = SendMessage::new("999428", MessageType::Hero, "x");
    let e = journal.send(&client, "k", &msg).unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert!(journal.pending().is_empty(), "a refusal flags nothing");
    assert!(matches!(
        journal.send(&client, "k", &msg).unwrap(),
        Keyed::Sent(_)
    ));
    drop(journal);
    // The file grows in zeros: its data ends at the first zero byte. A
    // line is `SEQ DURABLE JSON CRC`.
    let text = std::fs::read_to_string(d.join("j")).unwrap();
    let records: Vec<Value> = text
        .split('\0')
        .next()
        .unwrap()
        .lines()
        .map(|l| {
            let json = l.splitn(3, ' ').nth(2).unwrap();
            serde_json::from_str(&json[..json.len() - 9]).unwrap()
        })
        .collect();
    let kinds: Vec<(&str, Option<&str>)> = records
        .iter()
        .map(|r| (r["record"].as_str().unwrap(), r["outcome"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("attempt", None),
            ("outcome", Some("refused")),
            ("attempt", None),
            ("outcome", Some("sent"))
        ]
    );
}

#[test]
fn a_stop_finishes_rows_in_flight_and_starts_no_new_ones() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let mut text = String::from("patient_id,message_string\n");
    for i in 0..6 {
        text.push_str(&format!("{},hello {i}\n", 3000 + i));
    }
    let file = write(&d, "s.csv", &text);
    let journal = Journal::open(d.join("j")).unwrap();
    let stop = StopToken::new();
    let mut rows = Vec::new();
    let summary = BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .concurrency(1)
        .stop_token(stop.clone())
        .run(&client, Some(&journal), &file, |r, _| {
            rows.push(r.clone());
            stop.stop();
        })
        .unwrap();
    let seen: HashMap<usize, &str> = rows.iter().map(|r| (r.row, r.outcome.as_str())).collect();
    assert_eq!(rows.len(), 6, "every row is reported");
    assert_eq!(summary.count(RowOutcome::Sent), mock.requests().len());
    assert!(summary.count(RowOutcome::Sent) <= 2, "{seen:?}");
    assert_eq!(seen[&6], "not_sent");
    assert_eq!(summary.class(), BatchClass::Incomplete);
    assert!(journal.pending().is_empty(), "the journal is consistent");
}

#[test]
fn the_mock_can_answer_like_a_distant_server() {
    let mock = Mock::start_with(&["--reply-delay-ms", "300"]);
    let client = mock.client().build().unwrap();
    let started = std::time::Instant::now();
    client
        .send(&SendMessage::new("4242", MessageType::Hero, "x"))
        .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

/// A row's own `message_string` is message text: a placeholder error must
/// not quote it back (into stdout, logs or a terminal). An unclosed `((`
/// is a broken template, not text to send to every patient.
#[test]
fn placeholder_errors_quote_no_message_text_and_unclosed_ones_are_invalid() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let file = write(
        &d,
        "p.csv",
        "patient_id,first_name,message_string\n\
         2101,Ada,\"Your ((result was normal 7d3e9a)) thanks\"\n\
         2102,Ada,\"Dear ((first_name), results normal (Private 7d3e9a))\"\n\
         2103,Ada,\"Dear ((first_name, your results are normal\"\n\
         2104,,\"Dear ((first_name))\"\n\
         2105,Ada,\n\
         2106,Ada,\"Dear ((first_name)), a (( b\"\n",
    );
    let runner = BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .default_value("message_string", "Dear ((first_name)), welcome")
        .unwrap();
    let mut rows = Vec::new();
    runner
        .check(&client, &file, |r, _| rows.push(r.clone()))
        .unwrap();
    assert_eq!(
        outcomes(&rows),
        [
            "invalid", "invalid", "invalid", "invalid", "valid", "invalid"
        ]
    );
    for r in &rows[..4] {
        let e = r.error.as_deref().unwrap();
        assert!(e.contains("message_string"), "{e}");
        for text in ["7d3e9a", "result", "normal", "Private"] {
            assert!(!e.contains(text), "message text in the error: {e}");
        }
    }
    // A column's name comes from the header, not from the message: named.
    assert!(
        rows[3].error.as_deref().unwrap().contains("((first_name))"),
        "{:?}",
        rows[3].error
    );
    let journal = Journal::open(d.join("j")).unwrap();
    let (sent, _) = run(&mock, &journal, &file, runner);
    assert_eq!(outcomes(&sent)[2], "invalid");
    let texts: Vec<Value> = bodies(&mock)
        .into_iter()
        .map(|b| b["message_string"].clone())
        .collect();
    assert_eq!(texts, ["Dear Ada, welcome"], "only row 5 went");
}

/// Without a journal too, a stop ends a row waiting to retry after a 429
/// before its next request (and the next row waiting at the gate).
#[test]
fn a_stop_during_a_429_wait_starts_no_new_request_without_a_journal() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let file = write(&d, "w.csv", "patient_id\n999429\n3101\n");
    let stop = StopToken::new();
    let runner = BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .default_value("message_string", "hello")
        .unwrap()
        .concurrency(2)
        .stop_token(stop.clone());
    let mut rows = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            // The 429 is answered; the retry (and row 2) wait a second.
            let started = std::time::Instant::now();
            while !mock
                .requests()
                .iter()
                .any(|r| r["body"].as_str().unwrap().contains("999429"))
            {
                assert!(started.elapsed().as_secs() < 60, "no request");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            stop.stop();
        });
        runner
            .run(&client, None, &file, |r, _| rows.push(r.clone()))
            .unwrap();
    });
    let bodies = bodies(&mock);
    let ids: Vec<&str> = bodies
        .iter()
        .map(|b| b["patient_id"].as_str().unwrap())
        .collect();
    // Row 2 may have gone before the 429 closed the gate, never after.
    assert_eq!(
        ids.iter().filter(|id| **id == "999429").count(),
        1,
        "{ids:?}"
    );
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.outcome != RowOutcome::MayHaveBeenSent)
    );
}

/// Files as Windows tools save them: a UTF-8 byte order mark (Excel's
/// "CSV UTF-8", Notepad) and CRLF line endings, blank lines at the end.
#[test]
fn a_byte_order_mark_and_crlf_are_read_as_plain_text() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let csv = write(
        &d,
        "bom.csv",
        "\u{feff}patient_id,first_name\r\n3201,Ada\r\n\"3202\",\"Bo\r\nJr\"\r\n\r\n\r\n",
    );
    let jsonl = write(
        &d,
        "bom.jsonl",
        "\u{feff}{\"patient_id\":\"3201\",\"first_name\":\"Ada\"}\r\n{\"patient_id\":3202,\"first_name\":\"Bo\"}\r\n\r\n",
    );
    let runner = BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .default_value("message_string", "Dear ((first_name))")
        .unwrap();
    for file in [csv, jsonl] {
        let mut rows = Vec::new();
        let summary = runner
            .check(&client, &file, |r, _| rows.push(r.clone()))
            .unwrap();
        assert_eq!(outcomes(&rows), ["valid", "valid"], "{file:?}: {rows:?}");
        assert_eq!(summary.class(), BatchClass::Complete);
    }
}

/// Spreadsheet exports carry columns and rows that were once touched but
/// are empty: unnamed columns are ignored like any other unknown column,
/// and a row with nothing in it is no message (like a blank line).
#[test]
fn empty_columns_and_rows_of_a_spreadsheet_export_are_ignored() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let csv = write(
        &d,
        "x.csv",
        "patient_id,first_name,,\r\n3301,Ada,,\r\n,,,\r\n3302,Bo,,x\r\n ,, ,\r\n",
    );
    let runner = BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .default_value("message_string", "Dear ((first_name))")
        .unwrap();
    let mut rows = Vec::new();
    let summary = runner
        .check(&client, &csv, |r, _| rows.push(r.clone()))
        .unwrap();
    assert_eq!(outcomes(&rows), ["valid", "valid"], "{rows:?}");
    assert_eq!(summary.total(), 2);
    assert_eq!(summary.class(), BatchClass::Complete);
}

/// Rows decided without the network (invalid, duplicate) keep their
/// outcome when a stop keeps the batch from reaching them: "not sent,
/// stopped" would hide that an invalid row needs fixing, or that a
/// duplicate's first row went.
#[test]
fn a_stop_reports_rows_decided_before_sending_as_they_are() {
    let mock = Mock::start();
    let client = mock.client().build().unwrap();
    let d = dir();
    let file = write(
        &d,
        "s.csv",
        "patient_id,first_name\n3401,Ada\n3402,Bo\n3403,\n3401,Ada\n",
    );
    let journal = Journal::open(d.join("j")).unwrap();
    let stop = StopToken::new();
    let mut rows = Vec::new();
    BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .default_value("message_string", "Dear ((first_name))")
        .unwrap()
        .concurrency(1)
        .stop_token(stop.clone())
        .run(&client, Some(&journal), &file, |r, _| {
            rows.push(r.clone());
            stop.stop();
        })
        .unwrap();
    rows.sort_by_key(|r| r.row);
    let seen = outcomes(&rows);
    // Row 2 may have started before the stop came.
    assert_eq!(seen[0], "sent", "{rows:?}");
    assert_eq!(seen[2..], ["invalid", "duplicate_in_file"], "{rows:?}");
    let sent = usize::from(seen[1] == "sent");
    assert_eq!(mock.requests().len(), 1 + sent, "{rows:?}");
}

/// Excel writes a cell typed `true` as `TRUE`: a flag column from a
/// spreadsheet means the flag, and `encrypted` must not become the text
/// "FALSE" (which Hero may read as set).
#[test]
fn spreadsheet_booleans_are_flags_in_any_case() {
    let mock = Mock::start();
    let d = dir();
    let file = write(
        &d,
        "b.csv",
        "patient_id,write_to_record,encrypted,auto_write_to_record,snomed_code\n\
         3501,TRUE,FALSE,False,185317003\n\
         3502,FALSE,TRUE,,\n",
    );
    let journal = Journal::open(d.join("j")).unwrap();
    let runner = BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .default_value("message_string", "hello")
        .unwrap()
        .concurrency(1);
    let (rows, _) = run(&mock, &journal, &file, runner);
    assert_eq!(outcomes(&rows), ["sent", "sent"], "{rows:?}");
    let sent = bodies(&mock);
    assert_eq!(sent[0]["write_to_record"], true);
    assert_eq!(sent[0]["encrypted"], false);
    assert_eq!(sent[0]["auto_write_to_record"], false);
    assert_eq!(sent[1]["write_to_record"], false);
    assert_eq!(sent[1]["encrypted"], true);
}
