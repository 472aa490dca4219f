//! The application cryptogram (EMV tag `9F26`) of ecrlink's virtual cards, and its check by
//! the issuer (the bank simulator).
//!
//! **A test scheme, not a card scheme's.** Real cards compute an ARQC with a key of their own
//! derived from the issuer's master key (EMV Book 2, A1.4 and the schemes' cryptogram
//! versions, e.g. Visa CVN 10/18, Mastercard M/Chip); those keys and algorithms are not
//! public. This module stands in for them with the same shape, so that an issuer can tell
//! data the card signed from data changed on the way:
//!
//! - **The card's key** ([`CardKey::derive`]): HMAC-SHA-256 (the bank link's MAC primitive,
//!   [`MacKey`]) under an issuer master key, of the text `ecrlink-card-key`, the card number's
//!   digits and the PAN sequence number as two digits. The simulators use
//!   [`TEST_ISSUER_MASTER_KEY`], a fixed and public key: anyone can make a card it accepts.
//! - **The cryptogram** ([`compute`]): HMAC-SHA-256 under the card's key of the objects of
//!   [`COVERED_TAGS`], in that order, each as tag, one length byte and value (the order of
//!   the CDOL1 data a card commonly asks for, then the card's own AIP, ATC and IAD),
//!   truncated to its first 8 bytes.
//! - **The check** ([`verify`]): the same computation over the data the bank received,
//!   compared in constant time with `9F26`.
//!
//! ```
//! use ecrlink_core::bank::cryptogram::{self, CardKey, Check, TEST_ISSUER_MASTER_KEY};
//! use ecrlink_core::bank::MacKey;
//! use ecrlink_core::txn::Pan;
//! let key = CardKey::derive(&MacKey::new(TEST_ISSUER_MASTER_KEY), &Pan::new("4761739001010119")?, 1);
//! let mut emv = vec![
//!     0x9F, 0x02, 6, 0, 0, 0, 0, 0x12, 0x50, 0x9F, 0x03, 6, 0, 0, 0, 0, 0, 0,
//!     0x9F, 0x1A, 2, 0x02, 0x03, 0x95, 5, 0, 0, 0, 0, 0, 0x5F, 0x2A, 2, 0x02, 0x03,
//!     0x9A, 3, 0x26, 0x12, 0x07, 0x9C, 1, 0, 0x9F, 0x37, 4, 1, 2, 3, 4,
//!     0x82, 2, 0x39, 0x00, 0x9F, 0x36, 2, 0, 7, 0x9F, 0x10, 7, 6, 1, 0x0A, 3, 0xA0, 0, 0,
//! ];
//! let ac = cryptogram::compute(&key, &emv)?;
//! emv.extend_from_slice(&[0x9F, 0x26, 8]);
//! emv.extend_from_slice(&ac);
//! assert_eq!(cryptogram::verify(&key, &emv), Check::Valid);
//! emv[8] = 0x99; // the amount changed on the way
//! assert_eq!(cryptogram::verify(&key, &emv), Check::Invalid);
//! # Ok::<(), ecrlink_core::Error>(())
//! ```

use super::MacKey;
use super::mac::KEY_LEN;
use crate::emv::{self, Tag};
use crate::txn::Pan;
use crate::{Error, Result};

/// Bytes of a cryptogram (`9F26`).
pub const CRYPTOGRAM_LEN: usize = 8;

/// The issuer master key of the simulators (32 bytes of ASCII text). Public, for tests only.
pub const TEST_ISSUER_MASTER_KEY: [u8; KEY_LEN] = *b"ecrlink TEST issuer master key!!";

/// The EMV objects the cryptogram covers, in order: amount authorised (`9F02`), amount other
/// (`9F03`), terminal country (`9F1A`), TVR (`95`), transaction currency (`5F2A`), date
/// (`9A`), type (`9C`), unpredictable number (`9F37`), AIP (`82`), ATC (`9F36`), issuer
/// application data (`9F10`).
pub const COVERED_TAGS: [Tag; 11] = [
    Tag::AMOUNT_AUTHORISED,
    Tag::AMOUNT_OTHER,
    Tag::TERMINAL_COUNTRY,
    Tag::TVR,
    Tag::TRANSACTION_CURRENCY,
    Tag::TRANSACTION_DATE,
    Tag::TRANSACTION_TYPE,
    Tag::UNPREDICTABLE_NUMBER,
    Tag::AIP,
    Tag::ATC,
    Tag::IAD,
];

