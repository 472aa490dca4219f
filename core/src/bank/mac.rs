//! The message authentication code of the bank link: field 64, or field 128 when the message
//! has a secondary bitmap (any field above 64), always the last field of the message.
//!
//! **A test scheme, not a payment scheme's.** The MAC is HMAC-SHA-256 (RFC 2104, FIPS 180-4)
//! keyed with a per-terminal 32-byte [`MacKey`], computed over every byte of the message
//! before the MAC field — MTI, bitmaps (which already announce the MAC field) and all other
//! fields, without the TCP length prefix — and truncated to its first 8 bytes
//! ([`MAC_LEN`]), which travel raw. Real acquirers use ANSI X9.19 / ISO 9797-1 MACs under
//! keys managed with DUKPT or a key hierarchy; this scheme stands in for them so that a
//! changed message is detected, and documents itself as such (see `docs/SECURITY.md`).
//!
//! ```
//! use ecrlink_core::bank::{IsoMessage, MacKey, MonthDayTime, NetworkRequest, mac};
//! let key = MacKey::new([7; 32]);
//! let mut echo = NetworkRequest::echo(1, MonthDayTime::new(11, 25, 17, 13, 0)?).to_message()?;
//! let mut buf = [0u8; IsoMessage::MAX_LEN];
//! let n = mac::emit_signed(&mut echo, &key, &mut buf)?;
//! assert_eq!(echo.mac_field(), 128);
//! let checked = mac::parse_verified(&buf[..n], &key)?;
//! assert_eq!(checked, echo);
//! buf[n - 9] ^= 1; // one bit of field 70 changed on the way
//! assert_eq!(mac::parse_verified(&buf[..n], &key), Err(ecrlink_core::Error::IsoMacMismatch));
//! # Ok::<(), ecrlink_core::Error>(())
//! ```

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::IsoMessage;
use crate::{Error, Result};

/// Bytes of the MAC on the wire (the HMAC-SHA-256 output truncated).
pub const MAC_LEN: usize = 8;

/// Bytes of a [`MacKey`].
pub const KEY_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A terminal's 32-byte MAC key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MacKey([u8; KEY_LEN]);

impl MacKey {
    /// A key from its 32 bytes.
    pub const fn new(bytes: [u8; KEY_LEN]) -> Self {
        MacKey(bytes)
    }

    /// A key written as 64 hex digits (either case); ASCII white space around them is
    /// ignored. Anything else is [`Error::Unsupported`] naming what is wrong.
    pub fn from_hex(text: &[u8]) -> Result<Self> {
        let text = text.trim_ascii();
        if text.len() != 2 * KEY_LEN {
            return Err(Error::Unsupported {
                what: "MAC key: not 64 hex digits",
            });
        }
        let mut key = [0u8; KEY_LEN];
        for (dst, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16);
            match pair {
                [hi, lo] => match (digit(*hi), digit(*lo)) {
                    (Some(h), Some(l)) => *dst = (h << 4 | l) as u8,
                    _ => {
                        return Err(Error::Unsupported {
                            what: "MAC key: not 64 hex digits",
                        });
                    }
                },
                _ => {
                    return Err(Error::Unsupported {
                        what: "MAC key: not 64 hex digits",
                    });
                }
            }
        }
        Ok(MacKey(key))
    }

    /// The MAC of `data`: HMAC-SHA-256 truncated to [`MAC_LEN`] bytes.
    pub fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let full = self.hmac(data).finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        for (o, b) in out.iter_mut().zip(full.iter()) {
            *o = *b;
        }
        out
    }

    /// The whole HMAC-SHA-256 (32 bytes) of `parts` one after the other, for deriving keys
    /// (see [`super::cryptogram`]).
    pub fn digest(&self, parts: &[&[u8]]) -> [u8; KEY_LEN] {
        let mut m = self.hmac(&[]);
        for p in parts {
            m.update(p);
        }
        let full = m.finalize().into_bytes();
        let mut out = [0u8; KEY_LEN];
        for (o, b) in out.iter_mut().zip(full.iter()) {
            *o = *b;
        }
        out
    }

    /// Whether `tag` is the MAC of `data`, compared in constant time.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        tag.len() == MAC_LEN && self.hmac(data).verify_truncated_left(tag).is_ok()
    }

    fn hmac(&self, data: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length: `new_from_slice` cannot fail.
        let mut m = match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => <HmacSha256 as Mac>::new(&Default::default()),
        };
        m.update(data);
        m
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(hidden)")
    }
}

