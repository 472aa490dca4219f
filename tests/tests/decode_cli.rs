//! `ecrlink-sim decode` as a real process: exit codes and one-line errors.

use std::process::Command;

fn sim(args: &[&str]) -> (i32, String, String) {
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

#[test]
fn bad_hex_is_a_one_line_error_with_exit_2() {
    let (code, out, err) = sim(&["decode", "--dialect", "concert", "02 3g"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: bad hex"), "{err}");
}

#[test]
fn unknown_dialect_is_a_usage_error() {
    let (code, _, err) = sim(&["decode", "--dialect", "zvt", "02"]);
    assert_eq!(code, 2);
    assert!(err.contains("zvt"), "{err}");
}
