#![no_main]
//! Arbitrary bytes as an ISO 8583 message and as a length-prefixed TCP stream: Ok or a typed
//! error, never a panic; a parsed message types or refuses cleanly and never shows a full PAN.
use ecrlink_core::bank::{BankMessage, IsoMessage, framing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = IsoMessage::parse(data) {
        let _ = BankMessage::from_message(&m);
        let shown = format!("{m}");
        if m.has(2) {
            // The field-2 token of the log line is masked: stars inside, or "(hidden)".
            let token = shown
                .split(' ')
                .find_map(|t| t.strip_prefix("2="))
                .expect("field 2 is shown");
            assert!(token.contains('*') || token == "(hidden)", "{token}");
        }
    }
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1);
    let mut acc = framing::Accumulator::<{ framing::MAX_MESSAGE_LEN }>::new();
    for chunk in rest.chunks(step) {
        let mut input = chunk;
        while !input.is_empty() {
            let (r, used) = acc.feed(input);
            assert!(used > 0 && used <= input.len());
            if let Ok(framing::Feed::Message(msg)) = r {
                assert!(!msg.is_empty() && msg.len() <= framing::MAX_MESSAGE_LEN);
                let _ = IsoMessage::parse(msg);
            }
            input = &input[used..];
        }
    }
});
