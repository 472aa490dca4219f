//! Receipt layout: a completed [`Response`] (plus the merchant's header) laid out as the text of
//! a merchant or customer copy, into any [`core::fmt::Write`], at 24, 32, 42 or 48 columns,
//! in Czech, English or French. No allocation: values are formatted on the stack.
//!
//! ```
//! use ecrlink_core::receipt::{render, CopyKind, Lang, Merchant, ReceiptOptions};
//! use ecrlink_core::txn::{Currency, Money, Outcome, RequestKind, Response};
//!
//! let mut response = Response::new(RequestKind::Sale, Outcome::Approved);
//! response.amount = Some(Money::new(1250, Currency::EUR).unwrap());
//! let options = ReceiptOptions {
//!     width: 32,
//!     lang: Lang::Fr,
//!     copy: CopyKind::Customer,
//!     duplicate: false,
//!     merchant: Merchant { name: "Café de la Gare", ..Merchant::EMPTY },
//! };
//! let mut text = heapless::String::<2048>::new();
//! render(&response, &options, &mut text).unwrap();
//! assert!(text.lines().all(|l| l.chars().count() <= 32));
//! assert!(text.contains("ACCEPTÉ"));
//! ```
//!
//! # What a receipt shows
//! The header (merchant name and address centred, terminal and merchant ids), the copy
//! (merchant / customer) and `DUPLICATE` on a reprint, date and time, the transaction type,
//! card scheme, masked PAN (a [`crate::txn::MaskedPan`] cannot hold more than the first 6 and
//! last 4 digits) and entry mode, the amount (for a cashback sale: purchase, cash and total),
//! authorization code, reference and trace number, the result (every [`Outcome`]; a decline
//! with the bank's code and, for known codes, its meaning), the EMV data of a chip or
//! contactless card, a signature line on the merchant copy when the card's CVM asks for one,
//! and a footer. A close-totals, subtotals or last-sums answer prints its [`Totals`] per currency
//! and per card scheme under its own title.
//!
//! # Layout guarantees
//! - No line is longer than the width, counted in characters (`č`, `é` are one column each).
//!   Long texts wrap at spaces; a single word longer than a line is split.
//! - No line has trailing spaces; lines end with `\n`; control characters print as spaces.
//! - The header (merchant name, address, ids) is the block before the first empty line, so a
//!   printer can set it in bold without being told more.

mod labels;
mod layout;

use core::fmt::Write;

pub use labels::Lang;
use labels::{DateStyle, Labels};
use layout::{Align, Cell, Lines};

use crate::emv::ReceiptTags;
use crate::txn::{
    CardScheme, Currency, Money, Outcome, RequestKind, Response, SchemeTotals, Timestamp, Totals,
};
use crate::{Error, Result};

/// The widths a receipt can be laid out at: 58 mm printers (24/32 columns) and 80 mm printers
/// (42/48 columns).
pub const WIDTHS: [usize; 4] = [24, 32, 42, 48];

/// A bound on the bytes of one rendered receipt at 48 columns with a full EMV block, a header
/// of 4 address lines and 8 scheme lines: enough for a fixed `heapless::String` sink.
/// Texts longer than the core's own (a very long merchant address) can exceed it; the sink
/// then refuses and [`render`] returns [`Error::ReceiptWrite`].
pub const MAX_RECEIPT_BYTES: usize = 4096;

/// Which copy of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CopyKind {
    /// Kept by the shop; carries the signature line when the card's CVM asks for a signature.
    Merchant,
    /// Handed to the cardholder.
    Customer,
}

/// The merchant's header printed at the top of every receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Merchant<'a> {
    /// Shop name, centred (wrapped when long).
    pub name: &'a str,
    /// Address lines, each centred (wrapped when long).
    pub address: &'a [&'a str],
    /// Terminal id; when empty, the response's terminal id (if any) is printed instead.
    pub terminal_id: &'a str,
    /// Merchant id at the acquirer (ISO 8583 field 42); omitted when empty.
    pub merchant_id: &'a str,
}

