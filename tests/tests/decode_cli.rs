//! `ecrlink-sim decode` as a real process: exit codes and one-line errors.

mod decode_common;

use decode_common::sim;

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
    let (code, _, err) = sim(&["decode", "--dialect", "gpe", "02"]);
    assert_eq!(code, 2);
    assert!(err.contains("gpe"), "{err}");
}
