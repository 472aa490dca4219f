//! The code tables of the ČSOB "B" protocol: message types, transaction codes (field `T`),
//! result codes (field `R`), header flags and receipt selectors.
//!
//! Source for every value: the public client `l1zard/react-native-enigoo-terminal`, folder
//! `android/src/main/java/com/enigoo/terminal/csob/` — `enums/ProtocolTypes.java` (B0–B4),
//! `enums/TransactionTypes.java` (T codes), `Response.java` (R codes, flag bits),
//! `Payment.java` (request flags, receipt selectors). The meanings are that client's names.

use heapless::String;

use crate::{Error, Result};

/// The message type: the first two header characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageType {
    /// `B0`: acknowledge / activity. The terminal answers every B1 with one at once; the ECR
    /// confirms every B2 and B4 with one.
    Activity,
    /// `B1`: transaction request (ECR → terminal).
    TransactionRequest,
    /// `B2`: transaction response (terminal → ECR).
    TransactionResponse,
    /// `B3`: ticket (receipt) request (ECR → terminal).
    TicketRequest,
    /// `B4`: ticket (receipt) response (terminal → ECR).
    TicketResponse,
}

impl MessageType {
    /// The two characters on the wire.
    pub const fn code(self) -> &'static str {
        match self {
            MessageType::Activity => "B0",
            MessageType::TransactionRequest => "B1",
            MessageType::TransactionResponse => "B2",
            MessageType::TicketRequest => "B3",
            MessageType::TicketResponse => "B4",
        }
    }

    /// The message type of two wire characters.
    pub fn from_code(code: &[u8]) -> Result<Self> {
        match code {
            b"B0" => Ok(MessageType::Activity),
            b"B1" => Ok(MessageType::TransactionRequest),
            b"B2" => Ok(MessageType::TransactionResponse),
            b"B3" => Ok(MessageType::TicketRequest),
            b"B4" => Ok(MessageType::TicketResponse),
            _ => Err(Error::CsobHeader {
                field: "message type",
            }),
        }
    }
}

/// A transaction code (field `T`, two digits after the tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TxnCode {
    /// `T00` normal purchase (sale).
    Sale,
    /// `T04` refund (return).
    Refund,
    /// `T08` purchase with cashback.
    SaleWithCashback,
    /// `T10` reversal of a transaction, identified by its approval code (field `F`).
    Reversal,
    /// `T60` close totals (end of day).
    CloseTotals,
    /// `T65` subtotals (totals without closing the batch).
    Subtotals,
    /// `T80` application info: the ECR's terminal check.
    AppInfo,
    /// `T81` passivate: stop what the terminal is doing (the ECR's abort).
    Passivate,
    /// `T82` last transaction.
    LastTransaction,
    /// `T83` last sums (totals of the last close).
    LastSums,
    /// `T95` handshake: the terminal's bank connection test.
    Handshake,
    /// Any other two-digit code (the public client also names T01, T02, T05, T07, T84, T90).
    Other(u8),
}

impl TxnCode {
    /// The code's number (`0` for T00, `95` for T95).
    pub const fn number(self) -> u8 {
        match self {
            TxnCode::Sale => 0,
            TxnCode::Refund => 4,
            TxnCode::SaleWithCashback => 8,
            TxnCode::Reversal => 10,
            TxnCode::CloseTotals => 60,
            TxnCode::Subtotals => 65,
            TxnCode::AppInfo => 80,
            TxnCode::Passivate => 81,
            TxnCode::LastTransaction => 82,
            TxnCode::LastSums => 83,
            TxnCode::Handshake => 95,
            TxnCode::Other(n) => n,
        }
    }

    /// The code of a number 0–99 (known numbers give their named variant).
    pub fn from_number(n: u8) -> Result<Self> {
        // The named codes, searched by their numbers (`number` gives each its own): a table,
        // smaller in flash than a compare per code.
        const NAMED: [TxnCode; 11] = [
            TxnCode::Sale,
            TxnCode::Refund,
            TxnCode::SaleWithCashback,
            TxnCode::Reversal,
            TxnCode::CloseTotals,
            TxnCode::Subtotals,
            TxnCode::AppInfo,
            TxnCode::Passivate,
            TxnCode::LastTransaction,
            TxnCode::LastSums,
            TxnCode::Handshake,
        ];
        if n >= 100 {
            return Err(Error::CsobField { field: "T" });
        }
        Ok(NAMED
            .iter()
            .copied()
            .find(|c| c.number() == n)
            .unwrap_or(TxnCode::Other(n)))
    }

