//! Receipt texts in Czech, English and French. All `'static`, no allocation; one table per
//! language so a missing text is a compile error, not a blank on paper.

use crate::txn::{EntryMode, FailReason, RequestKind};

/// The language of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Lang {
    /// Czech (čeština).
    Cs,
    /// English.
    En,
    /// French (français).
    Fr,
}

impl Lang {
    /// Every language, for tests and command-line help.
    pub const ALL: [Lang; 3] = [Lang::Cs, Lang::En, Lang::Fr];

    /// The ISO 639-1 code: `cs`, `en`, `fr`.
    pub const fn code(self) -> &'static str {
        match self {
            Lang::Cs => "cs",
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// The language with ISO 639-1 code `code` (case-insensitive).
    pub fn from_code(code: &str) -> Option<Self> {
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }

    pub(crate) const fn labels(self) -> &'static Labels {
        match self {
            Lang::Cs => &CS,
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }
}

/// The texts of one language.
pub(crate) struct Labels {
    pub merchant_copy: &'static str,
    pub customer_copy: &'static str,
    pub duplicate: &'static str,
    pub terminal_id: &'static str,
    pub merchant_id: &'static str,
    pub card: &'static str,
    pub card_number: &'static str,
    pub entry_mode: &'static str,
    pub purchase: &'static str,
    pub cashback: &'static str,
    pub amount: &'static str,
    pub total: &'static str,
    pub approval_code: &'static str,
    pub reference: &'static str,
    pub trace: &'static str,
    pub code: &'static str,
    pub app_label: &'static str,
    pub signature: &'static str,
    pub footer_customer: &'static str,
    pub footer_merchant: &'static str,
    pub sales: &'static str,
    pub refunds: &'static str,
    pub reversals: &'static str,
    pub net: &'static str,
    pub by_scheme: &'static str,
    pub by_currency: &'static str,
    pub no_transactions: &'static str,
    pub other_card: &'static str,
    /// Decimal separator of amounts.
    pub decimal: char,
    /// Date order and separator.
    pub date: DateStyle,
    kinds: [&'static str; 16],
    entry: [&'static str; 4],
    outcomes: Outcomes,
    fails: [&'static str; 9],
    declines: [&'static str; DECLINE_TEXTS],
}

/// How a date is written.
#[derive(Clone, Copy)]
pub(crate) enum DateStyle {
    /// `25.11.2026`
    DayDotMonth,
    /// `2026-11-25`
    Iso,
    /// `25/11/2026`
    DaySlashMonth,
}

struct Outcomes {
    approved: &'static str,
    declined: &'static str,
    timeout: &'static str,
    terminal_offline: &'static str,
    bank_unavailable: &'static str,
    cancelled: &'static str,
    failed: &'static str,
}

/// Decline codes with an explanation: ISO 8583 field 39 codes, and the ČSOB result codes
/// (`R-…`, from the public ČSOB client) pointing at the same texts.
const DECLINE_CODES: [(&str, usize); 14] = [
    ("05", 0),
    ("51", 1),
    ("54", 2),
    ("55", 3),
    ("14", 4),
    ("12", 5),
    ("57", 5),
    ("61", 6),
    ("91", 7),
    ("R-12", 1),
    ("R-10", 2),
    ("R-29", 8),
    ("R-09", 9),
    ("R-01", 10),
];
const DECLINE_TEXTS: usize = 11;

impl Labels {
    /// Title of a request kind (`PRODEJ`, `SALE`, `PAIEMENT`).
    pub fn kind(&self, kind: RequestKind) -> &'static str {
        let i = match kind {
            RequestKind::Sale => 0,
            RequestKind::SaleWithCashback => 1,
            RequestKind::Reversal => 2,
            RequestKind::Refund => 3,
            RequestKind::CloseTotals => 4,
            RequestKind::TestTerminal => 5,
            RequestKind::TestBank => 6,
            RequestKind::Reprint => 7,
            RequestKind::LastTransaction => 8,
            RequestKind::Abort => 9,
            RequestKind::Subtotals => 10,
            RequestKind::LastSums => 11,
            RequestKind::Reservation => 12,
            RequestKind::BookTotal => 13,
            RequestKind::PartialReversal => 14,
            RequestKind::PreAuthReversal => 15,
        };
        self.kinds.get(i).copied().unwrap_or("")
    }

    /// How the card was read.
    pub fn entry_mode(&self, mode: EntryMode) -> &'static str {
        let i = match mode {
            EntryMode::Chip => 0,
            EntryMode::Contactless => 1,
            EntryMode::Swipe => 2,
            EntryMode::Manual => 3,
        };
        self.entry.get(i).copied().unwrap_or("")
    }

    /// Why the terminal refused.
    pub fn fail_reason(&self, reason: FailReason) -> &'static str {
        let i = match reason {
            FailReason::CardError => 0,
            FailReason::CardExpired => 1,
            FailReason::CardBlocked => 2,
            FailReason::NoMatchingTransaction => 3,
            FailReason::Busy => 4,
            FailReason::NotSupported => 5,
            FailReason::Protocol => 6,
            FailReason::PrinterError => 7,
            FailReason::Other => 8,
        };
        self.fails.get(i).copied().unwrap_or("")
    }

    /// The explanation of a decline code, if the code is one we know.
    pub fn decline_reason(&self, code: &str) -> Option<&'static str> {
        DECLINE_CODES
            .iter()
            .find(|(c, _)| *c == code)
            .and_then(|(_, i)| self.declines.get(*i).copied())
    }

