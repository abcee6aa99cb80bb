//! Cancelling a send in flight: the handle a caller triggers (from another
//! thread, a signal handler or a Windows console control handler), and the
//! hooks the transport uses to notice it promptly.
//!
//! Triggering does only async-signal-safe things: an atomic store, a
//! one-byte `write` to a pipe (unix) that every wait of a cancellable send
//! polls, and a `shutdown` of the socket the send is blocked on, which
//! wakes any `connect`, `send` or `recv` at once. The send then decides,
//! through the outcome rules, whether its request bytes had already been
//! accepted by the kernel (see `wire`).
//!
//! A send learns of its handle through a thread-local set for the length of
//! the send: the client is blocking, so every connector, transport and wait
//! of the send runs on the caller's thread.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Outcome};

/// Cancels a send (or a patient lookup) in flight. Cheap to clone; clones
/// share one state. Once triggered it stays triggered: a send given it
/// afterwards sends nothing.
#[derive(Clone)]
pub struct CancelHandle(Arc<Shared>);

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelHandle")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

struct Shared {
    triggered: AtomicBool,
    /// The raw socket each send using this handle is blocked on now, or -1:
    /// one slot per send in flight, so one trigger wakes them all.
    sockets: [AtomicI64; SLOTS],
    /// A trigger is reading `sockets`: none may be closed meanwhile.
    busy: AtomicBool,
    wake: Wake,
}

/// Sends in flight at once on one handle whose blocked socket calls a
/// trigger ends by `shutdown`. A send beyond them waits in short slices
/// instead, looking at the handle between (as every send on Windows does).
const SLOTS: usize = 64;

/// This thread's send holds no slot.
const NO_SLOT: usize = usize::MAX;

impl CancelHandle {
    /// A handle not yet triggered. Fails only when the system has no file
    /// descriptors left for its wake-up pipe.
    pub fn new() -> std::io::Result<Self> {
        Ok(CancelHandle(Arc::new(Shared {
            triggered: AtomicBool::new(false),
            sockets: [const { AtomicI64::new(-1) }; SLOTS],
            busy: AtomicBool::new(false),
            wake: Wake::new()?,
        })))
    }

    /// Cancels every send using this handle, now and later. Async-signal-safe:
    /// atomics, one `write` and one `shutdown`; never allocates, locks or waits.
    pub fn trigger(&self) {
        let s = &*self.0;
        s.triggered.store(true, Ordering::SeqCst);
        s.wake.set();
        // Another trigger holding `busy` does the shutdowns itself.
        if !s.busy.swap(true, Ordering::SeqCst) {
            for slot in &s.sockets {
                let socket = slot.load(Ordering::SeqCst);
                if socket >= 0 {
                    shutdown(socket);
                }
            }
            s.busy.store(false, Ordering::SeqCst);
        }
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.0.triggered.load(Ordering::SeqCst)
    }
}

/// What a cancelled send's I/O fails with. Not `Interrupted`, which
/// callers such as rustls's handshake loop take as "call again"; the send
/// loop tells a cancel by its handle, not by this kind.
pub(crate) const ABORTED: std::io::ErrorKind = std::io::ErrorKind::ConnectionAborted;

thread_local! {
    static CURRENT: RefCell<Option<CancelHandle>> = const { RefCell::new(None) };
    /// The slot of `CURRENT` this thread's send registers its socket in.
    static SLOT: Cell<usize> = const { Cell::new(NO_SLOT) };
}

/// How many scopes are open on any thread. While none is, every hook below
/// is one relaxed load: a send without a handle pays nothing more. A scope
/// on this thread is seen here in program order, so the load never misses
/// this thread's own handle.
static SCOPES: AtomicUsize = AtomicUsize::new(0);

/// Makes `handle` (or none) the current send's handle on this thread until
/// dropped, with a slot of its own; the one before comes back then. Scopes
/// nest: a log hook or a C callback may start a send inside a send.
pub(crate) struct Scope {
    /// The handle and slot this scope displaced, when it displaced any.
    outer: Option<(Option<CancelHandle>, usize)>,
    /// Counted in [`SCOPES`].
    counted: bool,
}

