//! Issue 19, point 1, on the real binaries: another client on the network (a second till
//! process) tries to refund, to reverse the merchant's sale after reading `last`, and to close
//! the totals. By default (no option given) none of it reaches the bank; with a merchant PIN
//! configured the right PIN, typed on the terminal, lets the merchant do it, a wrong one does
//! not, and wrong PINs in a row lock the operation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, TillRun, sale_args, till};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// The merchant PIN of these tests.
const PIN: &str = "4711";

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("merchant-confirmation")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A till command against the agent's ČSOB listener.
fn run(d: &Path, agent: &AgentProc, cmd: &[&str]) -> TillRun {
    till(
        BINS,
        "csob",
        agent.addr("csob"),
        cmd,
        20,
        &d.join("till-logs"),
    )
}

fn sale(d: &Path, agent: &AgentProc, minor: u64) -> TillRun {
    let args = sale_args("csob", minor);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(d, agent, &args)
}

fn refund(d: &Path, agent: &AgentProc, amount: &str) -> TillRun {
    run(
        d,
        agent,
        &["refund", "--amount", amount, "--currency", "CZK"],
    )
}

/// `last`, then a reversal of what it shows: what an attacker on the network does.
fn reverse_last(d: &Path, agent: &AgentProc) -> TillRun {
    let last = run(d, agent, &["last"]);
    let code = last.json["approval_code"]
        .as_str()
        .expect("an approval code");
    let amount = last.json["amount"].as_str().expect("an amount");
    run(
        d,
        agent,
        &[
            "reversal",
            "--code",
            code,
            "--amount",
            amount,
            "--currency",
            "CZK",
        ],
    )
}

/// `ecrlink-agent hash-pin` for `pin`: the `merchant_pin_hash = "…"` line.
fn hash_pin(pin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(BINS.agent)
        .args(["hash-pin", "--iterations", "1000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{pin}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("merchant_pin_hash = \"pbkdf2-sha256$1000$"),
        "{line}"
    );
    assert!(
        !line.contains(pin),
        "the PIN itself is not in the hash line"
    );
    line
}

/// An agent with the merchant PIN configured (config file) and `merchant` typed on the
/// terminal in order (cards file); `policy` adds lines to the [policy] table.
fn agent_with_pin(d: &Path, bank: &BankProc, merchant: &[&str], policy: &str) -> AgentProc {
    let config = d.join("agent.toml");
    std::fs::write(&config, format!("[policy]\n{}{policy}", hash_pin(PIN))).unwrap();
    let mut cards = String::from("[[card]]\ndelay = \"20ms\"\n");
    for m in merchant {
        cards.push_str(&format!("[[merchant]]\npin = \"{m}\"\n"));
    }
    let cards_file = d.join("cards.toml");
    std::fs::write(&cards_file, cards).unwrap();
    let spec = AgentSpec::new(&["csob"], bank.addr)
        .without("--no-merchant-confirmation")
        .arg(&[
            "--config",
            config.to_str().unwrap(),
            "--cards",
            cards_file.to_str().unwrap(),
        ]);
    AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap()
}

fn log(d: &Path) -> String {
    std::fs::read_to_string(d.join("agent/agent.log")).unwrap()
}

/// What the bank's ledger holds: (refunds, reversed or reversal-asked authorizations,
/// other authorizations).
fn ledger_counts(bank: &BankProc) -> (usize, usize, usize) {
    let auths = bank.auths();
    let refunds = auths.iter().filter(|a| a["kind"] == "refund").count();
    let reversed = auths
        .iter()
        .filter(|a| a["state"] == "reversed" || a["reversal_messages"].as_u64() != Some(0))
        .count();
    (refunds, reversed, auths.len() - refunds)
}

