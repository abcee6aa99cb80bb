//! The send journal: an append-only file that makes a keyed send
//! exactly-once-or-flagged across crashes and reruns.
//!
//! Hero has no idempotency key, so the journal is the memory a rerun needs.
//! Before each HTTP attempt of a keyed send an *attempt* record is written
//! and flushed to disk; after it, an *outcome* record. On the next open, a
//! key whose last attempt has no outcome (the process died) or whose
//! outcome was *may have been sent* is held back until someone resolves it.
//!
//! Records are text lines holding the key, the patient id, a SHA-256 of the
//! request body, times, the outcome, the HTTP status and Hero's message id:
//! never the message text or contact details. Each carries a sequence
//! number and a checksum ([`record`]), so opening tells the unfinished tail
//! of a crash, which it clears, from damage, which it refuses
//! ([`recover`]). A damaged journal can still be read
//! ([`Journal::open_to_read`]) and salvaged into a new one
//! ([`Journal::salvage`]) in which every key not proven sent is flagged;
//! given the rows file ([`BatchRunner::salvage`](crate::BatchRunner::salvage)),
//! salvage also flags every row no readable record names, which covers a
//! row whose every record was lost.
//!
//! Limits, stated because no check in the file can lift them:
//! - A journal cut short after a complete record (a partial copy restored,
//!   a file truncated, its end zeroed) is indistinguishable from one whose
//!   last flushes a crash never finished: nothing written at the end
//!   survives the cut, and anything kept at the start would cost a second
//!   write and flush per round. It opens, and the rows whose records were
//!   cut are sent again, unless it is salvaged with the rows file first.
//! - A record in a write or flush that failed may or may not be on disk
//!   (after an `fdatasync` error the kernel may have dropped the pages or
//!   written them). The row says it was not sent, and that a rerun may hold
//!   it back; if its attempt record did land, the rerun flags it, a false
//!   alarm that is resolved as not sent, never a resend.
//!
//! Rooms: `record` (the line format and its check), `recover` (reading a
//! file back), `salvage` (reading and salvaging a damaged journal), `state`
//! (each key's state), `commit` (the group-commit writer), `keys` (key
//! hashing, shared with the batch runner), `fail` (errors).

mod commit;
#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod disk_fail_tests;
mod fail;
mod keys;
mod record;
mod recover;
mod salvage;
mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Outcome};
use crate::message::request::SendMessage;
use crate::message::response::MessageResponse;
use crate::transport::client::{AttemptHook, Client};
use commit::{Disk, Writer, lock};
use fail::journal_error;
pub(crate) use keys::{check_key, key_for_body, sha256_hex};
pub use record::Resolution;
use record::{Record, RecordOutcome, SendRecord};
use recover::{Damage, recover};
use state::{KeyState, Keys, Status};

/// An open send journal. Cheap to clone; clones and threads share one file
/// and one lock, and concurrent sends share each flush to disk (group
/// commit). Only one process may hold a journal at a time.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    writer: Writer,
    keys: Mutex<Keys>,
    /// What damage [`Journal::open_to_read`] found.
    damage: Option<String>,
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
            attempted_at: crate::message::checks::format_rfc3339_utc(self.attempted_at_ms / 1000),
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

/// What [`Journal::salvage`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvage {
    /// Keys written as flagged: every key a readable record names that is
    /// not proven sent. Each waits for a check in Hero and a resolution.
    pub flagged: usize,
    /// Keys proven sent, written as sent (never sent again).
    pub sent: usize,
    /// The damage found, as [`Journal::open`] reports it; `None` when the
    /// journal was whole.
    pub damage: Option<String>,
    /// The last time (milliseconds since 1970) a readable record before the
    /// damage shows, and the first after it: a send whose records were all
    /// lost happened in between, and only Hero can say which.
    pub window_ms: (Option<u64>, Option<u64>),
    /// With a rows file ([`BatchRunner::salvage`](crate::BatchRunner::salvage)):
    /// how many of its rows no readable record names, written flagged too
    /// (included in `flagged`). Flagging a row that was never attempted is
    /// safe: it waits for a check in Hero, never sends twice. `None` without
    /// a rows file: a key whose every record was lost cannot be named then.
    pub unnamed_rows: Option<usize>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn damaged(path: &Path, damage: &Damage) -> Error {
    journal_error(
        path,
        format_args!(
            "damaged at byte {}: {}; nothing was sent (its flagged keys can still be listed, \
             and a salvaged journal written: see the README on a damaged journal)",
            damage.offset, damage.what
        ),
    )
}

