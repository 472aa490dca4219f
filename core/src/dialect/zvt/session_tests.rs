//! Tests of the ZVT terminal session: till commands in, the answer sequence out.
//!
//! Compiled for tests only: the parent module declares it `#[cfg(test)]`.

use super::*;
use crate::dialect::zvt::{Apdu, ApduStatus, apdu::MAX_DATA};
use crate::txn::{CardScheme, DeclineCode, Timestamp};

const PW: u32 = 123_456;
const T0: Instant = Instant::ZERO;

fn hex(s: &str) -> std::vec::Vec<u8> {
    let s: std::string::String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn terminal() -> ZvtTerminal {
    let mut cfg = ZvtTerminalConfig::new(Currency::EUR);
    cfg.password = PW;
    cfg.terminal_id = 52_500_038;
    ZvtTerminal::new(cfg)
}

/// Everything the terminal has to send, as separate APDUs (hex, no spaces).
fn out(t: &mut ZvtTerminal) -> std::vec::Vec<std::string::String> {
    let mut all = std::vec::Vec::new();
    let mut buf = [0u8; 64];
    while let Some(n) = t.poll_transmit(&mut buf).unwrap() {
        all.extend_from_slice(&buf[..n]);
    }
    let mut rest = &all[..];
    let mut apdus = std::vec::Vec::new();
    while !rest.is_empty() {
        let ApduStatus::Complete(_, used) = Apdu::parse(rest, MAX_DATA).unwrap() else {
            panic!("incomplete {rest:02X?}")
        };
        apdus.push(rest[..used].iter().map(|b| format!("{b:02X}")).collect());
        rest = &rest[used..];
    }
    apdus
}

fn events(t: &mut ZvtTerminal) -> std::vec::Vec<TerminalEvent> {
    core::iter::from_fn(|| t.poll_event()).collect()
}

const ACK: &str = "800000";

fn ack(t: &mut ZvtTerminal) {
    t.handle_bytes(T0, &hex(ACK));
}

/// Registers with `config`, checks the answer, acknowledges it.
fn register(t: &mut ZvtTerminal, config: u8) {
    t.handle_bytes(T0, &hex(&format!("06 00 06 12 34 56 {config:02X} 09 78")));
    assert_eq!(
        out(t),
        [ACK, "060F0A1900295250003849 0978".replace(' ', "").as_str()]
    );
    ack(t);
    assert!(!t.is_busy());
    assert!(events(t).is_empty());
    assert_eq!(t.registered_config(), Some(config));
}

fn eur(minor: u64) -> Money {
    Money::new(minor, Currency::EUR).unwrap()
}

fn approved(kind: RequestKind, amount: Money, trace: u32, code: &str) -> Response {
    let mut r = Response::new(kind, Outcome::Approved);
    r.amount = Some(amount);
    r.trace = Some(trace);
    r.approval_code = Some(ApprovalCode::new(code).unwrap());
    r.pan = Some(MaskedPan::parse("476173******0119").unwrap());
    r.scheme = Some(CardScheme::Visa);
    r.timestamp = Some(Timestamp::new(2026, 12, 7, 17, 5, 9).unwrap());
    r
}

fn expect_request(t: &mut ZvtTerminal) -> Request {
    match events(t).as_slice() {
        [TerminalEvent::Request(r)] => r.clone(),
        other => panic!("{other:?}"),
    }
}

/// Parses one APDU of `out` as a message and hands it to `check`.
fn with_msg(apdu: &str, check: impl FnOnce(Message<'_>)) {
    let b = hex(apdu);
    check(Message::parse_bytes(&b).unwrap());
}

/// An authorisation of 12.50 EUR from a registered till.
fn start_sale(t: &mut ZvtTerminal) {
    t.handle_bytes(T0, &hex("06 01 07 04 00 00 00 00 12 50"));
}

#[test]
fn registration_with_the_password_completes() {
    let mut t = terminal();
    register(&mut t, 0xDE);
}

#[test]
fn registration_with_a_wrong_password_is_refused() {
    let mut t = terminal();
    t.handle_bytes(T0, &hex("06 00 06 65 43 21 DE 09 78"));
    assert_eq!(out(&mut t), [ACK, "061E0183"]);
    ack(&mut t);
    assert_eq!(t.registered_config(), None);
    assert!(events(&mut t).is_empty());
}

#[test]
fn admin_commands_check_the_password() {
    for cmd in [
        "06 50 03 65 43 21",
        "06 20 03 00 00 00",
        "06 30 06 11 11 11 87 00 01",
        "06 31 0A 00 00 01 04 00 00 00 00 01 00",
    ] {
        let mut t = terminal();
        register(&mut t, 0x00);
        t.handle_bytes(T0, &hex(cmd));
        assert_eq!(out(&mut t), [ACK, "061E0183"], "{cmd}");
        ack(&mut t);
        assert!(events(&mut t).is_empty(), "{cmd}: nothing runs");
        assert!(!t.is_busy());
    }
}

#[test]
fn authorisation_streams_status_then_completes() {
    let mut t = terminal();
    register(&mut t, 0x08);
    start_sale(&mut t);
    assert_eq!(out(&mut t), [ACK, "04FF010A"]);
    assert_eq!(
        expect_request(&mut t),
        Request::Sale {
            amount: eur(1250),
            reference: None
        }
    );
    ack(&mut t);
    t.intermediate_status(T0, status::WAITING_FOR_HOST);
    assert_eq!(out(&mut t), ["04FF0104"]);
    // The answer comes while the status waits for its acknowledgement: it waits too.
    t.respond(T0, &approved(RequestKind::Sale, eur(1250), 42, "A1B2C3"))
        .unwrap();
    assert!(out(&mut t).is_empty());
    ack(&mut t);
    let info = out(&mut t);
    assert_eq!(info.len(), 1);
    with_msg(&info[0], |m| {
        let Message::StatusInformation(b) = m else {
            panic!("{m:?}")
        };
        assert_eq!(b.result_code, Some(0));
        assert_eq!(b.amount, Some(1250));
        assert_eq!(b.currency, Some(978));
        assert_eq!(b.trace, Some(42));
        assert_eq!(b.receipt_no, Some(42));
        assert_eq!(b.terminal_id, Some(52_500_038));
        // The card number masked: first 6, E for each hidden digit, last 4.
        assert_eq!(b.card_number, Some(&hex("476173EEEEEE0119")[..]));
        assert_eq!(b.aid, Some(b"A1B2C3\0\0"));
        assert_eq!(b.time, Some(170_509));
        assert_eq!(b.date, Some(1207));
    });
    assert!(events(&mut t).is_empty());
    ack(&mut t);
    assert_eq!(out(&mut t), ["060F022700"]);
    assert!(t.is_busy());
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ResponseDelivered]);
    assert!(!t.is_busy());
}

