//! Property tests of the session state machines: a till session and a terminal session of the
//! same dialect, joined by a hostile wire, on a fake clock.
//!
//! For any plan of faults on the wire — chunks lost, duplicated, delayed, cut short (a
//! connection that breaks mid-frame), garbage injected between chunks, and, on Concert's serial
//! line, one damaged byte (changed, lost or doubled) per chunk — the till either learns the
//! terminal's true outcome of each sale, or says "unknown":
//!
//! | till view                               | allowed when                                     |
//! |-----------------------------------------|--------------------------------------------------|
//! | `Known(r)` (direct or through T82)      | `r` matches the terminal's outcome (approved or  |
//! |                                         | not, amount, reference, ČSOB approval code)      |
//! | `NotDone` (T82 names an earlier sale)   | the terminal never approved this sale            |
//! | `Unknown` (`TimedOut`/`Failed`, Concert)| always (Concert cannot ask for the last one)     |
//! | `Unknown` (ČSOB)                        | never: once the wire is clean, T81 + T82 recover |
//!
//! plus: the terminal never runs a request the till did not make, never approves one sale
//! twice, a ČSOB terminal that reports `ResponseDelivered` for an answer is right (the till
//! ends up knowing that answer), every answer ends delivered or undelivered, and both sessions
//! end idle.
//!
//! The terminal side is driven like the agent drives it: one engine that runs requests in
//! order (card wait, then bank), the result journaled as the last transaction *before* the
//! answer is sent, an abort (ČSOB T81) cancelling a card wait but not a bank exchange, and
//! "last transaction" queued behind the request in flight.
//!
//! The till side is driven like a careful till: it checks that an answer echoes its amount and
//! reference (an answer that does not is treated as unknown), and after "unknown" on ČSOB it
//! sends T81 then T82 and compares the reference, retrying while the wire is still bad.
//!
//! ZVT (`zvt_tcp_…`, `zvt_serial_…`): our till side `ZvtEcr` against our terminal side
//! `ZvtTerminal`, over TCP (delays, chunking anywhere, and a cut that breaks the connection
//! for good) and over serial (lost frames, noise, one damaged byte per chunk — changed, lost or
//! doubled — which the CRC, the NAK and the repeat must recover from, or both sides report
//! failure). A ZVT answer carries no till reference, so the check rests on what it does carry:
//! the status information `04 0F` with the amount, the trace number (BMP `0B`) and the receipt
//! number (`87`, the trace's last four digits) the terminal gave the sale, and its approval
//! code. The terminal's application gives each sale its own trace number and each sale of a
//! case has its own amount; the till takes an answer as its sale's only if the status
//! information came and echoes the amount. Then:
//!
//! | ZVT till view                           | allowed when                                     |
//! |-----------------------------------------|--------------------------------------------------|
//! | `Known(r)`, `r` with a trace number     | approved or not, amount, trace number and        |
//! |                                         | approval code all equal the terminal's           |
//! | `Known(r)` not approved, no trace       | the terminal did not approve this sale (`84 9C`  |
//! |                                         | busy, `06 1E` alone: a claim of "not done")      |
//! | `Unknown` (`TimedOut`/`Failed`)         | always: ZVT has no last-transaction query        |
//!
//! `zvt_mutants_are_caught` breaks the harness's till or wire on purpose (a till that trusts
//! any answer, one that reads a timeout as a decline, a serial link without its CRC) and
//! checks the same properties flag each within the default case count.
//!
//! What is *not* modelled, on purpose: a byte changed inside a ČSOB frame. The ČSOB "B"
//! protocol has no checksum a receiver can verify (the CRC algorithm is not public, the
//! public client always sends `A5A5`), so a changed digit in an amount is undetectable by
//! design; ČSOB runs over TCP, whose own checksum is what protects it. Concert's LRC detects
//! any single damaged byte in a frame, which is the fault modelled there; two damaged bytes
//! with the same XOR pattern in one frame cancel out in any LRC and are not modelled either.

use std::collections::VecDeque;

use ecrlink_core::Instant;
use ecrlink_core::dialect::concert::{
    ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
};
use ecrlink_core::dialect::csob::{CsobConfig, CsobEcr, CsobTerminal};
use ecrlink_core::dialect::zvt::session::config_bit;
use ecrlink_core::dialect::zvt::{
    SerialAccumulator, SerialFeed, Transport, ZvtEcr, ZvtEcrConfig, ZvtTerminal, ZvtTerminalConfig,
    serial,
};
use ecrlink_core::session::{
    Dialect, EcrEvent, EcrSide, MAX_TRANSMIT, TerminalEvent, TerminalSide,
};
use ecrlink_core::txn::{
    ApprovalCode, Currency, DeclineCode, FailReason, Money, Outcome, Reference, Request,
    RequestKind, Response, TerminalId,
};
use proptest::prelude::*;

// ----- the wire -----

/// What happens to one chunk (one `poll_transmit`: a frame or a control byte) on the wire.
#[derive(Clone, Debug)]
enum Fault {
    Pass,
    /// Lost entirely.
    Drop,
    /// Arrives twice.
    Duplicate,
    /// Arrives this many ms late (bytes stay in order).
    Delay(u32),
    /// Only the first `n × len / 256` bytes arrive: the connection broke mid-frame.
    Cut(u8),
    /// These bytes arrive first.
    Garbage(Vec<u8>),
    /// The chunk arrives in two parts, the second this many ms later.
    Split(u8, u32),
    /// One byte damaged (Concert only): XOR-ed with a non-zero value, lost or doubled.
    Damage(u16, Damage),
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    Xor(u8),
    Lose,
    Double,
}

/// One direction of the wire: faults for the first chunks, then clean.
struct Pipe {
    plan: Vec<Fault>,
    sent: usize,
    queue: VecDeque<(u64, Vec<u8>)>,
    last_at: u64,
    /// A cut kills the link for good (TCP: a broken connection carries nothing more).
    cut_kills: bool,
    dead: bool,
    /// Mutant [`Mutant::SerialWithoutCrc`]: a damaged serial frame arrives with a CRC that
    /// matches its damaged contents, as if the link had no checksum.
    no_crc: bool,
}

impl Pipe {
    fn new(plan: Vec<Fault>) -> Self {
        Pipe {
            plan,
            sent: 0,
            queue: VecDeque::new(),
            last_at: 0,
            cut_kills: false,
            dead: false,
            no_crc: false,
        }
    }

    fn enqueue(&mut self, at: u64, bytes: Vec<u8>) {
        let at = at.max(self.last_at);
        self.last_at = at;
        if !bytes.is_empty() {
            self.queue.push_back((at, bytes));
        }
    }

