//! Fault injection end to end: real agent, bank simulator and till processes, with a
//! fault-injection proxy between till and agent or between agent and bank, the agent killed at
//! each step of a transaction, put to sleep mid-transaction, or given a journal with no room.
//!
//! After every case the bank's ledger and the agent's journal must agree — no payment lost,
//! none doubled — the batch must close with matching totals, every approved authorization
//! settled or reversed exactly once, and what the till was told must hold: a till told
//! "approved" has a settled payment, a till told "not approved" has none; "unknown" is allowed
//! (Concert cannot ask for the last transaction).
//!
//! The table of cases is printed and written to `target/fault-table.txt`. Every file the
//! processes write (journals, debug logs with frames, receipts, the till's session logs) is
//! then scanned for unmasked card numbers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ecrlink_tests::audit::{after_close, disagreements, ledger_brief, read_journal};
use ecrlink_tests::procs::{
    AgentProc, AgentSpec, BankProc, Bins, TERMINAL_ID, TillRun, sale_args, till,
};
use ecrlink_tests::proxy::{Act, ConnPlan, Plan, Proxy, Rule, Trigger};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// The default card of the agent's simulated reader (a Visa test number).
const TEST_PAN: &str = "4761739001010119";

const STX: u8 = 0x02;
const ENQ: u8 = 0x05;
const ACK: u8 = 0x06;
const NAK: u8 = 0x15;

/// One line of the table.
struct Row {
    case: String,
    dialect: &'static str,
    fault: String,
    till: String,
    bank: String,
    journal: String,
    problems: Vec<String>,
    secs: f64,
}

/// Everything one case runs: its directory, bank, agent, and where its till connects.
struct Shop {
    dir: PathBuf,
    bank: BankProc,
    agent: AgentProc,
    spec: AgentSpec,
    dialect: &'static str,
    restarts: usize,
}

impl Shop {
    fn open(
        dir: &Path,
        dialect: &'static str,
        rules: Option<&str>,
        tune: impl FnOnce(AgentSpec) -> AgentSpec,
    ) -> Shop {
        let _ = std::fs::remove_dir_all(dir);
        let bank = BankProc::spawn(BINS, &dir.join("bank"), rules);
        let spec = tune(spec_for(dialect, bank.addr));
        let agent = AgentProc::spawn(BINS, &dir.join("agent"), &spec).expect("agent starts");
        Shop {
            dir: dir.to_path_buf(),
            bank,
            agent,
            spec,
            dialect,
            restarts: 0,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.agent.addr(self.dialect)
    }

    fn till(&self, addr: SocketAddr, cmd: &[String], timeout: u32) -> TillRun {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        till(
            BINS,
            self.dialect,
            addr,
            &args,
            timeout,
            &self.dir.join("till-logs"),
        )
    }

    fn sale(&self, addr: SocketAddr, minor: u64, timeout: u32) -> TillRun {
        self.till(addr, &sale_args(self.dialect, minor), timeout)
    }

    /// Restarts the agent on the same journal, without the crash hook.
    fn restart(&mut self) {
        self.agent.kill9();
        self.spec.env.clear();
        self.restarts += 1;
        self.agent =
            AgentProc::spawn(BINS, &self.dir.join("agent"), &self.spec).expect("agent restarts");
    }

    /// Waits for the agent to finish its work (no open authorization, no pending reversal),
    /// compares the journal with the ledger, closes the batch and checks the settlement.
    fn audit(&self, row: &mut Row) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut journal = read_journal(&self.agent.journal);
        while (!journal.state.checkpoint.pending.is_empty() || !journal.state.open.is_empty())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
            journal = read_journal(&self.agent.journal);
        }
        let ledger = self.bank.ledger();
        row.problems
            .extend(disagreements(&ledger, &journal, TERMINAL_ID));
        let totals = &journal.state.checkpoint.totals;
        let (n, sum): (u32, u64) = totals
            .currencies
            .iter()
            .fold((0, 0), |(n, s), c| (n + c.debit_count, s + c.debit_minor));
        row.journal = format!(
            "{} rec, {n} sale(s) {sum}{}",
            journal.records,
            if journal.saved_bad_tails > 0 {
                ", torn tail cut"
            } else {
                ""
            }
        );
        let close = till(
            BINS,
            "csob",
            self.agent.addr("csob"),
            &["close-totals"],
            10,
            &self.dir.join("till-logs"),
        );
        if close.outcome() != "approved" {
            row.problems
                .push(format!("close totals: {}", close.brief()));
        }
        let ledger = self.bank.ledger();
        row.problems.extend(after_close(&ledger));
        row.bank = ledger_brief(&ledger);
    }

    /// What the till was told about the sale of `minor` must hold at the bank (after close).
    fn check_till(&self, row: &mut Row, run: &TillRun, minor: u64) {
        let ledger = self.bank.ledger();
        let settled = ledger["auths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["amount"] == minor && a["settled_count"] == 1)
            .count();
        if run.unknown() {
            return;
        }
        match (run.outcome(), settled) {
            ("approved", 1) => {}
            ("approved", n) => row.problems.push(format!(
                "till told approved, {n} settled payment(s) of {minor}"
            )),
            (_, 0) => {}
            (o, n) => row.problems.push(format!(
                "till told {o}, yet {n} payment(s) of {minor} settled"
            )),
        }
    }
}

