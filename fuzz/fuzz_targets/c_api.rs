//! The C ABI (`herohealth::ffi`, declared in include/herohealth.h) driven
//! by arbitrary bytes, with a Rust "shadow" of every handle to compare with.
//!
//! Input layout: a 16-byte header (zero-padded), then chunks separated by
//! 0x00, each made into a NUL-terminated C string (any bytes, so invalid
//! UTF-8 too).
//! - h[0] message type (`h[0] % 6`, or the raw u32 h[8..12] when h[0] >= 0xF0);
//!   h[1] NULL mask for hero_message_new (patient, text, out);
//! - h[2] target (`h[2] % 6`, or raw u32 h[12..16]); h[3] NULL mask for
//!   hero_config_new (base_url, api_key, group, out);
//! - h[4] bits: client_new (config NULL, client_out NULL, error_out NULL),
//!   client_check (client NULL, message NULL, error_out NULL), send via the
//!   loopback client (bit 6; bit 7 error_out NULL);
//! - h[5] bits: 0 hero_config_new_from_env (bit 1 its config_out NULL),
//!   2 send with response_out NULL, 3 send with client NULL;
//! - chunks 0-4: patient_id, message_string, base_url, api_key, group;
//! - every later chunk is one call: byte 0 = op (bit 7 NULL handle or out
//!   pointer, bit 6 NULL string; `(op & 0x3f) % 28` picks the function, in
//!   the order of `run_op`), the rest is the argument (numbers in ASCII
//!   decimal or little-endian).
//!
//! Invariants: every status is one the header documents for that call, and
//! exactly the misuse status when the call is misused (else success);
//! HERO_INTERNAL_ERROR never occurs; object out-params are NULL whenever the
//! status is not HERO_OK (error out-params: set exactly on a failure
//! status, NULL otherwise); hero_status_text is total; hero_error accessors agree with the status; results and error
//! texts equal the Rust API's for the same inputs; error texts and log lines
//! never show the API key or the message text.
//!
//! Sends go only to a fixed client for http://127.0.0.1:9 (nothing listens:
//! connection refused), with one attempt and a 2 s deadline. Fuzzed
//! clients are created, checked and freed, never used to send; a fuzzed CA
//! file path is put under a directory that does not exist, so no real file
//! is read except the fuzzer's own temp file.
#![no_main]

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::PathBuf;
use std::ptr::{self, NonNull};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hero_kind::*;
use hero_status::*;
use herohealth::ffi::*;
use herohealth::{
    AssigneeType, Client, ClientBuilder, Encrypted, FallbackType, MessageType, SendMessage, Target,
};
use libfuzzer_sys::fuzz_target;

// ---------------------------------------------------------------- helpers

/// A non-NULL pointer that no call may leave behind in an out-param it sets.
fn sentinel<T>() -> *mut T {
    NonNull::dangling().as_ptr()
}

/// A C string argument: NULL, or NUL-terminated bytes that may not be UTF-8.
struct Arg {
    c: Option<CString>,
    utf8: Option<String>,
}

impl Arg {
    fn new(bytes: &[u8], null: bool) -> Self {
        if null {
            return Arg {
                c: None,
                utf8: None,
            };
        }
        Arg {
            c: Some(CString::new(bytes).expect("chunks hold no NUL")),
            utf8: String::from_utf8(bytes.to_vec()).ok(),
        }
    }
    fn ptr(&self) -> *const c_char {
        self.c.as_ref().map_or(ptr::null(), |c| c.as_ptr())
    }
    fn is_null(&self) -> bool {
        self.c.is_none()
    }
    fn bad_utf8(&self) -> bool {
        self.c.is_some() && self.utf8.is_none()
    }
    fn text(&self) -> &str {
        self.utf8.as_deref().unwrap_or_default()
    }
}

/// The misuse statuses that apply to a call; none means it must succeed.
#[derive(Default)]
struct Misuse(Vec<hero_status>);

impl Misuse {
    fn when(&mut self, cond: bool, status: hero_status) -> &mut Self {
        if cond && !self.0.contains(&status) {
            self.0.push(status);
        }
        self
    }
    /// Checks `got`: one of the applicable misuse statuses, or else one of `ok`.
    fn check(&self, ctx: &str, got: hero_status, ok: &[hero_status]) {
        assert_ne!(
            got, HERO_INTERNAL_ERROR,
            "{ctx}: HERO_INTERNAL_ERROR (a caught panic)"
        );
        if self.0.is_empty() {
            assert!(
                ok.contains(&got),
                "{ctx}: got {got:?}, expected one of {ok:?}"
            );
        } else {
            assert!(
                self.0.contains(&got),
                "{ctx}: got {got:?}, expected misuse status among {:?}",
                self.0
            );
        }
    }
    fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

fn is_misuse(s: hero_status) -> bool {
    matches!(
        s,
        HERO_NULL_ARGUMENT | HERO_INVALID_UTF8 | HERO_INVALID_ARGUMENT | HERO_INTERNAL_ERROR
    )
}

/// A u32 argument: ASCII decimal, else one byte, else 4 little-endian bytes.
fn u32_of(r: &[u8]) -> u32 {
    if let Some(v) = std::str::from_utf8(r).ok().and_then(|s| s.parse().ok()) {
        return v;
    }
    match r.len() {
        0 => 0,
        1..=3 => u32::from(r[0]),
        _ => u32::from_le_bytes(r[..4].try_into().unwrap()),
    }
}

/// An i64 argument: ASCII decimal, else up to 8 little-endian bytes.
fn i64_of(r: &[u8]) -> i64 {
    std::str::from_utf8(r)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let mut le = [0u8; 8];
            let n = r.len().min(8);
            le[..n].copy_from_slice(&r[..n]);
            i64::from_le_bytes(le)
        })
}

