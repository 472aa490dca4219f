//! The till link: which dialect sessions are linked (cargo features `concert`, `csob`, `zvt`),
//! the driver buffer each needs, what each says about a receipt request, and the loop that runs
//! a session alone when the payment application is not linked (feature `app` off: the build
//! that measures what the link costs by itself).

use ecrlink_core::Instant;
#[cfg(feature = "concert")]
use ecrlink_core::dialect::concert::ConcertTerminal;
#[cfg(feature = "csob")]
use ecrlink_core::dialect::csob::{CsobTerminal, ReceiptSelector};
#[cfg(feature = "zvt")]
use ecrlink_core::dialect::zvt::{ReceiptCopy, ReceiptWanted, ZvtTerminal};
use ecrlink_core::io::BlockingTerminal;
use ecrlink_core::session::{RECEIPT_PART_CAPACITY, TerminalSide};

use crate::uart::Usart;

/// The monotonic clock the drivers read (the SysTick millisecond counter).
pub type Clock = fn() -> Instant;

/// A till session driven over USART2 by core's blocking driver, with a buffer of `N` bytes
/// (used both ways: it must hold the dialect's largest transmission).
pub type Till<S, const N: usize> = BlockingTerminal<S, Usart, Clock, N>;

/// Concert's driver buffer: the largest Concert transmission (a frame with STX, ETX, LRC and
/// its control bytes).
#[cfg(feature = "concert")]
pub const CONCERT_BUF: usize = ecrlink_core::link::session::TX_CAPACITY;

/// ČSOB's driver buffer, and the most bytes of frames the session builds at once
/// ([`ecrlink_core::dialect::csob::CsobConfig::till_read`] is set to it): the public
/// client's read size. No ČSOB frame the terminal sends is larger, so `poll_transmit` never
/// answers `BufferTooSmall`.
#[cfg(feature = "csob")]
pub const CSOB_BUF: usize = ecrlink_core::dialect::csob::session::PUBLIC_CLIENT_READ;

/// ZVT's driver buffer: the ZVT session hands its bytes out in pieces of any size, so this only
/// sets how many go per UART write.
#[cfg(feature = "zvt")]
pub const ZVT_BUF: usize = 256;

// The driver's one buffer must hold the largest thing the session transmits at once (core's
// driver contract, "Buffer sizes"); a smaller one fails every answer that does not fit.
#[cfg(feature = "concert")]
const _: () = assert!(CONCERT_BUF >= ecrlink_core::link::session::TX_CAPACITY);
#[cfg(feature = "csob")]
const _: () = assert!(
    CSOB_BUF >= ecrlink_core::dialect::csob::session::PUBLIC_CLIENT_READ
        && CSOB_BUF <= ecrlink_core::dialect::csob::MAX_FRAME
);

/// Which copy of the receipt the till asked for.
#[cfg_attr(
    not(all(feature = "app", any(feature = "csob", feature = "zvt"))),
    allow(dead_code)
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copy {
    /// The merchant's copy.
    Merchant,
    /// The customer's copy.
    Customer,
}

/// What a receipt request asks for.
#[cfg_attr(
    not(all(feature = "app", any(feature = "csob", feature = "zvt"))),
    allow(dead_code)
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptAsk {
    /// The first part of this copy.
    First(Copy),
    /// The next part of the copy being sent.
    Next,
}

/// A till session plus what the firmware needs beyond [`TerminalSide`] to answer a receipt
/// request part by part.
pub trait Session: TerminalSide {
    /// Whether the dialect ever reports [`ecrlink_core::session::TerminalEvent::ReceiptRequested`]
    /// (ČSOB, ZVT; Concert has no receipt transfer): without it the loops leave out the code
    /// that cuts a receipt into parts.
    #[cfg_attr(feature = "app", allow(dead_code))]
    const RECEIPTS: bool = true;

    /// What the pending receipt request asks for; `None` when the dialect does not say.
    #[cfg_attr(not(feature = "app"), allow(dead_code))]
    fn receipt_ask(&self) -> Option<ReceiptAsk> {
        None
    }

    /// Whether `text` goes to the till as one part (marked "more follows" when `more`).
    fn part_fits(&self, text: &str, more: bool) -> bool {
        let _ = more;
        text.len() <= RECEIPT_PART_CAPACITY
    }
}

