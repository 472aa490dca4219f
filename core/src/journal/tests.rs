// Test-only module: its parent declares it `#[cfg(test)] mod tests;`, so unwrap/expect here never reach a build.
extern crate std;
use std::vec::Vec as StdVec;

use proptest::prelude::*;

use super::*;
use crate::Error;
use crate::txn::{
    ApprovalCode, CardScheme, Currency, MaskedPan, Money, Outcome, Pan, Reference, RequestKind,
    Response, Timestamp, Totals,
};

fn ts(second: u8) -> Timestamp {
    Timestamp::new(2026, 3, 14, 10, 20, second).unwrap()
}

fn masked() -> MaskedPan {
    Pan::new("4761739001010119").unwrap().masked()
}

fn sale(batch: u32, stan: u32, minor: u64) -> AuthStarted {
    AuthStarted {
        batch,
        stan,
        kind: RequestKind::Sale,
        amount: Some(Money::new(minor, Currency::EUR).unwrap()),
        cashback: None,
        pan: Some(masked()),
        scheme: Some(CardScheme::Visa),
        reference: Some(Reference::new("INV-1").unwrap()),
        transmitted: ts(1),
        original: None,
    }
}

fn approved(kind: RequestKind, stan: u32, minor: u64) -> Record {
    let mut r = Response::new(kind, Outcome::Approved);
    r.amount = Some(Money::new(minor, Currency::EUR).unwrap());
    r.approval_code = Some(ApprovalCode::new("A1B2C3").unwrap());
    r.pan = Some(masked());
    r.trace = Some(stan);
    r.emv
        .extend_from_slice(&[0x9F, 0x26, 0x02, 0xAB, 0xCD])
        .unwrap();
    Record::Completed { stan, response: r }
}

