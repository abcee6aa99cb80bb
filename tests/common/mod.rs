//! The one test toolkit: the real `hero-mock` (`mock`), raw HTTP servers
//! (`server`), ports held in a known state (`ports`), the C programs
//! (`programs`) and small fixtures (`fixtures`).
//!
//! Every test file includes it as `pub mod common;`: each test binary
//! compiles the toolkit on its own, and as a public module its items are
//! the toolkit's interface rather than dead code in binaries that use only
//! part of it (tests/tooling.rs checks that every item is used somewhere).

pub mod fixtures;
pub mod mock;
pub mod ports;
pub mod programs;
pub mod server;

pub use fixtures::unique_hex;
pub use mock::{GROUP, KEY, Mock};
pub use ports::{RefusedPort, refused_port};
pub use programs::{c_programs, windows_programs};
pub use server::one_shot_server;
