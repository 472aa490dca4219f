//! The half-duplex link session of the Concert byte layer, sans-IO, for both ends of the line.
//!
//! One exchange carries one frame, from the side that wants to talk (the *sender*) to the
//! other (the *receiver*):
//!
//! ```text
//! sender   ENQ ─────────────▶            STX payload ETX LRC ─────────▶            EOT ──▶
//! receiver          ◀───────── ACK                              ◀──── ACK (or NAK)
//! ```
//!
//! The same [`LinkSession`] type plays both parts: [`LinkSession::send`] starts an exchange as
//! the sender; an ENQ from the peer makes it the receiver. Concert runs two exchanges per
//! transaction: the till sends the request, then the terminal sends the answer (sources:
//! `akretion/pypostelium` `pypostelium.py` `transaction_start`, `Ousret/pyTeliumManager`
//! `telium/manager.py` `ask` / `verify`).
//!
//! Recovery, all driven by the caller's clock ([`LinkSession::poll_timeout`] /
//! [`LinkSession::handle_timeout`]):
//! - ENQ without ACK: EOT, a pause, ENQ again, [`LinkConfig::enq_tries`] times in all (the
//!   public clients send ENQ three times, 1 s apart, and EOT after each failed try), then
//!   [`LinkEvent::Failed`] with [`Error::LinkNoAck`].
//! - frame answered by NAK or not answered: the frame is sent again, [`LinkConfig::frame_tries`]
//!   times in all, then [`Error::LinkTooManyNaks`] / [`Error::LinkNoAck`].
//! - a received frame with a bad LRC (or too long for [`MAX_PAYLOAD`]) is answered NAK; a
//!   frame that stops in the middle for [`LinkConfig::inter_byte_timeout`] is dropped and
//!   answered NAK; no frame at all within [`LinkConfig::frame_timeout`] of our ACK ends the
//!   exchange with [`LinkEvent::ProtocolError`] ([`Error::LinkTimeout`]).
//! - a frame received again after our ACK was lost (the sender retransmits the same bytes
//!   without a new ENQ) is ACKed again and not reported twice.
//! - both ends sending ENQ at once: the [`LinkRole::Terminal`] end yields (ACKs the till's
//!   ENQ, receives, then starts its own exchange again, unless its owner drops the waiting
//!   frame with [`LinkSession::cancel_send`]); the till end ignores the terminal's ENQ while
//!   it waits for its ACK. The public clients cannot yield: pyTeliumManager's `ask` reads one
//!   byte after its ENQ and fails unless it is ACK.
//!
//! Admission: "never ACK what is not taken". An owner that cannot take a frame now
//! ([`LinkSession::set_refuse_enq`]) has every ENQ that would open an exchange answered NAK,
//! and with [`LinkSession::set_close_after_frame`] the session refuses by itself from the
//! moment it takes a frame until the owner opens it again, so that a second request right
//! behind the first (in the same read) is not ACKed either. pyTeliumManager reads an ENQ that
//! is not ACKed as "Payment terminal isn't ready to accept data from host. Check if terminal
//! is properly configured or not busy." (`telium/manager.py` `ask`); pypostelium sends EOT,
//! waits 1 s and tries again (`initialize_msg`). A frame that the owner's check
//! ([`LinkSession::set_frame_check`]) rejects is answered NAK instead of ACK, so the sender
//! knows at once (pyTeliumManager's `ask` returns `False` when the frame is not ACKed).
//!
//! Garbage between exchanges (line noise) is skipped by the [`FrameAccumulator`].

use core::time::Duration;

use heapless::{Deque, Vec};

use super::accumulator::{Feed, FrameAccumulator};
use super::control::{ACK, Control, ENQ, EOT, ETX, NAK, STX};
use super::frame::{Checksum, encode_frame};
use crate::time::earliest;
use crate::{Error, Instant, Result};

/// Largest frame payload the link session sends or receives, in bytes: Concert's longest
/// message, the full answer (`dialect::concert::message::answer::FULL_LEN`, 80 bytes; the
/// request has 34). A longer frame is refused with NAK ([`Error::LinkFrameTooLong`]). Every
/// buffer of the session is sized from it (the receive buffer, the frame being sent, the last
/// frame received, the transmit queue), so it is what the protocol needs and no more.
pub const MAX_PAYLOAD: usize = 80;

/// Bytes the session transmits at most at once: one frame (STX, payload, ETX, LRC) plus five
/// control bytes. A buffer of this size is always large enough for
/// [`LinkSession::poll_transmit`]. (The session keeps no copy of the frame to send: it
/// encodes it into the caller's buffer from the payload it holds.)
pub const TX_CAPACITY: usize = MAX_PAYLOAD + 3 + 5;
// The count of queued bytes is kept in a `u8`.
const _: () = assert!(TX_CAPACITY <= u8::MAX as usize);

/// Items the transmit queue holds: control bytes, and [`FRAME`] where the frame goes. One
/// call queues at most a few (a frame, its EOT, the answer to an ENQ); more are stale and the
/// queue is emptied first (see `LinkSession::queue`).
const TX_ITEMS: usize = 8;

/// In the transmit queue: the frame of our payload, encoded when it is polled. STX never
/// stands alone on the line, so it cannot be taken for a control byte.
const FRAME: u8 = STX;

/// Events the session holds until [`LinkSession::poll_event`] takes them; when more pile up
/// (the driver does not poll, or one call brought many bad frames), one is dropped and counted
/// in [`LinkSession::dropped_events`]: a protocol error first, else the oldest event.
///
/// As deep as the protocol needs: one exchange carries one frame, and the peer sends its next
/// frame only after our ACK, which leaves after the call that received the frame; so one call
/// brings at most one received frame and the outcome of our own send, plus protocol errors
/// (dropped first). An event does not carry the payload (it stays in the session, see
/// [`LinkSession::received`]), so a slot costs a few bytes, not a frame.
pub const EVENT_CAPACITY: usize = 4;

/// Which end of the line the session is (it decides who yields when both send ENQ at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkRole {
    /// The cash register: never yields.
    Ecr,
    /// The payment terminal: yields to the till's ENQ.
    Terminal,
}

/// Timers and retry counts of a [`LinkSession`]. [`LinkConfig::default`] documents each value.
///
/// The session keeps the timers in whole milliseconds (the unit of [`Instant`]), each at most
/// `u32::MAX` ms (49 days): a longer duration counts as that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkConfig {
    /// How long the sender waits for ACK (or NAK) after ENQ or after the frame. Default 3 s:
    /// pypostelium reads the terminal's one-byte answers with a 3 s serial timeout ("the
    /// Telium spec says we have to wait up to 3 seconds").
    pub ack_timeout: Duration,
    /// ENQs sent before giving up with [`Error::LinkNoAck`]. Default 3 (pypostelium's
    /// `initialize_msg`). At least 1 is always sent.
    pub enq_tries: u8,
    /// Pause after an unanswered ENQ (and its EOT) before the next ENQ. Default 1 s
    /// (pypostelium: "wait 1 sec between each attempt").
    pub enq_retry_delay: Duration,
    /// Times the frame is sent before giving up on NAKs ([`Error::LinkTooManyNaks`]) or missing
    /// ACKs ([`Error::LinkNoAck`]). Default 3. At least 1 is always sent.
    pub frame_tries: u8,
    /// How long the receiver waits, after ACKing the ENQ (or NAKing a damaged frame), for the
    /// frame. Default 10 s: longer than the sender's three tries of 3 s each, so that a frame
    /// lost on the wire is still taken when the sender sends it again.
    pub frame_timeout: Duration,
    /// Longest silence inside a frame before the partial frame is dropped and NAKed.
    /// Default 1 s (83 bytes take 87 ms at 9600 baud).
    pub inter_byte_timeout: Duration,
    /// How long the receiver holds its answer to a second ENQ that arrives while it waits for
    /// a frame. Default 100 ms. A sender that repeats its ENQ because our ACK was lost sends
    /// nothing else until it is answered, so silence for this long means "ACK it"; any byte
    /// within it means the "ENQ" was a damaged STX (0x02 and 0x05 differ in two bits) with the
    /// frame behind it, and the receiver answers NAK so that the sender retransmits the frame.
    /// Without the hold, the ACK to the false ENQ would read to the sender as the ACK of its
    /// frame, and it would report a frame as sent that never arrived.
    pub enq_guard: Duration,
    /// How long the receiver waits for EOT after ACKing the frame (a retransmission within
    /// this time is recognised as a duplicate as well). Default 3 s.
    pub eot_timeout: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            ack_timeout: Duration::from_secs(3),
            enq_tries: 3,
            enq_retry_delay: Duration::from_secs(1),
            frame_tries: 3,
            frame_timeout: Duration::from_secs(10),
            inter_byte_timeout: Duration::from_secs(1),
            enq_guard: Duration::from_millis(100),
            eot_timeout: Duration::from_secs(3),
        }
    }
}