#[test]
fn no_status_to_a_till_that_did_not_ask() {
    let mut t = terminal();
    register(&mut t, 0x00);
    start_sale(&mut t);
    assert_eq!(out(&mut t), [ACK]);
    let _ = expect_request(&mut t);
    t.intermediate_status(T0, status::WAITING_FOR_HOST);
    assert!(out(&mut t).is_empty());
}

#[test]
fn a_decline_sends_the_result_then_aborts() {
    let mut t = terminal();
    register(&mut t, 0x00);
    start_sale(&mut t);
    let _ = out(&mut t);
    let _ = expect_request(&mut t);
    let mut r = Response::new(
        RequestKind::Sale,
        Outcome::Declined {
            code: DeclineCode::new("51").unwrap(),
        },
    );
    r.amount = Some(eur(1250));
    r.trace = Some(43);
    t.respond(T0, &r).unwrap();
    let info = out(&mut t);
    with_msg(&info[0], |m| {
        let Message::StatusInformation(b) = m else {
            panic!()
        };
        assert_eq!(b.result_code, Some(51));
        assert_eq!(b.result_code_as, Some(51));
    });
    ack(&mut t);
    assert_eq!(out(&mut t), ["061E0133"]);
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ResponseDelivered]);
}

#[test]
fn a_cancelled_payment_aborts_without_status_information() {
    let mut t = terminal();
    start_sale(&mut t);
    let _ = out(&mut t);
    let _ = expect_request(&mut t);
    // The till aborts: acknowledged, and the application is asked to abort.
    t.handle_bytes(T0, &hex("06 B0 00"));
    assert_eq!(out(&mut t), [ACK]);
    assert_eq!(expect_request(&mut t), Request::Abort);
    t.respond(T0, &Response::new(RequestKind::Abort, Outcome::Approved))
        .unwrap();
    assert!(out(&mut t).is_empty());
    t.respond(T0, &Response::new(RequestKind::Sale, Outcome::Cancelled))
        .unwrap();
    assert_eq!(out(&mut t), ["061E016C"]);
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ResponseDelivered]);
}

