//! The `zvt` crate 0.1.0 from crates.io (EVerest's ZVT till library), unmodified, as the till
//! against the real agent (`--listen zvt@…`) and bank simulator, over TCP.
//!
//! Registration, end of day, status enquiry and diagnosis run through the crate's own
//! sequences (`zvt::sequences::*::into_stream`), which read every answer with the crate's
//! packet types and acknowledge each one. zvt 0.1.0 ships no authorisation (06 01) and no
//! reversal (06 30): those packets are declared here with its public derive macro
//! (`#[derive(Zvt)]`), and the answers read with its own `AuthorizationResponse` enum, in a
//! loop that does what its sequences do (acknowledge each packet, stop at completion or
//! abort).

mod agent_common;

use std::net::SocketAddr;
use std::path::Path;

use agent_common::{Agent, Bank};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use zvt::packets;
use zvt::sequences::{self, AuthorizationResponse, Sequence};
use zvt::{Zvt, ZvtParser, ZvtSerializer, encoding, length};

const PASSWORD: usize = 123_456;

/// 06 01 authorisation, declared with the zvt crate's derive macro (PA00P015 2.1).
#[derive(Debug, PartialEq, Zvt)]
#[zvt_control_field(class = 0x06, instr = 0x01)]
struct Authorisation {
    #[zvt_bmp(number = 0x04, length = length::Fixed<6>, encoding = encoding::Bcd)]
    amount: Option<usize>,

    #[zvt_bmp(number = 0x49, length = length::Fixed<2>, encoding = encoding::Bcd)]
    currency: Option<usize>,
}

/// 06 30 reversal, declared with the zvt crate's derive macro (PA00P015 2.11).
#[derive(Debug, PartialEq, Zvt)]
#[zvt_control_field(class = 0x06, instr = 0x30)]
struct Reversal {
    #[zvt_bmp(length = length::Fixed<3>, encoding = encoding::Bcd)]
    password: usize,

    #[zvt_bmp(number = 0x87, length = length::Fixed<2>, encoding = encoding::Bcd)]
    receipt_no: Option<usize>,
}

/// 06 B0 abort, declared with the zvt crate's derive macro.
#[derive(Debug, PartialEq, Zvt)]
#[zvt_control_field(class = 0x06, instr = 0xB0)]
struct AbortCommand {}

/// A bank simulator and an agent with a ZVT listener whose password is [`PASSWORD`].
fn start(dir: &Path, cards: Option<&str>) -> (Bank, Agent) {
    let bank = Bank::spawn(None);
    let agent = start_agent(dir, cards, &bank);
    (bank, agent)
}

