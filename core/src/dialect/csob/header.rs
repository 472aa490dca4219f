//! The 36-character header that follows STX, and the policies for its two fields whose
//! content the public description does not pin down (data length, CRC).
//!
//! Byte layout: the range constants below, offsets from the first byte after STX. Source:
//! `Payment.java` of `l1zard/react-native-enigoo-terminal`, which builds the header as
//! `type + "01" + deviceId + YYMMddHHmmss + flags + length + "A5A5"`, and `Response.java`,
//! which reads the flags at `substring(24, 28)`. Nothing follows ETX: `ProcessMessage.java`
//! cuts each message from STX to ETX inclusive.

use heapless::String;

use super::codes::{Flags, MessageType};
use crate::txn::{TerminalId, Timestamp};
use crate::{Error, Result};

/// `0..2`: message type (`B0`…`B4`).
pub const MESSAGE_TYPE: core::ops::Range<usize> = 0..2;
/// `2..4`: protocol version, `01`.
pub const VERSION: core::ops::Range<usize> = 2..4;
/// `4..12`: terminal id, 8 characters.
pub const TERMINAL_ID: core::ops::Range<usize> = 4..12;
/// `12..24`: local date and time `YYMMddHHmmss`.
pub const TIMESTAMP: core::ops::Range<usize> = 12..24;
/// `24..28`: flags, 4 hex digits.
pub const FLAGS: core::ops::Range<usize> = 24..28;
/// `28..32`: data length, 4 hex digits: bytes after the header up to (not including) ETX.
pub const LENGTH: core::ops::Range<usize> = 28..32;
/// `32..36`: CRC field, 4 characters (the public client always sends `A5A5`).
pub const CRC: core::ops::Range<usize> = 32..36;
/// Length of the header.
pub const HEADER_LEN: usize = 36;

/// The version this codec writes (`01`, the public client's `PROTOCOL_VERSION`).
pub const VERSION_01: [u8; 2] = *b"01";

/// The four characters of the CRC field, kept as received.
///
/// The real algorithm is not public: this codec never computes or verifies a checksum, it only
/// carries the field and, under [`CrcPolicy::Expect`], compares it with a configured value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CrcField(pub [u8; 4]);

impl CrcField {
    /// `A5A5`: what the public client sends in every message (`CRC_CONST` in `Payment.java`).
    pub const PUBLIC_CLIENT: CrcField = CrcField(*b"A5A5");

    /// The field as text if it is printable ASCII.
    pub fn as_str(&self) -> Option<&str> {
        if self.0.iter().all(|b| (0x20..0x7f).contains(b)) {
            core::str::from_utf8(&self.0).ok()
        } else {
            None
        }
    }
}

impl Default for CrcField {
    fn default() -> Self {
        CrcField::PUBLIC_CLIENT
    }
}

/// What a parser does with the CRC field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CrcPolicy {
    /// Accept any four bytes (the default: the algorithm is unknown).
    #[default]
    Ignore,
    /// Accept only this exact value; anything else is [`Error::CsobCrcMismatch`].
    Expect(CrcField),
}

/// What a parser does when the declared data length differs from the data received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LengthPolicy {
    /// Accept the message and report the mismatch in [`DataLength`] (the default: the public
    /// client computes the field inconsistently, e.g. a fixed `000E` for every reversal).
    #[default]
    Lenient,
    /// A mismatch is [`Error::CsobLengthMismatch`].
    Strict,
}

/// The data-length field as declared and as measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataLength {
    /// Value of the header field.
    pub declared: u16,
    /// Bytes actually received after the header up to ETX.
    pub actual: usize,
}

impl DataLength {
    /// Whether the declared length is the actual one.
    pub fn matches(&self) -> bool {
        usize::from(self.declared) == self.actual
    }
}

/// A parsed header. On emit, [`Header::length`] is ignored: the length written is always the
/// actual data length.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// `B0`…`B4`.
    pub message_type: MessageType,
    /// Two version digits as received (`01`).
    pub version: [u8; 2],
    /// Terminal id (right-padded with spaces to 8 characters on the wire).
    pub terminal_id: TerminalId,
    /// Local date and time (two-digit year read as 20YY).
    pub timestamp: Timestamp,
    /// Flag bits.
    pub flags: Flags,
    /// Declared and measured data length.
    pub length: DataLength,
    /// CRC field as received.
    pub crc: CrcField,
}

