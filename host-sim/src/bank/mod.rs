//! The bank (acquirer) simulator: an ISO 8583 host over TCP (2-byte length prefix) answering
//! 0200 authorizations, 0400 reversals, 0500 reconciliations and 0800 echo tests, with
//! [`rules`] (any response code per amount, card or n-th message, partial approvals, answers
//! without field 38, late, duplicated, for another trace number, cut, dropped, closing the
//! connection, going offline) and a [`ledger`] of what the bank holds, which tests read in
//! process ([`BankHandle::ledger`]) or from a JSON file the simulator reads at start and
//! rewrites atomically after every change (`--ledger FILE`).
//!
//! Limits: at most [`BankConfig::max_connections`] connections at once (more are accepted
//! and closed at once, with a log line); a length prefix above [`MAX_FRAME`] bytes, a message
//! that does not parse, or a message no terminal sends closes the connection; a connection
//! that sends nothing for [`BankConfig::idle_timeout`] is closed.
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
pub mod tls;

pub use tls::tls_config;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use ecrlink_core::bank::cryptogram::{self, CardKey, Check, TEST_ISSUER_MASTER_KEY};
use ecrlink_core::bank::{
    AuthorizationRequest, BankMessage, BatchTotals, CompletionAdvice, IsoMessage, MacKey, Mti,
    NetworkRequest, OriginalData, ProcessingCode, ProcessingKind, ReconciliationRequest,
    ResponseCode, ReversalRequest, Rrn, framing,
};
use ecrlink_core::txn::{ApprovalCode, Currency, Money, Pan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
#[cfg(test)]
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

pub use ledger::{AuthState, Ledger, LedgerAuth, LedgerFileError, Reconciliation};
pub use rules::{Action, ApprovalChoice, Facts, RULES_HELP, Rules};

/// The largest message the simulator takes, in bytes (without the 2-byte prefix): every
/// message of this link is below 1 KiB. A length prefix above it closes the connection.
pub const MAX_FRAME: usize = framing::MAX_MESSAGE_LEN;

/// Default connection cap.
pub const DEFAULT_MAX_CONNECTIONS: usize = 32;

/// Default idle timeout: 5 minutes (a terminal echoes every minute by default).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// What the issuer does with the cryptogram (`9F26`) of an authorization's chip data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CryptogramCheck {
    /// Check it when the 0200 has one; one that does not verify is declined 82. A 0200
    /// without chip data (a swiped or keyed card) is not affected.
    #[default]
    Check,
    /// As `check`, and a chip read (field 22 `05x`/`07x`) without a cryptogram is declined
    /// 82 too.
    Require,
    /// Do not look at it.
    Off,
}

/// The response code of the "bad cryptogram" decline: `82`, the code Visa gives a negative
/// online card authentication ("negative CAM, dCVV, iCVV or CVV results"; CAM is the
/// issuer's check of the ARQC). Other hosts answer `05` (do not honour) with the reason in a
/// private field; a rule can answer that instead (`cryptogram = "bad"`, `code = "05"`).
pub const BAD_CRYPTOGRAM_CODE: &str = "82";

/// How to run the simulated bank.
#[derive(Clone, Debug)]
pub struct BankConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Rules.
    pub rules: Rules,
    /// JSON ledger: read at start if it exists, rewritten (atomically) after every change.
    /// A file that cannot be read, parsed or written makes [`BankSim::start`] fail with a
    /// [`LedgerFileError`].
    pub ledger_file: Option<PathBuf>,
    /// Connections served at once; more are closed at once (at least 1).
    pub max_connections: usize,
    /// Close a connection that sends nothing for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Print one line per message received and sent on standard error.
    pub log: bool,
    /// The terminals' MAC key: every request must carry a valid MAC (one that does not is
    /// logged and answered 63, security violation, with nothing done) and every answer
    /// carries one. `None`: no MAC checked or set.
    pub mac_key: Option<MacKey>,
    /// Serve TLS 1.3 with this configuration (see [`tls_config`]). `None`: plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The check of the chip data's cryptogram.
    pub cryptogram: CryptogramCheck,
    /// The issuer master key the cards' cryptogram keys come from
    /// ([`ecrlink_core::bank::cryptogram`]); by default the simulators' public test key.
    pub issuer_key: MacKey,
}

impl Default for BankConfig {
    /// `127.0.0.1:0`, default rules, no ledger file, 32 connections, 5 minutes idle, quiet.
    fn default() -> Self {
        BankConfig {
            listen: "127.0.0.1:0".into(),
            rules: Rules::default(),
            ledger_file: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            log: false,
            mac_key: None,
            tls: None,
            cryptogram: CryptogramCheck::Check,
            issuer_key: MacKey::new(TEST_ISSUER_MASTER_KEY),
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
    /// Serializes ledger file writes (one temporary file).
    save_lock: Mutex<()>,
    /// Bumped to close every connection (offline, shutdown).
    epoch: watch::Sender<u64>,
    offline: mpsc::Sender<Option<Duration>>,
    connections: Arc<Semaphore>,
    max_connections: usize,
    idle_timeout: Option<Duration>,
    log: bool,
    mac_key: Option<MacKey>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cryptogram: CryptogramCheck,
    issuer_key: MacKey,
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
    /// Reads the ledger file (if any) and checks that it can be written, then binds and starts
    /// serving. A ledger problem is a [`LedgerFileError`] (find it with `downcast_ref`).
    pub async fn start(cfg: BankConfig) -> anyhow::Result<BankHandle> {
        if cfg.max_connections == 0 {
            bail!("bank: the connection cap must be at least 1");
        }
        let mut ledger = match &cfg.ledger_file {
            Some(p) => Ledger::load(p)?,
            None => Ledger::default(),
        };
        ledger.starts += 1;
        if let Some(p) = &cfg.ledger_file {
            ledger.save(p)?;
        }
        let listener = TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("bank: listening on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        let (epoch, _) = watch::channel(0u64);
        let (offline, offline_rx) = mpsc::channel(4);
        let counter = ledger.auths.len() as u64;
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                ledger,
                rules: cfg.rules,
                counter,
            }),
            ledger_file: cfg.ledger_file,
            save_lock: Mutex::new(()),
            epoch,
            offline,
            connections: Arc::new(Semaphore::new(cfg.max_connections)),
            max_connections: cfg.max_connections,
            idle_timeout: cfg.idle_timeout.filter(|d| !d.is_zero()),
            log: cfg.log,
            mac_key: cfg.mac_key,
            tls: cfg.tls.map(tokio_rustls::TlsAcceptor::from),
            cryptogram: cfg.cryptogram,
            issuer_key: cfg.issuer_key,
        });
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

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.inner.max_connections - self.inner.connections.available_permits()
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(self) {
        let _ = self.inner.offline.send(None).await;
        let _ = self.task.await;
    }
}

