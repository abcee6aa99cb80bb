//! The message: its request fields, their validation and clinical checks,
//! the JSON body, Hero's reply, and the reasons Hero gives for a refusal.
//! Nothing here does I/O.

pub(crate) mod checks;
pub(crate) mod json;
pub(crate) mod reason;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod validate;
