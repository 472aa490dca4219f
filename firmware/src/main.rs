//! A firmware-shaped binary: the terminal side of the ECR link and the payment application,
//! with no heap and no OS, built for `thumbv7em-none-eabihf` to measure what `ecrlink-core`
//! costs in flash and RAM (`benches/firmware-size.sh` runs `llvm-size` on it and measures the
//! worst-case stack).
//!
//! Cargo features choose what is linked: the dialects `concert`, `csob` and `zvt` (one is
//! chosen at boot from a configuration word in flash when several are linked), and `app`, the
//! payment application and its devices. All four are on by default; without `app` the
//! firmware is the till link alone, answering every request "not supported"
//! (`link::serve_alone`), which is what the link's own flash budget is measured on.
//!
//! With `app`, one super-loop drives:
//! - a till session on USART2 (Concert, ČSOB or ZVT over serial);
//! - the payment application, [`ecrlink_core::terminal::Terminal`]: till requests go to it,
//!   its answers go back through the session;
//! - the bank link on USART3: ISO 8583 with the 2-byte length prefix and a MAC
//!   ([`ecrlink_core::terminal::wire`], [`ecrlink_core::bank::framing`],
//!   [`ecrlink_core::bank::mac`]);
//! - the journal in a flash sector (register-level model of the STM32F4 flash controller):
//!   records in the `core::journal` envelope, folded back into the application's state at
//!   boot;
//! - a card reader modelled on GPIO inputs, a receipt printer on USART1, the calendar from the
//!   RTC registers and the SysTick millisecond counter as the monotonic clock.
//!
//! Sessions, application and buffers live in `static`s ([`StaticCell`]) so that the linker
//! counts them as static RAM; what is left on the stack is temporaries. Nothing here runs on
//! hardware: it exists to be measured, but every path is reachable from the peripherals'
//! registers.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::{entry, exception};
use ecrlink_core::Instant;
#[cfg(feature = "app")]
use ecrlink_core::bank::{IsoMessage, MacKey, framing, mac};
#[cfg(feature = "concert")]
use ecrlink_core::dialect::concert::{ConcertTerminal, ConcertTerminalConfig};
#[cfg(feature = "csob")]
use ecrlink_core::dialect::csob::{CsobConfig, CsobTerminal};
#[cfg(feature = "zvt")]
use ecrlink_core::dialect::zvt::{Transport, ZvtTerminal, ZvtTerminalConfig};
#[cfg(feature = "app")]
use ecrlink_core::emv;
use ecrlink_core::io::BlockingTerminal;
#[cfg(feature = "app")]
use ecrlink_core::journal::{self, RecordRef};
#[cfg(feature = "app")]
use ecrlink_core::receipt::{self, CopyKind, Lang, MAX_RECEIPT_BYTES, Merchant, ReceiptOptions};
#[cfg(feature = "app")]
use ecrlink_core::session::{RECEIPT_PART_CAPACITY, TerminalEvent};
#[cfg(feature = "app")]
use ecrlink_core::terminal::{
    BankCommand, BankFailure, CardCommand, CardData, CardEvent, Config, JournalSpace, LinkState,
    MAX_BANK_OUT, PinCheck, PrintJob, RequestId, Terminal, TillId, wire,
};
#[cfg(any(feature = "app", feature = "zvt"))]
use ecrlink_core::txn::Currency;
#[cfg(any(feature = "app", feature = "csob"))]
use ecrlink_core::txn::TerminalId;
#[cfg(feature = "app")]
use ecrlink_core::txn::{
    CardScheme, EmvData, EntryMode, FailReason, Outcome, Pan, RequestKind, Response, Timestamp,
};
#[cfg(feature = "app")]
use heapless::Vec;
use panic_halt as _;
use static_cell::StaticCell;

mod builtins;
#[cfg(feature = "app")]
mod flash;
mod link;
mod uart;

use link::{Clock, Session, Till};
use uart::Usart;

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Interrupts of an STM32F407 (reference manual RM0090, vector table: IRQ 0 to 81).
const IRQS: usize = 82;

