//! Batch sending: one message per row of a CSV or JSON Lines file, through
//! one shared client and (normally) a send journal, so a rerun of the same
//! file sends only what has not gone.
//!
//! Columns (CSV, with a header row) or keys (JSON Lines) named as request
//! fields fill those fields; an optional `key` column names each send;
//! every other column is a value for `((name))` placeholders in
//! `message_string`. An empty cell means "not given": the caller's default
//! for that field applies, if there is one.

mod columns;
mod csv_report;
pub(crate) mod fields;
mod input;
mod key_secret;
mod lookup;
mod phone;
mod report;
mod runner;
mod uk_time;

pub use report::{BatchClass, BatchSummary, RowOutcome, RowReport};
pub use runner::BatchRunner;
// The salvaged journal takes the damaged one's lookup-key secret.
pub(crate) use key_secret::carry_over as carry_key_secret;
// The stop token's old home, kept until every user imports `crate::stop`.
pub use crate::stop::StopToken;
