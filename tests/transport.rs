//! The transport against loopback servers: when request bytes count as
//! written (a reset that arrives before the request is "not sent", over
//! plain TCP, TLS and a proxy tunnel; many threads against a server that
//! breaks off at every stage), and pooled connections that the server
//! closes when idle.
//!
//! Timing-sensitive steps are made deterministic where they can be (the
//! client's log hook holds the sending thread until the server has acted)
//! and given generous margins elsewhere.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use herohealth::{Client, ClientBuilder, MessageType, SendMessage, Target};

pub mod common;

const REPLY: &str = r#"{"message_id":"m-1","content":"Hello","created_at":"2026-01-01T09:00:00Z","write_to_record":false}"#;

/// A loopback listener running `handler` for each connection on its own
/// thread, with the connection's number (1, 2, …).
fn serve<H>(handler: H) -> u16
where
    H: Fn(TcpStream, usize) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let handler = Arc::new(handler);
    thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let handler = handler.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
                handler(stream, i + 1);
            });
        }
    });
    port
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request (head and `Content-Length` body); `None` when the
/// peer closed or broke off first.
fn read_request(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(buf);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A 200 reply with `extra` header lines.
fn ok_reply(extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{REPLY}",
        REPLY.len()
    )
    .into_bytes()
}

fn hello() -> SendMessage {
    SendMessage::new("4242", MessageType::Hero, "Hello")
}

fn builder(url: String) -> ClientBuilder {
    Client::builder(Target::Custom(url), "test-key", "test-group")
}

// ---------------------------------------------------------------------------
// Pooled connections and servers that close idle ones
// ---------------------------------------------------------------------------

/// What an idle-closing server saw.
#[derive(Default)]
struct Idle {
    conns: AtomicUsize,
    requests: AtomicUsize,
    /// Requests that arrived on a connection idle for the server's timeout
    /// or longer: on a real server they would have crossed its close.
    late: AtomicUsize,
}

/// A keep-alive server that closes connections idle for `timeout`,
/// advertising it as `Keep-Alive: timeout=N` when `advertise`.
///
/// The close is modelled so that the race is certain rather than rare: the
/// server keeps the socket open past its timeout, and a request that
/// arrives on a connection idle for `timeout` or more is treated as one
/// that crossed the close (read, then closed without an answer), which the
/// client can only report as "may have been sent". A client that reuses only connections
/// the server still keeps never meets it.
fn idle_closing(timeout: Duration, advertise: bool) -> (u16, Arc<Idle>) {
    let idle = Arc::new(Idle::default());
    let seen = idle.clone();
    let header = if advertise {
        format!("Keep-Alive: timeout={}\r\n", timeout.as_secs())
    } else {
        String::new()
    };
    let port = serve(move |mut stream, _| {
        seen.conns.fetch_add(1, SeqCst);
        let mut answered: Option<Instant> = None;
        // Well past the timeout, then the server closes for real.
        let _ = stream.set_read_timeout(Some(timeout + Duration::from_secs(3)));
        while let Some(_request) = read_request(&mut stream) {
            if answered.is_some_and(|at| at.elapsed() >= timeout) {
                seen.late.fetch_add(1, SeqCst);
                return;
            }
            seen.requests.fetch_add(1, SeqCst);
            if stream.write_all(&ok_reply(&header)).is_err() {
                return;
            }
            answered = Some(Instant::now());
        }
        let _ = stream.shutdown(Shutdown::Both);
    });
    (port, idle)
}

/// Sends once after each pause; every send must succeed.
fn send_after(client: &Client, pauses: &[Duration]) {
    for (i, pause) in pauses.iter().enumerate() {
        thread::sleep(*pause);
        if let Err(e) = client.send(&hello()) {
            panic!("send {} after {pause:?}: {e} / {e:?}", i + 1);
        }
    }
}

const MS: fn(u64) -> Duration = Duration::from_millis;

