//! Localized result texts (`LocalizedResponseDescription` in ERP terms): one sentence for every
//! outcome in Czech, English and French, plus the few labels the human output uses.
//!
//! The language comes from `--lang`, else from the locale variables (`LC_ALL`, `LC_MESSAGES`,
//! `LANG`, in that order, as POSIX resolves them), else English.

use ecrlink_core::session::Dialect;
use ecrlink_core::txn::{FailReason, Outcome, RequestKind};

use crate::till::ResultCodes;

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

/// One of three texts by language (for texts outside this module's tables, e.g. the demo's).
pub fn pick(lang: Lang, cs: &'static str, en: &'static str, fr: &'static str) -> &'static str {
    T { cs, en, fr }.get(lang)
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

/// Said when the outcome could not be established, with the advice the dialect allows: a
/// ČSOB terminal can be asked for its last transaction (`ecrlink-sim last`), a Concert
/// terminal cannot (its screen or journal tells).
pub fn unknown_text(lang: Lang, dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Csob => t!(
            "výsledek neznámý — zjistěte jej příkazem `ecrlink-sim last` (poslední transakce terminálu), než platbu zopakujete",
            "outcome unknown — run `ecrlink-sim last` (the terminal's last transaction) before trying again",
            "résultat inconnu — lancez `ecrlink-sim last` (dernière transaction du terminal) avant de réessayer"
        ),
        Dialect::Concert => t!(
            "výsledek neznámý — Concert neumí sdělit poslední transakci: podívejte se na displej nebo žurnál terminálu, než platbu zopakujete",
            "outcome unknown — Concert cannot report the last transaction: look at the terminal's screen or its journal before charging again",
            "résultat inconnu — Concert ne sait pas donner la dernière transaction : regardez l'écran ou le journal du terminal avant de débiter à nouveau"
        ),
        Dialect::Zvt => t!(
            "výsledek neznámý — podívejte se na displej nebo žurnál terminálu (nebo na jeho poslední účtenku), než platbu zopakujete",
            "outcome unknown — look at the terminal's screen or journal (or its last receipt) before charging again",
            "résultat inconnu — regardez l'écran ou le journal du terminal (ou son dernier ticket) avant de débiter à nouveau"
        ),
    }
    .get(lang)
}

/// Said when the cashier interrupted the wait (Ctrl-C).
pub fn interrupted_text(lang: Lang) -> &'static str {
    t!(
        "Přerušeno na pokladně (Ctrl-C)",
        "Interrupted at the till (Ctrl-C)",
        "Interrompu à la caisse (Ctrl-C)"
    )
    .get(lang)
}

/// Shown on stderr at the first Ctrl-C while the terminal works, when the dialect can cancel.
pub fn cancelling_text(lang: Lang) -> &'static str {
    t!(
        "Ctrl-C: ruším platbu na terminálu a zjišťuji, jak dopadla… (další Ctrl-C: skončit hned, výsledek pak zůstane neznámý)",
        "Ctrl-C: cancelling at the terminal and asking what happened… (Ctrl-C again: quit at once, the outcome then stays unknown)",
        "Ctrl-C : annulation au terminal et demande du résultat… (Ctrl-C encore : quitter tout de suite, le résultat reste alors inconnu)"
    )
    .get(lang)
}

/// The dialect's name for people.
pub fn dialect_title(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Csob => "ČSOB",
        Dialect::Concert => "Concert",
        Dialect::Zvt => "ZVT",
    }
}

/// Said when the terminal closed the connection after the request went out, before answering.
pub fn connection_closed_text(lang: Lang) -> &'static str {
    t!(
        "Terminál ukončil spojení dřív, než odpověděl",
        "The terminal closed the connection before answering",
        "Le terminal a fermé la connexion avant de répondre"
    )
    .get(lang)
}

/// Said when the terminal did not acknowledge a request in `dialect` within `secs`, or
/// answered in `other`.
pub fn not_acknowledged_text(
    lang: Lang,
    dialect: Dialect,
    other: Option<Dialect>,
    secs: f64,
) -> String {
    match other {
        Some(other) => t!(
            "Terminál odpovídá protokolem {other}, ne {dialect}: opravte --dialect",
            "The terminal answers in the {other} dialect, not {dialect}: fix --dialect",
            "Le terminal répond en {other}, pas en {dialect} : corrigez --dialect"
        )
        .get(lang)
        .replace("{other}", dialect_title(other)),
        None => t!(
            "Terminál nepotvrdil požadavek {dialect} do {secs} s: mluví protokolem {dialect}? (--dialect)",
            "The terminal did not acknowledge the {dialect} request within {secs} s: does it speak {dialect}? (--dialect)",
            "Le terminal n'a pas acquitté la demande {dialect} en {secs} s : parle-t-il {dialect} ? (--dialect)"
        )
        .get(lang)
        .replace("{secs}", &format!("{secs:.0}")),
    }
    .replace("{dialect}", dialect_title(dialect))
}

