//! ZVT, the German till ⇄ terminal protocol (Germany, Austria, Switzerland; TCP port 20007 by
//! default, or serial). This module is the codec: bytes ⇄ typed messages, in both
//! directions, and the terminal-side session [`ZvtTerminal`] ([`session`]).
//!
//! Sources (public facts only; no code or prose is taken from them):
//! - the specification published by the terminal makers' association: PA00P015 "ZVT protocol
//!   specification" (commands, bitmaps, error messages) and PA00P016 "ZVT transport protocol"
//!   (serial framing), as referenced by the public clients below;
//! - EVerest/zvt (the `zvt` crate 0.1.0 on crates.io): `zvt/src/packets.rs` (layouts and BMP
//!   lengths), `zvt/src/constants.rs` (result codes), `zvt_builder/src/length.rs` (APDU and
//!   LL/LLL/TLV lengths), and the captured traces `zvt/data/*.blob`, several of which are the
//!   test vectors in this module's tests (named there by file);
//! - Portalum.Zvt: `Parsers/BmpParser.cs` (BMP lengths), `ZvtClient.cs` (command layouts of
//!   reversal, refund, repeat receipt, end of day, log-off, abort, diagnosis),
//!   `Helpers/ChecksumHelper.cs` and `SerialPortDeviceCommunication.cs` (serial CRC and DLE
//!   doubling); the Python `ecrterm` (`crc.py`, `transport_serial.py`) agrees on the CRC.
//!
//! Nothing here claims to be verified against a real terminal beyond the captured traces.
//!
//! Layers, as in the rest of the core:
//! - [`apdu`]: `class instr length data`, the length one byte or `FF` + two bytes
//!   little-endian; [`Apdu::parse`] says complete / need more bytes / error, and
//!   [`ApduAccumulator`] collects APDUs from a TCP stream;
//! - [`bmp`]: BMP numbers and formats (fixed, BCD, LL `F1 F0`, LLL `F0 F7 F0`, BER-TLV
//!   container `06`), BCD helpers;
//! - [`fields`]: [`Bmps`], the typed set of BMPs a message carries;
//! - [`message`]: [`Message`], the commands and answers of both sides, `parse` / `emit`;
//! - [`serial`]: `DLE STX … DLE ETX` + CRC-16 frames with DLE doubling, ACK/NAK, and
//!   [`SerialAccumulator`]. Over TCP an APDU goes as it is, with no framing around it;
//! - [`session`]: [`ZvtTerminal`], the terminal side behind [`crate::session::TerminalSide`]:
//!   registration, password checks, the answer sequence with its acknowledgements.
//!
//! The exchange (PA00P015 chapter 2): the till sends a command and the terminal answers
//! `80 00 00`; while it works it sends `04 FF` intermediate status, `04 0F` status
//! information, `06 D1` print lines or `06 D3` text blocks, each of which the till
//! acknowledges with `80 00 00`, until `06 0F` completion or `06 1E` abort.
//!
//! ```
//! use ecrlink_core::dialect::zvt::{Apdu, ApduStatus, Message, apdu::MAX_DATA};
//! // Registration as captured by EVerest/zvt (data/1681273860.511128000_ecr_pt.blob):
//! // password 123456, config byte DE, currency 978 (EUR).
//! let bytes = [0x06, 0x00, 0x06, 0x12, 0x34, 0x56, 0xDE, 0x09, 0x78];
//! let ApduStatus::Complete(apdu, used) = Apdu::parse(&bytes, MAX_DATA).unwrap() else { panic!() };
//! assert_eq!(used, bytes.len());
//! let Message::Registration(r) = Message::parse(&apdu).unwrap() else { panic!() };
//! assert_eq!((r.password, r.config, r.currency), (123456, 0xDE, Some(978)));
//! let mut out = [0u8; 16];
//! let n = Message::Registration(r).emit(&mut out).unwrap();
//! assert_eq!(&out[..n], &bytes);
//! ```

pub mod apdu;
pub mod bmp;
pub mod fields;
pub mod message;
pub mod serial;
pub mod session;

pub use apdu::{Apdu, ApduAccumulator, ApduStatus};
pub use fields::{Bmps, RECEIPT_NO_NONE};
pub use message::{
    Abort, Completion, IntermediateStatus, Message, PrintLine, Registration, StatusEnquiry,
    WithPassword,
};
pub use serial::{SerialAccumulator, SerialFeed};
pub use session::{ReceiptCopy, ReceiptWanted, Transport, ZvtTerminal, ZvtTerminalConfig};

#[cfg(test)]
mod tests;