#[test]
fn an_unacknowledged_answer_is_undelivered() {
    let mut t = terminal();
    start_sale(&mut t);
    let _ = out(&mut t);
    let _ = expect_request(&mut t);
    t.respond(T0, &approved(RequestKind::Sale, eur(1250), 44, "X1"))
        .unwrap();
    let _ = out(&mut t);
    let deadline = t.poll_timeout().unwrap();
    assert_eq!(deadline, T0.saturating_add(Duration::from_secs(5)));
    t.handle_timeout(deadline);
    assert_eq!(
        events(&mut t),
        [TerminalEvent::ResponseUndelivered(Error::LinkNoAck)]
    );
    assert!(!t.is_busy());
}

#[test]
fn reversal_names_the_payment_by_its_receipt_number() {
    let mut t = terminal();
    t.handle_bytes(T0, &hex("06 30 06 12 34 56 87 00 07"));
    assert_eq!(out(&mut t), [ACK]);
    assert_eq!(
        expect_request(&mut t),
        Request::ReversalByReceipt { receipt: 7 }
    );
    // Already reversed: its own result code.
    let r = Response::new(
        RequestKind::Reversal,
        Outcome::Failed {
            reason: FailReason::NoMatchingTransaction,
        },
    )
    .with_text(crate::terminal::ALREADY_REVERSED_TEXT)
    .unwrap();
    t.respond(T0, &r).unwrap();
    assert_eq!(out(&mut t), ["061E01B4"]);
    ack(&mut t);
    let _ = events(&mut t);
    // Unknown: reversal not possible.
    t.handle_bytes(T0, &hex("06 30 06 12 34 56 87 12 34"));
    let _ = out(&mut t);
    let _ = expect_request(&mut t);
    let r = Response::new(
        RequestKind::Reversal,
        Outcome::Failed {
            reason: FailReason::NoMatchingTransaction,
        },
    );
    t.respond(T0, &r).unwrap();
    assert_eq!(out(&mut t), ["061E01B5"]);
    // Without a receipt number and no payment on this session: refused at once.
    ack(&mut t);
    let _ = events(&mut t);
    t.handle_bytes(T0, &hex("06 30 03 12 34 56"));
    assert_eq!(out(&mut t), [ACK, "061E01B5"]);
}

#[test]
fn receipts_go_as_print_lines_to_a_till_that_prints() {
    let mut t = terminal();
    register(&mut t, 0x02);
    start_sale(&mut t);
    let _ = out(&mut t);
    let _ = expect_request(&mut t);
    t.respond(T0, &approved(RequestKind::Sale, eur(1250), 45, "C"))
        .unwrap();
    let _ = out(&mut t);
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ReceiptRequested]);
    assert_eq!(
        t.receipt_wanted(),
        Some(ReceiptWanted::First(ReceiptCopy::Merchant))
    );
    t.send_receipt_part(T0, "SHOP\n", true).unwrap();
    assert_eq!(out(&mut t), ["06D1050053484F50"]);
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ReceiptRequested]);
    assert_eq!(t.receipt_wanted(), Some(ReceiptWanted::Next));
    t.send_receipt_part(T0, "12,50 €", false).unwrap();
    // The last line of the copy has attribute FF; a character outside ASCII is `?`.
    assert_eq!(out(&mut t), ["06D108FF31322C3530203F"]);
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ReceiptRequested]);
    assert_eq!(
        t.receipt_wanted(),
        Some(ReceiptWanted::First(ReceiptCopy::Customer))
    );
    // No text for this copy: nothing printed.
    t.send_receipt_part(T0, "", false).unwrap();
    assert_eq!(out(&mut t), ["060F022700"]);
}

