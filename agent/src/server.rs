//! The agent: listeners, the one active till session, sleep mode, and the handle that starts
//! and stops it all (in process, for tests and the demo, or from the command line).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::bank::{Backoff, BankLink, LinkStatus};
use crate::card::{CardReader, SimulatedReader};
use crate::clock;
use crate::config::{AllowNet, Config, DialectChoice, Endpoint, ListenSpec};
use crate::engine::{Engine, Job, Shared};
use crate::journal::{Journal, RecoveryReport};
use crate::printer::Printer;
use crate::till::{TillCtx, TillStream, run_till};

/// Replaceable parts; `None` takes what the configuration says.
#[derive(Default)]
pub struct Parts {
    /// Card reader (default: the simulated reader from `--cards` or the default card).
    pub reader: Option<Box<dyn CardReader>>,
    /// Printer (default: from `--printer`).
    pub printer: Option<Box<dyn Printer>>,
}

/// Whether the agent is serving tills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    /// Listening.
    Awake,
    /// Sleep mode: listeners and bank link closed.
    Asleep,
    /// Stopped.
    Stopped,
}

/// A listener and the address it got (TCP with port 0 gets a free port).
#[derive(Clone, Debug)]
pub struct BoundListener {
    /// As configured.
    pub spec: ListenSpec,
    /// The TCP address bound, `None` for serial.
    pub addr: Option<SocketAddr>,
}

enum Ctl {
    Sleep,
    Wake,
    CutTill,
    Shutdown(oneshot::Sender<()>),
}

struct Incoming {
    stream: Box<dyn TillStream>,
    initial: Vec<u8>,
    choice: DialectChoice,
    peer: String,
    on_end: Option<oneshot::Sender<()>>,
}

/// The running agent.
pub struct AgentHandle {
    listeners: Vec<BoundListener>,
    ctl: mpsc::Sender<Ctl>,
    state: watch::Receiver<AgentState>,
    shared: Arc<Shared>,
    bank: BankLink,
    engine: mpsc::Sender<Job>,
    task: JoinHandle<()>,
    /// What the journal recovery found at start.
    pub recovery: RecoveryReport,
}

/// Starts agents.
pub struct Agent;

impl Agent {
    /// Starts an agent: recovers the journal, binds the listeners, connects to the bank.
    pub async fn start(cfg: Config) -> anyhow::Result<AgentHandle> {
        Self::start_with(cfg, Parts::default()).await
    }

