//! The ČSOB sessions, sans-IO: [`CsobTerminal`] (the terminal's side, driven by the agent or
//! firmware) and [`CsobEcr`] (the till's side, driven by the host simulator).
//!
//! The exchange (source: the comments and `waitForPayment` / `getRecipes` in `Payment.java` and
//! `ProcessMessage.java` of `l1zard/react-native-enigoo-terminal`):
//! 1. ECR → B1 (transaction request);
//! 2. terminal → B0 at once (request taken);
//! 3. terminal → B2 when done (the ECR waits up to 60 s; any B0 in between is activity);
//! 4. ECR → B0 within 5 s to confirm the B2;
//! 5. optionally, for each receipt part: ECR → B3 (`9 GS tM`, `tC` or `t-`), terminal → B4,
//!    ECR → B0; a B4 ending with `t1` means another part follows.
//!
//! After a lost B2 the public client sends T81 (passivate) then T82 (last transaction) and
//! compares the reference; [`CsobEcr`] reports [`EcrEvent::TimedOut`] and leaves that to its
//! driver (`start(Abort)`, then `start(LastTransaction)`).
//!
//! All timers are deadlines reported by `poll_timeout`; nothing here reads a clock. The header
//! timestamp is local wall-clock time: give it with `set_wall_clock` (an anchor pair of
//! [`Instant`] and [`Timestamp`]); until then the sessions count from 2000-01-01 00:00:00.

use core::time::Duration;

use heapless::{Deque, String, Vec};

use super::codes::{Flags, MessageType, ReceiptSelector, ResultCode, TxnCode};
use super::fields::FieldsView;
use super::header::{CrcField, Header, HeaderRef, VERSION_01, check_header};
use super::message::{
    self, B2Ref, Body, BodyRef, MAX_FRAME, MAX_PAYLOAD, Message, MessageView, ParseOptions,
    TicketRequest, TransactionRequest,
};
use crate::link::{Checksum, Feed, FrameAccumulator};
use crate::session::{EcrEvent, EcrSide, Progress, TerminalEvent, TerminalSide};
use crate::txn::{
    ApprovalCode, Currency, Money, Request, RequestKind, Response, TerminalId, Timestamp,
};
use crate::{Error, Instant, Result};

/// Bytes of frames the till session ([`CsobEcr`]) can hold before they are polled out: one
/// full frame. A till sends short B1, B0 and B3 frames, and a driver drains `poll_transmit`
/// after every call that queues one (the driver contract in [`crate::io`]). A frame that finds
/// no room is [`Error::CapacityExceeded`].
pub const OUTBOX_CAPACITY: usize = MAX_FRAME;
/// Bytes of frames the terminal session ([`CsobTerminal`]) can hold before they are polled
/// out: one read of the public client ([`PUBLIC_CLIENT_READ`]). A terminal builds no frame, and
/// no batch of frames that leave together, larger than [`CsobConfig::till_read`] (1 024 by
/// default; a larger setting is capped at this), and a driver drains `poll_transmit` after
/// every call that queues one, so what waits is at most an answer and its B0. A frame that
/// finds no room is [`Error::CapacityExceeded`].
pub const TERMINAL_OUTBOX: usize = PUBLIC_CLIENT_READ;
/// The most bytes the public client takes in one read: `SocketConnection.read` reads once
/// into a 1024-byte buffer, and `bytesToMessage` keeps only the `STX … ETX` frames complete in
/// it. A frame cut at the end of the buffer is lost (the client then waits for an answer that
/// already came and reports the sale lost); a B0 read without the B2 sent right after it
/// leaves that B2 to be taken, later, as the answer to the next request.
pub const PUBLIC_CLIENT_READ: usize = 1024;
/// Frames a session can hold before they are polled out.
pub const OUTBOX_FRAMES: usize = 8;
/// The largest frame payload a terminal takes from the till (a longer frame is a protocol
/// error). A till sends B1, B0 and B3: a header and a few short fields. The longest B1 the
/// public client or [`CsobEcr`] writes is 107 bytes between STX and ETX (the 36-byte header,
/// `T`, an 8-character `F` approval code, 12-digit `B` and `C` amounts, a 20-character
/// reference in `9 GS S`, `E`); this leaves more than twice that for fields a till adds that
/// ecrlink does not know. The till side receives up to [`MAX_PAYLOAD`] (B4 receipt parts).
pub const TERMINAL_RX: usize = 256;
/// Events a terminal session holds until polled; past that one is dropped and counted
/// ([`CsobTerminal::dropped_events`]): a protocol error first, else the oldest. Drivers poll
/// after every call, and one call brings at most one request (a second B1 while one runs is
/// refused busy: a protocol error) and one delivery outcome, so a few suffice.
pub const TERMINAL_EVENTS: usize = 4;
/// Events a till session holds until polled (they are large: a receipt part is 1 KiB); past
/// that one is dropped and counted ([`CsobEcr::dropped_events`]): a protocol error first,
/// else the oldest.
pub const ECR_EVENTS: usize = 4;

/// Settings shared by both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsobConfig {
    /// Terminal id written in every header (the ECR writes the id of the terminal it talks to,
    /// as the public client writes its configured `deviceId`).
    pub terminal_id: TerminalId,
    /// CRC field written in every header (default `A5A5`, what the public client sends).
    pub crc: CrcField,
    /// How received messages are parsed (CRC and data-length policies).
    pub parse: ParseOptions,
    /// Currency of an amount that comes without an `E` field (default CZK).
    pub default_currency: Currency,
    /// Till: how long to wait for the B2 after the B1 or after the last B0 (default 60 s).
    pub response_timeout: Duration,
    /// Terminal: how long to wait for the till's confirming B0 after a B2 (default 5 s).
    pub confirm_timeout: Duration,
    /// Till: how long to wait for a B4 after a B3 (default 5 s, as the public client).
    pub receipt_timeout: Duration,
    /// Terminal: set the receipt-ready flag in B2 answers to sales, cashback sales, refunds,
    /// reversals, close totals, subtotals and last sums (default true), when the driver has a
    /// receipt of that transaction ([`CsobTerminal::respond_with_receipt`]).
    pub announce_receipts: bool,
    /// Terminal: the most bytes the till takes in one read (default [`PUBLIC_CLIENT_READ`];
    /// a larger value counts as [`TERMINAL_OUTBOX`], the terminal's outbox, and zero as that
    /// too, with one frame per `poll_transmit`). No frame larger than this is built (a B2 or
    /// B4 that would not fit is [`Error::CapacityExceeded`]; cut receipt text with
    /// [`CsobTerminal::receipt_part_fits`]),
    /// and frames that are ready together leave together from one `poll_transmit`, up to this
    /// size, so that a till reading once gets the B0 and the B2 of an answer given at once.
    pub till_read: usize,
}

