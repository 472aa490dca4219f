//! The bank simulator as a user meets it: the real `ecrlink-sim bank` process, an ISO 8583
//! client on loopback, its ledger file and its log. Rules from `--help`, the ledger kept
//! across a crash, an unwritable ledger refused, one log line per message, and the limits
//! (connection cap, frame cap, garbage, idle timeout).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ecrlink_core::bank::{
    AuthorizationRequest, AuthorizationResponse, IsoMessage, MonthDayTime, Mti, NetworkRequest,
    OriginalData, ProcessingCode, ReversalRequest, framing,
};
use ecrlink_core::txn::{Currency, Money, Pan, TerminalId};

const SIM: &str = env!("CARGO_BIN_EXE_ecrlink-sim-e2e");
const VISA: &str = "4761739001010119";

/// A bank process; its stderr goes to `dir/bank.log` (appended across restarts).
struct Bank {
    child: Child,
    addr: SocketAddr,
    ledger: PathBuf,
    log: PathBuf,
}

impl Bank {
    fn spawn(dir: &Path, args: &[&str]) -> Bank {
        match Bank::try_spawn(dir, args) {
            Ok(b) => b,
            Err((code, stderr)) => panic!("bank did not start ({code:?}): {stderr}"),
        }
    }

    /// Starts the bank with `--ledger dir/ledger.json` and `args`; `Err` with the exit status
    /// and stderr if it ends before READY.
    fn try_spawn(dir: &Path, args: &[&str]) -> Result<Bank, (Option<i32>, String)> {
        Bank::try_spawn_on(dir, &dir.join("ledger.json"), args)
    }

    /// As [`Bank::try_spawn`] with another ledger file.
    fn try_spawn_on(
        dir: &Path,
        ledger: &Path,
        args: &[&str],
    ) -> Result<Bank, (Option<i32>, String)> {
        let ledger = ledger.to_path_buf();
        let log = dir.join("bank.log");
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(SIM)
            .args(["bank", "--listen", "127.0.0.1:0", "--ledger"])
            .arg(&ledger)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addr = None;
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(l) if l == "READY" => break,
                Ok(l) => addr = l.strip_prefix("LISTEN ").and_then(|a| a.parse().ok()),
                Err(_) => {
                    let st = child.wait().ok().and_then(|s| s.code());
                    return Err((st, std::fs::read_to_string(&log).unwrap_or_default()));
                }
            }
        }
        Ok(Bank {
            child,
            addr: addr.expect("LISTEN line"),
            ledger,
            log,
        })
    }

    fn ledger(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&self.ledger).unwrap()).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (10 s at most) for `text` to appear in the log.
    fn wait_log(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log().contains(text) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn t() -> MonthDayTime {
    MonthDayTime::new(12, 7, 14, 0, 0).unwrap()
}

fn sale_with(stan: u32, minor: u64, pan: &str) -> IsoMessage {
    AuthorizationRequest {
        pan: Pan::new(pan).unwrap(),
        processing: ProcessingCode::SALE,
        amount: Money::new(minor, Currency::EUR).unwrap(),
        cashback: None,
        stan,
        transmission: Some(t()),
        local: None,
        expiry: None,
        entry: None,
        card_sequence: None,
        condition: None,
        terminal_id: TerminalId::new("TERM0001").unwrap(),
        merchant_id: None,
        emv: &[],
    }
    .to_message()
    .unwrap()
}

fn sale(stan: u32, minor: u64) -> IsoMessage {
    sale_with(stan, minor, VISA)
}

fn reversal(stan: u32, of: u32, minor: u64) -> IsoMessage {
    ReversalRequest {
        pan: None,
        processing: ProcessingCode::SALE,
        amount: Money::new(minor, Currency::EUR).unwrap(),
        stan,
        transmission: Some(t()),
        rrn: None,
        approval_code: None,
        reason: None,
        terminal_id: TerminalId::new("TERM0001").unwrap(),
        merchant_id: None,
        original: OriginalData {
            mti: Mti::FINANCIAL_REQUEST,
            stan: of,
            transmission: t(),
            acquirer: 0,
            forwarder: 0,
        },
        emv: &[],
        replacement: None,
    }
    .to_message()
    .unwrap()
}

fn echo(stan: u32) -> IsoMessage {
    NetworkRequest::echo(stan, t()).to_message().unwrap()
}

fn write(s: &mut TcpStream, m: &IsoMessage) {
    let mut buf = vec![0u8; framing::PREFIX_LEN + IsoMessage::MAX_LEN];
    let n = m.emit_prefixed(&mut buf).unwrap();
    s.write_all(&buf[..n]).unwrap();
}

/// The next message, `None` if the connection ends or nothing comes within 5 s.
fn recv(s: &mut TcpStream) -> Option<IsoMessage> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body).ok()?;
    Some(IsoMessage::parse(&body).unwrap())
}

