//! Acquisition settings: how a quadrupole is measured. Names follow the OhmPi controller so its
//! clients work unchanged (`nb_stack`, `vab_req`, …); units are V, mA, mV, W, s and Hz.
//!
//! [`RawSettings`] is what a file or a command gives (every key optional); [`Settings::apply`]
//! validates it as a whole against the current settings and returns new ones or an error that
//! names the field and its allowed range. Nothing is half-applied.

use serde::{Deserialize, Serialize};

mod field_error;
pub use field_error::FieldError;

/// How Vab is chosen for each quadrupole (OhmPi names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Vab = `vab_req`, no search (forced when the supply is not adjustable).
    Fixed,
    /// Start at `vab_req` and lower it until every maximum (Iab, Vmn, Pab) holds.
    Safe,
    /// The largest Vab every maximum allows.
    Vmax,
    /// The smallest Vab that gives Vmn ≥ `vmn_req`.
    Vmin,
    /// Every requested bound as far as possible, closest to `vab_req`.
    Flex,
}

impl Strategy {
    pub const ALL: [&'static str; 5] = ["fixed", "safe", "vmax", "vmin", "flex"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Safe => "safe",
            Self::Vmax => "vmax",
            Self::Vmin => "vmin",
            Self::Flex => "flex",
        }
    }
}

/// The smallest duty cycle (off time 99 times the pulse).
pub const MIN_DUTY_CYCLE: f64 = 0.01;
/// The most readings one quadrupole may take (the engine's buffer is sized for them up front).
pub const MAX_READINGS_PER_QUADRUPOLE: f64 = 1_000_000.0;

/// The highest sampling rate of the ADS1115 converters.
pub const MAX_SAMPLING_RATE_HZ: f64 = 860.0;

/// Validated acquisition settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Length of one current pulse \[s\].
    pub injection_duration: f64,
    /// Number of stacks (each is a + pulse and a − pulse).
    pub nb_stack: u16,
    /// Fraction of each half-period with current on (1 = no off time).
    pub duty_cycle: f64,
    pub strategy: Strategy,
    /// Requested Vab \[V\].
    pub vab_req: f64,
    pub vab_min: f64,
    pub vab_max: f64,
    /// Current bounds \[mA\].
    pub iab_min: f64,
    pub iab_max: f64,
    /// Receiver voltage bounds \[mV\].
    pub vmn_min: f64,
    pub vmn_req: f64,
    pub vmn_max: f64,
    /// Injected power bounds \[W\].
    pub pab_min: f64,
    pub pab_max: f64,
    /// Sampling rate of Iab and Vmn \[Hz\], at most 860.
    pub sampling_rate: f64,
    /// Number of surveys a monitoring run makes.
    pub nb_meas: u32,
    /// Start-to-start spacing of the surveys of a monitoring run \[s\].
    pub sequence_delay: f64,
    /// Keep every sample of every quadrupole (the `_fw.csv` file).
    pub full_waveform: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            injection_duration: 0.2,
            nb_stack: 1,
            duty_cycle: 0.5,
            strategy: Strategy::Safe,
            vab_req: 5.0,
            vab_min: 0.5,
            vab_max: 50.0,
            iab_min: 0.01,
            iab_max: 48.0,
            vmn_min: 1.0,
            vmn_req: 100.0,
            vmn_max: 4500.0,
            pab_min: 0.0,
            pab_max: 2.5,
            sampling_rate: MAX_SAMPLING_RATE_HZ,
            nb_meas: 1,
            sequence_delay: 0.0,
            full_waveform: false,
        }
    }
}

/// Settings as a file or a command gives them: every key optional, unknown keys refused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub injection_duration: Option<f64>,
    #[serde(alias = "n_stacks")]
    pub nb_stack: Option<u32>,
    pub duty_cycle: Option<f64>,
    pub strategy: Option<String>,
    pub vab_req: Option<f64>,
    pub vab_min: Option<f64>,
    pub vab_max: Option<f64>,
    pub iab_min: Option<f64>,
    pub iab_max: Option<f64>,
    pub vmn_min: Option<f64>,
    pub vmn_req: Option<f64>,
    pub vmn_max: Option<f64>,
    pub pab_min: Option<f64>,
    pub pab_max: Option<f64>,
    pub sampling_rate: Option<f64>,
    pub nb_meas: Option<u32>,
    pub sequence_delay: Option<f64>,
    pub full_waveform: Option<bool>,
}

/// The names [`RawSettings`] accepts (for error messages and help).
pub const SETTING_NAMES: [&str; 19] = [
    "injection_duration",
    "nb_stack",
    "n_stacks",
    "duty_cycle",
    "strategy",
    "vab_req",
    "vab_min",
    "vab_max",
    "iab_min",
    "iab_max",
    "vmn_min",
    "vmn_req",
    "vmn_max",
    "pab_min",
    "pab_max",
    "sampling_rate",
    "nb_meas",
    "sequence_delay",
    "full_waveform",
];

fn in_range(field: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<f64, FieldError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(FieldError::new(
            field,
            format!("must be between {lo} and {hi} {unit}, got {v}"),
        ))
    }
}

