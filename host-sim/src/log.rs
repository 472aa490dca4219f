//! Session logs: every run appends to `<dir>/YYYY-MM-DD_hh-mm-ss.log` (local time of the run's
//! start; `~/PointOfSale` unless a flag, `ECRLINK_LOG_DIR` or the config says otherwise): the
//! request, every frame in hex, timings and the outcome.
//!
//! Nothing unmasked reaches the file: every run of 12 or more ASCII digits in a frame (a PAN
//! is 12–19 digits) is written with all but its first 6 and last 4 digits replaced by `*`
//! before it is turned into hex, and text lines go through [`mask_digits`] too.

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
        let keep = dialect.map_or(0, |d| pan_free_prefix(d, dir, bytes));
        let (head, tail) = bytes.split_at(keep.min(bytes.len()));
        let mut masked = head.to_vec();
        masked.extend(mask_pan_bytes(tail));
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
        Dialect::Concert => match dir {
            // STX + 34 + ETX + LRC
            Dir::Out if bytes.len() <= 37 => bytes.len(),
            _ => 13.min(bytes.len()),
        },
    }
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
}
