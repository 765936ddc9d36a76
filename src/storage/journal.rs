//! The outbox journal: every published record, kept on disk until the broker has acknowledged
//! it, so that a broker outage or a restart loses nothing (at-least-once, `seq` as the key).
//!
//! Records are appended, one line each (`<seq>\t<json>`), to segment files of
//! [`SEGMENT_RECORDS`] records in `<data_dir>/outbox/`, and synced before they are published.
//! Acknowledgements move a watermark (every `seq` at or below it is acknowledged) kept in
//! `outbox/acked`; segments wholly below it are deleted. Disk use is bounded: when the
//! unacknowledged records take more than the configured size, the oldest segments are given up
//! (the records remain in the survey files) and the caller is told which.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::store::sync_dir;
use super::StorageError;

/// Records per segment file.
pub const SEGMENT_RECORDS: usize = 1000;
const WATERMARK_FILE: &str = "acked";

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

fn seq_of(line: &str) -> Option<u64> {
    line.split_once('\t')?.0.parse().ok()
}

impl Journal {
    /// Opens (creating it if needed) the journal in `dir`. A partial last line left by a crash
    /// is cut off.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Journal, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(StorageError::io(&dir))?;
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
            last_seq: acked,
            unacked: 0,
            max_bytes,
            watermark_dirty: false,
        };
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(&dir)
            .map_err(StorageError::io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let first = p.file_stem()?.to_str()?.parse().ok()?;
                (p.extension()? == "jsonl").then_some((first, p))
            })
            .collect();
        names.sort();
        for (first, path) in names {
            let text = fs::read(&path).map_err(StorageError::io(&path))?;
            let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            if complete < text.len() {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(StorageError::io(&path))?;
                f.set_len(complete as u64)
                    .and_then(|()| f.sync_all())
                    .map_err(StorageError::io(&path))?;
            }
            let text = String::from_utf8_lossy(&text[..complete]);
            let seqs: Vec<u64> = text.lines().filter_map(seq_of).collect();
            let last_seq = seqs.iter().copied().max().unwrap_or(first);
            j.unacked += seqs.iter().filter(|s| **s > acked).count() as u64;
            j.last_seq = j.last_seq.max(last_seq);
            j.segments.insert(
                first,
                Segment {
                    path,
                    last_seq,
                    records: seqs.len(),
                    bytes: complete as u64,
                },
            );
        }
        j.drop_acked_segments()?;
        Ok(j)
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

    /// Appends a record and syncs it; returns what had to be given up to stay within the size
    /// limit (usually nothing).
    pub fn append(&mut self, seq: u64, json: &str) -> Result<Vec<GivenUp>, StorageError> {
        if self.unacked == 0 {
            // Records before this one were never in the outbox (or are all acknowledged).
            self.acked = self.acked.max(seq.saturating_sub(1));
            self.acked_above.retain(|s| *s > seq);
        }
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
        f.write_all(line.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(StorageError::io(&seg.path))?;
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
        self.watermark_dirty = true;
        self.drop_acked_segments()
    }

    /// A record that never made it into the journal: counted as acknowledged so the watermark
    /// moves past it.
    pub fn forget(&mut self, seq: u64) {
        if seq > self.acked {
            self.last_seq = self.last_seq.max(seq);
            self.acked_above.insert(seq);
            while self.acked_above.remove(&(self.acked + 1)) {
                self.acked += 1;
            }
            self.watermark_dirty = true;
        }
    }

    /// Deletes segments wholly acknowledged, except the one being appended to.
    fn drop_acked_segments(&mut self) -> Result<(), StorageError> {
        let tail_first = self.segments.keys().next_back().copied();
        let done: Vec<u64> = self
            .segments
            .iter()
            .filter(|(first, s)| s.last_seq <= self.acked && Some(**first) != tail_first)
            .map(|(first, _)| *first)
            .collect();
        for first in done {
            if let Some(seg) = self.segments.remove(&first) {
                fs::remove_file(&seg.path).map_err(StorageError::io(&seg.path))?;
            }
        }
        Ok(())
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
            for line in text.lines() {
                let Some((seq, json)) = line.split_once('\t') else {
                    continue;
                };
                let Ok(seq) = seq.parse::<u64>() else {
                    continue;
                };
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn read_complete(path: &Path) -> Result<String, StorageError> {
    let bytes = fs::read(path).map_err(StorageError::io(path))?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    Ok(String::from_utf8_lossy(&bytes[..complete]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(v: &[(u64, String)]) -> Vec<u64> {
        v.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn unacknowledged_records_survive_a_restart_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1 << 30).unwrap();
        for seq in 41..=45 {
            j.append(seq, &format!("{{\"seq\":{seq}}}")).unwrap();
        }
        assert_eq!(j.depth(), 5);
        j.ack(41).unwrap();
        j.ack(43).unwrap();
        assert_eq!(j.acked(), 41);
        assert_eq!(j.depth(), 3);
        j.save_watermark().unwrap();
        drop(j);
        let j = Journal::open(dir.path(), 1 << 30).unwrap();
        // 43's acknowledgement was not durable: it is sent again (at least once).
        let pending = j.unacked_after(j.acked(), 100).unwrap();
        assert_eq!(seqs(&pending), [42, 43, 44, 45]);
        assert_eq!(pending[0].1, "{\"seq\":42}");
        assert_eq!(j.depth(), 4);
    }

    #[test]
    fn a_partial_line_from_a_crash_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1 << 30).unwrap();
        j.append(1, "{}").unwrap();
        j.append(2, "{}").unwrap();
        drop(j);
        let seg = dir.path().join(format!("{:020}.jsonl", 1));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"3\t{\"half").unwrap();
        drop(f);
        let mut j = Journal::open(dir.path(), 1 << 30).unwrap();
        assert_eq!(j.last_seq(), 2);
        j.append(3, "{}").unwrap();
        assert_eq!(seqs(&j.unacked_after(0, 10).unwrap()), [1, 2, 3]);
    }

    #[test]
    fn acknowledged_segments_are_deleted_and_the_limit_holds() {
        let dir = tempfile::tempdir().unwrap();
        let n = SEGMENT_RECORDS as u64 * 3;
        let mut j = Journal::open(dir.path(), 1 << 30).unwrap();
        for seq in 1..=n {
            j.append(seq, "{}").unwrap();
        }
        let files = || fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files(), 3);
        for seq in 1..=2 * SEGMENT_RECORDS as u64 {
            j.ack(seq).unwrap();
        }
        assert_eq!(files(), 1, "two acknowledged segments deleted");
        assert_eq!(j.depth(), SEGMENT_RECORDS as u64);

        // A small limit gives up the oldest segment, and says which records.
        let dir = tempfile::tempdir().unwrap();
        let line = "x".repeat(100);
        let mut j = Journal::open(dir.path(), 250_000).unwrap();
        let mut given_up = Vec::new();
        for seq in 1..=n {
            given_up.extend(j.append(seq, &line).unwrap());
        }
        assert_eq!(
            given_up,
            [GivenUp {
                first_seq: 1,
                last_seq: SEGMENT_RECORDS as u64
            }]
        );
        assert_eq!(j.acked(), SEGMENT_RECORDS as u64);
        assert_eq!(j.depth(), 2 * SEGMENT_RECORDS as u64);
    }

    #[test]
    fn records_before_the_outbox_existed_are_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 1 << 30).unwrap();
        j.append(501, "{}").unwrap();
        assert_eq!(j.depth(), 1);
        assert_eq!(j.acked(), 500);
        j.ack(501).unwrap();
        assert_eq!(j.depth(), 0);
    }
}
