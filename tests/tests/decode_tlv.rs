//! `ecrlink-sim decode --dialect tlv` as a real process.

mod decode_common;

use decode_common::sim;

use serde_json::Value;

/// A GENERATE AC answer (77 template), then the record with PAN, track 2 and label.
const CARD: &str = "77 1E 9F2701 80 9F3602 002A 9F2608 C2C12B098F3DA6E3 9F1007 06010A03A00000 \
                    70 1E 5A08 4761739001010119 570C 4761739001010119D2912201 5004 56495341";

#[test]
fn decodes_a_tree_with_names_and_masks_card_data() {
    let (code, out, err) = sim(&["decode", "--dialect", "tlv", CARD]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dialect"], "tlv");
    let gen_ac = &v["objects"][0];
    assert_eq!(gen_ac["tag"], "77");
    assert_eq!(gen_ac["name"], "Response Message Template Format 2");
    assert_eq!(gen_ac["length"], 30);
    let kids = gen_ac["children"].as_array().unwrap();
    assert_eq!(kids.len(), 4);
    assert_eq!(kids[2]["tag"], "9F26");
    assert_eq!(kids[2]["name"], "Application Cryptogram");
    assert_eq!(kids[2]["value"], "C2C12B098F3DA6E3");
    assert_eq!(kids[1]["value"], "002A");
    let record = v["objects"][1]["children"].as_array().unwrap();
    assert_eq!(record[0]["value"], "476173******0119");
    assert_eq!(record[0]["masked"], true);
    assert_eq!(record[1]["value"], "476173******0119 (track data hidden)");
    assert_eq!(record[2]["text"], "VISA");
    assert!(!out.contains("4761739001010119"), "{out}");
    assert!(!out.contains("D2912201"), "{out}");
}

#[test]
fn malformed_tlv_is_one_line_exit_2() {
    for (hex, what) in [
        ("9F2608C2C1", "truncated"),
        ("9580", "malformed"),
        ("70039F2601", "truncated"),
    ] {
        let (code, out, err) = sim(&["decode", "--dialect", "tlv", hex]);
        assert_eq!(code, 2, "{hex}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: tlv:"), "{err}");
        assert!(err.contains(what), "{hex}: {err}");
    }
}

#[test]
fn too_deep_nesting_is_refused() {
    // Nine nested 70 templates around one TVR: deeper than emv::MAX_DEPTH (8) levels.
    let mut data = vec![0x95u8, 0x01, 0x00];
    for _ in 0..ecrlink_core::emv::MAX_DEPTH {
        let mut outer = vec![0x70, data.len() as u8];
        outer.extend_from_slice(&data);
        data = outer;
    }
    let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
    let (code, _, err) = sim(&["decode", "--dialect", "tlv", &hex]);
    assert_eq!(code, 2);
    assert!(err.contains("too deep"), "{err}");
}