impl Merchant<'_> {
    /// No header at all (every field empty).
    pub const EMPTY: Merchant<'static> = Merchant {
        name: "",
        address: &[],
        terminal_id: "",
        merchant_id: "",
    };
}

/// How to lay a receipt out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReceiptOptions<'a> {
    /// Columns per line: one of [`WIDTHS`], else [`Error::ReceiptWidth`].
    pub width: usize,
    /// Language of the labels.
    pub lang: Lang,
    /// Merchant or customer copy.
    pub copy: CopyKind,
    /// A reprint: marked `DUPLICATE` (localized).
    pub duplicate: bool,
    /// The header.
    pub merchant: Merchant<'a>,
}

/// Checks a width: `Ok` for one of [`WIDTHS`], else [`Error::ReceiptWidth`].
pub fn check_width(width: usize) -> Result<()> {
    if WIDTHS.contains(&width) {
        Ok(())
    } else {
        Err(Error::ReceiptWidth)
    }
}

/// Lays out the receipt of `response` into `out`.
///
/// A close-totals, subtotals or last-sums response with totals prints a totals report; every
/// other response prints a transaction receipt with the fields it carries. Errors: [`Error::ReceiptWidth`] before
/// anything is written; [`Error::ReceiptWrite`] if `out` refuses text (a full fixed buffer),
/// in which case `out` holds a partial receipt.
pub fn render<W: Write>(
    response: &Response,
    options: &ReceiptOptions<'_>,
    out: &mut W,
) -> Result<()> {
    check_width(options.width)?;
    let l = options.lang.labels();
    let mut lines = Lines::new(out, options.width);
    header(&mut lines, l, options, response)?;
    match (&response.kind, &response.totals) {
        (kind, Some(totals)) if kind.reports_totals() => {
            totals_body(&mut lines, l, totals)?;
            result(&mut lines, l, response)?;
        }
        _ => {
            transaction_body(&mut lines, l, response)?;
            result(&mut lines, l, response)?;
            emv_block(&mut lines, l, response)?;
            signature(&mut lines, l, options, response)?;
        }
    }
    footer(&mut lines, l, options)
}

/// Lays out a totals report on its own (e.g. subtotals the agent keeps), as [`render`] does for
/// a close-totals response.
pub fn render_totals<W: Write>(
    totals: &Totals,
    timestamp: Option<Timestamp>,
    options: &ReceiptOptions<'_>,
    out: &mut W,
) -> Result<()> {
    let mut response = Response::new(RequestKind::CloseTotals, Outcome::Approved);
    response.timestamp = timestamp;
    response.totals = Some(totals.clone());
    render(&response, options, out)
}

/// Splits a rendered receipt into parts of at most `max_bytes` bytes, each ending at a line
/// end where possible (for transfers in parts such as the ČSOB B3/B4 ticket exchange). A line
/// longer than `max_bytes` is split at a character boundary. `max_bytes` below 4 (one UTF-8
/// character) yields nothing.
pub fn parts(text: &str, max_bytes: usize) -> Parts<'_> {
    Parts {
        rest: text,
        max: max_bytes,
    }
}

/// A [`core::fmt::Write`] sink that keeps up to `N` bytes of the text written into it, from
/// byte `skip` on, and counts the rest: a receipt sent in parts is rendered again for each
/// part into a window as large as a part, instead of whole into a buffer as large as the
/// longest receipt ([`MAX_RECEIPT_BYTES`]; a firmware keeps about a quarter of that).
///
/// The window ends at a character boundary, so what it keeps is the text from `skip` cut to
/// at most `N` bytes (at least `N - 3` when more follows). With `N` at least a part's
/// largest size plus 4, [`parts`] of [`Window::as_str`] gives the same first part, and the
/// same "more follows", as [`parts`] of the whole rest. Text past `limit` bytes in all is
/// refused, as a `heapless::String` of `limit` bytes would refuse it.
#[derive(Clone, Debug)]
pub struct Window<const N: usize> {
    skip: usize,
    limit: usize,
    seen: usize,
    full: bool,
    kept: heapless::String<N>,
}

