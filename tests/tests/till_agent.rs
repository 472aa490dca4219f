//! Every till command as a real `ecrlink-sim` process against a real agent and bank simulator:
//! output, JSON and exit codes, in both dialects.

mod agent_common;
mod till_common;

use till_common::{Shop, sim, till_json};

#[test]
fn csob_every_command_end_to_end() {
    let shop = Shop::open(None);
    let t = shop.addr("csob");
    let run = |cmd: &[&str]| till_json("csob", &t, cmd, &[]);

    let r = run(&["test-terminal"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["outcome"], "approved");
    assert_eq!(r.json()["message"], "The terminal is working");

    let r = run(&["test-bank"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["message"], "The connection to the bank works");

    let r = run(&[
        "sale",
        "--amount",
        "12.50",
        "--currency",
        "CZK",
        "--vs",
        "1001",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["command"], "sale");
    assert_eq!(v["outcome"], "approved");
    assert_eq!(v["amount"], "12.50");
    assert_eq!(v["amount_minor"], 1250);
    assert_eq!(v["currency"], "CZK");
    assert_eq!(v["reference"], "1001");
    assert_eq!(v["pan"], "476173******0119");
    assert!(
        v["approval_code"].as_str().is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    assert!(v["bank_code"].is_null() && v["recovery"].is_null());
    assert_eq!(v["terminal_code"], "R000");

    let r = run(&[
        "cashback",
        "--amount",
        "150",
        "--cashback",
        "100",
        "--currency",
        "CZK",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["command"], "cashback");
    assert_eq!(v["cashback"], "100.00");
    let code = v["approval_code"].as_str().unwrap().to_string();

    let r = run(&[
        "reversal",
        "--amount",
        "150",
        "--currency",
        "CZK",
        "--code",
        &code,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["message"], "Transaction reversed");

    // A reversal that matches nothing is refused, not approved.
    let r = run(&[
        "reversal",
        "--amount",
        "150",
        "--currency",
        "CZK",
        "--code",
        "NOPE42",
    ]);
    assert_eq!(r.code, 1, "{r:?}");

    let r = run(&[
        "refund",
        "--amount",
        "45",
        "--currency",
        "CZK",
        "--vs",
        "R1",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["message"], "Refund approved");

    let r = run(&["last"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["command"], "last");
    assert_eq!(v["amount"], "45.00", "{v}");

    let r = run(&["reprint"]);
    assert_eq!(r.code, 0, "{r:?}");
    let receipt = r.json()["receipt"].as_array().unwrap().clone();
    let text: String = receipt.iter().map(|p| p.as_str().unwrap()).collect();
    assert!(text.contains("REFUND"), "{text}");
    assert!(text.contains("45.00"), "{text}");

    let r = till_json(
        "csob",
        &t,
        &["sale", "--amount", "99", "--currency", "CZK"],
        &["--receipt"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let text: String = r.json()["receipt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(text.contains("SALE") && text.contains("99.00"), "{text}");
    assert!(text.contains("476173******0119"), "{text}");
    assert!(!text.contains("4761739001010119"));

    let r = run(&["close-totals"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["message"], "Totals closed");
    assert!(!v["totals"].is_null(), "{v}");

    // Declined by the bank's default rule (an amount ending in .51): exit 1, the bank's ISO
    // code (51) and ČSOB's code each in its own field.
    let r = run(&["sale", "--amount", "7.51", "--currency", "CZK"]);
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    assert_eq!(v["outcome"], "declined");
    assert_eq!(v["bank_code"], "51");
    assert_eq!(v["terminal_code"], "R-12");
    assert_eq!(v["reason"], "insufficient funds");
    assert_eq!(
        v["message"],
        "Declined: insufficient funds (bank code 51, ČSOB code R-12)"
    );
}

#[test]
fn human_output_is_localized_and_masks_the_card() {
    let shop = Shop::open(None);
    let t = shop.addr("csob");
    let r = sim(&[
        "sale",
        "--amount",
        "12.50",
        "--currency",
        "CZK",
        "--terminal",
        &t,
        "--dialect",
        "csob",
        "--lang",
        "cs",
        "--vs",
        "77",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "Platba schválena", "{}", r.stdout);
    assert!(r.stdout.contains("Částka:"), "{}", r.stdout);
    assert!(r.stdout.contains("12.50 CZK"), "{}", r.stdout);
    assert!(r.stdout.contains("VISA 476173******0119"), "{}", r.stdout);
    assert!(r.stdout.contains("Variabilní symbol:   77"), "{}", r.stdout);
    // No progress bar when stderr is not a terminal.
    assert!(r.stderr.is_empty(), "{}", r.stderr);

    let r = sim(&[
        "sale",
        "--amount",
        "3.51",
        "--currency",
        "CZK",
        "--terminal",
        &t,
        "--dialect",
        "csob",
        "--lang",
        "fr",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .starts_with("Refusé: provision insuffisante (code banque 51, code ČSOB R-12)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn concert_sale_refund_decline_and_what_it_cannot_do() {
    let shop = Shop::open(None);
    let t = shop.addr("concert");
    let run = |cmd: &[&str]| till_json("concert", &t, cmd, &[]);

    let r = run(&[
        "sale",
        "--amount",
        "12.50",
        "--currency",
        "EUR",
        "--vs",
        "F1",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["amount"], "12.50");
    assert_eq!(v["currency"], "EUR");
    assert_eq!(v["terminal"]["dialect"], "concert");

    let r = run(&["refund", "--amount", "2", "--currency", "EUR"]);
    assert_eq!(r.code, 0, "{r:?}");

    let r = run(&["sale", "--amount", "2.51", "--currency", "EUR"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["outcome"], "declined");

    // Concert V2 has no message for these: a usage error before any connection.
    for cmd in [
        &["close-totals"][..],
        &["test-bank"],
        &["last"],
        &[
            "cashback",
            "--amount",
            "5",
            "--cashback",
            "1",
            "--currency",
            "EUR",
        ],
    ] {
        let r = run(cmd);
        assert_eq!(r.code, 2, "{cmd:?}: {r:?}");
        assert!(
            r.stderr
                .starts_with("error: the concert dialect cannot send this request"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn the_banks_own_decline_code_reaches_the_till() {
    let shop = Shop::open(Some("[[rule]]\namount = 1234\ndecline = \"05\"\n"));
    let r = till_json(
        "csob",
        &shop.addr("csob"),
        &["sale", "--amount", "12.34", "--currency", "CZK"],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    assert_eq!(v["bank_code"], "05");
    assert_eq!(v["terminal_code"], "R05");
    assert_eq!(
        v["message"],
        "Declined: do not honour (bank code 05, ČSOB code R05)"
    );
    let auths = shop.bank.auths();
    assert_eq!(auths.last().unwrap()["code"], "05", "{auths:?}");
}
