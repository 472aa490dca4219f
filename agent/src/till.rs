//! One till connection: bytes in and out of a dialect's sans-IO
//! [`TerminalSide`](ecrlink_core::session::TerminalSide) session,
//! requests handed to the engine, answers handed back. Buffers are fixed; a till that sends
//! nothing but garbage is dropped after [`MAX_PROTOCOL_ERRORS`] rejected frames.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ecrlink_core::session::{Dialect, MAX_TRANSMIT, RECEIPT_PART_CAPACITY, TerminalEvent};
use ecrlink_core::txn::{FailReason, Outcome, RequestKind, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::clock;
use crate::config::{Config, DialectChoice};
use crate::dialects::{AgentSession, ReceiptAsk};
use crate::engine::{Job, Shared, test_terminal_response};
use crate::hex::Hex;
use crate::printer::Copy;

/// Rejected frames in a row after which the connection is dropped.
pub const MAX_PROTOCOL_ERRORS: u32 = 8;
/// Bytes a till may send without a single request coming of them before the connection is
/// dropped as garbage (a request frame is at most a few hundred bytes).
pub const MAX_BYTES_WITHOUT_REQUEST: usize = 4096;
/// Bytes read while waiting for the first ENQ or STX of an auto-detect listener before the
/// connection is dropped.
pub const MAX_DETECT_BYTES: usize = 4096;

/// A byte stream a till talks over (TCP, serial, a test pipe).
pub trait TillStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> TillStream for T {}

/// The terminal-side session of `dialect`.
pub fn terminal_session(
    dialect: Dialect,
    cfg: &Config,
    seed: &crate::dialects::Seed,
) -> anyhow::Result<Box<dyn AgentSession>> {
    crate::dialects::terminal_session(dialect, cfg, seed)
}

/// What the till driver needs from the agent.
#[derive(Clone)]
pub struct TillCtx {
    /// The configuration.
    pub cfg: Arc<Config>,
    /// The engine's queue.
    pub engine: mpsc::Sender<Job>,
    /// Shared engine state.
    pub shared: Arc<Shared>,
    /// Where a connection says it made its first request (and so takes over as the till).
    pub claims: mpsc::UnboundedSender<u64>,
    /// This connection's id for `claims`.
    pub conn_id: u64,
    /// Set once the connection has sent a byte that opens a till exchange (ENQ or STX): the
    /// supervisor closes connections that never did first when it has too many.
    pub spoke: Arc<std::sync::atomic::AtomicBool>,
}

impl TillCtx {
    fn heard(&self, bytes: &[u8]) {
        use std::sync::atomic::Ordering;
        if !self.spoke.load(Ordering::Relaxed)
            && bytes.iter().any(|&b| Dialect::detect(b).is_some())
        {
            self.spoke.store(true, Ordering::Relaxed);
        }
    }
}

/// Why a till session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The till closed the connection.
    Closed,
    /// A newer till connection replaced this one, or the agent is sleeping or stopping.
    Superseded,
    /// Too many rejected frames or undetectable dialect.
    Garbage,
    /// No byte for the idle timeout.
    Idle,
    /// Read or write error.
    Io,
}

