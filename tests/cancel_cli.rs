//! Cancelling and timings through the C ABI, the C++ layer and hero_send:
//! real programs (tests/c/cancel_timing.c, tests/c/cancel_cpp.cpp,
//! hero_send) against stalling loopback servers and the mock, and under
//! valgrind when it is on PATH.
#![cfg(unix)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

pub mod common;
use common::Mock;

const HERO_NOT_SENT: i64 = 1;
const HERO_MAY_HAVE_BEEN_SENT: i64 = 3;
const HERO_KIND_CANCELLED: i64 = 17;

/// A server that reads requests and never answers; counts request heads.
fn never_answers() -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let port = common::serve(move |mut stream, _| {
        while common::read_request(&mut stream).is_some() {
            s.fetch_add(1, Ordering::SeqCst);
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    (url, seen)
}

/// A built program; with `HERO_C_PROGRAMS=windows`, its `.exe` under Wine.
fn program(name: &str) -> Command {
    let mut cmd = if common::windows_programs() {
        let mut wine = Command::new("wine");
        wine.arg(common::c_programs().join(format!("{name}.exe")))
            .env("WINEDEBUG", "-all");
        wine
    } else {
        Command::new(common::c_programs().join(name))
    };
    cmd.env("HERO_API_KEY", common::KEY)
        .env("HERO_PRACTICE_GROUP_ID", common::GROUP)
        .stdin(Stdio::null());
    cmd
}

/// `key=value` pairs of the output line starting with `label`.
fn fields(out: &Output, label: &str) -> HashMap<String, f64> {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("no {label} line in {text:?}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

fn first_line_fields(out: &Output) -> HashMap<String, f64> {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

fn ordered(f: &HashMap<String, f64>, phases: &[&str]) {
    let present: Vec<f64> = phases.iter().map(|p| f[*p]).filter(|v| *v > 0.0).collect();
    assert!(
        present.windows(2).all(|w| w[0] <= w[1]),
        "phases out of order: {f:?}"
    );
}

fn valgrind() -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("valgrind"))
        .find(|p| p.is_file())
}

/// Runs `cmd` under valgrind: exit 0, no memory errors, no definite or
/// indirect leaks.
fn under_valgrind(cmd: &Command) -> Option<Output> {
    if common::windows_programs() {
        return None;
    }
    let vg = valgrind()?;
    let mut v = Command::new(vg);
    v.args([
        "--leak-check=full",
        "--error-exitcode=99",
        "--errors-for-leak-kinds=definite,indirect",
        "-q",
    ])
    .arg(cmd.get_program())
    .args(cmd.get_args())
    .stdin(Stdio::null());
    for (k, val) in cmd.get_envs() {
        if let Some(val) = val {
            v.env(k, val);
        }
    }
    let out = v.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "valgrind: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out)
}

#[test]
fn c_cancels_from_a_thread_and_from_a_signal_handler() {
    // Wine has no signals to deliver to a Windows program.
    let modes: &[&str] = if common::windows_programs() {
        &["thread"]
    } else {
        &["thread", "signal"]
    };
    for &mode in modes {
        let (url, seen) = never_answers();
        let out = program("cancel_timing")
            .args([mode, &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{mode}: {out:?}");
        let f = first_line_fields(&out);
        assert_eq!(f["status"] as i64, HERO_MAY_HAVE_BEEN_SENT, "{mode}");
        assert_eq!(f["kind"] as i64, HERO_KIND_CANCELLED, "{mode}");
        assert!(
            f["after_ms"] < 100.0,
            "{mode}: returned {} ms after the trigger",
            f["after_ms"]
        );
        let again = fields(&out, "again");
        assert_eq!(again["status"] as i64, HERO_NOT_SENT, "stays triggered");
        assert_eq!(seen.load(Ordering::SeqCst), 1, "one request, never retried");
        let e = fields(&out, "error");
        assert!(
            e["connect"] > 0.0 && e["first_byte"] == 0.0 && e["unknown"] == 0.0,
            "{e:?}"
        );
        ordered(&e, &["resolve", "connect", "total"]);
    }
}

#[test]
fn c_timings_on_replies_a_reused_connection_and_a_failure() {
    let mock = Mock::start();
    let refused = common::refused_port();
    let bad = format!("http://127.0.0.1:{}", refused.port);
    let cmd = {
        let mut c = program("cancel_timing");
        c.args(["timings", &mock.base_url(), &bad]);
        c
    };
    let check = |out: &Output| {
        let r0 = fields(out, "reply0");
        assert_eq!(r0["reused"], 0.0);
        assert_eq!(r0["attempts"], 1.0);
        assert!(r0["connect"] > 0.0 && r0["first_byte"] > 0.0, "{r0:?}");
        assert_eq!(r0["tls"], 0.0, "no TLS over http://");
        assert_eq!(r0["unknown"], 0.0);
        ordered(&r0, &["resolve", "connect", "first_byte", "total"]);
        let r1 = fields(out, "reply1");
        assert_eq!(r1["reused"], 1.0);
        assert_eq!(r1["connect"], 0.0, "no connect on a reused connection");
        assert!(r1["first_byte"] > 0.0);
        ordered(&r1, &["resolve", "first_byte", "total"]);
        let e = fields(out, "refused");
        assert_eq!(e["status"] as i64, HERO_NOT_SENT);
        assert!(
            e["total"] > 0.0 && e["first_byte"] == 0.0 && e["attempts"] >= 1.0,
            "{e:?}"
        );
    };
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    check(&out);
    if let Some(out) = under_valgrind(&cmd) {
        check(&out);
    }
}

#[test]
fn cpp_cancel_and_timings() {
    let mock = Mock::start();
    let mut cmd = program("cancel_cpp");
    cmd.arg(mock.base_url());
    let check = |out: &Output| {
        let c = fields(out, "cancelled");
        assert_eq!(c["status"] as i64, HERO_NOT_SENT);
        assert_eq!(c["kind"] as i64, HERO_KIND_CANCELLED);
        assert_eq!(c["attempts"], 0.0);
        let r1 = fields(out, "reply1");
        assert_eq!(r1["reused"], 1.0);
        ordered(&r1, &["resolve", "first_byte", "total"]);
        let c = fields(out, "lookup_cancelled");
        assert_eq!(c["status"] as i64, HERO_NOT_SENT);
        assert_eq!(c["kind"] as i64, HERO_KIND_CANCELLED);
        let l = fields(out, "lookup");
        assert_eq!((l["reused"], l["attempts"]), (1.0, 1.0));
        assert!(l["first_byte"] > 0.0 && l["total"] > 0.0, "{l:?}");
        ordered(&l, &["resolve", "first_byte", "total"]);
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    check(&out);
    assert_eq!(
        mock.requests().len(),
        3,
        "the cancelled send and lookup sent nothing"
    );
    if let Some(out) = under_valgrind(&cmd) {
        check(&out);
    }
}

/// Ctrl-C is a signal here; under Wine a console event cannot be sent
/// from outside, so these run on the host only.
fn hero_send_interrupted(url: &str) -> Option<Output> {
    hero_send_interrupted_when(
        url,
        &["--patient-id", "4242", "--type", "hero", "--message", "Hi"],
        || thread::sleep(Duration::from_millis(700)),
    )
}

/// hero_send with `args` and `--timings`, sent SIGINT once `ready` returns.
fn hero_send_interrupted_when(url: &str, args: &[&str], ready: impl FnOnce()) -> Option<Output> {
    if common::windows_programs() {
        return None;
    }
    let child = program("hero_send")
        .env("HERO_BASE_URL", url)
        .args(args)
        .arg("--timings")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    ready();
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    Some(child.wait_with_output().unwrap())
}

/// Waits until `seen` reaches 1 (up to 20 s), then lets the program block.
fn once_seen(seen: &AtomicUsize) {
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while seen.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < end, "no request came");
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(100));
}

const LOOKUP: [&str; 4] = ["--nhs-number", "943 476 5919", "--dob", "1992-01-01"];

#[test]
fn hero_send_ctrl_c_during_a_lookup_exits_130() {
    // The lookup's request has left, but a lookup sends no message.
    let (url, seen) = never_answers();
    let args = [&["--find-patient"][..], &LOOKUP].concat();
    let Some(out) = hero_send_interrupted_when(&url, &args, || once_seen(&seen)) else {
        return;
    };
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "not retried");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timings resolve="), "{err}");
    assert!(err.contains("not sent"), "{err}");
}

#[test]
fn hero_send_ctrl_c_during_the_lookup_before_a_send_exits_130() {
    let (url, seen) = never_answers();
    let args = [&LOOKUP[..], &["--type", "hero", "--message", "Hi"]].concat();
    let Some(out) = hero_send_interrupted_when(&url, &args, || once_seen(&seen)) else {
        return;
    };
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "the lookup only: no send");
}

/// hero_send's one `--timings` line on stderr.
fn timings_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|l| l.contains("timings"))
        .expect("a timings line")
        .to_owned()
}