#[test]
fn default_idle_age_keeps_clear_of_a_five_second_server_timeout() {
    // Node.js and Apache close idle connections after 5 s; here without
    // saying so. Reuse within the default idle age (at most 4 s), a new
    // connection after it.
    let (port, idle) = idle_closing(MS(4500), false);
    let client = builder(format!("http://127.0.0.1:{port}")).build().unwrap();
    send_after(&client, &[MS(0), MS(500), MS(4600)]);
    assert_eq!(idle.late.load(SeqCst), 0);
    assert_eq!(idle.requests.load(SeqCst), 3);
    assert_eq!(
        client.connections_opened(),
        2,
        "reused once, then reconnected"
    );
    assert_eq!(idle.conns.load(SeqCst), 2);
}

#[test]
fn configured_idle_age_is_kept() {
    let (port, idle) = idle_closing(MS(1500), false);
    let client = builder(format!("http://127.0.0.1:{port}"))
        .max_idle_age(MS(1000))
        .build()
        .unwrap();
    // 1.6 s: past both; 0.3 s: reused; 1.3 s: past ours, within the server's.
    send_after(&client, &[MS(0), MS(1600), MS(300), MS(1300)]);
    assert_eq!(idle.late.load(SeqCst), 0);
    assert_eq!(client.connections_opened(), 3);
}

#[test]
fn keep_alive_timeout_from_the_server_is_honoured() {
    // The server says timeout=2: a connection idle for 1 s or more (the
    // margin) is not reused.
    let (port, idle) = idle_closing(MS(2000), true);
    let client = builder(format!("http://127.0.0.1:{port}")).build().unwrap();
    send_after(&client, &[MS(0), MS(300), MS(2100), MS(300), MS(1300)]);
    assert_eq!(idle.late.load(SeqCst), 0, "no request crossed the close");
    assert_eq!(idle.requests.load(SeqCst), 5);
    // 1 + reconnect after 2.1 s + reconnect after 1.3 s.
    assert_eq!(client.connections_opened(), 3);
}

/// Resets need SO_LINGER, which std cannot set: set through libc on unix
/// and Winsock on Windows.
mod reset {
    use super::*;
    use common::unique_hex;
    use herohealth::{ErrorKind, Outcome};
    use std::sync::Mutex;

    // ---------------------------------------------------------------------------
    // A reset before the request: not sent, and retried
    // ---------------------------------------------------------------------------

    /// Closes `stream` with a reset (SO_LINGER 0) rather than a FIN.
    #[cfg(unix)]
    fn reset(stream: TcpStream) {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket, and an option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_LINGER");
        drop(stream);
    }

