//! Cancelling a send in each phase against raw loopback servers that stall
//! there: the outcome, whether the server saw a request, and how soon the
//! send returned after the trigger.

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use herohealth::{CancelHandle, Client, ErrorKind, MessageType, Outcome, SendMessage, Target};

pub mod common;

/// The bound from trigger to return; the mechanism is event-driven,
/// so a busy machine adds scheduling delay only.
const PROMPT: Duration = Duration::from_millis(100);

fn client(base: &str) -> Client {
    Client::builder(Target::Custom(base.into()), common::KEY, common::GROUP)
        .deadline(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(20))
        .max_retry_wait(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Hero's answer to a send, in full.
const OK_REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"message_id\":\"m-1\"}";

fn message() -> SendMessage {
    SendMessage::new("4242", MessageType::Sms, "Your results are ready.")
}

/// A server that accepts connections and, for each, runs `serve`; counts
/// the request heads it saw.
struct Stall {
    port: u16,
    requests: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
}

impl Stall {
    fn start(answer: Option<&'static [u8]>, read: bool) -> Stall {
        let requests = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (r, a) = (requests.clone(), accepted.clone());
        let port = common::serve(move |mut stream, _| {
            a.fetch_add(1, Ordering::SeqCst);
            if !read {
                // Hold the connection without reading: the kernel still
                // takes the request.
                thread::sleep(Duration::from_secs(30));
                return;
            }
            while common::read_request(&mut stream).is_some() {
                r.fetch_add(1, Ordering::SeqCst);
                if let Some(answer) = answer {
                    let _ = stream.write_all(answer);
                }
            }
        });
        Stall {
            port,
            requests,
            accepted,
        }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

/// Sends on this thread and triggers from another once `ready` says the
/// send reached the phase under test; returns the error and the time
/// from trigger to return.
fn cancel_when(
    client: &Client,
    ready: impl FnOnce() + Send + 'static,
) -> (herohealth::Error, Duration) {
    let cancel = CancelHandle::new().unwrap();
    let trigger = cancel.clone();
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        ready();
        let at = Instant::now();
        trigger.trigger();
        tx.send(at).unwrap();
    });
    let result = client.send_cancellable(&message(), &cancel);
    let returned = Instant::now();
    t.join().unwrap();
    let at = rx.recv().unwrap();
    let e = result.expect_err("a cancelled send fails");
    assert!(cancel.is_triggered(), "a triggered handle stays triggered");
    (e, returned.saturating_duration_since(at))
}

/// Waits until `f` holds (the server reached a stage), up to 10 s.
fn until(f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "the stage was never reached");
        thread::sleep(Duration::from_millis(2));
    }
    // Let the client block in its call.
    thread::sleep(Duration::from_millis(100));
}

fn assert_cancelled(e: &herohealth::Error, outcome: Outcome, took: Duration) {
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert_eq!(e.outcome(), outcome, "{e}");
    assert!(took < PROMPT, "returned {took:?} after the trigger");
}

#[test]
fn a_triggered_handle_sends_nothing() {
    let server = Stall::start(None, true);
    let c = client(&server.url("http"));
    let cancel = CancelHandle::new().unwrap();
    cancel.trigger();
    let e = c.send_cancellable(&message(), &cancel).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert_eq!(e.outcome(), Outcome::NotSent);
    assert_eq!(e.attempts(), 0);
    // Again: still triggered.
    let e = c.send_cancellable(&message(), &cancel).unwrap_err();
    assert_eq!(e.outcome(), Outcome::NotSent);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(server.accepted.load(Ordering::SeqCst), 0, "no connection");
}

#[test]
fn cancel_while_hero_never_answers_may_have_been_sent() {
    let server = Stall::start(None, true);
    let c = client(&server.url("http"));
    let seen = server.requests.clone();
    let (e, took) = cancel_when(&c, move || until(|| seen.load(Ordering::SeqCst) == 1));
    assert_cancelled(&e, Outcome::MayHaveBeenSent, took);
    assert_eq!(e.attempts(), 1);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(server.requests.load(Ordering::SeqCst), 1, "never retried");
}

#[test]
fn cancel_while_the_server_reads_nothing_may_have_been_sent() {
    // The kernel accepted the request even though nobody read it.
    let server = Stall::start(None, false);
    let c = client(&server.url("http"));
    let accepted = server.accepted.clone();
    let (e, took) = cancel_when(&c, move || until(|| accepted.load(Ordering::SeqCst) == 1));
    assert_cancelled(&e, Outcome::MayHaveBeenSent, took);
}

