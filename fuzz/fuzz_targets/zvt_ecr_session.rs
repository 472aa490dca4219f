#![no_main]
//! The ZVT till session (`ZvtEcr`) against a hostile terminal that speaks well-formed APDUs:
//! the input is cut into messages (class, instruction, a length byte, then that many data
//! bytes, the length `FF` giving a two-byte length) so that the session gets past registration
//! and its command's acknowledgement and meets every terminal message (`04 FF`, `04 0F`,
//! `06 D1`, `06 D3`, `06 0F`, `06 1E`, `84 xx`) with arbitrary contents, over TCP or serial
//! (first byte), with time passing between them. Checks besides "no panic": `poll_transmit`
//! always drains; a busy session always has a deadline; a response is given at most once per
//! request; after every timer ran the session is idle and can start another request.
use core::time::Duration;

use ecrlink_core::Instant;
use ecrlink_core::dialect::zvt::serial::encode_frame;
use ecrlink_core::dialect::zvt::{Transport, ZvtEcr, ZvtEcrConfig};
use ecrlink_core::session::{EcrEvent, EcrSide, MAX_TRANSMIT};
use ecrlink_core::txn::{Currency, Money, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let serial = mode & 1 == 1;
    let mut cfg = ZvtEcrConfig::new(Currency::EUR);
    cfg.transport = if serial {
        Transport::Serial
    } else {
        Transport::Tcp
    };
    cfg.config_byte = mode & 0x8E;
    let mut ecr = ZvtEcr::new(cfg);
    let mut now = Instant::ZERO;
    let requests = [
        Request::Sale {
            amount: Money::new(1250, Currency::EUR).unwrap(),
            reference: None,
        },
        Request::ReversalByReceipt { receipt: 17 },
        Request::CloseTotals,
        Request::TestTerminal,
    ];
    let request = &requests[usize::from(mode >> 4) % requests.len()];
    ecr.start(now, request).unwrap();
    let mut out = [0u8; MAX_TRANSMIT];
    let mut answers = 0u32;
    while rest.len() >= 3 {
        // One terminal message: class, instr, length, data (length FF: two more bytes).
        let (class, instr, len) = (rest[0], rest[1], rest[2]);
        let (len, head) = if len == 0xFF && rest.len() >= 5 {
            (usize::from(u16::from_le_bytes([rest[3], rest[4]])), 5)
        } else {
            (usize::from(len), 3)
        };
        let body = &rest[head..(head + len).min(rest.len())];
        let mut apdu = vec![class, instr];
        if head == 5 {
            apdu.extend_from_slice(&[0xFF, (body.len() & 0xFF) as u8, (body.len() >> 8) as u8]);
        } else {
            apdu.push(body.len() as u8);
        }
        apdu.extend_from_slice(body);
        rest = &rest[(head + len).min(rest.len())..];
        let wire = if serial {
            let mut f = vec![0u8; 2 * apdu.len() + 8];
            let n = encode_frame(&apdu, &mut f).unwrap();
            f.truncate(n);
            f
        } else {
            apdu
        };
        ecr.handle_bytes(now, &wire);
        while let Some(n) = ecr.poll_transmit(&mut out).unwrap() {
            assert!(n > 0 && n <= out.len());
        }
        if serial {
            // The terminal acknowledges every frame of the till.
            ecr.handle_bytes(now, &[0x06]);
        }
        while let Some(ev) = ecr.poll_event() {
            if matches!(ev, EcrEvent::Response(_)) {
                answers += 1;
            }
        }
        if ecr.is_busy() {
            assert!(
                ecr.poll_timeout().is_some(),
                "a busy till session has a deadline"
            );
        }
        // Time passes: the last data byte's low bits, in seconds.
        let step = body.last().map_or(0, |b| u64::from(b & 0x07));
        now = now.saturating_add(Duration::from_secs(step));
        if ecr.poll_timeout().is_some_and(|t| now >= t) {
            ecr.handle_timeout(now);
        }
        while ecr.poll_event().is_some() {}
        while ecr.poll_transmit(&mut out).unwrap().is_some() {}
        if !ecr.is_busy() {
            break;
        }
    }
    assert!(answers <= 1, "one request, {answers} responses");
    now = now.saturating_add(Duration::from_secs(3600));
    for _ in 0..4 {
        if let Some(t) = ecr.poll_timeout() {
            ecr.handle_timeout(now.max(t));
        }
        while ecr.poll_event().is_some() {}
        while ecr.poll_transmit(&mut out).unwrap().is_some() {}
    }
    assert!(!ecr.is_busy(), "a till session waits for nothing");
    ecr.start(now, request)
        .expect("an idle session takes the next request");
});