unsafe extern "C" {
    /// cortex-m-rt's handler of anything without its own.
    fn DefaultHandler();
}

/// The device's part of the vector table (cortex-m-rt feature `device`): as many entries as
/// the part has interrupts, all to `DefaultHandler` (the loop polls its peripherals), instead
/// of cortex-m-rt's generic 240 (632 bytes of flash more).
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
static __INTERRUPTS: [unsafe extern "C" fn(); IRQS] = [DefaultHandler; IRQS];

/// Which dialect to run when several are linked: 0 Concert, 1 ČSOB, 2 ZVT (another value or
/// a dialect not linked: the first linked of Concert, ČSOB, ZVT). In flash, read at boot.
#[unsafe(no_mangle)]
static DIALECT: u32 = 0;

/// The terminal's MAC key for the bank link (`core::bank::mac`), provisioned into flash.
#[cfg(feature = "app")]
#[unsafe(no_mangle)]
static MAC_KEY: [u8; 32] = [0x5A; 32];

/// The till link of the dialect chosen at boot: one static for all linked dialects, as large
/// as the largest, since only one runs.
// The variants differ in size by design: the one static holds the largest.
#[allow(clippy::large_enum_variant)]
enum Link {
    #[cfg(feature = "concert")]
    Concert(Till<ConcertTerminal, { link::CONCERT_BUF }>),
    #[cfg(feature = "csob")]
    Csob(Till<CsobTerminal, { link::CSOB_BUF }>),
    #[cfg(feature = "zvt")]
    Zvt(Till<ZvtTerminal, { link::ZVT_BUF }>),
}

static LINK: StaticCell<Link> = StaticCell::new();
#[cfg(feature = "app")]
static APP: StaticCell<Terminal> = StaticCell::new();
#[cfg(feature = "app")]
static BANK: StaticCell<BankLink> = StaticCell::new();
#[cfg(feature = "app")]
static JOURNAL: StaticCell<Journal> = StaticCell::new();

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

fn now() -> Instant {
    Instant::from_millis(u64::from(MILLIS.load(Ordering::Relaxed)))
}

/// Stops on a configuration error at boot (a bad terminal id in flash, a link that is not the
/// dialect just started).
#[allow(clippy::empty_loop)]
fn halt() -> ! {
    loop {}
}

#[cfg(any(feature = "app", feature = "csob"))]
fn terminal_id() -> TerminalId {
    TerminalId::new("T0000001").unwrap_or_else(|_| halt())
}

#[cfg(feature = "app")]
/// The calendar from the STM32F4 RTC (time and date registers, BCD); `None` while it holds
/// no valid date.
fn wall_time() -> Option<Timestamp> {
    const RTC_TR: usize = 0x4000_2800;
    const RTC_DR: usize = 0x4000_2804;
    // SAFETY: memory-mapped RTC registers of the target part; reads have no side effect.
    let (tr, dr) = unsafe {
        (
            core::ptr::read_volatile(RTC_TR as *const u32),
            core::ptr::read_volatile(RTC_DR as *const u32),
        )
    };
    let bcd = |v: u32, tens_mask: u32| ((v >> 4) & tens_mask) as u8 * 10 + (v & 0xF) as u8;
    Timestamp::new(
        2000 + u16::from(bcd(dr >> 16, 0xF)),
        bcd(dr >> 8, 0x1),
        bcd(dr, 0x3),
        bcd(tr >> 16, 0x3),
        bcd(tr >> 8, 0x7),
        bcd(tr, 0x7),
    )
    .ok()
}

#[cfg(feature = "app")]
/// The card reader: a model on GPIOA's input register. Bits 0–1: 0 no card yet, 1 a chip
/// card presented, 2 the cardholder cancelled, 3 the card could not be read; bit 2: the PIN
/// was wrong.
struct CardReader {
    reading: bool,
}

#[cfg(feature = "app")]
/// EMV data a chip card gives the kernel: AID, TVR, TSI, ARC.
const EMV_TAGS: &[(u16, &[u8])] = &[
    (0x004F, &[0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10]),
    (0x0095, &[0x00, 0x00, 0x00, 0x80, 0x00]),
    (0x009B, &[0xE8, 0x00]),
    (0x008A, b"00"),
];

