//! The agent against a till that behaves like the only public ČSOB client
//! (`ecrlink_tests::csob_client`: one kept connection, single 1024-byte reads, its field forms),
//! issue 14 points 5–10: a short variable symbol as a plain `S` field, three-digit amounts, the
//! B0 and B2 of an instant answer in one write, receipt frames within one read, idle tills
//! kept, and no receipt of another transaction after "bank unavailable". Real agent and bank
//! processes, fast and slow cards; the write-level and idle cases also run the agent's till
//! driver in process (a recorded stream, a paused clock) where only that is deterministic.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecrlink_tests::csob_client::{self, Outcome, PublicCsobClient, READ_SIZE};
use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, TERMINAL_ID};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// A bank and a ČSOB agent with `extra` arguments; `slow` cards take 1.5 s to present.
fn start(dir: &Path, slow: bool, extra: &[&str]) -> (BankProc, AgentProc) {
    let bank = BankProc::spawn(BINS, &dir.join("bank"), None);
    let mut spec = AgentSpec::new(&["csob"], bank.addr).arg(extra);
    if slow {
        let cards = dir.join("cards.toml");
        std::fs::write(
            &cards,
            "[[card]]\npan = \"4761739001010119\"\nentry = \"chip\"\ndelay = \"1500ms\"\n",
        )
        .unwrap();
        spec = spec.arg(&["--cards", cards.to_str().unwrap()]);
    }
    let agent = AgentProc::spawn(BINS, &dir.join("agent"), &spec).expect("agent starts");
    (bank, agent)
}

fn client(agent: &AgentProc) -> PublicCsobClient {
    PublicCsobClient::connect(agent.addr("csob"), TERMINAL_ID).expect("connect")
}

fn pay(c: &mut PublicCsobClient, minor: u64, order_id: &str) -> Outcome {
    match c.payment(minor, order_id) {
        Ok(o) => o,
        Err(e) => panic!("{e}; reads: {:?}", reads(c)),
    }
}

fn reads(c: &PublicCsobClient) -> Vec<String> {
    c.reads
        .iter()
        .map(|r| String::from_utf8_lossy(r).replace(['\x1c', '\x1d'], "|"))
        .collect()
}

/// Point 5: a variable symbol of fewer than ten characters, which the public client sends as a
/// plain `S` field, comes back in the B2 and is printed on the receipt.
#[test]
fn short_variable_symbol_in_a_plain_s_field_is_answered_and_printed() {
    for slow in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (_bank, agent) = start(dir.path(), slow, &[]);
        let mut c = client(&agent);
        let o = pay(&mut c, 12_50, "12345");
        assert_eq!(o.status, "SUCCESS", "{o:?}");
        assert!(
            c.sent
                .iter()
                .any(|f| f.windows(7).any(|w| w == b"\x1cS12345")),
            "the client sends a plain S field"
        );
        let b2 = o.response.as_ref().unwrap();
        assert_eq!(b2.order_id(), "12345", "B2 {b2:?}");
        let merchant = o.merchant_receipt.join("\n");
        assert!(
            merchant.contains("12345"),
            "slow card {slow}: receipt without the symbol:\n{merchant}"
        );
        assert!(o.customer_receipt.join("\n").contains("12345"));
        // A symbol of ten characters or more goes in the `9` group, as before.
        let o = pay(&mut c, 13_00, "2026000123");
        assert_eq!(o.response.as_ref().unwrap().order_id(), "2026000123");
    }
}

/// Point 6: amounts are written with at least three digits (`B005`), so the public reader
/// reads the answer to a 0.05 sale and its T82 check.
#[test]
fn small_amounts_are_written_as_the_public_reader_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, agent) = start(dir.path(), false, &[]);
    let mut c = client(&agent);
    for (minor, price) in [(5, "0.05"), (50, "0.50"), (1, "0.01"), (100, "1.00")] {
        let o = pay(&mut c, minor, "");
        assert_eq!(o.status, "SUCCESS", "{o:?}");
        assert_eq!(o.price.as_deref(), Some(price), "{o:?}");
        // After a lost B2 the client asks T81 then T82 and compares: amount read again.
        let last = c.last_transaction().expect("reader").expect("a T82 answer");
        assert_eq!(last.price().unwrap().as_deref(), Some(price), "{last:?}");
        assert!(last.compare(o.response.as_ref().unwrap()).unwrap());
    }
}