    /// Result titles.
    pub fn approved(&self) -> &'static str {
        self.outcomes.approved
    }
    /// See [`Labels::approved`].
    pub fn declined(&self) -> &'static str {
        self.outcomes.declined
    }
    /// See [`Labels::approved`].
    pub fn timeout(&self) -> &'static str {
        self.outcomes.timeout
    }
    /// See [`Labels::approved`].
    pub fn terminal_offline(&self) -> &'static str {
        self.outcomes.terminal_offline
    }
    /// See [`Labels::approved`].
    pub fn bank_unavailable(&self) -> &'static str {
        self.outcomes.bank_unavailable
    }
    /// See [`Labels::approved`].
    pub fn cancelled(&self) -> &'static str {
        self.outcomes.cancelled
    }
    /// See [`Labels::approved`].
    pub fn failed(&self) -> &'static str {
        self.outcomes.failed
    }
}

const CS: Labels = Labels {
    merchant_copy: "KOPIE PRO OBCHODNÍKA",
    customer_copy: "KOPIE PRO ZÁKAZNÍKA",
    duplicate: "DUPLIKÁT",
    terminal_id: "Terminál",
    merchant_id: "Obchodník",
    card: "Karta",
    card_number: "Číslo karty",
    entry_mode: "Způsob čtení",
    purchase: "Nákup",
    cashback: "Výběr hotovosti",
    amount: "Částka",
    total: "Celkem",
    approval_code: "Autorizační kód",
    reference: "Variabilní symbol",
    trace: "Číslo transakce",
    code: "kód",
    app_label: "Aplikace",
    signature: "Podpis držitele karty",
    footer_customer: "Uschovejte si prosím doklad",
    footer_merchant: "Děkujeme",
    sales: "Prodeje",
    refunds: "Vrácení",
    reversals: "Storna",
    net: "Celkem",
    by_scheme: "Podle karet",
    by_currency: "Podle měn",
    no_transactions: "Žádné transakce",
    other_card: "KARTA",
    decimal: ',',
    date: DateStyle::DayDotMonth,
    kinds: [
        "PRODEJ",
        "PRODEJ S VÝBĚREM HOTOVOSTI",
        "STORNO",
        "VRÁCENÍ PLATBY",
        "UZÁVĚRKA",
        "TEST TERMINÁLU",
        "TEST SPOJENÍ S BANKOU",
        "OPAKOVANÝ TISK",
        "POSLEDNÍ TRANSAKCE",
        "PŘERUŠENÍ",
        "MEZISOUČTY",
        "POSLEDNÍ UZÁVĚRKA",
        "PŘEDAUTORIZACE",
        "DOKONČENÍ PŘEDAUTORIZACE",
        "ČÁSTEČNÉ STORNO PŘEDAUTORIZACE",
        "STORNO PŘEDAUTORIZACE",
    ],
    entry: ["čip", "bezkontaktně", "magnetický proužek", "ruční zadání"],
    outcomes: Outcomes {
        approved: "SCHVÁLENO",
        declined: "ZAMÍTNUTO",
        timeout: "VYPRŠEL ČASOVÝ LIMIT, VÝSLEDEK NEZNÁMÝ",
        terminal_offline: "TERMINÁL NEDOSTUPNÝ",
        bank_unavailable: "BANKA NEDOSTUPNÁ",
        cancelled: "ZRUŠENO",
        failed: "NEPROVEDENO",
    },
    fails: [
        "Chyba karty",
        "Platnost karty vypršela",
        "Karta je blokovaná",
        "Transakce nenalezena",
        "Terminál je zaneprázdněn",
        "Nepodporovaná operace",
        "Chyba komunikace s pokladnou",
        "Chyba tiskárny",
        "Jiná chyba",
    ],
    declines: [
        "Zamítnuto vydavatelem karty",
        "Nedostatek prostředků",
        "Platnost karty vypršela",
        "Nesprávný PIN",
        "Neplatné číslo karty",
        "Transakce není povolena",
        "Překročen limit",
        "Vydavatel karty nedostupný",
        "Karta je blokovaná",
        "Chyba karty",
        "Zrušeno držitelem karty",
    ],
};

