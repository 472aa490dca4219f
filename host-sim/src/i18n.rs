//! Localized result texts (`LocalizedResponseDescription` in ERP terms): one sentence for every
//! outcome in Czech, English and French, plus the few labels the human output uses.
//!
//! The language comes from `--lang`, else from the locale variables (`LC_ALL`, `LC_MESSAGES`,
//! `LANG`, in that order, as POSIX resolves them), else English.

use ecrlink_core::txn::{FailReason, Outcome, RequestKind};

/// A language of the result texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Čeština.
    Cs,
    /// English.
    En,
    /// Français.
    Fr,
}

impl Lang {
    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Cs => "cs",
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// The language of a locale name such as `cs_CZ.UTF-8`, `fr`, `en_GB`; `None` for others
    /// (and for `C` / `POSIX`).
    pub fn from_locale(locale: &str) -> Option<Self> {
        let lang = locale
            .split(['_', '.', '@', '-'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match lang.as_str() {
            "cs" => Some(Lang::Cs),
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The language the locale variables ask for, through `var` (so tests need not touch the
    /// process environment). The first non-empty variable decides, as in POSIX; a language we do
    /// not have gives English.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Self {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| var(name))
            .find(|value| !value.is_empty())
            .and_then(|value| Lang::from_locale(&value))
            .unwrap_or(Lang::En)
    }

    /// The language of this process's locale variables.
    pub fn from_env() -> Self {
        Lang::from_env_with(|name| std::env::var(name).ok())
    }
}

/// One text in each language.
struct T {
    cs: &'static str,
    en: &'static str,
    fr: &'static str,
}

impl T {
    fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Cs => self.cs,
            Lang::En => self.en,
            Lang::Fr => self.fr,
        }
    }
}

macro_rules! t {
    ($cs:expr, $en:expr, $fr:expr) => {
        T {
            cs: $cs,
            en: $en,
            fr: $fr,
        }
    };
}

/// The localized sentence for how a request of `kind` ended. `unknown` is set when the outcome
/// could not be established, not even by asking for the last transaction.
pub fn outcome_text(lang: Lang, kind: RequestKind, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Approved => approved_text(kind).get(lang).to_string(),
        Outcome::Declined { code } => {
            let head = t!(
                "Zamítnuto (kód {code})",
                "Declined (code {code})",
                "Refusé (code {code})"
            )
            .get(lang)
            .replace("{code}", code.as_str());
            match decline_reason(code.as_str()) {
                Some(reason) => format!("{head}: {}", reason.get(lang)),
                None => head,
            }
        }
        Outcome::Timeout => t!(
            "Terminál neodpověděl včas",
            "The terminal did not answer in time",
            "Le terminal n'a pas répondu à temps"
        )
        .get(lang)
        .to_string(),
        Outcome::TerminalOffline => t!(
            "Terminál je nedostupný",
            "The terminal is offline",
            "Le terminal est injoignable"
        )
        .get(lang)
        .to_string(),
        Outcome::BankUnavailable => t!(
            "Banka je nedostupná",
            "The bank is unavailable",
            "La banque est injoignable"
        )
        .get(lang)
        .to_string(),
        Outcome::Cancelled => t!("Zrušeno", "Cancelled", "Annulé").get(lang).to_string(),
        Outcome::Failed { reason } => {
            let head = t!("Neprovedeno", "Not done", "Non effectué").get(lang);
            format!("{head}: {}", fail_text(*reason).get(lang))
        }
    }
}

/// "Unknown — check the last transaction", said when a timeout could not be resolved.
pub fn unknown_text(lang: Lang) -> &'static str {
    t!(
        "Výsledek neznámý — zkontrolujte poslední transakci",
        "Unknown — check last transaction",
        "Résultat inconnu — vérifiez la dernière transaction"
    )
    .get(lang)
}

/// Said when the terminal's last transaction is not the one that timed out.
pub fn not_done_text(lang: Lang) -> &'static str {
    t!(
        "Poslední transakce terminálu je jiná: tato platba neproběhla",
        "The terminal's last transaction is a different one: this payment was not made",
        "La dernière transaction du terminal est une autre : ce paiement n'a pas eu lieu"
    )
    .get(lang)
}

/// Said when the outcome comes from the terminal's last transaction after a timeout.
pub fn recovered_text(lang: Lang) -> &'static str {
    t!(
        "výsledek zjištěn dotazem na poslední transakci",
        "outcome read back from the terminal's last transaction",
        "résultat relu dans la dernière transaction du terminal"
    )
    .get(lang)
}

/// Said while the till asks the terminal for its last transaction.
pub fn asking_last_text(lang: Lang) -> &'static str {
    t!(
        "dotaz na poslední transakci",
        "asking the terminal for its last transaction",
        "demande de la dernière transaction au terminal"
    )
    .get(lang)
}

