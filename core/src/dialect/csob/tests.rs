//! Frames built field by field from the public description (DESIGN.md, and the public client
//! `l1zard/react-native-enigoo-terminal`, `android/src/main/java/com/enigoo/terminal/csob/`),
//! checked byte for byte in both directions and mapped to `txn`; property tests; the two
//! sessions against each other with a fake clock.
// Test-only module: its parent declares it `#[cfg(test)] mod tests;`, so unwrap/expect here never reach a build.

extern crate std;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::session::{EcrEvent, EcrSide, MAX_TRANSMIT, TerminalEvent, TerminalSide};
use crate::txn::{
    Amount, ApprovalCode, CardScheme, Currency, CurrencyTotals, DeclineCode, EntryMode, FailReason,
    MaskedPan, Money, Outcome, Reference, Request, RequestKind, Response, SchemeTotals, TerminalId,
    Timestamp, Totals,
};
use crate::{Error, Instant};

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const FS: u8 = 0x1C;
const GS: u8 = 0x1D;

/// `STX header (FS field)* ETX`, each part given literally.
fn frame(header: &str, fields: &[&[u8]]) -> Vec<u8> {
    assert_eq!(header.len(), 36, "header must be 36 characters: {header}");
    let mut f = std::vec![STX];
    f.extend_from_slice(header.as_bytes());
    for field in fields {
        f.push(FS);
        f.extend_from_slice(field);
    }
    f.push(ETX);
    f
}

/// The frames in what one `poll_transmit` handed out (the terminal hands out together the
/// frames that are ready together): each ends at its ETX.
fn frames_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == ETX)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Concatenates byte pieces (for fields with GS sub-fields).
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn ts() -> Timestamp {
    Timestamp::new(2024, 3, 15, 14, 30, 5).unwrap()
}

fn tid() -> TerminalId {
    TerminalId::new("12345678").unwrap()
}

fn header(ty: MessageType, flags: u16) -> Header {
    let mut h = Header::new(ty, tid(), ts());
    h.flags = Flags(flags);
    h
}

fn czk(minor: u64) -> Money {
    Money::new(minor, Currency::CZK).unwrap()
}

fn emit(m: &Message) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    let n = m.emit(&mut buf).unwrap();
    buf[..n].to_vec()
}

fn parse(bytes: &[u8]) -> Message {
    let (m, used) = Message::parse_frame(bytes, &ParseOptions::default()).unwrap();
    assert_eq!(used, bytes.len());
    m
}

/// Asserts `emit(m) == bytes` and `parse(bytes) == m` (with the measured length).
fn both_ways(m: &Message, bytes: &[u8]) {
    assert_eq!(emit(m), bytes, "emit:\n{:?}\n{:?}", emit(m), bytes);
    let back = parse(bytes);
    assert!(back.header.length.matches());
    let mut expected = m.clone();
    expected.header.length = back.header.length;
    assert_eq!(back, expected);
}

// ----- requests (B1) -----

#[test]
fn sale_request_as_the_public_client_writes_it() {
    // Payment.createRequest(NORMAL_PURCHASE, 12.50, …): T00, B1250, the reference in the `9`
    // group, E203, flags 8000. (The public client puts a reference of 10–20 characters there;
    // a shorter one goes in a plain `S` field, see `short_reference_in_a_plain_s_field`. ecrlink
    // always writes the `9` group.) Data: 4 + 6 + 10 + 5 = 25 bytes = 0x0019.
    let bytes = frame(
        "B1011234567824031514300580000019A5A5",
        &[b"T00", b"B1250", &cat(&[b"9", &[GS], b"SORDER1"]), b"E203"],
    );
    let b1 = TransactionRequest {
        amount: Some(1250),
        currency: Some(203),
        reference: Some(Reference::new("ORDER1").unwrap()),
        ..TransactionRequest::new(TxnCode::Sale)
    };
    let m = Message {
        header: header(MessageType::TransactionRequest, 0x8000),
        body: Body::Request(b1.clone()),
    };
    both_ways(&m, &bytes);
    assert_eq!(
        b1.to_request(Currency::EUR).unwrap(),
        Request::Sale {
            amount: czk(1250),
            reference: Some(Reference::new("ORDER1").unwrap())
        }
    );
    assert_eq!(
        TransactionRequest::from_request(&b1.to_request(Currency::CZK).unwrap()).unwrap(),
        b1
    );
}

#[test]
fn short_reference_in_a_plain_s_field() {
    // Payment.createRequest(NORMAL_PURCHASE, 12.50, "12345"): a reference of fewer than ten
    // characters is a plain field `S12345`, not inside the `9` group (issue 14, point 5).
    let bytes = frame(
        "B1011234567824031514300580000016A5A5",
        &[b"T00", b"B1250", b"S12345", b"E203"],
    );
    let m = parse(&bytes);
    let Body::Request(b1) = &m.body else {
        panic!("not a B1")
    };
    assert_eq!(b1.reference, Some(Reference::new("12345").unwrap()));
    let req = b1.to_request(Currency::CZK).unwrap();
    assert_eq!(req.reference().map(Reference::as_str), Some("12345"));
    // The answer echoes it in the `9` group, which the public client's reader splits into a
    // block `S12345` as well (`Message.split` cuts at GS too).
    let mut resp = Response::new(RequestKind::Sale, Outcome::Approved);
    resp.amount = Some(czk(1250));
    resp.reference = Some(Reference::new("12345").unwrap());
    let b2 = emit(&Message {
        header: header(MessageType::TransactionResponse, 0),
        body: Body::Response(TransactionResponse::from_response(TxnCode::Sale, &resp)),
    });
    let echoed = [b'9', GS, b'S', b'1', b'2', b'3', b'4', b'5'];
    assert!(b2.windows(echoed.len()).any(|w| w == echoed), "{b2:?}");
    // The `9` group wins when both come; an empty plain `S` is no reference.
    let both = frame(
        "B1011234567824031514300580000000A5A5",
        &[
            b"T00",
            b"B1250",
            b"SSHORT",
            &cat(&[b"9", &[GS], b"SLONGER0001"]),
            b"E203",
        ],
    );
    let Body::Request(b1) = parse(&both).body else {
        panic!("not a B1")
    };
    assert_eq!(b1.reference, Some(Reference::new("LONGER0001").unwrap()));
    let empty = frame(
        "B1011234567824031514300580000000A5A5",
        &[b"T00", b"B1250", b"S", b"E203"],
    );
    let Body::Request(b1) = parse(&empty).body else {
        panic!("not a B1")
    };
    assert_eq!(b1.reference, None);
}

#[test]
fn amounts_have_at_least_three_digits_as_the_public_client_writes_them() {
    // Payment.parsePrice(0.05) = "B" + "0.05" without the point = "B005"; Response.getPrice
    // cuts the last two digits off, which fails on "B5" (issue 14, point 6).
    let bytes = frame(
        "B101123456782403151430058000000EA5A5",
        &[b"T00", b"B005", b"E203"],
    );
    let b1 = TransactionRequest {
        amount: Some(5),
        currency: Some(203),
        ..TransactionRequest::new(TxnCode::Sale)
    };
    both_ways(
        &Message {
            header: header(MessageType::TransactionRequest, 0x8000),
            body: Body::Request(b1),
        },
        &bytes,
    );
    let field = |minor: u64| {
        let mut b2 = TransactionResponse::new(TxnCode::SaleWithCashback, ResultCode::Ok);
        b2.amount = Some(minor);
        b2.cashback = Some(minor);
        let f = emit(&Message {
            header: header(MessageType::TransactionResponse, 0),
            body: Body::Response(b2.clone()),
        });
        assert_eq!(parse(&f).body, Body::Response(b2), "round trip of {minor}");
        let field_of = |tag: u8| -> Vec<u8> {
            let f = f
                .split(|&b| b == FS)
                .find(|x| x.first() == Some(&tag))
                .unwrap();
            f.iter().copied().take_while(|&b| b != 0x03).collect()
        };
        let (b, c) = (field_of(b'B'), field_of(b'C'));
        assert_eq!(&b[1..], &c[1..]);
        std::string::String::from_utf8(b).unwrap()
    };
    assert_eq!(field(0), "B000");
    assert_eq!(field(5), "B005");
    assert_eq!(field(50), "B050");
    assert_eq!(field(100), "B100");
    assert_eq!(field(1250), "B1250");
    assert_eq!(field(Amount::MAX_MINOR), "B999999999999");
}

#[test]
fn public_client_length_quirk_is_lenient_by_default_and_strict_on_request() {
    // Payment.calculateLength for [T00, B1250, 9SORDER1, E203] counts 5 + 4*3 + 2*3 = 23
    // (0x0017) although 25 bytes follow.
    let bytes = frame(
        "B1011234567824031514300580000017A5A5",
        &[b"T00", b"B1250", &cat(&[b"9", &[GS], b"SORDER1"]), b"E203"],
    );
    let m = parse(&bytes);
    assert_eq!(
        m.header.length,
        DataLength {
            declared: 23,
            actual: 25
        }
    );
    assert!(!m.header.length.matches());
    let strict = ParseOptions {
        length: LengthPolicy::Strict,
        ..ParseOptions::default()
    };
    assert_eq!(
        Message::parse_frame(&bytes, &strict),
        Err(Error::CsobLengthMismatch {
            declared: 23,
            actual: 25
        })
    );
    // Re-emitted, the length is the real one.
    assert_eq!(&emit(&m)[29..33], b"0019");
}

#[test]
fn crc_policy() {
    let bytes = frame("B0011234567824031514300500000000A5A5", &[]);
    let expect = |v: &[u8; 4]| ParseOptions {
        crc: CrcPolicy::Expect(CrcField(*v)),
        ..ParseOptions::default()
    };
    assert!(Message::parse_frame(&bytes, &expect(b"A5A5")).is_ok());
    assert_eq!(
        Message::parse_frame(&bytes, &expect(b"0000")),
        Err(Error::CsobCrcMismatch)
    );
    let odd = frame("B00112345678240315143005000000001234", &[]);
    assert_eq!(parse(&odd).header.crc, CrcField(*b"1234"));
    // Emit writes the configured value.
    let mut m = parse(&odd);
    m.header.crc = CrcField(*b"BEEF");
    assert_eq!(&emit(&m)[33..37], b"BEEF");
}

