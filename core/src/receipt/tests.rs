// Test-only module: its parent declares it `#[cfg(test)] mod tests;`, so unwrap/expect here never reach a build.
extern crate std;
use std::string::String;
use std::vec::Vec;

use super::*;
use crate::txn::{
    Amount, ApprovalCode, CurrencyTotals, DeclineCode, EntryMode, FailReason, Pan, Reference,
};

const ADDRESS: &[&str] = &["Náměstí Míru 1", "120 00 Praha 2"];

fn options(width: usize, lang: Lang, copy: CopyKind) -> ReceiptOptions<'static> {
    ReceiptOptions {
        width,
        lang,
        copy,
        duplicate: false,
        merchant: Merchant {
            name: "Kavárna U Zlatého Kohouta",
            address: ADDRESS,
            terminal_id: "T0000042",
            merchant_id: "CZ00123",
        },
    }
}

fn sale() -> Response {
    let mut r = Response::new(RequestKind::Sale, Outcome::Approved);
    r.amount = Some(Money::new(1250, Currency::CZK).unwrap());
    r.approval_code = Some(ApprovalCode::new("A1B2C3").unwrap());
    r.pan = Some(Pan::new("4761739001010119").unwrap().masked());
    r.scheme = Some(CardScheme::Visa);
    r.entry_mode = Some(EntryMode::Contactless);
    r.reference = Some(Reference::new("2024000123").unwrap());
    r.timestamp = Some(Timestamp::new(2026, 11, 25, 17, 13, 5).unwrap());
    r.trace = Some(42);
    r
}

fn text(r: &Response, o: &ReceiptOptions<'_>) -> String {
    let mut s = String::new();
    render(r, o, &mut s).unwrap();
    s
}

#[test]
fn rejects_other_widths_before_writing() {
    for w in [0, 23, 25, 40, 80] {
        let mut s = String::new();
        let o = options(w, Lang::En, CopyKind::Customer);
        assert_eq!(render(&sale(), &o, &mut s), Err(Error::ReceiptWidth));
        assert!(s.is_empty());
    }
    for w in WIDTHS {
        assert!(check_width(w).is_ok());
    }
}

#[test]
fn sale_shows_what_proves_the_payment() {
    let t = text(&sale(), &options(32, Lang::Cs, CopyKind::Customer));
    for needle in [
        "Kavárna U Zlatého Kohouta",
        "KOPIE PRO ZÁKAZNÍKA",
        "25.11.2026",
        "17:13:05",
        "PRODEJ",
        "VISA",
        "476173******0119",
        "bezkontaktně",
        "12,50 CZK",
        "A1B2C3",
        "2024000123",
        "000042",
        "SCHVÁLENO",
        "T0000042",
    ] {
        assert!(t.contains(needle), "{needle} missing in\n{t}");
    }
    assert!(!t.contains("DUPLIKÁT"));
    assert!(!t.contains("4761739001010119"));
}

#[test]
fn header_is_the_block_before_the_first_empty_line() {
    let t = text(&sale(), &options(48, Lang::En, CopyKind::Merchant));
    let header: Vec<&str> = t.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(header.len(), 5, "{t}");
    assert_eq!(header[0].trim(), "Kavárna U Zlatého Kohouta");
    assert!(header[3].starts_with("Terminal ID") && header[3].ends_with("T0000042"));
}

#[test]
fn duplicate_is_marked_in_the_language() {
    let mut o = options(32, Lang::Fr, CopyKind::Merchant);
    o.duplicate = true;
    let t = text(&sale(), &o);
    assert!(t.contains("*** DUPLICATA ***"), "{t}");
    assert!(t.contains("TICKET COMMERÇANT"));
    assert!(t.contains("12,50 CZK"));
}

