//! Rows that name the patient by NHS number (and date of birth) or by the
//! demographic four instead of Hero's `patient_id`: the query a row makes,
//! and the run's cache, so each distinct patient is looked up once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::report::{RowOutcome, RowReport};
use super::uk_time;
use crate::error::Error;
use crate::patient::{PatientAnswer, PatientQuery};
use crate::transport::client::Client;

/// The lookup a row asks for, if any. A row giving both `patient_id` and
/// `nhs_number` is invalid: which patient is meant cannot be known. With an
/// NHS number the names and postcode serve only as placeholders.
pub(super) fn query_of(
    get: impl Fn(&'static str) -> Option<String>,
) -> Result<Option<PatientQuery>, Error> {
    let patient_id = get("patient_id");
    let nhs_number = get("nhs_number");
    if patient_id.is_some() && nhs_number.is_some() {
        return Err(Error::invalid(
            "patient_id",
            "and nhs_number are both given: give one, so the patient is certain",
        ));
    }
    if patient_id.is_some() {
        return Ok(None);
    }
    let dob = get("dob").map(|d| uk_time::dob(&d)).transpose()?;
    if let Some(nhs) = nhs_number {
        let dob = dob.ok_or_else(|| Error::invalid("dob", "is required with nhs_number"))?;
        return Ok(Some(PatientQuery::by_nhs_number(nhs, dob)));
    }
    let four = [get("forename"), get("surname"), dob, get("postcode")];
    if four.iter().all(Option::is_none) {
        return Err(Error::invalid(
            "patient_id",
            "is required (or nhs_number and dob, or forename, surname, dob and postcode)",
        ));
    }
    let names = ["forename", "surname", "dob", "postcode"];
    if let Some(i) = four.iter().position(Option::is_none) {
        return Err(Error::invalid(
            names[i],
            "is required to find the patient without an NHS number (forename, surname, dob and postcode)",
        ));
    }
    let [f, s, d, p] = four.map(Option::unwrap_or_default);
    Ok(Some(PatientQuery::by_demographics(f, s, d, p)))
}

/// What one lookup gave: the answer, or how the row reads when it failed.
type Looked = Result<PatientAnswer, (RowOutcome, Option<u16>, String)>;

/// Every patient looked up in one run, by the exact query body. Rows of
/// one patient wait for the first row's lookup rather than repeating it.
#[derive(Default)]
pub(super) struct Cache {
    entries: Mutex<HashMap<Vec<u8>, Arc<OnceLock<Looked>>>>,
    /// Lookups made (not answered from the cache).
    pub(super) made: std::sync::atomic::AtomicUsize,
}

impl Cache {
    /// The answer for `query` (its checked `body`), looked up by `deadline`
    /// through `client`'s gate and rate if no row of this run has yet.
    pub(super) fn find(
        &self,
        client: &Client,
        query: &PatientQuery,
        body: &[u8],
        deadline: Instant,
    ) -> Looked {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.entry(body.to_vec()).or_default().clone()
        };
        cell.get_or_init(|| {
            self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            client
                .find_patient_by(query, deadline)
                .map(|(answer, _timings)| answer)
                .map_err(|e| {
                    let outcome = if e.status() == Some(404) {
                        RowOutcome::PatientNotFound
                    } else {
                        // A lookup sends no message: its failures are never
                        // "may have been sent", so this is refused or not sent.
                        RowOutcome::of_error(&e)
                    };
                    (outcome, e.status(), format!("patient lookup: {e}"))
                })
        })
        .clone()
    }
}

/// The report of a row whose lookup gave no patient id.
pub(super) fn report_unsent(row: usize, key: &str, looked: Looked) -> RowReport {
    match looked {
        Ok(answer) => RowReport {
            error: Some(
                "not sent: Hero asks the patient to verify their identity first (see login_url)"
                    .to_owned(),
            ),
            http_status: Some(200),
            login_url: answer.login_url().map(str::to_owned),
            ..RowReport::new(row, Some(key.to_owned()), RowOutcome::VerifyIdentity)
        },
        Err((outcome, http_status, error)) => RowReport {
            http_status,
            error: Some(error),
            ..RowReport::new(row, Some(key.to_owned()), outcome)
        },
    }
}
