//! `ecrlink-sim decode --dialect iso8583` as a real process. The messages are the pyiso8583
//! 4.0.1 `default_ascii` references of `ecrlink_core::bank`'s tests.

mod decode_common;

use decode_common::sim;

use serde_json::Value;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

const ECHO: &[u8] = b"0800822000000000000004000000000000001125171300000001301";
const SALE: &[u8] = b"02007020000000808200164761739001010119000000000000001250000042TERM00019780529F2608C2C12B098F3DA6E39F2701809F3602002A9F34031F0302";

fn decode_ok(bytes_hex: &str) -> Value {
    let (code, out, err) = sim(&["decode", "--dialect", "iso8583", bytes_hex]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn echo_without_and_with_length_prefix() {
    let v = decode_ok(&hex(ECHO));
    assert_eq!(v["mti"], "0800");
    assert_eq!(v["length_prefix"], false);
    assert_eq!(v["type"], "network-request");
    assert_eq!(v["bitmap"]["primary"], "8220000000000000");
    assert_eq!(v["bitmap"]["secondary"], "0400000000000000");
    let fields = v["fields"].as_object().unwrap();
    let mut numbers: Vec<&str> = fields.keys().map(String::as_str).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, ["11", "7", "70"]);
    assert_eq!(v["fields"]["7"], "1125171300");
    assert_eq!(v["fields"]["11"], "000001");
    assert_eq!(v["fields"]["70"], "301");

    let prefixed = format!("{:04X}{}", ECHO.len(), hex(ECHO));
    let w = decode_ok(&prefixed);
    assert_eq!(w["length_prefix"], true);
    assert_eq!(w["fields"], v["fields"]);
}

#[test]
fn sale_masks_the_pan_and_decodes_icc_data() {
    let v = decode_ok(&hex(SALE));
    assert_eq!(v["mti"], "0200");
    assert_eq!(v["type"], "authorization-request");
    assert_eq!(v["fields"]["2"], "476173******0119");
    assert_eq!(v["fields"]["4"], "000000001250");
    assert_eq!(v["fields"]["41"], "TERM0001");
    assert_eq!(v["fields"]["49"], "978");
    assert_eq!(
        v["fields"]["55"],
        "9F2608C2C12B098F3DA6E39F2701809F3602002A9F34031F0302"
    );
    assert_eq!(v["icc"][0]["tag"], "9F26");
    assert_eq!(v["icc"][3]["name"], "CVM Results");
    let text = v.to_string();
    assert!(!text.contains("4761739001010119"), "{text}");
}

/// A chip sale with the card-read fields (14, 22, 23, 25), encoded by pyiso8583 4.0.1
/// (`default_ascii`).
const CARD_READ: &[u8] =
    b"02007024068000808000164761739001010119000000000000001250000042281205100100TERM0001978";

#[test]
fn the_card_read_fields_decode_and_the_expiry_is_masked() {
    let v = decode_ok(&hex(CARD_READ));
    assert_eq!(v["type"], "authorization-request");
    assert_eq!(v["fields"]["14"], "****");
    assert_eq!(v["fields"]["22"], "051");
    assert_eq!(v["fields"]["23"], "001");
    assert_eq!(v["fields"]["25"], "00");
    let text = v.to_string();
    assert!(!text.contains("2812"), "{text}");
}

#[test]
fn field_level_message_of_an_unhandled_type_still_decodes() {
    // 0120 (authorization advice, not used on this link) with field 11 only.
    let v = decode_ok(&hex(b"01200020000000000000000042"));
    assert_eq!(v["mti"], "0120");
    assert_eq!(v["fields"]["11"], "000042");
    assert!(v["type"].is_null());
    assert!(v["type_error"].as_str().unwrap().contains("message type"));
}

#[test]
fn bad_messages_are_one_line_exit_2() {
    let mut unknown = b"08000800000000000000".to_vec();
    unknown.extend_from_slice(b"000000000000");
    let cases = [
        (hex(&unknown), "unknown field 5"),
        (hex(&ECHO[..50]), "ends inside field 11"),
        (
            hex(b"08A0822000000000000004000000000000001125171300000001301"),
            "message type",
        ),
        (format!("00FF{}", hex(ECHO)), "length prefix 255"),
        (hex(&[ECHO, b"9"].concat()), "1 bytes after the last field"),
        ("01".to_string(), "too short"),
    ];
    for (input, what) in cases {
        let (code, out, err) = sim(&["decode", "--dialect", "iso8583", &input]);
        assert_eq!(code, 2, "{input}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(what), "{input}: {err}");
    }
}
