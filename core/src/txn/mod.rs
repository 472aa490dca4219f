//! The transaction model every dialect maps to: what a till asks ([`Request`]), what the
//! terminal answers ([`Response`] with its [`Outcome`]), exact money ([`Money`]) and card data
//! that is safe to show ([`MaskedPan`]).
//!
//! Constructors validate: a value of these types is always one a dialect may carry.

mod card;
mod money;
mod request;
mod response;

pub use card::{CardScheme, EntryMode, MaskedPan, Pan};
pub use money::{Amount, Currency, Money};
pub use request::{ApprovalCode, Reference, Request, RequestKind, TerminalId};
pub use response::{
    CurrencyTotals, DeclineCode, EmvData, FailReason, Outcome, Response, SchemeTotals, Timestamp,
    Totals,
};
