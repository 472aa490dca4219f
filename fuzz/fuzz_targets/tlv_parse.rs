#![no_main]
//! Arbitrary bytes as EMV BER-TLV: every entry point returns Ok or a typed error, never
//! panics; whatever validates can be printed and searched.
use ecrlink_core::emv::{self, ReceiptTags, Tag};
use libfuzzer_sys::fuzz_target;

/// A `fmt::Write` sink that keeps nothing.
struct Sink(usize);
impl core::fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let valid = emv::validate(data).is_ok();
    let mut count = 0usize;
    for tlv in emv::parse(data) {
        let Ok(tlv) = tlv else { break };
        assert!(tlv.value.len() <= data.len());
        assert!(tlv.tag.len() <= 4);
        if tlv.is_constructed() {
            if let Ok(children) = tlv.children() {
                count += children.count();
            }
        }
    }
    let _ = count;
    let found = emv::find(data, Tag::AC);
    let tags = ReceiptTags::from_tlv(data);
    let mut sink = Sink(0);
    let printed = emv::write_pretty(data, &mut sink);
    if valid {
        assert!(found.is_ok());
        assert!(tags.is_ok());
        assert!(printed.is_ok());
    }
});
