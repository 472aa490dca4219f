//! Shared by the `decode_*` tests: runs `ecrlink-sim` as a real process.

use std::process::Command;

/// Runs `ecrlink-sim ARGS` and returns (exit status, stdout, stderr).
pub fn sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
        .args(args)
        .output()
        .expect("spawn ecrlink-sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
