//! Helpers shared by the integration tests: the real `hero-mock` binary as a
//! child process, and raw TCP servers for answers the mock cannot give.
//!
//! Each test binary compiles this module on its own, so helpers that only
//! some binaries use carry `#[allow(dead_code)]`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herohealth::{Client, ClientBuilder, Target};

/// The key the mock expects unless a test passes `--api-key` again.
#[allow(dead_code)]
pub const KEY: &str = "test-key";
/// The practice group id the mock expects.
#[allow(dead_code)]
pub const GROUP: &str = "test-group";

/// A running `hero-mock`, recording every request it reads to `record`.
/// Dropping it kills the process and removes the record file.
pub struct Mock {
    pub port: u16,
    pub record: PathBuf,
    child: Child,
}

#[allow(dead_code)]
impl Mock {
    /// The mock with the test credentials and a fresh record file.
    pub fn start() -> Mock {
        Mock::start_with(&[])
    }

    /// Like [`Mock::start`], with more flags (later flags override earlier
    /// ones, so `--api-key other` replaces the test key).
    pub fn start_with(extra: &[&str]) -> Mock {
        let record = std::env::temp_dir().join(format!("hero-mock-record-{}.jsonl", unique_hex()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_hero-mock"))
            .args([
                "--port",
                "0",
                "--api-key",
                KEY,
                "--practice-group-id",
                GROUP,
            ])
            .arg("--record")
            .arg(&record)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hero-mock");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim_end()
            .strip_prefix("hero-mock listening on http://127.0.0.1:")
            .and_then(|p| p.parse().ok());
        match port {
            Some(port) => Mock {
                port,
                record,
                child,
            },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("hero-mock did not start: {read:?}, first line {line:?}");
            }
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request the mock has read so far, one JSON object each:
    /// `method`, `path`, `headers` (names lowercased), `body` (a string).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("record line is JSON"))
            .collect()
    }

    /// A builder aimed at this mock with the credentials it expects.
    pub fn client(&self) -> ClientBuilder {
        Client::builder(Target::Custom(self.base_url()), KEY, GROUP)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.record);
    }
}

/// A server on 127.0.0.1 for one connection: it reads one whole HTTP
/// request (head, then `Content-Length` bytes of body), writes `response`
/// verbatim, closes, and hands back the raw request bytes through the handle.
#[allow(dead_code)]
pub fn one_shot_server(response: &'static [u8]) -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind one-shot server");
    let port = listener.local_addr().expect("local addr").port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let mut request = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut wanted: Option<usize> = None;
        loop {
            if let Some(total) = wanted
                && request.len() >= total
            {
                break;
            }
            let n = match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            request.extend_from_slice(&chunk[..n]);
            if wanted.is_none()
                && let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n")
            {
                wanted = Some(end + 4 + content_length(&request[..end]));
            }
        }
        let _ = stream.write_all(response);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Let the client read before the socket goes away.
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let _ = stream.read(&mut chunk);
        request
    });
    (port, handle)
}

/// The `Content-Length` of a request head (0 when absent).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A loopback port where connecting is refused for as long as this lives.
///
/// The port is the local end of a connected socket pair: nothing listens
/// on it, and no other bind (another test's server, `bind(":0")`) can take
/// it while the pair is open, unlike a port bound and released, which the
/// next server may be given.
pub struct RefusedPort {
    pub port: u16,
    _pair: (TcpStream, TcpStream),
}

#[allow(dead_code)]
pub fn refused_port() -> RefusedPort {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("local addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    RefusedPort {
        port: client.local_addr().expect("local addr").port(),
        _pair: (client, server),
    }
}

/// 16 hex digits, different on every call and in every process.
#[allow(dead_code)]
pub fn unique_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

/// True when the Windows builds of the C programs are under test
/// (`HERO_C_PROGRAMS=windows`, run under Wine).
#[allow(dead_code)]
pub fn windows_programs() -> bool {
    std::env::var_os("HERO_C_PROGRAMS").is_some_and(|v| v == "windows")
}

/// The C programs of `examples-c/`, built once per test binary with their
/// Makefile against the library in `target/`; returns `build/` (or
/// `build-windows/` when [`windows_programs`]).
#[allow(dead_code)]
pub fn c_programs() -> &'static std::path::Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let started = std::time::Instant::now();
        let out = Command::new("make")
            .arg("-C")
            .arg(root.join("examples-c"))
            .args(windows_programs().then_some("windows"))
            .arg(format!("TARGET_DIR={}", root.join("target").display()))
            .arg(format!("CARGO={}", env!("CARGO")))
            .stdin(Stdio::null())
            .output()
            .expect("run make (is it installed?)");
        assert!(
            out.status.success(),
            "make -C examples-c failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("make -C examples-c took {:?}", started.elapsed());
        let build = if windows_programs() {
            "build-windows"
        } else {
            "build"
        };
        root.join("examples-c").join(build)
    })
}
