//! Typed messages of the acquirer link, mapped from and to [`IsoMessage`].
//!
//! | MTI | type | mandatory fields (parse) |
//! |---|---|---|
//! | 0100 | [`AuthorizationRequest`] (authorization only, [`AuthorizationRequest::to_pre_auth_message`]) | as 0200 |
//! | 0110 | [`AuthorizationResponse`] ([`AuthorizationResponse::to_pre_auth_message`]) | as 0210 |
//! | 0220 | [`CompletionAdvice`] | 3, 4, 11, 38, 41, 49, 90 (2, 7, 42 optional) |
//! | 0230 | [`CompletionResponse`] | 11, 39 (3, 4+49, 7, 41, 42 optional) |
//! | 0200 | [`AuthorizationRequest`] | 2, 3, 4, 11, 41, 49 (7, 12+13, 14, 22, 23, 25, 42, 54, 55 optional) |
//! | 0210 | [`AuthorizationResponse`] | 11, 39 (3, 4+49, 7, 37, 38, 41, 42, 55 optional) |
//! | 0400 | [`ReversalRequest`] | 3, 4, 11, 41, 49, 90 (2, 7, 37, 38, 39, 42, 55, 95 optional) |
//! | 0410 | [`ReversalResponse`] | 11, 39 (3, 4+49, 7, 37, 41, 42 optional) |
//! | 0500 | [`ReconciliationRequest`] | 11, 41 (7, 42, 49+74+76+86+88 optional) |
//! | 0510 | [`ReconciliationResponse`] | 11, 39 (7, 41, 42, 49+74+76+86+88 optional) |
//! | 0800 | [`NetworkRequest`] | 7, 11, 70 (41 optional) |
//! | 0810 | [`NetworkResponse`] | 11, 39, 70 (7, 41 optional) |
//!
//! Emitting writes exactly the fields the struct holds. A cashback amount goes in field 54 as
//! one 20-character additional-amount block: account type `00`, amount type `40` (cash back),
//! currency n3, sign `D`, amount n12 (the layout of ISO 8583:1993 and the card schemes); on
//! parse the first block of type `40` is read, with sign `C` or `D`.
//!
//! Pre-authorisation (ISO 8583:1987): an 0100 authorization request reserves the amount
//! without charging it; its completion is an 0220 financial transaction advice carrying the
//! final amount (field 4, at most the reserved one), the approval code the 0110 gave (field
//! 38) and the original's data elements (field 90: MTI `0100`, trace, transmission time).
//! A partial release is an 0400 reversal whose field 95 (replacement amounts, an42: actual
//! amount transaction n12, actual amount settlement n12, two fees x+n8) carries the amount
//! that stays reserved; a full release is an 0400 without field 95. Field 90 of either names
//! the 0100.

use super::message::{IsoMessage, Mti};
use super::types::{
    Expiry, MerchantId, MonthDayTime, NetworkCode, OriginalData, PosEntryMode, ProcessingCode,
    ResponseCode, Rrn, digits, number,
};
use crate::txn::{Amount, ApprovalCode, Currency, CurrencyTotals, Money, Pan, TerminalId};
use crate::{Error, Result};

fn need(m: &IsoMessage, n: u8) -> Result<&[u8]> {
    m.get(n).ok_or(Error::IsoMissingField { field: n })
}

fn check_mti(m: &IsoMessage, mti: Mti) -> Result<()> {
    if m.mti() == mti {
        Ok(())
    } else {
        Err(Error::IsoMti)
    }
}

fn get_stan(m: &IsoMessage) -> Result<u32> {
    Ok(number(need(m, 11)?).ok_or(Error::IsoField { field: 11 })? as u32)
}

fn put_stan(m: &mut IsoMessage, stan: u32) -> Result<()> {
    let d = digits::<6>(u64::from(stan)).ok_or(Error::IsoField { field: 11 })?;
    m.set(11, &d)
}

/// Writes what every response carries back: fields 7 (if any), 11, 39 and 41 (if any).
fn put_response_echo(
    m: &mut IsoMessage,
    transmission: Option<MonthDayTime>,
    stan: u32,
    code: &ResponseCode,
    terminal_id: Option<&TerminalId>,
) -> Result<()> {
    if let Some(t) = transmission {
        m.set(7, &t.to_field7())?;
    }
    put_stan(m, stan)?;
    m.set(39, code.as_bytes())?;
    match terminal_id {
        Some(t) => put_tid(m, t),
        None => Ok(()),
    }
}

fn get_pan(m: &IsoMessage) -> Result<Pan> {
    let text = m.get_str(2).ok_or(Error::IsoMissingField { field: 2 })?;
    Pan::new(text).map_err(|_| Error::IsoField { field: 2 })
}

fn get_money(m: &IsoMessage) -> Result<Option<Money>> {
    let (Some(amount), Some(ccy)) = (m.get(4), m.get(49)) else {
        return Ok(None);
    };
    let currency =
        Currency::from_numeric(number(ccy).ok_or(Error::IsoField { field: 49 })? as u16)?;
    let minor = number(amount).ok_or(Error::IsoField { field: 4 })?;
    Money::new(minor, currency)
        .map(Some)
        .map_err(|_| Error::IsoField { field: 4 })
}

fn need_money(m: &IsoMessage) -> Result<Money> {
    need(m, 4)?;
    need(m, 49)?;
    get_money(m)?.ok_or(Error::IsoMissingField { field: 4 })
}

fn put_money(m: &mut IsoMessage, money: Money) -> Result<()> {
    let a = digits::<12>(money.minor()).ok_or(Error::IsoField { field: 4 })?;
    m.set(4, &a)?;
    put_currency(m, money.currency)
}

fn put_currency(m: &mut IsoMessage, currency: Currency) -> Result<()> {
    let c = digits::<3>(u64::from(currency.numeric())).ok_or(Error::IsoField { field: 49 })?;
    m.set(49, &c)
}

