//! ASCII checks a machine word per step (SWAR: a `usize` holds eight bytes on a 64-bit host,
//! four on a Cortex-M), for the fixed-width text fields of the till dialects, the bank link
//! and the frame scan of the link layer. On any CPU, with no `unsafe` and no SIMD
//! instructions: each step is a handful of integer operations instead of one
//! compare-and-branch per byte, and the word is the CPU's own, so a 32-bit target neither
//! emulates 64-bit arithmetic nor pays for it in flash.
//!
//! Every function here is checked against a plain byte loop for every byte value in the tests.

/// Whether the Concert codec takes its whole-message fast path (a message checked against
/// its [`Layout`] in one pass) before the field-by-field one. On 64-bit hosts (the agent, the
/// host simulator) it pays; on a Cortex-M4 it saved under 0.5 instructions per byte for
/// 1.6 KiB of flash (measured with `benches/cortex-m-count.sh`), so a 32-bit microcontroller
/// keeps only the general path, which gives the same results (the tests check the two
/// against each other). The link layer's frame scan is the same on every target.
pub(crate) const FAST_PATHS: bool = cfg!(target_pointer_width = "64");

/// The word the scans work in: the CPU's native width.
pub(crate) type Word = usize;
/// Bytes per [`Word`].
pub(crate) const W: usize = core::mem::size_of::<Word>();
/// `0x0101…01`: one in every byte.
pub(crate) const ONES: Word = Word::MAX / 255;
/// `0x8080…80`: the high bit of every byte.
pub(crate) const HIGHS: Word = ONES << 7;

/// The first [`W`] bytes of `chunk` (callers pass exactly [`W`]) as a little-endian word;
/// 0 for a shorter chunk, which no caller passes.
///
/// One load on every target: a copy into an array (`copy_from_slice`) is a `memcpy` call
/// with a length check on a Cortex-M built for size, once per word.
#[inline(always)]
pub(crate) fn word(chunk: &[u8]) -> Word {
    match chunk.first_chunk::<W>() {
        Some(bytes) => Word::from_le_bytes(*bytes),
        None => 0,
    }
}

/// How many words a `len`-byte layout takes ([`Layout`]).
pub(crate) const fn words(len: usize) -> usize {
    len.div_ceil(W)
}

/// Whether every byte of `chars` lies in `lo..=hi`, both below 0x80.
///
/// In a `u64` of bytes below 0x80, adding `0x80 - lo` to each byte sets its high bit exactly
/// when the byte is at least `lo`, and adding `0x7F - hi` exactly when it is above `hi`;
/// neither sum carries into the next byte. A byte of 0x80 or more shows in `x` itself. Inputs
/// of eight bytes or more end with one overlapping word (a byte checked twice is harmless).
#[inline]
pub(crate) fn all_in_range(chars: &[u8], lo: u8, hi: u8) -> bool {
    let at_least = Word::from(0x80u8.wrapping_sub(lo)) * ONES;
    let above = Word::from(0x7Fu8.wrapping_sub(hi)) * ONES;
    let bad = |x: Word| x | !x.wrapping_add(at_least) | x.wrapping_add(above);
    let mut words = chars.chunks_exact(W);
    let mut acc: Word = 0;
    for chunk in &mut words {
        acc |= bad(word(chunk));
    }
    if !words.remainder().is_empty() {
        match chars.len().checked_sub(W).and_then(|at| chars.get(at..)) {
            Some(last) => acc |= bad(word(last)),
            None => return chars.iter().all(|b| (lo..=hi).contains(b)),
        }
    }
    acc & HIGHS == 0
}

/// Whether every byte is printable ASCII (0x20..=0x7E).
#[inline]
pub(crate) fn all_printable(chars: &[u8]) -> bool {
    all_in_range(chars, 0x20, 0x7E)
}

/// Whether every byte is an ASCII digit.
#[inline]
pub(crate) fn all_digits(chars: &[u8]) -> bool {
    all_in_range(chars, b'0', b'9')
}