impl CsobConfig {
    /// Defaults for a terminal id.
    pub fn new(terminal_id: TerminalId) -> Self {
        CsobConfig {
            terminal_id,
            crc: CrcField::PUBLIC_CLIENT,
            parse: ParseOptions::default(),
            default_currency: Currency::CZK,
            response_timeout: Duration::from_secs(60),
            confirm_timeout: Duration::from_secs(5),
            receipt_timeout: Duration::from_secs(5),
            announce_receipts: true,
            till_read: PUBLIC_CLIENT_READ,
        }
    }
}

// ----- wall clock -----
//
// The header clock: the anchor time plus the seconds since, walked forward month by month in
// 32-bit arithmetic (no 64-bit division but `crate::num`'s; a day-count algorithm took 0.9 KB
// of flash on a Cortex-M4, this a fraction of it). A driver anchors the clock at boot, so the
// walk is a few months; it stops at the year `u16::MAX` whatever the count.

/// Days in month `m` (1–12) of year `y` of the proleptic Gregorian calendar.
fn month_days(y: u32, m: u32) -> u32 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `t` plus `secs` seconds in the proleptic Gregorian calendar (a year past `u16::MAX` is
/// `u16::MAX`). A day past the end of `t`'s month (`Timestamp` takes 31 in any month) counts
/// on into the next.
fn add_seconds(t: Timestamp, secs: u64) -> Timestamp {
    use crate::num::div_rem_u64;
    let (hours, s) = div_rem_u64(secs, 3600);
    let (days, h) = div_rem_u64(hours, 24);
    let mut sod = u32::from(t.hour) * 3600 + u32::from(t.minute) * 60 + u32::from(t.second);
    sod += u32::from(h) * 3600 + u32::from(s);
    // Days after the first of `t`'s month.
    let mut d = days.saturating_add(u64::from(t.day.saturating_sub(1)));
    if sod >= 86_400 {
        sod -= 86_400;
        d = d.saturating_add(1);
    }
    let (mut y, mut m) = (u32::from(t.year), u32::from(t.month));
    loop {
        let n = u64::from(month_days(y, m));
        if d < n {
            break;
        }
        if y >= u32::from(u16::MAX) && m == 12 {
            d = n - 1;
            break;
        }
        d -= n;
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    Timestamp::new(
        u16::try_from(y).unwrap_or(u16::MAX),
        m as u8,
        d as u8 + 1,
        (sod / 3600) as u8,
        (sod / 60 % 60) as u8,
        (sod % 60) as u8,
    )
    .unwrap_or(t)
}

#[derive(Clone, Copy, Debug)]
struct WallClock {
    anchor: Instant,
    wall: Timestamp,
}

impl WallClock {
    const START: WallClock = WallClock {
        anchor: Instant::ZERO,
        wall: Timestamp::MILLENNIUM,
    };

    fn at(&self, now: Instant) -> Timestamp {
        let ms = now.as_millis().saturating_sub(self.anchor.as_millis());
        add_seconds(self.wall, crate::num::div_rem_u64(ms, 1000).0)
    }
}

// ----- shared link plumbing -----

/// Frame accumulation (frames of at most `RX` payload bytes), the outbox (`TX` bytes) and
/// header building, shared by both sides. `TILL`: the till's side, which sends B1 and B3 (the
/// terminal's refuses to write them, and firmware links no writer for them).
struct Wire<const RX: usize, const TX: usize, const TILL: bool> {
    config: CsobConfig,
    acc: FrameAccumulator<RX>,
    outbox: Vec<u8, TX>,
    frames: Deque<usize, OUTBOX_FRAMES>,
    clock: WallClock,
    /// Largest frame built and most bytes handed out by one `poll_transmit` (whole frames;
    /// zero: one frame per call).
    batch: usize,
}

impl<const RX: usize, const TX: usize, const TILL: bool> Wire<RX, TX, TILL> {
    fn new(config: CsobConfig, batch: usize) -> Self {
        Wire {
            config,
            acc: FrameAccumulator::new(Checksum::None),
            outbox: Vec::new(),
            frames: Deque::new(),
            clock: WallClock::START,
            batch,
        }
    }

    /// The largest frame this side builds: the batch size (when set), at most the outbox.
    fn max_frame(&self) -> usize {
        let cap = if MAX_FRAME < TX { MAX_FRAME } else { TX };
        if self.batch == 0 {
            cap
        } else {
            self.batch.min(cap)
        }
    }

    /// Emits `body` as a frame into the outbox; the outbox is unchanged on error. The body is
    /// borrowed: no `Body` (over 1 KiB) is built on the stack to send a B0 or a B2.
    fn send(&mut self, now: Instant, flags: u16, body: BodyRef<'_>) -> Result<()> {
        let len = message::frame_len::<TILL>(body)?;
        if len > self.max_frame() {
            return Err(Error::CapacityExceeded { what: "csob frame" });
        }
        let full = Error::CapacityExceeded {
            what: "csob outbox",
        };
        if self.frames.is_full() || self.outbox.len() + len > TX {
            return Err(full);
        }
        let start = self.outbox.len();
        self.outbox.resize(start + len, 0).map_err(|_| full)?;
        let header = HeaderRef {
            version: VERSION_01,
            terminal_id: &self.config.terminal_id,
            timestamp: self.clock.at(now),
            flags: Flags(flags),
            crc: self.config.crc,
        };
        let slot = self.outbox.get_mut(start..).unwrap_or_default();
        if let Err(e) = message::emit_counted::<TILL>(header, body, len, slot) {
            self.outbox.truncate(start);
            return Err(e);
        }
        self.frames.push_back(len).map_err(|_| full)?;
        Ok(())
    }

    /// The first queued frame, followed by as many of the next ones as fit in `buf` and in
    /// `batch` bytes.
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        let Some(&first) = self.frames.front() else {
            return Ok(None);
        };
        if first > buf.len() {
            return Err(Error::BufferTooSmall { needed: first });
        }
        let (mut len, mut count) = (first, 1);
        for &next in self.frames.iter().skip(1) {
            if len + next > self.batch || len + next > buf.len() {
                break;
            }
            len += next;
            count += 1;
        }
        let dst = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        dst.copy_from_slice(self.outbox.get(..len).unwrap_or_default());
        for _ in 0..count {
            let _ = self.frames.pop_front();
        }
        let rest = self.outbox.len() - len;
        shift_to_front(&mut self.outbox, len);
        self.outbox.truncate(rest);
        Ok(Some(len))
    }

    /// Feeds bytes up to the first complete item: what `parse` takes from a message's payload
    /// (or the error of a bad one), with the bytes consumed. `parse` types the header and
    /// fields into what a side keeps (the terminal's [`TerminalBody`] has no room for a B4's
    /// receipt text, and the terminal keeps only the header's time: it builds no header).
    // Never inlined: the parser's temporaries then take stack only while parsing, not under
    // the handling of what was parsed (which sends frames).
    #[inline(never)]
    fn next<B>(
        &mut self,
        input: &[u8],
        parse: impl Fn(&[u8], &ParseOptions) -> Result<B>,
    ) -> (Option<Result<B>>, usize) {
        let (r, used) = self.acc.feed(input);
        let item = match r {
            Ok(Feed::Frame(payload)) => Some(parse(payload, &self.config.parse)),
            Ok(Feed::NeedMore | Feed::Control(_)) => None,
            Err(e) => Some(Err(e)),
        };
        (item, used)
    }
}

/// Moves `buf[by..]` to the front of `buf`, in chunks of at most `by` bytes so that each
/// chunk's source and destination are disjoint. This is `copy_within` without the overlap
/// case: it compiles to `memcpy`, which firmware links anyway, instead of `memmove` (1.5 KiB
/// of flash on Cortex-M, used nowhere else).
fn shift_to_front(buf: &mut [u8], by: usize) {
    if by == 0 {
        return;
    }
    let mut at = 0;
    loop {
        let Some((dst, src)) = buf.split_at_mut_checked(at + by) else {
            return;
        };
        let n = src.len().min(by);
        match (dst.get_mut(at..at + n), src.get(..n)) {
            (Some(d), Some(s)) if n > 0 => d.copy_from_slice(s),
            _ => return,
        }
        at += n;
    }
}

/// Feeds `bytes` to `wire` and hands every item to `on_message` (a macro, not a closure:
/// `on_message` needs the session mutably while the wire is part of it). The terminal's
/// `handle_bytes` writes this out, to handle an item without moving it.
macro_rules! feed_all {
    ($self:ident, $now:ident, $bytes:ident, $parse:expr) => {{
        let mut input = $bytes;
        // The accumulator may consume nothing once after an error (see its docs); a second
        // time in a row would be a bug there: stop rather than spin.
        let mut idle = 0;
        while !input.is_empty() && idle < 2 {
            let (item, used) = $self.wire.next(input, $parse);
            input = input.get(used..).unwrap_or_default();
            idle = if used == 0 { idle + 1 } else { 0 };
            if let Some(item) = item {
                $self.on_message($now, item);
            }
        }
    }};
}

fn push_event<T, const N: usize>(
    q: &mut Deque<T, N>,
    dropped: &mut u64,
    ev: T,
    droppable: fn(&T) -> bool,
) {
    if crate::queue::push_keeping(q, ev, droppable) {
        *dropped += 1;
    }
}

/// Flags of a B1: the public client sends `8000` with amount requests, `0000` otherwise.
fn request_flags(b1: &TransactionRequest) -> u16 {
    if b1.amount.is_some() || b1.approval_code.is_some() {
        Flags::CONFIRM
    } else {
        0
    }
}

// ----- terminal side -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TerminalState {
    Idle,
    /// A B1 was taken (B0 sent); waiting for [`TerminalSide::respond`].
    Processing {
        code: TxnCode,
        /// The kind of the txn request reported for it.
        kind: RequestKind,
        /// Its amount: with `kind`, what its answer is checked against (so the answer path
        /// builds no txn request again).
        amount: Option<Money>,
    },
    /// A B2 was sent; waiting for the till's B0 until `deadline`.
    AwaitConfirm {
        deadline: Instant,
    },
}

