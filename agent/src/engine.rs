//! The transaction engine: one task that runs the till's requests one at a time (so two tills
//! can never run two transactions at once), reads cards, talks to the bank, journals every
//! step before acting on it, prints receipts, and in idle time echoes the bank and re-sends
//! the reversals the bank still owes an acknowledgement for.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecrlink_core::journal::{AuthStarted, Original, PendingReversal, Record, ReversalReason};
use ecrlink_core::txn::{
    ApprovalCode, DeclineCode, FailReason, Money, Outcome, Request, RequestKind, Response,
    TerminalId, Totals,
};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant as TokioInstant;

use crate::bank::{
    AuthKind, AuthRequest, BankError, BankLink, BankRequest, LinkStatus, ReconcileRequest,
    ReversalRequest,
};
use crate::card::{CardRead, CardReader, PinOutcome};
use crate::clock;
use crate::config::Config;
use crate::journal::Journal;
use crate::printer::{Copy, PrintError, PrintJob, Printer, ReceiptSettings, ReceiptSpool};

/// One currency's (code, (debit count, sum), (credit count, sum)).
type TotalsLine = (u16, (u32, u64), (u32, u64));

/// The largest trace number (ISO 8583 field 11 is n6).
pub const MAX_STAN: u32 = 999_999;
/// Trace numbers reserved in the journal at a time.
const STAN_BLOCK: u32 = 100;
/// Journal room kept for closing the batch (its record, with the totals).
const CLOSE_RESERVE: usize = ecrlink_core::journal::MAX_ENVELOPE;
/// Journal room a money transaction needs before it starts (a trace reservation, the
/// authorization, a queued reversal, the answer, the delivery), on top of [`CLOSE_RESERVE`]:
/// with less, it is refused before the card is read and nothing goes to the bank.
const TXN_RESERVE: usize = 4 * ecrlink_core::journal::MAX_ENVELOPE + CLOSE_RESERVE;

/// The text of a transaction refused because the journal is full.
pub const JOURNAL_FULL_TEXT: &str = "journal full: close the batch";
/// The text of a transaction refused because its start could not be journaled (a disk
/// error, e.g. no space left on the device).
pub const JOURNAL_WRITE_TEXT: &str = "journal not writable: refused";

/// State the till sessions and the supervisor read without going through the engine queue.
#[derive(Default)]
pub struct Shared {
    /// A request is running.
    pub busy: AtomicBool,
    /// The running request waits for a card (an abort can cancel it).
    pub waiting_for_card: AtomicBool,
    /// Wakes the card wait to cancel it.
    pub abort: Notify,
    /// Milliseconds (core clock) of the last till activity.
    pub activity_ms: AtomicU64,
    /// Merchant and customer copy of the last receipt (for ČSOB receipt transfer).
    pub last_receipt: Mutex<Option<(String, String)>>,
    /// Reversals waiting for the bank.
    pub pending_reversals: AtomicUsize,
    /// Approval code and amount of the last transaction if it was an approved payment.
    pub last_approved: Mutex<Option<(ApprovalCode, Money)>>,
    /// The last echo (or exchange) with the bank failed.
    pub bank_down: AtomicBool,
    /// Service times of till requests (kept only when enabled, by load tests).
    pub service: crate::metrics::ServiceLog,
}

impl Shared {
    /// Records till activity now (delays sleep mode).
    pub fn touch(&self) {
        self.activity_ms
            .store(clock::now().as_millis(), Ordering::Relaxed);
    }

    /// Cancels a transaction waiting for a card; returns whether one was waiting.
    pub fn abort_card_wait(&self) -> bool {
        let waiting = self.waiting_for_card.load(Ordering::SeqCst);
        if waiting {
            self.abort.notify_waiters();
        }
        waiting
    }
}

/// Work for the engine.
pub enum Job {
    /// Run a till's request and send the answer to `reply` (a dropped receiver, the till gone,
    /// does not stop the transaction: it completes and becomes the last transaction).
    Run {
        /// The request.
        request: Request,
        /// Where the answer goes.
        reply: oneshot::Sender<Response>,
        /// Where the engine puts the nanoseconds it waited for the card and the bank while
        /// running this request (before it answers), for [`crate::metrics`]; `None`: not asked.
        waited: Option<Arc<AtomicU64>>,
    },
    /// The till acknowledged the answer carrying trace `stan`.
    Delivered {
        /// Trace number.
        stan: u32,
    },
    /// Finish and stop; `done` fires when the journal is closed.
    Shutdown {
        /// Fired at the end.
        done: oneshot::Sender<()>,
    },
}

