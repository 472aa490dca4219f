//! The simulated bank's ledger: every authorization it approved or declined, and what became
//! of it. An approved authorization must end up settled (by a reconciliation) or reversed,
//! exactly once; the counters let tests check that nothing was doubled or lost.
//!
//! With `--ledger FILE` the ledger is a JSON file, rewritten atomically (temporary file, then
//! rename) after every change and read back when the simulator starts, so a restarted bank
//! still knows what it approved (a reversal after a restart finds its original).

use std::path::{Path, PathBuf};

use ecrlink_core::bank::ResponseCode;
use serde::{Deserialize, Serialize};

/// What became of an authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthState {
    /// Approved (fully or partly), not yet settled or reversed: the bank holds the money.
    Approved,
    /// Declined (no money moved).
    Declined,
    /// Reversed before settlement.
    Reversed,
    /// Included in a reconciliation.
    Settled,
}

/// Whether an authorization answered with `code` holds money at the bank: the codes core
/// calls approving ([`ResponseCode::is_approved`]: 00, 08, 11) and 10 (partial approval).
pub fn code_holds_money(code: &str) -> bool {
    code == "10" || ResponseCode::new(code.as_bytes()).is_ok_and(|c| c.is_approved())
}

/// One authorization (0200) the bank received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerAuth {
    /// Terminal id (field 41).
    pub terminal: String,
    /// Trace number (field 11).
    pub stan: u32,
    /// Transmission date and time (field 7, MMDDhhmmss), part of the identity of the auth.
    pub transmitted: String,
    /// "sale", "cashback", "refund" or "reservation" (an 0100 pre-authorisation).
    pub kind: String,
    /// A reservation's amount as the bank approved it (held on the card), before any
    /// completion or partial reversal; `None` for other authorizations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved: Option<u64>,
    /// What a completion (0220) or partial reversal (0400 with field 95) of a reservation
    /// booked; `approved_amount` is then this and the rest is released. `None` while the
    /// reservation is only held (a reconciliation does not settle it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked: Option<u64>,
    /// Amount asked for, in minor units.
    pub amount: u64,
    /// Amount the bank approved (holds), in minor units: `amount`, less for a partial
    /// approval (code 10), 0 when declined.
    #[serde(default)]
    pub approved_amount: u64,
    /// Cashback in minor units.
    pub cashback: Option<u64>,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// Masked PAN.
    pub pan: String,
    /// Response code given.
    pub code: String,
    /// Approval code given (none when a rule left field 38 out).
    pub approval: Option<String>,
    /// Current state.
    pub state: AuthState,
    /// Whether the answer was deliberately not sent (rule `drop`).
    pub reply_dropped: bool,
    /// What a rule did to the answer (late, twice, cut, other trace number), if anything.
    #[serde(default)]
    pub reply_fault: Option<String>,
    /// Times it was reversed (must stay ≤ 1).
    pub reversed_count: u32,
    /// Times it was settled (must stay ≤ 1).
    pub settled_count: u32,
    /// Reversal messages received for it (duplicates of store-and-forward re-sends count).
    pub reversal_messages: u32,
    /// The code the bank answered to each of those reversal messages, in order.
    #[serde(default)]
    pub reversal_codes: Vec<String>,
    /// The reason (field 39) each of those reversal messages gave, in order (`-` for none):
    /// `17` the till asked, `68` no answer in time, `21` the till could not be told, `32` a
    /// partial approval given back, `22` found open after a restart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reversal_reasons: Vec<String>,
    /// What the check of the chip cryptogram found: `valid`, `invalid`, `incomplete`,
    /// `absent` (no chip data), `missing` (a chip read without one, with `--cryptogram
    /// require`), `unchecked` (`--cryptogram off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cryptogram: Option<String>,
}

