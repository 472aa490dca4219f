//! Drivers that run a session over a byte port, so firmware does not write the loop, and an
//! in-memory [`Pipe`] to run them against each other in tests and examples.
//!
//! | side | blocking ([`embedded_io`]: a UART in a super-loop) | async ([`embedded_io_async`]: a UART under embassy) |
//! |---|---|---|
//! | terminal ([`TerminalSide`]) | [`BlockingTerminal`] | [`AsyncTerminal`] |
//! | till ([`EcrSide`]) | [`BlockingTill`] | [`AsyncTill`] |
//!
//! All take the time from a caller-supplied [`Clock`]; the async ones also wait on a
//! caller-supplied [`Timer`]. Each driver owns one buffer of `BUF` bytes (no heap).
//!
//! # Example: a till and a terminal answer a sale over a pipe
//!
//! Both ends in one thread, on a fake clock: the till asks for a 12.50 EUR sale in Concert,
//! the terminal approves it, the till gets the answer. Nothing here needs `std` or a heap:
//! the same code runs in a `#![no_std]` crate that depends on `ecrlink-core`. To try it, make
//! a new crate (`cargo new --lib sale-demo`) of three files. `Cargo.toml` (the example needs
//! no other dependency: the pipe and the drivers bring their `embedded-io` traits with them):
//!
//! ```toml
//! [package]
//! name = "sale-demo"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [dependencies]
//! ecrlink-core = "0.1"
//! ```
//!
//! `src/lib.rs`, the whole file:
//!
//! ```
//! #![no_std]
//! # extern crate std;
//! use core::cell::Cell;
//!
//! use ecrlink_core::Instant;
//! use ecrlink_core::dialect::concert::{
//!     ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
//! };
//! use ecrlink_core::io::{BlockingTerminal, BlockingTill, DriverError, Pipe, PipeError};
//! use ecrlink_core::link::session::TX_CAPACITY;
//! use ecrlink_core::session::{EcrEvent, TerminalEvent};
//! use ecrlink_core::txn::{Currency, Money, Outcome, Request, Response};
//!
//! /// Runs a 12.50 EUR sale between a till and a terminal over an in-memory pipe; the
//! /// terminal approves it. Returns the answer the till got.
//! pub fn sale_over_a_pipe() -> Result<Response, DriverError<PipeError>> {
//!     // A fake clock the loop advances by hand; firmware reads its SysTick counter instead.
//!     let millis = Cell::new(0u64);
//!     let clock = || Instant::from_millis(millis.get());
//!
//!     // 256 bytes each way: more than one Concert frame and its control bytes.
//!     let mut pipe = Pipe::<256>::new();
//!     let (till_port, terminal_port) = pipe.split();
//!     // TX_CAPACITY: the largest thing a Concert session transmits at once.
//!     let mut till = BlockingTill::<_, _, _, TX_CAPACITY>::new(
//!         ConcertEcr::new(ConcertEcrConfig::default()),
//!         till_port,
//!         &clock,
//!     );
//!     let mut terminal = BlockingTerminal::<_, _, _, TX_CAPACITY>::new(
//!         ConcertTerminal::new(ConcertTerminalConfig::default()),
//!         terminal_port,
//!         &clock,
//!     );
//!
//!     let amount = Money::new(1250, Currency::EUR)?;
//!     till.start(&Request::Sale { amount, reference: None })?;
//!     loop {
//!         // The terminal approves every request; a real one asks its payment kernel.
//!         if let Some(TerminalEvent::Request(request)) = terminal.poll()? {
//!             let mut answer = Response::new(request.kind(), Outcome::Approved);
//!             answer.amount = request.amount();
//!             terminal.respond(&answer)?;
//!         }
//!         // The till waits for the answer (the session gives up after 60 s by itself).
//!         match till.poll()? {
//!             Some(EcrEvent::Response(answer)) => return Ok(answer),
//!             Some(EcrEvent::TimedOut) => return Err(DriverError::TimedOut),
//!             Some(EcrEvent::Failed(e)) => return Err(DriverError::NotDelivered(e)),
//!             _ => {}
//!         }
//!         millis.set(millis.get() + 1);
//!     }
//! }
//!
//! # fn main() {
//! #     let answer = sale_over_a_pipe().unwrap();
//! #     assert_eq!(answer.outcome, Outcome::Approved);
//! #     assert_eq!(answer.amount, Money::new(1250, Currency::EUR).ok());
//! # }
//! ```
//!
//! `tests/sale.rs`, a host test that runs the sale:
//!
//! ```ignore
//! use ecrlink_core::txn::{Currency, Money, Outcome};
//!
//! #[test]
//! fn the_terminal_approves_the_sale() {
//!     let answer = sale_demo::sale_over_a_pipe().unwrap();
//!     assert_eq!(answer.outcome, Outcome::Approved);
//!     assert_eq!(answer.amount, Money::new(1250, Currency::EUR).ok());
//! }
//! ```
//!
//! Then `cargo test` answers the sale on the host, and
//! `rustup target add thumbv7em-none-eabihf && cargo build --target thumbv7em-none-eabihf`
//! builds the same library for a Cortex-M4F, with no `std` and no allocator. (Your firmware's
//! binary crate, which calls it, brings what every bare-metal binary has: an entry point such
//! as `cortex-m-rt`'s and a `#[panic_handler]`; ecrlink-core itself never panics on input.)
//! ecrlink's CI does exactly this with these three blocks in a fresh crate
//! (`tests/tests/doc_example_crate.rs` in the repository), so they do not drift.
//!
//! A till alone (the terminal on the other end of a real line) is one call:
//! [`BlockingTill::transact`] sends the request and returns the answer. A terminal firmware's
//! main loop is [`BlockingTerminal::next_event`] and [`BlockingTerminal::respond`]:
//!
//! ```
//! # use ecrlink_core::io::{BlockingTerminal, Clock, DriverError, embedded_io};
//! # use ecrlink_core::session::{TerminalEvent, TerminalSide};
//! # use ecrlink_core::txn::{Outcome, Response};
//! # fn wfi() {}
//! fn serve<S, P, C, const BUF: usize>(
//!     driver: &mut BlockingTerminal<S, P, C, BUF>,
//! ) -> Result<(), DriverError<P::Error>>
//! where
//!     S: TerminalSide,
//!     P: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write,
//!     C: Clock,
//! {
//!     loop {
//!         // Nothing to do: sleep until an interrupt (the UART's, or the SysTick that also
//!         // bounds the wait for the session's next deadline, passed in here).
//!         match driver.next_event(|_deadline| wfi())? {
//!             TerminalEvent::Request(request) => {
//!                 let mut answer = Response::new(request.kind(), Outcome::Approved);
//!                 answer.amount = request.amount();
//!                 driver.respond(&answer)?;
//!             }
//!             TerminalEvent::ReceiptRequested => driver.send_receipt_part("Thank you", false)?,
//!             _ => {}
//!         }
//!     }
//! }
//! ```
//!
//! # The driver contract
//!
//! What these drivers do, and what a loop of your own must do with a [`TerminalSide`] or an
//! [`EcrSide`] session:
//!
//! 1. **Call order.** In any order, as often as you like: feed every byte received with
//!    `handle_bytes(now, bytes)` (any split: one byte at a time is fine); call
//!    `handle_timeout(now)` once `now` has reached `poll_timeout()`; send what
//!    `poll_transmit(buf)` writes until it returns `Ok(None)`; act on what `poll_event()`
//!    returns until it returns `None`. The one rule: after any call that takes `now`
//!    (`handle_bytes`, `handle_timeout`, `start`, `respond`, `request_receipt`,
//!    `send_receipt_part`), drain `poll_transmit` and write the bytes out *before* waiting
//!    for anything: the session's deadlines count from that `now`. `respond` only after a
//!    [`TerminalEvent::Request`] (else [`Error::SessionNoRequest`], in every dialect; an
//!    answer that does not fit the request is [`Error::SessionResponseMismatch`] and the
//!    request stays pending: see [`TerminalSide::respond`]), `send_receipt_part` only after
//!    [`TerminalEvent::ReceiptRequested`], `start` only while [`EcrSide::is_busy`] is false
//!    (else [`Error::LinkBusy`]).
//! 2. **When `poll_timeout` changes.** Only in the calls that take `now` listed above;
//!    `poll_transmit`, `poll_event` and `poll_timeout` itself never move it. So read it after
//!    each such call, and sleep until the earlier of that deadline and the next byte. `None`
//!    means no timer runs: wait for bytes only. A deadline in the past means "call
//!    `handle_timeout` now". Calling `handle_timeout` early is harmless (it does nothing).
//! 3. **Buffer sizes.** The transmit buffer must hold the largest single transmission of the
//!    dialect: [`link::session::TX_CAPACITY`](crate::link::session::TX_CAPACITY) (88 bytes)
//!    for Concert; for ČSOB
//!    [`TERMINAL_OUTBOX`](crate::dialect::csob::session::TERMINAL_OUTBOX) (1 024 bytes, one
//!    read of the public client) on the terminal side and
//!    [`csob::MAX_FRAME`](crate::dialect::csob::MAX_FRAME) (2 048 bytes) on the till side;
//!    ZVT takes any buffer (it hands out what it has queued in pieces of the buffer's
//!    size); [`session::MAX_TRANSMIT`](crate::session::MAX_TRANSMIT) fits every dialect. A
//!    smaller buffer is not a crash: `poll_transmit` returns [`Error::BufferTooSmall`] with
//!    the size needed and keeps the bytes queued (the drivers report it as
//!    [`DriverError::Session`]). Received bytes need no particular buffer: the sessions
//!    accumulate frames themselves. The drivers use their one `BUF` for both directions, so
//!    `BUF` follows the transmit rule. A [`Pipe`] must hold what one side writes before the
//!    other reads: a frame and its control bytes each way (256 for Concert, 4 096 for ČSOB;
//!    for ZVT what a side writes at once: the terminal side holds no bytes and builds each
//!    frame into whatever buffer it is polled with, so its own buffer can be any size, while
//!    the till side queues up to its
//!    [`TX_CAPACITY`](crate::dialect::zvt::session::TX_CAPACITY), an acknowledgement and the
//!    longest till message, which a pipe of that size holds).
//! 4. **Events are bounded.** Each session holds a few events (see its `*_EVENTS` /
//!    `SESSION_EVENT_CAPACITY` constant); poll them after every call that takes `now`, or the
//!    least important are dropped.
//!
//! The blocking drivers do one step per [`BlockingTerminal::poll`] /
//! [`BlockingTill::poll`]: write what is queued, hand out an event, fire a due deadline, or
//! read what the port has ready (only when `read_ready` says so: a poll never blocks).
//! `next_event(idle)` repeats that until an event comes and calls `idle(deadline)` whenever a
//! step had nothing to do, with the session's next deadline (`None`: no timer runs): put the
//! CPU to sleep there (`wfi`), arm a timer for the deadline, or, in a test, advance a fake
//! clock. A wake-up source must end the sleep when bytes arrive (the UART interrupt) and by
//! the deadline (a timer or the SysTick).

