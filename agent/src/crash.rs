//! A test hook that kills the agent at a chosen step of a transaction, so that crash safety
//! can be tested at each step rather than by chance: set `ECRLINK_AGENT_CRASH_AT` to a step
//! name and the process aborts (no destructor, no flush: as SIGKILL) the first time a money
//! transaction reaches that step. Unset (the normal case), the hook costs one load.
//!
//! | step                  | where                                                        |
//! |-----------------------|--------------------------------------------------------------|
//! | `before-bank-request` | the authorization is journaled, the request not yet sent     |
//! | `after-bank-approval` | the bank approved; its answer is not journaled yet           |
//! | `after-journal-write` | the final answer is journaled; the till has not been sent it |
//! | `after-answer-sent`   | the answer frame was written to the till, not yet confirmed  |
//!
//! A second hook injects a fault instead of a crash ([`fault`], [`FAULTS`]): an answer the
//! till's dialect cannot carry, or a journal write that fails after the bank approved. It
//! works only in a process that called [`enable_faults`] (the end-to-end test binaries), so
//! that no environment variable can make an installed agent lie to a till.

use std::sync::OnceLock;

/// The environment variable naming the step.
pub const CRASH_AT_ENV: &str = "ECRLINK_AGENT_CRASH_AT";

/// The steps a transaction can be killed at.
pub const STEPS: [&str; 4] = [
    "before-bank-request",
    "after-bank-approval",
    "after-journal-write",
    "after-answer-sent",
];

fn armed() -> Option<&'static str> {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    AT.get_or_init(|| std::env::var(CRASH_AT_ENV).ok().filter(|s| !s.is_empty()))
        .as_deref()
}

/// Aborts the process if `ECRLINK_AGENT_CRASH_AT` names `step`.
pub fn point(step: &str) {
    if armed() == Some(step) {
        eprintln!("ecrlink-agent: {CRASH_AT_ENV}={step}: aborting now");
        std::process::abort();
    }
}

/// Whether a crash is armed at `step` (to decide whether to watch for it).
pub fn is_armed(step: &str) -> bool {
    armed() == Some(step)
}

// ----- injected faults (end-to-end test binaries only) -----

/// The environment variable naming a fault to inject once ([`FAULTS`]). It is read only by a
/// binary that called [`enable_faults`] (the `ecrlink-agent-e2e` and `ecrlink-sim-e2e` test
/// binaries); the installed `ecrlink-agent` and `ecrlink-sim` ignore it.
pub const FAULT_ENV: &str = "ECRLINK_AGENT_FAULT";

/// The faults [`FAULT_ENV`] can name; each fires once, the first time it is reached.
///
/// | fault                          | what goes wrong                                              |
/// |--------------------------------|--------------------------------------------------------------|
/// | `answer-unencodable`           | the first approved payment answer is one the till's dialect refuses to encode (its amount is off by one minor unit, so the session's own check rejects it), as an answer a dialect cannot carry would be |
/// | `journal-write-after-approval` | the journal write of the first approved payment's final answer fails (as a disk error after the bank approved) |
pub const FAULTS: [&str; 2] = ["answer-unencodable", "journal-write-after-approval"];

static FAULTS_ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static FAULT_FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets this process inject the fault named by [`FAULT_ENV`]. Only test binaries call it,
/// first thing in `main`.
pub fn enable_faults() {
    FAULTS_ENABLED.store(true, std::sync::atomic::Ordering::SeqCst);
    // Read the variable now, so that a misspelt fault is reported at start.
    let _ = armed_fault();
}

fn armed_fault() -> Option<&'static str> {
    static FAULT: OnceLock<Option<String>> = OnceLock::new();
    if !FAULTS_ENABLED.load(std::sync::atomic::Ordering::SeqCst) {
        return None;
    }
    FAULT
        .get_or_init(|| {
            let f = std::env::var(FAULT_ENV).ok().filter(|s| !s.is_empty());
            if let Some(name) = f.as_deref().filter(|n| !FAULTS.contains(n)) {
                eprintln!(
                    "ecrlink-agent: {FAULT_ENV}={name}: no such fault (known: {}); none is injected",
                    FAULTS.join(", ")
                );
            }
            f
        })
        .as_deref()
}

/// Whether `fault` is to be injected now: true once, the first time it is asked for in a
/// process where faults are enabled and [`FAULT_ENV`] names it.
pub fn fault(fault: &str) -> bool {
    if armed_fault() != Some(fault) {
        return false;
    }
    let first = !FAULT_FIRED.swap(true, std::sync::atomic::Ordering::SeqCst);
    if first {
        eprintln!("ecrlink-agent: {FAULT_ENV}={fault}: injecting the fault now");
    }
    first
}
