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
        out.contains("Declined: insufficient funds (bank code 51, ČSOB code R-12)"),
        "{out}"
    );
    // Receipts, masked.
    assert!(
        out.contains("MERCHANT COPY") && out.contains("CLOSE TOTALS") && out.contains("SUBTOTALS"),
        "{out}"
    );
    assert!(out.contains("476173******0119"), "{out}");
    // The same copy for both dialects: the Concert sale's receipt is the merchant copy too.
    assert!(!out.contains("CUSTOMER COPY"), "{out}");
    let concert = out.split("[11/11]").nth(1).unwrap_or_default();
    assert!(concert.contains("MERCHANT COPY"), "{concert}");
    assert!(!out.contains("4761739001010119"));
    // The summary table.
    assert!(out.contains(" #  command"), "{out}");
    assert!(out.contains("11 steps, 11 as planned"), "{out}");
    assert!(!out.contains("NOT AS EXPECTED"), "{out}");
    // Issue 19: another till's abort of the merchant's running sale is refused, shown.
    assert!(
        out.contains("another till sends an abort while the merchant's sale runs")
            && out.contains("the abort was refused; the merchant's sale went on"),
        "{out}"
    );
    // Issue 19: the bank link over TLS 1.3 with the bank's certificate checked, shown.
    assert!(
        out.contains("[tls] the bank over TLS 1.3")
            && out.contains("the bank's certificate is checked: the right name is approved"),
        "{out}"
    );
    // Issue 19: the till address allow-list, shown.
    assert!(
        out.contains("a till from 127.0.0.2: the terminal closed the connection at once\n")
            && out.contains("the shop's till from 127.0.0.1: Payment approved"),
        "{out}"
    );
    // One numbering for the whole day, the Concert sale included.
    assert!(
        out.contains("[10/11] ") && out.contains("[11/11] "),
        "{out}"
    );
    assert!(!out.contains("[1/1] "), "{out}");
    // The decline is planned: its row reads "declined 51 … as planned", not "ok yes".
    let row = out
        .lines()
        .find(|l| l.contains("320.51 CZK") && l.contains("declined"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("declined 51") && row.ends_with("as planned"),
        "{row}"
    );
    assert!(!out.contains(" yes"), "{out}");
    // Issue 19: the bank link's MAC is on, and the man in the middle is seen failing.
    assert!(out.contains("every message MACed"), "{out}");
    assert!(
        out.contains("51 becomes 00") && out.contains("the relay changed 1 answer(s)"),
        "{out}"
    );
    assert!(
        out.contains("the bank holds: Declined, response 51"),
        "{out}"
    );
    // Issue 19: the merchant PIN and the limits, each refusal seen with its reason.
    assert!(
        out.contains("need the merchant PIN typed on the terminal"),
        "{out}"
    );
    for reason in [
        "not confirmed by the merchant",
        "wrong merchant PIN",
        "amount over the terminal's limit",
        "amount over the terminal's daily limit",
    ] {
        assert!(
            out.contains(&format!(
                "refused by the terminal ({reason}); the bank saw no message"
            )),
            "{reason}: {out}"
        );
    }
    // And its session log.
    let log = till_common::only_file(logs.path());
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("outcome: declined R-12"), "{text}");
    assert!(!text.contains("4761739001010119"));
}

#[test]
fn demo_in_czech_translates_headings_steps_receipts_and_summary() {
    let r = sim_env(&["demo", "--lang", "cs"], &[], Duration::from_secs(15));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    for czech in [
        "ecrlink demo: obchodní den na jednom počítači",
        "simulátor banky",
        "ráno: je terminál na místě?",
        "Zamítnuto: nedostatek prostředků (kód banky 51, kód ČSOB R-12)",
        "autorizační kód",
        "příkaz",
        "zamítnuta 51",
        "schválené platby",
        "11 kroků, 11 podle plánu",
        "KOPIE PRO OBCHODNÍKA",
    ] {
        assert!(out.contains(czech), "missing {czech}: {out}");
    }
    for english in [
        "a shop day",
        "coffee",
        "approval code",
        "as planned",
        "steps,",
        // Issue 15 point 14: the bank-link line and the man-in-the-middle part too.
        "every message MACed",
        "a man in the middle",
        "the relay changed",
        "the bank holds",
    ] {
        assert!(!out.contains(english), "{english} left in English: {out}");
    }
    for czech in [
        "každá zpráva s MAC",
        "útočník uprostřed",
        "relé změnilo odpovědí: 1",
        "banka eviduje: zamítnuta, odpověď 51",
    ] {
        assert!(out.contains(czech), "missing {czech}: {out}");
    }
}