    fn push(&mut self, now: u64, chunk: &[u8]) {
        let fault = self.plan.get(self.sent).cloned().unwrap_or(Fault::Pass);
        self.sent += 1;
        if self.dead {
            return;
        }
        match fault {
            Fault::Pass => self.enqueue(now, chunk.to_vec()),
            Fault::Drop => {}
            Fault::Duplicate => {
                self.enqueue(now, chunk.to_vec());
                self.enqueue(now, chunk.to_vec());
            }
            Fault::Delay(ms) => self.enqueue(now + u64::from(ms), chunk.to_vec()),
            Fault::Cut(n) => {
                let keep = chunk.len() * usize::from(n) / 256;
                self.enqueue(now, chunk[..keep].to_vec());
                self.dead = self.cut_kills;
            }
            Fault::Garbage(g) => {
                self.enqueue(now, g);
                self.enqueue(now, chunk.to_vec());
            }
            Fault::Split(at, ms) => {
                let at = usize::from(at) % (chunk.len() + 1);
                self.enqueue(now, chunk[..at].to_vec());
                self.enqueue(now + u64::from(ms), chunk[at..].to_vec());
            }
            Fault::Damage(pos, Damage::Xor(x)) if self.no_crc => {
                self.enqueue(now, damage_under_crc(chunk, pos, x));
            }
            Fault::Damage(pos, how) => {
                let mut c = chunk.to_vec();
                let i = usize::from(pos) % c.len();
                match how {
                    Damage::Xor(x) => c[i] ^= x,
                    Damage::Lose => {
                        c.remove(i);
                    }
                    Damage::Double => c.insert(i, c[i]),
                }
                self.enqueue(now, c);
            }
        }
    }

    fn next_at(&self) -> Option<u64> {
        self.queue.front().map(|(t, _)| *t)
    }

    fn due(&mut self, now: u64) -> Option<Vec<u8>> {
        match self.queue.front() {
            Some((t, _)) if *t <= now => self.queue.pop_front().map(|(_, b)| b),
            _ => None,
        }
    }
}

/// Mutant [`Mutant::SerialWithoutCrc`]: the first ZVT serial frame of `chunk` with APDU byte
/// `pos` (past the three-byte header when there is data) XOR-ed with `x`, framed again with a
/// CRC that matches. Bytes that are not a whole frame pass as they are.
fn damage_under_crc(chunk: &[u8], pos: u16, x: u8) -> Vec<u8> {
    let mut acc = SerialAccumulator::<2048>::new();
    let mut out = Vec::new();
    let mut rest = chunk;
    let mut damaged = false;
    while !rest.is_empty() {
        let (r, used) = acc.feed(rest);
        match r {
            Ok(SerialFeed::Frame(apdu)) if !damaged => {
                let mut apdu = apdu.to_vec();
                let i = if apdu.len() > 3 {
                    3 + usize::from(pos) % (apdu.len() - 3)
                } else {
                    usize::from(pos) % apdu.len()
                };
                apdu[i] ^= x;
                let mut frame = vec![0u8; serial::frame_len(&apdu)];
                let n = serial::encode_frame(&apdu, &mut frame).unwrap();
                out.extend_from_slice(&frame[..n]);
                damaged = true;
            }
            _ => out.extend_from_slice(&rest[..used]),
        }
        rest = &rest[used..];
    }
    out
}

// ----- the scenario -----

#[derive(Clone, Debug)]
struct Sale {
    /// Card wait (an abort cancels it), then bank exchange (an abort does not).
    card_ms: u64,
    bank_ms: u64,
    approve: bool,
}

#[derive(Clone, Debug)]
struct Case {
    dialect: Dialect,
    /// ZVT only: TCP or serial framing (Concert and ČSOB ignore it).
    transport: Transport,
    /// ZVT only: the till registers for receipts as `06 D3` text blocks, not `06 D1` lines.
    text_blocks: bool,
    sales: Vec<Sale>,
    to_terminal: Vec<Fault>,
    to_till: Vec<Fault>,
    /// A deliberate bug, to show the judge catches it (`Mutant::None` in the properties).
    mutant: Mutant,
}

/// Deliberate bugs in the harness's till or wire, each of which the properties must catch
/// (`zvt_mutants_are_caught`): if one passes, the properties prove less than they claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutant {
    None,
    /// The till takes any answer as the answer to its sale, without checking that the status
    /// information echoes the amount: a late answer to an earlier sale is believed.
    TillTrustsAnyAnswer,
    /// The till reads "no answer in time" as a decline.
    TillReadsTimeoutAsDeclined,
    /// The serial link without its CRC: a damaged frame is delivered as if it were whole.
    SerialWithoutCrc,
}

fn amount_of(i: usize) -> Money {
    Money::new(1000 + 111 * i as u64, Currency::CZK).unwrap()
}

fn reference_of(i: usize) -> Reference {
    Reference::new(&format!("S{i}")).unwrap()
}

fn sale_request(i: usize) -> Request {
    Request::Sale {
        amount: amount_of(i),
        reference: Some(reference_of(i)),
    }
}

/// Index of the sale a request is for, from its reference (`S<i>`).
fn sale_index(r: &Option<Reference>) -> Option<usize> {
    r.as_ref()?.as_str().strip_prefix('S')?.parse().ok()
}

// ----- the terminal's application (the agent's engine, in miniature) -----

#[derive(Clone, Debug)]
enum JobKind {
    Sale(usize),
    Last,
}

#[derive(Clone, Debug)]
struct Job {
    kind: JobKind,
    /// Id of the request on the connection this job answers (None: nobody waits).
    reply: Option<u64>,
    started: Option<u64>,
}

struct App {
    dialect: Dialect,
    sales: Vec<Sale>,
    /// The terminal's next trace number (ZVT: sent in `04 0F`, receipt number its last four
    /// digits).
    next_trace: u32,
    queue: VecDeque<Job>,
    /// The connection's request awaiting its answer (the agent's `pending`).
    pending: Option<u64>,
    next_id: u64,
    last: Option<Response>,
    /// What the terminal decided for each sale (its journal).
    truth: Vec<Option<Response>>,
    /// How many times each sale was approved.
    approvals: Vec<u32>,
    /// Answers given and not yet reported delivered/undelivered: (sale index or None, response).
    answering: VecDeque<(Option<usize>, Response)>,
    /// Sales whose answer the session reported delivered.
    delivered: Vec<(usize, Response)>,
    violations: Vec<String>,
}

impl App {
    fn new(dialect: Dialect, sales: &[Sale]) -> Self {
        // A terminal that has been used: its last transaction is an earlier sale "S99".
        let mut earlier = Response::new(RequestKind::Sale, Outcome::Approved);
        earlier.amount = Some(Money::new(99, Currency::CZK).unwrap());
        earlier.reference = Some(Reference::new("S99").unwrap());
        earlier.approval_code = Some(ApprovalCode::new("OLD001").unwrap());
        App {
            dialect,
            sales: sales.to_vec(),
            next_trace: 4711,
            queue: VecDeque::new(),
            pending: None,
            next_id: 0,
            last: Some(earlier),
            truth: vec![None; sales.len()],
            approvals: vec![0; sales.len()],
            answering: VecDeque::new(),
            delivered: Vec::new(),
            violations: Vec::new(),
        }
    }

    fn respond(&mut self, now: u64, term: &mut dyn TerminalSide, sale: Option<usize>, r: Response) {
        // A refused `respond` (two requests taken from one read: the second replaced the
        // first, which the session already answered) leaves the till without an answer: it
        // times out and asks again, nothing silent. The agent logs the same.
        let untracked = self.dialect == Dialect::Zvt && r.kind == RequestKind::Abort;
        if term.respond(Instant::from_millis(now), &r).is_ok() && !untracked {
            // (A ZVT session answers the till's `06 B0` itself; the running command ends
            // with its own answer, the one tracked.)
            self.answering.push_back((sale, r));
        }
    }