fn send(s: &mut TcpStream, m: &IsoMessage) -> Option<IsoMessage> {
    write(s, m);
    recv(s)
}

/// Whether the bank ends the connection within 15 s.
fn closed_by_bank(s: &mut TcpStream) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                eprintln!("read error: {e:?}");
                return true;
            }
        }
    }
    false
}

fn code(m: &IsoMessage) -> String {
    m.get_str(39).unwrap_or("").to_string()
}

/// Defect (issue 15 point 10): the ledger was overwritten at start, so a reversal sent after
/// the bank restarted was answered 25 "original unknown" and the sale stayed charged in the
/// test's eyes, uncharged in the bank's.
#[test]
fn ledger_is_kept_across_a_crash_and_a_reversal_finds_its_original() {
    let dir = tempfile::tempdir().unwrap();
    let mut bank = Bank::spawn(dir.path(), &[]);
    let mut s = bank.connect();
    assert_eq!(code(&send(&mut s, &sale(1, 1250)).unwrap()), "00");
    bank.kill9();

    let bank = Bank::spawn(dir.path(), &[]);
    assert_eq!(bank.ledger()["auths"].as_array().unwrap().len(), 1);
    let mut s = bank.connect();
    let r = send(&mut s, &reversal(2, 1, 1250)).unwrap();
    assert_eq!(code(&r), "00", "the original is known after the restart");
    let l = bank.ledger();
    assert_eq!(l["auths"][0]["state"], "reversed", "{l:#}");
    assert_eq!(l["unmatched_reversals"], 0);
    assert_eq!(l["starts"], 2);
}

/// Defect (issue 15 point 10): an unwritable `--ledger` was accepted and READY printed;
/// nothing was ever written.
#[test]
fn an_unwritable_or_foreign_ledger_is_refused_before_ready() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/ledger.json");
    let (code, stderr) = match Bank::try_spawn_on(dir.path(), &missing, &[]) {
        Ok(_) => panic!("READY printed with an unwritable ledger"),
        Err(e) => e,
    };
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no-such-dir/ledger.json") && stderr.contains("cannot write"),
        "{stderr}"
    );

    // A file that is not a ledger is neither used nor overwritten.
    std::fs::write(dir.path().join("ledger.json"), "totals: 12\n").unwrap();
    let (code, stderr) = match Bank::try_spawn(dir.path(), &[]) {
        Ok(_) => panic!("READY printed with a foreign ledger file"),
        Err(e) => e,
    };
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a bank-simulator ledger"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ledger.json")).unwrap(),
        "totals: 12\n"
    );
}

