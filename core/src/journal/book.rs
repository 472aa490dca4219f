//! The open batch's approved payments, for a till's reversal of any of them by receipt
//! number ([`crate::txn::Request::ReversalByReceipt`], ZVT `06 30` with BMP `87`), and its
//! reservations (pre-authorisations, ZVT `06 22`), each reserved → booked (`06 24`, `06 23`)
//! or released (`06 25`), for the requests that name them by receipt number.
//!
//! Folded from the journal's records by [`super::JournalState::apply`] (one definition, used
//! by the payment application and by a restart alike): an approved completion adds its
//! payment or reservation, a reversal marks its original reversed, a booking or release marks
//! its reservation. A new journal file carries the book after its checkpoint as one
//! [`super::Record::Booked`] per entry (the agent writes them), so a restart finds every
//! payment and reservation of the open batch by receipt number — a reservation of an EV
//! charger lives for hours.
//!
//! At most [`MAX_BOOK`] entries; when full the oldest entry that is not an open reservation
//! gives way, and a reservation that would find no room is refused before the card is read
//! ([`Book::has_room_for_reservation`]). Nothing here panics.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use super::record::AuthStarted;
use crate::txn::{
    ApprovalCode, CardScheme, EntryMode, MaskedPan, Money, RequestKind, Response, Timestamp,
};

/// Payments and reservations the book holds; past that the oldest payment is forgotten.
pub const MAX_BOOK: usize = 32;

/// The receipt number of trace `stan`: the trace modulo 10 000 (ZVT BMP `87` has four
/// digits).
pub const fn receipt_of(stan: u32) -> u16 {
    (stan % 10_000) as u16
}

/// One approved payment or reservation of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Batch number.
    pub batch: u32,
    /// Trace number (its receipt number is [`receipt_of`] it).
    pub stan: u32,
    /// Sale, sale with cash back, refund or reservation.
    pub kind: RequestKind,
    /// Amount approved (for a reservation: reserved).
    pub amount: Money,
    /// The bank's approval code.
    pub code: Option<ApprovalCode>,
    /// Masked card number.
    pub pan: Option<MaskedPan>,
    /// Card scheme.
    pub scheme: Option<CardScheme>,
    /// How the card was read.
    pub entry_mode: Option<EntryMode>,
    /// Transmission date and time of its request (to reverse or complete it).
    pub transmitted: Timestamp,
    /// A reversal of it was approved (or stored to be sent); for a reservation: released.
    pub reversed: bool,
    /// A reservation's booked amount, once booked.
    pub booked: Option<Money>,
}

impl Entry {
    /// The entry of an approved payment `response` of trace `stan`, else `None`.
    pub fn of(batch: u32, stan: u32, response: &Response, transmitted: Timestamp) -> Option<Self> {
        let payment = matches!(
            response.kind,
            RequestKind::Sale
                | RequestKind::SaleWithCashback
                | RequestKind::Refund
                | RequestKind::Reservation
        );
        if !payment || !response.outcome.is_approved() || stan == 0 {
            return None;
        }
        Some(Entry {
            batch,
            stan,
            kind: response.kind,
            amount: response.amount?,
            code: response.approval_code.clone(),
            pan: response.pan,
            scheme: response.scheme,
            entry_mode: response.entry_mode,
            transmitted,
            reversed: false,
            booked: None,
        })
    }

    /// Whether it is a reservation still open: neither booked nor released.
    pub fn is_open_reservation(&self) -> bool {
        self.kind == RequestKind::Reservation && !self.reversed && self.booked.is_none()
    }
}

/// The book (module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Book {
    entries: Vec<Entry, MAX_BOOK>,
}

impl Book {
    /// An empty book.
    pub const fn new() -> Self {
        Book {
            entries: Vec::new(),
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Adds `entry`, replacing one of the same batch and trace; drops entries of other
    /// batches (a new batch starts the book afresh) and, when full, the oldest entry that is
    /// not an open reservation.
    pub fn record(&mut self, entry: Entry) {
        let batch = entry.batch;
        self.entries
            .retain(|e| e.batch == batch && e.stan != entry.stan);
        if self.entries.is_full() {
            let old = self
                .entries
                .iter()
                .position(|e| !e.is_open_reservation())
                .unwrap_or(0);
            if old < self.entries.len() {
                self.entries.remove(old);
            }
        }
        let _ = self.entries.push(entry);
    }

    /// Folds the durable completion of trace `stan` in `batch` (`auth`: its start record,
    /// when it was journaled): an approved payment or reservation is added; an approved
    /// reversal marks its original reversed; an approved booking marks its reservation booked
    /// (the start record's amount), a release marks it released.
    pub fn fold_completed(
        &mut self,
        batch: u32,
        stan: u32,
        response: &Response,
        auth: Option<&AuthStarted>,
    ) {
        if !response.outcome.is_approved() {
            return;
        }
        let original = auth.and_then(|a| a.original);
        match response.kind {
            RequestKind::Reversal | RequestKind::PreAuthReversal => {
                if let Some(o) = original {
                    self.mark_reversed(batch, o.stan);
                }
            }
            RequestKind::BookTotal | RequestKind::PartialReversal => {
                if let Some(o) = original {
                    match auth.and_then(|a| a.amount) {
                        Some(amount) => self.mark_booked(batch, o.stan, amount),
                        None => self.mark_reversed(batch, o.stan),
                    }
                }
            }
            _ => {
                let transmitted = auth
                    .map(|a| a.transmitted)
                    .or(response.timestamp)
                    .unwrap_or(Timestamp::MILLENNIUM);
                if let Some(e) = Entry::of(batch, stan, response, transmitted) {
                    self.record(e);
                }
            }
        }
    }

    /// The entries, oldest first (what a new journal file carries).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether a new reservation fits: not when every entry is an open reservation
    /// ([`MAX_BOOK`] of them). Such a reservation is refused before the card is read.
    pub fn has_room_for_reservation(&self) -> bool {
        !self.entries.is_full() || self.entries.iter().any(|e| !e.is_open_reservation())
    }

    /// The most recent entry of `batch` with receipt number `receipt`.
    pub fn find(&self, batch: u32, receipt: u16) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.batch == batch && receipt_of(e.stan) == receipt)
    }

    /// The most recent reservation of `batch` still open, if any.
    pub fn open_reservation(&self, batch: u32) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.batch == batch && e.is_open_reservation())
    }

    /// Marks the reservation of `batch` and `stan` booked for `amount`.
    pub fn mark_booked(&mut self, batch: u32, stan: u32, amount: Money) {
        for e in self.entries.iter_mut() {
            if e.batch == batch && e.stan == stan {
                e.booked = Some(amount);
            }
        }
    }

    /// Marks the payment of `batch` and `stan` reversed.
    pub fn mark_reversed(&mut self, batch: u32, stan: u32) {
        for e in self.entries.iter_mut() {
            if e.batch == batch && e.stan == stan {
                e.reversed = true;
            }
        }
    }
}
