//! Subtotals (ČSOB T65) and last sums (T83) end to end: real `ecrlink-sim` processes against a
//! real agent and bank simulator. Subtotals show the open batch and reset nothing; last sums
//! show the last closed batch, also after the agent restarts (they live in the journal).

mod agent_common;
mod till_common;

use agent_common::Agent;
use till_common::{Shop, sim, till_json};

/// The CZK line of a `totals` JSON value: (debit count, debit sum, credit count, credit sum).
fn czk_line(v: &serde_json::Value) -> (u64, u64, u64, u64) {
    let c = v["totals"]["currencies"]
        .as_array()
        .unwrap_or_else(|| panic!("no totals in {v}"))
        .iter()
        .find(|c| c["currency"] == "CZK")
        .unwrap_or_else(|| panic!("no CZK totals in {v}"));
    let n = |k: &str| c[k].as_u64().unwrap();
    (
        n("debit_count"),
        n("debit_minor"),
        n("credit_count"),
        n("credit_minor"),
    )
}

fn no_currencies(v: &serde_json::Value) -> bool {
    v["totals"]["currencies"]
        .as_array()
        .is_some_and(|a| a.is_empty())
}

#[test]
fn csob_subtotals_close_and_last_sums_across_a_restart() {
    let mut shop = Shop::open(None);
    let t = shop.addr("csob");
    let run = |t: &str, cmd: &[&str]| till_json("csob", t, cmd, &[]);

    // Before any close: last sums are approved and empty.
    let r = run(&t, &["last-sums"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["command"], "last-sums");
    assert_eq!(v["outcome"], "approved");
    assert!(no_currencies(&v), "{v}");
    assert_eq!(v["text"], "no closed batch");

    let r = run(&t, &["sale", "--amount", "123.45", "--currency", "CZK"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(&t, &["refund", "--amount", "20", "--currency", "CZK"]);
    assert_eq!(r.code, 0, "{r:?}");

    // Subtotals show the open batch, twice: nothing is reset, nothing goes to the bank.
    for _ in 0..2 {
        let r = run(&t, &["subtotals"]);
        assert_eq!(r.code, 0, "{r:?}");
        let v = r.json();
        assert_eq!(v["command"], "subtotals");
        assert_eq!(v["message"], "Subtotals");
        assert_eq!(czk_line(&v), (1, 12_345, 1, 2_000), "{v}");
        assert_eq!(v["text"], "batch 1 open");
    }
    assert!(
        shop.bank.ledger()["reconciliations"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{:#}",
        shop.bank.ledger()
    );
    // Its report came over as a receipt (B3/B4), titled.
    let r = till_json("csob", &t, &["subtotals"], &["--receipt"]);
    let receipt: String = r.json()["receipt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        receipt.contains("SUBTOTALS") && receipt.contains("123.45"),
        "{receipt}"
    );

    let r = run(&t, &["close-totals"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(czk_line(&r.json()), (1, 12_345, 1, 2_000));

    // The new batch is empty; the closed one is the last sums.
    let r = run(&t, &["subtotals"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(no_currencies(&r.json()), "{}", r.stdout);
    let r = run(&t, &["last-sums"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(czk_line(&v), (1, 12_345, 1, 2_000), "{v}");
    assert_eq!(v["text"], "batch 1 closed");

    // A sale in the new batch changes subtotals, not last sums.
    let r = run(&t, &["sale", "--amount", "7", "--currency", "CZK"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(czk_line(&run(&t, &["subtotals"]).json()), (1, 700, 0, 0));

    // Restart the agent on the same journal: last sums and subtotals survive.
    assert_eq!(shop.agent.terminate(), Some(0));
    let bank_addr = shop.bank.addr.to_string();
    shop.agent = Agent::spawn(
        &[
            "--listen",
            "csob@127.0.0.1:0",
            "--bank",
            &bank_addr,
            "--card-delay",
            "20ms",
        ],
        &shop.dir.path().join("journal"),
    );
    let t = shop.addr("csob");
    let v = run(&t, &["last-sums"]).json();
    assert_eq!(v["outcome"], "approved", "{v}");
    assert_eq!(czk_line(&v), (1, 12_345, 1, 2_000), "{v}");
    assert_eq!(v["text"], "batch 1 closed");
    assert_eq!(czk_line(&run(&t, &["subtotals"]).json()), (1, 700, 0, 0));

    // Human output names the totals.
    let r = sim(&["last-sums", "--terminal", &t, "--dialect", "csob"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Last close totals"), "{}", r.stdout);
    assert!(r.stdout.contains("123.45 CZK"), "{}", r.stdout);
}

#[test]
fn concert_cannot_ask_for_subtotals_or_last_sums() {
    let shop = Shop::open(None);
    let t = shop.addr("concert");
    for cmd in ["subtotals", "last-sums"] {
        let r = till_json("concert", &t, &[cmd], &[]);
        assert_eq!(r.code, 2, "{cmd}: {r:?}");
    }
}

/// Issue 15 point 14: a reprint is marked duplicate, the subtotals receipt as much as a sale's
/// (before: neither transferred reprint carried the mark; the first transfer of a receipt,
/// `--receipt` right after the answer, is the original and stays unmarked).
#[test]
fn a_reprint_is_marked_duplicate_for_subtotals_as_for_a_sale() {
    let shop = Shop::open(None);
    let t = shop.addr("csob");
    let receipt = |v: &serde_json::Value| -> String {
        v["receipt"]
            .as_array()
            .unwrap_or_else(|| panic!("no receipt in {v}"))
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "12", "--currency", "CZK"],
        &["--receipt"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let original = receipt(&r.json());
    assert!(original.contains("SALE"), "{original}");
    assert!(!original.contains("DUPLICATE"), "{original}");
    let r = till_json("csob", &t, &["reprint"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let text = receipt(&r.json());
    assert!(
        text.contains("SALE") && text.contains("*** DUPLICATE ***"),
        "{text}"
    );

    let r = till_json("csob", &t, &["subtotals"], &["--receipt"]);
    assert_eq!(r.code, 0, "{r:?}");
    let original = receipt(&r.json());
    assert!(original.contains("SUBTOTALS"), "{original}");
    assert!(!original.contains("DUPLICATE"), "{original}");
    let r = till_json("csob", &t, &["reprint"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let text = receipt(&r.json());
    assert!(
        text.contains("SUBTOTALS") && text.contains("*** DUPLICATE ***"),
        "{text}"
    );
    // Without the mark, the reprint is the original word for word.
    assert_eq!(
        text.lines()
            .filter(|l| !l.contains("DUPLICATE"))
            .collect::<Vec<_>>()
            .join("\n"),
        original.lines().collect::<Vec<_>>().join("\n")
    );
}
