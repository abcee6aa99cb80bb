//! `hero_batch_*`: sending one message per row of a CSV or JSON Lines file.

use std::ffi::{CString, c_char, c_void};
use std::ptr;

use super::error::report;
use super::journal::hero_journal;
use super::row::{c_string, hero_batch_row, hero_row_outcome, outcome_to_c};
use super::{
    HERO_INTERNAL_ERROR, HERO_INVALID_ARGUMENT, HERO_OK, caught, clear_outs, ffi_try, give, guard,
    hero_client, hero_error, hero_status, ref_arg, str_arg, take,
};
use crate::batch::{BatchClass, BatchRunner, BatchSummary, RowOutcome, RowReport, StopToken};
use crate::{Error, ErrorKind, Outcome};

/// Settings of a batch (opaque): defaults for every row, concurrency,
/// check-only, a stop handle. One thread at a time; free with
/// `hero_batch_options_free`.
pub struct hero_batch_options {
    // `None` only if a panic interrupted a setter.
    pub(super) runner: Option<BatchRunner>,
    check_only: bool,
}

/// Stops a running batch (opaque): no new row starts; rows in flight finish
/// and are recorded. Thread-safe; `hero_batch_stop_trigger` is safe in a
/// signal handler. Free with `hero_batch_stop_free` after the batch ended.
pub struct hero_batch_stop {
    token: StopToken,
}

/// Counts per outcome (opaque), during a batch (valid only during the
/// callback) or at its end (free with `hero_batch_summary_free`).
/// Immutable: read it from any thread.
pub struct hero_batch_summary {
    summary: BatchSummary,
    progress: CString,
    line: CString,
    columns: CString,
}

/// What a whole batch means (`hero_batch_summary_class`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hero_batch_class {
    /// Every row is sent, already sent, a duplicate, accepted with id
    /// unknown, or (when checking) valid.
    HERO_BATCH_COMPLETE = 0,
    /// Some row may have been sent or needs reconciliation: check in Hero.
    HERO_BATCH_FLAGGED = 1,
    /// Otherwise some rows were not sent (invalid, refused, rate limited,
    /// not sent).
    HERO_BATCH_INCOMPLETE = 2,
}

/// Called once per finished row, on the thread that called
/// `hero_batch_run`, one call at a time. `row` and `progress` (counts so
/// far, and a progress line) are valid only during the call.
pub type hero_batch_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        row: *const hero_batch_row,
        progress: *const hero_batch_summary,
    ),
>;

impl hero_batch_summary {
    fn new(summary: &BatchSummary) -> Self {
        hero_batch_summary {
            progress: c_string(&summary.progress_line()),
            line: c_string(&summary.summary_line()),
            columns: c_string(&summary.columns().join("\n")),
            summary: summary.clone(),
        }
    }
}

/// Applies one setting to an options handle.
fn update<V>(
    options: *mut hero_batch_options,
    value: Result<V, hero_status>,
    apply: impl FnOnce(BatchRunner, V) -> BatchRunner,
) -> hero_status {
    super::update(options, |h| &mut h.runner, value, apply)
}

/// Creates batch settings: no defaults, concurrency 4, sending (not only
/// checking). On `HERO_OK`, `*options_out` owns them (free with
/// `hero_batch_options_free`); `HERO_NULL_ARGUMENT` if `options_out` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_new(options_out: *mut *mut hero_batch_options) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a writable out-parameter (documented).
        ffi_try!(unsafe { clear_outs(options_out, ptr::null_mut()) });
        let options = hero_batch_options {
            runner: Some(BatchRunner::new()),
            check_only: false,
        };
        // SAFETY: checked non-NULL above.
        unsafe { give(options_out, options) };
        HERO_OK
    })
}

/// Sets the value of request field `field` (its JSON name, e.g.
/// `"message_type"`, `"message_string"`) for rows that leave it empty or
/// have no such column. Both strings are copied.
///
/// `HERO_OK`; `HERO_INVALID_ARGUMENT` when `field` names no request field,
/// or one that says who receives the message (`patient_id`,
/// `recipient_contact_detail`, `fallback_contact_detail`: each row must give
/// its own, so a row missing one is invalid rather than sent to a default);
/// `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a bad argument (nothing
/// changed). One thread at a time per options.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_set_default(
    options: *mut hero_batch_options,
    field: *const c_char,
    value: *const c_char,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated strings (documented).
    let args = unsafe { str_arg(field).and_then(|f| Ok((f, str_arg(value)?))) };
    // The field name is checked before the handle is touched.
    let args = args.and_then(|(f, v)| {
        BatchRunner::new()
            .default_value(f, v)
            .map(|_| (f, v))
            .map_err(|_| HERO_INVALID_ARGUMENT)
    });
    update(options, args, |runner, (f, v)| {
        runner.clone().default_value(f, v).unwrap_or(runner)
    })
}

