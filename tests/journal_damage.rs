//! A damaged journal and a full disk, through `hero_send --batch` against
//! the real `hero-mock`: damage refuses with exit 2 and sends nothing,
//! `--pending` still lists, `--salvage` writes a journal that holds back
//! every key not proven sent, and a batch whose journal's disk fills up
//! always ends, naming the cause.
//!
//! Unix only, like the other C program tests (the programs are built with
//! the examples' Makefile for the host; the full disk is a Linux tmpfs).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod common;
use common::{GROUP, KEY, Mock, unique_hex};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hero-journal-damage-{}", unique_hex()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `program` (hero_send, or what runs it) aimed at the mock.
fn aimed(program: impl AsRef<std::ffi::OsStr>, mock: &Mock) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HERO_BASE_URL", mock.base_url())
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .env_remove("HERO_ENVIRONMENT")
        .env_remove("HERO_CA_FILE")
        .stdin(Stdio::null());
    cmd
}

/// The toolkit's `hero_send`, aimed at the mock, run to its end.
fn run_hero_send(mock: &Mock, args: &[&str]) -> Output {
    common::hero_send(mock, args).output().unwrap()
}

const NO_ARGS: &[&str] = &[];

/// `hero_send --journal JOURNAL --salvage NEW --batch ROWS`.
fn salvage_with_rows(mock: &Mock, journal: &Path, new: &Path, rows: &Path) -> Output {
    let args = [
        "--journal",
        s(journal),
        "--salvage",
        s(new),
        "--batch",
        s(rows),
    ];
    run_hero_send(mock, &args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn rows_file(d: &Path, n: usize) -> PathBuf {
    let mut csv = String::from("key,patient_id,message_type,message_string\n");
    for i in 0..n {
        csv.push_str(&format!("k-{i},{},hero,Your recall {i}\n", 3000 + i));
    }
    let p = d.join("rows.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

/// Each record line's (start, end) in the journal's data.
fn lines(journal: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(journal).unwrap();
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let mut at = 0;
    bytes[..end]
        .split_inclusive(|b| *b == b'\n')
        .map(|l| {
            let span = (at, at + l.len());
            at = span.1;
            span
        })
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Six rows sent one at a time, so the journal's records are in row order.
fn six_sent(mock: &Mock, d: &Path) -> (PathBuf, PathBuf) {
    let rows = rows_file(d, 6);
    let journal = d.join("journal");
    let out = run_hero_send(
        mock,
        &[
            "--batch",
            s(&rows),
            "--journal",
            s(&journal),
            "--concurrency",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mock.requests().len(), 6);
    (rows, journal)
}

#[test]
fn zeros_over_a_flushed_record_refuse_the_rerun_and_salvage_holds_back_what_may_have_gone() {
    let mock = Mock::start();
    let d = dir();
    let (rows, journal) = six_sent(&mock, &d);
    // The 4th record (row 2's outcome) lost to zeros, as a lost block is.
    let spans = lines(&journal);
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[spans[3].0..spans[3].1].fill(0);
    std::fs::write(&journal, &bytes).unwrap();

    let batch = ["--batch", s(&rows), "--journal", s(&journal)];
    let out = run_hero_send(&mock, &batch);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(&format!("damaged at byte {}: zero bytes", spans[3].0)),
        "{text}"
    );
    assert!(out.stdout.is_empty(), "no row started");
    assert_eq!(mock.requests().len(), 6, "nothing sent again");
    assert_eq!(std::fs::read(&journal).unwrap(), bytes, "nothing erased");

    let out = run_hero_send(&mock, &["--journal", s(&journal), "--pending"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let listed = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("\"key\":\"k-1\""), "{listed}");
    assert!(stderr(&out).contains("damaged at byte"), "{}", stderr(&out));

    let salvaged = d.join("salvaged");
    let out = run_hero_send(
        &mock,
        &["--journal", s(&journal), "--salvage", s(&salvaged)],
    );
    // Exit 6: a key is flagged, and without the rows file a key whose
    // every record was lost could not be named, which it says.
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{said}");
    assert!(said.contains("1 keys flagged"), "{said}");
    assert!(
        said.contains("cannot be named without the rows file"),
        "{said}"
    );
    assert!(said.contains(" between 20"), "the damage's window: {said}");
    // A second salvage never writes over the first.
    let out = run_hero_send(
        &mock,
        &["--journal", s(&journal), "--salvage", s(&salvaged)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // The rerun over the salvaged journal sends nothing: five already
    // sent, one held back for reconciliation.
    let out = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&salvaged)]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.matches("\"already_sent\"").count(), 5, "{stdout}");
    assert_eq!(
        stdout.matches("\"needs_reconciliation\"").count(),
        1,
        "{stdout}"
    );
    assert_eq!(mock.requests().len(), 6, "nothing sent twice");
}

#[test]
fn a_key_changed_in_place_refuses_the_rerun() {
    let mock = Mock::start();
    let d = dir();
    let (rows, journal) = six_sent(&mock, &d);
    // One character of the last row's key in both its records: valid JSON
    // still, and the key would read as never attempted.
    let spans = lines(&journal);
    let mut bytes = std::fs::read(&journal).unwrap();
    for (from, to) in &spans[10..12] {
        let at = from
            + bytes[*from..*to]
                .windows(3)
                .position(|w| w == b"k-5")
                .unwrap()
            + 2;
        bytes[at] = b'9';
    }
    std::fs::write(&journal, &bytes).unwrap();
    let out = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&journal)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("fails its check"), "{}", stderr(&out));
    assert_eq!(mock.requests().len(), 6, "nothing sent again");
}

/// Runs `hero_send` with its journal on a fresh 1.5 MiB tmpfs of its own
/// mount namespace (so no mount outlives it). `None` when this machine
/// cannot mount one.
fn on_small_disk(mock: &Mock, d: &Path, args: &[&str]) -> Option<Output> {
    let disk = d.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    // The toolkit's hero_send command, run inside the namespace.
    let inner = common::hero_send(mock, args);
    let out = aimed("unshare", mock)
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs -o size=1536k tmpfs \"$0\" || exit 111; shift; exec \"$@\"")
        .arg(&disk)
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args())
        .output()
        .ok()?;
    (out.status.code() != Some(111) && !stderr(&out).starts_with("unshare:")).then_some(out)
}

#[test]
fn a_batch_whose_journal_disk_fills_up_always_ends_and_names_the_cause() {
    let mock = Mock::start();
    let d = dir();
    let rows = rows_file(&d, 9000);
    let journal = d.join("disk").join("journal");
    for (run, concurrency) in ["1", "4", "8", "1", "4", "8", "4", "8", "8", "4", "8", "8"]
        .iter()
        .enumerate()
    {
        let started = Instant::now();
        let args = [
            "--batch",
            s(&rows),
            "--journal",
            s(&journal),
            "--concurrency",
            concurrency,
        ];
        let Some(out) = on_small_disk(&mock, &d, &args) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount a tmpfs (unshare -m, mount -t tmpfs)"
            );
            eprintln!("skipped: cannot mount a small tmpfs here (needs root and unshare)");
            return;
        };
        let text = stderr(&out);
        // Rows before the disk filled were sent; the rest were not started.
        assert_eq!(out.status.code(), Some(9), "run {run}: {text}");
        let summary = text.lines().last().unwrap();
        eprintln!("concurrency {concurrency}: {summary}");
        assert!(
            summary.contains("the journal failed (cannot write: no space left on device)"),
            "run {run}: {summary}"
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 9000, "run {run}: a line per row");
        // The cause in the rows in flight that met it (none when the
        // failing write was a sent row's outcome), one short line for the
        // rest: not thousands of repetitions of the cause.
        let named = stdout.matches("no space left on device").count();
        assert!(named <= 8, "run {run}: {named} rows name the cause");
        assert!(stdout.contains("no row started after the journal failed"));
        // Generous: only a hang takes this long.
        assert!(started.elapsed() < Duration::from_secs(300), "run {run}");
    }
}