/// Runs one till connection until it ends. `initial` holds bytes already read from the
/// stream (a serial port's first bytes); `close` fires when the agent drops the connection.
pub async fn run_till(
    mut stream: Box<dyn TillStream>,
    initial: Vec<u8>,
    choice: DialectChoice,
    peer: String,
    ctx: TillCtx,
    mut close: oneshot::Receiver<()>,
) -> End {
    let mut buf = [0u8; 1024];
    let mut prefix: Vec<u8> = initial;
    let mut skipped = 0usize;
    let dialect = match choice {
        DialectChoice::Fixed(d) => d,
        DialectChoice::Auto => loop {
            // Skip anything before the first byte that names a dialect, within a bound.
            if let Some(pos) = prefix.iter().position(|&b| Dialect::detect(b).is_some()) {
                let d = Dialect::detect(prefix[pos]).unwrap_or(Dialect::Concert);
                prefix.drain(..pos);
                break d;
            }
            skipped += prefix.len();
            if skipped > MAX_DETECT_BYTES {
                tracing::warn!(%peer, "no ENQ or STX in the first {MAX_DETECT_BYTES} bytes; dropping");
                return End::Garbage;
            }
            prefix.clear();
            tokio::select! {
                r = stream.read(&mut buf) => match r {
                    Ok(0) => return End::Closed,
                    Ok(n) => {
                        ctx.heard(&buf[..n]);
                        prefix.extend_from_slice(&buf[..n]);
                    }
                    Err(_) => return End::Io,
                },
                _ = &mut close => return End::Superseded,
                _ = tokio::time::sleep(ctx.cfg.idle_timeout) => return End::Idle,
            }
        },
    };
    let seed = crate::dialects::Seed {
        last_approved: ctx.shared.last_approved.lock().ok().and_then(|g| g.clone()),
    };
    let session = match terminal_session(dialect, &ctx.cfg, &seed) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%peer, error = %e, "no session for dialect");
            return End::Garbage;
        }
    };
    tracing::info!(%peer, dialect = dialect.name(), "till session started");
    let mut driver = Driver {
        session,
        ctx: ctx.clone(),
        pending: None,
        delivering: None,
        receipt_parts: VecDeque::new(),
        errors: 0,
        unproductive: 0,
        crash_after_write: false,
        claimed: false,
        peer: peer.clone(),
        rx_at: std::time::Instant::now(),
        timing: None,
        waited: Arc::new(std::sync::atomic::AtomicU64::new(0)),
    };
    if !prefix.is_empty() {
        ctx.shared.touch();
        tracing::debug!(%peer, frame = %Hex(&prefix), "till <-");
        ctx.heard(&prefix);
        driver.session.handle_bytes(clock::now(), &prefix);
    }
    let mut out = vec![0u8; MAX_TRANSMIT];
    let mut last_rx = tokio::time::Instant::now();
    loop {
        if let Err(end) = driver.pump(&mut stream, &mut out).await {
            return end;
        }
        let timeout = driver.session.poll_timeout().map(clock::to_tokio);
        let idle_at = last_rx + ctx.cfg.idle_timeout;
        let idle_ok = driver.pending.is_none() && !driver.session.is_busy();
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) => { tracing::info!(%peer, "till closed the connection"); return End::Closed; }
                Ok(n) => {
                    last_rx = tokio::time::Instant::now();
                    driver.rx_at = last_rx.into_std();
                    ctx.shared.touch();
                    tracing::debug!(%peer, frame = %Hex(&buf[..n]), "till <-");
                    driver.unproductive += n;
                    ctx.heard(&buf[..n]);
                    driver.session.handle_bytes(clock::now(), &buf[..n]);
                }
                Err(_) => return End::Io,
            },
            _ = async { match timeout { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                driver.session.handle_timeout(clock::now());
            }
            resp = async { match driver.pending.as_mut() { Some(rx) => rx.await, None => std::future::pending().await } } => {
                driver.pending = None;
                match resp {
                    Ok(resp) => {
                        driver.respond(&resp);
                        if let Some(t) = driver.timing.as_mut() {
                            t.answered = true;
                        }
                    }
                    Err(_) => tracing::error!(%peer, "engine dropped a request"),
                }
            }
            _ = &mut close => {
                tracing::info!(%peer, "till session closed by the agent (newer connection, sleep or shutdown)");
                let _ = stream.shutdown().await;
                return End::Superseded;
            }
            _ = tokio::time::sleep_until(idle_at), if idle_ok => {
                tracing::info!(%peer, "till idle; dropping the connection");
                return End::Idle;
            }
        }
    }
}

struct Driver {
    session: Box<dyn AgentSession>,
    ctx: TillCtx,
    pending: Option<oneshot::Receiver<Response>>,
    delivering: Option<u32>,
    receipt_parts: VecDeque<String>,
    errors: u32,
    /// Bytes received since the last request (or receipt request) the session made of them.
    unproductive: usize,
    /// Test hook ([`crate::crash`]): abort once the answer frame is written.
    crash_after_write: bool,
    /// Whether this connection made a request (and took over as the till).
    claimed: bool,
    peer: String,
    /// When the last read from the till ended (a request event comes of that read).
    rx_at: std::time::Instant,
    /// The engine request being timed for [`crate::metrics`], when they are kept.
    timing: Option<Timing>,
    /// Where the engine tells the time it waited for the card and the bank.
    waited: Arc<std::sync::atomic::AtomicU64>,
}

