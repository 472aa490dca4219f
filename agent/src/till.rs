//! One till connection: bytes in and out of a dialect's sans-IO
//! [`TerminalSide`](ecrlink_core::session::TerminalSide) session,
//! requests handed to the engine, answers handed back. Buffers are fixed; a till that sends
//! nothing but garbage is dropped after [`MAX_PROTOCOL_ERRORS`] rejected frames.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ecrlink_core::session::{Dialect, MAX_TRANSMIT, TerminalEvent};
use ecrlink_core::txn::{FailReason, Outcome, RequestKind, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::clock;
use crate::config::{Config, DialectChoice};
use crate::dialects::{AgentSession, ReceiptAsk, Stage};
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

/// How often the stage of a running request is looked at for the till's progress messages.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(200);

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
                _ = idle_for(ctx.cfg.idle_timeout) => return End::Idle,
            }
        },
    };
    let seed = crate::dialects::Seed {
        last_approved: ctx.shared.last_approved.lock().ok().and_then(|g| g.clone()),
        serial: peer.starts_with("serial:"),
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
        asked: None,
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
        receipt_before: None,
        answer_receipt: AnswerReceipt::Reprint,
        stage: None,
    };
    if !prefix.is_empty() {
        ctx.shared.touch();
        tracing::debug!(%peer, frame = %Hex(&prefix), "till <-");
        ctx.heard(&prefix);
        driver.sync_busy();
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
        let idle_ok = !ctx.cfg.idle_timeout.is_zero()
            && driver.pending.is_none()
            && !driver.session.is_busy();
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
                    driver.sync_busy();
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
                        driver.answer(&resp);
                        if let Some(t) = driver.timing.as_mut() {
                            t.answered = true;
                        }
                    }
                    Err(_) => tracing::error!(%peer, "engine dropped a request"),
                }
            }
            _ = tokio::time::sleep(PROGRESS_EVERY), if driver.pending.is_some() => {
                driver.progress();
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
    /// The kind of the pending request (a last-transaction answer has the kind of the
    /// transaction it describes).
    asked: Option<RequestKind>,
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
    /// The engine's last receipt when the pending request went to the engine: another one at
    /// the answer was made for that answer.
    receipt_before: Option<ReceiptMark>,
    /// The receipt of the last answer this connection gave, for a ČSOB B3.
    answer_receipt: AnswerReceipt,
    /// The stage of the pending request last told to the session ([`AgentSession::progress`]).
    stage: Option<Stage>,
}

/// The engine's last receipt as seen at one moment: where its two texts live and what they
/// say. The engine replaces the receipt by assigning a new pair, built while the old pair is
/// still held, so a receipt made after the mark was taken lives elsewhere even when its text
/// is the same (two subtotals reports within a second); a later one that happens to reuse the
/// freed place shows by its text (the engine keeps no receipt number to compare; see
/// `Driver::answer`).
#[derive(PartialEq, Eq)]
struct ReceiptMark {
    at: (usize, usize),
    text: (String, String),
}

impl ReceiptMark {
    fn of(receipt: &(String, String)) -> Self {
        ReceiptMark {
            at: (receipt.0.as_ptr() as usize, receipt.1.as_ptr() as usize),
            text: receipt.clone(),
        }
    }
}

/// Which receipt a receipt request (ČSOB B3) gets.
enum AnswerReceipt {
    /// No answer from the engine on this connection yet: the terminal's last receipt marked
    /// duplicate (a reprint, as `ecrlink-sim reprint` asks for it).
    Reprint,
    /// The last answer made no receipt (the bank could not be reached, no card, a refusal):
    /// an empty one, never another transaction's.
    None,
    /// The receipt (merchant, customer copy) made for the last answer.
    Made(String, String),
}

/// A request timed from its frame to its answer ([`crate::metrics`]).
struct Timing {
    /// The read that completed the request frame ended.
    received: std::time::Instant,
    /// The engine answered; the next write starts the answer.
    answered: bool,
}

impl Driver {
    /// Tells the session whether the engine runs a transaction that is not this session's.
    /// Tells the session what the engine is doing for the pending request, when it changed.
    fn progress(&mut self) {
        let card = self
            .ctx
            .shared
            .waiting_for_card
            .load(std::sync::atomic::Ordering::SeqCst);
        let stage = if card { Stage::Card } else { Stage::Bank };
        // The first stage is the card: the session told the till so when the request came.
        let previous = self.stage.unwrap_or(Stage::Card);
        if previous != stage {
            self.session.progress(clock::now(), stage);
        }
        self.stage = Some(stage);
    }

