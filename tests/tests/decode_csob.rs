//! `ecrlink-sim decode --dialect csob` as a real process: frames built field by field from the
//! public description (DESIGN.md; `Payment.java` of `l1zard/react-native-enigoo-terminal`).

mod decode_common;

use decode_common::sim;

use serde_json::Value;

/// `STX header (FS field)* ETX` as hex.
fn frame_hex(header: &str, fields: &[&[u8]]) -> String {
    let mut f = vec![0x02u8];
    f.extend_from_slice(header.as_bytes());
    for field in fields {
        f.push(0x1C);
        f.extend_from_slice(field);
    }
    f.push(0x03);
    f.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_ok(hex: &str) -> Value {
    let (code, out, err) = sim(&["decode", "--dialect", "csob", hex]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out.lines().count(), 1, "one JSON object on one line: {out}");
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn sale_with_cashback_answer() {
    let hex = frame_hex(
        "B2011234567824031514301000020040A5A5",
        &[
            b"T08",
            b"R000",
            b"F0A1B2C",
            b"B70000",
            b"C20000",
            b"E203",
            b"9\x1dSINV-77",
            b"P476173******0119",
        ],
    );
    let j = decode_ok(&hex);
    assert_eq!(j["message_type"], "B2");
    assert_eq!(j["header"]["terminal_id"], "12345678");
    // ISO 8601 with this machine's offset (the header carries none).
    assert!(
        j["header"]["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2024-03-15T14:30:10"),
        "{j}"
    );
    assert_eq!(j["header"]["receipt_ready"], true);
    assert_eq!(j["length"]["declared"], 64);
    assert_eq!(j["length"]["matches"], true);
    assert_eq!(j["crc"], "A5A5");
    assert_eq!(j["transaction"]["code"], "T08");
    assert_eq!(j["transaction"]["txn_kind"], "cashback");
    assert_eq!(j["result"]["code"], "R000");
    assert_eq!(j["result"]["outcome"], "approved");
    assert_eq!(j["amount"]["minor"], 70000);
    assert_eq!(j["amount"]["decimal"], "700.00");
    assert_eq!(j["amount"]["currency"], "CZK");
    assert_eq!(j["cashback"]["decimal"], "200.00");
    assert_eq!(j["approval_code"], "0A1B2C");
    assert_eq!(j["pan"], "476173******0119");
    assert_eq!(j["fields"].as_array().unwrap().len(), 8);
    assert_eq!(j["fields"][6]["tag"], "9");
    assert_eq!(j["fields"][6]["subfields"][0]["value"], "INV-77");
}

#[test]
fn public_client_reversal_reports_its_length_mismatch() {
    // Payment.createReversalRequest always declares 000E.
    let j = decode_ok(&frame_hex(
        "B101123456782403151430058000000EA5A5",
        &[b"T10", b"FA1B2C3"],
    ));
    assert_eq!(j["length"]["declared"], 14);
    assert_eq!(j["length"]["actual"], 12);
    assert_eq!(j["length"]["matches"], false);
    assert_eq!(j["transaction"]["name"], "reversal");
    assert_eq!(j["approval_code"], "A1B2C3");
    // No amount: the txn mapping says why instead of guessing.
    assert_eq!(j["txn_error"], "csob: invalid field B");
}

#[test]
fn declined_and_receipt_part() {
    let j = decode_ok(&frame_hex(
        "B2011234567824031514300500000009A5A5",
        &[b"T00", b"R-12"],
    ));
    assert_eq!(j["result"]["outcome"], "declined");
    // The bank's ISO code and ČSOB's code, named as in the till's `--json`.
    assert_eq!(j["result"]["bank_code"], "51");
    assert_eq!(j["result"]["terminal_code"], "R-12");
    let j = decode_ok(&frame_hex(
        "B401123456782403151430060000001CA5A5",
        &[b"T0OBCHOD s.r.o.", b"T0D\xeckujeme", b"t1"],
    ));
    assert_eq!(j["message"], "ticket-response");
    assert_eq!(j["receipt"]["text"], "OBCHOD s.r.o.\nDěkujeme");
    assert_eq!(j["receipt"]["more"], true);
}

#[test]
fn bad_frames_are_one_line_errors_with_exit_2() {
    let cases = [
        // No STX.
        ("42 30 03", "malformed frame"),
        // No ETX.
        ("02 42 30", "truncated"),
        // Unknown message type.
        (
            &frame_hex("B9011234567824031514300500000000A5A5", &[])[..],
            "message type",
        ),
        // A field that is not a number.
        (
            &frame_hex("B1011234567824031514300580000009A5A5", &[b"T00", b"B12x"])[..],
            "invalid field B",
        ),
        // Bytes after ETX.
        (
            &format!(
                "{} 00",
                frame_hex("B0011234567824031514300500000000A5A5", &[])
            ),
            "after ETX",
        ),
    ];
    for (hex, needle) in cases {
        let (code, out, err) = sim(&["decode", "--dialect", "csob", hex]);
        assert_eq!(code, 2, "{hex}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(needle), "{needle} not in {err}");
    }
}
