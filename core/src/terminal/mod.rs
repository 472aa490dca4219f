//! The payment application: the terminal's decisions, as a sans-IO state machine.
//!
//! [`Terminal`] owns every payment decision — trace numbers, journal before answer, what a
//! bank answer means (one table: [`crate::bank::ResponseCode::meaning`]), reversal matching,
//! store-and-forward reversals with backoff, batch totals and close, and what card data may
//! leave the bank link. It never reads a clock, a socket, a card reader, a printer or a file:
//! the driver feeds it events with the current time (`handle_*`) and carries out what it asks
//! (`poll_*`). The tokio agent, a firmware main loop and the one-thread shop simulation
//! (`core/tests/shop_sim.rs`) all run this same code. quinn-proto's `Connection` is the model.
//!
//! # A sale
//! ```text
//!  till session      Terminal (this)                       driver
//!  ── Sale ─────────▶ handle_request ──▶ poll_card:   Read{amount} ──▶ card reader
//!                     handle_card    ◀── card presented ◀──────────────
//!                                    ──▶ poll_record: AuthStarted ──▶ journal (durable)
//!                     handle_persisted ◀──────────────────────────────
//!                                    ──▶ poll_bank:   Send(0200) ───▶ bank link
//!                     handle_bank_answer ◀── 0210 ◀────────────────────
//!                                    ──▶ poll_record: Completed ────▶ journal (durable)
//!                     handle_persisted ◀──────────────────────────────
//!  ◀── answer ─────── poll_answer
//!                     poll_print: the receipt ──▶ printer (never delays the answer)
//! ```
//!
//! # The driver contract
//! 1. Build with [`Terminal::new`] from the [`JournalState`] the durable records fold into
//!    (after a restart, that state alone: nothing else survives). Where the application
//!    (about 16 KiB on a 32-bit target) must not pass through the stack, build it in place
//!    with [`Terminal::empty`] (e.g. in a `static`), then [`Terminal::restore`] it from that
//!    state, or [`Terminal::replay`] each record read back and [`Terminal::resume`].
//! 2. Feed every input as it happens: [`Terminal::handle_request`], [`Terminal::handle_card`],
//!    [`Terminal::handle_bank_answer`], [`Terminal::handle_bank_failure`],
//!    [`Terminal::handle_link`], [`Terminal::handle_delivered`],
//!    [`Terminal::handle_answer_undeliverable`], [`Terminal::handle_confirmation`] (the
//!    merchant's PIN, see [`confirm`]), and [`Terminal::handle_timeout`] when the time
//!    from [`Terminal::poll_timeout`] has come. Call [`Terminal::set_wall_time`] before any of
//!    them whenever the calendar time has moved (it stamps bank messages and answers).
//! 3. After any `handle_*`, drain the outputs in this order until each gives `None`:
//!    [`Terminal::poll_record`] (make it durable — it lends the record: encode it straight into
//!    the journal's buffer — then [`Terminal::handle_persisted`] — or
//!    [`Terminal::handle_persist_failed`] — before anything else), [`Terminal::poll_bank`],
//!    [`Terminal::poll_card`], [`Terminal::poll_confirmation`], [`Terminal::poll_answer`],
//!    [`Terminal::poll_print`].
//!    Nothing goes to the bank or the till while a record waits to be made durable.
//! 4. Sleep until [`Terminal::poll_timeout`] or the next input. `poll_timeout` changes only
//!    through a `handle_*` call, so read it again after each.
//!
//! ```
//! use core::time::Duration;
//! use ecrlink_core::Instant;
//! use ecrlink_core::bank::ResponseCode;
//! use ecrlink_core::journal::JournalState;
//! use ecrlink_core::terminal::*;
//! use ecrlink_core::txn::*;
//!
//! let mut app = Terminal::new(Config::new(Currency::EUR), JournalState::new(), Instant::ZERO);
//! let now = Instant::from_millis(1_000);
//! app.handle_link(now, LinkState::Up);
//! let sale = Request::Sale { amount: Money::new(1250, Currency::EUR).unwrap(), reference: None };
//! app.handle_request(now, RequestId(1), TillId(1), sale);
//! assert_eq!(app.poll_card(), Some(CardCommand::Read {
//!     amount: Money::new(1250, Currency::EUR).unwrap(), kind: AuthKind::Sale, cashback: None,
//! }));
//! let card = CardData {
//!     pan: Pan::new("4761739001010119").unwrap(),
//!     scheme: CardScheme::Visa,
//!     entry_mode: EntryMode::Chip,
//!     expiry: None,
//!     sequence: None,
//!     emv: EmvData::new(),
//!     pin: PinCheck::Accepted,
//! };
//! app.handle_card(now, CardEvent::Presented(card));
//! // Journal before the bank: persist every record the application asks for.
//! let mut journal = Vec::new();
//! while let Some(record) = app.poll_record() {
//!     journal.push(record.to_record());
//!     app.handle_persisted(now);
//! }
//! let Some(BankCommand::Send(BankRequest::Auth(auth))) = app.poll_bank() else { panic!() };
//! app.handle_bank_answer(now, BankAnswer {
//!     mti: 210, stan: auth.stan, code: ResponseCode::APPROVED,
//!     approval: Some(ApprovalCode::new("A1B2C3").unwrap()), amount: None, emv: EmvData::new(),
//! });
//! while let Some(record) = app.poll_record() {
//!     journal.push(record.to_record());
//!     app.handle_persisted(now);
//! }
//! let answer = app.poll_answer().unwrap();
//! assert_eq!(answer.response.outcome, Outcome::Approved);
//! assert_eq!(answer.response.pan.unwrap().last4(), "0119");
//! assert!(app.poll_print().is_some());
//! ```
//!
//! # Example: the application answers a till's sale over a pipe
//!
//! The whole terminal in one loop, as firmware runs it: a Concert line driver
//! ([`crate::io::BlockingTerminal`]) brings the till's request, the application decides, and
//! the driver sends the answer back; a till driver on the other end of an in-memory
//! [`crate::io::Pipe`] asks for the sale. The card reader, the journal and the bank are
//! stand-ins here (a card is presented at once, a record is durable at once, the bank
//! approves). No `std`, no heap: this is a `#![no_std]` library as it stands.
//!
//! ```
//! #![no_std]
//! # extern crate std;
//! use core::cell::Cell;
//!
//! use ecrlink_core::Instant;
//! use ecrlink_core::bank::ResponseCode;
//! use ecrlink_core::dialect::concert::{
//!     ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
//! };
//! use ecrlink_core::io::{BlockingTerminal, BlockingTill, DriverError, Pipe, PipeError};
//! use ecrlink_core::journal::JournalState;
//! use ecrlink_core::link::session::TX_CAPACITY;
//! use ecrlink_core::session::{EcrEvent, TerminalEvent};
//! use ecrlink_core::terminal::{
//!     BankAnswer, BankCommand, BankRequest, CardCommand, CardData, CardEvent, Config,
//!     LinkState, PinCheck, RequestId, Terminal, TillId,
//! };
//! use ecrlink_core::txn::{
//!     ApprovalCode, CardScheme, Currency, EmvData, EntryMode, Money, Pan, Request, Response,
//! };
//!
//! /// A till asks for a 12.50 EUR sale; the payment application answers it. Returns the
//! /// answer the till got.
//! pub fn sale_through_the_application() -> Result<Response, DriverError<PipeError>> {
//!     let millis = Cell::new(0u64);
//!     let clock = || Instant::from_millis(millis.get());
//!     let mut pipe = Pipe::<256>::new();
//!     let (till_port, terminal_port) = pipe.split();
//!     let mut till = BlockingTill::<_, _, _, TX_CAPACITY>::new(
//!         ConcertEcr::new(ConcertEcrConfig::default()),
//!         till_port,
//!         &clock,
//!     );
//!     // The terminal: its till line and its payment application.
//!     let mut line = BlockingTerminal::<_, _, _, TX_CAPACITY>::new(
//!         ConcertTerminal::new(ConcertTerminalConfig::default()),
//!         terminal_port,
//!         &clock,
//!     );
//!     let mut app = Terminal::new(Config::new(Currency::EUR), JournalState::new(), clock());
//!     app.handle_link(clock(), LinkState::Up);
//!     // The trace number of the answer on the line, for its delivery.
//!     let mut answering = None;
//!
//!     till.start(&Request::Sale { amount: Money::new(1250, Currency::EUR)?, reference: None })?;
//!     loop {
//!         let now = clock();
//!         // The till line: a request goes to the application; a delivered answer is
//!         // journaled as delivered.
//!         match line.poll()? {
//!             Some(TerminalEvent::Request(request)) => {
//!                 app.handle_request(now, RequestId(1), TillId(1), request);
//!             }
//!             Some(TerminalEvent::ResponseDelivered) => {
//!                 if let Some(stan) = answering.take() {
//!                     app.handle_delivered(now, stan);
//!                 }
//!             }
//!             _ => {}
//!         }
//!         // The application's outputs, in the contract's order; records first: write each
//!         // to flash, then say so.
//!         if app.poll_record().is_some() {
//!             app.handle_persisted(now);
//!             continue;
//!         }
//!         if let Some(BankCommand::Send(BankRequest::Auth(auth))) = app.poll_bank() {
//!             // The bank link's stand-in approves every authorisation.
//!             app.handle_bank_answer(now, BankAnswer {
//!                 mti: 210,
//!                 stan: auth.stan,
//!                 code: ResponseCode::APPROVED,
//!                 approval: Some(ApprovalCode::new("A1B2C3")?),
//!                 amount: None,
//!                 emv: EmvData::new(),
//!             });
//!             continue;
//!         }
//!         if let Some(CardCommand::Read { .. }) = app.poll_card() {
//!             // The card reader's stand-in: a chip card and its PIN, at once.
//!             app.handle_card(now, CardEvent::Presented(CardData {
//!                 pan: Pan::new("4761739001010119")?,
//!                 scheme: CardScheme::Visa,
//!                 entry_mode: EntryMode::Chip,
//!                 expiry: None,
//!                 sequence: None,
//!                 emv: EmvData::new(),
//!                 pin: PinCheck::Accepted,
//!             }));
//!             continue;
//!         }
//!         if let Some(answer) = app.poll_answer() {
//!             answering = answer.response.trace;
//!             line.respond(&answer.response)?;
//!         }
//!         while app.poll_print().is_some() {} // the receipt printer's stand-in
//!         // The till: the answer, or why there is none.
//!         match till.poll()? {
//!             Some(EcrEvent::Response(answer)) => return Ok(answer),
//!             Some(EcrEvent::TimedOut) => return Err(DriverError::TimedOut),
//!             Some(EcrEvent::Failed(e)) => return Err(DriverError::NotDelivered(e)),
//!             _ => {}
//!         }
//!         // Time passes; the application's deadline fires when due.
//!         millis.set(millis.get() + 1);
//!         if app.poll_timeout().is_some_and(|deadline| clock() >= deadline) {
//!             app.handle_timeout(clock());
//!         }
//!     }
//! }
//! # fn main() {
//! #     let answer = sale_through_the_application().unwrap();
//! #     assert_eq!(answer.outcome, ecrlink_core::txn::Outcome::Approved);
//! #     assert_eq!(answer.amount, Money::new(1250, Currency::EUR).ok());
//! #     assert_eq!(answer.pan.as_ref().map(|p| p.last4()), Some("0119"));
//! # }
//! ```

