//! Interop of `core::dialect::zvt` with the `zvt` crate 0.1.0 from crates.io (EVerest's ZVT
//! till library), unmodified: packets serialized by its own types are parsed by our codec,
//! and what our codec emits is deserialized by its types into the same values.
//!
//! zvt 0.1.0 ships registration, completion, status information, end of day, reservation,
//! partial reversal, intermediate status, print line, abort and ack. It does not ship 06 01
//! authorisation or 06 30 reversal: those two are declared here with its own public derive
//! macro (`#[derive(Zvt)]`, `zvt_control_field`, `zvt_bmp`), not with our code.
//!
//! Known quirks of zvt 0.1.0 that the values below stay clear of (they are its behaviour, not
//! the protocol's): a fixed-length string is padded with zeros *in front*, so the AID (3B) and
//! VU number (2A) here use their full length; a BCD number is written with a leading zero
//! nibble rather than a trailing F, so card numbers here have an even number of digits; its
//! LL/LLL lengths are written with `0` rather than `F` nibbles, which our parser accepts.

use ecrlink_core::dialect::zvt::{self as ours, Bmps, Completion, Message, WithPassword};
use zvt::packets::{self as theirs, tlv};
use zvt::{Zvt, ZvtSerializer, encoding, length};

/// 06 01 authorisation, declared with the zvt crate's derive macro (PA00P015 2.1).
#[derive(Debug, PartialEq, Zvt)]
#[zvt_control_field(class = 0x06, instr = 0x01)]
struct Authorisation {
    #[zvt_bmp(number = 0x04, length = length::Fixed<6>, encoding = encoding::Bcd)]
    amount: Option<usize>,

    #[zvt_bmp(number = 0x49, length = length::Fixed<2>, encoding = encoding::Bcd)]
    currency: Option<usize>,

    #[zvt_bmp(number = 0x19)]
    payment_type: Option<u8>,

    #[zvt_bmp(number = 0x02)]
    max_status_infos: Option<u8>,
}

/// 06 30 reversal, declared with the zvt crate's derive macro (PA00P015 2.11).
#[derive(Debug, PartialEq, Zvt)]
#[zvt_control_field(class = 0x06, instr = 0x30)]
struct Reversal {
    #[zvt_bmp(length = length::Fixed<3>, encoding = encoding::Bcd)]
    password: usize,

    #[zvt_bmp(number = 0x87, length = length::Fixed<2>, encoding = encoding::Bcd)]
    receipt_no: Option<usize>,
}

fn emit(m: &Message<'_>) -> Vec<u8> {
    let mut out = vec![0u8; 4096];
    let n = m.emit(&mut out).expect("our codec emits");
    out.truncate(n);
    out
}

fn parse(bytes: &[u8]) -> Message<'_> {
    Message::parse_bytes(bytes).unwrap_or_else(|e| panic!("our codec parses {bytes:02X?}: {e}"))
}

#[test]
fn registration_both_ways() {
    let packet = theirs::Registration {
        password: 123456,
        config_byte: 0xDE,
        currency: Some(978),
        tlv: Some(tlv::Registration {
            max_len_adpu: Some(0x0400),
        }),
    };
    let bytes = packet.zvt_serialize();
    let Message::Registration(r) = parse(&bytes) else {
        panic!()
    };
    assert_eq!(
        (r.password, r.config, r.currency),
        (123456, 0xDE, Some(978))
    );
    assert_eq!(r.bmps.tlv, Some(&[0x1A, 0x02, 0x04, 0x00][..]));

    // Ours → theirs, and byte-for-byte the same as theirs.
    let mine = emit(&Message::Registration(r));
    assert_eq!(mine, bytes);
    let (back, rest) = theirs::Registration::zvt_deserialize(&mine).unwrap();
    assert!(rest.is_empty());
    assert_eq!(back, packet);
}