#[test]
fn receipts_go_as_text_blocks_when_asked() {
    let mut t = terminal();
    register(&mut t, 0x84);
    t.handle_bytes(T0, &hex("06 50 03 12 34 56"));
    assert_eq!(out(&mut t), [ACK]);
    assert_eq!(expect_request(&mut t), Request::CloseTotals);
    t.respond(
        T0,
        &Response::new(RequestKind::CloseTotals, Outcome::Approved),
    )
    .unwrap();
    let _ = out(&mut t);
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ReceiptRequested]);
    t.send_receipt_part(T0, "AB\nC\n", false).unwrap();
    // 06 { 1F07 03, 25 { 07 "AB", 07 "C" } }
    assert_eq!(
        out(&mut t),
        ["06D30F060D1F0701032507070241420701 43".replace(' ', "")]
    );
}

#[test]
fn commands_while_busy_and_unknown_commands_are_refused() {
    let mut t = terminal();
    start_sale(&mut t);
    let _ = out(&mut t);
    let _ = expect_request(&mut t);
    t.handle_bytes(T0, &hex("06 50 03 12 34 56"));
    assert_eq!(out(&mut t), ["849C00"]);
    let mut t = terminal();
    t.handle_bytes(T0, &hex("06 99 00"));
    assert_eq!(out(&mut t), ["848300"]);
    assert!(matches!(
        events(&mut t).as_slice(),
        [TerminalEvent::ProtocolError(Error::ZvtCommand {
            class: 0x06,
            instr: 0x99
        })]
    ));
}

#[test]
fn serial_frames_are_acknowledged_and_answered_framed() {
    let mut cfg = ZvtTerminalConfig::new(Currency::EUR);
    cfg.transport = Transport::Serial;
    let mut t = ZvtTerminal::new(cfg);
    let mut frame = [0u8; 64];
    let n = serial::encode_frame(&hex("06 70 00"), &mut frame).unwrap();
    t.handle_bytes(T0, &frame[..n]);
    let mut buf = [0u8; 64];
    let got = t.poll_transmit(&mut buf).unwrap().unwrap();
    let mut ack_frame = [0u8; 16];
    let m = serial::encode_frame(&hex(ACK), &mut ack_frame).unwrap();
    let mut want = std::vec![serial::ACK];
    want.extend_from_slice(&ack_frame[..m]);
    assert_eq!(&buf[..got], &want[..]);
    assert_eq!(expect_request(&mut t), Request::TestBank);
    // A NAK repeats the last frame.
    t.handle_bytes(T0, &[serial::NAK]);
    let again = t.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(&buf[..again], &ack_frame[..m]);
}

#[test]
fn serial_frames_that_fail_are_nakked_or_refused() {
    let mut cfg = ZvtTerminalConfig::new(Currency::EUR);
    cfg.transport = Transport::Serial;
    let mut t = ZvtTerminal::new(cfg);
    let mut buf = [0u8; 64];
    // A frame whose CRC fails: NAK, reported, nothing else.
    let mut frame = [0u8; 64];
    let n = serial::encode_frame(&hex("06 70 00"), &mut frame).unwrap();
    frame[n - 1] ^= 0xFF;
    t.handle_bytes(T0, &frame[..n]);
    let got = t.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(&buf[..got], &[serial::NAK]);
    assert!(matches!(
        events(&mut t).as_slice(),
        [TerminalEvent::ProtocolError(Error::ZvtCrc { .. })]
    ));
    // A good frame that holds no whole APDU: acknowledged, then refused with `84 9A`.
    let n = serial::encode_frame(&hex("06 70 00 FF"), &mut frame).unwrap();
    t.handle_bytes(T0, &frame[..n]);
    let got = t.poll_transmit(&mut buf).unwrap().unwrap();
    let mut refusal = [0u8; 16];
    let m = serial::encode_frame(&hex("84 9A 00"), &mut refusal).unwrap();
    let mut want = std::vec![serial::ACK];
    want.extend_from_slice(&refusal[..m]);
    assert_eq!(&buf[..got], &want[..]);
    assert!(matches!(
        events(&mut t).as_slice(),
        [TerminalEvent::ProtocolError(_)]
    ));
}

/// Runs one pre-authorisation command: acknowledged, one request out.
fn pre_auth_command(t: &mut ZvtTerminal, apdu: &str) -> Request {
    t.handle_bytes(T0, &hex(apdu));
    assert_eq!(out(t), [ACK], "{apdu}");
    expect_request(t)
}

