//! Concert V2 (protocol E / E+) messages: the till's request and the terminal's answer, as the
//! payload between STX and ETX. Framing (STX, ETX, LRC) is [`crate::link`]'s job.
//!
//! Layouts, byte offsets within the payload (sources: `Ousret/pyTeliumManager`
//! `telium/payment.py` `TeliumAsk.encode` / `TeliumResponse.decode` and `telium/constant.py`;
//! `akretion/pypostelium` `pypostelium.py` `send_message`; all fields ASCII):
//!
//! Request, 34 bytes ([`request`]):
//! ```text
//! 0..2 POS  2..10 amount (cents)  10 answer flag  11 payment mode  12 transaction type
//! 13..16 currency (ISO 4217 numeric)  16..26 private  26..30 delay  30..34 authorization
//! ```
//! Full answer, 80 bytes (83-byte frame) ([`answer`]):
//! ```text
//! 0..2 POS  2 status  3..11 amount  11 payment mode  12..67 report (55, card number first)
//! 67..70 currency  70..80 private
//! ```
//! Short answer, 25 bytes (28-byte frame): the full answer without the report field.
//!
//! Promises: [`ConcertRequest::parse`], [`ConcertAnswer::parse`] and [`ConcertMessage::parse`]
//! take any bytes and return a value or a typed [`Error`]; they never panic. `emit` writes
//! exactly [`ConcertRequest::LEN`] / [`ConcertAnswer::len`] bytes or fails with the output
//! untouched; `parse(emit(x)) == x` for every value `emit` accepts.

use super::fields::{
    AnswerForm, Authorization, Delay, PaymentMode, PrivateData, Status, TransactionType, put_digits,
};
use crate::ascii::{
    FAST_PATHS, Layout, all_digits, all_printable, digits_value, eight_digits, eight_digits_value,
    find_byte, first_outside, small_digits, words,
};
use crate::link::frame::{Checksum, decode_frame, encode_frame};
use crate::txn::{MaskedPan, Pan};
use crate::{Error, Result};

/// Byte ranges of the request payload.
pub mod request {
    use core::ops::Range;
    /// POS (till) number, 2 digits.
    pub const POS: Range<usize> = 0..2;
    /// Amount in minor units, 8 digits, zero-padded.
    pub const AMOUNT: Range<usize> = 2..10;
    /// Answer flag: `'0'` short, `'1'` full.
    pub const ANSWER_FLAG: usize = 10;
    /// Payment mode.
    pub const PAYMENT_MODE: usize = 11;
    /// Transaction type.
    pub const TRANSACTION_TYPE: usize = 12;
    /// ISO 4217 numeric currency, 3 digits.
    pub const CURRENCY: Range<usize> = 13..16;
    /// Private data, 10 characters.
    pub const PRIVATE: Range<usize> = 16..26;
    /// Delay: `A010` / `A011`.
    pub const DELAY: Range<usize> = 26..30;
    /// Authorization: `B010` / `B011`.
    pub const AUTHORIZATION: Range<usize> = 30..34;
    /// Payload length.
    pub const LEN: usize = 34;
}

/// Byte ranges of the answer payload. The short form has no report field: its currency and
/// private data follow the payment mode directly.
pub mod answer {
    use core::ops::Range;
    /// POS (till) number, 2 digits.
    pub const POS: Range<usize> = 0..2;
    /// Status: `'0'` success, `'7'` rejected, `'9'` not verified.
    pub const STATUS: usize = 2;
    /// Amount in minor units, 8 digits.
    pub const AMOUNT: Range<usize> = 3..11;
    /// Payment mode.
    pub const PAYMENT_MODE: usize = 11;
    /// Full form: the 55-character report field (card number first).
    pub const REPORT: Range<usize> = 12..67;
    /// Full form: currency, 3 digits.
    pub const FULL_CURRENCY: Range<usize> = 67..70;
    /// Full form: private data, 10 characters.
    pub const FULL_PRIVATE: Range<usize> = 70..80;
    /// Short form: currency, 3 digits.
    pub const SHORT_CURRENCY: Range<usize> = 12..15;
    /// Short form: private data, 10 characters.
    pub const SHORT_PRIVATE: Range<usize> = 15..25;
    /// Full payload length (83-byte frame).
    pub const FULL_LEN: usize = 80;
    /// Short payload length (28-byte frame).
    pub const SHORT_LEN: usize = 25;
    /// Width of the report field.
    pub const REPORT_LEN: usize = 55;
}

/// The largest amount an 8-digit field holds, in minor units.
pub const MAX_AMOUNT_MINOR: u32 = 99_999_999;

// ----- field readers: each fails with the core's typed error naming its field -----

/// The `L` bytes from `at` of a payload whose length the caller checked, so this cannot miss
/// (a miss would still be a typed error, never a panic); with the length known the compiler
/// drops the check.
#[inline(always)]
fn at<const L: usize>(payload: &[u8], at: usize) -> Result<&[u8; L]> {
    payload
        .get(at..at + L)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Truncated {
            what: "concert message",
        })
}

/// The byte at `index`, same promise as [`at`].
#[inline(always)]
fn byte(payload: &[u8], index: usize) -> Result<u8> {
    payload.get(index).copied().ok_or(Error::Truncated {
        what: "concert message",
    })
}

fn pos(b: &[u8; 2]) -> Result<u8> {
    small_digits(b)
        .map(|v| v as u8)
        .ok_or(Error::ConcertField { field: "pos" })
}

fn amount(b: &[u8; 8]) -> Result<u32> {
    eight_digits(b).ok_or(Error::ConcertField { field: "amount" })
}

fn currency(b: &[u8; 3]) -> Result<u16> {
    small_digits(b)
        .map(|v| v as u16)
        .ok_or(Error::ConcertField { field: "currency" })
}