#[test]
fn confirm_b0_and_non_amount_requests_match_the_public_client() {
    // createConfirmRequest: B0, flags 0000, length 0000, no fields.
    both_ways(
        &Message {
            header: header(MessageType::Activity, 0),
            body: Body::Activity,
        },
        &frame("B0011234567824031514300500000000A5A5", &[]),
    );
    // createRequest(GET_APP_INFO / CLOSE_TOTALS / PASSIVATE / ...): flags 0000, length 0004.
    for (code, txn) in [
        (b"T80", Request::TestTerminal),
        (b"T60", Request::CloseTotals),
        (b"T65", Request::Subtotals),
        (b"T83", Request::LastSums),
        (b"T81", Request::Abort),
        (b"T82", Request::LastTransaction),
        (b"T95", Request::TestBank),
    ] {
        let bytes = frame("B1011234567824031514300500000004A5A5", &[code]);
        let m = parse(&bytes);
        let Body::Request(b1) = &m.body else {
            panic!("not a B1")
        };
        assert_eq!(b1.to_request(Currency::CZK).unwrap(), txn);
        assert_eq!(TransactionRequest::from_request(&txn).unwrap(), *b1);
        both_ways(&m, &bytes);
    }
    for code in [&b"T01"[..], b"T99"] {
        let m = parse(&frame("B1011234567824031514300500000004A5A5", &[code]));
        let Body::Request(b1) = &m.body else {
            panic!("not a B1")
        };
        assert!(matches!(
            b1.to_request(Currency::CZK),
            Err(Error::Unsupported { .. })
        ));
    }
}

#[test]
fn reversal_with_approval_code() {
    // createReversalRequest("A1B2C3"): T10, F A1B2C3, flags 8000 and a fixed length 000E (14)
    // although 12 bytes follow.
    let public = frame(
        "B101123456782403151430058000000EA5A5",
        &[b"T10", b"FA1B2C3"],
    );
    let m = parse(&public);
    assert_eq!(m.header.length.declared, 14);
    assert_eq!(m.header.length.actual, 12);
    let Body::Request(b1) = &m.body else {
        panic!("not a B1")
    };
    assert_eq!(b1.approval_code, Some(ApprovalCode::new("A1B2C3").unwrap()));
    // No amount on the wire: txn needs one.
    assert_eq!(
        b1.to_request(Currency::CZK),
        Err(Error::CsobField { field: "B" })
    );
    // ecrlink's reversal carries the amount too: T10 F B E.
    let ours = frame(
        "B1011234567824031514300580000017A5A5",
        &[b"T10", b"FA1B2C3", b"B1250", b"E203"],
    );
    let req = Request::Reversal {
        amount: czk(1250),
        code: ApprovalCode::new("A1B2C3").unwrap(),
        reference: None,
    };
    let b1 = TransactionRequest::from_request(&req).unwrap();
    both_ways(
        &Message {
            header: header(MessageType::TransactionRequest, 0x8000),
            body: Body::Request(b1.clone()),
        },
        &ours,
    );
    assert_eq!(b1.to_request(Currency::CZK).unwrap(), req);
}

#[test]
fn sale_with_cashback_request_and_answer() {
    // 500.00 CZK of goods + 200.00 CZK cash: B is the total (70000), C the cash (20000).
    let req = Request::sale_with_cashback(
        czk(70_000),
        Amount::new(20_000).unwrap(),
        Some(Reference::new("INV-77").unwrap()),
    )
    .unwrap();
    let b1 = TransactionRequest::from_request(&req).unwrap();
    let bytes = frame(
        "B1011234567824031514300580000021A5A5",
        &[
            b"T08",
            b"B70000",
            b"C20000",
            &cat(&[b"9", &[GS], b"SINV-77"]),
            b"E203",
        ],
    );
    both_ways(
        &Message {
            header: header(MessageType::TransactionRequest, 0x8000),
            body: Body::Request(b1.clone()),
        },
        &bytes,
    );
    assert_eq!(b1.to_request(Currency::CZK).unwrap(), req);

    // The answer: T08 R000 F B C E 9S P, receipt ready.
    let b2 = frame(
        "B2011234567824031514301000020040A5A5",
        &[
            b"T08",
            b"R000",
            b"F0A1B2C",
            b"B70000",
            b"C20000",
            b"E203",
            &cat(&[b"9", &[GS], b"SINV-77"]),
            b"P476173******0119",
        ],
    );
    let m = parse(&b2);
    assert!(m.header.length.matches(), "{:?}", m.header.length);
    assert!(m.header.flags.has(Flags::RECEIPT_READY));
    let Body::Response(r) = &m.body else {
        panic!("not a B2")
    };
    let resp = r.to_response(&m.header, Currency::CZK).unwrap();
    assert_eq!(resp.kind, RequestKind::SaleWithCashback);
    assert_eq!(resp.outcome, Outcome::Approved);
    assert_eq!(resp.amount, Some(czk(70_000)));
    assert_eq!(resp.cashback, Some(Amount::new(20_000).unwrap()));
    assert_eq!(resp.approval_code.as_ref().unwrap().as_str(), "0A1B2C");
    assert_eq!(resp.reference.as_ref().unwrap().as_str(), "INV-77");
    assert_eq!(
        resp.pan,
        Some(MaskedPan::parse("476173******0119").unwrap())
    );
    assert_eq!(resp.scheme, Some(CardScheme::Visa));
    assert_eq!(resp.terminal_id, Some(tid()));
    assert_eq!(
        resp.timestamp,
        Some(Timestamp::new(2024, 3, 15, 14, 30, 10).unwrap())
    );
    // And back: the same bytes.
    let again = TransactionResponse::from_response(TxnCode::SaleWithCashback, &resp);
    let mut h = header(MessageType::TransactionResponse, Flags::RECEIPT_READY);
    h.timestamp = resp.timestamp.unwrap();
    both_ways(
        &Message {
            header: h,
            body: Body::Response(again),
        },
        &b2,
    );
}

/// Issue 15 points 7 and 13: a T82 answer names the kind of the transaction it describes
/// (`K`, an ecrlink convention), and any answer carries the entry mode (`M`) and the trace
/// number (`N`); a T82 answer without `K` (a terminal without the convention) reads back as
/// kind not known.
#[test]
fn last_transaction_answer_names_its_kind_entry_mode_and_trace() {
    let b2 = frame(
        "B2011234567824031514301000000050A5A5",
        &[
            b"T82",
            b"R000",
            b"F0A1B2C",
            b"B4500",
            b"E203",
            &cat(&[b"9", &[GS], b"SRET-9"]),
            b"P476173******0119",
            b"Mcontactless",
            b"N000042",
            b"K04",
        ],
    );
    let m = parse(&b2);
    assert!(m.header.length.matches(), "{:?}", m.header.length);
    let Body::Response(r) = &m.body else {
        panic!("not a B2")
    };
    assert_eq!(r.code, TxnCode::LastTransaction);
    assert_eq!(r.original, Some(TxnCode::Refund));
    let resp = r.to_response(&m.header, Currency::CZK).unwrap();
    assert_eq!(resp.kind, RequestKind::Refund);
    assert_eq!(resp.amount, Some(czk(4500)));
    assert_eq!(resp.entry_mode, Some(EntryMode::Contactless));
    assert_eq!(resp.trace, Some(42));
    // And back: the terminal's last-transaction answer is the refund's own; its B2 repeats
    // T82 and names the refund in K, the same bytes.
    let again = TransactionResponse::from_response(TxnCode::LastTransaction, &resp);
    let mut h = header(MessageType::TransactionResponse, 0);
    h.timestamp = resp.timestamp.unwrap();
    both_ways(
        &Message {
            header: h,
            body: Body::Response(again),
        },
        &b2,
    );
    // Without K the kind is not known; an unknown or non-payment K is not taken either.
    for k in [None, Some(TxnCode::Other(1)), Some(TxnCode::CloseTotals)] {
        let mut plain = r.clone();
        plain.original = k;
        let resp = plain.to_response(&m.header, Currency::CZK).unwrap();
        assert_eq!(resp.kind, RequestKind::LastTransaction, "{k:?}");
    }
    // Values the conventions do not know are field errors naming the field.
    for (field, name) in [(&b"Mwaved"[..], "M"), (b"N12x", "N"), (b"K4", "K")] {
        let bad = frame(
            "B2011234567824031514301000000000A5A5",
            &[b"T82", b"R000", field],
        );
        let err = Message::parse_frame(&bad, &ParseOptions::default()).unwrap_err();
        assert_eq!(err, Error::CsobField { field: name });
    }
}

// ----- responses (B2) -----

#[test]
fn declines_and_errors_carry_their_codes() {
    let cases: &[(&[u8], Outcome)] = &[
        (
            b"R-12",
            Outcome::Declined {
                code: DeclineCode::new("R-12").unwrap(),
            },
        ),
        (b"R-01", Outcome::Cancelled),
        (b"R-18", Outcome::Timeout),
        (
            b"R-29",
            Outcome::Failed {
                reason: FailReason::CardBlocked,
            },
        ),
        (
            b"R-02",
            Outcome::Failed {
                reason: FailReason::Busy,
            },
        ),
    ];
    for (r, outcome) in cases {
        let bytes = frame("B2011234567824031514301000000009A5A5", &[b"T00", r]);
        let m = parse(&bytes);
        let Body::Response(b2) = &m.body else {
            panic!("not a B2")
        };
        let resp = b2.to_response(&m.header, Currency::CZK).unwrap();
        assert_eq!(&resp.outcome, outcome);
        assert_eq!(resp.amount, None);
    }
    // The old client reads T and R as the first two fields: ours writes them there.
    let resp = Response::new(
        RequestKind::Refund,
        Outcome::Declined {
            code: DeclineCode::new("51").unwrap(),
        },
    );
    let out = emit(&Message {
        header: header(MessageType::TransactionResponse, 0),
        body: Body::Response(TransactionResponse::from_response(TxnCode::Refund, &resp)),
    });
    assert_eq!(
        out,
        frame("B2011234567824031514300500000009A5A5", &[b"T04", b"R-12"])
    );
}

