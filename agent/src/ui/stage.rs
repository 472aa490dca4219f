//! The terminal's stages as a customer sees them, published by the engine (the driver: it
//! reports what it already carries out, it decides nothing) and the card reader, for the
//! browser page and the tills whose dialect carries them.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::card::CardDesk;

/// One stage of the terminal. Card data in a stage is the masked number only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "kebab-case")]
pub enum Stage {
    /// Nothing runs; the terminal shows its idle screen.
    Idle,
    /// A request was taken from a till (or the keypad).
    Request {
        /// Request kind (`sale`, `refund`, `test-bank`, …).
        kind: &'static str,
        /// Amount to pay, e.g. `12.50 EUR`, for requests that carry one.
        amount: Option<String>,
    },
    /// The terminal asks for the merchant PIN before a request its policy guards (refund,
    /// reversal, close totals) goes on. The PIN itself never appears in a stage.
    MerchantPin {
        /// Request kind the PIN is asked for (`refund`, …).
        kind: &'static str,
    },
    /// The terminal waits for the card ("present card").
    PresentCard {
        /// Amount to pay.
        amount: String,
        /// Seconds the terminal waits at most (the transaction limit).
        limit_s: u64,
    },
    /// The cardholder enters the PIN.
    PinEntry,
    /// A card was read.
    CardRead {
        /// Scheme as printed (`VISA`).
        scheme: &'static str,
        /// How (`chip`, `contactless`, `swipe`, `manual`).
        entry: &'static str,
        /// Masked card number (first 6, last 4).
        pan: String,
    },
    /// No card: the wait was cancelled or the cardholder walked away.
    NoCard,
    /// The card could not be used.
    CardFailed {
        /// Why (`card-error`, `card-expired`, `card-blocked`).
        reason: &'static str,
    },
    /// The authorization is on its way to the bank.
    ContactingBank,
    /// The answer the till is given.
    Answer {
        /// Request kind.
        kind: &'static str,
        /// Outcome name (`approved`, `declined`, `timeout`, …).
        outcome: &'static str,
        /// The bank's or the terminal's decline code, when declined.
        code: Option<String>,
        /// Failure reason, when failed.
        reason: Option<&'static str>,
        /// The terminal's words for a failure, when it has them (a policy refusal such as
        /// "wrong merchant PIN").
        message: Option<String>,
        /// Approval code, when approved.
        approval: Option<String>,
        /// Amount processed.
        amount: Option<String>,
        /// Masked card number.
        pan: Option<String>,
        /// Scheme.
        scheme: Option<&'static str>,
        /// Trace number of the bank exchange.
        trace: Option<u32>,
        /// When, ISO 8601.
        time: Option<String>,
    },
    /// The receipt is being printed: its customer copy as printed.
    Printing {
        /// Receipt text.
        receipt: String,
    },
}

impl Stage {
    /// The stage as a till's dialect carries it (ČSOB activity messages), if it is one.
    pub fn till_progress(&self) -> Option<ecrlink_core::session::Progress> {
        use ecrlink_core::session::Progress;
        Some(match self {
            Stage::PresentCard { .. } => Progress::PresentCard,
            Stage::PinEntry => Progress::PinEntry,
            Stage::CardRead { .. } => Progress::CardRead,
            Stage::ContactingBank => Progress::ContactingBank,
            Stage::Printing { .. } => Progress::Printing,
            _ => return None,
        })
    }
}

/// Where stages go: any number of listeners; one that falls behind loses the oldest.
#[derive(Clone)]
pub struct StageBus {
    tx: broadcast::Sender<Stage>,
}

impl Default for StageBus {
    fn default() -> Self {
        StageBus {
            tx: broadcast::channel(64).0,
        }
    }
}

impl StageBus {
    /// Publishes a stage (nobody listening is fine).
    pub fn publish(&self, stage: Stage) {
        let _ = self.tx.send(stage);
    }

    /// A receiver of the stages published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Stage> {
        self.tx.subscribe()
    }
}

/// What a tester made of the bank link (agent side: the bank itself is not touched).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum BankFault {
    /// Messages go to the bank as usual.
    Normal,
    /// Each message is held this long before it goes.
    Slow {
        /// Milliseconds held.
        delay_ms: u64,
    },
    /// Messages are held forever: the bank never answers (the terminal's bank timeout acts).
    Silent,
    /// Messages fail at once as not sent (the bank link is down).
    Offline,
}

/// A [`BankFault`] shared between the page and the engine (which follows its changes: an
/// offline link is a link down for the payment application).
pub struct BankFaultCell {
    tx: watch::Sender<BankFault>,
}

impl Default for BankFaultCell {
    fn default() -> Self {
        BankFaultCell {
            tx: watch::channel(BankFault::Normal).0,
        }
    }
}

impl BankFaultCell {
    /// The fault in force.
    pub fn get(&self) -> BankFault {
        *self.tx.borrow()
    }

    /// Sets the fault for the next bank messages.
    pub fn set(&self, fault: BankFault) {
        self.tx.send_replace(fault);
    }

    /// A receiver of changes.
    pub fn watch(&self) -> watch::Receiver<BankFault> {
        self.tx.subscribe()
    }

    /// The delay of [`BankFault::Slow`] as a duration.
    pub fn slow_delay(fault: BankFault) -> Option<Duration> {
        match fault {
            BankFault::Slow { delay_ms } => Some(Duration::from_millis(delay_ms)),
            _ => None,
        }
    }
}

/// What the page (and the tills' progress) share with the engine: the stage bus, the card
/// desk, the bank fault.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Stages published by the engine and the reader.
    pub stages: StageBus,
    /// The tester's side of the card reader.
    pub desk: Arc<CardDesk>,
    /// The bank link as the tester set it.
    pub bank_fault: Arc<BankFaultCell>,
    /// The journal's last transaction when the agent started (its answer stage): the page's
    /// list of transactions starts with it, so a restart does not empty the list.
    pub journal_last: Arc<std::sync::Mutex<Option<Stage>>>,
}
