//! `probe`: the ecrlink side of `benches/compare.sh` (a plain `main`, not a criterion bench).
//!
//! ```text
//! probe fixtures DIR      write the frames the peers parse (hex, one message per line)
//! probe time [CASE...]    wall clock per message, best of 7 runs, one line per case:
//!                         `CASE ns_per_message bytes_per_message`
//! probe count CASE N      run CASE N times and nothing else, for callgrind: the caller
//!                         subtracts the N = 0 run to get instructions per message
//! probe cases             list the cases: `CASE messages_per_unit bytes_per_unit`
//! probe sizes             size_of the sessions and messages on this target
//! ```
//! Every case works on frames from `common` that are checked to parse before the loop starts,
//! so no case can time an error path. Setup does not depend on N.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ecrlink_core::bank::{AuthorizationRequest, IsoMessage};
use ecrlink_core::dialect::concert::ConcertMessage;
use ecrlink_core::dialect::csob::{Message, ParseOptions};
use ecrlink_core::emv;
use ecrlink_core::link::{Checksum, Feed, FrameAccumulator};

mod common;

/// Everything the cases need, built once.
struct Fixtures {
    concert: Vec<Vec<u8>>,
    concert_msgs: Vec<ConcertMessage>,
    /// One cycle of the Concert line (ENQ frame EOT for each of the three frames), read as
    /// the peer sends it (whole frames) and in reads of 1..=16 bytes.
    line: Vec<u8>,
    /// Each read in its own buffer, as a driver's read calls return them.
    line_whole: Vec<Vec<u8>>,
    line_pieces: Vec<Vec<u8>>,
    /// One byte per read, as a UART driver at 9600 baud hands them over.
    line_single: Vec<Vec<u8>>,
    csob: Vec<Vec<u8>>,
    csob_msgs: Vec<Message>,
    tlv: Vec<u8>,
    iso: Vec<u8>,
    iso_msg: IsoMessage,
    out: Vec<u8>,
}

impl Fixtures {
    fn new() -> Self {
        let concert = common::concert_frames();
        let concert_msgs = concert
            .iter()
            .map(|f| ConcertMessage::parse_frame(f).expect("concert frame").0)
            .collect();
        let (line, whole) = common::concert_stream(concert.len());
        let pieces = common::random_splits(&line, 16, 0x11E);
        let reads = |ranges: Vec<std::ops::Range<usize>>| -> Vec<Vec<u8>> {
            ranges.into_iter().map(|r| line[r].to_vec()).collect()
        };
        let (line_whole, line_pieces) = (reads(whole), reads(pieces));
        let line_single = line.chunks(1).map(<[u8]>::to_vec).collect();
        let csob_msgs = vec![common::csob_b1(), common::csob_b2()];
        let csob = csob_msgs.iter().map(common::csob_frame).collect();
        let iso = common::iso_0200();
        let iso_msg = IsoMessage::parse(&iso).expect("0200");
        Fixtures {
            concert,
            concert_msgs,
            line,
            line_whole,
            line_pieces,
            line_single,
            csob,
            csob_msgs,
            tlv: common::field55(),
            iso,
            iso_msg,
            out: vec![0u8; 4096],
        }
    }
}

/// A case: what one unit of work does, how many messages and bytes a unit is.
struct Case {
    name: &'static str,
    about: &'static str,
    run: fn(&mut Fixtures, &mut FrameAccumulator<128>) -> usize,
    messages: fn(&Fixtures) -> usize,
    bytes: fn(&Fixtures) -> usize,
}

fn concert_bytes(f: &Fixtures) -> usize {
    f.concert.iter().map(Vec::len).sum()
}

