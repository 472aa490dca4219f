//! Every outcome explained, on the real binaries: a refusal's reason, the bank's and the
//! dialect's codes apart, a wrong dialect told in seconds, a connection closed mid-sale, the
//! advice each dialect allows, and what `last` reports.

mod agent_common;
mod till_common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use till_common::{Shop, silent_terminal, sim_env, till_json};

/// A terminal that reads what the till sends, then closes the connection (each connection).
fn hanging_up_terminal() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            c.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            drop(s);
        }
    });
    (addr, count)
}

#[test]
fn a_refused_reversal_says_why_on_screen_and_in_json() {
    let shop = Shop::open(None);
    let t = shop.addr("csob");
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "20", "--currency", "CZK"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    // A code that is not the last transaction's.
    let r = till_json(
        "csob",
        &t,
        &[
            "reversal",
            "--amount",
            "20",
            "--currency",
            "CZK",
            "--code",
            "NOPE42",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    assert_eq!(v["outcome"], "failed");
    assert_eq!(
        v["reason"], "the terminal has no transaction with that code and amount",
        "{v}"
    );
    assert_eq!(v["terminal_code"], "R-21");
    assert_eq!(
        v["message"],
        "Not done: the terminal has no transaction with that code and amount (ČSOB code R-21)"
    );
    // On screen, in Czech too.
    let r = sim_env(
        &[
            "reversal",
            "--amount",
            "20",
            "--currency",
            "CZK",
            "--code",
            "NOPE42",
            "--terminal",
            &t,
            "--dialect",
            "csob",
            "--lang",
            "cs",
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.starts_with(
            "Neprovedeno: terminál nemá transakci s tímto kódem a částkou (kód ČSOB R-21)\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn a_wrong_dialect_is_told_within_seconds_and_names_the_option() {
    let shop = Shop::open(None);
    // A ČSOB till on the Concert port, with the default 60 s limit.
    let r = till_json(
        "csob",
        &shop.addr("concert"),
        &["sale", "--amount", "10", "--currency", "CZK"],
        &[],
    );
    // Before: 75 s and "Unknown — check last transaction" (the helper gives up after 30 s).
    assert!(r.took < Duration::from_secs(20), "{:?}", r.took);
    let v = r.json();
    assert_eq!(v["no_answer"], "not-acknowledged", "{v}");
    let m = v["message"].as_str().unwrap();
    assert!(
        m.starts_with("The terminal did not acknowledge the ČSOB request within 2 s: does it speak ČSOB? (--dialect)"),
        "{m}"
    );
    // A Concert till on the ČSOB port: the request frame was never taken.
    let r = till_json(
        "concert",
        &shop.addr("csob"),
        &["sale", "--amount", "10", "--currency", "EUR"],
        &[],
    );
    assert!(r.took < Duration::from_secs(20), "{:?}", r.took);
    assert_eq!(r.code, 4, "{r:?}");
    let v = r.json();
    assert_eq!(v["unknown"], false);
    let m = v["message"].as_str().unwrap();
    assert!(
        m.contains("(--dialect)") && m.ends_with("nothing was done"),
        "{m}"
    );
}

#[test]
fn the_whole_wait_recovery_included_stays_within_the_timeout() {
    // A terminal that takes the connection and never says anything, with a 6 s limit: the
    // sale and the last-transaction question share those 6 s (before: 6 s + 6 s).
    let (t, connections) = silent_terminal();
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "10", "--currency", "CZK"],
        &["--timeout", "6"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "the question was asked"
    );
    assert!(r.took < Duration::from_secs(10), "{:?}", r.took);
    let v = r.json();
    assert!(v["elapsed_ms"].as_u64().unwrap() <= 6_500, "{v}");
}

#[test]
fn a_connection_closed_mid_sale_is_said_so() {
    let (t, connections) = hanging_up_terminal();
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "10", "--currency", "CZK"],
        &[],
    );
    assert_eq!(r.code, 3, "outcome unknown: {r:?}");
    let v = r.json();
    assert_eq!(v["no_answer"], "connection-closed", "{v}");
    let m = v["message"].as_str().unwrap();
    assert!(
        m.starts_with("The terminal closed the connection before answering"),
        "{m}"
    );
    assert!(!m.contains("in time"), "{m}");
    // The till asked for the last transaction on a second connection.
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[test]
fn advice_is_what_the_dialect_allows() {
    let (t, _) = silent_terminal();
    let r = till_json(
        "concert",
        &t,
        &["sale", "--amount", "10", "--currency", "EUR"],
        &["--timeout", "1"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    let m = r.json()["message"].as_str().unwrap().to_string();
    // `last --dialect concert` is a usage error: never advise it.
    assert!(
        !m.contains("check last transaction") && !m.contains("`ecrlink-sim last`"),
        "{m}"
    );
    assert!(
        m.contains("Concert cannot report the last transaction"),
        "{m}"
    );
    let (t, _) = silent_terminal();
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "10", "--currency", "CZK"],
        &["--timeout", "1"],
    );
    let m = r.json()["message"].as_str().unwrap().to_string();
    assert!(m.contains("run `ecrlink-sim last`"), "{m}");
}

#[test]
fn last_keeps_its_prefix_for_every_outcome_and_says_what_it_can() {
    let shop = Shop::open(None);
    let t = shop.addr("csob");
    // Nothing yet: said so, not "the terminal has no transaction with that code and amount".
    let r = till_json("csob", &t, &["last"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    assert_eq!(
        v["message"],
        "Last transaction: none, the terminal has made no transaction yet"
    );
    assert!(v["last_kind"].is_null(), "{v}");
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "7.51", "--currency", "CZK"],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let r = till_json("csob", &t, &["last"], &[]);
    // The exit status is the last transaction's outcome.
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    assert_eq!(
        v["message"],
        "Last transaction: sale 7.51 CZK — declined: insufficient funds (bank code 51, ČSOB code R-12)"
    );
    assert_eq!(v["last_kind"], "sale", "{v}");
    let r = till_json(
        "csob",
        &t,
        &[
            "cashback",
            "--amount",
            "30",
            "--cashback",
            "10",
            "--currency",
            "CZK",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let code = r.json()["approval_code"].as_str().unwrap().to_string();
    let r = till_json("csob", &t, &["last"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["last_kind"], "cashback", "{v}");
    assert_eq!(
        v["message"],
        "Last transaction: sale with cashback 30.00 CZK — approved"
    );
    let r = till_json(
        "csob",
        &t,
        &[
            "reversal",
            "--amount",
            "30",
            "--currency",
            "CZK",
            "--code",
            &code,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = till_json("csob", &t, &["last"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["last_kind"], "reversal", "{v}");
    assert_eq!(
        v["message"],
        "Last transaction: reversal 30.00 CZK — approved"
    );
}

/// Issue 15 point 7: `last` says what the last transaction was (before: a refund read
/// "Last transaction: approved", like a sale), on screen and in `--json`, in the till's
/// language.
#[test]
fn last_names_a_refund_on_screen_in_json_and_in_czech() {
    let shop = Shop::open(None);
    let t = shop.addr("csob");
    let r = till_json(
        "csob",
        &t,
        &["refund", "--amount", "12", "--currency", "CZK"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = till_json("csob", &t, &["last"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(
        v["message"],
        "Last transaction: refund 12.00 CZK — approved"
    );
    assert_eq!(v["last_kind"], "refund", "{v}");
    assert_eq!(v["command"], "last", "{v}");
    let r = till_common::sim(&["last", "--terminal", &t, "--dialect", "csob"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout.lines().next(),
        Some("Last transaction: refund 12.00 CZK — approved"),
        "{}",
        r.stdout
    );
    let r = till_json("csob", &t, &["last"], &["--lang", "cs"]);
    assert_eq!(
        r.json()["message"],
        "Poslední transakce: vrácení platby 12.00 CZK — schválena"
    );
    // `last --help` says what it prints and what its exit status means.
    let r = till_common::sim(&["last", "--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    let help = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("Last transaction: refund 12.00 CZK — approved")
            && help.contains("The exit status is that transaction's outcome"),
        "{help}"
    );
}

/// A ČSOB terminal of another make: it answers every request with a B0 and then a B2 of
/// `fields` (no ecrlink `K` field), in one write, and reads the till's confirmation.
fn plain_csob_terminal(fields: &'static [&'static str]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let frame = |ty: &str, data: &[u8]| {
        let mut f = vec![0x02];
        // Type, version 01, terminal id, YYMMddHHmmss, flags, data length, CRC field.
        let header = format!(
            "{ty}01{}{}0000{:04X}A5A5",
            "12345678",
            "261207120000",
            data.len()
        );
        f.extend_from_slice(header.as_bytes());
        f.extend_from_slice(data);
        f.push(0x03);
        f
    };
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.contains(&0x03) {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let data: Vec<u8> = fields
                .iter()
                .flat_map(|f| std::iter::once(0x1c).chain(f.bytes()))
                .collect();
            let mut out = frame("B0", b"");
            out.extend(frame("B2", &data));
            let _ = std::io::Write::write_all(&mut s, &out);
            let _ = s.read(&mut buf);
        }
    });
    addr
}

/// A terminal that does not say what its last transaction was: the till says so, honestly,
/// and still gives the amount and the outcome behind the prefix.
#[test]
fn last_from_a_terminal_that_does_not_report_the_kind_says_so() {
    let t = plain_csob_terminal(&["T82", "R000", "F123456", "B1200", "E203"]);
    let r = till_json("csob", &t, &["last"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(
        v["message"],
        "Last transaction: 12.00 CZK (kind not reported by the terminal) — approved"
    );
    assert!(v["last_kind"].is_null(), "{v}");
    // A terminal busy with another request refuses the question, not the last transaction.
    let t = plain_csob_terminal(&["T82", "R-02"]);
    let r = till_json("csob", &t, &["last"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.json()["message"],
        "Last transaction: not known now: the terminal is busy (ČSOB code R-02)"
    );
    let t = plain_csob_terminal(&["T82", "R-12", "B751", "E203"]);
    let r = till_json("csob", &t, &["last"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let m = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        m.starts_with("Last transaction: 7.51 CZK (kind not reported by the terminal) — declined"),
        "{m}"
    );
}

/// Issue 15 point 13: over ČSOB the answer carries how the card was read and the trace
/// number (before: both null in `--json` though the receipt prints them), for a sale and
/// for `last`; they are the receipt's.
#[test]
fn csob_json_has_the_entry_mode_and_trace_the_receipt_prints() {
    let shop = Shop::open(None);
    let t = shop.addr("csob");
    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "12.50", "--currency", "CZK"],
        &["--receipt"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["entry_mode"], "chip", "{v}");
    let trace = v["trace"]
        .as_u64()
        .unwrap_or_else(|| panic!("no trace: {v}"));
    let receipt: String = v["receipt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let printed = receipt
        .lines()
        .find(|l| l.starts_with("Trace no."))
        .unwrap_or_else(|| panic!("{receipt}"));
    assert!(
        printed.ends_with(&format!("{trace:06}")),
        "{printed} vs {trace}"
    );
    assert!(
        receipt.contains("Entry mode") && receipt.contains("chip"),
        "{receipt}"
    );
    let r = till_json("csob", &t, &["last"], &[]);
    let v = r.json();
    assert_eq!(v["entry_mode"], "chip", "{v}");
    assert_eq!(v["trace"].as_u64(), Some(trace), "{v}");
    // On screen too: the card line names the entry mode, a line the trace number.
    let r = till_common::sim(&["last", "--terminal", &t, "--dialect", "csob"]);
    assert!(r.stdout.contains("476173******0119 (chip)"), "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("Trace no.:")
                && l.ends_with(&format!(" {trace:06}"))),
        "{}",
        r.stdout
    );
}
