//! The one-character and fixed-width fields of Concert V2 messages, as typed values.
//!
//! Codes and meanings come from the public client libraries: `Ousret/pyTeliumManager`
//! `telium/constant.py` (answer flag, transaction type, payment mode, delay, authorization,
//! result) and `akretion/pypostelium` `pypostelium.py` (`prepare_data_to_send`).

use crate::{Error, Result};

/// Which answer the till asks for (request byte 10; `TERMINAL_ANSWER_SET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AnswerForm {
    /// `'0'`: the short answer (25-byte payload, 28-byte frame) without card data.
    Short,
    /// `'1'`: the full answer (80-byte payload, 83-byte frame) with the 55-character field
    /// that carries the card number.
    Full,
}

impl AnswerForm {
    /// The byte on the wire.
    pub const fn code(self) -> u8 {
        match self {
            AnswerForm::Short => b'0',
            AnswerForm::Full => b'1',
        }
    }

    /// The form for a wire byte.
    pub fn from_code(b: u8) -> Result<Self> {
        match b {
            b'0' => Ok(AnswerForm::Short),
            b'1' => Ok(AnswerForm::Full),
            _ => Err(Error::ConcertField {
                field: "answer_flag",
            }),
        }
    }

    /// `short` or `full`.
    pub const fn name(self) -> &'static str {
        match self {
            AnswerForm::Short => "short",
            AnswerForm::Full => "full",
        }
    }
}

/// The transaction the till asks for (request byte 12; pyTeliumManager
/// `TERMINAL_MODE_PAYMENT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransactionType {
    /// `'0'` debit: a payment (pypostelium always sends this).
    Debit,
    /// `'1'` credit: money credited to the card.
    Credit,
    /// `'2'` refund (`TERMINAL_MODE_PAYMENT_REFUND`).
    Refund,
    /// `'4'` auto (`TERMINAL_MODE_PAYMENT_AUTO`): the public sources do not say more.
    Auto,
}

impl TransactionType {
    /// The byte on the wire.
    pub const fn code(self) -> u8 {
        match self {
            TransactionType::Debit => b'0',
            TransactionType::Credit => b'1',
            TransactionType::Refund => b'2',
            TransactionType::Auto => b'4',
        }
    }

    /// The type for a wire byte.
    pub fn from_code(b: u8) -> Result<Self> {
        match b {
            b'0' => Ok(TransactionType::Debit),
            b'1' => Ok(TransactionType::Credit),
            b'2' => Ok(TransactionType::Refund),
            b'4' => Ok(TransactionType::Auto),
            _ => Err(Error::ConcertField {
                field: "transaction_type",
            }),
        }
    }

    /// `debit`, `credit`, `refund` or `auto`.
    pub const fn name(self) -> &'static str {
        match self {
            TransactionType::Debit => "debit",
            TransactionType::Credit => "credit",
            TransactionType::Refund => "refund",
            TransactionType::Auto => "auto",
        }
    }
}

/// How the customer pays (request byte 11, answer byte 11; pyTeliumManager
/// `TERMINAL_TYPE_PAYMENT_*`, pypostelium: `'1'` card, `'C'` cheque).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PaymentMode {
    /// `'1'` bank card.
    Card,
    /// `'C'` cheque.
    Cheque,
    /// `'2'` American Express.
    Amex,
    /// `'3'` Cetelem.
    Cetelem,
    /// `'5'` Cofinoga.
    Cofinoga,
    /// `'6'` Diners.
    Diners,
    /// `'8'` Franfinance.
    Franfinance,
    /// `'9'` JCB.
    Jcb,
    /// `'A'` Accord Finance.
    AccordFinance,
    /// `'O'` Moneo (electronic purse).
    Moneo,
    /// `'U'` China UnionPay.
    Cup,
    /// `'F'` Fintrax EMV.
    FintraxEmv,
    /// `'0'` other.
    Other,
    /// Another letter or digit the public sources do not name; kept as received.
    Unknown(u8),
}

