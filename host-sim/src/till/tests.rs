//! The till driver and recovery logic against a toy line dialect and a scripted fake terminal.
//! (The real dialects are exercised end to end in `tests/tests/till_*.rs`.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecrlink_core::session::{EcrEvent, EcrSide};
use ecrlink_core::txn::{
    Currency, DeclineCode, Money, Outcome, Reference, Request, RequestKind, Response,
};
use ecrlink_core::{Error, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;

/// A toy till-side session: one text line per message.
/// Till: `REQ <kind> <minor> <ref|->`, `RCPT`. Terminal: `ACC`, `RES <outcome> <kind> <minor>
/// <ref|->`, `PART <0|1> <text>`.
#[derive(Default)]
struct LineEcr {
    out: Vec<u8>,
    inbuf: Vec<u8>,
    events: std::collections::VecDeque<EcrEvent>,
    busy: bool,
    currency: Option<Currency>,
}

fn kind_from(name: &str) -> RequestKind {
    [
        RequestKind::Sale,
        RequestKind::SaleWithCashback,
        RequestKind::Reversal,
        RequestKind::Refund,
        RequestKind::CloseTotals,
        RequestKind::Subtotals,
        RequestKind::LastSums,
        RequestKind::TestTerminal,
        RequestKind::TestBank,
        RequestKind::Reprint,
        RequestKind::LastTransaction,
    ]
    .into_iter()
    .find(|k| k.name() == name)
    .unwrap()
}

impl EcrSide for LineEcr {
    fn start(&mut self, _now: Instant, request: &Request) -> ecrlink_core::Result<()> {
        if self.busy {
            return Err(Error::LinkBusy);
        }
        self.busy = true;
        self.currency = request.amount().map(|m| m.currency).or(self.currency);
        let minor = request.amount().map(|m| m.minor()).unwrap_or(0);
        let r = request.reference().map(|r| r.as_str()).unwrap_or("-");
        self.out
            .extend(format!("REQ {} {minor} {r}\n", request.kind().name()).bytes());
        Ok(())
    }
    fn request_receipt(&mut self, _now: Instant) -> ecrlink_core::Result<()> {
        self.busy = true;
        self.out.extend(b"RCPT\n");
        Ok(())
    }
    fn handle_bytes(&mut self, _now: Instant, bytes: &[u8]) {
        self.inbuf.extend_from_slice(bytes);
        while let Some(pos) = self.inbuf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line).trim().to_string();
            let mut parts = line.splitn(5, ' ');
            match parts.next() {
                Some("ACC") => self.events.push_back(EcrEvent::Accepted),
                Some("FAIL") => {
                    self.busy = false;
                    self.events
                        .push_back(EcrEvent::Failed(Error::CsobField { field: "R" }));
                }
                Some("RES") => {
                    let outcome = match parts.next().unwrap() {
                        "ok" => Outcome::Approved,
                        "cancel" => Outcome::Cancelled,
                        "bank" => Outcome::BankUnavailable,
                        d => Outcome::Declined {
                            code: DeclineCode::new(d.trim_start_matches("decl:")).unwrap(),
                        },
                    };
                    let mut r = Response::new(kind_from(parts.next().unwrap()), outcome);
                    let minor: u64 = parts.next().unwrap().parse().unwrap();
                    if minor > 0 {
                        r.amount = Some(
                            Money::new(minor, self.currency.unwrap_or(Currency::CZK)).unwrap(),
                        );
                    }
                    match parts.next() {
                        Some("-") | None => {}
                        Some(x) => r.reference = Some(Reference::new(x).unwrap()),
                    }
                    self.busy = false;
                    self.events.push_back(EcrEvent::Response(r));
                }
                Some("PART") => {
                    let more = parts.next() == Some("1");
                    let text = parts.collect::<Vec<_>>().join(" ");
                    let mut t = heapless::String::new();
                    t.push_str(&text).unwrap();
                    self.busy = more;
                    self.events
                        .push_back(EcrEvent::ReceiptPart { text: t, more });
                }
                _ => self
                    .events
                    .push_back(EcrEvent::ProtocolError(Error::LinkMalformedFrame)),
            }
        }
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, buf: &mut [u8]) -> ecrlink_core::Result<Option<usize>> {
        if self.out.is_empty() {
            return Ok(None);
        }
        let n = self.out.len();
        if buf.len() < n {
            return Err(Error::BufferTooSmall { needed: n });
        }
        buf[..n].copy_from_slice(&self.out);
        self.out.clear();
        Ok(Some(n))
    }
    fn poll_event(&mut self) -> Option<EcrEvent> {
        self.events.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn is_busy(&self) -> bool {
        self.busy
    }
}

