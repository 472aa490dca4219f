//! Rendering a [`TillResult`] for people (localized lines) and for scripts (`--json`).

use std::fmt::Write as _;

use ecrlink_core::session::Dialect;
use ecrlink_core::txn::{Money, Outcome, Request, Response};
use serde_json::{Map, Value, json};

use crate::i18n::{self, Label};
use crate::till::{Recovery, TillOptions, TillResult};

fn decimal(minor: u64, currency: ecrlink_core::txn::Currency) -> String {
    let mut s = String::new();
    let _ = Money::fmt_decimal(minor, currency, &mut s);
    s
}

/// The totals of a close-totals / subtotals / last-sums answer as JSON: currencies by their
/// ISO 4217 alphabetic code, amounts as decimals and in minor units, schemes by their name
/// (`VISA`), as everywhere else in the output (docs/ecrlink-sim.schema.json, `totals`).
pub fn totals_json(t: &ecrlink_core::txn::Totals) -> Value {
    let alpha = |n: u16| {
        ecrlink_core::txn::Currency::from_numeric(n)
            .ok()
            .map_or_else(|| n.to_string(), |c| c.alpha().to_string())
    };
    let dec = |minor: u64, n: u16| match ecrlink_core::txn::Currency::from_numeric(n) {
        Ok(c) => decimal(minor, c),
        Err(_) => minor.to_string(),
    };
    let currencies: Vec<Value> = t
        .currencies
        .iter()
        .map(|c| {
            json!({
                "currency": alpha(c.currency),
                "debit_count": c.debit_count,
                "debit": dec(c.debit_minor, c.currency),
                "debit_minor": c.debit_minor,
                "credit_count": c.credit_count,
                "credit": dec(c.credit_minor, c.currency),
                "credit_minor": c.credit_minor,
                "reversal_count": c.reversal_count,
            })
        })
        .collect();
    let schemes: Vec<Value> = t
        .schemes
        .iter()
        .map(|x| {
            json!({
                "scheme": x.scheme.name(),
                "currency": alpha(x.currency),
                "count": x.count,
                "net_minor": x.net_minor,
            })
        })
        .collect();
    json!({ "currencies": currencies, "schemes": schemes })
}

/// A terminal's local date and time in ISO 8601 with this machine's UTC offset
/// (`2026-12-07T14:12:47+01:00`): terminals send no zone; the till's is taken as theirs.
pub fn timestamp_json(t: &ecrlink_core::txn::Timestamp) -> Value {
    use chrono::TimeZone;
    let naive =
        chrono::NaiveDate::from_ymd_opt(i32::from(t.year), u32::from(t.month), u32::from(t.day))
            .and_then(|d| {
                d.and_hms_opt(u32::from(t.hour), u32::from(t.minute), u32::from(t.second))
            });
    match naive.and_then(|n| chrono::Local.from_local_datetime(&n).earliest()) {
        Some(local) => json!(local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
        None => json!(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )),
    }
}

/// A request as JSON, the same keys as a till result's (`kind`, `amount`, `currency`, …);
/// used by `decode` for the txn a frame maps to.
pub fn request_json(req: &Request) -> Value {
    let money = req.amount();
    json!({
        "kind": req.kind().name(),
        "amount": money.map(|a| decimal(a.minor(), a.currency)),
        "amount_minor": money.map(|a| a.minor()),
        "currency": money.map(|a| a.currency.alpha()),
        "cashback": match (req, money) {
            (Request::SaleWithCashback { cashback, .. }, Some(a)) => Some(decimal(cashback.minor(), a.currency)),
            _ => None,
        },
        "approval_code": match req {
            Request::Reversal { code, .. } => Some(code.as_str()),
            _ => None,
        },
        "reference": req.reference().map(|r| r.as_str()),
    })
}

/// A terminal's answer as JSON, the same keys as a till result's; used by `decode`.
pub fn response_json(r: &Response) -> Value {
    let money = r.amount;
    json!({
        "kind": r.kind.name(),
        "outcome": r.outcome.name(),
        "amount": money.map(|a| decimal(a.minor(), a.currency)),
        "amount_minor": money.map(|a| a.minor()),
        "currency": money.map(|a| a.currency.alpha()),
        "cashback": match (r.cashback, money) {
            (Some(c), Some(a)) => Some(decimal(c.minor(), a.currency)),
            _ => None,
        },
        "approval_code": r.approval_code.as_ref().map(|c| c.as_str()),
        "pan": r.pan.map(|p| p.to_string()),
        "scheme": r.scheme.map(|s| s.name()),
        "entry_mode": r.entry_mode.map(|e| e.name()),
        "reference": r.reference.as_ref().map(|x| x.as_str()),
        "terminal_id": r.terminal_id.as_ref().map(|t| t.as_str()),
        "timestamp": r.timestamp.as_ref().map_or(Value::Null, timestamp_json),
        "trace": r.trace,
        "text": r.text.as_ref().map(|t| t.as_str()),
        "totals": r.totals.as_ref().map_or(Value::Null, totals_json),
    })
}