impl IsoMessage {
    /// The field that carries this message's MAC: 128 when a field above 64 (other than 128)
    /// is present, so that the message has a secondary bitmap; 64 otherwise.
    pub fn mac_field(&self) -> u8 {
        if self.fields().any(|(n, _)| n > 64 && n != 128) {
            128
        } else {
            64
        }
    }
}

/// Sets the MAC field of `message` ([`IsoMessage::mac_field`]; the other one is removed)
/// and writes the message into `buf` with it, as [`IsoMessage::emit`]; returns the bytes
/// written. The MAC covers every byte before it.
pub fn emit_signed(message: &mut IsoMessage, key: &MacKey, buf: &mut [u8]) -> Result<usize> {
    let field = message.mac_field();
    message.remove(64);
    message.remove(128);
    message.set(field, &[0; MAC_LEN])?;
    let n = message.emit(buf)?;
    let (covered, tag) = buf
        .get_mut(..n)
        .and_then(|b| b.split_at_mut_checked(n.checked_sub(MAC_LEN)?))
        .ok_or(Error::BufferTooSmall { needed: n })?;
    let mac = key.mac(covered);
    tag.copy_from_slice(&mac);
    message.set(field, &mac)?;
    Ok(n)
}

/// As [`emit_signed`], with the 2-byte length prefix of [`super::framing`] first.
pub fn emit_signed_prefixed(
    message: &mut IsoMessage,
    key: &MacKey,
    buf: &mut [u8],
) -> Result<usize> {
    let prefix_len = super::framing::PREFIX_LEN;
    let body = buf.get_mut(prefix_len..).ok_or(Error::BufferTooSmall {
        needed: prefix_len + message.encoded_len(),
    })?;
    let n = emit_signed(message, key, body)?;
    let prefix = super::framing::prefix(n)?;
    if let Some(p) = buf.get_mut(..prefix_len) {
        p.copy_from_slice(&prefix);
    }
    Ok(prefix_len + n)
}

/// Parses `wire` (one message, without length prefix) and checks its MAC: the field
/// [`IsoMessage::mac_field`] names must be present (then it is the last 8 bytes) and match.
/// A message that does not parse gives the parse error; one without its MAC field (or with
/// the MAC in the other field) [`Error::IsoMacMissing`]; a wrong MAC
/// [`Error::IsoMacMismatch`].
pub fn parse_verified(wire: &[u8], key: &MacKey) -> Result<IsoMessage> {
    let message = IsoMessage::parse(wire)?;
    verify_parsed(&message, wire, key)?;
    Ok(message)
}

