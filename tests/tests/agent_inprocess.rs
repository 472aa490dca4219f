//! The in-process API the demo uses: `Agent::start_with` and `BankSim::start` on port 0, a
//! till on a loopback socket, receipts on a memory printer (a printer error keeps the payment;
//! a reprint prints the same receipt marked duplicate; over ČSOB the till is told the receipt
//! was not printed).

mod agent_common;

use agent_common::{Ecr, EcrEnd, sale};
use ecrlink_agent::printer::{Copy, MemoryPrinter};
use ecrlink_agent::{Agent, Config, Parts};
use ecrlink_core::txn::{FailReason, Outcome, Request};
use ecrlink_host_sim::bank::{BankConfig, BankSim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_agent_and_bank_with_printer_failure_and_reprint() {
    let bank = BankSim::start(BankConfig::default()).await.unwrap();
    let printer = MemoryPrinter::new();
    let cfg = Config {
        bank: Some(bank.addr().to_string()),
        card_delay: std::time::Duration::from_millis(10),
        merchant_name: "Café U Zlatého Tygra".into(),
        listen: vec![
            "concert@127.0.0.1:0".parse().unwrap(),
            "csob@127.0.0.1:0".parse().unwrap(),
        ],
        ..Config::default()
    };
    let agent = Agent::start_with(
        cfg,
        Parts {
            printer: Some(Box::new(printer.clone())),
            ..Parts::default()
        },
    )
    .await
    .unwrap();
    let addr = agent.tcp_addrs()[0];
    let csob_addr = agent.tcp_addrs()[1];

    // Nothing printed yet: a reprint has nothing to print.
    let r = agent.request(Request::Reprint).await.unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            reason: FailReason::NoMatchingTransaction
        }
    );

    // The printer is out of paper for the sale's receipt: the payment stands.
    printer.fail_next(1);
    let end = tokio::task::spawn_blocking(move || Ecr::connect("concert", addr).run(&sale(2_500)))
        .await
        .unwrap();
    let EcrEnd::Response(r) = end else {
        panic!("{end:?}")
    };
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    // Printing never holds the answer: the attempt comes after it.
    wait_until("the printer tried", || printer.attempts() >= 1).await;
    assert!(printer.jobs().is_empty());
    assert_eq!(bank.ledger().auths.len(), 1);

    // Reprint: both copies, marked duplicate, the PAN masked.
    let r = agent.request(Request::Reprint).await.unwrap();
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    wait_until("the reprint", || printer.jobs().len() >= 2).await;
    let jobs = printer.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].copy, Copy::Merchant);
    assert_eq!(jobs[1].copy, Copy::Customer);
    for j in &jobs {
        assert!(j.text.contains("476173"), "{}", j.text);
        assert!(!j.text.contains("4761739001010119"));
        assert!(j.text.contains("Zlatého"), "{}", j.text);
        assert!(
            j.text.contains("*** DUPLICATE ***"),
            "a reprint is marked duplicate: {}",
            j.text
        );
        assert!(j.text.contains("25.00"), "the same sale: {}", j.text);
    }

    // Over ČSOB too the payment stands when the printer fails: printing comes after the
    // answer (it never delays one), so the answer cannot say how printing went; the receipt
    // is still there for the till's receipt transfer and for a reprint.
    printer.fail_next(1);
    let end =
        tokio::task::spawn_blocking(move || Ecr::connect("csob", csob_addr).run(&sale(4_200)))
            .await
            .unwrap();
    let EcrEnd::Response(r) = end else {
        panic!("{end:?}")
    };
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(bank.ledger().auths.len(), 2);
    assert!(agent.last_receipt().unwrap().contains("476173"));

    // Test terminal and test bank in process.
    let r = agent.request(Request::TestBank).await.unwrap();
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert!(r.text.unwrap().contains("round trip"));

    agent.shutdown().await.unwrap();
    bank.shutdown().await;
}

/// Waits up to 10 s for `cond` (printing runs beside the answers, not before them).
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
