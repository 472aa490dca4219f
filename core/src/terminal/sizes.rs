//! What the payment application's RAM is: the size of [`Terminal`] and of every part of it,
//! printed (`cargo test -p ecrlink-core --lib terminal::sizes -- --nocapture`) and held to
//! budgets so that a change that grows it shows up here, not on the firmware's RAM.
//!
//! Compiled for tests only: the parent module declares it `#[cfg(test)]`. Sizes are of the
//! host the tests run on (64-bit here: `usize` and pointers are 8 bytes); on the firmware's
//! 32-bit target most are a little smaller (`docs/PERFORMANCE.md` has both).

use core::mem::size_of;

use super::*;

fn rows() -> std::vec::Vec<(&'static str, usize)> {
    std::vec![
        ("Terminal", size_of::<Terminal>()),
        ("  cfg: Config", size_of::<Config>()),
        ("  journal: JournalState", size_of::<JournalState>()),
        ("    Checkpoint", size_of::<Checkpoint>()),
        (
            "  records: Deque<Record, MAX_RECORDS>",
            size_of::<Deque<Record, MAX_RECORDS>>()
        ),
        ("    Record", size_of::<Record>()),
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