/// Defect (issue 15 point 10): the simulator printed nothing per message.
#[test]
fn one_log_line_per_message_with_the_card_number_masked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.toml"),
        "[[rule]]\namount = 999\ndecline = \"05\"\n", // the older spelling of code
    )
    .unwrap();
    let rules = dir.path().join("rules.toml");
    let bank = Bank::spawn(dir.path(), &["--rules", rules.to_str().unwrap()]);
    let mut s = bank.connect();
    send(&mut s, &echo(1)).unwrap();
    send(&mut s, &sale(2, 1250)).unwrap();
    send(&mut s, &sale(3, 999)).unwrap();
    send(&mut s, &reversal(4, 2, 1250)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bank.log().matches(" out ").count() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = bank.log();
    for want in [
        " in  0800 stan 000001 network 301",
        " out 0810 stan 000001 network 301 code 00",
        " in  0200 stan 000002 sale 12.50 EUR pan 476173******0119",
        " out 0210 stan 000002 sale 12.50 EUR code 00 approval A00001",
        " in  0200 stan 000003 sale 9.99 EUR pan 476173******0119",
        " out 0210 stan 000003 sale 9.99 EUR code 05 [rule #1]",
        " in  0400 stan 000004 sale 12.50 EUR original stan 000002",
        " out 0410 stan 000004 sale 12.50 EUR code 00",
    ] {
        assert!(log.contains(want), "no {want:?} in\n{log}");
    }
    assert_eq!(log.matches(" in  ").count(), 4, "{log}");
    assert!(!log.contains(VISA), "full card number in the log:\n{log}");
}

/// Defect (issue 19 point 5): the bank accepted any number of connections. The default cap
/// is 32; `--max-connections` changes it.
#[test]
fn connections_above_the_cap_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::spawn(dir.path(), &[]);
    let mut open: Vec<TcpStream> = (0..32).map(|_| bank.connect()).collect();
    for (i, s) in open.iter_mut().enumerate() {
        assert!(send(s, &echo(i as u32)).is_some(), "connection {i} served");
    }
    let mut extra = bank.connect();
    assert!(closed_by_bank(&mut extra), "the 33rd connection is closed");
    assert!(send(&mut open[0], &echo(99)).is_some());
    assert!(
        bank.wait_log("refused: 32 connections open"),
        "{}",
        bank.log()
    );
    drop(open);

    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::spawn(dir.path(), &["--max-connections", "1"]);
    let mut a = bank.connect();
    assert!(send(&mut a, &echo(1)).is_some());
    let mut b = bank.connect();
    assert!(closed_by_bank(&mut b));
}

/// Defect (issue 19 point 5): a length prefix above any message was skipped byte by byte
/// and the connection kept: a client could stream garbage forever.
#[test]
fn a_frame_above_1024_bytes_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::spawn(dir.path(), &[]);
    let mut s = bank.connect();
    s.write_all(&1025u16.to_be_bytes()).unwrap();
    let _ = s.write_all(&[b'0'; 100]);
    assert!(closed_by_bank(&mut s));
    assert!(bank.wait_log("1024-byte cap"), "{}", bank.log());
    let mut s = bank.connect();
    assert!(send(&mut s, &echo(1)).is_some(), "others unaffected");
}

/// Defect (issue 19 point 5): unparseable messages were ignored and the connection kept.
#[test]
fn garbage_is_logged_and_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::spawn(dir.path(), &[]);
    let mut s = bank.connect();
    s.write_all(b"\x00\x0cnot iso 8583").unwrap();
    assert!(closed_by_bank(&mut s));
    assert!(bank.wait_log("garbage (12 bytes"), "{}", bank.log());
    assert_eq!(bank.ledger()["messages"], 0);
}

/// Defect (issue 19 point 5): a connection that said nothing was kept forever.
#[test]
fn an_idle_connection_is_closed_after_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::spawn(dir.path(), &["--idle-timeout", "500ms"]);
    let mut s = bank.connect();
    assert!(send(&mut s, &echo(1)).is_some());
    let t0 = Instant::now();
    assert!(closed_by_bank(&mut s));
    let took = t0.elapsed();
    assert!(
        bank.wait_log("idle for 0.5 s"),
        "closed after {took:?}: {}",
        bank.log()
    );
}