/// The terminal side of the ČSOB protocol.
///
/// - A B1 is answered with B0 at once and reported as [`TerminalEvent::Request`]; the driver
///   answers with [`TerminalSide::respond`], which sends the B2.
/// - The till must confirm the B2 with a B0 within [`CsobConfig::confirm_timeout`]. If it
///   does, [`TerminalEvent::ResponseDelivered`]. If the confirming B0 never comes (deadline
///   passed, or the till sends its next B1 first), the session reports
///   [`TerminalEvent::ResponseUndelivered`] with [`Error::LinkNoAck`] and sends nothing more:
///   the B2 is not repeated (the public client never asks for a repeat; it recovers with T82).
///   The driver keeps the result as the terminal's last transaction and answers the till's
///   T82 with it — that is how the till learns it.
/// - A T81 (passivate) while a request is pending replaces it: the driver gets
///   `Request(Abort)` and answers that one (the pending request is abandoned). The same B1
///   again (same fields; any header time while it runs, the same header time while its B2
///   awaits confirmation) is the same request: it gets a B0 and nothing else, and the one B2
///   answers it. Any other B1 while a request is pending gets B0 and at once a B2 with R-02
///   (busy) carrying that B1's own code, amount and reference, and the driver gets
///   [`TerminalEvent::ProtocolError`] with [`Error::LinkBusy`].
/// - A B1 the session cannot turn into a txn request (an unknown code, a bad field) gets B0 and at once a B2 with R-21; the driver gets `ProtocolError`.
/// - A reversal (T10) without an amount — the public client sends only `T10 F<code>` — takes
///   the amount of the last approved transaction this session answered (or that the driver
///   declared with [`CsobTerminal::set_last_approved`]) if the approval codes match;
///   otherwise it is answered R-21 as above.
/// - A B3 is reported as [`TerminalEvent::ReceiptRequested`]; which copy was asked for is
///   [`CsobTerminal::receipt_selector`]. Answer with [`TerminalSide::send_receipt_part`]. The
///   till's B0 after a B4 needs no answer.
pub struct CsobTerminal {
    wire: Wire<TERMINAL_RX, TERMINAL_OUTBOX, false>,
    state: TerminalState,
    receipt: Option<ReceiptSelector>,
    last_approved: Option<(ApprovalCode, Money)>,
    /// The B1 under way (its header time and body), to recognise a retransmission of it.
    current: Option<(Timestamp, TransactionRequest)>,
    events: Deque<TerminalEvent, TERMINAL_EVENTS>,
    dropped: u64,
}