/// The LD_PRELOAD shim of `tests/c/fail_fdatasync.c`, built once.
#[cfg(target_os = "linux")]
fn shim() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("hero-fail-fdatasync-{}.so", unique_hex()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(cc)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(root.join("tests/c/fail_fdatasync.c"))
        .arg("-ldl")
        .output()
        .expect("a C compiler");
    assert!(built.status.success(), "{}", stderr(&built));
    out
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_fdatasync_ends_the_batch_naming_it() {
    let mock = Mock::start();
    let d = dir();
    let rows = rows_file(&d, 200);
    let journal = d.join("journal");
    let shim = shim();
    for concurrency in ["1", "8"] {
        let _ = std::fs::remove_file(&journal);
        let out = common::hero_send(&mock, NO_ARGS)
            .env("LD_PRELOAD", &shim)
            .env("HERO_TEST_FAIL_FDATASYNC_AFTER", "40")
            .args(["--batch", s(&rows), "--journal", s(&journal)])
            .args(["--concurrency", concurrency])
            .output()
            .unwrap();
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(9), "{text}");
        assert!(
            text.contains("the journal failed (cannot flush to disk: Input/output error"),
            "{text}"
        );
        // Every send started had its attempt flushed first, and a flush
        // carries at most one attempt per thread: at most 40 a thread
        // (opening flushes nothing in a new journal).
        let sent = String::from_utf8(out.stdout)
            .unwrap()
            .matches("\"sent\"")
            .count();
        let most = 40 * concurrency.parse::<usize>().unwrap();
        assert!((1..=most).contains(&sent), "{sent} sent");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn short_writes_leave_a_whole_journal() {
    let mock = Mock::start();
    let d = dir();
    let rows = rows_file(&d, 60);
    let journal = d.join("journal");
    let shim = shim();
    let run = || {
        common::hero_send(&mock, NO_ARGS)
            .env("LD_PRELOAD", &shim)
            .env("HERO_TEST_SHORT_PWRITE", "1")
            .args([
                "--batch",
                s(&rows),
                "--journal",
                s(&journal),
                "--concurrency",
                "8",
            ])
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(lines(&journal).len(), 120);
    let again = run();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let stdout = String::from_utf8(again.stdout).unwrap();
    assert_eq!(stdout.matches("\"already_sent\"").count(), 60);
    assert_eq!(mock.requests().len(), 60, "nothing sent twice");
}

/// A journal cut short after a complete record (a partial copy restored, a
/// sync tool, a file truncated by hand), or with its lost end zeroed as a
/// copy of a file grown in zeros leaves it, looks exactly like a journal
/// whose last flushes a crash never finished: the file alone cannot tell,
/// and it opens. What holds, as the README says: a row whose records
/// survive is never sent again, and salvage given the rows file holds back
/// every row the cut removed, so the rerun over it sends nobody twice. A
/// plain rerun over the cut journal does send the cut-off rows again: the
/// documented limit, asserted so any change to it is seen.
#[test]
fn a_journal_cut_short_after_a_complete_record_is_held_back_by_salvage_with_the_rows() {
    let mock = Mock::start();
    let d = dir();
    let (rows, journal) = six_sent(&mock, &d);
    let spans = lines(&journal);
    let whole = std::fs::read(&journal).unwrap();
    // After row 1's attempt and outcome: rows 2 to 6 were sent, each
    // attempt flushed before its request, in flushes the cut removes.
    let cut = spans[1].1;
    let mut zeroed = whole.clone();
    zeroed[cut..].fill(0);
    for (what, image) in [("truncated", whole[..cut].to_vec()), ("zeroed", zeroed)] {
        std::fs::write(&journal, &image).unwrap();
        let before = mock.requests().len();
        let salvaged = d.join(format!("salvaged-{what}"));
        let out = salvage_with_rows(&mock, &journal, &salvaged, &rows);
        let said = stderr(&out);
        assert_eq!(out.status.code(), Some(6), "{what}: {said}");
        assert!(
            said.contains("5 keys flagged (1 sent), 5 of them rows"),
            "{what}: {said}"
        );
        let out = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&salvaged)]);
        assert_eq!(out.status.code(), Some(6), "{what}: {}", stderr(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            stdout.matches("\"already_sent\"").count(),
            1,
            "{what}: {stdout}"
        );
        assert_eq!(
            stdout.matches("\"needs_reconciliation\"").count(),
            5,
            "{what}: {stdout}"
        );
        assert_eq!(
            mock.requests().len(),
            before,
            "{what}: nothing sent over the salvaged journal"
        );

        // The limit: without salvage the cut journal opens, and only row 1,
        // whose records survive, is safe from a second send.
        let out = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&journal)]);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.contains("\"row\":1,\"key\":\"k-0\",\"outcome\":\"already_sent\""),
            "{what}: {stdout}"
        );
        assert_eq!(
            mock.requests().len(),
            before + 5,
            "{what}: the cut-off rows, once more"
        );
    }
}