pub(crate) fn enter(handle: Option<&CancelHandle>) -> Scope {
    // A send without a handle, and none around it: nothing to do.
    if handle.is_none() && with_current(|_| ()).is_none() {
        return Scope {
            outer: None,
            counted: false,
        };
    }
    if handle.is_some() {
        SCOPES.fetch_add(1, Ordering::Relaxed);
    }
    let outer_handle = CURRENT.with_borrow_mut(|c| std::mem::replace(c, handle.cloned()));
    Scope {
        outer: Some((outer_handle, SLOT.replace(NO_SLOT))),
        counted: handle.is_some(),
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if let Some((outer_handle, outer_slot)) = self.outer.take() {
            // This scope's own slot, of its own handle; then the outer ones.
            unregister();
            CURRENT.with_borrow_mut(|c| *c = outer_handle);
            SLOT.set(outer_slot);
        }
        if self.counted {
            SCOPES.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[inline]
fn with_current<T>(f: impl FnOnce(&CancelHandle) -> T) -> Option<T> {
    if SCOPES.load(Ordering::Relaxed) == 0 {
        return None;
    }
    CURRENT.with_borrow(|c| c.as_ref().map(f))
}

/// Whether the current send's handle was triggered.
pub(crate) fn triggered() -> bool {
    with_current(CancelHandle::is_triggered).unwrap_or(false)
}

/// Whether this thread's send is cancellable at all.
pub(crate) fn active() -> bool {
    with_current(|_| ()).is_some()
}

/// Makes `socket` the one a trigger shuts down for this thread's send.
/// Returns true when the handle was already triggered (the caller then
/// stops): a trigger either sees the socket or is seen here.
pub(crate) fn register(socket: i64) -> bool {
    with_current(|h| {
        let s = &*h.0;
        let mut slot = SLOT.get();
        if slot == NO_SLOT {
            // A free slot of the handle's; none free: sliced waits (`sliced`).
            slot = (0..SLOTS)
                .find(|&i| {
                    s.sockets[i]
                        .compare_exchange(-1, socket, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                })
                .unwrap_or(NO_SLOT);
            SLOT.set(slot);
        } else if s.sockets[slot].load(Ordering::Relaxed) != socket {
            s.sockets[slot].store(socket, Ordering::SeqCst);
        }
        s.triggered.load(Ordering::SeqCst)
    })
    .unwrap_or(false)
}

/// Whether this thread's cancellable send has no slot for its socket, so
/// its blocking calls must wait in slices and look at the handle between.
pub(crate) fn sliced() -> bool {
    with_current(|_| SLOT.get() == NO_SLOT).unwrap_or(false)
}

/// Forgets this thread's registered socket and frees its slot, waiting out
/// a trigger that is using it, so the socket may be closed (and its number
/// reused) or pooled for another send safely.
pub(crate) fn unregister() {
    with_current(|h| {
        let slot = SLOT.replace(NO_SLOT);
        if slot == NO_SLOT {
            return;
        }
        let s = &*h.0;
        s.sockets[slot].store(-1, Ordering::SeqCst);
        // A trigger holds `busy` only for its shutdown calls; a signal
        // handler on this thread runs to its end before this resumes.
        while s.busy.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    });
}

/// Forgets a socket registered while connecting if the connect fails, before
/// the socket closes: a trigger must never shut down the number's next owner.
struct Connecting(i64);

impl Drop for Connecting {
    fn drop(&mut self) {
        forget(self.0);
    }
}

/// Forgets `socket` if it is this thread's registered one: it is about to close.
pub(crate) fn forget(socket: i64) {
    let mine = with_current(|h| {
        let slot = SLOT.get();
        slot != NO_SLOT && h.0.sockets[slot].load(Ordering::SeqCst) == socket
    })
    .unwrap_or(false);
    if mine {
        unregister();
    }
}

/// Sleeps for `wait`, ending early when the current send is cancelled.
/// Returns true when cancelled.
pub(crate) fn sleep(wait: Duration) -> bool {
    match with_current(|h| h.0.wake.wait(wait)) {
        Some(cancelled) => cancelled,
        None => {
            std::thread::sleep(wait);
            false
        }
    }
}

/// The error of an operation cancelled before its request bytes were
/// accepted by the kernel, or after (`written`), as `rules` read it.
pub(crate) fn error(rules: &crate::transport::outcome::Rules, written: bool) -> Error {
    let verdict = rules.for_cancel(written);
    let detail = match (written, verdict.outcome) {
        (false, _) => "cancelled before the request was sent",
        (true, Outcome::NotSent) => "cancelled after the request was sent; it sends no message",
        (true, _) => "cancelled after the request was sent: it may have reached Hero",
    };
    debug_assert_eq!(verdict.kind, ErrorKind::Cancelled);
    Error::new(verdict.outcome, verdict.kind, detail)
}

/// The error of a cancel during a wait, before any request byte left:
/// *not sent* under every operation's rules.
pub(crate) fn before_sending() -> Error {
    error(&crate::transport::outcome::SEND, false)
}

#[cfg(unix)]
fn shutdown(socket: i64) {
    // SAFETY: shutdown on a descriptor number is async-signal-safe; the
    // number stays open while `busy` is held (see `unregister`).
    unsafe {
        libc::shutdown(socket as libc::c_int, libc::SHUT_RDWR);
    }
}

#[cfg(windows)]
fn shutdown(socket: i64) {
    use windows_sys::Win32::Networking::WinSock::{SD_BOTH, SOCKET, shutdown};
    // SAFETY: the socket stays open while `busy` is held (see `unregister`).
    unsafe {
        shutdown(socket as SOCKET, SD_BOTH);
    }
}

/// The raw number of a connection's socket.
#[cfg(unix)]
pub(crate) fn raw(stream: &std::net::TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    stream.as_raw_fd() as i64
}

/// The raw number of a connection's socket.
#[cfg(windows)]
pub(crate) fn raw(stream: &std::net::TcpStream) -> i64 {
    use std::os::windows::io::AsRawSocket;
    stream.as_raw_socket() as i64
}

/// A level-triggered wake-up: once set, every wait on it returns at once.
#[cfg(unix)]
struct Wake {
    read: std::os::fd::OwnedFd,
    write: std::os::fd::OwnedFd,
}

#[cfg(unix)]
impl Wake {
    fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for fd in fds {
            // SAFETY: descriptors just opened above. Non-blocking, so a
            // trigger never waits on a full pipe; close-on-exec, so no
            // child process holds them.
            unsafe {
                libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        // SAFETY: both descriptors are open and owned by nothing else.
        Ok(unsafe {
            Wake {
                read: std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                write: std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            }
        })
    }

    fn set(&self) {
        use std::os::fd::AsRawFd;
        let byte = 1u8;
        // SAFETY: write is async-signal-safe; a full pipe is already set.
        unsafe {
            libc::write(self.write.as_raw_fd(), (&byte as *const u8).cast(), 1);
        }
    }

    /// Waits up to `wait`; true when set. The byte is never read, so the
    /// pipe stays readable: a triggered handle stays triggered.
    fn wait(&self, wait: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let end = Instant::now() + wait;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
            // Round up: a wait never ends early without the wake.
            let ms = if Duration::from_millis(ms as u64) < left {
                ms + 1
            } else {
                ms
            };
            let mut pfd = libc::pollfd {
                fd: self.read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n > 0 {
                return true;
            }
            if n == 0 && Instant::now() >= end {
                return false;
            }
            // Interrupted (or woke early): wait out what is left.
        }
    }

    /// The descriptor a connect polls beside its socket.
    fn fd(&self) -> libc::c_int {
        use std::os::fd::AsRawFd;
        self.read.as_raw_fd()
    }
}

/// A wake-up checked in short slices: a console control handler runs on
/// its own thread, and the triggered socket's shutdown ends blocked I/O.
#[cfg(windows)]
struct Wake {
    set: AtomicBool,
}

#[cfg(windows)]
impl Wake {
    fn new() -> std::io::Result<Self> {
        Ok(Wake {
            set: AtomicBool::new(false),
        })
    }

    fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
    }

    fn wait(&self, wait: Duration) -> bool {
        let end = Instant::now() + wait;
        loop {
            if self.set.load(Ordering::SeqCst) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(5)));
        }
    }
}

/// Connects to `addr` within `budget`, ending at once when the current
/// send is cancelled: a non-blocking connect polled beside the wake pipe.
/// `None` when the send is not cancellable (the caller connects as usual).
#[cfg(unix)]
pub(crate) fn connect(
    addr: std::net::SocketAddr,
    budget: Option<Duration>,
) -> Option<std::io::Result<std::net::TcpStream>> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let wake = with_current(|h| h.0.wake.fd())?;
    let (family, storage, len) = sockaddr(addr);
    Some((|| {
        // SAFETY: plain socket creation; the descriptor is owned below.
        let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: just opened, owned by nothing else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // Dropped before `owned` closes the socket.
        let connecting = Connecting(fd as i64);
        if register(fd as i64) {
            return Err(ABORTED.into());
        }
        // SAFETY: an open descriptor; a sockaddr of `len` bytes.
        let rc = unsafe {
            libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
            libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len)
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
            let end = budget.map(|b| Instant::now() + b);
            loop {
                let ms = match end {
                    None => -1,
                    Some(end) => {
                        let left = end.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(std::io::ErrorKind::TimedOut.into());
                        }
                        left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int
                    }
                };
                let mut pfds = [
                    libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: wake,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                // SAFETY: two valid pollfds.
                let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, ms) };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                if pfds[1].revents != 0 || triggered() {
                    return Err(ABORTED.into());
                }
                if pfds[0].revents != 0 {
                    break;
                }
            }
            let mut err: libc::c_int = 0;
            let mut elen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: an open socket and an int-sized option buffer.
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut elen,
                );
            }
            if err != 0 {
                return Err(std::io::Error::from_raw_os_error(err));
            }
        }
        // SAFETY: an open descriptor; back to blocking for the transport.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        // Connected: the transport keeps it registered, and forgets it.
        std::mem::forget(connecting);
        Ok(std::net::TcpStream::from(owned))
    })())
}

