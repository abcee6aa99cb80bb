//! The rules a message must pass before anything is sent.
//!
//! Errors name the field and the rule, never the value: the value may be
//! patient data.

use crate::error::Error;
use crate::message::checks;
use crate::message::request::{FallbackType, MessageType, SendMessage};

// The public entry point lives here, beside the rules, so the request
// type does not depend on its own checker.
impl SendMessage {
    /// Checks every rule without sending; `strict` adds the clinical and
    /// contact checks (see [`ClientBuilder::strict_checks`](crate::ClientBuilder::strict_checks)).
    pub fn validate(&self, strict: bool) -> Result<(), Error> {
        message(self, strict)
    }
}

/// Largest integer a JSON number carries exactly in every common parser.
pub(crate) const MAX_ASSIGNEE_ID: i64 = (1 << 53) - 1;

pub(crate) const RULE_PATIENT_ID: &str =
    "must be Hero's numeric patient id: ASCII digits only (^\\d+$)";
pub(crate) const RULE_NON_EMPTY: &str = "must not be empty";
pub(crate) const RULE_SNOMED: &str =
    "must be a SNOMED CT identifier: 6 to 18 digits, no leading zero, valid Verhoeff check digit";
pub(crate) const RULE_PHONE: &str =
    "must be a phone number for sms: UK national (07700 900123) or international (+44 7700 900123)";
pub(crate) const RULE_EMAIL: &str = "must be an email address for email (name@example.nhs.uk)";
pub(crate) const RULE_SEND_AT: &str =
    "must be an RFC 3339 date-time with a real date and an offset, e.g. 2026-12-01T09:00:00Z";

/// Largest JSON request body sent: 1 MiB, the same as [`RESPONSE_BODY_CAP`](crate::RESPONSE_BODY_CAP).
///
/// A Send a Message request is a text message and a few ids; a larger body
/// is a mistake (a file pasted as text, a runaway loop). It is refused
/// before any I/O as [`Outcome::NotSent`](crate::Outcome::NotSent) /
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput), naming the
/// largest field.
pub const REQUEST_BODY_CAP: usize = 1 << 20;

/// More than the keys, punctuation and non-text values of any body take.
const NON_TEXT_MAX: usize = 1024;

/// Checks `msg`; `strict` adds the clinical and contact sanity checks.
pub(crate) fn message(msg: &SendMessage, strict: bool) -> Result<(), Error> {
    // First, so no other rule scans a huge value.
    body_size(msg)?;
    if msg.patient_id.is_empty() || !msg.patient_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("patient_id", RULE_PATIENT_ID));
    }
    if msg.message_string.is_empty() {
        return Err(Error::invalid("message_string", RULE_NON_EMPTY));
    }
    non_empty("attachment_uuid", &msg.attachment_uuid)?;
    non_empty("short_link_id", &msg.short_link_id)?;
    match (msg.assignee_id, msg.assignee_type) {
        (Some(_), None) => {
            return Err(Error::invalid(
                "assignee_type",
                "must be given with assignee_id (Admin or AdminTeam)",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                "assignee_id",
                "must be given with assignee_type",
            ));
        }
        (Some(id), Some(_)) if !(0..=MAX_ASSIGNEE_ID).contains(&id) => {
            return Err(Error::invalid(
                "assignee_id",
                "must be a whole number from 0 to 9007199254740991",
            ));
        }
        _ => {}
    }
    if let Some(at) = &msg.send_at
        && !checks::is_rfc3339_date_time(at)
    {
        return Err(Error::invalid("send_at", RULE_SEND_AT));
    }
    if strict {
        clinical_and_contact(msg)?;
    }
    Ok(())
}

