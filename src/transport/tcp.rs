//! A TCP transport for ureq that makes fewer system calls per send.
//!
//! ureq's own TCP transport spends about twelve system calls on a kept-alive
//! send: two liveness probes of three calls each, a timeout update before
//! every read and write, and separate writes for headers and body. This one
//! needs about four: a one-call probe (`recv` with `MSG_PEEK|MSG_DONTWAIT`
//! on unix), one `send` for the whole request, one `recv`, and a timeout
//! update only when the remaining time has moved noticeably.
//!
//! It is also where "request written" is decided: only a `send` the kernel
//! accepted bytes from counts (see [`wire::accepted`]). It runs on every
//! platform for that reason; only the liveness probe and what a failed
//! `send` can tell (see [`RESUMABLE_SEND`]) differ.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::Timeout;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};

use crate::transport::secret::wipe;
use crate::transport::wire;

/// Request bytes held back until the transport must wait for input, so
/// headers and body (or their TLS records) leave in one `send`.
const MAX_PENDING: usize = 64 * 1024;

/// Whether a `send` that timed out may be resumed. On unix a timed-out
/// `send` returns the count of what it had already passed on; Windows
/// reports only the timeout, leaving the socket in an indeterminate state:
/// part of the data may have gone, so it must be neither sent again nor
/// counted as unsent.
const RESUMABLE_SEND: bool = cfg!(unix);

/// The part of `pending` to offer in one `send`. Where a failed `send`
/// does not say how much of it went (Windows), those before request bytes
/// are known to have left are kept small enough (8 KiB) for an idle
/// socket's buffer to take them whole or not at all, so their failure still
/// means nothing left. Later ones may be larger: by then the request may
/// have been sent anyway.
#[cfg(not(unix))]
fn next_send(pending: &[u8]) -> &[u8] {
    if wire::request_written() {
        pending
    } else {
        &pending[..pending.len().min(8 * 1024)]
    }
}

/// The part of `pending` to offer in one `send`: all of it, as a failed
/// `send` here says how much went.
#[cfg(unix)]
fn next_send(pending: &[u8]) -> &[u8] {
    pending
}

/// Opens connections as [`FastTcp`] transports.
#[derive(Debug, Default)]
pub(crate) struct FastTcpConnector;

impl<In: Transport> Connector<In> for FastTcpConnector {
    type Out = Either<In, FastTcp>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            // An earlier connector (a proxy) already made the connection.
            return Ok(Some(Either::A(transport)));
        }
        let budget = details.timeout.not_zero().map(|t| *t);
        let stream = connect_any(details.addrs.iter().copied(), budget)?;
        crate::transport::timing::mark(crate::transport::timing::Phase::Connect);
        stream.set_nodelay(true)?;
        let stream = Arc::new(stream);
        (details.register_shutdown)(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>)?;
        let config = details.config;
        Ok(Some(Either::B(FastTcp {
            stream,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            pending: Vec::new(),
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// Tries each address in turn, sharing the time budget between them.
fn connect_any(
    addrs: impl ExactSizeIterator<Item = SocketAddr>,
    budget: Option<Duration>,
) -> Result<TcpStream, ureq::Error> {
    let start = Instant::now();
    let count = addrs.len() as u32;
    let mut last = None;
    for (i, addr) in addrs.enumerate() {
        // An IPv4 address written in IPv6 form (`[::ffff:a.b.c.d]`) is
        // reached over IPv4: Windows' IPv6 sockets are IPv6-only by default.
        let addr = match addr {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(v4.into(), v6.port()),
                None => addr,
            },
            SocketAddr::V4(_) => addr,
        };
        let left = budget.map(|total| total.saturating_sub(start.elapsed()));
        if let Some(result) = crate::cancel::connect(addr, left) {
            // A cancellable send: connect polled beside its wake-up.
            match result {
                Ok(stream) => return Ok(stream),
                Err(e) if e.kind() == crate::cancel::ABORTED && crate::cancel::triggered() => {
                    return Err(ureq::Error::Io(e));
                }
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            }
        }
        let result = match budget {
            None => TcpStream::connect(addr),
            Some(total) => {
                let left = total.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(Timeout::Connect));
                }
                // The first addresses get the larger share, the last all that is left.
                let share = (left / (count - i as u32).max(1)).max(Duration::from_millis(10));
                TcpStream::connect_timeout(&addr, share.min(left))
            }
        };
        match result {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            ureq::Error::Timeout(Timeout::Connect)
        }
        Some(e) => ureq::Error::Io(e),
        None => ureq::Error::HostNotFound,
    })
}

