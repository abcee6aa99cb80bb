//! The journal's own tests: opening, recovery, group commit.

use super::commit::GROW_BYTES;
use super::*;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hero-journal-{}-{}-{}",
        name,
        std::process::id(),
        now_ms()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journal.jsonl")
}

fn attempt(key: &str, body: &str) -> String {
    serde_json::to_string(&Record::Attempt {
        key: key.into(),
        patient_id: "4242".into(),
        body_sha256: sha256_hex(body.as_bytes()),
        attempt: 1,
        at_ms: 1,
    })
    .unwrap()
}

fn outcome(key: &str, outcome: RecordOutcome) -> String {
    serde_json::to_string(&Record::Outcome {
        key: key.into(),
        outcome,
        http_status: None,
        message_id: Some("m-1".into()),
        at_ms: 2,
    })
    .unwrap()
}

/// The file's data: everything before the first zero byte.
fn data(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8(bytes[..end].to_vec()).unwrap()
}

pub(super) fn resolved(key: &str, pad: String) -> Record {
    Record::Resolved {
        key: format!("{key}{pad}"),
        resolution: Resolution::NotSent,
        at_ms: 7,
    }
}

/// The checked line `record` gets as record `seq`, written when `durable`
/// records were on disk.
fn checked(seq: u64, durable: u64, record: &impl Serialize) -> String {
    let mut out = Vec::new();
    record::encode(&mut out, seq, durable, record).unwrap();
    String::from_utf8(out).unwrap()
}

/// The JSON of each checked line of the file's data, checking that the
/// records are numbered 1, 2, 3...
fn jsons(path: &Path) -> Vec<String> {
    data(path)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut parts = l.splitn(3, ' ');
            assert_eq!(parts.next().unwrap(), (i + 1).to_string());
            parts.next().unwrap();
            let rest = parts.next().unwrap();
            rest[..rest.len() - 9].to_owned()
        })
        .collect()
}

fn json(record: &Record) -> String {
    serde_json::to_string(record).unwrap()
}

#[test]
fn records_written_by_a_send_read_back_as_journal_records() {
    let written = [
        SendRecord::Attempt {
            key: "k\"1",
            patient_id: "4242",
            body_sha256: "ab",
            attempt: 2,
            at_ms: 5,
        },
        SendRecord::Outcome {
            key: "k\"1",
            outcome: RecordOutcome::Sent,
            http_status: Some(200),
            message_id: Some("m-1"),
            at_ms: 6,
        },
    ];
    let owned = [
        Record::Attempt {
            key: "k\"1".into(),
            patient_id: "4242".into(),
            body_sha256: "ab".into(),
            attempt: 2,
            at_ms: 5,
        },
        Record::Outcome {
            key: "k\"1".into(),
            outcome: RecordOutcome::Sent,
            http_status: Some(200),
            message_id: Some("m-1".into()),
            at_ms: 6,
        },
    ];
    for (w, o) in written.iter().zip(&owned) {
        let line = serde_json::to_string(w).unwrap();
        assert_eq!(line, serde_json::to_string(o).unwrap());
        serde_json::from_str::<Record>(&line).unwrap();
    }
}

#[test]
fn a_zero_filled_tail_is_not_data_and_records_go_over_it() {
    let path = temp("zeros");
    let good = attempt("a", "A") + "\n" + &outcome("a", RecordOutcome::Sent) + "\n";
    let mut bytes = good.clone().into_bytes();
    bytes.resize(4096, 0);
    std::fs::write(&path, &bytes).unwrap();
    let j = Journal::open(&path).unwrap();
    assert!(j.pending().is_empty());
    assert_eq!(
        lock(&j.inner.keys)["a"].status,
        Status::Sent {
            message_id: Some("m-1".into())
        }
    );
    let next = resolved("b", String::new());
    j.append(&next, true).unwrap();
    // Written over the zeros, right after the last record: no growth.
    assert_eq!(data(&path), good.clone() + &checked(3, 2, &next));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
}

