//! The agent's life around transactions: scripted cards and the transaction limit, abort of a
//! sale waiting for a card, clean shutdown with a sale in flight, and a torn journal tail.

mod agent_common;

use std::io::Write;
use std::time::Duration;

use agent_common::{Agent, Bank, Ecr, EcrEnd, ask, czk, start_agent};
use ecrlink_core::session::EcrEvent;
use ecrlink_core::txn::{FailReason, Outcome, Request};

fn sale(minor: u64) -> Request {
    Request::Sale {
        amount: czk(minor),
        reference: None,
    }
}

#[test]
fn scripted_cards_and_the_transaction_limit() {
    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let cards = dir.path().join("cards.toml");
    std::fs::write(
        &cards,
        r#"
[[card]]
pan = "5413330089020011"
entry = "contactless"
delay = "10ms"

[[card]]
pin = "wrong"
delay = "10ms"

[[card]]
error = "expired"
delay = "10ms"

[[card]]
absent = true
delay = "10ms"

[[card]]
absent = true
delay = "1h"
"#,
    )
    .unwrap();
    let (agent, _d) = start_agent(
        &bank,
        &["csob@127.0.0.1:0"],
        &["--cards", cards.to_str().unwrap(), "--txn-limit", "1500ms"],
    );
    let addr = agent.addr("csob");

    let r = ask("csob", addr, &sale(100));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(bank.auths()[0]["pan"], "541333******0011");

    // Wrong PIN: declined by the terminal, the bank never asked.
    let r = ask("csob", addr, &sale(200));
    assert!(matches!(r.outcome, Outcome::Declined { .. }), "{r:?}");
    // Expired card.
    let r = ask("csob", addr, &sale(300));
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            reason: FailReason::CardExpired
        }
    );
    // Nobody presents a card.
    let r = ask("csob", addr, &sale(400));
    assert_eq!(r.outcome, Outcome::Cancelled, "{r:?}");
    // The card never comes: the transaction limit answers "timeout".
    let r = ask("csob", addr, &sale(500));
    assert_eq!(r.outcome, Outcome::Timeout, "{r:?}");
    assert_eq!(
        bank.auths().len(),
        1,
        "only the first card reached the bank"
    );
}

/// Issue 19: only the connection that started a transaction may abort it. An abort from
/// another connection (it used to cancel the merchant's sale) is refused, the sale goes on,
/// and its outcome is what "last transaction" answers. (The owner's abort is tested on the
/// state machine: `core::terminal` tests `an_abort_cancels_the_card_wait_at_once`.)
#[test]
fn an_abort_from_another_connection_does_not_cancel_the_sale() {
    let bank = Bank::spawn(None);
    let (agent, _d) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--card-delay", "2s"]);
    let addr = agent.addr("csob");
    let mut first = Ecr::connect("csob", addr);
    let end = first.run_until(&sale(800), Duration::from_secs(5), |e| {
        matches!(e, EcrEvent::Accepted)
    });
    assert!(matches!(end, EcrEnd::Stopped), "{end:?}");
    std::thread::sleep(Duration::from_millis(200));
    let r = ask("csob", addr, &Request::Abort);
    assert!(
        !r.outcome.is_approved() && r.outcome != Outcome::Cancelled,
        "{r:?}"
    );
    // Asked while the sale runs, "last transaction" is answered once it is done.
    let last = ask("csob", addr, &Request::LastTransaction);
    assert_eq!(last.outcome, Outcome::Approved, "{last:?}");
    assert_eq!(last.amount, Some(czk(800)));
    assert_eq!(bank.auths().len(), 1);
}

#[test]
fn sigterm_finishes_the_sale_in_flight_and_journals_it() {
    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let args = |b: &Bank| {
        vec![
            "--listen".to_string(),
            "csob@127.0.0.1:0".into(),
            "--bank".into(),
            b.addr.to_string(),
            "--card-delay".into(),
            "800ms".into(),
        ]
    };
    let a = args(&bank);
    let mut agent = Agent::spawn(&a.iter().map(String::as_str).collect::<Vec<_>>(), &journal);
    let mut till = Ecr::connect("csob", agent.addr("csob"));
    let end = till.run_until(&sale(1_100), Duration::from_secs(5), |e| {
        matches!(e, EcrEvent::Accepted)
    });
    assert!(matches!(end, EcrEnd::Stopped), "{end:?}");
    agent.signal("TERM");
    // The till still gets its answer.
    let end = till.drive(Duration::from_secs(10), |_| false);
    let EcrEnd::Response(r) = end else {
        panic!("no answer after SIGTERM: {end:?}")
    };
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(agent.terminate(), Some(0));

    // After a restart it is the last transaction.
    let agent = Agent::spawn(&a.iter().map(String::as_str).collect::<Vec<_>>(), &journal);
    let last = ask("csob", agent.addr("csob"), &Request::LastTransaction);
    assert_eq!(last.outcome, Outcome::Approved, "{last:?}");
    assert_eq!(last.amount, Some(czk(1_100)));
}

#[test]
fn a_torn_journal_tail_is_skipped_and_the_agent_carries_on() {
    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let args = [
        "--listen",
        "csob@127.0.0.1:0",
        "--bank",
        &bank.addr.to_string(),
        "--card-delay",
        "10ms",
    ]
    .map(String::from);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut agent = Agent::spawn(&argv, &journal);
    let r = ask("csob", agent.addr("csob"), &sale(1_200));
    assert_eq!(r.outcome, Outcome::Approved);
    agent.kill9();

    // A write cut short by the crash: half an envelope at the end of the newest file.
    let newest = std::fs::read_dir(&journal)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
        .unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap()
        .write_all(&[0xEC, 0x4A, 0x40, 0x00, 0x01, 0x02])
        .unwrap();

    let agent = Agent::spawn(&argv, &journal);
    let addr = agent.addr("csob");
    let last = ask("csob", addr, &Request::LastTransaction);
    assert_eq!(last.outcome, Outcome::Approved, "{last:?}");
    assert_eq!(last.amount, Some(czk(1_200)));
    // The bad tail was saved aside and reported.
    let saved = std::fs::read_dir(&journal)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".bad-"));
    assert!(saved, "the torn tail was not saved aside");
    let log = std::fs::read_to_string(journal.with_extension("log")).unwrap();
    assert!(log.contains("torn tail skipped"), "{log}");
    // And it keeps working.
    let r = ask("csob", addr, &sale(1_300));
    assert_eq!(r.outcome, Outcome::Approved);
}

#[test]
fn periodic_echo_decides_whether_a_sale_is_tried() {
    // The bank answers echo tests with 91 (issuer or switch inoperative).
    let bank = Bank::spawn(Some("[[rule]]\nmti = \"0800\"\ndecline = \"91\"\n"));
    let (agent, _d) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--echo-every", "100ms"]);
    bank.wait_for("periodic echoes", |l| {
        l["echoes"].as_u64().unwrap_or(0) >= 3
    });
    // The echo failed: a sale is answered "bank unavailable" at once, the bank never asked.
    let r = ask("csob", agent.addr("csob"), &sale(1_400));
    assert!(
        matches!(r.outcome, Outcome::BankUnavailable | Outcome::Failed { .. }),
        "{r:?}"
    );
    assert!(
        bank.auths().is_empty(),
        "a sale was tried although the echo failed"
    );
    // On-demand echo says the same.
    let r = ask("csob", agent.addr("csob"), &Request::TestBank);
    assert!(!r.outcome.is_approved(), "{r:?}");
}
