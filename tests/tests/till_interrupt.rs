//! Issue 13, defect 14, on the real binaries: a cashier presses Ctrl-C in `ecrlink-sim sale`
//! while the card is being read. Before, the till died with `^C` and the terminal went on and
//! charged the card. Now ČSOB cancels at the terminal (T81 on the same connection), asks for
//! the last transaction (T82) and reports the sale cancelled, with nothing charged; Concert,
//! which has no abort, says plainly that the outcome is unknown and how to find it (exit 3).

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// How long the card takes to present.
const CARD_DELAY: Duration = Duration::from_secs(5);

/// A bank and an agent for `dialect` whose card takes [`CARD_DELAY`].
fn shop(dir: &Path, dialect: &str) -> (BankProc, AgentProc) {
    let bank = BankProc::spawn(BINS, &dir.join("bank"), None);
    let cards = dir.join("cards.toml");
    std::fs::write(
        &cards,
        format!(
            "[[card]]\npan = \"4761739001010119\"\nentry = \"chip\"\ndelay = \"{}s\"\n",
            CARD_DELAY.as_secs()
        ),
    )
    .unwrap();
    let spec = AgentSpec::new(&[dialect], bank.addr)
        .arg(&["--cards", cards.to_str().unwrap()])
        .set("--bank-timeout", "5s");
    let agent = AgentProc::spawn(BINS, &dir.join("agent"), &spec).expect("agent starts");
    (bank, agent)
}

/// `ecrlink-sim sale` of 12.50 to `addr`, JSON on stdout.
fn start_sale(dialect: &str, addr: &str, currency: &str, log_dir: &Path) -> Child {
    Command::new(BINS.sim)
        .args(["sale", "--amount", "12.50", "--currency", currency])
        .args(["--terminal", addr, "--dialect", dialect, "--json"])
        .args(["--timeout", "60", "--connect-timeout", "2"])
        .arg("--log-dir")
        .arg(log_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the till")
}

fn sigint(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

struct Ended {
    code: Option<i32>,
    json: serde_json::Value,
    stderr: String,
}

/// Waits (at most `limit`) for the till to end; kills it past that.
fn wait(mut child: Child, limit: Duration) -> Ended {
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    Ended {
        code: status.and_then(|s| s.code()),
        json: serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null),
        stderr: err,
    }
}

#[test]
fn csob_ctrl_c_while_the_card_is_read_cancels_the_sale_and_nothing_is_charged() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, agent) = shop(dir.path(), "csob");
    let addr = agent.addr("csob").to_string();
    let started = Instant::now();
    let till = start_sale("csob", &addr, "CZK", dir.path());
    std::thread::sleep(Duration::from_secs(1));
    sigint(&till);
    let end = wait(till, Duration::from_secs(30));
    // Past the card's time and the bank's: nothing reached the bank.
    let settle = (CARD_DELAY + Duration::from_secs(3)).saturating_sub(started.elapsed());
    std::thread::sleep(settle);
    assert!(
        bank.auths().is_empty(),
        "the sale the cashier stopped was charged: {:#}",
        bank.ledger()
    );
    let v = &end.json;
    assert_eq!(
        end.code,
        Some(6),
        "not reported cancelled: {v}\nstderr: {}",
        end.stderr
    );
    assert_eq!(v["outcome"], "cancelled", "{v}");
    assert_eq!(v["no_answer"], "interrupted", "{v}");
    assert_eq!(v["unknown"], false, "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.contains("Interrupted"), "{message}");
    assert!(
        end.stderr.contains("cancelling at the terminal"),
        "the cashier is told at once: {}",
        end.stderr
    );
    // The session log shows the passivate and the last-transaction question.
    let logs: String = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    assert!(logs.contains("T81") && logs.contains("T82"), "{logs}");
}

#[test]
fn concert_ctrl_c_says_the_outcome_is_unknown_and_how_to_find_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, agent) = shop(dir.path(), "concert");
    let addr = agent.addr("concert").to_string();
    let till = start_sale("concert", &addr, "EUR", dir.path());
    std::thread::sleep(Duration::from_secs(1));
    sigint(&till);
    let end = wait(till, Duration::from_secs(30));
    let v = &end.json;
    assert_eq!(
        end.code,
        Some(3),
        "not reported unknown: {v}\nstderr: {}",
        end.stderr
    );
    assert_eq!(v["unknown"], true, "{v}");
    assert_eq!(v["no_answer"], "interrupted", "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Interrupted") && message.contains("outcome unknown"),
        "{message}"
    );
    assert!(message.contains("journal"), "how to find it: {message}");
}

/// A ČSOB terminal that acknowledges every request (B0) and then says nothing.
fn mute_csob_terminal() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                use std::io::Write;
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if buf[..n].windows(3).any(|w| w == b"\x02B1") {
                        let b0 = ecrlink_tests::csob_client::confirm("TERM0001");
                        let _ = s.write_all(&b0);
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_second_ctrl_c_stops_waiting_at_once_with_the_outcome_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let addr = mute_csob_terminal();
    let till = start_sale("csob", &addr, "CZK", dir.path());
    std::thread::sleep(Duration::from_secs(1));
    sigint(&till);
    // The terminal does not answer the passivate either; a second press ends the wait.
    std::thread::sleep(Duration::from_secs(1));
    sigint(&till);
    let end = wait(till, Duration::from_secs(10));
    let v = &end.json;
    assert_eq!(end.code, Some(3), "{v}\nstderr: {}", end.stderr);
    assert_eq!(v["unknown"], true, "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Interrupted") && message.contains("ecrlink-sim last"),
        "{message}"
    );
}
