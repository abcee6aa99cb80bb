//! The secret a journal's lookup rows are keyed with. A row named by NHS
//! number and date of birth gets its key from the row as given, so a rerun
//! finds the same key; an unkeyed hash of that would lead back to the NHS
//! number by trying them all. Keys are an HMAC-SHA256 under a random secret
//! made with the journal and kept beside it (`JOURNAL.key`, owner only),
//! outside the journal's own records.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::Error;

/// The secret's length in bytes (stored as 64 hex digits and a newline).
const LEN: usize = 32;

/// The key of lookup rows, for one run.
pub(super) struct KeySecret(hmac::Key);

impl KeySecret {
    /// The journal's secret, made on its first batch. Without a journal a
    /// rerun cannot be recognised anyway: a secret for this run only.
    ///
    /// A journal that already holds records but has no secret beside it is
    /// refused when `needed` (some row is keyed by lookup): earlier rows
    /// would get new keys and could be sent again.
    pub(super) fn for_journal(journal: Option<&Path>, needed: bool) -> Result<Self, Error> {
        let Some(journal) = journal else {
            return Ok(KeySecret(hmac::Key::new(hmac::HMAC_SHA256, &random()?)));
        };
        let path = sidecar(journal);
        match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes)
                .map(|s| KeySecret(hmac::Key::new(hmac::HMAC_SHA256, &s)))
                .ok_or_else(|| secret_error(&path, "is not a journal key file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = random()?;
                let has_records = std::fs::metadata(journal).is_ok_and(|m| m.len() > 0);
                match (has_records, needed) {
                    (true, true) => {
                        return Err(secret_error(
                            &path,
                            "is missing but the journal has records: rows named by NHS \
                             number would get new keys and could be sent twice; restore the \
                             file, give each row a key column, or use a new journal for an \
                             export not sent before",
                        ));
                    }
                    // Made only with a journal that has no records yet, so a
                    // lost secret is never silently replaced.
                    (false, _) => create(&path, &secret)?,
                    (true, false) => {}
                }
                Ok(KeySecret(hmac::Key::new(hmac::HMAC_SHA256, &secret)))
            }
            Err(e) => Err(secret_error(
                &path,
                format_args!("cannot read: {}", e.kind()),
            )),
        }
    }

    /// `auto-` and 32 hex digits, as other derived keys look.
    pub(super) fn key_for(&self, material: &[u8]) -> String {
        let tag = hmac::sign(&self.0, material);
        format!("auto-{}", &hex(tag.as_ref())[..32])
    }
}

/// A salvaged journal takes its damaged journal's secret, so the rows of an
/// export keyed under it keep their keys (written before the salvaged
/// journal is linked into place). Nothing to carry is not an error.
pub(crate) fn carry_over(damaged: &Path, salvaged: &Path) -> Result<(), Error> {
    let from = sidecar(damaged);
    let secret = match std::fs::read(&from) {
        Ok(bytes) => {
            parse(&bytes).ok_or_else(|| secret_error(&from, "is not a journal key file"))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(secret_error(
                &from,
                format_args!("cannot be read: {}", e.kind()),
            ));
        }
    };
    create(&sidecar(salvaged), &secret)
}

/// `recall.journal` keeps its secret in `recall.journal.key`.
pub(super) fn sidecar(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn secret_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::config(format!("journal key file {}: {what}", path.display()))
}

fn random() -> Result<[u8; LEN], Error> {
    let mut secret = [0; LEN];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| Error::config("journal key: the system gave no random bytes"))?;
    Ok(secret)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse(bytes: &[u8]) -> Option<[u8; LEN]> {
    let text = std::str::from_utf8(bytes).ok()?.trim_end();
    if text.len() != LEN * 2 {
        return None;
    }
    let mut out = [0; LEN];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Written whole and synced before any row is keyed with it; never
/// replaces a file already there (another run's secret).
fn create(path: &Path, secret: &[u8; LEN]) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let fail = |e: std::io::Error| secret_error(path, format_args!("cannot create: {}", e.kind()));
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(format!("{}\n", hex(secret)).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hero-key-secret-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("recall.journal")
    }

    #[test]
    fn a_journal_keeps_one_secret_and_keys_repeat_across_runs() {
        let path = temp("repeat");
        let journal = Journal::open(&path).unwrap();
        let first = KeySecret::for_journal(Some(journal.path()), true).unwrap();
        let again = KeySecret::for_journal(Some(journal.path()), true).unwrap();
        let key = first.key_for(b"9434765919 1992-01-01");
        assert_eq!(key, again.key_for(b"9434765919 1992-01-01"));
        assert!(key.starts_with("auto-") && key.len() == 37, "{key}");
        // Not the unkeyed hash a guess at the NHS number could reproduce.
        assert_ne!(key, crate::journal::key_for_body(b"9434765919 1992-01-01"));
        let text = std::fs::read_to_string(sidecar(&path)).unwrap();
        assert_eq!(text.trim_end().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(sidecar(&path))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another journal, another secret.
        let other = Journal::open(temp("other")).unwrap();
        let other = KeySecret::for_journal(Some(other.path()), true).unwrap();
        assert_ne!(key, other.key_for(b"9434765919 1992-01-01"));
    }

    #[test]
    fn a_salvaged_journal_keeps_the_secret_its_rows_were_keyed_with() {
        let path = temp("salvage");
        let journal = Journal::open(&path).unwrap();
        let key = KeySecret::for_journal(Some(journal.path()), true)
            .unwrap()
            .key_for(b"row");
        drop(journal);
        let new = path.with_file_name("salvaged.journal");
        Journal::salvage(&path, &new).unwrap();
        assert_eq!(
            std::fs::read(sidecar(&new)).unwrap(),
            std::fs::read(sidecar(&path)).unwrap()
        );
        let again = KeySecret::for_journal(Some(&new), true).unwrap();
        assert_eq!(again.key_for(b"row"), key);
    }

    #[test]
    fn a_lost_or_damaged_secret_stops_the_batch_rather_than_rekeying() {
        let path = temp("lost");
        // A blank line: no record the journal reads, yet not empty, as a
        // journal that has sent is.
        std::fs::write(&path, b"\n").unwrap();
        let journal = Journal::open(&path).unwrap();
        let Err(e) = KeySecret::for_journal(Some(journal.path()), true) else {
            panic!("refused");
        };
        assert!(e.to_string().contains("sent twice"), "{e}");
        // Rows with their own keys (or patient ids) need no secret, and
        // none is made: a later lookup row is still refused.
        KeySecret::for_journal(Some(journal.path()), false).unwrap();
        assert!(!sidecar(&path).exists(), "no new secret made");
        std::fs::write(sidecar(&path), b"not hex\n").unwrap();
        let Err(e) = KeySecret::for_journal(Some(journal.path()), true) else {
            panic!("refused");
        };
        assert!(e.to_string().contains("not a journal key file"), "{e}");
    }
}
