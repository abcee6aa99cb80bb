//! `hero-mock`: a local stand-in for Hero Health's `POST /v1/messages/send`,
//! so clients can be tested without the network or real patients.
//!
//! Checks run in the real endpoint's order: path (404), method (405 with
//! `Allow: POST`), `x-api-key` + `x-practice-group-id` (403), Content-Type
//! (415), JSON object body (400), field rules (422 naming the field), then
//! the reserved patient ids below, else a plausible 200.
//!
//! Reserved `patient_id` values, for rehearsing failures:
//!
//! | patient_id | reply |
//! |------------|-------|
//! | `999403`   | 403 `{"error":"Unauthorised"}` |
//! | `999404`   | 404 JSON error |
//! | `999422`   | 422 `{"error":"patient_id: patient not found","field":"patient_id"}` |
//! | `999429`   | 429 with `Retry-After: 1` (or `--retry-after-seconds`), every time |
//! | `999428`   | 429 with `Retry-After: 1`, then 200, alternating (one toggle per process) |
//! | `999500`   | 500 `{"error":"Unknown error"}` |
//! | `999503`   | 503 with `Retry-After: 2` |
//! | `999504`   | 200 after `--slow-seconds` (default 120); other connections are unaffected |
//! | `999000`   | reads the request, then closes the connection without a reply |
//! | `999200`   | 200 with body `not json` |
//! | `999201`   | 200 with JSON lacking `message_id`: `{"content":"..."}` |
//! | `999307`   | 307 with `Location: http://127.0.0.1:<port>/v1/messages/elsewhere` |
//!
//! `POST /v1/patients/register_pds` finds a patient's id by NHS number and
//! date of birth, or by demographics, with reserved NHS numbers of its own
//! (table in patients.rs).
//!
//! Under `/_mock/` the mock also keeps what it was sent: a JSON inspection
//! API for test suites and an inbox page for people (see inspect.rs).
//!
//! Run `hero-mock --help` for options.

mod http;
mod inspect;
mod patients;
mod rules;
mod scenarios;
mod segments;

use http::{ReadError, Response};
use scenarios::Outcome;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const USAGE: &str = "\
hero-mock: local mock of Hero Health's POST /v1/messages/send

Usage: hero-mock [OPTIONS]

Options:
  --port N                 port on 127.0.0.1 (default 0: pick a free one)
  --api-key KEY            expected x-api-key (default $HERO_API_KEY, else mock-api-key)
  --practice-group-id ID   expected x-practice-group-id
                           (default $HERO_PRACTICE_GROUP_ID, else mock-practice-group)
  --record PATH            append each request as a JSON line to PATH
  --idle-close-ms MS       close keep-alive connections idle for MS ms (default 60000)
  --slow-seconds S         delay of the 999504 scenario (default 120)
  --retry-after-seconds S  Retry-After of the 999429 scenario (default 1)
  --reply-delay-ms MS      wait MS ms before every reply, like a distant server (default 0)
  --keep N                 keep the last N requests for /_mock/ (default 10000)
  --keep-mib M             ... and no more than about M MiB of them (default 256)
  -h, --help               show this help

Prints `hero-mock listening on http://127.0.0.1:PORT` once ready, then the
inbox address. Kept requests: GET /_mock/messages (patient_id, message_type,
since, limit), GET /_mock/messages/ID, DELETE /_mock/messages; inbox: /_mock/
Reserved patient ids (999403, 999404, 999422, 999429, 999428, 999500, 999503,
999504, 999000, 999200, 999201, 999307) trigger failure scenarios.
POST /v1/patients/register_pds finds a patient's id; reserved NHS numbers:
9990000018 not found, 9990000026 identity verification, 9990000034 500 then
200 (alternating), 9990000042 slow (--slow-seconds).
";

