//! The send journal: an append-only file that makes a keyed send
//! exactly-once-or-flagged across crashes and reruns.
//!
//! Hero has no idempotency key, so the journal is the memory a rerun needs.
//! Before each HTTP attempt of a keyed send an *attempt* record is written
//! and flushed to disk; after it, an *outcome* record. On the next open, a
//! key whose last attempt has no outcome (the process died) or whose
//! outcome was *may have been sent* is held back until someone resolves it.
//!
//! Records are JSON lines holding the key, the patient id, a SHA-256 of the
//! request body, times, the outcome, the HTTP status and Hero's message id:
//! never the message text or contact details.
//!
//! The file grows [`GROW_BYTES`] at a time in zero bytes, and records are
//! written over those zeros (still one after another, so it reads as an
//! append-only log): a flush to disk then carries only the record, not a
//! new file size too (on ext4 an `fdatasync` after an append took about 1.4
//! times as long as after an overwrite, and more processor time). The data
//! ends at the first zero byte; a record, being JSON, never holds one.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::client::{AttemptHook, Client};
use crate::error::{Error, ErrorKind};
use crate::outcome::Outcome;
use crate::request::SendMessage;
use crate::response::MessageResponse;

/// Longest key accepted, in bytes: keys are identifiers, not documents.
const KEY_MAX: usize = 200;

/// The journal file grows by this many zero bytes at a time (the last
/// growth is rounded to a multiple of it): thousands of records, so a flush
/// that also commits a new file size is rare.
const GROW_BYTES: u64 = 1 << 20;

/// An open send journal. Cheap to clone; clones and threads share one file
/// and one lock, and concurrent sends share each flush to disk (group
/// commit). Only one process may hold a journal at a time.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    file: File,
    log: Mutex<Log>,
    /// Waiters on round `n` sleep on `rounds_done[n % 2]`, so the end of a
    /// round wakes only the threads it carried, not those queued behind it.
    rounds_done: [Condvar; 2],
    keys: Mutex<HashMap<String, KeyState>>,
}

/// Records waiting for the disk, and how far the disk has got.
#[derive(Default)]
struct Log {
    pending: Vec<u8>,
    appended: u64,
    /// Records handed to the operating system.
    written: u64,
    /// Records on disk.
    durable: u64,
    /// The last record someone waits to see on disk.
    want_durable: u64,
    /// The last record taken by a round (written, or being written).
    taken: u64,
    /// Rounds started so far; round `rounds` is the latest.
    rounds: u64,
    /// Where the next round writes: the end of the data. The file's cursor
    /// stays here between rounds.
    end_of_data: u64,
    /// The file's length; the bytes from `end_of_data` on are zeros.
    file_len: u64,
    flushing: bool,
    /// Threads asleep on `rounds_done[0]` and `[1]` (counted up to their
    /// waking, so never too few).
    sleepers: [u32; 2],
    /// A write or flush failed: nothing more is written, so no send starts.
    broken: bool,
}

#[derive(Clone, Debug)]
struct KeyState {
    body_sha256: String,
    patient_id: String,
    attempted_at_ms: u64,
    http_status: Option<u16>,
    status: Status,
}

#[derive(Clone, Debug, PartialEq)]
enum Status {
    /// Never sent, or ended not sent / refused, or resolved as not sent.
    Open,
    /// A thread of this process is sending it now.
    InFlight,
    /// Accepted by Hero (message id unknown after an unreadable 2xx or a
    /// resolution).
    Sent { message_id: Option<String> },
    /// The last attempt has no outcome: the process stopped mid-send.
    NoOutcome,
    /// The last attempt ended *may have been sent*.
    MayHaveBeenSent,
}

/// One line of the journal file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Record {
    Attempt {
        key: String,
        patient_id: String,
        body_sha256: String,
        attempt: u32,
        at_ms: u64,
    },
    Outcome {
        key: String,
        outcome: RecordOutcome,
        http_status: Option<u16>,
        message_id: Option<String>,
        at_ms: u64,
    },
    Resolved {
        key: String,
        resolution: Resolution,
        at_ms: u64,
    },
}

