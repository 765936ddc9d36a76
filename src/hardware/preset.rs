//! System presets: TOML files in `hardware/` that name the boards of one OhmPi system, their
//! addresses, the electrodes and roles each multiplexer serves, the supply, timings and limits.
//!
//! A preset is chosen by its file stem (`hardware.system`). The presets shipped with the project
//! are built into the binary; a folder given in the configuration, or a path to a `.toml` file,
//! takes precedence. The simulator and the real boards read the same preset, so a quadrupole that
//! does not fit the cabling fails the same way in both.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::frontend::{FrontendError, FrontendInfo, Limits, Role, Supply, Timings};
use crate::survey::{Electrode, Quadrupole};

pub mod mux_addresses;

/// `(file stem, TOML text)` of each named preset in `hardware/`.
macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../hardware/", $name, ".toml")))),*]
    };
}

/// The presets built into the binary: (file stem, TOML text). Every file in `hardware/` is here
/// (a test checks it).
pub const BUILTIN: [(&str, &str); 34] = builtin![
    "mb_2023__4_mux_2023_batt",
    "mb_2023__no_mux_batt",
    "mb_2024_0_2__1_mux_2024_batt",
    "mb_2024_0_2__1_mux_2024_dph5005",
    "mb_2024_0_2__2_mux_2024_2roles_batt",
    "mb_2024_0_2__2_mux_2024_2roles_dph5005",
    "mb_2024_0_2__2_mux_2024_batt",
    "mb_2024_0_2__2_mux_2024_dph5005",
    "mb_2024_0_2__3_mux_2024_batt",
    "mb_2024_0_2__3_mux_2024_dph5005",
    "mb_2024_0_2__4_mux_2023_batt",
    "mb_2024_0_2__4_mux_2023_dph5005",
    "mb_2024_0_2__4_mux_2024_2roles_batt",
    "mb_2024_0_2__4_mux_2024_2roles_dph5005",
    "mb_2024_0_2__4_mux_2024_batt",
    "mb_2024_0_2__4_mux_2024_dph5005",
    "mb_2024_0_2__no_mux_batt",
    "mb_2024_0_2__no_mux_dph5005",
    "mb_2024_1_X__1_mux_2024_batt",
    "mb_2024_1_X__1_mux_2024_dph5005",
    "mb_2024_1_X__2_mux_2024_2roles_batt",
    "mb_2024_1_X__2_mux_2024_2roles_dph5005",
    "mb_2024_1_X__2_mux_2024_batt",
    "mb_2024_1_X__2_mux_2024_dph5005",
    "mb_2024_1_X__3_mux_2024_batt",
    "mb_2024_1_X__3_mux_2024_dph5005",
    "mb_2024_1_X__4_mux_2023_batt",
    "mb_2024_1_X__4_mux_2023_dph5005",
    "mb_2024_1_X__4_mux_2024_2roles_batt",
    "mb_2024_1_X__4_mux_2024_2roles_dph5005",
    "mb_2024_1_X__4_mux_2024_batt",
    "mb_2024_1_X__4_mux_2024_dph5005",
    "mb_2024_1_X__no_mux_batt",
    "mb_2024_1_X__no_mux_dph5005",
];

/// With no multiplexer, the electrodes wired to the board's terminals, in electrode order.
pub const DIRECT_ELECTRODES: [Role; 4] = [Role::A, Role::B, Role::M, Role::N];

