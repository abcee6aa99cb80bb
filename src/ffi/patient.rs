//! `hero_patient_query` (who to look up) and `hero_patient` (Hero's
//! answer): finding a patient's Hero id through `register_pds`.

use std::ffi::{CString, c_char};
use std::ptr;

use super::error::{deliver, report};
use super::{
    HERO_INTERNAL_ERROR, HERO_OK, caught, clear_outs, ffi_try, give, guard, hero_client,
    hero_error, hero_message, hero_response, hero_status, ref_arg, str_arg, take,
};
use crate::{Error, ErrorKind, Outcome, PatientAnswer, PatientQuery};

/// Who to look up (opaque). One thread at a time; it may be used for any
/// number of lookups, by any client. Free with `hero_patient_query_free`.
pub struct hero_patient_query {
    // `None` only if a panic interrupted a setter.
    query: Option<PatientQuery>,
}

/// Hero's answer to a lookup (opaque, immutable). May be read from any
/// thread; free it once with `hero_patient_free`.
pub struct hero_patient {
    answer: PatientAnswer,
    // Each holds no NUL: the core refuses control characters in all three.
    strings: [Option<CString>; 3],
    json: CString,
}

/// Which answer a `hero_patient` holds (`hero_patient_kind`).
pub type hero_patient_answer = u32;
/// Hero's `patient_id` for the patient: `hero_patient_id`.
pub const HERO_PATIENT_FOUND: hero_patient_answer = 1;
/// The patient must verify their identity first: `hero_patient_login_url`
/// and `hero_patient_message`; there is no id.
pub const HERO_PATIENT_VERIFICATION_REQUIRED: hero_patient_answer = 2;

impl hero_patient {
    fn new(answer: PatientAnswer) -> Self {
        let c = |s: Option<&str>| s.and_then(|s| CString::new(s).ok());
        let json = match &answer {
            PatientAnswer::VerificationRequired { login_url, message } => {
                serde_json::json!({ "login_url": login_url, "message": message })
            }
            _ => serde_json::json!({ "patient_id": answer.patient_id() }),
        };
        hero_patient {
            strings: [
                c(answer.patient_id()),
                c(answer.login_url()),
                c(answer.message()),
            ],
            // JSON escapes control characters, so this never holds a NUL.
            json: CString::new(json.to_string()).unwrap_or_default(),
            answer,
        }
    }

    fn string(p: *const hero_patient, slot: usize) -> *const c_char {
        // SAFETY: NULL or a live hero_patient (documented on each reader).
        unsafe { p.as_ref() }
            .and_then(|p| p.strings[slot].as_ref())
            .map_or(ptr::null(), |s| s.as_ptr())
    }
}

/// Makes a query and hands it to C.
///
/// # Safety
/// `out` is NULL or valid to write.
unsafe fn new_query(
    out: *mut *mut hero_patient_query,
    make: impl FnOnce() -> Result<PatientQuery, hero_status>,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a writable out-parameter (the caller's contract).
        ffi_try!(unsafe { clear_outs(out, ptr::null_mut()) });
        let query = ffi_try!(make());
        // SAFETY: checked non-NULL above.
        unsafe { give(out, hero_patient_query { query: Some(query) }) };
        HERO_OK
    })
}

/// Creates a query by NHS number (10 digits; spaces as in `943 476 5919` are
/// accepted) and date of birth (`YYYY-MM-DD`).
///
/// Strings are copied (the caller keeps ownership); their rules are checked
/// by `hero_client_find_patient`, before anything is sent. On `HERO_OK`,
/// `*query_out` owns a new query: free it with `hero_patient_query_free`.
/// Otherwise `*query_out` is NULL (when `query_out` is not NULL). Returns
/// `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_query_new_nhs_number(
    nhs_number: *const c_char,
    dob: *const c_char,
    query_out: *mut *mut hero_patient_query,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated strings and a writable out-parameter (documented).
    unsafe {
        new_query(query_out, || {
            Ok(PatientQuery::by_nhs_number(
                str_arg(nhs_number)?,
                str_arg(dob)?,
            ))
        })
    }
}

/// Creates a query by demographics: forename, surname, date of birth
/// (`YYYY-MM-DD`) and UK postcode, all four required.
///
/// Ownership, checks and statuses as for `hero_patient_query_new_nhs_number`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_query_new_demographics(
    forename: *const c_char,
    surname: *const c_char,
    dob: *const c_char,
    postcode: *const c_char,
    query_out: *mut *mut hero_patient_query,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated strings and a writable out-parameter (documented).
    unsafe {
        new_query(query_out, || {
            Ok(PatientQuery::by_demographics(
                str_arg(forename)?,
                str_arg(surname)?,
                str_arg(dob)?,
                str_arg(postcode)?,
            ))
        })
    }
}

