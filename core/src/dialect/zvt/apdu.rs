//! ZVT APDUs: `class instr length data` (PA00P015, chapter 1 "APDU structure").
//!
//! Byte layout (offsets from the APDU start):
//! - `0`: class byte (CCRC for a command, e.g. `06`; `80` for an acknowledgement, `84` for a
//!   negative one)
//! - `1`: instruction byte (APRC, e.g. `00` registration, `01` authorisation)
//! - `2`: length of the data, `00`..`FE`; or `FF` followed by the length in two bytes,
//!   little-endian (low byte first), for data of 255 bytes or more.
//! - then the data.
//!
//! The parser also accepts a two-byte length below 255 (not the minimal form); the emitter
//! always writes the minimal form.
//!
//! A captured example (EVerest/zvt, `zvt/data/1680728215.585561000_pt_ecr.blob`): a print
//! text block starts `06 D3 FF 61 04`, i.e. 0x0461 = 1121 data bytes.

use crate::{Error, Result};

/// The length byte that announces a two-byte little-endian length.
pub const EXTENDED_LENGTH: u8 = 0xFF;

/// The largest data length an APDU can carry (two length bytes).
pub const MAX_DATA: usize = u16::MAX as usize;

/// One APDU, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Apdu<'a> {
    /// Class byte (first byte of the control field).
    pub class: u8,
    /// Instruction byte (second byte of the control field).
    pub instr: u8,
    /// The data after the length field.
    pub data: &'a [u8],
}

/// What [`Apdu::parse`] found at the start of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum ApduStatus<'a> {
    /// A complete APDU, and the bytes it took from the input.
    Complete(Apdu<'a>, usize),
    /// The input ends inside an APDU; at least this many more bytes are needed.
    NeedMore(usize),
}

/// Bytes of the length field for `len` data bytes: one, or three from 255 on.
pub const fn length_field_len(len: usize) -> usize {
    if len < EXTENDED_LENGTH as usize { 1 } else { 3 }
}

impl<'a> Apdu<'a> {
    /// An APDU over `data`.
    pub const fn new(class: u8, instr: u8, data: &'a [u8]) -> Self {
        Apdu { class, instr, data }
    }

    /// Reads the APDU at the start of `input`. Data longer than `max_data` bytes is
    /// [`Error::ZvtApduLength`] (a receiver with a fixed buffer says what it holds; pass
    /// [`MAX_DATA`] for no limit). Bytes after the APDU are left for the next call.
    pub fn parse(input: &'a [u8], max_data: usize) -> Result<ApduStatus<'a>> {
        let Some((&[class, instr, l0], rest)) = input.split_first_chunk::<3>() else {
            return Ok(ApduStatus::NeedMore(3 - input.len()));
        };
        let (len, header, rest) = if l0 == EXTENDED_LENGTH {
            let Some((&ext, rest)) = rest.split_first_chunk::<2>() else {
                return Ok(ApduStatus::NeedMore(5 - input.len()));
            };
            (usize::from(u16::from_le_bytes(ext)), 5, rest)
        } else {
            (usize::from(l0), 3, rest)
        };
        if len > max_data {
            return Err(Error::ZvtApduLength { len: len as u16 });
        }
        match rest.get(..len) {
            Some(data) => Ok(ApduStatus::Complete(
                Apdu { class, instr, data },
                header + len,
            )),
            None => Ok(ApduStatus::NeedMore(len - rest.len())),
        }
    }

    /// Reads one complete APDU that fills `input` exactly (a captured frame, a TCP read
    /// already split). Errors: [`Error::Truncated`] when it is incomplete; bytes after it are
    /// [`Error::ZvtApduLength`] with the length it declares.
    pub fn parse_exact(input: &'a [u8]) -> Result<Self> {
        match Apdu::parse(input, MAX_DATA)? {
            ApduStatus::Complete(apdu, used) if used == input.len() => Ok(apdu),
            ApduStatus::Complete(apdu, _) => Err(Error::ZvtApduLength {
                len: apdu.data.len() as u16,
            }),
            ApduStatus::NeedMore(_) => Err(Error::Truncated { what: "zvt apdu" }),
        }
    }

    /// Bytes [`Apdu::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        2 + length_field_len(self.data.len()) + self.data.len()
    }

    /// Writes the APDU into `out` and returns its length. Data above [`MAX_DATA`] is
    /// [`Error::ZvtApduLength`]; an `out` too small is [`Error::BufferTooSmall`] and is left
    /// untouched.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.data.len();
        let Ok(len16) = u16::try_from(len) else {
            return Err(Error::ZvtApduLength { len: u16::MAX });
        };
        let needed = self.encoded_len();
        let frame = out
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        let (head, body) = frame.split_at_mut(needed - len);
        match head {
            [c, i, l] => {
                *c = self.class;
                *i = self.instr;
                *l = len as u8;
            }
            [c, i, l, lo, hi] => {
                *c = self.class;
                *i = self.instr;
                *l = EXTENDED_LENGTH;
                [*lo, *hi] = len16.to_le_bytes();
            }
            _ => return Err(Error::BufferTooSmall { needed }),
        }
        body.copy_from_slice(self.data);
        Ok(needed)
    }
}