impl<const N: usize> Window<N> {
    /// An empty window that keeps the text from byte `skip` on (a character boundary of the
    /// text, such as the end of a part) and refuses text past `limit` bytes.
    pub const fn new(skip: usize, limit: usize) -> Self {
        Window {
            skip,
            limit,
            seen: 0,
            full: false,
            kept: heapless::String::new(),
        }
    }

    /// The text kept: from `skip`, at most `N` bytes.
    pub fn as_str(&self) -> &str {
        self.kept.as_str()
    }

    /// Bytes written into the window in all, kept or not.
    pub fn total_len(&self) -> usize {
        self.seen
    }
}

impl<const N: usize> Write for Window<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let start = self.seen;
        let end = start.saturating_add(s.len());
        if end > self.limit {
            return Err(core::fmt::Error);
        }
        self.seen = end;
        if self.full || end <= self.skip {
            return Ok(());
        }
        let mut from = self.skip.saturating_sub(start);
        while !s.is_char_boundary(from) {
            from += 1;
        }
        let tail = s.get(from..).unwrap_or("");
        let room = N - self.kept.len();
        let mut cut = tail.len().min(room);
        while !tail.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut < tail.len() {
            self.full = true;
        }
        self.kept
            .push_str(tail.get(..cut).unwrap_or(""))
            .map_err(|_| core::fmt::Error)
    }
}

/// Iterator returned by [`parts`].
#[derive(Clone, Debug)]
pub struct Parts<'a> {
    rest: &'a str,
    max: usize,
}

impl<'a> Iterator for Parts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() || self.max < 4 {
            return None;
        }
        if self.rest.len() <= self.max {
            let all = self.rest;
            self.rest = "";
            return Some(all);
        }
        // Largest char boundary within the limit, then back to the last line end before it.
        let mut end = self.max;
        while !self.rest.is_char_boundary(end) {
            end -= 1;
        }
        let window = self.rest.get(..end).unwrap_or("");
        let cut = match window.rfind('\n') {
            Some(nl) => nl + 1,
            None => end,
        };
        let (part, rest) = self.rest.split_at_checked(cut).unwrap_or((self.rest, ""));
        self.rest = rest;
        Some(part)
    }
}

// ----- sections -----

fn header<W: Write>(
    lines: &mut Lines<'_, W>,
    l: &Labels,
    options: &ReceiptOptions<'_>,
    response: &Response,
) -> Result<()> {
    let m = &options.merchant;
    lines.text(m.name, Align::Center)?;
    for line in m.address {
        lines.text(line, Align::Center)?;
    }
    let tid = match (m.terminal_id.trim(), &response.terminal_id) {
        ("", Some(t)) => t.as_str(),
        (t, _) => t,
    };
    if !tid.is_empty() {
        lines.pair(l.terminal_id, tid)?;
    }
    if !m.merchant_id.trim().is_empty() {
        lines.pair(l.merchant_id, m.merchant_id)?;
    }
    lines.blank()?;
    lines.rule('=')?;
    let copy = match options.copy {
        CopyKind::Merchant => l.merchant_copy,
        CopyKind::Customer => l.customer_copy,
    };
    lines.text(copy, Align::Center)?;
    if options.duplicate {
        let dup = Cell::<64>::format(format_args!("*** {} ***", l.duplicate))?;
        lines.text(dup.as_str(), Align::Center)?;
    }
    lines.rule('=')?;
    if let Some(ts) = response.timestamp {
        let (date, time) = date_time(l, ts)?;
        lines.split(date.as_str(), time.as_str())?;
    }
    lines.text(l.kind(response.kind), Align::Center)?;
    lines.blank()
}

