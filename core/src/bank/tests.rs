//! Byte-exact tables (both directions), cross-checked against a standard ISO 8583 library,
//! property round trips and hostile input.
//!
//! The reference messages below were produced with pyiso8583 4.0.1 (PyPI `pyiso8583`, its
//! `iso8583.specs.default_ascii` spec) by `iso8583.encode(doc, default_ascii)`; the `doc` of
//! each is given in its comment. They were generated once by hand; these tests do not need
//! Python.
// Test-only module: its parent declares it `#[cfg(test)] mod tests;`, so unwrap/expect here never reach a build.

extern crate std;
use std::format;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::framing::{self, Accumulator, Feed};
use super::*;
use crate::Error;
use crate::txn::{Amount, ApprovalCode, Currency, Money, Pan, TerminalId};

/// `{'t':'0800','7':'1125171300','11':'000001','70':'301'}`
const PY_ECHO: &[u8] = b"0800822000000000000004000000000000001125171300000001301";

/// `{'t':'0200','2':'4761739001010119','3':'000000','4':'000000001250','11':'000042',
///   '41':'TERM0001','49':'978','55':'9F2608C2C12B098F3DA6E39F2701809F3602002A9F34031F0302'}`
const PY_SALE: &[u8] = b"02007020000000808200164761739001010119000000000000001250000042TERM00019780529F2608C2C12B098F3DA6E39F2701809F3602002A9F34031F0302";

/// `{'t':'0210','3':'090000','4':'000000005000','7':'1125171301','11':'000043',
///   '37':'123456789012','38':'A1B2C3','39':'00','41':'TERM0001','42':'MERCHANT0000001',
///   '49':'203','55':'910A1122334455667788990000'}`
const PY_SALE_ANSWER: &[u8] = b"0210322000000EC082000900000000000050001125171301000043123456789012A1B2C300TERM0001MERCHANT0000001203026910A1122334455667788990000";

/// `{'t':'0400','2':'5413330089010434','3':'000000','4':'000000001250','7':'1125171530',
///   '11':'000044','38':'A1B2C3','39':'68','41':'TERM0001','49':'978',
///   '90':'020000004211251713000000000000000000000000'}`
const PY_REVERSAL: &[u8] = b"0400F22000000680800000000040000000001654133300890104340000000000000012501125171530000044A1B2C368TERM0001978020000004211251713000000000000000000000000";

/// `{'t':'0510','7':'1125230000','11':'000050','39':'00','41':'TERM0001','49':'978',
///   '74':'0000000001','76':'0000000003','86':'0000000000000500','88':'0000000000007500'}`
const PY_CLOSE_ANSWER: &[u8] = b"051082200000028080000050050000000000112523000000005000TERM00019780000000001000000000300000000000005000000000000007500";

/// `{'t':'0200','2':'4761739001010119','3':'090000','4':'000000006000','11':'000045',
///   '12':'171300','13':'1125','41':'TERM0001','49':'203','54':'0040203D000000001000'}`
const PY_CASHBACK: &[u8] = b"020070380000008084001647617390010101190900000000000060000000451713001125TERM00012030200040203D000000001000";

const EMV: &[u8] = &[
    0x9F, 0x26, 0x08, 0xC2, 0xC1, 0x2B, 0x09, 0x8F, 0x3D, 0xA6, 0xE3, 0x9F, 0x27, 0x01, 0x80, 0x9F,
    0x36, 0x02, 0x00, 0x2A, 0x9F, 0x34, 0x03, 0x1F, 0x03, 0x02,
];

fn emit(m: &IsoMessage) -> Vec<u8> {
    let mut buf = vec![0u8; IsoMessage::MAX_LEN];
    let n = m.emit(&mut buf).unwrap();
    assert_eq!(n, m.encoded_len());
    buf.truncate(n);
    buf
}

fn tid() -> TerminalId {
    TerminalId::new("TERM0001").unwrap()
}

fn t(month: u8, day: u8, h: u8, m: u8, s: u8) -> MonthDayTime {
    MonthDayTime::new(month, day, h, m, s).unwrap()
}

