//! A TCP transport for ureq that makes fewer system calls per send.
//!
//! ureq's own TCP transport spends about twelve system calls on a kept-alive
//! send: two liveness probes of three calls each, a timeout update before
//! every read and write, and separate writes for headers and body. This one
//! needs about four: a one-call probe (`recv` with `MSG_PEEK|MSG_DONTWAIT`),
//! one `send` for the whole request, one `recv`, and a timeout update only
//! when the remaining time has moved noticeably. Unix only; elsewhere the
//! client uses ureq's transport.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::Timeout;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};

/// Request bytes held back until the transport must wait for input, so
/// headers and body (or their TLS records) leave in one `send`.
const MAX_PENDING: usize = 64 * 1024;

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

/// Updates a socket timeout only when the one set is off by more than a
/// sixteenth of the wanted one (at most 250 ms): the remaining time shrinks
/// on every call, and exactness to the millisecond is not worth a system call.
fn retime(
    current: &mut Option<Duration>,
    wanted: Option<Duration>,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    let close_enough = match (*current, wanted) {
        (None, None) => true,
        (Some(c), Some(w)) => c.abs_diff(w) <= (w / 16).min(Duration::from_millis(250)),
        _ => false,
    };
    if !close_enough {
        set(wanted)?;
        *current = wanted;
    }
    Ok(())
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
        let stream = &*self.stream;
        retime(
            &mut self.write_timeout,
            timeout.not_zero().map(|t| *t),
            |t| stream.set_write_timeout(t),
        )?;
        let result = (&*self.stream).write_all(&self.pending);
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
        let output = &self.buffers.output()[..amount];
        self.pending.extend_from_slice(output);
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
        let stream = &*self.stream;
        retime(
            &mut self.read_timeout,
            timeout.not_zero().map(|t| *t),
            |t| stream.set_read_timeout(t),
        )?;
        let input = self.buffers.input_append_buf();
        let amount = loop {
            match (&*self.stream).read(input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other.map_err(|e| io_error(e, &timeout))?,
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        if !self.pending.is_empty() {
            return false;
        }
        let mut byte = 0u8;
        // SAFETY: a valid socket descriptor owned by `self.stream`, and a
        // one-byte buffer that outlives the call.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        // Open only when there is nothing to read yet: 0 is the peer's close,
        // and bytes nobody asked for mean the connection is out of step.
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}
