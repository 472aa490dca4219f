//! The agent's command line: `--help` teaches, bad input is a usage error (exit 2), a config
//! file gives the same keys.

mod agent_common;

use std::process::Command;

use agent_common::{AGENT, Agent, Bank, ask, sale};
use ecrlink_core::txn::Outcome;

#[test]
fn help_teaches_and_bad_input_exits_2() {
    let out = Command::new(AGENT).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "concert",
        "csob",
        "auto",
        "serial:",
        "--bank",
        "--journal",
        "SIGUSR1",
        "--sleep-after",
        "Examples",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
    for bad in [
        &["--listen", "zvt@127.0.0.1:0"][..],
        &["--listen", "127.0.0.1:2000"],
        &["--terminal-id", "MUCH-TOO-LONG"],
        &["--sleep-after", "5 parsecs"],
        &["--receipt-width", "33"],
    ] {
        let out = Command::new(AGENT).args(bad).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn config_file_gives_the_same_keys() {
    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = [\"concert@127.0.0.1:0\"]\nbank = \"{}\"\ncard_delay = \"10ms\"\nterminal_id = \"CFG00001\"\n",
            bank.addr
        ),
    )
    .unwrap();
    let agent = Agent::spawn(
        &["--config", cfg.to_str().unwrap()],
        &dir.path().join("journal"),
    );
    let r = ask("concert", agent.addr("concert"), &sale(1_500));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    // The command line's --terminal-id (the test helper passes one) wins over the file.
    assert_eq!(bank.auths()[0]["terminal"], agent_common::TERMINAL_ID);
}