#[test]
fn a_torn_line_before_the_zeros_is_ignored_and_overwritten() {
    let path = temp("torn-zeros");
    let good = attempt("a", "A") + "\n";
    let mut bytes = format!("{good}{}", &attempt("b", "B")[..60]).into_bytes();
    bytes.resize(8192, 0);
    std::fs::write(&path, &bytes).unwrap();
    let j = Journal::open(&path).unwrap();
    let pending: Vec<String> = j.pending().into_iter().map(|p| p.key).collect();
    assert_eq!(pending, ["a"], "the torn attempt of b never happened");
    assert_eq!(data(&path), good);
    // A record shorter than the torn one leaves none of its remains.
    let next = resolved("c", String::new());
    j.append(&next, true).unwrap();
    drop(j);
    assert_eq!(data(&path), good.clone() + &checked(2, 1, &next));
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes[data(&path).len()..].iter().all(|b| *b == 0));
    Journal::open(&path).unwrap();
}

#[test]
fn remains_of_an_unfinished_write_past_a_hole_are_cleared() {
    // A power cut can leave a later page of an unfinished write on disk
    // while an earlier one is still zeros: records there were never
    // flushed (each says so), so they go, and never resurface.
    let path = temp("hole");
    let a = Record::Attempt {
        key: "a".into(),
        patient_id: "4242".into(),
        body_sha256: "00".into(),
        attempt: 1,
        at_ms: 1,
    };
    let z = Record::Attempt {
        key: "z".into(),
        patient_id: "4242".into(),
        body_sha256: "00".into(),
        attempt: 1,
        at_ms: 1,
    };
    let good = checked(1, 0, &a);
    let mut bytes = good.clone().into_bytes();
    bytes.resize(good.len() + 300, 0);
    // The end of record 3 and all of record 4, both written knowing only
    // record 1 on disk.
    bytes.extend_from_slice(format!("ail\n{}", checked(4, 1, &z)).as_bytes());
    bytes.resize(8192, 0);
    std::fs::write(&path, &bytes).unwrap();
    let j = Journal::open(&path).unwrap();
    let pending: Vec<String> = j.pending().into_iter().map(|p| p.key).collect();
    assert_eq!(pending, ["a"]);
    for i in 0..4 {
        j.append(&resolved("n", i.to_string()), true).unwrap();
    }
    drop(j);
    let j = Journal::open(&path).unwrap();
    let pending: Vec<String> = j.pending().into_iter().map(|p| p.key).collect();
    assert_eq!(pending, ["a"], "z never resurfaces");
    assert_eq!(jsons(&path).len(), 5);
}

