//! Durable storage on the instrument: one CSV file per survey, written a row at a time and made
//! durable (fsync) as each quadrupole is measured, the full waveform and contact-check files, and
//! the per-instrument record sequence number that survives restarts.
//!
//! A row is written with one `write` and then synced: a crash leaves at most a partial last line,
//! which readers ignore and which [`SurveyWriter`] never appends to.

mod columns;
pub mod csv;
pub mod export;
pub mod journal;
mod read;
mod store;
mod survey_file;

use std::path::PathBuf;

pub use columns::{CONTACT_COLUMNS, SURVEY_COLUMNS, WAVEFORM_COLUMNS};
pub use read::{read_survey, SurveyRow, SurveyTable};
pub use store::Store;
pub use survey_file::SurveyWriter;

/// A storage failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Format {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StorageError {
        let path = path.into();
        move |cause| StorageError::Io { path, cause }
    }
}
