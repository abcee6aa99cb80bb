//! `hero_batch_row_*`: how one row (or one keyed send) ended. Its own
//! module because both a batch and the journal's single send return one.

use std::ffi::{CString, c_char};
use std::ptr;

use super::take;
use crate::batch::{RowOutcome, RowReport};

/// How one row ended (opaque). Immutable: read it from any thread. A row
/// passed to a `hero_batch_callback` is valid only during the call; one
/// from `hero_journal_send` until `hero_batch_row_free`.
pub struct hero_batch_row {
    report: RowReport,
    json: CString,
    key: Option<CString>,
    message_id: Option<CString>,
}

/// What became of a row (`hero_batch_row_outcome`, `hero_batch_summary_count`);
/// the names are the `outcome` values of the row's JSON. A plain integer,
/// not a Rust enum, so a value C passes in can never be out of range.
pub type hero_row_outcome = u32;
/// Checked only (nothing sent): the row is sendable. `"valid"`
pub const HERO_ROW_VALID: hero_row_outcome = 1;
/// Sent now. `"sent"`
pub const HERO_ROW_SENT: hero_row_outcome = 2;
/// The journal shows it accepted before: not sent again. `"already_sent"`
pub const HERO_ROW_ALREADY_SENT: hero_row_outcome = 3;
/// An earlier row is the same message: sent once, there. `"duplicate_in_file"`
pub const HERO_ROW_DUPLICATE_IN_FILE: hero_row_outcome = 4;
/// A field or placeholder breaks a rule: not sent. `"invalid"`
pub const HERO_ROW_INVALID: hero_row_outcome = 5;
/// Not sent (connect failure, deadline, journal, batch stopped). `"not_sent"`
pub const HERO_ROW_NOT_SENT: hero_row_outcome = 6;
/// Hero did not process it (other than 429). `"refused"`
pub const HERO_ROW_REFUSED: hero_row_outcome = 7;
/// Stopped by a 429 or the client's rate-limit gate: not sent. `"rate_limited"`
pub const HERO_ROW_RATE_LIMITED: hero_row_outcome = 8;
/// Request sent, no clear answer: check in Hero. `"may_have_been_sent"`
pub const HERO_ROW_MAY_HAVE_BEEN_SENT: hero_row_outcome = 9;
/// Accepted (2xx), reply unreadable: do not resend. `"accepted_id_unknown"`
pub const HERO_ROW_ACCEPTED_ID_UNKNOWN: hero_row_outcome = 10;
/// An earlier send of this key may have gone: not sent until the key is
/// resolved. `"needs_reconciliation"`
pub const HERO_ROW_NEEDS_RECONCILIATION: hero_row_outcome = 11;
/// The patient lookup asks the patient to verify their identity first:
/// not sent. `"verify_identity"` (the link is in the row's JSON `login_url`)
pub const HERO_ROW_VERIFY_IDENTITY: hero_row_outcome = 12;
/// The patient lookup found no patient: not sent. `"patient_not_found"`
pub const HERO_ROW_PATIENT_NOT_FOUND: hero_row_outcome = 13;

pub(super) fn outcome_to_c(o: RowOutcome) -> hero_row_outcome {
    match o {
        RowOutcome::Valid => HERO_ROW_VALID,
        RowOutcome::Sent => HERO_ROW_SENT,
        RowOutcome::AlreadySent => HERO_ROW_ALREADY_SENT,
        RowOutcome::DuplicateInFile => HERO_ROW_DUPLICATE_IN_FILE,
        RowOutcome::Invalid => HERO_ROW_INVALID,
        RowOutcome::NotSent => HERO_ROW_NOT_SENT,
        RowOutcome::Refused => HERO_ROW_REFUSED,
        RowOutcome::RateLimited => HERO_ROW_RATE_LIMITED,
        RowOutcome::AcceptedIdUnknown => HERO_ROW_ACCEPTED_ID_UNKNOWN,
        RowOutcome::NeedsReconciliation => HERO_ROW_NEEDS_RECONCILIATION,
        RowOutcome::VerifyIdentity => HERO_ROW_VERIFY_IDENTITY,
        RowOutcome::PatientNotFound => HERO_ROW_PATIENT_NOT_FOUND,
        // Anything new is treated as the unsafe case.
        _ => HERO_ROW_MAY_HAVE_BEEN_SENT,
    }
}

pub(super) fn c_string(s: &str) -> CString {
    // Keys, ids and JSON never hold a NUL (JSON escapes it); stay total.
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl hero_batch_row {
    pub(super) fn new(report: RowReport) -> Self {
        hero_batch_row {
            json: c_string(&report.to_json()),
            key: report.key.as_deref().map(c_string),
            message_id: report.message_id.as_deref().map(c_string),
            report,
        }
    }
}

/// The row as one JSON object: `row` (1-based data row; 0 for
/// `hero_journal_send`), `key`, `outcome`, `message_id`, `http_status`,
/// `error` (null where not applicable; never the message text, contact
/// details or the API key). Borrowed from `row`; NULL if `row` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_row_json(row: *const hero_batch_row) -> *const c_char {
    // SAFETY: NULL or a live hero_batch_row.
    unsafe { row.as_ref() }.map_or(ptr::null(), |r| r.json.as_ptr())
}

/// What became of the row; `HERO_ROW_MAY_HAVE_BEEN_SENT` (the safe
/// assumption) if `row` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_row_outcome(row: *const hero_batch_row) -> hero_row_outcome {
    // SAFETY: NULL or a live hero_batch_row.
    unsafe { row.as_ref() }.map_or(HERO_ROW_MAY_HAVE_BEEN_SENT, |r| {
        outcome_to_c(r.report.outcome)
    })
}

/// The row's key; NULL when the row was too broken to have one or `row` is
/// NULL. Borrowed from `row`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_row_key(row: *const hero_batch_row) -> *const c_char {
    // SAFETY: NULL or a live hero_batch_row.
    unsafe { row.as_ref() }
        .and_then(|r| r.key.as_ref())
        .map_or(ptr::null(), |k| k.as_ptr())
}

/// Hero's message id for the row, when known; NULL otherwise. Borrowed
/// from `row`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_row_message_id(row: *const hero_batch_row) -> *const c_char {
    // SAFETY: NULL or a live hero_batch_row.
    unsafe { row.as_ref() }
        .and_then(|r| r.message_id.as_ref())
        .map_or(ptr::null(), |k| k.as_ptr())
}

/// Frees a row from `hero_journal_send`. NULL is ignored. Never pass a row
/// given to a `hero_batch_callback`: the library frees those.
#[unsafe(no_mangle)]
pub extern "C" fn hero_batch_row_free(row: *mut hero_batch_row) {
    // SAFETY: NULL or a hero_batch_row from hero_journal_send, freed once.
    unsafe { take(row) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_c_value() {
        let mut seen: Vec<u32> = RowOutcome::ALL.iter().map(|o| outcome_to_c(*o)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), RowOutcome::ALL.len());
    }
}
