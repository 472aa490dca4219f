//! The ZVT terminal side, sans-IO: [`ZvtTerminal`] maps the till's ZVT commands to
//! [`crate::txn::Request`]s and the application's [`Response`]s back to the ZVT answer
//! sequence, behind [`TerminalSide`].
//!
//! The exchange (PA00P015 chapter 2; the same in the captured traces of EVerest/zvt
//! `zvt/data/*.blob` and in the `zvt` crate 0.1.0's `sequences.rs`):
//! 1. the till (ECR) sends a command; the terminal (PT) answers `80 00 00` at once (or
//!    `84 xx` when it cannot take it: `84 83` an unknown command, `84 9A` a malformed one,
//!    `84 9C` while it is busy with another command);
//! 2. the PT is now master: it sends `04 FF` intermediate status (only to a till that
//!    registered for it, config bit `08`), `04 0F` status information with the result,
//!    `06 D1` print lines or a `06 D3` text block of each receipt (only to a till that
//!    registered for receipts: config bit `02` for payments, `04` for administration; bit `80`
//!    chooses text blocks), and ends with `06 0F` completion or `06 1E` abort with the result
//!    code. The till acknowledges each of them with `80 00 00` before the next one goes
//!    ([`ZvtTerminalConfig::ack_timeout`] each, 5 s by default);
//! 3. `06 B0` from the till while a command runs asks to abort it: the PT acknowledges and
//!    the running command ends as the application decides (cancelled if the card was not yet
//!    read).
//!
//! Over TCP an APDU goes as it is. Over serial ([`Transport::Serial`], PA00P016) every APDU
//! travels in a `DLE STX … DLE ETX CRC` frame that the receiver acknowledges with one `06`
//! byte (or `15`: the frame is sent again, at most [`SERIAL_RETRIES`] times); the APDU-level
//! `80 00 00` follows as a frame of its own. Stop and wait: a frame goes only once the one
//! before it was acknowledged (or [`SERIAL_ACK_TIMEOUT`] passed), so a NAK always names the
//! frame it repeats. (Both sides used to send the `80 00 00` frame and the next message back
//! to back; a NAK meant for the first then repeated the second, which for a till command
//! means running a sale twice.)
//!
//! Commands and what they become:
//!
//! | till command | request | answer |
//! |---|---|---|
//! | `06 00` registration | none (checked here) | `06 0F` (`19` status, `29` terminal id, `49` currency) |
//! | `06 02` log-off | none | `06 0F` |
//! | `06 01` authorisation | [`Request::Sale`] | `04 FF`…, `04 0F`, receipts, `06 0F` / `06 1E` |
//! | `06 31` refund | [`Request::Refund`] | as authorisation |
//! | `06 30` reversal (`87` receipt number) | [`Request::ReversalByReceipt`] | as authorisation |
//! | `06 20` repeat receipt | [`Request::Reprint`] | receipts, `06 0F` / `06 1E` |
//! | `06 50` end of day | [`Request::CloseTotals`] | `04 0F` (total), receipts, `06 0F` / `06 1E` |
//! | `05 01` status enquiry | [`Request::TestTerminal`] | `06 0F` with software version and terminal status |
//! | `06 70` diagnosis | [`Request::TestBank`] | `06 0F` / `06 1E` |
//! | `06 B0` abort | [`Request::Abort`] while a command runs | `80 00 00`; the running command ends |
//! | `06 22` reservation (`04` amount, `49`) | [`Request::Reservation`] | as authorisation |
//! | `06 24` book total (`87` receipt number, `04` final amount) | [`Request::BookTotal`] | as authorisation |
//! | `06 23` partial reversal (`87`, `04` the amount released) | [`Request::PartialReversal`] | as authorisation |
//! | `06 25` pre-authorisation reversal (`87`) | [`Request::PreAuthReversal`] | as authorisation |
//!
//! Pre-authorisation (PA00P015 §2.8–2.10, §2.14): a request that names a receipt number with
//! no open reservation behind it (unknown, booked or released) is answered `06 1E` with
//! [`result::PRE_AUTH_ERROR`] (`B8`) and BMP `87` carrying the receipt number of an open
//! reservation, `FF FF` when there is none (§2.10.1; a `06 23` with receipt number `FF FF`
//! asks exactly that); an amount over the reservation gets [`result::PRE_AUTH_INCORRECT`]
//! (`B7`); a reservation refused because the terminal holds as many open ones as it can
//! ([`crate::terminal::MAX_BOOK`]) gets [`result::MEMORY_FULL`] (`B1`), an end of day while
//! reservations are open `B8`. The amount of a
//! `06 23` is what is released: the `zvt` crate's documentation says
//! the partial reversal "releases the unused amount", and EVerest's charger sends the reserved
//! amount less what was charged.
//!
//! Password: registration, reversal, refund, repeat receipt, end of day and a status enquiry
//! that carries one are checked against [`ZvtTerminalConfig::password`]; a wrong one is
//! answered `06 1E` with [`result::WRONG_PASSWORD`] and nothing runs.
//!
//! Receipt numbers: the PT's receipt number (BMP `87`, four digits) is the trace number of
//! the transaction (ISO 8583 field 11) modulo 10 000, so a reversal by receipt number names
//! one transaction of the open batch as long as the batch holds fewer than 10 000.

use core::time::Duration;

use heapless::{Deque, String, Vec};

use super::apdu::ApduAccumulator;
use super::bmp::{Window, Writer, number};
use super::fields::Bmps;
use super::message::{Abort, Completion, IntermediateStatus, Message, command, put_header};
use super::serial::{self, SerialAccumulator, SerialFeed};
use crate::session::{
    Progress, RECEIPT_PART_CAPACITY, TerminalEvent, TerminalSide, check_response,
};
use crate::txn::{
    ApprovalCode, CardScheme, Currency, FailReason, MaskedPan, Money, Outcome, Request,
    RequestKind, Response,
};
use crate::{Error, Instant, Result};

/// The usual TCP port of a ZVT terminal.
pub const DEFAULT_PORT: u16 = 20007;
/// The largest till APDU taken (data bytes plus the longest header): till commands are short.
pub const RX_CAPACITY: usize = 1024 + 5;
/// Bytes the till side ([`super::ZvtEcr`]) holds to send: one acknowledgement and the
/// longest message, serial framing included. The terminal side holds no bytes: it builds each
/// frame from what it says when polled ([`LINE_FRAMES`]).
pub const TX_CAPACITY: usize = 4096;
/// Frames and serial control bytes the terminal side holds released to the line, in order,
/// until polled: each is a few bytes that say what to build (an acknowledgement, a message of
/// the answer, a line of the receipt), not the frame. The protocol needs few: the terminal
/// answers one message at a time (stop and wait, PA00P015 chapter 2 and PA00P016), plus the
/// `80 00 00`, `84 xx` and serial ACK/NAK of what the till sent meanwhile.
pub const LINE_FRAMES: usize = 16;
/// Events a session holds until polled; past that a protocol error gives way first. Four, as
/// in ČSOB: one call of the session makes at most a request or a receipt request, the end of
/// a command and a protocol error or two (the driver polls events after every call).
pub const TERMINAL_EVENTS: usize = 4;
/// Times a serial frame is sent again after a NAK.
pub const SERIAL_RETRIES: u8 = 3;
/// How long a serial frame waits for its ACK or NAK before the next frame goes all the same
/// (the frame is not sent again: the APDU-level waits end what it leaves unfinished), on top
/// of the time the frame itself takes on the line ([`SERIAL_BYTE_TIME`] per byte).
pub const SERIAL_ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// The time one byte takes on a 9600-baud line with 8 data bits and 2 stop bits (11 bits), the
/// slowest ZVT line: a 1126-byte text block takes 1.3 s to send.
pub const SERIAL_BYTE_TIME: Duration = Duration::from_micros(1146);
/// Serial frames held behind one waiting for its ACK (described, as on the line: see
/// [`LINE_FRAMES`]). Stop and wait (PA00P016) sends one frame at a time; behind it wait at most
/// the next message of the answer and the acknowledgements of the till's commands.
const SERIAL_HELD: usize = 4;
/// The software version a status enquiry is answered with.
pub const SOFTWARE_VERSION: &str = "ecrlink";

/// Result codes this session sends (PA00P015 chapter 10 "Error messages"; the `zvt` crate
/// 0.1.0 lists the same values in `constants.rs`).
pub mod result {
    /// Success.
    pub const SUCCESS: u8 = 0x00;
    /// Card not readable.
    pub const CARD_NOT_READABLE: u8 = 0x64;
    /// Processing error.
    pub const PROCESSING_ERROR: u8 = 0x66;
    /// Abort via timeout or abort key.
    pub const ABORTED: u8 = 0x6C;
    /// Card in blocked list.
    pub const CARD_BLOCKED: u8 = 0x6E;
    /// Wrong currency.
    pub const WRONG_CURRENCY: u8 = 0x6F;
    /// Card expired.
    pub const CARD_EXPIRED: u8 = 0x78;
    /// Function not possible.
    pub const FUNCTION_NOT_POSSIBLE: u8 = 0x83;
    /// The answer to a wrong password. The specification has no code of its own for it;
    /// this session uses "function not possible", as the command is refused before it runs.
    pub const WRONG_PASSWORD: u8 = FUNCTION_NOT_POSSIBLE;
    /// ZVT protocol error (a parsing error, a mandatory field missing).
    pub const PROTOCOL_ERROR: u8 = 0x9A;
    /// Please wait (the PT is busy).
    pub const PLEASE_WAIT: u8 = 0x9C;
    /// Receiver not ready.
    pub const RECEIVER_NOT_READY: u8 = 0xA0;
    /// Remote station does not respond.
    pub const REMOTE_NO_ANSWER: u8 = 0xA1;
    /// No connection.
    pub const NO_CONNECTION: u8 = 0xA3;
    /// Already reversed.
    pub const ALREADY_REVERSED: u8 = 0xB4;
    /// Memory full (here: the book holds as many open reservations as it can).
    pub const MEMORY_FULL: u8 = 0xB1;
    /// Pre-authorisation incorrect (amount too high) or amount wrong.
    pub const PRE_AUTH_INCORRECT: u8 = 0xB7;
    /// Error pre-authorisation (no open reservation with this receipt number).
    pub const PRE_AUTH_ERROR: u8 = 0xB8;
    /// Reversal not possible (no such transaction in the open batch).
    pub const REVERSAL_NOT_POSSIBLE: u8 = 0xB5;
    /// Printer not ready.
    pub const PRINTER_NOT_READY: u8 = 0xCC;
    /// System error (other or unknown error).
    pub const SYSTEM_ERROR: u8 = 0xFF;
}

