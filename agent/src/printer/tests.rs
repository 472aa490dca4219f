use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use ecrlink_core::receipt::Lang;
use ecrlink_core::txn::{
    ApprovalCode, CardScheme, Currency, EntryMode, Money, Outcome, Pan, Reference, RequestKind,
    Response, Timestamp,
};

use super::escpos::{Item, decode, text_of};
use super::*;

fn sale() -> Response {
    let mut r = Response::new(RequestKind::Sale, Outcome::Approved);
    r.amount = Some(Money::new(124_950, Currency::CZK).unwrap());
    r.pan = Some(Pan::new("4761739001010119").unwrap().masked());
    r.scheme = Some(CardScheme::Visa);
    r.entry_mode = Some(EntryMode::Chip);
    r.approval_code = Some(ApprovalCode::new("A1B2C3").unwrap());
    r.reference = Some(Reference::new("2026001125").unwrap());
    r.timestamp = Some(Timestamp::new(2026, 11, 25, 9, 41, 7).unwrap());
    r.trace = Some(1017);
    r
}

fn settings(lang: Lang) -> ReceiptSettings {
    ReceiptSettings {
        merchant_name: "Pékařství Žižkov".into(),
        address: vec!["Husitská 12, Praha 3".into()],
        terminal_id: "T0000042".into(),
        merchant_id: "CZ0042".into(),
        width: 32,
        lang,
    }
}

fn job(lang: Lang, copy: Copy) -> PrintJob {
    settings(lang).job(&sale(), copy, false).unwrap()
}

/// Prints `job` on an ESC/POS printer writing to memory and decodes the bytes.
fn print_and_decode(job: &PrintJob, choice: CodePageChoice) -> (Vec<Item>, Vec<char>) {
    let mut printer = EscPosPrinter::new(Vec::new(), choice);
    printer.print(job).unwrap();
    let items = decode(printer.get_ref()).unwrap();
    (items, printer.replaced())
}

