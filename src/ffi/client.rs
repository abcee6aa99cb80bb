//! `hero_config` (settings) and `hero_client` (the thread-safe sender).

use std::ffi::{CString, c_char, c_void};
use std::ptr;
use std::time::Duration;

use super::error::{deliver, report};
use super::{
    HERO_INTERNAL_ERROR, HERO_INVALID_ARGUMENT, HERO_NULL_ARGUMENT, HERO_OK, caught, clear_outs,
    ffi_try, give, guard, hero_error, hero_message, hero_response, hero_status, ref_arg, str_arg,
    take,
};
use crate::{Client, ClientBuilder, Error, ErrorKind, LogLevel, Outcome, Target};

/// Client settings being prepared (opaque). One thread at a time. Free with
/// `hero_config_free`; a client made from it does not need it any more.
pub struct hero_config {
    // `None` only if a panic interrupted a setter.
    builder: Option<ClientBuilder>,
}

/// A client (opaque): a connection pool and settings. Thread-safe: share
/// one client between all threads. Free it with `hero_client_free` once no
/// thread is using it.
pub struct hero_client {
    pub(crate) client: Client,
}

/// Which Hero server to use (`hero_config_new`).
pub type hero_target = u32;
/// `https://api.herohealth.net`: real patients.
pub const HERO_TARGET_PRODUCTION: hero_target = 1;
/// `https://api.staging.htech.app`.
pub const HERO_TARGET_STAGING: hero_target = 2;
/// The `base_url` given (https, or http for loopback such as the mock).
pub const HERO_TARGET_CUSTOM: hero_target = 3;

/// Receives log lines: `level` is 1 error, 2 warning, 3 info, 4 debug;
/// `line` is NUL-terminated and valid only during the call. Called on the
/// thread that is sending, possibly from several threads at once.
pub type hero_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, line: *const c_char)>;

struct CallbackData(*mut c_void);
// SAFETY: hero_config_set_log_callback documents that the callback and
// user_data must be safe to use from any thread.
unsafe impl Send for CallbackData {}
// SAFETY: as above.
unsafe impl Sync for CallbackData {}

/// Applies one setting to a config handle.
fn update<V>(
    config: *mut hero_config,
    value: Result<V, hero_status>,
    apply: impl FnOnce(ClientBuilder, V) -> ClientBuilder,
) -> hero_status {
    super::update(config, |h| &mut h.builder, value, apply)
}

/// Creates settings for a client.
///
/// `target` is one of `HERO_TARGET_*`; `base_url` is required for
/// `HERO_TARGET_CUSTOM` (e.g. `"http://127.0.0.1:8080"`) and must be NULL
/// otherwise. `api_key` and `practice_group_id` are copied; they are
/// checked when the client is created. The key is wiped from memory when
/// the config and the client are freed.
///
/// On `HERO_OK`, `*config_out` owns new settings (free with
/// `hero_config_free`); otherwise it is set to NULL. Returns
/// `HERO_NULL_ARGUMENT` (a string, `config_out`, or `base_url` for
/// `HERO_TARGET_CUSTOM`, is NULL), `HERO_INVALID_UTF8`, or
/// `HERO_INVALID_ARGUMENT` (unknown target, or a `base_url` given with
/// another target).
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_new(
    target: hero_target,
    base_url: *const c_char,
    api_key: *const c_char,
    practice_group_id: *const c_char,
    config_out: *mut *mut hero_config,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a writable out-parameter (documented).
        ffi_try!(unsafe { clear_outs(config_out, ptr::null_mut()) });
        // SAFETY: NULL or NUL-terminated strings (documented).
        let key = ffi_try!(unsafe { str_arg(api_key) });
        let group = ffi_try!(unsafe { str_arg(practice_group_id) });
        let target = match (target, base_url.is_null()) {
            (HERO_TARGET_PRODUCTION, true) => Target::Production,
            (HERO_TARGET_STAGING, true) => Target::Staging,
            // SAFETY: non-NULL, NUL-terminated.
            (HERO_TARGET_CUSTOM, false) => {
                Target::Custom(ffi_try!(unsafe { str_arg(base_url) }).to_owned())
            }
            (HERO_TARGET_CUSTOM, true) => return HERO_NULL_ARGUMENT,
            _ => return HERO_INVALID_ARGUMENT,
        };
        let builder = Client::builder(target, key, group);
        // SAFETY: checked non-NULL above.
        unsafe {
            give(
                config_out,
                hero_config {
                    builder: Some(builder),
                },
            )
        };
        HERO_OK
    })
}