/// A request timed from its frame to its answer ([`crate::metrics`]).
struct Timing {
    /// The read that completed the request frame ended.
    received: std::time::Instant,
    /// The engine answered; the next write starts the answer.
    answered: bool,
}

impl Driver {
    /// Sends everything the session has to send and handles every event, until neither is left.
    async fn pump(&mut self, stream: &mut Box<dyn TillStream>, out: &mut [u8]) -> Result<(), End> {
        loop {
            if self.unproductive > MAX_BYTES_WITHOUT_REQUEST {
                tracing::warn!(peer = %self.peer, bytes = self.unproductive, "till sent bytes that make no request; dropping the connection");
                return Err(End::Garbage);
            }
            let mut progressed = false;
            // Events first: a request reaches the engine's queue before the session's
            // acknowledgement (ČSOB B0) leaves, so a till that connects right after seeing it
            // queues behind this request.
            while let Some(ev) = self.session.poll_event() {
                progressed = true;
                self.event(ev)?;
            }
            loop {
                match self.session.poll_transmit(out) {
                    Ok(Some(n)) => {
                        let bytes = out.get(..n).unwrap_or(&[]);
                        tracing::debug!(peer = %self.peer, frame = %Hex(bytes), "till ->");
                        let w =
                            tokio::time::timeout(Duration::from_secs(10), stream.write_all(bytes))
                                .await;
                        if !matches!(w, Ok(Ok(()))) {
                            return Err(End::Io);
                        }
                        if let Some(t) = self.timing.take_if(|t| t.answered) {
                            self.ctx
                                .shared
                                .service
                                .record(crate::metrics::ServiceSample {
                                    service: t.received.elapsed(),
                                    waited: Duration::from_nanos(
                                        self.waited.load(std::sync::atomic::Ordering::Relaxed),
                                    ),
                                });
                        }
                        if self.crash_after_write && n > 1 {
                            let _ = stream.flush().await;
                            crate::crash::point("after-answer-sent");
                        }
                        progressed = true;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(peer = %self.peer, error = %e, "session transmit");
                        return Err(End::Io);
                    }
                }
            }
            let _ = stream.flush().await;
            if !progressed {
                return Ok(());
            }
        }
    }

