//! Keeping card data on the bank link: the EMV data a card gives carries the card number and
//! track data, which may go to the bank and nowhere else.

use super::{Tag, emit_primitive, walk};
use crate::txn::EmvData;

/// Tags that never leave the bank link: they are dropped by [`redact`].
///
/// | tag | what |
/// |---|---|
/// | `5A` | application PAN |
/// | `57` | track 2 equivalent data |
/// | `56` | track 1 data |
/// | `9F6B` | track 2 data (contactless, magstripe mode) |
/// | `9F1F` | track 1 discretionary data |
/// | `9F20` | track 2 discretionary data |
/// | `5F20` | cardholder name |
/// | `9F0B` | cardholder name extended |
/// | `5F24` | application expiration date |
/// | `5F30` | service code |
/// | `99` | transaction personal identification number (PIN) data |
pub const SENSITIVE_TAGS: [u32; 11] = [
    0x5A, 0x57, 0x56, 0x9F6B, 0x9F1F, 0x9F20, 0x5F20, 0x9F0B, 0x5F24, 0x5F30, 0x99,
];

/// Whether `tag` is one of the [`SENSITIVE_TAGS`].
pub fn is_sensitive(tag: Tag) -> bool {
    SENSITIVE_TAGS.contains(&tag.value())
}

/// The EMV data that may leave the bank link (journal, log, receipt, till): every primitive
/// object of `data` except the [`SENSITIVE_TAGS`], found at any depth and written as one flat
/// list in the order met (templates such as `70` or `77` are not kept, their other contents
/// are). Malformed data gives nothing at all — what cannot be read cannot be shown to be
/// free of card data. Objects that no longer fit the 256 bytes of [`EmvData`] are left out.
pub fn redact(data: &[u8]) -> EmvData {
    let mut out = EmvData::new();
    let mut buf = [0u8; 256];
    let mut used = 0usize;
    let walked = walk(data, &mut |tlv| {
        if tlv.is_constructed() || is_sensitive(tlv.tag) {
            return Ok(());
        }
        if let Some(rest) = buf.get_mut(used..) {
            // An object that does not fit is skipped; smaller ones after it may still fit.
            if let Ok(n) = emit_primitive(tlv.tag, tlv.value, rest) {
                used += n;
            }
        }
        Ok(())
    });
    if walked.is_ok() {
        if let Some(bytes) = buf.get(..used) {
            let _ = out.extend_from_slice(bytes);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_number_and_tracks_are_dropped_at_any_depth() {
        // 70 { 5A pan, 57 track2, 9F36 ATC } 9F6B track2 50 "VISA" 5F20 name 99 pin
        let data = [
            0x70, 0x14, 0x5A, 0x08, 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19, 0x57, 0x03,
            0x47, 0x61, 0xD2, 0x9F, 0x36, 0x02, 0x00, 0x2A, 0x9F, 0x6B, 0x02, 0x47, 0x61, 0x50,
            0x04, b'V', b'I', b'S', b'A', 0x5F, 0x20, 0x03, b'D', b'O', b'E', 0x99, 0x01, 0x12,
        ];
        let r = redact(&data);
        assert_eq!(
            &r[..],
            &[
                0x9F, 0x36, 0x02, 0x00, 0x2A, 0x50, 0x04, b'V', b'I', b'S', b'A'
            ][..]
        );
    }

    #[test]
    fn malformed_data_gives_nothing() {
        assert!(redact(&[0x5A, 0x08, 0x47]).is_empty());
        assert!(redact(&[]).is_empty());
    }
}
