//! The bank (acquirer) simulator: an ISO 8583 host over TCP (2-byte length prefix) answering
//! 0200 authorizations, 0400 reversals, 0500 reconciliations and 0800 echo tests, with
//! [`rules`] (approve by default, decline by amount or card, delay, drop the answer, close the
//! connection, go offline) and a [`ledger`] that tests read in process
//! ([`BankHandle::ledger`]) or from a JSON file the simulator rewrites atomically after every
//! change (`--ledger FILE`).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use ecrlink_host_sim::bank::{BankConfig, BankSim};
//! let bank = BankSim::start(BankConfig::default()).await?;   // 127.0.0.1:0, default rules
//! println!("bank on {}", bank.addr());
//! let ledger = bank.ledger();
//! # let _ = ledger;
//! bank.shutdown().await;
//! # Ok(()) }
//! ```

pub mod ledger;
pub mod rules;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use ecrlink_core::bank::{
    AuthorizationRequest, BankMessage, BatchTotals, IsoMessage, NetworkRequest,
    ReconciliationRequest, ResponseCode, ReversalRequest, Rrn, framing,
};
use ecrlink_core::txn::ApprovalCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

pub use ledger::{AuthState, Ledger, LedgerAuth, Reconciliation};
pub use rules::{Action, Facts, Rules};

/// How to run the simulated bank.
#[derive(Clone, Debug)]
pub struct BankConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Rules.
    pub rules: Rules,
    /// JSON file rewritten (atomically) with the ledger after every change.
    pub ledger_file: Option<PathBuf>,
}

impl Default for BankConfig {
    fn default() -> Self {
        BankConfig {
            listen: "127.0.0.1:0".into(),
            rules: Rules::default(),
            ledger_file: None,
        }
    }
}

struct State {
    ledger: Ledger,
    rules: Rules,
    counter: u64,
}

struct Inner {
    state: Mutex<State>,
    ledger_file: Option<PathBuf>,
    /// Bumped to close every connection (offline, shutdown).
    epoch: watch::Sender<u64>,
    offline: mpsc::Sender<Option<Duration>>,
}

/// Starts simulated banks.
pub struct BankSim;

/// A running simulated bank.
pub struct BankHandle {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl BankSim {
    /// Binds and starts serving.
    pub async fn start(cfg: BankConfig) -> anyhow::Result<BankHandle> {
        let listener = TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("bank: listening on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        let (epoch, _) = watch::channel(0u64);
        let (offline, offline_rx) = mpsc::channel(4);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                ledger: Ledger::default(),
                rules: cfg.rules,
                counter: 0,
            }),
            ledger_file: cfg.ledger_file,
            epoch,
            offline,
        });
        inner.save();
        let task = tokio::spawn(accept_loop(listener, addr, inner.clone(), offline_rx));
        Ok(BankHandle { addr, inner, task })
    }
}

