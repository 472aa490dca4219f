#![no_main]
//! Arbitrary bytes as the BMP part of a ZVT message, and as the BER-TLV container of BMP `06`
//! (what a `06 D3` text block and the status information carry): the BMP iterator, the typed
//! BMP set, the BCD helpers and the TLV readers return a value or a typed error, never panic.
//! Whatever BMP set parses is written again inside a status information `04 0F` and reads back
//! the same (BMPs the parser skips aside); a BCD value that decodes encodes to the same bytes.
use ecrlink_core::dialect::zvt::bmp::{self, bcd_to_u64, u64_to_bcd};
use ecrlink_core::dialect::zvt::{Bmps, Message};
use ecrlink_core::emv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The iterator: each BMP it yields lies inside the input, and it ends.
    let mut it = bmp::iter(data);
    let mut count = 0usize;
    for b in it.by_ref() {
        let Ok(b) = b else { break };
        assert!(b.value.len() <= data.len());
        count += 1;
        assert!(count <= data.len(), "an iterator that never ends");
    }
    if let Ok(first) = Bmps::parse(data) {
        let mut expected = first;
        expected.ignored = 0;
        let mut buf = vec![0u8; data.len() + 64];
        if let Ok(n) = Message::StatusInformation(first).emit(&mut buf) {
            let again = Message::parse_bytes(&buf[..n]).expect("an emitted message parses");
            assert_eq!(again, Message::StatusInformation(expected));
        }
    }
    // BCD of every length a BMP uses.
    for len in [2usize, 3, 4, 6] {
        if let Some(bytes) = data.get(..len) {
            if let Ok(v) = bcd_to_u64(0x04, bytes) {
                let mut out = vec![0u8; len];
                u64_to_bcd(0x04, v, &mut out).expect("a decoded value fits its length");
                assert_eq!(&out[..], bytes);
            }
        }
    }
    // The TLV container of BMP 06: validated, searched for the text block's lines.
    if emv::validate(data).is_ok() {
        if let Ok(Some(lines)) = emv::find(data, emv::Tag::new(0x25).expect("a valid tag")) {
            for item in emv::parse(lines).flatten() {
                assert!(item.value.len() <= lines.len());
            }
        }
        let mut norm = vec![0u8; data.len() + 16];
        let _ = emv::normalize(data, &mut norm);
    }
});