    fn on_event(&mut self, now: u64, ev: TerminalEvent, term: &mut dyn TerminalSide) {
        match ev {
            TerminalEvent::Request(req) => self.on_request(now, req, term),
            TerminalEvent::ResponseDelivered => match self.answering.pop_front() {
                Some((Some(i), r)) => self.delivered.push((i, r)),
                Some((None, _)) => {}
                None => self
                    .violations
                    .push(format!("t={now} ResponseDelivered with no answer out")),
            },
            TerminalEvent::ResponseUndelivered(_) => {
                if self.answering.pop_front().is_none() {
                    self.violations
                        .push(format!("t={now} ResponseUndelivered with no answer out"));
                }
            }
            TerminalEvent::ReceiptRequested => {
                // ZVT sends the receipt to a till that registered for it; the others print.
                if self.dialect == Dialect::Zvt {
                    let _ = term.send_receipt_part(
                        Instant::from_millis(now),
                        "ECRLINK SHOP\nSALE\nTHANK YOU\n",
                        false,
                    );
                }
            }
            TerminalEvent::ProtocolError(_) => {}
        }
    }

    /// The sale a request is for: by its reference (`S<i>`), or, in ZVT, whose commands carry
    /// no till reference, by its amount (each sale of a case has its own).
    fn sale_of(&self, amount: Money, reference: &Option<Reference>) -> Option<usize> {
        let i = match self.dialect {
            Dialect::Zvt => (0..self.sales.len()).find(|&i| amount_of(i) == amount),
            Dialect::Concert | Dialect::Csob => sale_index(reference),
        };
        i.filter(|&i| i < self.sales.len())
    }

    fn on_request(&mut self, now: u64, req: Request, term: &mut dyn TerminalSide) {
        let kind = req.kind();
        match req {
            Request::Sale { amount, reference } => {
                let Some(i) = self.sale_of(amount, &reference) else {
                    self.violations
                        .push(format!("t={now} phantom sale request {reference:?}"));
                    return;
                };
                if amount != amount_of(i) {
                    self.violations
                        .push(format!("t={now} sale S{i} arrived with amount {amount}"));
                    return;
                }
                if self.pending.is_some() {
                    let r = Response::new(
                        kind,
                        Outcome::Failed {
                            reason: FailReason::Busy,
                        },
                    );
                    return self.respond(now, term, None, r);
                }
                self.enqueue(now, JobKind::Sale(i));
            }
            Request::LastTransaction => {
                if self.pending.is_some() {
                    let r = Response::new(
                        kind,
                        Outcome::Failed {
                            reason: FailReason::Busy,
                        },
                    );
                    return self.respond(now, term, None, r);
                }
                self.enqueue(now, JobKind::Last);
            }
            Request::Abort if self.dialect == Dialect::Zvt => {
                // ZVT `06 B0`: the running command ends with its own answer: cancelled during
                // the card wait, else the bank's answer when it comes.
                if let Some(job) = self.queue.front() {
                    if let (JobKind::Sale(i), Some(start), Some(id)) =
                        (&job.kind, job.started, job.reply)
                    {
                        let i = *i;
                        if now < start + self.sales[i].card_ms && self.pending == Some(id) {
                            self.queue.pop_front();
                            self.pending = None;
                            let r = self.decide(now, i, Outcome::Cancelled);
                            self.respond(now, term, Some(i), r);
                            self.start_next(now);
                        }
                    }
                }
                let r = Response::new(kind, Outcome::Approved);
                self.respond(now, term, None, r);
            }
            Request::Abort => {
                // As the agent's till driver: the waiting request is abandoned; a card wait
                // in progress is cancelled, a bank exchange runs to its end.
                self.pending = None;
                let mut cancelled = false;
                if let Some(job) = self.queue.front_mut() {
                    if let (JobKind::Sale(i), Some(start)) = (&job.kind, job.started) {
                        if now < start + self.sales[*i].card_ms {
                            let i = *i;
                            job.reply = None;
                            self.queue.pop_front();
                            self.decide(now, i, Outcome::Cancelled);
                            cancelled = true;
                        }
                    }
                }
                for job in self.queue.iter_mut() {
                    job.reply = None;
                }
                let outcome = if cancelled {
                    Outcome::Approved
                } else {
                    Outcome::Failed {
                        reason: FailReason::NoMatchingTransaction,
                    }
                };
                self.respond(now, term, None, Response::new(kind, outcome));
                self.start_next(now);
            }
            other => self
                .violations
                .push(format!("t={now} unexpected request {:?}", other.kind())),
        }
    }

    fn enqueue(&mut self, now: u64, kind: JobKind) {
        let id = self.next_id;
        self.next_id += 1;
        self.pending = Some(id);
        self.queue.push_back(Job {
            kind,
            reply: Some(id),
            started: None,
        });
        self.start_next(now);
    }

    fn start_next(&mut self, now: u64) {
        if let Some(job) = self.queue.front_mut() {
            if job.started.is_none() {
                job.started = Some(now);
            }
        }
    }

    /// Journals the outcome of sale `i` as the last transaction and returns its answer.
    fn decide(&mut self, now: u64, i: usize, outcome: Outcome) -> Response {
        let mut r = Response::new(RequestKind::Sale, outcome);
        r.amount = Some(amount_of(i));
        r.reference = Some(reference_of(i));
        if self.dialect == Dialect::Zvt {
            r.trace = Some(self.next_trace);
            self.next_trace += 1;
        }
        if r.outcome.is_approved() {
            self.approvals[i] += 1;
            r.approval_code = Some(ApprovalCode::new(&format!("A{i}{:04}", now % 10_000)).unwrap());
        }
        if self.truth[i].is_some() {
            self.violations.push(format!("t={now} sale S{i} ran twice"));
        }
        self.truth[i] = Some(r.clone());
        self.last = Some(r.clone());
        r
    }

    fn next_at(&self) -> Option<u64> {
        let job = self.queue.front()?;
        let start = job.started?;
        Some(match job.kind {
            JobKind::Sale(i) => start + self.sales[i].card_ms + self.sales[i].bank_ms,
            JobKind::Last => start,
        })
    }

    fn run_due(&mut self, now: u64, term: &mut dyn TerminalSide) -> bool {
        let Some(at) = self.next_at() else {
            return false;
        };
        if at > now {
            return false;
        }
        let Some(job) = self.queue.pop_front() else {
            return false;
        };
        let (sale, r) = match job.kind {
            JobKind::Sale(i) => {
                let outcome = if self.sales[i].approve {
                    Outcome::Approved
                } else {
                    Outcome::Declined {
                        code: DeclineCode::new("05").unwrap(),
                    }
                };
                (Some(i), self.decide(now, i, outcome))
            }
            JobKind::Last => {
                let r = match &self.last {
                    Some(l) => {
                        let mut r = l.clone();
                        r.kind = RequestKind::LastTransaction;
                        r
                    }
                    None => Response::new(
                        RequestKind::LastTransaction,
                        Outcome::Failed {
                            reason: FailReason::NoMatchingTransaction,
                        },
                    ),
                };
                (None, r)
            }
        };
        if job.reply.is_some() && job.reply == self.pending {
            self.pending = None;
            self.respond(now, term, sale, r);
        }
        self.start_next(now);
        true
    }
}