// ----- fast paths: the whole layout checked eight bytes per step, then the values read -----
//
// Each message form has a `Layout`: the byte range every position may hold (exact for
// digits, flags and fixed codes; `'0'..='z'` for the payment mode and the status, which
// `from_code` then checks exactly). When a payload passes, the values are read without
// checking each field again; when it does not (or a code is unknown), `parse` takes the
// field-by-field path, which names the first bad field. Both paths give the same answer for
// every input (`fast_and_field_by_field_paths_agree`).

const DIGITS: (u8, u8) = (b'0', b'9');
const PRINTABLE: (u8, u8) = (0x20, 0x7E);
/// Wide enough for any letter or digit; `from_code` decides.
const CODE: (u8, u8) = (b'0', b'z');

const fn span(r: core::ops::Range<usize>, (lo, hi): (u8, u8)) -> (usize, usize, u8, u8) {
    (r.start, r.end, lo, hi)
}

const fn one(at: usize, (lo, hi): (u8, u8)) -> (usize, usize, u8, u8) {
    (at, at + 1, lo, hi)
}

static REQUEST_LAYOUT: Layout<{ request::LEN }, { words(request::LEN) }> = Layout::new(&[
    span(request::POS, DIGITS),
    span(request::AMOUNT, DIGITS),
    one(request::ANSWER_FLAG, (b'0', b'1')),
    one(request::PAYMENT_MODE, CODE),
    one(request::TRANSACTION_TYPE, CODE),
    span(request::CURRENCY, DIGITS),
    span(request::PRIVATE, PRINTABLE),
    // `A010` / `A011`, `B010` / `B011`.
    one(26, (b'A', b'A')),
    one(27, (b'0', b'0')),
    one(28, (b'1', b'1')),
    one(29, (b'0', b'1')),
    one(30, (b'B', b'B')),
    one(31, (b'0', b'0')),
    one(32, (b'1', b'1')),
    one(33, (b'0', b'1')),
]);

static FULL_LAYOUT: Layout<{ answer::FULL_LEN }, { words(answer::FULL_LEN) }> = Layout::new(&[
    span(answer::POS, DIGITS),
    one(answer::STATUS, CODE),
    span(answer::AMOUNT, DIGITS),
    one(answer::PAYMENT_MODE, CODE),
    span(answer::REPORT, PRINTABLE),
    span(answer::FULL_CURRENCY, DIGITS),
    span(answer::FULL_PRIVATE, PRINTABLE),
]);

static SHORT_LAYOUT: Layout<{ answer::SHORT_LEN }, { words(answer::SHORT_LEN) }> = Layout::new(&[
    span(answer::POS, DIGITS),
    one(answer::STATUS, CODE),
    span(answer::AMOUNT, DIGITS),
    one(answer::PAYMENT_MODE, CODE),
    span(answer::SHORT_CURRENCY, DIGITS),
    span(answer::SHORT_PRIVATE, PRINTABLE),
]);

/// The `L` bytes from `at` of a checked payload, for the fast paths (`None` cannot happen).
#[inline(always)]
fn fixed<const L: usize>(payload: &[u8], at: usize) -> Option<&[u8; L]> {
    payload.get(at..at + L)?.try_into().ok()
}

/// The value of the eight digits at `at` of a checked payload.
#[inline(always)]
fn fixed_amount(payload: &[u8], at: usize) -> Option<u32> {
    fixed::<8>(payload, at).map(|b| eight_digits_value(u64::from_le_bytes(*b)))
}

fn check_pos(pos: u8) -> Result<()> {
    if pos <= 99 {
        Ok(())
    } else {
        Err(Error::ConcertField { field: "pos" })
    }
}

fn check_currency(c: u16) -> Result<()> {
    if c <= 999 {
        Ok(())
    } else {
        Err(Error::ConcertField { field: "currency" })
    }
}

/// Checks that `out` holds `len` bytes before anything is written.
fn output(out: &mut [u8], len: usize) -> Result<&mut [u8]> {
    out.get_mut(..len)
        .ok_or(Error::BufferTooSmall { needed: len })
}

fn put(out: &mut [u8], range: core::ops::Range<usize>, bytes: &[u8]) -> Result<()> {
    let dst = out.get_mut(range).ok_or(Error::BufferTooSmall {
        needed: bytes.len(),
    })?;
    if dst.len() != bytes.len() {
        return Err(Error::BufferTooSmall {
            needed: bytes.len(),
        });
    }
    dst.copy_from_slice(bytes);
    Ok(())
}

fn put_num(out: &mut [u8], range: core::ops::Range<usize>, value: u64, err: Error) -> Result<()> {
    let dst = out
        .get_mut(range.clone())
        .ok_or(Error::BufferTooSmall { needed: range.end })?;
    put_digits(dst, value, err)
}

fn put_byte(out: &mut [u8], at: usize, b: u8) -> Result<()> {
    *out.get_mut(at)
        .ok_or(Error::BufferTooSmall { needed: at + 1 })? = b;
    Ok(())
}

/// A Concert V2 request from the till (34-byte payload, 37-byte frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConcertRequest {
    /// POS (till) number, 0–99 (the public clients send 01).
    pub pos: u8,
    /// Amount in minor units, at most [`MAX_AMOUNT_MINOR`].
    pub amount_minor: u32,
    /// Which answer the till wants.
    pub answer: AnswerForm,
    /// How the customer pays.
    pub payment_mode: PaymentMode,
    /// Debit, credit, refund or auto.
    pub transaction: TransactionType,
    /// ISO 4217 numeric currency code (not checked against the known table here).
    pub currency_numeric: u16,
    /// Free text echoed by the terminal.
    pub private: PrivateData,
    /// When the terminal answers.
    pub delay: Delay,
    /// Whether authorization is forced.
    pub authorization: Authorization,
}

impl ConcertRequest {
    /// Payload length.
    pub const LEN: usize = request::LEN;

