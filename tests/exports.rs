//! Batch files as practices export them, end to end against the real
//! `hero-mock`: exported column names, rows by NHS number through the
//! patient lookup, `dd/mm/yyyy` dates, UK local send times, phone numbers
//! however written, the CSV report, reruns and a batch killed mid-send.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::process::{Child, Stdio};
#[cfg(unix)]
use std::time::{Duration, Instant};

use herohealth::{BatchClass, BatchRunner, Journal, Resolution, RowOutcome, RowReport};
use serde_json::Value;

pub mod common;
#[cfg(unix)]
use common::hero_send;
use common::{Mock, unique_hex};

const LOOKUP: &str = "/v1/patients/register_pds";
const SEND: &str = "/v1/messages/send";
/// The mock's reserved NHS numbers.
const NOT_FOUND: &str = "999 000 0018";
const VERIFY: &str = "999 000 0026";

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hero-exports-{}", unique_hex()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A valid NHS number (Modulus 11) for patient `n`, spaced as exports do.
fn nhs(n: u32) -> String {
    (0..)
        .map(|k| format!("943{:06}", n * 10 + k))
        .find_map(|nine| {
            let sum: u32 = nine
                .bytes()
                .zip((2..=10).rev())
                .map(|(b, w)| u32::from(b - b'0') * w)
                .sum();
            let check = match 11 - sum % 11 {
                11 => 0,
                10 => return None,
                c => c,
            };
            let d = format!("{nine}{check}");
            Some(format!("{} {} {}", &d[..3], &d[3..6], &d[6..]))
        })
        .unwrap()
}

