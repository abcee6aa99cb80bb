//! The `POST /v1/messages/send` request body: all 17 fields of Hero's reference.

use std::fmt;

use serde::Serialize;

/// How Hero delivers the message (`message_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Kept in Hero only, as an audit record.
    Hero,
    /// Through the practice's configured SMS provider.
    Sms,
    /// By email.
    Email,
    /// Through the NHS App.
    NhsApp,
}

impl MessageType {
    /// The JSON value (`"hero"`, `"sms"`, `"email"`, `"nhs_app"`).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Hero => "hero",
            MessageType::Sms => "sms",
            MessageType::Email => "email",
            MessageType::NhsApp => "nhs_app",
        }
    }

    /// Parses the exact JSON value; no case folding, no trimming.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hero" => Some(MessageType::Hero),
            "sms" => Some(MessageType::Sms),
            "email" => Some(MessageType::Email),
            "nhs_app" => Some(MessageType::NhsApp),
            _ => None,
        }
    }
}

/// The channel Hero falls back to (`fallback_message_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackType {
    /// SMS.
    Sms,
    /// Email.
    Email,
}

impl FallbackType {
    /// The JSON value (`"sms"`, `"email"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackType::Sms => "sms",
            FallbackType::Email => "email",
        }
    }

    /// Parses the exact JSON value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sms" => Some(FallbackType::Sms),
            "email" => Some(FallbackType::Email),
            _ => None,
        }
    }
}

/// Who `assignee_id` refers to (`assignee_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AssigneeType {
    /// A single admin user.
    Admin,
    /// An admin team.
    AdminTeam,
}

impl AssigneeType {
    /// The JSON value (`"Admin"`, `"AdminTeam"`).
    pub fn as_str(self) -> &'static str {
        match self {
            AssigneeType::Admin => "Admin",
            AssigneeType::AdminTeam => "AdminTeam",
        }
    }

    /// Parses the exact JSON value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Admin" => Some(AssigneeType::Admin),
            "AdminTeam" => Some(AssigneeType::AdminTeam),
            _ => None,
        }
    }
}

/// The `encrypted` flag, which Hero types as "boolean or string".
#[derive(Clone, PartialEq, Eq)]
pub enum Encrypted {
    /// Sent as a JSON boolean.
    Flag(bool),
    /// Sent as a JSON string, exactly as given.
    Text(String),
}

impl fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encrypted::Flag(b) => write!(f, "Flag({b})"),
            Encrypted::Text(t) => write!(f, "Text(<{} bytes>)", t.len()),
        }
    }
}

/// One message to send: the request body of `POST /v1/messages/send`.
///
/// Build it with [`SendMessage::new`] (the three required fields) and the
/// setters. Unset optional fields are left out of the JSON, never sent as
/// `null`; strings are sent exactly as given. Rules are checked by
/// [`Client::send`](crate::Client::send) (or [`SendMessage::validate`])
/// before anything touches the network.
///
/// ```
/// use herohealth::{MessageType, SendMessage};
///
/// let msg = SendMessage::new("4242", MessageType::Sms, "Your flu jab is due.")
///     .recipient_contact_detail("07700 900123")
///     .write_to_record(true)
///     .snomed_code("185317003");
/// assert!(msg.validate(true).is_ok());
/// assert_eq!(
///     msg.to_json(),
///     r#"{"patient_id":"4242","message_type":"sms","message_string":"Your flu jab is due.","recipient_contact_detail":"07700 900123","write_to_record":true,"snomed_code":"185317003"}"#
/// );
/// ```
#[derive(Clone, PartialEq)]
pub struct SendMessage {
    pub(crate) patient_id: String,
    pub(crate) message_type: MessageType,
    pub(crate) message_string: String,
    pub(crate) recipient_contact_detail: Option<String>,
    pub(crate) fallback_contact_detail: Option<String>,
    pub(crate) fallback_message_type: Option<FallbackType>,
    pub(crate) write_to_record: Option<bool>,
    pub(crate) encrypted: Option<Encrypted>,
    pub(crate) snomed_code: Option<String>,
    pub(crate) snomed_term: Option<String>,
    pub(crate) auto_write_to_record: Option<bool>,
    pub(crate) task_id: Option<String>,
    pub(crate) attachment_uuid: Option<String>,
    pub(crate) short_link_id: Option<String>,
    pub(crate) assignee_id: Option<i64>,
    pub(crate) assignee_type: Option<AssigneeType>,
    pub(crate) send_at: Option<String>,
}

/// The JSON names of the 17 request fields, in the reference's order.
pub(crate) const FIELD_NAMES: [&str; 17] = [
    "patient_id",
    "message_type",
    "message_string",
    "recipient_contact_detail",
    "fallback_contact_detail",
    "fallback_message_type",
    "write_to_record",
    "encrypted",
    "snomed_code",
    "snomed_term",
    "auto_write_to_record",
    "task_id",
    "attachment_uuid",
    "short_link_id",
    "assignee_id",
    "assignee_type",
    "send_at",
];

macro_rules! string_setters {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$name = Some(value.into());
            self
        }
    )*};
}

impl SendMessage {
    /// A message with the three required fields: Hero's numeric patient id
    /// (as a string), the channel, and the text.
    pub fn new(
        patient_id: impl Into<String>,
        message_type: MessageType,
        message_string: impl Into<String>,
    ) -> Self {
        SendMessage {
            patient_id: patient_id.into(),
            message_type,
            message_string: message_string.into(),
            recipient_contact_detail: None,
            fallback_contact_detail: None,
            fallback_message_type: None,
            write_to_record: None,
            encrypted: None,
            snomed_code: None,
            snomed_term: None,
            auto_write_to_record: None,
            task_id: None,
            attachment_uuid: None,
            short_link_id: None,
            assignee_id: None,
            assignee_type: None,
            send_at: None,
        }
    }

