//! The data elements the codec knows, with their ISO 8583:1987 formats.

/// Characters a field may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Charset {
    /// `n`: decimal digits.
    Numeric,
    /// `an`: letters and digits; spaces are accepted too, as hosts pad with them.
    Alphanumeric,
    /// `ans`: printable ASCII (space to `~`).
    Printable,
    /// Binary data carried as upper-case hex characters (field 55); the stored value is the
    /// binary, the length prefix counts hex characters.
    BinaryAsHex,
    /// `b`: raw bytes, as they are (fields 64 and 128, the message authentication code); a
    /// fixed length counts bytes. As pyiso8583's `default_ascii` spec carries them.
    Binary,
}

impl Charset {
    /// Whether `b` may appear in the wire form of a field of this charset.
    pub fn allows(self, b: u8) -> bool {
        match self {
            Charset::Numeric => b.is_ascii_digit(),
            Charset::Alphanumeric => b.is_ascii_alphanumeric() || b == b' ',
            Charset::Printable => (0x20..0x7F).contains(&b),
            Charset::BinaryAsHex => b.is_ascii_hexdigit(),
            Charset::Binary => true,
        }
    }
}

/// How a field's length is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Length {
    /// Always this many characters.
    Fixed(u16),
    /// Two ASCII digits of length, then at most this many characters.
    LlVar(u16),
    /// Three ASCII digits of length, then at most this many characters.
    LllVar(u16),
}

/// The format of one data element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FieldSpec {
    /// Field (bit) number, 2–128.
    pub number: u8,
    /// Characters allowed.
    pub charset: Charset,
    /// Length on the wire, in characters.
    pub length: Length,
    /// Short name.
    pub name: &'static str,
}

impl FieldSpec {
    /// The most wire characters of the value (without its length prefix).
    pub const fn max_wire(&self) -> usize {
        match self.length {
            Length::Fixed(n) | Length::LlVar(n) | Length::LllVar(n) => n as usize,
        }
    }

    /// The most bytes of the stored value (half the wire characters for binary-as-hex).
    pub const fn max_value(&self) -> usize {
        match self.charset {
            Charset::BinaryAsHex => self.max_wire() / 2,
            _ => self.max_wire(),
        }
    }

    /// Digits of the length prefix (0 for a fixed-length field).
    pub const fn prefix_digits(&self) -> usize {
        match self.length {
            Length::Fixed(_) => 0,
            Length::LlVar(_) => 2,
            Length::LllVar(_) => 3,
        }
    }
}

const fn spec(number: u8, charset: Charset, length: Length, name: &'static str) -> FieldSpec {
    FieldSpec {
        number,
        charset,
        length,
        name,
    }
}

use Charset::{
    Alphanumeric as AN, Binary as RAW, BinaryAsHex as B, Numeric as N, Printable as ANS,
};
use Length::{Fixed, LlVar, LllVar};

/// Every field the codec knows, in field order. Formats from ISO 8583:1987; they agree with
/// the `default_ascii` spec of the pyiso8583 library (4.0.1) except that field 54 keeps the
/// 1987 maximum of 120 characters (pyiso8583: 240). Fields 74, 76, 86 and 88 (batch totals)
/// are known in addition to the acquirer-link list, for reconciliation (0500/0510), and field 95
/// (replacement amounts) for a partial reversal (0400) of a pre-authorisation; fields 64
/// and 128 carry the message authentication code (see [`super::mac`]).
pub const FIELDS: [FieldSpec; 28] = [
    spec(2, N, LlVar(19), "primary account number"),
    spec(3, N, Fixed(6), "processing code"),
    spec(4, N, Fixed(12), "amount, transaction"),
    spec(7, N, Fixed(10), "transmission date and time"),
    spec(11, N, Fixed(6), "system trace audit number"),
    spec(12, N, Fixed(6), "time, local transaction"),
    spec(13, N, Fixed(4), "date, local transaction"),
    spec(14, N, Fixed(4), "date, expiration"),
    spec(22, N, Fixed(3), "point of service entry mode"),
    spec(23, N, Fixed(3), "card sequence number"),
    spec(25, N, Fixed(2), "point of service condition code"),
    spec(37, AN, Fixed(12), "retrieval reference number"),
    spec(38, AN, Fixed(6), "authorization identification response"),
    spec(39, AN, Fixed(2), "response code"),
    spec(41, ANS, Fixed(8), "card acceptor terminal identification"),
    spec(42, ANS, Fixed(15), "card acceptor identification code"),
    spec(49, N, Fixed(3), "currency code, transaction"),
    spec(54, AN, LllVar(120), "additional amounts"),
    spec(55, B, LllVar(510), "ICC data"),
    spec(64, RAW, Fixed(8), "message authentication code"),
    spec(70, N, Fixed(3), "network management information code"),
    spec(74, N, Fixed(10), "credits, number"),
    spec(76, N, Fixed(10), "debits, number"),
    spec(86, N, Fixed(16), "credits, amount"),
    spec(88, N, Fixed(16), "debits, amount"),
    spec(90, N, Fixed(42), "original data elements"),
    spec(95, AN, Fixed(42), "replacement amounts"),
    spec(128, RAW, Fixed(8), "message authentication code"),
];

/// The spec of `number` and its index in [`FIELDS`], if the codec knows the field.
pub fn lookup(number: u8) -> Option<(usize, &'static FieldSpec)> {
    let index = usize::from(*INDEX_OF.get(usize::from(number))?).checked_sub(1)?;
    Some((index, FIELDS.get(index)?))
}

/// The position of each known field in [`FIELDS`] plus one, by field number (0: unknown):
/// one load where a search would compare up to 28 numbers.
// Evaluated at compile time: an index out of range fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
pub(super) const INDEX_OF: [u8; 129] = {
    let mut t = [0u8; 129];
    let mut i = 0;
    while i < FIELDS.len() {
        t[FIELDS[i].number as usize] = i as u8 + 1;
        i += 1;
    }
    t
};

/// Where each field's value lives in [`super::IsoMessage`]'s storage.
// Evaluated at compile time: an index out of range fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
pub(super) const OFFSETS: [usize; FIELDS.len() + 1] = {
    let mut out = [0usize; FIELDS.len() + 1];
    let mut i = 0;
    while i < FIELDS.len() {
        out[i + 1] = out[i] + FIELDS[i].max_value();
        i += 1;
    }
    out
};

/// Bytes of value storage all known fields need together.
#[allow(clippy::indexing_slicing)] // compile-time constant, as above
pub(super) const STORAGE: usize = OFFSETS[FIELDS.len()];
