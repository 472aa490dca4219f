//! Receipt snapshots and layout invariants.
//!
//! Snapshots live in `tests/snapshots/`; a mismatch fails the test (insta writes a `.snap.new`
//! beside it locally and writes nothing under `CI=true`). Review a change with
//! `cargo insta review`, or accept with `INSTA_UPDATE=always cargo test -p ecrlink-core`.

use ecrlink_core::receipt::{self, CopyKind, Lang, Merchant, ReceiptOptions, WIDTHS};
use ecrlink_core::txn::{
    Amount, ApprovalCode, CardScheme, Currency, CurrencyTotals, DeclineCode, EntryMode, FailReason,
    Money, Outcome, Pan, Reference, RequestKind, Response, SchemeTotals, TerminalId, Timestamp,
    Totals,
};

const VISA_PAN: &str = "4761739001010119";
const MC_PAN: &str = "5413330089020011";
const ADDRESS: &[&str] = &["Náměstí Míru 1", "120 00 Praha 2 – Vinohrady"];

fn merchant() -> Merchant<'static> {
    Merchant {
        name: "Kavárna U Zlatého Kohouta",
        address: ADDRESS,
        terminal_id: "T0000042",
        merchant_id: "CZ0042",
    }
}

/// BER-TLV of a chip transaction as the bank link returns it (tags in the order terminals
/// usually send them). `cvm` is the three bytes of 9F34, `arc` the issuer's answer (8A).
fn emv(aid: &[u8], label: &str, cvm: [u8; 3], arc: &[u8; 2]) -> ecrlink_core::txn::EmvData {
    let mut v = ecrlink_core::txn::EmvData::new();
    let mut tlv = |tag: &[u8], value: &[u8]| {
        v.extend_from_slice(tag).unwrap();
        v.push(value.len() as u8).unwrap();
        v.extend_from_slice(value).unwrap();
    };
    tlv(&[0x4F], aid);
    tlv(&[0x50], label.as_bytes());
    tlv(&[0x95], &[0x00, 0x00, 0x00, 0x80, 0x00]);
    tlv(&[0x9F, 0x10], &[0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00]);
    tlv(&[0x9B], &[0xE8, 0x00]);
    tlv(&[0x8A], arc);
    tlv(&[0x9F, 0x36], &[0x00, 0x27]);
    tlv(
        &[0x9F, 0x26],
        &[0xAC, 0x4F, 0x9E, 0x1B, 0x33, 0x70, 0xD2, 0x5A],
    );
    tlv(&[0x9F, 0x34], &cvm);
    v
}

const VISA_AID: &[u8] = &[0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10];
const MC_AID: &[u8] = &[0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10];
/// 9F34: signature (1E), condition "always" (03), result unknown (00).
const CVM_SIGNATURE: [u8; 3] = [0x1E, 0x03, 0x00];
/// 9F34: enciphered PIN verified online (02, "apply succeeding" bit set), result unknown.
const CVM_ONLINE_PIN: [u8; 3] = [0x42, 0x03, 0x00];
/// 9F34: no CVM required (1F), result successful (02).
const CVM_NONE: [u8; 3] = [0x1F, 0x03, 0x02];

fn at(h: u8, m: u8) -> Option<Timestamp> {
    Some(Timestamp::new(2026, 11, 25, h, m, 7).unwrap())
}

fn card(r: &mut Response, pan: &str, scheme: CardScheme, mode: EntryMode) {
    r.pan = Some(Pan::new(pan).unwrap().masked());
    r.scheme = Some(scheme);
    r.entry_mode = Some(mode);
}

fn sale() -> Response {
    let mut r = Response::new(RequestKind::Sale, Outcome::Approved);
    r.amount = Some(Money::new(124_950, Currency::CZK).unwrap());
    card(&mut r, VISA_PAN, CardScheme::Visa, EntryMode::Chip);
    r.approval_code = Some(ApprovalCode::new("A1B2C3").unwrap());
    r.reference = Some(Reference::new("2026001125").unwrap());
    r.terminal_id = Some(TerminalId::new("T0000042").unwrap());
    r.timestamp = at(9, 41);
    r.trace = Some(1017);
    r.emv = emv(VISA_AID, "VISA DEBIT", CVM_SIGNATURE, b"00");
    r
}

