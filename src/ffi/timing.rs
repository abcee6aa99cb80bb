//! `hero_*_timing_us`: where a send's time went, on its reply or its error.

use super::error::hero_error;
use super::patient::hero_patient;
use super::response::hero_response;
use crate::Timings;

/// Which phase `hero_response_timing_us` / `hero_error_timing_us` report.
/// A plain integer: any value C passes is accepted (unknown ones read 0).
pub type hero_timing = u32;
/// The host name was resolved (at once for an IP literal or a cached answer).
pub const HERO_TIMING_RESOLVE: hero_timing = 0;
/// The TCP connection was open (to the proxy, through one); 0 on a reused connection.
pub const HERO_TIMING_CONNECT: hero_timing = 1;
/// The TLS handshake was done; 0 over `http://` or on a reused connection.
pub const HERO_TIMING_TLS: hero_timing = 2;
/// The first byte of the answer arrived; 0 when none did.
pub const HERO_TIMING_FIRST_BYTE: hero_timing = 3;
/// The call returned.
pub const HERO_TIMING_TOTAL: hero_timing = 4;

fn micros(t: &Timings, which: hero_timing) -> u64 {
    let d = match which {
        HERO_TIMING_RESOLVE => t.resolve(),
        HERO_TIMING_CONNECT => t.connect(),
        HERO_TIMING_TLS => t.tls(),
        HERO_TIMING_FIRST_BYTE => t.first_byte(),
        HERO_TIMING_TOTAL => t.total(),
        _ => return 0,
    };
    d.as_micros().min(u64::MAX as u128) as u64
}

/// Microseconds from the send's start to the end of phase `which`
/// (`HERO_TIMING_*`) of its last attempt, as curl counts them: 0 for a
/// phase that did not happen, an unknown `which`, or a NULL `response`.
/// Any thread may read a response.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_timing_us(
    response: *const hero_response,
    which: hero_timing,
) -> u64 {
    // SAFETY: NULL or a live hero_response.
    unsafe { response.as_ref() }.map_or(0, |r| micros(r.reply.timings(), which))
}

/// As `hero_response_timing_us`, for a failed send: the phases it reached.
/// 0 for a NULL `error`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_error_timing_us(error: *const hero_error, which: hero_timing) -> u64 {
    // SAFETY: NULL or a live hero_error.
    unsafe { error.as_ref() }.map_or(0, |e| micros(e.error.timings(), which))
}

/// 1 if the reply came on a kept-alive connection opened by an earlier
/// send, 0 if on a new one (or `response` is NULL).
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_connection_reused(response: *const hero_response) -> i32 {
    // SAFETY: NULL or a live hero_response.
    unsafe { response.as_ref() }.map_or(0, |r| r.reply.timings().connection_reused() as i32)
}

/// How many HTTP attempts the accepted send took (1 unless a connect
/// failed or a 429 was waited out first); 0 if `response` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn hero_response_attempts(response: *const hero_response) -> u32 {
    // SAFETY: NULL or a live hero_response.
    unsafe { response.as_ref() }.map_or(0, |r| r.reply.timings().attempts())
}

/// As `hero_response_timing_us`, for a lookup's answer (from
/// `hero_client_find_patient` or its cancellable form; all 0 on the answer
/// of a lookup and send, whose reply holds the times). 0 for a NULL `patient`.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_timing_us(patient: *const hero_patient, which: hero_timing) -> u64 {
    // SAFETY: NULL or a live hero_patient.
    unsafe { patient.as_ref() }.map_or(0, |p| micros(&p.timings, which))
}

/// As `hero_response_connection_reused`, for a lookup's answer.
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_connection_reused(patient: *const hero_patient) -> i32 {
    // SAFETY: NULL or a live hero_patient.
    unsafe { patient.as_ref() }.map_or(0, |p| p.timings.connection_reused() as i32)
}

/// As `hero_response_attempts`, for a lookup's answer (0 on the answer of
/// a lookup and send).
#[unsafe(no_mangle)]
pub extern "C" fn hero_patient_attempts(patient: *const hero_patient) -> u32 {
    // SAFETY: NULL or a live hero_patient.
    unsafe { patient.as_ref() }.map_or(0, |p| p.timings.attempts())
}
