//! Criterion benchmarks of ZVT decoding, with throughput in bytes, next to the Concert ones in
//! `codecs.rs`: for a till's `06 01` authorisation, a terminal's `04 0F` status information
//! and a `06 D3` text block (`zvt_frames`), the APDU framing and typed parse (`Message::parse`,
//! BMPs included) of one frame, the TCP stream accumulator over the three frames in one read
//! each, and the serial framer (DLE unstuffing and CRC) followed by the typed parse.
//!
//! `cargo bench -p ecrlink-core --bench zvt`. Benchmarks, not tests: nothing asserts a time.
//! `benches/compare.sh` counts the instructions of the same work (`zvt_probe`).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ecrlink_core::dialect::zvt::{Apdu, ApduAccumulator, Message, SerialAccumulator, SerialFeed};

mod zvt_frames;

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("zvt");
    let frames = zvt_frames::frames();
    for (name, frame) in &frames {
        assert!(zvt_frames::is_one_apdu(frame));
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(format!("parse_bytes/{name}"), |b| {
            b.iter(|| Message::parse_bytes(black_box(frame)).is_ok())
        });
        let serial = zvt_frames::serial_frame(frame);
        g.throughput(Throughput::Bytes(serial.len() as u64));
        g.bench_function(format!("serial_decode/{name}"), |b| {
            let mut acc = SerialAccumulator::<2048>::new();
            b.iter(|| {
                let (r, _) = acc.feed(black_box(&serial));
                match r {
                    Ok(SerialFeed::Frame(apdu)) => Apdu::parse_exact(apdu)
                        .and_then(|a| Message::parse(&a))
                        .is_ok(),
                    _ => false,
                }
            })
        });
    }
    let stream: Vec<u8> = frames.iter().flat_map(|(_, f)| f.clone()).collect();
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("tcp_stream_decode/three_frames", |b| {
        let mut acc = ApduAccumulator::<2048>::new();
        b.iter(|| {
            let mut ok = 0;
            for (_, f) in &frames {
                let (r, _) = acc.feed(black_box(f));
                if let Ok(Some(apdu)) = r {
                    ok += usize::from(Message::parse(&apdu).is_ok());
                }
            }
            ok
        })
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