use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use crate::session::{EcrEvent, EcrSide, TerminalEvent, TerminalSide};
use crate::txn::Response;
use crate::{Error, Instant};

mod pipe;
mod till;

/// The blocking port traits the drivers take, as the version this crate uses: implement
/// them for your UART through this path, and your port fits whatever `embedded-io` your
/// other crates use.
pub use embedded_io;
/// The async port traits the async drivers take (see [`embedded_io`]).
pub use embedded_io_async;
pub use pipe::{Pipe, PipeEnd, PipeError};
pub use till::{AsyncTill, BlockingTill};

/// A monotonic clock supplied by the firmware (a SysTick counter, an RTC, a test's fake time).
pub trait Clock {
    /// The current time.
    fn now(&mut self) -> Instant;
}

impl<F: FnMut() -> Instant> Clock for F {
    fn now(&mut self) -> Instant {
        self()
    }
}

/// A timer for the async drivers: resolves once the clock has reached `deadline`.
pub trait Timer {
    /// Waits until `deadline`.
    fn wait_until(&mut self, deadline: Instant) -> impl Future<Output = ()>;
}

/// What can stop a driver.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriverError<E> {
    /// The port failed.
    Io(E),
    /// The port reached its end (the peer closed the connection).
    Closed,
    /// The session refused a call (for example a response with no request pending, or a
    /// buffer too small for what it has to send).
    Session(Error),
    /// Till side: no answer within the session's response limit. The outcome is unknown: ask
    /// the terminal for its last transaction before assuming anything.
    TimedOut,
    /// Till side: the request could not be delivered (no acknowledgement, too many NAKs).
    NotDelivered(Error),
}

