//! Exact money: integer minor units plus an ISO 4217 currency. Never floats.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An ISO 4217 currency the core knows: numeric code, alphabetic code, minor-unit exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "u16", into = "u16")]
pub struct Currency(u16);

/// (numeric, alpha, exponent) for the currencies the core accepts. Source: ISO 4217 list.
const CURRENCIES: &[(u16, &str, u8)] = &[
    (36, "AUD", 2),
    (48, "BHD", 3),
    (124, "CAD", 2),
    (152, "CLP", 0),
    (156, "CNY", 2),
    (203, "CZK", 2),
    (208, "DKK", 2),
    (348, "HUF", 2),
    (352, "ISK", 0),
    (356, "INR", 2),
    (392, "JPY", 0),
    (410, "KRW", 0),
    (414, "KWD", 3),
    (504, "MAD", 2),
    (578, "NOK", 2),
    (752, "SEK", 2),
    (756, "CHF", 2),
    (788, "TND", 3),
    (826, "GBP", 2),
    (840, "USD", 2),
    (941, "RSD", 2),
    (946, "RON", 2),
    (949, "TRY", 2),
    (952, "XOF", 0),
    (975, "BGN", 2),
    (978, "EUR", 2),
    (980, "UAH", 2),
    (985, "PLN", 2),
];

impl Currency {
    /// Czech koruna (203).
    pub const CZK: Currency = Currency(203);
    /// Euro (978).
    pub const EUR: Currency = Currency(978);
    /// US dollar (840).
    pub const USD: Currency = Currency(840);
    /// Japanese yen (392), no minor unit.
    pub const JPY: Currency = Currency(392);

    fn entry(self) -> (u16, &'static str, u8) {
        CURRENCIES
            .iter()
            .copied()
            .find(|c| c.0 == self.0)
            .unwrap_or((self.0, "???", 2))
    }

    /// The currency with ISO 4217 numeric code `numeric`, if the core knows it.
    pub fn from_numeric(numeric: u16) -> Result<Self> {
        if CURRENCIES.iter().any(|c| c.0 == numeric) {
            Ok(Currency(numeric))
        } else {
            Err(Error::UnknownCurrency { numeric })
        }
    }

    /// The currency with alphabetic code `alpha` (case-insensitive), if the core knows it.
    pub fn from_alpha(alpha: &str) -> Option<Self> {
        CURRENCIES
            .iter()
            .find(|c| c.1.eq_ignore_ascii_case(alpha))
            .map(|c| Currency(c.0))
    }

    /// ISO 4217 numeric code, e.g. 978.
    pub fn numeric(self) -> u16 {
        self.0
    }

    /// ISO 4217 alphabetic code, e.g. "EUR".
    pub fn alpha(self) -> &'static str {
        self.entry().1
    }

    /// Number of decimals of the minor unit (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn exponent(self) -> u8 {
        self.entry().2
    }
}

impl TryFrom<u16> for Currency {
    type Error = Error;
    fn try_from(n: u16) -> Result<Self> {
        Currency::from_numeric(n)
    }
}

impl From<Currency> for u16 {
    fn from(c: Currency) -> u16 {
        c.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha())
    }
}

/// A positive amount in minor units (cents), at most [`Amount::MAX_MINOR`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(try_from = "u64", into = "u64")]
pub struct Amount(u64);

impl Amount {
    /// The largest amount: twelve digits, the width of ISO 8583 field 4 (n12).
    pub const MAX_MINOR: u64 = 999_999_999_999;

    /// A non-zero amount of `minor` units.
    pub fn new(minor: u64) -> Result<Self> {
        match minor {
            0 => Err(Error::AmountZero),
            m if m > Self::MAX_MINOR => Err(Error::AmountTooLarge),
            m => Ok(Amount(m)),
        }
    }

    /// The amount in minor units.
    pub fn minor(self) -> u64 {
        self.0
    }

    /// Sum of two amounts, an error past [`Amount::MAX_MINOR`].
    pub fn checked_add(self, other: Amount) -> Result<Amount> {
        Amount::new(self.0.saturating_add(other.0))
    }
}

impl TryFrom<u64> for Amount {
    type Error = Error;
    fn try_from(m: u64) -> Result<Self> {
        Amount::new(m)
    }
}

impl From<Amount> for u64 {
    fn from(a: Amount) -> u64 {
        a.0
    }
}