// ----- the till (a careful one) -----

#[derive(Clone, Debug, PartialEq)]
enum View {
    Pending,
    Known(Response),
    NotDone(Response),
    Unknown,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Start sale `i` at this time.
    Start(usize, u64),
    Waiting(usize),
    /// Recovery attempt `n`: send T81 at this time.
    Abort(usize, u32, u64),
    AwaitAbort(usize, u32),
    AwaitLast(usize, u32),
    Done,
}

/// Recovery attempts (T81 + T82) before the till gives up and says unknown.
const RECOVERY_TRIES: u32 = 8;
/// Pause before a recovery attempt.
const RECOVERY_PAUSE_MS: u64 = 2_000;

struct Till {
    dialect: Dialect,
    mutant: Mutant,
    n: usize,
    phase: Phase,
    views: Vec<View>,
}

impl Till {
    fn new(dialect: Dialect, mutant: Mutant, n: usize) -> Self {
        Till {
            dialect,
            mutant,
            n,
            phase: if n == 0 {
                Phase::Done
            } else {
                Phase::Start(0, 0)
            },
            views: vec![View::Pending; n],
        }
    }

    /// Whether an answer echoes sale `i` (a careful till checks amount and reference).
    ///
    /// A ZVT answer carries no till reference. What it carries is the status information
    /// (`04 0F`): the amount, the trace number and the receipt number the terminal gave the
    /// sale. The ZVT till takes an answer as its sale's only when the status information came
    /// (a trace number is there) and echoes the amount; each sale of a case has its own amount,
    /// so a late answer to an earlier sale cannot pass. A refusal without status information
    /// (`84 xx`, or `06 1E` alone) only says the sale was not done, which the judge checks
    /// against the terminal.
    fn echoes(&self, r: &Response, i: usize) -> bool {
        if self.mutant == Mutant::TillTrustsAnyAnswer {
            return true;
        }
        match self.dialect {
            Dialect::Zvt => {
                r.amount == Some(amount_of(i)) && (r.trace.is_some() || !r.outcome.is_approved())
            }
            Dialect::Concert | Dialect::Csob => {
                r.amount == Some(amount_of(i)) && r.reference.as_ref() == Some(&reference_of(i))
            }
        }
    }

    fn finish(&mut self, now: u64, i: usize, v: View) {
        self.views[i] = v;
        self.phase = if i + 1 < self.n {
            Phase::Start(i + 1, now + 500)
        } else {
            Phase::Done
        };
    }

    fn unknown(&mut self, now: u64, i: usize, attempt: u32) {
        match self.dialect {
            Dialect::Concert => self.finish(now, i, View::Unknown),
            Dialect::Csob if attempt < RECOVERY_TRIES => {
                self.phase = Phase::Abort(i, attempt + 1, now + RECOVERY_PAUSE_MS)
            }
            Dialect::Csob | Dialect::Zvt => self.finish(now, i, View::Unknown),
        }
    }

    fn next_at(&self) -> Option<u64> {
        match self.phase {
            Phase::Start(_, t) | Phase::Abort(_, _, t) => Some(t),
            _ => None,
        }
    }

    fn act(&mut self, now: u64, ecr: &mut dyn EcrSide) -> bool {
        let at = Instant::from_millis(now);
        match self.phase {
            Phase::Start(i, t) if t <= now => {
                if ecr.start(at, &sale_request(i)).is_ok() {
                    self.phase = Phase::Waiting(i);
                } else {
                    self.phase = Phase::Start(i, now + 100);
                }
                true
            }
            Phase::Abort(i, n, t) if t <= now => {
                if ecr.start(at, &Request::Abort).is_ok() {
                    self.phase = Phase::AwaitAbort(i, n);
                } else {
                    self.phase = Phase::Abort(i, n, now + 100);
                }
                true
            }
            _ => false,
        }
    }

    fn on_event(&mut self, now: u64, ev: EcrEvent, ecr: &mut dyn EcrSide) {
        let settled = matches!(
            ev,
            EcrEvent::Response(_) | EcrEvent::TimedOut | EcrEvent::Failed(_)
        );
        if !settled {
            return;
        }
        match self.phase {
            Phase::Waiting(i) => match ev {
                EcrEvent::Response(r) if self.echoes(&r, i) => self.finish(now, i, View::Known(r)),
                EcrEvent::TimedOut if self.mutant == Mutant::TillReadsTimeoutAsDeclined => {
                    let mut r = Response::new(
                        RequestKind::Sale,
                        Outcome::Declined {
                            code: DeclineCode::new("05").unwrap(),
                        },
                    );
                    r.amount = Some(amount_of(i));
                    self.finish(now, i, View::Known(r))
                }
                _ => self.unknown(now, i, 0),
            },
            Phase::AwaitAbort(i, n) => {
                // Whatever T81 answered, ask for the last transaction.
                if ecr
                    .start(Instant::from_millis(now), &Request::LastTransaction)
                    .is_ok()
                {
                    self.phase = Phase::AwaitLast(i, n);
                } else {
                    self.unknown(now, i, n);
                }
            }
            Phase::AwaitLast(i, n) => match ev {
                EcrEvent::Response(r) if self.echoes(&r, i) => self.finish(now, i, View::Known(r)),
                // T82 names another sale as the last one: this one never completed.
                EcrEvent::Response(r)
                    if r.kind == RequestKind::LastTransaction
                        && sale_index(&r.reference).is_some_and(|j| j != i) =>
                {
                    self.finish(now, i, View::NotDone(r))
                }
                _ => self.unknown(now, i, n),
            },
            _ => {}
        }
    }
}

// ----- the simulation -----

fn sessions(case: &Case) -> (Box<dyn EcrSide>, Box<dyn TerminalSide>) {
    match case.dialect {
        Dialect::Concert => (
            Box::new(ConcertEcr::new(ConcertEcrConfig::default())),
            Box::new(ConcertTerminal::new(ConcertTerminalConfig::default())),
        ),
        Dialect::Csob => {
            let id = TerminalId::new("TERM0001").unwrap();
            (
                Box::new(CsobEcr::new(CsobConfig::new(id.clone()))),
                Box::new(CsobTerminal::new(CsobConfig::new(id))),
            )
        }
        Dialect::Zvt => {
            let mut e = ZvtEcrConfig::new(Currency::CZK);
            e.transport = case.transport;
            if case.text_blocks {
                e.config_byte |= config_bit::TEXT_BLOCKS;
            }
            let mut t = ZvtTerminalConfig::new(Currency::CZK);
            t.transport = case.transport;
            (Box::new(ZvtEcr::new(e)), Box::new(ZvtTerminal::new(t)))
        }
    }
}

struct Outcome3 {
    /// What happened, for the failure message.
    trace: Vec<String>,
    views: Vec<View>,
    truth: Vec<Option<Response>>,
    approvals: Vec<u32>,
    delivered: Vec<(usize, Response)>,
    violations: Vec<String>,
}

