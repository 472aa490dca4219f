//! The journal's flash sector: a register-level model of the STM32F4 flash controller (unlock,
//! sector erase, byte programming) over sector 7, 0x0806_0000–0x0807_FFFF, which `memory.x`
//! keeps out of the program's flash.

use core::ptr::{read_volatile, write_volatile};

/// First byte of the journal sector.
const JOURNAL_BASE: usize = 0x0806_0000;
/// Bytes of the journal sector.
pub const JOURNAL_LEN: usize = 128 * 1024;
/// Its sector number.
const JOURNAL_SECTOR: u32 = 7;

const FLASH_KEYR: usize = 0x4002_3C04;
const FLASH_SR: usize = 0x4002_3C0C;
const FLASH_CR: usize = 0x4002_3C10;
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const CR_PG: u32 = 1 << 0;
const CR_SER: u32 = 1 << 1;
const CR_STRT: u32 = 1 << 16;
const CR_LOCK: u32 = 1 << 31;
const SR_BSY: u32 = 1 << 16;
/// Programming and write-protection errors.
const SR_ERRORS: u32 = 0xF0;

fn reg_read(addr: usize) -> u32 {
    // SAFETY: a memory-mapped flash controller register of the target part.
    unsafe { read_volatile(addr as *const u32) }
}

fn reg_write(addr: usize, value: u32) {
    // SAFETY: as above.
    unsafe { write_volatile(addr as *mut u32, value) }
}

fn wait_idle() -> bool {
    while reg_read(FLASH_SR) & SR_BSY != 0 {}
    let sr = reg_read(FLASH_SR);
    // Error flags are cleared by writing them back.
    reg_write(FLASH_SR, sr & SR_ERRORS);
    sr & SR_ERRORS == 0
}

fn unlock() {
    if reg_read(FLASH_CR) & CR_LOCK != 0 {
        reg_write(FLASH_KEYR, KEY1);
        reg_write(FLASH_KEYR, KEY2);
    }
}

/// The whole journal sector as it reads now (erased flash reads 0xFF).
pub fn journal_area() -> &'static [u8] {
    // SAFETY: the sector is memory-mapped flash of the target part, outside the program's
    // flash (see memory.x); it changes only through `program` and `erase_journal`, which
    // never run while this slice is borrowed (the journal is read once at boot).
    unsafe { core::slice::from_raw_parts(JOURNAL_BASE as *const u8, JOURNAL_LEN) }
}

/// Erases the journal sector.
pub fn erase_journal() -> bool {
    unlock();
    reg_write(FLASH_CR, CR_SER | (JOURNAL_SECTOR << 3));
    reg_write(FLASH_CR, CR_SER | (JOURNAL_SECTOR << 3) | CR_STRT);
    let ok = wait_idle();
    reg_write(FLASH_CR, CR_LOCK);
    ok
}

/// Programs `bytes` at `offset` into the (erased) journal sector, a byte at a time.
pub fn program(offset: usize, bytes: &[u8]) -> bool {
    if offset
        .checked_add(bytes.len())
        .is_none_or(|end| end > JOURNAL_LEN)
    {
        return false;
    }
    unlock();
    reg_write(FLASH_CR, CR_PG);
    let mut ok = true;
    for (i, &b) in bytes.iter().enumerate() {
        // SAFETY: inside the journal sector (checked above), programming enabled.
        unsafe { write_volatile((JOURNAL_BASE + offset + i) as *mut u8, b) };
        if !wait_idle() {
            ok = false;
            break;
        }
    }
    reg_write(FLASH_CR, CR_LOCK);
    ok
}