    /// Starts an agent with a custom card reader or printer.
    pub async fn start_with(cfg: Config, parts: Parts) -> anyhow::Result<AgentHandle> {
        cfg.validate()?;
        let _ = clock::now();
        let cfg = Arc::new(cfg);
        let (mut journal, recovery) =
            Journal::open_with(cfg.journal.as_deref(), cfg.journal_reset_incompatible)?;
        for (path, format) in &recovery.migrated {
            tracing::warn!(file = %path.display(), format, "journal: file of an older format read and carried into the current format (the old file is kept as *.format{format})");
        }
        for (path, format) in &recovery.set_aside {
            tracing::warn!(file = %path.display(), format, "journal: file in a format this agent does not read was moved aside; its state is NOT carried over");
        }
        journal.set_max_bytes(cfg.journal_max_bytes);
        if !recovery.bad_tails.is_empty() || recovery.reversed_open > 0 {
            tracing::warn!(
                bad_tails = recovery.bad_tails.len(),
                reversed_open = recovery.reversed_open,
                "journal recovery"
            );
        }
        tracing::info!(
            records = recovery.records,
            pending_reversals = journal.checkpoint().pending.len(),
            batch = journal.checkpoint().batch,
            "journal recovered"
        );
        let reader: Box<dyn CardReader> = match parts.reader {
            Some(r) => r,
            None => {
                let reader = match &cfg.cards {
                    Some(p) => SimulatedReader::load(p, cfg.card_delay)?,
                    None => SimulatedReader::default_card(cfg.card_delay),
                };
                // The cards' transaction counters go on rising across restarts.
                let reader = match &cfg.journal {
                    Some(dir) => reader.with_counter_file(dir.join(crate::card::COUNTER_FILE))?,
                    None => reader,
                };
                Box::new(reader)
            }
        };
        let printer: Option<Box<dyn Printer>> = match parts.printer {
            Some(p) => Some(p),
            None => {
                crate::printer::spec(&cfg.printer).map_err(|e| anyhow::anyhow!("printer: {e}"))?
            }
        };
        let tls = match (&cfg.bank_tls_ca, &cfg.bank) {
            (Some(ca), Some(bank)) => {
                let name = cfg
                    .bank_tls_name
                    .clone()
                    .unwrap_or_else(|| crate::bank::tls::BankTls::host_of(bank).to_string());
                let client = cfg
                    .bank_tls_cert
                    .as_deref()
                    .zip(cfg.bank_tls_key.as_deref());
                Some(crate::bank::tls::BankTls::with_client(ca, &name, client)?)
            }
            _ => None,
        };
        let mac_key = match &cfg.bank_mac_key {
            Some(p) => Some(crate::bank::key::load_mac_key(p)?),
            None => {
                if cfg.bank.is_some() {
                    tracing::warn!(
                        "bank link without a MAC key (--bank-mac-key): answers are not authenticated"
                    );
                }
                None
            }
        };
        let bank = BankLink::start_tls(
            cfg.bank.clone(),
            Backoff {
                initial: cfg.backoff_initial,
                max: cfg.backoff_max,
            },
            crate::bank::codec::Identity {
                terminal_id: ecrlink_core::txn::TerminalId::new(&cfg.terminal_id)
                    .map_err(|e| anyhow::anyhow!("terminal id: {e}"))?,
                merchant_id: Some(
                    ecrlink_core::bank::MerchantId::new(&cfg.merchant_id)
                        .map_err(|e| anyhow::anyhow!("merchant id: {e}"))?,
                ),
                mac_key,
            },
            tls,
        );
        let shared = Arc::new(Shared::default());
        shared.touch();
        let (engine_tx, engine_rx) = mpsc::channel(16);
        let engine = Engine::new(
            cfg.clone(),
            journal,
            reader,
            printer,
            bank.clone(),
            shared.clone(),
        );
        tokio::spawn(engine.run(engine_rx));

        let (inc_tx, inc_rx) = mpsc::channel(8);
        let mut listeners = Vec::new();
        let mut tasks = Vec::new();
        for spec in &cfg.listen {
            let (bound, task) = open_listener(
                spec,
                None,
                inc_tx.clone(),
                effective_allow(&cfg.allow).into(),
            )
            .await?;
            listeners.push(bound);
            tasks.push(task);
        }
        let admitted: Vec<String> = effective_allow(&cfg.allow)
            .iter()
            .map(|n| n.to_string())
            .collect();
        tracing::info!(allow = %admitted.join(", "), "tills admitted from (--allow)");
        for l in &listeners {
            match l.addr {
                Some(a) => tracing::info!(dialect = %l.spec.dialect, addr = %a, "listening"),
                None => tracing::info!(listener = %l.spec, "serial listener"),
            }
        }
        let (ctl, ctl_rx) = mpsc::channel(8);
        let (claim_tx, claim_rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(AgentState::Awake);
        let sup = Supervisor {
            cfg: cfg.clone(),
            ctx: TillCtx {
                cfg: cfg.clone(),
                engine: engine_tx.clone(),
                shared: shared.clone(),
                claims: claim_tx,
                conn_id: 0,
                spoke: Arc::default(),
            },
            listeners: listeners.clone(),
            tasks,
            inc_tx,
            conns: std::collections::BTreeMap::new(),
            active: None,
            bank: bank.clone(),
            state: state_tx,
            wake_at: None,
            next_id: 0,
        };
        let task = tokio::spawn(sup.run(inc_rx, ctl_rx, claim_rx));
        Ok(AgentHandle {
            listeners,
            ctl,
            state,
            shared,
            bank,
            engine: engine_tx,
            task,
            recovery,
        })
    }
}

impl AgentHandle {
    /// The listeners with the addresses they got.
    pub fn listeners(&self) -> &[BoundListener] {
        &self.listeners
    }

