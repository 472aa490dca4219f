//! The open batch's approved payments, for a till's reversal of any of them by receipt
//! number ([`crate::txn::Request::ReversalByReceipt`], ZVT `06 30` with BMP `87`), and its
//! reservations (pre-authorisations, ZVT `06 22`), each reserved → booked (`06 24`, `06 23`)
//! or released (`06 25`), for the requests that name them by receipt number.
//!
//! Kept in memory, filled as completions become durable. The journal's checkpoint keeps only
//! the last transaction, so after a restart the book starts empty: the last transaction can
//! still be reversed by its receipt number (it is looked up there too), earlier ones of the
//! batch cannot until the checkpoint carries the book.

use heapless::Deque;

use crate::txn::{
    ApprovalCode, CardScheme, EntryMode, MaskedPan, Money, RequestKind, Response, Timestamp,
};

/// Payments the book holds; past that the oldest is forgotten.
pub const MAX_BOOK: usize = 32;

/// The receipt number of trace `stan`: the trace modulo 10 000 (ZVT BMP `87` has four
/// digits).
pub const fn receipt_of(stan: u32) -> u16 {
    (stan % 10_000) as u16
}

/// One approved payment of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub batch: u32,
    pub stan: u32,
    pub kind: RequestKind,
    pub amount: Money,
    pub code: Option<ApprovalCode>,
    pub pan: Option<MaskedPan>,
    pub scheme: Option<CardScheme>,
    pub entry_mode: Option<EntryMode>,
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
#[derive(Clone, Debug, Default)]
pub(crate) struct Book {
    entries: Deque<Entry, MAX_BOOK>,
}

impl Book {
    /// An empty book.
    pub const fn new() -> Self {
        Book {
            entries: Deque::new(),
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Adds `entry`, replacing one of the same batch and trace; drops entries of other
    /// batches (a new batch starts the book afresh) and, when full, the oldest.
    pub fn record(&mut self, entry: Entry) {
        let batch = entry.batch;
        self.retain(|e| e.batch == batch && e.stan != entry.stan);
        if self.entries.is_full() {
            // The oldest entry that is not an open reservation goes: an open reservation
            // must stay findable until it is booked or released.
            let old = self
                .entries
                .iter()
                .position(|e| !e.is_open_reservation())
                .unwrap_or(0);
            let mut i = 0;
            self.retain(|_| {
                i += 1;
                i - 1 != old
            });
        }
        let _ = self.entries.push_back(entry);
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

    fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        for _ in 0..self.entries.len() {
            if let Some(e) = self.entries.pop_front() {
                if keep(&e) {
                    let _ = self.entries.push_back(e);
                }
            }
        }
    }
}
