//! One journal record: what it holds, and its line on disk.
//!
//! A line is `SEQ DURABLE JSON CRC` and a newline: `SEQ` numbers the
//! records of the file from 1 with no gaps, `DURABLE` is the last record
//! the writer knew to be on disk (flushed) when it wrote this one, `JSON`
//! the record, and `CRC` the CRC-32C (8 lowercase hex digits) of every byte
//! of the line before the space in front of it. Lines stay readable text.
//! Journals written before the checks hold bare `JSON` lines; they still
//! read, but prove less (see `recover`).

use std::io::Write;

use serde::{Deserialize, Serialize};

/// One line of the journal file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub(super) enum Record {
    Attempt {
        key: String,
        patient_id: String,
        body_sha256: String,
        attempt: u32,
        at_ms: u64,
    },
    Outcome {
        key: String,
        outcome: RecordOutcome,
        http_status: Option<u16>,
        message_id: Option<String>,
        at_ms: u64,
    },
    Resolved {
        key: String,
        resolution: Resolution,
        at_ms: u64,
    },
}

/// The records a send writes, borrowing what they hold: the same JSON as
/// [`Record`], without copying the key, patient id and hash for each one.
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub(super) enum SendRecord<'a> {
    Attempt {
        key: &'a str,
        patient_id: &'a str,
        body_sha256: &'a str,
        attempt: u32,
        at_ms: u64,
    },
    Outcome {
        key: &'a str,
        outcome: RecordOutcome,
        http_status: Option<u16>,
        message_id: Option<&'a str>,
        at_ms: u64,
    },
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "snake_case")]
pub(super) enum RecordOutcome {
    Sent,
    NotSent,
    Refused,
    MayHaveBeenSent,
    AcceptedIdUnknown,
}

/// How a flagged key was settled after checking in Hero.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Hero has the message: the key is never sent again.
    Sent,
    /// Hero does not have it: the key may be sent again.
    NotSent,
}

impl Resolution {
    /// Parses `"sent"` or `"not-sent"` (also `"not_sent"`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sent" => Some(Resolution::Sent),
            "not-sent" | "not_sent" => Some(Resolution::NotSent),
            _ => None,
        }
    }
}

/// CRC-32C (Castagnoli), reflected, by a 256-entry table built at compile
/// time: a few nanoseconds a byte, nothing next to a flush.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

pub(super) fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc = CRC_TABLE[((crc ^ u32::from(*b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Appends `record`'s line to `out`. On an error `out` is as it was.
pub(super) fn encode(
    out: &mut Vec<u8>,
    seq: u64,
    durable: u64,
    record: &impl Serialize,
) -> Result<(), ()> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let start = out.len();
    let written = write!(out, "{seq} {durable} ")
        .map_err(|_| ())
        .and_then(|()| serde_json::to_writer(&mut *out, record).map_err(|_| ()));
    if written.is_err() {
        out.truncate(start);
        return Err(());
    }
    let crc = crc32c(&out[start..]);
    out.push(b' ');
    for shift in (0..8).rev() {
        out.push(DIGITS[((crc >> (shift * 4)) & 15) as usize]);
    }
    out.push(b'\n');
    Ok(())
}

/// What one complete line (without its newline) holds.
pub(super) enum Line {
    /// A checked record.
    Checked {
        seq: u64,
        durable: u64,
        record: Record,
    },
    /// A record of the format before the checks: bare JSON.
    Unchecked(Record),
    /// Neither: damaged, or not a record.
    Bad,
}

pub(super) fn parse_line(line: &[u8]) -> Line {
    if line.first() == Some(&b'{') {
        return match serde_json::from_slice(line) {
            Ok(record) => Line::Unchecked(record),
            Err(_) => Line::Bad,
        };
    }
    parse_checked(line).map_or(Line::Bad, |(seq, durable, record)| Line::Checked {
        seq,
        durable,
        record,
    })
}

fn parse_checked(line: &[u8]) -> Option<(u64, u64, Record)> {
    let (body, crc) = line.split_at(line.len().checked_sub(9)?);
    if crc[0] != b' ' {
        return None;
    }
    let crc = u32::from_str_radix(std::str::from_utf8(&crc[1..]).ok()?, 16).ok()?;
    if crc32c(body) != crc {
        return None;
    }
    let mut parts = body.splitn(3, |b| *b == b' ');
    let mut number = || -> Option<u64> { std::str::from_utf8(parts.next()?).ok()?.parse().ok() };
    let (seq, durable) = (number()?, number()?);
    let record = serde_json::from_slice(parts.next()?).ok()?;
    Some((seq, durable, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn a_line_reads_back_and_any_changed_byte_fails_its_check() {
        let record = Record::Resolved {
            key: "k 1".into(),
            resolution: Resolution::Sent,
            at_ms: 9,
        };
        let mut out = b"x".to_vec();
        encode(&mut out, 12, 10, &record).unwrap();
        let line = &out[1..out.len() - 1];
        assert!(!line.contains(&0) && line.starts_with(b"12 10 {"));
        match parse_line(line) {
            Line::Checked { seq, durable, .. } => assert_eq!((seq, durable), (12, 10)),
            _ => panic!("not read back"),
        }
        for i in 0..line.len() {
            let mut bad = line.to_vec();
            bad[i] ^= 0x01;
            assert!(matches!(parse_line(&bad), Line::Bad), "byte {i}");
        }
    }
}