fn get_time(m: &IsoMessage, n: u8) -> Result<Option<MonthDayTime>> {
    m.get(n)
        .map(|v| MonthDayTime::parse_field7(v, n))
        .transpose()
}

fn get_local(m: &IsoMessage) -> Result<Option<MonthDayTime>> {
    match (m.get(13), m.get(12)) {
        (Some(d), Some(t)) => MonthDayTime::parse_fields_13_12(d, t).map(Some),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Error::IsoMissingField { field: 13 }),
        (Some(_), None) => Err(Error::IsoMissingField { field: 12 }),
    }
}

fn put_local(m: &mut IsoMessage, t: Option<MonthDayTime>) -> Result<()> {
    if let Some(t) = t {
        m.set(12, &t.to_field12())?;
        m.set(13, &t.to_field13())?;
    }
    Ok(())
}

fn padded<const N: usize>(text: &str, field: u8) -> Result<[u8; N]> {
    let mut out = [b' '; N];
    out.get_mut(..text.len())
        .ok_or(Error::IsoField { field })?
        .copy_from_slice(text.as_bytes());
    Ok(out)
}

/// A text field's value without its trailing spaces, `None` when nothing else is left.
/// Trimmed before the UTF-8 check, so that only the text itself is checked.
fn trimmed(value: &[u8]) -> Option<&str> {
    let end = value.iter().rposition(|&b| b != b' ')? + 1;
    core::str::from_utf8(value.get(..end)?).ok()
}

fn get_tid(m: &IsoMessage) -> Result<Option<TerminalId>> {
    match m.get(41) {
        None => Ok(None),
        Some(v) => trimmed(v)
            .and_then(|s| TerminalId::new(s).ok())
            .map(Some)
            .ok_or(Error::IsoField { field: 41 }),
    }
}

fn need_tid(m: &IsoMessage) -> Result<TerminalId> {
    get_tid(m)?.ok_or(Error::IsoMissingField { field: 41 })
}

fn put_tid(m: &mut IsoMessage, tid: &TerminalId) -> Result<()> {
    m.set(41, &padded::<8>(tid.as_str(), 41)?)
}

fn get_mid(m: &IsoMessage) -> Result<Option<MerchantId>> {
    match m.get(42) {
        None => Ok(None),
        Some(v) => trimmed(v)
            .and_then(|s| MerchantId::new(s).ok())
            .map(Some)
            .ok_or(Error::IsoField { field: 42 }),
    }
}

fn put_mid(m: &mut IsoMessage, mid: Option<&MerchantId>) -> Result<()> {
    match mid {
        Some(mid) => m.set(42, &padded::<15>(mid.as_str(), 42)?),
        None => Ok(()),
    }
}

fn get_approval(m: &IsoMessage) -> Result<Option<ApprovalCode>> {
    match m.get(38) {
        None => Ok(None),
        // An all-space field 38 means "no code" (declines often send it so).
        Some(v) => match trimmed(v) {
            None => Ok(None),
            Some(s) => ApprovalCode::new(s)
                .map(Some)
                .map_err(|_| Error::IsoField { field: 38 }),
        },
    }
}

fn put_approval(m: &mut IsoMessage, code: Option<&ApprovalCode>) -> Result<()> {
    match code {
        Some(c) => m.set(38, &padded::<6>(c.as_str(), 38)?),
        None => Ok(()),
    }
}

fn get_rrn(m: &IsoMessage) -> Result<Option<Rrn>> {
    m.get(37).map(Rrn::new).transpose()
}

fn put_rrn(m: &mut IsoMessage, rrn: Option<&Rrn>) -> Result<()> {
    match rrn {
        Some(r) => m.set(37, r.as_str().as_bytes()),
        None => Ok(()),
    }
}

fn get_response_code(m: &IsoMessage) -> Result<ResponseCode> {
    ResponseCode::new(need(m, 39)?)
}

fn get_processing(m: &IsoMessage) -> Result<Option<ProcessingCode>> {
    m.get(3).map(ProcessingCode::parse).transpose()
}

fn put_processing(m: &mut IsoMessage, p: ProcessingCode) -> Result<()> {
    m.set(3, &p.to_digits()?)
}

fn get_small(m: &IsoMessage, n: u8) -> Result<Option<u16>> {
    m.get(n)
        .map(|v| {
            number(v)
                .and_then(|x| u16::try_from(x).ok())
                .ok_or(Error::IsoField { field: n })
        })
        .transpose()
}

fn put_card_read(
    m: &mut IsoMessage,
    expiry: Option<Expiry>,
    entry: Option<PosEntryMode>,
    card_sequence: Option<u16>,
    condition: Option<u8>,
) -> Result<()> {
    if let Some(e) = expiry {
        m.set(14, &e.to_digits())?;
    }
    if let Some(e) = entry {
        m.set(22, e.as_bytes())?;
    }
    if let Some(s) = card_sequence {
        m.set(
            23,
            &digits::<3>(u64::from(s)).ok_or(Error::IsoField { field: 23 })?,
        )?;
    }
    if let Some(c) = condition {
        m.set(
            25,
            &digits::<2>(u64::from(c)).ok_or(Error::IsoField { field: 25 })?,
        )?;
    }
    Ok(())
}

fn put_emv(m: &mut IsoMessage, emv: &[u8]) -> Result<()> {
    if emv.is_empty() {
        Ok(())
    } else {
        m.set(55, emv)
    }
}

fn get_cashback(m: &IsoMessage) -> Result<Option<Amount>> {
    let Some(v) = m.get(54) else { return Ok(None) };
    let bad = Error::IsoField { field: 54 };
    if v.len() % 20 != 0 {
        return Err(bad);
    }
    for block in v.chunks_exact(20) {
        let (head, amount) = block.split_at(8);
        let (kinds, sign) = head.split_at(7);
        if kinds.get(2..4) == Some(b"40") {
            if !matches!(sign, b"C" | b"D") {
                return Err(bad);
            }
            let minor = number(amount).ok_or(bad)?;
            return Amount::new(minor).map(Some).map_err(|_| bad);
        }
    }
    Ok(None)
}

