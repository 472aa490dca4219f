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

use serde::Deserialize;

use super::book;
use super::crc::Crc32;
use super::header::{FileStart, file_start};
use super::record::{AuthStarted, Checkpoint, LastTransaction, PendingReversal, Record, RecordRef};
use super::state::JournalState;
use crate::txn::{Outcome, RequestKind, Response, Timestamp, Totals};
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
    let room = buf.len();
    let mut at = 0;
    encode_with(record, room, |bytes| {
        let end = at + bytes.len();
        let out = buf
            .get_mut(at..end)
            .ok_or(Error::BufferTooSmall { needed: end })?;
        out.copy_from_slice(bytes);
        at = end;
        Ok(())
    })
}

/// Encodes `record` in its envelope and hands the bytes, in order, to `write`, as they are
/// made; returns the envelope's length. Nothing is buffered: a firmware programs the record
/// straight into its flash, without a [`MAX_ENVELOPE`]-byte buffer for the largest record.
///
/// An envelope longer than `room` bytes is [`Error::BufferTooSmall`] before `write` is
/// called; an error from `write` stops the encoding and is returned (the bytes written until
/// then are a torn record, which [`Reader`] reports as such). The bytes are those of
/// [`encode`], which is this over a buffer.
pub fn encode_with<'r>(
    record: impl Into<RecordRef<'r>>,
    room: usize,
    mut write: impl FnMut(&[u8]) -> Result<()>,
) -> Result<usize> {
    let record = record.into();
    let len = postcard::serialize_with_flavor(&record, postcard::ser_flavors::Size::default())
        .map_err(|_| Error::JournalRecord)?;
    if len > MAX_PAYLOAD {
        return Err(Error::CapacityExceeded {
            what: "journal record",
        });
    }
    let total = HEADER_LEN + len + TRAILER_LEN;
    if total > room {
        return Err(Error::BufferTooSmall { needed: total });
    }
    let len_bytes = (len as u16).to_le_bytes();
    write(&[MAGIC[0], MAGIC[1], len_bytes[0], len_bytes[1]])?;
    let mut stream = Stream {
        write: &mut write,
        crc: Crc32::new(),
        len: 0,
        failed: None,
    };
    stream.crc.update(&len_bytes);
    let serialized = postcard::serialize_with_flavor(&record, &mut stream);
    let Stream {
        crc,
        len: written,
        failed,
        ..
    } = stream;
    if let Some(e) = failed {
        return Err(e);
    }
    if serialized.is_err() || written != len {
        return Err(Error::JournalRecord);
    }
    write(&crc.finish().to_le_bytes())?;
    Ok(total)
}

/// The postcard output of [`encode_with`]: each byte to the caller's `write` and into the
/// CRC; the first error from `write` is kept (postcard's own error cannot carry it).
struct Stream<'w, W> {
    write: &'w mut W,
    crc: Crc32,
    len: usize,
    failed: Option<Error>,
}

impl<W: FnMut(&[u8]) -> Result<()>> postcard::ser_flavors::Flavor for &mut Stream<'_, W> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        if self.failed.is_some() {
            return Err(postcard::Error::SerializeBufferFull);
        }
        match (self.write)(bytes) {
            Ok(()) => {
                self.crc.update(bytes);
                self.len += bytes.len();
                Ok(())
            }
            Err(e) => {
                self.failed = Some(e);
                Err(postcard::Error::SerializeBufferFull)
            }
        }
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes one payload written in format `version`. Formats 0 and 1 encode [`Record`]
/// identically (format 1 only added the file header); a future format that changes a record
/// keeps the previous types here and converts them.
// Out of line: the decoder's temporaries (a record is as large as a checkpoint) are on the
// stack only while it runs, not under whatever reads the journal.
#[inline(never)]
pub fn decode_record(version: u16, payload: &[u8]) -> Result<Record> {
    if !records_of(version) {
        return Err(Error::JournalRecord);
    }
    take_all::<Record>(payload)
}

/// Whether payloads of format `version` are [`Record`]s as this build declares them (formats
/// 0 and 1: the same encoding).
const fn records_of(version: u16) -> bool {
    matches!(version, 0 | 1)
}

/// `T` decoded from the whole of `bytes` (bytes left over are an error, as for a record).
fn take_all<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        _ => Err(Error::JournalRecord),
    }
}