#[test]
fn authorisation_both_ways() {
    let packet = Authorisation {
        amount: Some(1250),
        currency: Some(978),
        payment_type: Some(0x40),
        max_status_infos: Some(3),
    };
    let bytes = packet.zvt_serialize();
    let Message::Authorisation(b) = parse(&bytes) else {
        panic!()
    };
    assert_eq!(b.amount, Some(1250));
    assert_eq!(b.currency, Some(978));
    assert_eq!(b.payment_type, Some(0x40));
    assert_eq!(b.max_status_infos, Some(3));

    let mine = emit(&Message::Authorisation(Bmps {
        amount: Some(99_999),
        currency: Some(978),
        max_status_infos: Some(0),
        ..Bmps::default()
    }));
    let (back, _) = Authorisation::zvt_deserialize(&mine).unwrap();
    assert_eq!(
        back,
        Authorisation {
            amount: Some(99_999),
            currency: Some(978),
            payment_type: None,
            max_status_infos: Some(0),
        }
    );
}

#[test]
fn completion_both_ways() {
    let packet = theirs::CompletionData {
        result_code: Some(0),
        status_byte: Some(0x10),
        terminal_id: Some(52523535),
        currency: Some(978),
    };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    let Message::Completion(Completion::Bitmaps(b)) = m else {
        panic!("{m:?}")
    };
    assert_eq!(b.result_code, Some(0));
    assert_eq!(b.payment_type, Some(0x10));
    assert_eq!(b.terminal_id, Some(52523535));
    assert_eq!(b.currency, Some(978));
    let (back, _) = theirs::CompletionData::zvt_deserialize(&emit(&m)).unwrap();
    assert_eq!(back, packet);
}

#[test]
fn status_information_both_ways() {
    let packet = theirs::StatusInformation {
        amount: Some(2500),
        trace_number: Some(975),
        time: Some(225558),
        date: Some(405),
        expiry_date: Some(2405),
        card_sequence_number: Some(1),
        card_type: Some(0x60),
        card_number: Some(5598845555548074),
        result_code: Some(0),
        terminal_id: Some(52523535),
        vu_number: Some("804011926123456".to_string()),
        aid_authorization_attribute: Some("A7500710".to_string()),
        additional_text: Some("AS-Proc-Code= 00 076 06".to_string()),
        receipt_no: Some(231),
        currency: Some(978),
        zvt_card_type: Some(6),
        card_name: Some("MasterCard".to_string()),
        zvt_card_type_id: Some(1),
        tlv: Some(tlv::StatusInformation {
            card_type: Some(1),
            sak: Some(0x20),
            ..tlv::StatusInformation::default()
        }),
        ..theirs::StatusInformation::default()
    };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    let Message::StatusInformation(s) = m else {
        panic!("{m:?}")
    };
    assert_eq!(s.amount, Some(2500));
    assert_eq!(s.trace, Some(975));
    assert_eq!(s.time, Some(225558));
    assert_eq!(s.date, Some(405));
    assert_eq!(s.expiry, Some(2405));
    assert_eq!(s.card_sequence, Some(1));
    assert_eq!(s.payment_type, Some(0x60));
    assert_eq!(
        s.card_number,
        Some(&[0x55, 0x98, 0x84, 0x55, 0x55, 0x54, 0x80, 0x74][..])
    );
    assert_eq!(s.result_code, Some(0));
    assert_eq!(s.terminal_id, Some(52523535));
    assert_eq!(s.vu_number, Some(b"804011926123456"));
    assert_eq!(s.aid, Some(b"A7500710"));
    assert_eq!(s.text, Some(&b"AS-Proc-Code= 00 076 06"[..]));
    assert_eq!(s.receipt_no, Some(231));
    assert_eq!(s.currency, Some(978));
    assert_eq!(s.zvt_card_type, Some(6));
    assert_eq!(s.card_name, Some(&b"MasterCard"[..]));
    assert_eq!(s.card_type_id, Some(1));
    assert_eq!(
        s.tlv,
        Some(&[0x1F, 0x4C, 0x01, 0x01, 0x1F, 0x50, 0x01, 0x20][..])
    );

    // Ours (ascending BMP order, F-nibble lengths) → theirs.
    let mine = emit(&m);
    let (back, rest) = theirs::StatusInformation::zvt_deserialize(&mine).unwrap();
    assert!(rest.is_empty());
    assert_eq!(back, packet);
}

#[test]
fn end_of_day_both_ways() {
    let packet = theirs::EndOfDay { password: 123456 };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    assert_eq!(
        m,
        Message::EndOfDay(WithPassword {
            password: 123456,
            bmps: Bmps::default()
        })
    );
    assert_eq!(emit(&m), bytes);
    assert_eq!(
        theirs::EndOfDay::zvt_deserialize(&emit(&m)).unwrap().0,
        packet
    );
}