/// The index of the first byte of `chars` outside `lo..=hi` (both below 0x80), eight bytes
/// per step, with [`all_in_range`]'s test: a carry only runs towards higher bytes, so the
/// lowest flagged byte is exactly the first one outside. Inputs of eight bytes or more end
/// with one overlapping word (its bytes already seen are inside, so cannot be flagged).
#[inline]
pub(crate) fn first_outside(chars: &[u8], lo: u8, hi: u8) -> Option<usize> {
    let at_least = Word::from(0x80u8.wrapping_sub(lo)) * ONES;
    let above = Word::from(0x7Fu8.wrapping_sub(hi)) * ONES;
    let bad = |x: Word| (x | !x.wrapping_add(at_least) | x.wrapping_add(above)) & HIGHS;
    let mut words = chars.chunks_exact(W);
    let mut base = 0usize;
    for chunk in &mut words {
        let flags = bad(word(chunk));
        if flags != 0 {
            return Some(base + flags.trailing_zeros() as usize / 8);
        }
        base += W;
    }
    if words.remainder().is_empty() {
        return None;
    }
    match chars.len().checked_sub(W) {
        Some(at) => {
            let flags = bad(word(chars.get(at..)?));
            (flags != 0).then(|| at + flags.trailing_zeros() as usize / 8)
        }
        None => chars.iter().position(|b| !(lo..=hi).contains(b)),
    }
}

/// The index of the first `needle` in `bytes`, eight bytes per step.
#[inline]
pub(crate) fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    let pattern = Word::from(needle) * ONES;
    let mut words = bytes.chunks_exact(W);
    let mut base = 0usize;
    for chunk in &mut words {
        // A byte of `t` is zero exactly where the input byte is `needle`; the lowest set bit of
        // the "has a zero byte" test marks the first one exactly.
        let t = word(chunk) ^ pattern;
        let zero = t.wrapping_sub(ONES) & !t & HIGHS;
        if zero != 0 {
            return Some(base + zero.trailing_zeros() as usize / 8);
        }
        base += W;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

/// The value of eight ASCII digits (the first is the most significant), or `None` if any
/// byte is not a digit.
///
/// All eight are checked at once (each byte's high nibble is 3 and adding 6 keeps it 3), then
/// combined in three steps: pairs (×10), quads (×100), halves (×10 000), each step one multiply
/// over lanes that cannot overflow into each other.
#[inline]
pub(crate) fn eight_digits(b: &[u8; 8]) -> Option<u32> {
    const NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let x = u64::from_le_bytes(*b);
    if x & NIBBLES != ZEROS || x.wrapping_add(0x0606_0606_0606_0606) & NIBBLES != ZEROS {
        return None;
    }
    Some(eight_digits_value(x))
}

/// The value of eight bytes (little-endian in `x`) already known to be ASCII digits.
#[inline(always)]
pub(crate) fn eight_digits_value(x: u64) -> u32 {
    let d = x.wrapping_sub(0x3030_3030_3030_3030); // every byte 0..=9
    let d = (d & 0x00FF_00FF_00FF_00FF) * 10 + ((d >> 8) & 0x00FF_00FF_00FF_00FF);
    let d = (d & 0x0000_FFFF_0000_FFFF) * 100 + ((d >> 16) & 0x0000_FFFF_0000_FFFF);
    // At most 99 999 999: fits.
    ((d & 0xFFFF_FFFF) * 10_000 + (d >> 32)) as u32
}

/// The allowed byte range of every position of a fixed-layout ASCII payload of `LEN` bytes,
/// turned at compile time into the constants of [`all_in_range`]'s test for each of its
/// `WORDS` words (`WORDS` = [`words`]`(LEN)`; word `i` starts at `min(W i, LEN - W)`, so the
/// last one may overlap its neighbour). [`Layout::check`] then validates every field of a
/// message in `WORDS` steps of a few instructions each.
pub(crate) struct Layout<const LEN: usize, const WORDS: usize> {
    at_least: [Word; WORDS],
    above: [Word; WORDS],
}

impl<const LEN: usize, const WORDS: usize> Layout<LEN, WORDS> {
    /// The layout from `(start, end, lo, hi)`: bytes `start..end` lie in `lo..=hi` (both
    /// below 0x80). A position no range names accepts nothing, so a forgotten field makes
    /// every check fail (the tests catch that) instead of accepting anything. Needs
    /// `LEN >= W` and `WORDS == words(LEN)`; anything else accepts nothing either.
    #[allow(clippy::indexing_slicing)] // compile time: an out-of-range index fails the build
    pub(crate) const fn new(ranges: &[(usize, usize, u8, u8)]) -> Self {
        let mut lo = [0x7Fu8; LEN];
        let mut hi = [0u8; LEN];
        let mut r = 0;
        while r < ranges.len() {
            let (start, end, l, h) = ranges[r];
            let mut i = start;
            while i < end && i < LEN {
                lo[i] = l;
                hi[i] = h;
                i += 1;
            }
            r += 1;
        }
        let mut at_least = [0 as Word; WORDS];
        let mut above = [Word::MAX; WORDS];
        if LEN >= W && WORDS == words(LEN) {
            let mut w = 0;
            while w < WORDS {
                let start = if W * w + W <= LEN { W * w } else { LEN - W };
                let (mut a, mut b) = (0 as Word, 0 as Word);
                let mut k = 0;
                while k < W {
                    let (l, h) = (lo[start + k], hi[start + k]);
                    // An empty range (nothing named) gets constants no byte passes.
                    let (ca, cb) = if l <= h {
                        (0x80 - l as Word, 0x7F - h as Word)
                    } else {
                        (0, 0x80)
                    };
                    a |= ca << (8 * k);
                    b |= cb << (8 * k);
                    k += 1;
                }
                at_least[w] = a;
                above[w] = b;
                w += 1;
            }
        }
        Layout { at_least, above }
    }

    /// Whether every byte of `p` lies in its position's range.
    #[inline(always)]
    pub(crate) fn check(&self, p: &[u8; LEN]) -> bool {
        let mut bad: Word = 0;
        for (w, (&at_least, &above)) in self.at_least.iter().zip(&self.above).enumerate() {
            let start = if W * w + W <= LEN {
                W * w
            } else {
                LEN.saturating_sub(W)
            };
            let Some(chunk) = p.get(start..start + W) else {
                return false;
            };
            let x = word(chunk);
            bad |= x | !x.wrapping_add(at_least) | x.wrapping_add(above);
        }
        bad & HIGHS == 0
    }
}

/// The value of `N` bytes (`N` at most 9) already known to be ASCII digits.
#[inline(always)]
pub(crate) fn digits_value<const N: usize>(b: &[u8; N]) -> u32 {
    b.iter().fold(0u32, |v, &c| {
        v.wrapping_mul(10)
            .wrapping_add(u32::from(c.wrapping_sub(b'0')))
    })
}

/// The value of `N` ASCII digits (`N` at most 9), or `None` if any byte is not a digit.
#[inline(always)]
pub(crate) fn small_digits<const N: usize>(b: &[u8; N]) -> Option<u32> {
    let mut value = 0u32;
    let mut worst = 0u8;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        worst = worst.max(d);
        value = value.wrapping_mul(10).wrapping_add(u32::from(d));
    }
    (worst < 10).then_some(value)
}

