//! `hero_error`: why a call failed, and whether the message may have gone.

use std::ffi::{CString, c_char};
use std::ptr;

use super::{
    HERO_ACCEPTED_ID_UNKNOWN, HERO_INVALID_ARGUMENT, HERO_INVALID_UTF8, HERO_MAY_HAVE_BEEN_SENT,
    HERO_NOT_SENT, HERO_NULL_ARGUMENT, HERO_OK, HERO_REFUSED, hero_status, take,
};
use crate::{Error, ErrorKind, Outcome};

/// Details of a failure (opaque). Immutable once returned: it may be read
/// from any thread; free it once with `hero_error_free`.
pub struct hero_error {
    error: Error,
    message: CString,
    field: Option<CString>,
    server_message: Option<CString>,
}

/// Finer cause of a failure (`hero_error_kind`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hero_kind {
    /// No error (only returned for a NULL `error`).
    HERO_KIND_NONE = 0,
    /// A message field or setting breaks a rule; `hero_error_field` names it.
    HERO_KIND_INVALID_INPUT = 1,
    /// Unusable settings (base URL, environment, CA file, proxy).
    HERO_KIND_CONFIG = 2,
    /// Host name not resolved.
    HERO_KIND_DNS = 3,
    /// TCP connection not opened.
    HERO_KIND_CONNECT = 4,
    /// TLS failed (untrusted certificate, wrong host name, handshake).
    HERO_KIND_TLS = 5,
    /// The proxy's name did not resolve, it could not be reached, or it
    /// refused the tunnel; the text names the proxy and gives its status.
    HERO_KIND_PROXY = 6,
    /// A deadline passed.
    HERO_KIND_TIMEOUT = 7,
    /// The connection broke.
    HERO_KIND_CONNECTION_LOST = 8,
    /// HTTP 429.
    HERO_KIND_RATE_LIMITED = 9,
    /// A redirect (never followed).
    HERO_KIND_REDIRECT = 10,
    /// Another non-2xx HTTP status.
    HERO_KIND_HTTP_STATUS = 11,
    /// The answer was not valid HTTP.
    HERO_KIND_PROTOCOL = 12,
    /// A 2xx answer without a readable `message_id`.
    HERO_KIND_UNREADABLE_RESPONSE = 13,
    /// A bug in this library, caught at the boundary.
    HERO_KIND_INTERNAL = 14,
    /// The send journal could not be opened, read or written, or another
    /// process holds it.
    HERO_KIND_JOURNAL = 15,
    /// The journal shows an earlier send of this key that may have reached
    /// the patient: check in Hero, then resolve the key.
    HERO_KIND_NEEDS_RECONCILIATION = 16,
}

impl hero_error {
    pub(crate) fn new(error: Error) -> Self {
        // Display text never holds a NUL (we write it), but stay total.
        let message = CString::new(error.to_string().replace('\0', " ")).unwrap_or_default();
        let field = error.field().and_then(|f| CString::new(f).ok());
        // Control characters (NUL among them) are already stripped from it.
        let server_message = error.server_message().and_then(|m| CString::new(m).ok());
        hero_error {
            error,
            message,
            field,
            server_message,
        }
    }

    pub(crate) fn status(&self) -> hero_status {
        outcome_status(self.error.outcome())
    }
}

pub(crate) fn outcome_status(outcome: Outcome) -> hero_status {
    match outcome {
        Outcome::NotSent => HERO_NOT_SENT,
        Outcome::Refused => HERO_REFUSED,
        Outcome::AcceptedIdUnknown => HERO_ACCEPTED_ID_UNKNOWN,
        // Anything new is treated as the unsafe case.
        _ => HERO_MAY_HAVE_BEEN_SENT,
    }
}

/// Stores `error` in `*out` when `out` is not NULL; returns its status.
///
/// # Safety
/// `out` is NULL or valid to write.
pub(crate) unsafe fn report(out: *mut *mut hero_error, error: Error) -> hero_status {
    let e = hero_error::new(error);
    let status = e.status();
    if !out.is_null() {
        // SAFETY: per the caller's contract.
        unsafe { super::give(out, e) };
    }
    status
}

