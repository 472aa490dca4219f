//! The ARM run-time ABI's copying and zeroing entry points (`__aeabi_memcpy*`,
//! `__aeabi_memclr*`), smaller than compiler_builtins' weak definitions (issue 18's flash
//! budget of the link alone). The same file is compiled into
//! `benches/cortex-m-count/src/bin/builtins_check.rs`, which runs every entry point over every
//! alignment and length up to 64 under qemu and checks each byte; `.ci/run` runs it.

// The aligned zeroing and copying entry points of the ARM run-time ABI forward to the
// unaligned ones, so that the binary holds one copy of the zeroing loop instead of three and
// one copy of the copying loop instead of two (compiler_builtins defines them as weak
// symbols, each its own copy of `memset` or `memcpy`: `memclr` 208, `memclr4` and `memclr8`
// 174 each, `memcpy4` 156 bytes; the unaligned ones test the alignment and then copy or zero
// a word at a time, so an aligned call costs a few instructions more). In the Concert link
// alone only the boot-time construction of the link's `static` calls the aligned ones.
#[cfg(feature = "app")]
unsafe extern "C" {
    fn __aeabi_memclr(dest: *mut u8, n: usize);
    fn __aeabi_memcpy(dest: *mut u8, src: *const u8, n: usize);
}

/// `__aeabi_memcpy`: copies `n` bytes from `src` to `dest` (any alignment, no overlap).
///
/// Replaces compiler_builtins' weak definition (a 12-byte jump to its 730-byte `memcpy`,
/// unrolled, with shifted copies for misaligned pairs) with a plain one: words while both
/// pointers are word-aligned, then bytes. The link copies small values (a request of 24
/// bytes, a frame of at most 88), so the unrolling buys little there. Only the builds
/// without the application take it (as `__aeabi_memclr`).
///
/// # Safety
/// As `memcpy`: `src` valid for `n` bytes of reads, `dest` for `n` bytes of writes, no overlap.
#[cfg(not(feature = "app"))]
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub unsafe extern "C" fn __aeabi_memcpy(dest: *mut u8, src: *const u8, n: usize) {
    // In assembly so that it needs no frame at all (the compiled loop pushed r7 and lr for
    // the frame pointer: 8 bytes on the deepest stack chain through calls by register).
    // r0 = dest, r1 = src, r2 = n, r3 scratch; only caller-saved registers are used.
    core::arch::naked_asm!(
        "orr.w r3, r0, r1",
        "lsls r3, r3, #30", // either pointer not word-aligned: bytes only
        "bne 3f",
        "2:",
        "cmp r2, #4",
        "blo 3f",
        "ldr r3, [r1], #4",
        "str r3, [r0], #4",
        "subs r2, #4",
        "b 2b",
        "3:",
        "cbz r2, 4f",
        "ldrb r3, [r1], #1",
        "strb r3, [r0], #1",
        "subs r2, #1",
        "b 3b",
        "4:",
        "bx lr",
    )
}

/// `__aeabi_memclr`: zeroes `n` bytes at `dest` (any alignment).
///
/// Replaces compiler_builtins' weak definition (208 bytes, a copy of `memset`'s unrolled
/// loop) with a plain one: bytes up to a word boundary, then words, then the tail bytes. The
/// stores are volatile so that LLVM does not turn the loop back into a call to `memset`. In
/// the Concert link alone only the boot-time zeroing of the link's buffers calls it. Only
/// the builds without the application take it: in them (`app:csob`) it moved LTO's layout so
/// that the worst-case stack through calls by register grew 432 bytes for 144 bytes of flash.
///
/// # Safety
/// As `memset`: `dest` is valid for `n` bytes of writes.
#[cfg(not(feature = "app"))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __aeabi_memclr(dest: *mut u8, n: usize) {
    let end = dest.wrapping_add(n);
    let mut p = dest;
    // SAFETY: every store is inside `dest..dest + n`, which the caller says is writable; the
    // word stores are at a word-aligned address with at least four bytes left before `end`.
    unsafe {
        while p != end && !(p as usize).is_multiple_of(4) {
            p.write_volatile(0);
            p = p.add(1);
        }
        while (end as usize) - (p as usize) >= 4 {
            p.cast::<u32>().write_volatile(0);
            p = p.add(4);
        }
        while p != end {
            p.write_volatile(0);
            p = p.add(1);
        }
    }
}

/// `__aeabi_memcpy4`: copies `n` bytes from the word-aligned `src` to the word-aligned `dest`.
///
/// # Safety
/// As `memcpy`: `src` valid for `n` bytes of reads, `dest` for `n` bytes of writes, no overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __aeabi_memcpy4(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's promise, passed on unchanged.
    unsafe { __aeabi_memcpy(dest, src, n) }
}

/// `__aeabi_memcpy8`: copies `n` bytes from the doubleword-aligned `src` to the
/// doubleword-aligned `dest` (compiler_builtins' weak one is another 156-byte loop in front
/// of its `memcpy`; the ČSOB link calls it).
///
/// # Safety
/// As `memcpy`: `src` valid for `n` bytes of reads, `dest` for `n` bytes of writes, no overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __aeabi_memcpy8(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's promise, passed on unchanged.
    unsafe { __aeabi_memcpy(dest, src, n) }
}

/// `__aeabi_memclr4`: zeroes `n` bytes at the word-aligned `dest`.
///
/// # Safety
/// As `memset`: `dest` is valid for `n` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __aeabi_memclr4(dest: *mut u8, n: usize) {
    // SAFETY: the caller's promise, passed on unchanged.
    unsafe { __aeabi_memclr(dest, n) }
}

/// `__aeabi_memclr8`: zeroes `n` bytes at the doubleword-aligned `dest`.
///
/// # Safety
/// As `memset`: `dest` is valid for `n` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __aeabi_memclr8(dest: *mut u8, n: usize) {
    // SAFETY: the caller's promise, passed on unchanged.
    unsafe { __aeabi_memclr(dest, n) }
}
