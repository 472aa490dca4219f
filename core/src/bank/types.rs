//! Typed values of individual fields.

use core::fmt;

use heapless::String;

use super::message::Mti;
use crate::txn::{DeclineCode, EntryMode, Outcome, RequestKind, Timestamp};
use crate::{Error, Result};

/// `v` as exactly `N` zero-padded ASCII digits, `None` if it has more digits.
pub(super) fn digits<const N: usize>(mut v: u64) -> Option<[u8; N]> {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    (v == 0).then_some(out)
}

/// The number written by ASCII digits (1–19 of them).
pub(super) fn number(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    text.iter().try_fold(0u64, |v, &b| {
        b.is_ascii_digit().then(|| v * 10 + u64::from(b - b'0'))
    })
}

/// The kind of transaction in the first two digits of the processing code (field 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProcessingKind {
    /// `00` goods and services (sale).
    Purchase,
    /// `09` goods and services with cash back.
    PurchaseWithCashback,
    /// `20` returns (refund).
    Refund,
}

impl ProcessingKind {
    fn code(self) -> u8 {
        match self {
            ProcessingKind::Purchase => 0,
            ProcessingKind::PurchaseWithCashback => 9,
            ProcessingKind::Refund => 20,
        }
    }
}

/// Field 3, n6: transaction type (2 digits), from-account type (2), to-account type (2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ProcessingCode {
    /// Transaction type.
    pub kind: ProcessingKind,
    /// From-account type, 0–99 (`00` default/unspecified).
    pub from_account: u8,
    /// To-account type, 0–99.
    pub to_account: u8,
}

impl ProcessingCode {
    /// The processing code of a money-moving request: sale `000000`, sale with cashback
    /// `090000`, refund `200000`. A reversal carries its original's code; other kinds do not
    /// go to the bank as 0200 ([`Error::Unsupported`]).
    pub fn for_request(kind: RequestKind) -> Result<Self> {
        match kind {
            RequestKind::Sale => Ok(Self::SALE),
            RequestKind::SaleWithCashback => Ok(Self::CASHBACK),
            RequestKind::Refund => Ok(Self::REFUND),
            _ => Err(Error::Unsupported {
                what: "request kind without an ISO 8583 processing code",
            }),
        }
    }

    /// `000000` sale.
    pub const SALE: ProcessingCode = ProcessingCode::new(ProcessingKind::Purchase);
    /// `090000` sale with cashback.
    pub const CASHBACK: ProcessingCode = ProcessingCode::new(ProcessingKind::PurchaseWithCashback);
    /// `200000` refund.
    pub const REFUND: ProcessingCode = ProcessingCode::new(ProcessingKind::Refund);

    /// `kind` with both account types `00`.
    pub const fn new(kind: ProcessingKind) -> Self {
        ProcessingCode {
            kind,
            from_account: 0,
            to_account: 0,
        }
    }

    /// The six digits.
    pub fn to_digits(self) -> Result<[u8; 6]> {
        let v = u64::from(self.kind.code()) * 10_000
            + u64::from(self.from_account) * 100
            + u64::from(self.to_account);
        if self.from_account > 99 || self.to_account > 99 {
            return Err(Error::IsoField { field: 3 });
        }
        digits::<6>(v).ok_or(Error::IsoField { field: 3 })
    }

    /// Parses six digits; a transaction type other than 00, 09, 20 is [`Error::IsoField`].
    pub fn parse(text: &[u8]) -> Result<Self> {
        let bad = Error::IsoField { field: 3 };
        let v = match text.len() {
            6 => number(text).ok_or(bad)?,
            _ => return Err(bad),
        };
        let kind = match v / 10_000 {
            0 => ProcessingKind::Purchase,
            9 => ProcessingKind::PurchaseWithCashback,
            20 => ProcessingKind::Refund,
            _ => return Err(bad),
        };
        Ok(ProcessingCode {
            kind,
            from_account: (v / 100 % 100) as u8,
            to_account: (v % 100) as u8,
        })
    }
}

/// What a bank response code means, from [`ResponseCode::meaning`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CodeMeaning {
    /// The full amount is approved.
    Approved,
    /// Approved for less than asked (`10`).
    PartialApproval,
    /// Refused by the issuer or the acquirer.
    Declined,
    /// The bank could not decide (`91`, `96`): nothing was approved; try again later.
    Unavailable,
    /// The original of a reversal is unknown to the bank (`25`).
    NotFound,
}

