//! A ČSOB till that behaves like the only public ČSOB client, the Android code in
//! `l1zard/react-native-enigoo-terminal` (`android/src/main/java/com/enigoo/terminal/csob/`).
//! Written here from what that client does on the wire — not a port of its code — so that the
//! agent is tested against the behaviour a real till has, quirks included:
//!
//! - **one connection**, opened once (3 s connect limit) and kept for every request;
//! - **fields as it writes them**: flags `8000` on every B1 and B3, `0000` on its B0; amounts
//!   as `%.2f` without the point (always at least three digits: `B005`); a reference of 10–20
//!   characters inside the `9` group (`FS 9 GS S…`), a shorter one as a plain `FS S…` field;
//!   `E203`; a reversal `T10 F…` with the length field fixed at `000E`; the CRC field `A5A5`;
//! - **one read, 1024 bytes**: every wait is a single `read` into a fresh 1024-byte buffer;
//!   only the `STX … ETX` frames complete in it count. A frame whose ETX is not in the buffer
//!   is empty if its STX is the first byte, and if not, the client's array copy throws (its
//!   thread dies: the app never hears an answer). A read at end of stream returns nothing, and
//!   the client reads again, forever;
//! - **what it waits for**: it reads until the last frame of a read is a B2 or a B4 (so a read
//!   that ends with a B0 after a B2 makes it read again); when it connects it sends a T80 and
//!   reads **once** (5 s); before a payment it sends a T80 and waits for a B2 (5 s), then the
//!   B1 and waits for the B2 (60 s), confirms each B2 and each B4 with a B0; when the B2's flag
//!   bit 1 says a receipt is ready it fetches the merchant copy (`9 GS tM`) and the customer
//!   copy (`tC`), each part with a B3 and the next ones with `t-` while a B4 ends with `t1`;
//!   each B4 wait is 5 s; a timeout or an I/O error is reported as a lost transaction;
//! - **how it reads a frame**: cut at every FS, GS and ETX; the first piece is the header (flags
//!   at characters 24–28), `R…` the result (the last one wins), `T…` the transaction code,
//!   `S…` the reference, `F…` the approval code, receipt lines are pieces starting `T0`…`T3`
//!   (two characters and leading blanks dropped), ISO-8859-2 text. It reads an amount by
//!   cutting its last two digits off as the minor part (`getPrice`), which throws on fewer than
//!   three digits; it does that when it compares a B2 with the T82 answer, and this client does
//!   it for every B2 that carries an amount, so that every answer's amount is checked the way
//!   the public reader reads it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ecrlink_core::dialect::csob::text::{decode_byte, encode_char};

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const FS: u8 = 0x1C;
const GS: u8 = 0x1D;

/// Bytes the public client takes in one read.
pub const READ_SIZE: usize = 1024;

/// Why the public client would not give the app an answer.
#[derive(Debug)]
pub enum ClientError {
    /// Its reader threw (its thread dies; the app waits for ever).
    Crash(String),
    /// It would never return: it reads again and again at the end of the stream.
    Hang(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Crash(s) => write!(f, "public client crashed: {s}"),
            ClientError::Hang(s) => write!(f, "public client hangs: {s}"),
        }
    }
}

/// What a wait ended with, inside the client.
enum Wait {
    /// A frame that ends the wait (a B2 or a B4), or the last done one of the read.
    Done(Reply),
    /// Socket timeout or I/O error: the client reports the transaction lost.
    Lost,
}

/// One frame as the public client splits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The pieces: the header first, then every field and sub-field.
    pub blocks: Vec<String>,
}

impl Reply {
    fn parse(frame: &[u8]) -> Reply {
        // Cut at FS, GS and ETX; each piece starts after the previous cut (after STX first).
        let mut blocks = Vec::new();
        let mut last = 0usize;
        for (j, &b) in frame.iter().enumerate() {
            if b == FS || b == GS || b == ETX {
                let piece = frame.get(last + 1..j).unwrap_or_default();
                blocks.push(piece.iter().map(|&b| decode_byte(b)).collect());
                last = j;
            }
        }
        Reply { blocks }
    }