fn transaction_body<W: Write>(lines: &mut Lines<'_, W>, l: &Labels, r: &Response) -> Result<()> {
    let mut card_lines = false;
    if let Some(scheme) = r.scheme {
        lines.pair(l.card, scheme_name(l, scheme))?;
        card_lines = true;
    }
    if let Some(pan) = r.pan {
        let masked = Cell::<24>::format(format_args!("{pan}"))?;
        lines.pair(l.card_number, masked.as_str())?;
        card_lines = true;
    }
    if let Some(mode) = r.entry_mode {
        lines.pair(l.entry_mode, l.entry_mode(mode))?;
        card_lines = true;
    }
    if card_lines {
        lines.blank()?;
    }
    if let Some(amount) = r.amount {
        match r.cashback {
            Some(cash) if cash < amount.amount => {
                let goods = amount.minor() - cash.minor();
                let goods = money(l, i128::from(goods), Some(amount.currency), 0)?;
                lines.pair(l.purchase, goods.as_str())?;
                let cash = money(l, i128::from(cash.minor()), Some(amount.currency), 0)?;
                lines.pair(l.cashback, cash.as_str())?;
                let total = money_of(l, amount)?;
                lines.pair(l.total, total.as_str())?;
            }
            _ => {
                let total = money_of(l, amount)?;
                lines.pair(l.amount, total.as_str())?;
            }
        }
        lines.blank()?;
    }
    let mut ids = false;
    if let Some(code) = &r.approval_code {
        lines.pair(l.approval_code, code.as_str())?;
        ids = true;
    }
    if let Some(reference) = &r.reference {
        lines.pair(l.reference, reference.as_str())?;
        ids = true;
    }
    if let Some(trace) = r.trace {
        let t = Cell::<16>::format(format_args!("{trace:06}"))?;
        lines.pair(l.trace, t.as_str())?;
        ids = true;
    }
    if ids {
        lines.blank()?;
    }
    Ok(())
}

fn result<W: Write>(lines: &mut Lines<'_, W>, l: &Labels, r: &Response) -> Result<()> {
    lines.rule('-')?;
    match &r.outcome {
        Outcome::Approved => lines.text(l.approved(), Align::Center)?,
        Outcome::Declined { code } => {
            let title = Cell::<96>::format(format_args!("{} ({} {})", l.declined(), l.code, code))?;
            lines.text(title.as_str(), Align::Center)?;
            if let Some(reason) = l.decline_reason(code.as_str()) {
                lines.text(reason, Align::Center)?;
            }
        }
        Outcome::Timeout => lines.text(l.timeout(), Align::Center)?,
        Outcome::TerminalOffline => lines.text(l.terminal_offline(), Align::Center)?,
        Outcome::BankUnavailable => lines.text(l.bank_unavailable(), Align::Center)?,
        Outcome::Cancelled => lines.text(l.cancelled(), Align::Center)?,
        Outcome::Failed { reason } => {
            lines.text(l.failed(), Align::Center)?;
            lines.text(l.fail_reason(*reason), Align::Center)?;
        }
    }
    if let Some(text) = &r.text {
        lines.text(text, Align::Center)?;
    }
    lines.rule('-')
}

/// The EMV block of a chip or contactless transaction: AID, application label (or preferred
/// name), TVR, IAD, TSI, ARC and ATC, each when the data carries it. Data that does not parse
/// as BER-TLV prints no block: the receipt of a valid payment must still come out.
fn emv_block<W: Write>(lines: &mut Lines<'_, W>, l: &Labels, r: &Response) -> Result<()> {
    let Ok(tags) = ReceiptTags::from_tlv(&r.emv) else {
        return Ok(());
    };
    let mut any = false;
    // AID: registered application provider id (5 bytes), then the proprietary extension.
    any |= hex_row(lines, "AID", tags.aid, 5, 16)?;
    if let Some(name) = tags.label_text().or_else(|| tags.preferred_name_text()) {
        lines.pair(l.app_label, name)?;
        any = true;
    }
    any |= hex_row(lines, "TVR", tags.tvr, 4, 4)?;
    any |= hex_row(lines, "IAD", tags.iad, 4, 4)?;
    any |= hex_row(lines, "TSI", tags.tsi, 4, 4)?;
    match tags.arc_text() {
        Some(arc) => {
            lines.pair("ARC", arc)?;
            any = true;
        }
        None => any |= hex_row(lines, "ARC", tags.arc, 4, 4)?,
    }
    any |= hex_row(lines, "ATC", tags.atc, 4, 4)?;
    if any {
        lines.rule('-')?;
    }
    Ok(())
}

