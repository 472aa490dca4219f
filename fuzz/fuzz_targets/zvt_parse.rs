#![no_main]
//! Arbitrary bytes as ZVT: the APDU parser, the typed message parser and the BMP parser return
//! a value, "need more" or a typed error, never panic; a complete APDU never claims more bytes
//! than it was given.
use ecrlink_core::dialect::zvt::{Apdu, ApduStatus, Bmps, Message, apdu::MAX_DATA};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(ApduStatus::Complete(apdu, used)) = Apdu::parse(rest, MAX_DATA) {
        assert!(used >= 3 && used <= rest.len());
        assert_eq!(apdu.data.len() + if apdu.data.len() < 255 { 3 } else { 5 }, used);
        let _ = Message::parse(&apdu);
        let _ = Bmps::parse(apdu.data);
        rest = &rest[used..];
    }
    if let Ok(ApduStatus::NeedMore(n)) = Apdu::parse(rest, MAX_DATA) {
        assert!(n > 0);
    }
    let _ = Bmps::parse(data);
});