fn encode_all(records: &[Record]) -> StdVec<u8> {
    let mut out = StdVec::new();
    let mut buf = [0u8; MAX_ENVELOPE];
    for r in records {
        let n = encode(r, &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A file of the current format: header, then the records.
fn file_of(records: &[Record]) -> StdVec<u8> {
    let mut out = file_header().to_vec();
    out.extend_from_slice(&encode_all(records));
    out
}

/// `records` as a file with a header (`headed`) or as format 0.
fn file_in(headed: bool, records: &[Record]) -> StdVec<u8> {
    if headed {
        file_of(records)
    } else {
        encode_all(records)
    }
}

fn sample() -> StdVec<Record> {
    let big = Checkpoint {
        batch: 7,
        next_stan: 120,
        ..Checkpoint::default()
    };
    vec![
        Record::Checkpoint(big),
        Record::StanReserved {
            batch: 7,
            upto: 220,
        },
        Record::AuthStarted(sale(7, 120, 1250)),
        approved(RequestKind::Sale, 120, 1250),
        Record::Delivered { stan: 120 },
        Record::AuthStarted(sale(7, 121, 999)),
        Record::ReversalQueued(state::reversal_for(&sale(7, 121, 999)).unwrap()),
        Record::ReversalAcked {
            batch: 7,
            original_stan: 121,
        },
    ]
}

#[test]
fn envelope_layout_is_exact() {
    let rec = Record::Delivered { stan: 5 };
    let mut buf = [0u8; 32];
    let n = encode(&rec, &mut buf).unwrap();
    // postcard: variant index 4 (varint), stan 5 (varint) → payload [04 05].
    assert_eq!(&buf[..6], &[0xEC, 0x4A, 0x02, 0x00, 0x04, 0x05]);
    let crc = crc::crc32(&[0x02, 0x00, 0x04, 0x05]).to_le_bytes();
    assert_eq!(&buf[6..10], &crc);
    assert_eq!(n, 10);
}

#[test]
fn small_buffer_is_left_untouched() {
    let rec = approved(RequestKind::Sale, 1, 100);
    let mut buf = [0xAAu8; 16];
    assert!(matches!(
        encode(&rec, &mut buf),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(buf.iter().all(|&b| b == 0xAA));
}

#[test]
fn records_round_trip() {
    let records = sample();
    let bytes = encode_all(&records);
    let got: StdVec<Record> = Reader::new(&bytes)
        .unwrap()
        .map(|e| e.unwrap().record)
        .collect();
    assert_eq!(got, records);
}

#[test]
fn torn_tail_is_reported_with_offset() {
    let records = sample();
    let bytes = encode_all(&records);
    let good = encode_all(&records[..records.len() - 1]).len();
    let cut = &bytes[..bytes.len() - 3];
    let mut reader = Reader::new(cut).unwrap();
    let ok = reader.by_ref().take_while(|e| e.is_ok()).count();
    assert_eq!(ok, records.len() - 1);
    assert_eq!(reader.valid_len(), good);
    let tail = Reader::new(cut).unwrap().find_map(|e| e.err()).unwrap();
    assert!(tail.torn);
    assert_eq!(tail.offset, good);
    assert_eq!(tail.len, cut.len() - good);
}

#[test]
fn corrupt_byte_is_reported_not_torn() {
    let records = sample();
    let mut bytes = encode_all(&records);
    let second = encode_all(&records[..1]).len();
    bytes[second + 6] ^= 0x10;
    let results: StdVec<_> = Reader::new(&bytes).unwrap().collect();
    assert_eq!(results.len(), 2);
    let tail = results[1].clone().unwrap_err();
    assert!(!tail.torn);
    assert_eq!(tail.error, Error::JournalCrc);
    assert_eq!(tail.offset, second);
    // Garbage that does not start with the magic is corrupt.
    let tail = Reader::new(&[0x00, 0x01])
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(tail.error, Error::JournalEnvelope);
}

#[test]
fn state_tracks_stan_totals_last_and_reversals() {
    let mut st = JournalState::new();
    for r in sample() {
        st.apply(&r).unwrap();
    }
    let cp = &st.checkpoint;
    assert_eq!(cp.batch, 7);
    assert_eq!(cp.next_stan, 220);
    assert_eq!(cp.totals.currencies.len(), 1);
    assert_eq!(cp.totals.currencies[0].debit_count, 1);
    assert_eq!(cp.totals.currencies[0].debit_minor, 1250);
    let last = cp.last.as_ref().unwrap();
    assert_eq!(last.stan, 120);
    assert!(last.delivered);
    assert!(cp.pending.is_empty());
    // 121 was reversed and acknowledged (its final answer never written): the
    // acknowledgement ends it, so recovery reverses nothing again and 120 stays the last
    // transaction, as it was before the restart.
    assert!(st.open.is_empty());
    let recovered = st.recover().unwrap();
    assert!(recovered.pending.is_empty());
    let last = recovered.last.as_ref().unwrap();
    assert_eq!(last.stan, 120);
    assert_eq!(last.response.outcome, Outcome::Approved);
}

#[test]
fn an_older_open_auth_is_reversed_on_recovery_but_does_not_replace_the_last_transaction() {
    // Found by the shop simulation (seed 5180): sale 3's completion could not be written (it
    // was reversed from memory), sale 5 was approved and journaled, then the power went. The
    // restart must report sale 5 as the last transaction, not sale 3 as cancelled.
    let mut st = JournalState::new();
    st.apply(&Record::AuthStarted(sale(1, 3, 500))).unwrap();
    st.apply(&Record::AuthStarted(sale(1, 5, 700))).unwrap();
    st.apply(&approved(RequestKind::Sale, 5, 700)).unwrap();
    let cp = st.recover().unwrap();
    assert_eq!(cp.pending.len(), 1, "sale 3 is still reversed");
    assert_eq!(cp.pending[0].original.stan, 3);
    let last = cp.last.unwrap();
    assert_eq!(last.stan, 5);
    assert_eq!(last.response.outcome, Outcome::Approved);

    // An authorization started after the last completion still becomes the last one.
    let mut st = JournalState::new();
    st.apply(&Record::AuthStarted(sale(1, 3, 500))).unwrap();
    st.apply(&approved(RequestKind::Sale, 3, 500)).unwrap();
    st.apply(&Record::AuthStarted(sale(1, 4, 600))).unwrap();
    let cp = st.recover().unwrap();
    assert_eq!(cp.last.unwrap().stan, 4);
}

#[test]
fn an_open_auth_whose_reversal_the_bank_acknowledged_is_not_reversed_again() {
    // Sale 3's final answer could not be written (a disk error after the bank approved); the
    // application reversed it from memory and the bank acknowledged: nothing is left open,
    // and a restart sends no second reversal.
    let mut st = JournalState::new();
    st.apply(&Record::AuthStarted(sale(1, 3, 500))).unwrap();
    st.apply(&Record::ReversalAcked {
        batch: 1,
        original_stan: 3,
    })
    .unwrap();
    assert!(st.open.is_empty());
    st.apply(&Record::AuthStarted(sale(1, 4, 700))).unwrap();
    st.apply(&approved(RequestKind::Sale, 4, 700)).unwrap();
    let cp = st.recover().unwrap();
    assert!(cp.pending.is_empty(), "{:?}", cp.pending);
    assert_eq!(cp.last.unwrap().stan, 4);

    // The acknowledgement of another batch's trace 3 ends nothing here.
    let mut st = JournalState::new();
    st.apply(&Record::AuthStarted(sale(2, 3, 500))).unwrap();
    st.apply(&Record::ReversalAcked {
        batch: 1,
        original_stan: 3,
    })
    .unwrap();
    assert_eq!(st.open.len(), 1);
}

#[test]
fn recovery_reverses_open_auth_and_keeps_undelivered_approval() {
    // Approved, not delivered: stays the last transaction, nothing to reverse.
    let mut st = JournalState::new();
    st.apply(&Record::AuthStarted(sale(1, 1, 500))).unwrap();
    st.apply(&approved(RequestKind::Sale, 1, 500)).unwrap();
    let cp = st.recover().unwrap();
    assert!(cp.pending.is_empty());
    let last = cp.last.unwrap();
    assert!(!last.delivered);
    assert_eq!(last.response.outcome, Outcome::Approved);
    assert_eq!(cp.next_stan, 2);

    // Started, no answer: reversed, reported as cancelled.
    let mut st = JournalState::new();
    st.apply(&Record::AuthStarted(sale(1, 1, 500))).unwrap();
    let cp = st.recover().unwrap();
    assert_eq!(cp.pending.len(), 1);
    assert_eq!(cp.pending[0].reason, ReversalReason::Recovery);
    assert_eq!(cp.pending[0].original.stan, 1);
    assert_eq!(cp.last.unwrap().response.outcome, Outcome::Cancelled);
}

#[test]
fn reversal_and_batch_close_update_totals() {
    let mut st = JournalState::new();
    st.apply(&Record::AuthStarted(sale(1, 1, 500))).unwrap();
    st.apply(&approved(RequestKind::Sale, 1, 500)).unwrap();
    let orig = Original {
        stan: 1,
        kind: RequestKind::Sale,
        amount: Money::new(500, Currency::EUR).unwrap(),
        transmitted: ts(1),
        scheme: Some(CardScheme::Visa),
    };
    let mut rev = sale(1, 2, 500);
    rev.kind = RequestKind::Reversal;
    rev.original = Some(orig);
    st.apply(&Record::AuthStarted(rev)).unwrap();
    st.apply(&approved(RequestKind::Reversal, 2, 500)).unwrap();
    let c = st.checkpoint.totals.currencies[0];
    assert_eq!((c.debit_count, c.debit_minor, c.reversal_count), (0, 0, 1));
    assert_eq!(st.checkpoint.totals.schemes[0].net_minor, 0);
    let totals = st.checkpoint.totals.clone();
    st.apply(&Record::BatchClosed { batch: 1, totals }).unwrap();
    assert_eq!(st.checkpoint.batch, 2);
    assert_eq!(st.checkpoint.next_stan, 1);
    assert!(st.checkpoint.totals.currencies.is_empty());
}

#[test]
fn batch_close_keeps_the_last_close_across_a_checkpoint() {
    let mut st = JournalState::new();
    assert_eq!(st.checkpoint.last_close, None);
    st.apply(&Record::AuthStarted(sale(1, 1, 700))).unwrap();
    st.apply(&approved(RequestKind::Sale, 1, 700)).unwrap();
    let totals = st.checkpoint.totals.clone();
    assert_eq!(totals.currencies[0].debit_minor, 700);
    // A close of another batch (stale record) changes nothing.
    st.apply(&Record::BatchClosed {
        batch: 9,
        totals: Totals::default(),
    })
    .unwrap();
    assert_eq!(st.checkpoint.last_close, None);
    st.apply(&Record::BatchClosed {
        batch: 1,
        totals: totals.clone(),
    })
    .unwrap();
    let last = st.checkpoint.last_close.clone().unwrap();
    assert_eq!((last.batch, &last.totals), (1, &totals));
    // A sale in the next batch does not touch the closed batch's totals.
    st.apply(&Record::AuthStarted(sale(2, 1, 300))).unwrap();
    st.apply(&approved(RequestKind::Sale, 1, 300)).unwrap();
    assert_eq!(st.checkpoint.last_close.as_ref().unwrap().totals, totals);
    // The checkpoint that opens the next file carries it (postcard round trip).
    let bytes = encode_all(&[Record::Checkpoint(st.checkpoint.clone())]);
    let mut back = JournalState::new();
    for e in Reader::new(&bytes).unwrap() {
        back.apply(&e.unwrap().record).unwrap();
    }
    assert_eq!(back.checkpoint.last_close, Some(last));
    assert_eq!(back.checkpoint, st.checkpoint);
}

#[test]
fn pending_reversals_are_bounded() {
    let mut st = JournalState::new();
    for stan in 1..=(MAX_PENDING_REVERSALS as u32) {
        st.apply(&Record::ReversalQueued(
            state::reversal_for(&sale(1, stan, 100)).unwrap(),
        ))
        .unwrap();
    }
    // A duplicate is not an error and not counted twice.
    st.apply(&Record::ReversalQueued(
        state::reversal_for(&sale(1, 1, 100)).unwrap(),
    ))
    .unwrap();
    let over = Record::ReversalQueued(state::reversal_for(&sale(1, 999, 100)).unwrap());
    assert_eq!(
        st.apply(&over),
        Err(Error::CapacityExceeded {
            what: "pending reversals"
        })
    );
}

proptest! {
    #[test]
    fn any_truncation_yields_a_valid_prefix(cut in 0usize..2000, headed in any::<bool>()) {
        let records = sample();
        let bytes = file_in(headed, &records);
        let cut = cut.min(bytes.len());
        let mut n = 0;
        let mut bad = None;
        for e in Reader::new(&bytes[..cut]).unwrap() {
            match e {
                Ok(e) => { prop_assert_eq!(&e.record, &records[n]); n += 1; }
                Err(t) => bad = Some(t),
            }
        }
        // A header cut short leaves nothing valid: the whole file is a torn tail.
        let prefix = if headed && cut < FILE_HEADER_LEN {
            0
        } else {
            file_in(headed, &records[..n]).len()
        };
        match bad {
            None => prop_assert_eq!(prefix, cut),
            Some(t) => { prop_assert!(t.torn); prop_assert_eq!(t.offset, prefix); }
        }
    }

    #[test]
    fn any_bit_flip_is_detected_or_harmless(
        pos in 0usize..2000,
        bit in 0u8..8,
        headed in any::<bool>(),
    ) {
        let records = sample();
        let mut bytes = file_in(headed, &records);
        let pos = pos % bytes.len();
        bytes[pos] ^= 1 << bit;
        let mut n = 0;
        let mut bad = false;
        // A flipped header bit is a corrupt header (offset 0), never a format refusal.
        for e in Reader::new(&bytes).unwrap() {
            match e {
                Ok(e) => {
                    // Every record yielded is one that was written, in order.
                    prop_assert_eq!(&e.record, &records[n]);
                    n += 1;
                }
                Err(t) => { prop_assert!(t.offset <= pos); bad = true; }
            }
        }
        prop_assert!(bad, "a flipped bit went unnoticed");
        prop_assert!(n < records.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        headed in any::<bool>(),
    ) {
        let data = if headed {
            let mut d = file_header().to_vec();
            d.extend_from_slice(&data);
            d
        } else {
            data
        };
        let mut total = 0;
        let mut reader = match Reader::new(&data) {
            Ok(r) => r,
            // A valid header of another format: refused before any record is read.
            Err(e) => {
                prop_assert!(matches!(e, Error::JournalFormat { .. }), "{:?}", e);
                return Ok(());
            }
        };
        for e in reader.by_ref() {
            if let Err(t) = e { prop_assert_eq!(t.offset + t.len, data.len()); }
            total += 1;
        }
        prop_assert!(reader.valid_len() <= data.len());
        prop_assert!(total <= data.len() + 1);
    }
}

// ----- file header and format versions -----

#[test]
fn file_header_layout_is_exact() {
    let h = file_header();
    assert_eq!(
        &h[..10],
        &[0x89, b'E', b'C', b'R', b'J', b'N', b'L', b'\n', 0x01, 0x00]
    );
    assert_eq!(&h[10..], &crc::crc32(&h[..10]).to_le_bytes());
    assert_eq!(FORMAT_VERSION, 1);
    // No format 0 file can start like a header: a format 0 file starts with the envelope magic.
    assert_ne!(header::FILE_MAGIC[0], envelope::MAGIC[0]);
}

#[test]
fn current_format_round_trips_after_the_header() {
    let records = sample();
    let bytes = file_of(&records);
    let mut reader = Reader::new(&bytes).unwrap();
    assert_eq!(reader.version(), FORMAT_VERSION);
    let got: StdVec<Entry> = reader.by_ref().map(|e| e.unwrap()).collect();
    assert_eq!(got[0].offset, FILE_HEADER_LEN);
    assert_eq!(
        got.into_iter().map(|e| e.record).collect::<StdVec<_>>(),
        records
    );
    assert_eq!(reader.valid_len(), bytes.len());
    // A header alone is a valid empty file; so is an empty file.
    let header_only = file_header();
    let mut r = Reader::new(&header_only).unwrap();
    assert!(r.next().is_none());
    assert_eq!(r.valid_len(), FILE_HEADER_LEN);
    assert!(Reader::new(&[]).unwrap().next().is_none());
}

/// The committed version 0 file (written by the code before the header existed) reads back
/// exactly, and recovers to the state it describes. If a change to a record breaks this,
/// bump `FORMAT_VERSION` and keep a decoder for the old layout (see `header`'s doc).
#[test]
fn version_0_fixture_is_read_and_recovered() {
    let file = fixture_v0::V0_FILE;
    assert_eq!(file.len(), 298, "the fixture is never regenerated");
    assert_eq!(file[..2], [0xEC, 0x4A], "format 0 has no header");
    let mut reader = Reader::new(file).unwrap();
    assert_eq!(reader.version(), 0);
    let got: StdVec<Record> = reader
        .by_ref()
        .map(|e| e.unwrap_or_else(|t| panic!("v0 fixture: {t:?}")).record)
        .collect();
    assert_eq!(reader.valid_len(), file.len());
    assert_eq!(got, fixture_v0::records());
    // The envelope is unchanged: today's encoder writes the same bytes without the header.
    assert_eq!(encode_all(&got), file);

    let mut st = JournalState::new();
    for r in &got {
        st.apply(r).unwrap();
    }
    let before = st.checkpoint.last.clone().unwrap();
    assert_eq!((before.stan, before.delivered), (2, true));
    assert_eq!(before.response.outcome, Outcome::Approved);
    let cp = st.recover().unwrap();
    assert_eq!((cp.batch, cp.next_stan), (3, 101));
    // The sale the agent died in becomes the last transaction: cancelled, not delivered.
    let last = cp.last.as_ref().unwrap();
    assert_eq!((last.stan, last.delivered), (3, false));
    assert_eq!(last.response.outcome, Outcome::Cancelled);
    assert_eq!(last.response.amount.map(|m| m.minor()), Some(4200));
    let owed: StdVec<(u32, ReversalReason)> = cp
        .pending
        .iter()
        .map(|p| (p.original.stan, p.reason))
        .collect();
    assert_eq!(
        owed,
        [
            (1, ReversalReason::BankTimeout),
            (3, ReversalReason::Recovery)
        ]
    );
    assert_eq!(cp.totals.currencies.len(), 1);
    let czk = &cp.totals.currencies[0];
    assert_eq!(
        (czk.currency, czk.debit_count, czk.debit_minor),
        (203, 1, 1250)
    );
    assert_eq!(cp.last_close.as_ref().map(|c| c.batch), Some(2));
}

#[test]
fn a_newer_format_is_refused_before_any_record() {
    for v in [FORMAT_VERSION + 1, 0x0100, u16::MAX] {
        let mut bytes = header::file_header_for(v).to_vec();
        bytes.extend_from_slice(&encode_all(&sample()));
        let err = Reader::new(&bytes).unwrap_err();
        assert_eq!(
            err,
            Error::JournalFormat {
                found: v,
                oldest: OLDEST_READABLE,
                current: FORMAT_VERSION
            }
        );
        let text = std::format!("{err}");
        assert!(text.contains("newer"), "{text}");
        assert!(text.contains(&std::format!("format {v}")), "{text}");
    }
}

#[test]
fn a_format_older_than_the_oldest_readable_is_refused() {
    // A build that no longer decodes format 0 (OLDEST_READABLE raised to 1).
    assert_eq!(header::check_version_in(1, 1, 2), Ok(1));
    assert_eq!(header::check_version_in(2, 1, 2), Ok(2));
    let err = header::check_version_in(0, 1, 2).unwrap_err();
    assert_eq!(
        err,
        Error::JournalFormat {
            found: 0,
            oldest: 1,
            current: 2
        }
    );
    assert!(std::format!("{err}").contains("an older build"));
    // This build reads every format from OLDEST_READABLE up to its own.
    for v in OLDEST_READABLE..=FORMAT_VERSION {
        assert_eq!(check_version(v), Ok(v));
    }
}

#[test]
fn a_damaged_header_is_a_bad_tail_at_offset_0() {
    let bytes = file_of(&sample());
    // Cut inside the header: torn.
    for cut in 1..FILE_HEADER_LEN {
        let mut r = Reader::new(&bytes[..cut]).unwrap();
        let t = r.next().unwrap().unwrap_err();
        assert!(t.torn, "cut {cut}");
        assert_eq!((t.offset, t.len), (0, cut));
        assert!(r.next().is_none());
        assert_eq!(r.valid_len(), 0);
    }
    // A flipped version bit: the CRC catches it; corrupt, not a format refusal.
    let mut flipped = bytes.clone();
    flipped[8] ^= 0x04;
    let t = Reader::new(&flipped).unwrap().next().unwrap().unwrap_err();
    assert!(!t.torn);
    assert_eq!((t.offset, t.error), (0, Error::JournalCrc));
    // A damaged magic.
    let mut flipped = bytes.clone();
    flipped[3] ^= 0x01;
    let t = Reader::new(&flipped).unwrap().next().unwrap().unwrap_err();
    assert_eq!((t.offset, t.torn), (0, false));
}

#[test]
fn a_borrowed_record_encodes_to_the_bytes_of_its_record() {
    let mut totals = Totals::default();
    state::add_to_totals(&mut totals, &sale(7, 120, 1250)).unwrap();
    let mut records = sample();
    records.push(approved(RequestKind::Refund, 0, 300));
    records.push(Record::BatchClosed { batch: 7, totals });
    for r in &records {
        // The record's own encoding, not through `encode` (which borrows it first).
        let mut own = [0u8; MAX_PAYLOAD];
        let own = postcard::to_slice(r, &mut own).unwrap();
        let view = RecordRef::from(r);
        let mut buf = [0u8; MAX_ENVELOPE];
        let n = encode(view, &mut buf).unwrap();
        let payload = &buf[envelope::HEADER_LEN..n - envelope::TRAILER_LEN];
        assert_eq!(payload, &own[..], "{r:?}");
        assert_eq!(decode_record(FORMAT_VERSION, payload).unwrap(), *r);
        assert_eq!(view.to_record(), *r);
        assert_eq!(view, *r);
    }
}

/// Recovery in place is all or nothing: reversals that do not fit leave the state as folded
/// (what `Terminal::restore` keeps), and one already pending is not counted again.
#[test]
fn recovery_that_does_not_fit_changes_nothing() {
    let mut st = JournalState::new();
    for stan in 1..=(MAX_PENDING_REVERSALS as u32) {
        st.apply(&Record::ReversalQueued(
            state::reversal_for(&sale(1, stan, 100)).unwrap(),
        ))
        .unwrap();
    }
    // Open again: its reversal is pending already, so it fits.
    st.apply(&Record::AuthStarted(sale(1, 3, 100))).unwrap();
    let mut fits = st.clone();
    fits.recover_in_place().unwrap();
    assert!(fits.open.is_empty());
    assert_eq!(fits.checkpoint.last.as_ref().unwrap().stan, 3);
    // One more open authorization does not fit.
    st.apply(&Record::AuthStarted(sale(1, 500, 100))).unwrap();
    let before = st.clone();
    assert_eq!(
        st.recover_in_place(),
        Err(Error::CapacityExceeded {
            what: "pending reversals"
        })
    );
    assert_eq!(st, before);
    assert!(before.recover().is_err());
}

/// Every kind of record, with every optional part of a checkpoint filled in: a checkpoint
/// folded from the sample and a batch close, then more records after it.
fn every_variant() -> StdVec<Record> {
    let mut records = sample();
    let mut st = JournalState::new();
    for r in &records {
        st.apply(r).unwrap();
    }
    let totals = st.checkpoint.totals.clone();
    records.push(Record::BatchClosed { batch: 7, totals });
    st.apply(records.last().unwrap()).unwrap();
    st.apply(&Record::AuthStarted(sale(8, 1, 500))).unwrap();
    st.apply(&approved(RequestKind::Sale, 1, 500)).unwrap();
    st.apply(&Record::ReversalQueued(
        state::reversal_for(&sale(8, 2, 700)).unwrap(),
    ))
    .unwrap();
    let full = st.checkpoint.clone();
    assert!(full.last.is_some() && full.last_close.is_some() && !full.pending.is_empty());
    assert!(!full.totals.currencies.is_empty());
    let Record::Completed { response, .. } = approved(RequestKind::Sale, 2, 300) else {
        unreachable!()
    };
    let entry = book::Entry::of(8, 2, &response, ts(2)).unwrap();
    records.extend([
        Record::Checkpoint(full),
        Record::AuthStarted(sale(8, 2, 300)),
        approved(RequestKind::Sale, 2, 300),
        Record::Booked(entry),
        Record::Delivered { stan: 2 },
    ]);
    records
}

/// `state` folded from `file` by `Reader::next_with(apply_payload)`, and the valid length.
fn fold_payloads(file: &[u8]) -> (JournalState, usize) {
    let mut st = JournalState::new();
    let mut reader = Reader::new(file).unwrap();
    while let Some(Ok(_)) = reader.next_with(|v, p| apply_payload(v, p, &mut st)) {}
    (st, reader.valid_len())
}

/// The firmware's way of reading a journal (each payload folded as it is decoded, no
/// `Record` built) gives the state the records give, for every kind of record, in both
/// formats and for the committed format 0 fixture, and stops where the iterator stops.
#[test]
fn folding_payloads_is_folding_their_records() {
    let records = every_variant();
    let mut files: StdVec<StdVec<u8>> = [true, false]
        .iter()
        .map(|&headed| file_in(headed, &records))
        .collect();
    files.push(fixture_v0::V0_FILE.to_vec());
    for file in &files {
        let mut expected = JournalState::new();
        let mut reader = Reader::new(file).unwrap();
        for entry in reader.by_ref() {
            expected.apply(&entry.unwrap().record).unwrap();
        }
        let (got, len) = fold_payloads(file);
        assert_eq!(len, file.len());
        assert_eq!(got, expected);
        // Cut anywhere: the same valid prefix, the same state.
        for cut in (0..file.len()).step_by(7) {
            let mut expected = JournalState::new();
            let mut reader = Reader::new(&file[..cut]).unwrap();
            for entry in reader.by_ref() {
                let Ok(entry) = entry else { break };
                expected.apply(&entry.record).unwrap();
            }
            let (got, len) = fold_payloads(&file[..cut]);
            assert_eq!((len, &got), (reader.valid_len(), &expected), "cut at {cut}");
        }
    }
}

/// A payload that does not decode (cut short, a byte too many, an unknown variant, a format
/// that is not read) is refused by `apply_payload` exactly when `decode_record` refuses it,
/// and then leaves the state as it was, a checkpoint decoded halfway included.
#[test]
fn a_payload_that_does_not_decode_changes_nothing() {
    let records = every_variant();
    let mut before = JournalState::new();
    for r in &records {
        before.apply(r).unwrap();
    }
    let mut buf = [0u8; MAX_ENVELOPE];
    for record in &records {
        let n = encode(record, &mut buf).unwrap();
        let payload = &buf[envelope::HEADER_LEN..n - envelope::TRAILER_LEN];
        let mut longer = payload.to_vec();
        longer.push(0);
        let mut unknown = payload.to_vec();
        unknown[0] = 9;
        let mut cases: StdVec<(u16, StdVec<u8>)> = (0..payload.len())
            .map(|cut| (1, payload[..cut].to_vec()))
            .collect();
        cases.extend([(1, longer), (1, unknown), (2, payload.to_vec())]);
        for (version, bytes) in cases {
            let mut st = before.clone();
            let applied = apply_payload(version, &bytes, &mut st);
            match decode_record(version, &bytes) {
                Ok(decoded) => {
                    let mut expected = before.clone();
                    let result = expected.apply(&decoded);
                    assert_eq!(applied, Ok(result));
                    assert_eq!(st, expected);
                }
                Err(e) => {
                    assert_eq!(applied, Err(e), "{record:?} as {bytes:02x?}");
                    assert_eq!(st, before, "{record:?} as {bytes:02x?}");
                }
            }
        }
    }
}

/// `encode_with` hands out exactly the bytes `encode` writes, refuses a record longer than
/// its room before writing anything, and stops at the first error of its writer, returning
/// it.
#[test]
fn streamed_envelopes_are_the_encoded_ones() {
    let mut buf = [0u8; MAX_ENVELOPE];
    for record in &every_variant() {
        let n = encode(record, &mut buf).unwrap();
        let mut streamed = StdVec::new();
        let mut writes = 0;
        let written = encode_with(record, n, |bytes| {
            streamed.extend_from_slice(bytes);
            writes += 1;
            Ok(())
        });
        assert_eq!(written, Ok(n));
        assert_eq!(streamed, &buf[..n]);

        let mut calls = 0;
        let short = encode_with(record, n - 1, |_| {
            calls += 1;
            Ok(())
        });
        assert_eq!(short, Err(Error::BufferTooSmall { needed: n }));
        assert_eq!(calls, 0);

        for fail_at in 1..=writes {
            let mut calls = 0;
            let failed = encode_with(record, n, |_| {
                calls += 1;
                if calls == fail_at {
                    Err(Error::JournalCrc)
                } else {
                    Ok(())
                }
            });
            assert_eq!(failed, Err(Error::JournalCrc));
            assert_eq!(calls, fail_at, "nothing is written after the error");
        }
    }
}

/// `Response`'s hand-written `clone` and `clone_from` (field by field, for the journal's last
/// transaction on a small stack) copy every field, over a response with every field set and
/// over an empty one, in both directions.
#[test]
fn a_response_clones_field_by_field() {
    let Record::Completed {
        response: mut full, ..
    } = approved(RequestKind::Sale, 7, 1250)
    else {
        unreachable!()
    };
    full.cashback = Some(crate::txn::Amount::new(200).unwrap());
    full.scheme = Some(CardScheme::Visa);
    full.entry_mode = Some(crate::txn::EntryMode::Chip);
    full.reference = Some(Reference::new("INV-9").unwrap());
    full.terminal_id = Some(crate::txn::TerminalId::new("T0000001").unwrap());
    full.timestamp = Some(ts(9));
    full.totals = every_variant().iter().find_map(|r| match r {
        Record::BatchClosed { totals, .. } => Some(totals.clone()),
        _ => None,
    });
    assert!(full.totals.is_some());
    full = full.with_text("round trip 12 ms").unwrap();
    let empty = Response::new(RequestKind::Refund, Outcome::Cancelled);
    assert_eq!(full.clone(), full);
    for (from, onto) in [(&full, &empty), (&empty, &full), (&full, &full)] {
        let mut place = onto.clone();
        place.clone_from(from);
        assert_eq!(&place, from);
    }
}