/// The byte values the exhaustive tests try: all 256, or under miri (which runs them a
/// thousand times slower; this code has no `unsafe` for it to check) the ones at the edges
/// of every range the codecs use.
#[cfg(test)]
pub(crate) fn test_bytes() -> impl Iterator<Item = u8> + Clone {
    const EDGES: &[u8] = &[
        0x00, 0x01, 0x02, 0x03, 0x04, 0x1F, 0x20, 0x21, b'/', b'0', b'1', b'2', b'9', b':', b'@',
        b'A', b'B', b'C', b'Z', b'[', b'`', b'a', b'z', b'{', 0x7E, 0x7F, 0x80, 0x81, 0x82, 0xFE,
        0xFF,
    ];
    let all = !cfg!(miri);
    (0..=255u8).filter(move |b| all || EDGES.contains(b))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// Every byte value at every position of every length up to 20, around a valid run.
    fn cases(base: u8) -> impl Iterator<Item = Vec<u8>> {
        let lens: &[usize] = if cfg!(miri) {
            &[0, 1, 3, 4, 5, 7, 8, 9, 12, 16, 17, 20]
        } else {
            &[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
            ]
        };
        lens.iter().flat_map(move |&len| {
            (0..len.max(1)).flat_map(move |at| {
                test_bytes().map(move |b| {
                    let mut v = std::vec![base; len];
                    if let Some(slot) = v.get_mut(at) {
                        *slot = b;
                    }
                    v
                })
            })
        })
    }

    #[test]
    fn ranges_agree_with_a_byte_loop() {
        for (lo, hi) in [(b'0', b'9'), (0x20, 0x7E), (b'A', b'Z'), (0, 0x7F)] {
            for v in cases(lo) {
                let expected = v.iter().all(|b| (lo..=hi).contains(b));
                assert_eq!(all_in_range(&v, lo, hi), expected, "{lo}..={hi} {v:?}");
            }
        }
    }

    #[test]
    fn first_outside_agrees_with_position() {
        for (lo, hi) in [(b'0', b'9'), (0x20, 0x7E), (0, 0x7F)] {
            for v in cases(lo) {
                let expected = v.iter().position(|b| !(lo..=hi).contains(b));
                assert_eq!(first_outside(&v, lo, hi), expected, "{lo}..={hi} {v:?}");
            }
        }
    }

    #[test]
    fn find_byte_agrees_with_position() {
        for v in cases(b'7') {
            for needle in [b' ', 0, 0xFF, b'7', 0x80] {
                let expected = v.iter().position(|&b| b == needle);
                assert_eq!(find_byte(&v, needle), expected, "{needle} in {v:?}");
            }
        }
    }

    #[test]
    fn eight_digits_agrees_with_a_byte_loop() {
        for at in 0..8 {
            for b in test_bytes() {
                let mut v = *b"31415926";
                v[at] = b;
                let expected = v.iter().try_fold(0u32, |acc, &c| {
                    c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
                });
                assert_eq!(eight_digits(&v), expected, "{v:?}");
            }
        }
        for n in [0u32, 1, 9, 10, 99_999_999, 12_345_678, 10_000_000, 1250] {
            let text = std::format!("{n:08}");
            let bytes: [u8; 8] = text.as_bytes().try_into().unwrap();
            assert_eq!(eight_digits(&bytes), Some(n));
        }
    }

    #[test]
    fn small_digits_agree_with_a_byte_loop() {
        for at in 0..3 {
            for b in test_bytes() {
                let mut v = *b"978";
                v[at] = b;
                let expected = v.iter().try_fold(0u32, |acc, &c| {
                    c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
                });
                assert_eq!(small_digits(&v), expected, "{v:?}");
            }
        }
    }

    #[test]
    fn digits_value_reads_digits() {
        assert_eq!(digits_value(b"978"), 978);
        assert_eq!(digits_value(b"01"), 1);
        assert_eq!(digits_value(b"99"), 99);
    }

    #[test]
    fn small_digits_reads_and_rejects() {
        assert_eq!(small_digits(b"978"), Some(978));
        assert_eq!(small_digits(b"01"), Some(1));
        assert_eq!(small_digits(b"0:"), None);
        assert_eq!(small_digits(b"/0"), None);
        assert_eq!(small_digits(b""), Some(0));
    }

    /// A layout over 21 bytes (the last word overlaps): digits, one letter, printable text,
    /// a fixed byte, a flag, anything ASCII.
    const TEST_LAYOUT: Layout<21, { words(21) }> = Layout::new(&[
        (0, 4, b'0', b'9'),
        (4, 5, b'A', b'Z'),
        (5, 15, 0x20, 0x7E),
        (15, 16, b'B', b'B'),
        (16, 18, b'0', b'1'),
        (18, 21, 0, 0x7F),
    ]);

    #[test]
    fn layout_agrees_with_a_byte_loop() {
        let ranges: [(u8, u8); 21] = core::array::from_fn(|i| match i {
            0..4 => (b'0', b'9'),
            4 => (b'A', b'Z'),
            5..15 => (0x20, 0x7E),
            15 => (b'B', b'B'),
            16 | 17 => (b'0', b'1'),
            _ => (0, 0x7F),
        });
        let base: [u8; 21] = *b"1234Qtext here!B01\x00ab";
        assert!(TEST_LAYOUT.check(&base));
        for at in 0..21 {
            for b in test_bytes() {
                let mut v = base;
                v[at] = b;
                let expected = v
                    .iter()
                    .zip(&ranges)
                    .all(|(c, (lo, hi))| (lo..=hi).contains(&c));
                assert_eq!(TEST_LAYOUT.check(&v), expected, "{v:?}");
            }
        }
    }

    #[test]
    fn a_position_no_range_names_accepts_nothing() {
        const GAP: Layout<10, { words(10) }> = Layout::new(&[(0, 4, 0, 0x7F), (5, 10, 0, 0x7F)]);
        const FULL: Layout<10, { words(10) }> = Layout::new(&[(0, 10, 0, 0x7F)]);
        for b in test_bytes() {
            let v = [b; 10];
            assert!(!GAP.check(&v));
            assert_eq!(FULL.check(&v), b < 0x80);
        }
    }

    proptest::proptest! {
        #[test]
        fn eight_digits_of_any_value(n in 0u32..100_000_000) {
            let text = std::format!("{n:08}");
            let bytes: [u8; 8] = text.as_bytes().try_into().unwrap();
            proptest::prop_assert_eq!(eight_digits(&bytes), Some(n));
        }
    }
}
