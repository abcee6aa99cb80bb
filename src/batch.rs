//! Batch sending: one message per row of a CSV or JSON Lines file, through
//! one shared client and (normally) a send journal, so a rerun of the same
//! file sends only what has not gone.
//!
//! Columns (CSV, with a header row) or keys (JSON Lines) named as request
//! fields fill those fields; an optional `key` column names each send;
//! every other column is a value for `((name))` placeholders in
//! `message_string`. An empty cell means "not given": the caller's default
//! for that field applies, if there is one.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::journal::{self, Journal, Keyed};
use crate::outcome::Outcome;
use crate::request::{AssigneeType, Encrypted, FallbackType, MessageType, SendMessage};

/// Most rows sent at once.
const MAX_CONCURRENCY: usize = 64;

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
}

impl RowOutcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [RowOutcome; 11] = [
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
}

impl RowReport {
    fn new(row: usize, key: Option<String>, outcome: RowOutcome) -> Self {
        RowReport {
            row,
            key,
            outcome,
            message_id: None,
            http_status: None,
            error: None,
        }
    }

    fn failed(row: usize, key: Option<String>, e: &Error) -> Self {
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
    /// `http_status`, `error` (null where not applicable).
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
        }
        serde_json::to_string(&Line {
            row: self.row,
            key: self.key.as_deref(),
            outcome: self.outcome.as_str(),
            message_id: self.message_id.as_deref(),
            http_status: self.http_status,
            error: self.error.as_deref(),
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
    counts: [usize; RowOutcome::ALL.len()],
    total: usize,
    done: usize,
    elapsed: Duration,
    /// Rows were only checked, not sent.
    checking: bool,
    /// The journal failed mid-batch (why): no row started after that.
    journal_failure: Option<String>,
}

impl BatchSummary {
    fn new(total: usize) -> Self {
        BatchSummary {
            counts: [0; RowOutcome::ALL.len()],
            total,
            done: 0,
            elapsed: Duration::ZERO,
            checking: false,
            journal_failure: None,
        }
    }

    fn add(&mut self, outcome: RowOutcome) {
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
        } else if any(&[Invalid, NotSent, Refused, RateLimited]) || self.done < self.total {
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

/// Stops a running batch from another thread or a signal handler: no new
/// row starts; rows in flight finish and are recorded, but start no further
/// request (no retry after a 429, none still waiting at the rate-limit gate).
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<AtomicBool>);

impl StopToken {
    /// A token not yet stopped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the batch to stop. Only an atomic store: safe in a signal handler.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// Fields that say who receives a message: a batch takes them from each
/// row, never from a default.
pub(crate) const PER_ROW_ONLY: [&str; 3] = [
    "patient_id",
    "recipient_contact_detail",
    "fallback_contact_detail",
];

/// The request fields a column may name.
use crate::request::FIELD_NAMES as FIELDS;

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

/// Ends a send, before its next request starts, once `stop` is set.
pub(crate) fn check_not_stopped(stop: Option<&AtomicBool>) -> Result<(), Error> {
    if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
        // Reported in the row's line only (its kind is not shown).
        return Err(Error::new(
            Outcome::NotSent,
            ErrorKind::Config,
            "the batch was stopped before this row's next request",
        ));
    }
    Ok(())
}

/// The stop check, for a batch without a journal.
struct StopHook<'a>(&'a AtomicBool);

impl crate::client::AttemptHook for StopHook<'_> {
    fn before_attempt(&self, _attempt: u32) -> Result<(), Error> {
        check_not_stopped(Some(self.0))
    }

    fn after_attempt(&self, _result: Result<&crate::response::MessageResponse, &Error>) {}
}

/// Sets one optional field from its text form.
fn set_field(msg: SendMessage, field: &'static str, value: &str) -> Result<SendMessage, Error> {
    // Any case: a spreadsheet writes a cell typed `true` as `TRUE`.
    let parse_flag = |v: &str| {
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    };
    let flag =
        |v: &str| parse_flag(v).ok_or_else(|| Error::invalid(field, "must be true or false"));
    Ok(match field {
        "recipient_contact_detail" => msg.recipient_contact_detail(value),
        "fallback_contact_detail" => msg.fallback_contact_detail(value),
        "fallback_message_type" => msg.fallback_message_type(
            FallbackType::parse(value)
                .ok_or_else(|| Error::invalid(field, "must be sms or email"))?,
        ),
        "write_to_record" => msg.write_to_record(flag(value)?),
        "auto_write_to_record" => msg.auto_write_to_record(flag(value)?),
        "encrypted" => msg.encrypted(match parse_flag(value) {
            Some(b) => Encrypted::Flag(b),
            None => Encrypted::Text(value.to_owned()),
        }),
        "snomed_code" => msg.snomed_code(value),
        "snomed_term" => msg.snomed_term(value),
        "task_id" => msg.task_id(value),
        "attachment_uuid" => msg.attachment_uuid(value),
        "short_link_id" => msg.short_link_id(value),
        "assignee_id" => msg.assignee_id(
            value
                .parse()
                .map_err(|_| Error::invalid(field, "must be a whole decimal number"))?,
        ),
        "assignee_type" => msg.assignee_type(
            AssigneeType::parse(value)
                .ok_or_else(|| Error::invalid(field, "must be Admin or AdminTeam"))?,
        ),
        "send_at" => msg.send_at(value),
        _ => msg,
    })
}

/// Replaces every `((name))` with the row's value of column `name`. A
/// missing or empty value makes the row invalid: never "Dear ,". So does an
/// unclosed `((`: a broken template, not text to send to every patient.
///
/// `template_from_row` says the template is the row's own message text: an
/// error then names a placeholder only when a column has that name (so the
/// name comes from the header), never quoting the message back.
fn fill_placeholders(
    template: &str,
    values: &HashMap<String, String>,
    template_from_row: bool,
) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find("((") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("))") else {
            return Err(Error::invalid(
                "message_string",
                "has a (( with no )) after it (an unclosed placeholder)",
            ));
        };
        let name = &after[..close];
        let is_column = !FIELDS.contains(&name) && name != "key";
        let value = values
            .get(name)
            .filter(|v| is_column && !v.is_empty())
            .ok_or_else(|| {
                let rule = if template_from_row && !values.contains_key(name) {
                    "has a placeholder with no column of that name in this row".to_owned()
                } else {
                    format!("placeholder (({name})) has no value in this row")
                };
                Error::invalid("message_string", &rule)
            })?;
        out.push_str(&rest[..open]);
        out.push_str(value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A data row: column name to value, or why the row could not be read.
type Row = Result<HashMap<String, String>, String>;

fn file_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::config(format!("batch file {}: {what}", path.display()))
}

/// Every data row of a CSV (header row first) or JSON Lines file, chosen
/// by extension.
fn read_rows(path: &Path) -> Result<Vec<Row>, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let data = std::fs::read(path)
        .map_err(|e| file_error(path, format_args!("cannot read: {}", e.kind())))?;
    match ext.as_deref() {
        Some("csv") => read_csv(path, &data),
        Some("jsonl" | "ndjson") => Ok(read_json_lines(&data)),
        _ => Err(file_error(
            path,
            "unknown file type: name it .csv (with a header row) or .jsonl",
        )),
    }
}

