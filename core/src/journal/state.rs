//! Folding records back into the agent's state: what a restart recovers.

use heapless::Vec;

use super::record::{
    AuthStarted, Checkpoint, ClosedBatch, LastTransaction, MAX_PENDING_REVERSALS, Original,
    PendingReversal, RecordRef, ReversalReason,
};
use crate::txn::{CurrencyTotals, Outcome, RequestKind, Response, SchemeTotals, Totals};
use crate::{Error, Result};

/// Most authorizations that may be open (started, not completed) at once.
pub const MAX_OPEN: usize = 4;

/// The state the records describe. Feed every record with [`JournalState::apply`] in order,
/// then call [`JournalState::recover`] once after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct JournalState {
    /// Batch, trace counter, totals, last transaction and pending reversals.
    pub checkpoint: Checkpoint,
    /// Authorizations started and not completed.
    pub open: Vec<AuthStarted, MAX_OPEN>,
    /// How many of the first entries of `open` were started before the last transaction was
    /// completed: after a restart they are reversed but do not replace it as the last one.
    pub open_before_last: usize,
    /// The open batch's approved payments and reservations, by receipt number. Not part of
    /// the [`Checkpoint`]: a new file carries it as [`Record::Booked`](super::Record::Booked) entries.
    pub book: super::book::Book,
}

