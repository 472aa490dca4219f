//! The till-side drivers: an [`EcrSide`] session over a byte port.

use super::{AsyncIo, BlockingIo, Clock, DriverError, EcrSans, Timer};
use crate::Instant;
use crate::session::{EcrEvent, EcrSide};
use crate::txn::{Request, Response};

/// The answer to a request, from the events of a till session: the response, or the
/// [`DriverError`] that says why there is none. `None` for the events that come before
/// ([`EcrEvent::Accepted`], a [`EcrEvent::ProtocolError`] the exchange survives, receipt
/// parts).
fn answer_of<E>(event: EcrEvent) -> Option<Result<Response, DriverError<E>>> {
    match event {
        EcrEvent::Response(r) => Some(Ok(r)),
        EcrEvent::TimedOut => Some(Err(DriverError::TimedOut)),
        EcrEvent::Failed(e) => Some(Err(DriverError::NotDelivered(e))),
        EcrEvent::Accepted
        | EcrEvent::Progress(_)
        | EcrEvent::ProtocolError(_)
        | EcrEvent::ReceiptPart { .. }
        | EcrEvent::Status { .. } => None,
    }
}

/// Runs an [`EcrSide`] (till) session over a blocking port: the counterpart of
/// [`super::BlockingTerminal`].
///
/// [`BlockingTill::transact`] sends a request and returns the terminal's answer. For a loop
/// that does other work meanwhile: [`BlockingTill::start`], then [`BlockingTill::poll`] until
/// [`EcrEvent::Response`] (or [`EcrEvent::TimedOut`] / [`EcrEvent::Failed`]). `BUF`: see
/// "Buffer sizes" in the [module docs](super).
pub struct BlockingTill<S, P, C, const BUF: usize> {
    session: S,
    io: BlockingIo<P, C, BUF>,
}

impl<S, P, C, const BUF: usize> BlockingTill<S, P, C, BUF>
where
    S: EcrSide,
    P: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write,
    C: Clock,
{
    /// A driver for `session` on `port`, timed by `clock`.
    pub fn new(session: S, port: P, clock: C) -> Self {
        BlockingTill {
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

    /// Sends `request` (its first bytes at once); the answer comes as events.
    /// [`DriverError::Session`] with [`crate::Error::LinkBusy`] while another is under way.
    pub fn start(&mut self, request: &Request) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.start(now, request)?;
        self.io.flush(&mut EcrSans(&mut self.session))
    }

    /// Asks for the next part of the last receipt (ČSOB); it comes as
    /// [`EcrEvent::ReceiptPart`].
    pub fn request_receipt(&mut self) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.request_receipt(now)?;
        self.io.flush(&mut EcrSans(&mut self.session))
    }

    /// One step: send what is queued, report an event, fire a due deadline, or read what the
    /// port has ready. Returns `Ok(None)` when nothing happened that the caller must act on.
    pub fn poll(&mut self) -> Result<Option<EcrEvent>, DriverError<P::Error>> {
        self.io.poll(&mut EcrSans(&mut self.session))
    }

    /// Polls until the session reports an event; calls `idle` with the session's next
    /// deadline whenever there is nothing to do.
    pub fn next_event(
        &mut self,
        idle: impl FnMut(Option<Instant>),
    ) -> Result<EcrEvent, DriverError<P::Error>> {
        self.io.next_event(&mut EcrSans(&mut self.session), idle)
    }

    /// Sends `request` and returns the terminal's answer, calling `idle` (with the next
    /// deadline) whenever there is nothing to do. [`DriverError::TimedOut`] when no answer
    /// came within the session's response limit (ask for the last transaction before
    /// assuming anything), [`DriverError::NotDelivered`] when the request did not get through.
    /// Events before the answer (accepted, a protocol error the exchange survives) are
    /// skipped.
    pub fn transact(
        &mut self,
        request: &Request,
        mut idle: impl FnMut(Option<Instant>),
    ) -> Result<Response, DriverError<P::Error>> {
        self.start(request)?;
        loop {
            let event = self.next_event(&mut idle)?;
            if let Some(answer) = answer_of(event) {
                return answer;
            }
        }
    }
}

/// Runs an [`EcrSide`] (till) session over an async port: the counterpart of
/// [`super::AsyncTerminal`], with the same cancel-safety requirement on the port's `read`.
pub struct AsyncTill<S, P, C, T, const BUF: usize> {
    session: S,
    io: AsyncIo<P, C, T, BUF>,
}

impl<S, P, C, T, const BUF: usize> AsyncTill<S, P, C, T, BUF>
where
    S: EcrSide,
    P: embedded_io_async::Read + embedded_io_async::Write,
    C: Clock,
    T: Timer,
{
    /// A driver for `session` on `port`, timed by `clock` and `timer`.
    pub fn new(session: S, port: P, clock: C, timer: T) -> Self {
        AsyncTill {
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

    /// Sends `request` (its first bytes at once); the answer comes as events.
    pub async fn start(&mut self, request: &Request) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.start(now, request)?;
        self.io.flush(&mut EcrSans(&mut self.session)).await
    }

    /// Asks for the next part of the last receipt (ČSOB).
    pub async fn request_receipt(&mut self) -> Result<(), DriverError<P::Error>> {
        let now = self.io.clock.now();
        self.session.request_receipt(now)?;
        self.io.flush(&mut EcrSans(&mut self.session)).await
    }

    /// Runs the session until it reports an event.
    pub async fn next_event(&mut self) -> Result<EcrEvent, DriverError<P::Error>> {
        self.io.next_event(&mut EcrSans(&mut self.session)).await
    }

    /// Sends `request` and returns the terminal's answer; errors as
    /// [`BlockingTill::transact`].
    pub async fn transact(&mut self, request: &Request) -> Result<Response, DriverError<P::Error>> {
        self.start(request).await?;
        loop {
            let event = self.next_event().await?;
            if let Some(answer) = answer_of(event) {
                return answer;
            }
        }
    }
}