impl CsobTerminal {
    /// A terminal session with `config`.
    pub fn new(config: CsobConfig) -> Self {
        let batch = config.till_read;
        CsobTerminal {
            wire: Wire::new(config, batch),
            state: TerminalState::Idle,
            receipt: None,
            last_approved: None,
            current: None,
            events: Deque::new(),
            dropped: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CsobConfig {
        &self.wire.config
    }

    /// Anchors header timestamps: at `now` the local time is `wall`.
    pub fn set_wall_clock(&mut self, now: Instant, wall: Timestamp) {
        self.wire.clock = WallClock { anchor: now, wall };
    }

    /// Declares the last approved transaction (e.g. recovered from a journal after a restart)
    /// so that a reversal without an amount can be matched by its approval code.
    pub fn set_last_approved(&mut self, code: ApprovalCode, amount: Money) {
        self.last_approved = Some((code, amount));
    }

    /// The copy the pending B3 asked for, if one is pending.
    pub fn receipt_selector(&self) -> Option<ReceiptSelector> {
        self.receipt
    }

    /// Events dropped because the driver let more than [`TERMINAL_EVENTS`] pile up.
    pub fn dropped_events(&self) -> u64 {
        self.dropped
    }

    /// Whether a B4 carrying `text` (lines separated by `\n`) fits in one frame of at most
    /// [`CsobConfig::till_read`] bytes, with the `t1` field when `more`. A driver cuts receipt
    /// text into parts that fit before [`TerminalSide::send_receipt_part`].
    pub fn receipt_part_fits(&self, text: &str, more: bool) -> bool {
        text.len() <= super::message::RECEIPT_TEXT_CAPACITY
            && message::frame_len::<false>(BodyRef::TicketResponse { text, more })
                .is_ok_and(|len| len <= self.wire.max_frame())
    }

    /// Answers the pending request like [`TerminalSide::respond`], saying whether the driver
    /// holds a receipt of this very transaction for the till to fetch with B3. The B2 announces
    /// a receipt (flag bit 1) only then, for a payment or totals answer, and only with
    /// [`CsobConfig::announce_receipts`]; [`TerminalSide::respond`] assumes the driver holds one.
    /// A driver that answers without a new receipt (the bank could not be reached, the card
    /// was never read) passes `false`, so that the till does not fetch another transaction's.
    // Never inlined: the B2 it builds (a `Message`, about 1 KiB) then lives in this frame only
    // while answering, not in the frame of a caller such as a firmware loop.
    #[inline(never)]
    pub fn respond_with_receipt(
        &mut self,
        now: Instant,
        response: &Response,
        receipt: bool,
    ) -> Result<()> {
        let (TerminalState::Processing { code, kind, amount }, Some(_)) =
            (self.state, &self.current)
        else {
            return Err(Error::SessionNoRequest);
        };
        crate::session::check_answer(kind, amount, response)?;
        let b2 = B2Ref::answer(code, response);
        // The kind asked (a T82 answer may carry the last transaction's kind).
        let asked = super::map::request_kind(code)?;
        let flags = if receipt && self.wire.config.announce_receipts && has_receipt(asked) {
            Flags::RECEIPT_READY
        } else {
            0
        };
        self.wire.send(now, flags, BodyRef::Response(&b2))?;
        if response.outcome.is_approved() && asked.moves_money() {
            if let (Some(c), Some(m)) = (&response.approval_code, response.amount) {
                self.last_approved = Some((c.clone(), m));
            }
        }
        self.state = TerminalState::AwaitConfirm {
            deadline: now.saturating_add(self.wire.config.confirm_timeout),
        };
        Ok(())
    }

    fn event(&mut self, ev: TerminalEvent) {
        push_event(&mut self.events, &mut self.dropped, ev, |e| {
            matches!(e, TerminalEvent::ProtocolError(_))
        });
    }

    /// Reports [`TerminalEvent::ProtocolError`] with `e`.
    fn error(&mut self, e: Error) {
        self.note(Note::Error(e));
    }

    /// Reports an event that carries no request. The [`TerminalEvent`] (as large as a
    /// [`Request`]) is built in here, not in the frame of each caller.
    #[inline(never)]
    fn note(&mut self, note: Note) {
        self.event(match note {
            Note::Error(e) => TerminalEvent::ProtocolError(e),
            Note::Delivered => TerminalEvent::ResponseDelivered,
            Note::Undelivered => TerminalEvent::ResponseUndelivered(Error::LinkNoAck),
            Note::ReceiptRequested => TerminalEvent::ReceiptRequested,
        });
    }

    /// Refuses `b1` at once with a B2 (no confirmation awaited) and reports `err` as a
    /// [`TerminalEvent::ProtocolError`]:
    /// - a B1 the session cannot take (`busy` false): R-21 with `b1`'s code;
    /// - a B1 sent while another request runs (`busy` true, `err` [`Error::LinkBusy`]): R-02
    ///   (the public client's `MERCH_ERR_CANTDOIT`, the answer its connection check takes for
    ///   a terminal that cannot take a request now), carrying `b1`'s own code, amount,
    ///   currency and reference, so that it cannot be taken for the running request's answer.
    #[inline(never)]
    fn refuse(&mut self, now: Instant, b1: &TransactionRequest, busy: bool, err: Error) {
        let result = if busy {
            super::map::busy_code()
        } else {
            ResultCode::Discarded
        };
        let b2 = B2Ref::refusal(b1, result, busy);
        if let Err(e) = self.wire.send(now, 0, BodyRef::Response(&b2)) {
            self.error(e);
        }
        self.error(err);
    }

    fn to_request(&self, b1: &TransactionRequest) -> Result<Request> {
        let cur = self.wire.config.default_currency;
        if b1.code == TxnCode::Reversal && b1.amount.is_none() {
            if let (Some(code), Some((last_code, amount))) =
                (&b1.approval_code, &self.last_approved)
            {
                if same_text(code.as_str(), last_code.as_str()) {
                    return Ok(Request::Reversal {
                        amount: *amount,
                        code: code.clone(),
                        reference: b1.reference.clone(),
                    });
                }
            }
        }
        b1.to_request(cur)
    }

    // Never inlined, nor is `on_message`: inlined into `handle_bytes`, their temporaries (the
    // typed B1, its txn request, the event, a refusal's B2) added up with the parser's in one
    // frame of 1.2 KiB on a Cortex-M4; apart, the deepest path holds one of each.
    #[inline(never)]
    fn on_request(&mut self, now: Instant, sent_at: Timestamp, b1: &TransactionRequest) {
        // The same B1 again (same header time, same fields) while it is under way: a
        // retransmission, not a second request. Acknowledged again and nothing else — refusing
        // it with a B2 R-21 would tell the till "discarded" while its sale goes on (found by
        // the fault-injection suite: a doubled B1 made the till report a failure the bank had
        // approved).
        //
        // While the request still runs, the same B1 with a new header time is the same too: a
        // till that sends its request again (a cashier pressing "pay" twice, a till that
        // resends after a quiet spell) waits for one B2 of that code, and the running
        // request's B2 answers it (the public client takes the first B2 it reads as its
        // answer). Answering it R-21 told the till "discarded" while the sale went on.
        let repeat = match self.state {
            TerminalState::Processing { .. } => {
                self.current.as_ref().is_some_and(|(_, c)| same_b1(c, b1))
            }
            TerminalState::AwaitConfirm { .. } => self
                .current
                .as_ref()
                .is_some_and(|(t, c)| *t == sent_at && same_b1(c, b1)),
            TerminalState::Idle => false,
        };
        if repeat {
            if let Err(e) = self.wire.send(now, 0, BodyRef::Activity) {
                self.error(e);
            }
            return;
        }
        if let TerminalState::AwaitConfirm { .. } = self.state {
            self.state = TerminalState::Idle;
            self.note(Note::Undelivered);
        }
        if let Err(e) = self.wire.send(now, 0, BodyRef::Activity) {
            self.error(e);
            return;
        }
        if let TerminalState::Processing { .. } = self.state {
            if b1.code != TxnCode::Passivate {
                self.refuse(now, b1, true, Error::LinkBusy);
                return;
            }
        }
        if let Err(e) = self.take(sent_at, b1) {
            if self.state == TerminalState::Idle {
                self.refuse(now, b1, false, e);
            } else {
                self.error(e);
            }
        }
    }

    /// Takes `b1` as the request under way and reports it, or says why it cannot be turned
    /// into a txn request (nothing changed then).
    // Never inlined, as the refusals: the txn request and its event, and a refusal's B2, then
    // never share one frame with the sending below the refusal.
    #[inline(never)]
    fn take(&mut self, sent_at: Timestamp, b1: &TransactionRequest) -> Result<()> {
        // The event built at once around the txn request, not the request moved into it (a
        // copy, and a `memcpy8` in firmware for it).
        let ev = TerminalEvent::Request(self.to_request(b1)?);
        if let TerminalEvent::Request(req) = &ev {
            self.state = TerminalState::Processing {
                code: b1.code,
                kind: req.kind(),
                amount: req.amount(),
            };
        }
        // Copied field by field into its place: a clone moved in was copied whole again (a
        // `memcpy8` in firmware for it). Every field is named, so a new one cannot be missed.
        let TransactionRequest {
            code,
            amount,
            cashback,
            currency,
            reference,
            approval_code,
        } = b1;
        let (_, kept) = self
            .current
            .insert((sent_at, TransactionRequest::new(*code)));
        kept.amount = *amount;
        kept.cashback = *cashback;
        kept.currency = *currency;
        kept.reference.clone_from(reference);
        kept.approval_code.clone_from(approval_code);
        self.event(ev);
        Ok(())
    }

    #[inline(never)]
    fn on_message(&mut self, now: Instant, msg: &Result<(Timestamp, TerminalBody)>) {
        let (sent_at, body) = match msg {
            Ok(m) => m,
            Err(e) => return self.error(*e),
        };
        match body {
            TerminalBody::Request(b1) => self.on_request(now, *sent_at, b1),
            TerminalBody::Activity => {
                if let TerminalState::AwaitConfirm { .. } = self.state {
                    self.state = TerminalState::Idle;
                    self.note(Note::Delivered);
                }
            }
            TerminalBody::TicketRequest(t) => {
                self.receipt = Some(t.selector);
                self.note(Note::ReceiptRequested);
            }
        }
    }
}

/// A [`TerminalEvent`] without a request, small enough to pass around.
#[derive(Clone, Copy)]
enum Note {
    /// [`TerminalEvent::ProtocolError`].
    Error(Error),
    /// [`TerminalEvent::ResponseDelivered`].
    Delivered,
    /// [`TerminalEvent::ResponseUndelivered`] with [`Error::LinkNoAck`].
    Undelivered,
    /// [`TerminalEvent::ReceiptRequested`].
    ReceiptRequested,
}

/// What a terminal receives: a [`Body`] without the B2 and B4 (whose receipt text makes every
/// `Body` over 1 KiB: this one, on the stack of every `handle_bytes`, is a few hundred bytes).
#[allow(clippy::large_enum_variant)]
enum TerminalBody {
    /// B0 (its fields, the stage included, are not kept).
    Activity,
    /// B1.
    Request(TransactionRequest),
    /// B3.
    TicketRequest(TicketRequest),
}

/// Whether two B1s ask the same (every field equal): `==` on [`TransactionRequest`], with the
/// text fields compared by [`same_text`].
fn same_b1(a: &TransactionRequest, b: &TransactionRequest) -> bool {
    let text = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => same_text(a, b),
        (a, b) => a.is_none() && b.is_none(),
    };
    a.code == b.code
        && a.amount == b.amount
        && a.cashback == b.cashback
        && a.currency == b.currency
        && text(
            a.reference.as_ref().map(|r| r.as_str()),
            b.reference.as_ref().map(|r| r.as_str()),
        )
        && text(
            a.approval_code.as_ref().map(|c| c.as_str()),
            b.approval_code.as_ref().map(|c| c.as_str()),
        )
}

/// `a == b`, byte by byte: the string compare links `memcmp` into firmware for the terminal's
/// two compares of short codes alone (116 bytes of flash on a Cortex-M4).
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// What a terminal takes from a message's payload: the header's time and the body. The header
/// is checked (as [`MessageView::parse`] checks it), not built.
fn terminal_message(payload: &[u8], opts: &ParseOptions) -> Result<(Timestamp, TerminalBody)> {
    let h = check_header(payload, opts.crc, opts.length)?;
    let fields = FieldsView::new(h.data)?;
    terminal_body(h.message_type, &fields).map(|b| (h.timestamp, b))
}

/// Types what a terminal can receive (B0, B1, B3). A B2 or B4 is refused before its fields
/// are typed: a terminal has no use for them, and firmware then links no B2/B4 parser.
fn terminal_body(message_type: MessageType, f: &FieldsView<'_>) -> Result<TerminalBody> {
    match message_type {
        MessageType::Activity => Ok(TerminalBody::Activity),
        MessageType::TransactionRequest => {
            TransactionRequest::from_fields(f).map(TerminalBody::Request)
        }
        MessageType::TicketRequest => {
            TicketRequest::from_fields(f).map(TerminalBody::TicketRequest)
        }
        MessageType::TransactionResponse | MessageType::TicketResponse => {
            Err(Error::CsobUnexpected {
                what: "B2/B4 sent to a terminal",
            })
        }
    }
}

/// Whether a B2 answering `kind` announces a receipt (payments and totals reports).
fn has_receipt(kind: RequestKind) -> bool {
    kind.moves_money() || kind.reports_totals()
}

impl TerminalSide for CsobTerminal {
    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        // `feed_all!` written out, the item handled where `Wire::next` left it, borrowed:
        // moved out of its result, it was copied (a `memcpy8` in firmware for this alone).
        let mut input = bytes;
        // The accumulator may consume nothing once after an error (see its docs); a second
        // time in a row would be a bug there: stop rather than spin.
        let mut idle = 0;
        while !input.is_empty() && idle < 2 {
            let next = self.wire.next(input, terminal_message);
            input = input.get(next.1..).unwrap_or_default();
            idle = if next.1 == 0 { idle + 1 } else { 0 };
            if let Some(item) = &next.0 {
                self.on_message(now, item);
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let TerminalState::AwaitConfirm { deadline } = self.state {
            if now >= deadline {
                self.state = TerminalState::Idle;
                self.note(Note::Undelivered);
            }
        }
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.wire.poll_transmit(buf)
    }

    fn poll_event(&mut self) -> Option<TerminalEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            TerminalState::AwaitConfirm { deadline } => Some(deadline),
            _ => None,
        }
    }

