//! Typed messages B0–B4: parse from a frame payload, emit a whole frame into a caller buffer.
//!
//! Frame: `STX` + 36-character [`Header`] + data + `ETX`, nothing after ETX (the public
//! client's `bytesToMessage` cuts a message from STX to ETX inclusive; over TCP there is no LRC).
//! Data: fields `FS tag value` (see [`super::fields`]).
//!
//! Field order written (the parser accepts any order, first occurrence wins):
//! - B1: `T`, `F`, `B`, `C`, `9`(`S`), `E` — a sale is `T00 B… 9S… E203` and a reversal
//!   `T10 F…` exactly as `Payment.java` writes them. The parser also takes a reference sent
//!   as a plain `S` field, as `Payment.java` sends one of fewer than ten characters;
//! - amounts (`B`, `C`) are written with at least three digits (`B005`), as `Payment.java`
//!   writes them and as its reader needs them;
//! - B2: `T`, `R` first (the older `Response.java` reads block 1 as T and block 2 as R), then
//!   `F`, `B`, `C`, `E`, `9`(`S`), `P`, `M`, `N`, `K`, `g`, `Y`…, `Z`…;
//! - B3: `9`(`t`);
//! - B4: one `T` field per receipt line (`T` + attribute digit + text; the public client reads
//!   lines starting `T0`…`T3` and drops those two characters), then `t1` if another part follows.
//!
//! Text fields (`g`, receipt lines) are the bytes before the first GS, decoded from ISO-8859-2;
//! anything after a GS in them is not text and is not kept.
//!
//! *ecrlink conventions* (not in the public source; the public client neither sends nor reads
//! them, and its reader skips a field whose tag it does not know): cashback amount `C`; masked
//! PAN `P`; entry mode `M` (`chip`, `contactless`, `swipe`, `manual`); trace number `N`; in a
//! T82 answer the T code of the transaction it describes, `K` (the public client's T82 answer
//! repeats `T82` and carries only `R`, `B` and the reference it compares, so a till of a
//! terminal without the convention cannot tell a sale from a refund there); totals of a close
//! `Y` (per currency: sub-fields
//! `E` currency, `d`/`D` debit count/sum, `c`/`C` credit count/sum, `r` reversal count) and `Z`
//! (per scheme: `s` scheme name, `E` currency, `n` count, `N` signed net sum).

use heapless::String;

use super::codes::{Flags, MessageType, ReceiptSelector, ResultCode, TxnCode};
use super::fields::{Field, FieldsView, tag};
use super::header::{
    Counter, CrcPolicy, HEADER_LEN, Header, HeaderRef, LengthPolicy, Sink, SliceWriter,
    emit_header, parse_header,
};
use super::text;
use crate::link::control::{ETX, FS, GS, STX};
use crate::link::{Checksum, decode_frame};
use crate::session::RECEIPT_PART_CAPACITY;
use crate::txn::{
    Amount, ApprovalCode, CardScheme, CurrencyTotals, EntryMode, MaskedPan, Reference,
    SchemeTotals, Totals,
};
use crate::{Error, Result};

/// Largest frame (STX … ETX) this codec builds or the sessions accept: the size of
/// [`crate::session::MAX_TRANSMIT`].
pub const MAX_FRAME: usize = crate::session::MAX_TRANSMIT;
/// Largest payload (between STX and ETX).
pub const MAX_PAYLOAD: usize = MAX_FRAME - 2;
/// Capacity of the `g` response text (the size of [`crate::txn::Response::text`]).
pub const MESSAGE_TEXT_CAPACITY: usize = 64;
/// Capacity of a receipt part's text in UTF-8 ([`crate::session::RECEIPT_PART_CAPACITY`]).
pub const RECEIPT_TEXT_CAPACITY: usize = RECEIPT_PART_CAPACITY;
/// Attribute character written before each receipt line (`T0…`: plain text).
pub const RECEIPT_LINE_ATTRIBUTE: u8 = b'0';
/// Most digits of an amount field (the twelve of [`Amount::MAX_MINOR`]).
pub const AMOUNT_DIGITS: usize = 12;
/// Fewest digits an amount field is written with (zero-padded): `Payment.java` formats an
/// amount as `%.2f` without the point, so it always has at least three digits (`B005` for
/// 0.05), and the public client's reader (`getPrice` in `Response.java`) cuts the last two
/// digits off as the minor part, which fails on a shorter field such as `B5`.
pub const AMOUNT_MIN_DIGITS: usize = 3;

/// How to parse: what to do with the CRC and data-length fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParseOptions {
    /// CRC field policy (default [`CrcPolicy::Ignore`]).
    pub crc: CrcPolicy,
    /// Data-length policy (default [`LengthPolicy::Lenient`]).
    pub length: LengthPolicy,
}