/// The progress bar's message.
pub fn waiting_text(lang: Lang) -> &'static str {
    t!(
        "čekání na odpověď terminálu",
        "waiting for terminal response",
        "attente de la réponse du terminal"
    )
    .get(lang)
}

/// A label of the human output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// Amount.
    Amount,
    /// Cashback.
    Cashback,
    /// Approval code.
    ApprovalCode,
    /// Card.
    Card,
    /// Reference.
    Reference,
    /// Terminal.
    Terminal,
    /// Time taken.
    Elapsed,
    /// Log file.
    Log,
    /// Receipt.
    Receipt,
    /// Totals.
    Totals,
    /// Totals of an empty batch.
    NoTransactions,
}

/// The text of a label.
pub fn label(lang: Lang, label: Label) -> &'static str {
    match label {
        Label::Amount => t!("Částka", "Amount", "Montant"),
        Label::Cashback => t!("Výběr hotovosti", "Cashback", "Retrait d'espèces"),
        Label::ApprovalCode => t!("Autorizační kód", "Approval code", "Code d'autorisation"),
        Label::Card => t!("Karta", "Card", "Carte"),
        Label::Reference => t!("Variabilní symbol", "Reference", "Référence"),
        Label::Terminal => t!("Terminál", "Terminal", "Terminal"),
        Label::Elapsed => t!("Doba", "Time", "Durée"),
        Label::Log => t!("Záznam", "Log", "Journal"),
        Label::Receipt => t!("Účtenka", "Receipt", "Ticket"),
        Label::Totals => t!("Součty", "Totals", "Totaux"),
        Label::NoTransactions => t!("žádné transakce", "no transactions", "aucune transaction"),
    }
    .get(lang)
}

fn approved_text(kind: RequestKind) -> T {
    match kind {
        RequestKind::Sale | RequestKind::SaleWithCashback => {
            t!("Platba schválena", "Payment approved", "Paiement accepté")
        }
        RequestKind::Refund => t!(
            "Vrácení platby schváleno",
            "Refund approved",
            "Remboursement accepté"
        ),
        RequestKind::Reversal => t!(
            "Transakce stornována",
            "Transaction reversed",
            "Transaction annulée"
        ),
        RequestKind::CloseTotals => t!("Uzávěrka provedena", "Totals closed", "Clôture effectuée"),
        RequestKind::Subtotals => t!("Mezisoučty", "Subtotals", "Sous-totaux"),
        RequestKind::LastSums => t!("Poslední uzávěrka", "Last close totals", "Dernière clôture"),
        RequestKind::TestTerminal => t!(
            "Terminál je v pořádku",
            "The terminal is working",
            "Le terminal fonctionne"
        ),
        RequestKind::TestBank => t!(
            "Spojení s bankou je v pořádku",
            "The connection to the bank works",
            "La liaison avec la banque fonctionne"
        ),
        RequestKind::Reprint => t!(
            "Účtenka vytištěna znovu",
            "Receipt printed again",
            "Ticket réimprimé"
        ),
        RequestKind::LastTransaction => t!(
            "Poslední transakce: schválena",
            "Last transaction: approved",
            "Dernière transaction : acceptée"
        ),
        RequestKind::Abort => t!("Přerušeno", "Aborted", "Interrompu"),
    }
}

fn fail_text(reason: FailReason) -> T {
    match reason {
        FailReason::CardError => t!(
            "chyba karty",
            "the card could not be read",
            "erreur de carte"
        ),
        FailReason::CardExpired => t!(
            "karta je prošlá",
            "the card has expired",
            "la carte est expirée"
        ),
        FailReason::CardBlocked => t!(
            "karta je blokována",
            "the card is blocked",
            "la carte est bloquée"
        ),
        FailReason::NoMatchingTransaction => t!(
            "transakce k stornu nenalezena",
            "no matching transaction to reverse",
            "aucune transaction correspondante à annuler"
        ),
        FailReason::Busy => t!(
            "terminál je zaneprázdněn",
            "the terminal is busy",
            "le terminal est occupé"
        ),
        FailReason::NotSupported => t!(
            "terminál tuto operaci nepodporuje",
            "the terminal does not support this",
            "le terminal ne prend pas en charge cette opération"
        ),
        FailReason::Protocol => t!(
            "chyba komunikace s terminálem",
            "protocol error between till and terminal",
            "erreur de protocole entre caisse et terminal"
        ),
        FailReason::PrinterError => t!(
            "chyba tiskárny (platba platí)",
            "printer error (the payment stands)",
            "erreur d'imprimante (le paiement est valable)"
        ),
        FailReason::Other => t!("jiná chyba", "other error", "autre erreur"),
    }
}

