//! The journal's writer: records queued by many threads share each flush
//! to disk (group commit).
//!
//! The file grows [`GROW_BYTES`] at a time in zero bytes, and records are
//! written over those zeros (still one after another, so it reads as an
//! append-only log): a flush to disk then carries only the record, not a
//! new file size too (on ext4 an `fdatasync` after an append took about 1.4
//! times as long as after an overwrite, and more processor time).
//!
//! A failed write or flush breaks the writer for good: after an `fdatasync`
//! error the kernel may have dropped the unwritten pages, so a later flush
//! that succeeds would prove nothing about them. Every waiter is woken with
//! the first failure's cause.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use serde::Serialize;

use super::fail::{io_cause, journal_error};
use super::record::encode;
use crate::error::Error;

/// The journal file grows by this many zero bytes at a time (the last
/// growth is rounded to a multiple of it): thousands of records, so a flush
/// that also commits a new file size is rare.
pub(super) const GROW_BYTES: u64 = 1 << 20;

/// Where the writer's bytes go: the journal file, or in tests a layer that
/// records or fails them.
pub(super) trait Disk: Send + Sync {
    fn write_at(&self, at: u64, bytes: &[u8]) -> io::Result<()>;
    /// `fdatasync`: everything written so far is on disk.
    fn sync(&self) -> io::Result<()>;
}

impl Disk for std::fs::File {
    fn write_at(&self, at: u64, bytes: &[u8]) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(self, bytes, at)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < bytes.len() {
                match std::os::windows::fs::FileExt::seek_write(
                    self,
                    &bytes[done..],
                    at + done as u64,
                ) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }

    fn sync(&self) -> io::Result<()> {
        self.sync_data()
    }
}

/// Records waiting for the disk, and how far the disk has got. Counts are
/// record numbers: the file's records are numbered from 1.
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
    /// Where the next round writes: the end of the data.
    end_of_data: u64,
    /// The file's length; the bytes from `end_of_data` on are zeros.
    file_len: u64,
    flushing: bool,
    /// Threads asleep on `rounds_done[0]` and `[1]` (counted up to their
    /// waking, so never too few).
    sleepers: [u32; 2],
    /// The first write or flush that failed: nothing more is written, so
    /// no send starts.
    broken: Option<Arc<str>>,
}

pub(super) struct Writer {
    path: PathBuf,
    disk: Box<dyn Disk>,
    log: Mutex<Log>,
    /// Waiters on round `n` sleep on `rounds_done[n % 2]`, so the end of a
    /// round wakes only the threads it carried, not those queued behind it.
    rounds_done: [Condvar; 2],
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // State stays consistent across a panic in another thread: every
    // update is a single assignment.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Writer {
    /// A writer after record `last_seq` (all of them on disk), whose data
    /// ends at `end_of_data` in a file of `file_len` bytes.
    pub(super) fn new(
        path: PathBuf,
        disk: Box<dyn Disk>,
        last_seq: u64,
        end_of_data: u64,
        file_len: u64,
    ) -> Writer {
        Writer {
            path,
            disk,
            log: Mutex::new(Log {
                appended: last_seq,
                written: last_seq,
                durable: last_seq,
                want_durable: last_seq,
                taken: last_seq,
                end_of_data,
                file_len,
                ..Log::default()
            }),
            rounds_done: [Condvar::new(), Condvar::new()],
        }
    }

    /// A writer that refuses every record (a journal opened to read only).
    pub(super) fn refuse(&self, why: &str) {
        lock(&self.log).broken = Some(why.into());
    }

    /// The first write or flush that failed, if one did.
    pub(super) fn failure(&self) -> Option<Arc<str>> {
        lock(&self.log).broken.clone()
    }