/// An agent for `dialect`; a Concert agent also listens for ČSOB, the dialect that can close
/// the batch (Concert V2 carries only sales and refunds).
fn spec_for(dialect: &str, bank: SocketAddr) -> AgentSpec {
    if dialect == "concert" {
        AgentSpec::new(&["concert", "csob"], bank)
    } else {
        AgentSpec::new(&["csob"], bank)
    }
}

fn row(case: &str, dialect: &'static str, fault: &str) -> Row {
    Row {
        case: case.into(),
        dialect,
        fault: fault.into(),
        till: String::new(),
        bank: String::new(),
        journal: String::new(),
        problems: Vec::new(),
        secs: 0.0,
    }
}

// ----- the cases -----

type Case = fn(&Path) -> Row;

/// A sale through a proxy between the till and the agent that applies `plan`.
fn till_link_case(
    dir: &Path,
    mut r: Row,
    plan: Plan,
    minor: u64,
    timeout: u32,
    expect: Option<&str>,
) -> Row {
    let shop = Shop::open(dir, r.dialect, None, |s| s);
    let proxy = Proxy::start(shop.addr(), plan);
    let run = shop.sale(proxy.addr, minor, timeout);
    r.till = run.brief();
    if proxy.fired().is_empty() {
        r.problems.push("the fault never fired".into());
    }
    shop.audit(&mut r);
    shop.check_till(&mut r, &run, minor);
    if let Some(e) = expect {
        if run.brief() != e {
            r.problems
                .push(format!("till: expected {e}, got {}", run.brief()));
        }
    }
    r
}

fn csob_lost_answer(dir: &Path) -> Row {
    let plan = Plan::first(ConnPlan::down(Rule::new(
        Trigger::first(b"\x02B2"),
        Act::Blackhole,
    )));
    till_link_case(
        dir,
        row("answer lost", "csob", "B2 swallowed"),
        plan,
        10_100,
        3,
        Some("approved, T82 matched"),
    )
}

fn concert_lost_answer(dir: &Path) -> Row {
    // Down: ACK, ACK, then the answer leg's ENQ: swallow everything from there.
    let plan = Plan::first(ConnPlan::down(Rule::new(
        Trigger::first(&[ENQ]),
        Act::Blackhole,
    )));
    till_link_case(
        dir,
        row("answer lost", "concert", "answer leg swallowed"),
        plan,
        10_200,
        3,
        Some("timeout (unknown), T82 unsupported"),
    )
}

