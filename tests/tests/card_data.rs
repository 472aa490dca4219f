//! Card data: a day of every transaction type in both dialects (receipts printed and fetched,
//! debug logs with every frame in hex, the till's session logs, the journal, a restart), then
//! every file written under this test's directory is scanned for unmasked card numbers
//! (Luhn-valid 13–19 digit runs, in text and inside hex dumps, and the test cards' numbers
//! anywhere). The fault-injection suite scans its own files the same way.

use std::path::{Path, PathBuf};

use ecrlink_tests::pan::scan_tree;
use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, till};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// The cards of the script below: a Visa chip card and a Mastercard.
const VISA: &str = "4761739001010119";
const MASTERCARD: &str = "5413330089020011";

const CARDS: &str = r#"
[[card]]
pan = "4761739001010119"
scheme = "visa"
entry = "chip"
delay = "20ms"

[[card]]
pan = "5413330089020011"
scheme = "mastercard"
entry = "contactless"
delay = "20ms"
"#;

fn run(dir: &Path, dialect: &str, agent: &AgentProc, cmd: &[&str]) -> serde_json::Value {
    let r = till(
        BINS,
        dialect,
        agent.addr(dialect),
        cmd,
        10,
        &dir.join("till-logs"),
    );
    assert!(!r.json.is_null(), "{cmd:?}: {}", r.stderr);
    r.json
}

#[test]
fn no_file_written_in_a_day_of_transactions_holds_a_full_card_number() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("card-data");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let cards = root.join("cards.toml");
    std::fs::write(&cards, CARDS).unwrap();
    let bank = BankProc::spawn(BINS, &root.join("bank"), None);
    let spec =
        AgentSpec::new(&["concert", "csob"], bank.addr).arg(&["--cards", cards.to_str().unwrap()]);
    let mut agent = AgentProc::spawn(BINS, &root.join("agent"), &spec).unwrap();

    let s = run(
        &root,
        "csob",
        &agent,
        &[
            "sale",
            "--amount",
            "12.50",
            "--currency",
            "CZK",
            "--receipt",
        ],
    );
    assert_eq!(s["outcome"], "approved", "{s}");
    let code = s["approval_code"].as_str().unwrap().to_string();
    assert!(s["pan"].as_str().unwrap().contains('*'), "{s}");
    let r = run(
        &root,
        "csob",
        &agent,
        &[
            "reversal",
            "--amount",
            "12.50",
            "--currency",
            "CZK",
            "--code",
            &code,
        ],
    );
    assert_eq!(r["outcome"], "approved", "{r}");
    for cmd in [
        vec![
            "cashback",
            "--amount",
            "30.00",
            "--cashback",
            "10.00",
            "--currency",
            "CZK",
            "--receipt",
        ],
        vec![
            "refund",
            "--amount",
            "5.00",
            "--currency",
            "CZK",
            "--receipt",
        ],
        vec!["last"],
        vec!["reprint"],
    ] {
        run(&root, "csob", &agent, &cmd);
    }
    for minor in ["7.00", "8.00"] {
        let c = run(
            &root,
            "concert",
            &agent,
            &["sale", "--amount", minor, "--currency", "EUR"],
        );
        assert_eq!(c["outcome"], "approved", "{c}");
    }
    // A restart: the journal is read back and compacted into a new file.
    agent.kill9();
    let agent = AgentProc::spawn(BINS, &root.join("agent"), &spec).unwrap();
    let t = run(&root, "csob", &agent, &["close-totals", "--receipt"]);
    assert_eq!(t["outcome"], "approved", "{t}");
    drop(agent);
    drop(bank);

    let (files, found) = scan_tree(&root, &[VISA, MASTERCARD]);
    // Journal, agent log, receipts, ledger, bank log, till session log(s), cards file.
    assert!(files >= 7, "only {files} files under {}", root.display());
    for must in ["agent/agent.log", "agent/receipts.txt", "bank/ledger.json"] {
        let len = std::fs::metadata(root.join(must))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 0, "{must} was not written");
    }
    let journals = std::fs::read_dir(root.join("agent/journal"))
        .unwrap()
        .count();
    let till_logs = std::fs::read_dir(root.join("till-logs")).unwrap().count();
    assert!(journals >= 1 && till_logs >= 1);
    // The scripted cards file holds the numbers on purpose: it is the card reader's input.
    let found: Vec<_> = found.into_iter().filter(|f| f.file != cards).collect();
    assert!(found.is_empty(), "unmasked card numbers: {found:#?}");

    // The scan can fail: the cards file, which does hold them, is found.
    let (_, in_cards) = scan_tree(&root, &[VISA, MASTERCARD]);
    assert!(in_cards.iter().any(|f| f.file == cards));
}
