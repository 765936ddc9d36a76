//! The configuration as the file says it (stage one): serde structs close to the TOML, every key
//! optional, unknown keys refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole file, section by section.
#[derive(Debug, Default)]
pub struct RawConfig {
    pub instrument: RawInstrument,
    pub hardware: RawHardware,
    /// Kept as a table: the acquisition settings are split from the geometry keys and validated
    /// by [`crate::acquisition::Settings::apply`], shared with the control commands.
    pub acquisition: toml::Table,
    pub sim: RawSim,
    pub mqtt: super::mqtt::RawMqtt,
    pub control: super::mqtt::RawControl,
    pub web: super::web::RawWeb,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstrument {
    pub id: Option<String>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHardware {
    pub system: Option<String>,
    pub simulate: Option<bool>,
    pub presets_dir: Option<PathBuf>,
    pub backend: Option<String>,
}

/// Keys of `[acquisition]` that are not measurement settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcquisitionExtra {
    pub elec_spacing: Option<f64>,
    pub electrodes_file: Option<PathBuf>,
    pub sequence: Option<PathBuf>,
    pub rt_priority: Option<i64>,
}

/// The names [`RawAcquisitionExtra`] takes.
pub const ACQUISITION_EXTRA_KEYS: [&str; 4] =
    ["elec_spacing", "electrodes_file", "sequence", "rt_priority"];

/// `contact_ohm = 1000` or `contact_ohm = { default = 1000, 5 = 20000 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a resistance in ohms, or a table such as { default = 1000, 5 = 20000 }"
)]
pub enum RawContact {
    All(f64),
    PerElectrode(BTreeMap<String, f64>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSim {
    pub model: Option<String>,
    pub rho: Option<f64>,
    pub rho2: Option<f64>,
    pub thickness: Option<f64>,
    pub contact_ohm: Option<RawContact>,
    pub noise: Option<bool>,
    pub noise_mv: Option<f64>,
    pub noise_rel: Option<f64>,
    pub seed: Option<u64>,
    pub hum_hz: Option<f64>,
    pub hum_mv: Option<f64>,
    pub sp_mv: Option<f64>,
    pub sp_drift_mv_s: Option<f64>,
    pub clock: Option<String>,
    pub i2c_error_rate: Option<f64>,
    pub dead_electrodes: Option<Vec<u16>>,
    pub supply_fault: Option<bool>,
    pub hang_after_s: Option<f64>,
    pub storage_stall_after: Option<u64>,
    pub storage_stall_s: Option<f64>,
}