fn concert_corrupt_request(dir: &Path) -> Row {
    let plan = Plan::first(ConnPlan::up(Rule::new(
        Trigger::At(vec![STX], 5),
        Act::Corrupt(0x01),
    )));
    till_link_case(
        dir,
        row(
            "request damaged",
            "concert",
            "1 byte of the request flipped (LRC)",
        ),
        plan,
        10_300,
        5,
        Some("approved"),
    )
}

fn concert_corrupt_answer(dir: &Path) -> Row {
    let plan = Plan::first(ConnPlan::down(Rule::new(
        Trigger::At(vec![STX], 6),
        Act::Corrupt(0x04),
    )));
    till_link_case(
        dir,
        row(
            "answer damaged",
            "concert",
            "1 byte of the answer flipped (LRC)",
        ),
        plan,
        10_400,
        5,
        Some("approved"),
    )
}

fn concert_nak_storm(dir: &Path) -> Row {
    // Every ACK the till sends becomes a NAK, and a NAK a millisecond goes to the agent from
    // its answer on: the agent's answer leg is refused again and again.
    let mut up: Vec<Rule> = (1..=20)
        .map(|n| Rule::new(Trigger::Pattern(vec![ACK], n), Act::Corrupt(ACK ^ NAK)))
        .collect();
    up.push(Rule::new(
        Trigger::first(&[0x04]),
        Act::Storm {
            byte: NAK,
            every: Duration::from_millis(1),
            count: 3000,
        },
    ));
    let plan = Plan::first(ConnPlan {
        up,
        down: Vec::new(),
    });
    till_link_case(
        dir,
        row(
            "NAK storm",
            "concert",
            "till's ACKs turned NAK + a NAK a ms",
        ),
        plan,
        10_500,
        8,
        Some("timeout (unknown), T82 unsupported"),
    )
}

fn csob_duplicated_request(dir: &Path) -> Row {
    let plan = Plan::first(ConnPlan::up(Rule::new(
        Trigger::first(b"\x02B1"),
        Act::Duplicate(60),
    )));
    till_link_case(
        dir,
        row("request doubled", "csob", "B1 sent twice"),
        plan,
        10_600,
        5,
        None,
    )
}

fn csob_delayed_answer(dir: &Path) -> Row {
    let plan = Plan::first(ConnPlan::down(Rule::new(
        Trigger::first(b"\x02B2"),
        Act::Delay(Duration::from_secs(2)),
    )));
    till_link_case(
        dir,
        row("answer late", "csob", "B2 held 2 s"),
        plan,
        10_700,
        5,
        Some("approved"),
    )
}

fn csob_cut_request(dir: &Path) -> Row {
    let plan = Plan::first(ConnPlan::up(Rule::new(
        Trigger::At(b"\x02B1".to_vec(), 20),
        Act::Cut,
    )));
    till_link_case(
        dir,
        row("cut mid-request", "csob", "connection cut inside the B1"),
        plan,
        10_800,
        3,
        None,
    )
}

fn csob_cut_answer(dir: &Path) -> Row {
    let plan = Plan::first(ConnPlan::down(Rule::new(
        Trigger::At(b"\x02B2".to_vec(), 20),
        Act::Cut,
    )));
    till_link_case(
        dir,
        row("cut mid-answer", "csob", "connection cut inside the B2"),
        plan,
        10_900,
        3,
        Some("approved, T82 matched"),
    )
}