/// An agent (journal in `dir`) with a ZVT listener, against `bank`.
fn start_agent(dir: &Path, cards: Option<&str>, bank: &Bank) -> Agent {
    let bank_addr = bank.addr.to_string();
    let mut args = vec![
        "--listen".to_string(),
        "zvt@127.0.0.1:0".to_string(),
        "--bank".to_string(),
        bank_addr,
        "--zvt-password".to_string(),
        PASSWORD.to_string(),
    ];
    if let Some(c) = cards {
        let path = dir.join("cards.toml");
        std::fs::write(&path, c).unwrap();
        args.push("--cards".into());
        args.push(path.to_string_lossy().into_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Agent::spawn(&args, &dir.join("journal"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Generous: the machine is loaded; nothing here measures speed.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// Every packet of a sequence, in order; an error (a packet the crate cannot read, or an
/// answer of a type the sequence does not expect) ends it.
async fn collect<S: futures::Stream>(s: S) -> Vec<S::Item> {
    tokio::time::timeout(LIMIT, s.collect::<Vec<_>>())
        .await
        .expect("the sequence ends in time")
}

async fn register(
    sock: &mut TcpStream,
    password: usize,
) -> Result<packets::CompletionData, String> {
    let reg = packets::Registration {
        password,
        // Receipts for payments and administration to the till, intermediate status, text
        // blocks: what EVerest's charger registers with.
        config_byte: 0xDE,
        currency: Some(978),
        tlv: None,
    };
    let mut got = collect(sequences::Registration::into_stream(&reg, sock)).await;
    assert_eq!(got.len(), 1, "one answer to a registration");
    match got.remove(0).map_err(|e| e.to_string())? {
        sequences::RegistrationResponse::CompletionData(c) => Ok(c),
    }
}

/// Sends `packet`, waits for the PT's ACK and reads every answer with the crate's parser for
/// `R`, acknowledging each, until `ends` says the command is over: what the crate's sequences
/// do, for commands it does not ship.
async fn run_command<T, R>(sock: &mut TcpStream, packet: &T, ends: fn(&R) -> bool) -> Vec<R>
where
    T: ZvtSerializer + Sync + Send,
    encoding::Default: encoding::Encoding<T>,
    R: ZvtParser,
{
    tokio::time::timeout(LIMIT, async {
        tokio::pin!(sock);
        sequences::write_with_ack_async(packet, &mut sock)
            .await
            .expect("the PT acknowledges the command");
        let mut all = Vec::new();
        loop {
            let bytes = sequences::read_packet_async(&mut sock).await.unwrap();
            let p = R::zvt_parse(&bytes)
                .unwrap_or_else(|e| panic!("the zvt crate reads {bytes:02X?}: {e:?}"));
            sock.write_all(&packets::Ack {}.zvt_serialize())
                .await
                .unwrap();
            let end = ends(&p);
            all.push(p);
            if end {
                return all;
            }
        }
    })
    .await
    .expect("the command ends in time")
}

/// [`run_command`] with the crate's `AuthorizationResponse` (the answer set of 06 01, 06 22
/// and 06 30), until completion or abort.
async fn run_payment<T>(sock: &mut TcpStream, packet: &T) -> Vec<AuthorizationResponse>
where
    T: ZvtSerializer + Sync + Send,
    encoding::Default: encoding::Encoding<T>,
{
    run_command(sock, packet, |p| {
        matches!(
            p,
            AuthorizationResponse::CompletionData(_) | AuthorizationResponse::Abort(_)
        )
    })
    .await
}

fn status_info(answers: &[AuthorizationResponse]) -> &packets::StatusInformation {
    answers
        .iter()
        .find_map(|a| match a {
            AuthorizationResponse::StatusInformation(s) => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no status information in {answers:?}"))
}

fn receipt_lines(answers: &[AuthorizationResponse]) -> Vec<String> {
    answers
        .iter()
        .flat_map(|a| match a {
            AuthorizationResponse::PrintTextBlock(b) => b
                .tlv
                .as_ref()
                .and_then(|t| t.lines.as_ref())
                .map(|l| l.lines.clone())
                .unwrap_or_default(),
            AuthorizationResponse::PrintLine(l) => vec![l.text.clone()],
            _ => Vec::new(),
        })
        .collect()
}

fn pay(minor: usize) -> Authorisation {
    Authorisation {
        amount: Some(minor),
        currency: Some(978),
    }
}

#[test]
fn zvt_crate_registers_pays_and_closes_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, agent) = start(dir.path(), None);
    let addr = agent.addr("zvt");
    rt().block_on(async {
        let mut sock = connect(addr).await;
        let c = register(&mut sock, PASSWORD).await.expect("registered");
        assert_eq!(c.currency, Some(978));

        // A payment of 12.50 EUR.
        let answers = run_payment(&mut sock, &pay(1250)).await;
        assert!(
            matches!(
                answers.first(),
                Some(AuthorizationResponse::IntermediateStatusInformation(_))
            ),
            "intermediate status first: {answers:?}"
        );
        let info = status_info(&answers);
        assert_eq!(info.result_code, Some(0));
        assert_eq!(info.amount, Some(1250));
        assert_eq!(info.currency, Some(978));
        assert!(info.trace_number.is_some());
        assert!(info.receipt_no.is_some());
        assert!(
            matches!(
                answers.last(),
                Some(AuthorizationResponse::CompletionData(_))
            ),
            "{answers:?}"
        );
        // Both receipt copies came as text blocks; the card number on them is masked.
        let lines = receipt_lines(&answers);
        assert!(lines.len() > 4, "receipt lines: {lines:?}");
        let all = lines.join("\n");
        assert!(all.contains("0119"), "{all}");
        assert!(!all.contains("4761739001010119"), "{all}");

        // End of day: status information with the total, then completion.
        let eod = packets::EndOfDay { password: PASSWORD };
        let got = collect(sequences::EndOfDay::into_stream(&eod, &mut sock)).await;
        let got: Vec<_> = got
            .into_iter()
            .map(|r| r.expect("the zvt crate reads it"))
            .collect();
        assert!(
            got.iter().any(|p| matches!(
                p,
                sequences::EndOfDayResponse::StatusInformation(s) if s.result_code == Some(0)
            )),
            "{got:?}"
        );
        assert!(
            matches!(
                got.last(),
                Some(sequences::EndOfDayResponse::CompletionData(_))
            ),
            "{got:?}"
        );
    });
    // The bank saw the payment.
    assert!(
        bank.auths().iter().any(|a| a.to_string().contains("1250")),
        "{:?}",
        bank.auths()
    );
}

#[test]
fn zvt_wrong_password_never_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, agent) = start(dir.path(), None);
    let addr = agent.addr("zvt");
    rt().block_on(async {
        let mut sock = connect(addr).await;
        // Registration with a wrong password: no completion (the crate reads the abort as
        // an answer its registration does not expect).
        assert!(register(&mut sock, 654_321).await.is_err());

        let mut sock = connect(addr).await;
        register(&mut sock, PASSWORD).await.expect("registered");
        let eod = packets::EndOfDay { password: 111_111 };
        let got = collect(sequences::EndOfDay::into_stream(&eod, &mut sock)).await;
        let got: Vec<_> = got.into_iter().map(|r| r.unwrap()).collect();
        match got.as_slice() {
            [sequences::EndOfDayResponse::Abort(a)] => assert_eq!(a.error, 0x83),
            other => panic!("a wrong password must be refused: {other:?}"),
        }
        // The reversal of a payment with a wrong password is refused too.
        let answers = run_payment(&mut sock, &pay(700)).await;
        let receipt = status_info(&answers).receipt_no.unwrap();
        let answers = run_payment(
            &mut sock,
            &Reversal {
                password: 999_999,
                receipt_no: Some(receipt),
            },
        )
        .await;
        match answers.as_slice() {
            [AuthorizationResponse::Abort(a)] => assert_eq!(a.error, 0x83),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn zvt_reversal_by_receipt_number_of_an_earlier_payment() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, agent) = start(dir.path(), None);
    let addr = agent.addr("zvt");
    rt().block_on(async {
        let mut sock = connect(addr).await;
        register(&mut sock, PASSWORD).await.unwrap();
        let first = run_payment(&mut sock, &pay(1111)).await;
        let first_no = status_info(&first).receipt_no.unwrap();
        let second = run_payment(&mut sock, &pay(2222)).await;
        assert_ne!(status_info(&second).receipt_no.unwrap(), first_no);

        // The first payment is not the last one; it is reversed by its receipt number, on a
        // new connection (the payment application keeps the batch, not the session).
        drop(sock);
        let mut sock = connect(addr).await;
        register(&mut sock, PASSWORD).await.unwrap();
        let rev = Reversal {
            password: PASSWORD,
            receipt_no: Some(first_no),
        };
        let answers = run_payment(&mut sock, &rev).await;
        let info = status_info(&answers);
        assert_eq!(info.result_code, Some(0), "{answers:?}");
        assert_eq!(info.amount, Some(1111));
        assert!(matches!(
            answers.last(),
            Some(AuthorizationResponse::CompletionData(_))
        ));

        // Again: already reversed. And a number that names nothing.
        for no in [first_no, 9_999] {
            let answers = run_payment(
                &mut sock,
                &Reversal {
                    password: PASSWORD,
                    receipt_no: Some(no),
                },
            )
            .await;
            // B4 "already reversed", B5 "reversal not possible" (PA00P015 chapter 10).
            let want = if no == first_no { 0xB4 } else { 0xB5 };
            match answers.last() {
                Some(AuthorizationResponse::Abort(a)) => assert_eq!(a.error, want, "{answers:?}"),
                other => panic!("receipt {no}: {other:?}"),
            }
        }
    });
    // At the bank: the first payment reversed (once), the second one standing.
    let state = |l: &serde_json::Value, amount: u64| {
        l["auths"].as_array().and_then(|a| {
            a.iter()
                .find(|x| x["amount"] == amount)
                .map(|x| (x["state"].clone(), x["reversal_messages"].clone()))
        })
    };
    let l = bank.wait_for("the first payment reversed", |l| {
        state(l, 1111).is_some_and(|(s, _)| s == "reversed")
    });
    assert_eq!(state(&l, 1111).unwrap().1, 1);
    assert_eq!(state(&l, 2222).unwrap().0, "approved");
}

#[test]
fn zvt_status_enquiry_diagnosis_and_abort() {
    let dir = tempfile::tempdir().unwrap();
    // The second card takes long enough for the till to abort while it waits.
    let cards = "[[card]]\npan = \"4761739001010119\"\n\
        [[card]]\npan = \"4761739001010119\"\ndelay = \"20s\"\n";
    let (_bank, agent) = start(dir.path(), Some(cards));
    let addr = agent.addr("zvt");
    rt().block_on(async {
        let mut sock = connect(addr).await;
        register(&mut sock, PASSWORD).await.unwrap();

        let se = packets::StatusEnquiry {
            password: None,
            service_byte: None,
            tlv: None,
        };
        let got = collect(sequences::StatusEnquiry::into_stream(&se, &mut sock)).await;
        assert!(
            matches!(
                got.last(),
                Some(Ok(sequences::StatusEnquiryResponse::CompletionData(_)))
            ),
            "{got:?}"
        );

        let diag = packets::Diagnosis { tlv: None };
        let got = collect(sequences::Diagnosis::into_stream(&diag, &mut sock)).await;
        match got.last() {
            Some(Ok(sequences::DiagnosisResponse::CompletionData(c))) => {
                assert_eq!(c.result_code, Some(0), "the bank answers its echo")
            }
            other => panic!("{other:?}"),
        }

        // A quick payment uses the first card; the second waits 20 s: abort it.
        let _ = run_payment(&mut sock, &pay(100)).await;
        let (rd, mut wr) = sock.into_split();
        let waiter = tokio::spawn(async move {
            tokio::pin!(rd);
            let mut all = Vec::new();
            loop {
                let bytes = sequences::read_packet_async(&mut rd).await.unwrap();
                all.push(bytes.clone());
                if bytes.starts_with(&[0x06, 0x1E]) || bytes.starts_with(&[0x06, 0x0F]) {
                    return all;
                }
            }
        });
        wr.write_all(&pay(200).zvt_serialize()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        wr.write_all(&AbortCommand {}.zvt_serialize())
            .await
            .unwrap();
        // Acknowledge what comes, as a till does: one ACK per terminal packet suffices here
        // as the PT waits for each before the next.
        let all = tokio::time::timeout(LIMIT, async {
            let mut waiter = waiter;
            loop {
                tokio::select! {
                    r = &mut waiter => break r.unwrap(),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                        wr.write_all(&packets::Ack {}.zvt_serialize()).await.unwrap();
                    }
                }
            }
        })
        .await
        .expect("the aborted payment ends in time");
        let last = all.last().unwrap();
        let abort = packets::Abort::zvt_deserialize(last).expect("an abort").0;
        assert_eq!(abort.error, 0x6C, "abort via abort key: {all:02X?}");
    });
}

/// 06 24 book total, declared with the zvt crate's derive macro (PA00P015 2.9); zvt 0.1.0
/// ships no packet for it. Its answers are those of a partial reversal (06 23).
#[derive(Debug, PartialEq, Zvt)]
#[zvt_control_field(class = 0x06, instr = 0x24)]
struct BookTotal {
    #[zvt_bmp(number = 0x87, length = length::Fixed<2>, encoding = encoding::Bcd)]
    receipt_no: Option<usize>,

    #[zvt_bmp(number = 0x04, length = length::Fixed<6>, encoding = encoding::Bcd)]
    amount: Option<usize>,

    #[zvt_bmp(number = 0x49, length = length::Fixed<2>, encoding = encoding::Bcd)]
    currency: Option<usize>,
}

/// A reservation of `minor` EUR cents through the crate's own `Reservation` sequence; the
/// receipt number from its status information.
async fn reserve(sock: &mut TcpStream, minor: usize) -> usize {
    let req = packets::Reservation {
        amount: Some(minor),
        currency: Some(978),
        // Payment type 0x40 as EVerest's charger sends it (PT decides).
        payment_type: Some(0x40),
        ..packets::Reservation::default()
    };
    let got = collect(sequences::Reservation::into_stream(&req, sock)).await;
    let got: Vec<_> = got
        .into_iter()
        .map(|r| r.expect("the zvt crate reads every answer to a reservation"))
        .collect();
    assert!(
        matches!(got.last(), Some(AuthorizationResponse::CompletionData(_))),
        "{got:?}"
    );
    let info = status_info(&got);
    assert_eq!(info.result_code, Some(0), "{got:?}");
    assert_eq!(info.amount, Some(minor));
    info.receipt_no.expect("a receipt number")
}

/// The answers of a partial reversal, pre-authorisation reversal or book total, every one
/// read by the crate.
async fn pre_auth_answers<S, E>(s: S) -> Vec<sequences::PartialReversalResponse>
where
    S: futures::Stream<Item = Result<sequences::PartialReversalResponse, E>>,
    E: std::fmt::Debug,
{
    collect(s)
        .await
        .into_iter()
        .map(|r| r.expect("the zvt crate reads every answer"))
        .collect()
}

/// [`run_command`] for a 06 24 (the crate does not ship it) with the crate's
/// `PartialReversalResponse` (the answer set of 06 23 and 06 25), until completion or abort.
async fn run_book<T>(sock: &mut TcpStream, packet: &T) -> Vec<sequences::PartialReversalResponse>
where
    T: ZvtSerializer + Sync + Send,
    encoding::Default: encoding::Encoding<T>,
{
    run_command(sock, packet, |p| {
        matches!(
            p,
            sequences::PartialReversalResponse::CompletionData(_)
                | sequences::PartialReversalResponse::PartialReversalAbort(_)
        )
    })
    .await
}

fn pre_auth_abort(got: &[sequences::PartialReversalResponse]) -> &packets::PartialReversalAbort {
    match got.last() {
        Some(sequences::PartialReversalResponse::PartialReversalAbort(a)) => a,
        other => panic!("an abort: {other:?} in {got:?}"),
    }
}

fn completed(got: &[sequences::PartialReversalResponse]) -> &packets::StatusInformation {
    assert!(
        matches!(
            got.last(),
            Some(sequences::PartialReversalResponse::CompletionData(_))
        ),
        "{got:?}"
    );
    got.iter()
        .find_map(|a| match a {
            sequences::PartialReversalResponse::StatusInformation(s) => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no status information in {got:?}"))
}

/// The bank's ledger entry of the reservation of `reserved` cents.
fn reservation(l: &serde_json::Value, reserved: u64) -> Option<serde_json::Value> {
    l["auths"]
        .as_array()?
        .iter()
        .find(|x| x["kind"] == "reservation" && x["reserved"] == reserved)
        .cloned()
}

#[test]
fn zvt_crate_reservation_then_partial_reversal() {
    let dir = tempfile::tempdir().unwrap();
    // A chip card whose data carries the card number (5A) and track 2 (57), as real ones do.
    let cards = "[[card]]\npan = \"4761739001010119\"\nentry = \"chip\"\n\
        emv = \"5A08476173900101011957094761739001010119D2\"\n";
    let (bank, agent) = start(dir.path(), Some(&cards.repeat(2)));
    let addr = agent.addr("zvt");
    rt().block_on(async {
        let mut sock = connect(addr).await;
        register(&mut sock, PASSWORD).await.unwrap();
        // EV charging: reserve 50.00, charge 31.40, release the unused 18.60.
        let receipt = reserve(&mut sock, 5000).await;
        let req = packets::PartialReversal {
            receipt_no: Some(receipt),
            amount: Some(1860),
            payment_type: Some(0x40),
            currency: Some(978),
            tlv: None,
        };
        let got = pre_auth_answers(sequences::PartialReversal::into_stream(&req, &mut sock)).await;
        let info = completed(&got);
        assert_eq!(info.result_code, Some(0), "{got:?}");

        // Again: the reservation is booked; B8 with the open reservations' receipt numbers
        // (none: FF FF).
        let got = pre_auth_answers(sequences::PartialReversal::into_stream(&req, &mut sock)).await;
        let abort = pre_auth_abort(&got);
        assert_eq!(abort.error, 0xB8, "{got:?}");
        assert_eq!(abort.receipt_no, Some(0xFFFF), "{got:?}");

        // A second reservation stays open: the query (receipt FF FF) names it.
        let open = reserve(&mut sock, 2000).await;
        let query = packets::PartialReversal {
            receipt_no: Some(0xFFFF),
            ..packets::PartialReversal::default()
        };
        let got =
            pre_auth_answers(sequences::PartialReversal::into_stream(&query, &mut sock)).await;
        let abort = pre_auth_abort(&got);
        assert_eq!(
            (abort.error, abort.receipt_no),
            (0xB8, Some(open)),
            "{got:?}"
        );

        // Released in full with the crate's PreAuthReversal (06 25).
        let rel = packets::PreAuthReversal {
            payment_type: Some(0x40),
            currency: Some(978),
            receipt_no: Some(open),
        };
        let got = pre_auth_answers(sequences::PreAuthReversal::into_stream(&rel, &mut sock)).await;
        assert_eq!(completed(&got).result_code, Some(0), "{got:?}");
        let got = pre_auth_answers(sequences::PreAuthReversal::into_stream(&rel, &mut sock)).await;
        assert_eq!(
            pre_auth_abort(&got).error,
            0xB8,
            "released already: {got:?}"
        );
    });
    // The agent's debug log (every bank frame in hex) and journal hold no card number: the
    // 0100 carries the card's chip data, masked in the log as a 0200's is.
    drop(agent);
    std::fs::remove_file(dir.path().join("cards.toml")).unwrap();
    let (files, found) = ecrlink_tests::pan::scan_tree(dir.path(), &["4761739001010119"]);
    assert!(files >= 2, "{files} files");
    assert!(found.is_empty(), "{found:?}");
    // The bank reserved 50.00 and booked 31.40; the second reservation is reversed.
    let l = bank.wait_for("the reservations settled", |l| {
        reservation(l, 2000).is_some_and(|r| r["state"] == "reversed")
    });
    let r = reservation(&l, 5000).expect("the first reservation");
    assert_eq!(r["booked"], 3140, "{r:#}");
    assert_eq!(r["approved_amount"], 3140, "{r:#}");
    assert_eq!(r["state"], "approved", "{r:#}");
}

#[test]
fn zvt_crate_reservation_then_book_total() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, agent) = start(dir.path(), None);
    let addr = agent.addr("zvt");
    rt().block_on(async {
        let mut sock = connect(addr).await;
        register(&mut sock, PASSWORD).await.unwrap();
        let receipt = reserve(&mut sock, 4000).await;
        let book = |receipt: usize, minor: usize| BookTotal {
            receipt_no: Some(receipt),
            amount: Some(minor),
            currency: Some(978),
        };
        // More than reserved: B7, nothing booked.
        let got = run_book(&mut sock, &book(receipt, 4001)).await;
        assert_eq!(pre_auth_abort(&got).error, 0xB7, "{got:?}");
        // A receipt number that names no reservation: B8.
        let got = run_book(&mut sock, &book(9_999, 100)).await;
        assert_eq!(pre_auth_abort(&got).error, 0xB8, "{got:?}");
        // The final amount: 27.15 of the 40.00.
        let got = run_book(&mut sock, &book(receipt, 2715)).await;
        let info = completed(&got);
        assert_eq!((info.result_code, info.amount), (Some(0), Some(2715)));
        // Booked already: B8.
        let got = run_book(&mut sock, &book(receipt, 2715)).await;
        assert_eq!(pre_auth_abort(&got).error, 0xB8, "{got:?}");
        // No end of day while a reservation is open (B8): after the batch closed its receipt
        // number could not name it any more. Released, the day closes.
        let open = reserve(&mut sock, 1500).await;
        let eod = packets::EndOfDay { password: PASSWORD };
        let got = collect(sequences::EndOfDay::into_stream(&eod, &mut sock)).await;
        match got.last() {
            Some(Ok(sequences::EndOfDayResponse::Abort(a))) => assert_eq!(a.error, 0xB8),
            other => panic!("refused: {other:?} in {got:?}"),
        }
        let rel = packets::PreAuthReversal {
            payment_type: None,
            currency: Some(978),
            receipt_no: Some(open),
        };
        let got = pre_auth_answers(sequences::PreAuthReversal::into_stream(&rel, &mut sock)).await;
        assert_eq!(completed(&got).result_code, Some(0), "{got:?}");
        let got = collect(sequences::EndOfDay::into_stream(&eod, &mut sock)).await;
        assert!(
            matches!(
                got.last(),
                Some(Ok(sequences::EndOfDayResponse::CompletionData(_)))
            ),
            "{got:?}"
        );
    });
    let l = bank.wait_for("the reservation booked", |l| {
        reservation(l, 4000).is_some_and(|r| r["booked"] == 2715)
    });
    let r = reservation(&l, 4000).unwrap();
    assert_eq!(r["approved_amount"], 2715, "{r:#}");
    assert_eq!(r["state"], "settled", "{r:#}");
    // The terminal's totals (27.15 booked) matched the bank's at the end of day.
    let rec = &l["reconciliations"][0];
    assert_eq!(rec["matched"], true, "{l:#}");
    assert_eq!(reservation(&l, 1500).unwrap()["state"], "reversed", "{l:#}");
}

#[test]
fn zvt_crate_books_a_reservation_made_before_the_agent_was_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, mut agent) = start(dir.path(), None);
    let (first, second) = rt().block_on(async {
        let mut sock = connect(agent.addr("zvt")).await;
        register(&mut sock, PASSWORD).await.unwrap();
        let first = reserve(&mut sock, 6000).await;
        // A payment after it: the reservation is not the last transaction.
        let _ = run_payment(&mut sock, &pay(990)).await;
        let second = reserve(&mut sock, 3000).await;
        (first, second)
    });
    // Charging goes on for hours; the agent dies meanwhile (kill -9) and starts again on the
    // same journal, then is restarted once more cleanly (a new journal file each time).
    agent.kill9();
    let mut agent = start_agent(dir.path(), None, &bank);
    assert_eq!(agent.terminate(), Some(0));
    let agent = start_agent(dir.path(), None, &bank);
    rt().block_on(async {
        let mut sock = connect(agent.addr("zvt")).await;
        register(&mut sock, PASSWORD).await.unwrap();
        let got = run_book(
            &mut sock,
            &BookTotal {
                receipt_no: Some(first),
                amount: Some(4250),
                currency: Some(978),
            },
        )
        .await;
        let info = completed(&got);
        assert_eq!((info.result_code, info.amount), (Some(0), Some(4250)));
        let req = packets::PartialReversal {
            receipt_no: Some(second),
            amount: Some(1000),
            payment_type: Some(0x40),
            currency: Some(978),
            tlv: None,
        };
        let got = pre_auth_answers(sequences::PartialReversal::into_stream(&req, &mut sock)).await;
        assert_eq!(completed(&got).result_code, Some(0), "{got:?}");
    });
    let l = bank.wait_for("both reservations booked", |l| {
        reservation(l, 6000).is_some_and(|r| r["booked"] == 4250)
            && reservation(l, 3000).is_some_and(|r| r["booked"] == 2000)
    });
    assert_eq!(reservation(&l, 6000).unwrap()["reversal_messages"], 0);
}
