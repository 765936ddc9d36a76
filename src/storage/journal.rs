//! The outbox journal: every record, kept on disk until the broker has acknowledged it, so that
//! a broker outage or a restart loses nothing (at-least-once, `seq` as the key).
//!
//! Records are appended, one line each (`<seq>\t<json>`), to segment files of
//! [`SEGMENT_RECORDS`] records in `<data_dir>/outbox/`, and synced before anyone sees them.
//! Acknowledgements move a watermark (every `seq` at or below it is acknowledged) kept in
//! `outbox/acked`; segments wholly below it are deleted. The watermark only ever moves over
//! acknowledged records (or records given up, below). Disk use is bounded: when the
//! unacknowledged records take more than the configured size, the oldest segments are given up
//! (the records remain in the survey files) and the caller is told which.
//!
//! What is read back is checked: a line that is not `<seq>\t<the record's JSON>` with that
//! seq is set aside in `outbox/set-aside.txt` and reported, never published.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::file::sync_dir;
use super::{StorageError, MAX_SEQ};

/// Records per segment file.
pub const SEGMENT_RECORDS: usize = 1000;
const WATERMARK_FILE: &str = "acked";
/// Where lines that fail the check on opening are kept, for a person to look at.
pub const SET_ASIDE_FILE: &str = "set-aside.txt";

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    last_seq: u64,
    records: usize,
    bytes: u64,
}

/// Records given up because the outbox was over its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GivenUp {
    pub first_seq: u64,
    pub last_seq: u64,
}

/// What opening the journal found wrong and set right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Whether the outbox did not exist yet (a data directory's first daemon).
    pub created: bool,
    /// Lines that were not a record (set aside in [`SET_ASIDE_FILE`]).
    pub set_aside: usize,
    /// Bytes of a partial last line cut off (a record being written at a crash).
    pub cut: u64,
}

/// The durable outbox.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    /// Segments by their first sequence number.
    segments: BTreeMap<u64, Segment>,
    tail: Option<File>,
    /// Every seq at or below is acknowledged.
    acked: u64,
    /// Acknowledged seqs above the watermark (acknowledgements out of order).
    acked_above: BTreeSet<u64>,
    last_seq: u64,
    /// Records appended and not acknowledged.
    unacked: u64,
    max_bytes: u64,
    watermark_dirty: bool,
}

