//! The till when things go wrong, as real processes: a stopped agent, a silent one, a lost
//! answer, no bank; plus the session log and config selection driving a real connection.

mod agent_common;
mod till_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use till_common::{Shop, closed_port, lossy_proxy, only_file, silent_terminal, sim_env, till_json};

#[test]
fn stopped_agent_is_terminal_offline_within_the_connect_limit() {
    let mut shop = Shop::open(None);
    let t = shop.addr("csob");
    let r = till_json("csob", &t, &["test-terminal"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(shop.agent.terminate(), Some(0));
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "10", "--currency", "CZK"],
        &[],
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.took < Duration::from_secs(3), "{:?}", r.took);
    let v = r.json();
    assert_eq!(v["outcome"], "terminal-offline");
    assert_eq!(v["message"], "The terminal is offline");
    assert!(
        v["recovery"].is_null(),
        "nothing was sent, nothing to recover"
    );
}

#[test]
fn silent_csob_terminal_times_out_then_asks_for_the_last_transaction() {
    let (t, connections) = silent_terminal();
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "10", "--currency", "CZK"],
        &["--timeout", "1"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
    let v = r.json();
    assert_eq!(v["outcome"], "timeout");
    assert_eq!(v["unknown"], true);
    assert_eq!(v["recovery"]["status"], "failed", "{v}");
    assert_eq!(
        v["message"],
        "The terminal did not answer in time: outcome unknown — run `ecrlink-sim last` (the \
         terminal's last transaction) before trying again"
    );
    // The second connection is the last-transaction question.
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[test]
fn silent_concert_terminal_times_out_and_says_the_outcome_is_unknown() {
    let (t, connections) = silent_terminal();
    let r = till_json(
        "concert",
        &t,
        &["sale", "--amount", "10", "--currency", "EUR"],
        &["--timeout", "1"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    let v = r.json();
    assert_eq!(v["unknown"], true);
    assert_eq!(v["recovery"]["status"], "unsupported", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .ends_with("look at the terminal's screen or its journal before charging again"),
        "{v}"
    );
    // Concert cannot ask: no second connection.
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[test]
fn lost_answer_is_recovered_from_the_last_transaction() {
    let shop = Shop::open(None);
    let (t, connections) = lossy_proxy(shop.agent.addr("csob"));
    let r = till_json(
        "csob",
        &t,
        &[
            "sale",
            "--amount",
            "42",
            "--currency",
            "CZK",
            "--vs",
            "LOST1",
        ],
        &["--timeout", "1.5"],
    );
    // The answer never came, but the terminal's last transaction is this sale, approved.
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["outcome"], "approved");
    assert_eq!(v["recovery"]["status"], "matched", "{v}");
    assert_eq!(v["amount"], "42.00");
    assert!(v["approval_code"].is_string(), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("read back from the terminal's last transaction"),
        "{v}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    // The bank saw the sale once.
    let auths = shop.bank.auths();
    assert_eq!(auths.len(), 1, "{auths:?}");
    assert_eq!(auths[0]["amount"], 4200);
}

/// An agent whose bank cannot be reached answers "bank unavailable"; over ČSOB that travels as
/// R-91 (an ecrlink convention, see `core::dialect::csob::map`) and the till exits 5. (Concert
/// has one refusal status only, so there the till sees a refusal.)
#[test]
fn no_bank_over_csob_is_bank_unavailable_exit_5() {
    let dir = tempfile::tempdir().unwrap();
    let no_bank = closed_port();
    let agent = agent_common::Agent::spawn(
        &[
            "--listen",
            "csob@127.0.0.1:0",
            "--bank",
            &no_bank,
            "--card-delay",
            "20ms",
        ],
        &dir.path().join("journal"),
    );
    let r = till_json(
        "csob",
        &agent.addr("csob").to_string(),
        &["sale", "--amount", "10", "--currency", "CZK"],
        &[],
    );
    assert_eq!(r.code, 5, "{r:?}");
    let v = r.json();
    assert_eq!(v["outcome"], "bank-unavailable");
    assert_eq!(v["approval_code"], serde_json::Value::Null);
}

#[test]
fn session_log_has_frames_and_no_card_number() {
    let shop = Shop::open(None);
    let logs = tempfile::tempdir().unwrap();
    let env = [("ECRLINK_LOG_DIR", logs.path().to_str().unwrap())];
    for (dialect, currency) in [("csob", "CZK"), ("concert", "EUR")] {
        let r = sim_env(
            &[
                "sale",
                "--amount",
                "12.50",
                "--currency",
                currency,
                "--terminal",
                &shop.addr(dialect),
                "--dialect",
                dialect,
            ],
            &env,
            Duration::from_secs(30),
        );
        assert_eq!(r.code, 0, "{r:?}");
    }
    // Both runs may share one file (same second) or not: read them all.
    let mut text = String::new();
    for e in std::fs::read_dir(logs.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let shape: String = name
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        assert_eq!(shape, "9999-99-99_99-99-99.log");
        text.push_str(&std::fs::read_to_string(&p).unwrap());
    }
    assert!(text.contains("till -> terminal"), "{text}");
    assert!(text.contains("terminal -> till"), "{text}");
    assert!(text.contains("<STX>B101"), "ČSOB header readable: {text}");
    assert!(text.contains("outcome: approved"), "{text}");
    assert!(
        !text.contains("4761739001010119"),
        "full PAN in the log: {text}"
    );
    // Nor in hex (the middle digits 9001 01 of the PAN as bytes).
    assert!(!text.contains("39 30 30 31 30 31"), "{text}");
}

#[test]
fn config_selection_picks_the_terminal_that_is_used() {
    let shop = Shop::open(None);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("terminals.toml");
    std::fs::write(
        &cfg,
        format!(
            "selection = \"by-computer\"\ncurrency = \"CZK\"\n\n\
             [[terminal]]\nalias = \"counter\"\naddress = \"{}\"\ndialect = \"csob\"\ncomputers = [\"KASA-1\"]\n\n\
             [[terminal]]\nalias = \"broken\"\naddress = \"{}\"\ndialect = \"concert\"\ncomputers = [\"kasa-1\"]\n",
            shop.addr("csob"),
            closed_port()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut all = vec![("USER", "nobody")];
        all.extend_from_slice(env);
        sim_env(
            &["sale", "--amount", "5", "--config", cfg, "--json"],
            &all,
            Duration::from_secs(30),
        )
    };
    // The server is "kasa-1"; the remote-desktop client at the counter is "KASA-1".
    let r = run(&[("COMPUTERNAME", "kasa-1"), ("CLIENTNAME", "KASA-1")]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["terminal"]["alias"], "counter");
    assert_eq!(v["currency"], "CZK", "currency from the config");
    // Without the client name the server's own name picks the other (unreachable) terminal.
    let r = run(&[("COMPUTERNAME", "kasa-1"), ("CLIENTNAME", "")]);
    assert_eq!(r.code, 4, "{r:?}");
    assert_eq!(r.json()["terminal"]["alias"], "broken");
    // Neither spelling: no terminal, a usage error.
    let r = run(&[("COMPUTERNAME", "Kasa-1"), ("CLIENTNAME", "")]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("no terminal configured for computer 'Kasa-1'"),
        "{}",
        r.stderr
    );
    let _ = only_file; // (helper shared with other tests)
}
