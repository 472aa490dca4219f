//! A till whose terminal is not there: "terminal offline", exit 4, within the connect limit;
//! and the session log that every run leaves behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    // Bind and drop: nothing listens there afterwards.
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sim(args: &[&str], log_dir: &Path) -> (i32, String, String, Duration) {
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
        .args(args)
        .env("ECRLINK_LOG_DIR", log_dir)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("spawn ecrlink-sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t0.elapsed(),
    )
}

#[test]
fn closed_port_is_terminal_offline_exit_4() {
    let logs = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    for dialect in ["concert", "csob"] {
        let (code, out, err, took) = sim(
            &[
                "sale",
                "--amount",
                "12.50",
                "--currency",
                "EUR",
                "--terminal",
                &addr,
                "--dialect",
                dialect,
                "--json",
            ],
            logs.path(),
        );
        assert_eq!(code, 4, "{dialect}: {out} {err}");
        assert!(took < Duration::from_secs(4), "{took:?}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["outcome"], "terminal-offline");
        assert_eq!(v["exit_code"], 4);
        assert_eq!(v["message"], "The terminal is offline");
        assert_eq!(v["terminal"]["address"], addr.as_str());
        assert!(
            v["detail"].as_str().unwrap().contains("cannot connect"),
            "{v}"
        );
    }
}

#[test]
fn offline_text_is_localized() {
    let logs = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let run = |lang: &str| {
        sim(
            &[
                "refund",
                "--amount",
                "1",
                "--currency",
                "EUR",
                "--terminal",
                &addr,
                "--dialect",
                "concert",
                "--lang",
                lang,
            ],
            logs.path(),
        )
    };
    let (code, cs, _, _) = run("cs");
    assert_eq!(code, 4);
    assert!(cs.starts_with("Terminál je nedostupný\n"), "{cs}");
    let (_, fr, _, _) = run("fr");
    assert!(fr.starts_with("Le terminal est injoignable\n"), "{fr}");
    let (_, en, _, _) = run("en");
    assert!(en.starts_with("The terminal is offline\n"), "{en}");
}

#[test]
fn unreachable_host_gives_up_at_the_connect_limit() {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed. Either the network says so at once
    // or the connect limit (here 1 s) ends the attempt; both are "terminal offline".
    let logs = tempfile::tempdir().unwrap();
    let (code, _, err, took) = sim(
        &[
            "sale",
            "--amount",
            "1",
            "--currency",
            "EUR",
            "--terminal",
            "192.0.2.1:2050",
            "--dialect",
            "concert",
            "--connect-timeout",
            "1",
        ],
        logs.path(),
    );
    assert_eq!(code, 4, "{err}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn every_run_leaves_a_dated_log() {
    let logs = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let (code, out, _, _) = sim(
        &[
            "sale",
            "--amount",
            "7.00",
            "--currency",
            "EUR",
            "--vs",
            "INV7",
            "--terminal",
            &addr,
            "--dialect",
            "concert",
        ],
        logs.path(),
    );
    assert_eq!(code, 4);
    let files: Vec<_> = std::fs::read_dir(logs.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    // YYYY-MM-DD_hh-mm-ss.log
    let shape: String = name
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99_99-99-99.log", "{name}");
    assert!(out.contains(&name), "the output names the log: {out}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("sale 7.00 EUR ref INV7"), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
    assert!(text.contains("outcome: terminal-offline"), "{text}");
}
