//! Stopping a batch: the token a caller (or a signal handler) sets, and the
//! check every send makes before its next request starts. Shared by the
//! batch runner and the send journal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, ErrorKind, Outcome};

/// Stops a running batch from another thread or a signal handler: no new
/// row starts; rows in flight finish and are recorded, but start no further
/// request (no retry after a 429, none still waiting at the rate-limit gate).
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<AtomicBool>);

impl StopToken {
    /// A token not yet stopped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the batch to stop. Only an atomic store: safe in a signal handler.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// Ends a send, before its next request starts, once `stop` is set.
pub(crate) fn check_not_stopped(stop: Option<&AtomicBool>) -> Result<(), Error> {
    if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
        // Reported in the row's line only (its kind is not shown).
        return Err(Error::new(
            Outcome::NotSent,
            ErrorKind::Config,
            "the batch was stopped before this row's next request",
        ));
    }
    Ok(())
}