fn feed_line(acc: &mut FrameAccumulator<128>, reads: &[Vec<u8>], decode: bool) -> usize {
    let mut seen = 0;
    // The reads are run-time data the compiler cannot see through; `black_box` once per unit
    // keeps it from carrying anything over from the previous unit.
    for piece in black_box(reads) {
        let mut input = piece.as_slice();
        while !input.is_empty() {
            let (r, used) = acc.feed(input);
            match r {
                Ok(Feed::Frame(p)) if decode => {
                    // The whole typed result goes to `black_box` (by reference: it stays
                    // where `parse` wrote it, no copy is timed), so no field can be skipped.
                    let m = ConcertMessage::parse(p);
                    seen += usize::from(black_box(&m).is_ok());
                }
                Ok(Feed::Frame(p)) => seen += black_box(p).len(),
                Ok(Feed::Control(c)) => {
                    black_box(c);
                }
                _ => {}
            }
            input = &input[used..];
        }
    }
    seen
}

/// The line one byte at a time through `feed_byte` (a driver with one byte per read, such as
/// a UART receive interrupt).
fn feed_bytes(acc: &mut FrameAccumulator<128>, line: &[u8], decode: bool) -> usize {
    let mut seen = 0;
    for &b in black_box(line) {
        match acc.feed_byte(b) {
            Ok(Feed::Frame(p)) if decode => {
                let m = ConcertMessage::parse(p);
                seen += usize::from(black_box(&m).is_ok());
            }
            Ok(Feed::Frame(p)) => seen += black_box(p).len(),
            Ok(Feed::Control(c)) => {
                black_box(c);
            }
            _ => {}
        }
    }
    seen
}

const CASES: &[Case] = &[
    Case {
        name: "framing",
        about: "link accumulator, Concert line (ENQ frame EOT), each frame in one read",
        run: |f, acc| feed_line(acc, &f.line_whole, false),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "framing+concert_decode",
        about: "the same reads, each frame's payload then typed by ConcertMessage::parse",
        run: |f, acc| feed_line(acc, &f.line_whole, true),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "framing_1_16",
        about: "link accumulator, the same line in reads of 1-16 bytes",
        run: |f, acc| feed_line(acc, &f.line_pieces, false),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "framing_1_16+concert_decode",
        about: "reads of 1-16 bytes, each frame then typed by ConcertMessage::parse",
        run: |f, acc| feed_line(acc, &f.line_pieces, true),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "framing_1",
        about: "link accumulator, the same line one byte per read (a UART driver)",
        run: |f, acc| feed_line(acc, &f.line_single, false),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "framing_1+concert_decode",
        about: "one byte per read, each frame then typed by ConcertMessage::parse",
        run: |f, acc| feed_line(acc, &f.line_single, true),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "framing_byte",
        about: "link accumulator, the same line through feed_byte, one byte per call",
        run: |f, acc| feed_bytes(acc, &f.line, false),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "framing_byte+concert_decode",
        about: "feed_byte, each frame then typed by ConcertMessage::parse",
        run: |f, acc| feed_bytes(acc, &f.line, true),
        messages: |f| f.concert.len(),
        bytes: |f| f.line.len(),
    },
    Case {
        name: "concert_decode",
        about: "ConcertMessage::parse_frame (LRC check, typed fields, PAN masked) of request, full and short answer",
        run: |f, _| {
            f.concert
                .iter()
                .map(|fr| {
                    usize::from(black_box(ConcertMessage::parse_frame(black_box(fr))).is_ok())
                })
                .sum()
        },
        messages: |f| f.concert.len(),
        bytes: concert_bytes,
    },
    Case {
        name: "concert_emit",
        about: "emit_frame of the same three messages",
        run: |f, _| {
            let Fixtures {
                concert_msgs, out, ..
            } = f;
            concert_msgs
                .iter()
                .map(|m| match black_box(m) {
                    ConcertMessage::Request(r) => r.emit_frame(out).unwrap_or(0),
                    ConcertMessage::Answer(a) => a.emit_frame(out).unwrap_or(0),
                })
                .sum()
        },
        messages: |f| f.concert.len(),
        bytes: concert_bytes,
    },
    Case {
        name: "csob_parse",
        about: "csob Message::parse_frame of a B1 sale and a B2 approval",
        run: |f, _| {
            let opts = ParseOptions::default();
            f.csob
                .iter()
                .map(|fr| {
                    usize::from(black_box(Message::parse_frame(black_box(fr), &opts)).is_ok())
                })
                .sum()
        },
        messages: |f| f.csob.len(),
        bytes: |f| f.csob.iter().map(Vec::len).sum(),
    },
    Case {
        name: "csob_emit",
        about: "csob Message::emit of the same B1 and B2",
        run: |f, _| {
            let Fixtures { csob_msgs, out, .. } = f;
            csob_msgs
                .iter()
                .map(|m| black_box(m).emit(out).unwrap_or(0))
                .sum()
        },
        messages: |f| f.csob.len(),
        bytes: |f| f.csob.iter().map(Vec::len).sum(),
    },
    Case {
        name: "tlv_parse",
        about: "emv::walk over 150 bytes of field 55 (21 objects)",
        run: |f, _| {
            let mut n = 0usize;
            let _ = emv::walk(black_box(&f.tlv), &mut |t| {
                black_box(t.value);
                n += 1;
                Ok(())
            });
            n
        },
        messages: |_| 1,
        bytes: |f| f.tlv.len(),
    },
    Case {
        name: "iso8583_parse",
        about: "IsoMessage::parse of a 0200 (11 fields, field 55 = 300 hex chars)",
        run: |f, _| usize::from(IsoMessage::parse(black_box(&f.iso)).is_ok()),
        messages: |_| 1,
        bytes: |f| f.iso.len(),
    },
    Case {
        name: "iso8583_parse_typed",
        about: "IsoMessage::parse + AuthorizationRequest::from_message",
        run: |f, _| {
            IsoMessage::parse(black_box(&f.iso))
                .ok()
                .and_then(|m| AuthorizationRequest::from_message(&m).ok().map(|r| r.stan))
                .map_or(0, |s| s as usize)
        },
        messages: |_| 1,
        bytes: |f| f.iso.len(),
    },
    Case {
        name: "iso8583_emit",
        about: "IsoMessage::emit of the same 0200",
        run: |f, _| black_box(&f.iso_msg).emit(&mut f.out).unwrap_or(0),
        messages: |_| 1,
        bytes: |f| f.iso.len(),
    },
];

