//! Configuration: TOML read in two stages, raw (close to the file) then validated.

mod error;

pub use error::{ConfigError, FieldError};
