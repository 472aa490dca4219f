//! `STX payload ETX [LRC]` frames.
//!
//! Byte layout (offsets from the frame start):
//! - `0`: STX (0x02)
//! - `1 .. 1+n`: payload, `n` bytes, none of them STX or ETX
//! - `1+n`: ETX (0x03)
//! - `2+n`: LRC, only with [`Checksum::Lrc`]: XOR of every byte after STX up to and
//!   including ETX (Concert; source: the public Concert notes in DESIGN.md).

use super::control::{ETX, STX};
use crate::ascii::{HIGHS, ONES, W, Word, word};
use crate::{Error, Result};

/// Whether a checksum byte follows ETX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Checksum {
    /// One LRC byte (XOR of payload and ETX) follows ETX. Concert.
    Lrc,
    /// Nothing follows ETX. ČSOB "B" over TCP.
    None,
}

impl Checksum {
    /// Bytes a frame adds around its payload.
    pub const fn overhead(self) -> usize {
        match self {
            Checksum::Lrc => 3,
            Checksum::None => 2,
        }
    }
}

/// XOR of `bytes` (the LRC of a Concert frame is `lrc(payload) ^ ETX`), a machine word per
/// step.
pub fn lrc(bytes: &[u8]) -> u8 {
    let mut words = bytes.chunks_exact(W);
    let mut acc: Word = 0;
    for chunk in &mut words {
        acc ^= word(chunk);
    }
    words
        .remainder()
        .iter()
        .fold(fold_xor(acc), |acc, b| acc ^ b)
}

/// Writes `STX payload ETX [LRC]` into `out` and returns the frame length.
///
/// A payload byte equal to STX or ETX is [`Error::LinkPayloadByte`]; an `out` too small is
/// [`Error::BufferTooSmall`] and leaves `out` untouched.
pub fn encode_frame(payload: &[u8], checksum: Checksum, out: &mut [u8]) -> Result<usize> {
    if let Some(&byte) = payload.iter().find(|&&b| b == STX || b == ETX) {
        return Err(Error::LinkPayloadByte { byte });
    }
    let len = payload.len() + checksum.overhead();
    let frame = out
        .get_mut(..len)
        .ok_or(Error::BufferTooSmall { needed: len })?;
    // Checked splits and a zipped copy: no panicking path (`split_at_mut` and
    // `copy_from_slice` would link one). `frame` holds `len` bytes, so neither split fails.
    let (head, body, tail) = frame
        .split_first_mut()
        .and_then(|(head, rest)| {
            rest.split_at_mut_checked(payload.len())
                .map(|(b, t)| (head, b, t))
        })
        .ok_or(Error::BufferTooSmall { needed: len })?;
    *head = STX;
    for (dst, &src) in body.iter_mut().zip(payload) {
        *dst = src;
    }
    if let Some((etx, lrc_slot)) = tail.split_first_mut() {
        *etx = ETX;
        if let Some(slot) = lrc_slot.first_mut() {
            *slot = lrc(payload) ^ ETX;
        }
    }
    Ok(len)
}

/// A decoded frame: a view of the payload inside the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameView<'a> {
    /// Bytes between STX and ETX.
    pub payload: &'a [u8],
    /// The LRC byte received (with [`Checksum::Lrc`]); it matched the computed one.
    pub lrc: Option<u8>,
    /// Total bytes the frame took from the input.
    pub len: usize,
}

/// The first STX or ETX in word `x` (little-endian), if any, as its byte index. STX (0x02)
/// and ETX (0x03) are the only bytes `b | 1 == 0x03` holds for, so a byte of `t` is zero
/// exactly there; the classic "has a zero byte" test then marks it, and its lowest set bit
/// marks the first one exactly (a borrow only runs towards higher bytes).
#[inline(always)]
fn delimiter_in_word(x: Word) -> Option<u32> {
    let t = (x | ONES) ^ (Word::from(ETX) * ONES);
    let zero = t.wrapping_sub(ONES) & !t & HIGHS;
    (zero != 0).then(|| zero.trailing_zeros() / 8)
}

/// XOR of the bytes of a word.
#[inline(always)]
fn fold_xor(mut acc: Word) -> u8 {
    let mut shift = W * 4;
    while shift >= 8 {
        acc ^= acc >> shift;
        shift /= 2;
    }
    acc as u8
}