/// Bounds a client that stops reading our reply.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings and state shared by every connection.
pub struct Ctx {
    pub api_key: String,
    pub practice_group_id: String,
    pub port: u16,
    pub idle: Duration,
    pub slow: Duration,
    /// `Retry-After` of the 999429 scenario, in seconds.
    pub retry_after: u64,
    /// Added before every reply.
    pub reply_delay: Duration,
    pub record: Option<Mutex<File>>,
    /// Which way the next `999428` request goes.
    pub flip_999428: AtomicBool,
    /// Which way the next lookup of NHS number 9990000034 goes.
    pub flip_lookup_500: AtomicBool,
    /// The last `--keep` requests, for `/_mock/`.
    pub inbox: inspect::Inbox,
}

struct Options {
    port: u16,
    api_key: String,
    practice_group_id: String,
    record: Option<PathBuf>,
    idle: Duration,
    slow: Duration,
    retry_after: u64,
    reply_delay: Duration,
    keep: usize,
    keep_mib: usize,
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("hero-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let record = match &opts.record {
        None => None,
        Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(Mutex::new(file)),
            Err(e) => {
                eprintln!("hero-mock: cannot open {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
    };
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, opts.port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("hero-mock: cannot listen on 127.0.0.1:{}: {e}", opts.port);
            return ExitCode::FAILURE;
        }
    };
    let port = match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(e) => {
            eprintln!("hero-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = Arc::new(Ctx {
        api_key: opts.api_key,
        practice_group_id: opts.practice_group_id,
        port,
        idle: opts.idle,
        slow: opts.slow,
        retry_after: opts.retry_after,
        reply_delay: opts.reply_delay,
        record,
        flip_999428: AtomicBool::new(false),
        flip_lookup_500: AtomicBool::new(false),
        inbox: inspect::Inbox::new(opts.keep, opts.keep_mib.saturating_mul(1024 * 1024)),
    });

    let mut stdout = io::stdout().lock();
    // One write: scripts read the first line for the address.
    let _ = write!(
        stdout,
        "hero-mock listening on http://127.0.0.1:{port}\n\
         hero-mock inbox: http://127.0.0.1:{port}/_mock/\n"
    );
    let _ = stdout.flush();
    drop(stdout);

    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let ctx = Arc::clone(&ctx);
                // If no thread can be had, the stream drops and the client sees a close.
                let _ = thread::Builder::new().spawn(move || serve(stream, &ctx));
            }
            // Typically out of file descriptors: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    ExitCode::SUCCESS
}

/// One connection: requests in sequence until the client closes, goes idle,
/// asks to close, or sends something we must refuse.
fn serve(stream: TcpStream, ctx: &Ctx) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut conn = BufReader::new(stream);
    loop {
        let req = match http::read_request(&mut conn, ctx.idle) {
            Ok(req) => req,
            Err(ReadError::Gone) => return,
            Err(ReadError::Reject(status, why)) => {
                log("-", "-", &status.to_string());
                let _ = http::write_response(
                    conn.get_ref(),
                    &Response::error(status, why),
                    false,
                    false,
                );
                http::linger_close(conn.get_ref());
                return;
            }
        };
        let outcome = if inspect::owns(req.path()) {
            Outcome::Reply(inspect::handle(&req, ctx))
        } else {
            record(ctx, &req);
            let seq = ctx.inbox.received(&req, ctx);
            if !ctx.reply_delay.is_zero() {
                thread::sleep(ctx.reply_delay);
            }
            let outcome = if req.path() == patients::LOOKUP_PATH {
                patients::handle(&req, ctx)
            } else {
                scenarios::handle(&req, ctx)
            };
            if let Some(seq) = seq {
                ctx.inbox.replied(seq, &outcome);
            }
            outcome
        };
        match outcome {
            Outcome::Hangup => {
                log(&req.method, req.path(), "closed without reply");
                let _ = conn.get_ref().shutdown(std::net::Shutdown::Both);
                return;
            }
            Outcome::Reply(resp) => {
                log(&req.method, req.path(), &resp.status.to_string());
                let head_only = req.method == "HEAD";
                if http::write_response(conn.get_ref(), &resp, req.keep_alive, head_only).is_err() {
                    return;
                }
                if !req.keep_alive {
                    http::linger_close(conn.get_ref());
                    return;
                }
            }
        }
    }
}