/// An amount with its currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Money {
    /// Minor units.
    pub amount: Amount,
    /// ISO 4217 currency.
    pub currency: Currency,
}

impl Money {
    /// `minor` units of `currency`; zero and over-limit amounts are errors.
    pub fn new(minor: u64, currency: Currency) -> Result<Self> {
        Ok(Money {
            amount: Amount::new(minor)?,
            currency,
        })
    }

    /// Minor units.
    pub fn minor(self) -> u64 {
        self.amount.minor()
    }

    /// Parses a decimal string such as `"12.50"` exactly, with at most the currency's number of
    /// decimals (`"12.345"` in EUR, `"-5"`, `"1e3"`, `""` are [`Error::AmountSyntax`]).
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self> {
        let exp = u32::from(currency.exponent());
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) {
            return Err(Error::AmountSyntax);
        }
        let frac = match frac {
            Some(f) if !digits(f) || f.len() > exp as usize => return Err(Error::AmountSyntax),
            Some(f) => f,
            None => "",
        };
        let mut minor: u64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(b - b'0')))
                .ok_or(Error::AmountTooLarge)?;
        }
        let pad = exp - frac.len() as u32;
        minor = minor
            .checked_mul(10u64.pow(pad))
            .ok_or(Error::AmountTooLarge)?;
        Money::new(minor, currency)
    }

    /// Writes the amount as a decimal with the currency's exponent, e.g. `12.50`, `1250` (JPY).
    pub fn fmt_decimal(minor: u64, currency: Currency, f: &mut impl fmt::Write) -> fmt::Result {
        let exp = u32::from(currency.exponent());
        if exp == 0 {
            return write!(f, "{minor}");
        }
        let scale = 10u64.pow(exp);
        write!(
            f,
            "{}.{:0width$}",
            minor / scale,
            minor % scale,
            width = exp as usize
        )
    }
}

impl fmt::Display for Money {
    /// `12.50 EUR`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Money::fmt_decimal(self.minor(), self.currency, f)?;
        write!(f, " {}", self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_table() {
        assert_eq!(Currency::from_numeric(978).unwrap().alpha(), "EUR");
        assert_eq!(Currency::from_alpha("czk"), Some(Currency::CZK));
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(
            Currency::from_numeric(999),
            Err(Error::UnknownCurrency { numeric: 999 })
        );
    }

    #[test]
    fn amounts_validate() {
        assert_eq!(Amount::new(0), Err(Error::AmountZero));
        assert_eq!(
            Amount::new(Amount::MAX_MINOR + 1),
            Err(Error::AmountTooLarge)
        );
        assert!(Amount::new(Amount::MAX_MINOR).is_ok());
    }

    #[test]
    fn decimal_parse_is_exact() {
        let eur = Currency::EUR;
        assert_eq!(Money::parse_decimal("12.50", eur).unwrap().minor(), 1250);
        assert_eq!(Money::parse_decimal("12.5", eur).unwrap().minor(), 1250);
        assert_eq!(Money::parse_decimal("12", eur).unwrap().minor(), 1200);
        assert_eq!(Money::parse_decimal("0.01", eur).unwrap().minor(), 1);
        assert_eq!(
            Money::parse_decimal("1250", Currency::JPY).unwrap().minor(),
            1250
        );
        for bad in ["12.345", "-5", "", ".5", "5.", "1e3", "1,50", " 1", "+1"] {
            assert_eq!(
                Money::parse_decimal(bad, eur),
                Err(Error::AmountSyntax),
                "{bad}"
            );
        }
        assert_eq!(
            Money::parse_decimal("1.5", Currency::JPY),
            Err(Error::AmountSyntax)
        );
        assert_eq!(Money::parse_decimal("0.00", eur), Err(Error::AmountZero));
        assert_eq!(
            Money::parse_decimal("99999999999999999999999", eur),
            Err(Error::AmountTooLarge)
        );
    }

    #[test]
    fn display() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            Money::new(1250, Currency::EUR).unwrap().to_string(),
            "12.50 EUR"
        );
        assert_eq!(
            Money::new(5, Currency::CZK).unwrap().to_string(),
            "0.05 CZK"
        );
        assert_eq!(
            Money::new(1250, Currency::JPY).unwrap().to_string(),
            "1250 JPY"
        );
    }
}
