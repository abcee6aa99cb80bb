//! The sandbox side of the mock: every request to Hero's namespace is kept in
//! a bounded ring (the last `--keep` of them), listed as JSON under
//! `/_mock/messages` for test suites, and shown as the patient would see it by
//! the inbox page at `/_mock/`.
//!
//! Only requests to the send path (any method) and POSTs elsewhere are kept,
//! so a browser's stray `GET /favicon.ico` never shows up as a message.
//! Patient lookups are kept beside the messages (`"kind": "lookup"`), their
//! NHS number shown by its last four digits only; once answered, a lookup
//! lists under the patient id it found, and a later message to that id
//! names it (`lookup_seq`).

use crate::Ctx;
use crate::http::{Request, Response};
use crate::patients::{self, LOOKUP_PATH};
use crate::rules;
use crate::scenarios::{self, Outcome, SEND_PATH};
use crate::segments;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// Everything the mock serves of its own lives under this prefix, outside
/// Hero's `/v1/` namespace.
pub const PREFIX: &str = "/_mock";
const MESSAGES: &str = "/_mock/messages";
pub const DEFAULT_KEEP: usize = 10_000;
/// Bodies may be up to 1 MiB each, so a count alone would not bound memory.
pub const DEFAULT_KEEP_MIB: usize = 256;

const INBOX_PAGE: &str = include_str!("inbox.html");

/// True for paths the inspection side answers.
pub fn owns(path: &str) -> bool {
    path == PREFIX || path.starts_with("/_mock/")
}

struct Entry {
    seq: u64,
    received_ms: u64,
    patient_id: Option<String>,
    message_type: Option<String>,
    message_id: Option<String>,
    /// A patient lookup rather than a message.
    lookup: bool,
    /// The entry's JSON members fixed on arrival (`seq`, `received_at`,
    /// `request`, `sms_segments`), serialized without the braces: kept as
    /// text, an entry costs about its JSON size, a parsed tree several times
    /// that, and listing is a copy.
    head: String,
    /// `message_id`, `reply` and `refused`, serialized the same way.
    tail: String,
}

/// Bytes an entry holds beyond its JSON text, for the byte budget.
const ENTRY_OVERHEAD: usize = 256;

impl Entry {
    fn size(&self) -> usize {
        self.head.len() + self.tail.len() + ENTRY_OVERHEAD
    }

    fn write_json(&self, out: &mut String) {
        out.push('{');
        out.push_str(&self.head);
        out.push(',');
        out.push_str(&self.tail);
        out.push('}');
    }
}

/// The members of a JSON object, without its braces.
fn members(object: &Value) -> String {
    let text = object.to_string();
    text[1..text.len() - 1].to_owned()
}

struct Ring {
    keep: usize,
    keep_bytes: usize,
    bytes: usize,
    entries: VecDeque<Entry>,
    next_seq: u64,
    dropped: u64,
}

/// The kept requests, oldest first, behind one lock.
pub struct Inbox {
    ring: Mutex<Ring>,
}

