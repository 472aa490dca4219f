//! The ZVT serial transport (PA00P016): `DLE STX apdu DLE ETX crc-lo crc-hi`, with every DLE
//! inside the APDU doubled, and the one-byte answers ACK (`06`) and NAK (`15`).
//!
//! The CRC is CRC-16/CCITT in its reflected form (polynomial 0x1021, processed LSB first as
//! 0x8408, initial value 0, no final XOR; the catalogue name is CRC-16/KERMIT), computed over
//! the APDU *before* DLE doubling followed by the ETX byte, and sent low byte first. Sources
//! that agree on every one of these points: Portalum.Zvt `src/Portalum.Zvt/Helpers/ChecksumHelper.cs`
//! and `SerialPortDeviceCommunication.cs`, and the Python `ecrterm` (`crc.py`,
//! `transmission/transport_serial.py`), both written from PA00P016.
//!
//! This module is the framer only: [`encode_frame`] and the [`SerialAccumulator`] that turns
//! bytes as they arrive into ACK, NAK and checked APDUs. Retransmission after a NAK or a
//! missing ACK belongs to the session above it.

use heapless::Vec;

use crate::{Error, Result};

/// Data link escape.
pub const DLE: u8 = 0x10;
/// Start of text (after DLE).
pub const STX: u8 = 0x02;
/// End of text (after DLE).
pub const ETX: u8 = 0x03;
/// Positive acknowledgement of a frame.
pub const ACK: u8 = 0x06;
/// Negative acknowledgement of a frame (bad CRC): the sender repeats it.
pub const NAK: u8 = 0x15;

/// CRC-16/KERMIT: reflected CCITT polynomial (0x8408), initial value 0, no final XOR, bit by
/// bit (no table: the core runs on microcontrollers with little flash).
pub fn crc16_update(mut crc: u16, bytes: &[u8]) -> u16 {
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// The frame CRC of `apdu`: over its bytes and then ETX.
pub fn frame_crc(apdu: &[u8]) -> u16 {
    crc16_update(crc16_update(0, apdu), &[ETX])
}

/// Bytes [`encode_frame`] writes for `apdu`.
pub fn frame_len(apdu: &[u8]) -> usize {
    6 + apdu.len() + apdu.iter().filter(|&&b| b == DLE).count()
}

/// Writes `DLE STX apdu DLE ETX crc-lo crc-hi` into `out`, doubling each DLE of `apdu`, and
/// returns the frame length. An `out` too small is [`Error::BufferTooSmall`] and is left
/// untouched.
pub fn encode_frame(apdu: &[u8], out: &mut [u8]) -> Result<usize> {
    let needed = frame_len(apdu);
    let frame = out
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed })?;
    let crc = frame_crc(apdu).to_le_bytes();
    let escaped = apdu.iter().flat_map(|&b| {
        let twice = b == DLE;
        core::iter::once(b).chain(twice.then_some(DLE))
    });
    let all = [DLE, STX]
        .into_iter()
        .chain(escaped)
        .chain([DLE, ETX])
        .chain(crc);
    for (slot, b) in frame.iter_mut().zip(all) {
        *slot = b;
    }
    Ok(needed)
}

/// What one call to [`SerialAccumulator::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum SerialFeed<'a> {
    /// All input was consumed and nothing is complete yet.
    NeedMore,
    /// An ACK byte outside a frame.
    Ack,
    /// A NAK byte outside a frame.
    Nak,
    /// A complete frame whose CRC matched: the APDU, DLE doubling removed. Answer it with
    /// [`ACK`].
    Frame(&'a [u8]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between frames.
    Idle,
    /// A DLE between frames: STX starts a frame.
    IdleDle,
    /// Inside a frame.
    Data,
    /// A DLE inside a frame: DLE (data), ETX (end) or STX (a new frame).
    DataDle,
    /// After DLE ETX: the CRC's low byte.
    CrcLo,
    /// The CRC's high byte.
    CrcHi(u8),
    /// Skipping an over-long frame up to its DLE ETX and CRC.
    Skip,
    /// A DLE while skipping.
    SkipDle,
    /// Skipping the CRC of an over-long frame: bytes left.
    SkipCrc(u8),
}