const EN: Labels = Labels {
    merchant_copy: "MERCHANT COPY",
    customer_copy: "CUSTOMER COPY",
    duplicate: "DUPLICATE",
    terminal_id: "Terminal ID",
    merchant_id: "Merchant ID",
    card: "Card",
    card_number: "Card number",
    entry_mode: "Entry mode",
    purchase: "Purchase",
    cashback: "Cashback",
    amount: "Amount",
    total: "Total",
    approval_code: "Auth. code",
    reference: "Reference",
    trace: "Trace no.",
    code: "code",
    app_label: "Application",
    signature: "Cardholder signature",
    footer_customer: "Please keep this receipt",
    footer_merchant: "Thank you",
    sales: "Sales",
    refunds: "Refunds",
    reversals: "Reversals",
    net: "Net total",
    by_scheme: "By card scheme",
    by_currency: "By currency",
    no_transactions: "No transactions",
    other_card: "CARD",
    decimal: '.',
    date: DateStyle::Iso,
    kinds: [
        "SALE",
        "SALE WITH CASHBACK",
        "REVERSAL",
        "REFUND",
        "CLOSE TOTALS",
        "TERMINAL TEST",
        "BANK CONNECTION TEST",
        "REPRINT",
        "LAST TRANSACTION",
        "ABORT",
        "SUBTOTALS",
        "LAST CLOSE TOTALS",
        "RESERVATION",
        "BOOK TOTAL",
        "PARTIAL REVERSAL",
        "PRE-AUTH REVERSAL",
    ],
    entry: ["chip", "contactless", "magnetic stripe", "keyed"],
    outcomes: Outcomes {
        approved: "APPROVED",
        declined: "DECLINED",
        timeout: "TIMED OUT, RESULT UNKNOWN",
        terminal_offline: "TERMINAL OFFLINE",
        bank_unavailable: "BANK UNAVAILABLE",
        cancelled: "CANCELLED",
        failed: "NOT COMPLETED",
    },
    fails: [
        "Card error",
        "Card expired",
        "Card blocked",
        "No matching transaction",
        "Terminal busy",
        "Not supported",
        "Till communication error",
        "Printer error",
        "Other error",
    ],
    declines: [
        "Do not honour",
        "Insufficient funds",
        "Expired card",
        "Incorrect PIN",
        "Invalid card number",
        "Transaction not permitted",
        "Amount limit exceeded",
        "Card issuer unavailable",
        "Card blocked",
        "Card error",
        "Cancelled by the cardholder",
    ],
};

