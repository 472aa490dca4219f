//! `decode --dialect csob`: one ČSOB "B" frame (`STX header FS fields ETX`) as JSON.
//!
//! Parsed leniently (CRC field ignored, data-length mismatch reported, not refused), so a
//! captured frame from a real install always shows what it holds. The output lists the header,
//! the length as declared and as measured, the CRC field as received, every field by tag
//! (sub-fields too), the typed reading (transaction, result, amounts in minor units and as
//! decimal strings with the currency's alpha code) and the mapped `txn` value.

use ecrlink_core::dialect::csob::{
    Body, Flags, Message, MessageView, ParseOptions, codes::TxnCode, map, text,
};
use ecrlink_core::link::{Checksum, decode_frame};
use ecrlink_core::txn::{Currency, Money};
use serde_json::{Value, json};

use super::DecodeError;

/// Decodes one csob frame into JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let frame = decode_frame(bytes, Checksum::None)?;
    if frame.len < bytes.len() {
        return Err(DecodeError::Other(format!(
            "{} byte(s) after ETX (a csob frame ends with ETX)",
            bytes.len() - frame.len
        )));
    }
    let opts = ParseOptions::default();
    let view = MessageView::parse(frame.payload, &opts)?;
    let message = Message::from_view(&view)?;
    let h = &view.header;

    let fields: Vec<Value> = view
        .fields
        .iter()
        .map(|f| {
            let mut v = json!({
                "tag": char::from(f.tag).to_string(),
                "value": latin2(f.head()),
            });
            let subs: Vec<Value> = f
                .subfields()
                .map(|s| json!({ "tag": char::from(s.tag).to_string(), "value": latin2(s.value) }))
                .collect();
            if !subs.is_empty() {
                v["subfields"] = Value::Array(subs);
            }
            v
        })
        .collect();

    let mut out = json!({
        "dialect": "csob",
        "message_type": h.message_type.code(),
        "header": {
            "version": String::from_utf8_lossy(&h.version),
            "terminal_id": h.terminal_id.as_str(),
            "timestamp": crate::output::timestamp_json(&h.timestamp),
            "flags": format!("{:04X}", h.flags.0),
            "confirm_requested": h.flags.has(Flags::CONFIRM),
            "receipt_ready": h.flags.has(Flags::RECEIPT_READY),
            "signature": h.flags.has(Flags::SIGNATURE),
        },
        "length": {
            "declared": h.length.declared,
            "actual": h.length.actual,
            "matches": h.length.matches(),
        },
        "crc": match h.crc.as_str() {
            Some(s) => Value::String(s.to_owned()),
            None => Value::String(h.crc.0.iter().map(|b| format!("{b:02X}")).collect()),
        },
        "fields": fields,
    });
    let default = Currency::CZK;
    match &message.body {
        Body::Activity => {
            out["message"] = json!("activity");
        }
        Body::Progress(p) => {
            out["message"] = json!("activity");
            out["stage"] = json!(p.name());
        }
        Body::Request(r) => {
            out["message"] = json!("transaction-request");
            out["transaction"] = transaction(r.code);
            put_money(&mut out, "amount", r.amount, r.currency, default);
            put_money(&mut out, "cashback", r.cashback, r.currency, default);
            if let Some(c) = &r.approval_code {
                out["approval_code"] = json!(c.as_str());
            }
            if let Some(x) = &r.reference {
                out["reference"] = json!(x.as_str());
            }
            match r.to_request(default) {
                Ok(req) => out["txn"] = crate::output::request_json(&req),
                Err(e) => out["txn_error"] = json!(e.to_string()),
            }
        }
        Body::Response(r) => {
            out["message"] = json!("transaction-response");
            out["transaction"] = transaction(r.code);
            let outcome = map::outcome(&r.result);
            out["result"] = json!({
                "code": format!("R{}", r.result.text()),
                "name": r.result.name(),
                "outcome": outcome.name(),
            });
            // The same two named codes as the till's `--json`.
            let probe = ecrlink_core::txn::Response::new(
                ecrlink_core::txn::RequestKind::Sale,
                outcome.clone(),
            );
            let codes =
                crate::till::result_codes(Some(ecrlink_core::session::Dialect::Csob), Some(&probe));
            out["result"]["bank_code"] = json!(codes.bank_code);
            out["result"]["terminal_code"] = json!(codes.terminal_code);
            put_money(&mut out, "amount", r.amount, r.currency, default);
            put_money(&mut out, "cashback", r.cashback, r.currency, default);
            if let Some(c) = &r.approval_code {
                out["approval_code"] = json!(c.as_str());
            }
            if let Some(x) = &r.reference {
                out["reference"] = json!(x.as_str());
            }
            if let Some(p) = &r.pan {
                out["pan"] = json!(p.to_string());
            }
            if let Some(t) = &r.text {
                out["text"] = json!(t.as_str());
            }
            if let Some(t) = &r.totals {
                out["totals"] = crate::output::totals_json(t);
            }
            match r.to_response(h, default) {
                Ok(resp) => out["txn"] = crate::output::response_json(&resp),
                Err(e) => out["txn_error"] = json!(e.to_string()),
            }
        }
        Body::TicketRequest(t) => {
            out["message"] = json!("ticket-request");
            out["receipt_selector"] = json!(t.selector.name());
        }
        Body::TicketResponse(t) => {
            out["message"] = json!("ticket-response");
            out["receipt"] = json!({ "text": t.text.as_str(), "more": t.more });
        }
    }
    Ok(out)
}

