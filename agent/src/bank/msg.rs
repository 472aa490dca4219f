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
    let p = pan.as_bytes();
    if p.len() < 12 {
        return out;
    }
    let mut i = 0;
    while i + p.len() <= out.len() {
        if &out[i..i + p.len()] == p {
            for b in &mut out[i + 6..i + p.len() - 4] {
                *b = b'*';
            }
            i += p.len();
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_is_masked_in_frames() {
        let f = b"0200\x00164761739001010119000000";
        let m = mask_pan_in(f, "4761739001010119");
        assert_eq!(&m[..], b"0200\x0016476173******0119000000".as_slice());
        assert!(!String::from_utf8_lossy(&m).contains("4761739001010119"));
    }
}
