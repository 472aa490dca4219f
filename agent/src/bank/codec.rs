//! Maps [`BankRequest`] / [`BankAnswer`] to ISO 8583 bytes through `ecrlink_core::bank`.

use ecrlink_core::bank::{
    AuthorizationRequest, BankMessage, BatchTotals, IsoMessage, MacKey, MerchantId, MonthDayTime,
    Mti, NetworkCode, NetworkRequest, OriginalData, ProcessingCode, ReconciliationRequest,
    ReversalRequest, framing,
};
use ecrlink_core::txn::{Currency, EmvData, RequestKind, TerminalId, Timestamp};

use super::BankError;
use super::msg::{AuthKind, BankAnswer, BankRequest};

/// Who the terminal is on the bank link (fields 41 and 42).
#[derive(Clone, Debug)]
pub struct Identity {
    /// Terminal id.
    pub terminal_id: TerminalId,
    /// Merchant id.
    pub merchant_id: Option<MerchantId>,
    /// The terminal's MAC key: every request is signed and every answer checked
    /// ([`ecrlink_core::bank::mac`]). `None`: no MAC (a bank on this machine only).
    pub mac_key: Option<MacKey>,
}

fn mdt(t: Timestamp) -> Result<MonthDayTime, BankError> {
    MonthDayTime::new(t.month, t.day, t.hour, t.minute, t.second)
        .map_err(|e| BankError::Codec(e.to_string()))
}

fn codec(e: ecrlink_core::Error) -> BankError {
    BankError::Codec(e.to_string())
}

fn processing(kind: RequestKind) -> ProcessingCode {
    match kind {
        RequestKind::SaleWithCashback => ProcessingCode::CASHBACK,
        RequestKind::Refund => ProcessingCode::REFUND,
        _ => ProcessingCode::SALE,
    }
}

/// Encodes `req` with its 2-byte length prefix. A reversal carries the card number only when
/// it is still in memory (the journal never holds it, so a reversal re-sent after a restart
/// goes without field 2 and is identified by field 90).
pub fn encode(req: &BankRequest, id: &Identity) -> Result<Vec<u8>, BankError> {
    let mut message: IsoMessage = match req {
        BankRequest::Auth(a) => {
            let t = mdt(a.transmitted)?;
            AuthorizationRequest {
                pan: a.pan.clone(),
                processing: match a.kind {
                    AuthKind::Sale => ProcessingCode::SALE,
                    AuthKind::Cashback => ProcessingCode::CASHBACK,
                    AuthKind::Refund => ProcessingCode::REFUND,
                },
                amount: a.amount,
                cashback: a.cashback,
                stan: a.stan,
                transmission: Some(t),
                local: Some(t),
                terminal_id: id.terminal_id.clone(),
                merchant_id: id.merchant_id.clone(),
                emv: &a.emv,
            }
            .to_message()
            .map_err(codec)?
        }
        BankRequest::Reversal(r) => {
            let t = mdt(r.transmitted)?;
            let rev = ReversalRequest {
                pan: r.pan.clone(),
                processing: processing(r.original.kind),
                amount: r.original.amount,
                stan: r.stan,
                transmission: Some(t),
                rrn: None,
                approval_code: None,
                reason: None,
                terminal_id: id.terminal_id.clone(),
                merchant_id: id.merchant_id.clone(),
                original: OriginalData {
                    mti: Mti::FINANCIAL_REQUEST,
                    stan: r.original.stan,
                    transmission: mdt(r.original.transmitted)?,
                    acquirer: 0,
                    forwarder: 0,
                },
                emv: &[],
            };
            rev.to_message().map_err(codec)?
        }
        BankRequest::Reconcile(r) => ReconciliationRequest {
            stan: r.stan,
            transmission: Some(mdt(r.transmitted)?),
            terminal_id: id.terminal_id.clone(),
            merchant_id: id.merchant_id.clone(),
            totals: Some(BatchTotals {
                currency: Currency::from_numeric(r.currency).map_err(codec)?,
                debit_count: r.debits.0,
                debit_minor: r.debits.1,
                credit_count: r.credits.0,
                credit_minor: r.credits.1,
            }),
        }
        .to_message()
        .map_err(codec)?,
        BankRequest::Echo { stan, transmitted } => NetworkRequest {
            code: NetworkCode::EchoTest,
            stan: *stan,
            transmission: mdt(*transmitted)?,
            terminal_id: Some(id.terminal_id.clone()),
        }
        .to_message()
        .map_err(codec)?,
    };
    let mut buf = vec![0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
    let n = match &id.mac_key {
        Some(key) => ecrlink_core::bank::mac::emit_signed_prefixed(&mut message, key, &mut buf)
            .map_err(codec)?,
        None => message.emit_prefixed(&mut buf).map_err(codec)?,
    };
    buf.truncate(n);
    Ok(buf)
}

/// Checks the MAC of an answer (the message without its prefix). `None`: it verifies.
/// Otherwise the trace number it claims (when it parses that far; it may be forged too) and
/// why it fails.
pub fn mac_failure(body: &[u8], key: &MacKey) -> Option<(Option<u32>, ecrlink_core::Error)> {
    let message = match IsoMessage::parse(body) {
        Ok(m) => m,
        // Not parseable at all: `decode` reports it as it always did.
        Err(_) => return None,
    };
    let e = ecrlink_core::bank::mac::verify_parsed(&message, body, key).err()?;
    let stan = message.get_str(11).and_then(|s| s.parse::<u32>().ok());
    Some((stan, e))
}

/// Decodes one answer (the message without its prefix).
pub fn decode(body: &[u8]) -> Result<BankAnswer, String> {
    let m = IsoMessage::parse(body).map_err(|e| e.to_string())?;
    let typed = BankMessage::from_message(&m).map_err(|e| e.to_string())?;
    let emv = |b: &[u8]| EmvData::from_slice(b).unwrap_or_default();
    let answer = match typed {
        BankMessage::AuthorizationResponse(r) => BankAnswer {
            mti: 210,
            stan: r.stan,
            code: r.response_code,
            approval: r.approval_code.clone(),
            amount: r.amount,
            emv: emv(r.emv),
        },
        BankMessage::ReversalResponse(r) => BankAnswer {
            mti: 410,
            stan: r.stan,
            code: r.response_code,
            approval: None,
            amount: None,
            emv: EmvData::new(),
        },
        BankMessage::ReconciliationResponse(r) => BankAnswer {
            mti: 510,
            stan: r.stan,
            code: r.response_code,
            approval: None,
            amount: None,
            emv: EmvData::new(),
        },
        BankMessage::NetworkResponse(r) => BankAnswer {
            mti: 810,
            stan: r.stan,
            code: r.response_code,
            approval: None,
            amount: None,
            emv: EmvData::new(),
        },
        _ => return Err(format!("unexpected {} from the bank", m.mti().as_str())),
    };
    Ok(answer)
}
