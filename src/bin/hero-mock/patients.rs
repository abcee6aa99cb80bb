//! `POST /v1/patients/register_pds`, as Hero's reference describes it: 401
//! unless both headers match, 400 in Hero's validation shape, else the
//! patient's id. The id is derived from the practice group and the patient
//! (a keyed hash), so the same NHS number gets the same id every time, in
//! every run of the mock.
//!
//! Reserved NHS numbers (Hero's test range starts 999; each passes the
//! Modulus 11 check):
//!
//! | nhs_number   | answer |
//! |--------------|--------|
//! | `9990000018` | 404 `{"error":"No patient found"}` |
//! | `9990000026` | 200 identity verification required (`message`, `login_url`) |
//! | `9990000034` | 500 `{"error":"Unknown error"}`, then 200, alternating (one toggle per process) |
//! | `9990000042` | 200 after `--slow-seconds` (default 120) |

use crate::Ctx;
use crate::http::{Request, Response};
use crate::rules;
use crate::scenarios::Outcome;
use serde_json::{Map, Value, json};
use std::sync::atomic::Ordering;
use std::thread;

pub const LOOKUP_PATH: &str = "/v1/patients/register_pds";

pub const NOT_FOUND: &str = "9990000018";
pub const VERIFY: &str = "9990000026";
pub const FLAKY: &str = "9990000034";
pub const SLOW: &str = "9990000042";

/// The request fields Hero documents, in the order they are checked.
const FIELDS: [&str; 7] = [
    "nhs_number",
    "dob",
    "forename",
    "surname",
    "postcode",
    "ehr_partner",
    "ehr_partner_id",
];

pub fn handle(req: &Request, ctx: &Ctx) -> Outcome {
    let authorised = req.single_header("x-api-key") == Some(ctx.api_key.as_bytes())
        && req.single_header("x-practice-group-id") == Some(ctx.practice_group_id.as_bytes());
    let reply = if req.method != "POST" {
        Response::error(405, "method not allowed").with_header("Allow", "POST")
    } else if !authorised {
        Response::error(401, "Unauthorised")
    } else if !rules::is_json_content_type(req.single_header("content-type")) {
        Response::error(415, "Content-Type must be application/json")
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(fields)) => match check(&fields) {
                Err(issue) => invalid(issue),
                Ok(patient) => return answer(&patient, ctx),
            },
            _ => invalid(Issue {
                code: "invalid_type",
                expected: "object",
                path: Vec::new(),
            }),
        }
    };
    Outcome::Reply(reply)
}

/// One broken rule, as Hero's 400 body lists it.
struct Issue {
    code: &'static str,
    expected: &'static str,
    path: Vec<String>,
}

fn invalid(issue: Issue) -> Response {
    Response::json(
        400,
        &json!({
            "error": true,
            "statusCode": 400,
            "message": [{ "code": issue.code, "expected": issue.expected, "path": issue.path }],
        }),
    )
}

/// Who the request is about: the NHS number's digits, or the demographics.
enum Patient {
    Number(String),
    Demographics(String),
}

fn check(fields: &Map<String, Value>) -> Result<Patient, Issue> {
    let issue = |name: &str, code, expected| Issue {
        code,
        expected,
        path: vec![name.to_owned()],
    };
    if let Some(name) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(issue(
            name,
            "unrecognized_keys",
            "only the documented fields",
        ));
    }
    let text = |name: &str| -> Result<Option<&str>, Issue> {
        match fields.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
            Some(_) => Err(issue(name, "invalid_type", "a non-empty string")),
        }
    };
    let required = |name: &str| text(name)?.ok_or_else(|| issue(name, "invalid_type", "string"));
    let dob = required("dob")?;
    if !is_past_date(dob) {
        return Err(issue("dob", "invalid_date", "ISO 8601 date YYYY-MM-DD"));
    }
    text("ehr_partner")?;
    text("ehr_partner_id")?;
    if let Some(number) = text("nhs_number")? {
        let digits: String = number.chars().filter(|c| *c != ' ').collect();
        if !nhs_number_valid(&digits) {
            return Err(issue("nhs_number", "invalid_string", "a valid NHS number"));
        }
        return Ok(Patient::Number(digits));
    }
    let mut who = String::new();
    for name in ["forename", "surname", "postcode"] {
        who.push_str(&required(name)?.to_lowercase().replace(' ', ""));
        who.push('\n');
    }
    who.push_str(dob);
    Ok(Patient::Demographics(who))
}