impl Settings {
    /// Applies `raw` over `self`, validating the result as a whole.
    pub fn apply(&self, raw: &RawSettings) -> Result<Settings, FieldError> {
        let mut s = self.clone();
        if let Some(v) = raw.injection_duration {
            s.injection_duration = in_range("injection_duration", v, 0.01, 15.0, "s")?;
        }
        if let Some(v) = raw.nb_stack {
            if !(1..=1000).contains(&v) {
                return Err(FieldError::new(
                    "nb_stack",
                    format!("must be between 1 and 1000, got {v}"),
                ));
            }
            s.nb_stack = v as u16;
        }
        if let Some(v) = raw.duty_cycle {
            if !(v.is_finite() && (MIN_DUTY_CYCLE..=1.0).contains(&v)) {
                return Err(FieldError::new(
                    "duty_cycle",
                    format!("must be between {MIN_DUTY_CYCLE} and 1 (1 = no off time), got {v}"),
                ));
            }
            s.duty_cycle = v;
        }
        if let Some(name) = &raw.strategy {
            s.strategy = match name.as_str() {
                "fixed" | "constant" => Strategy::Fixed,
                "safe" => Strategy::Safe,
                "vmax" => Strategy::Vmax,
                "vmin" => Strategy::Vmin,
                "flex" => Strategy::Flex,
                other => {
                    return Err(FieldError::new(
                        "strategy",
                        format!(
                            "must be one of {}, got \"{other}\"",
                            Strategy::ALL.join(", ")
                        ),
                    ))
                }
            };
        }
        let volts = [
            ("vab_req", raw.vab_req, &mut s.vab_req),
            ("vab_min", raw.vab_min, &mut s.vab_min),
            ("vab_max", raw.vab_max, &mut s.vab_max),
        ];
        for (name, v, slot) in volts {
            if let Some(v) = v {
                *slot = in_range(name, v, 0.0, 500.0, "V")?;
            }
        }
        let currents = [
            ("iab_min", raw.iab_min, &mut s.iab_min),
            ("iab_max", raw.iab_max, &mut s.iab_max),
        ];
        for (name, v, slot) in currents {
            if let Some(v) = v {
                *slot = in_range(name, v, 0.0, 5000.0, "mA")?;
            }
        }
        let mv = [
            ("vmn_min", raw.vmn_min, &mut s.vmn_min),
            ("vmn_req", raw.vmn_req, &mut s.vmn_req),
            ("vmn_max", raw.vmn_max, &mut s.vmn_max),
        ];
        for (name, v, slot) in mv {
            if let Some(v) = v {
                *slot = in_range(name, v, 0.0, 100_000.0, "mV")?;
            }
        }
        let watts = [
            ("pab_min", raw.pab_min, &mut s.pab_min),
            ("pab_max", raw.pab_max, &mut s.pab_max),
        ];
        for (name, v, slot) in watts {
            if let Some(v) = v {
                *slot = in_range(name, v, 0.0, 1000.0, "W")?;
            }
        }
        if let Some(v) = raw.sampling_rate {
            s.sampling_rate = in_range("sampling_rate", v, 1.0, MAX_SAMPLING_RATE_HZ, "Hz")?;
        }
        if let Some(v) = raw.nb_meas {
            if v == 0 {
                return Err(FieldError::new("nb_meas", "must be at least 1, got 0"));
            }
            s.nb_meas = v;
        }
        if let Some(v) = raw.sequence_delay {
            s.sequence_delay = in_range("sequence_delay", v, 0.0, 30.0 * 86_400.0, "s")?;
        }
        if let Some(v) = raw.full_waveform {
            s.full_waveform = v;
        }
        s.check_bounds()?;
        Ok(s)
    }

    fn check_bounds(&self) -> Result<(), FieldError> {
        let pairs = [
            ("vab_min", self.vab_min, "vab_max", self.vab_max),
            ("iab_min", self.iab_min, "iab_max", self.iab_max),
            ("vmn_min", self.vmn_min, "vmn_max", self.vmn_max),
            ("pab_min", self.pab_min, "pab_max", self.pab_max),
        ];
        for (lo_name, lo, hi_name, hi) in pairs {
            if lo > hi {
                return Err(FieldError::new(
                    lo_name,
                    format!("must not exceed {hi_name} ({hi}), got {lo}"),
                ));
            }
        }
        let requests = [
            ("vab_req", self.vab_req, self.vab_min, self.vab_max, "V"),
            ("vmn_req", self.vmn_req, self.vmn_min, self.vmn_max, "mV"),
        ];
        for (name, v, lo, hi, unit) in requests {
            if v < lo || v > hi {
                return Err(FieldError::new(
                    name,
                    format!(
                        "must be between the minimum {lo} and the maximum {hi} {unit}, got {v}"
                    ),
                ));
            }
        }
        let readings = f64::from(self.nb_stack)
            * 2.0
            * (self.injection_duration + self.off_time())
            * self.sampling_rate;
        if readings > MAX_READINGS_PER_QUADRUPOLE {
            return Err(FieldError::new(
                "nb_stack",
                format!(
                    "nb_stack x 2 x (injection_duration + off time) x sampling_rate gives \
                     {readings:.0} readings per quadrupole; at most {MAX_READINGS_PER_QUADRUPOLE} \
                     (fewer stacks, shorter pulses or a lower sampling_rate)"
                ),
            ));
        }
        // The pulse must hold enough samples for the statistics (the last third is used).
        let per_pulse = self.injection_duration * self.sampling_rate;
        if per_pulse < 6.0 {
            return Err(FieldError::new(
                "injection_duration",
                format!(
                    "gives {per_pulse:.1} samples per pulse at {} Hz; at least 6 are needed \
                     (lengthen the pulse or raise sampling_rate)",
                    self.sampling_rate
                ),
            ));
        }
        Ok(())
    }

    /// Off time after each pulse \[s\].
    pub fn off_time(&self) -> f64 {
        self.injection_duration * (1.0 - self.duty_cycle) / self.duty_cycle
    }
}

#[cfg(test)]
mod tests;