#[cfg(feature = "app")]
fn card_emv() -> EmvData {
    let mut buf = [0u8; 64];
    let mut at = 0;
    for &(tag, value) in EMV_TAGS {
        let (Some(out), Some(tag)) = (buf.get_mut(at..), emv::Tag::new(u32::from(tag))) else {
            break;
        };
        match emv::emit_primitive(tag, value, out) {
            Ok(n) => at += n,
            Err(_) => break,
        }
    }
    match buf.get(..at) {
        Some(data) if emv::validate(data).is_ok() => EmvData::from_slice(data).unwrap_or_default(),
        _ => EmvData::new(),
    }
}

#[cfg(feature = "app")]
impl CardReader {
    fn command(&mut self, command: CardCommand) {
        self.reading = matches!(command, CardCommand::Read { .. });
    }

    #[inline(never)]
    fn poll(&mut self) -> Option<CardEvent> {
        const GPIOA_IDR: usize = 0x4002_0010;
        if !self.reading {
            return None;
        }
        // SAFETY: memory-mapped GPIO input register of the target part.
        let idr = unsafe { core::ptr::read_volatile(GPIOA_IDR as *const u32) };
        let pan = Pan::new("4761739001010119");
        let event = match (idr & 3, pan) {
            (0, _) => return None,
            (1, Ok(pan)) => CardEvent::Presented(CardData {
                pan,
                scheme: CardScheme::Visa,
                entry_mode: EntryMode::Chip,
                expiry: None,
                sequence: None,
                emv: card_emv(),
                pin: if idr & 4 == 0 {
                    PinCheck::Accepted
                } else {
                    PinCheck::Wrong
                },
            }),
            (2, _) => CardEvent::Cancelled,
            _ => CardEvent::Failed(FailReason::CardError),
        };
        self.reading = false;
        Some(event)
    }
}

#[cfg(feature = "app")]
/// The bank link: a UART carrying length-prefixed ISO 8583 messages.
struct BankLink {
    port: Usart,
    identity: wire::Identity,
    key: MacKey,
    rx: framing::Accumulator,
    tx: [u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN],
    /// Trace numbers sent and not answered yet.
    in_flight: Vec<u32, MAX_BANK_OUT>,
}

#[cfg(feature = "app")]
impl BankLink {
    // Out of line (as the other device calls below): the message being signed is on the
    // stack only while it is sent, not under the loop's other calls.
    #[inline(never)]
    fn send(
        &mut self,
        app: &mut Terminal,
        now: Instant,
        request: &ecrlink_core::terminal::BankRequest,
    ) {
        let stan = request.stan();
        match self.sign(request) {
            Ok(n) => {
                let _ = embedded_io::Write::write(&mut self.port, self.tx.get(..n).unwrap_or(&[]));
                if self.in_flight.push(stan).is_err() {
                    app.handle_bank_failure(now, Some(stan), BankFailure::Lost);
                }
            }
            Err(_) => app.handle_bank_failure(now, Some(stan), BankFailure::NotSent),
        }
    }

    /// Builds the message of `request`, signed and length-prefixed, in `tx`; its length. Out
    /// of line: the message (2 KiB) is gone from the stack before the application hears of a
    /// failure.
    #[inline(never)]
    fn sign(
        &mut self,
        request: &ecrlink_core::terminal::BankRequest,
    ) -> ecrlink_core::Result<usize> {
        wire::to_message(request, &self.identity)
            .and_then(|mut m| mac::emit_signed_prefixed(&mut m, &self.key, &mut self.tx))
    }

    /// Out of step: everything in flight is lost; the framing starts over.
    fn reconnect(&mut self, app: &mut Terminal, now: Instant) {
        self.rx.reset();
        app.handle_link(now, LinkState::Down);
        while let Some(stan) = self.in_flight.pop() {
            app.handle_bank_failure(now, Some(stan), BankFailure::Lost);
        }
        app.handle_link(now, LinkState::Up);
    }