/// Sets one optional string field from a C string.
fn set(
    query: *mut hero_patient_query,
    value: *const c_char,
    apply: fn(PatientQuery, &str) -> PatientQuery,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated, per the setters' contract.
    super::update(query, |h| &mut h.query, unsafe { str_arg(value) }, apply)
}

/// Sets `ehr_partner`, the clinical system the lookup comes from (non-empty).
///
/// `value` is copied; setting again replaces it. Returns
/// `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the query is then
/// unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_query_set_ehr_partner(
    query: *mut hero_patient_query,
    value: *const c_char,
) -> hero_status {
    set(query, value, |q, v| q.ehr_partner(v))
}

/// Sets `ehr_partner_id`, the patient's id in that clinical system
/// (non-empty).
///
/// As for `hero_patient_query_set_ehr_partner`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_query_set_ehr_partner_id(
    query: *mut hero_patient_query,
    value: *const c_char,
) -> hero_status {
    set(query, value, |q, v| q.ehr_partner_id(v))
}

/// Frees a query. NULL is ignored. One thread; not used again.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_query_free(query: *mut hero_patient_query) {
    // SAFETY: NULL or a hero_patient_query from this library, freed once.
    unsafe { take(query) }
}

/// Looks the patient up (`POST /v1/patients/register_pds`), blocking,
/// within the configured deadline. A lookup sends no message: a failed
/// connect, a lost reply, a timeout, a 5xx or a 429 is retried within the
/// configured attempts, and no failure is ever `HERO_MAY_HAVE_BEEN_SENT`.
///
/// On `HERO_OK`, `*patient_out` owns the answer (free with
/// `hero_patient_free`): `HERO_PATIENT_FOUND` with the id, or
/// `HERO_PATIENT_VERIFICATION_REQUIRED` (the patient must verify at the
/// login URL before the lookup is repeated). Otherwise `*patient_out` is
/// NULL and the status is `HERO_NOT_SENT` (invalid input, with the field in
/// `hero_error_field`; or the lookup could not complete: repeating it is
/// safe) or `HERO_REFUSED` (400, 401, 403, 404 or 429, with Hero's reason in
/// `hero_error_server_message`); `*error_out`, if `error_out` is not NULL,
/// owns the details. `HERO_NULL_ARGUMENT` if `client`, `query` or
/// `patient_out` is NULL.
///
/// Thread rules: any number of threads may look up through one client at
/// once, beside sends; `query` must not be modified by another thread
/// during the call.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_find_patient(
    client: *const hero_client,
    query: *const hero_patient_query,
    patient_out: *mut *mut hero_patient,
    error_out: *mut *mut hero_error,
) -> hero_status {
    let status = caught(|| {
        // SAFETY: NULL or writable out-parameters (documented).
        ffi_try!(unsafe { clear_outs(patient_out, error_out) });
        // SAFETY: NULL or live handles (documented thread rules).
        let client = ffi_try!(unsafe { ref_arg(client) });
        let query = ffi_try!(unsafe { ref_arg(query) });
        let Some(q) = &query.query else {
            return HERO_INTERNAL_ERROR;
        };
        // SAFETY: checked or cleared out-parameters (above).
        unsafe {
            deliver(
                client.client.find_patient(q),
                patient_out,
                error_out,
                hero_patient::new,
            )
        }
    });
    status.unwrap_or_else(|| {
        // A bug inside the lookup: no message can have gone.
        let e = Error::new(
            Outcome::NotSent,
            ErrorKind::Internal,
            "internal error during the lookup",
        );
        // SAFETY: error_out is NULL or writable, and was cleared before the lookup began.
        unsafe { report(error_out, e) }
    })
}

