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
//!
//! What is supported, and where each fact comes from (files of the public client's folder):
//!
//! | what | supported | public source |
//! |---|---|---|
//! | requests (B1 `T`) | T00 sale, T04 refund, T10 reversal (`F` approval code, amount optional), T60 close totals, T80 application info, T81 passivate, T82 last transaction, T95 handshake; also T08 sale with cashback, T65 subtotals, T83 last sums | `enums/TransactionTypes.java`, `Payment.createRequest`, `createReversalRequest` |
//! | request fields | `B` amount in minor units, at least three digits (`B005`); `E` currency (`E203`); reference of 10–20 characters as `9 GS S…`, of 1–9 as a plain `S…`; `F` approval code | `Payment.parsePrice`, `Payment.createRequest` |
//! | answer fields (B2) | `T`, `R` first, then `F`, `B` (three digits at least), `E`, `9 GS S…` (read by the client's split at GS as `S…`), `g` text; ecrlink conventions `C`, `P`, `M`, `N`, `K`, `Y`, `Z` | `Response.java` (`parseTransactionType`, `parseResponseType`, `parseApprovalCode`, `getOrderId`, `getPrice`) |
//! | flags | B1/B3 `8000`, B0 `0000`; B2 bit 1 "receipt ready" only when a receipt of that answer exists | `Payment.java`, `Response.checkFlag` |
//! | receipts | B3 `9 GS tM`/`tC`/`t-`, B4 lines `T0…`, `t1` when another part follows; each B4 frame within one read | `ProcessMessage.getRecipes`, `Response.getRecipes`, `wantNext` |
//! | timings | B0 at once after a B1; B2 within 60 s; the till's B0 within 5 s; B4 within 5 s of its B3; an answer ready at once leaves with its B0 in one write | `ProcessMessage.waitForPayment`, `waitForResponse`, `SocketConnection.verifyConnection` |
//! | reads | the till reads once into 1024 bytes and uses only the frames complete in it: no frame, and no batch of frames sent together, is larger ([`PUBLIC_CLIENT_READ`]) | `SocketConnection.read`, `bytesToMessage` |
//! | connection | one TCP connection kept all day (3 s connect limit); the agent keeps idle tills, TCP keepalive finds dead ones | `SocketConnection.open`, `send`, `read` |

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