fn cashback() -> Response {
    let mut r = Response::new(RequestKind::SaleWithCashback, Outcome::Approved);
    r.amount = Some(Money::new(150_000, Currency::CZK).unwrap());
    r.cashback = Some(Amount::new(50_000).unwrap());
    card(&mut r, MC_PAN, CardScheme::Mastercard, EntryMode::Chip);
    r.approval_code = Some(ApprovalCode::new("774411").unwrap());
    r.timestamp = at(10, 2);
    r.trace = Some(1018);
    r.emv = emv(MC_AID, "Mastercard", CVM_ONLINE_PIN, b"00");
    r
}

fn refund() -> Response {
    let mut r = Response::new(RequestKind::Refund, Outcome::Approved);
    r.amount = Some(Money::new(39_900, Currency::EUR).unwrap());
    card(&mut r, VISA_PAN, CardScheme::Visa, EntryMode::Contactless);
    r.approval_code = Some(ApprovalCode::new("R55C01").unwrap());
    r.reference = Some(Reference::new("VRATKA-17").unwrap());
    r.timestamp = at(11, 30);
    r.trace = Some(1019);
    r.emv = emv(VISA_AID, "VISA DEBIT", CVM_NONE, b"00");
    r
}

fn reversal() -> Response {
    let mut r = Response::new(RequestKind::Reversal, Outcome::Approved);
    r.amount = Some(Money::new(124_950, Currency::CZK).unwrap());
    card(&mut r, VISA_PAN, CardScheme::Visa, EntryMode::Chip);
    r.approval_code = Some(ApprovalCode::new("A1B2C3").unwrap());
    r.timestamp = at(12, 5);
    r.trace = Some(1020);
    r
}

fn decline() -> Response {
    let mut r = Response::new(
        RequestKind::Sale,
        Outcome::Declined {
            code: DeclineCode::new("51").unwrap(),
        },
    );
    r.amount = Some(Money::new(999_900, Currency::CZK).unwrap());
    card(
        &mut r,
        MC_PAN,
        CardScheme::Mastercard,
        EntryMode::Contactless,
    );
    r.timestamp = at(13, 15);
    r.trace = Some(1021);
    r.emv = emv(MC_AID, "Mastercard", CVM_NONE, b"51");
    r
}

fn close_totals() -> Response {
    let mut totals = Totals::default();
    for t in [
        CurrencyTotals {
            currency: 203,
            debit_count: 12,
            debit_minor: 1_234_550,
            credit_count: 1,
            credit_minor: 39_900,
            reversal_count: 1,
        },
        CurrencyTotals {
            currency: 978,
            debit_count: 2,
            debit_minor: 8_990,
            credit_count: 0,
            credit_minor: 0,
            reversal_count: 0,
        },
    ] {
        totals.currencies.push(t).unwrap();
    }
    for s in [
        (CardScheme::Visa, 203, 8, 812_300),
        (CardScheme::Mastercard, 203, 5, 382_350),
        (CardScheme::Maestro, 978, 2, 8_990),
    ] {
        totals
            .schemes
            .push(SchemeTotals {
                scheme: s.0,
                currency: s.1,
                count: s.2,
                net_minor: s.3,
            })
            .unwrap();
    }
    let mut r = Response::new(RequestKind::CloseTotals, Outcome::Approved);
    r.totals = Some(totals);
    r.timestamp = at(22, 0);
    r.terminal_id = Some(TerminalId::new("T0000042").unwrap());
    r
}

/// A subtotals answer: the open batch so far (one currency, two schemes).
fn subtotals() -> Response {
    let mut r = close_totals();
    r.kind = RequestKind::Subtotals;
    let totals = r.totals.as_mut().unwrap();
    totals.currencies.truncate(1);
    totals.schemes.truncate(2);
    r.timestamp = at(15, 30);
    r
}

/// A last-sums answer: the totals of batch 41, closed earlier.
fn last_sums() -> Response {
    let mut r = close_totals();
    r.kind = RequestKind::LastSums;
    r.timestamp = at(8, 5);
    r.with_text("batch 41").unwrap()
}

/// Totals reports other than close totals: snapshotted in one language at one width, checked
/// for layout everywhere.
fn totals_fixtures() -> Vec<(&'static str, Response)> {
    vec![("subtotals", subtotals()), ("last_sums", last_sums())]
}

fn fixtures() -> Vec<(&'static str, Response)> {
    vec![
        ("sale", sale()),
        ("cashback", cashback()),
        ("refund", refund()),
        ("reversal", reversal()),
        ("decline", decline()),
        ("close_totals", close_totals()),
    ]
}

fn render(r: &Response, width: usize, lang: Lang, copy: CopyKind, duplicate: bool) -> String {
    let options = ReceiptOptions {
        width,
        lang,
        copy,
        duplicate,
        merchant: merchant(),
    };
    let mut out = String::new();
    receipt::render(r, &options, &mut out).unwrap();
    out
}

