//! Realistic frames shared by the criterion benches and the `probe` helper (which
//! `benches/compare.sh` runs next to the peers and under callgrind).
//!
//! Every frame is built with the codec under test (or taken from DESIGN.md's public example)
//! and checked to parse back before it is measured, so a bench can never time an error path by
//! accident.
#![allow(dead_code)] // each bench target uses a different part of this module

use ecrlink_core::bank::{
    AuthorizationRequest, IsoMessage, MerchantId, MonthDayTime, ProcessingCode,
};
use ecrlink_core::dialect::csob::{
    Body, Header, Message, MessageType, ResultCode, TransactionRequest, TransactionResponse,
    TxnCode,
};
use ecrlink_core::link::{Checksum, encode_frame};
use ecrlink_core::txn::{
    ApprovalCode, Currency, MaskedPan, Money, Pan, Reference, TerminalId, Timestamp,
};

/// The Concert request of DESIGN.md (POS 01, 12.50 EUR, full answer, card, debit): 37 bytes.
pub const CONCERT_REQUEST_FRAME: &[u8] = &[
    0x02, 0x30, 0x31, 0x30, 0x30, 0x30, 0x30, 0x31, 0x32, 0x35, 0x30, 0x31, 0x31, 0x30, 0x39, 0x37,
    0x38, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x41, 0x30, 0x31, 0x30, 0x42,
    0x30, 0x31, 0x30, 0x03, 0x01,
];

/// A Visa test card number (passes Luhn).
pub const PAN: &str = "4111111111111111";

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 3];
    let n = encode_frame(payload, Checksum::Lrc, &mut out).expect("frame");
    out.truncate(n);
    out
}

/// A full Concert answer (83 bytes): approved, 12.50 EUR, card, the card number at the start
/// of the 55-character report field (as pyTeliumManager's README shows it), private data.
pub fn concert_full_answer_frame() -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(b"01000001250");
    p.extend_from_slice(b"1");
    let mut report = [b' '; 55];
    report[..PAN.len()].copy_from_slice(PAN.as_bytes());
    p.extend_from_slice(&report);
    p.extend_from_slice(b"978");
    p.extend_from_slice(b"0000123456");
    assert_eq!(p.len(), 80);
    frame(&p)
}

/// A short Concert answer (28 bytes): declined (status 7), 12.50 EUR.
pub fn concert_short_answer_frame() -> Vec<u8> {
    frame(b"017000012501978          ")
}

/// The three Concert frames a till and a terminal exchange: a request, a full answer, a short
/// answer (37 + 83 + 28 bytes).
pub fn concert_frames() -> Vec<Vec<u8>> {
    vec![
        CONCERT_REQUEST_FRAME.to_vec(),
        concert_full_answer_frame(),
        concert_short_answer_frame(),
    ]
}

/// EMV data of an online authorization (ARQC) as a terminal puts it in field 55: 150 bytes,
/// 20 tags of the kind acquirers ask for (EMV Book 3 / acquirer specs list them; values are made up).
pub fn field55() -> Vec<u8> {
    let tags: &[(&[u8], &[u8])] = &[
        (
            &[0x9F, 0x26],
            &[0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70, 0x81],
        ), // AC
        (&[0x9F, 0x27], &[0x80]), // CID
        (
            &[0x9F, 0x10],
            &[
                0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00,
            ],
        ), // IAD (32)
        (&[0x9F, 0x37], &[0xDE, 0xAD, 0xBE, 0xEF]), // UN
        (&[0x9F, 0x36], &[0x00, 0x2A]), // ATC
        (&[0x95], &[0x00, 0x00, 0x00, 0x80, 0x00]), // TVR
        (&[0x9A], &[0x26, 0x05, 0x20]), // date
        (&[0x9C], &[0x00]),       // type
        (&[0x9F, 0x02], &[0x00, 0x00, 0x00, 0x00, 0x12, 0x50]), // amount
        (&[0x5F, 0x2A], &[0x09, 0x78]), // currency
        (&[0x82], &[0x39, 0x00]), // AIP
        (&[0x9F, 0x1A], &[0x02, 0x50]), // country
        (&[0x9F, 0x03], &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00]), // other amount
        (&[0x9F, 0x33], &[0xE0, 0xF8, 0xC8]), // capabilities
        (&[0x9F, 0x34], &[0x1F, 0x03, 0x02]), // CVM results
        (&[0x9F, 0x35], &[0x22]), // terminal type
        (&[0x84], &[0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10]), // DF name
        (&[0x9F, 0x09], &[0x00, 0x8C]), // app version
        (&[0x9F, 0x41], &[0x00, 0x00, 0x01, 0x23]), // sequence
        (&[0x5F, 0x34], &[0x01]), // PAN seq
    ];
    let mut out = Vec::new();
    for (tag, value) in tags {
        out.extend_from_slice(tag);
        out.push(u8::try_from(value.len()).expect("short"));
        out.extend_from_slice(value);
    }
    assert_eq!(out.len(), 150, "field 55 is meant to be 150 bytes");
    ecrlink_core::emv::validate(&out).expect("valid TLV");
    out
}

