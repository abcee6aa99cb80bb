//! The C ABI: `libherohealth`, declared in `include/herohealth.h`.
//!
//! Every exported function is a thin shell: check pointers and UTF-8, run
//! the call inside one panic-boundary helper so no Rust panic crosses into C, and call the
//! Rust core. Rules live in the core only.
//!
//! Naming follows one prefix, `hero_`; handles are opaque; every fallible
//! function returns a [`hero_status`]; every `_new` has a `_free` that
//! accepts NULL.

// C callers see these as plain functions: `unsafe` means nothing to them, so the
// pointer contracts are written in each doc comment instead.
#![allow(non_camel_case_types, clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

mod batch;
mod cancel;
mod client;
mod error;
mod journal;
mod message;
mod patient;
mod response;
mod row;
mod salvage;
mod timing;

pub use batch::*;
pub use cancel::*;
pub use client::*;
pub use error::*;
pub use journal::*;
pub use message::*;
pub use patient::*;
pub use response::*;
pub use row::*;
pub use salvage::*;
pub use timing::*;

/// Major version of this library (semantic versioning).
pub const HERO_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const HERO_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const HERO_VERSION_PATCH: u32 = 0;

/// Result of every fallible `hero_` function.
///
/// `HERO_OK` is success. The next four say, after a send, whether the message
/// may have reached the patient; a `hero_error` then carries the details.
/// The rest report misuse of the API: nothing was done.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hero_status {
    /// Success.
    HERO_OK = 0,
    /// The message certainly did not go (invalid input, configuration,
    /// DNS, connect or TLS failure). Fix the cause; resending is safe.
    HERO_NOT_SENT = 1,
    /// Hero answered 3xx (but 303) or 4xx (429 included): not processed. Resending is
    /// safe once the cause is fixed (for 429, after `hero_error_retry_after_ms`).
    HERO_REFUSED = 2,
    /// The request went out and no clear answer came back (5xx, 303 See
    /// Other, timeout, connection lost). Do NOT resend before checking in Hero.
    HERO_MAY_HAVE_BEEN_SENT = 3,
    /// Hero accepted the message (2xx) but its reply (head or body) was
    /// unreadable, so the message id is unknown. Do NOT resend.
    HERO_ACCEPTED_ID_UNKNOWN = 4,
    /// A required pointer argument was NULL.
    HERO_NULL_ARGUMENT = 10,
    /// A string argument was not valid UTF-8.
    HERO_INVALID_UTF8 = 11,
    /// An argument is out of range (for example an unknown enum value or
    /// type name).
    HERO_INVALID_ARGUMENT = 12,
    /// An internal error was caught at the library boundary (a bug).
    HERO_INTERNAL_ERROR = 13,
}

pub(crate) use hero_status::*;

/// Runs `f`, turning a panic into `on_panic`: a Rust panic must never
/// unwind into C or abort the host program.
pub(crate) fn guard(on_panic: hero_status, f: impl FnOnce() -> hero_status) -> hero_status {
    caught(f).unwrap_or(on_panic)
}

/// Runs `f`; `None` if it panicked (the panic stops here).
pub(crate) fn caught<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// Applies one by-value builder step to the builder a handle holds, once
/// `value` is known good (the handle is checked first). The builder sits in
/// an `Option` only so it can be moved out and back; it is `None` only if a
/// panic interrupted an earlier step.
pub(crate) fn update<H, T, V>(
    handle: *mut H,
    slot: impl FnOnce(&mut H) -> &mut Option<T>,
    value: Result<V, hero_status>,
    apply: impl FnOnce(T, V) -> T,
) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a live handle used by one thread (documented on each setter).
        let handle = ffi_try!(unsafe { mut_arg(handle) });
        let value = ffi_try!(value);
        let slot = slot(handle);
        let Some(builder) = slot.take() else {
            return HERO_INTERNAL_ERROR;
        };
        *slot = Some(apply(builder, value));
        HERO_OK
    })
}

/// Borrows a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char) -> Result<&'a str, hero_status> {
    if p.is_null() {
        return Err(HERO_NULL_ARGUMENT);
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| HERO_INVALID_UTF8)
}

/// Borrows a handle argument.
///
/// # Safety
/// `p` is NULL or a live handle of this type, not mutated elsewhere meanwhile.
pub(crate) unsafe fn ref_arg<'a, T>(p: *const T) -> Result<&'a T, hero_status> {
    // SAFETY: per the caller's contract.
    unsafe { p.as_ref() }.ok_or(HERO_NULL_ARGUMENT)
}