#[test]
fn escpos_czech_receipt_decodes_back() {
    let job = job(Lang::Cs, Copy::Merchant);
    let (items, replaced) = print_and_decode(&job, CodePageChoice::Auto);
    assert_eq!(items.first(), Some(&Item::Initialize));
    assert_eq!(items.get(1), Some(&Item::SelectCodePage(18)), "CP852");
    assert_eq!(items.get(2), Some(&Item::Bold(true)));
    assert_eq!(
        items[items.len() - 2..],
        [
            Item::Feed(escpos::FEED_LINES),
            Item::Cut {
                partial: true,
                feed: Some(0)
            }
        ]
    );
    assert!(replaced.is_empty(), "{replaced:?}");
    let (text, bold) = text_of(&items);
    assert_eq!(text, job.text, "every character survives CP852");
    let header: String = job
        .text
        .split_inclusive('\n')
        .take_while(|l| *l != "\n")
        .collect();
    assert_eq!(bold, header);
    assert!(bold.contains("Pékařství Žižkov"));
    for needle in [
        "KOPIE PRO OBCHODNÍKA",
        "Částka",
        "SCHVÁLENO",
        "čip",
        "Číslo karty",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    assert!(items.contains(&Item::Bold(false)));
}

#[test]
fn escpos_french_receipt_uses_cp858() {
    let mut s = settings(Lang::Fr);
    s.merchant_name = "Crêperie de l'Écluse".into();
    s.address = vec!["3 rue de la Gare, Besançon".into()];
    let job = s.job(&sale(), Copy::Customer, false).unwrap();
    let (items, replaced) = print_and_decode(&job, CodePageChoice::Auto);
    assert_eq!(items.get(1), Some(&Item::SelectCodePage(19)), "CP858");
    assert!(replaced.is_empty(), "{replaced:?}");
    let (text, bold) = text_of(&items);
    assert_eq!(text, job.text);
    assert!(bold.contains("Crêperie de l'Écluse") && bold.contains("Besançon"));
    for needle in [
        "TICKET CLIENT",
        "ACCEPTÉ",
        "Référence",
        "Ticket à conserver",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
}

#[test]
fn a_fixed_code_page_reports_what_it_replaced() {
    let job = job(Lang::Cs, Copy::Customer);
    let (items, replaced) = print_and_decode(&job, CodePageChoice::Fixed(CodePage::Cp858));
    assert_eq!(items.get(1), Some(&Item::SelectCodePage(19)));
    for c in ['ř', 'Ž', 'ž', 'Č', 'č'] {
        assert!(replaced.contains(&c), "{c} in {replaced:?}");
    }
    assert!(!replaced.contains(&'á'), "CP858 has á");
    let (text, _) = text_of(&items);
    assert!(text.contains("Pékarství Zizkov"), "{text}");
    assert!(text.contains("Uschovejte si prosím doklad"));
}

#[test]
fn control_bytes_in_text_cannot_inject_commands() {
    let job = PrintJob {
        text: "header\n\nbody \u{1b}@\u{1d}V\u{0}x\n".into(),
        width: 32,
        copy: Copy::Customer,
    };
    let (items, replaced) = print_and_decode(&job, CodePageChoice::Auto);
    assert_eq!(items.iter().filter(|i| **i == Item::Initialize).count(), 1);
    assert_eq!(
        items
            .iter()
            .filter(|i| matches!(i, Item::Cut { .. }))
            .count(),
        1
    );
    assert_eq!(text_of(&items).0, "header\n\nbody  @ V x\n");
    assert_eq!(replaced, ['\u{1b}', '\u{1d}', '\u{0}']);
}

#[test]
fn decoder_rejects_what_it_does_not_know() {
    assert_eq!(decode(&[0x1B]), Err(escpos::DecodeError::Truncated(1)));
    assert_eq!(
        decode(&[0x1B, b'Z']),
        Err(escpos::DecodeError::UnknownCommand(0x1B, b'Z', 0))
    );
    assert_eq!(
        decode(&[0x1B, b't', 99]),
        Err(escpos::DecodeError::UnknownCodePage(99))
    );
    assert_eq!(decode(&[0x82]), Err(escpos::DecodeError::BadText(0x82, 0)));
    assert_eq!(
        decode(&[0x1B, b't', 18, 0x82, 0x07]),
        Err(escpos::DecodeError::BadText(0x07, 4))
    );
    assert_eq!(
        decode(&[0x1D, b'V', 1]).unwrap(),
        [Item::Cut {
            partial: true,
            feed: None
        }]
    );
}

#[test]
fn network_printer_sends_the_job_to_port_9100_style_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut bytes = Vec::new();
        conn.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let job = job(Lang::Cs, Copy::Customer);
    let mut printer = NetworkPrinter::new(
        &addr.to_string(),
        Duration::from_secs(5),
        CodePageChoice::Fixed(CodePage::Cp852),
    );
    printer.print(&job).unwrap();
    let bytes = server.join().unwrap();
    let items = decode(&bytes).unwrap();
    assert_eq!(items.get(1), Some(&Item::SelectCodePage(18)));
    assert_eq!(text_of(&items).0, job.text);
    assert!(matches!(items.last(), Some(Item::Cut { .. })));
}

#[test]
fn network_printer_that_is_off_is_a_print_error() {
    // Bind then drop: nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut printer = NetworkPrinter::new(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(2),
        CodePageChoice::Auto,
    );
    let err = printer.print(&job(Lang::En, Copy::Customer)).unwrap_err();
    assert!(matches!(err, PrintError::Io(_)), "{err}");
    assert_eq!(
        NetworkPrinter::new(
            "printer.local",
            Duration::from_secs(1),
            CodePageChoice::Auto
        )
        .addr(),
        "printer.local:9100"
    );
}

/// Removes the duplicate marker line (`*** DUPLIKÁT ***`, …) from a receipt.
fn without_duplicate_line(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|l| !l.trim().starts_with("***"))
        .collect()
}

#[test]
fn reprint_after_a_printer_error_is_the_same_receipt_marked_duplicate() {
    let mut spool = ReceiptSpool::new(settings(Lang::Cs));
    let paper = MemoryPrinter::new();
    let mut printer = paper.clone();
    assert!(matches!(
        spool.reprint(&mut printer),
        Err(PrintError::NothingToReprint)
    ));

    // Paper out: the first job fails, nothing comes out, the error reaches the caller.
    paper.fail_next(1);
    let err = spool.print(&mut printer, &sale()).unwrap_err();
    assert!(matches!(err, PrintError::Device(_)), "{err}");
    assert!(paper.jobs().is_empty());
    assert_eq!(spool.last(), Some(&sale()));

    // Paper loaded: the reprint prints both copies of the same receipt, marked duplicate.
    let reprinted = spool.reprint(&mut printer).unwrap();
    assert_eq!(paper.jobs(), reprinted);
    assert_eq!(
        reprinted.iter().map(|j| j.copy).collect::<Vec<_>>(),
        [Copy::Merchant, Copy::Customer]
    );
    for job in &reprinted {
        let original = settings(Lang::Cs).render(&sale(), job.copy, false).unwrap();
        assert!(!original.contains("DUPLIKÁT"));
        assert!(job.text.contains("*** DUPLIKÁT ***"), "{}", job.text);
        assert_eq!(without_duplicate_line(&job.text), original);
    }
    assert_eq!(paper.attempts(), 3);

    // The till can get the same text (ČSOB B3/B4 transfer).
    assert_eq!(
        spool.last_text(Copy::Customer, true).unwrap(),
        reprinted[1].text
    );
}