/// The engine's inputs.
pub struct Engine {
    cfg: Arc<Config>,
    journal: Journal,
    reader: Box<dyn CardReader>,
    receipts: Option<Receipts>,
    bank: BankLink,
    shared: Arc<Shared>,
    terminal_id: Option<TerminalId>,
    stan_next: u32,
    stan_reserved: u32,
    /// Time waited for the card and the bank in the request running now.
    waited: Duration,
    /// Card numbers of reversals queued in this run (never journaled), by (batch, trace).
    pans: std::collections::HashMap<(u32, u32), ecrlink_core::txn::Pan>,
}

#[allow(clippy::large_enum_variant)]
enum CardStep {
    Card(crate::card::Card),
    Done(Outcome),
}

impl Engine {
    /// An engine over a recovered journal.
    pub fn new(
        cfg: Arc<Config>,
        journal: Journal,
        reader: Box<dyn CardReader>,
        printer: Option<Box<dyn Printer>>,
        bank: BankLink,
        shared: Arc<Shared>,
    ) -> Self {
        let cp = journal.checkpoint();
        let stan_next = cp.next_stan.max(1);
        let settings = ReceiptSettings {
            merchant_name: cfg.merchant_name.clone(),
            address: Vec::new(),
            terminal_id: cfg.terminal_id.clone(),
            merchant_id: cfg.merchant_id.clone(),
            width: cfg.receipt_width,
            lang: ecrlink_core::receipt::Lang::from_code(&cfg.receipt_lang)
                .unwrap_or(ecrlink_core::receipt::Lang::En),
        };
        let receipts = Some(Receipts {
            spool: ReceiptSpool::new(settings),
            printer: printer.unwrap_or_else(|| Box::new(NullPrinter)),
        });
        let engine = Engine {
            terminal_id: TerminalId::new(&cfg.terminal_id).ok(),
            cfg,
            journal,
            reader,
            receipts,
            bank,
            shared,
            stan_next,
            stan_reserved: stan_next,
            waited: Duration::ZERO,
            pans: std::collections::HashMap::new(),
        };
        engine.publish();
        engine
    }

    /// Runs until a [`Job::Shutdown`] or until every sender is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut status = self.bank.watch();
        let echo_every = self.cfg.echo_every;
        let mut next_echo = TokioInstant::now() + echo_every;
        let mut next_retry = TokioInstant::now() + self.cfg.reversal_retry;
        loop {
            tokio::select! {
                job = rx.recv() => match job {
                    None => break,
                    Some(Job::Shutdown { done }) => {
                        tracing::info!("engine stopped; journal closed");
                        let _ = done.send(());
                        return;
                    }
                    Some(Job::Delivered { stan }) => {
                        self.try_append(&Record::Delivered { stan });
                    }
                    Some(Job::Run { request, reply, waited }) => {
                        self.shared.busy.store(true, Ordering::SeqCst);
                        self.shared.touch();
                        self.waited = Duration::ZERO;
                        let response = self.run_request(request).await;
                        self.shared.busy.store(false, Ordering::SeqCst);
                        self.shared.touch();
                        if let Some(w) = waited {
                            w.store(u64::try_from(self.waited.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
                        }
                        if reply.send(response).is_err() {
                            tracing::warn!("till gone before the answer; it stays the last transaction");
                        }
                        self.forward_reversals().await;
                    }
                },
                _ = tokio::time::sleep_until(next_echo), if !echo_every.is_zero() => {
                    next_echo = TokioInstant::now() + echo_every;
                    if self.bank.status() == LinkStatus::Connected {
                        let _ = self.echo().await;
                    }
                }
                _ = tokio::time::sleep_until(next_retry) => {
                    next_retry = TokioInstant::now() + self.cfg.reversal_retry;
                    self.forward_reversals().await;
                }
                changed = status.changed() => {
                    if changed.is_err() { break; }
                    let now = *status.borrow_and_update();
                    if now == LinkStatus::Connected {
                        self.shared.bank_down.store(false, Ordering::SeqCst);
                        self.forward_reversals().await;
                    }
                }
            }
        }
    }

    fn append(&mut self, record: &Record) {
        if let Err(e) = self.journal.append(record) {
            // A journal that cannot be written is fatal for a payment terminal: stop rather
            // than answer without a durable record.
            tracing::error!(error = %e, "journal write failed; stopping");
            std::process::exit(70);
        }
        self.publish();
    }

    /// Journals the start of an authorization, before anything goes to the bank. If it cannot
    /// be written (a full disk: the file was cut back to its last whole record), nothing has
    /// happened yet: the refusal is returned (not journaled) and the agent keeps running,
    /// where a failed write after the bank answered stops it ([`Self::append`]).
    fn journal_start(&mut self, kind: RequestKind, auth: &AuthStarted) -> Option<Response> {
        match self.journal.append(&Record::AuthStarted(auth.clone())) {
            Ok(()) => {
                self.publish();
                None
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    request = kind.name(),
                    stan = auth.stan,
                    "journal write failed: transaction refused before the bank was asked"
                );
                let r = self.response(
                    kind,
                    Outcome::Failed {
                        reason: FailReason::Other,
                    },
                );
                Some(r.clone().with_text(JOURNAL_WRITE_TEXT).unwrap_or(r))
            }
        }
    }