fn latin2(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| text::decode_byte(b)).collect()
}

fn transaction(code: TxnCode) -> Value {
    let [a, b] = code.digits();
    json!({
        "code": format!("T{}{}", char::from(a), char::from(b)),
        "name": code.name(),
        "txn_kind": map::request_kind(code).ok().map(|k| k.name()),
    })
}

fn put_money(out: &mut Value, key: &str, minor: Option<u64>, cur: Option<u16>, default: Currency) {
    let Some(minor) = minor else { return };
    let numeric = cur.unwrap_or(default.numeric());
    let mut v = json!({ "minor": minor, "currency_numeric": numeric });
    if let Ok(c) = Currency::from_numeric(numeric) {
        let mut s = String::new();
        if Money::fmt_decimal(minor, c, &mut s).is_ok() {
            v["decimal"] = json!(s);
        }
        v["currency"] = json!(c.alpha());
    }
    if cur.is_none() {
        v["currency_assumed"] = json!(true);
    }
    out[key] = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        super::super::parse_hex(&[s.to_owned()]).unwrap()
    }

    #[test]
    fn sale_request() {
        // STX "B1" "01" "12345678" "240315143005" "8000" "0019" "A5A5"
        // FS T00 FS B1250 FS 9 GS SORDER1 FS E203 ETX
        let mut f = vec![0x02];
        f.extend_from_slice(b"B1011234567824031514300580000019A5A5");
        f.extend_from_slice(b"\x1cT00\x1cB1250\x1c9\x1dSORDER1\x1cE203\x03");
        let j = decode(&f).unwrap();
        assert_eq!(j["message_type"], "B1");
        assert_eq!(j["transaction"]["code"], "T00");
        assert_eq!(j["transaction"]["txn_kind"], "sale");
        assert_eq!(j["amount"]["minor"], 1250);
        assert_eq!(j["amount"]["decimal"], "12.50");
        assert_eq!(j["amount"]["currency"], "CZK");
        assert_eq!(j["reference"], "ORDER1");
        assert_eq!(j["length"]["matches"], true);
        assert_eq!(j["crc"], "A5A5");
        assert_eq!(j["fields"][2]["subfields"][0]["tag"], "S");
        // The txn in the till's own words, not Rust's enum names.
        assert_eq!(j["txn"]["kind"], "sale", "{j}");
        assert!(j["txn"].get("Sale").is_none(), "{j}");
    }

    #[test]
    fn errors() {
        assert!(decode(&hex("0242")).is_err());
        let mut f = vec![0x02];
        f.extend_from_slice(b"B0011234567824031514300500000000A5A5\x03\x00");
        assert!(
            decode(&f)
                .unwrap_err()
                .to_string()
                .contains("1 byte(s) after ETX")
        );
    }
}
