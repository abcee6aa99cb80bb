//! The journal's disk failures: a full disk, a failed flush, a short
//! write, a read-only file system and a quota, each named to every writer
//! waiting on the failed round, and never retried.

use super::commit::{Disk, Writer};
use super::tests::resolved;
use super::*;

/// A disk that fails every write after the first `writes_ok`, or every
/// flush from number `fail_sync` on, with `error`.
struct Faulty {
    writes_ok: usize,
    fail_sync: usize,
    error: fn() -> std::io::Error,
    writes: std::sync::atomic::AtomicUsize,
    syncs: std::sync::atomic::AtomicUsize,
}

impl Faulty {
    fn new(writes_ok: usize, fail_sync: usize, error: fn() -> std::io::Error) -> Arc<Faulty> {
        Arc::new(Faulty {
            writes_ok,
            fail_sync,
            error,
            writes: 0.into(),
            syncs: 0.into(),
        })
    }
}

impl Disk for Arc<Faulty> {
    fn write_at(&self, _at: u64, _bytes: &[u8]) -> std::io::Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.writes.fetch_add(1, SeqCst) >= self.writes_ok {
            return Err((self.error)());
        }
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.syncs.fetch_add(1, SeqCst) + 1 >= self.fail_sync {
            return Err((self.error)());
        }
        Ok(())
    }
}

/// Eight threads append until the disk fails: every one of them returns
/// (none sleeps on a round that will never end) with the failure's cause.
fn every_writer_gets(disk: Arc<Faulty>, cause: &str) {
    let path = PathBuf::from("faulty.journal");
    let writer = Writer::new(path.clone(), Box::new(Arc::clone(&disk)), 0, 0, 0);
    let j = Journal::from_parts(path, writer, Keys::new(), None);
    let (tx, rx) = std::sync::mpsc::channel();
    for t in 0..8 {
        let (j, tx) = (j.clone(), tx.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            let e = loop {
                if let Err(e) = j.append(&resolved(&format!("t{t}-"), n.to_string()), n % 2 == 0) {
                    break e;
                }
                n += 1;
            };
            tx.send(e).unwrap();
        });
    }
    drop(tx);
    for _ in 0..8 {
        // Generous: only a hang takes this long.
        let e = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("a writer still waits on a failed round");
        assert_eq!(e.kind(), ErrorKind::Journal);
        assert!(e.to_string().contains(cause), "{e}");
        assert!(e.to_string().contains("nothing more is sent"), "{e}");
    }
    assert!(j.failure().unwrap().contains(cause));
    // Broken for good: no write or flush is tried again, not even on close.
    let (writes, syncs) = (
        disk.writes.load(std::sync::atomic::Ordering::SeqCst),
        disk.syncs.load(std::sync::atomic::Ordering::SeqCst),
    );
    j.append(&resolved("late", String::new()), true)
        .unwrap_err();
    drop(j);
    assert_eq!(
        disk.writes.load(std::sync::atomic::Ordering::SeqCst),
        writes
    );
    assert_eq!(disk.syncs.load(std::sync::atomic::Ordering::SeqCst), syncs);
}

#[test]
fn a_full_disk_is_named_to_every_writer() {
    every_writer_gets(
        Faulty::new(40, usize::MAX, || std::io::ErrorKind::StorageFull.into()),
        "cannot write: no space left on device",
    );
}

#[test]
fn a_failed_flush_is_named_and_never_retried() {
    every_writer_gets(
        Faulty::new(usize::MAX, 5, || {
            std::io::Error::other("Input/output error")
        }),
        "cannot flush to disk: Input/output error",
    );
}

#[test]
fn a_short_write_is_named() {
    every_writer_gets(
        Faulty::new(12, usize::MAX, || std::io::ErrorKind::WriteZero.into()),
        "a short write",
    );
}

#[test]
fn a_read_only_file_system_and_a_quota_are_named() {
    every_writer_gets(
        Faulty::new(3, usize::MAX, || {
            std::io::ErrorKind::ReadOnlyFilesystem.into()
        }),
        "read-only file system",
    );
    every_writer_gets(
        Faulty::new(3, usize::MAX, || std::io::ErrorKind::QuotaExceeded.into()),
        "disk quota exceeded",
    );
}