#[cfg(feature = "concert")]
impl Session for ConcertTerminal {
    const RECEIPTS: bool = false;
}

#[cfg(feature = "csob")]
impl Session for CsobTerminal {
    fn receipt_ask(&self) -> Option<ReceiptAsk> {
        self.receipt_selector().map(|s| match s {
            ReceiptSelector::Merchant => ReceiptAsk::First(Copy::Merchant),
            ReceiptSelector::Customer => ReceiptAsk::First(Copy::Customer),
            ReceiptSelector::Next => ReceiptAsk::Next,
        })
    }

    fn part_fits(&self, text: &str, more: bool) -> bool {
        self.receipt_part_fits(text, more)
    }
}

#[cfg(feature = "zvt")]
impl Session for ZvtTerminal {
    fn receipt_ask(&self) -> Option<ReceiptAsk> {
        self.receipt_wanted().map(|w| match w {
            ReceiptWanted::First(ReceiptCopy::Merchant) => ReceiptAsk::First(Copy::Merchant),
            ReceiptWanted::First(ReceiptCopy::Customer) => ReceiptAsk::First(Copy::Customer),
            ReceiptWanted::Next => ReceiptAsk::Next,
        })
    }
}

/// The longest head of `rest` (cut at a line end where one is near) that `session` sends as
/// one part, and whether more follows it.
pub fn next_part<'a, S: Session>(session: &S, rest: &'a str) -> (&'a str, bool) {
    const STEP: usize = 64;
    let mut max = RECEIPT_PART_CAPACITY;
    loop {
        let part = ecrlink_core::receipt::parts(rest, max).next().unwrap_or("");
        let more = part.len() < rest.len();
        if max <= STEP || session.part_fits(part, more) {
            return (part, more);
        }
        max -= STEP;
    }
}

/// Without the application: answers every request "not supported" and every receipt request
/// with an empty last part, forever: the link alone, as a firmware that brings its own
/// application drives it. The answers pass through [`core::hint::black_box`] so that the
/// compiler cannot drop the code for fields a real application fills in (amount, approval
/// code, card, totals): what is measured is the link's code for any answer.
#[cfg(not(feature = "app"))]
pub fn serve_alone<S: Session, const N: usize>(till: &'static mut Till<S, N>) -> ! {
    loop {
        if let Some(kind) = step(till) {
            refuse(till, kind);
        }
    }
}

/// One step of the driver, with a receipt request answered; returns the kind of a request to
/// answer. A function of its own, never inlined: the event it polls (64 bytes) is on the
/// stack only during the step, not while [`refuse`] answers.
#[cfg(not(feature = "app"))]
#[inline(never)]
fn step<S: Session, const N: usize>(
    till: &mut Till<S, N>,
) -> Option<ecrlink_core::txn::RequestKind> {
    use ecrlink_core::session::TerminalEvent;
    match till.poll() {
        Ok(Some(TerminalEvent::Request(request))) => return Some(request.kind()),
        Ok(Some(TerminalEvent::ReceiptRequested)) if S::RECEIPTS => {
            let (part, more) = next_part(till.session(), core::hint::black_box(""));
            let _ = till.send_receipt_part(part, more);
        }
        Ok(Some(_) | None) | Err(_) => {}
    }
    None
}

/// Answers a request of `kind` "not supported". A function of its own, never inlined: the
/// [`ecrlink_core::txn::Response`] it builds (760 bytes on this target) is then on the stack
/// only while the answer is given, not under [`BlockingTerminal::poll`]'s receive path as
/// well (the two are never active at once, so the worst-case stack is the larger of the two
/// instead of their sum).
///
/// [`BlockingTerminal::poll`]: ecrlink_core::io::BlockingTerminal::poll
#[cfg(not(feature = "app"))]
#[inline(never)]
fn refuse<S: Session, const N: usize>(till: &mut Till<S, N>, kind: ecrlink_core::txn::RequestKind) {
    use core::hint::black_box;
    use ecrlink_core::txn::{FailReason, Outcome, Response};
    let answer = Response::new(
        kind,
        Outcome::Failed {
            reason: FailReason::NotSupported,
        },
    );
    let _ = till.respond(black_box(&answer));
}