#[test]
fn echo_is_byte_identical_to_pyiso8583() {
    let echo = NetworkRequest::echo(1, t(11, 25, 17, 13, 0));
    assert_eq!(emit(&echo.to_message().unwrap()), PY_ECHO);
    let parsed = IsoMessage::parse(PY_ECHO).unwrap();
    assert_eq!(NetworkRequest::from_message(&parsed).unwrap(), echo);
    // The answer: 0810 with 39 = 00, echoing 7, 11 and 70. pyiso8583:
    // `{'t':'0810','7':'1125171300','11':'000001','39':'00','70':'301'}`
    let answer = echo.respond(ResponseCode::APPROVED);
    let bytes = emit(&answer.to_message().unwrap());
    assert_eq!(
        bytes,
        b"081082200000020000000400000000000000112517130000000100301"
    );
    let back = NetworkResponse::from_message(&IsoMessage::parse(&bytes).unwrap()).unwrap();
    assert!(back.is_approved());
    assert_eq!(back.code, NetworkCode::EchoTest);
}

fn sale() -> AuthorizationRequest<'static> {
    AuthorizationRequest {
        pan: Pan::new("4761739001010119").unwrap(),
        processing: ProcessingCode::SALE,
        amount: Money::new(1250, Currency::EUR).unwrap(),
        cashback: None,
        stan: 42,
        transmission: None,
        local: None,
        expiry: None,
        entry: None,
        card_sequence: None,
        condition: None,
        terminal_id: tid(),
        merchant_id: None,
        emv: EMV,
    }
}

#[test]
fn sale_with_icc_data_is_byte_identical_to_pyiso8583() {
    let req = sale();
    assert_eq!(emit(&req.to_message().unwrap()), PY_SALE);
    let parsed = IsoMessage::parse(PY_SALE).unwrap();
    assert_eq!(parsed.get(55), Some(EMV));
    assert_eq!(AuthorizationRequest::from_message(&parsed).unwrap(), req);
}

#[test]
fn decodes_messages_pyiso8583_made() {
    // 0210
    let m = IsoMessage::parse(PY_SALE_ANSWER).unwrap();
    let a = AuthorizationResponse::from_message(&m).unwrap();
    assert!(a.is_approved());
    assert_eq!(a.processing, Some(ProcessingCode::CASHBACK));
    assert_eq!(a.amount, Some(Money::new(5000, Currency::CZK).unwrap()));
    assert_eq!(a.stan, 43);
    assert_eq!(a.transmission, Some(t(11, 25, 17, 13, 1)));
    assert_eq!(a.rrn.unwrap().as_str(), "123456789012");
    assert_eq!(a.approval_code.as_ref().unwrap().as_str(), "A1B2C3");
    assert_eq!(a.terminal_id, Some(tid()));
    assert_eq!(a.merchant_id.as_ref().unwrap().as_str(), "MERCHANT0000001");
    assert_eq!(
        a.emv,
        [
            0x91, 0x0A, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0x00, 0x00
        ]
    );
    assert_eq!(emit(&a.to_message().unwrap()), PY_SALE_ANSWER);

    // 0400 without field 2 (a reversal re-sent after a restart, identified by field 90)
    let with_pan = IsoMessage::parse(PY_REVERSAL).unwrap();
    let mut no_pan = ReversalRequest::from_message(&with_pan).unwrap();
    no_pan.pan = None;
    let m = no_pan.to_message().unwrap();
    assert!(!m.has(2));
    assert_eq!(ReversalRequest::from_message(&m).unwrap(), no_pan);

    // 0400 with field 90
    let m = IsoMessage::parse(PY_REVERSAL).unwrap();
    let r = ReversalRequest::from_message(&m).unwrap();
    assert_eq!(r.pan.as_ref().unwrap().digits(), "5413330089010434");
    assert_eq!(r.reason, Some(ResponseCode::TOO_LATE));
    assert_eq!(r.approval_code.as_ref().unwrap().as_str(), "A1B2C3");
    assert_eq!(
        r.original,
        OriginalData {
            mti: Mti::FINANCIAL_REQUEST,
            stan: 42,
            transmission: t(11, 25, 17, 13, 0),
            acquirer: 0,
            forwarder: 0,
        }
    );
    assert_eq!(emit(&r.to_message().unwrap()), PY_REVERSAL);

    // 0510 with totals
    let m = IsoMessage::parse(PY_CLOSE_ANSWER).unwrap();
    let c = ReconciliationResponse::from_message(&m).unwrap();
    assert!(c.is_approved());
    assert_eq!(
        c.totals,
        Some(BatchTotals {
            currency: Currency::EUR,
            debit_count: 3,
            debit_minor: 7500,
            credit_count: 1,
            credit_minor: 500,
        })
    );
    assert_eq!(emit(&c.to_message().unwrap()), PY_CLOSE_ANSWER);

    // 0200 cashback with local date/time and field 54
    let m = IsoMessage::parse(PY_CASHBACK).unwrap();
    let s = AuthorizationRequest::from_message(&m).unwrap();
    assert_eq!(s.processing, ProcessingCode::CASHBACK);
    assert_eq!(s.amount.minor(), 6000);
    assert_eq!(s.cashback, Some(Amount::new(1000).unwrap()));
    assert_eq!(s.local, Some(t(11, 25, 17, 13, 0)));
    assert_eq!(emit(&s.to_message().unwrap()), PY_CASHBACK);
}

