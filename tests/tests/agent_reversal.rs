//! The bank drops its answer to an authorization: the agent answers the till at once with
//! "bank unavailable", stores a reversal and sends it until the bank acknowledges it. The
//! bank's ledger records the reversal exactly once — also when the acknowledgement is lost
//! and the agent restarts before it could re-send.

mod agent_common;

use std::time::Duration;

use agent_common::{Agent, Bank, ask, czk};
use ecrlink_core::txn::{Outcome, Request};

fn spawn_agent(bank: &Bank, journal: &std::path::Path, retry: &str) -> Agent {
    Agent::spawn(
        &[
            "--listen",
            "csob@127.0.0.1:0",
            "--bank",
            &bank.addr.to_string(),
            "--card-delay",
            "20ms",
            "--bank-timeout",
            "1s",
            "--reversal-retry",
            retry,
        ],
        journal,
    )
}

/// "Bank unavailable" as ČSOB can say it: the dialect has no code of its own for it and
/// sends R-21 (operation discarded), read back as `Failed`.
fn assert_bank_unavailable(outcome: &Outcome) {
    assert!(
        matches!(outcome, Outcome::BankUnavailable | Outcome::Failed { .. }),
        "{outcome:?}"
    );
}

#[test]
fn dropped_answer_is_reversed_exactly_once() {
    let bank = Bank::spawn(Some("[[rule]]\namount = 4242\ndrop = true\ntimes = 1\n"));
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn_agent(&bank, &dir.path().join("journal"), "300ms");
    let addr = agent.addr("csob");

    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(4_242),
            reference: None,
        },
    );
    assert_bank_unavailable(&r.outcome);
    let l = bank.wait_for("the reversal", |l| l["auths"][0]["state"] == "reversed");
    assert_eq!(l["auths"][0]["reply_dropped"], true);
    assert_eq!(l["auths"][0]["reversed_count"], 1);

    // Let the retry timer run a few times: nothing more is sent for an acknowledged reversal.
    std::thread::sleep(Duration::from_millis(1000));
    let l = bank.ledger();
    assert_eq!(l["auths"][0]["reversal_messages"], 1, "{l:#}");
    assert_eq!(l["unmatched_reversals"], 0);

    // The till learns it through last transaction: not approved.
    let last = ask("csob", addr, &Request::LastTransaction);
    assert!(!last.outcome.is_approved(), "{last:?}");

    // The next sale goes through, and close totals settles only it.
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(1_000),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let r = ask("csob", addr, &Request::CloseTotals);
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let l = bank.ledger();
    assert_eq!(l["auths"][0]["state"], "reversed");
    assert_eq!(l["auths"][0]["settled_count"], 0);
    assert_eq!(l["auths"][1]["state"], "settled");
}

#[test]
fn reversal_whose_acknowledgement_is_lost_is_resent_after_a_restart_and_counted_once() {
    // The sale's answer is dropped, and so is the answer to the first reversal.
    let bank = Bank::spawn(Some(
        "[[rule]]\namount = 4343\ndrop = true\ntimes = 1\n\n[[rule]]\nmti = \"0400\"\ndrop = true\ntimes = 1\n",
    ));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    // A long retry period: only a restart can re-send the reversal in this test's time.
    let mut agent = spawn_agent(&bank, &journal, "10m");
    let addr = agent.addr("csob");
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(4_343),
            reference: None,
        },
    );
    assert_bank_unavailable(&r.outcome);
    bank.wait_for("the first reversal", |l| {
        l["auths"][0]["reversal_messages"] == 1
    });
    // The bank reversed it, but the agent never heard: kill it before it tries again.
    agent.kill9();

    let _agent = spawn_agent(&bank, &journal, "10m");
    let l = bank.wait_for("the reversal re-sent from the journal", |l| {
        l["auths"][0]["reversal_messages"] == 2
    });
    assert_eq!(l["auths"][0]["state"], "reversed");
    assert_eq!(l["auths"][0]["reversed_count"], 1, "{l:#}");
    assert_eq!(l["unmatched_reversals"], 0);
}