/// A row the batch reported certainly not sent, because the flush of its
/// attempt record failed before its request started. After a failed
/// `fdatasync` nobody knows whether that record reached the disk, and a
/// rerun that finds it cannot tell it from a send cut off mid-request, so
/// it holds the row back: never a resend, one false alarm. The first run
/// says so in that row's error; the rerun holds back that row alone, and
/// resolving it as not sent lets it go, once.
#[cfg(target_os = "linux")]
#[test]
fn a_row_reported_not_sent_after_a_failed_flush_is_held_back_on_rerun_as_its_report_says() {
    let mock = Mock::start();
    let d = dir();
    let rows = rows_file(&d, 20);
    let journal = d.join("journal");
    let out = common::hero_send(&mock, NO_ARGS)
        .env("LD_PRELOAD", shim())
        .env("HERO_TEST_FAIL_FDATASYNC_AFTER", "5")
        .args(["--batch", s(&rows), "--journal", s(&journal)])
        .args(["--concurrency", "1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    let first = String::from_utf8(out.stdout).unwrap();
    // The row whose attempt's flush failed: reported certainly not sent.
    let failed = first
        .lines()
        .find(|l| l.contains("cannot flush to disk"))
        .expect("a row names the failed flush");
    assert!(failed.contains("\"outcome\":\"not_sent\""), "{failed}");
    assert!(
        failed.contains("a rerun may hold it back as needs_reconciliation"),
        "{failed}"
    );
    let key = failed
        .split("\"key\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let sent = mock.requests().len();
    assert!(sent < 20);
    let again = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&journal)]);
    assert_eq!(again.status.code(), Some(6), "{}", stderr(&again));
    let second = String::from_utf8(again.stdout).unwrap();
    let held: Vec<&str> = second
        .lines()
        .filter(|l| l.contains("needs_reconciliation"))
        .collect();
    assert_eq!(held.len(), 1, "{second}");
    assert!(held[0].contains(&format!("\"key\":\"{key}\"")), "{second}");
    assert_eq!(mock.requests().len(), 19, "every other row sent once");
    // Hero shows it was not sent, as the first run said: resolved, it goes.
    let out = run_hero_send(
        &mock,
        &[
            "--journal",
            s(&journal),
            "--resolve",
            &key,
            "--as",
            "not-sent",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&journal)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mock.requests().len(), 20, "every row sent once in all");
}

