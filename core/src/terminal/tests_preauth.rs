//! Pre-authorisation on the state machine with a fake clock: reserve, book, release, the book
//! across a restart, lost answers, a full book.
//!
//! Compiled for tests only: the parent module declares it `#[cfg(test)]`.

use super::*;
use crate::bank::ResponseCode;
use crate::journal::Record;
use crate::txn::Currency;

const T0: u64 = 1_000_000;

/// A terminal with a journal that keeps every record, and what went out.
struct Rig {
    app: Terminal,
    now: Instant,
    journal: std::vec::Vec<Record>,
    bank: std::vec::Vec<BankRequest>,
    answers: std::vec::Vec<Answer>,
    next_id: u64,
}

fn eur(minor: u64) -> Money {
    Money::new(minor, Currency::EUR).unwrap()
}

fn card() -> CardData {
    CardData {
        pan: Pan::new("4761739001010119").unwrap(),
        scheme: CardScheme::Visa,
        entry_mode: EntryMode::Contactless,
        expiry: None,
        sequence: None,
        emv: EmvData::new(),
        pin: PinCheck::NotAsked,
    }
}

impl Rig {
    fn new() -> Rig {
        Rig::from_state(JournalState::new(), std::vec::Vec::new())
    }

    /// A terminal started over `state`, keeping `journal` as the records so far.
    fn from_state(state: JournalState, journal: std::vec::Vec<Record>) -> Rig {
        Rig::from_config(Config::new(Currency::EUR), state, journal)
    }

    /// A fresh terminal under `policy`.
    fn with_policy(policy: Policy) -> Rig {
        let mut cfg = Config::new(Currency::EUR);
        cfg.policy = policy;
        Rig::from_config(cfg, JournalState::new(), std::vec::Vec::new())
    }

    fn from_config(mut cfg: Config, state: JournalState, journal: std::vec::Vec<Record>) -> Rig {
        cfg.echo_every = None;
        let now = Instant::from_millis(T0);
        let mut rig = Rig {
            app: Terminal::new(cfg, state, now),
            now,
            journal,
            bank: std::vec::Vec::new(),
            answers: std::vec::Vec::new(),
            next_id: 1,
        };
        rig.app.handle_link(now, LinkState::Up);
        rig.pump();
        rig
    }

    /// What a restart reads back: every record so far folded, then recovered, then what the
    /// agent writes into its new file (the checkpoint and the book's entries).
    fn restarted(&self) -> Rig {
        let mut folded = JournalState::new();
        for r in &self.journal {
            folded.apply(r).unwrap();
        }
        let book = folded.book.clone();
        let checkpoint = folded.recover().unwrap();
        let mut file = vec![Record::Checkpoint(checkpoint)];
        file.extend(book.entries().iter().cloned().map(Record::Booked));
        let mut state = JournalState::new();
        for r in &file {
            state.apply(r).unwrap();
        }
        Rig::from_state(state, file)
    }

    fn pump(&mut self) {
        loop {
            if let Some(r) = self.app.poll_record() {
                self.journal.push(r.to_record());
                self.app.handle_persisted(self.now);
                continue;
            }
            let mut any = false;
            while let Some(c) = self.app.poll_bank() {
                any = true;
                if let BankCommand::Send(m) = c {
                    self.bank.push(m);
                }
            }
            while self.app.poll_card().is_some() {
                any = true;
            }
            while let Some(a) = self.app.poll_answer() {
                any = true;
                self.answers.push(a);
            }
            while self.app.poll_print().is_some() {
                any = true;
            }
            if !any && self.app.poll_record().is_none() {
                break;
            }
        }
    }

    fn request(&mut self, r: Request) -> Response {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.app.handle_request(self.now, id, TillId(1), r);
        self.pump();
        if self.app.is_waiting_for_card() {
            self.app.handle_card(self.now, CardEvent::Presented(card()));
            self.pump();
        }
        if self.answers.iter().all(|a| a.id != id) {
            let sent = self.bank.last().expect("a bank message").clone();
            self.reply(&sent, "00");
        }
        self.answers
            .iter()
            .find(|a| a.id == id)
            .expect("an answer")
            .response
            .clone()
    }

    /// Starts `r` and leaves it waiting for the bank; the message sent.
    fn start(&mut self, r: Request) -> BankRequest {
        let before = self.bank.len();
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.app.handle_request(self.now, id, TillId(1), r);
        self.pump();
        if self.app.is_waiting_for_card() {
            self.app.handle_card(self.now, CardEvent::Presented(card()));
            self.pump();
        }
        assert_eq!(self.bank.len(), before + 1, "one message to the bank");
        self.bank.last().unwrap().clone()
    }