/// Folds one payload written in format `version` into `state`: what
/// `state.apply(&decode_record(version, payload)?)` does, without a [`Record`] on the stack.
///
/// A [`Record`] is as large as its largest variant, a [`Checkpoint`] (about 2 KiB), and
/// postcard builds it by value through several layers; decoding one took 10 KiB of stack on
/// the firmware, at boot, while the journal is read. Here only the variant the payload holds
/// is decoded (postcard writes an enum as its variant index, a varint, then the variant's
/// fields in order, exactly as a tuple of them), each in a function of its own, and a
/// checkpoint is decoded straight into `state`'s.
///
/// The outer error is [`Error::JournalRecord`], the payload does not decode (as
/// [`decode_record`] says), and `state` is unchanged; the inner result is what
/// [`JournalState::apply`] reports.
#[inline(never)]
pub fn apply_payload(version: u16, payload: &[u8], state: &mut JournalState) -> Result<Result<()>> {
    if !records_of(version) {
        return Err(Error::JournalRecord);
    }
    let Ok((variant, rest)) = postcard::take_from_bytes::<u32>(payload) else {
        return Err(Error::JournalRecord);
    };
    // The variants in the order `Record` declares them (postcard's variant index).
    match variant {
        0 => {
            decode_checkpoint(rest, &mut state.checkpoint)?;
            state.checkpoint_replaced();
            Ok(Ok(()))
        }
        1 => apply_decoded(rest, state, |s, &(batch, upto): &(u32, u32)| {
            s.apply(RecordRef::StanReserved { batch, upto })
        }),
        2 => apply_decoded(rest, state, |s, a: &AuthStarted| {
            s.apply(RecordRef::AuthStarted(a))
        }),
        3 => apply_decoded(rest, state, |s, (stan, response): &(u32, Response)| {
            s.apply(RecordRef::Completed {
                stan: *stan,
                response,
            })
        }),
        // A struct variant of one field is that field alone.
        4 => apply_decoded(rest, state, |s, &stan: &u32| {
            s.apply(RecordRef::Delivered { stan })
        }),
        5 => apply_decoded(rest, state, |s, p: &PendingReversal| {
            s.apply(RecordRef::ReversalQueued(p))
        }),
        6 => apply_decoded(rest, state, |s, &(batch, original_stan): &(u32, u32)| {
            s.apply(RecordRef::ReversalAcked {
                batch,
                original_stan,
            })
        }),
        7 => apply_decoded(rest, state, |s, (batch, totals): &(u32, Totals)| {
            s.apply(RecordRef::BatchClosed {
                batch: *batch,
                totals,
            })
        }),
        8 => apply_decoded(rest, state, |s, e: &book::Entry| {
            s.apply(RecordRef::Booked(e))
        }),
        _ => Err(Error::JournalRecord),
    }
}

/// Decodes a checkpoint from the whole of `bytes` into `place`, which changes only when it
/// decodes.
///
/// Field by field, never a whole checkpoint on the stack: postcard's derived decoder built
/// one by value through nested layers, a 10 KiB frame on the firmware. It reads the fields
/// twice: first each must decode (and is dropped at once), then each is decoded into its
/// place; so a payload that does not decode leaves `place` as it was.
#[inline(never)]
fn decode_checkpoint(bytes: &[u8], place: &mut Checkpoint) -> Result<()> {
    checkpoint_fields(bytes, None)?;
    checkpoint_fields(bytes, Some(place))
}

/// One pass of [`decode_checkpoint`]: every field of the checkpoint in `bytes`, in the order
/// [`Checkpoint`] declares them (postcard writes a struct as its fields in order), each into
/// its place in `place` when there is one.
fn checkpoint_fields(bytes: &[u8], mut place: Option<&mut Checkpoint>) -> Result<()> {
    // A field added to `Checkpoint` fails to compile here: add it below, in its place.
    let _all_fields = |c: &Checkpoint| {
        let Checkpoint {
            batch: _,
            next_stan: _,
            totals: _,
            last: _,
            pending: _,
            last_close: _,
        } = c;
    };
    let mut de = postcard::Deserializer::from_bytes(bytes);
    field(&mut de, place.as_deref_mut().map(|c| &mut c.batch))?;
    field(&mut de, place.as_deref_mut().map(|c| &mut c.next_stan))?;
    field(&mut de, place.as_deref_mut().map(|c| &mut c.totals))?;
    last_transaction(&mut de, place.as_deref_mut().map(|c| &mut c.last))?;
    field(&mut de, place.as_deref_mut().map(|c| &mut c.pending))?;
    field(&mut de, place.map(|c| &mut c.last_close))?;
    match de.finalize() {
        Ok([]) => Ok(()),
        _ => Err(Error::JournalRecord),
    }
}