    /// The TCP addresses listened on, in configuration order.
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|l| l.addr).collect()
    }

    /// Enters sleep mode now.
    pub fn sleep(&self) {
        let _ = self.ctl.try_send(Ctl::Sleep);
    }

    /// Wakes from sleep mode now (as SIGUSR1 does).
    pub fn wake(&self) {
        let _ = self.ctl.try_send(Ctl::Wake);
    }

    /// What the browser page (`--ui`) drives: stages, card desk, bank fault, sleep, wake
    /// and cutting the till connection.
    pub fn ui_controls(&self, name: &str) -> crate::ui::Controls {
        let ctl = self.ctl.clone();
        let listen = self
            .listeners
            .iter()
            .map(|l| match l.addr {
                Some(a) => format!("{}@{a}", l.spec.dialect),
                None => l.spec.to_string(),
            })
            .collect();
        crate::ui::Controls::new(
            name.to_string(),
            listen,
            self.shared.ui.clone(),
            self.state.clone(),
            std::sync::Arc::new(move |c| {
                let _ = ctl.try_send(match c {
                    crate::ui::Command::Sleep => Ctl::Sleep,
                    crate::ui::Command::Wake => Ctl::Wake,
                    crate::ui::Command::CutTill => Ctl::CutTill,
                });
            }),
        )
    }

    /// Current state.
    pub fn state(&self) -> AgentState {
        *self.state.borrow()
    }

    /// A receiver of state changes.
    pub fn watch_state(&self) -> watch::Receiver<AgentState> {
        self.state.clone()
    }

    /// State of the bank link.
    pub fn bank_status(&self) -> LinkStatus {
        self.bank.status()
    }

    /// A receiver of bank link changes.
    pub fn watch_bank(&self) -> watch::Receiver<LinkStatus> {
        self.bank.watch()
    }

    /// Customer copy of the last receipt.
    pub fn last_receipt(&self) -> Option<String> {
        self.shared
            .last_receipt
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|(_, customer)| customer.clone()))
    }

    /// Merchant copy of the last receipt (the copy a ČSOB till is sent first).
    pub fn last_merchant_receipt(&self) -> Option<String> {
        self.shared
            .last_receipt
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|(merchant, _)| merchant.clone()))
    }

    /// Runs a request as if it came from the terminal's own keypad (or a till), through the
    /// same engine queue as the tills' requests: one transaction at a time, journaled.
    pub async fn request(
        &self,
        request: ecrlink_core::txn::Request,
    ) -> anyhow::Result<ecrlink_core::txn::Response> {
        let (reply, rx) = oneshot::channel();
        self.engine
            .send(Job::Run {
                request,
                reply,
                waited: None,
                till: crate::engine::KEYPAD,
            })
            .await
            .map_err(|_| anyhow::anyhow!("agent stopped"))?;
        rx.await.map_err(|_| anyhow::anyhow!("agent stopped"))
    }

    /// Service times of till requests ([`crate::metrics`]): call
    /// [`ServiceLog::enable`](crate::metrics::ServiceLog::enable) first.
    pub fn service_log(&self) -> &crate::metrics::ServiceLog {
        &self.shared.service
    }

    /// Reversals still waiting for the bank.
    pub fn pending_reversals(&self) -> usize {
        self.shared.pending_reversals.load(Ordering::Relaxed)
    }

    /// Stops: closes the listeners, lets the transaction in flight finish (it is journaled),
    /// then closes the till session and the bank link.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Ctl::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
        Ok(())
    }
}