/// Connects to `addr` within `budget`, ending within a slice when the
/// current send is cancelled: Winsock has no wake-up descriptor to wait
/// beside, so a non-blocking connect is polled in 10 ms slices, looking at
/// the handle between. `None` when the send is not cancellable.
#[cfg(windows)]
pub(crate) fn connect(
    addr: std::net::SocketAddr,
    budget: Option<Duration>,
) -> Option<std::io::Result<std::net::TcpStream>> {
    use std::os::windows::io::FromRawSocket;
    use windows_sys::Win32::Networking::WinSock as ws;
    if !active() {
        return None;
    }
    Some((|| {
        winsock_started()?;
        let family = if addr.is_ipv4() {
            ws::AF_INET
        } else {
            ws::AF_INET6
        };
        // SAFETY: plain socket creation, with std's flags; owned below.
        let s = unsafe {
            ws::WSASocketW(
                family as i32,
                ws::SOCK_STREAM,
                ws::IPPROTO_TCP,
                std::ptr::null(),
                0,
                ws::WSA_FLAG_OVERLAPPED | ws::WSA_FLAG_NO_HANDLE_INHERIT,
            )
        };
        if s == ws::INVALID_SOCKET {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: just opened, owned by nothing else; closed on every path.
        let stream = unsafe { std::net::TcpStream::from_raw_socket(s as _) };
        // Dropped before `stream` closes the socket.
        let connecting = Connecting(s as i64);
        if register(s as i64) {
            return Err(ABORTED.into());
        }
        stream.set_nonblocking(true)?;
        let (storage, len) = win_sockaddr(addr);
        // SAFETY: an open socket; a sockaddr of `len` bytes.
        let rc = unsafe { ws::connect(s, storage.as_ptr().cast(), len) };
        if rc != 0 {
            // SAFETY: no arguments.
            let e = unsafe { ws::WSAGetLastError() };
            if e != ws::WSAEWOULDBLOCK {
                return Err(std::io::Error::from_raw_os_error(e));
            }
            let end = budget.map(|b| Instant::now() + b);
            loop {
                if triggered() {
                    return Err(ABORTED.into());
                }
                let mut slice = Duration::from_millis(10);
                if let Some(end) = end {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(std::io::ErrorKind::TimedOut.into());
                    }
                    slice = slice.min(left);
                }
                let one = || {
                    let mut set = ws::FD_SET {
                        fd_count: 1,
                        fd_array: [0; 64],
                    };
                    set.fd_array[0] = s;
                    set
                };
                let (mut writable, mut failed) = (one(), one());
                let tv = ws::TIMEVAL {
                    tv_sec: 0,
                    tv_usec: slice.as_micros().max(1) as i32,
                };
                // SAFETY: two one-socket sets and a timeout, all live.
                let n =
                    unsafe { ws::select(0, std::ptr::null_mut(), &mut writable, &mut failed, &tv) };
                if n == ws::SOCKET_ERROR {
                    return Err(std::io::Error::last_os_error());
                }
                if failed.fd_count > 0 {
                    return Err(stream
                        .take_error()?
                        .unwrap_or_else(|| std::io::ErrorKind::ConnectionRefused.into()));
                }
                if writable.fd_count > 0 {
                    break;
                }
            }
            if let Some(e) = stream.take_error()? {
                return Err(e);
            }
        }
        stream.set_nonblocking(false)?;
        // Connected: the transport keeps it registered, and forgets it.
        std::mem::forget(connecting);
        Ok(stream)
    })())
}