/// Requests the mock read at `path`, their bodies parsed.
fn bodies(mock: &Mock, path: &str) -> Vec<Value> {
    mock.requests()
        .iter()
        .filter(|r| r["path"] == path)
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

/// Sends per Hero patient id.
fn sends_per_patient(mock: &Mock) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for b in bodies(mock, SEND) {
        *seen
            .entry(b["patient_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    seen
}

/// A recall list as a clinical system's search-and-report tool writes it.
fn export(d: &Path) -> PathBuf {
    let (a, b, c) = (nhs(101), nhs(102), nhs(103));
    let text = format!(
        "NHS Number,Forenames,Surname,Date of Birth,Mobile Telephone,Email Address\r\n\
         {a},Ann,Smith,07/03/1961,07700 900 123,\r\n\
         {b},Bob,Jones,25/12/1955,+447700900124,bob@example.org\r\n\
         {c},Cat,Brown,1970-01-31,(07700) 900125,\r\n\
         {a},Ann,Smith,07/03/1961,07700900123,\r\n\
         {NOT_FOUND},Dan,Green,01/02/1980,07700900126,\r\n\
         {VERIFY},Eve,White,02/03/1981,07700900127,\r\n\
         {b},Bob,Jones,12/25/1955,07700900128,\r\n\
         9434765918,Fay,Black,01/01/1990,07700900129,\r\n"
    );
    let p = d.join("recall.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn runner() -> BatchRunner {
    BatchRunner::new()
        .default_value("message_type", "sms")
        .unwrap()
        .default_value("message_string", "Dear ((Forenames)), your review is due.")
        .unwrap()
        .column("recipient_contact_detail", "Mobile Telephone")
        .unwrap()
        .concurrency(3)
}

fn run(mock: &Mock, journal: &Journal, file: &Path, runner: BatchRunner) -> Vec<RowReport> {
    let client = mock.client().build().unwrap();
    let mut rows = Vec::new();
    let summary = runner
        .run(&client, Some(journal), file, |r, _| rows.push(r.clone()))
        .unwrap();
    assert_eq!(summary.class(), BatchClass::Incomplete);
    rows.sort_by_key(|r| r.row);
    rows
}

#[test]
fn an_export_is_sent_by_nhs_number_once_per_patient_and_a_rerun_sends_nothing_new() {
    let mock = Mock::start();
    let d = dir();
    let file = export(&d);
    let journal_path = d.join("recall.journal");
    let report = d.join("recall-report.csv");
    let journal = Journal::open(&journal_path).unwrap();
    let rows = run(&mock, &journal, &file, runner().report_csv(&report));
    let outcomes: Vec<_> = rows.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "sent",
            "sent",
            "sent",
            // The same patient and message as row 1: one send.
            "duplicate_in_file",
            "patient_not_found",
            "verify_identity",
            // 12/25/1955: month 25, never read as 25 December.
            "invalid",
            // Check digit wrong.
            "invalid"
        ]
    );
    assert!(rows[6].error.as_deref().unwrap().contains("dob"));
    assert!(rows[7].error.as_deref().unwrap().contains("nhs_number"));
    assert_eq!(rows[5].outcome, RowOutcome::VerifyIdentity);
    let url = rows[5].login_url.as_deref().unwrap();
    assert!(
        url.starts_with("https://mock.herohealth.invalid/verify/"),
        "{url}"
    );
    assert!(rows[5].to_json().contains("\"login_url\""));
    assert!(rows[4].error.as_deref().unwrap().contains("404"));

    // One lookup per distinct patient; invalid rows look nothing up.
    let lookups = bodies(&mock, LOOKUP);
    assert_eq!(lookups.len(), 5, "{lookups:?}");
    let first = lookups
        .iter()
        .find(|b| b["nhs_number"] == nhs(101).replace(' ', ""))
        .unwrap();
    assert_eq!(first["dob"], "1961-03-07", "dd/mm/yyyy sent as Hero's form");
    // The sends: to the ids Hero returned, names in the text, UK mobiles in
    // E.164 however written.
    let sends = bodies(&mock, SEND);
    assert_eq!(sends.len(), 3);
    let contacts: Vec<_> = sends
        .iter()
        .map(|b| b["recipient_contact_detail"].as_str().unwrap().to_owned())
        .collect();
    for c in ["+447700900123", "+447700900124", "+447700900125"] {
        assert!(contacts.iter().any(|x| x == c), "{c} in {contacts:?}");
    }
    assert!(
        sends
            .iter()
            .any(|b| b["message_string"] == "Dear Ann, your review is due.")
    );
    assert!(
        sends
            .iter()
            .all(|b| !b["patient_id"].as_str().unwrap().starts_with("943"))
    );

    // The journal holds Hero's ids, never an NHS number, date of birth or name.
    // Whole values only: hashes, times and checksums are digits and hex, so
    // a fragment such as "943" turns up in them by chance.
    let stored = std::fs::read_to_string(&journal_path).unwrap();
    let mut private = vec![
        "1961-03-07".to_owned(),
        "07/03/1961".to_owned(),
        "Smith".to_owned(),
        "Ann".to_owned(),
        "7700900123".to_owned(),
    ];
    for n in [101, 102, 103] {
        private.push(nhs(n));
        private.push(nhs(n).replace(' ', ""));
    }
    for value in &private {
        assert!(!stored.contains(value.as_str()), "{value} in the journal");
    }

    // The report: the input's rows in order, three columns added, owner only.
    let text = std::fs::read_to_string(&report).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "NHS Number,Forenames,Surname,Date of Birth,Mobile Telephone,Email Address,outcome,message_id,reason"
    );
    let lines: Vec<&str> = lines.collect();
    assert_eq!(lines.len(), 8);
    assert!(lines[0].starts_with(&format!(
        "{},Ann,Smith,07/03/1961,07700 900 123,,sent,",
        nhs(101)
    )));
    assert!(lines[2].contains(",(07700) 900125,,sent,"), "{}", lines[2]);
    assert!(
        lines[5].contains(",verify_identity,,the patient must verify their identity at https://")
    );
    assert!(lines[4].contains(",patient_not_found,,"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&report).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The rerun: the same keys, nothing sent again, and no patient whose
    // message went is looked up again (rows 5 and 6 sent nothing: theirs are).
    drop(journal);
    let journal = Journal::open(&journal_path).unwrap();
    let again = run(&mock, &journal, &file, runner());
    let relooked: Vec<Value> = bodies(&mock, LOOKUP).split_off(lookups.len());
    let mut relooked: Vec<&str> = relooked
        .iter()
        .map(|b| b["nhs_number"].as_str().unwrap())
        .collect();
    relooked.sort_unstable(); // three rows at a time: in any order
    assert_eq!(
        relooked,
        [NOT_FOUND.replace(' ', ""), VERIFY.replace(' ', "")],
        "only the rows that sent nothing are looked up again"
    );
    let outcomes: Vec<_> = again.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        &outcomes[..4],
        [
            "already_sent",
            "already_sent",
            "already_sent",
            "duplicate_in_file"
        ]
    );
    for (a, b) in rows.iter().zip(&again) {
        assert_eq!(a.key, b.key, "row {}: the same key", a.row);
    }
    assert_eq!(bodies(&mock, SEND).len(), 3, "nothing new sent");

    // The keys come from a secret kept beside the journal, owner only;
    // without it the rows would get new keys, so the batch stops first.
    let secret = d.join("recall.journal.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::remove_file(&secret).unwrap();
    let before = mock.requests().len();
    let client = mock.client().build().unwrap();
    let Err(e) = runner().run(&client, Some(&journal), &file, |_, _| {}) else {
        panic!("a journal with records and no key file is refused");
    };
    assert!(e.to_string().contains("recall.journal.key"), "{e}");
    assert!(!e.to_string().contains(&nhs(101).replace(' ', "")), "{e}");
    assert_eq!(mock.requests().len(), before, "no lookup, no send");
}

/// A row by NHS number whose send may have gone is held back on the rerun
/// before its lookup: its patient is neither messaged nor looked up again.
#[test]
fn a_flagged_row_by_nhs_number_is_held_back_without_a_lookup() {
    let sends = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (s, l) = (sends.clone(), lookups.clone());
    let port = common::serve(move |mut stream, _| {
        use std::io::Write;
        use std::sync::atomic::Ordering;
        while let Some(req) = common::read_request(&mut stream) {
            let reply: &[u8] = if req.head().starts_with("POST /v1/patients/register_pds ") {
                l.fetch_add(1, Ordering::SeqCst);
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"patient_id\":\"4242\"}"
            } else {
                s.fetch_add(1, Ordering::SeqCst);
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}"
            };
            if stream.write_all(reply).is_err() {
                return;
            }
        }
    });
    let d = dir();
    let file = d.join("recall.csv");
    std::fs::write(
        &file,
        format!(
            "NHS Number,Forenames,Date of Birth,Mobile Telephone\n{},Ann,07/03/1961,07700900123\n",
            nhs(301)
        ),
    )
    .unwrap();
    let client = herohealth::Client::builder(
        herohealth::Target::Custom(format!("http://127.0.0.1:{port}")),
        common::KEY,
        common::GROUP,
    )
    .build()
    .unwrap();
    let journal = Journal::open(d.join("j")).unwrap();
    let outcome = |journal: &Journal| {
        let mut rows = Vec::new();
        runner()
            .run(&client, Some(journal), &file, |r, _| rows.push(r.clone()))
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0].outcome != RowOutcome::Invalid,
            "{:?}",
            rows[0].error
        );
        rows[0].outcome
    };
    assert_eq!(outcome(&journal), RowOutcome::MayHaveBeenSent);
    let counts = || {
        use std::sync::atomic::Ordering;
        (lookups.load(Ordering::SeqCst), sends.load(Ordering::SeqCst))
    };
    assert_eq!(
        counts(),
        (1, 1),
        "one lookup, one send, no retry after a 500"
    );
    assert_eq!(outcome(&journal), RowOutcome::NeedsReconciliation);
    assert_eq!(
        counts(),
        (1, 1),
        "the rerun sent nothing and looked nothing up"
    );
}

