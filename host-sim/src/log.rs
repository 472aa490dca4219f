//! Session logs: every run appends to `<dir>/YYYY-MM-DD_hh-mm-ss.log` (local time of the run's
//! start; `~/PointOfSale` unless a flag, `ECRLINK_LOG_DIR` or the config says otherwise): the
//! request, every frame in hex, timings and the outcome.
//!
//! Nothing unmasked reaches the file, and what is masked is what carries a card number, found
//! by the frame's structure ([`mask_frames`]): the ČSOB `P` field, the Concert full answer's
//! card field, each showing at most its first 6 and last 4 digits. Headers, amounts, dates and
//! codes are written as they were on the wire, also when several frames arrive in one read. Free
//! text (receipt lines, messages), bytes outside any frame and the log's text lines keep the
//! digit-pattern guard ([`mask_digits`]: runs of 12 or more digits). A card field cut by the end
//! of a read stays masked into the next read.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ecrlink_core::session::Dialect;

/// Environment variable naming the log folder.
pub const LOG_DIR_ENV: &str = "ECRLINK_LOG_DIR";

/// The default log folder: `~/PointOfSale`.
pub fn default_log_dir() -> Option<PathBuf> {
    crate::config::home_dir().map(|h| h.join("PointOfSale"))
}

/// The file name of a log started at local time `t`: `YYYY-MM-DD_hh-mm-ss.log`.
pub fn file_name(t: &chrono::DateTime<chrono::Local>) -> String {
    t.format("%Y-%m-%d_%H-%M-%S.log").to_string()
}

/// Direction of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Till → terminal.
    Out,
    /// Terminal → till.
    In,
}

/// An open session log, shared by every till call of the run. Cloning shares the file.
#[derive(Clone, Debug)]
pub struct SessionLog {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    file: Option<File>,
    path: Option<PathBuf>,
    start: Instant,
    /// Per direction (out, in): a card field the last read cut off ([`MaskState`]).
    cut: [MaskState; 2],
}

impl SessionLog {
    /// Opens (creating the folder and appending to the file) the log of a run starting now.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let now = chrono::Local::now();
        std::fs::create_dir_all(dir)?;
        let path = dir.join(file_name(&now));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let log = SessionLog {
            inner: Arc::new(Mutex::new(Inner {
                file: Some(file),
                path: Some(path),
                start: Instant::now(),
                cut: [MaskState::default(); 2],
            })),
        };
        log.line(&format!(
            "=== ecrlink-sim {} run started {} (pid {})",
            env!("CARGO_PKG_VERSION"),
            now.format("%Y-%m-%d %H:%M:%S%.3f %z"),
            std::process::id()
        ));
        Ok(log)
    }

    /// A log that writes nowhere.
    pub fn disabled() -> Self {
        SessionLog {
            inner: Arc::new(Mutex::new(Inner {
                file: None,
                path: None,
                start: Instant::now(),
                cut: [MaskState::default(); 2],
            })),
        }
    }

    /// Whether lines go to a file ([`SessionLog::disabled`] writes nowhere).
    pub fn is_enabled(&self) -> bool {
        self.inner.lock().is_ok_and(|i| i.file.is_some())
    }

    /// The file, if logging.
    pub fn path(&self) -> Option<PathBuf> {
        self.inner.lock().ok().and_then(|i| i.path.clone())
    }

    /// Appends one line, prefixed by the milliseconds since the run started. Digit runs that
    /// could be a PAN are masked.
    pub fn line(&self, text: &str) {
        self.write_line(&mask_digits(text));
    }

    /// Appends a line that is already masked.
    fn write_line(&self, text: &str) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let ms = inner.start.elapsed().as_millis();
        if let Some(f) = inner.file.as_mut() {
            // A log that cannot be written must not stop a payment.
            let _ = writeln!(f, "[{ms:>7} ms] {text}");
        }
    }

    /// Appends a frame in hex (and its printable rendering), PAN-like digit runs masked first.
    pub fn frame(&self, dir: Dir, bytes: &[u8]) {
        self.frame_of(None, dir, bytes);
    }

    /// [`SessionLog::frame`] for a frame of `dialect`: the leading bytes that cannot hold a
    /// card number by the dialect's layout ([`pan_free_prefix`]) are kept as they are, so
    /// that header digits (ČSOB date and time, Concert amount) stay readable; the rest is
    /// masked.
    pub fn frame_of(&self, dialect: Option<Dialect>, dir: Dir, bytes: &[u8]) {
        // Masking and hex formatting cost more than the exchange itself: only for a file.
        if !self.is_enabled() {
            return;
        }
        let masked = match dialect {
            Some(d) => {
                let Ok(mut inner) = self.inner.lock() else {
                    return;
                };
                let state = &mut inner.cut[usize::from(dir == Dir::In)];
                mask_frames(d, dir, bytes, state)
            }
            None => mask_pan_bytes(bytes),
        };
        let arrow = match dir {
            Dir::Out => "till -> terminal",
            Dir::In => "terminal -> till",
        };
        self.write_line(&format!(
            "{arrow} {} bytes: {} | {}",
            masked.len(),
            hex(&masked),
            printable(&masked)
        ));
    }
}

