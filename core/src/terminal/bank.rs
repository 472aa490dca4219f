//! The bank exchanges of the payment application, independent of the wire codec: what the
//! application asks the bank ([`BankRequest`]) and what the driver hands back ([`BankAnswer`],
//! [`BankFailure`]). The agent maps these to ISO 8583 bytes with [`crate::bank`].

use heapless::String;

use crate::bank::{Expiry, ResponseCode};
use crate::journal::{Original, ReversalReason};
use crate::txn::{Amount, ApprovalCode, EmvData, EntryMode, Money, Pan, Request, Timestamp};

/// What an authorization asks for (ISO 8583 processing code, field 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuthKind {
    /// Purchase (00).
    Sale,
    /// Purchase with cashback (09).
    Cashback,
    /// Refund (20).
    Refund,
}

impl AuthKind {
    /// The kind, total amount and cash-back part of a money request (sale, sale with cash
    /// back, refund); `None` for other requests.
    pub fn of(request: &Request) -> Option<(AuthKind, Money, Option<Amount>)> {
        match request {
            Request::Sale { amount, .. } => Some((AuthKind::Sale, *amount, None)),
            Request::SaleWithCashback {
                amount, cashback, ..
            } => Some((AuthKind::Cashback, *amount, Some(*cashback))),
            Request::Refund { amount, .. } => Some((AuthKind::Refund, *amount, None)),
            _ => None,
        }
    }
}

/// An authorization request (0200).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// Trace number (field 11).
    pub stan: u32,
    /// Sale, cashback or refund.
    pub kind: AuthKind,
    /// Amount (field 4, with the currency in field 49).
    pub amount: Money,
    /// Cashback part (field 54).
    pub cashback: Option<Amount>,
    /// Full card number (field 2): only here, on its way to the bank.
    pub pan: Pan,
    /// How the card was read (field 22).
    pub entry_mode: EntryMode,
    /// The card's expiry date (field 14), when the reader gave it.
    pub expiry: Option<Expiry>,
    /// The card's PAN sequence number (field 23), when the card has one (chip cards).
    pub card_sequence: Option<u8>,
    /// The card's EMV data (field 55), unredacted: the bank link is the only place for it.
    pub emv: EmvData,
    /// Transmission date and time (field 7) and local date and time (fields 12, 13).
    pub transmitted: Timestamp,
    /// Retrieval reference (field 37): the till's reference when it is 1–12 letters or digits.
    pub rrn: Option<String<12>>,
}

/// A reversal (0400) of an earlier authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReversalRequest {
    /// This message's own trace number.
    pub stan: u32,
    /// The authorization reversed (field 90 carries its MTI, trace and time).
    pub original: Original,
    /// The card number, while it is still in memory (never after a restart: it is not
    /// journaled).
    pub pan: Option<Pan>,
    /// Why (field 39 of the 0400, see [`crate::terminal::wire::reversal_reason_code`]).
    pub reason: ReversalReason,
    /// Transmission date and time.
    pub transmitted: Timestamp,
}

/// The completion (0220 advice) of a pre-authorisation: book `amount` of the reservation
/// `original` (an 0100), release the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionRequest {
    /// This message's own trace number.
    pub stan: u32,
    /// The reservation (field 90 carries MTI `0100`, its trace and time).
    pub original: Original,
    /// The final amount (field 4), at most `original.amount`.
    pub amount: Money,
    /// The reservation's approval code (field 38).
    pub approval: Option<ApprovalCode>,
    /// The card number, while still in memory (never after a restart).
    pub pan: Option<Pan>,
    /// Transmission date and time.
    pub transmitted: Timestamp,
}

/// The partial release (0400 with field 95) of a pre-authorisation: `keep` of the
/// reservation `original` stays (and is booked), the rest goes back to the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseRequest {
    /// This message's own trace number.
    pub stan: u32,
    /// The reservation (field 90 carries MTI `0100`).
    pub original: Original,
    /// The amount that stays (field 95, actual amount transaction).
    pub keep: Amount,
    /// The card number, while still in memory.
    pub pan: Option<Pan>,
    /// Transmission date and time.
    pub transmitted: Timestamp,
}

/// A reconciliation (0500) of one currency of the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileRequest {
    /// Trace number.
    pub stan: u32,
    /// Batch number.
    pub batch: u32,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// Debit count and sum in minor units.
    pub debits: (u32, u64),
    /// Credit count and sum in minor units.
    pub credits: (u32, u64),
    /// Transmission date and time.
    pub transmitted: Timestamp,
}

