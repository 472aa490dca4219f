#![no_main]
//! Arbitrary bytes into the ČSOB parsers (whole frame and bare payload, lenient and strict
//! policies), then into both sessions in arbitrary splits: nothing may panic, and a session
//! may never queue a frame larger than `MAX_TRANSMIT`.
use ecrlink_core::Instant;
use ecrlink_core::dialect::csob::{
    CrcField, CrcPolicy, CsobConfig, CsobEcr, CsobTerminal, LengthPolicy, Message, ParseOptions,
};
use ecrlink_core::session::{EcrSide, MAX_TRANSMIT, TerminalSide};
use ecrlink_core::txn::TerminalId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = ParseOptions {
        crc: CrcPolicy::Expect(CrcField::PUBLIC_CLIENT),
        length: LengthPolicy::Strict,
    };
    for opts in [ParseOptions::default(), strict] {
        let _ = Message::parse_frame(data, &opts);
        let _ = Message::parse_payload(data, &opts);
    }
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let Ok(id) = TerminalId::new("FUZZ0001") else {
        return;
    };
    let mut t = CsobTerminal::new(CsobConfig::new(id.clone()));
    let mut e = CsobEcr::new(CsobConfig::new(id));
    let mut buf = [0u8; MAX_TRANSMIT];
    let step = usize::from(split).max(1);
    for (i, chunk) in rest.chunks(step).enumerate() {
        let now = Instant::from_millis(i as u64 * 700);
        t.handle_bytes(now, chunk);
        e.handle_bytes(now, chunk);
        t.handle_timeout(now);
        e.handle_timeout(now);
        while let Some(n) = t.poll_transmit(&mut buf).expect("buffer of MAX_TRANSMIT") {
            assert!(n <= MAX_TRANSMIT);
        }
        while let Some(n) = e.poll_transmit(&mut buf).expect("buffer of MAX_TRANSMIT") {
            assert!(n <= MAX_TRANSMIT);
        }
        while t.poll_event().is_some() {}
        while e.poll_event().is_some() {}
    }
});
