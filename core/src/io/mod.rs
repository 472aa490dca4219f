//! Drivers that run a terminal-side session over a byte port, so firmware does not write the
//! loop: [`BlockingTerminal`] over [`embedded_io`] (`Read + ReadReady + Write`, e.g. a UART in a
//! super-loop) and [`AsyncTerminal`] over [`embedded_io_async`] (e.g. a UART under embassy).
//!
//! Both take the time from a caller-supplied [`Clock`]; the async one also waits on a
//! caller-supplied [`Timer`]. Buffers are `BUF` bytes each, inside the driver (no heap): a
//! transmit larger than `BUF` is reported as [`DriverError::Session`] with
//! [`Error::BufferTooSmall`] and stays queued in the session.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use crate::session::{TerminalEvent, TerminalSide};
use crate::txn::Response;
use crate::{Error, Instant};

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

/// A timer for the async driver: resolves once the clock has reached `deadline`.
pub trait Timer {
    /// Waits until `deadline`.
    fn wait_until(&mut self, deadline: Instant) -> impl Future<Output = ()>;
}

/// What can stop a driver.
#[derive(Debug, PartialEq, Eq)]
pub enum DriverError<E> {
    /// The port failed.
    Io(E),
    /// The port reached its end (the peer closed the connection).
    Closed,
    /// The session refused a call (for example a response with no request pending).
    Session(Error),
}

impl<E> From<Error> for DriverError<E> {
    fn from(e: Error) -> Self {
        DriverError::Session(e)
    }
}

/// Runs a [`TerminalSide`] session over a blocking port.
///
/// Call [`BlockingTerminal::poll`] from a super-loop (it never blocks when the port has no
/// bytes), or [`BlockingTerminal::next_event`] to spin until something happens. Answer a
/// [`TerminalEvent::Request`] with [`BlockingTerminal::respond`].
pub struct BlockingTerminal<S, P, C, const BUF: usize> {
    session: S,
    port: P,
    clock: C,
    buf: [u8; BUF],
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
            port,
            clock,
            buf: [0; BUF],
        }
    }

    /// The session, e.g. to inspect its state.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// Gives back the session and the port.
    pub fn into_parts(self) -> (S, P) {
        (self.session, self.port)
    }

    fn flush_transmit(&mut self) -> Result<(), DriverError<P::Error>> {
        while let Some(n) = self.session.poll_transmit(&mut self.buf)? {
            let bytes = self.buf.get(..n).unwrap_or_default();
            self.port.write_all(bytes).map_err(DriverError::Io)?;
        }
        self.port.flush().map_err(DriverError::Io)
    }

    /// One round: send what is queued, report an event, fire a due timer, or read what the
    /// port has ready. Returns `Ok(None)` when nothing happened that the caller must act on.
    pub fn poll(&mut self) -> Result<Option<TerminalEvent>, DriverError<P::Error>> {
        self.flush_transmit()?;
        if let Some(event) = self.session.poll_event() {
            return Ok(Some(event));
        }
        let now = self.clock.now();
        if self.session.poll_timeout().is_some_and(|d| now >= d) {
            self.session.handle_timeout(now);
            return Ok(None);
        }
        if self.port.read_ready().map_err(DriverError::Io)? {
            let n = self.port.read(&mut self.buf).map_err(DriverError::Io)?;
            if n == 0 {
                return Err(DriverError::Closed);
            }
            self.session
                .handle_bytes(now, self.buf.get(..n).unwrap_or_default());
        }
        Ok(None)
    }

    /// Polls until the session reports an event.
    pub fn next_event(&mut self) -> Result<TerminalEvent, DriverError<P::Error>> {
        loop {
            if let Some(event) = self.poll()? {
                return Ok(event);
            }
        }
    }

    /// Answers the pending request and sends the first bytes of the answer.
    pub fn respond(&mut self, response: &Response) -> Result<(), DriverError<P::Error>> {
        let now = self.clock.now();
        self.session.respond(now, response)?;
        self.flush_transmit()
    }
}