/// How many leading bytes of a frame cannot carry a card number, by the dialect's layout:
/// - ČSOB: STX and the 36-character header (type, version, terminal id of 8, date and time,
///   flags, length, CRC); fields, where a card number could travel, follow it.
/// - Concert: a till's request (34 characters: POS, amount, flags, currency, private data —
///   no card data) entirely; an answer's STX, POS number, status, amount and mode (13 bytes),
///   before the field that carries the card number.
pub fn pan_free_prefix(dialect: Dialect, dir: Dir, bytes: &[u8]) -> usize {
    const STX: u8 = 0x02;
    if bytes.first() != Some(&STX) {
        return 0;
    }
    match dialect {
        Dialect::Csob => 37.min(bytes.len()),
        // Binary APDUs: no prefix is known free of a card number.
        Dialect::Zvt => 0,
        Dialect::Concert => match dir {
            // STX + 34 + ETX + LRC
            Dir::Out if bytes.len() <= 37 => bytes.len(),
            _ => 13.min(bytes.len()),
        },
    }
}

/// A card field cut off by the end of a read: how many more bytes of it the next read holds
/// (`usize::MAX`: up to the next field separator). Those bytes are masked entirely.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaskState {
    pan_left: usize,
}

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const FS: u8 = 0x1C;

/// ČSOB field tags whose values are numbers or codes (amount, cashback, currency, approval
/// code, result, transaction type in B1/B2 is `T` + 2 digits, totals): written as they are.
const CSOB_PLAIN_TAGS: &[u8] = b"BCEFRYZ";

/// Masks the card numbers in one read of `dialect` bytes by their structure (module docs).
/// `state` carries a card field cut off by the end of the previous read of this direction.
pub fn mask_frames(dialect: Dialect, dir: Dir, bytes: &[u8], state: &mut MaskState) -> Vec<u8> {
    if dialect == Dialect::Zvt {
        // ZVT is binary: the card number (BMP 22) is BCD, which our terminal side masks
        // with `E` digits before it leaves; the digit-pattern guard covers text fields.
        return mask_pan_bytes(bytes);
    }
    let mut out = bytes.to_vec();
    let mut i = 0;
    // The rest of a card field the previous read cut off.
    while state.pan_left > 0 && i < out.len() {
        if state.pan_left == usize::MAX && matches!(out[i], FS | ETX) {
            state.pan_left = 0;
            break;
        }
        if out[i].is_ascii_digit() {
            out[i] = b'*';
        }
        i += 1;
        if state.pan_left != usize::MAX {
            state.pan_left -= 1;
        }
    }
    while i < out.len() {
        // Bytes outside frames (control bytes, noise): the digit-pattern guard.
        let Some(stx) = out[i..].iter().position(|&b| b == STX).map(|p| p + i) else {
            let masked = mask_pan_bytes(&out[i..]);
            out.truncate(i);
            out.extend(masked);
            break;
        };
        let masked = mask_pan_bytes(&out[i..stx]);
        out.splice(i..stx, masked);
        i = match dialect {
            Dialect::Csob => mask_csob_frame(&mut out, stx, state),
            Dialect::Concert => mask_concert_frame(&mut out, stx, dir, state),
            Dialect::Zvt => out.len(),
        };
    }
    out
}

/// Keeps the first 6 and the last 4 digits of `field`, masks the others; a field `cut` by the
/// end of the read keeps only its first 6 (its end is not known).
fn mask_card_field(field: &mut [u8], cut: bool) {
    let digits: Vec<usize> = (0..field.len())
        .filter(|&k| field[k].is_ascii_digit())
        .collect();
    let keep_tail = if cut { 0 } else { 4 };
    for (n, &k) in digits.iter().enumerate() {
        if n >= 6 && n + keep_tail < digits.len() {
            field[k] = b'*';
        }
    }
}