    /// Parses a request payload (the bytes between STX and ETX).
    ///
    /// Errors: [`Error::ConcertLength`] unless `payload` has 34 bytes, [`Error::ConcertField`]
    /// naming the first field that is not valid.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn parse(payload: &[u8]) -> Result<Self> {
        if FAST_PATHS {
            if let Some(request) = Self::parse_fast(payload) {
                return Ok(request);
            }
        }
        Self::parse_fields(payload)
    }

    /// The fast path of [`ConcertRequest::parse`]: `None` unless the payload is valid.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn parse_fast(payload: &[u8]) -> Option<Self> {
        let p: &[u8; request::LEN] = payload.try_into().ok()?;
        if !REQUEST_LAYOUT.check(p) {
            return None;
        }
        let flag = |at| payload.get(at).copied() == Some(b'1');
        Some(ConcertRequest {
            pos: digits_value(fixed::<2>(p, request::POS.start)?) as u8,
            amount_minor: fixed_amount(p, request::AMOUNT.start)?,
            answer: if flag(request::ANSWER_FLAG) {
                AnswerForm::Full
            } else {
                AnswerForm::Short
            },
            payment_mode: PaymentMode::from_code(*p.get(request::PAYMENT_MODE)?).ok()?,
            transaction: TransactionType::from_code(*p.get(request::TRANSACTION_TYPE)?).ok()?,
            currency_numeric: digits_value(fixed::<3>(p, request::CURRENCY.start)?) as u16,
            private: PrivateData::from_checked(*fixed(p, request::PRIVATE.start)?),
            delay: if flag(request::DELAY.end - 1) {
                Delay::Immediate
            } else {
                Delay::AfterTransaction
            },
            authorization: if flag(request::AUTHORIZATION.end - 1) {
                Authorization::Forced
            } else {
                Authorization::Normal
            },
        })
    }

    /// The field-by-field path of [`ConcertRequest::parse`], which names the first bad field.
    fn parse_fields(payload: &[u8]) -> Result<Self> {
        if payload.len() != Self::LEN {
            return Err(Error::ConcertLength { len: payload.len() });
        }
        // Field by field in wire order, so the error names the first bad field.
        let pos = pos(at(payload, request::POS.start)?)?;
        let amount_minor = amount(at(payload, request::AMOUNT.start)?)?;
        let answer = AnswerForm::from_code(byte(payload, request::ANSWER_FLAG)?)?;
        let payment_mode = PaymentMode::from_code(byte(payload, request::PAYMENT_MODE)?)?;
        let transaction = TransactionType::from_code(byte(payload, request::TRANSACTION_TYPE)?)?;
        let currency_numeric = currency(at(payload, request::CURRENCY.start)?)?;
        let private = PrivateData::from_array(at(payload, request::PRIVATE.start)?)?;
        let delay = Delay::from_code(at::<4>(payload, request::DELAY.start)?)?;
        let authorization =
            Authorization::from_code(at::<4>(payload, request::AUTHORIZATION.start)?)?;
        Ok(ConcertRequest {
            pos,
            amount_minor,
            answer,
            payment_mode,
            transaction,
            currency_numeric,
            private,
            delay,
            authorization,
        })
    }

    /// Writes the 34-byte payload into `out` and returns 34.
    ///
    /// Errors: [`Error::BufferTooSmall`], [`Error::AmountTooLarge`] past
    /// [`MAX_AMOUNT_MINOR`], [`Error::ConcertField`] for a POS over 99, a currency over 999 or
    /// an unknown payment-mode byte that would not read back. `out` is untouched on error.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        check_pos(self.pos)?;
        check_currency(self.currency_numeric)?;
        if self.amount_minor > MAX_AMOUNT_MINOR {
            return Err(Error::AmountTooLarge);
        }
        let mode = self.payment_mode.validate()?;
        let out = output(out, Self::LEN)?;
        put_num(
            out,
            request::POS,
            self.pos.into(),
            Error::ConcertField { field: "pos" },
        )?;
        put_num(
            out,
            request::AMOUNT,
            self.amount_minor.into(),
            Error::AmountTooLarge,
        )?;
        put_byte(out, request::ANSWER_FLAG, self.answer.code())?;
        put_byte(out, request::PAYMENT_MODE, mode.code())?;
        put_byte(out, request::TRANSACTION_TYPE, self.transaction.code())?;
        put_num(
            out,
            request::CURRENCY,
            self.currency_numeric.into(),
            Error::ConcertField { field: "currency" },
        )?;
        put(out, request::PRIVATE, self.private.as_bytes())?;
        put(out, request::DELAY, self.delay.code())?;
        put(out, request::AUTHORIZATION, self.authorization.code())?;
        Ok(Self::LEN)
    }

    /// Writes the whole frame (STX payload ETX LRC, 37 bytes) into `out`.
    pub fn emit_frame(&self, out: &mut [u8]) -> Result<usize> {
        let mut payload = [0u8; request::LEN];
        self.emit(&mut payload)?;
        encode_frame(&payload, Checksum::Lrc, out)
    }
}

/// A Concert V2 answer from the terminal, full (80-byte payload) or short (25).
///
/// The 55-character report field of the full answer starts with the card number (the public
/// clients read the text up to the first space as the card number; pyTeliumManager's README
/// shows a 16-digit PAN followed by zeros). Nothing public describes the rest of the field, so
/// only the card number is kept, **masked** ([`MaskedPan`]): a full PAN never leaves the
/// parser. [`ConcertAnswer::emit`] writes the masked number and pads with spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConcertAnswer {
    /// POS (till) number, echoed.
    pub pos: u8,
    /// Result.
    pub status: Status,
    /// Amount in minor units.
    pub amount_minor: u32,
    /// How the customer paid.
    pub payment_mode: PaymentMode,
    /// Full or short.
    pub form: AnswerForm,
    /// The card number of a full answer, masked; always `None` in a short one.
    pub pan: Option<MaskedPan>,
    /// ISO 4217 numeric currency code.
    pub currency_numeric: u16,
    /// The request's private data, echoed.
    pub private: PrivateData,
}

impl ConcertAnswer {
    /// Payload length of this answer's form.
    pub const fn len(&self) -> usize {
        Self::len_of(self.form)
    }