#[test]
fn bank_message_dispatches_by_mti() {
    for (bytes, stan) in [
        (PY_ECHO, 1),
        (PY_SALE, 42),
        (PY_SALE_ANSWER, 43),
        (PY_REVERSAL, 44),
        (PY_CLOSE_ANSWER, 50),
        (PY_CASHBACK, 45),
    ] {
        let m = IsoMessage::parse(bytes).unwrap();
        let typed = BankMessage::from_message(&m).unwrap();
        assert_eq!(typed.stan(), stan);
        assert_eq!(emit(&typed.to_message().unwrap()), bytes);
    }
    let other = IsoMessage::new(Mti::new(b"0120").unwrap());
    assert_eq!(BankMessage::from_message(&other), Err(Error::IsoMti));
}

#[test]
fn malformed_messages_are_typed_errors() {
    let cases: &[(&[u8], Error)] = &[
        (b"08", Error::IsoMti),
        (
            b"08A0822000000000000004000000000000001125171300000001301",
            Error::IsoMti,
        ),
        (b"08008220", Error::IsoBitmap),
        (
            b"08008220000000000000040000000000000G1125171300000001301",
            Error::IsoBitmap,
        ),
        // Field 5 (amount, settlement) is not one the link knows.
        (
            b"08000800000000000000000000000000",
            Error::IsoUnknownField { field: 5 },
        ),
        // Field 65 (tertiary bitmap) in the secondary bitmap.
        (
            b"080080000000000000008000000000000000",
            Error::IsoUnknownField { field: 65 },
        ),
        (
            b"0800822000000000000004000000000000001125171300",
            Error::IsoTruncated { field: 11 },
        ),
        (
            b"0800822000000000000004000000000000001125171300000001301X",
            Error::IsoTrailingData { len: 1 },
        ),
        // Field 7 with a letter.
        (
            b"08008220000000000000040000000000000011251713X0000001301",
            Error::IsoField { field: 7 },
        ),
        // Field 2 with LL = 20 (> 19).
        (
            b"0200400000000000000020476173900101011900001",
            Error::IsoField { field: 2 },
        ),
        (b"02004000000000000000", Error::IsoTruncated { field: 2 }),
        // Field 55 with an odd number of hex characters, and with a non-hex one.
        (b"02000000000000000200003ABC", Error::IsoField { field: 55 }),
        (b"02000000000000000200002AG", Error::IsoField { field: 55 }),
        // Field 55 longer than 510 characters.
        (b"02000000000000000200512", Error::IsoField { field: 55 }),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            IsoMessage::parse(bytes).map(|_| ()),
            Err(*err),
            "{}",
            core::str::from_utf8(bytes).unwrap()
        );
    }
}

#[test]
fn lower_case_bitmap_parses_and_typed_errors_name_the_field() {
    let lower = b"0800822000000000000004000000000000001125171300000001301".to_ascii_lowercase();
    assert!(IsoMessage::parse(&lower).is_ok());
    // Month 13 in field 7.
    let bad =
        IsoMessage::parse(b"0800822000000000000004000000000000001325171300000001301").unwrap();
    assert_eq!(
        NetworkRequest::from_message(&bad),
        Err(Error::IsoField { field: 7 })
    );
    // 0800 without 70.
    let mut m = IsoMessage::parse(PY_ECHO).unwrap();
    m.remove(70);
    assert_eq!(
        NetworkRequest::from_message(&m),
        Err(Error::IsoMissingField { field: 70 })
    );
    assert_eq!(AuthorizationRequest::from_message(&m), Err(Error::IsoMti));
}

