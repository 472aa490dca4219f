//! The tokio driver of the payment application ([`ecrlink_core::terminal::Terminal`]): it
//! moves bytes, time and records, and decides nothing about money. It feeds the application
//! the till's requests, the card reader's reads, the bank's answers and link state, and the
//! clock; it carries out what the application asks — journal records made durable (before
//! anything else goes on), bank messages sent, card reads started or cancelled, answers
//! given to the tills, receipts printed (by a task of their own, so that a jammed printer
//! never delays an answer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecrlink_core::journal::Record;
use ecrlink_core::terminal::{
    self, BankCommand, BankFailure, BankRequest, CardCommand, CardData, CardEvent, ConfirmCommand,
    Confirmation, JournalSpace, LinkState, PinCheck, PrintJob as AppPrintJob, RequestId, Terminal,
    TillId,
};
use ecrlink_core::txn::{
    ApprovalCode, Currency, Money, Outcome, Request, RequestKind, Response, TerminalId,
};
use tokio::sync::{mpsc, oneshot};

use crate::bank::{BankError, BankLink, LinkStatus};
use crate::card::{CardRead, CardReader, CardTxn, MerchantInput, PinOutcome};
use crate::clock;
use crate::config::Config;
use crate::journal::Journal;
use crate::printer::{Copy, PrintError, PrintJob, Printer, ReceiptSettings, ReceiptSpool};
use crate::ui::stage::{BankFault, BankFaultCell, Stage};

/// The largest trace number (ISO 8583 field 11 is n6).
pub const MAX_STAN: u32 = terminal::MAX_STAN;
/// Journal room kept for closing the batch (its record, with the totals).
const CLOSE_RESERVE: usize = ecrlink_core::journal::MAX_ENVELOPE;
/// Journal room a money transaction needs before it starts (a trace reservation, the
/// authorization, a queued reversal, the answer, the delivery), on top of [`CLOSE_RESERVE`].
const TXN_RESERVE: usize = 4 * ecrlink_core::journal::MAX_ENVELOPE + CLOSE_RESERVE;
/// Receipts that may wait for the printer; more are dropped (a reprint brings them back).
const PRINT_QUEUE: usize = 8;
/// The till id of requests made through [`crate::AgentHandle::request`] (the terminal's own
/// keypad).
pub const KEYPAD: u64 = u64::MAX;

/// The text of a transaction refused because the journal is full.
pub const JOURNAL_FULL_TEXT: &str = terminal::JOURNAL_FULL_TEXT;
/// The text of a transaction refused because its start could not be journaled.
pub const JOURNAL_WRITE_TEXT: &str = terminal::JOURNAL_WRITE_TEXT;

/// State the till sessions and the supervisor read without going through the engine queue.
#[derive(Default)]
pub struct Shared {
    /// A request is running.
    pub busy: AtomicBool,
    /// The running request waits for a card (an abort can cancel it).
    pub waiting_for_card: AtomicBool,
    /// Milliseconds (core clock) of the last till activity.
    pub activity_ms: AtomicU64,
    /// Merchant and customer copy of the last receipt (for ČSOB receipt transfer).
    pub last_receipt: Mutex<Option<(String, String)>>,
    /// The same two copies marked duplicate: what a reprint transfers (a till's `reprint`,
    /// a receipt request before any answer on its connection).
    pub last_reprint: Mutex<Option<(String, String)>>,
    /// Reversals waiting for the bank.
    pub pending_reversals: AtomicUsize,
    /// Approval code and amount of the last transaction if it was an approved payment.
    pub last_approved: Mutex<Option<(ApprovalCode, Money)>>,
    /// Service times of till requests (kept only when enabled, by load tests).
    pub service: crate::metrics::ServiceLog,
    /// The terminal's stages, the tester's card desk and bank fault (the browser page).
    pub ui: crate::ui::stage::Hooks,
}