    /// Closes `stream` with a reset (SO_LINGER 0) rather than a FIN.
    #[cfg(windows)]
    fn reset(stream: TcpStream) {
        use std::os::windows::io::AsRawSocket;
        use windows_sys::Win32::Networking::WinSock::{LINGER, SO_LINGER, SOL_SOCKET, setsockopt};
        let linger = LINGER {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket, and an option value of the size given.
        let rc = unsafe {
            setsockopt(
                stream.as_raw_socket() as usize,
                SOL_SOCKET,
                SO_LINGER,
                (&linger as *const LINGER).cast(),
                std::mem::size_of::<LINGER>() as i32,
            )
        };
        assert_eq!(rc, 0, "SO_LINGER");
        drop(stream);
    }

    /// Orders client and server: the client's log hook holds the sending thread
    /// at its "new connection" line (after connect and any TLS handshake,
    /// before any request byte) until the server has reset that connection.
    #[derive(Default)]
    struct Gate {
        connected: AtomicUsize,
        reset: AtomicUsize,
        /// Request bytes readable by the server when it reset, per connection.
        unread: Mutex<Vec<usize>>,
    }

    impl Gate {
        /// Log hook side.
        fn hold(&self, line: &str) {
            if !line.starts_with("new connection") {
                return;
            }
            let n = self.connected.fetch_add(1, SeqCst) + 1;
            wait_for(|| self.reset.load(SeqCst) >= n);
            // The reset is queued on the client's socket once the server's close
            // returns; a moment more for a loaded machine.
            thread::sleep(Duration::from_millis(50));
        }

        /// Server side, for connection `n`: wait until the client holds, note
        /// what it had sent (nothing, if it is held), reset.
        fn reset_when_held(&self, stream: TcpStream, n: usize) {
            wait_for(|| self.connected.load(SeqCst) >= n);
            let mut buf = [0u8; 4096];
            stream.set_nonblocking(true).unwrap();
            let unread = (&stream).read(&mut buf).unwrap_or(0);
            self.unread.lock().unwrap().push(unread);
            reset(stream);
            self.reset.fetch_add(1, SeqCst);
        }
    }

    fn wait_for(cond: impl Fn() -> bool) {
        let until = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < until, "timed out waiting");
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// A client whose sends pass through `gate`, with 3 attempts and room for them.
    fn gated(url: String, gate: &Arc<Gate>) -> ClientBuilder {
        let g = gate.clone();
        builder(url)
            .deadline(Duration::from_secs(10))
            .max_attempts(3)
            .log_hook(move |_, line| g.hold(line))
    }

    #[track_caller]
    fn expect_not_sent_and_retried(e: &herohealth::Error, gate: &Gate) {
        assert_eq!(e.outcome(), Outcome::NotSent, "{e} / {e:?}");
        assert_eq!(e.kind(), ErrorKind::Connect, "{e} / {e:?}");
        assert_eq!(e.attempts(), 3, "retried like a failed connect: {e:?}");
        assert_eq!(gate.reset.load(SeqCst), 3);
        assert_eq!(
            *gate.unread.lock().unwrap(),
            [0, 0, 0],
            "no request byte left"
        );
    }

    #[test]
    fn reset_before_the_request_is_not_sent_and_retried() {
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        let port = serve(move |stream, n| g.reset_when_held(stream, n));
        let client = gated(format!("http://127.0.0.1:{port}"), &gate)
            .build()
            .unwrap();
        let e = client.send(&hello()).unwrap_err();
        expect_not_sent_and_retried(&e, &gate);
    }

    #[test]
    fn reset_after_the_tls_handshake_before_the_request_is_not_sent() {
        let pki = Pki::new();
        let config = pki.server_config();
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        let port = serve(move |mut tcp, n| {
            // Handshake for as long as the client needs (with TLS 1.3 the
            // client's Finished leaves with its first request bytes), then reset.
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            tcp.set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            while g.connected.load(SeqCst) < n {
                if conn.is_handshaking() {
                    let _ = conn.complete_io(&mut tcp);
                } else {
                    thread::sleep(Duration::from_millis(2));
                }
            }
            tcp.set_read_timeout(None).unwrap();
            g.reset_when_held(tcp, n);
        });
        let ca = pki.ca_file();
        let client = gated(format!("https://localhost:{port}"), &gate)
            .ca_file(&ca.0)
            .build()
            .unwrap();
        let e = client.send(&hello()).unwrap_err();
        expect_not_sent_and_retried(&e, &gate);
    }

    #[test]
    fn reset_of_the_proxy_tunnel_before_the_request_is_not_sent() {
        // The CONNECT line is accepted by the kernel and answered; only the
        // request bytes count, and none left.
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        let connects = Arc::new(AtomicUsize::new(0));
        let seen = connects.clone();
        let proxy = serve(move |mut stream, n| {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read(&mut byte).unwrap_or(0) == 0 {
                    return;
                }
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"CONNECT "));
            seen.fetch_add(1, SeqCst);
            stream
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .unwrap();
            g.reset_when_held(stream, n);
        });
        // The target is never reached: the proxy answers for it.
        let client = gated("http://127.0.0.1:9".to_owned(), &gate)
            .proxy(format!("http://127.0.0.1:{proxy}"))
            .build()
            .unwrap();
        let e = client.send(&hello()).unwrap_err();
        expect_not_sent_and_retried(&e, &gate);
        assert_eq!(connects.load(SeqCst), 3);
    }

    // ---------------------------------------------------------------------------
    // Many threads, one client, a server that breaks off at every stage
    // ---------------------------------------------------------------------------

    /// What the server saw of each message, by its patient id.
    #[derive(Default)]
    struct Seen(Mutex<std::collections::HashMap<String, usize>>);

    impl Seen {
        fn note(&self, bytes: &[u8]) {
            let text = String::from_utf8_lossy(bytes);
            let mut seen = self.0.lock().unwrap();
            for piece in text.split("\"patient_id\":\"").skip(1) {
                if let Some(end) = piece.find('"') {
                    *seen.entry(piece[..end].to_owned()).or_default() += 1;
                }
            }
        }

        fn count(&self, id: &str) -> usize {
            self.0.lock().unwrap().get(id).copied().unwrap_or(0)
        }
    }

    #[test]
    fn threads_sharing_a_client_get_the_rule_at_every_stage() {
        // Per request, in turn: answer; read it and reset; reset at once
        // (noting what had already arrived); answer and close.
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        let turn = Arc::new(AtomicUsize::new(0));
        let port = serve(move |mut stream, _| {
            loop {
                let mode = turn.fetch_add(1, SeqCst) % 4;
                if mode == 2 {
                    stream.set_nonblocking(true).unwrap();
                    let mut buf = [0u8; 4096];
                    if let Ok(n) = (&stream).read(&mut buf) {
                        s.note(&buf[..n]);
                    }
                    return reset(stream);
                }
                let Some(request) = read_request(&mut stream) else {
                    return;
                };
                s.note(&request);
                match mode {
                    1 => return reset(stream),
                    3 => {
                        let _ = stream.write_all(&ok_reply("Connection: close\r\n"));
                        return;
                    }
                    _ => {
                        if stream.write_all(&ok_reply("")).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let client = builder(format!("http://127.0.0.1:{port}"))
            .deadline(Duration::from_secs(20))
            .build()
            .unwrap();
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let client = client.clone();
                thread::spawn(move || {
                    (0..25)
                        .map(|i| {
                            let id = format!("{}", 10_000 + t * 100 + i);
                            let result = client
                                .send(&SendMessage::new(&id, MessageType::Hero, "Hello"))
                                .map_err(|e| (e.outcome(), e.attempts()));
                            (id, result)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut tally = std::collections::BTreeMap::new();
        for t in threads {
            for (id, result) in t.join().unwrap() {
                let times = seen.count(&id);
                match result {
                    Ok(_) => assert_eq!(times, 1, "{id}: answered once"),
                    Err((Outcome::NotSent, _)) => assert_eq!(times, 0, "{id}: not sent"),
                    Err((Outcome::MayHaveBeenSent, _)) => {
                        assert!(times <= 1, "{id}: sent {times} times")
                    }
                    Err(other) => panic!("{id}: {other:?}"),
                }
                *tally
                    .entry(format!("{:?}", result.map(|_| ()).map_err(|e| e.0)))
                    .or_insert(0) += 1;
            }
        }
        // Both answers and broken exchanges were met.
        assert!(tally.len() >= 2, "{tally:?}");
    }

    // ---------------------------------------------------------------------------
    // Certificates
    // ---------------------------------------------------------------------------

    /// A private CA and a server certificate for "localhost", made for this run.
    struct Pki {
        ca_pem: String,
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    }

    impl Pki {
        fn new() -> Pki {
            use rcgen::{
                BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
                KeyPair, KeyUsagePurpose,
            };
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, "herohealth transport test CA");
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let ca_key = KeyPair::generate().unwrap();
            let ca = params.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(params, ca_key);
            let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            leaf.use_authority_key_identifier_extension = true;
            leaf.key_usages.push(KeyUsagePurpose::DigitalSignature);
            leaf.extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
            let key = KeyPair::generate().unwrap();
            let cert = leaf.signed_by(&key, &issuer).unwrap();
            Pki {
                ca_pem: ca.pem(),
                chain: vec![cert.der().clone()],
                key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            }
        }

        fn server_config(&self) -> Arc<rustls::ServerConfig> {
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .unwrap();
            Arc::new(config)
        }

        fn ca_file(&self) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("herohealth-transport-ca-{}.pem", unique_hex()));
            std::fs::write(&path, &self.ca_pem).unwrap();
            TempFile(path)
        }
    }

    /// A file removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