/// Issue 15 point 14, in French: the bank-link and man-in-the-middle lines are translated,
/// and a label longer than its column still leaves a space before its value.
#[test]
fn demo_in_french_translates_the_bank_link_lines_and_keeps_labels_apart() {
    let r = sim_env(&["demo", "--lang", "fr"], &[], Duration::from_secs(15));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert!(
        out.contains("simulateur de banque (ISO 8583) 127.0.0.1:"),
        "{out}"
    );
    for french in [
        "chaque message avec MAC",
        "un homme du milieu",
        "le relais a modifié 1 réponse(s)",
        "la banque détient : refusée, réponse 51",
    ] {
        assert!(out.contains(french), "missing {french}: {out}");
    }
    for english in ["every message MACed", "the relay changed", "the bank holds"] {
        assert!(!out.contains(english), "{english} left in English: {out}");
    }
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

#[test]
fn load_paced_reports_latency_from_the_due_time_and_the_agents_own_times() {
    let r = sim_env(
        &[
            "load",
            "--tills",
            "2",
            "--agents",
            "2",
            "--transactions",
            "20",
            "--rate",
            "200",
            "--json",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["mode"], "paced", "{v}");
    assert_eq!(v["rate_tps"].as_f64(), Some(200.0), "{v}");
    assert_eq!(v["threads"], 1, "{v}");
    assert_eq!(v["transactions"], 20);
    assert_eq!(v["approved"], 20, "{v}");
    // The last of 20 sales at 200/s is due 95 ms after the first: pacing cannot finish sooner.
    assert!(v["wall_ms"].as_u64().unwrap() >= 95, "{v}");
    let p = |obj: &str, k: &str| v[obj][k].as_u64().unwrap();
    for obj in [
        "latency",
        "latency_from_start",
        "start_lag",
        "agent_service",
        "agent_added",
    ] {
        assert!(
            p(obj, "p50_us") <= p(obj, "p90_us")
                && p(obj, "p90_us") <= p(obj, "p99_us")
                && p(obj, "p99_us") <= p(obj, "max_us"),
            "{obj}: {v}"
        );
    }
    // A sale starts at or after its due time, so from the due time is never shorter.
    for k in ["p50_us", "p90_us", "p99_us", "max_us"] {
        assert!(p("latency", k) >= p("latency_from_start", k), "{k}: {v}");
        assert!(p("agent_added", k) <= p("agent_service", k), "{k}: {v}");
    }
    assert!(p("latency_from_start", "p50_us") > 0, "{v}");
    // Every sale is one request the agents timed; the agent's part is inside the till's.
    assert_eq!(v["agent_samples"], 20, "{v}");
    assert!(p("agent_service", "p50_us") > 0, "{v}");
    assert!(
        p("agent_service", "max_us") <= p("latency_from_start", "max_us"),
        "{v}"
    );

    let r = sim_env(
        &[
            "load",
            "--transactions",
            "5",
            "--dialect",
            "concert",
            "--rate",
            "100",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "latency (ms) from the time due: p50",
        "paced at 100.0 sales/s in all",
        "start lag (ms): p50",
        "agent adds (ms): p50",
    ] {
        assert!(r.stdout.contains(line), "{line}: {}", r.stdout);
    }
}

#[test]
fn load_closed_loop_keeps_its_keys_and_reports_the_threads() {
    let r = sim_env(
        &[
            "load",
            "--tills",
            "2",
            "--agents",
            "2",
            "--transactions",
            "10",
            "--threads",
            "2",
            "--json",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["mode"], "closed", "{v}");
    assert!(v["rate_tps"].is_null(), "{v}");
    assert_eq!(v["threads"], 2, "{v}");
    assert_eq!(v["latency"], v["latency_from_start"], "{v}");
    assert_eq!(v["start_lag"]["max_us"], 0, "{v}");
    assert_eq!(v["agent_samples"], 10, "{v}");
}

#[test]
fn load_refuses_bad_rates_and_thread_counts() {
    for (args, needle) in [
        (&["--rate", "0"][..], "rate must be above 0"),
        (&["--rate", "-5"][..], "rate must be above 0"),
        (&["--rate", "fast"][..], "not a number of sales per second"),
        (&["--rate", "inf"][..], "rate must be above 0"),
        (&["--threads", "0"][..], "--threads"),
    ] {
        let mut all = vec!["load", "--transactions", "1"];
        all.extend_from_slice(args);
        let r = sim_env(&all, &[], Duration::from_secs(20));
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    // A bank ledger that cannot be written or read is a usage error too.
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let missing = dir.path().join("no-such-dir").join("ledger.json");
    for (path, needle) in [
        (&missing, "cannot write it"),
        (&garbage, "not a bank-simulator ledger"),
    ] {
        let path = path.to_str().unwrap();
        let r = sim_env(
            &["load", "--transactions", "1", "--bank-ledger", path],
            &[],
            Duration::from_secs(20),
        );
        assert_eq!(r.code, 2, "{path}: {r:?}");
        assert!(r.stderr.contains(needle), "{path}: {}", r.stderr);
    }
    let r = sim_env(&["load", "--help"], &[], Duration::from_secs(20));
    assert_eq!(r.code, 0, "{r:?}");
    for needle in [
        "--rate <TX_PER_S>",
        "--bank-ledger <FILE>",
        "--threads",
        "coordinated omission",
        "agent adds",
    ] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }
}