/// `label` and `value` in hex (grouped as [`Cell::hex`] does after `first` bytes, then every
/// `every` bytes), when there is a value; whether a row was written.
fn hex_row<W: Write>(
    lines: &mut Lines<'_, W>,
    label: &str,
    value: Option<&[u8]>,
    first: usize,
    every: usize,
) -> Result<bool> {
    let Some(value) = value else {
        return Ok(false);
    };
    let hex = Cell::<{ 3 * MAX_EMV_HEX_BYTES + 4 }>::hex(value, first, every, MAX_EMV_HEX_BYTES)?;
    lines.pair(label, hex.as_str())?;
    Ok(true)
}

/// The longest EMV value the block prints whole, in bytes: IAD (`9F10`) is at most 32; a
/// longer (non-conforming) value is shortened and ends with `…`.
const MAX_EMV_HEX_BYTES: usize = 32;

/// CVM codes (EMV Book 3, Annex C3, byte 1 bits 6–1 of the CVM results) that ask for the
/// cardholder's signature: plaintext PIN + signature, enciphered PIN + signature, signature.
const SIGNATURE_CVMS: [u8; 3] = [0x03, 0x05, 0x1E];

/// Whether the CVM results (`9F34`) ask for a signature (and the CVM did not fail).
fn needs_signature(r: &Response) -> bool {
    let Ok(tags) = ReceiptTags::from_tlv(&r.emv) else {
        return false;
    };
    match tags.cvm_results {
        Some([performed, _condition, result]) => {
            SIGNATURE_CVMS.contains(&(performed & 0x3F)) && *result != CVM_FAILED
        }
        _ => false,
    }
}

/// CVM result byte 3: `01` failed (`00` unknown, `02` successful).
const CVM_FAILED: u8 = 0x01;

fn signature<W: Write>(
    lines: &mut Lines<'_, W>,
    l: &Labels,
    options: &ReceiptOptions<'_>,
    r: &Response,
) -> Result<()> {
    if options.copy != CopyKind::Merchant
        || !r.outcome.is_approved()
        || !r.kind.moves_money()
        || !needs_signature(r)
    {
        return Ok(());
    }
    lines.blank()?;
    lines.text(l.signature, Align::Left)?;
    lines.blank()?;
    lines.blank()?;
    lines.rule('.')
}

fn footer<W: Write>(
    lines: &mut Lines<'_, W>,
    l: &Labels,
    options: &ReceiptOptions<'_>,
) -> Result<()> {
    lines.blank()?;
    let text = match options.copy {
        CopyKind::Merchant => l.footer_merchant,
        CopyKind::Customer => l.footer_customer,
    };
    lines.text(text, Align::Center)
}

fn totals_body<W: Write>(lines: &mut Lines<'_, W>, l: &Labels, totals: &Totals) -> Result<()> {
    if totals.currencies.is_empty() && totals.schemes.is_empty() {
        lines.text(l.no_transactions, Align::Center)?;
        return lines.blank();
    }
    if !totals.currencies.is_empty() {
        lines.text(l.by_currency, Align::Left)?;
        lines.rule('-')?;
    }
    for (i, c) in totals.currencies.iter().enumerate() {
        if i > 0 {
            lines.blank()?;
        }
        let cur = Currency::from_numeric(c.currency).ok();
        let code = currency_code(c.currency);
        lines.text(code.as_str(), Align::Left)?;
        let label = Cell::<48>::format(format_args!("{} ({})", l.sales, c.debit_count))?;
        let sum = money(l, i128::from(c.debit_minor), cur, c.currency)?;
        lines.pair(label.as_str(), sum.as_str())?;
        let label = Cell::<48>::format(format_args!("{} ({})", l.refunds, c.credit_count))?;
        let sum = money(l, -i128::from(c.credit_minor), cur, c.currency)?;
        lines.pair(label.as_str(), sum.as_str())?;
        let count = Cell::<16>::format(format_args!("{}", c.reversal_count))?;
        lines.pair(l.reversals, count.as_str())?;
        let net = i128::from(c.debit_minor) - i128::from(c.credit_minor);
        let net = money(l, net, cur, c.currency)?;
        lines.pair(l.net, net.as_str())?;
    }
    if !totals.schemes.is_empty() {
        lines.blank()?;
        lines.text(l.by_scheme, Align::Left)?;
        lines.rule('-')?;
    }
    for s in &totals.schemes {
        scheme_line(lines, l, s)?;
    }
    lines.blank()
}