#[test]
fn set_validates_formats() {
    let mut m = IsoMessage::new(Mti::FINANCIAL_REQUEST);
    assert_eq!(m.set(3, b"12345"), Err(Error::IsoField { field: 3 }));
    assert_eq!(m.set(3, b"12345A"), Err(Error::IsoField { field: 3 }));
    assert_eq!(m.set(5, b"1"), Err(Error::IsoUnknownField { field: 5 }));
    assert_eq!(m.set(2, &[b'4'; 20]), Err(Error::IsoField { field: 2 }));
    assert_eq!(
        m.set(41, b"TERM\x01001"),
        Err(Error::IsoField { field: 41 })
    );
    assert_eq!(m.set(55, &[0u8; 256]), Err(Error::IsoField { field: 55 }));
    assert!(m.set(55, &[0u8; 255]).is_ok());
    assert!(m.set(54, &[b'0'; 120]).is_ok());
    assert_eq!(m.set(54, &[b'0'; 121]), Err(Error::IsoField { field: 54 }));
    // Replacing a longer value with a shorter one leaves no trace of the old one.
    m.set(2, b"4761739001010119").unwrap();
    m.set(2, b"541333008901").unwrap();
    let mut n = IsoMessage::new(Mti::FINANCIAL_REQUEST);
    n.set(2, b"541333008901").unwrap();
    n.set(55, &[0u8; 255]).unwrap();
    n.set(54, &[b'0'; 120]).unwrap();
    assert_eq!(m, n);
    assert_eq!(m.encoded_len(), 4 + 16 + 2 + 12 + 3 + 120 + 3 + 510);
}

#[test]
fn small_buffer_is_untouched() {
    let m = sale().to_message().unwrap();
    let mut buf = vec![0xEEu8; PY_SALE.len() - 1];
    assert_eq!(
        m.emit(&mut buf),
        Err(Error::BufferTooSmall {
            needed: PY_SALE.len()
        })
    );
    assert!(buf.iter().all(|&b| b == 0xEE));
    let mut buf = vec![0xEEu8; PY_SALE.len() + 1];
    assert_eq!(
        m.emit_prefixed(&mut buf),
        Err(Error::BufferTooSmall {
            needed: PY_SALE.len() + 2
        })
    );
    assert!(buf.iter().all(|&b| b == 0xEE));
}

#[test]
fn pan_is_masked_in_debug_and_display() {
    let req = sale();
    let m = req.to_message().unwrap();
    for text in [format!("{m:?}"), format!("{m}"), format!("{req:?}")] {
        assert!(!text.contains("4761739001010119"), "{text}");
        assert!(text.contains("476173******0119"), "{text}");
    }
    assert_eq!(
        format!("{}", IsoMessage::parse(PY_ECHO).unwrap()),
        "0800 7=1125171300 11=000001 70=301"
    );
}

#[test]
fn reversal_of_an_authorization() {
    let req = AuthorizationRequest {
        transmission: Some(t(11, 25, 17, 13, 0)),
        merchant_id: Some(MerchantId::new("SHOP 42").unwrap()),
        ..sale()
    };
    let answer = req.respond(
        ResponseCode::APPROVED,
        Some(ApprovalCode::new("A1B2C3").unwrap()),
        Some(Rrn::from_number(7).unwrap()),
    );
    let rev = ReversalRequest::for_authorization(
        &req,
        Some(&answer),
        43,
        t(11, 25, 17, 14, 0),
        Some(ResponseCode::TOO_LATE),
    );
    let bytes = emit(&rev.to_message().unwrap());
    let m = IsoMessage::parse(&bytes).unwrap();
    assert_eq!(
        m.get_str(90),
        Some("020000004211251713000000000000000000000000")
    );
    assert_eq!(m.get_str(42), Some("SHOP 42        "));
    assert_eq!(m.get_str(37), Some("000000000007"));
    let back = ReversalRequest::from_message(&m).unwrap();
    assert_eq!(back, rev);
    let ok = back.respond(ResponseCode::APPROVED);
    let ok_back = ReversalResponse::from_message(
        &IsoMessage::parse(&emit(&ok.to_message().unwrap())).unwrap(),
    )
    .unwrap();
    assert!(ok_back.is_approved());
    assert_eq!(ok_back.stan, 43);
}