#[test]
fn a_journal_without_checks_with_records_past_a_hole_is_damaged() {
    let path = temp("old-hole");
    let good = attempt("a", "A") + "\n";
    let mut bytes = good.clone().into_bytes();
    bytes.resize(good.len() + 300, 0);
    bytes.extend_from_slice(format!("ail\n{}\n", attempt("z", "Z")).as_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let e = Journal::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Journal);
    let text = e.to_string();
    assert!(
        text.contains(&format!("damaged at byte {}", good.len())),
        "{text}"
    );
    assert!(text.contains("cannot prove"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing changed");
    // Reading it still shows both attempts, flagged.
    let read = Journal::open_to_read(&path).unwrap();
    assert!(read.damage().unwrap().contains("damaged at byte"));
    let pending: Vec<String> = read.pending().into_iter().map(|p| p.key).collect();
    assert_eq!(pending, ["a", "z"]);
}

/// Six rows sent one after another, as a real writer leaves them.
fn six_sent(path: &Path) -> Vec<(usize, usize)> {
    let j = Journal::open(path).unwrap();
    for i in 0..6 {
        let key = format!("row-{i}");
        j.append(
            &SendRecord::Attempt {
                key: &key,
                patient_id: "4242",
                body_sha256: "00",
                attempt: 1,
                at_ms: 10 + i,
            },
            true,
        )
        .unwrap();
        j.append(
            &SendRecord::Outcome {
                key: &key,
                outcome: RecordOutcome::Sent,
                http_status: Some(200),
                message_id: Some("m"),
                at_ms: 10 + i,
            },
            false,
        )
        .unwrap();
    }
    drop(j);
    // Each line's (start, end) in the file.
    let text = data(path);
    let mut at = 0;
    text.lines()
        .map(|l| {
            let span = (at, at + l.len() + 1);
            at = span.1;
            span
        })
        .collect()
}

#[test]
fn zeros_over_a_flushed_record_refuse_to_open_and_salvage_flags_nothing_sent_twice() {
    let path = temp("zeroed");
    let lines = six_sent(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    let (from, to) = lines[3];
    bytes[from..to].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let e = Journal::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Journal);
    let text = e.to_string();
    assert!(
        text.contains(&format!("damaged at byte {from}: zero bytes")),
        "{text}"
    );
    assert!(text.contains("flushed before"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing erased");
    // Row 1's outcome was lost: flagged, as are the rest not proven sent.
    let read = Journal::open_to_read(&path).unwrap();
    let pending: Vec<String> = read.pending().into_iter().map(|p| p.key).collect();
    assert_eq!(pending, ["row-1"]);
    drop(read);
    let new = path.with_extension("salvaged");
    let report = Journal::salvage(&path, &new).unwrap();
    assert_eq!((report.flagged, report.sent), (1, 5));
    assert_eq!(report.window_ms, (Some(11), Some(12)));
    assert!(report.damage.unwrap().contains("zero bytes"));
    let salvaged = Journal::open(&new).unwrap();
    let pending: Vec<String> = salvaged.pending().into_iter().map(|p| p.key).collect();
    assert_eq!(pending, ["row-1"]);
    let keys = lock(&salvaged.inner.keys);
    for i in [0, 2, 3, 4, 5] {
        assert!(matches!(
            keys[&format!("row-{i}")].status,
            Status::Sent { .. }
        ));
    }
    drop(keys);
    drop(salvaged);
    // Never over an existing file.
    let e = Journal::salvage(&path, &new).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Journal);
}

#[test]
fn a_record_changed_in_place_refuses_to_open() {
    let path = temp("changed");
    let lines = six_sent(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    // One character of row-5's key, in both its records: still valid JSON.
    for (from, to) in &lines[10..12] {
        let at = from + data(&path)[*from..*to].find("row-5").unwrap() + 4;
        bytes[at] = b'9';
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = Journal::open(&path).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "damaged at byte {}: record 11 fails its check",
            lines[10].0
        )),
        "{text}"
    );
}

#[test]
fn a_sequence_gap_refuses_to_open() {
    let path = temp("gap");
    let lines = six_sent(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    // Record 5 cut out whole: every line left is intact.
    bytes.drain(lines[4].0..lines[4].1);
    std::fs::write(&path, &bytes).unwrap();
    let text = Journal::open(&path).unwrap_err().to_string();
    assert!(
        text.contains("record number 6 where record 5 should be"),
        "{text}"
    );
}

#[test]
fn reopening_appends_after_the_last_complete_record() {
    let path = temp("reopen");
    let first: Vec<Record> = (0..3).map(|i| resolved("r", i.to_string())).collect();
    let j = Journal::open(&path).unwrap();
    for r in &first {
        j.append(r, true).unwrap();
    }
    drop(j);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), GROW_BYTES);
    let j = Journal::open(&path).unwrap();
    let more = resolved("r", "3".into());
    j.append(&more, false).unwrap();
    drop(j);
    let expected: Vec<String> = first.iter().chain([&more]).map(json).collect();
    assert_eq!(jsons(&path), expected);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), GROW_BYTES);
}

#[test]
fn the_file_grows_across_a_chunk_boundary_in_whole_chunks() {
    let path = temp("grow");
    let j = Journal::open(&path).unwrap();
    let pad = "p".repeat(150);
    // Enough records of about 200 bytes to pass the first chunk.
    let n = (GROW_BYTES as usize / 190) + 50;
    for i in 0..n {
        j.append(&resolved(&i.to_string(), pad.clone()), i % 100 == 0)
            .unwrap();
    }
    drop(j);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, 2 * GROW_BYTES);
    let text = data(&path);
    assert!(
        text.len() as u64 > GROW_BYTES,
        "the data crossed the boundary"
    );
    assert!(bytes[text.len()..].iter().all(|b| *b == 0));
    let lines = jsons(&path);
    assert_eq!(lines.len(), n);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, json(&resolved(&i.to_string(), pad.clone())));
    }
    // And the next run carries on after the last record.
    let j = Journal::open(&path).unwrap();
    j.append(&resolved("last", String::new()), true).unwrap();
    drop(j);
    assert_eq!(data(&path).lines().count(), n + 1);
}