/// One pass over a payload run: the index of the first STX or ETX in `bytes` (`None`: there
/// is none) and the XOR of every byte before it (of all of `bytes` when there is none).
///
/// Two machine words per step (SWAR, [`crate::ascii`]), so the delimiter search and the LRC
/// cost about one instruction per byte together on a 64-bit host and two on a Cortex-M4: a
/// cheap test that never misses a delimiter but may fire on bytes of 0x80 and above, and
/// only then each word tested exactly. The last bytes are one overlapping word instead of a
/// byte loop (inputs shorter than a word take the byte loop).
#[cfg_attr(target_pointer_width = "64", inline(always))]
pub(crate) fn scan_payload(bytes: &[u8]) -> (Option<usize>, u8) {
    // A byte of `x ^ STXS` is below 2 exactly where `x` has STX or ETX; subtracting 2 from
    // each byte then sets its high bit (or that of a byte of 0x80 and above: a false alarm
    // the exact test below clears).
    const STXS: Word = STX as Word * ONES;
    let maybe = |x: Word| (x ^ STXS).wrapping_sub(2 * ONES);
    let mut acc: Word = 0;
    let mut base = 0usize;
    let mut pairs = bytes.chunks_exact(2 * W);
    for pair in &mut pairs {
        let (a, b) = pair.split_at(W);
        let (x, y) = (word(a), word(b));
        if (maybe(x) | maybe(y)) & HIGHS != 0 {
            if let Some(k) = delimiter_in_word(x) {
                return found(acc, x, base, k);
            }
            if let Some(k) = delimiter_in_word(y) {
                return found(acc ^ x, y, base + W, k);
            }
        }
        acc ^= x ^ y;
        base += 2 * W;
    }
    let mut rest = pairs.remainder();
    while let Some((a, tail)) = rest.split_at_checked(W) {
        let x = word(a);
        if let Some(k) = delimiter_in_word(x) {
            return found(acc, x, base, k);
        }
        acc ^= x;
        base += W;
        rest = tail;
    }
    if rest.is_empty() {
        return (None, fold_xor(acc));
    }
    let Some(last) = bytes.len().checked_sub(W).and_then(|at| bytes.get(at..)) else {
        // Shorter than a word in all: a byte loop.
        let mut x = 0u8;
        for (i, &b) in rest.iter().enumerate() {
            if b | 1 == ETX {
                return (Some(i), x);
            }
            x ^= b;
        }
        return (None, x);
    };
    // The last word, shifted so that only the unseen tail is left (zero bytes are neither
    // delimiters nor change the XOR). `rest` is 1..W bytes, so the shift is below the width.
    let x = word(last) >> (8 * (W - rest.len()));
    match delimiter_in_word(x) {
        Some(k) => found(acc, x, base, k),
        None => (None, fold_xor(acc ^ x)),
    }
}

/// The answer of [`scan_payload`] for a delimiter at byte `k` of word `x`, which starts at
/// `base`: `acc` holds the XOR of the words before it.
#[cfg_attr(target_pointer_width = "64", inline(always))]
fn found(acc: Word, x: Word, base: usize, k: u32) -> (Option<usize>, u8) {
    // Keep the k bytes before the delimiter (k < W, so the shift is below the width).
    let before = x & ((1 << (8 * k)) - 1);
    (Some(base + k as usize), fold_xor(acc ^ before))
}