/// Borrows a handle argument mutably.
///
/// # Safety
/// `p` is NULL or a live handle of this type used by this thread only.
pub(crate) unsafe fn mut_arg<'a, T>(p: *mut T) -> Result<&'a mut T, hero_status> {
    // SAFETY: per the caller's contract.
    unsafe { p.as_mut() }.ok_or(HERO_NULL_ARGUMENT)
}

/// Unwraps a `Result<_, hero_status>` or returns the status.
macro_rules! ffi_try {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use ffi_try;

/// Checks the required out-parameter `out` and sets it, and the optional
/// `error_out`, to NULL: both are then NULL on every failure path.
///
/// # Safety
/// `out` and `error_out` are each NULL or valid to write.
pub(crate) unsafe fn clear_outs<T>(
    out: *mut *mut T,
    error_out: *mut *mut hero_error,
) -> Result<(), hero_status> {
    // SAFETY: each is checked non-NULL; writable per the caller's contract.
    unsafe {
        if !error_out.is_null() {
            *error_out = std::ptr::null_mut();
        }
        if out.is_null() {
            return Err(HERO_NULL_ARGUMENT);
        }
        *out = std::ptr::null_mut();
    }
    Ok(())
}

/// Gives ownership of `value` to C through `out`.
///
/// # Safety
/// `out` is a valid pointer to write to.
pub(crate) unsafe fn give<T>(out: *mut *mut T, value: T) {
    // SAFETY: per the caller's contract.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Frees a handle made by [`give`]; NULL is ignored.
///
/// # Safety
/// `p` is NULL or came from [`give`] with the same `T` and is not used again.
pub(crate) unsafe fn take<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per the caller's contract.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// The library version as a static string, e.g. `"0.1.0"`.
///
/// Never NULL; valid for the life of the program; any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A short static description of a `hero_status` value, e.g. for
/// `HERO_NULL_ARGUMENT` when no `hero_error` exists. Takes an `int` so any
/// value is safe to pass; unknown values get `"unknown status"`.
///
/// Never NULL; valid for the life of the program; any thread.
#[unsafe(no_mangle)]
pub extern "C" fn hero_status_text(status: i32) -> *const c_char {
    let text: &'static str = match status {
        0 => "ok\0",
        1 => "not sent\0",
        2 => "refused by the server\0",
        3 => "may have been sent: check in Hero before resending\0",
        4 => "accepted, message id unknown: do not resend\0",
        10 => "a required pointer argument was NULL\0",
        11 => "a string argument was not valid UTF-8\0",
        12 => "an argument is out of range\0",
        13 => "internal error\0",
        _ => "unknown status\0",
    };
    text.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_macros_match_the_crate() {
        assert_eq!(
            super::HERO_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            super::HERO_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            super::HERO_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }

    #[test]
    fn a_panic_stops_at_the_boundary() {
        use super::*;
        // (The panic messages this prints are expected.)
        assert_eq!(
            guard(HERO_INTERNAL_ERROR, || panic!("bug")),
            HERO_INTERNAL_ERROR
        );
        assert_eq!(caught(|| -> u8 { panic!("bug") }), None);
        assert_eq!(guard(HERO_INTERNAL_ERROR, || HERO_OK), HERO_OK);
    }

    #[test]
    fn every_status_has_its_own_text() {
        use super::*;
        // SAFETY: hero_status_text returns a static NUL-terminated string.
        let text = |s: i32| {
            unsafe { std::ffi::CStr::from_ptr(hero_status_text(s)) }
                .to_str()
                .unwrap()
        };
        let all = [
            HERO_OK,
            HERO_NOT_SENT,
            HERO_REFUSED,
            HERO_MAY_HAVE_BEEN_SENT,
            HERO_ACCEPTED_ID_UNKNOWN,
            HERO_NULL_ARGUMENT,
            HERO_INVALID_UTF8,
            HERO_INVALID_ARGUMENT,
            HERO_INTERNAL_ERROR,
        ];
        let mut seen: Vec<&str> = all.iter().map(|s| text(*s as i32)).collect();
        assert!(!seen.contains(&"unknown status"));
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), all.len());
        assert_eq!(text(-1), "unknown status");
        assert_eq!(
            text(HERO_MAY_HAVE_BEEN_SENT as i32),
            "may have been sent: check in Hero before resending"
        );
    }
}