    /// `B0` … `B4`, or empty for a frame the client could not use.
    pub fn message_type(&self) -> &str {
        self.blocks
            .first()
            .and_then(|h| h.get(..2))
            .unwrap_or_default()
    }

    /// Whether this frame ends a wait (B2, B4).
    pub fn is_done(&self) -> bool {
        matches!(self.message_type(), "B2" | "B4")
    }

    /// Header flags (hex characters 24–28), 0 if absent.
    pub fn flags(&self) -> u16 {
        self.blocks
            .first()
            .and_then(|h| h.get(24..28))
            .and_then(|f| u16::from_str_radix(f, 16).ok())
            .unwrap_or(0)
    }

    /// Flag bit 1: a receipt is ready.
    pub fn wants_ticket(&self) -> bool {
        self.flags() & 0x0002 != 0
    }

    /// Flag bit 15: the till must check the answer with a T82.
    pub fn forced_confirm(&self) -> bool {
        self.flags() & 0x8000 != 0
    }

    fn field(&self, tag: char) -> Option<&str> {
        self.blocks.iter().skip(1).find_map(|b| b.strip_prefix(tag))
    }

    /// The result after `R` (the last `R…` piece wins, as in the public client).
    pub fn result(&self) -> Option<&str> {
        self.blocks.iter().rev().find_map(|b| b.strip_prefix('R'))
    }

    /// The transaction code (`T00`…) of a B2.
    pub fn transaction(&self) -> Option<&str> {
        self.blocks
            .iter()
            .skip(1)
            .find(|b| b.starts_with('T') && b.len() == 3)
            .map(String::as_str)
    }

    /// The reference (`S…` piece), empty if none.
    pub fn order_id(&self) -> &str {
        self.field('S').unwrap_or_default()
    }

    /// The approval code (`F…` piece), empty if none.
    pub fn approval_code(&self) -> &str {
        self.field('F').unwrap_or_default()
    }

    /// The amount as the public reader reads it: the first `B…` piece after the header, its
    /// last two digits the minor part ("12.50"); `Ok(None)` when there is none. Fewer than
    /// three digits: the reader throws.
    pub fn price(&self) -> Result<Option<String>, ClientError> {
        let Some(digits) = self.field('B') else {
            return Ok(None);
        };
        if digits.len() < 3 {
            // `substring(0, length - 2)` of a 0- or 1-character string, then "." and the rest:
            // "B5" throws; "B05" would read as ".05", not an amount either.
            return Err(ClientError::Crash(format!(
                "amount field B{digits}: fewer than three digits (StringIndexOutOfBounds)"
            )));
        }
        let (units, minor) = digits.split_at(digits.len() - 2);
        Ok(Some(format!("{units}.{minor}")))
    }

    /// Receipt lines of a B4: pieces starting `T0`…`T3`, those two characters and leading
    /// blanks dropped.
    pub fn receipt_lines(&self) -> Vec<String> {
        self.blocks
            .iter()
            .filter(|b| ["T0", "T1", "T2", "T3"].iter().any(|p| b.starts_with(p)))
            .map(|b| b.get(2..).unwrap_or_default().trim_start().to_string())
            .collect()
    }

    /// Whether another receipt part follows (the last piece is `t1`).
    pub fn wants_next(&self) -> bool {
        self.blocks.last().is_some_and(|b| b == "t1")
    }

    /// Whether `compare` of the public client holds: same result, reference and amount.
    pub fn compare(&self, other: &Reply) -> Result<bool, ClientError> {
        Ok(self.result() == other.result()
            && self.order_id() == other.order_id()
            && self.price()? == other.price()?)
    }
}

/// What the public client hands to the app after a request.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `SUCCESS`, `CANCEL`, `CARD_ERROR`, …, `LOST` (no answer), `DEFAULT_ERROR` (another code).
    pub status: &'static str,
    /// The B2 that answered, if one came.
    pub response: Option<Reply>,
    /// Its amount as the public reader reads it.
    pub price: Option<String>,
    /// Merchant copy, one line per entry.
    pub merchant_receipt: Vec<String>,
    /// Customer copy.
    pub customer_receipt: Vec<String>,
}