    /// Payload length of a form: 80 full, 25 short.
    pub const fn len_of(form: AnswerForm) -> usize {
        match form {
            AnswerForm::Full => answer::FULL_LEN,
            AnswerForm::Short => answer::SHORT_LEN,
        }
    }

    /// Never true: an answer has at least 25 bytes.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Parses an answer payload; the length (80 or 25) decides the form.
    ///
    /// Errors: [`Error::ConcertLength`] for another length, [`Error::ConcertField`] naming the
    /// first field that is not valid.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn parse(payload: &[u8]) -> Result<Self> {
        if FAST_PATHS {
            if let Some(answer) = Self::parse_fast(payload) {
                return Ok(answer);
            }
        }
        Self::parse_fields(payload)
    }

    /// The fast path of [`ConcertAnswer::parse`]: `None` unless the payload is valid.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn parse_fast(payload: &[u8]) -> Option<Self> {
        let (form, pan, cur, private) = match payload.len() {
            answer::FULL_LEN => {
                if !FULL_LAYOUT.check(payload.try_into().ok()?) {
                    return None;
                }
                let report = fixed::<{ answer::REPORT_LEN }>(payload, answer::REPORT.start)?;
                (
                    AnswerForm::Full,
                    report_pan(report),
                    answer::FULL_CURRENCY.start,
                    answer::FULL_PRIVATE.start,
                )
            }
            answer::SHORT_LEN => {
                if !SHORT_LAYOUT.check(payload.try_into().ok()?) {
                    return None;
                }
                (
                    AnswerForm::Short,
                    None,
                    answer::SHORT_CURRENCY.start,
                    answer::SHORT_PRIVATE.start,
                )
            }
            _ => return None,
        };
        Some(ConcertAnswer {
            pos: digits_value(fixed::<2>(payload, answer::POS.start)?) as u8,
            status: Status::from_code(*payload.get(answer::STATUS)?).ok()?,
            amount_minor: fixed_amount(payload, answer::AMOUNT.start)?,
            payment_mode: PaymentMode::from_code(*payload.get(answer::PAYMENT_MODE)?).ok()?,
            form,
            pan,
            currency_numeric: digits_value(fixed::<3>(payload, cur)?) as u16,
            private: PrivateData::from_checked(*fixed(payload, private)?),
        })
    }

    /// The field-by-field path of [`ConcertAnswer::parse`], which names the first bad field.
    fn parse_fields(payload: &[u8]) -> Result<Self> {
        let form = match payload.len() {
            answer::FULL_LEN => AnswerForm::Full,
            answer::SHORT_LEN => AnswerForm::Short,
            len => return Err(Error::ConcertLength { len }),
        };
        let (report, cur, private) = match form {
            AnswerForm::Full => (
                Some(answer::REPORT),
                answer::FULL_CURRENCY,
                answer::FULL_PRIVATE,
            ),
            AnswerForm::Short => (None, answer::SHORT_CURRENCY, answer::SHORT_PRIVATE),
        };
        // Field by field in wire order, so the error names the first bad field.
        let pos = pos(at(payload, answer::POS.start)?)?;
        let status = Status::from_code(byte(payload, answer::STATUS)?)?;
        let amount_minor = amount(at(payload, answer::AMOUNT.start)?)?;
        let payment_mode = PaymentMode::from_code(byte(payload, answer::PAYMENT_MODE)?)?;
        let pan = match report {
            Some(range) => parse_report(at::<{ answer::REPORT_LEN }>(payload, range.start)?)?,
            None => None,
        };
        let currency_numeric = currency(at(payload, cur.start)?)?;
        let private = PrivateData::from_array(at(payload, private.start)?)?;
        Ok(ConcertAnswer {
            pos,
            status,
            amount_minor,
            payment_mode,
            form,
            pan,
            currency_numeric,
            private,
        })
    }

    /// Writes the payload (80 or 25 bytes) into `out` and returns its length.
    ///
    /// Errors as [`ConcertRequest::emit`], plus [`Error::ConcertField`] `"pan"` for a short
    /// answer with a card number (the short form cannot carry it).
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        check_pos(self.pos)?;
        check_currency(self.currency_numeric)?;
        if self.amount_minor > MAX_AMOUNT_MINOR {
            return Err(Error::AmountTooLarge);
        }
        let status = self.status.validate()?;
        let mode = self.payment_mode.validate()?;
        if self.form == AnswerForm::Short && self.pan.is_some() {
            return Err(Error::ConcertField { field: "pan" });
        }
        let len = self.len();
        let out = output(out, len)?;
        put_num(
            out,
            answer::POS,
            self.pos.into(),
            Error::ConcertField { field: "pos" },
        )?;
        put_byte(out, answer::STATUS, status.code())?;
        put_num(
            out,
            answer::AMOUNT,
            self.amount_minor.into(),
            Error::AmountTooLarge,
        )?;
        put_byte(out, answer::PAYMENT_MODE, mode.code())?;
        let (cur, private) = match self.form {
            AnswerForm::Full => {
                let report = out
                    .get_mut(answer::REPORT)
                    .ok_or(Error::BufferTooSmall { needed: len })?;
                emit_report(self.pan.as_ref(), report)?;
                (answer::FULL_CURRENCY, answer::FULL_PRIVATE)
            }
            AnswerForm::Short => (answer::SHORT_CURRENCY, answer::SHORT_PRIVATE),
        };
        put_num(
            out,
            cur,
            self.currency_numeric.into(),
            Error::ConcertField { field: "currency" },
        )?;
        put(out, private, self.private.as_bytes())?;
        Ok(len)
    }

    /// Writes the whole frame (STX payload ETX LRC: 83 or 28 bytes) into `out`.
    pub fn emit_frame(&self, out: &mut [u8]) -> Result<usize> {
        let mut payload = [0u8; answer::FULL_LEN];
        let n = self.emit(&mut payload)?;
        encode_frame(payload.get(..n).unwrap_or_default(), Checksum::Lrc, out)
    }
}

