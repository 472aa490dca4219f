//! An in-memory pipe: two connected byte ports with a fixed capacity in each direction, no heap.
//!
//! What one [`PipeEnd`] writes, the other reads. Both ends implement the blocking
//! [`embedded_io`] traits (`Read`, `ReadReady`, `Write`, `WriteReady`) and the async
//! [`embedded_io_async`] ones, so a till driver and a terminal driver (or two bare sessions)
//! can run against each other in one thread: in host tests, in doc examples, in a simulation
//! on the target itself.
//!
//! A pipe cannot block (there is nobody to wait for in one thread), so the blocking calls say
//! so instead: reading an empty pipe is [`PipeError::Empty`] (the drivers only read when
//! `read_ready` says so, and never see it), writing into a full one is [`PipeError::Full`].
//! Size `N` for what one side writes before the other reads: a whole frame and its control
//! bytes (see "Buffer sizes" in [`crate::io`]). The async calls wait instead, and wake the
//! other end's task when they make room or bring bytes.
//!
//! [`PipeEnd::close`] (or dropping an end) closes both directions: the other end reads the
//! bytes still in the pipe, then the end of the stream (`Ok(0)`, which the drivers report as
//! [`crate::io::DriverError::Closed`]); writing into a closed pipe is [`PipeError::Closed`].

use core::cell::RefCell;
use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll, Waker};

use heapless::Deque;

/// One direction of a [`Pipe`].
struct Channel<const N: usize> {
    bytes: Deque<u8, N>,
    closed: bool,
    /// The task waiting to read, woken when bytes arrive or the pipe closes.
    reader: Option<Waker>,
    /// The task waiting to write, woken when room is made or the pipe closes.
    writer: Option<Waker>,
}

impl<const N: usize> Channel<N> {
    const fn new() -> Self {
        Channel {
            bytes: Deque::new(),
            closed: false,
            reader: None,
            writer: None,
        }
    }
}

/// Remembers `cx`'s waker in `slot` (once: a task polled again with the same waker is not
/// cloned again).
fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// Two byte channels, one each way, of `N` bytes each. [`Pipe::split`] hands out the two
/// connected ends.
///
/// The pipe lives where the caller puts it (a local, a `static` cell); the ends borrow it.
pub struct Pipe<const N: usize> {
    a_to_b: RefCell<Channel<N>>,
    b_to_a: RefCell<Channel<N>>,
}

impl<const N: usize> Pipe<N> {
    /// An empty, open pipe.
    pub const fn new() -> Self {
        Pipe {
            a_to_b: RefCell::new(Channel::new()),
            b_to_a: RefCell::new(Channel::new()),
        }
    }

    /// The two ends: what the first writes the second reads, and the other way round.
    pub fn split(&mut self) -> (PipeEnd<'_, N>, PipeEnd<'_, N>) {
        let this = &*self;
        (
            PipeEnd {
                rx: &this.b_to_a,
                tx: &this.a_to_b,
            },
            PipeEnd {
                rx: &this.a_to_b,
                tx: &this.b_to_a,
            },
        )
    }
}

impl<const N: usize> Default for Pipe<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a call on a [`PipeEnd`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PipeError {
    /// A blocking read found no bytes and the pipe is still open (a real port would block).
    /// Ask `read_ready` first.
    Empty,
    /// A blocking write found the pipe full: the other end has not read what was written (a
    /// real port would block). Read on the other end, or make the pipe larger.
    Full,
    /// The pipe was closed: nothing more can be written.
    Closed,
    /// The other end is inside a call on the same pipe (only possible when a call re-enters
    /// the pipe, e.g. from a waker); try again.
    Busy,
}

impl fmt::Display for PipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PipeError::Empty => "pipe empty: nothing to read yet",
            PipeError::Full => "pipe full: the other end has not read what was written",
            PipeError::Closed => "pipe closed",
            PipeError::Busy => "pipe in use by a call on the other end",
        })
    }
}

impl core::error::Error for PipeError {}

impl embedded_io::Error for PipeError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            PipeError::Full => embedded_io::ErrorKind::WriteZero,
            PipeError::Closed => embedded_io::ErrorKind::BrokenPipe,
            PipeError::Empty | PipeError::Busy => embedded_io::ErrorKind::Other,
        }
    }
}

