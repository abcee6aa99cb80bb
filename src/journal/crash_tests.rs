//! Power cuts, simulated in the style of SQLite's crash tests: a real
//! multi-threaded batch runs against a loopback HTTP server with its
//! journal on a layer that records every write and flush. Then every cut
//! point is replayed as a power cut would leave the disk, and each image is
//! read back the way opening reads it.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::commit::{Disk, Writer};
use super::record::encode;
use super::recover::recover;
use super::state::{Keys, Status};
use super::*;

/// The disk's granularity for what survives a cut: a sector is written
/// whole or not at all.
const SECTOR: usize = 512;

#[derive(Clone)]
enum Op {
    Write { at: u64, bytes: Vec<u8> },
    Sync,
}

/// Every write and flush, in the order the disk saw them.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<Vec<Op>>>);

impl Disk for Recording {
    fn write_at(&self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
        // The zeros a growth writes land on zeros (past the old end of the
        // file): leaving them out changes no image, and keeps them small.
        let data = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        lock(&self.0).push(Op::Write {
            at,
            bytes: bytes[..data].to_vec(),
        });
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        lock(&self.0).push(Op::Sync);
        Ok(())
    }
}

/// Each request the server got: the patient, and how many disk operations
/// had happened by then.
type Seen = Arc<Mutex<Vec<(String, usize)>>>;

/// A loopback Hero that accepts every message, noting which patient each
/// request was for and how many disk operations had happened by then.
fn server(ops: Recording) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (ops, log) = (ops.clone(), Arc::clone(&log));
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let headers = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
                    let len: usize = headers
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < head + 4 + len {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: serde_json::Value =
                        serde_json::from_slice(&buf[head + 4..head + 4 + len]).unwrap();
                    let patient = body["patient_id"].as_str().unwrap().to_owned();
                    // Counted as the request arrives: a cut after this point
                    // comes after the request left.
                    let at = lock(&ops.0).len();
                    lock(&log).push((patient.clone(), at));
                    let reply = format!("{{\"message_id\":\"m-{patient}\"}}");
                    let _ = stream.write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\n\r\n{reply}",
                            reply.len()
                        )
                        .as_bytes(),
                    );
                    buf.drain(..head + 4 + len);
                }
            });
        }
    });
    (url, seen)
}

/// The disk after a cut: `writes` applied over zeros, without the zeros
/// past the last data (they change nothing a reader sees).
fn image(writes: &[(u64, &[u8])]) -> Vec<u8> {
    let mut disk = Vec::new();
    for (at, bytes) in writes {
        let end = *at as usize + bytes.len();
        if disk.len() < end {
            disk.resize(end, 0);
        }
        disk[*at as usize..end].copy_from_slice(bytes);
    }
    let data = disk.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    disk.truncate(data);
    disk
}