/// Reads the card number at the start of the report field (empty for a short answer).
///
/// The token up to the first space is the card number when it is 12–19 digits, or an already
/// masked number (`497010******0119`). A longer run of digits (a PAN followed by zero filler,
/// as in pyTeliumManager's README) is cut at the first length, trying 16, then 19 down to 12,
/// that passes the Luhn check. All zeros, blanks or anything else: no card number. Bytes
/// outside printable ASCII are [`Error::ConcertField`] `"report"`.
fn parse_report(field: &[u8]) -> Result<Option<MaskedPan>> {
    if !all_printable(field) {
        return Err(Error::ConcertField { field: "report" });
    }
    Ok(report_pan(field))
}

/// The card number in a report field already known to be printable ASCII
/// ([`parse_report`]).
fn report_pan(field: &[u8]) -> Option<MaskedPan> {
    // The usual case in one pass: digits up to a space or the end.
    let digits_end = first_outside(field, b'0', b'9').unwrap_or(field.len());
    if matches!(field.get(digits_end), None | Some(b' ')) && (12..=19).contains(&digits_end) {
        let token = field.get(..digits_end).unwrap_or_default();
        if token.iter().any(|&b| b != b'0') {
            return MaskedPan::from_checked_digits(token);
        }
    }
    let token_len = find_byte(field, b' ').unwrap_or(field.len());
    let token = field.get(..token_len).unwrap_or_default();
    if all_digits(token) {
        if token.iter().all(|&b| b == b'0') {
            return None; // empty or all zeros
        }
        if (12..=19).contains(&token.len()) {
            return MaskedPan::from_checked_digits(token);
        }
        for len in [16usize, 19, 18, 17, 15, 14, 13, 12] {
            let pan = token
                .get(..len)
                .and_then(|t| core::str::from_utf8(t).ok())
                .and_then(|t| Pan::new(t).ok());
            if let Some(pan) = pan.filter(Pan::luhn_ok) {
                return Some(pan.masked());
            }
        }
        return None;
    }
    // Printable ASCII, so valid UTF-8.
    let text = core::str::from_utf8(token).ok()?;
    MaskedPan::parse(text).ok()
}

fn emit_report(pan: Option<&MaskedPan>, out: &mut [u8]) -> Result<()> {
    if pan.is_some_and(|pan| pan.len().max(10) > out.len()) {
        return Err(Error::ConcertField { field: "pan" });
    }
    // The masked number as it displays, then blanks, one byte at a time: no `core::fmt`, and
    // no fill (LLVM makes a fill or a copy of a blank field a `memset` call, which links
    // 400 bytes of flash on a Cortex-M4 for this one field).
    for (i, b) in out.iter_mut().enumerate() {
        *b = pan.and_then(|pan| pan.ascii_at(i)).unwrap_or(b' ');
    }
    Ok(())
}

/// A Concert message of either direction, told apart by its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConcertMessage {
    /// Till → terminal.
    Request(ConcertRequest),
    /// Terminal → till.
    Answer(ConcertAnswer),
}

impl ConcertMessage {
    /// Parses a payload: 34 bytes a request, 80 or 25 an answer.
    ///
    /// (Inlining hints in the hot codecs apply on 64-bit hosts only: there they save the
    /// calls; on a 32-bit microcontroller, built for size, the compiler decides.)
    // `always`, not a hint: with a hint LLVM inlines it only while the binary has a single
    // call site, and a second one (the probe's byte loop) cost 25 x86 instructions per frame
    // (docs/PERFORMANCE.md, "Bytes one at a time").
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn parse(payload: &[u8]) -> Result<Self> {
        match payload.len() {
            request::LEN => ConcertRequest::parse(payload).map(ConcertMessage::Request),
            answer::FULL_LEN | answer::SHORT_LEN => {
                ConcertAnswer::parse(payload).map(ConcertMessage::Answer)
            }
            len => Err(Error::ConcertLength { len }),
        }
    }

    /// Parses one whole frame (STX payload ETX LRC) at the start of `frame`, as captured on
    /// the line; returns the message and the LRC byte. Bytes after the frame are an error
    /// ([`Error::LinkMalformedFrame`]).
    pub fn parse_frame(frame: &[u8]) -> Result<(Self, u8)> {
        let view = decode_frame(frame, Checksum::Lrc)?;
        if view.len != frame.len() {
            return Err(Error::LinkMalformedFrame);
        }
        let msg = Self::parse(view.payload)?;
        Ok((msg, view.lrc.unwrap_or_default()))
    }

    /// Writes the payload into `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        match self {
            ConcertMessage::Request(r) => r.emit(out),
            ConcertMessage::Answer(a) => a.emit(out),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec as StdVec;

    use super::*;
    use proptest::prelude::*;

    /// The example request from DESIGN.md: POS 01, 12.50 EUR, full answer, card, debit.
    const EXAMPLE_FRAME: [u8; 37] = *b"\x020100001250110978          A010B010\x03\x01";

    fn example() -> ConcertRequest {
        ConcertRequest {
            pos: 1,
            amount_minor: 1250,
            answer: AnswerForm::Full,
            payment_mode: PaymentMode::Card,
            transaction: TransactionType::Debit,
            currency_numeric: 978,
            private: PrivateData::BLANK,
            delay: Delay::AfterTransaction,
            authorization: Authorization::Normal,
        }
    }

    #[test]
    fn design_example_decodes_and_reencodes_byte_identically() {
        let (msg, lrc) = ConcertMessage::parse_frame(&EXAMPLE_FRAME).unwrap();
        assert_eq!(lrc, 0x01);
        assert_eq!(msg, ConcertMessage::Request(example()));
        let mut out = [0u8; 64];
        let n = example().emit_frame(&mut out).unwrap();
        assert_eq!(&out[..n], &EXAMPLE_FRAME[..]);
    }

