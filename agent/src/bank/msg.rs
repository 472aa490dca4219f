//! The bank messages the payment application sends and the answers it reads (defined in
//! `ecrlink_core::terminal`; `codec` maps them to and from ISO 8583 bytes), and masking for
//! frame logs.

pub use ecrlink_core::terminal::{
    AuthKind, AuthRequest, BankAnswer, BankRequest, ReconcileRequest, ReversalRequest,
};

/// Replaces the middle digits of `pan` wherever its ASCII digits appear in `frame` with `*`
/// (first 6 and last 4 kept), for logging frames that carry a full PAN.
pub fn mask_pan_in(frame: &[u8], pan: &str) -> Vec<u8> {
    let mut out = frame.to_vec();
    if pan.len() >= 12 {
        star_each(&mut out, pan.as_bytes(), 6, 4);
    }
    out
}

/// Replaces every occurrence of `needle` in `out` with `*`, keeping its first `head` and last
/// `tail` bytes.
fn star_each(out: &mut [u8], needle: &[u8], head: usize, tail: usize) {
    if needle.is_empty() || head + tail >= needle.len() {
        return;
    }
    let mut i = 0;
    while i + needle.len() <= out.len() {
        if out[i..i + needle.len()] == *needle {
            for b in &mut out[i + head..i + needle.len() - tail] {
                *b = b'*';
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
}

/// Replaces, in a frame to log, the values of the card's sensitive EMV objects (track data,
/// card number, cardholder name, PIN data: [`ecrlink_core::emv::SENSITIVE_TAGS`]) with `*`,
/// wherever their upper-case hex (as ISO 8583 field 55 carries them) appears. Only the bank
/// link carries them; a log line never does.
pub fn mask_emv_in(frame: &[u8], emv: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    let mut needles: Vec<Vec<u8>> = Vec::new();
    let _ = ecrlink_core::emv::walk(emv, &mut |tlv| {
        if !tlv.is_constructed()
            && ecrlink_core::emv::is_sensitive(tlv.tag)
            && !tlv.value.is_empty()
        {
            needles.push(
                tlv.value
                    .iter()
                    .flat_map(|b| {
                        let hex = b"0123456789ABCDEF";
                        [hex[usize::from(b >> 4)], hex[usize::from(b & 0xF)]]
                    })
                    .collect(),
            );
        }
        Ok(())
    });
    for needle in needles {
        star_each(&mut out, &needle, 0, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_data_is_masked_in_frames() {
        // 57 (track 2) and 5F20 (name) inside field 55's hex; 9F36 (ATC) stays.
        let emv = [
            0x57, 0x03, 0x47, 0x61, 0xD2, 0x5F, 0x20, 0x02, b'J', b'O', 0x9F, 0x36, 0x01, 0x2A,
        ];
        let frame = b"0200...55014574761D25F20024A4F9F36012A";
        let m = mask_emv_in(frame, &emv);
        let text = String::from_utf8_lossy(&m);
        assert!(!text.contains("4761D2") && !text.contains("4A4F"), "{text}");
        assert!(text.contains("9F36012A"), "{text}");
    }

    #[test]
    fn pan_is_masked_in_frames() {
        let f = b"0200\x00164761739001010119000000";
        let m = mask_pan_in(f, "4761739001010119");
        assert_eq!(&m[..], b"0200\x0016476173******0119000000".as_slice());
        assert!(!String::from_utf8_lossy(&m).contains("4761739001010119"));
    }
}