#[test]
fn every_durable_writer_returns_with_its_record_written() {
    let path = temp("rounds");
    let j = Journal::open(&path).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let j = j.clone();
            s.spawn(move || {
                for i in 0..60 {
                    let r = resolved(&format!("t{t}-"), i.to_string());
                    j.append(&r, true).unwrap();
                    let (written, durable) = j.inner.writer.progress();
                    assert!(durable >= 1 && written >= durable);
                }
            });
        }
    });
    assert_eq!(
        data(&path).lines().count(),
        480,
        "all on disk before closing"
    );
}

#[test]
fn replay_flags_unanswered_and_ambiguous_keys_only() {
    let path = temp("replay");
    let lines = [
        attempt("a", "A"),
        outcome("a", RecordOutcome::Sent),
        attempt("b", "B"),
        attempt("c", "C"),
        outcome("c", RecordOutcome::MayHaveBeenSent),
        attempt("d", "D"),
        outcome("d", RecordOutcome::Refused),
        attempt("e", "E"),
        outcome("e", RecordOutcome::AcceptedIdUnknown),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let j = Journal::open(&path).unwrap();
    let pending: Vec<(String, &str)> = j.pending().into_iter().map(|p| (p.key, p.reason)).collect();
    assert_eq!(
        pending,
        vec![
            ("b".to_owned(), "no_outcome"),
            ("c".to_owned(), "may_have_been_sent")
        ]
    );
    let keys = lock(&j.inner.keys);
    assert_eq!(
        keys["a"].status,
        Status::Sent {
            message_id: Some("m-1".into())
        }
    );
    assert_eq!(keys["d"].status, Status::Open);
    assert_eq!(keys["e"].status, Status::Sent { message_id: None });
}

#[test]
fn a_torn_last_line_is_cleared_and_appends_stay_whole() {
    let path = temp("torn");
    let good = attempt("a", "A") + "\n" + &outcome("a", RecordOutcome::Sent) + "\n";
    let torn = &attempt("b", "B")[..20];
    std::fs::write(&path, format!("{good}{torn}")).unwrap();
    let j = Journal::open(&path).unwrap();
    assert!(j.pending().is_empty(), "the torn attempt never happened");
    assert_eq!(data(&path), good);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes[good.len()..].iter().all(|b| *b == 0),
        "torn bytes zeroed"
    );
    j.resolve("a", Resolution::Sent).unwrap_err();
    drop(j);
    // A torn line in the middle is not a crash artefact: refuse to guess.
    std::fs::write(&path, format!("{torn}\n{good}")).unwrap();
    let e = Journal::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Journal);
    assert!(e.to_string().contains("damaged at byte 0"), "{e}");
}

#[test]
fn one_holder_at_a_time() {
    let path = temp("lock");
    let first = Journal::open(&path).unwrap();
    let e = Journal::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Journal);
    assert!(e.to_string().contains("in use"), "{e}");
    drop(first);
    Journal::open(&path).unwrap();
}

#[cfg(unix)]
#[test]
fn created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let path = temp("mode");
    let j = Journal::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Growing in zeros keeps the mode.
    j.append(&resolved("k", "x".repeat(100)), true).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), GROW_BYTES);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn concurrent_appends_all_reach_the_file_whole() {
    let path = temp("group");
    let j = Journal::open(&path).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let j = j.clone();
            s.spawn(move || {
                for i in 0..25 {
                    j.append(
                        &Record::Resolved {
                            key: format!("k{t}-{i}"),
                            resolution: Resolution::NotSent,
                            at_ms: 0,
                        },
                        i % 3 == 0,
                    )
                    .unwrap();
                }
            });
        }
    });
    // Closing writes whatever a flush in progress left queued.
    drop(j);
    let text = data(&path);
    assert_eq!(text.lines().count(), 200);
    for line in text.lines() {
        assert!(matches!(
            record::parse_line(line.as_bytes()),
            record::Line::Checked { .. }
        ));
    }
}

