//! `ecrlink-sim decode`: one captured frame (hex) in, one JSON object out.
//!
//! Success prints the JSON on stdout and exits 0; bad input prints one line
//! `error: <what is wrong>` on stderr and exits 2.

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::cli::EXIT_USAGE;

mod concert;
mod csob;
mod iso8583;
mod tlv;
mod zvt;

/// Arguments of `decode`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ecrlink-sim decode --dialect concert 02 30 31 30 30 30 30 31 32 35 30 31 31 30 39 37 38 \\
      20 20 20 20 20 20 20 20 20 20 41 30 31 30 42 30 31 30 03 01
  ecrlink-sim decode --dialect tlv 9F2608C2C12B098F3DA6E3
  ecrlink-sim decode --dialect zvt 06 01 07 04 00 00 00 00 12 50
  ecrlink-sim decode --dialect iso8583 \
      30383030383232303030303030303030303030303034303030303030303030303030303031313235 \
      313731333030303030303031333031

Spaces, colons and a leading 0x in the hex are ignored. Exit status: 0 decoded, 2 bad input.")]
pub struct DecodeArgs {
    /// Protocol of the frame.
    #[arg(long, value_enum)]
    pub dialect: DecodeDialect,
    /// The frame as hex digits; several arguments are joined.
    #[arg(required = true, num_args = 1..)]
    pub hex: Vec<String>,
}

/// What `decode` can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecodeDialect {
    /// Ingenico Concert V2 frame: STX payload ETX LRC.
    Concert,
    /// ČSOB "B" protocol message: STX header FS fields ETX.
    Csob,
    /// EMV BER-TLV data.
    Tlv,
    /// ISO 8583 (1987, ASCII) message, with or without its 2-byte length prefix.
    Iso8583,
    /// ZVT APDU (class instr length data), bare as over TCP or in its serial frame
    /// (10 02 … 10 03 CRC).
    Zvt,
}

/// A decode failure: one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The argument is not hex.
    #[error("bad hex: {0}")]
    Hex(String),
    /// The core rejected the bytes.
    #[error("{0}")]
    Core(#[from] ecrlink_core::Error),
    /// Anything else, already worded.
    #[error("{0}")]
    Other(String),
}

/// Parses hex digits, ignoring white space, `:` separators and `0x` prefixes.
pub fn parse_hex(parts: &[String]) -> Result<Vec<u8>, DecodeError> {
    let mut digits = String::new();
    for part in parts {
        for token in part.split(|c: char| c.is_whitespace() || c == ':') {
            let t = token
                .strip_prefix("0x")
                .or_else(|| token.strip_prefix("0X"))
                .unwrap_or(token);
            digits.push_str(t);
        }
    }
    if digits.is_empty() {
        return Err(DecodeError::Hex("no hex digits given".into()));
    }
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(DecodeError::Hex(format!(
            "'{c}' at digit {} is not a hex digit",
            i + 1
        )));
    }
    if digits.len() % 2 != 0 {
        return Err(DecodeError::Hex(format!(
            "odd number of hex digits ({})",
            digits.len()
        )));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| DecodeError::Hex(e.to_string()))
        })
        .collect()
}

/// Decodes `bytes` as `dialect`.
pub fn decode(dialect: DecodeDialect, bytes: &[u8]) -> Result<Value, DecodeError> {
    match dialect {
        DecodeDialect::Concert => concert::decode(bytes),
        DecodeDialect::Csob => csob::decode(bytes),
        DecodeDialect::Tlv => tlv::decode(bytes),
        DecodeDialect::Iso8583 => iso8583::decode(bytes),
        DecodeDialect::Zvt => zvt::decode(bytes),
    }
}

/// Runs `decode` and returns the exit status.
pub fn run(args: &DecodeArgs) -> i32 {
    match parse_hex(&args.hex).and_then(|bytes| decode(args.dialect, &bytes)) {
        Ok(json) => {
            println!("{json}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_parsing() {
        assert_eq!(
            parse_hex(&["02 30:0x31".into(), "03".into()]).unwrap(),
            [2, 0x30, 0x31, 3]
        );
        assert!(matches!(parse_hex(&["0".into()]), Err(DecodeError::Hex(_))));
        assert!(matches!(
            parse_hex(&["zz".into()]),
            Err(DecodeError::Hex(_))
        ));
        assert!(matches!(
            parse_hex(&["  ".into()]),
            Err(DecodeError::Hex(_))
        ));
    }
}