/// The JSON object of a result. Every key is always present (null when it does not apply), so
/// scripts can rely on the shape. The PAN is the masked one.
pub fn to_json(result: &TillResult, opts: &TillOptions, log_file: Option<&str>) -> Value {
    let r: Option<&Response> = result.response.as_ref();
    let req = &result.request;
    let mut m = Map::new();
    m.insert("command".into(), json!(req.kind().name()));
    m.insert("outcome".into(), json!(result.outcome.name()));
    m.insert("exit_code".into(), json!(result.exit_code()));
    m.insert("message".into(), json!(result.message));
    m.insert("lang".into(), json!(opts.lang.code()));
    m.insert("unknown".into(), json!(result.unknown));
    // The bank's ISO 8583 code and the dialect's own code, each in its own field.
    m.insert("bank_code".into(), json!(result.codes.bank_code));
    m.insert("terminal_code".into(), json!(result.codes.terminal_code));
    m.insert("reason".into(), json!(result.reason));
    m.insert(
        "no_answer".into(),
        json!(result.no_answer.map(|n| n.name())),
    );
    m.insert(
        "detected_dialect".into(),
        json!(result.detected_dialect.map(|d| d.name())),
    );
    m.insert(
        "last_kind".into(),
        json!(result.last_kind.map(|k| k.name())),
    );
    m.insert(
        "fail_reason".into(),
        match &result.outcome {
            Outcome::Failed { reason } => json!(reason.name()),
            _ => Value::Null,
        },
    );
    let (kind, address, baud) = match &opts.target {
        crate::till::Target::Tcp { address } => ("tcp", address.clone(), None),
        crate::till::Target::Serial { path, baud } => ("serial", path.clone(), Some(*baud)),
    };
    m.insert(
        "terminal".into(),
        json!({
            "alias": opts.alias,
            "kind": kind,
            "address": address,
            "baud": baud,
            "dialect": opts.dialect.name(),
        }),
    );
    // Money: the answer's when there is one, else the request's.
    let money = r.and_then(|r| r.amount).or(req.amount());
    m.insert(
        "amount".into(),
        money.map_or(Value::Null, |a| json!(decimal(a.minor(), a.currency))),
    );
    m.insert(
        "amount_minor".into(),
        money.map_or(Value::Null, |a| json!(a.minor())),
    );
    m.insert(
        "currency".into(),
        money.map_or(Value::Null, |a| json!(a.currency.alpha())),
    );
    let cashback = r.and_then(|r| r.cashback).or(match req {
        Request::SaleWithCashback { cashback, .. } => Some(*cashback),
        _ => None,
    });
    m.insert(
        "cashback".into(),
        match (cashback, money) {
            (Some(c), Some(a)) => json!(decimal(c.minor(), a.currency)),
            _ => Value::Null,
        },
    );
    let reference = r
        .and_then(|r| r.reference.as_ref())
        .or(req.reference())
        .map(|x| x.as_str().to_string());
    m.insert("reference".into(), json!(reference));
    m.insert(
        "approval_code".into(),
        json!(r.and_then(|r| r.approval_code.as_ref()).map(|c| c.as_str())),
    );
    m.insert(
        "pan".into(),
        json!(r.and_then(|r| r.pan).map(|p| p.to_string())),
    );
    m.insert(
        "scheme".into(),
        json!(r.and_then(|r| r.scheme).map(|s| s.name())),
    );
    m.insert(
        "entry_mode".into(),
        json!(r.and_then(|r| r.entry_mode).map(|e| e.name())),
    );
    m.insert(
        "terminal_id".into(),
        json!(r.and_then(|r| r.terminal_id.as_ref()).map(|t| t.as_str())),
    );
    m.insert(
        "timestamp".into(),
        r.and_then(|r| r.timestamp.as_ref())
            .map_or(Value::Null, timestamp_json),
    );
    m.insert("trace".into(), json!(r.and_then(|r| r.trace)));
    m.insert(
        "text".into(),
        json!(r.and_then(|r| r.text.as_ref()).map(|t| t.as_str())),
    );
    m.insert(
        "totals".into(),
        r.and_then(|r| r.totals.as_ref())
            .map_or(Value::Null, totals_json),
    );
    m.insert(
        "recovery".into(),
        result.recovery.as_ref().map_or(Value::Null, |rec| {
            let last = r.map(|r| r.outcome.name());
            match rec {
                Recovery::Failed(why) => json!({"status": "failed", "detail": why}),
                Recovery::Matched => json!({"status": "matched", "last_outcome": last}),
                Recovery::Different => json!({"status": "different", "last_outcome": last}),
                Recovery::Unsupported => json!({"status": "unsupported"}),
            }
        }),
    );
    m.insert("detail".into(), json!(result.detail));
    m.insert("receipt".into(), json!(result.receipt));
    m.insert(
        "elapsed_ms".into(),
        json!(u64::try_from(result.elapsed.as_millis()).unwrap_or(u64::MAX)),
    );
    m.insert("log_file".into(), json!(log_file));
    Value::Object(m)
}

