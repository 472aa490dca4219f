//! `decode --dialect tlv` (filled in by its codec issue).

use serde_json::Value;

use super::DecodeError;

/// Decodes one tlv frame into JSON.
pub fn decode(_bytes: &[u8]) -> Result<Value, DecodeError> {
    Err(DecodeError::Other(
        "tlv decoding is not implemented yet".into(),
    ))
}
