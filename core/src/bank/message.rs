//! The field-level ISO 8583 message: MTI, bitmaps and the values of the present fields.

use core::fmt;

use super::field::{self, Charset, FIELDS, INDEX_OF, Length, OFFSETS, STORAGE};
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
    /// 0100 authorization request (authorization only: a pre-authorisation that reserves
    /// the amount, ISO 8583:1987 class 1).
    pub const AUTHORIZATION_REQUEST: Mti = Mti(*b"0100");
    /// 0110 authorization response.
    pub const AUTHORIZATION_RESPONSE: Mti = Mti(*b"0110");
    /// 0220 financial transaction advice (the completion of a pre-authorisation: the final
    /// amount of an 0100 already approved).
    pub const FINANCIAL_ADVICE: Mti = Mti(*b"0220");
    /// 0230 financial transaction advice response.
    pub const FINANCIAL_ADVICE_RESPONSE: Mti = Mti(*b"0230");
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

/// The value of hex digit `c` (either case) and an error byte that is zero exactly when `c`
/// is a hex digit. Branch-free and on bytes only, so that the compiler handles 16 characters
/// per SIMD instruction in [`decode_hex`]: `d` is the value of a digit (below 10 only for
/// `0`–`9`), `l + 10` the value of a letter (`l` below 6 only for `a`–`f`, `A`–`F`); for a
/// hex digit the other of the two is at least 16, so the smaller one is the value.
fn nibble(c: u8) -> (u8, u8) {
    let d = c.wrapping_sub(b'0');
    let l = (c | 0x20).wrapping_sub(b'a');
    (
        d.min(l.wrapping_add(10)),
        d.saturating_sub(9).min(l.saturating_sub(5)),
    )
}

/// Decodes `C` hex characters into `B` = `C / 2` bytes; returns each character's error byte
/// (see [`nibble`]). Fixed sizes and values rather than references, so that the compiler
/// turns this into straight SIMD code in registers.
fn decode_block<const C: usize, const B: usize>(chars: &[u8; C], out: &mut [u8; B]) -> [u8; C] {
    let mut nibbles = [0u8; C];
    let mut errors = [0u8; C];
    for ((n, e), &c) in nibbles.iter_mut().zip(errors.iter_mut()).zip(chars) {
        (*n, *e) = nibble(c);
    }
    for (dst, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        if let [hi, lo] = *pair {
            *dst = (hi << 4) | lo;
        }
    }
    errors
}

