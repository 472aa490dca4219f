//! Helpers for the till tests: run `ecrlink-sim` as a real process with a time bound, start a
//! bank simulator and an agent (from `agent_common`), and a few fake terminals on raw sockets.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::agent_common::{Agent, Bank, SIM};

/// What one `ecrlink-sim` run gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// The JSON object printed on stdout.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("no JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs `ecrlink-sim args` with `env`, killed (and the test failed) after `limit`. The locale
/// is English and no config file is found unless the arguments name one.
pub fn sim_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let t0 = Instant::now();
    let mut cmd = Command::new(SIM);
    cmd.args(args)
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("ECRLINK_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent-ecrlink-test")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let logs = !matches!(
        args.first(),
        Some(&"load" | &"terminals" | &"decode" | &"bank")
    );
    if logs && !env.iter().any(|(k, _)| *k == "ECRLINK_LOG_DIR") && !args.contains(&"--log-dir") {
        cmd.arg("--no-log");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn ecrlink-sim");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ecrlink-sim {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        took: t0.elapsed(),
    }
}

/// [`sim_env`] with no extra environment and a 30 s bound.
pub fn sim(args: &[&str]) -> Run {
    sim_env(args, &[], Duration::from_secs(30))
}

/// A bank simulator (optional rules) and an agent listening in both dialects.
pub struct Shop {
    pub bank: Bank,
    pub agent: Agent,
    pub dir: tempfile::TempDir,
}

impl Shop {
    pub fn open(rules: Option<&str>) -> Shop {
        let bank = Bank::spawn(rules);
        let dir = tempfile::tempdir().unwrap();
        let bank_addr = bank.addr.to_string();
        let agent = Agent::spawn(
            &[
                "--listen",
                "csob@127.0.0.1:0",
                "--listen",
                "concert@127.0.0.1:0",
                "--bank",
                &bank_addr,
                "--card-delay",
                "20ms",
            ],
            &dir.path().join("journal"),
        );
        Shop { bank, agent, dir }
    }

    pub fn addr(&self, dialect: &str) -> String {
        self.agent.addr(dialect).to_string()
    }
}

/// A till command against `addr` in `dialect`, `--json`, plus `extra`.
pub fn till_json(dialect: &str, addr: &str, cmd: &[&str], extra: &[&str]) -> Run {
    let mut args: Vec<&str> = cmd.to_vec();
    args.extend_from_slice(&["--terminal", addr, "--dialect", dialect, "--json"]);
    args.extend_from_slice(extra);
    sim(&args)
}

/// A free loopback port with nothing listening on it.
pub fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a.to_string()
}

/// A terminal that accepts connections and never sends a byte. Counts connections and keeps
/// them open until the test ends.
pub fn silent_terminal() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            let Ok(s) = s else { return };
            c.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    (addr, count)
}

/// A proxy to `target` that loses the terminal's answers on the first connection (they are
/// read and thrown away) and forwards everything on the later ones.
pub fn lossy_proxy(target: SocketAddr) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(down) = s else { return };
            let n = c.fetch_add(1, Ordering::SeqCst);
            let Ok(up) = TcpStream::connect(target) else {
                return;
            };
            let (mut d1, mut u1) = (down.try_clone().unwrap(), up.try_clone().unwrap());
            std::thread::spawn(move || pump(&mut d1, &mut u1, true));
            let (mut d2, mut u2) = (down, up);
            std::thread::spawn(move || pump(&mut u2, &mut d2, n > 0));
        }
    });
    (addr, count)
}

fn pump(from: &mut TcpStream, to: &mut TcpStream, deliver: bool) {
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(std::net::Shutdown::Both);
                return;
            }
            Ok(n) => {
                if deliver && to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// The one file in `dir`.
pub fn only_file(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}
