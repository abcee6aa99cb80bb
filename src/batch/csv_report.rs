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
const ADDED: [&str; 3] = ["outcome", "message_id", "reason"];

/// The added columns' headers: each as in [`ADDED`], or, when an input
/// header already reads as it (headers match ignoring case, spaces, hyphens
/// and underscores), prefixed with `hero_` until none does, so a practice's
/// own `Outcome` column is kept and never mistaken for Hero's.
fn added_headers(input: &[String]) -> [String; 3] {
    let taken = |name: &str| {
        let form = super::columns::matching_form(name);
        input
            .iter()
            .any(|h| super::columns::matching_form(h) == form)
    };
    ADDED.map(|name| {
        let mut header = name.to_owned();
        while taken(&header) {
            header.insert_str(0, "hero_");
        }
        header
    })
}

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
        let added = added_headers(&table.headers);
        let header = table
            .headers
            .iter()
            .map(String::as_str)
            .chain(added.iter().map(String::as_str));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[&str]) -> Vec<String> {
        list.iter().map(|h| (*h).to_owned()).collect()
    }

    #[test]
    fn added_columns_never_take_an_input_columns_name() {
        assert_eq!(
            added_headers(&headers(&["NHS Number", "Mobile"])),
            ["outcome", "message_id", "reason"]
        );
        // Matched as headers are: "Message ID" reads as message_id.
        assert_eq!(
            added_headers(&headers(&["Outcome", "Message ID", "reason"])),
            ["hero_outcome", "hero_message_id", "hero_reason"]
        );
        assert_eq!(
            added_headers(&headers(&["outcome", "Hero Outcome", "hero_hero_outcome"])),
            ["hero_hero_hero_outcome", "message_id", "reason"]
        );
    }
}
