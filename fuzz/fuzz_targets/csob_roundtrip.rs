#![no_main]
//! parse → emit → parse: whatever the ČSOB parser accepts, the emitter writes, and the result
//! parses to the same message (the data-length field is re-measured, so it is compared apart),
//! with the length now matching under the strict policy.
use ecrlink_core::dialect::csob::{CrcPolicy, LengthPolicy, MAX_FRAME, Message, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((first, _)) = Message::parse_frame(data, &ParseOptions::default()) else {
        return;
    };
    let mut buf = [0u8; MAX_FRAME * 2];
    let n = first.emit(&mut buf).expect("a parsed message re-emits");
    let strict = ParseOptions {
        crc: CrcPolicy::Expect(first.header.crc),
        length: LengthPolicy::Strict,
    };
    let (second, used) =
        Message::parse_frame(&buf[..n], &strict).expect("emitted frame parses strictly");
    assert_eq!(used, n);
    let mut expected = first.clone();
    expected.header.length = second.header.length;
    assert_eq!(second, expected);
});