fn put_cashback(m: &mut IsoMessage, cashback: Option<Amount>, currency: Currency) -> Result<()> {
    let Some(c) = cashback else { return Ok(()) };
    let bad = Error::IsoField { field: 54 };
    let mut block = [0u8; 20];
    let (head, amount) = block.split_at_mut(8);
    head.get_mut(..4).ok_or(bad)?.copy_from_slice(b"0040");
    head.get_mut(4..7)
        .ok_or(bad)?
        .copy_from_slice(&digits::<3>(u64::from(currency.numeric())).ok_or(bad)?);
    head.get_mut(7..).ok_or(bad)?.copy_from_slice(b"D");
    amount.copy_from_slice(&digits::<12>(c.minor()).ok_or(bad)?);
    m.set(54, &block)
}

/// 0200: authorize a sale, a sale with cashback or a refund (by [`ProcessingCode`]). The only
/// message that carries the full card number; its `Debug` masks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRequest<'a> {
    /// Field 2.
    pub pan: Pan,
    /// Field 3: [`ProcessingCode::SALE`], [`ProcessingCode::CASHBACK`], [`ProcessingCode::REFUND`].
    pub processing: ProcessingCode,
    /// Fields 4 and 49: the total (cashback included).
    pub amount: Money,
    /// Field 54: the cash-back part of `amount`.
    pub cashback: Option<Amount>,
    /// Field 11: system trace audit number, 0–999999.
    pub stan: u32,
    /// Field 7: when the message is sent (UTC by convention).
    pub transmission: Option<MonthDayTime>,
    /// Fields 12 and 13: the terminal's local date and time of the transaction.
    pub local: Option<MonthDayTime>,
    /// Field 14: the card's expiry date, from the chip (`5F24`) or the track.
    pub expiry: Option<Expiry>,
    /// Field 22: how the card was read and whether the terminal takes PINs.
    pub entry: Option<PosEntryMode>,
    /// Field 23: the card (PAN) sequence number, 0–999, from the chip (`5F34`).
    pub card_sequence: Option<u16>,
    /// Field 25: the point-of-service condition code, 0–99
    /// ([`super::POS_CONDITION_NORMAL`] for a card present at an attended terminal).
    pub condition: Option<u8>,
    /// Field 41.
    pub terminal_id: TerminalId,
    /// Field 42.
    pub merchant_id: Option<MerchantId>,
    /// Field 55: EMV data (BER-TLV), at most 255 bytes; empty means no field 55.
    pub emv: &'a [u8],
}

impl<'a> AuthorizationRequest<'a> {
    /// The field-level message (0200).
    pub fn to_message(&self) -> Result<IsoMessage> {
        self.emit(Mti::FINANCIAL_REQUEST)
    }

    /// The same request as an authorization only (0100): a pre-authorisation that reserves
    /// the amount.
    pub fn to_pre_auth_message(&self) -> Result<IsoMessage> {
        self.emit(Mti::AUTHORIZATION_REQUEST)
    }

    /// Reads an 0100.
    pub fn from_pre_auth_message(m: &'a IsoMessage) -> Result<Self> {
        check_mti(m, Mti::AUTHORIZATION_REQUEST)?;
        Self::read(m)
    }

    fn emit(&self, mti: Mti) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(mti);
        m.set_str(2, self.pan.digits())?;
        put_processing(&mut m, self.processing)?;
        put_money(&mut m, self.amount)?;
        if let Some(t) = self.transmission {
            m.set(7, &t.to_field7())?;
        }
        put_stan(&mut m, self.stan)?;
        put_local(&mut m, self.local)?;
        put_card_read(
            &mut m,
            self.expiry,
            self.entry,
            self.card_sequence,
            self.condition,
        )?;
        put_tid(&mut m, &self.terminal_id)?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        put_cashback(&mut m, self.cashback, self.amount.currency)?;
        put_emv(&mut m, self.emv)?;
        Ok(m)
    }

    /// Reads a 0200.
    pub fn from_message(m: &'a IsoMessage) -> Result<Self> {
        check_mti(m, Mti::FINANCIAL_REQUEST)?;
        Self::read(m)
    }

    fn read(m: &'a IsoMessage) -> Result<Self> {
        Ok(AuthorizationRequest {
            pan: get_pan(m)?,
            processing: get_processing(m)?.ok_or(Error::IsoMissingField { field: 3 })?,
            amount: need_money(m)?,
            cashback: get_cashback(m)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            local: get_local(m)?,
            expiry: m.get(14).map(Expiry::parse).transpose()?,
            entry: m.get(22).map(PosEntryMode::parse).transpose()?,
            card_sequence: get_small(m, 23)?,
            condition: get_small(m, 25)?
                .map(|c| u8::try_from(c).map_err(|_| Error::IsoField { field: 25 }))
                .transpose()?,
            terminal_id: need_tid(m)?,
            merchant_id: get_mid(m)?,
            emv: m.get(55).unwrap_or_default(),
        })
    }

    /// The 0210 answering this request: echoes processing code, amount, STAN, transmission
    /// time, terminal and merchant; adds the host's code, approval code and reference.
    pub fn respond(
        &self,
        response_code: ResponseCode,
        approval_code: Option<ApprovalCode>,
        rrn: Option<Rrn>,
    ) -> AuthorizationResponse<'static> {
        AuthorizationResponse {
            processing: Some(self.processing),
            amount: Some(self.amount),
            stan: self.stan,
            transmission: self.transmission,
            rrn,
            approval_code,
            response_code,
            terminal_id: Some(self.terminal_id.clone()),
            merchant_id: self.merchant_id.clone(),
            emv: &[],
        }
    }
}