mod backoff;
mod bank;
pub mod confirm;
mod policy;
mod preauth;
mod records;
#[cfg(test)]
mod sizes;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_preauth;
pub mod wire;

use core::time::Duration;

use heapless::{Deque, String, Vec};

pub use crate::journal::book::{self, MAX_BOOK, receipt_of};
pub use backoff::{Backoff, Rng};
pub use bank::{
    AuthKind, AuthRequest, BankAnswer, BankCommand, BankFailure, BankRequest, CompletionRequest,
    ReconcileRequest, ReleaseRequest, ReversalRequest,
};
pub use confirm::{ConfirmCommand, Confirmation, Lockout, PinHash};
pub use policy::{DayLine, DayTotals, KindSet, Policy, Refusal};
pub use preauth::{
    PREAUTH_AMOUNT_TEXT, PREAUTH_BOOKED_TEXT, PREAUTH_FULL_TEXT, PREAUTH_LOST_TEXT,
    PREAUTH_OPEN_TEXT, PREAUTH_RELEASED_TEXT, PREAUTH_UNKNOWN_TEXT,
};
pub use records::MAX_PAYLOADS;

use records::{Payload, Queued, Records};

use crate::bank::{CodeMeaning, Expiry};
use crate::emv;
use crate::journal::{
    AuthStarted, Checkpoint, JournalState, Original, PendingReversal, RecordRef, ReversalReason,
};
use crate::time::{Instant, earliest};
use crate::txn::{
    Amount, ApprovalCode, CardScheme, Currency, CurrencyTotals, DeclineCode, EmvData, EntryMode,
    FailReason, Money, Outcome, Pan, Reference, Request, RequestKind, Response, TerminalId,
    Timestamp,
};

/// The largest trace number (ISO 8583 field 11 is n6).
pub const MAX_STAN: u32 = 999_999;
/// Trace numbers reserved in the journal with one
/// [`crate::journal::Record::StanReserved`].
pub const STAN_BLOCK: u32 = 100;
/// Records that may wait to be made durable at once (of them at most [`MAX_PAYLOADS`] with an
/// answer or totals).
pub const MAX_RECORDS: usize = 8;
/// Answers that may wait for the driver at once.
pub const MAX_ANSWERS: usize = 4;
/// Bank messages that may wait for the driver at once.
pub const MAX_BANK_OUT: usize = 4;
/// Print jobs that may wait for the driver at once (older ones are dropped: a receipt can
/// be reprinted, an answer cannot be held back).
pub const MAX_PRINTS: usize = 2;
/// Card numbers kept in memory (never journaled) for reversals queued in this run.
pub const MAX_PANS: usize = 4;
/// How long a request waits for a bank link that is still making its first connection.
pub const FIRST_CONNECT_WAIT: Duration = Duration::from_secs(3);

/// The text of a request refused because the journal has no room left for it.
pub const JOURNAL_FULL_TEXT: &str = "journal full: close the batch";
/// The text of a money request refused because its start could not be made durable.
pub const JOURNAL_WRITE_TEXT: &str = "journal not writable: refused";
/// The text of an approval reversed because its answer could not be made durable.
pub const JOURNAL_LOST_TEXT: &str = "journal not writable: reversed";
/// The text of a till's reversal the bank refused whose answer could not be made durable: a
/// restart sends it again, so the till cannot be told it was refused.
pub const JOURNAL_UNKNOWN_REVERSAL_TEXT: &str = "journal not writable: reversal may follow";
/// The text of a batch close the bank reconciled whose record could not be made durable: the
/// terminal's batch stays open, and the next close reconciles its totals again.
pub const JOURNAL_CLOSE_TEXT: &str = "journal not writable: batch open";
/// The text of an answer the bank approved for part of the amount only, reversed at once.
pub const PARTIAL_TEXT: &str = "partial approval reversed";
/// The text of a reversal by receipt number refused because that payment was reversed
/// already (ZVT answers it with its own result code, `B4`).
pub const ALREADY_REVERSED_TEXT: &str = "already reversed";
/// The text of a till's reversal that the bank has not confirmed yet.
pub const REVERSAL_STORED_TEXT: &str = "reversal stored, sent when the bank answers";

/// The application's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Terminal id (stamped on answers).
    pub terminal_id: Option<TerminalId>,
    /// The terminal's own currency: what an empty batch is closed in.
    pub currency: Currency,
    /// The longest a till's request may take, card and bank included (60 s).
    pub txn_limit: Duration,
    /// The longest one bank exchange may take (15 s).
    pub bank_timeout: Duration,
    /// Echo (0800/301) the bank when idle this often; `None`: never.
    pub echo_every: Option<Duration>,
    /// Timing of re-sending a stored reversal.
    pub reversal_backoff: Backoff,
    /// Seed of the jitter generator.
    pub seed: u64,
    /// What tills may ask ([`Policy::default`] caps amounts).
    pub policy: Policy,
}

impl Config {
    /// The defaults, with `currency` as the terminal's currency: 60 s per request, 15 s per
    /// bank exchange, an echo every 60 s, reversals re-sent after 1 s doubling up to 60 s.
    pub fn new(currency: Currency) -> Self {
        Config {
            terminal_id: None,
            currency,
            txn_limit: Duration::from_secs(60),
            bank_timeout: Duration::from_secs(15),
            echo_every: Some(Duration::from_secs(60)),
            reversal_backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            seed: 1,
            policy: Policy::default(),
        }
    }
}

/// The driver's name for one till request, echoed with its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestId(pub u64);

/// The driver's name for one till connection: only the till that started a transaction may
/// abort it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TillId(pub u64);

/// What the card reader must do, from [`Terminal::poll_card`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CardCommand {
    /// Ask the cardholder for a card for `amount`.
    Read {
        /// What the card pays (cash back included).
        amount: Money,
        /// Sale, sale with cash back or refund (the card's transaction type, EMV `9C`).
        kind: AuthKind,
        /// The cash-back part of `amount` (EMV `9F03`).
        cashback: Option<Amount>,
    },
    /// Stop reading (aborted or timed out); a card read afterwards is ignored.
    Cancel,
}

/// How the cardholder's PIN went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinCheck {
    /// Entered and accepted.
    Accepted,
    /// Wrong: the terminal declines with `55`.
    Wrong,
    /// Bypassed; the cardholder signs.
    Bypassed,
    /// Not asked (contactless under the limit, swipe).
    NotAsked,
}

/// A card as the reader gives it: the full card number and EMV data, for the bank only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardData {
    /// Card number.
    pub pan: Pan,
    /// Scheme.
    pub scheme: CardScheme,
    /// How it was read.
    pub entry_mode: EntryMode,
    /// Expiry date (chip `5F24`, or the track): to the bank only.
    pub expiry: Option<Expiry>,
    /// PAN sequence number (chip `5F34`), if the card has one.
    pub sequence: Option<u8>,
    /// EMV data from the card (may carry tags 5A, 57…: they go to the bank only).
    pub emv: EmvData,
    /// PIN verification.
    pub pin: PinCheck,
}

/// What the card reader reports, into [`Terminal::handle_card`].
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardEvent {
    /// A card was read.
    Presented(CardData),
    /// The cardholder cancelled or removed the card.
    Cancelled,
    /// The card could not be read or refused.
    Failed(FailReason),
}

/// The state of the bank link, into [`Terminal::handle_link`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkState {
    /// Making its first connection: a request waits up to [`FIRST_CONNECT_WAIT`].
    Connecting,
    /// Connected.
    Up,
    /// Not connected (no bank, asleep, or reconnecting after failures).
    Down,
}

/// An answer for the till, from [`Terminal::poll_answer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The request it answers.
    pub id: RequestId,
    /// The till that asked.
    pub till: TillId,
    /// The answer. Card data in it is masked and redacted.
    pub response: Response,
}

/// A receipt to print, from [`Terminal::poll_print`].
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrintJob {
    /// Both copies of this answer's receipt.
    Receipt(Response),
    /// The last receipt again, marked as a duplicate.
    Reprint,
}

/// Where the running transaction is.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// Waiting for the bank link's first connection.
    WaitingLink { until: Instant },
    /// Waiting for the merchant's PIN ([`confirm`]); nothing has started yet.
    Confirming,
    /// Waiting for the card.
    ReadingCard,
    /// The start record is being made durable; then this goes to the bank.
    Journaling { request: BankRequest },
    /// Waiting for the bank's answer to `stan`.
    AwaitingBank { stan: u32, mti: u16, until: Instant },
    /// Close totals: waiting for the stored reversals to reach the bank first.
    CloseWaitingReversals,
    /// Close totals: reconciliation `index` of the batch's currencies in flight.
    Reconciling {
        stan: u32,
        until: Instant,
        index: usize,
    },
    /// Echo for a bank test in flight.
    Echoing { stan: u32, sent: Instant },
    /// The final records are being made durable; then the answer goes out.
    Finishing,
}