/// Decodes one complete frame at the start of `input` (a captured frame, a test vector).
///
/// Errors: [`Error::Truncated`] if the frame is not complete, [`Error::LinkMalformedFrame`] if it
/// does not start with STX or has an STX inside, [`Error::LinkBadLrc`] on a checksum mismatch.
/// Bytes after the frame are left (see [`FrameView::len`]).
pub fn decode_frame(input: &[u8], checksum: Checksum) -> Result<FrameView<'_>> {
    let body = match input.split_first() {
        None => return Err(Error::Truncated { what: "frame" }),
        Some((&STX, body)) => body,
        Some(_) => return Err(Error::LinkMalformedFrame),
    };
    let (end, payload_xor) = scan_payload(body);
    let end = end.ok_or(Error::Truncated { what: "frame" })?;
    let (payload, rest) = body.split_at_checked(end).unwrap_or((body, &[]));
    let rest = match rest.split_first() {
        Some((&ETX, rest)) => rest,
        _ => return Err(Error::LinkMalformedFrame), // an STX inside the frame
    };
    let lrc_byte = match checksum {
        Checksum::None => None,
        Checksum::Lrc => {
            let received = rest
                .first()
                .copied()
                .ok_or(Error::Truncated { what: "LRC" })?;
            let computed = payload_xor ^ ETX;
            if computed != received {
                return Err(Error::LinkBadLrc { computed, received });
            }
            Some(received)
        }
    };
    Ok(FrameView {
        payload,
        lrc: lrc_byte,
        len: payload.len() + checksum.overhead(),
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// The Concert example request from DESIGN.md (POS 01, 12.50 EUR, full answer, card, debit).
    pub(crate) const CONCERT_EXAMPLE: [u8; 37] = [
        0x02, 0x30, 0x31, 0x30, 0x30, 0x30, 0x30, 0x31, 0x32, 0x35, 0x30, 0x31, 0x31, 0x30, 0x39,
        0x37, 0x38, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x41, 0x30, 0x31,
        0x30, 0x42, 0x30, 0x31, 0x30, 0x03, 0x01,
    ];

    #[test]
    fn example_frame_decodes_and_reencodes() {
        let f = decode_frame(&CONCERT_EXAMPLE, Checksum::Lrc).unwrap();
        assert_eq!(f.payload, b"0100001250110978          A010B010");
        assert_eq!(f.lrc, Some(0x01));
        assert_eq!(f.len, 37);
        let mut out = [0u8; 64];
        let n = encode_frame(f.payload, Checksum::Lrc, &mut out).unwrap();
        assert_eq!(&out[..n], &CONCERT_EXAMPLE[..]);
    }

    #[test]
    fn encode_errors_leave_output_untouched() {
        let mut out = [0xAAu8; 4];
        assert_eq!(
            encode_frame(b"abc", Checksum::Lrc, &mut out),
            Err(Error::BufferTooSmall { needed: 6 })
        );
        assert_eq!(out, [0xAA; 4]);
        assert_eq!(
            encode_frame(b"a\x03", Checksum::None, &mut [0; 16]),
            Err(Error::LinkPayloadByte { byte: ETX })
        );
        let mut out = [0u8; 8];
        assert_eq!(encode_frame(b"AB", Checksum::None, &mut out), Ok(4));
        assert_eq!(&out[..4], b"\x02AB\x03");
    }

    #[test]
    fn lrc_is_the_xor_of_every_byte() {
        let bytes: std::vec::Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
        for len in 0..bytes.len() {
            let expected = bytes[..len].iter().fold(0, |a, b| a ^ b);
            assert_eq!(lrc(&bytes[..len]), expected, "len {len}");
        }
    }

    #[test]
    fn scan_payload_agrees_with_a_byte_loop() {
        let fill = [
            0x00u8, 0x01, 0x04, 0x06, 0x07, 0x12, 0x13, 0x82, 0x83, b'0', 0xFF, 0xFE,
        ];
        for len in 0..40 {
            for at in 0..=len {
                for delim in [STX, ETX] {
                    let mut bytes: std::vec::Vec<u8> =
                        (0..len).map(|i| fill[(i * 7 + len) % fill.len()]).collect();
                    if at < len {
                        bytes[at] = delim;
                    }
                    let pos = bytes.iter().position(|&b| b == STX || b == ETX);
                    let xor = bytes[..pos.unwrap_or(len)].iter().fold(0, |a, b| a ^ b);
                    assert_eq!(scan_payload(&bytes), (pos, xor), "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn scan_payload_finds_the_first_stx_or_etx_at_any_offset() {
        for len in 0..70 {
            for at in 0..=len {
                let mut bytes = std::vec![b'A'; len];
                // Every other byte value, including those one bit away from STX/ETX.
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = [0x00, 0x01, 0x04, 0x06, 0x07, 0x12, 0x13, 0x82, 0x83, b'0'][i % 10];
                }
                if at < len {
                    bytes[at] = if at % 2 == 0 { STX } else { ETX };
                    if at + 1 < len {
                        bytes[at + 1] = STX;
                    }
                }
                let expected = (at < len).then_some(at);
                assert_eq!(scan_payload(&bytes).0, expected, "len {len} at {at}");
            }
        }
    }

    #[test]
    fn decode_errors() {
        let mut bad = CONCERT_EXAMPLE;
        bad[5] ^= 0x01;
        assert!(matches!(
            decode_frame(&bad, Checksum::Lrc),
            Err(Error::LinkBadLrc { received: 0x01, .. })
        ));
        assert_eq!(
            decode_frame(&CONCERT_EXAMPLE[..36], Checksum::Lrc),
            Err(Error::Truncated { what: "LRC" })
        );
        assert_eq!(
            decode_frame(&CONCERT_EXAMPLE[..20], Checksum::Lrc),
            Err(Error::Truncated { what: "frame" })
        );
        assert_eq!(
            decode_frame(b"x\x02a\x03", Checksum::None),
            Err(Error::LinkMalformedFrame)
        );
        assert_eq!(
            decode_frame(b"\x02a\x02b\x03", Checksum::None),
            Err(Error::LinkMalformedFrame)
        );
        assert_eq!(
            decode_frame(b"", Checksum::None),
            Err(Error::Truncated { what: "frame" })
        );
    }
}
