#![no_main]
//! Reads arbitrary bytes as a journal file and folds every record into the recovery state:
//! nothing may panic, the reported tail must cover exactly the bytes after the valid prefix,
//! every record read must encode back to the bytes it was read from, and a file refused for
//! its format is refused only for a valid header naming a format this build does not read.
use ecrlink_core::journal::{JournalState, MAX_ENVELOPE, Reader, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut state = JournalState::new();
    let mut reader = match Reader::new(data) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                matches!(e, ecrlink_core::Error::JournalFormat { .. }),
                "{e:?}"
            );
            return;
        }
    };
    let mut buf = [0u8; MAX_ENVELOPE];
    for entry in reader.by_ref() {
        match entry {
            Ok(e) => {
                let _ = state.apply(&e.record);
                let n = encode(&e.record, &mut buf).expect("a decoded record encodes");
                assert_eq!(&buf[..n], &data[e.offset..e.offset + n]);
            }
            Err(tail) => assert_eq!(tail.offset + tail.len, data.len()),
        }
    }
    assert!(reader.valid_len() <= data.len());
    let _ = state.recover();
});
