//! The batch runner: defaults, concurrency, the journal, and one send per row.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use super::columns::{self, Columns};
use super::fields::{FIELDS, PER_ROW_ONLY, fill_placeholders, set_field};
use super::input::{Table, read_rows};
use super::key_secret::KeySecret;
use super::lookup::{self, Cache};
use super::report::{BatchSummary, RowOutcome, RowReport};
use super::{csv_report, phone, uk_time};
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
    /// `(field, header)`: columns named by the caller, not by their header.
    columns: Vec<(&'static str, String)>,
    /// Where to write the CSV report of a run, if anywhere.
    report_csv: Option<std::path::PathBuf>,
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
    /// Sent once the patient lookup gives the id.
    Lookup {
        key: String,
        query: crate::patient::PatientQuery,
        query_body: Vec<u8>,
        message: Box<SendMessage>,
        /// The key was derived from the whole row, so it names this message.
        derived_key: bool,
    },
    Done(RowReport),
}

impl Plan {
    fn key(&self) -> Option<&String> {
        match self {
            Plan::Send { key, .. } | Plan::Lookup { key, .. } => Some(key),
            Plan::Done(_) => None,
        }
    }
}

/// A row built: ready to send, or waiting for its patient's id.
enum Built {
    Send(String, String, Vec<u8>),
    Lookup {
        key: String,
        query: crate::patient::PatientQuery,
        query_body: Vec<u8>,
        message: Box<SendMessage>,
        /// What the row's key and duplicate check are made from.
        material: Vec<u8>,
        derived_key: bool,
    },
}

impl BatchRunner {
    /// No defaults, concurrency 4.
    pub fn new() -> Self {
        BatchRunner {
            defaults: HashMap::new(),
            concurrency: 4,
            stop: StopToken::new(),
            columns: Vec::new(),
            report_csv: None,
        }
    }

    /// Reads column `header` as field `field` (a request field, a lookup
    /// field such as `nhs_number`, or `key`), whatever the header says:
    /// `column("recipient_contact_detail", "Mobile Telephone")`. A field
    /// no column may fill is a configuration error; a header the file does
    /// not have, or two headers for one field, stop the batch before any
    /// request.
    pub fn column(mut self, field: &str, header: impl Into<String>) -> Result<Self, Error> {
        let header = header.into();
        let field = columns::check_mapping(field, &header)?;
        self.columns.retain(|(f, _)| *f != field);
        self.columns.push((field, header.trim().to_owned()));
        Ok(self)
    }

    /// After [`run`](Self::run), writes `path`: the input's rows in its
    /// order and encoding with three columns added (`outcome`,
    /// `message_id`, `reason`), created readable by its owner only on
    /// Unix. CSV input only.
    pub fn report_csv(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.report_csv = Some(path.into());
        self
    }

    /// How each header of the file at `path` is understood: one line per
    /// column (`column "NHS Number": nhs_number`). Errors as for a run that
    /// cannot start.
    pub fn describe_columns(&self, path: impl AsRef<Path>) -> Result<Vec<String>, Error> {
        let table = read_rows(path.as_ref())?;
        Ok(self.resolve(path.as_ref(), &table)?.describe())
    }

