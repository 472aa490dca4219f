//! Concert sessions for both roles, over one [`LinkSession`] each:
//! [`ConcertTerminal`] implements [`TerminalSide`], [`ConcertEcr`] implements [`EcrSide`].
//!
//! A transaction is two link exchanges (pyTeliumManager `Telium.ask` then `Telium.verify`):
//! the till sends the request leg (ENQ, ACK, frame, ACK, EOT); later the terminal opens the
//! answer leg (ENQ, ACK, answer frame, ACK, EOT) with the full or short answer the request's
//! answer flag asked for: after the transaction (delay `A010`) or at once (`A011`, see
//! [`super::Delay`]).

use core::time::Duration;

use heapless::Deque;

use super::fields::Delay;
use super::map::RequestOptions;
use super::message::{ConcertAnswer, ConcertRequest};
use crate::link::session::{LinkConfig, LinkNote, LinkRole, LinkSession};
use crate::session::{EcrEvent, EcrSide, TerminalEvent, TerminalSide};
use crate::time::earliest;
use crate::txn::{Request, RequestKind, Response};
use crate::{Error, Instant, Result};

/// Events a Concert session holds for its driver; past that one is dropped: a protocol error
/// first, else the oldest (the driver must poll).
pub const SESSION_EVENT_CAPACITY: usize = 4;

/// Configuration of a [`ConcertTerminal`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConcertTerminalConfig {
    /// Link timers and retries ([`LinkConfig::default`]).
    pub link: LinkConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TerminalState {
    /// No request.
    Idle,
    /// A request was handed to the driver; [`TerminalSide::respond`] is awaited. `instant`:
    /// the till asked for the answer at once (`A011`) and has it; the final response then
    /// goes nowhere (the transaction stays the terminal's last one).
    Processing {
        request: ConcertRequest,
        instant: bool,
    },
    /// The answer to `request` is on its way to the till.
    Answering { request: ConcertRequest },
}

/// A [`TerminalEvent`] as the session queues it: a request is kept as the Concert request
/// (24 bytes on a 32-bit target) and turned into a [`Request`] (64) when it is polled, so a
/// queue slot costs 28 bytes, not 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queued {
    /// [`TerminalEvent::Request`] of this request (its `to_txn` succeeded when it came).
    Request(ConcertRequest),
    /// [`TerminalEvent::ResponseDelivered`].
    Delivered,
    /// [`TerminalEvent::ResponseUndelivered`].
    Undelivered(Error),
    /// [`TerminalEvent::ProtocolError`].
    ProtocolError(Error),
}

impl Queued {
    fn event(self) -> TerminalEvent {
        match self {
            Queued::Request(r) => match r.to_txn() {
                Ok(txn) => TerminalEvent::Request(txn),
                // Not reachable: the request was queued only after `to_txn` succeeded.
                Err(e) => TerminalEvent::ProtocolError(e),
            },
            Queued::Delivered => TerminalEvent::ResponseDelivered,
            Queued::Undelivered(e) => TerminalEvent::ResponseUndelivered(e),
            Queued::ProtocolError(e) => TerminalEvent::ProtocolError(e),
        }
    }
}

/// An answer frame given to the link and not yet acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AnswerLeg {
    /// Whether the driver hears how it ends (not for the instant answers and the refusals
    /// the session sends on its own).
    report: bool,
}

/// The terminal side of Concert: receives requests, sends answers.
///
/// One request at a time, and never an ACK for a request it cannot take: while a request is
/// being processed, or while [`ConcertTerminal::set_application_busy`] says so, the till's
/// ENQ is answered NAK (pyTeliumManager `ask` reads that as "not ready … or busy"). A frame
/// that is not a Concert request is answered NAK too. A request Concert can carry but the
/// [`crate::txn`] model cannot run (type auto, a cheque, an unknown currency, a zero amount)
/// is ACKed, answered at once with status `'7'` (rejected) and reported as
/// [`TerminalEvent::ProtocolError`].
///
/// Timing, the request's delay field: `A010` (pyTeliumManager
/// `TERMINAL_REQUEST_ANSWER_WAIT_FOR_TRANSACTION`) is answered after the transaction with its
/// result; `A011` (`TERMINAL_REQUEST_ANSWER_INSTANT`, what pypostelium always sends) is
/// answered at once with [`ConcertAnswer::instant`] (status `'9'`, no valid result) while the
/// transaction goes on; its final response is taken by [`TerminalSide::respond`] and not sent
/// (the protocol has one answer per request).
///
/// Every answer belongs to its request: [`TerminalSide::respond`] refuses a response of
/// another kind, amount or currency ([`Error::ConcertMismatch`]) and answers the request with
/// a refusal instead; an answer not yet delivered when the till sends a new request (the till
/// gave up waiting, then its ENQ met ours: the terminal yields) is dropped and reported as
/// [`TerminalEvent::ResponseUndelivered`] ([`Error::ConcertSuperseded`]), never sent as the
/// answer to the new request.
#[derive(Debug)]
pub struct ConcertTerminal {
    link: LinkSession,
    state: TerminalState,
    /// The answer frame on the link, if any.
    leg: Option<AnswerLeg>,
    /// The application outside the session is busy (see `set_application_busy`).
    app_busy: bool,
    events: Deque<Queued, SESSION_EVENT_CAPACITY>,
}

/// Whether a received frame is a Concert request (else the link NAKs it).
fn is_request(payload: &[u8]) -> bool {
    ConcertRequest::parse(payload).is_ok()
}