/// Winsock must be started before a raw socket call; std starts it on its
/// first network call, which may not have come yet. Counted, so harmless
/// beside std's own start.
#[cfg(windows)]
fn winsock_started() -> std::io::Result<()> {
    use std::sync::OnceLock;
    use windows_sys::Win32::Networking::WinSock as ws;
    static STARTED: OnceLock<i32> = OnceLock::new();
    let rc = *STARTED.get_or_init(|| {
        // SAFETY: zeroed WSADATA is a valid buffer for the call to fill.
        let mut data: ws::WSADATA = unsafe { std::mem::zeroed() };
        // SAFETY: a live WSADATA; version 2.2, as std asks.
        unsafe { ws::WSAStartup(0x202, &mut data) }
    });
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

/// `addr` as a Winsock sockaddr, in a buffer large enough for either family.
#[cfg(windows)]
fn win_sockaddr(addr: std::net::SocketAddr) -> ([u64; 4], i32) {
    use windows_sys::Win32::Networking::WinSock as ws;
    let mut buf = [0u64; 4];
    match addr {
        std::net::SocketAddr::V4(a) => {
            let mut sin = ws::SOCKADDR_IN {
                sin_family: ws::AF_INET,
                sin_port: a.port().to_be(),
                ..Default::default()
            };
            sin.sin_addr.S_un.S_addr = u32::from_ne_bytes(a.ip().octets());
            // SAFETY: the 32-byte buffer holds a 16-byte SOCKADDR_IN.
            unsafe { std::ptr::write_unaligned(buf.as_mut_ptr().cast(), sin) };
            (buf, std::mem::size_of::<ws::SOCKADDR_IN>() as i32)
        }
        std::net::SocketAddr::V6(a) => {
            let mut sin6 = ws::SOCKADDR_IN6 {
                sin6_family: ws::AF_INET6,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                ..Default::default()
            };
            sin6.sin6_addr.u.Byte = a.ip().octets();
            sin6.Anonymous.sin6_scope_id = a.scope_id();
            // SAFETY: the 32-byte buffer holds a 28-byte SOCKADDR_IN6.
            unsafe { std::ptr::write_unaligned(buf.as_mut_ptr().cast(), sin6) };
            (buf, std::mem::size_of::<ws::SOCKADDR_IN6>() as i32)
        }
    }
}

#[cfg(unix)]
fn sockaddr(addr: std::net::SocketAddr) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            (
                libc::AF_INET,
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            (
                libc::AF_INET6,
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}
