//! Card data. A full [`Pan`] exists only on the way to the bank: it has no `Serialize`, its
//! `Debug` and `Display` show it masked. Everything that is shown, printed, logged or journaled
//! holds a [`MaskedPan`] (first 6 and last 4 digits at most).

use core::fmt;

use heapless::String;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A full primary account number, 12–19 digits. Only the bank link may carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(String<19>);

impl Pan {
    /// A PAN from its decimal digits.
    pub fn new(digits: &str) -> Result<Self> {
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::PanInvalid);
        }
        let mut s = String::new();
        s.push_str(digits).map_err(|_| Error::PanInvalid)?;
        Ok(Pan(s))
    }

    /// The digits, for the bank link only.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The masked form for everything else.
    pub fn masked(&self) -> MaskedPan {
        MaskedPan::from_pan(self)
    }

    /// Whether the digits pass the Luhn check (cards normally do).
    pub fn luhn_ok(&self) -> bool {
        let mut sum = 0u32;
        for (i, b) in self.0.bytes().rev().enumerate() {
            let mut d = u32::from(b - b'0');
            if i % 2 == 1 {
                d *= 2;
                if d > 9 {
                    d -= 9;
                }
            }
            sum += d;
        }
        sum % 10 == 0
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

/// A PAN reduced to what may be shown: first 6 and last 4 digits and the length.
/// Displays as `476173******0119`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MaskedPan {
    first6: [u8; 6],
    last4: [u8; 4],
    len: u8,
}

impl MaskedPan {
    /// Masks a full PAN.
    pub fn from_pan(pan: &Pan) -> Self {
        Self::mask(pan.0.as_bytes())
    }

    /// Masks the digits of a full PAN read off the wire (12–19 ASCII digits), without
    /// building a [`Pan`] first; `None` for anything else. (The codecs check the digits as
    /// they scan and call [`MaskedPan::from_checked_digits`]; tests use this one.)
    #[cfg(test)]
    pub(crate) fn from_digits(digits: &[u8]) -> Option<Self> {
        ((12..=19).contains(&digits.len()) && crate::ascii::all_digits(digits))
            .then(|| Self::mask(digits))
    }

    /// [`MaskedPan::from_digits`] for bytes the caller already checked to be ASCII digits:
    /// only the length (12–19) is checked here.
    pub(crate) fn from_checked_digits(digits: &[u8]) -> Option<Self> {
        (12..=19)
            .contains(&digits.len())
            .then(|| Self::mask(digits))
    }

    /// The first 6 and last 4 bytes of `b` (at least 10 bytes: every caller checked 12–19).
    fn mask(b: &[u8]) -> Self {
        let first6 = b.first_chunk::<6>().copied().unwrap_or([b'0'; 6]);
        let last4 = b.last_chunk::<4>().copied().unwrap_or([b'0'; 4]);
        MaskedPan {
            first6,
            last4,
            len: b.len() as u8,
        }
    }

    /// Parses an already-masked PAN as a terminal sends it (`476173******0119`, `*` or `X`
    /// as mask characters; at most 6 leading and 4 trailing digits visible). A full PAN is
    /// accepted too and masked at once.
    pub fn parse(text: &str) -> Result<Self> {
        let b = text.as_bytes();
        if !(12..=19).contains(&b.len()) {
            return Err(Error::PanInvalid);
        }
        if b.iter().all(|c| c.is_ascii_digit()) {
            return Ok(Pan::new(text)?.masked());
        }
        let (head, rest) = b.split_at(6);
        let (mid, tail) = rest.split_at(rest.len() - 4);
        let digits = |s: &[u8]| s.iter().all(|c| c.is_ascii_digit());
        if !digits(head) || !digits(tail) || !mid.iter().all(|c| matches!(c, b'*' | b'X' | b'x')) {
            return Err(Error::PanInvalid);
        }
        let mut first6 = [0u8; 6];
        first6.copy_from_slice(head);
        let mut last4 = [0u8; 4];
        last4.copy_from_slice(tail);
        Ok(MaskedPan {
            first6,
            last4,
            len: b.len() as u8,
        })
    }

    /// Byte `i` of the masked number as [`fmt::Display`] shows it (`476173******0119`), as
    /// ASCII; `None` past its end. For codecs that fill a fixed field byte by byte, without
    /// `core::fmt` (and without `memset`, which a fill of the mask characters would link).
    pub(crate) fn ascii_at(&self, i: usize) -> Option<u8> {
        let stars_end = self.len().max(10) - 4;
        if i < 6 {
            self.first6.get(i).copied()
        } else if i < stars_end {
            Some(b'*')
        } else {
            self.last4.get(i - stars_end).copied()
        }
    }