#[test]
fn response_codes_and_processing_codes() {
    assert!(ResponseCode::APPROVED.is_approved());
    assert!(ResponseCode::new(b"08").unwrap().is_approved());
    assert!(!ResponseCode::new(b"10").unwrap().is_approved());
    assert!(!ResponseCode::INSUFFICIENT_FUNDS.is_approved());
    assert_eq!(ResponseCode::new(b"0"), Err(Error::IsoField { field: 39 }));
    use crate::txn::{DeclineCode, Outcome, RequestKind};
    assert_eq!(ResponseCode::APPROVED.to_outcome(), Outcome::Approved);
    assert_eq!(
        ResponseCode::ISSUER_UNAVAILABLE.to_outcome(),
        Outcome::BankUnavailable
    );
    assert_eq!(
        ResponseCode::INSUFFICIENT_FUNDS.to_outcome(),
        Outcome::Declined {
            code: DeclineCode::new("51").unwrap()
        }
    );
    assert_eq!(
        ProcessingCode::for_request(RequestKind::SaleWithCashback),
        Ok(ProcessingCode::CASHBACK)
    );
    assert!(ProcessingCode::for_request(RequestKind::TestBank).is_err());
    assert_eq!(ProcessingCode::REFUND.to_digits().unwrap(), *b"200000");
    assert_eq!(ProcessingCode::CASHBACK.to_digits().unwrap(), *b"090000");
    let p = ProcessingCode::parse(b"001030").unwrap();
    assert_eq!(
        (p.kind, p.from_account, p.to_account),
        (ProcessingKind::Purchase, 10, 30)
    );
    assert_eq!(
        ProcessingCode::parse(b"310000"),
        Err(Error::IsoField { field: 3 })
    );
    assert_eq!(
        Mti::FINANCIAL_REQUEST.response(),
        Some(Mti::FINANCIAL_RESPONSE)
    );
    assert_eq!(Mti::NETWORK_RESPONSE.response(), None);
}