    fn respond(&mut self, now: Instant, response: &Response) -> Result<()> {
        self.respond_with_receipt(now, response, true)
    }

    /// A B0 with the stage ([`tag::PROGRESS`](super::fields::tag::PROGRESS)) while a B1
    /// runs; nothing otherwise (the till would take a stray B0 for activity of nothing).
    fn send_progress(&mut self, now: Instant, progress: Progress) -> Result<()> {
        if let TerminalState::Processing { .. } = self.state {
            self.wire.send(now, 0, BodyRef::Progress(progress))?;
        }
        Ok(())
    }

    fn send_receipt_part(&mut self, now: Instant, text: &str, more: bool) -> Result<()> {
        if self.receipt.is_none() {
            return Err(Error::CsobUnexpected {
                what: "receipt part with no B3 pending",
            });
        }
        if text.len() > super::message::RECEIPT_TEXT_CAPACITY {
            return Err(Error::CapacityExceeded {
                what: "csob receipt part",
            });
        }
        self.wire
            .send(now, 0, BodyRef::TicketResponse { text, more })?;
        self.receipt = None;
        Ok(())
    }

    fn is_busy(&self) -> bool {
        self.state != TerminalState::Idle
    }
}

// ----- till side -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EcrState {
    Idle,
    /// B1 sent; waiting for B0 (activity) and B2 until `deadline`.
    AwaitResponse {
        code: TxnCode,
        deadline: Instant,
        accepted: bool,
    },
    /// B3 sent; waiting for B4 until `deadline`.
    AwaitReceipt {
        deadline: Instant,
    },
}

