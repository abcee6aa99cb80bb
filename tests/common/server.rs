//! Raw HTTP servers on loopback, for answers the mock cannot give.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A server on 127.0.0.1 for one connection: it reads one whole HTTP
/// request (head, then `Content-Length` bytes of body), writes `response`
/// verbatim, closes, and hands back the raw request bytes through the handle.
pub fn one_shot_server(response: &'static [u8]) -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind one-shot server");
    let port = listener.local_addr().expect("local addr").port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let request = read_request(&mut stream);
        let mut chunk = [0u8; 64];
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

/// Reads one whole HTTP request from `stream` (head, then `Content-Length`
/// bytes of body), or what came before the peer closed or the read timed out.
pub fn read_request(stream: &mut TcpStream) -> Vec<u8> {
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
    request
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

/// The `Content-Length` of a request head (0 when absent).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}