/// Decodes a checkpoint's `last` from `de` into `place` (or only checks that it decodes),
/// field by field as [`checkpoint_fields`] does (its answer alone is 816 bytes; postcard's
/// derived decoder took 6.6 KiB of stack for it). Postcard writes an `Option` as a byte, 0
/// for `None` and 1 for `Some` followed by the value; a struct as its fields in order.
#[inline(never)]
fn last_transaction<'de>(
    de: &mut postcard::Deserializer<'de, postcard::de_flavors::Slice<'de>>,
    place: Option<&mut Option<LastTransaction>>,
) -> Result<()> {
    // A field added to `LastTransaction` fails to compile here: add it below, in its place.
    let _all_fields = |l: &LastTransaction| {
        let LastTransaction {
            stan: _,
            batch: _,
            response: _,
            delivered: _,
            transmitted: _,
        } = l;
    };
    let some = match u8::deserialize(&mut *de) {
        Ok(0) => false,
        Ok(1) => true,
        _ => return Err(Error::JournalRecord),
    };
    let mut last = match place {
        Some(slot) if some => Some(slot.get_or_insert(EMPTY_LAST)),
        Some(slot) => {
            *slot = None;
            return Ok(());
        }
        None if some => None,
        None => return Ok(()),
    };
    field(de, last.as_deref_mut().map(|l| &mut l.stan))?;
    field(de, last.as_deref_mut().map(|l| &mut l.batch))?;
    field(de, last.as_deref_mut().map(|l| &mut l.response))?;
    field(de, last.as_deref_mut().map(|l| &mut l.delivered))?;
    field(de, last.map(|l| &mut l.transmitted))
}

/// What a checkpoint's `last` is before [`last_transaction`] decodes into it, when it was
/// `None`: every field is overwritten.
const EMPTY_LAST: LastTransaction = LastTransaction {
    stan: 0,
    batch: 0,
    response: Response::new(RequestKind::Sale, Outcome::Cancelled),
    delivered: false,
    transmitted: Timestamp::MILLENNIUM,
};

/// Decodes the next `T` from `de` into `place` (or only checks that it decodes). Out of
/// line, one copy per field type: only one field's temporaries are on the stack at a time.
#[inline(never)]
fn field<'de, T: Deserialize<'de>>(
    de: &mut postcard::Deserializer<'de, postcard::de_flavors::Slice<'de>>,
    place: Option<&mut T>,
) -> Result<()> {
    let value = T::deserialize(de).map_err(|_| Error::JournalRecord)?;
    if let Some(place) = place {
        *place = value;
    }
    Ok(())
}

/// Decodes a `T` from the whole of `bytes` and applies it to `state` with `apply`. Out of
/// line, one copy per variant: only the decoded variant's temporaries are on the stack.
#[inline(never)]
fn apply_decoded<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    state: &mut JournalState,
    apply: impl FnOnce(&mut JournalState, &T) -> Result<()>,
) -> Result<Result<()>> {
    let value = take_all::<T>(bytes)?;
    Ok(apply(state, &value))
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

    fn bad<T>(&mut self, torn: bool, error: Error) -> Option<Result<T, BadTail>> {
        self.done = true;
        Some(Err(BadTail {
            offset: self.pos,
            len: self.data.len().saturating_sub(self.pos),
            torn,
            error,
        }))
    }
}

impl Reader<'_> {
    /// The next record as [`Iterator::next`] reads it, but decoded by `decode` (given the
    /// file's format version and the payload, whose envelope and CRC are checked): `Ok` with
    /// the envelope's offset and what `decode` returned, or, where the input stops being
    /// valid, one `Err(BadTail)` (an error from `decode` is a corrupt tail with that error);
    /// then `None`. With [`apply_payload`], a firmware folds its journal back without a
    /// [`Record`] on the stack.
    pub fn next_with<T>(
        &mut self,
        decode: impl FnOnce(u16, &[u8]) -> Result<T>,
    ) -> Option<Result<(usize, T), BadTail>> {
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
        let decoded = match decode(self.version, payload) {
            Ok(decoded) => decoded,
            Err(e) => return self.bad(false, e),
        };
        let offset = self.pos;
        self.pos += total;
        Some(Ok((offset, decoded)))
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Entry, BadTail>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_with(decode_record)
            .map(|read| read.map(|(offset, record)| Entry { offset, record }))
    }
}
