//! The application's bank messages on the wire: [`BankRequest`] to ISO 8583 bytes with the
//! 2-byte length prefix, and an answer's bytes back to a [`BankAnswer`], through
//! [`crate::bank`]. No heap: the caller owns the buffers. Both a firmware main loop and a
//! hosted driver can use it.
//!
//! ```
//! use ecrlink_core::bank::{IsoMessage, framing};
//! use ecrlink_core::terminal::{BankRequest, wire};
//! use ecrlink_core::txn::{TerminalId, Timestamp};
//!
//! let id = wire::Identity { terminal_id: TerminalId::new("T0000001")?, merchant_id: None };
//! let transmitted = Timestamp { year: 2026, month: 12, day: 7, hour: 9, minute: 30, second: 0 };
//! let echo = BankRequest::Echo { stan: 7, transmitted };
//! let mut buf = [0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
//! let n = wire::encode_prefixed(&echo, &id, &mut buf)?;
//! assert_eq!(&buf[2..6], b"0800");
//! assert_eq!(usize::from(u16::from_be_bytes([buf[0], buf[1]])), n - 2);
//! # Ok::<(), ecrlink_core::Error>(())
//! ```

use super::{AuthKind, BankAnswer, BankRequest};
use crate::bank::{
    AuthorizationRequest, BankMessage, BatchTotals, CompletionAdvice, IsoMessage, MerchantId,
    MonthDayTime, Mti, NetworkCode, NetworkRequest, OriginalData, POS_CONDITION_NORMAL,
    PosEntryMode, ProcessingCode, ReconciliationRequest, ResponseCode, ReversalRequest,
};
use crate::journal::{Original, ReversalReason};
use crate::txn::{Currency, EmvData, RequestKind, TerminalId, Timestamp};
use crate::{Error, Result};

/// Who the terminal is on the bank link (fields 41 and 42).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Terminal id (field 41).
    pub terminal_id: TerminalId,
    /// Merchant id (field 42), when the acquirer assigned one.
    pub merchant_id: Option<MerchantId>,
}

fn mdt(t: Timestamp) -> Result<MonthDayTime> {
    MonthDayTime::new(t.month, t.day, t.hour, t.minute, t.second)
}

fn processing(kind: RequestKind) -> ProcessingCode {
    match kind {
        RequestKind::SaleWithCashback => ProcessingCode::CASHBACK,
        RequestKind::Refund => ProcessingCode::REFUND,
        _ => ProcessingCode::SALE,
    }
}

/// Field 90 of a message that refers to `original`: a reservation's is MTI `0100`, any
/// other authorization's `0200`.
fn original_data(original: &Original) -> Result<OriginalData> {
    let mti = if original.kind == RequestKind::Reservation {
        Mti::AUTHORIZATION_REQUEST
    } else {
        Mti::FINANCIAL_REQUEST
    };
    Ok(OriginalData {
        mti,
        stan: original.stan,
        transmission: mdt(original.transmitted)?,
        acquirer: 0,
        forwarder: 0,
    })
}

fn auth_message<'a>(a: &'a super::AuthRequest, id: &Identity) -> AuthorizationRequest<'a> {
    let t = mdt(a.transmitted).ok();
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
        transmission: t,
        local: t,
        expiry: a.expiry,
        entry: Some(PosEntryMode::new(a.entry_mode, true)),
        card_sequence: a.card_sequence.map(u16::from),
        condition: Some(POS_CONDITION_NORMAL),
        terminal_id: id.terminal_id.clone(),
        merchant_id: id.merchant_id.clone(),
        emv: &a.emv,
    }
}