/// The records a send writes, borrowing what they hold: the same JSON as
/// [`Record`], without copying the key, patient id and hash for each one.
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum SendRecord<'a> {
    Attempt {
        key: &'a str,
        patient_id: &'a str,
        body_sha256: &'a str,
        attempt: u32,
        at_ms: u64,
    },
    Outcome {
        key: &'a str,
        outcome: RecordOutcome,
        http_status: Option<u16>,
        message_id: Option<&'a str>,
        at_ms: u64,
    },
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "snake_case")]
enum RecordOutcome {
    Sent,
    NotSent,
    Refused,
    MayHaveBeenSent,
    AcceptedIdUnknown,
}

/// How a flagged key was settled after checking in Hero.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Hero has the message: the key is never sent again.
    Sent,
    /// Hero does not have it: the key may be sent again.
    NotSent,
}

impl Resolution {
    /// Parses `"sent"` or `"not-sent"` (also `"not_sent"`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sent" => Some(Resolution::Sent),
            "not-sent" | "not_sent" => Some(Resolution::NotSent),
            _ => None,
        }
    }
}

/// What a keyed send did.
#[derive(Debug)]
pub enum Keyed {
    /// Sent now; Hero's reply.
    Sent(Box<MessageResponse>),
    /// The journal shows this key accepted before: nothing was sent now.
    AlreadySent {
        /// Hero's message id, when it was known.
        message_id: Option<String>,
    },
}

/// A key held back until someone checks in Hero and resolves it.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingKey {
    /// The send's key.
    pub key: String,
    /// Hero's patient id, to look the message up in Hero.
    pub patient_id: String,
    /// When the last attempt started, in milliseconds since 1970 (UTC).
    pub attempted_at_ms: u64,
    /// `"no_outcome"` (the process stopped mid-send) or `"may_have_been_sent"`.
    pub reason: &'static str,
    /// The HTTP status of the last answer, when there was one.
    pub http_status: Option<u16>,
}

impl PendingKey {
    /// One JSON object: `key`, `patient_id`, `attempted_at` (RFC 3339),
    /// `reason`, `http_status`.
    pub fn to_json(&self) -> String {
        // A struct, not a map, so the keys keep this documented order.
        #[derive(Serialize)]
        struct Line<'a> {
            key: &'a str,
            patient_id: &'a str,
            attempted_at: String,
            reason: &'a str,
            http_status: Option<u16>,
        }
        serde_json::to_string(&Line {
            key: &self.key,
            patient_id: &self.patient_id,
            attempted_at: crate::checks::format_rfc3339_utc(self.attempted_at_ms / 1000),
            reason: self.reason,
            http_status: self.http_status,
        })
        .unwrap_or_default()
    }
}

/// Hides the patient id.
impl fmt::Debug for PendingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingKey")
            .field("key", &self.key)
            .field("patient_id", &"<redacted>")
            .field("attempted_at_ms", &self.attempted_at_ms)
            .field("reason", &self.reason)
            .field("http_status", &self.http_status)
            .finish()
    }
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn journal_error(path: &Path, what: impl fmt::Display) -> Error {
    Error::new(
        Outcome::NotSent,
        ErrorKind::Journal,
        format!("journal {}: {what}", path.display()),
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // State stays consistent across a panic in another thread: every
    // update is a single assignment.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    // By table, not `format!` per byte: this runs for every row of a batch.
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        hex.push(DIGITS[usize::from(b >> 4)] as char);
        hex.push(DIGITS[usize::from(b & 15)] as char);
    }
    hex
}

/// The key of a request body, for sends without a key of their own: the
/// same body always gets the same key, so a rerun finds what went.
pub(crate) fn key_for_body(body: &[u8]) -> String {
    format!("auto-{}", &sha256_hex(body)[..32])
}

