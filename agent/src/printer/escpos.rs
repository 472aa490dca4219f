//! ESC/POS: the byte commands of thermal receipt printers (Epson's command set, followed by
//! most receipt printers). A receipt job is
//!
//! | bytes | command |
//! |---|---|
//! | `1B 40` | `ESC @` initialize |
//! | `1B 74 n` | `ESC t n` select the code page (18 = CP852, 19 = CP858) |
//! | `1B 45 01` … `1B 45 00` | `ESC E 1` / `ESC E 0` bold on / off around the header |
//! | text, `0A` | the lines in the code page, each ended by LF (print and feed a line) |
//! | `1B 64 n` | `ESC d n` print and feed `n` lines |
//! | `1D 56 42 n` | `GS V 66 n` feed to the cutter (+ `n` motion units) and cut partially |
//!
//! The header is the block of lines before the first empty line (the layout of
//! `ecrlink_core::receipt` puts the merchant's name, address and ids there). [`decode`] turns
//! bytes back into commands and text, for tests and for looking at a captured print job.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::codepage::{CodePage, encode};
use super::{PrintError, PrintJob, Printer};

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const LF: u8 = 0x0A;

/// Lines fed after the text, before the cut, so the last line clears the cutter.
pub const FEED_LINES: u8 = 3;

/// Which code page a job is printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CodePageChoice {
    /// The page needing the fewest replacements for each job's text (CP858 on a tie).
    #[default]
    Auto,
    /// Always this page (the printer's configured one).
    Fixed(CodePage),
}

impl CodePageChoice {
    fn pick(self, text: &str) -> CodePage {
        match self {
            CodePageChoice::Auto => CodePage::best_for(text),
            CodePageChoice::Fixed(cp) => cp,
        }
    }
}

/// The ESC/POS bytes of one job and what the conversion had to replace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscPosJob {
    /// The bytes to send to the printer.
    pub bytes: Vec<u8>,
    /// The code page selected.
    pub code_page: CodePage,
    /// Characters the code page lacks, replaced in print (once each).
    pub replaced: Vec<char>,
}

/// Encodes `text` as a complete ESC/POS job in `page`: initialize, select the page, the header
/// in bold, the rest, feed and cut.
pub fn encode_job(text: &str, page: CodePage) -> EscPosJob {
    let (header, body) = split_header(text);
    let mut bytes = vec![ESC, b'@', ESC, b't', page.escpos_number()];
    let mut replaced = Vec::new();
    // The last byte of *text* written (commands such as bold-off end in other bytes).
    let mut last_text_byte = None;
    let mut add = |bytes: &mut Vec<u8>, part: &str| {
        let e = encode(part, page);
        if let Some(&b) = e.bytes.last() {
            last_text_byte = Some(b);
        }
        bytes.extend_from_slice(&e.bytes);
        for c in e.replaced {
            if !replaced.contains(&c) {
                replaced.push(c);
            }
        }
    };
    if !header.is_empty() {
        bytes.extend_from_slice(&[ESC, b'E', 1]);
        add(&mut bytes, header);
        bytes.extend_from_slice(&[ESC, b'E', 0]);
    }
    add(&mut bytes, body);
    if last_text_byte != Some(LF) {
        bytes.push(LF);
    }
    bytes.extend_from_slice(&[ESC, b'd', FEED_LINES, GS, b'V', 66, 0]);
    EscPosJob {
        bytes,
        code_page: page,
        replaced,
    }
}

/// Splits `text` into the header (lines before the first empty line, with their line ends)
/// and the rest (from the empty line on). No empty line: no header.
fn split_header(text: &str) -> (&str, &str) {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']).is_empty() {
            return text.split_at(at);
        }
        at += line.len();
    }
    ("", text)
}

/// ESC/POS to any writer: a file, a serial port, a pipe.
pub struct EscPosPrinter<W: Write + Send> {
    out: W,
    choice: CodePageChoice,
    replaced: Vec<char>,
}