fn c_text<'a>(ctx: &str, p: *const c_char) -> &'a str {
    assert!(!p.is_null(), "{ctx}: NULL string");
    // SAFETY: the library returns NUL-terminated strings valid while the handle lives.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .unwrap_or_else(|_| panic!("{ctx}: string is not UTF-8"))
}

/// Leak check: `text` shows `secret` though `fixed`, the same output made
/// with a stand-in for the secret, does not.
fn no_leak(ctx: &str, secret: &str, text: &str, fixed: &str) {
    if secret.len() >= 8 && text.contains(secret) && !fixed.contains(secret) {
        panic!("{ctx} shows the secret value: {text:?}");
    }
}

/// Same length, same credential validity (printable ASCII, edge spaces).
fn key_stand_in(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b' ' => ' ',
            0x21..=0x7e => 'K',
            _ => '\u{1}',
        })
        .collect()
}

/// Same length, same validity as a patient id (ASCII digits, non-empty).
fn digits_stand_in(s: &str) -> String {
    let c = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        "1"
    } else {
        "x"
    };
    c.repeat(s.len())
}

fn phrase(status: hero_status) -> &'static str {
    match status {
        HERO_NOT_SENT => "not sent: ",
        HERO_REFUSED => "refused: ",
        HERO_MAY_HAVE_BEEN_SENT => "may have been sent: ",
        HERO_ACCEPTED_ID_UNKNOWN => "accepted, message id unknown: ",
        s => panic!("no error phrase for {s:?}"),
    }
}

/// What a hero_error said.
struct ErrInfo {
    message: String,
    field: Option<String>,
    kind: hero_kind,
    attempts: u32,
}

/// Reads every accessor of `err` (returned with `status`) and checks them.
fn check_error(ctx: &str, err: *const hero_error, status: hero_status) -> ErrInfo {
    assert!(
        !err.is_null() && err != sentinel::<hero_error>(),
        "{ctx}: no error object"
    );
    assert_eq!(
        hero_error_status(err),
        status,
        "{ctx}: hero_error_status differs"
    );
    let kind = hero_error_kind(err);
    assert_ne!(
        kind, HERO_KIND_NONE,
        "{ctx}: HERO_KIND_NONE for a live error"
    );
    let message = c_text(ctx, hero_error_message(err)).to_owned();
    assert!(
        message.starts_with(phrase(status)),
        "{ctx}: message {message:?} vs {status:?}"
    );
    let f = hero_error_field(err);
    let field = (!f.is_null()).then(|| c_text(ctx, f).to_owned());
    assert_eq!(
        field.is_some(),
        kind == HERO_KIND_INVALID_INPUT,
        "{ctx}: field {field:?} with kind {kind:?}"
    );
    if let Some(f) = &field {
        assert!(
            !f.is_empty() && f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{ctx}: odd field name {f:?}"
        );
    }
    let attempts = hero_error_attempts(err);
    let mut len = usize::MAX;
    let body = hero_error_body(err, &mut len);
    if body.is_null() {
        assert_eq!(len, 0, "{ctx}: NULL body with a length");
    }
    let _ = hero_error_body(err, ptr::null_mut());
    if status == HERO_NOT_SENT {
        assert_eq!(
            hero_error_http_status(err),
            0,
            "{ctx}: http status without an answer"
        );
        assert_eq!(
            hero_error_retry_after_ms(err),
            -1,
            "{ctx}: retry-after without an answer"
        );
        assert!(body.is_null() && len == 0, "{ctx}: body without an answer");
    }
    if matches!(kind, HERO_KIND_INVALID_INPUT | HERO_KIND_CONFIG) {
        assert_eq!(attempts, 0, "{ctx}: attempts for an input/config error");
    }
    ErrInfo {
        message,
        field,
        kind,
        attempts,
    }
}

/// Checks an error out-param after a call; returns the error (to be freed).
fn take_error_out(
    ctx: &str,
    status: hero_status,
    given: bool,
    value: *mut hero_error,
) -> Option<*mut hero_error> {
    if !given {
        return None;
    }
    if status == HERO_OK || is_misuse(status) {
        assert!(
            value.is_null(),
            "{ctx}: *error_out is {value:?}, not NULL, after {status:?}"
        );
        None
    } else {
        assert!(
            !value.is_null() && value != sentinel(),
            "{ctx}: no *error_out after {status:?}"
        );
        Some(value)
    }
}

/// Checks an object out-param: set on HERO_OK, NULL otherwise.
fn check_out<T>(ctx: &str, status: hero_status, value: *mut T) {
    if status == HERO_OK {
        assert!(
            !value.is_null() && value != sentinel(),
            "{ctx}: HERO_OK without an object"
        );
    } else {
        assert!(
            value.is_null(),
            "{ctx}: out-param {value:?} not NULL after {status:?}"
        );
    }
}

// ------------------------------------------------------------ log capture

/// Log lines from the loopback clients (a plain static: a thread-local with
/// a destructor shows up as a 32-byte LeakSanitizer false positive).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log_push(line: &str) {
    LOG.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(line.to_owned());
}

unsafe extern "C" fn log_cb(_user: *mut c_void, level: u32, line: *const c_char) {
    assert!((1..=4).contains(&level), "log level {level}");
    log_push(c_text("log line", line));
}

fn take_log() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap_or_else(|e| e.into_inner()))
}

// -------------------------------------------------------- loopback client

const LOOPBACK_KEY: &str = "fuzz-api-key-4242";