    string_setters! {
        /// Where to send (phone number for sms, address for email); Hero uses
        /// the patient's default when absent.
        recipient_contact_detail;
        /// Where the fallback channel sends.
        fallback_contact_detail;
        /// SNOMED CT concept id for the record entry (Hero defaults it when
        /// absent and `write_to_record` is true).
        snomed_code;
        /// SNOMED CT term for the record entry.
        snomed_term;
        /// Task id to attach the message to.
        task_id;
        /// Attachment UUID (non-empty).
        attachment_uuid;
        /// Short link id (non-empty).
        short_link_id;
        /// Scheduled send time, an RFC 3339 date-time with offset,
        /// e.g. `2026-12-01T09:00:00Z`.
        send_at;
    }

    /// The channel used when the primary one fails.
    pub fn fallback_message_type(mut self, value: FallbackType) -> Self {
        self.fallback_message_type = Some(value);
        self
    }

    /// Write the message to the patient's GP record after approval.
    pub fn write_to_record(mut self, value: bool) -> Self {
        self.write_to_record = Some(value);
        self
    }

    /// Write to the record without admin approval (only if the key allows it).
    pub fn auto_write_to_record(mut self, value: bool) -> Self {
        self.auto_write_to_record = Some(value);
        self
    }

    /// The `encrypted` flag, as a boolean or a string.
    pub fn encrypted(mut self, value: Encrypted) -> Self {
        self.encrypted = Some(value);
        self
    }

    /// The admin or admin team id (a non-negative whole number); needs
    /// [`assignee_type`](Self::assignee_type) too.
    pub fn assignee_id(mut self, value: i64) -> Self {
        self.assignee_id = Some(value);
        self
    }

    /// Whether `assignee_id` names an admin or a team.
    pub fn assignee_type(mut self, value: AssigneeType) -> Self {
        self.assignee_type = Some(value);
        self
    }

    /// The fields whose size the caller controls (free text), by JSON name;
    /// the others are short constants or numbers.
    pub(crate) fn text_fields(&self) -> [(&'static str, &str); 11] {
        fn opt(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or("")
        }
        let encrypted = match &self.encrypted {
            Some(Encrypted::Text(t)) => t.as_str(),
            _ => "",
        };
        [
            ("patient_id", &self.patient_id),
            ("message_string", &self.message_string),
            (
                "recipient_contact_detail",
                opt(&self.recipient_contact_detail),
            ),
            (
                "fallback_contact_detail",
                opt(&self.fallback_contact_detail),
            ),
            ("encrypted", encrypted),
            ("snomed_code", opt(&self.snomed_code)),
            ("snomed_term", opt(&self.snomed_term)),
            ("task_id", opt(&self.task_id)),
            ("attachment_uuid", opt(&self.attachment_uuid)),
            ("short_link_id", opt(&self.short_link_id)),
            ("send_at", opt(&self.send_at)),
        ]
    }

    /// Hero's patient id.
    pub fn patient_id(&self) -> &str {
        &self.patient_id
    }

    /// The channel.
    pub fn message_type(&self) -> MessageType {
        self.message_type
    }
}

/// Redacts everything that identifies or speaks to the patient, and the
/// clinical code and schedule tied to them.
impl fmt::Debug for SendMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn set<T>(v: &Option<T>) -> &'static str {
            if v.is_some() { "<set>" } else { "<unset>" }
        }
        f.debug_struct("SendMessage")
            .field("patient_id", &"<redacted>")
            .field("message_type", &self.message_type)
            .field(
                "message_string",
                &format_args!("<{} bytes>", self.message_string.len()),
            )
            .field(
                "recipient_contact_detail",
                &set(&self.recipient_contact_detail),
            )
            .field(
                "fallback_contact_detail",
                &set(&self.fallback_contact_detail),
            )
            .field("fallback_message_type", &self.fallback_message_type)
            .field("write_to_record", &self.write_to_record)
            .field("encrypted", &self.encrypted)
            .field("snomed_code", &set(&self.snomed_code))
            .field("snomed_term", &set(&self.snomed_term))
            .field("auto_write_to_record", &self.auto_write_to_record)
            .field("task_id", &set(&self.task_id))
            .field("attachment_uuid", &set(&self.attachment_uuid))
            .field("short_link_id", &set(&self.short_link_id))
            .field("assignee_id", &self.assignee_id)
            .field("assignee_type", &self.assignee_type)
            .field("send_at", &set(&self.send_at))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debug shows which fields are set, never what identifies the patient
    /// or goes into their record.
    #[test]
    fn debug_hides_patient_and_clinical_values() {
        let msg = SendMessage::new("4242001", MessageType::Sms, "Results ready 7c1e")
            .recipient_contact_detail("07700 900417")
            .snomed_code("271737000")
            .snomed_term("Anaemia 9d2f")
            .send_at("2026-12-01T09:00:00Z")
            .encrypted(Encrypted::Text("secret-flag-3b".into()));
        let text = format!("{msg:?}");
        for hidden in [
            "4242001",
            "Results ready 7c1e",
            "07700 900417",
            "271737000",
            "Anaemia 9d2f",
            "2026-12-01",
            "secret-flag-3b",
        ] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert!(
            text.contains("message_type: Sms") && text.contains("<set>"),
            "{text}"
        );
    }
}
