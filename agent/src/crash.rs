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
