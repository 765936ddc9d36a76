//! Configuration: a TOML file read in two stages, raw (close to the file, unknown keys refused)
//! then validated (errors name the field and the allowed values).
//!
//! Search order: `--config PATH`, `./ohmpi.toml`, `/etc/ohmpi/ohmpi.toml`; with no file at all,
//! defaults that run on the simulator. `--set key=value` overrides any key.

mod error;
mod mqtt;
mod overrides;
mod raw;
mod validate;
mod web;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, FieldError};
pub use mqtt::{ControlConfig, MqttConfig, Password, TlsConfig};
pub use validate::running_on_raspberry_pi;
pub use web::{WebConfig, DEFAULT_TOKENS_FILE};

use crate::acquisition::Settings;
use crate::hardware::sim::SimConfig;

/// Where configuration files are looked for when no `--config` is given.
pub const SEARCH_PATH: [&str; 2] = ["ohmpi.toml", "/etc/ohmpi/ohmpi.toml"];

/// `[instrument]`
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub id: String,
    pub data_dir: PathBuf,
}

/// `[hardware]`
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareConfig {
    /// System preset name (file stem) or path.
    pub system: String,
    /// Run the preset on the simulator instead of the boards.
    pub simulate: bool,
    /// Folders searched for presets before the built-in ones.
    pub presets_dirs: Vec<PathBuf>,
    /// The Linux interface that drives the real boards.
    pub backend: Backend,
}

/// How the real boards are reached (`hardware.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// rppal: the Raspberry Pi's I2C buses (the default).
    Rppal,
    /// The kernel's /dev/i2c-N character devices directly (linux-embedded-hal): for boards or
    /// kernels rppal does not know.
    Linux,
}

/// Where the electrodes are.
#[derive(Debug, Clone, PartialEq)]
pub enum ElectrodeLayout {
    /// A straight surface line, electrode 1 at x = 0.
    Line { spacing: f64 },
    /// A positions file (x y z per electrode).
    File(PathBuf),
}

/// `[acquisition]`
#[derive(Debug, Clone, PartialEq)]
pub struct AcquisitionConfig {
    pub settings: Settings,
    pub layout: ElectrodeLayout,
    /// Default sequence file for surveys.
    pub sequence: Option<PathBuf>,
    /// SCHED_FIFO priority of the acquisition thread (0: none).
    pub rt_priority: i32,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from (`None`: defaults).
    pub source: Option<PathBuf>,
    pub instrument: Instrument,
    pub hardware: HardwareConfig,
    pub acquisition: AcquisitionConfig,
    pub sim: SimConfig,
    pub mqtt: MqttConfig,
    pub control: ControlConfig,
    pub web: WebConfig,
}

impl Config {
    /// The dashboard's tokens file (see [`WebConfig::tokens_path`]).
    pub fn tokens_file(&self) -> PathBuf {
        self.web.tokens_path(self.source.as_deref())
    }
}

impl Config {
    /// Finds, reads, overrides and validates the configuration.
    pub fn load(explicit: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => SEARCH_PATH.iter().map(PathBuf::from).find(|p| p.is_file()),
        };
        let text = match &path {
            Some(p) => std::fs::read_to_string(p).map_err(|cause| ConfigError::Read {
                path: p.clone(),
                cause,
            })?,
            None => String::new(),
        };
        Self::from_text(&text, path, overrides)
    }

    /// Parses a configuration text (`path` names it in errors).
    pub fn from_text(
        text: &str,
        path: Option<PathBuf>,
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        let origin = path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "default configuration".into());
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.clone().unwrap_or_default(),
            message: e.to_string(),
        })?;
        for arg in overrides {
            overrides::apply(&mut doc, arg)?;
        }
        let mut raw = raw::RawConfig::default();
        let invalid = |error: FieldError| ConfigError::Invalid {
            origin: origin.clone(),
            error,
        };
        for (section, value) in doc {
            let toml::Value::Table(table) = value else {
                let message = format!(
                    "must be a section ([{section}]), got a value of type {}",
                    value.type_str()
                );
                return Err(invalid(FieldError::new(section, message)));
            };
            match section.as_str() {
                "instrument" => {
                    raw.instrument = validate::deserialize(table, &section).map_err(invalid)?
                }
                "hardware" => {
                    raw.hardware = validate::deserialize(table, &section).map_err(invalid)?
                }
                "acquisition" => raw.acquisition = table,
                "sim" => raw.sim = validate::deserialize(table, &section).map_err(invalid)?,
                "mqtt" => raw.mqtt = validate::deserialize(table, &section).map_err(invalid)?,
                "control" => {
                    raw.control = validate::deserialize(table, &section).map_err(invalid)?
                }
                "web" => raw.web = validate::deserialize(table, &section).map_err(invalid)?,
                _ => {
                    let message = "unknown section; expected instrument, hardware, acquisition, \
                                   sim, mqtt, control or web";
                    return Err(invalid(FieldError::new(section, message)));
                }
            }
        }
        validate::validate(&raw, path).map_err(|error| ConfigError::Invalid { origin, error })
    }
}

#[cfg(test)]
mod tests;
