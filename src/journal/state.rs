//! What the journal knows about each key, replayed from its records.

use std::collections::HashMap;

use super::record::{Record, RecordOutcome, Resolution};

#[derive(Clone, Debug)]
pub(super) struct KeyState {
    pub(super) body_sha256: String,
    pub(super) patient_id: String,
    pub(super) attempted_at_ms: u64,
    pub(super) http_status: Option<u16>,
    pub(super) status: Status,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Status {
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

impl Status {
    /// Held back until someone checks in Hero and resolves it.
    pub(super) fn flagged(&self) -> bool {
        matches!(self, Status::NoOutcome | Status::MayHaveBeenSent)
    }
}

pub(super) type Keys = HashMap<String, KeyState>;

/// Replays one record into the key table.
pub(super) fn apply(keys: &mut Keys, record: Record) {
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
