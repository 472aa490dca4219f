//! What a till asks the terminal.

use core::fmt;

use heapless::String;
use serde::{Deserialize, Serialize};

use super::{Amount, Money};
use crate::{Error, Result};

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $cap:literal, $serde_ty:literal, $err_len:expr, $err_char:expr, $ok:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[serde(try_from = $serde_ty, into = $serde_ty)]
        pub struct $name(String<{ $cap }>);

        impl $name {
            /// Maximum length in characters.
            pub const CAPACITY: usize = $cap;

            /// Validates and copies `text`.
            pub fn new(text: &str) -> Result<Self> {
                if text.is_empty() || text.len() > $cap {
                    return Err($err_len);
                }
                let ok: fn(u8) -> bool = $ok;
                if !text.bytes().all(ok) {
                    return Err($err_char);
                }
                let mut s = String::new();
                s.push_str(text).map_err(|_| $err_len)?;
                Ok($name(s))
            }

            /// [`Self::new`] from bytes (the same checks; a byte that is not ASCII fails them
            /// too), without a UTF-8 check: for codecs that read text fields off the wire.
            #[allow(dead_code)]
            pub(crate) fn from_ascii(bytes: &[u8]) -> Result<Self> {
                if bytes.is_empty() || bytes.len() > $cap {
                    return Err($err_len);
                }
                let ok: fn(u8) -> bool = $ok;
                if !bytes.iter().all(|&b| b.is_ascii() && ok(b)) {
                    return Err($err_char);
                }
                let mut s = String::new();
                for &b in bytes {
                    // ASCII (checked above): one byte each, never more than $cap in all.
                    s.push(char::from(b & 0x7F)).map_err(|_| $err_len)?;
                }
                Ok($name(s))
            }

            /// Whether [`Self::from_ascii`] takes `bytes` (checked without building the value).
            #[allow(dead_code)]
            pub(crate) fn is_valid_ascii(bytes: &[u8]) -> bool {
                let ok: fn(u8) -> bool = $ok;
                !bytes.is_empty() && bytes.len() <= $cap && bytes.iter().all(|&b| b.is_ascii() && ok(b))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String<{ $cap }>> for $name {
            type Error = Error;
            fn try_from(s: String<{ $cap }>) -> Result<Self> {
                $name::new(&s)
            }
        }

        impl From<$name> for String<{ $cap }> {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text!(
    /// A till's reference for a transaction (variable symbol, invoice number): 1–20 printable
    /// ASCII characters (the ČSOB reference field holds 20, ISO 8583 field 37 twelve).
    Reference,
    20,
    "String<20>",
    Error::ReferenceTooLong,
    Error::ReferenceInvalid,
    |b| (0x20..0x7f).contains(&b)
);

bounded_text!(
    /// An approval (authorization / verification) code: 1–8 ASCII letters or digits
    /// (ISO 8583 field 38 carries six).
    ApprovalCode,
    8,
    "String<8>",
    Error::ApprovalCodeInvalid,
    Error::ApprovalCodeInvalid,
    |b| b.is_ascii_alphanumeric()
);

bounded_text!(
    /// A terminal identifier: 1–8 printable ASCII characters (ISO 8583 field 41 is ans8).
    TerminalId,
    8,
    "String<8>",
    Error::TerminalIdInvalid,
    Error::TerminalIdInvalid,
    |b| (0x21..0x7f).contains(&b)
);

/// A till's request. Amount-carrying variants are validated on construction of [`Money`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request {
    /// Payment of `amount`.
    Sale {
        /// Amount to charge.
        amount: Money,
        /// Till's reference (variable symbol).
        reference: Option<Reference>,
    },
    /// Payment of `amount` (goods + cashback) of which `cashback` is paid out in cash.
    SaleWithCashback {
        /// Total charged to the card, cashback included.
        amount: Money,
        /// Cash handed out, in the same currency; less than `amount`.
        cashback: Amount,
        /// Till's reference.
        reference: Option<Reference>,
    },
    /// Reversal (void) of the last transaction, identified by its approval code and amount.
    Reversal {
        /// Amount of the transaction to reverse.
        amount: Money,
        /// Approval (verification) code of the transaction to reverse.
        code: ApprovalCode,
        /// Till's reference.
        reference: Option<Reference>,
    },
    /// Reversal (void) of any approved payment of the open batch, named by its receipt
    /// number: its trace number modulo 10 000, as ZVT tills name it (`06 30` with BMP `87`).
    /// The payment application finds it; one that is not there, or already reversed, is
    /// refused with [`super::FailReason::NoMatchingTransaction`].
    ReversalByReceipt {
        /// The receipt number, 0–9999.
        receipt: u16,
    },
    /// Refund of `amount` to the card.
    Refund {
        /// Amount credited to the card.
        amount: Money,
        /// Till's reference.
        reference: Option<Reference>,
    },
    /// Close totals (end of day): reconcile with the bank and reset the batch.
    CloseTotals,
    /// Subtotals: the totals of the open batch so far. Nothing is closed, reconciled or reset.
    Subtotals,
    /// Last sums: the totals of the last closed batch, as they were reconciled.
    LastSums,
    /// Check that the terminal answers (no bank involved).
    TestTerminal,
    /// Check the terminal's connection to the bank.
    TestBank,
    /// Print the last receipt again.
    Reprint,
    /// Status of the last transaction.
    LastTransaction,
    /// Abort the transaction waiting for a card.
    Abort,
    /// Pre-authorisation: reserve `amount` on the card (ISO 8583 0100, authorisation only);
    /// nothing is charged until the reservation is booked ([`Request::BookTotal`],
    /// [`Request::PartialReversal`]) or released ([`Request::PreAuthReversal`]). ZVT `06 22`.
    Reservation {
        /// The most the card may be charged.
        amount: Money,
    },
    /// Books the final `amount` (at most the reserved one) of the open batch's reservation
    /// named by its receipt number; the rest is released (ISO 8583 0220 completion). ZVT
    /// `06 24`.
    BookTotal {
        /// The reservation's receipt number, 0–9999.
        receipt: u16,
        /// What is charged.
        amount: Money,
    },
    /// Releases `amount` of the reservation named by its receipt number and books the rest
    /// (ZVT `06 23`: PA00P015 §2.10 "releases the unused amount"; an EV charger sends the
    /// reserved amount less what was charged). On the bank link a 0400 partial reversal
    /// whose field 95 carries the amount that stays.
    PartialReversal {
        /// The reservation's receipt number, 0–9999.
        receipt: u16,
        /// What is released (given back to the card), less than the reserved amount.
        amount: Money,
    },
    /// Releases the whole reservation named by its receipt number (ZVT `06 25`; a 0400 full
    /// reversal of the 0100).
    PreAuthReversal {
        /// The reservation's receipt number, 0–9999.
        receipt: u16,
    },
}

/// The kind of a [`Request`], without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RequestKind {
    /// [`Request::Sale`].
    Sale,
    /// [`Request::SaleWithCashback`].
    SaleWithCashback,
    /// [`Request::Reversal`].
    Reversal,
    /// [`Request::Refund`].
    Refund,
    /// [`Request::CloseTotals`].
    CloseTotals,
    /// [`Request::Subtotals`].
    Subtotals,
    /// [`Request::LastSums`].
    LastSums,
    /// [`Request::TestTerminal`].
    TestTerminal,
    /// [`Request::TestBank`].
    TestBank,
    /// [`Request::Reprint`].
    Reprint,
    /// [`Request::LastTransaction`].
    LastTransaction,
    /// [`Request::Abort`].
    Abort,
    /// [`Request::Reservation`]. (Appended: older journals keep their numbers.)
    Reservation,
    /// [`Request::BookTotal`].
    BookTotal,
    /// [`Request::PartialReversal`].
    PartialReversal,
    /// [`Request::PreAuthReversal`].
    PreAuthReversal,
}

impl RequestKind {
    /// A lower-case name (`sale`, `cashback`, `reversal`, …) for logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Sale => "sale",
            RequestKind::SaleWithCashback => "cashback",
            RequestKind::Reversal => "reversal",
            RequestKind::Refund => "refund",
            RequestKind::CloseTotals => "close-totals",
            RequestKind::Subtotals => "subtotals",
            RequestKind::LastSums => "last-sums",
            RequestKind::TestTerminal => "test-terminal",
            RequestKind::TestBank => "test-bank",
            RequestKind::Reprint => "reprint",
            RequestKind::LastTransaction => "last",
            RequestKind::Abort => "abort",
            RequestKind::Reservation => "reservation",
            RequestKind::BookTotal => "book-total",
            RequestKind::PartialReversal => "partial-reversal",
            RequestKind::PreAuthReversal => "pre-auth-reversal",
        }
    }

    /// Whether the kind answers with [`super::Totals`]: close totals, subtotals, last sums.
    pub fn reports_totals(self) -> bool {
        matches!(
            self,
            RequestKind::CloseTotals | RequestKind::Subtotals | RequestKind::LastSums
        )
    }

    /// Whether the kind moves money (and so is authorized at the bank and journaled).
    pub fn moves_money(self) -> bool {
        matches!(
            self,
            RequestKind::Sale
                | RequestKind::SaleWithCashback
                | RequestKind::Reversal
                | RequestKind::Refund
                | RequestKind::Reservation
                | RequestKind::BookTotal
                | RequestKind::PartialReversal
                | RequestKind::PreAuthReversal
        )
    }

    /// Whether the kind acts on a reservation (pre-authorisation): reserve, book, release.
    pub fn is_pre_auth(self) -> bool {
        matches!(
            self,
            RequestKind::Reservation
                | RequestKind::BookTotal
                | RequestKind::PartialReversal
                | RequestKind::PreAuthReversal
        )
    }
}