/// Field 39, an2: the host's answer (`00` approved, `05` do not honour, `51` insufficient
/// funds, `91` issuer unavailable, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResponseCode([u8; 2]);

impl ResponseCode {
    /// `00` approved.
    pub const APPROVED: ResponseCode = ResponseCode(*b"00");
    /// `05` do not honour.
    pub const DO_NOT_HONOUR: ResponseCode = ResponseCode(*b"05");
    /// `12` invalid transaction.
    pub const INVALID_TRANSACTION: ResponseCode = ResponseCode(*b"12");
    /// `13` invalid amount.
    pub const INVALID_AMOUNT: ResponseCode = ResponseCode(*b"13");
    /// `14` invalid card number.
    pub const INVALID_CARD: ResponseCode = ResponseCode(*b"14");
    /// `25` unable to locate record (e.g. nothing to reverse).
    pub const NO_RECORD: ResponseCode = ResponseCode(*b"25");
    /// `51` insufficient funds.
    pub const INSUFFICIENT_FUNDS: ResponseCode = ResponseCode(*b"51");
    /// `54` expired card.
    pub const EXPIRED_CARD: ResponseCode = ResponseCode(*b"54");
    /// `68` response received too late (reason code of a timeout reversal).
    pub const TOO_LATE: ResponseCode = ResponseCode(*b"68");
    /// `17` customer cancellation (reason code of a reversal the till asked for).
    pub const CUSTOMER_CANCELLATION: ResponseCode = ResponseCode(*b"17");
    /// `21` no action taken (reason code of a reversal of an approval the till could not be
    /// told of).
    pub const NO_ACTION_TAKEN: ResponseCode = ResponseCode(*b"21");
    /// `22` suspected malfunction (reason code of a reversal after a restart).
    pub const SUSPECTED_MALFUNCTION: ResponseCode = ResponseCode(*b"22");
    /// `32` completed partially (reason code of the reversal of a partial approval).
    pub const COMPLETED_PARTIALLY: ResponseCode = ResponseCode(*b"32");
    /// `82` negative online card authentication (the cryptogram did not verify): the code
    /// Visa gives it ("negative CAM, dCVV, iCVV or CVV results"); the bank simulator's
    /// "bad cryptogram" decline.
    pub const BAD_CRYPTOGRAM: ResponseCode = ResponseCode(*b"82");
    /// `91` issuer or switch inoperative.
    pub const ISSUER_UNAVAILABLE: ResponseCode = ResponseCode(*b"91");
    /// `96` system malfunction.
    pub const SYSTEM_MALFUNCTION: ResponseCode = ResponseCode(*b"96");

    /// Two letters or digits; anything else is [`Error::IsoField`] (39).
    pub fn new(code: &[u8]) -> Result<Self> {
        match code {
            [a, b] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => {
                Ok(ResponseCode([*a, *b]))
            }
            _ => Err(Error::IsoField { field: 39 }),
        }
    }

    /// The two characters.
    pub fn as_bytes(&self) -> &[u8; 2] {
        &self.0
    }

    /// The two characters as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// What the code means to the payment application: **the one table** every part of
    /// ecrlink reads (the terminal application, the agent, the simulators).
    ///
    /// | codes | meaning |
    /// |---|---|
    /// | `00` approved, `08` honour with identification, `11` approved (VIP) | [`CodeMeaning::Approved`] |
    /// | `10` approved for a partial amount | [`CodeMeaning::PartialApproval`] |
    /// | `91` issuer or switch inoperative, `96` system malfunction | [`CodeMeaning::Unavailable`] |
    /// | `25` unable to locate the original | [`CodeMeaning::NotFound`] |
    /// | any other | [`CodeMeaning::Declined`] |
    pub fn meaning(&self) -> CodeMeaning {
        match &self.0 {
            b"00" | b"08" | b"11" => CodeMeaning::Approved,
            b"10" => CodeMeaning::PartialApproval,
            b"91" | b"96" => CodeMeaning::Unavailable,
            b"25" => CodeMeaning::NotFound,
            _ => CodeMeaning::Declined,
        }
    }

    /// Whether the code approves the full amount ([`CodeMeaning::Approved`]: `00`, `08`,
    /// `11`). `10` (partial approval) is not: this link never asks for partial amounts, so
    /// the terminal application reverses a partial approval at once.
    pub fn is_approved(&self) -> bool {
        self.meaning() == CodeMeaning::Approved
    }

