//! `hero_message`: the request being built.

use std::ffi::c_char;

use super::error::{hero_error, report};
use super::{
    HERO_INTERNAL_ERROR, HERO_INVALID_ARGUMENT, HERO_NULL_ARGUMENT, HERO_OK, clear_outs, ffi_try,
    give, guard, hero_status, str_arg, take,
};
use crate::batch::fields::set_named;
use crate::{AssigneeType, Encrypted, FallbackType, MessageType, SendMessage};

/// A message being built (opaque). Use it from one thread at a time; it may
/// be sent any number of times, and by any client. Free with
/// `hero_message_free`.
pub struct hero_message {
    // `None` only if a panic interrupted a setter.
    pub(crate) msg: Option<SendMessage>,
}

/// `message_type` values (`hero_message_new`).
pub type hero_message_type = u32;
/// `"hero"`: kept in Hero only, as an audit record.
pub const HERO_MESSAGE_TYPE_HERO: hero_message_type = 1;
/// `"sms"`: through the practice's SMS provider.
pub const HERO_MESSAGE_TYPE_SMS: hero_message_type = 2;
/// `"email"`.
pub const HERO_MESSAGE_TYPE_EMAIL: hero_message_type = 3;
/// `"nhs_app"`: through the NHS App.
pub const HERO_MESSAGE_TYPE_NHS_APP: hero_message_type = 4;

/// `fallback_message_type` values.
pub type hero_fallback_type = u32;
/// `"sms"`.
pub const HERO_FALLBACK_TYPE_SMS: hero_fallback_type = 1;
/// `"email"`.
pub const HERO_FALLBACK_TYPE_EMAIL: hero_fallback_type = 2;

/// `assignee_type` values.
pub type hero_assignee_type = u32;
/// `"Admin"`.
pub const HERO_ASSIGNEE_TYPE_ADMIN: hero_assignee_type = 1;
/// `"AdminTeam"`.
pub const HERO_ASSIGNEE_TYPE_ADMIN_TEAM: hero_assignee_type = 2;

const MESSAGE_TYPES: [(hero_message_type, MessageType); 4] = [
    (HERO_MESSAGE_TYPE_HERO, MessageType::Hero),
    (HERO_MESSAGE_TYPE_SMS, MessageType::Sms),
    (HERO_MESSAGE_TYPE_EMAIL, MessageType::Email),
    (HERO_MESSAGE_TYPE_NHS_APP, MessageType::NhsApp),
];
const FALLBACK_TYPES: [(hero_fallback_type, FallbackType); 2] = [
    (HERO_FALLBACK_TYPE_SMS, FallbackType::Sms),
    (HERO_FALLBACK_TYPE_EMAIL, FallbackType::Email),
];
const ASSIGNEE_TYPES: [(hero_assignee_type, AssigneeType); 2] = [
    (HERO_ASSIGNEE_TYPE_ADMIN, AssigneeType::Admin),
    (HERO_ASSIGNEE_TYPE_ADMIN_TEAM, AssigneeType::AdminTeam),
];

fn from_c<T: Copy>(table: &[(u32, T)], value: u32) -> Result<T, hero_status> {
    table
        .iter()
        .find(|(c, _)| *c == value)
        .map(|(_, t)| *t)
        .ok_or(HERO_INVALID_ARGUMENT)
}

fn to_c<T: Copy + PartialEq>(table: &[(u32, T)], value: T) -> u32 {
    table
        .iter()
        .find(|(_, t)| *t == value)
        .map_or(0, |(c, _)| *c)
}

/// Applies one builder step to a message handle.
fn update<V>(
    message: *mut hero_message,
    value: Result<V, hero_status>,
    apply: impl FnOnce(SendMessage, V) -> SendMessage,
) -> hero_status {
    super::update(message, |h| &mut h.msg, value, apply)
}

