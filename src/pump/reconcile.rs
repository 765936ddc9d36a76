//! Start-up reconciliation of the outbox with the survey files, so that whatever a crash left
//! on disk is whole again before anything is measured or published:
//! - every record in the outbox has its row in its survey file (a crash between the outbox
//!   write and the survey row leaves the record in the outbox only);
//! - every survey row above the acknowledged watermark is in the outbox, in seq order (rows
//!   written by a version that stored the row first);
//! - no records file ends in half a row, none is left without its header;
//! - the watermark is not ahead of every record (it would silently withhold new ones), and the
//!   sequence number continues after the largest one found anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::storage::file::{append_row, cut_partial_tail};
use crate::storage::journal::{Journal, OpenReport};
use crate::storage::store::{last_seq_in, record_files};
use crate::storage::{
    csv, read_survey, record_from_row, StorageError, Store, CONTACT_COLUMNS, MAX_SEQ,
    SURVEY_COLUMNS, WAVEFORM_COLUMNS,
};
use crate::survey::Record;

/// The outbox's folder in the data directory.
pub const OUTBOX_DIR: &str = "outbox";

/// What the reconciliation found and set right (all zero on a clean start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub journal: OpenReport,
    /// The watermark was ahead of every record: (found, set to).
    pub watermark_reset: Option<(u64, u64)>,
    /// Survey rows written back from the outbox.
    pub rows_restored: usize,
    /// Survey rows put into the outbox.
    pub records_queued: usize,
    /// Files whose partial last row was cut off.
    pub tails_cut: usize,
    /// Empty files given their header.
    pub headers_written: usize,
    /// Rows that could not be read back (named in the log); they stay in their file.
    pub unreadable_rows: Vec<String>,
}

impl Reconciled {
    /// What a person should know, one sentence each (empty on a clean start).
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.journal.set_aside > 0 {
            out.push(format!(
                "{} outbox line(s) were not records and were set aside in {}/{}",
                self.journal.set_aside,
                OUTBOX_DIR,
                crate::storage::journal::SET_ASIDE_FILE
            ));
        }
        if let Some((found, set)) = self.watermark_reset {
            out.push(format!(
                "the outbox's acknowledged mark ({found}) was ahead of every stored record; \
                 set to {set}, so that every record after it is published"
            ));
        }
        if self.rows_restored > 0 {
            out.push(format!(
                "{} survey row(s) missing after a stop were written back from the outbox",
                self.rows_restored
            ));
        }
        if self.records_queued > 0 {
            out.push(format!(
                "{} stored record(s) that were never published were queued for publication",
                self.records_queued
            ));
        }
        out.extend(self.unreadable_rows.iter().cloned());
        out
    }
}

/// The survey a records file belongs to (`None`: lone measurements).
fn survey_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("measurements_")?
        .strip_suffix(".csv")
        .map(str::to_string)
}

/// The seqs of the complete rows of a records file, tolerating rows of the wrong width.
fn seqs_in(path: &Path) -> Result<BTreeSet<u64>, StorageError> {
    let text = match fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(StorageError::io(path)(e)),
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(BTreeSet::new());
    };
    let columns = csv::split(header);
    let Some(col) = columns.iter().position(|c| c == "seq") else {
        return Ok(BTreeSet::new());
    };
    Ok(lines
        .map(csv::split)
        .filter(|f| f.len() == columns.len())
        .filter_map(|f| f.get(col)?.parse::<u64>().ok())
        .filter(|s| *s <= MAX_SEQ)
        .collect())
}

