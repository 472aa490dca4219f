//! The framing + Concert decode loop of `core/benches/probe.rs`, as a bare-metal Cortex-M4
//! program for qemu's `mps2-an386` board, built with the firmware's profile (opt-level z,
//! LTO). `benches/cortex-m-count.sh` runs it with one instruction per translation block and
//! counts the instructions executed between calls of [`count_mark`]: case `k` runs between
//! mark `k` and mark `k + 1`, [`UNITS`] times over the same line the probe feeds (three
//! Concert exchanges, `ENQ frame EOT` each, from `probe fixtures`).
//!
//! Cases, in mark order (the script names them in the same order):
//! 0. `framing`: each read as the peer sends it (ENQ, the whole frame, EOT);
//! 1. `framing+concert_decode`: the same, each frame typed by `ConcertMessage::parse`;
//! 2. `framing_1`: one byte per read, as `firmware/src/uart.rs` hands them over at 9600 baud;
//! 3. `framing_1+concert_decode`: one byte per read, each frame typed;
//! 4. `concert_decode`: `ConcertMessage::parse_frame` of the three frames;
//! 5. `framing_byte`: one byte per call through `FrameAccumulator::feed_byte`;
//! 6. `framing_byte+concert_decode`: the same, each frame typed;
//! 7. `session_1+concert_decode`: the path the firmware's driver takes (core's `BlockingIo`
//!    over `firmware/src/uart.rs`): a terminal-side `LinkSession` given one byte per
//!    `handle_bytes` call, its transmit queue and its notes polled after every read (the
//!    ACKs it sends are taken out), each frame received typed;
//! 8. `session+concert_decode`: the same with each read as the peer sends it (ENQ, the whole
//!    frame, EOT).
//!
//! The program ends through semihosting (`SYS_EXIT`), with status 0 when every unit found the
//! three frames, 1 otherwise (a count of an error path would be worthless).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use ecrlink_core::Instant;
use ecrlink_core::dialect::concert::ConcertMessage;
use ecrlink_core::link::session::{LinkConfig, LinkNote, LinkRole, LinkSession};
use ecrlink_core::link::{Checksum, Feed, FrameAccumulator};

/// The line: `ENQ frame EOT` for a request, a full answer and a short answer.
static LINE: &[u8] = include_bytes!(env!("ECRLINK_CONCERT_LINE"));
/// Units per case: enough to make the mark's own instructions negligible.
const UNITS: usize = 20;
/// Reads of one unit, at most (one byte each).
const MAX_READS: usize = 256;

/// Called between cases; the script counts instructions from one call to the next.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn count_mark(case: u32) {
    black_box(case);
}