/// 0210: the host's answer to an [`AuthorizationRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationResponse<'a> {
    /// Field 3, echoed.
    pub processing: Option<ProcessingCode>,
    /// Fields 4 and 49, echoed.
    pub amount: Option<Money>,
    /// Field 11, echoed: match it to the request.
    pub stan: u32,
    /// Field 7, echoed.
    pub transmission: Option<MonthDayTime>,
    /// Field 37: the host's retrieval reference number.
    pub rrn: Option<Rrn>,
    /// Field 38: the approval code (up to 6 characters on this link).
    pub approval_code: Option<ApprovalCode>,
    /// Field 39.
    pub response_code: ResponseCode,
    /// Field 41, echoed.
    pub terminal_id: Option<TerminalId>,
    /// Field 42, echoed.
    pub merchant_id: Option<MerchantId>,
    /// Field 55: issuer data for the card (e.g. `91`, `71`/`72` scripts); empty if absent.
    pub emv: &'a [u8],
}

impl<'a> AuthorizationResponse<'a> {
    /// Whether the host approved ([`ResponseCode::is_approved`]).
    pub fn is_approved(&self) -> bool {
        self.response_code.is_approved()
    }

    /// The field-level message (0210).
    pub fn to_message(&self) -> Result<IsoMessage> {
        self.emit(Mti::FINANCIAL_RESPONSE)
    }

    /// The same answer to an authorization only (0110).
    pub fn to_pre_auth_message(&self) -> Result<IsoMessage> {
        self.emit(Mti::AUTHORIZATION_RESPONSE)
    }

    /// Reads an 0110.
    pub fn from_pre_auth_message(m: &'a IsoMessage) -> Result<Self> {
        check_mti(m, Mti::AUTHORIZATION_RESPONSE)?;
        Self::read(m)
    }

    fn emit(&self, mti: Mti) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(mti);
        if let Some(p) = self.processing {
            put_processing(&mut m, p)?;
        }
        if let Some(a) = self.amount {
            put_money(&mut m, a)?;
        }
        put_response_echo(
            &mut m,
            self.transmission,
            self.stan,
            &self.response_code,
            self.terminal_id.as_ref(),
        )?;
        put_rrn(&mut m, self.rrn.as_ref())?;
        put_approval(&mut m, self.approval_code.as_ref())?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        put_emv(&mut m, self.emv)?;
        Ok(m)
    }

    /// Reads a 0210.
    pub fn from_message(m: &'a IsoMessage) -> Result<Self> {
        check_mti(m, Mti::FINANCIAL_RESPONSE)?;
        Self::read(m)
    }

    fn read(m: &'a IsoMessage) -> Result<Self> {
        Ok(AuthorizationResponse {
            processing: get_processing(m)?,
            amount: get_money(m)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            rrn: get_rrn(m)?,
            approval_code: get_approval(m)?,
            response_code: get_response_code(m)?,
            terminal_id: get_tid(m)?,
            merchant_id: get_mid(m)?,
            emv: m.get(55).unwrap_or_default(),
        })
    }
}

/// 0400: reverse an authorization (the cardholder cancelled, the till's answer was lost, the
/// host's answer came too late). Field 90 identifies the original.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReversalRequest<'a> {
    /// Field 2, as in the original; optional, because a terminal that stores no card numbers
    /// sends a reversal after a restart without it (field 90 identifies the original).
    pub pan: Option<Pan>,
    /// Field 3, as in the original.
    pub processing: ProcessingCode,
    /// Fields 4 and 49, as in the original.
    pub amount: Money,
    /// Field 11: a new trace number for this message.
    pub stan: u32,
    /// Field 7: when this message is sent.
    pub transmission: Option<MonthDayTime>,
    /// Field 37: the original's retrieval reference, if the host gave one.
    pub rrn: Option<Rrn>,
    /// Field 38: the original's approval code, if any.
    pub approval_code: Option<ApprovalCode>,
    /// Field 39: why (e.g. [`ResponseCode::TOO_LATE`] after a timeout), if said.
    pub reason: Option<ResponseCode>,
    /// Field 41.
    pub terminal_id: TerminalId,
    /// Field 42.
    pub merchant_id: Option<MerchantId>,
    /// Field 90.
    pub original: OriginalData,
    /// Field 55: EMV data of the reversal, if any.
    pub emv: &'a [u8],
    /// Field 95 (replacement amounts): for a partial reversal, the amount that stays (in the
    /// currency of field 49); `None`: the whole amount is reversed.
    pub replacement: Option<Amount>,
}

