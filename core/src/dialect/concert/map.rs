//! Concert V2 ⇄ [`crate::txn`].
//!
//! What Concert V2 can express (the request has an amount, a currency, a transaction type and
//! ten characters of private data, nothing else):
//!
//! | txn request                     | Concert request                                  |
//! |---------------------------------|--------------------------------------------------|
//! | [`Request::Sale`]               | type `'0'` debit, reference in the private field |
//! | [`Request::Refund`]             | type `'2'` refund (a received `'1'` credit also maps to a refund) |
//! | everything else                 | [`Error::Unsupported`]: no cashback amount, no approval-code field for a reversal, no close-totals / subtotals / last-sums / test / reprint / last-transaction / abort message in protocol E/E+ |
//!
//! A reference longer than the 10-character private field is [`Error::ConcertField`]
//! `"private"`. A received request of type `'4'` (auto) or payment mode cheque
//! (`'C'`) is [`Error::Unsupported`]: the terminal side runs card transactions only.
//!
//! Answers: every answer is checked against its request before it is built
//! ([`ConcertAnswer::from_response`], [`Error::ConcertMismatch`]) and before it is sent
//! ([`ConcertAnswer::check_answers`]: POS, amount, currency). An instant answer (`A011`) is
//! [`ConcertAnswer::instant`]. The private field of an answer: [`private_for`].
//!
//! Results: status `'0'` ⇄ [`Outcome::Approved`]; `'7'` ⇄ [`Outcome::Declined`] with code `7`
//! (every other failure outcome is sent as `'7'` too: Concert has one refusal code); `'9'`
//! "not verified" ⇄ [`Outcome::Timeout`] (pyTeliumManager documents `9` as
//! `TERMINAL_PAYMENT_TIMEOUT` / `NOT_VERIFIED`: the result is not known); any other status
//! reads as [`Outcome::Failed`] with [`FailReason::Other`].

use super::fields::{
    AnswerForm, Authorization, Delay, PaymentMode, PrivateData, Status, TransactionType, put_digits,
};
use super::message::{ConcertAnswer, ConcertRequest, MAX_AMOUNT_MINOR};
use crate::txn::{
    ApprovalCode, CardScheme, Currency, DeclineCode, FailReason, Money, Outcome, Reference,
    Request, RequestKind, Response,
};
use crate::{Error, Result};

/// The request fields that the [`crate::txn`] model does not carry: the till's choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestOptions {
    /// POS (till) number, 0–99. Default 1 (what pypostelium sends).
    pub pos: u8,
    /// Answer form. Default [`AnswerForm::Full`] (the card number comes back, masked).
    pub answer: AnswerForm,
    /// Payment mode. Default [`PaymentMode::Card`].
    pub payment_mode: PaymentMode,
    /// Delay. Default [`Delay::AfterTransaction`] (`A010`): the answer carries the result.
    pub delay: Delay,
    /// Authorization. Default [`Authorization::Normal`] (`B010`).
    pub authorization: Authorization,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            pos: 1,
            answer: AnswerForm::Full,
            payment_mode: PaymentMode::Card,
            delay: Delay::AfterTransaction,
            authorization: Authorization::Normal,
        }
    }
}

fn amount_field(m: Money) -> Result<u32> {
    u32::try_from(m.minor())
        .ok()
        .filter(|&a| a <= MAX_AMOUNT_MINOR)
        .ok_or(Error::AmountTooLarge)
}

fn private_field(reference: Option<&Reference>) -> Result<PrivateData> {
    reference.map_or(Ok(PrivateData::BLANK), |r| {
        PrivateData::from_text(r.as_str())
    })
}

fn reference_of(private: &PrivateData) -> Option<Reference> {
    let text = private.trimmed_bytes();
    if text.is_empty() {
        None
    } else {
        Reference::from_ascii(text).ok()
    }
}