    /// Reads what the UART has and hands every whole answer to the application.
    #[inline(never)]
    fn receive(&mut self, app: &mut Terminal, now: Instant) {
        let mut chunk = [0u8; 32];
        while embedded_io::ReadReady::read_ready(&mut self.port).unwrap_or(false) {
            let Ok(n) = embedded_io::Read::read(&mut self.port, &mut chunk);
            let mut input = chunk.get(..n).unwrap_or(&[]);
            while !input.is_empty() {
                let (feed, used) = self.rx.feed(input);
                let answer = match feed {
                    Ok(framing::Feed::NeedMore) => None,
                    Ok(framing::Feed::Message(body)) => match bad_mac(body, &self.key) {
                        // An answer whose MAC does not verify is no answer: the bank may
                        // have approved.
                        Some(stan) => {
                            if let Some(stan) = stan {
                                self.in_flight.retain(|&s| s != stan);
                            }
                            app.handle_bank_failure(now, stan, BankFailure::BadMac);
                            None
                        }
                        None => Some(wire::decode_answer(body)),
                    },
                    Err(_) => Some(Err(ecrlink_core::Error::IsoFrameLength { len: 0 })),
                };
                match answer {
                    None => {}
                    Some(Ok(answer)) => {
                        self.in_flight.retain(|&s| s != answer.stan);
                        app.handle_bank_answer(now, answer);
                    }
                    Some(Err(_)) => app.handle_bank_failure(now, None, BankFailure::Malformed),
                }
                input = input.get(used.max(1)..).unwrap_or(&[]);
            }
        }
    }
}

#[cfg(feature = "app")]
/// `Some(trace number, if it has one)` when `body` is a message whose MAC does not verify;
/// `None` when it verifies or the message does not parse (the answer's decoder says why). Out
/// of line: the parsed message (2 KiB) is on the stack only while it runs, not beside the
/// decoded answer.
#[inline(never)]
fn bad_mac(body: &[u8], key: &MacKey) -> Option<Option<u32>> {
    match IsoMessage::parse(body) {
        Ok(m) if mac::verify_parsed(&m, body, key).is_err() => {
            Some(m.get_str(11).and_then(|s| s.parse::<u32>().ok()))
        }
        _ => None,
    }
}

#[cfg(feature = "app")]
/// The journal: envelopes appended to a flash sector. No buffer: each record is programmed
/// as it is encoded ([`journal::encode_with`]), where a buffer for the largest record took
/// 4 KiB of RAM.
struct Journal {
    /// Where the next record goes.
    end: usize,
}

#[cfg(feature = "app")]
impl Journal {
    /// Room kept for closing the batch (its records and a checkpoint).
    const CLOSE_RESERVE: usize = 2 * 1024;
    /// Room below which money requests are refused.
    const TXN_RESERVE: usize = 8 * 1024;

    /// Reads the sector back into the application (`Terminal::replay`: the state its records
    /// fold into); starts a fresh journal when the sector holds none. Returns where the next
    /// record goes, or `None` when the sector holds a format this build does not read.
    #[inline(never)]
    fn open(app: &mut Terminal) -> Option<usize> {
        let mut end = 0;
        let mut readable = true;
        match journal::Reader::new(flash::journal_area()) {
            Ok(mut reader) => {
                // Each record folded straight from its bytes (no `Record` on the stack); a
                // record that does not decode ends the valid part, as it ends the iterator.
                while let Some(Ok(_)) =
                    reader.next_with(|version, payload| app.replay_payload(version, payload))
                {
                }
                end = reader.valid_len();
            }
            // A format this build does not read: leave it untouched and refuse to write.
            Err(_) => readable = false,
        }
        if !readable {
            return None;
        }
        if end == 0 {
            flash::erase_journal();
            flash::program(0, &journal::file_header());
            end = journal::FILE_HEADER_LEN;
        }
        Some(end)
    }

