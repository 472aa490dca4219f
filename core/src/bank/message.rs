//! The field-level ISO 8583 message: MTI, bitmaps and the values of the present fields.

use core::fmt;

use super::field::{self, Charset, FIELDS, FieldSpec, Length, OFFSETS, STORAGE};
use crate::txn::Pan;
use crate::{Error, Result};

/// A message type indicator: four ASCII digits (version, class, function, origin).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mti([u8; 4]);

impl Mti {
    /// 0200 financial transaction request (sale, cashback, refund).
    pub const FINANCIAL_REQUEST: Mti = Mti(*b"0200");
    /// 0210 financial transaction response.
    pub const FINANCIAL_RESPONSE: Mti = Mti(*b"0210");
    /// 0400 reversal request.
    pub const REVERSAL_REQUEST: Mti = Mti(*b"0400");
    /// 0410 reversal response.
    pub const REVERSAL_RESPONSE: Mti = Mti(*b"0410");
    /// 0500 reconciliation request (close totals).
    pub const RECONCILIATION_REQUEST: Mti = Mti(*b"0500");
    /// 0510 reconciliation response.
    pub const RECONCILIATION_RESPONSE: Mti = Mti(*b"0510");
    /// 0800 network management request (echo test, sign-on).
    pub const NETWORK_REQUEST: Mti = Mti(*b"0800");
    /// 0810 network management response.
    pub const NETWORK_RESPONSE: Mti = Mti(*b"0810");

    /// An MTI from four ASCII digits; anything else is [`Error::IsoMti`].
    pub fn new(digits: &[u8]) -> Result<Self> {
        match digits {
            [a, b, c, d] if digits.iter().all(u8::is_ascii_digit) => Ok(Mti([*a, *b, *c, *d])),
            _ => Err(Error::IsoMti),
        }
    }

    /// The four digits.
    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// The four digits as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("????")
    }

    /// The MTI of the answer to this request (function digit + 1: 0200 → 0210), or `None`
    /// when this is not a request (function digit not even).
    pub fn response(self) -> Option<Mti> {
        let [a, b, c, d] = self.0;
        if (c - b'0') % 2 == 0 {
            Some(Mti([a, b, c + 1, d]))
        } else {
            None
        }
    }
}

impl fmt::Debug for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mti({})", self.as_str())
    }
}

impl fmt::Display for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO 8583 (1987, ASCII) message at field level: the MTI and the value of every present
/// field, held in fixed storage (no heap; about 650 bytes).
///
/// Wire form: 4-digit ASCII MTI; primary bitmap as 16 upper-case hex characters, then the
/// secondary bitmap the same way when a field above 64 is present (parse accepts lower case
/// too); then each present field in order: fixed fields as their characters, LLVAR/LLLVAR as
/// 2/3 ASCII length digits and the characters. Field 55 (ICC data) goes as upper-case hex
/// characters, its LLL prefix counting hex characters (at most 510, so 255 bytes of EMV data);
/// [`IsoMessage::get`] returns it as binary. Fields are as [`FIELDS`] defines; a bitmap
/// bit for any other field is [`Error::IsoUnknownField`], never skipped.
///
/// Values set or parsed are always valid for their field: right length, right characters.
/// `Debug` and `Display` mask field 2 (first 6 / last 4).
#[derive(Clone, PartialEq, Eq)]
pub struct IsoMessage {
    mti: Mti,
    /// Bit `i` set: `FIELDS[i]` is present.
    present: u32,
    lens: [u16; FIELDS.len()],
    data: [u8; STORAGE],
}

/// The value of each hex digit (either case), [`NOT_HEX`] for every other byte: one load per
/// character where a `match` would branch three ways.
// Evaluated at compile time: an index out of range fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const HEX_VALUES: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0u8;
    while i < 10 {
        t[(b'0' + i) as usize] = i;
        i += 1;
    }
    let mut i = 0u8;
    while i < 6 {
        t[(b'A' + i) as usize] = 10 + i;
        t[(b'a' + i) as usize] = 10 + i;
        i += 1;
    }
    t
};
const NOT_HEX: u8 = 0xFF;

fn hex_value(b: u8) -> u8 {
    HEX_VALUES.get(usize::from(b)).copied().unwrap_or(NOT_HEX)
}