/// Point 7, on the real agent: after the T80 it sends when it connects, the public client reads
/// once. The B0 and the B2 of that instant answer must come in that read; otherwise the B2
/// waits in the socket and every later request gets the answer of the one before. Many rounds,
/// with payments in between whose answers must be their own.
#[test]
fn instant_answers_arrive_in_the_read_that_waits_for_them() {
    for slow in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (_bank, agent) = start(dir.path(), slow, &[]);
        let mut c = client(&agent);
        let rounds = if slow { 4 } else { 40 };
        for i in 0..rounds {
            let got = c.init().unwrap_or_else(|e| panic!("{e}"));
            let b2 = got.iter().find(|r| r.message_type() == "B2");
            assert!(
                b2.is_some_and(|r| r.transaction() == Some("T80") && r.result() == Some("000")),
                "round {i} (slow card {slow}): the single read held {:?}, not the T80's B0 and B2",
                got.iter()
                    .map(|r| r.message_type().to_string())
                    .collect::<Vec<_>>()
            );
            if i % 4 == 3 {
                let minor = 1_00 + i;
                let o = pay(&mut c, minor, &format!("R{i}"));
                let r = o.response.as_ref().unwrap();
                assert_eq!(r.transaction(), Some("T00"), "round {i}: {o:?}");
                assert_eq!(
                    o.price,
                    Some(format!("{}.{:02}", minor / 100, minor % 100)),
                    "round {i}: the answer belongs to another request: {o:?}"
                );
                assert_eq!(r.order_id(), format!("R{i}"));
            }
        }
    }
}

/// Point 8: every receipt frame fits the public client's single 1024-byte read, at every
/// width, in Czech (the widest text): an approved sale is not reported lost.
#[test]
fn receipt_frames_fit_one_read_at_every_width() {
    for width in ["42", "48", "32", "24"] {
        let dir = tempfile::tempdir().unwrap();
        let (_bank, agent) = start(
            dir.path(),
            false,
            &[
                "--receipt-width",
                width,
                "--receipt-lang",
                "cs",
                "--merchant-name",
                "Kavárna U Zlatého Tygra, Husova 17, Praha 1",
            ],
        );
        let mut c = client(&agent);
        let o = pay(&mut c, 123_456, "2026000777");
        assert_eq!(
            o.status,
            "SUCCESS",
            "width {width}: {o:?}; reads {:?}",
            reads(&c)
        );
        let code = o.response.as_ref().unwrap().approval_code().to_string();
        assert!(!code.is_empty());
        for (copy, lines) in [
            ("merchant", &o.merchant_receipt),
            ("customer", &o.customer_receipt),
        ] {
            let text = lines.join("\n");
            assert!(
                text.contains(&code),
                "width {width} {copy} copy lacks {code}:\n{text}"
            );
            assert!(text.contains("2026000777"), "{text}");
        }
        // Every frame the agent sent ended inside the read that took it.
        for r in &c.reads {
            assert!(r.len() <= READ_SIZE);
            assert_eq!(
                r.last(),
                Some(&0x03),
                "a read ended inside a frame: {:?}",
                reads(&c)
            );
        }
    }
}

