//! Durable storage on the instrument: one CSV file per survey, written a row at a time and made
//! durable (fsync) as each quadrupole is measured, the full waveform and contact-check files, and
//! the per-instrument record sequence number that survives restarts.
//!
//! A row is written with one `write` and then synced: a crash leaves at most a partial last line,
//! which readers ignore and which [`SurveyWriter`] never appends to.

pub(crate) mod columns;
pub mod csv;
pub mod export;
pub(crate) mod file;
pub mod journal;
mod read;
pub(crate) mod store;
mod survey_file;

use std::path::PathBuf;

pub use columns::{record_from_row, CONTACT_COLUMNS, SURVEY_COLUMNS, WAVEFORM_COLUMNS};
pub use read::{read_survey, SurveyRow, SurveyTable};
pub use store::Store;
pub use survey_file::SurveyWriter;

/// The largest sequence number: the largest integer every JSON reader holds exactly (2^53 − 1).
/// A larger number found in a file is not a sequence number the instrument gave (a garbled or
/// crafted row) and is never trusted.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// The stem of a survey's files from the name a user gives it: `20261122T211305`,
/// `measurements_20261122T211305` and `measurements_20261122T211305.csv` all give
/// `measurements_20261122T211305`.
pub fn survey_stem(name: &str) -> String {
    let stem = name.strip_suffix(".csv").unwrap_or(name);
    if stem.starts_with("measurements_") {
        stem.to_string()
    } else {
        format!("measurements_{stem}")
    }
}

/// A storage failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "the data directory {path} is in use by another ohmpi process{}: only one may write it \
         (stop it, or give this one another instrument.data_dir)",
        holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Locked { path: PathBuf, holder: Option<u32> },
    #[error("{path}: sequence numbers are exhausted (last {last})")]
    SeqExhausted { path: PathBuf, last: u64 },
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