    fn reply(&mut self, req: &BankRequest, c: &str) {
        let approval = (c == "00" && req.mti() == 100).then(|| ApprovalCode::new("AB12").unwrap());
        self.app.handle_bank_answer(
            self.now,
            BankAnswer {
                mti: req.mti() + 10,
                stan: req.stan(),
                code: ResponseCode::new(c.as_bytes()).unwrap(),
                approval,
                amount: None,
                emv: EmvData::new(),
            },
        );
        self.pump();
    }

    fn reserve(&mut self, minor: u64) -> u16 {
        let r = self.request(Request::Reservation { amount: eur(minor) });
        assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
        receipt_of(r.trace.expect("a trace number"))
    }

    fn debits(&self) -> (u32, u64) {
        self.app
            .checkpoint()
            .totals
            .currencies
            .iter()
            .find(|c| c.currency == 978)
            .map_or((0, 0), |c| (c.debit_count, c.debit_minor))
    }
}

fn refused_with(r: &Response, text: &str) {
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            reason: FailReason::NoMatchingTransaction
        },
        "{r:?}"
    );
    assert_eq!(r.text.as_deref(), Some(text), "{r:?}");
}

#[test]
fn a_reservation_is_an_0100_and_counts_nothing_until_booked() {
    let mut rig = Rig::new();
    let sent = rig.start(Request::Reservation { amount: eur(5000) });
    let BankRequest::PreAuth(a) = &sent else {
        panic!("an 0100: {sent:?}");
    };
    assert_eq!((a.amount, sent.mti()), (eur(5000), 100));
    // Journaled before it went out.
    assert!(matches!(
        rig.journal.last(),
        Some(Record::AuthStarted(s)) if s.kind == RequestKind::Reservation
    ));
    rig.reply(&sent, "00");
    let r = &rig.answers.last().unwrap().response;
    assert_eq!(
        (r.kind, &r.outcome),
        (RequestKind::Reservation, &Outcome::Approved)
    );
    assert_eq!(rig.debits(), (0, 0), "a hold is not a sale");
    assert_eq!(rig.app.checkpoint().totals.currencies.len(), 0);
}

#[test]
fn book_total_books_the_final_amount_once() {
    let mut rig = Rig::new();
    let receipt = rig.reserve(4000);
    // Over the reservation, and in another currency: B7's text; nothing sent.
    let sent = rig.bank.len();
    let r = rig.request(Request::BookTotal {
        receipt,
        amount: eur(4001),
    });
    refused_with(&r, PREAUTH_AMOUNT_TEXT);
    let r = rig.request(Request::BookTotal {
        receipt,
        amount: Money::new(100, Currency::CZK).unwrap(),
    });
    refused_with(&r, PREAUTH_AMOUNT_TEXT);
    assert_eq!(rig.bank.len(), sent, "nothing went to the bank");

    let msg = rig.start(Request::BookTotal {
        receipt,
        amount: eur(2715),
    });
    let BankRequest::Completion(c) = &msg else {
        panic!("an 0220: {msg:?}");
    };
    assert_eq!(c.amount, eur(2715));
    assert_eq!(c.original.kind, RequestKind::Reservation);
    assert_eq!(receipt_of(c.original.stan), receipt);
    assert_eq!(c.approval.as_ref().map(|a| a.as_str()), Some("AB12"));
    rig.reply(&msg, "00");
    assert_eq!(
        rig.answers.last().unwrap().response.outcome,
        Outcome::Approved
    );
    assert_eq!(rig.debits(), (1, 2715), "the booked amount is a sale");

    let r = rig.request(Request::BookTotal {
        receipt,
        amount: eur(2715),
    });
    refused_with(&r, PREAUTH_BOOKED_TEXT);
    // A booked reservation is no payment a 06 30 reverses.
    let r = rig.request(Request::ReversalByReceipt { receipt });
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            reason: FailReason::NoMatchingTransaction
        }
    );
}

#[test]
fn an_unknown_receipt_names_the_open_reservation() {
    let mut rig = Rig::new();
    let r = rig.request(Request::PreAuthReversal { receipt: 42 });
    refused_with(&r, PREAUTH_UNKNOWN_TEXT);
    assert_eq!(r.trace, None, "no reservation open");
    let open = rig.reserve(1000);
    let r = rig.request(Request::PartialReversal {
        receipt: 0xFFFF,
        amount: eur(1),
    });
    refused_with(&r, PREAUTH_UNKNOWN_TEXT);
    assert_eq!(r.trace.map(receipt_of), Some(open));
    // A sale's receipt number names no reservation.
    let sale = rig.request(Request::Sale {
        amount: eur(500),
        reference: None,
    });
    let r = rig.request(Request::BookTotal {
        receipt: receipt_of(sale.trace.unwrap()),
        amount: eur(100),
    });
    refused_with(&r, PREAUTH_UNKNOWN_TEXT);
}

