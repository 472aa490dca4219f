//! The browser page of `ecrlink-agent --ui` (issue 17), driven in a real browser: Playwright
//! from PyPI in a throwaway venv under `target/ui-browser/` and Debian's
//! `chromium-headless-shell` (both installed by `tests/ui_browser/venv.sh`; no browser
//! download). The scenarios are in `tests/ui_browser/ui_test.py`; each starts real processes
//! (a bank simulator with `docs/ui-bank-rules.toml`, the agent with `--ui`, or
//! `ecrlink-sim demo --ui --terminals 2`) and tills (`ecrlink-sim sale --json`) whose exit
//! status and JSON say what the till saw:
//! - `approved`: a card presented by keyboard only; the till sees approved; the page shows
//!   PIN entry, the approval code, the transaction and its receipt (masked PAN; a merchant
//!   name written as markup stays text); no horizontal scroll at 360 px; every control
//!   labelled; a foreign `Host` is refused;
//! - `wrong-pin`: declined 55; `bank-declines`: a test card the bank declines with 05;
//! - `timeout`: no card, the terminal's limit ends the sale (till: timeout);
//! - `cancel`: the terminal's red key while it waits for the card (till: cancelled);
//! - `bank-offline`: the link held offline (till: bank unavailable), then normal (approved);
//! - `sleep-wake`: asleep, a till finds no terminal; awake again;
//! - `bank-slow`: "contacting bank" shown while the link holds the message 3 s, then approved;
//! - `remove-card`: the card taken out during PIN entry: not approved;
//! - `cut-till`: the till's connection cut during the card wait: the till does not report
//!   approved; the terminal's screen stays on its sale (the till's abort and last-transaction
//!   query, refused or queued, do not take it) and the sale completes on the page;
//! - `two-terminals`: two terminals on one page, each driven on its own; the demo prints its
//!   merchant PIN and a refund asks it on the page;
//! - `merchant-pin`: a refund from the till (`ecrlink-sim refund`, an agent whose config has a
//!   `merchant_pin_hash`): the page asks the merchant PIN (a focused password field), the
//!   tester types it by keyboard, presents a card; the till sees approved, the bank one auth;
//!   the PIN is not on the page or in the agent's log;
//! - `merchant-wrong-pin`: a wrong merchant PIN: the till is refused "wrong merchant PIN"; the
//!   prompt's Cancel button, and Escape in its field, cancel the next refunds; nothing
//!   reaches the bank.
//!
//! Screenshots of each state go to `target/ui-shots/`. Without the venv or the browser (no
//! network, not root) the test fails when `CI=true` and prints SKIPPED otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// (python, browser) from venv.sh, or `None` after SKIPPED outside CI.
fn setup() -> Option<(String, String)> {
    let made = Command::new("bash")
        .arg(root().join("tests/ui_browser/venv.sh"))
        .output()
        .map_err(|e| format!("cannot run venv.sh: {e}"))
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let mut lines = text.lines();
            match (out.status.success(), lines.next(), lines.next()) {
                (true, Some(py), Some(browser)) => Ok((py.to_string(), browser.to_string())),
                _ => Err(format!(
                    "venv.sh failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )),
            }
        });
    match made {
        Ok(p) => Some(p),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("Playwright and chromium-headless-shell are needed in CI: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: no Playwright venv or browser ({e})");
            None
        }
    }
}

#[test]
fn the_page_drives_the_terminal_in_a_real_browser() {
    let Some((python, browser)) = setup() else {
        return;
    };
    let shots = root().join("target/ui-shots");
    let out = Command::new(python)
        .arg(root().join("tests/ui_browser/ui_test.py"))
        .args(["--agent", env!("CARGO_BIN_EXE_ecrlink-agent-e2e")])
        .args(["--sim", env!("CARGO_BIN_EXE_ecrlink-sim-e2e")])
        .args(["--browser", &browser])
        .arg("--rules")
        .arg(root().join("docs/ui-bank-rules.toml"))
        .arg("--shots")
        .arg(&shots)
        .output()
        .expect("run ui_test.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser scenarios failed ({}):\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    for name in [
        "approved",
        "wrong-pin",
        "bank-declines",
        "timeout",
        "cancel",
        "bank-offline",
        "sleep-wake",
        "bank-slow",
        "remove-card",
        "cut-till",
        "two-terminals",
        "merchant-pin",
        "merchant-wrong-pin",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {name}")),
            "scenario {name} did not pass:\n{stdout}"
        );
    }
    assert!(shots.join("approved.png").exists(), "no screenshot");
    assert!(
        shots.join("merchant-pin-merchant-pin.png").exists(),
        "no screenshot of the merchant PIN prompt"
    );
}

/// The bank rules shipped for the page's decline test cards decline each card with its code,
/// and `demo --ui` gives its bank the same.
#[test]
fn the_test_cards_bank_rules_decline_each_card_with_its_code() {
    use ecrlink_host_sim::bank::{Facts, Rules};
    let text = std::fs::read_to_string(root().join("docs/ui-bank-rules.toml")).expect("rules");
    let mut shipped = Rules::parse(&text).expect("docs/ui-bank-rules.toml parses");
    let mut demo = ecrlink_host_sim::demo::ui_bank_rules().expect("demo rules");
    for rules in [&mut shipped, &mut demo] {
        for (code, pan) in ecrlink_agent::card::DECLINE_TEST_PANS {
            let facts = Facts {
                mti: "0200",
                amount: Some(1250),
                pan: Some(pan),
                kind: Some("sale"),
                cryptogram: Some("valid"),
            };
            assert_eq!(rules.decide(&facts).code.as_deref(), Some(code), "{pan}");
        }
        let plain = Facts {
            mti: "0200",
            amount: Some(1250),
            pan: Some(ecrlink_agent::card::DEFAULT_PAN),
            kind: Some("sale"),
            cryptogram: Some("valid"),
        };
        assert_eq!(
            rules.decide(&plain).code,
            None,
            "the default card is approved"
        );
    }
}
