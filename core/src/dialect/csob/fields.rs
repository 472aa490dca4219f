//! The data part of a message: fields `FS tag value`, sub-fields `GS tag value` inside a value.
//!
//! Source: `Payment.java` (`prevodnik` writes `FS` before every field; the reference is written
//! `FS '9' GS 'S' …`; the ticket request `FS '9' GS 't' …`) and `Message.java` (splits a
//! message at FS, GS and ETX) in `l1zard/react-native-enigoo-terminal`.
//!
//! A [`FieldsView`] is checked once on construction; after that its iterators never fail.

use crate::link::control::{FS, GS};
use crate::{Error, Result};

/// Field tags. Those marked *ecrlink convention* are not in the public source: the public
/// client never sends or reads them, and a real terminal may not know them.
pub mod tag {
    /// Transaction code, `T` + two digits. In a B4, receipt lines: `T` + attribute + text.
    pub const TXN: u8 = b'T';
    /// Amount in minor units, digits only (`Payment.java`: `"B" + price without the point`).
    pub const AMOUNT: u8 = b'B';
    /// Currency, ISO 4217 numeric (`E203` = CZK in `Payment.java`).
    pub const CURRENCY: u8 = b'E';
    /// Approval code (`createReversalRequest`: `"F" + approvalCode`; read back from B2 by
    /// `parseApprovalCode`).
    pub const APPROVAL: u8 = b'F';
    /// Result code (`R000`, `R-01`, …).
    pub const RESULT: u8 = b'R';
    /// Response message text (`parseResponseMessage` in `Response.java`).
    pub const MESSAGE: u8 = b'g';
    /// A field holding sub-fields: `S` reference, `t` receipt selector.
    pub const SUB: u8 = b'9';
    /// Receipt continuation in a B4: `t1` means another part follows.
    pub const RECEIPT_MORE: u8 = b't';
    /// Cashback amount in minor units (ecrlink convention).
    pub const CASHBACK: u8 = b'C';
    /// Masked PAN, first 6 / last 4 digits (ecrlink convention).
    pub const PAN: u8 = b'P';
    /// In the answer to a T82 (last transaction): the two-digit T code of the transaction it
    /// describes, `K04` for a refund (ecrlink convention; T82 answers repeat `T82`).
    pub const ORIGINAL: u8 = b'K';
    /// How the card was read: `Mchip`, `Mcontactless`, `Mswipe`, `Mmanual` (ecrlink
    /// convention).
    pub const ENTRY_MODE: u8 = b'M';
    /// Trace number (ISO 8583 STAN) of the bank exchange, digits (ecrlink convention).
    pub const TRACE: u8 = b'N';
    /// Totals of one currency, in sub-fields (ecrlink convention, see the message module).
    pub const CURRENCY_TOTALS: u8 = b'Y';
    /// Totals of one card scheme, in sub-fields (ecrlink convention).
    pub const SCHEME_TOTALS: u8 = b'Z';
    /// Sub-field of `9`: the ECR's reference (variable symbol), up to 20 characters.
    pub const SUB_REFERENCE: u8 = b'S';
    /// The ECR's reference as a plain field: `Payment.java` writes a reference of 1–9
    /// characters as `FS 'S' …` and one of 10–20 characters inside the `9` group.
    pub const REFERENCE: u8 = b'S';
    /// Sub-field of `9`: receipt selector `M`, `C` or `-`.
    pub const SUB_TICKET: u8 = b't';
}

/// One field: its tag byte and its value (which may hold GS sub-fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// Tag byte.
    pub tag: u8,
    /// Bytes after the tag up to the next FS or the end.
    pub value: &'a [u8],
}

impl<'a> Field<'a> {
    /// The part of the value before the first GS.
    pub fn head(&self) -> &'a [u8] {
        self.value.split(|&b| b == GS).next().unwrap_or_default()
    }

    /// The sub-fields (`GS tag value`) after the head; an empty sub-field is skipped.
    pub fn subfields(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        self.value
            .split(|&b| b == GS)
            .skip(1)
            .filter_map(|s| s.split_first().map(|(&tag, value)| Field { tag, value }))
    }

    /// The first sub-field with `tag`.
    pub fn subfield(&self, tag: u8) -> Option<&'a [u8]> {
        self.subfields().find(|f| f.tag == tag).map(|f| f.value)
    }
}

/// The data after the header, checked: empty, or `FS` followed by non-empty fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldsView<'a> {
    data: &'a [u8],
}

impl<'a> FieldsView<'a> {
    /// Checks `data`: it must be empty or start with FS, and no field may be empty.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        if let Some((&first, rest)) = data.split_first() {
            if first != FS {
                return Err(Error::CsobField {
                    field: "data (must start with FS)",
                });
            }
            if rest.split(|&b| b == FS).any(|f| f.is_empty()) {
                return Err(Error::CsobField {
                    field: "empty field",
                });
            }
        }
        Ok(FieldsView { data })
    }

    /// The raw data.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Every field in order.
    pub fn iter(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        self.data
            .get(1..)
            .unwrap_or_default()
            .split(|&b| b == FS)
            .filter_map(|f| f.split_first().map(|(&tag, value)| Field { tag, value }))
    }

    /// The first field with `tag`.
    pub fn first(&self, tag: u8) -> Option<Field<'a>> {
        self.iter().find(|f| f.tag == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_subfields() {
        let v = FieldsView::new(b"\x1cT00\x1cB1250\x1c9\x1dSORDER1\x1cE203").unwrap();
        let tags: heapless::Vec<u8, 8> = v.iter().map(|f| f.tag).collect();
        assert_eq!(&tags[..], b"TB9E");
        let nine = v.first(b'9').unwrap();
        assert_eq!(nine.head(), b"");
        assert_eq!(nine.subfield(b'S'), Some(&b"ORDER1"[..]));
        assert_eq!(v.first(b'B').unwrap().value, b"1250");
        assert!(v.first(b'F').is_none());
        assert_eq!(FieldsView::new(b"").unwrap().iter().count(), 0);
    }

    #[test]
    fn malformed_data() {
        assert!(FieldsView::new(b"T00").is_err());
        assert!(FieldsView::new(b"\x1c").is_err());
        assert!(FieldsView::new(b"\x1cT00\x1c\x1cB1").is_err());
        assert!(FieldsView::new(b"\x1cT00\x1c").is_err());
    }
}
