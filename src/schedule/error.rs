//! The errors of the monitoring plan and its persisted state.

use std::path::PathBuf;

/// Why a plan, a duration, a cron expression or the persisted state was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// One invalid field: `at` is where (`schedule[2].every`), `message` what is wrong.
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
    /// The state file could not be read or written.
    #[error("schedule state {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The state file exists but does not hold a plan and its state.
    #[error("schedule state {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
}

impl ScheduleError {
    pub(crate) fn invalid(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            at: at.into(),
            message: message.into(),
        }
    }
}