/// Said when the terminal did not take the request: nothing was done.
pub fn nothing_done_text(lang: Lang) -> &'static str {
    t!(
        "nic nebylo provedeno",
        "nothing was done",
        "rien n'a été effectué"
    )
    .get(lang)
}

/// "Last transaction" (the head of every `last` answer).
pub fn last_transaction_text(lang: Lang) -> &'static str {
    t!(
        "Poslední transakce",
        "Last transaction",
        "Dernière transaction"
    )
    .get(lang)
}

/// Said in a `last` answer whose terminal does not say what the last transaction was (a ČSOB
/// terminal without ecrlink's `K` field).
pub fn kind_not_reported_text(lang: Lang) -> &'static str {
    t!(
        "druh terminál neuvádí",
        "kind not reported by the terminal",
        "type non indiqué par le terminal"
    )
    .get(lang)
}

/// Said by `last` when the terminal has no last transaction.
pub fn no_last_transaction_text(lang: Lang) -> &'static str {
    t!(
        "žádná, terminál zatím žádnou transakci neprovedl",
        "none, the terminal has made no transaction yet",
        "aucune, le terminal n'a encore effectué aucune transaction"
    )
    .get(lang)
}

/// The reason of a refusal: its own, or (a dialect that folds reasons into one code, ČSOB
/// R-21) the reason's name the terminal sent as its text.
pub fn fail_reason_of(outcome: &Outcome, terminal_text: Option<&str>) -> Option<FailReason> {
    match outcome {
        Outcome::Failed {
            reason: FailReason::Other,
        } => terminal_text
            .map(str::trim)
            .and_then(fail_reason_named)
            .or(Some(FailReason::Other)),
        Outcome::Failed { reason } => Some(*reason),
        _ => None,
    }
}

/// Said by `last` when the terminal refuses the question itself (busy with another request):
/// what the last transaction was is not known now.
pub fn last_not_known_now_text(lang: Lang) -> &'static str {
    t!(
        "teď nelze zjistit",
        "not known now",
        "inconnue pour l'instant"
    )
    .get(lang)
}

/// A request kind for people: `sale`, `refund`, …
pub fn kind_text(lang: Lang, kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Sale => t!("platba", "sale", "paiement"),
        RequestKind::SaleWithCashback => t!(
            "platba s výběrem hotovosti",
            "sale with cashback",
            "paiement avec retrait"
        ),
        RequestKind::Reversal => t!("storno", "reversal", "annulation"),
        RequestKind::Refund => t!("vrácení platby", "refund", "remboursement"),
        RequestKind::CloseTotals => t!("uzávěrka", "close totals", "clôture"),
        RequestKind::Subtotals => t!("mezisoučty", "subtotals", "sous-totaux"),
        RequestKind::LastSums => t!("poslední uzávěrka", "last sums", "dernière clôture"),
        RequestKind::TestTerminal => t!("test terminálu", "terminal test", "test du terminal"),
        RequestKind::TestBank => t!("test banky", "bank test", "test de la banque"),
        RequestKind::Reprint => t!("dotisk", "reprint", "réimpression"),
        RequestKind::LastTransaction => t!(
            "poslední transakce",
            "last transaction",
            "dernière transaction"
        ),
        RequestKind::Abort => t!("přerušení", "abort", "interruption"),
        RequestKind::Reservation => t!("předautorizace", "reservation", "préautorisation"),
        RequestKind::BookTotal => t!(
            "dokončení předautorizace",
            "book total",
            "clôture de préautorisation"
        ),
        RequestKind::PartialReversal => t!(
            "částečné storno předautorizace",
            "partial reversal",
            "annulation partielle"
        ),
        RequestKind::PreAuthReversal => t!(
            "storno předautorizace",
            "pre-authorisation reversal",
            "annulation de préautorisation"
        ),
    }
    .get(lang)
}

/// The one-word outcome used after "Last transaction: sale 12.00 CZK —".
pub fn outcome_word(lang: Lang, outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Approved => t!("schválena", "approved", "acceptée"),
        Outcome::Declined { .. } => t!("zamítnuta", "declined", "refusée"),
        Outcome::Timeout => t!("bez odpovědi", "no answer", "sans réponse"),
        Outcome::TerminalOffline => t!(
            "terminál nedostupný",
            "terminal offline",
            "terminal injoignable"
        ),
        Outcome::BankUnavailable => {
            t!("banka nedostupná", "bank unavailable", "banque injoignable")
        }
        Outcome::Cancelled => t!("zrušena", "cancelled", "annulée"),
        Outcome::Failed { .. } => t!("neprovedena", "not done", "non effectuée"),
    }
    .get(lang)
}

