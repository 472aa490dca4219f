//! The bank messages the agent sends and the answers it reads, independent of the wire codec
//! (`codec` maps them to and from `ecrlink_core::bank`).

use ecrlink_core::journal::Original;
use ecrlink_core::txn::{Amount, ApprovalCode, EmvData, EntryMode, Money, Pan, Timestamp};

/// What an authorization asks for (ISO 8583 processing code, field 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// Purchase (00).
    Sale,
    /// Purchase with cashback (09).
    Cashback,
    /// Refund (20).
    Refund,
}

/// An authorization request (0200).
#[derive(Clone, Debug)]
pub struct AuthRequest {
    /// Trace number (field 11).
    pub stan: u32,
    /// Sale, cashback or refund.
    pub kind: AuthKind,
    /// Amount (field 4, with currency in field 49).
    pub amount: Money,
    /// Cashback part (field 54).
    pub cashback: Option<Amount>,
    /// Full card number (field 2): only here, on its way to the bank.
    pub pan: Pan,
    /// How the card was read.
    pub entry_mode: EntryMode,
    /// EMV data (field 55).
    pub emv: EmvData,
    /// Transmission date and time (field 7) and local date/time (fields 12, 13).
    pub transmitted: Timestamp,
    /// Retrieval reference (field 37), from the till's reference when it fits.
    pub rrn: Option<String>,
}

/// A reversal (0400) of an earlier authorization.
#[derive(Clone, Debug)]
pub struct ReversalRequest {
    /// This message's own trace number.
    pub stan: u32,
    /// The authorization reversed (field 90 carries its MTI, trace and time).
    pub original: Original,
    /// The card number, when still in memory (never after a restart: it is not journaled).
    pub pan: Option<Pan>,
    /// Transmission date and time.
    pub transmitted: Timestamp,
}

/// A reconciliation (0500) of one currency of the batch.
#[derive(Clone, Debug)]
pub struct ReconcileRequest {
    /// Trace number.
    pub stan: u32,
    /// Batch number.
    pub batch: u32,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// Debit count and sum.
    pub debits: (u32, u64),
    /// Credit count and sum.
    pub credits: (u32, u64),
    /// Transmission date and time.
    pub transmitted: Timestamp,
}

/// A message to the bank.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum BankRequest {
    /// 0200.
    Auth(AuthRequest),
    /// 0400.
    Reversal(ReversalRequest),
    /// 0500.
    Reconcile(ReconcileRequest),
    /// 0800 with network management code 301.
    Echo {
        /// Trace number.
        stan: u32,
        /// Transmission date and time.
        transmitted: Timestamp,
    },
}

impl BankRequest {
    /// The trace number the answer will carry.
    pub fn stan(&self) -> u32 {
        match self {
            BankRequest::Auth(a) => a.stan,
            BankRequest::Reversal(r) => r.stan,
            BankRequest::Reconcile(r) => r.stan,
            BankRequest::Echo { stan, .. } => *stan,
        }
    }

    /// The full PAN in the message, if any (to mask it in hex dumps).
    pub fn pan(&self) -> Option<&Pan> {
        match self {
            BankRequest::Auth(a) => Some(&a.pan),
            BankRequest::Reversal(r) => r.pan.as_ref(),
            _ => None,
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            BankRequest::Auth(_) => "0200",
            BankRequest::Reversal(_) => "0400",
            BankRequest::Reconcile(_) => "0500",
            BankRequest::Echo { .. } => "0800",
        }
    }
}

/// The bank's answer (0210, 0410, 0510, 0810).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankAnswer {
    /// Message type of the answer, e.g. 210.
    pub mti: u16,
    /// Trace number (field 11).
    pub stan: u32,
    /// Response code (field 39), "00" approved.
    pub code: String,
    /// Approval code (field 38).
    pub approval: Option<ApprovalCode>,
    /// Retrieval reference (field 37).
    pub rrn: Option<String>,
    /// Issuer EMV data (field 55).
    pub emv: EmvData,
}

impl BankAnswer {
    /// Whether field 39 says approved.
    pub fn approved(&self) -> bool {
        self.code == "00"
    }
}

/// Replaces the middle digits of `pan` wherever its ASCII digits appear in `frame` with `*`
/// (first 6 and last 4 kept), for logging frames that carry a full PAN.
pub fn mask_pan_in(frame: &[u8], pan: &str) -> Vec<u8> {
    let mut out = frame.to_vec();
    let p = pan.as_bytes();
    if p.len() < 12 {
        return out;
    }
    let mut i = 0;
    while i + p.len() <= out.len() {
        if &out[i..i + p.len()] == p {
            for b in &mut out[i + 6..i + p.len() - 4] {
                *b = b'*';
            }
            i += p.len();
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_is_masked_in_frames() {
        let f = b"0200\x00164761739001010119000000";
        let m = mask_pan_in(f, "4761739001010119");
        assert_eq!(&m[..], b"0200\x0016476173******0119000000".as_slice());
        assert!(!String::from_utf8_lossy(&m).contains("4761739001010119"));
    }
}
