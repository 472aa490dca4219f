//! What the payment application's RAM is: the size of [`Terminal`] and of every part of it,
//! printed (`cargo test -p ecrlink-core --lib terminal::sizes -- --nocapture`) and held to
//! budgets so that a change that grows it shows up here, not on the firmware's RAM.
//!
//! Compiled for tests only: the parent module declares it `#[cfg(test)]`. Sizes are of the
//! host the tests run on (64-bit here: `usize` and pointers are 8 bytes); on the firmware's
//! 32-bit target most are a little smaller (`docs/PERFORMANCE.md` has both).

use core::mem::size_of;

use super::*;
use crate::journal::Record;

fn rows() -> std::vec::Vec<(&'static str, usize)> {
    std::vec![
        ("Terminal", size_of::<Terminal>()),
        ("  cfg: Config", size_of::<Config>()),
        ("  journal: JournalState", size_of::<JournalState>()),
        ("    Checkpoint", size_of::<Checkpoint>()),
        ("  records: Records", size_of::<Records>()),
        ("    Queued (one of MAX_RECORDS)", size_of::<Queued>()),
        ("    Payload (one of MAX_PAYLOADS)", size_of::<Payload>()),
        (
            "Record (journal, not kept by Terminal)",
            size_of::<Record>()
        ),
        ("AuthStarted", size_of::<AuthStarted>()),
        (
            "  answers: Deque<Answer, MAX_ANSWERS>",
            size_of::<Deque<Answer, MAX_ANSWERS>>()
        ),
        ("    Answer", size_of::<Answer>()),
        ("      Response", size_of::<Response>()),
        (
            "  bank_out: Deque<BankCommand, MAX_BANK_OUT>",
            size_of::<Deque<BankCommand, MAX_BANK_OUT>>()
        ),
        ("    BankCommand", size_of::<BankCommand>()),
        (
            "  prints: Deque<PrintJob, MAX_PRINTS>",
            size_of::<Deque<PrintJob, MAX_PRINTS>>()
        ),
        ("    PrintJob", size_of::<PrintJob>()),
        ("  txn: Option<Txn>", size_of::<Option<Txn>>()),
        ("    Step", size_of::<Step>()),
        ("  volatile", size_of::<Vec<PendingReversal, 4>>()),
        ("  pans", size_of::<Vec<(u32, u32, Pan), MAX_PANS>>()),
        ("  book: Book", size_of::<book::Book>()),
        ("  day: DayTotals", size_of::<DayTotals>()),
        ("  lockout: Lockout", size_of::<Lockout>()),
        ("CardData (handle_card)", size_of::<CardData>()),
        ("Request (handle_request)", size_of::<Request>()),
        ("BankAnswer (handle_bank_answer)", size_of::<BankAnswer>()),
    ]
}

#[test]
fn sizes() {
    for (name, size) in rows() {
        std::println!("| {name:<46} | {size:>6} |");
    }
}

/// The budget on a 64-bit host: 30 976 bytes before issue 18, when the record queue held
/// eight records as large as a checkpoint (16 472 bytes of it); the bounds are today's sizes,
/// so that any growth fails here (18 128 and 2 832 bytes; the firmware's `APP` static, on
/// thumbv7em, is 16 976).
#[cfg(target_pointer_width = "64")]
#[test]
fn the_application_stays_within_its_budget() {
    let app = size_of::<Terminal>();
    assert!(app <= 18_128, "Terminal is {app} bytes");
    let records = size_of::<Records>();
    assert!(records <= 2_832, "its record queue is {records} bytes");
}

fn card() -> CardData {
    CardData {
        pan: Pan::new("4761739001010119").unwrap(),
        scheme: CardScheme::Visa,
        entry_mode: EntryMode::Chip,
        expiry: None,
        sequence: None,
        emv: EmvData::new(),
        pin: PinCheck::Accepted,
    }
}

/// [`Terminal::restore`] in place over an application that was in use is the application
/// [`Terminal::new`] builds: nothing of the old run stays (the in-place construction the
/// firmware uses must not keep a queue, a card number or a running request); so is
/// [`Terminal::replay`] of the same records into [`Terminal::empty`], then
/// [`Terminal::resume`].
#[test]
fn restore_over_a_used_application_is_a_new_one() {
    let cfg = Config::new(Currency::EUR);
    let t0 = Instant::from_millis(1_000);
    let mut app = Terminal::empty(cfg.clone());
    app.restore(&JournalState::new(), t0);
    app.handle_link(t0, LinkState::Up);
    let sale = |minor| Request::Sale {
        amount: Money::new(minor, Currency::EUR).unwrap(),
        reference: None,
    };
    app.handle_request(t0, RequestId(1), TillId(1), sale(1250));
    app.handle_card(t0, CardEvent::Presented(card()));
    let mut journal = std::vec::Vec::new();
    while let Some(r) = app.poll_record() {
        journal.push(r.to_record());
        app.handle_persisted(t0);
    }
    // Crash now: the sale is open in the journal. Leave more in memory than the journal has.
    let mut state = JournalState::new();
    for r in &journal {
        state.apply(r).unwrap();
    }
    app.set_wall_time(Timestamp::new(2026, 12, 7, 21, 0, 0).unwrap());
    app.set_journal_space(JournalSpace::CloseOnly);
    app.handle_request(t0, RequestId(2), TillId(2), Request::TestTerminal);
    assert!(app.is_busy());

    let t1 = Instant::from_millis(9_000);
    app.restore(&state, t1);
    let fresh = Terminal::new(cfg.clone(), state.clone(), t1);
    assert_eq!(std::format!("{app:?}"), std::format!("{fresh:?}"));
    // The firmware's way: the records replayed into an empty application, then resumed.
    let mut replayed = Terminal::empty(cfg.clone());
    for r in &journal {
        replayed.replay(r).unwrap();
    }
    replayed.resume(t1);
    assert_eq!(std::format!("{replayed:?}"), std::format!("{fresh:?}"));
    // The same from the encoded records (`replay_payload`, what the firmware does).
    let mut from_bytes = Terminal::empty(cfg.clone());
    let mut buf = [0u8; crate::journal::MAX_ENVELOPE];
    for r in &journal {
        let n = crate::journal::encode(r, &mut buf).unwrap();
        let payload = &buf[crate::journal::envelope::HEADER_LEN..n - 4];
        from_bytes
            .replay_payload(crate::journal::FORMAT_VERSION, payload)
            .unwrap()
            .unwrap();
    }
    from_bytes.resume(t1);
    assert_eq!(std::format!("{from_bytes:?}"), std::format!("{fresh:?}"));
    // The first record is the recovered checkpoint, read from the application's own state.
    let expected = state.recover().unwrap();
    assert_eq!(app.poll_record(), Some(RecordRef::Checkpoint(&expected)));
    assert_eq!(app.pending_reversals(), 1);
}
