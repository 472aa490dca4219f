//! Realistic ZVT frames for the ZVT benches (`zvt.rs`, criterion) and `zvt_probe` (which
//! `benches/compare.sh` runs under callgrind): a till's authorisation `06 01`, a terminal's
//! status information `04 0F` and a text block `06 D3`, as they travel over TCP (bare APDUs)
//! and over serial (`DLE STX … DLE ETX CRC`). Every frame is checked to parse to the expected
//! message before it is measured, so no bench times an error path.
#![allow(dead_code)] // each bench target uses a different part of this module

use ecrlink_core::dialect::zvt::serial::encode_frame;
use ecrlink_core::dialect::zvt::{Apdu, ApduStatus, Message, apdu::MAX_DATA};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `06 01` authorisation of 25.00 EUR as a till sends it: amount (`04`), currency (`49`),
/// payment type (`19`: the terminal decides): 15 bytes.
pub fn authorisation() -> Vec<u8> {
    let b = hex("06 01 0C 04 00 00 00 00 25 00 49 09 78 19 40");
    match Message::parse_bytes(&b).expect("06 01 parses") {
        Message::Authorisation(bmps) => assert_eq!(bmps.amount, Some(2500)),
        other => panic!("not an authorisation: {other:?}"),
    }
    b
}

/// `04 0F` status information of an approved payment with a masked card number, as captured
/// by EVerest/zvt (`zvt/data/1680728165.675509000_pt_ecr.blob`; the same bytes are a test
/// vector in `core/src/dialect/zvt/tests.rs`): 93 bytes.
pub fn status_information() -> Vec<u8> {
    let b = hex(
        "040f5a2700040000000025004909780c2255580d040522f0f8559883eeeeee80748702313b3735303037\
         3100000b000975196029525235350e24058a068c018bf1f14d617374657243617264002a383034303131\
         393236202020202020",
    );
    match Message::parse_bytes(&b).expect("04 0F parses") {
        Message::StatusInformation(s) => assert_eq!((s.amount, s.trace), (Some(2500), Some(975))),
        other => panic!("not a status information: {other:?}"),
    }
    b
}

/// `06 D3` text block of a whole receipt, as captured by EVerest/zvt
/// (`zvt/data/1680728215.585561000_pt_ecr.blob`, three-byte length `FF 61 04`): 1126 bytes.
pub fn text_block() -> Vec<u8> {
    let b = include_bytes!("../../src/dialect/zvt/testdata/print_text_block.blob").to_vec();
    match Message::parse_bytes(&b).expect("06 D3 parses") {
        Message::PrintTextBlock(bmps) => assert!(bmps.tlv.is_some()),
        other => panic!("not a text block: {other:?}"),
    }
    b
}

/// The three frames, named.
pub fn frames() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("auth_06_01", authorisation()),
        ("status_04_0F", status_information()),
        ("text_block_06_D3", text_block()),
    ]
}

/// `apdu` in its serial frame.
pub fn serial_frame(apdu: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 2 * apdu.len() + 6];
    let n = encode_frame(apdu, &mut out).expect("fits");
    out.truncate(n);
    out
}

/// Whether `bytes` is exactly one complete APDU.
pub fn is_one_apdu(bytes: &[u8]) -> bool {
    matches!(Apdu::parse(bytes, MAX_DATA), Ok(ApduStatus::Complete(_, n)) if n == bytes.len())
}