/// Intermediate status codes (`04 FF`) this session sends (PA00P015 chapter
/// "Intermediate status").
pub mod status {
    /// Waiting for the authorisation host's answer.
    pub const WAITING_FOR_HOST: u8 = 0x04;
    /// Watch the PIN pad (PIN entry).
    pub const WATCH_PIN_PAD: u8 = 0x01;
    /// Insert (or present) the card.
    pub const INSERT_CARD: u8 = 0x0A;
    /// Processing, please wait.
    pub const PROCESSING: u8 = 0x0E;
    /// Please wait.
    pub const PLEASE_WAIT: u8 = 0x17;
}

/// The intermediate status code (`04 FF`) this session sends for the terminal's stage.
pub const fn status_of(progress: Progress) -> u8 {
    match progress {
        Progress::PresentCard => status::INSERT_CARD,
        Progress::PinEntry => status::WATCH_PIN_PAD,
        Progress::CardRead => status::PROCESSING,
        Progress::ContactingBank => status::WAITING_FOR_HOST,
        Progress::Printing => status::PLEASE_WAIT,
    }
}

/// The terminal's stage an intermediate status `code` tells, where it tells one of the
/// stages every dialect shares ([`Progress`]); `None` for the others (see [`status_text`]).
pub const fn progress_of(code: u8) -> Option<Progress> {
    match code {
        0x01 | 0x02 => Some(Progress::PinEntry),
        0x04 => Some(Progress::ContactingBank),
        0x0A => Some(Progress::PresentCard),
        0x0E => Some(Progress::CardRead),
        _ => None,
    }
}

/// A short English text for intermediate status `code` (PA00P015 chapter "Intermediate
/// status"; only the codes this project sends and the commonest others).
pub const fn status_text(code: u8) -> &'static str {
    match code {
        0x00 => "waiting for amount confirmation",
        0x01 | 0x02 => "watch the PIN pad",
        0x04 => "waiting for the host",
        0x0A => "insert or present the card",
        0x0B => "remove the card",
        0x0E | 0x17 => "please wait",
        0x15 => "incorrect PIN",
        _ => "terminal working",
    }
}

/// Bits of the registration config byte (PA00P015 2.1).
pub mod config_bit {
    /// The ECR prints the payment receipts: the PT sends them to the till.
    pub const ECR_PRINTS_PAYMENT: u8 = 0x02;
    /// The ECR prints the administration receipts (end of day, …).
    pub const ECR_PRINTS_ADMIN: u8 = 0x04;
    /// The ECR wants intermediate status information.
    pub const INTERMEDIATE_STATUS: u8 = 0x08;
    /// The ECR takes receipts as `06 D3` text blocks rather than `06 D1` lines.
    pub const TEXT_BLOCKS: u8 = 0x80;
}

/// `1F07` receipt type values of a text block.
pub mod receipt_type {
    /// The merchant's copy.
    pub const MERCHANT: u8 = 0x01;
    /// The customer's copy.
    pub const CUSTOMER: u8 = 0x02;
    /// An administration receipt (end of day).
    pub const ADMINISTRATION: u8 = 0x03;
}

/// How APDUs travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport {
    /// TCP: the bare APDU stream.
    Tcp,
    /// Serial: `DLE STX … DLE ETX CRC` frames with a one-byte ACK/NAK (PA00P016).
    Serial,
}

/// Which copy of a receipt the session asks its driver for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReceiptCopy {
    /// The merchant's copy.
    Merchant,
    /// The customer's copy.
    Customer,
}

/// What the pending [`TerminalEvent::ReceiptRequested`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReceiptWanted {
    /// The first part of this copy.
    First(ReceiptCopy),
    /// The next part of the copy being sent.
    Next,
}

/// Settings of a [`ZvtTerminal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZvtTerminalConfig {
    /// The PT's password (six digits) checked on registration and admin commands.
    pub password: u32,
    /// The PT's currency: what an authorisation without `49` is in.
    pub currency: Currency,
    /// Terminal id, eight digits (BMP `29`).
    pub terminal_id: u32,
    /// How long the PT waits for the till's `80 00 00` after each message (5 s).
    pub ack_timeout: Duration,
    /// How long the PT waits for the driver's receipt text (5 s), then goes on without it.
    pub receipt_timeout: Duration,
    /// TCP or serial framing.
    pub transport: Transport,
}

impl ZvtTerminalConfig {
    /// Defaults: password `000000`, currency `currency`, terminal id 0, 5 s waits, TCP.
    pub fn new(currency: Currency) -> Self {
        ZvtTerminalConfig {
            password: 0,
            currency,
            terminal_id: 0,
            ack_timeout: Duration::from_secs(5),
            receipt_timeout: Duration::from_secs(5),
            transport: Transport::Tcp,
        }
    }
}

/// What the till registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Registered {
    config: u8,
    currency: Currency,
}

/// The till command being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CmdKind {
    /// Registration, log-off, refused commands: answered here.
    Local,
    /// Authorisation, refund, reversal: money, status information and payment receipts.
    Payment,
    RepeatReceipt,
    EndOfDay,
    StatusEnquiry,
    Diagnosis,
    /// Reservation, book total, partial reversal, pre-authorisation reversal.
    PreAuth,
}

/// One message still to send in the answer sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    Status(u8),
    Info,
    Receipt(ReceiptCopy),
    /// `06 0F` with result code `00` (commands that ran).
    Done,
    /// `06 0F` of a registration or log-off: status byte, terminal id, currency.
    Registered,
    /// `06 0F` with the software version and this terminal status.
    Software(u8),
    /// `06 1E` with this result code.
    Abort(u8),
    /// `06 1E` with this result code and BMP `87` (PA00P015 §2.10.1).
    AbortReceipt(u8, u16),
}

/// Where a sent message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Awaiting {
    deadline: Instant,
    /// The last message of the sequence.
    last: bool,
}

#[derive(Debug)]
pub(super) enum Rx {
    Tcp(ApduAccumulator<RX_CAPACITY>),
    Serial(SerialAccumulator<RX_CAPACITY>),
}

/// Receipt text being sent (the text itself is [`Core::receipt_text`]).
#[derive(Clone, Copy, Debug)]
struct ReceiptText {
    copy: ReceiptCopy,
    /// Bytes of the text already sent.
    sent: usize,
    /// Another part follows.
    more: bool,
}

#[derive(Clone, Copy, Debug)]
enum ReceiptState {
    None,
    /// Waiting for the driver's text until the deadline.
    Asked {
        copy: ReceiptCopy,
        first: bool,
        deadline: Instant,
    },
    Sending(ReceiptText),
}

/// The terminal side of ZVT (see the module docs).
///
/// The session takes one till command at a time. After [`TerminalEvent::Request`] the driver
/// runs the request and calls [`TerminalSide::respond`]; after
/// [`TerminalEvent::ReceiptRequested`] it calls [`TerminalSide::send_receipt_part`] with the
/// copy [`ZvtTerminal::receipt_wanted`] names (empty text: no receipt). While the request
/// runs, [`ZvtTerminal::intermediate_status`] sends the till a `04 FF` status if it asked for
/// them. [`TerminalEvent::ResponseDelivered`] comes when the till acknowledged the last
/// message of the answer.
#[derive(Debug)]
pub struct ZvtTerminal {
    rx: Rx,
    core: Core,
}

/// Bytes on their way to the terminal (the till side's wire; the terminal side's is [`Line`]).
#[derive(Debug)]
pub(super) struct Wire {
    transport: Transport,
    tx: Vec<u8, TX_CAPACITY>,
    tx_sent: usize,
    /// The last serial frame sent (for a NAK) and how often it was repeated.
    last_frame: Vec<u8, TX_CAPACITY>,
    repeats: u8,
    /// Serial: the last frame waits for its ACK or NAK until this instant.
    ack_deadline: Option<Instant>,
    /// Serial: frames waiting for the one in flight to be acknowledged, one after another,
    /// and their lengths.
    held: Vec<u8, TX_CAPACITY>,
    held_lens: Deque<usize, SERIAL_HELD>,
    /// The time of the session's current call (frames sent in it start their ACK wait then).
    pub(super) now: Instant,
}

