//! Settings of the simulator (`[sim]`), validated.

use std::collections::BTreeMap;

use super::ground::Ground;
use crate::survey::Electrode;

/// Which clock the simulated instrument runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// Real time: a quadrupole takes as long as on the field.
    Real,
    /// Time advances instantly when the engine waits (tests).
    Virtual,
}

/// The simulated ground, boards and faults.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub ground: Ground,
    /// Contact resistance of every electrode \[Ω\].
    pub contact_ohm: f64,
    /// Contact resistance of particular electrodes \[Ω\].
    pub contact_overrides: BTreeMap<Electrode, f64>,
    /// Noise, hum, drift and converter quantisation on; off gives ideal readings.
    pub noise: bool,
    /// Gaussian noise on Vmn: `noise_mv + noise_rel * |Vmn|` (one standard deviation).
    pub noise_mv: f64,
    pub noise_rel: f64,
    pub seed: u64,
    /// Mains hum frequency (0 = none) and amplitude on Vmn.
    pub hum_hz: f64,
    pub hum_mv: f64,
    /// Self-potential between M and N \[mV\] and its drift \[mV/s\].
    pub sp_mv: f64,
    pub sp_drift_mv_s: f64,
    pub clock: ClockKind,
    /// Probability that any one bus transaction fails.
    pub i2c_error_rate: f64,
    /// Electrodes with no ground contact.
    pub dead_electrodes: Vec<Electrode>,
    /// The supply gives nothing and, if programmable, does not answer.
    pub supply_fault: bool,
    /// After this many seconds the boards stop answering: the next board command never returns
    /// (a hung acquisition, for the service watchdog). `None`: never.
    pub hang_after_s: Option<f64>,
    /// After this many records the instrument's storage stops taking events for
    /// `storage_stall_s` seconds (a stuck SD card: a test of the engine waiting for room).
    /// `None`: never.
    pub storage_stall_after: Option<u64>,
    pub storage_stall_s: f64,
}

/// Contact resistance of an electrode that has lost contact with the ground \[Ω\].
pub const DEAD_CONTACT_OHM: f64 = 1.0e9;

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            ground: Ground::Homogeneous { rho: 100.0 },
            contact_ohm: 1000.0,
            contact_overrides: BTreeMap::new(),
            noise: true,
            noise_mv: 0.05,
            noise_rel: 0.001,
            seed: 1,
            hum_hz: 50.0,
            hum_mv: 0.5,
            sp_mv: 5.0,
            sp_drift_mv_s: 0.01,
            clock: ClockKind::Real,
            i2c_error_rate: 0.0,
            dead_electrodes: Vec::new(),
            supply_fault: false,
            hang_after_s: None,
            storage_stall_after: None,
            storage_stall_s: 10.0,
        }
    }
}

impl SimConfig {
    /// Contact resistance of `e` \[Ω\].
    pub fn contact_of(&self, e: Electrode) -> f64 {
        if self.dead_electrodes.contains(&e) {
            DEAD_CONTACT_OHM
        } else {
            self.contact_overrides
                .get(&e)
                .copied()
                .unwrap_or(self.contact_ohm)
        }
    }
}