    /// Appends a bookkeeping record (trace reservation, delivery, reversal acknowledged) whose
    /// loss costs no money: a failure (a full journal) is logged, not fatal.
    fn try_append(&mut self, record: &Record) -> bool {
        match self.journal.append(record) {
            Ok(()) => {
                self.publish();
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "journal record not written");
                false
            }
        }
    }

    /// The answer to a transaction refused because the journal has no room left for it (not
    /// journaled: nothing happened).
    fn journal_full(&self, kind: RequestKind) -> Option<Response> {
        let need = if kind == RequestKind::CloseTotals {
            CLOSE_RESERVE
        } else {
            TXN_RESERVE
        };
        if self.journal.has_room(need) {
            return None;
        }
        tracing::error!(
            request = kind.name(),
            "journal full: transaction refused before the bank was asked"
        );
        let r = self.response(
            kind,
            Outcome::Failed {
                reason: FailReason::Other,
            },
        );
        Some(r.clone().with_text(JOURNAL_FULL_TEXT).unwrap_or(r))
    }

    /// Copies what the till sessions read without the queue out of the journal state.
    fn publish(&self) {
        let cp = self.journal.checkpoint();
        self.shared
            .pending_reversals
            .store(cp.pending.len(), Ordering::Relaxed);
        let last = cp.last.as_ref().and_then(|l| {
            let r = &l.response;
            let payment = matches!(
                r.kind,
                RequestKind::Sale | RequestKind::SaleWithCashback | RequestKind::Refund
            );
            match (
                payment && r.outcome.is_approved(),
                &r.approval_code,
                r.amount,
            ) {
                (true, Some(code), Some(amount)) => Some((code.clone(), amount)),
                _ => None,
            }
        });
        if let Ok(mut g) = self.shared.last_approved.lock() {
            *g = last;
        }
    }

    fn alloc_stan(&mut self) -> Option<u32> {
        if self.stan_next > MAX_STAN {
            return None;
        }
        let stan = self.stan_next;
        if stan >= self.stan_reserved {
            let upto = stan.saturating_add(STAN_BLOCK).min(MAX_STAN + 1);
            let batch = self.journal.checkpoint().batch;
            if !self.try_append(&Record::StanReserved { batch, upto }) {
                return None;
            }
            self.stan_reserved = upto;
        }
        self.stan_next += 1;
        Some(stan)
    }

    fn response(&self, kind: RequestKind, outcome: Outcome) -> Response {
        let mut r = Response::new(kind, outcome);
        r.terminal_id = self.terminal_id.clone();
        r.timestamp = Some(clock::timestamp());
        r
    }

    fn bank_ready(&self) -> impl std::future::Future<Output = bool> + Send + 'static {
        let (bank, shared) = (self.bank.clone(), self.shared.clone());
        bank_ready(bank, shared)
    }

    async fn run_request(&mut self, request: Request) -> Response {
        let kind = request.kind();
        let deadline = TokioInstant::now() + self.cfg.txn_limit;
        tracing::info!(request = kind.name(), amount = ?request.amount().map(|m| m.to_string()), "request");
        let response = match request {
            Request::Sale { amount, reference } => {
                self.authorize(kind, amount, None, reference, deadline)
                    .await
            }
            Request::SaleWithCashback {
                amount,
                cashback,
                reference,
            } => {
                self.authorize(kind, amount, Some(cashback), reference, deadline)
                    .await
            }
            Request::Refund { amount, reference } => {
                self.authorize(kind, amount, None, reference, deadline)
                    .await
            }
            Request::Reversal {
                amount,
                code,
                reference,
            } => self.reverse(amount, code, reference, deadline).await,
            Request::CloseTotals => self.close_totals(deadline).await,
            Request::Subtotals => self.subtotals().await,
            Request::LastSums => self.last_sums().await,
            Request::TestTerminal => self.test_terminal(),
            Request::TestBank => match self.echo().await {
                Ok(rtt) => self
                    .response(kind, Outcome::Approved)
                    .with_text(&format!("bank round trip {} ms", rtt.as_millis()))
                    .unwrap_or_else(|_| self.response(kind, Outcome::Approved)),
                Err(_) => self.response(kind, Outcome::BankUnavailable),
            },
            Request::Reprint => self.reprint().await,
            Request::LastTransaction => match &self.journal.checkpoint().last {
                Some(last) => {
                    // The last transaction's answer, told as the answer to this request.
                    let mut r = last.response.clone();
                    r.kind = RequestKind::LastTransaction;
                    r
                }
                None => self.response(
                    kind,
                    Outcome::Failed {
                        reason: FailReason::NoMatchingTransaction,
                    },
                ),
            },
            Request::Abort => {
                let outcome = if self.shared.abort_card_wait() {
                    Outcome::Approved
                } else {
                    Outcome::Failed {
                        reason: FailReason::NoMatchingTransaction,
                    }
                };
                self.response(kind, outcome)
            }
        };
        tracing::info!(request = kind.name(), outcome = response.outcome.name(), trace = ?response.trace, "answer");
        response
    }

    /// The test-terminal answer: terminal id, software version and state, no bank involved.
    pub fn test_terminal(&self) -> Response {
        test_terminal_response(&self.cfg, &self.shared)
    }

    /// Journals a final answer that involved no bank exchange (trace 0), prints it, keeps it.
    fn finish_local(&mut self, response: Response) -> Response {
        self.append(&Record::Completed {
            stan: 0,
            response: response.clone(),
        });
        response
    }

    async fn read_card(&mut self, amount: Money, deadline: TokioInstant) -> CardStep {
        self.shared.waiting_for_card.store(true, Ordering::SeqCst);
        let shared = self.shared.clone();
        let aborted = shared.abort.notified();
        tokio::pin!(aborted);
        aborted.as_mut().enable();
        let started = std::time::Instant::now();
        let step = tokio::select! {
            read = self.reader.read(amount) => match read {
                CardRead::Card(card) => CardStep::Card(card),
                CardRead::NoCard => CardStep::Done(Outcome::Cancelled),
                CardRead::Failed(reason) => CardStep::Done(Outcome::Failed { reason }),
            },
            _ = &mut aborted => CardStep::Done(Outcome::Cancelled),
            _ = tokio::time::sleep_until(deadline) => CardStep::Done(Outcome::Timeout),
        };
        self.shared.waiting_for_card.store(false, Ordering::SeqCst);
        self.waited += started.elapsed();
        step
    }

    async fn authorize(
        &mut self,
        kind: RequestKind,
        amount: Money,
        cashback: Option<ecrlink_core::txn::Amount>,
        reference: Option<ecrlink_core::txn::Reference>,
        deadline: TokioInstant,
    ) -> Response {
        if let Some(refused) = self.journal_full(kind) {
            return refused;
        }
        let mut resp = self.response(kind, Outcome::Approved);
        resp.amount = Some(amount);
        resp.cashback = cashback;
        resp.reference = reference.clone();
        if !self.bank_ready().await {
            resp.outcome = Outcome::BankUnavailable;
            return self.finish_local(resp);
        }
        let card = match self.read_card(amount, deadline).await {
            CardStep::Card(c) => c,
            CardStep::Done(outcome) => {
                resp.outcome = outcome;
                return self.finish_local(resp);
            }
        };
        resp.pan = Some(card.pan.masked());
        resp.scheme = Some(card.scheme);
        resp.entry_mode = Some(card.entry_mode);
        resp.emv = card.emv.clone();
        if card.pin == PinOutcome::Wrong {
            // The card refused the PIN: declined by the terminal with the ISO code for it.
            resp.outcome = Outcome::Declined {
                code: DeclineCode::new("55").unwrap_or_else(|_| unreachable!()),
            };
            let mut resp = self.finish_local(resp);
            self.print(&mut resp).await;
            return resp;
        }
        let Some(stan) = self.alloc_stan() else {
            resp.outcome = Outcome::Failed {
                reason: FailReason::Other,
            };
            return self.finish_local(resp);
        };
        resp.trace = Some(stan);
        let transmitted = clock::timestamp();
        let auth = AuthStarted {
            batch: self.journal.checkpoint().batch,
            stan,
            kind,
            amount: Some(amount),
            cashback,
            pan: resp.pan,
            scheme: resp.scheme,
            reference: reference.clone(),
            transmitted,
            original: None,
        };
        if let Some(refused) = self.journal_start(kind, &auth) {
            return refused;
        }
        crate::crash::point("before-bank-request");
        let bank_kind = match kind {
            RequestKind::SaleWithCashback => AuthKind::Cashback,
            RequestKind::Refund => AuthKind::Refund,
            _ => AuthKind::Sale,
        };
        let req = BankRequest::Auth(AuthRequest {
            stan,
            kind: bank_kind,
            amount,
            cashback,
            pan: card.pan.clone(),
            entry_mode: card.entry_mode,
            emv: card.emv.clone(),
            transmitted,
            rrn: reference
                .as_ref()
                .map(|r| r.as_str().to_string())
                .filter(|r| r.len() <= 12 && r.bytes().all(|b| b.is_ascii_alphanumeric())),
        });
        let wait = self
            .cfg
            .bank_timeout
            .min(deadline.saturating_duration_since(TokioInstant::now()))
            .max(Duration::from_millis(1));
        match self.exchange(req, wait).await {
            Ok(answer) => {
                if answer.approved() {
                    crate::crash::point("after-bank-approval");
                    resp.outcome = Outcome::Approved;
                    resp.approval_code = answer
                        .approval
                        .clone()
                        .or_else(|| ApprovalCode::new(&format!("{stan:06}")).ok());
                } else {
                    resp.outcome = Outcome::Declined {
                        code: DeclineCode::new(&answer.code).unwrap_or_else(|_| {
                            DeclineCode::new("05").unwrap_or_else(|_| unreachable!())
                        }),
                    };
                }
                for b in answer.emv.iter() {
                    if resp.emv.push(*b).is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(stan, error = %e, "authorization without bank answer");
                if e.maybe_delivered() {
                    if let Some(p) = ecrlink_core::journal::state::reversal_for(&auth) {
                        self.pans
                            .insert((p.batch, p.original.stan), card.pan.clone());
                        self.append(&Record::ReversalQueued(PendingReversal {
                            reason: ReversalReason::BankTimeout,
                            ..p
                        }));
                    }
                } else {
                    self.shared.bank_down.store(true, Ordering::SeqCst);
                }
                resp.outcome = Outcome::BankUnavailable;
            }
        }
        self.append(&Record::Completed {
            stan,
            response: resp.clone(),
        });
        crate::crash::point("after-journal-write");
        self.print(&mut resp).await;
        resp
    }

    async fn reverse(
        &mut self,
        amount: Money,
        code: ApprovalCode,
        reference: Option<ecrlink_core::txn::Reference>,
        deadline: TokioInstant,
    ) -> Response {
        let kind = RequestKind::Reversal;
        if let Some(refused) = self.journal_full(kind) {
            return refused;
        }
        let mut resp = self.response(kind, Outcome::Approved);
        resp.amount = Some(amount);
        resp.reference = reference.clone();
        resp.approval_code = Some(code.clone());
        let cp = self.journal.checkpoint();
        let matching = cp.last.as_ref().filter(|l| {
            l.batch == cp.batch
                && l.response.outcome.is_approved()
                && matches!(
                    l.response.kind,
                    RequestKind::Sale | RequestKind::SaleWithCashback | RequestKind::Refund
                )
                && l.response.approval_code.as_ref() == Some(&code)
                && l.response.amount == Some(amount)
        });
        let Some(last) = matching.cloned() else {
            tracing::info!("reversal refused: no last transaction with that code and amount");
            resp.outcome = Outcome::Failed {
                reason: FailReason::NoMatchingTransaction,
            };
            return resp;
        };
        resp.pan = last.response.pan;
        resp.scheme = last.response.scheme;
        resp.entry_mode = last.response.entry_mode;
        if !self.bank_ready().await {
            resp.outcome = Outcome::BankUnavailable;
            return self.finish_local(resp);
        }
        let Some(stan) = self.alloc_stan() else {
            resp.outcome = Outcome::Failed {
                reason: FailReason::Other,
            };
            return resp;
        };
        resp.trace = Some(stan);
        let original = Original {
            stan: last.stan,
            kind: last.response.kind,
            amount,
            transmitted: last.transmitted,
            scheme: last.response.scheme,
        };
        let transmitted = clock::timestamp();
        let auth = AuthStarted {
            batch: self.journal.checkpoint().batch,
            stan,
            kind,
            amount: Some(amount),
            cashback: None,
            pan: resp.pan,
            scheme: resp.scheme,
            reference,
            transmitted,
            original: Some(original),
        };
        if let Some(refused) = self.journal_start(kind, &auth) {
            return refused;
        }
        let wait = self
            .cfg
            .bank_timeout
            .min(deadline.saturating_duration_since(TokioInstant::now()))
            .max(Duration::from_millis(1));
        let req = BankRequest::Reversal(ReversalRequest {
            stan,
            original,
            transmitted,
            pan: None,
        });
        match self.exchange(req, wait).await {
            Ok(answer) if answer.approved() => resp.outcome = Outcome::Approved,
            Ok(answer) => {
                resp.outcome = Outcome::Declined {
                    code: DeclineCode::new(&answer.code).unwrap_or_else(|_| {
                        DeclineCode::new("05").unwrap_or_else(|_| unreachable!())
                    }),
                }
            }
            Err(e) => {
                // Store and forward: the reversal will reach the bank; the till may count it.
                tracing::warn!(stan, error = %e, "reversal stored for forwarding");
                self.append(&Record::ReversalQueued(PendingReversal {
                    batch: self.journal.checkpoint().batch,
                    original,
                    reason: ReversalReason::TillRequest,
                }));
                resp.outcome = Outcome::Approved;
                resp = resp
                    .clone()
                    .with_text("reversal stored, sent when the bank answers")
                    .unwrap_or(resp);
            }
        }
        self.append(&Record::Completed {
            stan,
            response: resp.clone(),
        });
        self.print(&mut resp).await;
        resp
    }

    async fn close_totals(&mut self, deadline: TokioInstant) -> Response {
        let kind = RequestKind::CloseTotals;
        if let Some(refused) = self.journal_full(kind) {
            return refused;
        }
        if !self.bank_ready().await {
            return self.response(kind, Outcome::BankUnavailable);
        }
        self.forward_reversals().await;
        let cp = self.journal.checkpoint();
        let batch = cp.batch;
        let totals: Totals = cp.totals.clone();
        let mut lines: Vec<TotalsLine> = totals
            .currencies
            .iter()
            .map(|c| {
                (
                    c.currency,
                    (c.debit_count, c.debit_minor),
                    (c.credit_count, c.credit_minor),
                )
            })
            .collect();
        if lines.is_empty() {
            lines.push((978, (0, 0), (0, 0)));
        }
        for (currency, debits, credits) in lines {
            let Some(stan) = self.alloc_stan() else {
                return self.response(
                    kind,
                    Outcome::Failed {
                        reason: FailReason::Other,
                    },
                );
            };
            let wait = self
                .cfg
                .bank_timeout
                .min(deadline.saturating_duration_since(TokioInstant::now()))
                .max(Duration::from_millis(1));
            let req = BankRequest::Reconcile(ReconcileRequest {
                stan,
                batch,
                currency,
                debits,
                credits,
                transmitted: clock::timestamp(),
            });
            match self.exchange(req, wait).await {
                Ok(a) if a.approved() => {}
                Ok(a) => {
                    let code = DeclineCode::new(&a.code).unwrap_or_else(|_| {
                        DeclineCode::new("95").unwrap_or_else(|_| unreachable!())
                    });
                    return self.response(kind, Outcome::Declined { code });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reconciliation without answer; batch stays open");
                    return self.response(kind, Outcome::BankUnavailable);
                }
            }
        }
        self.append(&Record::BatchClosed {
            batch,
            totals: totals.clone(),
        });
        self.stan_next = 1;
        self.stan_reserved = 1;
        let mut resp = self.response(kind, Outcome::Approved);
        resp.totals = Some(totals);
        resp = resp
            .clone()
            .with_text(&format!("batch {batch} closed"))
            .unwrap_or(resp);
        self.print(&mut resp).await;
        resp
    }

    /// The open batch's totals so far (per currency and scheme, as close totals reconciles
    /// them); nothing is sent to the bank, closed or reset. Printed as a subtotals report.
    async fn subtotals(&mut self) -> Response {
        let cp = self.journal.checkpoint();
        let batch = cp.batch;
        let mut resp = self.response(RequestKind::Subtotals, Outcome::Approved);
        resp.totals = Some(cp.totals.clone());
        resp = resp
            .clone()
            .with_text(&format!("batch {batch} open"))
            .unwrap_or(resp);
        self.print(&mut resp).await;
        resp
    }

    /// The totals of the last closed batch, from the journal (so they survive a restart).
    /// Before the first close: approved with empty totals and the text "no closed batch".
    async fn last_sums(&mut self) -> Response {
        let last = self.journal.checkpoint().last_close.clone();
        let mut resp = self.response(RequestKind::LastSums, Outcome::Approved);
        let text = match &last {
            Some(c) => format!("batch {} closed", c.batch),
            None => "no closed batch".to_owned(),
        };
        resp.totals = Some(last.map(|c| c.totals).unwrap_or_default());
        resp = resp.clone().with_text(&text).unwrap_or(resp);
        self.print(&mut resp).await;
        resp
    }

    async fn reprint(&mut self) -> Response {
        let kind = RequestKind::Reprint;
        let outcome = match self
            .with_receipts(|r| r.spool.reprint(r.printer.as_mut()).map(|_| ()))
            .await
        {
            Ok(()) => Outcome::Approved,
            Err(PrintError::NothingToReprint) => Outcome::Failed {
                reason: FailReason::NoMatchingTransaction,
            },
            Err(e) => {
                tracing::warn!(error = %e, "reprint failed");
                Outcome::Failed {
                    reason: FailReason::PrinterError,
                }
            }
        };
        self.response(kind, outcome)
    }

    /// One bank exchange, its time counted as waited (see [`crate::metrics`]).
    async fn exchange(
        &mut self,
        req: BankRequest,
        wait: Duration,
    ) -> Result<crate::bank::BankAnswer, BankError> {
        let started = std::time::Instant::now();
        let r = self.bank.exchange(req, wait).await;
        self.waited += started.elapsed();
        r
    }

    /// Sends an echo (0800/301); returns the round trip time.
    async fn echo(&mut self) -> Result<Duration, BankError> {
        let Some(stan) = self.alloc_stan() else {
            return Err(BankError::NotConnected);
        };
        let start = TokioInstant::now();
        let req = BankRequest::Echo {
            stan,
            transmitted: clock::timestamp(),
        };
        let r = self.exchange(req, self.cfg.bank_timeout).await;
        match r {
            Ok(a) if a.approved() => {
                self.shared.bank_down.store(false, Ordering::SeqCst);
                let rtt = start.elapsed();
                tracing::debug!(rtt_ms = rtt.as_millis() as u64, "bank echo ok");
                Ok(rtt)
            }
            Ok(a) => {
                tracing::warn!(code = %a.code, "bank echo refused");
                self.shared.bank_down.store(true, Ordering::SeqCst);
                Err(BankError::NotConnected)
            }
            Err(e) => {
                tracing::warn!(error = %e, "bank echo failed; reconnecting");
                self.shared.bank_down.store(true, Ordering::SeqCst);
                self.bank.reconnect();
                Err(e)
            }
        }
    }

    /// Sends each pending reversal once; acknowledged ones are journaled and dropped.
    async fn forward_reversals(&mut self) {
        let pending: Vec<PendingReversal> = self.journal.checkpoint().pending.to_vec();
        for p in pending {
            if self.bank.status() != LinkStatus::Connected {
                return;
            }
            let Some(stan) = self.alloc_stan() else {
                return;
            };
            let req = BankRequest::Reversal(ReversalRequest {
                stan,
                original: p.original,
                transmitted: clock::timestamp(),
                pan: self.pans.get(&(p.batch, p.original.stan)).cloned(),
            });
            match self.exchange(req, self.cfg.bank_timeout).await {
                Ok(a) => {
                    tracing::info!(original = p.original.stan, code = %a.code, "reversal acknowledged by the bank");
                    self.pans.remove(&(p.batch, p.original.stan));
                    // Not written (journal full): the reversal is sent again, which the bank
                    // takes as the same reversal.
                    self.try_append(&Record::ReversalAcked {
                        batch: p.batch,
                        original_stan: p.original.stan,
                    });
                }
                Err(e) => {
                    tracing::warn!(original = p.original.stan, error = %e, "reversal not acknowledged; will retry");
                    return;
                }
            }
        }
    }

    /// Runs `f` on the spool and printer off the async runtime (printers block).
    async fn with_receipts<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Receipts) -> Result<T, PrintError> + Send + 'static,
    ) -> Result<T, PrintError> {
        let Some(mut r) = self.receipts.take() else {
            return Err(PrintError::Device("printer busy".into()));
        };
        if !r.printer.blocks() {
            // Laying the receipt out is a few tens of microseconds of CPU: no thread hop.
            let out = f(&mut r);
            self.receipts = Some(r);
            return out;
        }
        match tokio::task::spawn_blocking(move || {
            let out = f(&mut r);
            (r, out)
        })
        .await
        {
            Ok((r, out)) => {
                self.receipts = Some(r);
                out
            }
            Err(_) => Err(PrintError::Device("printer task failed".into())),
        }
    }

    /// Prints both copies of `resp`'s receipt and keeps it as the last receipt (for reprint
    /// and for receipt transfer to the till). A printer error is logged and noted in the
    /// answer's text; the payment stands.
    async fn print(&mut self, resp: &mut Response) {
        let r = resp.clone();
        let printed = self
            .with_receipts(move |rc| {
                let printed = rc.spool.print(rc.printer.as_mut(), &r).map(|_| ());
                let text = rc
                    .spool
                    .last_text(Copy::Merchant, false)
                    .ok()
                    .zip(rc.spool.last_text(Copy::Customer, false).ok());
                Ok((printed, text))
            })
            .await;
        if let Ok((printed, text)) = printed {
            if let Ok(mut g) = self.shared.last_receipt.lock() {
                *g = text;
            }
            if let Err(e) = printed {
                tracing::warn!(error = %e, "receipt not printed");
                if resp.text.is_none() {
                    let _ = resp
                        .clone()
                        .with_text("receipt not printed: ask for a reprint")
                        .map(|r| *resp = r);
                }
            }
        }
    }
}