    fn sync_busy(&mut self) {
        let other = self.pending.is_none()
            && self
                .ctx
                .shared
                .busy
                .load(std::sync::atomic::Ordering::SeqCst);
        self.session.set_busy(other);
    }

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
                if kind == RequestKind::Abort && self.session.abort_keeps_request() {
                    // The running request ends with its own answer (ZVT 06 B0): the engine
                    // is asked to abort, and its answer to the abort is not the till's.
                    let (reply, _ignored) = oneshot::channel();
                    let _ = self.ctx.engine.try_send(Job::Run {
                        request: req,
                        reply,
                        waited: None,
                        till: self.ctx.conn_id,
                    });
                    return Ok(());
                }
                if kind == RequestKind::Abort {
                    // The dialect replaced the pending request by the abort (ČSOB T81): the
                    // transaction still completes in the engine and becomes the last one. The
                    // engine answers an abort at once, and only for the till that started
                    // the transaction.
                    self.pending = None;
                }
                if self.pending.is_some() {
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
                            till: self.ctx.conn_id,
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
                        self.asked = Some(kind);
                        self.stage = None;
                        self.receipt_before = self.receipt_mark();
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
                    let receipt = match &self.answer_receipt {
                        AnswerReceipt::Reprint => self.last_reprint(),
                        AnswerReceipt::None => None,
                        AnswerReceipt::Made(m, c) => Some((m.clone(), c.clone())),
                    };
                    let text = receipt
                        .map(|(merchant, customer)| match copy {
                            Copy::Merchant => merchant,
                            Copy::Customer => customer,
                        })
                        .unwrap_or_default();
                    let session = &self.session;
                    let parts = split_receipt_to_fit(&text, |p| session.receipt_part_fits(p, true));
                    self.receipt_parts = parts;
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
            // A dialect not told by its first byte (ZVT) has spoken by now.
            self.ctx
                .spoke
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = self.ctx.claims.send(self.ctx.conn_id);
        }
    }

    /// A mark of the engine's last receipt ([`ReceiptMark`]).
    fn receipt_mark(&self) -> Option<ReceiptMark> {
        self.ctx
            .shared
            .last_receipt
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(ReceiptMark::of))
    }

    /// The engine's last receipt (merchant, customer copy), marked duplicate: a reprint.
    fn last_reprint(&self) -> Option<(String, String)> {
        self.ctx
            .shared
            .last_reprint
            .lock()
            .ok()
            .and_then(|g| g.clone())
    }

    /// Gives the engine's answer to the pending request. A payment or totals answer announces
    /// a receipt (ČSOB) only if the engine made one while running it, and a later receipt
    /// request gets that one or none, never the receipt of an earlier transaction. Other
    /// answers (last transaction, bank test) leave the receipt a B3 gets as it was: the last
    /// transaction's, if this connection made it, else the terminal's last receipt.
    ///
    /// Whether the engine made one is seen from outside the engine: its last receipt changed
    /// while the request ran ([`ReceiptMark`]). The engine serves one request at a time, so
    /// nothing else printed meanwhile. (A receipt number kept by the engine with the receipt,
    /// or the receipt handed back with the answer, would say it without this comparison.)
    fn answer(&mut self, resp: &Response) {
        let before = self.receipt_before.take();
        let asked = self.asked.take().unwrap_or(resp.kind);
        if asked.moves_money() || asked.reports_totals() {
            self.answer_receipt = match self.receipt_mark() {
                Some(mark) if before.as_ref() != Some(&mark) => {
                    AnswerReceipt::Made(mark.text.0, mark.text.1)
                }
                _ => AnswerReceipt::None,
            };
        }
        let made = matches!(self.answer_receipt, AnswerReceipt::Made(..));
        self.send_answer(resp, asked, made);
    }

    /// Gives an answer the driver made itself (no engine run, so no receipt of it).
    fn respond(&mut self, resp: &Response) {
        self.send_answer(resp, resp.kind, false);
    }

    /// Sends `resp`, the answer to a request of kind `asked`.
    fn send_answer(&mut self, resp: &Response, asked: RequestKind, receipt: bool) {
        // A refusal carries its reason's name as the answer text when it has no text of its
        // own: a dialect that folds reasons into one code (ČSOB R-21) still tells the till why.
        let with_reason;
        let resp = match (&resp.outcome, &resp.text) {
            (Outcome::Failed { reason }, None) => {
                with_reason = resp
                    .clone()
                    .with_text(reason.name())
                    .unwrap_or_else(|_| resp.clone());
                &with_reason
            }
            _ => resp,
        };
        self.delivering = resp.trace;
        self.crash_after_write = asked.moves_money() && crate::crash::is_armed("after-answer-sent");
        let encoded = match unencodable_fault(resp) {
            // Test hook (e2e binaries only): an answer the session refuses to encode.
            Some(bad) => self
                .session
                .respond_with_receipt(clock::now(), &bad, receipt),
            None => self
                .session
                .respond_with_receipt(clock::now(), resp, receipt),
        };
        if let Err(e) = encoded {
            tracing::error!(peer = %self.peer, error = %e, kind = resp.kind.name(), "answer could not be encoded for the till; answering a plain failure");
            self.delivering = None;
            if let Some(stan) = resp.trace {
                // The till is told "failed": an approval it will never see must not stand.
                let _ = self.ctx.engine.try_send(Job::Undeliverable { stan });
            }
            let plain = Response::new(
                asked,
                Outcome::Failed {
                    reason: FailReason::Other,
                },
            );
            if let Err(e) = self
                .session
                .respond_with_receipt(clock::now(), &plain, false)
            {
                tracing::error!(peer = %self.peer, error = %e, "no answer possible");
            }
        }
    }
}

