//! Ingenico Concert V2 (protocol E / E+), the French *liaison caisse*: till ⇄ terminal over a
//! serial line or TCP.
//!
//! - [`fields`]: the coded fields (answer flag, payment mode, transaction type, status, …).
//! - [`message`]: [`ConcertRequest`] and [`ConcertAnswer`] parse/emit, byte ranges as constants.
//! - [`map`]: to and from the [`crate::txn`] model.
//! - [`session`]: [`ConcertTerminal`] and [`ConcertEcr`], the [`crate::session`] traits over
//!   the [`crate::link::session::LinkSession`].
//!
//! Public sources (facts only, no code): `Ousret/pyTeliumManager` (`telium/payment.py`,
//! `telium/manager.py`, `telium/constant.py`) and `akretion/pypostelium` (`pypostelium.py`).
//! Nothing here has been checked against a real terminal; the tests reproduce the example
//! frame of the project's DESIGN notes and the layouts those libraries emit.

pub mod fields;
pub mod map;
pub mod message;
pub mod session;

pub use fields::{
    AnswerForm, Authorization, Delay, PaymentMode, PrivateData, Status, TransactionType,
};
pub use map::RequestOptions;
pub use message::{ConcertAnswer, ConcertMessage, ConcertRequest, MAX_AMOUNT_MINOR};
pub use session::{ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig};