impl BankHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of the ledger.
    pub fn ledger(&self) -> Ledger {
        self.inner.lock().ledger.clone()
    }

    /// Replaces the rules.
    pub fn set_rules(&self, rules: Rules) {
        self.inner.lock().rules = rules;
    }

    /// Closes every connection and refuses new ones for `period`.
    pub fn go_offline(&self, period: Duration) {
        let _ = self.inner.offline.try_send(Some(period));
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(self) {
        let _ = self.inner.offline.send(None).await;
        let _ = self.task.await;
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rewrites the ledger file atomically (temporary file, then rename).
    fn save(&self) {
        let Some(path) = &self.ledger_file else {
            return;
        };
        let json = match serde_json::to_string_pretty(&self.lock().ledger) {
            Ok(j) => j,
            Err(_) => return,
        };
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, json).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    inner: Arc<Inner>,
    mut offline_rx: mpsc::Receiver<Option<Duration>>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(l) = listener.as_ref() else { return };
        tokio::select! {
            a = l.accept() => match a {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, peer, inner.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            cmd = offline_rx.recv() => {
                listener = None;
                inner.epoch.send_modify(|e| *e += 1);
                let Some(Some(period)) = cmd else { return };
                eprintln!("bank: offline for {} ms", period.as_millis());
                tokio::time::sleep(period).await;
                for _ in 0..50 {
                    match TcpListener::bind(addr).await {
                        Ok(l) => { listener = Some(l); break; }
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                if listener.is_none() {
                    eprintln!("bank: cannot listen again on {addr}");
                    return;
                }
                eprintln!("bank: online again");
            }
        }
    }
}

enum Reply {
    None,
    Send(Vec<u8>, Option<Duration>),
    Close,
}

async fn connection(stream: TcpStream, peer: SocketAddr, inner: Arc<Inner>) {
    let mut epoch = inner.epoch.subscribe();
    let (mut rd, wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(32);
    let writer = tokio::spawn(async move {
        let mut wr = wr;
        while let Some(frame) = out_rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut acc = framing::Accumulator::<{ framing::MAX_MESSAGE_LEN }>::new();
    let mut buf = vec![0u8; 4096];
    'conn: loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                let mut input = &buf[..n];
                while !input.is_empty() {
                    let (res, used) = acc.feed(input);
                    input = &input[used..];
                    let bytes = match res {
                        Ok(framing::Feed::Message(b)) => b.to_vec(),
                        Ok(framing::Feed::NeedMore) => continue,
                        Err(e) => { eprintln!("bank: {peer}: framing: {e}"); continue; }
                    };
                    match handle(&inner, &bytes) {
                        Reply::None => {}
                        Reply::Close => break 'conn,
                        Reply::Send(frame, None) => { let _ = out_tx.send(frame).await; }
                        Reply::Send(frame, Some(d)) => {
                            let tx = out_tx.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(d).await;
                                let _ = tx.send(frame).await;
                            });
                        }
                    }
                }
            }
            _ = epoch.changed() => break,
        }
    }
    drop(out_tx);
    writer.abort();
}

fn prefixed(m: &IsoMessage) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
    let n = m.emit_prefixed(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn code(c: &str) -> ResponseCode {
    ResponseCode::new(c.as_bytes()).unwrap_or_else(|_| {
        ResponseCode::new(b"96").unwrap_or_else(|_| unreachable!("96 is a valid code"))
    })
}

fn field7(m: &IsoMessage) -> String {
    m.get_str(7).unwrap_or("").to_string()
}

/// Acts on one message and says what to send back.
fn handle(inner: &Inner, bytes: &[u8]) -> Reply {
    let msg = match IsoMessage::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("bank: message does not parse: {e}");
            return Reply::None;
        }
    };
    let typed = match BankMessage::from_message(&msg) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bank: {} does not decode: {e}", msg.mti().as_str());
            return Reply::None;
        }
    };
    let mut st = inner.lock();
    st.ledger.messages += 1;
    let mti = msg.mti().as_str().to_string();
    let (amount, pan) = match &typed {
        BankMessage::AuthorizationRequest(a) => (Some(a.amount.minor()), Some(a.pan.digits())),
        BankMessage::ReversalRequest(r) => (Some(r.amount.minor()), None),
        _ => (None, None),
    };
    let action = st.rules.decide(&Facts {
        mti: &mti,
        amount,
        pan,
    });
    if let Some(period) = action.offline {
        drop(st);
        let _ = inner.offline.try_send(Some(period));
        return Reply::Close;
    }
    if action.close {
        return Reply::Close;
    }
    let response = match typed {
        BankMessage::AuthorizationRequest(a) => authorize(&mut st, &a, &msg, &action),
        BankMessage::ReversalRequest(r) => reverse(&mut st, &r),
        BankMessage::ReconciliationRequest(r) => reconcile(&mut st, &r, &action),
        BankMessage::NetworkRequest(n) => echo(&mut st, &n, &action),
        _ => {
            eprintln!("bank: unexpected {mti} from a terminal");
            None
        }
    };
    drop(st);
    inner.save();
    match (response, action.drop) {
        (Some(frame), false) => Reply::Send(frame, action.delay),
        _ => Reply::None,
    }
}

fn authorize(
    st: &mut State,
    a: &AuthorizationRequest<'_>,
    msg: &IsoMessage,
    action: &Action,
) -> Option<Vec<u8>> {
    st.counter += 1;
    let n = st.counter;
    let rc = action.decline.clone().unwrap_or_else(|| "00".into());
    let approved = rc == "00";
    let approval = approved
        .then(|| ApprovalCode::new(&format!("A{:05}", n % 100_000)).ok())
        .flatten();
    let rrn = Rrn::from_number(n).ok();
    let kind = match a.processing.kind {
        ecrlink_core::bank::ProcessingKind::Purchase => "sale",
        ecrlink_core::bank::ProcessingKind::PurchaseWithCashback => "cashback",
        ecrlink_core::bank::ProcessingKind::Refund => "refund",
        #[allow(unreachable_patterns)]
        _ => "other",
    };
    st.ledger.auths.push(LedgerAuth {
        terminal: a.terminal_id.as_str().to_string(),
        stan: a.stan,
        transmitted: field7(msg),
        kind: kind.into(),
        amount: a.amount.minor(),
        cashback: a.cashback.map(|c| c.minor()),
        currency: a.amount.currency.numeric(),
        pan: a.pan.masked().to_string(),
        code: rc.clone(),
        approval: approval.as_ref().map(|c| c.as_str().to_string()),
        state: if approved {
            AuthState::Approved
        } else {
            AuthState::Declined
        },
        reply_dropped: action.drop,
        reversed_count: 0,
        settled_count: 0,
        reversal_messages: 0,
    });
    // Issuer answer in field 55: the authorization response code (8A).
    let arc = [0x8A, 0x02, rc.as_bytes()[0], rc.as_bytes()[1]];
    let mut resp = a.respond(code(&rc), approval, rrn);
    resp.emv = &arc;
    resp.to_message().ok().and_then(|m| prefixed(&m))
}