#[test]
fn partial_reversal_releases_the_amount_and_books_the_rest() {
    let mut rig = Rig::new();
    let receipt = rig.reserve(5000);
    let msg = rig.start(Request::PartialReversal {
        receipt,
        amount: eur(1860),
    });
    let BankRequest::Release(rel) = &msg else {
        panic!("a 0400 with field 95: {msg:?}");
    };
    assert_eq!(rel.keep.minor(), 3140);
    assert_eq!(rel.original.amount, eur(5000));
    assert_eq!(msg.mti(), 400);
    rig.reply(&msg, "00");
    assert_eq!(
        rig.answers.last().unwrap().response.outcome,
        Outcome::Approved
    );
    assert_eq!(rig.debits(), (1, 3140));
    let r = rig.request(Request::PartialReversal {
        receipt,
        amount: eur(10),
    });
    refused_with(&r, PREAUTH_BOOKED_TEXT);
}

#[test]
fn pre_auth_reversal_releases_it_all_and_only_once() {
    let mut rig = Rig::new();
    let receipt = rig.reserve(2000);
    let msg = rig.start(Request::PreAuthReversal { receipt });
    let BankRequest::Reversal(rev) = &msg else {
        panic!("a 0400: {msg:?}");
    };
    assert_eq!(rev.original.kind, RequestKind::Reservation);
    assert_eq!(rev.original.amount, eur(2000));
    rig.reply(&msg, "00");
    assert_eq!(
        rig.answers.last().unwrap().response.outcome,
        Outcome::Approved
    );
    assert_eq!(rig.debits(), (0, 0));
    let reversals = rig
        .app
        .checkpoint()
        .totals
        .currencies
        .iter()
        .map(|c| c.reversal_count)
        .sum::<u32>();
    assert_eq!(reversals, 0, "a released hold was never in the totals");
    let r = rig.request(Request::PreAuthReversal { receipt });
    refused_with(&r, PREAUTH_RELEASED_TEXT);
    let r = rig.request(Request::BookTotal {
        receipt,
        amount: eur(1),
    });
    refused_with(&r, PREAUTH_RELEASED_TEXT);
}

#[test]
fn the_book_survives_a_restart_between_reservation_and_book_total() {
    let mut rig = Rig::new();
    let first = rig.reserve(3000);
    // Later payments: the reservation is not the last transaction.
    let _ = rig.request(Request::Sale {
        amount: eur(700),
        reference: None,
    });
    let second = rig.reserve(1000);

    // Twice: the second restart reads only what the first one wrote (checkpoint + book).
    let mut rig = rig.restarted().restarted();
    let msg = rig.start(Request::BookTotal {
        receipt: first,
        amount: eur(2500),
    });
    let BankRequest::Completion(c) = &msg else {
        panic!("{msg:?}");
    };
    assert_eq!(c.original.amount, eur(3000));
    assert_eq!(c.approval.as_ref().map(|a| a.as_str()), Some("AB12"));
    assert_eq!(c.pan, None, "the card number is not journaled");
    rig.reply(&msg, "00");
    assert_eq!(
        rig.answers.last().unwrap().response.outcome,
        Outcome::Approved
    );
    // After another restart it is known as booked, the other one still open.
    let mut rig = rig.restarted();
    let r = rig.request(Request::BookTotal {
        receipt: first,
        amount: eur(2500),
    });
    refused_with(&r, PREAUTH_BOOKED_TEXT);
    let r = rig.request(Request::PreAuthReversal { receipt: second });
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
}

#[test]
fn a_payment_before_the_last_one_is_reversed_after_a_restart() {
    let mut rig = Rig::new();
    let first = rig.request(Request::Sale {
        amount: eur(1111),
        reference: None,
    });
    let _ = rig.request(Request::Sale {
        amount: eur(2222),
        reference: None,
    });
    let mut rig = rig.restarted();
    let r = rig.request(Request::ReversalByReceipt {
        receipt: receipt_of(first.trace.unwrap()),
    });
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.amount, Some(eur(1111)));
}

#[test]
fn a_booking_without_an_answer_releases_the_reservation() {
    let mut rig = Rig::new();
    let receipt = rig.reserve(4000);
    let msg = rig.start(Request::BookTotal {
        receipt,
        amount: eur(1000),
    });
    rig.app
        .handle_bank_failure(rig.now, Some(msg.stan()), BankFailure::Lost);
    rig.pump();
    let r = &rig.answers.last().unwrap().response;
    assert_eq!(r.outcome, Outcome::BankUnavailable, "{r:?}");
    // The whole reservation is owed back: a stored reversal of the 0100.
    let p = rig
        .app
        .checkpoint()
        .pending
        .first()
        .expect("a reversal owed");
    assert_eq!(p.original.kind, RequestKind::Reservation);
    assert_eq!(p.original.amount, eur(4000));
    assert_eq!(rig.debits(), (0, 0), "nothing booked");
    let r = rig.request(Request::BookTotal {
        receipt,
        amount: eur(1000),
    });
    refused_with(&r, PREAUTH_RELEASED_TEXT);
}