impl Shared {
    /// Records till activity now (delays sleep mode).
    pub fn touch(&self) {
        self.activity_ms
            .store(clock::now().as_millis(), Ordering::Relaxed);
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
        /// The till connection that asked (only it may abort what it started); [`KEYPAD`] for
        /// requests made in process.
        till: u64,
    },
    /// The till acknowledged the answer carrying trace `stan`.
    Delivered {
        /// Trace number.
        stan: u32,
    },
    /// The till's dialect could not carry the answer of trace `stan`: the till was told the
    /// request failed.
    Undeliverable {
        /// Trace number.
        stan: u32,
    },
    /// Finish and stop; `done` fires when the journal is closed.
    Shutdown {
        /// Fired at the end.
        done: oneshot::Sender<()>,
    },
}

/// What the card and bank tasks report back.
#[allow(clippy::large_enum_variant)]
enum Event {
    Card(CardRead),
    /// What the merchant typed when asked for the merchant PIN.
    Merchant(MerchantInput),
    Bank {
        stan: u32,
        result: Result<crate::bank::BankAnswer, BankError>,
    },
}

/// A till waiting for its answer.
struct Waiting {
    reply: oneshot::Sender<Response>,
    waited: Option<Arc<AtomicU64>>,
    /// Time spent waiting for the card and the bank so far, and since when it is waiting now.
    spent: Duration,
    since: Option<std::time::Instant>,
}