/// The `answer-unencodable` test fault ([`crate::crash::fault`]): for the first approved
/// payment answer, the same answer with its amount one minor unit off, which every dialect
/// session refuses to encode (it does not answer the request). `None` otherwise.
fn unencodable_fault(resp: &Response) -> Option<Response> {
    let payment = matches!(
        resp.kind,
        RequestKind::Sale | RequestKind::SaleWithCashback | RequestKind::Refund
    );
    if !(payment && resp.outcome.is_approved()) {
        return None;
    }
    let amount = resp.amount?;
    if !crate::crash::fault("answer-unencodable") {
        return None;
    }
    let mut bad = resp.clone();
    bad.amount = ecrlink_core::txn::Money::new(amount.minor() + 1, amount.currency).ok();
    Some(bad)
}

/// Sleeps for the idle timeout; never ends when it is zero (idle tills are kept).
async fn idle_for(timeout: Duration) {
    if timeout.is_zero() {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(timeout).await;
    }
}

/// Splits receipt text into parts of at most `cap` bytes, at line ends where possible.
pub fn split_receipt(text: &str, cap: usize) -> VecDeque<String> {
    split_receipt_to_fit(text, |p| p.len() <= cap)
}

/// Splits receipt text into parts that each `fits` (e.g. a ČSOB B4 frame within the till's
/// single read), at line ends where possible; a line that does not fit alone is cut between
/// characters. A part of one character always goes, fitting or not (nothing smaller exists).
pub fn split_receipt_to_fit(text: &str, fits: impl Fn(&str) -> bool) -> VecDeque<String> {
    let mut parts = VecDeque::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        let mut joined = cur.clone();
        joined.push_str(line);
        if fits(&joined) {
            cur = joined;
            continue;
        }
        if !cur.is_empty() {
            parts.push_back(std::mem::take(&mut cur));
        }
        let mut rest = line;
        while !fits(rest) {
            // The longest prefix that fits, at least one character.
            let mut cut = rest.char_indices().nth(1).map_or(rest.len(), |(i, _)| i);
            for (i, _) in rest.char_indices().skip(2) {
                if !fits(&rest[..i]) {
                    break;
                }
                cut = i;
            }
            if cut >= rest.len() {
                break;
            }
            parts.push_back(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        cur.push_str(rest);
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
    fn a_new_receipt_with_the_same_text_is_another_receipt() {
        let slot = std::sync::Mutex::new(Some(("MERCHANT".to_string(), "CUSTOMER".to_string())));
        let mark = || slot.lock().unwrap().as_ref().map(ReceiptMark::of);
        let before = mark();
        assert!(before == mark(), "nothing printed: the same receipt");
        // The engine builds the new pair while the old one is held, then assigns it.
        let again = Some(("MERCHANT".to_string(), "CUSTOMER".to_string()));
        *slot.lock().unwrap() = again;
        assert!(
            before != mark(),
            "a second report with the same text is a new receipt"
        );
        let other = Some(("OTHER".to_string(), "CUSTOMER".to_string()));
        let before = mark();
        *slot.lock().unwrap() = other;
        assert!(before != mark());
    }

    #[test]
    fn receipts_split_to_fit_a_frame() {
        // Parts fit the predicate, break at line ends, and join back to the text.
        let text = "aaaa\nbbbb\ncccc\n".repeat(5);
        let parts = split_receipt_to_fit(&text, |p| p.len() + 3 * p.matches('\n').count() <= 24);
        assert!(parts.len() > 1);
        assert!(
            parts
                .iter()
                .all(|p| p.len() + 3 * p.matches('\n').count() <= 24)
        );
        assert!(parts.iter().all(|p| p.ends_with('\n')));
        assert_eq!(parts.iter().map(String::as_str).collect::<String>(), text);
    }

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
