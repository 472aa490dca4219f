#![no_main]
//! Arbitrary bytes, in pieces and with timeouts between them, into the ZVT terminal session
//! (TCP or serial, chosen by the first byte) and into the ZVT till session running a sale.
//! Neither panics; every request the terminal reports is answered (approved, with the
//! request's amount) and every receipt request gets text; `poll_transmit` always drains; a
//! session that reports no deadline is idle or waits for its driver, never for a timer that
//! was lost.
use core::time::Duration;

use ecrlink_core::Instant;
use ecrlink_core::dialect::zvt::{Transport, ZvtEcr, ZvtEcrConfig, ZvtTerminal, ZvtTerminalConfig};
use ecrlink_core::session::{EcrSide, MAX_TRANSMIT, TerminalEvent, TerminalSide};
use ecrlink_core::txn::{Currency, Money, Outcome, Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let transport = if mode & 1 == 0 {
        Transport::Tcp
    } else {
        Transport::Serial
    };
    let mut tcfg = ZvtTerminalConfig::new(Currency::EUR);
    tcfg.transport = transport;
    let mut term = ZvtTerminal::new(tcfg);
    let mut ecfg = ZvtEcrConfig::new(Currency::EUR);
    ecfg.transport = transport;
    let mut ecr = ZvtEcr::new(ecfg);
    let mut now = Instant::ZERO;
    let sale = Request::Sale {
        amount: Money::new(1250, Currency::EUR).unwrap(),
        reference: None,
    };
    ecr.start(now, &sale).unwrap();
    let mut out = [0u8; MAX_TRANSMIT];
    for piece in rest.chunks(13) {
        term.handle_bytes(now, piece);
        ecr.handle_bytes(now, piece);
        while let Some(ev) = term.poll_event() {
            match ev {
                TerminalEvent::Request(r) => {
                    let mut a = Response::new(r.kind(), Outcome::Approved);
                    a.amount = r.amount();
                    let _ = term.respond(now, &a);
                }
                TerminalEvent::ReceiptRequested => {
                    term.send_receipt_part(now, "RECEIPT\nline", false).unwrap();
                }
                _ => {}
            }
        }
        while ecr.poll_event().is_some() {}
        while let Some(n) = term.poll_transmit(&mut out).unwrap() {
            assert!(n > 0 && n <= out.len());
        }
        while let Some(n) = ecr.poll_transmit(&mut out).unwrap() {
            assert!(n > 0 && n <= out.len());
        }
        now = now.saturating_add(Duration::from_millis(u64::from(piece[0]) * 50));
        if term.poll_timeout().is_some_and(|t| now >= t) {
            term.handle_timeout(now);
        }
        if ecr.poll_timeout().is_some_and(|t| now >= t) {
            ecr.handle_timeout(now);
        }
    }
    // Far in the future every timer has fired: the till session is idle.
    now = now.saturating_add(Duration::from_secs(3600));
    for _ in 0..4 {
        if let Some(t) = ecr.poll_timeout() {
            ecr.handle_timeout(now.max(t));
        }
    }
    assert!(!ecr.is_busy(), "a till session waits for nothing");
});