    /// Whether an answer to a reversal (0410) ends it: approved, or `25` (the bank holds no
    /// such original, so nothing is left to reverse). Anything else — `91`/`96` above all —
    /// leaves the reversal pending, to be sent again.
    pub fn ends_reversal(&self) -> bool {
        matches!(
            self.meaning(),
            CodeMeaning::Approved | CodeMeaning::NotFound
        )
    }

    /// The transaction-model outcome: approving codes are [`Outcome::Approved`]; `91` (issuer
    /// or switch inoperative) and `96` (system malfunction) are [`Outcome::BankUnavailable`];
    /// every other code is [`Outcome::Declined`] carrying it.
    pub fn to_outcome(&self) -> Outcome {
        match self.meaning() {
            CodeMeaning::Approved => return Outcome::Approved,
            CodeMeaning::Unavailable => return Outcome::BankUnavailable,
            CodeMeaning::PartialApproval | CodeMeaning::NotFound | CodeMeaning::Declined => {}
        }
        match DeclineCode::new(self.as_str()) {
            Ok(code) => Outcome::Declined { code },
            Err(_) => Outcome::Failed {
                reason: crate::txn::FailReason::Other,
            },
        }
    }
}

impl fmt::Debug for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseCode({})", self.as_str())
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A month, day and time without year: field 7 (MMDDhhmmss), or fields 13 (MMDD) and
/// 12 (hhmmss) together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MonthDayTime {
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
}

impl MonthDayTime {
    /// A validated value (ranges as on the fields).
    pub fn new(month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Result<Self> {
        let v = MonthDayTime {
            month,
            day,
            hour,
            minute,
            second,
        };
        if v.valid() {
            Ok(v)
        } else {
            Err(Error::IsoField { field: 7 })
        }
    }

    fn valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// `MMDDhhmmss` (field 7).
    pub fn to_field7(self) -> [u8; 10] {
        let mut out = [b'0'; 10];
        let parts = [self.month, self.day, self.hour, self.minute, self.second];
        for (pair, v) in out.chunks_exact_mut(2).zip(parts) {
            pair.copy_from_slice(&digits::<2>(u64::from(v % 100)).unwrap_or(*b"00"));
        }
        out
    }

    /// Parses `MMDDhhmmss`; a bad value is [`Error::IsoField`] naming `field`.
    pub fn parse_field7(text: &[u8], field: u8) -> Result<Self> {
        let bad = Error::IsoField { field };
        if text.len() != 10 {
            return Err(bad);
        }
        let mut p = [0u8; 5];
        for (slot, pair) in p.iter_mut().zip(text.chunks_exact(2)) {
            *slot = number(pair).ok_or(bad)? as u8;
        }
        let [month, day, hour, minute, second] = p;
        MonthDayTime::new(month, day, hour, minute, second).map_err(|_| bad)
    }

    /// `hhmmss` (field 12).
    pub fn to_field12(self) -> [u8; 6] {
        let f7 = self.to_field7();
        let mut out = [0u8; 6];
        out.copy_from_slice(f7.get(4..).unwrap_or(b"000000"));
        out
    }

    /// `MMDD` (field 13).
    pub fn to_field13(self) -> [u8; 4] {
        let f7 = self.to_field7();
        let mut out = [0u8; 4];
        out.copy_from_slice(f7.get(..4).unwrap_or(b"0101"));
        out
    }

    /// Joins field 13 (`MMDD`) and field 12 (`hhmmss`).
    pub fn parse_fields_13_12(date: &[u8], time: &[u8]) -> Result<Self> {
        if date.len() != 4 {
            return Err(Error::IsoField { field: 13 });
        }
        if time.len() != 6 {
            return Err(Error::IsoField { field: 12 });
        }
        let mut f7 = [0u8; 10];
        let (d, t) = f7.split_at_mut(4);
        d.copy_from_slice(date);
        t.copy_from_slice(time);
        MonthDayTime::parse_field7(&f7, 13)
    }
}

impl From<Timestamp> for MonthDayTime {
    fn from(t: Timestamp) -> Self {
        MonthDayTime {
            month: t.month,
            day: t.day,
            hour: t.hour,
            minute: t.minute,
            second: t.second,
        }
    }
}

impl fmt::Display for MonthDayTime {
    /// `11-25 17:13:00`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}-{:02} {:02}:{:02}:{:02}",
            self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Field 42, ans15: the card acceptor (merchant) id, 1–15 printable ASCII characters without
/// leading or trailing space; sent right-padded with spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MerchantId(String<15>);

impl MerchantId {
    /// Validates and copies `text`.
    pub fn new(text: &str) -> Result<Self> {
        let bad = Error::IsoField { field: 42 };
        if text.is_empty()
            || text.starts_with(' ')
            || text.ends_with(' ')
            || !text.bytes().all(|b| (0x20..0x7F).contains(&b))
        {
            return Err(bad);
        }
        let mut s = String::new();
        s.push_str(text).map_err(|_| bad)?;
        Ok(MerchantId(s))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Field 37, an12: the retrieval reference number the host (or acquirer) assigns: exactly 12
/// letters, digits or spaces.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rrn([u8; 12]);

impl Rrn {
    /// Twelve `an` characters; anything else is [`Error::IsoField`] (37).
    pub fn new(text: &[u8]) -> Result<Self> {
        match <[u8; 12]>::try_from(text) {
            Ok(a) if a.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ') => Ok(Rrn(a)),
            _ => Err(Error::IsoField { field: 37 }),
        }
    }

    /// `n` as twelve zero-padded digits.
    pub fn from_number(n: u64) -> Result<Self> {
        digits::<12>(n)
            .map(Rrn)
            .ok_or(Error::IsoField { field: 37 })
    }

    /// The twelve characters.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("????????????")
    }
}

impl fmt::Debug for Rrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rrn({})", self.as_str())
    }
}

impl fmt::Display for Rrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Field 70, n3: what a network management message (0800) asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NetworkCode {
    /// `001` sign-on.
    SignOn,
    /// `002` sign-off.
    SignOff,
    /// `301` echo test: is the host there?
    EchoTest,
}

impl NetworkCode {
    /// The three digits.
    pub fn to_digits(self) -> [u8; 3] {
        match self {
            NetworkCode::SignOn => *b"001",
            NetworkCode::SignOff => *b"002",
            NetworkCode::EchoTest => *b"301",
        }
    }

