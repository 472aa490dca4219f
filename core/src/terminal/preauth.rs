//! Pre-authorisation: a reservation (ISO 8583 0100) that is later booked (0220 completion, or
//! a 0400 partial reversal whose field 95 keeps the booked part) or released (0400), the
//! flow of EV chargers (ZVT `06 22`, `06 24`, `06 23`, `06 25`).
//!
//! Journaled like every other money movement: the start record before the bank message, the
//! completion before the answer. A reservation whose answer is lost is reversed (like a
//! sale). A booking whose answer is lost (or that the bank could not decide) releases the
//! whole reservation with a stored reversal and is answered "bank unavailable": the card is
//! never charged what the till was not told of. A release whose answer is lost is stored and
//! forwarded like a till's reversal and answered as done.
//!
//! The [`book`] holds each reservation reserved → booked or released; a request that names an
//! unknown, booked or released receipt number is refused with
//! [`PREAUTH_UNKNOWN_TEXT`] / [`PREAUTH_BOOKED_TEXT`] / [`PREAUTH_RELEASED_TEXT`], an amount over
//! the reservation with [`PREAUTH_AMOUNT_TEXT`] (all [`FailReason::NoMatchingTransaction`]);
//! the refusal's trace number is the most recent open reservation's, if any (ZVT answers the
//! receipt numbers of the open pre-authorisations, PA00P015 §2.10.1).

use super::records::Queued;
use super::{
    BankAnswer, BankFailure, BankRequest, CompletionRequest, ReleaseRequest, ReversalRequest, Step,
    Terminal, book, fail, set_text,
};
use crate::bank::CodeMeaning;
use crate::journal::{AuthStarted, Original, PendingReversal, ReversalReason};
use crate::txn::{Amount, FailReason, Outcome, Request, RequestKind};

/// The text of a request on a reservation whose receipt number names no reservation of the
/// open batch (ZVT: `B8`, error pre-authorisation).
pub const PREAUTH_UNKNOWN_TEXT: &str = "no such reservation";
/// The text of a request on a reservation that was booked already (ZVT: `B8`).
pub const PREAUTH_BOOKED_TEXT: &str = "reservation booked already";
/// The text of a request on a reservation that was released already (ZVT: `B8`).
pub const PREAUTH_RELEASED_TEXT: &str = "reservation released already";
/// The text of a booking or release over the reserved amount, or in another currency (ZVT:
/// `B7`, pre-authorisation incorrect).
pub const PREAUTH_AMOUNT_TEXT: &str = "amount over the reservation";
/// The text of a reservation refused because the book is full of open reservations
/// ([`super::MAX_BOOK`]).
pub const PREAUTH_FULL_TEXT: &str = "too many open reservations";
/// The text of a close totals refused while reservations are open: a closed batch's
/// reservation could no longer be named by its receipt number (the next batch's trace
/// numbers start at 1 again), so it would stay held at the bank for nothing. Book or release
/// them first (ZVT: `B8`; EVerest's charger releases its open reservations before its end of
/// day).
pub const PREAUTH_OPEN_TEXT: &str = "open reservations: book or release them first";
/// The text of a booking whose answer was lost: the whole reservation is released.
pub const PREAUTH_LOST_TEXT: &str = "booking not confirmed: reservation released";

/// Whether `kind` acts on an existing reservation (book, partial reversal, release).
pub(super) fn on_reservation(kind: RequestKind) -> bool {
    kind.is_pre_auth() && kind != RequestKind::Reservation
}