impl Inbox {
    /// Keeps at most `keep` entries and about `keep_bytes` of them (the
    /// newest entry always stays).
    pub fn new(keep: usize, keep_bytes: usize) -> Inbox {
        Inbox {
            ring: Mutex::new(Ring {
                keep,
                keep_bytes,
                bytes: 0,
                entries: VecDeque::new(),
                next_seq: 1,
                dropped: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `req` with no reply yet (a slow scenario's request is visible
    /// while it waits); returns its sequence number, or `None` when the
    /// request is not one to keep.
    pub fn received(&self, req: &Request, ctx: &Ctx) -> Option<u64> {
        if req.path() != SEND_PATH && req.method != "POST" {
            return None;
        }
        let received_ms = scenarios::unix_nanos() / 1_000_000;
        let lookup = req.path() == LOOKUP_PATH;
        let mut fields = serde_json::from_slice::<Value>(&req.body)
            .ok()
            .filter(Value::is_object);
        let mut body = String::from_utf8_lossy(&req.body).into_owned();
        if lookup {
            // The sandbox never shows an NHS number in full.
            if let Some(n) = fields.as_mut().and_then(|f| f.get_mut("nhs_number")) {
                *n = patients::masked_nhs_number(&n.to_string()).into();
            }
            body = match &fields {
                Some(f) => f.to_string(),
                None => "(not shown: a lookup body that is not a JSON object)".to_owned(),
            };
        }
        let text = |name: &str| {
            fields.as_ref().and_then(|f| f.get(name)).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let (patient_id, message_type) = (text("patient_id"), text("message_type"));
        let fallback = text("fallback_message_type");
        // The text as the phone network would count it, whenever it may go by SMS.
        let sms_segments = match fields.as_ref().and_then(|f| f.get("message_string")) {
            Some(Value::String(s))
                if message_type.as_deref() == Some("sms") || fallback.as_deref() == Some("sms") =>
            {
                segments::count(s).to_json()
            }
            _ => Value::Null,
        };

        let mut ring = self.lock();
        let seq = ring.next_seq;
        ring.next_seq += 1;
        // The newest lookup that found this message's patient.
        let lookup_seq = (!lookup && patient_id.is_some())
            .then(|| {
                ring.entries
                    .iter()
                    .rev()
                    .find(|e| e.lookup && e.patient_id == patient_id)
                    .map(|e| e.seq)
            })
            .flatten();
        let head = members(&json!({
            "seq": seq,
            "kind": if lookup { "lookup" } else { "message" },
            "received_at": scenarios::rfc3339_from_millis(received_ms),
            "request": {
                "method": req.method,
                "target": req.target,
                "headers": headers(req, ctx),
                "body": body,
                "fields": fields,
            },
            "sms_segments": sms_segments,
            "lookup_seq": lookup_seq,
        }));
        let tail = members(&json!({ "message_id": null, "reply": null, "refused": null }));
        let entry = Entry {
            seq,
            received_ms,
            // A lookup's patient is known once Hero answers.
            patient_id: if lookup { None } else { patient_id },
            message_type,
            message_id: None,
            lookup,
            head,
            tail,
        };
        ring.bytes += entry.size();
        ring.entries.push_back(entry);
        ring.trim();
        Some(seq)
    }

    /// Adds what the mock answered to the entry `seq`, if it is still kept.
    pub fn replied(&self, seq: u64, outcome: &Outcome) {
        let mut found = None;
        let (reply, refused, message_id) = match outcome {
            Outcome::Hangup => (
                Value::Null,
                json!({ "status": null, "reason": "connection closed without a reply" }),
                None,
            ),
            Outcome::Reply(resp) => {
                let body = serde_json::from_slice::<Value>(&resp.body)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&resp.body).into());
                let extra: Map<String, Value> = resp
                    .headers
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), value.clone().into()))
                    .collect();
                let refused = if (200..300).contains(&resp.status) {
                    Value::Null
                } else {
                    let reason = body.get("error").cloned().unwrap_or(Value::Null);
                    json!({ "status": resp.status, "reason": reason })
                };
                let message_id = body
                    .get("message_id")
                    .and_then(Value::as_str)
                    .filter(|_| refused.is_null())
                    .map(str::to_owned);
                found = body
                    .get("patient_id")
                    .and_then(Value::as_str)
                    .filter(|_| refused.is_null())
                    .map(str::to_owned);
                let reply = json!({ "status": resp.status, "headers": extra, "body": body });
                (reply, refused, message_id)
            }
        };
        let mut ring = self.lock();
        let Ok(at) = ring.entries.binary_search_by_key(&seq, |e| e.seq) else {
            return;
        };
        let tail = members(&json!({
            "message_id": message_id,
            "reply": reply,
            "refused": refused,
        }));
        let entry = &mut ring.entries[at];
        let before = entry.size();
        entry.tail = tail;
        entry.message_id = message_id;
        if entry.lookup {
            entry.patient_id = found;
        }
        let after = entry.size();
        ring.bytes = ring.bytes - before + after;
        ring.trim();
    }
}

impl Ring {
    /// Drops the oldest entries until both budgets hold.
    fn trim(&mut self) {
        while self.entries.len() > self.keep
            || (self.bytes > self.keep_bytes && self.entries.len() > 1)
        {
            let Some(oldest) = self.entries.pop_front() else {
                return;
            };
            self.bytes -= oldest.size();
            self.dropped += 1;
        }
    }
}

/// The request's headers as HTTP would combine repeats; the API key is
/// replaced by whether it matched, so the page never displays a secret.
fn headers(req: &Request, ctx: &Ctx) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in &req.headers {
        let value = if name == "x-api-key" {
            if value.as_slice() == ctx.api_key.as_bytes() {
                "(hidden: matches --api-key)".into()
            } else {
                "(hidden: does not match --api-key)".into()
            }
        } else {
            String::from_utf8_lossy(value)
        };
        let combined = match out.get(name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier}, {value}"),
            None => value.into_owned(),
        };
        out.insert(name.clone(), combined.into());
    }
    out
}