#[test]
fn cashback_shows_purchase_cash_and_total() {
    let mut r = sale();
    r.kind = RequestKind::SaleWithCashback;
    r.amount = Some(Money::new(150_000, Currency::CZK).unwrap());
    r.cashback = Some(Amount::new(50_000).unwrap());
    let t = text(&r, &options(32, Lang::En, CopyKind::Customer));
    let line = |label: &str| {
        t.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("{label} in\n{t}"))
            .to_owned()
    };
    assert!(line("Purchase").ends_with(" 1000.00 CZK"));
    assert!(line("Cashback").ends_with(" 500.00 CZK"));
    assert!(line("Total").ends_with(" 1500.00 CZK"));
    assert!(t.contains("SALE WITH CASHBACK"));
}

#[test]
fn every_outcome_has_a_result_text() {
    let outcomes = [
        (Outcome::Approved, "ACCEPTÉ"),
        (
            Outcome::Declined {
                code: DeclineCode::new("51").unwrap(),
            },
            "REFUSÉ (code 51)",
        ),
        (Outcome::Timeout, "DÉLAI DÉPASSÉ"),
        (Outcome::TerminalOffline, "TERMINAL HORS LIGNE"),
        (Outcome::BankUnavailable, "BANQUE INDISPONIBLE"),
        (Outcome::Cancelled, "ABANDONNÉ"),
        (
            Outcome::Failed {
                reason: FailReason::CardExpired,
            },
            "NON EFFECTUÉ",
        ),
    ];
    for (outcome, needle) in outcomes {
        let mut r = sale();
        r.outcome = outcome;
        let t = text(&r, &options(48, Lang::Fr, CopyKind::Customer));
        assert!(t.contains(needle), "{needle} in\n{t}");
    }
    let mut r = sale();
    r.outcome = Outcome::Declined {
        code: DeclineCode::new("51").unwrap(),
    };
    let t = text(&r, &options(48, Lang::Cs, CopyKind::Customer));
    assert!(t.contains("ZAMÍTNUTO (kód 51)") && t.contains("Nedostatek prostředků"));
    r.outcome = Outcome::Failed {
        reason: FailReason::CardExpired,
    };
    let t = text(&r, &options(48, Lang::En, CopyKind::Customer));
    assert!(t.contains("NOT COMPLETED") && t.contains("Card expired"));
}

#[test]
fn amounts_use_the_currency_exponent_and_the_language_separator() {
    let l = Lang::Cs.labels();
    assert_eq!(
        money(l, 5, Some(Currency::CZK), 0).unwrap().as_str(),
        "0,05 CZK"
    );
    assert_eq!(
        money(l, -1250, Some(Currency::EUR), 0).unwrap().as_str(),
        "-12,50 EUR"
    );
    assert_eq!(
        money(l, 1250, Some(Currency::JPY), 0).unwrap().as_str(),
        "1250 JPY"
    );
    let kwd = Currency::from_numeric(414).unwrap();
    assert_eq!(
        money(Lang::En.labels(), 1, Some(kwd), 0).unwrap().as_str(),
        "0.001 KWD"
    );
    assert_eq!(
        money(Lang::En.labels(), 150, None, 999).unwrap().as_str(),
        "1.50 999"
    );
}

#[test]
fn close_totals_report_per_currency_and_scheme() {
    let mut totals = Totals::default();
    totals
        .currencies
        .push(CurrencyTotals {
            currency: 203,
            debit_count: 3,
            debit_minor: 123_450,
            credit_count: 1,
            credit_minor: 10_000,
            reversal_count: 2,
        })
        .unwrap();
    totals
        .schemes
        .push(SchemeTotals {
            scheme: CardScheme::Mastercard,
            currency: 203,
            count: 4,
            net_minor: -500,
        })
        .unwrap();
    let mut r = Response::new(RequestKind::CloseTotals, Outcome::Approved);
    r.totals = Some(totals);
    let t = text(&r, &options(42, Lang::En, CopyKind::Merchant));
    let has = |label: &str, value: &str| {
        t.lines()
            .any(|l| l.starts_with(label) && l.ends_with(value))
    };
    assert!(has("Sales (3)", " 1234.50 CZK"), "{t}");
    assert!(has("Refunds (1)", " -100.00 CZK"), "{t}");
    assert!(has("Reversals", " 2"), "{t}");
    assert!(has("Net total", " 1134.50 CZK"), "{t}");
    assert!(has("MASTERCARD (4)", " -5.00 CZK"), "{t}");
    assert!(t.contains("CLOSE TOTALS") && t.contains("APPROVED"));

    let empty = Response {
        totals: Some(Totals::default()),
        ..Response::new(RequestKind::CloseTotals, Outcome::Approved)
    };
    assert!(text(&empty, &options(24, Lang::Cs, CopyKind::Merchant)).contains("Žádné transakce"));
}