/// What the fake terminal does with one request line: `Some(reply)` (may be several lines;
/// a final `CLOSE` drops the connection after the lines before it), `None` stays silent.
type Script = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

async fn fake_terminal(script: Script) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    seen.lock().unwrap().push(line.clone());
                    match script(&line) {
                        Some(reply) if reply.ends_with("CLOSE") => {
                            let _ = w
                                .write_all(reply.trim_end_matches("CLOSE").as_bytes())
                                .await;
                            return;
                        }
                        Some(reply) if w.write_all(reply.as_bytes()).await.is_err() => return,
                        _ => {}
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn till(addr: &str, timeout_ms: u64) -> Till {
    let mut o = TillOptions::new(Target::parse(addr), ecrlink_core::session::Dialect::Csob);
    o.timeout = Duration::from_millis(timeout_ms);
    o.ecr_factory = Some(Arc::new(|| {
        Ok(Box::new(LineEcr::default()) as Box<dyn EcrSide + Send>)
    }));
    Till::new(o)
}

fn czk(text: &str) -> Money {
    Money::parse_decimal(text, Currency::CZK).unwrap()
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("test took too long")
}

#[tokio::test]
async fn approved_sale_and_log() {
    let (addr, seen) = fake_terminal(Arc::new(|l: &str| {
        let f: Vec<&str> = l.split(' ').collect();
        Some(format!("ACC\nRES ok {} {} {}\n", f[1], f[2], f[3]))
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = till(&addr, 2000);
    t.opts.log = SessionLog::open(dir.path()).unwrap();
    let r = bounded(t.sale(czk("12.50"), Some(Reference::new("INV42").unwrap())))
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Approved);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.message, "Payment approved");
    assert!(r.recovery.is_none() && !r.unknown);
    assert_eq!(r.response.unwrap().amount.unwrap().minor(), 1250);
    assert_eq!(seen.lock().unwrap().as_slice(), ["REQ sale 1250 INV42"]);
    let log = std::fs::read_to_string(t.opts.log.path().unwrap()).unwrap();
    assert!(log.contains("--- sale to 127.0.0.1:"), "{log}");
    assert!(log.contains("till -> terminal 20 bytes: 52 45 51"), "{log}");
    assert!(log.contains("outcome: approved"), "{log}");
}

#[tokio::test]
async fn decline_is_exit_1_with_code() {
    let (addr, _) =
        fake_terminal(Arc::new(|_: &str| Some("RES decl:51 sale 100 -\n".into()))).await;
    let r = bounded(till(&addr, 2000).sale(czk("1"), None))
        .await
        .unwrap();
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.message, "Declined: insufficient funds (bank code 51)");
    assert_eq!(r.codes.bank_code.as_deref(), Some("51"));
    assert_eq!(r.reason.as_deref(), Some("insufficient funds"));
}

#[tokio::test]
async fn refused_connection_is_terminal_offline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let r = bounded(till(&addr, 2000).test_terminal()).await.unwrap();
    assert_eq!(r.outcome, Outcome::TerminalOffline);
    assert_eq!(r.exit_code(), 4);
    assert!(r.detail.unwrap().contains("cannot connect"));
}

