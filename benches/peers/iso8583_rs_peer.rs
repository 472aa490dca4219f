//! The iso8583_rs side of benches/compare.sh: parses the 0200 (binary-bitmap variant) with
//! that crate, prints the fields it read (checked against ours by the script) and the best of
//! 7 timed runs. Built by compare.sh in a throwaway cargo project under target/compare/.
//!
//! usage: iso8583_rs_peer HEX_FILE   (SPEC_FILE must name iso8583_rs_spec.yaml)

use std::hint::black_box;
use std::time::{Duration, Instant};

use iso8583_rs::iso8583::iso_spec::spec;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: iso8583_rs_peer HEX_FILE");
    let text = std::fs::read_to_string(path).expect("read fixture");
    let mut data = unhex(text.trim());
    let spec = spec("Ecrlink0200");

    let msg = spec.parse(&mut data).expect("iso8583_rs parses the 0200");
    println!("FIELD 0 {}", msg.get_field_value(&"message_type".to_string()).expect("mti"));
    for pos in [2u32, 3, 4, 7, 11, 12, 13, 41, 42, 49, 55] {
        println!("FIELD {pos} {}", msg.bmp_child_value(pos).expect("field"));
    }

    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(spec.parse(black_box(&mut data)).is_ok());
        }
        if t.elapsed() > Duration::from_millis(20) {
            break;
        }
        iters *= 2;
    }
    iters *= 5;
    let best = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(spec.parse(black_box(&mut data)).is_ok());
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min);
    println!("TIME iso8583_parse {best:.1} {}", data.len());
}
