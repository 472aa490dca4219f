#![no_main]
//! Feeds arbitrary bytes, in arbitrary splits, to the link frame accumulator: it must never
//! panic, never report more consumed bytes than given, and never hold more than its capacity.
//! Every frame it yields round-trips: `encode_frame` writes it back, `decode_frame` and a
//! fresh accumulator read the same payload from those bytes. A second accumulator fed the same
//! bytes one at a time through `feed_byte` yields the same items in the same order.
use ecrlink_core::link::{Checksum, Feed, FrameAccumulator, decode_frame, encode_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let checksum = if split & 1 == 0 {
        Checksum::Lrc
    } else {
        Checksum::None
    };
    let mut acc = FrameAccumulator::<256>::new(checksum);
    let mut items = Vec::new();
    let step = usize::from(split >> 1).max(1);
    for chunk in rest.chunks(step) {
        let mut input = chunk;
        // A call may consume nothing when it reports an error at the first byte (it changed
        // state instead); two such calls in a row would be a livelock.
        let mut idle_calls = 0;
        while !input.is_empty() {
            let (r, used) = acc.feed(input);
            assert!(used <= input.len());
            items.push(item(&r));
            if let Ok(Feed::Frame(p)) = r {
                assert!(p.len() <= 256);
                let payload = p.to_vec();
                let mut wire = [0u8; 260];
                let n = encode_frame(&payload, checksum, &mut wire)
                    .expect("a received payload encodes");
                let view = decode_frame(&wire[..n], checksum).expect("an encoded frame decodes");
                assert_eq!(view.payload, &payload[..]);
                let mut again = FrameAccumulator::<256>::new(checksum);
                match again.feed(&wire[..n]) {
                    (Ok(Feed::Frame(q)), used) => {
                        assert_eq!(q, &payload[..]);
                        assert_eq!(used, n);
                    }
                    other => panic!("re-encoded frame not taken back: {other:?}"),
                }
            }
            idle_calls = if used == 0 { idle_calls + 1 } else { 0 };
            assert!(idle_calls < 2, "accumulator made no progress");
            input = &input[used..];
        }
    }
    let mut by_byte = FrameAccumulator::<256>::new(checksum);
    let mut byte_items = Vec::new();
    for &b in rest {
        byte_items.push(item(&by_byte.feed_byte(b)));
    }
    let found = |v: Vec<String>| v.into_iter().filter(|s| s != "more").collect::<Vec<_>>();
    assert_eq!(
        found(items),
        found(byte_items),
        "feed_byte disagrees with feed"
    );
    assert_eq!(acc.discarded(), by_byte.discarded());
});

/// One item as text, to compare the two feeding styles.
fn item(r: &ecrlink_core::Result<Feed<'_>>) -> String {
    match r {
        Ok(Feed::NeedMore) => "more".into(),
        other => format!("{other:?}"),
    }
}