/// The salvaged journal holds patient ids, as the journal does: its owner
/// only may read it.
#[test]
fn a_salvaged_journal_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mock = Mock::start();
    let d = dir();
    let (_, journal) = six_sent(&mock, &d);
    let salvaged = d.join("salvaged");
    let out = run_hero_send(
        &mock,
        &["--journal", s(&journal), "--salvage", s(&salvaged)],
    );
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the journal: {mode:o}");
    let mode = std::fs::metadata(&salvaged).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the salvaged journal: {mode:o}");
}

/// A salvage that fails partway (here its disk fills up) must leave no
/// journal at the new path: a rerun over a part-written one would send
/// again every row whose records did not make it.
#[test]
fn a_salvage_that_fails_partway_leaves_no_journal_to_rerun_over() {
    let mock = Mock::start();
    let d = dir();
    let rows = rows_file(&d, 3000);
    let journal = d.join("journal");
    let out = run_hero_send(
        &mock,
        &[
            "--batch",
            s(&rows),
            "--journal",
            s(&journal),
            "--concurrency",
            "8",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Damage in the middle, so salvage is the way forward.
    let spans = lines(&journal);
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[spans[3].0..spans[3].1].fill(0);
    std::fs::write(&journal, &bytes).unwrap();
    let disk = d.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let salvaged = disk.join("salvaged");
    // The salvaged journal's disk is too small for it; whatever is left at
    // its path is reported before the mount goes.
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t tmpfs -o size=256k tmpfs \"$0\" || exit 111; \
             \"$1\" --journal \"$2\" --salvage \"$3\"; rc=$?; \
             if [ -e \"$3\" ]; then echo left; fi; exit $rc",
        )
        .arg(&disk)
        .arg(common::program("hero_send").get_program())
        .arg(&journal)
        .arg(&salvaged)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if out.status.code() == Some(111) || stderr(&out).starts_with("unshare:") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a tmpfs"
        );
        eprintln!("skipped: cannot mount a small tmpfs here");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no space left on device"),
        "{}",
        stderr(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("left"),
        "a part-written salvaged journal was left at its path: {}",
        stderr(&out)
    );
}