/// A tiny seeded generator: the same cuts every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs a batch of `rows` rows at `concurrency` threads; returns every disk
/// operation and each request the server got.
fn run_batch(rows: usize, concurrency: usize) -> (Vec<Op>, Vec<(String, usize)>) {
    let ops = Recording::default();
    let (url, seen) = server(ops.clone());
    let dir = std::env::temp_dir().join(format!(
        "hero-journal-crash-{}-{}-{rows}-{concurrency}",
        std::process::id(),
        now_ms()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rows.csv");
    let mut csv = String::from("key,patient_id,message_type,message_string\n");
    for i in 0..rows {
        csv.push_str(&format!("row-{i},{},hero,Hello {i}\n", 1000 + i));
    }
    std::fs::write(&file, csv).unwrap();
    let path = dir.join("journal");
    let journal = Journal::from_parts(
        path.clone(),
        Writer::new(path, Box::new(ops.clone()), 0, 0, 0),
        Keys::new(),
        None,
    );
    let client = Client::builder(crate::Target::Custom(url), "crash-key", "crash-group")
        .build()
        .unwrap();
    let summary = crate::BatchRunner::new()
        .concurrency(concurrency)
        .run(&client, Some(&journal), &file, |r, _| {
            assert!(r.error.is_none(), "{:?}", r.error)
        })
        .unwrap();
    assert_eq!(summary.count(crate::RowOutcome::Sent), rows);
    drop(journal);
    let ops = lock(&ops.0).clone();
    let seen = lock(&seen).clone();
    (ops, seen)
}

/// Checks one disk image left by a cut after `cut` operations.
fn check_cut(disk: &[u8], cut: usize, seen: &[(String, usize)], false_alarms: &mut usize) {
    let found = recover(disk).unwrap_or_else(|d| {
        panic!("a power cut after op {cut} left a journal that will not open: {d:?}")
    });
    let sent_before: HashSet<&str> = seen
        .iter()
        .filter(|(_, at)| *at <= cut)
        .map(|(p, _)| p.as_str())
        .collect();
    let sent_ever: HashSet<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    for patient in &sent_before {
        let key = format!("row-{}", patient.parse::<usize>().unwrap() - 1000);
        let state = found.keys.get(&key).unwrap_or_else(|| {
            panic!("cut after op {cut}: {key} was sent but the journal forgot it")
        });
        assert!(
            matches!(state.status, Status::Sent { .. }) || state.status.flagged(),
            "cut after op {cut}: {key} was sent but reads {:?}",
            state.status
        );
    }
    for (key, state) in &found.keys {
        let patient = (key[4..].parse::<usize>().unwrap() + 1000).to_string();
        match &state.status {
            Status::Sent { .. } => assert!(
                sent_ever.contains(patient.as_str()),
                "cut after op {cut}: {key} reads sent but never reached the server"
            ),
            s if s.flagged() => {
                if !sent_before.contains(patient.as_str()) {
                    *false_alarms += 1;
                }
            }
            s => panic!("cut after op {cut}: {key} reads {s:?}"),
        }
    }
    // Opening clears the tail; the next record then reads back after the
    // ones kept.
    let mut tidied = disk[..found.end].to_vec();
    let next = Record::Resolved {
        key: "after".into(),
        resolution: Resolution::NotSent,
        at_ms: 0,
    };
    encode(&mut tidied, found.last_seq + 1, found.last_seq, &next).unwrap();
    let again = recover(&tidied).unwrap();
    assert_eq!(again.last_seq, found.last_seq + 1);
}

#[test]
fn no_power_cut_of_a_multi_threaded_batch_forgets_a_send_or_refuses_to_open() {
    let mut cuts = 0;
    let mut false_alarms = 0;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (rows, concurrency) in [(40, 8), (30, 4), (12, 1)] {
        let (ops, seen) = run_batch(rows, concurrency);
        assert_eq!(seen.len(), rows, "each row reached the server once");
        for cut in 0..=ops.len() {
            let done = &ops[..cut];
            let last_sync = done.iter().rposition(|o| matches!(o, Op::Sync));
            let writes = |from: usize, to: usize| -> Vec<(u64, &[u8])> {
                done[from..to]
                    .iter()
                    .filter_map(|o| match o {
                        Op::Write { at, bytes } => Some((*at, bytes.as_slice())),
                        Op::Sync => None,
                    })
                    .collect()
            };
            let durable = writes(0, last_sync.map_or(0, |s| s + 1));
            let unsynced = writes(last_sync.map_or(0, |s| s + 1), cut);
            // Unflushed writes dropped, kept whole, and kept sector by
            // sector in random subsets (in any order: each sector lands or
            // does not, whatever came before it).
            let mut variants = vec![durable.clone(), [&durable[..], &unsynced[..]].concat()];
            if !unsynced.is_empty() {
                for _ in 0..4 {
                    let mut kept = durable.clone();
                    for (at, bytes) in &unsynced {
                        for (i, sector) in bytes.chunks(SECTOR).enumerate() {
                            if rng.next() & 1 == 0 {
                                kept.push((at + (i * SECTOR) as u64, sector));
                            }
                        }
                    }
                    variants.push(kept);
                }
            }
            for writes in variants {
                check_cut(&image(&writes), cut, &seen, &mut false_alarms);
                cuts += 1;
            }
        }
    }
    assert!(cuts >= 300, "only {cuts} cuts");
    // Flagged keys whose request never left are the price of flushing
    // before sending: some, but never all of them sent.
    eprintln!("{cuts} cut images checked, {false_alarms} flagged keys whose request never left");
}