/// A till that sends its request, sees it accepted, and dies (no recovery, no reconnect): the
/// agent finishes the sale alone; a new till asks for the last transaction (ČSOB).
fn dead_till(dir: &Path, dialect: &'static str) -> Row {
    let mut r = row(
        "dead till",
        dialect,
        "till gone once its request is accepted",
    );
    let shop = Shop::open(dir, dialect, None, |s| s.set("--card-delay", "300ms"));
    let minor = 11_000;
    r.till = send_and_die(dialect, shop.addr(), minor);
    let (_, approved) = shop.bank.wait_for(Duration::from_secs(5), |l| {
        l["auths"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["amount"] == minor))
    });
    if !approved {
        r.problems.push("the agent did not finish the sale".into());
    }
    std::thread::sleep(Duration::from_millis(300));
    if dialect == "csob" {
        let last = shop.till(shop.addr(), &["last".to_string()], 5);
        r.till
            .push_str(&format!("; new till asks last: {}", last.outcome()));
        if last.outcome() != "approved" || last.json["amount_minor"] != minor {
            r.problems.push(format!("last transaction: {}", last.json));
        }
    }
    shop.audit(&mut r);
    r
}

/// Drives a till session over a raw socket until the terminal accepts the sale, then drops
/// the connection.
fn send_and_die(dialect: &str, addr: SocketAddr, minor: u64) -> String {
    use ecrlink_core::dialect::concert::{ConcertEcr, ConcertEcrConfig};
    use ecrlink_core::dialect::csob::{CsobConfig, CsobEcr};
    use ecrlink_core::session::{EcrEvent, EcrSide, MAX_TRANSMIT};
    use ecrlink_core::txn::{Currency, Money, Request, TerminalId};
    use std::io::{Read, Write};
    let (mut ecr, currency): (Box<dyn EcrSide>, _) = match dialect {
        "concert" => (
            Box::new(ConcertEcr::new(ConcertEcrConfig::default())),
            Currency::EUR,
        ),
        _ => (
            Box::new(CsobEcr::new(CsobConfig::new(
                TerminalId::new(TERMINAL_ID).unwrap(),
            ))),
            Currency::CZK,
        ),
    };
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let origin = Instant::now();
    let now = || ecrlink_core::Instant::from_millis(origin.elapsed().as_millis() as u64);
    let sale = Request::Sale {
        amount: Money::new(minor, currency).unwrap(),
        reference: None,
    };
    ecr.start(now(), &sale).expect("start");
    let mut out = vec![0u8; MAX_TRANSMIT];
    let mut buf = [0u8; 512];
    while origin.elapsed() < Duration::from_secs(5) {
        while let Ok(Some(n)) = ecr.poll_transmit(&mut out) {
            let _ = s.write_all(&out[..n]);
        }
        while let Some(e) = ecr.poll_event() {
            if e == EcrEvent::Accepted {
                return "accepted, then the till died".into();
            }
        }
        if let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            ecr.handle_bytes(now(), &buf[..n]);
        }
        if ecr.poll_timeout().is_some_and(|t| t <= now()) {
            ecr.handle_timeout(now());
        }
    }
    "never accepted".into()
}

fn dead_till_csob(dir: &Path) -> Row {
    dead_till(dir, "csob")
}

fn dead_till_concert(dir: &Path) -> Row {
    dead_till(dir, "concert")
}

/// A sale with a proxy between the agent and the bank.
fn bank_link_case(
    dir: &Path,
    mut r: Row,
    rules: Option<&str>,
    plan: Plan,
    minor: u64,
    expect: &str,
) -> Row {
    let dialect = r.dialect;
    let _ = std::fs::remove_dir_all(dir);
    let bank = BankProc::spawn(BINS, &dir.join("bank"), rules);
    let proxy = Proxy::start(bank.addr, plan);
    let spec = spec_for(dialect, proxy.addr);
    let agent = AgentProc::spawn(BINS, &dir.join("agent"), &spec).expect("agent starts");
    let shop = Shop {
        dir: dir.to_path_buf(),
        bank,
        agent,
        spec,
        dialect,
        restarts: 0,
    };
    let run = shop.sale(shop.addr(), minor, 8);
    r.till = run.brief();
    if rules.is_none() && proxy.fired().is_empty() {
        r.problems.push("the fault never fired".into());
    }
    if run.brief() != expect {
        r.problems
            .push(format!("till: expected {expect}, got {}", run.brief()));
    }
    shop.audit(&mut r);
    shop.check_till(&mut r, &run, minor);
    drop(proxy);
    r
}

