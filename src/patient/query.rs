//! What to look a patient up by: an NHS number and date of birth, or
//! forename, surname, date of birth and postcode.

use std::fmt;

use serde::Serialize;

use crate::error::Error;
use crate::patient::checks;

/// A query for `POST /v1/patients/register_pds`: Hero traces the patient on
/// the NHS Spine (PDS) and answers with its own `patient_id`, the one every
/// send needs.
///
/// Every field is checked by [`Client::find_patient`](crate::Client::find_patient)
/// before a request is made. `Debug` shows which form the query takes, never
/// a value.
///
/// ```
/// use herohealth::PatientQuery;
///
/// let by_number = PatientQuery::by_nhs_number("943 476 5919", "1992-01-01");
/// let by_details = PatientQuery::by_demographics("Ann", "Smith", "1992-01-01", "LS1 4AP")
///     .ehr_partner("emis")
///     .ehr_partner_id("12345");
/// assert_eq!(format!("{by_number:?}"), "PatientQuery { form: \"nhs_number\", ehr_partner: false, ehr_partner_id: false }");
/// # let _ = by_details;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PatientQuery {
    form: Form,
    ehr_partner: Option<String>,
    ehr_partner_id: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
enum Form {
    NhsNumber {
        nhs_number: String,
        dob: String,
    },
    Demographics {
        forename: String,
        surname: String,
        dob: String,
        postcode: String,
    },
}

/// The request body, as Hero's reference names its fields.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    nhs_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forename: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    surname: Option<&'a str>,
    dob: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    postcode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ehr_partner: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ehr_partner_id: Option<&'a str>,
}

impl PatientQuery {
    /// By NHS number (10 digits; spaces as in `943 476 5919` are accepted
    /// and removed) and date of birth (`YYYY-MM-DD`).
    pub fn by_nhs_number(nhs_number: impl Into<String>, dob: impl Into<String>) -> Self {
        Self::of(Form::NhsNumber {
            nhs_number: nhs_number.into(),
            dob: dob.into(),
        })
    }

    /// By a demographic trace without the NHS number: all four are needed.
    pub fn by_demographics(
        forename: impl Into<String>,
        surname: impl Into<String>,
        dob: impl Into<String>,
        postcode: impl Into<String>,
    ) -> Self {
        Self::of(Form::Demographics {
            forename: forename.into(),
            surname: surname.into(),
            dob: dob.into(),
            postcode: postcode.into(),
        })
    }

    fn of(form: Form) -> Self {
        PatientQuery {
            form,
            ehr_partner: None,
            ehr_partner_id: None,
        }
    }

    /// The clinical system the request comes from (optional; non-empty).
    pub fn ehr_partner(mut self, value: impl Into<String>) -> Self {
        self.ehr_partner = Some(value.into());
        self
    }

    /// The patient's id in that clinical system (optional; non-empty).
    pub fn ehr_partner_id(mut self, value: impl Into<String>) -> Self {
        self.ehr_partner_id = Some(value.into());
        self
    }

    /// Checks every field and returns the exact request body: the NHS
    /// number as 10 digits, the postcode upper case with one space.
    pub(crate) fn body(&self) -> Result<Vec<u8>, Error> {
        let nhs;
        let code;
        let mut body = match &self.form {
            Form::NhsNumber { nhs_number, dob } => {
                nhs = checks::nhs_number(nhs_number)?;
                checks::dob(dob)?;
                Body {
                    nhs_number: Some(&nhs),
                    forename: None,
                    surname: None,
                    dob,
                    postcode: None,
                    ehr_partner: None,
                    ehr_partner_id: None,
                }
            }
            Form::Demographics {
                forename,
                surname,
                dob,
                postcode,
            } => {
                checks::text("forename", forename)?;
                checks::text("surname", surname)?;
                checks::dob(dob)?;
                code = checks::postcode(postcode)?;
                Body {
                    nhs_number: None,
                    forename: Some(forename.trim()),
                    surname: Some(surname.trim()),
                    dob,
                    postcode: Some(&code),
                    ehr_partner: None,
                    ehr_partner_id: None,
                }
            }
        };
        if let Some(p) = &self.ehr_partner {
            checks::text("ehr_partner", p)?;
            body.ehr_partner = Some(p);
        }
        if let Some(p) = &self.ehr_partner_id {
            checks::text("ehr_partner_id", p)?;
            body.ehr_partner_id = Some(p);
        }
        // Plain strings into a Vec: serialising cannot fail.
        Ok(serde_json::to_vec(&body).unwrap_or_default())
    }
}

impl fmt::Debug for PatientQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = match self.form {
            Form::NhsNumber { .. } => "nhs_number",
            Form::Demographics { .. } => "demographics",
        };
        f.debug_struct("PatientQuery")
            .field("form", &form)
            .field("ehr_partner", &self.ehr_partner.is_some())
            .field("ehr_partner_id", &self.ehr_partner_id.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(q: &PatientQuery) -> String {
        String::from_utf8(q.body().unwrap()).unwrap()
    }

    #[test]
    fn both_forms_as_hero_names_them() {
        assert_eq!(
            body(&PatientQuery::by_nhs_number("943 476 5919", "1992-01-01")),
            r#"{"nhs_number":"9434765919","dob":"1992-01-01"}"#
        );
        assert_eq!(
            body(
                &PatientQuery::by_demographics(" Ann ", "O\"Neil", "1989-04-11", "ls14ap")
                    .ehr_partner("emis")
                    .ehr_partner_id("E-1")
            ),
            r#"{"forename":"Ann","surname":"O\"Neil","dob":"1989-04-11","postcode":"LS1 4AP","ehr_partner":"emis","ehr_partner_id":"E-1"}"#
        );
    }

    #[test]
    fn each_field_is_checked_and_named() {
        let nhs = |n: &str, d: &str| PatientQuery::by_nhs_number(n, d).body().unwrap_err();
        let demo = |a: &str, b: &str, c: &str, d: &str| {
            PatientQuery::by_demographics(a, b, c, d)
                .body()
                .unwrap_err()
        };
        assert_eq!(nhs("1234567891", "1992-01-01").field(), Some("nhs_number"));
        assert_eq!(nhs("9434765919", "1992-02-30").field(), Some("dob"));
        assert_eq!(
            demo("", "Smith", "1992-01-01", "LS1 4AP").field(),
            Some("forename")
        );
        assert_eq!(
            demo("Ann", " ", "1992-01-01", "LS1 4AP").field(),
            Some("surname")
        );
        assert_eq!(demo("Ann", "Smith", "", "LS1 4AP").field(), Some("dob"));
        assert_eq!(
            demo("Ann", "Smith", "1992-01-01", "").field(),
            Some("postcode")
        );
        let q = PatientQuery::by_nhs_number("9434765919", "1992-01-01");
        assert_eq!(
            q.clone().ehr_partner("").body().unwrap_err().field(),
            Some("ehr_partner")
        );
        assert_eq!(
            q.ehr_partner_id(" ").body().unwrap_err().field(),
            Some("ehr_partner_id")
        );
    }

    #[test]
    fn debug_shows_no_identifier() {
        let q = PatientQuery::by_demographics("Ann", "Smith", "1992-01-01", "LS1 4AP")
            .ehr_partner_id("E-1");
        let shown = format!("{q:?} {q:#?}");
        for secret in ["Ann", "Smith", "1992", "LS1", "E-1"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
