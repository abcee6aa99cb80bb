//! The batch runner: defaults, concurrency, the journal, and one send per row.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use super::fields::{FIELDS, PER_ROW_ONLY, fill_placeholders, set_field};
use super::input::read_rows;
use super::report::{BatchSummary, RowOutcome, RowReport};
use crate::error::{Error, ErrorKind, Outcome};
use crate::journal::{self, Journal, Keyed};
use crate::message::request::{MessageType, SendMessage};
use crate::stop::{StopToken, check_not_stopped};
use crate::transport::client::Client;

/// Most rows sent at once.
const MAX_CONCURRENCY: usize = 64;

/// Settings of a batch: defaults for every row, concurrency, and a stop token.
///
/// ```no_run
/// use herohealth::{BatchRunner, Client, Journal, Target};
///
/// let client = Client::builder(Target::Custom("http://127.0.0.1:8080".into()), "key", "group")
///     .build()?;
/// let journal = Journal::open("recall.journal")?;
/// let summary = BatchRunner::new()
///     .default_value("message_type", "sms")?
///     .default_value("message_string", "Dear ((first_name)), your flu jab is due.")?
///     .concurrency(4)
///     .run(&client, Some(&journal), "recall.csv", |row, _progress| {
///         println!("{}", row.to_json())
///     })?;
/// eprintln!("{}", summary.summary_line());
/// # Ok::<(), herohealth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchRunner {
    defaults: HashMap<&'static str, String>,
    concurrency: usize,
    stop: StopToken,
}

impl Default for BatchRunner {
    fn default() -> Self {
        Self::new()
    }
}

/// A row ready to send, or already decided.
enum Plan {
    Send {
        key: String,
        patient_id: String,
        body: Vec<u8>,
        /// Hashed once here, for the duplicate check and the journal.
        body_sha256: String,
    },
    Done(RowReport),
}

impl BatchRunner {
    /// No defaults, concurrency 4.
    pub fn new() -> Self {
        BatchRunner {
            defaults: HashMap::new(),
            concurrency: 4,
            stop: StopToken::new(),
        }
    }

    /// The value of request field `field` (its JSON name) for rows that do
    /// not give one. An unknown field name is a configuration error, and so
    /// is a default for a field that says who receives the message
    /// (the patient id and both contact details): a row missing one must be
    /// invalid, never sent to whoever the default names.
    pub fn default_value(mut self, field: &str, value: impl Into<String>) -> Result<Self, Error> {
        let Some(name) = FIELDS.iter().find(|f| **f == field) else {
            return Err(Error::config(
                "a batch default names no request field (see the field list)",
            ));
        };
        if PER_ROW_ONLY.contains(name) {
            return Err(Error::invalid(
                name,
                "cannot be a batch default: each row must name its own recipient",
            ));
        }
        self.defaults.insert(name, value.into());
        Ok(self)
    }