/// Runs a [`TerminalSide`] session over an async port.
///
/// The port's `read` must be cancel-safe (bytes already received are not lost when the read is
/// dropped because a deadline fired first), as buffered UART drivers are.
pub struct AsyncTerminal<S, P, C, T, const BUF: usize> {
    session: S,
    port: P,
    clock: C,
    timer: T,
    buf: [u8; BUF],
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
            port,
            clock,
            timer,
            buf: [0; BUF],
        }
    }

    /// The session, e.g. to inspect its state.
    pub fn session(&self) -> &S {
        &self.session
    }

    async fn flush_transmit(&mut self) -> Result<(), DriverError<P::Error>> {
        while let Some(n) = self.session.poll_transmit(&mut self.buf)? {
            let bytes = self.buf.get(..n).unwrap_or_default();
            self.port.write_all(bytes).await.map_err(DriverError::Io)?;
        }
        self.port.flush().await.map_err(DriverError::Io)
    }

    /// Runs the session until it reports an event.
    pub async fn next_event(&mut self) -> Result<TerminalEvent, DriverError<P::Error>> {
        loop {
            self.flush_transmit().await?;
            if let Some(event) = self.session.poll_event() {
                return Ok(event);
            }
            let now = self.clock.now();
            let deadline = self.session.poll_timeout();
            if deadline.is_some_and(|d| now >= d) {
                self.session.handle_timeout(now);
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
                None => self.session.handle_timeout(now),
                Some(Err(e)) => return Err(DriverError::Io(e)),
                Some(Ok(0)) => return Err(DriverError::Closed),
                Some(Ok(n)) => self
                    .session
                    .handle_bytes(now, self.buf.get(..n).unwrap_or_default()),
            }
        }
    }

    /// Answers the pending request and sends the first bytes of the answer.
    pub async fn respond(&mut self, response: &Response) -> Result<(), DriverError<P::Error>> {
        let now = self.clock.now();
        self.session.respond(now, response)?;
        self.flush_transmit().await
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
    struct Pipe {
        rx: VecDeque<u8>,
        tx: Vec<u8>,
        closed: bool,
    }

    impl embedded_io::ErrorType for Pipe {
        type Error = embedded_io::ErrorKind;
    }
    impl embedded_io::Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let n = buf.len().min(self.rx.len());
            for (dst, src) in buf.iter_mut().zip(self.rx.drain(..n)) {
                *dst = src;
            }
            Ok(n)
        }
    }
    impl embedded_io::ReadReady for Pipe {
        fn read_ready(&mut self) -> Result<bool, Self::Error> {
            Ok(!self.rx.is_empty() || self.closed)
        }
    }
    impl embedded_io::Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.tx.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    impl embedded_io_async::Read for Pipe {
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
    impl embedded_io_async::Write for Pipe {
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
        let mut pipe = Pipe::default();
        pipe.rx.extend(b"noise\x02SA");
        pipe.rx.extend(b"LE\x03");
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut driver = BlockingTerminal::<_, _, _, 16>::new(MockTerminal::new(), pipe, clock);
        let event = driver.next_event().unwrap();
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
        let mut pipe = Pipe::default();
        pipe.rx.extend(b"\x02SALE\x03");
        let time = Cell::new(0u64);
        let clock = || Instant::from_millis(time.get());
        let mut driver = BlockingTerminal::<_, _, _, 16>::new(MockTerminal::new(), pipe, &clock);
        assert!(matches!(
            driver.next_event().unwrap(),
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
        let pipe = Pipe {
            closed: true,
            ..Pipe::default()
        };
        let mut driver =
            BlockingTerminal::<_, _, _, 16>::new(MockTerminal::new(), pipe, || Instant::ZERO);
        assert_eq!(driver.next_event(), Err(DriverError::Closed));

        let mut pipe = Pipe::default();
        pipe.rx.extend(b"\x02SALE\x03");
        let mut driver =
            BlockingTerminal::<_, _, _, 2>::new(MockTerminal::new(), pipe, || Instant::ZERO);
        assert!(driver.next_event().is_ok());
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
        let mut pipe = Pipe::default();
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
        let mut pipe = Pipe::default();
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
        assert_eq!(driver.port.tx, b"\x02OK\x03");
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
            Pipe::default(),
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
                driver.port.rx.extend(&buf[..n]);
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
            let out: Vec<u8> = driver.port.tx.drain(..).collect();
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
}
