//! Concert sessions for both roles, over one [`LinkSession`] each:
//! [`ConcertTerminal`] implements [`TerminalSide`], [`ConcertEcr`] implements [`EcrSide`].
//!
//! A transaction is two link exchanges (pyTeliumManager `Telium.ask` then `Telium.verify`):
//! the till sends the request leg (ENQ, ACK, frame, ACK, EOT); later the terminal opens the
//! answer leg (ENQ, ACK, answer frame, ACK, EOT) with the full or short answer the request's
//! answer flag asked for.

use core::time::Duration;

use heapless::Deque;

use super::map::RequestOptions;
use super::message::{ConcertAnswer, ConcertRequest};
use crate::link::session::{LinkConfig, LinkEvent, LinkRole, LinkSession};
use crate::session::{EcrEvent, EcrSide, TerminalEvent, TerminalSide};
use crate::time::earliest;
use crate::txn::{Request, RequestKind, Response};
use crate::{Error, Instant, Result};

/// Events a Concert session holds for its driver; past that one is dropped: a protocol error
/// first, else the oldest (the driver must poll).
pub const SESSION_EVENT_CAPACITY: usize = 8;

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
    /// A request was handed to the driver; [`TerminalSide::respond`] is awaited.
    Processing(ConcertRequest),
    /// The answer leg is under way; `report` says whether the driver hears how it ends (not
    /// for the rejections the session sends on its own).
    Answering { report: bool },
}

/// The terminal side of Concert: receives requests, sends answers.
///
/// A request Concert can carry but the [`crate::txn`] model cannot run (type auto, a cheque,
/// an unknown currency, a zero amount) is answered at once with status `'7'` (rejected) and
/// reported as [`TerminalEvent::ProtocolError`]; a request that does not parse is reported
/// and not answered (the till times out). A request that arrives while another is being
/// processed is reported as [`Error::LinkBusy`] and ignored.
#[derive(Debug)]
pub struct ConcertTerminal {
    link: LinkSession,
    state: TerminalState,
    events: Deque<TerminalEvent, SESSION_EVENT_CAPACITY>,
}

impl ConcertTerminal {
    /// A terminal session with `config`.
    pub fn new(config: ConcertTerminalConfig) -> Self {
        ConcertTerminal {
            link: LinkSession::new(LinkRole::Terminal, config.link),
            state: TerminalState::Idle,
            events: Deque::new(),
        }
    }

    /// The Concert request being processed, if any (for its POS number, payment mode, …).
    pub fn pending_request(&self) -> Option<&ConcertRequest> {
        match &self.state {
            TerminalState::Processing(r) => Some(r),
            _ => None,
        }
    }

    fn push(&mut self, e: TerminalEvent) {
        // A full queue: a protocol error gives way first (see `crate::queue`).
        let _ = crate::queue::push_keeping(&mut self.events, e, |e| {
            matches!(e, TerminalEvent::ProtocolError(_))
        });
    }

    fn send_answer(&mut self, now: Instant, answer: &ConcertAnswer) -> Result<()> {
        let mut payload = [0u8; super::message::answer::FULL_LEN];
        let n = answer.emit(&mut payload)?;
        self.link.send(now, payload.get(..n).unwrap_or_default())
    }

    fn on_request(&mut self, now: Instant, payload: &[u8]) {
        let request = match ConcertRequest::parse(payload) {
            Ok(r) => r,
            Err(e) => return self.push(TerminalEvent::ProtocolError(e)),
        };
        if self.state != TerminalState::Idle {
            return self.push(TerminalEvent::ProtocolError(Error::LinkBusy));
        }
        match request.to_txn() {
            Ok(txn) => {
                self.state = TerminalState::Processing(request);
                self.push(TerminalEvent::Request(txn));
            }
            Err(e) => {
                self.push(TerminalEvent::ProtocolError(e));
                let kind = request.kind().unwrap_or(RequestKind::Sale);
                let refusal = Response::new(
                    kind,
                    crate::txn::Outcome::Failed {
                        reason: crate::txn::FailReason::NotSupported,
                    },
                );
                let sent = ConcertAnswer::from_response(&request, &refusal)
                    .and_then(|a| self.send_answer(now, &a));
                match sent {
                    Ok(()) => self.state = TerminalState::Answering { report: false },
                    Err(e) => self.push(TerminalEvent::ProtocolError(e)),
                }
            }
        }
    }

    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.link.poll_event() {
            match ev {
                LinkEvent::Received(p) => self.on_request(now, &p),
                LinkEvent::Sent => {
                    if let TerminalState::Answering { report } = self.state {
                        self.state = TerminalState::Idle;
                        if report {
                            self.push(TerminalEvent::ResponseDelivered);
                        }
                    }
                }
                LinkEvent::Failed(e) => {
                    if let TerminalState::Answering { report } = self.state {
                        self.state = TerminalState::Idle;
                        if report {
                            self.push(TerminalEvent::ResponseUndelivered(e));
                        }
                    }
                }
                LinkEvent::ProtocolError(e) => self.push(TerminalEvent::ProtocolError(e)),
            }
        }
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
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout()
    }

    /// Sends the answer to the request being processed: the full or short form its answer
    /// flag asked for. Errors: [`Error::SessionNoRequest`] when no request is being processed;
    /// [`Error::SessionResponseMismatch`] when the response does not answer it
    /// ([`crate::session::check_response`]); [`Error::AmountTooLarge`] when the response's
    /// amount does not fit the 8-digit field. On an error the request stays pending so that a
    /// corrected response can be given.
    fn respond(&mut self, now: Instant, response: &Response) -> Result<()> {
        let TerminalState::Processing(request) = self.state else {
            return Err(Error::SessionNoRequest);
        };
        crate::session::check_response(&request.to_txn()?, response)?;
        let answer = ConcertAnswer::from_response(&request, response)?;
        self.send_answer(now, &answer)?;
        self.state = TerminalState::Answering { report: true };
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
    },
    /// The terminal took the request; its answer leg is awaited until `deadline`.
    Waiting {
        kind: RequestKind,
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
        while let Some(ev) = self.link.poll_event() {
            match (ev, self.state) {
                (LinkEvent::Sent, EcrState::Sending { kind }) => {
                    self.state = EcrState::Waiting {
                        kind,
                        deadline: now.saturating_add(self.config.response_timeout),
                    };
                    self.push(EcrEvent::Accepted);
                }
                (LinkEvent::Failed(e), EcrState::Sending { .. }) => {
                    self.state = EcrState::Idle;
                    self.push(EcrEvent::Failed(e));
                }
                (LinkEvent::Received(p), EcrState::Waiting { kind, .. }) => {
                    match ConcertAnswer::parse(&p) {
                        Ok(a) => {
                            self.state = EcrState::Idle;
                            self.push(EcrEvent::Response(a.to_response(kind)));
                        }
                        Err(e) => self.push(EcrEvent::ProtocolError(e)),
                    }
                }
                (LinkEvent::Received(_), _) => {
                    self.push(EcrEvent::ProtocolError(Error::LinkUnexpected {
                        what: "concert answer with no request waiting",
                    }))
                }
                (LinkEvent::ProtocolError(e), _) => self.push(EcrEvent::ProtocolError(e)),
                // Sent / Failed outside Sending cannot happen: only `start` sends.
                (LinkEvent::Sent | LinkEvent::Failed(_), _) => {}
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
    use crate::link::control::{ACK, ENQ, EOT};
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
        assert_eq!(answer.amount_minor, 0, "a refusal carries no amount");
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
