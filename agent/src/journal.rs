//! The journal on disk: append-only files of [`ecrlink_core::journal`] envelopes in one
//! directory, each file opened by a [`Record::Checkpoint`]. Every append is synced
//! (`fdatasync`) before it returns, so a record the agent acted on survives a crash.
//!
//! On start every file is read in order (each checkpoint replaces the state before it), a
//! torn or corrupt tail is reported, saved next to the file as `*.bad-OFFSET` and cut off,
//! open authorizations become reversals ([`JournalState::recover`]), and a new file starts
//! with the recovered checkpoint; older files are then removed. Closing a batch starts a new
//! file the same way.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ecrlink_core::journal::{
    BadTail, Checkpoint, JournalState, MAX_ENVELOPE, Reader, Record, encode,
};

/// What the start-up recovery found.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    /// Journal files read.
    pub files: usize,
    /// Records read.
    pub records: usize,
    /// Torn or corrupt tails found (and cut off).
    pub bad_tails: Vec<(PathBuf, BadTail)>,
    /// Authorizations that had no final answer and are now queued for reversal.
    pub reversed_open: usize,
}

/// The agent's journal.
pub struct Journal {
    dir: Option<PathBuf>,
    file: Option<File>,
    seq: u64,
    state: JournalState,
    buf: Vec<u8>,
    /// Bytes in the file being appended to.
    len: u64,
    /// Largest size of that file ([`Journal::set_max_bytes`]).
    max_bytes: Option<u64>,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The record would take the journal past its size limit: nothing was written.
    #[error("journal full ({len} of {max} bytes used)")]
    Full {
        /// Bytes used.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// Writing or syncing failed; the file was cut back to its last whole record.
    #[error("journal write failed: {0}")]
    Io(#[from] std::io::Error),
    /// The record does not encode.
    #[error("journal record: {0}")]
    Encode(ecrlink_core::Error),
    /// Starting the next file (after a batch close) failed.
    #[error("journal rotation: {0:#}")]
    Rotate(anyhow::Error),
}

fn file_name(seq: u64) -> String {
    format!("journal-{seq:08}.log")
}

fn parse_seq(name: &str) -> Option<u64> {
    name.strip_prefix("journal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

impl Journal {
    /// Opens (and recovers) the journal in `dir`, creating it if needed; `None` keeps it in
    /// memory only.
    pub fn open(dir: Option<&Path>) -> anyhow::Result<(Self, RecoveryReport)> {
        let mut report = RecoveryReport::default();
        let mut state = JournalState::new();
        let Some(dir) = dir else {
            let j = Journal {
                dir: None,
                file: None,
                seq: 0,
                state,
                buf: vec![0; MAX_ENVELOPE],
                len: 0,
                max_bytes: None,
            };
            return Ok((j, report));
        };
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut seqs: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| parse_seq(&e.file_name().to_string_lossy()))
            .collect();
        seqs.sort_unstable();
        for &seq in &seqs {
            let path = dir.join(file_name(seq));
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            report.files += 1;
            let mut reader = Reader::new(&bytes);
            for entry in reader.by_ref() {
                match entry {
                    Ok(e) => {
                        report.records += 1;
                        if let Err(err) = state.apply(&e.record) {
                            tracing::error!(file = %path.display(), offset = e.offset, %err, "journal record could not be applied in full");
                        }
                    }
                    Err(tail) => {
                        tracing::warn!(
                            file = %path.display(),
                            offset = tail.offset,
                            len = tail.len,
                            torn = tail.torn,
                            error = %tail.error,
                            "journal: {} tail skipped",
                            if tail.torn { "torn" } else { "corrupt" }
                        );
                        let bad = dir.join(format!("{}.bad-{}", file_name(seq), tail.offset));
                        let tail_bytes = bytes.get(tail.offset..).unwrap_or(&[]);
                        fs::write(&bad, tail_bytes)
                            .with_context(|| format!("saving {}", bad.display()))?;
                        let f = OpenOptions::new().write(true).open(&path)?;
                        f.set_len(tail.offset as u64)?;
                        f.sync_all()?;
                        report.bad_tails.push((path.clone(), tail));
                    }
                }
            }
        }
        report.reversed_open = state.open.len();
        let checkpoint = state
            .recover()
            .map_err(|e| anyhow::anyhow!("journal: {e}"))?;
        let mut j = Journal {
            dir: Some(dir.to_path_buf()),
            file: None,
            seq: seqs.last().copied().unwrap_or(0),
            state: JournalState::new(),
            buf: vec![0; MAX_ENVELOPE],
            len: 0,
            max_bytes: None,
        };
        j.start_file(checkpoint)?;
        Ok((j, report))
    }

    /// Starts a new file holding `checkpoint`, then removes the older files.
    fn start_file(&mut self, checkpoint: Checkpoint) -> anyhow::Result<()> {
        self.state = JournalState::new();
        let record = Record::Checkpoint(checkpoint);
        let _ = self.state.apply(&record);
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        self.seq += 1;
        let path = dir.join(file_name(self.seq));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let n = encode(&record, &mut self.buf).map_err(|e| anyhow::anyhow!("journal: {e}"))?;
        file.write_all(&self.buf[..n])?;
        file.sync_all()?;
        File::open(&dir)?.sync_all()?;
        self.file = Some(file);
        self.len = n as u64;
        for e in fs::read_dir(&dir)?.filter_map(|e| e.ok()) {
            if let Some(seq) = parse_seq(&e.file_name().to_string_lossy()) {
                if seq < self.seq {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Limits the size of the journal file (a small disk, or a test of a full one): an append
    /// that would pass `max` is refused with [`AppendError::Full`] and writes nothing. `None`:
    /// no limit but the disk's.
    pub fn set_max_bytes(&mut self, max: Option<u64>) {
        self.max_bytes = max;
    }

    /// Whether `bytes` more fit under the size limit.
    pub fn has_room(&self, bytes: usize) -> bool {
        self.max_bytes
            .is_none_or(|max| self.len.saturating_add(bytes as u64) <= max)
    }

    /// Appends `record`, synced to disk before returning, and applies it to the state. On any
    /// error nothing of the record stays in the file (a partial write is cut off again) and
    /// the state is unchanged.
    pub fn append(&mut self, record: &Record) -> Result<(), AppendError> {
        if let Some(file) = self.file.as_mut() {
            let n = encode(record, &mut self.buf).map_err(AppendError::Encode)?;
            if let Some(max) = self.max_bytes {
                if self.len + n as u64 > max {
                    return Err(AppendError::Full { len: self.len, max });
                }
            }
            let written = file
                .write_all(&self.buf[..n])
                .and_then(|()| file.sync_data());
            if let Err(e) = written {
                // Nothing half-written: cut the file back to its last whole record.
                let _ = file.set_len(self.len);
                let _ = file.sync_data();
                use std::io::Seek;
                let _ = file.seek(std::io::SeekFrom::Start(self.len));
                return Err(AppendError::Io(e));
            }
            self.len += n as u64;
        }
        if let Err(e) = self.state.apply(record) {
            tracing::error!(error = %e, "journal state capacity");
        }
        if let Record::BatchClosed { .. } = record {
            let cp = self.state.checkpoint.clone();
            self.start_file(cp).map_err(AppendError::Rotate)?;
        }
        Ok(())
    }

    /// The current state: batch, trace counter, totals, last transaction, pending reversals.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.state.checkpoint
    }

    /// The full state, open authorizations included.
    pub fn state(&self) -> &JournalState {
        &self.state
    }

    /// The file being appended to, if on disk.
    pub fn path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(file_name(self.seq)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecrlink_core::journal::AuthStarted;
    use ecrlink_core::txn::{Currency, Money, Outcome, RequestKind, Response, Timestamp, Totals};

    fn auth(stan: u32) -> Record {
        Record::AuthStarted(AuthStarted {
            batch: 1,
            stan,
            kind: RequestKind::Sale,
            amount: Some(Money::new(100, Currency::EUR).unwrap()),
            cashback: None,
            pan: None,
            scheme: None,
            reference: None,
            transmitted: Timestamp::new(2026, 1, 2, 3, 4, 5).unwrap(),
            original: None,
        })
    }

    fn done(stan: u32) -> Record {
        Record::Completed {
            stan,
            response: Response::new(RequestKind::Sale, Outcome::Approved),
        }
    }

    #[test]
    fn reopen_recovers_state_and_compacts_into_one_file() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, _) = Journal::open(Some(dir.path())).unwrap();
            j.append(&Record::StanReserved {
                batch: 1,
                upto: 101,
            })
            .unwrap();
            j.append(&auth(1)).unwrap();
            j.append(&done(1)).unwrap();
            j.append(&auth(2)).unwrap(); // no answer: reversed on recovery
        }
        let (j, report) = Journal::open(Some(dir.path())).unwrap();
        assert_eq!(report.reversed_open, 1);
        assert!(report.bad_tails.is_empty());
        let cp = j.checkpoint();
        assert_eq!(cp.next_stan, 101);
        assert_eq!(cp.pending.len(), 1);
        assert_eq!(cp.pending[0].original.stan, 2);
        assert_eq!(cp.totals.currencies[0].debit_count, 1);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(
            files.len(),
            1,
            "older files are removed after the checkpoint"
        );
    }

    #[test]
    fn torn_tail_is_cut_saved_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = {
            let (mut j, _) = Journal::open(Some(dir.path())).unwrap();
            j.append(&auth(1)).unwrap();
            j.append(&done(1)).unwrap();
            j.path().unwrap()
        };
        let good_len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[0xEC, 0x4A, 0x10])
            .unwrap();
        let (j, report) = Journal::open(Some(dir.path())).unwrap();
        assert_eq!(report.bad_tails.len(), 1);
        assert!(report.bad_tails[0].1.torn);
        assert_eq!(report.bad_tails[0].1.offset as u64, good_len);
        assert_eq!(report.reversed_open, 0);
        assert_eq!(
            j.checkpoint().last.as_ref().unwrap().response.outcome,
            Outcome::Approved
        );
        let saved = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains(".bad-"));
        assert!(saved);
    }

    #[test]
    fn batch_close_starts_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(Some(dir.path())).unwrap();
        let first = j.path().unwrap();
        j.append(&auth(1)).unwrap();
        j.append(&done(1)).unwrap();
        j.append(&Record::BatchClosed {
            batch: 1,
            totals: Totals::default(),
        })
        .unwrap();
        assert_ne!(j.path().unwrap(), first);
        assert!(!first.exists());
        assert_eq!(j.checkpoint().batch, 2);
        assert_eq!(j.checkpoint().next_stan, 1);
        drop(j);
        let (j, _) = Journal::open(Some(dir.path())).unwrap();
        assert_eq!(j.checkpoint().batch, 2);
        assert!(j.checkpoint().last.is_some());
    }

    #[test]
    fn a_full_journal_refuses_the_record_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(Some(dir.path())).unwrap();
        let path = j.path().unwrap();
        let start = std::fs::metadata(&path).unwrap().len();
        let mut buf = vec![0; MAX_ENVELOPE];
        let n = encode(&auth(1), &mut buf).unwrap() as u64;
        // Room for one record, one byte short of the second.
        j.set_max_bytes(Some(start + 2 * n - 1));
        assert!(j.has_room(n as usize) && !j.has_room(2 * n as usize));
        j.append(&auth(1))
            .unwrap_or_else(|e| panic!("first record fits: {e}"));
        let used = std::fs::metadata(&path).unwrap().len();
        let before = j.state().clone();
        let err = j.append(&auth(2)).unwrap_err();
        assert!(matches!(err, AppendError::Full { .. }), "{err}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            used,
            "nothing written"
        );
        assert_eq!(j.state(), &before, "state unchanged");
        // What is on disk reads back whole: no torn tail.
        let bytes = std::fs::read(&path).unwrap();
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.by_ref().filter(|e| e.is_ok()).count(), 2);
        assert_eq!(reader.valid_len(), bytes.len());
    }
}
