//! Reading a journal back on open: what a crash may clear, and what is
//! damage.
//!
//! The writer flushes an attempt record before its request starts, and the
//! file only ever grows in zeros that records are then written over. So a
//! power cut or crash can leave, after the last complete flush, only a
//! prefix-or-subset of the bytes of the writes since: zeros where a write
//! did not land, never bytes of its own invention. That unfinished tail is
//! the only thing recovery clears. Its records were never acknowledged as
//! on disk, so no send started on the strength of them.
//!
//! Everything else is damage and refuses to open:
//! - a complete line (no zero byte in it) that fails its check: a power
//!   cut leaves zeros, not changed bytes;
//! - a sequence number other than the next;
//! - zeros or a torn record followed by a readable record whose `DURABLE`
//!   field shows the missing record had been flushed before it was written
//!   (so it was not part of an unfinished write);
//! - in a journal without checks, any readable record after zeros or a torn
//!   line: nothing there can prove it was an unfinished write.

use super::record::{Line, Record, parse_line};
use super::state::{Keys, apply};

/// A journal read back whole.
pub(super) struct Recovered {
    pub(super) keys: Keys,
    /// Where the next record goes: right after the last one kept.
    pub(super) end: usize,
    /// The unfinished tail to zero is `end..clear_to`.
    pub(super) clear_to: usize,
    /// The number of the last record kept (0 when none).
    pub(super) last_seq: u64,
}

/// Why a journal will not open.
#[derive(Debug)]
pub(super) struct Damage {
    /// Where the damage starts, in bytes from the start of the file.
    pub(super) offset: usize,
    pub(super) what: String,
}

/// What a damaged journal still shows.
pub(super) struct Salvaged {
    /// Every readable record replayed, in file order.
    pub(super) keys: Keys,
    /// The latest time of a readable record before the damage, and the
    /// earliest after it (milliseconds since 1970).
    pub(super) window_ms: (Option<u64>, Option<u64>),
}

pub(super) fn recover(bytes: &[u8]) -> Result<Recovered, Damage> {
    let mut keys = Keys::new();
    let mut pos = 0;
    let mut seq = 0u64;
    let mut checked = false;
    while pos < bytes.len() && bytes[pos] != 0 {
        let Some(n) = bytes[pos..].iter().position(|b| *b == b'\n') else {
            break;
        };
        let line = &bytes[pos..pos + n];
        if line.contains(&0) {
            break;
        }
        match parse_line(line) {
            Line::Checked {
                seq: found, record, ..
            } => {
                if found != seq + 1 {
                    return Err(Damage {
                        offset: pos,
                        what: format!(
                            "record number {found} where record {} should be (a sequence gap)",
                            seq + 1
                        ),
                    });
                }
                checked = true;
                apply(&mut keys, record);
            }
            Line::Unchecked(record) if !checked => apply(&mut keys, record),
            Line::Unchecked(_) => {
                return Err(Damage {
                    offset: pos,
                    what: format!("record {} has no check, after checked ones", seq + 1),
                });
            }
            Line::Bad if line.iter().all(u8::is_ascii_whitespace) => {
                pos += n + 1;
                continue;
            }
            Line::Bad => {
                return Err(Damage {
                    offset: pos,
                    what: format!("record {} fails its check (changed or damaged)", seq + 1),
                });
            }
        }
        seq += 1;
        pos += n + 1;
    }
    let clear_to = pos
        + bytes[pos..]
            .iter()
            .rposition(|b| *b != 0)
            .map_or(0, |i| i + 1);
    check_tail(bytes, pos, clear_to, seq + 1, checked)?;
    Ok(Recovered {
        keys,
        end: pos,
        clear_to,
        last_seq: seq,
    })
}

/// The bytes from `start` (where reading stopped) to `clear_to` may be
/// cleared only if they can be the unfinished tail of the last flush.
fn check_tail(
    bytes: &[u8],
    start: usize,
    clear_to: usize,
    next: u64,
    checked: bool,
) -> Result<(), Damage> {
    let found = if bytes.get(start) == Some(&0) {
        "zero bytes"
    } else {
        "a torn record"
    };
    for (at, piece, whole) in pieces(bytes, start, clear_to) {
        let what = match parse_line(piece) {
            Line::Checked { seq, durable, .. } if durable >= next => format!(
                "{found} where record {next} should be, but record {seq} (at byte {at}) \
                 shows it had been flushed before"
            ),
            Line::Checked { .. } => continue,
            // Bare JSON between zeros in a checked journal: the middle of a
            // torn record whose numbers and check did not land.
            Line::Unchecked(_) if checked && !whole => continue,
            Line::Unchecked(_) => format!(
                "{found} where record {next} should be, followed by a readable record at \
                 byte {at}{}",
                if checked {
                    ""
                } else {
                    " (a journal without checks cannot prove that was an unfinished write)"
                }
            ),
            Line::Bad if whole => format!(
                "{found} where record {next} should be, and an unreadable line at byte {at}"
            ),
            Line::Bad => continue,
        };
        return Err(Damage {
            offset: start,
            what,
        });
    }
    Ok(())
}

/// The runs of bytes between zeros and newlines from `start` to `end`, with
/// their offset and whether they are a whole line (a newline both sides).
fn pieces(bytes: &[u8], start: usize, end: usize) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let mut i = start;
    std::iter::from_fn(move || {
        while i < end && (bytes[i] == 0 || bytes[i] == b'\n') {
            i += 1;
        }
        if i >= end {
            return None;
        }
        let from = i;
        while i < bytes.len() && bytes[i] != 0 && bytes[i] != b'\n' {
            i += 1;
        }
        let whole = from > 0 && bytes[from - 1] == b'\n' && bytes.get(i) == Some(&b'\n');
        Some((from, &bytes[from..i], whole))
    })
}

/// Every readable record of a journal, damaged or not, replayed in file
/// order: for listing flagged keys and salvaging.
pub(super) fn read_readable(bytes: &[u8], damage_at: usize) -> Salvaged {
    let mut keys = Keys::new();
    let mut window_ms = (None, None);
    for (at, piece, _) in pieces(bytes, 0, bytes.len()) {
        let record = match parse_line(piece) {
            Line::Checked { record, .. } | Line::Unchecked(record) => record,
            Line::Bad => continue,
        };
        let ms = at_ms(&record);
        if at < damage_at {
            window_ms.0 = Some(window_ms.0.map_or(ms, |m: u64| m.max(ms)));
        } else {
            window_ms.1 = Some(window_ms.1.map_or(ms, |m: u64| m.min(ms)));
        }
        apply(&mut keys, record);
    }
    Salvaged { keys, window_ms }
}

fn at_ms(record: &Record) -> u64 {
    match record {
        Record::Attempt { at_ms, .. }
        | Record::Outcome { at_ms, .. }
        | Record::Resolved { at_ms, .. } => *at_ms,
    }
}