#[test]
fn cancel_during_a_stalled_tls_handshake_is_not_sent() {
    // Reads the ClientHello and never answers it.
    let server = Stall::start(None, false);
    let c = client(&server.url("https"));
    let accepted = server.accepted.clone();
    let (e, took) = cancel_when(&c, move || until(|| accepted.load(Ordering::SeqCst) == 1));
    assert_cancelled(&e, Outcome::NotSent, took);
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn cancel_during_a_stalled_proxy_tunnel_is_not_sent() {
    // A proxy that takes the CONNECT line and never answers it.
    let proxy = Stall::start(None, true);
    let c = Client::builder(
        Target::Custom("https://hero.invalid".into()),
        common::KEY,
        common::GROUP,
    )
    .proxy(format!("http://127.0.0.1:{}", proxy.port))
    .deadline(Duration::from_secs(20))
    .build()
    .unwrap();
    let seen = proxy.requests.clone();
    let (e, took) = cancel_when(&c, move || until(|| seen.load(Ordering::SeqCst) == 1));
    assert_cancelled(&e, Outcome::NotSent, took);
}

#[test]
fn cancel_while_waiting_out_a_429_is_not_sent_and_asks_no_more() {
    let server = Stall::start(
        Some(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 10\r\nContent-Length: 0\r\n\r\n"),
        true,
    );
    let c = client(&server.url("http"));
    let seen = server.requests.clone();
    let (e, took) = cancel_when(&c, move || until(|| seen.load(Ordering::SeqCst) == 1));
    assert_cancelled(&e, Outcome::NotSent, took);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        1,
        "no further request"
    );
}

#[test]
fn cancel_during_backoff_after_a_refused_connect_is_not_sent() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::builder(
        Target::Custom(format!("http://127.0.0.1:{port}")),
        common::KEY,
        common::GROUP,
    )
    .deadline(Duration::from_secs(60))
    .max_attempts(50)
    .build()
    .unwrap();
    let (e, took) = cancel_when(&c, || thread::sleep(Duration::from_millis(300)));
    assert_cancelled(&e, Outcome::NotSent, took);
}

/// A listener whose accept queue is full: further SYNs go unanswered, so
/// a connect to it blocks until cancelled.
#[cfg(target_os = "linux")]
fn black_hole() -> (u16, Vec<std::net::TcpStream>, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    // SAFETY: just opened.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let mut bound = addr;
    // SAFETY: valid sockaddr_in buffers of `len` bytes.
    unsafe {
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        libc::getsockname(fd, (&mut bound as *mut libc::sockaddr_in).cast(), &mut len);
    }
    let port = u16::from_be(bound.sin_port);
    (port, fill_queue(port), owned)
}

/// Connects to `port` until a connect is left waiting: its queue is full.
#[cfg(any(target_os = "linux", windows))]
fn fill_queue(port: u16) -> Vec<std::net::TcpStream> {
    let mut fillers = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_millis(300),
        ) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
        assert!(fillers.len() < 64, "the accept queue never filled");
    }
    fillers
}

/// As on Linux: a listener with a backlog of 0, its queue filled.
#[cfg(windows)]
fn black_hole() -> (u16, Vec<std::net::TcpStream>, TcpListener) {
    use std::os::windows::io::AsRawSocket;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // SAFETY: shrinks the backlog of our own listening socket.
    let rc = unsafe {
        windows_sys::Win32::Networking::WinSock::listen(listener.as_raw_socket() as _, 0)
    };
    assert_eq!(rc, 0);
    (port, fill_queue(port), listener)
}

#[cfg(any(target_os = "linux", windows))]
#[test]
fn cancel_during_an_unanswered_connect_is_not_sent() {
    let (port, _fillers, _listener) = black_hole();
    let c = client(&format!("http://127.0.0.1:{port}"));
    let (e, took) = cancel_when(&c, || thread::sleep(Duration::from_millis(300)));
    assert_cancelled(&e, Outcome::NotSent, took);
}

#[cfg(unix)]
mod signal {
    use super::*;
    use std::sync::OnceLock;

    static HANDLE: OnceLock<CancelHandle> = OnceLock::new();

    extern "C" fn on_signal(_: libc::c_int) {
        if let Some(h) = HANDLE.get() {
            h.trigger();
        }
    }