/// Access log: method, path (query dropped) and status only, never headers
/// or bodies, which carry keys and patient data.
fn log(method: &str, path: &str, status: &str) {
    let _ = writeln!(io::stderr(), "{method} {path} -> {status}");
}

/// Appends the request as one JSON line, written in a single call so lines
/// from concurrent connections never interleave.
fn record(ctx: &Ctx, req: &http::Request) {
    let Some(file) = &ctx.record else {
        return;
    };
    let mut headers = serde_json::Map::new();
    for (name, value) in &req.headers {
        let value = String::from_utf8_lossy(value);
        // A repeated header is reported the way HTTP would combine it.
        let combined = match headers.get(name).and_then(|v| v.as_str()) {
            Some(earlier) => format!("{earlier}, {value}"),
            None => value.into_owned(),
        };
        headers.insert(name.clone(), combined.into());
    }
    let line = serde_json::json!({
        "method": req.method,
        "path": req.target,
        "headers": headers,
        "body": String::from_utf8_lossy(&req.body),
    });
    let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let _ = file.write_all(format!("{line}\n").as_bytes());
    let _ = file.flush();
}

/// `Ok(None)` means `--help` was asked for.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Options>, String> {
    let from_env = |name: &str, fallback: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| fallback.to_owned())
    };
    let mut opts = Options {
        port: 0,
        api_key: from_env("HERO_API_KEY", "mock-api-key"),
        practice_group_id: from_env("HERO_PRACTICE_GROUP_ID", "mock-practice-group"),
        record: None,
        idle: Duration::from_secs(60),
        slow: Duration::from_secs(120),
        retry_after: 1,
        reply_delay: Duration::ZERO,
        keep: inspect::DEFAULT_KEEP,
        keep_mib: inspect::DEFAULT_KEEP_MIB,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|_| "arguments must be UTF-8".to_owned())?;
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        const FLAGS: [&str; 10] = [
            "--port",
            "--api-key",
            "--practice-group-id",
            "--record",
            "--idle-close-ms",
            "--slow-seconds",
            "--retry-after-seconds",
            "--reply-delay-ms",
            "--keep",
            "--keep-mib",
        ];
        if !FLAGS.contains(&flag.as_str()) {
            return Err(format!("unknown option {flag} (try --help)"));
        }
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|_| format!("{flag}: value must be UTF-8"))?,
        };
        match flag.as_str() {
            "--port" => opts.port = number(&flag, &value)?,
            "--api-key" => opts.api_key = header_value(&flag, value)?,
            "--practice-group-id" => opts.practice_group_id = header_value(&flag, value)?,
            "--record" => opts.record = Some(PathBuf::from(value)),
            "--idle-close-ms" => match number(&flag, &value)? {
                0 => return Err("--idle-close-ms must be at least 1".to_owned()),
                ms => opts.idle = Duration::from_millis(ms),
            },
            "--slow-seconds" => opts.slow = Duration::from_secs(number(&flag, &value)?),
            "--retry-after-seconds" => opts.retry_after = number(&flag, &value)?,
            "--reply-delay-ms" => opts.reply_delay = Duration::from_millis(number(&flag, &value)?),
            "--keep" => match number(&flag, &value)? {
                0 => return Err("--keep must be at least 1".to_owned()),
                n => opts.keep = n,
            },
            "--keep-mib" => match number(&flag, &value)? {
                0 => return Err("--keep-mib must be at least 1".to_owned()),
                n => opts.keep_mib = n,
            },
            _ => unreachable!("FLAGS lists every option"),
        }
    }
    Ok(Some(opts))
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a valid number: {value}"))
}

/// Header values arrive trimmed and without control characters, so a key
/// that breaks those rules could never match; the value itself is secret and
/// stays out of the message.
fn header_value(flag: &str, value: String) -> Result<String, String> {
    let fits = !value.is_empty() && value.trim() == value && !value.chars().any(char::is_control);
    if fits {
        Ok(value)
    } else {
        Err(format!(
            "{flag} must be non-empty, without surrounding spaces or control characters"
        ))
    }
}