/// One reconciliation (0500).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Terminal id.
    pub terminal: String,
    /// Currency.
    pub currency: u16,
    /// Authorizations it settled.
    pub settled: u32,
    /// Whether the terminal's totals matched the bank's.
    pub matched: bool,
    /// The code answered (anything but 00 settles nothing).
    #[serde(default = "code_00")]
    pub code: String,
}

fn code_00() -> String {
    "00".into()
}

/// Everything the bank saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Times the simulator started on this ledger (1 for a new one).
    #[serde(default)]
    pub starts: u32,
}

/// Why the ledger file cannot be used; the simulator refuses to start (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LedgerFileError {
    /// It exists but cannot be read.
    #[error("ledger {}: cannot read it: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a ledger this simulator wrote (left untouched).
    #[error(
        "ledger {}: not a bank-simulator ledger ({source}); it is left as it is: move it away or pick another --ledger",
        path.display()
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// It cannot be written (directory missing or not writable, path is a directory, …).
    #[error(
        "ledger {}: cannot write it ({source}); the directory must exist and be writable",
        path.display()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Ledger {
    /// The ledger in `path`: empty if the file does not exist or is empty. Ledgers written
    /// before `approved_amount` existed get it from their code and amount.
    pub fn load(path: &Path) -> Result<Ledger, LedgerFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ledger::default()),
            Err(source) => {
                return Err(LedgerFileError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        if text.trim().is_empty() {
            return Ok(Ledger::default());
        }
        let mut ledger: Ledger =
            serde_json::from_str(&text).map_err(|source| LedgerFileError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        for a in &mut ledger.auths {
            if a.approved_amount == 0 && a.state != AuthState::Declined {
                a.approved_amount = a.amount;
            }
        }
        Ok(ledger)
    }

    /// Writes the ledger to `path` atomically: `path` with extension `tmp`, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), LedgerFileError> {
        let err = |source| LedgerFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| err(e.into()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }

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

    /// Approved authorizations (fully or partly), whatever became of them.
    pub fn approved(&self) -> impl Iterator<Item = &LedgerAuth> {
        self.auths.iter().filter(|a| code_holds_money(&a.code))
    }

    /// Authorizations violating "settled or reversed at most once, never both".
    pub fn violations(&self) -> Vec<&LedgerAuth> {
        self.auths
            .iter()
            .filter(|a| a.reversed_count + a.settled_count > 1)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approving_codes() {
        for c in ["00", "08", "10", "11"] {
            assert!(code_holds_money(c), "{c}");
        }
        for c in ["05", "51", "91", "96", "25", "x"] {
            assert!(!code_holds_money(c), "{c}");
        }
    }

    #[test]
    fn load_missing_empty_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.json");
        assert_eq!(Ledger::load(&p).unwrap(), Ledger::default());
        std::fs::write(&p, "").unwrap();
        assert_eq!(Ledger::load(&p).unwrap(), Ledger::default());
        std::fs::write(&p, "{\"not\": \"a ledger\"}").unwrap();
        let e = Ledger::load(&p).unwrap_err();
        assert!(matches!(e, LedgerFileError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("move it away"), "{e}");
        // Left untouched.
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"not\": \"a ledger\"}"
        );
    }

    #[test]
    fn save_then_load_round_trips_and_unwritable_paths_fail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.json");
        let mut l = Ledger {
            echoes: 3,
            starts: 1,
            ..Ledger::default()
        };
        l.reconciliations.push(Reconciliation {
            terminal: "T".into(),
            currency: 978,
            settled: 0,
            matched: true,
            code: "00".into(),
        });
        l.save(&p).unwrap();
        assert_eq!(Ledger::load(&p).unwrap(), l);
        let e = l.save(&dir.path().join("no/such/dir/l.json")).unwrap_err();
        assert!(matches!(e, LedgerFileError::Write { .. }), "{e}");
        // A directory in the way.
        let d = dir.path().join("d.json");
        std::fs::create_dir(&d).unwrap();
        assert!(l.save(&d).is_err());
    }
}
