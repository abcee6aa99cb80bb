//! Reading a damaged journal, and salvaging it into a new one.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::commit::Writer;
use super::fail::journal_error;
use super::record::{RecordOutcome, SendRecord};
use super::recover::{read_readable, recover};
use super::state::{KeyState, Status};
use super::{Journal, Salvage, damaged, no_journal_here, open_locked};
use crate::batch::BatchRunner;
use crate::error::Error;
use crate::transport::client::Client;

impl Journal {
    /// Opens an existing journal, damaged or not, only to read it: nothing
    /// is written, no send or resolution goes through it (kind
    /// [`ErrorKind::Journal`](crate::ErrorKind::Journal)). [`pending`](Self::pending) lists every key
    /// any readable record shows attempted without a clear outcome, and
    /// [`damage`](Self::damage) says what [`open`](Self::open) would refuse.
    /// On a damaged journal the list can miss a key whose records were all
    /// lost: see [`salvage`](Self::salvage).
    pub fn open_to_read(path: impl AsRef<Path>) -> Result<Journal, Error> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(no_journal_here(&path));
        }
        let (file, bytes) = open_locked(&path, false)?;
        let (keys, damage) = match recover(&bytes) {
            Ok(found) => (found.keys, None),
            Err(d) => (
                read_readable(&bytes, d.offset).keys,
                Some(damaged(&path, &d).to_string()),
            ),
        };
        let writer = Writer::new(path.clone(), Box::new(file), 0, 0, 0);
        writer.refuse("opened to read only");
        Ok(Journal::from_parts(path, writer, keys, damage))
    }

    /// What [`open`](Self::open) refused in a journal opened with
    /// [`open_to_read`](Self::open_to_read); `None` when it is whole.
    pub fn damage(&self) -> Option<&str> {
        self.inner.damage.as_deref()
    }

    /// Writes a new journal at `new_path` (which must not exist) from what
    /// the journal at `damaged_path` still shows, leaving that one as it is.
    /// Keys proven sent stay sent; every other key a readable record names
    /// is written flagged (no outcome), so nothing that may have gone is
    /// sent again until someone checks in Hero and resolves it.
    ///
    /// What it cannot do: name a key whose every record was lost. Such a
    /// send happened between the times in [`Salvage::window_ms`]; salvage
    /// with the rows file instead ([`BatchRunner::salvage`]), or check in
    /// Hero what was sent then before rerunning the rows it could be.
    pub fn salvage(
        damaged_path: impl AsRef<Path>,
        new_path: impl AsRef<Path>,
    ) -> Result<Salvage, Error> {
        salvage(damaged_path.as_ref(), new_path.as_ref(), None)
    }
}

impl BatchRunner {
    /// [`Journal::salvage`] that also flags every row of the rows file at
    /// `rows` (read with this runner's defaults and `client`'s checks, as
    /// [`run`](Self::run) reads it) that no readable record names: the
    /// rows whose every record was lost among them. Flagging a row that was
    /// never attempted is safe (it waits for a check in Hero and a
    /// resolution); sending one whose records were lost is not.
    /// [`Salvage::unnamed_rows`] says how many were flagged for that reason.
    pub fn salvage(
        &self,
        client: &Client,
        rows: impl AsRef<Path>,
        damaged_path: impl AsRef<Path>,
        new_path: impl AsRef<Path>,
    ) -> Result<Salvage, Error> {
        let rows = self.sendable_rows(client, damaged_path.as_ref(), rows.as_ref())?;
        salvage(damaged_path.as_ref(), new_path.as_ref(), Some(&rows))
    }
}