impl JournalState {
    /// The state of an empty journal: batch 1, trace 1, nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one record (a `&`[`super::Record`] or a [`RecordRef`]). An error means a
    /// capacity was exceeded (the record is applied as far as possible); the caller reports
    /// it.
    pub fn apply<'r>(&mut self, record: impl Into<RecordRef<'r>>) -> Result<()> {
        let cp = &mut self.checkpoint;
        match record.into() {
            RecordRef::Checkpoint(c) => {
                cp.clone_from(c);
                self.checkpoint_replaced();
            }
            RecordRef::StanReserved { batch, upto } => {
                if batch == cp.batch && upto > cp.next_stan {
                    cp.next_stan = upto;
                }
            }
            RecordRef::AuthStarted(a) => {
                if a.batch == cp.batch && a.stan >= cp.next_stan {
                    cp.next_stan = a.stan.saturating_add(1);
                }
                if let Some(i) = self
                    .open
                    .iter()
                    .position(|o| o.stan == a.stan && o.batch == a.batch)
                {
                    self.open.remove(i);
                    if i < self.open_before_last {
                        self.open_before_last -= 1;
                    }
                }
                if self.open.is_full() && !self.open.is_empty() {
                    // The oldest open authorization can no longer be tracked as open: treat it
                    // as one that needs a reversal, exactly as a restart would.
                    let oldest = self.open.remove(0);
                    self.open_before_last = self.open_before_last.saturating_sub(1);
                    let mut r = Ok(());
                    if let Some(p) = reversal_for(&oldest) {
                        r = push_pending(&mut cp.pending, p);
                    }
                    self.open
                        .push(a.clone())
                        .map_err(|_| Error::CapacityExceeded {
                            what: "open authorizations",
                        })?;
                    return r;
                }
                self.open
                    .push(a.clone())
                    .map_err(|_| Error::CapacityExceeded {
                        what: "open authorizations",
                    })?;
            }
            RecordRef::Completed { stan, response } => {
                let pos = self
                    .open
                    .iter()
                    .position(|o| o.stan == stan && o.batch == cp.batch && stan != 0);
                let auth = pos.map(|i| self.open.remove(i));
                self.book
                    .fold_completed(cp.batch, stan, response, auth.as_ref());
                // Whatever is still open started before this completion.
                self.open_before_last = self.open.len();
                let mut result = Ok(());
                if let Some(auth) = &auth {
                    if response.outcome.is_approved() {
                        result = add_to_totals(&mut cp.totals, auth);
                    }
                }
                // A reversal that did not happen (declined, refused) leaves the last
                // transaction as it was, so that the till can still reverse it.
                let failed_reversal =
                    response.kind == RequestKind::Reversal && !response.outcome.is_approved();
                if (response.kind.moves_money() || auth.is_some()) && !failed_reversal {
                    let transmitted = auth
                        .as_ref()
                        .map(|a| a.transmitted)
                        .or(response.timestamp)
                        .unwrap_or(ZERO_TIME);
                    // In place when there is one: no second answer on the stack.
                    match cp.last.as_mut() {
                        Some(last) => {
                            last.stan = stan;
                            last.batch = cp.batch;
                            last.response.clone_from(response);
                            last.delivered = false;
                            last.transmitted = transmitted;
                        }
                        None => {
                            cp.last = Some(LastTransaction {
                                stan,
                                batch: cp.batch,
                                response: response.clone(),
                                delivered: false,
                                transmitted,
                            })
                        }
                    }
                }
                return result;
            }
            RecordRef::Delivered { stan } => {
                if let Some(last) = cp.last.as_mut() {
                    if last.stan == stan {
                        last.delivered = true;
                    }
                }
            }
            RecordRef::ReversalQueued(p) => return push_pending(&mut cp.pending, *p),
            RecordRef::ReversalAcked {
                batch,
                original_stan,
            } => {
                cp.pending
                    .retain(|p| p.batch != batch || p.original.stan != original_stan);
                // An authorization whose final answer could not be written was reversed from
                // memory: the bank's acknowledgement ends it, and a restart must not reverse
                // it again.
                if let Some(i) = self
                    .open
                    .iter()
                    .position(|o| o.stan == original_stan && o.batch == batch)
                {
                    self.open.remove(i);
                    if i < self.open_before_last {
                        self.open_before_last -= 1;
                    }
                }
            }
            RecordRef::Booked(e) => self.book.record(e.clone()),
            RecordRef::BatchClosed { batch, totals } => {
                if batch == cp.batch {
                    cp.batch = cp.batch.wrapping_add(1).max(1);
                    cp.next_stan = 1;
                    cp.totals = Totals::default();
                    cp.last_close = Some(ClosedBatch {
                        batch,
                        totals: totals.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// What a checkpoint record does besides replacing [`Self::checkpoint`]: it opens a file,
    /// so nothing is open before it. (Shared by [`Self::apply`] and
    /// [`super::apply_payload`], which decodes the checkpoint into its place.)
    pub(super) fn checkpoint_replaced(&mut self) {
        self.open.clear();
        self.open_before_last = 0;
    }

    /// After a restart: every authorization without a final answer gets a reversal queued
    /// (a till's reversal is re-sent), and becomes the last transaction with the outcome the
    /// till must see. Returns the checkpoint to open the next journal file with.
    pub fn recover(mut self) -> Result<Checkpoint> {
        self.recover_in_place().map(|()| self.checkpoint)
    }

    /// [`Self::recover`] without moving the state: afterwards `checkpoint` is the recovered
    /// checkpoint and nothing is open. All or nothing: when the reversals it would queue do
    /// not fit ([`MAX_PENDING_REVERSALS`]), it changes nothing and says so.
    pub fn recover_in_place(&mut self) -> Result<()> {
        let pending = &self.checkpoint.pending;
        let new = self
            .open
            .iter()
            .filter_map(reversal_for)
            .filter(|p| {
                !pending
                    .iter()
                    .any(|q| q.batch == p.batch && q.original.stan == p.original.stan)
            })
            .count();
        if pending.len() + new > MAX_PENDING_REVERSALS {
            return Err(Error::CapacityExceeded {
                what: "pending reversals",
            });
        }
        let mut result = Ok(());
        let open = core::mem::take(&mut self.open);
        let before_last = self.open_before_last;
        self.open_before_last = 0;
        for (i, auth) in open.iter().enumerate() {
            let Some(p) = reversal_for(auth) else {
                continue;
            };
            if let Err(e) = push_pending(&mut self.checkpoint.pending, p) {
                result = Err(e);
            }
            // A till's reversal will reach the bank (store and forward): it counts as done.
            // Anything else was not approved as far as the till can know: it is cancelled.
            // The release of a reservation is a till's reversal of it too.
            let outcome = if matches!(
                auth.kind,
                RequestKind::Reversal | RequestKind::PreAuthReversal
            ) {
                if let Some(o) = &auth.original {
                    let _ = add_reversal_to_totals(&mut self.checkpoint.totals, o);
                }
                Outcome::Approved
            } else {
                Outcome::Cancelled
            };
            let mut response = Response::new(auth.kind, outcome);
            response.amount = auth.amount;
            response.cashback = auth.cashback;
            response.pan = auth.pan;
            response.scheme = auth.scheme;
            response.reference = auth.reference.clone();
            response.timestamp = Some(auth.transmitted);
            response.trace = Some(auth.stan);
            // One started before the last transaction completed does not replace it.
            if i >= before_last {
                self.checkpoint.last = Some(LastTransaction {
                    stan: auth.stan,
                    batch: auth.batch,
                    response,
                    delivered: false,
                    transmitted: auth.transmitted,
                });
            }
        }
        result
    }
}

const ZERO_TIME: crate::txn::Timestamp = crate::txn::Timestamp::MILLENNIUM;

/// The reversal that undoes `auth` if it was (or may have been) approved; `None` for requests
/// that move no money.
pub fn reversal_for(auth: &AuthStarted) -> Option<PendingReversal> {
    if let Some(original) = auth.original {
        return Some(PendingReversal {
            batch: auth.batch,
            original,
            reason: ReversalReason::TillRequest,
        });
    }
    if !auth.kind.moves_money() {
        return None;
    }
    let amount = auth.amount?;
    Some(PendingReversal {
        batch: auth.batch,
        original: Original {
            stan: auth.stan,
            kind: auth.kind,
            amount,
            transmitted: auth.transmitted,
            scheme: auth.scheme,
        },
        reason: ReversalReason::Recovery,
    })
}

fn push_pending(
    pending: &mut Vec<PendingReversal, MAX_PENDING_REVERSALS>,
    p: PendingReversal,
) -> Result<()> {
    if pending
        .iter()
        .any(|q| q.batch == p.batch && q.original.stan == p.original.stan)
    {
        return Ok(());
    }
    pending.push(p).map_err(|_| Error::CapacityExceeded {
        what: "pending reversals",
    })
}

fn currency_entry(totals: &mut Totals, currency: u16) -> Result<&mut CurrencyTotals> {
    let pos = match totals
        .currencies
        .iter()
        .position(|c| c.currency == currency)
    {
        Some(p) => p,
        None => {
            totals
                .currencies
                .push(CurrencyTotals {
                    currency,
                    ..CurrencyTotals::default()
                })
                .map_err(|_| Error::CapacityExceeded {
                    what: "totals currencies",
                })?;
            totals.currencies.len().saturating_sub(1)
        }
    };
    totals
        .currencies
        .get_mut(pos)
        .ok_or(Error::CapacityExceeded {
            what: "totals currencies",
        })
}

fn scheme_entry(
    totals: &mut Totals,
    scheme: crate::txn::CardScheme,
    currency: u16,
) -> Result<&mut SchemeTotals> {
    let pos = match totals
        .schemes
        .iter()
        .position(|s| s.scheme == scheme && s.currency == currency)
    {
        Some(p) => p,
        None => {
            totals
                .schemes
                .push(SchemeTotals {
                    scheme,
                    currency,
                    count: 0,
                    net_minor: 0,
                })
                .map_err(|_| Error::CapacityExceeded {
                    what: "totals schemes",
                })?;
            totals.schemes.len().saturating_sub(1)
        }
    };
    totals.schemes.get_mut(pos).ok_or(Error::CapacityExceeded {
        what: "totals schemes",
    })
}

fn signed(minor: u64) -> i64 {
    i64::try_from(minor).unwrap_or(i64::MAX)
}

/// Adds an approved authorization to the batch totals. A reservation counts nothing until it
/// is booked: then its booked amount counts as a sale (the start record of a booking or of a
/// partial reversal carries that amount); a released one counts nothing.
pub fn add_to_totals(totals: &mut Totals, auth: &AuthStarted) -> Result<()> {
    match auth.kind {
        RequestKind::Reservation | RequestKind::PreAuthReversal => return Ok(()),
        RequestKind::BookTotal | RequestKind::PartialReversal => {
            let booked = AuthStarted {
                kind: RequestKind::Sale,
                original: None,
                ..auth.clone()
            };
            return add_to_totals(totals, &booked);
        }
        _ => {}
    }
    if let Some(original) = &auth.original {
        return add_reversal_to_totals(totals, original);
    }
    let Some(amount) = auth.amount else {
        return Ok(());
    };
    let currency = amount.currency.numeric();
    let minor = amount.minor();
    let credit = auth.kind == RequestKind::Refund;
    if !matches!(
        auth.kind,
        RequestKind::Sale | RequestKind::SaleWithCashback | RequestKind::Refund
    ) {
        return Ok(());
    }
    let c = currency_entry(totals, currency)?;
    if credit {
        c.credit_count = c.credit_count.saturating_add(1);
        c.credit_minor = c.credit_minor.saturating_add(minor);
    } else {
        c.debit_count = c.debit_count.saturating_add(1);
        c.debit_minor = c.debit_minor.saturating_add(minor);
    }
    if let Some(scheme) = auth.scheme {
        let s = scheme_entry(totals, scheme, currency)?;
        s.count = s.count.saturating_add(1);
        s.net_minor = if credit {
            s.net_minor.saturating_sub(signed(minor))
        } else {
            s.net_minor.saturating_add(signed(minor))
        };
    }
    Ok(())
}

/// Takes a reversed authorization out of the batch totals and counts the reversal. A
/// reservation was never in them: its release changes nothing.
pub fn add_reversal_to_totals(totals: &mut Totals, original: &Original) -> Result<()> {
    if original.kind == RequestKind::Reservation {
        return Ok(());
    }
    let currency = original.amount.currency.numeric();
    let minor = original.amount.minor();
    let credit = original.kind == RequestKind::Refund;
    let c = currency_entry(totals, currency)?;
    c.reversal_count = c.reversal_count.saturating_add(1);
    if credit {
        c.credit_count = c.credit_count.saturating_sub(1);
        c.credit_minor = c.credit_minor.saturating_sub(minor);
    } else {
        c.debit_count = c.debit_count.saturating_sub(1);
        c.debit_minor = c.debit_minor.saturating_sub(minor);
    }
    if let Some(scheme) = original.scheme {
        let s = scheme_entry(totals, scheme, currency)?;
        s.count = s.count.saturating_sub(1);
        s.net_minor = if credit {
            s.net_minor.saturating_add(signed(minor))
        } else {
            s.net_minor.saturating_sub(signed(minor))
        };
    }
    Ok(())
}
