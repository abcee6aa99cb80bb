//! Raw HTTP servers on loopback, for answers the mock cannot give.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::request::{ReadOptions, read_request_with};

/// The one accept loop: a loopback listener whose every connection runs
/// `handler` on its own thread, with the connection's number (1, 2, …).
/// Every socket gets 10 s read and write timeouts, so no handler can hang
/// a run, and is kept out of child processes. Returns the port.
pub fn serve<H>(handler: H) -> u16
where
    H: Fn(TcpStream, usize) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    let handler = Arc::new(handler);
    thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            keep_from_children(&stream);
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

/// Keeps an accepted socket out of child processes (some tests run
/// themselves as one). Wine lets them inherit it, and then a server's close
/// sends nothing until the child exits: the client sees a connection the
/// server has long closed as open.
#[cfg(windows)]
fn keep_from_children(stream: &TcpStream) {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Foundation::{HANDLE_FLAG_INHERIT, SetHandleInformation};
    // SAFETY: a valid socket handle owned by `stream`.
    let ok = unsafe { SetHandleInformation(stream.as_raw_socket() as _, HANDLE_FLAG_INHERIT, 0) };
    assert_ne!(ok, 0, "SetHandleInformation");
}

/// Sockets are opened close-on-exec here already.
#[cfg(not(windows))]
fn keep_from_children(_: &TcpStream) {}

/// A server on 127.0.0.1 for one connection: it reads one whole HTTP
/// request (head, then `Content-Length` bytes of body), writes `response`
/// verbatim, closes, and hands back the raw request bytes through the handle
/// (what arrived, when the request never completed).
pub fn one_shot_server(response: &'static [u8]) -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind one-shot server");
    let port = listener.local_addr().expect("local addr").port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let request = match read_request_with(&mut stream, ReadOptions::default()) {
            Ok(request) => request.raw,
            Err(partial) => partial,
        };
        let _ = stream.write_all(response);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Let the client read before the socket goes away.
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let _ = stream.read(&mut [0u8; 4096]);
        request
    });
    (port, handle)
}

/// Closes `stream` with a reset (SO_LINGER 0) rather than a FIN: std
/// cannot set SO_LINGER, so it is set through libc on unix.
#[cfg(unix)]
pub fn reset(stream: TcpStream) {
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

/// Closes `stream` with a reset (SO_LINGER 0) rather than a FIN, through
/// Winsock.
#[cfg(windows)]
pub fn reset(stream: TcpStream) {
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
