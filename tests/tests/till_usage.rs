//! Till commands as a real process: input errors exit 2 with one line on stderr, before any
//! connection is tried.

use std::process::Command;

fn sim(args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
        .args(args)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("ECRLINK_CONFIG")
        .env_remove("ECRLINK_LOG_DIR")
        .output()
        .expect("spawn ecrlink-sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Port 9 (discard) on loopback: nothing listens there in tests, and none of these reaches it.
const T: &str = "127.0.0.1:9";

#[test]
fn too_many_decimals_is_exit_2() {
    let (code, out, err) = sim(&[
        "sale",
        "--amount",
        "12.345",
        "--currency",
        "EUR",
        "--terminal",
        T,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: invalid amount '12.345' for EUR"),
        "{err}"
    );
}

#[test]
fn negative_and_malformed_amounts_are_exit_2() {
    for bad in ["-5", "1e3", "1,50", "", "0", "abc"] {
        let (code, _, err) = sim(&[
            "sale",
            "--amount",
            bad,
            "--currency",
            "CZK",
            "--terminal",
            T,
        ]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.starts_with("error: invalid amount"), "{bad}: {err}");
    }
    // JPY has no minor unit.
    let (code, _, err) = sim(&[
        "refund",
        "--amount",
        "1.5",
        "--currency",
        "JPY",
        "--terminal",
        T,
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn currency_is_required_and_checked() {
    let (code, _, err) = sim(&["sale", "--amount", "1", "--terminal", T]);
    assert_eq!(code, 2);
    assert!(err.contains("--currency is required"), "{err}");
    let (code, _, err) = sim(&[
        "sale",
        "--amount",
        "1",
        "--currency",
        "XYZ",
        "--terminal",
        T,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown currency 'XYZ'"), "{err}");
}

#[test]
fn cashback_must_be_less_than_the_total() {
    let (code, _, err) = sim(&[
        "cashback",
        "--amount",
        "10",
        "--cashback",
        "10",
        "--currency",
        "CZK",
        "--terminal",
        T,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--cashback must be less"), "{err}");
}

#[test]
fn bad_reference_and_code_are_exit_2() {
    let (code, _, err) = sim(&[
        "sale",
        "--amount",
        "1",
        "--currency",
        "CZK",
        "--vs",
        "this-reference-is-far-too-long",
        "--terminal",
        T,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid --vs"), "{err}");
    let (code, _, err) = sim(&[
        "reversal",
        "--amount",
        "1",
        "--currency",
        "CZK",
        "--code",
        "AB-12",
        "--terminal",
        T,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid --code"), "{err}");
}

#[test]
fn no_terminal_and_no_config_is_exit_2() {
    let (code, _, err) = sim(&["test-terminal"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: no terminal"), "{err}");
}

#[test]
fn bad_timeout_is_exit_2() {
    let (code, _, err) = sim(&["test-terminal", "--terminal", T, "--timeout", "-1"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = sim(&["test-terminal", "--terminal", T, "--timeout", "soon"]);
    assert_eq!(code, 2);
}

#[test]
fn mistyped_terminal_is_a_usage_error_not_offline() {
    // (address, what the one line must say)
    for (bad, says) in [
        ("127.0.0.1", "no port"),
        ("localhost", "no port"),
        ("127.0.0.1:", "not a port number"),
        ("127.0.0.1:99999", "not a port number"),
        ("127.0.0.1:abc", "not a port number"),
        ("dev/ttyUSB0", "absolute path"),
        ("ttys/0", "absolute path"),
        ("", "empty"),
    ] {
        let (code, out, err) = sim(&[
            "sale",
            "--amount",
            "1",
            "--currency",
            "CZK",
            "--terminal",
            bad,
            "--no-log",
        ]);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(out.is_empty(), "{bad:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(
            err.starts_with(&format!("error: invalid terminal '{bad}'")) && err.contains(says),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn mistyped_terminal_in_the_config_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("terminals.toml");
    std::fs::write(
        &cfg,
        "selection = \"single\"\n[[terminal]]\nalias = \"desk\"\naddress = \"192.168.1.50\"\ndialect = \"csob\"\n",
    )
    .unwrap();
    let (code, _, err) = sim(&[
        "test-terminal",
        "--config",
        cfg.to_str().unwrap(),
        "--no-log",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("desk") && err.contains("no port"), "{err}");
}

#[test]
fn a_negative_amount_says_what_to_do_instead() {
    let (code, _, err) = sim(&[
        "sale",
        "--amount",
        "-5",
        "--currency",
        "CZK",
        "--terminal",
        T,
        "--no-log",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("amounts are positive") && err.contains("refund --amount 5"),
        "{err}"
    );
}

#[test]
fn an_unknown_alias_lists_the_aliases_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("terminals.toml");
    std::fs::write(
        &cfg,
        "selection = \"single\"\n[[terminal]]\nalias = \"front\"\naddress = \"127.0.0.1:9\"\ndialect = \"csob\"\n[[terminal]]\nalias = \"back\"\naddress = \"127.0.0.1:9\"\ndialect = \"concert\"\n",
    )
    .unwrap();
    let (code, _, err) = sim(&[
        "test-terminal",
        "--config",
        cfg.to_str().unwrap(),
        "--alias",
        "nope",
        "--no-log",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("'nope'") && err.contains("front, back"),
        "{err}"
    );
}

#[test]
fn long_help_is_wrapped() {
    for args in [&["sale", "--help"][..], &["--help"], &["bank", "--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
            .args(args)
            .env("COLUMNS", "80")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{args:?}: {line}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-agent-e2e"))
        .arg("--help")
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "agent: {line}");
    }
}