/// The till (ECR) side of the ČSOB protocol.
///
/// - [`EcrSide::start`] sends the B1. The first B0 gives [`EcrEvent::Accepted`]; every B0
///   restarts the response limit ([`CsobConfig::response_timeout`], counted like the public
///   client's 60 s socket read timeout). The B2 is confirmed with a B0 at once and reported
///   as [`EcrEvent::Response`]. No B2 in time: [`EcrEvent::TimedOut`]; a B2 arriving after
///   that is not confirmed (so the terminal counts it undelivered) and is reported as
///   [`EcrEvent::ProtocolError`]: ask with T82 (`start(LastTransaction)`).
/// - A B2 whose flags ask for a confirmation ([`Flags::CONFIRM`]) is reported like any other;
///   [`CsobEcr::last_flags`] shows the flags, and the driver may check with T82 as the public
///   client does.
/// - [`EcrSide::request_receipt`] picks the next B3 itself: the next part while the last B4
///   said `t1`, else the merchant copy, then the customer copy; each B4 is confirmed with a
///   B0 and reported as [`EcrEvent::ReceiptPart`]. [`CsobEcr::request_receipt_copy`] picks
///   explicitly.
pub struct CsobEcr {
    wire: Wire<MAX_PAYLOAD, OUTBOX_CAPACITY, true>,
    state: EcrState,
    last_flags: Flags,
    receipt_copy: Option<ReceiptSelector>,
    receipt_more: bool,
    events: Deque<EcrEvent, ECR_EVENTS>,
    dropped: u64,
}