/// The NHS Modulus 11 rule, kept apart from the client's on purpose: the mock
/// stands in for Hero and must catch a client that gets it wrong.
fn nhs_number_valid(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 10 || digits.len() != 10 {
        return false;
    }
    let sum: u32 = (0..9).map(|i| d[i] * (10 - i as u32)).sum();
    match 11 - sum % 11 {
        10 => false,
        11 => d[9] == 0,
        c => d[9] == c,
    }
}

/// `YYYY-MM-DD` (a date-time's date part is accepted, as Hero's schema also
/// types it date-time) naming a real day no later than today.
fn is_past_date(s: &str) -> bool {
    let date = s.get(..10).unwrap_or("");
    let as_time = format!("{date}T00:00:00Z");
    if !(s.len() == 10 || s.as_bytes().get(10) == Some(&b'T')) || !rules::is_rfc3339(&as_time) {
        return false;
    }
    let today = crate::scenarios::rfc3339_from_millis(crate::scenarios::unix_nanos() / 1_000_000);
    date <= &today[..10]
}

fn answer(patient: &Patient, ctx: &Ctx) -> Outcome {
    let number = match patient {
        Patient::Number(n) => n.as_str(),
        Patient::Demographics(_) => "",
    };
    let reply = match number {
        NOT_FOUND => Response::error(404, "No patient found"),
        VERIFY => Response::json(
            200,
            &json!({
                "message": "Patient must verify their identity before proceeding",
                "login_url": format!(
                    "https://mock.herohealth.invalid/verify/{}",
                    &patient_id(patient, ctx)[..6]
                ),
            }),
        ),
        // fetch_xor returns the old value: false (first call) means 500.
        FLAKY if !ctx.flip_lookup_500.fetch_xor(true, Ordering::SeqCst) => {
            Response::error(500, "Unknown error")
        }
        _ => {
            if number == SLOW {
                // Only this connection's thread sleeps.
                thread::sleep(ctx.slow);
            }
            Response::json(200, &json!({ "patient_id": patient_id(patient, ctx) }))
        }
    };
    Outcome::Reply(reply)
}

/// Ten digits, never starting 999 (the send's reserved ids): a keyed hash of
/// the practice group and the patient, the same in every run.
fn patient_id(patient: &Patient, ctx: &Ctx) -> String {
    let (tag, who) = match patient {
        Patient::Number(n) => ("nhs", n.as_str()),
        Patient::Demographics(d) => ("pds", d.as_str()),
    };
    let key = format!(
        "hero-mock patient id\n{}\n{tag}\n{who}",
        ctx.practice_group_id
    );
    // FNV-1a over the key, then a SplitMix64 finaliser to scatter the bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    format!("{}", 1_000_000_000 + h % 8_000_000_000)
}

/// An NHS number as the sandbox shows it: the last four digits only.
pub fn masked_nhs_number(value: &str) -> String {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let tail = digits.get(digits.len().saturating_sub(4)..).unwrap_or("");
    format!("*** *** {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_numbers_pass_the_check() {
        for n in [NOT_FOUND, VERIFY, FLAKY, SLOW, "9434765919"] {
            assert!(nhs_number_valid(n), "{n}");
        }
        for n in ["1234567891", "9434765918", "943476591", "94347659190"] {
            assert!(!nhs_number_valid(n), "{n}");
        }
    }

    #[test]
    fn masking_keeps_four_digits() {
        assert_eq!(masked_nhs_number("943 476 5919"), "*** *** 5919");
    }

    #[test]
    fn dates() {
        assert!(is_past_date("1992-01-01"));
        assert!(is_past_date("1992-01-01T00:00:00Z"));
        assert!(!is_past_date("1992-02-30"));
        assert!(!is_past_date("9999-01-01"));
        assert!(!is_past_date("1992-01-01junk"));
    }
}
