//! What the terminal answers.

use core::fmt;

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use super::{
    Amount, ApprovalCode, CardScheme, Currency, EntryMode, MaskedPan, Money, Reference,
    RequestKind, TerminalId,
};
use crate::{Error, Result};

/// How a request ended. The till must be able to tell each of these apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// Done: the bank approved, or a non-financial request succeeded.
    Approved,
    /// The bank or the card refused; `code` is the bank's response code (ISO 8583 field 39,
    /// e.g. `51` insufficient funds) or the dialect's result code.
    Declined {
        /// The refusing party's code.
        code: DeclineCode,
    },
    /// No answer within the transaction limit; the result is unknown until asked again.
    Timeout,
    /// The terminal cannot be reached (asleep, off, network down).
    TerminalOffline,
    /// The terminal is up but cannot reach the bank.
    BankUnavailable,
    /// Cancelled by the cardholder, the till (abort) or because no card was presented.
    Cancelled,
    /// Refused by the terminal itself for a reason other than the bank's.
    Failed {
        /// Why.
        reason: FailReason,
    },
}

impl Outcome {
    /// A lower-case name for logs and JSON: `approved`, `declined`, `timeout`, …
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Declined { .. } => "declined",
            Outcome::Timeout => "timeout",
            Outcome::TerminalOffline => "terminal-offline",
            Outcome::BankUnavailable => "bank-unavailable",
            Outcome::Cancelled => "cancelled",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// Whether money moved (the request was approved).
    pub fn is_approved(&self) -> bool {
        matches!(self, Outcome::Approved)
    }
}

/// Why the terminal itself refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FailReason {
    /// The card could not be read or refused the transaction.
    CardError,
    /// The card is expired.
    CardExpired,
    /// The card is blocked.
    CardBlocked,
    /// A reversal whose code or amount does not match the last transaction, or nothing to reverse.
    NoMatchingTransaction,
    /// The terminal is busy with another transaction.
    Busy,
    /// The request is not supported by this terminal or dialect.
    NotSupported,
    /// The till and the terminal disagreed on the protocol.
    Protocol,
    /// The receipt could not be printed (the payment itself stands).
    PrinterError,
    /// Anything else.
    Other,
}

impl FailReason {
    /// A lower-case name for logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            FailReason::CardError => "card-error",
            FailReason::CardExpired => "card-expired",
            FailReason::CardBlocked => "card-blocked",
            FailReason::NoMatchingTransaction => "no-matching-transaction",
            FailReason::Busy => "busy",
            FailReason::NotSupported => "not-supported",
            FailReason::Protocol => "protocol",
            FailReason::PrinterError => "printer-error",
            FailReason::Other => "other",
        }
    }
}

/// A decline code: 1–4 printable ASCII characters (`51`, `05`, `R-12`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeclineCode(String<4>);

