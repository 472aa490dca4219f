//! Issue 13 through the real binaries: what a bank answer means, when a reversal is done, what
//! an approval code is, and what the batch is closed in — each as a till and the bank's ledger
//! see it. The same rules are unit-tested on the state machine (`core/src/terminal/tests.rs`).

mod agent_common;

use agent_common::{Bank, ask, czk, start_agent};
use ecrlink_core::txn::{ApprovalCode, Outcome, Request};

fn sale(minor: u64) -> Request {
    Request::Sale {
        amount: czk(minor),
        reference: None,
    }
}

fn auth_of(ledger: &serde_json::Value, amount: u64) -> serde_json::Value {
    ledger["auths"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["amount"] == amount)
        .cloned()
        .unwrap_or_else(|| panic!("no authorization of {amount} in {ledger:#}"))
}

/// Defect 1: 08 (honour with identification) and 11 (approved, VIP) are approvals. They were
/// told to the till as declines, journaled as declined and never reversed: the card was
/// charged and the shop thought it was not.
#[test]
fn codes_08_and_11_are_approvals_at_the_till() {
    let bank = Bank::spawn(Some(
        "[[rule]]\namount = 10008\ncode = \"08\"\n\n[[rule]]\namount = 10011\ncode = \"11\"\n",
    ));
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &[]);
    let addr = agent.addr("csob");
    for amount in [10_008, 10_011] {
        let r = ask("csob", addr, &sale(amount));
        assert_eq!(r.outcome, Outcome::Approved, "{amount}: {r:?}");
        let last = ask("csob", addr, &Request::LastTransaction);
        assert!(last.outcome.is_approved(), "{amount}: last {last:?}");
    }
    let l = bank.ledger();
    for amount in [10_008, 10_011] {
        assert_eq!(auth_of(&l, amount)["reversed_count"], 0, "{l:#}");
    }
}

/// Defect 1: a partial approval (10) is given back at once: the till is not told "approved",
/// and the bank ends holding nothing.
#[test]
fn a_partial_approval_is_reversed_at_once() {
    let bank = Bank::spawn(Some("[[rule]]\namount = 10010\npartial = 5000\n"));
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &[]);
    let r = ask("csob", agent.addr("csob"), &sale(10_010));
    assert!(!r.outcome.is_approved(), "{r:?}");
    let l = bank.wait_for("the partial approval reversed", |l| {
        auth_of(l, 10_010)["reversed_count"] == 1
    });
    assert_eq!(auth_of(&l, 10_010)["state"], "reversed", "{l:#}");
}

/// Defect 1: 91 and 96 mean the bank could not decide: "bank unavailable", never a decline
/// (ČSOB carries it as R-21 discarded, read back as a failure, not a decline with code 91).
#[test]
fn codes_91_and_96_are_not_declines() {
    let bank = Bank::spawn(Some(
        "[[rule]]\namount = 10091\ncode = \"91\"\n\n[[rule]]\namount = 10096\ncode = \"96\"\n",
    ));
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &[]);
    for amount in [10_091, 10_096] {
        let r = ask("csob", agent.addr("csob"), &sale(amount));
        assert!(
            !matches!(r.outcome, Outcome::Declined { .. } | Outcome::Approved),
            "{amount}: {r:?}"
        );
    }
}

/// Defect 2: a stored reversal answered 91 is not done: it is sent again until the bank
/// reverses. (It was logged "acknowledged" and dropped: the sale stayed charged.)
#[test]
fn a_stored_reversal_answered_91_is_sent_again_until_reversed() {
    let bank = Bank::spawn(Some(
        "[[rule]]\namount = 4242\ndrop = true\ntimes = 1\n\n\
         [[rule]]\nmti = \"0400\"\ncode = \"91\"\ntimes = 2\n",
    ));
    let (agent, _dir) = start_agent(
        &bank,
        &["csob@127.0.0.1:0"],
        &["--bank-timeout", "1s", "--reversal-retry", "300ms"],
    );
    let r = ask("csob", agent.addr("csob"), &sale(4_242));
    assert!(!r.outcome.is_approved(), "{r:?}");
    let l = bank.wait_for("the reversal after two 91s", |l| {
        auth_of(l, 4_242)["state"] == "reversed"
    });
    let a = auth_of(&l, 4_242);
    assert_eq!(a["reversed_count"], 1, "{l:#}");
    assert!(
        a["reversal_codes"].as_array().map_or(0, |c| c.len()) >= 3,
        "two 91s, then the reversal: {l:#}"
    );
}

