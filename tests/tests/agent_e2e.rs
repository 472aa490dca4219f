//! Every transaction type end to end: a real agent process, a real bank simulator process and
//! a till on a loopback socket, in both dialects where the dialect can express it (Concert V2
//! carries only sales and refunds).

mod agent_common;

use agent_common::{Bank, Ecr, ask, czk, eur, sale, start_agent};
use ecrlink_core::txn::{Amount, Outcome, Request, RequestKind};

#[test]
fn concert_sale_refund_and_decline_against_the_bank() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start_agent(&bank, &["concert@127.0.0.1:0"], &[]);
    let addr = agent.addr("concert");

    let r = ask("concert", addr, &sale(1250));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.amount, Some(eur(1250)));

    let r = ask(
        "concert",
        addr,
        &Request::Refund {
            amount: eur(300),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.kind, RequestKind::Refund);

    // Declined by the bank's default rule (an amount ending in .51).
    let r = ask("concert", addr, &sale(751));
    assert!(matches!(r.outcome, Outcome::Declined { .. }), "{r:?}");

    let auths = bank.auths();
    assert_eq!(auths.len(), 3, "{auths:#?}");
    assert_eq!(auths[0]["kind"], "sale");
    assert_eq!(auths[0]["amount"], 1250);
    assert_eq!(auths[0]["state"], "approved");
    assert_eq!(auths[0]["pan"], "476173******0119");
    assert_eq!(auths[1]["kind"], "refund");
    assert_eq!(auths[2]["code"], "51");
    assert_eq!(auths[2]["state"], "declined");
}

#[test]
fn csob_every_transaction_type_against_the_bank() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &[]);
    let addr = agent.addr("csob");

    // Test terminal: answered at once, no bank.
    let r = ask("csob", addr, &Request::TestTerminal);
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");

    // Test bank: an echo.
    let r = ask("csob", addr, &Request::TestBank);
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert!(bank.ledger()["echoes"].as_u64().unwrap() >= 1);

    // Sale, then its receipt in parts (B3/B4), masked PAN.
    let mut till = Ecr::connect("csob", addr);
    let end = till.run(&Request::Sale {
        amount: czk(10_000),
        reference: Some(ecrlink_core::txn::Reference::new("INV42").unwrap()),
    });
    let agent_common::EcrEnd::Response(sale_r) = end else {
        panic!("{end:?}")
    };
    assert_eq!(sale_r.outcome, Outcome::Approved, "{sale_r:?}");
    let code = sale_r.approval_code.clone().expect("approval code");
    let receipt = till.receipt().concat();
    assert!(receipt.contains("476173"), "{receipt}");
    assert!(!receipt.contains("4761739001010119"), "{receipt}");
    drop(till);

    // Last transaction: the sale.
    let r = ask("csob", addr, &Request::LastTransaction);
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.approval_code.as_ref(), Some(&code));

    // Reversal with a wrong code: a clear refusal, nothing sent to the bank.
    let r = ask(
        "csob",
        addr,
        &Request::Reversal {
            amount: czk(10_000),
            code: ecrlink_core::txn::ApprovalCode::new("WRONG1").unwrap(),
            reference: None,
        },
    );
    assert!(!r.outcome.is_approved(), "{r:?}");

    // Reversal of the sale by its code.
    let r = ask(
        "csob",
        addr,
        &Request::Reversal {
            amount: czk(10_000),
            code: code.clone(),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let l = bank.ledger();
    assert_eq!(l["auths"][0]["state"], "reversed", "{l:#}");
    assert_eq!(l["auths"][0]["reversed_count"], 1);

    // Sale with cashback.
    let r = ask(
        "csob",
        addr,
        &Request::SaleWithCashback {
            amount: czk(20_000),
            cashback: Amount::new(5_000).unwrap(),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");

    // Refund.
    let r = ask(
        "csob",
        addr,
        &Request::Refund {
            amount: czk(3_000),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");

    // A decline carries the bank's code, in the dialect's words: ISO 8583 51 (insufficient
    // funds) is ČSOB R-12.
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(1_251),
            reference: None,
        },
    );
    match &r.outcome {
        Outcome::Declined { code } => assert_eq!(code.as_str(), "R-12"),
        other => panic!("expected a decline, got {other:?}"),
    }

    // ČSOB reprints by receipt transfer (B3/B4): the last receipt again, on a new connection.
    let again = Ecr::connect("csob", addr).receipt().concat();
    assert!(again.contains("476173"), "{again}");
    assert!(!again.contains("4761739001010119"), "{again}");

    // Close totals: per-currency totals, the bank settles what is approved.
    let r = ask("csob", addr, &Request::CloseTotals);
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let totals = r.totals.expect("totals in the answer");
    let czk_totals = totals
        .currencies
        .iter()
        .find(|c| c.currency == 203)
        .unwrap();
    assert_eq!(czk_totals.debit_count, 1, "{totals:?}");
    assert_eq!(czk_totals.debit_minor, 20_000);
    assert_eq!(czk_totals.credit_count, 1);
    assert_eq!(czk_totals.credit_minor, 3_000);
    let l = bank.ledger();
    let states: Vec<&str> = l["auths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["reversed", "settled", "settled", "declined"],
        "{l:#}"
    );
    assert!(
        l["reconciliations"][0]["matched"].as_bool().unwrap(),
        "{l:#}"
    );
    // Nothing settled or reversed twice.
    for a in l["auths"].as_array().unwrap() {
        let n = a["reversed_count"].as_u64().unwrap() + a["settled_count"].as_u64().unwrap();
        assert!(n <= 1, "{a:#}");
    }
}

#[test]
fn auto_listener_serves_both_dialects() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start_agent(&bank, &["auto@127.0.0.1:0"], &[]);
    let addr = agent.addr("auto");
    let r = ask("concert", addr, &sale(500));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(700),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(bank.auths().len(), 2);
}