    /// Encode/decode table, both directions, one row per field value that changes bytes.
    #[test]
    fn request_table() {
        let rows: &[(ConcertRequest, &[u8; 34])] = &[
            (example(), b"0100001250110978          A010B010"),
            (
                ConcertRequest {
                    pos: 99,
                    amount_minor: MAX_AMOUNT_MINOR,
                    answer: AnswerForm::Short,
                    payment_mode: PaymentMode::Cheque,
                    transaction: TransactionType::Refund,
                    currency_numeric: 203,
                    private: PrivateData::from_text("INV-000042").unwrap(),
                    delay: Delay::Immediate,
                    authorization: Authorization::Forced,
                },
                b"99999999990C2203INV-000042A011B011",
            ),
            (
                ConcertRequest {
                    pos: 0,
                    amount_minor: 1,
                    transaction: TransactionType::Credit,
                    payment_mode: PaymentMode::Unknown(b'Z'),
                    currency_numeric: 8,
                    ..example()
                },
                b"00000000011Z1008          A010B010",
            ),
            (
                ConcertRequest {
                    transaction: TransactionType::Auto,
                    payment_mode: PaymentMode::Amex,
                    ..example()
                },
                b"0100001250124978          A010B010",
            ),
        ];
        for (value, bytes) in rows {
            let mut out = [0u8; 34];
            assert_eq!(value.emit(&mut out), Ok(34));
            assert_eq!(&out, *bytes, "{value:?}");
            assert_eq!(ConcertRequest::parse(*bytes).as_ref(), Ok(value));
        }
    }

    fn visa() -> MaskedPan {
        Pan::new("4970100000000014").unwrap().masked()
    }

    #[test]
    fn answer_table() {
        let full = ConcertAnswer {
            pos: 1,
            status: Status::Success,
            amount_minor: 1250,
            payment_mode: PaymentMode::Card,
            form: AnswerForm::Full,
            pan: Some(visa()),
            currency_numeric: 978,
            private: PrivateData::BLANK,
        };
        let mut full_bytes = StdVec::new();
        full_bytes.extend_from_slice(b"0100000125014970");
        full_bytes.extend_from_slice(b"10******0014");
        full_bytes.extend_from_slice(&[b' '; 55 - 16]);
        full_bytes.extend_from_slice(b"978          ");
        assert_eq!(full_bytes.len(), 80);
        let short = ConcertAnswer {
            status: Status::Rejected,
            form: AnswerForm::Short,
            pan: None,
            private: PrivateData::from_text("0000000000").unwrap(),
            ..full
        };
        let short_bytes = b"0170000125019780000000000";
        let rows: [(ConcertAnswer, &[u8]); 2] = [(full, &full_bytes), (short, short_bytes)];
        for (value, bytes) in rows {
            let mut out = [0u8; 80];
            let n = value.emit(&mut out).unwrap();
            assert_eq!(&out[..n], bytes);
            assert_eq!(ConcertAnswer::parse(bytes), Ok(value));
        }
        // The frame sizes of DESIGN.md / pyTeliumManager constants: 83 and 28.
        let mut out = [0u8; 90];
        assert_eq!(full.emit_frame(&mut out), Ok(83));
        assert_eq!(short.emit_frame(&mut out), Ok(28));
    }

    #[test]
    fn report_field_reading() {
        let answer_with = |report: &[u8]| {
            let mut p = StdVec::from(&b"010000001250"[..]);
            p.extend_from_slice(report);
            p.resize(67, b' ');
            p.extend_from_slice(b"9780000000000");
            ConcertAnswer::parse(&p).map(|a| a.pan)
        };
        // A full PAN (the fake terminal of pyTeliumManager's tests: PAN, two spaces, zeros)
        // is masked at once.
        let mut r = StdVec::from(&b"4970100000000014  "[..]);
        r.extend_from_slice(&[b'0'; 37]);
        assert_eq!(answer_with(&r), Ok(Some(visa())));
        // pyTeliumManager's README: a 16-digit PAN followed by zeros to the end of the field.
        let readme = b"4711690463168807000000000000000000000000000000000000000";
        let pan = answer_with(readme).unwrap().unwrap();
        extern crate std;
        use std::string::ToString;
        assert_eq!(pan.to_string(), "471169******8807");
        assert_eq!(
            answer_with(&[b'0'; 55]),
            Ok(None),
            "pyTeliumManager's test filler"
        );
        assert_eq!(answer_with(b""), Ok(None));
        assert_eq!(answer_with(b"CMC7 1234"), Ok(None));
        assert_eq!(
            answer_with(b"49701000\x0100000014"),
            Err(Error::ConcertField { field: "report" })
        );
    }

    /// The reading of the report field written the plain way (the behaviour documented on
    /// [`parse_report`]), as the reference for the one-pass [`report_pan`].
    fn report_reference(field: &[u8]) -> Option<MaskedPan> {
        let token_len = field.iter().position(|&b| b == b' ').unwrap_or(field.len());
        let token = &field[..token_len];
        if token.iter().all(|&b| b == b'0') {
            return None;
        }
        if token.iter().all(u8::is_ascii_digit) {
            if (12..=19).contains(&token.len()) {
                return MaskedPan::from_digits(token);
            }
            return [16usize, 19, 18, 17, 15, 14, 13, 12]
                .iter()
                .find_map(|&len| {
                    let digits = core::str::from_utf8(token.get(..len)?).ok()?;
                    Pan::new(digits)
                        .ok()
                        .filter(Pan::luhn_ok)
                        .map(|p| p.masked())
                });
        }
        MaskedPan::parse(core::str::from_utf8(token).ok()?).ok()
    }

