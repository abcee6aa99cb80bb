//! Key hashing and checks, shared by the journal and the batch runner.

use crate::error::Error;

/// Longest key accepted, in bytes: keys are identifiers, not documents.
const KEY_MAX: usize = 200;

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    // By table, not `format!` per byte: this runs for every row of a batch.
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        hex.push(DIGITS[usize::from(b >> 4)] as char);
        hex.push(DIGITS[usize::from(b & 15)] as char);
    }
    hex
}

/// The key of a request body, for sends without a key of their own: the
/// same body always gets the same key, so a rerun finds what went.
pub(crate) fn key_for_body(body: &[u8]) -> String {
    format!("auto-{}", &sha256_hex(body)[..32])
}

/// A caller's key: non-empty, at most 200 bytes, no control characters.
pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::invalid("key", "must not be empty"));
    }
    if key.len() > KEY_MAX {
        return Err(Error::invalid("key", "must be at most 200 bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::invalid("key", "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            key_for_body(b"abc"),
            "auto-ba7816bf8f01cfea414140de5dae2223"
        );
    }
}