/// Creates a message with the three required fields.
///
/// `patient_id` is Hero's numeric patient id as a string; `message_type` one
/// of `HERO_MESSAGE_TYPE_*`; `message_string` the text. Strings are copied
/// (the caller keeps ownership) and are sent exactly as given; rules are
/// checked by `hero_client_send`, before anything is sent.
///
/// On `HERO_OK`, `*message_out` owns a new message: free it with
/// `hero_message_free`. On any other status `*message_out` is set to NULL
/// (when `message_out` is not NULL). Returns `HERO_NULL_ARGUMENT`,
/// `HERO_INVALID_UTF8` or `HERO_INVALID_ARGUMENT` (unknown type) on misuse.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_new(
    patient_id: *const c_char,
    message_type: hero_message_type,
    message_string: *const c_char,
    message_out: *mut *mut hero_message,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a writable out-parameter (documented).
        ffi_try!(unsafe { clear_outs(message_out, std::ptr::null_mut()) });
        // SAFETY: NULL or NUL-terminated strings, per the contract above.
        let patient_id = ffi_try!(unsafe { str_arg(patient_id) });
        let text = ffi_try!(unsafe { str_arg(message_string) });
        let kind = ffi_try!(from_c(&MESSAGE_TYPES, message_type));
        let msg = SendMessage::new(patient_id, kind, text);
        // SAFETY: checked non-NULL above.
        unsafe { give(message_out, hero_message { msg: Some(msg) }) };
        HERO_OK
    })
}

/// Sets one string field from a C string.
fn set_string(
    message: *mut hero_message,
    value: *const c_char,
    apply: fn(SendMessage, &str) -> SendMessage,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated, per the setters' contract.
    update(message, unsafe { str_arg(value) }, apply)
}

/// Sets `recipient_contact_detail`: phone number for sms, address for
/// email; Hero uses the patient's default when unset.
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_recipient_contact_detail(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.recipient_contact_detail(v))
}

/// Sets `fallback_contact_detail` (set `fallback_message_type` too).
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_fallback_contact_detail(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.fallback_contact_detail(v))
}

/// Sets `snomed_code`, the SNOMED CT concept id for the record entry.
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_snomed_code(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.snomed_code(v))
}

/// Sets `snomed_term`, the SNOMED CT term for the record entry.
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_snomed_term(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.snomed_term(v))
}

/// Sets `task_id`.
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_task_id(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.task_id(v))
}

/// Sets `attachment_uuid` (must not be empty).
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_attachment_uuid(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.attachment_uuid(v))
}

/// Sets `short_link_id` (must not be empty).
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_short_link_id(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.short_link_id(v))
}

/// Sets `send_at`, an RFC 3339 date-time with offset, e.g.
/// `"2026-12-01T09:00:00Z"`.
///
/// `value` is copied and sent exactly as given; setting again replaces it.
/// Returns `HERO_NULL_ARGUMENT` or `HERO_INVALID_UTF8` on misuse (the
/// message is then unchanged). One thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_send_at(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    set_string(message, value, |m, v| m.send_at(v))
}

/// Sets the optional request field `name` (its JSON name, e.g.
/// `"snomed_code"`, `"write_to_record"`, `"assignee_id"`) from its text
/// form, by the rules of a batch file's cells and defaults: `true`/`false`
/// in any case for flags, `sms`/`email`, `Admin`/`AdminTeam`, a whole
/// decimal `assignee_id`; `encrypted` is a flag for `true`/`false` and
/// text otherwise. Both strings are copied; `message` is used by one thread
/// at a time.
///
/// `HERO_OK`; `HERO_INVALID_ARGUMENT` when `name` names no request field,
/// names one set by `hero_message_new` (`patient_id`, `message_type`,
/// `message_string`), or `value` breaks the field's rule; then, when
/// `error_out` is not NULL, `*error_out` is a new `hero_error` naming the
/// field and the rule (never the value). `HERO_NULL_ARGUMENT` /
/// `HERO_INVALID_UTF8` for a bad argument. On any failure the message is
/// unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_field(
    message: *mut hero_message,
    name: *const c_char,
    value: *const c_char,
    error_out: *mut *mut hero_error,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        if !error_out.is_null() {
            // SAFETY: a writable out-parameter (documented).
            unsafe { *error_out = std::ptr::null_mut() };
        }
        // SAFETY: NULL or NUL-terminated strings (documented).
        let args = ffi_try!(unsafe { str_arg(name).and_then(|n| Ok((n, str_arg(value)?))) });
        // Whether a field takes a value depends on the two strings only:
        // checked on a scratch message, so the handle is touched on success only.
        let scratch = SendMessage::new("0", MessageType::Hero, "");
        if let Err(e) = set_named(scratch, args.0, args.1) {
            // SAFETY: NULL or writable (documented).
            unsafe { report(error_out, e) };
            return HERO_INVALID_ARGUMENT;
        }
        update(message, Ok(args), |m, (n, v)| {
            set_named(m.clone(), n, v).unwrap_or(m)
        })
    })
}

/// Sets `encrypted` to the string `value` (Hero types the field "boolean
/// or string"); see `hero_message_set_encrypted` for the boolean form.
/// Same rules as the other string setters.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_encrypted_text(
    message: *mut hero_message,
    value: *const c_char,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated.
    let value = unsafe { str_arg(value) };
    update(message, value, |m, v| {
        m.encrypted(Encrypted::Text(v.to_owned()))
    })
}