/// Hands a core result to C: the value, wrapped, through `out`, or the
/// error through `error_out` (when not NULL). Returns the status.
///
/// # Safety
/// `out` is valid to write; `error_out` is NULL or valid to write.
pub(crate) unsafe fn deliver<T, U>(
    result: Result<T, Error>,
    out: *mut *mut U,
    error_out: *mut *mut hero_error,
    wrap: impl FnOnce(T) -> U,
) -> hero_status {
    match result {
        // SAFETY: per this function's contract.
        Ok(value) => unsafe {
            super::give(out, wrap(value));
            super::HERO_OK
        },
        // SAFETY: per this function's contract.
        Err(e) => unsafe { report(error_out, e) },
    }
}

/// The outcome of the failure: `HERO_NOT_SENT`, `HERO_REFUSED`,
/// `HERO_MAY_HAVE_BEEN_SENT` or `HERO_ACCEPTED_ID_UNKNOWN` (the same value
/// the failing call returned). `HERO_NULL_ARGUMENT` if `error` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_status(error: *const hero_error) -> hero_status {
    // SAFETY: NULL or a live hero_error, per this function's contract.
    match unsafe { error.as_ref() } {
        Some(e) => e.status(),
        None => super::HERO_NULL_ARGUMENT,
    }
}

/// The exit code a command-line tool gives for a call's result (the rule
/// `hero_send` uses in both modes): `status` is the call's `hero_status`
/// (a plain integer, so any value is safe), `error` its `hero_error` or
/// NULL. 0 for `HERO_OK`; 2 for misuse (`HERO_NULL_ARGUMENT`,
/// `HERO_INVALID_UTF8`, `HERO_INVALID_ARGUMENT`: nothing was done); with
/// an `error`: 2 invalid input, configuration or journal, 3 refused, 4
/// rate limited (a 429, or the client's gate: not sent), 5 could not
/// connect, 6 may have been sent or needs reconciliation, 7 accepted with
/// the id unknown; 6 (the safe assumption) for anything else, such as a
/// NULL `error` after a send. `error` is only read, from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_exit_code(status: u32, error: *const hero_error) -> i32 {
    use crate::exit_code;
    if status == HERO_OK as u32 {
        return exit_code::SENT;
    }
    let misuse = [HERO_NULL_ARGUMENT, HERO_INVALID_UTF8, HERO_INVALID_ARGUMENT];
    if misuse.iter().any(|s| *s as u32 == status) {
        return exit_code::INVALID;
    }
    // SAFETY: NULL or a live hero_error (documented).
    match unsafe { error.as_ref() } {
        Some(e) => exit_code::for_error(&e.error),
        None => exit_code::MAY_HAVE_BEEN_SENT,
    }
}

/// The finer cause. `HERO_KIND_NONE` if `error` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_kind(error: *const hero_error) -> hero_kind {
    use hero_kind::*;
    // SAFETY: NULL or a live hero_error.
    let Some(e) = (unsafe { error.as_ref() }) else {
        return HERO_KIND_NONE;
    };
    match e.error.kind() {
        ErrorKind::InvalidInput => HERO_KIND_INVALID_INPUT,
        ErrorKind::Config => HERO_KIND_CONFIG,
        ErrorKind::Dns => HERO_KIND_DNS,
        ErrorKind::Connect => HERO_KIND_CONNECT,
        ErrorKind::Tls => HERO_KIND_TLS,
        ErrorKind::Proxy => HERO_KIND_PROXY,
        ErrorKind::Timeout => HERO_KIND_TIMEOUT,
        ErrorKind::ConnectionLost => HERO_KIND_CONNECTION_LOST,
        ErrorKind::RateLimited => HERO_KIND_RATE_LIMITED,
        ErrorKind::Redirect => HERO_KIND_REDIRECT,
        ErrorKind::HttpStatus => HERO_KIND_HTTP_STATUS,
        ErrorKind::Protocol => HERO_KIND_PROTOCOL,
        ErrorKind::UnreadableResponse => HERO_KIND_UNREADABLE_RESPONSE,
        ErrorKind::Journal => HERO_KIND_JOURNAL,
        ErrorKind::NeedsReconciliation => HERO_KIND_NEEDS_RECONCILIATION,
        _ => HERO_KIND_INTERNAL,
    }
}