    #[test]
    fn a_signal_handler_cancels_a_send_in_flight() {
        let server = Stall::start(None, true);
        let c = client(&server.url("http"));
        let cancel = HANDLE.get_or_init(|| CancelHandle::new().unwrap()).clone();
        // SAFETY: installs a handler that only triggers the handle.
        unsafe {
            libc::signal(libc::SIGUSR2, on_signal as *const () as libc::sighandler_t);
        }
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let seen = server.requests.clone();
        let (tx, rx) = mpsc::channel();
        let t = thread::spawn(move || {
            until(|| seen.load(Ordering::SeqCst) == 1);
            let at = Instant::now();
            // Delivered to the sending thread itself, inside its recv.
            // SAFETY: the test thread is alive until joined below.
            unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
            tx.send(at).unwrap();
        });
        let e = c.send_cancellable(&message(), &cancel).unwrap_err();
        let returned = Instant::now();
        t.join().unwrap();
        let took = returned.saturating_duration_since(rx.recv().unwrap());
        assert_cancelled(&e, Outcome::MayHaveBeenSent, took);
    }
}

#[test]
fn an_untriggered_handle_changes_nothing_and_reuses_the_connection() {
    let server = Stall::start(
        Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"message_id\":\"m-1\"}"),
        true,
    );
    let c = client(&server.url("http"));
    let cancel = CancelHandle::new().unwrap();
    for _ in 0..3 {
        let reply = c.send_cancellable(&message(), &cancel).unwrap();
        assert_eq!(reply.message_id(), "m-1");
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    assert_eq!(c.connections_opened(), 1, "kept alive across sends");
}

#[test]
fn a_debug_log_line_carries_the_timings() {
    let server = Stall::start(
        Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"message_id\":\"m-1\"}"),
        true,
    );
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = lines.clone();
    let c = Client::builder(
        Target::Custom(server.url("http")),
        common::KEY,
        common::GROUP,
    )
    .log_hook(move |level, line| {
        if level == herohealth::LogLevel::Debug {
            seen.lock().unwrap().push(line.to_owned());
        }
    })
    .build()
    .unwrap();
    let reply = c.send(&message()).unwrap();
    let t = reply.timings();
    assert!(
        t.resolve() <= t.connect() && t.connect() <= t.first_byte() && t.first_byte() <= t.total()
    );
    let lines = lines.lock().unwrap();
    let line = lines
        .iter()
        .find(|l| l.starts_with("timings: "))
        .expect("a timings line");
    for key in [
        "resolve=",
        "connect=",
        "tls=0.0",
        "first_byte=",
        "total=",
        "attempts=1",
        "reused=false",
    ] {
        assert!(line.contains(key), "{line}");
    }
    assert!(
        !line.contains("4242") && !line.contains("results"),
        "{line}"
    );
}

fn query() -> herohealth::PatientQuery {
    herohealth::PatientQuery::by_nhs_number("943 476 5919", "1992-01-01")
}

#[test]
fn cancel_a_lookup_hero_never_answers_is_not_sent_and_not_retried() {
    let server = Stall::start(None, true);
    let c = client(&server.url("http"));
    let cancel = CancelHandle::new().unwrap();
    let trigger = cancel.clone();
    let seen = server.requests.clone();
    let t = thread::spawn(move || {
        until(|| seen.load(Ordering::SeqCst) == 1);
        let at = Instant::now();
        trigger.trigger();
        at
    });
    let result = c.find_patient_timed(&query(), Some(&cancel));
    let returned = Instant::now();
    let at = t.join().unwrap();
    let e = result.expect_err("a cancelled lookup fails");
    // A lookup sends no message: not sent even after its request left.
    assert_cancelled(&e, Outcome::NotSent, returned.saturating_duration_since(at));
    assert_eq!(e.attempts(), 1);
    assert!(e.timings().connect() > Duration::ZERO, "it had connected");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        1,
        "a cancelled lookup is not retried"
    );
}

#[test]
fn a_lookup_and_send_cancelled_in_its_lookup_sends_nothing() {
    let server = Stall::start(None, true);
    let c = client(&server.url("http"));
    let cancel = CancelHandle::new().unwrap();
    cancel.trigger();
    let e = c
        .find_and_send_cancellable(&query(), &message(), &cancel)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert_eq!(e.outcome(), Outcome::NotSent);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(server.accepted.load(Ordering::SeqCst), 0, "no connection");
}