/// Reads the column headed `header` as field `field` (a request field, a
/// lookup field such as `nhs_number` or `dob`, or `key`), whatever the
/// header says: `("recipient_contact_detail", "Mobile Telephone")`. A later
/// mapping for the same field replaces the earlier one. Both strings are
/// copied.
///
/// `HERO_OK`; `HERO_INVALID_ARGUMENT` when `field` names nothing a column
/// may fill or `header` is empty; `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8`
/// for a bad argument (nothing changed). A header the file lacks, or two
/// headers for one field, make `hero_batch_run` fail before any request.
/// One thread at a time per options.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_set_column(
    options: *mut hero_batch_options,
    field: *const c_char,
    header: *const c_char,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated strings (documented).
    let args = unsafe { str_arg(field).and_then(|f| Ok((f, str_arg(header)?))) };
    // The mapping is checked before the handle is touched.
    let args = args.and_then(|(f, h)| {
        BatchRunner::new()
            .column(f, h)
            .map(|_| (f, h))
            .map_err(|_| HERO_INVALID_ARGUMENT)
    });
    update(options, args, |runner, (f, h)| {
        runner.clone().column(f, h).unwrap_or(runner)
    })
}

/// After each run, writes the CSV report at `path` (copied): the input's
/// rows in order with `outcome`, `message_id` and `reason` added, created
/// readable by its owner only on Unix. A path that cannot be created, or a
/// batch file that is not CSV, makes `hero_batch_run` fail before any
/// request.
///
/// `HERO_OK`; `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a bad
/// argument. One thread at a time per options.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_set_report(
    options: *mut hero_batch_options,
    path: *const c_char,
) -> hero_status {
    // SAFETY: NULL or a NUL-terminated string (documented).
    let path = unsafe { str_arg(path) };
    update(options, path, |runner, p| runner.report_csv(p))
}

/// Sets how many rows are sent at once over the shared client (default 4;
/// 0 counts as 1, more than 64 as 64). With 1, rows go in file order.
///
/// `HERO_OK`, or `HERO_NULL_ARGUMENT` if `options` is NULL. One thread at a
/// time per options.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_set_concurrency(
    options: *mut hero_batch_options,
    concurrency: u32,
) -> hero_status {
    update(options, Ok(()), |runner, ()| {
        runner.concurrency(concurrency as usize)
    })
}

/// With `on` true, `hero_batch_run` checks every row (placeholders and
/// every rule) and sends nothing: rows are `valid`, `invalid` or
/// `duplicate_in_file`, and the journal is not used.
///
/// `HERO_OK`, or `HERO_NULL_ARGUMENT` if `options` is NULL. One thread at a
/// time per options.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_set_check_only(
    options: *mut hero_batch_options,
    on: bool,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a live handle used by this thread only.
        let options = ffi_try!(unsafe { super::mut_arg(options) });
        options.check_only = on;
        HERO_OK
    })
}

/// Makes `stop` able to stop batches run with these options (the handle
/// is shared, not copied: triggering it later stops the batch).
///
/// `HERO_OK`, or `HERO_NULL_ARGUMENT` if an argument is NULL. One thread
/// at a time per options.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_set_stop(
    options: *mut hero_batch_options,
    stop: *const hero_batch_stop,
) -> hero_status {
    // SAFETY: NULL or a live hero_batch_stop.
    let token = unsafe { ref_arg(stop) }.map(|s| s.token.clone());
    update(options, token, |runner, token| runner.stop_token(token))
}

/// Frees batch settings. NULL is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_options_free(options: *mut hero_batch_options) {
    // SAFETY: NULL or a hero_batch_options from this library, freed once.
    unsafe { take(options) }
}

