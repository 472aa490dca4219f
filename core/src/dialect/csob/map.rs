//! ČSOB messages ⇄ [`crate::txn`]: B1 ⇄ [`Request`], B2 ⇄ [`Response`], `R` ⇄ [`Outcome`].
//!
//! | T code | txn | | R code | txn outcome |
//! |---|---|---|---|---|
//! | T00 | `Sale` | | R000 | `Approved` |
//! | T04 | `Refund` | | R-01 | `Cancelled` |
//! | T08 | `SaleWithCashback` | | R-09 | `Failed{CardError}` |
//! | T10 | `Reversal` (code in `F`) | | R-10 | `Failed{CardExpired}` |
//! | T60 | `CloseTotals` (totals in `Y`/`Z`) | | R-11 | `Declined{"R-11"}` |
//! | T65 | `Subtotals` (totals in `Y`/`Z`) | | R-12 | `Declined{"R-12"}` |
//! | T80 | `TestTerminal` | | R-18 | `Timeout` |
//! | T81 | `Abort` | | R-21 | `Failed{Other}` |
//! | T82 | `LastTransaction` | | R-29 | `Failed{CardBlocked}` |
//! | T83 | `LastSums` (totals in `Y`/`Z`) | | R-91 | `BankUnavailable` (ecrlink convention) |
//! | | | | R-02 | `Failed{Busy}` |
//! | | | | R-xx other | `Declined{"R-xx"}` |
//! | T95 | `TestBank` | | Rxx (no `-`) | `Declined{"xx"}` |
//!
//! A T82 answer is the last transaction's own [`Response`], of that transaction's kind (see
//! [`crate::session::check_response`]). Its B2 repeats `T82` and names the kind in `K` (an
//! ecrlink convention); read back, a T82 answer with `K` has that kind, one without (a terminal
//! that does not know the convention) has [`RequestKind::LastTransaction`]: the kind is not
//! known. Entry mode and trace number travel in `M` and `N` (ecrlink conventions too).
//!
//! The B2 answers to T60, T65 and T83 carry their [`crate::txn::Totals`] the same way: one `Y`
//! field per currency and one `Z` field per card scheme (an ecrlink convention, see
//! [`super::message`]). Empty totals (no currency, no scheme line) write no field; an approved
//! B2 to one of these codes without any reads back as `Some(Totals::default())`, an empty batch.
//!
//! `BankUnavailable` travels as R-91, an ecrlink convention borrowed from ISO 8583 response
//! code 91 (issuer or switch inoperative): the public client lists no code for it, and a till
//! must tell "the bank cannot be reached" from a refusal. A terminal that does not know the
//! convention never sends R-91, so nothing is lost by reading it.
//!
//! R-02 is the public client's `MERCH_ERR_CANTDOIT`, the answer its connection check takes for
//! a terminal that cannot take a request now: a terminal busy with another request answers
//! R-02 (see [`super::session::CsobTerminal`]).
//!
//! Towards the wire, outcomes without their own code are lossy: `Failed` for a reason other
//! than card error/expired/blocked or busy and `TerminalOffline` become R-21 (operation discarded); a `Declined` code `51` (ISO 8583 insufficient funds) becomes R-12,
//! an `R…` code is written as is, any other code of 1–3 characters is written after `R` as is
//! (an ecrlink convention: the public client shows it as a generic error). `Reprint` has no
//! T code: ČSOB asks for receipts with B3 ([`super::session::CsobEcr::request_receipt_copy`]).

use heapless::String;

use super::codes::{ResultCode, TxnCode};
use super::header::Header;
use super::message::{B2Ref, TransactionRequest, TransactionResponse};
use crate::txn::{
    Amount, CardScheme, Currency, DeclineCode, FailReason, Money, Outcome, Request, RequestKind,
    Response, Totals,
};
use crate::{Error, Result};

/// The txn kind of a T code; unknown codes have none ([`Error::Unsupported`]).
pub fn request_kind(code: TxnCode) -> Result<RequestKind> {
    Ok(match code {
        TxnCode::Sale => RequestKind::Sale,
        TxnCode::Refund => RequestKind::Refund,
        TxnCode::SaleWithCashback => RequestKind::SaleWithCashback,
        TxnCode::Reversal => RequestKind::Reversal,
        TxnCode::CloseTotals => RequestKind::CloseTotals,
        TxnCode::AppInfo => RequestKind::TestTerminal,
        TxnCode::Passivate => RequestKind::Abort,
        TxnCode::LastTransaction => RequestKind::LastTransaction,
        TxnCode::Handshake => RequestKind::TestBank,
        TxnCode::Subtotals => RequestKind::Subtotals,
        TxnCode::LastSums => RequestKind::LastSums,
        TxnCode::Other(_) => {
            return Err(Error::Unsupported {
                what: "csob transaction code",
            });
        }
    })
}