/// Decodes pairs of hex digits (either case) from `chars` into `out`, which must be half as
/// long; false if it is not or if any character is not a hex digit (`out` then holds
/// garbage). Blocks of 32 characters, the last one taken from the end so that it overlaps
/// the one before (writing the same bytes again) instead of a slow tail loop.
#[inline(never)]
fn decode_hex(chars: &[u8], out: &mut [u8]) -> bool {
    let n = chars.len();
    if n != 2 * out.len() {
        return false;
    }
    let Some(last) = n.checked_sub(32) else {
        // Shorter than one block (field 55 of fewer than 16 bytes).
        let mut bad = 0u8;
        for (dst, pair) in out.iter_mut().zip(chars.chunks_exact(2)) {
            if let [hi, lo] = *pair {
                let ((h, eh), (l, el)) = (nibble(hi), nibble(lo));
                *dst = (h << 4) | l;
                bad |= eh | el;
            }
        }
        return bad == 0;
    };
    let mut bad = [0u8; 32];
    let mut at = 0;
    loop {
        let start = at.min(last);
        let block = (
            chars.get(start..start + 32).map(<&[u8; 32]>::try_from),
            out.get_mut(start / 2..start / 2 + 16)
                .map(<&mut [u8; 16]>::try_from),
        );
        if let (Some(Ok(src)), Some(Ok(dst))) = block {
            for (b, e) in bad.iter_mut().zip(decode_block(src, dst)) {
                *b |= e;
            }
        }
        if start == last {
            break;
        }
        at += 32;
    }
    bad.iter().fold(0, |a, &b| a | b) == 0
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

/// A bitmap: 16 hex characters (either case).
fn bitmap(i: &mut Input<'_>) -> Result<u64> {
    let chars = i.take(16, Error::IsoBitmap)?;
    let mut nibbles = [0u8; 16];
    let mut bad = 0u8;
    for (n, &c) in nibbles.iter_mut().zip(chars) {
        let (value, error) = nibble(c);
        *n = value;
        bad |= error;
    }
    let (Ok(first), Ok(second), 0) = (
        <[u8; 8]>::try_from(nibbles.get(..8).unwrap_or_default()),
        <[u8; 8]>::try_from(nibbles.get(8..).unwrap_or_default()),
        bad,
    ) else {
        return Err(Error::IsoBitmap);
    };
    Ok(u64::from(pack_nibbles(first)) << 32 | u64::from(pack_nibbles(second)))
}

/// Eight nibbles (one per byte, most significant first) as the 32-bit number they spell:
/// pair the nibbles of each 16-bit lane, then gather the four lanes' low bytes.
fn pack_nibbles(nibbles: [u8; 8]) -> u32 {
    let v = u64::from_le_bytes(nibbles);
    let mut w = ((v & 0x00FF_00FF_00FF_00FF) << 4) | ((v >> 8) & 0x00FF_00FF_00FF_00FF);
    w = (w | (w >> 8)) & 0x0000_FFFF_0000_FFFF;
    w = w | (w >> 16);
    (w as u32).swap_bytes()
}

fn decimal(digits: &[u8]) -> Option<usize> {
    digits.iter().try_fold(0usize, |v, &b| {
        b.is_ascii_digit().then(|| v * 10 + usize::from(b - b'0'))
    })
}

/// The eight bytes of `src` at `at` as a little-endian word, copied to the same place in
/// `dst`; `None` if either is too short there.
#[inline(always)]
fn copy_word(src: &[u8], dst: &mut [u8], at: usize) -> Option<u64> {
    let word = <[u8; 8]>::try_from(src.get(at..at + 8)?).ok()?;
    dst.get_mut(at..at + 8)?.copy_from_slice(&word);
    Some(u64::from_le_bytes(word))
}

/// [`crate::ascii::all_in_range`] that also copies `src` to the start of `dst` (at least as long), a word
/// at a time: words at 0, 8, 16, … and one that ends at the last byte, overlapping the one
/// before (it checks and writes the same bytes again), so there is no byte-by-byte tail.
/// Shorter than a word: two overlapping 4-byte halves, or up to three single bytes.
/// Inlined: with constant bounds the masks fold, and a call would cost as much as a field.
#[inline(always)]
fn copy_in_range(src: &[u8], dst: &mut [u8], lo: u8, hi: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x80 * ONES;
    let at_least = u64::from(0x80u8.wrapping_sub(lo)) * ONES;
    let above = u64::from(0x7Fu8.wrapping_sub(hi)) * ONES;
    let out_of_range = |x: u64| x | !x.wrapping_add(at_least) | x.wrapping_add(above);
    let n = src.len();
    let Some(dst) = dst.get_mut(..n) else {
        return false;
    };
    let word = |dst: &mut [u8], at: usize| copy_word(src, dst, at).map_or(HIGHS, out_of_range);
    let bad = if let Some(last) = n.checked_sub(8) {
        if n <= 16 {
            // Fields of 8 to 16 characters (most of them): two words, no loop.
            word(dst, 0) | word(dst, last)
        } else {
            let mut bad = 0;
            let mut at = 0;
            loop {
                let start = at.min(last);
                bad |= word(dst, start);
                if start == last {
                    break bad;
                }
                at += 8;
            }
        }
    } else if let Some(last) = n.checked_sub(4) {
        let halves = (
            src.get(..4).map(<[u8; 4]>::try_from),
            src.get(last..).map(<[u8; 4]>::try_from),
        );
        let (Some(Ok(a)), Some(Ok(b))) = halves else {
            return false; // cannot happen: 4 <= n < 8
        };
        if let Some(d) = dst.get_mut(..4) {
            d.copy_from_slice(&a);
        }
        if let Some(d) = dst.get_mut(last..) {
            d.copy_from_slice(&b);
        }
        out_of_range(u64::from(u32::from_le_bytes(a)) | u64::from(u32::from_le_bytes(b)) << 32)
    } else if n > 0 {
        // 1–3 bytes: the first, the middle and the last cover them all.
        let (Some(&a), Some(&b), Some(&c)) = (src.first(), src.get(n / 2), src.last()) else {
            return false; // cannot happen: 0 < n
        };
        for (at, v) in [(0, a), (n / 2, b), (n - 1, c)] {
            if let Some(d) = dst.get_mut(at) {
                *d = v;
            }
        }
        // Padded with `lo`, which is in range.
        out_of_range(u64::from_le_bytes([a, b, c, lo, lo, lo, lo, lo]))
    } else {
        0
    };
    bad & HIGHS == 0
}

/// Whether every byte of `chars` may appear in a field of `charset` (one loop per charset).
fn all_allowed(charset: Charset, chars: &[u8]) -> bool {
    match charset {
        Charset::Numeric => crate::ascii::all_digits(chars),
        Charset::Alphanumeric => chars
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b' '),
        Charset::Printable => crate::ascii::all_printable(chars),
        // Checked while decoding, in one pass ([`decode_hex`]).
        Charset::BinaryAsHex => chars.len() % 2 == 0,
        Charset::Binary => true,
    }
}