/// Checks the MAC of `message`, parsed from `wire`, as [`parse_verified`] does.
pub fn verify_parsed(message: &IsoMessage, wire: &[u8], key: &MacKey) -> Result<()> {
    let field = message.mac_field();
    let other = if field == 64 { 128 } else { 64 };
    let (Some(tag), false) = (message.get(field), message.has(other)) else {
        return Err(Error::IsoMacMissing);
    };
    let covered = wire
        .len()
        .checked_sub(MAC_LEN)
        .and_then(|n| wire.get(..n))
        .ok_or(Error::IsoMacMissing)?;
    // The MAC field is the last one: its bytes end the message.
    if wire.get(covered.len()..) != Some(tag) {
        return Err(Error::IsoMacMissing);
    }
    if key.verify(covered, tag) {
        Ok(())
    } else {
        Err(Error::IsoMacMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{Mti, framing};

    fn key() -> MacKey {
        MacKey::new(*b"0123456789abcdef0123456789abcdef")
    }

    /// RFC 4231 test case 2 ("Jefe"), whose key is short: the HMAC itself is right.
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        let mut m = m;
        m.update(b"what do ya want for nothing?");
        let out = m.finalize().into_bytes();
        assert_eq!(out[..8], [0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e]);
    }

    #[test]
    fn a_primary_bitmap_message_carries_field_64_last_and_raw() {
        let mut m = IsoMessage::new(Mti::FINANCIAL_RESPONSE);
        m.set(11, b"000042").unwrap();
        m.set(39, b"51").unwrap();
        let mut buf = [0u8; IsoMessage::MAX_LEN];
        let n = emit_signed(&mut m, &key(), &mut buf).unwrap();
        let wire = &buf[..n];
        // 0210, bitmap with bits 11, 39 and 64, the fields, then 8 raw MAC bytes.
        assert_eq!(&wire[..20], b"0210002000000200000\x31");
        assert_eq!(&wire[20..28], b"00004251");
        assert_eq!(n, 36);
        assert_eq!(wire[28..], key().mac(&wire[..28]));
        assert_eq!(parse_verified(wire, &key()).unwrap(), m);
    }

    #[test]
    fn every_changed_byte_is_detected() {
        let mut m = IsoMessage::new(Mti::FINANCIAL_RESPONSE);
        m.set(11, b"000042").unwrap();
        m.set(39, b"51").unwrap();
        let mut buf = [0u8; IsoMessage::MAX_LEN];
        let n = emit_signed(&mut m, &key(), &mut buf).unwrap();
        for i in 0..n {
            for bit in 0..8 {
                let mut w = buf[..n].to_vec();
                w[i] ^= 1 << bit;
                assert!(parse_verified(&w, &key()).is_err(), "byte {i} bit {bit}");
            }
        }
        // 51 rewritten to 00, the attack of issue 19.
        let mut w = buf[..n].to_vec();
        w[26..28].copy_from_slice(b"00");
        assert_eq!(parse_verified(&w, &key()), Err(Error::IsoMacMismatch));
        // Another key.
        let other = MacKey::new([1; 32]);
        assert_eq!(
            parse_verified(&buf[..n], &other),
            Err(Error::IsoMacMismatch)
        );
    }

    #[test]
    fn a_missing_or_misplaced_mac_is_refused() {
        let mut m = IsoMessage::new(Mti::NETWORK_REQUEST);
        m.set(11, b"000001").unwrap();
        m.set(70, b"301").unwrap();
        let mut buf = [0u8; IsoMessage::MAX_LEN];
        let n = m.emit(&mut buf).unwrap();
        assert_eq!(parse_verified(&buf[..n], &key()), Err(Error::IsoMacMissing));
        // Field 64 where the secondary bitmap asks for 128.
        m.set(64, &key().mac(b"x")).unwrap();
        let n = m.emit(&mut buf).unwrap();
        assert_eq!(parse_verified(&buf[..n], &key()), Err(Error::IsoMacMissing));
        // Signed properly: field 128, and the stray 64 is gone.
        let n = emit_signed(&mut m, &key(), &mut buf).unwrap();
        assert!(!m.has(64) && m.has(128));
        assert!(parse_verified(&buf[..n], &key()).is_ok());
    }

    #[test]
    fn prefixed_form_frames_the_signed_message() {
        let mut m = IsoMessage::new(Mti::NETWORK_REQUEST);
        m.set(11, b"000001").unwrap();
        m.set(70, b"301").unwrap();
        let mut buf = [0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
        let n = emit_signed_prefixed(&mut m, &key(), &mut buf).unwrap();
        assert_eq!(usize::from(u16::from_be_bytes([buf[0], buf[1]])), n - 2);
        assert!(parse_verified(&buf[2..n], &key()).is_ok());
        let mut small = [0u8; 10];
        assert!(emit_signed_prefixed(&mut m, &key(), &mut small).is_err());
    }

    #[test]
    fn keys_read_from_hex_and_hide_in_debug() {
        let hex = b"  000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F\n";
        let k = MacKey::from_hex(hex).unwrap();
        let want: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(k, MacKey::new(want));
        assert_eq!(format!("{k:?}"), "MacKey(hidden)");
        assert!(MacKey::from_hex(b"00").is_err());
        assert!(MacKey::from_hex(&[b'g'; 64]).is_err());
    }
}
