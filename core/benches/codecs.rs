//! Criterion benchmarks of every codec, with throughput in bytes: the link accumulator over a
//! stream of mixed frames in random splits, Concert and ČSOB parse and emit, EMV TLV parse,
//! ISO 8583 parse and emit of a realistic 0200 (field 55 of 150 bytes).
//!
//! `cargo bench -p ecrlink-core --bench codecs` (add a filter such as `iso8583` to run a part).
//! Benchmarks, not tests: nothing here asserts a time. `benches/compare.sh` runs the same
//! frames against peer libraries and under callgrind.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ecrlink_core::bank::{AuthorizationRequest, IsoMessage};
use ecrlink_core::dialect::concert::{ConcertMessage, ConcertRequest};
use ecrlink_core::dialect::csob::{Message, ParseOptions};
use ecrlink_core::emv;
use ecrlink_core::link::{Checksum, Feed, FrameAccumulator};

mod common;

/// Feeds `stream` in the given pieces; returns frames + control bytes seen.
fn accumulate<const N: usize>(
    acc: &mut FrameAccumulator<N>,
    stream: &[u8],
    pieces: &[std::ops::Range<usize>],
) -> usize {
    let mut items = 0;
    for piece in pieces {
        let mut input = &stream[piece.clone()];
        while !input.is_empty() {
            let (r, used) = acc.feed(input);
            if let Ok(Feed::Frame(p)) = r {
                black_box(p);
                items += 1;
            } else if let Ok(Feed::Control(c)) = r {
                black_box(c);
                items += 1;
            }
            input = &input[used..];
        }
    }
    items
}

fn link(c: &mut Criterion) {
    let mut g = c.benchmark_group("link/accumulator");
    // Concert line: ENQ frame EOT, frames of 37, 83 and 28 bytes, read as the peer sends them
    // (whole frames) and in random reads of 1..=16 bytes (a UART FIFO drained byte by byte).
    let (stream, whole) = common::concert_stream(300);
    let pieces = common::random_splits(&stream, 16, 0x5EED);
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("concert_lrc_whole_reads", |b| {
        let mut acc = FrameAccumulator::<128>::new(Checksum::Lrc);
        b.iter(|| accumulate(&mut acc, black_box(&stream), &whole))
    });
    g.bench_function("concert_lrc_random_splits_1_16", |b| {
        let mut acc = FrameAccumulator::<128>::new(Checksum::Lrc);
        b.iter(|| accumulate(&mut acc, black_box(&stream), &pieces))
    });
    // ČSOB over TCP: B1 and B2 frames back to back, segments of 1..=512 bytes.
    let b1 = common::csob_frame(&common::csob_b1());
    let b2 = common::csob_frame(&common::csob_b2());
    let stream: Vec<u8> = (0..200)
        .flat_map(|i| if i % 2 == 0 { b1.clone() } else { b2.clone() })
        .collect();
    let pieces = common::random_splits(&stream, 512, 0xC50B);
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("csob_random_splits", |b| {
        let mut acc = FrameAccumulator::<256>::new(Checksum::None);
        b.iter(|| accumulate(&mut acc, black_box(&stream), &pieces))
    });
    g.finish();
}

fn concert(c: &mut Criterion) {
    let mut g = c.benchmark_group("concert");
    for (name, frame) in [
        ("request", common::CONCERT_REQUEST_FRAME.to_vec()),
        ("full_answer", common::concert_full_answer_frame()),
        ("short_answer", common::concert_short_answer_frame()),
    ] {
        let msg = ConcertMessage::parse_frame(&frame).expect("parses").0;
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(format!("parse_frame/{name}"), |b| {
            b.iter(|| ConcertMessage::parse_frame(black_box(&frame)))
        });
        let mut out = [0u8; 96];
        g.bench_function(format!("emit_frame/{name}"), |b| {
            b.iter(|| match black_box(&msg) {
                ConcertMessage::Request(r) => r.emit_frame(&mut out),
                ConcertMessage::Answer(a) => a.emit_frame(&mut out),
            })
        });
    }
    // The typed request alone (payload only, no framing).
    let payload = &common::CONCERT_REQUEST_FRAME[1..35];
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("parse_payload/request", |b| {
        b.iter(|| ConcertRequest::parse(black_box(payload)))
    });
    g.finish();
}

fn csob(c: &mut Criterion) {
    let mut g = c.benchmark_group("csob");
    let opts = ParseOptions::default();
    for (name, msg) in [
        ("b1_sale", common::csob_b1()),
        ("b2_approved", common::csob_b2()),
    ] {
        let frame = common::csob_frame(&msg);
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(format!("parse_frame/{name}"), |b| {
            b.iter(|| Message::parse_frame(black_box(&frame), &opts))
        });
        let mut out = vec![0u8; frame.len()];
        g.bench_function(format!("emit/{name}"), |b| {
            b.iter(|| black_box(&msg).emit(&mut out))
        });
    }
    g.finish();
}

fn tlv(c: &mut Criterion) {
    let mut g = c.benchmark_group("emv");
    let data = common::field55();
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("walk/field55_150B", |b| {
        b.iter(|| {
            let mut objects = 0usize;
            emv::walk(black_box(&data), &mut |tlv| {
                black_box(tlv.value);
                objects += 1;
                Ok(())
            })
            .map(|()| objects)
        })
    });
    g.bench_function("find_last_tag/field55_150B", |b| {
        let tag = emv::Tag::from_bytes(&[0x5F, 0x34]).expect("tag");
        b.iter(|| emv::find(black_box(&data), tag))
    });
    g.finish();
}

fn iso8583(c: &mut Criterion) {
    let mut g = c.benchmark_group("iso8583");
    let wire = common::iso_0200();
    let msg = IsoMessage::parse(&wire).expect("parses");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("parse/0200", |b| {
        b.iter(|| IsoMessage::parse(black_box(&wire)))
    });
    g.bench_function("parse_typed/0200", |b| {
        b.iter(|| {
            let m = IsoMessage::parse(black_box(&wire))?;
            AuthorizationRequest::from_message(&m).map(|r| r.stan)
        })
    });
    let mut out = vec![0u8; IsoMessage::MAX_LEN];
    g.bench_function("emit/0200", |b| b.iter(|| black_box(&msg).emit(&mut out)));
    g.bench_function("build_and_emit_typed/0200", |b| {
        let m = IsoMessage::parse(&wire).expect("parses");
        let typed = AuthorizationRequest::from_message(&m).expect("typed");
        b.iter(|| black_box(&typed).to_message()?.emit(&mut out))
    });
    g.finish();
}

criterion_group!(benches, link, concert, csob, tlv, iso8583);
criterion_main!(benches);
