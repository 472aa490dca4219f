//! The two public Concert till libraries from PyPI — pyTeliumManager and pypostelium (the
//! library behind Odoo's Telium support) — as the till, against the real agent, over TCP and
//! over a pseudo-terminal pair (a null-modem cable: the agent opens one pty by its path, the
//! library the other, and the test copies bytes between the two masters).
//!
//! The libraries run in a throwaway venv that `tests/python/venv.sh` makes under
//! `target/concert-clients/` (pinned versions from PyPI); the scenarios are in
//! `tests/concert_clients/clients.py`. Without the venv (no network) the tests fail when
//! `CI=true` and print SKIPPED otherwise.
//!
//! What each scenario holds the agent to (issue 14, Concert points 1–4):
//! - `instant`: a request with delay `A011` is answered at once (the card takes 4 s), status
//!   `9`, its own amount; the final result is not sent as the next request's answer.
//! - `postelium`: pypostelium (always `A011`, waits 3 s) with a 4 s card, four sales in a
//!   row: each answer arrives in time and is its own request's (amount, POS, currency,
//!   private field).
//! - `busy`: a request while a transaction runs is refused at its ENQ (never ACKed); the
//!   running request still gets its own answer.
//! - `collision`: a request sent against the terminal's answer ENQ is taken (the terminal
//!   yields) and answered with its own amount; the stale answer never comes.
//! - `private`: the answer's private field carries the approval code the bank gave.
//! - `mixed`: twenty mixed requests (both libraries, both timings, both answer forms, sales
//!   and refunds, approved and declined, fast and slow cards), every answer's amount its
//!   request's.

mod agent_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use agent_common::{Agent, Bank};

/// One slow card: 4 s before it is presented (longer than pypostelium's 3 s).
const SLOW_CARD: &str = "[[card]]\npan = \"4761739001010119\"\ndelay = \"4s\"\n";

/// Fast cards, and one of 1.5 s now and then.
const MIXED_CARDS: &str = "[[card]]\npan = \"4761739001010119\"\ndelay = \"50ms\"\n\
    [[card]]\npan = \"5413330089010434\"\ndelay = \"80ms\"\n\
    [[card]]\npan = \"4761739001010119\"\ndelay = \"1500ms\"\n";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("concert_clients")
}

/// The venv's python (see [`ecrlink_tests::python::venv`]).
fn python() -> Option<PathBuf> {
    ecrlink_tests::python::venv(
        "concert-clients",
        &["pyTeliumManager==2.4.2", "pypostelium==0.0.5"],
        "the public Concert clients (pyTeliumManager, pypostelium)",
    )
}

/// How the till reaches the agent.
#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Pty,
}

