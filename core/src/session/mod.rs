//! Dialect-neutral, sans-IO sessions: the contract between a dialect and its driver (the agent
//! on the terminal side, the host simulator on the till side, or firmware's own loop).
//!
//! A driver does four things, in any order, as often as it likes:
//! 1. feeds received bytes: `handle_bytes(now, bytes)`;
//! 2. when the deadline from `poll_timeout()` has passed: `handle_timeout(now)`;
//! 3. sends what `poll_transmit(buf)` writes, until it returns `Ok(None)`;
//! 4. acts on what `poll_event()` returns, until it returns `None`.
//!
//! Time is the caller's [`Instant`]; nothing here sleeps, reads a clock or allocates. The full
//! contract (what to do after each call, when `poll_timeout` changes, how large `buf` must be)
//! is in [`crate::io`], whose drivers do all of this over an `embedded-io` port.
//!
//! Both traits are object safe, so a std driver can hold a `Box<dyn TerminalSide + Send>`
//! chosen at run time; firmware uses the concrete types.
//!
//! # Example: a till session and a terminal session answer a sale over a pipe
//!
//! No driver: each session has a loop of its own over its end of an in-memory
//! [`Pipe`](crate::io::Pipe), on a fake clock that moves on 1 ms per round. This is the loop
//! to write when your UART has no `embedded-io` driver: replace the pipe's `read_ready`,
//! `read` and `write_all` with your UART's. Each side does the same four steps: feed what
//! the line brought, act on the events, send what there is to send, fire a due deadline.
//! It needs no `std` and no heap.
//!
//! ```
//! #![no_std]
//! # extern crate std;
//! use core::time::Duration;
//!
//! use ecrlink_core::Instant;
//! use ecrlink_core::dialect::concert::{
//!     ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
//! };
//! use ecrlink_core::io::embedded_io::{Read, ReadReady, Write};
//! use ecrlink_core::io::{DriverError, Pipe, PipeError};
//! use ecrlink_core::link::session::TX_CAPACITY;
//! use ecrlink_core::session::{EcrEvent, EcrSide, TerminalEvent, TerminalSide};
//! use ecrlink_core::txn::{Currency, Money, Outcome, Request, Response};
//!
//! /// Runs a 12.50 EUR sale between a till and a terminal; the terminal approves it.
//! pub fn sale() -> Result<Response, DriverError<PipeError>> {
//!     let mut till = ConcertEcr::new(ConcertEcrConfig::default());
//!     let mut terminal = ConcertTerminal::new(ConcertTerminalConfig::default());
//!     let mut pipe = Pipe::<256>::new();
//!     let (mut till_port, mut terminal_port) = pipe.split();
//!     // Large enough for the largest thing a Concert session transmits at once.
//!     let mut buf = [0u8; TX_CAPACITY];
//!     let mut now = Instant::ZERO;
//!
//!     let amount = Money::new(1250, Currency::EUR)?;
//!     till.start(now, &Request::Sale { amount, reference: None })?;
//!     loop {
//!         // The terminal: bytes in, events (approve each request; a real terminal asks its
//!         // payment application), bytes out.
//!         while terminal_port.read_ready().map_err(DriverError::Io)? {
//!             let n = terminal_port.read(&mut buf).map_err(DriverError::Io)?;
//!             terminal.handle_bytes(now, buf.get(..n).unwrap_or_default());
//!         }
//!         while let Some(event) = terminal.poll_event() {
//!             if let TerminalEvent::Request(request) = event {
//!                 let mut answer = Response::new(request.kind(), Outcome::Approved);
//!                 answer.amount = request.amount();
//!                 terminal.respond(now, &answer)?;
//!             }
//!         }
//!         while let Some(n) = terminal.poll_transmit(&mut buf)? {
//!             let bytes = buf.get(..n).unwrap_or_default();
//!             terminal_port.write_all(bytes).map_err(DriverError::Io)?;
//!         }
//!         // The till: the same steps; its events are the answer, or why there is none.
//!         while till_port.read_ready().map_err(DriverError::Io)? {
//!             let n = till_port.read(&mut buf).map_err(DriverError::Io)?;
//!             till.handle_bytes(now, buf.get(..n).unwrap_or_default());
//!         }
//!         while let Some(event) = till.poll_event() {
//!             match event {
//!                 EcrEvent::Response(answer) => return Ok(answer),
//!                 EcrEvent::TimedOut => return Err(DriverError::TimedOut),
//!                 EcrEvent::Failed(e) => return Err(DriverError::NotDelivered(e)),
//!                 _ => {}
//!             }
//!         }
//!         while let Some(n) = till.poll_transmit(&mut buf)? {
//!             till_port.write_all(buf.get(..n).unwrap_or_default()).map_err(DriverError::Io)?;
//!         }
//!         // Time passes; fire the deadlines that are due.
//!         now = now.saturating_add(Duration::from_millis(1));
//!         if till.poll_timeout().is_some_and(|deadline| now >= deadline) {
//!             till.handle_timeout(now);
//!         }
//!         if terminal.poll_timeout().is_some_and(|deadline| now >= deadline) {
//!             terminal.handle_timeout(now);
//!         }
//!     }
//! }
//! # fn main() {
//! #     let answer = sale().unwrap();
//! #     assert_eq!(answer.outcome, Outcome::Approved);
//! #     assert_eq!(answer.amount, Money::new(1250, Currency::EUR).ok());
//! # }
//! ```

