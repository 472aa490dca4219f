//! `decode --dialect concert`: one Concert V2 frame (STX payload ETX LRC) as JSON.
//!
//! A bare payload of a Concert length (34, 80 or 25 bytes, no STX) is decoded too, with
//! `"lrc": null`. The card number of a full answer is shown masked, as the core keeps it.

use ecrlink_core::Error;
use ecrlink_core::dialect::concert::{ConcertAnswer, ConcertMessage, ConcertRequest};
use ecrlink_core::link::control::STX;
use ecrlink_core::txn::{CardScheme, Currency, Money};
use serde_json::{Map, Value, json};

use super::DecodeError;

/// Decodes one Concert frame into JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let (msg, lrc) = if bytes.first() == Some(&STX) {
        let (m, lrc) = ConcertMessage::parse_frame(bytes).map_err(|e| explain(e, bytes))?;
        (m, Some(lrc))
    } else {
        let m = ConcertMessage::parse(bytes).map_err(|e| match e {
            Error::ConcertLength { len } => DecodeError::Other(format!(
                "concert: not a frame (first byte {:02X}, not STX) and {len} bytes is not a \
                 payload length (34 request, 80 full answer, 25 short answer)",
                bytes.first().copied().unwrap_or_default()
            )),
            e => DecodeError::Core(e),
        })?;
        (m, None)
    };
    let mut o = Map::new();
    o.insert("dialect".into(), json!("concert"));
    match msg {
        ConcertMessage::Request(r) => {
            o.insert("kind".into(), json!("request"));
            frame_fields(&mut o, lrc);
            request(&mut o, &r);
        }
        ConcertMessage::Answer(a) => {
            o.insert("kind".into(), json!("answer"));
            o.insert("form".into(), json!(a.form.name()));
            frame_fields(&mut o, lrc);
            answer(&mut o, &a);
        }
    }
    Ok(Value::Object(o))
}

/// Words a core error about a frame for someone holding a capture.
fn explain(e: Error, bytes: &[u8]) -> DecodeError {
    match e {
        Error::LinkBadLrc { computed, received } => DecodeError::Other(format!(
            "bad LRC: the frame carries {received:02X} but its bytes give {computed:02X} \
             (XOR of payload and ETX); the frame is damaged"
        )),
        Error::ConcertLength { len } => DecodeError::Other(format!(
            "wrong length: a {len}-byte payload ({}-byte frame) is neither a request (34) nor \
             a full (80) or short (25) answer",
            len + 3
        )),
        Error::Truncated { what: "frame" } => {
            DecodeError::Other(format!("truncated frame: {} bytes and no ETX", bytes.len()))
        }
        Error::Truncated { what: "LRC" } => {
            DecodeError::Other("truncated frame: the LRC byte after ETX is missing".into())
        }
        Error::LinkMalformedFrame => DecodeError::Other(
            "malformed frame: an STX inside the frame, or bytes after the LRC".into(),
        ),
        e => DecodeError::Core(e),
    }
}

fn frame_fields(o: &mut Map<String, Value>, lrc: Option<u8>) {
    match lrc {
        Some(l) => {
            o.insert("lrc".into(), json!(format!("{l:02X}")));
            o.insert("lrc_ok".into(), json!(true));
        }
        None => {
            o.insert("lrc".into(), Value::Null);
            o.insert("lrc_ok".into(), Value::Null);
        }
    }
}

fn money(o: &mut Map<String, Value>, minor: u32, numeric: u16) {
    o.insert("amount_minor".into(), json!(minor));
    match Currency::from_numeric(numeric) {
        Ok(c) => {
            let mut s = String::new();
            // Writing to a String cannot fail.
            let _ = Money::fmt_decimal(minor.into(), c, &mut s);
            o.insert("amount".into(), json!(s));
            o.insert("currency".into(), json!(c.alpha()));
        }
        Err(_) => {
            o.insert("amount".into(), Value::Null);
            o.insert("currency".into(), Value::Null);
        }
    }
    o.insert("currency_numeric".into(), json!(numeric));
}

fn code(b: u8) -> String {
    char::from(b).to_string()
}