/// Salvage flags every row of the file that no surviving record names; a
/// row by NHS number has no body to record then (its patient id comes from
/// the lookup). Once someone checks in Hero and resolves it as not sent,
/// the rerun sends it, once; a row resolved as sent is already sent.
#[test]
fn a_salvaged_row_by_nhs_number_resolved_in_hero_is_sent_once_or_not_at_all() {
    let mock = Mock::start();
    let d = dir();
    let (a, b, c) = (nhs(501), nhs(502), nhs(503));
    let head = "key,NHS Number,Forenames,Date of Birth,Mobile Telephone\n";
    let one = d.join("one.csv");
    std::fs::write(&one, format!("{head},{a},Ann,07/03/1961,07700900123\n")).unwrap();
    let all = d.join("all.csv");
    std::fs::write(
        &all,
        format!(
            "{head},{a},Ann,07/03/1961,07700900123\n,{b},Bob,25/12/1955,07700900124\n\
             k-3,{c},Cat,01/02/1980,07700900125\n"
        ),
    )
    .unwrap();
    let client = mock.client().build().unwrap();
    let run = |journal: &Journal, file: &Path| {
        let mut rows = Vec::new();
        runner()
            .run(&client, Some(journal), file, |r, _| rows.push(r.clone()))
            .unwrap();
        rows.sort_by_key(|r| r.row);
        rows
    };
    let old = d.join("old.journal");
    assert_eq!(
        run(&Journal::open(&old).unwrap(), &one)[0].outcome,
        RowOutcome::Sent
    );

    let new = d.join("new.journal");
    runner().salvage(&client, &all, &old, &new).unwrap();
    let journal = Journal::open(&new).unwrap();
    let pending = journal.pending();
    assert_eq!(pending.len(), 2, "Bob's and Cat's rows are flagged");
    for p in &pending {
        let as_ = if p.key == "k-3" {
            Resolution::Sent
        } else {
            Resolution::NotSent
        };
        journal.resolve(&p.key, as_).unwrap();
    }
    for _ in 0..2 {
        let rows = run(&journal, &all);
        let outcomes: Vec<_> = rows.iter().map(|r| r.outcome).collect();
        assert!(outcomes[0] == RowOutcome::AlreadySent && outcomes[2] == RowOutcome::AlreadySent);
        assert!(
            matches!(outcomes[1], RowOutcome::Sent | RowOutcome::AlreadySent),
            "{:?}",
            rows[1].error
        );
    }
    let seen = sends_per_patient(&mock);
    assert_eq!(seen.len(), 2, "Ann and Bob, never Cat: {seen:?}");
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}