/// The request being run (at most one at a time: a terminal has one card reader).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Txn {
    id: RequestId,
    till: TillId,
    request: Request,
    deadline: Instant,
    response: Response,
    step: Step,
    /// The start record of a journaled request.
    auth: Option<AuthStarted>,
    /// The card number, for a reversal owed in this run.
    pan: Option<Pan>,
    /// Close totals: the currencies to reconcile.
    close_lines: Vec<CurrencyTotals, 4>,
    /// Print the answer's receipt once it is out.
    print: bool,
}

impl Txn {
    /// Ends the request with `outcome` and `text` when its records could not be made durable:
    /// nothing is printed and nothing more is journaled; the answer goes out as is.
    fn end_unjournaled(&mut self, outcome: Outcome, text: &str) {
        self.response.outcome = outcome;
        set_text(&mut self.response, text);
        self.print = false;
        self.step = Step::Finishing;
    }
}

/// The reversal being sent to the bank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ReversalInFlight {
    stan: u32,
    batch: u32,
    original_stan: u32,
    until: Instant,
}

/// The idle echo in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EchoInFlight {
    stan: u32,
    until: Instant,
}

/// The payment application. See the [module documentation](self) for the driver contract.
#[derive(Clone, Debug)]
pub struct Terminal {
    cfg: Config,
    journal: JournalState,
    wall: Timestamp,
    stan_next: u32,
    stan_reserved: u32,
    /// Records waiting to be made durable, kept small ([`records`]).
    records: Records,
    answers: Deque<Answer, MAX_ANSWERS>,
    bank_out: Deque<BankCommand, MAX_BANK_OUT>,
    card_out: Option<CardCommand>,
    prints: Deque<PrintJob, MAX_PRINTS>,
    txn: Option<Txn>,
    link: LinkState,
    /// The last echo failed: no sale is tried until the link comes up again.
    bank_down: bool,
    reversal: Option<ReversalInFlight>,
    reversal_attempt: u32,
    reversal_next: Instant,
    /// Reversals owed that could not be journaled (the journal failed): kept in memory.
    volatile: Vec<PendingReversal, 4>,
    pans: Vec<(u32, u32, Pan), MAX_PANS>,
    /// The card number of the last approved payment (batch, trace, number), for its reversal.
    last_pan: Option<(u32, u32, Pan)>,
    echo: Option<EchoInFlight>,
    next_echo: Option<Instant>,
    has_receipt: bool,
    /// Last-transaction questions asked while a transaction ran, answered when it is done.
    /// One fewer than [`MAX_ANSWERS`]: the transaction's own answer goes out with theirs, and
    /// none of them may push another out of the queue.
    waiting_last: Vec<(RequestId, TillId), { MAX_ANSWERS - 1 }>,
    space: JournalSpace,
    rng: Rng,
    /// Merchant confirmation: what to ask, and wrong tries per operation.
    confirm_out: Option<ConfirmCommand>,
    lockout: Lockout,
    /// What today approved, for the per-day limits.
    day: DayTotals,
}

/// How much room the driver's journal has left, from [`Terminal::set_journal_space`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum JournalSpace {
    /// Room for whole transactions.
    Enough,
    /// Room to close the batch only: money requests are refused.
    CloseOnly,
    /// No room: everything that writes is refused.
    Full,
}

impl Terminal {
    /// The application over the state its durable records fold into. After a restart,
    /// authorizations that were started and never completed get a reversal queued
    /// ([`JournalState::recover`]); that recovered state is itself the first record to make
    /// durable. The same as [`Self::empty`] then [`Self::restore`]; where the value is large
    /// for the stack (firmware), build it in place with those two.
    pub fn new(cfg: Config, state: JournalState, now: Instant) -> Self {
        let mut t = Terminal::empty(cfg);
        t.restore(&state, now);
        t
    }

    /// An application over an empty journal, not yet started: call [`Self::restore`] before
    /// anything else. It holds no large temporary, so that it can be built in place, e.g. in
    /// a `static` with `static_cell::StaticCell::init_with(|| Terminal::empty(cfg))`.
    pub fn empty(cfg: Config) -> Self {
        Terminal {
            rng: Rng::new(cfg.seed),
            cfg,
            journal: JournalState {
                checkpoint: Checkpoint {
                    batch: 1,
                    next_stan: 1,
                    totals: crate::txn::Totals {
                        currencies: Vec::new(),
                        schemes: Vec::new(),
                    },
                    last: None,
                    pending: Vec::new(),
                    last_close: None,
                },
                open: Vec::new(),
                open_before_last: 0,
                book: book::Book::new(),
            },
            wall: ZERO_TIME,
            stan_next: 1,
            stan_reserved: 1,
            records: Records::new(),
            answers: Deque::new(),
            bank_out: Deque::new(),
            card_out: None,
            prints: Deque::new(),
            txn: None,
            link: LinkState::Connecting,
            bank_down: false,
            reversal: None,
            reversal_attempt: 0,
            reversal_next: Instant::ZERO,
            volatile: Vec::new(),
            pans: Vec::new(),
            last_pan: None,
            echo: None,
            next_echo: None,
            has_receipt: false,
            waiting_last: Vec::new(),
            space: JournalSpace::Enough,
            confirm_out: None,
            lockout: Lockout::default(),
            day: DayTotals::new(),
        }
    }

    /// Starts the application over `state`, the state its durable records fold into, as
    /// [`Self::new`] does: everything it held before is dropped (what a restart keeps is in
    /// `state` alone). Changes the value in place: no copy of it is made.
    pub fn restore(&mut self, state: &JournalState, now: Instant) {
        self.journal.checkpoint.clone_from(&state.checkpoint);
        self.journal.open.clone_from(&state.open);
        self.journal.open_before_last = state.open_before_last;
        self.journal.book.clone_from(&state.book);
        self.resume(now);
    }