/// Runs a case to its end (every timer run out) and returns what each side believes.
fn run(case: &Case) -> Outcome3 {
    let (mut ecr, mut term) = sessions(case);
    let mut to_term = Pipe::new(case.to_terminal.clone());
    let mut to_ecr = Pipe::new(case.to_till.clone());
    let zvt_tcp = case.dialect == Dialect::Zvt && case.transport == Transport::Tcp;
    for p in [&mut to_term, &mut to_ecr] {
        p.cut_kills = zvt_tcp;
        p.no_crc = case.mutant == Mutant::SerialWithoutCrc;
    }
    let mut app = App::new(case.dialect, &case.sales);
    let mut till = Till::new(case.dialect, case.mutant, case.sales.len());
    let mut buf = vec![0u8; MAX_TRANSMIT];
    let mut now = 0u64;
    let mut violations = Vec::new();
    let mut trace = Vec::new();
    let show = |b: &[u8]| -> String {
        b.iter()
            .map(|&c| {
                if (0x20..0x7f).contains(&c) {
                    (c as char).to_string()
                } else {
                    format!("<{c:02x}>")
                }
            })
            .collect()
    };
    let mut finished = false;
    for _step in 0..200_000 {
        // Let every party act at `now` until nothing moves.
        loop {
            let mut moved = false;
            let t = Instant::from_millis(now);
            while let Ok(Some(n)) = ecr.poll_transmit(&mut buf) {
                trace.push(format!(
                    "{now} till sends #{} {}",
                    to_term.sent,
                    show(&buf[..n])
                ));
                to_term.push(now, &buf[..n]);
                moved = true;
            }
            while let Ok(Some(n)) = term.poll_transmit(&mut buf) {
                trace.push(format!(
                    "{now} terminal sends #{} {}",
                    to_ecr.sent,
                    show(&buf[..n])
                ));
                to_ecr.push(now, &buf[..n]);
                moved = true;
            }
            if to_term.dead || to_ecr.dead {
                // A broken TCP connection carries nothing more either way.
                to_term.dead = true;
                to_ecr.dead = true;
            }
            while let Some(b) = to_term.due(now) {
                trace.push(format!("{now} terminal gets {}", show(&b)));
                term.handle_bytes(t, &b);
                moved = true;
            }
            while let Some(b) = to_ecr.due(now) {
                trace.push(format!("{now} till gets {}", show(&b)));
                ecr.handle_bytes(t, &b);
                moved = true;
            }
            if term.poll_timeout().is_some_and(|d| d <= t) {
                term.handle_timeout(t);
                moved = true;
            }
            if ecr.poll_timeout().is_some_and(|d| d <= t) {
                ecr.handle_timeout(t);
                moved = true;
            }
            while let Some(ev) = term.poll_event() {
                trace.push(format!("{now} terminal event {}", brief_t(&ev)));
                app.on_event(now, ev, term.as_mut());
                moved = true;
            }
            while let Some(ev) = ecr.poll_event() {
                trace.push(format!("{now} till event {}", brief_e(&ev)));
                till.on_event(now, ev, ecr.as_mut());
                moved = true;
            }
            moved |= app.run_due(now, term.as_mut());
            moved |= till.act(now, ecr.as_mut());
            if !moved {
                break;
            }
        }
        let next = [
            ecr.poll_timeout().map(Instant::as_millis),
            term.poll_timeout().map(Instant::as_millis),
            to_term.next_at(),
            to_ecr.next_at(),
            app.next_at(),
            till.next_at(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) => now = now.max(t),
            None => {
                finished = true;
                break;
            }
        }
        if now > 3_600_000 {
            violations.push("simulation ran past one hour".to_string());
            break;
        }
    }
    if !finished {
        violations.push("simulation did not settle".to_string());
    }
    if ecr.is_busy() || term.is_busy() {
        violations.push(format!(
            "sessions not idle at the end: till busy {}, terminal busy {}",
            ecr.is_busy(),
            term.is_busy()
        ));
    }
    if !app.answering.is_empty() {
        violations.push(format!(
            "answers never reported delivered or undelivered: {}",
            app.answering.len()
        ));
    }
    violations.extend(app.violations);
    Outcome3 {
        trace,
        views: till.views,
        truth: app.truth,
        approvals: app.approvals,
        delivered: app.delivered,
        violations,
    }
}

/// The facts money depends on: approved or not, amount, reference (not ZVT: its answers
/// carry none), approval code (not Concert: its answers carry none), trace number (ZVT only,
/// from the status information; its last four digits are the receipt number).
fn money_facts(
    d: Dialect,
    r: &Response,
) -> (
    bool,
    Option<Money>,
    Option<Reference>,
    Option<ApprovalCode>,
    Option<u32>,
) {
    (
        r.outcome.is_approved(),
        r.amount,
        match d {
            Dialect::Concert | Dialect::Csob => r.reference.clone(),
            Dialect::Zvt => None,
        },
        match d {
            Dialect::Csob | Dialect::Zvt => r.approval_code.clone(),
            Dialect::Concert => None,
        },
        match d {
            Dialect::Zvt => r.trace,
            Dialect::Concert | Dialect::Csob => None,
        },
    )
}

/// Every disagreement between what the till believes and what the terminal did.
fn judge(case: &Case, o: &Outcome3) -> Vec<String> {
    let d = case.dialect;
    let mut bad = o.violations.clone();
    for (i, view) in o.views.iter().enumerate() {
        let truth = o.truth[i].as_ref();
        let approved = truth.is_some_and(|t| t.outcome.is_approved());
        if o.approvals[i] > 1 {
            bad.push(format!("S{i}: approved {} times", o.approvals[i]));
        }
        match view {
            View::Pending => bad.push(format!("S{i}: the till never finished")),
            View::Known(r) => match truth {
                Some(t) if money_facts(d, r) == money_facts(d, t) => {}
                // ZVT: a refusal without status information (`84 9C` busy, `06 1E` alone)
                // claims only that the sale was not done.
                _ if d == Dialect::Zvt
                    && !r.outcome.is_approved()
                    && r.trace.is_none()
                    && !approved => {}
                _ => bad.push(format!(
                    "S{i}: silent disagreement: the till believes {:?} {:?}, the terminal did {:?}",
                    r.outcome,
                    r.approval_code,
                    truth.map(|t| (&t.outcome, &t.approval_code))
                )),
            },
            View::NotDone(r) => {
                if approved {
                    bad.push(format!(
                        "S{i}: the till believes it never happened (T82 said {:?}), the terminal approved it",
                        r.reference
                    ));
                }
            }
            View::Unknown => {
                if d == Dialect::Csob {
                    bad.push(format!("S{i}: ČSOB till still unknown after a clean wire"));
                }
            }
        }
    }
    // Concert is exempt: its link ACKs an answer frame whatever the till's application makes
    // of it, so a till that already said "unknown" (e.g. after a doubled NAK made it give up on
    // its request, which the terminal still took) ACKs the late answer, and the terminal counts
    // it delivered. Nothing is silent there: the till did report unknown.
    if d == Dialect::Csob {
        for (i, r) in &o.delivered {
            let ok =
                matches!(&o.views[*i], View::Known(k) if money_facts(d, k) == money_facts(d, r));
            if !ok {
                bad.push(format!(
                    "S{i}: the terminal counts its answer delivered, the till ended with {:?}",
                    o.views[*i]
                ));
            }
        }
    }
    bad
}