    /// Programs `record` after the last one; `false` when it does not fit or the flash
    /// refuses a byte (a record programmed in part is a torn tail, not read back).
    fn append(&mut self, record: RecordRef<'_>) -> bool {
        let room = flash::JOURNAL_LEN.saturating_sub(self.end);
        let mut at = self.end;
        let written = journal::encode_with(record, room, |bytes| {
            if flash::program(at, bytes) {
                at += bytes.len();
                Ok(())
            } else {
                Err(ecrlink_core::Error::CapacityExceeded {
                    what: "journal flash",
                })
            }
        });
        match written {
            Ok(n) => {
                self.end += n;
                true
            }
            Err(_) => false,
        }
    }

    fn space(&self) -> JournalSpace {
        let left = flash::JOURNAL_LEN.saturating_sub(self.end);
        if left >= Self::TXN_RESERVE {
            JournalSpace::Enough
        } else if left >= Self::CLOSE_RESERVE {
            JournalSpace::CloseOnly
        } else {
            JournalSpace::Full
        }
    }
}

#[cfg(feature = "app")]
fn options(copy: CopyKind, duplicate: bool) -> ReceiptOptions<'static> {
    ReceiptOptions {
        width: 32,
        lang: Lang::En,
        copy,
        duplicate,
        merchant: Merchant::EMPTY,
    }
}

#[cfg(feature = "app")]
/// Prints both copies of `response` on the printer UART.
fn print(response: &Response, duplicate: bool) {
    let mut printer = Usart::usart1();
    for copy in [CopyKind::Merchant, CopyKind::Customer] {
        let _ = render(response, copy, duplicate, &mut printer);
    }
}

#[cfg(feature = "app")]
/// Lays out one copy of `response`'s receipt into `out`: one copy of the layout code for the
/// printer and for the till's receipt parts (a `&mut dyn Write`, where a generic sink made two
/// copies of 4 KiB).
fn render(
    response: &Response,
    copy: CopyKind,
    duplicate: bool,
    mut out: &mut dyn core::fmt::Write,
) -> ecrlink_core::Result<()> {
    receipt::render(response, &options(copy, duplicate), &mut out)
}

#[cfg(feature = "app")]
/// Everything but the till session, which is generic over the dialect.
struct Devices {
    app: &'static mut Terminal,
    bank: &'static mut BankLink,
    journal: &'static mut Journal,
    card: CardReader,
    /// Request ids handed to the application.
    next_id: u64,
    /// The trace number of the answer being delivered to the till.
    delivering: Option<u32>,
    /// The copy of the last transaction's receipt being sent to the till.
    receipt_copy: Option<CopyKind>,
    /// Where in that receipt's text the next part for the till starts (a till asks part by
    /// part).
    receipt_at: usize,
    /// The transaction (batch, trace number) whose receipt is being sent: a part is rendered
    /// again for each request, so a later part is sent only while the last transaction is
    /// still that one (never the rest of another receipt).
    receipt_of: Option<(u32, u32)>,
}

#[cfg(feature = "app")]
/// Runs the till session `till` and the application until power-off.
fn serve<S: Session, const N: usize>(till: &'static mut Till<S, N>, d: &mut Devices) -> ! {
    loop {
        let now = now();
        if let Some(wall) = wall_time() {
            d.app.set_wall_time(wall);
        }
        match till.poll() {
            Ok(Some(TerminalEvent::Request(request))) => {
                d.next_id += 1;
                d.app
                    .handle_request(now, RequestId(d.next_id), TillId(1), request);
            }
            Ok(Some(TerminalEvent::ReceiptRequested)) => send_receipt(till, d),
            Ok(Some(TerminalEvent::ResponseDelivered)) => {
                if let Some(stan) = d.delivering.take() {
                    d.app.handle_delivered(now, stan);
                }
            }
            // The answer stays the last transaction, for the till to ask for.
            Ok(Some(TerminalEvent::ResponseUndelivered(_))) => d.delivering = None,
            Ok(Some(TerminalEvent::ProtocolError(_)) | None) | Err(_) => {}
        }
        d.bank.receive(d.app, now);
        if let Some(event) = d.card.poll() {
            d.app.handle_card(now, event);
        }
        if d.app.poll_timeout().is_some_and(|at| at <= now) {
            d.app.handle_timeout(now);
        }
        drain(till, d, now);
    }
}