/// Refuses a body larger than [`REQUEST_BODY_CAP`] without serialising a
/// huge one: JSON escaping at most sextuples text (`\u001f`), so the text
/// length alone settles all but bodies near the cap.
fn body_size(msg: &SendMessage) -> Result<(), Error> {
    let fields = msg.text_fields();
    let text: usize = fields.iter().map(|(_, v)| v.len()).sum();
    if text <= (REQUEST_BODY_CAP - NON_TEXT_MAX) / 6 {
        return Ok(());
    }
    if text <= REQUEST_BODY_CAP {
        let mut body = Vec::with_capacity(text + NON_TEXT_MAX);
        crate::message::json::write_message(msg, &mut body);
        if body.len() <= REQUEST_BODY_CAP {
            return Ok(());
        }
    }
    // The field that takes the most room once escaped is the one to shorten.
    let largest = fields
        .iter()
        .max_by_key(|(_, v)| crate::message::json::escaped_len(v))
        .map_or("message_string", |(name, _)| name);
    Err(Error::invalid(largest, RULE_BODY_SIZE))
}

pub(crate) const RULE_BODY_SIZE: &str =
    "too long: the JSON request body would be larger than 1 MiB (REQUEST_BODY_CAP)";

fn non_empty(field: &'static str, value: &Option<String>) -> Result<(), Error> {
    match value {
        Some(v) if v.is_empty() => Err(Error::invalid(field, "must not be empty when present")),
        _ => Ok(()),
    }
}

/// Checks that catch a typo before it reaches a patient or a GP record.
fn clinical_and_contact(msg: &SendMessage) -> Result<(), Error> {
    if let Some(code) = &msg.snomed_code
        && !checks::is_snomed_ct_id(code)
    {
        return Err(Error::invalid("snomed_code", RULE_SNOMED));
    }
    if msg.snomed_term.is_some() && msg.snomed_code.is_none() {
        // Hero would pair the term with its default code: a mismatched record entry.
        return Err(Error::invalid(
            "snomed_term",
            "needs snomed_code: a term without its code would be filed under Hero's default code",
        ));
    }
    non_empty("snomed_term", &msg.snomed_term)?;
    if msg.auto_write_to_record == Some(true) && msg.write_to_record != Some(true) {
        return Err(Error::invalid(
            "auto_write_to_record",
            "needs write_to_record set to true",
        ));
    }
    if let Some(contact) = &msg.recipient_contact_detail {
        match msg.message_type {
            MessageType::Sms => {
                contact_for("recipient_contact_detail", FallbackType::Sms, contact)?
            }
            MessageType::Email => {
                contact_for("recipient_contact_detail", FallbackType::Email, contact)?
            }
            MessageType::Hero | MessageType::NhsApp => {
                non_empty("recipient_contact_detail", &msg.recipient_contact_detail)?
            }
        }
    }
    if let Some(contact) = &msg.fallback_contact_detail {
        let Some(kind) = msg.fallback_message_type else {
            return Err(Error::invalid(
                "fallback_contact_detail",
                "needs fallback_message_type (sms or email) to say what it is",
            ));
        };
        contact_for("fallback_contact_detail", kind, contact)?;
    }
    Ok(())
}

fn contact_for(field: &'static str, kind: FallbackType, contact: &str) -> Result<(), Error> {
    match kind {
        FallbackType::Sms if !checks::is_phone_number(contact) => {
            Err(Error::invalid(field, RULE_PHONE))
        }
        FallbackType::Email if !checks::is_email_address(contact) => {
            Err(Error::invalid(field, RULE_EMAIL))
        }
        _ => Ok(()),
    }
}

/// API key and practice group id: they travel as HTTP header values, so a
/// control character (CR, LF, NUL) would inject headers or truncate them.
pub(crate) fn credential(field: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, RULE_NON_EMPTY));
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::invalid(
            field,
            "must be printable ASCII: no control characters such as CR, LF or NUL",
        ));
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        // HTTP strips surrounding spaces, so the server would see another value.
        return Err(Error::invalid(field, "must not start or end with a space"));
    }
    Ok(())
}
