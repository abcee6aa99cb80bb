//! The journal's errors, and what a failed disk operation is called.

use std::fmt;
use std::io;
use std::path::Path;

use crate::error::{Error, ErrorKind, Outcome};

pub(super) fn journal_error(path: &Path, what: impl fmt::Display) -> Error {
    Error::new(
        Outcome::NotSent,
        ErrorKind::Journal,
        format!("journal {}: {what}", path.display()),
    )
}

/// What failed, in the words an operator fixes it by.
pub(super) fn io_cause(e: &io::Error) -> String {
    let named = match e.kind() {
        io::ErrorKind::StorageFull => "no space left on device",
        io::ErrorKind::QuotaExceeded => "disk quota exceeded",
        io::ErrorKind::ReadOnlyFilesystem => "read-only file system",
        io::ErrorKind::WriteZero => "the disk took no more bytes (a short write)",
        // The operating system's own words (EIO is "Input/output error").
        _ => return e.to_string(),
    };
    named.to_owned()
}