#[tokio::test]
async fn timeout_then_last_transaction_reports_the_real_outcome() {
    // Silent on the sale; the last transaction is that sale, approved.
    let (addr, seen) = fake_terminal(Arc::new(|l: &str| {
        if l.starts_with("REQ last") {
            Some("RES ok sale 990 VS7\n".into())
        } else {
            None
        }
    }))
    .await;
    let r = bounded(till(&addr, 300).sale(czk("9.90"), Some(Reference::new("VS7").unwrap())))
        .await
        .unwrap();
    assert_eq!(r.recovery, Some(Recovery::Matched));
    assert_eq!(r.outcome, Outcome::Approved);
    assert_eq!(r.exit_code(), 0);
    assert!(r.message.contains("read back"), "{}", r.message);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["REQ sale 990 VS7", "REQ last 0 -"]
    );
}

#[tokio::test]
async fn dropped_connection_then_other_last_transaction_means_not_made() {
    let (addr, _) = fake_terminal(Arc::new(|l: &str| {
        if l.starts_with("REQ last") {
            Some("RES ok sale 500 OTHER\n".into())
        } else {
            Some("CLOSE".into())
        }
    }))
    .await;
    let r = bounded(till(&addr, 2000).sale(czk("9.90"), Some(Reference::new("VS7").unwrap())))
        .await
        .unwrap();
    assert_eq!(r.recovery, Some(Recovery::Different));
    assert_eq!(r.outcome, Outcome::Timeout);
    assert_eq!(r.exit_code(), 3);
    assert!(!r.unknown);
    assert!(r.detail.unwrap().contains("closed"));
    assert!(r.message.contains("not made"), "{}", r.message);
}

#[tokio::test]
async fn silent_terminal_leaves_the_outcome_unknown() {
    let (addr, seen) = fake_terminal(Arc::new(|_: &str| None)).await;
    let r = bounded(till(&addr, 200).refund(czk("3"), None))
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Timeout);
    assert!(r.unknown);
    assert!(matches!(r.recovery, Some(Recovery::Failed(_))));
    assert!(
        r.message
            .ends_with("outcome unknown — run `ecrlink-sim last` (the terminal's last transaction) before trying again"),
        "{}",
        r.message
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "asked for the last transaction"
    );
}

#[tokio::test]
async fn non_money_timeout_does_not_ask_for_the_last_transaction() {
    let (addr, seen) = fake_terminal(Arc::new(|_: &str| None)).await;
    let r = bounded(till(&addr, 200).test_bank()).await.unwrap();
    assert_eq!(r.outcome, Outcome::Timeout);
    assert!(r.recovery.is_none());
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn receipt_parts_are_collected() {
    let parts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (addr, _) = fake_terminal(Arc::new(move |l: &str| {
        Some(match l {
            "RCPT" => match parts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 => "PART 1 first\n".to_string(),
                _ => "PART 0 second\n".to_string(),
            },
            _ => "RES ok sale 100 -\n".to_string(),
        })
    }))
    .await;
    let mut t = till(&addr, 2000);
    t.opts.receipt = true;
    let r = bounded(t.sale(czk("1"), None)).await.unwrap();
    assert_eq!(r.outcome, Outcome::Approved);
    assert_eq!(r.receipt, vec!["first".to_string(), "second".to_string()]);
}

#[test]
fn blocking_till_works_without_a_runtime() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _) = rt.block_on(fake_terminal(Arc::new(|_: &str| {
        Some("RES bank test-bank 0 -\n".into())
    })));
    let t = till(&addr, 2000);
    let b = BlockingTill::new(t.opts.clone()).unwrap();
    let r = b.test_bank().unwrap();
    assert_eq!(r.outcome, Outcome::BankUnavailable);
    assert_eq!(r.exit_code(), 5);
    drop(rt);
}

