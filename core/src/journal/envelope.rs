//! The envelope around each record: `MAGIC (2) | length (u16 LE) | postcard payload | CRC-32
//! (u32 LE)`. The CRC covers the length and the payload, so a torn write, a flipped bit or a
//! length that points elsewhere is caught before postcard sees the bytes.
//!
//! ```text
//!  0      2        4                 4+len        8+len
//!  | EC 4A | len LE | payload (len)   | CRC-32 LE |
//! ```
//!
//! A file is a [`super::header`] (format 1 and later) followed by envelopes, or envelopes
//! alone (format 0). The envelope is the same in every format; what the payload means is
//! decided per format ([`decode_record`]).

use super::crc::Crc32;
use super::header::{FileStart, file_start};
use super::record::{Record, RecordRef};
use crate::{Error, Result};

/// The two bytes that open every envelope.
pub const MAGIC: [u8; 2] = [0xEC, 0x4A];
/// Bytes before the payload: magic and length.
pub const HEADER_LEN: usize = 4;
/// Bytes after the payload: the CRC.
pub const TRAILER_LEN: usize = 4;
/// Largest payload a record may have; larger lengths are corrupt by definition.
pub const MAX_PAYLOAD: usize = 4096;
/// A buffer of this many bytes always holds an encoded record.
pub const MAX_ENVELOPE: usize = HEADER_LEN + MAX_PAYLOAD + TRAILER_LEN;

const LEN_RANGE: core::ops::Range<usize> = 2..4;

fn crc_of(len_bytes: &[u8], payload: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(len_bytes);
    c.update(payload);
    c.finish()
}

/// Encodes `record` (a `&`[`Record`] or a [`RecordRef`]) in its envelope at the start of `buf`
/// and returns the length written.
/// A buffer shorter than needed is [`Error::BufferTooSmall`] and is left untouched;
/// [`MAX_ENVELOPE`] bytes are always enough.
pub fn encode<'r>(record: impl Into<RecordRef<'r>>, buf: &mut [u8]) -> Result<usize> {
    let record = record.into();
    let len = postcard::serialize_with_flavor(&record, postcard::ser_flavors::Size::default())
        .map_err(|_| Error::JournalRecord)?;
    if len > MAX_PAYLOAD {
        return Err(Error::CapacityExceeded {
            what: "journal record",
        });
    }
    let total = HEADER_LEN + len + TRAILER_LEN;
    let Some(out) = buf.get_mut(..total) else {
        return Err(Error::BufferTooSmall { needed: total });
    };
    let (header, rest) = out
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(Error::BufferTooSmall { needed: total })?;
    let (payload, trailer) = rest
        .split_at_mut_checked(len)
        .ok_or(Error::BufferTooSmall { needed: total })?;
    let written = postcard::to_slice(&record, payload)
        .map_err(|_| Error::JournalRecord)?
        .len();
    if written != len {
        return Err(Error::JournalRecord);
    }
    let len_bytes = (len as u16).to_le_bytes();
    header.copy_from_slice(&[MAGIC[0], MAGIC[1], len_bytes[0], len_bytes[1]]);
    trailer.copy_from_slice(&crc_of(&len_bytes, payload).to_le_bytes());
    Ok(total)
}

/// Decodes one payload written in format `version`. Formats 0 and 1 encode [`Record`]
/// identically (format 1 only added the file header); a future format that changes a record
/// keeps the previous types here and converts them.
// Out of line: the decoder's temporaries (a record is as large as a checkpoint) are on the
// stack only while it runs, not under whatever reads the journal.
#[inline(never)]
pub fn decode_record(version: u16, payload: &[u8]) -> Result<Record> {
    match version {
        0 | 1 => match postcard::take_from_bytes::<Record>(payload) {
            Ok((record, [])) => Ok(record),
            _ => Err(Error::JournalRecord),
        },
        _ => Err(Error::JournalRecord),
    }
}

/// One record read back, with where its envelope starts in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Offset of the envelope in the input.
    pub offset: usize,
    /// The record.
    pub record: Record,
}