/// Point 10: after "bank unavailable" the B2 does not say "receipt ready", and a receipt
/// request gets nothing rather than the previous sale's receipt.
#[test]
fn bank_unavailable_answer_has_no_receipt_of_the_previous_sale() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bank, agent) = start(dir.path(), false, &[]);
    let mut c = client(&agent);
    let first = pay(&mut c, 40_00, "111");
    assert_eq!(first.status, "SUCCESS", "{first:?}");
    let code = first.response.as_ref().unwrap().approval_code().to_string();
    assert!(first.merchant_receipt.join("\n").contains(&code));
    let _ = bank.child.kill();
    let _ = bank.child.wait();
    // The agent notices the bank is gone; a sale then answers R-91 (retried while the link
    // still looks up: a sale sent just before it noticed fails another way).
    let mut unavailable = None;
    for _ in 0..20 {
        let o = pay(&mut c, 41_00, "222");
        if o.response.as_ref().and_then(|r| r.result()) == Some("-91") {
            unavailable = Some(o);
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let o = unavailable.expect("a sale answered bank unavailable");
    let b2 = o.response.as_ref().unwrap();
    assert!(!b2.wants_ticket(), "R-91 B2 announces a receipt: {b2:?}");
    assert!(
        o.merchant_receipt.is_empty() && o.customer_receipt.is_empty(),
        "{o:?}"
    );
    // Asked anyway, a receipt request gets no receipt of the earlier sale.
    for sel in ["tM", "tC"] {
        let lines = c.ticket(sel).expect("reader").expect("a B4");
        let text = lines.join("\n");
        assert!(
            !text.contains(&code) && !text.contains("111"),
            "{sel} after R-91 gave the previous receipt:\n{text}"
        );
    }
}

/// Twenty mixed requests on one kept connection, cards alternately fast and slow (1.5 s): every
/// answer is the answer to its own request (its transaction code, amount and reference), the
/// connection checks and receipts in between included.
#[test]
fn twenty_mixed_requests_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let bank = BankProc::spawn(BINS, &dir.path().join("bank"), None);
    let cards = dir.path().join("cards.toml");
    std::fs::write(
        &cards,
        "[[card]]\npan = \"4761739001010119\"\ndelay = \"20ms\"\n\n\
         [[card]]\npan = \"5413330089020011\"\ndelay = \"1500ms\"\n",
    )
    .unwrap();
    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&["--cards", cards.to_str().unwrap()]);
    let agent = AgentProc::spawn(BINS, &dir.path().join("agent"), &spec).expect("agent starts");
    let mut c = client(&agent);
    assert!(c.init().unwrap().iter().any(|r| r.message_type() == "B2"));
    let mut last_approved: Option<(String, u64)> = None;
    for i in 0u64..20 {
        let minor = [5, 1_200, 99, 10_000, 7, 12_300][(i % 6) as usize] + i;
        let order = if i % 2 == 0 {
            format!("V{i}")
        } else {
            format!("2026{i:06}")
        };
        let (o, code, expected) = match i % 5 {
            3 => (c.refund(minor, &order), "T04", Some((minor, order.clone()))),
            4 if last_approved.is_some() => {
                let (approval, amount) = last_approved.take().unwrap();
                (c.reversal(&approval), "T10", Some((amount, String::new())))
            }
            _ => (
                c.payment(minor, &order),
                "T00",
                Some((minor, order.clone())),
            ),
        };
        let o = o.unwrap_or_else(|e| panic!("request {i}: {e}; reads {:?}", reads(&c)));
        assert_eq!(o.status, "SUCCESS", "request {i} ({code}): {o:?}");
        let r = o.response.as_ref().unwrap();
        assert_eq!(r.transaction(), Some(code), "request {i}: {o:?}");
        if let Some((amount, order)) = expected {
            assert_eq!(
                o.price,
                Some(format!("{}.{:02}", amount / 100, amount % 100)),
                "request {i} ({code}) answered with another amount: {o:?}"
            );
            if !order.is_empty() {
                assert_eq!(r.order_id(), order, "request {i}");
            }
        }
        if code == "T00" || code == "T04" {
            // What a reversal (of the last transaction only) can take back.
            last_approved = Some((r.approval_code().to_string(), minor));
            assert!(!o.merchant_receipt.is_empty(), "request {i}: no receipt");
        }
        // Now and then the connection check the app runs when it (re)starts.
        if i % 7 == 6 {
            assert!(
                c.init()
                    .unwrap()
                    .iter()
                    .any(|r| r.transaction() == Some("T80"))
            );
        }
    }
}

// ----- the agent's till driver in process -----

mod in_process {
    use super::*;
    use ecrlink_agent::Config;
    use ecrlink_agent::engine::Shared;
    use ecrlink_agent::till::{End, TillCtx, run_till};
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

    /// A till stream that records every write the agent makes.
    struct Recorded {
        inner: DuplexStream,
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl AsyncRead for Recorded {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Recorded {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let r = Pin::new(&mut self.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = &r {
                self.writes.lock().unwrap().push(buf[..*n].to_vec());
            }
            r
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// The till's end of an in-memory connection to the agent's till driver, the writes the
    /// agent made, its task, and what closes it.
    struct Session {
        till: DuplexStream,
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        task: tokio::task::JoinHandle<End>,
        _close: tokio::sync::oneshot::Sender<()>,
    }

    /// A ČSOB till session of the agent with its default configuration over a recorded
    /// in-memory stream. No engine runs: the test terminal request (T80) is answered by the
    /// driver itself.
    fn session() -> Session {
        let cfg = Config {
            terminal_id: TERMINAL_ID.into(),
            listen: vec!["csob@127.0.0.1:0".parse().unwrap()],
            ..Config::default()
        };
        let (engine, engine_rx) = tokio::sync::mpsc::channel(4);
        let (claims, _claims_rx) = tokio::sync::mpsc::unbounded_channel();
        let ctx = TillCtx {
            cfg: Arc::new(cfg),
            engine,
            shared: Arc::new(Shared::default()),
            claims,
            conn_id: 1,
            spoke: Arc::default(),
        };
        let (till, agent_end) = tokio::io::duplex(64 * 1024);
        let writes = Arc::new(Mutex::new(Vec::new()));
        let stream = Recorded {
            inner: agent_end,
            writes: writes.clone(),
        };
        let (close_tx, close_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _keep = (engine_rx, _claims_rx);
            run_till(
                Box::new(stream),
                Vec::new(),
                ecrlink_agent::config::DialectChoice::Fixed(ecrlink_core::session::Dialect::Csob),
                "test".into(),
                ctx,
                close_rx,
            )
            .await
        });
        Session {
            till,
            writes,
            task,
            _close: close_tx,
        }
    }

    /// Reads until a B2 is complete (10 s at most); returns the frames read.
    async fn read_answer(till: &mut DuplexStream) -> Vec<csob_client::Reply> {
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let mut buf = [0u8; READ_SIZE];
                let n = till.read(&mut buf).await.unwrap();
                assert!(n > 0, "the agent closed the till connection");
                got.extend(csob_client::frames_in_read(&buf).unwrap());
                if got.iter().any(|r| r.message_type() == "B2") {
                    return;
                }
            }
        })
        .await
        .expect("an answer");
        got
    }

