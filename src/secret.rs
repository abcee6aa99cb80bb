//! The API key, kept out of every text and wiped from memory on drop.

use std::fmt;
use std::sync::atomic::{Ordering, compiler_fence};

/// A credential whose bytes are overwritten with zeros when dropped.
///
/// Copies made by the HTTP stack while a request is written live only as
/// long as that request; this is the long-lived copy.
pub(crate) struct Secret(Box<[u8]>);

impl Secret {
    pub(crate) fn new(value: &str) -> Self {
        Secret(value.as_bytes().into())
    }

    /// The value; validated as printable ASCII before use.
    pub(crate) fn expose(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites `bytes` with zeros in a way the optimiser cannot remove.
fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference into the slice.
        // Volatile so the compiler cannot drop the "dead" stores.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    compiler_fence(Ordering::SeqCst);
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_wipes_the_bytes_and_debug_hides_them() {
        let mut s = Secret::new("key-4f2a");
        assert_eq!(s.expose(), "key-4f2a");
        assert_eq!(format!("{s:?}"), "<redacted>");
        // Run Drop's body on the live buffer, then look at it before it is freed.
        wipe(&mut s.0);
        assert!(s.0.iter().all(|&b| b == 0));
        assert_eq!(s.0.len(), 8);
    }
}
