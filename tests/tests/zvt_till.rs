//! Our ZVT till side (`ecrlink-sim --dialect zvt`, a real process) against the real agent's
//! ZVT listener and the bank simulator: registration (before the first command), sale,
//! refund, reversal by receipt number of a payment that is not the last, end of day, status
//! enquiry, diagnosis, repeat receipt, and the refusals (wrong password, unknown or already
//! reversed receipt number). Each `ecrlink-sim` run is its own TCP connection.

mod agent_common;
mod till_common;

use agent_common::{Agent, Bank};
use till_common::{Run, till_json};

const PASSWORD: &str = "246810";

struct ZvtShop {
    bank: Bank,
    _agent: Agent,
    _dir: tempfile::TempDir,
    addr: String,
}

fn open() -> ZvtShop {
    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let bank_addr = bank.addr.to_string();
    let agent = Agent::spawn(
        &[
            "--listen",
            "zvt@127.0.0.1:0",
            "--bank",
            &bank_addr,
            "--card-delay",
            "20ms",
            "--zvt-password",
            PASSWORD,
        ],
        &dir.path().join("journal"),
    );
    let addr = agent.addr("zvt").to_string();
    ZvtShop {
        bank,
        _agent: agent,
        _dir: dir,
        addr,
    }
}

impl ZvtShop {
    fn run(&self, cmd: &[&str]) -> Run {
        till_json("zvt", &self.addr, cmd, &["--zvt-password", PASSWORD])
    }
}

#[test]
fn zvt_till_every_command_against_the_agent() {
    let shop = open();

    let r = shop.run(&["test-terminal"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = shop.run(&["test-bank"]);
    assert_eq!(r.code, 0, "{r:?}");

    let r = shop.run(&["sale", "--amount", "12.50", "--currency", "EUR"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["outcome"], "approved");
    assert_eq!(v["amount_minor"], 1250);
    assert_eq!(v["currency"], "EUR");
    assert_eq!(v["pan"], "476173******0119");
    assert_eq!(v["terminal_code"], "00");
    assert!(
        v["approval_code"].as_str().is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    let first = v["trace"].as_u64().expect("a trace number");

    let r = shop.run(&["sale", "--amount", "20.00", "--currency", "EUR"]);
    assert_eq!(r.code, 0, "{r:?}");

    let r = shop.run(&["refund", "--amount", "3.00", "--currency", "EUR"]);
    assert_eq!(r.code, 0, "{r:?}");

    // The first sale is not the last transaction: reversed by its receipt number.
    let receipt = format!("{}", first % 10_000);
    let r = shop.run(&["reversal", "--receipt-no", &receipt]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["amount_minor"], 1250);
    // Again: refused (already reversed, ZVT B4); an unknown number too (B5).
    let r = shop.run(&["reversal", "--receipt-no", &receipt]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["terminal_code"], "B4", "already reversed: {r:?}");
    let r = shop.run(&["reversal", "--receipt-no", "9999"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.json()["terminal_code"],
        "B5",
        "reversal not possible: {r:?}"
    );

    let r = shop.run(&["reprint"]);
    assert_eq!(r.code, 0, "{r:?}");

    let r = shop.run(&["close-totals"]);
    assert_eq!(r.code, 0, "{r:?}");

    // The bank: the first sale reversed, the second standing.
    let l = shop.bank.ledger();
    let states: Vec<(u64, String)> = l["auths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["amount"].as_u64().unwrap(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(states.contains(&(1250, "reversed".into())), "{states:?}");
    assert!(
        states.iter().any(|(a, s)| *a == 2000 && s != "reversed"),
        "{states:?}"
    );
}

#[test]
fn zvt_till_with_a_wrong_password_is_refused() {
    let shop = open();
    let r = till_json(
        "zvt",
        &shop.addr,
        &["sale", "--amount", "1.00", "--currency", "EUR"],
        &["--zvt-password", "000000"],
    );
    assert_ne!(r.code, 0, "{r:?}");
    assert!(shop.bank.auths().is_empty(), "nothing reached the bank");
    let r = till_json(
        "zvt",
        &shop.addr,
        &["test-terminal"],
        &["--zvt-password", "12345"],
    );
    assert_eq!(r.code, 2, "a malformed password is a usage error: {r:?}");
}

#[test]
fn zvt_till_reserves_books_and_releases() {
    let shop = open();
    let receipt_of = |r: &Run| {
        let v = r.json();
        format!("{}", v["trace"].as_u64().expect("a trace number") % 10_000)
    };
    // Reserve 50.00, release the unused 18.60: 31.40 booked.
    let r = shop.run(&["reserve", "--amount", "50.00", "--currency", "EUR"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["amount_minor"], 5000);
    let first = receipt_of(&r);
    let r = shop.run(&[
        "partial-reversal",
        "--receipt-no",
        &first,
        "--amount",
        "18.60",
        "--currency",
        "EUR",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // Booked already: B8.
    let r = shop.run(&[
        "book-total",
        "--receipt-no",
        &first,
        "--amount",
        "1.00",
        "--currency",
        "EUR",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["terminal_code"], "B8", "{r:?}");

    // Reserve 40.00: more than that is refused (B7), 27.15 booked.
    let r = shop.run(&["reserve", "--amount", "40", "--currency", "EUR"]);
    assert_eq!(r.code, 0, "{r:?}");
    let second = receipt_of(&r);
    let book = |amount: &str| {
        shop.run(&[
            "book-total",
            "--receipt-no",
            &second,
            "--amount",
            amount,
            "--currency",
            "EUR",
        ])
    };
    let r = book("40.01");
    assert_eq!(
        (r.code, r.json()["terminal_code"].clone()),
        (1, "B7".into()),
        "{r:?}"
    );
    let r = book("27.15");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["amount_minor"], 2715);

    // Reserve 20.00 and release it all; twice is refused.
    let r = shop.run(&["reserve", "--amount", "20", "--currency", "EUR"]);
    let third = receipt_of(&r);
    let r = shop.run(&["pre-auth-reversal", "--receipt-no", &third]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = shop.run(&["pre-auth-reversal", "--receipt-no", &third]);
    assert_eq!(
        (r.code, r.json()["terminal_code"].clone()),
        (1, "B8".into()),
        "{r:?}"
    );

    // A usage error before any connection: a bad receipt number.
    let r = shop.run(&["pre-auth-reversal", "--receipt-no", "10000"]);
    assert_eq!(r.code, 2, "{r:?}");

    let l = shop.bank.ledger();
    let by_reserved = |n: u64| {
        l["auths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["reserved"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("reservation {n}: {l:#}"))
    };
    assert_eq!(by_reserved(5000)["booked"], 3140);
    assert_eq!(by_reserved(4000)["booked"], 2715);
    assert_eq!(by_reserved(2000)["state"], "reversed");
}