/// Creates a stop handle (not yet triggered). On `HERO_OK`, `*stop_out`
/// owns it (free with `hero_batch_stop_free`); `HERO_NULL_ARGUMENT` if
/// `stop_out` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_stop_new(stop_out: *mut *mut hero_batch_stop) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a writable out-parameter (documented).
        ffi_try!(unsafe { clear_outs(stop_out, ptr::null_mut()) });
        // SAFETY: checked non-NULL above.
        unsafe {
            give(
                stop_out,
                hero_batch_stop {
                    token: StopToken::new(),
                },
            )
        };
        HERO_OK
    })
}

/// Asks every batch using `stop` to stop: no new row starts; rows in flight
/// finish and are recorded, but start no further request (no retry after a
/// 429, none still waiting at the rate-limit gate); rows never started are
/// reported `not_sent` (invalid and duplicate rows keep those outcomes).
///
/// Async-signal-safe (one atomic store, no allocation, no lock): call it
/// from a SIGINT handler or a console control handler. Any thread. NULL is
/// ignored.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_stop_trigger(stop: *const hero_batch_stop) {
    // No panic boundary needed: an atomic store cannot panic.
    // SAFETY: NULL or a live hero_batch_stop.
    if let Some(stop) = unsafe { stop.as_ref() } {
        stop.token.stop();
    }
}

/// Frees a stop handle. NULL is ignored. No batch may be running with it,
/// and no signal handler may still call `hero_batch_stop_trigger` on it.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_stop_free(stop: *mut hero_batch_stop) {
    // SAFETY: NULL or a hero_batch_stop from this library, freed once.
    unsafe { take(stop) }
}

/// Sends one message per row of `path`: CSV with a header row (`.csv`) or
/// JSON Lines (`.jsonl`, `.ndjson`). Columns named as request fields fill
/// them; an optional `key` column names each send (without it the key is
/// derived from the request body); every other column fills `((name))`
/// placeholders in `message_string`. Each keyed send goes through
/// `journal`, so a rerun of the same file sends only what has not gone.
/// `journal` may be NULL (no memory across runs: for tests and
/// measurements only) and is not used when checking.
///
/// `callback` (may be NULL) runs on this thread once per row as rows
/// finish, one call at a time, with `user_data`.
///
/// On `HERO_OK` the batch ran (whatever its rows' outcomes) and
/// `*summary_out` owns the counts (free with `hero_batch_summary_free`).
/// On `HERO_NOT_SENT` the batch could not start (unreadable file, a CSV
/// without a header row, unknown file type): nothing was sent,
/// `*summary_out` is NULL and `*error_out` (if not NULL) says why.
/// `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for bad arguments. An
/// internal error during the batch is reported as `HERO_MAY_HAVE_BEEN_SENT`
/// (kind `HERO_KIND_INTERNAL`): rows may have gone, and the journal's
/// pending list shows which.
///
/// Blocks until every row is done or the batch is stopped. `client` and
/// `journal` may be used by other threads meanwhile.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_run(
    client: *const hero_client,
    journal: *const hero_journal,
    path: *const c_char,
    options: *const hero_batch_options,
    callback: hero_batch_callback,
    user_data: *mut c_void,
    summary_out: *mut *mut hero_batch_summary,
    error_out: *mut *mut hero_error,
) -> hero_status {
    let status = caught(|| {
        // SAFETY: NULL or writable out-parameters (documented).
        ffi_try!(unsafe { clear_outs(summary_out, error_out) });
        // SAFETY: NULL or live handles / NUL-terminated string (documented).
        let client = ffi_try!(unsafe { ref_arg(client) });
        let options = ffi_try!(unsafe { ref_arg(options) });
        let path = ffi_try!(unsafe { str_arg(path) });
        // SAFETY: NULL or a live hero_journal.
        let journal = unsafe { journal.as_ref() }.map(|j| &j.journal);
        let Some(runner) = &options.runner else {
            return HERO_INTERNAL_ERROR;
        };
        let on_row = |report: &RowReport, progress: &BatchSummary| {
            if let Some(cb) = callback {
                let row = hero_batch_row::new(report.clone());
                let progress = hero_batch_summary::new(progress);
                // SAFETY: the caller's function and data, on the caller's thread.
                unsafe { cb(user_data, &row, &progress) };
            }
        };
        let result = if options.check_only {
            runner.check(&client.client, path, on_row)
        } else {
            runner.run(&client.client, journal, path, on_row)
        };
        match result {
            Ok(summary) => {
                // SAFETY: checked non-NULL above.
                unsafe { give(summary_out, hero_batch_summary::new(&summary)) };
                HERO_OK
            }
            // SAFETY: error_out is NULL or writable.
            Err(e) => unsafe { report(error_out, e) },
        }
    });
    // A bug inside the batch: rows may have gone (the journal holds their
    // attempt records), so say so, as `hero_client_send` does.
    status.unwrap_or_else(|| {
        let e = Error::new(
            Outcome::MayHaveBeenSent,
            ErrorKind::Internal,
            "internal error during the batch: rows may have been sent (the journal lists them as pending)",
        );
        // SAFETY: error_out is NULL or writable, and was cleared before the batch began.
        unsafe { report(error_out, e) }
    })
}

