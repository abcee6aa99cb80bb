//! What became of each row, how it reads (a JSON line, a text line), and the
//! whole batch's counts and class.

use std::fmt::Write as _;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Outcome};
use crate::journal::Keyed;

/// What became of one row. The names are the `outcome` values of
/// [`RowReport::to_json`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowOutcome {
    /// Checked only (nothing sent): the row is sendable.
    Valid,
    /// Sent now; Hero's message id is known.
    Sent,
    /// The journal shows this key accepted before: not sent again.
    AlreadySent,
    /// An earlier row of the file is the same message: sent once, there.
    DuplicateInFile,
    /// A field or placeholder breaks a rule: not sent.
    Invalid,
    /// Not sent (connect failure, deadline, journal unwritable, batch stopped).
    NotSent,
    /// Hero answered and did not process it (other than 429).
    Refused,
    /// Stopped by a 429, or by the client's rate-limit gate: not sent.
    RateLimited,
    /// The request went out and no clear answer came back: check in Hero.
    MayHaveBeenSent,
    /// Hero accepted it (2xx) but the reply was unreadable: do not resend.
    AcceptedIdUnknown,
    /// The journal shows an earlier send of this key that may have gone:
    /// not sent until the key is resolved.
    NeedsReconciliation,
    /// The patient lookup asks the patient to verify their identity first
    /// (the link is in [`RowReport::login_url`]): not sent.
    VerifyIdentity,
    /// The patient lookup found no patient (PDS found no match): not sent.
    PatientNotFound,
}

impl RowOutcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [RowOutcome; 13] = [
        RowOutcome::Valid,
        RowOutcome::Sent,
        RowOutcome::AlreadySent,
        RowOutcome::DuplicateInFile,
        RowOutcome::AcceptedIdUnknown,
        RowOutcome::MayHaveBeenSent,
        RowOutcome::NeedsReconciliation,
        RowOutcome::Invalid,
        RowOutcome::NotSent,
        RowOutcome::Refused,
        RowOutcome::RateLimited,
        RowOutcome::VerifyIdentity,
        RowOutcome::PatientNotFound,
    ];

    /// The JSON name, e.g. `"already_sent"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Valid => "valid",
            RowOutcome::Sent => "sent",
            RowOutcome::AlreadySent => "already_sent",
            RowOutcome::DuplicateInFile => "duplicate_in_file",
            RowOutcome::Invalid => "invalid",
            RowOutcome::NotSent => "not_sent",
            RowOutcome::Refused => "refused",
            RowOutcome::RateLimited => "rate_limited",
            RowOutcome::MayHaveBeenSent => "may_have_been_sent",
            RowOutcome::AcceptedIdUnknown => "accepted_id_unknown",
            RowOutcome::NeedsReconciliation => "needs_reconciliation",
            RowOutcome::VerifyIdentity => "verify_identity",
            RowOutcome::PatientNotFound => "patient_not_found",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }

    /// The outcome of a failed send.
    pub(crate) fn of_error(e: &Error) -> RowOutcome {
        match (e.kind(), e.outcome()) {
            (ErrorKind::NeedsReconciliation, _) => RowOutcome::NeedsReconciliation,
            (ErrorKind::InvalidInput, Outcome::NotSent) => RowOutcome::Invalid,
            (ErrorKind::RateLimited, Outcome::NotSent | Outcome::Refused) => {
                RowOutcome::RateLimited
            }
            (_, Outcome::NotSent) => RowOutcome::NotSent,
            (_, Outcome::Refused) => RowOutcome::Refused,
            (_, Outcome::AcceptedIdUnknown) => RowOutcome::AcceptedIdUnknown,
            _ => RowOutcome::MayHaveBeenSent,
        }
    }
}

/// How one row (or one keyed send) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReport {
    /// 1-based data row (the header is not counted); 0 for a single send.
    pub row: usize,
    /// The send's key (from the `key` column or derived from the body);
    /// `None` when the row was too broken to have one.
    pub key: Option<String>,
    /// What happened.
    pub outcome: RowOutcome,
    /// Hero's message id, when known.
    pub message_id: Option<String>,
    /// The HTTP status of Hero's answer, when there was one.
    pub http_status: Option<u16>,
    /// Why the row was not sent (the library's error text: never the
    /// message text, contact details or the key's secret).
    pub error: Option<String>,
    /// The link where the patient verifies their identity, when the lookup
    /// asked for it ([`RowOutcome::VerifyIdentity`]), for the practice to
    /// pass on.
    pub login_url: Option<String>,
}

impl RowReport {
    pub(super) fn new(row: usize, key: Option<String>, outcome: RowOutcome) -> Self {
        RowReport {
            row,
            key,
            outcome,
            message_id: None,
            http_status: None,
            error: None,
            login_url: None,
        }
    }

    pub(super) fn failed(row: usize, key: Option<String>, e: &Error) -> Self {
        RowReport {
            http_status: e.status(),
            error: Some(e.to_string()),
            ..RowReport::new(row, key, RowOutcome::of_error(e))
        }
    }

    /// The report of a keyed send.
    pub(crate) fn of_send(row: usize, key: String, result: Result<Keyed, Error>) -> Self {
        match result {
            Ok(Keyed::Sent(reply)) => RowReport {
                message_id: Some(reply.message_id().to_owned()),
                // Hero's reference names 200 as its only success status.
                http_status: Some(200),
                ..RowReport::new(row, Some(key), RowOutcome::Sent)
            },
            Ok(Keyed::AlreadySent { message_id }) => RowReport {
                message_id,
                ..RowReport::new(row, Some(key), RowOutcome::AlreadySent)
            },
            Err(e) => RowReport::failed(row, Some(key), &e),
        }
    }