#[test]
fn a_lookup_answer_carries_ordered_timings() {
    let server = Stall::start(
        Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"patient_id\":\"p-1\"}"),
        true,
    );
    let c = client(&server.url("http"));
    let (answer, t) = c.find_patient_timed(&query(), None).unwrap();
    assert_eq!(answer.patient_id(), Some("p-1"));
    assert!(t.connect() > Duration::ZERO, "a new connection");
    assert!(
        t.resolve() <= t.connect() && t.connect() <= t.first_byte() && t.first_byte() <= t.total(),
        "{t:?}"
    );
    assert_eq!(t.tls(), Duration::ZERO, "plain http");
    assert_eq!((t.attempts(), t.connection_reused()), (1, false));
    // The next lookup reuses the connection, and says so.
    let (_, again) = c.find_patient_timed(&query(), None).unwrap();
    assert!(again.connection_reused());
    assert_eq!(again.connect(), Duration::ZERO);
}

/// Starts `sends` sends sharing one handle against a server that reads
/// each request and never answers, triggers it once all are waiting, and
/// returns each send's error and time from the trigger to its return.
fn cancel_many(sends: usize) -> Vec<(herohealth::Error, Duration)> {
    let server = Stall::start(None, true);
    let c = client(&server.url("http"));
    let cancel = CancelHandle::new().unwrap();
    let (tx, rx) = mpsc::channel();
    for _ in 0..sends {
        let (c, cancel, tx) = (c.clone(), cancel.clone(), tx.clone());
        thread::spawn(move || {
            let result = c.send_cancellable(&message(), &cancel);
            tx.send((Instant::now(), result)).unwrap();
        });
    }
    let requests = server.requests.clone();
    until(move || requests.load(Ordering::SeqCst) == sends);
    let at = Instant::now();
    cancel.trigger();
    (0..sends)
        .map(|_| {
            let (returned, result) = rx.recv().unwrap();
            (
                result.expect_err("cancelled"),
                returned.saturating_duration_since(at),
            )
        })
        .collect()
}

/// One handle given to several sends in flight at once: a trigger ends
/// every one of them promptly, not only the last to start.
#[test]
fn one_handle_cancels_every_send_in_flight_on_it() {
    for (e, took) in cancel_many(4) {
        assert_cancelled(&e, Outcome::MayHaveBeenSent, took);
    }
}

/// More sends on one handle than the 64 whose sockets a trigger shuts
/// down: those beyond wait in slices and end too, long before their 20 s
/// deadline. (Seventy threads returning at once on a busy machine take
/// their time, so the bound here is the deadline's, not [`PROMPT`].)
#[test]
fn one_handle_cancels_sends_beyond_its_socket_slots() {
    for (e, took) in cancel_many(70) {
        assert_eq!(
            (e.kind(), e.outcome()),
            (ErrorKind::Cancelled, Outcome::MayHaveBeenSent),
            "{e}"
        );
        assert!(
            took < Duration::from_secs(5),
            "returned {took:?} after the trigger"
        );
    }
}

/// A lookup that read an answer body and is waiting to retry holds no claim
/// on the connection it gave back to the pool: a trigger of its handle
/// leaves alone the send of another thread that took that connection.
#[test]
fn a_cancel_during_a_retry_wait_spares_the_connection_another_send_took() {
    let sends = Arc::new(AtomicUsize::new(0));
    let s = sends.clone();
    let port = common::serve(move |mut stream, n| {
        while let Some(req) = common::read_request(&mut stream) {
            if req.head().starts_with("POST /v1/patients/") {
                // The body comes later, so the lookup waits for it on the socket.
                let _ = stream
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n");
                thread::sleep(Duration::from_millis(50));
                let _ = stream.write_all(b"{}");
            } else {
                s.fetch_add(1, Ordering::SeqCst);
                // The trigger comes while this send waits for its answer.
                thread::sleep(Duration::from_millis(if n == 1 { 500 } else { 0 }));
                let _ = stream.write_all(OK_REPLY);
            }
        }
    });
    let cancel = CancelHandle::new().unwrap();
    let (trigger, sends2) = (cancel.clone(), sends.clone());
    let other: Arc<std::sync::Mutex<Option<thread::JoinHandle<_>>>> = Default::default();
    let other2 = other.clone();
    let slot: Arc<std::sync::OnceLock<Client>> = Default::default();
    let slot2 = slot.clone();
    let c = Client::builder(
        Target::Custom(format!("http://127.0.0.1:{port}")),
        common::KEY,
        common::GROUP,
    )
    .deadline(Duration::from_secs(20))
    .log_hook(move |_, line| {
        if line.contains("retrying in") && other2.lock().unwrap().is_none() {
            // The lookup is about to wait; another thread sends meanwhile,
            // on the connection the lookup gave back.
            let c = slot2.get().unwrap().clone();
            *other2.lock().unwrap() = Some(thread::spawn(move || c.send(&message())));
            let end = Instant::now() + Duration::from_secs(10);
            while sends2.load(Ordering::SeqCst) == 0 && Instant::now() < end {
                thread::sleep(Duration::from_millis(2));
            }
            thread::sleep(Duration::from_millis(100));
            trigger.trigger();
        }
    })
    .build()
    .unwrap();
    slot.set(c.clone()).ok().unwrap();
    let e = c.find_patient_timed(&query(), Some(&cancel)).unwrap_err();
    assert_eq!(
        (e.kind(), e.outcome()),
        (ErrorKind::Cancelled, Outcome::NotSent),
        "{e}"
    );
    let sent = other.lock().unwrap().take().unwrap().join().unwrap();
    let reply = sent.expect("a send nobody cancelled succeeds");
    assert!(!reply.message_id().is_empty());
    assert_eq!(sends.load(Ordering::SeqCst), 1, "sent once");
}

