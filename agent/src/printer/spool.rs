//! The receipt side of a transaction: lay both copies out with `ecrlink_core::receipt`, print
//! them, and keep the last response so the receipt can be printed again (marked duplicate)
//! after a paper jam or a printer error, or sent to the till as text.

use ecrlink_core::receipt::{self, Lang, Merchant, ReceiptOptions};
use ecrlink_core::txn::Response;

use super::{Copy, PrintError, PrintJob, Printer};

/// The merchant's header and the layout of every receipt the agent prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptSettings {
    /// Shop name (first line, centred, bold on ESC/POS printers).
    pub merchant_name: String,
    /// Address lines under the name.
    pub address: Vec<String>,
    /// Terminal id; empty: the response's terminal id.
    pub terminal_id: String,
    /// Merchant id at the acquirer; empty: not printed.
    pub merchant_id: String,
    /// Columns: 24, 32, 42 or 48.
    pub width: usize,
    /// Language of the labels.
    pub lang: Lang,
}

impl Default for ReceiptSettings {
    /// No header, 42 columns (80 mm paper), English.
    fn default() -> Self {
        ReceiptSettings {
            merchant_name: String::new(),
            address: Vec::new(),
            terminal_id: String::new(),
            merchant_id: String::new(),
            width: 42,
            lang: Lang::En,
        }
    }
}

impl ReceiptSettings {
    /// The text of one copy of `response`'s receipt.
    pub fn render(
        &self,
        response: &Response,
        copy: Copy,
        duplicate: bool,
    ) -> Result<String, ecrlink_core::Error> {
        let address: Vec<&str> = self.address.iter().map(String::as_str).collect();
        let options = ReceiptOptions {
            width: self.width,
            lang: self.lang,
            copy,
            duplicate,
            merchant: Merchant {
                name: &self.merchant_name,
                address: &address,
                terminal_id: &self.terminal_id,
                merchant_id: &self.merchant_id,
            },
        };
        // One allocation: a receipt fits in this bound (longer ones still grow the string).
        let mut text = String::with_capacity(receipt::MAX_RECEIPT_BYTES);
        receipt::render(response, &options, &mut text)?;
        Ok(text)
    }

    /// The print job of one copy.
    pub fn job(
        &self,
        response: &Response,
        copy: Copy,
        duplicate: bool,
    ) -> Result<PrintJob, PrintError> {
        Ok(PrintJob {
            text: self
                .render(response, copy, duplicate)
                .map_err(PrintError::Layout)?,
            width: self.width,
            copy,
        })
    }
}

/// Prints receipts and keeps the last one for a reprint.
#[derive(Debug, Default)]
pub struct ReceiptSpool {
    settings: ReceiptSettings,
    last: Option<Response>,
    /// The texts of the last receipt's copies as printed (not duplicate), in [`COPIES`]
    /// order: laid out once and reused for the till's receipt transfer.
    last_texts: Option<[String; 2]>,
}

/// The copies printed for each transaction, in order.
pub const COPIES: [Copy; 2] = [Copy::Merchant, Copy::Customer];

impl ReceiptSpool {
    /// A spool laying receipts out with `settings`.
    pub fn new(settings: ReceiptSettings) -> Self {
        ReceiptSpool {
            settings,
            last: None,
            last_texts: None,
        }
    }

    /// The layout settings.
    pub fn settings(&self) -> &ReceiptSettings {
        &self.settings
    }

    /// The response of the last receipt (printed or not).
    pub fn last(&self) -> Option<&Response> {
        self.last.as_ref()
    }

    /// Remembers `response` as the last receipt, then prints the merchant and the customer
    /// copy. The receipt is remembered even when printing fails, so [`ReceiptSpool::reprint`]
    /// can print it once the printer works again. Returns the jobs printed.
    pub fn print(
        &mut self,
        printer: &mut dyn Printer,
        response: &Response,
    ) -> Result<Vec<PrintJob>, PrintError> {
        self.last = Some(response.clone());
        self.last_texts = None;
        self.print_last(printer, false)
    }

    /// Prints the last receipt again, both copies marked duplicate.
    /// [`PrintError::NothingToReprint`] when no receipt was printed yet.
    pub fn reprint(&mut self, printer: &mut dyn Printer) -> Result<Vec<PrintJob>, PrintError> {
        self.print_last(printer, true)
    }

    /// The text of one copy of the last receipt, e.g. for the till (ČSOB B3/B4 transfer).
    pub fn last_text(&self, copy: Copy, duplicate: bool) -> Result<String, PrintError> {
        let last = self.last.as_ref().ok_or(PrintError::NothingToReprint)?;
        if !duplicate && let Some(texts) = &self.last_texts {
            let i = COPIES.iter().position(|c| *c == copy).unwrap_or(0);
            if let Some(text) = texts.get(i) {
                return Ok(text.clone());
            }
        }
        self.settings
            .render(last, copy, duplicate)
            .map_err(PrintError::Layout)
    }

    fn print_last(
        &mut self,
        printer: &mut dyn Printer,
        duplicate: bool,
    ) -> Result<Vec<PrintJob>, PrintError> {
        let last = self.last.as_ref().ok_or(PrintError::NothingToReprint)?;
        // Both copies are laid out before either is printed, so the texts are kept (for the
        // till's receipt transfer) even when the printer fails.
        let mut jobs = Vec::with_capacity(COPIES.len());
        for copy in COPIES {
            jobs.push(self.settings.job(last, copy, duplicate)?);
        }
        if !duplicate && let [merchant, customer] = jobs.as_slice() {
            self.last_texts = Some([merchant.text.clone(), customer.text.clone()]);
        }
        for job in &jobs {
            printer.print(job)?;
        }
        Ok(jobs)
    }
}
