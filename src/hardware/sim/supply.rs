//! The simulated injection supply: a battery, or a DPH5005 that regulates its voltage until its
//! current limit, then its current (the output voltage sagging to limit × load), which is what
//! it reads back.

use super::{SimAction, SimFrontend};
use crate::hardware::{FrontendError, Supply};

impl SimFrontend {
    /// The supply's output voltage with no load.
    pub(super) fn supply_voltage(&self) -> f64 {
        if self.cfg.supply_fault || !self.power || !self.output_on {
            0.0
        } else {
            self.vab_v
        }
    }

    /// The supply's output current into `circuit_ohm` \[mA\] and its output voltage \[V\]: a
    /// constant voltage until the current limit, then a constant current, the voltage sagging
    /// to limit × load.
    pub(super) fn supply_into(&self, circuit_ohm: f64) -> (f64, f64) {
        let v = self.supply_voltage();
        let iab_ma = 1000.0 * v / circuit_ohm;
        if iab_ma > self.current_limit_ma {
            let sagged = self.current_limit_ma * circuit_ohm / 1000.0;
            (self.current_limit_ma, sagged)
        } else {
            (iab_ma, v)
        }
    }

    /// Sets the adjustable supply's current limit \[mA\] (by default what the system loads into
    /// it: the current limit of the preset plus 20 %).
    pub fn set_supply_current_limit_ma(&mut self, limit_ma: f64) {
        if matches!(self.info.supply, Supply::Adjustable) {
            self.current_limit_ma = limit_ma;
        }
    }

    /// What the supply measures at its output now: under load while current flows, its set
    /// point otherwise; `None` for a battery.
    pub(super) fn read_back(&mut self) -> Result<Option<f64>, FrontendError> {
        if matches!(self.info.supply, Supply::Fixed { .. }) {
            return Ok(None);
        }
        if self.cfg.supply_fault {
            return Err(FrontendError::SupplyNotAnswering);
        }
        let t = self.clock.now();
        let loaded = self
            .closed
            .filter(|c| t >= c.since + self.info.timings.mux_activation && self.flowing(t) != 0.0);
        let v = match loaded {
            Some(c) => self.supply_into(c.circuit_ohm).1,
            None => self.supply_voltage(),
        };
        let v = (v * 100.0).round() / 100.0;
        self.log(SimAction::VabReadBack(v));
        Ok(Some(v))
    }
}