/// A message for the bank, from [`super::Terminal::poll_bank`].
// One message at a time is moved to the driver; boxing is not available (no alloc).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankRequest {
    /// 0200.
    Auth(AuthRequest),
    /// 0400.
    Reversal(ReversalRequest),
    /// 0500.
    Reconcile(ReconcileRequest),
    /// 0800 with network management code 301 (echo test).
    Echo {
        /// Trace number.
        stan: u32,
        /// Transmission date and time.
        transmitted: Timestamp,
    },
    /// 0100: a pre-authorisation (reservation); the card is charged nothing yet.
    PreAuth(AuthRequest),
    /// 0220: the completion of a pre-authorisation.
    Completion(CompletionRequest),
    /// 0400 with field 95: the partial release of a pre-authorisation.
    Release(ReleaseRequest),
}

impl BankRequest {
    /// The trace number the answer must carry.
    pub fn stan(&self) -> u32 {
        match self {
            BankRequest::Auth(a) => a.stan,
            BankRequest::Reversal(r) => r.stan,
            BankRequest::Reconcile(r) => r.stan,
            BankRequest::Echo { stan, .. } => *stan,
            BankRequest::PreAuth(a) => a.stan,
            BankRequest::Completion(c) => c.stan,
            BankRequest::Release(r) => r.stan,
        }
    }

    /// The message type of the request (100, 200, 220, 400, 500, 800); its answer is this
    /// plus 10.
    pub fn mti(&self) -> u16 {
        match self {
            BankRequest::Auth(_) => 200,
            BankRequest::Reversal(_) | BankRequest::Release(_) => 400,
            BankRequest::Reconcile(_) => 500,
            BankRequest::Echo { .. } => 800,
            BankRequest::PreAuth(_) => 100,
            BankRequest::Completion(_) => 220,
        }
    }

    /// The full card number in the message, if any (to mask it in a hex dump).
    pub fn pan(&self) -> Option<&Pan> {
        match self {
            BankRequest::Auth(a) | BankRequest::PreAuth(a) => Some(&a.pan),
            BankRequest::Reversal(r) => r.pan.as_ref(),
            BankRequest::Completion(c) => c.pan.as_ref(),
            BankRequest::Release(r) => r.pan.as_ref(),
            _ => None,
        }
    }

    /// A short name for logs: `0100`, `0200`, `0220`, `0400`, `0500`, `0800`.
    pub fn name(&self) -> &'static str {
        match self {
            BankRequest::Auth(_) => "0200",
            BankRequest::Reversal(_) | BankRequest::Release(_) => "0400",
            BankRequest::Reconcile(_) => "0500",
            BankRequest::Echo { .. } => "0800",
            BankRequest::PreAuth(_) => "0100",
            BankRequest::Completion(_) => "0220",
        }
    }
}

/// The bank's answer (0110, 0210, 0230, 0410, 0510, 0810) as the driver decoded it. What it means is
/// decided by [`ResponseCode::meaning`], nowhere else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankAnswer {
    /// Message type, e.g. 210.
    pub mti: u16,
    /// Trace number (field 11).
    pub stan: u32,
    /// Response code (field 39).
    pub code: ResponseCode,
    /// Approval code (field 38), when the bank sent one. Never made up.
    pub approval: Option<ApprovalCode>,
    /// Amount (field 4): for a partial approval (`10`), what was approved.
    pub amount: Option<Money>,
    /// Issuer EMV data (field 55).
    pub emv: EmvData,
}

/// Why a bank exchange gave no usable answer, from the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BankFailure {
    /// The message was certainly not sent (the link was down or the write failed before any
    /// byte left).
    NotSent,
    /// The connection broke after the message was sent: the bank may have it.
    Lost,
    /// An answer came whose message authentication code does not verify: it is no answer,
    /// and the bank may have approved.
    BadMac,
    /// Bytes came that are not a well-formed answer (the link is out of step).
    Malformed,
}

impl BankFailure {
    /// Whether the bank may have received (and approved) the message, so a reversal is owed.
    pub fn maybe_delivered(self) -> bool {
        !matches!(self, BankFailure::NotSent)
    }

    /// A lower-case name for logs.
    pub fn name(self) -> &'static str {
        match self {
            BankFailure::NotSent => "not-sent",
            BankFailure::Lost => "lost",
            BankFailure::BadMac => "bad-mac",
            BankFailure::Malformed => "malformed",
        }
    }
}

/// What the driver must do on the bank link, from [`super::Terminal::poll_bank`].
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankCommand {
    /// Send this message.
    Send(BankRequest),
    /// Drop the connection and connect again (with backoff): the link is out of step (an
    /// answer for nothing pending, a failed echo). Every message still in flight is then
    /// reported with [`super::Terminal::handle_bank_failure`] as [`BankFailure::Lost`].
    Reconnect,
}