/// Accumulates serial frames of APDUs of at most `N` bytes (after DLE doubling is removed).
///
/// Promises: it never panics and never holds more than `N` bytes. A frame longer than `N` is
/// [`Error::ZvtFrame`] once, and is skipped to its end. A DLE inside a frame followed by a
/// byte other than DLE, ETX or STX is [`Error::ZvtFrame`] (the frame is dropped); a DLE STX
/// inside a frame abandons it with [`Error::ZvtFrame`] and starts a new one. A CRC mismatch
/// is [`Error::ZvtCrc`]: answer it with [`NAK`]. Bytes between frames other than ACK, NAK and
/// DLE STX are skipped and counted in [`SerialAccumulator::discarded`].
#[derive(Debug)]
pub struct SerialAccumulator<const N: usize> {
    buf: Vec<u8, N>,
    state: State,
    delivered: bool,
    discarded: u64,
}

impl<const N: usize> Default for SerialAccumulator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SerialAccumulator<N> {
    /// An empty accumulator.
    pub const fn new() -> Self {
        SerialAccumulator {
            buf: Vec::new(),
            state: State::Idle,
            delivered: false,
            discarded: 0,
        }
    }

    /// Bytes skipped between frames.
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// Whether a frame is partly received (for an inter-byte timeout).
    pub fn in_frame(&self) -> bool {
        !matches!(self.state, State::Idle | State::IdleDle)
    }

    /// Drops any partial frame.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.state = State::Idle;
        self.delivered = false;
    }

    fn start(&mut self) {
        self.buf.clear();
        self.state = State::Data;
    }

    fn push(&mut self, b: u8) -> Result<()> {
        if self.buf.push(b).is_err() {
            self.buf.clear();
            self.state = State::Skip;
            return Err(Error::ZvtFrame);
        }
        self.state = State::Data;
        Ok(())
    }

    /// Consumes bytes from `input` up to and including the first complete item and returns it
    /// with the number of bytes consumed. Call again with the rest until all is consumed; an
    /// error also reports its consumed count, and the accumulator stays usable.
    pub fn feed<'a>(&'a mut self, input: &[u8]) -> (Result<SerialFeed<'a>>, usize) {
        if self.delivered {
            self.buf.clear();
            self.delivered = false;
        }
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Data {
                // Fast path: the run of bytes up to the next DLE is frame data, copied at once.
                let rest = input.get(i..).unwrap_or_default();
                let run = rest.iter().position(|&b| b == DLE).unwrap_or(rest.len());
                if run > 0 {
                    let room = N - self.buf.len();
                    if run > room {
                        // As byte by byte: the first byte that does not fit ends the frame.
                        self.buf.clear();
                        self.state = State::Skip;
                        return (Err(Error::ZvtFrame), i + room + 1);
                    }
                    let _ = self
                        .buf
                        .extend_from_slice(rest.get(..run).unwrap_or_default());
                    i += run;
                    continue;
                }
            }
            let Some(&b) = input.get(i) else { break };
            i += 1;
            match self.state {
                State::Idle => match b {
                    ACK => return (Ok(SerialFeed::Ack), i),
                    NAK => return (Ok(SerialFeed::Nak), i),
                    DLE => self.state = State::IdleDle,
                    _ => self.discarded += 1,
                },
                State::IdleDle => match b {
                    STX => self.start(),
                    DLE => self.discarded += 1,
                    _ => {
                        self.discarded += 2;
                        self.state = State::Idle;
                    }
                },
                State::Data => {
                    if b == DLE {
                        self.state = State::DataDle;
                    } else if let Err(e) = self.push(b) {
                        return (Err(e), i);
                    }
                }
                State::DataDle => match b {
                    DLE => {
                        if let Err(e) = self.push(DLE) {
                            return (Err(e), i);
                        }
                    }
                    ETX => self.state = State::CrcLo,
                    STX => {
                        self.start();
                        return (Err(Error::ZvtFrame), i);
                    }
                    _ => {
                        self.buf.clear();
                        self.state = State::Idle;
                        return (Err(Error::ZvtFrame), i);
                    }
                },
                State::CrcLo => self.state = State::CrcHi(b),
                State::CrcHi(lo) => {
                    self.state = State::Idle;
                    let received = u16::from_le_bytes([lo, b]);
                    let computed = frame_crc(&self.buf);
                    if computed != received {
                        self.buf.clear();
                        return (Err(Error::ZvtCrc { computed, received }), i);
                    }
                    self.delivered = true;
                    return (Ok(SerialFeed::Frame(&self.buf)), i);
                }
                State::Skip => {
                    if b == DLE {
                        self.state = State::SkipDle;
                    }
                }
                State::SkipDle => {
                    self.state = match b {
                        ETX => State::SkipCrc(2),
                        STX => {
                            self.start();
                            State::Data
                        }
                        _ => State::Skip,
                    }
                }
                State::SkipCrc(left) => {
                    self.state = if left > 1 {
                        State::SkipCrc(left - 1)
                    } else {
                        State::Idle
                    };
                }
            }
        }
        (Ok(SerialFeed::NeedMore), i)
    }
}

