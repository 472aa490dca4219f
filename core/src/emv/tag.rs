//! BER-TLV tags and the names of the EMV tags the core knows.

use core::fmt;

/// A BER-TLV tag of 1–4 bytes, held as the big-endian number of its bytes (`9F26` is
/// `Tag::new(0x9F26)`). A value of this type is always a well-formed tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tag(u32);

impl Tag {
    /// Application Identifier (AID) – card (`4F`).
    pub const AID: Tag = Tag(0x4F);
    /// Application Label (`50`), ans 1–16: printed on receipts.
    pub const APPLICATION_LABEL: Tag = Tag(0x50);
    /// Track 2 Equivalent Data (`57`): sensitive, never shown.
    pub const TRACK2_EQUIVALENT: Tag = Tag(0x57);
    /// Application Primary Account Number (`5A`): shown masked only.
    pub const PAN: Tag = Tag(0x5A);
    /// Track 1 Data (`56`): sensitive, never shown.
    pub const TRACK1: Tag = Tag(0x56);
    /// Cardholder Name (`5F20`).
    pub const CARDHOLDER_NAME: Tag = Tag(0x5F20);
    /// Transaction Currency Code (`5F2A`).
    pub const TRANSACTION_CURRENCY: Tag = Tag(0x5F2A);
    /// Application PAN Sequence Number (`5F34`).
    pub const PAN_SEQUENCE: Tag = Tag(0x5F34);
    /// Response Message Template Format 2 (`77`).
    pub const RESPONSE_TEMPLATE_2: Tag = Tag(0x77);
    /// READ RECORD Response Message Template (`70`).
    pub const RECORD_TEMPLATE: Tag = Tag(0x70);
    /// Application Interchange Profile (`82`).
    pub const AIP: Tag = Tag(0x82);
    /// Authorisation Response Code (`8A`), an 2.
    pub const ARC: Tag = Tag(0x8A);
    /// Issuer Authentication Data (`91`).
    pub const ISSUER_AUTHENTICATION_DATA: Tag = Tag(0x91);
    /// Terminal Verification Results (`95`), 5 bytes.
    pub const TVR: Tag = Tag(0x95);
    /// Transaction Date (`9A`), YYMMDD.
    pub const TRANSACTION_DATE: Tag = Tag(0x9A);
    /// Transaction Status Information (`9B`), 2 bytes.
    pub const TSI: Tag = Tag(0x9B);
    /// Transaction Type (`9C`).
    pub const TRANSACTION_TYPE: Tag = Tag(0x9C);
    /// Amount, Authorised (`9F02`).
    pub const AMOUNT_AUTHORISED: Tag = Tag(0x9F02);
    /// Amount, Other (`9F03`).
    pub const AMOUNT_OTHER: Tag = Tag(0x9F03);
    /// Application Identifier (AID) – terminal (`9F06`).
    pub const AID_TERMINAL: Tag = Tag(0x9F06);
    /// Issuer Application Data (`9F10`).
    pub const IAD: Tag = Tag(0x9F10);
    /// Application Preferred Name (`9F12`).
    pub const APPLICATION_PREFERRED_NAME: Tag = Tag(0x9F12);
    /// Terminal Country Code (`9F1A`).
    pub const TERMINAL_COUNTRY: Tag = Tag(0x9F1A);
    /// Track 1 Discretionary Data (`9F1F`): sensitive, never shown.
    pub const TRACK1_DISCRETIONARY: Tag = Tag(0x9F1F);
    /// Track 2 Discretionary Data (`9F20`): sensitive, never shown.
    pub const TRACK2_DISCRETIONARY: Tag = Tag(0x9F20);
    /// Application Cryptogram (`9F26`), 8 bytes.
    pub const AC: Tag = Tag(0x9F26);
    /// Cryptogram Information Data (`9F27`).
    pub const CID: Tag = Tag(0x9F27);
    /// Cardholder Verification Method Results (`9F34`), 3 bytes.
    pub const CVM_RESULTS: Tag = Tag(0x9F34);
    /// Application Transaction Counter (`9F36`), 2 bytes.
    pub const ATC: Tag = Tag(0x9F36);
    /// Unpredictable Number (`9F37`).
    pub const UNPREDICTABLE_NUMBER: Tag = Tag(0x9F37);
    /// Track 2 Data of contactless magnetic-stripe mode (`9F6B`): sensitive, never shown.
    pub const TRACK2_CONTACTLESS: Tag = Tag(0x9F6B);