/// One ČSOB frame from `stx`: the header kept, the `P` field masked by structure, free-text
/// fields by digit pattern. Returns where the frame ends.
fn mask_csob_frame(out: &mut [u8], stx: usize, state: &mut MaskState) -> usize {
    // STX + 36-character header: type, version, terminal id, date and time, flags, length, CRC.
    let mut i = (stx + 37).min(out.len());
    while i < out.len() {
        match out[i] {
            ETX => return i + 1,
            FS => {
                let tag = out.get(i + 1).copied();
                let start = (i + 2).min(out.len());
                let end = out[start..]
                    .iter()
                    .position(|&b| matches!(b, FS | ETX | STX))
                    .map_or(out.len(), |p| p + start);
                let cut = end == out.len();
                match tag {
                    Some(b'P') => {
                        mask_card_field(&mut out[start..end], cut);
                        if cut {
                            state.pan_left = usize::MAX;
                        }
                    }
                    Some(t) if CSOB_PLAIN_TAGS.contains(&t) => {}
                    _ => {
                        let masked = mask_pan_bytes(&out[start..end]);
                        out[start..end].copy_from_slice(&masked);
                    }
                }
                i = end;
            }
            STX => return i,
            _ => i += 1,
        }
    }
    out.len()
}

/// One Concert frame from `stx`: a till's request has no card data; a full answer carries the
/// card number in the 55 characters after POS (2), status (1), amount (8) and mode (1).
fn mask_concert_frame(out: &mut [u8], stx: usize, dir: Dir, state: &mut MaskState) -> usize {
    const CARD_FIELD: usize = 13;
    const CARD_LEN: usize = 55;
    let end = out[stx + 1..]
        .iter()
        .position(|&b| b == ETX)
        .map_or(out.len(), |p| (stx + 1 + p + 2).min(out.len()));
    if dir == Dir::In {
        let from = (stx + CARD_FIELD).min(end);
        let to = (stx + CARD_FIELD + CARD_LEN).min(end);
        let etx_at = out[stx + 1..end].iter().position(|&b| b == ETX);
        // A short answer (ETX before the card field ends) has no card field.
        let full = etx_at.is_none_or(|p| p + 1 >= CARD_FIELD + CARD_LEN);
        if full && from < to {
            let cut = to - from < CARD_LEN;
            mask_card_field(&mut out[from..to], cut);
            if cut && to == out.len() {
                state.pan_left = CARD_LEN - (to - from);
            }
        }
    }
    end
}

/// Space-separated upper-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    s
}

/// The bytes as text, control bytes as `<STX>`-style names or `.`.
fn printable(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            0x02 => s.push_str("<STX>"),
            0x03 => s.push_str("<ETX>"),
            0x04 => s.push_str("<EOT>"),
            0x05 => s.push_str("<ENQ>"),
            0x06 => s.push_str("<ACK>"),
            0x0A => s.push_str("<LF>"),
            0x0D => s.push_str("<CR>"),
            0x15 => s.push_str("<NAK>"),
            0x1C => s.push_str("<FS>"),
            0x1D => s.push_str("<GS>"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push('.'),
        }
    }
    s
}

/// Shortest digit run that is masked: the shortest PAN.
pub const MASK_MIN_RUN: usize = 12;

/// Replaces, in every run of [`MASK_MIN_RUN`] or more ASCII digits, all but the first 6 and
/// the last 4 digits by `*`. A PAN inside such a run can show at most its first 6 or its
/// last 4 digits.
pub fn mask_pan_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < out.len() {
        if !out[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < out.len() && out[i].is_ascii_digit() {
            i += 1;
        }
        if i - start >= MASK_MIN_RUN {
            for b in &mut out[start + 6..i - 4] {
                *b = b'*';
            }
        }
    }
    out
}

