//! The journal on disk: append-only files of [`ecrlink_core::journal`] envelopes in one
//! directory, each file opened by the format header ([`file_header`]) and a
//! [`Record::Checkpoint`]. Every append is synced (`fdatasync`) before it returns, so a record
//! the agent acted on survives a crash.
//!
//! On start every file is read in order (each checkpoint replaces the state before it), a
//! torn or corrupt tail is reported, saved next to the file as `*.bad-OFFSET` and cut off,
//! open authorizations become reversals ([`JournalState::recover`]), and a new file starts
//! with the recovered checkpoint; older files are then removed. Closing a batch starts a new
//! file the same way.
//!
//! Formats: files of an older format this build still reads (format 0: no header) are read,
//! carried into a new file of the current format, and kept as `*.log.formatN` instead of being
//! removed. A file in a format this build does not read (a newer agent's, or one too old)
//! stops the start-up with [`Incompatible`] before any file is touched; only
//! [`Journal::open_with`]`(…, true)` (`--journal-reset-incompatible`) moves such files aside as
//! `*.log.incompatible-vN` and starts without them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ecrlink_core::journal::{
    BadTail, Book, Checkpoint, FORMAT_VERSION, JournalState, MAX_ENVELOPE, Reader, Record, encode,
    file_header,
};
use ecrlink_core::terminal::{DayLine, DayTotals};

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
    /// Files read in an older format (carried into the current one; kept as `*.formatN`).
    pub migrated: Vec<(PathBuf, u16)>,
    /// Files in a format this build does not read, moved aside (`--journal-reset-incompatible`):
    /// where they are now, and their format.
    pub set_aside: Vec<(PathBuf, u16)>,
}

/// A journal file this build cannot read: the start-up stops and the file is left as it is.
#[derive(Debug, thiserror::Error)]
#[error(
    "journal format {found} was written by {who}: {path} (this agent reads formats {oldest} to \
     {current}). Nothing was changed: the file may hold reversals still owed to the bank, the \
     trace counter and the last transaction. {advice}",
    who = if self.found > self.current { "a newer agent" } else { "an older agent whose format this one no longer reads" },
    path = self.path.display(),
    advice = if self.found > self.current {
        "Run the agent version that wrote it, or start with --journal-reset-incompatible to move it aside and start an empty journal (what it holds is then not carried over)."
    } else {
        "Run an older agent on it first (to send its reversals and close the batch), or start with --journal-reset-incompatible to move it aside and start an empty journal (what it holds is then not carried over)."
    }
)]
pub struct Incompatible {
    /// The file.
    pub path: PathBuf,
    /// Its format version.
    pub found: u16,
    /// Oldest format this build reads.
    pub oldest: u16,
    /// The format this build writes.
    pub current: u16,
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
    /// Files of an older format read at start-up: kept (renamed) rather than removed once the
    /// new file holds their state.
    migrated: Vec<(u64, u16)>,
    /// What the business day approved (the per-day limits), from every record read and
    /// written; carried over a compaction in [`DAY_FILE`].
    day: DayTotals,
}

/// The file that carries today's sums ([`DayTotals`], UTC dates) over a compaction: the files
/// it covers (`upto N`: those numbered N or less), the date and one line per currency. Records
/// of later files are folded on top of it at start. Written only on a day with approvals.
pub const DAY_FILE: &str = "day-totals";

fn read_day_file(dir: &Path) -> (u64, DayTotals) {
    let mut day = DayTotals::new();
    let Ok(text) = fs::read_to_string(dir.join(DAY_FILE)) else {
        return (0, day);
    };
    let mut upto = 0;
    let mut date = None;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["upto", n] => upto = n.parse().unwrap_or(0),
            ["date", d] => {
                let p: Vec<&str> = d.split('-').collect();
                if let [y, m, dd] = p.as_slice() {
                    date = y.parse().ok().zip(m.parse().ok()).zip(dd.parse().ok());
                }
            }
            ["line", c, sale, cb, refund] => {
                let n = |t: &str| t.parse::<u64>().unwrap_or(0);
                if let (Some(((y, m), d)), Ok(currency)) = (date, c.parse::<u16>()) {
                    day.add(
                        (y, m, d),
                        DayLine {
                            currency,
                            sale: n(sale),
                            cashback: n(cb),
                            refund: n(refund),
                        },
                    );
                }
            }
            _ => {}
        }
    }
    (upto, day)
}