    /// The tag whose bytes, big-endian, make `value` (`0x9F26` → `9F 26`), if they form a
    /// well-formed BER tag of 1–4 bytes: a one-byte tag does not have `1F` as its low five
    /// bits; a longer one does, and its following bytes have bit 8 set except the last.
    pub const fn new(value: u32) -> Option<Tag> {
        let len = Tag(value).len();
        if value == 0 {
            return None;
        }
        let first = (value >> (8 * (len - 1))) as u8;
        if len == 1 {
            return if first & 0x1F == 0x1F {
                None
            } else {
                Some(Tag(value))
            };
        }
        if first & 0x1F != 0x1F {
            return None;
        }
        let mut i = len - 1;
        while i > 0 {
            i -= 1;
            let b = (value >> (8 * i)) as u8;
            let more = b & 0x80 != 0;
            if more != (i > 0) {
                return None;
            }
        }
        Some(Tag(value))
    }

    /// A tag from its bytes as they appear on the wire, if they form exactly one tag.
    pub fn from_bytes(bytes: &[u8]) -> Option<Tag> {
        if bytes.is_empty() || bytes.len() > 4 {
            return None;
        }
        let value = bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
        match bytes.first() {
            Some(0) => None,
            _ => Tag::new(value),
        }
    }

    /// Crate-internal: a tag assembled by the parser, already checked.
    pub(crate) const fn from_parsed(value: u32) -> Tag {
        Tag(value)
    }

    /// The tag as a number (`0x9F26`).
    pub const fn value(self) -> u32 {
        self.0
    }

    /// Number of bytes of the tag on the wire (1–4).
    pub const fn len(self) -> usize {
        if self.0 > 0xFF_FFFF {
            4
        } else if self.0 > 0xFFFF {
            3
        } else if self.0 > 0xFF {
            2
        } else {
            1
        }
    }

    /// Always false: a tag has at least one byte.
    pub const fn is_empty(self) -> bool {
        false
    }

    /// The tag's bytes as they go on the wire; the first [`Tag::len`] bytes are used.
    pub const fn to_bytes(self) -> ([u8; 4], usize) {
        let len = self.len();
        ((self.0 << (8 * (4 - len))).to_be_bytes(), len)
    }

    /// The first byte, which carries the class and the constructed bit.
    const fn first_byte(self) -> u8 {
        (self.0 >> (8 * (self.len() - 1))) as u8
    }

    /// Whether the value is itself a sequence of TLV objects (bit 6 of the first byte).
    pub const fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    /// The EMV name of the tag, if the core knows it.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(t, _)| *t == self.0).map(|(_, n)| *n)
    }

    /// Whether the value is text to show as such (application label, preferred name,
    /// cardholder name, language preference).
    pub fn is_text(self) -> bool {
        matches!(self.0, 0x50 | 0x9F12 | 0x5F20 | 0x5F2D)
    }

    /// Whether the value is card data that must never be shown whole: the PAN (shown masked),
    /// track 1 / track 2 data and their discretionary parts (never shown).
    pub fn is_sensitive(self) -> bool {
        matches!(self.0, 0x5A | 0x56 | 0x57 | 0x9F1F | 0x9F20 | 0x9F6B)
    }
}