impl ConcertTerminal {
    /// A terminal session with `config`.
    pub fn new(config: ConcertTerminalConfig) -> Self {
        let mut link = LinkSession::new(LinkRole::Terminal, config.link);
        link.set_close_after_frame(true);
        link.set_frame_check(Some(is_request));
        ConcertTerminal {
            link,
            state: TerminalState::Idle,
            leg: None,
            app_busy: false,
            events: Deque::new(),
        }
    }

    /// The Concert request being processed, if any (for its POS number, payment mode, …).
    pub fn pending_request(&self) -> Option<&ConcertRequest> {
        match &self.state {
            TerminalState::Processing { request, .. } => Some(request),
            _ => None,
        }
    }

    /// Tells the session that the payment application is busy (or free again) with work the
    /// session does not see, e.g. another till's transaction: while it is, the till's ENQ is
    /// answered NAK instead of taking a request that would have to wait or be refused.
    pub fn set_application_busy(&mut self, busy: bool) {
        self.app_busy = busy;
        self.sync_admission();
    }

    /// Whether the session takes a request now (an ENQ is ACKed).
    pub fn takes_requests(&self) -> bool {
        !self.link.refuses_enq()
    }

    fn sync_admission(&mut self) {
        let processing = matches!(self.state, TerminalState::Processing { .. });
        self.link.set_refuse_enq(processing || self.app_busy);
    }

    fn push(&mut self, e: Queued) {
        // A full queue: a protocol error gives way first (see `crate::queue`).
        let _ = crate::queue::push_keeping(&mut self.events, e, |e| {
            matches!(e, Queued::ProtocolError(_))
        });
    }

    /// Sends `answer` to `request`, after checking once more that it is that request's. The
    /// answer is written straight into the link's frame buffer. Never inlined: one copy for
    /// the three callers (an answer, an instant answer, a refusal).
    #[inline(never)]
    fn send_answer(
        &mut self,
        now: Instant,
        request: &ConcertRequest,
        answer: &ConcertAnswer,
        report: bool,
    ) -> Result<()> {
        answer.check_answers(request)?;
        self.link.send_with(now, |buf| answer.emit(buf))?;
        self.leg = Some(AnswerLeg { report });
        Ok(())
    }

    /// Drops an answer the till will not wait for any more (it sent a new request).
    fn drop_stale_answer(&mut self, now: Instant) {
        let cancelled = self.link.cancel_send(now);
        if let Some(leg) = self.leg.take() {
            if cancelled && leg.report {
                self.push(Queued::Undelivered(Error::ConcertSuperseded));
            }
        }
        if let TerminalState::Answering { .. } = self.state {
            self.state = TerminalState::Idle;
        }
    }

    /// A frame the link took: `parsed` is its parse.
    fn on_request(&mut self, now: Instant, parsed: Result<ConcertRequest>) {
        let request = match parsed {
            Ok(r) => r,
            Err(e) => return self.push(Queued::ProtocolError(e)),
        };
        if let TerminalState::Processing { .. } = self.state {
            // Not reachable through the link (it refuses ENQs while processing); kept so that
            // a second request can never replace the one being processed.
            return self.push(Queued::ProtocolError(Error::LinkBusy));
        }
        if let TerminalState::Answering { request: answering } = self.state {
            if answering == request {
                // The same request again (the till repeated its frame, its ACK lost): it was
                // taken once and is being answered; running it twice would charge twice.
                return;
            }
        }
        // A new request: the till no longer waits for an answer not yet delivered.
        self.drop_stale_answer(now);
        match request.to_txn() {
            Ok(_) => {
                let instant = request.delay == Delay::Immediate;
                self.state = TerminalState::Processing { request, instant };
                self.push(Queued::Request(request));
                if instant {
                    let answer = ConcertAnswer::instant(&request);
                    if let Err(e) = self.send_answer(now, &request, &answer, false) {
                        self.push(Queued::ProtocolError(e));
                    }
                }
            }
            Err(e) => {
                self.push(Queued::ProtocolError(e));
                // The refusal "not supported" (status '7'), built from the request alone: what
                // `ConcertAnswer::from_response` gives for a `Failed` response without amount,
                // card or codes, without a 760-byte `Response` on the stack.
                let refusal = refusal_answer(&request);
                match self.send_answer(now, &request, &refusal, false) {
                    Ok(()) => self.state = TerminalState::Answering { request },
                    Err(e) => self.push(Queued::ProtocolError(e)),
                }
            }
        }
    }

    fn pump(&mut self, now: Instant) {
        while let Some(note) = self.link.poll_note() {
            match note {
                LinkNote::Received => {
                    let parsed = ConcertRequest::parse(self.link.received());
                    self.on_request(now, parsed);
                }
                LinkNote::Sent | LinkNote::Failed(_) => {
                    if let Some(leg) = self.leg.take() {
                        if leg.report {
                            self.push(match note {
                                LinkNote::Failed(e) => Queued::Undelivered(e),
                                _ => Queued::Delivered,
                            });
                        }
                    }
                    if let TerminalState::Answering { .. } = self.state {
                        self.state = TerminalState::Idle;
                    }
                }
                LinkNote::ProtocolError(e) => self.push(Queued::ProtocolError(e)),
            }
        }
        self.sync_admission();
    }
}

/// A refusal (status `'7'`) for `request`, built from the request alone.
fn refusal_answer(request: &ConcertRequest) -> ConcertAnswer {
    ConcertAnswer {
        status: super::fields::Status::Rejected,
        ..ConcertAnswer::instant(request)
    }
}

