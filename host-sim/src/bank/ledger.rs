//! The simulated bank's ledger: every authorization it approved or declined, and what became
//! of it. An approved authorization must end up settled (by a reconciliation) or reversed,
//! exactly once; the counters let tests check that nothing was doubled or lost.

use serde::Serialize;

/// What became of an authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthState {
    /// Approved, not yet settled or reversed.
    Approved,
    /// Declined (no money moved).
    Declined,
    /// Reversed before settlement.
    Reversed,
    /// Included in a reconciliation.
    Settled,
}

/// One authorization (0200) the bank received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerAuth {
    /// Terminal id (field 41).
    pub terminal: String,
    /// Trace number (field 11).
    pub stan: u32,
    /// Transmission date and time (field 7, MMDDhhmmss), part of the identity of the auth.
    pub transmitted: String,
    /// "sale", "cashback" or "refund".
    pub kind: String,
    /// Amount in minor units.
    pub amount: u64,
    /// Cashback in minor units.
    pub cashback: Option<u64>,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// Masked PAN.
    pub pan: String,
    /// Response code given.
    pub code: String,
    /// Approval code given.
    pub approval: Option<String>,
    /// Current state.
    pub state: AuthState,
    /// Whether the answer was deliberately not sent (rule `drop`).
    pub reply_dropped: bool,
    /// Times it was reversed (must stay ≤ 1).
    pub reversed_count: u32,
    /// Times it was settled (must stay ≤ 1).
    pub settled_count: u32,
    /// Reversal messages received for it (duplicates of store-and-forward re-sends count).
    pub reversal_messages: u32,
}

/// One reconciliation (0500).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Terminal id.
    pub terminal: String,
    /// Currency.
    pub currency: u16,
    /// Authorizations it settled.
    pub settled: u32,
    /// Whether the terminal's totals matched the bank's.
    pub matched: bool,
}

/// Everything the bank saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// Authorizations in arrival order.
    pub auths: Vec<LedgerAuth>,
    /// Reversals whose original the bank never saw.
    pub unmatched_reversals: u32,
    /// Reconciliations.
    pub reconciliations: Vec<Reconciliation>,
    /// Echo tests answered.
    pub echoes: u32,
    /// Messages received.
    pub messages: u64,
}

impl Ledger {
    /// The authorization with this identity.
    pub fn find_mut(
        &mut self,
        terminal: &str,
        stan: u32,
        transmitted: &str,
    ) -> Option<&mut LedgerAuth> {
        self.auths
            .iter_mut()
            .rev()
            .find(|a| a.terminal == terminal && a.stan == stan && a.transmitted == transmitted)
    }

    /// Approved authorizations, whatever became of them.
    pub fn approved(&self) -> impl Iterator<Item = &LedgerAuth> {
        self.auths.iter().filter(|a| a.code == "00")
    }

    /// Authorizations violating "settled or reversed at most once, never both".
    pub fn violations(&self) -> Vec<&LedgerAuth> {
        self.auths
            .iter()
            .filter(|a| a.reversed_count + a.settled_count > 1)
            .collect()
    }
}
