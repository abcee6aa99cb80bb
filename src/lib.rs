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
mod cert_errors;
mod checks;
mod client;
mod error;
pub mod ffi;
mod gate;
mod journal;
mod json;
mod log;
mod outcome;
mod proxy;
mod reason;
mod request;
mod response;
mod retry;
mod secret;
mod target;
mod tcp;
mod text;
mod validate;
mod wire;

pub use batch::{BatchClass, BatchRunner, BatchSummary, RowOutcome, RowReport, StopToken};
pub use client::{Client, ClientBuilder, DEFAULT_MAX_IDLE_AGE, ERROR_BODY_CAP, RESPONSE_BODY_CAP};
pub use error::{Error, ErrorKind};
pub use journal::{Journal, Keyed, PendingKey, Resolution, Salvage};
pub use log::LogLevel;
pub use outcome::Outcome;
pub use request::{AssigneeType, Encrypted, FallbackType, MessageType, SendMessage};
pub use response::MessageResponse;
pub use target::Target;
pub use validate::REQUEST_BODY_CAP;

/// The README's Rust examples, compiled as doc tests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
