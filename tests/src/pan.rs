//! Looks for unmasked card numbers in files: any run of 13–19 digits starting with 2–6 (a card
//! scheme's first digit) that passes the Luhn check (bounded by non-digits), in the text as
//! written and inside hex dumps of frames (the agent
//! logs frames as space-separated hex pairs, so `34 37 36 31 …` is decoded and scanned too),
//! plus any of the full card numbers a test used, wherever they appear (in a decoded ISO 8583
//! message a PAN sits inside a longer run of digits, where the Luhn rule alone cannot find it).

use std::path::{Path, PathBuf};

/// One card number found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// The digits found (shown masked in the report: first 6, last 4).
    pub masked: String,
    /// Where: `text` or `hex dump`.
    pub how: &'static str,
}

/// Whether `digits` (ASCII digits) pass the Luhn check.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn mask(d: &[u8]) -> String {
    let s = String::from_utf8_lossy(d);
    if s.len() < 10 {
        return "*".repeat(s.len());
    }
    format!(
        "{}{}{}",
        &s[..6],
        "*".repeat(s.len() - 10),
        &s[s.len() - 4..]
    )
}

/// Luhn-valid runs of 13–19 digits in `bytes`.
pub fn luhn_runs(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let run = &bytes[start..i];
        // A run that touches a hex letter is part of a hex string (chip data written as ASCII
        // hex, e.g. a random 9F26 cryptogram whose hex happens to be all digits), not a card
        // number in text. A card number inside chip data is found through `known` instead.
        let hex_letter = |b: Option<&u8>| b.is_some_and(|c| matches!(c, b'A'..=b'F' | b'a'..=b'f'));
        let in_hex =
            hex_letter(start.checked_sub(1).and_then(|s| bytes.get(s))) || hex_letter(bytes.get(i));
        // Card numbers start with 2-6 (the major industry identifiers of the card schemes):
        // protocol frames are full of zero-padded digit runs that pass Luhn one time in ten.
        if !in_hex && (13..=19).contains(&run.len()) && (b'2'..=b'6').contains(&run[0]) && luhn(run)
        {
            out.push(run.to_vec());
        }
    }
    out
}

/// Decodes every stretch of space-separated hex pairs (`02 42 31 …`, at least 8 pairs).
pub fn hex_dumps(text: &[u8]) -> Vec<Vec<u8>> {
    let hexval = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut i = 0;
    let flush = |cur: &mut Vec<u8>, out: &mut Vec<Vec<u8>>| {
        if cur.len() >= 8 {
            out.push(std::mem::take(cur));
        } else {
            cur.clear();
        }
    };
    while i < text.len() {
        let pair = (i + 1 < text.len())
            .then(|| (hexval(text[i]), hexval(text[i + 1])))
            .and_then(|(a, b)| Some((a?, b?)));
        let bounded = i + 2 >= text.len() || !text[i + 2].is_ascii_hexdigit();
        let starts = i == 0 || !text[i - 1].is_ascii_hexdigit();
        match pair {
            Some((a, b)) if bounded && starts => {
                cur.push(a << 4 | b);
                i += 2;
                if i < text.len() && text[i] == b' ' {
                    i += 1;
                } else {
                    flush(&mut cur, &mut out);
                }
            }
            _ => {
                flush(&mut cur, &mut out);
                i += 1;
            }
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Scans the bytes of one file.
pub fn scan_bytes(file: &Path, bytes: &[u8], known: &[&str]) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut push = |d: &[u8], how| {
        let f = Finding {
            file: file.to_path_buf(),
            masked: mask(d),
            how,
        };
        if !found.contains(&f) {
            found.push(f);
        }
    };
    let contains = |hay: &[u8], pan: &str| hay.windows(pan.len()).any(|w| w == pan.as_bytes());
    for run in luhn_runs(bytes) {
        push(&run, "text");
    }
    for pan in known {
        if contains(bytes, pan) {
            push(pan.as_bytes(), "text");
        }
    }
    for dump in hex_dumps(bytes) {
        for run in luhn_runs(&dump) {
            push(&run, "hex dump");
        }
        for pan in known {
            if contains(&dump, pan) {
                push(pan.as_bytes(), "hex dump");
            }
        }
    }
    found
}

/// Scans every file under `root` (recursively).
pub fn scan_tree(root: &Path, known: &[&str]) -> (usize, Vec<Finding>) {
    let mut files = 0;
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                files += 1;
                found.extend(scan_bytes(&p, &bytes, known));
            }
        }
    }
    (files, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAN: &str = "4761739001010119";

    #[test]
    fn luhn_check() {
        assert!(luhn(PAN.as_bytes()));
        assert!(!luhn(b"4761739001010118"));
        assert!(luhn(b"5413330089020011"));
    }

    #[test]
    fn finds_a_plain_pan_but_not_a_masked_one() {
        let p = Path::new("x");
        assert_eq!(scan_bytes(p, b"card 4761739001010119 ok", &[]).len(), 1);
        assert!(scan_bytes(p, b"card 476173******0119 ok", &[PAN]).is_empty());
        // Not 13-19 digits, or not Luhn-valid: not a card number.
        assert!(scan_bytes(p, b"trace 000123 amount 000000001250", &[]).is_empty());
        assert!(scan_bytes(p, b"4761739001010118", &[]).is_empty());
    }

    #[test]
    fn finds_a_pan_in_a_hex_dump_and_inside_a_longer_digit_run() {
        let p = Path::new("x");
        let frame: String = format!("0200F2{PAN}000000001250")
            .bytes()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ");
        let line = format!("DEBUG bank -> frame={frame}\n");
        let f = scan_bytes(p, line.as_bytes(), &[PAN]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].how, "hex dump");
        assert_eq!(f[0].masked, "476173******0119");
        // Without the known PAN, the run is too long for the Luhn rule: the known list matters.
        assert!(scan_bytes(p, line.as_bytes(), &[]).is_empty());
        // A masked frame is clean.
        let masked = line.replace(&hex(PAN), &hex("476173******0119"));
        assert!(scan_bytes(p, masked.as_bytes(), &[PAN]).is_empty());
    }

    /// Seen once in CI (session 5): a fresh 9F26 cryptogram in a 0200's field 55, written as
    /// ASCII hex, was all digits for 17 characters and passed Luhn; the scanner took it for an
    /// unmasked card number. A card number in chip data is still found by `known`.
    #[test]
    fn digits_inside_ascii_hex_chip_data_are_not_a_card_number() {
        let p = Path::new("x");
        // As seen: tag 9F26, length 08, value 21 21 26 27 20 43 6E 8E.
        let field55 = "9F02060000000143009F26082121262720436E8E";
        let line = format!("DEBUG bank -> frame={}\n", hex(&format!("0200{field55}")));
        assert!(scan_bytes(p, line.as_bytes(), &[]).is_empty(), "{line}");
        // The same digits in text are a card number (they pass Luhn).
        assert!(luhn(b"26082121262720436"));
        assert_eq!(scan_bytes(p, b"pan 26082121262720436 ok", &[]).len(), 1);
        // A card number inside chip data (tag 5A) is found through the known list.
        let chip = format!("5A08{PAN}9F2608AB");
        let line = format!("frame={}\n", hex(&chip));
        assert_eq!(scan_bytes(p, line.as_bytes(), &[PAN]).len(), 1);
    }

    fn hex(s: &str) -> String {
        s.bytes()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