impl Header {
    /// A header of version `01` with the public client's CRC field and no flags.
    pub fn new(message_type: MessageType, terminal_id: TerminalId, timestamp: Timestamp) -> Self {
        Header {
            message_type,
            version: VERSION_01,
            terminal_id,
            timestamp,
            flags: Flags::default(),
            length: DataLength::default(),
            crc: CrcField::PUBLIC_CLIENT,
        }
    }
}

fn hex4(input: &[u8], field: &'static str) -> Result<u16> {
    let err = Error::CsobHeader { field };
    if input.len() != 4 {
        return Err(err);
    }
    input.iter().try_fold(0u16, |acc, &b| {
        let d = char::from(b).to_digit(16).ok_or(err)?;
        Ok(acc << 4 | d as u16)
    })
}

fn two_digits(pair: &[u8], err: Error) -> Result<u8> {
    match pair {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Ok((a - b'0') * 10 + (b - b'0')),
        _ => Err(err),
    }
}

fn timestamp(bytes: &[u8]) -> Result<Timestamp> {
    let err = Error::CsobHeader { field: "timestamp" };
    let mut v = [0u8; 6];
    for (slot, pair) in v.iter_mut().zip(bytes.chunks(2)) {
        *slot = two_digits(pair, err)?;
    }
    let [yy, mo, dd, hh, mi, ss] = v;
    Timestamp::new(2000 + u16::from(yy), mo, dd, hh, mi, ss).map_err(|_| err)
}

fn terminal_id_error() -> Error {
    Error::CsobHeader {
        field: "terminal id",
    }
}

/// The terminal id field without its right padding of spaces (trimmed as bytes: no `str`
/// pattern searcher linked).
fn trim_terminal_id(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or_default()
}

/// A header checked as [`parse_header`] checks it (the same checks in the same order, so the
/// same error for the same bytes), its terminal id left as the bytes received.
pub(crate) struct HeaderParts<'a> {
    /// `B0`…`B4`.
    pub message_type: MessageType,
    /// Two version digits as received.
    pub version: [u8; 2],
    /// The terminal id, its padding trimmed: a valid [`TerminalId`].
    pub terminal_id: &'a [u8],
    /// Local date and time.
    pub timestamp: Timestamp,
    /// Flag bits.
    pub flags: Flags,
    /// The declared data length.
    pub declared: u16,
    /// CRC field as received.
    pub crc: CrcField,
    /// The data after the header.
    pub data: &'a [u8],
}

/// Checks the header at the start of `payload` as [`parse_header`] does, without building a
/// [`Header`]: what a terminal receives with (it keeps the message type and time only; the
/// header and its terminal id copied and moved cost firmware flash and stack).
pub(crate) fn check_header(
    payload: &[u8],
    crc: CrcPolicy,
    length: LengthPolicy,
) -> Result<HeaderParts<'_>> {
    let (head, data) = payload
        .split_at_checked(HEADER_LEN)
        .ok_or(Error::Truncated {
            what: "csob header",
        })?;
    let part = |range: core::ops::Range<usize>| head.get(range).unwrap_or_default();
    let (ty, version, tid, ts) = (
        part(MESSAGE_TYPE),
        part(VERSION),
        part(TERMINAL_ID),
        part(TIMESTAMP),
    );
    let (flags, len, crc_field) = (part(FLAGS), part(LENGTH), part(CRC));
    let message_type = MessageType::from_code(ty)?;
    let version: [u8; 2] = match version {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => [*a, *b],
        _ => return Err(Error::CsobHeader { field: "version" }),
    };
    let terminal_id = trim_terminal_id(tid);
    if !TerminalId::is_valid_ascii(terminal_id) {
        return Err(terminal_id_error());
    }
    let timestamp = timestamp(ts)?;
    let flags = Flags(hex4(flags, "flags")?);
    let declared = hex4(len, "data length")?;
    let mut crc_bytes = [0u8; 4];
    for (d, s) in crc_bytes.iter_mut().zip(crc_field) {
        *d = *s;
    }
    let crc_value = CrcField(crc_bytes);
    if let CrcPolicy::Expect(expected) = crc {
        if expected != crc_value {
            return Err(Error::CsobCrcMismatch);
        }
    }
    let length_field = DataLength {
        declared,
        actual: data.len(),
    };
    if length == LengthPolicy::Strict && !length_field.matches() {
        return Err(Error::CsobLengthMismatch {
            declared,
            actual: u16::try_from(data.len()).unwrap_or(u16::MAX),
        });
    }
    Ok(HeaderParts {
        message_type,
        version,
        terminal_id,
        timestamp,
        flags,
        declared,
        crc: crc_value,
        data,
    })
}