#[test]
fn by_default_another_client_cannot_refund_reverse_the_sale_or_close() {
    let d = dir("default");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);
    // The agent as it starts with no option about who may move money.
    let spec = AgentSpec::new(&["csob"], bank.addr).without("--no-merchant-confirmation");
    let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap();

    // The merchant's sale.
    let s = sale(&d, &agent, 12_500);
    assert_eq!(s.outcome(), "approved", "{}", s.json);
    let sale_code = s.json["approval_code"].as_str().unwrap().to_string();

    // Another client: a 999.00 refund, the reversal of the merchant's sale, a close.
    let r = refund(&d, &agent, "999.00");
    assert_eq!(r.outcome(), "failed", "{}", r.json);
    assert_eq!(r.code, 1, "refused: exit status 1");
    assert!(
        r.json["reason"].as_str().unwrap().contains("merchant PIN"),
        "{}",
        r.json
    );
    let v = reverse_last(&d, &agent);
    assert_ne!(v.outcome(), "approved", "{}", v.json);
    let c = run(&d, &agent, &["close-totals"]);
    assert_ne!(c.outcome(), "approved", "{}", c.json);

    // Nothing of it reached the bank: one sale, not reversed, no refund, no reconciliation.
    std::thread::sleep(Duration::from_millis(300));
    let ledger = bank.ledger();
    let auths = bank.auths();
    assert_eq!(auths.len(), 1, "{ledger}");
    assert_eq!(auths[0]["approval"].as_str(), Some(sale_code.as_str()));
    assert_eq!(auths[0]["state"], "approved", "{ledger}");
    assert_eq!(ledger_counts(&bank), (0, 0, 1), "{ledger}");
    assert_eq!(
        ledger["reconciliations"].as_array().map(Vec::len),
        Some(0),
        "the batch was not closed at the bank: {ledger}"
    );
    // The merchant's sale is still the last transaction, approved.
    let last = run(&d, &agent, &["last"]);
    assert_eq!(last.outcome(), "approved", "{}", last.json);
    assert_eq!(
        last.json["approval_code"].as_str(),
        Some(sale_code.as_str())
    );
    // Said at start, and each refusal logged with its reason.
    let log = log(&d);
    assert!(
        log.contains("need a merchant PIN") && log.contains("--no-merchant-confirmation"),
        "{log}"
    );
    assert!(
        log.contains("reason=\"needs the merchant PIN: none is configured\""),
        "{log}"
    );
}

#[test]
fn the_right_merchant_pin_lets_the_merchant_refund_and_reverse_a_wrong_one_does_not() {
    let d = dir("pin");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);
    // Typed on the terminal, in order: the intruder's guess, then the merchant's PIN.
    let agent = agent_with_pin(&d, &bank, &["1234", PIN, PIN, PIN], "");
    let s = sale(&d, &agent, 20_000);
    assert_eq!(s.outcome(), "approved", "{}", s.json);

    // Another client's refund: the merchant at the terminal does not know the PIN typed.
    let r = refund(&d, &agent, "999.00");
    assert_eq!(r.outcome(), "failed", "{}", r.json);
    assert_eq!(
        r.json["reason"].as_str(),
        Some("wrong merchant PIN"),
        "{}",
        r.json
    );
    assert_eq!(ledger_counts(&bank), (0, 0, 1), "{}", bank.ledger());

    // The merchant's own refund, with the PIN.
    let r = refund(&d, &agent, "15.00");
    assert_eq!(r.outcome(), "approved", "{}", r.json);
    assert_eq!(ledger_counts(&bank).0, 1, "{}", bank.ledger());

    // And a reversal of the refund just made, with the PIN again.
    let v = reverse_last(&d, &agent);
    assert_eq!(v.outcome(), "approved", "{}", v.json);
    // And the close of the day.
    let c = run(&d, &agent, &["close-totals"]);
    assert_eq!(c.outcome(), "approved", "{}", c.json);
    let ledger = bank.ledger();
    assert_eq!(
        ledger["reconciliations"].as_array().map(Vec::len),
        Some(1),
        "{ledger}"
    );
    let log = log(&d);
    assert!(log.contains("merchant PIN asked on the terminal"), "{log}");
    assert!(!log.contains(PIN), "the PIN is never logged: {log}");
    assert!(!log.contains("need a merchant PIN"), "{log}");
}