    /// Parses the three digits; other codes are [`Error::IsoField`] (70).
    pub fn parse(text: &[u8]) -> Result<Self> {
        match text {
            b"001" => Ok(NetworkCode::SignOn),
            b"002" => Ok(NetworkCode::SignOff),
            b"301" => Ok(NetworkCode::EchoTest),
            _ => Err(Error::IsoField { field: 70 }),
        }
    }
}

/// Field 90, n42: what identifies the original of a reversal: its MTI (4), STAN (6),
/// transmission date and time (10), acquiring (11) and forwarding (11) institution ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OriginalData {
    /// MTI of the original (normally 0200).
    pub mti: Mti,
    /// STAN of the original.
    pub stan: u32,
    /// Field 7 of the original.
    pub transmission: MonthDayTime,
    /// Acquiring institution id code of the original, 0 when not used.
    pub acquirer: u64,
    /// Forwarding institution id code of the original, 0 when not used.
    pub forwarder: u64,
}

impl OriginalData {
    /// The 42 digits.
    pub fn to_digits(&self) -> Result<[u8; 42]> {
        let bad = Error::IsoField { field: 90 };
        let mut out = [0u8; 42];
        let (mti, rest) = out.split_at_mut(4);
        let (stan, rest) = rest.split_at_mut(6);
        let (tx, rest) = rest.split_at_mut(10);
        let (acq, fwd) = rest.split_at_mut(11);
        mti.copy_from_slice(self.mti.as_bytes());
        stan.copy_from_slice(&digits::<6>(u64::from(self.stan)).ok_or(bad)?);
        tx.copy_from_slice(&self.transmission.to_field7());
        acq.copy_from_slice(&digits::<11>(self.acquirer).ok_or(bad)?);
        fwd.copy_from_slice(&digits::<11>(self.forwarder).ok_or(bad)?);
        Ok(out)
    }

    /// Parses the 42 digits.
    pub fn parse(text: &[u8]) -> Result<Self> {
        let bad = Error::IsoField { field: 90 };
        if text.len() != 42 {
            return Err(bad);
        }
        let (mti, rest) = text.split_at(4);
        let (stan, rest) = rest.split_at(6);
        let (tx, rest) = rest.split_at(10);
        let (acq, fwd) = rest.split_at(11);
        Ok(OriginalData {
            mti: Mti::new(mti).map_err(|_| bad)?,
            stan: number(stan).ok_or(bad)? as u32,
            transmission: MonthDayTime::parse_field7(tx, 90)?,
            acquirer: number(acq).ok_or(bad)?,
            forwarder: number(fwd).ok_or(bad)?,
        })
    }
}

/// Field 14, n4 `YYMM`: the card's expiry date. Its `Debug` hides it: like the card number it
/// belongs on the bank link only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Expiry {
    year: u8,
    month: u8,
}