fn brief_r(r: &Response) -> String {
    format!(
        "{:?} {} {:?} {:?} {:?}",
        r.kind,
        r.outcome.name(),
        r.amount.map(|m| m.minor()),
        r.reference.as_ref().map(|x| x.as_str()),
        r.approval_code.as_ref().map(|x| x.as_str())
    )
}

fn brief_t(e: &TerminalEvent) -> String {
    match e {
        TerminalEvent::Request(r) => {
            format!("Request {:?} {:?}", r.kind(), r.amount().map(|m| m.minor()))
        }
        other => format!("{other:?}"),
    }
}

fn brief_e(e: &EcrEvent) -> String {
    match e {
        EcrEvent::Response(r) => format!("Response {}", brief_r(r)),
        other => format!("{other:?}"),
    }
}

/// The failure report: what went wrong, what each side believes, and the end of the trace.
fn report(bad: &[String], o: &Outcome3) -> String {
    let views: Vec<String> = o
        .views
        .iter()
        .map(|v| match v {
            View::Known(r) => format!("Known({})", brief_r(r)),
            View::NotDone(r) => format!("NotDone({})", brief_r(r)),
            other => format!("{other:?}"),
        })
        .collect();
    let truth: Vec<String> = o
        .truth
        .iter()
        .map(|t| t.as_ref().map_or("never ran".to_string(), brief_r))
        .collect();
    let from = o.trace.len().saturating_sub(80);
    format!(
        "{bad:#?}\ntill: {views:#?}\nterminal: {truth:#?}\ntrace:\n{}",
        o.trace[from..].join("\n")
    )
}

// ----- strategies -----

/// One byte damaged: changed, lost or doubled (serial lines only).
fn damage() -> BoxedStrategy<Fault> {
    let how = prop_oneof![
        (1u8..=255).prop_map(Damage::Xor),
        Just(Damage::Lose),
        Just(Damage::Double),
    ];
    (any::<u16>(), how)
        .prop_map(|(p, h)| Fault::Damage(p, h))
        .boxed()
}

/// Faults of ZVT's two links. TCP: delays, a chunk split in two (the stream cut anywhere,
/// including mid-APDU), and a cut that breaks the connection for good (nothing lost, doubled
/// or changed inside a connection that goes on: TCP does not do that). Serial: besides those,
/// frames lost, noise between frames, and one damaged byte per chunk (changed, lost or
/// doubled), which the CRC catches and the NAK repeats. A whole frame arriving twice is not
/// drawn: a serial line does not copy frames; a copy comes from a sender repeating after a
/// NAK, and that is drawn (noise holding `15`, an ACK damaged into a NAK). ZVT has no
/// sequence number to tell a copy from a new command, so the till that sent a frame twice
/// trusts no refusal after it (see `ZvtEcr`'s module docs).
fn zvt_fault(transport: Transport) -> BoxedStrategy<Fault> {
    let tcp = prop_oneof![
        6 => Just(Fault::Pass),
        3 => (0u32..8_000).prop_map(Fault::Delay),
        3 => (any::<u8>(), 0u32..3_000).prop_map(|(a, ms)| Fault::Split(a, ms)),
        1 => any::<u8>().prop_map(Fault::Cut),
    ];
    match transport {
        Transport::Tcp => tcp.boxed(),
        Transport::Serial => prop_oneof![
            5 => tcp,
            2 => Just(Fault::Drop),
            1 => proptest::collection::vec(any::<u8>(), 1..8).prop_map(Fault::Garbage),
            4 => damage(),
        ]
        .boxed(),
    }
}

fn fault(dialect: Dialect, transport: Transport) -> BoxedStrategy<Fault> {
    if dialect == Dialect::Zvt {
        return zvt_fault(transport);
    }
    let common = prop_oneof![
        6 => Just(Fault::Pass),
        2 => Just(Fault::Drop),
        1 => Just(Fault::Duplicate),
        2 => (0u32..5_000).prop_map(Fault::Delay),
        1 => any::<u8>().prop_map(Fault::Cut),
        // ČSOB has no checksum: garbage holding an ETX right after a frame that was cut short
        // closes that frame as a valid shorter one (`T00 FS B1000` cut to `T00 FS B1` is a
        // sale of 0.01). Over TCP neither garbage nor a cut-and-continue stream exists (a new
        // connection is a new session), so ČSOB noise has no ETX; Concert's LRC catches it.
        1 => proptest::collection::vec(any::<u8>(), 1..8)
            .prop_map(move |mut g| {
                if dialect == Dialect::Csob {
                    g.retain(|&b| b != 0x03);
                }
                Fault::Garbage(g)
            }),
        1 => (any::<u8>(), 0u32..2_000).prop_map(|(a, ms)| Fault::Split(a, ms)),
    ];
    match dialect {
        Dialect::Csob | Dialect::Zvt => common.boxed(),
        Dialect::Concert => prop_oneof![5 => common, 2 => damage()].boxed(),
    }
}

fn sale() -> impl Strategy<Value = Sale> {
    (
        prop_oneof![3 => 0u64..2_000, 1 => 0u64..80_000],
        prop_oneof![3 => 0u64..2_000, 1 => 0u64..20_000],
        prop::bool::weighted(0.8),
    )
        .prop_map(|(card_ms, bank_ms, approve)| Sale {
            card_ms,
            bank_ms,
            approve,
        })
}

fn case(dialect: Dialect) -> impl Strategy<Value = Case> {
    case_on(dialect, Transport::Tcp, Mutant::None)
}

fn case_on(dialect: Dialect, transport: Transport, mutant: Mutant) -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(sale(), 1..=3),
        proptest::collection::vec(fault(dialect, transport), 0..16),
        proptest::collection::vec(fault(dialect, transport), 0..16),
        any::<bool>(),
    )
        .prop_map(move |(sales, to_terminal, to_till, text_blocks)| Case {
            dialect,
            transport,
            text_blocks,
            sales,
            to_terminal,
            to_till,
            mutant,
        })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // Under miri a handful of cases shows the code is sound; the search happens natively.
        cases: if cfg!(miri) {
            2
        } else {
            std::env::var("SESSION_PROPS_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(512)
        },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn concert_till_and_terminal_never_silently_disagree(c in case(Dialect::Concert)) {
        let o = run(&c);
        let bad = judge(&c, &o);
        prop_assert!(bad.is_empty(), "{}", report(&bad, &o));
    }

    #[test]
    fn csob_till_and_terminal_never_silently_disagree(c in case(Dialect::Csob)) {
        let o = run(&c);
        let bad = judge(&c, &o);
        prop_assert!(bad.is_empty(), "{}", report(&bad, &o));
    }

    #[test]
    fn zvt_tcp_till_and_terminal_never_silently_disagree(
        c in case_on(Dialect::Zvt, Transport::Tcp, Mutant::None)
    ) {
        let o = run(&c);
        let bad = judge(&c, &o);
        prop_assert!(bad.is_empty(), "{}", report(&bad, &o));
    }

    #[test]
    fn zvt_serial_till_and_terminal_never_silently_disagree(
        c in case_on(Dialect::Zvt, Transport::Serial, Mutant::None)
    ) {
        let o = run(&c);
        let bad = judge(&c, &o);
        prop_assert!(bad.is_empty(), "{}", report(&bad, &o));
    }
}