impl ConcertRequest {
    /// The Concert request for a txn request (see the module table for what maps).
    pub fn from_txn(request: &Request, options: &RequestOptions) -> Result<Self> {
        let (transaction, amount, reference) = match request {
            Request::Sale { amount, reference } => (TransactionType::Debit, *amount, reference),
            Request::Refund { amount, reference } => (TransactionType::Refund, *amount, reference),
            Request::SaleWithCashback { .. } => {
                return Err(Error::Unsupported {
                    what: "cashback in concert v2 (no cashback amount field)",
                });
            }
            Request::Reversal { .. } => {
                return Err(Error::Unsupported {
                    what: "reversal in concert v2 (no approval code field)",
                });
            }
            _ => {
                return Err(Error::Unsupported {
                    what: "this request in concert v2 (only sale and refund)",
                });
            }
        };
        Ok(ConcertRequest {
            pos: options.pos,
            amount_minor: amount_field(amount)?,
            answer: options.answer,
            payment_mode: options.payment_mode,
            transaction,
            currency_numeric: amount.currency.numeric(),
            private: private_field(reference.as_ref())?,
            delay: options.delay,
            authorization: options.authorization,
        })
    }

    /// The txn request this Concert request asks for.
    ///
    /// Errors: [`Error::Unsupported`] for type auto or a cheque, [`Error::AmountZero`],
    /// [`Error::UnknownCurrency`].
    pub fn to_txn(&self) -> Result<Request> {
        if self.payment_mode == PaymentMode::Cheque {
            return Err(Error::Unsupported {
                what: "concert payment mode cheque",
            });
        }
        let amount = Money::new(
            self.amount_minor.into(),
            Currency::from_numeric(self.currency_numeric)?,
        )?;
        let reference = reference_of(&self.private);
        match self.transaction {
            TransactionType::Debit => Ok(Request::Sale { amount, reference }),
            TransactionType::Credit | TransactionType::Refund => {
                Ok(Request::Refund { amount, reference })
            }
            TransactionType::Auto => Err(Error::Unsupported {
                what: "concert transaction type auto",
            }),
        }
    }

    /// The kind of txn request this Concert request maps to, if any.
    pub fn kind(&self) -> Option<RequestKind> {
        match self.transaction {
            TransactionType::Debit => Some(RequestKind::Sale),
            TransactionType::Credit | TransactionType::Refund => Some(RequestKind::Refund),
            TransactionType::Auto => None,
        }
    }
}

/// The Concert status for an outcome (see the module notes).
pub fn status_for(outcome: &Outcome) -> Status {
    match outcome {
        Outcome::Approved => Status::Success,
        Outcome::Timeout => Status::NotVerified,
        _ => Status::Rejected,
    }
}

/// The outcome for a Concert status (see the module notes).
pub fn outcome_for(status: Status) -> Outcome {
    match status {
        Status::Success => Outcome::Approved,
        Status::NotVerified => Outcome::Timeout,
        Status::Rejected => match DeclineCode::new("7") {
            Ok(code) => Outcome::Declined { code },
            Err(_) => Outcome::Failed {
                reason: FailReason::Other,
            },
        },
        Status::Unknown(_) => Outcome::Failed {
            reason: FailReason::Other,
        },
    }
}

/// Checks that `response` is the answer to `request`: the same kind, and (when it carries
/// one) the same amount and currency.
fn check_belongs(request: &ConcertRequest, response: &Response) -> Result<()> {
    if request.kind() != Some(response.kind) {
        return Err(Error::ConcertMismatch { field: "kind" });
    }
    if let Some(m) = response.amount {
        if m.currency.numeric() != request.currency_numeric {
            return Err(Error::ConcertMismatch { field: "currency" });
        }
        if m.minor() != u64::from(request.amount_minor) {
            return Err(Error::ConcertMismatch { field: "amount" });
        }
    }
    Ok(())
}

