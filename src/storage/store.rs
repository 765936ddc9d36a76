//! The data directory: survey files and the record sequence number.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::survey_file::SurveyWriter;
use super::StorageError;
use crate::timestamp::Utc;

/// Name of the file that remembers the last sequence number handed out.
const SEQ_FILE: &str = ".seq";
/// Records of lone measurements (not part of any survey), same columns as a survey file.
pub const SINGLE_FILE: &str = "single_measurements.csv";
/// Bytes read from the end of a survey file to find its last sequence number.
const TAIL_BYTES: u64 = 16 * 1024;

/// The data directory of one instrument.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    /// The last sequence number handed out (0: none yet).
    last_seq: u64,
}

/// Whether `name` is a survey's measurements file (not its waveform or contact file).
fn is_survey_file(name: &str) -> bool {
    name.starts_with("measurements_")
        && name.ends_with(".csv")
        && !name.ends_with("_fw.csv")
        && !name.ends_with("_rs.csv")
}

/// Syncs a directory so that a file created in it survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io(dir))
}

/// The `seq` of the last complete row of a survey file.
fn last_seq_in(path: &Path) -> Option<u64> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    // The cut may fall inside a multi-byte character: decode leniently.
    let tail = String::from_utf8_lossy(&bytes);
    let complete = &tail[..tail.rfind('\n')?];
    let seq_col = super::SURVEY_COLUMNS.iter().position(|c| *c == "seq")?;
    complete
        .lines()
        .rev()
        .filter_map(|line| super::csv::split(line).get(seq_col)?.parse().ok())
        .next()
}

impl Store {
    /// Opens (creating it if needed) the data directory and recovers the sequence number: the
    /// largest of the remembered one and the last row of every survey file.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(StorageError::io(&dir))?;
        let remembered = fs::read_to_string(dir.join(SEQ_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let mut last_seq = remembered;
        for entry in fs::read_dir(&dir).map_err(StorageError::io(&dir))? {
            let path = entry.map_err(StorageError::io(&dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if is_survey_file(name) || name == SINGLE_FILE {
                if let Some(seq) = last_seq_in(&path) {
                    last_seq = last_seq.max(seq);
                }
            }
        }
        Ok(Store { dir, last_seq })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The next sequence number (not yet durable: it becomes so with the row that carries it,
    /// or with [`Store::remember_seq`]).
    pub fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Appends a record of a lone measurement to [`SINGLE_FILE`] and syncs it.
    pub fn append_single(&mut self, record: &crate::survey::Record) -> Result<(), StorageError> {
        let path = self.dir.join(SINGLE_FILE);
        let mut f = match OpenOptions::new().append(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let f = create_with_header(&path, &super::columns::header(&super::SURVEY_COLUMNS))?;
                sync_dir(&self.dir)?;
                f
            }
            Err(e) => return Err(StorageError::io(&path)(e)),
        };
        f.write_all(super::columns::survey_row(record).as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(StorageError::io(&path))
    }

    /// Makes the last sequence number durable by itself (for records stored in no survey file).
    pub fn remember_seq(&self) -> Result<(), StorageError> {
        let path = self.dir.join(SEQ_FILE);
        let tmp = self.dir.join(".seq.tmp");
        let mut f = File::create(&tmp).map_err(StorageError::io(&tmp))?;
        writeln!(f, "{}", self.last_seq)
            .and_then(|()| f.sync_all())
            .map_err(StorageError::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(StorageError::io(&path))?;
        sync_dir(&self.dir)
    }

    /// Starts a survey named after `time` (UTC): `measurements_<YYYYmmddTHHMMSS>.csv`, with a
    /// suffix when a survey of the same second exists.
    pub fn begin_survey(&mut self, time: SystemTime) -> Result<SurveyWriter, StorageError> {
        let stamp = Utc::from_system_time(time).compact();
        let mut id = stamp.clone();
        let mut n = 1;
        while self.dir.join(format!("measurements_{id}.csv")).exists()
            || self.dir.join(format!("measurements_{id}_rs.csv")).exists()
        {
            n += 1;
            id = format!("{stamp}_{n}");
        }
        SurveyWriter::create(&self.dir, id)
    }

    /// Survey files in the directory, oldest name first.
    pub fn surveys(&self) -> Result<Vec<PathBuf>, StorageError> {
        let mut out: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(StorageError::io(&self.dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_survey_file(p.file_name().and_then(|n| n.to_str()).unwrap_or("")))
            .collect();
        out.sort();
        Ok(out)
    }
}

/// Opens `path` for appending, creating it with `header` if new.
pub(crate) fn create_with_header(path: &Path, header: &str) -> Result<File, StorageError> {
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(StorageError::io(path))?;
    f.write_all(header.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(StorageError::io(path))?;
    Ok(f)
}
