//! Runs the firmware's own `__aeabi_memcpy*` and `__aeabi_memclr*` (`firmware/src/builtins.rs`,
//! compiled in here as they are in the firmware's link-alone builds) under qemu's Cortex-M4
//! (`mps2-an386`): every entry point, every alignment of destination and source (0 to 3
//! bytes, or the alignment the entry point requires) and every length from 0 to 64. Each call
//! must copy or zero exactly its bytes and leave a guard pattern around them untouched. Ends
//! through semihosting with status 0 when every check held, 1 on the first failure (`.ci/run`
//! runs it; `qemu-system-arm -M mps2-an386 -semihosting-config enable=on,target=native
//! -nographic -monitor none -serial none -kernel ELF`).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::{ExceptionFrame, entry, exception};

#[allow(unexpected_cfgs, dead_code)]
#[path = "../../../../firmware/src/builtins.rs"]
mod builtins;

const MAX_LEN: usize = 64;
const GUARD: u8 = 0xA5;

/// Ends the qemu run with `status` through semihosting `SYS_EXIT`.
fn exit(status: u32) -> ! {
    let reason: u32 = if status == 0 { 0x2_0026 } else { 0x2_0023 };
    loop {
        // SAFETY: a semihosting call; qemu runs with semihosting on, so BKPT 0xAB is its trap.
        unsafe {
            core::arch::asm!("bkpt 0xab", inout("r0") 0x18u32 => _, in("r1") reason);
        }
    }
}

/// A fault (a copy run past its bounds into unmapped memory) ends the run too, with status 3.
#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    exit(3)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(2)
}

/// Word-aligned room for a copy of `MAX_LEN` bytes at any offset, with guards on both sides.
#[repr(C, align(8))]
struct Area([u8; MAX_LEN + 16]);

type Copy = unsafe extern "C" fn(*mut u8, *const u8, usize);
type Clear = unsafe extern "C" fn(*mut u8, usize);

/// Every copy of `len` bytes from `src + s` to `dst + d` for the offsets that are multiples of
/// `step` (the alignment the entry point requires), checked byte by byte.
fn check_copy(copy: Copy, step: usize) -> bool {
    let mut src = Area([0; MAX_LEN + 16]);
    for (i, b) in src.0.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(1);
    }
    for d in (0..8).step_by(step) {
        for s in (0..8).step_by(step) {
            for len in 0..=MAX_LEN {
                let mut dst = Area([GUARD; MAX_LEN + 16]);
                // SAFETY: `d + len` and `s + len` are within both areas (8 + 64 < 80), and
                // the two areas do not overlap.
                unsafe {
                    black_box(copy)(dst.0.as_mut_ptr().add(d), src.0.as_ptr().add(s), len);
                }
                for (i, &b) in dst.0.iter().enumerate() {
                    let want = if i >= d && i < d + len {
                        src.0[s + i - d]
                    } else {
                        GUARD
                    };
                    if b != want {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Every zeroing of `len` bytes at `dst + d` for the offsets that are multiples of `step`.
fn check_clear(clear: Clear, step: usize) -> bool {
    for d in (0..8).step_by(step) {
        for len in 0..=MAX_LEN {
            let mut dst = Area([GUARD; MAX_LEN + 16]);
            // SAFETY: `d + len` is within the area.
            unsafe { black_box(clear)(dst.0.as_mut_ptr().add(d), len) };
            for (i, &b) in dst.0.iter().enumerate() {
                let want = if i >= d && i < d + len { 0 } else { GUARD };
                if b != want {
                    return false;
                }
            }
        }
    }
    true
}

#[entry]
fn main() -> ! {
    let checks = [
        check_copy(builtins::__aeabi_memcpy, 1),
        check_copy(builtins::__aeabi_memcpy4, 4),
        check_copy(builtins::__aeabi_memcpy8, 8),
        check_clear(builtins::__aeabi_memclr, 1),
        check_clear(builtins::__aeabi_memclr4, 4),
        check_clear(builtins::__aeabi_memclr8, 8),
    ];
    exit(u32::from(checks.iter().any(|ok| !ok)))
}
