#![no_main]
//! Arbitrary bytes as a Concert payload and as a whole frame: parsing must never panic, and
//! whatever parses must emit again without error.
use ecrlink_core::dialect::concert::ConcertMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = [0u8; 128];
    if let Ok(m) = ConcertMessage::parse(data) {
        m.emit(&mut out).expect("a parsed message emits");
    }
    if let Ok((m, _lrc)) = ConcertMessage::parse_frame(data) {
        m.emit(&mut out).expect("a parsed message emits");
    }
});