/// Writes the APDU header for `len` data bytes at the start of `out` and returns its length
/// (the data follows). Used by the message emitters, which write the data in place.
pub(crate) fn emit_header(class: u8, instr: u8, len: usize, out: &mut [u8]) -> Result<usize> {
    let Ok(len16) = u16::try_from(len) else {
        return Err(Error::ZvtApduLength { len: u16::MAX });
    };
    let n = 2 + length_field_len(len);
    match out.get_mut(..n) {
        Some([c, i, l]) => {
            *c = class;
            *i = instr;
            *l = len as u8;
        }
        Some([c, i, l, lo, hi]) => {
            *c = class;
            *i = instr;
            *l = EXTENDED_LENGTH;
            [*lo, *hi] = len16.to_le_bytes();
        }
        _ => return Err(Error::BufferTooSmall { needed: n + len }),
    }
    Ok(n)
}

/// A fixed-capacity APDU accumulator for a byte stream (TCP): feed it bytes as they arrive,
/// in any split, and it yields complete APDUs.
///
/// Promises: it never panics and never holds more than `N` bytes. It accepts APDUs of at
/// most `N − 5` data bytes (room for the longest header); one whose header declares more is
/// [`Error::ZvtApduLength`] once, and its declared data is skipped, so the stream stays in
/// step.
#[derive(Debug)]
pub struct ApduAccumulator<const N: usize> {
    buf: heapless::Vec<u8, N>,
    /// Bytes of an over-long APDU still to skip.
    skip: usize,
    delivered: bool,
}

impl<const N: usize> Default for ApduAccumulator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ApduAccumulator<N> {
    /// An empty accumulator.
    pub const fn new() -> Self {
        ApduAccumulator {
            buf: heapless::Vec::new(),
            skip: 0,
            delivered: false,
        }
    }

    /// Whether an APDU is partly received (for an inter-byte timeout).
    pub fn in_apdu(&self) -> bool {
        !self.buf.is_empty() && !self.delivered || self.skip > 0
    }

    /// Drops any partial APDU.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.skip = 0;
        self.delivered = false;
    }

    /// Consumes bytes from `input` up to the end of the first complete APDU and returns it
    /// (`None`: all input consumed, nothing complete yet) with the number of bytes consumed.
    /// Call again with the rest; an error also reports its consumed count.
    pub fn feed<'a>(&'a mut self, input: &[u8]) -> (Result<Option<Apdu<'a>>>, usize) {
        if self.delivered {
            self.buf.clear();
            self.delivered = false;
        }
        let mut used = 0;
        if self.skip > 0 {
            let n = self.skip.min(input.len());
            self.skip -= n;
            used = n;
        }
        let mut rest = input.get(used..).unwrap_or_default();
        loop {
            // How many more bytes the APDU needs, as far as the buffer tells.
            let want = match Apdu::parse(&self.buf, N.saturating_sub(5)) {
                Ok(ApduStatus::Complete(..)) => 0,
                Ok(ApduStatus::NeedMore(k)) => k,
                Err(e) => {
                    // Over-long: skip what the header declares beyond the buffered bytes.
                    let declared = match self.buf.as_slice() {
                        [_, _, EXTENDED_LENGTH, lo, hi] => {
                            5 + usize::from(u16::from_le_bytes([*lo, *hi]))
                        }
                        [_, _, l, ..] => 3 + usize::from(*l),
                        _ => self.buf.len(),
                    };
                    self.skip = declared.saturating_sub(self.buf.len());
                    self.buf.clear();
                    let n = self.skip.min(rest.len());
                    self.skip -= n;
                    return (Err(e), used + n);
                }
            };
            if want == 0 {
                self.delivered = true;
                return match Apdu::parse(&self.buf, N) {
                    Ok(ApduStatus::Complete(apdu, _)) => (Ok(Some(apdu)), used),
                    _ => (Ok(None), used),
                };
            }
            let take = want.min(rest.len());
            let (now, later) = rest.split_at(take);
            if self.buf.extend_from_slice(now).is_err() {
                // Cannot happen: the parse above bounds the APDU by N.
                self.buf.clear();
                return (
                    Err(Error::CapacityExceeded { what: "zvt apdu" }),
                    used + take,
                );
            }
            used += take;
            rest = later;
            if take < want {
                return (Ok(None), used);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_minimal_extended_length_is_accepted() {
        // Found by the zvt_parse fuzz target: FF 03 00 declares 3 data bytes in 5 header bytes.
        let b = [0x06, 0x50, 0xFF, 0x03, 0x00, 0x12, 0x34, 0x56];
        assert_eq!(
            Apdu::parse(&b, MAX_DATA).unwrap(),
            ApduStatus::Complete(Apdu::new(0x06, 0x50, &b[5..]), 8)
        );
        let mut out = [0u8; 8];
        assert_eq!(Apdu::new(0x06, 0x50, &b[5..]).emit(&mut out).unwrap(), 6);
        assert_eq!(out[..6], [0x06, 0x50, 0x03, 0x12, 0x34, 0x56]);
    }
}