/// The human text of a result: the localized message, then the details that apply.
pub fn to_human(result: &TillResult, opts: &TillOptions, log_file: Option<&str>) -> String {
    let lang = opts.lang;
    let mut s = String::new();
    let _ = writeln!(s, "{}", result.message);
    let line = |s: &mut String, label: Label, value: &str| {
        let _ = writeln!(
            s,
            "  {:<20} {}",
            format!("{}:", i18n::label(lang, label)),
            value
        );
    };
    let r = result.response.as_ref();
    let req = &result.request;
    if let Some(money) = r.and_then(|r| r.amount).or(req.amount()) {
        line(&mut s, Label::Amount, &money.to_string());
        let cashback = r.and_then(|r| r.cashback).or(match req {
            Request::SaleWithCashback { cashback, .. } => Some(*cashback),
            _ => None,
        });
        if let Some(c) = cashback {
            let text = format!("{} {}", decimal(c.minor(), money.currency), money.currency);
            line(&mut s, Label::Cashback, &text);
        }
    }
    if let Some(code) = r.and_then(|r| r.approval_code.as_ref()) {
        line(&mut s, Label::ApprovalCode, code.as_str());
    }
    if let Some(pan) = r.and_then(|r| r.pan) {
        let mut card = String::new();
        if let Some(scheme) = r.and_then(|r| r.scheme) {
            card.push_str(scheme.name());
            card.push(' ');
        }
        card.push_str(&pan.to_string());
        if let Some(mode) = r.and_then(|r| r.entry_mode) {
            card.push_str(&format!(" ({})", mode.name()));
        }
        line(&mut s, Label::Card, &card);
    }
    if let Some(reference) = r.and_then(|r| r.reference.as_ref()).or(req.reference()) {
        line(&mut s, Label::Reference, reference.as_str());
    }
    if let Some(trace) = r.and_then(|r| r.trace) {
        line(&mut s, Label::Trace, &format!("{trace:06}"));
        if opts.dialect == Dialect::Zvt {
            // What `reversal`, `book-total`, `partial-reversal` and `pre-auth-reversal` take.
            let no = ecrlink_core::terminal::receipt_of(trace);
            line(&mut s, Label::ReceiptNo, &no.to_string());
        }
    }
    if let Some(totals) = r.and_then(|r| r.totals.as_ref()) {
        if totals.currencies.is_empty() {
            line(
                &mut s,
                Label::Totals,
                i18n::label(lang, Label::NoTransactions),
            );
        }
        for c in &totals.currencies {
            let cur = ecrlink_core::txn::Currency::from_numeric(c.currency).ok();
            let amount = |minor: u64| match cur {
                Some(cur) => format!("{} {}", decimal(minor, cur), cur),
                None => format!("{minor} ({})", c.currency),
            };
            let text = format!(
                "+{} × {} / -{} × {} / {} reversals",
                c.debit_count,
                amount(c.debit_minor),
                c.credit_count,
                amount(c.credit_minor),
                c.reversal_count
            );
            line(&mut s, Label::Totals, &text);
        }
    }
    if let Some(text) = r.and_then(|r| r.text.as_ref()) {
        let _ = writeln!(s, "  {}", text.as_str());
    }
    let terminal = match &opts.alias {
        Some(a) => format!("{a} — {} ({})", opts.target, opts.dialect.name()),
        None => format!("{} ({})", opts.target, opts.dialect.name()),
    };
    line(&mut s, Label::Terminal, &terminal);
    if let Some(d) = &result.detail {
        let _ = writeln!(s, "  ({d})");
    }
    line(
        &mut s,
        Label::Elapsed,
        &format!("{:.2} s", result.elapsed.as_secs_f64()),
    );
    if let Some(f) = log_file {
        line(&mut s, Label::Log, f);
    }
    if !result.receipt.is_empty() {
        let _ = writeln!(s, "\n--- {} ---", i18n::label(lang, Label::Receipt));
        for part in &result.receipt {
            s.push_str(part);
            if !part.ends_with('\n') {
                s.push('\n');
            }
        }
        let _ = writeln!(s, "---");
    }
    s
}