const FR: Labels = Labels {
    merchant_copy: "TICKET COMMERÇANT",
    customer_copy: "TICKET CLIENT",
    duplicate: "DUPLICATA",
    terminal_id: "N° terminal",
    merchant_id: "N° commerçant",
    card: "Carte",
    card_number: "N° carte",
    entry_mode: "Lecture",
    purchase: "Achat",
    cashback: "Espèces rendues",
    amount: "Montant",
    total: "Total",
    approval_code: "N° autorisation",
    reference: "Référence",
    trace: "N° transaction",
    code: "code",
    app_label: "Application",
    signature: "Signature du porteur",
    footer_customer: "Ticket à conserver",
    footer_merchant: "Merci",
    sales: "Débits",
    refunds: "Crédits",
    reversals: "Annulations",
    net: "Total net",
    by_scheme: "Par réseau",
    by_currency: "Par devise",
    no_transactions: "Aucune transaction",
    other_card: "CARTE",
    decimal: ',',
    date: DateStyle::DaySlashMonth,
    kinds: [
        "PAIEMENT",
        "PAIEMENT AVEC RETRAIT D'ESPÈCES",
        "ANNULATION",
        "REMBOURSEMENT",
        "CLÔTURE",
        "TEST DU TERMINAL",
        "TEST DE CONNEXION À LA BANQUE",
        "RÉIMPRESSION",
        "DERNIÈRE TRANSACTION",
        "ABANDON",
        "SOUS-TOTAUX",
        "DERNIÈRE CLÔTURE",
        "PRÉAUTORISATION",
        "CLÔTURE DE PRÉAUTORISATION",
        "ANNULATION PARTIELLE",
        "ANNULATION DE PRÉAUTORISATION",
    ],
    entry: [
        "puce",
        "sans contact",
        "piste magnétique",
        "saisie manuelle",
    ],
    outcomes: Outcomes {
        approved: "ACCEPTÉ",
        declined: "REFUSÉ",
        timeout: "DÉLAI DÉPASSÉ, RÉSULTAT INCONNU",
        terminal_offline: "TERMINAL HORS LIGNE",
        bank_unavailable: "BANQUE INDISPONIBLE",
        cancelled: "ABANDONNÉ",
        failed: "NON EFFECTUÉ",
    },
    fails: [
        "Erreur de carte",
        "Carte expirée",
        "Carte bloquée",
        "Transaction introuvable",
        "Terminal occupé",
        "Opération non prise en charge",
        "Erreur de liaison caisse",
        "Erreur d'imprimante",
        "Autre erreur",
    ],
    declines: [
        "Refusé par l'émetteur",
        "Provision insuffisante",
        "Carte expirée",
        "Code confidentiel erroné",
        "Numéro de carte invalide",
        "Transaction non autorisée",
        "Plafond dépassé",
        "Émetteur indisponible",
        "Carte bloquée",
        "Erreur de carte",
        "Abandon par le porteur",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in Lang::ALL {
            assert_eq!(Lang::from_code(l.code()), Some(l));
        }
        assert_eq!(Lang::from_code("FR"), Some(Lang::Fr));
        assert_eq!(Lang::from_code("de"), None);
    }

    #[test]
    fn every_decline_code_has_a_text() {
        for l in Lang::ALL {
            for (code, _) in DECLINE_CODES {
                assert!(l.labels().decline_reason(code).is_some(), "{code}");
            }
            assert_eq!(l.labels().decline_reason("99"), None);
        }
        assert_eq!(
            Lang::Cs.labels().decline_reason("R-12"),
            Lang::Cs.labels().decline_reason("51")
        );
    }
}