impl fmt::Display for Tag {
    /// Upper-case hex of the wire bytes: `9F26`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (bytes, len) = self.to_bytes();
        for b in bytes.iter().take(len) {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Names from EMV Book 3 Annex A (and Book C-2 for `9F6B`).
const NAMES: &[(u32, &str)] = &[
    (0x42, "Issuer Identification Number"),
    (0x4F, "Application Identifier (card)"),
    (0x50, "Application Label"),
    (0x56, "Track 1 Data"),
    (0x57, "Track 2 Equivalent Data"),
    (0x5A, "Application PAN"),
    (0x5F20, "Cardholder Name"),
    (0x5F24, "Application Expiration Date"),
    (0x5F25, "Application Effective Date"),
    (0x5F28, "Issuer Country Code"),
    (0x5F2A, "Transaction Currency Code"),
    (0x5F2D, "Language Preference"),
    (0x5F30, "Service Code"),
    (0x5F34, "PAN Sequence Number"),
    (0x5F36, "Transaction Currency Exponent"),
    (0x61, "Application Template"),
    (0x6F, "FCI Template"),
    (0x70, "Record Template"),
    (0x71, "Issuer Script Template 1"),
    (0x72, "Issuer Script Template 2"),
    (0x77, "Response Message Template Format 2"),
    (0x80, "Response Message Template Format 1"),
    (0x82, "Application Interchange Profile"),
    (0x84, "Dedicated File Name"),
    (0x86, "Issuer Script Command"),
    (0x87, "Application Priority Indicator"),
    (0x88, "Short File Identifier"),
    (0x89, "Authorisation Code"),
    (0x8A, "Authorisation Response Code"),
    (0x8C, "CDOL1"),
    (0x8D, "CDOL2"),
    (0x8E, "CVM List"),
    (0x8F, "CA Public Key Index"),
    (0x90, "Issuer Public Key Certificate"),
    (0x91, "Issuer Authentication Data"),
    (0x92, "Issuer Public Key Remainder"),
    (0x93, "Signed Static Application Data"),
    (0x94, "Application File Locator"),
    (0x95, "Terminal Verification Results"),
    (0x9A, "Transaction Date"),
    (0x9B, "Transaction Status Information"),
    (0x9C, "Transaction Type"),
    (0x9D, "DDF Name"),
    (0xA5, "FCI Proprietary Template"),
    (0x9F01, "Acquirer Identifier"),
    (0x9F02, "Amount, Authorised"),
    (0x9F03, "Amount, Other"),
    (0x9F06, "Application Identifier (terminal)"),
    (0x9F07, "Application Usage Control"),
    (0x9F08, "Application Version Number (card)"),
    (0x9F09, "Application Version Number (terminal)"),
    (0x9F0D, "Issuer Action Code - Default"),
    (0x9F0E, "Issuer Action Code - Denial"),
    (0x9F0F, "Issuer Action Code - Online"),
    (0x9F10, "Issuer Application Data"),
    (0x9F11, "Issuer Code Table Index"),
    (0x9F12, "Application Preferred Name"),
    (0x9F1A, "Terminal Country Code"),
    (0x9F1E, "IFD Serial Number"),
    (0x9F1F, "Track 1 Discretionary Data"),
    (0x9F20, "Track 2 Discretionary Data"),
    (0x9F21, "Transaction Time"),
    (0x9F26, "Application Cryptogram"),
    (0x9F27, "Cryptogram Information Data"),
    (0x9F33, "Terminal Capabilities"),
    (0x9F34, "CVM Results"),
    (0x9F35, "Terminal Type"),
    (0x9F36, "Application Transaction Counter"),
    (0x9F37, "Unpredictable Number"),
    (0x9F38, "PDOL"),
    (0x9F39, "POS Entry Mode"),
    (0x9F40, "Additional Terminal Capabilities"),
    (0x9F41, "Transaction Sequence Counter"),
    (0x9F4C, "ICC Dynamic Number"),
    (0x9F53, "Transaction Category Code"),
    (0x9F5B, "Issuer Script Results"),
    (0x9F66, "Terminal Transaction Qualifiers"),
    (0x9F6B, "Track 2 Data"),
    (0x9F6E, "Form Factor Indicator"),
    (0x9F7C, "Customer Exclusive Data"),
    (0xBF0C, "FCI Issuer Discretionary Data"),
];
