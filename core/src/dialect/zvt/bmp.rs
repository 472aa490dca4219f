//! ZVT bitmaps (BMPs): a one-byte number followed by a value whose format the number fixes
//! (PA00P015, chapter "Bitmaps"; the lengths below are the specification's, as also listed by
//! the public clients Portalum.Zvt `Parsers/BmpParser.cs` and EVerest/zvt `zvt/src/packets.rs`).
//!
//! Formats:
//! - fixed binary or BCD values (`04` amount: 6 bytes BCD, 12 digits in minor units; `0B`
//!   trace: 3 bytes BCD; `27` result code: 1 byte; `29` terminal id: 4 bytes BCD; `49`
//!   currency: 2 bytes BCD, the ISO 4217 numeric code; `87` receipt number: 2 bytes BCD; …);
//! - LL-variables: two length bytes `F1 F0` = 10, each the digit in the low nibble with `F`
//!   above it, then that many bytes (`22` card number, `8B` card name, …);
//! - LLL-variables: three such bytes, `F0 F7 F0` = 70 (`3C` text, `60` single totals, …);
//! - `06`: the TLV container, its length in BER form (`< 80`, `81 nn`, `82 nn nn`), its
//!   content BER-TLV ([`crate::emv`] parses it).
//!
//! Digits of a BCD number are nibbles `0`–`9`. In a card number (`22`) `E` stands for a
//! masked digit and a trailing `F` pads an odd number of digits. The parser accepts a length
//! nibble of `0` as well as `F` above an LL/LLL digit (the `zvt` crate 0.1.0 writes `0`);
//! the emitter writes `F`.

use crate::{Error, Result, emv, num::div_rem_u64};

/// How a BMP's value is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Format {
    /// Exactly this many bytes.
    Fixed(u8),
    /// Two length digits, then the value.
    Ll,
    /// Three length digits, then the value.
    Lll,
    /// A BER length, then BER-TLV objects (BMP `06`).
    Tlv,
}

/// BMP numbers this codec names (PA00P015 chapter "Bitmaps").
pub mod number {
    /// Timeout in seconds, 1 byte.
    pub const TIMEOUT: u8 = 0x01;
    /// Maximum number of status information messages, 1 byte.
    pub const MAX_STATUS_INFOS: u8 = 0x02;
    /// Service byte, 1 byte, bit field.
    pub const SERVICE_BYTE: u8 = 0x03;
    /// Amount in minor units, 6 bytes BCD.
    pub const AMOUNT: u8 = 0x04;
    /// Pump number, 1 byte.
    pub const PUMP_NO: u8 = 0x05;
    /// TLV container.
    pub const TLV: u8 = 0x06;
    /// Trace number, 3 bytes BCD.
    pub const TRACE: u8 = 0x0B;
    /// Time HHMMSS, 3 bytes BCD.
    pub const TIME: u8 = 0x0C;
    /// Date MMDD, 2 bytes BCD.
    pub const DATE: u8 = 0x0D;
    /// Expiry date YYMM, 2 bytes BCD.
    pub const EXPIRY: u8 = 0x0E;
    /// Card sequence number, 2 bytes BCD.
    pub const CARD_SEQUENCE: u8 = 0x17;
    /// Status byte (registration) / payment type (authorisation) / card type, 1 byte.
    pub const PAYMENT_TYPE: u8 = 0x19;
    /// Card number (PAN), LL, BCD with `E` for masked digits and `F` padding.
    pub const CARD_NUMBER: u8 = 0x22;
    /// Track 2 data, LL. Never stored by this codec.
    pub const TRACK2: u8 = 0x23;
    /// Track 3 data, LLL. Never stored by this codec.
    pub const TRACK3: u8 = 0x24;
    /// Result code, 1 byte (chapter "Error messages").
    pub const RESULT_CODE: u8 = 0x27;
    /// Terminal identifier, 4 bytes BCD (8 digits).
    pub const TERMINAL_ID: u8 = 0x29;
    /// VU number (merchant number), 15 bytes.
    pub const VU_NUMBER: u8 = 0x2A;
    /// Track 1 data, LL. Never stored by this codec.
    pub const TRACK1: u8 = 0x2D;
    /// Trace number of the original transaction (reversal), 3 bytes BCD.
    pub const ORIGINAL_TRACE: u8 = 0x37;
    /// CVV/CVC, 2 bytes. Never stored by this codec.
    pub const CVV: u8 = 0x3A;
    /// AID authorisation attribute (approval code), 8 bytes.
    pub const AID: u8 = 0x3B;
    /// Additional text, LLL.
    pub const TEXT: u8 = 0x3C;
    /// Password, 3 bytes BCD.
    pub const PASSWORD: u8 = 0x3D;
    /// Currency code (ISO 4217 numeric), 2 bytes BCD.
    pub const CURRENCY: u8 = 0x49;
    /// Single (individual) totals, LLL.
    pub const SINGLE_TOTALS: u8 = 0x60;
    /// Receipt number, 2 bytes BCD.
    pub const RECEIPT_NO: u8 = 0x87;
    /// Turnover record number, 3 bytes BCD.
    pub const TURNOVER_NO: u8 = 0x88;
    /// ZVT card type, 1 byte.
    pub const ZVT_CARD_TYPE: u8 = 0x8A;
    /// Card name, LL.
    pub const CARD_NAME: u8 = 0x8B;
    /// Card type id of the network operator, 1 byte.
    pub const CARD_TYPE_ID: u8 = 0x8C;
    /// Result code of the authorisation system, 1 byte.
    pub const RESULT_CODE_AS: u8 = 0xA0;
    /// Date YYMMDD, 3 bytes BCD.
    pub const DATE_YYMMDD: u8 = 0xAA;
}