/// B1: what the ECR asks. Amounts are minor units as on the wire; validation into
/// [`crate::txn`] types happens in the mapping ([`super::map`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TransactionRequest {
    /// `T`.
    pub code: TxnCode,
    /// `B`: amount in minor units (for a cashback sale: the total).
    pub amount: Option<u64>,
    /// `C`: cashback in minor units (ecrlink convention).
    pub cashback: Option<u64>,
    /// `E`: ISO 4217 numeric currency.
    pub currency: Option<u16>,
    /// `9`/`S`: the ECR's reference.
    pub reference: Option<Reference>,
    /// `F`: approval code of the transaction to reverse.
    pub approval_code: Option<ApprovalCode>,
}

impl TransactionRequest {
    /// A request of `code` with no fields but `T`.
    pub fn new(code: TxnCode) -> Self {
        TransactionRequest {
            code,
            amount: None,
            cashback: None,
            currency: None,
            reference: None,
            approval_code: None,
        }
    }
}

/// B2: the terminal's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TransactionResponse {
    /// `T`: the code of the request answered.
    pub code: TxnCode,
    /// `R`.
    pub result: ResultCode,
    /// `B`: amount in minor units.
    pub amount: Option<u64>,
    /// `C`: cashback in minor units (ecrlink convention).
    pub cashback: Option<u64>,
    /// `E`: ISO 4217 numeric currency.
    pub currency: Option<u16>,
    /// `9`/`S`: the reference, echoed.
    pub reference: Option<Reference>,
    /// `F`: approval code.
    pub approval_code: Option<ApprovalCode>,
    /// `P`: masked PAN (ecrlink convention).
    pub pan: Option<MaskedPan>,
    /// `M`: how the card was read (ecrlink convention).
    pub entry_mode: Option<EntryMode>,
    /// `N`: trace number of the bank exchange (ecrlink convention).
    pub trace: Option<u32>,
    /// `K`: in a T82 answer, the code of the transaction it describes (ecrlink convention).
    pub original: Option<TxnCode>,
    /// `g`: response message text.
    pub text: Option<String<MESSAGE_TEXT_CAPACITY>>,
    /// `Y`/`Z`: totals of a close (ecrlink convention).
    pub totals: Option<Totals>,
}

impl TransactionResponse {
    /// An answer with `code` and `result` and nothing else.
    pub fn new(code: TxnCode, result: ResultCode) -> Self {
        TransactionResponse {
            code,
            result,
            amount: None,
            cashback: None,
            currency: None,
            reference: None,
            approval_code: None,
            pan: None,
            entry_mode: None,
            trace: None,
            original: None,
            text: None,
            totals: None,
        }
    }
}

/// B3: a request for (a part of) a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TicketRequest {
    /// `9`/`t`: which copy, or the next part.
    pub selector: ReceiptSelector,
}

/// B4: one part of a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TicketResponse {
    /// The lines of this part joined by `\n` (UTF-8; ISO-8859-2 on the wire).
    pub text: String<RECEIPT_TEXT_CAPACITY>,
    /// `t1`: another part follows (ask with a B3 selecting [`ReceiptSelector::Next`]).
    pub more: bool,
}

/// What a message carries, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(clippy::large_enum_variant)]
pub enum Body {
    /// B0 (its fields, if any, are not kept).
    Activity,
    /// B0 from the terminal saying what it is doing (field `A`, [`tag::PROGRESS`]).
    Progress(crate::session::Progress),
    /// B1.
    Request(TransactionRequest),
    /// B2.
    Response(TransactionResponse),
    /// B3.
    TicketRequest(TicketRequest),
    /// B4.
    TicketResponse(TicketResponse),
}

impl Body {
    /// The message type of this body.
    pub fn message_type(&self) -> MessageType {
        match self {
            Body::Activity | Body::Progress(_) => MessageType::Activity,
            Body::Request(_) => MessageType::TransactionRequest,
            Body::Response(_) => MessageType::TransactionResponse,
            Body::TicketRequest(_) => MessageType::TicketRequest,
            Body::TicketResponse(_) => MessageType::TicketResponse,
        }
    }
}

/// A whole message. On emit the message type written is the body's and the length field is
/// the actual data length; the header's flags, terminal id, timestamp and CRC field are
/// written as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message {
    /// Header.
    pub header: Header,
    /// Fields, typed.
    pub body: Body,
}

/// A parsed header and the checked raw fields, before typing (what `decode` prints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageView<'a> {
    /// Header.
    pub header: Header,
    /// Fields as received.
    pub fields: FieldsView<'a>,
}

impl<'a> MessageView<'a> {
    /// Parses a payload (the bytes between STX and ETX).
    pub fn parse(payload: &'a [u8], opts: &ParseOptions) -> Result<Self> {
        let (header, data) = parse_header(payload, opts.crc, opts.length)?;
        Ok(MessageView {
            header,
            fields: FieldsView::new(data)?,
        })
    }
}