impl<'a> ReversalRequest<'a> {
    /// The reversal of `original` (sent with trace number `original.stan` at `original.transmission`):
    /// a new `stan` and `transmission`, the approval data the host gave if any.
    pub fn for_authorization(
        original: &AuthorizationRequest<'_>,
        answer: Option<&AuthorizationResponse<'_>>,
        stan: u32,
        transmission: MonthDayTime,
        reason: Option<ResponseCode>,
    ) -> Self {
        ReversalRequest {
            pan: Some(original.pan.clone()),
            processing: original.processing,
            amount: original.amount,
            stan,
            transmission: Some(transmission),
            rrn: answer.and_then(|a| a.rrn),
            approval_code: answer.and_then(|a| a.approval_code.clone()),
            reason,
            terminal_id: original.terminal_id.clone(),
            merchant_id: original.merchant_id.clone(),
            original: OriginalData {
                mti: Mti::FINANCIAL_REQUEST,
                stan: original.stan,
                transmission: original
                    .transmission
                    .or(original.local)
                    .unwrap_or(transmission),
                acquirer: 0,
                forwarder: 0,
            },
            emv: &[],
            replacement: None,
        }
    }

    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::REVERSAL_REQUEST);
        if let Some(pan) = &self.pan {
            m.set_str(2, pan.digits())?;
        }
        put_processing(&mut m, self.processing)?;
        put_money(&mut m, self.amount)?;
        if let Some(t) = self.transmission {
            m.set(7, &t.to_field7())?;
        }
        put_stan(&mut m, self.stan)?;
        put_rrn(&mut m, self.rrn.as_ref())?;
        put_approval(&mut m, self.approval_code.as_ref())?;
        if let Some(r) = self.reason {
            m.set(39, r.as_bytes())?;
        }
        put_tid(&mut m, &self.terminal_id)?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        put_emv(&mut m, self.emv)?;
        m.set(90, &self.original.to_digits()?)?;
        if let Some(r) = self.replacement {
            m.set(95, &replacement_amounts(r)?)?;
        }
        Ok(m)
    }

    /// Reads a 0400.
    pub fn from_message(m: &'a IsoMessage) -> Result<Self> {
        check_mti(m, Mti::REVERSAL_REQUEST)?;
        Ok(ReversalRequest {
            pan: m.has(2).then(|| get_pan(m)).transpose()?,
            processing: get_processing(m)?.ok_or(Error::IsoMissingField { field: 3 })?,
            amount: need_money(m)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            rrn: get_rrn(m)?,
            approval_code: get_approval(m)?,
            reason: m.get(39).map(ResponseCode::new).transpose()?,
            terminal_id: need_tid(m)?,
            merchant_id: get_mid(m)?,
            original: OriginalData::parse(need(m, 90)?)?,
            emv: m.get(55).unwrap_or_default(),
            replacement: m.get(95).map(parse_replacement).transpose()?,
        })
    }

    /// Whether this is a partial reversal (field 95 present).
    pub fn is_partial(&self) -> bool {
        self.replacement.is_some()
    }

    /// The 0410 answering this request.
    pub fn respond(&self, response_code: ResponseCode) -> ReversalResponse {
        ReversalResponse {
            processing: Some(self.processing),
            amount: Some(self.amount),
            stan: self.stan,
            transmission: self.transmission,
            rrn: self.rrn,
            response_code,
            terminal_id: Some(self.terminal_id.clone()),
            merchant_id: self.merchant_id.clone(),
        }
    }
}

/// 0410: the host's answer to a [`ReversalRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReversalResponse {
    /// Field 3, echoed.
    pub processing: Option<ProcessingCode>,
    /// Fields 4 and 49, echoed.
    pub amount: Option<Money>,
    /// Field 11, echoed.
    pub stan: u32,
    /// Field 7, echoed.
    pub transmission: Option<MonthDayTime>,
    /// Field 37.
    pub rrn: Option<Rrn>,
    /// Field 39: `00` the reversal is done; [`ResponseCode::NO_RECORD`] nothing to reverse.
    pub response_code: ResponseCode,
    /// Field 41, echoed.
    pub terminal_id: Option<TerminalId>,
    /// Field 42, echoed.
    pub merchant_id: Option<MerchantId>,
}

impl ReversalResponse {
    /// Whether the host accepted the reversal.
    pub fn is_approved(&self) -> bool {
        self.response_code.is_approved()
    }

    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::REVERSAL_RESPONSE);
        if let Some(p) = self.processing {
            put_processing(&mut m, p)?;
        }
        if let Some(a) = self.amount {
            put_money(&mut m, a)?;
        }
        put_response_echo(
            &mut m,
            self.transmission,
            self.stan,
            &self.response_code,
            self.terminal_id.as_ref(),
        )?;
        put_rrn(&mut m, self.rrn.as_ref())?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        Ok(m)
    }

    /// Reads a 0410.
    pub fn from_message(m: &IsoMessage) -> Result<Self> {
        check_mti(m, Mti::REVERSAL_RESPONSE)?;
        Ok(ReversalResponse {
            processing: get_processing(m)?,
            amount: get_money(m)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            rrn: get_rrn(m)?,
            response_code: get_response_code(m)?,
            terminal_id: get_tid(m)?,
            merchant_id: get_mid(m)?,
        })
    }
}

/// Field 95 (ISO 8583:1987 "replacement amounts", an42) with `actual` as the actual amount,
/// transaction (n12); the actual amount, settlement (n12) is zero and both fees are `D`
/// followed by eight zeros: this link settles in the transaction currency and takes no fees.
fn replacement_amounts(actual: Amount) -> Result<[u8; 42]> {
    let bad = Error::IsoField { field: 95 };
    let mut out = [b'0'; 42];
    let (txn, rest) = out.split_at_mut(12);
    txn.copy_from_slice(&digits::<12>(actual.minor()).ok_or(bad)?);
    let (_, fees) = rest.split_at_mut(12);
    let (fee1, fee2) = fees.split_at_mut(9);
    fee1.get_mut(..1).ok_or(bad)?.copy_from_slice(b"D");
    fee2.get_mut(..1).ok_or(bad)?.copy_from_slice(b"D");
    Ok(out)
}

/// The actual amount, transaction of a field 95.
fn parse_replacement(v: &[u8]) -> Result<Amount> {
    let bad = Error::IsoField { field: 95 };
    let head = v.get(..12).ok_or(bad)?;
    let minor = number(head).ok_or(bad)?;
    Amount::new(minor).map_err(|_| bad)
}

