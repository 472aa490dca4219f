//! Helpers for the agent end-to-end tests: real `ecrlink-agent` and `ecrlink-sim bank`
//! processes on loopback ports they pick themselves, a till driven through the
//! `ecrlink-sim` command line, and the bank's ledger read from its JSON file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const AGENT: &str = env!("CARGO_BIN_EXE_ecrlink-agent-e2e");
pub const SIM: &str = env!("CARGO_BIN_EXE_ecrlink-sim-e2e");

/// Reads `LISTEN …` lines from a child's stdout until `READY` (or gives up after 20 s).
fn read_listen_lines(child: &mut Child) -> Vec<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l == "READY" => return out,
            Ok(l) => {
                if let Some(rest) = l.strip_prefix("LISTEN ") {
                    out.push(rest.to_string());
                }
            }
            Err(_) => panic!("process did not print READY within 20 s (got {out:?})"),
        }
    }
}

/// A bank simulator process.
pub struct Bank {
    pub child: Child,
    pub addr: SocketAddr,
    pub ledger_path: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Bank {
    pub fn spawn(rules: Option<&str>) -> Bank {
        Self::spawn_at("127.0.0.1:0", rules)
    }

    pub fn spawn_at(listen: &str, rules: Option<&str>) -> Bank {
        let dir = tempfile::tempdir().unwrap();
        let ledger_path = dir.path().join("ledger.json");
        let mut cmd = Command::new(SIM);
        cmd.args(["bank", "--listen", listen, "--ledger"])
            .arg(&ledger_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(r) = rules {
            let p = dir.path().join("rules.toml");
            std::fs::write(&p, r).unwrap();
            cmd.arg("--rules").arg(p);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = read_listen_lines(&mut child);
        let addr = lines[0].parse().unwrap();
        Bank {
            child,
            addr,
            ledger_path,
            dir,
        }
    }

    pub fn ledger(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(&self.ledger_path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub fn auths(&self) -> Vec<serde_json::Value> {
        self.ledger()["auths"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `pred` holds on the ledger (10 s at most).
    pub fn wait_for(
        &self,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let l = self.ledger();
            if pred(&l) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "bank ledger never showed {what}: {l:#}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An agent process.
pub struct Agent {
    pub child: Child,
    /// (dialect, address) of each TCP listener.
    pub listeners: Vec<(String, SocketAddr)>,
}

impl Agent {
    pub fn spawn(args: &[&str], journal: &Path) -> Agent {
        let mut child = Command::new(ecrlink_tests::procs::agent_bin(AGENT))
            .args(["--terminal-id", TERMINAL_ID])
            // These tests are not about the merchant PIN (tests/tests/security.rs is).
            .arg("--no-merchant-confirmation")
            .args(args)
            .arg("--journal")
            .arg(journal)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(journal.with_extension("log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .spawn()
            .unwrap();
        let listeners = read_listen_lines(&mut child)
            .iter()
            .map(|l| {
                let (d, a) = l.split_once(' ').unwrap();
                (d.to_string(), a.parse().unwrap())
            })
            .collect();
        Agent { child, listeners }
    }

    pub fn addr(&self, dialect: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(d, _)| d == dialect)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {dialect} listener in {:?}", self.listeners))
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Sends SIGTERM and waits (10 s at most) for a clean exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            assert!(Instant::now() < deadline, "agent did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one till command (`ecrlink-sim … --json`) and returns (exit code, JSON).
pub fn till(dialect: &str, addr: SocketAddr, cmd: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(SIM)
        .args(cmd)
        .args([
            "--terminal",
            &addr.to_string(),
            "--dialect",
            dialect,
            "--json",
            "--no-log",
        ])
        .args(["--timeout", "30"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "till {cmd:?} printed no JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

use ecrlink_core::dialect::concert::{ConcertEcr, ConcertEcrConfig};
use ecrlink_core::session::{EcrEvent, EcrSide, MAX_TRANSMIT};
use ecrlink_core::txn::{Request, Response};
use std::io::{Read, Write};
use std::net::TcpStream;

/// A till on a real socket, driving the core's till-side session with the real clock.
pub struct Ecr {
    pub stream: TcpStream,
    pub session: Box<dyn EcrSide + Send>,
    origin: Instant,
}

/// How a till exchange ended.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum EcrEnd {
    /// The terminal answered.
    Response(Response),
    /// The session gave up (timeout, no ACK, …).
    Failed(String),
    /// The connection closed.
    Closed,
    /// The caller's stop condition was met.
    Stopped,
}

pub fn ecr_session(dialect: &str) -> Box<dyn EcrSide + Send> {
    match dialect {
        "concert" => Box::new(ConcertEcr::new(ConcertEcrConfig::default())),
        other => csob_ecr(other),
    }
}

fn csob_ecr(dialect: &str) -> Box<dyn EcrSide + Send> {
    use ecrlink_core::dialect::csob::{CsobConfig, CsobEcr};
    assert_eq!(dialect, "csob", "no till session for dialect {dialect}");
    let tid = ecrlink_core::txn::TerminalId::new(TERMINAL_ID).unwrap();
    Box::new(CsobEcr::new(CsobConfig::new(tid)))
}

/// The terminal id the tests give the agent (`--terminal-id`).
pub const TERMINAL_ID: &str = "TERM0001";

impl Ecr {
    pub fn connect(dialect: &str, addr: SocketAddr) -> Ecr {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
        stream.set_nodelay(true).unwrap();
        Ecr {
            stream,
            session: ecr_session(dialect),
            origin: Instant::now(),
        }
    }

    fn now(&self) -> ecrlink_core::Instant {
        ecrlink_core::Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    /// Sends `request` and drives the session until an answer, a failure, `limit`, or
    /// `stop(event)` returns true.
    pub fn run_until(
        &mut self,
        request: &Request,
        limit: Duration,
        stop: impl Fn(&EcrEvent) -> bool,
    ) -> EcrEnd {
        let now = self.now();
        self.session.start(now, request).unwrap();
        self.drive(limit, stop)
    }

    /// Sends `request` and waits for its answer.
    pub fn run(&mut self, request: &Request) -> EcrEnd {
        self.run_until(request, Duration::from_secs(30), |_| false)
    }

    pub fn drive(&mut self, limit: Duration, stop: impl Fn(&EcrEvent) -> bool) -> EcrEnd {
        let deadline = Instant::now() + limit;
        let mut out = vec![0u8; MAX_TRANSMIT];
        let mut buf = [0u8; 1024];
        loop {
            while let Some(n) = self.session.poll_transmit(&mut out).unwrap() {
                if self.stream.write_all(&out[..n]).is_err() {
                    return EcrEnd::Closed;
                }
            }
            while let Some(ev) = self.session.poll_event() {
                if stop(&ev) {
                    return EcrEnd::Stopped;
                }
                match ev {
                    EcrEvent::Response(r) => return EcrEnd::Response(r),
                    EcrEvent::TimedOut => return EcrEnd::Failed("timed out".into()),
                    EcrEvent::Failed(e) => return EcrEnd::Failed(e.to_string()),
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return EcrEnd::Failed("test limit".into());
            }
            let mut wait = Duration::from_millis(50);
            if let Some(t) = self.session.poll_timeout() {
                let left = t.as_millis().saturating_sub(self.now().as_millis());
                wait = wait.min(Duration::from_millis(left.max(1)));
            }
            self.stream.set_read_timeout(Some(wait)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return EcrEnd::Closed,
                Ok(n) => {
                    let now = self.now();
                    self.session.handle_bytes(now, &buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return EcrEnd::Closed,
            }
            let now = self.now();
            if self.session.poll_timeout().is_some_and(|t| t <= now) {
                self.session.handle_timeout(now);
            }
        }
    }

    /// Asks for the receipt parts after a transaction (ČSOB B3/B4): the first copy, all parts.
    pub fn receipt(&mut self) -> Vec<String> {
        let now = self.now();
        self.session.request_receipt(now).unwrap();
        let mut parts = Vec::new();
        loop {
            let part = std::cell::RefCell::new(None);
            let end = self.drive(Duration::from_secs(10), |ev| {
                if let EcrEvent::ReceiptPart { text, more } = ev {
                    *part.borrow_mut() = Some((text.to_string(), *more));
                    true
                } else {
                    false
                }
            });
            assert!(matches!(end, EcrEnd::Stopped), "no receipt part: {end:?}");
            let (text, more) = part.into_inner().unwrap();
            parts.push(text);
            if !more {
                return parts;
            }
            let now = self.now();
            self.session.request_receipt(now).unwrap();
        }
    }
}

/// Connects, runs one request, returns the answer (panics on anything else).
pub fn ask(dialect: &str, addr: SocketAddr, request: &Request) -> Response {
    match Ecr::connect(dialect, addr).run(request) {
        EcrEnd::Response(r) => r,
        other => panic!("{dialect} {:?}: no answer: {other:?}", request.kind()),
    }
}

pub fn eur(minor: u64) -> ecrlink_core::txn::Money {
    ecrlink_core::txn::Money::new(minor, ecrlink_core::txn::Currency::EUR).unwrap()
}

pub fn sale(minor: u64) -> Request {
    Request::Sale {
        amount: eur(minor),
        reference: None,
    }
}

pub fn czk(minor: u64) -> ecrlink_core::txn::Money {
    ecrlink_core::txn::Money::new(minor, ecrlink_core::txn::Currency::CZK).unwrap()
}

/// Starts an agent against `bank` with the given listeners and extra arguments.
pub fn start_agent(bank: &Bank, listen: &[&str], extra: &[&str]) -> (Agent, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let bank_addr = bank.addr.to_string();
    let mut args: Vec<&str> = Vec::new();
    for l in listen {
        args.push("--listen");
        args.push(l);
    }
    args.extend_from_slice(&["--bank", &bank_addr]);
    if !extra.contains(&"--card-delay") {
        args.extend_from_slice(&["--card-delay", "20ms"]);
    }
    args.extend_from_slice(extra);
    let agent = Agent::spawn(&args, &dir.path().join("journal"));
    (agent, dir)
}
