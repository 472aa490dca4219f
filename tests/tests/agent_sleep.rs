//! Sleep mode: after the idle time the agent closes its listeners and its bank link (a till
//! connecting meanwhile is refused at once: "terminal offline", not a hang); it wakes on its
//! timer or on SIGUSR1, listens again, and reconnects to the bank with capped exponential
//! backoff, so the bank link is back within the backoff bound.

mod agent_common;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use agent_common::{Bank, Ecr, EcrEnd, ask, czk, start_agent};
use ecrlink_core::txn::{Outcome, Request};

const BACKOFF_MAX: Duration = Duration::from_millis(400);

fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => false,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
            true
        }
    }
}

fn wait_until(what: &str, limit: Duration, f: impl FnMut() -> bool) -> Duration {
    poll_until(what, limit, Duration::from_millis(25), f)
}

fn poll_until(
    what: &str,
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(every);
    }
    start.elapsed()
}

/// Asks for a bank test until it is approved; returns how long that took.
fn bank_back(addr: SocketAddr) -> Duration {
    wait_until(
        "bank link back",
        Duration::from_secs(10),
        || match Ecr::connect("csob", addr).run(&Request::TestBank) {
            EcrEnd::Response(r) => r.outcome == Outcome::Approved,
            _ => false,
        },
    )
}

#[test]
fn idle_agent_sleeps_refuses_tills_and_wakes_on_its_timer() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start_agent(
        &bank,
        &["csob@127.0.0.1:0"],
        &[
            "--sleep-after",
            "300ms",
            "--sleep-for",
            "2500ms",
            "--backoff-initial",
            "50ms",
            "--backoff-max",
            "400ms",
        ],
    );
    let addr = agent.addr("csob");
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(900),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved);

    // A connection is till activity: probe rarely so that the agent can become idle.
    poll_until(
        "sleep",
        Duration::from_secs(8),
        Duration::from_millis(700),
        || refused(addr),
    );
    // Still asleep a little later: refused, not hanging.
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert!(refused(addr));
    assert!(t.elapsed() < Duration::from_secs(1));

    // The timer wakes it: listening again, bank link back within the backoff bound.
    wait_until("wake on the timer", Duration::from_secs(5), || {
        !refused(addr)
    });
    let took = bank_back(addr);
    assert!(
        took <= BACKOFF_MAX + Duration::from_secs(2),
        "bank link took {took:?}"
    );
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(901),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved);
    assert_eq!(bank.auths().len(), 2);
}

#[test]
fn sigusr1_wakes_and_the_bank_link_returns_after_a_bank_outage() {
    let bank = Bank::spawn(None);
    let bank_addr = bank.addr;
    let (agent, _dir) = start_agent(
        &bank,
        &["csob@127.0.0.1:0"],
        &["--backoff-initial", "50ms", "--backoff-max", "400ms"],
    );
    let addr = agent.addr("csob");
    assert_eq!(
        ask("csob", addr, &Request::TestBank).outcome,
        Outcome::Approved
    );

    // Put it to sleep by signal (SIGUSR2); it stays asleep without a timer.
    agent.signal("USR2");
    wait_until("sleep", Duration::from_secs(5), || refused(addr));
    std::thread::sleep(Duration::from_millis(500));
    assert!(refused(addr));

    // Meanwhile the bank goes away, and comes back on the same port.
    drop(bank);
    let bank = Bank::spawn_at(&bank_addr.to_string(), None);

    agent.signal("USR1");
    wait_until("wake on SIGUSR1", Duration::from_secs(5), || !refused(addr));
    let took = bank_back(addr);
    assert!(
        took <= BACKOFF_MAX + Duration::from_secs(2),
        "bank link took {took:?}"
    );

    // A bank outage while awake: the link reconnects by itself once the bank is back.
    drop(bank);
    std::thread::sleep(Duration::from_millis(800));
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(902),
            reference: None,
        },
    );
    assert!(!r.outcome.is_approved(), "{r:?}");
    let bank = Bank::spawn_at(&bank_addr.to_string(), None);
    let took = bank_back(addr);
    assert!(
        took <= BACKOFF_MAX + Duration::from_secs(2),
        "bank link took {took:?}"
    );
    let r = ask(
        "csob",
        addr,
        &Request::Sale {
            amount: czk(903),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(bank.auths().len(), 1);
}