/// One frame the terminal sends, described by what it says: its bytes are built from this
/// and the session's state ([`Src`]) each time it is polled, straight into the caller's
/// buffer (see [`Window`]), and again after a NAK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// `80 00 00`.
    Ack,
    /// `84` and this code.
    Nack(u8),
    /// `04 FF` intermediate status with this code.
    Status(u8),
    /// `04 0F` status information of the response.
    Info,
    /// `06 D1`: the receipt text's bytes `start..end` as one print line; `last`: the
    /// receipt's last line.
    Line { start: u16, end: u16, last: bool },
    /// `06 D3`: the receipt text from `start` on as one text block of receipt type `kind`.
    Block { kind: u8, start: u16 },
    /// `06 0F` with result code `00`.
    Done,
    /// `06 0F` of a registration or log-off, with this currency.
    Registered(u16),
    /// `06 0F` with the software version and this terminal status.
    Software(u8),
    /// `06 1E` with this result code.
    Abort(u8),
    /// `06 1E` with this result code and BMP `87`.
    AbortReceipt(u8, u16),
}

impl Frame {
    /// Whether the frame is built from the receipt text.
    fn reads_text(self) -> bool {
        matches!(self, Frame::Line { .. } | Frame::Block { .. })
    }
}

/// What a frame is built from.
struct Src<'a> {
    info: Option<&'a Info>,
    text: &'a str,
    terminal_id: u32,
}

/// A byte or a frame on its way to the till.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    /// A serial ACK or NAK.
    Byte(u8),
    /// A frame and its length in bytes (frames are far shorter than 64 KiB: a receipt part
    /// is at most [`RECEIPT_PART_CAPACITY`] bytes).
    Frame(Frame, u16),
}

/// The terminal's outgoing side: frames described, built when polled (no frame-sized buffer:
/// the till's receipt text is the only text held), with the serial stop-and-wait rules of
/// PA00P016 (one frame in flight; a NAK repeats it; the next goes on its ACK or its timeout).
#[derive(Debug)]
struct Line {
    transport: Transport,
    /// Released to the line, in order; the first has `sent` bytes polled out.
    out: Deque<Item, LINE_FRAMES>,
    sent: usize,
    /// Serial: the frame waiting for its ACK or NAK (and its length), how often it was
    /// repeated, and until when it waits.
    in_flight: Option<(Frame, u16)>,
    repeats: u8,
    ack_deadline: Option<Instant>,
    /// Serial: frames waiting for the one in flight to be acknowledged, one after another.
    held: Deque<(Frame, u16), SERIAL_HELD>,
    /// The time of the session's current call (frames sent in it start their ACK wait then).
    now: Instant,
}

#[derive(Debug)]
struct Core {
    cfg: ZvtTerminalConfig,
    reg: Option<Registered>,
    wire: Line,
    events: Deque<TerminalEvent, TERMINAL_EVENTS>,
    dropped: u32,
    cmd: Option<CmdKind>,
    request: Option<Request>,
    answered: bool,
    /// What the status information of the answer says.
    info: Option<Info>,
    queue: Deque<Out, 8>,
    awaiting: Option<Awaiting>,
    receipt: ReceiptState,
    /// The receipt part being sent, kept until the next one replaces it (a frame of it may be
    /// repeated after its acknowledgement is lost).
    receipt_text: String<RECEIPT_PART_CAPACITY>,
    /// Receipt numbers of the last approved payments answered on this session (a reversal
    /// without one names the newest).
    approved: Deque<u16, 8>,
}

impl ZvtTerminal {
    /// A session with `cfg`; nobody registered yet.
    pub fn new(cfg: ZvtTerminalConfig) -> Self {
        let rx = Rx::new(cfg.transport);
        ZvtTerminal {
            rx,
            core: Core {
                cfg: cfg.clone(),
                reg: None,
                wire: Line::new(cfg.transport),
                events: Deque::new(),
                dropped: 0,
                cmd: None,
                request: None,
                answered: false,
                info: None,
                queue: Deque::new(),
                awaiting: None,
                receipt: ReceiptState::None,
                receipt_text: String::new(),
                approved: Deque::new(),
            },
        }
    }

    /// The config byte the till registered with, if it registered.
    pub fn registered_config(&self) -> Option<u8> {
        self.core.reg.map(|r| r.config)
    }

    /// Events dropped because the queue was full.
    pub fn dropped_events(&self) -> u32 {
        self.core.dropped
    }

    /// Tells the session about an approved payment made before it started (the terminal's
    /// last transaction), so that a reversal naming its receipt number finds it.
    /// (Only the receipt number is kept; `code` and `amount` say the payment was a whole
    /// approval.)
    pub fn remember_approved(&mut self, trace: u32, code: ApprovalCode, amount: Money) {
        let _ = (code, amount);
        self.core.remember(trace);
    }

    /// What the pending receipt request asks for, if one is pending.
    pub fn receipt_wanted(&self) -> Option<ReceiptWanted> {
        match &self.core.receipt {
            ReceiptState::Asked { copy, first, .. } => Some(if *first {
                ReceiptWanted::First(*copy)
            } else {
                ReceiptWanted::Next
            }),
            _ => None,
        }
    }

    /// While a request runs, sends the till the intermediate status `code` (see [`status`])
    /// if it registered for intermediate status; otherwise, or after the answer, nothing.
    /// A status that finds the previous one unacknowledged replaces any other one waiting.
    pub fn intermediate_status(&mut self, now: Instant, code: u8) {
        self.core.wire.now = now;
        self.core.intermediate(now, code);
    }
}

/// Keeps the items of `q` that `f` keeps, in order. Not `Deque::retain`, which links a
/// panicking `expect`.
fn keep<T, const N: usize>(q: &mut Deque<T, N>, f: impl Fn(&T) -> bool) {
    for _ in 0..q.len() {
        if let Some(item) = q.pop_front() {
            if f(&item) {
                // Room: one was taken out.
                let _ = q.push_back(item);
            }
        }
    }
}

/// The receipt number of trace `trace`.
pub const fn receipt_number(trace: u32) -> u16 {
    crate::terminal::receipt_of(trace)
}

/// The ZVT result code of an outcome (`00` for an approval). A bank decline whose code is a
/// number from 1 to 99 is carried as that number (the specification reserves `01`–`63`
/// hexadecimal for the authorisation system's codes), larger ones as "processing error".
pub fn result_code(outcome: &Outcome) -> u8 {
    use result as r;
    match outcome {
        Outcome::Approved => r::SUCCESS,
        Outcome::Declined { code } => match decimal_u8(code.as_str()) {
            Some(n) if (1..=0x63).contains(&n) => n,
            _ => r::PROCESSING_ERROR,
        },
        Outcome::Timeout => r::REMOTE_NO_ANSWER,
        Outcome::TerminalOffline => r::RECEIVER_NOT_READY,
        Outcome::BankUnavailable => r::NO_CONNECTION,
        Outcome::Cancelled => r::ABORTED,
        Outcome::Failed { reason } => match reason {
            FailReason::CardError => r::CARD_NOT_READABLE,
            FailReason::CardExpired => r::CARD_EXPIRED,
            FailReason::CardBlocked => r::CARD_BLOCKED,
            FailReason::NoMatchingTransaction => r::REVERSAL_NOT_POSSIBLE,
            FailReason::Busy => r::PLEASE_WAIT,
            FailReason::NotSupported => r::FUNCTION_NOT_POSSIBLE,
            FailReason::Protocol => r::PROTOCOL_ERROR,
            FailReason::PrinterError => r::PRINTER_NOT_READY,
            FailReason::Other => r::SYSTEM_ERROR,
        },
    }
}

/// The number a decline code writes in decimal, read as `str::parse::<u8>` reads it (an
/// optional `+`, then at least one digit, at most 255), without linking the generic integer
/// parser (156 bytes of flash on the firmware).
fn decimal_u8(code: &str) -> Option<u8> {
    let bytes = code.as_bytes();
    let digits = bytes.strip_prefix(b"+").unwrap_or(bytes);
    if digits.is_empty() {
        return None;
    }
    let mut n = 0u8;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(d)?;
    }
    Some(n)
}

/// The ZVT result code of `response`: [`result_code`] of its outcome, except that a reversal
/// refused because it was done already is [`result::ALREADY_REVERSED`].
pub fn response_result_code(response: &Response) -> u8 {
    let already = response.kind == RequestKind::Reversal
        && response.outcome
            == (Outcome::Failed {
                reason: FailReason::NoMatchingTransaction,
            })
        && response.text.as_deref() == Some(crate::terminal::ALREADY_REVERSED_TEXT);
    let no_match = response.outcome
        == (Outcome::Failed {
            reason: FailReason::NoMatchingTransaction,
        });
    let on_reservation = matches!(
        response.kind,
        RequestKind::BookTotal | RequestKind::PartialReversal | RequestKind::PreAuthReversal
    );
    let book_full = response.kind == RequestKind::Reservation
        && response.text.as_deref() == Some(crate::terminal::PREAUTH_FULL_TEXT);
    let open_reservations = response.kind == RequestKind::CloseTotals
        && response.text.as_deref() == Some(crate::terminal::PREAUTH_OPEN_TEXT);
    if already {
        result::ALREADY_REVERSED
    } else if book_full {
        result::MEMORY_FULL
    } else if open_reservations {
        result::PRE_AUTH_ERROR
    } else if on_reservation && no_match {
        if response.text.as_deref() == Some(crate::terminal::PREAUTH_AMOUNT_TEXT) {
            result::PRE_AUTH_INCORRECT
        } else {
            result::PRE_AUTH_ERROR
        }
    } else {
        result_code(&response.outcome)
    }
}

