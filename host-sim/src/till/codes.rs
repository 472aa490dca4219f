//! The two codes of a terminal's answer, kept apart: the bank's ISO 8583 response code
//! (field 39, e.g. `51` insufficient funds, `55` wrong PIN) and the dialect's own result code
//! (ČSOB `R-12`, Concert status `7`). Screen, JSON and log show both under these names.

use ecrlink_core::dialect::{concert, csob};
use ecrlink_core::session::Dialect;
use ecrlink_core::txn::{Outcome, Response};
use serde::Serialize;

/// The codes of one answer; `None` where the answer does not carry one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResultCodes {
    /// The bank's ISO 8583 response code (field 39), when the answer carries or implies one.
    pub bank_code: Option<String>,
    /// The dialect's result code as it was on the wire: ČSOB `R000`, `R-12`, …; Concert
    /// status `0`, `7`, `9`.
    pub terminal_code: Option<String>,
}

/// ČSOB result codes that stand for one ISO 8583 response code (the dialect writes a bank
/// `51` as `R-12`, see `ecrlink_core::dialect::csob::map`).
const CSOB_BANK_EQUIVALENTS: &[(&str, &str)] = &[("R-12", "51")];

/// The codes of `response`, read in `dialect` (`None` for a custom session: nothing is known
/// about its wire).
pub fn result_codes(dialect: Option<Dialect>, response: Option<&Response>) -> ResultCodes {
    let Some(r) = response else {
        return ResultCodes::default();
    };
    let declined = match &r.outcome {
        Outcome::Declined { code } => Some(code.as_str()),
        _ => None,
    };
    match dialect {
        Some(Dialect::Csob) => {
            let terminal = format!("R{}", csob::map::result_code(&r.outcome).text());
            let bank = declined.and_then(|code| {
                if code.starts_with('R') {
                    CSOB_BANK_EQUIVALENTS
                        .iter()
                        .find(|(r, _)| *r == code)
                        .map(|(_, b)| (*b).to_string())
                } else {
                    // A code written after `R` as is: the bank's own.
                    Some(code.to_string())
                }
            });
            ResultCodes {
                bank_code: bank,
                terminal_code: Some(terminal),
            }
        }
        Some(Dialect::Zvt) => {
            let code = ecrlink_core::dialect::zvt::session::result_code(&r.outcome);
            ResultCodes {
                bank_code: declined.map(str::to_string),
                terminal_code: Some(format!("{code:02X}")),
            }
        }
        Some(Dialect::Concert) => {
            let status = concert::map::status_for(&r.outcome).code();
            ResultCodes {
                // Concert has one refusal status and no bank code.
                bank_code: declined.filter(|c| *c != "7").map(str::to_string),
                terminal_code: Some(char::from(status).to_string()),
            }
        }
        None => ResultCodes {
            bank_code: declined.map(str::to_string),
            terminal_code: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecrlink_core::txn::{DeclineCode, FailReason, RequestKind};

    fn resp(outcome: Outcome) -> Response {
        Response::new(RequestKind::Sale, outcome)
    }

    fn declined(code: &str) -> Outcome {
        Outcome::Declined {
            code: DeclineCode::new(code).unwrap(),
        }
    }

    #[test]
    fn csob_codes_are_split_into_bank_and_terminal() {
        let c = result_codes(Some(Dialect::Csob), Some(&resp(declined("R-12"))));
        assert_eq!(c.bank_code.as_deref(), Some("51"));
        assert_eq!(c.terminal_code.as_deref(), Some("R-12"));
        let c = result_codes(Some(Dialect::Csob), Some(&resp(declined("55"))));
        assert_eq!(c.bank_code.as_deref(), Some("55"));
        assert_eq!(c.terminal_code.as_deref(), Some("R55"));
        let other = Outcome::Failed {
            reason: FailReason::Other,
        };
        let c = result_codes(Some(Dialect::Csob), Some(&resp(other)));
        assert_eq!(c.bank_code, None);
        assert_eq!(c.terminal_code.as_deref(), Some("R-21"));
        let c = result_codes(Some(Dialect::Csob), Some(&resp(Outcome::Approved)));
        assert_eq!(c.terminal_code.as_deref(), Some("R000"));
    }

    #[test]
    fn concert_has_a_status_and_no_bank_code() {
        let c = result_codes(Some(Dialect::Concert), Some(&resp(declined("7"))));
        assert_eq!(c.bank_code, None);
        assert_eq!(c.terminal_code.as_deref(), Some("7"));
        let c = result_codes(Some(Dialect::Concert), None);
        assert_eq!(c, ResultCodes::default());
    }
}
