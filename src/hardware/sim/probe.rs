//! What the simulated boards were told to do, and when: the test instrument's logic analyser.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use crate::hardware::frontend::Polarity;
use crate::survey::{Electrode, Quadrupole};

/// One command the simulated boards received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimAction {
    Reset,
    Switch(Quadrupole),
    SwitchPair(Electrode, Electrode),
    Release,
    Power(bool),
    Vab(f64),
    /// The adjustable supply's output switched off (the supply stays powered).
    SupplyOutput(bool),
    /// The supply's output voltage read back (what the supply measures, under load).
    VabReadBack(f64),
    Polarity(Polarity),
    Discharge(bool),
}

/// The most recent actions with their times (on the instrument's clock).
#[derive(Debug, Default)]
pub struct SimProbe {
    log: Mutex<VecDeque<(Duration, SimAction)>>,
}

/// How many actions the probe keeps.
const CAPACITY: usize = 100_000;

impl SimProbe {
    pub(crate) fn record(&self, t: Duration, action: SimAction) {
        if let Ok(mut log) = self.log.lock() {
            if log.len() == CAPACITY {
                log.pop_front();
            }
            log.push_back((t, action));
        }
    }

    /// A copy of the kept actions, oldest first.
    pub fn actions(&self) -> Vec<(Duration, SimAction)> {
        self.log
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default()
    }
}
