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
        "zvt",
        "--zvt-password",
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
        &["--listen", "gpe@127.0.0.1:0"][..],
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

/// Runs the agent until it prints READY (or ends), then stops it; returns (exit status if it
/// ended by itself, stdout, stderr).
fn agent_start(args: &[&str]) -> (Option<i32>, String, String) {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let mut child = Command::new(AGENT)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        out.push_str(&line);
        if line.trim() == "READY" {
            break;
        }
        line.clear();
    }
    let ended = child.try_wait().unwrap().and_then(|s| s.code());
    let ended = if out.contains("READY") {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        ended
    } else {
        child.wait().unwrap().code()
    };
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (ended, out, err)
}

#[test]
fn without_a_bank_the_agent_says_so_at_start_unless_no_bank() {
    let (_, out, err) = agent_start(&["--listen", "csob@127.0.0.1:0"]);
    assert!(out.contains("READY"), "{out}\n{err}");
    assert!(
        err.contains("warning: no bank configured") && err.contains("--no-bank"),
        "{err}"
    );
    let (_, out, err) = agent_start(&["--listen", "csob@127.0.0.1:0", "--no-bank"]);
    assert!(out.contains("READY"), "{out}\n{err}");
    assert!(!err.contains("no bank configured"), "{err}");
    // Both at once is a usage error.
    let (code, _, err) = agent_start(&["--bank", "127.0.0.1:9", "--no-bank"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn a_missing_cards_file_is_a_configuration_error() {
    let (code, out, err) = agent_start(&[
        "--listen",
        "csob@127.0.0.1:0",
        "--no-bank",
        "--cards",
        "/nonexistent/cards.toml",
    ]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(!out.contains("READY"));
    assert!(err.contains("/nonexistent/cards.toml"), "{err}");
}

#[test]
fn durations_take_units_and_a_bare_number_asks_for_one() {
    for ok in ["10s", "5m", "1.5s", "250ms"] {
        let (_, out, err) = agent_start(&[
            "--listen",
            "csob@127.0.0.1:0",
            "--no-bank",
            "--sleep-after",
            ok,
        ]);
        assert!(out.contains("READY"), "{ok}: {err}");
    }
    let (code, _, err) = agent_start(&["--no-bank", "--sleep-after", "10"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("give a unit: 10s, 10m"), "{err}");
}

#[test]
fn help_shows_the_cards_format_and_it_parses() {
    let out = Command::new(AGENT).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = text.find("  [[card]]").unwrap_or_else(|| panic!("{text}"));
    let end = text.find("The bank simulator's rules file").unwrap();
    let sample: String = text[start..end]
        .lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    ecrlink_agent::card::SimulatedReader::parse(&sample, std::time::Duration::from_millis(5))
        .unwrap_or_else(|e| panic!("{e:#}\n{sample}"));
    assert!(text.contains("ecrlink-sim bank --help"), "{text}");
}