/// Refuses the running command with `text` (the open reservation: trace `open`); the bytes.
fn refuse(
    t: &mut ZvtTerminal,
    kind: RequestKind,
    text: &str,
    open: Option<u32>,
) -> std::string::String {
    let mut r = Response::new(
        kind,
        Outcome::Failed {
            reason: FailReason::NoMatchingTransaction,
        },
    );
    r.trace = open;
    let r = r.with_text(text).unwrap();
    t.respond(T0, &r).unwrap();
    let got = out(t);
    assert_eq!(got.len(), 1, "{got:?}");
    ack(t);
    assert_eq!(events(t), [TerminalEvent::ResponseDelivered]);
    got[0].clone()
}

#[test]
fn pre_authorisation_commands_and_their_refusals() {
    let mut t = terminal();
    register(&mut t, 0x00);
    // 06 22: 25.00 EUR reserved; status information with receipt number 0231, completion.
    let r = pre_auth_command(&mut t, "06 22 0A 04 00 00 00 00 25 00 49 09 78");
    assert_eq!(r, Request::Reservation { amount: eur(2500) });
    t.respond(
        T0,
        &approved(RequestKind::Reservation, eur(2500), 231, "A1B2"),
    )
    .unwrap();
    let info = out(&mut t);
    assert!(
        info[0].starts_with("040F") && info[0].contains("870231"),
        "{info:?}"
    );
    ack(&mut t);
    assert!(out(&mut t)[0].starts_with("060F"));
    ack(&mut t);
    assert_eq!(events(&mut t), [TerminalEvent::ResponseDelivered]);

    // 06 24 book total of 20.00 on receipt 0231; 06 23 partial reversal of 5.00; 06 25.
    let r = pre_auth_command(&mut t, "06 24 0A 87 02 31 04 00 00 00 00 20 00");
    assert_eq!(
        r,
        Request::BookTotal {
            receipt: 231,
            amount: eur(2000)
        }
    );
    // More than reserved: B7.
    assert_eq!(
        refuse(
            &mut t,
            RequestKind::BookTotal,
            crate::terminal::PREAUTH_AMOUNT_TEXT,
            None
        ),
        "061E01B7"
    );
    let r = pre_auth_command(&mut t, "06 23 0A 87 02 31 04 00 00 00 00 05 00");
    assert_eq!(
        r,
        Request::PartialReversal {
            receipt: 231,
            amount: eur(500)
        }
    );
    // No such reservation: B8 and, in BMP 87, the open one's receipt number (§2.10.1).
    assert_eq!(
        refuse(
            &mut t,
            RequestKind::PartialReversal,
            crate::terminal::PREAUTH_UNKNOWN_TEXT,
            Some(10_017)
        ),
        "061E04B8870017"
    );
    // Receipt FF FF without an amount asks for the open reservations: none (FF FF).
    let r = pre_auth_command(&mut t, "06 23 03 87 FF FF");
    assert_eq!(
        r,
        Request::PartialReversal {
            receipt: 0xFFFF,
            amount: eur(1)
        }
    );
    assert_eq!(
        refuse(
            &mut t,
            RequestKind::PartialReversal,
            crate::terminal::PREAUTH_BOOKED_TEXT,
            None
        ),
        "061E04B887FFFF"
    );
    let r = pre_auth_command(&mut t, "06 25 03 87 02 31");
    assert_eq!(r, Request::PreAuthReversal { receipt: 231 });
    assert_eq!(
        refuse(
            &mut t,
            RequestKind::PreAuthReversal,
            crate::terminal::PREAUTH_RELEASED_TEXT,
            None
        ),
        "061E04B887FFFF"
    );
    // A book total without a receipt number is malformed; nothing runs.
    t.handle_bytes(T0, &hex("06 24 07 04 00 00 00 00 20 00"));
    assert_eq!(out(&mut t), [ACK, "061E019A"]);
    assert!(events(&mut t).is_empty());
}