#[test]
fn rows_naming_the_patient_twice_or_not_at_all_are_invalid() {
    let mock = Mock::start();
    let d = dir();
    let file = d.join("ids.csv");
    std::fs::write(
        &file,
        format!(
            "patient_id,nhs_number,dob,forename,surname,postcode,send_at\n\
             4242,{a},07/03/1961,,,,\n\
             ,{a},,,,,\n\
             ,,01/01/1990,Ann,Smith,,\n\
             ,,,,Smith,,\n\
             4243,,,,,,2027-03-28 01:30\n\
             4244,,,,,,2027-10-31 01:30\n\
             4245,,,,,,2001-01-01 09:00\n\
             ,,07/03/1961,Ann,Smith,ls1 4ap,\n",
            a = nhs(101)
        ),
    )
    .unwrap();
    let client = mock.client().build().unwrap();
    let mut rows = Vec::new();
    BatchRunner::new()
        .default_value("message_type", "hero")
        .unwrap()
        .default_value("message_string", "Hello")
        .unwrap()
        .check(&client, &file, |r, _| rows.push(r.clone()))
        .unwrap();
    let got: Vec<(&str, String)> = rows
        .iter()
        .map(|r| (r.outcome.as_str(), r.error.clone().unwrap_or_default()))
        .collect();
    let expect = [
        ("invalid", "patient_id"),
        ("invalid", "dob"),
        ("invalid", "postcode"),
        ("invalid", "forename"),
        ("invalid", "does not exist"),
        ("invalid", "happens twice"),
        ("invalid", "in the past"),
        ("valid", ""),
    ];
    for (i, ((o, e), (want_o, want_e))) in got.iter().zip(expect).enumerate() {
        assert_eq!(*o, want_o, "row {}: {e}", i + 1);
        assert!(e.contains(want_e), "row {}: {e}", i + 1);
        // Whole values: a key's hex could hold a fragment by chance.
        let a = nhs(101);
        assert!(!e.contains(&a) && !e.contains(&a.replace(' ', "")), "{e}");
        assert!(
            !e.contains("07/03/1961") && !e.contains("01/01/1990"),
            "{e}"
        );
    }
    assert!(mock.requests().is_empty(), "checking sends nothing");
}

