//! `ecrlink-sim demo` and `ecrlink-sim load` as real processes: no set-up, loopback only.

mod agent_common;
mod till_common;

use std::time::Duration;

use till_common::sim_env;

#[test]
fn demo_runs_a_shop_day_and_exits_0_quickly() {
    let logs = tempfile::tempdir().unwrap();
    let r = sim_env(
        &["demo"],
        &[("ECRLINK_LOG_DIR", logs.path().to_str().unwrap())],
        Duration::from_secs(15),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    for step in [
        "test-terminal",
        "test-bank",
        "sale 89.90 CZK",
        "sale 320.51 CZK",
        "cashback 150.00 CZK",
        "reversal 150.00 CZK code A",
        "refund 45.00 CZK",
        "subtotals",
        "close-totals",
        "sale 12.50 EUR",
    ] {
        assert!(out.contains(step), "missing {step}: {out}");
    }
    assert!(
        out.contains("Declined (code R-12): insufficient funds"),
        "{out}"
    );
    // Receipts, masked.
    assert!(
        out.contains("MERCHANT COPY") && out.contains("CLOSE TOTALS") && out.contains("SUBTOTALS"),
        "{out}"
    );
    assert!(out.contains("476173******0119"), "{out}");
    assert!(!out.contains("4761739001010119"));
    // The summary table.
    assert!(out.contains(" #  command"), "{out}");
    assert!(out.contains("11 steps, 11 as expected"), "{out}");
    assert!(!out.contains("NOT AS EXPECTED"), "{out}");
    // And its session log.
    let log = till_common::only_file(logs.path());
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("outcome: declined R-12"), "{text}");
    assert!(!text.contains("4761739001010119"));
}

#[test]
fn load_reports_throughput_and_percentiles() {
    let r = sim_env(
        &[
            "load",
            "--tills",
            "4",
            "--agents",
            "2",
            "--transactions",
            "40",
            "--json",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["tills"], 4);
    assert_eq!(v["agents"], 2);
    assert_eq!(v["transactions"], 40);
    assert_eq!(v["approved"], 40, "{v}");
    assert!(v["throughput_tps"].as_f64().unwrap() > 0.0);
    let p = |k: &str| v["latency"][k].as_u64().unwrap();
    assert!(p("p50_us") > 0);
    assert!(p("p50_us") <= p("p90_us") && p("p90_us") <= p("p99_us") && p("p99_us") <= p("max_us"));

    let r = sim_env(
        &[
            "load",
            "--tills",
            "2",
            "--transactions",
            "10",
            "--dialect",
            "concert",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("10 transactions"), "{}", r.stdout);
    assert!(r.stdout.contains("latency (ms): p50"), "{}", r.stdout);
    assert!(r.stdout.contains("p99"), "{}", r.stdout);
}
