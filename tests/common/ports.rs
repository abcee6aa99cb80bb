//! Ports with a known state for as long as a test holds them.

use std::net::{TcpListener, TcpStream};

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

pub fn refused_port() -> RefusedPort {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("local addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    RefusedPort {
        port: client.local_addr().expect("local addr").port(),
        _pair: (client, server),
    }
}