#[cfg(feature = "app")]
/// Carries out what the application asks, in the order of the driver contract: records,
/// bank, card, answers, prints. Only the answers go to the till; the rest is in functions that
/// are not generic over the dialect, one copy for all dialects linked.
fn drain<S: Session, const N: usize>(till: &mut Till<S, N>, d: &mut Devices, now: Instant) {
    loop {
        let mut progressed = drain_devices(d, now);
        progressed |= deliver_answers(till, d, now);
        progressed |= drain_prints(d);
        if !progressed {
            return;
        }
    }
}

#[cfg(feature = "app")]
/// The answers of [`drain`], to the till; whether there was any. An answer the dialect
/// cannot carry is undone (an approval the till never sees must not stand) and the till is
/// told its request failed.
fn deliver_answers<S: Session, const N: usize>(
    till: &mut Till<S, N>,
    d: &mut Devices,
    now: Instant,
) -> bool {
    let mut progressed = false;
    while let Some(delivered) = deliver_one(till, d) {
        progressed = true;
        if let Err((kind, trace)) = delivered {
            if let Some(stan) = trace {
                d.app.handle_answer_undeliverable(now, stan);
            }
            refuse(till, kind);
        }
    }
    progressed
}

#[cfg(feature = "app")]
/// Sends the next answer to the till: `None` when there is none, `Err` with its kind and
/// trace number when the dialect cannot carry it. Out of line: the answer (a `Response`) is
/// not on the stack while a refused one is undone and refused.
#[inline(never)]
fn deliver_one<S: Session, const N: usize>(
    till: &mut Till<S, N>,
    d: &mut Devices,
) -> Option<Result<(), (RequestKind, Option<u32>)>> {
    let answer = d.app.poll_answer()?;
    let response = &answer.response;
    if respond(till, response) {
        d.delivering = response.trace;
        Some(Ok(()))
    } else {
        d.delivering = None;
        Some(Err((response.kind, response.trace)))
    }
}

#[cfg(feature = "app")]
/// Sends `response` to the till; whether the dialect took it. Out of line: the dialect's
/// encoding of the answer is on the stack only while it runs.
#[inline(never)]
fn respond<S: Session, const N: usize>(till: &mut Till<S, N>, response: &Response) -> bool {
    till.respond(response).is_ok()
}

#[cfg(feature = "app")]
/// Tells the till its request of `kind` failed, in place of an answer its dialect could not
/// carry. Out of line, for the same reason as [`respond`].
#[inline(never)]
fn refuse<S: Session, const N: usize>(till: &mut Till<S, N>, kind: RequestKind) {
    let plain = Response::new(
        kind,
        Outcome::Failed {
            reason: FailReason::Other,
        },
    );
    let _ = respond(till, &plain);
}

#[cfg(feature = "app")]
/// The part of [`drain`] before the answers: records to the journal, messages to the bank,
/// commands to the card reader. Whether there was any.
#[inline(never)]
fn drain_devices(d: &mut Devices, now: Instant) -> bool {
    let mut progressed = false;
    while let Some(record) = d.app.poll_record() {
        progressed = true;
        if d.journal.append(record) {
            d.app.handle_persisted(now);
        } else {
            d.app.handle_persist_failed(now);
        }
        d.app.set_journal_space(d.journal.space());
    }
    while let Some(command) = d.app.poll_bank() {
        progressed = true;
        match command {
            BankCommand::Send(request) => d.bank.send(d.app, now, &request),
            BankCommand::Reconnect => d.bank.reconnect(d.app, now),
        }
    }
    while let Some(command) = d.app.poll_card() {
        progressed = true;
        d.card.command(command);
    }
    progressed
}

#[cfg(feature = "app")]
/// The part of [`drain`] after the answers: the receipts to print. Whether there was any.
#[inline(never)]
fn drain_prints(d: &mut Devices) -> bool {
    let mut progressed = false;
    while let Some(job) = d.app.poll_print() {
        progressed = true;
        match job {
            PrintJob::Receipt(response) => print(&response, false),
            PrintJob::Reprint => {
                if let Some(last) = &d.app.checkpoint().last {
                    print(&last.response, true);
                }
            }
        }
    }
    progressed
}