/// The driver.
pub struct Engine {
    cfg: Arc<Config>,
    app: Terminal,
    journal: Journal,
    bank: BankLink,
    shared: Arc<Shared>,
    settings: ReceiptSettings,
    card_tx: mpsc::UnboundedSender<ReaderCmd>,
    print_tx: mpsc::Sender<AppPrintJob>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    waiting: HashMap<u64, Waiting>,
    next_id: u64,
    /// The request whose card or bank wait is being timed.
    timed: Option<u64>,
    /// The request the terminal's screen shows (its answer is the screen's answer).
    on_screen: Option<u64>,
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
        let settings = ReceiptSettings {
            merchant_name: cfg.merchant_name.clone(),
            address: Vec::new(),
            terminal_id: cfg.terminal_id.clone(),
            merchant_id: cfg.merchant_id.clone(),
            width: cfg.receipt_width,
            lang: ecrlink_core::receipt::Lang::from_code(&cfg.receipt_lang)
                .unwrap_or(ecrlink_core::receipt::Lang::En),
        };
        let mut app_cfg =
            terminal::Config::new(Currency::from_alpha(&cfg.currency).unwrap_or(Currency::EUR));
        app_cfg.terminal_id = TerminalId::new(&cfg.terminal_id).ok();
        app_cfg.txn_limit = cfg.txn_limit;
        app_cfg.bank_timeout = cfg.bank_timeout;
        app_cfg.echo_every = (!cfg.echo_every.is_zero()).then_some(cfg.echo_every);
        // The first retry of a stored reversal after `reversal_retry`, doubling up to a minute.
        app_cfg.reversal_backoff = terminal::Backoff {
            initial: cfg.reversal_retry,
            max: cfg.reversal_retry.max(Duration::from_secs(60)),
        };
        app_cfg.policy = cfg.policy;
        app_cfg.seed = crate::bank::Rng::from_entropy().below(u64::MAX).max(1);
        let policy = &cfg.policy;
        if policy.merchant_pin.is_none() && !policy.confirm.is_empty() {
            tracing::warn!(
                "refund, reversal and close totals need a merchant PIN and none is set: they are \
                 refused. Set one with `merchant_pin_hash` in the config file (make it with \
                 `ecrlink-agent hash-pin`), or allow them without with --no-merchant-confirmation"
            );
        } else if policy.confirm.is_empty() {
            tracing::warn!(
                "no merchant confirmation (--no-merchant-confirmation): any till that may connect \
                 can refund, reverse the last sale and close the totals"
            );
        }
        if let (Some(last), Ok(mut g)) = (
            journal.state().checkpoint.last.as_ref(),
            shared.ui.journal_last.lock(),
        ) {
            *g = Some(answer_stage(&last.response));
        }
        let mut app = Terminal::new(app_cfg, journal.state().clone(), clock::now());
        app.restore_day_totals(journal.day_totals().clone());
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (card_tx, card_rx) = mpsc::unbounded_channel();
        // A tester's card from the page wins over the configured reader.
        let stages = shared.ui.stages.clone();
        let reader: Box<dyn CardReader> = Box::new(crate::card::LiveReader::new(
            reader,
            shared.ui.desk.clone(),
            Box::new(move || stages.publish(Stage::PinEntry)),
        ));
        tokio::spawn(card_task(reader, card_rx, events_tx.clone()));
        let (print_tx, print_rx) = mpsc::channel(PRINT_QUEUE);
        let printer = printer.unwrap_or_else(|| Box::new(NullPrinter));
        tokio::spawn(print_task(
            ReceiptSpool::new(settings.clone()),
            printer,
            print_rx,
        ));
        let mut engine = Engine {
            cfg,
            app,
            journal,
            bank,
            shared,
            settings,
            card_tx,
            print_tx,
            events_tx,
            events_rx,
            waiting: HashMap::new(),
            next_id: 1,
            timed: None,
            on_screen: None,
        };
        engine.app.set_wall_time(clock::timestamp());
        engine.update_space();
        engine.publish();
        engine
    }

    /// Runs until a [`Job::Shutdown`] (once no request is running, and, without a journal
    /// directory, once the reversals owed have reached the bank or a bounded wait is over:
    /// nothing would keep them) or until every sender is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut status = self.bank.watch();
        let mut fault = self.shared.ui.bank_fault.watch();
        let initial = effective_link(
            link_state(*status.borrow_and_update()),
            *fault.borrow_and_update(),
        );
        self.app.handle_link(clock::now(), initial);
        self.drain();
        let mut stopping: Option<oneshot::Sender<()>> = None;
        // When stopping: until when reversals owed are waited for (no journal keeps them).
        let mut grace: Option<tokio::time::Instant> = None;
        loop {
            if let Some(done) = stopping.take() {
                let owed = self.volatile_reversals_owed();
                let waiting = owed > 0 && grace.is_some_and(|g| tokio::time::Instant::now() < g);
                if !self.app.is_busy() && !waiting {
                    if owed > 0 {
                        tracing::error!(
                            owed,
                            "stopping with reversals owed to the bank that no journal keeps: they are lost"
                        );
                    }
                    tracing::info!("engine stopped; journal closed");
                    let _ = done.send(());
                    return;
                }
                stopping = Some(done);
            }
            let deadline = self.app.poll_timeout().map(clock::to_tokio);
            let grace_left = grace.filter(|g| *g > tokio::time::Instant::now());
            tokio::select! {
                job = rx.recv() => match job {
                    None => break,
                    Some(Job::Shutdown { done }) => {
                        let owed = self.volatile_reversals_owed();
                        if owed > 0 && grace.is_none() {
                            // The next retry comes within two retry periods (the backoff
                            // may be past its first step), its answer within the bank limit.
                            let wait = (2 * self.cfg.reversal_retry + self.cfg.bank_timeout)
                                .min(self.cfg.txn_limit);
                            tracing::warn!(
                                owed,
                                wait_ms = wait.as_millis() as u64,
                                "stopping: waiting for reversals owed to the bank (no journal keeps them)"
                            );
                            grace = Some(tokio::time::Instant::now() + wait);
                        }
                        stopping = Some(done);
                    }
                    Some(job) => self.job(job),
                },
                _ = sleep_until(grace_left), if stopping.is_some() && grace_left.is_some() => {}
                Some(event) = self.events_rx.recv() => self.event(event),
                changed = status.changed() => {
                    if changed.is_err() { break; }
                    let s = effective_link(link_state(*status.borrow_and_update()), *fault.borrow());
                    self.now_wall();
                    self.app.handle_link(clock::now(), s);
                }
                Ok(()) = fault.changed() => {
                    let s = effective_link(link_state(*status.borrow()), *fault.borrow_and_update());
                    self.now_wall();
                    self.app.handle_link(clock::now(), s);
                }
                _ = sleep_until(deadline) => {
                    self.now_wall();
                    self.app.handle_timeout(clock::now());
                }
            }
            self.drain();
        }
    }

    /// Reversals owed to the bank that nothing on disk keeps: all of them when the agent runs
    /// without a journal directory (`load`, `demo`, no `--journal`). With a journal, an
    /// approval whose final answer could not be written stays open on disk and a restart
    /// reverses it.
    fn volatile_reversals_owed(&self) -> usize {
        if self.journal.path().is_some() {
            0
        } else {
            self.app.pending_reversals()
        }
    }

    fn now_wall(&mut self) {
        self.app.set_wall_time(clock::timestamp());
    }

    fn job(&mut self, job: Job) {
        self.now_wall();
        let now = clock::now();
        match job {
            Job::Run {
                request,
                reply,
                waited,
                till,
            } => {
                self.shared.touch();
                let id = self.next_id;
                self.next_id += 1;
                tracing::info!(request = request.kind().name(), amount = ?request.amount().map(|m| m.to_string()), "request");
                // The screen follows the request that finds the terminal free; one asked
                // meanwhile (another till's abort, a last-transaction query) does not take it.
                if !self.app.is_busy() {
                    self.on_screen = Some(id);
                    self.shared.ui.stages.publish(Stage::Request {
                        kind: request.kind().name(),
                        amount: request.amount().map(|m| m.to_string()),
                    });
                }
                self.waiting.insert(
                    id,
                    Waiting {
                        reply,
                        waited,
                        spent: Duration::ZERO,
                        since: None,
                    },
                );
                self.app
                    .handle_request(now, RequestId(id), TillId(till), request);
                if self.app.is_busy() && self.timed.is_none() {
                    self.timed = Some(id);
                }
            }
            Job::Delivered { stan } => self.app.handle_delivered(now, stan),
            Job::Undeliverable { stan } => {
                tracing::warn!(
                    stan,
                    "answer the till could not be given: an approval is reversed"
                );
                self.app.handle_answer_undeliverable(now, stan);
            }
            Job::Shutdown { .. } => {}
        }
    }

    fn event(&mut self, event: Event) {
        self.now_wall();
        let now = clock::now();
        self.stop_wait_clock();
        match event {
            Event::Card(read) => {
                self.shared.ui.stages.publish(match &read {
                    CardRead::Card(c) => Stage::CardRead {
                        scheme: c.scheme.name(),
                        entry: c.entry_mode.name(),
                        pan: c.pan.masked().to_string(),
                    },
                    CardRead::NoCard => Stage::NoCard,
                    CardRead::Failed(reason) => Stage::CardFailed {
                        reason: reason.name(),
                    },
                });
                let ev = match read {
                    CardRead::Card(c) => CardEvent::Presented(CardData {
                        pan: c.pan,
                        scheme: c.scheme,
                        entry_mode: c.entry_mode,
                        expiry: c.expiry,
                        sequence: c.sequence,
                        emv: c.emv,
                        pin: match c.pin {
                            PinOutcome::Accepted => PinCheck::Accepted,
                            PinOutcome::Wrong => PinCheck::Wrong,
                            PinOutcome::Bypassed => PinCheck::Bypassed,
                            PinOutcome::NotAsked => PinCheck::NotAsked,
                        },
                    }),
                    CardRead::NoCard => CardEvent::Cancelled,
                    CardRead::Failed(reason) => CardEvent::Failed(reason),
                };
                self.app.handle_card(now, ev);
            }
            Event::Merchant(input) => {
                let confirmation = match &input {
                    MerchantInput::Pin(pin) => Confirmation::Pin(pin.as_bytes()),
                    MerchantInput::Cancelled => Confirmation::Cancelled,
                };
                self.app.handle_confirmation(now, confirmation);
            }
            Event::Bank { stan, result } => match result {
                Ok(answer) => {
                    if answer.mti == 210 && answer.code.is_approved() {
                        crate::crash::point("after-bank-approval");
                    }
                    tracing::info!(stan, mti = answer.mti, code = %answer.code, "bank answer");
                    self.app.handle_bank_answer(now, answer);
                }
                Err(e) => {
                    let failure = match e {
                        BankError::NotConnected | BankError::Codec(_) => BankFailure::NotSent,
                        BankError::Timeout | BankError::Lost => BankFailure::Lost,
                        BankError::BadMac => BankFailure::BadMac,
                    };
                    tracing::warn!(stan, error = %e, "bank exchange failed");
                    self.app.handle_bank_failure(now, Some(stan), failure);
                }
            },
        }
    }

    /// Carries out everything the application asks, records first.
    fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(record) = self.app.poll_record() {
                progressed = true;
                let record = record.to_record();
                // Said before the record is written, so that whoever sees the journal change
                // finds the line already in the log.
                if let Record::ReversalAcked {
                    original_stan,
                    batch,
                } = &record
                {
                    tracing::info!(
                        original = original_stan,
                        batch,
                        "reversal acknowledged by the bank"
                    );
                }
                if let Record::ReversalQueued(p) = &record {
                    tracing::warn!(original = p.original.stan, reason = ?p.reason, "reversal stored for forwarding");
                }
                let result = self.journal.append(&record);
                let now = clock::now();
                match result {
                    Ok(()) => {
                        self.app.handle_persisted(now);
                        if let Record::Completed { response, .. } = &record {
                            if response.kind.moves_money() && response.outcome.is_approved() {
                                crate::crash::point("after-journal-write");
                            }
                        }
                    }
                    Err(e) => {
                        if let Record::AuthStarted(a) = &record {
                            tracing::error!(
                                error = %e,
                                request = a.kind.name(),
                                stan = a.stan,
                                "journal write failed: transaction refused before the bank was asked"
                            );
                        } else {
                            tracing::error!(error = %e, "journal write failed");
                        }
                        self.app.handle_persist_failed(now);
                    }
                }
                self.update_space();
            }
            while let Some(cmd) = self.app.poll_bank() {
                progressed = true;
                match cmd {
                    BankCommand::Send(req) => self.send_bank(req),
                    BankCommand::Reconnect => {
                        tracing::warn!("bank link out of step or silent: reconnecting");
                        self.bank.reconnect();
                    }
                }
            }
            while let Some(cmd) = self.app.poll_card() {
                progressed = true;
                if let CardCommand::Read { amount, .. } = cmd {
                    self.start_wait_clock();
                    self.shared.ui.stages.publish(Stage::PresentCard {
                        amount: amount.to_string(),
                        limit_s: self.cfg.txn_limit.as_secs(),
                    });
                }
                let _ = self.card_tx.send(ReaderCmd::Card(cmd));
            }
            while let Some(cmd) = self.app.poll_confirmation() {
                progressed = true;
                if let ConfirmCommand::Ask { kind } = cmd {
                    tracing::info!(request = kind.name(), "merchant PIN asked on the terminal");
                    // The answer's stage (a card wait, or the refusal) replaces it.
                    self.shared
                        .ui
                        .stages
                        .publish(Stage::MerchantPin { kind: kind.name() });
                }
                let _ = self.card_tx.send(ReaderCmd::Confirm(cmd));
            }
            // Receipts are laid out (for the till's receipt transfer) before the answers go,
            // and printed by their own task after.
            let mut printing = Vec::new();
            while let Some(job) = self.app.poll_print() {
                progressed = true;
                if let AppPrintJob::Receipt(r) = &job {
                    let texts = |duplicate| {
                        self.settings
                            .render(r, Copy::Merchant, duplicate)
                            .ok()
                            .zip(self.settings.render(r, Copy::Customer, duplicate).ok())
                    };
                    let (original, reprint) = (texts(false), texts(true));
                    if let Some((_, customer)) = &original {
                        printing.push(Stage::Printing {
                            receipt: customer.clone(),
                        });
                    }
                    if let Ok(mut g) = self.shared.last_receipt.lock() {
                        *g = original;
                    }
                    if let Ok(mut g) = self.shared.last_reprint.lock() {
                        *g = reprint;
                    }
                }
                if self.print_tx.try_send(job).is_err() {
                    tracing::warn!(
                        "printer busy or stopped: receipt not printed (a reprint brings it)"
                    );
                }
            }
            while let Some(answer) = self.app.poll_answer() {
                progressed = true;
                self.deliver(answer);
            }
            // The customer sees the answer, then the printer.
            for stage in printing {
                self.shared.ui.stages.publish(stage);
            }
            if !progressed {
                break;
            }
        }
        self.publish();
    }

    fn send_bank(&mut self, req: BankRequest) {
        if matches!(req, BankRequest::Auth(_) | BankRequest::PreAuth(_)) {
            crate::crash::point("before-bank-request");
            self.start_wait_clock();
            self.shared.ui.stages.publish(Stage::ContactingBank);
        }
        // A tester may hold the link (slow, silent) or take it down (offline): the link is
        // simulated here, what that means for the payment is the application's to decide.
        let fault = self.shared.ui.bank_fault.get();
        let stan = req.stan();
        tracing::debug!(stan, msg = req.name(), "to the bank");
        let bank = self.bank.clone();
        let tx = self.events_tx.clone();
        // The application times the exchange; the link's own limit only cleans up after it.
        let wait = self.cfg.bank_timeout + Duration::from_secs(5);
        tokio::spawn(async move {
            match fault {
                BankFault::Normal => {}
                BankFault::Slow { .. } => {
                    if let Some(d) = BankFaultCell::slow_delay(fault) {
                        tokio::time::sleep(d).await;
                    }
                }
                BankFault::Silent => {
                    tracing::warn!(stan, "bank link silent (tester): the message is held");
                    return;
                }
                BankFault::Offline => {
                    tracing::warn!(stan, "bank link offline (tester): the message is not sent");
                    let _ = tx.send(Event::Bank {
                        stan,
                        result: Err(BankError::NotConnected),
                    });
                    return;
                }
            }
            let result = bank.exchange(req, wait).await;
            let _ = tx.send(Event::Bank { stan, result });
        });
    }

    fn deliver(&mut self, answer: terminal::Answer) {
        let r = answer.response;
        tracing::info!(request = r.kind.name(), outcome = r.outcome.name(), trace = ?r.trace, reason = r.text.as_deref().unwrap_or(""), "answer");
        if self.on_screen == Some(answer.id.0) {
            self.on_screen = None;
            self.shared.ui.stages.publish(answer_stage(&r));
        }
        if self.timed == Some(answer.id.0) {
            self.stop_wait_clock();
            self.timed = None;
        }
        let Some(w) = self.waiting.remove(&answer.id.0) else {
            return;
        };
        if let Some(slot) = &w.waited {
            slot.store(
                u64::try_from(w.spent.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
        if w.reply.send(r).is_err() {
            tracing::warn!("till gone before the answer; it stays the last transaction");
        }
        self.shared.touch();
    }

    fn start_wait_clock(&mut self) {
        if let Some(w) = self.timed.and_then(|id| self.waiting.get_mut(&id)) {
            w.since = Some(std::time::Instant::now());
        }
    }

    fn stop_wait_clock(&mut self) {
        if let Some(w) = self.timed.and_then(|id| self.waiting.get_mut(&id)) {
            if let Some(since) = w.since.take() {
                w.spent += since.elapsed();
            }
        }
    }

    fn update_space(&mut self) {
        let space = if self.journal.has_room(TXN_RESERVE) {
            JournalSpace::Enough
        } else if self.journal.has_room(CLOSE_RESERVE) {
            JournalSpace::CloseOnly
        } else {
            JournalSpace::Full
        };
        self.app.set_journal_space(space);
    }

    /// Copies what the till sessions read without the queue out of the application.
    fn publish(&self) {
        self.shared
            .pending_reversals
            .store(self.app.pending_reversals(), Ordering::Relaxed);
        self.shared.busy.store(self.app.is_busy(), Ordering::SeqCst);
        self.shared
            .waiting_for_card
            .store(self.app.is_waiting_for_card(), Ordering::SeqCst);
        if let Ok(mut g) = self.shared.last_approved.lock() {
            *g = self.app.last_approved();
        }
    }
}

/// The answer as the terminal's screen shows it (card number masked).
fn answer_stage(r: &Response) -> Stage {
    Stage::Answer {
        kind: r.kind.name(),
        outcome: r.outcome.name(),
        code: match &r.outcome {
            Outcome::Declined { code } => Some(code.to_string()),
            _ => None,
        },
        reason: match &r.outcome {
            Outcome::Failed { reason } => Some(reason.name()),
            _ => None,
        },
        message: match &r.outcome {
            Outcome::Failed { .. } => r.text.as_ref().map(|t| t.to_string()),
            _ => None,
        },
        approval: r.approval_code.as_ref().map(|a| a.to_string()),
        amount: r.amount.map(|m| m.to_string()),
        pan: r.pan.as_ref().map(|p| p.to_string()),
        scheme: r.scheme.map(|s| s.name()),
        trace: r.trace,
        time: r.timestamp.as_ref().map(|t| t.to_string()),
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The link as the application sees it: down while a tester holds it offline (`--ui`).
fn effective_link(real: LinkState, fault: BankFault) -> LinkState {
    if fault == BankFault::Offline {
        LinkState::Down
    } else {
        real
    }
}

fn link_state(s: LinkStatus) -> LinkState {
    match s {
        LinkStatus::Connected => LinkState::Up,
        // The first connection, or a reconnect that has barely begun (a link dropped because
        // it went out of step comes back within a backoff step or two): a request waits for
        // it, up to `terminal::FIRST_CONNECT_WAIT`.
        LinkStatus::Connecting { attempt } if attempt <= 2 => LinkState::Connecting,
        LinkStatus::Connecting { .. } | LinkStatus::NoBank | LinkStatus::Asleep => LinkState::Down,
    }
}

/// What the card task is told: the card reader's and the keypad's commands.
enum ReaderCmd {
    Card(CardCommand),
    Confirm(ConfirmCommand),
}

/// Owns the card reader and its keypad: one read or PIN entry at a time, dropped when
/// cancelled or replaced.
async fn card_task(
    mut reader: Box<dyn CardReader>,
    mut cmds: mpsc::UnboundedReceiver<ReaderCmd>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut next = cmds.recv().await;
    while let Some(cmd) = next.take() {
        match cmd {
            ReaderCmd::Card(CardCommand::Read {
                amount,
                kind,
                cashback,
            }) => {
                let txn = CardTxn {
                    amount,
                    kind,
                    cashback,
                    date: crate::clock::timestamp(),
                };
                tokio::select! {
                    read = reader.read(txn) => {
                        let _ = events.send(Event::Card(read));
                        next = cmds.recv().await;
                    }
                    // A cancel (or a new read) drops the read in progress.
                    cmd = cmds.recv() => next = cmd,
                }
            }
            ReaderCmd::Confirm(ConfirmCommand::Ask { kind }) => {
                tokio::select! {
                    input = reader.merchant_pin(kind) => {
                        let _ = events.send(Event::Merchant(input));
                        next = cmds.recv().await;
                    }
                    cmd = cmds.recv() => next = cmd,
                }
            }
            ReaderCmd::Card(CardCommand::Cancel) | ReaderCmd::Confirm(ConfirmCommand::Cancel) => {
                next = cmds.recv().await;
            }
        }
    }
}

/// Owns the spool and the printer: prints in order, never holding anything else up.
async fn print_task(
    mut spool: ReceiptSpool,
    mut printer: Box<dyn Printer>,
    mut jobs: mpsc::Receiver<AppPrintJob>,
) {
    while let Some(job) = jobs.recv().await {
        let run = move |spool: &mut ReceiptSpool, printer: &mut Box<dyn Printer>| match &job {
            AppPrintJob::Receipt(r) => spool.print(printer.as_mut(), r).map(|_| ()),
            AppPrintJob::Reprint => spool.reprint(printer.as_mut()).map(|_| ()),
        };
        let result = if printer.blocks() {
            match tokio::task::spawn_blocking(move || {
                let r = run(&mut spool, &mut printer);
                (spool, printer, r)
            })
            .await
            {
                Ok((s, p, r)) => {
                    spool = s;
                    printer = p;
                    r
                }
                Err(_) => {
                    tracing::error!("printer task failed; printing stops");
                    return;
                }
            }
        } else {
            run(&mut spool, &mut printer)
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "receipt not printed");
        }
    }
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