    /// Number of digits of the full PAN.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a PAN has at least 12 digits.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The last four digits.
    pub fn last4(&self) -> &str {
        core::str::from_utf8(&self.last4).unwrap_or("????")
    }

    /// The issuer identification number (first six digits).
    pub fn bin(&self) -> &str {
        core::str::from_utf8(&self.first6).unwrap_or("??????")
    }

    /// The first six and the last four digits as ASCII bytes (what [`MaskedPan::bin`] and
    /// [`MaskedPan::last4`] say, read without a UTF-8 check: a codec that writes them as BCD
    /// links no `str` conversion).
    pub(crate) fn visible_digits(&self) -> (&[u8; 6], &[u8; 4]) {
        (&self.first6, &self.last4)
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.bin())?;
        for _ in 0..self.len().saturating_sub(10) {
            f.write_str("*")?;
        }
        f.write_str(self.last4())
    }
}

/// Card scheme (brand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CardScheme {
    /// Visa.
    Visa,
    /// Mastercard.
    Mastercard,
    /// Maestro.
    Maestro,
    /// American Express.
    Amex,
    /// Anything else.
    Other,
}

impl CardScheme {
    /// Guesses the scheme from the first digits (IIN ranges published by the schemes).
    pub fn from_bin(bin: &str) -> Self {
        let two: u32 = bin.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let four: u32 = bin.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
        match bin.as_bytes().first() {
            Some(b'4') => CardScheme::Visa,
            _ if (51..=55).contains(&two) || (2221..=2720).contains(&four) => {
                CardScheme::Mastercard
            }
            _ if two == 34 || two == 37 => CardScheme::Amex,
            _ if matches!(two, 50 | 56..=58) || two == 67 || two == 63 => CardScheme::Maestro,
            _ => CardScheme::Other,
        }
    }

    /// Name as printed on receipts.
    pub fn name(self) -> &'static str {
        match self {
            CardScheme::Visa => "VISA",
            CardScheme::Mastercard => "MASTERCARD",
            CardScheme::Maestro => "MAESTRO",
            CardScheme::Amex => "AMEX",
            CardScheme::Other => "CARD",
        }
    }
}

/// How the card was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EntryMode {
    /// EMV chip, contact.
    Chip,
    /// EMV contactless.
    Contactless,
    /// Magnetic stripe.
    Swipe,
    /// Keyed by hand.
    Manual,
}

impl EntryMode {
    /// Short name (`chip`, `contactless`, `swipe`, `manual`).
    pub fn name(self) -> &'static str {
        match self {
            EntryMode::Chip => "chip",
            EntryMode::Contactless => "contactless",
            EntryMode::Swipe => "swipe",
            EntryMode::Manual => "manual",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::{format, string::ToString};

    /// `ascii_at` gives exactly the bytes `Display` shows, for every PAN length, and `None`
    /// past them.
    #[test]
    fn ascii_at_is_the_display() {
        let digits = "4761739001010119123";
        for len in 12..=19 {
            let masked = Pan::new(&digits[..len]).unwrap().masked();
            let bytes: std::vec::Vec<u8> = (0..).map_while(|i| masked.ascii_at(i)).collect();
            assert_eq!(bytes, masked.to_string().as_bytes());
            assert_eq!(masked.ascii_at(len + 5), None);
        }
    }

    #[test]
    fn pan_is_masked_everywhere() {
        let pan = Pan::new("4761739001010119").unwrap();
        assert!(pan.luhn_ok());
        assert_eq!(pan.to_string(), "476173******0119");
        assert_eq!(format!("{pan:?}"), "Pan(476173******0119)");
        let m = pan.masked();
        assert_eq!(m.to_string(), "476173******0119");
        assert_eq!(MaskedPan::parse("476173******0119").unwrap(), m);
        assert_eq!(MaskedPan::parse("4761739001010119").unwrap(), m);
        assert!(MaskedPan::parse("4761739***010119").is_err());
        assert!(MaskedPan::parse("47617").is_err());
        assert!(Pan::new("47617390010101a9").is_err());
        assert_eq!(CardScheme::from_bin("476173"), CardScheme::Visa);
        assert_eq!(CardScheme::from_bin("541333"), CardScheme::Mastercard);
        assert_eq!(CardScheme::from_bin("222100"), CardScheme::Mastercard);
        assert_eq!(CardScheme::from_bin("371449"), CardScheme::Amex);
    }
}