/// Creates settings from the environment: `HERO_API_KEY`,
/// `HERO_PRACTICE_GROUP_ID`, exactly one of `HERO_BASE_URL` or
/// `HERO_ENVIRONMENT` (`production` | `staging`), and optionally
/// `HERO_CA_FILE`. There is no default target.
///
/// On `HERO_OK`, `*config_out` owns new settings. On `HERO_NOT_SENT` (a
/// variable missing or wrong) `*config_out` is NULL and, when `error_out`
/// is not NULL, `*error_out` owns a `hero_error` naming the variable (free
/// with `hero_error_free`). Reads the environment: do not change it from
/// another thread meanwhile.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_new_from_env(
    config_out: *mut *mut hero_config,
    error_out: *mut *mut hero_error,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or writable out-parameters (documented).
        ffi_try!(unsafe { clear_outs(config_out, error_out) });
        // SAFETY: checked or cleared out-parameters (above).
        unsafe {
            deliver(
                ClientBuilder::from_env(),
                config_out,
                error_out,
                |builder| hero_config {
                    builder: Some(builder),
                },
            )
        }
    })
}

/// Sets the time allowed to open a connection, TLS included (default
/// 10000 ms).
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_connect_timeout_ms(
    config: *mut hero_config,
    ms: u32,
) -> hero_status {
    update(config, Ok(()), |b, ()| {
        b.connect_timeout(Duration::from_millis(ms.into()))
    })
}

/// Sets the time allowed for a whole send, retries included (default
/// 30000 ms); 0 is refused by `hero_client_new`, as is a zero connect timeout.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_deadline_ms(config: *mut hero_config, ms: u32) -> hero_status {
    update(config, Ok(()), |b, ()| {
        b.deadline(Duration::from_millis(ms.into()))
    })
}

/// Sets the most HTTP attempts per send (default 3; 0 and 1 both mean no
/// retry). Retries happen only while the message certainly has not gone:
/// a failed connect, or a 429.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_max_attempts(
    config: *mut hero_config,
    attempts: u32,
) -> hero_status {
    update(config, Ok(()), |b, ()| b.max_attempts(attempts))
}

/// Sets the longest `Retry-After` waited out automatically (default 30000 ms).
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_max_retry_wait_ms(
    config: *mut hero_config,
    ms: u32,
) -> hero_status {
    update(config, Ok(()), |b, ()| {
        b.max_retry_wait(Duration::from_millis(ms.into()))
    })
}

/// Paces request starts on clients made from this config, all threads
/// together, to at most `per_second` (e.g. 5.0). 0 turns pacing off (the
/// default). A send whose turn would come after its deadline is not sent,
/// at once. Values outside 0.001..1000000 (other than 0), and NaN, are
/// refused by `hero_client_new`.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_max_sends_per_second(
    config: *mut hero_config,
    per_second: f64,
) -> hero_status {
    update(config, Ok(()), |b, ()| {
        b.max_sends_per_second((per_second != 0.0).then_some(per_second))
    })
}

/// Sets how long a kept-alive connection may sit idle and still be reused
/// (default 4000 ms; 0 turns reuse off). Keep it below the server's own idle
/// timeout: a request sent on a connection the server is closing can only
/// be reported as "may have been sent". A server's `Keep-Alive: timeout=N`
/// is honoured as well (no reuse after N - 1 s idle).
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_max_idle_age_ms(
    config: *mut hero_config,
    ms: u32,
) -> hero_status {
    update(config, Ok(()), |b, ()| {
        b.max_idle_age(Duration::from_millis(ms.into()))
    })
}

/// Turns the clinical and contact checks on (default) or off: SNOMED CT
/// check digits, phone numbers for sms, email addresses for email.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_strict_checks(config: *mut hero_config, on: bool) -> hero_status {
    update(config, Ok(()), |b, ()| b.strict_checks(on))
}