/// The format of BMP `bmp`, or `None` for a number this codec does not know (its length is
/// then unknown, so nothing after it can be read).
pub const fn format(bmp: u8) -> Option<Format> {
    use Format::*;
    Some(match bmp {
        0x01 | 0x02 | 0x03 | 0x05 | 0x19 | 0x27 | 0x8A | 0x8C | 0xA0 => Fixed(1),
        0x72..=0x75 | 0xD0 | 0xD2 | 0xD3 | 0xE0 | 0xE9 | 0xEA | 0xF0 | 0xF9..=0xFD => Fixed(1),
        0x04 => Fixed(6),
        0x06 => Tlv,
        0x0B | 0x0C | 0x37 | 0x88 | 0xAA | 0x3D => Fixed(3),
        0x0D | 0x0E | 0x17 | 0x3A | 0x49 | 0x87 => Fixed(2),
        0x29 | 0x70 | 0x71 => Fixed(4),
        0x2A => Fixed(15),
        0x3B | 0xEB => Fixed(8),
        0xBA => Fixed(5),
        0x22 | 0x23 | 0x2D | 0x2E | 0x8B | 0xA7 | 0xD1 | 0xE1..=0xE8 | 0xF1..=0xF8 => Ll,
        0x24 | 0x3C | 0x60 | 0x9A | 0xAF => Lll,
        _ => return None,
    })
}

/// One BMP read from the data: its number and value (for `06`, the TLV content without
/// its length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bmp<'a> {
    /// The BMP number.
    pub number: u8,
    /// The value bytes.
    pub value: &'a [u8],
}

/// Iterator over the BMPs of an APDU's data. Yields `Err` once on malformed data, then stops.
#[derive(Clone, Debug)]
pub struct BmpIter<'a> {
    rest: &'a [u8],
}

/// The BMPs in `data`.
pub fn iter(data: &[u8]) -> BmpIter<'_> {
    BmpIter { rest: data }
}

impl<'a> BmpIter<'a> {
    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    fn next_bmp(&mut self) -> Result<Option<Bmp<'a>>> {
        let Some((&number, rest)) = self.rest.split_first() else {
            return Ok(None);
        };
        let fmt = format(number).ok_or(Error::ZvtUnknownBmp { bmp: number })?;
        let (len, rest) = match fmt {
            Format::Fixed(n) => (usize::from(n), rest),
            Format::Ll => var_len(number, rest, 2)?,
            Format::Lll => var_len(number, rest, 3)?,
            Format::Tlv => tlv_len(rest)?,
        };
        let (value, rest) = rest
            .split_at_checked(len)
            .ok_or(Error::Truncated { what: "zvt bmp" })?;
        if fmt == Format::Tlv {
            emv::validate(value).map_err(|_| Error::ZvtField { bmp: number })?;
        }
        self.rest = rest;
        Ok(Some(Bmp { number, value }))
    }
}