    /// One JSON object: `row`, `key`, `outcome`, `message_id`,
    /// `http_status`, `error` (null where not applicable), then `login_url`
    /// only for a `verify_identity` row.
    pub fn to_json(&self) -> String {
        // A struct, not a map, so the keys keep this documented order.
        #[derive(serde::Serialize)]
        struct Line<'a> {
            row: usize,
            key: Option<&'a str>,
            outcome: &'a str,
            message_id: Option<&'a str>,
            http_status: Option<u16>,
            error: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            login_url: Option<&'a str>,
        }
        serde_json::to_string(&Line {
            row: self.row,
            key: self.key.as_deref(),
            outcome: self.outcome.as_str(),
            message_id: self.message_id.as_deref(),
            http_status: self.http_status,
            error: self.error.as_deref(),
            login_url: self.login_url.as_deref(),
        })
        .unwrap_or_default()
    }
}

/// What a whole batch means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchClass {
    /// Every row is sent, already sent, a duplicate, accepted with id
    /// unknown, or (when checking) valid.
    Complete,
    /// Some row may have been sent or needs reconciliation: check in Hero.
    Flagged,
    /// Otherwise, some rows were not sent (invalid, refused, rate limited,
    /// not sent).
    Incomplete,
}

/// Counts per outcome, while running and at the end.
#[derive(Debug, Clone)]
pub struct BatchSummary {
    pub(super) counts: [usize; RowOutcome::ALL.len()],
    pub(super) total: usize,
    pub(super) done: usize,
    pub(super) elapsed: Duration,
    /// Rows were only checked, not sent.
    pub(super) checking: bool,
    /// The journal failed mid-batch (why): no row started after that.
    pub(super) journal_failure: Option<String>,
    /// When checking: how each column was understood.
    pub(super) columns: Vec<String>,
}

impl BatchSummary {
    pub(crate) fn new(total: usize) -> Self {
        BatchSummary {
            counts: [0; RowOutcome::ALL.len()],
            total,
            done: 0,
            elapsed: Duration::ZERO,
            checking: false,
            journal_failure: None,
            columns: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, outcome: RowOutcome) {
        self.counts[outcome.index()] += 1;
        self.done += 1;
    }

    /// Rows that ended with `outcome`.
    pub fn count(&self, outcome: RowOutcome) -> usize {
        self.counts[outcome.index()]
    }

    /// Data rows in the file.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Rows finished so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// When checking, one line per column of the file saying how its
    /// header was understood (`column "NHS Number": nhs_number`); empty
    /// after a run.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Time since the batch started.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Which of the three cases the batch is in.
    pub fn class(&self) -> BatchClass {
        use RowOutcome::*;
        let any = |list: &[RowOutcome]| list.iter().any(|o| self.count(*o) > 0);
        if any(&[MayHaveBeenSent, NeedsReconciliation]) {
            BatchClass::Flagged
        } else if any(&[
            Invalid,
            NotSent,
            Refused,
            RateLimited,
            VerifyIdentity,
            PatientNotFound,
        ]) || self.done < self.total
        {
            BatchClass::Incomplete
        } else {
            BatchClass::Complete
        }
    }

    fn counts_text(&self) -> String {
        let mut out = String::new();
        for o in RowOutcome::ALL {
            let n = self.count(o);
            if n > 0 {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                let _ = write!(out, "{n} {}", o.as_str());
            }
        }
        if out.is_empty() {
            out.push_str("nothing yet");
        }
        out
    }

    /// A live progress line: done/total, counts, rate, time left.
    pub fn progress_line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        };
        let left = if rate > 0.0 {
            format!("about {:.0} s left", (self.total - self.done) as f64 / rate)
        } else {
            "time left unknown".to_owned()
        };
        format!(
            "{}/{} rows: {}; {rate:.1} rows/s, {left}",
            self.done,
            self.total,
            self.counts_text()
        )
    }

    /// The one-line summary at the end, with what to do next.
    pub fn summary_line(&self) -> String {
        let advice = match self.class() {
            BatchClass::Complete => "",
            BatchClass::Flagged => {
                " - some rows may have reached the patient: check them in Hero, then resolve their keys"
            }
            BatchClass::Incomplete if self.checking => " - some rows cannot be sent",
            BatchClass::Incomplete => " - some rows were not sent",
        };
        let journal = match &self.journal_failure {
            Some(cause) => format!(" - the journal failed ({cause}): no row started after that"),
            None => String::new(),
        };
        format!(
            "batch {}: {} of {} rows in {:.1} s: {}{advice}{journal}",
            if self.checking { "checked" } else { "done" },
            self.done,
            self.total,
            self.elapsed.as_secs_f64(),
            self.counts_text()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_worst_row() {
        let mut s = BatchSummary::new(3);
        s.add(RowOutcome::Sent);
        s.add(RowOutcome::AcceptedIdUnknown);
        s.add(RowOutcome::DuplicateInFile);
        assert_eq!(s.class(), BatchClass::Complete);
        s.total = 4;
        assert_eq!(s.class(), BatchClass::Incomplete, "a row not reported");
        s.add(RowOutcome::RateLimited);
        assert_eq!(s.class(), BatchClass::Incomplete);
        s.total = 5;
        s.add(RowOutcome::NeedsReconciliation);
        assert_eq!(s.class(), BatchClass::Flagged);
        assert!(
            s.summary_line().contains("1 rate_limited"),
            "{}",
            s.summary_line()
        );
    }
}
