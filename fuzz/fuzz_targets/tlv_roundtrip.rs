#![no_main]
//! parse → emit → parse: data that validates normalizes to bytes that validate, describe the
//! same tree (same tags, depths and primitive values, in order), and normalize to themselves.
use ecrlink_core::emv;
use libfuzzer_sys::fuzz_target;

fn flatten(data: &[u8]) -> Vec<(usize, u32, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    emv::walk(data, &mut |t| {
        out.push((
            t.depth(),
            t.tag.value(),
            (!t.is_constructed()).then(|| t.value.to_vec()),
        ));
        Ok(())
    })
    .expect("validated data walks");
    out
}

fuzz_target!(|data: &[u8]| {
    if emv::validate(data).is_err() {
        return;
    }
    // Normalized data is never longer than the input plus a few header bytes per object.
    let mut buf = vec![0u8; data.len() * 2 + 16];
    let n = emv::normalize(data, &mut buf).expect("validated data normalizes");
    let out = &buf[..n];
    assert_eq!(flatten(out), flatten(data));
    let mut again = vec![0u8; n];
    assert_eq!(emv::normalize(out, &mut again), Ok(n));
    assert_eq!(&again[..], out);
    // One byte short: refused, untouched.
    if n > 0 {
        let mut short = vec![0xA5u8; n - 1];
        assert!(emv::normalize(data, &mut short).is_err());
        assert!(short.iter().all(|&b| b == 0xA5));
    }
});
