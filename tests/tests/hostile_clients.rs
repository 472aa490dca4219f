//! Hostile clients: while 1 000 connections to the agent's till listeners send nothing or one
//! byte a second (reconnecting whenever the agent closes them), one connection sends ČSOB
//! frames of the maximum size and another floods ENQ, a real till still completes its sales in
//! both dialects within the normal transaction limit, the agent keeps its open connections and
//! its memory bounded (VmHWM and open descriptors read from `/proc`), and after the attack it
//! serves as before.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, sale_args, till};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// Hostile connections held open at once.
const HOSTILE: usize = 1_000;
/// The agent's high-water resident memory may not pass this (it is ~15 MiB idle).
const MEMORY_CEILING_KIB: u64 = 64 * 1024;
/// Descriptors the agent may hold beyond its idle ones: its till connections, plus those
/// accepted and queued for the supervisor or closed but not yet released while hundreds of
/// connections churn (a burst, not a growth: 1 000 attackers never get near 1 000).
const FD_MARGIN: usize = 2 * ecrlink_agent::server::MAX_TILL_CONNECTIONS;

/// A field of `/proc/<pid>/status` in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Raises this process's soft limit of open files (the hostile side needs ~1 100) with
/// `prlimit`; returns the limit in force.
fn raise_fd_limit(want: u64) -> u64 {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={want}:")])
        .status();
    let out = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid,
            "--nofile",
            "--raw",
            "--noheadings",
            "--output",
            "SOFT",
        ])
        .output();
    out.ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(1024)
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    let _ = s.set_nonblocking(true);
    Some(s)
}

