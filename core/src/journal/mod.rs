//! The journal: the records the agent persists so that no payment is lost or doubled across a
//! crash, in a length + CRC-32 envelope so that a torn or corrupt tail is detected and skipped.
//!
//! - [`record`]: the postcard records ([`Record`]): authorization started, completed,
//!   delivered, reversal queued / acknowledged, trace numbers reserved, batch closed, and a
//!   [`Checkpoint`] that opens each file.
//! - [`header`]: the 14-byte file header (magic + format version + CRC) that opens every file
//!   since format 1, and why the version lives there; files without it are format 0.
//! - [`envelope`]: [`encode`] one record into a caller buffer; [`Reader`] reads a file's bytes
//!   back, yielding records and, at the first bad byte, one [`BadTail`] (torn or corrupt)
//!   with the offset to truncate to; a file in a format this build does not read is refused
//!   up front ([`crate::Error::JournalFormat`]). Never panics.
//! - [`state`]: [`JournalState`] folds records into what a restart needs: batch, next trace
//!   number, totals, last transaction, the reversals still owed to the bank and the totals of
//!   the last closed batch.
//! - [`book`]: the open batch's payments and reservations by receipt number, folded from the
//!   records and carried into each new file as [`Record::Booked`] entries.
//! - [`crc`]: CRC-32 (IEEE), table built at compile time.
//!
//! The writer (the agent) starts each file with [`file_header`], appends `encode`d records and syncs the file before the answer they
//! describe leaves the terminal.

pub mod book;
pub mod crc;
pub mod envelope;
pub mod header;
pub mod record;
pub mod state;

pub use book::{Book, MAX_BOOK, receipt_of};
pub use envelope::{
    BadTail, Entry, MAX_ENVELOPE, MAX_PAYLOAD, Reader, apply_payload, decode_record, encode,
    encode_with,
};
pub use header::{
    FILE_HEADER_LEN, FORMAT_VERSION, OLDEST_READABLE, check_version, file_header, file_start,
};
pub use record::{
    AuthStarted, Checkpoint, ClosedBatch, LastTransaction, MAX_PENDING_REVERSALS, Original,
    PendingReversal, Record, RecordRef, ReversalReason,
};
pub use state::JournalState;

#[cfg(test)]
mod fixture_v0;
#[cfg(test)]
mod tests;