#[test]
fn hero_send_find_patient_timings_line() {
    let mock = Mock::start();
    let out = program("hero_send")
        .env("HERO_BASE_URL", mock.base_url())
        .args([&["--find-patient", "--timings"][..], &LOOKUP].concat())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line = timings_line(&out);
    let f: HashMap<String, f64> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect();
    ordered(&f, &["resolve", "connect", "first_byte", "total"]);
    assert!(
        line.contains("attempts=1") && line.contains("reused=no"),
        "{line}"
    );
}

#[test]
fn hero_send_ctrl_c_after_the_request_left_exits_6() {
    let (url, seen) = never_answers();
    let Some(out) = hero_send_interrupted(&url) else {
        return;
    };
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timings resolve="), "{err}");
    assert!(err.contains("may have been sent"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn hero_send_ctrl_c_during_the_connect_exits_130() {
    // A listener with a full accept queue: the connect's SYN goes unanswered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // SAFETY: shrinks the backlog of our own listening socket.
    unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 0) };
    let mut fillers = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        fillers.push(s);
        assert!(fillers.len() < 64);
    }
    let Some(out) = hero_send_interrupted(&format!("http://{addr}")) else {
        return;
    };
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not sent"), "{err}");
    drop(fillers);
}

#[test]
fn hero_send_timings_line() {
    let mock = Mock::start();
    let out = program("hero_send")
        .env("HERO_BASE_URL", mock.base_url())
        .args([
            "--patient-id",
            "4242",
            "--type",
            "hero",
            "--message",
            "Hi",
            "--timings",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let line = timings_line(&out);
    for key in [
        "resolve=",
        "connect=",
        "tls=",
        "first_byte=",
        "total=",
        "attempts=1",
        "reused=no",
    ] {
        assert!(line.contains(key), "{line}");
    }
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}