fn case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("unknown case {name}; try `probe cases`"))
}

/// Best (lowest) time per unit over 7 runs of about 100 ms each.
fn time_case(c: &Case, f: &mut Fixtures) -> f64 {
    let mut acc = FrameAccumulator::<128>::new(Checksum::Lrc);
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box((c.run)(f, &mut acc));
        }
        if t.elapsed() > Duration::from_millis(20) {
            break;
        }
        iters *= 2;
    }
    iters *= 5; // ≈ 100 ms per run
    (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box((c.run)(f, &mut acc));
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 0200 as iso8583_rs can read it: the same MTI and fields, the bitmap as 8 binary bytes
/// (that crate reads only binary bitmaps) instead of 16 hex characters.
fn binary_bitmap_variant(iso: &[u8]) -> Vec<u8> {
    let (mti, rest) = iso.split_at(4);
    let (bitmap, fields) = rest.split_at(16);
    let text = std::str::from_utf8(bitmap).expect("ascii");
    let value = u64::from_str_radix(text, 16).expect("hex bitmap");
    assert_eq!(value >> 63, 0, "no secondary bitmap in this 0200");
    let mut out = mti.to_vec();
    out.extend_from_slice(&value.to_be_bytes());
    out.extend_from_slice(fields);
    out
}

fn write_fixtures(dir: &str, f: &Fixtures) {
    std::fs::create_dir_all(dir).expect("fixture dir");
    let write = |name: &str, lines: Vec<String>| {
        std::fs::write(format!("{dir}/{name}"), lines.join("\n") + "\n").expect("write fixture");
    };
    write(
        "concert_frames.hex",
        f.concert.iter().map(|x| hex(x)).collect(),
    );
    // The line the Cortex-M4 count (benches/cortex-m-count/) feeds, as raw bytes.
    std::fs::write(format!("{dir}/concert_line.bin"), &f.line).expect("write fixture");
    write("iso_0200.hex", vec![hex(&f.iso)]);
    write(
        "iso_0200_binary_bitmap.hex",
        vec![hex(&binary_bitmap_variant(&f.iso))],
    );
    // What our parser reads, for the peers to check they read the same values.
    let mut fields: Vec<String> = f
        .iso_msg
        .fields()
        .map(|(n, v)| {
            if n == 55 {
                format!("{n} {}", hex(v).to_uppercase())
            } else {
                format!("{n} {}", String::from_utf8_lossy(v))
            }
        })
        .collect();
    fields.insert(0, format!("0 {}", f.iso_msg.mti().as_str()));
    write("iso_0200_fields.txt", fields);
    // What our Concert decoder reads, in the form py_peers.py prints pyTeliumManager's.
    let concert = f
        .concert
        .iter()
        .zip(&f.concert_msgs)
        .map(|(frame, m)| {
            let (pos, amount, currency, extra) = match m {
                ConcertMessage::Request(r) => {
                    (r.pos, r.amount_minor, r.currency_numeric, String::new())
                }
                ConcertMessage::Answer(a) => (
                    a.pos,
                    a.amount_minor,
                    a.currency_numeric,
                    format!(
                        " status={} card={}",
                        char::from(a.status.code()),
                        a.pan.map(|p| p.to_string()).unwrap_or_default()
                    ),
                ),
            };
            format!(
                "CONCERT len={} pos={pos:02} amount={}.{:02} currency={currency:03}{extra}",
                frame.len(),
                amount / 100,
                amount % 100
            )
        })
        .collect();
    write("concert_decoded.txt", concert);
}

/// What a terminal keeps in RAM besides its code, as `size_of` on this (host) target: the
/// sessions and the driver live on the firmware's stack, not in static memory.
fn print_sizes() {
    use core::mem::size_of;
    use ecrlink_core::dialect::concert::ConcertTerminal;
    use ecrlink_core::dialect::csob::CsobTerminal;
    use ecrlink_core::session::TerminalEvent;
    use ecrlink_core::txn::{Request, Response};
    let rows: [(&str, usize); 6] = [
        ("ConcertTerminal", size_of::<ConcertTerminal>()),
        ("CsobTerminal", size_of::<CsobTerminal>()),
        ("TerminalEvent", size_of::<TerminalEvent>()),
        ("Request", size_of::<Request>()),
        ("Response", size_of::<Response>()),
        ("IsoMessage", size_of::<IsoMessage>()),
    ];
    for (name, size) in rows {
        println!("{name} {size}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench` last (and any criterion flags before
    // it): this helper has nothing to do then.
    if args.iter().any(|a| a == "--bench") {
        return;
    }
    let mut f = Fixtures::new();
    match args.first().map(String::as_str) {
        Some("fixtures") => write_fixtures(args.get(1).map_or("target/compare", |s| s), &f),
        Some("cases") => {
            for c in CASES {
                println!(
                    "{} {} {} # {}",
                    c.name,
                    (c.messages)(&f),
                    (c.bytes)(&f),
                    c.about
                );
            }
        }
        Some("time") => {
            let names: Vec<&str> = if args.len() > 1 {
                args[1..].iter().map(String::as_str).collect()
            } else {
                CASES.iter().map(|c| c.name).collect()
            };
            for name in names {
                let c = case(name);
                let per_unit = time_case(c, &mut f);
                let msgs = (c.messages)(&f) as f64;
                println!(
                    "{} {:.1} {:.1}",
                    c.name,
                    per_unit / msgs,
                    (c.bytes)(&f) as f64 / msgs
                );
            }
        }
        Some("count") => {
            let c = case(args.get(1).expect("probe count CASE N"));
            let n: u64 = args
                .get(2)
                .and_then(|s| s.parse().ok())
                .expect("probe count CASE N");
            let mut acc = FrameAccumulator::<128>::new(Checksum::Lrc);
            let mut sum = 0usize;
            for _ in 0..n {
                sum = sum.wrapping_add((c.run)(&mut f, &mut acc));
            }
            black_box(sum);
        }
        Some("sizes") => print_sizes(),
        None => {}
        Some(other) => {
            eprintln!("unknown command {other}; see the doc comment of core/benches/probe.rs");
            std::process::exit(2);
        }
    }
}