/// TCP keepalive on till connections: first probe after this long without traffic, then
/// every [`TILL_KEEPALIVE_INTERVAL`], [`TILL_KEEPALIVE_PROBES`] unanswered probes close the
/// connection. Idle tills are kept (see [`Config::idle_timeout`]); this finds those that are
/// gone (a till switched off, a cable pulled) without a byte of protocol.
pub const TILL_KEEPALIVE: Duration = Duration::from_secs(60);
/// Interval between keepalive probes.
pub const TILL_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered keepalive probes after which the connection is dropped.
pub const TILL_KEEPALIVE_PROBES: u32 = 6;

/// Turns TCP keepalive on for a till connection ([`TILL_KEEPALIVE`]).
pub fn keep_alive(stream: &tokio::net::TcpStream) -> std::io::Result<()> {
    let ka = socket2::TcpKeepalive::new()
        .with_time(TILL_KEEPALIVE)
        .with_interval(TILL_KEEPALIVE_INTERVAL)
        .with_retries(TILL_KEEPALIVE_PROBES);
    socket2::SockRef::from(stream).set_tcp_keepalive(&ka)
}

async fn open_listener(
    spec: &ListenSpec,
    fixed: Option<SocketAddr>,
    inc: mpsc::Sender<Incoming>,
    allow: Arc<[AllowNet]>,
) -> anyhow::Result<(BoundListener, JoinHandle<()>)> {
    match &spec.endpoint {
        Endpoint::Tcp(addr) => {
            let listener = match fixed {
                Some(a) => TcpListener::bind(a).await,
                None => TcpListener::bind(addr.as_str()).await,
            }
            .with_context(|| format!("listening on {addr}"))?;
            let local = listener.local_addr()?;
            let choice = spec.dialect;
            let task = tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, peer)) => {
                            if !allow.iter().any(|n| n.contains(peer.ip())) {
                                tracing::warn!(%peer, "till refused: address not in --allow");
                                drop(stream);
                                continue;
                            }
                            let _ = stream.set_nodelay(true);
                            if let Err(e) = keep_alive(&stream) {
                                tracing::warn!(%peer, error = %e, "TCP keepalive not set");
                            }
                            let i = Incoming {
                                stream: Box::new(stream),
                                initial: Vec::new(),
                                choice,
                                peer: peer.to_string(),
                                on_end: None,
                            };
                            if inc.send(i).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
            Ok((
                BoundListener {
                    spec: spec.clone(),
                    addr: Some(local),
                },
                task,
            ))
        }
        Endpoint::Serial { path, baud } => {
            let (path, baud, choice) = (path.clone(), *baud, spec.dialect);
            let task = tokio::spawn(serial_loop(path, baud, choice, inc));
            Ok((
                BoundListener {
                    spec: spec.clone(),
                    addr: None,
                },
                task,
            ))
        }
    }
}