fn frames(stream: &[u8], acc: &mut Accumulator<64>) -> Vec<Result<Vec<u8>, Error>> {
    let mut out = Vec::new();
    let mut input = stream;
    while !input.is_empty() {
        let (r, used) = acc.feed(input);
        assert!(used > 0 && used <= input.len());
        input = &input[used..];
        match r {
            Ok(Feed::NeedMore) => assert!(input.is_empty()),
            Ok(Feed::Message(m)) => out.push(Ok(m.to_vec())),
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

#[test]
fn framing_prefix_and_accumulator() {
    let mut buf = [0u8; 64];
    let n = framing::encode(b"0800", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"\x00\x040800");
    assert_eq!(framing::prefix(300).unwrap(), [0x01, 0x2C]);
    assert!(framing::prefix(70_000).is_err());
    let mut small = [0xEEu8; 5];
    assert_eq!(
        framing::encode(b"0800", &mut small),
        Err(Error::BufferTooSmall { needed: 6 })
    );
    assert_eq!(small, [0xEE; 5]);

    // keep-alive, a message, an over-long one (skipped), another message.
    let mut stream = vec![0, 0, 0, 3, b'a', b'b', b'c', 0, 65];
    stream.extend_from_slice(&[b'x'; 65]);
    stream.extend_from_slice(&[0, 2, b'o', b'k']);
    let mut acc = Accumulator::<64>::new();
    assert_eq!(
        frames(&stream, &mut acc),
        [
            Ok(b"abc".to_vec()),
            Err(Error::IsoFrameLength { len: 65 }),
            Ok(b"ok".to_vec())
        ]
    );
    assert_eq!(acc.keepalives(), 1);
    assert!(!acc.in_message());
    // One byte at a time gives the same.
    let mut acc = Accumulator::<64>::new();
    let mut items = Vec::new();
    for b in &stream {
        items.extend(frames(core::slice::from_ref(b), &mut acc));
    }
    assert_eq!(items.len(), 3);
    assert_eq!(items[2], Ok(b"ok".to_vec()));
}

// ----- property tests -----

fn value_for(spec: &FieldSpec) -> BoxedStrategy<Vec<u8>> {
    let chars: BoxedStrategy<u8> = match spec.charset {
        Charset::Numeric => (b'0'..=b'9').boxed(),
        Charset::Alphanumeric => {
            prop_oneof![b'0'..=b'9', b'A'..=b'Z', b'a'..=b'z', Just(b' ')].boxed()
        }
        Charset::Printable => (0x20u8..0x7F).boxed(),
        Charset::BinaryAsHex | Charset::Binary => any::<u8>().boxed(),
    };
    let (min, max) = match spec.length {
        Length::Fixed(n) => (usize::from(n), usize::from(n)),
        _ => (0, spec.max_value()),
    };
    proptest::collection::vec(chars, min..=max).boxed()
}

pub(super) fn any_message() -> impl Strategy<Value = IsoMessage> {
    let fields: Vec<_> = FIELDS
        .iter()
        .map(|s| proptest::option::of(value_for(s)))
        .collect();
    (proptest::collection::vec(b'0'..=b'9', 4), fields).prop_map(|(mti, values)| {
        let mut m = IsoMessage::new(Mti::new(&mti).unwrap());
        for (spec, v) in FIELDS.iter().zip(values) {
            if let Some(v) = v {
                m.set(spec.number, &v).unwrap();
            }
        }
        m
    })
}

fn any_sale() -> impl Strategy<Value = AuthorizationRequest<'static>> {
    (
        "[0-9]{12,19}",
        prop_oneof![
            Just(ProcessingCode::SALE),
            Just(ProcessingCode::CASHBACK),
            Just(ProcessingCode::REFUND)
        ],
        2u64..=Amount::MAX_MINOR,
        proptest::option::of(1u64..1000),
        0u32..=999_999,
        proptest::option::of((1u8..=12, 1u8..=31, 0u8..24, 0u8..60, 0u8..60)),
        "[!-~]{1,8}",
        proptest::option::of("[!-~]([ -~]{0,13}[!-~])?"),
        proptest::collection::vec(any::<u8>(), 0..=255),
    )
        .prop_map(
            |(pan, processing, amount, cashback, stan, time, tid, mid, emv)| {
                let time =
                    time.map(|(mo, d, h, mi, s)| MonthDayTime::new(mo, d, h, mi, s).unwrap());
                AuthorizationRequest {
                    pan: Pan::new(&pan).unwrap(),
                    processing,
                    amount: Money::new(amount, Currency::CZK).unwrap(),
                    cashback: cashback.map(|c| Amount::new(c.min(amount - 1)).unwrap()),
                    stan,
                    transmission: time,
                    local: time,
                    expiry: None,
                    entry: None,
                    card_sequence: None,
                    condition: None,
                    terminal_id: TerminalId::new(&tid).unwrap(),
                    merchant_id: mid.map(|m| MerchantId::new(&m).unwrap()),
                    emv: std::boxed::Box::leak(emv.into_boxed_slice()),
                }
            },
        )
}

proptest! {
    #[test]
    fn any_message_round_trips(m in any_message()) {
        let bytes = emit(&m);
        prop_assert!(bytes.len() <= IsoMessage::MAX_LEN);
        let back = IsoMessage::parse(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(emit(&back), bytes);
    }

    #[test]
    fn any_sale_round_trips(req in any_sale()) {
        let m = req.to_message().unwrap();
        let bytes = emit(&m);
        let parsed = IsoMessage::parse(&bytes).unwrap();
        let back = AuthorizationRequest::from_message(&parsed).unwrap();
        prop_assert_eq!(back, req);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = IsoMessage::parse(&data) {
            let _ = BankMessage::from_message(&m);
            let _ = format!("{m:?}");
        }
        let mut acc = Accumulator::<64>::new();
        let _ = frames(&data, &mut acc);
    }

    #[test]
    fn almost_valid_bytes_never_panic(m in any_message(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = emit(&m);
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        if let Ok(m) = IsoMessage::parse(&bytes) {
            let _ = BankMessage::from_message(&m);
        }
        let _ = IsoMessage::parse(&bytes[..i]);
    }

    #[test]
    fn framing_any_split(msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..64), 1..5),
                         cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let mut stream = Vec::new();
        for m in &msgs {
            let mut buf = vec![0u8; m.len() + 2];
            let n = framing::encode(m, &mut buf).unwrap();
            stream.extend_from_slice(&buf[..n]);
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut acc = Accumulator::<64>::new();
        let mut got = Vec::new();
        let mut last = 0;
        for p in points.into_iter().chain(core::iter::once(stream.len())) {
            got.extend(frames(&stream[last..p], &mut acc));
            last = p;
        }
        let expected: Vec<Result<Vec<u8>, Error>> = msgs.into_iter().map(Ok).collect();
        prop_assert_eq!(got, expected);
    }
}

/// `{'t':'0200','2':'4761739001010119','3':'000000','4':'000000001250','11':'000042',
///   '14':'2812','22':'051','23':'001','25':'00','41':'TERM0001','49':'978'}`
const PY_CARD_READ: &[u8] =
    b"02007024068000808000164761739001010119000000000000001250000042281205100100TERM0001978";

#[test]
fn card_read_fields_14_22_23_25_are_byte_identical_to_pyiso8583() {
    let req = AuthorizationRequest {
        expiry: Some(Expiry::new(28, 12).unwrap()),
        entry: Some(PosEntryMode::new(crate::txn::EntryMode::Chip, true)),
        card_sequence: Some(1),
        condition: Some(POS_CONDITION_NORMAL),
        emv: &[],
        ..sale()
    };
    assert_eq!(emit(&req.to_message().unwrap()), PY_CARD_READ);
    let parsed = IsoMessage::parse(PY_CARD_READ).unwrap();
    let back = AuthorizationRequest::from_message(&parsed).unwrap();
    assert_eq!(back, req);
    assert_eq!(
        back.entry.unwrap().entry_mode(),
        Some(crate::txn::EntryMode::Chip)
    );
    assert!(back.entry.unwrap().is_chip());
}

#[test]
fn expiry_and_entry_mode_values_are_checked_and_the_expiry_never_shows() {
    assert_eq!(
        Expiry::parse(b"2812").unwrap(),
        Expiry::new(28, 12).unwrap()
    );
    for bad in [&b"2813"[..], b"2800", b"28 2", b"281"] {
        assert_eq!(Expiry::parse(bad), Err(Error::IsoField { field: 14 }));
    }
    assert_eq!(
        Expiry::from_emv(&[0x28, 0x12, 0x31]).unwrap(),
        Expiry::new(28, 12).unwrap()
    );
    assert!(Expiry::from_emv(&[0x28, 0x1A, 0x31]).is_err());
    assert!(Expiry::from_emv(&[0x28, 0x12]).is_err());
    assert_eq!(
        format!("{:?}", Expiry::new(28, 12).unwrap()),
        "Expiry(**/**)"
    );
    assert!(PosEntryMode::parse(b"05").is_err());
    assert!(PosEntryMode::parse(b"0A1").is_err());
    for (code, entry, chip) in [
        (b"021", Some(crate::txn::EntryMode::Swipe), false),
        (b"912", Some(crate::txn::EntryMode::Contactless), false),
        (b"071", Some(crate::txn::EntryMode::Contactless), true),
        (b"811", None, false),
    ] {
        let e = PosEntryMode::parse(code).unwrap();
        assert_eq!((e.entry_mode(), e.is_chip()), (entry, chip));
    }
    // A card sequence number or condition code too long for its field is an error.
    let req = AuthorizationRequest {
        card_sequence: Some(1000),
        ..sale()
    };
    assert_eq!(req.to_message(), Err(Error::IsoField { field: 23 }));
}

// ----- pre-authorisation: 0100/0110, 0220/0230, 0400 with field 95 -----

fn preauth_original() -> OriginalData {
    OriginalData {
        mti: Mti::AUTHORIZATION_REQUEST,
        stan: 42,
        transmission: t(12, 7, 9, 29, 0),
        acquirer: 0,
        forwarder: 0,
    }
}

fn completion() -> CompletionAdvice {
    CompletionAdvice {
        pan: None,
        processing: ProcessingCode::SALE,
        amount: Money::new(1250, Currency::EUR).unwrap(),
        stan: 7,
        transmission: Some(t(12, 7, 9, 30, 0)),
        approval_code: Some(ApprovalCode::new("A1B2C3").unwrap()),
        terminal_id: tid(),
        merchant_id: None,
        original: preauth_original(),
    }
}

#[test]
fn pre_auth_request_is_the_sale_with_mti_0100() {
    // The same fields as pyiso8583's 0200 above; only the MTI differs.
    let mut want = b"0100".to_vec();
    want.extend_from_slice(&PY_SALE[4..]);
    let m = sale().to_pre_auth_message().unwrap();
    assert_eq!(emit(&m), want);
    let parsed = IsoMessage::parse(&want).unwrap();
    let BankMessage::PreAuthorizationRequest(back) = BankMessage::from_message(&parsed).unwrap()
    else {
        panic!("an 0100");
    };
    assert_eq!(back, sale());
    // A 0200 parser refuses it, and the other way round.
    assert_eq!(
        AuthorizationRequest::from_message(&parsed),
        Err(Error::IsoMti)
    );
    let answer = sale().respond(
        ResponseCode::APPROVED,
        Some(ApprovalCode::new("A1B2C3").unwrap()),
        None,
    );
    let bytes = emit(&answer.to_pre_auth_message().unwrap());
    assert_eq!(&bytes[..4], b"0110");
    let parsed = IsoMessage::parse(&bytes).unwrap();
    let BankMessage::PreAuthorizationResponse(back) = BankMessage::from_message(&parsed).unwrap()
    else {
        panic!("an 0110");
    };
    assert_eq!(back, answer);
}

#[test]
fn completion_advice_bytes() {
    // ISO 8583:1987 layout by hand: MTI, primary bitmap (1 3 4 7 11 38 41 49), secondary
    // bitmap (90), then the fields in order; field 90 = original MTI, trace, field 7, two
    // zero institution codes of 11 digits.
    let want: &[u8] = b"0220B2200000048080000000004000000000\
000000\
000000001250\
1207093000\
000007\
A1B2C3\
TERM0001\
978\
010000004212070929000000000000000000000000";
    let m = completion().to_message().unwrap();
    assert_eq!(
        std::string::String::from_utf8(emit(&m)).unwrap(),
        std::string::String::from_utf8(want.to_vec()).unwrap()
    );
    let parsed = IsoMessage::parse(want).unwrap();
    assert_eq!(
        BankMessage::from_message(&parsed).unwrap(),
        BankMessage::CompletionAdvice(completion())
    );
    let answer = completion().respond(ResponseCode::APPROVED);
    let bytes = emit(&answer.to_message().unwrap());
    assert_eq!(&bytes[..4], b"0230");
    let back = CompletionResponse::from_message(&IsoMessage::parse(&bytes).unwrap()).unwrap();
    assert!(back.is_approved());
    assert_eq!(back, answer);
    // Without field 90 it is no completion.
    let mut m = completion().to_message().unwrap();
    let mut bare = IsoMessage::new(Mti::FINANCIAL_ADVICE);
    for (n, v) in m.fields() {
        if n != 90 {
            bare.set(n, v).unwrap();
        }
    }
    m = bare;
    assert_eq!(
        CompletionAdvice::from_message(&m),
        Err(Error::IsoMissingField { field: 90 })
    );
}

#[test]
fn partial_reversal_carries_the_amount_that_stays_in_field_95() {
    let req = ReversalRequest {
        replacement: Some(Amount::new(3140).unwrap()),
        original: preauth_original(),
        ..ReversalRequest::for_authorization(&sale(), None, 8, t(12, 7, 10, 0, 0), None)
    };
    let m = req.to_message().unwrap();
    assert_eq!(
        m.get(95).unwrap(),
        b"000000003140000000000000D00000000D00000000"
    );
    assert_eq!(&m.get(90).unwrap()[..4], b"0100");
    let parsed = IsoMessage::parse(&emit(&m)).unwrap();
    let back = ReversalRequest::from_message(&parsed).unwrap();
    assert!(back.is_partial());
    assert_eq!(back, req);
    // A full reversal has no field 95.
    let full = ReversalRequest::for_authorization(&sale(), None, 9, t(12, 7, 10, 0, 0), None);
    assert!(!full.to_message().unwrap().has(95));
    // Field 95 that does not start with twelve digits is refused.
    let mut bad = m.clone();
    bad.set(95, b"00000000314X000000000000D00000000D00000000")
        .unwrap();
    assert_eq!(
        ReversalRequest::from_message(&bad),
        Err(Error::IsoField { field: 95 })
    );
}

proptest! {
    #[test]
    fn any_pre_auth_round_trips(req in any_sale()) {
        let bytes = emit(&req.to_pre_auth_message().unwrap());
        let parsed = IsoMessage::parse(&bytes).unwrap();
        let back = AuthorizationRequest::from_pre_auth_message(&parsed).unwrap();
        prop_assert_eq!(back, req);
    }

    #[test]
    fn any_completion_round_trips(
        amount in 1u64..=Amount::MAX_MINOR,
        stan in 0u32..=999_999,
        orig in 0u32..=999_999,
        with_pan in any::<bool>(),
    ) {
        let c = CompletionAdvice {
            pan: with_pan.then(|| Pan::new("4761739001010119").unwrap()),
            amount: Money::new(amount, Currency::EUR).unwrap(),
            stan,
            original: OriginalData { stan: orig, ..preauth_original() },
            ..completion()
        };
        let bytes = emit(&c.to_message().unwrap());
        let back = CompletionAdvice::from_message(&IsoMessage::parse(&bytes).unwrap()).unwrap();
        prop_assert_eq!(back, c);
    }

    #[test]
    fn any_partial_reversal_round_trips(keep in 1u64..=Amount::MAX_MINOR, stan in 0u32..=999_999) {
        let req = ReversalRequest {
            replacement: Some(Amount::new(keep).unwrap()),
            original: preauth_original(),
            ..ReversalRequest::for_authorization(&sale(), None, stan, t(12, 7, 10, 0, 0), None)
        };
        let bytes = emit(&req.to_message().unwrap());
        let parsed = IsoMessage::parse(&bytes).unwrap();
        let back = ReversalRequest::from_message(&parsed).unwrap();
        prop_assert_eq!(back, req);
    }
}