/// Known decline codes: ISO 8583 field 39 values and ČSOB result codes (DESIGN.md).
fn decline_reason(code: &str) -> Option<T> {
    Some(match code {
        "05" => t!("neschváleno", "do not honour", "ne pas honorer"),
        "14" => t!(
            "neplatné číslo karty",
            "invalid card number",
            "numéro de carte invalide"
        ),
        "51" | "R-12" => t!(
            "nedostatek prostředků",
            "insufficient funds",
            "provision insuffisante"
        ),
        "54" | "R-10" => t!("karta je prošlá", "expired card", "carte expirée"),
        "55" => t!("chybný PIN", "incorrect PIN", "code confidentiel erroné"),
        "61" => t!(
            "překročen limit",
            "exceeds withdrawal limit",
            "plafond dépassé"
        ),
        "62" | "R-29" => t!("karta je blokována", "restricted card", "carte bloquée"),
        "91" => t!(
            "vydavatel karty nedostupný",
            "issuer unavailable",
            "émetteur injoignable"
        ),
        "R-01" => t!(
            "zrušeno uživatelem",
            "cancelled by the user",
            "annulé par l'utilisateur"
        ),
        "R-09" => t!("chyba karty", "card error", "erreur de carte"),
        "R-18" => t!("vypršel čas", "timed out", "délai dépassé"),
        "R-21" => t!("zamítnuto", "discarded", "rejeté"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecrlink_core::txn::DeclineCode;

    fn all_outcomes() -> Vec<Outcome> {
        let mut v = vec![
            Outcome::Approved,
            Outcome::Declined {
                code: DeclineCode::new("51").unwrap(),
            },
            Outcome::Declined {
                code: DeclineCode::new("Z9").unwrap(),
            },
            Outcome::Timeout,
            Outcome::TerminalOffline,
            Outcome::BankUnavailable,
            Outcome::Cancelled,
        ];
        for reason in [
            FailReason::CardError,
            FailReason::CardExpired,
            FailReason::CardBlocked,
            FailReason::NoMatchingTransaction,
            FailReason::Busy,
            FailReason::NotSupported,
            FailReason::Protocol,
            FailReason::PrinterError,
            FailReason::Other,
        ] {
            v.push(Outcome::Failed { reason });
        }
        v
    }

    #[test]
    fn every_outcome_has_a_distinct_text_in_every_language() {
        for lang in [Lang::Cs, Lang::En, Lang::Fr] {
            let texts: Vec<String> = all_outcomes()
                .iter()
                .map(|o| outcome_text(lang, RequestKind::Sale, o))
                .collect();
            for (i, a) in texts.iter().enumerate() {
                assert!(!a.is_empty());
                for b in texts.iter().skip(i + 1) {
                    assert_ne!(a, b, "{lang:?}");
                }
            }
        }
        // The three languages differ for the same outcome.
        let o = Outcome::TerminalOffline;
        let cs = outcome_text(Lang::Cs, RequestKind::Sale, &o);
        let en = outcome_text(Lang::En, RequestKind::Sale, &o);
        let fr = outcome_text(Lang::Fr, RequestKind::Sale, &o);
        assert!(cs != en && en != fr && cs != fr);
    }

    #[test]
    fn decline_text_names_code_and_reason() {
        let o = Outcome::Declined {
            code: DeclineCode::new("51").unwrap(),
        };
        assert_eq!(
            outcome_text(Lang::En, RequestKind::Sale, &o),
            "Declined (code 51): insufficient funds"
        );
        assert_eq!(
            outcome_text(Lang::Cs, RequestKind::Sale, &o),
            "Zamítnuto (kód 51): nedostatek prostředků"
        );
        let o = Outcome::Declined {
            code: DeclineCode::new("Z9").unwrap(),
        };
        assert_eq!(
            outcome_text(Lang::Fr, RequestKind::Sale, &o),
            "Refusé (code Z9)"
        );
    }

    #[test]
    fn approved_depends_on_kind() {
        let a = outcome_text(Lang::En, RequestKind::TestBank, &Outcome::Approved);
        let b = outcome_text(Lang::En, RequestKind::Sale, &Outcome::Approved);
        assert_ne!(a, b);
    }

    #[test]
    fn locale_variables_in_posix_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Lang::from_env_with(env(&[("LANG", "cs_CZ.UTF-8")])),
            Lang::Cs
        );
        assert_eq!(
            Lang::from_env_with(env(&[("LANG", "cs_CZ.UTF-8"), ("LC_ALL", "fr_FR")])),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_env_with(env(&[
                ("LC_ALL", ""),
                ("LC_MESSAGES", "fr"),
                ("LANG", "cs")
            ])),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_env_with(env(&[("LANG", "de_DE.UTF-8")])),
            Lang::En
        );
        assert_eq!(Lang::from_env_with(env(&[("LANG", "C")])), Lang::En);
        assert_eq!(Lang::from_env_with(env(&[])), Lang::En);
    }
}