/// A [`LinkConfig`] as the session keeps it: timers in milliseconds, 28 bytes instead of 104
/// on a 32-bit target, and no 128-bit arithmetic when a deadline is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timers {
    ack: u32,
    enq_retry: u32,
    frame: u32,
    inter_byte: u32,
    enq_guard: u32,
    eot: u32,
    enq_tries: u8,
    frame_tries: u8,
}

/// `d` in whole milliseconds, at most `u32::MAX`.
fn millis(d: Duration) -> u32 {
    // Whole seconds first: no 128-bit product.
    let secs = d.as_secs().min(u64::from(u32::MAX / 1000) + 1);
    let ms = secs * 1000 + u64::from(d.subsec_millis());
    u32::try_from(ms).unwrap_or(u32::MAX)
}

impl Timers {
    fn new(c: &LinkConfig) -> Self {
        Timers {
            ack: millis(c.ack_timeout),
            enq_retry: millis(c.enq_retry_delay),
            frame: millis(c.frame_timeout),
            inter_byte: millis(c.inter_byte_timeout),
            enq_guard: millis(c.enq_guard),
            eot: millis(c.eot_timeout),
            enq_tries: c.enq_tries,
            frame_tries: c.frame_tries,
        }
    }

    fn config(&self) -> LinkConfig {
        let d = |ms: u32| Duration::from_millis(u64::from(ms));
        LinkConfig {
            ack_timeout: d(self.ack),
            enq_tries: self.enq_tries,
            enq_retry_delay: d(self.enq_retry),
            frame_tries: self.frame_tries,
            frame_timeout: d(self.frame),
            inter_byte_timeout: d(self.inter_byte),
            enq_guard: d(self.enq_guard),
            eot_timeout: d(self.eot),
        }
    }
}

/// `now` plus `ms` milliseconds, saturating.
fn after(now: Instant, ms: u32) -> Instant {
    Instant::from_millis(now.as_millis().saturating_add(u64::from(ms)))
}

/// A frame payload as the link carries it.
pub type Payload = Vec<u8, MAX_PAYLOAD>;

/// What the link session reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkEvent {
    /// The peer sent a frame and we acknowledged it: its payload (reported once, even if the
    /// peer sends it again).
    Received(Payload),
    /// The frame given to [`LinkSession::send`] was acknowledged by the peer.
    Sent,
    /// The frame given to [`LinkSession::send`] could not be delivered:
    /// [`Error::LinkNoAck`] or [`Error::LinkTooManyNaks`].
    Failed(Error),
    /// Bytes the session rejected or did not expect (bad LRC, over-long frame, a frame that
    /// stopped halfway, a frame outside an exchange). The session went on.
    ProtocolError(Error),
}

/// [`LinkEvent`] without the payload, as [`LinkSession::poll_note`] reports it: a few bytes
/// to move instead of a whole frame. The payload of [`LinkNote::Received`] is
/// [`LinkSession::received`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkNote {
    /// [`LinkEvent::Received`]: the payload is [`LinkSession::received`].
    Received,
    /// [`LinkEvent::Sent`].
    Sent,
    /// [`LinkEvent::Failed`].
    Failed(Error),
    /// [`LinkEvent::ProtocolError`].
    ProtocolError(Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No exchange.
    Idle,
    /// We sent ENQ (try `tries`) and wait for ACK.
    EnqSent { tries: u8, deadline: Instant },
    /// ENQ try `tries` failed; the next ENQ goes at `until`.
    EnqPause { tries: u8, until: Instant },
    /// We sent the frame (try `tries`) and wait for ACK or NAK.
    FrameSent { tries: u8, deadline: Instant },
    /// We ACKed the peer's ENQ and wait for its frame.
    AwaitFrame { deadline: Instant },
    /// Waiting for a frame, we got a second ENQ: answer ACK at `until` if nothing else comes
    /// (see [`LinkConfig::enq_guard`]).
    EnqHold { until: Instant },
    /// We ACKed the peer's frame and wait for its EOT.
    AwaitEot { deadline: Instant },
}

/// The sans-IO half-duplex link session. Feed it bytes and timeouts; take bytes, events and
/// deadlines out. It never blocks, allocates or panics.
#[derive(Debug)]
pub struct LinkSession {
    role: LinkRole,
    timers: Timers,
    state: State,
    acc: FrameAccumulator<MAX_PAYLOAD>,
    /// When the last byte of a partial frame arrived (for the inter-byte timer).
    last_rx: Instant,
    /// The payload of our frame. It stays after the exchange ends, until the next `send`, so
    /// that a frame queued and acknowledged in the same call still goes out as it was queued.
    outgoing: Payload,
    /// We are sending `outgoing` (or will send it after yielding to the peer).
    sending: bool,
    /// The last frame we received and ACKed: the payload of [`LinkNote::Received`], and how
    /// its retransmission is recognised.
    last_received: Option<Payload>,
    /// What to send, in order: control bytes and [`FRAME`].
    tx: Vec<u8, TX_ITEMS>,
    /// Bytes `tx` stands for (at most [`TX_CAPACITY`]).
    tx_len: u8,
    events: Deque<LinkNote, EVENT_CAPACITY>,
    dropped_events: u32,
    /// ENQs that would open an exchange are answered NAK.
    refuse_enq: bool,
    /// `refuse_enq` is set whenever a frame is taken.
    close_after_frame: bool,
    /// What a received frame must pass to be ACKed (else NAK).
    frame_check: Option<fn(&[u8]) -> bool>,
}

/// What to do with a complete frame, decided while it is still in the accumulator (so that
/// it is copied once, into `last_received`, and only when it is taken).
enum Verdict {
    /// Taken: copied into `last_received`, to be ACKed and reported.
    Taken,
    /// The owner's check rejected it: NAK.
    Rejected,
    /// The previous frame taken is not yet polled and this one would overwrite it: NAK, the
    /// sender sends it again.
    Unpolled,
    /// The last frame again (our ACK was lost): ACK, report nothing.
    Duplicate,
    /// A frame outside an exchange.
    Unexpected,
}

/// What one step of the accumulator found.
enum Item {
    Nothing,
    Control(Control),
    Frame(Verdict),
    Error(Error),
}

impl LinkSession {
    /// A session for `role` with `config`.
    pub fn new(role: LinkRole, config: LinkConfig) -> Self {
        LinkSession {
            role,
            timers: Timers::new(&config),
            state: State::Idle,
            acc: FrameAccumulator::new(Checksum::Lrc),
            last_rx: Instant::ZERO,
            outgoing: Payload::new(),
            sending: false,
            last_received: None,
            tx: Vec::new(),
            tx_len: 0,
            events: Deque::new(),
            dropped_events: 0,
            refuse_enq: false,
            close_after_frame: false,
            frame_check: None,
        }
    }

    /// Whether the owner can take a frame now. While `refuse` holds, an ENQ that would open an
    /// exchange (the line idle, our own ENQ waiting for its ACK or its next try, or the peer's
    /// previous exchange still waiting for its EOT) is answered NAK and nothing else changes.
    pub fn set_refuse_enq(&mut self, refuse: bool) {
        self.refuse_enq = refuse;
    }

    /// Whether ENQs are refused now (see [`LinkSession::set_refuse_enq`]).
    pub fn refuses_enq(&self) -> bool {
        self.refuse_enq
    }

    /// With `on`, taking a frame (reporting [`LinkEvent::Received`]) refuses further ENQs
    /// until the owner calls [`LinkSession::set_refuse_enq`] with `false`: an owner that
    /// handles one request at a time is never made to ACK a second one it cannot take.
    pub fn set_close_after_frame(&mut self, on: bool) {
        self.close_after_frame = on;
    }