/// A realistic 0200 (sale, 12.50 EUR, fields 2 3 4 7 11 12 13 41 42 49 55, field 55 of 150
/// bytes sent as 300 hex characters): its wire bytes, without the TCP length prefix.
pub fn iso_0200() -> Vec<u8> {
    let emv = field55();
    let req = AuthorizationRequest {
        pan: Pan::new(PAN).expect("pan"),
        processing: ProcessingCode::SALE,
        amount: Money::new(1250, Currency::EUR).expect("money"),
        cashback: None,
        stan: 123_456,
        transmission: Some(MonthDayTime::new(5, 20, 14, 30, 5).expect("time")),
        local: Some(MonthDayTime::new(5, 20, 16, 30, 5).expect("time")),
        expiry: None,
        entry: None,
        card_sequence: None,
        condition: None,
        terminal_id: TerminalId::new("T0000001").expect("tid"),
        merchant_id: Some(MerchantId::new("MERCHANT0000001").expect("mid")),
        emv: &emv,
    };
    let msg = req.to_message().expect("0200");
    let mut buf = vec![0u8; IsoMessage::MAX_LEN];
    let n = msg.emit(&mut buf).expect("emit");
    buf.truncate(n);
    assert_eq!(IsoMessage::parse(&buf).expect("parses back"), msg);
    buf
}

fn csob_header(ty: MessageType) -> Header {
    Header::new(
        ty,
        TerminalId::new("12345678").expect("tid"),
        Timestamp::new(2026, 5, 20, 14, 30, 5).expect("time"),
    )
}

/// A ČSOB B1 sale as the public client writes it: `T00 B1250 9 GS S<reference> E203`.
pub fn csob_b1() -> Message {
    let mut b1 = TransactionRequest::new(TxnCode::Sale);
    b1.amount = Some(1250);
    b1.currency = Some(203);
    b1.reference = Some(Reference::new("ORDER-2026-000123").expect("reference"));
    Message {
        header: csob_header(MessageType::TransactionRequest),
        body: Body::Request(b1),
    }
}

/// A ČSOB B2 approving that sale: result, approval code, amount, currency, reference, masked
/// card number and a response text.
pub fn csob_b2() -> Message {
    let mut b2 = TransactionResponse::new(TxnCode::Sale, ResultCode::Ok);
    b2.amount = Some(1250);
    b2.currency = Some(203);
    b2.reference = Some(Reference::new("ORDER-2026-000123").expect("reference"));
    b2.approval_code = Some(ApprovalCode::new("A1B2C3").expect("approval"));
    b2.pan = Some(MaskedPan::from_pan(&Pan::new(PAN).expect("pan")));
    b2.text = Some(heapless::String::try_from("Transakce schválena").expect("text"));
    Message {
        header: csob_header(MessageType::TransactionResponse),
        body: Body::Response(b2),
    }
}

/// `msg` as a whole frame (STX … ETX).
pub fn csob_frame(msg: &Message) -> Vec<u8> {
    let mut buf = vec![0u8; ecrlink_core::dialect::csob::MAX_FRAME];
    let n = msg.emit(&mut buf).expect("emit");
    buf.truncate(n);
    buf
}

/// A deterministic pseudo-random generator (xorshift64*), so every run splits the same way.
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next value in `1..=max`.
    pub fn next_in(&mut self, max: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        1 + (v % max as u64) as usize
    }
}

/// A serial line as one side's accumulator sees it: `count` Concert exchanges (request, full
/// answer and short answer in turn), each `ENQ frame EOT` (the ACKs travel the other way).
/// Returns the bytes and the reads a half-duplex peer delivers them in: the ENQ, the frame
/// (sent once the ENQ is acknowledged) and the EOT (once the frame is).
pub fn concert_stream(count: usize) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let frames = concert_frames();
    let mut out = Vec::new();
    let mut reads = Vec::new();
    for i in 0..count {
        let frame = &frames[i % frames.len()];
        reads.push(out.len()..out.len() + 1);
        out.push(0x05); // ENQ
        reads.push(out.len()..out.len() + frame.len());
        out.extend_from_slice(frame);
        reads.push(out.len()..out.len() + 1);
        out.push(0x04); // EOT
    }
    (out, reads)
}

/// `stream` cut at random points into pieces of 1..=`max_piece` bytes (as UART reads or TCP
/// segments arrive).
pub fn random_splits(stream: &[u8], max_piece: usize, seed: u64) -> Vec<std::ops::Range<usize>> {
    let mut rng = Rng::new(seed);
    let mut at = 0;
    let mut out = Vec::new();
    while at < stream.len() {
        let end = (at + rng.next_in(max_piece)).min(stream.len());
        out.push(at..end);
        at = end;
    }
    out
}