    fn resolve(&self, path: &Path, table: &Table) -> Result<Columns, Error> {
        let cols = Columns::resolve(&table.headers, &self.columns)?;
        if table.csv_bom.is_some() && !cols.any_known() {
            return Err(Error::config(format!(
                "batch file {}: no header row: the first row must name the columns (patient_id or nhs_number, message_string, key...)",
                path.display()
            )));
        }
        Ok(cols)
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
        let (plans, table) = self.plan(client, None, path.as_ref())?;
        let mut summary = BatchSummary::new(plans.len());
        summary.checking = true;
        summary.columns = self.resolve(path.as_ref(), &table)?.describe();
        for (i, plan) in plans.into_iter().enumerate() {
            let report = match plan.key() {
                Some(key) => RowReport::new(i + 1, Some(key.clone()), RowOutcome::Valid),
                None => match plan {
                    Plan::Done(report) => report,
                    _ => continue,
                },
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
        let (plans, table) = self.plan(client, journal.map(Journal::path), path.as_ref())?;
        let report_file = match &self.report_csv {
            Some(p) => Some(csv_report::Writer::create(p, &table)?),
            None => None,
        };
        let mut reports: Vec<Option<RowReport>> = vec![None; plans.len()];
        let cache = Cache::default();
        let mut on_row = |report: &RowReport, summary: &BatchSummary| {
            if report_file.is_some()
                && let Some(slot) = report.row.checked_sub(1).and_then(|i| reports.get_mut(i))
            {
                *slot = Some(report.clone());
            }
            on_row(report, summary)
        };
        let mut summary = BatchSummary::new(plans.len());
        let mut reported = vec![false; plans.len()];
        let next = AtomicUsize::new(0);
        let stop = self.stop.flag();
        let (tx, rx) = mpsc::channel::<(usize, RowReport)>();
        std::thread::scope(|s| {
            for _ in 0..self.concurrency.min(plans.len()) {
                let tx = tx.clone();
                let (plans, next, cache) = (&plans, &next, &cache);
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
                                client.deadline_from_now(),
                            ),
                            Plan::Lookup {
                                key,
                                query,
                                query_body,
                                message,
                                derived_key,
                            } => lookup_and_send(
                                client,
                                journal,
                                stop,
                                cache,
                                i + 1,
                                (key, *derived_key),
                                (query, query_body),
                                message,
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
            let report = match (plan, plan.key()) {
                (_, Some(key)) => RowReport {
                    error: Some(unstarted.to_owned()),
                    ..RowReport::new(i + 1, Some(key.clone()), RowOutcome::NotSent)
                },
                (Plan::Done(report), None) => report.clone(),
                (_, None) => continue,
            };
            summary.add(report.outcome);
            summary.elapsed = started.elapsed();
            on_row(&report, &summary);
        }
        summary.elapsed = started.elapsed();
        if let Some(w) = report_file {
            w.finish(&table, &reports)?;
        }
        Ok(summary)
    }

    /// Every row of the file that a run would send, as its key, patient id
    /// and body hash (what salvage flags when no journal record names it).
    pub(crate) fn sendable_rows(
        &self,
        client: &Client,
        journal: &Path,
        path: &Path,
    ) -> Result<Vec<(String, String, String)>, Error> {
        let (plans, _) = self.plan(client, Some(journal), path)?;
        Ok(plans
            .into_iter()
            .filter_map(|plan| match plan {
                Plan::Send {
                    key,
                    patient_id,
                    body_sha256,
                    ..
                } => Some((key, patient_id, body_sha256)),
                // Its patient id and body are known only after its lookup:
                // flagged by its key alone.
                Plan::Lookup { key, .. } => Some((key, String::new(), String::new())),
                Plan::Done(_) => None,
            })
            .collect())
    }

    /// Reads the file and decides every row that needs no network: invalid
    /// rows and duplicates. The rest get their key and request body.
    /// Lookup rows are keyed with `journal`'s secret (see [`KeySecret`]);
    /// without a journal, with one for this call only.
    fn plan(
        &self,
        client: &Client,
        journal: Option<&Path>,
        path: &Path,
    ) -> Result<(Vec<Plan>, Table), Error> {
        let table = read_rows(path)?;
        let cols = self.resolve(path, &table)?;
        let now = uk_time::now_unix();
        // Read (or made) at the first row that needs it; a secret that
        // cannot be had stops the batch, never just that row.
        let secret = std::cell::OnceCell::new();
        let failed = std::cell::Cell::new(None);
        let derive = |material: &[u8]| -> Result<String, Error> {
            if secret.get().is_none() {
                match KeySecret::for_journal(journal, true) {
                    Ok(s) => drop(secret.set(s)),
                    Err(e) => {
                        failed.set(Some(e));
                        // Never reported: the batch stops with `e`.
                        return Err(Error::config("journal key file"));
                    }
                }
            }
            Ok(secret
                .get()
                .map_or_else(String::new, |s| s.key_for(material)))
        };
        let mut seen: HashMap<String, (usize, String)> = HashMap::new();
        let mut plans = Vec::with_capacity(table.rows.len());
        for (i, row) in table.rows.iter().enumerate() {
            // Each field under its own name too; every column keeps its header.
            let row = row.clone().map(|mut values| {
                for (header, field) in &cols.headers {
                    if let Some(f) = field
                        && f != header
                        && let Some(v) = values.get(header).cloned()
                    {
                        values.insert((*f).to_owned(), v);
                    }
                }
                values
            });
            let n = i + 1;
            let given_key = row
                .as_ref()
                .ok()
                .and_then(|v| v.get("key"))
                .filter(|k| !k.is_empty())
                .cloned();
            let built = row
                .map_err(|rule| Error::new(Outcome::NotSent, ErrorKind::InvalidInput, rule))
                .and_then(|values| self.build(client, &values, now, &derive));
            if let Some(e) = failed.take() {
                return Err(e);
            }
            let built = match built {
                Ok(b) => b,
                Err(e) => {
                    plans.push(Plan::Done(RowReport::failed(n, given_key, &e)));
                    continue;
                }
            };
            let (key, hash) = match &built {
                Built::Send(key, _, body) => (key.clone(), journal::sha256_hex(body)),
                Built::Lookup { key, material, .. } => (key.clone(), journal::sha256_hex(material)),
            };
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
            plans.push(match built {
                Built::Send(key, patient_id, body) => Plan::Send {
                    key,
                    patient_id,
                    body,
                    body_sha256: hash,
                },
                Built::Lookup {
                    key,
                    query,
                    query_body,
                    message,
                    derived_key,
                    ..
                } => Plan::Lookup {
                    key,
                    query,
                    query_body,
                    message,
                    derived_key,
                },
            });
        }
        if secret.get().is_none() {
            // A fresh journal gets its secret with its first batch, so a
            // later export by NHS number finds it there.
            KeySecret::for_journal(journal, false)?;
        }
        Ok((plans, table))
    }

    /// One row's key, patient (or lookup) and checked request body.
    fn build(
        &self,
        client: &Client,
        values: &HashMap<String, String>,
        now: i64,
        derive: &dyn Fn(&[u8]) -> Result<String, Error>,
    ) -> Result<Built, Error> {
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
        let query = lookup::query_of(|f| {
            values
                .get(f)
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_owned())
        })?;
        let query_body = query.as_ref().map(|q| q.body()).transpose()?;
        // Any id of digits passes the send's checks: the real one comes
        // from the lookup.
        let patient_id = match &query {
            Some(_) => "0",
            None => required("patient_id")?,
        };
        let message_type = MessageType::parse(required("message_type")?)
            .ok_or_else(|| Error::invalid("message_type", "must be hero, sms, email or nhs_app"))?;
        let from_row = values.get("message_string").is_some_and(|v| !v.is_empty());
        let text = fill_placeholders(required("message_string")?, values, from_row)?;
        let mut msg = SendMessage::new(patient_id, message_type, text);
        for field in FIELDS.iter().skip(3) {
            if let Some(value) = get(field) {
                let value = match *field {
                    "send_at" => uk_time::send_at(value, now)?,
                    "recipient_contact_detail" | "fallback_contact_detail" => {
                        phone::as_sent(value, query.is_some())
                    }
                    _ => value.to_owned(),
                };
                msg = set_field(msg, field, &value)?;
            }
        }
        let body = client.body(&msg)?;
        let given = values.get("key").filter(|k| !k.is_empty());
        if let Some(k) = given {
            journal::check_key(k)?;
        }
        let Some((query, query_body)) = query.zip(query_body) else {
            let key = given
                .cloned()
                .unwrap_or_else(|| journal::key_for_body(&body));
            return Ok(Built::Send(key, patient_id.to_owned(), body));
        };
        // The row as given (its query and its message), never the id the
        // lookup returns: a rerun finds the same key whatever Hero answers.
        let mut material = query_body.clone();
        material.push(b'\n');
        material.extend_from_slice(&body);
        // Keyed, so the journal's key cannot be traced back to the NHS
        // number by hashing every possible one.
        let key = match given {
            Some(k) => k.clone(),
            None => derive(&material)?,
        };
        Ok(Built::Lookup {
            key,
            query,
            query_body,
            message: Box::new(msg),
            material,
            derived_key: given.is_none(),
        })
    }
}

/// One row that names its patient by lookup: the id (from this run's cache
/// or a lookup by the row's deadline), then the send, by the same deadline.
#[allow(clippy::too_many_arguments)]
fn lookup_and_send(
    client: &Client,
    journal: Option<&Journal>,
    stop: &AtomicBool,
    cache: &Cache,
    row: usize,
    (key, derived_key): (&str, bool),
    (query, query_body): (&crate::patient::PatientQuery, &[u8]),
    message: &SendMessage,
) -> RowReport {
    let deadline = client.deadline_from_now();
    if let Err(e) = check_not_stopped(Some(stop)) {
        return RowReport::failed(row, Some(key.to_owned()), &e);
    }
    // A rerun: a row whose message went, or is held back, needs no lookup.
    if let Some(decided) = journal.and_then(|j| j.decided(key, derived_key)) {
        return RowReport::of_send(row, key.to_owned(), decided);
    }
    let looked = cache.find(client, query, query_body, deadline);
    let Some(id) = looked.as_ref().ok().and_then(|a| a.patient_id()) else {
        return lookup::report_unsent(row, key, looked);
    };
    let mut message = message.clone();
    id.clone_into(&mut message.patient_id);
    let body = match client.body(&message) {
        Ok(b) => b,
        Err(e) => return RowReport::failed(row, Some(key.to_owned()), &e),
    };
    let hash = journal::sha256_hex(&body);
    send_row(
        client,
        journal,
        stop,
        row,
        key,
        id,
        (&body, &hash),
        deadline,
    )
}

/// One row's send by `deadline`, through the journal when there is one.
/// Once the batch is stopped, no new HTTP attempt starts: not a retry
/// after a 429, nor a request that was still waiting at the client's
/// rate-limit gate.
#[allow(clippy::too_many_arguments)]
fn send_row(
    client: &Client,
    journal: Option<&Journal>,
    stop: &AtomicBool,
    row: usize,
    key: &str,
    patient_id: &str,
    (body, body_sha256): (&[u8], &str),
    deadline: Instant,
) -> RowReport {
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