/// Opens (creating it when `create`) and locks the journal at `path`, and
/// reads it whole.
fn open_locked(path: &Path, create: bool) -> Result<(File, Vec<u8>), Error> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(create);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Patient ids live here: owner only.
        options.mode(0o600);
    }
    // Windows has no mode bits: the file inherits its folder's ACL.
    let mut file = options
        .open(path)
        .map_err(|e| journal_error(path, format_args!("cannot open: {}", e.kind())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(journal_error(
                path,
                "in use by another sender (one process at a time)",
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(journal_error(
                path,
                format_args!("cannot lock: {}", e.kind()),
            ));
        }
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| journal_error(path, format_args!("cannot read: {}", e.kind())))?;
    Ok((file, bytes))
}

fn no_journal_here(path: &Path) -> Error {
    journal_error(
        path,
        "no journal here (check the path); nothing was created",
    )
}

impl Journal {
    /// Opens (or creates, readable by its owner only on unix) the journal at
    /// `path` and takes its lock. A second opener, in this process or
    /// another, gets an error of kind [`ErrorKind::Journal`] until this
    /// journal and its clones are dropped.
    ///
    /// The unfinished tail of the last flush, left by a crash or power cut,
    /// is cleared: no send started on the strength of it. Anything else
    /// that does not read back (a record failing its check, a gap in the
    /// sequence, zeros or a torn record followed by records flushed before
    /// it) is damage: an error of kind [`ErrorKind::Journal`] naming the
    /// byte offset and what was found, and nothing is changed. Then
    /// [`open_to_read`](Self::open_to_read) still lists what it shows and
    /// [`salvage`](Self::salvage) writes a new journal.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, Error> {
        let path = path.as_ref().to_path_buf();
        let existed = path.exists();
        let (file, bytes) = open_locked(&path, true)?;
        let found = recover(&bytes).map_err(|d| damaged(&path, &d))?;
        // Zero the unfinished tail, so new records never run into its
        // remains, and put everything read on disk: new records say it is.
        let tidy = || -> std::io::Result<()> {
            if found.clear_to > found.end {
                Disk::write_at(
                    &file,
                    found.end as u64,
                    &vec![0; found.clear_to - found.end],
                )?;
            }
            if found.clear_to > found.end || found.last_seq > 0 {
                file.sync_data()?;
            }
            Ok(())
        };
        tidy().map_err(|e| {
            journal_error(
                &path,
                format_args!("cannot clear an unfinished write: {}", fail::io_cause(&e)),
            )
        })?;
        #[cfg(unix)]
        if !existed {
            // The new file's name must survive a crash too.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
        }
        #[cfg(not(unix))]
        let _ = existed;
        let writer = Writer::new(
            path.clone(),
            Box::new(file),
            found.last_seq,
            found.end as u64,
            bytes.len() as u64,
        );
        Ok(Journal::from_parts(path, writer, found.keys, None))
    }

    fn from_parts(path: PathBuf, writer: Writer, keys: Keys, damage: Option<String>) -> Journal {
        Journal {
            inner: Arc::new(Shared {
                path,
                writer,
                keys: Mutex::new(keys),
                damage,
            }),
        }
    }

    /// [`open`](Self::open) for reading back a journal that must already
    /// exist (listing flagged keys, resolving one): a mistyped path is an
    /// error of kind [`ErrorKind::Journal`], not an empty journal that
    /// seems to say nothing is flagged. Nothing is created.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Journal, Error> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(no_journal_here(path));
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

    /// What [`send`](Self::send) would answer for `key` whatever its
    /// message, if that is already decided: accepted before (only when
    /// `key_names_the_message`, a key derived from the whole row, since an
    /// explicit key reused for another message must be refused instead), or
    /// held back. A batch asks this before a row's patient lookup, so a
    /// rerun looks up no patient whose message went.
    pub(crate) fn decided(
        &self,
        key: &str,
        key_names_the_message: bool,
    ) -> Option<Result<Keyed, Error>> {
        let keys = lock(&self.inner.keys);
        match &keys.get(key)?.status {
            Status::Sent { message_id } if key_names_the_message => Some(Ok(Keyed::AlreadySent {
                message_id: message_id.clone(),
            })),
            Status::NoOutcome | Status::MayHaveBeenSent => Some(Err(held_back())),
            _ => None,
        }
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
                let flagged = state.status.flagged();
                // No hash: salvage flagged a row whose body it could not
                // know (its patient id comes from a lookup). Once resolved,
                // the row's own message may go, and its hash is kept then.
                let known = !state.body_sha256.is_empty();
                if known && state.body_sha256 != body_sha256 && !flagged {
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
                    Status::NoOutcome | Status::MayHaveBeenSent => return Err(held_back()),
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

    /// Why this journal takes no more records (a write or flush failed,
    /// or it was opened to read only), as its errors say it.
    pub(crate) fn failure(&self) -> Option<String> {
        self.inner.writer.failure().map(|cause| cause.to_string())
    }

    fn append(&self, record: &impl Serialize, durable: bool) -> Result<(), Error> {
        self.inner.writer.append(record, durable)
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
        crate::stop::check_not_stopped(self.stop)?;
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

/// A flagged key's answer: its earlier send may have reached the patient.
fn held_back() -> Error {
    Error::new(
        Outcome::MayHaveBeenSent,
        ErrorKind::NeedsReconciliation,
        "an earlier send with this key has no clear outcome, so it is held back until the \
         key is resolved",
    )
}
