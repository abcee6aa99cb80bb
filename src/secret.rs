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
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference into our own buffer.
            // Volatile so the compiler cannot drop the "dead" stores.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
        compiler_fence(Ordering::SeqCst);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
