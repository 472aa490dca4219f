//! The records the agent persists. Each is one postcard value inside an envelope
//! ([`super::encode`]). No record holds a full PAN, track data or a PIN: cards appear as
//! [`MaskedPan`] only, and a reversal after a restart identifies the original by its trace
//! number (ISO 8583 field 90), not by the card.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::txn::{
    Amount, CardScheme, MaskedPan, Money, Reference, RequestKind, Response, Timestamp, Totals,
};

/// Most reversals waiting for the bank that a [`Checkpoint`] carries (and that
/// [`super::JournalState`] tracks). More is [`crate::Error::CapacityExceeded`].
pub const MAX_PENDING_REVERSALS: usize = 16;

/// One journal record. Adding a variant: add it to [`RecordRef`] too, at the same place.
// Records are moved into the encoder, never kept in bulk; boxing is not available (no alloc).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// First record of a journal file: the state carried over from the previous file.
    Checkpoint(Checkpoint),
    /// Trace numbers below `upto` may be used in `batch`. Written before the first of them is
    /// used, so that no trace number repeats within a batch across restarts.
    StanReserved {
        /// Batch number.
        batch: u32,
        /// First trace number not reserved.
        upto: u32,
    },
    /// A request to the bank is about to be sent (written, and synced, before sending).
    AuthStarted(AuthStarted),
    /// The final answer of a journaled request (bank answer or local decision); written, and
    /// synced, before the answer goes to the till.
    Completed {
        /// Trace number of the request.
        stan: u32,
        /// The answer as given to the till.
        response: Response,
    },
    /// The till acknowledged the answer of `stan`.
    Delivered {
        /// Trace number of the request.
        stan: u32,
    },
    /// A reversal must be sent, and re-sent until the bank acknowledges it.
    ReversalQueued(PendingReversal),
    /// The bank acknowledged the reversal of `original_stan`.
    ReversalAcked {
        /// Batch of the reversed authorization.
        batch: u32,
        /// Trace number of the reversed authorization.
        original_stan: u32,
    },
    /// The bank confirmed the reconciliation of `batch`; the next batch starts at trace 1.
    BatchClosed {
        /// Batch that was closed.
        batch: u32,
        /// Its totals as reconciled.
        totals: Totals,
    },
    /// One entry of the open batch's book ([`super::Book`]), written after the checkpoint that
    /// opens a new file so that a restart still finds the batch's payments and reservations
    /// by receipt number. (Appended after format 1: older files still read.)
    Booked(super::book::Entry),
}

/// A [`Record`] that borrows its large parts: what [`super::encode`] and
/// [`super::JournalState::apply`] take, so that a record can be written straight from where
/// its parts already are (the payment application keeps one checkpoint and one answer, not a
/// copy of each per queued record: [`crate::terminal::Terminal::poll_record`]). It encodes to
/// exactly the bytes of the [`Record`] it mirrors (same variants, same order, same fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RecordRef<'a> {
    /// [`Record::Checkpoint`].
    Checkpoint(&'a Checkpoint),
    /// [`Record::StanReserved`].
    StanReserved {
        /// Batch number.
        batch: u32,
        /// First trace number not reserved.
        upto: u32,
    },
    /// [`Record::AuthStarted`].
    AuthStarted(&'a AuthStarted),
    /// [`Record::Completed`].
    Completed {
        /// Trace number of the request.
        stan: u32,
        /// The answer as given to the till.
        response: &'a Response,
    },
    /// [`Record::Delivered`].
    Delivered {
        /// Trace number of the request.
        stan: u32,
    },
    /// [`Record::ReversalQueued`].
    ReversalQueued(&'a PendingReversal),
    /// [`Record::ReversalAcked`].
    ReversalAcked {
        /// Batch of the reversed authorization.
        batch: u32,
        /// Trace number of the reversed authorization.
        original_stan: u32,
    },
    /// [`Record::BatchClosed`].
    BatchClosed {
        /// Batch that was closed.
        batch: u32,
        /// Its totals as reconciled.
        totals: &'a Totals,
    },
    /// [`Record::Booked`].
    Booked(&'a super::book::Entry),
}

impl RecordRef<'_> {
    /// The owned record (copies the large parts).
    pub fn to_record(&self) -> Record {
        match *self {
            RecordRef::Checkpoint(c) => Record::Checkpoint(c.clone()),
            RecordRef::StanReserved { batch, upto } => Record::StanReserved { batch, upto },
            RecordRef::AuthStarted(a) => Record::AuthStarted(a.clone()),
            RecordRef::Completed { stan, response } => Record::Completed {
                stan,
                response: response.clone(),
            },
            RecordRef::Delivered { stan } => Record::Delivered { stan },
            RecordRef::ReversalQueued(p) => Record::ReversalQueued(*p),
            RecordRef::ReversalAcked {
                batch,
                original_stan,
            } => Record::ReversalAcked {
                batch,
                original_stan,
            },
            RecordRef::BatchClosed { batch, totals } => Record::BatchClosed {
                batch,
                totals: totals.clone(),
            },
            RecordRef::Booked(e) => Record::Booked(e.clone()),
        }
    }
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    fn from(record: &'a Record) -> Self {
        match record {
            Record::Checkpoint(c) => RecordRef::Checkpoint(c),
            Record::StanReserved { batch, upto } => RecordRef::StanReserved {
                batch: *batch,
                upto: *upto,
            },
            Record::AuthStarted(a) => RecordRef::AuthStarted(a),
            Record::Completed { stan, response } => RecordRef::Completed {
                stan: *stan,
                response,
            },
            Record::Delivered { stan } => RecordRef::Delivered { stan: *stan },
            Record::ReversalQueued(p) => RecordRef::ReversalQueued(p),
            Record::ReversalAcked {
                batch,
                original_stan,
            } => RecordRef::ReversalAcked {
                batch: *batch,
                original_stan: *original_stan,
            },
            Record::BatchClosed { batch, totals } => RecordRef::BatchClosed {
                batch: *batch,
                totals,
            },
            Record::Booked(e) => RecordRef::Booked(e),
        }
    }
}

impl PartialEq<Record> for RecordRef<'_> {
    fn eq(&self, other: &Record) -> bool {
        *self == RecordRef::from(other)
    }
}

/// A request sent to the bank, as journaled before sending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthStarted {
    /// Batch number.
    pub batch: u32,
    /// Trace number (ISO 8583 field 11).
    pub stan: u32,
    /// What the till asked.
    pub kind: RequestKind,
    /// Amount (for a cashback sale, the total).
    pub amount: Option<Money>,
    /// Cashback part.
    pub cashback: Option<Amount>,
    /// Masked card number.
    pub pan: Option<MaskedPan>,
    /// Card scheme.
    pub scheme: Option<CardScheme>,
    /// Till's reference.
    pub reference: Option<Reference>,
    /// Transmission date and time (ISO 8583 field 7), needed to reverse the request.
    pub transmitted: Timestamp,
    /// For a till's reversal: the authorization it reverses.
    pub original: Option<Original>,
}

