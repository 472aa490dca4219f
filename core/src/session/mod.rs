//! Dialect-neutral, sans-IO sessions: the contract between a dialect and its driver (the agent
//! on the terminal side, the host simulator on the till side, or firmware's own loop).
//!
//! A driver does four things, in any order, as often as it likes:
//! 1. feeds received bytes: `handle_bytes(now, bytes)`;
//! 2. when the deadline from `poll_timeout()` has passed: `handle_timeout(now)`;
//! 3. sends what `poll_transmit(buf)` writes, until it returns `Ok(None)`;
//! 4. acts on what `poll_event()` returns, until it returns `None`.
//!
//! Time is the caller's [`Instant`]; nothing here sleeps, reads a clock or allocates. Tests
//! drive a till session and a terminal session against each other with a fake clock.
//!
//! Both traits are object safe, so a std driver can hold a `Box<dyn TerminalSide + Send>`
//! chosen at run time; firmware uses the concrete types.

use heapless::String;

use crate::txn::{Request, Response};
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
}

impl Dialect {
    /// Lower-case name as used on command lines (`concert`, `csob`).
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::Concert => "concert",
            Dialect::Csob => "csob",
        }
    }

    /// Parses a name as used on command lines.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "concert" => Some(Dialect::Concert),
            "csob" => Some(Dialect::Csob),
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

/// What a till-side session reports to its driver.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcrEvent {
    /// The terminal took the request and is processing it.
    Accepted,
    /// The terminal's answer.
    Response(Response),
    /// A part of receipt text; `more` says whether another part follows.
    ReceiptPart {
        /// Text of this part (UTF-8, lines separated by `\n`).
        text: String<RECEIPT_PART_CAPACITY>,
        /// Whether the terminal has another part.
        more: bool,
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
    fn respond(&mut self, now: Instant, response: &Response) -> Result<()>;
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
