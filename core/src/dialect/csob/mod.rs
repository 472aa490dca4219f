//! The ČSOB "B" protocol (Czech Republic; PAX S800/S920 and Ingenico terminals), over TCP.
//!
//! There is no official public specification. Every byte-level fact here comes from the public
//! client `l1zard/react-native-enigoo-terminal`, folder
//! `android/src/main/java/com/enigoo/terminal/csob/` (files named where each fact is used).
//! Where ecrlink needs something that source does not show (a cashback amount field, totals,
//! a masked PAN), it uses a field documented as an *ecrlink convention* in [`message`].
//! Nothing here claims to be verified against a real terminal.
//!
//! Layers, as in the rest of the core:
//! - [`text`]: ISO-8859-2 ⇄ UTF-8;
//! - [`header`]: the 36-character header, the CRC-field and data-length policies;
//! - [`fields`]: `FS tag value` fields and `GS tag value` sub-fields, checked once;
//! - [`codes`]: message types, T codes, R codes, flags, receipt selectors;
//! - [`message`]: typed B0–B4 messages, `parse_payload` / `parse_frame` / `emit`;
//! - [`map`]: B1 ⇄ [`crate::txn::Request`], B2 ⇄ [`crate::txn::Response`];
//! - [`session`]: [`CsobTerminal`] and [`CsobEcr`], the sans-IO sessions behind
//!   [`crate::session::TerminalSide`] and [`crate::session::EcrSide`].
//!
//! Frame on the wire: `STX` + header + fields + `ETX`, nothing after ETX
//! ([`crate::link::Checksum::None`]).

pub mod codes;
pub mod fields;
pub mod header;
pub mod map;
pub mod message;
pub mod session;
pub mod text;

pub use codes::{Flags, MessageType, ReceiptSelector, ResultCode, TxnCode};
pub use header::{CrcField, CrcPolicy, DataLength, Header, LengthPolicy};
pub use message::{
    Body, MAX_FRAME, Message, MessageView, ParseOptions, TicketRequest, TicketResponse,
    TransactionRequest, TransactionResponse,
};
pub use session::{CsobConfig, CsobEcr, CsobTerminal, PUBLIC_CLIENT_READ};

#[cfg(test)]
mod tests;
