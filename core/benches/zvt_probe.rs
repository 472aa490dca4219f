//! `zvt_probe`: the ZVT side of `benches/compare.sh` (a plain `main`, not a criterion bench),
//! the same interface as `probe` for the other codecs.
//!
//! ```text
//! zvt_probe cases             list the cases: `CASE messages_per_unit bytes_per_unit # about`
//! zvt_probe count CASE N      run CASE N times and nothing else, for callgrind: the caller
//!                             subtracts the N = 0 run to get instructions per unit
//! zvt_probe time [CASE...]    wall clock per message, best of 7 runs:
//!                             `CASE ns_per_message bytes_per_message`
//! ```
//! The frames (`zvt_frames`) are checked to parse before any loop starts; setup does not
//! depend on N.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ecrlink_core::dialect::zvt::{Apdu, ApduAccumulator, Message, SerialAccumulator, SerialFeed};

mod zvt_frames;

struct Fixtures {
    /// The three frames as bare APDUs (TCP), and in their serial frames.
    tcp: Vec<Vec<u8>>,
    serial: Vec<Vec<u8>>,
    tcp_acc: ApduAccumulator<2048>,
    serial_acc: SerialAccumulator<2048>,
}

struct Case {
    name: &'static str,
    about: &'static str,
    run: fn(&mut Fixtures) -> usize,
    messages: fn(&Fixtures) -> usize,
    bytes: fn(&Fixtures) -> usize,
}

fn tcp_decode(f: &mut Fixtures) -> usize {
    let mut ok = 0;
    for frame in black_box(&f.tcp) {
        let (r, _) = f.tcp_acc.feed(frame);
        if let Ok(Some(apdu)) = r {
            ok += usize::from(black_box(Message::parse(&apdu)).is_ok());
        }
    }
    ok
}

fn serial_decode(f: &mut Fixtures) -> usize {
    let mut ok = 0;
    for frame in black_box(&f.serial) {
        let (r, _) = f.serial_acc.feed(frame);
        if let Ok(SerialFeed::Frame(apdu)) = r {
            let m = Apdu::parse_exact(apdu).and_then(|a| Message::parse(&a));
            ok += usize::from(black_box(m).is_ok());
        }
    }
    ok
}

fn one(f: &Fixtures, i: usize) -> usize {
    usize::from(black_box(Message::parse_bytes(black_box(&f.tcp[i]))).is_ok())
}

const CASES: &[Case] = &[
    Case {
        name: "zvt_framing+decode",
        about: "TCP: APDU accumulator over 06 01, 04 0F and 06 D3 (one read each), each APDU typed by Message::parse (BMPs included)",
        run: tcp_decode,
        messages: |f| f.tcp.len(),
        bytes: |f| f.tcp.iter().map(Vec::len).sum(),
    },
    Case {
        name: "zvt_serial_framing+decode",
        about: "serial: DLE STX … DLE ETX CRC frames of the same three, unstuffed and CRC-checked, then typed",
        run: serial_decode,
        messages: |f| f.serial.len(),
        bytes: |f| f.serial.iter().map(Vec::len).sum(),
    },
    Case {
        name: "zvt_decode/auth_06_01",
        about: "Message::parse_bytes of the till's 06 01 authorisation",
        run: |f| one(f, 0),
        messages: |_| 1,
        bytes: |f| f.tcp[0].len(),
    },
    Case {
        name: "zvt_decode/status_04_0F",
        about: "Message::parse_bytes of a captured 04 0F status information",
        run: |f| one(f, 1),
        messages: |_| 1,
        bytes: |f| f.tcp[1].len(),
    },
    Case {
        name: "zvt_decode/text_block_06_D3",
        about: "Message::parse_bytes of a captured 06 D3 text block (a whole receipt)",
        run: |f| one(f, 2),
        messages: |_| 1,
        bytes: |f| f.tcp[2].len(),
    },
];

fn case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("unknown case {name}; try `zvt_probe cases`"))
}

fn time_case(c: &Case, f: &mut Fixtures) -> f64 {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box((c.run)(f));
        }
        if t.elapsed() > Duration::from_millis(20) {
            break;
        }
        iters *= 2;
    }
    iters *= 5;
    (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box((c.run)(f));
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let tcp: Vec<Vec<u8>> = zvt_frames::frames().into_iter().map(|(_, f)| f).collect();
    let serial = tcp.iter().map(|f| zvt_frames::serial_frame(f)).collect();
    let mut f = Fixtures {
        tcp,
        serial,
        tcp_acc: ApduAccumulator::new(),
        serial_acc: SerialAccumulator::new(),
    };
    // Every case decodes every message it is given before anything is measured.
    for c in CASES {
        assert_eq!(
            (c.run)(&mut f),
            (c.messages)(&f),
            "case {} fails to decode",
            c.name
        );
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
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
        Some("count") => {
            let c = case(args.get(1).expect("count CASE N"));
            let n: u64 = args
                .get(2)
                .and_then(|s| s.parse().ok())
                .expect("count CASE N");
            let mut seen = 0usize;
            for _ in 0..n {
                seen += (c.run)(&mut f);
            }
            black_box(seen);
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
                let bytes = (c.bytes)(&f) as f64 / msgs;
                println!("{} {:.1} {:.1}", c.name, per_unit / msgs, bytes);
            }
        }
        _ => {
            eprintln!("usage: zvt_probe cases | count CASE N | time [CASE...]");
            std::process::exit(2);
        }
    }
}
