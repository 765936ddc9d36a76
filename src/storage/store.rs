//! The data directory: survey files, the record sequence number, and the lock that makes one
//! process its only writer.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::file::{append_row, sync_dir};
use super::survey_file::SurveyWriter;
use super::{StorageError, MAX_SEQ};
use crate::timestamp::Utc;

/// Name of the file that remembers the last sequence number handed out.
const SEQ_FILE: &str = ".seq";
/// The lock file: held (flock) by the process writing the directory, which writes its pid in it.
const LOCK_FILE: &str = ".lock";
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
    /// Held for as long as the store is open (the kernel releases it when the process dies).
    _lock: File,
}

/// Whether `name` is a survey's measurements file (not its waveform or contact file).
pub(crate) fn is_survey_file(name: &str) -> bool {
    name.starts_with("measurements_")
        && name.ends_with(".csv")
        && !name.ends_with("_fw.csv")
        && !name.ends_with("_rs.csv")
}

/// Whether `name` holds records: a survey's measurements file or [`SINGLE_FILE`].
pub(crate) fn holds_records(name: &str) -> bool {
    is_survey_file(name) || name == SINGLE_FILE
}

/// The `seq` of the last complete row of a survey file (numbers beyond [`MAX_SEQ`] are not
/// sequence numbers the instrument gave, and are passed over).
pub(crate) fn last_seq_in(path: &Path) -> Option<u64> {
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
        .filter_map(|line| super::csv::split(line).get(seq_col)?.parse::<u64>().ok())
        .find(|seq| *seq <= MAX_SEQ)
}

/// Takes the directory's lock, or says which process holds it.
fn lock(dir: &Path) -> Result<File, StorageError> {
    let path = dir.join(LOCK_FILE);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(StorageError::io(&path))?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared with the kernel.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            return Err(StorageError::Locked {
                path: dir.to_path_buf(),
                holder: text.trim().parse().ok(),
            });
        }
        return Err(StorageError::io(&path)(err));
    }
    f.set_len(0)
        .and_then(|()| f.seek(SeekFrom::Start(0)).map(|_| ()))
        .and_then(|()| writeln!(f, "{}", std::process::id()))
        .map_err(StorageError::io(&path))?;
    Ok(f)
}

impl Store {
    /// Opens (creating it if needed) the data directory, takes its lock (a second process on the
    /// same directory is refused, naming the first), and recovers the sequence number: the
    /// largest of the remembered one and the last row of every file holding records.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(StorageError::io(&dir))?;
        let lock = lock(&dir)?;
        let remembered = fs::read_to_string(dir.join(SEQ_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|s| *s <= MAX_SEQ)
            .unwrap_or(0);
        let mut last_seq = remembered;
        for path in record_files(&dir)? {
            if let Some(seq) = last_seq_in(&path) {
                last_seq = last_seq.max(seq);
            }
        }
        Ok(Store {
            dir,
            last_seq,
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The next sequence number, not yet used up: [`Store::raise_seq`] does that once the
    /// record that carries it is durable. Never goes backwards and never wraps.
    pub fn peek_next_seq(&self) -> Result<u64, StorageError> {
        if self.last_seq >= MAX_SEQ {
            return Err(StorageError::SeqExhausted {
                path: self.dir.clone(),
                last: self.last_seq,
            });
        }
        Ok(self.last_seq + 1)
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Raises the sequence number to at least `seq` (a record made durable, or a number known
    /// from the outbox).
    pub fn raise_seq(&mut self, seq: u64) {
        self.last_seq = self.last_seq.max(seq.min(MAX_SEQ));
    }

    /// Appends a record of a lone measurement to [`SINGLE_FILE`] and syncs it.
    pub fn append_single(&mut self, record: &crate::survey::Record) -> Result<(), StorageError> {
        let path = self.dir.join(SINGLE_FILE);
        append_row(&path, &super::columns::survey_row(record))
    }

    /// Makes the last sequence number durable by itself.
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

    /// The file that holds the records of `survey` (`None`: lone measurements).
    pub fn records_file(&self, survey: Option<&str>) -> PathBuf {
        match survey {
            Some(id) => self.dir.join(format!("measurements_{id}.csv")),
            None => self.dir.join(SINGLE_FILE),
        }
    }
}

/// The files of `dir` that hold records, by name.
pub(crate) fn record_files(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(StorageError::io(dir))? {
        let path = entry.map_err(StorageError::io(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if holds_records(name) && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
