#![no_main]
//! Drives the dialect sessions — Concert and ČSOB, till side and terminal side — with a fuzz
//! script of operations: hostile bytes in, time passing, requests started, answers given,
//! receipt parts sent, and the sessions' own bytes carried (possibly damaged) to the peer.
//! Nothing may panic; `poll_transmit` never needs more than `MAX_TRANSMIT`; and once the
//! script ends, the bytes flow unharmed, the terminal has answered what it was asked and every
//! timer has run out, both sides are idle.
use ecrlink_core::Instant;
use ecrlink_core::dialect::concert::{
    ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
};
use ecrlink_core::dialect::csob::{CsobConfig, CsobEcr, CsobTerminal};
use ecrlink_core::session::{EcrSide, MAX_TRANSMIT, TerminalEvent, TerminalSide};
use ecrlink_core::txn::{
    ApprovalCode, Currency, Money, Outcome, Reference, Request, RequestKind, Response, TerminalId,
};
use libfuzzer_sys::fuzz_target;

fn request(b: u8) -> Request {
    let amount = Money::new(u64::from(b) * 37 + 1, Currency::CZK).expect("small amount");
    let reference = Reference::new("F1").ok();
    match b % 6 {
        0 => Request::Sale { amount, reference },
        1 => Request::Refund { amount, reference },
        2 => Request::LastTransaction,
        3 => Request::Abort,
        4 => Request::TestTerminal,
        _ => Request::Reversal {
            amount,
            code: ApprovalCode::new("A00001").expect("valid code"),
            reference,
        },
    }
}

fn response(kind: RequestKind, b: u8) -> Response {
    let outcome = if b & 1 == 0 {
        Outcome::Approved
    } else {
        Outcome::Cancelled
    };
    let mut r = Response::new(kind, outcome);
    r.amount = Money::new(u64::from(b) * 11, Currency::CZK).ok();
    r.approval_code = ApprovalCode::new("A00001").ok();
    r
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, script)) = data.split_first() else {
        return;
    };
    let (mut ecr, mut term): (Box<dyn EcrSide>, Box<dyn TerminalSide>) = if mode & 1 == 0 {
        (
            Box::new(ConcertEcr::new(ConcertEcrConfig::default())),
            Box::new(ConcertTerminal::new(ConcertTerminalConfig::default())),
        )
    } else {
        let id = TerminalId::new("FUZZ0001").expect("valid id");
        (
            Box::new(CsobEcr::new(CsobConfig::new(id.clone()))),
            Box::new(CsobTerminal::new(CsobConfig::new(id))),
        )
    };
    let mut now = 0u64;
    let mut buf = [0u8; MAX_TRANSMIT];
    let mut last_request: Option<RequestKind> = None;
    let mut ops = script.iter().copied();
    while let Some(op) = ops.next() {
        let t = Instant::from_millis(now);
        match op % 10 {
            0 => {
                let _ = ecr.start(t, &request(ops.next().unwrap_or(0)));
            }
            1 => {
                let kind = last_request.unwrap_or(RequestKind::Sale);
                let _ = term.respond(t, &response(kind, ops.next().unwrap_or(0)));
            }
            2 | 3 => {
                // Carry one chunk from one side to the other, maybe damaged or lost.
                let till_to_term = op % 10 == 2;
                let sent = if till_to_term {
                    ecr.poll_transmit(&mut buf)
                } else {
                    term.poll_transmit(&mut buf)
                };
                let n = match sent {
                    Ok(Some(n)) => n,
                    Ok(None) => continue,
                    Err(e) => panic!("poll_transmit with MAX_TRANSMIT bytes failed: {e}"),
                };
                let arg = ops.next().unwrap_or(0);
                let bytes = &mut buf[..n];
                if arg & 0x80 != 0 && n > 0 {
                    let i = usize::from(arg & 0x3f) % n;
                    bytes[i] ^= ops.next().unwrap_or(1);
                }
                if arg & 0x40 == 0 {
                    if till_to_term {
                        term.handle_bytes(t, bytes);
                    } else {
                        ecr.handle_bytes(t, bytes);
                    }
                }
            }
            4 | 5 => {
                // Raw hostile bytes to one side.
                let len = usize::from(ops.next().unwrap_or(0) % 64);
                let raw: Vec<u8> = ops.by_ref().take(len).collect();
                if op % 10 == 4 {
                    term.handle_bytes(t, &raw);
                } else {
                    ecr.handle_bytes(t, &raw);
                }
            }
            6 => {
                let _ = ecr.request_receipt(t);
            }
            7 => {
                let more = ops.next().unwrap_or(0) & 1 == 1;
                let _ = term.send_receipt_part(t, "RECEIPT LINE\nTOTAL 12.50 CZK\n", more);
            }
            _ => {
                now += u64::from(ops.next().unwrap_or(op)) * 250;
                let t = Instant::from_millis(now);
                if ecr.poll_timeout().is_some_and(|d| d <= t) {
                    ecr.handle_timeout(t);
                }
                if term.poll_timeout().is_some_and(|d| d <= t) {
                    term.handle_timeout(t);
                }
            }
        }
        while let Some(e) = term.poll_event() {
            if let TerminalEvent::Request(r) = e {
                last_request = Some(r.kind());
            }
        }
        while ecr.poll_event().is_some() {}
    }
    // Let every timer run out, carrying what each side sends to the other, unharmed.
    let mut answered_at_end = false;
    for _ in 0..10_000 {
        let t = Instant::from_millis(now);
        let mut moved = false;
        while let Ok(Some(n)) = ecr.poll_transmit(&mut buf) {
            term.handle_bytes(t, &buf[..n]);
            moved = true;
        }
        while let Ok(Some(n)) = term.poll_transmit(&mut buf) {
            ecr.handle_bytes(t, &buf[..n]);
            moved = true;
        }
        while let Some(e) = term.poll_event() {
            moved = true;
            if let TerminalEvent::Request(r) = e {
                // Answer whatever is still asked, so that the terminal can end idle.
                last_request = Some(r.kind());
                let _ = term.respond(t, &response(r.kind(), 0));
            }
        }
        while ecr.poll_event().is_some() {
            moved = true;
        }
        if moved {
            continue;
        }
        let next = [ecr.poll_timeout(), term.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(d) = next else {
            // A request the script took but never answered: answer it now, once.
            if term.is_busy() && !answered_at_end {
                answered_at_end = true;
                let kind = last_request.unwrap_or(RequestKind::Sale);
                let _ = term.respond(t, &response(kind, 0));
                continue;
            }
            break;
        };
        now = now.max(d.as_millis());
        let t = Instant::from_millis(now);
        if ecr.poll_timeout().is_some_and(|d| d <= t) {
            ecr.handle_timeout(t);
        }
        if term.poll_timeout().is_some_and(|d| d <= t) {
            term.handle_timeout(t);
        }
    }
    assert!(
        !ecr.is_busy(),
        "till session still busy after every timer ran out"
    );
    // A terminal stays busy only with a request its driver was told about and has not answered
    // (the drain above answers those), so it must be idle too.
    assert!(
        !term.is_busy(),
        "terminal session still busy after every timer ran out"
    );
});