#[test]
fn a_full_sink_is_an_error_not_a_panic() {
    let mut small = heapless::String::<64>::new();
    assert_eq!(
        render(
            &sale(),
            &options(32, Lang::En, CopyKind::Customer),
            &mut small
        ),
        Err(Error::ReceiptWrite)
    );
    let mut big = heapless::String::<MAX_RECEIPT_BYTES>::new();
    render(
        &sale(),
        &options(48, Lang::Cs, CopyKind::Merchant),
        &mut big,
    )
    .unwrap();
}

#[test]
fn parts_split_at_line_ends_within_the_limit() {
    let t = text(&sale(), &options(32, Lang::Cs, CopyKind::Customer));
    let parts: Vec<&str> = parts(&t, 100).collect();
    assert!(parts.len() > 1);
    assert_eq!(parts.concat(), t);
    for p in &parts {
        assert!(p.len() <= 100);
        assert!(p.ends_with('\n'));
    }
    // A single long line is split at a character boundary.
    let long = "ééééé";
    let split: Vec<&str> = super::parts(long, 5).collect();
    assert_eq!(split, ["éé", "éé", "é"]);
    assert_eq!(super::parts(long, 3).count(), 0);
}

mod props {
    use super::{CopyKind, Lang, Merchant, ReceiptOptions, WIDTHS, sale};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_line_exceeds_the_width(
            name in "\\PC{0,80}",
            addr in "[ a-zA-Zěščřžýáíéůúťďňóà-ÿ\u{20ac}\t]{0,120}",
            w in prop::sample::select(WIDTHS.to_vec()),
            lang in prop::sample::select(Lang::ALL.to_vec()),
            merchant_copy in any::<bool>(),
            text in "\\PC{0,64}",
        ) {
            let address = [addr.as_str()];
            let o = ReceiptOptions {
                width: w,
                lang,
                copy: if merchant_copy { CopyKind::Merchant } else { CopyKind::Customer },
                duplicate: true,
                merchant: Merchant { name: &name, address: &address, terminal_id: "T1", merchant_id: &name },
            };
            let mut r = sale();
            let mut t = heapless::String::<64>::new();
            for c in text.chars() {
                if t.push(c).is_err() {
                    break;
                }
            }
            r.text = Some(t);
            let out = super::text(&r, &o);
            for line in out.lines() {
                prop_assert!(line.chars().count() <= w, "{:?}", line);
                prop_assert!(!line.ends_with(' '));
            }
        }
    }
}

/// Sends `full` part by part the way a firmware does with a [`Window`] of `N` bytes (the
/// receipt rendered again for each part, parts of at most `N - 4` bytes) and checks each part
/// and its "more follows" against [`parts`] of the whole text.
fn window_parts_match<const N: usize>(r: &Response, o: &ReceiptOptions<'_>) {
    let full = text(r, o);
    let max = N - 4;
    let mut at = 0;
    loop {
        let mut window = Window::<N>::new(at, MAX_RECEIPT_BYTES);
        render(r, o, &mut window).unwrap();
        assert_eq!(window.total_len(), full.len());
        let rest = &full[at..];
        assert!(rest.starts_with(window.as_str()));
        assert!(window.as_str().len() == rest.len() || window.as_str().len() > max);
        let expected = parts(rest, max).next().unwrap_or("");
        let got = parts(window.as_str(), max).next().unwrap_or("");
        assert_eq!(got, expected, "part at {at}");
        assert_eq!(
            got.len() < window.as_str().len(),
            expected.len() < rest.len(),
            "more follows, at {at}"
        );
        if got.is_empty() {
            assert_eq!(at, full.len());
            return;
        }
        at += got.len();
    }
}