/// 0220: the completion of a pre-authorisation (an 0100 the host approved): the final amount
/// to charge, at most the reserved one; the host releases the rest. Field 90 names the 0100
/// (its MTI, trace and transmission time), field 38 carries the approval code it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionAdvice {
    /// Field 2, when the card number is still in memory (it is never journaled).
    pub pan: Option<Pan>,
    /// Field 3, as in the original.
    pub processing: ProcessingCode,
    /// Fields 4 and 49: the final amount.
    pub amount: Money,
    /// Field 11: this message's own trace number.
    pub stan: u32,
    /// Field 7: when this message is sent.
    pub transmission: Option<MonthDayTime>,
    /// Field 38: the original's approval code.
    pub approval_code: Option<ApprovalCode>,
    /// Field 41.
    pub terminal_id: TerminalId,
    /// Field 42.
    pub merchant_id: Option<MerchantId>,
    /// Field 90: the pre-authorisation completed.
    pub original: OriginalData,
}

impl CompletionAdvice {
    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::FINANCIAL_ADVICE);
        if let Some(pan) = &self.pan {
            m.set_str(2, pan.digits())?;
        }
        put_processing(&mut m, self.processing)?;
        put_money(&mut m, self.amount)?;
        if let Some(t) = self.transmission {
            m.set(7, &t.to_field7())?;
        }
        put_stan(&mut m, self.stan)?;
        put_approval(&mut m, self.approval_code.as_ref())?;
        put_tid(&mut m, &self.terminal_id)?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        m.set(90, &self.original.to_digits()?)?;
        Ok(m)
    }

    /// Reads an 0220.
    pub fn from_message(m: &IsoMessage) -> Result<Self> {
        check_mti(m, Mti::FINANCIAL_ADVICE)?;
        Ok(CompletionAdvice {
            pan: m.has(2).then(|| get_pan(m)).transpose()?,
            processing: get_processing(m)?.ok_or(Error::IsoMissingField { field: 3 })?,
            amount: need_money(m)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            approval_code: get_approval(m)?,
            terminal_id: need_tid(m)?,
            merchant_id: get_mid(m)?,
            original: OriginalData::parse(need(m, 90)?)?,
        })
    }

    /// The 0230 answering this advice.
    pub fn respond(&self, response_code: ResponseCode) -> CompletionResponse {
        CompletionResponse {
            processing: Some(self.processing),
            amount: Some(self.amount),
            stan: self.stan,
            transmission: self.transmission,
            response_code,
            terminal_id: Some(self.terminal_id.clone()),
            merchant_id: self.merchant_id.clone(),
        }
    }
}

/// 0230: the host's answer to a [`CompletionAdvice`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionResponse {
    /// Field 3, echoed.
    pub processing: Option<ProcessingCode>,
    /// Fields 4 and 49, echoed.
    pub amount: Option<Money>,
    /// Field 11, echoed.
    pub stan: u32,
    /// Field 7, echoed.
    pub transmission: Option<MonthDayTime>,
    /// Field 39: `00` booked; [`ResponseCode::NO_RECORD`] no such pre-authorisation.
    pub response_code: ResponseCode,
    /// Field 41, echoed.
    pub terminal_id: Option<TerminalId>,
    /// Field 42, echoed.
    pub merchant_id: Option<MerchantId>,
}

impl CompletionResponse {
    /// Whether the host booked the amount.
    pub fn is_approved(&self) -> bool {
        self.response_code.is_approved()
    }

    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::FINANCIAL_ADVICE_RESPONSE);
        if let Some(p) = self.processing {
            put_processing(&mut m, p)?;
        }
        if let Some(a) = self.amount {
            put_money(&mut m, a)?;
        }
        put_response_echo(
            &mut m,
            self.transmission,
            self.stan,
            &self.response_code,
            self.terminal_id.as_ref(),
        )?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        Ok(m)
    }

    /// Reads an 0230.
    pub fn from_message(m: &IsoMessage) -> Result<Self> {
        check_mti(m, Mti::FINANCIAL_ADVICE_RESPONSE)?;
        Ok(CompletionResponse {
            processing: get_processing(m)?,
            amount: get_money(m)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            response_code: get_response_code(m)?,
            terminal_id: get_tid(m)?,
            merchant_id: get_mid(m)?,
        })
    }
}

/// Batch totals of one currency as fields 49, 74, 76, 86 and 88 carry them (counts n10,
/// amounts n16 in minor units). Reversed transactions are not in them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BatchTotals {
    /// Field 49.
    pub currency: Currency,
    /// Field 76: number of debits (sales).
    pub debit_count: u32,
    /// Field 88: sum of debits.
    pub debit_minor: u64,
    /// Field 74: number of credits (refunds).
    pub credit_count: u32,
    /// Field 86: sum of credits.
    pub credit_minor: u64,
}

impl BatchTotals {
    /// The totals of `t`, if its currency is one the core knows.
    pub fn from_currency_totals(t: &CurrencyTotals) -> Result<Self> {
        Ok(BatchTotals {
            currency: Currency::from_numeric(t.currency)?,
            debit_count: t.debit_count,
            debit_minor: t.debit_minor,
            credit_count: t.credit_count,
            credit_minor: t.credit_minor,
        })
    }

    /// The same totals in the transaction model (reversal count 0: the link does not carry it).
    pub fn to_currency_totals(&self) -> CurrencyTotals {
        CurrencyTotals {
            currency: self.currency.numeric(),
            debit_count: self.debit_count,
            debit_minor: self.debit_minor,
            credit_count: self.credit_count,
            credit_minor: self.credit_minor,
            reversal_count: 0,
        }
    }

    fn put(&self, m: &mut IsoMessage) -> Result<()> {
        put_currency(m, self.currency)?;
        let f = |field: u8| Error::IsoField { field };
        m.set(
            74,
            &digits::<10>(u64::from(self.credit_count)).ok_or(f(74))?,
        )?;
        m.set(76, &digits::<10>(u64::from(self.debit_count)).ok_or(f(76))?)?;
        m.set(86, &digits::<16>(self.credit_minor).ok_or(f(86))?)?;
        m.set(88, &digits::<16>(self.debit_minor).ok_or(f(88))?)
    }

