//! Reading a batch file: CSV with a header row, or JSON Lines.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Error;

/// A data row: column name to value, or why the row could not be read.
pub(super) type Row = Result<HashMap<String, String>, String>;

/// A whole batch file: its column names (a CSV's header row, or a JSON
/// Lines file's keys in order of first use) and its data rows.
pub(super) struct Table {
    pub(super) headers: Vec<String>,
    pub(super) rows: Vec<Row>,
    /// The file is CSV (not JSON Lines) and starts with a byte order mark.
    pub(super) csv_bom: Option<bool>,
}

fn file_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::config(format!("batch file {}: {what}", path.display()))
}

/// Every data row of a CSV (header row first) or JSON Lines file, chosen
/// by extension.
pub(super) fn read_rows(path: &Path) -> Result<Table, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let data = std::fs::read(path)
        .map_err(|e| file_error(path, format_args!("cannot read: {}", e.kind())))?;
    match ext.as_deref() {
        Some("csv") => read_csv(path, &data),
        Some("jsonl" | "ndjson") => {
            let rows = read_json_lines(&data);
            let mut headers: Vec<String> = Vec::new();
            for row in rows.iter().flatten() {
                let mut names: Vec<&String> = row.keys().filter(|k| !headers.contains(k)).collect();
                names.sort();
                headers.extend(names.into_iter().cloned());
            }
            Ok(Table {
                headers,
                rows,
                csv_bom: None,
            })
        }
        _ => Err(file_error(
            path,
            "unknown file type: name it .csv (with a header row) or .jsonl",
        )),
    }
}

fn read_csv(path: &Path, data: &[u8]) -> Result<Table, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| file_error(path, "the header row is not readable UTF-8 CSV"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    for (i, h) in header.iter().enumerate() {
        // Unnamed columns (a spreadsheet's empty ones) are ignored, however many.
        if !h.is_empty() && header[..i].contains(h) {
            return Err(file_error(path, format_args!("column {h:?} appears twice")));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        // A row with nothing in it (a spreadsheet's once-touched row) is no
        // message, like a blank line.
        if let Ok(r) = &record
            && r.iter().all(|cell| cell.trim().is_empty())
        {
            continue;
        }
        rows.push(match record {
            Err(_) => Err("the row is not readable UTF-8 CSV".to_owned()),
            Ok(r) if r.len() != header.len() => Err(format!(
                "the row has {} cells; the header has {}",
                r.len(),
                header.len()
            )),
            Ok(r) => Ok(header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .filter(|(name, _)| !name.is_empty())
                .collect()),
        });
    }
    Ok(Table {
        headers: header,
        rows,
        csv_bom: Some(data.starts_with(b"\xef\xbb\xbf")),
    })
}

fn read_json_lines(data: &[u8]) -> Vec<Row> {
    // Windows tools often start a UTF-8 file with a byte order mark (the
    // CSV reader skips it too).
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    data.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| {
            let object = match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(o)) => o,
                _ => return Err("the line is not a JSON object".to_owned()),
            };
            let mut row = HashMap::new();
            for (name, value) in object {
                let text = match value {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(format!(
                            "the value of {name:?} must be text, a number or true/false"
                        ));
                    }
                };
                row.insert(name, text);
            }
            Ok(row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_values_become_text() {
        let rows = read_json_lines(
            b"{\"patient_id\":42,\"write_to_record\":true,\"task_id\":null}\n\n[1]\n{\"a\":{}}\n",
        );
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first["patient_id"], "42");
        assert_eq!(first["write_to_record"], "true");
        assert!(!first.contains_key("task_id"));
        assert!(rows[1].is_err() && rows[2].is_err());
    }
}