#[test]
fn targets() {
    assert_eq!(
        Target::parse("10.0.0.1:2050"),
        Target::Tcp {
            address: "10.0.0.1:2050".into()
        }
    );
    assert!(matches!(
        Target::parse("/dev/ttyUSB0"),
        Target::Serial { baud: 9600, .. }
    ));
    assert!(matches!(Target::parse("COM3"), Target::Serial { .. }));
    assert!(matches!(
        Target::parse("serial:ttyS1"),
        Target::Serial { .. }
    ));
    assert!(matches!(Target::parse("combox:1"), Target::Tcp { .. }));
}

#[test]
fn same_transaction_rules() {
    let sale = Request::Sale {
        amount: czk("10"),
        reference: Some(Reference::new("A").unwrap()),
    };
    let mut last = Response::new(RequestKind::LastTransaction, Outcome::Approved);
    assert!(!is_same_transaction(&sale, &last), "no evidence");
    last.amount = Some(czk("10"));
    assert!(is_same_transaction(&sale, &last));
    last.reference = Some(Reference::new("B").unwrap());
    assert!(!is_same_transaction(&sale, &last));
    last.reference = None;
    last.amount = Some(czk("11"));
    assert!(!is_same_transaction(&sale, &last));
    last.amount = Some(czk("10"));
    last.kind = RequestKind::Refund;
    assert!(!is_same_transaction(&sale, &last));
}

#[test]
fn exit_codes() {
    assert_eq!(exit_code(&Outcome::Approved), 0);
    assert_eq!(exit_code(&Outcome::Timeout), 3);
    assert_eq!(exit_code(&Outcome::TerminalOffline), 4);
    assert_eq!(exit_code(&Outcome::BankUnavailable), 5);
    assert_eq!(exit_code(&Outcome::Cancelled), 6);
    assert_eq!(
        exit_code(&Outcome::Failed {
            reason: ecrlink_core::txn::FailReason::CardError
        }),
        1
    );
}

#[tokio::test]
async fn load_runs_every_transaction_across_terminals() {
    let script: Script = Arc::new(|l: &str| {
        let f: Vec<&str> = l.split(' ').collect();
        // Decline 1.07 to see the counts split.
        let outcome = if f[2] == "107" { "decl:05" } else { "ok" };
        Some(format!("RES {outcome} sale {} -\n", f[2]))
    });
    let (a, seen_a) = fake_terminal(script.clone()).await;
    let (b, seen_b) = fake_terminal(script).await;
    let terminals = vec![till(&a, 2000).opts, till(&b, 2000).opts];
    let plan = crate::load::LoadPlan {
        tills: 3,
        transactions: 20,
        currency: Currency::CZK,
        rate: None,
    };
    let report = bounded(crate::load::run(&plan, &terminals)).await;
    assert_eq!(report.transactions, 20);
    assert_eq!(report.approved, 19);
    assert_eq!(report.declined, 1);
    assert_eq!(report.other, 0);
    assert!(report.latency.p50_us <= report.latency.p99_us);
    assert!(report.latency.p99_us <= report.latency.max_us);
    // Tills 0 and 2 share terminal a: 7 + 6 transactions; till 1 runs 7 on b.
    assert_eq!(seen_a.lock().unwrap().len(), 13);
    assert_eq!(seen_b.lock().unwrap().len(), 7);
    assert!(report.to_text().contains("20 transactions"));
}

// ----- against real dialect sessions: a tiny in-process terminal over TCP -----

use ecrlink_core::session::{TerminalEvent, TerminalSide};

/// The terminal's answer to a request; `None` leaves it unanswered.
type Answer = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// Serves terminal sessions made by `make` on a loopback port, answering every request with
/// `answer`. Returns the address.
async fn serve_terminal(
    make: Arc<dyn Fn() -> Box<dyn TerminalSide + Send> + Send + Sync>,
    answer: Answer,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(run_terminal(sock, make(), answer.clone()));
        }
    });
    addr
}

