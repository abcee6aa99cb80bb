//! `hero_response`: Hero's answer to an accepted message.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use super::take;
use crate::MessageResponse;

/// An accepted message's reply (opaque, immutable). May be read from any
/// thread; free it once with `hero_response_free`.
pub struct hero_response {
    pub(super) reply: MessageResponse,
    // C copies are made on first use: most callers read one or two fields.
    strings: [OnceLock<Option<CString>>; 8],
    json: OnceLock<CString>,
}

impl hero_response {
    pub(crate) fn new(reply: MessageResponse) -> Self {
        hero_response {
            reply,
            strings: Default::default(),
            json: OnceLock::new(),
        }
    }

    /// The C copy of one string field; a value with an embedded NUL cannot
    /// be a C string and reads as absent (`hero_response_json` still
    /// carries it, escaped).
    fn string(&self, slot: usize, get: fn(&MessageResponse) -> Option<&str>) -> *const c_char {
        self.strings[slot]
            .get_or_init(|| get(&self.reply).and_then(|s| CString::new(s).ok()))
            .as_ref()
            .map_or(ptr::null(), |s| s.as_ptr())
    }
}

/// Hero's id for the message: keep it to reconcile later. Never NULL for
/// a live response.
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_message_id(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.string(0, |r| Some(r.message_id())))
}

/// The message content as Hero stored it (patient data).
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_content(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.string(1, MessageResponse::content))
}

/// When Hero created the message (RFC 3339).
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_created_at(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.string(2, MessageResponse::created_at))
}

/// The SNOMED code attached to the record entry.
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_snomed_code(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.string(3, MessageResponse::snomed_code))
}

/// The patient's access token for the message (treat as a secret).
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_auth_token(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.string(4, MessageResponse::auth_token))
}

/// Where an admin confirms the record write, when approval is needed.
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_confirm_write_to_record_url(
    response: *const hero_response,
) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| {
        r.string(5, MessageResponse::confirm_write_to_record_url)
    })
}

/// Who Hero records as the sender.
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_submitted_by(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.string(6, MessageResponse::submitted_by))
}

/// The scheduled send time, echoed.
///
/// Borrowed: valid until `hero_response_free(response)`. NULL when the
/// field was absent or null, or when `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_send_at(response: *const hero_response) -> *const c_char {
    // SAFETY: NULL or a live hero_response, per the contract above.
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| r.string(7, MessageResponse::send_at))
}

/// `write_to_record` from the reply: 1 true, 0 false, -1 absent (or
/// `response` NULL).
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_write_to_record(response: *const hero_response) -> i32 {
    // SAFETY: NULL or a live hero_response.
    match unsafe { response.as_ref() }.and_then(|r| r.reply.write_to_record()) {
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
    unsafe { response.as_ref() }.map_or(ptr::null(), |r| {
        // JSON escapes control characters, so this never holds a NUL.
        r.json
            .get_or_init(|| CString::new(r.reply.to_json()).unwrap_or_default())
            .as_ptr()
    })
}

/// Frees a response. NULL is ignored. Every pointer read from it is
/// invalid afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_free(response: *mut hero_response) {
    // SAFETY: NULL or a hero_response from this library, freed once.
    unsafe { take(response) }
}