fn reverse(st: &mut State, r: &ReversalRequest<'_>) -> Option<Vec<u8>> {
    let terminal = r.terminal_id.as_str().to_string();
    let orig_time = String::from_utf8_lossy(&r.original.transmission.to_field7()).to_string();
    let rc = match st.ledger.find_mut(&terminal, r.original.stan, &orig_time) {
        Some(auth) => {
            auth.reversal_messages += 1;
            match auth.state {
                AuthState::Approved => {
                    auth.state = AuthState::Reversed;
                    auth.reversed_count += 1;
                }
                AuthState::Settled => {
                    eprintln!(
                        "bank: reversal of settled authorization {} {}",
                        terminal, r.original.stan
                    );
                    auth.reversed_count += 1;
                }
                AuthState::Reversed | AuthState::Declined => {}
            }
            "00"
        }
        None => {
            st.ledger.unmatched_reversals += 1;
            "25"
        }
    };
    r.respond(code(rc))
        .to_message()
        .ok()
        .and_then(|m| prefixed(&m))
}

fn reconcile(st: &mut State, r: &ReconciliationRequest, action: &Action) -> Option<Vec<u8>> {
    let terminal = r.terminal_id.as_str().to_string();
    let currency = r.totals.map(|t| t.currency.numeric());
    let mut bank = BatchTotals {
        currency: r
            .totals
            .map(|t| t.currency)
            .unwrap_or(ecrlink_core::txn::Currency::EUR),
        debit_count: 0,
        debit_minor: 0,
        credit_count: 0,
        credit_minor: 0,
    };
    let mut settled = 0;
    for a in st.ledger.auths.iter_mut() {
        if a.terminal != terminal || a.state != AuthState::Approved {
            continue;
        }
        if currency.is_some_and(|c| c != a.currency) {
            continue;
        }
        a.state = AuthState::Settled;
        a.settled_count += 1;
        settled += 1;
        if a.kind == "refund" {
            bank.credit_count += 1;
            bank.credit_minor += a.amount;
        } else {
            bank.debit_count += 1;
            bank.debit_minor += a.amount;
        }
    }
    let matched = r.totals.is_none_or(|t| {
        t.debit_count == bank.debit_count
            && t.debit_minor == bank.debit_minor
            && t.credit_count == bank.credit_count
            && t.credit_minor == bank.credit_minor
    });
    st.ledger.reconciliations.push(Reconciliation {
        terminal,
        currency: bank.currency.numeric(),
        settled,
        matched,
    });
    let rc = action.decline.clone().unwrap_or_else(|| "00".into());
    r.respond(code(&rc), Some(bank))
        .to_message()
        .ok()
        .and_then(|m| prefixed(&m))
}

fn echo(st: &mut State, n: &NetworkRequest, action: &Action) -> Option<Vec<u8>> {
    st.ledger.echoes += 1;
    let rc = action.decline.clone().unwrap_or_else(|| "00".into());
    n.respond(code(&rc))
        .to_message()
        .ok()
        .and_then(|m| prefixed(&m))
}

