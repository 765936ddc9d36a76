//! What powers the injection: a battery wired to the board, or a DPH5005 fed through the
//! board's power relays, loaded with its limits at every power-up.

use std::time::{Duration, Instant};

use crate::drivers::dph5005::{self, Dph5005, Settings};
use crate::drivers::modbus::Serial;
use crate::hardware::frontend::{FrontendError, FrontendInfo};
use crate::hardware::preset::{PowerModel, Preset};

/// A reading may exceed the current or power limit by this factor (the supply's own current
/// limit regulates at the limit; this is the backstop) before the injection is cut.
pub const LIMIT_TOLERANCE: f64 = 1.2;
/// Each Modbus request to the supply waits this long for a reply (per try).
pub const SUPPLY_TIMEOUT: Duration = Duration::from_secs(1);
/// The supply's read-back voltages are asked at most this often: health is read after every
/// quadrupole, and two Modbus exchanges each time would lengthen every one.
pub const READ_BACK_EVERY: Duration = Duration::from_secs(10);

/// Settings loaded into the supply at every power-up, from the system's limits: the current
/// limit 20 % above the limit (OhmPi's tolerance), over-current protection 25 % above it,
/// over-voltage 1 V above the largest Vab, over-power 20 % above the power limit.
pub fn supply_settings(info: &FrontendInfo) -> Settings {
    let l = &info.limits;
    Settings {
        preset_volts: l.vab_min_v.clamp(0.0, dph5005::MAX_VOLTS),
        preset_amps: (l.iab_max_ma * LIMIT_TOLERANCE / 1000.0).min(dph5005::MAX_AMPS),
        ovp_volts: (l.vab_max_v + 1.0).min(dph5005::MAX_VOLTS),
        ocp_amps: (l.iab_max_ma * 1.25 / 1000.0).min(dph5005::MAX_AMPS),
        opp_watts: (l.pab_max_w * LIMIT_TOLERANCE).min(dph5005::MAX_WATTS),
    }
}

/// A serial port that does not exist: the transport type of battery-powered systems.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSerial;

impl Serial for NoSerial {
    fn write_all(&mut self, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("no serial port on this system"))
    }
    fn read_some(&mut self, _: &mut [u8], _: Instant) -> std::io::Result<usize> {
        Err(std::io::Error::other("no serial port on this system"))
    }
    fn clear_input(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The DPH5005 and what the system knows of its state.
pub struct Programmable<S: Serial> {
    supply: Dph5005<S>,
    settings: Settings,
    /// Settings loaded since the last power-up (the supply answers).
    ready: bool,
    output_on: bool,
    /// (output, input) voltages last read back, and when.
    read_back: Option<(Instant, Option<f64>, Option<f64>)>,
}

/// What powers the injection.
pub enum PowerUnit<S: Serial> {
    /// A battery wired to the board: nothing to command.
    Battery { voltage_v: f64 },
    /// A DPH5005 fed through the board's power relays.
    Dph5005(Programmable<S>),
}

impl<S: Serial> PowerUnit<S> {
    /// The supply of `preset`; a DPH5005 needs `serial` (else an error).
    pub fn new(
        preset: &Preset,
        info: &FrontendInfo,
        serial: Option<S>,
    ) -> Result<Self, FrontendError> {
        Ok(match preset.power.model {
            PowerModel::Battery => Self::Battery {
                voltage_v: preset.power.voltage_v.unwrap_or(12.0),
            },
            PowerModel::Dph5005 => {
                let serial = serial.ok_or(FrontendError::SupplyNotAnswering)?;
                Self::Dph5005(Programmable {
                    supply: Dph5005::new(
                        serial,
                        preset.power.modbus_slave.unwrap_or(1),
                        SUPPLY_TIMEOUT,
                    ),
                    settings: supply_settings(info),
                    ready: false,
                    output_on: false,
                    read_back: None,
                })
            }
        })
    }

    /// Sets Vab (checked against the limits by the caller): the battery's voltage, or the
    /// DPH5005's set point after loading its settings if it was just powered, output on.
    pub fn set_vab(&mut self, volts: f64) -> Result<f64, FrontendError> {
        let p = match self {
            Self::Battery { voltage_v } => return Ok(*voltage_v),
            Self::Dph5005(p) => p,
        };
        let mut step = || -> Result<f64, dph5005::Error> {
            if !p.ready {
                // The presets and protections, then the running current limit (the M0 preset
                // only applies when the supply starts from it).
                p.supply.apply_settings(&p.settings)?;
                p.supply.set_current_limit(p.settings.preset_amps)?;
                p.ready = true;
            }
            p.supply.set_voltage(volts)?;
            if !p.output_on {
                p.supply.output(true)?;
                p.output_on = true;
            }
            Ok((volts * 100.0).round() / 100.0)
        };
        step().map_err(|e| match e {
            dph5005::Error::OutOfRange {
                field, value, max, ..
            } => FrontendError::Limit {
                what: field,
                value,
                limit: max,
            },
            _ => {
                p.ready = false;
                FrontendError::SupplyNotAnswering
            }
        })
    }

    /// Output off, the supply left powered and configured (before the discharge relay closes;
    /// the next [`PowerUnit::set_vab`] switches it on again). Nothing for a battery.
    pub fn output_off(&mut self) -> Result<(), FrontendError> {
        if let Self::Dph5005(p) = self {
            if p.ready || p.output_on {
                p.supply.output(false).map_err(|_| {
                    p.ready = false;
                    FrontendError::SupplyNotAnswering
                })?;
            }
            p.output_on = false;
        }
        Ok(())
    }

    /// The output voltage the DPH5005 measures now (UOUT, one Modbus exchange): below the set
    /// point when the current limit holds it down. `None` for a battery, and for a DPH5005
    /// whose output is not on (nothing to read back).
    pub fn read_output(&mut self) -> Result<Option<f64>, FrontendError> {
        match self {
            Self::Battery { .. } => Ok(None),
            Self::Dph5005(p) if p.ready && p.output_on => p
                .supply
                .read_output_voltage()
                .map(Some)
                .map_err(|_| FrontendError::SupplyNotAnswering),
            Self::Dph5005(_) => Ok(None),
        }
    }

    /// Output off if the supply answers (best effort: the power relays, opened next, cut it
    /// whether or not it answers). Its settings are reloaded at the next power-up.
    pub fn off(&mut self) {
        if let Self::Dph5005(p) = self {
            if p.ready {
                let _ = p.supply.output(false);
            }
            p.ready = false;
            p.output_on = false;
            p.read_back = None;
        }
    }

    /// (supply output, battery) voltages. A DPH5005 is asked only once it has answered since
    /// its power-up (a powered-off one would make the caller wait for its time-outs), and at
    /// most every [`READ_BACK_EVERY`].
    pub fn voltages(&mut self) -> (Option<f64>, Option<f64>) {
        match self {
            Self::Battery { voltage_v } => (None, Some(*voltage_v)),
            Self::Dph5005(p) if p.ready => {
                if let Some((at, out, input)) = p.read_back {
                    if at.elapsed() < READ_BACK_EVERY {
                        return (out, input);
                    }
                }
                let out = p.supply.read_output_voltage().ok();
                let input = p.supply.read_input_voltage().ok();
                p.read_back = Some((Instant::now(), out, input));
                (out, input)
            }
            Self::Dph5005(_) => (None, None),
        }
    }
}
