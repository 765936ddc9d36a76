//! The measurement record: what the engine measured for one quadrupole ([`Measurement`], plain
//! numbers, built without allocation) and what is stored and published ([`Record`]: the same
//! numbers with the instrument's sequence number, the survey and the command that asked for it).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Quadrupole, Quality};
use crate::acquisition::settings::Strategy;
use crate::timestamp;

/// The result of measuring one quadrupole, as the engine produces it.
///
/// A value is `None` when it could not be computed (fewer than two usable samples, no current):
/// JSON gets `null`, never NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    pub quad: Quadrupole,
    /// Wall-clock time at the start of the quadrupole.
    pub time: SystemTime,
    pub injection_ms: f64,
    pub duty_cycle: f64,
    pub n_stacks: u16,
    pub strategy: Strategy,
    pub vab_v: f64,
    pub vmn_mv: Option<f64>,
    pub vmn_std_pct: Option<f64>,
    pub iab_ma: Option<f64>,
    pub iab_std_pct: Option<f64>,
    pub r_ohm: Option<f64>,
    pub r_std_pct: Option<f64>,
    pub rab_kohm: Option<f64>,
    pub sp_mv: Option<f64>,
    pub k_m: Option<f64>,
    pub rhoa_ohmm: Option<f64>,
    /// Samples used for the statistics.
    pub samples: u32,
    /// Samples that missed their deadline or could not be read.
    pub dropped_samples: u32,
    pub battery_v: Option<f64>,
    pub quality: Quality,
    /// Wall time the quadrupole took, from switching to release, in seconds.
    pub duration_s: f64,
}

/// A stored and published measurement record (protocol.md, "Measurement record").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Per-instrument number, +1 per record, never reused (survives restarts).
    pub seq: u64,
    /// The survey this record belongs to (`YYYYmmddTHHMMSS`), or null for a lone measurement.
    pub survey: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    pub a: u16,
    pub b: u16,
    pub m: u16,
    pub n: u16,
    pub injection_ms: f64,
    pub duty_cycle: f64,
    pub n_stacks: u16,
    pub strategy: Strategy,
    pub vab_v: f64,
    pub vmn_mv: Option<f64>,
    pub vmn_std_pct: Option<f64>,
    pub iab_ma: Option<f64>,
    pub iab_std_pct: Option<f64>,
    pub r_ohm: Option<f64>,
    pub r_std_pct: Option<f64>,
    pub rab_kohm: Option<f64>,
    pub sp_mv: Option<f64>,
    pub k_m: Option<f64>,
    pub rhoa_ohmm: Option<f64>,
    pub samples: u32,
    pub dropped_samples: u32,
    pub battery_v: Option<f64>,
    pub quality: Quality,
    pub cmd_id: Option<String>,
}

impl Record {
    /// Gives a measurement its place in the instrument's history.
    pub fn new(m: &Measurement, seq: u64, survey: Option<String>, cmd_id: Option<String>) -> Self {
        Self {
            seq,
            survey,
            time: timestamp::rfc3339(m.time),
            a: m.quad.a,
            b: m.quad.b,
            m: m.quad.m,
            n: m.quad.n,
            injection_ms: m.injection_ms,
            duty_cycle: m.duty_cycle,
            n_stacks: m.n_stacks,
            strategy: m.strategy,
            vab_v: m.vab_v,
            vmn_mv: m.vmn_mv,
            vmn_std_pct: m.vmn_std_pct,
            iab_ma: m.iab_ma,
            iab_std_pct: m.iab_std_pct,
            r_ohm: m.r_ohm,
            r_std_pct: m.r_std_pct,
            rab_kohm: m.rab_kohm,
            sp_mv: m.sp_mv,
            k_m: m.k_m,
            rhoa_ohmm: m.rhoa_ohmm,
            samples: m.samples,
            dropped_samples: m.dropped_samples,
            battery_v: m.battery_v,
            quality: m.quality,
            cmd_id,
        }
    }

    pub fn quad(&self) -> Quadrupole {
        Quadrupole::new(self.a, self.b, self.m, self.n)
    }
}