// ----- value parsers -----

/// The value of 1 to `max` ASCII digits.
fn digits(value: &[u8], max: usize, field: &'static str) -> Result<u64> {
    let err = Error::CsobField { field };
    if value.is_empty() || value.len() > max {
        return Err(err);
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(err);
        }
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(b - b'0')))
            .ok_or(err)
    })
}

/// Digits with an optional leading `-`.
fn signed(value: &[u8], field: &'static str) -> Result<i64> {
    let err = Error::CsobField { field };
    let (minus, rest) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    let n = digits(rest, 20, field)?;
    if minus {
        0i64.checked_sub_unsigned(n).ok_or(err)
    } else {
        i64::try_from(n).map_err(|_| err)
    }
}

fn u32_of(value: &[u8], field: &'static str) -> Result<u32> {
    u32::try_from(digits(value, 10, field)?).map_err(|_| Error::CsobField { field })
}

fn currency(value: &[u8], field: &'static str) -> Result<u16> {
    if value.len() != 3 {
        return Err(Error::CsobField { field });
    }
    u16::try_from(digits(value, 3, field)?).map_err(|_| Error::CsobField { field })
}

fn ascii<'a>(value: &'a [u8], field: &'static str) -> Result<&'a str> {
    core::str::from_utf8(value).map_err(|_| Error::CsobField { field })
}

/// The reference: the `9`/`S` sub-field, else a plain `S` field (how `Payment.java` sends a
/// reference shorter than ten characters).
// Text fields are typed from their bytes (`from_ascii`: a byte that is not printable ASCII is the
// type's own error), not through `str::from_utf8`, which with its 256-byte table costs firmware
// over 600 bytes of flash.
fn reference(f: &FieldsView<'_>) -> Result<Option<Reference>> {
    let sub = f
        .first(tag::SUB)
        .and_then(|nine| nine.subfield(tag::SUB_REFERENCE))
        .filter(|v| !v.is_empty());
    if let Some(v) = sub {
        return Reference::from_ascii(v).map(Some);
    }
    match f.first(tag::REFERENCE).map(|x| x.value) {
        None | Some(b"") => Ok(None),
        Some(v) => Reference::from_ascii(v).map(Some),
    }
}

fn approval(f: &FieldsView<'_>) -> Result<Option<ApprovalCode>> {
    match f.first(tag::APPROVAL).map(|x| x.value) {
        None | Some(b"") => Ok(None),
        Some(v) => ApprovalCode::from_ascii(v).map(Some),
    }
}

fn opt_digits(f: &FieldsView<'_>, t: u8, field: &'static str) -> Result<Option<u64>> {
    f.first(t)
        .map(|x| digits(x.value, AMOUNT_DIGITS, field))
        .transpose()
}

fn txn_code(f: &FieldsView<'_>) -> Result<TxnCode> {
    TxnCode::parse(
        f.first(tag::TXN)
            .ok_or(Error::CsobField { field: "T" })?
            .value,
    )
}

fn currency_totals(y: &Field<'_>) -> Result<CurrencyTotals> {
    let mut t = CurrencyTotals {
        currency: currency(
            y.subfield(b'E').ok_or(Error::CsobField { field: "Y/E" })?,
            "Y/E",
        )?,
        ..CurrencyTotals::default()
    };
    for s in y.subfields() {
        match s.tag {
            b'd' => t.debit_count = u32_of(s.value, "Y/d")?,
            b'D' => t.debit_minor = digits(s.value, 20, "Y/D")?,
            b'c' => t.credit_count = u32_of(s.value, "Y/c")?,
            b'C' => t.credit_minor = digits(s.value, 20, "Y/C")?,
            b'r' => t.reversal_count = u32_of(s.value, "Y/r")?,
            _ => {}
        }
    }
    Ok(t)
}

fn entry_mode(name: &[u8]) -> Result<EntryMode> {
    [
        EntryMode::Chip,
        EntryMode::Contactless,
        EntryMode::Swipe,
        EntryMode::Manual,
    ]
    .into_iter()
    .find(|m| m.name().as_bytes() == name)
    .ok_or(Error::CsobField { field: "M" })
}

fn scheme_of(name: &[u8]) -> Result<CardScheme> {
    [
        CardScheme::Visa,
        CardScheme::Mastercard,
        CardScheme::Maestro,
        CardScheme::Amex,
        CardScheme::Other,
    ]
    .into_iter()
    .find(|s| s.name().as_bytes() == name)
    .ok_or(Error::CsobField { field: "Z/s" })
}

