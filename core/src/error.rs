//! The one error type of the core: a flat enum whose variant names say which layer they come
//! from (`Link…`, `Concert…`, `Csob…`, `Zvt…`, `Tlv…`, `Iso…`, `Journal…`), so a log line is enough to
//! find the code that raised it.

use core::fmt;

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in the core. Parsers return these for hostile input; nothing panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    // ----- shared -----
    /// The caller's output buffer is too small; nothing was written to it.
    BufferTooSmall {
        /// Bytes the output needs.
        needed: usize,
    },
    /// A fixed capacity (documented on the type that holds it) would be exceeded.
    CapacityExceeded {
        /// What was full.
        what: &'static str,
    },
    /// The input ended before the value was complete (a codec given a truncated message).
    Truncated {
        /// What was being read.
        what: &'static str,
    },

    // ----- txn -----
    /// An amount of zero where the request needs money.
    AmountZero,
    /// An amount above [`crate::txn::Amount::MAX_MINOR`] or above what a dialect's field holds.
    AmountTooLarge,
    /// A currency code not in the ISO 4217 table the core knows.
    UnknownCurrency {
        /// The numeric code that was given.
        numeric: u16,
    },
    /// Two amounts of one request are in different currencies.
    CurrencyMismatch,
    /// A reference / variable symbol longer than [`crate::txn::Reference::CAPACITY`].
    ReferenceTooLong,
    /// A reference with a character outside printable ASCII.
    ReferenceInvalid,
    /// An approval (verification) code that is empty, too long or not alphanumeric.
    ApprovalCodeInvalid,
    /// A PAN that is not 12–19 decimal digits.
    PanInvalid,
    /// A terminal id that is not 1–8 printable ASCII characters.
    TerminalIdInvalid,
    /// A decimal amount string that is malformed or has more decimals than the currency.
    AmountSyntax,

    // ----- link -----
    /// A frame longer than the accumulator's capacity; the frame was dropped.
    LinkFrameTooLong,
    /// A frame whose LRC does not match the XOR of its bytes.
    LinkBadLrc {
        /// LRC computed over the received bytes.
        computed: u8,
        /// LRC byte that came with the frame.
        received: u8,
    },
    /// A frame that does not start with STX or lacks its ETX.
    LinkMalformedFrame,
    /// A payload that contains STX, ETX or another byte a frame cannot carry.
    LinkPayloadByte {
        /// The offending byte.
        byte: u8,
    },
    /// A send was asked for while the link is busy with another exchange.
    LinkBusy,
    /// The peer did not acknowledge after the configured number of tries.
    LinkNoAck,
    /// The peer kept answering NAK until the configured number of tries ran out.
    LinkTooManyNaks,
    /// The peer stopped sending in the middle of an exchange.
    LinkTimeout,
    /// A frame or byte the exchange does not expect at this point; it was ignored.
    LinkUnexpected {
        /// What arrived.
        what: &'static str,
    },

    // ----- dialects -----
    /// A Concert frame payload of a length that is neither a request nor a short/full answer.
    ConcertLength {
        /// Length that was received.
        len: usize,
    },
    /// A Concert field that does not hold what the protocol allows.
    ConcertField {
        /// Name of the field.
        field: &'static str,
    },
    /// A Concert answer that does not belong to the request it would answer: `field` names
    /// what differs (`kind`, `amount`, `currency`, `pos`).
    ConcertMismatch {
        /// What differs.
        field: &'static str,
    },
    /// A Concert answer that was not delivered because the till sent a new request first (it
    /// no longer waits for it; the transaction stays the terminal's last one).
    ConcertSuperseded,
    /// A ČSOB header that is malformed.
    CsobHeader {
        /// Name of the header part.
        field: &'static str,
    },
    /// A ČSOB field that does not hold what the protocol allows.
    CsobField {
        /// Tag or name of the field.
        field: &'static str,
    },
    /// A ČSOB header data-length that does not match the data (only under the strict policy).
    CsobLengthMismatch {
        /// Length the header declares.
        declared: u16,
        /// Length of the data received.
        actual: u16,
    },
    /// A ČSOB CRC field other than the expected value (only under `CrcPolicy::Expect`).
    CsobCrcMismatch,
    /// A ČSOB message or call that does not fit the session's state (a B2 nobody waits for,
    /// a response with no request pending, a receipt part nobody asked for).
    CsobUnexpected {
        /// What was unexpected.
        what: &'static str,
    },
    /// A ZVT APDU whose length field exceeds what the caller accepts.
    ZvtApduLength {
        /// Data length the APDU declares.
        len: u16,
    },
    /// A ZVT command (class, instruction) the typed codec does not know.
    ZvtCommand {
        /// Class byte.
        class: u8,
        /// Instruction byte.
        instr: u8,
    },
    /// A ZVT BMP number whose format the codec does not know, so its length is unknown.
    ZvtUnknownBmp {
        /// The BMP number.
        bmp: u8,
    },
    /// A ZVT field (BMP, or an untagged field named by its usual BMP) that is malformed:
    /// a BCD digit out of range, a bad LL/LLL length, an invalid TLV container, a value too
    /// large to emit, a field repeated.
    ZvtField {
        /// The BMP number (0 for the untagged fields without one, such as the config byte).
        bmp: u8,
    },
    /// A ZVT serial frame that breaks the DLE framing (a DLE followed by a byte other than
    /// DLE, ETX or STX) or overflows the accumulator.
    ZvtFrame,
    /// A ZVT serial frame whose CRC does not match.
    ZvtCrc {
        /// CRC computed over the received APDU and ETX.
        computed: u16,
        /// CRC that came with the frame.
        received: u16,
    },
    /// A message type or transaction code this side does not handle.
    Unsupported {
        /// What was not supported.
        what: &'static str,
    },

    // ----- session (every dialect alike) -----
    /// `respond` with no request pending: none was received, or it was answered already.
    SessionNoRequest,
    /// A response that does not answer the pending request (see
    /// [`crate::session::check_response`]); nothing was sent and the request is still
    /// pending, for a corrected response.
    SessionResponseMismatch {
        /// What does not match.
        field: crate::session::ResponseField,
    },

    // ----- emv -----
    /// A BER-TLV tag or length encoding that is malformed.
    TlvMalformed,
    /// Constructed templates nested deeper than [`crate::emv::MAX_DEPTH`].
    TlvTooDeep,

    // ----- bank (ISO 8583) -----
    /// A message type indicator that is not four digits or not one we handle.
    IsoMti,
    /// A bitmap that is not hexadecimal.
    IsoBitmap,
    /// A field present in the bitmap that the codec does not know.
    IsoUnknownField {
        /// Field number.
        field: u8,
    },
    /// A field whose content or length breaks its ISO 8583 format.
    IsoField {
        /// Field number.
        field: u8,
    },
    /// A mandatory field of the message type is absent.
    IsoMissingField {
        /// Field number.
        field: u8,
    },
    /// The message ended inside a field (its length prefix or value).
    IsoTruncated {
        /// Field number.
        field: u8,
    },
    /// Bytes left after the last field the bitmap announces.
    IsoTrailingData {
        /// Number of bytes left over.
        len: u16,
    },
    /// A TCP length prefix outside what the accumulator accepts (above its capacity); the
    /// message is skipped.
    IsoFrameLength {
        /// Length the prefix declares.
        len: u16,
    },
    /// A message that must carry a message authentication code (field 64, or 128 with a
    /// secondary bitmap) carries none, or carries it in the wrong one of the two.
    IsoMacMissing,
    /// The message authentication code does not match the message: it was changed on the
    /// way, or made with another key.
    IsoMacMismatch,

    // ----- journal -----
    /// A journal envelope whose CRC-32 does not match (torn or corrupt record).
    JournalCrc,
    /// A journal record that postcard cannot decode or encode.
    JournalRecord,
    /// A journal envelope whose magic bytes or length field are invalid (corrupt, not torn).
    JournalEnvelope,
    /// A journal file in a format this build does not read (written by a newer build, or by an
    /// older one whose format is no longer decoded); the file must be left as it is.
    JournalFormat {
        /// The format version in the file's header.
        found: u16,
        /// The oldest format this build reads.
        oldest: u16,
        /// The format this build writes.
        current: u16,
    },

    // ----- receipt -----
    /// A receipt width other than 24, 32, 42 or 48 columns.
    ReceiptWidth,
    /// The `fmt::Write` sink refused text.
    ReceiptWrite,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            CapacityExceeded { what } => write!(f, "capacity exceeded: {what}"),
            Truncated { what } => write!(f, "truncated input while reading {what}"),
            AmountZero => f.write_str("amount must be greater than zero"),
            AmountTooLarge => f.write_str("amount too large"),
            UnknownCurrency { numeric } => write!(f, "unknown ISO 4217 currency code {numeric:03}"),
            CurrencyMismatch => f.write_str("amounts in different currencies"),
            ReferenceTooLong => f.write_str("reference too long"),
            ReferenceInvalid => f.write_str("reference has a character outside printable ASCII"),
            ApprovalCodeInvalid => f.write_str("approval code must be 1-8 letters or digits"),
            PanInvalid => f.write_str("PAN must be 12-19 digits"),
            TerminalIdInvalid => f.write_str("terminal id must be 1-8 printable ASCII characters"),
            AmountSyntax => {
                f.write_str("amount is not a decimal number with the currency's decimals")
            }
            LinkFrameTooLong => f.write_str("link: frame longer than the buffer"),
            LinkBadLrc { computed, received } => {
                write!(
                    f,
                    "link: bad LRC (computed {computed:02X}, received {received:02X})"
                )
            }
            LinkMalformedFrame => f.write_str("link: malformed frame (STX/ETX)"),
            LinkPayloadByte { byte } => write!(f, "link: payload byte {byte:02X} cannot be framed"),
            LinkBusy => f.write_str("link: busy with another exchange"),
            LinkNoAck => f.write_str("link: no acknowledgement from the peer"),
            LinkTooManyNaks => f.write_str("link: peer refused the frame too many times (NAK)"),
            LinkTimeout => f.write_str("link: peer went silent"),
            LinkUnexpected { what } => write!(f, "link: unexpected {what}"),
            ConcertLength { len } => write!(f, "concert: unexpected message length {len}"),
            ConcertField { field } => write!(f, "concert: invalid field {field}"),
            ConcertMismatch { field } => {
                write!(f, "concert: answer does not match its request ({field})")
            }
            ConcertSuperseded => {
                f.write_str("concert: answer dropped, the till sent a new request")
            }
            CsobHeader { field } => write!(f, "csob: invalid header {field}"),
            CsobField { field } => write!(f, "csob: invalid field {field}"),
            CsobLengthMismatch { declared, actual } => {
                write!(
                    f,
                    "csob: header declares {declared} data bytes, got {actual}"
                )
            }
            CsobCrcMismatch => f.write_str("csob: CRC field differs from the expected value"),
            CsobUnexpected { what } => write!(f, "csob: unexpected {what}"),
            ZvtApduLength { len } => write!(f, "zvt: APDU data length {len} too long"),
            ZvtCommand { class, instr } => {
                write!(f, "zvt: unknown command {class:02X} {instr:02X}")
            }
            ZvtUnknownBmp { bmp } => write!(f, "zvt: unknown BMP {bmp:02X}"),
            ZvtField { bmp } => write!(f, "zvt: invalid field (BMP {bmp:02X})"),
            ZvtFrame => f.write_str("zvt: malformed serial frame (DLE framing)"),
            ZvtCrc { computed, received } => write!(
                f,
                "zvt: bad CRC (computed {computed:04X}, received {received:04X})"
            ),
            Unsupported { what } => write!(f, "unsupported: {what}"),
            SessionNoRequest => f.write_str("response with no request pending"),
            SessionResponseMismatch { field } => {
                write!(
                    f,
                    "response does not answer the pending request: {}",
                    field.name()
                )
            }
            TlvMalformed => f.write_str("tlv: malformed tag or length"),
            TlvTooDeep => f.write_str("tlv: templates nested too deep"),
            IsoMti => f.write_str("iso8583: invalid message type indicator"),
            IsoMacMissing => f.write_str("iso8583: no message authentication code (field 64/128)"),
            IsoMacMismatch => f.write_str("iso8583: message authentication code does not verify"),
            IsoBitmap => f.write_str("iso8583: invalid bitmap"),
            IsoUnknownField { field } => write!(f, "iso8583: unknown field {field}"),
            IsoField { field } => write!(f, "iso8583: invalid field {field}"),
            IsoMissingField { field } => write!(f, "iso8583: missing field {field}"),
            IsoTruncated { field } => write!(f, "iso8583: message ends inside field {field}"),
            IsoTrailingData { len } => {
                write!(f, "iso8583: {len} bytes after the last field")
            }
            IsoFrameLength { len } => {
                write!(
                    f,
                    "iso8583: length prefix {len} exceeds the message capacity"
                )
            }
            JournalCrc => f.write_str("journal: CRC mismatch (torn or corrupt record)"),
            JournalRecord => f.write_str("journal: record does not decode"),
            JournalEnvelope => f.write_str("journal: bad envelope (magic or length)"),
            JournalFormat {
                found,
                oldest,
                current,
            } => write!(
                f,
                "journal: format {found} was written by {} build (this one reads formats {oldest} to {current})",
                if found > current {
                    "a newer"
                } else {
                    "an older"
                }
            ),
            ReceiptWidth => f.write_str("receipt: width must be 24, 32, 42 or 48"),
            ReceiptWrite => f.write_str("receipt: output refused text"),
        }
    }
}

impl core::error::Error for Error {}

impl From<core::fmt::Error> for Error {
    fn from(_: core::fmt::Error) -> Self {
        Error::ReceiptWrite
    }
}
