//! The dialect sessions the agent can run, by name.

use ecrlink_core::dialect::concert::{ConcertTerminal, ConcertTerminalConfig};
use ecrlink_core::dialect::csob::{CsobConfig, CsobTerminal, ReceiptSelector};
use ecrlink_core::dialect::zvt::session::status as zvt_status;
use ecrlink_core::dialect::zvt::{
    ReceiptCopy, ReceiptWanted, Transport, ZvtTerminal, ZvtTerminalConfig,
};
use ecrlink_core::session::{Dialect, RECEIPT_PART_CAPACITY, TerminalSide};
use ecrlink_core::txn::{ApprovalCode, Currency, Money, Response, TerminalId};
use ecrlink_core::{Instant, Result};

use crate::clock;
use crate::config::Config;
use crate::printer::Copy;

/// What a new session is told about the terminal's past.
#[derive(Clone, Debug, Default)]
pub struct Seed {
    /// The last approved transaction (approval code and amount), for a ČSOB reversal that
    /// names only the approval code.
    pub last_approved: Option<(ApprovalCode, Money)>,
    /// The till talks over a serial line (ZVT frames APDUs there), not TCP.
    pub serial: bool,
}

/// What the engine is doing for the till's running request, for dialects that report it
/// while it runs (ZVT intermediate status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the card.
    Card,
    /// Card read; waiting for the bank.
    Bank,
}

/// Which part of a receipt the till asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptAsk {
    /// The first part of this copy.
    Copy(Copy),
    /// The next part of the copy being sent.
    Next,
}

/// A terminal-side session plus what the agent needs beyond [`TerminalSide`].
pub trait AgentSession: TerminalSide + Send {
    /// What the pending receipt request asked for (ČSOB B3); `None` when the dialect does
    /// not say.
    fn receipt_ask(&self) -> Option<ReceiptAsk> {
        None
    }

    /// The running request reached `stage`; a dialect that tells the till (ZVT `04 FF`) does.
    fn progress(&mut self, _now: Instant, _stage: Stage) {}

    /// Whether an abort from the till leaves the running request to end with its own answer
    /// (ZVT: the authorisation ends with `06 1E`), rather than replacing it (ČSOB T81).
    fn abort_keeps_request(&self) -> bool {
        false
    }

    /// The engine is busy with a transaction this session did not ask for (another till's):
    /// a dialect that can refuse a request before taking it (Concert: NAK to the ENQ) does.
    fn set_busy(&mut self, _busy: bool) {}

    /// Whether receipt text `text` goes to the till in one part (with the "more follows" mark
    /// when `more`); the driver cuts receipts into parts that fit.
    fn receipt_part_fits(&self, text: &str, more: bool) -> bool {
        let _ = more;
        text.len() <= RECEIPT_PART_CAPACITY
    }

    /// Answers like [`TerminalSide::respond`], saying whether the agent holds a receipt of
    /// this very answer for the till to fetch (ČSOB B2 "receipt ready" flag).
    fn respond_with_receipt(
        &mut self,
        now: Instant,
        response: &Response,
        receipt: bool,
    ) -> Result<()> {
        let _ = receipt;
        self.respond(now, response)
    }
}

impl AgentSession for ConcertTerminal {
    fn set_busy(&mut self, busy: bool) {
        self.set_application_busy(busy);
    }
}

impl AgentSession for CsobTerminal {
    fn receipt_ask(&self) -> Option<ReceiptAsk> {
        self.receipt_selector().map(|s| match s {
            ReceiptSelector::Merchant => ReceiptAsk::Copy(Copy::Merchant),
            ReceiptSelector::Customer => ReceiptAsk::Copy(Copy::Customer),
            ReceiptSelector::Next => ReceiptAsk::Next,
        })
    }

    fn receipt_part_fits(&self, text: &str, more: bool) -> bool {
        CsobTerminal::receipt_part_fits(self, text, more)
    }

    fn respond_with_receipt(
        &mut self,
        now: Instant,
        response: &Response,
        receipt: bool,
    ) -> Result<()> {
        CsobTerminal::respond_with_receipt(self, now, response, receipt)
    }
}

impl AgentSession for ZvtTerminal {
    fn receipt_ask(&self) -> Option<ReceiptAsk> {
        self.receipt_wanted().map(|w| match w {
            ReceiptWanted::First(ReceiptCopy::Merchant) => ReceiptAsk::Copy(Copy::Merchant),
            ReceiptWanted::First(ReceiptCopy::Customer) => ReceiptAsk::Copy(Copy::Customer),
            ReceiptWanted::Next => ReceiptAsk::Next,
        })
    }

    fn progress(&mut self, now: Instant, stage: Stage) {
        let code = match stage {
            Stage::Card => zvt_status::INSERT_CARD,
            Stage::Bank => zvt_status::WAITING_FOR_HOST,
        };
        self.intermediate_status(now, code);
    }

    fn abort_keeps_request(&self) -> bool {
        true
    }
}

/// The ZVT terminal id (BMP `29`, eight digits): the configured terminal id when it is all
/// digits, else 0.
fn zvt_terminal_id(id: &str) -> u32 {
    if id.len() <= 8 && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        id.parse().unwrap_or(0)
    } else {
        0
    }
}

/// A fresh terminal-side session of `dialect`.
pub fn terminal_session(
    dialect: Dialect,
    cfg: &Config,
    seed: &Seed,
) -> anyhow::Result<Box<dyn AgentSession>> {
    match dialect {
        Dialect::Concert => Ok(Box::new(ConcertTerminal::new(
            ConcertTerminalConfig::default(),
        ))),
        Dialect::Csob => {
            let tid = TerminalId::new(&cfg.terminal_id)
                .map_err(|e| anyhow::anyhow!("terminal id: {e}"))?;
            let mut s = CsobTerminal::new(CsobConfig::new(tid));
            s.set_wall_clock(clock::now(), clock::timestamp());
            if let Some((code, amount)) = &seed.last_approved {
                s.set_last_approved(code.clone(), *amount);
            }
            Ok(Box::new(s))
        }
        Dialect::Zvt => {
            let currency = Currency::from_alpha(&cfg.currency).unwrap_or(Currency::EUR);
            let mut z = ZvtTerminalConfig::new(currency);
            z.password = cfg
                .zvt_password
                .parse()
                .map_err(|_| anyhow::anyhow!("ZVT password must be six digits"))?;
            z.terminal_id = zvt_terminal_id(&cfg.terminal_id);
            z.transport = if seed.serial {
                Transport::Serial
            } else {
                Transport::Tcp
            };
            Ok(Box::new(ZvtTerminal::new(z)))
        }
    }
}
