//! ISO-8859-2 (Latin-2) ⇄ UTF-8 for the text fields of ČSOB messages.
//!
//! The public client decodes every field with `new String(bytes, "ISO-8859-2")`
//! (`Message.java` in `l1zard/react-native-enigoo-terminal`, folder
//! `android/src/main/java/com/enigoo/terminal/csob/`). Bytes `0x00..=0x9F` map to the code points
//! of the same value (ASCII and the C1 controls); `0xA0..=0xFF` map through `HIGH`, the
//! ISO/IEC 8859-2 table. No dependency: 96 entries.

use heapless::String;

use crate::{Error, Result};

/// Code points of bytes `0xA0..=0xFF` (ISO/IEC 8859-2).
const HIGH: [u16; 96] = [
    0x00A0, 0x0104, 0x02D8, 0x0141, 0x00A4, 0x013D, 0x015A, 0x00A7, //
    0x00A8, 0x0160, 0x015E, 0x0164, 0x0179, 0x00AD, 0x017D, 0x017B, //
    0x00B0, 0x0105, 0x02DB, 0x0142, 0x00B4, 0x013E, 0x015B, 0x02C7, //
    0x00B8, 0x0161, 0x015F, 0x0165, 0x017A, 0x02DD, 0x017E, 0x017C, //
    0x0154, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x0139, 0x0106, 0x00C7, //
    0x010C, 0x00C9, 0x0118, 0x00CB, 0x011A, 0x00CD, 0x00CE, 0x010E, //
    0x0110, 0x0143, 0x0147, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x00D7, //
    0x0158, 0x016E, 0x00DA, 0x0170, 0x00DC, 0x00DD, 0x0162, 0x00DF, //
    0x0155, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x013A, 0x0107, 0x00E7, //
    0x010D, 0x00E9, 0x0119, 0x00EB, 0x011B, 0x00ED, 0x00EE, 0x010F, //
    0x0111, 0x0144, 0x0148, 0x00F3, 0x00F4, 0x0151, 0x00F6, 0x00F7, //
    0x0159, 0x016F, 0x00FA, 0x0171, 0x00FC, 0x00FD, 0x0163, 0x02D9, //
];

/// The character of one ISO-8859-2 byte (every byte has one).
pub fn decode_byte(b: u8) -> char {
    if b < 0xA0 {
        return char::from(b);
    }
    HIGH.get(usize::from(b - 0xA0))
        .and_then(|&cp| char::from_u32(u32::from(cp)))
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The ISO-8859-2 byte of `c`, if the charset has it.
pub fn encode_char(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if cp < 0xA0 {
        return u8::try_from(cp).ok();
    }
    let pos = HIGH.iter().position(|&x| u32::from(x) == cp)?;
    u8::try_from(pos + 0xA0).ok()
}

/// Appends the UTF-8 form of ISO-8859-2 `bytes` to `out`; [`Error::CapacityExceeded`] naming
/// `what` if it does not fit (nothing is truncated silently: `out` holds a prefix then).
pub fn decode_into<const N: usize>(
    bytes: &[u8],
    out: &mut String<N>,
    what: &'static str,
) -> Result<()> {
    for &b in bytes {
        out.push(decode_byte(b))
            .map_err(|_| Error::CapacityExceeded { what })?;
    }
    Ok(())
}

/// Decodes ISO-8859-2 `bytes` into a new string of capacity `N`.
pub fn decode<const N: usize>(bytes: &[u8], what: &'static str) -> Result<String<N>> {
    let mut s = String::new();
    decode_into(bytes, &mut s, what)?;
    Ok(s)
}

/// Number of ISO-8859-2 bytes of `text`; [`Error::CsobField`] naming `field` if a character
/// is not in the charset or is a byte the framing reserves (STX, ETX, FS, GS).
pub fn encoded_len(text: &str, field: &'static str) -> Result<usize> {
    let mut n = 0;
    for c in text.chars() {
        let b = encode_char(c).ok_or(Error::CsobField { field })?;
        if is_reserved(b) {
            return Err(Error::CsobField { field });
        }
        n += 1;
    }
    Ok(n)
}

/// Bytes a field value can never contain: the frame delimiters and the separators.
pub const fn is_reserved(b: u8) -> bool {
    matches!(b, 0x02 | 0x03 | 0x1C | 0x1D)
}

/// Calls `f` with the ISO-8859-2 byte of each character of `text` (checked by
/// [`encoded_len`] first; unmappable characters are skipped here).
pub(crate) fn for_each_byte(text: &str, mut f: impl FnMut(u8)) {
    for c in text.chars() {
        if let Some(b) = encode_char(c) {
            f(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Příliš žluťoučký kůň úpěl ďábelské ódy" in ISO-8859-2 (bytes from the ISO/IEC 8859-2
    /// table; cross-checked with Python's `iso8859_2` codec).
    const PANGRAM: &[u8] = &[
        0x50, 0xf8, 0xed, 0x6c, 0x69, 0xb9, 0x20, 0xbe, 0x6c, 0x75, 0xbb, 0x6f, 0x75, 0xe8, 0x6b,
        0xfd, 0x20, 0x6b, 0xf9, 0xf2, 0x20, 0xfa, 0x70, 0xec, 0x6c, 0x20, 0xef, 0xe1, 0x62, 0x65,
        0x6c, 0x73, 0x6b, 0xe9, 0x20, 0xf3, 0x64, 0x79,
    ];
    const PANGRAM_UTF8: &str = "Příliš žluťoučký kůň úpěl ďábelské ódy";

    #[test]
    fn czech_pangram_both_ways() {
        let s: String<128> = decode(PANGRAM, "t").unwrap();
        assert_eq!(s.as_str(), PANGRAM_UTF8);
        let mut bytes = heapless::Vec::<u8, 64>::new();
        assert_eq!(encoded_len(PANGRAM_UTF8, "t"), Ok(PANGRAM.len()));
        for_each_byte(PANGRAM_UTF8, |b| bytes.push(b).unwrap());
        assert_eq!(&bytes[..], PANGRAM);
    }

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(encode_char(decode_byte(b)), Some(b), "{b:#x}");
        }
        assert_eq!(encode_char('€'), None);
        assert_eq!(
            encoded_len("1 €", "g"),
            Err(Error::CsobField { field: "g" })
        );
        assert_eq!(
            encoded_len("a\u{1c}", "g"),
            Err(Error::CsobField { field: "g" })
        );
    }

    #[test]
    fn capacity_is_an_error() {
        assert_eq!(
            decode::<2>(&[0xe8, 0xe8], "x"),
            Err(Error::CapacityExceeded { what: "x" })
        );
    }
}
