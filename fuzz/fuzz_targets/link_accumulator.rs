#![no_main]
//! Feeds arbitrary bytes, in arbitrary splits, to the link frame accumulator: it must never
//! panic, never report more consumed bytes than given, and never hold more than its capacity.
use ecrlink_core::link::{Checksum, Feed, FrameAccumulator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let mut acc = FrameAccumulator::<256>::new(if split & 1 == 0 {
        Checksum::Lrc
    } else {
        Checksum::None
    });
    let step = usize::from(split >> 1).max(1);
    for chunk in rest.chunks(step) {
        let mut input = chunk;
        // A call may consume nothing when it reports an error at the first byte (it changed
        // state instead); two such calls in a row would be a livelock.
        let mut idle_calls = 0;
        while !input.is_empty() {
            let (r, used) = acc.feed(input);
            assert!(used <= input.len());
            if let Ok(Feed::Frame(p)) = r {
                assert!(p.len() <= 256);
            }
            idle_calls = if used == 0 { idle_calls + 1 } else { 0 };
            assert!(idle_calls < 2, "accumulator made no progress");
            input = &input[used..];
        }
    }
});