/// Both copies side by side in one snapshot, with a ruler showing the width.
fn both_copies(r: &Response, width: usize, lang: Lang) -> String {
    let ruler: String = (0..width)
        .map(|i| if i % 10 == 9 { '|' } else { '.' })
        .collect();
    let mut s = String::new();
    for copy in [CopyKind::Merchant, CopyKind::Customer] {
        s.push_str(&ruler);
        s.push('\n');
        s.push_str(&render(r, width, lang, copy, false));
    }
    s.push_str(&ruler);
    s
}

#[test]
fn snapshots() {
    for (name, r) in fixtures() {
        for lang in Lang::ALL {
            for width in [32, 48] {
                let snap = format!("{name}_{}_{width}", lang.code());
                insta::assert_snapshot!(snap, both_copies(&r, width, lang));
            }
        }
    }
}

#[test]
fn subtotals_and_last_sums_snapshots() {
    for (name, r) in totals_fixtures() {
        insta::assert_snapshot!(format!("{name}_en_32"), both_copies(&r, 32, Lang::En));
    }
}

#[test]
fn totals_reports_are_titled_in_every_language() {
    let titles = [
        (Lang::Cs, "MEZISOUČTY", "POSLEDNÍ UZÁVĚRKA"),
        (Lang::En, "SUBTOTALS", "LAST CLOSE TOTALS"),
        (Lang::Fr, "SOUS-TOTAUX", "DERNIÈRE CLÔTURE"),
    ];
    for (lang, sub, last) in titles {
        let t = render(&subtotals(), 48, lang, CopyKind::Merchant, false);
        assert!(t.contains(sub), "{lang:?}\n{t}");
        let t = render(&last_sums(), 48, lang, CopyKind::Merchant, false);
        assert!(t.contains(last), "{lang:?}\n{t}");
        assert!(t.contains("batch 41"), "{t}");
        // The same report as close totals, under another title and with the batch text.
        let close = render(&close_totals(), 48, lang, CopyKind::Merchant, false);
        let report = |s: &str| -> Vec<String> {
            s.lines()
                .skip_while(|l| !l.contains("CZK"))
                .take_while(|l| !l.starts_with('-'))
                .map(str::to_owned)
                .collect()
        };
        assert!(report(&t).len() >= 4, "{lang:?}\n{t}");
        assert_eq!(report(&t), report(&close), "{lang:?}\n{t}");
    }
    // An empty batch prints its title and "no transactions".
    let mut empty = subtotals();
    empty.totals = Some(Totals::default());
    let t = render(&empty, 32, Lang::En, CopyKind::Merchant, false);
    assert!(
        t.contains("SUBTOTALS") && t.contains("No transactions"),
        "{t}"
    );
}

#[test]
fn duplicate_snapshot() {
    insta::assert_snapshot!(
        "sale_en_24_duplicate",
        render(&sale(), 24, Lang::En, CopyKind::Customer, true)
    );
}

fn every_rendering() -> Vec<(String, usize, String)> {
    let mut all = Vec::new();
    for (name, r) in fixtures().into_iter().chain(totals_fixtures()) {
        for lang in Lang::ALL {
            for width in WIDTHS {
                for copy in [CopyKind::Merchant, CopyKind::Customer] {
                    for duplicate in [false, true] {
                        let what = format!("{name} {lang:?} {width} {copy:?} dup={duplicate}");
                        all.push((what, width, render(&r, width, lang, copy, duplicate)));
                    }
                }
            }
        }
    }
    all
}

#[test]
fn no_line_exceeds_the_width() {
    for (what, width, text) in every_rendering() {
        assert!(text.ends_with('\n'), "{what}");
        assert!(
            text.len() <= receipt::MAX_RECEIPT_BYTES,
            "{what}: {} bytes",
            text.len()
        );
        for line in text.lines() {
            assert!(
                line.chars().count() <= width,
                "{what}: {line:?} is {} columns",
                line.chars().count()
            );
            assert_eq!(line, line.trim_end(), "{what}: trailing space");
        }
    }
}

/// Longest run of ASCII digits in `s`.
fn digit_runs(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
}

#[test]
fn the_pan_is_masked_in_every_receipt() {
    for (what, _, text) in every_rendering() {
        for run in digit_runs(&text) {
            assert!(
                !(13..=19).contains(&run.len()),
                "{what}: a {}-digit run {run}",
                run.len()
            );
        }
        assert!(!text.contains(VISA_PAN) && !text.contains(MC_PAN), "{what}");
        if !["close_totals", "subtotals", "last_sums"]
            .iter()
            .any(|t| what.starts_with(t))
        {
            assert!(
                text.contains("476173******0119") || text.contains("541333******0011"),
                "{what}: masked PAN missing"
            );
        }
    }
}

