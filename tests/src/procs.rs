//! Real `ecrlink-agent` and `ecrlink-sim bank` processes on loopback ports they pick
//! themselves, and the till driven through the `ecrlink-sim` command line. Every file they
//! write (journal, logs, receipts, the till's session logs) goes under a directory the caller
//! owns, so that a test can scan them afterwards ([`crate::pan`]).
//!
//! The binaries' paths come from the integration test (`env!("CARGO_BIN_EXE_…")` exists only
//! there): see [`Bins`].

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Paths of the agent and simulator binaries.
#[derive(Clone, Copy, Debug)]
pub struct Bins {
    /// `ecrlink-agent`.
    pub agent: &'static str,
    /// `ecrlink-sim`.
    pub sim: &'static str,
}

/// The terminal id the agents are given.
pub const TERMINAL_ID: &str = "TERM0001";

/// Names an agent binary to test instead of the one built with the tests (e.g. an older
/// build, to show that a test fails against the code before a fix: docs/TESTING.md). Every
/// agent the tests start as a process ([`AgentProc`], `agent_common::Agent`) is this one.
pub const AGENT_BIN_ENV: &str = "ECRLINK_AGENT_BIN";

/// Names an `ecrlink-sim` binary whose in-process agents (`load`, `demo`) are tested instead
/// of the one built with the tests. Bank simulators and tills stay the ones built with the
/// tests, so that an older agent meets today's bank rules.
pub const LOAD_BIN_ENV: &str = "ECRLINK_LOAD_BIN";

fn bin_from_env(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => p,
        _ => default.to_string(),
    }
}

/// The agent binary to run: `default` (the one built with the tests), or the one
/// [`AGENT_BIN_ENV`] names.
pub fn agent_bin(default: &str) -> String {
    bin_from_env(AGENT_BIN_ENV, default)
}

/// The `ecrlink-sim` binary whose in-process agents are tested: `default`, or the one
/// [`LOAD_BIN_ENV`] names.
pub fn load_bin(default: &str) -> String {
    bin_from_env(LOAD_BIN_ENV, default)
}

/// Reads `LISTEN …` lines until `READY`; `Err` if the process ends or says nothing in time.
fn read_listen_lines(child: &mut Child, limit: Duration) -> Result<Vec<String>, String> {
    let stdout = child.stdout.take().ok_or("stdout not piped")?;
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
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l == "READY" => return Ok(out),
            Ok(l) => {
                if let Some(rest) = l.strip_prefix("LISTEN ") {
                    out.push(rest.to_string());
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let st = child.wait().ok();
                return Err(format!("process ended before READY ({st:?}), got {out:?}"));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("no READY within {limit:?}, got {out:?}"));
            }
        }
    }
}

/// A bank simulator process with its ledger file.
pub struct BankProc {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its ledger (JSON, rewritten after every change).
    pub ledger_path: PathBuf,
}

impl BankProc {
    /// Starts a bank in `dir` (ledger and rules go there) with optional TOML rules.
    pub fn spawn(bins: Bins, dir: &Path, rules: Option<&str>) -> BankProc {
        Self::spawn_with(bins, dir, rules, &[])
    }

