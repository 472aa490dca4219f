//! Receipt text for the printer and for receipt transfer to the till. A plain layout until
//! `ecrlink_core::receipt` is used; the PAN is masked.

use std::fmt::Write;

use ecrlink_core::txn::{Money, Outcome, RequestKind, Response};

use crate::printer::Copy;

fn line(out: &mut String, width: usize, left: &str, right: &str) {
    let pad = width.saturating_sub(left.chars().count() + right.chars().count());
    if pad == 0 {
        let _ = writeln!(out, "{left}");
        let _ = writeln!(out, "{right:>width$}");
    } else {
        let _ = writeln!(out, "{left}{}{right}", " ".repeat(pad));
    }
}

fn centered(out: &mut String, width: usize, text: &str) {
    let t: String = text.chars().take(width).collect();
    let pad = (width - t.chars().count()) / 2;
    let _ = writeln!(out, "{}{t}", " ".repeat(pad));
}

/// Lays out one copy of the receipt of `resp` at `width` columns.
pub fn render(
    merchant: &str,
    resp: &Response,
    copy: Copy,
    duplicate: bool,
    width: usize,
) -> String {
    let mut out = String::new();
    centered(&mut out, width, merchant);
    if duplicate {
        centered(&mut out, width, "*** DUPLICATE ***");
    }
    if let Some(t) = &resp.terminal_id {
        line(&mut out, width, "Terminal", t.as_str());
    }
    if let Some(ts) = &resp.timestamp {
        line(&mut out, width, "Date", &ts.to_string());
    }
    let title = match resp.kind {
        RequestKind::Sale => "SALE",
        RequestKind::SaleWithCashback => "SALE + CASHBACK",
        RequestKind::Refund => "REFUND",
        RequestKind::Reversal => "REVERSAL",
        RequestKind::CloseTotals => "CLOSE TOTALS",
        other => other.name(),
    };
    centered(&mut out, width, title);
    if let Some(m) = resp.amount {
        line(&mut out, width, "Amount", &m.to_string());
    }
    if let (Some(c), Some(m)) = (resp.cashback, resp.amount) {
        let cash = Money {
            amount: c,
            currency: m.currency,
        };
        line(&mut out, width, "Cashback", &cash.to_string());
    }
    if let Some(p) = &resp.pan {
        line(&mut out, width, "Card", &p.to_string());
    }
    if let Some(s) = resp.scheme {
        let entry = resp.entry_mode.map(|e| e.name()).unwrap_or("");
        line(&mut out, width, s.name(), entry);
    }
    if let Some(a) = &resp.approval_code {
        line(&mut out, width, "Auth code", a.as_str());
    }
    if let Some(t) = resp.trace {
        line(&mut out, width, "Trace", &format!("{t:06}"));
    }
    if let Some(r) = &resp.reference {
        line(&mut out, width, "Ref", r.as_str());
    }
    if let Some(totals) = &resp.totals {
        for c in &totals.currencies {
            let cur = ecrlink_core::txn::Currency::from_numeric(c.currency)
                .map(|c| c.alpha())
                .unwrap_or("???");
            line(&mut out, width, "Currency", cur);
            line(
                &mut out,
                width,
                &format!("Debits {}", c.debit_count),
                &c.debit_minor.to_string(),
            );
            line(
                &mut out,
                width,
                &format!("Credits {}", c.credit_count),
                &c.credit_minor.to_string(),
            );
            line(&mut out, width, "Reversals", &c.reversal_count.to_string());
        }
    }
    let result = match &resp.outcome {
        Outcome::Approved => "APPROVED".to_string(),
        Outcome::Declined { code } => format!("DECLINED ({code})"),
        other => other.name().to_uppercase(),
    };
    centered(&mut out, width, &result);
    centered(
        &mut out,
        width,
        match copy {
            Copy::Merchant => "MERCHANT COPY",
            Copy::Customer => "CUSTOMER COPY",
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecrlink_core::txn::{Currency, Pan};

    #[test]
    fn receipt_masks_pan_and_fits() {
        let mut r = Response::new(RequestKind::Sale, Outcome::Approved);
        r.amount = Some(Money::new(1250, Currency::EUR).unwrap());
        r.pan = Some(Pan::new("4761739001010119").unwrap().masked());
        let text = render("Shop", &r, Copy::Customer, true, 24);
        assert!(text.contains("476173******0119"));
        assert!(!text.contains("4761739001010119"));
        assert!(text.contains("DUPLICATE"));
        assert!(text.contains("12.50 EUR"));
        assert!(text.lines().all(|l| l.chars().count() <= 24), "{text}");
    }
}
