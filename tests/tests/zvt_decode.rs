//! `ecrlink-sim decode --dialect zvt` through the real process: bare APDUs and serial frames,
//! the password and card number never shown in clear, damaged input refused with exit 2.

mod decode_common;

use decode_common::sim;
use ecrlink_core::dialect::zvt::serial::encode_frame;
use serde_json::Value;

fn decode(hex: &str) -> (i32, Value, String) {
    let (code, out, err) = sim(&["decode", "--dialect", "zvt", hex]);
    let v = serde_json::from_str(&out).unwrap_or(Value::Null);
    (code, v, err)
}

fn bytes(hex: &str) -> Vec<u8> {
    let h: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[test]
fn registration_hides_the_password() {
    let (code, v, err) = decode("06 00 06 12 34 56 DE 09 78");
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["dialect"], "zvt");
    assert_eq!(v["transport"], "tcp");
    assert_eq!(v["command"], "registration");
    assert_eq!(v["from"], "till");
    assert_eq!(v["config_byte"], "DE");
    assert_eq!(v["currency"], "EUR");
    assert_eq!(v["password"], "******");
    assert!(!v.to_string().contains("123456"), "{v}");
}

#[test]
fn status_information_masks_a_full_card_number() {
    let si = "04 0F 1E 27 00 04 00 00 00 00 12 50 0B 00 00 42 \
              22 F0 F8 47 61 73 90 01 01 01 19 49 09 78 87 00 42";
    let (code, v, err) = decode(si);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["command"], "status-information");
    assert_eq!(v["amount"], "12.50");
    assert_eq!(v["amount_minor"], 1250);
    assert_eq!(v["trace"], 42);
    assert_eq!(v["receipt_no"], 42);
    assert_eq!(v["pan"], "476173******0119");
    assert!(!v.to_string().contains("4761739001010119"), "{v}");
    assert_eq!(v["result"]["outcome"], "approved");
}

#[test]
fn an_abort_names_its_outcome() {
    let (code, v, err) = decode("06 1E 01 6C");
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["command"], "abort");
    assert_eq!(v["result"]["code"], "6C");
    assert_eq!(v["result"]["outcome"], "cancelled");
    let (_, v, _) = decode("06 1E 01 B4");
    assert_eq!(v["result"]["outcome"], "failed");
}

#[test]
fn serial_frames_are_checked() {
    let apdu = bytes("06 01 07 04 00 00 00 00 12 50");
    let mut frame = [0u8; 64];
    let n = encode_frame(&apdu, &mut frame).unwrap();
    let (code, v, err) = decode(&to_hex(&frame[..n]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["transport"], "serial");
    assert_eq!(v["command"], "authorisation");
    assert_eq!(v["amount_minor"], 1250);
    // One flipped bit of the amount: a CRC error, exit 2.
    let mut bad = frame[..n].to_vec();
    bad[10] ^= 0x01;
    let (code, _, err) = decode(&to_hex(&bad));
    assert_eq!(code, 2);
    assert!(err.contains("CRC"), "{err}");
}

#[test]
fn damaged_apdus_are_usage_errors() {
    for (hex, what) in [
        ("06 01 07 04 00 00", "truncated"),
        ("06 99 00", "unknown command"),
        ("06 01 02 04 00 00 00 00 12 50", "length"),
    ] {
        let (code, _, err) = decode(hex);
        assert_eq!(code, 2, "{hex}");
        assert!(err.contains(what), "{hex}: {err}");
    }
}
