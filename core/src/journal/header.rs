//! The journal file header and format versions.
//!
//! Since format 1 every journal file opens with a 14-byte header; the records follow in the
//! envelope of [`super::envelope`], unchanged:
//!
//! ```text
//!  0                         8          10              14
//!  | 89 45 43 52 4A 4E 4C 0A | version LE | CRC-32 LE    | envelope | envelope | …
//!  |  "\x89ECRJNL\n"         |            | of bytes 0..10|
//! ```
//!
//! **Why a file header and not a version in each envelope.** The version is a property of
//! the writer, and a writer owns a whole file: the agent never appends to a file it did not
//! create, it starts a new one (opened by a [`super::Checkpoint`]) at every start and every
//! batch close. So one file never mixes versions, and one header says it for every record at
//! no cost per record. The envelope stays byte-for-byte what it was, so files written before
//! the header existed are read by the same envelope code as **format 0**: a file whose first
//! byte is the envelope magic (`EC`) has no header and is version 0. The header magic starts
//! with `0x89`, which no version 0 file can start with.
//!
//! The header layout (magic, `u16` version, CRC-32 of both) is frozen for every future
//! version, so any build can tell a newer file (valid header, unknown version: refused, never
//! touched) from a damaged one (bad CRC or a short header: reported as a bad tail at offset
//! 0, like any other corruption).
//!
//! **Changing the format.** Any change to how a [`super::Record`] encodes (a field added to
//! `Checkpoint`, a variant reordered…) bumps [`FORMAT_VERSION`]. The reader then either keeps a
//! decoder for the previous version (move the old types to a `vN` module, convert them in
//! [`super::envelope`]'s per-version decode) or raises [`OLDEST_READABLE`], and the agent refuses
//! such files with [`crate::Error::JournalFormat`] instead of losing them. The committed fixture
//! `fixtures/journal-v0.log` fails the tests if a change breaks format 0 silently.

use super::crc::Crc32;
use crate::{Error, Result};

/// The bytes that open a journal file of format 1 or later.
pub const FILE_MAGIC: [u8; 8] = *b"\x89ECRJNL\n";
/// Length of the file header.
pub const FILE_HEADER_LEN: usize = 14;
/// The format this build writes.
pub const FORMAT_VERSION: u16 = 1;
/// The oldest format this build reads (0: files without a header, written before 1 existed).
pub const OLDEST_READABLE: u16 = 0;

fn header_crc(magic_and_version: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(magic_and_version);
    c.finish()
}

/// The header of a file written in `version`.
pub fn file_header_for(version: u16) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    let v = version.to_le_bytes();
    let (head, crc) = h.split_at_mut(10);
    let (magic, ver) = head.split_at_mut(FILE_MAGIC.len());
    magic.copy_from_slice(&FILE_MAGIC);
    ver.copy_from_slice(&v);
    let sum = header_crc(head);
    crc.copy_from_slice(&sum.to_le_bytes());
    h
}

/// The header a writer puts at the start of every new file ([`FORMAT_VERSION`]).
pub fn file_header() -> [u8; FILE_HEADER_LEN] {
    file_header_for(FORMAT_VERSION)
}

/// Whether this build reads `found`: `Ok` for [`OLDEST_READABLE`]`..=`[`FORMAT_VERSION`],
/// otherwise [`Error::JournalFormat`].
pub fn check_version(found: u16) -> Result<u16> {
    check_version_in(found, OLDEST_READABLE, FORMAT_VERSION)
}

/// [`check_version`] against a given range (tests of a build that dropped old formats).
pub fn check_version_in(found: u16, oldest: u16, current: u16) -> Result<u16> {
    if (oldest..=current).contains(&found) {
        Ok(found)
    } else {
        Err(Error::JournalFormat {
            found,
            oldest,
            current,
        })
    }
}

/// What the start of a file says about its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStart {
    /// Records start at `records_at`, in format `version` (0: no header).
    Format {
        /// Format version.
        version: u16,
        /// Offset of the first envelope.
        records_at: usize,
    },
    /// A header cut short (a crash while the file was created).
    TornHeader,
    /// A full header whose CRC does not match.
    CorruptHeader,
}

/// Reads the start of a file. An empty file is format [`FORMAT_VERSION`] with no records.
/// A valid header of a format this build does not read is [`Error::JournalFormat`].
pub fn file_start(data: &[u8]) -> Result<FileStart> {
    let Some(&first) = data.first() else {
        return Ok(FileStart::Format {
            version: FORMAT_VERSION,
            records_at: 0,
        });
    };
    if first != FILE_MAGIC[0] {
        // No header: format 0 (the envelope reader judges the bytes).
        return Ok(FileStart::Format {
            version: 0,
            records_at: 0,
        });
    }
    let seen = data.len().min(FILE_MAGIC.len());
    if data.get(..seen) != FILE_MAGIC.get(..seen) {
        return Ok(FileStart::CorruptHeader);
    }
    let Some(header) = data.get(..FILE_HEADER_LEN) else {
        return Ok(FileStart::TornHeader);
    };
    let Some((head, crc)) = header.split_at_checked(10) else {
        return Ok(FileStart::TornHeader);
    };
    let mut stored = [0u8; 4];
    for (d, s) in stored.iter_mut().zip(crc) {
        *d = *s;
    }
    if u32::from_le_bytes(stored) != header_crc(head) {
        return Ok(FileStart::CorruptHeader);
    }
    let version = u16::from_le_bytes([
        head.get(8).copied().unwrap_or(0),
        head.get(9).copied().unwrap_or(0),
    ]);
    check_version(version)?;
    Ok(FileStart::Format {
        version,
        records_at: FILE_HEADER_LEN,
    })
}
