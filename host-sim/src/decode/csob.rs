//! `decode --dialect csob` (filled in by its codec issue).

use serde_json::Value;

use super::DecodeError;

/// Decodes one csob frame into JSON.
pub fn decode(_bytes: &[u8]) -> Result<Value, DecodeError> {
    Err(DecodeError::Other(
        "csob decoding is not implemented yet".into(),
    ))
}