/// The card number of `pan` as BMP `22` BCD bytes: the hidden digits as `E`, an `F` pad.
fn pan_bcd(pan: &MaskedPan, out: &mut [u8; 10]) -> usize {
    let len = pan.len().min(19);
    let hidden = len.saturating_sub(10);
    let (bin, last4) = pan.visible_digits();
    let nibble = |i: usize| -> u8 {
        let digit = |s: &[u8], k: usize| s.get(k).map_or(0, |c| c.wrapping_sub(b'0'));
        if i < 6 {
            digit(bin, i)
        } else if i < 6 + hidden {
            0x0E
        } else if i < len {
            digit(last4, i - 6 - hidden)
        } else {
            0x0F
        }
    };
    let bytes = len.div_ceil(2);
    for (k, slot) in out.iter_mut().take(bytes).enumerate() {
        *slot = (nibble(2 * k) << 4) | nibble(2 * k + 1);
    }
    bytes
}

/// `now` plus `d`, saturating. Not inlined: `Duration`'s 128-bit millisecond count is
/// computed in one place on a 32-bit target, not at each deadline set.
#[inline(never)]
fn after(now: Instant, d: Duration) -> Instant {
    now.saturating_add(d)
}

/// The bytes of a BER length.
fn ber_len(len: usize) -> ([u8; 3], usize) {
    match len {
        0..=0x7F => ([len as u8, 0, 0], 1),
        0x80..=0xFF => ([0x81, len as u8, 0], 2),
        _ => {
            let [hi, lo] = (len.min(0xFFFF) as u16).to_be_bytes();
            ([0x82, hi, lo], 3)
        }
    }
}

/// The bytes a line of text is sent as, one per character: ASCII as it is, anything else
/// (a control character, a character outside ASCII) as `?`. Read from the UTF-8 bytes: a
/// character is its first byte (continuation bytes are `10xxxxxx`), so no `char` decoding
/// and no `core::str` searchers are linked.
fn text_bytes(line: &[u8]) -> impl Iterator<Item = u8> + '_ {
    line.iter().filter(|&&b| b & 0xC0 != 0x80).map(|&b| {
        if b.is_ascii() && !b.is_ascii_control() {
            b
        } else {
            b'?'
        }
    })
}

/// The lines of `text` as [`str::lines`] splits them (at `\n`, a `\r` before it dropped; no
/// empty line after a final `\n`), as bytes.
fn text_lines(text: &str) -> impl Iterator<Item = &[u8]> {
    let mut rest = text.as_bytes();
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let line = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = rest.get(..i).unwrap_or_default();
                rest = rest.get(i + 1..).unwrap_or_default();
                line.strip_suffix(b"\r").unwrap_or(line)
            }
            None => core::mem::take(&mut rest),
        };
        Some(line)
    })
}

/// Builds a `06 D3` text block of `text` into `window`: BMP `06` holding `1F07` receipt
/// type `kind`, then `25` with one `07` per line (non-ASCII characters as `?`). The lengths are
/// counted first, so the block goes straight into the window.
fn emit_text_block<'b>(kind: u8, text: &str, window: Window<'b>) -> Result<Window<'b>> {
    let lines_len: usize = text_lines(text)
        .map(|line| {
            let n = text_bytes(line).count();
            1 + ber_len(n).1 + n
        })
        .sum();
    let (lines_ber, lines_ber_len) = ber_len(lines_len);
    let content = 5 + lines_ber_len + lines_len;
    let (content_ber, content_ber_len) = ber_len(content);
    let mut w = Writer::window(window);
    let (class, instr) = command::PRINT_TEXT_BLOCK;
    put_header(&mut w, class, instr, 1 + content_ber_len + content)?;
    w.put(&[number::TLV])?;
    w.put(content_ber.get(..content_ber_len).unwrap_or_default())?;
    w.put(&[0x1F, 0x07, 0x01, kind, 0x25])?;
    w.put(lines_ber.get(..lines_ber_len).unwrap_or_default())?;
    for line in text_lines(text) {
        let (len, n) = ber_len(text_bytes(line).count());
        w.put(&[0x07])?;
        w.put(len.get(..n).unwrap_or_default())?;
        for b in text_bytes(line) {
            w.put(&[b])?;
        }
    }
    w.into_window().ok_or(Error::ZvtApduLength { len: 0 })
}

/// The most characters of a `06 D1` print line (more are cut off).
const PRINT_LINE_MAX: usize = 256;

/// Builds a `06 D1` print line of `line` (a trailing CR dropped, non-ASCII characters as `?`,
/// at most [`PRINT_LINE_MAX`]) into `window`; attribute `FF` for the receipt's `last` line.
fn emit_print_line<'b>(line: &[u8], last: bool, window: Window<'b>) -> Result<Window<'b>> {
    let mut line = line;
    while let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    let n = text_bytes(line).count().min(PRINT_LINE_MAX);
    let mut w = Writer::window(window);
    let (class, instr) = command::PRINT_LINE;
    put_header(&mut w, class, instr, 1 + n)?;
    w.put(&[if last { 0xFF } else { 0x00 }])?;
    for b in text_bytes(line).take(n) {
        w.put(&[b])?;
    }
    w.into_window().ok_or(Error::ZvtApduLength { len: 0 })
}

/// What the status information (`04 0F`) of an answer says, taken from the application's
/// [`Response`] when it answers: the response itself is not kept (it is several hundred bytes,
/// most of which ZVT does not send).
#[derive(Clone, Debug)]
struct Info {
    result_code: u8,
    /// The bank's code of a decline.
    result_code_as: Option<u8>,
    amount: Option<u64>,
    currency: Option<u16>,
    trace: Option<u32>,
    /// BMP `22`: the masked card number in BCD, and its length.
    pan: [u8; 10],
    pan_len: Option<u8>,
    /// BMP `3B`: the approval code.
    aid: Option<[u8; 8]>,
    scheme: Option<CardScheme>,
    time: Option<u32>,
    date: Option<u16>,
    text: Option<String<64>>,
}

impl Info {
    /// The status information of `r`; a total without an amount is reported as the net total
    /// in `currency`.
    fn of(r: &Response, currency: u16) -> Self {
        let mut pan = [0u8; 10];
        let pan_len = r.pan.as_ref().map(|p| pan_bcd(p, &mut pan) as u8);
        let aid = r.approval_code.as_ref().map(|code| {
            let mut aid = [0u8; 8];
            for (slot, b) in aid.iter_mut().zip(code.as_str().bytes()) {
                *slot = b;
            }
            aid
        });
        let mut info = Info {
            result_code: response_result_code(r),
            result_code_as: None,
            amount: r.amount.map(|m| m.minor()),
            currency: r.amount.map(|m| m.currency.numeric()),
            trace: r.trace,
            pan,
            pan_len,
            aid,
            scheme: r.scheme,
            time: r.timestamp.map(|t| hhmmss(t.hour, t.minute, t.second)),
            date: r
                .timestamp
                .map(|t| u16::from(t.month) * 100 + u16::from(t.day)),
            text: r.text.clone(),
        };
        if let Outcome::Declined { code } = &r.outcome {
            info.result_code_as = decimal_u8(code.as_str());
        }
        if let Some(totals) = &r.totals {
            if info.amount.is_none() {
                let net = totals
                    .currencies
                    .iter()
                    .find(|c| c.currency == currency)
                    .map_or(0, |c| c.debit_minor.saturating_sub(c.credit_minor));
                info.amount = Some(net);
                info.currency = Some(currency);
            }
        }
        info
    }
}

/// Builds the `04 0F` status information `info` into `window`; a value the BMPs cannot carry
/// (a text too long) leaves the extras (text, card name) out. Not inlined: its BMPs stay out of
/// the frames of the other messages' builders.
#[inline(never)]
fn emit_info<'b>(info: &Info, terminal_id: u32, window: Window<'b>) -> Result<Window<'b>> {
    let mut bmps = Bmps {
        result_code: Some(info.result_code),
        amount: info.amount,
        currency: info.currency,
        trace: info.trace,
        receipt_no: info.trace.map(receipt_number),
        terminal_id: Some(terminal_id),
        card_number: info.pan_len.and_then(|n| info.pan.get(..usize::from(n))),
        aid: info.aid.as_ref(),
        card_name: info.scheme.map(|s| s.name().as_bytes()),
        time: info.time,
        date: info.date,
        text: info.text.as_ref().map(|t| t.as_bytes()),
        result_code_as: info.result_code_as,
        ..Bmps::default()
    };
    // The BMPs are written as they are, with no `Message` around them (one copy of them on
    // the stack, not three).
    let mut dry = Writer::dry();
    if bmps.write(&mut dry).is_err() {
        bmps.text = None;
        bmps.card_name = None;
        dry = Writer::dry();
        bmps.write(&mut dry)?;
    }
    let mut w = Writer::window(window);
    let (class, instr) = command::STATUS_INFORMATION;
    put_header(&mut w, class, instr, dry.pos())?;
    bmps.write(&mut w)?;
    w.into_window().ok_or(Error::ZvtApduLength { len: 0 })
}

