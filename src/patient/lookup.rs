//! The lookup as an operation of the shared attempt loop, and the call.

use std::time::Instant;

use crate::error::Error;
use crate::log::{LogLevel, Logger};
use crate::message::reason::Reason;
use crate::message::request::SendMessage;
use crate::message::response::MessageResponse;
use crate::patient::{PatientAnswer, PatientQuery, answer};
use crate::transport::client::{Client, Endpoint, Operation};
use crate::transport::outcome;

/// `register_pds`, with the lookup's own rules (`outcome::LOOKUP`).
pub(crate) struct LookupOp;

impl Operation for LookupOp {
    type Reply = PatientAnswer;
    const ENDPOINT: Endpoint = Endpoint::Lookup;
    const RULES: outcome::Rules = outcome::LOOKUP;
    const UNREADABLE: &'static str = "the answer holds neither a patient_id nor a login_url";
    fn read(body: Vec<u8>) -> Result<PatientAnswer, Vec<u8>> {
        PatientAnswer::from_json(&body).ok_or(body)
    }
    fn reason(body: &[u8]) -> Reason {
        answer::reason(body)
    }
    fn status_detail(status: u16) -> Option<String> {
        Some(match status {
            400 => "HTTP 400: Hero did not accept the patient query".to_owned(),
            401 | 403 => format!(
                "HTTP {status} Unauthorised: check the API key, practice group id and the key's permissions"
            ),
            404 => "HTTP 404: no patient found (PDS found no match for the query)".to_owned(),
            500..=599 => format!("HTTP {status} from the server: the lookup did not complete"),
            _ => return None,
        })
    }
    fn log_success(log: &Logger, attempt: u32, reply: &PatientAnswer, ms: u128) {
        let what = match reply {
            PatientAnswer::Found { .. } => "patient found",
            PatientAnswer::VerificationRequired { .. } => "identity verification required",
        };
        log.log(
            LogLevel::Info,
            format_args!("attempt {attempt}: {what} in {ms} ms"),
        );
    }
}

impl Client {
    /// Finds the patient's Hero id (`POST /v1/patients/register_pds`): Hero
    /// traces the patient on the NHS Spine and returns their existing id,
    /// or creates the patient for this practice group.
    ///
    /// Every field is checked first ([`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming the field; nothing is sent). A lookup sends no message and is
    /// safe to repeat, so a failed connect, a reset, a lost reply, a timeout,
    /// a 5xx and a 429 are retried within [`max_attempts`](crate::ClientBuilder::max_attempts)
    /// and the deadline, with the same budget rule as a send. An error's
    /// [`Outcome`](crate::Outcome) is never *may have been sent*: it is
    /// `Refused` for a 400, 401, 403 or 404 (with Hero's reason in
    /// [`Error::server_message`] and, for a 400, the field its body names) and
    /// `NotSent` otherwise.
    ///
    /// ```no_run
    /// use herohealth::{Client, PatientAnswer, PatientQuery, Target};
    ///
    /// let client = Client::builder(Target::Staging, "key", "group").build()?;
    /// match client.find_patient(&PatientQuery::by_nhs_number("943 476 5919", "1992-01-01"))? {
    ///     PatientAnswer::Found { patient_id } => println!("Hero id {patient_id}"),
    ///     PatientAnswer::VerificationRequired { login_url, .. } => {
    ///         println!("the patient must verify at {login_url}")
    ///     }
    ///     _ => {}
    /// }
    /// # Ok::<(), herohealth::Error>(())
    /// ```
    pub fn find_patient(&self, query: &PatientQuery) -> Result<PatientAnswer, Error> {
        self.find_patient_by(query, self.deadline_from_now())
    }

    /// Like [`find_patient`](Self::find_patient), done by `deadline`: a
    /// lookup and the send after it can share one.
    pub(crate) fn find_patient_by(
        &self,
        query: &PatientQuery,
        deadline: Instant,
    ) -> Result<PatientAnswer, Error> {
        let body = query.body()?;
        self.run::<LookupOp>(&body, deadline, None)
    }

    /// Finds the patient, then sends `message` to the id found, all within
    /// one deadline (the client's, from this call). `message`'s own
    /// `patient_id` is ignored.
    ///
    /// Both are checked before any request: invalid input sends nothing.
    /// When Hero asks for identity verification nothing is sent and the
    /// answer comes back with no reply. An error from the lookup has the
    /// lookup's outcomes (never *may have been sent*); once the patient is
    /// found, an error is the send's, with the send's outcomes.
    pub fn find_and_send(
        &self,
        query: &PatientQuery,
        message: &SendMessage,
    ) -> Result<(PatientAnswer, Option<MessageResponse>), Error> {
        let (answer, result) = self.find_and_send_parts(query, message);
        let reply = result?;
        // An answer is always there when the result is Ok.
        answer.map(|a| (a, reply)).ok_or_else(|| {
            Error::new(
                crate::Outcome::NotSent,
                crate::ErrorKind::Internal,
                "lookup gave no answer",
            )
        })
    }

    /// [`find_and_send`](Self::find_and_send) in its parts: the answer when
    /// the lookup gave one (then an error is the send's), and the result.
    pub(crate) fn find_and_send_parts(
        &self,
        query: &PatientQuery,
        message: &SendMessage,
    ) -> (
        Option<PatientAnswer>,
        Result<Option<MessageResponse>, Error>,
    ) {
        let deadline = self.deadline_from_now();
        let checked = query.body().and_then(|lookup| {
            let mut message = message.clone();
            // Any id of digits passes the send's checks: the real one is not known yet.
            message.patient_id = "0".to_owned();
            self.body(&message).map(|_| (lookup, message))
        });
        let (lookup, mut message) = match checked {
            Ok(parts) => parts,
            Err(e) => return (None, Err(e)),
        };
        let answer = match self.run::<LookupOp>(&lookup, deadline, None) {
            Ok(answer) => answer,
            Err(e) => return (None, Err(e)),
        };
        let Some(id) = answer.patient_id() else {
            return (Some(answer), Ok(None));
        };
        message.patient_id = id.to_owned();
        let result = self
            .body(&message)
            .and_then(|body| self.send_body(&body, deadline, None))
            .map(Some);
        (Some(answer), result)
    }
}