/// Ends the qemu run with `status` (semihosting `SYS_EXIT`; `ADP_Stopped_ApplicationExit`
/// for 0, `ADP_Stopped_RunTimeErrorUnknown` otherwise).
fn exit(status: u32) -> ! {
    let reason: u32 = if status == 0 { 0x2_0026 } else { 0x2_0023 };
    loop {
        // SAFETY: a semihosting call; qemu runs with `-semihosting`, so BKPT 0xAB is its trap.
        unsafe {
            core::arch::asm!("bkpt 0xab", inout("r0") 0x18u32 => _, in("r1") reason);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(2)
}

/// The probe's `feed_line`: every read fed until consumed; frames counted (or typed).
#[inline(never)]
fn feed_line(acc: &mut FrameAccumulator<128>, reads: &[&[u8]], decode: bool) -> usize {
    let mut seen = 0;
    for piece in black_box(reads) {
        let mut input = *piece;
        while !input.is_empty() {
            let (r, used) = acc.feed(input);
            match r {
                Ok(Feed::Frame(p)) if decode => {
                    // The whole typed result goes to `black_box` (by reference: it stays
                    // where `parse` wrote it, no copy is timed), so no field can be skipped.
                    let m = ConcertMessage::parse(p);
                    seen += usize::from(black_box(&m).is_ok());
                }
                Ok(Feed::Frame(p)) => seen += usize::from(!black_box(p).is_empty()),
                Ok(Feed::Control(c)) => {
                    black_box(c);
                }
                _ => {}
            }
            input = input.get(used..).unwrap_or_default();
        }
    }
    seen
}

/// The probe's `feed_bytes`: the line one byte per call through `feed_byte`.
#[inline(never)]
fn feed_bytes(acc: &mut FrameAccumulator<128>, line: &[u8], decode: bool) -> usize {
    let mut seen = 0;
    for &b in black_box(line) {
        match acc.feed_byte(b) {
            Ok(Feed::Frame(p)) if decode => {
                let m = ConcertMessage::parse(p);
                seen += usize::from(black_box(&m).is_ok());
            }
            Ok(Feed::Frame(p)) => seen += usize::from(!black_box(p).is_empty()),
            Ok(Feed::Control(c)) => {
                black_box(c);
            }
            _ => {}
        }
    }
    seen
}

/// The driver's round over `reads`: each read handed to `handle_bytes`, then what the session
/// sends taken out (`poll_transmit`) and its notes read (`poll_note`); a frame received is
/// typed from [`LinkSession::received`].
#[inline(never)]
fn session_line(link: &mut LinkSession, reads: &[&[u8]], tx: &mut [u8]) -> usize {
    let mut seen = 0;
    let now = Instant::ZERO;
    for piece in black_box(reads) {
        link.handle_bytes(now, piece);
        while let Ok(Some(n)) = link.poll_transmit(tx) {
            black_box(n);
        }
        while let Some(note) = link.poll_note() {
            if note == LinkNote::Received {
                let m = ConcertMessage::parse(link.received());
                seen += usize::from(black_box(&m).is_ok());
            }
        }
    }
    seen
}

/// The three frames of the line (STX … LRC).
fn frames() -> heapless::Vec<&'static [u8], 3> {
    let mut out = heapless::Vec::new();
    let mut rest = LINE;
    while let Some(start) = rest.iter().position(|&b| b == 0x02) {
        let Some(etx) = rest.iter().position(|&b| b == 0x03) else {
            break;
        };
        let _ = out.push(rest.get(start..etx + 2).unwrap_or_default());
        rest = rest.get(etx + 2..).unwrap_or_default();
    }
    out
}

#[entry]
fn main() -> ! {
    let frames = frames();
    // Whole reads: ENQ, the frame, EOT; single bytes: every byte its own read.
    let mut whole: heapless::Vec<&[u8], MAX_READS> = heapless::Vec::new();
    let mut rest = LINE;
    for frame in &frames {
        let (enq, after) = rest.split_at(1);
        let (f, after) = after.split_at(frame.len());
        let (eot, after) = after.split_at(1);
        let _ = whole.push(enq);
        let _ = whole.push(f);
        let _ = whole.push(eot);
        rest = after;
    }
    let mut single: heapless::Vec<&[u8], MAX_READS> = heapless::Vec::new();
    for b in LINE.chunks(1) {
        let _ = single.push(b);
    }
    let mut ok = frames.len() == 3 && rest.is_empty();
    let mut acc = FrameAccumulator::<128>::new(Checksum::Lrc);
    let feeds: [(&[&[u8]], bool); 4] = [
        (&whole, false),
        (&whole, true),
        (&single, false),
        (&single, true),
    ];
    for (case, (reads, decode)) in feeds.iter().enumerate() {
        count_mark(case as u32);
        for _ in 0..UNITS {
            ok &= feed_line(&mut acc, reads, *decode) == 3;
        }
    }
    count_mark(4);
    for _ in 0..UNITS {
        let mut n = 0;
        for f in black_box(frames.as_slice()) {
            n += usize::from(black_box(ConcertMessage::parse_frame(black_box(f))).is_ok());
        }
        ok &= n == 3;
    }
    for (case, decode) in [(5, false), (6, true)] {
        count_mark(case);
        for _ in 0..UNITS {
            ok &= feed_bytes(&mut acc, LINE, decode) == 3;
        }
    }
    let mut link = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
    let mut tx = [0u8; 16];
    for (case, reads) in [(7, &single), (8, &whole)] {
        count_mark(case);
        for _ in 0..UNITS {
            ok &= session_line(&mut link, reads, &mut tx) == 3;
        }
    }
    count_mark(9);
    exit(u32::from(!ok))
}