use heapless::String;

use crate::txn::{Request, RequestKind, Response};

/// What of a response does not answer the pending request
/// ([`Error::SessionResponseMismatch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ResponseField {
    /// The response is for another kind of request (a refund answer to a sale).
    Kind,
    /// The amount differs from the request's.
    Amount,
    /// The currency differs from the request's.
    Currency,
    /// An approval that moves money carries no amount (the session never fills one in).
    AmountMissing,
}

impl ResponseField {
    /// A short description for logs and error messages.
    pub const fn name(self) -> &'static str {
        match self {
            ResponseField::Kind => "another kind of request",
            ResponseField::Amount => "another amount",
            ResponseField::Currency => "another currency",
            ResponseField::AmountMissing => "approval without an amount",
        }
    }
}

/// The one rule every dialect's [`TerminalSide::respond`] applies before it sends anything:
/// `response` answers `request` when
/// - it is for the same kind of request ([`ResponseField::Kind`]); a last-transaction request
///   is also answered by the last transaction's own answer, of the kind that transaction was
///   (a sale, cash-back sale, refund or reversal: what [`crate::terminal::Terminal`] answers),
///   which a dialect writes as its last-transaction answer, naming that kind where it can;
/// - an amount it carries is the request's, in the request's currency
///   ([`ResponseField::Amount`], [`ResponseField::Currency`]); requests without an amount
///   (totals, tests, last transaction) take any;
/// - an approval of a request that moves money carries its amount
///   ([`ResponseField::AmountMissing`]). A decline or failure may go without one; the till
///   then gets none (never the request's, filled in).
///
/// Errors: [`Error::SessionResponseMismatch`].
pub fn check_response(request: &Request, response: &Response) -> Result<()> {
    check_answer(request.kind(), request.amount(), response)
}

/// [`check_response`] given only the request's kind and amount: what a session that does not
/// keep the txn request it reported remembers of it (ČSOB's terminal keeps the B1).
pub(crate) fn check_answer(
    kind: RequestKind,
    amount: Option<crate::txn::Money>,
    response: &Response,
) -> Result<()> {
    let mismatch = |field| Err(Error::SessionResponseMismatch { field });
    let last_answer = kind == RequestKind::LastTransaction && response.kind.moves_money();
    if response.kind != kind && !last_answer {
        return mismatch(ResponseField::Kind);
    }
    match (amount, response.amount) {
        (Some(asked), Some(answered)) if answered.currency != asked.currency => {
            mismatch(ResponseField::Currency)
        }
        (Some(asked), Some(answered)) if answered.minor() != asked.minor() => {
            mismatch(ResponseField::Amount)
        }
        (Some(_), None) if response.outcome.is_approved() && response.kind.moves_money() => {
            mismatch(ResponseField::AmountMissing)
        }
        _ => Ok(()),
    }
}
use crate::{Error, Instant, Result};