fn read_csv(path: &Path, data: &[u8]) -> Result<Vec<Row>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| file_error(path, "the header row is not readable UTF-8 CSV"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    // A header must name something we know; a first row of data would not.
    if !header
        .iter()
        .any(|h| FIELDS.contains(&h.as_str()) || h == "key")
    {
        return Err(file_error(
            path,
            "no header row: the first row must name the columns (patient_id, message_string, key...)",
        ));
    }
    for (i, h) in header.iter().enumerate() {
        // Unnamed columns (a spreadsheet's empty ones) are ignored, however many.
        if !h.is_empty() && header[..i].contains(h) {
            return Err(file_error(path, format_args!("column {h:?} appears twice")));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        // A row with nothing in it (a spreadsheet's once-touched row) is no
        // message, like a blank line.
        if let Ok(r) = &record
            && r.iter().all(|cell| cell.trim().is_empty())
        {
            continue;
        }
        rows.push(match record {
            Err(_) => Err("the row is not readable UTF-8 CSV".to_owned()),
            Ok(r) if r.len() != header.len() => Err(format!(
                "the row has {} cells; the header has {}",
                r.len(),
                header.len()
            )),
            Ok(r) => Ok(header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .filter(|(name, _)| !name.is_empty())
                .collect()),
        });
    }
    Ok(rows)
}

fn read_json_lines(data: &[u8]) -> Vec<Row> {
    // Windows tools often start a UTF-8 file with a byte order mark (the
    // CSV reader skips it too).
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    data.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| {
            let object = match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(o)) => o,
                _ => return Err("the line is not a JSON object".to_owned()),
            };
            let mut row = HashMap::new();
            for (name, value) in object {
                let text = match value {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(format!(
                            "the value of {name:?} must be text, a number or true/false"
                        ));
                    }
                };
                row.insert(name, text);
            }
            Ok(row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_fill_from_other_columns_only() {
        let v = values(&[("first_name", "Ada"), ("patient_id", "42"), ("blank", "")]);
        assert_eq!(
            fill_placeholders("Dear ((first_name)), hi ((first_name))!", &v, false).unwrap(),
            "Dear Ada, hi Ada!"
        );
        assert_eq!(
            fill_placeholders("a ( b ))", &v, false).unwrap(),
            "a ( b ))"
        );
        for bad in [
            "Dear ((blank))",
            "Dear ((missing))",
            "id ((patient_id))",
            "a (( b",
        ] {
            let e = fill_placeholders(bad, &v, false).unwrap_err();
            assert_eq!(e.field(), Some("message_string"));
            assert!(!e.to_string().contains("Dear"), "{e}");
        }
    }

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

    #[test]
    fn json_lines_values_become_text() {
        let rows = read_json_lines(
            b"{\"patient_id\":42,\"write_to_record\":true,\"task_id\":null}\n\n[1]\n{\"a\":{}}\n",
        );
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first["patient_id"], "42");
        assert_eq!(first["write_to_record"], "true");
        assert!(!first.contains_key("task_id"));
        assert!(rows[1].is_err() && rows[2].is_err());
    }
}