/// Opens the serial port, waits for the till's first bytes, hands the port over as a till
/// session and, when that session ends, opens the port again.
async fn serial_loop(path: String, baud: u32, choice: DialectChoice, inc: mpsc::Sender<Incoming>) {
    use tokio_serial::SerialPortBuilderExt;
    loop {
        let port = tokio_serial::new(&path, baud)
            .data_bits(tokio_serial::DataBits::Eight)
            .parity(tokio_serial::Parity::None)
            .stop_bits(tokio_serial::StopBits::One)
            .open_native_async();
        let mut port = match port {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(device = %path, error = %e, "serial port cannot be opened; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut buf = vec![0u8; 256];
        let n = match port.read(&mut buf).await {
            Ok(0) | Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Ok(n) => n,
        };
        buf.truncate(n);
        let (end_tx, end_rx) = oneshot::channel();
        let i = Incoming {
            stream: Box::new(port),
            initial: buf,
            choice,
            peer: format!("serial:{path}"),
            on_end: Some(end_tx),
        };
        if inc.send(i).await.is_err() {
            return;
        }
        let _ = end_rx.await;
    }
}

/// Till connections open at once (the one being served and candidates that have not made a
/// request yet); past that a candidate is closed: the oldest that never sent ENQ or STX, else
/// the oldest.
pub const MAX_TILL_CONNECTIONS: usize = 64;

/// An open till connection as the supervisor sees it.
struct Conn {
    close: oneshot::Sender<()>,
    task: JoinHandle<()>,
    spoke: Arc<std::sync::atomic::AtomicBool>,
}

struct Supervisor {
    cfg: Arc<Config>,
    ctx: TillCtx,
    listeners: Vec<BoundListener>,
    tasks: Vec<JoinHandle<()>>,
    inc_tx: mpsc::Sender<Incoming>,
    /// Every open till connection by id (ids grow with age): the active one and the
    /// candidates that have not made a request yet.
    conns: std::collections::BTreeMap<u64, Conn>,
    /// The connection whose request came last: the till being served.
    active: Option<u64>,
    bank: BankLink,
    state: watch::Sender<AgentState>,
    wake_at: Option<tokio::time::Instant>,
    next_id: u64,
}

impl Supervisor {
    async fn run(
        mut self,
        mut inc_rx: mpsc::Receiver<Incoming>,
        mut ctl_rx: mpsc::Receiver<Ctl>,
        mut claim_rx: mpsc::UnboundedReceiver<u64>,
    ) {
        let check_every = self
            .cfg
            .sleep_after
            .map(|d| (d / 4).clamp(Duration::from_millis(20), Duration::from_secs(1)))
            .unwrap_or(Duration::from_secs(3600));
        let mut tick = tokio::time::interval(check_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let asleep = *self.state.borrow() == AgentState::Asleep;
            let wake_at = self.wake_at;
            tokio::select! {
                i = inc_rx.recv() => {
                    let Some(i) = i else { break };
                    if asleep {
                        tracing::info!(peer = %i.peer, "till refused: asleep");
                        continue;
                    }
                    self.accept(i);
                }
                Some(id) = claim_rx.recv() => self.claim(id),
                c = ctl_rx.recv() => match c {
                    None => break,
                    Some(Ctl::Sleep) => if !asleep { self.go_to_sleep() },
                    Some(Ctl::Wake) => if asleep { self.wake_up().await },
                    Some(Ctl::CutTill) => {
                        tracing::warn!("till connections cut (tester)");
                        self.close_current();
                    }
                    Some(Ctl::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                },
                _ = tick.tick() => {
                    if let Some(after) = self.cfg.sleep_after {
                        let idle = clock::now().as_millis().saturating_sub(self.ctx.shared.activity_ms.load(Ordering::Relaxed));
                        if !asleep && idle >= after.as_millis() as u64 && !self.ctx.shared.busy.load(Ordering::SeqCst) {
                            tracing::info!(idle_ms = idle, "idle: entering sleep mode");
                            self.go_to_sleep();
                        }
                    }
                }
                _ = async { match wake_at { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } }, if asleep => {
                    tracing::info!("sleep timer: waking up");
                    self.wake_up().await;
                }
            }
        }
        self.shutdown().await;
    }

    /// Takes a new till connection as a candidate. It becomes the till being served (and the
    /// older one is dropped) only when it makes a request ([`Supervisor::claim`]): a
    /// connection that sends nothing, or nothing but garbage, never takes over from a till at
    /// work. At most [`MAX_TILL_CONNECTIONS`] are open; past that the oldest candidate goes.
    fn accept(&mut self, i: Incoming) {
        self.conns.retain(|_, c| !c.task.is_finished());
        while self.conns.len() >= MAX_TILL_CONNECTIONS {
            let candidates = || self.conns.iter().filter(|(k, _)| Some(**k) != self.active);
            let silent = candidates()
                .find(|(_, c)| !c.spoke.load(Ordering::Relaxed))
                .map(|(k, _)| *k);
            let Some(k) = silent.or_else(|| candidates().map(|(k, _)| *k).next()) else {
                break;
            };
            if let Some(c) = self.conns.remove(&k) {
                tracing::info!(
                    conn = k,
                    "too many till connections: closing the oldest idle one"
                );
                let _ = c.close.send(());
            }
        }
        self.next_id += 1;
        let id = self.next_id;
        let (close_tx, close_rx) = oneshot::channel();
        let mut ctx = self.ctx.clone();
        ctx.conn_id = id;
        let spoke: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        ctx.spoke = spoke.clone();
        let task = tokio::spawn(async move {
            let end = run_till(i.stream, i.initial, i.choice, i.peer.clone(), ctx, close_rx).await;
            tracing::info!(peer = %i.peer, ?end, "till session ended");
            if let Some(tx) = i.on_end {
                let _ = tx.send(());
            }
        });
        self.conns.insert(
            id,
            Conn {
                close: close_tx,
                task,
                spoke,
            },
        );
    }

    /// Connection `id` made a request: it is the till now; the older one is dropped (its
    /// transaction in flight still completes and becomes the last transaction).
    fn claim(&mut self, id: u64) {
        if self.active == Some(id) || !self.conns.contains_key(&id) {
            return;
        }
        if let Some(old) = self.active.take() {
            if let Some(c) = self.conns.remove(&old) {
                tracing::info!(
                    old,
                    new = id,
                    "a newer till made a request: dropping the older one"
                );
                let _ = c.close.send(());
            }
        }
        self.ctx.shared.touch();
        self.active = Some(id);
    }

    fn close_current(&mut self) {
        for (_, c) in std::mem::take(&mut self.conns) {
            let _ = c.close.send(());
        }
        self.active = None;
    }

    fn go_to_sleep(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.close_current();
        self.bank.sleep();
        self.wake_at = self.cfg.sleep_for.map(|d| tokio::time::Instant::now() + d);
        self.state.send_replace(AgentState::Asleep);
        tracing::info!("asleep: listeners and bank link closed");
    }

    async fn wake_up(&mut self) {
        self.wake_at = None;
        for l in self.listeners.clone() {
            let mut tries = 0;
            loop {
                match open_listener(
                    &l.spec,
                    l.addr,
                    self.inc_tx.clone(),
                    effective_allow(&self.cfg.allow).into(),
                )
                .await
                {
                    Ok((_, task)) => {
                        self.tasks.push(task);
                        break;
                    }
                    Err(e) if tries < 50 => {
                        tries += 1;
                        tracing::debug!(error = %e, "re-listen failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, listener = %l.spec, "cannot listen again after sleep");
                        break;
                    }
                }
            }
        }
        self.bank.wake();
        self.ctx.shared.touch();
        self.state.send_replace(AgentState::Awake);
        tracing::info!("awake: listening again, bank link reconnecting");
    }

    async fn shutdown(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let (done_tx, done_rx) = oneshot::channel();
        if self
            .ctx
            .engine
            .send(Job::Shutdown { done: done_tx })
            .await
            .is_ok()
        {
            let limit = self.cfg.txn_limit + Duration::from_secs(5);
            if tokio::time::timeout(limit, done_rx).await.is_err() {
                tracing::error!("transaction in flight did not finish in time");
            }
        }
        // Give the answer of a transaction that just finished a moment to reach the till.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.close_current();
        self.bank.sleep();
        self.state.send_replace(AgentState::Stopped);
    }
}

/// The address blocks tills may connect from: `--allow` as given, or by default this machine
/// and its own subnets ([`crate::config::default_allow`]).
fn effective_allow(given: &[AllowNet]) -> Vec<AllowNet> {
    if given.is_empty() {
        crate::config::default_allow()
    } else {
        given.to_vec()
    }
}