    /// As [`BankProc::spawn`], with more arguments (e.g. `--mac-key FILE`).
    pub fn spawn_with(bins: Bins, dir: &Path, rules: Option<&str>, args: &[&str]) -> BankProc {
        std::fs::create_dir_all(dir).expect("bank dir");
        let ledger_path = dir.join("ledger.json");
        let mut cmd = Command::new(bins.sim);
        cmd.args(["bank", "--listen", "127.0.0.1:0", "--ledger"])
            .arg(&ledger_path)
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(dir.join("bank.log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        if let Some(r) = rules {
            let p = dir.join("rules.toml");
            std::fs::write(&p, r).expect("rules file");
            cmd.arg("--rules").arg(p);
        }
        cmd.args(args);
        let mut child = cmd.spawn().expect("spawn bank");
        let lines = read_listen_lines(&mut child, Duration::from_secs(20)).expect("bank READY");
        let addr = lines[0].parse().expect("bank address");
        BankProc {
            child,
            addr,
            ledger_path,
        }
    }

    /// The ledger as JSON.
    pub fn ledger(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(&self.ledger_path).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// The authorizations the bank received.
    pub fn auths(&self) -> Vec<serde_json::Value> {
        self.ledger()["auths"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits (at most `limit`) until `pred` holds on the ledger; returns the last ledger read
    /// and whether it held.
    pub fn wait_for(
        &self,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> (serde_json::Value, bool) {
        let deadline = Instant::now() + limit;
        loop {
            let l = self.ledger();
            if pred(&l) {
                return (l, true);
            }
            if Instant::now() >= deadline {
                return (l, false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for BankProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An agent process; its journal is `dir/journal`, its log `dir/agent.log` (appended across
/// restarts), its receipts `dir/receipts.txt`.
pub struct AgentProc {
    /// The process.
    pub child: Child,
    /// (dialect, address) of each TCP listener.
    pub listeners: Vec<(String, SocketAddr)>,
    /// The journal directory.
    pub journal: PathBuf,
    /// Whether the journal is on a tmpfs in the agent's own mount namespace.
    pub private_journal: bool,
}

/// The command prefix that runs a program in a new mount namespace (`unshare -m`, or with
/// `--map-root-user` when not root), or why there is none.
pub fn private_mounts() -> Result<Vec<String>, String> {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let prefix: Vec<String> = if root {
        vec!["unshare".into(), "--mount".into()]
    } else {
        vec!["unshare".into(), "--mount".into(), "--map-root-user".into()]
    };
    // Probe: a tmpfs mounted and unmounted in a throwaway namespace.
    let probe = std::env::temp_dir().join(format!("ecrlink-ns-probe-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&probe);
    let out = Command::new(&prefix[0])
        .args(&prefix[1..])
        .args([
            "sh",
            "-c",
            "mount -t tmpfs -o size=4k ecrlink-probe \"$1\" && umount \"$1\"",
            "sh",
        ])
        .arg(&probe)
        .output();
    let _ = std::fs::remove_dir(&probe);
    match out {
        Ok(o) if o.status.success() => Ok(prefix),
        Ok(o) => Err(format!(
            "`{} sh -c 'mount -t tmpfs …'` failed ({}): {}",
            prefix.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run {}: {e}", prefix[0])),
    }
}

/// How to start an agent.
#[derive(Clone, Debug, Default)]
pub struct AgentSpec {
    /// `--listen` values.
    pub listen: Vec<String>,
    /// The bank address (`--bank`).
    pub bank: Option<SocketAddr>,
    /// More arguments.
    pub args: Vec<String>,
    /// Environment variables (e.g. `ECRLINK_AGENT_CRASH_AT`).
    pub env: Vec<(String, String)>,
    /// Run the agent in a private mount namespace with a tmpfs of this size (`mount -o
    /// size=`, e.g. `64k`) on its journal directory: a real full disk ([`private_mounts`]).
    /// The journal is then seen from outside through [`AgentProc::journal_view`].
    pub journal_tmpfs: Option<String>,
}

impl AgentSpec {
    /// Listeners for `dialects` on free ports, against `bank`, with short timers for tests:
    /// card in 20 ms, bank answer within 1 s, reversals re-sent every 200 ms, no periodic echo,
    /// and no merchant PIN asked (`--no-merchant-confirmation`; the tests of the merchant PIN
    /// take it out with [`AgentSpec::without`]).
    pub fn new(dialects: &[&str], bank: SocketAddr) -> Self {
        AgentSpec {
            listen: dialects
                .iter()
                .map(|d| format!("{d}@127.0.0.1:0"))
                .collect(),
            bank: Some(bank),
            args: [
                "--card-delay",
                "20ms",
                "--bank-timeout",
                "1s",
                "--reversal-retry",
                "200ms",
                "--echo-every",
                "0",
                "--backoff-initial",
                "50ms",
                "--backoff-max",
                "500ms",
                "--no-merchant-confirmation",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            env: Vec::new(),
            journal_tmpfs: None,
        }
    }

    /// Takes out an argument without a value (e.g. `--no-merchant-confirmation`).
    pub fn without(mut self, flag: &str) -> Self {
        self.args.retain(|a| a != flag);
        self
    }

    /// Adds arguments.
    pub fn arg(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    /// Sets `--flag value`, replacing the value if the flag is there already.
    pub fn set(mut self, flag: &str, value: &str) -> Self {
        match self.args.iter().position(|a| a == flag) {
            Some(i) if i + 1 < self.args.len() => self.args[i + 1] = value.to_string(),
            _ => {
                self.args.push(flag.to_string());
                self.args.push(value.to_string());
            }
        }
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
}

impl AgentProc {
    /// Starts an agent whose files go under `dir`.
    pub fn spawn(bins: Bins, dir: &Path, spec: &AgentSpec) -> Result<AgentProc, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let journal = dir.join("journal");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("agent.log"))
            .map_err(|e| e.to_string())?;
        let mut cmd = match &spec.journal_tmpfs {
            None => Command::new(agent_bin(bins.agent)),
            Some(size) => {
                // unshare … sh -c 'mount tmpfs on the journal && exec agent …': the agent keeps
                // the process id, so kill and signals reach it.
                std::fs::create_dir_all(&journal).map_err(|e| e.to_string())?;
                let prefix = private_mounts()?;
                let mut c = Command::new(&prefix[0]);
                c.args(&prefix[1..])
                    .args([
                        "sh",
                        "-c",
                        "mount -t tmpfs -o size=\"$1\" ecrlink-journal \"$2\" || exit 97; shift 2; exec \"$@\"",
                        "sh",
                        size,
                    ])
                    .arg(&journal)
                    .arg(agent_bin(bins.agent));
                c
            }
        };
        cmd.args(["--terminal-id", TERMINAL_ID]);
        for l in &spec.listen {
            cmd.args(["--listen", l]);
        }
        if let Some(b) = spec.bank {
            cmd.args(["--bank", &b.to_string()]);
        }
        cmd.arg("--journal")
            .arg(&journal)
            .arg("--printer")
            .arg(format!("file:{}", dir.join("receipts.txt").display()))
            .args(&spec.args)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let lines = read_listen_lines(&mut child, Duration::from_secs(20))?;
        let listeners = lines
            .iter()
            .filter_map(|l| {
                let (d, a) = l.split_once(' ')?;
                Some((d.to_string(), a.parse().ok()?))
            })
            .collect();
        Ok(AgentProc {
            child,
            listeners,
            journal,
            private_journal: spec.journal_tmpfs.is_some(),
        })
    }

    /// Where the test reads the journal: the directory itself, or, on a private tmpfs, the
    /// same path seen through the agent's mount namespace (`/proc/PID/root/…`, while it runs).
    pub fn journal_view(&self) -> PathBuf {
        if self.private_journal {
            let mut p = PathBuf::from(format!("/proc/{}/root", self.child.id()));
            p.push(self.journal.strip_prefix("/").unwrap_or(&self.journal));
            p
        } else {
            self.journal.clone()
        }
    }

    /// The address of the listener of `dialect`.
    pub fn addr(&self, dialect: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(d, _)| d == dialect)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {dialect} listener in {:?}", self.listeners))
    }

    /// Waits (at most `limit`) for the process to end by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (`TERM`, `USR1`, `USR2`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One till command's result.
#[derive(Debug)]
pub struct TillRun {
    /// Exit status.
    pub code: i32,
    /// The `--json` output (Null if none).
    pub json: serde_json::Value,
    /// Standard error.
    pub stderr: String,
}

impl TillRun {
    /// The `outcome` field.
    pub fn outcome(&self) -> &str {
        self.json["outcome"].as_str().unwrap_or("?")
    }

    /// Whether the till reported the outcome unknown.
    pub fn unknown(&self) -> bool {
        self.json["unknown"].as_bool().unwrap_or(true)
    }

    /// A short description: outcome, recovery, approval code.
    pub fn brief(&self) -> String {
        let mut s = self.outcome().to_string();
        if self.unknown() {
            s.push_str(" (unknown)");
        }
        if let Some(r) = self.json["recovery"]["status"].as_str() {
            s.push_str(&format!(", T82 {r}"));
        }
        s
    }
}

/// Runs `ecrlink-sim <cmd> --terminal ADDR --dialect D --json` with its session log in
/// `log_dir`, `timeout` seconds for the answer.
pub fn till(
    bins: Bins,
    dialect: &str,
    addr: SocketAddr,
    cmd: &[&str],
    timeout: u32,
    log_dir: &Path,
) -> TillRun {
    let out = Command::new(bins.sim)
        .args(cmd)
        .args([
            "--terminal",
            &addr.to_string(),
            "--dialect",
            dialect,
            "--json",
        ])
        .args(["--timeout", &timeout.to_string(), "--connect-timeout", "2"])
        .arg("--log-dir")
        .arg(log_dir)
        .stdin(Stdio::null())
        .output()
        .expect("run the till");
    let stdout = String::from_utf8_lossy(&out.stdout);
    TillRun {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A sale of `minor` in the dialect's usual currency (EUR for Concert, CZK for ČSOB).
pub fn sale_args(dialect: &str, minor: u64) -> Vec<String> {
    let currency = if dialect == "concert" { "EUR" } else { "CZK" };
    vec![
        "sale".into(),
        "--amount".into(),
        format!("{}.{:02}", minor / 100, minor % 100),
        "--currency".into(),
        currency.into(),
    ]
}
