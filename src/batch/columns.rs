//! Column names as practices export them: which header fills which field.
//!
//! A header names a field when the two match ignoring case, spaces, hyphens
//! and underscores (`NHS Number` = `nhs_number`); the lookup's fields also
//! answer to their spelled-out names (`Date of Birth`, `Forename(s)`). A
//! mapping (`--column FIELD=HEADER`) names any other header. Whatever a
//! header fills, placeholders still see it under its own name.

use crate::error::Error;

/// The patient lookup's fields a batch row may give instead of `patient_id`.
pub(crate) const LOOKUP_FIELDS: [&str; 5] =
    ["nhs_number", "dob", "forename", "surname", "postcode"];

/// Spelled-out names of the lookup's fields, in their matching form.
const ALIASES: [(&str, &str); 9] = [
    ("dateofbirth", "dob"),
    ("birthdate", "dob"),
    ("forenames", "forename"),
    ("forename(s)", "forename"),
    ("firstname", "forename"),
    ("givenname", "forename"),
    ("lastname", "surname"),
    ("familyname", "surname"),
    ("postcode", "postcode"),
];

/// `s` as headers are matched: lower case, without spaces, hyphens or
/// underscores.
pub(crate) fn matching_form(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every field a column may fill: the request's, the lookup's and `key`.
fn known_field(name: &str) -> Option<&'static str> {
    super::fields::FIELDS
        .iter()
        .chain(LOOKUP_FIELDS.iter())
        .chain(std::iter::once(&"key"))
        .copied()
        .find(|f| *f == name)
}

/// The field a header fills by its name alone.
fn field_by_name(header: &str) -> Option<&'static str> {
    let m = matching_form(header);
    super::fields::FIELDS
        .iter()
        .chain(LOOKUP_FIELDS.iter())
        .chain(std::iter::once(&"key"))
        .copied()
        .find(|f| matching_form(f) == m)
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == m).map(|(_, f)| *f))
}

/// Checks a mapping before it is stored: the field must be one a column
/// may fill.
pub(crate) fn check_mapping(field: &str, header: &str) -> Result<&'static str, Error> {
    let Some(f) = known_field(field) else {
        return Err(Error::config(format!(
            "a column mapping names no field a column may fill: {field:?} (see the field list)"
        )));
    };
    if header.trim().is_empty() {
        return Err(Error::config(format!(
            "the column mapping for {f} names an empty header"
        )));
    }
    Ok(f)
}

/// How each header of a file was understood: the field it fills, if any.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    /// The file's headers in order, each with the field it fills.
    pub(crate) headers: Vec<(String, Option<&'static str>)>,
}

impl Columns {
    /// Resolves `headers` with the caller's `mappings` (field, header).
    /// Two headers filling one field, or a mapping naming a header the
    /// file does not have, stop the batch before any request.
    pub(crate) fn resolve(
        headers: &[String],
        mappings: &[(&'static str, String)],
    ) -> Result<Columns, Error> {
        for (field, header) in mappings {
            if !headers.iter().any(|h| h == header.trim()) {
                return Err(Error::config(format!(
                    "the column mapping {field}={header:?} names a header the file does not have"
                )));
            }
        }
        let resolved: Vec<(String, Option<&'static str>)> = headers
            .iter()
            .map(|h| {
                let mapped = mappings
                    .iter()
                    .find(|(_, m)| m.trim() == h)
                    .map(|(f, _)| *f);
                (h.clone(), mapped.or_else(|| field_by_name(h)))
            })
            .collect();
        for (i, (h, f)) in resolved.iter().enumerate() {
            let Some(f) = f else { continue };
            if let Some((first, _)) = resolved[..i].iter().find(|(_, g)| *g == Some(*f)) {
                return Err(Error::config(format!(
                    "columns {first:?} and {h:?} both fill {f}: map one with --column, or rename it"
                )));
            }
        }
        // A mapping takes its header: two mappings for one header would be
        // two fields read from one cell, which is never what was meant.
        for (i, (f, h)) in mappings.iter().enumerate() {
            if let Some((g, _)) = mappings[..i].iter().find(|(_, m)| m.trim() == h.trim()) {
                return Err(Error::config(format!(
                    "the column {h:?} is mapped to both {g} and {f}"
                )));
            }
        }
        Ok(Columns { headers: resolved })
    }

    /// Whether some header names something a batch knows (a file whose
    /// first row is data names nothing).
    pub(crate) fn any_known(&self) -> bool {
        self.headers.iter().any(|(_, f)| f.is_some())
    }

    /// One line per header for `--check`: how it was understood.
    pub(crate) fn describe(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(h, _)| !h.is_empty())
            .map(|(h, f)| match f {
                Some(f) => format!("column {h:?}: {f}"),
                None => format!("column {h:?}: placeholder (({h})) only"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exported_names_fill_their_fields() {
        let cols = Columns::resolve(
            &headers(&[
                "NHS Number",
                "Forename(s)",
                "Surname",
                "Date of Birth",
                "Mobile Telephone",
                "Message-Type",
                "Post_Code",
                "Practice",
            ]),
            &[("recipient_contact_detail", "Mobile Telephone".into())],
        )
        .unwrap();
        let fields: Vec<_> = cols.headers.iter().map(|(_, f)| *f).collect();
        assert_eq!(
            fields,
            [
                Some("nhs_number"),
                Some("forename"),
                Some("surname"),
                Some("dob"),
                Some("recipient_contact_detail"),
                Some("message_type"),
                Some("postcode"),
                None
            ]
        );
        assert!(cols.describe()[7].contains("placeholder ((Practice))"));
    }

    #[test]
    fn clashes_and_missing_headers_stop_the_batch() {
        let e = Columns::resolve(&headers(&["dob", "Date of Birth"]), &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("\"dob\" and \"Date of Birth\" both fill dob"),
            "{e}"
        );
        let e = Columns::resolve(
            &headers(&["NHS Number", "Mobile"]),
            &[("recipient_contact_detail", "Mobile Phone".into())],
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"Mobile Phone\""), "{e}");
        let e = Columns::resolve(
            &headers(&["Mobile", "recipient_contact_detail"]),
            &[("recipient_contact_detail", "Mobile".into())],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("\"Mobile\" and \"recipient_contact_detail\""),
            "{e}"
        );
        assert!(check_mapping("mobile", "Mobile").is_err());
        assert_eq!(check_mapping("dob", "DOB").unwrap(), "dob");
    }
}