/// The seq and JSON of a journal line, if it is one: `<seq>\t<JSON object whose "seq" is seq>`.
fn parse_line(line: &str) -> Option<(u64, &str)> {
    let (seq, json) = line.split_once('\t')?;
    let seq: u64 = seq.parse().ok()?;
    if seq == 0 || seq > MAX_SEQ {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    let inner: Seq = serde_json::from_str(json).ok()?;
    (inner.seq == seq).then_some((seq, json))
}

/// `outbox.new` and `outbox.old` beside `dir`, used while the journal is rewritten.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Finishes or undoes a rewrite ([`Journal::rewrite`]) that a crash interrupted.
fn recover_rewrite(dir: &Path) -> Result<(), StorageError> {
    let new = sibling(dir, ".new");
    let old = sibling(dir, ".old");
    if !dir.exists() && new.exists() {
        fs::rename(&new, dir).map_err(StorageError::io(dir))?;
    }
    for leftover in [new, old] {
        if leftover.exists() {
            fs::remove_dir_all(&leftover).map_err(StorageError::io(&leftover))?;
        }
    }
    Ok(())
}

impl Journal {
    /// Opens (creating it if needed) the journal in `dir`. A partial last line left by a crash
    /// is cut off; lines that are not records are set aside; a rewrite cut short is finished
    /// or undone.
    pub fn open(
        dir: impl Into<PathBuf>,
        max_bytes: u64,
    ) -> Result<(Journal, OpenReport), StorageError> {
        let dir = dir.into();
        let mut report = OpenReport::default();
        recover_rewrite(&dir)?;
        if !dir.exists() {
            report.created = true;
            fs::create_dir_all(&dir).map_err(StorageError::io(&dir))?;
        }
        let acked = fs::read_to_string(dir.join(WATERMARK_FILE))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut j = Journal {
            dir: dir.clone(),
            segments: BTreeMap::new(),
            tail: None,
            acked,
            acked_above: BTreeSet::new(),
            last_seq: 0,
            unacked: 0,
            max_bytes,
            watermark_dirty: false,
        };
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(&dir)
            .map_err(StorageError::io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let first = p.file_stem()?.to_str()?.parse().ok()?;
                (p.extension()? == "jsonl" && p.is_file()).then_some((first, p))
            })
            .collect();
        names.sort();
        for (first, path) in names {
            let bytes = fs::read(&path).map_err(StorageError::io(&path))?;
            let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let partial = (bytes.len() - complete) as u64;
            report.cut += partial;
            let text = String::from_utf8_lossy(&bytes[..complete]);
            let mut good = String::with_capacity(text.len());
            let mut bad = String::new();
            let mut seqs = Vec::new();
            for line in text.lines() {
                match parse_line(line) {
                    Some((seq, _)) => {
                        seqs.push(seq);
                        good.push_str(line);
                        good.push('\n');
                    }
                    None if line.is_empty() => {}
                    None => {
                        bad.push_str(line);
                        bad.push('\n');
                        report.set_aside += 1;
                    }
                }
            }
            if !bad.is_empty() {
                let aside = dir.join(SET_ASIDE_FILE);
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&aside)
                    .map_err(StorageError::io(&aside))?;
                writeln!(f, "# from {}", path.display())
                    .and_then(|()| f.write_all(bad.as_bytes()))
                    .and_then(|()| f.sync_all())
                    .map_err(StorageError::io(&aside))?;
            }
            if !bad.is_empty() || partial > 0 {
                write_synced(&path, good.as_bytes())?;
            }
            let last_seq = seqs.iter().copied().max().unwrap_or(first);
            j.unacked += seqs.iter().filter(|s| **s > acked).count() as u64;
            j.last_seq = j.last_seq.max(last_seq);
            j.segments.insert(
                first,
                Segment {
                    path,
                    last_seq,
                    records: seqs.len(),
                    bytes: good.len() as u64,
                },
            );
        }
        j.drop_acked_segments()?;
        Ok((j, report))
    }

    /// Every seq at or below this is acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The last seq appended.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Records waiting for an acknowledgement.
    pub fn depth(&self) -> u64 {
        self.unacked
    }

    /// The first seq still held in a segment (acknowledged or not).
    pub fn first_held(&self) -> Option<u64> {
        self.segments.keys().next().copied()
    }

    /// Sets the watermark (start-up only: a new outbox in a directory with older records, or a
    /// watermark found ahead of every record). It is never raised over a held unacknowledged
    /// record.
    pub fn set_watermark(&mut self, acked: u64) -> Result<(), StorageError> {
        let mut target = acked;
        if target > self.acked {
            if let Some((first, _)) = self.unacked_after(self.acked, 1)?.first() {
                target = target.min(first - 1);
            }
        }
        self.acked = target;
        self.acked_above.clear();
        self.unacked = self.count_unacked()?;
        self.watermark_dirty = true;
        self.save_watermark()
    }

    fn count_unacked(&self) -> Result<u64, StorageError> {
        let mut n = 0;
        for seg in self.segments.values().filter(|s| s.last_seq > self.acked) {
            n += read_complete(&seg.path)?
                .lines()
                .filter_map(parse_line)
                .filter(|(seq, _)| *seq > self.acked)
                .count() as u64;
        }
        Ok(n)
    }

    /// Appends a record and syncs it; returns what had to be given up to stay within the size
    /// limit (usually nothing). Records are appended in seq order.
    pub fn append(&mut self, seq: u64, json: &str) -> Result<Vec<GivenUp>, StorageError> {
        let full = self
            .segments
            .values()
            .next_back()
            .is_none_or(|s| s.records >= SEGMENT_RECORDS);
        if self.tail.is_none() || full {
            let path = self.dir.join(format!("{seq:020}.jsonl"));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(StorageError::io(&path))?;
            sync_dir(&self.dir)?;
            self.segments.insert(
                seq,
                Segment {
                    path,
                    last_seq: seq,
                    records: 0,
                    bytes: 0,
                },
            );
            self.tail = Some(f);
        }
        let line = format!("{seq}\t{json}\n");
        let seg = self
            .segments
            .values_mut()
            .next_back()
            .expect("a tail segment");
        let f = self.tail.as_mut().expect("an open tail");
        if let Err(e) = f.write_all(line.as_bytes()).and_then(|()| f.sync_data()) {
            // A short write (disk full) may have left part of the line: cut it off, so that the
            // next append starts a line of its own.
            let _ = f.set_len(seg.bytes);
            return Err(StorageError::io(&seg.path)(e));
        }
        seg.last_seq = seq;
        seg.records += 1;
        seg.bytes += line.len() as u64;
        self.last_seq = self.last_seq.max(seq);
        self.unacked += 1;
        self.enforce_limit()
    }

    fn enforce_limit(&mut self) -> Result<Vec<GivenUp>, StorageError> {
        let mut given_up = Vec::new();
        while self.segments.len() > 1
            && self.segments.values().map(|s| s.bytes).sum::<u64>() > self.max_bytes
        {
            let Some((first, seg)) = self.segments.pop_first() else {
                break;
            };
            fs::remove_file(&seg.path).map_err(StorageError::io(&seg.path))?;
            let dropped = (first..=seg.last_seq)
                .filter(|s| *s > self.acked && !self.acked_above.contains(s))
                .count() as u64;
            self.unacked = self.unacked.saturating_sub(dropped.min(seg.records as u64));
            given_up.push(GivenUp {
                first_seq: first.max(self.acked + 1),
                last_seq: seg.last_seq,
            });
            self.acked = self.acked.max(seg.last_seq);
            self.acked_above.retain(|s| *s > seg.last_seq);
            self.watermark_dirty = true;
        }
        Ok(given_up)
    }

    /// Notes that the broker acknowledged `seq`.
    pub fn ack(&mut self, seq: u64) -> Result<(), StorageError> {
        if seq <= self.acked || seq > self.last_seq || !self.acked_above.insert(seq) {
            return Ok(());
        }
        self.unacked = self.unacked.saturating_sub(1);
        while self.acked_above.remove(&(self.acked + 1)) {
            self.acked += 1;
        }
        // Seqs the journal never held (none in normal operation) do not hold the watermark.
        if self.unacked == 0 && self.acked_above.is_empty() {
            self.acked = self.acked.max(self.last_seq);
        }
        self.watermark_dirty = true;
        self.drop_acked_segments()
    }

    /// Deletes segments wholly acknowledged, except the one being appended to. The watermark is
    /// saved first: a record is never gone from the outbox while the saved watermark is below it.
    fn drop_acked_segments(&mut self) -> Result<(), StorageError> {
        let tail_first = self.segments.keys().next_back().copied();
        let done: Vec<u64> = self
            .segments
            .iter()
            .filter(|(first, s)| s.last_seq <= self.acked && Some(**first) != tail_first)
            .map(|(first, _)| *first)
            .collect();
        if !done.is_empty() {
            self.save_watermark()?;
        }
        for first in done {
            if let Some(seg) = self.segments.remove(&first) {
                fs::remove_file(&seg.path).map_err(StorageError::io(&seg.path))?;
            }
        }
        Ok(())
    }

    /// Whether the watermark moved since it was last saved.
    pub fn watermark_dirty(&self) -> bool {
        self.watermark_dirty
    }

    /// Saves the watermark if it moved (not synced: losing it only means sending again).
    pub fn save_watermark(&mut self) -> Result<(), StorageError> {
        if !self.watermark_dirty {
            return Ok(());
        }
        let tmp = self.dir.join("acked.tmp");
        let path = self.dir.join(WATERMARK_FILE);
        fs::write(&tmp, format!("{}\n", self.acked)).map_err(StorageError::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(StorageError::io(&path))?;
        self.watermark_dirty = false;
        Ok(())
    }

    /// Up to `limit` unacknowledged records after `after`, in order.
    pub fn unacked_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StorageError> {
        let mut out = Vec::new();
        for seg in self.segments.values().filter(|s| s.last_seq > after) {
            let text = read_complete(&seg.path)?;
            for (seq, json) in text.lines().filter_map(parse_line) {
                if seq > after && seq > self.acked && !self.acked_above.contains(&seq) {
                    out.push((seq, json.to_string()));
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every unacknowledged record, in order (start-up reconciliation).
    pub fn all_unacked(&self) -> Result<Vec<(u64, String)>, StorageError> {
        self.unacked_after(self.acked, usize::MAX)
    }

    /// Rewrites the journal to hold exactly `records` (sorted by seq, no duplicates) above the
    /// watermark: how records missing from it are put in their place at start-up. The new
    /// journal is written beside the old and swapped in; a crash at any point leaves one whole
    /// journal, the old or the new ([`Journal::open`] finishes or undoes the swap).
    pub fn rewrite(self, records: &[(u64, String)]) -> Result<(Journal, OpenReport), StorageError> {
        let dir = self.dir.clone();
        let (acked, max_bytes) = (self.acked, self.max_bytes);
        drop(self);
        let new = sibling(&dir, ".new");
        let old = sibling(&dir, ".old");
        if new.exists() {
            fs::remove_dir_all(&new).map_err(StorageError::io(&new))?;
        }
        fs::create_dir_all(&new).map_err(StorageError::io(&new))?;
        for chunk in records.chunks(SEGMENT_RECORDS) {
            let path = new.join(format!("{:020}.jsonl", chunk[0].0));
            let mut text = String::new();
            for (seq, json) in chunk {
                text.push_str(&format!("{seq}\t{json}\n"));
            }
            write_synced(&path, text.as_bytes())?;
        }
        write_synced(&new.join(WATERMARK_FILE), format!("{acked}\n").as_bytes())?;
        let aside = dir.join(SET_ASIDE_FILE);
        if aside.exists() {
            fs::copy(&aside, new.join(SET_ASIDE_FILE)).map_err(StorageError::io(&aside))?;
        }
        sync_dir(&new)?;
        fs::rename(&dir, &old).map_err(StorageError::io(&dir))?;
        fs::rename(&new, &dir).map_err(StorageError::io(&new))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        fs::remove_dir_all(&old).map_err(StorageError::io(&old))?;
        Journal::open(dir, max_bytes)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Writes a whole file and syncs it (replacing it through a temporary file).
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut f = File::create(&tmp).map_err(StorageError::io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(StorageError::io(&tmp))?;
    fs::rename(&tmp, path).map_err(StorageError::io(path))
}

fn read_complete(path: &Path) -> Result<String, StorageError> {
    let bytes = fs::read(path).map_err(StorageError::io(path))?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    Ok(String::from_utf8_lossy(&bytes[..complete]).into_owned())
}

#[cfg(test)]
mod tests;