fn request(o: &mut Map<String, Value>, r: &ConcertRequest) {
    o.insert("pos".into(), json!(format!("{:02}", r.pos)));
    money(o, r.amount_minor, r.currency_numeric);
    o.insert("transaction".into(), json!(r.transaction.name()));
    o.insert("transaction_code".into(), json!(code(r.transaction.code())));
    o.insert("answer_flag".into(), json!(r.answer.name()));
    o.insert("answer_flag_code".into(), json!(code(r.answer.code())));
    o.insert("payment_mode".into(), json!(r.payment_mode.name()));
    o.insert(
        "payment_mode_code".into(),
        json!(code(r.payment_mode.code())),
    );
    o.insert("private".into(), json!(r.private.as_str()));
    o.insert("delay".into(), json!(r.delay.name()));
    o.insert(
        "delay_code".into(),
        json!(String::from_utf8_lossy(r.delay.code())),
    );
    o.insert("authorization".into(), json!(r.authorization.name()));
    o.insert(
        "authorization_code".into(),
        json!(String::from_utf8_lossy(r.authorization.code())),
    );
    // The txn this request maps to, in the till's own keys (as `decode --dialect csob`).
    match r.to_txn() {
        Ok(t) => {
            o.insert("txn".into(), crate::output::request_json(&t));
        }
        Err(e) => {
            o.insert("txn_error".into(), json!(format!("not runnable: {e}")));
        }
    }
}

fn answer(o: &mut Map<String, Value>, a: &ConcertAnswer) {
    o.insert("pos".into(), json!(format!("{:02}", a.pos)));
    o.insert("status".into(), json!(a.status.name()));
    o.insert("status_code".into(), json!(code(a.status.code())));
    money(o, a.amount_minor, a.currency_numeric);
    o.insert("payment_mode".into(), json!(a.payment_mode.name()));
    o.insert(
        "payment_mode_code".into(),
        json!(code(a.payment_mode.code())),
    );
    o.insert(
        "pan".into(),
        a.pan.map_or(Value::Null, |p| json!(p.to_string())),
    );
    o.insert(
        "scheme".into(),
        a.pan
            .map_or(Value::Null, |p| json!(CardScheme::from_bin(p.bin()).name())),
    );
    o.insert("private".into(), json!(a.private.as_str()));
    o.insert(
        "outcome".into(),
        json!(ecrlink_core::dialect::concert::map::outcome_for(a.status).name()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::parse_hex;

    const EXAMPLE: &str =
        "0230313030303031323530313130393738202020202020202020204130313042303130 0301";

    #[test]
    fn example_request() {
        let bytes = parse_hex(&[EXAMPLE.into()]).unwrap();
        let v = decode(&bytes).unwrap();
        assert_eq!(v["kind"], "request");
        assert_eq!(v["pos"], "01");
        assert_eq!(v["amount_minor"], 1250);
        assert_eq!(v["amount"], "12.50");
        assert_eq!(v["currency"], "EUR");
        assert_eq!(v["currency_numeric"], 978);
        assert_eq!(v["transaction"], "debit");
        assert_eq!(v["answer_flag"], "full");
        assert_eq!(v["payment_mode"], "card");
        assert_eq!(v["delay_code"], "A010");
        assert_eq!(v["authorization"], "normal");
        assert_eq!(v["lrc"], "01");
        assert_eq!(v["lrc_ok"], true);
        assert_eq!(v["txn"]["kind"], "sale");
        // The bare payload decodes the same, without an LRC.
        let bare = decode(&bytes[1..35]).unwrap();
        assert_eq!(bare["amount_minor"], 1250);
        assert_eq!(bare["lrc"], Value::Null);
    }

    #[test]
    fn full_answer_masks_the_pan() {
        let mut payload = b"010000012501".to_vec();
        payload.extend_from_slice(b"4970100000000014");
        payload.resize(67, b' ');
        payload.extend_from_slice(b"978INV42     ");
        let mut frame = vec![0u8; 90];
        let n = ecrlink_core::link::encode_frame(
            &payload,
            ecrlink_core::link::Checksum::Lrc,
            &mut frame,
        )
        .unwrap();
        let v = decode(&frame[..n]).unwrap();
        assert_eq!(v["kind"], "answer");
        assert_eq!(v["form"], "full");
        assert_eq!(v["status"], "success");
        assert_eq!(v["outcome"], "approved");
        assert_eq!(v["pan"], "497010******0014");
        assert_eq!(v["scheme"], "VISA");
        assert_eq!(v["private"], "INV42     ");
        assert!(!v.to_string().contains("4970100000000014"));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let mut bytes = parse_hex(&[EXAMPLE.into()]).unwrap();
        bytes[3] ^= 0x01;
        let e = decode(&bytes).unwrap_err().to_string();
        assert!(e.starts_with("bad LRC"), "{e}");
        bytes[3] ^= 0x01;
        let e = decode(&bytes[..20]).unwrap_err().to_string();
        assert!(e.starts_with("truncated frame"), "{e}");
        let e = decode(&bytes[..36]).unwrap_err().to_string();
        assert!(e.contains("LRC byte"), "{e}");
        let mut short = bytes[..10].to_vec();
        short.push(0x03);
        short.push(ecrlink_core::link::lrc(&short[1..]));
        let e = decode(&short).unwrap_err().to_string();
        assert!(e.starts_with("wrong length"), "{e}");
        let e = decode(b"hello").unwrap_err().to_string();
        assert!(e.contains("not a frame"), "{e}");
    }
}