/// Appends `suffix` (copied) to the User-Agent, e.g. `"MyEHR/4.2"`.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a
/// NULL `config` or a NULL / non-UTF-8 string (nothing changed). One thread
/// at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_user_agent_suffix(
    config: *mut hero_config,
    suffix: *const c_char,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated.
    update(config, unsafe { str_arg(suffix) }, |b, v| {
        b.user_agent_suffix(v)
    })
}

/// Trusts the CA certificates in this PEM file instead of the operating
/// system's trust store (path copied; read when the client is created).
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a
/// NULL `config` or a NULL / non-UTF-8 string (nothing changed). One thread
/// at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_ca_file(
    config: *mut hero_config,
    path: *const c_char,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated.
    update(config, unsafe { str_arg(path) }, |b, v| b.ca_file(v))
}

/// Sends through this HTTP proxy (`"http://host:port"`, copied), overriding
/// the proxy environment variables (`https_proxy`, `HTTPS_PROXY`,
/// `all_proxy`, `ALL_PROXY`, `no_proxy`, `NO_PROXY`).
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` / `HERO_INVALID_UTF8` for a
/// NULL `config` or a NULL / non-UTF-8 string (nothing changed). One thread
/// at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_proxy(
    config: *mut hero_config,
    url: *const c_char,
) -> hero_status {
    // SAFETY: NULL or NUL-terminated.
    update(config, unsafe { str_arg(url) }, |b, v| b.proxy(v))
}

/// Sets a function to receive log lines (attempts, retries, statuses,
/// timings; never the key, message, patient id or contact details).
/// `callback` and `user_data` must be usable from any thread, and stay
/// valid until every client made from this config is freed. A NULL
/// callback turns logging off.
///
/// Returns `HERO_OK`, or `HERO_NULL_ARGUMENT` if `config` is NULL (nothing
/// changed). One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_set_log_callback(
    config: *mut hero_config,
    callback: hero_log_callback,
    user_data: *mut c_void,
) -> hero_status {
    let data = CallbackData(user_data);
    update(config, Ok(()), move |b, ()| match callback {
        None => b.without_log_hook(),
        Some(cb) => b.log_hook(move |level: LogLevel, line: &str| {
            let data = &data;
            if let Ok(line) = CString::new(line) {
                // SAFETY: the caller promised cb and user_data are valid and thread-safe.
                unsafe { cb(data.0, level as u32, line.as_ptr()) };
            }
        }),
    })
}

/// Frees settings. NULL is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn hero_config_free(config: *mut hero_config) {
    // SAFETY: NULL or a hero_config from this library, freed once.
    unsafe { take(config) }
}

/// Creates a client from `config` (which stays owned by the caller and may
/// be freed right after). Checks every setting: credentials, base URL
/// (https, or http only for loopback), CA file, proxy.
///
/// On `HERO_OK`, `*client_out` owns a new client (free with
/// `hero_client_free`). On `HERO_NOT_SENT`, `*client_out` is NULL and, if
/// `error_out` is not NULL, `*error_out` owns a `hero_error` naming the
/// problem.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_new(
    config: *const hero_config,
    client_out: *mut *mut hero_client,
    error_out: *mut *mut hero_error,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or writable out-parameters (documented).
        ffi_try!(unsafe { clear_outs(client_out, error_out) });
        // SAFETY: NULL or a live hero_config.
        let config = ffi_try!(unsafe { ref_arg(config) });
        let Some(builder) = config.builder.clone() else {
            return HERO_INTERNAL_ERROR;
        };
        // SAFETY: checked or cleared out-parameters (above).
        unsafe {
            deliver(builder.build(), client_out, error_out, |client| {
                hero_client { client }
            })
        }
    })
}

/// Checks `message` against every rule (with this client's strict-checks
/// setting) without sending anything. `HERO_OK`, or `HERO_NOT_SENT` with
/// `*error_out` (if not NULL) naming the field and the rule.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_check(
    client: *const hero_client,
    message: *const hero_message,
    error_out: *mut *mut hero_error,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        if !error_out.is_null() {
            // SAFETY: non-NULL out pointer.
            unsafe { *error_out = ptr::null_mut() };
        }
        // SAFETY: NULL or live handles (documented thread rules).
        let client = ffi_try!(unsafe { ref_arg(client) });
        let message = ffi_try!(unsafe { ref_arg(message) });
        let Some(msg) = &message.msg else {
            return HERO_INTERNAL_ERROR;
        };
        match msg.validate(client.client.strict_checks()) {
            Ok(()) => HERO_OK,
            // SAFETY: error_out is NULL or writable.
            Err(e) => unsafe { report(error_out, e) },
        }
    })
}

/// Sends `message` and waits for Hero's answer (blocking, within the
/// configured deadline).
///
/// On `HERO_OK`, `*response_out` owns the reply (free with
/// `hero_response_free`). Otherwise `*response_out` is NULL and the status
/// says whether the message may have gone: `HERO_NOT_SENT`,
/// `HERO_REFUSED`, `HERO_MAY_HAVE_BEEN_SENT` (do not resend before checking
/// in Hero) or `HERO_ACCEPTED_ID_UNKNOWN` (do not resend); `*error_out`, if
/// `error_out` is not NULL, owns the details. `HERO_NULL_ARGUMENT` if
/// `client`, `message` or `response_out` is NULL (nothing sent).
///
/// Thread rules: any number of threads may send through one client at
/// once; `message` must not be modified by another thread during the call.
/// An internal error during the send is reported as
/// `HERO_MAY_HAVE_BEEN_SENT` (kind `HERO_KIND_INTERNAL`), the only safe
/// assumption.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_send(
    client: *const hero_client,
    message: *const hero_message,
    response_out: *mut *mut hero_response,
    error_out: *mut *mut hero_error,
) -> hero_status {
    send_with(client, message, None, response_out, error_out)
}

/// `hero_client_send` and `hero_client_send_cancellable`: one shell.
pub(crate) fn send_with(
    client: *const hero_client,
    message: *const hero_message,
    cancel: Option<&crate::CancelHandle>,
    response_out: *mut *mut hero_response,
    error_out: *mut *mut hero_error,
) -> hero_status {
    let status = caught(|| {
        // SAFETY: NULL or writable out-parameters (documented).
        ffi_try!(unsafe { clear_outs(response_out, error_out) });
        // SAFETY: NULL or live handles (documented thread rules).
        let client = ffi_try!(unsafe { ref_arg(client) });
        let message = ffi_try!(unsafe { ref_arg(message) });
        let Some(msg) = &message.msg else {
            return HERO_INTERNAL_ERROR;
        };
        let result = match cancel {
            None => client.client.send(msg),
            Some(cancel) => client.client.send_cancellable(msg, cancel),
        };
        // SAFETY: checked or cleared out-parameters (above).
        unsafe { deliver(result, response_out, error_out, hero_response::new) }
    });
    // A bug inside the send: the request may have gone, so say so, with an
    // error object like every other outcome.
    status.unwrap_or_else(|| {
        let e = Error::new(
            Outcome::MayHaveBeenSent,
            ErrorKind::Internal,
            "internal error during the send",
        )
        // The send had started: say an attempt was made.
        .with_attempts(1);
        // SAFETY: error_out is NULL or writable, and was cleared before the send began.
        unsafe { report(error_out, e) }
    })
}

/// How many connections the client has opened so far (TLS handshakes, for
/// https). With keep-alive this stays far below the number of sends.
/// 0 if `client` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_connections_opened(client: *const hero_client) -> u64 {
    // SAFETY: NULL or a live hero_client.
    unsafe { client.as_ref() }.map_or(0, |c| c.client.connections_opened())
}

/// Frees a client and its connections. NULL is ignored. No other thread may
/// be using the client.
///
/// Wiped (overwritten with zeros) before the memory is freed: the client's
/// copy of the API key (each request's `x-api-key` header shares it rather
/// than copying it), and the library's request buffers, which held request
/// heads with the key and message bodies: each connection's output buffer
/// and send buffer after every write, and its input buffer when the
/// connection is closed. Not reachable, so not wiped: buffers inside the TLS
/// library (rustls) over https, the operating system's socket buffers, and
/// any copy the caller made (wipe your own; `hero_config_free` wipes the
/// config's copy of the key).
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_free(client: *mut hero_client) {
    // SAFETY: NULL or a hero_client from this library, freed once.
    unsafe { take(client) }
}
