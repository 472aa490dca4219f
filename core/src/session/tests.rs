//! `respond` behaves the same in every dialect: the same responses are refused with the same
//! errors, and what goes out is what the response says (nothing filled in). Each test runs
//! every terminal-side dialect (Concert, ČSOB, ZVT) against its own till side.
//!
//! Compiled for tests only: the parent module declares it `#[cfg(test)]`.

extern crate std;
use std::boxed::Box;
use std::vec::Vec;

use super::*;
use crate::dialect::concert::{
    ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
};
use crate::dialect::csob::{CsobConfig, CsobEcr, CsobTerminal};
use crate::dialect::zvt::{ZvtEcr, ZvtEcrConfig, ZvtTerminal, ZvtTerminalConfig};
use crate::txn::{Currency, Money, Outcome, RequestKind, TerminalId};

/// A till and a terminal of one dialect, the clock, and the currency the dialect runs in.
struct Pair {
    name: &'static str,
    ecr: Box<dyn EcrSide>,
    terminal: Box<dyn TerminalSide>,
    currency: Currency,
    /// A currency the dialect can carry other than `currency`.
    other_currency: Currency,
    now: Instant,
}

fn pairs() -> Vec<Pair> {
    let csob = CsobConfig::new(TerminalId::new("T0000001").unwrap());
    std::vec![
        Pair {
            name: "concert",
            ecr: Box::new(ConcertEcr::new(ConcertEcrConfig::default())),
            terminal: Box::new(ConcertTerminal::new(ConcertTerminalConfig::default())),
            currency: Currency::EUR,
            other_currency: Currency::CZK,
            now: Instant::ZERO,
        },
        Pair {
            name: "csob",
            ecr: Box::new(CsobEcr::new(csob.clone())),
            terminal: Box::new(CsobTerminal::new(csob)),
            currency: Currency::CZK,
            other_currency: Currency::EUR,
            now: Instant::ZERO,
        },
        Pair {
            name: "zvt",
            ecr: Box::new(ZvtEcr::new(ZvtEcrConfig::new(Currency::EUR))),
            terminal: Box::new(ZvtTerminal::new(ZvtTerminalConfig::new(Currency::EUR))),
            currency: Currency::EUR,
            other_currency: Currency::CZK,
            now: Instant::ZERO,
        },
    ]
}

impl Pair {
    fn money(&self, minor: u64) -> Money {
        Money::new(minor, self.currency).unwrap()
    }

