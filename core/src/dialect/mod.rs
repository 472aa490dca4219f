//! Till protocols, one module each, mapping bytes ⇄ [`crate::txn`] and implementing the
//! [`crate::session`] traits for both roles.
//!
//! - [`concert`]: Ingenico Concert V2 (E/E+), serial or TCP, framed by [`crate::link`].
//! - [`csob`]: ČSOB "B" protocol over TCP.
//! - [`zvt`]: the German ZVT protocol (codec: APDUs, BMPs, messages, serial framing).

pub mod concert;
pub mod csob;
pub mod zvt;
