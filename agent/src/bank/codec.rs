//! Maps [`BankRequest`] / [`BankAnswer`] to ISO 8583 bytes: the mapping itself is core's
//! (`ecrlink_core::terminal::wire`, shared with the firmware); this adds the agent's buffers
//! and error texts.

use ecrlink_core::bank::{IsoMessage, framing};
use ecrlink_core::terminal::wire;

use super::BankError;
use super::msg::{BankAnswer, BankRequest};

/// Who the terminal is on the bank link (fields 41 and 42).
pub use ecrlink_core::terminal::wire::Identity;

/// Encodes `req` with its 2-byte length prefix. A reversal carries the card number only when
/// it is still in memory (the journal never holds it, so a reversal re-sent after a restart
/// goes without field 2 and is identified by field 90).
pub fn encode(req: &BankRequest, id: &Identity) -> Result<Vec<u8>, BankError> {
    let mut buf = vec![0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
    let n =
        wire::encode_prefixed(req, id, &mut buf).map_err(|e| BankError::Codec(e.to_string()))?;
    buf.truncate(n);
    Ok(buf)
}

/// Decodes one answer (the message without its prefix).
pub fn decode(body: &[u8]) -> Result<BankAnswer, String> {
    wire::decode_answer(body).map_err(|e| match (e, IsoMessage::parse(body)) {
        // Well-formed, but a request type: the bank sent what only a terminal sends.
        (ecrlink_core::Error::IsoMti, Ok(m)) => {
            format!("unexpected {} from the bank", m.mti().as_str())
        }
        (e, _) => e.to_string(),
    })
}