// ----- fixed cases: the properties are not vacuous -----

fn one_sale(dialect: Dialect, to_terminal: Vec<Fault>, to_till: Vec<Fault>) -> (Case, Outcome3) {
    let case = Case {
        dialect,
        transport: Transport::Tcp,
        text_blocks: false,
        sales: vec![Sale {
            card_ms: 300,
            bank_ms: 300,
            approve: true,
        }],
        to_terminal,
        to_till,
        mutant: Mutant::None,
    };
    let o = run(&case);
    (case, o)
}

#[test]
fn clean_wire_both_dialects_agree_directly() {
    for d in [Dialect::Concert, Dialect::Csob] {
        let (c, o) = one_sale(d, vec![], vec![]);
        assert!(judge(&c, &o).is_empty(), "{d:?}: {:?}", judge(&c, &o));
        assert!(
            matches!(&o.views[0], View::Known(r) if r.outcome.is_approved()),
            "{d:?}: {:?}",
            o.views
        );
        assert_eq!(o.delivered.len(), 1, "{d:?}");
    }
}

#[test]
fn csob_lost_answer_is_recovered_through_last_transaction() {
    // To the till: B0 (accepted), then the B2 is lost.
    let (c, o) = one_sale(Dialect::Csob, vec![], vec![Fault::Pass, Fault::Drop]);
    assert!(judge(&c, &o).is_empty(), "{:?}", judge(&c, &o));
    let View::Known(r) = &o.views[0] else {
        panic!("{:?}", o.views)
    };
    assert_eq!(r.kind, RequestKind::LastTransaction, "learnt through T82");
    assert!(r.outcome.is_approved());
    assert!(o.delivered.is_empty(), "the lost B2 was not confirmed");
}

#[test]
fn csob_lost_request_is_known_not_done() {
    let (c, o) = one_sale(Dialect::Csob, vec![Fault::Drop], vec![]);
    assert!(judge(&c, &o).is_empty(), "{:?}", judge(&c, &o));
    assert!(matches!(&o.views[0], View::NotDone(_)), "{:?}", o.views);
    assert!(o.truth[0].is_none());
}

#[test]
fn concert_lost_answer_leg_is_reported_unknown() {
    // Terminal to till: every byte of the answer leg lost (ENQ and its retries).
    let (c, o) = one_sale(
        Dialect::Concert,
        vec![],
        // Request leg: ACK (ENQ), ACK (frame); answer leg: all three ENQs lost.
        vec![
            Fault::Pass,
            Fault::Pass,
            Fault::Drop,
            Fault::Drop,
            Fault::Drop,
            Fault::Drop,
            Fault::Drop,
            Fault::Drop,
        ],
    );
    assert!(judge(&c, &o).is_empty(), "{:?}", judge(&c, &o));
    assert_eq!(o.views[0], View::Unknown);
    assert!(o.truth[0].as_ref().is_some_and(|t| t.outcome.is_approved()));
}

#[test]
fn the_judge_catches_a_silent_disagreement() {
    // A forged outcome: the till believes declined while the terminal approved.
    let (c, mut o) = one_sale(Dialect::Csob, vec![], vec![]);
    let View::Known(r) = &mut o.views[0] else {
        panic!()
    };
    r.outcome = Outcome::Declined {
        code: DeclineCode::new("05").unwrap(),
    };
    assert!(!judge(&c, &o).is_empty());
}

/// The generated faults reach every kind of ending: the properties above are not vacuous.
#[test]
#[cfg_attr(miri, ignore = "thousands of simulations: too slow under miri")]
fn faults_reach_every_ending() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    for d in [Dialect::Concert, Dialect::Csob] {
        let mut runner = TestRunner::deterministic();
        let (mut known, mut recovered, mut not_done, mut unknown) = (0, 0, 0, 0);
        for _ in 0..1_000 {
            let c = case(d).new_tree(&mut runner).unwrap().current();
            for v in &run(&c).views {
                match v {
                    View::Known(r) if r.kind == RequestKind::LastTransaction => recovered += 1,
                    View::Known(_) => known += 1,
                    View::NotDone(_) => not_done += 1,
                    View::Unknown => unknown += 1,
                    View::Pending => {}
                }
            }
        }
        println!(
            "{d:?}: known {known}, recovered by T82 {recovered}, not done {not_done}, unknown {unknown}"
        );
        assert!(known > 100, "{d:?}");
        match d {
            Dialect::Concert => assert!(unknown > 100 && recovered == 0 && not_done == 0),
            Dialect::Csob => assert!(recovered > 50 && not_done > 50 && unknown == 0),
            Dialect::Zvt => {}
        }
    }
}

/// A known limit of the ČSOB protocol, kept executable: a B1 cut short and closed by a stray
/// ETX is a valid, shorter B1 (`T00 FS B1000` becomes `T00 FS B1`, a sale of 0.01), which no
/// receiver can detect (no verifiable checksum; the length field cannot be trusted because
/// the public client miscomputes it). Over TCP this needs a stream that goes on after a cut,
/// which does not happen (the agent starts a new session on every connection). If a defence
/// is added, this test fails: update it and the module docs.
#[test]
fn csob_cut_frame_closed_by_a_stray_etx_is_undetectable() {
    let case = Case {
        dialect: Dialect::Csob,
        transport: Transport::Tcp,
        text_blocks: false,
        sales: vec![Sale {
            card_ms: 0,
            bank_ms: 0,
            approve: false,
        }],
        to_terminal: vec![Fault::Cut(191), Fault::Garbage(vec![0x03])],
        to_till: vec![],
        mutant: Mutant::None,
    };
    let o = run(&case);
    assert!(
        o.violations.iter().any(|v| v.contains("phantom")),
        "{:?}",
        o.violations
    );
}

/// Fuzz find (`session_drive`): one read holding many bad frames filled the link session's
/// event queue with protocol errors, and the `Sent` that followed in the same read was
/// dropped: the Concert till stayed "sending" forever, with no deadline left to end it.
#[test]
fn a_flood_of_bad_frames_in_one_read_never_hides_the_link_outcome() {
    let mut ecr = ConcertEcr::new(ConcertEcrConfig::default());
    let mut buf = [0u8; MAX_TRANSMIT];
    let t = Instant::ZERO;
    ecr.start(t, &sale_request(0)).unwrap();
    assert_eq!(ecr.poll_transmit(&mut buf).unwrap(), Some(1), "ENQ");
    // ACK to the ENQ; the till sends its frame.
    ecr.handle_bytes(t, &[0x06]);
    while ecr.poll_transmit(&mut buf).unwrap().is_some() {}
    // Twelve frames with a bad LRC, then the ACK of the till's frame, all in one read.
    let mut flood = Vec::new();
    for _ in 0..12 {
        flood.extend_from_slice(&[0x02, b'X', 0x03, 0x00]);
    }
    flood.push(0x06);
    ecr.handle_bytes(t, &flood);
    let mut events = Vec::new();
    while let Some(e) = ecr.poll_event() {
        events.push(e);
    }
    assert!(events.contains(&EcrEvent::Accepted), "{events:?}");
    assert!(
        ecr.poll_timeout().is_some(),
        "a busy session always has a deadline"
    );
}

