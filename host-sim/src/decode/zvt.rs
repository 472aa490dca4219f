//! `decode --dialect zvt`: one ZVT APDU as JSON, bare (as over TCP) or in its serial frame
//! (`10 02 … 10 03 CRC`, whose CRC is checked).
//!
//! The password of a command is never shown (`"password": "******"`); a card number is shown
//! masked (first 6 and last 4 digits), whatever the frame carries.

use ecrlink_core::Error;
use ecrlink_core::dialect::zvt::ecr::outcome_of;
use ecrlink_core::dialect::zvt::serial::{DLE, STX, SerialAccumulator, SerialFeed};
use ecrlink_core::dialect::zvt::session::status_text;
use ecrlink_core::dialect::zvt::{Apdu, Bmps, Completion, Message};
use ecrlink_core::txn::{Currency, Money};
use serde_json::{Map, Value, json};

use super::DecodeError;

/// Decodes one ZVT APDU (or serial frame) into JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut o = Map::new();
    o.insert("dialect".into(), json!("zvt"));
    let mut acc: SerialAccumulator<{ 16 * 1024 }> = SerialAccumulator::new();
    let framed;
    let apdu_bytes: &[u8] = if bytes.starts_with(&[DLE, STX]) {
        let (r, used) = acc.feed(bytes);
        match r.map_err(explain)? {
            SerialFeed::Frame(apdu) if used == bytes.len() => {
                o.insert("transport".into(), json!("serial"));
                o.insert("crc_ok".into(), json!(true));
                framed = apdu.to_vec();
                &framed
            }
            SerialFeed::Frame(_) => {
                return Err(DecodeError::Other(format!(
                    "zvt: {} bytes after the serial frame's CRC",
                    bytes.len() - used
                )));
            }
            _ => {
                return Err(DecodeError::Other(
                    "zvt: truncated serial frame (no DLE ETX and CRC)".into(),
                ));
            }
        }
    } else {
        o.insert("transport".into(), json!("tcp"));
        bytes
    };
    let apdu = Apdu::parse_exact(apdu_bytes).map_err(explain)?;
    o.insert(
        "control".into(),
        json!(format!("{:02X} {:02X}", apdu.class, apdu.instr)),
    );
    o.insert("data_len".into(), json!(apdu.data.len()));
    let msg = Message::parse(&apdu).map_err(explain)?;
    message(&mut o, &msg);
    Ok(Value::Object(o))
}

fn explain(e: Error) -> DecodeError {
    match e {
        Error::ZvtCrc { computed, received } => DecodeError::Other(format!(
            "bad CRC: the frame carries {received:04X} but its bytes give {computed:04X}; the \
             frame is damaged"
        )),
        Error::Truncated { what } => DecodeError::Other(format!("truncated: {what}")),
        Error::ZvtApduLength { len } => DecodeError::Other(format!(
            "zvt: the APDU's length field says {len} data bytes, which is not what follows"
        )),
        Error::ZvtCommand { class, instr } => {
            DecodeError::Other(format!("zvt: unknown command {class:02X} {instr:02X}"))
        }
        e => DecodeError::Core(e),
    }
}