/// Builds a frame that says all it sends (an acknowledgement, a status, a completion or an
/// abort) into `window`. Not inlined: its message stays out of the other builders' frames.
#[inline(never)]
fn emit_plain<'b>(frame: Frame, terminal_id: u32, window: Window<'b>) -> Result<Window<'b>> {
    let done = |bmps| Message::Completion(Completion::Bitmaps(bmps));
    let abort = |code, receipt_no| {
        Message::Abort(Abort {
            result_code: code,
            currency: None,
            bmps: Bmps {
                receipt_no,
                ..Bmps::default()
            },
        })
    };
    let msg = match frame {
        Frame::Ack => Message::Ack(&[]),
        Frame::Nack(code) => Message::Nack(code),
        Frame::Status(code) => Message::IntermediateStatus(IntermediateStatus {
            status: code,
            timeout: None,
            tlv: None,
        }),
        Frame::Done => done(Bmps {
            result_code: Some(result::SUCCESS),
            ..Bmps::default()
        }),
        Frame::Registered(currency) => done(Bmps {
            payment_type: Some(0),
            terminal_id: Some(terminal_id),
            currency: Some(currency),
            ..Bmps::default()
        }),
        Frame::Software(code) => Message::Completion(Completion::Software {
            version: SOFTWARE_VERSION.as_bytes(),
            status: code,
            tlv: None,
        }),
        Frame::Abort(code) => abort(code, None),
        Frame::AbortReceipt(code, receipt) => abort(code, Some(receipt)),
        // Built from the session's state: see `Src::build`.
        Frame::Info | Frame::Line { .. } | Frame::Block { .. } => {
            return Err(Error::SessionNoRequest);
        }
    };
    msg.emit_window(window)
}

impl Src<'_> {
    /// Builds `frame` into `window`. A frame whose source is gone (no response, the receipt
    /// text replaced by a shorter one) is an error.
    fn build<'b>(&self, frame: Frame, window: Window<'b>) -> Result<Window<'b>> {
        let gone = Error::SessionNoRequest;
        match frame {
            Frame::Info => {
                let info = self.info.ok_or(gone)?;
                emit_info(info, self.terminal_id, window)
            }
            Frame::Line { start, end, last } => {
                let line = self
                    .text
                    .as_bytes()
                    .get(usize::from(start)..usize::from(end))
                    .ok_or(gone)?;
                emit_print_line(line, last, window)
            }
            Frame::Block { kind, start } => {
                let text = self.text.get(usize::from(start)..).ok_or(gone)?;
                emit_text_block(kind, text, window)
            }
            _ => emit_plain(frame, self.terminal_id, window),
        }
    }

    /// The length of `frame` on a line with `transport`'s framing.
    fn frame_len(&self, frame: Frame, transport: Transport) -> Result<u16> {
        let window = Window::new(&mut [], 0, transport == Transport::Serial);
        let len = self.build(frame, window)?.finish().1;
        u16::try_from(len).map_err(|_| Error::CapacityExceeded { what: "zvt tx" })
    }
}

/// `HHMMSS` as a plain number.
fn hhmmss(h: u8, m: u8, s: u8) -> u32 {
    u32::from(h) * 10_000 + u32::from(m) * 100 + u32::from(s)
}

/// What a side does with what [`Rx::feed`] finds: both sides frame alike and differ only in
/// what they make of it.
pub(super) trait Receive {
    /// The time of the current call.
    fn set_now(&mut self, now: Instant);
    /// The peer ACKed the serial frame in flight: the next frame may go.
    fn acked(&mut self);
    /// Queues a serial ACK or NAK byte for the peer.
    fn raw(&mut self, byte: u8);
    /// A whole APDU arrived.
    fn apdu(&mut self, now: Instant, apdu: &super::Apdu<'_>);
    /// Bytes that are no APDU (a bad length, an APDU that does not fill its serial frame).
    fn bad_apdu(&mut self, error: Error);
    /// A serial frame that failed its CRC or its framing (NAKed already when the CRC failed).
    fn bad_frame(&mut self, error: Error);
    /// The peer NAKed the frame in flight.
    fn nak(&mut self);
    /// This side NAKed a frame that failed its CRC (the peer will repeat it).
    fn nakked(&mut self) {}
}

impl Rx {
    pub(super) fn new(transport: Transport) -> Self {
        match transport {
            Transport::Tcp => Rx::Tcp(ApduAccumulator::new()),
            Transport::Serial => Rx::Serial(SerialAccumulator::new()),
        }
    }

    /// Feeds `bytes` (any split) through the transport's framing and hands each APDU, or what
    /// went wrong, to `side`. Over serial it also acknowledges each frame (ACK, NAK on a bad
    /// CRC) and sends the last frame again on the peer's NAK.
    pub(super) fn feed(&mut self, side: &mut impl Receive, now: Instant, mut bytes: &[u8]) {
        side.set_now(now);
        while !bytes.is_empty() {
            let used = match self {
                Rx::Tcp(acc) => {
                    let (r, used) = acc.feed(bytes);
                    match r {
                        Ok(Some(apdu)) => side.apdu(now, &apdu),
                        Ok(None) => {}
                        Err(e) => side.bad_apdu(e),
                    }
                    used
                }
                Rx::Serial(acc) => {
                    let (r, used) = acc.feed(bytes);
                    match r {
                        Ok(SerialFeed::NeedMore) => {}
                        Ok(SerialFeed::Ack) => side.acked(),
                        Ok(SerialFeed::Nak) => side.nak(),
                        Ok(SerialFeed::Frame(data)) => {
                            side.raw(serial::ACK);
                            match super::Apdu::parse_exact(data) {
                                Ok(apdu) => side.apdu(now, &apdu),
                                Err(e) => side.bad_apdu(e),
                            }
                        }
                        Err(e) => {
                            if matches!(e, Error::ZvtCrc { .. }) {
                                side.raw(serial::NAK);
                                side.nakked();
                            }
                            side.bad_frame(e);
                        }
                    }
                    used
                }
            };
            if used == 0 {
                break;
            }
            bytes = bytes.get(used..).unwrap_or_default();
        }
    }
}

impl Wire {
    pub(super) fn new(transport: Transport) -> Self {
        Wire {
            transport,
            tx: Vec::new(),
            tx_sent: 0,
            last_frame: Vec::new(),
            repeats: 0,
            ack_deadline: None,
            held: Vec::new(),
            held_lens: Deque::new(),
            now: Instant::ZERO,
        }
    }

    /// A NAK from the peer: the frame waiting for its answer once more, at most
    /// [`SERIAL_RETRIES`] times; after that the next frame goes. A NAK when no frame waits
    /// (a late one, or noise) repeats nothing.
    pub(super) fn repeat(&mut self) {
        if self.ack_deadline.is_none() {
            return;
        }
        if self.repeats < SERIAL_RETRIES && !self.last_frame.is_empty() {
            self.repeats += 1;
            self.compact();
            let _ = self.tx.extend_from_slice(&self.last_frame);
            self.ack_deadline = Some(self.ack_wait(self.last_frame.len()));
        } else {
            self.release();
        }
    }

    /// The serial frame waiting for its ACK or NAK, if one waits.
    pub(super) fn in_flight(&self) -> Option<&[u8]> {
        self.ack_deadline.map(|_| self.last_frame.as_slice())
    }

    /// Gives up on the frame waiting for its answer (not sent again): the next frame goes.
    pub(super) fn give_up(&mut self) {
        if self.ack_deadline.is_some() {
            self.release();
        }
    }

    /// An ACK from the peer: the next frame may go.
    pub(super) fn acked(&mut self) {
        if self.ack_deadline.is_some() {
            self.release();
        }
    }

    /// When the frame in flight stops waiting for its ACK.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.ack_deadline
    }

    /// No ACK in time: the next frame goes (this one is not sent again).
    pub(super) fn timeout(&mut self, now: Instant) {
        self.now = now;
        if self.ack_deadline.is_some_and(|d| now >= d) {
            self.release();
        }
    }

    /// The frame in flight is done with: the first held frame goes (moved into `last_frame`
    /// for a repeat, then onto the line; no frame-sized buffer on the stack).
    fn release(&mut self) {
        self.ack_deadline = None;
        let Some(len) = self.held_lens.pop_front() else {
            self.held.clear();
            return;
        };
        self.last_frame.clear();
        let _ = self
            .last_frame
            .extend_from_slice(self.held.get(..len).unwrap_or_default());
        let all = self.held.len();
        self.held.rotate_left(len.min(all));
        self.held.truncate(all.saturating_sub(len));
        self.put_last_frame_on_the_line();
    }

    /// Puts `last_frame` on the line and starts its ACK wait.
    fn put_last_frame_on_the_line(&mut self) {
        self.compact();
        let _ = self.tx.extend_from_slice(&self.last_frame);
        self.repeats = 0;
        self.ack_deadline = Some(self.ack_wait(self.last_frame.len()));
    }

    /// When a frame of `len` bytes queued now stops waiting for its answer.
    fn ack_wait(&self, len: usize) -> Instant {
        let line = SERIAL_BYTE_TIME.saturating_mul(u32::try_from(len).unwrap_or(u32::MAX));
        self.now
            .saturating_add(SERIAL_ACK_TIMEOUT)
            .saturating_add(line)
    }