/// Whether the agent closed `s` (a read returns 0 or fails for good).
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Keeps `n` connections open to `addrs` (alternating), reconnecting the ones the agent closes;
/// with `drip`, writes one garbage byte a second on each.
fn hold(
    addrs: Vec<SocketAddr>,
    n: usize,
    drip: bool,
    stop: Arc<AtomicBool>,
    reconnects: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut conns: Vec<Option<TcpStream>> =
            (0..n).map(|i| connect(addrs[i % addrs.len()])).collect();
        let mut last_drip = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let dripping = drip && last_drip.elapsed() >= Duration::from_secs(1);
            if dripping {
                last_drip = Instant::now();
            }
            for (i, c) in conns.iter_mut().enumerate() {
                let dead = match c.as_mut() {
                    None => true,
                    Some(s) => closed(s) || (dripping && s.write_all(b"x").is_err()),
                };
                if dead {
                    *c = connect(addrs[i % addrs.len()]);
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

/// Sends `chunk` again and again, reconnecting when the agent drops the connection.
fn flood(
    addr: SocketAddr,
    chunk: Vec<u8>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
            while !stop.load(Ordering::SeqCst) {
                if s.write_all(&chunk).is_err() {
                    break;
                }
                sent.fetch_add(chunk.len(), Ordering::Relaxed);
                // Drain what the agent answers (ACKs, B0s) so that it never blocks on us.
                let _ = s.set_nonblocking(true);
                let mut b = [0u8; 4096];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 {
                        break;
                    }
                }
                let _ = s.set_nonblocking(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

#[test]
fn a_real_till_is_served_through_a_thousand_hostile_connections() {
    let limit = raise_fd_limit(4096);
    let hostile = HOSTILE.min(limit.saturating_sub(200) as usize);
    assert!(
        hostile >= 500,
        "open-file limit {limit} too low for this test"
    );
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-clients");
    let _ = std::fs::remove_dir_all(&root);
    let bank = BankProc::spawn(BINS, &root.join("bank"), None);
    let spec = AgentSpec::new(&["concert", "csob"], bank.addr).set("--idle-timeout", "30s");
    let agent = AgentProc::spawn(BINS, &root.join("agent"), &spec).expect("agent starts");
    let (concert, csob) = (agent.addr("concert"), agent.addr("csob"));
    let logs = root.join("till-logs");
    let pid = agent.pid();

    let sale = |dialect: &str, addr: SocketAddr, minor: u64| {
        let start = Instant::now();
        let args = sale_args(dialect, minor);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = till(BINS, dialect, addr, &args, 60, &logs);
        (run, start.elapsed())
    };
    // Before: one sale each.
    for (d, a) in [("concert", concert), ("csob", csob)] {
        let (run, _) = sale(d, a, 1_000);
        assert_eq!(
            run.outcome(),
            "approved",
            "{d} before the attack: {}",
            run.json
        );
    }
    let idle_rss = status_kib(pid, "VmRSS:");
    let idle_fds = open_fds(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicUsize::new(0));
    let flooded = Arc::new(AtomicUsize::new(0));
    let mut threads = vec![
        hold(
            vec![concert, csob],
            hostile / 2,
            false,
            stop.clone(),
            reconnects.clone(),
        ),
        hold(
            vec![csob, concert],
            hostile - hostile / 2,
            true,
            stop.clone(),
            reconnects.clone(),
        ),
    ];
    // ČSOB frames of the maximum size (STX … ETX, MAX_FRAME bytes) that parse as nothing.
    let max = ecrlink_core::dialect::csob::MAX_FRAME;
    let mut big = vec![b'7'; max];
    big[0] = 0x02;
    big[1] = b'B';
    big[2] = b'1';
    big[max - 1] = 0x03;
    threads.push(flood(csob, big.repeat(4), stop.clone(), flooded.clone()));
    threads.push(flood(
        concert,
        vec![0x05; 1024],
        stop.clone(),
        flooded.clone(),
    ));
    std::thread::sleep(Duration::from_secs(2));

    // Under attack: real sales in both dialects, within the normal transaction limit.
    let mut worst = Duration::ZERO;
    for (i, (d, a)) in [
        ("csob", csob),
        ("concert", concert),
        ("csob", csob),
        ("concert", concert),
    ]
    .into_iter()
    .enumerate()
    {
        let minor = 2_000 + i as u64;
        let (run, took) = sale(d, a, minor);
        assert_eq!(
            run.outcome(),
            "approved",
            "{d} under attack: {}\n{}",
            run.json,
            run.stderr
        );
        assert!(took < Duration::from_secs(60), "{d} sale took {took:?}");
        worst = worst.max(took);
    }
    let fds_under_attack = open_fds(pid);
    let rss_under_attack = status_kib(pid, "VmRSS:");
    // On a loaded machine the hostile threads may still be opening their first connections
    // when the sales are done: give them time to see the agent close some (it keeps at most
    // its cap) before stopping them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while reconnects.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }

    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let hwm = status_kib(pid, "VmHWM:");
    println!(
        "hostile: {hostile} held, {} reconnects after the agent closed them, {} MiB flooded; \
         slowest real sale {worst:?}; agent VmRSS idle {idle_rss} KiB, under attack \
         {rss_under_attack} KiB, VmHWM {hwm} KiB; {idle_fds} open descriptors idle, \
         {fds_under_attack} under attack",
        reconnects.load(Ordering::Relaxed),
        flooded.load(Ordering::Relaxed) / (1024 * 1024)
    );
    assert!(hwm > 0, "VmHWM not readable");
    assert!(
        hwm < MEMORY_CEILING_KIB,
        "agent VmHWM {hwm} KiB over {MEMORY_CEILING_KIB} KiB"
    );
    assert!(
        fds_under_attack <= idle_fds + FD_MARGIN,
        "agent held {fds_under_attack} descriptors ({idle_fds} idle + at most {FD_MARGIN})"
    );
    assert!(
        reconnects.load(Ordering::Relaxed) > 0,
        "the agent never closed a hostile connection: its cap was not reached"
    );

    // After: the agent serves as before, and the bank saw exactly the real sales.
    std::thread::sleep(Duration::from_millis(500));
    let (run, _) = sale("csob", csob, 3_000);
    assert_eq!(run.outcome(), "approved", "after the attack: {}", run.json);
    let auths = bank.auths();
    assert_eq!(auths.len(), 7, "{auths:#?}");
    assert!(auths.iter().all(|a| a["code"] == "00"));
    let _ = std::io::stdout().flush();
}