/// `(name, sent by)` of a message.
fn name(m: &Message<'_>) -> (&'static str, &'static str) {
    match m {
        Message::Registration(_) => ("registration", "till"),
        Message::LogOff => ("log-off", "till"),
        Message::Authorisation(_) => ("authorisation", "till"),
        Message::IntermediateStatus(_) => ("intermediate-status", "terminal"),
        Message::StatusInformation(_) => ("status-information", "terminal"),
        Message::PrintLine(_) => ("print-line", "terminal"),
        Message::PrintTextBlock(_) => ("print-text-block", "terminal"),
        Message::Completion(_) => ("completion", "terminal"),
        Message::Abort(_) => ("abort", "terminal"),
        Message::Ack(_) => ("ack", "either"),
        Message::Nack(_) => ("nack", "either"),
        Message::Reversal(_) => ("reversal", "till"),
        Message::Refund(_) => ("refund", "till"),
        Message::RepeatReceipt(_) => ("repeat-receipt", "till"),
        Message::EndOfDay(_) => ("end-of-day", "till"),
        Message::StatusEnquiry(_) => ("status-enquiry", "till"),
        Message::Diagnosis(_) => ("diagnosis", "till"),
        Message::AbortRequest => ("abort-request", "till"),
        Message::Reservation(_) => ("reservation", "till"),
        Message::PartialReversal(_) => ("partial-reversal", "till"),
        Message::BookTotal(_) => ("book-total", "till"),
        Message::PreAuthReversal(_) => ("pre-auth-reversal", "till"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn text(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii() && !c.is_ascii_control() {
                char::from(c)
            } else {
                '?'
            }
        })
        .collect()
}

/// A result code as the till sees it.
fn result(o: &mut Map<String, Value>, code: u8, bank: Option<u8>) {
    let outcome = outcome_of(code);
    o.insert(
        "result".into(),
        json!({
            "code": format!("{code:02X}"),
            "outcome": outcome.name(),
            "bank_code": bank.map(|b| format!("{b:02}")),
            "terminal_code": format!("{code:02X}"),
        }),
    );
}

fn message(o: &mut Map<String, Value>, m: &Message<'_>) {
    let (command, from) = name(m);
    o.insert("command".into(), json!(command));
    o.insert("from".into(), json!(from));
    let password = || json!("******");
    match m {
        Message::Registration(r) => {
            o.insert("password".into(), password());
            o.insert("config_byte".into(), json!(format!("{:02X}", r.config)));
            if let Some(c) = r.currency {
                currency(o, c);
            }
            bmps(o, &r.bmps);
        }
        Message::Authorisation(b)
        | Message::StatusInformation(b)
        | Message::PrintTextBlock(b)
        | Message::Diagnosis(b)
        | Message::Reservation(b)
        | Message::PartialReversal(b)
        | Message::BookTotal(b)
        | Message::PreAuthReversal(b)
        | Message::Completion(Completion::Bitmaps(b)) => {
            bmps(o, b);
            if matches!(m, Message::StatusInformation(_)) {
                if let Some(code) = b.result_code {
                    result(o, code, b.result_code_as);
                }
            }
        }
        Message::Completion(Completion::Software {
            version,
            status,
            tlv,
        }) => {
            o.insert("software_version".into(), json!(text(version)));
            o.insert("terminal_status".into(), json!(format!("{status:02X}")));
            if let Some(t) = tlv {
                o.insert("tlv".into(), json!(hex(t)));
            }
        }
        Message::IntermediateStatus(s) => {
            o.insert("status".into(), json!(format!("{:02X}", s.status)));
            o.insert("status_text".into(), json!(status_text(s.status)));
            o.insert("timeout".into(), json!(s.timeout));
        }
        Message::PrintLine(p) => {
            o.insert("attribute".into(), json!(format!("{:02X}", p.attribute)));
            o.insert("text".into(), json!(text(p.text)));
        }
        Message::Abort(a) => {
            result(o, a.result_code, None);
            if let Some(c) = a.currency {
                currency(o, c);
            }
            bmps(o, &a.bmps);
        }
        Message::Nack(code) => {
            o.insert("code".into(), json!(format!("{code:02X}")));
        }
        Message::Ack(data) => {
            if !data.is_empty() {
                o.insert("data".into(), json!(hex(data)));
            }
        }
        Message::Reversal(p)
        | Message::Refund(p)
        | Message::RepeatReceipt(p)
        | Message::EndOfDay(p) => {
            o.insert("password".into(), password());
            bmps(o, &p.bmps);
        }
        Message::StatusEnquiry(s) => {
            if s.password.is_some() {
                o.insert("password".into(), password());
            }
            bmps(o, &s.bmps);
        }
        Message::LogOff | Message::AbortRequest => {}
    }
}

fn currency(o: &mut Map<String, Value>, numeric: u16) {
    o.insert("currency_numeric".into(), json!(numeric));
    if let Ok(c) = Currency::from_numeric(numeric) {
        o.insert("currency".into(), json!(c.alpha()));
    }
}

/// The card number of BMP 22 masked: first 6 and last 4 digits, `*` between.
fn masked(bcd: &[u8]) -> String {
    let digits: Vec<char> = bcd
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .take_while(|&n| n != 0x0F)
        .map(|n| if n <= 9 { char::from(b'0' + n) } else { '*' })
        .collect();
    let len = digits.len();
    digits
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < 6 || i + 4 >= len { c } else { '*' })
        .collect()
}

fn bmps(o: &mut Map<String, Value>, b: &Bmps<'_>) {
    if let Some(c) = b.currency {
        currency(o, c);
    }
    if let Some(a) = b.amount {
        o.insert("amount_minor".into(), json!(a));
        let cur = b
            .currency
            .and_then(|c| Currency::from_numeric(c).ok())
            .unwrap_or(Currency::EUR);
        if let Ok(m) = Money::new(a, cur) {
            let mut s = String::new();
            let _ = Money::fmt_decimal(m.minor(), cur, &mut s);
            o.insert("amount".into(), json!(s));
        }
    }
    let mut put = |k: &str, v: Value| {
        o.insert(k.into(), v);
    };
    if let Some(v) = b.trace {
        put("trace", json!(v));
    }
    if let Some(v) = b.receipt_no {
        put("receipt_no", json!(v));
    }
    if let Some(v) = b.terminal_id {
        put("terminal_id", json!(format!("{v:08}")));
    }
    if let Some(v) = b.result_code {
        put("result_code", json!(format!("{v:02X}")));
    }
    if let Some(v) = b.result_code_as {
        put("bank_code", json!(format!("{v:02}")));
    }
    if let Some(v) = b.card_number {
        put("pan", json!(masked(v)));
    }
    if let Some(v) = b.aid {
        let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
        put(
            "approval_code",
            json!(text(v.get(..end).unwrap_or_default())),
        );
    }
    if let Some(v) = b.card_name {
        put("card_name", json!(text(v)));
    }
    if let Some(v) = b.text {
        put("text", json!(text(v)));
    }
    if let Some(v) = b.time {
        put("time", json!(format!("{v:06}")));
    }
    if let Some(v) = b.date {
        put("date", json!(format!("{v:04}")));
    }
    if let Some(v) = b.payment_type {
        put("payment_type", json!(format!("{v:02X}")));
    }
    if let Some(v) = b.service_byte {
        put("service_byte", json!(format!("{v:02X}")));
    }
    if let Some(v) = b.max_status_infos {
        put("max_status_infos", json!(v));
    }
    if let Some(v) = b.tlv {
        put("tlv", json!(hex(v)));
    }
    if b.ignored > 0 {
        // Card data (tracks, CVV) is skipped unread, never shown.
        put("skipped_bmps", json!(b.ignored));
    }
}
