//! The terminal's stages on the till's screen (issue 17), end to end over real processes: a
//! bank simulator, the agent, and `ecrlink-sim sale`. Over ČSOB the agent sends B0 activity
//! messages with the stage while the sale runs (present card, card read, contacting bank);
//! the till writes each in its session log and shows it in its progress line with the time
//! left and a cancel hint. Over ZVT the same stages go as `04 FF` intermediate status
//! (insert card, processing, waiting for the host). Concert carries no stages: its progress
//! line says so.
//!
//! The progress line is drawn only on a terminal, so the till runs under `script` (util-linux)
//! with a pseudo-terminal; without `script` that part prints SKIPPED (it is in Debian's base).

use std::path::Path;
use std::process::{Command, Stdio};

use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, sale_args, till};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// A bank that answers authorizations after 1.5 s and an agent on both dialects whose card
/// comes after 1.5 s: stages long enough to be drawn.
fn shop(d: &Path) -> (BankProc, AgentProc) {
    let rules = "[[rule]]\nmti = \"0200\"\ndelay = \"1500ms\"\n";
    let bank = BankProc::spawn(BINS, &d.join("bank"), Some(rules));
    let spec = AgentSpec::new(&["csob", "concert", "zvt"], bank.addr)
        .set("--card-delay", "1500ms")
        .set("--bank-timeout", "15s");
    let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).expect("agent");
    (bank, agent)
}

fn session_logs(dir: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    all
}

/// Runs a sale from a `dialect` till and checks that its session log holds the three lines
/// `markers` (present card, card read, contacting bank) in that order, all before the answer.
fn stages_in_order(dialect: &str, markers: [&str; 3]) {
    let d = tempfile::tempdir().unwrap();
    let (_bank, agent) = shop(d.path());
    let logs = d.path().join("till-logs");
    let r = till(
        BINS,
        dialect,
        agent.addr(dialect),
        &sale_args(dialect, 1250)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        60,
        &logs,
    );
    assert_eq!(r.code, 0, "{r:?}");
    let log = session_logs(&logs);
    let at = |marker: &str| {
        log.find(marker)
            .unwrap_or_else(|| panic!("no {marker:?} in the till's log:\n{log}"))
    };
    let [card, read, bank] = markers.map(at);
    assert!(card < read && read < bank, "stages out of order:\n{log}");
    let answer = log.find("response: sale").expect("the answer in the log");
    assert!(bank < answer, "a stage after the answer:\n{log}");
}

#[test]
fn a_csob_till_hears_the_terminals_stages_in_order() {
    stages_in_order(
        "csob",
        [
            "terminal stage: present-card",
            "terminal stage: card-read",
            "terminal stage: contacting-bank",
        ],
    );
}

#[test]
fn a_zvt_till_hears_the_terminals_stages_as_intermediate_status_in_order() {
    // 0A insert card, 0E processing (the card was read), 04 waiting for the host.
    stages_in_order(
        "zvt",
        [
            "terminal status 0A",
            "terminal status 0E",
            "terminal status 04",
        ],
    );
}

/// `ecrlink-sim ARGS` under a pseudo-terminal (so the progress line is drawn); its output, or
/// `None` without `script`.
fn on_a_terminal(args: &[String], logs: &Path) -> Option<(i32, String)> {
    let mut cmd = vec![BINS.sim.to_string()];
    cmd.extend(args.iter().cloned());
    cmd.push("--log-dir".into());
    cmd.push(logs.display().to_string());
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd.join(" "), "/dev/null"])
        .stdin(Stdio::null())
        .env("TERM", "xterm")
        .output();
    match out {
        Ok(o) => Some((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )),
        Err(e) => {
            eprintln!("SKIPPED: no `script` to give the till a terminal ({e})");
            None
        }
    }
}

#[test]
fn the_progress_line_shows_the_stage_the_time_left_and_how_to_cancel() {
    let d = tempfile::tempdir().unwrap();
    let (_bank, agent) = shop(d.path());
    let logs = d.path().join("till-logs");
    let till_args = |dialect: &str| {
        let mut a = sale_args(dialect, 1250);
        a.extend([
            "--terminal".into(),
            agent.addr(dialect).to_string(),
            "--dialect".into(),
            dialect.into(),
            "--timeout".into(),
            "60".into(),
        ]);
        a
    };
    let Some((code, screen)) = on_a_terminal(&till_args("csob"), &logs) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    for text in [
        "terminal: present card",
        "terminal: contacting bank",
        " s left",
        "Ctrl-C cancels",
    ] {
        assert!(
            screen.contains(text),
            "no {text:?} on the till's screen:\n{screen}"
        );
    }
    let Some((code, screen)) = on_a_terminal(&till_args("concert"), &logs) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("waiting for terminal response")
            && screen.contains("Concert tells no terminal stages"),
        "{screen}"
    );
    assert!(
        !screen.contains("terminal: "),
        "a stage over Concert:\n{screen}"
    );
}

#[test]
fn decode_names_the_stage_of_a_b0() {
    // B0, flags 0000, 14 bytes of data: FS 'A' "present-card".
    let mut frame = vec![0x02];
    frame.extend_from_slice(b"B001123456782403151430050000000EA5A5\x1cApresent-card");
    frame.push(0x03);
    let hex: String = frame.iter().map(|b| format!("{b:02X}")).collect();
    let out = Command::new(BINS.sim)
        .args(["decode", "--dialect", "csob", &hex])
        .output()
        .expect("decode");
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["message"], "activity", "{v}");
    assert_eq!(v["stage"], "present-card", "{v}");
}
