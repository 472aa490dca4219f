#![no_main]
//! parse → emit → parse: a message that parses emits bytes that parse to the same message and
//! emit the same bytes again; a typed message maps back to the same field-level message.
use ecrlink_core::bank::{BankMessage, IsoMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = IsoMessage::parse(data) else {
        return;
    };
    let mut buf = [0u8; IsoMessage::MAX_LEN];
    let n = m.emit(&mut buf).expect("MAX_LEN holds any message");
    assert_eq!(n, m.encoded_len());
    let back = IsoMessage::parse(&buf[..n]).expect("emitted bytes parse");
    assert_eq!(back, m);
    let mut again = [0u8; IsoMessage::MAX_LEN];
    assert_eq!(back.emit(&mut again), Ok(n));
    assert_eq!(&again[..n], &buf[..n]);
    if let Ok(typed) = BankMessage::from_message(&m) {
        let rebuilt = typed.to_message().expect("typed message re-encodes");
        let retyped = BankMessage::from_message(&rebuilt).expect("re-encoded message types");
        assert_eq!(retyped, typed);
    }
});