    /// Folds one record read back from the journal into the application's own state, on an
    /// application from [`Self::empty`] and before [`Self::resume`]: a firmware restores
    /// this way without a separate [`JournalState`] (2.6 KiB) on its stack. An error is the
    /// one [`JournalState::apply`] reports (a capacity exceeded; the record is applied as far
    /// as possible).
    pub fn replay<'r>(&mut self, record: impl Into<RecordRef<'r>>) -> crate::Result<()> {
        self.journal.apply(record)
    }

    /// [`Self::replay`] of a record still in its encoded form, the payload of a journal
    /// envelope of format `version` ([`crate::journal::apply_payload`]): no record is built
    /// on the stack (a checkpoint is decoded straight into the application's). The outer
    /// error is [`crate::Error::JournalRecord`], the payload does not decode (nothing is
    /// applied); the inner result is what [`Self::replay`] reports. With
    /// [`crate::journal::Reader::next_with`]:
    /// `reader.next_with(|version, payload| app.replay_payload(version, payload))`.
    pub fn replay_payload(
        &mut self,
        version: u16,
        payload: &[u8],
    ) -> crate::Result<crate::Result<()>> {
        crate::journal::apply_payload(version, payload, &mut self.journal)
    }

    /// Starts the application over the records [`Self::replay`]ed into it: the same as
    /// [`Self::restore`] with the state they fold into.
    pub fn resume(&mut self, now: Instant) {
        let needs_checkpoint = !self.journal.open.is_empty();
        // All or nothing: over capacity, what was folded is kept; the overflow was reported
        // when the records were applied.
        let _ = self.journal.recover_in_place();
        self.journal.open.clear();
        self.journal.open_before_last = 0;
        let cp = &self.journal.checkpoint;
        self.has_receipt = cp.last.is_some();
        self.stan_next = cp.next_stan.max(1);
        self.stan_reserved = self.stan_next;
        self.next_echo = self.cfg.echo_every.map(|d| now.saturating_add(d));
        self.rng = Rng::new(self.cfg.seed);
        self.wall = ZERO_TIME;
        self.records.clear();
        self.answers.clear();
        self.bank_out.clear();
        self.card_out = None;
        self.prints.clear();
        self.txn = None;
        self.link = LinkState::Connecting;
        self.bank_down = false;
        self.reversal = None;
        self.reversal_attempt = 0;
        self.reversal_next = now;
        self.volatile.clear();
        self.pans.clear();
        self.last_pan = None;
        self.echo = None;
        self.waiting_last.clear();
        self.space = JournalSpace::Enough;
        self.confirm_out = None;
        self.lockout = Lockout::default();
        self.day = DayTotals::new();
        if needs_checkpoint {
            // The recovered state is the checkpoint record: it is read from `journal` when
            // written, and nothing is folded into `journal` before that ([`records`]).
            self.records.push(Queued::Checkpoint);
        }
    }

    /// The durable state: batch, trace counter, totals, last transaction, pending reversals.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.journal.checkpoint
    }

    /// Whether a request is running.
    pub fn is_busy(&self) -> bool {
        self.txn.is_some()
    }

    /// Whether the running request waits for a card (an abort would cancel it).
    pub fn is_waiting_for_card(&self) -> bool {
        matches!(
            self.txn.as_ref().map(|t| &t.step),
            Some(Step::ReadingCard | Step::WaitingLink { .. })
        )
    }

    /// Reversals owed to the bank (journaled and in memory).
    pub fn pending_reversals(&self) -> usize {
        self.journal.checkpoint.pending.len() + self.volatile.len()
    }

    /// The approval code and amount of the last transaction, if it is an approved payment
    /// that a till's reversal could still undo.
    pub fn last_approved(&self) -> Option<(ApprovalCode, Money)> {
        let last = self.journal.checkpoint.last.as_ref()?;
        let r = &last.response;
        let payment = matches!(
            r.kind,
            RequestKind::Sale | RequestKind::SaleWithCashback | RequestKind::Refund
        );
        if !payment || !r.outcome.is_approved() || last.batch != self.journal.checkpoint.batch {
            return None;
        }
        Some((r.approval_code.clone()?, r.amount?))
    }

    // ---- inputs ------------------------------------------------------------------------

    /// How much room the journal has (a file with a size cap, a flash area). Money requests
    /// need [`JournalSpace::Enough`], closing the batch at least [`JournalSpace::CloseOnly`];
    /// otherwise they are refused before anything is read or sent.
    pub fn set_journal_space(&mut self, space: JournalSpace) {
        self.space = space;
    }

    /// The calendar time now (stamps bank messages and answers). Call it whenever it moved.
    pub fn set_wall_time(&mut self, wall: Timestamp) {
        self.wall = wall;
    }

    /// A till's request. The answer comes from [`Self::poll_answer`] with `id`.
    pub fn handle_request(&mut self, now: Instant, id: RequestId, till: TillId, request: Request) {
        let kind = request.kind();
        match request {
            Request::Abort => return self.abort(now, id, till),
            Request::LastTransaction if self.txn.is_some() => {
                // The running transaction is the one the till asks about (a till that lost
                // its answer and reconnected): answer once it is done.
                if self.waiting_last.push((id, till)).is_err() {
                    self.answer_plain(id, till, kind, fail(FailReason::Busy), None);
                }
                return;
            }
            Request::LastTransaction => return self.answer_last(id, till),
            Request::TestTerminal => {
                let state = if self.txn.is_some() { "busy" } else { "ready" };
                return self.answer_plain(id, till, kind, Outcome::Approved, Some(state));
            }
            _ => {}
        }
        if self.txn.is_some() {
            let busy = Some("busy with another request");
            return self.answer_plain(id, till, kind, fail(FailReason::Busy), busy);
        }
        if let Err(refusal) = self.check_policy(now, &request) {
            return self.refuse(id, till, &request, refusal);
        }
        let room = match kind {
            RequestKind::CloseTotals => self.space != JournalSpace::Full,
            k if k.moves_money() => self.space == JournalSpace::Enough,
            _ => true,
        };
        if !room {
            let full = Some(JOURNAL_FULL_TEXT);
            return self.answer_plain(id, till, kind, fail(FailReason::Other), full);
        }
        self.begin(now, id, till, request);
        if self.cfg.policy.confirm.contains(kind) {
            // The merchant's PIN first ([`Self::handle_confirmation`]); nothing starts before.
            return self.ask_confirmation(kind);
        }
        self.start(now);
        self.advance(now);
    }

    /// Makes `request` the running one. Out of line, like the other helpers that build an
    /// answer: its large temporaries are on the stack only while it runs, not under the
    /// whole of [`Self::handle_request`] and what that calls.
    #[inline(never)]
    fn begin(&mut self, now: Instant, id: RequestId, till: TillId, request: Request) {
        let mut response = self.response(request.kind(), Outcome::Approved);
        response.amount = request.amount();
        response.reference = request.reference().cloned();
        if let Request::SaleWithCashback { cashback, .. } = &request {
            response.cashback = Some(*cashback);
        }
        if let Request::Reversal { code, .. } = &request {
            response.approval_code = Some(code.clone());
        }
        self.txn = Some(Txn {
            id,
            till,
            request,
            deadline: now.saturating_add(self.cfg.txn_limit),
            response,
            step: Step::Finishing,
            auth: None,
            pan: None,
            close_lines: Vec::new(),
            print: false,
        });
    }

    /// Answers `id` at once with `outcome` and `text` (out of line: see [`Self::begin`]).
    #[inline(never)]
    fn answer_plain(
        &mut self,
        id: RequestId,
        till: TillId,
        kind: RequestKind,
        outcome: Outcome,
        text: Option<&str>,
    ) {
        let mut r = self.response(kind, outcome);
        if let Some(text) = text {
            set_text(&mut r, text);
        }
        self.answer(id, till, r);
    }

    /// Answers a last-transaction question with the last transaction's own answer, its kind
    /// kept (a sale, a refund, …): the dialect writes it as its last-transaction answer and
    /// names that kind where it can (`session::check_response`).
    #[inline(never)]
    fn answer_last(&mut self, id: RequestId, till: TillId) {
        let r = match &self.journal.checkpoint.last {
            Some(last) => last.response.clone(),
            None => self.response(
                RequestKind::LastTransaction,
                fail(FailReason::NoMatchingTransaction),
            ),
        };
        self.answer(id, till, r);
    }

    /// The card reader's report for the running request.
    pub fn handle_card(&mut self, now: Instant, event: CardEvent) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        if txn.step != Step::ReadingCard {
            return;
        }
        match event {
            CardEvent::Cancelled => self.finish_local(Outcome::Cancelled, false),
            CardEvent::Failed(reason) => self.finish_local(fail(reason), false),
            CardEvent::Presented(card) => self.card_presented(now, card),
        }
        self.advance(now);
    }

    /// The bank's answer to a message from [`Self::poll_bank`].
    pub fn handle_bank_answer(&mut self, now: Instant, answer: BankAnswer) {
        if self.txn_expects(answer.stan, answer.mti) {
            self.txn_bank_answer(now, answer);
        } else if let Some(r) = self
            .reversal
            .filter(|r| r.stan == answer.stan && answer.mti == 410)
        {
            self.reversal = None;
            if answer.code.ends_reversal() {
                self.reversal_attempt = 0;
                self.reversal_next = now;
                self.reversal_done(r.batch, r.original_stan);
            } else {
                self.reversal_retry_later(now);
            }
        } else if self
            .echo
            .is_some_and(|e| e.stan == answer.stan && answer.mti == 810)
        {
            self.echo = None;
            if !answer.code.is_approved() {
                self.bank_down = true;
                self.push_bank(BankCommand::Reconnect);
            }
        } else {
            // An answer for nothing in flight (late, duplicated, another trace number): the
            // link is out of step. Start again; whatever is in flight is reported lost.
            self.push_bank(BankCommand::Reconnect);
        }
        self.advance(now);
    }

    /// A bank exchange failed. `stan`: which message; `None`: every message in flight (the
    /// connection broke).
    pub fn handle_bank_failure(&mut self, now: Instant, stan: Option<u32>, failure: BankFailure) {
        let hits = |s: u32| stan.is_none_or(|x| x == s);
        if self.txn_bank_stan().is_some_and(hits) {
            self.txn_bank_failed(failure);
        }
        if self.reversal.is_some_and(|r| hits(r.stan)) {
            self.reversal = None;
            self.reversal_retry_later(now);
        }
        if self.echo.is_some_and(|e| hits(e.stan)) {
            self.echo = None;
            self.bank_down = true;
        }
        if failure == BankFailure::NotSent && stan.is_none() {
            self.bank_down = true;
        }
        self.advance(now);
    }

    /// The bank link's state changed.
    pub fn handle_link(&mut self, now: Instant, state: LinkState) {
        self.link = state;
        if state == LinkState::Up {
            self.bank_down = false;
            self.reversal_attempt = 0;
            self.reversal_next = now;
        }
        // Messages in flight when the link goes down are not failed here: the driver reports
        // each with `handle_bank_failure` (an answer may still be on its way to us first).
        if let Some(txn) = self.txn.as_ref() {
            if matches!(txn.step, Step::WaitingLink { .. }) && state != LinkState::Connecting {
                self.start_after_link(now);
            }
        }
        self.advance(now);
    }

    /// The record from [`Self::poll_record`] is durable.
    pub fn handle_persisted(&mut self, now: Instant) {
        if self.records.front_queued() == Some(&Queued::Checkpoint) {
            // The checkpoint is the journal state itself: folding it changes nothing else.
            self.journal.open.clear();
            self.journal.open_before_last = 0;
        } else if let Some(record) = self.records.front_not_checkpoint() {
            // Capacity overflows were prevented when the record was made.
            let _ = self.journal.apply(record);
            self.day.fold(record);
        }
        let _ = self.records.pop();
        self.advance(now);
    }

    /// The record from [`Self::poll_record`] could not be made durable (a full disk, a
    /// failing flash). Every record still waiting is dropped with it; a request whose start
    /// was not durable is refused before anything reached the bank, and an approval whose
    /// answer was not durable is reversed (from memory) and answered as failed.
    pub fn handle_persist_failed(&mut self, now: Instant) {
        let mut lost_approval: Option<AuthStarted> = None;
        let mut lost_refused_reversal = false;
        let mut lost_close = false;
        // A till's reversal whose start was not durable never reached the bank and could not
        // be found after a restart: it is refused, not stored in memory.
        let unstarted = self
            .txn
            .as_ref()
            .and_then(|t| t.auth.as_ref())
            .filter(|a| a.kind == RequestKind::Reversal)
            .filter(|a| {
                self.records
                    .iter()
                    .any(|r| matches!(r, Queued::AuthStarted(x) if x == *a))
            })
            .and_then(|a| a.original.map(|o| o.stan));
        while let Some(queued) = self.records.front_queued() {
            if matches!(queued, Queued::BatchClosed { .. }) {
                lost_close = true;
            }
            let record = match self.records.front_not_checkpoint() {
                Some(r) if unstarted.is_none() => r,
                _ => {
                    let _ = self.records.pop();
                    continue;
                }
            };
            // A reversal owed must not be forgotten with its record: keep it in memory.
            if let RecordRef::ReversalQueued(p) = record {
                let known = self
                    .volatile
                    .iter()
                    .chain(self.journal.checkpoint.pending.iter())
                    .any(|q| q.batch == p.batch && q.original.stan == p.original.stan);
                if !known {
                    let _ = self.volatile.push(*p);
                }
            }
            if let RecordRef::Completed { response, .. } = record {
                if response.kind == RequestKind::Reversal && !response.outcome.is_approved() {
                    // Its start is durable and open: a restart would send it again. The till
                    // must not be told it was refused.
                    lost_refused_reversal = true;
                }
                if response.kind == RequestKind::Reversal && response.outcome.is_approved() {
                    // The reversal happened (or is owed, and kept above): the sale must not
                    // stay the last transaction in memory, or the till could reverse it again.
                    // A restart finds the reversal's start open and re-sends it.
                    let _ = self.journal.apply(record);
                }
                if response.outcome.is_approved()
                    && matches!(
                        response.kind,
                        RequestKind::Sale
                            | RequestKind::SaleWithCashback
                            | RequestKind::Refund
                            | RequestKind::Reservation
                    )
                {
                    lost_approval = self.txn.as_ref().and_then(|t| t.auth.clone());
                }
            }
            let _ = self.records.pop();
        }
        if lost_close {
            // The batch stays open: its trace numbers go on from its durable reservation, not
            // from 1 again (a number used twice in a batch makes two messages one for the
            // bank and for reversal matching).
            self.stan_next = self.stan_next.max(self.journal.checkpoint.next_stan);
        }
        // Trace numbers handed out since the last durable reservation are not safe to use:
        // drop the messages that carry them (a stored reversal or an echo is tried again).
        self.stan_reserved = self.stan_next;
        self.bank_out.clear();
        self.reversal = None;
        self.echo = None;
        // Nothing is tried again before the backoff: a journal that keeps failing must not
        // turn this into a busy loop.
        self.reversal_retry_later(now);
        if let Some(txn) = self.txn.as_mut() {
            match txn.step {
                Step::Finishing if unstarted.is_some() => {
                    txn.end_unjournaled(fail(FailReason::Other), JOURNAL_WRITE_TEXT);
                }
                Step::Reconciling { .. } | Step::Echoing { .. } | Step::Journaling { .. } => {
                    txn.end_unjournaled(fail(FailReason::Other), JOURNAL_WRITE_TEXT);
                }
                Step::Finishing if lost_close => {
                    // The batch stays open here: the till must not be told it was closed, nor
                    // print its totals as the closed batch's.
                    txn.response.totals = None;
                    txn.end_unjournaled(fail(FailReason::Other), JOURNAL_CLOSE_TEXT);
                }
                Step::Finishing if lost_refused_reversal => {
                    // "Unknown until asked again": a restart may still send it.
                    txn.end_unjournaled(Outcome::Timeout, JOURNAL_UNKNOWN_REVERSAL_TEXT);
                }
                Step::Finishing => {
                    if let Some(auth) = lost_approval {
                        if let Some(p) = crate::journal::state::reversal_for(&auth) {
                            let p = PendingReversal {
                                reason: ReversalReason::BankTimeout,
                                ..p
                            };
                            let _ = self.volatile.push(p);
                        }
                        // The authorization is being reversed: its approval code must not
                        // reach the till or a receipt as if the sale stood.
                        txn.response.approval_code = None;
                        txn.end_unjournaled(fail(FailReason::Other), JOURNAL_LOST_TEXT);
                    }
                }
                _ => {}
            }
        }
        self.advance(now);
    }

    /// The till acknowledged the answer of trace number `stan`. Only the last transaction's
    /// first delivery is journaled (the journal keeps nothing else of it): an answer that
    /// names another trace number, e.g. a refusal that reached no bank, writes nothing.
    pub fn handle_delivered(&mut self, now: Instant, stan: u32) {
        let news = self
            .journal
            .checkpoint
            .last
            .as_ref()
            .is_some_and(|last| last.stan == stan && !last.delivered);
        if stan != 0 && news {
            self.push_record(Queued::Delivered { stan });
        }
        self.advance(now);
    }

    /// The till's dialect could not carry the answer of trace number `stan` (the till was
    /// told the request failed). An approved payment it answered is reversed at once, so that
    /// the bank never holds what the till does not know of — unless the till was already
    /// given that payment's answer ([`Self::handle_delivered`]): an answer to a later
    /// last-transaction question names the same trace number, and a sale the till knows of
    /// stands.
    pub fn handle_answer_undeliverable(&mut self, now: Instant, stan: u32) {
        if self.queue_undeliverable_reversal(stan) {
            self.advance(now);
        }
    }

    /// The records of [`Self::handle_answer_undeliverable`]: its reversal's start, the
    /// reversal owed and its completion; whether they were queued. Out of line, and without a
    /// copy of the last transaction: the answer it builds is not on the stack under
    /// [`Self::advance`].
    #[inline(never)]
    fn queue_undeliverable_reversal(&mut self, stan: u32) -> bool {
        let Some(last) = self.journal.checkpoint.last.as_ref() else {
            return false;
        };
        let r = &last.response;
        // A reservation the till was not told of is released the same way.
        let payment = matches!(
            r.kind,
            RequestKind::Sale
                | RequestKind::SaleWithCashback
                | RequestKind::Refund
                | RequestKind::Reservation
        );
        if stan == 0 || last.stan != stan || last.delivered || !payment || !r.outcome.is_approved()
        {
            return false;
        }
        let Some(amount) = r.amount else {
            return false;
        };
        // Its start, its queued reversal and its completion (and a trace reservation) go
        // together or not at all.
        if !self.records.has_room_for_payload(3) {
            return false;
        }
        let original = Original {
            stan: last.stan,
            kind: r.kind,
            amount,
            transmitted: last.transmitted,
            scheme: r.scheme,
        };
        let (pan, scheme) = (r.pan, r.scheme);
        let reference = r.reference.clone();
        let approval_code = r.approval_code.clone();
        let Some(rev_stan) = self.alloc_stan() else {
            return false;
        };
        let batch = self.journal.checkpoint.batch;
        let auth = AuthStarted {
            batch,
            stan: rev_stan,
            kind: RequestKind::Reversal,
            amount: Some(amount),
            cashback: None,
            pan,
            scheme,
            reference,
            transmitted: self.wall,
            original: Some(original),
        };
        self.push_record(Queued::AuthStarted(auth));
        self.push_record(Queued::ReversalQueued(PendingReversal {
            batch,
            original,
            reason: ReversalReason::Undeliverable,
        }));
        let mut response = self.response(RequestKind::Reversal, Outcome::Approved);
        response.amount = Some(amount);
        response.pan = pan;
        response.scheme = scheme;
        response.approval_code = approval_code;
        response.trace = Some(rev_stan);
        set_text(&mut response, "reversed: the till could not be answered");
        self.push_completed(rev_stan, response);
        true
    }

    /// The time from [`Self::poll_timeout`] has come (calling it early does no harm).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(txn) = self.txn.as_ref() {
            match txn.step {
                Step::Confirming if now >= txn.deadline => self.confirmation_timed_out(),
                Step::WaitingLink { until } if now >= until => self.start_after_link(now),
                Step::ReadingCard if now >= txn.deadline => {
                    self.card_out = Some(CardCommand::Cancel);
                    self.finish_local(Outcome::Timeout, false);
                }
                Step::AwaitingBank { until, .. } | Step::Reconciling { until, .. }
                    if now >= until =>
                {
                    self.txn_bank_failed(BankFailure::Lost);
                }
                Step::Echoing { sent, .. } if now >= sent.saturating_add(self.cfg.bank_timeout) => {
                    self.txn_bank_failed(BankFailure::Lost);
                }
                Step::CloseWaitingReversals if now >= txn.deadline => {
                    self.finish(Outcome::BankUnavailable, false);
                }
                _ => {}
            }
        }
        if self.reversal.is_some_and(|r| now >= r.until) {
            self.reversal = None;
            self.reversal_retry_later(now);
            // A silent bank: start the link again.
            self.push_bank(BankCommand::Reconnect);
        }
        if self.echo.is_some_and(|e| now >= e.until) {
            self.echo = None;
            self.bank_down = true;
            self.push_bank(BankCommand::Reconnect);
        }
        self.advance(now);
    }

    // ---- outputs -----------------------------------------------------------------------

    /// The next record to make durable. Make it durable, then call
    /// [`Self::handle_persisted`] (or [`Self::handle_persist_failed`]) before polling again.
    ///
    /// The record borrows its large parts from the application (its checkpoint, its answer):
    /// encode it straight into the driver's buffer ([`crate::journal::encode`]), or
    /// [`RecordRef::to_record`] for a copy.
    #[must_use]
    pub fn poll_record(&self) -> Option<RecordRef<'_>> {
        self.records.front(&self.journal.checkpoint)
    }

    /// The next thing to do on the bank link. Nothing comes while a record waits.
    #[must_use]
    pub fn poll_bank(&mut self) -> Option<BankCommand> {
        if !self.records.is_empty() {
            return None;
        }
        self.bank_out.pop_front()
    }

    /// The next thing for the card reader.
    #[must_use]
    pub fn poll_card(&mut self) -> Option<CardCommand> {
        self.card_out.take()
    }

    /// The next answer for a till. Nothing comes while a record waits.
    #[must_use]
    pub fn poll_answer(&mut self) -> Option<Answer> {
        if !self.records.is_empty() {
            return None;
        }
        self.answers.pop_front()
    }

    /// The next receipt to print. Printing is a side effect: an answer never waits for it.
    #[must_use]
    pub fn poll_print(&mut self) -> Option<PrintJob> {
        self.prints.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = None;
        if let Some(txn) = self.txn.as_ref() {
            let at = match txn.step {
                Step::WaitingLink { until } => Some(until),
                Step::Confirming | Step::ReadingCard | Step::CloseWaitingReversals => {
                    Some(txn.deadline)
                }
                Step::AwaitingBank { until, .. } | Step::Reconciling { until, .. } => Some(until),
                Step::Echoing { sent, .. } => Some(sent.saturating_add(self.cfg.bank_timeout)),
                Step::Journaling { .. } | Step::Finishing => None,
            };
            t = earliest(t, at);
        }
        t = earliest(t, self.reversal.map(|r| r.until));
        t = earliest(t, self.echo.map(|e| e.until));
        if self.reversal.is_none() && self.pending_reversals() > 0 && self.link == LinkState::Up {
            t = earliest(t, Some(self.reversal_next));
        }
        if self.txn.is_none() && self.echo.is_none() && self.link == LinkState::Up {
            t = earliest(t, self.next_echo);
        }
        t
    }

    // ---- the steps -------------------------------------------------------------------

    fn start(&mut self, now: Instant) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        match txn.request {
            Request::Subtotals => self.start_report(false),
            Request::LastSums => self.start_report(true),
            Request::Reprint => {
                if self.has_receipt {
                    let _ = self.prints.push_back(PrintJob::Reprint);
                } else {
                    txn.response.outcome = fail(FailReason::NoMatchingTransaction);
                }
            }
            Request::Reversal {
                amount, ref code, ..
            } => {
                let code = code.clone();
                let matches = self.reversal_matches(amount, &code);
                let Some(txn) = self.txn.as_mut() else {
                    return;
                };
                if !matches {
                    // No text: the reason itself travels to the till, which words it.
                    txn.response.outcome = fail(FailReason::NoMatchingTransaction);
                    return;
                }
                self.need_bank(now);
            }
            Request::ReversalByReceipt { receipt } => {
                let target = self.reversal_target(receipt);
                let Some(txn) = self.txn.as_mut() else {
                    return;
                };
                match target {
                    Ok(e) => {
                        txn.response.amount = Some(e.amount);
                        txn.response.approval_code = e.code;
                        self.need_bank(now);
                    }
                    Err(already) => {
                        txn.response.outcome = fail(FailReason::NoMatchingTransaction);
                        if already {
                            set_text(&mut txn.response, ALREADY_REVERSED_TEXT);
                        }
                    }
                }
            }
            Request::CloseTotals => self.start_close(now),
            Request::Sale { .. }
            | Request::SaleWithCashback { .. }
            | Request::Refund { .. }
            | Request::TestBank => self.need_bank(now),
            Request::LastTransaction | Request::TestTerminal | Request::Abort => {}
            Request::Reservation { .. } => self.start_reservation(now),
            Request::BookTotal { .. }
            | Request::PartialReversal { .. }
            | Request::PreAuthReversal { .. } => self.start_on_reservation(now),
        }
    }

    /// Subtotals (the open batch's totals) or, `last_sums`, the last closed batch's: the
    /// running request's answer carries them, and they are printed. Out of line: the totals
    /// are not in the frame of [`Self::handle_request`], which [`Self::start`] is part of.
    #[inline(never)]
    fn start_report(&mut self, last_sums: bool) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let cp = &self.journal.checkpoint;
        let (totals, text) = if !last_sums {
            (Some(&cp.totals), text_batch(cp.batch, "open"))
        } else {
            match &cp.last_close {
                Some(c) => (Some(&c.totals), text_batch(c.batch, "closed")),
                None => (None, text_plain("no closed batch")),
            }
        };
        txn.response.totals = Some(totals.cloned().unwrap_or_default());
        set_text(&mut txn.response, &text);
        txn.print = true;
    }

    /// Money and bank requests need the bank link: go on, wait for its first connection, or
    /// answer "bank unavailable" before anything else happens.
    fn need_bank(&mut self, now: Instant) {
        match (self.link, self.bank_down) {
            (LinkState::Up, false) => self.start_after_link(now),
            (LinkState::Connecting, _) => {
                if let Some(txn) = self.txn.as_mut() {
                    txn.step = Step::WaitingLink {
                        until: now.saturating_add(FIRST_CONNECT_WAIT),
                    };
                }
            }
            _ => self.refuse_bank_unavailable(),
        }
    }

    fn refuse_bank_unavailable(&mut self) {
        let Some(txn) = self.txn.as_ref() else {
            return;
        };
        match txn.request.kind() {
            // A till's reversal is stored and forwarded: it will reach the bank.
            RequestKind::Reversal => self.start_reversal(true),
            RequestKind::Sale | RequestKind::SaleWithCashback | RequestKind::Refund => {
                self.finish_local(Outcome::BankUnavailable, false)
            }
            _ => self.finish(Outcome::BankUnavailable, false),
        }
    }

    fn start_after_link(&mut self, now: Instant) {
        if self.link != LinkState::Up || self.bank_down {
            return self.refuse_bank_unavailable();
        }
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        match txn.request {
            Request::Sale { amount, .. }
            | Request::SaleWithCashback { amount, .. }
            | Request::Refund { amount, .. }
            | Request::Reservation { amount } => {
                if self.stan_next > MAX_STAN {
                    txn.response.outcome = fail(FailReason::Other);
                    set_text(&mut txn.response, "trace numbers used up");
                    txn.step = Step::Finishing;
                    return;
                }
                txn.step = Step::ReadingCard;
                let (kind, cashback) =
                    AuthKind::of(&txn.request).map_or((AuthKind::Sale, None), |(k, _, c)| (k, c));
                self.card_out = Some(CardCommand::Read {
                    amount,
                    kind,
                    cashback,
                });
            }
            Request::Reversal { .. } | Request::ReversalByReceipt { .. } => {
                self.start_reversal(false)
            }
            Request::BookTotal { .. }
            | Request::PartialReversal { .. }
            | Request::PreAuthReversal { .. } => self.send_on_reservation(),
            Request::CloseTotals => {
                txn.step = Step::CloseWaitingReversals;
                self.close_if_ready(now);
            }
            Request::TestBank => match self.alloc_stan() {
                Some(stan) => {
                    let wall = self.wall;
                    if let Some(txn) = self.txn.as_mut() {
                        txn.step = Step::Echoing { stan, sent: now };
                    }
                    self.push_bank(BankCommand::Send(BankRequest::Echo {
                        stan,
                        transmitted: wall,
                    }));
                }
                None => self.finish(fail(FailReason::Other), false),
            },
            _ => {}
        }
    }

    fn card_presented(&mut self, now: Instant, card: CardData) {
        let wall = self.wall;
        let batch = self.journal.checkpoint.batch;
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        txn.response.pan = Some(card.pan.masked());
        txn.response.scheme = Some(card.scheme);
        txn.response.entry_mode = Some(card.entry_mode);
        txn.response.emv = emv::redact(&card.emv);
        if card.pin == PinCheck::Wrong {
            // The card refused the PIN: declined by the terminal with the ISO code for it.
            let outcome = declined("55");
            return self.finish_local(outcome, true);
        }
        if now >= txn.deadline {
            return self.finish_local(Outcome::Timeout, false);
        }
        let (kind, amount, cashback, reference) = match &txn.request {
            Request::Sale { amount, reference } => (AuthKind::Sale, *amount, None, reference),
            Request::SaleWithCashback {
                amount,
                cashback,
                reference,
            } => (AuthKind::Cashback, *amount, Some(*cashback), reference),
            Request::Refund { amount, reference } => (AuthKind::Refund, *amount, None, reference),
            Request::Reservation { amount } => (AuthKind::Sale, *amount, None, &None),
            _ => return,
        };
        let pre_auth = txn.request.kind() == RequestKind::Reservation;
        let rrn = reference.as_ref().and_then(rrn_of);
        let reference = reference.clone();
        let Some(stan) = self.alloc_stan() else {
            return self.finish_local(fail(FailReason::Other), false);
        };
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        txn.response.trace = Some(stan);
        let auth = AuthStarted {
            batch,
            stan,
            kind: txn.request.kind(),
            amount: Some(amount),
            cashback,
            pan: txn.response.pan,
            scheme: txn.response.scheme,
            reference,
            transmitted: wall,
            original: None,
        };
        txn.auth = Some(auth.clone());
        txn.pan = Some(card.pan.clone());
        let auth_request = AuthRequest {
            stan,
            kind,
            amount,
            cashback,
            pan: card.pan,
            entry_mode: card.entry_mode,
            expiry: card.expiry,
            card_sequence: card.sequence,
            emv: card.emv,
            transmitted: wall,
            rrn,
        };
        txn.step = Step::Journaling {
            request: if pre_auth {
                BankRequest::PreAuth(auth_request)
            } else {
                BankRequest::Auth(auth_request)
            },
        };
        self.push_record(Queued::AuthStarted(auth));
    }

    /// A till's reversal that matched the last transaction. `store`: the bank cannot be
    /// asked now, so the reversal is stored and forwarded.
    fn start_reversal(&mut self, store: bool) {
        let wall = self.wall;
        let batch = self.journal.checkpoint.batch;
        let Some(txn) = self.txn.as_ref() else {
            return;
        };
        // What is reversed: the last transaction (a reversal by approval code), or the
        // payment of the batch the receipt number names.
        let target = match txn.request {
            Request::Reversal { amount, .. } => {
                let Some(last) = self.journal.checkpoint.last.as_ref() else {
                    return self.finish(fail(FailReason::NoMatchingTransaction), false);
                };
                book::Entry {
                    batch: last.batch,
                    stan: last.stan,
                    kind: last.response.kind,
                    amount,
                    code: None,
                    pan: last.response.pan,
                    scheme: last.response.scheme,
                    entry_mode: last.response.entry_mode,
                    transmitted: last.transmitted,
                    reversed: false,
                    booked: None,
                }
            }
            Request::ReversalByReceipt { receipt } => match self.reversal_target(receipt) {
                Ok(e) => e,
                Err(_) => return self.finish(fail(FailReason::NoMatchingTransaction), false),
            },
            _ => return,
        };
        let amount = target.amount;
        let Some(stan) = self.alloc_stan() else {
            return self.finish(fail(FailReason::Other), false);
        };
        let original = Original {
            stan: target.stan,
            kind: target.kind,
            amount,
            transmitted: target.transmitted,
            scheme: target.scheme,
        };
        let pan = self.pan_of(target.batch, target.stan);
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        txn.response.pan = target.pan;
        txn.response.scheme = target.scheme;
        txn.response.entry_mode = target.entry_mode;
        txn.response.trace = Some(stan);
        let auth = AuthStarted {
            batch,
            stan,
            kind: RequestKind::Reversal,
            amount: Some(amount),
            cashback: None,
            pan: target.pan,
            scheme: target.scheme,
            reference: txn.response.reference.clone(),
            transmitted: wall,
            original: Some(original),
        };
        txn.auth = Some(auth.clone());
        txn.pan = pan.clone();
        self.push_record(Queued::AuthStarted(auth));
        if store {
            self.store_till_reversal();
        } else if let Some(txn) = self.txn.as_mut() {
            txn.step = Step::Journaling {
                request: BankRequest::Reversal(ReversalRequest {
                    stan,
                    original,
                    pan,
                    reason: ReversalReason::TillRequest,
                    transmitted: wall,
                }),
            };
        }
    }

    /// Stores the running till reversal for forwarding and answers it as done: it will reach
    /// the bank, which takes a repeated reversal as the same one.
    fn store_till_reversal(&mut self) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let Some(original) = txn.auth.as_ref().and_then(|a| a.original) else {
            return;
        };
        let batch = self.journal.checkpoint.batch;
        if let Some(pan) = txn.pan.clone() {
            remember_pan(&mut self.pans, batch, original.stan, pan);
        }
        set_text(&mut txn.response, REVERSAL_STORED_TEXT);
        self.push_record(Queued::ReversalQueued(PendingReversal {
            batch,
            original,
            reason: ReversalReason::TillRequest,
        }));
        self.finish(Outcome::Approved, true);
    }

    fn close_if_ready(&mut self, now: Instant) {
        let pending = self.pending_reversals();
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        if txn.step != Step::CloseWaitingReversals || pending > 0 {
            return;
        }
        let totals = &self.journal.checkpoint.totals;
        txn.close_lines.clear();
        for c in totals.currencies.iter() {
            let _ = txn.close_lines.push(*c);
        }
        if txn.close_lines.is_empty() {
            let _ = txn.close_lines.push(CurrencyTotals {
                currency: self.cfg.currency.numeric(),
                ..CurrencyTotals::default()
            });
        }
        self.reconcile(now, 0);
    }

    fn reconcile(&mut self, now: Instant, index: usize) {
        let batch = self.journal.checkpoint.batch;
        let wall = self.wall;
        let Some(line) = self
            .txn
            .as_ref()
            .and_then(|t| t.close_lines.get(index).copied())
        else {
            // Every currency reconciled: close the batch. (The totals copied from where
            // they are, each once: not two copies on the stack.)
            if let Some(txn) = self.txn.as_mut() {
                txn.response.totals = Some(self.journal.checkpoint.totals.clone());
                set_text(&mut txn.response, &text_batch(batch, "closed"));
            }
            self.push_closed(batch, self.journal.checkpoint.totals.clone());
            self.stan_next = 1;
            self.stan_reserved = 1;
            return self.finish(Outcome::Approved, true);
        };
        let Some(stan) = self.alloc_stan() else {
            return self.finish(fail(FailReason::Other), false);
        };
        let until = self.bank_until(now);
        if let Some(txn) = self.txn.as_mut() {
            txn.step = Step::Reconciling { stan, until, index };
        }
        self.push_bank(BankCommand::Send(BankRequest::Reconcile(
            ReconcileRequest {
                stan,
                batch,
                currency: line.currency,
                debits: (line.debit_count, line.debit_minor),
                credits: (line.credit_count, line.credit_minor),
                transmitted: wall,
            },
        )));
    }

    fn txn_bank_stan(&self) -> Option<u32> {
        match self.txn.as_ref()?.step {
            Step::AwaitingBank { stan, .. }
            | Step::Reconciling { stan, .. }
            | Step::Echoing { stan, .. } => Some(stan),
            _ => None,
        }
    }

    fn txn_expects(&self, stan: u32, mti: u16) -> bool {
        match self.txn.as_ref().map(|t| &t.step) {
            Some(Step::AwaitingBank {
                stan: s, mti: m, ..
            }) => *s == stan && *m + 10 == mti,
            Some(Step::Reconciling { stan: s, .. }) => *s == stan && mti == 510,
            Some(Step::Echoing { stan: s, .. }) => *s == stan && mti == 810,
            _ => false,
        }
    }

    fn txn_bank_answer(&mut self, now: Instant, answer: BankAnswer) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        match txn.step {
            Step::Echoing { sent, .. } => {
                if answer.code.is_approved() {
                    let ms = now.saturating_duration_since(sent).as_millis();
                    let mut text: String<64> = String::new();
                    let _ = core::fmt::write(&mut text, format_args!("bank round trip {ms} ms"));
                    set_text(&mut txn.response, &text);
                    self.finish(Outcome::Approved, false);
                } else {
                    self.bank_down = true;
                    self.push_bank(BankCommand::Reconnect);
                    self.finish(Outcome::BankUnavailable, false);
                }
            }
            Step::Reconciling { index, .. } => {
                if answer.code.is_approved() {
                    self.reconcile(now, index + 1);
                } else {
                    let outcome = answer.code.to_outcome();
                    self.finish(outcome, false);
                }
            }
            Step::AwaitingBank { .. } if preauth::on_reservation(txn.request.kind()) => {
                self.answer_on_reservation(&answer);
            }
            Step::AwaitingBank { .. } if txn.request.kind() == RequestKind::Reversal => {
                if answer.code.ends_reversal() {
                    self.finish(Outcome::Approved, true);
                } else if answer.code.meaning() == CodeMeaning::Unavailable {
                    // The bank could not decide: the reversal is owed; store and forward.
                    self.store_till_reversal();
                } else {
                    // Refused outright: the sale stands and may be reversed again.
                    let outcome = answer.code.to_outcome();
                    self.finish(outcome, false);
                }
            }
            Step::AwaitingBank { .. } => {
                for b in emv::redact(&answer.emv).iter() {
                    if txn.response.emv.push(*b).is_err() {
                        break;
                    }
                }
                match answer.code.meaning() {
                    CodeMeaning::Approved => {
                        txn.response.approval_code = answer.approval;
                        // Kept in memory only, for a reversal of it (the till's, or after
                        // an answer the till could not take): field 2 of that 0400.
                        let kept = txn.auth.as_ref().map(|a| (a.batch, a.stan));
                        self.last_pan = kept.zip(txn.pan.clone()).map(|((b, s), p)| (b, s, p));
                        self.finish(Outcome::Approved, true);
                    }
                    CodeMeaning::PartialApproval => {
                        // This link never asks for part of an amount: give it all back.
                        let approved = answer.amount.or(txn.response.amount);
                        self.owe_reversal(approved, ReversalReason::PartialApproval);
                        let txn_resp = self.txn.as_mut().map(|t| &mut t.response);
                        if let Some(r) = txn_resp {
                            set_text(r, PARTIAL_TEXT);
                        }
                        self.finish(declined("10"), true);
                    }
                    CodeMeaning::Unavailable => self.finish(Outcome::BankUnavailable, true),
                    CodeMeaning::Declined | CodeMeaning::NotFound => {
                        let outcome = answer.code.to_outcome();
                        self.finish(outcome, true);
                    }
                }
            }
            _ => {}
        }
    }

    fn txn_bank_failed(&mut self, failure: BankFailure) {
        let Some(txn) = self.txn.as_ref() else {
            return;
        };
        match txn.step {
            Step::Echoing { .. } | Step::Reconciling { .. } => {
                self.bank_down |= failure == BankFailure::NotSent;
                self.finish(Outcome::BankUnavailable, false);
            }
            // Whether or not the bank got it, the reversal is owed: store and forward.
            Step::AwaitingBank { .. } if txn.request.kind() == RequestKind::Reversal => {
                self.store_till_reversal()
            }
            Step::AwaitingBank { .. } if preauth::on_reservation(txn.request.kind()) => {
                self.lost_on_reservation(failure)
            }
            Step::AwaitingBank { .. } => {
                if failure.maybe_delivered() {
                    let amount = txn.response.amount;
                    self.owe_reversal(amount, ReversalReason::BankTimeout);
                } else {
                    self.bank_down = true;
                }
                self.finish(Outcome::BankUnavailable, true);
            }
            _ => {}
        }
    }

    /// The running authorization may be (or is) approved at the bank and must be undone:
    /// queue its reversal, with the card number kept in memory for it.
    fn owe_reversal(&mut self, amount: Option<Money>, reason: ReversalReason) {
        let Some(txn) = self.txn.as_ref() else {
            return;
        };
        let Some(auth) = txn.auth.clone() else {
            return;
        };
        let Some(mut p) = crate::journal::state::reversal_for(&auth) else {
            return;
        };
        if let Some(a) = amount {
            p.original.amount = a;
        }
        p.reason = reason;
        if let Some(pan) = txn.pan.clone() {
            remember_pan(&mut self.pans, p.batch, p.original.stan, pan);
        }
        self.push_record(Queued::ReversalQueued(p));
    }

    /// Completes the running request with `outcome`: journaled (with its trace number) when
    /// it was journaled at the start, else answered directly.
    fn finish(&mut self, outcome: Outcome, print: bool) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        txn.response.outcome = outcome;
        txn.print = print;
        txn.step = Step::Finishing;
        if let Some(auth) = txn.auth.as_ref() {
            let stan = auth.stan;
            let response = txn.response.clone();
            self.push_completed(stan, response);
        }
    }

    /// Completes a money request that never reached the bank: journaled with trace 0 so that
    /// it becomes the last transaction the till can ask about.
    fn finish_local(&mut self, outcome: Outcome, print: bool) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        txn.response.outcome = outcome;
        txn.print = print;
        txn.step = Step::Finishing;
        let response = txn.response.clone();
        self.push_completed(0, response);
    }

    fn reversal_done(&mut self, batch: u32, original_stan: u32) {
        self.pans
            .retain(|(b, s, _)| !(*b == batch && *s == original_stan));
        self.volatile
            .retain(|p| !(p.batch == batch && p.original.stan == original_stan));
        self.push_record(Queued::ReversalAcked {
            batch,
            original_stan,
        });
    }

    fn reversal_retry_later(&mut self, now: Instant) {
        self.reversal_attempt = self.reversal_attempt.saturating_add(1);
        let d = self
            .cfg
            .reversal_backoff
            .delay(self.reversal_attempt, &mut self.rng);
        self.reversal_next = now.saturating_add(d);
    }

    /// Sends the next stored reversal when the link is up, nothing else of it is in flight
    /// and its retry time has come. Runs beside a till's request: it never blocks one.
    fn forward_reversal(&mut self, now: Instant) {
        if self.link != LinkState::Up
            || self.reversal.is_some()
            || now < self.reversal_next
            || !self.records.is_empty()
            || self.bank_out.is_full()
        {
            return;
        }
        let next = self
            .journal
            .checkpoint
            .pending
            .iter()
            .chain(self.volatile.iter())
            .find(|p| {
                // The running till reversal of the same original is sent by the transaction.
                !self.txn.as_ref().is_some_and(|t| {
                    t.auth
                        .as_ref()
                        .filter(|a| a.batch == p.batch)
                        .and_then(|a| a.original)
                        .is_some_and(|o| o.stan == p.original.stan && t.step != Step::Finishing)
                })
            })
            .copied();
        let Some(p) = next else {
            return;
        };
        let Some(stan) = self.alloc_stan() else {
            return;
        };
        let pan = self.pan_of(p.batch, p.original.stan);
        self.reversal = Some(ReversalInFlight {
            stan,
            batch: p.batch,
            original_stan: p.original.stan,
            until: now.saturating_add(self.cfg.bank_timeout),
        });
        self.push_bank(BankCommand::Send(BankRequest::Reversal(ReversalRequest {
            stan,
            original: p.original,
            pan,
            reason: p.reason,
            transmitted: self.wall,
        })));
    }

    fn maybe_echo(&mut self, now: Instant) {
        let Some(at) = self.next_echo else {
            return;
        };
        if now < at || self.txn.is_some() || self.echo.is_some() || self.link != LinkState::Up {
            return;
        }
        if !self.records.is_empty() || self.bank_out.is_full() {
            return;
        }
        self.next_echo = self.cfg.echo_every.map(|d| now.saturating_add(d));
        let Some(stan) = self.alloc_stan() else {
            return;
        };
        self.echo = Some(EchoInFlight {
            stan,
            until: now.saturating_add(self.cfg.bank_timeout),
        });
        self.push_bank(BankCommand::Send(BankRequest::Echo {
            stan,
            transmitted: self.wall,
        }));
    }

    /// Moves things on once the records are durable: the running request's next message or
    /// its answer, a stored reversal, an idle echo.
    fn advance(&mut self, now: Instant) {
        if !self.records.is_empty() {
            return;
        }
        match self.txn.as_ref().map(|t| &t.step) {
            Some(Step::Journaling { .. }) => {
                let late = self.txn.as_ref().is_some_and(|t| now >= t.deadline);
                if late {
                    // The till has given up: never send what it no longer waits for.
                    self.finish(Outcome::Timeout, false);
                    return self.advance(now);
                }
                self.send_journaled(now);
            }
            Some(Step::Finishing) => {
                self.answer_finished();
                let waiting = core::mem::take(&mut self.waiting_last);
                for (id, till) in waiting {
                    self.answer_last(id, till);
                }
                self.next_echo = self.cfg.echo_every.map(|d| now.saturating_add(d));
            }
            Some(Step::CloseWaitingReversals) => self.close_if_ready(now),
            _ => {}
        }
        self.forward_reversal(now);
        self.maybe_echo(now);
    }

    /// The running request's start is durable: its bank message goes out (out of line: see
    /// [`Self::begin`]).
    #[inline(never)]
    fn send_journaled(&mut self, now: Instant) {
        let until = self.bank_until(now);
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let Step::Journaling { request } = &txn.step else {
            return;
        };
        let command = BankCommand::Send(request.clone());
        txn.step = Step::AwaitingBank {
            stan: request.stan(),
            mti: request.mti(),
            until,
        };
        self.push_bank(command);
    }

    /// The running request is done and durable: its answer (and receipt) go out (out of
    /// line: see [`Self::begin`]).
    #[inline(never)]
    fn answer_finished(&mut self) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let (id, till) = (txn.id, txn.till);
        if txn.print {
            self.has_receipt = true;
            if self.prints.is_full() {
                let _ = self.prints.pop_front();
            }
            let _ = self
                .prints
                .push_back(PrintJob::Receipt(txn.response.clone()));
        }
        let response = core::mem::replace(
            &mut txn.response,
            Response::new(RequestKind::LastTransaction, Outcome::Cancelled),
        );
        self.txn = None;
        self.answer(id, till, response);
    }

    // ---- small helpers ----------------------------------------------------------------

    // Out of line: its answers are not in `handle_request`'s frame, under a request's start.
    #[inline(never)]
    fn abort(&mut self, now: Instant, id: RequestId, till: TillId) {
        let kind = RequestKind::Abort;
        let owner = self.txn.as_ref().map(|t| t.till);
        let confirming = self
            .txn
            .as_ref()
            .is_some_and(|t| t.step == Step::Confirming);
        let outcome = match owner {
            Some(owner) if confirming && owner == till => {
                // Nothing started: answered cancelled, nothing journaled.
                self.confirm_out = Some(ConfirmCommand::Cancel);
                self.finish(Outcome::Cancelled, false);
                Outcome::Approved
            }
            Some(_) if confirming => fail(FailReason::Busy),
            Some(owner) if self.is_waiting_for_card() && owner == till => {
                self.card_out = Some(CardCommand::Cancel);
                if self.txn.as_ref().and_then(|t| t.auth.as_ref()).is_none()
                    && self
                        .txn
                        .as_ref()
                        .is_some_and(|t| t.request.kind().moves_money())
                {
                    self.finish_local(Outcome::Cancelled, false);
                } else {
                    self.finish(Outcome::Cancelled, false);
                }
                Outcome::Approved
            }
            // Only the till that started a transaction may abort it.
            Some(_) if self.is_waiting_for_card() => fail(FailReason::Busy),
            _ => fail(FailReason::NoMatchingTransaction),
        };
        // Its answer built out of line: not on the stack under `advance`.
        self.answer_plain(id, till, kind, outcome, None);
        self.advance(now);
    }

    /// The card number kept in memory for a reversal of `stan` in `batch`, if any.
    fn pan_of(&self, batch: u32, stan: u32) -> Option<Pan> {
        self.pans
            .iter()
            .chain(self.last_pan.iter())
            .find(|(b, s, _)| *b == batch && *s == stan)
            .map(|(_, _, pan)| pan.clone())
    }

    /// The payment of the open batch that receipt number `receipt` names: from the book, or
    /// the last transaction (which survives a restart). `Err(true)`: it was reversed already
    /// (or its reversal waits to be sent); `Err(false)`: no such payment.
    fn reversal_target(&self, receipt: u16) -> core::result::Result<book::Entry, bool> {
        let batch = self.journal.checkpoint.batch;
        let from_last = self.journal.checkpoint.last.as_ref().and_then(|l| {
            (l.batch == batch && receipt_of(l.stan) == receipt)
                .then(|| book::Entry::of(l.batch, l.stan, &l.response, l.transmitted))
                .flatten()
        });
        let entry = match self.journal.book.find(batch, receipt) {
            Some(e) => e.clone(),
            None => from_last.ok_or(false)?,
        };
        if entry.kind == RequestKind::Reservation {
            // A reservation is released with its own requests (`PreAuthReversal`), not this.
            return Err(false);
        }
        let pending = self
            .journal
            .checkpoint
            .pending
            .iter()
            .chain(self.volatile.iter())
            .any(|p| p.batch == entry.batch && p.original.stan == entry.stan);
        if entry.reversed || pending {
            return Err(true);
        }
        Ok(entry)
    }

    fn reversal_matches(&self, amount: Money, code: &ApprovalCode) -> bool {
        self.last_approved()
            .is_some_and(|(c, a)| &c == code && a == amount)
            && !self.pending_reversal_of_last()
    }

    fn pending_reversal_of_last(&self) -> bool {
        let Some(last) = self.journal.checkpoint.last.as_ref() else {
            return false;
        };
        self.journal
            .checkpoint
            .pending
            .iter()
            .chain(self.volatile.iter())
            .any(|p| p.batch == last.batch && p.original.stan == last.stan)
    }

    fn bank_until(&self, now: Instant) -> Instant {
        let deadline = self.txn.as_ref().map(|t| t.deadline);
        let until = now.saturating_add(self.cfg.bank_timeout);
        match deadline {
            Some(d) if d < until => d.max(now),
            _ => until,
        }
    }

    fn alloc_stan(&mut self) -> Option<u32> {
        if self.stan_next > MAX_STAN {
            return None;
        }
        let stan = self.stan_next;
        if stan >= self.stan_reserved {
            let upto = stan.saturating_add(STAN_BLOCK).min(MAX_STAN + 1);
            let batch = self.journal.checkpoint.batch;
            if self.records.is_full() {
                return None;
            }
            self.push_record(Queued::StanReserved { batch, upto });
            self.stan_reserved = upto;
        }
        self.stan_next += 1;
        Some(stan)
    }

    fn push_record(&mut self, record: Queued) {
        // [`MAX_RECORDS`] is twice the most records any one step makes (a trace reservation,
        // a start, a queued reversal, a completion), and every step waits for the queue to
        // drain before it makes more, so this never overflows.
        let _ = self.records.push(record);
    }

    /// Queues the completion of trace `stan` (0: a request that reached no bank) with the
    /// answer the till is given. [`MAX_PAYLOADS`]: never more than one per step, so this never
    /// overflows either.
    fn push_completed(&mut self, stan: u32, response: Response) {
        let _ = self
            .records
            .push_with(Queued::Completed { stan }, Payload::Response(response));
    }

    /// Queues the close of `batch` with the totals the bank reconciled.
    fn push_closed(&mut self, batch: u32, totals: crate::txn::Totals) {
        let _ = self
            .records
            .push_with(Queued::BatchClosed { batch }, Payload::Totals(totals));
    }

    fn push_bank(&mut self, cmd: BankCommand) {
        if matches!(cmd, BankCommand::Reconnect) && self.bank_out.iter().any(|c| c == &cmd) {
            return;
        }
        let _ = self.bank_out.push_back(cmd);
    }

    fn answer(&mut self, id: RequestId, till: TillId, response: Response) {
        if self.answers.is_full() {
            let _ = self.answers.pop_front();
        }
        let _ = self.answers.push_back(Answer { id, till, response });
    }

    fn response(&self, kind: RequestKind, outcome: Outcome) -> Response {
        let mut r = Response::new(kind, outcome);
        r.terminal_id = self.cfg.terminal_id.clone();
        r.timestamp = Some(self.wall);
        r
    }
}