    /// Point 7, deterministic: the B0 and the B2 of an answer given at once go out in one
    /// write (two writes let a till that reads once take the B0 alone).
    #[tokio::test]
    async fn instant_answer_and_its_b0_go_out_in_one_write() {
        let Session {
            mut till,
            writes,
            _close,
            ..
        } = session();
        till.write_all(&csob_client::simple_request(TERMINAL_ID, "T80"))
            .await
            .unwrap();
        let got = read_answer(&mut till).await;
        let types: Vec<_> = got.iter().map(|r| r.message_type().to_string()).collect();
        assert_eq!(types, ["B0", "B2"]);
        let w = writes.lock().unwrap().clone();
        assert_eq!(
            w.len(),
            1,
            "B0 and B2 in {} writes: {:?}",
            w.len(),
            w.iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect::<Vec<_>>()
        );
        assert!(w[0].len() <= READ_SIZE);
    }

    /// Point 9: with the default configuration a till idle for a whole day keeps its
    /// connection; its next request is answered on it.
    #[tokio::test(start_paused = true)]
    async fn idle_till_is_kept_by_default() {
        let Session {
            mut till,
            task,
            _close,
            ..
        } = session();
        for hour in 0..3 {
            till.write_all(&csob_client::simple_request(TERMINAL_ID, "T80"))
                .await
                .unwrap();
            let got = read_answer(&mut till).await;
            assert!(got.iter().any(|r| r.result() == Some("000")), "hour {hour}");
            till.write_all(&csob_client::confirm(TERMINAL_ID))
                .await
                .unwrap();
            // Eight hours without a byte (the paused clock jumps).
            tokio::time::sleep(Duration::from_secs(8 * 3600)).await;
            assert!(
                !task.is_finished(),
                "the agent dropped the idle till after hour {hour}"
            );
        }
    }
}

/// Point 9, on the real agent: a till connection is kept while idle, and TCP keepalive is on
/// for it (the kernel's keepalive timer runs on the agent's end of the idle connection, as
/// `/proc/net/tcp` shows: timer kind 2), so a till that is gone is still found.
#[test]
fn idle_till_connection_has_tcp_keepalive() {
    let dir = tempfile::tempdir().unwrap();
    let (_bank, agent) = start(dir.path(), false, &[]);
    let mut c = client(&agent);
    let got = c.init().unwrap();
    assert!(got.iter().any(|r| r.message_type() == "B2"));
    let local = c.local_addr().port();
    let agent_port = agent.addr("csob").port();
    let timer_kind = || -> Option<u32> {
        let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
        table.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port = |a: &str| u16::from_str_radix(a.rsplit(':').next()?, 16).ok();
            (port(f.get(1)?)? == agent_port && port(f.get(2)?)? == local)
                .then(|| u32::from_str_radix(f.get(5)?.split(':').next()?, 16).ok())
                .flatten()
        })
    };
    // Let the exchange settle (the last B0 acknowledged), then look.
    let mut kind = None;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        kind = timer_kind();
        if kind == Some(2) {
            break;
        }
    }
    assert_eq!(
        kind,
        Some(2),
        "no keepalive timer on the agent's end of the till connection"
    );
    // And the connection still serves after the quiet time.
    let o = pay(&mut c, 9_00, "KEEP");
    assert_eq!(o.status, "SUCCESS", "{o:?}");
}