    fn get(m: &IsoMessage) -> Result<Option<Self>> {
        let fields = [49u8, 74, 76, 86, 88];
        if fields.iter().all(|&n| !m.has(n)) {
            return Ok(None);
        }
        let mut v = [0u64; 5];
        for (slot, n) in v.iter_mut().zip(fields) {
            *slot = number(need(m, n)?).ok_or(Error::IsoField { field: n })?;
        }
        let [ccy, credits, debits, credit_minor, debit_minor] = v;
        let count = |c: u64, field: u8| u32::try_from(c).map_err(|_| Error::IsoField { field });
        Ok(Some(BatchTotals {
            currency: Currency::from_numeric(ccy as u16)?,
            debit_count: count(debits, 76)?,
            debit_minor,
            credit_count: count(credits, 74)?,
            credit_minor,
        }))
    }
}

/// 0500: close the batch (close totals) and reconcile the terminal's totals with the host's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconciliationRequest {
    /// Field 11.
    pub stan: u32,
    /// Field 7.
    pub transmission: Option<MonthDayTime>,
    /// Field 41.
    pub terminal_id: TerminalId,
    /// Field 42.
    pub merchant_id: Option<MerchantId>,
    /// Fields 49, 74, 76, 86, 88: the terminal's totals.
    pub totals: Option<BatchTotals>,
}

impl ReconciliationRequest {
    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::RECONCILIATION_REQUEST);
        if let Some(t) = self.transmission {
            m.set(7, &t.to_field7())?;
        }
        put_stan(&mut m, self.stan)?;
        put_tid(&mut m, &self.terminal_id)?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        if let Some(t) = &self.totals {
            t.put(&mut m)?;
        }
        Ok(m)
    }

    /// Reads a 0500.
    pub fn from_message(m: &IsoMessage) -> Result<Self> {
        check_mti(m, Mti::RECONCILIATION_REQUEST)?;
        Ok(ReconciliationRequest {
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            terminal_id: need_tid(m)?,
            merchant_id: get_mid(m)?,
            totals: BatchTotals::get(m)?,
        })
    }

    /// The 0510 answering this request, with the host's totals if it sends them.
    pub fn respond(
        &self,
        response_code: ResponseCode,
        totals: Option<BatchTotals>,
    ) -> ReconciliationResponse {
        ReconciliationResponse {
            stan: self.stan,
            transmission: self.transmission,
            response_code,
            terminal_id: Some(self.terminal_id.clone()),
            merchant_id: self.merchant_id.clone(),
            totals,
        }
    }
}

/// 0510: the host's answer to a [`ReconciliationRequest`]. Response code `00`: in balance,
/// batch closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconciliationResponse {
    /// Field 11, echoed.
    pub stan: u32,
    /// Field 7, echoed.
    pub transmission: Option<MonthDayTime>,
    /// Field 39.
    pub response_code: ResponseCode,
    /// Field 41, echoed.
    pub terminal_id: Option<TerminalId>,
    /// Field 42, echoed.
    pub merchant_id: Option<MerchantId>,
    /// The host's totals.
    pub totals: Option<BatchTotals>,
}

impl ReconciliationResponse {
    /// Whether the host closed the batch in balance.
    pub fn is_approved(&self) -> bool {
        self.response_code.is_approved()
    }

    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::RECONCILIATION_RESPONSE);
        put_response_echo(
            &mut m,
            self.transmission,
            self.stan,
            &self.response_code,
            self.terminal_id.as_ref(),
        )?;
        put_mid(&mut m, self.merchant_id.as_ref())?;
        if let Some(t) = &self.totals {
            t.put(&mut m)?;
        }
        Ok(m)
    }

    /// Reads a 0510.
    pub fn from_message(m: &IsoMessage) -> Result<Self> {
        check_mti(m, Mti::RECONCILIATION_RESPONSE)?;
        Ok(ReconciliationResponse {
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            response_code: get_response_code(m)?,
            terminal_id: get_tid(m)?,
            merchant_id: get_mid(m)?,
            totals: BatchTotals::get(m)?,
        })
    }
}

/// 0800: network management: echo test (is the host there?), sign-on, sign-off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRequest {
    /// Field 70.
    pub code: NetworkCode,
    /// Field 11.
    pub stan: u32,
    /// Field 7.
    pub transmission: MonthDayTime,
    /// Field 41.
    pub terminal_id: Option<TerminalId>,
}

impl NetworkRequest {
    /// An echo test (70 = 301) with fields 7 and 11.
    pub fn echo(stan: u32, transmission: MonthDayTime) -> Self {
        NetworkRequest {
            code: NetworkCode::EchoTest,
            stan,
            transmission,
            terminal_id: None,
        }
    }

    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::NETWORK_REQUEST);
        m.set(7, &self.transmission.to_field7())?;
        put_stan(&mut m, self.stan)?;
        if let Some(t) = &self.terminal_id {
            put_tid(&mut m, t)?;
        }
        m.set(70, &self.code.to_digits())?;
        Ok(m)
    }

    /// Reads an 0800.
    pub fn from_message(m: &IsoMessage) -> Result<Self> {
        check_mti(m, Mti::NETWORK_REQUEST)?;
        Ok(NetworkRequest {
            code: NetworkCode::parse(need(m, 70)?)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?.ok_or(Error::IsoMissingField { field: 7 })?,
            terminal_id: get_tid(m)?,
        })
    }

    /// The 0810 answering this request.
    pub fn respond(&self, response_code: ResponseCode) -> NetworkResponse {
        NetworkResponse {
            code: self.code,
            stan: self.stan,
            transmission: Some(self.transmission),
            response_code,
            terminal_id: self.terminal_id.clone(),
        }
    }
}

/// 0810: the host's answer to a [`NetworkRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkResponse {
    /// Field 70, echoed.
    pub code: NetworkCode,
    /// Field 11, echoed.
    pub stan: u32,
    /// Field 7, echoed.
    pub transmission: Option<MonthDayTime>,
    /// Field 39: `00` when the host is up.
    pub response_code: ResponseCode,
    /// Field 41, echoed.
    pub terminal_id: Option<TerminalId>,
}

