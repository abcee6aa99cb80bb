//! The log hook: attempts, retries, statuses and timings — never the key,
//! the message, the patient id or contact details.

use std::fmt;
use std::sync::Arc;

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// A send failed.
    Error = 1,
    /// A retry, or an answer that needs attention.
    Warn = 2,
    /// One line per attempt and per result.
    Info = 3,
    /// Connections and timings.
    Debug = 4,
}

/// A function that receives log lines (see [`ClientBuilder::log_hook`](crate::ClientBuilder::log_hook)).
pub(crate) type Hook = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) struct Logger(Option<Hook>);

impl Logger {
    pub(crate) fn new(hook: Option<Hook>) -> Self {
        Logger(hook)
    }

    /// Whether a hook is set: lines whose arguments cost something to
    /// work out are skipped without one.
    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Formats only when a hook is set, so logging costs nothing otherwise.
    pub(crate) fn log(&self, level: LogLevel, args: fmt::Arguments<'_>) {
        if let Some(hook) = &self.0 {
            hook(level, &args.to_string());
        }
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Logger(set)"
        } else {
            "Logger(none)"
        })
    }
}