    /// A check every received frame's payload must pass to be ACKed; a payload that fails is
    /// answered NAK (the sender sends it again, up to its tries, then gives up) and reported
    /// as [`LinkEvent::ProtocolError`] ([`Error::LinkUnexpected`]).
    pub fn set_frame_check(&mut self, check: Option<fn(&[u8]) -> bool>) {
        self.frame_check = check;
    }

    /// Drops the frame given to [`LinkSession::send`] that the peer has not acknowledged yet
    /// (waiting for the line, or under way: then EOT ends our exchange). Returns whether
    /// there was one. Nothing is reported for it: the caller knows.
    pub fn cancel_send(&mut self, now: Instant) -> bool {
        if !core::mem::replace(&mut self.sending, false) {
            return false;
        }
        if matches!(
            self.state,
            State::EnqSent { .. } | State::EnqPause { .. } | State::FrameSent { .. }
        ) {
            if !matches!(self.state, State::EnqPause { .. }) {
                self.queue(&[EOT]);
            }
            self.go_idle(now);
        }
        true
    }

    /// The configuration (its timers in whole milliseconds, see [`LinkConfig`]).
    pub fn config(&self) -> LinkConfig {
        self.timers.config()
    }

    /// The role given at construction.
    pub fn role(&self) -> LinkRole {
        self.role
    }

    /// Whether an exchange is under way or a frame waits to be sent.
    pub fn is_busy(&self) -> bool {
        self.state != State::Idle || self.sending
    }

    /// Events dropped because the driver did not take them (see [`EVENT_CAPACITY`]).
    pub fn dropped_events(&self) -> u32 {
        self.dropped_events
    }

    /// Line-noise bytes skipped outside frames so far.
    pub fn discarded_bytes(&self) -> u64 {
        self.acc.discarded()
    }

    /// The payload of the last frame received and ACKed (empty before the first): what
    /// [`LinkNote::Received`] reports. It stays until the next frame is taken, and the
    /// session takes no new frame while a [`LinkNote::Received`] waits to be polled (the
    /// frame is answered NAK and the sender sends it again).
    pub fn received(&self) -> &[u8] {
        self.last_received.as_deref().unwrap_or_default()
    }

    /// Starts an exchange that delivers `payload` (ENQ first). [`LinkEvent::Sent`] or
    /// [`LinkEvent::Failed`] follows. While the peer's exchange is still under way (its EOT
    /// not yet received) the frame waits and goes as soon as the line is free.
    ///
    /// Errors: [`Error::LinkBusy`] while another frame of ours is under way,
    /// [`Error::CapacityExceeded`] for a payload over [`MAX_PAYLOAD`],
    /// [`Error::LinkPayloadByte`] for a payload holding STX or ETX.
    pub fn send(&mut self, now: Instant, payload: &[u8]) -> Result<()> {
        self.send_with(now, |buf| {
            let dst = buf
                .get_mut(..payload.len())
                .ok_or(Error::CapacityExceeded {
                    what: "link payload",
                })?;
            dst.copy_from_slice(payload);
            Ok(payload.len())
        })
    }

    /// [`LinkSession::send`] of the payload `emit` writes into the session's own frame buffer
    /// ([`MAX_PAYLOAD`] bytes) and whose length it returns: no copy of the payload on the
    /// caller's stack. An error from `emit` is returned and nothing is sent; the other errors
    /// are those of [`LinkSession::send`].
    pub fn send_with(
        &mut self,
        now: Instant,
        emit: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<()> {
        if self.sending {
            return Err(Error::LinkBusy);
        }
        // A frame of the last exchange still queued (acknowledged or given up in the call that
        // queued it) is stale: its payload is about to be replaced.
        if self.tx.contains(&FRAME) {
            self.tx.retain(|&b| b != FRAME);
            // What is left is control bytes, one byte each.
            self.tx_len = self.tx.len() as u8;
        }
        let out = &mut self.outgoing;
        out.clear();
        // Cannot fail: the capacity is MAX_PAYLOAD.
        let _ = out.resize(MAX_PAYLOAD, 0);
        let checked = match emit(out.as_mut_slice()) {
            Ok(n) if n <= MAX_PAYLOAD => {
                out.truncate(n);
                match out.iter().find(|&&b| b == STX || b == ETX) {
                    Some(&byte) => Err(Error::LinkPayloadByte { byte }),
                    None => Ok(()),
                }
            }
            Ok(_) => Err(Error::CapacityExceeded {
                what: "link payload",
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            self.outgoing.clear();
            return Err(e);
        }
        self.sending = true;
        if self.state == State::Idle {
            self.start_enq(now, 1);
        }
        Ok(())
    }

    /// Feeds bytes received from the peer, in any split.
    ///
    /// A read of one byte (a UART driver's read at 9600 baud) goes through
    /// [`FrameAccumulator::feed_byte`]: a payload byte is then a store inlined here, with no
    /// `(result, consumed)` pair to unpack and no loop around it. On a 32-bit target (a
    /// microcontroller, built for size, whose UART hands over a byte or two per read) every
    /// read goes that way, a byte at a time, so that the accumulator's slice path (its
    /// one-scan frame reader, about 1.2 KB of Cortex-M4 code) is not linked; 64-bit hosts,
    /// whose reads hold whole frames, take the slice path for longer reads. Both give the
    /// same items in the same order (the accumulator's `feed_byte` and `feed` agree byte for
    /// byte).
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        #[cfg(not(target_pointer_width = "64"))]
        for &b in bytes {
            self.handle_byte(now, b);
        }
        #[cfg(target_pointer_width = "64")]
        self.handle_slice(now, bytes);
    }

    /// [`LinkSession::handle_bytes`] on a 64-bit host: a 1-byte read through `feed_byte`,
    /// longer reads through the accumulator's `feed`.
    #[cfg(target_pointer_width = "64")]
    fn handle_slice(&mut self, now: Instant, mut bytes: &[u8]) {
        if let [b] = *bytes {
            self.handle_byte(now, b);
            return;
        }
        if !bytes.is_empty() && self.acc.in_frame() {
            self.last_rx = now;
        }
        while !bytes.is_empty() {
            self.end_enq_hold(now);
            let was_in_frame = self.acc.in_frame();
            let (result, used) = self.acc.feed(bytes);
            // Decide what the accumulator found while it holds it; `self` is free again after.
            let item = classify(
                result,
                self.state,
                self.frame_check,
                &self.events,
                &mut self.last_received,
            );
            bytes = bytes.get(used..).unwrap_or_default();
            if !was_in_frame && self.acc.in_frame() {
                self.last_rx = now;
            }
            self.on_item(now, item);
        }
    }

    /// [`LinkSession::handle_bytes`] of one byte.
    #[inline(always)]
    fn handle_byte(&mut self, now: Instant, b: u8) {
        self.end_enq_hold(now);
        // A payload byte: stored, in a frame before and after, nothing found.
        if self.acc.store_payload(b) {
            self.last_rx = now;
            return;
        }
        let was_in_frame = self.acc.in_frame();
        let item = classify(
            self.acc.step(b),
            self.state,
            self.frame_check,
            &self.events,
            &mut self.last_received,
        );
        if was_in_frame || self.acc.in_frame() {
            self.last_rx = now;
        }
        if !matches!(item, Item::Nothing) {
            self.on_item(now, item);
        }
    }

    /// Bytes right behind a repeated ENQ: it was a damaged STX. NAKs it, so that the sender
    /// sends its frame again, and goes on waiting for that frame.
    #[inline(always)]
    fn end_enq_hold(&mut self, now: Instant) {
        if let State::EnqHold { .. } = self.state {
            self.queue(&[NAK]);
            self.state = State::AwaitFrame {
                deadline: after(now, self.timers.frame),
            };
        }
    }

    /// Acts on what the accumulator found. Not inlined: one copy serves both byte paths.
    #[inline(never)]
    fn on_item(&mut self, now: Instant, item: Item) {
        match item {
            Item::Nothing => {}
            Item::Control(c) => self.on_control(now, c),
            Item::Frame(v) => self.on_frame(now, v),
            Item::Error(e) => self.on_frame_error(now, e),
        }
    }

    /// Runs the timers that are due at `now`. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.acc.in_frame() && now >= self.inter_byte_deadline() {
            self.acc.reset();
            self.push_event(LinkNote::ProtocolError(Error::LinkTimeout));
            if matches!(
                self.state,
                State::AwaitFrame { .. } | State::AwaitEot { .. }
            ) {
                self.queue(&[NAK]);
                self.refresh_receive_deadline(now);
            }
        }
        match self.state {
            State::Idle => {}
            State::EnqSent { tries, deadline } if now >= deadline => {
                self.queue(&[EOT]);
                if tries < self.timers.enq_tries {
                    self.state = State::EnqPause {
                        tries,
                        until: after(now, self.timers.enq_retry),
                    };
                } else {
                    self.fail(now, Error::LinkNoAck);
                }
            }
            State::EnqPause { tries, until } if now >= until => {
                self.start_enq(now, tries.saturating_add(1));
            }
            State::FrameSent { tries, deadline } if now >= deadline => {
                if tries < self.timers.frame_tries {
                    self.send_frame(now, tries.saturating_add(1));
                } else {
                    self.queue(&[EOT]);
                    self.fail(now, Error::LinkNoAck);
                }
            }
            State::AwaitFrame { deadline } if now >= deadline => {
                self.acc.reset();
                self.push_event(LinkNote::ProtocolError(Error::LinkTimeout));
                self.go_idle(now);
            }
            State::EnqHold { until } if now >= until => self.accept_enq(now),
            State::AwaitEot { deadline } if now >= deadline => self.go_idle(now),
            _ => {}
        }
    }