/// Runs a terminal session over one byte stream until it closes.
async fn run_terminal(
    mut sock: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    mut term: Box<dyn TerminalSide + Send>,
    answer: Answer,
) {
    use tokio::io::AsyncReadExt;
    let clock = Clock::start();
    let mut buf = vec![0u8; 4096];
    let mut tx = vec![0u8; ecrlink_core::session::MAX_TRANSMIT];
    loop {
        while let Some(ev) = term.poll_event() {
            match ev {
                TerminalEvent::Request(req) => {
                    if let Some(r) = answer(&req) {
                        term.respond(clock.now(), &r).unwrap();
                    }
                }
                TerminalEvent::ReceiptRequested => {
                    term.send_receipt_part(clock.now(), "SHOP\nTOTAL 12.50", false)
                        .unwrap();
                }
                _ => {}
            }
        }
        while let Ok(Some(n)) = term.poll_transmit(&mut tx) {
            if sock.write_all(&tx[..n]).await.is_err() {
                return;
            }
        }
        let wake = term
            .poll_timeout()
            .map(|t| clock.to_tokio(t))
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(60));
        tokio::select! {
            r = sock.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => term.handle_bytes(clock.now(), &buf[..n]),
            },
            () = tokio::time::sleep_until(wake) => term.handle_timeout(clock.now()),
        }
    }
}

fn approve_all() -> Answer {
    Arc::new(|req: &Request| Some(approved(req)))
}

fn approved(req: &Request) -> Response {
    let mut r = Response::new(req.kind(), Outcome::Approved);
    r.amount = req.amount();
    r.reference = req.reference().cloned();
    r.pan = Some(ecrlink_core::txn::MaskedPan::parse("476173******0119").unwrap());
    r.approval_code = Some(ecrlink_core::txn::ApprovalCode::new("A1B2C3").unwrap());
    r
}

fn concert_terminal() -> Arc<dyn Fn() -> Box<dyn TerminalSide + Send> + Send + Sync> {
    use ecrlink_core::dialect::concert::{ConcertTerminal, ConcertTerminalConfig};
    Arc::new(|| Box::new(ConcertTerminal::new(ConcertTerminalConfig::default())))
}

fn real_till(addr: &str, dialect: ecrlink_core::session::Dialect) -> Till {
    let mut o = TillOptions::new(Target::parse(addr), dialect);
    o.timeout = Duration::from_secs(5);
    Till::new(o)
}

#[tokio::test]
async fn concert_sale_and_refund_against_a_concert_terminal() {
    let addr = serve_terminal(concert_terminal(), approve_all()).await;
    let till = real_till(&addr, ecrlink_core::session::Dialect::Concert);
    let eur = |t: &str| Money::parse_decimal(t, Currency::EUR).unwrap();
    let r = bounded(till.sale(eur("12.50"), Some(Reference::new("INV1").unwrap())))
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let resp = r.response.unwrap();
    assert_eq!(resp.amount, Some(eur("12.50")));
    assert_eq!(resp.pan.unwrap().to_string(), "476173******0119");
    let r = bounded(till.refund(eur("3"), None)).await.unwrap();
    assert_eq!(r.outcome, Outcome::Approved);
}