/// Salvage, with the rows of a rows file (key, patient id, body hash) when
/// given.
fn salvage(
    path: &Path,
    new_path: &Path,
    rows: Option<&[(String, String, String)]>,
) -> Result<Salvage, Error> {
    if !path.is_file() {
        return Err(no_journal_here(path));
    }
    let (_file, bytes) = open_locked(path, false)?;
    let (keys, damage, window_ms) = match recover(&bytes) {
        Ok(found) => (found.keys, None, (None, None)),
        Err(d) => {
            let read = read_readable(&bytes, d.offset);
            (
                read.keys,
                Some(damaged(path, &d).to_string()),
                read.window_ms,
            )
        }
    };
    let cannot_create = |path: &Path, kind: std::io::ErrorKind| {
        journal_error(
            path,
            format_args!("cannot create the salvaged journal: {kind}"),
        )
    };
    // A fresh file only: never write over another journal.
    if new_path.exists() {
        return Err(cannot_create(new_path, std::io::ErrorKind::AlreadyExists));
    }
    // Written under a name of its own and linked into place only once
    // whole and on disk: a salvage that fails or is killed partway
    // leaves nothing at `new_path` that a rerun could take for the
    // salvaged journal, and send again whatever it lacks.
    let mut partial = new_path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Patient ids live here too: owner only.
        options.mode(0o600);
    }
    options
        .open(&partial)
        .map_err(|e| cannot_create(&partial, e.kind()))?;
    struct RemoveOnDrop<'a>(&'a Path);
    impl Drop for RemoveOnDrop<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
        }
    }
    let _partial = RemoveOnDrop(&partial);
    let fresh = Journal::open(&partial)?;
    let mut keys = keys;
    let mut unnamed_rows = None;
    if let Some(rows) = rows {
        let mut unnamed = 0;
        for (key, patient_id, body_sha256) in rows {
            if !keys.contains_key(key) {
                unnamed += 1;
                // An attempt without an outcome: flagged, with the
                // row's own patient id and body, as `--pending` lists it.
                keys.insert(
                    key.clone(),
                    KeyState {
                        body_sha256: body_sha256.clone(),
                        patient_id: patient_id.clone(),
                        attempted_at_ms: window_ms.0.or(window_ms.1).unwrap_or(0),
                        http_status: None,
                        status: Status::NoOutcome,
                    },
                );
            }
        }
        unnamed_rows = Some(unnamed);
    }
    let mut sorted: Vec<(&String, &KeyState)> = keys.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut report = Salvage {
        flagged: 0,
        sent: 0,
        damage,
        window_ms,
        unnamed_rows,
    };
    let writer = &fresh.inner.writer;
    for (key, state) in sorted {
        writer.append(
            &SendRecord::Attempt {
                key,
                patient_id: &state.patient_id,
                body_sha256: &state.body_sha256,
                attempt: 1,
                at_ms: state.attempted_at_ms,
            },
            false,
        )?;
        let outcome = match &state.status {
            Status::Sent { message_id } => {
                report.sent += 1;
                Some((
                    match message_id {
                        Some(_) => RecordOutcome::Sent,
                        None => RecordOutcome::AcceptedIdUnknown,
                    },
                    message_id.as_deref(),
                ))
            }
            Status::MayHaveBeenSent => {
                report.flagged += 1;
                Some((RecordOutcome::MayHaveBeenSent, None))
            }
            // Open keys too: a later attempt of theirs may be what was
            // lost. No outcome: flagged.
            _ => {
                report.flagged += 1;
                None
            }
        };
        if let Some((outcome, message_id)) = outcome {
            writer.append(
                &SendRecord::Outcome {
                    key,
                    outcome,
                    http_status: state.http_status,
                    message_id,
                    at_ms: state.attempted_at_ms,
                },
                false,
            )?;
        }
    }
    writer.flush()?;
    drop(fresh);
    crate::batch::carry_key_secret(path, new_path)?;
    // Fails if something appeared at `new_path` meanwhile: never over it.
    std::fs::hard_link(&partial, new_path).map_err(|e| cannot_create(new_path, e.kind()))?;
    #[cfg(unix)]
    if let Some(dir) = new_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new name must survive a crash too.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(report)
}