impl Request {
    /// A sale with cashback; the cashback must be less than the total.
    pub fn sale_with_cashback(
        amount: Money,
        cashback: Amount,
        reference: Option<Reference>,
    ) -> Result<Self> {
        if cashback >= amount.amount {
            return Err(Error::AmountTooLarge);
        }
        Ok(Request::SaleWithCashback {
            amount,
            cashback,
            reference,
        })
    }

    /// The kind of the request.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Sale { .. } => RequestKind::Sale,
            Request::SaleWithCashback { .. } => RequestKind::SaleWithCashback,
            Request::Reversal { .. } | Request::ReversalByReceipt { .. } => RequestKind::Reversal,
            Request::Refund { .. } => RequestKind::Refund,
            Request::CloseTotals => RequestKind::CloseTotals,
            Request::Subtotals => RequestKind::Subtotals,
            Request::LastSums => RequestKind::LastSums,
            Request::TestTerminal => RequestKind::TestTerminal,
            Request::TestBank => RequestKind::TestBank,
            Request::Reprint => RequestKind::Reprint,
            Request::LastTransaction => RequestKind::LastTransaction,
            Request::Abort => RequestKind::Abort,
            Request::Reservation { .. } => RequestKind::Reservation,
            Request::BookTotal { .. } => RequestKind::BookTotal,
            Request::PartialReversal { .. } => RequestKind::PartialReversal,
            Request::PreAuthReversal { .. } => RequestKind::PreAuthReversal,
        }
    }

    /// The money the request moves, if any.
    pub fn amount(&self) -> Option<Money> {
        match self {
            Request::Sale { amount, .. }
            | Request::SaleWithCashback { amount, .. }
            | Request::Reversal { amount, .. }
            | Request::Refund { amount, .. }
            | Request::Reservation { amount }
            | Request::BookTotal { amount, .. }
            | Request::PartialReversal { amount, .. } => Some(*amount),
            _ => None,
        }
    }

    /// The receipt number a request on a reservation names.
    pub fn receipt(&self) -> Option<u16> {
        match self {
            Request::BookTotal { receipt, .. }
            | Request::PartialReversal { receipt, .. }
            | Request::PreAuthReversal { receipt }
            | Request::ReversalByReceipt { receipt } => Some(*receipt),
            _ => None,
        }
    }

    /// The till's reference, if any.
    pub fn reference(&self) -> Option<&Reference> {
        match self {
            Request::Sale { reference, .. }
            | Request::SaleWithCashback { reference, .. }
            | Request::Reversal { reference, .. }
            | Request::Refund { reference, .. } => reference.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::Currency;

    /// `from_ascii` (the codecs' byte path) agrees with `new` on every input, including
    /// bytes that are not ASCII (they fail its checks, as `new` fails on them).
    #[test]
    fn from_ascii_agrees_with_new() {
        for text in [
            "2024000123",
            "",
            "123456789012345678901",
            "ab\u{1}",
            "INV-7",
            "é",
            "x y",
        ] {
            assert_eq!(
                Reference::from_ascii(text.as_bytes()),
                Reference::new(text),
                "{text:?}"
            );
        }
        assert_eq!(
            Reference::from_ascii(&[b'a', 0xC3]),
            Err(Error::ReferenceInvalid)
        );
    }

    #[test]
    fn texts_validate() {
        assert!(Reference::new("2024000123").is_ok());
        assert_eq!(Reference::new(""), Err(Error::ReferenceTooLong));
        assert_eq!(
            Reference::new("123456789012345678901"),
            Err(Error::ReferenceTooLong)
        );
        assert_eq!(Reference::new("ab\u{1}"), Err(Error::ReferenceInvalid));
        assert_eq!(ApprovalCode::new("A1B2C3").unwrap().as_str(), "A1B2C3");
        assert_eq!(ApprovalCode::new("A1 B2"), Err(Error::ApprovalCodeInvalid));
        assert_eq!(TerminalId::new("123456789"), Err(Error::TerminalIdInvalid));
    }

    #[test]
    fn cashback_must_be_less_than_total() {
        let total = Money::new(1000, Currency::CZK).unwrap();
        assert!(Request::sale_with_cashback(total, Amount::new(999).unwrap(), None).is_ok());
        assert_eq!(
            Request::sale_with_cashback(total, Amount::new(1000).unwrap(), None),
            Err(Error::AmountTooLarge)
        );
    }
}