fn scheme_totals(z: &Field<'_>) -> Result<SchemeTotals> {
    Ok(SchemeTotals {
        scheme: scheme_of(z.subfield(b's').ok_or(Error::CsobField { field: "Z/s" })?)?,
        currency: currency(
            z.subfield(b'E').ok_or(Error::CsobField { field: "Z/E" })?,
            "Z/E",
        )?,
        count: z
            .subfield(b'n')
            .map(|v| u32_of(v, "Z/n"))
            .transpose()?
            .unwrap_or(0),
        net_minor: z
            .subfield(b'N')
            .map(|v| signed(v, "Z/N"))
            .transpose()?
            .unwrap_or(0),
    })
}

fn totals(f: &FieldsView<'_>) -> Result<Option<Totals>> {
    let cap = Error::CapacityExceeded {
        what: "csob totals",
    };
    let mut t = Totals::default();
    let mut any = false;
    for field in f.iter() {
        match field.tag {
            tag::CURRENCY_TOTALS => {
                t.currencies
                    .push(currency_totals(&field)?)
                    .map_err(|_| cap)?;
                any = true;
            }
            tag::SCHEME_TOTALS => {
                t.schemes.push(scheme_totals(&field)?).map_err(|_| cap)?;
                any = true;
            }
            _ => {}
        }
    }
    Ok(any.then_some(t))
}

impl TransactionRequest {
    /// Types the fields of a B1.
    pub fn from_fields(f: &FieldsView<'_>) -> Result<Self> {
        // Filled in place, field by field in the order the errors are checked: no
        // `Result<Option<…>>` of each value moved into a struct literal (less code on a
        // Cortex-M4, where this is the terminal's B1 reader).
        let mut b1 = TransactionRequest::new(txn_code(f)?);
        b1.amount = opt_digits(f, tag::AMOUNT, "B")?;
        b1.cashback = opt_digits(f, tag::CASHBACK, "C")?;
        if let Some(x) = f.first(tag::CURRENCY) {
            b1.currency = Some(currency(x.value, "E")?);
        }
        b1.reference = reference(f)?;
        b1.approval_code = approval(f)?;
        Ok(b1)
    }
}

impl TransactionResponse {
    /// Types the fields of a B2.
    pub fn from_fields(f: &FieldsView<'_>) -> Result<Self> {
        Ok(TransactionResponse {
            code: txn_code(f)?,
            result: ResultCode::parse(
                f.first(tag::RESULT)
                    .ok_or(Error::CsobField { field: "R" })?
                    .value,
            )?,
            amount: opt_digits(f, tag::AMOUNT, "B")?,
            cashback: opt_digits(f, tag::CASHBACK, "C")?,
            currency: f
                .first(tag::CURRENCY)
                .map(|x| currency(x.value, "E"))
                .transpose()?,
            reference: reference(f)?,
            approval_code: approval(f)?,
            pan: f
                .first(tag::PAN)
                .map(|x| MaskedPan::parse(ascii(x.value, "P")?))
                .transpose()?,
            entry_mode: f
                .first(tag::ENTRY_MODE)
                .map(|x| entry_mode(x.value))
                .transpose()?,
            trace: f
                .first(tag::TRACE)
                .map(|x| u32_of(x.value, "N"))
                .transpose()?,
            original: f
                .first(tag::ORIGINAL)
                .map(|x| TxnCode::parse(x.value).map_err(|_| Error::CsobField { field: "K" }))
                .transpose()?,
            text: f
                .first(tag::MESSAGE)
                .map(|x| text::decode(x.head(), "csob g text"))
                .transpose()?,
            totals: totals(f)?,
        })
    }
}

impl TicketRequest {
    /// Types the fields of a B3.
    pub fn from_fields(f: &FieldsView<'_>) -> Result<Self> {
        let sel = f
            .first(tag::SUB)
            .and_then(|nine| nine.subfield(tag::SUB_TICKET))
            .ok_or(Error::CsobField { field: "9/t" })?;
        match sel {
            [b] => Ok(TicketRequest {
                selector: ReceiptSelector::from_byte(*b)?,
            }),
            _ => Err(Error::CsobField { field: "9/t" }),
        }
    }
}

impl TicketResponse {
    /// Types the fields of a B4.
    pub fn from_fields(f: &FieldsView<'_>) -> Result<Self> {
        let mut text: String<RECEIPT_TEXT_CAPACITY> = String::new();
        let mut more = false;
        let mut first = true;
        for field in f.iter() {
            match field.tag {
                tag::TXN => {
                    if !first {
                        text.push('\n').map_err(|_| Error::CapacityExceeded {
                            what: "csob receipt part",
                        })?;
                    }
                    first = false;
                    // The first byte is the line attribute (`0`…`3`). Sub-fields after a
                    // GS are not part of the text (the public client splits there too).
                    let line = field.head().get(1..).unwrap_or_default();
                    text::decode_into(line, &mut text, "csob receipt part")?;
                }
                tag::RECEIPT_MORE => more = field.value == b"1",
                tag::SUB if field.subfield(tag::SUB_TICKET) == Some(b"1") => more = true,
                _ => {}
            }
        }
        Ok(TicketResponse { text, more })
    }
}

