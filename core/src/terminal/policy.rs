//! Who may ask for what: which requests a till may start at all and the largest amounts it
//! may ask to move, checked before a card is read or anything is sent to the bank.

use crate::txn::{Request, RequestKind};

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
}

/// The terminal's policy for what tills may ask.
///
/// The defaults refuse nothing but cap amounts: a sale (cashback included) or a refund of at
/// most 100 000.00, cash back of at most 1 000.00, in minor units of the request's currency
/// (10 000 000 and 100 000). A request over a limit is refused before the card is read.
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
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            refused: KindSet::EMPTY,
            max_sale: Some(10_000_000),
            max_cashback: Some(100_000),
            max_refund: Some(10_000_000),
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
}

impl Refusal {
    /// The text the till is told.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not allowed by the terminal's policy",
            Refusal::OverLimit => "amount over the terminal's limit",
        }
    }
}

impl Policy {
    /// Whether a till may make `request`.
    pub fn check(&self, request: &Request) -> Result<(), Refusal> {
        if self.refused.contains(request.kind()) {
            return Err(Refusal::NotAllowed);
        }
        let over = |minor: u64, limit: Option<u64>| limit.is_some_and(|l| minor > l);
        let fails = match request {
            Request::Sale { amount, .. } => over(amount.minor(), self.max_sale),
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