/// Capacity of one receipt text part carried by [`EcrEvent::ReceiptPart`] and
/// [`TerminalSide::send_receipt_part`].
pub const RECEIPT_PART_CAPACITY: usize = 1024;

/// A buffer of this many bytes is always large enough for `poll_transmit`.
pub const MAX_TRANSMIT: usize = 2048;

/// The till dialects the core speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dialect {
    /// Ingenico Concert V2 (protocol E/E+), the French *liaison caisse*.
    Concert,
    /// ČSOB "B" protocol (Czech Republic).
    Csob,
    /// ZVT, the German till protocol (TCP port 20007 or serial). Not auto-detected: its
    /// first bytes (`06 …`, `05 01`) overlap Concert's control bytes.
    Zvt,
}

impl Dialect {
    /// Lower-case name as used on command lines (`concert`, `csob`, `zvt`).
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::Concert => "concert",
            Dialect::Csob => "csob",
            Dialect::Zvt => "zvt",
        }
    }

    /// Parses a name as used on command lines.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "concert" => Some(Dialect::Concert),
            "csob" => Some(Dialect::Csob),
            "zvt" => Some(Dialect::Zvt),
            _ => None,
        }
    }

    /// Guesses the dialect from the first byte a till sends: ENQ opens a Concert exchange,
    /// STX a ČSOB message.
    pub const fn detect(first_byte: u8) -> Option<Self> {
        match first_byte {
            crate::link::control::ENQ => Some(Dialect::Concert),
            crate::link::control::STX => Some(Dialect::Csob),
            _ => None,
        }
    }
}

/// What a terminal-side session reports to its driver.
// No heap in core: the large variants cannot be boxed; events are moved, not copied around.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TerminalEvent {
    /// A request arrived from the till: run it, then call [`TerminalSide::respond`].
    Request(Request),
    /// The till asked for the receipt of the last transaction in text parts (ČSOB B3): answer
    /// with [`TerminalSide::send_receipt_part`].
    ReceiptRequested,
    /// The response was delivered (acknowledged by the till where the dialect acknowledges).
    ResponseDelivered,
    /// The response could not be delivered: no acknowledgement after the retries. The result
    /// stays the terminal's last transaction for the till to ask for.
    ResponseUndelivered(Error),
    /// Bytes the session rejected (bad frame, bad field); it answered NAK or dropped them.
    ProtocolError(Error),
}

/// A stage of the terminal's work on a request, for the till's screen where the dialect
/// carries it (ČSOB: an activity message B0 with a stage field; Concert: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Progress {
    /// The terminal waits for the card.
    PresentCard,
    /// The cardholder enters the PIN.
    PinEntry,
    /// The card was read.
    CardRead,
    /// The terminal asks the bank.
    ContactingBank,
    /// The terminal prints the receipt.
    Printing,
}

impl Progress {
    /// Every stage, in the order a sale goes through them.
    pub const ALL: [Progress; 5] = [
        Progress::PresentCard,
        Progress::PinEntry,
        Progress::CardRead,
        Progress::ContactingBank,
        Progress::Printing,
    ];

    /// Its name on the wire and in logs: `present-card`, `pin-entry`, `card-read`,
    /// `contacting-bank`, `printing`.
    pub fn name(self) -> &'static str {
        match self {
            Progress::PresentCard => "present-card",
            Progress::PinEntry => "pin-entry",
            Progress::CardRead => "card-read",
            Progress::ContactingBank => "contacting-bank",
            Progress::Printing => "printing",
        }
    }

    /// The stage named `name` ([`Progress::name`]).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Progress::ALL
            .into_iter()
            .find(|p| p.name().as_bytes() == name)
    }
}