/// The named payment modes, one list: wire byte, mode, name. It becomes two short arrays
/// (the wire bytes, the modes: 39 bytes of flash) searched by `code` and `named`, and a
/// `match` for `name`, which is not linked where nothing asks for it; no 128-byte reverse
/// table.
macro_rules! payment_modes {
    ($(($code:literal, $mode:ident, $name:literal)),* $(,)?) => {
        /// The wire bytes of the named modes, in the order of [`NAMED_MODES`].
        const NAMED_CODES: &[u8] = &[$($code),*];
        /// The named modes, in the order of [`NAMED_CODES`].
        const NAMED_MODES: &[PaymentMode] = &[$(PaymentMode::$mode),*];

        impl PaymentMode {
            /// A lower-case name (`card`, `cheque`, …, `unknown`).
            pub fn name(self) -> &'static str {
                match self {
                    $(PaymentMode::$mode => $name,)*
                    PaymentMode::Unknown(_) => "unknown",
                }
            }
        }
    };
}

payment_modes![
    (b'1', Card, "card"),
    (b'C', Cheque, "cheque"),
    (b'2', Amex, "amex"),
    (b'3', Cetelem, "cetelem"),
    (b'5', Cofinoga, "cofinoga"),
    (b'6', Diners, "diners"),
    (b'8', Franfinance, "franfinance"),
    (b'9', Jcb, "jcb"),
    (b'A', AccordFinance, "accord-finance"),
    (b'O', Moneo, "moneo"),
    (b'U', Cup, "cup"),
    (b'F', FintraxEmv, "fintrax-emv"),
    (b'0', Other, "other"),
];

impl PaymentMode {
    /// The byte on the wire. [`PaymentMode::Unknown`] gives its byte back unchecked; the
    /// emitters check it with [`PaymentMode::validate`].
    pub fn code(self) -> u8 {
        match self {
            PaymentMode::Unknown(b) => b,
            known => NAMED_MODES
                .iter()
                .position(|&m| m == known)
                .and_then(|i| NAMED_CODES.get(i))
                .copied()
                .unwrap_or(b'0'),
        }
    }

    /// The named mode of a wire byte, if any.
    fn named(b: u8) -> Option<Self> {
        NAMED_CODES
            .iter()
            .position(|&c| c == b)
            .and_then(|i| NAMED_MODES.get(i))
            .copied()
    }

    /// The mode for a wire byte: a named one, or [`PaymentMode::Unknown`] for another ASCII
    /// letter or digit.
    pub fn from_code(b: u8) -> Result<Self> {
        if let Some(m) = Self::named(b) {
            return Ok(m);
        }
        if b.is_ascii_alphanumeric() {
            Ok(PaymentMode::Unknown(b))
        } else {
            Err(Error::ConcertField {
                field: "payment_mode",
            })
        }
    }

    /// Checks that an [`PaymentMode::Unknown`] byte is a letter or digit that no named mode
    /// uses (so that it reads back as itself).
    pub fn validate(self) -> Result<Self> {
        match PaymentMode::from_code(self.code()) {
            Ok(m) if m == self => Ok(self),
            _ => Err(Error::ConcertField {
                field: "payment_mode",
            }),
        }
    }
}

/// When the terminal answers (request bytes 26–29; `TERMINAL_REQUEST_ANSWER_*`).
///
/// What the terminal does with each (see [`super::ConcertTerminal`]):
/// - `A010` ([`Delay::AfterTransaction`], pyTeliumManager
///   `TERMINAL_REQUEST_ANSWER_WAIT_FOR_TRANSACTION`): one answer, after the transaction, with
///   its result. pyTeliumManager's `verify` waits up to 120 s for it
///   (`DELAY_TERMINAL_ANSWER_TRANSACTION`).
/// - `A011` ([`Delay::Immediate`], `TERMINAL_REQUEST_ANSWER_INSTANT`): one answer, at once,
///   "without valid status" (pyTeliumManager `telium/payment.py` `TeliumAsk.delay`; and
///   `new_payment`: `wait_for_transaction_to_end` "Set to True if you need valid transaction
///   status otherwise, set it to False"): status `'9'` (not verified) and the request's
///   amount; the transaction then runs on the terminal and its result is not sent to the
///   till. pypostelium (`pypostelium.py` `prepare_data_to_send`) always sends `A011` and
///   gives up when the answer's ENQ has not come 3 s after its request (serial timeout 3 s,
///   `transaction_start`); it does not read the status at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Delay {
    /// `A010`: after the transaction, with its result.
    AfterTransaction,
    /// `A011`: at once, without a valid result (status `'9'`).
    Immediate,
}