impl Body {
    /// Types the fields of a checked view, whatever its message type.
    pub fn from_view(view: &MessageView<'_>) -> Result<Self> {
        let f = &view.fields;
        Ok(match view.header.message_type {
            MessageType::Activity => activity(f),
            MessageType::TransactionRequest => Body::Request(TransactionRequest::from_fields(f)?),
            MessageType::TransactionResponse => {
                Body::Response(TransactionResponse::from_fields(f)?)
            }
            MessageType::TicketRequest => Body::TicketRequest(TicketRequest::from_fields(f)?),
            MessageType::TicketResponse => Body::TicketResponse(TicketResponse::from_fields(f)?),
        })
    }
}

impl Message {
    /// Types a checked view.
    pub fn from_view(view: &MessageView<'_>) -> Result<Self> {
        Ok(Message {
            header: view.header.clone(),
            body: Body::from_view(view)?,
        })
    }

    /// Parses a payload (the bytes between STX and ETX, as the link accumulator yields them).
    pub fn parse_payload(payload: &[u8], opts: &ParseOptions) -> Result<Self> {
        Message::from_view(&MessageView::parse(payload, opts)?)
    }

    /// Parses a whole frame `STX … ETX` at the start of `bytes`; returns the message and the
    /// bytes the frame took. An incomplete frame is [`Error::Truncated`].
    pub fn parse_frame(bytes: &[u8], opts: &ParseOptions) -> Result<(Self, usize)> {
        let frame = decode_frame(bytes, Checksum::None)?;
        Ok((Message::parse_payload(frame.payload, opts)?, frame.len))
    }

    /// Length of the frame [`Message::emit`] writes.
    pub fn frame_len(&self) -> Result<usize> {
        self.body.with_borrowed(frame_len::<true>)
    }

    /// Writes the whole frame `STX header fields ETX` into `out` and returns its length.
    ///
    /// Errors: a value the wire cannot carry ([`Error::CsobField`] naming it, e.g. a character
    /// outside ISO-8859-2 or an amount over twelve digits); [`Error::BufferTooSmall`] if `out`
    /// is too small, in which case `out` is untouched.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        self.body
            .with_borrowed(|b| emit::<true>(self.header.borrowed(), b, out))
    }

    /// The header's flags.
    pub fn flags(&self) -> Flags {
        self.header.flags
    }
}

/// A [`Body`] to emit, borrowed: what the sessions send without first building a `Body`
/// (which is over 1 KiB, for the receipt text a B4 holds inline).
#[derive(Clone, Copy, Debug)]
pub(crate) enum BodyRef<'a> {
    Activity,
    Progress(crate::session::Progress),
    Request(&'a TransactionRequest),
    Response(&'a B2Ref<'a>),
    TicketRequest(&'a TicketRequest),
    TicketResponse { text: &'a str, more: bool },
}

/// The fields of a B2 to emit, borrowed from wherever they are: a [`TransactionResponse`]
/// ([`B2Ref::of`]), a txn [`crate::txn::Response`] being answered
/// ([`B2Ref::answer`](super::map)), or a refused B1 ([`B2Ref::refusal`]). No
/// `TransactionResponse` (over 500 bytes on a Cortex-M4, for its totals) is built on the stack
/// to send an answer, and no field is copied.
#[derive(Clone, Debug)]
pub(crate) struct B2Ref<'a> {
    pub(crate) code: TxnCode,
    pub(crate) result: ResultCode,
    pub(crate) amount: Option<u64>,
    pub(crate) cashback: Option<u64>,
    pub(crate) currency: Option<u16>,
    pub(crate) reference: Option<&'a Reference>,
    pub(crate) approval_code: Option<&'a ApprovalCode>,
    pub(crate) pan: Option<&'a MaskedPan>,
    pub(crate) entry_mode: Option<EntryMode>,
    pub(crate) trace: Option<u32>,
    pub(crate) original: Option<TxnCode>,
    pub(crate) text: Option<&'a str>,
    pub(crate) totals: Option<&'a Totals>,
}

impl<'a> B2Ref<'a> {
    /// A B2 with `code` and `result` and nothing else.
    pub(crate) fn new(code: TxnCode, result: ResultCode) -> Self {
        B2Ref {
            code,
            result,
            amount: None,
            cashback: None,
            currency: None,
            reference: None,
            approval_code: None,
            pan: None,
            entry_mode: None,
            trace: None,
            original: None,
            text: None,
            totals: None,
        }
    }

    /// The fields of `b2`.
    pub(crate) fn of(b2: &'a TransactionResponse) -> Self {
        B2Ref {
            code: b2.code,
            result: b2.result.clone(),
            amount: b2.amount,
            cashback: b2.cashback,
            currency: b2.currency,
            reference: b2.reference.as_ref(),
            approval_code: b2.approval_code.as_ref(),
            pan: b2.pan.as_ref(),
            entry_mode: b2.entry_mode,
            trace: b2.trace,
            original: b2.original,
            text: b2.text.as_deref(),
            totals: b2.totals.as_ref(),
        }
    }

    /// A refusal of `b1` with `result`, carrying `b1`'s own code and, with `echo`, its amount,
    /// cashback, currency and reference (so that it cannot be taken for another request's
    /// answer).
    pub(crate) fn refusal(b1: &'a TransactionRequest, result: ResultCode, echo: bool) -> Self {
        let mut b2 = B2Ref::new(b1.code, result);
        if echo {
            b2.amount = b1.amount;
            b2.cashback = b1.cashback;
            b2.currency = b1.currency;
            b2.reference = b1.reference.as_ref();
        }
        b2
    }
}

impl BodyRef<'_> {
    /// The message type of this body.
    pub(crate) fn message_type(self) -> MessageType {
        match self {
            BodyRef::Activity | BodyRef::Progress(_) => MessageType::Activity,
            BodyRef::Request(_) => MessageType::TransactionRequest,
            BodyRef::Response(_) => MessageType::TransactionResponse,
            BodyRef::TicketRequest(_) => MessageType::TicketRequest,
            BodyRef::TicketResponse { .. } => MessageType::TicketResponse,
        }
    }
}

