//! `hero_journal`: the send journal, and keyed single sends through it.

use std::ffi::{CString, c_char};
use std::ptr;

use super::error::{deliver, report};
use super::row::hero_batch_row;
use super::{
    HERO_INTERNAL_ERROR, HERO_INVALID_ARGUMENT, HERO_NULL_ARGUMENT, HERO_OK, clear_outs, ffi_try,
    give, guard, hero_client, hero_error, hero_message, hero_status, ref_arg, str_arg, take,
};
use crate::batch::RowReport;
use crate::{Journal, Resolution};

/// An open send journal (opaque): an append-only file that makes a keyed
/// send exactly-once-or-flagged across crashes and reruns. Thread-safe:
/// share one journal between all threads of the process. Holding it holds
/// the file's lock; free it with `hero_journal_free`.
pub struct hero_journal {
    pub(crate) journal: Journal,
    /// `Journal::damage`, NUL-terminated for `hero_journal_damage`.
    damage: Option<CString>,
}

impl hero_journal {
    fn new(journal: Journal) -> Self {
        // The text is the library's own (offsets and findings): no NUL.
        let damage = journal
            .damage()
            .map(|d| CString::new(d).unwrap_or_default());
        hero_journal { journal, damage }
    }
}

/// How a flagged key was settled after checking in Hero
/// (`hero_journal_resolve`).
pub type hero_resolution = u32;
/// Hero has the message: the key is never sent again.
pub const HERO_RESOLUTION_SENT: hero_resolution = 1;
/// Hero does not have it: the key may be sent again.
pub const HERO_RESOLUTION_NOT_SENT: hero_resolution = 2;

/// The shell of the three ways to open a journal: checks, then `open`.
fn open_with(
    path: *const c_char,
    journal_out: *mut *mut hero_journal,
    error_out: *mut *mut hero_error,
    open: fn(&str) -> Result<Journal, crate::Error>,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or writable out-parameters (documented).
        ffi_try!(unsafe { clear_outs(journal_out, error_out) });
        // SAFETY: NULL or NUL-terminated.
        let path = ffi_try!(unsafe { str_arg(path) });
        // SAFETY: checked or cleared out-parameters (above).
        unsafe { deliver(open(path), journal_out, error_out, hero_journal::new) }
    })
}

/// Opens (or creates, owner-only on unix) the journal at `path` and takes
/// its lock: one process at a time.
///
/// On `HERO_OK`, `*journal_out` owns the journal (free with
/// `hero_journal_free`). On `HERO_NOT_SENT`, `*journal_out` is NULL and
/// `*error_out` (if not NULL) says why, with kind `HERO_KIND_JOURNAL` when
/// the file is held by another process or cannot be read or written.
/// `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a bad `path`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_open(
    path: *const c_char,
    journal_out: *mut *mut hero_journal,
    error_out: *mut *mut hero_error,
) -> hero_status {
    open_with(path, journal_out, error_out, |p| Journal::open(p))
}

/// `hero_journal_open` for reading back a journal that must already exist
/// (`hero_journal_pending`, `hero_journal_resolve`): when there is no file
/// at `path`, `HERO_NOT_SENT` with kind `HERO_KIND_JOURNAL` and nothing is
/// created, so a mistyped path never reads as "nothing is flagged".
/// Otherwise as `hero_journal_open` (same ownership and errors).
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_open_existing(
    path: *const c_char,
    journal_out: *mut *mut hero_journal,
    error_out: *mut *mut hero_error,
) -> hero_status {
    open_with(path, journal_out, error_out, |p| Journal::open_existing(p))
}

/// Opens an existing journal, damaged or not, only to read it: nothing is
/// written to it, and `hero_journal_send` / `hero_journal_resolve` through
/// it fail with kind `HERO_KIND_JOURNAL`. `hero_journal_pending` lists
/// every key any readable record shows attempted without a clear outcome;
/// `hero_journal_damage` says what `hero_journal_open` refuses. Takes the
/// file's lock like `hero_journal_open`. When there is no file at `path`,
/// `HERO_NOT_SENT` with kind `HERO_KIND_JOURNAL` and nothing is created.
///
/// On `HERO_OK`, `*journal_out` owns the journal (free with
/// `hero_journal_free`). `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a
/// bad `path`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_open_to_read(
    path: *const c_char,
    journal_out: *mut *mut hero_journal,
    error_out: *mut *mut hero_error,
) -> hero_status {
    open_with(path, journal_out, error_out, |p| Journal::open_to_read(p))
}

/// What damage a journal opened with `hero_journal_open_to_read` holds (the
/// byte offset and what was found, as `hero_journal_open` reports it), or
/// NULL when it is whole (and for every journal from `hero_journal_open`).
///
/// The text belongs to `journal` and lives until `hero_journal_free`. NULL
/// for a NULL `journal`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_damage(journal: *const hero_journal) -> *const c_char {
    // SAFETY: NULL or a live hero_journal, per the contract above.
    unsafe { journal.as_ref() }.map_or(ptr::null(), |j| {
        j.damage.as_ref().map_or(ptr::null(), |d| d.as_ptr())
    })
}

/// Parses `"sent"` or `"not-sent"` into `*out`. `HERO_INVALID_ARGUMENT` for
/// any other name (`*out` unchanged); `HERO_NULL_ARGUMENT` /
/// `HERO_INVALID_UTF8` for a bad argument. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_resolution_from_name(
    name: *const c_char,
    out: *mut hero_resolution,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or NUL-terminated.
        let name = ffi_try!(unsafe { str_arg(name) });
        if out.is_null() {
            return HERO_NULL_ARGUMENT;
        }
        let value = match Resolution::parse(name) {
            Some(Resolution::Sent) => HERO_RESOLUTION_SENT,
            Some(Resolution::NotSent) => HERO_RESOLUTION_NOT_SENT,
            None => return HERO_INVALID_ARGUMENT,
        };
        // SAFETY: non-NULL, writable per the contract.
        unsafe { *out = value };
        HERO_OK
    })
}