/// The most bytes the covered objects may take together (each value at most 32 bytes).
const INPUT_MAX: usize = COVERED_TAGS.len() * (3 + 1 + 32);

/// One card's cryptogram key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CardKey(MacKey);

impl CardKey {
    /// The key of the card `pan` with PAN sequence number `sequence` (0–99) under the
    /// issuer's `master` key (see the module documentation).
    pub fn derive(master: &MacKey, pan: &Pan, sequence: u8) -> Self {
        let psn = [b'0' + sequence / 10 % 10, b'0' + sequence % 10];
        let key = master.digest(&[b"ecrlink-card-key", pan.digits().as_bytes(), &psn]);
        CardKey(MacKey::new(key))
    }
}

impl core::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CardKey(hidden)")
    }
}

/// The covered objects of `emv`, one after the other, into `buf`; the bytes used. A covered
/// tag that is missing is [`Error::Unsupported`]; malformed data is the TLV parser's error;
/// a value longer than 32 bytes is [`Error::CapacityExceeded`].
fn input<'b>(emv: &[u8], buf: &'b mut [u8; INPUT_MAX]) -> Result<&'b [u8]> {
    let mut used = 0usize;
    for tag in COVERED_TAGS {
        let value = emv::find(emv, tag)?.ok_or(Error::Unsupported {
            what: "cryptogram: a covered EMV tag is missing",
        })?;
        if value.len() > 32 {
            return Err(Error::CapacityExceeded {
                what: "cryptogram: a covered value over 32 bytes",
            });
        }
        let rest = buf.get_mut(used..).ok_or(Error::CapacityExceeded {
            what: "cryptogram input",
        })?;
        used += emv::emit_primitive(tag, value, rest)?;
    }
    buf.get(..used).ok_or(Error::CapacityExceeded {
        what: "cryptogram input",
    })
}

/// The cryptogram of `emv` under `key`: the first 8 bytes of HMAC-SHA-256 over the
/// [`COVERED_TAGS`] objects of `emv` (found at any depth; `9F26` itself, if present, is not
/// covered). Errors as the module says: a covered tag missing, malformed data.
pub fn compute(key: &CardKey, emv: &[u8]) -> Result<[u8; CRYPTOGRAM_LEN]> {
    let mut buf = [0u8; INPUT_MAX];
    Ok(key.0.mac(input(emv, &mut buf)?))
}

/// What the issuer finds checking a cryptogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Check {
    /// `9F26` is the cryptogram of the covered data.
    Valid,
    /// `9F26` is there but is not the cryptogram of the data: changed on the way, or made
    /// with another key.
    Invalid,
    /// There is no `9F26` (no chip data: a swiped or keyed card).
    Absent,
    /// `9F26` is there but a covered object is missing or the data is malformed: it cannot
    /// be checked, and an issuer declines it as it declines an invalid one.
    Incomplete,
}