/// A caller's key: non-empty, at most 200 bytes, no control characters.
pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::invalid("key", "must not be empty"));
    }
    if key.len() > KEY_MAX {
        return Err(Error::invalid("key", "must be at most 200 bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::invalid("key", "must not contain control characters"));
    }
    Ok(())
}

impl Journal {
    /// Opens (or creates, readable by its owner only on unix) the journal at
    /// `path` and takes its lock. A second opener, in this process or
    /// another, gets an error of kind [`ErrorKind::Journal`] until this
    /// journal and its clones are dropped. The data ends at the first zero
    /// byte (the file grows in zeros). A torn last line, left by a crash in
    /// mid-write, is cleared to zeros; any other unreadable line is an
    /// error.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, Error> {
        let path = path.as_ref().to_path_buf();
        let existed = path.exists();
        let mut options = OpenOptions::new();
        // Not append: records are written over the zeros the file grew by.
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Patient ids live here: owner only.
            options.mode(0o600);
        }
        // Windows has no mode bits: the file inherits its folder's ACL.
        let mut file = options
            .open(&path)
            .map_err(|e| journal_error(&path, format_args!("cannot open: {}", e.kind())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(journal_error(
                    &path,
                    "in use by another sender (one process at a time)",
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(journal_error(
                    &path,
                    format_args!("cannot lock: {}", e.kind()),
                ));
            }
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| journal_error(&path, format_args!("cannot read: {}", e.kind())))?;
        // The data ends at the first zero byte (the rest of the last growth).
        let data_end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
        let complete = text[..data_end]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let clear = complete
            + text[complete..]
                .iter()
                .rposition(|b| *b != 0)
                .map_or(0, |i| i + 1);
        // A crash mid-write: that record never finished, so its send never
        // started (attempt) or stays flagged (outcome). Zero it (and any
        // later bytes of the same unfinished write), so new records never
        // run into its remains.
        let mut tidy = || -> std::io::Result<()> {
            if clear > complete {
                file.seek(SeekFrom::Start(complete as u64))?;
                file.write_all(&vec![0; clear - complete])?;
                file.sync_data()?;
            }
            file.seek(SeekFrom::Start(complete as u64)).map(|_| ())
        };
        tidy().map_err(|e| {
            journal_error(
                &path,
                format_args!("cannot clear a torn line: {}", e.kind()),
            )
        })?;
        let mut keys = HashMap::new();
        for (n, line) in text[..complete].split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record: Record = serde_json::from_slice(line).map_err(|_| {
                journal_error(
                    &path,
                    format_args!("line {} is not a journal record", n + 1),
                )
            })?;
            apply(&mut keys, record);
        }
        #[cfg(unix)]
        if !existed {
            // The new file's name must survive a crash too.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
        }
        #[cfg(not(unix))]
        let _ = existed;
        Ok(Journal {
            inner: Arc::new(Shared {
                path,
                file,
                log: Mutex::new(Log {
                    end_of_data: complete as u64,
                    file_len: text.len() as u64,
                    ..Log::default()
                }),
                rounds_done: [Condvar::new(), Condvar::new()],
                keys: Mutex::new(keys),
            }),
        })
    }

    /// [`open`](Self::open) for reading back a journal that must already
    /// exist (listing flagged keys, resolving one): a mistyped path is an
    /// error of kind [`ErrorKind::Journal`], not an empty journal that
    /// seems to say nothing is flagged. Nothing is created.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Journal, Error> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(journal_error(
                path,
                "no journal here (check the path); nothing was created",
            ));
        }
        Self::open(path)
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The key a message gets when the caller has none: derived from the
    /// exact request body, so an identical message always gets the same key.
    pub fn derived_key(message: &SendMessage) -> String {
        key_for_body(message.to_json().as_bytes())
    }

    /// Sends `message` through `client` at most once per `key`.
    ///
    /// - A key the journal shows accepted is not sent again:
    ///   [`Keyed::AlreadySent`].
    /// - A key whose last attempt has no outcome, or ended *may have been
    ///   sent*, is not sent: an error of kind
    ///   [`ErrorKind::NeedsReconciliation`] until [`resolve`](Self::resolve).
    /// - A key used before for a different request body is refused
    ///   (kind [`ErrorKind::InvalidInput`], field `key`), unless the key
    ///   is flagged: then it needs reconciliation, as above.
    /// - Otherwise the message is sent, each HTTP attempt recorded durably
    ///   before it starts and its outcome after.
    pub fn send(&self, client: &Client, key: &str, message: &SendMessage) -> Result<Keyed, Error> {
        check_key(key)?;
        // The deadline covers checking, serialising and the journal too.
        let deadline = client.deadline_from_now();
        let body = client.body(message)?;
        let body_sha256 = sha256_hex(&body);
        self.send_body(
            client,
            key,
            &message.patient_id,
            (&body, body_sha256),
            deadline,
            None,
        )
    }

    /// [`send`](Self::send) of a checked body and its [`sha256_hex`]
    /// (hashed once by the caller, who may need it too). Once `stop` is
    /// set, no further HTTP attempt starts (a stopped batch).
    pub(crate) fn send_body(
        &self,
        client: &Client,
        key: &str,
        patient_id: &str,
        (body, body_sha256): (&[u8], String),
        deadline: std::time::Instant,
        stop: Option<&AtomicBool>,
    ) -> Result<Keyed, Error> {
        let before = {
            let mut keys = lock(&self.inner.keys);
            let before = keys.get(key).cloned();
            if let Some(state) = &before {
                // A flagged key stays flagged whatever is sent under it now:
                // "different message" would hide that its earlier send may
                // have reached the patient and must be checked first.
                let flagged = matches!(state.status, Status::NoOutcome | Status::MayHaveBeenSent);
                if state.body_sha256 != body_sha256 && !flagged {
                    return Err(Error::invalid(
                        "key",
                        "was used before for a different message",
                    ));
                }
                match &state.status {
                    Status::Open => {}
                    Status::Sent { message_id } => {
                        return Ok(Keyed::AlreadySent {
                            message_id: message_id.clone(),
                        });
                    }
                    Status::InFlight => {
                        return Err(Error::new(
                            Outcome::NotSent,
                            ErrorKind::Journal,
                            "a send with this key is already in progress",
                        ));
                    }
                    Status::NoOutcome | Status::MayHaveBeenSent => {
                        return Err(Error::new(
                            Outcome::MayHaveBeenSent,
                            ErrorKind::NeedsReconciliation,
                            "an earlier send with this key has no clear outcome, so it \
                             is held back until the key is resolved",
                        ));
                    }
                }
            }
            keys.insert(
                key.to_owned(),
                KeyState {
                    body_sha256: body_sha256.clone(),
                    patient_id: patient_id.to_owned(),
                    attempted_at_ms: 0,
                    http_status: None,
                    status: Status::InFlight,
                },
            );
            before
        };
        let hook = Recorder {
            journal: self,
            key,
            patient_id,
            body_sha256: &body_sha256,
            stop,
            started: std::cell::Cell::new(false),
            unanswered: std::cell::Cell::new(false),
            attempted_at_ms: std::cell::Cell::new(0),
        };
        let result = client.send_body(body, deadline, Some(&hook));
        let (started, unanswered, attempted_at_ms) = (
            hook.started.get(),
            hook.unanswered.get(),
            hook.attempted_at_ms.get(),
        );
        let mut keys = lock(&self.inner.keys);
        if !started {
            // No attempt was recorded: the journal is as it was.
            match before {
                Some(state) => keys.insert(key.to_owned(), state),
                None => keys.remove(key),
            };
            return result.map(|r| Keyed::Sent(Box::new(r)));
        }
        let status = match (&result, unanswered) {
            // The file lacks this outcome: say what a rerun will see.
            (_, true) => Status::NoOutcome,
            (Ok(reply), false) => Status::Sent {
                message_id: Some(reply.message_id().to_owned()),
            },
            (Err(e), false) => match e.outcome() {
                Outcome::AcceptedIdUnknown => Status::Sent { message_id: None },
                o if o.safe_to_resend() => Status::Open,
                _ => Status::MayHaveBeenSent,
            },
        };
        // The entry marked in flight above is still there (no one else
        // touches a key in flight): update it in place.
        let http_status = match &result {
            Ok(_) => Some(200),
            Err(e) => e.status(),
        };
        match keys.get_mut(key) {
            Some(state) => {
                state.attempted_at_ms = attempted_at_ms;
                state.http_status = http_status;
                state.status = status;
            }
            None => {
                keys.insert(
                    key.to_owned(),
                    KeyState {
                        body_sha256,
                        patient_id: patient_id.to_owned(),
                        attempted_at_ms,
                        http_status,
                        status,
                    },
                );
            }
        }
        result.map(|r| Keyed::Sent(Box::new(r)))
    }

    /// Keys held back until resolved, in key order.
    pub fn pending(&self) -> Vec<PendingKey> {
        let keys = lock(&self.inner.keys);
        let mut out: Vec<PendingKey> = keys
            .iter()
            .filter_map(|(key, state)| {
                let reason = match state.status {
                    Status::NoOutcome => "no_outcome",
                    Status::MayHaveBeenSent => "may_have_been_sent",
                    _ => return None,
                };
                Some(PendingKey {
                    key: key.clone(),
                    patient_id: state.patient_id.clone(),
                    attempted_at_ms: state.attempted_at_ms,
                    reason,
                    http_status: state.http_status,
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Records how a flagged key was settled after checking in Hero. Only a
    /// key listed by [`pending`](Self::pending) can be resolved.
    pub fn resolve(&self, key: &str, resolution: Resolution) -> Result<(), Error> {
        {
            let keys = lock(&self.inner.keys);
            match keys.get(key).map(|s| &s.status) {
                None => return Err(Error::invalid("key", "is not in the journal")),
                Some(Status::NoOutcome | Status::MayHaveBeenSent) => {}
                Some(_) => {
                    return Err(Error::invalid("key", "is not awaiting reconciliation"));
                }
            }
        }
        self.append(
            &Record::Resolved {
                key: key.to_owned(),
                resolution,
                at_ms: now_ms(),
            },
            true,
        )?;
        let mut keys = lock(&self.inner.keys);
        if let Some(state) = keys.get_mut(key) {
            state.status = match resolution {
                Resolution::Sent => Status::Sent { message_id: None },
                Resolution::NotSent => Status::Open,
            };
        }
        Ok(())
    }

    /// Appends one record. With `durable`, returns once it is on disk;
    /// without, once it is handed to the operating system, or queued behind
    /// a round in progress, which hands it on next (so it survives the
    /// process being killed, not a power cut).
    ///
    /// Concurrent callers share flushes (group commit): whoever finds no
    /// round running leads one, writing everything queued so far and
    /// flushing it to disk when anyone waiting needs that. Records queued
    /// meanwhile go in the next round, led by one of their own writers, so
    /// a leader never waits for a second flush before its send starts.
    fn append(&self, record: &impl Serialize, durable: bool) -> Result<(), Error> {
        let shared = &*self.inner;
        let broken = || {
            journal_error(
                &shared.path,
                "an earlier write failed; nothing more is sent",
            )
        };
        let mut log = lock(&shared.log);
        if log.broken {
            return Err(broken());
        }
        // Straight into the queue: no buffer of its own per record.
        let queued = log.pending.len();
        if serde_json::to_writer(&mut log.pending, record).is_err() {
            log.pending.truncate(queued);
            return Err(broken());
        }
        log.pending.push(b'\n');
        log.appended += 1;
        let mine = log.appended;
        if durable {
            log.want_durable = mine;
        }
        loop {
            if log.broken {
                return Err(broken());
            }
            let done = if durable {
                log.durable >= mine
            } else {
                log.written >= mine
            };
            if done {
                return Ok(());
            }
            if log.flushing {
                if !durable {
                    // The round in progress hands it on when it ends.
                    return Ok(());
                }
                // Sleep until the round carrying this record ends: the one
                // running, or the next one if this record is still queued.
                let round = if log.taken >= mine {
                    log.rounds
                } else {
                    log.rounds + 1
                };
                let parity = (round % 2) as usize;
                log.sleepers[parity] += 1;
                log = shared.rounds_done[parity]
                    .wait(log)
                    .unwrap_or_else(|p| p.into_inner());
                log.sleepers[parity] -= 1;
                continue;
            }
            log = self.lead_rounds(log);
        }
    }

    /// Runs one round (write, and flush when someone waits for the disk),
    /// then hands what was queued meanwhile on: to a waiting writer, who
    /// leads its own round, or, when no one waits for the disk, by writing
    /// it here without a flush.
    fn lead_rounds<'a>(&'a self, mut log: MutexGuard<'a, Log>) -> MutexGuard<'a, Log> {
        let shared = &*self.inner;
        loop {
            log.flushing = true;
            log.rounds += 1;
            let round = log.rounds;
            let batch = std::mem::take(&mut log.pending);
            let upto = log.appended;
            log.taken = upto;
            let sync = log.want_durable > log.durable;
            let (at, len) = (log.end_of_data, log.file_len);
            drop(log);
            let mut result = write_at_end(&shared.file, at, len, &batch);
            if sync {
                result = result.and_then(|grown| shared.file.sync_data().map(|()| grown));
            }
            log = lock(&shared.log);
            log.flushing = false;
            match result {
                Ok(file_len) => {
                    log.end_of_data = at + batch.len() as u64;
                    log.file_len = file_len;
                    log.written = upto;
                    if sync {
                        log.durable = upto;
                    }
                }
                Err(_) => log.broken = true,
            }
            // A wake-up is a system call even with no one asleep: skip it then.
            let (this, next) = ((round % 2) as usize, ((round + 1) % 2) as usize);
            if log.sleepers[this] > 0 {
                shared.rounds_done[this].notify_all();
            }
            // The buffer goes back for the next records, so the queue keeps
            // its room instead of growing again each round.
            if log.pending.is_empty() {
                let mut batch = batch;
                batch.clear();
                log.pending = batch;
            }
            if log.broken || log.pending.is_empty() {
                return log;
            }
            if log.want_durable > log.durable {
                // A writer sleeps waiting for the next round: wake one to
                // lead it, so this thread's own send starts now.
                if log.sleepers[next] > 0 {
                    shared.rounds_done[next].notify_one();
                }
                return log;
            }
        }
    }
}

/// Whatever is still queued reaches the disk when the journal closes.
impl Drop for Shared {
    fn drop(&mut self) {
        let log = self.log.get_mut().unwrap_or_else(|p| p.into_inner());
        if !log.broken && !log.pending.is_empty() {
            let _ = write_at_end(&self.file, log.end_of_data, log.file_len, &log.pending)
                .and_then(|_| self.file.sync_data());
        }
    }
}

/// Writes `batch` at `at`, the end of the data, where the file's cursor
/// is, over the zeros there; when they run out, the file grows by whole
/// [`GROW_BYTES`] of zeros in the same write. Leaves the cursor after
/// `batch` and returns the file's new length. One writer at a time (the
/// round's leader, or the last owner closing).
fn write_at_end(mut file: &File, at: u64, file_len: u64, batch: &[u8]) -> std::io::Result<u64> {
    let end = at + batch.len() as u64;
    if end <= file_len {
        file.write_all(batch)?;
        return Ok(file_len);
    }
    let grown = end.div_ceil(GROW_BYTES) * GROW_BYTES;
    let mut bytes = Vec::with_capacity((grown - at) as usize);
    bytes.extend_from_slice(batch);
    bytes.resize((grown - at) as usize, 0);
    file.write_all(&bytes)?;
    file.seek(SeekFrom::Start(end))?;
    Ok(grown)
}

/// Replays one record into the key table.
fn apply(keys: &mut HashMap<String, KeyState>, record: Record) {
    match record {
        Record::Attempt {
            key,
            patient_id,
            body_sha256,
            at_ms,
            ..
        } => {
            keys.insert(
                key,
                KeyState {
                    body_sha256,
                    patient_id,
                    attempted_at_ms: at_ms,
                    http_status: None,
                    status: Status::NoOutcome,
                },
            );
        }
        Record::Outcome {
            key,
            outcome,
            http_status,
            message_id,
            ..
        } => {
            if let Some(state) = keys.get_mut(&key) {
                state.http_status = http_status;
                state.status = match outcome {
                    RecordOutcome::Sent => Status::Sent { message_id },
                    RecordOutcome::AcceptedIdUnknown => Status::Sent { message_id: None },
                    RecordOutcome::NotSent | RecordOutcome::Refused => Status::Open,
                    RecordOutcome::MayHaveBeenSent => Status::MayHaveBeenSent,
                };
            }
        }
        Record::Resolved {
            key, resolution, ..
        } => {
            if let Some(state) = keys.get_mut(&key) {
                state.status = match resolution {
                    Resolution::Sent => Status::Sent { message_id: None },
                    Resolution::NotSent => Status::Open,
                };
            }
        }
    }
}

/// The journal's hook into one send: a record before and after each attempt.
struct Recorder<'a> {
    journal: &'a Journal,
    key: &'a str,
    patient_id: &'a str,
    body_sha256: &'a str,
    /// Set when the batch is stopped: no attempt starts after that.
    stop: Option<&'a AtomicBool>,
    /// An attempt record reached the disk.
    started: std::cell::Cell<bool>,
    /// An attempt record has no outcome record on disk.
    unanswered: std::cell::Cell<bool>,
    attempted_at_ms: std::cell::Cell<u64>,
}

impl AttemptHook for Recorder<'_> {
    fn before_attempt(&self, attempt: u32) -> Result<(), Error> {
        crate::batch::check_not_stopped(self.stop)?;
        let at_ms = now_ms();
        // On disk before the request can start: a crash from here on
        // leaves the key flagged, never silently resendable.
        self.journal.append(
            &SendRecord::Attempt {
                key: self.key,
                patient_id: self.patient_id,
                body_sha256: self.body_sha256,
                attempt,
                at_ms,
            },
            true,
        )?;
        self.started.set(true);
        self.unanswered.set(true);
        self.attempted_at_ms.set(at_ms);
        Ok(())
    }

    fn after_attempt(&self, result: Result<&MessageResponse, &Error>) {
        let (outcome, http_status, message_id) = match result {
            Ok(reply) => (RecordOutcome::Sent, Some(200), Some(reply.message_id())),
            Err(e) => (
                match e.outcome() {
                    Outcome::NotSent => RecordOutcome::NotSent,
                    Outcome::Refused => RecordOutcome::Refused,
                    Outcome::AcceptedIdUnknown => RecordOutcome::AcceptedIdUnknown,
                    _ => RecordOutcome::MayHaveBeenSent,
                },
                e.status(),
                None,
            ),
        };
        // Not waited onto the disk: losing it (power cut, or a kill while
        // it is queued) only leaves the key flagged, the safe side; the next
        // flush, or closing the journal, carries it.
        let written = self.journal.append(
            &SendRecord::Outcome {
                key: self.key,
                outcome,
                http_status,
                message_id,
                at_ms: now_ms(),
            },
            false,
        );
        // Without the outcome on disk the key stays flagged: the safe side.
        self.unanswered.set(written.is_err());
    }
}

#[cfg(test)]
mod tests {
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

    fn resolved(key: &str, pad: String) -> Record {
        Record::Resolved {
            key: format!("{key}{pad}"),
            resolution: Resolution::NotSent,
            at_ms: 7,
        }
    }

    fn line(record: &Record) -> String {
        serde_json::to_string(record).unwrap() + "\n"
    }

    #[test]
    fn body_hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            key_for_body(b"abc"),
            "auto-ba7816bf8f01cfea414140de5dae2223"
        );
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
        assert_eq!(data(&path), good.clone() + &line(&next));
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
        assert_eq!(data(&path), good.clone() + &line(&next));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[data(&path).len()..].iter().all(|b| *b == 0));
        Journal::open(&path).unwrap();
    }

    #[test]
    fn remains_of_an_unfinished_write_past_a_hole_are_cleared() {
        // A crash can leave a later page of an unfinished write on disk
        // while an earlier one is still zeros: only the data before the hole
        // counts, and the rest must not resurface between new records.
        let path = temp("hole");
        let good = attempt("a", "A") + "\n";
        let mut bytes = good.clone().into_bytes();
        bytes.resize(good.len() + 300, 0);
        bytes.extend_from_slice(format!("ail\n{}\n", attempt("z", "Z")).as_bytes());
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
        assert_eq!(data(&path).lines().count(), 5);
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
        let expected: String = first.iter().chain([&more]).map(line).collect();
        assert_eq!(data(&path), expected);
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
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), n);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(*l, line(&resolved(&i.to_string(), pad.clone())).trim_end());
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
                        let log = lock(&j.inner.log);
                        assert!(log.durable >= 1 && log.written >= log.durable);
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
        let pending: Vec<(String, &str)> =
            j.pending().into_iter().map(|p| (p.key, p.reason)).collect();
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
        assert!(e.to_string().contains("line 1"), "{e}");
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
            serde_json::from_str::<Record>(line).unwrap();
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
}
