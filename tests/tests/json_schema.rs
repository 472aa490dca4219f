//! One documented JSON schema: every `--json` output of `ecrlink-sim` (each till command in
//! each outcome that matters, `terminals`, `load`, `decode` of each dialect) validates against
//! docs/ecrlink-sim.schema.json, and the schema is strict enough to catch the old mistakes
//! (numeric totals currencies, a baud rate in the address, timestamps without a zone).

mod agent_common;
mod till_common;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use till_common::{Shop, closed_port, silent_terminal, sim, sim_env, till_json};

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ecrlink-sim.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A validator for one definition of the schema file.
fn validator(def: &str) -> jsonschema::Validator {
    let s = schema();
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": s["$defs"].clone(),
        "$ref": format!("#/$defs/{def}"),
    });
    jsonschema::validator_for(&doc).unwrap_or_else(|e| panic!("schema {def}: {e}"))
}

fn check(def: &str, what: &str, v: &Value) {
    let errors: Vec<String> = validator(def)
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{v}");
}

#[test]
fn every_till_command_output_validates() {
    let shop = Shop::open(None);
    let csob = shop.addr("csob");
    let concert = shop.addr("concert");
    let run = |cmd: &[&str], extra: &[&str]| till_json("csob", &csob, cmd, extra);
    let mut outputs: Vec<(String, Value)> = Vec::new();
    let mut keep = |name: &str, r: till_common::Run| outputs.push((name.to_string(), r.json()));

    let sale = run(
        &[
            "sale",
            "--amount",
            "12.50",
            "--currency",
            "CZK",
            "--vs",
            "S1",
        ],
        &[],
    );
    let code = sale.json()["approval_code"].as_str().unwrap().to_string();
    keep("sale", sale);
    keep(
        "declined",
        run(&["sale", "--amount", "3.51", "--currency", "CZK"], &[]),
    );
    keep(
        "cashback",
        run(
            &[
                "cashback",
                "--amount",
                "30",
                "--cashback",
                "10",
                "--currency",
                "CZK",
            ],
            &[],
        ),
    );
    keep(
        "reversal refused",
        run(
            &[
                "reversal",
                "--amount",
                "12.50",
                "--currency",
                "CZK",
                "--code",
                &code,
            ],
            &[],
        ),
    );
    keep(
        "refund",
        run(
            &["refund", "--amount", "2", "--currency", "CZK"],
            &["--receipt"],
        ),
    );
    keep("last", run(&["last"], &[]));
    keep("subtotals", run(&["subtotals"], &[]));
    keep("test-terminal", run(&["test-terminal"], &[]));
    keep("test-bank", run(&["test-bank"], &[]));
    keep("reprint", run(&["reprint"], &[]));
    keep("close-totals", run(&["close-totals"], &[]));
    keep("last-sums", run(&["last-sums"], &[]));
    keep(
        "concert sale",
        till_json(
            "concert",
            &concert,
            &["sale", "--amount", "1", "--currency", "EUR"],
            &[],
        ),
    );
    keep(
        "offline",
        till_json(
            "csob",
            &closed_port(),
            &["sale", "--amount", "1", "--currency", "CZK"],
            &[],
        ),
    );
    let (silent, _) = silent_terminal();
    keep(
        "timeout",
        till_json(
            "concert",
            &silent,
            &["sale", "--amount", "1", "--currency", "EUR"],
            &["--timeout", "1"],
        ),
    );
    keep(
        "serial offline",
        till_json(
            "concert",
            "/nonexistent/ttyX",
            &["sale", "--amount", "1", "--currency", "EUR"],
            &[],
        ),
    );
    for (name, v) in &outputs {
        check("tillResult", name, v);
    }
    // The points the schema pins down.
    let totals = &outputs.iter().find(|(n, _)| n == "close-totals").unwrap().1;
    assert_eq!(
        totals["totals"]["currencies"][0]["currency"], "CZK",
        "{totals}"
    );
    let serial = &outputs
        .iter()
        .find(|(n, _)| n == "serial offline")
        .unwrap()
        .1;
    assert_eq!(
        serial["terminal"]["address"], "/nonexistent/ttyX",
        "{serial}"
    );
    assert_eq!(serial["terminal"]["baud"], 9600);
    let sale = &outputs[0].1;
    assert!(sale["timestamp"].as_str().unwrap().contains('T'), "{sale}");
    // Issue 15 point 13: over ČSOB the entry mode and the trace number are there.
    assert_eq!(sale["entry_mode"], "chip", "{sale}");
    assert!(sale["trace"].as_u64().is_some(), "{sale}");
    // Issue 15 point 7: `last` says what the last transaction was (the refund).
    let last = &outputs.iter().find(|(n, _)| n == "last").unwrap().1;
    assert_eq!(last["last_kind"], "refund", "{last}");
    assert!(last["trace"].as_u64().is_some(), "{last}");
}