impl<W: Write + Send> EscPosPrinter<W> {
    /// A printer writing ESC/POS bytes to `out`.
    pub fn new(out: W, choice: CodePageChoice) -> Self {
        EscPosPrinter {
            out,
            choice,
            replaced: Vec::new(),
        }
    }

    /// The writer, e.g. to inspect a `Vec<u8>` in tests.
    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

impl EscPosPrinter<std::fs::File> {
    /// ESC/POS appended to the file at `path` (created if missing).
    pub fn append_to(
        path: impl AsRef<std::path::Path>,
        choice: CodePageChoice,
    ) -> Result<Self, PrintError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(EscPosPrinter::new(file, choice))
    }
}

impl<W: Write + Send> Printer for EscPosPrinter<W> {
    fn print(&mut self, job: &PrintJob) -> Result<(), PrintError> {
        let encoded = encode_job(&job.text, self.choice.pick(&job.text));
        warn_replaced(&encoded);
        self.replaced = encoded.replaced;
        self.out.write_all(&encoded.bytes)?;
        self.out.flush()?;
        Ok(())
    }

    fn replaced(&self) -> Vec<char> {
        self.replaced.clone()
    }
}

fn warn_replaced(job: &EscPosJob) {
    if !job.replaced.is_empty() {
        let chars: String = job.replaced.iter().collect();
        tracing::warn!(
            code_page = job.code_page.name(),
            replaced = %chars,
            "printer code page lacks characters; printed replacements"
        );
    }
}

/// The raw TCP port of network receipt printers ("JetDirect" / AppSocket).
pub const DEFAULT_PORT: u16 = 9100;

/// ESC/POS to a network printer over raw TCP (port 9100). Connects for each job, so a printer
/// that was off or out of paper works again for the next job or a reprint.
pub struct NetworkPrinter {
    addr: String,
    timeout: Duration,
    choice: CodePageChoice,
    replaced: Vec<char>,
}

impl NetworkPrinter {
    /// A printer at `addr` (`host` or `host:port`; port 9100 when absent). `timeout` bounds the
    /// connection and each write.
    pub fn new(addr: &str, timeout: Duration, choice: CodePageChoice) -> Self {
        let addr = if addr.rsplit_once(':').is_some_and(|(h, p)| {
            !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
        }) {
            addr.to_owned()
        } else {
            format!("{addr}:{DEFAULT_PORT}")
        };
        NetworkPrinter {
            addr,
            timeout,
            choice,
            replaced: Vec::new(),
        }
    }

    /// The `host:port` jobs go to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn resolve(&self) -> Result<Vec<SocketAddr>, PrintError> {
        let addrs: Vec<SocketAddr> = self.addr.to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(PrintError::Device(format!(
                "{} does not resolve",
                self.addr
            )));
        }
        Ok(addrs)
    }
}

impl Printer for NetworkPrinter {
    fn print(&mut self, job: &PrintJob) -> Result<(), PrintError> {
        let encoded = encode_job(&job.text, self.choice.pick(&job.text));
        warn_replaced(&encoded);
        self.replaced = encoded.replaced.clone();
        let mut last_err = None;
        for addr in self.resolve()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(mut stream) => {
                    stream.set_write_timeout(Some(self.timeout))?;
                    stream.write_all(&encoded.bytes)?;
                    stream.flush()?;
                    stream.shutdown(std::net::Shutdown::Write)?;
                    return Ok(());
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.map_or_else(
            || PrintError::Device(format!("cannot connect to {}", self.addr)),
            PrintError::Io,
        ))
    }

    fn replaced(&self) -> Vec<char> {
        self.replaced.clone()
    }
}

/// One ESC/POS command or run of text, as [`decode`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// `ESC @`
    Initialize,
    /// `ESC t n`
    SelectCodePage(u8),
    /// `ESC E n`: bold on (`n` odd) or off.
    Bold(bool),
    /// `ESC d n`: print and feed `n` lines.
    Feed(u8),
    /// `GS V m [n]`: cut. `partial` for m = 1, 49, 66; `feed` is the `n` of m = 65/66.
    Cut {
        /// Partial (one point left) rather than full cut.
        partial: bool,
        /// Extra feed before the cut (function B only).
        feed: Option<u8>,
    },
    /// Printable text and LFs, decoded from the selected code page.
    Text(String),
}