/// Runs `scenario` with the library as the till against a fresh bank and agent whose cards
/// are `cards`; returns the scenario's `RESULT` lines (parsed) and the bank and agent, still
/// running.
fn run(transport: Transport, scenario: &str, cards: &str) -> Option<Run> {
    let python = python()?;
    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let cards_path = dir.path().join("cards.toml");
    std::fs::write(&cards_path, cards).unwrap();
    let journal = dir.path().join("journal");
    let bank_addr = bank.addr.to_string();
    let cards_arg = cards_path.to_string_lossy().to_string();
    let mut relay = None;
    let listen = match transport {
        Transport::Tcp => "concert@127.0.0.1:0".to_string(),
        Transport::Pty => {
            let r = PtyRelay::start();
            let l = format!("concert@serial:{}:9600", r.agent_side);
            relay = Some(r);
            l
        }
    };
    let agent = Agent::spawn(
        &[
            "--listen", &listen, "--bank", &bank_addr, "--cards", &cards_arg,
        ],
        &journal,
    );
    let port = match &relay {
        None => format!("socket://{}", agent.addr("concert")),
        Some(r) => r.till_side.clone(),
    };
    let out = Command::new(&python)
        .arg(scripts().join("clients.py"))
        .arg(scenario)
        .arg(&port)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let log = std::fs::read_to_string(journal.with_extension("log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{scenario} over {transport:?} failed:\n{stdout}\n{stderr}\n--- agent log (tail) ---\n{}",
        tail(&log, 60)
    );
    assert!(
        stdout.contains(&format!("DONE {scenario} failures=0")),
        "{stdout}\n{stderr}"
    );
    let results = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .collect();
    Some(Run {
        results,
        bank,
        _agent: agent,
        _relay: relay,
        _dir: dir,
    })
}

/// A finished scenario; the agent (and relay) run until it is dropped.
struct Run {
    results: Vec<serde_json::Value>,
    bank: Bank,
    _agent: Agent,
    _relay: Option<PtyRelay>,
    _dir: tempfile::TempDir,
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Two pseudo-terminals joined master to master, as a null-modem cable joins two serial
/// ports: the agent opens `agent_side`, the library `till_side`. A side that is closed (the
/// library closes its port after each transaction) loses what is sent to it, as a real port.
struct PtyRelay {
    agent_side: String,
    till_side: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PtyRelay {
    fn start() -> PtyRelay {
        use tokio_serial::{SerialPort, SerialStream};
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (mut a, a_slave) = SerialStream::pair().expect("a pseudo-terminal pair");
                let (mut b, b_slave) = SerialStream::pair().expect("a pseudo-terminal pair");
                let names = (a_slave.name().unwrap(), b_slave.name().unwrap());
                // The agent and the library open the slaves by their paths.
                drop(a_slave);
                drop(b_slave);
                tx.send(names).unwrap();
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut ba = [0u8; 256];
                let mut bb = [0u8; 256];
                loop {
                    tokio::select! {
                        r = a.read(&mut ba) => match r {
                            Ok(n) if n > 0 => { let _ = b.write_all(&ba[..n]).await; }
                            _ => tokio::time::sleep(Duration::from_millis(10)).await,
                        },
                        r = b.read(&mut bb) => match r {
                            Ok(n) if n > 0 => { let _ = a.write_all(&bb[..n]).await; }
                            _ => tokio::time::sleep(Duration::from_millis(10)).await,
                        },
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        let (agent_side, till_side) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        PtyRelay {
            agent_side,
            till_side,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for PtyRelay {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn step<'a>(results: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    results.iter().filter(|r| r["step"] == name).collect()
}

// ----- point 1: the instant answer -----

fn instant(t: Transport) {
    let Some(r) = run(t, "instant", SLOW_CARD) else {
        return;
    };
    let results = &r.results;
    let first = step(results, "instant");
    assert_eq!(first.len(), 1, "{results:?}");
    assert_eq!(first[0]["status"], 9);
    assert_eq!(first[0]["amount"], 3.0);
    let after = step(results, "after");
    assert_eq!(after[0]["amount"], 1.0);
    assert!(after[0]["refusals"].as_u64().unwrap() >= 1);
}

#[test]
fn instant_answer_over_tcp() {
    instant(Transport::Tcp);
}

#[test]
fn instant_answer_over_a_pty() {
    instant(Transport::Pty);
}

// ----- point 2: pypostelium with a slow card -----

fn postelium(t: Transport) {
    let Some(r) = run(t, "postelium", SLOW_CARD) else {
        return;
    };
    let (results, bank) = (&r.results, &r.bank);
    let steps = step(results, "postelium");
    let amounts: Vec<&str> = steps
        .iter()
        .map(|r| r["answer"]["amount_msg"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(amounts, ["00000300", "00000400", "00000500", "00000600"]);
    // The first sale's ENQ is taken at once; each later one comes (over TCP on a new
    // connection) while the previous 4 s card is still being read, and is refused (NAK, never
    // ACKed) until the card is done: pypostelium sends ENQ again 1 s later.
    let enqs: Vec<u64> = steps.iter().map(|r| r["enqs"].as_u64().unwrap()).collect();
    assert_eq!(enqs[0], 1, "{enqs:?}");
    assert!(enqs[1..].iter().all(|&n| n > 1), "{enqs:?}");
    // Each sale was charged once, for its own amount (the card still goes through after the
    // instant answer).
    let l = bank.wait_for("four sales", |l| {
        l["auths"].as_array().is_some_and(|a| a.len() == 4)
    });
    let charged: Vec<u64> = l["auths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["amount"].as_u64().unwrap())
        .collect();
    assert_eq!(charged, [300, 400, 500, 600]);
}

#[test]
fn pypostelium_slow_card_over_tcp() {
    postelium(Transport::Tcp);
}

#[test]
fn pypostelium_slow_card_over_a_pty() {
    postelium(Transport::Pty);
}

// ----- point 3: never ACK what is not taken; ENQ collision -----

fn busy(t: Transport) {
    let Some(r) = run(t, "busy", SLOW_CARD) else {
        return;
    };
    let results = &r.results;
    let r = step(results, "busy");
    assert_eq!(r[0]["refused_at_enq"], true);
    assert_eq!(r[0]["amount"], 5.0);
}

#[test]
fn busy_terminal_refuses_at_the_enq_over_tcp() {
    busy(Transport::Tcp);
}

#[test]
fn busy_terminal_refuses_at_the_enq_over_a_pty() {
    busy(Transport::Pty);
}

fn collision(t: Transport) {
    let Some(r) = run(t, "collision", SLOW_CARD) else {
        return;
    };
    let results = &r.results;
    assert_eq!(step(results, "collision")[0]["amount"], 4.0);
}

#[test]
fn enq_collision_takes_the_new_request_over_tcp() {
    collision(Transport::Tcp);
}

#[test]
fn enq_collision_takes_the_new_request_over_a_pty() {
    collision(Transport::Pty);
}

// ----- point 4: the private field -----

fn private(t: Transport) {
    let Some(r) = run(t, "private", MIXED_CARDS) else {
        return;
    };
    let (results, bank) = (&r.results, &r.bank);
    let ids: Vec<String> = step(results, "private")
        .iter()
        .map(|r| r["transaction_id"].as_str().unwrap().trim().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let approvals: Vec<String> = bank
        .auths()
        .iter()
        .filter_map(|a| a["approval"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        ids, approvals,
        "the private field is the bank's approval code"
    );
}

#[test]
fn private_field_carries_the_approval_code_over_tcp() {
    private(Transport::Tcp);
}

#[test]
fn private_field_carries_the_approval_code_over_a_pty() {
    private(Transport::Pty);
}

// ----- twenty mixed requests -----

fn mixed(t: Transport) {
    let Some(r) = run(t, "mixed", MIXED_CARDS) else {
        return;
    };
    let results = &r.results;
    let steps = step(results, "mixed");
    assert_eq!(steps.len(), 20, "{results:?}");
    for r in steps {
        let asked = (r["request_amount"].as_f64().unwrap() * 100.0).round() as u64;
        let got = match r["client"].as_str().unwrap() {
            "pypostelium" => r["answer_amount"].as_str().unwrap().parse::<u64>().unwrap(),
            _ => (r["amount"].as_f64().unwrap() * 100.0).round() as u64,
        };
        assert_eq!(got, asked, "{r}");
    }
}

#[test]
fn twenty_mixed_requests_over_tcp() {
    mixed(Transport::Tcp);
}

#[test]
fn twenty_mixed_requests_over_a_pty() {
    mixed(Transport::Pty);
}