/// Answers a request under [`PREFIX`].
pub fn handle(req: &Request, ctx: &Ctx) -> Response {
    // A web page elsewhere could point a DNS name at 127.0.0.1 and read the
    // messages through it; the name in Host gives that away.
    if !local_host(req) {
        return Response::error(
            403,
            "the inspection API answers only Host 127.0.0.1 or localhost",
        );
    }
    let path = req.path();
    let read = req.method == "GET" || req.method == "HEAD";
    if path == PREFIX || path == "/_mock/" {
        return if read {
            inbox_page()
        } else {
            Response::error(405, "method not allowed").with_header("Allow", "GET, HEAD")
        };
    }
    if path == MESSAGES {
        return match req.method.as_str() {
            "GET" | "HEAD" => list(&ctx.inbox, query(req)),
            "DELETE" => {
                let mut ring = ctx.inbox.lock();
                let deleted = ring.entries.len();
                ring.entries.clear();
                ring.bytes = 0;
                Response::json(200, &json!({ "deleted": deleted }))
            }
            _ => {
                Response::error(405, "method not allowed").with_header("Allow", "GET, HEAD, DELETE")
            }
        };
    }
    if let Some(id) = path.strip_prefix("/_mock/messages/")
        && !id.is_empty()
        && !id.contains('/')
    {
        if !read {
            return Response::error(405, "method not allowed").with_header("Allow", "GET, HEAD");
        }
        let ring = ctx.inbox.lock();
        let found = ring
            .entries
            .iter()
            .find(|e| e.message_id.as_deref() == Some(id) || id.parse::<u64>().ok() == Some(e.seq));
        return match found {
            Some(entry) => {
                let mut out = String::new();
                entry.write_json(&mut out);
                Response::raw(200, out.into_bytes())
            }
            None => Response::error(404, "no kept message has that message_id or seq"),
        };
    }
    Response::error(404, "no such inspection endpoint")
}

fn local_host(req: &Request) -> bool {
    let Some(host) = req.single_header("host") else {
        return false;
    };
    let host = String::from_utf8_lossy(host).to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    name == "127.0.0.1" || name == "localhost"
}

/// The page, with a fresh nonce so that only its own script and style run:
/// even a rendering bug could not make an injected `<script>` or `onerror`
/// execute.
fn inbox_page() -> Response {
    let nonce = scenarios::fresh_hex();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let mut resp = Response::raw(200, INBOX_PAGE.replace("__NONCE__", &nonce).into_bytes())
        .with_header("Content-Security-Policy", csp)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("Cache-Control", "no-store");
    resp.content_type = "text/html; charset=utf-8";
    resp
}

/// `(name, value)` pairs of the query, percent-decoded (`+` is a space, as in
/// forms); `None` for a value that does not decode to UTF-8.
fn query(req: &Request) -> Vec<(String, Option<String>)> {
    let Some((_, query)) = req.target.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name).unwrap_or_default(), decode(value))
        })
        .collect()
}

fn decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn bad_query(name: &str, rule: &str) -> Response {
    Response::json(
        400,
        &json!({ "error": format!("{name}: {rule}"), "field": name }),
    )
}