impl TerminalSide for ConcertTerminal {
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.link.handle_bytes(now, bytes);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.link.handle_timeout(now);
        self.pump(now);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.link.poll_transmit(buf)
    }

    fn poll_event(&mut self) -> Option<TerminalEvent> {
        self.events.pop_front().map(Queued::event)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout()
    }

    /// Answers the request being processed: the full or short form its answer flag asked
    /// for; after an instant answer (`A011`) nothing more is sent and `Ok` is returned.
    ///
    /// Errors: [`Error::SessionNoRequest`] when no request is being processed;
    /// [`Error::SessionResponseMismatch`] when the response does not answer it
    /// ([`crate::session::check_response`]: another kind, amount or currency, or an approval
    /// without an amount); [`Error::AmountTooLarge`] when the response's amount does not fit
    /// the 8-digit field. On an error nothing is sent and the request stays pending, so that
    /// the driver can give a corrected answer (the agent answers a plain failure).
    fn respond(&mut self, now: Instant, response: &Response) -> Result<()> {
        let TerminalState::Processing { request, instant } = self.state else {
            return Err(Error::SessionNoRequest);
        };
        crate::session::check_response(&request.to_txn()?, response)?;
        let answer = ConcertAnswer::from_response(&request, response)?;
        if instant {
            // The till has had its answer (status '9'); the result stays the last transaction.
            self.state = TerminalState::Idle;
        } else {
            self.send_answer(now, &request, &answer, true)?;
            self.state = TerminalState::Answering { request };
        }
        self.sync_admission();
        Ok(())
    }

    fn is_busy(&self) -> bool {
        self.state != TerminalState::Idle
    }
}

/// Configuration of a [`ConcertEcr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConcertEcrConfig {
    /// Link timers and retries ([`LinkConfig::default`]).
    pub link: LinkConfig,
    /// POS number, answer form, payment mode, delay, authorization
    /// ([`RequestOptions::default`]).
    pub request: RequestOptions,
    /// How long to wait, after the terminal acknowledged the request, for its answer.
    /// Default 60 s, the project's transaction limit. Concert clients wait longer:
    /// pyTeliumManager's `verify` waits up to 120 s (`DELAY_TERMINAL_ANSWER_TRANSACTION`);
    /// set [`ConcertEcrConfig::CLIENT_RESPONSE_TIMEOUT`] to behave like them.
    pub response_timeout: Duration,
}

impl ConcertEcrConfig {
    /// The 60 s default response limit.
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
    /// The 120 s that public Concert clients wait (pyTeliumManager).
    pub const CLIENT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
}