/// Which case the batch is in: `HERO_BATCH_COMPLETE`, `HERO_BATCH_FLAGGED`
/// (some row may have been sent or needs reconciliation) or
/// `HERO_BATCH_INCOMPLETE` (otherwise some row was not sent).
/// `HERO_BATCH_FLAGGED` (the safe assumption) if `summary` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_summary_class(summary: *const hero_batch_summary) -> hero_batch_class {
    // SAFETY: NULL or a live hero_batch_summary.
    match unsafe { summary.as_ref() }.map(|s| s.summary.class()) {
        Some(BatchClass::Complete) => hero_batch_class::HERO_BATCH_COMPLETE,
        Some(BatchClass::Incomplete) => hero_batch_class::HERO_BATCH_INCOMPLETE,
        _ => hero_batch_class::HERO_BATCH_FLAGGED,
    }
}

/// The exit code a command-line tool gives for a finished batch (the rule
/// `hero_send --batch` uses): 0 every row done, 6 some row may have been
/// sent or needs reconciliation, 9 some rows not sent; 6 (the safe
/// assumption) if `summary` is NULL. Read from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_summary_exit_code(summary: *const hero_batch_summary) -> i32 {
    // SAFETY: NULL or a live hero_batch_summary.
    unsafe { summary.as_ref() }.map_or(crate::exit_code::MAY_HAVE_BEEN_SENT, |s| {
        crate::exit_code::for_batch(s.summary.class())
    })
}

/// How many rows ended with `outcome`, a `HERO_ROW_*` value; 0 for any
/// other value or a NULL `summary`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_summary_count(
    summary: *const hero_batch_summary,
    outcome: hero_row_outcome,
) -> u64 {
    // SAFETY: NULL or a live hero_batch_summary.
    let Some(s) = (unsafe { summary.as_ref() }) else {
        return 0;
    };
    RowOutcome::ALL
        .into_iter()
        .find(|o| outcome_to_c(*o) == outcome)
        .map_or(0, |o| s.summary.count(o) as u64)
}

/// A progress line: rows done of total, counts per outcome, rows per
/// second, time left. Borrowed from `summary`; NULL if `summary` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_summary_progress_line(
    summary: *const hero_batch_summary,
) -> *const c_char {
    // SAFETY: NULL or a live hero_batch_summary.
    unsafe { summary.as_ref() }.map_or(ptr::null(), |s| s.progress.as_ptr())
}

/// The one-line summary: rows done of total, time, counts per outcome,
/// and what to do next. Borrowed from `summary`; NULL if `summary` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_summary_line(summary: *const hero_batch_summary) -> *const c_char {
    // SAFETY: NULL or a live hero_batch_summary.
    unsafe { summary.as_ref() }.map_or(ptr::null(), |s| s.line.as_ptr())
}

/// When only checking: one line per column of the file (`column "NHS
/// Number": nhs_number`), saying how each header was understood, joined by
/// newlines; empty after a run. Borrowed from `summary`; NULL if `summary`
/// is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_summary_columns(summary: *const hero_batch_summary) -> *const c_char {
    // SAFETY: NULL or a live hero_batch_summary.
    unsafe { summary.as_ref() }.map_or(ptr::null(), |s| s.columns.as_ptr())
}

/// Frees a summary from `hero_batch_run`. NULL is ignored. Never pass the
/// one given to a `hero_batch_callback`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_summary_free(summary: *mut hero_batch_summary) {
    // SAFETY: NULL or a hero_batch_summary from hero_batch_run, freed once.
    unsafe { take(summary) }
}