impl<E> From<Error> for DriverError<E> {
    fn from(e: Error) -> Self {
        DriverError::Session(e)
    }
}

impl<E: fmt::Debug> fmt::Display for DriverError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Io(e) => write!(f, "port error: {e:?}"),
            DriverError::Closed => f.write_str("port closed by the peer"),
            DriverError::Session(e) => write!(f, "session refused the call: {e}"),
            DriverError::TimedOut => {
                f.write_str("no answer in time: outcome unknown, ask for the last transaction")
            }
            DriverError::NotDelivered(e) => write!(f, "request not delivered: {e}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for DriverError<E> {}

/// The calls a driver makes on either kind of session (one loop for both sides).
trait Sans {
    type Event;
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self, buf: &mut [u8]) -> crate::Result<Option<usize>>;
    fn poll_event(&mut self) -> Option<Self::Event>;
    fn poll_timeout(&self) -> Option<Instant>;
}

/// A [`TerminalSide`] seen as a [`Sans`].
struct TerminalSans<'a, S>(&'a mut S);

impl<S: TerminalSide> Sans for TerminalSans<'_, S> {
    type Event = TerminalEvent;
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.0.handle_bytes(now, bytes);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> crate::Result<Option<usize>> {
        self.0.poll_transmit(buf)
    }
    fn poll_event(&mut self) -> Option<TerminalEvent> {
        self.0.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

/// An [`EcrSide`] seen as a [`Sans`].
struct EcrSans<'a, S>(&'a mut S);

impl<S: EcrSide> Sans for EcrSans<'_, S> {
    type Event = EcrEvent;
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.0.handle_bytes(now, bytes);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> crate::Result<Option<usize>> {
        self.0.poll_transmit(buf)
    }
    fn poll_event(&mut self) -> Option<EcrEvent> {
        self.0.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

/// What one step of a blocking driver did.
enum Step<E> {
    /// The session reported an event.
    Event(E),
    /// A deadline fired or bytes were read: poll again.
    Worked,
    /// Nothing to do until bytes arrive or the deadline comes.
    Idle,
}

/// The port side of a blocking driver: the port, the clock and the one buffer.
struct BlockingIo<P, C, const BUF: usize> {
    port: P,
    clock: C,
    buf: [u8; BUF],
}

impl<P, C, const BUF: usize> BlockingIo<P, C, BUF>
where
    P: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write,
    C: Clock,
{
    fn flush(&mut self, session: &mut impl Sans) -> Result<(), DriverError<P::Error>> {
        while let Some(n) = session.poll_transmit(&mut self.buf)? {
            let bytes = self.buf.get(..n).unwrap_or_default();
            self.port.write_all(bytes).map_err(DriverError::Io)?;
        }
        self.port.flush().map_err(DriverError::Io)
    }

    fn step<X: Sans>(&mut self, session: &mut X) -> Result<Step<X::Event>, DriverError<P::Error>> {
        self.flush(session)?;
        if let Some(event) = session.poll_event() {
            return Ok(Step::Event(event));
        }
        let now = self.clock.now();
        if session.poll_timeout().is_some_and(|d| now >= d) {
            session.handle_timeout(now);
            return Ok(Step::Worked);
        }
        if self.port.read_ready().map_err(DriverError::Io)? {
            let n = self.port.read(&mut self.buf).map_err(DriverError::Io)?;
            if n == 0 {
                return Err(DriverError::Closed);
            }
            session.handle_bytes(now, self.buf.get(..n).unwrap_or_default());
            return Ok(Step::Worked);
        }
        Ok(Step::Idle)
    }

    fn poll<X: Sans>(
        &mut self,
        session: &mut X,
    ) -> Result<Option<X::Event>, DriverError<P::Error>> {
        match self.step(session)? {
            Step::Event(e) => Ok(Some(e)),
            Step::Worked | Step::Idle => Ok(None),
        }
    }

    fn next_event<X: Sans>(
        &mut self,
        session: &mut X,
        mut idle: impl FnMut(Option<Instant>),
    ) -> Result<X::Event, DriverError<P::Error>> {
        loop {
            match self.step(session)? {
                Step::Event(e) => return Ok(e),
                Step::Worked => {}
                Step::Idle => idle(session.poll_timeout()),
            }
        }
    }
}

/// The port side of an async driver: the port, the clock, the timer and the one buffer.
struct AsyncIo<P, C, T, const BUF: usize> {
    port: P,
    clock: C,
    timer: T,
    buf: [u8; BUF],
}

impl<P, C, T, const BUF: usize> AsyncIo<P, C, T, BUF>
where
    P: embedded_io_async::Read + embedded_io_async::Write,
    C: Clock,
    T: Timer,
{
    async fn flush(&mut self, session: &mut impl Sans) -> Result<(), DriverError<P::Error>> {
        while let Some(n) = session.poll_transmit(&mut self.buf)? {
            let bytes = self.buf.get(..n).unwrap_or_default();
            self.port.write_all(bytes).await.map_err(DriverError::Io)?;
        }
        self.port.flush().await.map_err(DriverError::Io)
    }

    async fn next_event<X: Sans>(
        &mut self,
        session: &mut X,
    ) -> Result<X::Event, DriverError<P::Error>> {
        loop {
            self.flush(session).await?;
            if let Some(event) = session.poll_event() {
                return Ok(event);
            }
            let now = self.clock.now();
            let deadline = session.poll_timeout();
            if deadline.is_some_and(|d| now >= d) {
                session.handle_timeout(now);
                continue;
            }
            let Self {
                port, timer, buf, ..
            } = self;
            let read = match deadline {
                None => Some(port.read(buf).await),
                Some(d) => {
                    let mut read = pin!(port.read(buf));
                    let mut wait = pin!(timer.wait_until(d));
                    poll_fn(|cx| {
                        if let Poll::Ready(r) = read.as_mut().poll(cx) {
                            return Poll::Ready(Some(r));
                        }
                        wait.as_mut().poll(cx).map(|()| None)
                    })
                    .await
                }
            };
            let now = self.clock.now();
            match read {
                None => session.handle_timeout(now),
                Some(Err(e)) => return Err(DriverError::Io(e)),
                Some(Ok(0)) => return Err(DriverError::Closed),
                Some(Ok(n)) => session.handle_bytes(now, self.buf.get(..n).unwrap_or_default()),
            }
        }
    }
}

/// Runs a [`TerminalSide`] session over a blocking port.
///
/// Call [`BlockingTerminal::poll`] from a super-loop (it never blocks when the port has no
/// bytes), or [`BlockingTerminal::next_event`] to loop until something happens. Answer a
/// [`TerminalEvent::Request`] with [`BlockingTerminal::respond`], a
/// [`TerminalEvent::ReceiptRequested`] with [`BlockingTerminal::send_receipt_part`]. `BUF`:
/// see "Buffer sizes" in the [module docs](self).
pub struct BlockingTerminal<S, P, C, const BUF: usize> {
    session: S,
    io: BlockingIo<P, C, BUF>,
}

impl<S, P, C, const BUF: usize> BlockingTerminal<S, P, C, BUF>
where
    S: TerminalSide,
    P: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write,
    C: Clock,
{
    /// A driver for `session` on `port`, timed by `clock`.
    pub fn new(session: S, port: P, clock: C) -> Self {
        BlockingTerminal {
            session,
            io: BlockingIo {
                port,
                clock,
                buf: [0; BUF],
            },
        }
    }

    /// The session, e.g. to inspect its state.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// Gives back the session and the port.
    pub fn into_parts(self) -> (S, P) {
        (self.session, self.io.port)
    }

    /// One step: send what is queued, report an event, fire a due deadline, or read what the
    /// port has ready. Returns `Ok(None)` when nothing happened that the caller must act on.
    pub fn poll(&mut self) -> Result<Option<TerminalEvent>, DriverError<P::Error>> {
        self.io.poll(&mut TerminalSans(&mut self.session))
    }

    /// Polls until the session reports an event; calls `idle` with the session's next
    /// deadline whenever there is nothing to do (sleep there, e.g. `wfi`; `|_| {}` spins).
    pub fn next_event(
        &mut self,
        idle: impl FnMut(Option<Instant>),
    ) -> Result<TerminalEvent, DriverError<P::Error>> {
        self.io
            .next_event(&mut TerminalSans(&mut self.session), idle)
    }

    /// Answers the pending request and sends the first bytes of the answer.
    pub fn respond(&mut self, response: &Response) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.respond(now, response)?;
        self.io.flush(&mut TerminalSans(&mut self.session))
    }

    /// Sends one part of receipt text after [`TerminalEvent::ReceiptRequested`]; `more` says
    /// another part follows (see [`TerminalSide::send_receipt_part`]).
    pub fn send_receipt_part(
        &mut self,
        text: &str,
        more: bool,
    ) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.send_receipt_part(now, text, more)?;
        self.io.flush(&mut TerminalSans(&mut self.session))
    }
}

