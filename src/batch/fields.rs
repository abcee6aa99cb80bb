//! Setting a request field from its text form (a CSV cell, a default, a
//! command-line flag), and filling `((name))` placeholders.

use std::collections::HashMap;

use crate::error::Error;
use crate::message::request::{AssigneeType, Encrypted, FallbackType, SendMessage};

/// Fields that say who receives a message: a batch takes them from each
/// row, never from a default.
pub(crate) const PER_ROW_ONLY: [&str; 3] = [
    "patient_id",
    "recipient_contact_detail",
    "fallback_contact_detail",
];

/// The request fields a column may name.
pub(super) use crate::message::request::FIELD_NAMES as FIELDS;

/// Fields the message is created with, so never set by name.
const SET_AT_CREATION: [&str; 3] = ["patient_id", "message_type", "message_string"];

/// Sets the optional request field `name` (its JSON name) from its text
/// form, as a batch cell or default would: the one name-to-setter table,
/// behind `hero_message_set_field` too. An unknown name, a field set when
/// the message is created, or a value its rule refuses is an error naming
/// the field and the rule (never the value).
pub(crate) fn set_named(msg: SendMessage, name: &str, value: &str) -> Result<SendMessage, Error> {
    let Some(field) = FIELDS.iter().find(|f| **f == name) else {
        return Err(Error::config(
            "a field name names no request field (see the field list)",
        ));
    };
    if SET_AT_CREATION.contains(field) {
        return Err(Error::invalid(
            field,
            "is set when the message is created, not by name",
        ));
    }
    if *field == "send_at"
        && let Some(utc) = super::uk_time::local_send_at(value, super::uk_time::now_unix())?
    {
        // A UK wall-clock time, as a practice writes it.
        return set_field(msg, field, &utc);
    }
    set_field(msg, field, value)
}

/// Sets one optional field from its text form.
pub(crate) fn set_field(
    msg: SendMessage,
    field: &'static str,
    value: &str,
) -> Result<SendMessage, Error> {
    // Any case: a spreadsheet writes a cell typed `true` as `TRUE`.
    let parse_flag = |v: &str| {
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    };
    let flag =
        |v: &str| parse_flag(v).ok_or_else(|| Error::invalid(field, "must be true or false"));
    Ok(match field {
        "recipient_contact_detail" => msg.recipient_contact_detail(value),
        "fallback_contact_detail" => msg.fallback_contact_detail(value),
        "fallback_message_type" => msg.fallback_message_type(
            FallbackType::parse(value)
                .ok_or_else(|| Error::invalid(field, "must be sms or email"))?,
        ),
        "write_to_record" => msg.write_to_record(flag(value)?),
        "auto_write_to_record" => msg.auto_write_to_record(flag(value)?),
        "encrypted" => msg.encrypted(match parse_flag(value) {
            Some(b) => Encrypted::Flag(b),
            None => Encrypted::Text(value.to_owned()),
        }),
        "snomed_code" => msg.snomed_code(value),
        "snomed_term" => msg.snomed_term(value),
        "task_id" => msg.task_id(value),
        "attachment_uuid" => msg.attachment_uuid(value),
        "short_link_id" => msg.short_link_id(value),
        "assignee_id" => msg.assignee_id(
            value
                .parse()
                .map_err(|_| Error::invalid(field, "must be a whole decimal number"))?,
        ),
        "assignee_type" => msg.assignee_type(
            AssigneeType::parse(value)
                .ok_or_else(|| Error::invalid(field, "must be Admin or AdminTeam"))?,
        ),
        "send_at" => msg.send_at(value),
        _ => msg,
    })
}

/// Replaces every `((name))` with the row's value of column `name`. A
/// missing or empty value makes the row invalid: never "Dear ,". So does an
/// unclosed `((`: a broken template, not text to send to every patient.
///
/// `template_from_row` says the template is the row's own message text: an
/// error then names a placeholder only when a column has that name (so the
/// name comes from the header), never quoting the message back.
pub(super) fn fill_placeholders(
    template: &str,
    values: &HashMap<String, String>,
    template_from_row: bool,
) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find("((") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("))") else {
            return Err(Error::invalid(
                "message_string",
                "has a (( with no )) after it (an unclosed placeholder)",
            ));
        };
        let name = &after[..close];
        let is_column = !FIELDS.contains(&name) && name != "key";
        let value = values
            .get(name)
            .filter(|v| is_column && !v.is_empty())
            .ok_or_else(|| {
                let rule = if template_from_row && !values.contains_key(name) {
                    "has a placeholder with no column of that name in this row".to_owned()
                } else {
                    format!("placeholder (({name})) has no value in this row")
                };
                Error::invalid("message_string", &rule)
            })?;
        out.push_str(&rest[..open]);
        out.push_str(value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fields_set_by_name_follow_the_cell_rules() {
        let msg = || SendMessage::new("42", crate::MessageType::Hero, "Hi");
        let set = set_named(msg(), "write_to_record", "TRUE").unwrap();
        assert!(
            set.to_json().contains("\"write_to_record\":true"),
            "{}",
            set.to_json()
        );
        let set = set_named(msg(), "assignee_id", "17").unwrap();
        assert!(set.to_json().contains("\"assignee_id\":17"));
        let e = set_named(msg(), "assignee_id", "seventeen").unwrap_err();
        assert_eq!(e.field(), Some("assignee_id"));
        assert!(!e.to_string().contains("seventeen"), "{e}");
        let e = set_named(msg(), "message_string", "Other").unwrap_err();
        assert_eq!(e.field(), Some("message_string"));
        let e = set_named(msg(), "no_such_field", "x").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
    }

    #[test]
    fn placeholders_fill_from_other_columns_only() {
        let v = values(&[("first_name", "Ada"), ("patient_id", "42"), ("blank", "")]);
        assert_eq!(
            fill_placeholders("Dear ((first_name)), hi ((first_name))!", &v, false).unwrap(),
            "Dear Ada, hi Ada!"
        );
        assert_eq!(
            fill_placeholders("a ( b ))", &v, false).unwrap(),
            "a ( b ))"
        );
        for bad in [
            "Dear ((blank))",
            "Dear ((missing))",
            "id ((patient_id))",
            "a (( b",
        ] {
            let e = fill_placeholders(bad, &v, false).unwrap_err();
            assert_eq!(e.field(), Some("message_string"));
            assert!(!e.to_string().contains("Dear"), "{e}");
        }
    }
}
