//! The client-wide rate-limit gate, and optional pacing.
//!
//! When any send on a client gets a 429, every send on that client (any
//! thread) holds its next request until the time the server asked for:
//! eight threads retrying at once would only deepen the rate limit. A send
//! whose deadline comes before the gate opens fails at once as *not
//! sent*, without a request.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use crate::transport::outcome::Outcome;

pub(crate) struct Gate {
    state: Mutex<State>,
    /// Pacing: the least time between request starts, when set.
    interval: Option<Duration>,
}

#[derive(Default)]
struct State {
    /// No request starts before this.
    closed_until: Option<Instant>,
    /// The next free pacing slot.
    next_slot: Option<Instant>,
}

impl Gate {
    /// A gate, open, pacing request starts to `per_second` when given.
    pub(crate) fn new(per_second: Option<f64>) -> Self {
        Gate {
            state: Mutex::new(State::default()),
            interval: per_second.map(|r| Duration::from_secs_f64(1.0 / r)),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Two instants: always consistent, even after a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the gate for `wait` from now (never shortening a longer close).
    pub(crate) fn close_for(&self, wait: Duration) {
        let Some(until) = Instant::now().checked_add(wait) else {
            return;
        };
        let mut s = self.state();
        if s.closed_until.is_none_or(|t| t < until) {
            s.closed_until = Some(until);
        }
    }

    /// Waits until a request may start: the gate is open and (with pacing)
    /// this send has its slot. Errs at once, without waiting, when a wait
    /// would leave less than `budget` before `deadline` (the same rule as
    /// for retries: a request started with too little time left can end
    /// *may have been sent*).
    pub(crate) fn pass(&self, deadline: Instant, budget: Duration) -> Result<(), Error> {
        self.wait_open(deadline, budget)?;
        if let Some(interval) = self.interval {
            let now = Instant::now();
            let slot = {
                let mut s = self.state();
                let slot = s.next_slot.map_or(now, |t| t.max(now));
                if slot > now && slot + budget >= deadline {
                    return Err(Error::new(
                        Outcome::NotSent,
                        ErrorKind::RateLimited,
                        "the client's pacing (max sends per second) leaves no start in good time before this send's deadline",
                    ));
                }
                s.next_slot = Some(slot + interval);
                slot
            };
            if crate::cancel::sleep(slot.saturating_duration_since(now)) {
                return Err(crate::cancel::before_sending());
            }
            // A 429 may have closed the gate meanwhile.
            self.wait_open(deadline, budget)?;
        }
        Ok(())
    }

    fn wait_open(&self, deadline: Instant, budget: Duration) -> Result<(), Error> {
        loop {
            let now = Instant::now();
            let Some(until) = self.state().closed_until.filter(|t| *t > now) else {
                return Ok(());
            };
            if until + budget >= deadline {
                // Hero never saw this request: not sent, not refused, and
                // no HTTP status of its own.
                return Err(Error::new(
                    Outcome::NotSent,
                    ErrorKind::RateLimited,
                    "not sent: an earlier HTTP 429 from Hero holds this client's requests until too close to this send's deadline",
                )
                .with_retry_after(Some(until - now)));
            }
            // Look again after the wait: another 429 may have moved it on.
            if crate::cancel::sleep(until - now) {
                return Err(crate::cancel::before_sending());
            }
        }
    }
}

#[cfg(test)]
impl Gate {
    /// Until when the gate was last closed, if ever.
    pub(crate) fn closed_until(&self) -> Option<Instant> {
        self.state().closed_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 429 without `Retry-After` closes the gate for the jittered backoff,
    /// so the client's other threads hold off too.
    #[test]
    fn a_429_without_retry_after_closes_the_gate_for_the_backoff() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        });
        let client = crate::Client::builder(
            crate::Target::Custom(format!("http://127.0.0.1:{port}")),
            "gate-key",
            "gate-group",
        )
        .max_attempts(1)
        .build()
        .unwrap();
        assert_eq!(client.gate().closed_until(), None);
        let e = client
            .send(&crate::SendMessage::new(
                "4242",
                crate::MessageType::Hero,
                "x",
            ))
            .unwrap_err();
        let answered = Instant::now();
        assert_eq!((e.status(), e.retry_after()), (Some(429), None));
        let until = client.gate().closed_until().expect("the gate was closed");
        // The backoff after a first 429: at least 50 ms, at most 500 ms.
        assert!(
            until + Duration::from_millis(500) >= answered,
            "{until:?} {answered:?}"
        );
        assert!(until <= answered + Duration::from_millis(500));
    }

    #[test]
    fn closed_beyond_the_deadline_refuses_at_once() {
        let gate = Gate::new(None);
        gate.close_for(Duration::from_secs(60));
        gate.close_for(Duration::from_secs(1)); // never shortens
        let started = Instant::now();
        let e = gate
            .pass(
                Instant::now() + Duration::from_secs(30),
                Duration::from_secs(1),
            )
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            (e.outcome(), e.kind(), e.status()),
            (Outcome::NotSent, ErrorKind::RateLimited, None)
        );
        assert!(e.retry_after().unwrap() > Duration::from_secs(30));
    }

    #[test]
    fn a_wait_leaving_less_than_the_budget_is_refused() {
        let gate = Gate::new(None);
        gate.close_for(Duration::from_secs(20));
        let deadline = Instant::now() + Duration::from_secs(30);
        let e = gate.pass(deadline, Duration::from_secs(15)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }

    #[test]
    fn closed_within_the_deadline_waits() {
        let gate = Gate::new(None);
        gate.close_for(Duration::from_millis(300));
        let started = Instant::now();
        gate.pass(
            Instant::now() + Duration::from_secs(30),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(290));
    }

    #[test]
    fn pacing_spaces_request_starts() {
        let gate = Gate::new(Some(10.0));
        let started = Instant::now();
        for _ in 0..6 {
            gate.pass(
                Instant::now() + Duration::from_secs(30),
                Duration::from_secs(1),
            )
            .unwrap();
        }
        // Six starts at 10 per second span at least 0.5 s.
        assert!(started.elapsed() >= Duration::from_millis(490));
        // A slot past the deadline is refused, not waited for.
        let gate = Gate::new(Some(0.1));
        gate.pass(Instant::now() + Duration::from_secs(1), Duration::ZERO)
            .unwrap();
        let e = gate
            .pass(Instant::now() + Duration::from_secs(1), Duration::ZERO)
            .unwrap_err();
        assert_eq!(
            (e.outcome(), e.kind()),
            (Outcome::NotSent, ErrorKind::RateLimited)
        );
    }
}