/// A lost block commonly holds a row's attempt and its outcome together.
/// The documented way forward (salvage, then rerun over the salvaged
/// journal) must not message that patient again.
#[test]
fn a_row_whose_every_record_was_lost_is_not_sent_again_after_salvage() {
    let mock = Mock::start();
    let d = dir();
    let (rows, journal) = six_sent(&mock, &d);
    let spans = lines(&journal);
    let mut bytes = std::fs::read(&journal).unwrap();
    // Row 3's attempt and outcome.
    bytes[spans[4].0..spans[5].1].fill(0);
    std::fs::write(&journal, &bytes).unwrap();
    let out = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&journal)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Salvage given the rows file flags every row no readable record names.
    let salvaged = d.join("salvaged");
    let out = salvage_with_rows(&mock, &journal, &salvaged, &rows);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{said}");
    assert!(
        said.contains("1 of them rows of") && said.contains("no readable record names"),
        "{said}"
    );
    assert!(!said.contains("WARNING"), "{said}");
    let pending = run_hero_send(&mock, &["--journal", s(&salvaged), "--pending"]);
    let listed = String::from_utf8(pending.stdout).unwrap();
    assert!(listed.contains("\"key\":\"k-2\""), "{listed}");
    let out = run_hero_send(&mock, &["--batch", s(&rows), "--journal", s(&salvaged)]);
    assert_eq!(
        mock.requests().len(),
        6,
        "salvage said: {said}\nthe rerun over the salvaged journal sent again: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("\"key\":\"k-2\",\"outcome\":\"needs_reconciliation\""),
        "{stdout}"
    );
}

/// The C++ layer's `Journal::open_to_read`, `damage()` and both `salvage`
/// overloads, on the damage of a lost block holding one row's attempt and
/// outcome: the reader names the damage, salvage alone cannot name that
/// row (and says it was not given rows), salvage with the rows flags it.
#[test]
fn the_cpp_layer_reads_and_salvages_a_damaged_journal() {
    let mock = Mock::start();
    let d = dir();
    let (rows, journal) = six_sent(&mock, &d);
    let spans = lines(&journal);
    let mut bytes = std::fs::read(&journal).unwrap();
    // Row 3's attempt and outcome.
    bytes[spans[4].0..spans[5].1].fill(0);
    std::fs::write(&journal, &bytes).unwrap();
    let cpp = d.join("cpp.csv");
    std::fs::write(&cpp, "patient_id,name\n7001,Ada\n").unwrap();
    let out = common::program_for("batch_cpp", &mock.base_url(), KEY, GROUP)
        .arg(&cpp)
        .arg(d.join("cpp.journal"))
        .arg(&journal)
        .arg(&rows)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let line = |prefix: &str| -> &str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {text}"))
    };
    assert!(
        line("damage ").contains(&format!("damaged at byte {}: zero bytes", spans[4].0)),
        "{text}"
    );
    // Nothing readable shows an attempt without an outcome.
    assert_eq!(line("read pending "), "read pending 0");
    assert_eq!(
        line("salvage "),
        "salvage flagged 0 sent 5 unnamed 0 rows_given 0 damaged 1 window ordered"
    );
    assert_eq!(
        line("salvage-rows "),
        "salvage-rows flagged 1 sent 5 unnamed 1 rows_given 1 damaged 1 window ordered"
    );
    // The salvaged-with-rows journal holds row 3 back.
    let out = run_hero_send(
        &mock,
        &[
            "--journal",
            &format!("{}.salvaged-rows", s(&journal)),
            "--pending",
        ],
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.contains("\"key\":\"k-2\""), "{listed}");
}