/// The rules example printed by `--help` is a working rules file: copied from the help into a
/// file, the bank does what its comments say.
#[test]
fn the_rules_example_in_help_works() {
    let out = Command::new(SIM).args(["bank", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let example = help
        .split("Example:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nOUTPUT").next())
        .unwrap_or_else(|| panic!("no example in --help:\n{help}"));
    assert!(help.contains("--max-connections") && help.contains("--idle-timeout"));
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, example).unwrap();
    let bank = Bank::spawn(dir.path(), &["--rules", rules.to_str().unwrap()]);
    let mut s = bank.connect();
    // The 3rd authorization: 91.
    let codes: Vec<String> = (1..=3)
        .map(|i| code(&send(&mut s, &sale(i, 500)).unwrap()))
        .collect();
    assert_eq!(codes, ["00", "00", "91"]);
    // BIN 541333: approved without field 38.
    let r = send(&mut s, &sale_with(4, 500, "5413330089020011")).unwrap();
    assert_eq!(code(&r), "00");
    assert!(!r.has(38));
    // 250.00: partially approved for 100.00.
    let r = send(&mut s, &sale(5, 25_000)).unwrap();
    let a = AuthorizationResponse::from_message(&r).unwrap();
    assert_eq!(
        (a.response_code.as_str(), a.amount.unwrap().minor()),
        ("10", 10_000)
    );
    // The first reversal: 91, not done; the second: 00.
    assert_eq!(code(&send(&mut s, &reversal(6, 1, 500)).unwrap()), "91");
    assert_eq!(code(&send(&mut s, &reversal(7, 1, 500)).unwrap()), "00");
    // 42.42: late and twice.
    let started = Instant::now();
    let first = send(&mut s, &sale(8, 4242)).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(2900));
    assert_eq!(recv(&mut s).unwrap(), first, "the same answer twice");
    let l = bank.ledger();
    let auths = l["auths"].as_array().unwrap();
    assert_eq!(auths[0]["state"], "reversed");
    assert_eq!(auths[0]["reversal_codes"], serde_json::json!(["91", "00"]));
    assert_eq!(auths[2]["state"], "declined");
    assert_eq!(auths[3]["approval"], serde_json::Value::Null);
    assert_eq!(auths[4]["approved_amount"], 10_000);
    assert_eq!(auths[5]["reply_fault"], "late 3000 ms, twice");
}

/// Cut, another trace number and close-after through the binary; the bank still acts.
#[test]
fn cut_other_stan_and_close_after_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\namount = 100\ncut = 5\n\
         [[rule]]\namount = 200\nstan_offset = 1\nclose_after = true\n",
    )
    .unwrap();
    let bank = Bank::spawn(dir.path(), &["--rules", rules.to_str().unwrap()]);
    let mut s = bank.connect();
    write(&mut s, &sale(1, 100));
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), 2 + 5);
    assert!(usize::from(u16::from_be_bytes([got[0], got[1]])) > 5);
    let mut s = bank.connect();
    let r = send(&mut s, &sale(2, 200)).unwrap();
    assert_eq!(r.get_str(11), Some("000003"));
    assert!(closed_by_bank(&mut s));
    let l = bank.ledger();
    assert_eq!(l["auths"][0]["state"], "approved");
    assert_eq!(l["auths"][1]["state"], "approved");
}

#[test]
fn bad_options_and_rules_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[[rule]]\npartial = 5\nmti = \"0400\"\n").unwrap();
    for (args, says) in [
        (
            vec!["--rules", rules.to_str().unwrap()],
            "rule #1: partial applies to 0200 only",
        ),
        (vec!["--max-connections", "0"], "at least 1"),
        (vec!["--idle-timeout", "soon"], "duration"),
    ] {
        let out = Command::new(SIM)
            .args(["bank", "--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