fn status_of(code: Option<&str>) -> &'static str {
    match code {
        None => "DEFAULT_ERROR",
        Some("000") => "SUCCESS",
        Some("-01") => "CANCEL",
        Some("-09") => "CARD_ERROR",
        Some("-10") => "CARD_EXPIRED",
        Some("-11") => "CARD_YOUNG",
        Some("-12") => "CARD_NO_ENOUGH_MONEY",
        Some("-18") => "TIMEOUT",
        Some("-29") => "CARD_BLOCKED",
        Some("-02") => "MERCH_ERR_CANTDOIT",
        Some(_) => "DEFAULT_ERROR",
    }
}

fn lost() -> Outcome {
    Outcome {
        status: "LOST",
        response: None,
        price: None,
        merchant_receipt: Vec::new(),
        customer_receipt: Vec::new(),
    }
}

/// Header time `yyMMddHHmmss` of the current UTC second.
fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, sod) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{:02}{m:02}{d:02}{:02}{:02}{:02}",
        y % 100,
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

fn header(device_id: &str, ty: &str, flags: &str, length: &str) -> String {
    format!("{ty}01{device_id}{}{flags}{length}A5A5", timestamp())
}

/// The B1 of a request without fields (`T80`, `T81`, `T82`, …) as the public client writes it
/// for terminal `device_id`.
pub fn simple_request(device_id: &str, code: &str) -> Vec<u8> {
    let items = [code.to_string()];
    let h = header(device_id, "B1", "8000", &PublicCsobClient::length(&items));
    PublicCsobClient::frame(&h, &items)
}

/// The confirming B0 as the public client writes it.
pub fn confirm(device_id: &str) -> Vec<u8> {
    PublicCsobClient::frame(&header(device_id, "B0", "0000", "0000"), &[])
}

/// The frames complete in one read of the public client (see the module docs).
pub fn frames_in_read(buf: &[u8]) -> Result<Vec<Reply>, ClientError> {
    PublicCsobClient::frames(buf)
}

/// The public ČSOB client's behaviour over one kept connection.
pub struct PublicCsobClient {
    stream: TcpStream,
    device_id: String,
    /// Every frame sent, in order.
    pub sent: Vec<Vec<u8>>,
    /// What each single read returned (the bytes read, not the whole buffer).
    pub reads: Vec<Vec<u8>>,
}

