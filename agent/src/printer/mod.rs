//! Receipt printers behind one trait. The agent lays a receipt out with `ecrlink_core::receipt`
//! (see [`ReceiptSettings`]) and hands the text to a [`Printer`]:
//! - [`TextPrinter`]: plain UTF-8 text to stdout or a file;
//! - [`EscPosPrinter`]: ESC/POS bytes to a file (or any writer), in the printer's code page;
//! - [`NetworkPrinter`]: ESC/POS to a network printer on raw TCP port 9100;
//! - [`MemoryPrinter`]: keeps jobs in memory and can be told to fail, for tests.
//!
//! [`spec`] builds one from a command-line string (`stdout`, `file:PATH`, `escpos:PATH`,
//! `tcp:HOST[:PORT]`). A printer error never undoes a payment: the agent reports it to the till
//! (`FailReason::PrinterError` or the dialect's equivalent) and [`ReceiptSpool`] keeps the last
//! receipt so it can be printed again, marked duplicate.

pub mod codepage;
pub mod escpos;
mod memory;
mod spool;

use std::io::Write;

pub use codepage::CodePage;
/// Which copy of a receipt (the core's type: merchant copy or customer copy).
pub use ecrlink_core::receipt::CopyKind as Copy;
pub use escpos::{CodePageChoice, EscPosPrinter, NetworkPrinter};
pub use memory::MemoryPrinter;
pub use spool::{ReceiptSettings, ReceiptSpool};

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
    /// The printer reported a problem (paper out, cover open) or cannot be reached.
    #[error("printer: {0}")]
    Device(String),
    /// The receipt could not be laid out (a width other than 24/32/42/48).
    #[error("receipt layout: {0}")]
    Layout(ecrlink_core::Error),
    /// A reprint was asked for before any receipt was printed.
    #[error("no receipt to print again")]
    NothingToReprint,
    /// A printer specification that is not understood.
    #[error("printer spec {0:?}: expected none, stdout, file:PATH, escpos:PATH or tcp:HOST[:PORT]")]
    Spec(String),
}

/// Something that prints receipts. Blocking: the agent calls it off the async runtime.
pub trait Printer: Send {
    /// Prints one receipt.
    fn print(&mut self, job: &PrintJob) -> Result<(), PrintError>;

    /// Characters of the last job the printer could not print as such (its code page lacks
    /// them) and printed a replacement for. Empty for printers that print UTF-8.
    fn replaced(&self) -> Vec<char> {
        Vec::new()
    }

    /// Whether [`Printer::print`] may block (a device, a file, a socket): the agent then calls
    /// it on a blocking thread. A printer that returns at once (keeps nothing, or only memory)
    /// says `false` and is called in place, without the thread hand-over.
    fn blocks(&self) -> bool {
        true
    }
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
        self.out.write_all(job.text.as_bytes())?;
        if !job.text.ends_with('\n') {
            writeln!(self.out)?;
        }
        writeln!(self.out, "{}", "-".repeat(job.width))?;
        self.out.flush()?;
        Ok(())
    }
}

/// How long a [`NetworkPrinter`] built by [`spec`] waits to connect and for each write.
pub const NETWORK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Builds a printer from a specification: `none` (`Ok(None)`), `stdout`, `file:PATH` (plain
/// text appended), `escpos:PATH` (ESC/POS appended to a file or device), `tcp:HOST[:PORT]`
/// (ESC/POS to a network printer, port 9100 by default). ESC/POS printers pick the code page
/// per job ([`CodePageChoice::Auto`]); append `,cp852` or `,cp858` to fix it.
pub fn spec(spec: &str) -> Result<Option<Box<dyn Printer>>, PrintError> {
    let bad = || PrintError::Spec(spec.to_owned());
    let (target, choice) = match spec.rsplit_once(',') {
        Some((t, "cp852")) => (t, CodePageChoice::Fixed(CodePage::Cp852)),
        Some((t, "cp858")) => (t, CodePageChoice::Fixed(CodePage::Cp858)),
        _ => (spec, CodePageChoice::Auto),
    };
    if target == "none" {
        return Ok(None);
    }
    if target == "stdout" {
        return Ok(Some(Box::new(TextPrinter::new(std::io::stdout()))));
    }
    let (kind, rest) = target.split_once(':').ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let printer: Box<dyn Printer> = match kind {
        "file" => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(rest)?;
            Box::new(TextPrinter::new(f))
        }
        "escpos" => Box::new(EscPosPrinter::append_to(rest, choice)?),
        "tcp" => Box::new(NetworkPrinter::new(rest, NETWORK_TIMEOUT, choice)),
        _ => return Err(bad()),
    };
    Ok(Some(printer))
}

#[cfg(test)]
mod tests;