    /// Moves bytes both ways and fires due deadlines for up to `rounds` steps of 10 ms;
    /// answers a receipt request with a line of text; stops early once the terminal has a
    /// request or the till an answer, and returns the events of both sides.
    fn run(&mut self, rounds: usize) -> (Vec<TerminalEvent>, Vec<EcrEvent>) {
        let mut buf = std::vec![0u8; MAX_TRANSMIT];
        let (mut te, mut ee) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            while let Some(n) = self.ecr.poll_transmit(&mut buf).unwrap() {
                self.terminal.handle_bytes(self.now, &buf[..n]);
            }
            while let Some(n) = self.terminal.poll_transmit(&mut buf).unwrap() {
                self.ecr.handle_bytes(self.now, &buf[..n]);
            }
            while let Some(event) = self.terminal.poll_event() {
                // A till that prints the receipt itself (ZVT) gets its text.
                if event == TerminalEvent::ReceiptRequested {
                    let now = self.now;
                    self.terminal
                        .send_receipt_part(now, "Thank you", false)
                        .unwrap();
                }
                te.push(event);
            }
            ee.extend(core::iter::from_fn(|| self.ecr.poll_event()));
            if te.iter().any(|e| matches!(e, TerminalEvent::Request(_)))
                || ee.iter().any(|e| matches!(e, EcrEvent::Response(_)))
            {
                break;
            }
            self.now = self
                .now
                .saturating_add(core::time::Duration::from_millis(10));
            if self.ecr.poll_timeout().is_some_and(|d| self.now >= d) {
                self.ecr.handle_timeout(self.now);
            }
            if self.terminal.poll_timeout().is_some_and(|d| self.now >= d) {
                self.terminal.handle_timeout(self.now);
            }
        }
        (te, ee)
    }

    /// The till sends `request`; returns it as the terminal received it (now pending).
    fn pending(&mut self, request: &Request) -> Request {
        self.ecr.start(self.now, request).unwrap();
        let (te, _) = self.run(1000);
        te.into_iter()
            .find_map(|e| match e {
                TerminalEvent::Request(r) => Some(r),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: the terminal got no request", self.name))
    }

    /// The terminal answers with `response`; returns what the till received.
    fn answer(&mut self, response: &Response) -> Response {
        let now = self.now;
        self.terminal.respond(now, response).unwrap();
        let (_, ee) = self.run(1000);
        ee.into_iter()
            .find_map(|e| match e {
                EcrEvent::Response(r) => Some(r),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: the till got no answer", self.name))
    }

    fn respond(&mut self, response: &Response) -> Result<()> {
        let now = self.now;
        self.terminal.respond(now, response)
    }
}

fn approved(kind: RequestKind, amount: Option<Money>) -> Response {
    let mut r = Response::new(kind, Outcome::Approved);
    r.amount = amount;
    r
}

fn mismatch(field: ResponseField) -> Result<()> {
    Err(Error::SessionResponseMismatch { field })
}

#[test]
fn nothing_pending_is_one_error_in_every_dialect() {
    for mut p in pairs() {
        let sale = approved(RequestKind::Sale, Some(p.money(100)));
        assert_eq!(p.respond(&sale), Err(Error::SessionNoRequest), "{}", p.name);
        // An answer to an abort is no exception: no abort is pending either.
        let abort = Response::new(RequestKind::Abort, Outcome::Approved);
        assert_eq!(
            p.respond(&abort),
            Err(Error::SessionNoRequest),
            "{}: abort",
            p.name
        );
        // Answered once: nothing is pending any more.
        let request = p.pending(&Request::Sale {
            amount: p.money(100),
            reference: None,
        });
        let response = approved(request.kind(), request.amount());
        p.respond(&response).unwrap();
        assert_eq!(
            p.respond(&response),
            Err(Error::SessionNoRequest),
            "{}",
            p.name
        );
    }
}

#[test]
fn an_answer_of_another_kind_is_refused_and_the_request_stays_pending() {
    for mut p in pairs() {
        let amount = p.money(1250);
        p.pending(&Request::Sale {
            amount,
            reference: None,
        });
        let refund = approved(RequestKind::Refund, Some(amount));
        assert_eq!(
            p.respond(&refund),
            mismatch(ResponseField::Kind),
            "{}",
            p.name
        );
        assert!(p.terminal.is_busy(), "{}: still pending", p.name);
        let got = p.answer(&approved(RequestKind::Sale, Some(amount)));
        assert_eq!(got.kind, RequestKind::Sale, "{}", p.name);
        assert_eq!(got.outcome, Outcome::Approved, "{}", p.name);
        assert_eq!(got.amount, Some(amount), "{}", p.name);
    }
}

#[test]
fn another_amount_or_currency_is_refused() {
    for mut p in pairs() {
        let amount = p.money(1250);
        p.pending(&Request::Refund {
            amount,
            reference: None,
        });
        let more = approved(RequestKind::Refund, Some(p.money(1300)));
        assert_eq!(
            p.respond(&more),
            mismatch(ResponseField::Amount),
            "{}",
            p.name
        );
        let other = Money::new(1250, p.other_currency).unwrap();
        let foreign = approved(RequestKind::Refund, Some(other));
        assert_eq!(
            p.respond(&foreign),
            mismatch(ResponseField::Currency),
            "{}",
            p.name
        );
        let got = p.answer(&approved(RequestKind::Refund, Some(amount)));
        assert_eq!(got.kind, RequestKind::Refund, "{}", p.name);
        assert_eq!(got.amount, Some(amount), "{}", p.name);
    }
}

#[test]
fn a_missing_amount_is_never_filled_in() {
    for mut p in pairs() {
        let amount = p.money(990);
        p.pending(&Request::Sale {
            amount,
            reference: None,
        });
        // An approval that moves money must say how much.
        let bare = approved(RequestKind::Sale, None);
        assert_eq!(
            p.respond(&bare),
            mismatch(ResponseField::AmountMissing),
            "{}",
            p.name
        );
        // A refusal may go without an amount, and the till then gets none.
        let cancelled = Response::new(RequestKind::Sale, Outcome::Cancelled);
        let got = p.answer(&cancelled);
        // (Concert has one status for every refusal: it comes back as declined.)
        assert!(!got.outcome.is_approved(), "{}: {:?}", p.name, got.outcome);
        // ČSOB leaves it out; a Concert answer always has the amount field, and a refusal
        // echoes the request's there (the public clients compare it with their request):
        // never another amount.
        if p.name == "concert" {
            assert!(
                got.amount.is_none() || got.amount == Some(amount),
                "{:?}",
                got.amount
            );
        } else {
            assert_eq!(got.amount, None, "{}: an amount was filled in", p.name);
        }
    }
}

#[test]
fn check_response_is_the_rule() {
    let eur = |m| Money::new(m, Currency::EUR).unwrap();
    let sale = Request::Sale {
        amount: eur(500),
        reference: None,
    };
    assert_eq!(
        check_response(&sale, &approved(RequestKind::Sale, Some(eur(500)))),
        Ok(())
    );
    assert_eq!(
        check_response(&sale, &approved(RequestKind::Refund, Some(eur(500)))),
        mismatch(ResponseField::Kind)
    );
    assert_eq!(
        check_response(&sale, &approved(RequestKind::Sale, Some(eur(501)))),
        mismatch(ResponseField::Amount)
    );
    let czk = Money::new(500, Currency::CZK).unwrap();
    assert_eq!(
        check_response(&sale, &approved(RequestKind::Sale, Some(czk))),
        mismatch(ResponseField::Currency)
    );
    assert_eq!(
        check_response(&sale, &approved(RequestKind::Sale, None)),
        mismatch(ResponseField::AmountMissing)
    );
    let declined = Response::new(RequestKind::Sale, Outcome::Cancelled);
    assert_eq!(check_response(&sale, &declined), Ok(()));
    // Requests without an amount take answers with or without one.
    let last = Request::LastTransaction;
    assert_eq!(
        check_response(&last, &approved(RequestKind::LastTransaction, Some(eur(1)))),
        Ok(())
    );
    assert_eq!(
        check_response(
            &Request::CloseTotals,
            &approved(RequestKind::CloseTotals, None)
        ),
        Ok(())
    );
    // A last-transaction request takes the last transaction's own answer (its kind kept),
    // never an answer of a request that moves no money.
    assert_eq!(
        check_response(&last, &approved(RequestKind::Refund, Some(eur(1)))),
        Ok(())
    );
    assert_eq!(
        check_response(&last, &approved(RequestKind::CloseTotals, None)),
        mismatch(ResponseField::Kind)
    );
    assert_eq!(
        check_response(
            &sale,
            &approved(RequestKind::LastTransaction, Some(eur(500)))
        ),
        mismatch(ResponseField::Kind)
    );
}

/// The RAM each session takes (what a firmware puts in a `static`), on this target: the
/// bounds hold the sizes issue 18 brought down (the ČSOB outbox of one frame, not two; event
/// queues as deep as the protocol needs). benches/firmware-size.sh measures the firmware.
#[test]
fn session_ram_is_bounded() {
    use crate::dialect::concert::{ConcertEcr, ConcertTerminal};
    use crate::dialect::csob::{CsobEcr, CsobTerminal};
    use crate::dialect::zvt::{ZvtEcr, ZvtTerminal};
    use core::mem::size_of;
    let sizes = [
        ("ConcertTerminal", size_of::<ConcertTerminal>()),
        ("ConcertEcr", size_of::<ConcertEcr>()),
        ("CsobTerminal", size_of::<CsobTerminal>()),
        ("CsobEcr", size_of::<CsobEcr>()),
        ("ZvtTerminal", size_of::<ZvtTerminal>()),
        ("ZvtEcr", size_of::<ZvtEcr>()),
    ];
    std::println!("{sizes:?}");
    // On a 64-bit host (a Cortex-M4 needs somewhat less: 4-byte words). Before issue 18's
    // cuts: ConcertTerminal 2 536 (8-deep queues of 136-byte link events and of terminal
    // events), CsobTerminal 7 160 (a 4 KiB outbox, a 2 KiB receive buffer, 8 events).
    // ConcertTerminal 712 since link events carry no payload, buffers hold Concert's 80-byte
    // answer, and the frame to send is encoded into the caller's buffer (656 on a Cortex-M4).
    let bounds = [
        ("ConcertTerminal", 720),
        // 3 288 before its outbox held one client read (1 KiB) and its receive buffer 256 B;
        // 2 024 with the kind and amount of the request under way kept (its answer is checked
        // against them, no txn request built again: less flash and stack).
        ("CsobTerminal", 2_024),
        // Was 16 500: a 4 KiB transmit queue, a 4 KiB copy of the last serial frame and a
        // 4 KiB serial stop-and-wait queue. Now frames are described and built when polled;
        // what is left is mostly the 1 KiB receive buffer and the 1 KiB receipt part. 3 040
        // since the running request is kept as ZVT's few-byte `Run`, not a `Request`.
        ("ZvtTerminal", 3_050),
    ];
    for (name, bound) in bounds {
        let size = sizes
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, s)| *s);
        assert!(size <= bound, "{name}: {size} bytes, more than {bound}");
    }
}
