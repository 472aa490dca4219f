//! Receipt printers behind one trait. The agent lays a receipt out with `ecrlink_core::receipt`
//! and hands the text to a [`Printer`]. (The receipts issue adds ESC/POS to a file or TCP 9100.)

use std::io::Write;

/// Which copy of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copy {
    /// Kept by the shop (carries the signature line when the CVM asks for one).
    Merchant,
    /// Handed to the cardholder.
    Customer,
}

/// One receipt to print: UTF-8 text, lines separated by `\n`, already laid out at `width`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintJob {
    /// The laid-out text.
    pub text: String,
    /// Columns the text was laid out for.
    pub width: usize,
    /// Merchant or customer copy.
    pub copy: Copy,
}

/// A printer failure. The payment stays valid; the till is told and may ask for a reprint.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// Writing to the device, file or socket failed.
    #[error("printer I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The printer reported a problem (paper out, cover open).
    #[error("printer: {0}")]
    Device(String),
}

/// Something that prints receipts. Blocking: the agent calls it off the async runtime.
pub trait Printer: Send {
    /// Prints one receipt.
    fn print(&mut self, job: &PrintJob) -> Result<(), PrintError>;
}

/// Plain text to any writer (stdout, a file).
pub struct TextPrinter<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> TextPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W) -> Self {
        TextPrinter { out }
    }
}

impl<W: Write + Send> Printer for TextPrinter<W> {
    fn print(&mut self, job: &PrintJob) -> Result<(), PrintError> {
        writeln!(self.out, "{}", job.text)?;
        writeln!(self.out, "{}", "-".repeat(job.width))?;
        self.out.flush()?;
        Ok(())
    }
}