#[test]
fn terminals_load_and_decode_validate() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("terminals.toml");
    std::fs::write(&cfg, ecrlink_host_sim::config::SAMPLE_CONFIG).unwrap();
    let r = sim_env(
        &["terminals", "--json", "--config", cfg.to_str().unwrap()],
        &[("COMPUTERNAME", "POS-2")],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{r:?}");
    check("terminals", "terminals", &r.json());

    let r = sim(&[
        "load",
        "--tills",
        "2",
        "--agents",
        "1",
        "--transactions",
        "4",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    check("load", "load", &r.json());

    let csob_b1 = "02 42 31 30 31 30 30 30 30 30 30 30 30 32 36 31 32 30 37 31 34 30 36 30 31 38 30 \
                   30 30 30 30 30 46 41 35 41 35 1C 54 30 30 1C 42 31 30 30 30 1C 45 32 30 33 03";
    let csob_b2 = {
        // B2 T00 R-12, built with its real length.
        let fields = b"\x1cT00\x1cR-12";
        let head = format!("B201123456782403151430050000{:04X}A5A5", fields.len());
        let mut f = vec![0x02];
        f.extend_from_slice(head.as_bytes());
        f.extend_from_slice(fields);
        f.push(0x03);
        f.iter().map(|b| format!("{b:02X}")).collect::<String>()
    };
    let concert = "02 30 31 30 30 30 30 31 32 35 30 31 31 30 39 37 38 20 20 20 20 20 20 20 20 20 20 \
                   41 30 31 30 42 30 31 30 03 01";
    for (dialect, hex) in [
        ("csob", csob_b1.to_string()),
        ("csob", csob_b2),
        ("concert", concert.to_string()),
        ("tlv", "9F2608C2C12B098F3DA6E3".to_string()),
        (
            "iso8583",
            "303830303832323030303030303030303030303030343030303030303030303030303030313132353137313330303030303030313330".to_string() + "31",
        ),
    ] {
        let r = sim(&["decode", "--dialect", dialect, &hex]);
        assert_eq!(r.code, 0, "{dialect}: {r:?}");
        let v = r.json();
        check("decode", dialect, &v);
        if v.get("txn").is_some() {
            assert!(v["txn"]["kind"].is_string(), "no Rust enum names: {v}");
        }
    }
}

#[test]
fn the_schema_rejects_the_old_shapes() {
    // Numeric totals currency, a baud rate in the address, a timestamp without a zone.
    let totals = json!({"currencies": [{"currency": 203, "debit_count": 1, "debit": "1.00",
        "debit_minor": 100, "credit_count": 0, "credit": "0.00", "credit_minor": 0,
        "reversal_count": 0}], "schemes": []});
    assert!(!validator("totals").is_valid(&totals));
    assert!(!validator("timestamp").is_valid(&json!("2026-12-07 14:12:47")));
    assert!(validator("timestamp").is_valid(&json!("2026-12-07T14:12:47+01:00")));
    assert!(!validator("scheme").is_valid(&json!("Visa")));
    // A last transaction is a payment, a refund or a reversal, never "last" itself.
    assert!(validator("paymentKind").is_valid(&json!("refund")));
    assert!(!validator("paymentKind").is_valid(&json!("last")));
}