/// The keys held back until resolved (the last attempt has no outcome, or
/// may have been sent), as JSON lines: one object per key with `key`,
/// `patient_id`, `attempted_at`, `reason`, `http_status`, each line ending
/// in a newline; an empty string when none.
///
/// On `HERO_OK`, `*lines_out` owns the text (free with `hero_string_free`).
/// `HERO_NULL_ARGUMENT` if an argument is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_pending(
    journal: *const hero_journal,
    lines_out: *mut *mut c_char,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        if lines_out.is_null() {
            return HERO_NULL_ARGUMENT;
        }
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *lines_out = ptr::null_mut() };
        // SAFETY: NULL or a live hero_journal.
        let journal = ffi_try!(unsafe { ref_arg(journal) });
        let mut text = String::new();
        for key in journal.journal.pending() {
            text.push_str(&key.to_json());
            text.push('\n');
        }
        // JSON escapes control characters: no NUL inside.
        let text = CString::new(text).unwrap_or_default();
        // SAFETY: checked non-NULL above.
        unsafe { *lines_out = text.into_raw() };
        HERO_OK
    })
}

/// Frees a string returned by this library (`hero_journal_pending`). NULL
/// is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn hero_string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: a string from CString::into_raw in this library, freed once.
        drop(unsafe { CString::from_raw(text) });
    }
}

/// Records how a flagged key was settled after checking in Hero
/// (`HERO_RESOLUTION_SENT` or `HERO_RESOLUTION_NOT_SENT`); only a key that
/// `hero_journal_pending` lists can be resolved.
///
/// `HERO_OK` once the record is on disk. `HERO_NOT_SENT` with `*error_out`
/// (if not NULL) when the key is unknown or not awaiting reconciliation
/// (kind `HERO_KIND_INVALID_INPUT`, field `"key"`) or the journal cannot be
/// written (`HERO_KIND_JOURNAL`). `HERO_INVALID_ARGUMENT` for an unknown
/// resolution. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_resolve(
    journal: *const hero_journal,
    key: *const c_char,
    resolution: hero_resolution,
    error_out: *mut *mut hero_error,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        if !error_out.is_null() {
            // SAFETY: non-NULL out pointer.
            unsafe { *error_out = ptr::null_mut() };
        }
        // SAFETY: NULL or a live handle / NUL-terminated string.
        let journal = ffi_try!(unsafe { ref_arg(journal) });
        let key = ffi_try!(unsafe { str_arg(key) });
        let resolution = match resolution {
            HERO_RESOLUTION_SENT => Resolution::Sent,
            HERO_RESOLUTION_NOT_SENT => Resolution::NotSent,
            _ => return HERO_INVALID_ARGUMENT,
        };
        match journal.journal.resolve(key, resolution) {
            Ok(()) => HERO_OK,
            // SAFETY: error_out is NULL or writable.
            Err(e) => unsafe { report(error_out, e) },
        }
    })
}

/// Sends `message` through `client` at most once per key, recorded in
/// `journal`. `key` names the send; NULL derives it from the request body
/// (an identical message gets the same key).
///
/// On `HERO_OK`, `*row_out` owns a report (free with
/// `hero_batch_row_free`) whose outcome says what happened: sent, already
/// sent (nothing sent now), needs reconciliation (an earlier send may have
/// gone; nothing sent now), invalid, not sent, refused, rate limited, may
/// have been sent or accepted with id unknown. `HERO_NULL_ARGUMENT` /
/// `HERO_INVALID_UTF8` for a bad argument (nothing sent).
///
/// Thread rules: any number of threads may send through one journal and
/// one client at once; `message` must not change during the call.
/// `HERO_INTERNAL_ERROR` (a bug caught at the boundary) may come after the
/// request went: treat it as may have been sent; the journal keeps the key
/// flagged for the next run.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_send(
    journal: *const hero_journal,
    client: *const hero_client,
    key: *const c_char,
    message: *const hero_message,
    row_out: *mut *mut hero_batch_row,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a writable out-parameter (documented).
        ffi_try!(unsafe { clear_outs(row_out, ptr::null_mut()) });
        // SAFETY: NULL or live handles / NUL-terminated string (documented).
        let journal = ffi_try!(unsafe { ref_arg(journal) });
        let client = ffi_try!(unsafe { ref_arg(client) });
        let message = ffi_try!(unsafe { ref_arg(message) });
        let Some(msg) = &message.msg else {
            return HERO_INTERNAL_ERROR;
        };
        let key = if key.is_null() {
            Journal::derived_key(msg)
        } else {
            // SAFETY: non-NULL, NUL-terminated.
            ffi_try!(unsafe { str_arg(key) }).to_owned()
        };
        let result = journal.journal.send(&client.client, &key, msg);
        let report = RowReport::of_send(0, key, result);
        // SAFETY: checked non-NULL above.
        unsafe { give(row_out, hero_batch_row::new(report)) };
        HERO_OK
    })
}

/// Frees a journal and releases its lock. NULL is ignored. No other thread
/// may be using it.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_free(journal: *mut hero_journal) {
    // SAFETY: NULL or a hero_journal from this library, freed once.
    unsafe { take(journal) }
}