impl CsobEcr {
    /// A till session with `config`.
    pub fn new(config: CsobConfig) -> Self {
        CsobEcr {
            wire: Wire::new(config, 0),
            state: EcrState::Idle,
            last_flags: Flags::default(),
            receipt_copy: None,
            receipt_more: false,
            events: Deque::new(),
            dropped: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CsobConfig {
        &self.wire.config
    }

    /// Anchors header timestamps: at `now` the local time is `wall`.
    pub fn set_wall_clock(&mut self, now: Instant, wall: Timestamp) {
        self.wire.clock = WallClock { anchor: now, wall };
    }

    /// Flags of the last B2 received.
    pub fn last_flags(&self) -> Flags {
        self.last_flags
    }

    /// Whether the last B2 announced a receipt (flag bit 1).
    pub fn receipt_ready(&self) -> bool {
        self.last_flags.has(Flags::RECEIPT_READY)
    }

    /// Events dropped because the driver let more than [`ECR_EVENTS`] pile up.
    pub fn dropped_events(&self) -> u64 {
        self.dropped
    }

    /// Sends a B3 asking for `selector`; [`Error::LinkBusy`] during an exchange.
    pub fn request_receipt_copy(&mut self, now: Instant, selector: ReceiptSelector) -> Result<()> {
        if self.state != EcrState::Idle {
            return Err(Error::LinkBusy);
        }
        self.wire.send(
            now,
            Flags::CONFIRM,
            BodyRef::TicketRequest(&TicketRequest { selector }),
        )?;
        if selector != ReceiptSelector::Next {
            self.receipt_copy = Some(selector);
        }
        self.state = EcrState::AwaitReceipt {
            deadline: now.saturating_add(self.wire.config.receipt_timeout),
        };
        Ok(())
    }

    fn event(&mut self, ev: EcrEvent) {
        push_event(&mut self.events, &mut self.dropped, ev, |e| {
            matches!(e, EcrEvent::ProtocolError(_))
        });
    }

    fn confirm(&mut self, now: Instant) {
        if let Err(e) = self.wire.send(now, 0, BodyRef::Activity) {
            self.event(EcrEvent::ProtocolError(e));
        }
    }

    fn on_message(&mut self, now: Instant, msg: Result<(Header, Body)>) {
        let msg = match msg {
            Ok((header, body)) => Message { header, body },
            Err(e) => return self.event(EcrEvent::ProtocolError(e)),
        };
        let header = msg.header;
        match (msg.body, self.state) {
            (
                body @ (Body::Activity | Body::Progress(_)),
                EcrState::AwaitResponse { code, accepted, .. },
            ) => {
                self.state = EcrState::AwaitResponse {
                    code,
                    deadline: now.saturating_add(self.wire.config.response_timeout),
                    accepted: true,
                };
                if !accepted {
                    self.event(EcrEvent::Accepted);
                }
                if let Body::Progress(p) = body {
                    self.event(EcrEvent::Progress(p));
                }
            }
            (Body::Activity | Body::Progress(_), _) => {}
            (Body::Response(b2), EcrState::AwaitResponse { code, .. }) if b2.code == code => {
                self.confirm(now);
                self.state = EcrState::Idle;
                self.last_flags = header.flags;
                self.receipt_copy = None;
                self.receipt_more = false;
                match b2.to_response(&header, self.wire.config.default_currency) {
                    Ok(r) => self.event(EcrEvent::Response(r)),
                    Err(e) => self.event(EcrEvent::Failed(e)),
                }
            }
            (Body::Response(_), EcrState::AwaitResponse { .. }) => {
                // A B2 for another code (e.g. a stale one): confirm it so the terminal moves on.
                self.confirm(now);
                self.event(EcrEvent::ProtocolError(Error::CsobUnexpected {
                    what: "B2 for another transaction code",
                }));
            }
            (Body::Response(_), _) => self.event(EcrEvent::ProtocolError(Error::CsobUnexpected {
                what: "B2 outside an exchange",
            })),
            (Body::TicketResponse(b4), EcrState::AwaitReceipt { .. }) => {
                self.confirm(now);
                self.state = EcrState::Idle;
                self.receipt_more = b4.more;
                let mut text = String::new();
                // Same capacity on both types: cannot fail.
                let _ = text.push_str(&b4.text);
                self.event(EcrEvent::ReceiptPart {
                    text,
                    more: b4.more,
                });
            }
            (Body::TicketResponse(_), _) => {
                self.event(EcrEvent::ProtocolError(Error::CsobUnexpected {
                    what: "B4 outside a receipt request",
                }))
            }
            (Body::Request(_) | Body::TicketRequest(_), _) => {
                self.event(EcrEvent::ProtocolError(Error::CsobUnexpected {
                    what: "B1/B3 sent to a till",
                }))
            }
        }
    }
}

impl EcrSide for CsobEcr {
    fn start(&mut self, now: Instant, request: &Request) -> Result<()> {
        if self.state != EcrState::Idle {
            return Err(Error::LinkBusy);
        }
        let b1 = TransactionRequest::from_request(request)?;
        let code = b1.code;
        self.wire
            .send(now, request_flags(&b1), BodyRef::Request(&b1))?;
        self.receipt_copy = None;
        self.receipt_more = false;
        self.state = EcrState::AwaitResponse {
            code,
            deadline: now.saturating_add(self.wire.config.response_timeout),
            accepted: false,
        };
        Ok(())
    }

    fn request_receipt(&mut self, now: Instant) -> Result<()> {
        let selector = if self.receipt_more {
            ReceiptSelector::Next
        } else {
            match self.receipt_copy {
                Some(ReceiptSelector::Merchant) => ReceiptSelector::Customer,
                _ => ReceiptSelector::Merchant,
            }
        };
        self.request_receipt_copy(now, selector)
    }

    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        feed_all!(self, now, bytes, |payload: &[u8], opts: &ParseOptions| {
            let view = MessageView::parse(payload, opts)?;
            Ok((view.header.clone(), Body::from_view(&view)?))
        });
    }

    fn handle_timeout(&mut self, now: Instant) {
        let deadline = match self.state {
            EcrState::AwaitResponse { deadline, .. } | EcrState::AwaitReceipt { deadline } => {
                deadline
            }
            EcrState::Idle => return,
        };
        if now >= deadline {
            self.state = EcrState::Idle;
            self.receipt_more = false;
            self.event(EcrEvent::TimedOut);
        }
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.wire.poll_transmit(buf)
    }

    fn poll_event(&mut self) -> Option<EcrEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            EcrState::AwaitResponse { deadline, .. } | EcrState::AwaitReceipt { deadline } => {
                Some(deadline)
            }
            EcrState::Idle => None,
        }
    }

    fn is_busy(&self) -> bool {
        self.state != EcrState::Idle
    }
}

