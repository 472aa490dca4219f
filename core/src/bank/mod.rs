//! The acquirer (bank) link: ISO 8583:1987, ASCII variant, over TCP with a 2-byte length
//! prefix.
//!
//! - [`IsoMessage`]: the field-level codec (MTI, bitmaps, fields of [`FIELDS`]), `parse` and
//!   `emit` into a caller buffer. Any standard ISO 8583 library using the 1987 ASCII field
//!   formats reads what it writes and writes what it reads (tested byte for byte against
//!   pyiso8583's `default_ascii` spec). Field 55 travels as upper-case hex characters with an
//!   LLL prefix counting characters — the convention of ASCII specs such as pyiso8583's.
//! - Typed messages ([`AuthorizationRequest`], [`AuthorizationResponse`], [`ReversalRequest`],
//!   [`ReversalResponse`], [`ReconciliationRequest`], [`ReconciliationResponse`],
//!   [`NetworkRequest`], [`NetworkResponse`], or [`BankMessage`] for any of them), built from
//!   and into an [`IsoMessage`].
//! - [`framing`]: the length prefix and a fixed-capacity [`framing::Accumulator`].
//! - [`mac`]: the message authentication code (field 64 / 128) every message carries when
//!   the terminal has a [`MacKey`]: a documented test scheme, HMAC-SHA-256 truncated to 8
//!   bytes.
//! - [`cryptogram`]: the application cryptogram (`9F26`) of the virtual cards and its check
//!   by the issuer: a documented test scheme, HMAC-SHA-256 under a per-card key.
//!
//! Only this link carries a full card number (field 2, [`crate::txn::Pan`]); every `Debug`
//! and `Display` here masks it.
//!
//! ```
//! use ecrlink_core::bank::{IsoMessage, MonthDayTime, NetworkRequest, framing};
//! let echo = NetworkRequest::echo(1, MonthDayTime::new(11, 25, 17, 13, 0)?);
//! let mut buf = [0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
//! let n = echo.to_message()?.emit_prefixed(&mut buf)?;
//! assert_eq!(&buf[2..n], b"0800822000000000000004000000000000001125171300000001301");
//! let mut acc = framing::Accumulator::<{ framing::MAX_MESSAGE_LEN }>::new();
//! let (feed, _) = acc.feed(&buf[..n]);
//! let framing::Feed::Message(bytes) = feed? else { unreachable!() };
//! assert_eq!(NetworkRequest::from_message(&IsoMessage::parse(bytes)?)?, echo);
//! # Ok::<(), ecrlink_core::Error>(())
//! ```

pub mod cryptogram;
mod field;
pub mod framing;
pub mod mac;
mod message;
mod messages;
mod types;

pub use field::{Charset, FIELDS, FieldSpec, Length, lookup};
pub use mac::MacKey;
pub use message::{IsoMessage, Mti};
pub use messages::{
    AuthorizationRequest, AuthorizationResponse, BankMessage, BatchTotals, CompletionAdvice,
    CompletionResponse, NetworkRequest, NetworkResponse, ReconciliationRequest,
    ReconciliationResponse, ReversalRequest, ReversalResponse,
};
pub use types::{
    CodeMeaning, Expiry, MerchantId, MonthDayTime, NetworkCode, OriginalData, POS_CONDITION_NORMAL,
    PosEntryMode, ProcessingCode, ProcessingKind, ResponseCode, Rrn,
};

#[cfg(test)]
mod tests;