    pub(super) fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        let pending = self.tx.get(self.tx_sent..).unwrap_or_default();
        if pending.is_empty() {
            self.tx.clear();
            self.tx_sent = 0;
            return Ok(None);
        }
        if buf.is_empty() {
            return Err(Error::BufferTooSmall {
                needed: pending.len(),
            });
        }
        let n = pending.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), pending.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.tx_sent += n;
        Ok(Some(n))
    }

    /// Queues `msg` for the peer, framed for the transport. The APDU is written straight into
    /// the free end of the queue: no message-sized buffer on the stack. On a serial line it is
    /// framed from there: into `last_frame` (kept for a repeat after a NAK) and onto the line
    /// when no frame waits for its ACK, else behind the held frames (stop and wait, PA00P016).
    /// On an error nothing is queued.
    pub(super) fn send(&mut self, msg: &Message<'_>) -> Result<()> {
        let full = Error::CapacityExceeded { what: "zvt tx" };
        let too_small = |e| match e {
            Error::BufferTooSmall { .. } => full,
            e => e,
        };
        self.compact();
        let start = self.tx.len();
        self.tx.resize(TX_CAPACITY, 0).map_err(|_| full)?;
        let n = match msg.emit(self.tx.get_mut(start..).unwrap_or_default()) {
            Ok(n) => n,
            Err(e) => {
                self.tx.truncate(start);
                return Err(too_small(e));
            }
        };
        self.tx.truncate(start + n);
        if self.transport == Transport::Tcp {
            return Ok(());
        }
        let apdu = self.tx.get(start..).unwrap_or_default();
        if self.ack_deadline.is_none() {
            self.last_frame.clear();
            let _ = self.last_frame.resize(TX_CAPACITY, 0);
            let framed = serial::encode_frame(apdu, &mut self.last_frame);
            self.tx.truncate(start);
            match framed {
                Ok(m) if start + m <= TX_CAPACITY => {
                    self.last_frame.truncate(m);
                    self.put_last_frame_on_the_line();
                    Ok(())
                }
                Ok(_) => {
                    self.last_frame.clear();
                    Err(full)
                }
                Err(e) => {
                    self.last_frame.clear();
                    Err(too_small(e))
                }
            }
        } else {
            if self.held_lens.is_full() {
                self.tx.truncate(start);
                return Err(full);
            }
            let held = self.held.len();
            let _ = self.held.resize(TX_CAPACITY, 0);
            let framed = serial::encode_frame(apdu, self.held.get_mut(held..).unwrap_or_default());
            self.tx.truncate(start);
            match framed {
                Ok(m) => {
                    self.held.truncate(held + m);
                    let _ = self.held_lens.push_back(m);
                    Ok(())
                }
                Err(e) => {
                    self.held.truncate(held);
                    Err(too_small(e))
                }
            }
        }
    }

    pub(super) fn raw(&mut self, byte: u8) {
        self.compact();
        let _ = self.tx.push(byte);
    }

    /// Drops the bytes already polled out.
    fn compact(&mut self) {
        if self.tx_sent == 0 {
            return;
        }
        let len = self.tx.len();
        if self.tx_sent >= len {
            self.tx.clear();
        } else {
            self.tx.rotate_left(self.tx_sent);
            self.tx.truncate(len - self.tx_sent);
        }
        self.tx_sent = 0;
    }
}

impl Line {
    fn new(transport: Transport) -> Self {
        Line {
            transport,
            out: Deque::new(),
            sent: 0,
            in_flight: None,
            repeats: 0,
            ack_deadline: None,
            held: Deque::new(),
            now: Instant::ZERO,
        }
    }

    /// Queues `frame` of `len` bytes: over TCP onto the line; over serial onto the line when
    /// no frame waits for its ACK, else behind the held frames (stop and wait, PA00P016). When
    /// there is no room nothing is queued.
    fn send(&mut self, frame: Frame, len: u16) -> Result<()> {
        let full = Error::CapacityExceeded { what: "zvt tx" };
        if self.transport == Transport::Tcp {
            return self
                .out
                .push_back(Item::Frame(frame, len))
                .map_err(|_| full);
        }
        if self.ack_deadline.is_none() {
            self.out
                .push_back(Item::Frame(frame, len))
                .map_err(|_| full)?;
            self.in_flight = Some((frame, len));
            self.repeats = 0;
            self.ack_deadline = Some(self.ack_wait(len));
            Ok(())
        } else {
            self.held.push_back((frame, len)).map_err(|_| full)
        }
    }

    /// Queues a serial ACK or NAK byte (dropped when the line holds all it can).
    fn raw(&mut self, byte: u8) {
        let _ = self.out.push_back(Item::Byte(byte));
    }

    /// A NAK from the peer: the frame waiting for its answer once more, at most
    /// [`SERIAL_RETRIES`] times; after that the next frame goes. A NAK when no frame waits
    /// (a late one, or noise) repeats nothing.
    fn repeat(&mut self) {
        if self.ack_deadline.is_none() {
            return;
        }
        match self.in_flight {
            Some((frame, len)) if self.repeats < SERIAL_RETRIES => {
                self.repeats += 1;
                let _ = self.out.push_back(Item::Frame(frame, len));
                self.ack_deadline = Some(self.ack_wait(len));
            }
            _ => self.release(),
        }
    }

    /// The frame in flight is not to be repeated any more: what it was built from is gone.
    fn no_repeat_if(&mut self, reads: impl Fn(Frame) -> bool) {
        if self.in_flight.is_some_and(|(f, _)| reads(f)) {
            self.repeats = SERIAL_RETRIES;
        }
    }

    /// An ACK from the peer: the next frame may go.
    fn acked(&mut self) {
        if self.ack_deadline.is_some() {
            self.release();
        }
    }

    /// When the frame in flight stops waiting for its ACK.
    fn deadline(&self) -> Option<Instant> {
        self.ack_deadline
    }

    /// No ACK in time: the next frame goes (this one is not sent again).
    fn timeout(&mut self, now: Instant) {
        self.now = now;
        if self.ack_deadline.is_some_and(|d| now >= d) {
            self.release();
        }
    }

    /// The frame in flight is done with: the first held frame goes.
    fn release(&mut self) {
        self.ack_deadline = None;
        self.in_flight = None;
        if let Some((frame, len)) = self.held.pop_front() {
            // Room on the line: `send` queued it when there was.
            let _ = self.send(frame, len);
        }
    }

    /// When a frame of `len` bytes queued now stops waiting for its answer.
    fn ack_wait(&self, len: u16) -> Instant {
        // In 32-bit milliseconds (at most 65 535 bytes of 1 146 µs each fit): a `Duration`
        // multiplied divides 64-bit nanoseconds, which links the 64-bit division routine.
        const BYTE_MICROS: u32 = SERIAL_BYTE_TIME.as_micros() as u32;
        let line_ms = u32::from(len) * BYTE_MICROS / 1000;
        let after = self.now.saturating_add(SERIAL_ACK_TIMEOUT).as_millis();
        Instant::from_millis(after.saturating_add(u64::from(line_ms)))
    }

    /// Builds what is on the line from `src` into `buf`, as much as fits, from where the last
    /// call stopped. A frame that can no longer be built is dropped.
    fn poll(&mut self, buf: &mut [u8], src: &Src<'_>) -> Result<Option<usize>> {
        let serial = self.transport == Transport::Serial;
        if buf.is_empty() {
            return match self.out.front() {
                None => Ok(None),
                Some(item) => Err(Error::BufferTooSmall {
                    needed: match *item {
                        Item::Byte(_) => 1,
                        Item::Frame(_, len) => usize::from(len).saturating_sub(self.sent).max(1),
                    },
                }),
            };
        }
        let mut n = 0;
        while let Some(item) = self.out.front().copied() {
            let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) else {
                break;
            };
            let (written, total) = match item {
                Item::Byte(b) => {
                    if let Some(slot) = rest.first_mut() {
                        *slot = b;
                    }
                    (1, 1)
                }
                Item::Frame(frame, _) => src
                    .build(frame, Window::new(rest, self.sent, serial))
                    .map_or((0, 0), Window::finish),
            };
            n += written;
            self.sent += written;
            if self.sent < total {
                break;
            }
            let _ = self.out.pop_front();
            self.sent = 0;
        }
        Ok((n > 0).then_some(n))
    }
}