    /// `carried`: the record was in a round that failed. After a failed
    /// write or flush nobody knows whether it reached the disk, so a rerun
    /// may find it and hold its key back: say so, so that is no surprise.
    fn broken_error(&self, cause: &str, carried: bool) -> Error {
        let rerun = if carried {
            "; this row's record may be on disk all the same, so a rerun may hold it back as \
             needs_reconciliation until its key is resolved as this report says"
        } else {
            ""
        };
        journal_error(
            &self.path,
            format_args!("{cause}; nothing more is sent{rerun}"),
        )
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
    pub(super) fn append(&self, record: &impl Serialize, durable: bool) -> Result<(), Error> {
        let mut log = lock(&self.log);
        if let Some(cause) = &log.broken {
            return Err(self.broken_error(cause, false));
        }
        let (seq, on_disk) = (log.appended + 1, log.durable);
        // Straight into the queue: no buffer of its own per record.
        if encode(&mut log.pending, seq, on_disk, record).is_err() {
            return Err(self.broken_error("a record could not be written out", false));
        }
        log.appended = seq;
        self.wait_for(log, seq, durable)
    }

    /// Returns once every record appended so far is on disk.
    pub(super) fn flush(&self) -> Result<(), Error> {
        let log = lock(&self.log);
        let last = log.appended;
        self.wait_for(log, last, true)
    }

    /// Waits until record `seq` is on disk (`durable`) or handed on.
    fn wait_for<'a>(
        &'a self,
        mut log: MutexGuard<'a, Log>,
        seq: u64,
        durable: bool,
    ) -> Result<(), Error> {
        if durable {
            log.want_durable = log.want_durable.max(seq);
        }
        loop {
            if let Some(cause) = &log.broken {
                return Err(self.broken_error(cause, log.taken >= seq));
            }
            let done = if durable {
                log.durable >= seq
            } else {
                log.written >= seq
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
                let round = if log.taken >= seq {
                    log.rounds
                } else {
                    log.rounds + 1
                };
                let parity = (round % 2) as usize;
                log.sleepers[parity] += 1;
                log = self.rounds_done[parity]
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
            let mut result = write_at_end(&*self.disk, at, len, &batch)
                .map_err(|e| format!("cannot write: {}", io_cause(&e)));
            if sync {
                result = result.and_then(|grown| {
                    self.disk
                        .sync()
                        .map(|()| grown)
                        .map_err(|e| format!("cannot flush to disk: {}", io_cause(&e)))
                });
            }
            log = lock(&self.log);
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
                Err(cause) => {
                    log.broken = Some(cause.into());
                    // No round will ever complete now: wake every waiter,
                    // of this round and of the next, with the cause.
                    for done in &self.rounds_done {
                        done.notify_all();
                    }
                    return log;
                }
            }
            // A wake-up is a system call even with no one asleep: skip it then.
            let (this, next) = ((round % 2) as usize, ((round + 1) % 2) as usize);
            if log.sleepers[this] > 0 {
                self.rounds_done[this].notify_all();
            }
            // The buffer goes back for the next records, so the queue keeps
            // its room instead of growing again each round.
            if log.pending.is_empty() {
                let mut batch = batch;
                batch.clear();
                log.pending = batch;
                return log;
            }
            if log.want_durable > log.durable {
                // A writer sleeps waiting for the next round: wake one to
                // lead it, so this thread's own send starts now.
                if log.sleepers[next] > 0 {
                    self.rounds_done[next].notify_one();
                }
                return log;
            }
        }
    }

    /// How far the disk has got: (records written, records flushed).
    #[cfg(test)]
    pub(super) fn progress(&self) -> (u64, u64) {
        let log = lock(&self.log);
        (log.written, log.durable)
    }
}

/// Whatever is still queued reaches the disk when the journal closes.
impl Drop for Writer {
    fn drop(&mut self) {
        let log = self.log.get_mut().unwrap_or_else(|p| p.into_inner());
        if log.broken.is_none() && !log.pending.is_empty() {
            let _ = write_at_end(&*self.disk, log.end_of_data, log.file_len, &log.pending)
                .and_then(|_| self.disk.sync());
        }
    }
}

/// Writes `batch` at `at`, the end of the data, over the zeros there; when
/// they run out, the file grows by whole [`GROW_BYTES`] of zeros in the
/// same write. Returns the file's new length. One writer at a time (the
/// round's leader, or the last owner closing).
fn write_at_end(disk: &dyn Disk, at: u64, file_len: u64, batch: &[u8]) -> io::Result<u64> {
    let end = at + batch.len() as u64;
    if end <= file_len {
        disk.write_at(at, batch)?;
        return Ok(file_len);
    }
    let grown = end.div_ceil(GROW_BYTES) * GROW_BYTES;
    let mut bytes = Vec::with_capacity((grown - at) as usize);
    bytes.extend_from_slice(batch);
    bytes.resize((grown - at) as usize, 0);
    disk.write_at(at, &bytes)?;
    Ok(grown)
}
