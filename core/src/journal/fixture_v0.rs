// Test-only module: its parent declares it `#[cfg(test)] mod fixture_v0;`.
//! The version 0 journal fixture: `fixtures/journal-v0.log` holds exactly these records,
//! encoded by the code on main at 2b91202 (before journal files had a header) with the
//! generator test of commit b02522e, removed since: the file is never regenerated. See
//! `fixtures/README.md` for what it describes.
extern crate std;
use std::vec::Vec as StdVec;

use super::*;
use crate::txn::{
    ApprovalCode, CardScheme, Currency, CurrencyTotals, Money, Outcome, Pan, Reference,
    RequestKind, Response, Timestamp, Totals,
};

/// The fixture file, as committed. (An absolute path: under miri the tests are compiled again
/// from the package's directory, where a path relative to the workspace does not resolve.)
pub const V0_FILE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/journal/fixtures/journal-v0.log"
));

fn ts(second: u8) -> Timestamp {
    Timestamp::new(2026, 11, 25, 9, 30, second).unwrap()
}

fn czk(minor: u64) -> Money {
    Money::new(minor, Currency::CZK).unwrap()
}

fn sale(stan: u32, minor: u64, second: u8) -> AuthStarted {
    AuthStarted {
        batch: 3,
        stan,
        kind: RequestKind::Sale,
        amount: Some(czk(minor)),
        cashback: None,
        pan: Some(Pan::new("4761739001010119").unwrap().masked()),
        scheme: Some(CardScheme::Visa),
        reference: Some(Reference::new("INV-7").unwrap()),
        transmitted: ts(second),
        original: None,
    }
}

/// The records of the fixture, in file order: batch 3 opened by a checkpoint that remembers
/// the close of batch 2; a trace block up to 101; sale 1 (990 CZK) without a bank answer,
/// its reversal queued; sale 2 (1250 CZK) approved and delivered; sale 3 (4200 CZK) started
/// and never answered (the agent died).
pub fn records() -> StdVec<Record> {
    let mut closed = Totals::default();
    closed
        .currencies
        .push(CurrencyTotals {
            currency: 203,
            debit_count: 2,
            debit_minor: 5000,
            ..CurrencyTotals::default()
        })
        .unwrap();
    let checkpoint = Checkpoint {
        batch: 3,
        next_stan: 1,
        last_close: Some(ClosedBatch {
            batch: 2,
            totals: closed,
        }),
        ..Checkpoint::default()
    };
    let timed_out = sale(1, 990, 1);
    let mut approved = Response::new(RequestKind::Sale, Outcome::Approved);
    approved.amount = Some(czk(1250));
    approved.approval_code = Some(ApprovalCode::new("A7B7C7").unwrap());
    approved.pan = Some(Pan::new("4761739001010119").unwrap().masked());
    approved.trace = Some(2);
    std::vec![
        Record::Checkpoint(checkpoint),
        Record::StanReserved {
            batch: 3,
            upto: 101,
        },
        Record::AuthStarted(timed_out.clone()),
        Record::ReversalQueued(PendingReversal {
            reason: ReversalReason::BankTimeout,
            ..state::reversal_for(&timed_out).unwrap()
        }),
        Record::Completed {
            stan: 1,
            response: Response::new(RequestKind::Sale, Outcome::BankUnavailable),
        },
        Record::Delivered { stan: 1 },
        Record::AuthStarted(sale(2, 1250, 2)),
        Record::Completed {
            stan: 2,
            response: approved,
        },
        Record::Delivered { stan: 2 },
        Record::AuthStarted(sale(3, 4200, 3)),
    ]
}