#[cfg(feature = "app")]
/// Bytes of the receipt text kept while a part is chosen: the largest part and one character
/// more, so that the part chosen from the window is the one chosen from the whole rest
/// ([`receipt::Window`]).
const RECEIPT_WINDOW: usize = RECEIPT_PART_CAPACITY + 4;

#[cfg(feature = "app")]
/// Answers the till's receipt request (ČSOB B3, ZVT's receipt during an answer) with one part
/// of the last transaction's receipt: the first part of the copy asked for (the customer's
/// when the dialect does not say), or the next part of the copy being sent. Each request gets
/// one part; "more" tells the till to ask again. The receipt is rendered again for each
/// part, into a window of the part's size on the stack (no 4 KiB buffer for a whole receipt
/// in RAM); a receipt that does not render (longer than [`MAX_RECEIPT_BYTES`]) is sent empty,
/// and so is a later part once the last transaction is another one than the receipt's.
/// Out of line: the window is on the stack only while a part is sent.
#[inline(never)]
fn send_receipt<S: Session, const N: usize>(till: &mut Till<S, N>, d: &mut Devices) {
    let copy = match till.session().receipt_ask() {
        Some(link::ReceiptAsk::Next) => None,
        Some(link::ReceiptAsk::First(link::Copy::Merchant)) => Some(CopyKind::Merchant),
        Some(link::ReceiptAsk::First(link::Copy::Customer)) | None => Some(CopyKind::Customer),
    };
    let last = d.app.checkpoint().last.as_ref();
    let current = last.map(|l| (l.batch, l.stan));
    if let Some(copy) = copy {
        d.receipt_copy = Some(copy);
        d.receipt_at = 0;
        d.receipt_of = current;
    }
    let mut window = receipt::Window::<RECEIPT_WINDOW>::new(d.receipt_at, MAX_RECEIPT_BYTES);
    // A later part of a receipt whose transaction is no longer the last one ends it empty.
    let rendered = match (last, d.receipt_copy) {
        (Some(last), Some(copy)) if d.receipt_of == current => {
            render(&last.response, copy, false, &mut window).is_ok()
        }
        _ => false,
    };
    let rest = if rendered { window.as_str() } else { "" };
    let (part, more) = link::next_part(till.session(), rest);
    if till.send_receipt_part(part, more).is_ok() {
        d.receipt_at += part.len();
    }
}

#[entry]
fn main() -> ! {
    #[cfg(feature = "app")]
    let mut ctx = boot();
    #[cfg(not(feature = "app"))]
    let mut ctx = ();
    // SAFETY: a plain read of a static in flash, volatile so the choice stays a run-time one.
    let dialect = unsafe { core::ptr::read_volatile(&raw const DIALECT) };
    match dialect {
        #[cfg(feature = "csob")]
        1 => run_csob(&mut ctx),
        #[cfg(feature = "zvt")]
        2 => run_zvt(&mut ctx),
        _ => run_first(&mut ctx),
    }
}

/// Runs the first dialect linked of Concert, ČSOB, ZVT.
fn run_first(ctx: &mut Ctx) -> ! {
    #[cfg(feature = "concert")]
    run_concert(ctx);
    #[cfg(all(feature = "csob", not(feature = "concert")))]
    run_csob(ctx);
    #[cfg(all(feature = "zvt", not(any(feature = "concert", feature = "csob"))))]
    run_zvt(ctx);
    #[cfg(not(any(feature = "concert", feature = "csob", feature = "zvt")))]
    compile_error!("link at least one dialect: features `concert`, `csob`, `zvt`");
}

/// What the dialect's loop runs with: the application and its devices, or nothing.
#[cfg(feature = "app")]
type Ctx = Devices;
/// What the dialect's loop runs with: the application and its devices, or nothing.
#[cfg(not(feature = "app"))]
type Ctx = ();

/// Runs `till` with the application, or alone when it is not linked.
fn run<S: Session, const N: usize>(till: &'static mut Till<S, N>, ctx: &mut Ctx) -> ! {
    #[cfg(feature = "app")]
    serve(till, ctx);
    #[cfg(not(feature = "app"))]
    {
        let () = *ctx;
        link::serve_alone(till)
    }
}

