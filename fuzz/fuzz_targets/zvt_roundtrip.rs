#![no_main]
//! parse → emit → parse: whatever ZVT message the parser accepts, the emitter writes (card data
//! the parser skipped is dropped), and the result parses to the same message; emitting that
//! again gives the same bytes.
use ecrlink_core::dialect::zvt::{Apdu, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(apdu) = Apdu::parse_exact(data) else {
        return;
    };
    let Ok(first) = Message::parse(&apdu) else {
        return;
    };
    let mut buf = vec![0u8; data.len() + 16];
    let n = first.emit(&mut buf).expect("a parsed message re-emits");
    let second = Message::parse_bytes(&buf[..n]).expect("an emitted message parses");
    let mut expected = first;
    // Skipped BMPs (track data, unused ones) are counted, not emitted.
    clear_ignored(&mut expected);
    assert_eq!(second, expected);
    let mut again = vec![0u8; n];
    let m = second.emit(&mut again).expect("re-emits");
    assert_eq!(&again[..m], &buf[..n]);
});

fn clear_ignored(m: &mut Message<'_>) {
    use ecrlink_core::dialect::zvt::Completion;
    match m {
        Message::Registration(r) => r.bmps.ignored = 0,
        Message::Authorisation(b)
        | Message::StatusInformation(b)
        | Message::PrintTextBlock(b)
        | Message::Completion(Completion::Bitmaps(b))
        | Message::Diagnosis(b)
        | Message::Reservation(b)
        | Message::PartialReversal(b)
        | Message::BookTotal(b)
        | Message::PreAuthReversal(b) => b.ignored = 0,
        Message::Abort(a) => a.bmps.ignored = 0,
        Message::Reversal(p)
        | Message::Refund(p)
        | Message::RepeatReceipt(p)
        | Message::EndOfDay(p) => p.bmps.ignored = 0,
        Message::StatusEnquiry(s) => s.bmps.ignored = 0,
        _ => {}
    }
}