    #[test]
    fn parse_errors_name_the_field() {
        let cases: &[(&[u8], Error)] = &[
            (b"", Error::ConcertLength { len: 0 }),
            (b"0100001250110978", Error::ConcertLength { len: 16 }),
            (
                b"x100001250110978          A010B010",
                Error::ConcertField { field: "pos" },
            ),
            (
                b"01000012-0110978          A010B010",
                Error::ConcertField { field: "amount" },
            ),
            (
                b"0100001250210978          A010B010",
                Error::ConcertField {
                    field: "answer_flag",
                },
            ),
            (
                b"010000125011 978          A010B010",
                Error::ConcertField {
                    field: "transaction_type",
                },
            ),
            (
                b"0100001250113978          A010B010",
                Error::ConcertField {
                    field: "transaction_type",
                },
            ),
            (
                b"01000012501109x8          A010B010",
                Error::ConcertField { field: "currency" },
            ),
            (
                b"0100001250110978    \x7f     A010B010",
                Error::ConcertField { field: "private" },
            ),
            (
                b"0100001250110978          A020B010",
                Error::ConcertField { field: "delay" },
            ),
            (
                b"0100001250110978          A010C010",
                Error::ConcertField {
                    field: "authorization",
                },
            ),
            (
                b"01000012501 0978          A010B010",
                Error::ConcertField {
                    field: "payment_mode",
                },
            ),
            (
                b"01 000012501978          ",
                Error::ConcertField { field: "status" },
            ),
        ];
        for (bytes, err) in cases {
            assert_eq!(
                ConcertMessage::parse(bytes),
                Err(*err),
                "{:?}",
                core::str::from_utf8(bytes)
            );
        }
        let mut bad_lrc = EXAMPLE_FRAME;
        bad_lrc[5] ^= 0x04;
        assert!(matches!(
            ConcertMessage::parse_frame(&bad_lrc),
            Err(Error::LinkBadLrc { received: 0x01, .. })
        ));
        assert_eq!(
            ConcertMessage::parse_frame(&EXAMPLE_FRAME[..30]),
            Err(Error::Truncated { what: "frame" })
        );
        let mut trailing = StdVec::from(&EXAMPLE_FRAME[..]);
        trailing.push(0);
        assert_eq!(
            ConcertMessage::parse_frame(&trailing),
            Err(Error::LinkMalformedFrame)
        );
    }

    #[test]
    fn emit_errors_leave_output_untouched() {
        let mut out = [0xAAu8; 34];
        let too_much = ConcertRequest {
            amount_minor: MAX_AMOUNT_MINOR + 1,
            ..example()
        };
        assert_eq!(too_much.emit(&mut out), Err(Error::AmountTooLarge));
        let bad_pos = ConcertRequest {
            pos: 100,
            ..example()
        };
        assert_eq!(
            bad_pos.emit(&mut out),
            Err(Error::ConcertField { field: "pos" })
        );
        let bad_mode = ConcertRequest {
            payment_mode: PaymentMode::Unknown(b'1'),
            ..example()
        };
        assert!(bad_mode.emit(&mut out).is_err());
        assert_eq!(
            example().emit(&mut out[..33]),
            Err(Error::BufferTooSmall { needed: 34 })
        );
        assert_eq!(out, [0xAA; 34]);
        let short_with_pan = ConcertAnswer {
            pos: 1,
            status: Status::Success,
            amount_minor: 1,
            payment_mode: PaymentMode::Card,
            form: AnswerForm::Short,
            pan: Some(visa()),
            currency_numeric: 978,
            private: PrivateData::BLANK,
        };
        assert_eq!(
            short_with_pan.emit(&mut [0; 80]),
            Err(Error::ConcertField { field: "pan" })
        );
    }

    // ----- property tests -----

    fn any_mode() -> impl Strategy<Value = PaymentMode> {
        proptest::char::range('0', 'z')
            .prop_filter("alphanumeric", |c| c.is_ascii_alphanumeric())
            .prop_map(|c| PaymentMode::from_code(c as u8).unwrap())
    }

    fn any_private() -> impl Strategy<Value = PrivateData> {
        proptest::collection::vec(0x20u8..0x7f, 10)
            .prop_map(|v| PrivateData::from_bytes(&v).unwrap())
    }