/// Parses the header at the start of `payload` (the bytes after STX) and returns it with the
/// data that follows. The data length is checked per `length`, the CRC field per `crc`.
pub fn parse_header(
    payload: &[u8],
    crc: CrcPolicy,
    length: LengthPolicy,
) -> Result<(Header, &[u8])> {
    let p = check_header(payload, crc, length)?;
    Ok((
        Header {
            message_type: p.message_type,
            version: p.version,
            // From the bytes, without a UTF-8 check (no `str::from_utf8` in firmware).
            terminal_id: TerminalId::from_ascii(p.terminal_id).map_err(|_| terminal_id_error())?,
            timestamp: p.timestamp,
            flags: p.flags,
            length: DataLength {
                declared: p.declared,
                actual: p.data.len(),
            },
            crc: p.crc,
        },
        p.data,
    ))
}

/// Something emit writes to: a byte counter or a buffer.
pub(crate) trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

/// Counts bytes (the first pass of every emit).
#[derive(Default)]
pub(crate) struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// Writes into a slice whose size was checked by a [`Counter`] pass.
pub(crate) struct SliceWriter<'a> {
    pub buf: &'a mut [u8],
    pub pos: usize,
}

impl Sink for SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

fn put_hex4(s: &mut (impl Sink + ?Sized), v: u16) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = [0u8; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let nibble = (v >> (12 - 4 * i)) & 0xF;
        *slot = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
    }
    s.put(&out);
}

fn put_2(s: &mut (impl Sink + ?Sized), v: u16) {
    let v = v % 100;
    s.put(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
}

/// What a header is written from, borrowed: the sessions write theirs from their
/// configuration and clock without building (and cloning the terminal id into) a [`Header`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderRef<'a> {
    pub(crate) version: [u8; 2],
    pub(crate) terminal_id: &'a TerminalId,
    pub(crate) timestamp: Timestamp,
    pub(crate) flags: Flags,
    pub(crate) crc: CrcField,
}

impl Header {
    /// The fields written on emit, borrowed.
    pub(crate) fn borrowed(&self) -> HeaderRef<'_> {
        HeaderRef {
            version: self.version,
            terminal_id: &self.terminal_id,
            timestamp: self.timestamp,
            flags: self.flags,
            crc: self.crc,
        }
    }
}

/// Writes the 36 header characters with `data_len` as the length field.
pub(crate) fn emit_header(
    h: HeaderRef<'_>,
    ty: MessageType,
    data_len: u16,
    s: &mut (impl Sink + ?Sized),
) {
    s.put(ty.code().as_bytes());
    s.put(&h.version);
    let id = h.terminal_id.as_str().as_bytes();
    s.put(id);
    for _ in id.len()..TERMINAL_ID.len() {
        s.put(b" ");
    }
    let t = &h.timestamp;
    put_2(s, t.year);
    put_2(s, u16::from(t.month));
    put_2(s, u16::from(t.day));
    put_2(s, u16::from(t.hour));
    put_2(s, u16::from(t.minute));
    put_2(s, u16::from(t.second));
    put_hex4(s, h.flags.0);
    put_hex4(s, data_len);
    s.put(&h.crc.0);
}