struct Shared(*mut hero_client);
// SAFETY: hero_client is documented thread-safe; the fuzzer uses one thread.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// A client for http://127.0.0.1:9 (nothing listens), one attempt.
fn loopback() -> *const hero_client {
    static C: OnceLock<Shared> = OnceLock::new();
    C.get_or_init(|| {
        let url = CString::new("http://127.0.0.1:9").unwrap();
        let key = CString::new(LOOPBACK_KEY).unwrap();
        let group = CString::new("fuzz-group").unwrap();
        let mut cfg = ptr::null_mut();
        let s = hero_config_new(
            HERO_TARGET_CUSTOM,
            url.as_ptr(),
            key.as_ptr(),
            group.as_ptr(),
            &mut cfg,
        );
        assert_eq!(s, HERO_OK);
        assert_eq!(hero_config_set_max_attempts(cfg, 1), HERO_OK);
        assert_eq!(hero_config_set_deadline_ms(cfg, 2000), HERO_OK);
        assert_eq!(hero_config_set_connect_timeout_ms(cfg, 1000), HERO_OK);
        assert_eq!(
            hero_config_set_log_callback(cfg, Some(log_cb), ptr::null_mut()),
            HERO_OK
        );
        let mut client = ptr::null_mut();
        let s = hero_client_new(cfg, &mut client, ptr::null_mut());
        assert_eq!(s, HERO_OK);
        hero_config_free(cfg);
        Shared(client)
    })
    .0
}

/// The same client through the Rust API, logging to the same place.
fn rust_loopback() -> &'static Client {
    static C: OnceLock<Client> = OnceLock::new();
    C.get_or_init(|| {
        Client::builder(
            Target::Custom("http://127.0.0.1:9".into()),
            LOOPBACK_KEY,
            "fuzz-group",
        )
        .max_attempts(1)
        .deadline(Duration::from_millis(2000))
        .connect_timeout(Duration::from_millis(1000))
        .log_hook(|_, line| log_push(line))
        .build()
        .expect("Rust loopback client")
    })
}

fn ca_temp_path() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        let p: PathBuf =
            std::env::temp_dir().join(format!("herohealth-fuzz-ca-{}.pem", std::process::id()));
        p.to_str().expect("temp dir is UTF-8").to_owned()
    })
}

// ----------------------------------------------------------------- shadow

#[derive(Clone)]
enum CfgOp {
    Connect(u32),
    Deadline(u32),
    Attempts(u32),
    RetryWait(u32),
    Strict(bool),
    Suffix(String),
    Ca(String),
    Proxy(String),
}

struct CfgShadow {
    target: Target,
    key: String,
    group: String,
    ops: Vec<CfgOp>,
}

impl CfgShadow {
    fn builder(&self, key: &str) -> ClientBuilder {
        let mut b = Client::builder(self.target.clone(), key, &self.group);
        for op in &self.ops {
            b = match op.clone() {
                CfgOp::Connect(ms) => b.connect_timeout(Duration::from_millis(ms.into())),
                CfgOp::Deadline(ms) => b.deadline(Duration::from_millis(ms.into())),
                CfgOp::Attempts(n) => b.max_attempts(n),
                CfgOp::RetryWait(ms) => b.max_retry_wait(Duration::from_millis(ms.into())),
                CfgOp::Strict(on) => b.strict_checks(on),
                CfgOp::Suffix(s) => b.user_agent_suffix(s),
                CfgOp::Ca(p) => b.ca_file(p),
                CfgOp::Proxy(p) => b.proxy(p),
            };
        }
        b
    }
    fn strict(&self) -> bool {
        self.ops
            .iter()
            .rev()
            .find_map(|op| match op {
                CfgOp::Strict(on) => Some(*on),
                _ => None,
            })
            .unwrap_or(true)
    }
}

/// The C text of a Rust error (hero_error replaces NUL with a space).
fn c_message(e: &herohealth::Error) -> String {
    e.to_string().replace('\0', " ")
}

fn message_type(v: u32) -> Option<MessageType> {
    match v {
        HERO_MESSAGE_TYPE_HERO => Some(MessageType::Hero),
        HERO_MESSAGE_TYPE_SMS => Some(MessageType::Sms),
        HERO_MESSAGE_TYPE_EMAIL => Some(MessageType::Email),
        HERO_MESSAGE_TYPE_NHS_APP => Some(MessageType::NhsApp),
        _ => None,
    }
}

// -------------------------------------------------------------- the calls

type StrSetter = extern "C" fn(*mut hero_message, *const c_char) -> hero_status;
type Apply = fn(SendMessage, &str) -> SendMessage;

const STRING_SETTERS: [(&str, StrSetter, Apply); 9] = [
    (
        "recipient_contact_detail",
        hero_message_set_recipient_contact_detail,
        |m, v| m.recipient_contact_detail(v),
    ),
    (
        "fallback_contact_detail",
        hero_message_set_fallback_contact_detail,
        |m, v| m.fallback_contact_detail(v),
    ),
    ("snomed_code", hero_message_set_snomed_code, |m, v| {
        m.snomed_code(v)
    }),
    ("snomed_term", hero_message_set_snomed_term, |m, v| {
        m.snomed_term(v)
    }),
    ("task_id", hero_message_set_task_id, |m, v| m.task_id(v)),
    (
        "attachment_uuid",
        hero_message_set_attachment_uuid,
        |m, v| m.attachment_uuid(v),
    ),
    ("short_link_id", hero_message_set_short_link_id, |m, v| {
        m.short_link_id(v)
    }),
    ("send_at", hero_message_set_send_at, |m, v| m.send_at(v)),
    ("encrypted_text", hero_message_set_encrypted_text, |m, v| {
        m.encrypted(Encrypted::Text(v.to_owned()))
    }),
];