#[test]
fn close_totals_answer_with_totals() {
    // ecrlink convention: Y per currency (E d D c C r), Z per scheme (s E n N).
    let y = cat(&[
        b"Y",
        &[GS],
        b"E203",
        &[GS],
        b"d12",
        &[GS],
        b"D1543000",
        &[GS],
        b"c1",
        &[GS],
        b"C25000",
        &[GS],
        b"r2",
    ]);
    let z1 = cat(&[
        b"Z",
        &[GS],
        b"sVISA",
        &[GS],
        b"E203",
        &[GS],
        b"n8",
        &[GS],
        b"N1018000",
    ]);
    let z2 = cat(&[
        b"Z",
        &[GS],
        b"sMASTERCARD",
        &[GS],
        b"E203",
        &[GS],
        b"n5",
        &[GS],
        b"N500000",
    ]);
    let data_len = 4 + 5 + 1 + y.len() + 1 + z1.len() + 1 + z2.len();
    let hdr = std::format!("B20112345678240315220000{:04X}{:04X}A5A5", 2, data_len);
    let bytes = frame(&hdr, &[b"T60", b"R000", &y, &z1, &z2]);
    let m = parse(&bytes);
    let Body::Response(b2) = &m.body else {
        panic!("not a B2")
    };
    let resp = b2.to_response(&m.header, Currency::CZK).unwrap();
    assert_eq!(resp.kind, RequestKind::CloseTotals);
    assert_eq!(resp.outcome, Outcome::Approved);
    let mut totals = Totals::default();
    totals
        .currencies
        .push(CurrencyTotals {
            currency: 203,
            debit_count: 12,
            debit_minor: 1_543_000,
            credit_count: 1,
            credit_minor: 25_000,
            reversal_count: 2,
        })
        .unwrap();
    totals
        .schemes
        .push(SchemeTotals {
            scheme: CardScheme::Visa,
            currency: 203,
            count: 8,
            net_minor: 1_018_000,
        })
        .unwrap();
    totals
        .schemes
        .push(SchemeTotals {
            scheme: CardScheme::Mastercard,
            currency: 203,
            count: 5,
            net_minor: 500_000,
        })
        .unwrap();
    assert_eq!(resp.totals, Some(totals));
    let mut h = header(MessageType::TransactionResponse, 2);
    h.timestamp = Timestamp::new(2024, 3, 15, 22, 0, 0).unwrap();
    both_ways(
        &Message {
            header: h,
            body: Body::Response(TransactionResponse::from_response(
                TxnCode::CloseTotals,
                &resp,
            )),
        },
        &bytes,
    );
}

#[test]
fn subtotals_and_last_sums_requests_and_totals_answers() {
    // Requests: as the public client's createRequest(code) writes any code without data.
    for (code, txn, tc) in [
        (b"T65", Request::Subtotals, TxnCode::Subtotals),
        (b"T83", Request::LastSums, TxnCode::LastSums),
    ] {
        let bytes = frame("B1011234567824031514300500000004A5A5", &[code]);
        let b1 = TransactionRequest::from_request(&txn).unwrap();
        assert_eq!(b1, TransactionRequest::new(tc));
        both_ways(
            &Message {
                header: header(MessageType::TransactionRequest, 0),
                body: Body::Request(b1.clone()),
            },
            &bytes,
        );
        assert_eq!(b1.to_request(Currency::CZK).unwrap(), txn);
    }
    // Answers: the same Y/Z totals fields as the T60 answer; receipt ready (flags 0002).
    let y = cat(&[
        b"Y",
        &[GS],
        b"E203",
        &[GS],
        b"d2",
        &[GS],
        b"D3750",
        &[GS],
        b"c0",
        &[GS],
        b"C0",
        &[GS],
        b"r0",
    ]);
    let z = cat(&[
        b"Z",
        &[GS],
        b"sVISA",
        &[GS],
        b"E203",
        &[GS],
        b"n2",
        &[GS],
        b"N3750",
    ]);
    let mut totals = Totals::default();
    totals
        .currencies
        .push(CurrencyTotals {
            currency: 203,
            debit_count: 2,
            debit_minor: 3750,
            ..CurrencyTotals::default()
        })
        .unwrap();
    totals
        .schemes
        .push(SchemeTotals {
            scheme: CardScheme::Visa,
            currency: 203,
            count: 2,
            net_minor: 3750,
        })
        .unwrap();
    for (code, tc, kind) in [
        (b"T65", TxnCode::Subtotals, RequestKind::Subtotals),
        (b"T83", TxnCode::LastSums, RequestKind::LastSums),
    ] {
        let data_len = 4 + 5 + 1 + y.len() + 1 + z.len();
        assert_eq!(data_len, 0x38);
        let bytes = frame(
            "B2011234567824031514300500020038A5A5",
            &[code, b"R000", &y, &z],
        );
        let m = parse(&bytes);
        let Body::Response(b2) = &m.body else {
            panic!("not a B2")
        };
        let resp = b2.to_response(&m.header, Currency::CZK).unwrap();
        assert_eq!(resp.kind, kind);
        assert_eq!(resp.outcome, Outcome::Approved);
        assert_eq!(resp.totals.as_ref(), Some(&totals));
        both_ways(
            &Message {
                header: header(MessageType::TransactionResponse, 2),
                body: Body::Response(TransactionResponse::from_response(tc, &resp)),
            },
            &bytes,
        );
        // An empty batch writes no Y/Z field and reads back as empty totals.
        let empty = frame("B2011234567824031514300500020009A5A5", &[code, b"R000"]);
        let m = parse(&empty);
        let Body::Response(b2) = &m.body else {
            panic!("not a B2")
        };
        let resp = b2.to_response(&m.header, Currency::CZK).unwrap();
        assert_eq!(resp.totals, Some(Totals::default()));
        // A refused one has none.
        let refused = frame("B2011234567824031514300500000009A5A5", &[code, b"R-21"]);
        let m = parse(&refused);
        let Body::Response(b2) = &m.body else {
            panic!("not a B2")
        };
        assert_eq!(
            b2.to_response(&m.header, Currency::CZK).unwrap().totals,
            None
        );
    }
}

#[test]
fn response_text_is_iso_8859_2() {
    // "g" + "Zamítnuto" (rejected) in ISO-8859-2: í = 0xED.
    let bytes = frame(
        "B2011234567824031514300500000014A5A5",
        &[b"T00", b"R-21", b"gZam\xedtnuto"],
    );
    let m = parse(&bytes);
    let Body::Response(b2) = &m.body else {
        panic!("not a B2")
    };
    assert_eq!(b2.text.as_deref(), Some("Zamítnuto"));
    assert_eq!(emit(&m), bytes);
}

// ----- receipts (B3/B4) -----

#[test]
fn ticket_requests_as_the_public_client_writes_them() {
    // createTicketRequest("tM"): B3, flags 8000, FS 9 GS tM; its computed length happens to
    // be right (5).
    for (sel, ch) in [
        (ReceiptSelector::Merchant, b'M'),
        (ReceiptSelector::Customer, b'C'),
        (ReceiptSelector::Next, b'-'),
    ] {
        let bytes = frame(
            "B3011234567824031514300580000005A5A5",
            &[&[b'9', GS, b't', ch]],
        );
        both_ways(
            &Message {
                header: header(MessageType::TicketRequest, 0x8000),
                body: Body::TicketRequest(TicketRequest { selector: sel }),
            },
            &bytes,
        );
    }
}

#[test]
fn multi_part_receipt() {
    // Part 1: two lines and t1 (more follows); part 2: two lines, the last one Czech.
    let p1 = frame(
        "B401123456782403151430060000001CA5A5",
        &[b"T0OBCHOD s.r.o.", b"T0PRODEJ", b"t1"],
    );
    let p2 = frame(
        "B4011234567824031514300700000017A5A5",
        &[b"T0CZK 12,50", b"T0D\xeckujeme"],
    );
    let mut h = header(MessageType::TicketResponse, 0);
    h.timestamp = Timestamp::new(2024, 3, 15, 14, 30, 6).unwrap();
    let part = |text: &str, more| {
        Body::TicketResponse(TicketResponse {
            text: heapless::String::try_from(text).unwrap(),
            more,
        })
    };
    both_ways(
        &Message {
            header: h.clone(),
            body: part("OBCHOD s.r.o.\nPRODEJ", true),
        },
        &p1,
    );
    h.timestamp = Timestamp::new(2024, 3, 15, 14, 30, 7).unwrap();
    both_ways(
        &Message {
            header: h,
            body: part("CZK 12,50\nDěkujeme", false),
        },
        &p2,
    );
    // The flag may also come as a sub-field of 9, and line attributes 1–3 are read as text.
    let alt = frame(
        "B401123456782403151430070000000CA5A5",
        &[b"T2BOLD", &[b'9', GS, b't', b'1']],
    );
    assert_eq!(parse(&alt).body, part("BOLD", true));
    // A GS inside a line ends its text (found by fuzzing: the text could not be re-emitted).
    let gs = frame(
        "B4011234567824031514300700000011A5A5",
        &[b"T0CZK\x1dX", b"T5D\xec", b"gA\x1dB"],
    );
    assert_eq!(parse(&gs).body, part("CZK\nD\u{11b}", false));
    let gs2 = frame(
        "B2011234567824031514300700000011A5A5",
        &[b"T00", b"R000", b"gA\x1dB"],
    );
    let Body::Response(r) = parse(&gs2).body else {
        panic!("not a B2")
    };
    assert_eq!(r.text.as_deref(), Some("A"));
}

#[test]
fn emit_errors() {
    let mut m = Message {
        header: header(MessageType::TicketResponse, 0),
        body: Body::TicketResponse(TicketResponse {
            text: heapless::String::try_from("1 €").unwrap(),
            more: false,
        }),
    };
    assert_eq!(
        m.emit(&mut [0u8; 256]),
        Err(Error::CsobField {
            field: "T (receipt line)"
        })
    );
    m.body = Body::Activity;
    let mut small = [0xAAu8; 10];
    assert_eq!(
        m.emit(&mut small),
        Err(Error::BufferTooSmall { needed: 38 })
    );
    assert_eq!(small, [0xAA; 10]);
    let b1 = TransactionRequest {
        amount: Some(Amount::MAX_MINOR + 1),
        ..TransactionRequest::new(TxnCode::Sale)
    };
    m.body = Body::Request(b1);
    assert_eq!(
        m.emit(&mut [0u8; 256]),
        Err(Error::CsobField { field: "B" })
    );
}

