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

/// Replaces the value of field `field` (its characters after the length prefix) of the
/// ISO 8583 message `frame` (without the TCP length prefix) with `*`, for logging frames that
/// carry the card's expiry date (field 14). A frame that does not parse is returned as it is
/// (it carries nothing this could find).
pub fn mask_field_in(frame: &[u8], field: u8) -> Vec<u8> {
    use ecrlink_core::bank::{Charset, FIELDS, IsoMessage};
    let mut out = frame.to_vec();
    let Ok(m) = IsoMessage::parse(frame) else {
        return out;
    };
    // MTI, then the primary bitmap and the secondary when a field above 64 is present, as
    // 16 hex characters each.
    let secondary = m.fields().any(|(n, _)| n > 64);
    let mut at = 4 + if secondary { 32 } else { 16 };
    for spec in FIELDS.iter() {
        let Some(value) = m.get(spec.number) else {
            continue;
        };
        let wire = match spec.charset {
            Charset::BinaryAsHex => 2 * value.len(),
            _ => value.len(),
        };
        at += spec.prefix_digits();
        if spec.number == field {
            if let Some(v) = out.get_mut(at..at + wire) {
                v.fill(b'*');
            }
            break;
        }
        at += wire;
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
    fn the_expiry_is_masked_in_frames_and_nothing_else() {
        use ecrlink_core::bank::{
            AuthorizationRequest, Expiry, IsoMessage, MonthDayTime, PosEntryMode, ProcessingCode,
        };
        use ecrlink_core::txn::{Currency, EntryMode, Money, Pan, TerminalId};
        let t = MonthDayTime::new(12, 30, 12, 30, 0).unwrap();
        let req = AuthorizationRequest {
            pan: Pan::new("4761739001010119").unwrap(),
            processing: ProcessingCode::SALE,
            amount: Money::new(3012, Currency::CZK).unwrap(),
            cashback: None,
            stan: 3012,
            transmission: Some(t),
            local: Some(t),
            expiry: Some(Expiry::new(30, 12).unwrap()),
            entry: Some(PosEntryMode::new(EntryMode::Chip, true)),
            card_sequence: Some(1),
            condition: Some(0),
            terminal_id: TerminalId::new("T3012").unwrap(),
            merchant_id: None,
            emv: &[0x9F, 0x36, 0x02, 0x30, 0x12],
        };
        let mut buf = vec![0u8; IsoMessage::MAX_LEN];
        let n = req.to_message().unwrap().emit(&mut buf).unwrap();
        let frame = &buf[..n];
        let masked = mask_field_in(frame, 14);
        let diff: Vec<usize> = (0..n).filter(|&i| frame[i] != masked[i]).collect();
        assert_eq!(diff.len(), 4, "{}", String::from_utf8_lossy(&masked));
        assert!(diff.iter().all(|&i| masked[i] == b'*'));
        assert_eq!(&frame[diff[0]..diff[0] + 4], b"3012");
        // Field 22 follows it, untouched.
        assert_eq!(&masked[diff[3] + 1..diff[3] + 4], b"051");
        assert_eq!(mask_field_in(b"garbage", 14), b"garbage");
    }

    #[test]
    fn pan_is_masked_in_frames() {
        let f = b"0200\x00164761739001010119000000";
        let m = mask_pan_in(f, "4761739001010119");
        assert_eq!(&m[..], b"0200\x0016476173******0119000000".as_slice());
        assert!(!String::from_utf8_lossy(&m).contains("4761739001010119"));
    }
}