/// The authorization a reversal refers to (ISO 8583 field 90 carries these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Original {
    /// Trace number of the original authorization.
    pub stan: u32,
    /// What the original was (sale, cashback, refund).
    pub kind: RequestKind,
    /// Its amount.
    pub amount: Money,
    /// Its transmission date and time.
    pub transmitted: Timestamp,
    /// Its card scheme, for the per-scheme totals.
    pub scheme: Option<CardScheme>,
}

/// Why a reversal was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReversalReason {
    /// The bank did not answer the authorization in time.
    BankTimeout,
    /// The agent restarted and found an authorization without a final answer.
    Recovery,
    /// The till asked for it and the bank has not acknowledged yet.
    TillRequest,
    /// The bank approved part of the amount (`10`); the terminal never takes a part, so it
    /// gives the whole back. (Added after format 1: appended, so older files still read.)
    PartialApproval,
    /// The bank approved but the till could not be told (its dialect could not carry the
    /// answer). (Added after format 1: appended, so older files still read.)
    Undeliverable,
}

/// A reversal (ISO 8583 0400) waiting for the bank's acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReversal {
    /// Batch of the original.
    pub batch: u32,
    /// The authorization to reverse.
    pub original: Original,
    /// Why.
    pub reason: ReversalReason,
}

/// The last journaled transaction, what "last transaction" answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastTransaction {
    /// Trace number.
    pub stan: u32,
    /// Batch number.
    pub batch: u32,
    /// The answer.
    pub response: Response,
    /// Whether the till acknowledged it.
    pub delivered: bool,
    /// Transmission date and time of the request (to reverse it).
    pub transmitted: Timestamp,
}

/// The last batch the bank reconciled, what "last sums" answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedBatch {
    /// Batch number.
    pub batch: u32,
    /// Its totals as reconciled (from [`Record::BatchClosed`]).
    pub totals: Totals,
}

/// State carried from one journal file to the next.
///
/// Format note: postcard is not self-describing, so any change to this struct (or to any
/// record) changes the file format: bump [`super::FORMAT_VERSION`] and keep a decoder for the
/// previous layout, or the agent refuses the older files ([`super::header`] says how). The
/// committed format 0 fixture fails the tests if a change slips through. (`last_close` was
/// added before format versions existed; no released agent wrote files without it.)
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Current batch.
    pub batch: u32,
    /// First trace number not yet reserved in the batch.
    pub next_stan: u32,
    /// Totals of the current batch so far.
    pub totals: Totals,
    /// The last transaction.
    pub last: Option<LastTransaction>,
    /// Reversals still to be acknowledged by the bank.
    pub pending: Vec<PendingReversal, MAX_PENDING_REVERSALS>,
    /// The last closed batch and its totals; `None` until the first close.
    pub last_close: Option<ClosedBatch>,
}

// By hand, for `clone_from`: the derived one builds a whole copy on the stack first (2 KiB),
// this one copies field by field into the place it overwrites.
impl Clone for Checkpoint {
    fn clone(&self) -> Self {
        Checkpoint {
            batch: self.batch,
            next_stan: self.next_stan,
            totals: self.totals.clone(),
            last: self.last.clone(),
            pending: self.pending.clone(),
            last_close: self.last_close.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.batch = source.batch;
        self.next_stan = source.next_stan;
        self.totals.clone_from(&source.totals);
        self.last.clone_from(&source.last);
        self.pending.clone_from(&source.pending);
        self.last_close.clone_from(&source.last_close);
    }
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint {
            batch: 1,
            next_stan: 1,
            totals: Totals::default(),
            last: None,
            pending: Vec::new(),
            last_close: None,
        }
    }
}