/// What a till-side session reports to its driver.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcrEvent {
    /// The terminal took the request and is processing it.
    Accepted,
    /// The terminal said what it is doing (only dialects that carry it: ČSOB).
    Progress(Progress),
    /// The terminal's answer.
    Response(Response),
    /// A part of receipt text; `more` says whether another part follows.
    ReceiptPart {
        /// Text of this part (UTF-8, lines separated by `\n`).
        text: String<RECEIPT_PART_CAPACITY>,
        /// Whether the terminal has another part.
        more: bool,
    },
    /// The terminal's intermediate status while it works (ZVT `04 FF`): `code` as the
    /// dialect numbers it (see [`crate::dialect::zvt::session::status_text`]).
    Status {
        /// The dialect's status code.
        code: u8,
    },
    /// No answer within the response limit: the outcome is unknown; ask for the last
    /// transaction before assuming anything.
    TimedOut,
    /// The request could not be delivered (no ACK, too many NAKs).
    Failed(Error),
    /// Bytes the session rejected; the exchange may still complete.
    ProtocolError(Error),
}

/// The terminal side of a till dialect.
pub trait TerminalSide {
    /// Feeds bytes received from the till.
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]);
    /// Call when `now` has reached [`TerminalSide::poll_timeout`].
    fn handle_timeout(&mut self, now: Instant);
    /// Writes the next bytes to send into `buf` and returns their length, `Ok(None)` if there
    /// is nothing to send. [`Error::BufferTooSmall`] leaves the bytes queued.
    #[must_use = "bytes to send are lost if not written"]
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>>;
    /// The next event, if any.
    #[must_use]
    fn poll_event(&mut self) -> Option<TerminalEvent>;
    /// The earliest deadline at which [`TerminalSide::handle_timeout`] must be called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Answers the request last reported by [`TerminalEvent::Request`].
    ///
    /// Every dialect refuses alike, and sends nothing when it refuses:
    /// [`Error::SessionNoRequest`] when no request waits for an answer (none came, or it
    /// was answered already; an answer to an abort too); [`Error::SessionResponseMismatch`]
    /// when `response` does not answer the request by [`check_response`]: then the request
    /// stays pending for the right answer. Nothing is filled in: an amount the response
    /// lacks is not taken from the request. A response the dialect cannot encode is
    /// refused with the dialect's own error.
    fn respond(&mut self, now: Instant, response: &Response) -> Result<()>;
    /// Tells the till what the terminal is doing while a request runs. Dialects that carry no
    /// such message return [`Error::Unsupported`]; with no request running nothing is sent.
    fn send_progress(&mut self, now: Instant, progress: Progress) -> Result<()> {
        let _ = (now, progress);
        Err(Error::Unsupported {
            what: "terminal progress messages",
        })
    }
    /// Sends one part of receipt text after [`TerminalEvent::ReceiptRequested`]; `more` says
    /// another part follows. Dialects without receipt transfer return [`Error::Unsupported`].
    fn send_receipt_part(&mut self, now: Instant, text: &str, more: bool) -> Result<()> {
        let _ = (now, text, more);
        Err(Error::Unsupported {
            what: "receipt transfer",
        })
    }
    /// Whether an exchange is under way (a request received and not yet answered, or an
    /// answer not yet acknowledged).
    fn is_busy(&self) -> bool;
}

/// The till (ECR) side of a dialect.
pub trait EcrSide {
    /// Sends a request; [`Error::LinkBusy`] if one is under way.
    fn start(&mut self, now: Instant, request: &Request) -> Result<()>;
    /// Asks for the next part of the last receipt (ČSOB B3); [`Error::Unsupported`] elsewhere.
    fn request_receipt(&mut self, now: Instant) -> Result<()> {
        let _ = now;
        Err(Error::Unsupported {
            what: "receipt transfer",
        })
    }
    /// Feeds bytes received from the terminal.
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]);
    /// Call when `now` has reached [`EcrSide::poll_timeout`].
    fn handle_timeout(&mut self, now: Instant);
    /// Writes the next bytes to send into `buf`; as [`TerminalSide::poll_transmit`].
    #[must_use = "bytes to send are lost if not written"]
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>>;
    /// The next event, if any.
    #[must_use]
    fn poll_event(&mut self) -> Option<EcrEvent>;
    /// The earliest deadline at which [`EcrSide::handle_timeout`] must be called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Whether a request is under way.
    fn is_busy(&self) -> bool;
}

#[cfg(test)]
mod tests;