/// The receipt spool and the printer it prints on.
struct Receipts {
    spool: ReceiptSpool,
    printer: Box<dyn Printer>,
}

/// Prints nothing (no printer configured): receipts are still kept for reprint and transfer.
struct NullPrinter;

impl Printer for NullPrinter {
    fn print(&mut self, _job: &PrintJob) -> Result<(), PrintError> {
        Ok(())
    }

    fn blocks(&self) -> bool {
        false
    }
}

/// The test-terminal answer: terminal id, software version and state.
pub fn test_terminal_response(cfg: &Config, shared: &Shared) -> Response {
    let state = if shared.busy.load(Ordering::SeqCst) {
        "busy"
    } else {
        "ready"
    };
    let mut r = Response::new(RequestKind::TestTerminal, Outcome::Approved);
    r.terminal_id = TerminalId::new(&cfg.terminal_id).ok();
    r.timestamp = Some(clock::timestamp());
    let text = format!(
        "{} ecrlink-agent {} {state}",
        cfg.terminal_id,
        env!("CARGO_PKG_VERSION")
    );
    r.with_text(&text)
        .unwrap_or_else(|_| Response::new(RequestKind::TestTerminal, Outcome::Approved))
}

/// Whether a sale should be tried: the link is connected and the last echo did not fail. A
/// first connect attempt still in progress is given up to 3 s.
async fn bank_ready(bank: BankLink, shared: Arc<Shared>) -> bool {
    if shared.bank_down.load(Ordering::SeqCst) {
        return false;
    }
    let mut w = bank.watch();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while matches!(
            *w.borrow_and_update(),
            LinkStatus::Connecting { attempt: 0 }
        ) {
            if w.changed().await.is_err() {
                break;
            }
        }
    })
    .await;
    bank.status() == LinkStatus::Connected
}