impl Delay {
    /// The four bytes on the wire.
    pub const fn code(self) -> &'static [u8; 4] {
        match self {
            Delay::AfterTransaction => b"A010",
            Delay::Immediate => b"A011",
        }
    }

    /// The delay for its four wire bytes.
    pub fn from_code(b: &[u8]) -> Result<Self> {
        match b {
            b"A010" => Ok(Delay::AfterTransaction),
            b"A011" => Ok(Delay::Immediate),
            _ => Err(Error::ConcertField { field: "delay" }),
        }
    }

    /// `after-transaction` or `immediate`.
    pub const fn name(self) -> &'static str {
        match self {
            Delay::AfterTransaction => "after-transaction",
            Delay::Immediate => "immediate",
        }
    }
}

/// Whether the terminal must ask the bank (request bytes 30–33;
/// `TERMINAL_FORCE_AUTHORIZATION_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Authorization {
    /// `B010`: the terminal decides.
    Normal,
    /// `B011`: authorization at the bank forced.
    Forced,
}

impl Authorization {
    /// The four bytes on the wire.
    pub const fn code(self) -> &'static [u8; 4] {
        match self {
            Authorization::Normal => b"B010",
            Authorization::Forced => b"B011",
        }
    }

    /// The authorization for its four wire bytes.
    pub fn from_code(b: &[u8]) -> Result<Self> {
        match b {
            b"B010" => Ok(Authorization::Normal),
            b"B011" => Ok(Authorization::Forced),
            _ => Err(Error::ConcertField {
                field: "authorization",
            }),
        }
    }

    /// `normal` or `forced`.
    pub const fn name(self) -> &'static str {
        match self {
            Authorization::Normal => "normal",
            Authorization::Forced => "forced",
        }
    }
}

/// The result of the transaction (answer byte 2; pyTeliumManager `TERMINAL_PAYMENT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// `'0'`: success.
    Success,
    /// `'7'`: rejected.
    Rejected,
    /// `'9'`: not verified (the answer does not carry a valid result, e.g. after `A011`).
    NotVerified,
    /// Another digit or letter; the public sources name only the three above.
    Unknown(u8),
}

impl Status {
    /// The byte on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Status::Success => b'0',
            Status::Rejected => b'7',
            Status::NotVerified => b'9',
            Status::Unknown(b) => b,
        }
    }

    /// The status for a wire byte (an ASCII letter or digit).
    pub fn from_code(b: u8) -> Result<Self> {
        match b {
            b'0' => Ok(Status::Success),
            b'7' => Ok(Status::Rejected),
            b'9' => Ok(Status::NotVerified),
            b if b.is_ascii_alphanumeric() => Ok(Status::Unknown(b)),
            _ => Err(Error::ConcertField { field: "status" }),
        }
    }

    /// Checks that an [`Status::Unknown`] byte reads back as itself.
    pub fn validate(self) -> Result<Self> {
        match Status::from_code(self.code()) {
            Ok(s) if s == self => Ok(self),
            _ => Err(Error::ConcertField { field: "status" }),
        }
    }

    /// `success`, `rejected`, `not-verified` or `unknown`.
    pub const fn name(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Rejected => "rejected",
            Status::NotVerified => "not-verified",
            Status::Unknown(_) => "unknown",
        }
    }
}

/// The 10-character private field. Both public clients send it blank; pyTeliumManager
/// documents it as "Terminal reserved. used to store authorization id if any"
/// (`TeliumData.__init__`) and reads the answer's copy as the "transaction id generated by
/// device if available" (`TeliumResponse.transaction_id`); pypostelium compares the answer's
/// copy with its request's and warns when they differ (`compare_data_vs_answer`). What this
/// terminal puts in the answer: [`super::map::private_for`].
/// Printable ASCII, left-aligned, padded with spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PrivateData([u8; PrivateData::LEN]);

impl PrivateData {
    /// Width of the field.
    pub const LEN: usize = 10;
    /// Ten spaces (what the public clients send).
    pub const BLANK: PrivateData = PrivateData([b' '; PrivateData::LEN]);