/// A kept-alive TCP connection (see the module documentation).
#[derive(Debug)]
pub(crate) struct FastTcp {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    pending: Vec<u8>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// How far a socket timeout already set may fall short of the one wanted
/// and still be kept (a read that times out early is simply resumed), and
/// how far past it. The time left shrinks on every call; a system call per
/// read to track it exactly is not worth it.
const SHORT_BY: Duration = Duration::from_millis(250);
const LONG_BY: Duration = Duration::from_millis(5);

/// Sets a socket timeout unless the one set is close enough to `wanted`.
fn retime(
    current: &mut Option<Duration>,
    wanted: Option<Duration>,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    let close_enough = match (*current, wanted) {
        (None, None) => true,
        (Some(c), Some(w)) => c <= w + LONG_BY && c + SHORT_BY.min(w / 16) >= w,
        _ => false,
    };
    if close_enough {
        return Ok(());
    }
    match set(wanted) {
        Ok(()) => *current = wanted,
        // macOS refuses timeout changes once the peer has closed with unread
        // request data; the answer may still be readable, so let I/O decide.
        Err(e) if cfg!(target_os = "macos") && e.kind() == io::ErrorKind::InvalidInput => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Runs one blocking socket call so that it ends by `deadline`: resumed
/// after a signal (Linux does not restart socket calls that have a timeout,
/// and each restart would otherwise get the full timeout again) and after a
/// kept timeout that fired before the deadline, when `resumable` (see
/// [`RESUMABLE_SEND`]; otherwise the timeout is the time left, and final).
fn by_deadline<T>(
    current: &mut Option<Duration>,
    deadline: Option<Instant>,
    resumable: bool,
    set: impl Fn(Option<Duration>) -> io::Result<()>,
    mut call: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    // Winsock's shutdown does not wake a blocked recv, and a send beyond
    // its handle's slots has no socket a trigger shuts down: such a
    // cancellable send waits in short slices, looking at its handle between.
    let sliced = resumable
        && if cfg!(windows) {
            crate::cancel::active()
        } else {
            crate::cancel::sliced()
        };
    loop {
        if sliced && crate::cancel::triggered() {
            return Err(crate::cancel::ABORTED.into());
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        // Kernels fire socket timeouts late, by up to an eighth of their
        // length: aim short and let this loop finish the wait.
        let aim = left.map(|l| {
            if resumable && l > Duration::from_millis(20) {
                l - l / 8
            } else {
                l
            }
        });
        let aim = if sliced {
            Some(aim.map_or(CANCEL_SLICE, |a| a.min(CANCEL_SLICE)))
        } else {
            aim
        };
        retime(current, aim, &set)?;
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if sliced
                    && matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    )
                    && deadline.is_none_or(|d| Instant::now() < d) =>
            {
                continue;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) && resumable
                    && deadline.is_some_and(|d| Instant::now() < d) =>
            {
                continue;
            }
            other => return other,
        }
    }
}

/// How long a cancellable read on Windows blocks before looking at its handle.
const CANCEL_SLICE: Duration = Duration::from_millis(10);

fn deadline_of(timeout: &NextTimeout) -> Option<Instant> {
    timeout
        .not_zero()
        .and_then(|t| Instant::now().checked_add(*t))
}

fn io_error(e: io::Error, timeout: &NextTimeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ureq::Error::Timeout(timeout.reason),
        _ => ureq::Error::Io(e),
    }
}

impl FastTcp {
    /// Sends what is pending, in one `send` when the kernel takes it all.
    fn flush(&mut self, timeout: &NextTimeout) -> Result<(), ureq::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let deadline = deadline_of(timeout);
        let stream = &*self.stream;
        if crate::cancel::register(crate::cancel::raw(stream)) {
            wipe(&mut self.pending);
            self.pending.clear();
            return Err(cancelled());
        }
        let mut sent = 0;
        let result = loop {
            if sent == self.pending.len() {
                break Ok(());
            }
            let pending = next_send(&self.pending[sent..]);
            match by_deadline(
                &mut self.write_timeout,
                deadline,
                RESUMABLE_SEND,
                |t| stream.set_write_timeout(t),
                || (&*stream).write(pending),
            ) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    wire::accepted(n);
                    sent += n;
                }
                Err(e) => {
                    if !RESUMABLE_SEND
                        && matches!(
                            e.kind(),
                            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                        )
                    {
                        // How much of this send went is unknown: perhaps some.
                        wire::accepted(pending.len());
                    }
                    break Err(e);
                }
            }
        };
        // The request head (with the key) must not linger in this buffer.
        wipe(&mut self.pending);
        self.pending.clear();
        result.map_err(|e| io_error(e, timeout))
    }
}

impl Transport for FastTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        let output = &mut self.buffers.output()[..amount];
        append_wiping(&mut self.pending, output);
        // Plain HTTP: the request head with the key; never left behind.
        wipe(output);
        if self.pending.len() >= MAX_PENDING {
            self.flush(&timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        // Waiting for an answer: everything we hold back must be on its way.
        self.flush(&timeout.for_write())?;
        let timeout = timeout.for_read();
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let deadline = deadline_of(&timeout);
        let stream = &*self.stream;
        if crate::cancel::register(crate::cancel::raw(stream)) {
            return Err(cancelled());
        }
        let input = self.buffers.input_append_buf();
        let amount = by_deadline(
            &mut self.read_timeout,
            deadline,
            true,
            |t| stream.set_read_timeout(t),
            || (&*stream).read(input),
        )
        .map_err(|e| io_error(e, &timeout))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // Open only when there is nothing to read yet: a close (or bytes
        // nobody asked for, which mean the connection is out of step) shows
        // as something readable.
        self.pending.is_empty() && nothing_to_read(&self.stream)
    }
}

