//! `decode --dialect iso8583` (filled in by its codec issue).

use serde_json::Value;

use super::DecodeError;

/// Decodes one iso8583 frame into JSON.
pub fn decode(_bytes: &[u8]) -> Result<Value, DecodeError> {
    Err(DecodeError::Other(
        "iso8583 decoding is not implemented yet".into(),
    ))
}