type BoolSetter = extern "C" fn(*mut hero_message, bool) -> hero_status;
type ApplyBool = fn(SendMessage, bool) -> SendMessage;

const BOOL_SETTERS: [(&str, BoolSetter, ApplyBool); 3] = [
    ("encrypted", hero_message_set_encrypted, |m, v| {
        m.encrypted(Encrypted::Flag(v))
    }),
    (
        "write_to_record",
        hero_message_set_write_to_record,
        SendMessage::write_to_record,
    ),
    (
        "auto_write_to_record",
        hero_message_set_auto_write_to_record,
        SendMessage::auto_write_to_record,
    ),
];

type FromName = extern "C" fn(*const c_char, *mut u32) -> hero_status;
type Expect = fn(&str) -> Option<u32>;

const FROM_NAME: [(&str, FromName, Expect); 3] = [
    (
        "hero_message_type_from_name",
        hero_message_type_from_name,
        |s| {
            MessageType::parse(s).map(|t| match t {
                MessageType::Hero => HERO_MESSAGE_TYPE_HERO,
                MessageType::Sms => HERO_MESSAGE_TYPE_SMS,
                MessageType::Email => HERO_MESSAGE_TYPE_EMAIL,
                MessageType::NhsApp => HERO_MESSAGE_TYPE_NHS_APP,
            })
        },
    ),
    (
        "hero_fallback_type_from_name",
        hero_fallback_type_from_name,
        |s| {
            FallbackType::parse(s).map(|t| match t {
                FallbackType::Sms => HERO_FALLBACK_TYPE_SMS,
                FallbackType::Email => HERO_FALLBACK_TYPE_EMAIL,
            })
        },
    ),
    (
        "hero_assignee_type_from_name",
        hero_assignee_type_from_name,
        |s| {
            AssigneeType::parse(s).map(|t| match t {
                AssigneeType::Admin => HERO_ASSIGNEE_TYPE_ADMIN,
                AssigneeType::AdminTeam => HERO_ASSIGNEE_TYPE_ADMIN_TEAM,
            })
        },
    ),
];

type NumSetter = extern "C" fn(*mut hero_config, u32) -> hero_status;

type ToOp = fn(u32) -> CfgOp;

const NUM_SETTERS: [(&str, NumSetter, ToOp); 4] = [
    (
        "connect_timeout_ms",
        hero_config_set_connect_timeout_ms,
        CfgOp::Connect,
    ),
    ("deadline_ms", hero_config_set_deadline_ms, CfgOp::Deadline),
    (
        "max_attempts",
        hero_config_set_max_attempts,
        CfgOp::Attempts,
    ),
    (
        "max_retry_wait_ms",
        hero_config_set_max_retry_wait_ms,
        CfgOp::RetryWait,
    ),
];

type CfgStrSetter = extern "C" fn(*mut hero_config, *const c_char) -> hero_status;

/// The Rust side of a hero_message: its creation arguments and every
/// setter call that returned HERO_OK, replayable with other values.
struct MsgShadow {
    patient: String,
    kind: MessageType,
    text: String,
    ops: Vec<Box<dyn Fn(SendMessage) -> SendMessage>>,
}

impl MsgShadow {
    fn with(&self, patient: &str, text: &str) -> SendMessage {
        self.ops
            .iter()
            .fold(SendMessage::new(patient, self.kind, text), |m, op| op(m))
    }
    fn build(&self) -> SendMessage {
        self.with(&self.patient, &self.text)
    }
}

struct State {
    msg: *mut hero_message,
    shadow_msg: Option<MsgShadow>,
    cfg: *mut hero_config,
    shadow_cfg: Option<CfgShadow>,
}

impl State {
    fn push(&mut self, op: Box<dyn Fn(SendMessage) -> SendMessage>) {
        self.shadow_msg
            .as_mut()
            .expect("shadow message")
            .ops
            .push(op);
    }
}

const OPS: u8 = 28;