/// The T code of a txn kind; `Reprint` has none ([`Error::Unsupported`]).
pub fn txn_code(kind: RequestKind) -> Result<TxnCode> {
    Ok(match kind {
        RequestKind::Sale => TxnCode::Sale,
        RequestKind::SaleWithCashback => TxnCode::SaleWithCashback,
        RequestKind::Reversal => TxnCode::Reversal,
        RequestKind::Refund => TxnCode::Refund,
        RequestKind::CloseTotals => TxnCode::CloseTotals,
        RequestKind::Subtotals => TxnCode::Subtotals,
        RequestKind::LastSums => TxnCode::LastSums,
        RequestKind::TestTerminal => TxnCode::AppInfo,
        RequestKind::TestBank => TxnCode::Handshake,
        RequestKind::LastTransaction => TxnCode::LastTransaction,
        RequestKind::Abort => TxnCode::Passivate,
        RequestKind::Reprint => {
            return Err(Error::Unsupported {
                what: "csob reprint (use a B3 receipt request)",
            });
        }
        RequestKind::Reservation
        | RequestKind::BookTotal
        | RequestKind::PartialReversal
        | RequestKind::PreAuthReversal => {
            return Err(Error::Unsupported {
                what: "csob pre-authorisation",
            });
        }
    })
}

fn decline(code: &str) -> Outcome {
    match DeclineCode::new(code) {
        Ok(code) => Outcome::Declined { code },
        Err(_) => Outcome::Failed {
            reason: FailReason::Other,
        },
    }
}

/// The text after `R` that carries [`Outcome::BankUnavailable`] (ecrlink convention, see the
/// module docs).
pub const BANK_UNAVAILABLE: &str = "-91";

/// The text after `R` that carries `Failed{Busy}`: the terminal runs another request.
pub const BUSY: &str = "-02";

/// The result code of a refusal because another request runs.
pub fn busy_code() -> ResultCode {
    ResultCode::other(BUSY.as_bytes()).unwrap_or(ResultCode::Discarded)
}

/// The outcome of a result code (table in the module docs).
pub fn outcome(result: &ResultCode) -> Outcome {
    let failed = |reason| Outcome::Failed { reason };
    match result {
        ResultCode::Ok => Outcome::Approved,
        ResultCode::UserCancel => Outcome::Cancelled,
        ResultCode::CardError => failed(FailReason::CardError),
        ResultCode::CardExpired => failed(FailReason::CardExpired),
        ResultCode::CardBlocked => failed(FailReason::CardBlocked),
        ResultCode::Discarded => failed(FailReason::Other),
        ResultCode::Timeout => Outcome::Timeout,
        ResultCode::CardNotYetValid => decline("R-11"),
        ResultCode::InsufficientFunds => decline("R-12"),
        ResultCode::Other(s) if s.as_str() == BANK_UNAVAILABLE => Outcome::BankUnavailable,
        ResultCode::Other(s) if s.as_str() == BUSY => failed(FailReason::Busy),
        ResultCode::Other(s) => {
            if s.starts_with('-') {
                let mut code: String<4> = String::new();
                let _ = code.push('R');
                let _ = code.push_str(s);
                decline(&code)
            } else {
                decline(s)
            }
        }
    }
}

/// The result code of an outcome (table and lossy cases in the module docs).
pub fn result_code(outcome: &Outcome) -> ResultCode {
    match outcome {
        Outcome::Approved => ResultCode::Ok,
        Outcome::Cancelled => ResultCode::UserCancel,
        Outcome::Timeout => ResultCode::Timeout,
        Outcome::Failed { reason } => match reason {
            FailReason::CardError => ResultCode::CardError,
            FailReason::CardExpired => ResultCode::CardExpired,
            FailReason::CardBlocked => ResultCode::CardBlocked,
            FailReason::Busy => busy_code(),
            _ => ResultCode::Discarded,
        },
        Outcome::TerminalOffline => ResultCode::Discarded,
        Outcome::BankUnavailable => {
            ResultCode::other(BANK_UNAVAILABLE.as_bytes()).unwrap_or(ResultCode::Discarded)
        }
        Outcome::Declined { code } => {
            let c = code.as_str();
            // Two byte compares, not a string compare (which links `memcmp` into firmware).
            if let [b'5', b'1'] = c.as_bytes() {
                return ResultCode::InsufficientFunds;
            }
            let body = c.strip_prefix('R').unwrap_or(c);
            ResultCode::other(body.as_bytes()).unwrap_or(ResultCode::Discarded)
        }
    }
}

