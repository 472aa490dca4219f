//! The byte layer shared by the till-side dialects.
//!
//! - [`control`]: the single-byte control characters (STX, ETX, ENQ, ACK, NAK, EOT, …).
//! - [`frame`]: `STX payload ETX [LRC]` encoding and one-shot decoding.
//! - [`accumulator`]: a fixed-capacity accumulator that takes bytes in any split and yields
//!   control bytes and complete frames.
//! - [`session`]: the half-duplex link session (ENQ → ACK → frame → ACK → EOT) with
//!   retransmission and deadlines, sans-IO.

pub mod accumulator;
pub mod control;
pub mod frame;
pub mod session;

pub use accumulator::{Feed, FrameAccumulator};
pub use control::Control;
pub use frame::{Checksum, FrameView, decode_frame, encode_frame, lrc};