/// `ecrlink-sim bank` arguments.
#[derive(Debug, clap::Args)]
pub struct BankArgs {
    /// Address to listen on, e.g. 127.0.0.1:5000 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub listen: String,
    /// Rules file (TOML): decline by amount or card, delay, drop, close, go offline.
    /// Default: an amount ending in .51 is declined with 51, everything else approved.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Rewrite the ledger to this JSON file after every change.
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

/// Runs `ecrlink-sim bank` until SIGINT/SIGTERM; prints `LISTEN <addr>` then `READY`.
pub fn run(args: &BankArgs) -> i32 {
    let rules = match &args.rules {
        Some(p) => match Rules::load(p) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ecrlink-sim bank: {e:#}");
                return 2;
            }
        },
        None => Rules::default(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ecrlink-sim bank: {e}");
            return 1;
        }
    };
    let cfg = BankConfig {
        listen: args.listen.clone(),
        rules,
        ledger_file: args.ledger.clone(),
    };
    rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let bank = match BankSim::start(cfg).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("ecrlink-sim bank: {e:#}");
                return 1;
            }
        };
        println!("LISTEN {}", bank.addr());
        println!("READY");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return 1;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        bank.shutdown().await;
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecrlink_core::bank::{MonthDayTime, NetworkResponse, ProcessingCode};
    use ecrlink_core::txn::{Currency, Money, Pan, TerminalId};

    async fn send(stream: &mut TcpStream, m: &IsoMessage) -> Option<IsoMessage> {
        stream.write_all(&prefixed(m).unwrap()).await.unwrap();
        let mut len = [0u8; 2];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut len)).await;
        match read {
            Ok(Ok(_)) => {}
            _ => return None,
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.unwrap();
        Some(IsoMessage::parse(&body).unwrap())
    }

    fn t() -> MonthDayTime {
        MonthDayTime::new(11, 25, 17, 13, 0).unwrap()
    }

    fn sale(stan: u32, minor: u64) -> IsoMessage {
        AuthorizationRequest {
            pan: Pan::new("4761739001010119").unwrap(),
            processing: ProcessingCode::SALE,
            amount: Money::new(minor, Currency::EUR).unwrap(),
            cashback: None,
            stan,
            transmission: Some(t()),
            local: None,
            terminal_id: TerminalId::new("T1").unwrap(),
            merchant_id: None,
            emv: &[],
        }
        .to_message()
        .unwrap()
    }

    #[tokio::test]
    async fn echo_sale_decline_reversal_and_ledger() {
        let bank = BankSim::start(BankConfig::default()).await.unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let echo = NetworkRequest::echo(1, t()).to_message().unwrap();
        let r = send(&mut s, &echo).await.unwrap();
        assert!(NetworkResponse::from_message(&r).unwrap().is_approved());

        let r = send(&mut s, &sale(2, 1250)).await.unwrap();
        let a = ecrlink_core::bank::AuthorizationResponse::from_message(&r).unwrap();
        assert!(a.is_approved());
        assert!(a.approval_code.is_some());
        let r = send(&mut s, &sale(3, 1251)).await.unwrap();
        let d = ecrlink_core::bank::AuthorizationResponse::from_message(&r).unwrap();
        assert_eq!(d.response_code.as_str(), "51");

        // Reverse stan 2 twice (a store-and-forward re-send): reversed once.
        let orig = ecrlink_core::bank::OriginalData {
            mti: ecrlink_core::bank::Mti::FINANCIAL_REQUEST,
            stan: 2,
            transmission: t(),
            acquirer: 0,
            forwarder: 0,
        };
        for stan in [4, 5] {
            let rev = ReversalRequest {
                pan: None,
                processing: ProcessingCode::SALE,
                amount: Money::new(1250, Currency::EUR).unwrap(),
                stan,
                transmission: Some(t()),
                rrn: None,
                approval_code: None,
                reason: None,
                terminal_id: TerminalId::new("T1").unwrap(),
                merchant_id: None,
                original: orig,
                emv: &[],
            };
            let r = send(&mut s, &rev.to_message().unwrap()).await.unwrap();
            assert_eq!(r.get(39), Some(&b"00"[..]));
        }
        let l = bank.ledger();
        assert_eq!(l.auths.len(), 2);
        assert_eq!(l.auths[0].state, AuthState::Reversed);
        assert_eq!(l.auths[0].reversed_count, 1);
        assert_eq!(l.auths[0].reversal_messages, 2);
        assert_eq!(l.auths[0].pan, "476173******0119");
        assert_eq!(l.auths[1].state, AuthState::Declined);
        assert_eq!(l.echoes, 1);
        assert!(l.violations().is_empty());
        bank.shutdown().await;
    }

    #[tokio::test]
    async fn drop_close_and_offline_rules() {
        let rules = Rules::parse(
            "[[rule]]\namount = 100\ndrop = true\n[[rule]]\namount = 200\nclose = true\n[[rule]]\namount = 300\noffline = \"400ms\"\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ledger_file = dir.path().join("ledger.json");
        let bank = BankSim::start(BankConfig {
            rules,
            ledger_file: Some(ledger_file.clone()),
            ..BankConfig::default()
        })
        .await
        .unwrap();
        let addr = bank.addr();
        let mut s = TcpStream::connect(addr).await.unwrap();
        // Dropped: approved in the ledger, no answer.
        assert!(send(&mut s, &sale(1, 100)).await.is_none());
        assert!(bank.ledger().auths[0].reply_dropped);
        // The JSON file follows the ledger.
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&ledger_file).unwrap()).unwrap();
        assert_eq!(json["auths"][0]["state"], "approved");
        // Close: the connection ends, nothing recorded.
        assert!(send(&mut s, &sale(2, 200)).await.is_none());
        assert_eq!(bank.ledger().auths.len(), 1);
        // Offline: connections refused for a while, then served again.
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(send(&mut s, &sale(3, 300)).await.is_none());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "should refuse while offline"
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(send(&mut s, &sale(4, 400)).await.is_some());
        bank.shutdown().await;
    }
}