/// The header as text (for logs): at most [`HEADER_LEN`] characters.
pub fn header_text(h: &Header, data_len: u16) -> String<HEADER_LEN> {
    let mut buf = [0u8; HEADER_LEN];
    let mut w = SliceWriter {
        buf: &mut buf,
        pos: 0,
    };
    emit_header(h.borrowed(), h.message_type, data_len, &mut w);
    let mut s = String::new();
    for &b in &buf {
        let _ = s.push(char::from(b));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        let mut h = Header::new(
            MessageType::TransactionRequest,
            TerminalId::new("12345678").unwrap(),
            Timestamp::new(2024, 3, 15, 14, 30, 5).unwrap(),
        );
        h.flags = Flags(0x8000);
        h
    }

    proptest::proptest! {
        /// The check without a header agrees with the parse: the same error, or both accept
        /// with the same fields (terminal ids mostly valid, some with padding inside, a DEL, a
        /// control or a high byte).
        #[test]
        fn check_header_agrees_with_parse_header(
            tid in proptest::collection::vec(proptest::sample::select(vec![b' ', b' ', b'A', b'A', b'7', b'~', b'z', b'0', 0x7f, 0xe8, 0x1f]), 8),
            strict in proptest::bool::ANY,
        ) {
            let mut bytes = b"B101".to_vec();
            bytes.extend_from_slice(&tid);
            bytes.extend_from_slice(b"24031514300580000013A5A5\x1cT00");
            let length = if strict { LengthPolicy::Strict } else { LengthPolicy::Lenient };
            let checked = check_header(&bytes, CrcPolicy::Ignore, length);
            match parse_header(&bytes, CrcPolicy::Ignore, length) {
                Ok((h, data)) => {
                    let p = checked.map_err(|e| proptest::test_runner::TestCaseError::fail(std::format!("{e:?}")))?;
                    proptest::prop_assert_eq!(p.terminal_id, h.terminal_id.as_str().as_bytes());
                    proptest::prop_assert_eq!(p.timestamp, h.timestamp);
                    proptest::prop_assert_eq!(p.message_type, h.message_type);
                    proptest::prop_assert_eq!(p.data, data);
                }
                Err(e) => proptest::prop_assert_eq!(checked.err(), Some(e)),
            }
        }
    }

    #[test]
    fn header_bytes_exact_both_ways() {
        let bytes = b"B1011234567824031514300580000013A5A50";
        assert_eq!(bytes.len(), HEADER_LEN + 1);
        let text = header_text(&sample(), 0x13);
        assert_eq!(text.as_bytes(), &bytes[..HEADER_LEN]);
        let (h, data) = parse_header(bytes, CrcPolicy::Ignore, LengthPolicy::Lenient).unwrap();
        assert_eq!(data, b"0");
        assert_eq!(
            h.length,
            DataLength {
                declared: 0x13,
                actual: 1
            }
        );
        assert!(!h.length.matches());
        let mut expected = sample();
        expected.length = h.length;
        assert_eq!(h, expected);
    }

    #[test]
    fn policies() {
        let bytes = b"B0011234567824031514300500000001XXXX\x1c";
        let (h, _) = parse_header(bytes, CrcPolicy::Ignore, LengthPolicy::Strict).unwrap();
        assert_eq!(h.crc, CrcField(*b"XXXX"));
        assert_eq!(
            parse_header(
                bytes,
                CrcPolicy::Expect(CrcField::PUBLIC_CLIENT),
                LengthPolicy::Lenient
            ),
            Err(Error::CsobCrcMismatch)
        );
        let bad_len = b"B0011234567824031514300500000002A5A5\x1c";
        assert_eq!(
            parse_header(bad_len, CrcPolicy::Ignore, LengthPolicy::Strict),
            Err(Error::CsobLengthMismatch {
                declared: 2,
                actual: 1
            })
        );
        assert!(parse_header(bad_len, CrcPolicy::Ignore, LengthPolicy::Lenient).is_ok());
    }

    #[test]
    fn header_errors_name_the_part() {
        let good = *b"B1011234567824031514300580000000A5A5";
        let cases: &[(usize, u8, &str)] = &[
            (1, b'9', "message type"),
            (2, b'x', "version"),
            (4, b' ', "terminal id"),
            (14, b'1', "timestamp"),
            (12, b'x', "timestamp"),
            (25, b'g', "flags"),
            (31, b'-', "data length"),
        ];
        for &(pos, byte, field) in cases {
            let mut b = good;
            b[pos] = byte;
            if field == "terminal id" {
                b[4..12].copy_from_slice(b"        ");
            }
            let e = parse_header(&b, CrcPolicy::Ignore, LengthPolicy::Lenient).unwrap_err();
            assert_eq!(e, Error::CsobHeader { field }, "byte {pos}");
        }
        assert_eq!(
            parse_header(&good[..35], CrcPolicy::Ignore, LengthPolicy::Lenient),
            Err(Error::Truncated {
                what: "csob header"
            })
        );
    }

    #[test]
    fn short_terminal_id_is_padded_and_trimmed() {
        let mut h = sample();
        h.terminal_id = TerminalId::new("T1").unwrap();
        let text = header_text(&h, 0);
        assert_eq!(&text.as_bytes()[TERMINAL_ID], b"T1      ");
        let (back, _) =
            parse_header(text.as_bytes(), CrcPolicy::Ignore, LengthPolicy::Lenient).unwrap();
        assert_eq!(back.terminal_id.as_str(), "T1");
    }
}