#[cfg(test)]
mod feed_tests {
    use super::*;

    /// Everything `feed` reports for `stream` given in pieces of `piece` bytes: each result
    /// (frames as their bytes) in order.
    fn results<const N: usize>(stream: &[u8], piece: usize) -> std::vec::Vec<std::string::String> {
        let mut acc = SerialAccumulator::<N>::new();
        let mut out = std::vec::Vec::new();
        for chunk in stream.chunks(piece) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let (r, used) = acc.feed(rest);
                assert!(used > 0 && used <= rest.len());
                match r {
                    Ok(SerialFeed::NeedMore) => {}
                    other => out.push(std::format!("{other:?}")),
                }
                rest = &rest[used..];
            }
        }
        out
    }

    fn frame(apdu: &[u8]) -> std::vec::Vec<u8> {
        let mut f = std::vec![0u8; frame_len(apdu)];
        let n = encode_frame(apdu, &mut f).unwrap();
        f.truncate(n);
        f
    }

    /// The run-at-once copy of frame data gives exactly what byte-by-byte reading gives, for
    /// frames with doubled DLEs, an over-long frame (cut at the byte that does not fit),
    /// noise, ACK/NAK between frames and a damaged CRC.
    #[test]
    fn whole_reads_and_byte_reads_agree() {
        let mut stream = std::vec::Vec::new();
        stream.extend(frame(&[0x06, 0x01, 0x03, 0x10, 0x10, 0x42]));
        stream.push(ACK);
        stream.extend(frame(&[0x80, 0x00, 0x00]));
        stream.extend([0x33, 0x10, 0x44, NAK]);
        let long: std::vec::Vec<u8> = (0..40u8)
            .map(|i| if i % 9 == 0 { DLE } else { i })
            .collect();
        stream.extend(frame(&long));
        // An over-long frame whose overflow falls inside a run without DLE.
        let run: std::vec::Vec<u8> = (0..40u8)
            .map(|i| if i == 3 { DLE } else { 0x20 + i })
            .collect();
        stream.extend(frame(&run));
        let mut bad = frame(&[0x04, 0x0F, 0x02, 0x27, 0x00]);
        let last = bad.len() - 1;
        bad[last] ^= 0x55;
        stream.extend(bad);
        stream.extend(frame(&[0x06, 0x0F, 0x00]));
        let reference = results::<16>(&stream, 1);
        assert!(
            reference.iter().any(|r| r.contains("ZvtFrame")),
            "{reference:?}"
        );
        assert!(
            reference.iter().any(|r| r.contains("ZvtCrc")),
            "{reference:?}"
        );
        for piece in [2, 3, 7, 16, stream.len()] {
            assert_eq!(results::<16>(&stream, piece), reference, "reads of {piece}");
        }
    }
}