/// Defect 3: a till's reversal answered 91 is stored and forwarded; the sale never becomes
/// irreversible and the bank ends with it reversed.
#[test]
fn a_till_reversal_answered_91_reaches_the_bank_later() {
    let bank = Bank::spawn(Some("[[rule]]\nmti = \"0400\"\ncode = \"91\"\ntimes = 1\n"));
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--reversal-retry", "300ms"]);
    let addr = agent.addr("csob");
    let r = ask("csob", addr, &sale(7_700));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let code = r.approval_code.clone().expect("approval code");
    let rev = ask(
        "csob",
        addr,
        &Request::Reversal {
            amount: czk(7_700),
            code: ApprovalCode::new(code.as_str()).unwrap(),
            reference: None,
        },
    );
    assert!(rev.outcome.is_approved(), "stored and forwarded: {rev:?}");
    let l = bank.wait_for("the till's reversal forwarded", |l| {
        auth_of(l, 7_700)["state"] == "reversed"
    });
    assert_eq!(auth_of(&l, 7_700)["reversed_count"], 1, "{l:#}");
}

/// Defect 11: an approval without field 38 carries no approval code; none is made up from
/// the trace number.
#[test]
fn no_approval_code_is_made_up() {
    let bank = Bank::spawn(Some("[[rule]]\namount = 3838\napproval_code = false\n"));
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &[]);
    let r = ask("csob", agent.addr("csob"), &sale(3_838));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.approval_code, None, "{r:?}");
}

/// Defect 12: an empty batch is closed in the terminal's currency, not in EUR.
#[test]
fn an_empty_batch_is_closed_in_the_terminals_currency() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--currency", "CZK"]);
    let r = ask("csob", agent.addr("csob"), &Request::CloseTotals);
    assert!(r.outcome.is_approved(), "{r:?}");
    let l = bank.wait_for("the reconciliation", |l| {
        l["reconciliations"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    let rec = &l["reconciliations"][0];
    assert!(
        rec.to_string().contains("203") || rec.to_string().contains("CZK"),
        "{rec:#}"
    );
    assert!(!rec.to_string().contains("978"), "{rec:#}");
}

/// Defect 5: an answer cut mid-message puts the length-prefixed stream out of step. The agent
/// reconnects at once (it waited for the next failed echo, 60 s) and the next sale goes
/// through within seconds.
#[test]
fn a_cut_answer_reconnects_at_once() {
    let bank = Bank::spawn(Some("[[rule]]\namount = 5555\ncut = 10\ntimes = 1\n"));
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--bank-timeout", "2s"]);
    let addr = agent.addr("csob");
    let r = ask("csob", addr, &sale(5_555));
    assert!(!r.outcome.is_approved(), "{r:?}");
    let started = std::time::Instant::now();
    let mut approved = false;
    while started.elapsed() < std::time::Duration::from_secs(20) {
        let r = ask("csob", addr, &sale(1_000));
        if r.outcome.is_approved() {
            approved = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(approved, "the link came back within 20 s");
    // And what the cut answer approved was reversed.
    bank.wait_for("the cut authorization reversed", |l| {
        auth_of(l, 5_555)["state"] == "reversed"
    });
}

/// Issue 19, point 4: no amount limits let a raw frame run a sale of 9 999 999 999.99 with
/// 9 999 999 999.98 cash back, approved. The default limits refuse it before the card is
/// read, and nothing reaches the bank; `--refuse` takes an operation away from the tills.
#[test]
fn oversize_amounts_and_refused_operations_never_reach_the_bank() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--refuse", "refund"]);
    let addr = agent.addr("csob");
    let huge = Request::sale_with_cashback(
        czk(999_999_999_999),
        ecrlink_core::txn::Amount::new(999_999_999_998).unwrap(),
        None,
    )
    .unwrap();
    let r = ask("csob", addr, &huge);
    assert!(!r.outcome.is_approved(), "{r:?}");
    let r = ask("csob", addr, &sale(10_000_001));
    assert!(!r.outcome.is_approved(), "over 100 000.00: {r:?}");
    let r = ask(
        "csob",
        addr,
        &Request::Refund {
            amount: czk(100),
            reference: None,
        },
    );
    assert!(!r.outcome.is_approved(), "refunds refused: {r:?}");
    assert!(bank.auths().is_empty(), "{:#}", bank.ledger());
    // Within the limits, a sale goes through.
    let r = ask("csob", addr, &sale(10_000_000));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
}

/// Defect 8 through the real binary: a jammed printer (a FIFO nobody reads, so writes block
/// once its 64 KiB buffer is full) must never hold an answer. Before, the receipt was printed
/// between journaling and answering, and the till's answer waited for the printer forever.
#[test]
fn a_jammed_printer_never_holds_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("printer.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // The "printer" opens its end and never reads.
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let _held = std::fs::File::open(reader_path).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(600));
    });
    let bank = Bank::spawn(None);
    let printer = format!("file:{}", fifo.display());
    let (agent, _d) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--printer", &printer]);
    let addr = agent.addr("csob");
    // Enough receipts to fill the FIFO several times over.
    for i in 0..80u64 {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(ask("csob", addr, &sale(1_000 + 100 * i)));
        });
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("sale {i}: no answer within 20 s (the printer held it)"));
        assert_eq!(r.outcome, Outcome::Approved, "sale {i}: {r:?}");
    }
}