/// How the input ended where it stopped being valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadTail {
    /// Offset of the first byte that is not part of a valid record: the input is good up to
    /// here, and a writer truncates the file to this length before appending.
    pub offset: usize,
    /// Bytes from `offset` to the end of the input.
    pub len: usize,
    /// `true` when the tail is a record cut short (a write interrupted by a crash), `false`
    /// when bytes are present but wrong (corruption).
    pub torn: bool,
    /// What was wrong: [`Error::Truncated`] for a torn record, [`Error::JournalEnvelope`],
    /// [`Error::JournalCrc`] or [`Error::JournalRecord`] for a corrupt one.
    pub error: Error,
}

/// Reads records back from a journal file's bytes. Yields `Ok(Entry)` for each valid record
/// and, if the input does not end exactly after a valid record, one `Err(BadTail)`; then
/// `None`. A torn or corrupt file header is a `BadTail` at offset 0. Never panics, whatever
/// the bytes.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
    version: u16,
    bad_start: Option<(bool, Error)>,
}

impl<'a> Reader<'a> {
    /// A reader over a whole journal file, of any format this build reads (with or without a
    /// header). A file whose header names a format this build does not read is
    /// [`Error::JournalFormat`]: the caller must leave it untouched.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let mut r = Reader {
            data,
            pos: 0,
            done: false,
            version: 0,
            bad_start: None,
        };
        match file_start(data)? {
            FileStart::Format {
                version,
                records_at,
            } => {
                r.version = version;
                r.pos = records_at;
            }
            FileStart::TornHeader => {
                r.bad_start = Some((
                    true,
                    Error::Truncated {
                        what: "journal header",
                    },
                ))
            }
            FileStart::CorruptHeader => r.bad_start = Some((false, Error::JournalCrc)),
        }
        Ok(r)
    }

    /// The file's format version (0: written before files had a header).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Length of the valid prefix read so far.
    pub fn valid_len(&self) -> usize {
        self.pos
    }

    fn bad(&mut self, torn: bool, error: Error) -> Option<Result<Entry, BadTail>> {
        self.done = true;
        Some(Err(BadTail {
            offset: self.pos,
            len: self.data.len().saturating_sub(self.pos),
            torn,
            error,
        }))
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Entry, BadTail>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some((torn, error)) = self.bad_start.take() {
            return self.bad(torn, error);
        }
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let truncated = Error::Truncated {
            what: "journal record",
        };
        // Magic: a short tail that matches the magic so far is torn; anything else is corrupt.
        let magic_seen = rest.len().min(MAGIC.len());
        if rest.get(..magic_seen) != MAGIC.get(..magic_seen) {
            return self.bad(false, Error::JournalEnvelope);
        }
        let Some(len_bytes) = rest.get(LEN_RANGE) else {
            return self.bad(true, truncated);
        };
        let len = usize::from(u16::from_le_bytes([
            len_bytes.first().copied().unwrap_or(0),
            len_bytes.get(1).copied().unwrap_or(0),
        ]));
        if len > MAX_PAYLOAD {
            return self.bad(false, Error::JournalEnvelope);
        }
        let total = HEADER_LEN + len + TRAILER_LEN;
        let Some(envelope) = rest.get(..total) else {
            return self.bad(true, truncated);
        };
        let (payload, crc_bytes) = match envelope
            .get(HEADER_LEN..)
            .and_then(|b| b.split_at_checked(len))
        {
            Some(parts) => parts,
            None => return self.bad(true, truncated),
        };
        let mut stored = [0u8; 4];
        for (dst, src) in stored.iter_mut().zip(crc_bytes) {
            *dst = *src;
        }
        if u32::from_le_bytes(stored) != crc_of(len_bytes, payload) {
            return self.bad(false, Error::JournalCrc);
        }
        let record = match decode_record(self.version, payload) {
            Ok(record) => record,
            Err(e) => return self.bad(false, e),
        };
        let offset = self.pos;
        self.pos += total;
        Some(Ok(Entry { offset, record }))
    }
}
