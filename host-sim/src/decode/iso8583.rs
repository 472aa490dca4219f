//! `decode --dialect iso8583`: one ISO 8583 (1987, ASCII) message, with or without its 2-byte
//! big-endian TCP length prefix, as JSON.
//!
//! `{"dialect": "iso8583", "length_prefix": false, "mti": "0800", "type": "network-request",
//!   "bitmap": {"primary": "8220…", "secondary": "0400…"}, "fields": {"7": "1125171300", …}}`.
//! Field 2 is masked (first 6, last 4); field 55 is hex, and `icc` holds its TLV tree when it
//! parses. `type` names the typed message when the MTI and fields make one; otherwise
//! `type_error` says why not (the field-level decode still succeeded).

use ecrlink_core::bank::{BankMessage, IsoMessage};
use ecrlink_core::emv;
use ecrlink_core::txn::Pan;
use serde_json::{Map, Value, json};

use super::DecodeError;

/// Splits off the length prefix if the input has one: the first two bytes, big-endian, equal
/// the number of bytes after them. Input that starts with four ASCII digits has none.
fn split_prefix(bytes: &[u8]) -> Result<(bool, &[u8]), DecodeError> {
    let Some((head, body)) = bytes.split_at_checked(2) else {
        return Err(DecodeError::Other(format!(
            "iso8583: {} byte(s) is too short for a message",
            bytes.len()
        )));
    };
    let declared = usize::from(u16::from_be_bytes([head[0], head[1]]));
    let digits = |b: &[u8]| b.len() >= 4 && b[..4].iter().all(u8::is_ascii_digit);
    if declared == body.len() && digits(body) {
        return Ok((true, body));
    }
    if digits(bytes) {
        return Ok((false, bytes));
    }
    if !head.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::Other(format!(
            "iso8583: length prefix {declared} does not match the {} bytes after it",
            body.len()
        )));
    }
    Ok((false, bytes))
}

fn type_name(m: &BankMessage<'_>) -> &'static str {
    match m {
        BankMessage::AuthorizationRequest(_) => "authorization-request",
        BankMessage::AuthorizationResponse(_) => "authorization-response",
        BankMessage::ReversalRequest(_) => "reversal-request",
        BankMessage::ReversalResponse(_) => "reversal-response",
        BankMessage::ReconciliationRequest(_) => "reconciliation-request",
        BankMessage::ReconciliationResponse(_) => "reconciliation-response",
        BankMessage::NetworkRequest(_) => "network-request",
        BankMessage::NetworkResponse(_) => "network-response",
        BankMessage::PreAuthorizationRequest(_) => "pre-authorization-request",
        BankMessage::PreAuthorizationResponse(_) => "pre-authorization-response",
        BankMessage::CompletionAdvice(_) => "completion-advice",
        BankMessage::CompletionResponse(_) => "completion-response",
    }
}

fn masked_pan(text: &str) -> String {
    match Pan::new(text) {
        Ok(p) => p.masked().to_string(),
        Err(_) => "*".repeat(text.len()),
    }
}

/// Decodes one ISO 8583 message into JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let (prefixed, body) = split_prefix(bytes)?;
    let msg = IsoMessage::parse(body).map_err(|e| DecodeError::Other(e.to_string()))?;
    let (primary, secondary) = msg.bitmaps();
    let mut fields = Map::new();
    let mut icc = None;
    for (n, v) in msg.fields() {
        let text = match n {
            2 => masked_pan(msg.get_str(2).unwrap_or_default()),
            // The card's expiry stays on the bank link, as the chip's 5F24 does.
            14 => "*".repeat(v.len()),
            55 => {
                icc = Some(super::tlv::tree(emv::parse(v)));
                v.iter().map(|b| format!("{b:02X}")).collect()
            }
            // The message authentication code: 8 raw bytes, shown in hex.
            64 | 128 => v.iter().map(|b| format!("{b:02X}")).collect(),
            _ => String::from_utf8_lossy(v).into_owned(),
        };
        fields.insert(n.to_string(), json!(text));
    }
    let mut out = Map::new();
    out.insert("dialect".into(), json!("iso8583"));
    out.insert("length_prefix".into(), json!(prefixed));
    out.insert("mti".into(), json!(msg.mti().as_str()));
    match BankMessage::from_message(&msg) {
        Ok(typed) => out.insert("type".into(), json!(type_name(&typed))),
        Err(e) => out.insert("type_error".into(), json!(e.to_string())),
    };
    out.insert(
        "bitmap".into(),
        json!({
            "primary": format!("{primary:016X}"),
            "secondary": (secondary != 0).then(|| format!("{secondary:016X}")),
        }),
    );
    out.insert("fields".into(), Value::Object(fields));
    match icc {
        Some(Ok(tree)) => {
            out.insert("icc".into(), Value::Array(tree));
        }
        Some(Err(e)) => {
            out.insert("icc_error".into(), json!(e.to_string()));
        }
        None => {}
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: &[u8] = b"0800822000000000000004000000000000001125171300000001301";

    #[test]
    fn with_and_without_prefix() {
        let v = decode(ECHO).unwrap();
        assert_eq!(v["length_prefix"], false);
        assert_eq!(v["mti"], "0800");
        assert_eq!(v["type"], "network-request");
        assert_eq!(v["fields"]["70"], "301");
        let mut framed = vec![0, ECHO.len() as u8];
        framed.extend_from_slice(ECHO);
        let w = decode(&framed).unwrap();
        assert_eq!(w["length_prefix"], true);
        assert_eq!(w["fields"], v["fields"]);
        let mut bad = framed.clone();
        bad[1] += 1;
        assert!(decode(&bad).is_err());
    }
}