impl<'a> Iterator for BmpIter<'a> {
    type Item = Result<Bmp<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_bmp() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for BmpIter<'_> {}

/// Reads an LL (`digits` = 2) or LLL (`digits` = 3) length: each byte `F`d (or `0`d) with d
/// a digit. One function for both (not one copy per count).
fn var_len(bmp: u8, data: &[u8], digits: usize) -> Result<(usize, &[u8])> {
    let (digits, rest) = data
        .split_at_checked(digits)
        .ok_or(Error::Truncated { what: "zvt LL/LLL" })?;
    let mut len = 0usize;
    for &d in digits {
        let (hi, lo) = (d >> 4, d & 0x0F);
        if (hi != 0x0F && hi != 0) || lo > 9 {
            return Err(Error::ZvtField { bmp });
        }
        len = len * 10 + usize::from(lo);
    }
    Ok((len, rest))
}

/// Reads the BER length of a TLV container (`< 80`, `81 nn`, `82 nn nn`).
pub(crate) fn tlv_len(data: &[u8]) -> Result<(usize, &[u8])> {
    let (&l0, rest) = data.split_first().ok_or(Error::Truncated {
        what: "zvt tlv length",
    })?;
    match l0 {
        0..=0x7F => Ok((usize::from(l0), rest)),
        0x81 => {
            let (&l, rest) = rest.split_first().ok_or(Error::Truncated {
                what: "zvt tlv length",
            })?;
            Ok((usize::from(l), rest))
        }
        0x82 => {
            let (&l, rest) = rest.split_first_chunk::<2>().ok_or(Error::Truncated {
                what: "zvt tlv length",
            })?;
            Ok((usize::from(u16::from_be_bytes(l)), rest))
        }
        _ => Err(Error::ZvtField { bmp: 0x06 }),
    }
}

/// Bytes of the BER length of a `len`-byte TLV container.
pub(crate) const fn tlv_len_len(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        _ => 3,
    }
}

/// Decodes BCD digits into a number (at most 19 digits). A nibble above 9 is
/// [`Error::ZvtField`] with `bmp`.
pub fn bcd_to_u64(bmp: u8, bytes: &[u8]) -> Result<u64> {
    if bytes.len() > 9 {
        return Err(Error::ZvtField { bmp });
    }
    let mut v = 0u64;
    for &b in bytes {
        let (hi, lo) = (b >> 4, b & 0x0F);
        if hi > 9 || lo > 9 {
            return Err(Error::ZvtField { bmp });
        }
        v = v * 100 + u64::from(hi) * 10 + u64::from(lo);
    }
    Ok(v)
}

/// Encodes `value` as `out.len()` bytes of BCD, leading zeros first. A value with more
/// digits than fit is [`Error::ZvtField`] with `bmp` (and `out` is then undefined; callers
/// write into a checked scratch area).
pub fn u64_to_bcd(bmp: u8, mut value: u64, out: &mut [u8]) -> Result<()> {
    for b in out.iter_mut().rev() {
        let (q, lo) = div_rem_u64(value, 10);
        let (q2, hi) = div_rem_u64(q, 10);
        *b = ((hi as u8) << 4) | lo as u8;
        value = q2;
    }
    if value != 0 {
        return Err(Error::ZvtField { bmp });
    }
    Ok(())
}

/// Checks a card number's BCD bytes: digits `0`–`9` or `E` (masked); `F` only as the last
/// nibble (padding of an odd count).
pub fn check_card_number(bytes: &[u8]) -> Result<()> {
    let digit = |nib: u8| nib <= 9 || nib == 0x0E;
    let last = bytes.len().wrapping_sub(1);
    for (i, &b) in bytes.iter().enumerate() {
        let (hi, lo) = (b >> 4, b & 0x0F);
        if !digit(hi) || !(digit(lo) || (lo == 0x0F && i == last)) {
            return Err(Error::ZvtField {
                bmp: number::CARD_NUMBER,
            });
        }
    }
    Ok(())
}

/// A cursor over the caller's output buffer, a dry run that only measures and checks (the
/// message emitters run it first, so a too-small buffer is reported before anything is
/// written and the caller's buffer is left untouched), or a [`Window`] onto a frame.
pub(crate) struct Writer<'b> {
    sink: Sink<'b>,
    pos: usize,
}

/// Where a [`Writer`]'s bytes go.
enum Sink<'b> {
    Dry,
    Buf(&'b mut [u8]),
    Window(Window<'b>),
}

/// A window onto a frame built byte by byte, so that a frame goes out of a session without a
/// frame-sized buffer anywhere: the frame's bytes from `skip` on land in the caller's buffer
/// as far as it reaches, the others are only counted. Over serial the APDU is framed as it
/// goes (`DLE STX`, each DLE doubled, `DLE ETX`, CRC; PA00P016); over TCP it goes as it is.
/// Building a frame again gives the same bytes, so a frame is sent in pieces, or again after
/// a NAK, by building it once more from what it says.
pub(crate) struct Window<'b> {
    out: &'b mut [u8],
    skip: usize,
    serial: bool,
    crc: u16,
    /// Bytes of the frame produced so far.
    at: usize,
}