#[cfg(feature = "concert")]
fn run_concert(ctx: &mut Ctx) -> ! {
    let clock: Clock = now;
    let link = LINK.init_with(|| {
        let session = ConcertTerminal::new(ConcertTerminalConfig::default());
        Link::Concert(BlockingTerminal::new(session, Usart::usart2(), clock))
    });
    #[allow(irrefutable_let_patterns)]
    let Link::Concert(till) = link else { halt() };
    run(till, ctx)
}

#[cfg(feature = "csob")]
fn run_csob(ctx: &mut Ctx) -> ! {
    let clock: Clock = now;
    let link = LINK.init_with(|| {
        let mut config = CsobConfig::new(terminal_id());
        // No frame, and no batch of frames, larger than the driver's buffer.
        config.till_read = link::CSOB_BUF;
        Link::Csob(BlockingTerminal::new(
            CsobTerminal::new(config),
            Usart::usart2(),
            clock,
        ))
    });
    #[allow(irrefutable_let_patterns)]
    let Link::Csob(till) = link else { halt() };
    run(till, ctx)
}

#[cfg(feature = "zvt")]
fn run_zvt(ctx: &mut Ctx) -> ! {
    let clock: Clock = now;
    let link = LINK.init_with(|| {
        let mut config = ZvtTerminalConfig::new(Currency::EUR);
        config.transport = Transport::Serial;
        Link::Zvt(BlockingTerminal::new(
            ZvtTerminal::new(config),
            Usart::usart2(),
            clock,
        ))
    });
    #[allow(irrefutable_let_patterns)]
    let Link::Zvt(till) = link else { halt() };
    run(till, ctx)
}

#[cfg(feature = "app")]
/// The application, built in its static (`Terminal::empty` holds no large temporary); the
/// journal is replayed into it there. A function of its own, so that its temporaries are not
/// in the caller's frame.
#[inline(never)]
fn new_app() -> &'static mut Terminal {
    let mut cfg = Config::new(Currency::EUR);
    cfg.terminal_id = Some(terminal_id());
    APP.init_with(|| Terminal::empty(cfg))
}

#[cfg(feature = "app")]
/// The bank link, built in its static. A function of its own, as [`new_app`]: the link as
/// built (2 KiB, its transmit buffer) is not in [`boot`]'s frame under the journal's replay.
#[inline(never)]
fn new_bank() -> &'static mut BankLink {
    BANK.init_with(|| BankLink {
        port: Usart::usart3(),
        identity: wire::Identity {
            terminal_id: terminal_id(),
            merchant_id: None,
        },
        // SAFETY: a plain read of a static in flash, volatile so the key stays a run-time value.
        key: MacKey::new(unsafe { core::ptr::read_volatile(&raw const MAC_KEY) }),
        rx: framing::Accumulator::new(),
        tx: [0; framing::PREFIX_LEN + IsoMessage::MAX_LEN],
        in_flight: Vec::new(),
    })
}

#[cfg(feature = "app")]
/// Reads the journal back and builds the application and the bank link in their statics.
/// Its own frame (the journal state folded at boot, the application's recovery) is gone
/// before the main loop runs, so it is not under the loop's stack.
#[inline(never)]
fn boot() -> Devices {
    let app = new_app();
    let end = Journal::open(app);
    app.resume(now());
    let journal = JOURNAL.init_with(|| Journal {
        end: end.unwrap_or(flash::JOURNAL_LEN),
    });
    // A journal this build cannot read is left untouched: nothing more is written to it.
    app.set_journal_space(if end.is_some() {
        journal.space()
    } else {
        JournalSpace::Full
    });
    // A UART has no connection to make: the link is up from the start.
    app.handle_link(now(), LinkState::Up);
    let bank = new_bank();
    Devices {
        app,
        bank,
        journal,
        card: CardReader { reading: false },
        next_id: 0,
        delivering: None,
        receipt_copy: None,
        receipt_at: 0,
        receipt_of: None,
    }
}
