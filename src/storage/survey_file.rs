//! Writing one survey: the measurements file, and when asked the waveform and contact files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::columns::{self, CONTACT_COLUMNS, WAVEFORM_COLUMNS};
use super::file::{create_with_header, open_records, sync_dir};
use super::StorageError;
use crate::acquisition::{Contact, Sample};
use crate::survey::Record;

/// An open survey. Rows are durable when `append` returns.
#[derive(Debug)]
pub struct SurveyWriter {
    dir: PathBuf,
    id: String,
    path: PathBuf,
    file: Option<File>,
    waveform: Option<(PathBuf, BufWriter<File>)>,
    contacts: Option<(PathBuf, File)>,
    rows: u64,
}

impl SurveyWriter {
    pub(crate) fn create(dir: &Path, id: String) -> Result<Self, StorageError> {
        let path = dir.join(format!("measurements_{id}.csv"));
        Ok(Self {
            dir: dir.to_path_buf(),
            id,
            path,
            file: None,
            waveform: None,
            contacts: None,
            rows: 0,
        })
    }

    /// The survey's name: `YYYYmmddTHHMMSS` (with a `_N` suffix for a second survey started in
    /// the same second).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `measurements_<id>`: the stem of every file of the survey.
    pub fn stem(&self) -> String {
        format!("measurements_{}", self.id)
    }

    /// The measurements file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Creates the measurements file now (it is otherwise created with the first row).
    pub fn open_measurements(&mut self) -> Result<(), StorageError> {
        self.file().map(|_| ())
    }

    fn file(&mut self) -> Result<&mut File, StorageError> {
        if self.file.is_none() {
            self.file = Some(open_records(&self.path)?);
        }
        Ok(self.file.as_mut().expect("just created"))
    }

    /// Appends one record and syncs it to disk (one `write`, then `fdatasync`). The waveform
    /// rows written before it are synced first.
    pub fn append(&mut self, record: &Record) -> Result<(), StorageError> {
        if let Some((path, w)) = &mut self.waveform {
            w.flush()
                .and_then(|()| w.get_ref().sync_data())
                .map_err(StorageError::io(path.as_path()))?;
        }
        let row = columns::survey_row(record);
        let path = self.path.clone();
        let f = self.file()?;
        let before = f.metadata().map_err(StorageError::io(&path))?.len();
        if let Err(e) = f.write_all(row.as_bytes()).and_then(|()| f.sync_data()) {
            // A short write (disk full) must not leave half a row for the next one to join.
            let _ = f.set_len(before);
            return Err(StorageError::io(path)(e));
        }
        self.rows += 1;
        Ok(())
    }

    /// Buffers one waveform row (synced with the next record).
    pub fn append_sample(&mut self, sample: &Sample) -> Result<(), StorageError> {
        if self.waveform.is_none() {
            let path = self.dir.join(format!("{}_fw.csv", self.stem()));
            let f = create_with_header(&path, &columns::header(&WAVEFORM_COLUMNS))?;
            sync_dir(&self.dir)?;
            self.waveform = Some((path, BufWriter::with_capacity(64 * 1024, f)));
        }
        let (path, w) = self.waveform.as_mut().expect("just created");
        w.write_all(columns::waveform_row(sample).as_bytes())
            .map_err(StorageError::io(path.as_path()))
    }

    /// Appends and syncs one contact-resistance row.
    pub fn append_contact(&mut self, contact: &Contact) -> Result<(), StorageError> {
        if self.contacts.is_none() {
            let path = self.dir.join(format!("{}_rs.csv", self.stem()));
            let f = create_with_header(&path, &columns::header(&CONTACT_COLUMNS))?;
            sync_dir(&self.dir)?;
            self.contacts = Some((path, f));
        }
        let (path, f) = self.contacts.as_mut().expect("just created");
        f.write_all(columns::contact_row(contact).as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(StorageError::io(path.as_path()))
    }

    /// Flushes what is buffered; returns the files written (measurements, waveform, contacts).
    pub fn finish(mut self) -> Result<Vec<PathBuf>, StorageError> {
        let mut files = Vec::new();
        if self.file.is_some() {
            files.push(self.path.clone());
        }
        if let Some((path, mut w)) = self.waveform.take() {
            w.flush()
                .and_then(|()| w.get_ref().sync_data())
                .map_err(StorageError::io(&path))?;
            files.push(path);
        }
        if let Some((path, _)) = self.contacts.take() {
            files.push(path);
        }
        Ok(files)
    }
}