/// The system used when the configuration names none.
pub const DEFAULT_SYSTEM: &str = "mb_2024_1_X__4_mux_2024_dph5005";

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("unknown hardware system \"{name}\"; available: {available}")]
    Unknown { name: String, available: String },
    #[error("cannot read hardware preset {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("hardware preset {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Measurement board models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BoardModel {
    #[serde(rename = "mb_2023_0_X")]
    Mb2023,
    #[serde(rename = "mb_2024_0_2")]
    Mb2024_0_2,
    #[serde(rename = "mb_2024_1_X")]
    Mb2024_1,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardSpec {
    pub model: BoardModel,
    pub i2c_bus: u8,
    pub tx_mcp_address: u8,
    pub tx_adc_address: u8,
    pub rx_adc_address: u8,
    pub rx_mcp_address: Option<u8>,
    pub r_shunt_ohm: f64,
    pub vab_max_v: f64,
    pub vmn_max_mv: f64,
    pub input_impedance_ohm: f64,
    pub adc_rate_sps: u16,
    pub polarity_activation_ms: u64,
    pub polarity_release_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerModel {
    Battery,
    Dph5005,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSpec {
    pub model: PowerModel,
    /// Battery voltage (fixed supply only).
    pub voltage_v: Option<f64>,
    pub serial_port: Option<String>,
    pub baud: Option<u32>,
    pub modbus_slave: Option<u8>,
    pub vab_min_v: f64,
    pub vab_max_v: f64,
    pub iab_max_ma: f64,
    pub pab_max_w: f64,
    pub power_up_ms: u64,
    pub settle_ms: u64,
    pub discharge_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MuxModel {
    #[serde(rename = "mux_2023_0_X")]
    Mux2023,
    #[serde(rename = "mux_2024_0_X")]
    Mux2024,
}

/// Jumper position on a mux_2024 board (up = 0, down = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jumper {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuxSpec {
    pub model: MuxModel,
    pub roles: Vec<Role>,
    /// First and last electrode served, inclusive.
    pub electrodes: [Electrode; 2],
    pub i2c_bus: u8,
    pub addr1: Option<Jumper>,
    pub addr2: Option<Jumper>,
    pub tca_address: Option<u8>,
    pub tca_channel: Option<u8>,
    pub activation_ms: u64,
    pub release_ms: u64,
    pub vab_max_v: f64,
}

/// One system: measurement board, supply and multiplexers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    pub measurement_board: BoardSpec,
    pub power: PowerSpec,
    #[serde(default)]
    pub mux: Vec<MuxSpec>,
}

fn available() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Preset {
    /// Finds a preset: a path to a `.toml` file, else `<dir>/<system>.toml` in `dirs`, else a
    /// built-in preset.
    pub fn load(system: &str, dirs: &[PathBuf]) -> Result<Self, PresetError> {
        if system.ends_with(".toml") || system.contains('/') {
            return Self::read_file(Path::new(system));
        }
        for dir in dirs {
            let path = dir.join(format!("{system}.toml"));
            if path.is_file() {
                return Self::read_file(&path);
            }
        }
        match BUILTIN.iter().find(|(n, _)| *n == system) {
            Some((name, text)) => Self::parse(name, text, &format!("{name} (built in)")),
            None => Err(PresetError::Unknown {
                name: system.to_string(),
                available: available(),
            }),
        }
    }

    pub fn read_file(path: &Path) -> Result<Self, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|cause| PresetError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::parse(&name, &text, &path.display().to_string())
    }

    /// Parses and checks a preset's text.
    pub fn parse(name: &str, text: &str, origin: &str) -> Result<Self, PresetError> {
        let invalid = |message: String| PresetError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let mut preset: Preset = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        preset.name = name.to_string();
        preset.check().map_err(invalid)?;
        Ok(preset)
    }

    fn check(&self) -> Result<(), String> {
        for (i, m) in self.mux.iter().enumerate() {
            let [lo, hi] = m.electrodes;
            if lo == 0 || lo > hi {
                return Err(format!(
                    "mux[{i}].electrodes must be [first, last] with 1 <= first <= last, got [{lo}, {hi}]"
                ));
            }
            if m.roles.is_empty() {
                return Err(format!(
                    "mux[{i}].roles must name at least one of A, B, M, N"
                ));
            }
        }
        if self.power.model == PowerModel::Battery && self.power.voltage_v.is_none() {
            return Err("power.voltage_v is required for a battery".into());
        }
        self.check_addresses()?;
        if self.measurement_board.r_shunt_ohm <= 0.0 {
            return Err("measurement_board.r_shunt_ohm must be positive".into());
        }
        Ok(())
    }

    /// No two chips may answer at the same address on one bus (chips behind a TCA9548A channel
    /// are told apart by their channel).
    fn check_addresses(&self) -> Result<(), String> {
        use mux_addresses::expanders_of;
        use std::collections::BTreeMap;
        let b = &self.measurement_board;
        let mut seen: BTreeMap<(u8, u8), String> = BTreeMap::new();
        let mut chips: Vec<(u8, u8, String)> = vec![
            (
                b.i2c_bus,
                b.tx_mcp_address,
                "measurement_board.tx_mcp_address".into(),
            ),
            (
                b.i2c_bus,
                b.tx_adc_address,
                "measurement_board.tx_adc_address".into(),
            ),
            (
                b.i2c_bus,
                b.rx_adc_address,
                "measurement_board.rx_adc_address".into(),
            ),
        ];
        if let Some(rx) = b.rx_mcp_address {
            chips.push((b.i2c_bus, rx, "measurement_board.rx_mcp_address".into()));
        }
        for (i, m) in self.mux.iter().enumerate() {
            let mut tcas: Vec<u8> = Vec::new();
            for x in expanders_of(m) {
                match x.tca {
                    None => chips.push((m.i2c_bus, x.mcp, format!("mux[{i}] MCP23017"))),
                    Some((tca, _)) if !tcas.contains(&tca) => tcas.push(tca),
                    Some(_) => {}
                }
            }
            for tca in tcas {
                chips.push((m.i2c_bus, tca, format!("mux[{i}] TCA9548A")));
            }
        }
        for (bus, address, what) in chips {
            if let Some(other) = seen.get(&(bus, address)) {
                // Boards sharing one TCA9548A (the I2C extension) are not a clash.
                if what.ends_with("TCA9548A") && other.ends_with("TCA9548A") {
                    continue;
                }
                return Err(format!(
                    "{what} and {other} are both at address {address:#04x} on I2C bus {bus}"
                ));
            }
            seen.insert((bus, address), what);
        }
        Ok(())
    }

    /// Highest electrode number cabled (4 with no multiplexer: the board's own A, B, M, N).
    pub fn nelec(&self) -> Electrode {
        if self.mux.is_empty() {
            return DIRECT_ELECTRODES.len() as Electrode;
        }
        self.mux.iter().map(|m| m.electrodes[1]).max().unwrap_or(0)
    }

    /// Whether `electrode` can play `role` on this system. With no multiplexer, electrodes 1, 2,
    /// 3, 4 are the board's A, B, M, N terminals.
    pub fn is_cabled(&self, electrode: Electrode, role: Role) -> bool {
        if self.mux.is_empty() {
            return DIRECT_ELECTRODES
                .iter()
                .position(|&r| r == role)
                .is_some_and(|i| usize::from(electrode) == i + 1);
        }
        self.mux.iter().any(|m| {
            m.roles.contains(&role) && (m.electrodes[0]..=m.electrodes[1]).contains(&electrode)
        })
    }

    /// Safety rules, then cabling, for every electrode of `quad`.
    pub fn check_quad(&self, quad: Quadrupole) -> Result<(), FrontendError> {
        quad.check_safe()?;
        let roles = [
            (quad.a, Role::A),
            (quad.b, Role::B),
            (quad.m, Role::M),
            (quad.n, Role::N),
        ];
        for (electrode, role) in roles {
            if !self.is_cabled(electrode, role) {
                return Err(FrontendError::NotCabled { electrode, role });
            }
        }
        Ok(())
    }

    /// Current-sense readable maximum: 4.8 V over (gain 50 × r_shunt).
    pub fn iab_readable_max_ma(&self) -> f64 {
        4.8 * 1000.0 / (50.0 * self.measurement_board.r_shunt_ohm)
    }

    /// What the engine needs to know, for the simulator (`simulated`) or the real boards.
    pub fn info(&self, simulated: bool) -> FrontendInfo {
        let b = &self.measurement_board;
        let p = &self.power;
        let slowest = |f: fn(&MuxSpec) -> u64| self.mux.iter().map(f).max().unwrap_or(0);
        let mux_vab = self
            .mux
            .iter()
            .map(|m| m.vab_max_v)
            .fold(f64::INFINITY, f64::min);
        let supply = match p.model {
            PowerModel::Battery => Supply::Fixed {
                voltage_v: p.voltage_v.unwrap_or(12.0),
            },
            PowerModel::Dph5005 => Supply::Adjustable,
        };
        let readable = self.iab_readable_max_ma();
        FrontendInfo {
            system: self.name.clone(),
            simulated,
            nelec: self.nelec(),
            timings: Timings {
                mux_activation: Duration::from_millis(slowest(|m| m.activation_ms)),
                mux_release: Duration::from_millis(slowest(|m| m.release_ms)),
                polarity_activation: Duration::from_millis(b.polarity_activation_ms),
                polarity_release: Duration::from_millis(b.polarity_release_ms),
                power_up: Duration::from_millis(p.power_up_ms),
                supply_settle: Duration::from_millis(p.settle_ms),
                discharge: Duration::from_millis(p.discharge_ms.unwrap_or(0)),
            },
            limits: Limits {
                vab_min_v: p.vab_min_v,
                vab_max_v: b.vab_max_v.min(p.vab_max_v).min(mux_vab),
                iab_max_ma: p.iab_max_ma.min(readable),
                pab_max_w: p.pab_max_w,
                vmn_max_mv: b.vmn_max_mv,
                iab_readable_max_ma: readable,
            },
            supply,
            max_sampling_rate_hz: f64::from(b.adc_rate_sps),
            r_shunt_ohm: b.r_shunt_ohm,
            can_discharge: b.model == BoardModel::Mb2024_1 && p.discharge_ms.is_some(),
        }
    }
}

#[cfg(test)]
mod tests;