#[test]
fn wrong_merchant_pins_in_a_row_lock_refunds_until_the_lock_ends() {
    let d = dir("lock");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);
    let agent = agent_with_pin(
        &d,
        &bank,
        &["0000", "1111", "2222", PIN],
        "confirm_tries = 3\nconfirm_lock = \"3s\"\n",
    );
    for (n, want) in [
        "wrong merchant PIN",
        "wrong merchant PIN",
        "locked after wrong merchant PINs: try later",
    ]
    .iter()
    .enumerate()
    {
        let r = refund(&d, &agent, "50.00");
        assert_eq!(
            r.json["reason"].as_str(),
            Some(*want),
            "try {n}: {}",
            r.json
        );
    }
    // Locked: refused without asking, even though the merchant would now type the right PIN.
    let r = refund(&d, &agent, "50.00");
    assert_eq!(
        r.json["reason"].as_str(),
        Some("locked after wrong merchant PINs: try later"),
        "{}",
        r.json
    );
    assert!(bank.auths().is_empty(), "{}", bank.ledger());
    // A sale is not locked with the refunds.
    assert_eq!(sale(&d, &agent, 1_000).outcome(), "approved");
    // After the lock (3 s here, 5 minutes by default) the right PIN refunds.
    std::thread::sleep(Duration::from_millis(3_500));
    let r = refund(&d, &agent, "50.00");
    assert_eq!(r.outcome(), "approved", "{}", r.json);
}

#[test]
fn the_policy_in_the_config_file_is_checked_with_line_and_column() {
    let d = dir("config");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);
    for (text, want) in [
        (
            "[policy]\nmax_sale = \"12.345\"\n",
            ":2:12: policy.max_sale",
        ),
        (
            "[policy]\nconfirm = [\"refund\", \"teleport\"]\n",
            ":2:11: policy.confirm",
        ),
        (
            "[policy]\n\nmerchant_pin_hash = \"4711\"\n",
            ":3:21: policy.merchant_pin_hash",
        ),
        (
            "[policy]\nconfirm_lock = \"5\"\n",
            ":2:16: policy.confirm_lock",
        ),
        ("[policy]\nmax_refund_dayy = \"10\"\n", "line 2, column 1"),
    ] {
        let config = d.join("bad.toml");
        std::fs::write(&config, text).unwrap();
        let out = Command::new(BINS.agent)
            .args(["--listen", "csob@127.0.0.1:0", "--bank"])
            .arg(bank.addr.to_string())
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(want), "{text}: want {want:?} in {err}");
    }

    // The file's limits apply, and the command line wins over them.
    let config = d.join("agent.toml");
    std::fs::write(
        &config,
        "[policy]\nconfirm = []\nmax_sale = \"100.00\"\nmax_refund_day = \"30\"\n",
    )
    .unwrap();
    let spec = AgentSpec::new(&["csob"], bank.addr)
        .without("--no-merchant-confirmation")
        .arg(&[
            "--config",
            config.to_str().unwrap(),
            "--max-refund-day",
            "40",
        ]);
    let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap();
    let r = sale(&d, &agent, 10_001);
    assert_eq!(
        r.json["reason"].as_str(),
        Some("amount over the terminal's limit"),
        "{}",
        r.json
    );
    assert_eq!(sale(&d, &agent, 10_000).outcome(), "approved");
    // Refunds need no PIN here (confirm = []), up to 40.00 a day.
    assert_eq!(refund(&d, &agent, "25.00").outcome(), "approved");
    let r = refund(&d, &agent, "15.01");
    assert_eq!(
        r.json["reason"].as_str(),
        Some("amount over the terminal's daily limit"),
        "{}",
        r.json
    );
    assert_eq!(refund(&d, &agent, "15.00").outcome(), "approved");
}

#[test]
fn the_days_sums_survive_a_restart() {
    let d = dir("restart");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);
    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&["--max-sale-day", "100"]);
    let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap();
    assert_eq!(sale(&d, &agent, 6_000).outcome(), "approved");
    drop(agent);
    // Two restarts: each compacts the journal.
    for _ in 0..2 {
        let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap();
        let r = sale(&d, &agent, 4_001);
        assert_eq!(
            r.json["reason"].as_str(),
            Some("amount over the terminal's daily limit"),
            "{}",
            r.json
        );
        drop(agent);
    }
    let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap();
    assert_eq!(sale(&d, &agent, 4_000).outcome(), "approved");
}