fn pre_auth_tlv(data: &str) -> tlv::PreAuthData {
    tlv::PreAuthData {
        bmp_data: Some(tlv::Bmp60 {
            bmp_prefix: "AC".to_string(),
            bmp_data: data.to_string(),
        }),
    }
}

#[test]
fn reservation_both_ways() {
    let packet = theirs::Reservation {
        amount: Some(2500),
        currency: Some(978),
        payment_type: Some(0x40),
        maximum_no_of_status_info: Some(2),
        tlv: Some(pre_auth_tlv("384HH2")),
        ..theirs::Reservation::default()
    };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    let Message::Reservation(b) = m else {
        panic!("{m:?}")
    };
    assert_eq!(b.amount, Some(2500));
    assert_eq!(b.currency, Some(978));
    assert_eq!(b.payment_type, Some(0x40));
    assert_eq!(b.max_status_infos, Some(2));
    let tag = ecrlink_core::emv::Tag::new(0x1F63).unwrap();
    let e9 = ecrlink_core::emv::find(b.tlv.unwrap(), tag).unwrap();
    assert_eq!(e9, Some(&b"384HH2"[..]));
    let (back, _) = theirs::Reservation::zvt_deserialize(&emit(&m)).unwrap();
    assert_eq!(back, packet);
}

#[test]
fn partial_reversal_both_ways() {
    for receipt in [491, ours::RECEIPT_NO_NONE as usize] {
        let packet = theirs::PartialReversal {
            receipt_no: Some(receipt),
            amount: Some(1295),
            payment_type: Some(0x40),
            currency: Some(978),
            tlv: Some(pre_auth_tlv("MF2246")),
        };
        let bytes = packet.zvt_serialize();
        let m = parse(&bytes);
        let Message::PartialReversal(b) = m else {
            panic!("{m:?}")
        };
        assert_eq!(b.receipt_no, Some(receipt as u16));
        assert_eq!(b.amount, Some(1295));
        let (back, _) = theirs::PartialReversal::zvt_deserialize(&emit(&m)).unwrap();
        assert_eq!(back, packet);
    }
}

#[test]
fn reversal_both_ways() {
    let packet = Reversal {
        password: 123456,
        receipt_no: Some(42),
    };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    let Message::Reversal(r) = m else {
        panic!("{m:?}")
    };
    assert_eq!((r.password, r.bmps.receipt_no), (123456, Some(42)));
    assert_eq!(emit(&m), bytes);
    assert_eq!(Reversal::zvt_deserialize(&emit(&m)).unwrap().0, packet);
}

#[test]
fn terminal_messages_both_ways() {
    // Intermediate status with a timeout.
    let packet = theirs::IntermediateStatusInformation {
        status: 0x17,
        timeout: Some(5),
    };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    let Message::IntermediateStatus(s) = m else {
        panic!("{m:?}")
    };
    assert_eq!((s.status, s.timeout), (0x17, Some(5)));
    assert_eq!(emit(&m), bytes);
    assert_eq!(
        theirs::IntermediateStatusInformation::zvt_deserialize(&bytes)
            .unwrap()
            .0,
        packet
    );

    // Print line.
    let packet = theirs::PrintLine {
        attribute: 0,
        text: "Betrag EUR 12,50".to_string(),
    };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    assert_eq!(
        m,
        Message::PrintLine(ours::PrintLine {
            attribute: 0,
            text: b"Betrag EUR 12,50"
        })
    );
    assert_eq!(
        theirs::PrintLine::zvt_deserialize(&emit(&m)).unwrap().0,
        packet
    );

    // Abort with a result code; ack.
    let packet = theirs::Abort { error: 0x6C };
    let bytes = packet.zvt_serialize();
    let m = parse(&bytes);
    let Message::Abort(a) = m else { panic!() };
    assert_eq!(a.result_code, 0x6C);
    assert_eq!(theirs::Abort::zvt_deserialize(&emit(&m)).unwrap().0, packet);
    let ack = theirs::Ack {}.zvt_serialize();
    assert_eq!(parse(&ack), Message::Ack(&[]));
    assert_eq!(emit(&Message::Ack(&[])), ack);
}