/// Field 39 of a reversal (0400): why the terminal reverses. ISO 8583:1987 has no reason field
/// of its own (its field 25 is the POS condition code; ISO 8583:1993 moved the reason to a
/// field 25 "message reason code", n4, `4xxx` for reversals), so a 1987 reversal carries its
/// reason as a 1987 response code in field 39, from the codes that list marks for reversals
/// (e.g. the `iso0` code table of the `ut-codec` package: "17 customer cancellation,
/// reversal", "21 no action taken, reversal", "22 suspected malfunction, reversal", "32
/// completed partially, reversal") and `68` response received too late:
///
/// | reason | field 39 | meaning |
/// |---|---|---|
/// | the till asked ([`ReversalReason::TillRequest`]) | `17` | customer cancellation |
/// | no answer in time, or one that did not verify ([`ReversalReason::BankTimeout`]) | `68` | response received too late |
/// | the till could not be told ([`ReversalReason::Undeliverable`]) | `21` | no action taken |
/// | partial approval given back ([`ReversalReason::PartialApproval`]) | `32` | completed partially |
/// | found open after a restart ([`ReversalReason::Recovery`]) | `22` | suspected malfunction |
pub fn reversal_reason_code(reason: ReversalReason) -> ResponseCode {
    match reason {
        ReversalReason::TillRequest => ResponseCode::CUSTOMER_CANCELLATION,
        ReversalReason::BankTimeout => ResponseCode::TOO_LATE,
        ReversalReason::Undeliverable => ResponseCode::NO_ACTION_TAKEN,
        ReversalReason::PartialApproval => ResponseCode::COMPLETED_PARTIALLY,
        ReversalReason::Recovery => ResponseCode::SUSPECTED_MALFUNCTION,
    }
}

/// The field-level ISO 8583 message for `req`.
///
/// An authorization (0200) carries, beside the amount and the card number, how the card was
/// read (field 22, the terminal taking PINs), its expiry (14) and sequence number (23) when
/// the reader gave them, the condition code `00` (25: card present, attended) and the chip
/// data (55). A reversal carries the card number only when it is still in memory (the
/// journal never holds it): after a restart it goes without field 2 and is identified by
/// field 90; its reason is field 39 ([`reversal_reason_code`]).
pub fn to_message(req: &BankRequest, id: &Identity) -> Result<IsoMessage> {
    match req {
        BankRequest::Auth(a) => {
            mdt(a.transmitted)?;
            auth_message(a, id).to_message()
        }
        BankRequest::Reversal(r) => ReversalRequest {
            pan: r.pan.clone(),
            processing: processing(r.original.kind),
            amount: r.original.amount,
            stan: r.stan,
            transmission: Some(mdt(r.transmitted)?),
            rrn: None,
            approval_code: None,
            reason: Some(reversal_reason_code(r.reason)),
            terminal_id: id.terminal_id.clone(),
            merchant_id: id.merchant_id.clone(),
            original: original_data(&r.original)?,
            emv: &[],
            replacement: None,
        }
        .to_message(),
        BankRequest::PreAuth(a) => {
            mdt(a.transmitted)?;
            auth_message(a, id).to_pre_auth_message()
        }
        BankRequest::Completion(c) => CompletionAdvice {
            pan: c.pan.clone(),
            processing: ProcessingCode::SALE,
            amount: c.amount,
            stan: c.stan,
            transmission: Some(mdt(c.transmitted)?),
            approval_code: c.approval.clone(),
            terminal_id: id.terminal_id.clone(),
            merchant_id: id.merchant_id.clone(),
            original: original_data(&c.original)?,
        }
        .to_message(),
        BankRequest::Release(r) => ReversalRequest {
            pan: r.pan.clone(),
            processing: ProcessingCode::SALE,
            amount: r.original.amount,
            stan: r.stan,
            transmission: Some(mdt(r.transmitted)?),
            rrn: None,
            approval_code: None,
            reason: Some(ResponseCode::COMPLETED_PARTIALLY),
            terminal_id: id.terminal_id.clone(),
            merchant_id: id.merchant_id.clone(),
            original: original_data(&r.original)?,
            emv: &[],
            replacement: Some(r.keep),
        }
        .to_message(),
        BankRequest::Reconcile(r) => ReconciliationRequest {
            stan: r.stan,
            transmission: Some(mdt(r.transmitted)?),
            terminal_id: id.terminal_id.clone(),
            merchant_id: id.merchant_id.clone(),
            totals: Some(BatchTotals {
                currency: Currency::from_numeric(r.currency)?,
                debit_count: r.debits.0,
                debit_minor: r.debits.1,
                credit_count: r.credits.0,
                credit_minor: r.credits.1,
            }),
        }
        .to_message(),
        BankRequest::Echo { stan, transmitted } => NetworkRequest {
            code: NetworkCode::EchoTest,
            stan: *stan,
            transmission: mdt(*transmitted)?,
            terminal_id: Some(id.terminal_id.clone()),
        }
        .to_message(),
    }
}

