#![no_main]
//! Arbitrary bytes into the ZVT serial accumulator, in two pieces: every call consumes at least
//! one byte of non-empty input and never more than it was given; every frame it hands out
//! re-encodes to a frame that it reads back as the same APDU.
use ecrlink_core::dialect::zvt::serial::{SerialAccumulator, SerialFeed, encode_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut acc = SerialAccumulator::<256>::new();
    for piece in [&data[..split], &data[split..]] {
        let mut rest = piece;
        while !rest.is_empty() {
            let (r, used) = acc.feed(rest);
            assert!(used > 0 && used <= rest.len());
            if let Ok(SerialFeed::Frame(apdu)) = r {
                let apdu = apdu.to_vec();
                let mut wire = vec![0u8; 2 * apdu.len() + 6];
                let n = encode_frame(&apdu, &mut wire).expect("fits");
                let mut other = SerialAccumulator::<256>::new();
                let (again, used2) = other.feed(&wire[..n]);
                assert_eq!(used2, n);
                assert_eq!(again, Ok(SerialFeed::Frame(&apdu[..])));
            }
            rest = &rest[used..];
        }
    }
});