#[cfg(test)]
mod shift_tests {
    extern crate std;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::shift_to_front;

    proptest! {
        /// Same result as `copy_within(by.., 0)` for every length and shift, including shifts
        /// larger than half the buffer (one chunk) and smaller (many chunks).
        #[test]
        fn shift_to_front_is_copy_within(buf in proptest::collection::vec(any::<u8>(), 0..200), by in 0usize..220) {
            let mut ours = buf.clone();
            shift_to_front(&mut ours, by);
            let mut expected: Vec<u8> = buf.clone();
            if by <= buf.len() {
                expected.copy_within(by.., 0);
            }
            prop_assert_eq!(ours, expected);
        }
    }
}

#[cfg(test)]
mod same_tests {
    use proptest::prelude::*;

    use super::{TransactionRequest, TxnCode, same_b1, same_text};
    use crate::txn::{ApprovalCode, Reference};

    /// A B1 from a few values per field, so that equal pairs are common.
    fn b1() -> impl Strategy<Value = TransactionRequest> {
        let text = prop::option::of(prop::sample::select(vec!["", "1", "12", "21", "123456"]));
        (
            prop::sample::select(vec![TxnCode::Sale, TxnCode::Reversal]),
            prop::option::of(0u64..3),
            prop::option::of(0u64..2),
            prop::option::of(prop::sample::select(vec![203u16, 978])),
            text.clone(),
            text,
        )
            .prop_map(|(code, amount, cashback, currency, reference, approval)| {
                let mut b1 = TransactionRequest::new(code);
                b1.amount = amount;
                b1.cashback = cashback;
                b1.currency = currency;
                b1.reference = reference.and_then(|r| Reference::new(r).ok());
                b1.approval_code = approval.and_then(|c| ApprovalCode::new(c).ok());
                b1
            })
    }

    proptest! {
        /// The byte-wise compare the terminal uses agrees with the derived `==`.
        #[test]
        fn same_b1_is_eq(a in b1(), b in b1()) {
            prop_assert_eq!(same_b1(&a, &b), a == b);
            prop_assert!(same_b1(&a, &a));
        }

        #[test]
        fn same_text_is_eq(a in "[ab]{0,3}", b in "[ab]{0,3}") {
            prop_assert_eq!(same_text(&a, &b), a == b);
        }
    }
}

#[cfg(test)]
mod clock_tests {
    use proptest::prelude::*;

    use super::add_seconds;
    use crate::txn::Timestamp;

    /// The same calendar in 64-bit signed arithmetic (the textbook days-from-civil algorithm,
    /// as this module computed it before), the reference for the 32-bit one: (year,
    /// month * 100 + day, second of the day).
    fn reference(t: Timestamp, secs: u64) -> (i64, i64, i64) {
        let (y, m, d) = (i64::from(t.year), i64::from(t.month), i64::from(t.day));
        let y0 = if m <= 2 { y - 1 } else { y };
        let era = y0.div_euclid(400);
        let yoe = y0 - era * 400;
        let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let sod = i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second);
        let total = days * 86_400 + sod + i64::try_from(secs).unwrap();
        let (z, s) = (total.div_euclid(86_400), total.rem_euclid(86_400));
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month * 100 + day, s)
    }

    proptest! {
        #[test]
        fn add_seconds_agrees_with_the_64_bit_calendar(
            year in 0u16..=9999, month in 1u8..=12, day in 1u8..=31,
            hour in 0u8..24, minute in 0u8..60, second in 0u8..60,
            secs in 0u64..(3_000 * 366 * 86_400),
        ) {
            let t = Timestamp::new(year, month, day, hour, minute, second).unwrap();
            let r = add_seconds(t, secs);
            let (y, md, s) = reference(t, secs);
            prop_assert_eq!(i64::from(r.year), y);
            prop_assert_eq!(i64::from(r.month) * 100 + i64::from(r.day), md);
            prop_assert_eq!(
                i64::from(r.hour) * 3600 + i64::from(r.minute) * 60 + i64::from(r.second),
                s
            );
        }
    }

    #[test]
    fn far_future_saturates_without_panic() {
        let t = Timestamp::new(65_000, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(add_seconds(t, u64::MAX).year, u16::MAX);
        assert_eq!(add_seconds(t, 0), t);
    }
}
