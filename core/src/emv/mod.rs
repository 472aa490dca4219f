//! EMV BER-TLV data (EMV Book 3, Annex B; ISO/IEC 8825-1 BER as EMV restricts it): parse,
//! emit, the tags a receipt shows, and a pretty-printer for logs and receipts.
//!
//! - [`TlvIter`] is a zero-copy iterator over one level of `&[u8]`; [`Tlv::children`] opens a
//!   constructed template one level down, at most [`MAX_DEPTH`] levels in all.
//! - [`find`] searches a whole tree for a tag, [`walk`] visits every object depth first,
//!   [`validate`] checks a whole tree.
//! - [`emit`] writes a tree of [`Node`]s, [`normalize`] re-encodes parsed data canonically; both
//!   into a caller buffer, and a too-small buffer is [`Error::BufferTooSmall`](crate::Error::BufferTooSmall) with the buffer
//!   untouched.
//! - [`redact`] drops the card number, track data, cardholder name and PIN data
//!   ([`SENSITIVE_TAGS`]) from what leaves the bank link.
//! - [`ReceiptTags`] collects AID, TVR, IAD, TSI, ARC, label, ATC, AC and CVM results in one pass.
//! - [`write_pretty`] prints a tree, one object per line, with the card number masked and
//!   track data redacted ([`ValueDisplay`]); [`MaskedHex`] is the raw hex with the same
//!   values starred, for frame logs.
//!
//! What the parser accepts: tags of 1–4 bytes, definite lengths in short form or long form
//! with 1–4 length bytes (`81`..`84`; non-minimal long forms such as `81 05` are accepted as
//! cards send them, [`emit`] always writes the minimal form), `00` padding bytes before,
//! between and after objects (EMV Book 3 Annex B allows them; they are skipped). Indefinite
//! lengths (`80`) and lengths past the end of the data are errors. Nothing panics on any input.
//!
//! ```
//! use ecrlink_core::emv::{self, Tag};
//! let data = [0x70, 0x0B, 0x9F, 0x36, 0x02, 0x00, 0x2A, 0x50, 0x04, b'V', b'I', b'S', b'A'];
//! assert_eq!(emv::find(&data, Tag::ATC).unwrap(), Some(&[0x00, 0x2A][..]));
//! let tags = emv::ReceiptTags::from_tlv(&data).unwrap();
//! assert_eq!(tags.label_text(), Some("VISA"));
//! ```

mod emit;
mod parse;
mod pretty;
mod receipt;
mod redact;
mod tag;

pub use emit::{Node, emit, emit_primitive, encoded_len, header_len, normalize};
pub use parse::{Tlv, TlvIter, find, parse, validate, walk};
pub use pretty::{MaskedHex, ValueDisplay, write_pretty};
pub use receipt::ReceiptTags;
pub use redact::{SENSITIVE_TAGS, is_sensitive, redact};
pub use tag::Tag;

/// The deepest nesting of constructed templates the parser follows: objects at the top level
/// are at depth 0, so a tree may have at most this many levels. Real card data nests 2–3
/// levels (`77` → `9F10`, `6F` → `A5` → `BF0C` → …). Deeper data is [`crate::Error::TlvTooDeep`];
/// the limit also bounds the recursion of [`walk`], [`emit`] and [`write_pretty`].
pub const MAX_DEPTH: usize = 8;

#[cfg(test)]
mod tests;
