#![no_main]
//! Placeholder target: filled in with its parser's issue.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