/// Fuzz find (`zvt_terminal_session`): over serial, with frames the till never acknowledged
/// filling the held queue, the answer to a new command could not be queued; the session
/// dropped it and stayed busy with nothing to wait for and no deadline, for ever. Now an
/// answer that cannot go ends the command undelivered.
#[test]
fn serial_answer_that_cannot_be_queued_never_leaves_the_session_stuck() {
    let mut cfg = ZvtTerminalConfig::new(Currency::EUR);
    cfg.transport = Transport::Serial;
    let mut t = ZvtTerminal::new(cfg);
    let mut frame = [0u8; 64];
    let n = serial::encode_frame(&hex("06 02 00"), &mut frame).unwrap();
    let log_off = frame[..n].to_vec();
    let n = serial::encode_frame(&hex(ACK), &mut frame).unwrap();
    let ack_apdu = frame[..n].to_vec();
    // A log-off, then four more while it runs (each refused busy): no frame of the
    // terminal is acknowledged with an ACK byte, so its frames wait behind the first.
    for _ in 0..5 {
        t.handle_bytes(T0, &log_off);
    }
    // The till acknowledges the log-off's answer at the APDU level: the command is over.
    t.handle_bytes(T0, &ack_apdu);
    assert!(!t.is_busy());
    // Another log-off: its answer cannot be queued behind the waiting frames.
    t.handle_bytes(T0, &log_off);
    // Every timer run out (the waiting frames go one by one, unacknowledged): idle.
    let mut buf = [0u8; 256];
    for _ in 0..64 {
        let Some(at) = t.poll_timeout() else { break };
        t.handle_timeout(at);
        while t.poll_transmit(&mut buf).unwrap().is_some() {}
        while t.poll_event().is_some() {}
    }
    assert!(t.poll_timeout().is_none());
    assert!(!t.is_busy(), "busy with nothing to wait for");
}

/// Over serial, every frame of the terminal is built when polled, straight into the caller's
/// buffer: polled one byte at a time it is the same frame (DLE doubling and CRC included) as
/// [`serial::encode_frame`] makes of the APDU, and a NAK gets exactly the same frame again,
/// even a text block of a whole receipt part (no copy of it is kept).
#[test]
fn serial_frames_built_when_polled_are_whole_in_any_buffer_and_repeat_alike() {
    let mut cfg = ZvtTerminalConfig::new(Currency::EUR);
    cfg.transport = Transport::Serial;
    let mut t = ZvtTerminal::new(cfg);
    let framed = |apdu: &str| {
        let mut f = [0u8; 128];
        let n = serial::encode_frame(&hex(apdu), &mut f).unwrap();
        f[..n].to_vec()
    };
    // Everything queued, polled one byte at a time.
    let poll1 = |t: &mut ZvtTerminal| {
        let mut all = std::vec::Vec::new();
        let mut b = [0u8; 1];
        while let Some(n) = t.poll_transmit(&mut b).unwrap() {
            all.extend_from_slice(&b[..n]);
        }
        all
    };
    let with_ack = |frame: std::vec::Vec<u8>| {
        let mut v = std::vec![serial::ACK];
        v.extend_from_slice(&frame);
        v
    };
    // Registration for administration receipts as text blocks (config 84).
    t.handle_bytes(T0, &framed("06 00 06 00 00 00 84 09 78"));
    assert_eq!(poll1(&mut t), with_ack(framed(ACK)));
    t.handle_bytes(T0, &[serial::ACK]);
    let reg = poll1(&mut t);
    assert!(
        reg.starts_with(&[serial::DLE, serial::STX, 0x06, 0x0F]),
        "{reg:02X?}"
    );
    t.handle_bytes(T0, &[serial::ACK]);
    t.handle_bytes(T0, &framed(ACK));
    assert_eq!(poll1(&mut t), [serial::ACK]);
    assert_eq!(t.registered_config(), Some(0x84));
    // End of day: acknowledged, run, answered with its status information.
    t.handle_bytes(T0, &framed("06 50 03 00 00 00"));
    assert_eq!(poll1(&mut t), with_ack(framed(ACK)));
    assert_eq!(expect_request(&mut t), Request::CloseTotals);
    t.handle_bytes(T0, &[serial::ACK]);
    t.respond(
        T0,
        &Response::new(RequestKind::CloseTotals, Outcome::Approved),
    )
    .unwrap();
    let info = poll1(&mut t);
    assert!(
        info.starts_with(&[serial::DLE, serial::STX, 0x04, 0x0F]),
        "{info:02X?}"
    );
    t.handle_bytes(T0, &[serial::ACK]);
    t.handle_bytes(T0, &framed(ACK));
    assert_eq!(poll1(&mut t), [serial::ACK]);
    assert_eq!(events(&mut t), [TerminalEvent::ReceiptRequested]);
    // A line of 16 characters: its length byte is a DLE, doubled on the line.
    t.send_receipt_part(T0, "AAAAAAAAAAAAAAAA\nB\n", false)
        .unwrap();
    // 06 { 1F07 03, 25 { 07 10 "A" x 16, 07 01 "B" } }
    let block = framed(&format!(
        "06 D3 1D 06 1B 1F 07 01 03 25 15 07 10 {} 07 01 42",
        "41 ".repeat(16)
    ));
    assert!(block.windows(2).any(|w| w == [serial::DLE, serial::DLE]));
    assert_eq!(poll1(&mut t), block);
    // The till's NAK: the same frame once more, built again.
    t.handle_bytes(T0, &[serial::NAK]);
    assert_eq!(poll1(&mut t), block);
    // Polled into a large buffer, the repeat is the same too.
    t.handle_bytes(T0, &[serial::NAK]);
    let mut big = [0u8; 256];
    let n = t.poll_transmit(&mut big).unwrap().unwrap();
    assert_eq!(&big[..n], &block[..]);
}