impl Terminal {
    /// The open reservation the running `request` names, or the refusal text.
    fn reservation_for(&self, request: &Request) -> Result<book::Entry, &'static str> {
        let batch = self.journal.checkpoint.batch;
        let receipt = request.receipt().ok_or(PREAUTH_UNKNOWN_TEXT)?;
        let entry = self
            .journal
            .book
            .find(batch, receipt)
            .filter(|e| e.kind == RequestKind::Reservation)
            .ok_or(PREAUTH_UNKNOWN_TEXT)?;
        let pending = self
            .journal
            .checkpoint
            .pending
            .iter()
            .chain(self.volatile.iter())
            .any(|p| p.batch == entry.batch && p.original.stan == entry.stan);
        if entry.reversed || pending {
            return Err(PREAUTH_RELEASED_TEXT);
        }
        if entry.booked.is_some() {
            return Err(PREAUTH_BOOKED_TEXT);
        }
        let over = match request {
            Request::BookTotal { amount, .. } => {
                amount.currency != entry.amount.currency || amount.minor() > entry.amount.minor()
            }
            Request::PartialReversal { amount, .. } => {
                amount.currency != entry.amount.currency || amount.minor() > entry.amount.minor()
            }
            _ => false,
        };
        if over {
            return Err(PREAUTH_AMOUNT_TEXT);
        }
        Ok(entry.clone())
    }

    /// `start` of a request on a reservation: checked against the book, then the bank.
    pub(super) fn start_on_reservation(&mut self, now: crate::Instant) {
        let Some(request) = self.txn.as_ref().map(|t| t.request.clone()) else {
            return;
        };
        let target = self.reservation_for(&request);
        let open = self
            .journal
            .book
            .open_reservation(self.journal.checkpoint.batch)
            .map(|e| e.stan);
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        match target {
            Ok(e) => {
                txn.response.approval_code = e.code;
                txn.response.pan = e.pan;
                txn.response.scheme = e.scheme;
                if request.kind() == RequestKind::PreAuthReversal {
                    txn.response.amount = Some(e.amount);
                }
                self.need_bank(now);
            }
            Err(text) => {
                txn.response.outcome = fail(FailReason::NoMatchingTransaction);
                txn.response.trace = open;
                set_text(&mut txn.response, text);
            }
        }
    }

    /// `start` of close totals: refused while a reservation of the batch is open (neither
    /// booked nor released, nor its release owed).
    pub(super) fn start_close(&mut self, now: crate::Instant) {
        let batch = self.journal.checkpoint.batch;
        let owed = |stan: u32| {
            self.journal
                .checkpoint
                .pending
                .iter()
                .chain(self.volatile.iter())
                .any(|p| p.batch == batch && p.original.stan == stan)
        };
        let open = self
            .journal
            .book
            .entries()
            .iter()
            .any(|e| e.batch == batch && e.is_open_reservation() && !owed(e.stan));
        if !open {
            return self.need_bank(now);
        }
        if let Some(txn) = self.txn.as_mut() {
            txn.response.outcome = fail(FailReason::Other);
            set_text(&mut txn.response, PREAUTH_OPEN_TEXT);
        }
    }

    /// `start` of a reservation: refused when the book has no room for it.
    pub(super) fn start_reservation(&mut self, now: crate::Instant) {
        if self.journal.book.has_room_for_reservation() {
            return self.need_bank(now);
        }
        if let Some(txn) = self.txn.as_mut() {
            txn.response.outcome = fail(FailReason::Other);
            set_text(&mut txn.response, PREAUTH_FULL_TEXT);
        }
    }

    /// The bank link is up: journal the start of the booking or release, then send it.
    pub(super) fn send_on_reservation(&mut self) {
        let wall = self.wall;
        let batch = self.journal.checkpoint.batch;
        let Some(request) = self.txn.as_ref().map(|t| t.request.clone()) else {
            return;
        };
        let entry = match self.reservation_for(&request) {
            Ok(e) => e,
            Err(text) => {
                if let Some(txn) = self.txn.as_mut() {
                    set_text(&mut txn.response, text);
                }
                return self.finish(fail(FailReason::NoMatchingTransaction), false);
            }
        };
        let Some(stan) = self.alloc_stan() else {
            return self.finish(fail(FailReason::Other), false);
        };
        let original = Original {
            stan: entry.stan,
            kind: RequestKind::Reservation,
            amount: entry.amount,
            transmitted: entry.transmitted,
            scheme: entry.scheme,
        };
        let pan = self.pan_of(entry.batch, entry.stan);
        // What is booked (the journal's totals count it); `None`: nothing, all is released.
        let (booked, bank) = match request {
            Request::BookTotal { amount, .. } => (
                Some(amount),
                BankRequest::Completion(CompletionRequest {
                    stan,
                    original,
                    amount,
                    approval: entry.code.clone(),
                    pan: pan.clone(),
                    transmitted: wall,
                }),
            ),
            Request::PartialReversal { amount, .. } => {
                let keep = entry.amount.minor().saturating_sub(amount.minor());
                match Amount::new(keep) {
                    Ok(keep) => (
                        crate::txn::Money::new(keep.minor(), entry.amount.currency).ok(),
                        BankRequest::Release(ReleaseRequest {
                            stan,
                            original,
                            keep,
                            pan: pan.clone(),
                            transmitted: wall,
                        }),
                    ),
                    // Everything released: a full reversal of the reservation.
                    Err(_) => (None, self.full_release(stan, original, pan.clone())),
                }
            }
            _ => (None, self.full_release(stan, original, pan.clone())),
        };
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        txn.response.trace = Some(stan);
        let auth = AuthStarted {
            batch,
            stan,
            kind: request.kind(),
            amount: booked,
            cashback: None,
            pan: entry.pan,
            scheme: entry.scheme,
            reference: None,
            transmitted: wall,
            original: Some(original),
        };
        txn.auth = Some(auth.clone());
        txn.pan = pan;
        txn.step = Step::Journaling { request: bank };
        self.push_record(Queued::AuthStarted(auth));
    }

    fn full_release(
        &self,
        stan: u32,
        original: Original,
        pan: Option<crate::txn::Pan>,
    ) -> BankRequest {
        BankRequest::Reversal(ReversalRequest {
            stan,
            original,
            pan,
            reason: ReversalReason::TillRequest,
            transmitted: self.wall,
        })
    }

    /// Whether the running request releases the whole reservation.
    fn releases_all(&self) -> bool {
        self.txn.as_ref().is_some_and(|t| {
            t.auth.as_ref().is_some_and(|a| a.amount.is_none()) && on_reservation(t.request.kind())
        })
    }

    /// The bank's answer to a booking or release.
    pub(super) fn answer_on_reservation(&mut self, answer: &BankAnswer) {
        let done = if self.releases_all() {
            answer.code.ends_reversal()
        } else {
            answer.code.is_approved()
        };
        if done {
            self.finish(Outcome::Approved, true);
        } else if answer.code.meaning() == CodeMeaning::Unavailable {
            self.lost_on_reservation(BankFailure::Lost);
        } else {
            let outcome = answer.code.to_outcome();
            self.finish(outcome, false);
        }
    }

    /// A booking or release without an answer (or one the bank could not decide).
    pub(super) fn lost_on_reservation(&mut self, failure: BankFailure) {
        if self.releases_all() {
            // Owed whether or not the bank got it: store and forward, answered as done.
            return self.store_till_reversal();
        }
        if !failure.maybe_delivered() {
            // Nothing reached the bank: the reservation stands as it was.
            self.bank_down = true;
            return self.finish(Outcome::BankUnavailable, false);
        }
        // The bank may have booked what the till will not be told of: release it all.
        let batch = self.journal.checkpoint.batch;
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let Some(original) = txn.auth.as_ref().and_then(|a| a.original) else {
            return self.finish(Outcome::BankUnavailable, false);
        };
        if let Some(pan) = txn.pan.clone() {
            super::remember_pan(&mut self.pans, batch, original.stan, pan);
        }
        set_text(&mut txn.response, PREAUTH_LOST_TEXT);
        self.push_record(Queued::ReversalQueued(PendingReversal {
            batch,
            original,
            reason: ReversalReason::BankTimeout,
        }));
        self.finish(Outcome::BankUnavailable, false);
    }
}
