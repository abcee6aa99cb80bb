//! `hero_cancel`: cancelling a send in flight from another thread, a signal
//! handler or a Windows console control handler.

use super::client::{hero_client, send_with};
use super::error::hero_error;
use super::message::hero_message;
use super::patient::{find_and_send_with, find_with, hero_patient, hero_patient_query};
use super::response::hero_response;
use super::{
    HERO_INTERNAL_ERROR, HERO_OK, caught, clear_outs, ffi_try, give, guard, hero_status, take,
};
use crate::CancelHandle;

/// A cancel handle (opaque). Thread-safe: any thread may trigger it while
/// any number of sends use it.
pub struct hero_cancel {
    handle: CancelHandle,
}

/// Creates a cancel handle, not yet triggered.
///
/// On `HERO_OK`, `*cancel_out` owns it: free it with `hero_cancel_free`
/// once no send uses it and no signal handler can trigger it. Otherwise
/// `*cancel_out` is NULL (when `cancel_out` is not NULL).
/// `HERO_NULL_ARGUMENT` if `cancel_out` is NULL; `HERO_INTERNAL_ERROR` if
/// the system has no file descriptor left for the handle's wake-up pipe.
#[unsafe(no_mangle)]
pub extern "C" fn hero_cancel_new(cancel_out: *mut *mut hero_cancel) -> hero_status {
    guard(HERO_INTERNAL_ERROR, || {
        // SAFETY: NULL or a writable out-parameter (documented).
        ffi_try!(unsafe { clear_outs(cancel_out, std::ptr::null_mut()) });
        let Ok(handle) = CancelHandle::new() else {
            return HERO_INTERNAL_ERROR;
        };
        // SAFETY: checked non-NULL above.
        unsafe { give(cancel_out, hero_cancel { handle }) };
        HERO_OK
    })
}

/// Cancels every send using `cancel`, now and later: a send not yet past
/// its request returns `HERO_NOT_SENT`, one whose request had left
/// `HERO_MAY_HAVE_BEEN_SENT`, both with kind `HERO_KIND_CANCELLED`.
/// A triggered handle stays triggered. NULL is ignored.
///
/// Async-signal-safe (atomics, one `write`, one `shutdown`): may be called
/// from a signal handler, a console control handler or any thread, at any
/// time while `cancel` is alive.
#[unsafe(no_mangle)]
pub extern "C" fn hero_cancel_trigger(cancel: *const hero_cancel) {
    // No allocation on this path, panicking or not: nothing here can panic.
    let _ = caught(|| {
        // SAFETY: NULL or a live handle (documented).
        if let Some(c) = unsafe { cancel.as_ref() } {
            c.handle.trigger();
        }
    });
}

/// Frees a cancel handle. NULL is ignored. No send may be using it, and no
/// signal handler may trigger it, from this call on.
#[unsafe(no_mangle)]
pub extern "C" fn hero_cancel_free(cancel: *mut hero_cancel) {
    // SAFETY: NULL or a hero_cancel from this library, freed once.
    unsafe { take(cancel) }
}

/// As `hero_client_send` (same statuses and out-parameters), ending
/// promptly once `cancel` is triggered: `HERO_NOT_SENT` with kind
/// `HERO_KIND_CANCELLED` if no request byte had been accepted by the
/// kernel (triggered before the call, or during the resolve, connect, TLS,
/// a proxy tunnel or a wait after a 429, a backoff or the rate gate), else
/// `HERO_MAY_HAVE_BEEN_SENT` with that kind. A cancelled send is never
/// retried, and its connection is not reused.
///
/// `cancel` must stay alive for the call; NULL `cancel` sends as
/// `hero_client_send`. Thread rules as `hero_client_send`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_send_cancellable(
    client: *const hero_client,
    message: *const hero_message,
    cancel: *const hero_cancel,
    response_out: *mut *mut hero_response,
    error_out: *mut *mut hero_error,
) -> hero_status {
    // SAFETY: NULL or a live handle (documented).
    let cancel = unsafe { cancel.as_ref() }.map(|c| &c.handle);
    send_with(client, message, cancel, response_out, error_out)
}

/// As `hero_client_find_patient` (same statuses and out-parameters),
/// ending promptly once `cancel` is triggered: then `HERO_NOT_SENT` with
/// kind `HERO_KIND_CANCELLED` whenever it stops, as a lookup sends no
/// message. Never retried.
///
/// `cancel` must stay alive for the call; NULL `cancel` looks up as
/// `hero_client_find_patient`. Thread rules as `hero_client_find_patient`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_find_patient_cancellable(
    client: *const hero_client,
    query: *const hero_patient_query,
    cancel: *const hero_cancel,
    patient_out: *mut *mut hero_patient,
    error_out: *mut *mut hero_error,
) -> hero_status {
    // SAFETY: NULL or a live handle (documented).
    let cancel = unsafe { cancel.as_ref() }.map(|c| &c.handle);
    find_with(client, query, cancel, patient_out, error_out)
}

/// As `hero_client_find_and_send` (same statuses and out-parameters), both
/// the lookup and the send ending promptly once `cancel` is triggered: a
/// cancelled lookup is `HERO_NOT_SENT` (and `*patient_out` NULL); a
/// cancelled send as for `hero_client_send_cancellable`.
///
/// `cancel` must stay alive for the call; NULL `cancel` works as
/// `hero_client_find_and_send`. Thread rules as `hero_client_send`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_client_find_and_send_cancellable(
    client: *const hero_client,
    query: *const hero_patient_query,
    message: *const hero_message,
    cancel: *const hero_cancel,
    patient_out: *mut *mut hero_patient,
    response_out: *mut *mut hero_response,
    error_out: *mut *mut hero_error,
) -> hero_status {
    // SAFETY: NULL or a live handle (documented).
    let cancel = unsafe { cancel.as_ref() }.map(|c| &c.handle);
    find_and_send_with(
        client,
        query,
        message,
        cancel,
        patient_out,
        response_out,
        error_out,
    )
}