/// Runs a [`TerminalSide`] session over an async port.
///
/// The port's `read` must be cancel-safe (bytes already received are not lost when the read is
/// dropped because a deadline fired first), as buffered UART drivers are. `BUF`: see "Buffer
/// sizes" in the [module docs](self).
pub struct AsyncTerminal<S, P, C, T, const BUF: usize> {
    session: S,
    io: AsyncIo<P, C, T, BUF>,
}

impl<S, P, C, T, const BUF: usize> AsyncTerminal<S, P, C, T, BUF>
where
    S: TerminalSide,
    P: embedded_io_async::Read + embedded_io_async::Write,
    C: Clock,
    T: Timer,
{
    /// A driver for `session` on `port`, timed by `clock` and `timer`.
    pub fn new(session: S, port: P, clock: C, timer: T) -> Self {
        AsyncTerminal {
            session,
            io: AsyncIo {
                port,
                clock,
                timer,
                buf: [0; BUF],
            },
        }
    }

    /// The session, e.g. to inspect its state.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// Gives back the session and the port.
    pub fn into_parts(self) -> (S, P) {
        (self.session, self.io.port)
    }

    /// Runs the session until it reports an event.
    pub async fn next_event(&mut self) -> Result<TerminalEvent, DriverError<P::Error>> {
        self.io
            .next_event(&mut TerminalSans(&mut self.session))
            .await
    }

    /// Answers the pending request and sends the first bytes of the answer.
    pub async fn respond(&mut self, response: &Response) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.respond(now, response)?;
        self.io.flush(&mut TerminalSans(&mut self.session)).await
    }

    /// Sends one part of receipt text after [`TerminalEvent::ReceiptRequested`]; `more` says
    /// another part follows (see [`TerminalSide::send_receipt_part`]).
    pub async fn send_receipt_part(
        &mut self,
        text: &str,
        more: bool,
    ) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.send_receipt_part(now, text, more)?;
        self.io.flush(&mut TerminalSans(&mut self.session)).await
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use std::vec::Vec;

    use super::*;
    use crate::link::{Checksum, Feed, FrameAccumulator, encode_frame};
    use crate::txn::{Currency, Money, Outcome, Request, RequestKind};

    /// A minimal terminal session: a frame `SALE` is a 1.00 EUR sale; the answer is a frame
    /// `OK`; no answer within 1 s reports the response undelivered.
    struct MockTerminal {
        acc: FrameAccumulator<32>,
        events: VecDeque<TerminalEvent>,
        tx: VecDeque<Vec<u8>>,
        deadline: Option<Instant>,
    }

    impl MockTerminal {
        fn new() -> Self {
            MockTerminal {
                acc: FrameAccumulator::new(Checksum::None),
                events: VecDeque::new(),
                tx: VecDeque::new(),
                deadline: None,
            }
        }
    }

    impl TerminalSide for MockTerminal {
        fn handle_bytes(&mut self, now: Instant, mut bytes: &[u8]) {
            while !bytes.is_empty() {
                let (r, used) = self.acc.feed(bytes);
                bytes = &bytes[used..];
                if let Ok(Feed::Frame(b"SALE")) = r {
                    let amount = Money::new(100, Currency::EUR).unwrap();
                    self.events.push_back(TerminalEvent::Request(Request::Sale {
                        amount,
                        reference: None,
                    }));
                    self.deadline = Some(now.saturating_add(core::time::Duration::from_secs(1)));
                }
            }
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.deadline.is_some_and(|d| now >= d) {
                self.deadline = None;
                self.events
                    .push_back(TerminalEvent::ResponseUndelivered(Error::LinkTimeout));
            }
        }
        fn poll_transmit(&mut self, buf: &mut [u8]) -> crate::Result<Option<usize>> {
            let Some(frame) = self.tx.front() else {
                return Ok(None);
            };
            let n = frame.len();
            buf.get_mut(..n)
                .ok_or(Error::BufferTooSmall { needed: n })?
                .copy_from_slice(frame);
            self.tx.pop_front();
            Ok(Some(n))
        }
        fn poll_event(&mut self) -> Option<TerminalEvent> {
            self.events.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.deadline
        }
        fn respond(&mut self, _now: Instant, _response: &Response) -> crate::Result<()> {
            self.deadline
                .take()
                .ok_or(Error::Unsupported { what: "no request" })?;
            let mut out = [0u8; 8];
            let n = encode_frame(b"OK", Checksum::None, &mut out)?;
            self.tx.push_back(out[..n].to_vec());
            Ok(())
        }
        fn is_busy(&self) -> bool {
            self.deadline.is_some()
        }
    }

    /// An in-memory port: `rx` is what the till sent, `tx` what the terminal wrote.
    #[derive(Default)]
    struct MockPort {
        rx: VecDeque<u8>,
        tx: Vec<u8>,
        closed: bool,
    }

    impl embedded_io::ErrorType for MockPort {
        type Error = embedded_io::ErrorKind;
    }
    impl embedded_io::Read for MockPort {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let n = buf.len().min(self.rx.len());
            for (dst, src) in buf.iter_mut().zip(self.rx.drain(..n)) {
                *dst = src;
            }
            Ok(n)
        }
    }
    impl embedded_io::ReadReady for MockPort {
        fn read_ready(&mut self) -> Result<bool, Self::Error> {
            Ok(!self.rx.is_empty() || self.closed)
        }
    }
    impl embedded_io::Write for MockPort {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.tx.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    impl embedded_io_async::Read for MockPort {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            poll_fn(|_| {
                if self.rx.is_empty() && !self.closed {
                    Poll::Pending
                } else {
                    Poll::Ready(embedded_io::Read::read(self, buf))
                }
            })
            .await
        }
    }
    impl embedded_io_async::Write for MockPort {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            embedded_io::Write::write(self, buf)
        }
        async fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    fn sale() -> Response {
        Response::new(RequestKind::Sale, Outcome::Approved)
    }

    #[test]
    fn blocking_driver_runs_a_request_and_answer() {
        let mut pipe = MockPort::default();
        pipe.rx.extend(b"noise\x02SA");
        pipe.rx.extend(b"LE\x03");
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut driver = BlockingTerminal::<_, _, _, 16>::new(MockTerminal::new(), pipe, clock);
        let event = driver.next_event(|_| {}).unwrap();
        assert!(matches!(
            event,
            TerminalEvent::Request(Request::Sale { .. })
        ));
        driver.respond(&sale()).unwrap();
        let (_, pipe) = driver.into_parts();
        assert_eq!(pipe.tx, b"\x02OK\x03");
    }

    #[test]
    fn blocking_driver_fires_deadlines_from_the_clock() {
        let mut pipe = MockPort::default();
        pipe.rx.extend(b"\x02SALE\x03");
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut driver = BlockingTerminal::<_, _, _, 16>::new(MockTerminal::new(), pipe, &clock);
        assert!(matches!(
            driver.next_event(|_| {}).unwrap(),
            TerminalEvent::Request(_)
        ));
        assert_eq!(driver.poll().unwrap(), None, "not due yet");
        time.set(1000);
        assert_eq!(driver.poll().unwrap(), None, "timer fired");
        assert_eq!(
            driver.poll().unwrap(),
            Some(TerminalEvent::ResponseUndelivered(Error::LinkTimeout))
        );
    }

    #[test]
    fn blocking_driver_reports_closed_port_and_small_buffer() {
        let pipe = MockPort {
            closed: true,
            ..MockPort::default()
        };
        let mut driver =
            BlockingTerminal::<_, _, _, 16>::new(MockTerminal::new(), pipe, || Instant::ZERO);
        assert_eq!(driver.next_event(|_| {}), Err(DriverError::Closed));

        let mut pipe = MockPort::default();
        pipe.rx.extend(b"\x02SALE\x03");
        let mut driver =
            BlockingTerminal::<_, _, _, 2>::new(MockTerminal::new(), pipe, || Instant::ZERO);
        assert!(driver.next_event(|_| {}).is_ok());
        assert_eq!(
            driver.respond(&sale()),
            Err(DriverError::Session(Error::BufferTooSmall { needed: 4 }))
        );
    }

    /// Runs a future on a fake clock: every time it is pending, time advances by 100 ms.
    fn block_on<F: Future>(time: &Cell<u64>, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        for _ in 0..10_000 {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
            time.set(time.get() + 100);
        }
        panic!("future did not finish");
    }

    struct FakeTimer<'a>(&'a Cell<u64>);
    impl Timer for FakeTimer<'_> {
        async fn wait_until(&mut self, deadline: Instant) {
            poll_fn(|_| {
                if self.0.get() >= deadline.as_millis() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await
        }
    }

    #[test]
    fn async_driver_answers_and_times_out() {
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut pipe = MockPort::default();
        pipe.rx.extend(b"\x02SALE\x03");
        let mut driver = AsyncTerminal::<_, _, _, _, 16>::new(
            MockTerminal::new(),
            pipe,
            &clock,
            FakeTimer(&time),
        );
        let event = block_on(&time, driver.next_event()).unwrap();
        assert!(matches!(event, TerminalEvent::Request(_)));
        // No answer: the session's 1 s deadline fires while the read is pending.
        let event = block_on(&time, driver.next_event()).unwrap();
        assert_eq!(
            event,
            TerminalEvent::ResponseUndelivered(Error::LinkTimeout)
        );
        assert!(time.get() >= 1000);
    }

    #[test]
    fn async_driver_sends_the_answer() {
        let time = Rc::new(Cell::new(0u64));
        let t = time.clone();
        let clock = move || Instant::from_millis(t.get());
        let mut pipe = MockPort::default();
        pipe.rx.extend(b"\x02SALE\x03");
        let mut driver = AsyncTerminal::<_, _, _, _, 16>::new(
            MockTerminal::new(),
            pipe,
            clock,
            FakeTimer(&time),
        );
        assert!(matches!(
            block_on(&time, driver.next_event()),
            Ok(TerminalEvent::Request(_))
        ));
        block_on(&time, driver.respond(&sale())).unwrap();
        assert_eq!(driver.io.port.tx, b"\x02OK\x03");
    }

    /// A real Concert terminal session behind the blocking driver, against a real Concert
    /// till session on the other end of the pipe: the whole ENQ/ACK/frame/ACK/EOT exchange in
    /// both directions, as firmware runs it.
    #[test]
    fn blocking_driver_runs_a_concert_sale_against_a_concert_till() {
        use crate::dialect::concert::{
            ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
        };
        use crate::session::{EcrEvent, EcrSide};

        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut ecr = ConcertEcr::new(ConcertEcrConfig::default());
        let mut driver = BlockingTerminal::<_, _, _, 128>::new(
            ConcertTerminal::new(ConcertTerminalConfig::default()),
            MockPort::default(),
            &clock,
        );
        let amount = Money::new(1250, Currency::EUR).unwrap();
        let now = || Instant::from_millis(time.get());
        ecr.start(
            now(),
            &Request::Sale {
                amount,
                reference: None,
            },
        )
        .unwrap();
        let mut buf = [0u8; 256];
        let (mut asked, mut delivered, mut answer) = (None, false, None);
        for _ in 0..1000 {
            while let Some(n) = ecr.poll_transmit(&mut buf).unwrap() {
                driver.io.port.rx.extend(&buf[..n]);
            }
            match driver.poll().unwrap() {
                Some(TerminalEvent::Request(request)) => {
                    let mut response = Response::new(request.kind(), Outcome::Approved);
                    response.amount = request.amount();
                    asked = Some(request);
                    driver.respond(&response).unwrap();
                }
                Some(TerminalEvent::ResponseDelivered) => delivered = true,
                Some(other) => panic!("terminal: {other:?}"),
                None => {}
            }
            let out: Vec<u8> = driver.io.port.tx.drain(..).collect();
            if !out.is_empty() {
                ecr.handle_bytes(now(), &out);
            }
            while let Some(event) = ecr.poll_event() {
                if let EcrEvent::Response(r) = event {
                    answer = Some(r);
                }
            }
            if delivered && answer.is_some() {
                break;
            }
            time.set(time.get() + 1);
        }
        assert_eq!(
            asked,
            Some(Request::Sale {
                amount,
                reference: None
            })
        );
        let answer = answer.expect("the till got the answer");
        assert_eq!(answer.outcome, Outcome::Approved);
        assert_eq!(answer.amount, Some(amount));
        assert!(
            delivered,
            "the terminal saw the till acknowledge the answer"
        );
        assert!(!driver.session().is_busy());
    }

    /// The in-memory pipe as the port: the test holds the till's end.
    #[test]
    fn next_event_calls_the_idle_hook_with_the_deadline_instead_of_spinning() {
        use embedded_io::Write as _;
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut pipe = Pipe::<64>::new();
        let (port, mut till) = pipe.split();
        let mut driver = BlockingTerminal::<_, _, _, 16>::new(MockTerminal::new(), port, &clock);
        // Nothing on the line and no timer: the hook runs once with no deadline; the
        // "interrupt" it waits for brings the request.
        let mut idles = Vec::new();
        let event = driver
            .next_event(|deadline| {
                idles.push(deadline);
                till.write_all(b"\x02SALE\x03").unwrap();
            })
            .unwrap();
        assert!(matches!(event, TerminalEvent::Request(_)));
        assert_eq!(idles, [None]);
        // Now the session's 1 s timer runs: the hook is told, sleeps until then, and the
        // deadline fires on the next step.
        let mut idles = Vec::new();
        let event = driver
            .next_event(|deadline| {
                idles.push(deadline);
                time.set(deadline.unwrap().as_millis());
            })
            .unwrap();
        assert_eq!(
            event,
            TerminalEvent::ResponseUndelivered(Error::LinkTimeout)
        );
        assert_eq!(idles, [Some(Instant::from_millis(1000))]);
    }

    fn approve(request: &Request) -> Response {
        let mut response = Response::new(request.kind(), Outcome::Approved);
        response.amount = request.amount();
        response
    }

    /// A till driver runs `request` with `transact`; while it is idle, a terminal driver on
    /// the other end of a pipe answers (approves) and the clock moves on by 10 ms. Returns the
    /// till's result and whether the terminal saw its answer delivered.
    fn transact_over_a_pipe<E, T, const N: usize, const BUF: usize>(
        ecr: E,
        terminal: T,
        request: &Request,
    ) -> (Result<Response, DriverError<PipeError>>, bool)
    where
        E: EcrSide,
        T: TerminalSide,
    {
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut pipe = Pipe::<N>::new();
        let (till_port, terminal_port) = pipe.split();
        let mut till = BlockingTill::<_, _, _, BUF>::new(ecr, till_port, &clock);
        let mut terminal = BlockingTerminal::<_, _, _, BUF>::new(terminal, terminal_port, &clock);
        let mut delivered = false;
        let mut run_terminal = |terminal: &mut BlockingTerminal<_, _, _, BUF>| {
            match terminal.poll().unwrap() {
                Some(TerminalEvent::Request(r)) => terminal.respond(&approve(&r)).unwrap(),
                Some(TerminalEvent::ResponseDelivered) => delivered = true,
                Some(other) => panic!("terminal: {other:?}"),
                None => {}
            }
            time.set(time.get() + 10);
        };
        let answer = till.transact(request, |_| run_terminal(&mut terminal));
        for _ in 0..1000 {
            if till.poll().unwrap().is_some() {
                panic!("till: an event after the answer");
            }
            run_terminal(&mut terminal);
        }
        assert!(!till.session().is_busy());
        assert!(!terminal.session().is_busy());
        (answer, delivered)
    }

    fn eur(minor: u64) -> Money {
        Money::new(minor, Currency::EUR).unwrap()
    }

    #[test]
    fn till_driver_transacts_a_concert_sale_with_a_terminal_driver() {
        use crate::dialect::concert::{
            ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
        };
        use crate::link::session::TX_CAPACITY;
        let sale = Request::Sale {
            amount: eur(1250),
            reference: None,
        };
        let (answer, delivered) = transact_over_a_pipe::<_, _, 256, TX_CAPACITY>(
            ConcertEcr::new(ConcertEcrConfig::default()),
            ConcertTerminal::new(ConcertTerminalConfig::default()),
            &sale,
        );
        let answer = answer.unwrap();
        assert_eq!(answer.outcome, Outcome::Approved);
        assert_eq!(answer.kind, RequestKind::Sale);
        assert_eq!(answer.amount, Some(eur(1250)));
        assert!(delivered);
    }

    #[test]
    fn till_driver_transacts_a_csob_refund_with_a_terminal_driver() {
        use crate::dialect::csob::{CsobConfig, CsobEcr, CsobTerminal, MAX_FRAME};
        use crate::txn::TerminalId;
        let config = CsobConfig::new(TerminalId::new("T0000001").unwrap());
        let czk = Money::new(50_000, Currency::CZK).unwrap();
        let refund = Request::Refund {
            amount: czk,
            reference: None,
        };
        let (answer, delivered) = transact_over_a_pipe::<_, _, { 2 * MAX_FRAME }, MAX_FRAME>(
            CsobEcr::new(config.clone()),
            CsobTerminal::new(config),
            &refund,
        );
        let answer = answer.unwrap();
        assert_eq!(answer.outcome, Outcome::Approved);
        assert_eq!(answer.kind, RequestKind::Refund);
        assert_eq!(answer.amount, Some(czk));
        assert!(delivered);
    }

    #[test]
    fn till_driver_reports_no_answer_and_no_delivery() {
        use crate::dialect::concert::{
            ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
        };
        use crate::link::session::TX_CAPACITY;
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let sale = Request::Sale {
            amount: eur(100),
            reference: None,
        };

        // A terminal that takes the request and never answers: the till's 60 s limit.
        let mut pipe = Pipe::<256>::new();
        let (till_port, terminal_port) = pipe.split();
        let mut till = BlockingTill::<_, _, _, TX_CAPACITY>::new(
            ConcertEcr::new(ConcertEcrConfig::default()),
            till_port,
            &clock,
        );
        let mut terminal = BlockingTerminal::<_, _, _, TX_CAPACITY>::new(
            ConcertTerminal::new(ConcertTerminalConfig::default()),
            terminal_port,
            &clock,
        );
        let answer = till.transact(&sale, |_| {
            let _ = terminal.poll().unwrap();
            time.set(time.get() + 100);
        });
        assert_eq!(answer, Err(DriverError::TimedOut));
        assert!(time.get() >= 60_000);
        drop((till, terminal));

        // Nobody on the line: ENQ unanswered.
        let mut pipe = Pipe::<256>::new();
        let (till_port, _silent) = pipe.split();
        let mut till = BlockingTill::<_, _, _, TX_CAPACITY>::new(
            ConcertEcr::new(ConcertEcrConfig::default()),
            till_port,
            &clock,
        );
        let answer = till.transact(&sale, |_| time.set(time.get() + 100));
        assert_eq!(answer, Err(DriverError::NotDelivered(Error::LinkNoAck)));

        // A second request while one is under way is refused by the session.
        till.start(&sale).unwrap();
        assert_eq!(
            till.start(&sale),
            Err(DriverError::Session(Error::LinkBusy))
        );
    }

    #[test]
    fn till_driver_reports_a_closed_line() {
        use crate::dialect::concert::{ConcertEcr, ConcertEcrConfig};
        let mut pipe = Pipe::<256>::new();
        let (till_port, other) = pipe.split();
        drop(other);
        let mut till = BlockingTill::<_, _, _, 256>::new(
            ConcertEcr::new(ConcertEcrConfig::default()),
            till_port,
            || Instant::ZERO,
        );
        let sale = Request::Sale {
            amount: eur(100),
            reference: None,
        };
        assert_eq!(
            till.transact(&sale, |_| {}),
            Err(DriverError::Io(PipeError::Closed))
        );
    }

    #[test]
    fn receipt_parts_go_through_both_drivers() {
        use crate::dialect::csob::{CsobConfig, CsobEcr, CsobTerminal, MAX_FRAME};
        use crate::txn::TerminalId;
        let config = CsobConfig::new(TerminalId::new("T0000001").unwrap());
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut pipe = Pipe::<{ 2 * MAX_FRAME }>::new();
        let (till_port, terminal_port) = pipe.split();
        let mut till = BlockingTill::<_, _, _, MAX_FRAME>::new(
            CsobEcr::new(config.clone()),
            till_port,
            &clock,
        );
        let mut terminal = BlockingTerminal::<_, _, _, MAX_FRAME>::new(
            CsobTerminal::new(config),
            terminal_port,
            &clock,
        );
        till.request_receipt().unwrap();
        let mut part = None;
        for _ in 0..100 {
            if let Some(TerminalEvent::ReceiptRequested) = terminal.poll().unwrap() {
                terminal
                    .send_receipt_part("Merci\nThank you", false)
                    .unwrap();
            }
            if let Some(EcrEvent::ReceiptPart { text, more }) = till.poll().unwrap() {
                part = Some((text, more));
                break;
            }
            time.set(time.get() + 10);
        }
        let (text, more) = part.expect("the till got the receipt part");
        assert_eq!(text.as_str(), "Merci\nThank you");
        assert!(!more);
    }

    /// The module docs promise that only the calls that take `now` move `poll_timeout`:
    /// checked on both sides of both dialects through whole exchanges, with every
    /// `poll_transmit` and `poll_event` call watched.
    #[test]
    fn only_calls_that_take_now_move_the_deadline() {
        use crate::dialect::concert::{
            ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
        };
        use crate::dialect::csob::{CsobConfig, CsobEcr, CsobTerminal};
        use crate::txn::TerminalId;

        fn run(mut ecr: impl EcrSide, mut terminal: impl TerminalSide, request: Request) {
            let mut buf = std::vec![0u8; crate::session::MAX_TRANSMIT];
            let mut now = Instant::ZERO;
            ecr.start(now, &request).unwrap();
            let (mut answered, mut delivered) = (false, false);
            for _ in 0..10_000 {
                loop {
                    let before = ecr.poll_timeout();
                    let sent = ecr.poll_transmit(&mut buf).unwrap();
                    assert_eq!(ecr.poll_timeout(), before, "till poll_transmit");
                    let Some(n) = sent else { break };
                    terminal.handle_bytes(now, &buf[..n]);
                }
                loop {
                    let before = terminal.poll_timeout();
                    let event = terminal.poll_event();
                    assert_eq!(terminal.poll_timeout(), before, "terminal poll_event");
                    match event {
                        Some(TerminalEvent::Request(r)) => {
                            terminal.respond(now, &approve(&r)).unwrap()
                        }
                        Some(TerminalEvent::ResponseDelivered) => delivered = true,
                        Some(TerminalEvent::ReceiptRequested) => {
                            terminal.send_receipt_part(now, "Thank you", false).unwrap()
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                loop {
                    let before = terminal.poll_timeout();
                    let sent = terminal.poll_transmit(&mut buf).unwrap();
                    assert_eq!(terminal.poll_timeout(), before, "terminal poll_transmit");
                    let Some(n) = sent else { break };
                    ecr.handle_bytes(now, &buf[..n]);
                }
                loop {
                    let before = ecr.poll_timeout();
                    let event = ecr.poll_event();
                    assert_eq!(ecr.poll_timeout(), before, "till poll_event");
                    match event {
                        Some(EcrEvent::Response(r)) => {
                            assert_eq!(r.outcome, Outcome::Approved);
                            answered = true;
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                if answered && delivered {
                    return;
                }
                now = now.saturating_add(core::time::Duration::from_millis(10));
                if ecr.poll_timeout().is_some_and(|d| now >= d) {
                    ecr.handle_timeout(now);
                }
                if terminal.poll_timeout().is_some_and(|d| now >= d) {
                    terminal.handle_timeout(now);
                }
            }
            panic!("no answer");
        }

        let sale = Request::Sale {
            amount: eur(1250),
            reference: None,
        };
        run(
            ConcertEcr::new(ConcertEcrConfig::default()),
            ConcertTerminal::new(ConcertTerminalConfig::default()),
            sale.clone(),
        );
        let config = CsobConfig::new(TerminalId::new("T0000001").unwrap());
        let czk = Request::Sale {
            amount: Money::new(12_50, Currency::CZK).unwrap(),
            reference: None,
        };
        run(CsobEcr::new(config.clone()), CsobTerminal::new(config), czk);
        // ZVT: the till prints the receipts, so the terminal also asks its driver for them.
        use crate::dialect::zvt::{ZvtEcr, ZvtEcrConfig, ZvtTerminal, ZvtTerminalConfig};
        run(
            ZvtEcr::new(ZvtEcrConfig::new(Currency::EUR)),
            ZvtTerminal::new(ZvtTerminalConfig::new(Currency::EUR)),
            sale,
        );
    }

    #[test]
    fn async_till_transacts_with_an_async_terminal() {
        use crate::dialect::concert::{
            ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
        };
        use crate::link::session::TX_CAPACITY;
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut pipe = Pipe::<256>::new();
        let (till_port, terminal_port) = pipe.split();
        let mut till = AsyncTill::<_, _, _, _, TX_CAPACITY>::new(
            ConcertEcr::new(ConcertEcrConfig::default()),
            till_port,
            &clock,
            FakeTimer(&time),
        );
        let mut terminal = AsyncTerminal::<_, _, _, _, TX_CAPACITY>::new(
            ConcertTerminal::new(ConcertTerminalConfig::default()),
            terminal_port,
            &clock,
            FakeTimer(&time),
        );
        let sale = Request::Sale {
            amount: eur(990),
            reference: None,
        };
        let mut till_run = pin!(till.transact(&sale));
        let mut terminal_run = pin!(async {
            loop {
                if let Ok(TerminalEvent::Request(r)) = terminal.next_event().await {
                    terminal.respond(&approve(&r)).await.unwrap();
                }
            }
        });
        let answer = block_on(
            &time,
            poll_fn(|cx| {
                if let Poll::Ready(answer) = till_run.as_mut().poll(cx) {
                    return Poll::Ready(answer);
                }
                let _ = terminal_run.as_mut().poll(cx);
                Poll::Pending
            }),
        )
        .unwrap();
        assert_eq!(answer.outcome, Outcome::Approved);
        assert_eq!(answer.amount, Some(eur(990)));
    }
}