/// What a cancelled send's I/O fails with; the send loop tells it apart
/// by its handle, not by this error.
fn cancelled() -> ureq::Error {
    ureq::Error::Io(crate::cancel::ABORTED.into())
}

impl Drop for FastTcp {
    fn drop(&mut self) {
        // Closing now: a trigger must not shut down the number's next owner.
        crate::cancel::forget(crate::cancel::raw(&self.stream));
        // Empty after every flush; a failed transmit may leave bytes here.
        wipe(&mut self.pending);
    }
}

/// Appends `data` to `pending`; when that needs a larger allocation, the old
/// one is wiped before it is freed (a plain `extend` would free it as is,
/// request head and key included).
fn append_wiping(pending: &mut Vec<u8>, data: &[u8]) {
    if pending.capacity() - pending.len() < data.len() {
        let wanted = (pending.len() + data.len())
            .max(pending.capacity() * 2)
            .max(4096);
        let mut larger = Vec::with_capacity(wanted);
        larger.extend_from_slice(pending);
        wipe(pending);
        *pending = larger;
    }
    pending.extend_from_slice(data);
}

/// True when a read would block: no close, no data, no error pending.
#[cfg(unix)]
fn nothing_to_read(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a valid socket descriptor owned by `stream`, and a one-byte
    // buffer that outlives the call.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// True when a read would block. Windows has no per-call "don't wait" flag,
/// so the socket is made non-blocking around the peek: three calls instead
/// of one, twice per kept-alive send. Timeouts set on it are unaffected.
#[cfg(not(unix))]
fn nothing_to_read(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let peeked = stream.peek(&mut byte);
    // A socket left non-blocking would fail the next blocking read: then
    // the connection is not reused.
    let restored = stream.set_nonblocking(false).is_ok();
    restored && matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use ureq::unversioned::transport::time;

    /// Asks for a small send buffer, so that a large write cannot be taken
    /// whole by the kernel.
    fn small_send_buffer(stream: &TcpStream) {
        let size: i32 = 8 * 1024;
        #[cfg(unix)]
        // SAFETY: a valid socket, and an option value of the size given.
        let rc = unsafe {
            use std::os::fd::AsRawFd;
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&size as *const i32).cast(),
                4,
            )
        };
        #[cfg(windows)]
        // SAFETY: as above.
        let rc = unsafe {
            use std::os::windows::io::AsRawSocket;
            use windows_sys::Win32::Networking::WinSock::{SO_SNDBUF, SOL_SOCKET, setsockopt};
            setsockopt(
                stream.as_raw_socket() as usize,
                SOL_SOCKET,
                SO_SNDBUF,
                (&size as *const i32).cast(),
                4,
            )
        };
        assert_eq!(rc, 0);
    }

    #[test]
    fn an_ipv4_address_in_ipv6_form_is_reached() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{port}").parse().unwrap();
        let stream =
            connect_any([mapped].into_iter(), Some(Duration::from_secs(5))).expect("connected");
        assert_eq!(stream.peer_addr().unwrap().port(), port);
        assert_eq!(
            listener.accept().unwrap().1.port(),
            stream.local_addr().unwrap().port()
        );
    }

    #[test]
    fn a_write_cut_off_by_the_deadline_counts_what_left_and_sends_nothing_twice() {
        // The server takes the connection but does not read until the
        // client has given up: part of the request leaves, the rest cannot.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let reader = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(2500));
            let mut got = Vec::new();
            peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = peer.read_to_end(&mut got);
            got
        });
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        small_send_buffer(&stream);
        let mut tcp = FastTcp {
            stream: Arc::new(stream),
            buffers: LazyBuffers::new(1024, 1024),
            pending: Vec::new(),
            read_timeout: None,
            write_timeout: None,
        };
        let request: Vec<u8> = (0..16usize << 20).map(|i| (i % 251) as u8).collect();
        tcp.pending.extend_from_slice(&request);
        wire::reset();
        wire::arm();
        let began = Instant::now();
        let result = tcp.flush(&NextTimeout {
            after: time::Duration::from_millis(1000),
            reason: Timeout::Global,
            per_read: None,
            per_write: None,
        });
        assert!(matches!(result, Err(ureq::Error::Timeout(_))), "{result:?}");
        assert!(
            began.elapsed() < Duration::from_millis(1800),
            "deadline kept"
        );
        assert!(
            wire::request_written(),
            "request bytes left: the request may have been sent"
        );
        drop(tcp);
        let got = reader.join().unwrap();
        assert!(
            !got.is_empty() && got.len() < request.len(),
            "{}",
            got.len()
        );
        assert!(
            request.starts_with(&got),
            "the server received bytes out of order or twice"
        );
    }
}