impl<'b> Window<'b> {
    /// A window onto the frame's bytes from `skip` on, written to `out`; `serial` frames the
    /// APDU for a serial line.
    pub(crate) fn new(out: &'b mut [u8], skip: usize, serial: bool) -> Self {
        let mut w = Window {
            out,
            skip,
            serial,
            crc: 0,
            at: 0,
        };
        if serial {
            w.push(super::serial::DLE);
            w.push(super::serial::STX);
        }
        w
    }

    /// One byte of the frame.
    fn push(&mut self, b: u8) {
        if let Some(slot) = self
            .at
            .checked_sub(self.skip)
            .and_then(|i| self.out.get_mut(i))
        {
            *slot = b;
        }
        self.at += 1;
    }

    /// One byte of the APDU.
    fn data(&mut self, b: u8) {
        if self.serial {
            self.crc = super::serial::crc16_update(self.crc, &[b]);
            self.push(b);
            if b == super::serial::DLE {
                self.push(b);
            }
        } else {
            self.push(b);
        }
    }

    /// Ends the frame: the bytes written to the caller's buffer and the frame's whole length.
    pub(crate) fn finish(mut self) -> (usize, usize) {
        if self.serial {
            use super::serial::{DLE, ETX};
            let [lo, hi] = super::serial::crc16_update(self.crc, &[ETX]).to_le_bytes();
            for b in [DLE, ETX, lo, hi] {
                self.push(b);
            }
        }
        let written = self.at.saturating_sub(self.skip).min(self.out.len());
        (written, self.at)
    }
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Writer {
            sink: Sink::Buf(buf),
            pos: 0,
        }
    }

    /// A dry run: counts bytes and checks values, writes nothing.
    pub(crate) fn dry() -> Writer<'static> {
        Writer {
            sink: Sink::Dry,
            pos: 0,
        }
    }

    /// A writer whose bytes are the APDU of the frame `window` shows.
    pub(crate) fn window(window: Window<'b>) -> Self {
        Writer {
            sink: Sink::Window(window),
            pos: 0,
        }
    }

    /// The window a [`Writer::window`] writer wrote to.
    pub(crate) fn into_window(self) -> Option<Window<'b>> {
        match self.sink {
            Sink::Window(w) => Some(w),
            _ => None,
        }
    }

    /// Bytes written (or counted) so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Raw bytes.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let start = self.pos;
        let end = start + bytes.len();
        match &mut self.sink {
            Sink::Dry => {}
            Sink::Buf(buf) => {
                let dst = buf
                    .get_mut(start..end)
                    .ok_or(Error::BufferTooSmall { needed: end })?;
                for (d, s) in dst.iter_mut().zip(bytes) {
                    *d = *s;
                }
            }
            Sink::Window(w) => {
                for &b in bytes {
                    w.data(b);
                }
            }
        }
        self.pos = end;
        Ok(())
    }

    /// One byte.
    pub(crate) fn byte(&mut self, b: u8) -> Result<()> {
        self.put(&[b])
    }

    /// `value` as `n` (at most 10) bytes of BCD.
    pub(crate) fn bcd(&mut self, bmp: u8, value: u64, n: usize) -> Result<()> {
        let mut scratch = [0u8; 10];
        let digits = scratch.get_mut(..n).ok_or(Error::ZvtField { bmp })?;
        u64_to_bcd(bmp, value, digits)?;
        self.put(digits)
    }

    /// An LL (`digits` = 2) or LLL (`digits` = 3) length with `F` nibbles, then `value`. One
    /// function for both (not one copy per count).
    pub(crate) fn var(&mut self, bmp: u8, value: &[u8], digits: usize) -> Result<()> {
        let max = if digits == 2 { 99 } else { 999 };
        if value.len() > max {
            return Err(Error::ZvtField { bmp });
        }
        let mut len = value.len();
        let mut lll = [0u8; 3];
        for d in lll.iter_mut().rev() {
            *d = 0xF0 | (len % 10) as u8;
            len /= 10;
        }
        self.put(lll.get(3 - digits.min(3)..).unwrap_or_default())?;
        self.put(value)
    }

    /// A TLV container's BER length, then its content.
    pub(crate) fn tlv(&mut self, content: &[u8]) -> Result<()> {
        // One `put` of the length's bytes, chosen by the length (`< 80`, `81 nn`, `82 nn nn`).
        let len = u16::try_from(content.len()).map_err(|_| Error::ZvtField { bmp: 0x06 })?;
        let [hi, lo] = len.to_be_bytes();
        let ber = [0x82, hi, lo, 0x81, lo];
        let at = match tlv_len_len(usize::from(len)) {
            1 => 2..3,
            2 => 3..5,
            _ => 0..3,
        };
        self.put(ber.get(at).unwrap_or_default())?;
        self.put(content)
    }
}