#[test]
fn a_bad_width_is_a_layout_error() {
    let mut s = settings(Lang::En);
    s.width = 40;
    let mut spool = ReceiptSpool::new(s);
    let err = spool.print(&mut MemoryPrinter::new(), &sale()).unwrap_err();
    assert!(
        matches!(err, PrintError::Layout(ecrlink_core::Error::ReceiptWidth)),
        "{err}"
    );
}

#[test]
fn text_printer_writes_the_receipt_and_a_rule() {
    let job = job(Lang::Fr, Copy::Customer);
    let mut printer = TextPrinter::new(Vec::new());
    printer.print(&job).unwrap();
    assert!(printer.replaced().is_empty());
    let out = String::from_utf8(printer.out).unwrap();
    assert_eq!(out, format!("{}{}\n", job.text, "-".repeat(32)));
}

#[test]
fn specs_build_printers() {
    let dir = tempfile::tempdir().unwrap();
    assert!(spec("none").unwrap().is_none());
    assert!(spec("stdout").unwrap().is_some());
    assert!(spec("tcp:127.0.0.1:9100,cp852").unwrap().is_some());
    let path = dir.path().join("receipts.bin");
    let mut p = spec(&format!("escpos:{},cp858", path.display()))
        .unwrap()
        .unwrap();
    p.print(&job(Lang::Fr, Copy::Customer)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        decode(&bytes).unwrap().get(1),
        Some(&Item::SelectCodePage(19))
    );
    let text = dir.path().join("receipts.txt");
    spec(&format!("file:{}", text.display()))
        .unwrap()
        .unwrap()
        .print(&job(Lang::Cs, Copy::Customer))
        .unwrap();
    assert!(
        std::fs::read_to_string(&text)
            .unwrap()
            .contains("SCHVÁLENO")
    );
    for bad in ["", "lpt", "file:", "ftp:x", "escpos:"] {
        assert!(matches!(spec(bad), Err(PrintError::Spec(_))), "{bad}");
    }
}

mod props {
    use proptest::prelude::*;

    use super::super::escpos::{Item, decode, encode_job, text_of};
    use super::super::{CodePage, codepage};

    proptest! {
        /// Whatever the text, the job decodes: one initialize, one code page, one cut at the
        /// end, no other command; the text is the text with unprintable characters replaced.
        #[test]
        fn any_text_encodes_to_a_decodable_job(text in "\\PC{0,200}|[\\x00-\\x7f]{0,200}", cp852 in any::<bool>()) {
            let page = if cp852 { CodePage::Cp852 } else { CodePage::Cp858 };
            let job = encode_job(&text, page);
            let items = decode(&job.bytes).unwrap();
            prop_assert_eq!(&items[..2], &[Item::Initialize, Item::SelectCodePage(page.escpos_number())]);
            let commands = items.iter().filter(|i| !matches!(i, Item::Text(_) | Item::Bold(_))).count();
            prop_assert_eq!(commands, 4, "init, page, feed, cut: {:?}", items);
            let ends_with_cut = matches!(items.last(), Some(Item::Cut { .. }));
            prop_assert!(ends_with_cut);
            let (decoded, _) = text_of(&items);
            let encoded = codepage::encode(&text, page).bytes;
            let mut expected: String = encoded
                .iter()
                .map(|&b| if b == b'\n' { '\n' } else { page.decode_byte(b).unwrap_or('\u{fffd}') })
                .collect();
            if !expected.ends_with('\n') {
                expected.push('\n');
            }
            prop_assert_eq!(decoded, expected);
        }

        /// Regression (proptest find): a header followed only by a dropped `\r` gets no
        /// second line feed.
        #[test]
        fn header_then_dropped_cr_has_one_line_end(cp852 in any::<bool>()) {
            let page = if cp852 { CodePage::Cp852 } else { CodePage::Cp858 };
            let (decoded, _) = text_of(&decode(&encode_job("A\n\r", page).bytes).unwrap());
            prop_assert_eq!(decoded, "A\n");
        }

        /// Text made only of characters the page has comes back unchanged.
        #[test]
        fn printable_text_round_trips(text in "[a-zA-Z0-9 .,:áéíóúýčďěňřšťůžÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ\n]{0,200}") {
            let job = encode_job(&text, CodePage::Cp852);
            prop_assert!(job.replaced.is_empty());
            let (decoded, _) = text_of(&decode(&job.bytes).unwrap());
            let expected = if text.ends_with('\n') { text.clone() } else { format!("{text}\n") };
            prop_assert_eq!(decoded, expected);
        }
    }
}
