//! Control characters of the ECR–terminal byte layer (ASCII C0 set).

/// Start of text: opens a frame.
pub const STX: u8 = 0x02;
/// End of text: closes a frame; the LRC byte follows where the dialect uses one.
pub const ETX: u8 = 0x03;
/// End of transmission: closes an exchange.
pub const EOT: u8 = 0x04;
/// Enquiry: asks the peer for the line before sending a frame.
pub const ENQ: u8 = 0x05;
/// Positive acknowledgement.
pub const ACK: u8 = 0x06;
/// Negative acknowledgement: the frame was damaged, send it again.
pub const NAK: u8 = 0x15;
/// File separator: separates ČSOB fields.
pub const FS: u8 = 0x1C;
/// Group separator: separates ČSOB sub-fields.
pub const GS: u8 = 0x1D;

/// A control byte that stands alone on the line (outside a frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Control {
    /// ENQ (0x05).
    Enq,
    /// ACK (0x06).
    Ack,
    /// NAK (0x15).
    Nak,
    /// EOT (0x04).
    Eot,
}

impl Control {
    /// The control for a byte, if it is one.
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            ENQ => Some(Control::Enq),
            ACK => Some(Control::Ack),
            NAK => Some(Control::Nak),
            EOT => Some(Control::Eot),
            _ => None,
        }
    }

    /// The byte on the wire.
    pub const fn byte(self) -> u8 {
        match self {
            Control::Enq => ENQ,
            Control::Ack => ACK,
            Control::Nak => NAK,
            Control::Eot => EOT,
        }
    }

    /// The ASCII name (`ENQ`, `ACK`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Control::Enq => "ENQ",
            Control::Ack => "ACK",
            Control::Nak => "NAK",
            Control::Eot => "EOT",
        }
    }
}