    /// Parses the value of a `T` field (two ASCII digits).
    pub fn parse(value: &[u8]) -> Result<Self> {
        match value {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                TxnCode::from_number((a - b'0') * 10 + (b - b'0'))
            }
            _ => Err(Error::CsobField { field: "T" }),
        }
    }

    /// The two digits of the value.
    pub const fn digits(self) -> [u8; 2] {
        let n = self.number() % 100;
        [b'0' + n / 10, b'0' + n % 10]
    }

    /// A lower-case name for logs and JSON (`sale`, `close-totals`, …; `other` for unknown).
    pub const fn name(self) -> &'static str {
        match self {
            TxnCode::Sale => "sale",
            TxnCode::Refund => "refund",
            TxnCode::SaleWithCashback => "sale-with-cashback",
            TxnCode::Reversal => "reversal",
            TxnCode::CloseTotals => "close-totals",
            TxnCode::Subtotals => "subtotals",
            TxnCode::AppInfo => "app-info",
            TxnCode::Passivate => "passivate",
            TxnCode::LastTransaction => "last-transaction",
            TxnCode::LastSums => "last-sums",
            TxnCode::Handshake => "handshake",
            TxnCode::Other(_) => "other",
        }
    }
}

/// Capacity of the text of an unknown result code (after the `R` tag), e.g. `-02`.
pub const RESULT_TEXT_CAPACITY: usize = 3;

/// A result code (field `R`): `R000` or `R-xx`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResultCode {
    /// `R000` success.
    Ok,
    /// `R-01` cancelled by the user.
    UserCancel,
    /// `R-09` card error.
    CardError,
    /// `R-10` card expired.
    CardExpired,
    /// `R-11` card not yet valid (the client's "CARD_YOUNG").
    CardNotYetValid,
    /// `R-12` insufficient funds.
    InsufficientFunds,
    /// `R-18` timeout.
    Timeout,
    /// `R-21` operation discarded.
    Discarded,
    /// `R-29` card blocked.
    CardBlocked,
    /// Any other value of 1–3 printable characters, as received (e.g. `-02`, which the public
    /// client's connection check treats specially; or a bank code such as `05`).
    Other(String<RESULT_TEXT_CAPACITY>),
}

impl ResultCode {
    /// The value after the `R` tag.
    pub fn text(&self) -> &str {
        match self {
            ResultCode::Ok => "000",
            ResultCode::UserCancel => "-01",
            ResultCode::CardError => "-09",
            ResultCode::CardExpired => "-10",
            ResultCode::CardNotYetValid => "-11",
            ResultCode::InsufficientFunds => "-12",
            ResultCode::Timeout => "-18",
            ResultCode::Discarded => "-21",
            ResultCode::CardBlocked => "-29",
            ResultCode::Other(s) => s.as_str(),
        }
    }

    /// Parses the value after the `R` tag.
    pub fn parse(value: &[u8]) -> Result<Self> {
        ResultCode::other(value)
    }

    fn known(value: &[u8]) -> Option<Self> {
        // The listed codes' values, in the order of the variants: one search over them, not a
        // compare per code (less flash on a Cortex-M4).
        const VALUES: [&[u8; 3]; 9] = [
            b"000", b"-01", b"-09", b"-10", b"-11", b"-12", b"-18", b"-21", b"-29",
        ];
        let &[a, b, c] = value else {
            return None;
        };
        // Arrays compared, not slices (a slice compare links `memcmp`).
        let i = VALUES.iter().position(|v| **v == [a, b, c])?;
        Some(match i {
            0 => ResultCode::Ok,
            1 => ResultCode::UserCancel,
            2 => ResultCode::CardError,
            3 => ResultCode::CardExpired,
            4 => ResultCode::CardNotYetValid,
            5 => ResultCode::InsufficientFunds,
            6 => ResultCode::Timeout,
            7 => ResultCode::Discarded,
            _ => ResultCode::CardBlocked,
        })
    }

    /// The code of a value of 1–3 printable ASCII characters: a listed code if it is one,
    /// else [`ResultCode::Other`].
    pub fn other(value: &[u8]) -> Result<Self> {
        if let Some(known) = ResultCode::known(value) {
            return Ok(known);
        }
        let err = Error::CsobField { field: "R" };
        if value.is_empty() || !value.iter().all(|b| (0x21..0x7f).contains(b)) {
            return Err(err);
        }
        // Printable ASCII, checked above: pushed as characters, without a UTF-8 check.
        let mut s = String::new();
        for &b in value {
            // Masked to seven bits, as it is ASCII: the compiler then pushes one byte, with no
            // UTF-8 encoder.
            s.push(char::from(b & 0x7F)).map_err(|_| err)?;
        }
        Ok(ResultCode::Other(s))
    }

    /// A lower-case name for logs and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            ResultCode::Ok => "ok",
            ResultCode::UserCancel => "user-cancel",
            ResultCode::CardError => "card-error",
            ResultCode::CardExpired => "card-expired",
            ResultCode::CardNotYetValid => "card-not-yet-valid",
            ResultCode::InsufficientFunds => "insufficient-funds",
            ResultCode::Timeout => "timeout",
            ResultCode::Discarded => "discarded",
            ResultCode::CardBlocked => "card-blocked",
            ResultCode::Other(_) => "other",
        }
    }
}

/// The 16 header flag bits (4 hex characters).
///
/// Bit meanings from the public client's `Response.java` (`checkFlag`: the hex is turned into
/// a 16-character binary string; character 14 = bit 1, 15 = bit 0, 0 = bit 15) and
/// `Payment.java` (requests with an amount send `8000`, others `0000`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flags(pub u16);