impl NetworkResponse {
    /// Whether the host answered `00` (or another approving code).
    pub fn is_approved(&self) -> bool {
        self.response_code.is_approved()
    }

    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        let mut m = IsoMessage::new(Mti::NETWORK_RESPONSE);
        put_response_echo(
            &mut m,
            self.transmission,
            self.stan,
            &self.response_code,
            self.terminal_id.as_ref(),
        )?;
        m.set(70, &self.code.to_digits())?;
        Ok(m)
    }

    /// Reads an 0810.
    pub fn from_message(m: &IsoMessage) -> Result<Self> {
        check_mti(m, Mti::NETWORK_RESPONSE)?;
        Ok(NetworkResponse {
            code: NetworkCode::parse(need(m, 70)?)?,
            stan: get_stan(m)?,
            transmission: get_time(m, 7)?,
            response_code: get_response_code(m)?,
            terminal_id: get_tid(m)?,
        })
    }
}

/// Any message of the link, typed by its MTI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum BankMessage<'a> {
    /// 0200.
    AuthorizationRequest(AuthorizationRequest<'a>),
    /// 0210.
    AuthorizationResponse(AuthorizationResponse<'a>),
    /// 0400.
    ReversalRequest(ReversalRequest<'a>),
    /// 0410.
    ReversalResponse(ReversalResponse),
    /// 0500.
    ReconciliationRequest(ReconciliationRequest),
    /// 0510.
    ReconciliationResponse(ReconciliationResponse),
    /// 0800.
    NetworkRequest(NetworkRequest),
    /// 0810.
    NetworkResponse(NetworkResponse),
    /// 0100 (authorization only: a pre-authorisation).
    PreAuthorizationRequest(AuthorizationRequest<'a>),
    /// 0110.
    PreAuthorizationResponse(AuthorizationResponse<'a>),
    /// 0220 (completion of a pre-authorisation).
    CompletionAdvice(CompletionAdvice),
    /// 0230.
    CompletionResponse(CompletionResponse),
}

impl<'a> BankMessage<'a> {
    /// Types a field-level message; an MTI other than the twelve above is [`Error::IsoMti`].
    pub fn from_message(m: &'a IsoMessage) -> Result<Self> {
        Ok(match *m.mti().as_bytes() {
            [b'0', b'2', b'0', b'0'] => {
                Self::AuthorizationRequest(AuthorizationRequest::from_message(m)?)
            }
            [b'0', b'2', b'1', b'0'] => {
                Self::AuthorizationResponse(AuthorizationResponse::from_message(m)?)
            }
            [b'0', b'4', b'0', b'0'] => Self::ReversalRequest(ReversalRequest::from_message(m)?),
            [b'0', b'4', b'1', b'0'] => Self::ReversalResponse(ReversalResponse::from_message(m)?),
            [b'0', b'5', b'0', b'0'] => {
                Self::ReconciliationRequest(ReconciliationRequest::from_message(m)?)
            }
            [b'0', b'5', b'1', b'0'] => {
                Self::ReconciliationResponse(ReconciliationResponse::from_message(m)?)
            }
            [b'0', b'8', b'0', b'0'] => Self::NetworkRequest(NetworkRequest::from_message(m)?),
            [b'0', b'8', b'1', b'0'] => Self::NetworkResponse(NetworkResponse::from_message(m)?),
            [b'0', b'1', b'0', b'0'] => {
                Self::PreAuthorizationRequest(AuthorizationRequest::from_pre_auth_message(m)?)
            }
            [b'0', b'1', b'1', b'0'] => {
                Self::PreAuthorizationResponse(AuthorizationResponse::from_pre_auth_message(m)?)
            }
            [b'0', b'2', b'2', b'0'] => Self::CompletionAdvice(CompletionAdvice::from_message(m)?),
            [b'0', b'2', b'3', b'0'] => {
                Self::CompletionResponse(CompletionResponse::from_message(m)?)
            }
            _ => return Err(Error::IsoMti),
        })
    }

    /// The field-level message.
    pub fn to_message(&self) -> Result<IsoMessage> {
        match self {
            Self::AuthorizationRequest(x) => x.to_message(),
            Self::AuthorizationResponse(x) => x.to_message(),
            Self::ReversalRequest(x) => x.to_message(),
            Self::ReversalResponse(x) => x.to_message(),
            Self::ReconciliationRequest(x) => x.to_message(),
            Self::ReconciliationResponse(x) => x.to_message(),
            Self::NetworkRequest(x) => x.to_message(),
            Self::NetworkResponse(x) => x.to_message(),
            Self::PreAuthorizationRequest(x) => x.to_pre_auth_message(),
            Self::PreAuthorizationResponse(x) => x.to_pre_auth_message(),
            Self::CompletionAdvice(x) => x.to_message(),
            Self::CompletionResponse(x) => x.to_message(),
        }
    }

    /// The STAN (field 11), to match a response to its request.
    pub fn stan(&self) -> u32 {
        match self {
            Self::AuthorizationRequest(x) => x.stan,
            Self::AuthorizationResponse(x) => x.stan,
            Self::ReversalRequest(x) => x.stan,
            Self::ReversalResponse(x) => x.stan,
            Self::ReconciliationRequest(x) => x.stan,
            Self::ReconciliationResponse(x) => x.stan,
            Self::NetworkRequest(x) => x.stan,
            Self::NetworkResponse(x) => x.stan,
            Self::PreAuthorizationRequest(x) => x.stan,
            Self::PreAuthorizationResponse(x) => x.stan,
            Self::CompletionAdvice(x) => x.stan,
            Self::CompletionResponse(x) => x.stan,
        }
    }
}