/// A receipt rendered again into a part-sized [`Window`] for each part gives the parts of
/// the receipt rendered whole, with multi-byte characters at the window's edges (Czech) and
/// parts of several sizes; a receipt longer than the window's limit is refused as a full
/// buffer refuses it.
#[test]
fn a_window_gives_the_parts_of_the_whole_receipt() {
    for lang in [Lang::Cs, Lang::En, Lang::Fr] {
        for width in WIDTHS {
            for copy in [CopyKind::Merchant, CopyKind::Customer] {
                let o = options(width, lang, copy);
                window_parts_match::<8>(&sale(), &o);
                window_parts_match::<37>(&sale(), &o);
                window_parts_match::<68>(&sale(), &o);
                window_parts_match::<{ crate::session::RECEIPT_PART_CAPACITY + 4 }>(&sale(), &o);
            }
        }
    }
    let o = options(32, Lang::Cs, CopyKind::Merchant);
    let len = text(&sale(), &o).len();
    let mut exact = Window::<16>::new(0, len);
    assert_eq!(render(&sale(), &o, &mut exact), Ok(()));
    let mut short = Window::<16>::new(0, len - 1);
    assert_eq!(render(&sale(), &o, &mut short), Err(Error::ReceiptWrite));
}

/// The largest totals a batch can hold print exactly: sales and refunds of `u64::MAX` minor
/// units and the nets between them (`-u64::MAX` to `u64::MAX`), in a currency with two
/// decimals and one with none.
#[test]
fn the_largest_totals_print_exactly() {
    for (currency, exp) in [(203, 2), (392, 0)] {
        let mut totals = Totals::default();
        for (debit, credit) in [(u64::MAX, 0), (0, u64::MAX)] {
            totals
                .currencies
                .push(CurrencyTotals {
                    currency,
                    debit_count: 1,
                    debit_minor: debit,
                    credit_count: 1,
                    credit_minor: credit,
                    reversal_count: 0,
                })
                .unwrap();
        }
        for net in [i64::MIN, i64::MAX] {
            totals
                .schemes
                .push(SchemeTotals {
                    scheme: CardScheme::Visa,
                    currency,
                    count: 1,
                    net_minor: net,
                })
                .unwrap();
        }
        let mut r = Response::new(RequestKind::CloseTotals, Outcome::Approved);
        r.totals = Some(totals);
        let t = text(&r, &options(48, Lang::En, CopyKind::Merchant));
        let max = if exp == 2 {
            "184467440737095516.15"
        } else {
            "18446744073709551615"
        };
        let (min64, max64) = if exp == 2 {
            ("-92233720368547758.08", "92233720368547758.07")
        } else {
            ("-9223372036854775808", "9223372036854775807")
        };
        let code = if exp == 2 { "CZK" } else { "JPY" };
        let has = |label: &str, value: &str| {
            t.lines()
                .any(|l| l.starts_with(label) && l.ends_with(&std::format!(" {value} {code}")))
        };
        assert!(has("Sales (1)", max), "{t}");
        assert!(has("Refunds (1)", &std::format!("-{max}")), "{t}");
        assert!(has("Net total", max), "{t}");
        assert!(has("Net total", &std::format!("-{max}")), "{t}");
        assert!(has("VISA (1)", min64), "{t}");
        assert!(has("VISA (1)", max64), "{t}");
    }
}