/// A cancel after Hero's status line arrived, while the rest of its head
/// is still coming: the status decides, as for a whole answer (a 400 is a
/// refusal, a 200 an acceptance), and the send still returns promptly.
#[test]
fn a_cancel_after_the_status_line_keeps_what_the_status_said() {
    for (head, outcome, status) in [
        (
            &b"HTTP/1.1 400 Bad Request\r\nContent-Type: appl"[..],
            Outcome::Refused,
            400,
        ),
        (
            &b"HTTP/1.1 200 OK\r\nContent-Type: appl"[..],
            Outcome::AcceptedIdUnknown,
            200,
        ),
    ] {
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        let port = common::serve(move |mut stream, _| {
            if common::read_request(&mut stream).is_some() {
                let _ = stream.write_all(head);
                s.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_secs(30));
            }
        });
        let c = client(&format!("http://127.0.0.1:{port}"));
        let (e, took) = cancel_when(&c, move || until(|| seen.load(Ordering::SeqCst) == 1));
        assert_eq!((e.outcome(), e.status()), (outcome, Some(status)), "{e}");
        assert_eq!(e.attempts(), 1);
        assert!(took < PROMPT, "returned {took:?} after the trigger");
    }
}

/// A cancellable send started inside another (from its log hook) with a
/// handle of its own: each handle keeps to its own sends. The inner one
/// takes no slot from another thread's send on its handle, and the outer
/// handle names no socket once its send is over.
#[test]
fn a_send_inside_a_send_keeps_each_handle_to_its_own_sends() {
    let stalled = Stall::start(None, true);
    let fast = Stall::start(Some(OK_REPLY), true);
    let inner_handle = CancelHandle::new().unwrap();
    // Another thread's send on the inner handle, blocked for its answer.
    let (tx, rx) = mpsc::channel();
    let (c, h) = (client(&stalled.url("http")), inner_handle.clone());
    thread::spawn(move || {
        let result = c.send_cancellable(&message(), &h);
        tx.send((Instant::now(), result)).unwrap();
    });
    let requests = stalled.requests.clone();
    until(move || requests.load(Ordering::SeqCst) == 1);

    let inner = client(&fast.url("http"));
    let (h, nested) = (inner_handle.clone(), Arc::new(AtomicUsize::new(0)));
    let n = nested.clone();
    let outer = Client::builder(Target::Custom(fast.url("http")), common::KEY, common::GROUP)
        .deadline(Duration::from_secs(20))
        .log_hook(move |_, line| {
            if line.starts_with("new connection") && n.fetch_add(1, Ordering::SeqCst) == 0 {
                inner.send_cancellable(&message(), &h).unwrap();
            }
        })
        .build()
        .unwrap();
    let outer_handle = CancelHandle::new().unwrap();
    outer.send_cancellable(&message(), &outer_handle).unwrap();
    assert_eq!(nested.load(Ordering::SeqCst), 1, "the inner send ran");

    let at = Instant::now();
    inner_handle.trigger();
    let (returned, result) = rx.recv().unwrap();
    let e = result.expect_err("cancelled");
    assert_cancelled(
        &e,
        Outcome::MayHaveBeenSent,
        returned.saturating_duration_since(at),
    );

    // The outer send is over: its handle's trigger touches no connection.
    let opened = outer.connections_opened();
    outer_handle.trigger();
    outer.send(&message()).unwrap();
    assert_eq!(
        outer.connections_opened(),
        opened,
        "the pooled connection was shut down"
    );
}