    fn event(&mut self, ev: TerminalEvent) -> Result<(), End> {
        match ev {
            TerminalEvent::Request(req) => {
                self.claim();
                self.errors = 0;
                self.unproductive = 0;
                let kind = req.kind();
                tracing::debug!(peer = %self.peer, request = kind.name(), "till request");
                if kind == RequestKind::Abort {
                    // The dialect replaced the pending request by the abort (ČSOB T81): the
                    // transaction still completes in the engine and becomes the last one.
                    self.pending = None;
                    let outcome = if self.ctx.shared.abort_card_wait() {
                        Outcome::Approved
                    } else {
                        Outcome::Failed {
                            reason: FailReason::NoMatchingTransaction,
                        }
                    };
                    self.respond(&Response::new(kind, outcome));
                } else if self.pending.is_some() {
                    self.respond(&Response::new(
                        kind,
                        Outcome::Failed {
                            reason: FailReason::Busy,
                        },
                    ));
                } else if kind == RequestKind::TestTerminal {
                    let r = test_terminal_response(&self.ctx.cfg, &self.ctx.shared);
                    self.respond(&r);
                } else {
                    let (reply, rx) = oneshot::channel();
                    let timed = self.ctx.shared.service.is_enabled();
                    if timed {
                        self.waited.store(0, std::sync::atomic::Ordering::Relaxed);
                    }
                    if self
                        .ctx
                        .engine
                        .try_send(Job::Run {
                            request: req,
                            reply,
                            waited: timed.then(|| self.waited.clone()),
                        })
                        .is_err()
                    {
                        self.respond(&Response::new(
                            kind,
                            Outcome::Failed {
                                reason: FailReason::Busy,
                            },
                        ));
                    } else {
                        self.pending = Some(rx);
                        self.timing = timed.then_some(Timing {
                            received: self.rx_at,
                            answered: false,
                        });
                    }
                }
            }
            TerminalEvent::ReceiptRequested => {
                self.claim();
                self.unproductive = 0;
                let ask = self.session.receipt_ask();
                let copy = match ask {
                    Some(ReceiptAsk::Copy(c)) => Some(c),
                    Some(ReceiptAsk::Next) if !self.receipt_parts.is_empty() => None,
                    _ => Some(Copy::Customer),
                };
                if let Some(copy) = copy {
                    let text = self
                        .ctx
                        .shared
                        .last_receipt
                        .lock()
                        .ok()
                        .and_then(|g| g.clone())
                        .map(|(merchant, customer)| match copy {
                            Copy::Merchant => merchant,
                            Copy::Customer => customer,
                        })
                        .unwrap_or_default();
                    self.receipt_parts = split_receipt(&text, RECEIPT_PART_CAPACITY);
                }
                let part = self.receipt_parts.pop_front().unwrap_or_default();
                let more = !self.receipt_parts.is_empty();
                if let Err(e) = self.session.send_receipt_part(clock::now(), &part, more) {
                    tracing::warn!(peer = %self.peer, error = %e, "receipt part not sent");
                }
            }
            TerminalEvent::ResponseDelivered => {
                if let Some(stan) = self.delivering.take() {
                    let _ = self.ctx.engine.try_send(Job::Delivered { stan });
                }
            }
            TerminalEvent::ResponseUndelivered(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "answer not acknowledged by the till; it stays the last transaction");
                self.delivering = None;
            }
            TerminalEvent::ProtocolError(e) => {
                self.errors += 1;
                tracing::warn!(peer = %self.peer, error = %e, count = self.errors, "till sent bytes the session rejected");
                if self.errors >= MAX_PROTOCOL_ERRORS {
                    tracing::warn!(peer = %self.peer, "too many rejected frames; dropping the connection");
                    return Err(End::Garbage);
                }
            }
        }
        Ok(())
    }

    /// The first request makes this connection the till being served.
    fn claim(&mut self) {
        if !self.claimed {
            self.claimed = true;
            let _ = self.ctx.claims.send(self.ctx.conn_id);
        }
    }

    fn respond(&mut self, resp: &Response) {
        self.delivering = resp.trace;
        self.crash_after_write =
            resp.kind.moves_money() && crate::crash::is_armed("after-answer-sent");
        if let Err(e) = self.session.respond(clock::now(), resp) {
            tracing::error!(peer = %self.peer, error = %e, kind = resp.kind.name(), "answer could not be encoded for the till; answering a plain failure");
            self.delivering = None;
            let plain = Response::new(
                resp.kind,
                Outcome::Failed {
                    reason: FailReason::Other,
                },
            );
            if let Err(e) = self.session.respond(clock::now(), &plain) {
                tracing::error!(peer = %self.peer, error = %e, "no answer possible");
            }
        }
    }
}

/// Splits receipt text into parts of at most `cap` bytes, at line ends where possible.
pub fn split_receipt(text: &str, cap: usize) -> VecDeque<String> {
    let mut parts = VecDeque::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        if cur.len() + line.len() > cap && !cur.is_empty() {
            parts.push_back(std::mem::take(&mut cur));
        }
        if line.len() > cap {
            let mut rest = line;
            while rest.len() > cap {
                let mut cut = cap;
                while !rest.is_char_boundary(cut) {
                    cut -= 1;
                }
                parts.push_back(rest[..cut].to_string());
                rest = &rest[cut..];
            }
            cur.push_str(rest);
        } else {
            cur.push_str(line);
        }
    }
    if !cur.is_empty() || parts.is_empty() {
        parts.push_back(cur);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_split_at_lines_within_capacity() {
        let text = "line one\nline two\nline three\n";
        let parts = split_receipt(text, 12);
        assert!(parts.iter().all(|p| p.len() <= 12));
        assert_eq!(parts.iter().map(String::as_str).collect::<String>(), text);
        assert_eq!(parts.len(), 3);
        let long = "é".repeat(20);
        let parts = split_receipt(&long, 7);
        assert!(parts.iter().all(|p| p.len() <= 7));
        assert_eq!(parts.iter().map(String::as_str).collect::<String>(), long);
        assert_eq!(split_receipt("", 10).len(), 1);
    }
}