impl Body {
    /// Calls `f` with this body borrowed.
    fn with_borrowed<T>(&self, f: impl FnOnce(BodyRef<'_>) -> T) -> T {
        let b2;
        f(match self {
            Body::Activity => BodyRef::Activity,
            Body::Progress(p) => BodyRef::Progress(*p),
            Body::Request(r) => BodyRef::Request(r),
            Body::Response(r) => {
                b2 = B2Ref::of(r);
                BodyRef::Response(&b2)
            }
            Body::TicketRequest(t) => BodyRef::TicketRequest(t),
            Body::TicketResponse(t) => BodyRef::TicketResponse {
                text: &t.text,
                more: t.more,
            },
        })
    }
}

/// Length of the frame [`emit`] writes for `body` (`TILL`: see [`write_body`]).
pub(crate) fn frame_len<const TILL: bool>(body: BodyRef<'_>) -> Result<usize> {
    let mut c = Counter::default();
    write_body::<TILL>(body, &mut c)?;
    Ok(c.0 + HEADER_LEN + 2)
}

/// Writes the frame `STX header fields ETX` of `header` and `body` into `out`, as
/// [`Message::emit`] (`TILL`: see [`write_body`]).
pub(crate) fn emit<const TILL: bool>(
    header: HeaderRef<'_>,
    body: BodyRef<'_>,
    out: &mut [u8],
) -> Result<usize> {
    emit_counted::<TILL>(header, body, frame_len::<TILL>(body)?, out)
}

/// [`emit`] of a body whose frame length `total` the caller has from [`frame_len`] (the
/// terminal's sending counts it first, to check its outbox: counted once, not twice).
pub(crate) fn emit_counted<const TILL: bool>(
    header: HeaderRef<'_>,
    body: BodyRef<'_>,
    total: usize,
    out: &mut [u8],
) -> Result<usize> {
    let data_len = total
        .checked_sub(HEADER_LEN + 2)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(Error::CapacityExceeded {
            what: "csob data length",
        })?;
    let buf = out
        .get_mut(..total)
        .ok_or(Error::BufferTooSmall { needed: total })?;
    let mut w = SliceWriter { buf, pos: 0 };
    w.put(&[STX]);
    emit_header(header, body.message_type(), data_len, &mut w);
    write_body::<TILL>(body, &mut w)?;
    w.put(&[ETX]);
    Ok(total)
}

/// Writes the fields of `body`. With `TILL` false (the terminal's sending), the till's
/// messages B1 and B3 are not written but refused ([`Error::CsobUnexpected`]): a terminal
/// never sends them, and firmware then links no B1/B3 writer (0.3 KB on a Cortex-M4).
// One body for both passes (counting, writing): a `dyn` sink, not two monomorphs (about 1 KiB
// of flash on a Cortex-M).
fn write_body<const TILL: bool>(body: BodyRef<'_>, s: &mut dyn Sink) -> Result<()> {
    {
        match body {
            BodyRef::Activity => {}
            BodyRef::Progress(p) => put_field(s, tag::PROGRESS, p.name().as_bytes()),
            BodyRef::Request(_) | BodyRef::TicketRequest(_) if !TILL => {
                return Err(Error::CsobUnexpected {
                    what: "B1/B3 sent by a terminal",
                });
            }
            BodyRef::Request(r) => {
                put_field(s, tag::TXN, &r.code.digits());
                if let Some(code) = &r.approval_code {
                    put_field(s, tag::APPROVAL, code.as_str().as_bytes());
                }
                put_number(s, tag::AMOUNT, r.amount, "B")?;
                put_number(s, tag::CASHBACK, r.cashback, "C")?;
                put_reference(s, r.reference.as_ref());
                put_currency(s, &[FS], tag::CURRENCY, r.currency, "E")?;
            }
            BodyRef::Response(r) => {
                put_field(s, tag::TXN, &r.code.digits());
                put_field(s, tag::RESULT, r.result.text().as_bytes());
                if let Some(code) = r.approval_code {
                    put_field(s, tag::APPROVAL, code.as_str().as_bytes());
                }
                put_number(s, tag::AMOUNT, r.amount, "B")?;
                put_number(s, tag::CASHBACK, r.cashback, "C")?;
                put_currency(s, &[FS], tag::CURRENCY, r.currency, "E")?;
                put_reference(s, r.reference);
                if let Some(pan) = r.pan {
                    // First six, a star for each hidden digit, last four: the masked PAN's
                    // `Display`, written without `core::fmt` (not linked by the link alone)
                    // and from the digits' bytes (no `str::from_utf8`).
                    let (bin, last4) = pan.visible_digits();
                    put_field(s, tag::PAN, bin);
                    for _ in 0..pan.len().saturating_sub(10) {
                        s.put(b"*");
                    }
                    s.put(last4);
                }
                if let Some(mode) = r.entry_mode {
                    put_field(s, tag::ENTRY_MODE, mode.name().as_bytes());
                }
                if let Some(trace) = r.trace {
                    // Six digits at least, as a trace number is printed on the receipt.
                    s.put(&[FS, tag::TRACE]);
                    put_u64_min(s, u64::from(trace), 6);
                }
                if let Some(code) = r.original {
                    put_field(s, tag::ORIGINAL, &code.digits());
                }
                if let Some(t) = r.text {
                    text::encoded_len(t, "g")?;
                    s.put(&[FS, tag::MESSAGE]);
                    text::for_each_byte(t, |b| s.put(&[b]));
                }
                if let Some(t) = r.totals {
                    put_totals(s, t)?;
                }
            }
            BodyRef::TicketRequest(t) => {
                s.put(&[FS, tag::SUB, GS, tag::SUB_TICKET, t.selector.byte()]);
            }
            BodyRef::TicketResponse { text, more } => {
                if !text.is_empty() {
                    // One `T0` field per line: the text in one pass, each `\n` (a byte of
                    // its own in UTF-8 and ISO-8859-2 alike, and not one the framing
                    // reserves) starting the next field.
                    text::encoded_len(text, "T (receipt line)")?;
                    s.put(&[FS, tag::TXN, RECEIPT_LINE_ATTRIBUTE]);
                    text::for_each_byte(text, |b| {
                        if b == b'\n' {
                            s.put(&[FS, tag::TXN, RECEIPT_LINE_ATTRIBUTE]);
                        } else {
                            s.put(&[b]);
                        }
                    });
                }
                if more {
                    s.put(&[FS, tag::RECEIPT_MORE, b'1']);
                }
            }
        }
        Ok(())
    }
}

// ----- value writers -----

/// A B0: with a known stage field it is [`Body::Progress`], else plain activity (an unknown
/// stage is still activity: a newer terminal's stage must not fail an exchange).
pub fn activity(f: &FieldsView<'_>) -> Body {
    match f
        .first(tag::PROGRESS)
        .and_then(|x| crate::session::Progress::from_name(x.value))
    {
        Some(p) => Body::Progress(p),
        None => Body::Activity,
    }
}

// Never inlined: a tag and a value at each of a dozen places were two `dyn` calls each.
#[inline(never)]
fn put_field(s: &mut (impl Sink + ?Sized), t: u8, value: &[u8]) {
    s.put(&[FS, t]);
    s.put(value);
}

fn put_u64(s: &mut (impl Sink + ?Sized), v: u64) {
    put_u64_min(s, v, 1);
}

/// Writes `v` in decimal with at least `min` digits (zero-padded; `min` is at most 20).
// The digits are kept four bits each, eight to a word, not one to a byte: a zeroed 20-byte
// array links the `memclr` built-in into firmware for this alone.
fn put_u64_min(s: &mut (impl Sink + ?Sized), mut v: u64, min: usize) {
    let mut words = [0u32; 3];
    let mut n = 0usize;
    loop {
        let (rest, digit) = crate::num::div_rem_u64(v, 10);
        if let Some(w) = words.get_mut(n / 8) {
            *w |= u32::from(digit) << (4 * (n % 8));
        }
        n += 1;
        v = rest;
        if (v == 0 && n >= min) || n == 20 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        let word = words.get(n / 8).copied().unwrap_or(0);
        s.put(&[b'0' + ((word >> (4 * (n % 8))) & 0xF) as u8]);
    }
}

/// An amount field (`B`, `C`): at least [`AMOUNT_MIN_DIGITS`] digits.
fn put_number(
    s: &mut (impl Sink + ?Sized),
    t: u8,
    v: Option<u64>,
    field: &'static str,
) -> Result<()> {
    if let Some(v) = v {
        if v > Amount::MAX_MINOR {
            return Err(Error::CsobField { field });
        }
        s.put(&[FS, t]);
        put_u64_min(s, v, AMOUNT_MIN_DIGITS);
    }
    Ok(())
}

fn put_currency(
    s: &mut (impl Sink + ?Sized),
    prefix: &[u8],
    t: u8,
    v: Option<u16>,
    field: &'static str,
) -> Result<()> {
    if let Some(v) = v {
        if v > 999 {
            return Err(Error::CsobField { field });
        }
        s.put(prefix);
        s.put(&[
            t,
            b'0' + (v / 100) as u8,
            b'0' + (v / 10 % 10) as u8,
            b'0' + (v % 10) as u8,
        ]);
    }
    Ok(())
}

fn put_reference(s: &mut (impl Sink + ?Sized), r: Option<&Reference>) {
    if let Some(r) = r {
        s.put(&[FS, tag::SUB, GS, tag::SUB_REFERENCE]);
        s.put(r.as_str().as_bytes());
    }
}

fn put_sub_u64(s: &mut (impl Sink + ?Sized), t: u8, v: u64) {
    s.put(&[GS, t]);
    put_u64(s, v);
}

fn put_totals(s: &mut (impl Sink + ?Sized), t: &Totals) -> Result<()> {
    for c in &t.currencies {
        s.put(&[FS, tag::CURRENCY_TOTALS]);
        put_currency(s, &[GS], b'E', Some(c.currency), "Y/E")?;
        put_sub_u64(s, b'd', u64::from(c.debit_count));
        put_sub_u64(s, b'D', c.debit_minor);
        put_sub_u64(s, b'c', u64::from(c.credit_count));
        put_sub_u64(s, b'C', c.credit_minor);
        put_sub_u64(s, b'r', u64::from(c.reversal_count));
    }
    for z in &t.schemes {
        s.put(&[FS, tag::SCHEME_TOTALS, GS, b's']);
        s.put(z.scheme.name().as_bytes());
        put_currency(s, &[GS], b'E', Some(z.currency), "Z/E")?;
        put_sub_u64(s, b'n', u64::from(z.count));
        s.put(&[GS, b'N']);
        if z.net_minor < 0 {
            s.put(b"-");
        }
        put_u64(s, z.net_minor.unsigned_abs());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Collects what a writer puts.
    struct Collect(std::vec::Vec<u8>);

    impl Sink for Collect {
        fn put(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
    }

    fn decimal(v: u64, min: usize) -> std::string::String {
        let mut c = Collect(std::vec::Vec::new());
        put_u64_min(&mut c, v, min);
        std::string::String::from_utf8(c.0).unwrap()
    }

    #[test]
    fn a_frame_length_shorter_than_a_header_is_an_error_not_a_panic() {
        let header = Header::new(
            MessageType::Activity,
            crate::txn::TerminalId::new("T1").unwrap(),
            crate::txn::Timestamp::new(2024, 3, 15, 14, 30, 5).unwrap(),
        );
        let mut out = [0u8; 64];
        for total in [0, HEADER_LEN + 1] {
            assert_eq!(
                emit_counted::<false>(header.borrowed(), BodyRef::Activity, total, &mut out),
                Err(Error::CapacityExceeded {
                    what: "csob data length"
                })
            );
        }
        let total = frame_len::<false>(BodyRef::Activity).unwrap();
        assert_eq!(
            emit_counted::<false>(header.borrowed(), BodyRef::Activity, total, &mut out),
            emit::<false>(header.borrowed(), BodyRef::Activity, &mut [0u8; 64])
        );
    }

    #[test]
    fn decimal_edges() {
        assert_eq!(decimal(0, 1), "0");
        assert_eq!(decimal(0, 6), "000000");
        assert_eq!(decimal(7, 3), "007");
        assert_eq!(decimal(u64::MAX, 1), "18446744073709551615");
        assert_eq!(decimal(u64::MAX, 20), "18446744073709551615");
        assert_eq!(decimal(10_000_000_000_000_000, 1), "10000000000000000");
        assert_eq!(decimal(1, 20), "00000000000000000001");
    }

    proptest! {
        #[test]
        fn decimal_is_std_formatting(v in any::<u64>(), min in 0usize..=20, shift in 0u32..64) {
            let v = v >> shift;
            prop_assert_eq!(decimal(v, min), std::format!("{v:0min$}", min = min.max(1)));
        }
    }
}
