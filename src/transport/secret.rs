//! The API key, kept out of every text and wiped from memory on drop.

use std::fmt;
use std::sync::atomic::{Ordering, compiler_fence};

use bytes::Bytes;
use ureq::http::HeaderValue;
use ureq::http::header::InvalidHeaderValue;

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

/// The secret as a request header value (`x-api-key`) on its own storage:
/// clones of the value, one per request, share that storage rather than
/// copying it, and the bytes are wiped when the last clone is dropped.
/// Marked sensitive, so its `Debug` output hides it.
pub(crate) fn header_value(secret: Secret) -> Result<HeaderValue, InvalidHeaderValue> {
    let mut value = HeaderValue::from_maybe_shared(Bytes::from_owner(secret))?;
    value.set_sensitive(true);
    Ok(value)
}

impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
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

/// Overwrites `bytes` with zeros in a way the optimiser cannot remove, even
/// right before the memory is freed: one `memset` (cheap on the 128 KiB
/// transport buffers), then the buffer escapes into an opaque barrier that
/// may read it, so the stores cannot be treated as dead.
pub(crate) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(&mut *bytes);
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
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU8, AtomicUsize};

    /// The unit tests' allocator: the system one, which also copies out the
    /// bytes of one watched block at the moment it is freed, so a test can
    /// see what a drop left in memory.
    struct Watching;

    static WATCHED: AtomicUsize = AtomicUsize::new(0);
    static FREED_LEN: AtomicUsize = AtomicUsize::new(0);
    static FREED: [AtomicU8; 64] = [const { AtomicU8::new(0xAA) }; 64];

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl GlobalAlloc for Watching {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if ptr as usize == WATCHED.load(Ordering::SeqCst) && layout.size() <= FREED.len() {
                for (i, slot) in FREED.iter().enumerate().take(layout.size()) {
                    // SAFETY: `ptr` is live for `layout.size()` bytes until freed below.
                    slot.store(unsafe { *ptr.add(i) }, Ordering::SeqCst);
                }
                FREED_LEN.store(layout.size(), Ordering::SeqCst);
                WATCHED.store(0, Ordering::SeqCst);
            }
            // SAFETY: the caller's contract, passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Watching = Watching;

    /// What the watched block held when it was freed (`None`: not freed yet).
    fn freed_bytes() -> Option<Vec<u8>> {
        (WATCHED.load(Ordering::SeqCst) == 0).then(|| {
            let len = FREED_LEN.load(Ordering::SeqCst);
            FREED[..len]
                .iter()
                .map(|b| b.load(Ordering::SeqCst))
                .collect()
        })
    }

    // One test watches the allocator at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn drop_wipes_the_bytes_and_debug_hides_them() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        let s = Secret::new("key-4f2a9c");
        assert_eq!(s.expose(), "key-4f2a9c");
        assert_eq!(format!("{s:?}"), "<redacted>");
        WATCHED.store(s.0.as_ptr() as usize, Ordering::SeqCst);
        drop(s);
        assert_eq!(freed_bytes(), Some(vec![0; 10]), "freed as zeros");
    }

    #[test]
    fn the_header_value_shares_the_secret_and_is_wiped_with_it() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        let key = Secret::new("key-77b0e1");
        let storage = key.0.as_ptr();
        let value = header_value(key).unwrap();
        assert_eq!(format!("{value:?}"), "Sensitive");
        let request = value.clone();
        assert_eq!(request.as_bytes(), b"key-77b0e1");
        assert_eq!(request.as_bytes().as_ptr(), storage, "no copy made");
        WATCHED.store(storage as usize, Ordering::SeqCst);
        drop(value);
        // A request still holds it: still the key, not freed.
        assert_eq!(freed_bytes(), None);
        assert_eq!(request.as_bytes(), b"key-77b0e1");
        drop(request);
        assert_eq!(freed_bytes(), Some(vec![0; 10]), "freed as zeros");
    }
}
