#![no_main]
//! Arbitrary bytes as ZVT: the APDU parser, the typed message parser and the BMP parser return
//! a value, "need more" or a typed error, never panic; a complete APDU never claims more bytes
//! than it was given; the stream accumulator consumes every byte in any split.
use ecrlink_core::dialect::zvt::{
    Apdu, ApduAccumulator, ApduStatus, Bmps, Message, apdu::MAX_DATA,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(ApduStatus::Complete(apdu, used)) = Apdu::parse(rest, MAX_DATA) {
        assert!(used >= 3 && used <= rest.len());
        // Header of 3 bytes, or 5 with FF: a two-byte length below 255 is accepted.
        let header = used - apdu.data.len();
        assert!(header == 3 || header == 5);
        assert!(apdu.data.len() < 255 || header == 5);
        let _ = Message::parse(&apdu);
        let _ = Bmps::parse(apdu.data);
        rest = &rest[used..];
    }
    if let Ok(ApduStatus::NeedMore(n)) = Apdu::parse(rest, MAX_DATA) {
        assert!(n > 0);
    }
    let _ = Bmps::parse(data);
    let mut acc = ApduAccumulator::<512>::new();
    for piece in data.chunks(7) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (r, used) = acc.feed(rest);
            assert!(used > 0 && used <= rest.len());
            if let Ok(Some(apdu)) = r {
                assert!(apdu.data.len() <= 512 - 5);
            }
            rest = &rest[used..];
        }
    }
});