impl DeclineCode {
    /// Validates and copies `code`.
    pub fn new(code: &str) -> Result<Self> {
        if code.is_empty() || !code.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(Error::Unsupported {
                what: "decline code",
            });
        }
        let mut s = String::new();
        s.push_str(code).map_err(|_| Error::Unsupported {
            what: "decline code",
        })?;
        Ok(DeclineCode(s))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeclineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A local date and time as terminals carry it (no time zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timestamp {
    /// Full year, e.g. 2026.
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
}

impl Timestamp {
    /// 2000-01-01 00:00:00: the wall time a terminal keeps until it is told the date.
    pub const MILLENNIUM: Timestamp = Timestamp {
        year: 2000,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// A validated timestamp (ranges as documented on the fields; days checked up to 31).
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Result<Self> {
        let ok = (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !ok {
            return Err(Error::Unsupported { what: "timestamp" });
        }
        Ok(Timestamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }
}

impl fmt::Display for Timestamp {
    /// `2026-11-25 17:13:00`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Raw EMV data (BER-TLV bytes) of a chip or contactless transaction, at most 256 bytes.
/// Parse it with [`crate::emv`].
pub type EmvData = Vec<u8, 256>;

/// Totals of one currency in a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CurrencyTotals {
    /// ISO 4217 numeric code.
    pub currency: u16,
    /// Number of debits (sales, cashback sales).
    pub debit_count: u32,
    /// Sum of debits in minor units.
    pub debit_minor: u64,
    /// Number of credits (refunds).
    pub credit_count: u32,
    /// Sum of credits in minor units.
    pub credit_minor: u64,
    /// Number of reversals (they are not in the sums above).
    pub reversal_count: u32,
}

/// Count and sum of one card scheme in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SchemeTotals {
    /// Card scheme.
    pub scheme: CardScheme,
    /// ISO 4217 numeric code.
    pub currency: u16,
    /// Transactions (debits and credits).
    pub count: u32,
    /// Net sum in minor units (debits minus credits).
    pub net_minor: i64,
}

/// The totals a close-totals answer carries: at most 4 currencies and 8 scheme lines.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Totals {
    /// Per currency.
    pub currencies: Vec<CurrencyTotals, 4>,
    /// Per scheme and currency.
    pub schemes: Vec<SchemeTotals, 8>,
}

/// The terminal's answer to a request. Fields a dialect cannot carry stay `None`.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Response {
    /// What was asked. An answer to [`RequestKind::LastTransaction`] is the last
    /// transaction's own answer, of that transaction's kind where the dialect carries it
    /// (`crate::session::check_response`).
    pub kind: RequestKind,
    /// How it ended.
    pub outcome: Outcome,
    /// Amount processed (for a cashback sale, the total).
    pub amount: Option<Money>,
    /// Cash handed out.
    pub cashback: Option<Amount>,
    /// Approval code (needed to reverse the transaction).
    pub approval_code: Option<ApprovalCode>,
    /// Masked card number.
    pub pan: Option<MaskedPan>,
    /// Card scheme.
    pub scheme: Option<CardScheme>,
    /// How the card was read.
    pub entry_mode: Option<EntryMode>,
    /// The till's reference, echoed.
    pub reference: Option<Reference>,
    /// Terminal id.
    pub terminal_id: Option<TerminalId>,
    /// When the terminal finished the transaction.
    pub timestamp: Option<Timestamp>,
    /// Trace number (ISO 8583 STAN) of the bank exchange.
    pub trace: Option<u32>,
    /// EMV tags of the transaction (BER-TLV).
    pub emv: EmvData,
    /// Totals (close totals).
    pub totals: Option<Totals>,
    /// Free text: software version for a terminal test, round trip for a bank test.
    pub text: Option<String<64>>,
}

// By hand, for `clone_from`: the derived one builds a whole copy on the stack first (816
// bytes), this one copies field by field into the place it overwrites (the journal's last
// transaction, on a small firmware stack).
impl Clone for Response {
    fn clone(&self) -> Self {
        // Every field, by name: a field added to `Response` fails to compile here.
        let Response {
            kind,
            outcome,
            amount,
            cashback,
            approval_code,
            pan,
            scheme,
            entry_mode,
            reference,
            terminal_id,
            timestamp,
            trace,
            emv,
            totals,
            text,
        } = self;
        Response {
            kind: *kind,
            outcome: outcome.clone(),
            amount: *amount,
            cashback: *cashback,
            approval_code: approval_code.clone(),
            pan: *pan,
            scheme: *scheme,
            entry_mode: *entry_mode,
            reference: reference.clone(),
            terminal_id: terminal_id.clone(),
            timestamp: *timestamp,
            trace: *trace,
            emv: emv.clone(),
            totals: totals.clone(),
            text: text.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.kind = source.kind;
        self.outcome.clone_from(&source.outcome);
        self.amount = source.amount;
        self.cashback = source.cashback;
        self.approval_code.clone_from(&source.approval_code);
        self.pan = source.pan;
        self.scheme = source.scheme;
        self.entry_mode = source.entry_mode;
        self.reference.clone_from(&source.reference);
        self.terminal_id.clone_from(&source.terminal_id);
        self.timestamp = source.timestamp;
        self.trace = source.trace;
        self.emv.clone_from(&source.emv);
        self.totals.clone_from(&source.totals);
        self.text.clone_from(&source.text);
    }
}

impl Response {
    /// A response of `kind` with `outcome` and nothing else.
    pub const fn new(kind: RequestKind, outcome: Outcome) -> Self {
        Response {
            kind,
            outcome,
            amount: None,
            cashback: None,
            approval_code: None,
            pan: None,
            scheme: None,
            entry_mode: None,
            reference: None,
            terminal_id: None,
            timestamp: None,
            trace: None,
            emv: Vec::new(),
            totals: None,
            text: None,
        }
    }

    /// Sets the free text, an error if it exceeds 64 bytes.
    pub fn with_text(mut self, text: &str) -> Result<Self> {
        let mut s = String::new();
        s.push_str(text).map_err(|_| Error::CapacityExceeded {
            what: "response text",
        })?;
        self.text = Some(s);
        Ok(self)
    }

    /// The currency of the amount, if any.
    pub fn currency(&self) -> Option<Currency> {
        self.amount.map(|m| m.currency)
    }
}
