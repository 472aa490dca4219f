//! A firmware-shaped binary: the terminal side of the ECR link on a UART, with no heap and no
//! OS, built for `thumbv7em-none-eabihf` to measure what `ecrlink-core` costs in flash and RAM
//! (`benches/firmware-size.sh` runs `llvm-size` on it).
//!
//! It links both till dialects (Concert and ČSOB, chosen at boot from a configuration word)
//! and the EMV TLV code (the approved answer carries EMV tags built and checked with
//! `ecrlink_core::emv`). The UART is a register-level model of an STM32F4 USART; the clock is
//! the SysTick millisecond counter. A real firmware would hand each request to its payment
//! kernel; here every request is approved, to keep the measured code the core's.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::{entry, exception};
use ecrlink_core::dialect::concert::{ConcertTerminal, ConcertTerminalConfig};
use ecrlink_core::dialect::csob::{CsobConfig, CsobTerminal};
use ecrlink_core::io::BlockingTerminal;
use ecrlink_core::session::{TerminalEvent, TerminalSide};
use ecrlink_core::txn::{Outcome, Request, Response, TerminalId};
use ecrlink_core::{Instant, emv};
use panic_halt as _;

mod uart;

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Which dialect to run: 0 Concert, anything else ČSOB. In flash, read at boot.
#[unsafe(no_mangle)]
static DIALECT: u32 = 0;

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

fn now() -> Instant {
    Instant::from_millis(u64::from(MILLIS.load(Ordering::Relaxed)))
}

/// EMV data a kernel would produce: AID, TVR, TSI, ARC.
const EMV_TAGS: &[(u16, &[u8])] = &[
    (0x004F, &[0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10]),
    (0x0095, &[0x00, 0x00, 0x00, 0x80, 0x00]),
    (0x009B, &[0xE8, 0x00]),
    (0x008A, b"00"),
];

fn answer(request: &Request) -> Response {
    let mut response = Response::new(request.kind(), Outcome::Approved);
    response.amount = request.amount();
    let mut buf = [0u8; 64];
    let mut at = 0;
    for &(tag, value) in EMV_TAGS {
        let (Some(out), Some(tag)) = (buf.get_mut(at..), emv::Tag::new(u32::from(tag))) else {
            break;
        };
        match emv::emit_primitive(tag, value, out) {
            Ok(n) => at += n,
            Err(_) => break,
        }
    }
    if let Some(data) = buf.get(..at) {
        if emv::validate(data).is_ok() {
            let _ = response.emv.extend_from_slice(data);
        }
    }
    response
}

/// Runs the session that `make` builds. It is built here, not in `main` and passed in, so that
/// it lives in this frame only: moved through `main` it would take its size twice on the stack.
fn serve<S: TerminalSide>(make: impl FnOnce() -> S) -> ! {
    let port = uart::Usart::usart2();
    let mut driver = BlockingTerminal::<_, _, _, 512>::new(make(), port, now);
    loop {
        if let Ok(TerminalEvent::Request(request)) = driver.next_event(|_| {}) {
            let _ = driver.respond(&answer(&request));
        }
    }
}

#[entry]
fn main() -> ! {
    // SAFETY: a plain read of a static in flash, volatile so the choice stays a run-time one.
    let dialect = unsafe { core::ptr::read_volatile(&raw const DIALECT) };
    if dialect == 0 {
        serve(|| ConcertTerminal::new(ConcertTerminalConfig::default()))
    } else {
        serve(|| {
            let id = TerminalId::new("T0000001").unwrap_or_else(|_| loop {});
            CsobTerminal::new(CsobConfig::new(id))
        })
    }
}