impl Flags {
    /// Bit 15: in a B2, the ECR must confirm the result by asking for the last transaction
    /// (T82) and comparing; in requests the public client sets it on amount requests.
    pub const CONFIRM: u16 = 0x8000;
    /// Bit 1: in a B2, a receipt is ready; ask for it with B3.
    pub const RECEIPT_READY: u16 = 0x0002;
    /// Bit 0: in a B2, the cardholder signs the receipt.
    pub const SIGNATURE: u16 = 0x0001;

    /// Whether every bit of `mask` is set.
    pub const fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
}

/// Which receipt a B3 asks for: the value of the `t` sub-field of field `9`.
///
/// Source: `ProcessMessage.java` asks `getRecipes("tM")` for the merchant copy, `"tC"` for the
/// customer copy, and `"t-"` for the next part after a B4 that ended with `t1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReceiptSelector {
    /// `M`: the merchant copy.
    Merchant,
    /// `C`: the customer copy.
    Customer,
    /// `-`: the next part of the copy being transferred.
    Next,
}

impl ReceiptSelector {
    /// The character after `t`.
    pub const fn byte(self) -> u8 {
        match self {
            ReceiptSelector::Merchant => b'M',
            ReceiptSelector::Customer => b'C',
            ReceiptSelector::Next => b'-',
        }
    }

    /// The selector of a character after `t`.
    pub fn from_byte(b: u8) -> Result<Self> {
        match b {
            b'M' => Ok(ReceiptSelector::Merchant),
            b'C' => Ok(ReceiptSelector::Customer),
            b'-' => Ok(ReceiptSelector::Next),
            _ => Err(Error::CsobField { field: "9/t" }),
        }
    }

    /// A lower-case name for logs and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            ReceiptSelector::Merchant => "merchant",
            ReceiptSelector::Customer => "customer",
            ReceiptSelector::Next => "next",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_codes_round_trip() {
        for n in 0..100u8 {
            let c = TxnCode::from_number(n).unwrap();
            assert_eq!(c.number(), n);
            assert_eq!(TxnCode::parse(&c.digits()).unwrap(), c);
        }
        assert_eq!(TxnCode::parse(b"95").unwrap(), TxnCode::Handshake);
        assert_eq!(TxnCode::parse(b"08").unwrap(), TxnCode::SaleWithCashback);
        assert!(TxnCode::parse(b"8").is_err());
        assert!(TxnCode::parse(b"0a").is_err());
        assert!(TxnCode::from_number(100).is_err());
        // A named code's number gives the named variant, never `Other`; numbers of 100 and
        // more are refused.
        let named = [0u8, 4, 8, 10, 60, 65, 80, 81, 82, 83, 95];
        for n in 0..=255u8 {
            match TxnCode::from_number(n) {
                Ok(TxnCode::Other(m)) => assert!(m == n && !named.contains(&n), "{n}"),
                Ok(c) => assert!(named.contains(&n) && c.number() == n, "{n}"),
                Err(_) => assert!(n >= 100, "{n}"),
            }
        }
    }

    #[test]
    fn result_codes_table() {
        let table: &[(&[u8], ResultCode)] = &[
            (b"000", ResultCode::Ok),
            (b"-01", ResultCode::UserCancel),
            (b"-09", ResultCode::CardError),
            (b"-10", ResultCode::CardExpired),
            (b"-11", ResultCode::CardNotYetValid),
            (b"-12", ResultCode::InsufficientFunds),
            (b"-18", ResultCode::Timeout),
            (b"-21", ResultCode::Discarded),
            (b"-29", ResultCode::CardBlocked),
        ];
        for (wire, code) in table {
            assert_eq!(&ResultCode::parse(wire).unwrap(), code);
            assert_eq!(code.text().as_bytes(), *wire);
        }
        let other = ResultCode::parse(b"-02").unwrap();
        assert_eq!(other.text(), "-02");
        assert_eq!(other.name(), "other");
        assert!(ResultCode::parse(b"").is_err());
        assert!(ResultCode::parse(b"-123").is_err());
        assert!(ResultCode::parse(b"0 1").is_err());
        assert_eq!(
            ResultCode::other(b"-12").unwrap(),
            ResultCode::InsufficientFunds
        );
    }

    #[test]
    fn flags_and_selectors() {
        assert!(Flags(0x8002).has(Flags::RECEIPT_READY));
        assert!(Flags(0x8002).has(Flags::CONFIRM));
        assert!(!Flags(0x8002).has(Flags::SIGNATURE));
        for s in [
            ReceiptSelector::Merchant,
            ReceiptSelector::Customer,
            ReceiptSelector::Next,
        ] {
            assert_eq!(ReceiptSelector::from_byte(s.byte()).unwrap(), s);
        }
        assert!(ReceiptSelector::from_byte(b'x').is_err());
        assert_eq!(
            MessageType::from_code(b"B3").unwrap(),
            MessageType::TicketRequest
        );
        assert!(MessageType::from_code(b"B5").is_err());
    }
}
