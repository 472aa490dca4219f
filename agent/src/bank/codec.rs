//! Maps [`BankRequest`] / [`BankAnswer`] to ISO 8583 bytes: the mapping itself is core's
//! (`ecrlink_core::terminal::wire`, shared with the firmware); this adds the MAC, the agent's
//! buffers and its error texts.

use ecrlink_core::bank::{IsoMessage, MacKey, MerchantId, framing};
use ecrlink_core::terminal::wire;
use ecrlink_core::txn::TerminalId;

use super::BankError;
use super::msg::{BankAnswer, BankRequest};

/// Who the terminal is on the bank link (fields 41 and 42).
#[derive(Clone, Debug)]
pub struct Identity {
    /// Terminal id.
    pub terminal_id: TerminalId,
    /// Merchant id.
    pub merchant_id: Option<MerchantId>,
    /// The terminal's MAC key: every request is signed and every answer checked
    /// ([`ecrlink_core::bank::mac`]). `None`: no MAC (a bank on this machine only).
    pub mac_key: Option<MacKey>,
}

fn codec(e: ecrlink_core::Error) -> BankError {
    BankError::Codec(e.to_string())
}

/// Encodes `req` with its 2-byte length prefix. A reversal carries the card number only when
/// it is still in memory (the journal never holds it, so a reversal re-sent after a restart
/// goes without field 2 and is identified by field 90).
pub fn encode(req: &BankRequest, id: &Identity) -> Result<Vec<u8>, BankError> {
    let who = wire::Identity {
        terminal_id: id.terminal_id.clone(),
        merchant_id: id.merchant_id.clone(),
    };
    let mut message = wire::to_message(req, &who).map_err(codec)?;
    let mut buf = vec![0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
    let n = match &id.mac_key {
        Some(key) => ecrlink_core::bank::mac::emit_signed_prefixed(&mut message, key, &mut buf)
            .map_err(codec)?,
        None => message.emit_prefixed(&mut buf).map_err(codec)?,
    };
    buf.truncate(n);
    Ok(buf)
}

/// Checks the MAC of an answer (the message without its prefix). `None`: it verifies.
/// Otherwise the trace number it claims (when it parses that far; it may be forged too) and
/// why it fails.
pub fn mac_failure(body: &[u8], key: &MacKey) -> Option<(Option<u32>, ecrlink_core::Error)> {
    let message = match IsoMessage::parse(body) {
        Ok(m) => m,
        // Not parseable at all: `decode` reports it as it always did.
        Err(_) => return None,
    };
    let e = ecrlink_core::bank::mac::verify_parsed(&message, body, key).err()?;
    let stan = message.get_str(11).and_then(|s| s.parse::<u32>().ok());
    Some((stan, e))
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