const ZERO_TIME: Timestamp = Timestamp::MILLENNIUM;

fn fail(reason: FailReason) -> Outcome {
    Outcome::Failed { reason }
}

fn declined(code: &str) -> Outcome {
    match DeclineCode::new(code) {
        Ok(code) => Outcome::Declined { code },
        Err(_) => fail(FailReason::Other),
    }
}

/// Sets the answer's free text in place (no copy of the answer); a text over its capacity
/// leaves the answer as it was.
fn set_text(r: &mut Response, text: &str) {
    let mut s = String::new();
    if s.push_str(text).is_ok() {
        r.text = Some(s);
    }
}

fn text_batch(batch: u32, state: &str) -> String<64> {
    let mut s: String<64> = String::new();
    let _ = core::fmt::write(&mut s, format_args!("batch {batch} {state}"));
    s
}

fn text_plain(text: &str) -> String<64> {
    let mut s: String<64> = String::new();
    let _ = s.push_str(text);
    s
}

/// The retrieval reference (field 37) from the till's reference, when it is 1–12 letters or
/// digits.
fn rrn_of(reference: &Reference) -> Option<String<12>> {
    let r = reference.as_str();
    if r.is_empty() || r.len() > 12 || !r.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let mut s = String::new();
    s.push_str(r).ok()?;
    Some(s)
}

fn remember_pan(pans: &mut Vec<(u32, u32, Pan), MAX_PANS>, batch: u32, stan: u32, pan: Pan) {
    if pans.iter().any(|(b, s, _)| *b == batch && *s == stan) {
        return;
    }
    if pans.is_full() {
        pans.remove(0);
    }
    let _ = pans.push((batch, stan, pan));
}
