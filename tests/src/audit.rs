//! Do the bank and the agent agree? Reads the agent's journal files (as the agent itself would
//! on a restart, without turning open authorizations into reversals) and the bank simulator's
//! ledger, and lists every disagreement: a payment the bank holds that the journal does not
//! count (lost), one counted twice or reversed and settled both (doubled), totals that differ.

use std::path::Path;

use ecrlink_core::journal::{JournalState, Reader};
use ecrlink_core::txn::Totals;

/// What the journal directory holds.
#[derive(Clone, Debug, Default)]
pub struct JournalView {
    /// Every record folded in, in file order.
    pub state: JournalState,
    /// Records read.
    pub records: usize,
    /// Journal files read.
    pub files: usize,
    /// Bytes after the last whole record, summed over the files (a torn tail).
    pub torn_bytes: usize,
    /// Saved bad tails (`*.bad-*` files) left by a recovery.
    pub saved_bad_tails: usize,
}

/// Reads every `journal-*.log` file of `dir` in order.
pub fn read_journal(dir: &Path) -> JournalView {
    let mut v = JournalView::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return v;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if name.contains(".bad-") {
            v.saved_bad_tails += 1;
            continue;
        }
        if !(name.starts_with("journal-") && name.ends_with(".log")) {
            continue;
        }
        let Ok(bytes) = std::fs::read(dir.join(&name)) else {
            continue;
        };
        v.files += 1;
        // A file in a format this build does not read counts as unreadable (torn) bytes.
        let Ok(mut reader) = Reader::new(&bytes) else {
            v.torn_bytes += bytes.len();
            continue;
        };
        for e in reader.by_ref().flatten() {
            v.records += 1;
            let _ = v.state.apply(&e.record);
        }
        v.torn_bytes += bytes.len() - reader.valid_len();
    }
    v
}

/// Debit and credit count and sum of one currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    /// Sales (and cashback sales): count.
    pub debit_count: u64,
    /// Sales: sum in minor units.
    pub debit_minor: u64,
    /// Refunds: count.
    pub credit_count: u64,
    /// Refunds: sum.
    pub credit_minor: u64,
}

/// The journal's batch totals by currency.
pub fn journal_sums(t: &Totals) -> Vec<(u16, Sums)> {
    let mut v: Vec<(u16, Sums)> = t
        .currencies
        .iter()
        .map(|c| {
            (
                c.currency,
                Sums {
                    debit_count: u64::from(c.debit_count),
                    debit_minor: c.debit_minor,
                    credit_count: u64::from(c.credit_count),
                    credit_minor: c.credit_minor,
                },
            )
        })
        .filter(|(_, s)| *s != Sums::default())
        .collect();
    v.sort_by_key(|(c, _)| *c);
    v
}

/// The bank's approved, not reversed authorizations of `terminal` not yet settled, by currency.
pub fn bank_open_sums(ledger: &serde_json::Value, terminal: &str) -> Vec<(u16, Sums)> {
    let mut v: Vec<(u16, Sums)> = Vec::new();
    for a in ledger["auths"].as_array().into_iter().flatten() {
        if a["terminal"] != terminal || a["state"] != "approved" {
            continue;
        }
        let cur = a["currency"].as_u64().unwrap_or(0) as u16;
        let amount = a["amount"].as_u64().unwrap_or(0);
        let i = match v.iter().position(|(c, _)| *c == cur) {
            Some(i) => i,
            None => {
                v.push((cur, Sums::default()));
                v.len() - 1
            }
        };
        let s = &mut v[i].1;
        if a["kind"] == "refund" {
            s.credit_count += 1;
            s.credit_minor += amount;
        } else {
            s.debit_count += 1;
            s.debit_minor += amount;
        }
    }
    v.sort_by_key(|(c, _)| *c);
    v
}

/// Whether the bank holds money for this authorization: approved in full (00, 08, 11) or in
/// part (10), by the amount it records as approved (older ledgers: by the code).
fn bank_holds(a: &serde_json::Value) -> bool {
    match a["approved_amount"].as_u64() {
        Some(n) => n > 0,
        None => matches!(a["code"].as_str(), Some("00" | "08" | "10" | "11")),
    }
}

/// Every disagreement between the ledger and the journal of an agent that has finished its
/// work (no transaction in flight, reversals forwarded). Empty: they agree.
pub fn disagreements(
    ledger: &serde_json::Value,
    journal: &JournalView,
    terminal: &str,
) -> Vec<String> {
    let mut bad = Vec::new();
    for a in ledger["auths"].as_array().into_iter().flatten() {
        let reversed = a["reversed_count"].as_u64().unwrap_or(0);
        let settled = a["settled_count"].as_u64().unwrap_or(0);
        if reversed + settled > 1 {
            bad.push(format!(
                "doubled: trace {} {} reversed {reversed}× settled {settled}×",
                a["stan"], a["amount"]
            ));
        }
        if !bank_holds(a) && reversed + settled > 0 {
            bad.push(format!(
                "declined auth trace {} settled or reversed",
                a["stan"]
            ));
        }
    }
    let j = journal_sums(&journal.state.checkpoint.totals);
    let b = bank_open_sums(ledger, terminal);
    if j != b {
        bad.push(format!("totals differ: journal {j:?}, bank {b:?}"));
    }
    if !journal.state.open.is_empty() {
        bad.push(format!(
            "journal: {} authorization(s) without a final answer",
            journal.state.open.len()
        ));
    }
    if !journal.state.checkpoint.pending.is_empty() {
        bad.push(format!(
            "journal: {} reversal(s) never acknowledged by the bank",
            journal.state.checkpoint.pending.len()
        ));
    }
    if journal.torn_bytes > 0 {
        bad.push(format!(
            "journal: {} bytes of a half-written record",
            journal.torn_bytes
        ));
    }
    bad
}

/// After a batch close: every approved authorization settled or reversed exactly once, and the
/// reconciliation matched.
pub fn after_close(ledger: &serde_json::Value) -> Vec<String> {
    let mut bad = Vec::new();
    for a in ledger["auths"].as_array().into_iter().flatten() {
        let reversed = a["reversed_count"].as_u64().unwrap_or(0);
        let settled = a["settled_count"].as_u64().unwrap_or(0);
        if bank_holds(a) && reversed + settled != 1 {
            bad.push(format!(
                "approved auth trace {} ({}) settled {settled}×, reversed {reversed}×",
                a["stan"], a["amount"]
            ));
        }
    }
    for r in ledger["reconciliations"].as_array().into_iter().flatten() {
        if r["matched"] != true {
            bad.push(format!("reconciliation did not match: {r}"));
        }
    }
    bad
}

/// A one-line summary of the ledger: authorizations settled / reversed / declined / still open.
pub fn ledger_brief(ledger: &serde_json::Value) -> String {
    let auths = ledger["auths"].as_array().cloned().unwrap_or_default();
    let count = |state: &str| auths.iter().filter(|a| a["state"] == state).count();
    format!(
        "{} auth: {} settled, {} reversed, {} declined, {} open",
        auths.len(),
        count("settled"),
        count("reversed"),
        count("declined"),
        count("approved")
    )
}