fn run_op(st: &mut State, chunk: &[u8]) {
    let Some((&op, rest)) = chunk.split_first() else {
        return;
    };
    let null_handle = op & 0x80 != 0;
    let null_str = op & 0x40 != 0;
    let code = (op & 0x3f) % OPS;
    let msg = if null_handle { ptr::null_mut() } else { st.msg };
    let cfg = if null_handle { ptr::null_mut() } else { st.cfg };
    let flag = rest.first().is_some_and(|b| b & 1 == 1);
    match code {
        0..=8 => {
            let (name, f, apply) = STRING_SETTERS[usize::from(code)];
            let arg = Arg::new(rest, null_str);
            let s = f(msg, arg.ptr());
            let mut m = Misuse::default();
            m.when(msg.is_null() || arg.is_null(), HERO_NULL_ARGUMENT)
                .when(arg.bad_utf8(), HERO_INVALID_UTF8);
            m.check(&format!("hero_message_set_{name}"), s, &[HERO_OK]);
            if s == HERO_OK {
                let v = arg.text().to_owned();
                st.push(Box::new(move |m| apply(m, &v)));
            }
        }
        9..=11 => {
            let (name, f, apply) = BOOL_SETTERS[usize::from(code - 9)];
            let s = f(msg, flag);
            let mut m = Misuse::default();
            m.when(msg.is_null(), HERO_NULL_ARGUMENT);
            m.check(&format!("hero_message_set_{name}"), s, &[HERO_OK]);
            if s == HERO_OK {
                st.push(Box::new(move |m| apply(m, flag)));
            }
        }
        12 => {
            let v = u32_of(rest);
            let s = hero_message_set_fallback_message_type(msg, v);
            let t = match v {
                HERO_FALLBACK_TYPE_SMS => Some(FallbackType::Sms),
                HERO_FALLBACK_TYPE_EMAIL => Some(FallbackType::Email),
                _ => None,
            };
            let mut m = Misuse::default();
            m.when(msg.is_null(), HERO_NULL_ARGUMENT)
                .when(t.is_none(), HERO_INVALID_ARGUMENT);
            m.check("hero_message_set_fallback_message_type", s, &[HERO_OK]);
            if s == HERO_OK {
                let t = t.unwrap();
                st.push(Box::new(move |m| m.fallback_message_type(t)));
            }
        }
        13 => {
            let v = i64_of(rest);
            let s = hero_message_set_assignee_id(msg, v);
            let mut m = Misuse::default();
            m.when(msg.is_null(), HERO_NULL_ARGUMENT);
            m.check("hero_message_set_assignee_id", s, &[HERO_OK]);
            if s == HERO_OK {
                st.push(Box::new(move |m| m.assignee_id(v)));
            }
        }
        14 => {
            let v = u32_of(rest);
            let s = hero_message_set_assignee_type(msg, v);
            let t = match v {
                HERO_ASSIGNEE_TYPE_ADMIN => Some(AssigneeType::Admin),
                HERO_ASSIGNEE_TYPE_ADMIN_TEAM => Some(AssigneeType::AdminTeam),
                _ => None,
            };
            let mut m = Misuse::default();
            m.when(msg.is_null(), HERO_NULL_ARGUMENT)
                .when(t.is_none(), HERO_INVALID_ARGUMENT);
            m.check("hero_message_set_assignee_type", s, &[HERO_OK]);
            if s == HERO_OK {
                let t = t.unwrap();
                st.push(Box::new(move |m| m.assignee_type(t)));
            }
        }
        15..=17 => {
            let (name, f, expect) = FROM_NAME[usize::from(code - 15)];
            let arg = Arg::new(rest, null_str);
            const UNTOUCHED: u32 = 0xDEAD_BEEF;
            let mut value = UNTOUCHED;
            let out: *mut u32 = if null_handle {
                ptr::null_mut()
            } else {
                &mut value
            };
            let s = f(arg.ptr(), out);
            let want = arg.utf8.as_deref().and_then(expect);
            let mut m = Misuse::default();
            m.when(arg.is_null() || out.is_null(), HERO_NULL_ARGUMENT)
                .when(arg.bad_utf8(), HERO_INVALID_UTF8)
                .when(arg.utf8.is_some() && want.is_none(), HERO_INVALID_ARGUMENT);
            m.check(name, s, &[HERO_OK]);
            if s == HERO_OK {
                assert_eq!(Some(value), want, "{name}: wrong value");
            } else {
                assert_eq!(value, UNTOUCHED, "{name}: *value_out changed after {s:?}");
            }
        }
        18..=21 => {
            let (name, f, op) = NUM_SETTERS[usize::from(code - 18)];
            let v = u32_of(rest);
            let s = f(cfg, v);
            let mut m = Misuse::default();
            m.when(cfg.is_null(), HERO_NULL_ARGUMENT);
            m.check(&format!("hero_config_set_{name}"), s, &[HERO_OK]);
            if s == HERO_OK {
                st.shadow_cfg
                    .as_mut()
                    .expect("shadow config")
                    .ops
                    .push(op(v));
            }
        }
        22 => {
            let s = hero_config_set_strict_checks(cfg, flag);
            let mut m = Misuse::default();
            m.when(cfg.is_null(), HERO_NULL_ARGUMENT);
            m.check("hero_config_set_strict_checks", s, &[HERO_OK]);
            if s == HERO_OK {
                st.shadow_cfg
                    .as_mut()
                    .expect("shadow config")
                    .ops
                    .push(CfgOp::Strict(flag));
            }
        }
        23..=26 => {
            let (name, f, arg): (&str, CfgStrSetter, Arg) = match code {
                23 => (
                    "user_agent_suffix",
                    hero_config_set_user_agent_suffix,
                    Arg::new(rest, null_str),
                ),
                24 => {
                    // A path under a directory that does not exist: never opens a real file.
                    let mut p = b"/nonexistent-herohealth-fuzz/".to_vec();
                    p.extend_from_slice(rest);
                    ("ca_file", hero_config_set_ca_file, Arg::new(&p, null_str))
                }
                25 => {
                    // The argument bytes become the content of the fuzzer's own CA file.
                    std::fs::write(ca_temp_path(), rest).expect("write temp CA file");
                    (
                        "ca_file",
                        hero_config_set_ca_file,
                        Arg::new(ca_temp_path().as_bytes(), null_str),
                    )
                }
                _ => ("proxy", hero_config_set_proxy, Arg::new(rest, null_str)),
            };
            let s = f(cfg, arg.ptr());
            let mut m = Misuse::default();
            m.when(cfg.is_null() || arg.is_null(), HERO_NULL_ARGUMENT)
                .when(arg.bad_utf8(), HERO_INVALID_UTF8);
            m.check(&format!("hero_config_set_{name}"), s, &[HERO_OK]);
            if s == HERO_OK {
                let v = arg.text().to_owned();
                let op = match code {
                    23 => CfgOp::Suffix(v),
                    26 => CfgOp::Proxy(v),
                    _ => CfgOp::Ca(v),
                };
                st.shadow_cfg.as_mut().expect("shadow config").ops.push(op);
            }
        }
        _ => {
            let cb: hero_log_callback = if flag { None } else { Some(log_cb) };
            let s = hero_config_set_log_callback(cfg, cb, ptr::null_mut());
            let mut m = Misuse::default();
            m.when(cfg.is_null(), HERO_NULL_ARGUMENT);
            m.check("hero_config_set_log_callback", s, &[HERO_OK]);
        }
    }
}