#[test]
fn parse_errors_are_precise() {
    let h = "B1011234567824031514300500000004A5A5";
    let cases: &[(Vec<u8>, Error)] = &[
        (frame(h, &[]), Error::CsobField { field: "T" }),
        (frame(h, &[b"Txx"]), Error::CsobField { field: "T" }),
        (
            frame(h, &[b"T00", b"B12a"]),
            Error::CsobField { field: "B" },
        ),
        (
            frame(h, &[b"T00", b"B1234567890123"]),
            Error::CsobField { field: "B" },
        ),
        (frame(h, &[b"T00", b"E20"]), Error::CsobField { field: "E" }),
        (frame(h, &[b"T10", b"F12 34"]), Error::ApprovalCodeInvalid),
        // Text fields read as bytes: a byte that is not ASCII (a Windows-1250 `č`, not UTF-8;
        // or UTF-8 `é`) is the field type's own error.
        (
            frame(h, &[b"T00", b"B100", b"S12\xe8"]),
            Error::ReferenceInvalid,
        ),
        (
            frame(h, &[b"T00", b"B100", b"S\xc3\xa9"]),
            Error::ReferenceInvalid,
        ),
        (
            frame(h, &[b"T00", b"B100", b"9\x1dS\xe8"]),
            Error::ReferenceInvalid,
        ),
        (frame(h, &[b"T10", b"F1\xe8"]), Error::ApprovalCodeInvalid),
        (
            frame("B2011234567824031514300500000004A5A5", &[b"T00"]),
            Error::CsobField { field: "R" },
        ),
        (
            frame("B3011234567824031514300500000004A5A5", &[b"T00"]),
            Error::CsobField { field: "9/t" },
        ),
        (
            std::vec![STX, b'B', b'1', ETX],
            Error::Truncated {
                what: "csob header",
            },
        ),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            Message::parse_frame(bytes, &ParseOptions::default()).map(|_| ()),
            Err(*err),
            "{bytes:?}"
        );
    }
    assert_eq!(
        Message::parse_frame(&frame(h, &[b"T00"])[..20], &ParseOptions::default()),
        Err(Error::Truncated { what: "frame" })
    );
}

// ----- properties -----