/// Sets `encrypted` to a JSON boolean (`value` non-zero is true).
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `message` is NULL
/// (nothing changed). One thread at a time per message.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_encrypted(
    message: *mut hero_message,
    value: bool,
) -> hero_status {
    update(message, Ok(value), |m, v| m.encrypted(Encrypted::Flag(v)))
}

/// Sets `write_to_record`: write the message to the patient's GP record
/// after approval.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `message` is NULL
/// (nothing changed). One thread at a time per message.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_write_to_record(
    message: *mut hero_message,
    value: bool,
) -> hero_status {
    update(message, Ok(value), SendMessage::write_to_record)
}

/// Sets `auto_write_to_record`: write without admin approval (only if the
/// API key allows it).
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `message` is NULL
/// (nothing changed). One thread at a time per message.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_auto_write_to_record(
    message: *mut hero_message,
    value: bool,
) -> hero_status {
    update(message, Ok(value), SendMessage::auto_write_to_record)
}

/// Sets `fallback_message_type` to one of `HERO_FALLBACK_TYPE_*`.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `message` is NULL or
/// `HERO_INVALID_ARGUMENT` for another value
/// (nothing changed). One thread at a time per message.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_fallback_message_type(
    message: *mut hero_message,
    value: hero_fallback_type,
) -> hero_status {
    update(
        message,
        from_c(&FALLBACK_TYPES, value),
        SendMessage::fallback_message_type,
    )
}

/// Sets `assignee_id`, sent as a JSON number (must be 0 to 2^53-1, checked
/// at send); set `assignee_type` too.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `message` is NULL
/// (nothing changed). One thread at a time per message.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_assignee_id(
    message: *mut hero_message,
    value: i64,
) -> hero_status {
    update(message, Ok(value), SendMessage::assignee_id)
}

/// Sets `assignee_type` to one of `HERO_ASSIGNEE_TYPE_*`.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `message` is NULL or
/// `HERO_INVALID_ARGUMENT` for another value
/// (nothing changed). One thread at a time per message.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_set_assignee_type(
    message: *mut hero_message,
    value: hero_assignee_type,
) -> hero_status {
    update(
        message,
        from_c(&ASSIGNEE_TYPES, value),
        SendMessage::assignee_type,
    )
}

/// Parses a `message_type` name exactly as Hero spells it (`"hero"`,
/// `"sms"`, `"email"`, `"nhs_app"`) into `*value_out`. Returns
/// `HERO_INVALID_ARGUMENT` for any other name (and leaves `*value_out`
/// unchanged). For command lines and config files.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_type_from_name(
    name: *const c_char,
    value_out: *mut hero_message_type,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated.
    parse_name(unsafe { str_arg(name) }, value_out, |s| {
        MessageType::parse(s).map(|t| to_c(&MESSAGE_TYPES, t))
    })
}

/// Parses a `fallback_message_type` name (`"sms"`, `"email"`); as
/// `hero_message_type_from_name`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_fallback_type_from_name(
    name: *const c_char,
    value_out: *mut hero_fallback_type,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated.
    parse_name(unsafe { str_arg(name) }, value_out, |s| {
        FallbackType::parse(s).map(|t| to_c(&FALLBACK_TYPES, t))
    })
}

/// Parses an `assignee_type` name (`"Admin"`, `"AdminTeam"`); as
/// `hero_message_type_from_name`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_assignee_type_from_name(
    name: *const c_char,
    value_out: *mut hero_assignee_type,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated.
    parse_name(unsafe { str_arg(name) }, value_out, |s| {
        AssigneeType::parse(s).map(|t| to_c(&ASSIGNEE_TYPES, t))
    })
}

fn parse_name(
    name: Result<&str, hero_status>,
    out: *mut u32,
    parse: impl FnOnce(&str) -> Option<u32>,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        let name = ffi_try!(name);
        if out.is_null() {
            return HERO_NULL_ARGUMENT;
        }
        match parse(name) {
            Some(v) => {
                // SAFETY: non-NULL out pointer given by the caller.
                unsafe { *out = v };
                HERO_OK
            }
            None => HERO_INVALID_ARGUMENT,
        }
    })
}

/// Frees a message. NULL is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn hero_message_free(message: *mut hero_message) {
    // SAFETY: NULL or a hero_message from this library, freed once.
    unsafe { take(message) }
}
