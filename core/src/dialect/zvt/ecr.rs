//! The ZVT till (ECR) side, sans-IO: [`ZvtEcr`] sends a [`Request`] as its ZVT command and
//! reads the terminal's answer sequence back into a [`Response`], behind [`EcrSide`].
//!
//! Before its first command the session registers (`06 00` with
//! [`ZvtEcrConfig::password`], [`ZvtEcrConfig::config_byte`] and the currency); then:
//! - the command goes out and the terminal must answer `80 00 00` within
//!   [`ZvtEcrConfig::ack_timeout`] ([`EcrEvent::Accepted`]); `84 xx` refuses it;
//! - every message of the terminal is acknowledged with `80 00 00` at once: `04 FF`
//!   becomes [`EcrEvent::Status`], `04 0F` fills the response (amount, trace, receipt number,
//!   approval code, masked card number), `06 D1` lines and `06 D3` blocks become
//!   [`EcrEvent::ReceiptPart`]s, and `06 0F` (approved) or `06 1E` (the result code's outcome)
//!   ends it with [`EcrEvent::Response`];
//! - nothing from the terminal for [`ZvtEcrConfig::response_timeout`] is
//!   [`EcrEvent::TimedOut`].
//!
//! A stream out of step: ZVT messages carry no sequence number, so once a command went
//! unanswered (no `80 00 00` within [`ZvtEcrConfig::ack_timeout`]), a serial frame was sent
//! again after a NAK (the terminal may have taken the first copy and refuses the second with
//! `84 9C` busy) or the till sent a NAK (the terminal repeats its frame, twice if the NAK is
//! doubled on the line), a later `84 xx` may answer an earlier command, or be a copy, rather
//! than answer the one just sent. From then on the session takes `84 xx` to a command as "outcome unknown"
//! ([`EcrEvent::Failed`], [`Error::LinkUnexpected`]), never as a refusal that says the command
//! was not done; a driver that wants certainty again opens a new connection and a new session.
//! Over serial, a NAK to a command that moves money (`06 01`, `06 30`, `06 31`, `06 50`,
//! `06 22`–`06 25`) does not make the till send it again: a NAK names no frame, and a late one
//! meant for an earlier, damaged frame would have the terminal run the command twice. The
//! command's outcome is then unknown. Other frames are repeated after a NAK.
//! (Found by the property test `zvt_tcp_till_and_terminal_never_silently_disagree`: a
//! registration answered 5 s late made the refusal of the second registration read as the
//! refusal of the sale that followed, which the terminal ran.)
//!
//! Requests: sale `06 01`, refund `06 31`, reversal by receipt number `06 30` with `87`
//! (a reversal by approval code: `06 30` without it, the terminal's last payment), close
//! totals `06 50`, reprint `06 20`, test terminal `05 01`, test bank `06 70`, abort `06 B0`
//! (also while a command runs). Sale with cash back, subtotals, last sums and last
//! transaction have no ZVT command here: [`Error::Unsupported`].

use core::time::Duration;

use heapless::{Deque, String, Vec};

use super::fields::Bmps;
use super::message::{Message, Registration, WithPassword};
use super::session::{Receive, Rx, Transport, Wire, config_bit, result};
use crate::session::{EcrEvent, EcrSide, RECEIPT_PART_CAPACITY};
use crate::txn::{
    ApprovalCode, CardScheme, Currency, DeclineCode, FailReason, MaskedPan, Money, Outcome,
    Request, RequestKind, Response,
};
use crate::{Error, Instant, Result};

/// Events a till session holds until polled (a receipt part is 1 KiB).
pub const ECR_EVENTS: usize = 4;

/// Settings of a [`ZvtEcr`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZvtEcrConfig {
    /// The terminal's password, six digits.
    pub password: u32,
    /// The registration config byte (default: payment and administration receipts to the
    /// till as print lines, intermediate status).
    pub config_byte: u8,
    /// The currency registered and sent with amounts.
    pub currency: Currency,
    /// How long to wait for the terminal's `80 00 00` (5 s).
    pub ack_timeout: Duration,
    /// How long to wait for the next message of a running command (60 s).
    pub response_timeout: Duration,
    /// TCP or serial framing.
    pub transport: Transport,
}