    /// The field holding `text` (at most 10 printable ASCII characters), padded with spaces.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut raw = [b' '; Self::LEN];
        if text.len() > Self::LEN {
            return Err(Error::ConcertField { field: "private" });
        }
        for (dst, src) in raw.iter_mut().zip(text.bytes()) {
            *dst = src;
        }
        Self::from_bytes(&raw)
    }

    /// The field from its 10 wire bytes (printable ASCII).
    pub fn from_bytes(raw: &[u8]) -> Result<Self> {
        let arr: &[u8; Self::LEN] = raw
            .try_into()
            .map_err(|_| Error::ConcertField { field: "private" })?;
        Self::from_array(arr)
    }

    /// The field from exactly 10 wire bytes (printable ASCII).
    pub fn from_array(raw: &[u8; Self::LEN]) -> Result<Self> {
        if !crate::ascii::all_printable(raw) {
            return Err(Error::ConcertField { field: "private" });
        }
        Ok(PrivateData(*raw))
    }

    /// The field from bytes a caller already checked to be printable ASCII.
    pub(crate) const fn from_checked(raw: [u8; Self::LEN]) -> Self {
        PrivateData(raw)
    }

    /// The 10 wire bytes.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The field as text, padding included.
    pub fn as_str(&self) -> &str {
        // Printable ASCII by construction.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The text without its trailing spaces.
    pub fn trimmed(&self) -> &str {
        self.as_str().trim_end_matches(' ')
    }

    /// [`PrivateData::trimmed`] as bytes: no UTF-8 check, no string machinery (what the
    /// firmware's till link uses).
    pub fn trimmed_bytes(&self) -> &[u8] {
        let mut len = Self::LEN;
        while len > 0 && self.0.get(len - 1) == Some(&b' ') {
            len -= 1;
        }
        self.0.get(..len).unwrap_or_default()
    }
}

impl Default for PrivateData {
    fn default() -> Self {
        PrivateData::BLANK
    }
}

/// Writes `value` as zero-padded digits filling `out`; too large a value is `err`.
pub(crate) fn put_digits(out: &mut [u8], mut value: u64, err: Error) -> Result<()> {
    for slot in out.iter_mut().rev() {
        let (rest, digit) = crate::num::div_rem_u64(value, 10);
        // `digit` is below 10.
        *slot = b'0' + digit as u8;
        value = rest;
    }
    if value == 0 { Ok(()) } else { Err(err) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for b in 0u8..=255 {
            if let Ok(m) = PaymentMode::from_code(b) {
                assert_eq!(m.code(), b);
                assert_eq!(m.validate(), Ok(m));
            }
            if let Ok(s) = Status::from_code(b) {
                assert_eq!(s.code(), b);
            }
            if let Ok(t) = TransactionType::from_code(b) {
                assert_eq!(t.code(), b);
            }
            if let Ok(a) = AnswerForm::from_code(b) {
                assert_eq!(a.code(), b);
            }
        }
        assert_eq!(PaymentMode::from_code(b'1'), Ok(PaymentMode::Card));
        assert_eq!(PaymentMode::from_code(b'C'), Ok(PaymentMode::Cheque));
        assert!(PaymentMode::from_code(b' ').is_err());
        assert!(PaymentMode::Unknown(b'1').validate().is_err());
        assert!(Status::Unknown(b'0').validate().is_err());
        assert_eq!(Delay::from_code(b"A011"), Ok(Delay::Immediate));
        assert!(Delay::from_code(b"A012").is_err());
        assert_eq!(Authorization::from_code(b"B011"), Ok(Authorization::Forced));
    }

    #[test]
    fn private_data() {
        let p = PrivateData::from_text("INV42").unwrap();
        assert_eq!(p.as_bytes(), b"INV42     ");
        assert_eq!(p.trimmed(), "INV42");
        assert!(PrivateData::from_text("12345678901").is_err());
        assert!(PrivateData::from_bytes(b"abc\x01      ").is_err());
        assert_eq!(PrivateData::default().trimmed(), "");
    }

    #[test]
    fn digit_fields() {
        let mut out = [0u8; 8];
        put_digits(&mut out, 1250, Error::AmountTooLarge).unwrap();
        assert_eq!(&out, b"00001250");
        assert_eq!(
            put_digits(&mut out, 100_000_000, Error::AmountTooLarge),
            Err(Error::AmountTooLarge)
        );
    }
}