    /// Writes the bytes to send into `buf` and returns their count, `Ok(None)` when there is
    /// nothing to send. A `buf` shorter than the queued bytes is [`Error::BufferTooSmall`] and
    /// keeps them queued ([`TX_CAPACITY`] bytes always suffice).
    #[must_use = "bytes to send are lost if not written"]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        if self.tx.is_empty() {
            return Ok(None);
        }
        let needed = usize::from(self.tx_len);
        if buf.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let mut at = 0;
        for &item in self.tx.iter() {
            let Some(dst) = buf.get_mut(at..) else { break };
            if item == FRAME {
                // Cannot fail: `send` checked the payload and `buf` holds `needed` bytes.
                at += encode_frame(&self.outgoing, Checksum::Lrc, dst).unwrap_or(0);
            } else if let Some(slot) = dst.first_mut() {
                *slot = item;
                at += 1;
            }
        }
        self.tx.clear();
        self.tx_len = 0;
        Ok(Some(at))
    }

    /// The next event, if any. [`LinkSession::poll_note`] is the same without a copy of the
    /// received payload.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        Some(match self.poll_note()? {
            LinkNote::Received => {
                LinkEvent::Received(self.last_received.clone().unwrap_or_default())
            }
            LinkNote::Sent => LinkEvent::Sent,
            LinkNote::Failed(e) => LinkEvent::Failed(e),
            LinkNote::ProtocolError(e) => LinkEvent::ProtocolError(e),
        })
    }

    /// The next event, if any, without its payload: after [`LinkNote::Received`], read it
    /// with [`LinkSession::received`] before the next call that feeds bytes.
    #[must_use]
    pub fn poll_note(&mut self) -> Option<LinkNote> {
        // Tested here, inline: a driver polls after every read, and most find nothing.
        if self.events.is_empty() {
            return None;
        }
        self.events.pop_front()
    }

    /// The earliest instant at which [`LinkSession::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match self.state {
            State::Idle => None,
            State::EnqSent { deadline, .. }
            | State::FrameSent { deadline, .. }
            | State::AwaitFrame { deadline }
            | State::AwaitEot { deadline } => Some(deadline),
            State::EnqPause { until, .. } | State::EnqHold { until } => Some(until),
        };
        let inter_byte = self.acc.in_frame().then(|| self.inter_byte_deadline());
        earliest(state, inter_byte)
    }

    // ----- internals -----

    fn inter_byte_deadline(&self) -> Instant {
        after(self.last_rx, self.timers.inter_byte)
    }

    fn on_control(&mut self, now: Instant, c: Control) {
        match (c, self.state) {
            // The owner cannot take a frame now: an ENQ that would open an exchange is
            // refused (our own exchange, if any, goes on).
            (Control::Enq, State::Idle | State::AwaitEot { .. } | State::EnqPause { .. })
                if self.refuse_enq =>
            {
                self.queue(&[NAK]);
                if let State::AwaitEot { .. } = self.state {
                    self.go_idle(now);
                }
            }
            (Control::Enq, State::EnqSent { .. })
                if self.refuse_enq && self.role == LinkRole::Terminal =>
            {
                self.queue(&[NAK]);
            }
            // The peer opens an exchange (or opens it again because our ACK was lost).
            (Control::Enq, State::Idle | State::AwaitEot { .. }) => self.accept_enq(now),
            // A second ENQ while we wait for the frame: a retry after our ACK was lost, or a
            // damaged STX. Hold the answer (see `LinkConfig::enq_guard`).
            (Control::Enq, State::AwaitFrame { .. }) => {
                self.acc.reset();
                self.state = State::EnqHold {
                    until: after(now, self.timers.enq_guard),
                };
            }
            (Control::Enq, State::EnqPause { .. }) => self.accept_enq(now),
            (Control::Enq, State::EnqSent { .. }) => match self.role {
                LinkRole::Terminal => self.accept_enq(now),
                LinkRole::Ecr => {}
            },
            (Control::Ack, State::EnqSent { .. }) => self.send_frame(now, 1),
            (Control::Ack, State::FrameSent { .. }) => {
                self.queue(&[EOT]);
                self.sending = false;
                self.push_event(LinkNote::Sent);
                self.go_idle(now);
            }
            (Control::Nak, State::FrameSent { tries, .. }) => {
                if tries < self.timers.frame_tries {
                    self.send_frame(now, tries.saturating_add(1));
                } else {
                    self.queue(&[EOT]);
                    self.fail(now, Error::LinkTooManyNaks);
                }
            }
            // A NAK to our ENQ: the peer cannot take a frame now; count it as a failed try.
            (Control::Nak, State::EnqSent { tries, .. }) => {
                self.state = State::EnqSent {
                    tries,
                    deadline: now,
                };
                self.handle_timeout(now);
            }
            (Control::Eot, State::AwaitEot { .. } | State::AwaitFrame { .. }) => {
                self.acc.reset();
                self.go_idle(now);
            }
            // Stray control bytes (a late ACK, an EOT after we gave up) change nothing.
            _ => {}
        }
    }

    fn on_frame(&mut self, now: Instant, verdict: Verdict) {
        match verdict {
            Verdict::Rejected | Verdict::Unpolled => {
                // Not a frame the owner can take (now): NAK, so that the sender knows.
                self.queue(&[NAK]);
                self.refresh_receive_deadline(now);
                self.push_event(LinkNote::ProtocolError(Error::LinkUnexpected {
                    what: "frame the receiver cannot take (NAKed)",
                }));
            }
            Verdict::Taken => {
                self.queue(&[ACK]);
                if self.close_after_frame {
                    self.refuse_enq = true;
                }
                self.push_event(LinkNote::Received);
                self.state = State::AwaitEot {
                    deadline: after(now, self.timers.eot),
                };
            }
            Verdict::Duplicate => {
                // Our ACK was lost and the sender tried again: acknowledge, report nothing.
                self.queue(&[ACK]);
                if let State::AwaitEot { .. } = self.state {
                    self.state = State::AwaitEot {
                        deadline: after(now, self.timers.eot),
                    };
                }
            }
            Verdict::Unexpected => {
                self.push_event(LinkNote::ProtocolError(Error::LinkUnexpected {
                    what: "frame outside an exchange",
                }))
            }
        }
    }

    fn on_frame_error(&mut self, now: Instant, e: Error) {
        let receiving = matches!(
            self.state,
            State::AwaitFrame { .. } | State::AwaitEot { .. }
        );
        if receiving && matches!(e, Error::LinkBadLrc { .. } | Error::LinkFrameTooLong) {
            self.queue(&[NAK]);
            self.refresh_receive_deadline(now);
        }
        self.push_event(LinkNote::ProtocolError(e));
    }

    fn refresh_receive_deadline(&mut self, now: Instant) {
        if let State::AwaitFrame { .. } = self.state {
            self.state = State::AwaitFrame {
                deadline: after(now, self.timers.frame),
            };
        }
    }

    fn accept_enq(&mut self, now: Instant) {
        self.acc.reset();
        self.queue(&[ACK]);
        self.state = State::AwaitFrame {
            deadline: after(now, self.timers.frame),
        };
    }

    fn start_enq(&mut self, now: Instant, tries: u8) {
        self.queue(&[ENQ]);
        self.state = State::EnqSent {
            tries,
            deadline: after(now, self.timers.ack),
        };
    }

    /// Queues the frame of `outgoing` (encoded when polled).
    fn send_frame(&mut self, now: Instant, tries: u8) {
        if !self.sending {
            // Nothing to send means the exchange is over.
            return self.go_idle(now);
        }
        self.queue(&[FRAME]);
        self.state = State::FrameSent {
            tries,
            deadline: after(now, self.timers.ack),
        };
    }

    fn fail(&mut self, now: Instant, e: Error) {
        self.sending = false;
        self.push_event(LinkNote::Failed(e));
        self.go_idle(now);
    }

    /// Ends the exchange; a frame that waited for the line (we yielded) starts now.
    fn go_idle(&mut self, now: Instant) {
        self.state = State::Idle;
        if self.sending {
            self.start_enq(now, 1);
        }
    }

    /// Queues bytes to send. The line is half-duplex: bytes still queued when the driver has
    /// not sent them by the next step are stale, so a full queue is emptied first.
    fn queue(&mut self, item: &[u8; 1]) {
        let [item] = *item;
        let len = if item == FRAME {
            self.outgoing.len() + Checksum::Lrc.overhead()
        } else {
            1
        };
        if self.tx.is_full() || usize::from(self.tx_len) + len > TX_CAPACITY {
            self.tx.clear();
            self.tx_len = 0;
        }
        if self.tx.push(item).is_ok() {
            // At most TX_CAPACITY (checked above), which fits a byte.
            self.tx_len = self.tx_len.saturating_add(len as u8);
        }
    }

    fn push_event(&mut self, e: LinkNote) {
        if crate::queue::push_keeping(&mut self.events, e, |e| {
            matches!(e, LinkNote::ProtocolError(_))
        }) {
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
    }
}