impl ZvtEcrConfig {
    /// Defaults for `currency`: password `000000`, receipts and intermediate status, 5 s and
    /// 60 s, TCP.
    pub fn new(currency: Currency) -> Self {
        ZvtEcrConfig {
            password: 0,
            config_byte: config_bit::ECR_PRINTS_PAYMENT
                | config_bit::ECR_PRINTS_ADMIN
                | config_bit::INTERMEDIATE_STATUS,
            currency,
            ack_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            transport: Transport::Tcp,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    /// `06 00` sent: waiting for its ACK and completion, then the command goes.
    Registering {
        deadline: Instant,
    },
    /// The command sent: waiting for `80 00 00`.
    AwaitAck {
        deadline: Instant,
    },
    /// Acknowledged: reading the terminal's messages until completion or abort.
    Running {
        deadline: Instant,
    },
}

/// What the status information of the running command said.
#[derive(Clone, Debug, Default)]
struct Info {
    result: Option<u8>,
    bank_code: Option<u8>,
    amount: Option<u64>,
    currency: Option<u16>,
    trace: Option<u32>,
    approval: Option<ApprovalCode>,
    pan: Option<MaskedPan>,
}

/// The till side of ZVT (see the module docs).
#[derive(Debug)]
pub struct ZvtEcr {
    rx: Rx,
    core: Core,
}

#[derive(Debug)]
struct Core {
    cfg: ZvtEcrConfig,
    wire: Wire,
    events: Deque<EcrEvent, ECR_EVENTS>,
    dropped: u32,
    state: State,
    registered: bool,
    request: Option<Request>,
    /// The command waiting for the registration to finish.
    command: Vec<u8, 64>,
    info: Info,
    receipt: String<RECEIPT_PART_CAPACITY>,
    /// A command went unanswered or a frame was sent twice: a `84 xx` may not be the answer
    /// to the command just sent (see the module docs).
    out_of_step: bool,
}

impl ZvtEcr {
    /// A till session with `cfg`, not registered yet.
    pub fn new(cfg: ZvtEcrConfig) -> Self {
        ZvtEcr {
            rx: Rx::new(cfg.transport),
            core: Core {
                wire: Wire::new(cfg.transport),
                cfg,
                events: Deque::new(),
                dropped: 0,
                state: State::Idle,
                registered: false,
                request: None,
                command: Vec::new(),
                info: Info::default(),
                receipt: String::new(),
                out_of_step: false,
            },
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped_events(&self) -> u32 {
        self.core.dropped
    }
}

/// The outcome a ZVT result code stands for (the inverse of
/// [`super::session::result_code`]).
pub fn outcome_of(code: u8) -> Outcome {
    use result as r;
    let failed = |reason| Outcome::Failed { reason };
    match code {
        r::SUCCESS => Outcome::Approved,
        r::ABORTED => Outcome::Cancelled,
        r::REMOTE_NO_ANSWER => Outcome::Timeout,
        r::RECEIVER_NOT_READY => Outcome::TerminalOffline,
        r::NO_CONNECTION => Outcome::BankUnavailable,
        r::CARD_NOT_READABLE => failed(FailReason::CardError),
        r::CARD_EXPIRED => failed(FailReason::CardExpired),
        r::CARD_BLOCKED => failed(FailReason::CardBlocked),
        r::ALREADY_REVERSED
        | r::REVERSAL_NOT_POSSIBLE
        | r::PRE_AUTH_INCORRECT
        | r::PRE_AUTH_ERROR => failed(FailReason::NoMatchingTransaction),
        r::FUNCTION_NOT_POSSIBLE => failed(FailReason::NotSupported),
        r::PROTOCOL_ERROR => failed(FailReason::Protocol),
        r::PLEASE_WAIT => failed(FailReason::Busy),
        r::PRINTER_NOT_READY => failed(FailReason::PrinterError),
        1..=0x63 => {
            let mut text: String<4> = String::new();
            let _ = core::fmt::write(&mut text, format_args!("{code:02}"));
            match DeclineCode::new(&text) {
                Ok(code) => Outcome::Declined { code },
                Err(_) => failed(FailReason::Other),
            }
        }
        _ => failed(FailReason::Other),
    }
}

/// Whether a serial frame carries a command that moves money or closes the day (`06 01`
/// authorisation, `06 30` reversal, `06 31` refund, `06 50` end of day, `06 22`–`06 25`
/// pre-authorisation). The till does not send such a frame again after a NAK: a NAK names no
/// frame, and one that answered an earlier, damaged frame (a late one) would make the
/// terminal run the command twice. The command then goes unanswered and its outcome is
/// unknown, which the till reports; acknowledgements, registration, abort and enquiries are
/// sent again as PA00P016 asks.
fn moves_money(frame: &[u8]) -> bool {
    // DLE STX class instr …: no class or instruction below is a DLE, so no doubling before.
    matches!(
        frame.get(2..4),
        Some([0x06, 0x01 | 0x30 | 0x31 | 0x50 | 0x22 | 0x23 | 0x24 | 0x25])
    )
}

/// A card number of BMP `22` (BCD, `E` a masked digit, `F` a pad) as a masked PAN.
fn masked_pan(bcd: &[u8]) -> Option<MaskedPan> {
    let mut text: String<20> = String::new();
    for nibble in bcd.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
        let c = match nibble {
            0..=9 => char::from(b'0' + nibble),
            0x0E => '*',
            _ => break,
        };
        text.push(c).ok()?;
    }
    MaskedPan::parse(&text).ok()
}

/// The lines of a `06 D3` text block's TLV content: the `07` values inside `25`.
fn block_text(tlv: &[u8], out: &mut String<RECEIPT_PART_CAPACITY>) {
    let Ok(Some(lines)) = crate::emv::find(tlv, crate::emv::Tag::from_parsed(0x25)) else {
        return;
    };
    for item in crate::emv::parse(lines).flatten() {
        if item.tag.value() == 0x07 {
            for &b in item.value {
                let _ = out.push(if b.is_ascii() { char::from(b) } else { '?' });
            }
            let _ = out.push('\n');
        }
    }
}

impl Core {
    fn event(&mut self, ev: EcrEvent) {
        if crate::queue::push_keeping(&mut self.events, ev, |e| {
            matches!(e, EcrEvent::ProtocolError(_))
        }) {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    fn ack(&mut self) {
        let _ = self.wire.send(&Message::Ack(&[]));
    }

    /// The command of `request`, written into `self.command`.
    fn command_of(&mut self, request: &Request) -> Result<()> {
        let pw = self.cfg.password;
        let with_pw = |bmps| WithPassword { password: pw, bmps };
        let msg = match request {
            Request::Sale { amount, .. } => Message::Authorisation(Bmps {
                amount: Some(amount.minor()),
                currency: Some(amount.currency.numeric()),
                ..Bmps::default()
            }),
            Request::Refund { amount, .. } => Message::Refund(with_pw(Bmps {
                amount: Some(amount.minor()),
                currency: Some(amount.currency.numeric()),
                ..Bmps::default()
            })),
            Request::ReversalByReceipt { receipt } => Message::Reversal(with_pw(Bmps {
                receipt_no: Some(*receipt),
                ..Bmps::default()
            })),
            Request::Reversal { .. } => Message::Reversal(with_pw(Bmps::default())),
            Request::CloseTotals => Message::EndOfDay(with_pw(Bmps::default())),
            Request::Reprint => Message::RepeatReceipt(with_pw(Bmps::default())),
            Request::TestTerminal => Message::StatusEnquiry(Default::default()),
            Request::TestBank => Message::Diagnosis(Bmps::default()),
            Request::Reservation { amount } => Message::Reservation(Bmps {
                amount: Some(amount.minor()),
                currency: Some(amount.currency.numeric()),
                ..Bmps::default()
            }),
            Request::BookTotal { receipt, amount } => Message::BookTotal(Bmps {
                receipt_no: Some(*receipt),
                amount: Some(amount.minor()),
                currency: Some(amount.currency.numeric()),
                ..Bmps::default()
            }),
            Request::PartialReversal { receipt, amount } => Message::PartialReversal(Bmps {
                receipt_no: Some(*receipt),
                amount: Some(amount.minor()),
                currency: Some(amount.currency.numeric()),
                ..Bmps::default()
            }),
            Request::PreAuthReversal { receipt } => Message::PreAuthReversal(Bmps {
                receipt_no: Some(*receipt),
                ..Bmps::default()
            }),
            Request::SaleWithCashback { .. }
            | Request::Subtotals
            | Request::LastSums
            | Request::LastTransaction
            | Request::Abort => {
                return Err(Error::Unsupported {
                    what: "this request in ZVT",
                });
            }
        };
        let mut buf = [0u8; 64];
        let n = msg.emit(&mut buf)?;
        self.command.clear();
        self.command
            .extend_from_slice(buf.get(..n).unwrap_or_default())
            .map_err(|_| Error::CapacityExceeded {
                what: "zvt command",
            })
    }

    fn send_command(&mut self, now: Instant) {
        let cmd = self.command.clone();
        self.wire_apdu(&cmd);
        self.state = State::AwaitAck {
            deadline: now.saturating_add(self.cfg.ack_timeout),
        };
    }

    /// Sends an APDU already encoded.
    fn wire_apdu(&mut self, apdu: &[u8]) {
        match super::Apdu::parse_exact(apdu).and_then(|a| Message::parse(&a)) {
            Ok(m) => {
                if let Err(e) = self.wire.send(&m) {
                    self.event(EcrEvent::Failed(e));
                }
            }
            Err(e) => self.event(EcrEvent::Failed(e)),
        }
    }

    fn start(&mut self, now: Instant, request: &Request) -> Result<()> {
        if *request == Request::Abort {
            if matches!(self.state, State::Running { .. } | State::AwaitAck { .. }) {
                return self.wire.send(&Message::AbortRequest);
            }
            return Err(Error::Unsupported {
                what: "zvt abort with nothing running",
            });
        }
        if self.state != State::Idle {
            return Err(Error::LinkBusy);
        }
        self.command_of(request)?;
        self.request = Some(request.clone());
        self.info = Info::default();
        self.receipt.clear();
        if self.registered {
            self.send_command(now);
        } else {
            let reg = Message::Registration(Registration {
                password: self.cfg.password,
                config: self.cfg.config_byte,
                currency: Some(self.cfg.currency.numeric()),
                bmps: Bmps::default(),
            });
            self.wire.send(&reg)?;
            self.state = State::Registering {
                deadline: now.saturating_add(self.cfg.ack_timeout),
            };
        }
        Ok(())
    }

    fn kind(&self) -> RequestKind {
        self.request
            .as_ref()
            .map_or(RequestKind::TestTerminal, Request::kind)
    }

    /// Ends the command with result code `code` and what the status information said.
    fn finish(&mut self, code: u8) {
        self.flush_receipt();
        let mut r = Response::new(self.kind(), outcome_of(code));
        // The texts the terminal side words these codes from, so that the till reads the
        // same result code back ([`super::session::response_result_code`]).
        let text = match code {
            result::ALREADY_REVERSED => Some(crate::terminal::ALREADY_REVERSED_TEXT),
            result::PRE_AUTH_INCORRECT => Some(crate::terminal::PREAUTH_AMOUNT_TEXT),
            result::PRE_AUTH_ERROR => Some(crate::terminal::PREAUTH_UNKNOWN_TEXT),
            _ => None,
        };
        if let Some(text) = text {
            let mut t: String<64> = String::new();
            let _ = t.push_str(text);
            r.text = Some(t);
        }
        let info = core::mem::take(&mut self.info);
        let currency = info
            .currency
            .and_then(|c| Currency::from_numeric(c).ok())
            .unwrap_or(self.cfg.currency);
        // No status information with an amount: a completion (`06 0F`) approves the command
        // as sent, so the amount asked is the amount approved; an abort moved no money and
        // carries none, and the till reports none (never the request's, filled in).
        r.amount = match (info.amount, &self.request) {
            (Some(a), _) => Money::new(a, currency).ok(),
            (None, Some(req)) if r.outcome.is_approved() => req.amount(),
            (None, _) => None,
        };
        r.trace = info.trace;
        r.approval_code = info.approval;
        r.pan = info.pan;
        r.scheme = info.pan.map(|p| CardScheme::from_bin(p.bin()));
        if let (Outcome::Declined { .. }, Some(code)) = (&r.outcome, info.bank_code) {
            let mut text: String<4> = String::new();
            let _ = core::fmt::write(&mut text, format_args!("{code:02}"));
            if let Ok(code) = DeclineCode::new(&text) {
                r.outcome = Outcome::Declined { code };
            }
        }
        self.state = State::Idle;
        self.request = None;
        self.event(EcrEvent::Response(r));
    }

    fn flush_receipt(&mut self) {
        if !self.receipt.is_empty() {
            let text = core::mem::take(&mut self.receipt);
            self.event(EcrEvent::ReceiptPart { text, more: false });
        }
    }

    fn on_apdu(&mut self, now: Instant, apdu: &super::Apdu<'_>) {
        let msg = match Message::parse(apdu) {
            Ok(m) => m,
            Err(e) => {
                // Acknowledged all the same: the terminal must not stall on it.
                if matches!(self.state, State::Running { .. }) {
                    self.ack();
                }
                self.event(EcrEvent::ProtocolError(e));
                return;
            }
        };
        match (self.state, msg) {
            (State::Registering { .. }, Message::Ack(_)) => {}
            (State::Registering { .. }, Message::Completion(_)) => {
                self.ack();
                self.registered = true;
                self.send_command(now);
            }
            (State::Registering { .. }, Message::Abort(a)) => {
                self.ack();
                self.finish(a.result_code);
            }
            (State::Registering { .. } | State::AwaitAck { .. }, Message::Nack(_))
                if self.out_of_step =>
            {
                // Maybe the answer to an earlier command or to another copy: unknown.
                self.state = State::Idle;
                self.request = None;
                self.event(EcrEvent::Failed(Error::LinkUnexpected {
                    what: "zvt refusal on a stream out of step",
                }));
            }
            (State::Registering { .. } | State::AwaitAck { .. }, Message::Nack(code)) => {
                self.finish(code);
            }
            (State::AwaitAck { .. }, Message::Ack(_)) => {
                self.state = State::Running {
                    deadline: now.saturating_add(self.cfg.response_timeout),
                };
                self.event(EcrEvent::Accepted);
            }
            (State::Running { .. }, m) => {
                if matches!(m, Message::Ack(_) | Message::Nack(_)) {
                    // The acknowledgement of the till's abort.
                    return;
                }
                self.ack();
                self.state = State::Running {
                    deadline: now.saturating_add(self.cfg.response_timeout),
                };
                self.running(m);
            }
            (_, m) => {
                let (class, instr) = m.control();
                self.event(EcrEvent::ProtocolError(Error::ZvtCommand { class, instr }));
            }
        }
    }

    fn running(&mut self, m: Message<'_>) {
        match m {
            Message::IntermediateStatus(s) => self.event(EcrEvent::Status { code: s.status }),
            Message::StatusInformation(b) => {
                // Each status information describes the transaction whole: it replaces what
                // an earlier one said, never mixes with it (an earlier one may belong to
                // another transaction on a stream out of step).
                let approval = b.aid.and_then(|aid| {
                    let end = aid.iter().position(|&c| c == 0).unwrap_or(aid.len());
                    core::str::from_utf8(aid.get(..end).unwrap_or_default())
                        .ok()
                        .and_then(|s| ApprovalCode::new(s.trim()).ok())
                });
                self.info = Info {
                    result: b.result_code,
                    bank_code: b.result_code_as,
                    amount: b.amount,
                    currency: b.currency,
                    trace: b.trace,
                    approval,
                    pan: b.card_number.and_then(masked_pan),
                };
            }
            Message::PrintLine(p) => {
                let fits = self.receipt.len() + p.text.len() < RECEIPT_PART_CAPACITY;
                if !fits {
                    let text = core::mem::take(&mut self.receipt);
                    self.event(EcrEvent::ReceiptPart { text, more: true });
                }
                for &b in p.text {
                    let _ = self
                        .receipt
                        .push(if b.is_ascii() { char::from(b) } else { '?' });
                }
                let _ = self.receipt.push('\n');
                if p.attribute == 0xFF {
                    self.flush_receipt();
                }
            }
            Message::PrintTextBlock(b) => {
                self.flush_receipt();
                let mut text = String::new();
                if let Some(tlv) = b.tlv {
                    block_text(tlv, &mut text);
                }
                if !text.is_empty() {
                    self.event(EcrEvent::ReceiptPart { text, more: false });
                }
            }
            Message::Completion(_) => {
                let code = self.info.result.unwrap_or(result::SUCCESS);
                self.finish(code);
            }
            Message::Abort(a) => self.finish(a.result_code),
            other => {
                let (class, instr) = other.control();
                self.event(EcrEvent::ProtocolError(Error::ZvtCommand { class, instr }));
            }
        }
    }

    fn timeout(&mut self, now: Instant) {
        match self.state {
            State::Registering { deadline } | State::AwaitAck { deadline } if now >= deadline => {
                // The command may still be taken, and its answer arrive later.
                self.out_of_step = true;
                self.state = State::Idle;
                self.request = None;
                self.event(EcrEvent::Failed(Error::LinkNoAck));
            }
            State::Running { deadline } if now >= deadline => {
                self.state = State::Idle;
                self.request = None;
                self.event(EcrEvent::TimedOut);
            }
            _ => {}
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let own = match self.state {
            State::Idle => None,
            State::Registering { deadline }
            | State::AwaitAck { deadline }
            | State::Running { deadline } => Some(deadline),
        };
        crate::time::earliest(own, self.wire.deadline())
    }
}

/// The till reports whatever it cannot read.
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
    fn apdu(&mut self, now: Instant, apdu: &super::Apdu<'_>) {
        self.on_apdu(now, apdu);
    }
    fn bad_apdu(&mut self, error: Error) {
        self.event(EcrEvent::ProtocolError(error));
    }
    fn bad_frame(&mut self, error: Error) {
        self.event(EcrEvent::ProtocolError(error));
    }
    fn nak(&mut self) {
        // The terminal may have taken the first copy all the same.
        self.out_of_step = true;
        if self.wire.in_flight().is_some_and(moves_money) {
            // Never a second copy of a command that moves money.
            self.wire.give_up();
        } else {
            self.wire.repeat();
        }
    }
    fn nakked(&mut self) {
        // The terminal repeats its frame, more than once if the NAK is doubled on the line:
        // a copy may come late.
        self.out_of_step = true;
    }
}

impl EcrSide for ZvtEcr {
    fn start(&mut self, now: Instant, request: &Request) -> Result<()> {
        self.core.wire.now = now;
        self.core.start(now, request)
    }

    fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.rx.feed(&mut self.core, now, bytes);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.core.wire.timeout(now);
        self.core.timeout(now);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.core.wire.poll_transmit(buf)
    }

    fn poll_event(&mut self) -> Option<EcrEvent> {
        self.core.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.core.deadline()
    }

    fn is_busy(&self) -> bool {
        self.core.state != State::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::zvt::serial;
    use crate::dialect::zvt::session::{ZvtTerminal, ZvtTerminalConfig};
    use crate::session::{TerminalEvent, TerminalSide};

    /// Both sides over a perfect wire; the terminal's application answers with `answer`
    /// (given the request) and a receipt text. Returns the till's events.
    fn exchange(
        request: &Request,
        answer: impl Fn(&Request) -> Response,
        receipt: &str,
        password: u32,
    ) -> std::vec::Vec<EcrEvent> {
        let mut tcfg = ZvtTerminalConfig::new(Currency::EUR);
        tcfg.password = 123_456;
        let mut term = ZvtTerminal::new(tcfg);
        let mut ecfg = ZvtEcrConfig::new(Currency::EUR);
        ecfg.password = password;
        let mut ecr = ZvtEcr::new(ecfg);
        let now = Instant::ZERO;
        ecr.start(now, request).unwrap();
        let mut wire = [0u8; 4096];
        let mut got = std::vec::Vec::new();
        for _ in 0..200 {
            while let Some(n) = ecr.poll_transmit(&mut wire).unwrap() {
                term.handle_bytes(now, &wire[..n]);
            }
            while let Some(ev) = term.poll_event() {
                match ev {
                    TerminalEvent::Request(r) => term.respond(now, &answer(&r)).unwrap(),
                    TerminalEvent::ReceiptRequested => {
                        term.send_receipt_part(now, receipt, false).unwrap()
                    }
                    _ => {}
                }
            }
            while let Some(n) = term.poll_transmit(&mut wire).unwrap() {
                ecr.handle_bytes(now, &wire[..n]);
            }
            while let Some(ev) = ecr.poll_event() {
                got.push(ev);
            }
            if !ecr.is_busy() && !term.is_busy() {
                break;
            }
        }
        assert!(!ecr.is_busy() && !term.is_busy(), "{got:?}");
        got
    }

    fn eur(minor: u64) -> Money {
        Money::new(minor, Currency::EUR).unwrap()
    }

    fn response_of(events: &[EcrEvent]) -> &Response {
        events
            .iter()
            .find_map(|e| match e {
                EcrEvent::Response(r) => Some(r),
                _ => None,
            })
            .expect("a response")
    }

    #[test]
    fn a_sale_between_our_two_sides() {
        let sale = Request::Sale {
            amount: eur(1250),
            reference: None,
        };
        let events = exchange(
            &sale,
            |r| {
                let mut a = Response::new(r.kind(), Outcome::Approved);
                a.amount = r.amount();
                a.trace = Some(17);
                a.approval_code = ApprovalCode::new("A1B2C3").ok();
                a.pan = MaskedPan::parse("476173******0119").ok();
                a
            },
            "SHOP\nTOTAL 12.50\n",
            123_456,
        );
        assert!(
            matches!(events.first(), Some(EcrEvent::Accepted)),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, EcrEvent::Status { code: 0x0A }))
        );
        let r = response_of(&events);
        assert_eq!(r.outcome, Outcome::Approved);
        assert_eq!(r.amount, Some(eur(1250)));
        assert_eq!(r.trace, Some(17));
        assert_eq!(r.approval_code.as_ref().map(|c| c.as_str()), Some("A1B2C3"));
        assert_eq!(
            r.pan.map(|p| p.to_string()).as_deref(),
            Some("476173******0119")
        );
        let receipts: std::vec::Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                EcrEvent::ReceiptPart { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        // Both copies, line by line.
        assert_eq!(receipts, ["SHOP\nTOTAL 12.50\n", "SHOP\nTOTAL 12.50\n"]);
    }

    #[test]
    fn a_decline_and_a_wrong_password_between_our_two_sides() {
        let sale = Request::Sale {
            amount: eur(999),
            reference: None,
        };
        let events = exchange(
            &sale,
            |r| {
                let mut a = Response::new(
                    r.kind(),
                    Outcome::Declined {
                        code: DeclineCode::new("51").unwrap(),
                    },
                );
                a.amount = r.amount();
                a.trace = Some(18);
                a
            },
            "",
            123_456,
        );
        assert_eq!(
            response_of(&events).outcome,
            Outcome::Declined {
                code: DeclineCode::new("51").unwrap()
            }
        );
        let events = exchange(
            &Request::CloseTotals,
            |r| Response::new(r.kind(), Outcome::Approved),
            "",
            111_111,
        );
        assert_eq!(
            response_of(&events).outcome,
            Outcome::Failed {
                reason: FailReason::NotSupported
            }
        );
    }

    fn framed(apdu: &[u8]) -> std::vec::Vec<u8> {
        let mut f = std::vec![0u8; serial::frame_len(apdu)];
        let n = serial::encode_frame(apdu, &mut f).unwrap();
        f.truncate(n);
        f
    }

    fn drain(ecr: &mut ZvtEcr) -> std::vec::Vec<u8> {
        let mut all = std::vec::Vec::new();
        let mut buf = [0u8; 256];
        while let Some(n) = ecr.poll_transmit(&mut buf).unwrap() {
            all.extend_from_slice(&buf[..n]);
        }
        all
    }

    /// Found by `zvt_serial_till_and_terminal_never_silently_disagree` (20 000 cases): the
    /// till sent its `80 00 00` frame and the command right behind it, without waiting for the
    /// ACK of the first; a NAK meant for the `80 00 00` then repeated the command, and the
    /// terminal ran the sale twice. Over serial a frame now waits for the ACK of the one
    /// before it (stop and wait, PA00P016), and a NAK repeats the frame it answers.
    #[test]
    fn a_serial_nak_repeats_the_frame_it_answers_never_the_next_command() {
        let mut cfg = ZvtEcrConfig::new(Currency::EUR);
        cfg.transport = Transport::Serial;
        let mut ecr = ZvtEcr::new(cfg);
        let t = Instant::ZERO;
        let sale = Request::Sale {
            amount: eur(1250),
            reference: None,
        };
        ecr.start(t, &sale).unwrap();
        let registration = drain(&mut ecr);
        assert_eq!(&registration[..4], &[serial::DLE, serial::STX, 0x06, 0x00]);
        // The terminal: ACK byte, 80 00 00, then the registration's 06 0F.
        let mut answer = std::vec![serial::ACK];
        answer.extend(framed(&[0x80, 0x00, 0x00]));
        answer.extend(framed(&[0x06, 0x0F, 0x00]));
        ecr.handle_bytes(t, &answer);
        let ack_frame = framed(&[0x80, 0x00, 0x00]);
        let sent = drain(&mut ecr);
        // Two ACK bytes (one per frame) and the till's 80 00 00; the command waits.
        let mut want = std::vec![serial::ACK, serial::ACK];
        want.extend_from_slice(&ack_frame);
        assert_eq!(sent, want, "the command waits for the ACK of the 80 00 00");
        // The terminal NAKs the 80 00 00: that frame again, not the command.
        ecr.handle_bytes(t, &[serial::NAK]);
        assert_eq!(drain(&mut ecr), ack_frame);
        // Its ACK lets the command go.
        ecr.handle_bytes(t, &[serial::ACK]);
        let command = drain(&mut ecr);
        assert_eq!(&command[..4], &[serial::DLE, serial::STX, 0x06, 0x01]);
        // A late NAK after the command's ACK repeats nothing.
        ecr.handle_bytes(t, &[serial::ACK, serial::NAK]);
        assert_eq!(drain(&mut ecr), std::vec::Vec::<u8>::new());
    }

    /// Found by `zvt_serial_till_and_terminal_never_silently_disagree` (100 000 cases): the
    /// till NAKed a damaged `84 9C`, its NAK was doubled on the line, the terminal sent the
    /// refusal twice more, and the spare copy was read as the refusal of the till's next sale,
    /// which the terminal then ran. After the till sent a NAK, a refusal is "unknown".
    #[test]
    fn a_refusal_after_the_till_sent_a_nak_is_unknown() {
        let mut cfg = ZvtEcrConfig::new(Currency::EUR);
        cfg.transport = Transport::Serial;
        let mut ecr = ZvtEcr::new(cfg);
        let t = Instant::ZERO;
        let sale = Request::Sale {
            amount: eur(1250),
            reference: None,
        };
        ecr.start(t, &sale).unwrap();
        drain(&mut ecr);
        let mut answer = std::vec![serial::ACK];
        answer.extend(framed(&[0x80, 0x00, 0x00]));
        answer.extend(framed(&[0x06, 0x0F, 0x00]));
        ecr.handle_bytes(t, &answer);
        drain(&mut ecr);
        ecr.handle_bytes(t, &[serial::ACK]);
        drain(&mut ecr);
        ecr.handle_bytes(t, &[serial::ACK]);
        while ecr.poll_event().is_some() {}
        // The refusal arrives damaged: NAK; then whole.
        let mut damaged = framed(&[0x84, 0x9C, 0x00]);
        damaged[2] ^= 0x01;
        ecr.handle_bytes(t, &damaged);
        assert_eq!(drain(&mut ecr), std::vec![serial::NAK]);
        ecr.handle_bytes(t, &framed(&[0x84, 0x9C, 0x00]));
        let events: std::vec::Vec<_> = core::iter::from_fn(|| ecr.poll_event()).collect();
        assert!(
            events.iter().any(|e| matches!(e, EcrEvent::Failed(_))),
            "{events:?}"
        );
        assert!(
            !events.iter().any(|e| matches!(e, EcrEvent::Response(_))),
            "{events:?}"
        );
    }

    /// Found by `zvt_serial_till_and_terminal_never_silently_disagree` (20 000 cases): a
    /// frame cut short and completed by noise drew a NAK from the terminal just as the till's
    /// next sale arrived whole; the till took the NAK for its sale and sent the sale again,
    /// which reached the terminal after it had finished the first copy: the sale ran twice.
    /// A NAK never brings a money command again; an acknowledgement still is.
    #[test]
    fn a_serial_nak_never_sends_a_sale_twice() {
        let mut cfg = ZvtEcrConfig::new(Currency::EUR);
        cfg.transport = Transport::Serial;
        let mut ecr = ZvtEcr::new(cfg);
        let t = Instant::ZERO;
        let sale = Request::Sale {
            amount: eur(1250),
            reference: None,
        };
        ecr.start(t, &sale).unwrap();
        drain(&mut ecr);
        let mut answer = std::vec![serial::ACK];
        answer.extend(framed(&[0x80, 0x00, 0x00]));
        answer.extend(framed(&[0x06, 0x0F, 0x00]));
        ecr.handle_bytes(t, &answer);
        drain(&mut ecr);
        ecr.handle_bytes(t, &[serial::ACK]);
        let command = drain(&mut ecr);
        assert_eq!(&command[..4], &[serial::DLE, serial::STX, 0x06, 0x01]);
        ecr.handle_bytes(t, &[serial::NAK]);
        assert_eq!(
            drain(&mut ecr),
            std::vec::Vec::<u8>::new(),
            "no second copy"
        );
        // Unanswered, the sale ends unknown (no refusal, no approval).
        ecr.handle_timeout(Instant::from_millis(5_000));
        let events: std::vec::Vec<_> = core::iter::from_fn(|| ecr.poll_event()).collect();
        assert!(
            events.iter().any(|e| matches!(e, EcrEvent::Failed(_))),
            "{events:?}"
        );
    }

    /// Found by `zvt_tcp_till_and_terminal_never_silently_disagree` (20 000 cases): on a
    /// stream out of step the till read an earlier sale's status information (approved, with
    /// its approval code) and then its own sale's (declined, no approval code), and answered
    /// "declined" with the other sale's approval code: the fields of two status informations
    /// were merged. Now the last one replaces the others.
    #[test]
    fn a_status_information_replaces_the_one_before_it() {
        let mut ecr = ZvtEcr::new(ZvtEcrConfig::new(Currency::EUR));
        let t = Instant::ZERO;
        let sale = Request::Sale {
            amount: eur(1111),
            reference: None,
        };
        ecr.start(t, &sale).unwrap();
        ecr.handle_bytes(t, &[0x80, 0x00, 0x00, 0x06, 0x0F, 0x00]);
        ecr.handle_bytes(t, &[0x80, 0x00, 0x00]);
        let mut stale = std::vec![0u8; 64];
        let n = Message::StatusInformation(Bmps {
            result_code: Some(0),
            amount: Some(1000),
            trace: Some(4711),
            aid: Some(b"A05000\0\0"),
            ..Bmps::default()
        })
        .emit(&mut stale)
        .unwrap();
        ecr.handle_bytes(t, &stale[..n]);
        let mut own = std::vec![0u8; 64];
        let n = Message::StatusInformation(Bmps {
            result_code: Some(5),
            amount: Some(1111),
            trace: Some(4712),
            ..Bmps::default()
        })
        .emit(&mut own)
        .unwrap();
        ecr.handle_bytes(t, &own[..n]);
        ecr.handle_bytes(t, &[0x06, 0x1E, 0x01, 0x05]);
        let events: std::vec::Vec<_> = core::iter::from_fn(|| ecr.poll_event()).collect();
        let r = response_of(&events);
        assert!(!r.outcome.is_approved());
        assert_eq!((r.amount, r.trace), (Some(eur(1111)), Some(4712)));
        assert_eq!(r.approval_code, None, "no approval code of another sale");
    }

    /// Found by `zvt_tcp_till_and_terminal_never_silently_disagree`: a registration answered
    /// after the till's wait, read as the answer to the next registration, let the sale go
    /// out; the terminal's `84 9C` to the second registration then read as the sale's refusal
    /// ("not done") while the terminal ran the sale. Once the stream is out of step a refusal
    /// is "unknown".
    #[test]
    fn a_refusal_after_a_command_went_unanswered_is_unknown_not_not_done() {
        let mut ecr = ZvtEcr::new(ZvtEcrConfig::new(Currency::EUR));
        let sale = |minor| Request::Sale {
            amount: eur(minor),
            reference: None,
        };
        let t0 = Instant::ZERO;
        ecr.start(t0, &sale(1000)).unwrap();
        drain(&mut ecr);
        let t1 = Instant::from_millis(5_000);
        ecr.handle_timeout(t1);
        assert_eq!(ecr.poll_event(), Some(EcrEvent::Failed(Error::LinkNoAck)));
        ecr.start(t1, &sale(1111)).unwrap();
        drain(&mut ecr);
        // The first registration's late answer: the till registers and sends its sale.
        ecr.handle_bytes(t1, &[0x80, 0x00, 0x00, 0x06, 0x0F, 0x00]);
        assert_eq!(&drain(&mut ecr)[3..5], &[0x06, 0x01]);
        // The terminal's answer to the second registration: busy.
        ecr.handle_bytes(t1, &[0x84, 0x9C, 0x00]);
        let ev = ecr.poll_event();
        assert!(matches!(ev, Some(EcrEvent::Failed(_))), "{ev:?}");
        assert!(!ecr.is_busy());
    }

    #[test]
    fn result_codes_map_both_ways() {
        use crate::dialect::zvt::session::result_code;
        for o in [
            Outcome::Approved,
            Outcome::Cancelled,
            Outcome::Timeout,
            Outcome::BankUnavailable,
            Outcome::TerminalOffline,
            Outcome::Declined {
                code: DeclineCode::new("05").unwrap(),
            },
            Outcome::Failed {
                reason: FailReason::CardExpired,
            },
            Outcome::Failed {
                reason: FailReason::NoMatchingTransaction,
            },
        ] {
            assert_eq!(outcome_of(result_code(&o)), o);
        }
    }
}