impl Core {
    fn event(&mut self, ev: TerminalEvent) {
        if crate::queue::push_keeping(&mut self.events, ev, |e| {
            matches!(e, TerminalEvent::ProtocolError(_))
        }) {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    fn remember(&mut self, trace: u32) {
        let no = receipt_number(trace);
        if self.approved.is_full() {
            let _ = self.approved.pop_front();
        }
        let _ = self.approved.push_back(no);
    }

    fn currency(&self) -> Currency {
        self.reg.map_or(self.cfg.currency, |r| r.currency)
    }

    fn config_byte(&self) -> u8 {
        self.reg.map_or(0, |r| r.config)
    }

    // ----- sending -----

    /// What frames are built from.
    fn src(&self) -> Src<'_> {
        Src {
            info: self.info.as_ref(),
            text: &self.receipt_text,
            terminal_id: self.cfg.terminal_id,
        }
    }

    /// Queues `frame` (checked by building it once: a frame that cannot be built is not
    /// queued).
    fn send(&mut self, frame: Frame) -> Result<()> {
        let len = self.src().frame_len(frame, self.cfg.transport)?;
        self.wire.send(frame, len)
    }

    fn ack(&mut self) {
        let _ = self.send(Frame::Ack);
    }

    fn nack(&mut self, code: u8) {
        let _ = self.send(Frame::Nack(code));
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        let src = Src {
            info: self.info.as_ref(),
            text: &self.receipt_text,
            terminal_id: self.cfg.terminal_id,
        };
        self.wire.poll(buf, &src)
    }

    /// Starts a command answered by `outs` alone (after the ACK).
    fn local(&mut self, now: Instant, outs: &[Out]) {
        self.ack();
        self.cmd = Some(CmdKind::Local);
        self.request = None;
        self.answered = true;
        self.queue.clear();
        for o in outs {
            let _ = self.queue.push_back(*o);
        }
        self.pump(now);
    }

    /// Starts a command that runs `request`.
    fn run(&mut self, now: Instant, kind: CmdKind, request: Request) {
        self.ack();
        self.cmd = Some(kind);
        self.answered = false;
        self.info = None;
        self.queue.clear();
        self.request = Some(request.clone());
        if matches!(request, Request::Sale { .. } | Request::Refund { .. }) {
            self.intermediate(now, status::INSERT_CARD);
        }
        self.event(TerminalEvent::Request(request));
    }

    fn intermediate(&mut self, now: Instant, code: u8) {
        if self.cmd.is_none()
            || self.answered
            || self.config_byte() & config_bit::INTERMEDIATE_STATUS == 0
        {
            return;
        }
        // Only the newest status waits.
        keep(&mut self.queue, |o| !matches!(o, Out::Status(_)));
        let _ = self.queue.push_back(Out::Status(code));
        self.pump(now);
    }

    /// Sends the next message of the sequence when the previous one was acknowledged.
    fn pump(&mut self, now: Instant) {
        while self.awaiting.is_none() {
            match self.receipt {
                ReceiptState::Asked { .. } => return,
                ReceiptState::Sending(_) => {
                    self.next_receipt_message(now);
                    continue;
                }
                ReceiptState::None => {}
            }
            let Some(out) = self.queue.pop_front() else {
                return;
            };
            let last = self.queue.is_empty() && !matches!(out, Out::Status(_) | Out::Receipt(_));
            let frame = match out {
                Out::Status(code) => Frame::Status(code),
                Out::Info => Frame::Info,
                Out::Receipt(copy) => {
                    self.receipt = ReceiptState::Asked {
                        copy,
                        first: true,
                        deadline: after(now, self.cfg.receipt_timeout),
                    };
                    self.event(TerminalEvent::ReceiptRequested);
                    return;
                }
                Out::Done => Frame::Done,
                Out::Registered => Frame::Registered(self.currency().numeric()),
                Out::Software(code) => Frame::Software(code),
                Out::Abort(code) => Frame::Abort(code),
                Out::AbortReceipt(code, receipt) => Frame::AbortReceipt(code, receipt),
            };
            let sent = self.send(frame);
            if let Err(e) = sent {
                self.event(TerminalEvent::ProtocolError(e));
                if self.answered {
                    // A message of the answer that cannot go (the serial line holds too many
                    // frames its peer has not acknowledged): the answer is undelivered, and
                    // the session must not wait for an acknowledgement of nothing.
                    self.finish(false);
                    return;
                }
                continue;
            }
            self.awaiting = Some(Awaiting {
                deadline: after(now, self.cfg.ack_timeout),
                last,
            });
        }
    }

    /// Sends the next piece of the receipt text being sent (a line, or the whole part as a
    /// text block); at its end asks the driver for the next part or goes back to the queue.
    fn next_receipt_message(&mut self, now: Instant) {
        let blocks = self.config_byte() & config_bit::TEXT_BLOCKS != 0;
        let admin = self.cmd == Some(CmdKind::EndOfDay);
        let ReceiptState::Sending(mut rt) = self.receipt else {
            return;
        };
        let rest = self.receipt_text.get(rt.sent..).unwrap_or_default();
        if rest.is_empty() {
            if rt.more {
                self.receipt = ReceiptState::Asked {
                    copy: rt.copy,
                    first: false,
                    deadline: after(now, self.cfg.receipt_timeout),
                };
                self.event(TerminalEvent::ReceiptRequested);
            } else {
                self.receipt = ReceiptState::None;
            }
            return;
        }
        // The text holds at most RECEIPT_PART_CAPACITY bytes: its offsets fit in 16 bits.
        let at = |i: usize| u16::try_from(i).unwrap_or(u16::MAX);
        let frame = if blocks {
            let kind = match (admin, rt.copy) {
                (true, _) => receipt_type::ADMINISTRATION,
                (false, ReceiptCopy::Merchant) => receipt_type::MERCHANT,
                (false, ReceiptCopy::Customer) => receipt_type::CUSTOMER,
            };
            let start = at(rt.sent);
            rt.sent = self.receipt_text.len();
            Frame::Block { kind, start }
        } else {
            let (line, used) = match rest.bytes().position(|b| b == b'\n') {
                Some(i) => (i, i + 1),
                None => (rest.len(), rest.len()),
            };
            let last = !rt.more && used >= rest.len();
            let start = rt.sent;
            rt.sent += used;
            Frame::Line {
                start: at(start),
                end: at(start + line),
                last,
            }
        };
        self.receipt = ReceiptState::Sending(rt);
        match self.send(frame) {
            Ok(()) => {
                self.awaiting = Some(Awaiting {
                    deadline: after(now, self.cfg.ack_timeout),
                    last: false,
                });
            }
            Err(e) => self.event(TerminalEvent::ProtocolError(e)),
        }
    }

    fn receipt_part(&mut self, now: Instant, text: &str, more: bool) -> Result<()> {
        let ReceiptState::Asked { copy, .. } = self.receipt else {
            return Err(Error::Unsupported {
                what: "zvt receipt part nobody asked for",
            });
        };
        if text.len() > RECEIPT_PART_CAPACITY {
            return Err(Error::CapacityExceeded {
                what: "zvt receipt part",
            });
        }
        // A frame of the part before, still waiting for its serial ACK, cannot be built again.
        self.wire.no_repeat_if(Frame::reads_text);
        self.receipt_text.clear();
        let _ = self.receipt_text.push_str(text);
        self.receipt = ReceiptState::Sending(ReceiptText {
            copy,
            sent: 0,
            more,
        });
        self.pump(now);
        Ok(())
    }

    // ----- receiving -----

    fn on_apdu(&mut self, now: Instant, apdu: &super::Apdu<'_>) {
        let msg = match Message::parse(apdu) {
            Ok(m) => m,
            Err(e) => {
                let code = if matches!(e, Error::ZvtCommand { .. }) {
                    result::FUNCTION_NOT_POSSIBLE
                } else {
                    result::PROTOCOL_ERROR
                };
                self.nack(code);
                self.event(TerminalEvent::ProtocolError(e));
                return;
            }
        };
        match msg {
            Message::Ack(_) | Message::Nack(_) => self.on_ack(now),
            Message::AbortRequest => self.on_abort_request(now),
            _ if self.cmd.is_some() => self.nack(result::PLEASE_WAIT),
            m => self.on_command(now, m),
        }
    }

    fn on_ack(&mut self, now: Instant) {
        let Some(a) = self.awaiting.take() else {
            // An acknowledgement nobody waits for (a late one): nothing to do.
            return;
        };
        if a.last {
            self.finish(true);
        }
        self.pump(now);
    }

    /// The sequence ended: delivered (acknowledged) or not.
    fn finish(&mut self, delivered: bool) {
        let ran = self.request.is_some();
        self.cmd = None;
        self.request = None;
        // The response stays until the next one: a frame of it may still be on its way.
        self.queue.clear();
        self.awaiting = None;
        self.receipt = ReceiptState::None;
        if ran {
            self.event(if delivered {
                TerminalEvent::ResponseDelivered
            } else {
                TerminalEvent::ResponseUndelivered(Error::LinkNoAck)
            });
        }
    }

    fn on_abort_request(&mut self, now: Instant) {
        // A status waiting for its acknowledgement counts as acknowledged.
        if let Some(a) = self.awaiting {
            if !a.last && !self.answered {
                self.awaiting = None;
            }
        }
        self.ack();
        if self.cmd.is_some() && !self.answered && self.request.is_some() {
            self.event(TerminalEvent::Request(Request::Abort));
        }
        self.pump(now);
    }

    fn password_ok(&self, password: u32) -> bool {
        password == self.cfg.password
    }

    fn on_command(&mut self, now: Instant, msg: Message<'_>) {
        use CmdKind as K;
        match msg {
            Message::Registration(r) => {
                if !self.password_ok(r.password) {
                    return self.local(now, &[Out::Abort(result::WRONG_PASSWORD)]);
                }
                let currency = match r.currency.map(Currency::from_numeric) {
                    None => self.cfg.currency,
                    Some(Ok(c)) => c,
                    Some(Err(_)) => return self.local(now, &[Out::Abort(result::WRONG_CURRENCY)]),
                };
                self.reg = Some(Registered {
                    config: r.config,
                    currency,
                });
                self.local(now, &[Out::Registered]);
            }
            Message::LogOff => {
                self.reg = None;
                self.local(now, &[Out::Registered]);
            }
            Message::Authorisation(b) => match self.money(b.amount, b.currency) {
                Ok(amount) => self.run(
                    now,
                    K::Payment,
                    Request::Sale {
                        amount,
                        reference: None,
                    },
                ),
                Err(code) => self.local(now, &[Out::Abort(code)]),
            },
            Message::Refund(p) => {
                if !self.password_ok(p.password) {
                    return self.local(now, &[Out::Abort(result::WRONG_PASSWORD)]);
                }
                match self.money(p.bmps.amount, p.bmps.currency) {
                    Ok(amount) => self.run(
                        now,
                        K::Payment,
                        Request::Refund {
                            amount,
                            reference: None,
                        },
                    ),
                    Err(code) => self.local(now, &[Out::Abort(code)]),
                }
            }
            Message::Reversal(p) => {
                if !self.password_ok(p.password) {
                    return self.local(now, &[Out::Abort(result::WRONG_PASSWORD)]);
                }
                // Without a receipt number: the last payment this session approved.
                let receipt = p.bmps.receipt_no.or_else(|| self.approved.back().copied());
                match receipt {
                    Some(receipt) if receipt != super::RECEIPT_NO_NONE => {
                        self.run(now, K::Payment, Request::ReversalByReceipt { receipt })
                    }
                    _ => self.local(now, &[Out::Abort(result::REVERSAL_NOT_POSSIBLE)]),
                }
            }
            Message::RepeatReceipt(p) => {
                if !self.password_ok(p.password) {
                    return self.local(now, &[Out::Abort(result::WRONG_PASSWORD)]);
                }
                self.run(now, K::RepeatReceipt, Request::Reprint);
            }
            Message::EndOfDay(p) => {
                if !self.password_ok(p.password) {
                    return self.local(now, &[Out::Abort(result::WRONG_PASSWORD)]);
                }
                self.run(now, K::EndOfDay, Request::CloseTotals);
            }
            Message::StatusEnquiry(s) => {
                if s.password.is_some_and(|p| !self.password_ok(p)) {
                    return self.local(now, &[Out::Abort(result::WRONG_PASSWORD)]);
                }
                self.run(now, K::StatusEnquiry, Request::TestTerminal);
            }
            Message::Diagnosis(_) => self.run(now, K::Diagnosis, Request::TestBank),
            Message::Reservation(b) => match self.money(b.amount, b.currency) {
                Ok(amount) => self.run(now, K::PreAuth, Request::Reservation { amount }),
                Err(code) => self.local(now, &[Out::Abort(code)]),
            },
            Message::BookTotal(b) => {
                let Some(receipt) = b.receipt_no else {
                    return self.local(now, &[Out::Abort(result::PROTOCOL_ERROR)]);
                };
                match self.money(b.amount, b.currency) {
                    Ok(amount) => self.run(now, K::PreAuth, Request::BookTotal { receipt, amount }),
                    Err(code) => self.local(now, &[Out::Abort(code)]),
                }
            }
            Message::PartialReversal(b) => {
                let receipt = b.receipt_no.unwrap_or(super::RECEIPT_NO_NONE);
                // Receipt number FF FF asks for the open reservations (§2.10.1): no amount
                // needed; the smallest one stands in, and no reservation matches it.
                let amount = match b.amount {
                    None if receipt == super::RECEIPT_NO_NONE => Some(1),
                    a => a,
                };
                match self.money(amount, b.currency) {
                    Ok(amount) => self.run(
                        now,
                        K::PreAuth,
                        Request::PartialReversal { receipt, amount },
                    ),
                    Err(code) => self.local(now, &[Out::Abort(code)]),
                }
            }
            Message::PreAuthReversal(b) => match b.receipt_no {
                Some(receipt) => self.run(now, K::PreAuth, Request::PreAuthReversal { receipt }),
                None => self.local(now, &[Out::Abort(result::PROTOCOL_ERROR)]),
            },
            // Messages only a terminal sends.
            other => {
                let (class, instr) = other.control();
                self.nack(result::FUNCTION_NOT_POSSIBLE);
                self.event(TerminalEvent::ProtocolError(Error::ZvtCommand {
                    class,
                    instr,
                }));
            }
        }
    }

    /// The amount of a payment command, or the result code that refuses it.
    fn money(&self, amount: Option<u64>, currency: Option<u16>) -> core::result::Result<Money, u8> {
        let currency = match currency.map(Currency::from_numeric) {
            None => self.currency(),
            Some(Ok(c)) => c,
            Some(Err(_)) => return Err(result::WRONG_CURRENCY),
        };
        let amount = amount.ok_or(result::PROTOCOL_ERROR)?;
        Money::new(amount, currency).map_err(|_| result::PROTOCOL_ERROR)
    }

    /// Not inlined: its temporaries stay out of the driver's frame, which is under the deepest
    /// call chain.
    #[inline(never)]
    fn respond(&mut self, now: Instant, response: &Response) -> Result<()> {
        let (Some(kind), Some(request), false) = (self.cmd, self.request.as_ref(), self.answered)
        else {
            return Err(Error::SessionNoRequest);
        };
        if response.kind == RequestKind::Abort {
            // The answer to the till's 06 B0: the running command ends on its own answer.
            return Ok(());
        }
        check_response(request, response)?;
        let reversal = request.kind() == RequestKind::Reversal;
        let reversed = match request {
            Request::ReversalByReceipt { receipt } => Some(*receipt),
            _ => None,
        };
        let approved = response.outcome.is_approved();
        let code = response_result_code(response);
        let cfg = self.config_byte();
        let end = if approved {
            Out::Done
        } else {
            Out::Abort(code)
        };
        // A status not yet sent has no point any more; the answer's messages follow what
        // is still queued.
        keep(&mut self.queue, |o| !matches!(o, Out::Status(_)));
        let payment_receipts = approved && cfg & config_bit::ECR_PRINTS_PAYMENT != 0;
        match kind {
            CmdKind::PreAuth if code == result::PRE_AUTH_ERROR => {
                let open = response
                    .trace
                    .map_or(super::RECEIPT_NO_NONE, receipt_number);
                let _ = self.queue.push_back(Out::AbortReceipt(code, open));
            }
            // A payment and the other pre-authorisation answers: the same messages.
            CmdKind::Payment | CmdKind::PreAuth => {
                if approved || response.trace.is_some() {
                    let _ = self.queue.push_back(Out::Info);
                }
                if payment_receipts {
                    let _ = self.queue.push_back(Out::Receipt(ReceiptCopy::Merchant));
                    let _ = self.queue.push_back(Out::Receipt(ReceiptCopy::Customer));
                }
                let _ = self.queue.push_back(end);
            }
            CmdKind::RepeatReceipt => {
                if payment_receipts {
                    let _ = self.queue.push_back(Out::Receipt(ReceiptCopy::Customer));
                }
                let _ = self.queue.push_back(end);
            }
            CmdKind::EndOfDay => {
                let _ = self.queue.push_back(Out::Info);
                if approved && cfg & config_bit::ECR_PRINTS_ADMIN != 0 {
                    let _ = self.queue.push_back(Out::Receipt(ReceiptCopy::Merchant));
                }
                let _ = self.queue.push_back(end);
            }
            CmdKind::StatusEnquiry => {
                let _ = self.queue.push_back(Out::Software(if approved { 0 } else { code }));
            }
            CmdKind::Diagnosis | CmdKind::Local => {
                let _ = self.queue.push_back(end);
            }
        }
        if kind == CmdKind::Payment {
            if approved && !reversal {
                if let (Some(trace), Some(_), Some(_)) =
                    (response.trace, &response.approval_code, response.amount)
                {
                    self.remember(trace);
                }
            }
            if let (true, Some(receipt)) = (approved, reversed) {
                keep(&mut self.approved, |n| *n != receipt);
            }
        }
        // A status information of an answer before, still waiting for its serial ACK, cannot
        // be built again.
        self.wire.no_repeat_if(|f| f == Frame::Info);
        self.info = Some(Info::of(response, self.currency().numeric()));
        self.answered = true;
        self.pump(now);
        Ok(())
    }

    fn timeout(&mut self, now: Instant) {
        if let Some(a) = self.awaiting {
            if now >= a.deadline {
                self.awaiting = None;
                if self.answered {
                    // The answer (or part of it) was not acknowledged: the sequence is over.
                    self.finish(false);
                }
                self.pump(now);
            }
        }
        if let ReceiptState::Asked { deadline, .. } = self.receipt {
            if now >= deadline {
                // The driver gave no text: go on without the receipt.
                self.receipt = ReceiptState::None;
                self.pump(now);
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let a = self.awaiting.map(|a| a.deadline);
        let r = match self.receipt {
            ReceiptState::Asked { deadline, .. } => Some(deadline),
            _ => None,
        };
        crate::time::earliest(crate::time::earliest(a, r), self.wire.deadline())
    }
}

/// The terminal refuses bytes that are no APDU with `84 9A` as well as reporting them.
impl Receive for Core {
    fn set_now(&mut self, now: Instant) {
        self.wire.now = now;
    }
    fn acked(&mut self) {
        self.wire.acked();
    }
    fn raw(&mut self, byte: u8) {
        self.wire.raw(byte);
    }
    fn nak(&mut self) {
        self.wire.repeat();
    }
    fn apdu(&mut self, now: Instant, apdu: &super::Apdu<'_>) {
        self.on_apdu(now, apdu);
    }
    fn bad_apdu(&mut self, error: Error) {
        self.nack(result::PROTOCOL_ERROR);
        self.event(TerminalEvent::ProtocolError(error));
    }
    fn bad_frame(&mut self, error: Error) {
        self.event(TerminalEvent::ProtocolError(error));
    }
}

impl TerminalSide for ZvtTerminal {
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.rx.feed(&mut self.core, now, bytes);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.core.wire.timeout(now);
        self.core.timeout(now);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.core.poll_transmit(buf)
    }

    fn poll_event(&mut self) -> Option<TerminalEvent> {
        self.core.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.core.deadline()
    }

    fn respond(&mut self, now: Instant, response: &Response) -> Result<()> {
        self.core.wire.now = now;
        self.core.respond(now, response)
    }

    fn send_receipt_part(&mut self, now: Instant, text: &str, more: bool) -> Result<()> {
        self.core.wire.now = now;
        self.core.receipt_part(now, text, more)
    }

    /// Sends the stage as a `04 FF` intermediate status ([`status_of`]) when the till
    /// registered for intermediate status; otherwise nothing, and `Ok`.
    fn send_progress(&mut self, now: Instant, progress: Progress) -> Result<()> {
        self.intermediate_status(now, status_of(progress));
        Ok(())
    }

    fn is_busy(&self) -> bool {
        self.core.cmd.is_some()
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
