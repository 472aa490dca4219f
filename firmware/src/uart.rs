//! A register-level USART model (STM32F4 layout: SR at +0x00, DR at +0x04) implementing
//! `embedded_io` so the core's blocking driver can run on it.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

/// SR bit: receive data register not empty.
const SR_RXNE: u32 = 1 << 5;
/// SR bit: transmit data register empty.
const SR_TXE: u32 = 1 << 7;

/// A USART at a fixed base address.
pub struct Usart {
    base: usize,
}

impl Usart {
    /// USART2 of an STM32F4: the till.
    pub fn usart2() -> Self {
        Usart { base: 0x4000_4400 }
    }

    /// USART3 of an STM32F4: the bank link.
    #[cfg(feature = "app")]
    pub fn usart3() -> Self {
        Usart { base: 0x4000_4800 }
    }

    /// USART1 of an STM32F4: the receipt printer.
    #[cfg(feature = "app")]
    pub fn usart1() -> Self {
        Usart { base: 0x4001_1000 }
    }

    fn sr(&self) -> u32 {
        // SAFETY: the base address is a memory-mapped peripheral of the target part.
        unsafe { read_volatile(self.base as *const u32) }
    }

    fn read_dr(&self) -> u8 {
        // SAFETY: as above; reading DR clears RXNE.
        unsafe { read_volatile((self.base + 4) as *const u32) as u8 }
    }

    fn write_dr(&self, byte: u8) {
        // SAFETY: as above.
        unsafe { write_volatile((self.base + 4) as *mut u32, u32::from(byte)) }
    }
}

impl embedded_io::ErrorType for Usart {
    type Error = Infallible;
}

impl embedded_io::ReadReady for Usart {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.sr() & SR_RXNE != 0)
    }
}

impl embedded_io::Read for Usart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            if n > 0 && self.sr() & SR_RXNE == 0 {
                break;
            }
            while self.sr() & SR_RXNE == 0 {}
            *slot = self.read_dr();
            n += 1;
        }
        Ok(n)
    }
}

impl core::fmt::Write for Usart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let _ = embedded_io::Write::write(self, s.as_bytes());
        Ok(())
    }
}

impl embedded_io::Write for Usart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            while self.sr() & SR_TXE == 0 {}
            self.write_dr(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
