//! TCP framing of the acquirer link: every message is preceded by its length as 2 bytes,
//! big-endian (the length counts the message only, not the prefix).
//!
//! [`Accumulator`] takes bytes as they arrive, in any split, and yields whole messages. It
//! holds at most `N` bytes ([`MAX_MESSAGE_LEN`] by default): a prefix announcing more is
//! [`Error::IsoFrameLength`], and the announced bytes are skipped so the stream stays in step.
//! A zero length (some hosts send `00 00` as a keep-alive) is skipped and counted.

use heapless::Vec;

use crate::{Error, Result};

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 2;

/// The default (and largest useful) message capacity: 1024 bytes. Every message
/// [`super::IsoMessage`] can hold is at most 896 bytes.
pub const MAX_MESSAGE_LEN: usize = super::IsoMessage::MAX_LEN;

/// The 2-byte big-endian prefix for a message of `len` bytes; above 65535 is
/// [`Error::IsoFrameLength`].
pub fn prefix(len: usize) -> Result<[u8; PREFIX_LEN]> {
    u16::try_from(len)
        .map(u16::to_be_bytes)
        .map_err(|_| Error::IsoFrameLength { len: u16::MAX })
}

/// Writes prefix and `message` into `out`; returns the bytes written. A short `out` is
/// [`Error::BufferTooSmall`] and is left untouched.
pub fn encode(message: &[u8], out: &mut [u8]) -> Result<usize> {
    let p = prefix(message.len())?;
    let needed = PREFIX_LEN + message.len();
    let dst = out
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed })?;
    let (head, body) = dst.split_at_mut(PREFIX_LEN);
    head.copy_from_slice(&p);
    body.copy_from_slice(message);
    Ok(needed)
}

/// What one call to [`Accumulator::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Feed<'a> {
    /// All input was consumed; no message is complete yet.
    NeedMore,
    /// A whole message (without its prefix), valid until the next call.
    Message(&'a [u8]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the prefix; holds its first byte once it came.
    Prefix(Option<u8>),
    /// Reading a message of this many bytes.
    Body(usize),
    /// Skipping this many bytes of an over-long message.
    Skip(usize),
}

/// Accumulates length-prefixed messages of at most `N` bytes.
#[derive(Debug)]
pub struct Accumulator<const N: usize = MAX_MESSAGE_LEN> {
    buf: Vec<u8, N>,
    state: State,
    delivered: bool,
    keepalives: u64,
}

impl<const N: usize> Default for Accumulator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Accumulator<N> {
    /// An empty accumulator.
    pub const fn new() -> Self {
        Accumulator {
            buf: Vec::new(),
            state: State::Prefix(None),
            delivered: false,
            keepalives: 0,
        }
    }

    /// Zero-length frames skipped so far.
    pub fn keepalives(&self) -> u64 {
        self.keepalives
    }

    /// Whether a message is partly received.
    pub fn in_message(&self) -> bool {
        self.state != State::Prefix(None)
    }

    /// Drops any partial message (after a reconnect).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.state = State::Prefix(None);
        self.delivered = false;
    }

    /// Consumes bytes from `input` up to the end of the first complete message and returns
    /// it with the number of bytes consumed; call again with the rest. An error (over-long
    /// prefix) reports its consumed count too, and the accumulator stays usable. A call on
    /// non-empty input always consumes at least one byte.
    pub fn feed<'a>(&'a mut self, input: &[u8]) -> (Result<Feed<'a>>, usize) {
        if self.delivered {
            self.buf.clear();
            self.delivered = false;
        }
        let mut used = 0;
        while used < input.len() {
            let rest = input.get(used..).unwrap_or_default();
            match self.state {
                State::Prefix(None) => {
                    self.state = State::Prefix(rest.first().copied());
                    used += 1;
                }
                State::Prefix(Some(hi)) => {
                    let lo = rest.first().copied().unwrap_or(0);
                    used += 1;
                    let len = u16::from_be_bytes([hi, lo]);
                    let n = usize::from(len);
                    if n == 0 {
                        self.keepalives += 1;
                        self.state = State::Prefix(None);
                    } else if n > N {
                        self.state = State::Skip(n);
                        return (Err(Error::IsoFrameLength { len }), used);
                    } else {
                        self.buf.clear();
                        self.state = State::Body(n);
                    }
                }
                State::Body(n) => {
                    let want = n - self.buf.len();
                    let take = want.min(rest.len());
                    let chunk = rest.get(..take).unwrap_or_default();
                    if self.buf.extend_from_slice(chunk).is_err() {
                        // Cannot happen: n <= N was checked; recover rather than panic.
                        self.reset();
                        return (Err(Error::IsoFrameLength { len: n as u16 }), used + take);
                    }
                    used += take;
                    if self.buf.len() == n {
                        self.state = State::Prefix(None);
                        self.delivered = true;
                        return (Ok(Feed::Message(&self.buf)), used);
                    }
                }
                State::Skip(n) => {
                    let take = n.min(rest.len());
                    used += take;
                    self.state = if take == n {
                        State::Prefix(None)
                    } else {
                        State::Skip(n - take)
                    };
                }
            }
        }
        (Ok(Feed::NeedMore), used)
    }
}
