//! The exit code of a command-line send (`hero_send`'s), from what a
//! failure means: kept in the library so a single send, a batch and any
//! other tool read an outcome the same way, by the same classification
//! as a batch row's.

use crate::PatientAnswer;
use crate::batch::{BatchClass, RowOutcome};
use crate::error::{Error, ErrorKind};
use crate::journal::Salvage;

/// Sent (or, for a batch, every row done).
pub(crate) const SENT: i32 = 0;
/// Invalid input, configuration or journal: nothing was sent.
pub(crate) const INVALID: i32 = 2;
/// Hero refused it (other than 429).
pub(crate) const REFUSED: i32 = 3;
/// Rate limited, by Hero's 429 or the client's own gate: not sent.
pub(crate) const RATE_LIMITED: i32 = 4;
/// Could not connect (DNS, connect, TLS, proxy, deadline): not sent.
pub(crate) const NOT_CONNECTED: i32 = 5;
/// May have been sent, or needs reconciliation: check in Hero.
pub(crate) const MAY_HAVE_BEEN_SENT: i32 = 6;
/// Accepted, but the reply was unreadable: do not resend.
pub(crate) const ACCEPTED_ID_UNKNOWN: i32 = 7;
/// The patient must verify their identity with Hero first: nothing sent.
pub(crate) const VERIFY_IDENTITY: i32 = 8;
/// Cancelled (Ctrl-C) before anything left: the shell's code for an
/// interrupted command. Cancelled after the request left exits 6.
pub(crate) const CANCELLED: i32 = 130;
/// A batch finished with rows not sent.
pub(crate) const BATCH_INCOMPLETE: i32 = 9;

/// The exit code for a failed call. A rate-limited send exits 4 whether
/// Hero answered 429 or the client's gate held it back (not sent), as its
/// batch row reads `rate_limited`.
pub(crate) fn for_error(e: &Error) -> i32 {
    match RowOutcome::of_error(e) {
        RowOutcome::Invalid => INVALID,
        RowOutcome::RateLimited => RATE_LIMITED,
        RowOutcome::NotSent => match e.kind() {
            ErrorKind::Cancelled => CANCELLED,
            ErrorKind::Config | ErrorKind::Journal | ErrorKind::Internal => INVALID,
            _ => NOT_CONNECTED,
        },
        RowOutcome::Refused => REFUSED,
        RowOutcome::AcceptedIdUnknown => ACCEPTED_ID_UNKNOWN,
        // May have been sent, needs reconciliation, or anything new: the
        // unsafe case.
        _ => MAY_HAVE_BEEN_SENT,
    }
}

/// The exit code for a lookup's answer (a failed lookup is an [`Error`]
/// like any other: never *may have been sent*). Verification required is
/// not a failure, but nothing was sent, so a script must not read it as 0.
pub(crate) fn for_patient(answer: &PatientAnswer) -> i32 {
    match answer {
        PatientAnswer::Found { .. } => SENT,
        PatientAnswer::VerificationRequired { .. } => VERIFY_IDENTITY,
    }
}

/// The exit code for a finished batch.
pub(crate) fn for_batch(class: BatchClass) -> i32 {
    match class {
        BatchClass::Complete => SENT,
        BatchClass::Incomplete => BATCH_INCOMPLETE,
        _ => MAY_HAVE_BEEN_SENT,
    }
}