fn bank_never_answers(dir: &Path) -> Row {
    bank_link_case(
        dir,
        row("bank never answers", "csob", "bank rule: drop the 0210"),
        Some("[[rule]]\namount = 12000\ndrop = true\n"),
        Plan::default(),
        12_000,
        "bank-unavailable",
    )
}

fn bank_answers_twice(dir: &Path) -> Row {
    bank_link_case(
        dir,
        row("bank answers twice", "csob", "0210 duplicated on the wire"),
        None,
        Plan::first(ConnPlan::down(Rule::new(
            Trigger::Offset(0),
            Act::DuplicateMessage,
        ))),
        12_100,
        "approved",
    )
}

fn bank_answer_late(dir: &Path) -> Row {
    bank_link_case(
        dir,
        row("bank answers late", "concert", "0210 after 2 s (limit 1 s)"),
        Some("[[rule]]\namount = 12200\ndelay = \"2s\"\n"),
        Plan::default(),
        12_200,
        // Concert has no "bank unavailable": a status '7' (rejected) is all it can say.
        "declined",
    )
}

fn bank_cut_request(dir: &Path) -> Row {
    bank_link_case(
        dir,
        row("bank link cut", "csob", "connection cut inside the 0200"),
        None,
        Plan::first(ConnPlan::up(Rule::new(
            Trigger::At(b"0200".to_vec(), 12),
            Act::Cut,
        ))),
        12_300,
        "bank-unavailable",
    )
}

fn bank_corrupt_answer(dir: &Path) -> Row {
    bank_link_case(
        dir,
        row("bank answer damaged", "concert", "MTI of the 0210 damaged"),
        None,
        Plan::first(ConnPlan::down(Rule::new(
            Trigger::At(b"0210".to_vec(), 2),
            Act::Corrupt(0x40),
        ))),
        12_400,
        "declined",
    )
}

