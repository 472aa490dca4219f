//! A cashier's "stop" (Ctrl-C) while the terminal works on a request.
//!
//! The till does not just leave: the terminal would go on and charge the card. On the first
//! press it sends the dialect's abort on the same connection (ČSOB: passivate, T81; the
//! terminal cancels a card read that is still running), then asks for the last transaction
//! (ČSOB: T82) and reports what really happened. A dialect without an abort (Concert) gets a
//! result that says plainly the outcome is unknown and how to find it. A second press ends the
//! wait at once with that "unknown" result.

use ecrlink_core::session::EcrSide;
use ecrlink_core::txn::{Outcome, Request, Response};
use tokio::sync::watch;

use super::driver::{Action, Clock, End, Io, describe_outcome, exchange};
use super::{Recovery, Till, is_same_transaction};

/// The receiving end of the cashier's "stop" presses, given to [`super::TillOptions::interrupt`].
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Interrupt {
    presses: watch::Receiver<u32>,
}

/// The sending end: [`InterruptTrigger::press`] once per Ctrl-C.
#[derive(Debug)]
pub struct InterruptTrigger {
    presses: watch::Sender<u32>,
}

/// A connected pair: the trigger for the signal handler, the [`Interrupt`] for the till.
pub fn interrupt() -> (InterruptTrigger, Interrupt) {
    let (tx, rx) = watch::channel(0);
    (InterruptTrigger { presses: tx }, Interrupt { presses: rx })
}

impl InterruptTrigger {
    /// One press (Ctrl-C); returns how many there were so far.
    pub fn press(&self) -> u32 {
        let mut n = 0;
        self.presses.send_modify(|p| {
            *p = p.saturating_add(1);
            n = *p;
        });
        n
    }
}

impl Interrupt {
    /// Presses so far.
    pub fn count(&self) -> u32 {
        *self.presses.borrow()
    }

    /// Waits until there have been at least `n` presses (for ever once the trigger is gone).
    pub async fn pressed(&mut self, n: u32) {
        loop {
            if *self.presses.borrow_and_update() >= n {
                return;
            }
            if self.presses.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// What the till found out after the cashier's stop.
pub(super) struct Interrupted {
    pub outcome: Outcome,
    pub response: Option<Response>,
    pub recovery: Recovery,
    pub detail: String,
}

impl Interrupted {
    fn unknown(recovery: Recovery, detail: String) -> Self {
        Interrupted {
            outcome: Outcome::Timeout,
            response: None,
            recovery,
            detail,
        }
    }
}

impl Till {
    /// Whether this till's dialect has an abort request (ČSOB's T81; Concert has none).
    pub fn can_abort(&self) -> bool {
        self.new_ecr().is_ok_and(|mut e| {
            e.start(ecrlink_core::Instant::ZERO, &Request::Abort)
                .is_ok()
        })
    }

    /// After the first press while `original` ran on `io`: abort it there, ask for the last
    /// transaction, and say what happened; a second press ends this at once.
    pub(super) async fn after_interrupt(
        &self,
        io: &mut dyn Io,
        original: &Request,
        limit: tokio::time::Instant,
        mut interrupt: Interrupt,
    ) -> Interrupted {
        let log = &self.opts.log;
        if !self.can_abort() {
            log.line("interrupted: this dialect has no abort request; the outcome is unknown");
            return Interrupted::unknown(
                Recovery::Unsupported,
                "interrupted at the till; the dialect cannot cancel the request".into(),
            );
        }
        tokio::select! {
            biased;
            () = interrupt.pressed(2) => {
                log.line("interrupted again: stopped waiting; the outcome is unknown");
                Interrupted::unknown(
                    Recovery::Failed("interrupted again before the terminal answered".into()),
                    "interrupted twice at the till".into(),
                )
            }
            found = self.abort_and_ask(io, original, limit) => found,
        }
    }

    /// One exchange of the recovery on `io` with `ecr`: sends `what` and waits for its end
    /// up to the recovery timeout (never past `limit`), for its acknowledgement up to the
    /// acknowledgement timeout.
    async fn recovery_exchange(
        &self,
        io: &mut dyn Io,
        ecr: &mut (dyn EcrSide + Send),
        what: &'static Request,
        limit: tokio::time::Instant,
        clock: &Clock,
    ) -> End {
        let o = &self.opts;
        let now = tokio::time::Instant::now();
        exchange(
            io,
            ecr,
            self.log_dialect(),
            Action::Request(what),
            (now + o.recovery_timeout).min(limit),
            Some(now + o.ack_timeout),
            false,
            &o.log,
            clock,
        )
        .await
    }

    async fn abort_and_ask(
        &self,
        io: &mut dyn Io,
        original: &Request,
        limit: tokio::time::Instant,
    ) -> Interrupted {
        let o = &self.opts;
        let log = &o.log;
        // A fresh session on the same connection: the terminal takes an abort only from the
        // till connection that started the request.
        let mut ecr = match self.new_ecr() {
            Ok(e) => e,
            Err(e) => {
                return Interrupted::unknown(Recovery::Failed(e.to_string()), e.to_string());
            }
        };
        let clock = Clock::start();
        log.line("interrupted: asking the terminal to cancel the request");
        let end = self
            .recovery_exchange(io, ecr.as_mut(), &Request::Abort, limit, &clock)
            .await;
        // The terminal confirmed the cancel: its answer to the abort is "done".
        let cancelled = match &end {
            End::Response { response, .. } => {
                log.line(&format!(
                    "interrupted: the abort was answered {}",
                    describe_outcome(&response.outcome)
                ));
                response.outcome.is_approved()
            }
            other => {
                log.line(&format!("interrupted: the abort got no answer ({other:?})"));
                false
            }
        };
        let end = self
            .recovery_exchange(io, ecr.as_mut(), &Request::LastTransaction, limit, &clock)
            .await;
        let detail = if cancelled {
            "interrupted at the till; the terminal cancelled the request"
        } else {
            "interrupted at the till; the terminal did not confirm the cancel"
        }
        .to_string();
        match end {
            End::Response { response, .. } if is_same_transaction(original, &response) => {
                log.line("interrupted: the last transaction is this one");
                Interrupted {
                    outcome: response.outcome.clone(),
                    response: Some(response),
                    recovery: Recovery::Matched,
                    detail,
                }
            }
            _ if cancelled => {
                log.line("interrupted: cancelled; the last transaction is not this one");
                Interrupted {
                    outcome: Outcome::Cancelled,
                    response: None,
                    recovery: Recovery::Different,
                    detail,
                }
            }
            End::Response { .. } => Interrupted::unknown(
                Recovery::Failed(
                    "the cancel was not confirmed and the last transaction is another one".into(),
                ),
                detail,
            ),
            _ => Interrupted::unknown(
                Recovery::Failed("no answer to the last-transaction question".into()),
                detail,
            ),
        }
    }
}