/// Looks the patient up, then sends `message` to the id found, within one
/// deadline (the configured one, from this call). `message`'s own
/// `patient_id` is ignored (pass `""` to `hero_message_new`).
///
/// Both are checked before any request. On `HERO_OK`, `*patient_out` owns
/// the answer; `*response_out` owns the reply when the message was sent,
/// and is NULL when Hero asked for identity verification
/// (`HERO_PATIENT_VERIFICATION_REQUIRED`): then nothing was sent. On any
/// other status both are NULL except that `*patient_out` is set when the
/// patient was found and the send then failed: the status is then the
/// send's (`HERO_MAY_HAVE_BEEN_SENT`: do not resend before checking in
/// Hero). With `*patient_out` NULL the failure is the lookup's, and no
/// message was sent. `*error_out`, if not NULL, owns the details.
///
/// Thread rules as for `hero_client_send`. An internal error is reported
/// as `HERO_MAY_HAVE_BEEN_SENT` (kind `HERO_KIND_INTERNAL`), the only safe
/// assumption.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_find_and_send(
    client: *const hero_client,
    query: *const hero_patient_query,
    message: *const hero_message,
    patient_out: *mut *mut hero_patient,
    response_out: *mut *mut hero_response,
    error_out: *mut *mut hero_error,
) -> hero_status {
    let status = caught(|| {
        // SAFETY: NULL or writable out-parameters (documented).
        ffi_try!(unsafe { clear_outs(response_out, error_out) });
        // SAFETY: as above.
        ffi_try!(unsafe { clear_outs(patient_out, ptr::null_mut()) });
        // SAFETY: NULL or live handles (documented thread rules).
        let client = ffi_try!(unsafe { ref_arg(client) });
        let query = ffi_try!(unsafe { ref_arg(query) });
        let message = ffi_try!(unsafe { ref_arg(message) });
        let (Some(q), Some(m)) = (&query.query, &message.msg) else {
            return HERO_INTERNAL_ERROR;
        };
        match client.client.find_and_send_parts(q, m) {
            // SAFETY: error_out was checked or cleared above.
            (None, Err(e)) => unsafe { report(error_out, e) },
            (Some(answer), result) => {
                // SAFETY: checked non-NULL above.
                unsafe { give(patient_out, hero_patient::new(answer)) };
                match result {
                    Ok(None) => HERO_OK,
                    // SAFETY: checked or cleared out-parameters (above).
                    Ok(Some(reply)) => unsafe {
                        give(response_out, hero_response::new(reply));
                        HERO_OK
                    },
                    // SAFETY: error_out was checked or cleared above.
                    Err(e) => unsafe { report(error_out, e) },
                }
            }
            (None, Ok(_)) => HERO_INTERNAL_ERROR,
        }
    });
    status.unwrap_or_else(|| {
        let e = Error::new(
            Outcome::MayHaveBeenSent,
            ErrorKind::Internal,
            "internal error during the lookup and send",
        )
        .with_attempts(1);
        // SAFETY: error_out is NULL or writable, and was cleared before the call began.
        unsafe { report(error_out, e) }
    })
}

/// Which answer `patient` holds: `HERO_PATIENT_FOUND` or
/// `HERO_PATIENT_VERIFICATION_REQUIRED`; 0 if `patient` is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_kind(patient: *const hero_patient) -> hero_patient_answer {
    // SAFETY: NULL or a live hero_patient, per the contract above.
    match unsafe { patient.as_ref() }.map(|p| &p.answer) {
        Some(PatientAnswer::Found { .. }) => HERO_PATIENT_FOUND,
        Some(PatientAnswer::VerificationRequired { .. }) => HERO_PATIENT_VERIFICATION_REQUIRED,
        _ => 0,
    }
}

/// Hero's `patient_id`, for `hero_message_new`.
///
/// Borrowed: valid until `hero_patient_free(patient)`. NULL unless the
/// answer is `HERO_PATIENT_FOUND`, or when `patient` is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_id(patient: *const hero_patient) -> *const c_char {
    hero_patient::string(patient, 0)
}

/// Where the patient must verify their identity (a secret link: show it
/// to the patient only).
///
/// Borrowed: valid until `hero_patient_free(patient)`. NULL unless the
/// answer is `HERO_PATIENT_VERIFICATION_REQUIRED`, or when `patient` is
/// NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_login_url(patient: *const hero_patient) -> *const c_char {
    hero_patient::string(patient, 1)
}

/// Hero's explanation of why verification is needed (may be empty).
///
/// As for `hero_patient_login_url`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_message(patient: *const hero_patient) -> *const c_char {
    hero_patient::string(patient, 2)
}

/// The answer as one JSON object: `{"patient_id":"…"}` or
/// `{"login_url":"…","message":"…"}`.
///
/// Borrowed: valid until `hero_patient_free(patient)`; NULL if `patient`
/// is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_json(patient: *const hero_patient) -> *const c_char {
    // SAFETY: NULL or a live hero_patient, per the contract above.
    unsafe { patient.as_ref() }.map_or(ptr::null(), |p| p.json.as_ptr())
}

/// Frees an answer. NULL is ignored. Every pointer read from it is invalid
/// afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_free(patient: *mut hero_patient) {
    // SAFETY: NULL or a hero_patient from this library, freed once.
    unsafe { take(patient) }
}
