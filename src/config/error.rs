//! Configuration errors: each names the field, the allowed values and, for files, where.

use std::path::PathBuf;

pub use crate::acquisition::FieldError;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{origin}: {message}")]
    Shape { origin: String, message: String },
    #[error("--set {arg}: {message}")]
    Override { arg: String, message: String },
    #[error("{origin}: {error}")]
    Invalid { origin: String, error: FieldError },
}