/// Cuts torn last rows and writes the header into empty files, in every CSV file of `dir`.
fn repair_files(dir: &Path, out: &mut Reconciled) -> Result<(), StorageError> {
    let entries = fs::read_dir(dir).map_err(StorageError::io(dir))?;
    for entry in entries {
        let path = entry.map_err(StorageError::io(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(".csv") || !path.is_file() {
            continue;
        }
        if cut_partial_tail(&path)? > 0 {
            out.tails_cut += 1;
        }
        if fs::metadata(&path).map_err(StorageError::io(&path))?.len() == 0 {
            let columns: &[&str] = if name.ends_with("_fw.csv") {
                &WAVEFORM_COLUMNS
            } else if name.ends_with("_rs.csv") {
                &CONTACT_COLUMNS
            } else {
                &SURVEY_COLUMNS
            };
            let header = crate::storage::columns::header(columns);
            fs::write(&path, header).map_err(StorageError::io(&path))?;
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(StorageError::io(&path))?;
            out.headers_written += 1;
        }
    }
    Ok(())
}

/// Opens the outbox of `store` and makes it and the survey files agree (module docs).
pub fn reconcile(store: &mut Store, max_bytes: u64) -> Result<(Journal, Reconciled), StorageError> {
    let dir = store.dir().to_path_buf();
    let mut out = Reconciled::default();
    repair_files(&dir, &mut out)?;
    let (mut journal, report) = Journal::open(dir.join(OUTBOX_DIR), max_bytes)?;
    out.journal = report;
    let known = store.last_seq().max(journal.last_seq());
    if out.journal.created {
        // Records stored before this data directory had an outbox were never promised to a
        // broker (`ohmpi survey` of an older version): publication starts after them.
        journal.set_watermark(store.last_seq())?;
    } else if journal.acked() > known {
        let set = journal.first_held().map_or(known, |f| f.saturating_sub(1));
        out.watermark_reset = Some((journal.acked(), set));
        journal.set_watermark(set)?;
    }

    // The outbox's records → their survey files.
    let unacked = journal.all_unacked()?;
    let mut by_file: BTreeMap<PathBuf, Vec<Record>> = BTreeMap::new();
    for (seq, json) in &unacked {
        match serde_json::from_str::<Record>(json) {
            Ok(r) => by_file
                .entry(store.records_file(r.survey.as_deref()))
                .or_default()
                .push(r),
            Err(e) => out.unreadable_rows.push(format!(
                "outbox record {seq} cannot be read back ({e}); it is published as it is"
            )),
        }
    }
    for (path, records) in &by_file {
        let present = seqs_in(path)?;
        for r in records.iter().filter(|r| !present.contains(&r.seq)) {
            append_row(path, &crate::storage::columns::survey_row(r))?;
            out.rows_restored += 1;
        }
    }

    // Survey rows above the watermark → the outbox.
    let in_journal: BTreeSet<u64> = unacked.iter().map(|(s, _)| *s).collect();
    let mut missing: Vec<(u64, String)> = Vec::new();
    for path in record_files(&dir)? {
        if last_seq_in(&path).is_none_or(|s| s <= journal.acked()) {
            continue;
        }
        let table = match read_survey(&path) {
            Ok(t) => t,
            Err(e) => {
                out.unreadable_rows
                    .push(format!("{e}: its rows are not queued"));
                continue;
            }
        };
        let survey = survey_of(&path);
        for row in &table.rows {
            let Some(seq) = row.get("seq").and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            if seq <= journal.acked() || in_journal.contains(&seq) {
                continue;
            }
            match record_from_row(row, survey.as_deref()) {
                Ok(r) => {
                    let json = serde_json::to_string(&r).map_err(|e| StorageError::Format {
                        path: path.clone(),
                        line: row.line,
                        message: e.to_string(),
                    })?;
                    missing.push((seq, json));
                }
                Err(why) => out.unreadable_rows.push(format!(
                    "{}, line {}: {why}; the row is not queued",
                    path.display(),
                    row.line
                )),
            }
        }
    }
    if !missing.is_empty() {
        out.records_queued = missing.len();
        let mut all = unacked;
        all.extend(missing);
        all.sort_by_key(|(s, _)| *s);
        all.dedup_by_key(|(s, _)| *s);
        let (j, _) = journal.rewrite(&all)?;
        journal = j;
    }
    store.raise_seq(known.max(journal.last_seq()));
    Ok((journal, out))
}

#[cfg(test)]
mod tests;