fn arb_text(max: usize) -> impl Strategy<Value = std::string::String> {
    proptest::collection::vec(
        prop_oneof![
            (0x20u8..0x7f).prop_map(char::from),
            proptest::sample::select(std::vec![
                'á', 'č', 'ď', 'é', 'ě', 'í', 'ň', 'ř', 'š', 'ť', 'ů', 'ž', 'Ž'
            ]),
        ],
        0..max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn arb_reference() -> impl Strategy<Value = Option<Reference>> {
    proptest::option::of("[ -~]{1,20}".prop_map(|s| Reference::new(&s).unwrap()))
}

fn arb_code() -> impl Strategy<Value = TxnCode> {
    (0u8..100).prop_map(|n| TxnCode::from_number(n).unwrap())
}

fn arb_result() -> impl Strategy<Value = ResultCode> {
    prop_oneof![
        proptest::sample::select(std::vec![
            "000", "-01", "-09", "-10", "-11", "-12", "-18", "-21", "-29"
        ])
        .prop_map(|s| ResultCode::parse(s.as_bytes()).unwrap()),
        "[!-~]{1,3}".prop_map(|s| ResultCode::parse(s.as_bytes()).unwrap()),
    ]
}

fn arb_totals() -> impl Strategy<Value = Option<Totals>> {
    let cur = (
        0u16..1000,
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(|(currency, a, b, c, d, e)| CurrencyTotals {
            currency,
            debit_count: a,
            debit_minor: b,
            credit_count: c,
            credit_minor: d,
            reversal_count: e,
        });
    let scheme = (
        proptest::sample::select(std::vec![
            CardScheme::Visa,
            CardScheme::Mastercard,
            CardScheme::Maestro,
            CardScheme::Amex,
            CardScheme::Other
        ]),
        0u16..1000,
        any::<u32>(),
        any::<i64>(),
    )
        .prop_map(|(scheme, currency, count, net_minor)| SchemeTotals {
            scheme,
            currency,
            count,
            net_minor,
        });
    proptest::option::of(
        (
            proptest::collection::vec(cur, 0..=4),
            proptest::collection::vec(scheme, 0..=8),
        )
            .prop_filter("empty totals are absent", |(c, s)| {
                !c.is_empty() || !s.is_empty()
            })
            .prop_map(|(c, s)| Totals {
                currencies: c.into_iter().collect(),
                schemes: s.into_iter().collect(),
            }),
    )
}

fn arb_body() -> impl Strategy<Value = Body> {
    let amount = proptest::option::of(0..=Amount::MAX_MINOR);
    let approval =
        proptest::option::of("[A-Z0-9]{1,8}".prop_map(|s| ApprovalCode::new(&s).unwrap()));
    let request = (
        arb_code(),
        amount.clone(),
        amount.clone(),
        proptest::option::of(0u16..1000),
        arb_reference(),
        approval.clone(),
    )
        .prop_map(
            |(code, amount, cashback, currency, reference, approval_code)| {
                Body::Request(TransactionRequest {
                    code,
                    amount,
                    cashback,
                    currency,
                    reference,
                    approval_code,
                })
            },
        );
    let response = (
        (
            arb_code(),
            arb_result(),
            amount.clone(),
            amount,
            proptest::option::of(0u16..1000),
        ),
        (
            arb_reference(),
            approval,
            proptest::option::of(
                "[0-9]{6}[*]{2,9}[0-9]{4}".prop_map(|s| MaskedPan::parse(&s).unwrap()),
            ),
            proptest::option::of(arb_text(64)),
            arb_totals(),
        ),
        (
            proptest::option::of(proptest::sample::select(std::vec![
                EntryMode::Chip,
                EntryMode::Contactless,
                EntryMode::Swipe,
                EntryMode::Manual
            ])),
            proptest::option::of(any::<u32>()),
            proptest::option::of(arb_code()),
        ),
    )
        .prop_map(
            |(
                (code, result, amount, cashback, currency),
                (reference, approval_code, pan, text, totals),
                (entry_mode, trace, original),
            )| {
                Body::Response(TransactionResponse {
                    code,
                    result,
                    amount,
                    cashback,
                    currency,
                    reference,
                    approval_code,
                    pan,
                    entry_mode,
                    trace,
                    original,
                    text: text.map(|t| heapless::String::try_from(t.as_str()).unwrap_or_default()),
                    totals,
                })
            },
        );
    let ticket = proptest::sample::select(std::vec![
        ReceiptSelector::Merchant,
        ReceiptSelector::Customer,
        ReceiptSelector::Next
    ])
    .prop_map(|selector| Body::TicketRequest(TicketRequest { selector }));
    let part = (
        proptest::collection::vec(arb_text(40), 0..12),
        any::<bool>(),
    )
        .prop_map(|(lines, more)| {
            Body::TicketResponse(TicketResponse {
                text: heapless::String::try_from(lines.join("\n").as_str()).unwrap(),
                more,
            })
        });
    prop_oneof![Just(Body::Activity), request, response, ticket, part]
}

fn arb_header() -> impl Strategy<Value = Header> {
    (
        "[!-~]{1,8}",
        (2000u16..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60),
        any::<u16>(),
        proptest::array::uniform4(0x20u8..0x7f),
    )
        .prop_map(|(id, (y, mo, d, h, mi, s), flags, crc)| {
            let mut hd = Header::new(
                MessageType::Activity,
                TerminalId::new(&id).unwrap(),
                Timestamp::new(y, mo, d, h, mi, s).unwrap(),
            );
            hd.flags = Flags(flags);
            hd.crc = CrcField(crc);
            hd
        })
}

proptest! {
    /// The terminal writes its B2 straight from the txn response it answers
    /// (`B2Ref::answer`), without building a `TransactionResponse`: the bytes are the ones of
    /// `TransactionResponse::from_response` emitted, for any answer, to the code asked and to
    /// a T82 (which names the kind in `K`).
    #[test]
    fn b2_written_from_the_response_is_the_b2_of_from_response(
        header in arb_header(),
        body in arb_body(),
    ) {
        let Body::Response(b2) = body else { return Ok(()) };
        let Ok(response) = b2.to_response(&header, Currency::CZK) else { return Ok(()) };
        for code in [b2.code, TxnCode::LastTransaction] {
            let mut header = header.clone();
            header.message_type = MessageType::TransactionResponse;
            let built = Message {
                header: header.clone(),
                body: Body::Response(TransactionResponse::from_response(code, &response)),
            };
            let mut out = std::vec![0u8; MAX_TRANSMIT];
            let direct = message::emit::<false>(
                header.borrowed(),
                message::BodyRef::Response(&message::B2Ref::answer(code, &response)),
                &mut out,
            );
            match built.emit(&mut std::vec![0u8; MAX_TRANSMIT]) {
                Ok(n) => {
                    prop_assert_eq!(direct, Ok(n));
                    prop_assert_eq!(&out[..n], &emit(&built)[..]);
                }
                Err(e) => prop_assert_eq!(direct, Err(e)),
            }
        }
    }

    #[test]
    fn emit_then_parse_is_identity(mut header in arb_header(), body in arb_body()) {
        header.message_type = body.message_type();
        let m = Message { header, body };
        let bytes = emit(&m);
        prop_assert_eq!(bytes.len(), m.frame_len().unwrap());
        let strict = ParseOptions { crc: CrcPolicy::Expect(m.header.crc), length: LengthPolicy::Strict };
        let (back, used) = Message::parse_frame(&bytes, &strict).unwrap();
        prop_assert_eq!(used, bytes.len());
        let mut expected = m.clone();
        expected.header.length = back.header.length;
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Message::parse_payload(&bytes, &ParseOptions::default());
        let _ = Message::parse_frame(&bytes, &ParseOptions::default());
    }

    #[test]
    fn parse_never_panics_on_near_valid_frames(
        body in arb_body(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let m = Message { header: header(body.message_type(), 0), body };
        let mut bytes = emit(&m);
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i.index(n)] = b;
        }
        if let Ok((parsed, _)) = Message::parse_frame(&bytes, &ParseOptions::default()) {
            // Whatever parses re-emits and parses to the same value.
            let again = emit(&parsed);
            let (back, _) = Message::parse_frame(&again, &ParseOptions::default()).unwrap();
            let mut expected = parsed.clone();
            expected.header.length = back.header.length;
            prop_assert_eq!(back, expected);
        }
    }

    #[test]
    fn sessions_never_panic_on_arbitrary_bytes(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..8),
    ) {
        let mut t = CsobTerminal::new(CsobConfig::new(tid()));
        let mut e = CsobEcr::new(CsobConfig::new(tid()));
        let mut buf = [0u8; MAX_TRANSMIT];
        for (i, c) in chunks.iter().enumerate() {
            let now = Instant::from_millis(i as u64 * 1000);
            t.handle_bytes(now, c);
            e.handle_bytes(now, c);
            t.handle_timeout(now);
            e.handle_timeout(now);
            while t.poll_transmit(&mut buf).unwrap().is_some() {}
            while e.poll_transmit(&mut buf).unwrap().is_some() {}
            while t.poll_event().is_some() {}
            while e.poll_event().is_some() {}
        }
    }
}

// ----- sessions against each other -----

/// Two sessions, a fake clock, and the bytes in flight.
struct Pair {
    now: Instant,
    ecr: CsobEcr,
    term: CsobTerminal,
    /// Frames sent by each side (for assertions), in order.
    ecr_sent: Vec<Vec<u8>>,
    term_sent: Vec<Vec<u8>>,
    ecr_events: Vec<EcrEvent>,
    term_events: Vec<TerminalEvent>,
    /// Drop the next frame the ECR sends (a lost B0).
    drop_next_ecr_frame: bool,
}

impl Pair {
    fn new() -> Self {
        let mut p = Pair {
            now: Instant::ZERO,
            ecr: CsobEcr::new(CsobConfig::new(tid())),
            term: CsobTerminal::new(CsobConfig::new(tid())),
            ecr_sent: Vec::new(),
            term_sent: Vec::new(),
            ecr_events: Vec::new(),
            term_events: Vec::new(),
            drop_next_ecr_frame: false,
        };
        p.ecr.set_wall_clock(Instant::ZERO, ts());
        p.term.set_wall_clock(Instant::ZERO, ts());
        p
    }

    /// Moves frames both ways until nothing is left, collecting events.
    fn pump(&mut self) {
        let mut buf = [0u8; MAX_TRANSMIT];
        loop {
            let mut moved = false;
            while let Some(n) = self.ecr.poll_transmit(&mut buf).unwrap() {
                moved = true;
                self.ecr_sent.push(buf[..n].to_vec());
                if core::mem::take(&mut self.drop_next_ecr_frame) {
                    continue;
                }
                // Deliver byte by byte: the accumulator must cope with any split.
                for b in &buf[..n] {
                    self.term.handle_bytes(self.now, core::slice::from_ref(b));
                }
            }
            while let Some(n) = self.term.poll_transmit(&mut buf).unwrap() {
                moved = true;
                self.term_sent.extend(frames_of(&buf[..n]));
                self.ecr.handle_bytes(self.now, &buf[..n]);
            }
            while let Some(ev) = self.ecr.poll_event() {
                self.ecr_events.push(ev);
            }
            while let Some(ev) = self.term.poll_event() {
                self.term_events.push(ev);
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances the fake clock by `ms`, firing deadlines that pass.
    fn advance(&mut self, ms: u64) {
        let target = Instant::from_millis(self.now.as_millis() + ms);
        loop {
            let next = [self.ecr.poll_timeout(), self.term.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|&d| d <= target)
                .min();
            match next {
                Some(d) => {
                    self.now = self.now.max(d);
                    self.ecr.handle_timeout(self.now);
                    self.term.handle_timeout(self.now);
                    self.pump();
                }
                None => break,
            }
        }
        self.now = target;
        self.pump();
    }

    fn types_sent(frames: &[Vec<u8>]) -> Vec<&str> {
        frames
            .iter()
            .map(|f| core::str::from_utf8(&f[1..3]).unwrap())
            .collect()
    }
}

fn sale() -> Request {
    Request::Sale {
        amount: czk(1250),
        reference: Some(Reference::new("ORDER1").unwrap()),
    }
}

fn approved_sale() -> Response {
    let mut r = Response::new(RequestKind::Sale, Outcome::Approved);
    r.amount = Some(czk(1250));
    r.approval_code = Some(ApprovalCode::new("A1B2C3").unwrap());
    r.reference = Some(Reference::new("ORDER1").unwrap());
    r
}

#[test]
fn happy_path_b1_b0_b2_b0() {
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    assert!(p.ecr.is_busy());
    assert_eq!(p.ecr.poll_timeout(), Some(Instant::from_millis(60_000)));
    p.pump();
    assert_eq!(p.term_events, [TerminalEvent::Request(sale())]);
    assert_eq!(p.ecr_events, [EcrEvent::Accepted]);
    // The B1 is exactly the public client's sale frame.
    assert_eq!(
        p.ecr_sent[0],
        frame(
            "B1011234567824031514300580000019A5A5",
            &[b"T00", b"B1250", &cat(&[b"9", &[GS], b"SORDER1"]), b"E203"],
        )
    );
    p.advance(20_000);
    assert!(p.term.is_busy());
    p.term.respond(p.now, &approved_sale()).unwrap();
    assert_eq!(p.term.poll_timeout(), Some(Instant::from_millis(25_000)));
    p.pump();
    assert_eq!(Pair::types_sent(&p.ecr_sent), ["B1", "B0"]);
    assert_eq!(Pair::types_sent(&p.term_sent), ["B0", "B2"]);
    let EcrEvent::Response(resp) = &p.ecr_events[1] else {
        panic!("{:?}", p.ecr_events)
    };
    assert_eq!(resp.outcome, Outcome::Approved);
    assert_eq!(resp.amount, Some(czk(1250)));
    assert_eq!(resp.approval_code.as_ref().unwrap().as_str(), "A1B2C3");
    assert_eq!(
        resp.timestamp,
        Some(Timestamp::new(2024, 3, 15, 14, 30, 25).unwrap())
    );
    assert!(p.ecr.receipt_ready());
    assert_eq!(p.term_events[1], TerminalEvent::ResponseDelivered);
    assert!(!p.term.is_busy() && !p.ecr.is_busy());
    assert_eq!(p.term.poll_timeout(), None);
}

#[test]
fn subtotals_and_last_sums_between_the_sessions() {
    let mut totals = Totals::default();
    totals
        .currencies
        .push(CurrencyTotals {
            currency: 203,
            debit_count: 3,
            debit_minor: 4500,
            credit_count: 1,
            credit_minor: 500,
            reversal_count: 1,
        })
        .unwrap();
    totals
        .schemes
        .push(SchemeTotals {
            scheme: CardScheme::Mastercard,
            currency: 203,
            count: 4,
            net_minor: 4000,
        })
        .unwrap();
    let mut p = Pair::new();
    for (request, kind, code) in [
        (Request::Subtotals, RequestKind::Subtotals, &b"T65"[..]),
        (Request::LastSums, RequestKind::LastSums, b"T83"),
    ] {
        p.ecr_sent.clear();
        p.ecr_events.clear();
        p.term_events.clear();
        p.ecr.start(p.now, &request).unwrap();
        p.pump();
        assert_eq!(p.term_events, [TerminalEvent::Request(request.clone())]);
        assert_eq!(
            p.ecr_sent[0],
            frame("B1011234567824031514300500000004A5A5", &[code])
        );
        let mut answer = Response::new(kind, Outcome::Approved);
        answer.totals = Some(totals.clone());
        p.term.respond(p.now, &answer).unwrap();
        p.pump();
        let EcrEvent::Response(resp) = &p.ecr_events[1] else {
            panic!("{:?}", p.ecr_events)
        };
        assert_eq!(resp.kind, kind);
        assert_eq!(resp.outcome, Outcome::Approved);
        assert_eq!(resp.totals.as_ref(), Some(&totals));
        assert!(p.ecr.receipt_ready());
        assert_eq!(p.term_events[1], TerminalEvent::ResponseDelivered);
        assert!(!p.term.is_busy() && !p.ecr.is_busy());
    }
}

#[test]
fn lost_confirmation_b0_is_reported_undelivered() {
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    p.term.respond(p.now, &approved_sale()).unwrap();
    // The ECR's confirming B0 is lost on the way.
    p.drop_next_ecr_frame = true;
    p.pump();
    assert!(matches!(p.ecr_events.last(), Some(EcrEvent::Response(_))));
    assert!(p.term.is_busy());
    p.advance(4_999);
    assert_eq!(p.term_events.len(), 1);
    p.advance(1);
    assert_eq!(
        p.term_events.last(),
        Some(&TerminalEvent::ResponseUndelivered(Error::LinkNoAck))
    );
    assert!(!p.term.is_busy());
    // Nothing is repeated: the till learns the result with T82.
    assert_eq!(Pair::types_sent(&p.term_sent), ["B0", "B2"]);
}

#[test]
fn late_b2_times_out_then_last_transaction_recovers() {
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    p.advance(59_999);
    assert_eq!(p.ecr_events, [EcrEvent::Accepted]);
    p.advance(1);
    assert_eq!(p.ecr_events, [EcrEvent::Accepted, EcrEvent::TimedOut]);
    assert!(!p.ecr.is_busy());
    // The terminal answers late: the till does not confirm it.
    p.term.respond(p.now, &approved_sale()).unwrap();
    p.pump();
    assert!(matches!(
        p.ecr_events.last(),
        Some(EcrEvent::ProtocolError(Error::CsobUnexpected { .. }))
    ));
    assert_eq!(Pair::types_sent(&p.ecr_sent), ["B1"]);
    // The till asks for the last transaction (T82); the terminal's next request reports the
    // unconfirmed B2 as undelivered.
    p.ecr.start(p.now, &Request::LastTransaction).unwrap();
    p.pump();
    assert_eq!(
        p.term_events[1..],
        [
            TerminalEvent::ResponseUndelivered(Error::LinkNoAck),
            TerminalEvent::Request(Request::LastTransaction)
        ]
    );
    let mut last = approved_sale();
    last.kind = RequestKind::LastTransaction;
    p.term.respond(p.now, &last).unwrap();
    p.pump();
    let Some(EcrEvent::Response(r)) = p.ecr_events.last() else {
        panic!("{:?}", p.ecr_events)
    };
    assert_eq!(r.kind, RequestKind::LastTransaction);
    assert_eq!(r.reference.as_ref().unwrap().as_str(), "ORDER1");
    // A terminal that answers with the last transaction's own answer (the payment
    // application does): the till learns it was a sale.
    p.ecr.start(p.now, &Request::LastTransaction).unwrap();
    p.pump();
    p.term.respond(p.now, &approved_sale()).unwrap();
    p.pump();
    let Some(EcrEvent::Response(r)) = p.ecr_events.last() else {
        panic!("{:?}", p.ecr_events)
    };
    assert_eq!(r.kind, RequestKind::Sale);
    assert_eq!(r.amount, Some(czk(1250)));
}

#[test]
fn b0_activity_extends_the_response_limit() {
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    p.advance(50_000);
    // The terminal shows activity (B0) at 50 s.
    let mut buf = [0u8; 64];
    let b0 = Message {
        header: header(MessageType::Activity, 0),
        body: Body::Activity,
    };
    let n = b0.emit(&mut buf).unwrap();
    p.ecr.handle_bytes(p.now, &buf[..n]);
    p.advance(59_999);
    assert_eq!(p.ecr_events, [EcrEvent::Accepted]);
    p.advance(1);
    assert_eq!(p.ecr_events, [EcrEvent::Accepted, EcrEvent::TimedOut]);
}

#[test]
fn receipt_in_parts() {
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    p.term.respond(p.now, &approved_sale()).unwrap();
    p.pump();
    assert!(p.ecr.receipt_ready());
    let parts: [(&str, bool); 3] = [
        ("OBCHOD s.r.o.\nPRODEJ 12,50 CZK", true),
        ("Děkujeme", false),
        ("ZÁKAZNÍK\nPRODEJ 12,50 CZK", false),
    ];
    let mut selectors = Vec::new();
    for (text, more) in parts {
        p.ecr.request_receipt(p.now).unwrap();
        p.pump();
        assert_eq!(p.term_events.last(), Some(&TerminalEvent::ReceiptRequested));
        selectors.push(p.term.receipt_selector().unwrap());
        p.term.send_receipt_part(p.now, text, more).unwrap();
        p.pump();
        assert_eq!(
            p.ecr_events.last(),
            Some(&EcrEvent::ReceiptPart {
                text: heapless::String::try_from(text).unwrap(),
                more
            })
        );
    }
    assert_eq!(
        selectors,
        [
            ReceiptSelector::Merchant,
            ReceiptSelector::Next,
            ReceiptSelector::Customer
        ]
    );
    // Each B4 was confirmed with B0, as the public client does.
    assert_eq!(
        Pair::types_sent(&p.ecr_sent),
        ["B1", "B0", "B3", "B0", "B3", "B0", "B3", "B0"]
    );
    // A part nobody asked for is refused.
    assert!(matches!(
        p.term.send_receipt_part(p.now, "x", false),
        Err(Error::CsobUnexpected { .. })
    ));
}

#[test]
fn receipt_request_times_out() {
    let mut p = Pair::new();
    p.ecr.request_receipt(p.now).unwrap();
    p.pump();
    p.advance(5_000);
    assert_eq!(p.ecr_events, [EcrEvent::TimedOut]);
}

#[test]
fn busy_terminal_refuses_a_second_request_but_takes_passivate() {
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    // A second till request while the sale runs (bytes straight to the terminal).
    let mut buf = [0u8; 256];
    let b1 = Message {
        header: header(MessageType::TransactionRequest, 0),
        body: Body::Request(TransactionRequest::new(TxnCode::AppInfo)),
    };
    let n = b1.emit(&mut buf).unwrap();
    p.term.handle_bytes(p.now, &buf[..n]);
    let mut out = [0u8; MAX_TRANSMIT];
    let mut sent = Vec::new();
    while let Some(n) = p.term.poll_transmit(&mut out).unwrap() {
        sent.extend(frames_of(&out[..n]).iter().map(|f| parse(f).body));
    }
    assert_eq!(sent[0], Body::Activity);
    assert_eq!(
        sent[1],
        Body::Response(TransactionResponse::new(
            TxnCode::AppInfo,
            ResultCode::parse(b"-02").unwrap()
        ))
    );
    assert_eq!(p.term_events, [TerminalEvent::Request(sale())]);
    assert_eq!(
        p.term.poll_event(),
        Some(TerminalEvent::ProtocolError(Error::LinkBusy))
    );
    // T81 passivate replaces the pending sale.
    let t81 = Message {
        header: header(MessageType::TransactionRequest, 0),
        body: Body::Request(TransactionRequest::new(TxnCode::Passivate)),
    };
    let n = t81.emit(&mut buf).unwrap();
    p.term.handle_bytes(p.now, &buf[..n]);
    assert_eq!(
        p.term.poll_event(),
        Some(TerminalEvent::Request(Request::Abort))
    );
    assert!(matches!(
        p.term.respond(p.now, &approved_sale()),
        Err(Error::SessionResponseMismatch { .. })
    ));
    p.term
        .respond(
            p.now,
            &Response::new(RequestKind::Abort, Outcome::Cancelled),
        )
        .unwrap();
}

#[test]
fn reversal_without_amount_uses_the_last_approved_transaction() {
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    p.term.respond(p.now, &approved_sale()).unwrap();
    p.pump();
    // The public client's reversal: T10 F only.
    let mut buf = [0u8; 256];
    let bytes = frame(
        "B101123456782403151430058000000EA5A5",
        &[b"T10", b"FA1B2C3"],
    );
    p.term.handle_bytes(p.now, &bytes);
    while p.term.poll_transmit(&mut buf).unwrap().is_some() {}
    let ev: Vec<_> = core::iter::from_fn(|| p.term.poll_event()).collect();
    assert_eq!(
        ev.last(),
        Some(&TerminalEvent::Request(Request::Reversal {
            amount: czk(1250),
            code: ApprovalCode::new("A1B2C3").unwrap(),
            reference: None
        }))
    );
    // Another code does not match: refused at once with R-21.
    let mut t = CsobTerminal::new(CsobConfig::new(tid()));
    t.set_last_approved(ApprovalCode::new("ZZZZZZ").unwrap(), czk(5));
    t.handle_bytes(p.now, &bytes);
    let mut sent = Vec::new();
    while let Some(n) = t.poll_transmit(&mut buf).unwrap() {
        sent.extend(frames_of(&buf[..n]).iter().map(|f| parse(f).body));
    }
    assert_eq!(
        sent,
        [
            Body::Activity,
            Body::Response(TransactionResponse::new(
                TxnCode::Reversal,
                ResultCode::Discarded
            ))
        ]
    );
    assert_eq!(
        t.poll_event(),
        Some(TerminalEvent::ProtocolError(Error::CsobField {
            field: "B"
        }))
    );
    assert!(!t.is_busy());
}

#[test]
fn ecr_rejects_what_it_cannot_send() {
    let mut e = CsobEcr::new(CsobConfig::new(tid()));
    assert!(matches!(
        e.start(Instant::ZERO, &Request::Reprint),
        Err(Error::Unsupported { .. })
    ));
    assert!(!e.is_busy());
    e.start(Instant::ZERO, &sale()).unwrap();
    assert_eq!(e.start(Instant::ZERO, &sale()), Err(Error::LinkBusy));
    assert_eq!(e.request_receipt(Instant::ZERO), Err(Error::LinkBusy));
    let mut small = [0u8; 8];
    assert!(matches!(
        e.poll_transmit(&mut small),
        Err(Error::BufferTooSmall { .. })
    ));
    let mut big = [0u8; MAX_TRANSMIT];
    assert!(e.poll_transmit(&mut big).unwrap().is_some());
    assert_eq!(e.poll_transmit(&mut big).unwrap(), None);
}

#[test]
fn wall_clock_rolls_over_months_and_years() {
    let mut e = CsobEcr::new(CsobConfig::new(tid()));
    e.set_wall_clock(
        Instant::from_millis(1_000),
        Timestamp::new(2024, 12, 31, 23, 59, 59).unwrap(),
    );
    e.start(Instant::from_millis(2_500), &Request::TestTerminal)
        .unwrap();
    let mut buf = [0u8; 128];
    let n = e.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(&buf[13..25], b"250101000000");
    let m = parse(&buf[..n]);
    assert_eq!(
        m.header.timestamp,
        Timestamp::new(2025, 1, 1, 0, 0, 0).unwrap()
    );
    // Leap day.
    let mut e = CsobEcr::new(CsobConfig::new(tid()));
    e.set_wall_clock(
        Instant::ZERO,
        Timestamp::new(2024, 2, 28, 12, 0, 0).unwrap(),
    );
    e.start(Instant::from_millis(86_400_000), &Request::TestTerminal)
        .unwrap();
    let n = e.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(
        parse(&buf[..n]).header.timestamp,
        Timestamp::new(2024, 2, 29, 12, 0, 0).unwrap()
    );
}

#[test]
fn sessions_are_send_and_object_safe() {
    fn send<T: Send>(_: &T) {}
    let t = CsobTerminal::new(CsobConfig::new(tid()));
    let e = CsobEcr::new(CsobConfig::new(tid()));
    send(&t);
    send(&e);
    let t: &dyn TerminalSide = &t;
    let e: &dyn EcrSide = &e;
    assert!(!t.is_busy() && !e.is_busy());
}

/// Fuzz find (`session_drive`): a read holding many B1 frames (a flooding or retrying till)
/// made the terminal queue more events than it holds; the oldest — the `Request` — was the one
/// dropped, leaving the session busy forever with a request its driver never saw.
#[test]
fn a_flood_of_requests_never_drops_the_request_event() {
    let mut ecr_frames = Vec::new();
    let mut buf = [0u8; MAX_TRANSMIT];
    for i in 0..12 {
        let mut ecr = CsobEcr::new(CsobConfig::new(tid()));
        let request = Request::Sale {
            amount: czk(1000 + i),
            reference: None,
        };
        ecr.start(Instant::ZERO, &request).unwrap();
        let n = ecr.poll_transmit(&mut buf).unwrap().unwrap();
        ecr_frames.extend_from_slice(&buf[..n]);
    }
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    term.handle_bytes(Instant::ZERO, &ecr_frames);
    let mut events = Vec::new();
    while let Some(e) = term.poll_event() {
        events.push(e);
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TerminalEvent::Request(_))),
        "{events:?}"
    );
    assert!(
        term.dropped_events() > 0,
        "the flood did overflow the queue"
    );
    while term.poll_transmit(&mut buf).unwrap().is_some() {}
    let mut answer = approved_sale();
    answer.amount = events.iter().find_map(|e| match e {
        TerminalEvent::Request(r) => r.amount(),
        _ => None,
    });
    term.respond(Instant::ZERO, &answer).unwrap();
    term.handle_timeout(Instant::from_millis(60_000));
    assert!(!term.is_busy());
}

#[test]
fn terminal_refuses_b2_and_b4_before_typing_them() {
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    // A B2 whose R field would not parse, and a well-formed B4: both are refused as
    // unexpected, without a field error (the terminal does not type what it cannot receive).
    let bad_b2 = frame("B2011234567824031514300500000000A5A5", &[b"T00", b"R-1234"]);
    let b4 = emit(&Message {
        header: header(MessageType::TicketResponse, 0),
        body: Body::TicketResponse(TicketResponse {
            text: heapless::String::try_from("line").unwrap(),
            more: false,
        }),
    });
    // The same B2 is a field error for a full parse.
    assert_eq!(
        Message::parse_frame(&bad_b2, &ParseOptions::default()).map(|_| ()),
        Err(Error::CsobField { field: "R" })
    );
    term.handle_bytes(Instant::ZERO, &cat(&[&bad_b2, &b4]));
    let unexpected = TerminalEvent::ProtocolError(Error::CsobUnexpected {
        what: "B2/B4 sent to a terminal",
    });
    assert_eq!(term.poll_event(), Some(unexpected.clone()));
    assert_eq!(term.poll_event(), Some(unexpected));
    assert_eq!(term.poll_event(), None);
    // Nothing is sent back and the terminal still takes a request.
    assert_eq!(term.poll_transmit(&mut [0u8; MAX_TRANSMIT]), Ok(None));
    let b1 = emit(&Message {
        header: header(MessageType::TransactionRequest, 0),
        body: Body::Request(TransactionRequest::new(TxnCode::AppInfo)),
    });
    term.handle_bytes(Instant::ZERO, &b1);
    assert_eq!(
        term.poll_event(),
        Some(TerminalEvent::Request(Request::TestTerminal))
    );
}

/// Fault-injection find: the same B1 twice (a till or a line that retransmits) was refused the
/// second time with a B2 R-21 for the same code, which the till took as the answer to its
/// sale ("discarded") while the sale went on and was approved. A retransmission of the B1
/// under way now gets a B0 and nothing else; another B1 is still refused.
#[test]
fn a_retransmitted_request_is_acknowledged_not_refused() {
    let mut ecr = CsobEcr::new(CsobConfig::new(tid()));
    ecr.start(Instant::ZERO, &sale()).unwrap();
    let mut buf = [0u8; MAX_TRANSMIT];
    let n = ecr.poll_transmit(&mut buf).unwrap().unwrap();
    let b1 = buf[..n].to_vec();
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    term.handle_bytes(Instant::ZERO, &cat(&[&b1, &b1]));
    let mut sent = Vec::new();
    while let Some(n) = term.poll_transmit(&mut buf).unwrap() {
        sent.extend(frames_of(&buf[..n]));
    }
    assert_eq!(Pair::types_sent(&sent), ["B0", "B0"], "no B2 for the copy");
    assert!(matches!(term.poll_event(), Some(TerminalEvent::Request(_))));
    assert_eq!(term.poll_event(), None);
    // The copy arriving after the answer went out is not a new sale either.
    term.respond(Instant::ZERO, &approved_sale()).unwrap();
    term.handle_bytes(Instant::ZERO, &b1);
    let mut sent = Vec::new();
    while let Some(n) = term.poll_transmit(&mut buf).unwrap() {
        sent.extend(frames_of(&buf[..n]));
    }
    assert_eq!(Pair::types_sent(&sent), ["B2", "B0"]);
    assert_eq!(term.poll_event(), None);
    // A different request while one is under way is still refused.
    let mut other = CsobEcr::new(CsobConfig::new(tid()));
    other
        .start(
            Instant::ZERO,
            &Request::Sale {
                amount: czk(999),
                reference: None,
            },
        )
        .unwrap();
    let n = other.poll_transmit(&mut buf).unwrap().unwrap();
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    term.handle_bytes(Instant::ZERO, &cat(&[&b1, &buf[..n]]));
    let mut sent = Vec::new();
    while let Some(n) = term.poll_transmit(&mut buf).unwrap() {
        sent.extend(frames_of(&buf[..n]));
    }
    assert_eq!(Pair::types_sent(&sent), ["B0", "B0", "B2"]);
}

/// The B1 under way is kept whole (the terminal copies it field by field): a repeat of a B1
/// with every field is the same request, and one that differs in any single field is not.
#[test]
fn the_request_under_way_is_kept_with_every_field() {
    let h = "B1011234567824031514300500000004A5A5";
    let full: [&[u8]; 6] = [b"T08", b"B1000", b"C200", b"E203", b"S12345", b"F123456"];
    let sent_for = |second: &[&[u8]]| {
        let mut term = CsobTerminal::new(CsobConfig::new(tid()));
        term.handle_bytes(Instant::ZERO, &cat(&[&frame(h, &full), &frame(h, second)]));
        assert!(matches!(
            term.poll_event(),
            Some(TerminalEvent::Request(Request::SaleWithCashback { .. }))
        ));
        let mut buf = [0u8; MAX_TRANSMIT];
        let mut sent = Vec::new();
        while let Some(n) = term.poll_transmit(&mut buf).unwrap() {
            sent.extend(frames_of(&buf[..n]));
        }
        Pair::types_sent(&sent).join(" ")
    };
    assert_eq!(sent_for(&full), "B0 B0", "the same B1 again");
    let changed: [&[u8]; 6] = [b"T00", b"B1001", b"C201", b"E978", b"S12346", b"F123457"];
    for i in 0..full.len() {
        let mut other = full;
        other[i] = changed[i];
        assert_eq!(
            sent_for(&other),
            "B0 B0 B2",
            "a B1 that differs in {:?} is another request",
            std::str::from_utf8(changed[i]).unwrap()
        );
    }
}

// ----- what the public client reads (issue 14, points 7, 8 and 10) -----

/// The public client reads once into 1024 bytes (`SocketConnection.read`) right after it sent
/// a T80 (`SocketConnection.verifyConnection`). An answer given at once leaves with its B0 in
/// one `poll_transmit`, so a driver that writes each one in a single write never leaves the
/// B2 behind for the next read (where it would pass for the answer to the next request).
#[test]
fn an_answer_given_at_once_leaves_with_its_b0() {
    let t80 = frame("B1011234567824031514300500000004A5A5", &[b"T80"]);
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    term.handle_bytes(Instant::ZERO, &t80);
    // The driver acts on the event (and answers) before it sends what is queued.
    assert_eq!(
        term.poll_event(),
        Some(TerminalEvent::Request(Request::TestTerminal))
    );
    term.respond(
        Instant::ZERO,
        &Response::new(RequestKind::TestTerminal, Outcome::Approved),
    )
    .unwrap();
    let mut buf = [0u8; MAX_TRANSMIT];
    let n = term.poll_transmit(&mut buf).unwrap().unwrap();
    assert!(n <= PUBLIC_CLIENT_READ);
    assert_eq!(Pair::types_sent(&frames_of(&buf[..n])), ["B0", "B2"]);
    assert_eq!(term.poll_transmit(&mut buf).unwrap(), None);

    // A B0 already sent is not held back for an answer that comes later.
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    term.handle_bytes(Instant::ZERO, &t80);
    let n = term.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(Pair::types_sent(&frames_of(&buf[..n])), ["B0"]);

    // Frames never leave together past `till_read` or the caller's buffer; zero: one by one.
    for (till_read, buf_len, expected) in [
        (PUBLIC_CLIENT_READ, 60, 1),
        (60, MAX_TRANSMIT, 1),
        (0, MAX_TRANSMIT, 1),
        (PUBLIC_CLIENT_READ, MAX_TRANSMIT, 2),
    ] {
        let mut cfg = CsobConfig::new(tid());
        cfg.till_read = till_read;
        let mut term = CsobTerminal::new(cfg);
        term.handle_bytes(Instant::ZERO, &t80);
        let _ = term.poll_event();
        term.respond(
            Instant::ZERO,
            &Response::new(RequestKind::TestTerminal, Outcome::Approved),
        )
        .unwrap();
        let mut small = std::vec![0u8; buf_len];
        let n = term.poll_transmit(&mut small).unwrap().unwrap();
        assert_eq!(
            frames_of(&small[..n]).len(),
            expected,
            "{till_read} {buf_len}"
        );
    }
}

/// The terminal's writer has no B1 or B3 (a terminal never sends them; firmware then links no
/// writer for them): it refuses them, and the till's writes them.
#[test]
fn only_the_till_side_writes_b1_and_b3() {
    let b1 = TransactionRequest::new(TxnCode::Sale);
    let b3 = TicketRequest {
        selector: ReceiptSelector::Merchant,
    };
    for body in [
        message::BodyRef::Request(&b1),
        message::BodyRef::TicketRequest(&b3),
    ] {
        assert_eq!(
            message::frame_len::<false>(body),
            Err(Error::CsobUnexpected {
                what: "B1/B3 sent by a terminal"
            })
        );
        assert!(message::frame_len::<true>(body).is_ok());
    }
    assert!(message::frame_len::<false>(message::BodyRef::Activity).is_ok());
}

/// The longest B1 a till writes (every field at its longest: 107 bytes between STX and ETX)
/// fits the terminal's receive buffer (`session::TERMINAL_RX`) with room to spare.
#[test]
fn the_longest_b1_fits_the_terminal_receive_buffer() {
    let b1 = frame(
        "B1011234567824031514300580000047A5A5",
        &[
            b"T10",
            b"FABCD1234",
            b"B999999999999",
            b"C999999999999",
            &[
                b'9', GS, b'S', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', b'9', b'0', b'1',
                b'2', b'3', b'4', b'5', b'6', b'7', b'8', b'9', b'0',
            ],
            b"E203",
        ],
    );
    assert_eq!(b1.len(), 109);
    assert!(b1.len() - 2 <= session::TERMINAL_RX / 2);
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    term.handle_bytes(Instant::ZERO, &b1);
    assert!(
        matches!(
            term.poll_event(),
            Some(TerminalEvent::Request(Request::Reversal { .. }))
        ),
        "the longest B1 is taken"
    );
}

/// The terminal's outbox holds one read of the public client (`session::TERMINAL_OUTBOX`): a
/// `till_read` set larger builds no larger frame, and a part that would need one is refused
/// before anything is queued.
#[test]
fn till_read_past_the_outbox_is_capped_at_it() {
    let mut cfg = CsobConfig::new(tid());
    cfg.till_read = MAX_TRANSMIT;
    let mut term = CsobTerminal::new(cfg);
    let line = "x".repeat(40);
    let lines = |n: usize| std::vec![line.as_str(); n].join("\n");
    // Frame: 38 (STX, header, ETX) + n * (3 + 40).
    assert!(term.receipt_part_fits(&lines(22), false)); // 38 + 946 = 984
    assert!(!term.receipt_part_fits(&lines(23), false)); // 38 + 989 = 1027
    let b3 = frame(
        "B3011234567824031514300580000005A5A5",
        &[&[b'9', GS, b't', b'M']],
    );
    term.handle_bytes(Instant::ZERO, &b3);
    assert_eq!(term.poll_event(), Some(TerminalEvent::ReceiptRequested));
    assert_eq!(
        term.send_receipt_part(Instant::ZERO, &lines(23), false),
        Err(Error::CapacityExceeded { what: "csob frame" })
    );
    let mut buf = [0u8; MAX_TRANSMIT];
    assert_eq!(term.poll_transmit(&mut buf), Ok(None));
    // The part that fits goes out whole.
    term.send_receipt_part(Instant::ZERO, &lines(22), false)
        .unwrap();
    assert_eq!(term.poll_transmit(&mut buf), Ok(Some(984)));
}

/// `Response.java` takes a B4 only if its `STX … ETX` is complete within one 1024-byte read:
/// receipt parts are cut so that each frame fits, whatever the width and language.
#[test]
fn receipt_parts_fit_the_public_client_read() {
    let term = CsobTerminal::new(CsobConfig::new(tid()));
    // 25 lines of 42 Czech columns: 42 characters, one byte each on the wire, plus FS T 0.
    let line = "Děkujeme za nákup, přejeme hezký den!!!!!";
    assert_eq!(line.chars().count(), 41);
    let lines = |n: usize| std::vec![line; n].join("\n");
    // Frame: 38 (STX, header, ETX) + n * (3 + 41) (+ 3 for t1).
    assert!(term.receipt_part_fits(&lines(22), true)); // 38 + 968 + 3 = 1009
    assert!(!term.receipt_part_fits(&lines(23), false)); // 38 + 1012 = 1050
    assert!(!term.receipt_part_fits(&"x".repeat(2000), false)); // over the text capacity
    let mut term = CsobTerminal::new(CsobConfig::new(tid()));
    term.handle_bytes(
        Instant::ZERO,
        &frame(
            "B3011234567824031514300580000005A5A5",
            &[&[b'9', GS, b't', b'M']],
        ),
    );
    assert_eq!(term.poll_event(), Some(TerminalEvent::ReceiptRequested));
    assert!(matches!(
        term.send_receipt_part(Instant::ZERO, &lines(23), false),
        Err(Error::CapacityExceeded { .. })
    ));
    term.send_receipt_part(Instant::ZERO, &lines(22), true)
        .unwrap();
    let mut buf = [0u8; MAX_TRANSMIT];
    let n = term.poll_transmit(&mut buf).unwrap().unwrap();
    assert!(n <= PUBLIC_CLIENT_READ, "{n}");
    let Body::TicketResponse(b4) = parse(&buf[..n]).body else {
        panic!("not a B4")
    };
    assert!(b4.more);
    assert_eq!(b4.text.as_str(), lines(22));
}

/// A B2 announces a receipt only when the driver holds one of that transaction: after "bank
/// unavailable" there is none, and the public client would fetch the previous one.
#[test]
fn no_receipt_announced_for_an_answer_without_one() {
    let b2_flags = |receipt: bool, outcome: Outcome| {
        let mut term = CsobTerminal::new(CsobConfig::new(tid()));
        let b1 = frame(
            "B1011234567824031514300580000016A5A5",
            &[b"T00", b"B1250", b"S12345", b"E203"],
        );
        term.handle_bytes(Instant::ZERO, &b1);
        let _ = term.poll_event();
        let mut r = Response::new(RequestKind::Sale, outcome);
        r.amount = Some(czk(1250));
        term.respond_with_receipt(Instant::ZERO, &r, receipt)
            .unwrap();
        let mut buf = [0u8; MAX_TRANSMIT];
        let n = term.poll_transmit(&mut buf).unwrap().unwrap();
        let frames = frames_of(&buf[..n]);
        let m = parse(frames.last().unwrap());
        assert!(matches!(m.body, Body::Response(_)));
        m.header.flags.has(Flags::RECEIPT_READY)
    };
    assert!(b2_flags(true, Outcome::Approved));
    assert!(!b2_flags(false, Outcome::BankUnavailable));
    assert!(!b2_flags(false, Outcome::Approved));
}

/// What the terminal sends for `b1` sent at `at`, as bodies.
fn terminal_answer(
    term: &mut CsobTerminal,
    now: Instant,
    at: Timestamp,
    b1: TransactionRequest,
) -> Vec<Body> {
    let mut h = header(MessageType::TransactionRequest, Flags::CONFIRM);
    h.timestamp = at;
    let bytes = emit(&Message {
        header: h,
        body: Body::Request(b1),
    });
    term.handle_bytes(now, &bytes);
    let mut out = [0u8; MAX_TRANSMIT];
    let mut sent = Vec::new();
    while let Some(n) = term.poll_transmit(&mut out).unwrap() {
        sent.extend(frames_of(&out[..n]).iter().map(|f| parse(f).body));
    }
    sent
}

#[test]
fn the_same_request_again_with_a_new_time_is_answered_once_when_it_completes() {
    // Defect 13: a till that sends its sale again (new header time) while the first runs was
    // answered B2 T00 R-21 "discarded", although the sale went on and was charged.
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    assert_eq!(p.term_events, [TerminalEvent::Request(sale())]);
    p.advance(20_000);
    let later = Timestamp::new(2024, 3, 15, 14, 30, 25).unwrap();
    let again = TransactionRequest::from_request(&sale()).unwrap();
    let sent = terminal_answer(&mut p.term, p.now, later, again);
    assert_eq!(
        sent,
        [Body::Activity],
        "a repeat is acknowledged, not refused"
    );
    assert_eq!(
        p.term.poll_event(),
        None,
        "nor a second request for the driver"
    );
    // The sale's one answer reaches the till, which confirms it.
    p.term.respond(p.now, &approved_sale()).unwrap();
    p.pump();
    assert_eq!(p.ecr_events.len(), 2, "{:?}", p.ecr_events);
    let EcrEvent::Response(r) = &p.ecr_events[1] else {
        panic!("{:?}", p.ecr_events)
    };
    assert!(r.outcome.is_approved());
    assert_eq!(
        p.term_events.last(),
        Some(&TerminalEvent::ResponseDelivered)
    );
    assert_eq!(Pair::types_sent(&p.term_sent), ["B0", "B2"]);
}

#[test]
fn another_request_while_one_runs_is_refused_busy_with_its_own_fields() {
    // Defect 13: a different request while a sale runs gets R-02 (busy) with its own code,
    // amount and reference, never R-21 "discarded", and the sale goes on undisturbed.
    let mut p = Pair::new();
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    let later = Timestamp::new(2024, 3, 15, 14, 30, 25).unwrap();
    let other = Request::Sale {
        amount: czk(999),
        reference: Some(Reference::new("ORDER2").unwrap()),
    };
    let b1 = TransactionRequest::from_request(&other).unwrap();
    let sent = terminal_answer(&mut p.term, p.now, later, b1);
    let mut busy = TransactionResponse::new(TxnCode::Sale, ResultCode::parse(b"-02").unwrap());
    busy.amount = Some(999);
    busy.currency = Some(203);
    busy.reference = Some(Reference::new("ORDER2").unwrap());
    assert_eq!(sent, [Body::Activity, Body::Response(busy.clone())]);
    assert_eq!(
        map::outcome(&busy.result),
        Outcome::Failed {
            reason: FailReason::Busy
        }
    );
    assert_eq!(
        p.term.poll_event(),
        Some(TerminalEvent::ProtocolError(Error::LinkBusy))
    );
    // The running sale is still answered as usual.
    p.term.respond(p.now, &approved_sale()).unwrap();
    p.pump();
    assert!(matches!(&p.ecr_events[1], EcrEvent::Response(r) if r.outcome.is_approved()));
}

#[test]
fn a_b0_may_carry_the_terminals_stage() {
    use crate::session::Progress;
    // FS 'A' "present-card": 14 bytes of data.
    both_ways(
        &Message {
            header: header(MessageType::Activity, 0),
            body: Body::Progress(Progress::PresentCard),
        },
        &frame("B001123456782403151430050000000EA5A5", &[b"Apresent-card"]),
    );
    for p in Progress::ALL {
        assert_eq!(Progress::from_name(p.name().as_bytes()), Some(p));
    }
    // A stage this version does not know is still activity.
    let m = parse(&frame(
        "B0011234567824031514300500000008A5A5",
        &[b"Adancing"],
    ));
    assert_eq!(m.body, Body::Activity);
}

#[test]
fn stages_reach_the_till_while_the_request_runs_and_only_then() {
    use crate::session::Progress;
    let mut p = Pair::new();
    // Nothing runs: nothing is sent.
    p.term.send_progress(p.now, Progress::PresentCard).unwrap();
    p.pump();
    assert!(p.term_sent.is_empty());
    p.ecr.start(p.now, &sale()).unwrap();
    p.pump();
    p.advance(50_000);
    p.term.send_progress(p.now, Progress::PresentCard).unwrap();
    p.term
        .send_progress(p.now, Progress::ContactingBank)
        .unwrap();
    p.pump();
    assert_eq!(
        p.ecr_events,
        [
            EcrEvent::Accepted,
            EcrEvent::Progress(Progress::PresentCard),
            EcrEvent::Progress(Progress::ContactingBank),
        ]
    );
    // A stage is activity: the till's 60 s limit starts again from it.
    assert_eq!(p.ecr.poll_timeout(), Some(Instant::from_millis(110_000)));
    p.term.respond(p.now, &approved_sale()).unwrap();
    p.pump();
    assert_eq!(Pair::types_sent(&p.term_sent), ["B0", "B0", "B0", "B2"]);
    assert!(matches!(p.ecr_events[3], EcrEvent::Response(_)));
    assert_eq!(p.term_events[1], TerminalEvent::ResponseDelivered);
    // Answered: stages are no longer sent.
    p.term.send_progress(p.now, Progress::Printing).unwrap();
    p.pump();
    assert_eq!(p.term_sent.len(), 4);
}