fn null_accessors() {
    let e: *const hero_error = ptr::null();
    assert_eq!(hero_error_status(e), HERO_NULL_ARGUMENT);
    assert_eq!(hero_error_kind(e), HERO_KIND_NONE);
    assert!(hero_error_message(e).is_null() && hero_error_field(e).is_null());
    assert_eq!(hero_error_http_status(e), 0);
    assert_eq!(hero_error_retry_after_ms(e), -1);
    assert_eq!(hero_error_attempts(e), 0);
    let mut len = 7usize;
    assert!(hero_error_body(e, &mut len).is_null() && len == 0);
    let r: *const hero_response = ptr::null();
    for f in [
        hero_response_message_id,
        hero_response_content,
        hero_response_created_at,
        hero_response_snomed_code,
        hero_response_auth_token,
        hero_response_confirm_write_to_record_url,
        hero_response_submitted_by,
        hero_response_send_at,
        hero_response_json,
    ] {
        assert!(f(r).is_null());
    }
    assert_eq!(hero_response_write_to_record(r), -1);
    assert_eq!(hero_client_connections_opened(ptr::null()), 0);
    let version = format!("{HERO_VERSION_MAJOR}.{HERO_VERSION_MINOR}.{HERO_VERSION_PATCH}");
    assert_eq!(
        c_text("hero_version", hero_version()),
        version,
        "hero_version"
    );
    for s in [
        HERO_OK,
        HERO_NOT_SENT,
        HERO_REFUSED,
        HERO_MAY_HAVE_BEEN_SENT,
        HERO_ACCEPTED_ID_UNKNOWN,
        HERO_NULL_ARGUMENT,
        HERO_INVALID_UTF8,
        HERO_INVALID_ARGUMENT,
        HERO_INTERNAL_ERROR,
    ] {
        let t = c_text("hero_status_text", hero_status_text(s as i32));
        assert!(
            !t.is_empty() && t != "unknown status",
            "hero_status_text({s:?}) = {t:?}"
        );
    }
    hero_error_free(ptr::null_mut());
    hero_response_free(ptr::null_mut());
    hero_client_free(ptr::null_mut());
    hero_config_free(ptr::null_mut());
    hero_message_free(ptr::null_mut());
}

fn from_env(h5: u8) {
    let null_out = h5 & 2 != 0;
    let mut cfg = sentinel::<hero_config>();
    let mut err = sentinel::<hero_error>();
    let out: *mut *mut hero_config = if null_out { ptr::null_mut() } else { &mut cfg };
    let s = hero_config_new_from_env(out, &mut err);
    let mut m = Misuse::default();
    m.when(null_out, HERO_NULL_ARGUMENT);
    m.check("hero_config_new_from_env", s, &[HERO_OK, HERO_NOT_SENT]);
    if !null_out {
        check_out("hero_config_new_from_env", s, cfg);
        let rust = ClientBuilder::from_env();
        assert_eq!(
            s == HERO_OK,
            rust.is_ok(),
            "hero_config_new_from_env differs from Rust"
        );
        hero_config_free(cfg);
    }
    if let Some(e) = take_error_out("hero_config_new_from_env", s, true, err) {
        let info = check_error("hero_config_new_from_env", e, s);
        if let Err(r) = ClientBuilder::from_env() {
            assert_eq!(info.message, c_message(&r), "from_env error text differs");
        }
        hero_error_free(e);
    }
}

fn small(b: u8, raw: u32) -> u32 {
    if b >= 0xF0 { raw } else { u32::from(b % 6) }
}

/// Runs once before fuzzing: creates the loopback clients and sends once
/// through each, so lazily created statics and thread-local destructors
/// (glibc allocates a record for each) exist before LeakSanitizer counts.
fn warm_up() {
    let ok = SendMessage::new("4242", MessageType::Sms, "Your flu jab is due.")
        .recipient_contact_detail("07700 900123");
    let _ = rust_loopback().send(&ok);
    let (p, t, r) = (c"4242", c"Your flu jab is due.", c"07700 900123");
    let mut msg = ptr::null_mut();
    assert_eq!(
        hero_message_new(p.as_ptr(), HERO_MESSAGE_TYPE_SMS, t.as_ptr(), &mut msg),
        HERO_OK
    );
    assert_eq!(
        hero_message_set_recipient_contact_detail(msg, r.as_ptr()),
        HERO_OK
    );
    let (mut resp, mut err) = (ptr::null_mut(), ptr::null_mut());
    let s = hero_client_send(loopback(), msg, &mut resp, &mut err);
    assert_eq!(
        s, HERO_NOT_SENT,
        "warm-up send to 127.0.0.1:9 (is something listening there?)"
    );
    hero_error_free(err);
    hero_message_free(msg);
    take_log();
}

