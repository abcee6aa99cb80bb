//! What the mock answers: the check order of the real endpoint, the reserved
//! patient ids (table in main.rs), and plausible 200 bodies.

use crate::Ctx;
use crate::http::{Request, Response};
use crate::rules::{self, Message};
use serde_json::json;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

pub const SEND_PATH: &str = "/v1/messages/send";
/// Hero applies a default SNOMED code when writing to the record without one;
/// the reference does not say which, so the mock uses a fixed stand-in.
const DEFAULT_SNOMED_CODE: &str = "185317003";

pub enum Outcome {
    Reply(Response),
    /// Drop the connection without a status line.
    Hangup,
}

pub fn handle(req: &Request, ctx: &Ctx) -> Outcome {
    let reply = if req.path() != SEND_PATH {
        Response::error(404, "no such endpoint")
    } else if req.method != "POST" {
        Response::error(405, "method not allowed").with_header("Allow", "POST")
    } else if !authorised(req, ctx) {
        unauthorised()
    } else if !rules::is_json_content_type(req.single_header("content-type")) {
        Response::error(415, "Content-Type must be application/json")
    } else {
        match rules::parse_object(&req.body).map(|body| rules::validate(&body)) {
            None => Response::error(400, "body is not a JSON object"),
            Some(Err(v)) => Response::json(
                422,
                &json!({ "error": format!("{}: {}", v.field, v.rule), "field": v.field }),
            ),
            Some(Ok(message)) => return scenario(&message, ctx),
        }
    };
    Outcome::Reply(reply)
}

fn authorised(req: &Request, ctx: &Ctx) -> bool {
    req.single_header("x-api-key") == Some(ctx.api_key.as_bytes())
        && req.single_header("x-practice-group-id") == Some(ctx.practice_group_id.as_bytes())
}

fn unauthorised() -> Response {
    Response::error(403, "Unauthorised")
}

fn too_many_requests(retry_after: u64) -> Response {
    Response::error(429, "Too many requests").with_header("Retry-After", retry_after.to_string())
}

fn scenario(message: &Message, ctx: &Ctx) -> Outcome {
    let reply = match message.patient_id.as_str() {
        "999403" => unauthorised(),
        "999404" => Response::error(404, "Not found"),
        "999422" => Response::json(
            422,
            &json!({ "error": "patient_id: patient not found", "field": "patient_id" }),
        ),
        "999429" => too_many_requests(ctx.retry_after),
        "999428" => {
            // fetch_xor returns the old value: false (first call) means 429.
            if ctx.flip_999428.fetch_xor(true, Ordering::SeqCst) {
                success(message)
            } else {
                too_many_requests(1)
            }
        }
        "999500" => Response::error(500, "Unknown error"),
        "999503" => Response::error(503, "Service unavailable").with_header("Retry-After", "2"),
        "999504" => {
            // Only this connection's thread sleeps.
            thread::sleep(ctx.slow);
            success(message)
        }
        "999000" => return Outcome::Hangup,
        "999200" => Response::raw(200, b"not json".to_vec()),
        "999201" => Response::json(200, &json!({ "content": message.message_string })),
        "999307" => Response::error(307, "Temporary redirect").with_header(
            "Location",
            format!("http://127.0.0.1:{}/v1/messages/elsewhere", ctx.port),
        ),
        _ => success(message),
    };
    Outcome::Reply(reply)
}

fn success(message: &Message) -> Response {
    let message_id = fresh_hex();
    let write = message.write_to_record;
    let snomed_code = message
        .snomed_code
        .clone()
        .or_else(|| write.then(|| DEFAULT_SNOMED_CODE.to_owned()));
    let confirm_url = (write && !message.auto_write_to_record)
        .then(|| format!("https://mock.herohealth.invalid/confirm/{message_id}"));
    Response::json(
        200,
        &json!({
            "message_id": message_id,
            "content": message.message_string,
            "created_at": now_rfc3339(),
            "snomed_code": snomed_code,
            "write_to_record": write,
            "auth_token": format!("{}{}", fresh_hex(), fresh_hex()),
            "confirm_write_to_record_url": confirm_url,
            "submitted_by": "hero-mock",
            "send_at": message.send_at,
        }),
    )
}

/// 32 hex digits. The first half is a bijection of a per-process counter, so
/// ids never repeat within one mock; the second half (time and pid) keeps
/// separate runs apart.
pub fn fresh_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SALT: OnceLock<u64> = OnceLock::new();
    let pid = u64::from(std::process::id());
    let salt = *SALT.get_or_init(|| mix(unix_nanos() ^ pid));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:016x}{:016x}",
        mix(n.wrapping_add(salt)),
        mix(unix_nanos() ^ pid.rotate_left(32) ^ n)
    )
}

/// The SplitMix64 finaliser: a bijection on u64 that scatters bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Now in UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn now_rfc3339() -> String {
    rfc3339_from_millis(unix_nanos() / 1_000_000)
}

/// Milliseconds since the Unix epoch in UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_from_millis(millis: u64) -> String {
    let secs = millis / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let time = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        time / 3600,
        time / 60 % 60,
        time % 60,
        millis % 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year
/// eras that start on 1 March so the leap day falls at the end of a year.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_conversion() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
    }

    #[test]
    fn created_at_is_valid_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 24, "{now}");
        assert!(rules::is_rfc3339(&now), "{now}");
    }

    #[test]
    fn ids_are_unique_hex() {
        let (a, b) = (fresh_hex(), fresh_hex());
        assert_ne!(a, b);
        assert!(a.len() == 32 && a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