impl Expiry {
    /// Year 0–99 (of the century) and month 1–12; anything else is [`Error::IsoField`] (14).
    pub fn new(year: u8, month: u8) -> Result<Self> {
        if year > 99 || !(1..=12).contains(&month) {
            return Err(Error::IsoField { field: 14 });
        }
        Ok(Expiry { year, month })
    }

    /// Field 14's four ASCII digits `YYMM`.
    pub fn parse(text: &[u8]) -> Result<Self> {
        let bad = Error::IsoField { field: 14 };
        let (yy, mm) = match text {
            [a, b, c, d] => (number(&[*a, *b]).ok_or(bad)?, number(&[*c, *d]).ok_or(bad)?),
            _ => return Err(bad),
        };
        Self::new(yy as u8, mm as u8)
    }

    /// The value of EMV tag `5F24` (application expiration date, n6 `YYMMDD` in BCD).
    pub fn from_emv(value: &[u8]) -> Result<Self> {
        let bad = Error::IsoField { field: 14 };
        let bcd = |b: u8| -> Result<u8> {
            let (hi, lo) = (b >> 4, b & 0x0F);
            if hi > 9 || lo > 9 {
                return Err(bad);
            }
            Ok(hi * 10 + lo)
        };
        match value {
            [y, m, _] => Self::new(bcd(*y)?, bcd(*m)?),
            _ => Err(bad),
        }
    }

    /// Year of the century, 0–99.
    pub fn year(self) -> u8 {
        self.year
    }

    /// Month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// Field 14's four ASCII digits `YYMM`.
    pub fn to_digits(self) -> [u8; 4] {
        let two = |v: u8| [b'0' + v / 10 % 10, b'0' + v % 10];
        let [a, b] = two(self.year);
        let [c, d] = two(self.month);
        [a, b, c, d]
    }
}

impl fmt::Debug for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Expiry(**/**)")
    }
}

/// Field 22, n3: how the card number was read (two digits) and whether the terminal can take a
/// PIN (one digit). Entry modes (ISO 8583:1987 field 22, with the values the card schemes
/// added for chip and contactless): `01` keyed, `02` magnetic stripe, `05` chip, `07`
/// contactless chip, `90` magnetic stripe with the full track read, `91` contactless in
/// magnetic-stripe mode. PIN capability: `1` the terminal can take a PIN, `2` it cannot, `0`
/// unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PosEntryMode([u8; 3]);

impl PosEntryMode {
    /// The code for a card read as `entry` on a terminal that can (or cannot) take a PIN: chip
    /// `05`, contactless `07`, swipe `90` (the reader reads the whole track), keyed `01`.
    pub fn new(entry: EntryMode, pin_capable: bool) -> Self {
        let [a, b] = match entry {
            EntryMode::Chip => *b"05",
            EntryMode::Contactless => *b"07",
            EntryMode::Swipe => *b"90",
            EntryMode::Manual => *b"01",
        };
        PosEntryMode([a, b, if pin_capable { b'1' } else { b'2' }])
    }

    /// Three ASCII digits; anything else is [`Error::IsoField`] (22).
    pub fn parse(text: &[u8]) -> Result<Self> {
        match text {
            [a, b, c] if text.iter().all(u8::is_ascii_digit) => Ok(PosEntryMode([*a, *b, *c])),
            _ => Err(Error::IsoField { field: 22 }),
        }
    }

    /// How the card was read, when the code is one of those [`Self::new`] writes or `02`
    /// (magnetic stripe) or `91` (contactless magnetic stripe).
    pub fn entry_mode(&self) -> Option<EntryMode> {
        let [a, b, _] = self.0;
        match [a, b] {
            [b'0', b'5'] => Some(EntryMode::Chip),
            [b'0', b'7'] | [b'9', b'1'] => Some(EntryMode::Contactless),
            [b'0', b'2'] | [b'9', b'0'] => Some(EntryMode::Swipe),
            [b'0', b'1'] => Some(EntryMode::Manual),
            _ => None,
        }
    }

    /// Whether the card was read from its chip (contact or contactless), so that the
    /// authorization should carry chip data (field 55) with a cryptogram.
    pub fn is_chip(&self) -> bool {
        let [a, b, _] = self.0;
        matches!([a, b], [b'0', b'5'] | [b'0', b'7'])
    }

    /// The three digits.
    pub fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }
}

/// Field 25 (n2) `00`: normal presentment, the cardholder and card at an attended terminal.
pub const POS_CONDITION_NORMAL: u8 = 0;
