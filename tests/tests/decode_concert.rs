//! Issue 3's done-when, through the real `ecrlink-sim` process: the Concert example frame of
//! DESIGN.md decodes; one flipped bit is an LRC error with exit status 2.

mod decode_common;

use decode_common::sim;

use serde_json::Value;

const EXAMPLE: &str = "0230313030303031323530313130393738202020202020202020204130313042303130 0301";

#[test]
fn example_request_decodes() {
    let (code, out, err) = sim(&["decode", "--dialect", "concert", EXAMPLE]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "one JSON object on one line: {out}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["dialect"], "concert");
    assert_eq!(v["kind"], "request");
    assert_eq!(v["amount_minor"], 1250);
    assert_eq!(v["amount"], "12.50");
    assert_eq!(v["currency"], "EUR");
    assert_eq!(v["currency_numeric"], 978);
    assert_eq!(v["pos"], "01");
    assert_eq!(v["transaction"], "debit");
    assert_eq!(v["lrc"], "01");
    assert_eq!(v["lrc_ok"], true);
}

#[test]
fn spaced_bytes_decode_the_same() {
    let spaced: Vec<String> = EXAMPLE
        .replace(' ', "")
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let mut args = vec!["decode", "--dialect", "concert"];
    args.extend(spaced.iter().map(String::as_str));
    let (code, out, _) = sim(&args);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["amount_minor"], 1250);
}

#[test]
fn every_single_flipped_bit_is_an_lrc_error_with_exit_2() {
    let hex = EXAMPLE.replace(' ', "");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    // Flip one bit of a payload byte (not STX/ETX, whose damage is a framing error), and
    // of the LRC itself: spot-check a spread of positions to keep the test quick.
    for (i, bit) in [(1, 0), (5, 3), (17, 5), (27, 6), (34, 1), (36, 0)] {
        let mut b = bytes.clone();
        b[i] ^= 1 << bit;
        let flipped: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let (code, out, err) = sim(&["decode", "--dialect", "concert", &flipped]);
        assert_eq!(code, 2, "byte {i} bit {bit}: {out}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: bad LRC"),
            "byte {i} bit {bit}: {err}"
        );
    }
}

#[test]
fn wrong_length_and_truncated_frames_exit_2_naming_the_problem() {
    // A 28-byte frame whose payload is not an answer (bytes 1..25 of the request).
    let hex = EXAMPLE.replace(' ', "");
    let truncated = &hex[..40];
    let (code, _, err) = sim(&["decode", "--dialect", "concert", truncated]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: truncated frame"), "{err}");

    let (code, _, err) = sim(&["decode", "--dialect", "concert", "02 30 31 03 02"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: wrong length"), "{err}");
}