/// One end of a [`Pipe`]: a byte port, as a UART or a socket would be.
pub struct PipeEnd<'a, const N: usize> {
    rx: &'a RefCell<Channel<N>>,
    tx: &'a RefCell<Channel<N>>,
}

impl<const N: usize> PipeEnd<'_, N> {
    /// Closes the pipe both ways: the other end reads what is left, then the end of the
    /// stream; writes fail with [`PipeError::Closed`].
    pub fn close(&mut self) {
        for channel in [self.rx, self.tx] {
            let (reader, writer) = match channel.try_borrow_mut() {
                Ok(mut c) => {
                    c.closed = true;
                    (c.reader.take(), c.writer.take())
                }
                Err(_) => (None, None),
            };
            for waker in [reader, writer].into_iter().flatten() {
                waker.wake();
            }
        }
    }

    /// Bytes waiting to be read at this end.
    pub fn available(&self) -> usize {
        self.rx.try_borrow().map_or(0, |c| c.bytes.len())
    }

    /// Takes what `buf` can hold; `Poll::Pending` (with `cx`'s waker kept) when the pipe is
    /// empty and open, or `Err(Empty)` when there is no `cx` to wake.
    fn take(&self, buf: &mut [u8], cx: Option<&Context<'_>>) -> Poll<Result<usize, PipeError>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Ok(mut c) = self.rx.try_borrow_mut() else {
            return Poll::Ready(Err(PipeError::Busy));
        };
        let mut n = 0;
        for slot in buf.iter_mut() {
            let Some(b) = c.bytes.pop_front() else { break };
            *slot = b;
            n += 1;
        }
        if n == 0 {
            if c.closed {
                return Poll::Ready(Ok(0));
            }
            return match cx {
                Some(cx) => {
                    register(&mut c.reader, cx);
                    Poll::Pending
                }
                None => Poll::Ready(Err(PipeError::Empty)),
            };
        }
        let writer = c.writer.take();
        drop(c);
        if let Some(w) = writer {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    /// Puts what fits of `buf`; `Poll::Pending` (with `cx`'s waker kept) when the pipe is
    /// full, or `Err(Full)` when there is no `cx` to wake.
    fn put(&self, buf: &[u8], cx: Option<&Context<'_>>) -> Poll<Result<usize, PipeError>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Ok(mut c) = self.tx.try_borrow_mut() else {
            return Poll::Ready(Err(PipeError::Busy));
        };
        if c.closed {
            return Poll::Ready(Err(PipeError::Closed));
        }
        let mut n = 0;
        for &b in buf {
            if c.bytes.push_back(b).is_err() {
                break;
            }
            n += 1;
        }
        if n == 0 {
            return match cx {
                Some(cx) => {
                    register(&mut c.writer, cx);
                    Poll::Pending
                }
                None => Poll::Ready(Err(PipeError::Full)),
            };
        }
        let reader = c.reader.take();
        drop(c);
        if let Some(w) = reader {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl<const N: usize> Drop for PipeEnd<'_, N> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<const N: usize> embedded_io::ErrorType for PipeEnd<'_, N> {
    type Error = PipeError;
}

impl<const N: usize> embedded_io::Read for PipeEnd<'_, N> {
    /// Reads what is there; [`PipeError::Empty`] rather than blocking when nothing is.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, PipeError> {
        match self.take(buf, None) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(PipeError::Empty),
        }
    }
}

impl<const N: usize> embedded_io::ReadReady for PipeEnd<'_, N> {
    /// Bytes are waiting, or the pipe is closed (a read returns the end of the stream).
    fn read_ready(&mut self) -> Result<bool, PipeError> {
        let c = self.rx.try_borrow().map_err(|_| PipeError::Busy)?;
        Ok(!c.bytes.is_empty() || c.closed)
    }
}

impl<const N: usize> embedded_io::Write for PipeEnd<'_, N> {
    /// Writes what fits; [`PipeError::Full`] rather than blocking when nothing does.
    fn write(&mut self, buf: &[u8]) -> Result<usize, PipeError> {
        match self.put(buf, None) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(PipeError::Full),
        }
    }

    fn flush(&mut self) -> Result<(), PipeError> {
        Ok(())
    }
}