/// The agent put to sleep (SIGUSR2) while a sale waits for the card, woken 1 s later.
fn sleep_mid_transaction(dir: &Path) -> Row {
    let mut r = row(
        "sleep mid-transaction",
        "csob",
        "SIGUSR2 during the card wait, SIGUSR1 1 s later",
    );
    let shop = Shop::open(dir, "csob", None, |s| s.set("--card-delay", "800ms"));
    let minor = 13_000;
    let addr = shop.addr();
    let runs = Arc::new(Mutex::new(None));
    let t = {
        let runs = runs.clone();
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            let run = till(
                BINS,
                "csob",
                addr,
                &["sale", "--amount", "130.00", "--currency", "CZK"],
                5,
                &dir.join("till-logs"),
            );
            if let Ok(mut g) = runs.lock() {
                *g = Some(run);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    shop.agent.signal("USR2");
    std::thread::sleep(Duration::from_secs(1));
    shop.agent.signal("USR1");
    let _ = t.join();
    let run = runs.lock().ok().and_then(|mut g| g.take());
    std::thread::sleep(Duration::from_millis(500));
    match &run {
        Some(run) => r.till = run.brief(),
        None => r.problems.push("the till did not finish".into()),
    }
    shop.audit(&mut r);
    if let Some(run) = &run {
        shop.check_till(&mut r, run, minor);
    }
    r
}

/// The agent aborts at `step` (ECRLINK_AGENT_CRASH_AT); it is restarted on the same journal.
fn crash_at(dir: &Path, dialect: &'static str, step: &str, minor: u64) -> Row {
    let mut r = row(
        &format!("SIGKILL {step}"),
        dialect,
        "agent dies, restarts on its journal",
    );
    let mut shop = Shop::open(dir, dialect, None, |s| {
        s.env("ECRLINK_AGENT_CRASH_AT", step)
    });
    let run = shop.sale(shop.addr(), minor, 3);
    r.till = run.brief();
    if shop.agent.wait_exit(Duration::from_secs(5)).is_none() {
        r.problems.push("the agent did not die at the step".into());
    }
    shop.restart();
    std::thread::sleep(Duration::from_millis(300));
    if dialect == "csob" {
        let last = shop.till(shop.addr(), &["last".to_string()], 5);
        r.till
            .push_str(&format!("; after restart, last: {}", last.outcome()));
        // Whatever the last transaction says must hold at the bank.
        shop.audit(&mut r);
        if last.json["amount_minor"] == minor {
            shop.check_till(&mut r, &last, minor);
        }
    } else {
        shop.audit(&mut r);
    }
    shop.check_till(&mut r, &run, minor);
    r
}

fn crash_before_bank_request_csob(dir: &Path) -> Row {
    crash_at(dir, "csob", "before-bank-request", 14_000)
}
fn crash_after_bank_approval_csob(dir: &Path) -> Row {
    crash_at(dir, "csob", "after-bank-approval", 14_100)
}
fn crash_after_journal_write_csob(dir: &Path) -> Row {
    crash_at(dir, "csob", "after-journal-write", 14_200)
}
fn crash_after_answer_sent_csob(dir: &Path) -> Row {
    crash_at(dir, "csob", "after-answer-sent", 14_300)
}
fn crash_before_bank_request_concert(dir: &Path) -> Row {
    crash_at(dir, "concert", "before-bank-request", 14_400)
}
fn crash_after_bank_approval_concert(dir: &Path) -> Row {
    crash_at(dir, "concert", "after-bank-approval", 14_500)
}
fn crash_after_journal_write_concert(dir: &Path) -> Row {
    crash_at(dir, "concert", "after-journal-write", 14_600)
}
fn crash_after_answer_sent_concert(dir: &Path) -> Row {
    crash_at(dir, "concert", "after-answer-sent", 14_700)
}

/// A journal with room for one transaction: the first sale goes through, the second is
/// refused before the bank is asked, and nothing half-written is left.
fn full_journal(dir: &Path) -> Row {
    let mut r = row(
        "journal full",
        "csob",
        "--journal-max-bytes: room for one sale",
    );
    // The agent keeps 5 × 4104 bytes free for a transaction; the first file holds a checkpoint.
    let shop = Shop::open(dir, "csob", None, |s| s.set("--journal-max-bytes", "20600"));
    let first = shop.sale(shop.addr(), 15_000, 5);
    let second = shop.sale(shop.addr(), 15_100, 5);
    r.till = format!("1st {}; 2nd {}", first.brief(), second.brief());
    if first.outcome() != "approved" {
        r.problems.push(format!("first sale: {}", first.brief()));
    }
    if second.outcome() != "failed" || second.unknown() {
        r.problems
            .push(format!("second sale not refused: {}", second.json));
    }
    let asked = shop.bank.auths().iter().any(|a| a["amount"] == 15_100);
    if asked {
        r.problems.push("the refused sale reached the bank".into());
    }
    shop.audit(&mut r);
    shop.check_till(&mut r, &first, 15_000);
    shop.check_till(&mut r, &second, 15_100);
    r
}

const CASES: &[(&str, Case)] = &[
    ("csob-lost-answer", csob_lost_answer),
    ("concert-lost-answer", concert_lost_answer),
    ("concert-corrupt-request", concert_corrupt_request),
    ("concert-corrupt-answer", concert_corrupt_answer),
    ("concert-nak-storm", concert_nak_storm),
    ("csob-duplicated-request", csob_duplicated_request),
    ("csob-delayed-answer", csob_delayed_answer),
    ("csob-cut-request", csob_cut_request),
    ("csob-cut-answer", csob_cut_answer),
    ("csob-dead-till", dead_till_csob),
    ("concert-dead-till", dead_till_concert),
    ("bank-never-answers", bank_never_answers),
    ("bank-answers-twice", bank_answers_twice),
    ("bank-answer-late", bank_answer_late),
    ("bank-cut-request", bank_cut_request),
    ("bank-corrupt-answer", bank_corrupt_answer),
    ("sleep-mid-transaction", sleep_mid_transaction),
    (
        "crash-csob-before-bank-request",
        crash_before_bank_request_csob,
    ),
    (
        "crash-csob-after-bank-approval",
        crash_after_bank_approval_csob,
    ),
    (
        "crash-csob-after-journal-write",
        crash_after_journal_write_csob,
    ),
    ("crash-csob-after-answer-sent", crash_after_answer_sent_csob),
    (
        "crash-concert-before-bank-request",
        crash_before_bank_request_concert,
    ),
    (
        "crash-concert-after-bank-approval",
        crash_after_bank_approval_concert,
    ),
    (
        "crash-concert-after-journal-write",
        crash_after_journal_write_concert,
    ),
    (
        "crash-concert-after-answer-sent",
        crash_after_answer_sent_concert,
    ),
    ("journal-full", full_journal),
];

fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{:<32} {:<8} {:<42} {:<46} {:<46} {:<26} {:>5}  {}\n",
        "case",
        "dialect",
        "fault",
        "till was told",
        "bank ledger",
        "agent journal",
        "secs",
        "result"
    ));
    for r in rows {
        let result = if r.problems.is_empty() {
            "PASS".to_string()
        } else {
            format!("FAIL: {}", r.problems.join("; "))
        };
        s.push_str(&format!(
            "{:<32} {:<8} {:<42} {:<46} {:<46} {:<26} {:>5.1}  {}\n",
            r.case, r.dialect, r.fault, r.till, r.bank, r.journal, r.secs, result
        ));
    }
    s
}