/// `HH:MM:SS.mmm` local time, for log lines.
fn now() -> String {
    chrono::Local::now().format("%H:%M:%S%.3f").to_string()
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A line about a message (only with `log`).
    fn log_message(&self, peer: SocketAddr, line: std::fmt::Arguments<'_>) {
        if self.log {
            eprintln!("{} bank {peer} {line}", now());
        }
    }

    /// A line about something going wrong (always).
    fn warn(&self, peer: SocketAddr, line: std::fmt::Arguments<'_>) {
        eprintln!("{} bank {peer} {line}", now());
    }

    /// Rewrites the ledger file atomically; a failure is reported and the next change tries
    /// again.
    fn save(&self) {
        let Some(path) = &self.ledger_file else {
            return;
        };
        let _guard = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let ledger = self.lock().ledger.clone();
        if let Err(e) = ledger.save(path) {
            eprintln!("{} bank: {e}", now());
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
    // Refusals are logged at most once a second (a flood must not flood the log).
    let mut refused = 0u64;
    let mut refusal_logged: Option<tokio::time::Instant> = None;
    loop {
        let Some(l) = listener.as_ref() else { return };
        tokio::select! {
            a = l.accept() => match a {
                Ok((stream, peer)) => match inner.connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let _ = stream.set_nodelay(true);
                        match inner.tls.clone() {
                            None => { tokio::spawn(connection(stream, peer, inner.clone(), permit)); }
                            Some(acceptor) => {
                                let inner = inner.clone();
                                tokio::spawn(async move {
                                    let hs = tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                                    match hs {
                                        Ok(Ok(s)) => connection(s, peer, inner, permit).await,
                                        Ok(Err(e)) => inner.warn(peer, format_args!("TLS handshake failed: {e}; closing")),
                                        Err(_) => inner.warn(peer, format_args!("TLS handshake not done in time; closing")),
                                    }
                                });
                            }
                        }
                    }
                    Err(_) => {
                        drop(stream);
                        refused += 1;
                        let now = tokio::time::Instant::now();
                        if refusal_logged.is_none_or(|t| now >= t + Duration::from_secs(1)) {
                            refusal_logged = Some(now);
                            inner.warn(peer, format_args!(
                                "refused: {} connections open, the cap (--max-connections); \
                                 {refused} refused so far",
                                inner.max_connections
                            ));
                        }
                    }
                },
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            cmd = offline_rx.recv() => {
                listener = None;
                inner.epoch.send_modify(|e| *e += 1);
                let Some(Some(period)) = cmd else { return };
                eprintln!("{} bank: offline for {} ms", now(), period.as_millis());
                tokio::time::sleep(period).await;
                for _ in 0..50 {
                    match TcpListener::bind(addr).await {
                        Ok(l) => { listener = Some(l); break; }
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                if listener.is_none() {
                    eprintln!("{} bank: cannot listen again on {addr}", now());
                    return;
                }
                eprintln!("{} bank: online again", now());
            }
        }
    }
}

/// What the writer task sends.
enum Out {
    Bytes(Vec<u8>),
    Close,
}

/// What to do after a message.
enum Reply {
    /// Nothing to send; keep the connection.
    None,
    /// Close the connection now.
    Close,
    /// Send this, possibly later.
    Send {
        items: Vec<Out>,
        delay: Option<Duration>,
    },
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    inner: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let link = match (&inner.tls, &inner.mac_key) {
        (Some(_), Some(_)) => "connected (TLS 1.3, MAC required)",
        (Some(_), None) => "connected (TLS 1.3, no MAC)",
        (None, Some(_)) => "connected (plain TCP, MAC required)",
        (None, None) => "connected (plain TCP, no MAC)",
    };
    inner.log_message(peer, format_args!("{link}"));
    let mut epoch = inner.epoch.subscribe();
    let (mut rd, wr) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(32);
    let mut writer = tokio::spawn(async move {
        let mut wr = wr;
        while let Some(item) = out_rx.recv().await {
            match item {
                Out::Bytes(b) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Out::Close => break,
            }
        }
        let _ = wr.shutdown().await;
    });
    let pending = Arc::new(AtomicUsize::new(0));
    let mut acc = framing::Accumulator::<MAX_FRAME>::new();
    let mut buf = vec![0u8; 4096];
    let mut last_read = tokio::time::Instant::now();
    let why = 'conn: loop {
        let idle = async {
            match inner.idle_timeout {
                Some(d) => tokio::time::sleep_until(last_read + d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r {
                    Ok(0) => break "closed by the peer",
                    Err(_) => break "read error",
                    Ok(n) => n,
                };
                last_read = tokio::time::Instant::now();
                let mut input = &buf[..n];
                while !input.is_empty() {
                    let (res, used) = acc.feed(input);
                    input = &input[used..];
                    let bytes = match res {
                        Ok(framing::Feed::Message(b)) => b.to_vec(),
                        Ok(framing::Feed::NeedMore) => continue,
                        Err(e) => {
                            inner.warn(peer, format_args!(
                                "{e}: above the {MAX_FRAME}-byte cap; closing"
                            ));
                            break 'conn "frame too long";
                        }
                    };
                    match handle(&inner, peer, &bytes) {
                        Reply::None => {}
                        Reply::Close => break 'conn "closed by a rule or after garbage",
                        Reply::Send { items, delay: None } => {
                            for item in items {
                                let _ = out_tx.send(item).await;
                            }
                        }
                        Reply::Send { items, delay: Some(d) } => {
                            let tx = out_tx.clone();
                            let pending = pending.clone();
                            pending.fetch_add(1, Ordering::SeqCst);
                            tokio::spawn(async move {
                                tokio::time::sleep(d).await;
                                for item in items {
                                    let _ = tx.send(item).await;
                                }
                                pending.fetch_sub(1, Ordering::SeqCst);
                            });
                        }
                    }
                }
            }
            _ = idle => {
                if pending.load(Ordering::SeqCst) > 0 {
                    last_read = tokio::time::Instant::now();
                    continue;
                }
                if let Some(d) = inner.idle_timeout {
                    inner.warn(peer, format_args!(
                        "idle for {} s (--idle-timeout); closing", d.as_secs_f32()
                    ));
                }
                break "idle";
            }
            _ = &mut writer => break "closed by a rule",
            _ = epoch.changed() => break "bank offline or stopping",
        }
    };
    inner.log_message(peer, format_args!("disconnected: {why}"));
    drop(out_tx);
    writer.abort();
}

fn prefixed(m: &IsoMessage) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
    let n = m.emit_prefixed(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// `m` with its length prefix, signed with the MAC key when the bank has one.
fn framed(inner: &Inner, m: &mut IsoMessage) -> Option<Vec<u8>> {
    let Some(key) = &inner.mac_key else {
        return prefixed(m);
    };
    let mut buf = vec![0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
    let n = ecrlink_core::bank::mac::emit_signed_prefixed(m, key, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn code(c: &str) -> ResponseCode {
    ResponseCode::new(c.as_bytes()).unwrap_or(ResponseCode::SYSTEM_MALFUNCTION)
}

fn field7(m: &IsoMessage) -> String {
    m.get_str(7).unwrap_or("").to_string()
}

fn kind_name(k: ProcessingKind) -> &'static str {
    match k {
        ProcessingKind::Purchase => "sale",
        ProcessingKind::PurchaseWithCashback => "cashback",
        ProcessingKind::Refund => "refund",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// One message for the log: MTI, trace number, kind, amount, masked PAN, response and
/// approval codes, the original of a reversal. Never the full card number.
pub fn describe(m: &IsoMessage) -> String {
    use std::fmt::Write;
    let mut s = m.mti().as_str().to_string();
    if let Some(stan) = m.get_str(11) {
        let _ = write!(s, " stan {stan}");
    }
    if let Some(p) = m.get(3).and_then(|p| ProcessingCode::parse(p).ok()) {
        let _ = write!(s, " {}", kind_name(p.kind));
    }
    if let Some(a) = m.get_str(4) {
        let money = a.parse::<u64>().ok().and_then(|minor| {
            let cur = m.get_str(49)?.parse::<u16>().ok()?;
            Money::new(minor, Currency::from_numeric(cur).ok()?).ok()
        });
        match money {
            Some(money) => {
                let _ = write!(s, " {money}");
            }
            None => {
                let _ = write!(s, " amount {a}");
            }
        }
    }
    if let Some(p) = m.get_str(2) {
        match Pan::new(p) {
            Ok(pan) => {
                let _ = write!(s, " pan {}", pan.masked());
            }
            Err(_) => s.push_str(" pan (not a card number)"),
        }
    }
    if let Some(o) = m.get(90).and_then(|o| OriginalData::parse(o).ok()) {
        let _ = write!(s, " original stan {:06}", o.stan);
    }
    if let Some(c) = m.get_str(70) {
        let _ = write!(s, " network {c}");
    }
    if let Some(c) = m.get_str(39) {
        // In a reversal request, field 39 says why the terminal reverses.
        let what = if m.mti().as_str() == "0400" {
            "reason"
        } else {
            "code"
        };
        let _ = write!(s, " {what} {c}");
    }
    if let Some(c) = m.get_str(38).map(str::trim).filter(|c| !c.is_empty()) {
        let _ = write!(s, " approval {c}");
    }
    s
}

/// What the issuer found checking the cryptogram of `a`: a name for the ledger and the log,
/// and whether it is a "bad cryptogram" decline. Without chip data nothing is checked
/// (`absent`), unless `require` and the card was read from its chip (`missing`).
fn cryptogram_verdict(inner: &Inner, a: &AuthorizationRequest<'_>) -> (&'static str, bool) {
    if inner.cryptogram == CryptogramCheck::Off {
        return ("unchecked", false);
    }
    let Some(sequence) = a
        .card_sequence
        .map_or(Some(0), |s| u8::try_from(s).ok().filter(|s| *s <= 99))
    else {
        return ("invalid", true);
    };
    let key = CardKey::derive(&inner.issuer_key, &a.pan, sequence);
    match cryptogram::verify(&key, a.emv) {
        Check::Valid => ("valid", false),
        Check::Invalid => ("invalid", true),
        Check::Incomplete => ("incomplete", true),
        Check::Absent => {
            let chip_read = a.entry.is_some_and(|e| e.is_chip());
            if inner.cryptogram == CryptogramCheck::Require && chip_read {
                ("missing", true)
            } else {
                ("absent", false)
            }
        }
    }
}

/// Acts on one message and says what to send back.
fn handle(inner: &Inner, peer: SocketAddr, bytes: &[u8]) -> Reply {
    let msg = match IsoMessage::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            inner.warn(
                peer,
                format_args!(
                    "in  garbage ({} bytes, does not parse: {e}); closing",
                    bytes.len()
                ),
            );
            return Reply::Close;
        }
    };
    let typed = match BankMessage::from_message(&msg) {
        Ok(t) => t,
        Err(e) => {
            inner.warn(
                peer,
                format_args!(
                    "in  {} (not a valid {}: {e}); closing",
                    describe(&msg),
                    msg.mti()
                ),
            );
            return Reply::Close;
        }
    };
    let is_request = matches!(
        typed,
        BankMessage::AuthorizationRequest(_)
            | BankMessage::PreAuthorizationRequest(_)
            | BankMessage::CompletionAdvice(_)
            | BankMessage::ReversalRequest(_)
            | BankMessage::ReconciliationRequest(_)
            | BankMessage::NetworkRequest(_)
    );
    if !is_request {
        inner.warn(
            peer,
            format_args!(
                "in  {} is not a request a terminal sends; closing",
                describe(&msg)
            ),
        );
        return Reply::Close;
    }
    if let Some(key) = &inner.mac_key {
        if let Err(e) = ecrlink_core::bank::mac::verify_parsed(&msg, bytes, key) {
            // Answered, not closed: the signed 63 is a definite "not done" for this trace
            // number, where a closed connection would leave the terminal guessing (and
            // reversing what the bank never held).
            let refused = code("63");
            let answer = match &typed {
                BankMessage::AuthorizationRequest(a) => a.respond(refused, None, None).to_message(),
                BankMessage::PreAuthorizationRequest(a) => {
                    a.respond(refused, None, None).to_pre_auth_message()
                }
                BankMessage::CompletionAdvice(c) => c.respond(refused).to_message(),
                BankMessage::ReversalRequest(r) => r.respond(refused).to_message(),
                BankMessage::ReconciliationRequest(r) => r.respond(refused, None).to_message(),
                BankMessage::NetworkRequest(n) => n.respond(refused).to_message(),
                _ => return Reply::Close,
            };
            inner.warn(
                peer,
                format_args!(
                    "in  {} fails its MAC ({e}): answered 63 (security violation), nothing done",
                    describe(&msg)
                ),
            );
            let Some(frame) = answer.ok().and_then(|mut a| framed(inner, &mut a)) else {
                return Reply::Close;
            };
            return Reply::Send {
                items: vec![Out::Bytes(frame)],
                delay: None,
            };
        }
    }
    if inner.log {
        inner.log_message(peer, format_args!("in  {}", describe(&msg)));
    }
    let mut st = inner.lock();
    st.ledger.messages += 1;
    let mti = msg.mti().as_str().to_string();
    let verdict = match &typed {
        BankMessage::AuthorizationRequest(a) | BankMessage::PreAuthorizationRequest(a) => {
            Some(cryptogram_verdict(inner, a))
        }
        _ => None,
    };
    let (amount, pan, kind): (Option<u64>, Option<&str>, Option<&str>) = match &typed {
        BankMessage::PreAuthorizationRequest(a) => (
            Some(a.amount.minor()),
            Some(a.pan.digits()),
            Some("reservation"),
        ),
        BankMessage::CompletionAdvice(c) => (
            Some(c.amount.minor()),
            c.pan.as_ref().map(Pan::digits),
            Some("completion"),
        ),
        BankMessage::AuthorizationRequest(a) => (
            Some(a.amount.minor()),
            Some(a.pan.digits()),
            Some(kind_name(a.processing.kind)),
        ),
        BankMessage::ReversalRequest(r) => (
            Some(r.amount.minor()),
            r.pan.as_ref().map(Pan::digits),
            Some(kind_name(r.processing.kind)),
        ),
        _ => (None, None, None),
    };
    let (rule, mut action) = st.rules.decide_numbered(&Facts {
        mti: &mti,
        amount,
        pan,
        kind,
        cryptogram: verdict.map(|(name, _)| name),
    });
    // The built-in "bad cryptogram" decline, unless a rule about the cryptogram decided.
    let bad_cryptogram = verdict.is_some_and(|(_, bad)| bad)
        && !st.rules.is_about_cryptogram(rule)
        && action.offline.is_none()
        && !action.close;
    if bad_cryptogram {
        action.code = Some(BAD_CRYPTOGRAM_CODE.into());
        action.partial = None;
    }
    let rule_note = |what: &str| {
        let mut note = match rule {
            Some(n) if !what.is_empty() => format!(" [rule #{n}: {what}]"),
            Some(n) => format!(" [rule #{n}]"),
            None => String::new(),
        };
        if let Some((name, bad)) = verdict {
            if bad_cryptogram {
                note.push_str(&format!(" [bad cryptogram: {name}]"));
            } else if bad || name == "valid" {
                note.push_str(&format!(" [cryptogram {name}]"));
            }
        }
        note
    };
    if let Some(period) = action.offline {
        drop(st);
        inner.log_message(
            peer,
            format_args!(
                "out nothing{}",
                rule_note(&format!("offline {} ms", period.as_millis()))
            ),
        );
        let _ = inner.offline.try_send(Some(period));
        return Reply::Close;
    }
    if action.close {
        drop(st);
        inner.log_message(peer, format_args!("out nothing{}", rule_note("close")));
        return Reply::Close;
    }
    let response = match typed {
        BankMessage::AuthorizationRequest(a) => {
            let checked = verdict.map(|(name, _)| name);
            authorize(&mut st, &a, &msg, &action, checked)
        }
        BankMessage::PreAuthorizationRequest(a) => {
            let checked = verdict.map(|(name, _)| name);
            authorize(&mut st, &a, &msg, &action, checked)
        }
        BankMessage::CompletionAdvice(c) => complete(&mut st, &c, &action),
        BankMessage::ReversalRequest(r) => reverse(&mut st, &r, &action),
        BankMessage::ReconciliationRequest(r) => reconcile(&mut st, &r, &action),
        BankMessage::NetworkRequest(n) => echo(&mut st, &n, &action),
        // Not a request: refused above.
        _ => return Reply::Close,
    };
    drop(st);
    inner.save();
    let Some(mut response) = response else {
        inner.warn(
            peer,
            format_args!("out nothing: the answer cannot be built"),
        );
        return Reply::None;
    };
    if action.stan_offset != 0 {
        if let Some(stan) = response.get_str(11).and_then(|s| s.parse::<i64>().ok()) {
            let other = (stan + action.stan_offset).rem_euclid(1_000_000);
            let _ = response.set_str(11, &format!("{other:06}"));
        }
    }
    if inner.log {
        inner.log_message(
            peer,
            format_args!(
                "out {}{}",
                describe(&response),
                rule_note(&action.describe())
            ),
        );
    }
    if action.drop {
        return Reply::None;
    }
    let Some(frame) = framed(inner, &mut response) else {
        return Reply::None;
    };
    let mut items = Vec::new();
    if let Some(cut) = action.cut {
        let body = frame.len() - framing::PREFIX_LEN;
        let keep = framing::PREFIX_LEN + cut.min(body.saturating_sub(1));
        items.push(Out::Bytes(frame[..keep].to_vec()));
        items.push(Out::Close);
    } else {
        if action.duplicate {
            items.push(Out::Bytes(frame.clone()));
        }
        items.push(Out::Bytes(frame));
        if action.close_after {
            items.push(Out::Close);
        }
    }
    Reply::Send {
        items,
        delay: action.delay,
    }
}

fn authorize(
    st: &mut State,
    a: &AuthorizationRequest<'_>,
    msg: &IsoMessage,
    action: &Action,
    cryptogram: Option<&str>,
) -> Option<IsoMessage> {
    st.counter += 1;
    let n = st.counter;
    let rc = action.code.clone().unwrap_or_else(|| "00".into());
    let holds = ledger::code_holds_money(&rc);
    let asked = a.amount.minor();
    let approved_amount = match (holds, action.partial) {
        (false, _) => 0,
        (true, Some(p)) => p.min(asked),
        (true, None) => asked,
    };
    let approval = if holds {
        match &action.approval {
            ApprovalChoice::Generated => ApprovalCode::new(&format!("A{:05}", n % 100_000)).ok(),
            ApprovalChoice::Omit => None,
            ApprovalChoice::Fixed(c) => ApprovalCode::new(c).ok(),
        }
    } else {
        None
    };
    let rrn = Rrn::from_number(n).ok();
    let fault = {
        let mut f = action.clone();
        f.drop = false;
        f.partial = None;
        f.approval = ApprovalChoice::Generated;
        Some(f.describe()).filter(|d| !d.is_empty())
    };
    let pre_auth = msg.mti() == Mti::AUTHORIZATION_REQUEST;
    st.ledger.auths.push(LedgerAuth {
        terminal: a.terminal_id.as_str().to_string(),
        stan: a.stan,
        transmitted: field7(msg),
        kind: if pre_auth {
            "reservation".into()
        } else {
            kind_name(a.processing.kind).into()
        },
        reserved: pre_auth.then_some(approved_amount),
        booked: None,
        amount: asked,
        approved_amount,
        cashback: a.cashback.map(|c| c.minor()),
        currency: a.amount.currency.numeric(),
        pan: a.pan.masked().to_string(),
        code: rc.clone(),
        approval: approval.as_ref().map(|c| c.as_str().to_string()),
        state: if holds {
            AuthState::Approved
        } else {
            AuthState::Declined
        },
        reply_dropped: action.drop,
        reply_fault: fault,
        reversed_count: 0,
        settled_count: 0,
        reversal_messages: 0,
        reversal_codes: Vec::new(),
        reversal_reasons: Vec::new(),
        cryptogram: cryptogram.map(str::to_string),
    });
    // Issuer answer in field 55: the authorization response code (8A).
    let rcb = code(&rc);
    let arc = [0x8A, 0x02, rcb.as_bytes()[0], rcb.as_bytes()[1]];
    let mut resp = a.respond(rcb, approval, rrn);
    if holds && action.partial.is_some() {
        resp.amount = Money::new(approved_amount, a.amount.currency).ok();
    }
    resp.emv = &arc;
    if pre_auth {
        resp.to_pre_auth_message().ok()
    } else {
        resp.to_message().ok()
    }
}

/// The reservation (an approved 0100, not settled, reversed or booked yet) a completion or
/// a partial reversal names by its field 90, or the response code that refuses it: `25` no
/// such reservation, `12` booked or released already, `13` more than reserved.
fn open_reservation<'l>(
    st: &'l mut State,
    terminal: &str,
    original: &ecrlink_core::bank::OriginalData,
    amount: u64,
) -> Result<&'l mut LedgerAuth, &'static str> {
    let orig_time = String::from_utf8_lossy(&original.transmission.to_field7()).to_string();
    let auth = st
        .ledger
        .find_mut(terminal, original.stan, &orig_time)
        .filter(|a| a.reserved.is_some())
        .ok_or("25")?;
    if auth.state != AuthState::Approved || auth.booked.is_some() {
        return Err("12");
    }
    if amount > auth.approved_amount {
        return Err("13");
    }
    Ok(auth)
}

/// 0220: books `c.amount` of the reservation field 90 names; the rest is released.
fn complete(st: &mut State, c: &CompletionAdvice, action: &Action) -> Option<IsoMessage> {
    let terminal = c.terminal_id.as_str().to_string();
    let asked = action.code.clone().unwrap_or_else(|| "00".into());
    let rc = match open_reservation(st, &terminal, &c.original, c.amount.minor()) {
        Ok(auth) => {
            if asked == "00" {
                auth.booked = Some(c.amount.minor());
                auth.approved_amount = c.amount.minor();
            }
            asked
        }
        Err(code) => code.to_string(),
    };
    c.respond(code(&rc)).to_message().ok()
}

/// A 0400 with field 95 (partial reversal) of a reservation: `keep` stays and is booked.
fn release_part(
    st: &mut State,
    r: &ReversalRequest<'_>,
    keep: u64,
    action: &Action,
) -> Option<IsoMessage> {
    let terminal = r.terminal_id.as_str().to_string();
    let asked = action.code.clone().unwrap_or_else(|| "00".into());
    let rc = match open_reservation(st, &terminal, &r.original, keep) {
        Ok(auth) => {
            auth.reversal_messages += 1;
            auth.reversal_codes.push(asked.clone());
            auth.reversal_reasons
                .push(r.reason.map_or("-".into(), |c| c.as_str().to_string()));
            if asked == "00" {
                auth.booked = Some(keep);
                auth.approved_amount = keep;
            }
            asked
        }
        Err(code) => code.to_string(),
    };
    r.respond(code(&rc)).to_message().ok()
}

fn reverse(st: &mut State, r: &ReversalRequest<'_>, action: &Action) -> Option<IsoMessage> {
    if let Some(keep) = r.replacement {
        return release_part(st, r, keep.minor(), action);
    }
    let terminal = r.terminal_id.as_str().to_string();
    let orig_time = String::from_utf8_lossy(&r.original.transmission.to_field7()).to_string();
    let rc = match st.ledger.find_mut(&terminal, r.original.stan, &orig_time) {
        Some(auth) => {
            auth.reversal_messages += 1;
            let rc = action.code.clone().unwrap_or_else(|| "00".into());
            if rc == "00" {
                match auth.state {
                    AuthState::Approved => {
                        auth.state = AuthState::Reversed;
                        auth.reversed_count += 1;
                    }
                    AuthState::Settled => {
                        eprintln!(
                            "{} bank: reversal of settled authorization {} {}",
                            now(),
                            terminal,
                            r.original.stan
                        );
                        auth.reversed_count += 1;
                    }
                    AuthState::Reversed | AuthState::Declined => {}
                }
            }
            auth.reversal_codes.push(rc.clone());
            auth.reversal_reasons
                .push(r.reason.map_or("-".into(), |c| c.as_str().to_string()));
            rc
        }
        None => {
            st.ledger.unmatched_reversals += 1;
            action.code.clone().unwrap_or_else(|| "25".into())
        }
    };
    r.respond(code(&rc)).to_message().ok()
}

fn reconcile(st: &mut State, r: &ReconciliationRequest, action: &Action) -> Option<IsoMessage> {
    let terminal = r.terminal_id.as_str().to_string();
    let currency = r.totals.map(|t| t.currency.numeric());
    let rc = action.code.clone().unwrap_or_else(|| "00".into());
    let settle = rc == "00";
    let mut bank = BatchTotals {
        currency: r.totals.map(|t| t.currency).unwrap_or(Currency::EUR),
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
        // A reservation not booked yet is a hold, not a payment: it stays open.
        if a.reserved.is_some() && a.booked.is_none() {
            continue;
        }
        if currency.is_some_and(|c| c != a.currency) {
            continue;
        }
        if settle {
            a.state = AuthState::Settled;
            a.settled_count += 1;
            settled += 1;
        }
        if a.kind == "refund" {
            bank.credit_count += 1;
            bank.credit_minor += a.approved_amount;
        } else {
            bank.debit_count += 1;
            bank.debit_minor += a.approved_amount;
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
        code: rc.clone(),
    });
    r.respond(code(&rc), Some(bank)).to_message().ok()
}

fn echo(st: &mut State, n: &NetworkRequest, action: &Action) -> Option<IsoMessage> {
    st.ledger.echoes += 1;
    let rc = action.code.clone().unwrap_or_else(|| "00".into());
    n.respond(code(&rc)).to_message().ok()
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    rules::duration(s).map_err(|e| format!("{e:#}"))
}

fn parse_cap(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?}: a number of connections, at least 1")),
    }
}

/// `ecrlink-sim bank` arguments.
#[derive(Debug, clap::Args)]
#[command(after_long_help = format!("{RULES_HELP}\n{BANK_LONG_HELP}"))]
pub struct BankArgs {
    /// Address to listen on, e.g. 127.0.0.1:5000 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub listen: String,
    /// Rules file (TOML; `--help` shows the format and a working example): any response code
    /// by amount, card or n-th message, partial approvals, no approval code, late, twice, another trace number,
    /// cut, dropped, close, offline. Default: an amount ending in .51 is declined with 51,
    /// everything else approved.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The ledger (JSON): read at start if it exists (so a restart keeps what the bank
    /// holds), rewritten atomically after every change. A file that cannot be read or written
    /// is refused at start (exit 2).
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// Connections served at once; more are accepted and closed at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_cap)]
    pub max_connections: usize,
    /// Close a connection that sends nothing for this long (ms, s, m or h; 0: never).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// No line per message (problems are still printed).
    #[arg(long)]
    pub quiet: bool,
    /// The terminals' MAC key, the same file as the agent's --bank-mac-key (64 hex digits or
    /// 32 raw bytes, readable by its owner only). Every request must then carry a valid MAC
    /// (field 64/128, HMAC-SHA-256 truncated to 8 bytes: a test scheme); one that does not is
    /// logged and answered 63 (security violation) with nothing done. Every answer is signed.
    #[arg(long, value_name = "FILE")]
    pub mac_key: Option<PathBuf>,
    /// Serve TLS 1.3 with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require a client certificate signed by a certificate authority in this PEM file
    /// (mutual TLS); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// The chip cryptogram (EMV 9F26) of a 0200: `check` it when there is one and decline one
    /// that does not verify with 82 (bad cryptogram); `require` one of every chip read
    /// (field 22 05x/07x) too; `off`. Swiped and keyed cards carry none and are not affected.
    /// The cards' keys come from the simulators' public test issuer key (a test scheme, not a
    /// card scheme's ARQC: see ecrlink_core::bank::cryptogram).
    #[arg(long, value_enum, value_name = "MODE", default_value = "check")]
    pub cryptogram: CryptogramCheck,
}

/// The end of `ecrlink-sim bank --help`.
const BANK_LONG_HELP: &str = concat!(
    "OUTPUT\n",
    "stdout: `LISTEN <address>` then `READY` once it serves. stderr: one line per message\n",
    "(time, peer, in/out, MTI, trace number, kind, amount, masked card number, response and\n",
    "approval codes, the rule that fired) and every problem.\n\n",
    "LIMITS\n",
    "A length prefix above 1024 bytes (no message of this link is that long), a message that\n",
    "does not parse, or one no terminal sends (e.g. an 0210) is logged and the connection\n",
    "closed. See --max-connections and --idle-timeout.\n\n",
    "CHIP DATA\n",
    "A 0200 with chip data (field 55) carrying a cryptogram (9F26) is checked: the card's key\n",
    "is derived from the card number and sequence number (field 23) under the simulators' test\n",
    "issuer key, the cryptogram is HMAC-SHA-256 over 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36\n",
    "9F10 (a test scheme, not a card scheme's). One that does not verify is declined 82 (bad\n",
    "cryptogram) whatever rule matches, unless a rule with a `cryptogram` condition fired; the\n",
    "ledger records what was found (`cryptogram`: valid, invalid, incomplete, absent, missing).\n",
    "See --cryptogram.\n\n",
    "SECURITY\n",
    "--mac-key checks the MAC of every request and signs every answer; --tls-cert/--tls-key\n",
    "serve TLS 1.3, --tls-client-ca requires client certificates. See docs/SECURITY.md.\n\n",
    "EXIT STATUS\n",
    "0 after SIGINT/SIGTERM, 1 cannot listen, 2 bad option, rules, ledger, key or certificate file.\n\n",
);

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
    let mac_key = match args
        .mac_key
        .as_deref()
        .map(ecrlink_agent::bank::key::load_mac_key)
    {
        Some(Err(e)) => {
            eprintln!("ecrlink-sim bank: {e:#}");
            return 2;
        }
        Some(Ok(k)) => Some(k),
        None => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => match tls_config(c, k, args.tls_client_ca.as_deref()) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("ecrlink-sim bank: TLS: {e:#}");
                return 2;
            }
        },
        _ => None,
    };
    let cfg = BankConfig {
        listen: args.listen.clone(),
        rules,
        ledger_file: args.ledger.clone(),
        max_connections: args.max_connections,
        idle_timeout: Some(args.idle_timeout),
        log: !args.quiet,
        mac_key,
        tls,
        cryptogram: args.cryptogram,
        issuer_key: MacKey::new(TEST_ISSUER_MASTER_KEY),
    };
    rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let bank = match BankSim::start(cfg).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("ecrlink-sim bank: {e:#}");
                return if e.downcast_ref::<LedgerFileError>().is_some() {
                    2
                } else {
                    1
                };
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
    use ecrlink_core::bank::{MonthDayTime, NetworkResponse, PosEntryMode, ProcessingCode};
    use ecrlink_core::terminal::AuthKind;
    use ecrlink_core::txn::{CardScheme, Currency, EntryMode, Money, Pan, TerminalId, Timestamp};

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

    /// A reconciliation without totals (the bank simulator settles from its ledger).
    fn close(transmission: MonthDayTime, stan: u32) -> IsoMessage {
        ReconciliationRequest {
            stan,
            transmission: Some(transmission),
            terminal_id: TerminalId::new("T1").unwrap(),
            merchant_id: None,
            totals: None,
        }
        .to_message()
        .unwrap()
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
            expiry: None,
            entry: None,
            card_sequence: None,
            condition: None,
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
                replacement: None,
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

    async fn bank_with(rules: &str) -> BankHandle {
        BankSim::start(BankConfig {
            rules: Rules::parse(rules).unwrap(),
            ..BankConfig::default()
        })
        .await
        .unwrap()
    }

    /// Defect (issue 19): the bank neither checked nor set a MAC, so a changed message
    /// went unnoticed both ways.
    #[tokio::test]
    async fn with_a_key_requests_must_carry_a_valid_mac_and_answers_carry_one() {
        use ecrlink_core::bank::mac;
        let key = MacKey::new([9; 32]);
        let bank = BankSim::start(BankConfig {
            mac_key: Some(key.clone()),
            ..BankConfig::default()
        })
        .await
        .unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let mut buf = vec![0u8; 2 + IsoMessage::MAX_LEN];
        // Signed: approved, and the answer's MAC verifies.
        let n = mac::emit_signed_prefixed(&mut sale(1, 1000), &key, &mut buf).unwrap();
        s.write_all(&buf[..n]).await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut body).await.unwrap();
        let answer = mac::parse_verified(&body, &key).unwrap();
        assert_eq!(answer.get_str(39), Some("00"));
        // Changed on the way (amount 10.00 → 90.00): answered 63, nothing held.
        let n = mac::emit_signed_prefixed(&mut sale(2, 1000), &key, &mut buf).unwrap();
        let at = buf[..n]
            .windows(12)
            .position(|w| w == b"000000001000")
            .unwrap();
        buf[at + 8] = b'9';
        s.write_all(&buf[..n]).await.unwrap();
        s.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut body).await.unwrap();
        let answer = mac::parse_verified(&body, &key).unwrap();
        assert_eq!(answer.get_str(39), Some("63"));
        assert_eq!(answer.get_str(11), Some("000002"));
        // No MAC at all: the same.
        let answer = send(&mut s, &sale(3, 1000)).await.unwrap();
        assert_eq!(answer.get_str(39), Some("63"));
        let ledger = bank.ledger();
        assert_eq!(ledger.auths.len(), 1, "{ledger:?}");
        assert_eq!(ledger.auths[0].stan, 1);
        bank.shutdown().await;
    }

    /// The next message, `None` if nothing comes within 2 s or the connection ends.
    async fn recv(stream: &mut TcpStream) -> Option<IsoMessage> {
        let mut len = [0u8; 2];
        match tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return None,
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.ok()?;
        Some(IsoMessage::parse(&body).unwrap())
    }

    /// Whether the bank closes the connection within 10 s (reading and ignoring bytes).
    async fn closed_by_bank(stream: &mut TcpStream) -> bool {
        let mut buf = [0u8; 256];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    fn reversal(stan: u32, of: u32, minor: u64) -> IsoMessage {
        ReversalRequest {
            pan: None,
            processing: ProcessingCode::SALE,
            amount: Money::new(minor, Currency::EUR).unwrap(),
            stan,
            transmission: Some(t()),
            rrn: None,
            approval_code: None,
            reason: None,
            terminal_id: TerminalId::new("T1").unwrap(),
            merchant_id: None,
            original: ecrlink_core::bank::OriginalData {
                mti: ecrlink_core::bank::Mti::FINANCIAL_REQUEST,
                stan: of,
                transmission: t(),
                acquirer: 0,
                forwarder: 0,
            },
            emv: &[],
            replacement: None,
        }
        .to_message()
        .unwrap()
    }

    fn auth(m: &IsoMessage) -> ecrlink_core::bank::AuthorizationResponse<'_> {
        ecrlink_core::bank::AuthorizationResponse::from_message(m).unwrap()
    }

    /// A 12.50 chip sale of the default card whose chip data came from the virtual card
    /// (counter 7), with `change` applied to the field 55 bytes.
    fn chip_sale(stan: u32, entry: EntryMode, change: impl Fn(&mut Vec<u8>)) -> IsoMessage {
        use ecrlink_agent::card::{CardTxn, Chip, PinOutcome};
        let pan = Pan::new("4761739001010119").unwrap();
        let issuer = MacKey::new(TEST_ISSUER_MASTER_KEY);
        let chip = Chip::new(&pan, 1, CardScheme::Visa, PinOutcome::Accepted, &issuer);
        let txn = CardTxn {
            amount: Money::new(1250, Currency::EUR).unwrap(),
            kind: AuthKind::Sale,
            cashback: None,
            date: Timestamp {
                year: 2026,
                month: 12,
                day: 7,
                hour: 9,
                minute: 0,
                second: 0,
            },
        };
        let mut emv = chip.generate(&txn, 1, 7, [1, 2, 3, 4]).to_vec();
        change(&mut emv);
        AuthorizationRequest {
            pan,
            processing: ProcessingCode::SALE,
            amount: txn.amount,
            cashback: None,
            stan,
            transmission: Some(t()),
            local: None,
            expiry: None,
            entry: Some(PosEntryMode::new(entry, true)),
            card_sequence: Some(1),
            condition: Some(0),
            terminal_id: TerminalId::new("T1").unwrap(),
            merchant_id: None,
            emv: &emv,
        }
        .to_message()
        .unwrap()
    }

    /// Issue 14 point 11: the bank never looked at the chip data, so the same cryptogram in
    /// every sale, or one changed on the way, was approved.
    #[tokio::test]
    async fn a_chip_cryptogram_that_does_not_verify_is_declined_82() {
        let bank = bank_with("").await;
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let good = send(&mut s, &chip_sale(1, EntryMode::Chip, |_| {}))
            .await
            .unwrap();
        assert_eq!(auth(&good).response_code, ResponseCode::APPROVED);
        // One bit of 9F26 (the last object the card writes) flipped on the way.
        let flip = |e: &mut Vec<u8>| *e.last_mut().unwrap() ^= 0x01;
        let bad = send(&mut s, &chip_sale(2, EntryMode::Chip, flip))
            .await
            .unwrap();
        assert_eq!(auth(&bad).response_code.as_str(), BAD_CRYPTOGRAM_CODE);
        // The amount changed in 9F02 (at byte 2 of its value): the cryptogram no longer
        // covers the data.
        let amount = |e: &mut Vec<u8>| {
            let at = e.windows(3).position(|w| w == [0x9F, 0x02, 6]).unwrap();
            e[at + 7] ^= 0x10;
        };
        let bad = send(&mut s, &chip_sale(3, EntryMode::Chip, amount))
            .await
            .unwrap();
        assert_eq!(auth(&bad).response_code.as_str(), BAD_CRYPTOGRAM_CODE);
        // A swiped card has no chip data: not checked, approved.
        let swipe = send(&mut s, &sale(4, 1250)).await.unwrap();
        assert_eq!(auth(&swipe).response_code, ResponseCode::APPROVED);
        let found: Vec<_> = bank
            .ledger()
            .auths
            .iter()
            .map(|a| a.cryptogram.clone().unwrap())
            .collect();
        assert_eq!(found, ["valid", "invalid", "invalid", "absent"]);
        let l = bank.ledger();
        assert_eq!(l.auths[1].state, AuthState::Declined);
        bank.shutdown().await;

        // A rule about the cryptogram decides instead.
        let bank = bank_with("[[rule]]\ncryptogram = \"bad\"\ncode = \"05\"\n").await;
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let bad = send(&mut s, &chip_sale(5, EntryMode::Chip, flip))
            .await
            .unwrap();
        assert_eq!(auth(&bad).response_code, ResponseCode::DO_NOT_HONOUR);
        bank.shutdown().await;
    }

    #[tokio::test]
    async fn require_declines_a_chip_read_without_a_cryptogram_and_off_checks_nothing() {
        let bank = BankSim::start(BankConfig {
            cryptogram: CryptogramCheck::Require,
            ..BankConfig::default()
        })
        .await
        .unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let none = |e: &mut Vec<u8>| e.clear();
        let r = send(&mut s, &chip_sale(1, EntryMode::Contactless, none))
            .await
            .unwrap();
        assert_eq!(auth(&r).response_code.as_str(), BAD_CRYPTOGRAM_CODE);
        let r = send(&mut s, &chip_sale(2, EntryMode::Swipe, none))
            .await
            .unwrap();
        assert_eq!(auth(&r).response_code, ResponseCode::APPROVED);
        bank.shutdown().await;

        let bank = BankSim::start(BankConfig {
            cryptogram: CryptogramCheck::Off,
            ..BankConfig::default()
        })
        .await
        .unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let flip = |e: &mut Vec<u8>| *e.last_mut().unwrap() ^= 0x01;
        let r = send(&mut s, &chip_sale(3, EntryMode::Chip, flip))
            .await
            .unwrap();
        assert_eq!(auth(&r).response_code, ResponseCode::APPROVED);
        bank.shutdown().await;
    }

    #[tokio::test]
    async fn any_code_partial_approval_and_no_field_38() {
        let bank = bank_with(
            "[[rule]]\namount = 100\ncode = \"91\"\n\
             [[rule]]\namount = 200\ncode = \"08\"\n\
             [[rule]]\namount = 300\npartial = 120\n\
             [[rule]]\namount = 400\napproval_code = false\n\
             [[rule]]\namount = 500\ncode = \"55\"\n",
        )
        .await;
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let r = send(&mut s, &sale(1, 100)).await.unwrap();
        assert_eq!(auth(&r).response_code.as_str(), "91");
        assert!(auth(&r).approval_code.is_none());
        let r = send(&mut s, &sale(2, 200)).await.unwrap();
        assert_eq!(auth(&r).response_code.as_str(), "08");
        assert!(auth(&r).approval_code.is_some());
        let r = send(&mut s, &sale(3, 300)).await.unwrap();
        assert_eq!(auth(&r).response_code.as_str(), "10");
        assert_eq!(auth(&r).amount.unwrap().minor(), 120);
        assert!(auth(&r).approval_code.is_some());
        let r = send(&mut s, &sale(4, 400)).await.unwrap();
        assert_eq!(auth(&r).response_code.as_str(), "00");
        assert!(!r.has(38), "field 38 left out: {r:?}");
        let r = send(&mut s, &sale(5, 500)).await.unwrap();
        assert_eq!(auth(&r).response_code.as_str(), "55");
        let l = bank.ledger();
        let states: Vec<_> = l
            .auths
            .iter()
            .map(|a| (a.code.as_str(), a.state, a.approved_amount))
            .collect();
        assert_eq!(
            states,
            [
                ("91", AuthState::Declined, 0),
                ("08", AuthState::Approved, 200),
                ("10", AuthState::Approved, 120),
                ("00", AuthState::Approved, 400),
                ("55", AuthState::Declined, 0),
            ]
        );
        assert_eq!(l.auths[3].approval, None);
        assert_eq!(l.approved().count(), 3);
        bank.shutdown().await;
    }

    #[tokio::test]
    async fn duplicate_other_stan_cut_and_close_after() {
        let bank = bank_with(
            "[[rule]]\namount = 100\nduplicate = true\n\
             [[rule]]\namount = 200\nstan_offset = 1\n\
             [[rule]]\namount = 300\ncut = 10\n\
             [[rule]]\namount = 400\nclose_after = true\n\
             [[rule]]\namount = 500\nstan_offset = -8\n",
        )
        .await;
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let r = send(&mut s, &sale(11, 100)).await.unwrap();
        assert_eq!(auth(&r).stan, 11);
        let again = recv(&mut s).await.expect("the answer twice");
        assert_eq!(again, r);
        let r = send(&mut s, &sale(12, 200)).await.unwrap();
        assert_eq!(auth(&r).stan, 13, "another trace number");
        let r = send(&mut s, &sale(5, 500)).await.unwrap();
        assert_eq!(auth(&r).stan, 999_997, "wraps below 0");
        // Cut: the prefix announces the whole answer, 10 bytes come, then the end.
        s.write_all(&prefixed(&sale(14, 300)).unwrap())
            .await
            .unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 12, "{got:?}");
        let announced = usize::from(u16::from_be_bytes([got[0], got[1]]));
        assert!(announced > 10, "{announced}");
        // Answer, then close.
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let r = send(&mut s, &sale(15, 400)).await.unwrap();
        assert_eq!(auth(&r).response_code.as_str(), "00");
        assert!(closed_by_bank(&mut s).await);
        // The bank acted on every one of them.
        let l = bank.ledger();
        assert_eq!(l.auths.len(), 5);
        assert!(l.auths.iter().all(|a| a.state == AuthState::Approved));
        assert_eq!(l.auths[0].reply_fault.as_deref(), Some("twice"));
        assert!(l.auths[3].reply_fault.as_deref().unwrap().contains("cut"));
        bank.shutdown().await;
    }

    #[tokio::test]
    async fn reversal_answered_91_is_not_done_and_the_next_one_is() {
        let bank = bank_with(
            "[[rule]]\nmti = \"0400\"\ncode = \"91\"\ntimes = 1\n\
             [[rule]]\nmti = \"0200\"\nnth = 2\ncode = \"05\"\n",
        )
        .await;
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let codes: Vec<String> = {
            let mut v = Vec::new();
            for (stan, amount) in [(1, 700), (2, 700), (3, 700)] {
                let r = send(&mut s, &sale(stan, amount)).await.unwrap();
                v.push(auth(&r).response_code.as_str().to_string());
            }
            v
        };
        assert_eq!(codes, ["00", "05", "00"], "only the 2nd 0200 declined");
        let r = send(&mut s, &reversal(4, 1, 700)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"91"[..]));
        assert_eq!(bank.ledger().auths[0].state, AuthState::Approved);
        let r = send(&mut s, &reversal(5, 1, 700)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"00"[..]));
        let l = bank.ledger();
        assert_eq!(l.auths[0].state, AuthState::Reversed);
        assert_eq!(l.auths[0].reversal_codes, ["91", "00"]);
        assert_eq!(l.auths[0].reversed_count, 1);
        // Unknown original: 25.
        let r = send(&mut s, &reversal(6, 99, 700)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"25"[..]));
        bank.shutdown().await;
    }

    #[tokio::test]
    async fn reconciliation_settles_what_the_bank_holds_and_not_when_refused() {
        let bank = bank_with(
            "[[rule]]\namount = 1000\npartial = 400\n\
             [[rule]]\nmti = \"0500\"\ncode = \"96\"\ntimes = 1\n",
        )
        .await;
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        send(&mut s, &sale(1, 1000)).await.unwrap();
        send(&mut s, &sale(2, 250)).await.unwrap();
        let close = close(t(), 3);
        let r = send(&mut s, &close).await.unwrap();
        assert_eq!(r.get(39), Some(&b"96"[..]));
        assert!(bank.ledger().auths.iter().all(|a| a.settled_count == 0));
        let r = send(&mut s, &close).await.unwrap();
        let totals = ecrlink_core::bank::ReconciliationResponse::from_message(&r)
            .unwrap()
            .totals
            .unwrap();
        assert_eq!((totals.debit_count, totals.debit_minor), (2, 650));
        let l = bank.ledger();
        assert!(l.auths.iter().all(|a| a.state == AuthState::Settled));
        assert_eq!(l.reconciliations[0].code, "96");
        assert_eq!(l.reconciliations[1].settled, 2);
        bank.shutdown().await;
    }

    fn pre_auth(stan: u32, minor: u64) -> IsoMessage {
        AuthorizationRequest::from_message(&sale(stan, minor))
            .unwrap()
            .to_pre_auth_message()
            .unwrap()
    }

    fn reservation_of(stan: u32, minor: u64) -> (OriginalData, Money) {
        let orig = OriginalData {
            mti: Mti::AUTHORIZATION_REQUEST,
            stan,
            transmission: t(),
            acquirer: 0,
            forwarder: 0,
        };
        (orig, Money::new(minor, Currency::EUR).unwrap())
    }

    fn completion(stan: u32, of: u32, minor: u64) -> IsoMessage {
        let (original, _) = reservation_of(of, minor);
        CompletionAdvice {
            pan: None,
            processing: ProcessingCode::SALE,
            amount: Money::new(minor, Currency::EUR).unwrap(),
            stan,
            transmission: Some(t()),
            approval_code: None,
            terminal_id: TerminalId::new("T1").unwrap(),
            merchant_id: None,
            original,
        }
        .to_message()
        .unwrap()
    }

    fn release(stan: u32, of: u32, reserved: u64, keep: Option<u64>) -> IsoMessage {
        let (original, amount) = reservation_of(of, reserved);
        ReversalRequest {
            pan: None,
            processing: ProcessingCode::SALE,
            amount,
            stan,
            transmission: Some(t()),
            rrn: None,
            approval_code: None,
            reason: None,
            terminal_id: TerminalId::new("T1").unwrap(),
            merchant_id: None,
            original,
            emv: &[],
            replacement: keep.map(|k| ecrlink_core::txn::Amount::new(k).unwrap()),
        }
        .to_message()
        .unwrap()
    }

    #[tokio::test]
    async fn reservations_are_held_then_booked_or_released() {
        let bank = BankSim::start(BankConfig::default()).await.unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        // Three reservations: 0110 answers with an approval code.
        for (stan, minor) in [(1, 5000), (2, 4000), (3, 2000)] {
            let r = send(&mut s, &pre_auth(stan, minor)).await.unwrap();
            assert_eq!(r.mti(), Mti::AUTHORIZATION_RESPONSE);
            let a = ecrlink_core::bank::AuthorizationResponse::from_pre_auth_message(&r).unwrap();
            assert!(a.is_approved() && a.approval_code.is_some());
        }
        // 1: partial reversal keeping 31.40; again: refused 12 (booked already).
        let r = send(&mut s, &release(4, 1, 5000, Some(3140)))
            .await
            .unwrap();
        assert_eq!(r.get(39), Some(&b"00"[..]));
        let r = send(&mut s, &release(5, 1, 5000, Some(3140)))
            .await
            .unwrap();
        assert_eq!(r.get(39), Some(&b"12"[..]));
        // 2: completion over the reservation refused 13; then 27.15 booked (0230).
        let r = send(&mut s, &completion(6, 2, 4001)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"13"[..]));
        let r = send(&mut s, &completion(7, 2, 2715)).await.unwrap();
        assert_eq!(r.mti(), Mti::FINANCIAL_ADVICE_RESPONSE);
        assert_eq!(r.get(39), Some(&b"00"[..]));
        // Unknown reservation: 25.
        let r = send(&mut s, &completion(8, 99, 100)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"25"[..]));
        // 3: released in full.
        let r = send(&mut s, &release(9, 3, 2000, None)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"00"[..]));
        let l = bank.ledger();
        let by = |stan: u32| l.auths.iter().find(|a| a.stan == stan).unwrap().clone();
        assert_eq!(by(1).kind, "reservation");
        assert_eq!(
            (by(1).reserved, by(1).booked, by(1).approved_amount),
            (Some(5000), Some(3140), 3140)
        );
        assert_eq!((by(2).booked, by(2).approved_amount), (Some(2715), 2715));
        assert_eq!(by(3).state, AuthState::Reversed);
        // A reconciliation settles what was booked, not an open hold.
        let r = send(&mut s, &pre_auth(10, 900)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"00"[..]));
        let close = close(t(), 11);
        let r = send(&mut s, &close).await.unwrap();
        let totals = ecrlink_core::bank::ReconciliationResponse::from_message(&r)
            .unwrap()
            .totals
            .unwrap();
        assert_eq!((totals.debit_count, totals.debit_minor), (2, 3140 + 2715));
        let l = bank.ledger();
        assert_eq!(
            l.auths.iter().find(|a| a.stan == 10).unwrap().state,
            AuthState::Approved
        );
        assert!(l.violations().is_empty(), "{:?}", l.violations());
        bank.shutdown().await;
    }

    /// Defect: the ledger file was overwritten with an empty ledger at every start, so a
    /// reversal after a restart was answered 25 (original unknown).
    #[tokio::test]
    async fn ledger_is_kept_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ledger.json");
        let cfg = BankConfig {
            ledger_file: Some(file.clone()),
            ..BankConfig::default()
        };
        let bank = BankSim::start(cfg.clone()).await.unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let first = send(&mut s, &sale(7, 1250)).await.unwrap();
        bank.shutdown().await;

        let bank = BankSim::start(cfg).await.unwrap();
        let l = bank.ledger();
        assert_eq!(l.auths.len(), 1, "{l:?}");
        assert_eq!(l.starts, 2);
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let r = send(&mut s, &reversal(8, 7, 1250)).await.unwrap();
        assert_eq!(r.get(39), Some(&b"00"[..]), "the original is known");
        let r = send(&mut s, &sale(9, 100)).await.unwrap();
        assert_ne!(
            auth(&r).approval_code,
            auth(&first).approval_code,
            "approval codes go on"
        );
        let l = Ledger::load(&file).unwrap();
        assert_eq!(l.auths[0].state, AuthState::Reversed);
        assert_eq!(l.unmatched_reversals, 0);
        assert_eq!(l.auths.len(), 2);
        bank.shutdown().await;
    }

    /// Defect: an unwritable ledger path was accepted (and every write silently failed).
    #[tokio::test]
    async fn unwritable_or_foreign_ledger_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir/ledger.json");
        let e = BankSim::start(BankConfig {
            ledger_file: Some(missing),
            ..BankConfig::default()
        })
        .await
        .err()
        .expect("refused");
        assert!(
            matches!(
                e.downcast_ref::<LedgerFileError>(),
                Some(LedgerFileError::Write { .. })
            ),
            "{e:#}"
        );
        let foreign = dir.path().join("notes.json");
        std::fs::write(&foreign, "[1, 2, 3]").unwrap();
        let e = BankSim::start(BankConfig {
            ledger_file: Some(foreign.clone()),
            ..BankConfig::default()
        })
        .await
        .err()
        .expect("refused");
        assert!(
            matches!(
                e.downcast_ref::<LedgerFileError>(),
                Some(LedgerFileError::Parse { .. })
            ),
            "{e:#}"
        );
        assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "[1, 2, 3]");
    }

    /// Defect: the bank accepted any number of connections.
    #[tokio::test]
    async fn connections_above_the_cap_are_closed() {
        let bank = BankSim::start(BankConfig {
            max_connections: 2,
            ..BankConfig::default()
        })
        .await
        .unwrap();
        let mut a = TcpStream::connect(bank.addr()).await.unwrap();
        let mut b = TcpStream::connect(bank.addr()).await.unwrap();
        let echo = NetworkRequest::echo(1, t()).to_message().unwrap();
        assert!(send(&mut a, &echo).await.is_some());
        assert!(send(&mut b, &echo).await.is_some());
        let mut c = TcpStream::connect(bank.addr()).await.unwrap();
        assert!(closed_by_bank(&mut c).await, "third connection closed");
        assert!(
            send(&mut a, &echo).await.is_some(),
            "the others still served"
        );
        drop(b);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while bank.connections() > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut d = TcpStream::connect(bank.addr()).await.unwrap();
        assert!(
            send(&mut d, &echo).await.is_some(),
            "a freed place is reused"
        );
        bank.shutdown().await;
    }

    /// Defect: a length prefix above the cap was skipped and the connection kept open, so a
    /// client could stream any amount of data.
    #[tokio::test]
    async fn a_frame_above_the_cap_closes_the_connection() {
        let bank = BankSim::start(BankConfig::default()).await.unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let len = u16::try_from(MAX_FRAME + 1).unwrap().to_be_bytes();
        s.write_all(&len).await.unwrap();
        let _ = s.write_all(&[b'0'; 64]).await;
        assert!(closed_by_bank(&mut s).await);
        // A message of exactly the cap is read (and, being garbage, closes too), and a
        // normal connection is unaffected.
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let echo = NetworkRequest::echo(1, t()).to_message().unwrap();
        assert!(send(&mut s, &echo).await.is_some());
        bank.shutdown().await;
    }

    /// Defect: garbage was logged and ignored, the connection kept open.
    #[tokio::test]
    async fn garbage_closes_the_connection() {
        let bank = BankSim::start(BankConfig::default()).await.unwrap();
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        s.write_all(b"\x00\x05hello").await.unwrap();
        assert!(closed_by_bank(&mut s).await);
        // An answer type sent to the bank is not a request either.
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let echo = NetworkRequest::echo(1, t());
        let answer = echo.respond(ResponseCode::APPROVED).to_message().unwrap();
        s.write_all(&prefixed(&answer).unwrap()).await.unwrap();
        assert!(closed_by_bank(&mut s).await);
        assert_eq!(bank.ledger().messages, 0);
        bank.shutdown().await;
    }

    /// Defect: a silent connection was kept forever.
    #[tokio::test]
    async fn an_idle_connection_is_closed() {
        let bank = BankSim::start(BankConfig {
            idle_timeout: Some(Duration::from_millis(300)),
            rules: Rules::parse("[[rule]]\nmti = \"0800\"\ndelay = \"700ms\"\n").unwrap(),
            ..BankConfig::default()
        })
        .await
        .unwrap();
        // An answer due later than the idle limit still comes.
        let mut s = TcpStream::connect(bank.addr()).await.unwrap();
        let echo = NetworkRequest::echo(1, t()).to_message().unwrap();
        assert!(send(&mut s, &echo).await.is_some());
        assert!(closed_by_bank(&mut s).await);
        bank.shutdown().await;
    }

    #[test]
    fn log_lines_say_what_moved_and_mask_the_card() {
        let m = sale(42, 1250);
        let line = describe(&m);
        assert_eq!(line, "0200 stan 000042 sale 12.50 EUR pan 476173******0119");
        let r = ReversalRequest::from_message(&reversal(43, 42, 1250))
            .unwrap()
            .respond(ResponseCode::ISSUER_UNAVAILABLE)
            .to_message()
            .unwrap();
        assert_eq!(describe(&r), "0410 stan 000043 sale 12.50 EUR code 91");
        assert!(describe(&reversal(43, 42, 1250)).contains("original stan 000042"));
        let mut why = reversal(44, 42, 1250);
        why.set(39, b"17").unwrap();
        assert!(describe(&why).ends_with("reason 17"), "{}", describe(&why));
    }
}