#[test]
fn resolving_settles_only_flagged_keys() {
    let path = temp("resolve");
    std::fs::write(
        &path,
        [attempt("b", "B"), attempt("c", "C")].join("\n") + "\n",
    )
    .unwrap();
    let j = Journal::open(&path).unwrap();
    assert_eq!(
        j.resolve("zz", Resolution::Sent).unwrap_err().field(),
        Some("key")
    );
    j.resolve("b", Resolution::Sent).unwrap();
    j.resolve("c", Resolution::NotSent).unwrap();
    assert!(j.pending().is_empty());
    drop(j);
    let j = Journal::open(&path).unwrap();
    assert!(j.pending().is_empty(), "resolutions survive a reopen");
    let keys = lock(&j.inner.keys);
    assert_eq!(keys["b"].status, Status::Sent { message_id: None });
    assert_eq!(keys["c"].status, Status::Open);
}

#[test]
fn an_unfinished_record_of_which_only_its_json_landed_is_cleared() {
    // A record's sectors land or not one by one in a power cut: its JSON
    // can fill a sector that landed while the sectors holding its numbers
    // and its check did not. Those are zeros, not damage.
    const SECTOR: usize = 512;
    let path = temp("json-only");
    let z = |pad: usize| Record::Resolved {
        key: format!("z{}", "-".repeat(pad)),
        resolution: Resolution::Sent,
        at_ms: 1,
    };
    let pad = SECTOR - json(&z(0)).len();
    let (z, z_json) = (z(pad), json(&z(pad)));
    assert_eq!(z_json.len(), SECTOR);
    let prefix = checked(2, 1, &z).find(&z_json).unwrap();
    // Record 1 ends where record 2's JSON starts a sector.
    let a = |pad: usize| Record::Attempt {
        key: format!("a{}", "-".repeat(pad)),
        patient_id: "4242".into(),
        body_sha256: "00".into(),
        attempt: 1,
        at_ms: 1,
    };
    let pad = SECTOR - prefix - checked(1, 0, &a(0)).len();
    let (a, a_key) = (a(pad), format!("a{}", "-".repeat(pad)));
    let good = checked(1, 0, &a);
    assert_eq!(good.len() + prefix, SECTOR);
    let mut bytes = good.into_bytes();
    bytes.resize(SECTOR, 0);
    bytes.extend_from_slice(z_json.as_bytes());
    bytes.resize(8192, 0);
    std::fs::write(&path, &bytes).unwrap();
    let j = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let pending: Vec<String> = j.pending().into_iter().map(|p| p.key).collect();
    assert_eq!(
        pending,
        [a_key],
        "the unfinished resolution is not believed"
    );
}

#[test]
fn salvage_given_the_rows_flags_every_row_no_readable_record_names() {
    let path = temp("rows-lost");
    let lines = six_sent(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    // Row 2's attempt and outcome: nothing readable names it.
    bytes[lines[4].0..lines[5].1].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let rows = path.with_extension("csv");
    let mut csv = String::from("key,patient_id,message_type,message_string\n");
    // Rows 0 to 5 as sent, and row 9, never attempted.
    for i in [0, 1, 2, 3, 4, 5, 9] {
        csv.push_str(&format!("row-{i},{},hero,Recall {i}\n", 4000 + i));
    }
    std::fs::write(&rows, csv).unwrap();
    let client = crate::Client::builder(
        crate::Target::Custom("http://127.0.0.1:9".into()),
        "key",
        "group",
    )
    .build()
    .unwrap();
    let new = path.with_extension("salvaged");
    let alone = Journal::salvage(&path, &new).unwrap();
    assert_eq!(alone.unnamed_rows, None);
    assert_eq!((alone.flagged, alone.sent), (0, 5));
    std::fs::remove_file(&new).unwrap();
    let report = crate::BatchRunner::new()
        .salvage(&client, &rows, &path, &new)
        .unwrap();
    assert_eq!(report.unnamed_rows, Some(2));
    assert_eq!((report.flagged, report.sent), (2, 5));
    let salvaged = Journal::open(&new).unwrap();
    let mut pending: Vec<(String, String)> = salvaged
        .pending()
        .into_iter()
        .map(|p| (p.key, p.patient_id))
        .collect();
    pending.sort();
    assert_eq!(
        pending,
        [
            ("row-2".to_owned(), "4002".to_owned()),
            ("row-9".to_owned(), "4009".to_owned())
        ]
    );
}
