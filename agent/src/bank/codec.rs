//! Maps [`BankRequest`] / [`BankAnswer`] to ISO 8583 bytes through `ecrlink_core::bank`.
//! (Waiting for the core codec: until it lands every encode fails.)

use super::msg::{BankAnswer, BankRequest};
use super::{BankError, MAX_BANK_MESSAGE};

/// Splits one length-prefixed frame off the front of `buf`: `Ok(Some((body, used)))`,
/// `Ok(None)` when more bytes are needed, an error for a length over the limit.
pub fn take_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, String> {
    let Some(&[hi, lo]) = buf.get(..2).and_then(|b| <&[u8; 2]>::try_from(b).ok()) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len == 0 || len > MAX_BANK_MESSAGE {
        return Err(format!("bank frame length {len}"));
    }
    Ok(buf.get(2..2 + len).map(|b| (b, 2 + len)))
}

/// Encodes `req` with its length prefix.
pub fn encode(req: &BankRequest) -> Result<Vec<u8>, BankError> {
    let _ = req;
    Err(BankError::Codec("ISO 8583 codec not available".into()))
}

/// Decodes one answer body (without the prefix).
pub fn decode(body: &[u8]) -> Result<BankAnswer, String> {
    let _ = body;
    Err("ISO 8583 codec not available".into())
}
