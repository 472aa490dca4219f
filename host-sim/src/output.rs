//! Rendering a [`TillResult`] for people (localized lines) and for scripts (`--json`).

use std::fmt::Write as _;

use ecrlink_core::txn::{Money, Outcome, Request, Response};
use serde_json::{Map, Value, json};

use crate::i18n::{self, Label};
use crate::till::{Recovery, TillOptions, TillResult};

fn decimal(minor: u64, currency: ecrlink_core::txn::Currency) -> String {
    let mut s = String::new();
    let _ = Money::fmt_decimal(minor, currency, &mut s);
    s
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
    m.insert(
        "terminal".into(),
        json!({
            "alias": opts.alias,
            "address": opts.target.to_string(),
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
        json!(r.and_then(|r| r.timestamp).map(|t| t.to_string())),
    );
    m.insert("trace".into(), json!(r.and_then(|r| r.trace)));
    m.insert(
        "text".into(),
        json!(r.and_then(|r| r.text.as_ref()).map(|t| t.as_str())),
    );
    m.insert(
        "totals".into(),
        r.and_then(|r| r.totals.as_ref()).map_or(Value::Null, |t| {
            serde_json::to_value(t).unwrap_or(Value::Null)
        }),
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