impl PublicCsobClient {
    /// Connects (3 s limit) to a terminal whose id is `device_id` (8 characters).
    pub fn connect(addr: SocketAddr, device_id: &str) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        Ok(PublicCsobClient {
            stream,
            device_id: device_id.to_string(),
            sent: Vec::new(),
            reads: Vec::new(),
        })
    }

    fn header(&self, ty: &str, flags: &str, length: &str) -> String {
        header(&self.device_id, ty, flags, length)
    }

    /// The data length as the client computes it: one per field, its characters, one more
    /// for the GS of a `9S` item.
    fn length(items: &[String]) -> String {
        let n: usize = items.len()
            + items.iter().map(String::len).sum::<usize>()
            + items.iter().filter(|s| s.starts_with("9S")).count();
        format!("{n:04X}")
    }

    fn frame(header: &str, items: &[String]) -> Vec<u8> {
        let mut f = vec![STX];
        f.extend_from_slice(header.as_bytes());
        for item in items {
            f.push(FS);
            if let Some(rest) = item.strip_prefix('9').filter(|r| r.starts_with('S')) {
                f.push(b'9');
                f.push(GS);
                f.extend(rest.chars().map(|c| encode_char(c).unwrap_or(b'?')));
            } else {
                f.extend(item.chars().map(|c| encode_char(c).unwrap_or(b'?')));
            }
        }
        f.push(ETX);
        f
    }

    /// A B1 of `code` with `items` after it, flags 8000.
    fn request(&self, items: &[String]) -> Vec<u8> {
        let h = self.header("B1", "8000", &Self::length(items));
        Self::frame(&h, items)
    }

    /// The B1 of a sale (`T00`) or refund (`T04`) of `minor` CZK with `order_id`.
    pub fn amount_request(&self, code: &str, minor: u64, order_id: &str) -> Vec<u8> {
        let mut items = vec![
            code.to_string(),
            format!("B{}{:02}", minor / 100, minor % 100),
        ];
        match order_id.len() {
            10..=20 => items.push(format!("9S{order_id}")),
            1..=9 => items.push(format!("S{order_id}")),
            _ => {}
        }
        items.push("E203".into());
        self.request(&items)
    }

    /// The B1 of a request without fields (`T80`, `T81`, `T82`, …).
    pub fn simple_request(&self, code: &str) -> Vec<u8> {
        simple_request(&self.device_id, code)
    }

    /// The confirming B0.
    pub fn confirm(&self) -> Vec<u8> {
        confirm(&self.device_id)
    }

    /// The B3 asking for `selector` (`tM`, `tC`, `t-`).
    pub fn ticket_request(&self, selector: &str) -> Vec<u8> {
        let items = ["9".to_string(), selector.to_string()];
        let h = self.header("B3", "8000", &Self::length(&items));
        let mut f = vec![STX];
        f.extend_from_slice(h.as_bytes());
        f.extend_from_slice(&[FS, b'9', GS]);
        f.extend_from_slice(selector.as_bytes());
        f.push(ETX);
        f
    }

    /// The client's end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Writes a frame (an I/O error: the client reports the transaction lost).
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.sent.push(frame.to_vec());
        self.stream.write_all(frame)?;
        self.stream.flush()
    }

    /// One read into a fresh 1024-byte buffer with `timeout` (`None`: keep the last one).
    /// `Ok(None)`: timeout or I/O error.
    fn read_once(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<[u8; READ_SIZE]>, ClientError> {
        if let Some(t) = timeout {
            let _ = self.stream.set_read_timeout(Some(t));
        }
        let mut buf = [0u8; READ_SIZE];
        match self.stream.read(&mut buf) {
            Ok(0) => Err(ClientError::Hang(
                "the terminal closed the connection; the client reads at end of stream for ever"
                    .into(),
            )),
            Ok(n) => {
                self.reads.push(buf[..n].to_vec());
                Ok(Some(buf))
            }
            Err(_) => Ok(None),
        }
    }

    /// The frames of a read as the client cuts them: from each STX to the next ETX.
    fn frames(buf: &[u8]) -> Result<Vec<Reply>, ClientError> {
        let mut out = Vec::new();
        let mut j = 0;
        while j < buf.len() {
            if buf[j] == STX {
                match buf[j..].iter().position(|&b| b == ETX) {
                    Some(k) => {
                        out.push(Reply::parse(&buf[j..=j + k]));
                        j += k;
                    }
                    None if j == 0 => {
                        // An array of length 0: a frame with nothing in it.
                        out.push(Reply { blocks: Vec::new() });
                        j = buf.len();
                    }
                    None => {
                        return Err(ClientError::Crash(format!(
                            "frame at byte {j} has no ETX within the {READ_SIZE}-byte read \
                             (NegativeArraySizeException)"
                        )));
                    }
                }
            }
            j += 1;
        }
        Ok(out)
    }

    /// Reads until the last frame of a read ends the wait (`waitForResponse`).
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Wait, ClientError> {
        let mut done: Option<Reply> = None;
        loop {
            let Some(buf) = self.read_once(timeout)? else {
                return Ok(Wait::Lost);
            };
            let replies = Self::frames(&buf)?;
            let mut is_done = false;
            for r in replies {
                is_done = r.is_done();
                if is_done {
                    done = Some(r);
                }
            }
            if is_done {
                if let Some(r) = done {
                    return Ok(Wait::Done(r));
                }
            }
        }
    }

    /// Reads as the client's `waitForResponse` does, until a read ends with a B2 or B4 (its
    /// answer) or `timeout` passes with nothing read (`Ok(None)`).
    pub fn wait_answer(&mut self, timeout: Duration) -> Result<Option<Reply>, ClientError> {
        Ok(match self.wait(Some(timeout))? {
            Wait::Done(r) => Some(r),
            Wait::Lost => None,
        })
    }

    /// What the client does when the app connects (`SocketConnection.init`): a T80, one
    /// single read (5 s), a B0. Returns the frames that read held.
    pub fn init(&mut self) -> Result<Vec<Reply>, ClientError> {
        let t80 = self.simple_request("T80");
        if self.send(&t80).is_err() {
            return Ok(Vec::new());
        }
        let Some(buf) = self.read_once(Some(Duration::from_secs(5)))? else {
            return Ok(Vec::new());
        };
        let replies = Self::frames(&buf)?;
        let b0 = self.confirm();
        let _ = self.send(&b0);
        Ok(replies)
    }

    /// A payment (`T00`) of `minor` CZK, as the app's PAYMENT runs it: T80 check, B1, B2,
    /// receipts.
    pub fn payment(&mut self, minor: u64, order_id: &str) -> Result<Outcome, ClientError> {
        let b1 = self.amount_request("T00", minor, order_id);
        self.run_amount_request(b1)
    }

    /// A refund (`T04`) of `minor` CZK, run as a payment is.
    pub fn refund(&mut self, minor: u64, order_id: &str) -> Result<Outcome, ClientError> {
        let b1 = self.amount_request("T04", minor, order_id);
        self.run_amount_request(b1)
    }

    /// A reversal (`T10 F<approval code>`, the length field fixed at `000E` as the public
    /// client writes it), run as a payment is.
    pub fn reversal(&mut self, approval_code: &str) -> Result<Outcome, ClientError> {
        let items = ["T10".to_string(), format!("F{approval_code}")];
        let b1 = Self::frame(&self.header("B1", "8000", "000E"), &items);
        self.run_amount_request(b1)
    }

    fn run_amount_request(&mut self, b1: Vec<u8>) -> Result<Outcome, ClientError> {
        // 1. The connection check: T80, wait for a B2 (5 s), confirm.
        let t80 = self.simple_request("T80");
        if self.send(&t80).is_err() {
            return Ok(lost());
        }
        let check = match self.wait(Some(Duration::from_secs(5)))? {
            Wait::Done(r) => r,
            Wait::Lost => return Ok(lost()),
        };
        let b0 = self.confirm();
        if self.send(&b0).is_err() {
            return Ok(lost());
        }
        if check.result() != Some("000") {
            return Ok(Outcome {
                status: status_of(check.result()),
                response: Some(check),
                price: None,
                merchant_receipt: Vec::new(),
                customer_receipt: Vec::new(),
            });
        }
        // 2. The request, its B2 (60 s), the confirmation.
        if self.send(&b1).is_err() {
            return Ok(lost());
        }
        let response = match self.wait(Some(Duration::from_secs(60)))? {
            Wait::Done(r) => r,
            Wait::Lost => return Ok(lost()),
        };
        let b0 = self.confirm();
        if self.send(&b0).is_err() {
            return Ok(lost());
        }
        let mut response = response;
        if matches!(response.transaction(), Some("T00" | "T04")) && response.forced_confirm() {
            let t82 = self.simple_request("T82");
            if self.send(&t82).is_err() {
                return Ok(lost());
            }
            let last = match self.wait(Some(Duration::from_secs(5)))? {
                Wait::Done(r) => r,
                Wait::Lost => return Ok(lost()),
            };
            let b0 = self.confirm();
            let _ = self.send(&b0);
            if !last.compare(&response)? {
                response = last;
            }
        }
        let price = response.price()?;
        // 3. The receipts, when the B2 says one is ready.
        let (mut merchant, mut customer) = (Vec::new(), Vec::new());
        if response.wants_ticket() {
            match self.ticket("tM")? {
                Some(lines) => merchant = lines,
                None => return Ok(lost()),
            }
            match self.ticket("tC")? {
                Some(lines) => customer = lines,
                None => return Ok(lost()),
            }
        }
        Ok(Outcome {
            status: status_of(response.result()),
            response: Some(response),
            price,
            merchant_receipt: merchant,
            customer_receipt: customer,
        })
    }

    /// One receipt copy (`getRecipes`): B3 `selector`, B4 (5 s), B0, and `t-` while a B4
    /// ends with `t1`. `Ok(None)`: a B4 did not come (the client reports the sale lost).
    pub fn ticket(&mut self, selector: &str) -> Result<Option<Vec<String>>, ClientError> {
        let mut lines = Vec::new();
        let mut req = self.ticket_request(selector);
        loop {
            if self.send(&req).is_err() {
                return Ok(None);
            }
            let part = match self.wait(Some(Duration::from_secs(5)))? {
                Wait::Done(r) => r,
                Wait::Lost => return Ok(None),
            };
            lines.extend(part.receipt_lines());
            let b0 = self.confirm();
            if self.send(&b0).is_err() {
                return Ok(None);
            }
            if !part.wants_next() {
                return Ok(Some(lines));
            }
            req = self.ticket_request("t-");
        }
    }

    /// What the client does after a lost B2 (`processTimedOutResponse`): T81, wait for its
    /// answer, T82, its answer (5 s). `Ok(None)`: no answer.
    pub fn last_transaction(&mut self) -> Result<Option<Reply>, ClientError> {
        let t81 = self.simple_request("T81");
        if self.send(&t81).is_err() {
            return Ok(None);
        }
        if let Wait::Lost = self.wait(None)? {
            return Ok(None);
        }
        let t82 = self.simple_request("T82");
        if self.send(&t82).is_err() {
            return Ok(None);
        }
        match self.wait(Some(Duration::from_secs(5)))? {
            Wait::Done(r) => Ok(Some(r)),
            Wait::Lost => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_as_the_public_client_cuts_them() {
        let b2 = b"\x02B201TERM0001240315143005000200000000A5A5\x1cT00\x1cR000\x1cB1250\x1c9\x1dS12345\x03";
        let mut buf = [0u8; READ_SIZE];
        buf[..b2.len()].copy_from_slice(b2);
        let f = PublicCsobClient::frames(&buf).unwrap();
        assert_eq!(f.len(), 1);
        let r = &f[0];
        assert_eq!(r.message_type(), "B2");
        assert!(r.is_done() && r.wants_ticket() && !r.forced_confirm());
        assert_eq!(r.result(), Some("000"));
        assert_eq!(r.transaction(), Some("T00"));
        assert_eq!(r.order_id(), "12345");
        assert_eq!(r.price().unwrap().as_deref(), Some("12.50"));
        // A frame cut by the end of the read: empty at the start of the buffer, a crash later.
        let mut cut = [0u8; READ_SIZE];
        cut[0] = STX;
        assert_eq!(
            PublicCsobClient::frames(&cut).unwrap()[0].message_type(),
            ""
        );
        cut[0] = 0;
        cut[10] = STX;
        assert!(matches!(
            PublicCsobClient::frames(&cut),
            Err(ClientError::Crash(_))
        ));
        // Two-digit amounts make the reader throw.
        let r = Reply {
            blocks: vec!["B2".into(), "B5".into()],
        };
        assert!(matches!(r.price(), Err(ClientError::Crash(_))));
    }

    #[test]
    fn requests_are_written_as_the_public_client_writes_them() {
        let (a, _l) = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            (l.local_addr().unwrap(), l)
        };
        let c = PublicCsobClient::connect(a, "TERM0001").unwrap();
        let f = c.amount_request("T00", 5, "12345");
        let s = String::from_utf8_lossy(&f[37..]).into_owned();
        assert_eq!(s, "\x1cT00\x1cB005\x1cS12345\x1cE203\x03");
        assert_eq!(&f[1..3], b"B1");
        assert_eq!(&f[25..29], b"8000");
        assert_eq!(&f[29..33], b"0015");
        let f = c.amount_request("T00", 1250, "2026000123");
        let s = String::from_utf8_lossy(&f[37..]).into_owned();
        assert_eq!(s, "\x1cT00\x1cB1250\x1c9\x1dS2026000123\x1cE203\x03");
        let t = c.ticket_request("tM");
        assert_eq!(&t[37..], b"\x1c9\x1dtM\x03");
        assert_eq!(&c.confirm()[25..37], b"00000000A5A5");
    }
}
