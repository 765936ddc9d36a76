//! Configuration errors: each names the field, the allowed values and, for files, where.

use std::path::PathBuf;

/// One invalid value: the field (dotted key) and what is wrong with it, allowed range included.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with its field placed under a section (`acquisition` + `nb_stack`).
    pub fn in_section(mut self, section: &str) -> Self {
        self.field = format!("{section}.{}", self.field);
        self
    }
}

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