#[tokio::test]
async fn concert_cannot_close_totals_an_input_error_before_connecting() {
    // Nothing listens there: the error must come before any connection.
    let till = real_till("127.0.0.1:9", ecrlink_core::session::Dialect::Concert);
    let e = bounded(till.close_totals()).await.unwrap_err();
    assert!(
        matches!(
            e,
            TillError::Request {
                dialect: "concert",
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn concert_timeout_cannot_be_recovered_and_says_so() {
    let (addr, _) = fake_terminal(Arc::new(|_: &str| None)).await;
    let mut till = real_till(&addr, ecrlink_core::session::Dialect::Concert);
    till.opts.timeout = Duration::from_millis(300);
    let r = bounded(till.sale(czk("5"), None)).await.unwrap();
    assert_eq!(r.outcome, Outcome::Timeout);
    assert_eq!(r.recovery, Some(Recovery::Unsupported));
    assert!(r.unknown);
    // Concert has no last-transaction request: the advice is what Concert allows.
    assert!(
        r.message.ends_with(
            "outcome unknown — Concert cannot report the last transaction: look at the \
             terminal's screen or its journal before charging again"
        ),
        "{}",
        r.message
    );
    assert!(!r.message.contains("last`"), "{}", r.message);
}

fn csob_terminal() -> Arc<dyn Fn() -> Box<dyn TerminalSide + Send> + Send + Sync> {
    use ecrlink_core::dialect::csob::{CsobConfig, CsobTerminal};
    Arc::new(|| {
        let id = ecrlink_core::txn::TerminalId::new("00000000").unwrap();
        Box::new(CsobTerminal::new(CsobConfig::new(id)))
    })
}

#[tokio::test]
async fn csob_sale_with_receipt_and_reprint_against_a_csob_terminal() {
    let addr = serve_terminal(csob_terminal(), approve_all()).await;
    let mut till = real_till(&addr, ecrlink_core::session::Dialect::Csob);
    till.opts.receipt = true;
    let r = bounded(till.sale(czk("12.50"), Some(Reference::new("VS1").unwrap())))
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let resp = r.response.as_ref().unwrap();
    assert_eq!(resp.approval_code.as_ref().unwrap().as_str(), "A1B2C3");
    assert_eq!(r.receipt, vec!["SHOP\nTOTAL 12.50".to_string()]);
    // ČSOB has no reprint request: the till fetches the receipt text instead.
    till.opts.receipt = false;
    let r = bounded(till.reprint()).await.unwrap();
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.receipt, vec!["SHOP\nTOTAL 12.50".to_string()]);
    for req in [
        Request::TestTerminal,
        Request::TestBank,
        Request::CloseTotals,
    ] {
        let r = bounded(till.run(req)).await.unwrap();
        assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    }
}

#[tokio::test]
async fn csob_lost_answer_is_recovered_with_passivate_then_last_transaction() {
    // The terminal runs the sale but its answer never reaches the till; on the next
    // connection it answers T81 and then T82 with that sale.
    let last: Arc<Mutex<Option<Response>>> = Arc::new(Mutex::new(None));
    let asked: Arc<Mutex<Vec<RequestKind>>> = Arc::new(Mutex::new(Vec::new()));
    let (l, a) = (last.clone(), asked.clone());
    let answer: Answer = Arc::new(move |req: &Request| {
        a.lock().unwrap().push(req.kind());
        match req {
            Request::Sale { .. } => {
                *l.lock().unwrap() = Some(approved(req));
                None
            }
            Request::Abort => Some(Response::new(RequestKind::Abort, Outcome::Approved)),
            Request::LastTransaction => {
                let mut r = l.lock().unwrap().clone().unwrap();
                r.kind = RequestKind::LastTransaction;
                Some(r)
            }
            _ => Some(approved(req)),
        }
    });
    let addr = serve_terminal(csob_terminal(), answer).await;
    let mut till = real_till(&addr, ecrlink_core::session::Dialect::Csob);
    till.opts.timeout = Duration::from_millis(500);
    let r = bounded(till.sale(czk("33"), Some(Reference::new("VS33").unwrap())))
        .await
        .unwrap();
    assert_eq!(
        asked.lock().unwrap().as_slice(),
        [
            RequestKind::Sale,
            RequestKind::Abort,
            RequestKind::LastTransaction
        ]
    );
    assert_eq!(r.recovery, Some(Recovery::Matched), "{r:?}");
    assert_eq!(r.outcome, Outcome::Approved);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(
        r.response.unwrap().approval_code.unwrap().as_str(),
        "A1B2C3"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn concert_over_a_serial_line() {
    use tokio_serial::SerialPort;
    // A pseudo-terminal pair: the terminal runs on the master, the till opens the slave by path.
    let (master, slave) = tokio_serial::SerialStream::pair().unwrap();
    let path = slave.name().unwrap();
    drop(slave);
    tokio::spawn(run_terminal(master, concert_terminal()(), approve_all()));
    let mut o = TillOptions::new(
        Target::parse(&path),
        ecrlink_core::session::Dialect::Concert,
    );
    assert!(matches!(o.target, Target::Serial { baud: 9600, .. }));
    o.timeout = Duration::from_secs(5);
    let till = Till::new(o);
    let eur = Money::parse_decimal("4.20", Currency::EUR).unwrap();
    let r = bounded(till.sale(eur, None)).await.unwrap();
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.response.unwrap().amount, Some(eur));
}

#[tokio::test]
async fn unusable_answer_after_acceptance_is_recovered_not_offline() {
    let (addr, seen) = fake_terminal(Arc::new(|l: &str| {
        Some(if l.starts_with("REQ last") {
            "RES decl:05 sale 700 -\n".to_string()
        } else {
            "ACC\nFAIL\n".to_string()
        })
    }))
    .await;
    let r = bounded(till(&addr, 2000).sale(czk("7"), None))
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "asked for the last transaction"
    );
    assert_eq!(r.recovery, Some(Recovery::Matched));
    assert_eq!(r.exit_code(), 1);
    assert!(r.detail.unwrap().contains("answer unusable"));
}

#[tokio::test]
async fn failure_before_acceptance_is_terminal_offline() {
    let (addr, seen) = fake_terminal(Arc::new(|_: &str| Some("FAIL\n".to_string()))).await;
    let r = bounded(till(&addr, 2000).sale(czk("7"), None))
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::TerminalOffline);
    assert!(r.recovery.is_none());
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn connection_closed_mid_sale_is_said_as_such() {
    // The terminal takes the sale, then hangs up; it hangs up on the question too.
    let (addr, _) = fake_terminal(Arc::new(|l: &str| {
        if l.starts_with("REQ sale") {
            Some("ACC\nCLOSE".into())
        } else {
            Some("CLOSE".into())
        }
    }))
    .await;
    let r = bounded(till(&addr, 5000).sale(czk("7"), None))
        .await
        .unwrap();
    assert_eq!(r.exit_code(), 3, "outcome unknown: {r:?}");
    assert!(r.unknown);
    assert_eq!(r.no_answer, Some(NoAnswer::ConnectionClosed));
    assert!(
        r.message
            .starts_with("The terminal closed the connection before answering: outcome unknown"),
        "{}",
        r.message
    );
    assert!(!r.message.contains("in time"), "{}", r.message);
}

#[tokio::test]
async fn a_terminal_that_acknowledges_nothing_is_told_in_seconds_not_at_the_timeout() {
    // A terminal of another dialect: it takes the connection and never acknowledges.
    let (addr, seen) = fake_terminal(Arc::new(|_: &str| None)).await;
    let mut t = till(&addr, 60_000);
    t.opts.ack_timeout = Duration::from_millis(300);
    let r = bounded(t.sale(czk("7"), None)).await.unwrap();
    assert_eq!(r.no_answer, Some(NoAnswer::NotAcknowledged), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(9), "{:?}", r.elapsed);
    assert!(r.message.contains("--dialect"), "{}", r.message);
    // A money request is still checked with the last-transaction question.
    assert_eq!(seen.lock().unwrap().len(), 2);
    // Not a money request: nothing was taken, nothing to ask.
    let r = bounded(t.test_terminal()).await.unwrap();
    assert_eq!(r.outcome, Outcome::TerminalOffline);
    assert!(!r.unknown);
    assert!(r.message.ends_with("nothing was done"), "{}", r.message);
}

#[tokio::test]
async fn the_whole_wait_recovery_included_stays_within_the_timeout() {
    // Acknowledges everything, answers nothing.
    let (addr, seen) = fake_terminal(Arc::new(|_: &str| Some("ACC\n".into()))).await;
    let t = till(&addr, 4000);
    let r = bounded(t.sale(czk("7"), None)).await.unwrap();
    assert_eq!(r.outcome, Outcome::Timeout);
    assert!(matches!(r.recovery, Some(Recovery::Failed(_))), "{r:?}");
    assert_eq!(seen.lock().unwrap().len(), 2, "the question was asked");
    // Before: 4 s for the answer plus up to 4 s for the question.
    assert!(r.elapsed < Duration::from_millis(6000), "{:?}", r.elapsed);
}

#[test]
fn bytes_of_the_other_dialect_are_recognised() {
    use ecrlink_core::session::Dialect;
    assert_eq!(
        other_dialect(Dialect::Csob, &[0x15]),
        Some(Dialect::Concert)
    );
    assert_eq!(
        other_dialect(Dialect::Csob, &[0x06]),
        Some(Dialect::Concert)
    );
    assert_eq!(other_dialect(Dialect::Csob, b"\x02B0"), None);
    assert_eq!(
        other_dialect(Dialect::Concert, b"\x02B2"),
        Some(Dialect::Csob)
    );
    assert_eq!(other_dialect(Dialect::Concert, &[0x06]), None);
    assert_eq!(other_dialect(Dialect::Concert, &[]), None);
}

/// A till whose `interrupt` is pressed once `after`.
fn press_after(till: &mut Till, after: Duration) {
    let (trigger, stop) = interrupt();
    till.opts.interrupt = Some(stop);
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        trigger.press();
    });
}

#[tokio::test]
async fn csob_interrupt_while_the_sale_runs_cancels_it_on_the_same_connection() {
    // Issue 13, defect 14: Ctrl-C while the card is read. The till sends T81 on the connection
    // that carries the sale (the terminal takes an abort only from there), then T82, and
    // reports the sale cancelled.
    let asked: Arc<Mutex<Vec<RequestKind>>> = Arc::new(Mutex::new(Vec::new()));
    let a = asked.clone();
    let answer: Answer = Arc::new(move |req: &Request| {
        a.lock().unwrap().push(req.kind());
        match req {
            Request::Sale { .. } => None,
            Request::Abort => Some(Response::new(RequestKind::Abort, Outcome::Approved)),
            Request::LastTransaction => Some(Response::new(
                RequestKind::LastTransaction,
                Outcome::Failed {
                    reason: ecrlink_core::txn::FailReason::NoMatchingTransaction,
                },
            )),
            _ => Some(approved(req)),
        }
    });
    let addr = serve_terminal(csob_terminal(), answer).await;
    let mut till = real_till(&addr, ecrlink_core::session::Dialect::Csob);
    till.opts.timeout = Duration::from_secs(30);
    press_after(&mut till, Duration::from_millis(300));
    let r = bounded(till.sale(czk("12.50"), None)).await.unwrap();
    assert_eq!(
        asked.lock().unwrap().as_slice(),
        [
            RequestKind::Sale,
            RequestKind::Abort,
            RequestKind::LastTransaction
        ]
    );
    assert_eq!(r.outcome, Outcome::Cancelled, "{r:?}");
    assert_eq!(r.no_answer, Some(NoAnswer::Interrupted));
    assert!(!r.unknown);
    assert_eq!(r.exit_code(), EXIT_CANCELLED);
    assert!(
        r.message.starts_with("Interrupted at the till"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn concert_interrupt_says_the_outcome_is_unknown_at_once() {
    let addr = serve_terminal(concert_terminal(), Arc::new(|_: &Request| None)).await;
    let mut till = real_till(&addr, ecrlink_core::session::Dialect::Concert);
    till.opts.timeout = Duration::from_secs(30);
    press_after(&mut till, Duration::from_millis(300));
    let r = bounded(till.sale(czk("5"), None)).await.unwrap();
    assert_eq!(r.outcome, Outcome::Timeout, "{r:?}");
    assert!(r.unknown);
    assert_eq!(r.exit_code(), EXIT_TIMEOUT);
    assert!(
        r.message.contains("Interrupted at the till") && r.message.contains("journal"),
        "{}",
        r.message
    );
}