/// What to do with the complete frame `payload` in `state` (see [`Verdict`]); a frame taken
/// is copied into `last_received`. A free function over the fields it needs, so that the
/// frame can be judged while the accumulator still holds it.
/// What the accumulator's `result` means for the session (a frame judged while the
/// accumulator still holds it).
#[inline(always)]
fn classify(
    result: Result<Feed<'_>>,
    state: State,
    check: Option<fn(&[u8]) -> bool>,
    events: &Deque<LinkNote, EVENT_CAPACITY>,
    last_received: &mut Option<Payload>,
) -> Item {
    match result {
        Ok(Feed::NeedMore) => Item::Nothing,
        Ok(Feed::Control(c)) => Item::Control(c),
        Ok(Feed::Frame(p)) => Item::Frame(judge(p, state, check, events, last_received)),
        Err(e) => Item::Error(e),
    }
}

fn judge(
    payload: &[u8],
    state: State,
    check: Option<fn(&[u8]) -> bool>,
    events: &Deque<LinkNote, EVENT_CAPACITY>,
    last_received: &mut Option<Payload>,
) -> Verdict {
    match state {
        State::AwaitFrame { .. } if check.is_some_and(|check| !check(payload)) => Verdict::Rejected,
        State::AwaitFrame { .. } if events.iter().any(|e| *e == LinkNote::Received) => {
            Verdict::Unpolled
        }
        State::AwaitFrame { .. } => {
            let last = last_received.insert(Payload::new());
            // Cannot fail: the accumulator holds at most MAX_PAYLOAD bytes.
            let _ = last.extend_from_slice(payload);
            Verdict::Taken
        }
        State::AwaitEot { .. } | State::Idle if last_received.as_deref() == Some(payload) => {
            Verdict::Duplicate
        }
        _ => Verdict::Unexpected,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec as StdVec;

    use super::*;

    const T0: Instant = Instant::ZERO;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn out(s: &mut LinkSession) -> StdVec<u8> {
        let mut buf = [0u8; TX_CAPACITY];
        match s.poll_transmit(&mut buf).unwrap() {
            Some(n) => buf[..n].to_vec(),
            None => StdVec::new(),
        }
    }

    fn events(s: &mut LinkSession) -> StdVec<LinkEvent> {
        core::iter::from_fn(|| s.poll_event()).collect()
    }

    fn frame(p: &[u8]) -> StdVec<u8> {
        let mut b = [0u8; 200];
        let n = encode_frame(p, Checksum::Lrc, &mut b).unwrap();
        b[..n].to_vec()
    }

    fn payload(p: &[u8]) -> Payload {
        Payload::from_slice(p).unwrap()
    }

    type Tamper = std::boxed::Box<dyn FnMut(bool, usize, &mut StdVec<u8>)>;

    /// Two sessions joined by a wire that can lose or damage bytes, on a fake clock.
    struct Pair {
        a: LinkSession,
        b: LinkSession,
        now: Instant,
        /// Everything that went over the wire, (from a?, bytes), for assertions.
        trace: StdVec<(bool, StdVec<u8>)>,
        /// Called on each chunk before delivery: may change or drop it.
        tamper: Tamper,
        chunks: usize,
    }

    impl Pair {
        fn new(a: LinkRole, b: LinkRole) -> Self {
            Pair {
                a: LinkSession::new(a, LinkConfig::default()),
                b: LinkSession::new(b, LinkConfig::default()),
                now: T0,
                trace: StdVec::new(),
                tamper: std::boxed::Box::new(|_, _, _| {}),
                chunks: 0,
            }
        }

        /// Moves bytes until both are quiet, then jumps the clock to the next deadline; stops
        /// when no deadline is left or after `limit` ms.
        fn run(&mut self, limit: u64) -> (StdVec<LinkEvent>, StdVec<LinkEvent>) {
            let (mut ea, mut eb) = (StdVec::new(), StdVec::new());
            loop {
                let mut moved = false;
                for from_a in [true, false] {
                    let (src, dst) = if from_a {
                        (&mut self.a, &mut self.b)
                    } else {
                        (&mut self.b, &mut self.a)
                    };
                    let mut bytes = out(src);
                    if bytes.is_empty() {
                        continue;
                    }
                    moved = true;
                    self.trace.push((from_a, bytes.clone()));
                    (self.tamper)(from_a, self.chunks, &mut bytes);
                    self.chunks += 1;
                    dst.handle_bytes(self.now, &bytes);
                }
                ea.extend(events(&mut self.a));
                eb.extend(events(&mut self.b));
                if moved {
                    continue;
                }
                let next = earliest(self.a.poll_timeout(), self.b.poll_timeout());
                match next {
                    Some(t) if t.as_millis() <= limit => {
                        self.now = self.now.max(t);
                        self.a.handle_timeout(self.now);
                        self.b.handle_timeout(self.now);
                    }
                    _ => return (ea, eb),
                }
            }
        }

        fn wire(&self) -> StdVec<(bool, StdVec<u8>)> {
            self.trace.clone()
        }
    }

    #[test]
    fn happy_path_bytes_in_order() {
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        p.a.send(T0, b"HELLO").unwrap();
        assert!(p.a.is_busy());
        assert_eq!(p.a.send(T0, b"X"), Err(Error::LinkBusy));
        assert_eq!(p.a.poll_timeout(), Some(ms(3000)));
        let (ea, eb) = p.run(100_000);
        assert_eq!(ea, [LinkEvent::Sent]);
        assert_eq!(eb, [LinkEvent::Received(payload(b"HELLO"))]);
        assert_eq!(
            p.wire(),
            [
                (true, vec![ENQ]),
                (false, vec![ACK]),
                (true, frame(b"HELLO")),
                (false, vec![ACK]),
                (true, vec![EOT]),
            ]
        );
        assert!(!p.a.is_busy() && !p.b.is_busy());
        assert_eq!(p.now, T0, "no timer needed on the happy path");
        // And the other way round: the terminal sends the answer leg.
        p.b.send(p.now, b"ANSWER").unwrap();
        let (ea, eb) = p.run(100_000);
        assert_eq!(ea, [LinkEvent::Received(payload(b"ANSWER"))]);
        assert_eq!(eb, [LinkEvent::Sent]);
    }

    #[test]
    fn nak_then_success() {
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        // Damage the first frame (chunk 2: ENQ, ACK, frame).
        p.tamper = std::boxed::Box::new(|from_a, n, bytes| {
            if from_a && n == 2 {
                bytes[3] ^= 0x01;
            }
        });
        p.a.send(T0, b"PAYLOAD").unwrap();
        let (ea, eb) = p.run(100_000);
        assert_eq!(ea, [LinkEvent::Sent]);
        assert!(matches!(
            eb[..],
            [
                LinkEvent::ProtocolError(Error::LinkBadLrc { .. }),
                LinkEvent::Received(ref x)
            ] if x == &payload(b"PAYLOAD")
        ));
        let w = p.wire();
        assert_eq!(w[3], (false, vec![NAK]));
        assert_eq!(w[4], (true, frame(b"PAYLOAD")));
        assert_eq!(w[5], (false, vec![ACK]));
        assert_eq!(p.now, T0, "NAK retransmits at once");
    }

    /// Regression (found by `one_damaged_byte_never_duplicates`, pos 2, flip 7): the frame's
    /// STX damaged into an ENQ. ACKing that "ENQ" would read to the sender as the ACK of its
    /// frame; the receiver must NAK instead, and the retransmitted frame arrives.
    #[test]
    fn stx_damaged_into_enq_is_naked_not_acked() {
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        p.tamper = std::boxed::Box::new(|from_a, n, bytes| {
            if from_a && n == 2 {
                bytes[0] = ENQ;
            }
        });
        p.a.send(T0, b"PAYLOAD").unwrap();
        let (ea, eb) = p.run(100_000);
        assert_eq!(ea, [LinkEvent::Sent]);
        assert_eq!(eb, [LinkEvent::Received(payload(b"PAYLOAD"))]);
        let w = p.wire();
        assert_eq!(w[3], (false, vec![NAK]), "the damaged frame is refused");
        assert_eq!(w[4], (true, frame(b"PAYLOAD")), "and sent again");
        assert_eq!(w[5], (false, vec![ACK]));
    }

    /// A sender that lost our ACK to its ENQ repeats the ENQ and then waits: after the guard
    /// of silence it is ACKed and its frame is taken.
    #[test]
    fn repeated_enq_after_a_lost_ack_is_acked_after_the_guard() {
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        p.tamper = std::boxed::Box::new(|from_a, n, bytes| {
            if !from_a && n == 1 {
                bytes.clear();
            }
        });
        p.a.send(T0, b"AGAIN").unwrap();
        let (ea, eb) = p.run(100_000);
        assert_eq!(ea, [LinkEvent::Sent]);
        assert_eq!(eb, [LinkEvent::Received(payload(b"AGAIN"))]);
        let w = p.wire();
        // ENQ, (lost ACK), EOT + pause, ENQ again, then the held ACK.
        let acks_after_second_enq = w
            .iter()
            .skip(2)
            .filter(|(a, b)| !*a && b == &vec![ACK])
            .count();
        assert!(acks_after_second_enq >= 1, "{w:?}");
    }

    #[test]
    fn lost_ack_then_retransmit_is_not_reported_twice() {
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        // Lose the terminal's ACK of the frame (chunk 3).
        p.tamper = std::boxed::Box::new(|from_a, n, bytes| {
            if !from_a && n == 3 {
                bytes.clear();
            }
        });
        p.a.send(T0, b"ONCE").unwrap();
        let (ea, eb) = p.run(100_000);
        assert_eq!(ea, [LinkEvent::Sent]);
        assert_eq!(eb, [LinkEvent::Received(payload(b"ONCE"))]);
        let w = p.wire();
        assert_eq!(w[4], (true, frame(b"ONCE")), "retransmitted");
        assert_eq!(w[5], (false, vec![ACK]), "duplicate acknowledged");
        assert_eq!(p.now, ms(3000), "after the ACK timeout");
    }

    #[test]
    fn duplicate_after_eot_window_is_still_acked_once_idle() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.handle_bytes(T0, &[ENQ]);
        b.handle_bytes(T0, &frame(b"DUP"));
        assert_eq!(out(&mut b), [ACK, ACK]);
        b.handle_timeout(ms(3000));
        assert!(!b.is_busy());
        b.handle_bytes(ms(3500), &frame(b"DUP"));
        assert_eq!(out(&mut b), [ACK]);
        assert_eq!(events(&mut b), [LinkEvent::Received(payload(b"DUP"))]);
        // A different frame outside an exchange is refused quietly.
        b.handle_bytes(ms(3600), &frame(b"OTHER"));
        assert_eq!(out(&mut b), []);
        assert!(matches!(
            events(&mut b)[..],
            [LinkEvent::ProtocolError(Error::LinkUnexpected { .. })]
        ));
        // The same bytes in a new exchange (after ENQ) are a new frame.
        b.handle_bytes(ms(4000), &[ENQ]);
        b.handle_bytes(ms(4000), &frame(b"DUP"));
        assert_eq!(events(&mut b), [LinkEvent::Received(payload(b"DUP"))]);
    }

    #[test]
    fn gives_up_after_max_naks() {
        let mut a = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
        a.send(T0, b"X").unwrap();
        assert_eq!(out(&mut a), [ENQ]);
        a.handle_bytes(T0, &[ACK]);
        assert_eq!(out(&mut a), frame(b"X"));
        a.handle_bytes(T0, &[NAK]);
        assert_eq!(out(&mut a), frame(b"X"));
        a.handle_bytes(T0, &[NAK]);
        assert_eq!(out(&mut a), frame(b"X"));
        a.handle_bytes(T0, &[NAK]);
        assert_eq!(out(&mut a), [EOT]);
        assert_eq!(events(&mut a), [LinkEvent::Failed(Error::LinkTooManyNaks)]);
        assert!(!a.is_busy());
        assert_eq!(a.poll_timeout(), None);
    }

    #[test]
    fn gives_up_after_max_missing_acks_of_the_frame() {
        let mut a = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
        a.send(T0, b"X").unwrap();
        let _ = out(&mut a);
        a.handle_bytes(T0, &[ACK]);
        let _ = out(&mut a);
        for i in 1..=2 {
            assert_eq!(a.poll_timeout(), Some(ms(3000 * i)));
            a.handle_timeout(ms(3000 * i - 1));
            assert_eq!(out(&mut a), [], "not yet due");
            a.handle_timeout(ms(3000 * i));
            assert_eq!(out(&mut a), frame(b"X"));
        }
        a.handle_timeout(ms(9000));
        assert_eq!(out(&mut a), [EOT]);
        assert_eq!(events(&mut a), [LinkEvent::Failed(Error::LinkNoAck)]);
    }

    #[test]
    fn enq_is_tried_three_times_one_second_apart() {
        let mut a = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
        a.send(T0, b"X").unwrap();
        let mut wire = StdVec::new();
        let mut now = T0;
        loop {
            let bytes = out(&mut a);
            if !bytes.is_empty() {
                wire.push((now.as_millis(), bytes));
            }
            match a.poll_timeout() {
                Some(t) => {
                    now = t;
                    a.handle_timeout(now);
                }
                None => break,
            }
        }
        assert_eq!(
            wire,
            [
                (0, vec![ENQ]),
                (3000, vec![EOT]),
                (4000, vec![ENQ]),
                (7000, vec![EOT]),
                (8000, vec![ENQ]),
                (11000, vec![EOT]),
            ]
        );
        assert_eq!(events(&mut a), [LinkEvent::Failed(Error::LinkNoAck)]);
    }

    #[test]
    fn nak_to_enq_counts_as_a_failed_try() {
        let mut a = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
        a.send(T0, b"X").unwrap();
        let _ = out(&mut a);
        a.handle_bytes(ms(10), &[NAK]);
        assert_eq!(out(&mut a), [EOT]);
        assert_eq!(a.poll_timeout(), Some(ms(1010)));
    }

    #[test]
    fn garbage_and_split_input() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        let stream = [
            &b"\xffnoise"[..],
            &[ENQ],
            &b"zz"[..],
            &frame(b"0100001250110978"),
            &[EOT],
        ]
        .concat();
        for (i, byte) in stream.iter().enumerate() {
            b.handle_bytes(ms(i as u64), core::slice::from_ref(byte));
        }
        assert_eq!(out(&mut b), [ACK, ACK]);
        assert_eq!(
            events(&mut b),
            [LinkEvent::Received(payload(b"0100001250110978"))]
        );
        assert!(!b.is_busy());
        assert_eq!(b.discarded_bytes(), 8);
    }

    #[test]
    fn frame_stopping_halfway_is_nakked_after_the_inter_byte_timeout() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.handle_bytes(T0, &[ENQ]);
        let f = frame(b"HALFWAY");
        b.handle_bytes(ms(100), &f[..4]);
        assert_eq!(out(&mut b), [ACK]);
        assert_eq!(b.poll_timeout(), Some(ms(1100)));
        b.handle_bytes(ms(600), &f[4..5]);
        assert_eq!(
            b.poll_timeout(),
            Some(ms(1600)),
            "each byte restarts the timer"
        );
        b.handle_timeout(ms(1600));
        assert_eq!(out(&mut b), [NAK]);
        assert_eq!(
            events(&mut b),
            [LinkEvent::ProtocolError(Error::LinkTimeout)]
        );
        // The sender's retransmission is then taken whole.
        b.handle_bytes(ms(2000), &f);
        assert_eq!(out(&mut b), [ACK]);
        assert_eq!(events(&mut b), [LinkEvent::Received(payload(b"HALFWAY"))]);
    }

    #[test]
    fn no_frame_after_enq_times_out() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.handle_bytes(T0, &[ENQ]);
        assert_eq!(out(&mut b), [ACK]);
        assert_eq!(b.poll_timeout(), Some(ms(10_000)));
        b.handle_timeout(ms(9_999));
        assert!(b.is_busy());
        b.handle_timeout(ms(10_000));
        assert_eq!(
            events(&mut b),
            [LinkEvent::ProtocolError(Error::LinkTimeout)]
        );
        assert!(!b.is_busy());
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn too_long_frame_is_nakked() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.handle_bytes(T0, &[ENQ]);
        let _ = out(&mut b);
        b.handle_bytes(T0, &frame(&[b'9'; MAX_PAYLOAD + 1]));
        assert_eq!(out(&mut b), [NAK]);
        assert_eq!(
            events(&mut b),
            [LinkEvent::ProtocolError(Error::LinkFrameTooLong)]
        );
    }

    #[test]
    fn enq_collision_the_terminal_yields() {
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        p.a.send(T0, b"REQUEST").unwrap();
        p.b.send(T0, b"ANSWER").unwrap();
        let (ea, eb) = p.run(100_000);
        assert_eq!(
            ea,
            [LinkEvent::Sent, LinkEvent::Received(payload(b"ANSWER"))]
        );
        assert_eq!(
            eb,
            [LinkEvent::Received(payload(b"REQUEST")), LinkEvent::Sent]
        );
    }

    #[test]
    fn a_refusing_receiver_naks_the_enq_and_acks_nothing() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.set_refuse_enq(true);
        b.handle_bytes(T0, &[ENQ]);
        assert_eq!(out(&mut b), [NAK]);
        // The sender's frame, if it sends one anyway, is outside an exchange: not ACKed.
        b.handle_bytes(T0, &frame(b"REQ"));
        assert_eq!(out(&mut b), []);
        assert!(matches!(
            events(&mut b).as_slice(),
            [LinkEvent::ProtocolError(Error::LinkUnexpected { .. })]
        ));
        // Our own ENQ waiting for its ACK: the peer's ENQ is refused, ours goes on.
        b.send(ms(1), b"ANS").unwrap();
        assert_eq!(out(&mut b), [ENQ]);
        b.handle_bytes(ms(2), &[ENQ]);
        assert_eq!(out(&mut b), [NAK]);
        b.handle_bytes(ms(3), &[ACK]);
        assert_eq!(out(&mut b), frame(b"ANS"));
        // Open again: an ENQ is ACKed.
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.set_refuse_enq(true);
        b.set_refuse_enq(false);
        b.handle_bytes(T0, &[ENQ]);
        assert_eq!(out(&mut b), [ACK]);
    }

    #[test]
    fn close_after_frame_refuses_a_second_request_in_the_same_read() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.set_close_after_frame(true);
        let mut bytes = vec![ENQ];
        bytes.extend(frame(b"ONE"));
        bytes.extend([EOT, ENQ]);
        b.handle_bytes(T0, &bytes);
        assert_eq!(out(&mut b), [ACK, ACK, NAK]);
        assert_eq!(events(&mut b), [LinkEvent::Received(payload(b"ONE"))]);
        assert!(b.refuses_enq());
        b.set_refuse_enq(false);
        b.handle_bytes(ms(1), &[ENQ]);
        assert_eq!(out(&mut b), [ACK]);
    }

    #[test]
    fn a_frame_the_check_rejects_is_naked() {
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        p.b.set_frame_check(Some(|f: &[u8]| f.first() == Some(&b'G')));
        p.a.send(T0, b"BAD").unwrap();
        let (ea, eb) = p.run(100_000);
        assert_eq!(ea, [LinkEvent::Failed(Error::LinkTooManyNaks)]);
        assert_eq!(eb.len(), 3, "one report per try: {eb:?}");
        assert!(
            eb.iter()
                .all(|e| matches!(e, LinkEvent::ProtocolError(Error::LinkUnexpected { .. })))
        );
        // The terminal never ACKed the bad frame: its answers to the three frames are NAKs.
        let naks = p
            .wire()
            .iter()
            .filter(|(from_a, b)| !from_a && b == &[NAK])
            .count();
        assert_eq!(naks, 3);
        p.a.send(p.now, b"GOOD").unwrap();
        let (ea, eb) = p.run(200_000);
        assert_eq!(ea, [LinkEvent::Sent]);
        assert_eq!(eb, [LinkEvent::Received(payload(b"GOOD"))]);
    }

    #[test]
    fn cancel_send_drops_the_waiting_frame() {
        // The terminal yields to the till's ENQ; its owner drops the stale answer when the
        // till's new request arrives: the answer never goes.
        let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
        p.a.send(T0, b"REQUEST").unwrap();
        p.b.send(T0, b"OLD ANSWER").unwrap();
        // ENQ both ways, the terminal ACKs the till's, the request frame, its ACK.
        for _ in 0..4 {
            let ta = out(&mut p.a);
            let tb = out(&mut p.b);
            p.b.handle_bytes(T0, &ta);
            p.a.handle_bytes(T0, &tb);
        }
        assert_eq!(events(&mut p.b), [LinkEvent::Received(payload(b"REQUEST"))]);
        assert!(p.b.cancel_send(T0));
        assert!(!p.b.cancel_send(T0));
        let (ea, eb) = p.run(100_000);
        assert!(
            !ea.iter().any(|e| matches!(e, LinkEvent::Received(_))),
            "{ea:?}"
        );
        assert_eq!(eb, []);
        assert!(!p.b.is_busy());
        // Under way: EOT ends our exchange.
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.send(T0, b"ANS").unwrap();
        assert_eq!(out(&mut b), [ENQ]);
        assert!(b.cancel_send(ms(1)));
        assert_eq!(out(&mut b), [EOT]);
        assert!(!b.is_busy());
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn send_while_receiving_waits_for_the_eot() {
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.handle_bytes(T0, &[ENQ]);
        b.handle_bytes(T0, &frame(b"REQ"));
        assert_eq!(out(&mut b), [ACK, ACK]);
        b.send(ms(5), b"ANS").unwrap();
        assert_eq!(out(&mut b), [], "the line is still the peer's");
        assert_eq!(b.send(ms(5), b"ANS"), Err(Error::LinkBusy));
        b.handle_bytes(ms(10), &[EOT]);
        assert_eq!(out(&mut b), [ENQ]);
        // Without an EOT the frame goes when the EOT timer ends the exchange.
        let mut b = LinkSession::new(LinkRole::Terminal, LinkConfig::default());
        b.handle_bytes(T0, &[ENQ]);
        b.handle_bytes(T0, &frame(b"REQ"));
        let _ = out(&mut b);
        b.send(ms(5), b"ANS").unwrap();
        b.handle_timeout(ms(3000));
        assert_eq!(out(&mut b), [ENQ]);
    }

    /// A frame arriving while the previous one taken is not yet polled (two exchanges in one
    /// read) would overwrite it (events carry no payload): it is NAKed, and taken when the
    /// sender sends it again after the first was polled. Nothing is lost or reported twice.
    #[test]
    fn a_frame_before_the_previous_is_polled_is_naked_then_taken() {
        let mut b = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
        let mut bytes = StdVec::from([ENQ]);
        bytes.extend(frame(b"FIRST"));
        bytes.extend([EOT, ENQ]);
        bytes.extend(frame(b"SECOND"));
        b.handle_bytes(T0, &bytes);
        assert_eq!(out(&mut b), [ACK, ACK, ACK, NAK]);
        assert_eq!(b.poll_note(), Some(LinkNote::Received));
        assert_eq!(b.received(), b"FIRST");
        assert!(matches!(b.poll_note(), Some(LinkNote::ProtocolError(_))));
        assert_eq!(b.poll_note(), None);
        b.handle_bytes(ms(10), &frame(b"SECOND"));
        assert_eq!(out(&mut b), [ACK]);
        assert_eq!(events(&mut b), [LinkEvent::Received(payload(b"SECOND"))]);
    }

    /// `send_with` builds the payload in the session's buffer; an error from the builder, an
    /// over-long length or a delimiter byte sends nothing and leaves the session free.
    #[test]
    fn send_with_builds_in_place_or_sends_nothing() {
        let mut a = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
        assert_eq!(
            a.send_with(T0, |_| Err(Error::AmountTooLarge)),
            Err(Error::AmountTooLarge)
        );
        assert!(matches!(
            a.send_with(T0, |_| Ok(MAX_PAYLOAD + 1)),
            Err(Error::CapacityExceeded { .. })
        ));
        assert_eq!(
            a.send_with(T0, |buf| {
                buf[..2].copy_from_slice(b"a\x02");
                Ok(2)
            }),
            Err(Error::LinkPayloadByte { byte: STX })
        );
        assert!(!a.is_busy());
        assert_eq!(out(&mut a), []);
        a.send_with(T0, |buf| {
            buf[..5].copy_from_slice(b"HELLO");
            Ok(5)
        })
        .unwrap();
        assert_eq!(out(&mut a), [ENQ]);
        a.handle_bytes(T0, &[ACK]);
        assert_eq!(out(&mut a), frame(b"HELLO"));
    }

    #[test]
    fn send_validates_the_payload() {
        let mut a = LinkSession::new(LinkRole::Ecr, LinkConfig::default());
        assert_eq!(
            a.send(T0, b"a\x03b"),
            Err(Error::LinkPayloadByte { byte: 0x03 })
        );
        assert!(matches!(
            a.send(T0, &[b'a'; MAX_PAYLOAD + 1]),
            Err(Error::CapacityExceeded { .. })
        ));
        assert!(!a.is_busy());
        a.send(T0, &[b'a'; MAX_PAYLOAD]).unwrap();
        let _ = out(&mut a);
        a.handle_bytes(T0, &[ACK]);
        let mut small = [0u8; 10];
        assert_eq!(
            a.poll_transmit(&mut small),
            Err(Error::BufferTooSmall {
                needed: MAX_PAYLOAD + 3
            })
        );
        assert_eq!(out(&mut a).len(), MAX_PAYLOAD + 3, "still queued");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Arbitrary bytes and timer calls never panic and never grow the queues past
            /// their capacities; the session always ends idle once its timers have run.
            #[test]
            fn never_panics(
                chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..20),
                role in any::<bool>(),
                send_at in proptest::option::of(0usize..20),
            ) {
                let role = if role { LinkRole::Ecr } else { LinkRole::Terminal };
                let mut s = LinkSession::new(role, LinkConfig::default());
                let mut now = T0;
                for (i, c) in chunks.iter().enumerate() {
                    if send_at == Some(i) {
                        let _ = s.send(now, b"0100001250110978");
                    }
                    s.handle_bytes(now, c);
                    now = ms(now.as_millis() + 700);
                    s.handle_timeout(now);
                    let _ = out(&mut s);
                    let _ = events(&mut s);
                }
                for _ in 0..100 {
                    match s.poll_timeout() {
                        Some(t) => { now = now.max(t); s.handle_timeout(now); let _ = out(&mut s); }
                        None => break,
                    }
                }
                prop_assert!(!s.is_busy());
            }

            /// A line of ENQs, EOTs, frames (good, with a bad LRC, too long, cut), noise and
            /// control bytes gives the same transmissions, events and counts whether each
            /// read is one byte (`feed_byte`, and every read on a 32-bit target) or the
            /// reads are longer (the accumulator's `feed`, on a 64-bit host).
            #[test]
            fn one_byte_reads_and_longer_reads_agree(
                pieces in proptest::collection::vec(
                    (0u8..6, proptest::collection::vec(any::<u8>(), 0..100), any::<u8>()),
                    0..12,
                ),
                cuts in proptest::collection::vec(1usize..40, 1..8),
                role in any::<bool>(),
            ) {
                let role = if role { LinkRole::Ecr } else { LinkRole::Terminal };
                let mut line = StdVec::new();
                for (kind, bytes, x) in &pieces {
                    let printable: StdVec<u8> = bytes.iter().map(|b| 0x20 + b % 0x5f).collect();
                    match kind {
                        0 => line.push(ENQ),
                        1 => line.push(EOT),
                        2 => line.extend_from_slice(bytes),
                        3 => {
                            // A frame of printable bytes (too long past MAX_PAYLOAD), its
                            // LRC damaged when `x` is odd.
                            let mut f = frame(&printable);
                            if x % 2 == 1 && let Some(l) = f.last_mut() { *l ^= x; }
                            line.extend_from_slice(&f);
                        }
                        4 => line.extend_from_slice(&frame(&printable)[..usize::from(*x) % 8 % (printable.len() + 3)]),
                        _ => line.push(*x % 8),
                    }
                }
                let mut one = LinkSession::new(role, LinkConfig::default());
                let mut longer = LinkSession::new(role, LinkConfig::default());
                let (mut at, mut k, mut t) = (0, 0, 0u64);
                while at < line.len() {
                    let n = cuts[k % cuts.len()].min(line.len() - at);
                    let read = &line[at..at + n];
                    for b in read {
                        one.handle_bytes(ms(t), core::slice::from_ref(b));
                    }
                    longer.handle_bytes(ms(t), read);
                    prop_assert_eq!(out(&mut one), out(&mut longer));
                    prop_assert_eq!(events(&mut one), events(&mut longer));
                    prop_assert_eq!(one.poll_timeout(), longer.poll_timeout());
                    prop_assert_eq!(one.received(), longer.received());
                    at += n;
                    k += 1;
                    t += 300;
                }
                prop_assert_eq!(one.discarded_bytes(), longer.discarded_bytes());
                prop_assert_eq!(one.is_busy(), longer.is_busy());
            }

            /// Any damage to one byte on the wire still delivers the frame exactly once, or
            /// reports a failure; never twice.
            #[test]
            fn one_damaged_byte_never_duplicates(pos in 0usize..60, flip in 1u8..=255) {
                let mut p = Pair::new(LinkRole::Ecr, LinkRole::Terminal);
                p.a.send(T0, b"0100001250110978          A010B010").unwrap();
                // Damage the byte at absolute wire offset `pos` (across chunks).
                let mut seen = 0usize;
                p.tamper = std::boxed::Box::new(move |_, _, bytes| {
                    if (seen..seen + bytes.len()).contains(&pos) {
                        bytes[pos - seen] ^= flip;
                    }
                    seen += bytes.len();
                });
                let (ea, eb) = p.run(1_000_000);
                let received = eb.iter().filter(|e| matches!(e, LinkEvent::Received(_))).count();
                let sent = ea.contains(&LinkEvent::Sent);
                prop_assert!(received <= 1, "{eb:?}");
                if sent {
                    prop_assert_eq!(received, 1, "sent but not received: {:?} {:?}", ea, eb);
                }
                prop_assert!(!p.a.is_busy() && !p.b.is_busy());
            }
        }
    }
}