/// What parsing needs of one known field, packed (see [`LAYOUT`]).
#[derive(Clone, Copy)]
struct Layout {
    /// Where the value lives in [`IsoMessage`]'s storage.
    start: u16,
    /// End of its slot.
    end: u16,
    /// Wire characters: exactly this many for a fixed field, at most for a variable one.
    wire: u16,
    /// Digits of the length prefix (0 for a fixed field).
    prefix: u8,
    /// Characters allowed.
    charset: Charset,
}

/// [`Layout`] of each field of [`FIELDS`], in the same order: one small load per field
/// instead of reading the spec's enums.
// Evaluated at compile time: an index out of range fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const LAYOUT: [Layout; FIELDS.len()] = {
    let mut out = [Layout {
        start: 0,
        end: 0,
        wire: 0,
        prefix: 0,
        charset: Charset::Numeric,
    }; FIELDS.len()];
    let mut i = 0;
    while i < FIELDS.len() {
        let spec = &FIELDS[i];
        out[i] = Layout {
            start: OFFSETS[i] as u16,
            end: OFFSETS[i + 1] as u16,
            wire: spec.max_wire() as u16,
            prefix: spec.prefix_digits() as u8,
            charset: spec.charset,
        };
        i += 1;
    }
    out
};

impl IsoMessage {
    /// The most bytes a message can take on the wire (every known field at its longest is
    /// 896 bytes; 1024 leaves room). A buffer this size always fits [`IsoMessage::emit`].
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
        if spec.charset != Charset::BinaryAsHex && !all_allowed(spec.charset, value) {
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

    /// The value of a text field as `&str` (every field but 55, 64 and 128 holds ASCII).
    pub fn get_str(&self, number: u8) -> Option<&str> {
        if matches!(number, 55 | 64 | 128) {
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
        let (primary, secondary, _) = self.plan();
        (primary, secondary)
    }

    /// The bitmaps (as [`IsoMessage::bitmaps`]) and the wire length (as
    /// [`IsoMessage::encoded_len`]), in one pass over the present fields.
    fn plan(&self) -> (u64, u64, usize) {
        let (mut primary, mut secondary, mut len) = (0u64, 0u64, 4 + 16);
        for (n, (i, layout)) in self.present_layouts() {
            if n <= 64 {
                primary |= 1 << (64 - u32::from(n));
            } else {
                secondary |= 1 << (128 - u32::from(n));
            }
            let stored = usize::from(self.lens.get(i).copied().unwrap_or(0));
            len += usize::from(layout.prefix) + Self::wire_len(layout, stored);
        }
        if secondary != 0 {
            primary |= 1 << 63;
            len += 16;
        }
        (primary, secondary, len)
    }

    /// The present fields in ascending order: (number, layout, index), from the `present`
    /// bits (one `trailing_zeros` per field, absent fields cost nothing).
    fn present_layouts(&self) -> impl Iterator<Item = (u8, (usize, &'static Layout))> + '_ {
        let mut bits = self.present;
        core::iter::from_fn(move || {
            while bits != 0 {
                let index = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let (Some(spec), Some(layout)) = (FIELDS.get(index), LAYOUT.get(index)) {
                    return Some((spec.number, (index, layout)));
                }
            }
            None
        })
    }

    /// Wire characters of a stored value of `len` bytes (twice as many for field 55).
    fn wire_len(layout: &Layout, len: usize) -> usize {
        if layout.charset == Charset::BinaryAsHex {
            2 * len
        } else {
            len
        }
    }

    /// Bytes [`IsoMessage::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        self.plan().2
    }

    /// Writes the message into `buf` and returns the bytes written. A buffer shorter than
    /// [`IsoMessage::encoded_len`] is [`Error::BufferTooSmall`] and is left untouched.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let (primary, secondary, needed) = self.plan();
        let out = buf
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        let mut w = Writer { out, pos: 0 };
        w.put(&self.mti.0);
        // The primary bitmap always, the secondary one when a field above 64 is present.
        for bitmap in [Some(primary), (secondary != 0).then_some(secondary)]
            .into_iter()
            .flatten()
        {
            let mut chars = [0u8; 16];
            encode_block(&bitmap.to_be_bytes(), &mut chars);
            w.put(&chars);
        }
        for (_, (i, layout)) in self.present_layouts() {
            let Some(v) = self.value_at(i) else { continue };
            let chars = Self::wire_len(layout, v.len());
            match layout.prefix {
                2 => w.put(&[b'0' + (chars / 10 % 10) as u8, b'0' + (chars % 10) as u8]),
                3 => w.put(&[
                    b'0' + (chars / 100 % 10) as u8,
                    b'0' + (chars / 10 % 10) as u8,
                    b'0' + (chars % 10) as u8,
                ]),
                _ => {}
            }
            if layout.charset == Charset::BinaryAsHex {
                w.put_hex(v);
            } else {
                w.put(v);
            }
        }
        Ok(w.pos)
    }

    /// Parses one whole message (without TCP length prefix). Every bitmap bit must be a field
    /// of [`FIELDS`]; the input must end with the last field.
    // A small inlined shell around `parse_fields` (which is not inlined): where the caller
    // uses the message in place, the compiler builds it there and does not copy its ~630
    // bytes out of `parse` and into the caller's variable.
    #[inline]
    pub fn parse(input: &[u8]) -> Result<Self> {
        let mut msg = IsoMessage::new(Mti(*b"0000"));
        msg.parse_fields(input)?;
        Ok(msg)
    }

    /// The body of [`IsoMessage::parse`], into an empty message.
    #[inline(never)]
    fn parse_fields(&mut self, input: &[u8]) -> Result<()> {
        let mut i = Input(input);
        self.mti = Mti::new(i.take(4, Error::IsoMti)?)?;
        let primary = bitmap(&mut i)?;
        let secondary = if primary & (1 << 63) != 0 {
            bitmap(&mut i)?
        } else {
            0
        };
        // Bit 1 (the secondary-bitmap flag) is not a field. The bits are reversed so that
        // field order is lowest bit first: each present field is then one `trailing_zeros`
        // and one "clear lowest bit" away, absent fields cost nothing.
        let mut rest = i.0;
        for (word, first) in [(primary & !(1 << 63), 1u8), (secondary, 65)] {
            let mut bits = word.reverse_bits();
            while bits != 0 {
                let number = first + bits.trailing_zeros() as u8;
                bits &= bits - 1;
                let index = usize::from(INDEX_OF.get(usize::from(number)).copied().unwrap_or(0));
                let Some((index, layout)) = index
                    .checked_sub(1)
                    .and_then(|ix| Some((ix, LAYOUT.get(ix)?)))
                else {
                    return Err(Error::IsoUnknownField { field: number });
                };
                let truncated = Error::IsoTruncated { field: number };
                let len = if layout.prefix == 0 {
                    usize::from(layout.wire)
                } else {
                    let (digits, after) = rest
                        .split_at_checked(usize::from(layout.prefix))
                        .ok_or(truncated)?;
                    rest = after;
                    match decimal(digits) {
                        Some(n) if n <= usize::from(layout.wire) => n,
                        _ => return Err(Error::IsoField { field: number }),
                    }
                };
                let (chars, after) = rest.split_at_checked(len).ok_or(truncated)?;
                rest = after;
                if !self.store_wire(index, layout, chars) {
                    return Err(Error::IsoField { field: number });
                }
            }
        }
        match rest {
            [] => Ok(()),
            rest => Err(Error::IsoTrailingData {
                len: u16::try_from(rest.len()).unwrap_or(u16::MAX),
            }),
        }
    }

    /// Checks the wire characters of a field against its charset and stores them into a
    /// message that does not hold that field yet (its slot is still zero): the characters
    /// themselves, or the bytes they spell in hex for field 55. False if a character is not
    /// allowed (or for an odd number of hex characters); the message is then dropped by the
    /// caller. The caller checked that `chars` fits the field.
    fn store_wire(&mut self, index: usize, layout: &Layout, chars: &[u8]) -> bool {
        let Some(slot) = self
            .data
            .get_mut(usize::from(layout.start)..usize::from(layout.end))
        else {
            return false;
        };
        let (ok, len) = match layout.charset {
            Charset::Numeric => (copy_in_range(chars, slot, b'0', b'9'), chars.len()),
            Charset::Printable => (copy_in_range(chars, slot, 0x20, 0x7E), chars.len()),
            Charset::Alphanumeric => (
                all_allowed(Charset::Alphanumeric, chars) && copy_in_range(chars, slot, 0, 0x7F),
                chars.len(),
            ),
            Charset::BinaryAsHex => match slot.get_mut(..chars.len() / 2) {
                // An odd count fails here: `decode_hex` wants exactly twice `out.len()`.
                Some(out) => (decode_hex(chars, out), out.len()),
                None => (false, 0),
            },
            Charset::Binary => match slot.get_mut(..chars.len()) {
                Some(out) => {
                    out.copy_from_slice(chars);
                    (true, chars.len())
                }
                None => (false, 0),
            },
        };
        if ok {
            if let Some(l) = self.lens.get_mut(index) {
                *l = len as u16;
            }
            self.present |= 1 << index;
        }
        ok
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

/// The upper-case hex digit of the low nibble of `n`. Branch-free (`0`–`9` are 0x30 + n,
/// `A`–`F` are 0x37 + n), so that the compiler encodes 16 bytes per SIMD step.
fn hex_digit(n: u8) -> u8 {
    let n = n & 0x0F;
    n + b'0' + u8::from(n > 9) * 7
}

/// Writes `B` bytes as `C` = `2 * B` upper-case hex characters. Fixed sizes, for SIMD: each
/// byte becomes a 16-bit lane holding its two nibbles (high nibble in the low byte, which
/// goes first), and both bytes of the lane are made digits at once: a nibble above 9 sets
/// bit 7 of its byte when 0x76 is added (no carry leaves the byte), and then gets 7 more.
fn encode_block<const B: usize, const C: usize>(bytes: &[u8; B], out: &mut [u8; C]) {
    let mut lanes = [0u16; B];
    for (lane, &b) in lanes.iter_mut().zip(bytes) {
        let x = u16::from(b >> 4) | (u16::from(b & 0x0F) << 8);
        let letters = ((x + 0x7676) >> 7) & 0x0101;
        *lane = x + 0x3030 + letters * 7;
    }
    for (pair, lane) in out.chunks_exact_mut(2).zip(lanes) {
        pair.copy_from_slice(&lane.to_le_bytes());
    }
}

/// Writes `bytes` as upper-case hex characters into `out`, which is twice as long (a
/// shorter `out` gets the characters that fit). Blocks of 16 bytes, the last one taken from
/// the end so that it overlaps the one before, as in [`decode_hex`].
fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    let n = bytes.len();
    let Some(last) = n.checked_sub(16) else {
        for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
            if let [hi, lo] = pair {
                *hi = hex_digit(b >> 4);
                *lo = hex_digit(b);
            }
        }
        return;
    };
    let mut at = 0;
    loop {
        let start = at.min(last);
        let block = (
            bytes.get(start..start + 16).map(<&[u8; 16]>::try_from),
            out.get_mut(2 * start..2 * start + 32)
                .map(<&mut [u8; 32]>::try_from),
        );
        if let (Some(Ok(src)), Some(Ok(dst))) = block {
            encode_block(src, dst);
        }
        if start == last {
            break;
        }
        at += 16;
    }
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

    /// `bytes` as upper-case hex characters (two per byte), dropped past the end as `put`.
    fn put_hex(&mut self, bytes: &[u8]) {
        let len = 2 * bytes.len();
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + len) {
            encode_hex(bytes, dst);
        }
        self.pos += len;
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
                64 | 128 => {
                    for b in v {
                        write!(f, "{b:02X}")?;
                    }
                }
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

    /// Every byte value; under miri (slow; there is no unsafe code here) a few.
    fn test_bytes() -> Vec<u8> {
        if cfg!(miri) {
            vec![b'0', b'f', b'g', 0x80]
        } else {
            (0..=255).collect()
        }
    }

    /// The value of a hex digit the plain way, for the tests below.
    fn reference_nibble(c: u8) -> Option<u8> {
        char::from(c).to_digit(16).map(|d| d as u8)
    }

    #[test]
    fn nibble_agrees_with_to_digit_for_every_byte() {
        for c in 0..=255u8 {
            let (value, error) = nibble(c);
            match reference_nibble(c) {
                Some(v) => assert_eq!((value, error), (v, 0), "{c:#x}"),
                None => assert_ne!(error, 0, "{c:#x}"),
            }
        }
    }

    fn reference_decode(chars: &[u8]) -> Option<Vec<u8>> {
        if chars.len() % 2 != 0 {
            return None;
        }
        chars
            .chunks(2)
            .map(|p| Some(reference_nibble(p[0])? << 4 | reference_nibble(p[1])?))
            .collect()
    }

    #[test]
    fn decode_hex_agrees_with_a_reference_for_every_byte_at_every_place() {
        let digits = b"0123456789abcdefABCDEF";
        let lens: Vec<usize> = if cfg!(miri) {
            vec![1, 34, 66]
        } else {
            (0..=100)
                .chain([126, 127, 128, 129, 130, 300, 508, 510])
                .collect()
        };
        for len in lens {
            let valid: Vec<u8> = (0..len)
                .map(|i| digits[(i * 7 + len) % digits.len()])
                .collect();
            let places: Vec<usize> = if cfg!(miri) {
                vec![0, len - 1]
            } else if len <= 100 {
                (0..len).collect()
            } else {
                [0, 1, 15, 16, 31, 32, 33, len / 2, len - 17, len - 1].to_vec()
            };
            for &at in &places {
                for &b in &test_bytes() {
                    let mut chars = valid.clone();
                    chars[at] = b;
                    let mut out = vec![0xAAu8; len / 2];
                    let ok = decode_hex(&chars, &mut out);
                    match reference_decode(&chars) {
                        Some(expected) => {
                            assert!(ok, "{b:#x} at {at} of {len}");
                            assert_eq!(out, expected, "{b:#x} at {at} of {len}");
                        }
                        None => assert!(!ok, "{b:#x} at {at} of {len}"),
                    }
                }
            }
            // `out` must be exactly half as long.
            let mut longer = vec![0u8; len / 2 + 1];
            assert!(!decode_hex(&valid, &mut longer));
            if len >= 2 {
                let mut shorter = vec![0u8; len / 2 - 1];
                assert!(!decode_hex(&valid, &mut shorter));
            }
        }
    }

    #[test]
    fn bitmap_agrees_with_a_reference_for_every_byte_at_every_place() {
        let valid = *b"F23C46D129E09A08";
        for at in 0..16 {
            for &b in &test_bytes() {
                let mut chars = valid;
                chars[at] = b;
                let expected = chars
                    .iter()
                    .try_fold(0u64, |v, &c| Some(v << 4 | u64::from(reference_nibble(c)?)));
                let got = bitmap(&mut Input(&chars));
                assert_eq!(got.ok(), expected, "{b:#x} at {at}");
            }
        }
        assert_eq!(
            bitmap(&mut Input(b"F23C46D129E09A0")),
            Err(Error::IsoBitmap)
        );
    }

    #[test]
    fn copy_in_range_agrees_with_a_byte_loop_and_copies_exactly() {
        for (lo, hi) in [(b'0', b'9'), (0x20, 0x7E), (0, 0x7F)] {
            let lens = if cfg!(miri) { 3..=3 } else { 0..=42 };
            for len in lens {
                for at in 0..len.max(1) {
                    for &b in &test_bytes() {
                        let mut src: Vec<u8> =
                            (0..len).map(|i| lo + (i as u8 % (hi - lo + 1))).collect();
                        if len > 0 {
                            src[at] = b;
                        }
                        let mut dst = vec![0xEEu8; len + 9];
                        let ok = copy_in_range(&src, &mut dst, lo, hi);
                        let expected = src.iter().all(|c| (lo..=hi).contains(c));
                        assert_eq!(ok, expected, "{b:#x} at {at} of {len}");
                        assert_eq!(&dst[..len], &src[..], "{b:#x} at {at} of {len}");
                        assert!(dst[len..].iter().all(|&x| x == 0xEE), "wrote past {len}");
                    }
                }
                // A destination shorter than the source is refused.
                let src = vec![lo; len + 1];
                assert!(!copy_in_range(&src, &mut vec![0u8; len], lo, hi));
            }
        }
    }

    #[test]
    fn encode_hex_agrees_with_format_for_every_byte_and_length() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let lens: Vec<usize> = if cfg!(miri) {
            vec![8, 40]
        } else {
            (0..=all.len()).collect()
        };
        for len in lens {
            let bytes = &all[..len];
            let mut out = vec![0u8; 2 * len];
            encode_hex(bytes, &mut out);
            let expected: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            assert_eq!(out, expected.as_bytes(), "{len} bytes");
        }
        for v in [
            0u64,
            1,
            0x8000_0000_0000_0000,
            0xF23C_46D1_29E0_9A08,
            u64::MAX,
        ] {
            let mut chars = [0u8; 16];
            encode_block(&v.to_be_bytes(), &mut chars);
            assert_eq!(chars, *format!("{v:016X}").as_bytes());
        }
    }

    #[test]
    fn lookup_agrees_with_a_search_for_every_number() {
        for n in 0..=255u8 {
            let expected = FIELDS.iter().enumerate().find(|(_, s)| s.number == n);
            assert_eq!(field::lookup(n), expected, "{n}");
        }
    }

    #[test]
    fn message_without_fields_emits_its_bitmap() {
        let m = IsoMessage::new(Mti::NETWORK_REQUEST);
        let mut buf = [0u8; 32];
        let n = m.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"08000000000000000000");
        assert_eq!(IsoMessage::parse(&buf[..n]).unwrap(), m);
    }