fn money(amount: Option<u64>, currency: Option<u16>, default: Currency) -> Result<Option<Money>> {
    let Some(minor) = amount else {
        return Ok(None);
    };
    let cur = match currency {
        Some(n) => Currency::from_numeric(n)?,
        None => default,
    };
    Money::new(minor, cur).map(Some)
}

fn need<T>(v: Option<T>, field: &'static str) -> Result<T> {
    v.ok_or(Error::CsobField { field })
}

impl TransactionRequest {
    /// The txn request this B1 asks for. An amount without `E` is in `default_currency`
    /// (the public client always sends `E203`). Missing fields are [`Error::CsobField`]
    /// naming them: `B` for amount requests (also for a reversal: the public client sends
    /// only `T10 F…`, see [`super::session::CsobTerminal`] for how the terminal side fills
    /// the amount in), `C` for a cashback sale, `F` for a reversal.
    pub fn to_request(&self, default_currency: Currency) -> Result<Request> {
        let amount = || need(money(self.amount, self.currency, default_currency)?, "B");
        let reference = self.reference.clone();
        Ok(match self.code {
            TxnCode::Sale => Request::Sale {
                amount: amount()?,
                reference,
            },
            TxnCode::Refund => Request::Refund {
                amount: amount()?,
                reference,
            },
            TxnCode::SaleWithCashback => Request::sale_with_cashback(
                amount()?,
                Amount::new(need(self.cashback, "C")?)?,
                reference,
            )?,
            TxnCode::Reversal => Request::Reversal {
                code: need(self.approval_code.clone(), "F")?,
                amount: amount()?,
                reference,
            },
            code => match request_kind(code)? {
                RequestKind::CloseTotals => Request::CloseTotals,
                RequestKind::Subtotals => Request::Subtotals,
                RequestKind::LastSums => Request::LastSums,
                RequestKind::TestTerminal => Request::TestTerminal,
                RequestKind::TestBank => Request::TestBank,
                RequestKind::LastTransaction => Request::LastTransaction,
                RequestKind::Abort => Request::Abort,
                _ => {
                    return Err(Error::Unsupported {
                        what: "csob transaction code",
                    });
                }
            },
        })
    }

    /// The B1 for a txn request.
    pub fn from_request(request: &Request) -> Result<Self> {
        let mut b1 = TransactionRequest::new(txn_code(request.kind())?);
        if let Some(m) = request.amount() {
            b1.amount = Some(m.minor());
            b1.currency = Some(m.currency.numeric());
        }
        b1.reference = request.reference().cloned();
        match request {
            Request::SaleWithCashback { cashback, .. } => b1.cashback = Some(cashback.minor()),
            Request::Reversal { code, .. } => b1.approval_code = Some(code.clone()),
            _ => {}
        }
        Ok(b1)
    }
}

impl TransactionResponse {
    /// The txn response this B2 carries. The terminal id and timestamp come from `header`; a
    /// zero `B` or `C` means none; the card scheme is guessed from the PAN's first digits; an
    /// approved totals answer (T60, T65, T83) without `Y`/`Z` fields has empty totals. A T82
    /// answer has the kind its `K` names when that is a sale, cash-back sale, refund or
    /// reversal, else [`RequestKind::LastTransaction`] (kind not reported).
    pub fn to_response(&self, header: &Header, default_currency: Currency) -> Result<Response> {
        let mut kind = request_kind(self.code)?;
        if kind == RequestKind::LastTransaction {
            if let Some(k) = self.original.and_then(|c| request_kind(c).ok()) {
                if k.moves_money() {
                    kind = k;
                }
            }
        }
        let mut r = Response::new(kind, outcome(&self.result));
        r.amount = money(
            self.amount.filter(|&m| m > 0),
            self.currency,
            default_currency,
        )?;
        r.cashback = self
            .cashback
            .filter(|&c| c > 0)
            .map(Amount::new)
            .transpose()?;
        r.approval_code = self.approval_code.clone();
        r.reference = self.reference.clone();
        r.pan = self.pan;
        r.scheme = self.pan.map(|p| CardScheme::from_bin(p.bin()));
        r.entry_mode = self.entry_mode;
        r.trace = self.trace;
        r.terminal_id = Some(header.terminal_id.clone());
        r.timestamp = Some(header.timestamp);
        r.text = self.text.clone();
        r.totals = self.totals.clone();
        if r.totals.is_none() && r.kind.reports_totals() && r.outcome.is_approved() {
            // Empty totals write no Y/Z field (see the module docs): an empty batch.
            r.totals = Some(Totals::default());
        }
        Ok(r)
    }

