//! Getting a request to Hero and its answer back: the client and its send
//! loop, the rules for what each failure means (`outcome`), retry waits,
//! the rate-limit gate, proxies, TCP and the wire, the target, TLS error
//! texts and the API key's secret storage.

pub(crate) mod builder;
pub(crate) mod cert_errors;
pub(crate) mod client;
mod failure;
pub(crate) mod gate;
pub(crate) mod outcome;
pub(crate) mod proxy;
pub(crate) mod retry;
pub(crate) mod secret;
pub(crate) mod target;
pub(crate) mod tcp;
pub(crate) mod timing;
pub(crate) mod wire;