    /// The parser written the plain way: one byte at a time, through [`IsoMessage::set`].
    fn reference_parse(input: &[u8]) -> Result<IsoMessage> {
        fn take<'a>(rest: &mut &'a [u8], n: usize, err: Error) -> Result<&'a [u8]> {
            if rest.len() < n {
                return Err(err);
            }
            let (head, tail) = rest.split_at(n);
            *rest = tail;
            Ok(head)
        }
        fn hex_word(chars: &[u8]) -> Result<u64> {
            chars.iter().try_fold(0u64, |v, &c| {
                Ok(v << 4 | u64::from(reference_nibble(c).ok_or(Error::IsoBitmap)?))
            })
        }
        let mut rest = input;
        let mti = Mti::new(take(&mut rest, 4, Error::IsoMti)?)?;
        let primary = hex_word(take(&mut rest, 16, Error::IsoBitmap)?)?;
        let secondary = if primary >> 63 == 1 {
            hex_word(take(&mut rest, 16, Error::IsoBitmap)?)?
        } else {
            0
        };
        let mut m = IsoMessage::new(mti);
        for number in 2..=128u8 {
            let bit = if number <= 64 {
                primary >> (64 - u32::from(number)) & 1
            } else {
                secondary >> (128 - u32::from(number)) & 1
            };
            if bit == 0 {
                continue;
            }
            let (_, spec) =
                field::lookup(number).ok_or(Error::IsoUnknownField { field: number })?;
            let truncated = Error::IsoTruncated { field: number };
            let bad = Error::IsoField { field: number };
            let len = match spec.length {
                Length::Fixed(n) => usize::from(n),
                _ => {
                    let digits = take(&mut rest, spec.prefix_digits(), truncated)?;
                    let text = core::str::from_utf8(digits).map_err(|_| bad)?;
                    if !text.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad);
                    }
                    let n: usize = text.parse().map_err(|_| bad)?;
                    if n > spec.max_wire() {
                        return Err(bad);
                    }
                    n
                }
            };
            let chars = take(&mut rest, len, truncated)?;
            let value = if spec.charset == Charset::BinaryAsHex {
                reference_decode(chars).ok_or(bad)?
            } else if chars.iter().all(|&b| spec.charset.allows(b)) {
                chars.to_vec()
            } else {
                return Err(bad);
            };
            m.set(number, &value).map_err(|_| bad)?;
        }
        if rest.is_empty() {
            Ok(m)
        } else {
            Err(Error::IsoTrailingData {
                len: u16::try_from(rest.len()).unwrap_or(u16::MAX),
            })
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_agrees_with_the_reference_on_damaged_messages(
            m in super::super::tests::any_message(),
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 0..4),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            truncate in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes = vec![0u8; IsoMessage::MAX_LEN];
            let n = m.emit(&mut bytes).unwrap();
            bytes.truncate(n);
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            proptest::prop_assert_eq!(IsoMessage::parse(&bytes), reference_parse(&bytes));
        }
    }
}