    /// The B2 answering `code` with a txn response. A T82 answer of another kind (the last
    /// transaction's own answer) names that kind in `K`.
    pub fn from_response(code: TxnCode, response: &Response) -> Self {
        let mut b2 = TransactionResponse::new(code, result_code(&response.outcome));
        if let Some(m) = response.amount {
            b2.amount = Some(m.minor());
            b2.currency = Some(m.currency.numeric());
        }
        b2.cashback = response.cashback.map(Amount::minor);
        b2.approval_code = response.approval_code.clone();
        b2.reference = response.reference.clone();
        b2.pan = response.pan;
        b2.entry_mode = response.entry_mode;
        b2.trace = response.trace;
        if code == TxnCode::LastTransaction && response.kind != RequestKind::LastTransaction {
            b2.original = txn_code(response.kind).ok();
        }
        b2.text = response.text.clone();
        b2.totals = response.totals.clone();
        b2
    }
}

impl<'a> B2Ref<'a> {
    /// The B2 answering `code` with a txn response, borrowed from it: the fields of
    /// [`TransactionResponse::from_response`], without building one.
    pub(crate) fn answer(code: TxnCode, response: &'a Response) -> Self {
        let mut b2 = B2Ref::new(code, result_code(&response.outcome));
        if let Some(m) = response.amount {
            b2.amount = Some(m.minor());
            b2.currency = Some(m.currency.numeric());
        }
        b2.cashback = response.cashback.map(Amount::minor);
        b2.approval_code = response.approval_code.as_ref();
        b2.reference = response.reference.as_ref();
        b2.pan = response.pan.as_ref();
        b2.entry_mode = response.entry_mode;
        b2.trace = response.trace;
        if code == TxnCode::LastTransaction && response.kind != RequestKind::LastTransaction {
            b2.original = txn_code(response.kind).ok();
        }
        b2.text = response.text.as_deref();
        b2.totals = response.totals.as_ref();
        b2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_but_reprint_has_a_code_and_back() {
        use RequestKind::*;
        for kind in [
            Sale,
            SaleWithCashback,
            Reversal,
            Refund,
            CloseTotals,
            Subtotals,
            LastSums,
            TestTerminal,
            TestBank,
            LastTransaction,
            Abort,
        ] {
            assert_eq!(request_kind(txn_code(kind).unwrap()).unwrap(), kind);
        }
        assert!(txn_code(Reprint).is_err());
        assert_eq!(request_kind(TxnCode::Subtotals), Ok(Subtotals));
        assert_eq!(request_kind(TxnCode::LastSums), Ok(LastSums));
        assert!(request_kind(TxnCode::Other(5)).is_err());
    }

    #[test]
    fn result_codes_map_to_outcomes_and_back() {
        let code = |c: &str| DeclineCode::new(c).unwrap();
        let table = [
            (ResultCode::Ok, Outcome::Approved),
            (ResultCode::UserCancel, Outcome::Cancelled),
            (
                ResultCode::CardError,
                Outcome::Failed {
                    reason: FailReason::CardError,
                },
            ),
            (
                ResultCode::CardExpired,
                Outcome::Failed {
                    reason: FailReason::CardExpired,
                },
            ),
            (
                ResultCode::CardNotYetValid,
                Outcome::Declined { code: code("R-11") },
            ),
            (
                ResultCode::InsufficientFunds,
                Outcome::Declined { code: code("R-12") },
            ),
            (ResultCode::Timeout, Outcome::Timeout),
            (
                ResultCode::Discarded,
                Outcome::Failed {
                    reason: FailReason::Other,
                },
            ),
            (
                ResultCode::CardBlocked,
                Outcome::Failed {
                    reason: FailReason::CardBlocked,
                },
            ),
            (
                ResultCode::parse(b"-02").unwrap(),
                Outcome::Failed {
                    reason: FailReason::Busy,
                },
            ),
            (
                ResultCode::parse(b"05").unwrap(),
                Outcome::Declined { code: code("05") },
            ),
            (ResultCode::parse(b"-91").unwrap(), Outcome::BankUnavailable),
        ];
        for (rc, out) in table {
            assert_eq!(outcome(&rc), out, "{rc:?}");
            assert_eq!(result_code(&out), rc, "{out:?}");
        }
        assert_eq!(
            result_code(&Outcome::Declined { code: code("51") }),
            ResultCode::InsufficientFunds
        );
        assert_eq!(
            result_code(&Outcome::TerminalOffline),
            ResultCode::Discarded
        );
        assert_eq!(
            result_code(&Outcome::Declined { code: code("ABCD") }),
            ResultCode::Discarded
        );
    }
}