/// Checks the cryptogram (`9F26`) of `emv` under `key`.
pub fn verify(key: &CardKey, emv: &[u8]) -> Check {
    let ac = match emv::find(emv, Tag::AC) {
        Ok(Some(ac)) => ac,
        Ok(None) => return Check::Absent,
        Err(_) => return Check::Incomplete,
    };
    let mut buf = [0u8; INPUT_MAX];
    match input(emv, &mut buf) {
        Ok(data) if key.0.verify(data, ac) => Check::Valid,
        Ok(_) => Check::Invalid,
        Err(_) => Check::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pan: &str, psn: u8) -> CardKey {
        CardKey::derive(
            &MacKey::new(TEST_ISSUER_MASTER_KEY),
            &Pan::new(pan).unwrap(),
            psn,
        )
    }

    /// The covered objects of a 12.50 sale, wrapped in a `77` template with a label.
    fn data(atc: u8) -> std::vec::Vec<u8> {
        let inner = [
            &[0x9F, 0x02, 6, 0, 0, 0, 0, 0x12, 0x50][..],
            &[0x9F, 0x03, 6, 0, 0, 0, 0, 0, 0],
            &[0x9F, 0x1A, 2, 0x02, 0x03],
            &[0x95, 5, 0, 0, 0, 0x80, 0],
            &[0x5F, 0x2A, 2, 0x02, 0x03],
            &[0x9A, 3, 0x26, 0x12, 0x07],
            &[0x9C, 1, 0],
            &[0x9F, 0x37, 4, 0xDE, 0xAD, 0xBE, 0xEF],
            &[0x82, 2, 0x39, 0x00],
            &[0x9F, 0x36, 2, 0, atc],
            &[0x9F, 0x10, 7, 6, 1, 0x0A, 3, 0xA0, 0, 0],
            &[0x50, 4, b'V', b'I', b'S', b'A'],
        ]
        .concat();
        let mut out = std::vec![0x77, inner.len() as u8];
        out.extend_from_slice(&inner);
        out
    }

    fn signed(key: &CardKey, mut emv: std::vec::Vec<u8>) -> std::vec::Vec<u8> {
        let ac = compute(key, &emv).unwrap();
        emv.extend_from_slice(&[0x9F, 0x26, 8]);
        emv.extend_from_slice(&ac);
        emv
    }

    #[test]
    fn a_signed_card_verifies_and_every_changed_covered_byte_is_caught() {
        let k = key("4761739001010119", 1);
        let emv = signed(&k, data(7));
        assert_eq!(verify(&k, &emv), Check::Valid);
        // Change each byte of each covered value in turn (skip the 77 header and the tags).
        let mut caught = 0;
        for i in 2..emv.len() - 11 {
            let mut bad = emv.clone();
            bad[i] ^= 0x01;
            let check = verify(&k, &bad);
            // The label (50) is not covered; a changed tag or length makes data incomplete.
            if check == Check::Valid {
                assert!(i >= 2 + 61, "byte {i} changed but still valid");
            } else {
                caught += 1;
            }
        }
        assert!(caught >= 50, "{caught}");
        // One bit of 9F26 itself.
        let mut bad = emv.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x80;
        assert_eq!(verify(&k, &bad), Check::Invalid);
    }

    #[test]
    fn the_key_is_per_card_and_per_sequence_number() {
        let emv = signed(&key("4761739001010119", 1), data(7));
        assert_eq!(verify(&key("4761739001010119", 1), &emv), Check::Valid);
        assert_eq!(verify(&key("4761739001010119", 2), &emv), Check::Invalid);
        assert_eq!(verify(&key("5413330089010434", 1), &emv), Check::Invalid);
        let other_issuer = CardKey::derive(
            &MacKey::new([9; 32]),
            &Pan::new("4761739001010119").unwrap(),
            1,
        );
        assert_eq!(verify(&other_issuer, &emv), Check::Invalid);
    }

    #[test]
    fn the_counter_changes_the_cryptogram() {
        let k = key("4761739001010119", 1);
        assert_ne!(compute(&k, &data(7)), compute(&k, &data(8)));
        assert_eq!(compute(&k, &data(7)), compute(&k, &data(7)));
    }

    #[test]
    fn absent_incomplete_and_malformed_data() {
        let k = key("4761739001010119", 1);
        assert_eq!(verify(&k, &[]), Check::Absent);
        assert_eq!(verify(&k, &[0x50, 1, b'V']), Check::Absent);
        // A 9F26 without the covered objects.
        assert_eq!(
            verify(&k, &[0x9F, 0x26, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
            Check::Incomplete
        );
        assert!(compute(&k, &[0x9F, 0x36, 2, 0]).is_err());
        assert_eq!(verify(&k, &[0x9F, 0x26, 9, 1]), Check::Incomplete);
    }

    #[test]
    fn the_key_never_shows() {
        let k = key("4761739001010119", 1);
        assert_eq!(std::format!("{k:?}"), "CardKey(hidden)");
    }
}
