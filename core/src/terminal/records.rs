//! The records waiting to be made durable, kept small (issue 18).
//!
//! A [`Record`](crate::journal::Record) is as large as its largest variant, a
//! [`Checkpoint`] (about 2 KiB), so a queue of them cost [`MAX_RECORDS`] checkpoints. Here
//! each queued record holds only its small fields; the large parts are kept once:
//! - a checkpoint is the application's own journal state ([`Queued::Checkpoint`] is queued
//!   only by [`Terminal::restore`](super::Terminal::restore), first, and nothing is folded
//!   into that state before it is written, so it is the state at the time it was queued);
//! - an answer ([`Queued::Completed`]) or a batch's totals ([`Queued::BatchClosed`]) waits in
//!   [`Records::payloads`], in the same order as the records that need one.
//!
//! [`Records::front`] lends the first record as a [`RecordRef`], which the driver encodes
//! straight into its own buffer ([`crate::journal::encode`]).

use heapless::Deque;

use crate::journal::{AuthStarted, Checkpoint, PendingReversal, RecordRef};
use crate::txn::{Response, Totals};

use super::MAX_RECORDS;

/// Answers and totals that may wait to be made durable at once: one for the running
/// request's completion (or its batch close), one for the reversal of an answer the till
/// could not take ([`super::Terminal::handle_answer_undeliverable`]). Every step waits for
/// the queue to drain before it makes more, so no step finds both taken.
pub const MAX_PAYLOADS: usize = 2;

/// One record waiting, without its large parts. (Its variants are named after the
/// [`crate::journal::Record`] each stands for.)
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// The application's journal checkpoint.
    Checkpoint,
    StanReserved {
        batch: u32,
        upto: u32,
    },
    AuthStarted(AuthStarted),
    /// Its answer is the next payload.
    Completed {
        stan: u32,
    },
    Delivered {
        stan: u32,
    },
    ReversalQueued(PendingReversal),
    ReversalAcked {
        batch: u32,
        original_stan: u32,
    },
    /// Its totals are the next payload.
    BatchClosed {
        batch: u32,
    },
}

impl Queued {
    fn has_payload(&self) -> bool {
        matches!(self, Queued::Completed { .. } | Queued::BatchClosed { .. })
    }
}

/// The large part of a queued record.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    Response(Response),
    Totals(Totals),
}

/// The queue: small records and, beside them, the payloads of those that have one.
#[derive(Clone, Debug)]
pub(crate) struct Records {
    queue: Deque<Queued, MAX_RECORDS>,
    payloads: Deque<Payload, MAX_PAYLOADS>,
}

impl Records {
    /// An empty queue.
    pub const fn new() -> Self {
        Records {
            queue: Deque::new(),
            payloads: Deque::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.queue.is_full()
    }

    /// Whether a record with a payload (and `more` records without) fits.
    pub fn has_room_for_payload(&self, more: usize) -> bool {
        !self.payloads.is_full() && self.queue.len() + 1 + more <= MAX_RECORDS
    }

    pub fn clear(&mut self) {
        self.queue.clear();
        self.payloads.clear();
    }

    /// Queues a record without a payload; `false` (nothing queued) when the queue is full or
    /// the record needs a payload ([`Self::push_with`]).
    pub fn push(&mut self, record: Queued) -> bool {
        !record.has_payload() && self.queue.push_back(record).is_ok()
    }

    /// Queues a record with its payload; `false` (nothing queued) when either is full.
    pub fn push_with(&mut self, record: Queued, payload: Payload) -> bool {
        if self.queue.is_full() || self.payloads.is_full() {
            return false;
        }
        let _ = self.payloads.push_back(payload);
        let _ = self.queue.push_back(record);
        true
    }

    /// The first record, small part.
    pub fn front_queued(&self) -> Option<&Queued> {
        self.queue.front()
    }

    /// The first record as the driver writes it; `checkpoint` is the application's state.
    pub fn front<'a>(&'a self, checkpoint: &'a Checkpoint) -> Option<RecordRef<'a>> {
        match self.queue.front()? {
            Queued::Checkpoint => Some(RecordRef::Checkpoint(checkpoint)),
            other => view(other, self.payloads.front()),
        }
    }

    /// The first record when it is not a checkpoint (so that the state may be changed while
    /// it is looked at).
    pub fn front_not_checkpoint(&self) -> Option<RecordRef<'_>> {
        view(self.queue.front()?, self.payloads.front())
    }

    /// Drops the first record and its payload.
    pub fn pop(&mut self) -> Option<()> {
        let q = self.queue.pop_front()?;
        if q.has_payload() {
            let _ = self.payloads.pop_front();
        }
        Some(())
    }

    /// Every record waiting, small parts (payloads not included).
    pub fn iter(&self) -> impl Iterator<Item = &Queued> {
        self.queue.iter()
    }
}

/// A record other than the checkpoint, with `payload` as its large part.
fn view<'a>(q: &'a Queued, payload: Option<&'a Payload>) -> Option<RecordRef<'a>> {
    Some(match q {
        Queued::Checkpoint => return None,
        Queued::StanReserved { batch, upto } => RecordRef::StanReserved {
            batch: *batch,
            upto: *upto,
        },
        Queued::AuthStarted(a) => RecordRef::AuthStarted(a),
        Queued::Completed { stan } => match payload? {
            Payload::Response(response) => RecordRef::Completed {
                stan: *stan,
                response,
            },
            Payload::Totals(_) => return None,
        },
        Queued::Delivered { stan } => RecordRef::Delivered { stan: *stan },
        Queued::ReversalQueued(p) => RecordRef::ReversalQueued(p),
        Queued::ReversalAcked {
            batch,
            original_stan,
        } => RecordRef::ReversalAcked {
            batch: *batch,
            original_stan: *original_stan,
        },
        Queued::BatchClosed { batch } => match payload? {
            Payload::Totals(totals) => RecordRef::BatchClosed {
                batch: *batch,
                totals,
            },
            Payload::Response(_) => return None,
        },
    })
}