/// The position of each known field in [`FIELDS`] plus one, by field number (0: unknown).
// Evaluated at compile time: an index out of range fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const INDEX_OF: [u8; 129] = {
    let mut t = [0u8; 129];
    let mut i = 0;
    while i < FIELDS.len() {
        t[FIELDS[i].number as usize] = i as u8 + 1;
        i += 1;
    }
    t
};

/// The value of one hex digit and whether `c` is one. Branch-free, so that the compiler can
/// decode many characters per instruction (SIMD) in [`decode_hex`].
fn nibble(c: u8) -> (u8, bool) {
    let digit = c.wrapping_sub(b'0') < 10;
    let letter = (c | 0x20).wrapping_sub(b'a') < 6;
    // `c & 0x0F` is the value of a digit and the value minus 9 of a letter (`A` = 0x41);
    // `c >> 6` is 0 for a digit, 1 for a letter.
    (
        (c & 0x0F).wrapping_add((c >> 6).wrapping_mul(9)),
        digit | letter,
    )
}

/// Decodes pairs of hex digits (either case) from `chars` into `out`; false if any character
/// is not a hex digit (`out` then holds garbage). Two simple passes (characters to nibbles,
/// nibble pairs to bytes) that the compiler turns into SIMD loops.
fn decode_hex(chars: &[u8], out: &mut [u8]) -> bool {
    let mut nibbles = [0u8; 2 * 255];
    let Some(nibbles) = nibbles.get_mut(..chars.len()) else {
        return false;
    };
    let mut bad = 0u8;
    for (n, &c) in nibbles.iter_mut().zip(chars) {
        let (v, ok) = nibble(c);
        *n = v;
        bad |= u8::from(!ok);
    }
    // Eight nibbles (one little-endian u64) make four bytes: pair the nibbles of each 16-bit
    // lane, then gather the four lanes' low bytes.
    let mut outs = out.chunks_exact_mut(4);
    let mut ins = nibbles.chunks_exact(8);
    for (dst, src) in (&mut outs).zip(&mut ins) {
        let mut n = [0u8; 8];
        n.copy_from_slice(src);
        let v = u64::from_le_bytes(n);
        let mut w = ((v & 0x00FF_00FF_00FF_00FF) << 4) | ((v >> 8) & 0x00FF_00FF_00FF_00FF);
        w = (w | (w >> 8)) & 0x0000_FFFF_0000_FFFF;
        w = w | (w >> 16);
        dst.copy_from_slice(&(w as u32).to_le_bytes());
    }
    for (dst, pair) in outs
        .into_remainder()
        .iter_mut()
        .zip(ins.remainder().chunks_exact(2))
    {
        if let [h, l] = *pair {
            *dst = h.wrapping_shl(4) | l;
        }
    }
    bad == 0
}

/// The input still to parse.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    /// The next `n` bytes, or `err` when fewer remain.
    fn take(&mut self, n: usize, err: Error) -> Result<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(err)?;
        self.0 = rest;
        Ok(head)
    }
}

fn bitmap(i: &mut Input<'_>) -> Result<u64> {
    i.take(16, Error::IsoBitmap)?
        .iter()
        .try_fold(0u64, |v, &b| match hex_value(b) {
            NOT_HEX => Err(Error::IsoBitmap),
            h => Ok(v << 4 | u64::from(h)),
        })
}

fn decimal(digits: &[u8]) -> Option<usize> {
    digits.iter().try_fold(0usize, |v, &b| {
        b.is_ascii_digit().then(|| v * 10 + usize::from(b - b'0'))
    })
}

/// Whether every byte of `chars` lies in `lo..=hi` (both below 0x80), eight bytes per step:
/// in a `u64` of bytes below 0x80, adding `0x80 - lo` to each byte sets its high bit exactly
/// when the byte is at least `lo`, and adding `0x7F - hi` exactly when it is above `hi`;
/// neither sum carries into the next byte. A byte of 0x80 or more shows in `x` itself.
fn all_in_range(chars: &[u8], lo: u8, hi: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x80 * ONES;
    let at_least = u64::from(0x80u8.wrapping_sub(lo)) * ONES;
    let above = u64::from(0x7Fu8.wrapping_sub(hi)) * ONES;
    let mut words = chars.chunks_exact(8);
    let mut bad = 0u64;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        bad |= x | !x.wrapping_add(at_least) | x.wrapping_add(above);
    }
    bad & HIGHS == 0 && words.remainder().iter().all(|b| (lo..=hi).contains(b))
}

