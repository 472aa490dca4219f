//! `ecrlink-core`: the protocol core that links an electronic cash register (ECR, a till or ERP)
//! to a card payment terminal. `no_std`, no heap, sans-IO: it never reads a clock or a socket;
//! the caller feeds it bytes and the current time and gets bytes, events and deadlines back.
//!
//! # Layers (one module folder each)
//! - [`link`] — the byte layer of the till dialects: STX…ETX(+LRC) frames, ACK/NAK/ENQ/EOT,
//!   a fixed-capacity frame accumulator and a half-duplex link session with retransmission
//!   and deadlines.
//! - [`txn`] — the transaction model every dialect maps to: [`txn::Request`], [`txn::Response`],
//!   [`txn::Outcome`], exact money ([`txn::Money`]: minor units + ISO 4217 currency), masked PANs.
//! - [`dialect`] — one module per till protocol, bytes ⇄ [`txn`], with the sessions of both
//!   sides: Concert V2, ČSOB "B" and ZVT (APDUs over TCP or DLE-framed serial).
//! - [`session`] — the dialect-neutral sans-IO sessions the agent (terminal side) and the
//!   host simulator (till side) drive: `handle_bytes`, `handle_timeout`, `poll_transmit`,
//!   `poll_event`, `poll_timeout`.
//! - [`emv`] — BER-TLV parse/emit and the EMV tags a receipt shows.
//! - [`bank`] — ISO 8583 (1987, ASCII) messages of the acquirer link and its length-prefix framing.
//! - [`receipt`] — receipt layout into any [`core::fmt::Write`].
//! - [`journal`] — the records the agent persists, in a length + CRC-32 envelope.
//! - [`terminal`] — the payment application, a sans-IO state machine over the layers above:
//!   every decision between the till's request and its answer (card, journal, bank, receipt),
//!   behind `handle_*` / `poll_*`, with its own driver contract.
//! - [`io`] — blocking and async drivers over `embedded-io` for both sides (terminal and
//!   till), an in-memory [`io::Pipe`] to run them against each other, and the driver contract
//!   (call order, deadlines, buffer sizes) with a runnable example to start from.
//!
//! Every parser returns a complete value, "need more bytes", or a typed [`Error`]; none panics
//! or allocates. Capacities are constants documented where they are declared.
//!
//! # Getting started
//!
//! [`io`] has a runnable example to copy into a `#![no_std]` crate (its `Cargo.toml`, its
//! `src/lib.rs`, a host test and the two commands that build it for a Cortex-M4F and run it
//! on the host): a till and a terminal connected by an in-memory pipe run a sale on a fake
//! clock. [`session`] runs the same sale over the pipe without a driver, each session in a
//! loop of its own, and [`io`] spells out the contract such a loop keeps (call order, when
//! `poll_timeout` changes, buffer sizes, what `respond` refuses). [`terminal`] puts the
//! payment application behind the driver: it decides the answer.
//!
//! # Cargo features
//!
//! - `std` (off by default): links `std` and turns on `std` in the `serde`
//!   dependency. No API needs it: the error types implement [`core::error::Error`] without
//!   it.
//! - `defmt` (off by default): derives `defmt::Format` on the public types (errors, events,
//!   configurations, the transaction model) and enables `defmt` in `heapless` and `postcard`,
//!   for logging on microcontrollers.
//!
//! With no features the crate builds for `thumbv7em-none-eabihf`. Minimum supported Rust
//! version: 1.88 (`rust-version` in `Cargo.toml`; the dependencies `heapless` 0.9.4 and
//! `postcard` 1.2 require it).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

mod ascii;
pub mod bank;
pub mod dialect;
pub mod emv;
mod error;
pub mod io;
pub mod journal;
pub mod link;
mod num;
mod queue;
pub mod receipt;
pub mod session;
pub mod terminal;
pub mod time;
pub mod txn;

pub use error::{Error, Result};
pub use time::Instant;

/// The crate's README (the crates.io page), compiled and run as doctests so its example
/// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
