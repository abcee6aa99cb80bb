//! `hero_journal_salvage` and its report: a new journal written from a
//! damaged one, optionally with the batch's rows file.

use std::ffi::c_char;
use std::ptr;

use super::batch::hero_batch_options;
use super::error::report;
use super::{
    HERO_INTERNAL_ERROR, HERO_OK, ffi_try, guard, hero_client, hero_error, hero_status, ref_arg,
    str_arg,
};
use crate::Journal;

/// What `hero_journal_salvage` wrote and found. Plain values, the caller's
/// to keep.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct hero_salvage_report {
    /// Keys written flagged (each waits for a check in Hero and a
    /// resolution), including `unnamed_rows`.
    pub flagged: usize,
    /// Keys proven sent, written as sent.
    pub sent: usize,
    /// With a rows file: its rows that no readable record names, flagged
    /// too (a row never attempted is safe to flag). 0 without one.
    pub unnamed_rows: usize,
    /// 1 when a rows file was given, so every key lost entirely is among
    /// the flagged; 0 when such keys cannot be named.
    pub rows_given: u32,
    /// 1 when the journal was damaged (what `hero_journal_open` refuses).
    pub damaged: u32,
    /// The last time (milliseconds since 1970) a readable record before the
    /// damage shows; 0 when none. A send whose every record was lost
    /// happened after it.
    pub window_from_ms: u64,
    /// The first time a readable record after the damage shows; 0 when
    /// none (the damage runs to the end, or there is none).
    pub window_to_ms: u64,
    /// `hero_send`'s exit code for this salvage: 6 when anything is flagged
    /// or, without a rows file, a row may have been lost unseen; else 0.
    pub exit_code: i32,
}

/// Writes a new journal at `new_path` (which must not exist) from what the
/// journal at `damaged_path` still shows, leaving that one unchanged: keys
/// proven sent stay sent, and every other key a readable record names is
/// flagged, to be checked in Hero and resolved before it is sent again.
///
/// With `rows_path` (the batch's rows file, read with `client`'s checks and
/// `options`' defaults as `hero_batch_run` reads it), every row that no
/// readable record names is flagged too: that covers a row whose every
/// record was lost. Without it (`rows_path` NULL; `client` and `options`
/// then unused, may be NULL) such a row cannot be named: check in Hero what
/// was sent between `window_from_ms` and `window_to_ms` before rerunning.
///
/// `HERO_OK` once the new journal is on disk; then `*report_out` (if not
/// NULL) says what was written. `HERO_NOT_SENT` with `*error_out` (if not
/// NULL, kind `HERO_KIND_JOURNAL`) when `damaged_path` does not exist or is
/// held by another process, or `new_path` exists or cannot be written (kind
/// `HERO_KIND_INVALID_INPUT` when the rows file cannot be read).
/// `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a bad path, or a NULL
/// `client` or `options` with a `rows_path`. Any thread; the strings are
/// only read during the call; `client` and `options` may be used by other
/// threads meanwhile, but `options` not changed.
#[unsafe(no_mangle)]
pub extern "C" fn hero_journal_salvage(
    damaged_path: *const c_char,
    new_path: *const c_char,
    client: *const hero_client,
    options: *const hero_batch_options,
    rows_path: *const c_char,
    report_out: *mut hero_salvage_report,
    error_out: *mut *mut hero_error,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        if !error_out.is_null() {
            // SAFETY: non-NULL out pointer.
            unsafe { *error_out = ptr::null_mut() };
        }
        // SAFETY: NULL or NUL-terminated strings.
        let damaged_path = ffi_try!(unsafe { str_arg(damaged_path) });
        let new_path = ffi_try!(unsafe { str_arg(new_path) });
        let result = if rows_path.is_null() {
            Journal::salvage(damaged_path, new_path)
        } else {
            // SAFETY: NULL or live handles / a NUL-terminated string.
            let rows_path = ffi_try!(unsafe { str_arg(rows_path) });
            let client = ffi_try!(unsafe { ref_arg(client) });
            let options = ffi_try!(unsafe { ref_arg(options) });
            let Some(runner) = &options.runner else {
                return HERO_INTERNAL_ERROR;
            };
            runner.salvage(&client.client, rows_path, damaged_path, new_path)
        };
        match result {
            Ok(salvage) => {
                if !report_out.is_null() {
                    let report = hero_salvage_report {
                        flagged: salvage.flagged,
                        sent: salvage.sent,
                        unnamed_rows: salvage.unnamed_rows.unwrap_or(0),
                        rows_given: u32::from(salvage.unnamed_rows.is_some()),
                        damaged: u32::from(salvage.damage.is_some()),
                        window_from_ms: salvage.window_ms.0.unwrap_or(0),
                        window_to_ms: salvage.window_ms.1.unwrap_or(0),
                        exit_code: crate::exit_code::for_salvage(&salvage),
                    };
                    // SAFETY: non-NULL and writable per the contract.
                    unsafe { *report_out = report };
                }
                HERO_OK
            }
            // SAFETY: error_out is NULL or writable.
            Err(e) => unsafe { report(error_out, e) },
        }
    })
}
