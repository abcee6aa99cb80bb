//! Raw HTTP servers on loopback, for answers the mock cannot give.

use std::io::{Read, Write};
use std::net::TcpListener;
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