    /// Rows sent at once over the shared client (default 4, 1 to 64); with 1,
    /// rows go in file order.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.clamp(1, MAX_CONCURRENCY);
        self
    }

    /// Uses `token` to stop the batch early.
    pub fn stop_token(mut self, token: StopToken) -> Self {
        self.stop = token;
        self
    }

    /// Checks every row (placeholders, fields, rules with `client`'s
    /// strict-checks setting) and sends nothing: each row is `valid`,
    /// `invalid` or `duplicate_in_file`.
    pub fn check(
        &self,
        client: &Client,
        path: impl AsRef<Path>,
        mut on_row: impl FnMut(&RowReport, &BatchSummary),
    ) -> Result<BatchSummary, Error> {
        let started = Instant::now();
        let plans = self.plan(client, path.as_ref())?;
        let mut summary = BatchSummary::new(plans.len());
        summary.checking = true;
        for (i, plan) in plans.into_iter().enumerate() {
            let report = match plan {
                Plan::Send { key, .. } => RowReport::new(i + 1, Some(key), RowOutcome::Valid),
                Plan::Done(report) => report,
            };
            summary.add(report.outcome);
            summary.elapsed = started.elapsed();
            on_row(&report, &summary);
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// Sends every row through `client`, each keyed send through `journal`
    /// (without one, a rerun cannot know what went: use one for real
    /// batches). `on_row` runs on the calling thread once per row, as rows
    /// finish, with the counts so far.
    ///
    /// An error means the batch could not start (unreadable file, a CSV
    /// without a header row, unknown file type); nothing was sent.
    pub fn run(
        &self,
        client: &Client,
        journal: Option<&Journal>,
        path: impl AsRef<Path>,
        mut on_row: impl FnMut(&RowReport, &BatchSummary),
    ) -> Result<BatchSummary, Error> {
        let started = Instant::now();
        let plans = self.plan(client, path.as_ref())?;
        let mut summary = BatchSummary::new(plans.len());
        let mut reported = vec![false; plans.len()];
        let next = AtomicUsize::new(0);
        let stop = self.stop.flag();
        let (tx, rx) = mpsc::channel::<(usize, RowReport)>();
        std::thread::scope(|s| {
            for _ in 0..self.concurrency.min(plans.len()) {
                let tx = tx.clone();
                let (plans, next) = (&plans, &next);
                s.spawn(move || {
                    // Checked before taking each row: a stop, or a journal
                    // that can no longer record, starts nothing new.
                    while !stop.load(Ordering::SeqCst)
                        && journal.is_none_or(|j| j.failure().is_none())
                    {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(plan) = plans.get(i) else { break };
                        let report = match plan {
                            Plan::Done(report) => report.clone(),
                            Plan::Send {
                                key,
                                patient_id,
                                body,
                                body_sha256,
                            } => send_row(
                                client,
                                journal,
                                stop,
                                i + 1,
                                key,
                                patient_id,
                                (body, body_sha256),
                            ),
                        };
                        if tx.send((i, report)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (i, report) in rx {
                reported[i] = true;
                summary.add(report.outcome);
                summary.elapsed = started.elapsed();
                on_row(&report, &summary);
            }
        });
        // Rows a stop or a failed journal kept from starting: certainly not
        // sent. Rows decided without the network (invalid, duplicate) keep
        // that outcome.
        summary.journal_failure = journal.and_then(Journal::failure);
        let unstarted = if summary.journal_failure.is_some() {
            "not sent: no row started after the journal failed"
        } else {
            "not sent: the batch was stopped before this row"
        };
        for (i, plan) in plans.iter().enumerate() {
            if reported[i] {
                continue;
            }
            let report = match plan {
                Plan::Send { key, .. } => RowReport {
                    error: Some(unstarted.to_owned()),
                    ..RowReport::new(i + 1, Some(key.clone()), RowOutcome::NotSent)
                },
                Plan::Done(report) => report.clone(),
            };
            summary.add(report.outcome);
            summary.elapsed = started.elapsed();
            on_row(&report, &summary);
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// Every row of the file that a run would send, as its key, patient id
    /// and body hash (what salvage flags when no journal record names it).
    pub(crate) fn sendable_rows(
        &self,
        client: &Client,
        path: &Path,
    ) -> Result<Vec<(String, String, String)>, Error> {
        Ok(self
            .plan(client, path)?
            .into_iter()
            .filter_map(|plan| match plan {
                Plan::Send {
                    key,
                    patient_id,
                    body_sha256,
                    ..
                } => Some((key, patient_id, body_sha256)),
                Plan::Done(_) => None,
            })
            .collect())
    }

    /// Reads the file and decides every row that needs no network: invalid
    /// rows and duplicates. The rest get their key and request body.
    fn plan(&self, client: &Client, path: &Path) -> Result<Vec<Plan>, Error> {
        let rows = read_rows(path)?;
        let mut seen: HashMap<String, (usize, String)> = HashMap::new();
        let mut plans = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let n = i + 1;
            let given_key = row
                .as_ref()
                .ok()
                .and_then(|v| v.get("key"))
                .filter(|k| !k.is_empty())
                .cloned();
            let built = row
                .map_err(|rule| Error::new(Outcome::NotSent, ErrorKind::InvalidInput, rule))
                .and_then(|values| self.build(client, &values));
            let (key, patient_id, body) = match built {
                Ok(b) => b,
                Err(e) => {
                    plans.push(Plan::Done(RowReport::failed(n, given_key, &e)));
                    continue;
                }
            };
            let hash = journal::sha256_hex(&body);
            if let Some((first, first_hash)) = seen.get(&key) {
                let report = if *first_hash == hash {
                    RowReport {
                        error: None,
                        ..RowReport::new(n, Some(key), RowOutcome::DuplicateInFile)
                    }
                } else {
                    let e = Error::invalid(
                        "key",
                        &format!("row {first} uses it for a different message"),
                    );
                    RowReport::failed(n, Some(key), &e)
                };
                plans.push(Plan::Done(report));
                continue;
            }
            seen.insert(key.clone(), (n, hash.clone()));
            plans.push(Plan::Send {
                key,
                patient_id,
                body,
                body_sha256: hash,
            });
        }
        Ok(plans)
    }

    /// One row's key, patient id and checked request body.
    fn build(
        &self,
        client: &Client,
        values: &HashMap<String, String>,
    ) -> Result<(String, String, Vec<u8>), Error> {
        let get = |field: &'static str| -> Option<&str> {
            values
                .get(field)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
                .or_else(|| self.defaults.get(field).map(String::as_str))
                .filter(|v| !v.is_empty())
        };
        let required = |field: &'static str| {
            get(field)
                .ok_or_else(|| Error::invalid(field, "is required (give a column or a default)"))
        };
        let patient_id = required("patient_id")?;
        let message_type = MessageType::parse(required("message_type")?)
            .ok_or_else(|| Error::invalid("message_type", "must be hero, sms, email or nhs_app"))?;
        let from_row = values.get("message_string").is_some_and(|v| !v.is_empty());
        let text = fill_placeholders(required("message_string")?, values, from_row)?;
        let mut msg = SendMessage::new(patient_id, message_type, text);
        for field in FIELDS.iter().skip(3) {
            if let Some(value) = get(field) {
                msg = set_field(msg, field, value)?;
            }
        }
        let body = client.body(&msg)?;
        let key = match values.get("key").filter(|k| !k.is_empty()) {
            Some(k) => {
                journal::check_key(k)?;
                k.clone()
            }
            None => journal::key_for_body(&body),
        };
        Ok((key, patient_id.to_owned(), body))
    }
}

/// One row's send, through the journal when there is one. Once the batch
/// is stopped, no new HTTP attempt starts: not a retry after a 429, nor a
/// request that was still waiting at the client's rate-limit gate.
fn send_row(
    client: &Client,
    journal: Option<&Journal>,
    stop: &AtomicBool,
    row: usize,
    key: &str,
    patient_id: &str,
    (body, body_sha256): (&[u8], &str),
) -> RowReport {
    let deadline = client.deadline_from_now();
    let result = match journal {
        Some(j) => j.send_body(
            client,
            key,
            patient_id,
            (body, body_sha256.to_owned()),
            deadline,
            Some(stop),
        ),
        None => client
            .send_body(body, deadline, Some(&StopHook(stop)))
            .map(|r| Keyed::Sent(Box::new(r))),
    };
    RowReport::of_send(row, key.to_owned(), result)
}

/// The stop check, for a batch without a journal.
struct StopHook<'a>(&'a AtomicBool);

impl crate::transport::client::AttemptHook for StopHook<'_> {
    fn before_attempt(&self, _attempt: u32) -> Result<(), Error> {
        check_not_stopped(Some(self.0))
    }

    fn after_attempt(&self, _result: Result<&crate::message::response::MessageResponse, &Error>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_never_defaults() {
        for field in PER_ROW_ONLY {
            let e = BatchRunner::new().default_value(field, "x").unwrap_err();
            assert_eq!(e.field(), Some(field));
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        }
        let runner = BatchRunner::new()
            .default_value("message_type", "sms")
            .unwrap();
        assert_eq!(runner.defaults.len(), 1);
    }
}