fn write_day_file(dir: &Path, upto: u64, day: &DayTotals) -> std::io::Result<()> {
    let mut text = format!("upto {upto}\n");
    if let Some((y, m, d)) = day.date() {
        text.push_str(&format!("date {y:04}-{m:02}-{d:02}\n"));
        for l in day.lines() {
            text.push_str(&format!(
                "line {} {} {} {}\n",
                l.currency, l.sale, l.cashback, l.refund
            ));
        }
    }
    let tmp = dir.join(format!("{DAY_FILE}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(DAY_FILE))?;
    File::open(dir)?.sync_all()
}

/// Whether `record` is the final answer of an approved sale, cash-back sale or refund (where
/// the `journal-write-after-approval` test fault strikes, [`crate::crash::FAULTS`]).
fn approved_payment_answer(record: &Record) -> bool {
    use ecrlink_core::txn::RequestKind;
    matches!(
        record,
        Record::Completed { response, .. }
            if response.outcome.is_approved()
                && matches!(
                    response.kind,
                    RequestKind::Sale | RequestKind::SaleWithCashback | RequestKind::Refund
                )
    )
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
    /// memory only. A file in a format this build does not read is an [`Incompatible`] error
    /// (inside the `anyhow::Error`) and nothing is changed.
    pub fn open(dir: Option<&Path>) -> anyhow::Result<(Self, RecoveryReport)> {
        Self::open_with(dir, false)
    }

    /// [`Journal::open`]; with `reset_incompatible`, files in a format this build does not
    /// read are moved aside (`*.incompatible-vN`, reported) instead of stopping the start.
    pub fn open_with(
        dir: Option<&Path>,
        reset_incompatible: bool,
    ) -> anyhow::Result<(Self, RecoveryReport)> {
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
                migrated: Vec::new(),
                day: DayTotals::new(),
            };
            return Ok((j, report));
        };
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut seqs: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| parse_seq(&e.file_name().to_string_lossy()))
            .collect();
        seqs.sort_unstable();
        // Every file's format is checked before any file is changed.
        let mut files = Vec::with_capacity(seqs.len());
        for &seq in &seqs {
            let path = dir.join(file_name(seq));
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            match ecrlink_core::journal::file_start(&bytes) {
                Err(ecrlink_core::Error::JournalFormat {
                    found,
                    oldest,
                    current,
                }) => {
                    if !reset_incompatible {
                        return Err(Incompatible {
                            path,
                            found,
                            oldest,
                            current,
                        }
                        .into());
                    }
                    files.push((seq, path, bytes, Some(found)));
                }
                _ => files.push((seq, path, bytes, None)),
            }
        }
        let mut migrated = Vec::new();
        let (day_upto, mut day) = read_day_file(dir);
        for (seq, path, bytes, incompatible) in files {
            if let Some(found) = incompatible {
                let aside = dir.join(format!("{}.incompatible-v{found}", file_name(seq)));
                fs::rename(&path, &aside)
                    .with_context(|| format!("moving {} aside", path.display()))?;
                File::open(dir)?.sync_all()?;
                tracing::warn!(
                    file = %path.display(),
                    moved_to = %aside.display(),
                    format = found,
                    "journal: file in a format this agent does not read moved aside (--journal-reset-incompatible); its state is not carried over"
                );
                report.set_aside.push((aside, found));
                continue;
            }
            report.files += 1;
            let mut reader =
                Reader::new(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if reader.version() < FORMAT_VERSION && !bytes.is_empty() {
                tracing::info!(file = %path.display(), format = reader.version(), current = FORMAT_VERSION, "journal: reading a file of an older format");
                report.migrated.push((path.clone(), reader.version()));
                migrated.push((seq, reader.version()));
            }
            for entry in reader.by_ref() {
                match entry {
                    Ok(e) => {
                        report.records += 1;
                        if seq > day_upto {
                            day.fold(&e.record);
                        }
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
        // The open batch's book goes into the new file after its checkpoint.
        let book = state.book.clone();
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
            migrated,
            day,
        };
        j.start_file(checkpoint, &book)?;
        Ok((j, report))
    }

    /// Starts a new file holding `checkpoint` and the entries of `book` of its batch (one
    /// [`Record::Booked`] each), then removes the older files.
    fn start_file(&mut self, checkpoint: Checkpoint, book: &Book) -> anyhow::Result<()> {
        self.state = JournalState::new();
        let batch = checkpoint.batch;
        let record = Record::Checkpoint(checkpoint);
        let _ = self.state.apply(&record);
        let booked: Vec<Record> = book
            .entries()
            .iter()
            .filter(|e| e.batch == batch)
            .map(|e| Record::Booked(e.clone()))
            .collect();
        for r in &booked {
            let _ = self.state.apply(r);
        }
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
        let header = file_header();
        let n = encode(&record, &mut self.buf).map_err(|e| anyhow::anyhow!("journal: {e}"))?;
        // Header, checkpoint and book in one write: a file is never left with a header alone.
        let mut first = Vec::with_capacity(header.len() + n);
        first.extend_from_slice(&header);
        first.extend_from_slice(&self.buf[..n]);
        for r in &booked {
            let n = encode(r, &mut self.buf).map_err(|e| anyhow::anyhow!("journal: {e}"))?;
            first.extend_from_slice(&self.buf[..n]);
        }
        file.write_all(&first)?;
        file.sync_all()?;
        File::open(&dir)?.sync_all()?;
        // Today's sums so far cover every older file, which are removed next. Best effort: a
        // failure loses the per-day sums of a later restart, never the journal.
        let now = crate::clock::timestamp();
        if self.day.date() == Some((now.year, now.month, now.day)) {
            if let Err(e) = write_day_file(&dir, self.seq - 1, &self.day) {
                tracing::warn!(error = %e, "journal: the day's sums (per-day limits) not saved");
            }
        }
        self.file = Some(file);
        self.len = first.len() as u64;
        let migrated = std::mem::take(&mut self.migrated);
        for e in fs::read_dir(&dir)?.filter_map(|e| e.ok()) {
            if let Some(seq) = parse_seq(&e.file_name().to_string_lossy()) {
                if seq < self.seq {
                    // A file of an older format is kept, renamed, in case its reading was
                    // wrong; the others are the previous files of this format.
                    match migrated.iter().find(|(s, _)| *s == seq) {
                        Some((_, v)) => {
                            let kept = dir.join(format!("{}.format{v}", file_name(seq)));
                            let _ = fs::rename(e.path(), kept);
                        }
                        None => {
                            let _ = fs::remove_file(e.path());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// What the business day has approved so far (sales, cash back, refunds per currency),
    /// folded from every record this journal holds or held: the per-day limits' sums after a
    /// restart.
    pub fn day_totals(&self) -> &DayTotals {
        &self.day
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
        if approved_payment_answer(record) && crate::crash::fault("journal-write-after-approval") {
            // Test hook (e2e binaries only): the write fails, nothing is written.
            return Err(AppendError::Io(std::io::Error::other(
                "injected fault journal-write-after-approval",
            )));
        }
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
        self.day.fold(record);
        if let Record::BatchClosed { .. } = record {
            let cp = self.state.checkpoint.clone();
            let book = self.state.book.clone();
            self.start_file(cp, &book).map_err(AppendError::Rotate)?;
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
    use ecrlink_core::journal::{AuthStarted, FILE_HEADER_LEN};
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

    /// An approved sale of `minor` EUR completed now (today, UTC).
    fn sold_today(stan: u32, minor: u64) -> Record {
        let mut response = Response::new(RequestKind::Sale, Outcome::Approved);
        response.amount = Some(Money::new(minor, Currency::EUR).unwrap());
        response.timestamp = Some(crate::clock::timestamp());
        Record::Completed { stan, response }
    }

    #[test]
    fn the_days_sums_survive_restarts_and_compactions() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::clock::timestamp();
        let eur = Currency::EUR.numeric();
        {
            let (mut j, _) = Journal::open(Some(dir.path())).unwrap();
            j.append(&sold_today(0, 1_000)).unwrap();
            j.append(&sold_today(0, 250)).unwrap();
            assert_eq!(j.day_totals().used(now, eur).sale, 1_250);
        }
        // Each open compacts the files into one checkpoint: the sums must not go with them.
        for round in 0..3u64 {
            let (mut j, _) = Journal::open(Some(dir.path())).unwrap();
            assert_eq!(
                j.day_totals().used(now, eur).sale,
                1_250 + round * 5,
                "after restart {round}"
            );
            j.append(&sold_today(0, 5)).unwrap();
        }
        // A batch close rotates the file: still carried.
        {
            let (mut j, _) = Journal::open(Some(dir.path())).unwrap();
            j.append(&Record::BatchClosed {
                batch: 1,
                totals: Totals::default(),
            })
            .unwrap();
            j.append(&sold_today(0, 1)).unwrap();
        }
        let (j, _) = Journal::open(Some(dir.path())).unwrap();
        assert_eq!(j.day_totals().used(now, eur).sale, 1_266);
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
        let mut reader = Reader::new(&bytes).unwrap();
        assert_eq!(reader.version(), FORMAT_VERSION);
        assert_eq!(reader.by_ref().filter(|e| e.is_ok()).count(), 2);
        assert_eq!(reader.valid_len(), bytes.len());
    }

    const V0: &[u8] = include_bytes!("../../core/src/journal/fixtures/journal-v0.log");

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_format_0_file_is_carried_into_the_current_format_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal-00000007.log"), V0).unwrap();
        let (j, report) = Journal::open(Some(dir.path())).unwrap();
        assert!(report.bad_tails.is_empty(), "{:?}", report.bad_tails);
        assert_eq!(report.migrated.len(), 1);
        assert_eq!(report.migrated[0].1, 0);
        assert_eq!(report.reversed_open, 1);
        let cp = j.checkpoint().clone();
        assert_eq!((cp.batch, cp.next_stan), (3, 101));
        let owed: Vec<u32> = cp.pending.iter().map(|p| p.original.stan).collect();
        assert_eq!(owed, [1, 3]);
        assert_eq!(cp.last.as_ref().unwrap().stan, 3);
        assert_eq!(
            names(dir.path()),
            ["journal-00000007.log.format0", "journal-00000008.log"]
        );
        assert_eq!(
            std::fs::read(dir.path().join("journal-00000007.log.format0")).unwrap(),
            V0,
            "the old file is kept as it was"
        );
        let new = std::fs::read(j.path().unwrap()).unwrap();
        assert_eq!(&new[..FILE_HEADER_LEN], &file_header());
        drop(j);
        // The next start reads the new file only, and finds the same state.
        let (j, report) = Journal::open(Some(dir.path())).unwrap();
        assert!(report.migrated.is_empty());
        assert_eq!(report.files, 1);
        assert_eq!(j.checkpoint(), &cp);
    }

    fn newer_file() -> Vec<u8> {
        let mut bytes = ecrlink_core::journal::header::file_header_for(FORMAT_VERSION + 1).to_vec();
        bytes.extend_from_slice(&[0xEC, 0x4A, 0x01, 0x00, 0x07, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn a_newer_format_stops_the_start_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal-00000001.log"), V0).unwrap();
        std::fs::write(dir.path().join("journal-00000002.log"), newer_file()).unwrap();
        let err = Journal::open(Some(dir.path())).err().expect("refused");
        let inc = err.downcast_ref::<Incompatible>().expect("typed");
        assert_eq!(
            (inc.found, inc.current),
            (FORMAT_VERSION + 1, FORMAT_VERSION)
        );
        assert!(inc.path.ends_with("journal-00000002.log"));
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!(
                "journal format {} was written by a newer agent",
                FORMAT_VERSION + 1
            )),
            "{text}"
        );
        assert!(text.contains("--journal-reset-incompatible"), "{text}");
        // Nothing touched: not the newer file, not the older one before it.
        assert_eq!(
            names(dir.path()),
            ["journal-00000001.log", "journal-00000002.log"]
        );
        assert_eq!(
            std::fs::read(dir.path().join("journal-00000001.log")).unwrap(),
            V0
        );
        assert_eq!(
            std::fs::read(dir.path().join("journal-00000002.log")).unwrap(),
            newer_file()
        );
    }

    #[test]
    fn reset_incompatible_moves_the_file_aside_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal-00000004.log"), newer_file()).unwrap();
        let (j, report) = Journal::open_with(Some(dir.path()), true).unwrap();
        assert_eq!(report.set_aside.len(), 1);
        let (aside, found) = &report.set_aside[0];
        assert_eq!(*found, FORMAT_VERSION + 1);
        assert_eq!(std::fs::read(aside).unwrap(), newer_file());
        assert_eq!(j.checkpoint(), &Checkpoint::default(), "an empty journal");
        assert_eq!(
            names(dir.path()),
            [
                format!("journal-00000004.log.incompatible-v{}", FORMAT_VERSION + 1),
                "journal-00000005.log".to_string()
            ]
        );
    }
}