/// Encodes `req` with its 2-byte length prefix at the start of `out` and returns the bytes
/// written; `framing::PREFIX_LEN + IsoMessage::MAX_LEN` bytes are always enough.
pub fn encode_prefixed(req: &BankRequest, id: &Identity, out: &mut [u8]) -> Result<usize> {
    to_message(req, id)?.emit_prefixed(out)
}

/// Decodes one answer (the message without its prefix). A request type (0200, 0400, …)
/// coming from the bank is [`Error::IsoMti`]; issuer EMV data longer than [`EmvData`] holds
/// is dropped (the answer itself still counts).
// Out of line: the parsed message (2 KiB on the firmware) is on the stack only while this
// runs, not under whatever the caller does with the answer.
#[inline(never)]
pub fn decode_answer(body: &[u8]) -> Result<BankAnswer> {
    let m = IsoMessage::parse(body)?;
    let (mti, stan, code, approval, amount, emv) = match BankMessage::from_message(&m)? {
        BankMessage::AuthorizationResponse(r) => (
            210,
            r.stan,
            r.response_code,
            r.approval_code.clone(),
            r.amount,
            EmvData::from_slice(r.emv).unwrap_or_default(),
        ),
        BankMessage::ReversalResponse(r) => {
            (410, r.stan, r.response_code, None, None, EmvData::new())
        }
        BankMessage::ReconciliationResponse(r) => {
            (510, r.stan, r.response_code, None, None, EmvData::new())
        }
        BankMessage::NetworkResponse(r) => {
            (810, r.stan, r.response_code, None, None, EmvData::new())
        }
        BankMessage::PreAuthorizationResponse(r) => (
            110,
            r.stan,
            r.response_code,
            r.approval_code.clone(),
            r.amount,
            EmvData::from_slice(r.emv).unwrap_or_default(),
        ),
        BankMessage::CompletionResponse(r) => {
            (230, r.stan, r.response_code, None, None, EmvData::new())
        }
        _ => return Err(Error::IsoMti),
    };
    Ok(BankAnswer {
        mti,
        stan,
        code,
        approval,
        amount,
        emv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{AuthorizationResponse, Expiry, NetworkResponse, framing};
    use crate::journal::Original;
    use crate::terminal::{AuthRequest, ReconcileRequest, ReversalRequest as Rev};
    use crate::txn::{ApprovalCode, EntryMode, Money, Pan};

    const T: Timestamp = Timestamp {
        year: 2026,
        month: 12,
        day: 7,
        hour: 9,
        minute: 30,
        second: 5,
    };

    fn id() -> Identity {
        Identity {
            terminal_id: TerminalId::new("T0000001").unwrap(),
            merchant_id: None,
        }
    }

    fn eur(minor: u64) -> Money {
        Money::new(minor, Currency::EUR).unwrap()
    }

    fn roundtrip(req: &BankRequest) -> IsoMessage {
        let mut buf = [0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
        let n = encode_prefixed(req, &id(), &mut buf).unwrap();
        let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
        assert_eq!(len + framing::PREFIX_LEN, n);
        IsoMessage::parse(&buf[framing::PREFIX_LEN..n]).unwrap()
    }

    #[test]
    fn auth_carries_pan_amount_stan_and_kind() {
        let req = BankRequest::Auth(AuthRequest {
            stan: 42,
            kind: AuthKind::Refund,
            amount: eur(1250),
            cashback: None,
            pan: Pan::new("4761739001010119").unwrap(),
            entry_mode: EntryMode::Chip,
            expiry: Some(Expiry::new(28, 11).unwrap()),
            card_sequence: Some(1),
            emv: EmvData::new(),
            transmitted: T,
            rrn: None,
        });
        let m = roundtrip(&req);
        let BankMessage::AuthorizationRequest(a) = BankMessage::from_message(&m).unwrap() else {
            panic!("not a 0200");
        };
        assert_eq!(a.stan, 42);
        assert_eq!(a.amount, eur(1250));
        assert_eq!(a.processing, ProcessingCode::REFUND);
        assert_eq!(a.pan, Pan::new("4761739001010119").unwrap());
        assert_eq!(a.terminal_id, id().terminal_id);
        assert_eq!(m.get(14), Some(&b"2811"[..]));
        assert_eq!(m.get(22), Some(&b"051"[..]));
        assert_eq!(m.get(23), Some(&b"001"[..]));
        assert_eq!(m.get(25), Some(&b"00"[..]));
    }

    #[test]
    fn a_swiped_or_keyed_card_says_so_in_field_22_and_has_no_sequence_number() {
        for (entry, code) in [
            (EntryMode::Swipe, b"901"),
            (EntryMode::Contactless, b"071"),
            (EntryMode::Manual, b"011"),
        ] {
            let req = BankRequest::Auth(AuthRequest {
                stan: 1,
                kind: AuthKind::Sale,
                amount: eur(100),
                cashback: None,
                pan: Pan::new("4761739001010119").unwrap(),
                entry_mode: entry,
                expiry: None,
                card_sequence: None,
                emv: EmvData::new(),
                transmitted: T,
                rrn: None,
            });
            let m = roundtrip(&req);
            assert_eq!(m.get(22), Some(&code[..]), "{entry:?}");
            assert_eq!(m.get(25), Some(&b"00"[..]));
            assert!(!m.has(23) && !m.has(14) && !m.has(55));
        }
    }

    #[test]
    fn every_reversal_reason_has_its_own_code() {
        let reasons = [
            ReversalReason::TillRequest,
            ReversalReason::BankTimeout,
            ReversalReason::Undeliverable,
            ReversalReason::PartialApproval,
            ReversalReason::Recovery,
        ];
        let mut seen = std::vec::Vec::new();
        for reason in reasons {
            let req = BankRequest::Reversal(Rev {
                stan: 43,
                original: Original {
                    kind: RequestKind::Sale,
                    stan: 42,
                    amount: eur(2000),
                    transmitted: T,
                    scheme: None,
                },
                pan: Some(Pan::new("4761739001010119").unwrap()),
                reason,
                transmitted: T,
            });
            let m = roundtrip(&req);
            let BankMessage::ReversalRequest(r) = BankMessage::from_message(&m).unwrap() else {
                panic!("not a 0400");
            };
            assert_eq!(r.pan, Some(Pan::new("4761739001010119").unwrap()));
            let code = r.reason.unwrap();
            assert_eq!(code, reversal_reason_code(reason));
            assert!(!code.is_approved(), "{reason:?}");
            seen.push(code);
        }
        seen.sort_by_key(|c| *c.as_bytes());
        seen.dedup();
        assert_eq!(seen.len(), reasons.len());
        assert_eq!(
            reversal_reason_code(ReversalReason::BankTimeout),
            ResponseCode::TOO_LATE
        );
    }

    #[test]
    fn reversal_names_its_original_and_goes_without_a_forgotten_pan() {
        let req = BankRequest::Reversal(Rev {
            stan: 43,
            original: Original {
                kind: RequestKind::SaleWithCashback,
                stan: 42,
                amount: eur(2000),
                transmitted: T,
                scheme: None,
            },
            pan: None,
            reason: ReversalReason::Recovery,
            transmitted: T,
        });
        let m = roundtrip(&req);
        let BankMessage::ReversalRequest(r) = BankMessage::from_message(&m).unwrap() else {
            panic!("not a 0400");
        };
        assert_eq!(r.stan, 43);
        assert_eq!(r.pan, None);
        assert_eq!(r.processing, ProcessingCode::CASHBACK);
        assert_eq!(r.original.stan, 42);
        assert_eq!(r.original.mti, Mti::FINANCIAL_REQUEST);
    }

    #[test]
    fn reconcile_and_echo_encode() {
        let rec = BankRequest::Reconcile(ReconcileRequest {
            stan: 9,
            batch: 1,
            currency: 978,
            debits: (2, 3000),
            credits: (1, 500),
            transmitted: T,
        });
        let BankMessage::ReconciliationRequest(r) =
            BankMessage::from_message(&roundtrip(&rec)).unwrap()
        else {
            panic!("not a 0500");
        };
        let totals = r.totals.unwrap();
        assert_eq!((totals.debit_count, totals.debit_minor), (2, 3000));
        assert_eq!((totals.credit_count, totals.credit_minor), (1, 500));
        let echo = BankRequest::Echo {
            stan: 10,
            transmitted: T,
        };
        assert_eq!(roundtrip(&echo).mti(), Mti::NETWORK_REQUEST);
    }

    #[test]
    fn a_bad_currency_or_short_buffer_is_an_error_not_a_panic() {
        let rec = BankRequest::Reconcile(ReconcileRequest {
            stan: 9,
            batch: 1,
            currency: 1,
            debits: (0, 0),
            credits: (0, 0),
            transmitted: T,
        });
        let mut buf = [0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
        assert!(encode_prefixed(&rec, &id(), &mut buf).is_err());
        let echo = BankRequest::Echo {
            stan: 10,
            transmitted: T,
        };
        assert!(encode_prefixed(&echo, &id(), &mut [0u8; 8]).is_err());
    }

    #[test]
    fn answers_decode_and_requests_from_the_bank_are_refused() {
        let approved = AuthorizationResponse {
            processing: Some(ProcessingCode::SALE),
            amount: Some(eur(1250)),
            stan: 42,
            transmission: Some(MonthDayTime::new(12, 7, 9, 30, 5).unwrap()),
            rrn: None,
            approval_code: Some(ApprovalCode::new("A1B2C3").unwrap()),
            response_code: ResponseCode::APPROVED,
            terminal_id: Some(id().terminal_id),
            merchant_id: None,
            emv: &[],
        };
        let mut buf = [0u8; IsoMessage::MAX_LEN];
        let n = approved.to_message().unwrap().emit(&mut buf).unwrap();
        let a = decode_answer(&buf[..n]).unwrap();
        assert_eq!((a.mti, a.stan, a.code), (210, 42, ResponseCode::APPROVED));
        assert_eq!(a.approval.unwrap().as_str(), "A1B2C3");
        assert_eq!(a.amount, Some(eur(1250)));

        let echo = NetworkResponse {
            stan: 10,
            transmission: Some(MonthDayTime::new(12, 7, 9, 30, 5).unwrap()),
            response_code: ResponseCode::APPROVED,
            code: NetworkCode::EchoTest,
            terminal_id: None,
        };
        let n = echo.to_message().unwrap().emit(&mut buf).unwrap();
        assert_eq!(decode_answer(&buf[..n]).unwrap().mti, 810);

        let req = NetworkRequest::echo(3, MonthDayTime::new(12, 7, 9, 30, 5).unwrap());
        let n = req.to_message().unwrap().emit(&mut buf).unwrap();
        assert_eq!(decode_answer(&buf[..n]), Err(Error::IsoMti));
        assert!(decode_answer(b"02").is_err());
    }
}