// ----- ZVT: fixed cases and mutants -----

fn zvt_sale(
    transport: Transport,
    text_blocks: bool,
    to_terminal: Vec<Fault>,
    to_till: Vec<Fault>,
) -> (Case, Outcome3) {
    let case = Case {
        dialect: Dialect::Zvt,
        transport,
        text_blocks,
        sales: vec![Sale {
            card_ms: 300,
            bank_ms: 300,
            approve: true,
        }],
        to_terminal,
        to_till,
        mutant: Mutant::None,
    };
    let o = run(&case);
    (case, o)
}

#[test]
fn zvt_clean_wire_agrees_directly_on_both_links() {
    for transport in [Transport::Tcp, Transport::Serial] {
        for blocks in [false, true] {
            let (c, o) = zvt_sale(transport, blocks, vec![], vec![]);
            assert!(
                judge(&c, &o).is_empty(),
                "{transport:?}: {:?}",
                judge(&c, &o)
            );
            let View::Known(r) = &o.views[0] else {
                panic!("{transport:?}: {:?}", o.views)
            };
            assert!(r.outcome.is_approved());
            // What the ZVT answer carries and the check rests on.
            assert_eq!(r.trace, Some(4711), "{transport:?}");
            assert_eq!(r.amount, Some(amount_of(0)));
            assert_eq!(o.delivered.len(), 1, "{transport:?}");
        }
    }
}

#[test]
fn zvt_serial_damaged_frames_are_repeated_and_the_sale_still_known() {
    // The registration frame damaged on its way to the terminal, and the terminal's first
    // answer (its ACK byte, then the `80 00 00` frame, damaged at byte 4) on its way back:
    // the CRC catches each, the NAK brings each again.
    let (c, o) = zvt_sale(
        Transport::Serial,
        false,
        vec![Fault::Damage(5, Damage::Xor(0x40))],
        vec![Fault::Pass, Fault::Damage(4, Damage::Xor(0x40))],
    );
    assert!(judge(&c, &o).is_empty(), "{:?}", judge(&c, &o));
    assert!(
        matches!(&o.views[0], View::Known(r) if r.outcome.is_approved()),
        "{}",
        report(&[], &o)
    );
    let naks = o.trace.iter().filter(|l| l.contains("ZvtCrc")).count();
    assert_eq!(naks, 2, "{}", report(&[], &o));
}

#[test]
fn zvt_tcp_broken_connection_after_the_approval_is_unknown_not_declined() {
    // Terminal to till: 80 00 00, 04 FF, 04 FF, then the link breaks in the status
    // information.
    let (c, o) = zvt_sale(
        Transport::Tcp,
        false,
        vec![],
        vec![
            Fault::Pass,
            Fault::Pass,
            Fault::Pass,
            Fault::Pass,
            Fault::Cut(100),
        ],
    );
    assert!(judge(&c, &o).is_empty(), "{:?}", judge(&c, &o));
    assert_eq!(o.views[0], View::Unknown, "{}", report(&[], &o));
    assert!(o.truth[0].as_ref().is_some_and(|t| t.outcome.is_approved()));
}

/// How many of `tries` generated cases of `mutant` on `transport` the judge flags.
fn caught(transport: Transport, mutant: Mutant, tries: usize) -> usize {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut caught = 0;
    for _ in 0..tries {
        let c = case_on(Dialect::Zvt, transport, mutant)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        if !judge(&c, &run(&c)).is_empty() {
            caught += 1;
        }
    }
    caught
}

/// Each deliberate bug of [`Mutant`] is caught by the ZVT properties within the case count
/// `cargo test` runs (and the same cases without the bug pass: the properties above).
#[test]
#[cfg_attr(miri, ignore = "thousands of simulations: too slow under miri")]
fn zvt_mutants_are_caught() {
    for (transport, mutant) in [
        (Transport::Tcp, Mutant::TillTrustsAnyAnswer),
        (Transport::Serial, Mutant::TillTrustsAnyAnswer),
        (Transport::Tcp, Mutant::TillReadsTimeoutAsDeclined),
        (Transport::Serial, Mutant::TillReadsTimeoutAsDeclined),
        (Transport::Serial, Mutant::SerialWithoutCrc),
    ] {
        let n = caught(transport, mutant, 512);
        println!("{transport:?} {mutant:?}: caught in {n} of 512 cases");
        assert!(n > 0, "{transport:?} {mutant:?} was not caught");
    }
    assert_eq!(caught(Transport::Serial, Mutant::None, 64), 0);
}

/// The generated ZVT faults reach every ending a ZVT till can have: known directly, unknown.
#[test]
#[cfg_attr(miri, ignore = "thousands of simulations: too slow under miri")]
fn zvt_faults_reach_every_ending() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    for transport in [Transport::Tcp, Transport::Serial] {
        let mut runner = TestRunner::deterministic();
        let (mut approved, mut refused, mut unknown) = (0, 0, 0);
        for _ in 0..1_000 {
            let c = case_on(Dialect::Zvt, transport, Mutant::None)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            for v in &run(&c).views {
                match v {
                    View::Known(r) if r.outcome.is_approved() => approved += 1,
                    View::Known(_) | View::NotDone(_) => refused += 1,
                    View::Unknown => unknown += 1,
                    View::Pending => {}
                }
            }
        }
        println!(
            "ZVT {transport:?}: approved {approved}, declined or refused {refused}, unknown {unknown}"
        );
        // Each ending is reached many times (on the merged tree: TCP 240 / 99 / 1664, serial
        // 140 / 49 / 1828); the bounds only say "often", not a distribution.
        assert!(
            approved > 100 && refused > 25 && unknown > 50,
            "{transport:?}"
        );
    }
}

/// Found by the serial property (20 000 cases): a frame damaged and cut drew a NAK that reached
/// the till just after it had sent its sale; the till sent the sale again, the copy arrived
/// after the terminal had finished the first, and the terminal ran the sale twice. Fixed in
/// `ZvtEcr`: a NAK never brings a command that moves money again (`a_serial_nak_never_sends_a_
/// sale_twice`); this is the case as the property shrank it.
#[test]
fn zvt_serial_late_nak_never_runs_a_sale_twice() {
    let case = Case {
        dialect: Dialect::Zvt,
        transport: Transport::Serial,
        text_blocks: false,
        sales: vec![
            Sale {
                card_ms: 0,
                bank_ms: 0,
                approve: false,
            },
            Sale {
                card_ms: 0,
                bank_ms: 0,
                approve: false,
            },
        ],
        to_terminal: vec![
            Fault::Garbage(vec![0]),
            Fault::Garbage(vec![7]),
            Fault::Pass,
            Fault::Damage(1982, Damage::Xor(1)),
            Fault::Damage(11921, Damage::Double),
            Fault::Delay(5001),
        ],
        to_till: vec![
            Fault::Drop,
            Fault::Damage(9331, Damage::Xor(1)),
            Fault::Garbage(vec![0]),
            Fault::Pass,
            Fault::Garbage(vec![21]),
        ],
        mutant: Mutant::None,
    };
    let o = run(&case);
    let bad = judge(&case, &o);
    assert!(bad.is_empty(), "{}", report(&bad, &o));
}