/// Whether every byte of `chars` may appear in a field of `charset` (one loop per charset).
fn all_allowed(charset: Charset, chars: &[u8]) -> bool {
    match charset {
        Charset::Numeric => all_in_range(chars, b'0', b'9'),
        Charset::Alphanumeric => chars
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b' '),
        Charset::Printable => all_in_range(chars, 0x20, 0x7E),
        // Checked while decoding, in one pass ([`IsoMessage::store_checked`]).
        Charset::BinaryAsHex => chars.len() % 2 == 0,
    }
}

/// One field's wire characters (after its length prefix), checked against its spec.
fn field_chars<'a>(i: &mut Input<'a>, spec: &FieldSpec) -> Result<&'a [u8]> {
    let truncated = Error::IsoTruncated { field: spec.number };
    let bad = Error::IsoField { field: spec.number };
    let len = match spec.length {
        Length::Fixed(n) => usize::from(n),
        Length::LlVar(_) | Length::LllVar(_) => {
            match decimal(i.take(spec.prefix_digits(), truncated)?) {
                Some(n) if n <= spec.max_wire() => n,
                _ => return Err(bad),
            }
        }
    };
    let chars = i.take(len, truncated)?;
    if all_allowed(spec.charset, chars) {
        Ok(chars)
    } else {
        Err(bad)
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

impl IsoMessage {
    /// The most bytes a message can take on the wire (every known field at its longest is
    /// 880 bytes; 1024 leaves room). A buffer this size always fits [`IsoMessage::emit`].
    pub const MAX_LEN: usize = 1024;

    /// An empty message of type `mti`.
    pub const fn new(mti: Mti) -> Self {
        IsoMessage {
            mti,
            present: 0,
            lens: [0; FIELDS.len()],
            data: [0; STORAGE],
        }
    }

    /// The message type.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Changes the message type.
    pub fn set_mti(&mut self, mti: Mti) {
        self.mti = mti;
    }

    fn slot(index: usize) -> (usize, usize) {
        let start = OFFSETS.get(index).copied().unwrap_or(0);
        let end = OFFSETS.get(index + 1).copied().unwrap_or(start);
        (start, end)
    }

    /// Sets field `number` to `value`: characters for text fields, binary for field 55.
    /// A fixed-length field needs exactly its length (callers pad); a variable one at most its
    /// maximum. Errors: [`Error::IsoUnknownField`], [`Error::IsoField`] (length, characters).
    pub fn set(&mut self, number: u8, value: &[u8]) -> Result<()> {
        let (index, spec) =
            field::lookup(number).ok_or(Error::IsoUnknownField { field: number })?;
        let bad = Error::IsoField { field: number };
        let ok_len = match (spec.length, spec.charset) {
            (_, Charset::BinaryAsHex) => value.len() <= spec.max_value(),
            (Length::Fixed(n), _) => value.len() == usize::from(n),
            _ => value.len() <= spec.max_value(),
        };
        if !ok_len {
            return Err(bad);
        }
        if spec.charset != Charset::BinaryAsHex && !value.iter().all(|&b| spec.charset.allows(b)) {
            return Err(bad);
        }
        let (start, end) = Self::slot(index);
        let region = self.data.get_mut(start..end).ok_or(bad)?;
        let (dst, rest) = region.split_at_mut_checked(value.len()).ok_or(bad)?;
        dst.copy_from_slice(value);
        rest.fill(0);
        if let Some(l) = self.lens.get_mut(index) {
            *l = value.len() as u16;
        }
        self.present |= 1 << index;
        Ok(())
    }

    /// [`IsoMessage::set`] with text.
    pub fn set_str(&mut self, number: u8, value: &str) -> Result<()> {
        self.set(number, value.as_bytes())
    }

    /// Removes field `number` (nothing happens if it is absent or unknown).
    pub fn remove(&mut self, number: u8) {
        if let Some((index, _)) = field::lookup(number) {
            self.present &= !(1 << index);
            let (start, end) = Self::slot(index);
            if let Some(r) = self.data.get_mut(start..end) {
                r.fill(0);
            }
            if let Some(l) = self.lens.get_mut(index) {
                *l = 0;
            }
        }
    }

    fn value_at(&self, index: usize) -> Option<&[u8]> {
        if self.present & (1 << index) == 0 {
            return None;
        }
        let (start, _) = Self::slot(index);
        let len = usize::from(*self.lens.get(index)?);
        self.data.get(start..start + len)
    }

    /// The value of field `number`, if present (binary for field 55, characters otherwise).
    pub fn get(&self, number: u8) -> Option<&[u8]> {
        let (index, _) = field::lookup(number)?;
        self.value_at(index)
    }

    /// The value of a text field as `&str` (every field but 55 holds ASCII).
    pub fn get_str(&self, number: u8) -> Option<&str> {
        if number == 55 {
            return None;
        }
        self.get(number).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Whether field `number` is present.
    pub fn has(&self, number: u8) -> bool {
        self.get(number).is_some()
    }

    /// The present fields in ascending order: (number, value).
    pub fn fields(&self) -> impl Iterator<Item = (u8, &[u8])> + '_ {
        FIELDS
            .iter()
            .enumerate()
            .filter_map(|(i, s)| self.value_at(i).map(|v| (s.number, v)))
    }

    /// The bitmaps the message needs (primary, secondary; bit 1 of the primary set when a
    /// field above 64 is present).
    pub fn bitmaps(&self) -> (u64, u64) {
        let (mut primary, mut secondary) = (0u64, 0u64);
        for (n, _) in self.fields() {
            if n <= 64 {
                primary |= 1 << (64 - u32::from(n));
            } else {
                secondary |= 1 << (128 - u32::from(n));
            }
        }
        if secondary != 0 {
            primary |= 1 << 63;
        }
        (primary, secondary)
    }

    /// Bytes [`IsoMessage::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        let (_, secondary) = self.bitmaps();
        let mut len = 4 + 16 + if secondary != 0 { 16 } else { 0 };
        for (i, spec) in FIELDS.iter().enumerate() {
            if let Some(v) = self.value_at(i) {
                let chars = if spec.charset == Charset::BinaryAsHex {
                    v.len() * 2
                } else {
                    v.len()
                };
                len += spec.prefix_digits() + chars;
            }
        }
        len
    }

    /// Writes the message into `buf` and returns the bytes written. A buffer shorter than
    /// [`IsoMessage::encoded_len`] is [`Error::BufferTooSmall`] and is left untouched.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let needed = self.encoded_len();
        let out = buf
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        let mut w = Writer { out, pos: 0 };
        w.put(&self.mti.0);
        let (primary, secondary) = self.bitmaps();
        w.hex_u64(primary);
        if secondary != 0 {
            w.hex_u64(secondary);
        }
        for (i, spec) in FIELDS.iter().enumerate() {
            let Some(v) = self.value_at(i) else { continue };
            let chars = if spec.charset == Charset::BinaryAsHex {
                v.len() * 2
            } else {
                v.len()
            };
            match spec.prefix_digits() {
                2 => w.put(&[b'0' + (chars / 10 % 10) as u8, b'0' + (chars % 10) as u8]),
                3 => w.put(&[
                    b'0' + (chars / 100 % 10) as u8,
                    b'0' + (chars / 10 % 10) as u8,
                    b'0' + (chars % 10) as u8,
                ]),
                _ => {}
            }
            if spec.charset == Charset::BinaryAsHex {
                for &b in v {
                    w.put(&[hex_digit(b >> 4), hex_digit(b & 0x0F)]);
                }
            } else {
                w.put(v);
            }
        }
        Ok(w.pos)
    }

    /// Parses one whole message (without TCP length prefix). Every bitmap bit must be a field
    /// of [`FIELDS`]; the input must end with the last field.
    pub fn parse(input: &[u8]) -> Result<Self> {
        let mut i = Input(input);
        let mti = Mti::new(i.take(4, Error::IsoMti)?)?;
        let primary = bitmap(&mut i)?;
        let secondary = if primary & (1 << 63) != 0 {
            bitmap(&mut i)?
        } else {
            0
        };
        let mut msg = IsoMessage::new(mti);
        // Bit 1 (the secondary-bitmap flag) is not a field. The bits are reversed so that
        // field order is lowest bit first: each present field is then one `trailing_zeros`
        // and one "clear lowest bit" away, absent fields cost nothing.
        for (word, first) in [(primary & !(1 << 63), 1u8), (secondary, 65)] {
            let mut bits = word.reverse_bits();
            while bits != 0 {
                let number = first + bits.trailing_zeros() as u8;
                bits &= bits - 1;
                let index = usize::from(INDEX_OF.get(usize::from(number)).copied().unwrap_or(0));
                let Some(spec) = index.checked_sub(1).and_then(|ix| FIELDS.get(ix)) else {
                    return Err(Error::IsoUnknownField { field: number });
                };
                let chars = field_chars(&mut i, spec)?;
                msg.store_checked(index - 1, spec, chars)?;
            }
        }
        match i.0 {
            [] => Ok(msg),
            rest => Err(Error::IsoTrailingData {
                len: u16::try_from(rest.len()).unwrap_or(u16::MAX),
            }),
        }
    }

    /// Stores the wire characters of a field that [`field_chars`] checked into a message that
    /// does not hold that field yet (its slot is still zero): the characters themselves, or
    /// the bytes they spell in hex for field 55 ([`Error::IsoField`] if one is not a hex
    /// digit; the message is then dropped by the caller).
    fn store_checked(&mut self, index: usize, spec: &FieldSpec, chars: &[u8]) -> Result<()> {
        let bad = Error::IsoField { field: spec.number };
        let (start, end) = Self::slot(index);
        let slot = self.data.get_mut(start..end).ok_or(bad)?;
        let len = if spec.charset == Charset::BinaryAsHex {
            let out = slot.get_mut(..chars.len() / 2).ok_or(bad)?;
            if !decode_hex(chars, out) {
                return Err(bad);
            }
            out.len()
        } else {
            slot.get_mut(..chars.len())
                .ok_or(bad)?
                .copy_from_slice(chars);
            chars.len()
        };
        if let Some(l) = self.lens.get_mut(index) {
            *l = len as u16;
        }
        self.present |= 1 << index;
        Ok(())
    }

    /// Writes the 2-byte big-endian length prefix and the message into `buf` (see
    /// [`super::framing`]); returns the bytes written. Errors as [`IsoMessage::emit`].
    pub fn emit_prefixed(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.encoded_len();
        let needed = len + 2;
        let out = buf
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        let (prefix, body) = out.split_at_mut(2);
        prefix.copy_from_slice(&(len as u16).to_be_bytes());
        self.emit(body)?;
        Ok(needed)
    }

    /// The PAN of field 2, masked, for display (`None` when absent or not a PAN).
    fn masked_pan(&self) -> Option<crate::txn::MaskedPan> {
        Pan::new(self.get_str(2)?).ok().map(|p| p.masked())
    }
}