/// `GET /_mock/messages`: newest first, every filter must hold.
fn list(inbox: &Inbox, params: Vec<(String, Option<String>)>) -> Response {
    let mut patient_id = None;
    let mut message_type = None;
    let mut since = None;
    let mut limit = usize::MAX;
    for (name, value) in params {
        let Some(value) = value else {
            return bad_query(&name, "is not valid percent-encoded UTF-8");
        };
        match name.as_str() {
            "patient_id" => patient_id = Some(value),
            "message_type" => message_type = Some(value),
            "since" => match rfc3339_millis(&value) {
                Some(ms) => since = Some(ms),
                None => {
                    return bad_query(
                        "since",
                        "must be an RFC 3339 date-time with offset, e.g. 2026-01-31T09:00:00Z \
                         (write + as %2B)",
                    );
                }
            },
            "limit" => match value.parse() {
                Ok(n) => limit = n,
                Err(_) => return bad_query("limit", "must be a whole number, 0 or more"),
            },
            _ => {
                return bad_query(
                    &name,
                    "unknown parameter (use patient_id, message_type, since, limit)",
                );
            }
        }
    }
    let ring = inbox.lock();
    let matching: Vec<&Entry> = ring
        .entries
        .iter()
        .rev()
        .filter(|e| patient_id.is_none() || e.patient_id == patient_id)
        .filter(|e| message_type.is_none() || e.message_type == message_type)
        .filter(|e| since.is_none_or(|ms| i128::from(e.received_ms) >= ms))
        .collect();
    let counts = json!({
        "matched": matching.len(),
        "stored": ring.entries.len(),
        "keep": ring.keep,
        "dropped": ring.dropped,
        "latest_seq": ring.next_seq - 1,
    });
    let mut out = String::from("{");
    out.push_str(&members(&counts));
    out.push_str(",\"messages\":[");
    for (n, entry) in matching.iter().take(limit).enumerate() {
        if n > 0 {
            out.push(',');
        }
        entry.write_json(&mut out);
    }
    out.push_str("]}");
    Response::raw(200, out.into_bytes())
}

/// Milliseconds since the Unix epoch of a valid RFC 3339 date-time (extra
/// fraction digits beyond milliseconds are cut off).
fn rfc3339_millis(s: &str) -> Option<i128> {
    if !rules::is_rfc3339(s) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| s.get(range)?.parse::<i128>().ok();
    let days = days_from_civil(num(0..4)?, num(5..7)?, num(8..10)?);
    let mut ms = ((days * 24 + num(11..13)?) * 60 + num(14..16)?) * 60_000 + num(17..19)? * 1000;
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let millis = format!("{:0<3}", &fraction[..digits.min(3)]);
        ms += millis.parse::<i128>().ok()?;
        rest = &fraction[digits..];
    }
    if let Some(sign) = rest.chars().next().filter(|c| *c == '+' || *c == '-') {
        let offset =
            (rest[1..3].parse::<i128>().ok()? * 60 + rest[4..6].parse::<i128>().ok()?) * 60_000;
        ms -= if sign == '+' { offset } else { -offset };
    }
    Some(ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date; the inverse of
/// [`scenarios::civil_from_days`].
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_round_trip() {
        for days in [-800_000, -1, 0, 11_016, 19_783, 20_000, 2_000_000] {
            let (y, m, d) = scenarios::civil_from_days(days);
            assert_eq!(
                days_from_civil(y.into(), m.into(), d.into()),
                i128::from(days)
            );
        }
    }

    #[test]
    fn since_parsing() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(
            rfc3339_millis("1970-01-01T01:00:00.123456+01:00"),
            Some(123)
        );
        assert_eq!(rfc3339_millis("1969-12-31T23:00:00-01:00"), Some(0));
        let stamp = scenarios::rfc3339_from_millis(1_795_000_123_456);
        assert_eq!(rfc3339_millis(&stamp), Some(1_795_000_123_456));
        assert_eq!(rfc3339_millis("1970-01-01 00:00:00Z"), None);
        assert_eq!(rfc3339_millis("yesterday"), None);
    }

    #[test]
    fn query_decoding() {
        assert_eq!(decode("a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(decode("%FF"), None);
        assert_eq!(decode("%4"), None);
    }
}
