//! herohealth: send patient messages through Hero Health's Public API,
//! `POST /v1/messages/send`, from Rust or (through the C ABI) from C and C++.
//!
//! Hero has no idempotency key: sending twice messages the patient twice.
//! So every failure says, through [`Outcome`], whether the message was
//! certainly not sent, refused by Hero, may have been sent, or was accepted
//! with an unreadable reply; and the client retries on its own only while
//! the message certainly has not gone.
//!
//! ```no_run
//! use herohealth::{ClientBuilder, MessageType, SendMessage};
//!
//! // HERO_API_KEY, HERO_PRACTICE_GROUP_ID, and HERO_BASE_URL or HERO_ENVIRONMENT.
//! let client = ClientBuilder::from_env()?.build()?;
//! let msg = SendMessage::new("4242", MessageType::Sms, "Your results are ready.")
//!     .recipient_contact_detail("07700 900123");
//! let reply = client.send(&msg)?;
//! println!("Hero message id {}", reply.message_id());
//! # Ok::<(), herohealth::Error>(())
//! ```

mod batch;
mod error;
mod exit_code;
pub mod ffi;
mod journal;
mod log;
mod message;
mod patient;
mod stop;
mod text;
mod transport;

// Old module paths, kept so the send journal compiles until it imports
// from the rooms above.
use message::{checks, request, response};
use transport::{client, outcome};

pub use batch::{BatchClass, BatchRunner, BatchSummary, RowOutcome, RowReport};
pub use error::{Error, ErrorKind, Outcome};
pub use journal::{Journal, Keyed, PendingKey, Resolution};
pub use log::LogLevel;
pub use message::request::{AssigneeType, Encrypted, FallbackType, MessageType, SendMessage};
pub use message::response::MessageResponse;
pub use message::validate::REQUEST_BODY_CAP;
pub use patient::{PatientAnswer, PatientQuery};
pub use stop::StopToken;
pub use transport::builder::ClientBuilder;
pub use transport::client::{Client, DEFAULT_MAX_IDLE_AGE, ERROR_BODY_CAP, RESPONSE_BODY_CAP};
pub use transport::target::Target;

/// The README's Rust examples, compiled as doc tests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