impl Default for ConcertEcrConfig {
    fn default() -> Self {
        ConcertEcrConfig {
            link: LinkConfig::default(),
            request: RequestOptions::default(),
            response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EcrState {
    Idle,
    /// The request leg is under way.
    Sending {
        kind: RequestKind,
        request: ConcertRequest,
    },
    /// The terminal took the request; its answer leg is awaited until `deadline`.
    Waiting {
        kind: RequestKind,
        request: ConcertRequest,
        deadline: Instant,
    },
}

/// The till side of Concert: sends a request, waits for the terminal's answer.
///
/// [`EcrEvent::Accepted`] when the terminal acknowledged the request, then
/// [`EcrEvent::Response`], or [`EcrEvent::TimedOut`] after
/// [`ConcertEcrConfig::response_timeout`] (an answer leg still in progress at that moment is
/// given its time). [`EcrEvent::Failed`] when the request could not be delivered. An answer
/// that arrives after the time-out is acknowledged on the line and reported as
/// [`EcrEvent::ProtocolError`] ([`Error::LinkUnexpected`]).
#[derive(Debug)]
pub struct ConcertEcr {
    config: ConcertEcrConfig,
    link: LinkSession,
    state: EcrState,
    events: Deque<EcrEvent, SESSION_EVENT_CAPACITY>,
}

impl ConcertEcr {
    /// A till session with `config`.
    pub fn new(config: ConcertEcrConfig) -> Self {
        ConcertEcr {
            config,
            link: LinkSession::new(LinkRole::Ecr, config.link),
            state: EcrState::Idle,
            events: Deque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ConcertEcrConfig {
        &self.config
    }

    fn push(&mut self, e: EcrEvent) {
        // A full queue: a protocol error gives way first (see `crate::queue`).
        let _ = crate::queue::push_keeping(&mut self.events, e, |e| {
            matches!(e, EcrEvent::ProtocolError(_))
        });
    }

    fn pump(&mut self, now: Instant) {
        while let Some(note) = self.link.poll_note() {
            match (note, self.state) {
                (LinkNote::Sent, EcrState::Sending { kind, request }) => {
                    self.state = EcrState::Waiting {
                        kind,
                        request,
                        deadline: now.saturating_add(self.config.response_timeout),
                    };
                    self.push(EcrEvent::Accepted);
                }
                (LinkNote::Failed(e), EcrState::Sending { .. }) => {
                    self.state = EcrState::Idle;
                    self.push(EcrEvent::Failed(e));
                }
                (LinkNote::Received, EcrState::Waiting { kind, request, .. }) => {
                    // An answer that is not this request's (another amount, currency or POS)
                    // is reported and the wait goes on: it is never taken as the response.
                    match ConcertAnswer::parse(self.link.received())
                        .and_then(|a| a.check_answers(&request).map(|()| a))
                    {
                        Ok(a) => {
                            self.state = EcrState::Idle;
                            self.push(EcrEvent::Response(a.to_response_for(&request, kind)));
                        }
                        Err(e) => self.push(EcrEvent::ProtocolError(e)),
                    }
                }
                (LinkNote::Received, _) => {
                    self.push(EcrEvent::ProtocolError(Error::LinkUnexpected {
                        what: "concert answer with no request waiting",
                    }))
                }
                (LinkNote::ProtocolError(e), _) => self.push(EcrEvent::ProtocolError(e)),
                // Sent / Failed outside Sending cannot happen: only `start` sends.
                (LinkNote::Sent | LinkNote::Failed(_), _) => {}
            }
        }
    }

    fn response_deadline(&self) -> Option<Instant> {
        match self.state {
            EcrState::Waiting { deadline, .. } => Some(deadline),
            _ => None,
        }
    }
}

impl EcrSide for ConcertEcr {
    /// Sends `request` (see [`super::map`] for what Concert can carry).
    /// Errors: [`Error::LinkBusy`], [`Error::Unsupported`], [`Error::AmountTooLarge`],
    /// [`Error::ConcertField`] (a reference over 10 characters).
    fn start(&mut self, now: Instant, request: &Request) -> Result<()> {
        if self.state != EcrState::Idle || self.link.is_busy() {
            return Err(Error::LinkBusy);
        }
        let concert = ConcertRequest::from_txn(request, &self.config.request)?;
        let mut payload = [0u8; ConcertRequest::LEN];
        concert.emit(&mut payload)?;
        self.link.send(now, &payload)?;
        self.state = EcrState::Sending {
            kind: request.kind(),
            request: concert,
        };
        Ok(())
    }

    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.link.handle_bytes(now, bytes);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.link.handle_timeout(now);
        self.pump(now);
        if let Some(deadline) = self.response_deadline() {
            if now >= deadline && !self.link.is_busy() {
                self.state = EcrState::Idle;
                self.push(EcrEvent::TimedOut);
            }
        }
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.link.poll_transmit(buf)
    }

    fn poll_event(&mut self) -> Option<EcrEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let link = self.link.poll_timeout();
        if self.link.is_busy() {
            // An exchange is running (it always has a deadline); the response limit is
            // checked when it ends, so that an answer on its way is not cut off.
            link
        } else {
            earliest(link, self.response_deadline())
        }
    }

    fn is_busy(&self) -> bool {
        self.state != EcrState::Idle
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec as StdVec;

    use super::*;
    use crate::link::control::{ACK, ENQ, EOT, NAK};
    use crate::session::MAX_TRANSMIT;
    use crate::txn::{Currency, Money, Outcome, Pan, Reference};

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn sale(minor: u64) -> Request {
        Request::Sale {
            amount: Money::new(minor, Currency::EUR).unwrap(),
            reference: Some(Reference::new("R-1").unwrap()),
        }
    }

    /// A till and a terminal joined in memory on a fake clock; the terminal's "application"
    /// answers each request through `answer` after `processing` ms.
    struct World {
        ecr: ConcertEcr,
        term: ConcertTerminal,
        now: Instant,
        ecr_events: StdVec<EcrEvent>,
        term_events: StdVec<TerminalEvent>,
        /// Bytes each way, for assertions: (from the till?, bytes).
        wire: StdVec<(bool, StdVec<u8>)>,
        /// When the terminal application will answer, and with what.
        pending: Option<(Instant, Response)>,
        processing: u64,
        answer: fn(&Request) -> Response,
        /// Damage on the wire: XOR the byte at this absolute offset (both directions counted).
        damage: Option<(usize, u8)>,
        sent_bytes: usize,
    }

    impl World {
        fn new(ecr: ConcertEcrConfig) -> Self {
            World {
                ecr: ConcertEcr::new(ecr),
                term: ConcertTerminal::new(ConcertTerminalConfig::default()),
                now: Instant::ZERO,
                ecr_events: StdVec::new(),
                term_events: StdVec::new(),
                wire: StdVec::new(),
                pending: None,
                processing: 2000,
                answer: |r| {
                    let mut resp = Response::new(r.kind(), Outcome::Approved);
                    resp.amount = r.amount();
                    resp.pan = Some(Pan::new("5413330089010434").unwrap().masked());
                    resp
                },
                damage: None,
                sent_bytes: 0,
            }
        }

        fn tamper(&mut self, bytes: &mut [u8]) {
            if let Some((at, x)) = self.damage {
                if (self.sent_bytes..self.sent_bytes + bytes.len()).contains(&at) {
                    bytes[at - self.sent_bytes] ^= x;
                }
            }
            self.sent_bytes += bytes.len();
        }

        fn run(&mut self, limit_ms: u64) {
            let mut buf = [0u8; MAX_TRANSMIT];
            loop {
                let mut moved = false;
                if let Some(n) = self.ecr.poll_transmit(&mut buf).unwrap() {
                    self.wire.push((true, buf[..n].to_vec()));
                    self.tamper(&mut buf[..n]);
                    self.term.handle_bytes(self.now, &buf[..n]);
                    moved = true;
                }
                if let Some(n) = self.term.poll_transmit(&mut buf).unwrap() {
                    self.wire.push((false, buf[..n].to_vec()));
                    self.tamper(&mut buf[..n]);
                    self.ecr.handle_bytes(self.now, &buf[..n]);
                    moved = true;
                }
                while let Some(e) = self.ecr.poll_event() {
                    self.ecr_events.push(e);
                }
                while let Some(e) = self.term.poll_event() {
                    if let TerminalEvent::Request(r) = &e {
                        let at = ms(self.now.as_millis() + self.processing);
                        self.pending = Some((at, (self.answer)(r)));
                    }
                    self.term_events.push(e);
                }
                if moved {
                    continue;
                }
                let app = self.pending.as_ref().map(|p| p.0);
                let next = earliest(
                    earliest(self.ecr.poll_timeout(), self.term.poll_timeout()),
                    app,
                );
                match next {
                    Some(t) if t.as_millis() <= limit_ms => {
                        self.now = self.now.max(t);
                        if app.is_some_and(|a| a <= self.now) {
                            let (_, resp) = self.pending.take().unwrap();
                            self.term.respond(self.now, &resp).unwrap();
                        }
                        self.ecr.handle_timeout(self.now);
                        self.term.handle_timeout(self.now);
                    }
                    _ => return,
                }
            }
        }
    }

    #[test]
    fn sale_end_to_end() {
        let mut w = World::new(ConcertEcrConfig::default());
        w.ecr.start(w.now, &sale(1250)).unwrap();
        assert_eq!(w.ecr.start(w.now, &sale(1)), Err(Error::LinkBusy));
        w.run(200_000);
        assert_eq!(w.term_events[0], TerminalEvent::Request(sale(1250)));
        assert_eq!(w.term_events[1], TerminalEvent::ResponseDelivered);
        assert_eq!(w.ecr_events.len(), 2, "{:?}", w.ecr_events);
        assert_eq!(w.ecr_events[0], EcrEvent::Accepted);
        let EcrEvent::Response(r) = &w.ecr_events[1] else {
            panic!("{:?}", w.ecr_events)
        };
        assert_eq!(r.outcome, Outcome::Approved);
        assert_eq!(r.amount, Some(Money::new(1250, Currency::EUR).unwrap()));
        assert_eq!(r.reference, Some(Reference::new("R-1").unwrap()));
        extern crate std;
        use std::string::ToString;
        assert_eq!(r.pan.unwrap().to_string(), "541333******0434");
        assert!(!w.ecr.is_busy() && !w.term.is_busy());
        // The bytes of both legs, in order: the request frame as the design example (with
        // R-1 in the private field), the full answer frame of 83 bytes.
        let lens: StdVec<(bool, usize)> = w.wire.iter().map(|(d, b)| (*d, b.len())).collect();
        assert_eq!(
            lens,
            [
                (true, 1),   // ENQ
                (false, 1),  // ACK
                (true, 37),  // request
                (false, 1),  // ACK
                (true, 1),   // EOT
                (false, 1),  // ENQ (answer leg)
                (true, 1),   // ACK
                (false, 83), // full answer
                (true, 1),   // ACK
                (false, 1),  // EOT
            ]
        );
        assert_eq!(&w.wire[2].1[1..35], b"0100001250110978R-1       A010B010");
        assert_eq!(w.wire[5].1, [ENQ]);
        assert_eq!(w.wire[8].1, [ACK]);
        assert_eq!(w.wire[9].1, [EOT]);
    }

    #[test]
    fn short_answer_when_asked() {
        let mut cfg = ConcertEcrConfig::default();
        cfg.request.answer = super::super::AnswerForm::Short;
        let mut w = World::new(cfg);
        w.ecr.start(w.now, &sale(500)).unwrap();
        w.run(200_000);
        assert_eq!(w.wire[7].1.len(), 28, "short answer frame");
        let EcrEvent::Response(r) = &w.ecr_events[1] else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::Approved);
        assert_eq!(r.pan, None);
    }

    #[test]
    fn declined_sale() {
        let mut w = World::new(ConcertEcrConfig::default());
        w.answer = |r| Response::new(r.kind(), Outcome::Cancelled);
        w.ecr.start(w.now, &sale(500)).unwrap();
        w.run(200_000);
        let EcrEvent::Response(r) = &w.ecr_events[1] else {
            panic!()
        };
        assert!(matches!(r.outcome, Outcome::Declined { .. }));
        assert_eq!(r.pan, None);
    }

    #[test]
    fn no_answer_times_out_after_the_response_limit() {
        let mut w = World::new(ConcertEcrConfig::default());
        w.processing = 1_000_000; // the terminal never answers in time
        w.ecr.start(w.now, &sale(500)).unwrap();
        w.run(100_000);
        assert_eq!(w.ecr_events, [EcrEvent::Accepted, EcrEvent::TimedOut]);
        assert_eq!(w.now, ms(60_000));
        assert!(!w.ecr.is_busy());
        // The late answer is acknowledged but not taken as the response.
        w.run(2_000_000);
        assert!(matches!(
            w.ecr_events[2],
            EcrEvent::ProtocolError(Error::LinkUnexpected { .. })
        ));
        assert_eq!(
            w.term_events.last(),
            Some(&TerminalEvent::ResponseDelivered)
        );
    }

    #[test]
    fn longer_limit_like_concert_clients() {
        let cfg = ConcertEcrConfig {
            response_timeout: ConcertEcrConfig::CLIENT_RESPONSE_TIMEOUT,
            ..ConcertEcrConfig::default()
        };
        let mut w = World::new(cfg);
        w.processing = 100_000;
        w.ecr.start(w.now, &sale(500)).unwrap();
        w.run(500_000);
        assert!(matches!(w.ecr_events[1], EcrEvent::Response(_)));
    }

    #[test]
    fn terminal_that_never_acks_fails_the_request() {
        let mut ecr = ConcertEcr::new(ConcertEcrConfig::default());
        ecr.start(Instant::ZERO, &sale(1)).unwrap();
        let mut now = Instant::ZERO;
        let mut buf = [0u8; 64];
        while let Some(t) = ecr.poll_timeout() {
            let _ = ecr.poll_transmit(&mut buf).unwrap();
            now = t;
            ecr.handle_timeout(now);
        }
        assert_eq!(ecr.poll_event(), Some(EcrEvent::Failed(Error::LinkNoAck)));
        assert_eq!(now, ms(11_000), "3 ENQs, 3 s each, 1 s apart");
        assert!(!ecr.is_busy());
    }

    #[test]
    fn unsupported_requests() {
        let mut ecr = ConcertEcr::new(ConcertEcrConfig::default());
        assert!(matches!(
            ecr.start(Instant::ZERO, &Request::CloseTotals),
            Err(Error::Unsupported { .. })
        ));
        assert!(!ecr.is_busy());
        let mut buf = [0u8; 8];
        assert_eq!(ecr.poll_transmit(&mut buf), Ok(None));
    }

    #[test]
    fn terminal_rejects_what_txn_cannot_run() {
        use crate::link::frame::{Checksum, encode_frame};
        let mut t = ConcertTerminal::new(ConcertTerminalConfig::default());
        let mut frame = [0u8; 40];
        // Type '4' (auto): parsed, not runnable.
        let n = encode_frame(
            b"0100001250114978          A010B010",
            Checksum::Lrc,
            &mut frame,
        )
        .unwrap();
        t.handle_bytes(ms(0), &[ENQ]);
        t.handle_bytes(ms(0), &frame[..n]);
        t.handle_bytes(ms(0), &[EOT]);
        assert!(matches!(
            t.poll_event(),
            Some(TerminalEvent::ProtocolError(Error::Unsupported { .. }))
        ));
        let mut buf = [0u8; 128];
        let n = t.poll_transmit(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], [ACK, ACK, ENQ]);
        t.handle_bytes(ms(1), &[ACK]);
        let n = t.poll_transmit(&mut buf).unwrap().unwrap();
        let answer = ConcertAnswer::parse(&buf[1..n - 2]).unwrap();
        assert_eq!(answer.status, super::super::Status::Rejected);
        assert_eq!(
            answer.amount_minor, 1250,
            "a refusal echoes the request's amount, as the public clients compare it"
        );
        t.handle_bytes(ms(2), &[ACK]);
        assert_eq!(
            t.poll_event(),
            None,
            "no delivery report for an automatic refusal"
        );
        assert!(!t.is_busy());
        // respond() without a request is an error.
        let resp = Response::new(RequestKind::Sale, Outcome::Approved);
        assert!(matches!(
            t.respond(ms(3), &resp),
            Err(Error::SessionNoRequest)
        ));
    }

    #[test]
    fn terminal_reports_undelivered_answer() {
        let mut w = World::new(ConcertEcrConfig::default());
        w.ecr.start(w.now, &sale(700)).unwrap();
        // Run the request leg only, then cut the till off.
        w.processing = 10;
        w.run(5);
        assert!(matches!(w.term_events[0], TerminalEvent::Request(_)));
        let mut t = w.term;
        let resp = (w.answer)(&sale(700));
        t.respond(ms(10), &resp).unwrap();
        let mut buf = [0u8; 128];
        while let Some(d) = t.poll_timeout() {
            let _ = t.poll_transmit(&mut buf).unwrap();
            t.handle_timeout(d);
        }
        let events: StdVec<_> = core::iter::from_fn(|| t.poll_event()).collect();
        assert_eq!(
            events,
            [TerminalEvent::ResponseUndelivered(Error::LinkNoAck)]
        );
    }

    proptest::proptest! {
        /// One damaged byte anywhere in a whole transaction (both legs, 128 bytes on a clean
        /// wire): the till ends with exactly one final event, the terminal runs the request
        /// at most once, and an answer the till takes is the right one.
        #[test]
        fn one_damaged_byte_anywhere(at in 0usize..140, x in 1u8..=255) {
            let mut w = World::new(ConcertEcrConfig::default());
            w.damage = Some((at, x));
            w.ecr.start(w.now, &sale(1250)).unwrap();
            w.run(1_000_000);
            let finals: StdVec<&EcrEvent> = w
                .ecr_events
                .iter()
                .filter(|e| matches!(e, EcrEvent::Response(_) | EcrEvent::TimedOut | EcrEvent::Failed(_)))
                .collect();
            proptest::prop_assert_eq!(finals.len(), 1, "{:?}", w.ecr_events);
            let requests = w.term_events.iter().filter(|e| matches!(e, TerminalEvent::Request(_))).count();
            proptest::prop_assert!(requests <= 1, "{:?}", w.term_events);
            if let EcrEvent::Response(r) = finals[0] {
                proptest::prop_assert_eq!(&r.outcome, &Outcome::Approved);
                proptest::prop_assert_eq!(r.amount, Some(Money::new(1250, Currency::EUR).unwrap()));
                proptest::prop_assert_eq!(requests, 1);
            }
            proptest::prop_assert!(!w.ecr.is_busy() && !w.term.is_busy());
        }
    }

    /// The request frame of a public client: POS 01, `minor` cents EUR, short answer, card,
    /// debit, blank private field, delay `delay` (pypostelium's layout when `A011`).
    fn client_request(minor: u32, delay: &[u8; 4]) -> StdVec<u8> {
        use crate::link::frame::{Checksum, encode_frame};
        let payload = std::format!(
            "01{minor:08}010978          {}B010",
            core::str::from_utf8(delay).unwrap()
        );
        let mut frame = [0u8; 40];
        let n = encode_frame(payload.as_bytes(), Checksum::Lrc, &mut frame).unwrap();
        frame[..n].to_vec()
    }

    fn take(t: &mut ConcertTerminal) -> StdVec<u8> {
        let mut buf = [0u8; MAX_TRANSMIT];
        t.poll_transmit(&mut buf)
            .unwrap()
            .map_or_else(StdVec::new, |n| buf[..n].to_vec())
    }

    fn term_events(t: &mut ConcertTerminal) -> StdVec<TerminalEvent> {
        core::iter::from_fn(|| t.poll_event()).collect()
    }

    /// The answer in the bytes a terminal sent (STX … ETX LRC at their end).
    fn answer_in(bytes: &[u8]) -> ConcertAnswer {
        let stx = bytes.iter().position(|&b| b == 0x02).unwrap();
        ConcertAnswer::parse(&bytes[stx + 1..bytes.len() - 2]).unwrap()
    }

    fn approved(r: &Request) -> Response {
        let mut resp = Response::new(r.kind(), Outcome::Approved);
        resp.amount = r.amount();
        resp.approval_code = Some(crate::txn::ApprovalCode::new("A1B2C3").unwrap());
        resp.trace = Some(42);
        resp
    }

    /// Sends one request leg (ENQ, frame, EOT) and returns what the terminal said.
    fn request_leg(t: &mut ConcertTerminal, at: u64, frame: &[u8]) -> StdVec<u8> {
        t.handle_bytes(ms(at), &[ENQ]);
        let mut out = take(t);
        if out == [ACK] {
            t.handle_bytes(ms(at), frame);
            out.extend(take(t));
            t.handle_bytes(ms(at), &[EOT]);
            out.extend(take(t));
        }
        out
    }

    #[test]
    fn instant_answer_goes_at_once_and_the_final_result_is_not_sent() {
        let mut t = ConcertTerminal::new(ConcertTerminalConfig::default());
        let out = request_leg(&mut t, 0, &client_request(300, b"A011"));
        assert_eq!(
            out,
            [ACK, ACK, ENQ],
            "the answer leg opens right after the request leg"
        );
        let events = term_events(&mut t);
        let [TerminalEvent::Request(req)] = events.as_slice() else {
            panic!("{events:?}")
        };
        t.handle_bytes(ms(1), &[ACK]);
        let answer = answer_in(&take(&mut t));
        assert_eq!(answer.status, super::super::Status::NotVerified);
        assert_eq!(answer.amount_minor, 300);
        assert_eq!(answer.currency_numeric, 978);
        assert_eq!(answer.private, super::super::PrivateData::BLANK);
        assert_eq!(answer.pos, 1);
        t.handle_bytes(ms(2), &[ACK]);
        assert_eq!(take(&mut t), [EOT]);
        assert_eq!(
            term_events(&mut t),
            [],
            "no delivery report for the instant answer"
        );
        // The transaction goes on: a new ENQ is refused, not ACKed.
        assert!(t.is_busy());
        assert_eq!(
            request_leg(&mut t, 100, &client_request(400, b"A011")),
            [NAK]
        );
        assert_eq!(term_events(&mut t), []);
        // The card took 4 s: the final result is taken and not sent.
        t.respond(ms(4000), &approved(req)).unwrap();
        assert_eq!(take(&mut t), [0u8; 0]);
        assert_eq!(t.poll_timeout(), None);
        assert!(!t.is_busy());
        // The next request is taken again, and its instant answer carries its own amount.
        assert_eq!(
            request_leg(&mut t, 5000, &client_request(400, b"A011")),
            [ACK, ACK, ENQ]
        );
        t.handle_bytes(ms(5001), &[ACK]);
        assert_eq!(answer_in(&take(&mut t)).amount_minor, 400);
    }

    #[test]
    fn after_transaction_answer_waits_for_the_result_and_carries_an_identifier() {
        let mut t = ConcertTerminal::new(ConcertTerminalConfig::default());
        assert_eq!(
            request_leg(&mut t, 0, &client_request(500, b"A010")),
            [ACK, ACK]
        );
        let events = term_events(&mut t);
        let [TerminalEvent::Request(req)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(take(&mut t), []);
        // Busy: ENQ refused.
        assert_eq!(
            request_leg(&mut t, 10, &client_request(600, b"A010")),
            [NAK]
        );
        t.respond(ms(4000), &approved(req)).unwrap();
        assert_eq!(take(&mut t), [ENQ]);
        t.handle_bytes(ms(4001), &[ACK]);
        let answer = answer_in(&take(&mut t));
        assert_eq!(answer.status, super::super::Status::Success);
        assert_eq!(answer.amount_minor, 500);
        assert_eq!(
            answer.private.as_bytes(),
            b"A1B2C3    ",
            "the approval code"
        );
        // Declined: no approval code, the trace number.
        let mut declined = Response::new(RequestKind::Sale, Outcome::Cancelled);
        declined.trace = Some(42);
        let request = ConcertRequest::parse(&client_request(500, b"A010")[1..35]).unwrap();
        let a = ConcertAnswer::from_response(&request, &declined).unwrap();
        assert_eq!(a.private.as_bytes(), b"000042    ");
        // A till that filled the field gets it back.
        let mut own = request;
        own.private = super::super::PrivateData::from_text("INV-7").unwrap();
        let a = ConcertAnswer::from_response(&own, &approved(&sale(500))).unwrap();
        assert_eq!(a.private.trimmed(), "INV-7");
    }

    #[test]
    fn a_response_for_another_request_is_never_sent() {
        use crate::session::ResponseField;
        let mut t = ConcertTerminal::new(ConcertTerminalConfig::default());
        request_leg(&mut t, 0, &client_request(400, b"A010"));
        let _ = term_events(&mut t);
        let other = approved(&sale(300));
        assert_eq!(
            t.respond(ms(10), &other),
            Err(Error::SessionResponseMismatch {
                field: ResponseField::Amount
            })
        );
        // Nothing of the 3.00 approval goes out; the request stays pending, and a refusal for
        // the till's own 4.00 (what the agent gives after such an error) is what it gets.
        assert_eq!(take(&mut t), []);
        t.respond(
            ms(11),
            &Response::new(RequestKind::Sale, Outcome::Cancelled),
        )
        .unwrap();
        assert_eq!(take(&mut t), [ENQ]);
        t.handle_bytes(ms(12), &[ACK]);
        let answer = answer_in(&take(&mut t));
        assert_eq!(answer.amount_minor, 400);
        assert_eq!(answer.status, super::super::Status::Rejected);
        let mut refund = approved(&sale(400));
        refund.kind = RequestKind::Refund;
        let mut t = ConcertTerminal::new(ConcertTerminalConfig::default());
        request_leg(&mut t, 0, &client_request(400, b"A010"));
        assert_eq!(
            t.respond(ms(10), &refund),
            Err(Error::SessionResponseMismatch {
                field: ResponseField::Kind
            })
        );
    }

    #[test]
    fn a_new_request_colliding_with_our_enq_is_taken_and_the_stale_answer_dropped() {
        let mut t = ConcertTerminal::new(ConcertTerminalConfig::default());
        request_leg(&mut t, 0, &client_request(300, b"A010"));
        let events = term_events(&mut t);
        let [TerminalEvent::Request(req)] = events.as_slice() else {
            panic!()
        };
        // The till gave up waiting; as our answer's ENQ leaves, its new request's ENQ arrives.
        t.respond(ms(4000), &approved(req)).unwrap();
        assert_eq!(take(&mut t), [ENQ]);
        let out = request_leg(&mut t, 4001, &client_request(400, b"A010"));
        assert_eq!(
            out,
            [ACK, ACK],
            "the terminal yields and takes the new request"
        );
        let events = term_events(&mut t);
        assert_eq!(
            events[0],
            TerminalEvent::ResponseUndelivered(Error::ConcertSuperseded)
        );
        let TerminalEvent::Request(req2) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(req2.amount().unwrap().minor(), 400);
        // Nothing more goes out for the 3.00 answer, ever.
        let mut at = 4002;
        while let Some(d) = t.poll_timeout() {
            at = d.as_millis().max(at);
            t.handle_timeout(ms(at));
            assert_eq!(take(&mut t), [], "no stale answer");
        }
        // The 4.00 answer is 4.00.
        t.respond(ms(at + 1), &approved(req2)).unwrap();
        assert_eq!(take(&mut t), [ENQ]);
        t.handle_bytes(ms(at + 2), &[ACK]);
        assert_eq!(answer_in(&take(&mut t)).amount_minor, 400);
    }

    #[test]
    fn a_frame_that_is_not_a_request_is_naked() {
        let mut t = ConcertTerminal::new(ConcertTerminalConfig::default());
        let mut bad = client_request(100, b"A010");
        bad[27] = b'X'; // delay "X010"
        let lrc = bad[1..bad.len() - 1].iter().fold(0, |a, b| a ^ b);
        let last = bad.len() - 1;
        bad[last] = lrc;
        t.handle_bytes(ms(0), &[ENQ]);
        t.handle_bytes(ms(0), &bad);
        assert_eq!(take(&mut t), [ACK, NAK]);
        assert!(!t.is_busy());
    }

    #[test]
    fn the_till_side_does_not_take_another_requests_answer() {
        let mut ecr = ConcertEcr::new(ConcertEcrConfig::default());
        ecr.start(ms(0), &sale(400)).unwrap();
        let mut buf = [0u8; MAX_TRANSMIT];
        let _ = ecr.poll_transmit(&mut buf).unwrap();
        for b in [ACK, ACK] {
            ecr.handle_bytes(ms(0), &[b]);
            let _ = ecr.poll_transmit(&mut buf).unwrap();
        }
        assert_eq!(ecr.poll_event(), Some(EcrEvent::Accepted));
        let request = ConcertRequest::from_txn(&sale(300), &RequestOptions::default()).unwrap();
        let stale = ConcertAnswer::from_response(&request, &approved(&sale(300))).unwrap();
        let mut payload = [0u8; 80];
        let n = stale.emit(&mut payload).unwrap();
        let mut frame = [0u8; 90];
        let m = crate::link::frame::encode_frame(
            &payload[..n],
            crate::link::frame::Checksum::Lrc,
            &mut frame,
        )
        .unwrap();
        ecr.handle_bytes(ms(1), &[ENQ]);
        ecr.handle_bytes(ms(1), &frame[..m]);
        ecr.handle_bytes(ms(1), &[EOT]);
        assert_eq!(
            ecr.poll_event(),
            Some(EcrEvent::ProtocolError(Error::ConcertMismatch {
                field: "amount"
            }))
        );
        assert!(ecr.is_busy(), "still waiting for its own answer");
    }

    #[test]
    fn clean_wire_carries_128_bytes() {
        let mut w = World::new(ConcertEcrConfig::default());
        w.ecr.start(w.now, &sale(1250)).unwrap();
        w.run(1_000_000);
        assert_eq!(w.sent_bytes, 1 + 1 + 37 + 1 + 1 + 1 + 1 + 83 + 1 + 1);
    }

    #[test]
    fn objects_are_usable_as_trait_objects() {
        let mut t: std::boxed::Box<dyn TerminalSide> =
            std::boxed::Box::new(ConcertTerminal::new(ConcertTerminalConfig::default()));
        let mut e: std::boxed::Box<dyn EcrSide> =
            std::boxed::Box::new(ConcertEcr::new(ConcertEcrConfig::default()));
        e.start(Instant::ZERO, &sale(1)).unwrap();
        let mut buf = [0u8; MAX_TRANSMIT];
        let n = e.poll_transmit(&mut buf).unwrap().unwrap();
        t.handle_bytes(Instant::ZERO, &buf[..n]);
        assert!(t.poll_transmit(&mut buf).unwrap().is_some());
    }
}
