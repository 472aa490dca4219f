//! Who may ask for what: which requests a till may start at all, which need the merchant's
//! PIN on the terminal ([`super::confirm`]), and the largest amounts it may ask to move per
//! transaction and per business day, checked before a card is read or anything is sent to the
//! bank.

use core::time::Duration;

use heapless::Vec;

use super::confirm::{DEFAULT_LOCK, DEFAULT_TRIES, PinHash};
use crate::journal::RecordRef;
use crate::txn::{Request, RequestKind, Timestamp};

/// A set of request kinds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KindSet(u16);

impl KindSet {
    /// No kind.
    pub const EMPTY: KindSet = KindSet(0);

    fn bit(kind: RequestKind) -> u16 {
        1 << (kind as u16)
    }

    /// This set with `kind` added.
    #[must_use]
    pub fn with(self, kind: RequestKind) -> Self {
        KindSet(self.0 | Self::bit(kind))
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: RequestKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The operations that undo or settle the merchant's money and so need the merchant's PIN
    /// by default in the agent: refund, reversal, close totals.
    pub const MERCHANT_DEFAULT: KindSet = KindSet(
        (1 << (RequestKind::Refund as u16))
            | (1 << (RequestKind::Reversal as u16))
            | (1 << (RequestKind::CloseTotals as u16)),
    );
}

/// The terminal's policy for what tills may ask.
///
/// The defaults refuse nothing but cap amounts: a sale (cashback included) or a refund of at
/// most 100 000.00, cash back of at most 1 000.00, in minor units of the request's currency
/// (10 000 000 and 100 000), and no per-day limit. A request over a limit is refused before
/// the card is read. The library asks for no merchant confirmation by default
/// (`confirm` empty); the agent asks it for [`KindSet::MERCHANT_DEFAULT`]. An operation that
/// needs confirmation while no `merchant_pin` is set is refused ([`Refusal::NoMerchantPin`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Policy {
    /// Requests a till may not start at all (answered "not supported").
    pub refused: KindSet,
    /// Largest sale or sale-with-cashback total, in minor units; `None`: no limit.
    pub max_sale: Option<u64>,
    /// Largest cash back, in minor units; `None`: no limit.
    pub max_cashback: Option<u64>,
    /// Largest refund, in minor units; `None`: no limit.
    pub max_refund: Option<u64>,
    /// Operations that need the merchant's PIN on the terminal before they go on.
    pub confirm: KindSet,
    /// The merchant PIN's hash; `None`: operations in `confirm` are refused.
    pub merchant_pin: Option<PinHash>,
    /// Wrong merchant PINs in a row that lock the operation (3).
    pub confirm_tries: u8,
    /// How long a locked operation stays locked (5 minutes).
    pub confirm_lock: Duration,
    /// Largest sum of approved sales (cashback sales' totals included) in one business day
    /// and currency, in minor units; `None`: no limit.
    pub max_sale_day: Option<u64>,
    /// Largest sum of cash back paid out in one business day and currency; `None`: no limit.
    pub max_cashback_day: Option<u64>,
    /// Largest sum of approved refunds in one business day and currency; `None`: no limit.
    pub max_refund_day: Option<u64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            refused: KindSet::EMPTY,
            max_sale: Some(10_000_000),
            max_cashback: Some(100_000),
            max_refund: Some(10_000_000),
            confirm: KindSet::EMPTY,
            merchant_pin: None,
            confirm_tries: DEFAULT_TRIES,
            confirm_lock: DEFAULT_LOCK,
            max_sale_day: None,
            max_cashback_day: None,
            max_refund_day: None,
        }
    }
}

/// Why the policy refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// The till may not start this kind of request.
    NotAllowed,
    /// The amount is over the limit.
    OverLimit,
    /// The amount would take the day's sum over the per-day limit.
    OverDayLimit,
    /// The operation needs the merchant's PIN and none is configured.
    NoMerchantPin,
    /// The merchant PIN typed on the terminal was wrong.
    WrongMerchantPin,
    /// Too many wrong merchant PINs: the operation is locked for a while.
    Locked,
    /// The merchant cancelled, or did not type the PIN in time.
    NotConfirmed,
}

impl Refusal {
    /// The text the till is told.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not allowed by the terminal's policy",
            Refusal::OverLimit => "amount over the terminal's limit",
            Refusal::OverDayLimit => "amount over the terminal's daily limit",
            Refusal::NoMerchantPin => "needs the merchant PIN: none is configured",
            Refusal::WrongMerchantPin => "wrong merchant PIN",
            Refusal::Locked => "locked after wrong merchant PINs: try later",
            Refusal::NotConfirmed => "not confirmed by the merchant",
        }
    }
}

impl Policy {
    /// Whether a till may make `request` (per-transaction limits; the per-day ones are
    /// [`Policy::check_day`]).
    pub fn check(&self, request: &Request) -> Result<(), Refusal> {
        if self.refused.contains(request.kind()) {
            return Err(Refusal::NotAllowed);
        }
        if self.confirm.contains(request.kind()) && self.merchant_pin.is_none() {
            return Err(Refusal::NoMerchantPin);
        }
        let over = |minor: u64, limit: Option<u64>| limit.is_some_and(|l| minor > l);
        let fails = match request {
            // A reservation may become a sale of that much: the sale's cap.
            Request::Sale { amount, .. } | Request::Reservation { amount } => {
                over(amount.minor(), self.max_sale)
            }
            Request::SaleWithCashback {
                amount, cashback, ..
            } => over(amount.minor(), self.max_sale) || over(cashback.minor(), self.max_cashback),
            Request::Refund { amount, .. } => over(amount.minor(), self.max_refund),
            _ => false,
        };
        if fails {
            return Err(Refusal::OverLimit);
        }
        Ok(())
    }
}

