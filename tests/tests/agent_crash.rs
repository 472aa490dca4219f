//! Crash safety: the agent is killed with SIGKILL after the bank approved a sale but before the
//! till confirmed the answer, then restarted on the same journal. The bank's ledger must show
//! the sale settled once or reversed once — never both, never twice, never lost — and the till
//! learns the outcome through "last transaction".

mod agent_common;

use std::io::Read;
use std::time::{Duration, Instant};

use agent_common::{Agent, Bank, Ecr, EcrEnd, ask, czk};
use ecrlink_core::session::EcrEvent;
use ecrlink_core::txn::{Outcome, Request};

fn spawn_agent(bank: &Bank, journal: &std::path::Path) -> Agent {
    Agent::spawn(
        &[
            "--listen",
            "csob@127.0.0.1:0",
            "--bank",
            &bank.addr.to_string(),
            "--card-delay",
            "20ms",
            "--reversal-retry",
            "200ms",
        ],
        journal,
    )
}

fn start_sale(addr: std::net::SocketAddr, minor: u64) -> Ecr {
    let mut till = Ecr::connect("csob", addr);
    let end = till.run_until(
        &Request::Sale {
            amount: czk(minor),
            reference: None,
        },
        Duration::from_secs(5),
        |e| matches!(e, EcrEvent::Accepted),
    );
    assert!(matches!(end, EcrEnd::Stopped), "sale not accepted: {end:?}");
    till
}

/// Closes the batch and checks the invariant on every authorization.
fn close_and_check(bank: &Bank, addr: std::net::SocketAddr) -> serde_json::Value {
    let r = ask("csob", addr, &Request::CloseTotals);
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let l = bank.ledger();
    for a in l["auths"].as_array().unwrap() {
        let reversed = a["reversed_count"].as_u64().unwrap();
        let settled = a["settled_count"].as_u64().unwrap();
        if a["code"] == "00" {
            assert_eq!(
                reversed + settled,
                1,
                "approved sale not settled or reversed exactly once: {a:#}"
            );
        } else {
            assert_eq!(reversed + settled, 0, "{a:#}");
        }
    }
    l
}

#[test]
fn kill_after_approval_before_the_answer_is_journaled_reverses_once() {
    // The bank approves at once in its ledger but answers 3 s later: the agent is killed
    // while it waits, so its journal holds an authorization with no final answer.
    let bank = Bank::spawn(Some("[[rule]]\namount = 5000\ndelay = \"3s\"\n"));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let mut agent = spawn_agent(&bank, &journal);
    let _till = start_sale(agent.addr("csob"), 5_000);
    bank.wait_for("the sale approved", |l| {
        l["auths"][0]["state"] == "approved"
    });
    agent.kill9();

    let agent = spawn_agent(&bank, &journal);
    let addr = agent.addr("csob");
    // Recovery reverses the open authorization at the bank, exactly once.
    bank.wait_for("the sale reversed", |l| {
        l["auths"][0]["state"] == "reversed"
    });
    let last = ask("csob", addr, &Request::LastTransaction);
    assert!(!last.outcome.is_approved(), "{last:?}");
    assert_eq!(last.amount, Some(czk(5_000)));
    let l = close_and_check(&bank, addr);
    assert_eq!(l["auths"][0]["reversed_count"], 1, "{l:#}");
    assert_eq!(l["auths"][0]["settled_count"], 0, "{l:#}");
}

#[test]
fn kill_after_the_answer_left_but_before_the_till_confirmed_settles_once() {
    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let mut agent = spawn_agent(&bank, &journal);
    let mut till = start_sale(agent.addr("csob"), 6_000);
    // Read raw bytes (without confirming) until the B2 answer shows up, then kill.
    till.stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !seen.windows(3).any(|w| w == [0x02, b'B', b'2']) {
        assert!(Instant::now() < deadline, "no B2 from the agent");
        if let Ok(n) = till.stream.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
    agent.kill9();
    let approval = bank.ledger()["auths"][0]["approval"].clone();
    assert!(approval.is_string());

    let agent = spawn_agent(&bank, &journal);
    let addr = agent.addr("csob");
    let last = ask("csob", addr, &Request::LastTransaction);
    assert_eq!(last.outcome, Outcome::Approved, "{last:?}");
    assert_eq!(
        last.approval_code.as_ref().map(|c| c.as_str()),
        approval.as_str()
    );
    let l = close_and_check(&bank, addr);
    assert_eq!(l["auths"][0]["settled_count"], 1, "{l:#}");
    assert_eq!(l["auths"][0]["reversed_count"], 0, "{l:#}");
}

#[test]
fn kill_right_after_the_bank_approved_is_settled_or_reversed_exactly_once() {
    // No delay: where exactly the agent dies is left to chance; either outcome is allowed,
    // but exactly one of them.
    for round in 0..3u64 {
        let bank = Bank::spawn(None);
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        let mut agent = spawn_agent(&bank, &journal);
        let _till = start_sale(agent.addr("csob"), 7_000 + round);
        bank.wait_for("the sale approved", |l| {
            l["auths"][0]["state"] == "approved"
        });
        agent.kill9();

        let agent = spawn_agent(&bank, &journal);
        let addr = agent.addr("csob");
        let last = ask("csob", addr, &Request::LastTransaction);
        assert_eq!(last.amount, Some(czk(7_000 + round)), "{last:?}");
        if !last.outcome.is_approved() {
            bank.wait_for("the reversal", |l| l["auths"][0]["state"] == "reversed");
        }
        close_and_check(&bank, addr);
    }
}