/// "bank code 51, ČSOB code R-12" — the codes of an answer, each named.
pub fn codes_text(lang: Lang, dialect: Option<Dialect>, codes: &ResultCodes) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(b) = &codes.bank_code {
        parts.push(format!(
            "{} {b}",
            t!("kód banky", "bank code", "code banque").get(lang)
        ));
    }
    if let (Some(t), Some(d)) = (&codes.terminal_code, dialect) {
        let what = match d {
            Dialect::Csob => t!("kód ČSOB", "ČSOB code", "code ČSOB"),
            Dialect::Concert => t!("stav Concert", "Concert status", "statut Concert"),
            Dialect::Zvt => t!("kód výsledku ZVT", "ZVT result code", "code résultat ZVT"),
        };
        parts.push(format!("{} {t}", what.get(lang)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Why a request was refused, in words: the decline code's meaning, the terminal's own text, or
/// the fail reason. `None` for outcomes that are not refusals, and for a decline code nobody
/// documents.
pub fn refusal_reason(
    lang: Lang,
    outcome: &Outcome,
    codes: &ResultCodes,
    terminal_text: Option<&str>,
) -> Option<String> {
    let text = terminal_text.map(str::trim).filter(|t| !t.is_empty());
    match outcome {
        Outcome::Declined { code } => decline_reason(code.as_str())
            .or_else(|| codes.bank_code.as_deref().and_then(decline_reason))
            .or_else(|| codes.terminal_code.as_deref().and_then(decline_reason))
            .map(|t| t.get(lang).to_string())
            .or_else(|| text.map(str::to_string)),
        Outcome::Failed { reason } => match (reason, text) {
            // The generic reason says nothing: the terminal's own words do, and a reason's
            // name (what ecrlink-agent sends) is said in the till's language.
            (FailReason::Other, Some(t)) => Some(match fail_reason_named(t) {
                Some(r) => fail_text(r).get(lang).to_string(),
                None => t.to_string(),
            }),
            (FailReason::Other, None) if codes.terminal_code.as_deref() == Some("R-21") => Some(
                t!(
                    "terminál požadavek odmítl (operace zrušena)",
                    "the terminal discarded the request",
                    "le terminal a rejeté la demande"
                )
                .get(lang)
                .to_string(),
            ),
            (r, _) => Some(fail_text(*r).get(lang).to_string()),
        },
        Outcome::Cancelled => text.map(str::to_string),
        _ => None,
    }
}

/// The fail reason whose [`FailReason::name`] is `name`.
fn fail_reason_named(name: &str) -> Option<FailReason> {
    [
        FailReason::CardError,
        FailReason::CardExpired,
        FailReason::CardBlocked,
        FailReason::NoMatchingTransaction,
        FailReason::Busy,
        FailReason::NotSupported,
        FailReason::Protocol,
        FailReason::PrinterError,
        FailReason::Other,
    ]
    .into_iter()
    .find(|r| r.name() == name)
}

/// The head of a refusal: "Declined" or "Not done".
pub fn refusal_head(lang: Lang, outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Declined { .. } => Some(t!("Zamítnuto", "Declined", "Refusé").get(lang)),
        Outcome::Failed { .. } => Some(t!("Neprovedeno", "Not done", "Non effectué").get(lang)),
        _ => None,
    }
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
    /// Trace number (as the receipt prints it).
    Trace,
    /// ZVT receipt number (BMP 87): what a reversal, book total or partial reversal names.
    ReceiptNo,
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
        Label::Trace => t!("Číslo transakce", "Trace no.", "N° transaction"),
        Label::ReceiptNo => t!("Číslo účtenky", "Receipt no.", "N° de ticket"),
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
        RequestKind::Reservation => t!("Částka rezervována", "Amount reserved", "Montant réservé"),
        RequestKind::BookTotal => t!(
            "Rezervace zaúčtována",
            "Reservation booked",
            "Réservation débitée"
        ),
        RequestKind::PartialReversal => t!(
            "Nevyužitá částka uvolněna, zbytek zaúčtován",
            "Unused amount released, the rest booked",
            "Montant inutilisé libéré, le reste débité"
        ),
        RequestKind::PreAuthReversal => t!(
            "Rezervace uvolněna",
            "Reservation released",
            "Réservation libérée"
        ),
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
            "terminál nemá transakci s tímto kódem a částkou",
            "the terminal has no transaction with that code and amount",
            "le terminal n'a aucune transaction avec ce code et ce montant"
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
