//! `decode --dialect tlv`: EMV BER-TLV data as a JSON tree.
//!
//! Each object is `{"tag": "9F26", "name": "Application Cryptogram", "length": 8, "value":
//! "C2C1…"}`; text tags add `"text"`; a template has `"children"` instead of `"value"`. The PAN
//! (`5A`) is shown masked and track data hidden, with `"masked": true`.

use ecrlink_core::emv::{self, Tlv, TlvIter, ValueDisplay};
use serde_json::{Map, Value, json};

use super::DecodeError;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn object(t: &Tlv<'_>) -> Result<Value, DecodeError> {
    let mut o = Map::new();
    o.insert("tag".into(), json!(t.tag.to_string()));
    if let Some(name) = t.tag.name() {
        o.insert("name".into(), json!(name));
    }
    o.insert("length".into(), json!(t.value.len()));
    if t.is_constructed() {
        o.insert("children".into(), Value::Array(tree(t.children()?)?));
    } else if t.tag.is_sensitive() {
        o.insert("value".into(), json!(ValueDisplay::new(t).to_string()));
        o.insert("masked".into(), json!(true));
    } else {
        o.insert("value".into(), json!(hex(t.value)));
        if t.tag.is_text() {
            if let Ok(text) = std::str::from_utf8(t.value) {
                if text.bytes().all(|b| (0x20..0x7F).contains(&b)) {
                    o.insert("text".into(), json!(text));
                }
            }
        }
    }
    Ok(Value::Object(o))
}

/// The objects of one level as JSON.
pub fn tree(iter: TlvIter<'_>) -> Result<Vec<Value>, DecodeError> {
    iter.map(|t| object(&t?)).collect()
}

/// Decodes BER-TLV data into JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let objects = tree(emv::parse(bytes)).map_err(|e| DecodeError::Other(format!("tlv: {e}")))?;
    Ok(json!({ "dialect": "tlv", "objects": objects }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_with_label_and_pan() {
        let data = [
            0x70, 0x10, 0x5A, 0x08, 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19, 0x50, 0x04,
            b'V', b'I', b'S', b'A',
        ];
        let v = decode(&data).unwrap();
        let t = &v["objects"][0];
        assert_eq!(t["tag"], "70");
        assert_eq!(t["children"][0]["value"], "476173******0119");
        assert_eq!(t["children"][0]["masked"], true);
        assert_eq!(t["children"][1]["text"], "VISA");
        assert_eq!(t["children"][1]["value"], "56495341");
        assert!(!v.to_string().contains("4761739001010119"));
    }
}