/// The private field of the answer to `request` carrying `response`.
///
/// - The till filled it (its own reference): echoed, as pypostelium expects
///   (`compare_data_vs_answer` warns when it differs).
/// - The till left it blank (both public clients always do; pyTeliumManager documents it as
///   "Terminal reserved. used to store authorization id if any" in `TeliumData.__init__` and
///   reads the answer's copy as `TeliumResponse.transaction_id`, "transaction id generated
///   by device if available"): the terminal's identifier for the till to reconcile with,
///   the approval code when the bank gave one, else the trace number (STAN) as six or more
///   digits, else blank.
pub fn private_for(request: &ConcertRequest, response: &Response) -> PrivateData {
    if request.private != PrivateData::BLANK {
        return request.private;
    }
    if let Some(code) = &response.approval_code {
        if let Ok(p) = PrivateData::from_text(code.as_str()) {
            return p;
        }
    }
    if let Some(trace) = response.trace {
        let mut digits = [b' '; PrivateData::LEN];
        let width = if trace < 1_000_000 { 6 } else { 10 };
        if let Some(slot) = digits.get_mut(..width) {
            if put_digits(slot, u64::from(trace), Error::AmountTooLarge).is_ok() {
                if let Ok(p) = PrivateData::from_bytes(&digits) {
                    return p;
                }
            }
        }
    }
    PrivateData::BLANK
}

impl ConcertAnswer {
    /// The answer to `request` carrying `response`: POS, payment mode and form come from the
    /// request; amount and currency from the response, or the request's when the response has
    /// none; the masked card number in a full answer; the private field as
    /// [`private_for`] says.
    ///
    /// Errors: [`Error::ConcertMismatch`] when the response is not for this request (another
    /// kind, amount or currency: an answer must always belong to the request it answers),
    /// [`Error::AmountTooLarge`].
    pub fn from_response(request: &ConcertRequest, response: &Response) -> Result<Self> {
        check_belongs(request, response)?;
        let (amount_minor, currency_numeric) = match response.amount {
            Some(m) => (amount_field(m)?, m.currency.numeric()),
            // No amount (a refusal: an approval without one is refused before this, by
            // `session::check_response`): the request's own amount and currency, which the
            // public clients compare with their request (pypostelium
            // `compare_data_vs_answer`); the status says nothing moved.
            None => (request.amount_minor, request.currency_numeric),
        };
        Ok(ConcertAnswer {
            pos: request.pos,
            status: status_for(&response.outcome),
            amount_minor,
            payment_mode: request.payment_mode,
            form: request.answer,
            pan: match request.answer {
                AnswerForm::Full => response.pan,
                AnswerForm::Short => None,
            },
            currency_numeric,
            private: private_for(request, response),
        })
    }

    /// The answer a terminal gives at once to a request whose delay is [`Delay::Immediate`]
    /// (`A011`), before any card is presented: status `'9'` (not verified), the request's own
    /// POS, amount, payment mode, currency and private field, no card number (a full answer's
    /// report field is blank).
    ///
    /// Sources: pyTeliumManager `telium/payment.py` `TeliumAsk.delay` ("Describe if answer
    /// should be immediate (without valid status) or after transaction") and `new_payment`
    /// (`wait_for_transaction_to_end`: "Set to True if you need valid transaction status
    /// otherwise, set it to False"); `telium/constant.py` `TERMINAL_PAYMENT_NOT_VERIFIED = 9`,
    /// the one status that claims nothing, so that a till that reads `has_succeeded` never
    /// counts an instant answer as paid. pypostelium `pypostelium.py` sends `A011` with every
    /// request, reads the answer within its 3 s serial timeout right after the request leg,
    /// and compares POS, amount, currency and private field with its request
    /// (`compare_data_vs_answer`): all four are the request's.
    pub fn instant(request: &ConcertRequest) -> Self {
        ConcertAnswer {
            pos: request.pos,
            status: Status::NotVerified,
            amount_minor: request.amount_minor,
            payment_mode: request.payment_mode,
            form: request.answer,
            pan: None,
            currency_numeric: request.currency_numeric,
            private: request.private,
        }
    }

    /// Whether this answer can be the answer to `request`: same POS, amount and currency
    /// (pypostelium `compare_data_vs_answer` compares exactly these, plus the private field,
    /// which a terminal may fill). Errors: [`Error::ConcertMismatch`] naming what differs.
    pub fn check_answers(&self, request: &ConcertRequest) -> Result<()> {
        let field = if self.pos != request.pos {
            "pos"
        } else if self.amount_minor != request.amount_minor {
            "amount"
        } else if self.currency_numeric != request.currency_numeric {
            "currency"
        } else {
            return Ok(());
        };
        Err(Error::ConcertMismatch { field })
    }

