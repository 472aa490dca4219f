#![no_main]
//! parse → emit → parse gives the same message, and emit gives the same bytes back except for
//! the report field of a full answer (kept only as a masked card number, padded with spaces).
use ecrlink_core::dialect::concert::{AnswerForm, ConcertMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(first) = ConcertMessage::parse(data) else {
        return;
    };
    let mut out = [0u8; 128];
    let n = first.emit(&mut out).expect("a parsed message emits");
    let second = ConcertMessage::parse(&out[..n]).expect("an emitted message parses");
    assert_eq!(first, second);
    let full_answer = matches!(first, ConcertMessage::Answer(a) if a.form == AnswerForm::Full);
    if !full_answer {
        assert_eq!(&out[..n], data);
    }
});