/// The suite's own directory under `target/tmp` (kept after the run for inspection).
fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fault-injection")
}

#[test]
fn fault_injection_suite() {
    let root = suite_dir();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let only = std::env::var("FAULT_CASE").ok();
    let cases: Vec<(&str, Case)> = CASES
        .iter()
        .copied()
        .filter(|(n, _)| only.as_deref().is_none_or(|o| n.contains(o)))
        .collect();
    // Four at a time: most of a case is waiting (timeouts, restarts).
    let queue = Arc::new(Mutex::new(
        cases.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let rows = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, rows, root) = (queue.clone(), rows.clone(), root.clone());
            std::thread::spawn(move || {
                loop {
                    let Some((i, (name, case))) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let start = Instant::now();
                    let dir = root.join(name);
                    let mut r = match std::panic::catch_unwind(|| case(&dir)) {
                        Ok(r) => r,
                        Err(e) => {
                            let mut r = row(name, "?", "");
                            r.problems.push(format!(
                                "panicked: {}",
                                e.downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_default()
                            ));
                            r
                        }
                    };
                    r.secs = start.elapsed().as_secs_f64();
                    rows.lock().unwrap().push((i, r));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut rows = std::mem::take(&mut *rows.lock().unwrap());
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    let text = table(&rows);
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let out = target.parent().unwrap_or(&target).join("fault-table.txt");
    let _ = std::fs::write(&out, &text);
    println!("{text}\n(written to {})", out.display());

    // Card data: nothing any process wrote shows a full card number.
    let (files, found) = ecrlink_tests::pan::scan_tree(&root, &[TEST_PAN]);
    if only.is_none() {
        assert!(
            files > 50,
            "the scan found only {files} files under {}",
            root.display()
        );
    }
    assert!(found.is_empty(), "unmasked card numbers: {found:#?}");

    let failed: Vec<&Row> = rows.iter().filter(|r| !r.problems.is_empty()).collect();
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{text}",
        failed.len()
    );
}