/// [`mask_pan_bytes`] over text.
pub fn mask_digits(text: &str) -> String {
    // Only ASCII digits change, into ASCII '*': the result stays valid UTF-8.
    String::from_utf8(mask_pan_bytes(text.as_bytes())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_runs_are_masked_short_runs_kept() {
        assert_eq!(
            mask_digits("pan 4761739001010119 ok"),
            "pan 476173******0119 ok"
        );
        assert_eq!(mask_digits("amount 00001250"), "amount 00001250");
        // A PAN glued to other digits shows no more than 6 leading / 4 trailing digits.
        let glued = "0100001250".to_string() + "14761739001010119" + "978";
        let m = mask_digits(&glued);
        assert!(!m.contains("47617390"), "{m}");
        assert!(!m.contains("0101"), "{m}");
        assert_eq!(mask_digits("123456789012"), "123456**9012");
        assert_eq!(mask_digits("12345678901"), "12345678901");
    }

    #[test]
    fn file_name_format() {
        use chrono::TimeZone;
        let t = chrono::Local
            .with_ymd_and_hms(2026, 3, 7, 9, 5, 1)
            .single()
            .unwrap();
        assert_eq!(file_name(&t), "2026-03-07_09-05-01.log");
    }

    #[test]
    fn only_a_log_with_a_file_is_enabled() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SessionLog::open(dir.path()).unwrap().is_enabled());
        let off = SessionLog::disabled();
        assert!(!off.is_enabled());
        off.frame(Dir::In, b"\x02P4761739001010119\x1c\x03");
        assert_eq!(off.path(), None);
    }

    #[test]
    fn log_writes_frames_masked() {
        let dir = tempfile::tempdir().unwrap();
        let log = SessionLog::open(dir.path()).unwrap();
        log.frame(Dir::In, b"\x02P4761739001010119\x1c\x03");
        log.line("done");
        let path = log.path().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.ends_with(".log") && name.len() == "2026-03-07_09-05-01.log".len());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("terminal -> till 20 bytes: 02 50 34 37 36 31 37 33 2A"),
            "{text}"
        );
        assert!(text.contains("<STX>P476173******0119<FS><ETX>"), "{text}");
        assert!(!text.contains("4761739001010119"));
        assert!(text.contains("done"));
    }

    #[test]
    fn dialect_headers_stay_readable_card_numbers_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let log = SessionLog::open(dir.path()).unwrap();
        // A ČSOB B2 whose header digits run into each other, with a full PAN in a field.
        let mut b2 = b"\x02B201ECRLINK12611251754428000004CA5A5".to_vec();
        b2.extend_from_slice(b"\x1cT00\x1cR000\x1cP4761739001010119\x03");
        log.frame_of(Some(Dialect::Csob), Dir::In, &b2);
        // A Concert full answer: POS 01, status 0, amount, mode, then a PAN.
        let mut ans = b"\x0201000001250".to_vec();
        ans.extend_from_slice(b"14761739001010119");
        ans.extend_from_slice(&[b' '; 39]);
        ans.extend_from_slice(b"978          \x03\x00");
        log.frame_of(Some(Dialect::Concert), Dir::In, &ans);
        let text = std::fs::read_to_string(log.path().unwrap()).unwrap();
        assert!(
            text.contains("B201ECRLINK12611251754428000004CA5A5"),
            "{text}"
        );
        assert!(text.contains("010000012501476173******0119"), "{text}");
        assert!(!text.contains("4761739001010119"), "{text}");
        assert!(
            !text.contains("39 30 30 31 30 31"),
            "hex of the PAN middle: {text}"
        );
    }

    #[test]
    fn two_frames_in_one_read_keep_both_headers_and_mask_only_the_card() {
        let dir = tempfile::tempdir().unwrap();
        let log = SessionLog::open(dir.path()).unwrap();
        // A B0 and a B2 in one read: the B2's date and time (261125175442) is a 12-digit run.
        let mut read = b"\x02B001ECRLINK12611251754408000000000A5A5\x03".to_vec();
        read.extend_from_slice(b"\x02B201ECRLINK12611251754428000004CA5A5");
        read.extend_from_slice(b"\x1cT00\x1cR000\x1cB000000001250\x1cP4761739001010119\x03");
        log.frame_of(Some(Dialect::Csob), Dir::In, &read);
        let text = std::fs::read_to_string(log.path().unwrap()).unwrap();
        assert!(
            text.contains("<STX>B201ECRLINK12611251754428000004CA5A5"),
            "{text}"
        );
        // The hex is what was on the wire, but for the card number's middle.
        let hex_of = |b: &[u8]| hex(b);
        assert!(
            text.contains(&hex_of(b"12611251754428000004CA5A5")),
            "{text}"
        );
        assert!(text.contains("B000000001250"), "{text}");
        assert!(text.contains("P476173******0119"), "{text}");
        assert!(!text.contains("4761739001010119"), "{text}");
    }

    #[test]
    fn a_card_number_cut_by_the_end_of_a_read_stays_masked_in_the_next() {
        let mut state = MaskState::default();
        let first = mask_frames(
            Dialect::Csob,
            Dir::In,
            b"\x02B201ECRLINK12611251754428000004CA5A5\x1cP47617390",
            &mut state,
        );
        assert!(first.ends_with(b"P476173**"), "{}", printable(&first));
        let second = mask_frames(Dialect::Csob, Dir::In, b"01010119\x1cR000\x03", &mut state);
        assert_eq!(printable(&second), "********<FS>R000<ETX>");
        // Concert: the card field of a full answer, cut after 20 bytes.
        let mut state = MaskState::default();
        let mut ans = b"\x0201000001250".to_vec();
        ans.extend_from_slice(b"14761739");
        let a = mask_frames(Dialect::Concert, Dir::In, &ans, &mut state);
        assert_eq!(printable(&a), "<STX>010000012501476173*");
        let b = mask_frames(Dialect::Concert, Dir::In, b"001010119      ", &mut state);
        assert_eq!(printable(&b), "*********      ");
    }
}