#[test]
fn czech_and_french_letters_survive() {
    let cs = render(&sale(), 32, Lang::Cs, CopyKind::Merchant, true);
    for needle in [
        "KOPIE PRO OBCHODNÍKA",
        "DUPLIKÁT",
        "Částka",
        "SCHVÁLENO",
        "čip",
    ] {
        assert!(cs.contains(needle), "{needle}\n{cs}");
    }
    let fr = render(&refund(), 32, Lang::Fr, CopyKind::Customer, false);
    for needle in [
        "TICKET CLIENT",
        "REMBOURSEMENT",
        "ACCEPTÉ",
        "Référence",
        "Ticket à conserver",
    ] {
        assert!(fr.contains(needle), "{needle}\n{fr}");
    }
}

#[test]
fn failed_and_offline_outcomes_render_in_every_language() {
    let outcomes = [
        Outcome::Timeout,
        Outcome::TerminalOffline,
        Outcome::BankUnavailable,
        Outcome::Cancelled,
        Outcome::Failed {
            reason: FailReason::PrinterError,
        },
    ];
    for outcome in outcomes {
        for lang in Lang::ALL {
            let mut r = sale();
            r.outcome = outcome.clone();
            let approved = render(&sale(), 24, lang, CopyKind::Customer, false);
            let text = render(&r, 24, lang, CopyKind::Customer, false);
            assert_ne!(text, approved, "{outcome:?} {lang:?}");
        }
    }
}

#[test]
fn emv_block_and_signature_line() {
    let merchant = render(&sale(), 32, Lang::En, CopyKind::Merchant, false);
    let customer = render(&sale(), 32, Lang::En, CopyKind::Customer, false);
    for text in [&merchant, &customer] {
        for (label, value) in [
            ("AID", "A000000003 1010"),
            ("Application", "VISA DEBIT"),
            ("TVR", "0000008000"),
            ("IAD", "06010A03 A00000"),
            ("TSI", "E800"),
            ("ARC", "00"),
            ("ATC", "0027"),
        ] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(label) && l.ends_with(value)),
                "{label} {value}\n{text}"
            );
        }
    }
    // 9F34 = 1E 03 00 asks for a signature: only the merchant copy has the line.
    assert!(merchant.contains("Cardholder signature"), "{merchant}");
    assert!(!customer.contains("Cardholder signature"));
    // PIN verified online, or no CVM: no signature line.
    for r in [cashback(), decline(), refund()] {
        let t = render(&r, 32, Lang::En, CopyKind::Merchant, false);
        assert!(!t.contains("Cardholder signature"), "{t}");
    }
    // A declined transaction never asks for a signature, whatever the CVM.
    let mut declined = sale();
    declined.outcome = Outcome::Declined {
        code: DeclineCode::new("05").unwrap(),
    };
    let t = render(&declined, 32, Lang::En, CopyKind::Merchant, false);
    assert!(!t.contains("Cardholder signature") && t.contains("Do not honour"));
}

#[test]
fn malformed_emv_data_still_prints_the_receipt() {
    let mut r = sale();
    r.emv.clear();
    r.emv.extend_from_slice(&[0x9F, 0x10, 0x20, 0x01]).unwrap();
    let t = render(&r, 32, Lang::Cs, CopyKind::Merchant, false);
    assert!(t.contains("SCHVÁLENO") && !t.contains("IAD"), "{t}");
    assert!(!t.contains("Podpis"));
}

#[test]
fn an_overlong_iad_wraps_inside_the_width() {
    let mut r = sale();
    r.emv.clear();
    r.emv.extend_from_slice(&[0x9F, 0x10, 0x20]).unwrap();
    r.emv.extend_from_slice(&[0xAB; 32]).unwrap();
    for width in WIDTHS {
        let t = render(&r, width, Lang::En, CopyKind::Merchant, false);
        let joined: String = t
            .lines()
            .skip_while(|l| !l.starts_with("IAD"))
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("AB"))
            .flat_map(str::split_whitespace)
            .collect();
        let one_line = t.lines().find(|l| l.starts_with("IAD")).unwrap();
        let hex = if joined.is_empty() {
            one_line.trim_start_matches("IAD").replace(' ', "")
        } else {
            joined
        };
        assert_eq!(hex, "AB".repeat(32), "{width}\n{t}");
    }
}
