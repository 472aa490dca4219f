#![no_main]
//! The ZVT terminal session (`ZvtTerminal`) against a hostile till that speaks well-formed
//! APDUs: the input is cut into till messages (class, instruction, length, data; any
//! command, `80 00 00` acknowledgements, `06 B0` abort, with arbitrary BMPs), over TCP or
//! serial, while a driver answers every request with an outcome, a trace number and a card
//! number taken from the input, sends receipt text when asked and intermediate status now and
//! then. Checks besides "no panic": `poll_transmit` always drains; every request is answered
//! once and the answer ends delivered or undelivered at most once; a busy session that waits
//! for the till has a deadline; after every timer ran the session is idle.
use core::time::Duration;

use ecrlink_core::Instant;
use ecrlink_core::dialect::zvt::serial::encode_frame;
use ecrlink_core::dialect::zvt::{Transport, ZvtTerminal, ZvtTerminalConfig};
use ecrlink_core::session::{MAX_TRANSMIT, Progress, TerminalEvent, TerminalSide};
use ecrlink_core::txn::{
    ApprovalCode, Currency, DeclineCode, FailReason, MaskedPan, Outcome, Request, RequestKind,
    Response, Totals,
};
use libfuzzer_sys::fuzz_target;

fn answer(r: &Request, pick: u8) -> Response {
    let outcome = match pick % 5 {
        0 | 1 => Outcome::Approved,
        2 => Outcome::Declined {
            code: DeclineCode::new("51").unwrap(),
        },
        3 => Outcome::Failed {
            reason: FailReason::NoMatchingTransaction,
        },
        _ => Outcome::Cancelled,
    };
    let mut a = Response::new(r.kind(), outcome);
    a.amount = r.amount();
    if r.kind() != RequestKind::Abort && pick & 0x10 != 0 {
        a.trace = Some(u32::from(pick) * 37);
        a.approval_code = ApprovalCode::new("A1B2C3").ok();
        a.pan = MaskedPan::parse("476173******0119").ok();
    }
    if r.kind() == RequestKind::CloseTotals && pick & 0x20 != 0 {
        a.totals = Some(Totals::default());
    }
    a
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let serial = mode & 1 == 1;
    let mut cfg = ZvtTerminalConfig::new(Currency::EUR);
    cfg.transport = if serial {
        Transport::Serial
    } else {
        Transport::Tcp
    };
    let mut term = ZvtTerminal::new(cfg);
    let mut now = Instant::ZERO;
    let mut out = [0u8; MAX_TRANSMIT];
    let (mut requests, mut ends) = (0u32, 0u32);
    while rest.len() >= 3 {
        let (class, instr, len) = (rest[0], rest[1], usize::from(rest[2]));
        let body = &rest[3..(3 + len).min(rest.len())];
        let mut apdu = vec![class, instr, body.len() as u8];
        apdu.extend_from_slice(body);
        rest = &rest[(3 + len).min(rest.len())..];
        let pick = body.last().copied().unwrap_or(0);
        let wire = if serial {
            let mut f = vec![0u8; 2 * apdu.len() + 8];
            let n = encode_frame(&apdu, &mut f).unwrap();
            f.truncate(n);
            f
        } else {
            apdu
        };
        term.handle_bytes(now, &wire);
        if serial {
            term.handle_bytes(now, &[0x06]);
        }
        if pick & 0x40 != 0 {
            let _ = term.send_progress(now, Progress::PinEntry);
        }
        while let Some(ev) = term.poll_event() {
            match ev {
                TerminalEvent::Request(r) => {
                    if r.kind() != RequestKind::Abort {
                        requests += 1;
                    }
                    let _ = term.respond(now, &answer(&r, pick));
                }
                TerminalEvent::ReceiptRequested => {
                    let more = pick & 0x80 != 0 && pick & 0x01 != 0;
                    term.send_receipt_part(now, "SHOP\nTOTAL 12.50 EUR\n", more)
                        .expect("a receipt that was asked for is taken");
                }
                TerminalEvent::ResponseDelivered | TerminalEvent::ResponseUndelivered(_) => {
                    ends += 1;
                }
                TerminalEvent::ProtocolError(_) => {}
            }
        }
        while let Some(n) = term.poll_transmit(&mut out).unwrap() {
            assert!(n > 0 && n <= out.len());
        }
        if term.is_busy() && term.receipt_wanted().is_none() {
            assert!(
                term.poll_timeout().is_some(),
                "a busy terminal session has a deadline"
            );
        }
        now = now.saturating_add(Duration::from_secs(u64::from(pick & 0x07)));
        if term.poll_timeout().is_some_and(|t| now >= t) {
            term.handle_timeout(now);
        }
        while let Some(ev) = term.poll_event() {
            if matches!(
                ev,
                TerminalEvent::ResponseDelivered | TerminalEvent::ResponseUndelivered(_)
            ) {
                ends += 1;
            }
        }
    }
    assert!(ends <= requests, "{ends} ends of {requests} requests");
    now = now.saturating_add(Duration::from_secs(3600));
    // Each timer that fires may start the next (a serial frame's ACK wait, the next message's
    // acknowledgement wait, a receipt wait): run them out, however many there are.
    for _ in 0..256 {
        let Some(t) = term.poll_timeout() else { break };
        term.handle_timeout(now.max(t));
        now = now.max(t);
        while term.poll_event().is_some() {}
        while term.poll_transmit(&mut out).unwrap().is_some() {}
    }
    assert!(term.poll_timeout().is_none(), "timers that never run out");
    assert!(
        !term.is_busy(),
        "a terminal session whose till went quiet ends idle"
    );
});