    /// The txn response for the request of `kind` this answers. Amount and currency are left
    /// out when the amount is zero or the currency unknown (the outcome still counts). The
    /// private field, trimmed, becomes the reference: the till's echoed reference, or the
    /// terminal's transaction id where a terminal puts one there (see [`PrivateData`]).
    pub fn to_response(&self, kind: RequestKind) -> Response {
        let mut r = Response::new(kind, outcome_for(self.status));
        r.amount = Currency::from_numeric(self.currency_numeric)
            .and_then(|c| Money::new(self.amount_minor.into(), c))
            .ok();
        r.pan = self.pan;
        r.scheme = self.pan.map(|p| CardScheme::from_bin(p.bin()));
        r.reference = reference_of(&self.private);
        r
    }

    /// The txn response to `request` (of `kind`) that this answers. As
    /// [`ConcertAnswer::to_response`], except for the private field when the request left it
    /// blank: the terminal's identifier (see [`private_for`]) becomes the approval code of an
    /// approved transaction (when it reads as one) and is not taken as the till's reference.
    pub fn to_response_for(&self, request: &ConcertRequest, kind: RequestKind) -> Response {
        let mut r = self.to_response(kind);
        if request.private == PrivateData::BLANK {
            r.reference = None;
            if r.outcome == Outcome::Approved {
                r.approval_code = ApprovalCode::new(self.private.trimmed()).ok();
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{Amount, ApprovalCode, Pan};

    fn eur(minor: u64) -> Money {
        Money::new(minor, Currency::EUR).unwrap()
    }

    #[test]
    fn sale_maps_to_the_design_example() {
        let sale = Request::Sale {
            amount: eur(1250),
            reference: None,
        };
        let c = ConcertRequest::from_txn(&sale, &RequestOptions::default()).unwrap();
        let mut out = [0u8; 34];
        c.emit(&mut out).unwrap();
        assert_eq!(&out, b"0100001250110978          A010B010");
        assert_eq!(c.to_txn(), Ok(sale));
        assert_eq!(c.kind(), Some(RequestKind::Sale));
    }

    #[test]
    fn refund_and_reference() {
        let refund = Request::Refund {
            amount: Money::new(99, Currency::CZK).unwrap(),
            reference: Some(Reference::new("INV42").unwrap()),
        };
        let c = ConcertRequest::from_txn(&refund, &RequestOptions::default()).unwrap();
        assert_eq!(c.transaction, TransactionType::Refund);
        assert_eq!(c.private.as_bytes(), b"INV42     ");
        assert_eq!(c.currency_numeric, 203);
        assert_eq!(c.to_txn(), Ok(refund.clone()));
        let credit = ConcertRequest {
            transaction: TransactionType::Credit,
            ..c
        };
        assert_eq!(credit.to_txn(), Ok(refund));
        let long = Request::Sale {
            amount: eur(1),
            reference: Some(Reference::new("12345678901").unwrap()),
        };
        assert_eq!(
            ConcertRequest::from_txn(&long, &RequestOptions::default()),
            Err(Error::ConcertField { field: "private" })
        );
    }

    #[test]
    fn what_concert_cannot_say() {
        let o = RequestOptions::default();
        let cashback =
            Request::sale_with_cashback(eur(1000), Amount::new(100).unwrap(), None).unwrap();
        let reversal = Request::Reversal {
            amount: eur(1000),
            code: ApprovalCode::new("A1B2C3").unwrap(),
            reference: None,
        };
        for r in [
            cashback,
            reversal,
            Request::CloseTotals,
            Request::Subtotals,
            Request::LastSums,
            Request::TestTerminal,
            Request::TestBank,
            Request::Reprint,
            Request::LastTransaction,
            Request::Abort,
        ] {
            assert!(
                matches!(
                    ConcertRequest::from_txn(&r, &o),
                    Err(Error::Unsupported { .. })
                ),
                "{r:?}"
            );
        }
        let big = Request::Sale {
            amount: eur(u64::from(MAX_AMOUNT_MINOR) + 1),
            reference: None,
        };
        assert_eq!(
            ConcertRequest::from_txn(&big, &o),
            Err(Error::AmountTooLarge)
        );
        let base = ConcertRequest::from_txn(
            &Request::Sale {
                amount: eur(5),
                reference: None,
            },
            &o,
        )
        .unwrap();
        let auto = ConcertRequest {
            transaction: TransactionType::Auto,
            ..base
        };
        assert!(matches!(auto.to_txn(), Err(Error::Unsupported { .. })));
        let cheque = ConcertRequest {
            payment_mode: PaymentMode::Cheque,
            ..base
        };
        assert!(matches!(cheque.to_txn(), Err(Error::Unsupported { .. })));
        let zero = ConcertRequest {
            amount_minor: 0,
            ..base
        };
        assert_eq!(zero.to_txn(), Err(Error::AmountZero));
        let xxx = ConcertRequest {
            currency_numeric: 999,
            ..base
        };
        assert_eq!(xxx.to_txn(), Err(Error::UnknownCurrency { numeric: 999 }));
    }

    #[test]
    fn answers_both_ways() {
        let req = ConcertRequest::from_txn(
            &Request::Sale {
                amount: eur(1250),
                reference: Some(Reference::new("T1").unwrap()),
            },
            &RequestOptions::default(),
        )
        .unwrap();
        let pan = Pan::new("4970100000000014").unwrap().masked();
        let mut resp = Response::new(RequestKind::Sale, Outcome::Approved);
        resp.amount = Some(eur(1250));
        resp.pan = Some(pan);
        let a = ConcertAnswer::from_response(&req, &resp).unwrap();
        assert_eq!(a.status, Status::Success);
        assert_eq!(a.form, AnswerForm::Full);
        assert_eq!(a.private, req.private);
        let back = a.to_response(RequestKind::Sale);
        assert_eq!(back.outcome, Outcome::Approved);
        assert_eq!(back.amount, Some(eur(1250)));
        assert_eq!(back.pan, Some(pan));
        assert_eq!(back.scheme, Some(CardScheme::Visa));
        assert_eq!(back.reference, Some(Reference::new("T1").unwrap()));

        let short_req = ConcertRequest {
            answer: AnswerForm::Short,
            ..req
        };
        let a = ConcertAnswer::from_response(&short_req, &resp).unwrap();
        assert_eq!(a.pan, None);
        assert_eq!(a.len(), 25);

        for (outcome, status) in [
            (Outcome::Approved, Status::Success),
            (Outcome::Timeout, Status::NotVerified),
            (Outcome::Cancelled, Status::Rejected),
            (Outcome::BankUnavailable, Status::Rejected),
            (
                Outcome::Declined {
                    code: DeclineCode::new("51").unwrap(),
                },
                Status::Rejected,
            ),
        ] {
            let resp = Response::new(RequestKind::Sale, outcome);
            let a = ConcertAnswer::from_response(&req, &resp).unwrap();
            assert_eq!(a.status, status);
            assert_eq!(
                a.amount_minor, req.amount_minor,
                "a refusal echoes the request's own amount (the public clients compare it)"
            );
        }
        assert_eq!(
            outcome_for(Status::Rejected),
            Outcome::Declined {
                code: DeclineCode::new("7").unwrap()
            }
        );
        assert!(matches!(
            outcome_for(Status::Unknown(b'3')),
            Outcome::Failed { .. }
        ));
        let odd = ConcertAnswer {
            currency_numeric: 999,
            ..a_of(&req)
        };
        assert_eq!(odd.to_response(RequestKind::Sale).amount, None);
    }

    fn a_of(req: &ConcertRequest) -> ConcertAnswer {
        ConcertAnswer::from_response(req, &Response::new(RequestKind::Sale, Outcome::Approved))
            .unwrap()
    }
}