impl Policy {
    /// Whether `request`, made at `wall`, stays within the per-day limits given what `day`
    /// has approved already.
    pub fn check_day(
        &self,
        request: &Request,
        day: &DayTotals,
        wall: Timestamp,
    ) -> Result<(), Refusal> {
        let Some(amount) = request.amount() else {
            return Ok(());
        };
        let used = day.used(wall, amount.currency.numeric());
        let over = |sum: u64, add: u64, limit: Option<u64>| {
            limit.is_some_and(|l| sum.saturating_add(add) > l)
        };
        let fails = match request {
            // A reservation may become a sale of that much: it counts as one.
            Request::Sale { amount, .. } | Request::Reservation { amount } => {
                over(used.sale, amount.minor(), self.max_sale_day)
            }
            Request::SaleWithCashback {
                amount, cashback, ..
            } => {
                over(used.sale, amount.minor(), self.max_sale_day)
                    || over(used.cashback, cashback.minor(), self.max_cashback_day)
            }
            Request::Refund { amount, .. } => {
                over(used.refund, amount.minor(), self.max_refund_day)
            }
            _ => false,
        };
        if fails {
            return Err(Refusal::OverDayLimit);
        }
        Ok(())
    }
}

/// What one business day has approved in one currency, in minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DayLine {
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// Sales and cashback sales (their totals).
    pub sale: u64,
    /// Cash back paid out.
    pub cashback: u64,
    /// Refunds.
    pub refund: u64,
}

/// Currencies one business day keeps apart.
pub const DAY_CURRENCIES: usize = 4;

/// The sums the per-day limits count: approved sales (reservations at their reserved amount),
/// cash back and refunds of one business day (the calendar date of the terminal's wall time),
/// per currency. It folds completed
/// records ([`DayTotals::fold`]): the terminal folds each one it makes durable, and a driver
/// that restarts rebuilds the day by folding the journal's records. A reversal does not give
/// the amount back (a limit stays on the safe side). A new date starts from zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayTotals {
    date: Option<(u16, u8, u8)>,
    lines: Vec<DayLine, DAY_CURRENCIES>,
}

fn date_of(t: Timestamp) -> (u16, u8, u8) {
    (t.year, t.month, t.day)
}

impl DayTotals {
    /// Nothing approved yet.
    pub fn new() -> Self {
        DayTotals::default()
    }

    /// The day these sums are for, as (year, month, day).
    pub fn date(&self) -> Option<(u16, u8, u8)> {
        self.date
    }

    /// The sums per currency.
    pub fn lines(&self) -> &[DayLine] {
        &self.lines
    }

    /// What the business day of `wall` has used in `currency` (zero on another day).
    pub fn used(&self, wall: Timestamp, currency: u16) -> DayLine {
        if self.date != Some(date_of(wall)) {
            return DayLine {
                currency,
                ..DayLine::default()
            };
        }
        self.lines
            .iter()
            .find(|l| l.currency == currency)
            .copied()
            .unwrap_or(DayLine {
                currency,
                ..DayLine::default()
            })
    }

    /// Adds `line` to the day of `date` (a later date starts again; an earlier one is
    /// ignored). A fifth currency in a day shares the last line (its sums only grow).
    pub fn add(&mut self, date: (u16, u8, u8), line: DayLine) {
        match self.date {
            Some(d) if d > date => return,
            Some(d) if d == date => {}
            _ => {
                self.date = Some(date);
                self.lines.clear();
            }
        }
        let i = match self.lines.iter().position(|l| l.currency == line.currency) {
            Some(i) => i,
            None => {
                let new = DayLine {
                    currency: line.currency,
                    ..DayLine::default()
                };
                match self.lines.push(new) {
                    Ok(()) => self.lines.len() - 1,
                    Err(_) => self.lines.len().saturating_sub(1),
                }
            }
        };
        if let Some(l) = self.lines.get_mut(i) {
            l.sale = l.sale.saturating_add(line.sale);
            l.cashback = l.cashback.saturating_add(line.cashback);
            l.refund = l.refund.saturating_add(line.refund);
        }
    }

    /// Counts `record` (a `&`[`crate::journal::Record`] or a [`RecordRef`]) if it completes an
    /// approved sale, cashback sale or refund (stamped with its time).
    pub fn fold<'r>(&mut self, record: impl Into<RecordRef<'r>>) {
        let RecordRef::Completed { response, .. } = record.into() else {
            return;
        };
        if !response.outcome.is_approved() {
            return;
        }
        let (Some(amount), Some(at)) = (response.amount, response.timestamp) else {
            return;
        };
        let minor = amount.minor();
        let cashback = response.cashback.map_or(0, |c| c.minor());
        let line = match response.kind {
            // A reservation counts at the amount it holds; its booking or release gives
            // nothing back (the safe side, as with reversals), and is not counted again.
            RequestKind::Sale | RequestKind::Reservation => DayLine {
                sale: minor,
                ..DayLine::default()
            },
            RequestKind::SaleWithCashback => DayLine {
                sale: minor,
                cashback,
                ..DayLine::default()
            },
            RequestKind::Refund => DayLine {
                refund: minor,
                ..DayLine::default()
            },
            _ => return,
        };
        self.add(
            date_of(at),
            DayLine {
                currency: amount.currency.numeric(),
                ..line
            },
        );
    }
}