fn scheme_line<W: Write>(lines: &mut Lines<'_, W>, l: &Labels, s: &SchemeTotals) -> Result<()> {
    let label = Cell::<48>::format(format_args!("{} ({})", scheme_name(l, s.scheme), s.count))?;
    let cur = Currency::from_numeric(s.currency).ok();
    let sum = money(l, i128::from(s.net_minor), cur, s.currency)?;
    lines.pair(label.as_str(), sum.as_str())
}

// ----- value formatting -----

fn scheme_name(l: &Labels, scheme: CardScheme) -> &'static str {
    match scheme {
        CardScheme::Other => l.other_card,
        s => s.name(),
    }
}

fn currency_code(numeric: u16) -> Cell<8> {
    match Currency::from_numeric(numeric) {
        Ok(c) => Cell::format(format_args!("{}", c.alpha())),
        Err(_) => Cell::format(format_args!("{numeric:03}")),
    }
    .unwrap_or_else(|_| Cell::new())
}

fn money_of(l: &Labels, m: Money) -> Result<Cell<40>> {
    money(
        l,
        i128::from(m.minor()),
        Some(m.currency),
        m.currency.numeric(),
    )
}

/// `-1234,50 CZK`: sign, integer part, the language's decimal separator and the currency's
/// number of decimals, then the alphabetic code (the numeric code for an unknown currency,
/// with two decimals).
fn money(l: &Labels, minor: i128, currency: Option<Currency>, numeric: u16) -> Result<Cell<40>> {
    let exp = currency.map_or(2, Currency::exponent);
    let code = match currency {
        Some(c) => currency_code(c.numeric()),
        None => currency_code(numeric),
    };
    let sign = if minor < 0 { "-" } else { "" };
    // Every caller's value is a u64, an i64 or the difference of two u64: its magnitude fits
    // a u64, whose formatting and division the firmware links anyway (u128's cost 1.4 KiB
    // of flash more). A larger one is refused, never printed wrong.
    let Ok(abs) = u64::try_from(minor.unsigned_abs()) else {
        return Err(Error::ReceiptWrite);
    };
    if exp == 0 {
        return Cell::format(format_args!("{sign}{abs} {}", code.as_str()));
    }
    let scale = 10u64.pow(u32::from(exp));
    Cell::format(format_args!(
        "{sign}{}{}{:0width$} {}",
        abs / scale,
        l.decimal,
        abs % scale,
        code.as_str(),
        width = usize::from(exp)
    ))
}

fn date_time(l: &Labels, t: Timestamp) -> Result<(Cell<16>, Cell<16>)> {
    let date = match l.date {
        DateStyle::DayDotMonth => Cell::format(format_args!("{}.{}.{:04}", t.day, t.month, t.year)),
        DateStyle::Iso => Cell::format(format_args!("{:04}-{:02}-{:02}", t.year, t.month, t.day)),
        DateStyle::DaySlashMonth => {
            Cell::format(format_args!("{:02}/{:02}/{:04}", t.day, t.month, t.year))
        }
    }?;
    let time = Cell::format(format_args!(
        "{:02}:{:02}:{:02}",
        t.hour, t.minute, t.second
    ))?;
    Ok((date, time))
}

#[cfg(test)]
mod tests;
