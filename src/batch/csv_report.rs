//! `--report FILE.csv`: the input's rows with what became of each, for the
//! practice's records. It holds the input's columns and nothing more about
//! the patient (outcome, Hero's message id, and the reason when not sent).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::input::Table;
use super::report::RowReport;
use crate::error::Error;

/// The columns added after the input's own.
pub(crate) const ADDED: [&str; 3] = ["outcome", "message_id", "reason"];

/// A report file, created before the first request so a path that cannot
/// be written stops the batch while nothing has gone.
pub(super) struct Writer {
    path: PathBuf,
    file: File,
}

fn report_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::config(format!("report file {}: {what}", path.display()))
}

impl Writer {
    pub(super) fn create(path: &Path, table: &Table) -> Result<Writer, Error> {
        if table.csv_bom.is_none() {
            return Err(report_error(path, "a CSV report needs a CSV batch file"));
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Patient data: the owner only, from the moment it exists.
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(|e| report_error(path, format_args!("cannot create: {}", e.kind())))?;
        #[cfg(unix)]
        {
            // An existing file keeps its mode on open: narrow it too.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| report_error(path, format_args!("cannot restrict: {}", e.kind())))?;
        }
        Ok(Writer {
            path: path.to_owned(),
            file,
        })
    }

    /// Writes every row in input order (UTF-8, with a byte order mark when
    /// the input had one), and syncs it.
    pub(super) fn finish(self, table: &Table, reports: &[Option<RowReport>]) -> Result<(), Error> {
        let fail =
            |e: &dyn std::fmt::Display| report_error(&self.path, format_args!("cannot write: {e}"));
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        let header = table.headers.iter().map(String::as_str).chain(ADDED);
        out.write_record(header).map_err(|e| fail(&e))?;
        for (i, row) in table.rows.iter().enumerate() {
            let cells = table.headers.iter().map(|h| {
                row.as_ref()
                    .ok()
                    .and_then(|r| r.get(h))
                    .map_or("", String::as_str)
            });
            let report = reports.get(i).and_then(Option::as_ref);
            let outcome = report.map_or("not_reported", |r| r.outcome.as_str());
            let id = report.and_then(|r| r.message_id.as_deref()).unwrap_or("");
            let reason = match report {
                Some(r) => match (&r.error, &r.login_url) {
                    (_, Some(url)) => format!("the patient must verify their identity at {url}"),
                    (Some(e), None) => e.clone(),
                    (None, None) => String::new(),
                },
                None => String::new(),
            };
            let record = cells.chain([outcome, id, reason.as_str()]);
            out.write_record(record).map_err(|e| fail(&e))?;
        }
        let bytes = out.into_inner().map_err(|e| fail(&e))?;
        let mut file = &self.file;
        if table.csv_bom == Some(true) {
            file.write_all(b"\xef\xbb\xbf").map_err(|e| fail(&e))?;
        }
        file.write_all(&bytes).map_err(|e| fail(&e))?;
        file.sync_all().map_err(|e| fail(&e))
    }
}