#[test]
fn a_reservation_cut_off_by_a_restart_is_reversed() {
    let mut rig = Rig::new();
    let _ = rig.start(Request::Reservation { amount: eur(6000) });
    let rig = rig.restarted();
    let p = rig
        .app
        .checkpoint()
        .pending
        .first()
        .expect("a reversal owed");
    assert_eq!(
        (p.original.kind, p.original.amount),
        (RequestKind::Reservation, eur(6000))
    );
}

#[test]
fn a_full_book_refuses_a_reservation_and_never_panics() {
    let mut rig = Rig::new();
    let mut receipts = std::vec::Vec::new();
    for i in 0..MAX_BOOK as u64 {
        receipts.push(rig.reserve(100 + i));
    }
    let r = rig.request(Request::Reservation { amount: eur(50) });
    assert_eq!(r.text.as_deref(), Some(PREAUTH_FULL_TEXT), "{r:?}");
    assert!(!r.outcome.is_approved());
    // Every open reservation is still found.
    let r = rig.request(Request::PreAuthReversal {
        receipt: receipts[0],
    });
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    // Room again.
    let _ = rig.reserve(60);
}

#[test]
fn releasing_needs_the_merchant_when_the_policy_says_so() {
    let mut cfg = Config::new(Currency::EUR);
    cfg.echo_every = None;
    cfg.policy.confirm = KindSet::EMPTY.with(RequestKind::PreAuthReversal);
    let now = Instant::from_millis(T0);
    let mut app = Terminal::new(cfg, JournalState::new(), now);
    app.handle_link(now, LinkState::Up);
    app.handle_request(
        now,
        RequestId(1),
        TillId(1),
        Request::PreAuthReversal { receipt: 1 },
    );
    let a = app.poll_answer().expect("refused at once");
    assert_eq!(
        a.response.text.as_deref(),
        Some(Refusal::NoMerchantPin.text()),
        "{a:?}"
    );
}

#[test]
fn a_reservation_the_till_could_not_be_told_of_is_released() {
    let mut rig = Rig::new();
    let r = rig.request(Request::Reservation { amount: eur(3000) });
    let stan = r.trace.unwrap();
    rig.app.handle_answer_undeliverable(rig.now, stan);
    rig.pump();
    let p = rig
        .app
        .checkpoint()
        .pending
        .first()
        .expect("a reversal owed");
    assert_eq!(
        (p.original.stan, p.original.kind),
        (stan, RequestKind::Reservation)
    );
    let r = rig.request(Request::BookTotal {
        receipt: receipt_of(stan),
        amount: eur(100),
    });
    refused_with(&r, PREAUTH_RELEASED_TEXT);
}

#[test]
fn close_totals_waits_for_open_reservations() {
    let mut rig = Rig::new();
    let receipt = rig.reserve(2500);
    let sent = rig.bank.len();
    let r = rig.request(Request::CloseTotals);
    assert_eq!(r.text.as_deref(), Some(PREAUTH_OPEN_TEXT), "{r:?}");
    assert!(!r.outcome.is_approved());
    assert_eq!(rig.bank.len(), sent, "nothing sent");
    let r = rig.request(Request::BookTotal {
        receipt,
        amount: eur(2000),
    });
    assert_eq!(r.outcome, Outcome::Approved);
    let r = rig.request(Request::CloseTotals);
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let totals = r.totals.unwrap();
    assert_eq!(totals.currencies[0].debit_minor, 2000);
}

/// Found in session 5's review: a reservation was not counted against the per-day sales
/// limit, nor checked against it, so reservations then bookings moved past the merchant's
/// daily cap. A reservation now counts at its reserved amount (its booking or release gives
/// nothing back: the limit stays on the safe side, as with reversals).
#[test]
fn reservations_count_against_the_daily_sales_limit() {
    let mut rig = Rig::with_policy(Policy {
        max_sale_day: Some(10_000),
        ..Policy::default()
    });
    let receipt = rig.reserve(8_000);
    let r = rig.request(Request::BookTotal {
        receipt,
        amount: eur(8_000),
    });
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    let r = rig.request(Request::Reservation { amount: eur(2_001) });
    assert_eq!(
        r.text.as_deref(),
        Some(Refusal::OverDayLimit.text()),
        "{r:?}"
    );
    let r = rig.request(Request::Sale {
        amount: eur(2_001),
        reference: None,
    });
    assert_eq!(
        r.text.as_deref(),
        Some(Refusal::OverDayLimit.text()),
        "{r:?}"
    );
    // Exactly up to the limit is allowed.
    let _ = rig.reserve(2_000);
}