fuzz_target!(init: warm_up(), |data: &[u8]| {
    let mut h = [0u8; 16];
    let n = data.len().min(16);
    h[..n].copy_from_slice(&data[..n]);
    let chunks: Vec<&[u8]> = if data.len() > 16 { data[16..].split(|&b| b == 0).collect() } else { Vec::new() };
    let chunk = |i: usize| chunks.get(i).copied().unwrap_or_default();

    null_accessors();
    let any = i32::from_le_bytes(h[8..12].try_into().unwrap());
    let t = c_text("hero_status_text", hero_status_text(any));
    if !matches!(any, 0..=4 | 10..=13) {
        assert_eq!(t, "unknown status", "hero_status_text({any})");
    }
    take_log();

    // hero_message_new
    let kind_raw = small(h[0], u32::from_le_bytes(h[8..12].try_into().unwrap()));
    let patient = Arg::new(chunk(0), h[1] & 1 != 0);
    let text = Arg::new(chunk(1), h[1] & 2 != 0);
    let null_msg_out = h[1] & 4 != 0;
    let mut msg = sentinel::<hero_message>();
    let out: *mut *mut hero_message = if null_msg_out { ptr::null_mut() } else { &mut msg };
    let s = hero_message_new(patient.ptr(), kind_raw, text.ptr(), out);
    let kind = message_type(kind_raw);
    let mut m = Misuse::default();
    m.when(null_msg_out || patient.is_null() || text.is_null(), HERO_NULL_ARGUMENT)
        .when(patient.bad_utf8() || text.bad_utf8(), HERO_INVALID_UTF8)
        .when(kind.is_none(), HERO_INVALID_ARGUMENT);
    m.check("hero_message_new", s, &[HERO_OK]);
    if null_msg_out {
        msg = ptr::null_mut();
    } else {
        check_out("hero_message_new", s, msg);
    }
    let shadow_msg = (s == HERO_OK).then(|| MsgShadow {
        patient: patient.text().to_owned(),
        kind: kind.unwrap(),
        text: text.text().to_owned(),
        ops: Vec::new(),
    });

    // hero_config_new
    let target = small(h[2], u32::from_le_bytes(h[12..16].try_into().unwrap()));
    let base = Arg::new(chunk(2), h[3] & 1 != 0);
    let key = Arg::new(chunk(3), h[3] & 2 != 0);
    let group = Arg::new(chunk(4), h[3] & 4 != 0);
    let null_cfg_out = h[3] & 8 != 0;
    let mut cfg = sentinel::<hero_config>();
    let out: *mut *mut hero_config = if null_cfg_out { ptr::null_mut() } else { &mut cfg };
    let s = hero_config_new(target, base.ptr(), key.ptr(), group.ptr(), out);
    let mut m = Misuse::default();
    m.when(null_cfg_out || key.is_null() || group.is_null(), HERO_NULL_ARGUMENT)
        .when(key.bad_utf8() || group.bad_utf8(), HERO_INVALID_UTF8);
    let t = match (target, base.is_null()) {
        (HERO_TARGET_PRODUCTION, true) => Some(Target::Production),
        (HERO_TARGET_STAGING, true) => Some(Target::Staging),
        (HERO_TARGET_CUSTOM, false) if base.bad_utf8() => {
            m.when(true, HERO_INVALID_UTF8);
            None
        }
        (HERO_TARGET_CUSTOM, false) => Some(Target::Custom(base.text().to_owned())),
        (HERO_TARGET_CUSTOM, true) => {
            m.when(true, HERO_NULL_ARGUMENT);
            None
        }
        _ => {
            m.when(true, HERO_INVALID_ARGUMENT);
            None
        }
    };
    m.check("hero_config_new", s, &[HERO_OK]);
    if null_cfg_out {
        cfg = ptr::null_mut();
    } else {
        check_out("hero_config_new", s, cfg);
    }
    let shadow_cfg = (s == HERO_OK).then(|| CfgShadow {
        target: t.unwrap(),
        key: key.text().to_owned(),
        group: group.text().to_owned(),
        ops: Vec::new(),
    });

    let mut st = State { msg, shadow_msg, cfg, shadow_cfg };
    for c in chunks.iter().skip(5) {
        run_op(&mut st, c);
    }

    if h[5] & 1 != 0 {
        from_env(h[5]);
    }

    // hero_client_new
    let cfg_arg: *const hero_config = if h[4] & 1 != 0 { ptr::null() } else { st.cfg };
    let null_client_out = h[4] & 2 != 0;
    let err_given = h[4] & 4 == 0;
    let mut client = sentinel::<hero_client>();
    let mut err = sentinel::<hero_error>();
    let client_out: *mut *mut hero_client = if null_client_out { ptr::null_mut() } else { &mut client };
    let err_out: *mut *mut hero_error = if err_given { &mut err } else { ptr::null_mut() };
    let s = hero_client_new(cfg_arg, client_out, err_out);
    let rust_client = (!cfg_arg.is_null()).then(|| st.shadow_cfg.as_ref().unwrap().builder(&st.shadow_cfg.as_ref().unwrap().key).build());
    let mut m = Misuse::default();
    m.when(null_client_out || cfg_arg.is_null(), HERO_NULL_ARGUMENT);
    let want = match &rust_client {
        Some(Ok(_)) => HERO_OK,
        _ => HERO_NOT_SENT,
    };
    m.check("hero_client_new", s, &[want]);
    if null_client_out {
        client = ptr::null_mut();
    } else {
        check_out("hero_client_new", s, client);
    }
    if let Some(e) = take_error_out("hero_client_new", s, err_given, err) {
        let info = check_error("hero_client_new", e, s);
        let Some(Err(r)) = &rust_client else { unreachable!() };
        assert_eq!(info.message, c_message(r), "hero_client_new error text differs from Rust");
        assert_eq!(info.field.as_deref(), r.field(), "hero_client_new error field differs");
        let sh = st.shadow_cfg.as_ref().unwrap();
        if sh.key.len() >= 8 && info.message.contains(&sh.key) {
            let fixed = match sh.builder(&key_stand_in(&sh.key)).build() {
                Ok(_) => String::new(),
                Err(e) => c_message(&e),
            };
            no_leak("hero_client_new error (api_key)", &sh.key, &info.message, &fixed);
        }
        hero_error_free(e);
    }
    if !client.is_null() {
        assert_eq!(hero_client_connections_opened(client), 0, "connections opened without a send");
        if let Some(Ok(rc)) = &rust_client {
            assert_eq!(rc.strict_checks(), st.shadow_cfg.as_ref().unwrap().strict());
        }
    }

    // hero_client_check
    let client_arg: *const hero_client = if h[4] & 8 != 0 { ptr::null() } else { client };
    let msg_arg: *const hero_message = if h[4] & 16 != 0 { ptr::null() } else { st.msg };
    let err_given = h[4] & 32 == 0;
    let mut err = sentinel::<hero_error>();
    let err_out: *mut *mut hero_error = if err_given { &mut err } else { ptr::null_mut() };
    let s = hero_client_check(client_arg, msg_arg, err_out);
    let mut m = Misuse::default();
    m.when(client_arg.is_null() || msg_arg.is_null(), HERO_NULL_ARGUMENT);
    let strict = st.shadow_cfg.as_ref().map(CfgShadow::strict).unwrap_or(true);
    let rust_check = st.shadow_msg.as_ref().map(|sm| sm.build().validate(strict));
    if !m.any() {
        let want = if rust_check.as_ref().unwrap().is_ok() { HERO_OK } else { HERO_NOT_SENT };
        m.check("hero_client_check", s, &[want]);
    } else {
        m.check("hero_client_check", s, &[]);
    }
    if let Some(e) = take_error_out("hero_client_check", s, err_given, err) {
        let info = check_error("hero_client_check", e, s);
        let r = rust_check.as_ref().unwrap().as_ref().unwrap_err();
        assert_eq!(info.message, c_message(r), "hero_client_check error text differs from Rust");
        assert_eq!(info.kind, HERO_KIND_INVALID_INPUT, "hero_client_check error kind");
        let sm = st.shadow_msg.as_ref().unwrap();
        let (pid, ms) = (sm.patient.as_str(), sm.text.as_str());
        if ms.len() >= 8 && info.message.contains(ms) {
            // The stand-in keeps every rule's outcome: only emptiness is checked.
            let canary = sm.with(pid, &"x".repeat(ms.len()));
            let fixed = canary.validate(strict).err().map(|e| c_message(&e)).unwrap_or_default();
            no_leak("hero_client_check error (message_string)", ms, &info.message, &fixed);
        }
        if pid.len() >= 8 && info.message.contains(pid) {
            let fixed = sm
                .with(&digits_stand_in(pid), ms)
                .validate(strict)
                .err()
                .map(|e| c_message(&e))
                .unwrap_or_default();
            no_leak("hero_client_check error (patient_id)", pid, &info.message, &fixed);
        }
        hero_error_free(e);
    }

    // hero_client_send, only ever to the loopback client (port 9, closed).
    if h[4] & 64 != 0 || h[5] & 12 != 0 {
        let lb = if h[5] & 8 != 0 { ptr::null() } else { loopback() };
        let null_resp = h[5] & 4 != 0;
        let err_given = h[4] & 128 == 0;
        let mut resp = sentinel::<hero_response>();
        let mut err = sentinel::<hero_error>();
        let resp_out: *mut *mut hero_response = if null_resp { ptr::null_mut() } else { &mut resp };
        let err_out: *mut *mut hero_error = if err_given { &mut err } else { ptr::null_mut() };
        take_log();
        let s = hero_client_send(lb, st.msg, resp_out, err_out);
        let log = take_log();
        let mut m = Misuse::default();
        m.when(lb.is_null() || st.msg.is_null() || null_resp, HERO_NULL_ARGUMENT);
        // Nothing listens on 127.0.0.1:9: the message can only be "not sent".
        m.check("hero_client_send", s, &[HERO_NOT_SENT]);
        if !null_resp {
            check_out("hero_client_send", s, resp);
        }
        if m.any() {
            assert!(log.is_empty(), "log lines for a misused send");
        }
        if let Some(e) = take_error_out("hero_client_send", s, err_given, err) {
            let info = check_error("hero_client_send", e, s);
            match st.shadow_msg.as_ref().unwrap().build().validate(true) {
                Err(r) => {
                    assert_eq!(info.message, c_message(&r), "send: validation text differs");
                    assert_eq!(info.attempts, 0);
                }
                Ok(()) => {
                    assert_eq!(info.kind, HERO_KIND_CONNECT, "send to a closed port: {}", info.message);
                    assert_eq!(info.attempts, 1, "send attempts with max_attempts 1");
                }
            }
            hero_error_free(e);
        }
        for line in &log {
            assert!(!line.contains(LOOPBACK_KEY), "log line shows the API key: {line:?}");
            let sm = st.shadow_msg.as_ref().unwrap();
            let ms = sm.text.as_str();
            if ms.len() >= 8 && line.contains(ms) {
                // The same send with a stand-in text, through the Rust twin of
                // the loopback client; digits (timings) are masked.
                let mask = |s: &str| s.replace(|c: char| c.is_ascii_digit(), "0");
                let _ = rust_loopback().send(&sm.with(&sm.patient, &"x".repeat(ms.len())));
                let fixed = mask(&take_log().join("\n"));
                no_leak("log line (message_string)", &mask(ms), &mask(line), &fixed);
            }
        }
    }

    hero_client_free(client);
    hero_config_free(st.cfg);
    hero_message_free(st.msg);
});
