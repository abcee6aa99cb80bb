//! Cancelling a send while the system resolver is stalled: the test's own
//! thread moves into a private mount namespace whose /etc/resolv.conf names
//! a loopback "nameserver" that takes queries and never answers, so the
//! real glibc resolver blocks. Its own process (this file), so no other
//! test shares the resolver's state. Needs root (port 53, mounts).
#![cfg(target_os = "linux")]

use std::ffi::CString;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use herohealth::{CancelHandle, Client, ErrorKind, MessageType, Outcome, SendMessage, Target};

pub mod common;

const NAMESERVER: &str = "127.0.0.77";

/// Moves this thread (and the threads it starts) into a mount namespace
/// where /etc/resolv.conf points at `NAMESERVER`. False when not permitted.
fn stall_dns_for_this_thread(dir: &std::path::Path) -> bool {
    let conf = dir.join("resolv.conf");
    std::fs::write(
        &conf,
        format!("nameserver {NAMESERVER}\noptions timeout:30 attempts:1\n"),
    )
    .unwrap();
    let c = |s: &str| CString::new(s).unwrap();
    let (root, target) = (c("/"), c("/etc/resolv.conf"));
    let source = c(conf.to_str().unwrap());
    // SAFETY: plain system calls with NUL-terminated paths that outlive them;
    // the namespace is this thread's alone.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return false;
        }
        // Keep the bind mount out of the parent namespace.
        assert_eq!(
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0
        );
        assert_eq!(
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null()
            ),
            0,
            "bind-mounting resolv.conf: {}",
            std::io::Error::last_os_error()
        );
    }
    true
}

#[test]
fn cancel_while_the_resolver_is_stalled_is_not_sent() {
    // SAFETY: no arguments.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: stalling the system resolver needs root (port 53, mounts)");
        return;
    }
    let dns = UdpSocket::bind((NAMESERVER, 53)).expect("the stalled nameserver's port");
    let queries = Arc::new(AtomicUsize::new(0));
    let q = queries.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        // Takes every query, answers none.
        while dns.recv_from(&mut buf).is_ok() {
            q.fetch_add(1, Ordering::SeqCst);
        }
    });
    let dir = std::env::temp_dir().join(format!("hero-dns-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(
        stall_dns_for_this_thread(&dir),
        "unshare(CLONE_NEWNS) refused as root: {}",
        std::io::Error::last_os_error()
    );

    let client = Client::builder(
        Target::Custom("https://hero-stall.example".into()),
        common::KEY,
        common::GROUP,
    )
    .deadline(Duration::from_secs(20))
    .connect_timeout(Duration::from_secs(20))
    .build()
    .unwrap();
    let message = SendMessage::new("4242", MessageType::Sms, "Your results are ready.");
    let cancel = CancelHandle::new().unwrap();
    let trigger = cancel.clone();
    let seen = queries.clone();
    let t = thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(10);
        while seen.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < end, "the resolver never queried");
            thread::sleep(Duration::from_millis(2));
        }
        // Let the send block on the answer.
        thread::sleep(Duration::from_millis(100));
        let at = Instant::now();
        trigger.trigger();
        at
    });
    let result = client.send_cancellable(&message, &cancel);
    let returned = Instant::now();
    let at = t.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let e = result.expect_err("a cancelled send fails");
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert_eq!(e.outcome(), Outcome::NotSent, "{e}");
    let took = returned.saturating_duration_since(at);
    assert!(
        took < Duration::from_millis(100),
        "returned {took:?} after the trigger"
    );
    assert_eq!(e.timings().resolve(), Duration::ZERO, "never resolved");
    assert!(queries.load(Ordering::SeqCst) >= 1);
}
