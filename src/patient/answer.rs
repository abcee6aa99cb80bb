//! Hero's 200 answers to a lookup, and the reason in its 400 body.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::message::reason::Reason;
use crate::message::response::loose_string;

/// What Hero answered to a [`PatientQuery`](crate::PatientQuery).
///
/// Either the patient's Hero id, ready for [`SendMessage::new`](crate::SendMessage::new),
/// or *identity verification required*: Hero could not confirm the patient
/// from PDS alone, and the patient must verify at `login_url` before the
/// lookup is repeated. That second answer is not an error and carries no id.
///
/// `Debug` shows which answer it is, never the id or the link.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatientAnswer {
    /// Hero's id for the patient (existing, or created from PDS).
    Found {
        /// Hero's `patient_id`.
        patient_id: String,
    },
    /// The patient must verify their identity first.
    VerificationRequired {
        /// Where to send the patient to verify.
        login_url: String,
        /// Hero's explanation (may be empty when Hero gave none).
        message: String,
    },
}

impl PatientAnswer {
    /// The id, when the patient was found.
    pub fn patient_id(&self) -> Option<&str> {
        match self {
            PatientAnswer::Found { patient_id } => Some(patient_id),
            PatientAnswer::VerificationRequired { .. } => None,
        }
    }

    /// The verification link, when Hero asks for one.
    pub fn login_url(&self) -> Option<&str> {
        match self {
            PatientAnswer::VerificationRequired { login_url, .. } => Some(login_url),
            PatientAnswer::Found { .. } => None,
        }
    }

    /// Hero's explanation, when it asks for verification.
    pub fn message(&self) -> Option<&str> {
        match self {
            PatientAnswer::VerificationRequired { message, .. } => Some(message),
            PatientAnswer::Found { .. } => None,
        }
    }

    /// Reads a 200 body loosely: unknown fields and fields of another type
    /// are ignored. `None` when it holds neither a usable `patient_id` nor a
    /// `login_url`.
    pub(crate) fn from_json(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Loose {
            #[serde(default, deserialize_with = "loose_string")]
            patient_id: Option<String>,
            #[serde(default, deserialize_with = "loose_string")]
            login_url: Option<String>,
            #[serde(default, deserialize_with = "loose_string")]
            message: Option<String>,
        }
        let loose: Loose = serde_json::from_slice(body).ok()?;
        // Both are quoted to C as C strings and printed by hero_send:
        // control characters (NUL, CR, LF) would cut or forge them.
        let usable = |s: &Option<String>| {
            s.as_deref()
                .filter(|v| !v.is_empty() && !v.chars().any(char::is_control))
                .map(str::to_owned)
        };
        if let Some(patient_id) = usable(&loose.patient_id) {
            return Some(PatientAnswer::Found { patient_id });
        }
        let login_url = usable(&loose.login_url)?;
        let message = loose
            .message
            .as_deref()
            .and_then(crate::text::reason)
            .unwrap_or_default();
        Some(PatientAnswer::VerificationRequired { login_url, message })
    }
}

impl fmt::Debug for PatientAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatientAnswer::Found { .. } => f.write_str("PatientAnswer::Found"),
            PatientAnswer::VerificationRequired { .. } => {
                f.write_str("PatientAnswer::VerificationRequired")
            }
        }
    }
}

/// The lookup's request fields, the only names a refusal may report.
pub(crate) const FIELD_NAMES: [&str; 7] = [
    "nhs_number",
    "dob",
    "forename",
    "surname",
    "postcode",
    "ehr_partner",
    "ehr_partner_id",
];

/// The reason in a refusal's body. Hero's 400 shape is
/// `{"error": true, "statusCode": 400, "message": [{"code", "expected", "path": [...]}]}`:
/// read as `"nhs_number: invalid_string (expected ...)"` with the field from
/// `path`; any other shape is read as for a send.
pub(crate) fn reason(body: &[u8]) -> Reason {
    let issue = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.get("message")?
            .as_array()?
            .iter()
            .find(|i| i.get("path").is_some())
            .cloned()
    });
    let Some(issue) = issue else {
        let mut r = crate::message::reason::read(body);
        // The send's field names mean nothing for a lookup.
        r.field = None;
        return r;
    };
    let text = |k: &str| issue.get(k).and_then(Value::as_str).unwrap_or("");
    let path = issue
        .get("path")
        .and_then(Value::as_array)
        .and_then(|p| p.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    let field = FIELD_NAMES.iter().copied().find(|f| *f == path);
    let mut line = format!("{}: {}", path, text("code"));
    if !text("expected").is_empty() {
        line.push_str(&format!(" (expected {})", text("expected")));
    }
    Reason {
        message: crate::text::reason(&line),
        field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_answers_read_loosely() {
        let found = PatientAnswer::from_json(br#"{"patient_id":"98765","extra":[1]}"#).unwrap();
        assert_eq!(found.patient_id(), Some("98765"));
        assert_eq!(found.login_url(), None);
        let verify = PatientAnswer::from_json(
            br#"{"message":"Patient must verify their identity before proceeding","login_url":"https://patient.herohealth.net/verify/abc123","patient_id":null}"#,
        )
        .unwrap();
        assert_eq!(
            verify.login_url(),
            Some("https://patient.herohealth.net/verify/abc123")
        );
        assert_eq!(
            verify.message(),
            Some("Patient must verify their identity before proceeding")
        );
        assert_eq!(verify.patient_id(), None);
        assert_eq!(format!("{verify:?}"), "PatientAnswer::VerificationRequired");
        assert!(!format!("{found:?}").contains("98765"));
    }

    #[test]
    fn neither_is_no_answer() {
        for body in [
            &b"{}"[..],
            b"[]",
            b"not json",
            br#"{"patient_id":""}"#,
            br#"{"patient_id":7}"#,
            br#"{"message":"only a message"}"#,
            br#"{"patient_id":"1\n2"}"#,
        ] {
            assert_eq!(PatientAnswer::from_json(body), None, "{body:?}");
        }
    }

    #[test]
    fn heros_400_shape_names_the_field() {
        let r = reason(
            br#"{"error":true,"statusCode":400,"message":[{"code":"invalid_string","expected":"nhs number","path":["nhs_number"]}]}"#,
        );
        assert_eq!(r.field, Some("nhs_number"));
        assert_eq!(
            r.message.as_deref(),
            Some("nhs_number: invalid_string (expected nhs number)")
        );
        let r = reason(br#"{"message":[{"code":"x","path":["patient_id"]}]}"#);
        assert_eq!(r.field, None);
        let r = reason(br#"{"error":"patient_id: nope","field":"patient_id"}"#);
        assert_eq!(
            (r.message.as_deref(), r.field),
            (Some("patient_id: nope"), None)
        );
        assert_eq!(reason(b"<html>").message, None);
    }
}