/// The exit code for a finished salvage: anything flagged waits for a check
/// in Hero, and without the rows file a row whose every record was lost
/// cannot be named, so a rerun could send it again: both read as "may have
/// been sent". Only a salvage with the rows file that flagged nothing is 0.
pub(crate) fn for_salvage(salvage: &Salvage) -> i32 {
    if salvage.flagged > 0 || salvage.unnamed_rows.is_none() {
        MAY_HAVE_BEEN_SENT
    } else {
        SENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Outcome;

    #[test]
    fn each_failure_has_its_exit_code() {
        let e = |o, k| for_error(&Error::new(o, k, "x"));
        use ErrorKind as K;
        use Outcome as O;
        assert_eq!(e(O::NotSent, K::InvalidInput), INVALID);
        assert_eq!(e(O::NotSent, K::Config), INVALID);
        assert_eq!(e(O::NotSent, K::Journal), INVALID);
        assert_eq!(e(O::NotSent, K::Connect), NOT_CONNECTED);
        assert_eq!(e(O::NotSent, K::Dns), NOT_CONNECTED);
        assert_eq!(e(O::NotSent, K::Timeout), NOT_CONNECTED);
        // The gate's refusal to wait and Hero's 429 read alike.
        assert_eq!(e(O::NotSent, K::RateLimited), RATE_LIMITED);
        assert_eq!(e(O::Refused, K::RateLimited), RATE_LIMITED);
        assert_eq!(e(O::Refused, K::HttpStatus), REFUSED);
        assert_eq!(e(O::MayHaveBeenSent, K::HttpStatus), MAY_HAVE_BEEN_SENT);
        assert_eq!(e(O::NotSent, K::NeedsReconciliation), MAY_HAVE_BEEN_SENT);
        assert_eq!(e(O::NotSent, K::Cancelled), CANCELLED);
        assert_eq!(e(O::MayHaveBeenSent, K::Cancelled), MAY_HAVE_BEEN_SENT);
        assert_eq!(
            e(O::AcceptedIdUnknown, K::UnreadableResponse),
            ACCEPTED_ID_UNKNOWN
        );
        assert_eq!(for_batch(BatchClass::Flagged), MAY_HAVE_BEEN_SENT);
        assert_eq!(for_batch(BatchClass::Incomplete), BATCH_INCOMPLETE);
    }

    #[test]
    fn rows_a_lookup_held_back_leave_the_batch_incomplete() {
        // Nothing was sent for them, so a script must not read 0; nothing
        // may have gone, so not 6 either.
        for held in [RowOutcome::VerifyIdentity, RowOutcome::PatientNotFound] {
            let mut s = crate::batch::BatchSummary::new(2);
            s.add(RowOutcome::Sent);
            s.add(held);
            assert_eq!(for_batch(s.class()), BATCH_INCOMPLETE, "{held:?}");
        }
    }

    #[test]
    fn a_lookup_exits_by_its_answer_and_its_failures_as_not_sent() {
        let found = PatientAnswer::Found {
            patient_id: "p".into(),
        };
        let verify = PatientAnswer::VerificationRequired {
            login_url: "u".into(),
            message: String::new(),
        };
        assert_eq!(for_patient(&found), SENT);
        assert_eq!(for_patient(&verify), VERIFY_IDENTITY);
        // The lookup's rules give only these outcomes: a 5xx or a lost reply
        // after the retries is "could not complete", a 404 "refused".
        let e = |o, k| for_error(&Error::new(o, k, "x"));
        use ErrorKind as K;
        use Outcome as O;
        assert_eq!(e(O::NotSent, K::HttpStatus), NOT_CONNECTED);
        assert_eq!(e(O::NotSent, K::ConnectionLost), NOT_CONNECTED);
        assert_eq!(e(O::NotSent, K::UnreadableResponse), NOT_CONNECTED);
        assert_eq!(e(O::Refused, K::HttpStatus), REFUSED);
    }

    #[test]
    fn a_salvage_exits_6_when_it_flagged_anything_or_had_no_rows_file() {
        let salvage = |flagged, unnamed_rows| Salvage {
            flagged,
            sent: 3,
            damage: Some("damage".into()),
            window_ms: (None, None),
            unnamed_rows,
        };
        assert_eq!(for_salvage(&salvage(1, Some(0))), MAY_HAVE_BEEN_SENT);
        assert_eq!(for_salvage(&salvage(0, None)), MAY_HAVE_BEEN_SENT);
        assert_eq!(for_salvage(&salvage(0, Some(0))), SENT);
    }
}