/// One line of English saying what happened and whether the message may
/// have gone. Never contains the API key, the message text or contact
/// details. Valid until `hero_error_free(error)`; NULL if `error` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_message(error: *const hero_error) -> *const c_char {
    // SAFETY: NULL or a live hero_error.
    unsafe { error.as_ref() }.map_or(ptr::null(), |e| e.message.as_ptr())
}

/// For `HERO_KIND_INVALID_INPUT`: the JSON name of the offending field
/// (`"patient_id"`, `"api_key"`...); for a server's refusal, the request
/// field its error body names (one of the 17 request field names). NULL
/// otherwise or if `error` is NULL. Borrowed: valid until
/// `hero_error_free(error)`; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_field(error: *const hero_error) -> *const c_char {
    // SAFETY: NULL or a live hero_error.
    unsafe { error.as_ref() }
        .and_then(|e| e.field.as_ref())
        .map_or(ptr::null(), |f| f.as_ptr())
}

/// The server's own short reason for the failure, read from a JSON error
/// body (the first usable string under `message`, `detail`, `errors` or
/// `error`), UTF-8, with control, line-separator and bidi characters
/// removed, at most 200 characters and a closing `…` (at most 804 bytes
/// with the NUL). NULL when the body gave none or
/// `error` is NULL. Borrowed: valid until `hero_error_free(error)`; do not
/// free it. It may quote patient data, so it is never part of
/// `hero_error_message`: show it to the operator, not in shared logs.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_server_message(error: *const hero_error) -> *const c_char {
    // SAFETY: NULL or a live hero_error.
    unsafe { error.as_ref() }
        .and_then(|e| e.server_message.as_ref())
        .map_or(ptr::null(), |m| m.as_ptr())
}

/// The HTTP status the server answered, or 0 when there was no answer.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_http_status(error: *const hero_error) -> u16 {
    // SAFETY: NULL or a live hero_error.
    unsafe { error.as_ref() }
        .and_then(|e| e.error.status())
        .unwrap_or(0)
}

/// For a 429 (or 503): the server's `Retry-After` in milliseconds (capped
/// at a day), or -1 when it sent none.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_retry_after_ms(error: *const hero_error) -> i64 {
    // SAFETY: NULL or a live hero_error.
    unsafe { error.as_ref() }
        .and_then(|e| e.error.retry_after())
        .map_or(-1, |d| d.as_millis() as i64)
}

/// How many HTTP attempts were made (0 when nothing was attempted).
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_attempts(error: *const hero_error) -> u32 {
    // SAFETY: NULL or a live hero_error.
    unsafe { error.as_ref() }.map_or(0, |e| e.error.attempts())
}

/// The raw response body (capped at 64 KiB; not NUL-terminated), its
/// length stored in `*len_out`. NULL (and length 0) when there was none.
/// It may contain patient data: log it only where patient data may go.
/// Valid until `hero_error_free(error)`. `len_out` may be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_body(error: *const hero_error, len_out: *mut usize) -> *const u8 {
    // SAFETY: NULL or a live hero_error.
    // An empty body reads as none: C gets NULL, never a dangling non-NULL pointer.
    let body = unsafe { error.as_ref() }
        .and_then(|e| e.error.response_body())
        .filter(|b| !b.is_empty());
    if !len_out.is_null() {
        // SAFETY: non-NULL pointer the caller gave us to write.
        unsafe { *len_out = body.map_or(0, <[u8]>::len) };
    }
    body.map_or(ptr::null(), <[u8]>::as_ptr)
}

/// Frees an error. NULL is ignored. The error and every pointer read from
/// it are invalid afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_free(error: *mut hero_error) {
    // SAFETY: NULL or a hero_error from this library, freed once.
    unsafe { take(error) }
}