#[cfg(unix)]
fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[cfg(unix)]
const EXPORT_ARGS: [&str; 6] = [
    "--type",
    "sms",
    "--message",
    "Dear ((Forenames)), your review is due.",
    "--column",
    "recipient_contact_detail=Mobile Telephone",
];

// hero_send is built for the host, as in the other C program tests.
#[cfg(unix)]
#[test]
fn hero_send_checks_an_export_and_says_how_each_header_was_read() {
    let mock = Mock::start();
    let d = dir();
    let file = export(&d);
    let mut args = vec!["--batch", s(&file), "--check"];
    args.extend(EXPORT_ARGS);
    let out = hero_send(&mock, &args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    for line in [
        "column \"NHS Number\": nhs_number",
        "column \"Forenames\": forename",
        "column \"Date of Birth\": dob",
        "column \"Mobile Telephone\": recipient_contact_detail",
        "column \"Email Address\": placeholder ((Email Address)) only",
    ] {
        assert!(stderr.contains(line), "{line} in {stderr}");
    }
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(mock.requests().is_empty());

    // A mapping to a missing header, or two headers for one field: exit 2
    // before any request, naming both.
    let clash = d.join("clash.csv");
    std::fs::write(
        &clash,
        "patient_id,Mobile,Recipient Contact Detail\n1,07700900123,07700900124\n",
    )
    .unwrap();
    for (extra, names) in [
        (
            vec!["--column", "recipient_contact_detail=Mobile"],
            [
                "\"Mobile\" and \"Recipient Contact Detail\"",
                "recipient_contact_detail",
            ],
        ),
        (
            vec!["--column", "recipient_contact_detail=Phone"],
            ["\"Phone\"", "recipient_contact_detail"],
        ),
    ] {
        let j = d.join(format!("j{}", unique_hex()));
        let mut args = vec![
            "--batch",
            s(&clash),
            "--journal",
            s(&j),
            "--type",
            "sms",
            "--message",
            "Hi",
        ];
        args.extend(extra);
        let out = hero_send(&mock, &args).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        for n in names {
            assert!(stderr.contains(n), "{n} in {stderr}");
        }
        assert!(!stderr.contains("07700"), "{stderr}");
    }
    assert!(mock.requests().is_empty());
}

#[cfg(unix)]
fn wait_for_requests(mock: &Mock, path: &str, n: usize) {
    let started = Instant::now();
    while bodies(mock, path).len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the mock never saw {n} requests"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
fn spawn(mock: &Mock, file: &Path, journal: &Path, report: &Path) -> Child {
    let mut args = vec![
        "--batch",
        s(file),
        "--journal",
        s(journal),
        "--report",
        s(report),
        "--concurrency",
        "1",
        "--timeout",
        "120",
    ];
    args.extend(EXPORT_ARGS);
    hero_send(mock, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

// hero_send is built for the host, as in the other C program tests.
#[cfg(unix)]
#[test]
fn an_export_killed_mid_send_is_rerun_with_no_patient_messaged_twice() {
    let mock = Mock::start_with(&["--slow-seconds", "60"]);
    let d = dir();
    // Row 3 names the mock's slow id directly: its send hangs.
    let file = d.join("recall.csv");
    std::fs::write(
        &file,
        format!(
            "Patient ID,NHS Number,Forenames,Date of Birth,Mobile Telephone\n\
             ,{},Ann,07/03/1961,07700 900123\n\
             ,{},Bob,25/12/1955,+447700900124\n\
             999504,,Cat,,(07700) 900125\n\
             ,{},Dan,01/02/1980,07700900126\n\
             ,{},Eve,02/03/1981,07700900127\n",
            nhs(201),
            nhs(202),
            nhs(203),
            nhs(204)
        ),
    )
    .unwrap();
    let journal = d.join("j");
    let report = d.join("report.csv");
    let mut child = spawn(&mock, &file, &journal, &report);
    wait_for_requests(&mock, SEND, 3);
    child.kill().unwrap(); // SIGKILL: no chance to write anything more
    child.wait().unwrap();

    let out = spawn(&mock, &file, &journal, &report)
        .wait_with_output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut outcomes: Vec<(u64, String)> = stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["row"].as_u64().unwrap(),
                v["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    outcomes.sort();
    let outcomes: Vec<&str> = outcomes.iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "already_sent",
            "already_sent",
            "needs_reconciliation",
            "sent",
            "sent"
        ]
    );
    let seen = sends_per_patient(&mock);
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(
        seen.values().all(|n| *n == 1),
        "a patient was messaged twice: {seen:?}"
    );
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(
        text.lines()
            .nth(3)
            .unwrap()
            .contains(",needs_reconciliation,")
    );
}

// hero_send is built for the host, as in the other C program tests.
#[cfg(unix)]
#[test]
fn hero_send_takes_a_uk_local_send_time() {
    let mock = Mock::start();
    let out = hero_send(
        &mock,
        &[
            "--patient-id",
            "4242",
            "--type",
            "hero",
            "--message",
            "Hello",
            "--send-at",
            "29/06/2036 09:00",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        bodies(&mock, SEND)[0]["send_at"],
        "2036-06-29T09:00:00+01:00"
    );
    let out = hero_send(
        &mock,
        &[
            "--patient-id",
            "4242",
            "--type",
            "hero",
            "--message",
            "Hello",
            "--send-at",
            "2036-03-30 01:30",
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("send_at") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert_eq!(bodies(&mock, SEND).len(), 1);
}

/// An export with its own `Outcome` and `Message ID` columns keeps them; the
/// report's added columns are renamed `hero_outcome`, `hero_message_id`.
#[test]
fn report_columns_never_overwrite_the_exports_own() {
    let mock = Mock::start();
    let d = dir();
    let file = d.join("followup.csv");
    std::fs::write(
        &file,
        format!(
            "NHS Number,Date of Birth,Mobile Telephone,Outcome,Message ID\n\
             {},07/03/1961,07700 900 123,booked,M-1\n",
            nhs(201)
        ),
    )
    .unwrap();
    let report = d.join("followup-report.csv");
    let journal = Journal::open(d.join("followup.journal")).unwrap();
    let client = mock.client().build().unwrap();
    let summary = runner()
        .default_value("message_string", "Your review is due.")
        .unwrap()
        .report_csv(&report)
        .run(&client, Some(&journal), &file, |_, _| {})
        .unwrap();
    assert_eq!(summary.class(), BatchClass::Complete);
    let text = std::fs::read_to_string(&report).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "NHS Number,Date of Birth,Mobile Telephone,Outcome,Message ID,hero_outcome,hero_message_id,reason"
    );
    let row = lines.next().unwrap();
    assert!(row.contains(",booked,M-1,sent,"), "{row}");
}
