//! Small fixtures: names unique across tests and processes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 16 hex digits, different on every call and in every process.
pub fn unique_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

/// A valid message to patient `4242` ("Hello", Hero type).
pub fn hello() -> herohealth::SendMessage {
    hello_to("4242")
}

/// A valid message to `patient_id` (the mock's reserved ids pick a scenario).
pub fn hello_to(patient_id: &str) -> herohealth::SendMessage {
    herohealth::SendMessage::new(patient_id, herohealth::MessageType::Hero, "Hello")
}