    pub(crate) fn any_request() -> impl Strategy<Value = ConcertRequest> {
        (
            0u8..=99,
            0..=MAX_AMOUNT_MINOR,
            any::<bool>(),
            any_mode(),
            prop_oneof![
                Just(TransactionType::Debit),
                Just(TransactionType::Credit),
                Just(TransactionType::Refund),
                Just(TransactionType::Auto)
            ],
            0u16..=999,
            any_private(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(
                    pos,
                    amount_minor,
                    full,
                    payment_mode,
                    transaction,
                    cur,
                    private,
                    imm,
                    forced,
                )| {
                    ConcertRequest {
                        pos,
                        amount_minor,
                        answer: if full {
                            AnswerForm::Full
                        } else {
                            AnswerForm::Short
                        },
                        payment_mode,
                        transaction,
                        currency_numeric: cur,
                        private,
                        delay: if imm {
                            Delay::Immediate
                        } else {
                            Delay::AfterTransaction
                        },
                        authorization: if forced {
                            Authorization::Forced
                        } else {
                            Authorization::Normal
                        },
                    }
                },
            )
    }

    fn any_pan() -> impl Strategy<Value = MaskedPan> {
        proptest::collection::vec(b'0'..=b'9', 12..=19).prop_map(|d| {
            Pan::new(core::str::from_utf8(&d).unwrap())
                .unwrap()
                .masked()
        })
    }

    fn any_answer() -> impl Strategy<Value = ConcertAnswer> {
        (
            0u8..=99,
            proptest::char::range('0', 'z').prop_filter("alnum", |c| c.is_ascii_alphanumeric()),
            0..=MAX_AMOUNT_MINOR,
            any_mode(),
            any::<bool>(),
            proptest::option::of(any_pan()),
            0u16..=999,
            any_private(),
        )
            .prop_map(
                |(pos, status, amount_minor, payment_mode, full, pan, cur, private)| {
                    ConcertAnswer {
                        pos,
                        status: Status::from_code(status as u8).unwrap(),
                        amount_minor,
                        payment_mode,
                        form: if full {
                            AnswerForm::Full
                        } else {
                            AnswerForm::Short
                        },
                        pan: if full { pan } else { None },
                        currency_numeric: cur,
                        private,
                    }
                },
            )
    }

    /// Every single-byte change of every position of a valid request, full answer and short
    /// answer: the fast path and the field-by-field path agree on each.
    #[test]
    fn fast_path_agrees_for_every_single_byte_change() {
        let mut report = [b' '; 55];
        report[..16].copy_from_slice(b"4111111111111111");
        let full_payload = [&b"010000012501"[..], &report, b"978", b"0000123456"].concat();
        let answer = ConcertAnswer::parse(&full_payload).unwrap();
        assert!(answer.pan.is_some());
        let short = ConcertAnswer {
            form: AnswerForm::Short,
            pan: None,
            ..answer
        };
        let request: [u8; 34] = EXAMPLE_FRAME[1..35].try_into().unwrap();
        let mut full = [0u8; 80];
        answer.emit(&mut full).unwrap();
        let mut short_bytes = [0u8; 25];
        short.emit(&mut short_bytes).unwrap();
        let mut fast_taken = 0;
        for base in [&request[..], &full[..], &short_bytes[..]] {
            for at in 0..base.len() {
                for b in crate::ascii::test_bytes() {
                    let mut v = base.to_vec();
                    v[at] = b;
                    if v.len() == ConcertRequest::LEN {
                        let fields = ConcertRequest::parse_fields(&v);
                        assert_eq!(ConcertRequest::parse_fast(&v), fields.ok(), "{v:?}");
                        fast_taken += usize::from(fields.is_ok());
                    } else {
                        let fields = ConcertAnswer::parse_fields(&v);
                        assert_eq!(ConcertAnswer::parse_fast(&v), fields.ok(), "{v:?}");
                        fast_taken += usize::from(fields.is_ok());
                    }
                }
            }
        }
        assert!(fast_taken > 300, "only {fast_taken} valid variants");
    }

    proptest! {
        #[test]
        fn request_emit_then_parse_is_identity(r in any_request()) {
            let mut out = [0u8; 34];
            prop_assert_eq!(r.emit(&mut out), Ok(34));
            prop_assert_eq!(ConcertRequest::parse(&out), Ok(r));
            let mut frame = [0u8; 40];
            let n = r.emit_frame(&mut frame).unwrap();
            prop_assert_eq!(ConcertMessage::parse_frame(&frame[..n]).map(|m| m.0), Ok(ConcertMessage::Request(r)));
        }

        #[test]
        fn answer_emit_then_parse_is_identity(a in any_answer()) {
            let mut out = [0u8; 80];
            let n = a.emit(&mut out).unwrap();
            prop_assert_eq!(n, a.len());
            prop_assert_eq!(ConcertAnswer::parse(&out[..n]), Ok(a));
        }

        /// The fast path and the field-by-field path give the same value or the same error
        /// for valid messages with up to three bytes changed (any value, or one near the
        /// edges of the layout's ranges), and the fast path takes every valid message.
        #[test]
        fn fast_and_field_by_field_paths_agree(
            which in 0..3u8,
            r in any_request(),
            a in any_answer(),
            edits in proptest::collection::vec(
                (any::<prop::sample::Index>(), prop_oneof![
                    any::<u8>(),
                    prop::sample::select(&b"/0129:@ABCYZ[`az{ ~\x7f\x80\x1f*X"[..]),
                ]),
                0..4,
            ),
        ) {
            let mut out = [0u8; 80];
            let n = match which {
                0 => r.emit(&mut out).unwrap(),
                1 => a.emit(&mut out).unwrap(),
                _ => ConcertAnswer { form: AnswerForm::Short, pan: None, ..a }.emit(&mut out).unwrap(),
            };
            let bytes = &mut out[..n];
            for (at, b) in &edits {
                bytes[at.index(n)] = *b;
            }
            let bytes = &*bytes;
            let (fields, fast, parsed) = if n == ConcertRequest::LEN {
                (
                    ConcertRequest::parse_fields(bytes).map(ConcertMessage::Request),
                    ConcertRequest::parse_fast(bytes).map(ConcertMessage::Request),
                    ConcertRequest::parse(bytes).map(ConcertMessage::Request),
                )
            } else {
                (
                    ConcertAnswer::parse_fields(bytes).map(ConcertMessage::Answer),
                    ConcertAnswer::parse_fast(bytes).map(ConcertMessage::Answer),
                    ConcertAnswer::parse(bytes).map(ConcertMessage::Answer),
                )
            };
            prop_assert_eq!(parsed, fields);
            prop_assert_eq!(fast, fields.ok());
        }

        #[test]
        fn report_reading_agrees_with_the_plain_reference(
            digits in 0usize..24,
            tail in proptest::collection::vec(prop_oneof![
                Just(b' '), Just(b'0'), b'0'..=b'9', Just(b'*'), Just(b'X'), 0x20u8..0x7f,
            ], 0..55),
            zeros in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut field = [b' '; 55];
            let mut x = seed;
            for slot in field.iter_mut().take(digits) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *slot = if zeros { b'0' } else { b'0' + (x >> 60) as u8 % 10 };
            }
            for (slot, b) in field.iter_mut().skip(digits).zip(&tail) {
                *slot = *b;
            }
            prop_assert_eq!(report_pan(&field), report_reference(&field));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = ConcertMessage::parse(&bytes);
            let _ = ConcertMessage::parse_frame(&bytes);
        }

        /// Bytes of the right length and alphabet mostly parse; whatever parses emits back
        /// to the same bytes, except the report field (masked, padded) of a full answer.
        #[test]
        fn parse_then_emit_gives_the_bytes_back(
            len in prop_oneof![Just(34usize), Just(25usize)],
            bytes in proptest::collection::vec(prop_oneof![b'0'..=b'9', Just(b' '), Just(b'A'), Just(b'B')], 34),
        ) {
            let bytes = &bytes[..len];
            if let Ok(m) = ConcertMessage::parse(bytes) {
                let mut out = [0u8; 80];
                let n = m.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..n], bytes);
            }
        }
    }
}