impl<const N: usize> embedded_io::WriteReady for PipeEnd<'_, N> {
    /// There is room for at least one byte (or the pipe is closed: a write fails at once).
    fn write_ready(&mut self) -> Result<bool, PipeError> {
        let c = self.tx.try_borrow().map_err(|_| PipeError::Busy)?;
        Ok(!c.bytes.is_full() || c.closed)
    }
}

impl<const N: usize> embedded_io_async::Read for PipeEnd<'_, N> {
    /// Waits until there are bytes (or the pipe closes). Cancel-safe: bytes are only taken
    /// when the read completes.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, PipeError> {
        poll_fn(|cx| self.take(buf, Some(cx))).await
    }
}

impl<const N: usize> embedded_io_async::Write for PipeEnd<'_, N> {
    /// Waits until there is room for at least one byte.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, PipeError> {
        poll_fn(|cx| self.put(buf, Some(cx))).await
    }

    async fn flush(&mut self) -> Result<(), PipeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use core::pin::pin;
    use core::task::Waker;

    use embedded_io::{Read, ReadReady, Write, WriteReady};

    use super::*;

    #[test]
    fn bytes_cross_each_way_and_fill_up() {
        let mut pipe = Pipe::<4>::new();
        let (mut a, mut b) = pipe.split();
        assert!(!b.read_ready().unwrap());
        assert_eq!(b.read(&mut [0; 4]), Err(PipeError::Empty));
        assert_eq!(a.write(b"abcdef"), Ok(4), "a partial write: what fits");
        assert!(!a.write_ready().unwrap());
        assert_eq!(a.write(b"ef"), Err(PipeError::Full));
        assert_eq!(b.available(), 4);
        let mut buf = [0u8; 3];
        assert_eq!(b.read(&mut buf), Ok(3));
        assert_eq!(&buf, b"abc");
        assert_eq!(a.write(b"ef"), Ok(2));
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf), Ok(3));
        assert_eq!(&buf[..3], b"def");
        b.write_all(b"xy").unwrap();
        assert_eq!(a.read(&mut buf), Ok(2));
        assert_eq!(&buf[..2], b"xy");
        assert_eq!(a.read(&mut []), Ok(0));
    }

    #[test]
    fn close_ends_the_stream_after_the_last_bytes() {
        let mut pipe = Pipe::<8>::new();
        let (mut a, mut b) = pipe.split();
        a.write_all(b"hi").unwrap();
        a.close();
        assert_eq!(a.write(b"x"), Err(PipeError::Closed));
        assert_eq!(b.write(b"x"), Err(PipeError::Closed));
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf), Ok(2));
        assert!(b.read_ready().unwrap());
        assert_eq!(b.read(&mut buf), Ok(0), "end of stream");
        drop(a);
        assert_eq!(b.read(&mut buf), Ok(0));
    }

    #[test]
    fn dropping_an_end_closes_the_pipe() {
        let mut pipe = Pipe::<8>::new();
        let (a, mut b) = pipe.split();
        drop(a);
        assert_eq!(b.read(&mut [0; 1]), Ok(0));
    }

    #[test]
    fn async_read_waits_for_the_writer_and_write_waits_for_room() {
        let mut pipe = Pipe::<2>::new();
        let (mut a, mut b) = pipe.split();
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = [0u8; 4];
        {
            let mut read = pin!(embedded_io_async::Read::read(&mut b, &mut buf));
            assert!(read.as_mut().poll(&mut cx).is_pending());
            a.write_all(b"ok").unwrap();
            assert_eq!(read.as_mut().poll(&mut cx), Poll::Ready(Ok(2)));
        }
        assert_eq!(&buf[..2], b"ok");
        a.write_all(b"12").unwrap();
        {
            let mut write = pin!(embedded_io_async::Write::write(&mut a, b"3"));
            assert!(write.as_mut().poll(&mut cx).is_pending(), "full");
            assert_eq!(b.read(&mut buf[..1]), Ok(1));
            assert_eq!(write.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
        }
        assert_eq!(b.read(&mut buf), Ok(2));
        assert_eq!(&buf[..2], b"23");
    }
}