/// A bank and a ČSOB agent whose card takes 4 s to present (time for a till to send its
/// request again while the sale runs).
fn start_slow_card(dir: &Path) -> (BankProc, AgentProc) {
    let bank = BankProc::spawn(BINS, &dir.join("bank"), None);
    let cards = dir.join("cards.toml");
    std::fs::write(
        &cards,
        "[[card]]\npan = \"4761739001010119\"\nentry = \"chip\"\ndelay = \"4s\"\n",
    )
    .unwrap();
    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&["--cards", cards.to_str().unwrap()]);
    let agent = AgentProc::spawn(BINS, &dir.join("agent"), &spec).expect("agent starts");
    (bank, agent)
}

/// Sends `make()`'s frame once its header time differs from `first`'s (header times count in
/// seconds).
fn send_with_new_time(
    c: &mut PublicCsobClient,
    first: &[u8],
    make: impl Fn(&PublicCsobClient) -> Vec<u8>,
) {
    let mut again = make(c);
    while again[13..25] == first[13..25] {
        std::thread::sleep(Duration::from_millis(200));
        again = make(c);
    }
    c.send(&again).unwrap();
}

/// Issue 13, defect 13: a till that sends its sale again (same amount and reference, a new
/// header time) while the card is being read was answered B2 T00 R-21 "discarded" at once,
/// although the sale went on and was charged. The repeat is the same request: the till gets
/// one B2, the sale's approval, and the bank one authorization.
#[test]
fn the_same_sale_sent_again_while_it_runs_is_answered_once_with_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, agent) = start_slow_card(dir.path());
    let mut c = client(&agent);
    assert!(c.init().unwrap().iter().any(|r| r.result() == Some("000")));
    let b1 = c.amount_request("T00", 12_50, "ORDER12345");
    c.send(&b1).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    send_with_new_time(&mut c, &b1, |c| {
        c.amount_request("T00", 12_50, "ORDER12345")
    });
    let answer = c
        .wait_answer(Duration::from_secs(60))
        .unwrap()
        .unwrap_or_else(|| panic!("no B2; reads: {:?}", reads(&c)));
    let b0 = c.confirm();
    c.send(&b0).unwrap();
    assert_eq!(
        (answer.transaction(), answer.result()),
        (Some("T00"), Some("000")),
        "the till was not told the sale's result; reads: {:?}",
        reads(&c)
    );
    assert_eq!(answer.price().unwrap().as_deref(), Some("12.50"));
    // No second answer follows.
    let more = c.wait_answer(Duration::from_secs(3)).unwrap();
    assert!(
        more.is_none(),
        "a second B2: {more:?}; reads: {:?}",
        reads(&c)
    );
    let auths = bank.auths();
    assert_eq!(auths.len(), 1, "{auths:#?}");
    assert_eq!(auths[0]["amount"], 1250);
    assert_eq!(auths[0]["code"], "00");
}

/// Issue 13, defect 13: another request while a sale runs is refused with R-02 (busy), with
/// its own code, amount and reference, not R-21; the running sale then answers as usual.
#[test]
fn another_sale_while_one_runs_is_refused_busy_and_the_first_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, agent) = start_slow_card(dir.path());
    let mut c = client(&agent);
    assert!(c.init().unwrap().iter().any(|r| r.result() == Some("000")));
    let b1 = c.amount_request("T00", 12_50, "ORDER12345");
    c.send(&b1).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    send_with_new_time(&mut c, &b1, |c| c.amount_request("T00", 9_99, "OTHER99999"));
    let refusal = c
        .wait_answer(Duration::from_secs(60))
        .unwrap()
        .unwrap_or_else(|| panic!("no B2; reads: {:?}", reads(&c)));
    let b0 = c.confirm();
    c.send(&b0).unwrap();
    assert_eq!(
        refusal.result(),
        Some("-02"),
        "not refused as busy; reads: {:?}",
        reads(&c)
    );
    assert_eq!(refusal.price().unwrap().as_deref(), Some("9.99"));
    assert_eq!(refusal.order_id(), "OTHER99999");
    let answer = c
        .wait_answer(Duration::from_secs(60))
        .unwrap()
        .unwrap_or_else(|| panic!("no B2 for the sale; reads: {:?}", reads(&c)));
    let b0 = c.confirm();
    c.send(&b0).unwrap();
    assert_eq!(
        (answer.result(), answer.price().unwrap().as_deref()),
        (Some("000"), Some("12.50")),
        "reads: {:?}",
        reads(&c)
    );
    let auths = bank.auths();
    assert_eq!(auths.len(), 1, "{auths:#?}");
    assert_eq!(auths[0]["amount"], 1250);
}