/// Why bytes are not an ESC/POS job we understand.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A command cut short.
    #[error("ESC/POS: truncated command at byte {0}")]
    Truncated(usize),
    /// A command this decoder does not know.
    #[error("ESC/POS: unknown command {0:02X} {1:02X} at byte {2}")]
    UnknownCommand(u8, u8, usize),
    /// `ESC t n` with a page we have no table for.
    #[error("ESC/POS: unknown code page {0}")]
    UnknownCodePage(u8),
    /// A non-ASCII byte before any code page was selected, or a stray control byte.
    #[error("ESC/POS: byte {0:02X} at {1} is not text in the current code page")]
    BadText(u8, usize),
}

/// Decodes ESC/POS bytes into commands and text. Text is decoded with the code page the last
/// `ESC t` selected (ASCII only before one); consecutive text bytes form one [`Item::Text`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Item>, DecodeError> {
    let mut items = Vec::new();
    let mut page: Option<CodePage> = None;
    let mut i = 0;
    let arg = |at: usize| bytes.get(at).copied().ok_or(DecodeError::Truncated(at));
    while let Some(&b) = bytes.get(i) {
        match b {
            ESC => {
                let cmd = arg(i + 1)?;
                match cmd {
                    b'@' => {
                        items.push(Item::Initialize);
                        page = None;
                        i += 2;
                    }
                    b't' => {
                        let n = arg(i + 2)?;
                        page = Some(
                            CodePage::from_escpos_number(n)
                                .ok_or(DecodeError::UnknownCodePage(n))?,
                        );
                        items.push(Item::SelectCodePage(n));
                        i += 3;
                    }
                    b'E' => {
                        items.push(Item::Bold(arg(i + 2)? & 1 == 1));
                        i += 3;
                    }
                    b'd' => {
                        items.push(Item::Feed(arg(i + 2)?));
                        i += 3;
                    }
                    other => return Err(DecodeError::UnknownCommand(ESC, other, i)),
                }
            }
            GS => {
                let cmd = arg(i + 1)?;
                if cmd != b'V' {
                    return Err(DecodeError::UnknownCommand(GS, cmd, i));
                }
                let m = arg(i + 2)?;
                match m {
                    0 | 48 | 1 | 49 => {
                        items.push(Item::Cut {
                            partial: m % 48 == 1,
                            feed: None,
                        });
                        i += 3;
                    }
                    65 | 66 => {
                        items.push(Item::Cut {
                            partial: m == 66,
                            feed: Some(arg(i + 3)?),
                        });
                        i += 4;
                    }
                    _ => return Err(DecodeError::UnknownCommand(GS, b'V', i)),
                }
            }
            _ => {
                let c = if b == LF {
                    '\n'
                } else if b.is_ascii() {
                    CodePage::Cp858
                        .decode_byte(b)
                        .ok_or(DecodeError::BadText(b, i))?
                } else {
                    page.and_then(|p| p.decode_byte(b))
                        .ok_or(DecodeError::BadText(b, i))?
                };
                match items.last_mut() {
                    Some(Item::Text(t)) => t.push(c),
                    _ => items.push(Item::Text(c.to_string())),
                }
                i += 1;
            }
        }
    }
    Ok(items)
}

/// The text of decoded items, in order, and the part printed in bold.
pub fn text_of(items: &[Item]) -> (String, String) {
    let mut all = String::new();
    let mut bold_text = String::new();
    let mut bold = false;
    for item in items {
        match item {
            Item::Bold(b) => bold = *b,
            Item::Initialize => bold = false,
            Item::Text(t) => {
                all.push_str(t);
                if bold {
                    bold_text.push_str(t);
                }
            }
            _ => {}
        }
    }
    (all, bold_text)
}
