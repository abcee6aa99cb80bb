//! `hero_response`: Hero's answer to an accepted message.

use std::ffi::{CString, c_char};
use std::ptr;

use super::take;
use crate::MessageResponse;

/// An accepted message's reply (opaque, immutable). May be read from any
/// thread; free it once with `hero_response_free`.
pub struct hero_response {
    message_id: CString,
    content: Option<CString>,
    created_at: Option<CString>,
    snomed_code: Option<CString>,
    write_to_record: Option<bool>,
    auth_token: Option<CString>,
    confirm_write_to_record_url: Option<CString>,
    submitted_by: Option<CString>,
    send_at: Option<CString>,
    json: CString,
}

/// A C copy of a field; a value with an embedded NUL cannot be a C string
/// and reads as absent (`hero_response_json` still carries it, escaped).
fn c(s: Option<&str>) -> Option<CString> {
    s.and_then(|s| CString::new(s).ok())
}

impl hero_response {
    pub(crate) fn new(r: &MessageResponse) -> Self {
        hero_response {
            message_id: CString::new(r.message_id()).unwrap_or_default(),
            content: c(r.content()),
            created_at: c(r.created_at()),
            snomed_code: c(r.snomed_code()),
            write_to_record: r.write_to_record(),
            auth_token: c(r.auth_token()),
            confirm_write_to_record_url: c(r.confirm_write_to_record_url()),
            submitted_by: c(r.submitted_by()),
            send_at: c(r.send_at()),
            // JSON escapes control characters, so this never holds a NUL.
            json: CString::new(r.to_json()).unwrap_or_default(),
        }
    }
}

fn opt(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

macro_rules! string_accessors {
    ($($(#[$doc:meta])* $fn_name:ident => $field:ident;)*) => {$(
        $(#[$doc])*
        ///
        /// Borrowed: valid until `hero_response_free(response)`. NULL when
        /// the field was absent or null, or when `response` is NULL.
        #[unsafe(no_mangle)]
        pub extern "C" fn $fn_name(response: *const hero_response) -> *const c_char {
            // SAFETY: NULL or a live hero_response, per the contract above.
            unsafe { response.as_ref() }.map_or(ptr::null(), |r| opt(&r.$field))
        }
    )*};
}

/// Hero's id for the message: keep it to reconcile later.
///
/// Never NULL for a live response (NULL only if `response` is NULL).
/// Borrowed: valid until `hero_response_free(response)`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_message_id(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.message_id.as_ptr())
}

string_accessors! {
    /// The message content as Hero stored it (patient data).
    hero_response_content => content;
    /// When Hero created the message (RFC 3339).
    hero_response_created_at => created_at;
    /// The SNOMED code attached to the record entry.
    hero_response_snomed_code => snomed_code;
    /// The patient's access token for the message (treat as a secret).
    hero_response_auth_token => auth_token;
    /// Where an admin confirms the record write, when approval is needed.
    hero_response_confirm_write_to_record_url => confirm_write_to_record_url;
    /// Who Hero records as the sender.
    hero_response_submitted_by => submitted_by;
    /// The scheduled send time, echoed.
    hero_response_send_at => send_at;
}

/// `write_to_record` from the reply: 1 true, 0 false, -1 absent (or
/// `response` NULL).
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_write_to_record(response: *const hero_response) -> i32 {
    // SAFETY: NULL or a live hero_response.
    match unsafe { response.as_ref() }.and_then(|r| r.write_to_record) {
        Some(true) => 1,
        Some(false) => 0,
        None => -1,
    }
}

/// All 9 response fields as one JSON object, `null` where absent.
///
/// Borrowed: valid until `hero_response_free(response)`; NULL if `response`
/// is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_json(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.json.as_ptr())
}

/// Frees a response. NULL is ignored. Every pointer read from it is
/// invalid afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_free(response: *mut hero_response) {
    // SAFETY: NULL or a hero_response from this library, freed once.
    unsafe { take(response) }
}