/// The serial ACK wait, counted in 32-bit milliseconds (no 64-bit division on a Cortex-M), is
/// the ACK timeout plus the frame's time on the line, as with `Duration`s.
#[test]
fn serial_ack_wait_is_the_timeout_plus_the_line_time() {
    let mut line = Line::new(Transport::Serial);
    line.now = Instant::from_millis(123_456);
    for len in [0u16, 1, 7, 999, 1000, 1126, 65_535] {
        let want = line
            .now
            .saturating_add(SERIAL_ACK_TIMEOUT)
            .saturating_add(SERIAL_BYTE_TIME * u32::from(len));
        assert_eq!(line.ack_wait(len), want, "{len} bytes");
    }
}

/// The byte-wise text helpers say what `str::lines` and `chars` say: one byte per character,
/// ASCII as it is and anything else `?`, lines split as `str::lines` splits them.
#[test]
fn text_lines_and_bytes_agree_with_str_lines_and_chars() {
    let samples = [
        "",
        "\n",
        "a",
        "a\n",
        "a\r\nb",
        "a\r\n\r\nb\n",
        "\r",
        "a\r",
        "a\rb\n",
        "12,50 €\nnaïve\tx\n\n",
        "ŘÍZENÍ\r\n\u{1F600}z",
    ];
    for text in samples {
        let ours: std::vec::Vec<std::vec::Vec<u8>> =
            text_lines(text).map(|l| text_bytes(l).collect()).collect();
        let std_: std::vec::Vec<std::vec::Vec<u8>> = text
            .lines()
            .map(|l| {
                l.chars()
                    .map(|c| {
                        if c.is_ascii() && !c.is_ascii_control() {
                            c as u8
                        } else {
                            b'?'
                        }
                    })
                    .collect()
            })
            .collect();
        assert_eq!(ours, std_, "{text:?}");
    }
}

#[test]
fn decline_codes_read_as_str_parse_reads_them() {
    for code in [
        "", "+", "++1", "-1", "0", "00", "05", "+5", "51", "99", "255", "256", "0000000255",
        "1a", "a1", " 1", "1 ", "٣", "R-12", "9999999999999999999999",
    ] {
        assert_eq!(decimal_u8(code), code.parse::<u8>().ok(), "{code:?}");
    }
}

#[test]
fn masked_card_number_as_bcd_from_its_visible_digits() {
    let pan = MaskedPan::parse("476173******0119").unwrap();
    let mut out = [0u8; 10];
    let n = pan_bcd(&pan, &mut out);
    assert_eq!(&out[..n], &[0x47, 0x61, 0x73, 0xEE, 0xEE, 0xEE, 0x01, 0x19]);
    let pan = MaskedPan::parse("4761739999990119123").unwrap();
    let n = pan_bcd(&pan, &mut out);
    assert_eq!(&out[..n], &[0x47, 0x61, 0x73, 0xEE, 0xEE, 0xEE, 0xEE, 0xE9, 0x12, 0x3F]);
}