fn hex_digit(n: u8) -> u8 {
    HEX.get(usize::from(n & 0x0F)).copied().unwrap_or(b'0')
}

struct Writer<'b> {
    out: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    /// Callers sized `out` with [`IsoMessage::encoded_len`]; a write past it is dropped (and
    /// would show as a wrong length in tests), never a panic.
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }

    fn hex_u64(&mut self, v: u64) {
        for shift in (0..16).rev() {
            self.put(&[hex_digit((v >> (shift * 4)) as u8)]);
        }
    }
}

impl fmt::Display for IsoMessage {
    /// One line for logs: `0800 7=1125171300 11=000001 70=301`; field 2 masked, field 55 as
    /// hex with PAN and track data inside it starred ([`crate::emv::MaskedHex`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mti.as_str())?;
        for (n, v) in self.fields() {
            write!(f, " {n}=")?;
            match n {
                2 => match self.masked_pan() {
                    Some(m) => write!(f, "{m}")?,
                    None => f.write_str("(hidden)")?,
                },
                55 => write!(f, "{}", crate::emv::MaskedHex(v))?,
                _ => f.write_str(core::str::from_utf8(v).unwrap_or("?"))?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for IsoMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IsoMessage({self})")
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    #[test]
    fn all_in_range_agrees_with_a_byte_loop() {
        for (lo, hi) in [(b'0', b'9'), (0x20, 0x7E)] {
            for b in 0..=255u8 {
                for len in 1..20 {
                    for at in 0..len {
                        let mut chars = [lo; 20];
                        chars[at] = b;
                        let chars = &chars[..len];
                        let expected = chars.iter().all(|c| (lo..=hi).contains(c));
                        assert_eq!(
                            all_in_range(chars, lo, hi),
                            expected,
                            "{b:#x} at {at} of {len}"
                        );
                    }
                }
            }
        }
    }
}
